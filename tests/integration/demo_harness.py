"""Processes and HTTP for test_demo_http.py, standard library only: one
demo server process (started on 127.0.0.1 port 0, stopped by its PID), its
responses, and a private memcached. Set DEMO to the server binary first."""
import base64
import http.client
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

DEMO = None  # path of the server binary; test_demo_http.main() sets it
TIMEOUT = 10  # seconds, for every request and every wait



def raw_status(port, data):
    """Sends raw bytes to 127.0.0.1:port; the status code of the answer (0
    if the connection closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        try:
            while b"\r\n" not in buf and (chunk := s.recv(4096)):
                buf += chunk
        except ConnectionResetError:
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", buf)
    return int(m.group(1)) if m else 0

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body.decode("utf-8", "replace")

    def header(self, name):
        return next((v for k, v in self.headers
                     if k.lower() == name.lower()), None)

    def set_cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def cookie(self):
        """The session cookie's value from Set-Cookie, or None."""
        for sc in self.set_cookies():
            name, _, rest = sc.partition("=")
            if name == "session":
                return rest.split(";")[0]
        return None

    def xsrf(self):
        m = re.search(r'name="_xsrf" value="([^"]+)"', self.body)
        return m.group(1) if m else None


class Demo:
    """One demo server process."""

    def __init__(self, *args, secret_file=None):
        self.stderr = tempfile.TemporaryFile()
        cmd = [DEMO, "--listen", "127.0.0.1:0", *args]
        if secret_file:
            cmd += ["--secret-file", secret_file]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline().decode() if ready else ""
        self.line = line  # the start-up line: URL, store, threads, limits
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            err = self.err()
            self.proc.kill()
            self.proc.wait(TIMEOUT)
            raise AssertionError("no URL: %r; stderr: %s" % (line, err))
        self.port = int(m.group(1))

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self):
        """Stops the demo by its PID; fails on an unclean exit or a
        sanitizer report (when the demo was built with sanitizers)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(TIMEOUT)
        err = self.err()
        self.proc.stdout.close()
        self.stderr.close()
        if self.proc.returncode != 0 or "Sanitizer" in err \
                or "runtime error:" in err:
            raise AssertionError("demo exited %d: %s"
                                 % (self.proc.returncode, err))

    def request(self, method, path, body=None, cookie=None, headers=None,
                conn=None):
        hdrs = dict(headers or {})
        if cookie is not None:
            hdrs["Cookie"] = "session=" + cookie
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            hdrs.setdefault("Content-Type",
                            "application/x-www-form-urlencoded")
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                                  timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            if own:
                conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def raw(self, data):
        """Sends raw bytes; returns the status code of the answer (0 if
        the connection closed without one)."""
        return raw_status(self.port, data)

    def login(self, name, user_agent=None):
        """Logs in through the form (sending `user_agent` as the
        User-Agent when given); returns (cookie before, cookie after)."""
        hdrs = {"User-Agent": user_agent} if user_agent is not None else {}
        r = self.get("/login", headers=hdrs)
        before, token = r.cookie(), r.xsrf()
        r = self.post("/login", {"name": name, "_xsrf": token},
                      cookie=before, headers=hdrs)
        if r.status != 302:
            raise AssertionError("login failed: %d %s" % (r.status, r.body))
        return before, r.cookie()

    def metrics(self):
        r = self.get("/metrics")
        out = {}
        for line in r.body.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


SESSION_ROW = re.compile(r'<li class="session" data-handle="([^"]+)"'
                         r'( aria-current="true")?>')


def session_rows(body):
    """The rows of the "Your sessions" page: [(handle, this device?)]."""
    return [(h, bool(here)) for h, here in SESSION_ROW.findall(body)]


# Every command a session store sends counts once (as bench/mcstats.py
# counts them): meta and classic gets, every storage command, touch,
# delete, incr/decr.
COMMAND_STATS = ("cmd_get", "cmd_set", "cmd_touch", "cmd_flush",
                 "delete_hits", "delete_misses", "incr_hits", "incr_misses",
                 "decr_hits", "decr_misses")


def mc_stats(port):
    """memcached's `stats` as a dict of ints (on a connection of its
    own)."""
    with socket.create_connection(("127.0.0.1", port), TIMEOUT) as s:
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("memcached closed the connection")
            buf += chunk
    out = {}
    for line in buf.decode().split("\r\n"):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
            out[parts[1]] = int(parts[2])
    return out


def mc_commands(before, after):
    """The commands memcached served between two mc_stats."""
    return sum(after.get(k, 0) - before.get(k, 0) for k in COMMAND_STATS)


def session_id(cookie):
    """The id inside a signed value 2|len:kv|len:ts|len:name|len:b64|sig."""
    fields = cookie.split("|")
    return base64.b64decode(fields[4].split(":", 1)[1])


def count_in(body):
    m = re.search(r'id="count">(-?\d+)<', body)
    return int(m.group(1)) if m else None


def write_secret(directory, text, mode=0o600):
    """A secret file, by default readable by its owner only (the demo
    warns about any other mode)."""
    path = os.path.join(directory, "secret")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listens(pid, port):
    """Whether process `pid` holds a socket listening on TCP `port`
    (/proc/net/tcp and tcp6 give the socket's inode, /proc/PID/fd its
    holder)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            field = row.split()
            # local address "ADDR:PORT" in hex; state 0A is LISTEN
            if len(field) > 9 and field[3] == "0A" and \
                    int(field[1].rsplit(":", 1)[1], 16) == port:
                inodes.add("socket:[%s]" % field[9])
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                return True
        except OSError:
            continue
    return False


def wait_listening(proc, port):
    """Whether `proc` (a Popen) comes to listen on 127.0.0.1:`port` within
    TIMEOUT: False once it has exited. A connect that is answered is not
    enough: another test's server may hold a port that free_port found
    free, while this one fails to bind and exits."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            if listens(proc.pid, port):
                return True
        except OSError:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def freeze(pid):
    """SIGSTOP to process `pid`, returning once every one of its threads
    has stopped (bounded). kill() only wakes one thread to take the
    signal; until that thread runs, the others (memcached's workers) go on
    answering, which a loaded machine can stretch to many milliseconds."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
            states = []
            for tid in tids:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            states = []
        if states and all(st in ("T", "t") for st in states):
            return
        time.sleep(0.005)
    raise AssertionError("process %d did not stop" % pid)


class Server:
    """A private store server listening on 127.0.0.1:port (a subclass
    gives its argv), started at once and stopped by its PID."""

    name = "server"

    def __init__(self, port):
        self.port = port
        self.proc = subprocess.Popen(self.argv(port),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_listening(self.proc, port):
            self.kill()
            raise AssertionError("%s did not start on port %d"
                                 % (self.name, port))

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(TIMEOUT)


class Redis(Server):
    """A private redis-server (no persistence)."""

    name = "redis-server"

    def argv(self, port):
        return [shutil.which("redis-server"), "--port", str(port), "--bind",
                "127.0.0.1", "--save", "", "--appendonly", "no"]


class Memcached(Server):
    """memcached on `listen` (always including 127.0.0.1, where its
    readiness is checked; "127.0.0.1,::1" adds IPv6's loopback)."""

    name = "memcached"

    def __init__(self, port, listen="127.0.0.1"):
        self.listen = listen
        super().__init__(port)

    def argv(self, port):
        cmd = [shutil.which("memcached"), "-l", self.listen, "-p", str(port),
               "-U", "0", "-m", "16", "-t", "2"]
        if os.geteuid() == 0:
            cmd += ["-u", "root"]
        return cmd


def start_server(cls, *args):
    """A `cls` (a Server) on a free port, tried on up to five: a port found
    free can be taken before the server binds it."""
    for _ in range(5):
        try:
            return cls(free_port(), *args)
        except AssertionError:
            continue
    raise AssertionError("no %s" % cls.name)


def start_memcached(listen="127.0.0.1"):
    """A Memcached on a free port (start_server), on `listen`."""
    return start_server(Memcached, listen)