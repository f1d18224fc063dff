#!/usr/bin/python3
"""The operations subcommands of the mcsession tool (show, touch, destroy,
stats, revoke-user) on a Redis store: a real redis-server on a free
127.0.0.1 port, with a password (AUTH through the URL's password_file) and
database 3.

Usage: /usr/bin/python3 test_tool_redis.py PATH/TO/mcsession

Standard library only. Sessions are written straight into Redis as the
Redis store writes them (docs/redis.md: a 16-byte header, "\\0mcr", a
64-bit token and the client flags, big-endian, then the JSON envelope),
independently of the library; the helpers for keys, envelopes and signed
cookies are test_tool_ops.py's. Exits 77 when redis-server is not
installed, 1 when a check failed.
"""
import json
import os
import re
import socket
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_harness  # noqa: E402 - after the path is set
import test_tool_ops as ops  # noqa: E402

REDIS = "/usr/bin/redis-server"  # demo_harness.Redis finds it on PATH
PASSWORD = b"a redis password"
DB = 3
SRV = None
PORT = None
PWF = None


class Failure(Exception):
    pass


# ---- redis ---------------------------------------------------------------

def start_redis():
    global SRV, PORT
    SRV = demo_harness.start_server(demo_harness.Redis)
    PORT = SRV.port
    rd("CONFIG", "SET", "requirepass", PASSWORD, auth=False)


def stop_redis():
    if SRV:
        SRV.kill()  # by the PID we started, never by name


def rd(*args, auth=True):
    """One command (after AUTH and SELECT, unless not auth) and its reply:
    bytes, int, None, or an error raised."""
    def bulk(a):
        a = a if isinstance(a, bytes) else str(a).encode()
        return b"$%d\r\n%s\r\n" % (len(a), a)

    def cmd(*a):
        return b"*%d\r\n" % len(a) + b"".join(bulk(x) for x in a)

    with socket.create_connection(("127.0.0.1", PORT), 5) as s:
        hello = cmd("AUTH", PASSWORD) + cmd("SELECT", DB) if auth else b""
        s.sendall(hello + cmd(*args))
        f = s.makefile("rb")
        for _ in range(2 if auth else 0):
            if f.readline() != b"+OK\r\n":
                raise Failure("AUTH/SELECT refused")
        line = f.readline()
        if line[:1] == b"-":
            raise Failure("redis: %r" % line)
        if line[:1] == b":":
            return int(line[1:])
        if line[:1] == b"+":
            return line[1:-2]
        n = int(line[1:])
        return None if n < 0 else f.read(n + 2)[:-2]


def put(key, value, ttl=300, flags=0x4A53):
    token = struct.unpack(">Q", os.urandom(8))[0] | 1
    rd("SET", key, b"\0mcr" + struct.pack(">QI", token, flags) + value, "EX",
       ttl)


def get(key):
    v = rd("GET", key)
    return None if v is None else v[16:]


def new_native(data, ttl=300, user=None):
    sid = ops.new_id()
    env = {"v": 1, "c": 1700000000, "r": 4, "d": data}
    if user is not None:
        env["ui"] = user
    put(ops.native_key(sid), json.dumps(env).encode(), ttl)
    return sid.decode()


def url(params=""):
    return "redis://127.0.0.1:%d/%d?password_file=%s%s" % (PORT, DB, PWF,
                                                         params)


def native(*args):
    return ["--store", url(), "--secret-file", ops.SF, *args]


# ---- the tests ---------------------------------------------------------

def test_show():
    sid = new_native({"cart": [1, 2]}, user="ann")
    doc = ops.show_json(*native(sid))
    if doc["data"] != {"cart": [1, 2]} or doc["user"] != "ann":
        raise Failure("show: %r" % doc)
    cookie = ops.sign("session", sid)
    if ops.show_json(*native(cookie))["id"] != sid:
        raise Failure("show by cookie")
    ops.expect(["show", *native(ops.new_id().decode())], 1, "no such session")


def test_touch():
    sid = new_native({"a": 1}, ttl=50)
    key = ops.native_key(sid.encode())
    ops.expect(["touch", *native(sid), "1000"], 0)
    if not 990 <= rd("TTL", key) <= 1000:
        raise Failure("touch did not set the TTL: %r" % rd("TTL", key))
    if json.loads(get(key))["d"] != {"a": 1}:
        raise Failure("touch changed the data")


def test_destroy():
    sid = new_native({"a": 1})
    key = ops.native_key(sid.encode())
    ops.expect(["destroy", *native(sid)], 0)
    if rd("EXISTS", key) != 0:
        raise Failure("record still there")
    ops.expect(["destroy", *native(sid)], 1, "no such session")


def test_revoke_user():
    sid = new_native({}, user="alice")
    r = ops.expect(["revoke-user", *native("alice")], 0)
    if not re.match(rb"revoked user alice \(generation [0-9a-f]{16}\)",
                    r.stdout):
        raise Failure("revoke-user text %r" % r.stdout)
    rec = json.loads(get(ops.user_key("alice")))
    if not re.fullmatch("[0-9a-f]{16}", rec["g"]):
        raise Failure("revocation record %r" % rec)
    if ops.show_json(*native(sid))["user_revoked"] is not True:
        raise Failure("bound session not shown revoked")


def test_stats_from_info():
    before = ops.expect(["stats", "--json", "--store", url()], 0)
    doc = json.loads(before.stdout)["servers"][0]
    keys = rd("DBSIZE")
    if not doc["up"] or doc["curr_items"] != keys or \
            not doc["version"].startswith(("6.", "7.", "8.")) or \
            doc["curr_connections"] < 1:
        raise Failure("stats %r (DBSIZE %d)" % (doc, keys))
    new_native({})
    after = json.loads(ops.expect(["stats", "--json", "--store", url()],
                                  0).stdout)["servers"][0]
    if after["curr_items"] != keys + 1:
        raise Failure("items did not count the new session: %r" % after)
    text = ops.expect(["stats", "--store", url()], 0).stdout.decode()
    if not re.search(r"127\.0\.0\.1:%d +up +%d " % (PORT, keys + 1), text):
        raise Failure("stats text %r" % text)
    bare = "redis://127.0.0.1:%d" % PORT  # no password: NOAUTH, down
    ops.expect(["stats", "--store", bare], 3, "1 of 1")


def test_tornado_mode_refuses_redis():
    for cmd in ("show", "stats"):
        ops.expect([cmd, "--store", url(), "--mode", "tornado", *(
            ["0" * 64] if cmd == "show" else [])], 2, "tornado mode keeps")


def test_bad_redis_urls():
    ops.expect(["show", "--secret-file", ops.SF, "--store",
                "redis://127.0.0.1:%d?db=1&db=2" % PORT, "x"], 2,
               "bad --store URL")
    ops.expect(["stats", "--store", "redis+cluster://127.0.0.1:%d/1" % PORT],
               2, "bad --store URL")
    ops.expect(["stats", "--store", "redis://127.0.0.1:%d?password_file=/nx"
                % PORT], 3, "password_file")


def main():
    global PWF
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    ops.TOOL = os.path.abspath(sys.argv[1])
    if not os.access(REDIS, os.X_OK):
        print("redis-server not installed: skipped")
        return 77
    os.umask(0o077)
    tests = ops.collect_tests(globals())
    with tempfile.TemporaryDirectory() as tmp:
        ops.TMP = tmp
        ops.SF = ops.secret_file(ops.SECRET, "secret")
        PWF = ops.secret_file(PASSWORD, "redis_password")
        start_redis()
        try:
            failures = ops.run_tests(tests, (Failure, ops.Failure))
        finally:
            stop_redis()
    print("%d passed, %d failed" % (len(tests) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
