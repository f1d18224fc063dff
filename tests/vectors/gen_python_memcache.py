#!/usr/bin/python3
"""Writes tests/vectors/python_memcache_servers.txt: which server
python-memcached (Debian python3-memcache, memcache.Client) picks for a key
among 2, 3 and 5 servers, and the key's CRC-32 — the expectations of
hash=python-memcache (tests/unit/test_mc_pyhash.c). Run with Debian's
Python (the file is checked in):

    /usr/bin/python3 tests/vectors/gen_python_memcache.py

The choice comes from the client's own Client._get_server, with
_Host.connect patched to succeed (so nothing connects and no dead-server
rehash happens: the C store fails instead of rehashing). Each line:

    <key> <crc32 as 8 hex digits> <index of 2> <index of 3> <index of 5>

Keys are memcached keys (printable ASCII, no spaces): random ones of
1..250 bytes, tornado-mode session ids (64 hex digits), and one whose
hash is 0 before python-memcached turns it into 1.
"""
import binascii
import os
import random

import memcache

SERVERS = (2, 3, 5)
KEYS = 300
PRINTABLE = [chr(c) for c in range(0x21, 0x7F)]


def clients():
    memcache._Host.connect = lambda self: 1  # never connect, never rehash
    return {n: memcache.Client(["127.0.0.1:%d" % (20000 + i)
                                for i in range(n)]) for n in SERVERS}


def index(client, key):
    server, _ = client._get_server(key.encode())
    return client.servers.index(server)


def zero_hash_key():
    """The first "zero-<n>" whose cmemcache hash is 0 (then 1 is used)."""
    n = 0
    while (binascii.crc32(b"zero-%d" % n) >> 16) & 0x7FFF:
        n += 1
    return "zero-%d" % n


def keys(rng):
    out = [zero_hash_key(), "a", "123456789"]
    while len(out) < KEYS:
        if rng.random() < 0.4:
            out.append("%064x" % rng.getrandbits(256))
        else:
            size = rng.choice([1, 2, 8, 16, 43, rng.randrange(1, 251)])
            out.append("".join(rng.choice(PRINTABLE) for _ in range(size)))
    return out


def main():
    rng = random.Random(20240605)
    cs = clients()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "python_memcache_servers.txt")
    with open(path, "w") as f:
        for key in keys(rng):
            crc = binascii.crc32(key.encode()) & 0xFFFFFFFF
            picks = " ".join(str(index(cs[n], key)) for n in SERVERS)
            f.write("%s %08x %s\n" % (key, crc, picks))


if __name__ == "__main__":
    main()
