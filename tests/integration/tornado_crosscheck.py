#!/usr/bin/python3
"""Cross-checks mcsession's signed values against the real Tornado, both
ways, through the command-line tool:

  - `mcsession sign` writes exactly what tornado.web.create_signed_value
    returns for the same secret, name, value, time and key version;
  - `mcsession verify` accepts Tornado's values and prints their value,
    and rejects (exit 1) tampered, renamed and expired ones, which Tornado
    rejects too;
  - tornado.web.decode_signed_value accepts what `mcsession sign` wrote.

Usage: /usr/bin/python3 tornado_crosscheck.py PATH/TO/mcsession [CASES [SEED]]

Exits 77 (ctest: skipped) when Tornado cannot be imported, 1 on the first
disagreement (printing a reproducible description), 0 otherwise. The run is
bounded by CASES (default 200) and a time budget.
"""
import os
import random
import subprocess
import sys
import tempfile
import time

try:
    import tornado.web
except ImportError:
    print("tornado is not importable; skipping", file=sys.stderr)
    sys.exit(77)

NAME_MAX = 256      # MCS_SIGNED_NAME_MAX
VALUE_MAX = 3072    # MCS_SIGNED_VALUE_MAX
KEY_VERSION_MAX = 1000000
DAY = 86400
MAX_AGE_DAYS = 31
TIME_BUDGET_S = 120
PRINTABLE = bytes(range(0x21, 0x7F)).decode("ascii")


class Mismatch(Exception):
    pass


def run(tool, *args):
    return subprocess.run([tool, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)


def tornado_key(secret, key_version):
    # None: a plain secret, as an app with one cookie_secret; otherwise the
    # dict form Tornado uses for key rotation.
    return secret if key_version is None else {key_version: secret}


def random_case(rng):
    secret = bytes(rng.randrange(256) for _ in range(rng.randrange(16, 200)))
    name_len = rng.choice([1, 2, 7, 16, rng.randrange(1, NAME_MAX + 1)])
    name = "".join(rng.choice(PRINTABLE) for _ in range(name_len))
    value_len = rng.choice([0, 1, 2, 3, 32, 64, rng.randrange(0, 300),
                            rng.randrange(VALUE_MAX - 3, VALUE_MAX + 1)])
    # argv cannot carry NUL, so values for `sign` avoid it; values that go
    # through Tornado first (verify) use every byte value.
    value = bytes(rng.randrange(1, 256) for _ in range(value_len))
    binary = bytes(rng.randrange(256) for _ in range(value_len))
    timestamp = rng.choice([0, 1, 1700000000, 2**31, 2**63 - 1,
                            rng.randrange(0, 2**40)])
    key_version = rng.choice([None, 0, 1, 7, 123, KEY_VERSION_MAX,
                              rng.randrange(0, KEY_VERSION_MAX + 1)])
    return secret, name, value, binary, timestamp, key_version


def write_secret(path, secret, rng):
    # One trailing newline is ignored by the tool; a secret that itself
    # ends in one therefore always gets the extra newline.
    extra = b"\n" if secret.endswith(b"\n") or rng.random() < 0.5 else b""
    with open(path, "wb") as f:
        f.write(secret + extra)
    os.chmod(path, 0o600)  # else the tool warns on stderr (mode 0644)


def check_sign(tool, path, secret, name, value, timestamp, key_version):
    args = ["sign", "--secret-file", path, "--timestamp", str(timestamp)]
    if key_version is not None:
        args += ["--key-version", str(key_version)]
    r = run(tool, *args, "--", name, value)
    ours = r.stdout
    theirs = tornado.web.create_signed_value(
        tornado_key(secret, key_version), name, value, version=2,
        clock=lambda: timestamp, key_version=key_version) + b"\n"
    if r.returncode != 0 or ours != theirs:
        raise Mismatch("sign: ours %r (exit %d, %r) != tornado %r" % (
            ours, r.returncode, r.stderr, theirs))
    back = tornado.web.decode_signed_value(
        tornado_key(secret, key_version), name, ours.rstrip(b"\n"),
        max_age_days=MAX_AGE_DAYS, clock=lambda: timestamp)
    if back != value:
        raise Mismatch("tornado cannot decode ours: %r" % ours)


def verify(tool, path, name, signed, now):
    return run(tool, "verify", "--secret-file", path, "--now", str(now),
               "--", name, signed)


def check_verify(tool, path, secret, name, value, timestamp, key_version,
                 rng):
    key = tornado_key(secret, key_version)
    signed = tornado.web.create_signed_value(
        key, name, value, version=2, clock=lambda: timestamp,
        key_version=key_version)
    now = min(timestamp + rng.randrange(0, MAX_AGE_DAYS * DAY + 1), 2**63 - 1)
    r = verify(tool, path, name, signed, now)
    if r.returncode != 0 or r.stdout != value + b"\n":
        raise Mismatch("verify rejected tornado's %r: exit %d, %r" % (
            signed, r.returncode, r.stderr))
    check_rejected(tool, path, key, name, tamper(signed, rng), now, "tampered")
    if timestamp <= 2**62:
        late = timestamp + MAX_AGE_DAYS * DAY + 1 + rng.randrange(0, 10**6)
        check_rejected(tool, path, key, name, signed, late, "expired")
    other = name + "x" if len(name) < NAME_MAX else name[:-1]
    check_rejected(tool, path, key, other, signed, now, "renamed")


def tamper(signed, rng):
    """Changes one byte to another printable byte (argv-safe)."""
    data = bytearray(signed)
    i = rng.randrange(len(data))
    data[i] = rng.choice([c for c in range(0x21, 0x7F) if c != data[i]])
    return bytes(data)


def check_rejected(tool, path, key, name, signed, now, what):
    r = verify(tool, path, name, signed, now)
    lines = r.stderr.decode("utf-8", "replace").splitlines()
    if r.returncode != 1 or r.stdout or len(lines) != 1:
        raise Mismatch("%s value %r: exit %d, stdout %r, stderr %r" % (
            what, signed, r.returncode, r.stdout, r.stderr))
    if tornado_decode(key, name, signed, now) is not None:
        raise Mismatch("tornado accepts the %s value %r we reject" % (
            what, signed))


def tornado_decode(key, name, signed, now):
    try:
        return tornado.web.decode_signed_value(
            key, name, signed, max_age_days=MAX_AGE_DAYS, clock=lambda: now)
    except AssertionError:
        # A tampered version byte makes Tornado take the value for format
        # 1, which asserts that the secret is not a dict: a refusal too.
        return None


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tool = sys.argv[1]
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else random.randrange(2**32)
    rng = random.Random(seed)
    deadline = time.monotonic() + TIME_BUDGET_S
    done = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "secret")
        for i in range(cases):
            if time.monotonic() > deadline:
                break
            secret, name, value, binary, ts, kv = random_case(rng)
            write_secret(path, secret, rng)
            try:
                check_sign(tool, path, secret, name, value, ts, kv)
                check_verify(tool, path, secret, name, binary, ts, kv, rng)
            except Mismatch as e:
                print("FAIL (seed %d, case %d): secret=%s name=%r kv=%r "
                      "ts=%d\n  %s" % (seed, i, secret.hex(), name, kv, ts,
                                       e), file=sys.stderr)
                return 1
            done += 1
    print("tornado %s and mcsession agree on %d cases (seed %d)" % (
        tornado.version, done, seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
