"""Processes the benchmark starts: each pinned to a CPU, on 127.0.0.1,
remembered by PID and stopped by PID (SIGTERM, then SIGKILL) — also when
the run fails or is interrupted. Nothing else is ever signalled."""
import atexit
import os
import signal
import socket
import subprocess
import sys
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for PID %d" % (field, pid))


def peak_rss_kib(pid):
    """VmHWM (peak resident set) of a live process, in KiB."""
    return _status_kib(pid, "VmHWM")


def rss_kib(pid):
    """VmRSS (resident set now) of a live process, in KiB."""
    return _status_kib(pid, "VmRSS")


def cpu_seconds(pid):
    """CPU time a live process has used so far (user + system, all its
    threads), in seconds: /proc/PID/stat fields 14 and 15."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Procs:
    """The set of processes this run started."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = {}  # pid -> (name, Popen)
        atexit.register(self.stop_all)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        self.stop_all()
        sys.exit(128 + signum)

    def start(self, name, argv, cpu, cwd=None):
        """Starts argv pinned to `cpu` (taskset execs it, so the PID is the
        program's); output goes to <log_dir>/<name>.log."""
        log = open(os.path.join(self.log_dir, name + ".log"), "ab")
        proc = subprocess.Popen(["taskset", "-c", str(cpu)] + list(argv),
                                stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd)
        log.close()
        self.running[proc.pid] = (name, proc)
        return proc

    def run(self, name, argv, cpu, timeout):
        """Runs a bounded command pinned to `cpu` (a CPU list for taskset)
        and returns its stdout; stderr goes to <log_dir>/<name>.log.
        Raises RuntimeError on a non-zero exit or after `timeout` s."""
        log = open(os.path.join(self.log_dir, name + ".log"), "ab")
        proc = subprocess.Popen(["taskset", "-c", str(cpu)] + list(argv),
                                stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL)
        log.close()
        self.running[proc.pid] = (name, proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise RuntimeError("%s did not finish in %.0f s" % (name, timeout))
        del self.running[proc.pid]
        if proc.returncode != 0:
            raise RuntimeError("%s exited with %d (see %s/%s.log)"
                               % (name, proc.returncode, self.log_dir, name))
        return out.decode()

    def wait_port(self, proc, port, timeout=15.0):
        """Waits until something accepts on 127.0.0.1:port; fails if the
        process exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %d before listening (see "
                                   "its log in %s)" % (self.running[
                                       proc.pid][0], proc.returncode,
                                       self.log_dir))
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nothing listens on port %d after %.0f s"
                           % (port, timeout))

    def stop(self, proc, timeout=5.0):
        """SIGTERM, wait, SIGKILL if needed: by PID, only our own child."""
        if proc.pid not in self.running:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        del self.running[proc.pid]

    def stop_all(self):
        for _, proc in list(self.running.values()):
            self.stop(proc)
