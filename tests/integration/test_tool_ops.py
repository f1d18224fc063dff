#!/usr/bin/python3
"""The operations subcommands of the mcsession tool (show, destroy, touch,
stats, revoke-user, sessions, end-session) against a real memcached on a free 127.0.0.1 port.

Usage: /usr/bin/python3 test_tool_ops.py PATH/TO/mcsession

Standard library only (and libsodium through ctypes). Sessions are
written straight into memcached in the documented formats (native: the
JSON envelope, sealed as docs/security.md describes, under prefix +
base64url(HMAC-SHA256(secret, id)); tornado: a pickled dict under the raw
hex id), independently of the library, and cookies are signed with an
independent implementation of Tornado's format 2. Exits 77 when memcached
is not installed, 1 when a check failed.
"""
import atexit
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_harness  # noqa: E402 - after the path is set

TOOL = None
TMP = None
MC = None  # the memcached process we started
PORT = None
OPS = ["show", "destroy", "touch", "stats", "revoke-user", "sessions",
       "end-session"]
SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"
SESSION_SECRET = b"recipe session secret"


class Failure(Exception):
    pass


# ---- memcached ----------------------------------------------------------

free_port = demo_harness.free_port


def start_memcached():
    """Our own memcached, ready when its own PID listens on the port
    (demo_harness: a port found free can be taken by another test's
    server first, which would answer a mere connect)."""
    global MC, PORT
    MC = demo_harness.start_memcached()
    PORT = MC.port
    atexit.register(stop_memcached)


def stop_memcached():
    """Stops the one process we started, by its PID."""
    if MC:
        MC.kill()


def mc(request, end=b"\r\n"):
    with socket.create_connection(("127.0.0.1", PORT), 2) as s:
        s.settimeout(2)
        s.sendall(request)
        reply = b""
        while not reply.endswith(end):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


def mc_set(key, value, ttl=300, flags=0):
    reply = mc(b"set %s %d %d %d\r\n%s\r\n" % (key, flags, ttl, len(value),
                                              value))
    if reply != b"STORED\r\n":
        raise Failure("set failed: %r" % reply)


def mc_ttl(key):
    """Remaining TTL through the meta protocol (None: no such key)."""
    reply = mc(b"mg %s t\r\n" % key)
    m = re.match(rb"HD t(-?\d+)\r\n", reply)
    return int(m.group(1)) if m else None


def mc_get(key):
    reply = mc(b"mg %s v\r\n" % key)
    m = re.match(rb"VA (\d+)\r\n", reply)
    return reply[m.end():m.end() + int(m.group(1))] if m else None


def mc_stat(name):
    reply = mc(b"stats\r\n", b"END\r\n").decode()
    return int(re.search(r"STAT %s (\d+)" % name, reply).group(1))


def url(params=""):
    """Our memcached's URL with `params` ("?..."). Its io timeout is 5 s,
    not the default 200 ms: these tests are not about timeouts, and a
    loaded machine can hold memcached back longer than that."""
    params = (params + "&" if params else "?") + "io_timeout_ms=5000"
    return "memcached://127.0.0.1:%d%s" % (PORT, params)


# ---- sessions, written as the library writes them -----------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def new_id():
    """A random native id. One in 64 starts with '-', which the command
    line reads as an option unless it follows '--' (tested once below);
    the other tests use ids that do not."""
    while True:
        sid = b64url(os.urandom(32))
        if not sid.startswith(b"-"):
            return sid


def native_key(sid, secret=SECRET, prefix=b"mcs:"):
    return prefix + b64url(hmac.new(secret, sid, hashlib.sha256).digest())


SODIUM = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")


def seal(plain, sid, key, secret=SECRET, version=0):
    """A sealed record (docs/security.md, "Sealed records"): the key is
    BLAKE2b-256 keyed with HMAC-SHA256(salt, secret) over a label and the
    id; XChaCha20-Poly1305 with the header and the store key as associated
    data."""
    master = hmac.new(b"mcsession record seal", secret,
                      hashlib.sha256).digest()
    k = hashlib.blake2b(b"mcsession record key v1" + sid, key=master,
                        digest_size=32).digest()
    header = b"\x00ms\x01" + version.to_bytes(4, "big")
    nonce = os.urandom(24)
    ad = header + key
    out = ctypes.create_string_buffer(len(plain) + 16)
    n = ctypes.c_ulonglong(0)
    if SODIUM.sodium_init() < 0 or \
            SODIUM.crypto_aead_xchacha20poly1305_ietf_encrypt(
                out, ctypes.byref(n), plain, ctypes.c_ulonglong(len(plain)),
                ad, ctypes.c_ulonglong(len(ad)), None, nonce, k) != 0:
        raise Failure("libsodium")
    return header + nonce + out.raw[:n.value]


def put_native(sid, env, ttl=300, secret=SECRET, prefix=b"mcs:",
               seal_secret=SECRET, version=0, plain=False):
    key = native_key(sid, secret, prefix)
    body = env if isinstance(env, bytes) else json.dumps(env).encode()
    if not plain:
        body = seal(body, sid, key, seal_secret, version)
    mc_set(key, body, ttl, 0x4A53)


def new_native(data, ttl=300, user=None, secret=SECRET, prefix=b"mcs:",
               **how):
    sid = new_id()
    env = {"v": 1, "c": 1700000000, "r": 4, "d": data}
    if user is not None:
        env["ui"] = user
    put_native(sid, env, ttl, secret, prefix, **how)
    return sid.decode()


def new_tornado(data, ttl=300):
    sid = hashlib.sha256(os.urandom(16)).hexdigest()
    mc_set(sid.encode(), pickle.dumps(data, 4), ttl)
    return sid


def sign(name, value, secret=SECRET, key_version=0, timestamp=None):
    """Tornado's create_signed_value, version 2 (stdlib only)."""
    def field(b):
        return b"%d:%s" % (len(b), b)
    ts = b"%d" % (timestamp if timestamp is not None else int(time.time()))
    parts = [b"2", field(b"%d" % key_version), field(ts), field(name.encode()),
             field(base64.b64encode(value.encode())), b""]
    to_sign = b"|".join(parts)
    return (to_sign + hmac.new(secret, to_sign, hashlib.sha256)
            .hexdigest().encode()).decode()


def secret_file(content, name):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(content + b"\n")
    return path


# ---- running the tool ---------------------------------------------------

def run(*args, input=None):
    """Runs the tool with `input` on its standard input (none: empty)."""
    return subprocess.run([TOOL, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30,
                          input=input if input is not None else b"")


def expect(args, code, stderr_has=None, input=None):
    """Runs the tool; checks the exit status and the output rules: success
    prints nothing on stderr; failure prints one line on stderr, and
    nothing on stdout (stats: the report, then the error)."""
    r = run(*args, input=input)
    problems = []
    err = r.stderr.decode("utf-8", "replace")
    if r.returncode != code:
        problems.append("expected exit %d" % code)
    if code == 0 and r.stderr:
        problems.append("expected nothing on stderr")
    if code != 0 and len(err.splitlines()) != 1:
        problems.append("expected one line on stderr")
    if code != 0 and r.stdout and args[0] != "stats":
        problems.append("expected nothing on stdout")
    if stderr_has and stderr_has not in err:
        problems.append("expected %r on stderr" % stderr_has)
    if code == 2 and "usage: mcsession" not in err:
        problems.append("expected a usage line")
    if problems:
        raise Failure("; ".join(problems) + "\n  mcsession %s -> exit %d\n"
                      "    stdout: %r\n    stderr: %r" % (
                          " ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def native(*args):
    return ["--store", url(), "--secret-file", SF, *args]


def tornado(*args):
    return ["--store", url(), "--mode", "tornado", "--cookie-secret-file",
            CSF, "--session-secret-file", SSF, *args]


def show_json(*args):
    return json.loads(expect(["show", "--json", *args], 0).stdout)


# ---- help ---------------------------------------------------------------

def test_help_lists_the_operations():
    out = expect(["--help"], 0).stdout.decode()
    for cmd in OPS:
        if not re.search(r"^  %s\s" % cmd, out, re.M):
            raise Failure("--help does not list %s" % cmd)


def test_every_operation_has_help():
    for cmd in OPS:
        for args in ([cmd, "--help"], [cmd, "-h"],
                     [cmd, "--store", "bogus", "--help"]):
            out = expect(args, 0).stdout.decode()
            if not out.startswith("Usage: mcsession %s" % cmd):
                raise Failure("bad help for %s: %r" % (args, out[:80]))
            for want in ("Exit status", "--store", "--json"):
                if want not in out:
                    raise Failure("%s help lacks %s" % (cmd, want))


def test_each_operation_lists_only_its_exit_statuses():
    """A command's --help lists the exit statuses it returns, not every
    one the tool has: stats, revoke-user and sessions never exit 1."""
    for cmd in OPS:
        out = expect([cmd, "--help"], 0).stdout.decode()
        codes = re.findall(r"^  ([0-3])  ", out, re.M)
        want = ["0", "2", "3"] if cmd in ("stats", "revoke-user",
                                          "sessions") \
            else ["0", "1", "2", "3"]
        if codes != want:
            raise Failure("%s --help lists exit statuses %r, want %r"
                          % (cmd, codes, want))


# ---- show ---------------------------------------------------------------

def test_show_native_by_id_cookie_and_forms():
    data = {"user_name": "ann", "n": 2, "b": {"$bytes": "AAE="}}
    sid = new_native(data, ttl=300)
    cookie = sign("session", sid)
    for arg in (sid, cookie, '"%s"' % cookie, "session=" + cookie,
                'session="%s"; Path=/; HttpOnly' % cookie):
        doc = show_json(*native(arg))
        want = {"mode": "native", "id": sid,
                "key": native_key(sid.encode()).decode(), "created": 1700000000,
                "revision": 4, "user": None, "data": data, "sealed": True,
                "seal_key_version": 0}
        for k, v in want.items():
            if doc.get(k) != v:
                raise Failure("show %r: %s is %r, want %r" % (arg, k,
                                                             doc.get(k), v))
        if not 290 <= doc["ttl"] <= 300:
            raise Failure("ttl %r" % doc["ttl"])
        if ("signed_at" in doc) != (arg != sid):
            raise Failure("signed_at only for cookies: %r" % doc)
    out = expect(["show", *native(sid)], 0).stdout.decode()
    for want in ("key:       mcs:", "id:        " + sid, "ttl:       ",
                 "created:   1700000000 (2023-11-14 22:13:20 UTC)",
                 "revision:  4", '"user_name": "ann"',
                 "sealed:    yes (key version 0)"):
        if want not in out:
            raise Failure("text show lacks %r:\n%s" % (want, out))


def test_show_takes_a_whole_cookie_header_line():
    """A Cookie header line pasted whole, as a browser's developer tools
    show it, names the session: the header's name is dropped and of its
    pairs the one signed for its own name counts. It used to be refused
    with "the cookie's name is not the one it was signed for"."""
    sid = new_native({"w": 1})
    cookie = sign("session", sid)
    for arg in ("Cookie: session=" + cookie,
                "cookie:session=" + cookie,
                'Cookie: _ga=GA1.2.3.4; theme=dark; session="%s"; x=1'
                % cookie,
                "Cookie: other=%s; session=%s" % (sign("other", "x"), cookie),
                "Set-Cookie: session=%s; Path=/; HttpOnly; SameSite=Lax"
                % cookie):
        if show_json(*native(arg))["id"] != sid:
            raise Failure("wrong session for %r" % arg)
    expect(["show", *native("-")], 0,
           input=("Cookie: a=1; session=%s\r\n" % cookie).encode())
    tid = new_tornado({"user_name": "tess"})
    line = "Cookie: verification=%s; session_id=%s" % (
        sign("verification", tid, OTHER_SECRET),
        sign("session_id", tid, OTHER_SECRET))
    if show_json(*tornado(line))["id"] != tid:
        raise Failure("tornado: the session_id pair was not taken")


def test_show_does_not_slide_the_expiry():
    sid = new_native({"a": 1}, ttl=100)
    key = native_key(sid.encode())
    touches = mc_stat("cmd_touch")
    time.sleep(1.1)
    for _ in range(2):
        doc = show_json(*native(sid))
    if doc["ttl"] > 99 or mc_ttl(key) > 99:
        raise Failure("show slid the expiry: %r" % doc["ttl"])
    if mc_stat("cmd_touch") != touches:
        raise Failure("show sent a touch")


def test_show_tornado_pickled_session():
    data = {"user_name": "bob", "count": 3, "raw": b"\x00\xff",
            "tags": ["a", "b"]}
    sid = new_tornado(data)
    for arg in (sid, sign("session_id", sid, OTHER_SECRET),
                "session_id=" + sign("session_id", sid, OTHER_SECRET)):
        doc = show_json(*tornado(arg))
        if (doc["mode"], doc["id"], doc["key"]) != ("tornado", sid, sid):
            raise Failure("tornado show: %r" % doc)
        if doc["created"] is not None or doc["revision"] is not None:
            raise Failure("tornado records have no creation time: %r" % doc)
        want = {"user_name": "bob", "count": 3, "raw": {"$bytes": "AP8="},
                "tags": ["a", "b"]}
        if doc["data"] != want:
            raise Failure("tornado data %r" % doc["data"])
    out = expect(["show", *tornado(sid)], 0).stdout.decode()
    if "created:" in out or '"user_name": "bob"' not in out:
        raise Failure("tornado text show:\n" + out)
    # The cookie secret is needed for cookies only; the session secret is
    # optional.
    expect(["show", "--store", url(), "--mode", "tornado", sid], 0)
    expect(["show", "--store", url(), "--mode", "tornado",
            sign("session_id", sid, OTHER_SECRET)], 2,
           "needs --cookie-secret-file")
    # A verification cookie carries 64 hex digits too, but is no id.
    expect(["show", *tornado(sign("verification", sid, OTHER_SECRET))], 1,
           "not a session_id cookie")


def test_show_a_retired_snapshot_left_by_regenerate():
    sid = new_id().decode()
    body = {"c": 1700000000, "r": 3, "d": {"cart": 2}}
    put_native(sid.encode(), {"v": 1, "ru": 1700000010, "s": body}, 10)
    doc = show_json(*native(sid))
    if doc.get("retired_until") != 1700000010 or doc.get("data") != {"cart": 2}:
        raise Failure("retired: %r" % doc)
    if "retired:   until 1700000010" not in expect(["show", *native(sid)],
                                                     0).stdout.decode():
        raise Failure("text retired")


def test_show_with_an_explicit_store_key_secret_and_prefix():
    skf = secret_file(OTHER_SECRET, "storekey")
    sid = new_native({"k": 1}, secret=OTHER_SECRET, prefix=b"app:")
    base = ["--store", url("?prefix=app:"), "--store-key-secret-file", skf]
    # A raw id names the record with the store-key secret alone; opening
    # it takes the key ring's secret.
    expect(["show", *base, sid], 3, "give the application's --secret-file")
    doc = show_json(*base, "--secret-file", SF, sid)
    if doc["data"] != {"k": 1} or not doc["key"].startswith("app:"):
        raise Failure("explicit store key: %r" % doc)
    expect(["show", *base, sign("session", sid)], 2, "needs --secret-file")
    doc = show_json(*base, "--secret-file", SF, sign("session", sid))
    if doc["data"] != {"k": 1}:
        raise Failure("cookie with explicit store key: %r" % doc)
    # A plain record (sealing off) is shown with the store-key secret.
    sid = new_native({"k": 2}, secret=OTHER_SECRET, prefix=b"app:",
                     plain=True)
    doc = show_json(*base, sid)
    if doc["data"] != {"k": 2} or doc["sealed"] is not False or \
            "seal_key_version" in doc:
        raise Failure("plain record with the store-key secret: %r" % doc)
    if "sealed:    no (a plain record" not in expect(
            ["show", *base, sid], 0).stdout.decode():
        raise Failure("text show of a plain record")


def test_show_errors():
    sid = new_native({"a": 1})
    cookie = sign("session", sid)
    tampered = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    expect(["show", *native(tampered)], 1, "signature does not match")
    expect(["show", *native(sign("session", sid, OTHER_SECRET))], 1,
           "signature does not match")
    expect(["show", *native("other=" + cookie)], 1,
           "invalid cookie: it is named 'other' but was signed for 'session'")
    expect(["show", *native(sign("session", "short-id"))], 1,
           "does not carry a session id")
    # Nothing the tool understands: it says what to paste instead.
    for arg in ("hello", "Cookie: _ga=GA1.2.3; theme=dark", "Cookie:"):
        expect(["show", *native(arg)], 1,
               "neither a session id nor a signed cookie value; give the "
               "session cookie's value (2|1:...), its pair "
               "(session=2|1:...), a whole Cookie: line holding it, or the "
               "session id (43 base64url characters)")
    expect(["show", *tornado("hello")], 1,
           "give the session_id cookie's value (2|1:...), its pair "
           "(session_id=2|1:...), a whole Cookie: line holding it, or the "
           "session id (64 hex digits)")
    # A line whose only signed pair is misnamed: the error names both.
    expect(["show", *native("Cookie: _ga=1; sess=" + cookie)], 1,
           "invalid cookie: it is named 'sess' but was signed for 'session'")
    expect(["show", *native(new_id().decode())], 1,
           "no such session")
    expect(["show", *native(new_id().decode()), "--json"], 1,
           "no such session")
    expect(["show", *tornado(hashlib.sha256(b"x").hexdigest())], 1,
           "no such session")
    junk = new_id()
    put_native(junk, b"{not json")
    expect(["show", *native(junk.decode())], 3, "cannot be decoded")
    sid = new_native({"a": 1}, seal_secret=OTHER_SECRET)
    expect(["show", *native(sid)], 3, "the stored record does not open")
    sid = new_native({"a": 1})
    key = native_key(sid.encode())
    rec = bytearray(mc_get(key))
    rec[-1] ^= 1
    mc_set(key, bytes(rec))
    expect(["show", *native(sid)], 3, "the stored record does not open")
    expect(["show", *native(sign("session", sid))], 3,
           "the stored record does not open")


def test_show_a_record_sealed_under_another_key_version():
    """The application's ring seals with its newest version; the tool holds
    one secret, and takes the version the record names."""
    sid = new_native({"v": 7}, version=7)
    if show_json(*native(sid))["data"] != {"v": 7}:
        raise Failure("raw id, version 7")
    cookie = sign("session", sid, key_version=2)
    if show_json(*native(cookie))["data"] != {"v": 7}:
        raise Failure("cookie of version 2, record of version 7")


# ---- destroy and touch --------------------------------------------------

def test_destroy():
    sid = new_native({"a": 1})
    r = expect(["destroy", *native(sid)], 0)
    if r.stdout.decode() != "destroyed %s\n" % native_key(sid.encode()).decode():
        raise Failure("destroy text: %r" % r.stdout)
    if mc_get(native_key(sid.encode())) is not None:
        raise Failure("record still there")
    expect(["destroy", *native(sid)], 1, "no such session")
    expect(["show", *native(sid)], 1, "no such session")
    sid = new_native({"a": 1})
    doc = json.loads(expect(["destroy", "--json",
                             *native(sign("session", sid))], 0).stdout)
    if doc != {"id": sid, "key": native_key(sid.encode()).decode(),
               "destroyed": True}:
        raise Failure("destroy json: %r" % doc)
    tsid = new_tornado({"a": 1})
    expect(["destroy", *tornado(tsid)], 0)
    expect(["destroy", *tornado(tsid)], 1, "no such session")
    dash = b"-" + new_id()[1:]
    put_native(dash, {"v": 1, "c": 1, "r": 1, "d": {}})
    expect(["destroy", *native(dash.decode())], 2, "unknown option")
    expect(["destroy", *native("--", dash.decode())], 0)


def test_touch():
    sid = new_native({"a": 1}, ttl=50)
    r = expect(["touch", *native(sid), "1000"], 0)
    if not r.stdout.decode().endswith(": expires in 1000 s\n"):
        raise Failure("touch text %r" % r.stdout)
    if not 990 <= mc_ttl(native_key(sid.encode())) <= 1000:
        raise Failure("touch did not set the TTL")
    doc = json.loads(expect(["touch", "--json", *native(sid), "7"], 0).stdout)
    if doc != {"id": sid, "key": native_key(sid.encode()).decode(), "ttl": 7}:
        raise Failure("touch json %r" % doc)
    if show_json(*native(sid))["data"] != {"a": 1}:
        raise Failure("touch changed the data")
    tsid = new_tornado({"a": 1})
    expect(["touch", *tornado(tsid), "60"], 0)
    expect(["touch", *native(new_id().decode()), "5"], 1,
           "no such session")
    for bad in ("0", "-1", "abc", "2147483648", "1.5", " 5"):
        expect(["touch", *native(sid), bad], 2, "SECONDS")
    expect(["touch", *native(sid)], 2, "missing argument")


# ---- the cookie from standard input, secret file modes -----------------

def test_cookie_from_stdin():
    """Security issue 12, item 6: COOKIE-OR-ID '-' reads the cookie from
    standard input (so it does not show in ps) for show, destroy and
    touch; the command line still works."""
    for cmd in ("show", "destroy", "touch"):
        extra = ["60"] if cmd == "touch" else []
        for form in ("%s\n", "%s\r\n", "%s", "session=%s\n",
                     '"%s"\nmore lines\n'):
            sid = new_native({"a": 1})
            cookie = sign("session", sid)
            r = expect([cmd, "--json", *native("-", *extra)], 0,
                       input=(form % cookie).encode())
            if json.loads(r.stdout)["id"] != sid:
                raise Failure("%s -: %r" % (cmd, r.stdout))
        sid = new_native({"a": 1})
        r = expect([cmd, "--json", *native(sign("session", sid), *extra)], 0)
        if json.loads(r.stdout)["id"] != sid:
            raise Failure("%s by argv: %r" % (cmd, r.stdout))
        sid = new_native({"a": 1})  # a raw id too, after --
        expect([cmd, *native("--", "-", *extra)], 0, input=sid.encode())
        expect([cmd, *native("-", *extra)], 2, "no line on standard input",
               input=b"")
        expect([cmd, *native("-", *extra)], 2, "no line on standard input",
               input=b"\n")
        expect([cmd, *native("-", *extra)], 1, "longer than 8192 bytes",
               input=b"x" * 9000)
        expect([cmd, *native("-", *extra)], 1, "NUL byte",
               input=sid.encode() + b"\0")
        expect([cmd, *native("-", *extra)], 1, "signature does not match",
               input=sign("session", sid, OTHER_SECRET).encode())
        out = expect([cmd, "--help"], 0).stdout.decode()
        if "'-' reads it from the first line of standard input" not in out:
            raise Failure("%s --help does not say '-'" % cmd)


def test_secret_file_modes_warn_once():
    """Security issue 12, item 6: a secret file open to group or others is
    used, with one warning per file on stderr naming the fix."""
    path = secret_file(SECRET, "shared")
    os.chmod(path, 0o644)
    sid = new_native({"a": 1})
    for args in (["--secret-file", path],
                 ["--secret-file", path, "--store-key-secret-file", path]):
        r = run("show", "--store", url(), *args, sid)
        lines = r.stderr.decode().splitlines()
        if r.returncode != 0 or len(lines) != 1 or \
                "chmod 600 '%s'" % path not in lines[0]:
            raise Failure("%r: exit %d, stderr %r" % (args, r.returncode,
                                                       r.stderr))
    # The tornado session secret is read apart; it warns too.
    ssf = secret_file(SESSION_SECRET, "open_session_secret")
    os.chmod(ssf, 0o640)
    tsid = new_tornado({"a": 1})
    r = run("show", "--store", url(), "--mode", "tornado",
            "--session-secret-file", ssf, tsid)
    if r.returncode != 0 or r.stderr.decode().count("chmod 600") != 1:
        raise Failure("session secret: %r" % r.stderr)
    os.chmod(path, 0o600)
    expect(["show", "--store", url(), "--secret-file", path, sid], 0)


# ---- stats ----------------------------------------------------------------

def test_stats():
    new_native({"a": 1})
    out = expect(["stats", "--store", url()], 0).stdout.decode()
    lines = out.splitlines()
    if not lines[0].split() == ["server", "state", "items", "hits", "misses",
                                "evictions", "conns"]:
        raise Failure("stats header %r" % lines[0])
    row = lines[1].split()
    if row[0] != "127.0.0.1:%d" % PORT or row[1] != "up" or int(row[2]) < 1:
        raise Failure("stats row %r" % lines[1])
    doc = json.loads(expect(["stats", "--json", "--store", url()], 0).stdout)
    node = doc["servers"][0]
    for k in ("curr_items", "get_hits", "get_misses", "evictions",
              "curr_connections"):
        if not isinstance(node.get(k), int):
            raise Failure("stats json lacks %s: %r" % (k, doc))
    if node["curr_items"] != mc_stat("curr_items") or not node["up"]:
        raise Failure("stats json %r" % doc)
    # Secrets and mode are accepted, so one set of flags serves every
    # command.
    expect(["stats", *native()], 0)


def test_stats_reports_a_server_down():
    dead = free_port()
    two = "memcached://127.0.0.1:%d,127.0.0.1:%d?connect_timeout_ms=500" % (
        PORT, dead)
    r = expect(["stats", "--store", two], 3, "1 of 2")
    out = r.stdout.decode()
    if not re.search(r"^127\.0\.0\.1:%d\s+down\s" % dead, out, re.M) or \
            not re.search(r"^127\.0\.0\.1:%d\s+up\s" % PORT, out, re.M):
        raise Failure("stats with a server down:\n" + out)
    doc = json.loads(expect(["stats", "--json", "--store", two], 3).stdout)
    states = [(s["server"], s["up"]) for s in doc["servers"]]
    if states != [("127.0.0.1:%d" % PORT, True),
                  ("127.0.0.1:%d" % dead, False)] or \
            "error" not in doc["servers"][1]:
        raise Failure("stats json with a server down: %r" % doc)


# ---- revoke-user --------------------------------------------------------

def user_key(uid, secret=SECRET):
    mac = hmac.new(secret, b"mcsession user\0" + uid.encode(), hashlib.sha256)
    return b"mcs:u:" + b64url(mac.digest())


def test_revoke_user():
    sid = new_native({"user_name": "alice"}, user="alice")
    doc = show_json(*native(sid))
    if doc["user"] != "alice" or doc["user_revoked"] is not False:
        raise Failure("bound session before revoke: %r" % doc)
    r = expect(["revoke-user", *native("alice")], 0)
    if not re.fullmatch(rb"revoked user alice \(generation [0-9a-f]{16}\); "
                        rb"sessions already open may still work for up to "
                        rb"the application's revocation_check_interval "
                        rb"\(5 s by default\)\n", r.stdout):
        raise Failure("revoke-user text %r" % r.stdout)
    rec = json.loads(mc_get(user_key("alice")))
    if rec["v"] != 1 or not re.fullmatch("[0-9a-f]{16}", rec["g"]):
        raise Failure("revocation record %r" % rec)
    # The application's timeouts not given: 30 days, whatever they are.
    if not 2591990 <= mc_ttl(user_key("alice")) <= 2592000:
        raise Failure("default TTL %r" % mc_ttl(user_key("alice")))
    doc = show_json(*native(sid))
    if doc["user_revoked"] is not True:
        raise Failure("bound session after revoke: %r" % doc)
    if "user:      alice (revoked)" not in expect(
            ["show", *native(sid)], 0).stdout.decode():
        raise Failure("text show of a revoked user")
    doc = json.loads(expect(["revoke-user", "--json", "--ttl", "600",
                             "--idle-timeout", "300",
                             *native("bob@example.org")], 0).stdout)
    if doc["user"] != "bob@example.org" or doc["ttl"] != 600 or \
            doc["generation"] != json.loads(
                mc_get(user_key("bob@example.org")))["g"]:
        raise Failure("revoke-user json %r" % doc)
    if not 590 <= mc_ttl(user_key("bob@example.org")) <= 600:
        raise Failure("--ttl not applied")


def test_revoke_user_says_how_long_sessions_may_still_work():
    """Success is printed at once, but a server that checked the user
    less than revocation_check_interval ago lets its sessions through
    until it checks again: the output says for how long."""
    r = expect(["revoke-user", "--revocation-check-interval", "30",
                *native("judy")], 0)
    if not r.stdout.endswith(b"; sessions already open may still work for "
                             b"up to 30 s (--revocation-check-interval)\n"):
        raise Failure("revoke-user text %r" % r.stdout)
    r = expect(["revoke-user", "--revocation-check-interval", "0",
                *native("judy")], 0)
    if not r.stdout.endswith(b"; sessions already open end at their next "
                             b"request\n"):
        raise Failure("revoke-user text %r" % r.stdout)
    for args, within in (([], 5), (["--revocation-check-interval", "30"],
                                   30)):
        doc = json.loads(expect(["revoke-user", "--json", *args,
                                 *native("judy")], 0).stdout)
        if doc.get("ends_within") != within:
            raise Failure("revoke-user --json %r: %r" % (args, doc))


def revoked_ttl(uid, *timeouts):
    """The TTL revoke-user gives uid's record with these options."""
    doc = json.loads(expect(["revoke-user", "--json", *timeouts,
                             *native(uid)], 0).stdout)
    left = mc_ttl(user_key(uid))
    # Beyond 30 days the TTL goes as a Unix time, so the server's clock
    # (whole seconds, its own rounding) may add one.
    if left is None or not doc["ttl"] - 10 <= left <= doc["ttl"] + 1:
        raise Failure("record TTL %r, said %r" % (left, doc["ttl"]))
    return doc["ttl"]


def test_revoke_user_ttl_outlives_the_sessions():
    """The record lives min(idle + interval, absolute) + 60 by the
    application's timeouts: a long idle timeout (beyond memcached's 30
    days of relative TTLs, too) is outlived; before, 86400 s was."""
    ttl = revoked_ttl("carol", "--idle-timeout", "3000000",
                      "--absolute-timeout", "0")
    if ttl != 3000065:
        raise Failure("long idle: ttl %d" % ttl)
    if revoked_ttl("dave", "--idle-timeout", "7200") != 7265:
        raise Failure("idle 7200")
    if revoked_ttl("erin", "--idle-timeout", "100000",
                   "--absolute-timeout", "3600") != 3660:
        raise Failure("absolute shorter than idle")
    if revoked_ttl("frank", "--idle-timeout", "600",
                   "--revocation-check-interval", "30") != 690:
        raise Failure("interval")
    if revoked_ttl("gina", "--absolute-timeout", "600") != 660:
        raise Failure("absolute only")
    if revoked_ttl("hal", "--idle-timeout", "7200", "--ttl", "9000") != 9000:
        raise Failure("a longer --ttl")
    # Shorter than the rule: refused, nothing written.
    expect(["revoke-user", "--idle-timeout", "7200", "--ttl", "7264",
            *native("ivan")], 2, "shorter than the sessions")
    expect(["revoke-user", "--ttl", "1864", *native("ivan")], 2,
           "--idle-timeout")
    if mc_get(user_key("ivan")) is not None:
        raise Failure("a refused revoke wrote a record")
    if revoked_ttl("ivan", "--ttl", "1865") != 1865:
        raise Failure("the library defaults' least TTL")


def test_revoke_user_errors():
    expect(["revoke-user", *native("")], 2, "UID")
    expect(["revoke-user", *native("a\tb")], 2, "UID")
    expect(["revoke-user", *native("u" * 257)], 2, "UID")
    for bad in ("0", "-5", "x", "4294967296"):
        expect(["revoke-user", "--ttl", bad, *native("alice")], 2, "--ttl")
    expect(["revoke-user", *tornado("alice")], 2, "native mode only")
    expect(["revoke-user", "--store", url(), "alice"], 2,
           "needs --secret-file")
    expect(["revoke-user", *native()], 2, "missing argument")
    for opt, bad in (("--idle-timeout", "0"), ("--idle-timeout", "x"),
                     ("--absolute-timeout", "-1"),
                     ("--revocation-check-interval", "4294967296")):
        expect(["revoke-user", opt, bad, *native("alice")], 2, opt)


# ---- errors common to every command -------------------------------------

def args_for(cmd, store):
    base = ["--store", store, "--secret-file", SF]
    sid = new_id().decode()
    return {"show": [cmd, *base, sid], "destroy": [cmd, *base, sid],
            "touch": [cmd, *base, sid, "5"], "stats": [cmd, "--store", store],
            "revoke-user": [cmd, *base, "alice"],
            "sessions": [cmd, *base, "alice"],
            "end-session": [cmd, *base, "alice", "A" * 22]}[cmd]


def test_bad_store_urls_are_usage_errors():
    for cmd in OPS:
        for store, why in (("memory", "memcached://, redis:// or "),
                           ("http://127.0.0.1", "memcached://, redis:// or "),
                           ("redis://127.0.0.1?nope=1", "bad --store URL"),
                           ("memcached://127.0.0.1:99999", "bad --store URL"),
                           ("memcached://", "bad --store URL"),
                           ("memcached://h?nope=1", "bad --store URL")):
            expect(args_for(cmd, store), 2, why)
        # The URL parser's reason quotes what it names; nothing is quoted
        # around it again ('bad port '99999' (1..65535)').
        r = expect(args_for(cmd, "memcached://127.0.0.1:99999"), 2)
        err = r.stderr.decode()
        if "bad --store URL: bad port '99999'" not in err or \
                "'bad port" in err:
            raise Failure("%s: %r" % (cmd, err))
        a = args_for(cmd, url())
        i = a.index("--store")
        expect(a[:i] + a[i + 2:], 2, "--store is required")


def test_store_down_is_exit_3():
    down = "memcached://127.0.0.1:%d?connect_timeout_ms=300" % free_port()
    for cmd in OPS:
        r = expect(args_for(cmd, down), 3)
        if cmd != "stats" and b"store error" not in r.stderr:
            raise Failure("%s: %r" % (cmd, r.stderr))


def test_option_errors():
    sid = new_native({"a": 1})
    for cmd in ("show", "destroy", "touch"):
        extra = ["5"] if cmd == "touch" else []
        expect([cmd, "--store", url(), "--mode", "python", sid, *extra], 2,
               "--mode")
        expect([cmd, "--store", url(), sid, *extra], 2, "needs --secret-file")
        expect([cmd, *native(sid, *extra), "--frob"], 2, "unknown option")
        expect([cmd, *native(sid, *extra, "extra")], 2, "unexpected argument")
        expect([cmd, *native()], 2, "missing argument")
        expect([cmd, "--store", url(), "--mode", "tornado", "--secret-file",
                SF, sid, *extra], 2, "tornado mode takes")
        expect([cmd, *native(sid, *extra), "--cookie-secret-file", CSF], 2,
               "for --mode tornado")
        expect([cmd, "--store", url(), "--secret-file",
                os.path.join(TMP, "missing"), sid, *extra], 3,
               "cannot read secret file")
        expect([cmd, *native(sid, *extra), "--json=1"], 2, "takes no value")
    long_key = secret_file(b"k" * 65, "long_store_key")
    expect(["show", "--store", url(), "--store-key-secret-file", long_key,
            sid], 3, "store_key_secret must be 16..64 bytes")
    short = secret_file(b"short", "short")
    expect(["show", "--store", url(), "--secret-file", short, sid], 3,
           "too short")
    empty = os.path.join(TMP, "empty")
    open(empty, "wb").close()
    expect(["show", "--store", url(), "--mode", "tornado",
            "--session-secret-file", empty, hashlib.sha256(b"y").hexdigest()],
           3, "session secret")


# ---- sessions, end-session ----------------------------------------------

def list_key(uid, secret=SECRET):
    mac = hmac.new(secret, b"mcsession user\0" + uid.encode(), hashlib.sha256)
    return b"mcs:l:" + b64url(mac.digest())


def handle_of(sid, secret=SECRET):
    mac = hmac.new(secret, b"mcsession handle\0" + sid.encode(),
                   hashlib.sha256)
    return b64url(mac.digest()[:16]).decode()


def put_list(uid, entries):
    """A user's session list as src/codec/ulist.c writes it, sealed for
    "mcsession sessions\\0" + uid under its store key."""
    key = list_key(uid)
    plain = json.dumps({"v": 1, "e": entries}, separators=(",", ":"))
    mc_set(key, seal(plain.encode(), b"mcsession sessions\0" + uid.encode(),
                     key), 600, 0x534C)


def entry(sid, created, seen, labels):
    return {"h": handle_of(sid), "k": native_key(sid.encode()).decode(),
            "c": created, "s": seen, "g": "0" * 16, "l": labels}


def test_sessions_and_end_session():
    now = int(time.time())
    one = new_native({"n": 1}, user="sessions-user")
    two = new_native({"n": 2}, user="sessions-user")
    # (a user no other test revokes: revoked sessions are pruned)
    gone = new_id().decode()  # listed, but its record is not there
    put_list("sessions-user", [entry(one, now - 100, now - 10, ["Firefox", "192.0.2.1"]),
                       entry(gone, now - 90, now - 9, ["lost"]),
                       entry(two, now - 80, now - 8, [])])
    r = expect(["sessions", "--json", *native("sessions-user")], 0)
    if r.stderr:
        raise Failure("sessions said %r" % r.stderr)
    doc = json.loads(r.stdout)
    got = [(s["handle"], s["created"], s["last_seen"], s["labels"])
           for s in doc["sessions"]]
    want = [(handle_of(one), now - 100, now - 10, ["Firefox", "192.0.2.1"]),
            (handle_of(two), now - 80, now - 8, [])]
    if doc["user"] != "sessions-user" or got != want:
        raise Failure("sessions --json %r" % doc)
    # The listing wrote the pruned list back, sealed by the library: it
    # holds none of its strings in the clear.
    raw = mc_get(list_key("sessions-user"))
    if b"Firefox" in raw or handle_of(one).encode() in raw or \
            b"mcs:" in raw:
        raise Failure("the list is not sealed")
    text = expect(["sessions", *native("sessions-user")], 0).stdout.decode()
    lines = text.splitlines()
    if len(lines) != 2 or not lines[0].startswith(handle_of(one) + "  ") \
            or not lines[0].endswith("  Firefox | 192.0.2.1"):
        raise Failure("sessions text %r" % text)
    # "--": a handle may start with '-' (or, 1 in 4,096, with "--").
    r = expect(["end-session", *native("--", "sessions-user",
                                       handle_of(one))], 0)
    if r.stdout.decode() != "ended session %s of user sessions-user\n" % \
            handle_of(one):
        raise Failure("end-session text %r" % r.stdout)
    if mc_get(native_key(one.encode())) is not None:
        raise Failure("end-session left the record")
    if mc_get(native_key(two.encode())) is None:
        raise Failure("end-session ended another session")
    doc = json.loads(expect(["sessions", "--json", *native("sessions-user")],
                            0).stdout)
    if [s["handle"] for s in doc["sessions"]] != [handle_of(two)]:
        raise Failure("after end-session %r" % doc)
    doc = json.loads(expect(["end-session", "--json",
                             *native("--", "sessions-user", handle_of(two))],
                            0).stdout)
    if doc != {"user": "sessions-user", "handle": handle_of(two),
               "ended": True}:
        raise Failure("end-session --json %r" % doc)
    expect(["end-session", *native("--", "sessions-user", handle_of(one))],
           1, "no such session in the user's list")
    # A handle that starts with one '-' is taken as the handle without
    # "--" (as pasted from 'sessions'); other unknown "-x" say to use "--".
    expect(["end-session", *native("sessions-user", "-" + "A" * 21)], 1,
           "no such session in the user's list")
    expect(["end-session", *native("sessions-user", "-x")], 2,
           "put '--' before arguments that start with '-'")
    if "no live sessions for user dave" not in expect(
            ["sessions", *native("dave")], 0).stdout.decode():
        raise Failure("empty list text")


def test_sessions_text_shows_no_terminal_controls():
    """A label is what a client sent (a User-Agent): the text output shows
    C1 controls and text-direction controls as '?'; --json has it as is."""
    now = int(time.time())
    sid = new_native({"n": 1}, user="sessions-shown")
    label = "Fire\u202efox\u009b2J \u2066x\u2069 caf\u00e9"
    put_list("sessions-shown", [entry(sid, now - 10, now - 5, [label])])
    text = expect(["sessions", *native("sessions-shown")], 0).stdout.decode()
    if not text.endswith("  Fire?fox?2J ?x? caf\u00e9\n"):
        raise Failure("sessions text %r" % text)
    doc = json.loads(expect(["sessions", "--json",
                             *native("sessions-shown")], 0).stdout)
    if doc["sessions"][0]["labels"] != [label]:
        raise Failure("sessions --json %r" % doc)


def test_sessions_errors():
    expect(["sessions", "--mode", "tornado", *native("sessions-user")], 2,
           "native mode only")
    expect(["sessions", *native("")], 2, "UID must be")
    expect(["sessions", "--idle-timeout", "0", *native("sessions-user")], 2,
           "--idle-timeout")
    expect(["end-session", *native("sessions-user", "short")], 2, "HANDLE must be")
    expect(["end-session", *native("sessions-user")], 2)
    expect(["sessions", "--store", "memcached://127.0.0.1:1",
            "--secret-file", SF, "sessions-user"], 3)


def collect_tests(namespace):
    """The test_* functions of a module's globals, sorted by name."""
    return [(n, f) for n, f in sorted(namespace.items())
            if n.startswith("test_") and callable(f)]


def run_tests(tests, expected=(Failure,)):
    """Runs each test, prints ok/FAIL per test (a traceback for an
    exception that is not one of `expected`); the number that failed."""
    failures = 0
    for name, fn in tests:
        try:
            fn()
            print("ok   %s" % name)
        except Exception as e:  # noqa: BLE001 - report every failure
            failures += 1
            print("FAIL %s: %s" % (name, e))
            if not isinstance(e, expected):
                traceback.print_exc()
    return failures


def main():
    global TOOL, TMP, SF, CSF, SSF
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    TOOL = os.path.abspath(sys.argv[1])
    if not os.access("/usr/bin/memcached", os.X_OK):
        print("memcached not installed: skipped")
        return 77
    start_memcached()
    os.umask(0o077)  # secret files readable by their owner only, as they
    # should be: the tool warns about any other mode (tested on its own)
    tests = collect_tests(globals())
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        SF = secret_file(SECRET, "secret")
        CSF = secret_file(OTHER_SECRET, "cookie_secret")
        SSF = secret_file(SESSION_SECRET, "session_secret")
        failures = run_tests(tests)
    stop_memcached()
    print("%d passed, %d failed" % (len(tests) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
