"""Processes, a cookie-keeping browser, raw memcached access and hostile
pickles for test_tornado_compat.py; standard library plus Debian's
python3-tornado and python3-memcache (run with /usr/bin/python3).

Every process here listens on 127.0.0.1 only and is stopped by its PID.
Hostile pickles are assembled or pickled but NEVER loaded: they are only
scanned with pickletools.genops, which parses without executing.
"""
import email.utils
import http.client
import os
import pickle
import pickletools
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse

from demo_harness import TIMEOUT, Response, free_port

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPE_APP = os.path.join(HERE, "..", "tornado", "recipe_app.py")


class RecipeApp:
    """The Python port of the recipe (tests/tornado/recipe_app.py)."""

    def __init__(self, memcached_ports, cookie_secret_file,
                 session_secret_file):
        self.stderr = tempfile.TemporaryFile()
        self.port = free_port()
        servers = ",".join("127.0.0.1:%d" % p for p in memcached_ports)
        cmd = ["/usr/bin/python3", RECIPE_APP, "--port", str(self.port),
               "--memcached", servers,
               "--cookie-secret-file", cookie_secret_file,
               "--session-secret-file", session_secret_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "recipe app on" not in line:
            self.stop()
            raise AssertionError("recipe app did not start: %r %s"
                                 % (line, self.err()))

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(TIMEOUT)
        self.proc.stdout.close()
        self.stderr.close()


def _expired(attrs):
    """True when a Set-Cookie's attributes delete the cookie."""
    for a in attrs:
        name, _, value = a.strip().partition("=")
        if name.lower() == "max-age" and value.strip().lstrip("-") \
                .isdigit() and int(value) <= 0:
            return True
        if name.lower() == "expires":
            when = email.utils.parsedate_to_datetime(value.strip())
            if when.timestamp() < time.time():
                return True
    return False


class Browser:
    """One user: a cookie jar shared by both apps, as a browser shares
    cookies between ports of one host. Values are kept exactly as sent
    (Tornado's quoted ones included) and sent back as they came."""

    def __init__(self, jar=None):
        self.jar = dict(jar or {})

    def absorb(self, resp):
        for sc in resp.set_cookies():
            pair, *attrs = sc.split(";")
            name, _, value = pair.strip().partition("=")
            if _expired(attrs):
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    def request(self, app, method, path, form=None):
        headers = {}
        if self.jar:
            headers["Cookie"] = "; ".join("%s=%s" % kv
                                          for kv in self.jar.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", app.port,
                                          timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        self.absorb(resp)
        return resp

    def get(self, app, path):
        return self.request(app, "GET", path)

    def login(self, app, name):
        """The login form, as a person fills it in, on either app."""
        r = self.get(app, "/login")
        token = r.xsrf()
        if r.status != 200 or not token:
            raise AssertionError("no login form: %d %s" % (r.status, r.body))
        r = self.request(app, "POST", "/login", {"name": name,
                                                 "_xsrf": token})
        if r.status != 302:
            raise AssertionError("login failed: %d %s" % (r.status, r.body))
        return r


def unquote(value):
    return value[1:-1] if value.startswith('"') and value.endswith('"') \
        else value


def redirects_to_login(resp):
    location = resp.header("Location") or ""
    return resp.status == 302 and \
        urllib.parse.urlparse(location).path == "/login"


# ---- memcached, bypassing both apps ---------------------------------------

def raw_get(port, key):
    """(flags, value bytes) of `key` on one server, or None: the text
    protocol's get, so nothing is unpickled on the way."""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as s:
        s.sendall(b"get " + key.encode() + b"\r\n")
        buf = b""
        while True:
            if buf == b"END\r\n":
                return None
            m = re.match(rb"VALUE \S+ (\d+) (\d+)\r\n", buf)
            if m and len(buf) >= m.end() + int(m.group(2)) + 7:
                return int(m.group(1)), \
                    buf[m.end():m.end() + int(m.group(2))]
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("memcached closed the connection")
            buf += chunk


def opcodes(data):
    """Names of the opcodes in a pickle, parsed without running it."""
    return [op.name for op, _, _ in pickletools.genops(data)]


# Opcodes that build a value; anything else in a record the C side wrote
# would be a bug (and loading it in this test would run it).
DATA_OPCODES = {
    "PROTO", "FRAME", "STOP", "NONE", "NEWTRUE", "NEWFALSE", "BININT",
    "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "SHORT_BINUNICODE",
    "BINUNICODE", "BINUNICODE8", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
    "EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "APPEND", "APPENDS",
    "SETITEM", "SETITEMS", "MARK", "MEMOIZE", "BINPUT", "LONG_BINPUT",
    "BINGET", "LONG_BINGET", "LIST", "DICT", "TUPLE", "TUPLE1", "TUPLE2",
    "TUPLE3",
}


def load_trusted(data):
    """pickle.loads for a record the C side wrote, after checking that it
    holds nothing but data opcodes."""
    bad = set(opcodes(data)) - DATA_OPCODES
    if bad:
        raise AssertionError("C wrote opcodes %s" % sorted(bad))
    return pickle.loads(data)


# ---- Hostile pickles -------------------------------------------------------

def _text(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _in_session(proto, chunk):
    """{"user_name": "victim", "x": <chunk>}: a logged-in session whose
    record holds the opcode where a value goes."""
    return (b"\x80" + bytes([proto]) + b"}(" + _text("user_name") +
            _text("victim") + _text("x") + chunk + b"u.")


# (opcode name, protocol, bytes that use it). Code-running opcodes first,
# then the ones refused because they build types outside the value model.
_CHUNKS = [
    ("GLOBAL", 2, b"cos\nsystem\n"),
    ("STACK_GLOBAL", 4, _text("os") + _text("system") + b"\x93"),
    ("REDUCE", 2, b"N)R"),
    ("BUILD", 2, b"}}b"),
    ("INST", 2, b"(ios\nsystem\n"),
    ("OBJ", 2, b"(No"),
    ("NEWOBJ", 2, b"N)\x81"),
    ("NEWOBJ_EX", 4, b"N)}\x92"),
    ("EXT1", 2, b"\x82\x01"),
    ("EXT2", 2, b"\x83\x01\x00"),
    ("EXT4", 2, b"\x84\x01\x00\x00\x00"),
    ("PERSID", 2, b"P1\n"),
    ("BINPERSID", 2, _text("1") + b"Q"),
    ("NEXT_BUFFER", 5, b"\x97"),
    ("READONLY_BUFFER", 5, b"C\x01x\x98"),
    ("EMPTY_SET", 4, b"\x8f"),
    ("ADDITEMS", 4, b"\x8f(K\x01\x90"),
    ("FROZENSET", 4, b"(K\x01\x91"),
    ("BYTEARRAY8", 5, b"\x96" + struct.pack("<Q", 1) + b"x"),
    ("STRING", 2, b"S'x'\n"),
    ("UNICODE", 2, b"Vx\n"),
]


def hostile_pickles():
    """[(label, bytes)], one per refused opcode; each checked to contain
    its opcode."""
    out = []
    for name, proto, chunk in _CHUNKS:
        data = _in_session(proto, chunk)
        if name not in opcodes(data):
            raise AssertionError("%s pickle lacks its opcode" % name)
        out.append((name, data))
    return out


def os_system_pickles(marker):
    """The real thing: pickle.dumps of a session holding an object whose
    __reduce__ runs os.system('touch MARKER'), protocols 2 to 5."""

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + marker,))

    out = []
    for proto in (2, 3, 4, 5):
        data = pickle.dumps({"user_name": "victim", "x": Payload()},
                            protocol=proto)
        names = opcodes(data)
        if "REDUCE" not in names:
            raise AssertionError("payload lacks REDUCE")
        out.append(("os.system p%d" % proto, data))
    return out
