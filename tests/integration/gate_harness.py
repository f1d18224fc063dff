"""Processes for the gate's tests (test_gate_http.py, test_gate_nginx.py),
standard library only: mcsession-gate itself, Debian's nginx under a
temporary prefix, memcached's `stats`, and the mcsession tool. Everything
listens on 127.0.0.1 (port 0 or a free port) and is stopped by its PID.
Set GATE (and TOOL) first."""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile

from demo_harness import (TIMEOUT, Response, free_port,  # noqa: F401
                          mc_commands, mc_stats, raw_status, wait_listening)

GATE = None  # path of build/mcsession-gate; the tests' main() sets it
TOOL = None  # path of build/mcsession (the tool)


def _stop_proc(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(TIMEOUT)


class Gate:
    """One mcsession-gate process on 127.0.0.1 port 0."""

    def __init__(self, *args):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [GATE, "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=self.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        self.line = self.proc.stdout.readline().decode() if ready else ""
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", self.line)
        if not m:
            err = self.err()
            _stop_proc(self.proc, signal.SIGKILL)
            raise AssertionError("gate did not start: %r; stderr: %s"
                                 % (self.line, err))
        self.port = int(m.group(1))

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID; fails on an unclean exit or a sanitizer
        report."""
        _stop_proc(self.proc)
        err = self.err()
        self.proc.stdout.close()
        self.stderr.close()
        if self.proc.returncode != 0 or "Sanitizer" in err \
                or "runtime error:" in err:
            raise AssertionError("gate exited %d: %s"
                                 % (self.proc.returncode, err))


def run_gate(*args):
    """Runs the gate to completion (bad flags, --help): (rc, out, err)."""
    p = subprocess.run([GATE, *args], capture_output=True, text=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def http(port, method="GET", path="/", headers=None, body=None, sock=None):
    """One request; the Response. On `sock` (kept alive) when given."""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    data = body.encode() if isinstance(body, str) else (body or b"")
    if data:
        head += "Content-Length: %d\r\n" % len(data)
    raw = head.encode("latin-1") + b"\r\n" + data
    own = sock is None
    s = sock or socket.create_connection(("127.0.0.1", port), TIMEOUT)
    try:
        s.sendall(raw)
        return read_response(s, method == "HEAD")
    finally:
        if own:
            s.close()


def read_response(s, head_only=False):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed: %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
    length = next((int(v) for k, v in headers
                   if k.lower() == "content-length"), 0)
    if head_only:
        length = 0
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Response(status, headers, rest[:length])


def tool(*args, stdin=None):
    """The mcsession tool: (rc, stdout)."""
    p = subprocess.run([TOOL, *args], capture_output=True, text=True,
                       input=stdin, timeout=TIMEOUT)
    return p.returncode, p.stdout


NGINX_TEMPLATE = """
{main}
worker_processes {workers};
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type text/plain;
{body}
}}
"""


def nginx_binary():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def write_nginx_conf(directory, http_body, port, main="", workers=1):
    """nginx.conf in `directory`: the http{} contents given ({port}
    replaced), `main` at the top of the main context (load_module)."""
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_TEMPLATE.format(
            dir=directory, main=main, workers=workers,
            body=http_body.replace("{port}", str(port))))
    return conf


def nginx_test(http_body, main=""):
    """`nginx -t` on a generated configuration: (rc, its messages)."""
    d = tempfile.mkdtemp(prefix="mcs-nginx-t-")
    try:
        conf = write_nginx_conf(d, http_body, free_port(), main)
        p = subprocess.run([nginx_binary(), "-t", "-p", d, "-c", conf],
                           capture_output=True, text=True, timeout=TIMEOUT)
        return p.returncode, p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Nginx:
    """Debian's nginx under a temporary prefix, in the foreground
    (-g 'daemon off;'), with the http{} contents given; stopped by its
    PID. `main` goes at the top of the main context (load_module),
    `workers` is worker_processes."""

    def __init__(self, http_body, main="", workers=1):
        # A port found free can be taken before nginx binds it: then
        # nginx exits ("Address already in use") and we try another.
        for _ in range(5):
            if self._start(http_body, main, workers):
                return
        raise AssertionError("nginx did not start: no free port in 5 tries")

    def _start(self, http_body, main, workers):
        """True when nginx runs on self.port; False when the port was
        taken; raises on any other failure."""
        self.dir = tempfile.mkdtemp(prefix="mcs-nginx-")
        # Run as root, nginx's workers run as nobody: they must reach the
        # prefix (the temporary files, the bench's static file).
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        conf = write_nginx_conf(self.dir, http_body, self.port, main,
                                workers)
        self.conf = conf
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", self.dir, "-c", conf, "-g",
             "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # nginx's master holds the listening socket.
        if wait_listening(self.proc, self.port):
            return True
        err = self.error_log()
        self.stop()
        if "Address already in use" in err:
            return False
        raise AssertionError("nginx did not start: %s" % err)

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        _stop_proc(self.proc, signal.SIGQUIT)  # graceful, by PID
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
