#!/usr/bin/python3
"""The Redis lines of make bench (issue 15): the demo's read and write
routes on Redis beside memcached (same wrk method, bench/http_lines.py)
and express-session with connect-redis as the peer,
the library ÷ a bare GETEX round trip, and the client choice: hiredis
(Debian's 0.14.1) against the store's own RESP2 client, GETEX ops/s with
one and two threads, pipelined and not (bench_redis).

Inside make bench, run.py calls redis_part(ctx, secret). Alone, while
working on the Redis store:

  bench/redis_lines.py --demo BUILD/mcsession-demo \\
      --bench-lib BENCH/bench_lib --bench-redis BENCH/bench_redis

prints the lines as JSON and the report's Redis section (BENCH_SECONDS,
BENCH_RUNS as for run.py). With --cluster instead of --bench-lib and
--bench-redis: only the demo's routes on a three-master Redis Cluster
(redis+cluster://), as JSON. redis-server runs on CPU 1 (as memcached), the
clients and the demo on CPU 0; everything is stopped by PID.
"""
import copy
import os
import shutil
import socket
import statistics
import sys
import time

import http_lines
import lib_lines
from procs import free_port

INFLIGHT = lib_lines.INFLIGHT
# (label, program, args) of the client lines, in the order they run in
# each round (rounds interleave them, so ratios compare runs moments apart).
CLIENT_LINES = (
    ("hiredis", "redis", ["hiredis", "--threads", "1", "--depth", "1"]),
    ("mcsession", "redis", ["mcs", "--threads", "1"]),
    ("hiredis", "redis", ["hiredis", "--threads", "2", "--depth", "1"]),
    ("mcsession", "redis", ["mcs", "--threads", "2"]),
    ("hiredis", "redis", ["hiredis", "--threads", "1", "--depth",
                          str(INFLIGHT)]),
    ("hiredis", "redis", ["hiredis", "--threads", "2", "--depth",
                          str(INFLIGHT)]),
)
# (mode, threads, inflight) of the library lines (bench_lib cycles).
LIB_LINES = (("read", 1, 0), ("write", 1, 0), ("read", 2, 0),
             ("read", 1, INFLIGHT), ("write", 1, INFLIGHT))


class RedisInfo:
    """INFO on one connection kept open, shaped as mcstats.Memcached's
    stats(), so that http_lines measures Redis as it measures memcached:
    the commands the clients sent, by kind (INFO commandstats), as
    memcached's counters (cmd_get: GETEX and GET; cmd_set: EVALSHA, EVAL
    and SET; cmd_touch: EXPIRE; delete_hits: DEL), and total_connections.
    The CAS script's own GETRANGE and SET run inside the server, which
    counts them too: GETRANGE is left out, and one SET per GETRANGE (a
    script run that found its token; a conflict, which writes nothing,
    shows as a CAS replay)."""

    KINDS = {"cmd_get": ("getex", "get"), "cmd_set": ("evalsha", "eval"),
             "cmd_touch": ("expire",), "delete_hits": ("del",)}

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")

    def command(self, *words):
        """A command whose reply is a bulk string: its lines."""
        req = b"*%d\r\n" % len(words)
        for word in words:
            req += b"$%d\r\n%s\r\n" % (len(word), word.encode())
        self.sock.sendall(req)
        n = int(self.f.readline()[1:])
        return self.f.read(n + 2).decode().split("\r\n")

    def info(self, section):
        return self.command("INFO", section)

    def stats(self):
        figures = {}
        for line in self.info("stats"):
            name, _, value = line.partition(":")
            if name == "total_connections_received":
                figures["total_connections"] = int(value)
        calls = {}
        for line in self.info("commandstats"):
            name, _, value = line.partition(":")
            if name.startswith("cmdstat_"):
                calls[name[8:]] = int(value.split(",")[0].split("=")[1])
        for key, names in self.KINDS.items():
            figures[key] = sum(calls.get(n, 0) for n in names)
        figures["cmd_set"] += max(0, calls.get("set", 0) -
                                  calls.get("getrange", 0))
        return figures

    def close(self):
        self.f.close()
        self.sock.close()


def start_redis(ctx):
    port = free_port()
    proc = ctx.procs.start("redis", [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", ctx.work],
        http_lines.LOAD_CPU)
    ctx.procs.wait_port(proc, port)
    return proc, port


def run_pairs(ctx, program, args, url):
    exe = ctx.bench_redis if program == "redis" else ctx.bench_lib
    out = ctx.procs.run("bench_redis", [exe] + args + [
        "--store", url, "--seconds", str(ctx.lib_seconds)], "0",
        timeout=ctx.lib_seconds + 60)
    return lib_lines.parse_pairs(out)


def client_and_lib_lines(ctx, url):
    """ctx.runs rounds of every client and library line; medians."""
    jobs = [(label, "redis", args) for label, _, args in CLIENT_LINES]
    for mode, threads, inflight in LIB_LINES:
        args = ["cycles", "--mode", mode, "--threads", str(threads)]
        if inflight:
            args += ["--inflight", str(inflight)]
        jobs.append(("library", "lib", args))
    runs = [[] for _ in jobs]
    for _ in range(ctx.runs):
        for i, (_, program, args) in enumerate(jobs):
            runs[i].append(run_pairs(ctx, program, args, url))
    lines = []
    for (label, _, args), rs in zip(jobs, runs):
        rate = "ops_per_s" if label != "library" else "cycles_per_s"
        opt = dict(zip(args[1::2], args[2::2]))
        line = dict(client=label, mode=opt.get("--mode", "read"),
                    threads=int(opt.get("--threads", 1)),
                    depth=int(opt.get("--depth", opt.get("--inflight", 1))),
                    rate=statistics.median(r[rate] for r in rs),
                    runs=[round(r[rate]) for r in rs],
                    failures=sum(r["failures"] for r in rs),
                    cmds=rs[-1].get("store_ops_per_cycle"))
        lines.append(line)
        ctx.progress("redis %-9s %-5s %dT depth %-3d %9.0f /s" % (
            label, line["mode"], line["threads"], line["depth"],
            line["rate"]))
    return lines


def http_part(ctx, secret, url, pid, port):
    """The demo on Redis, its / (read) and /count (write) routes, measured
    as the memcached lines are (cmds/req from INFO), and express-session
    with connect-redis beside it when Node.js is there."""
    rctx = copy.copy(ctx)
    rctx.mc = RedisInfo(port)
    rctx.mc_pid = pid
    servers = [http_lines.Server("demo-redis", lambda p: [
        ctx.demo, "--listen", "127.0.0.1:%d" % p, "--store", url,
        "--secret-file", secret, "--threads", "1"],
        ["/", "/count", "/ping"], cas_metric="mcsession_cas_retries_total")]
    app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
    if shutil.which("node") and os.path.isdir(os.path.join(
            app, "node_modules", "connect-redis")):
        servers.append(http_lines.Server("node-redis", lambda p: [
            "node", os.path.join(app, "app.js"), "--port", str(p),
            "--redis", "127.0.0.1:%d" % port, "--secret-file", secret],
            ["/", "/count", "/ping"]))
    lines = []
    try:
        for server in servers:
            lines += http_lines.server_lines(rctx, server)[0]
    finally:
        rctx.mc.close()
    return lines


class ClusterInfo:
    """RedisInfo summed over a cluster's masters (the commands the demo
    sent, wherever its slot map routed them)."""

    def __init__(self, ports):
        self.parts = [RedisInfo(port) for port in ports]

    def stats(self):
        total = {}
        for part in self.parts:
            for key, value in part.stats().items():
                total[key] = total.get(key, 0) + value
        return total

    def close(self):
        for part in self.parts:
            part.close()


def cluster_port():
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                pass
    raise RuntimeError("no free port pair for a cluster node")


def start_cluster(ctx, masters=3):
    """`masters` cluster nodes (no replicas) on the load CPU, joined with
    redis-cli --cluster create; their processes and ports."""
    procs, ports = [], []
    for i in range(masters):
        port = cluster_port()
        home = os.path.join(ctx.work, "cluster-%d" % i)
        os.makedirs(home, exist_ok=True)
        proc = ctx.procs.start("redis-cluster-%d" % i, [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", home,
            "--cluster-enabled", "yes"], http_lines.LOAD_CPU)
        ctx.procs.wait_port(proc, port)
        procs.append(proc)
        ports.append(port)
    ctx.procs.run("redis-cli", ["redis-cli", "--cluster", "create"] +
                  ["127.0.0.1:%d" % p for p in ports] + ["--cluster-yes"],
                  http_lines.LOAD_CPU, timeout=60)
    for port in ports:
        info = RedisInfo(port)
        try:
            for _ in range(200):
                if "cluster_state:ok" in info.command("CLUSTER", "INFO"):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("cluster not ok on port %d" % port)
        finally:
            info.close()
    return procs, ports


def cluster_part(ctx, secret):
    """The demo's routes on a three-master Redis Cluster (its event-loop
    threads: one here), commands per request summed over the masters."""
    procs, ports = start_cluster(ctx)
    url = ("redis+cluster://" + ",".join("127.0.0.1:%d" % p for p in ports)
           + "?io_timeout_ms=2000&connect_timeout_ms=2000")
    rctx = copy.copy(ctx)
    rctx.mc = ClusterInfo(ports)
    rctx.mc_pid = procs[0].pid  # mc_cpu_us: the first master's alone
    server = http_lines.Server("demo-cluster", lambda p: [
        ctx.demo, "--listen", "127.0.0.1:%d" % p, "--store", url,
        "--secret-file", secret, "--threads", "1"],
        ["/", "/count", "/ping"], cas_metric="mcsession_cas_retries_total")
    try:
        return http_lines.server_lines(rctx, server)[0]
    finally:
        rctx.mc.close()
        for proc in procs:
            ctx.procs.stop(proc)


def redis_part(ctx, secret):
    """Every Redis line; None when redis-server or bench_redis is missing."""
    exe = getattr(ctx, "bench_redis", None)
    if not shutil.which("redis-server") or not exe or not os.path.exists(exe):
        ctx.progress("redis lines skipped: no redis-server or bench_redis")
        return None
    proc, port = start_redis(ctx)
    # Timeouts well above a round trip: this machine is shared, and a
    # store timeout would end the run (hiredis here has none).
    url = "redis://127.0.0.1:%d?io_timeout_ms=2000&connect_timeout_ms=2000" \
        % port
    try:
        return dict(clients=client_and_lib_lines(ctx, url),
                    http=http_part(ctx, secret, url, proc.pid, port))
    finally:
        ctx.procs.stop(proc)


def main():
    import argparse
    import json
    import tempfile

    import report
    import run
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--demo", required=True)
    p.add_argument("--bench-lib")
    p.add_argument("--bench-redis")
    p.add_argument("--cluster", action="store_true",
                   help="only the demo's routes on a three-master cluster")
    args = p.parse_args()
    if not args.cluster and not (args.bench_lib and args.bench_redis):
        p.error("--bench-lib and --bench-redis are needed (or --cluster)")
    work = tempfile.mkdtemp(prefix="mcsession-bench-redis-")
    ctx = run.Ctx(argparse.Namespace(demo=args.demo, bench_lib=args.bench_lib,
                                     gate=None, module=None), work)
    try:
        secret = run.secret_file(ctx, "demo.secret")
        if args.cluster:
            print(json.dumps(cluster_part(ctx, secret), indent=1))
        else:
            ctx.bench_redis = os.path.abspath(args.bench_redis)
            r = redis_part(ctx, secret)
            print(json.dumps(r, indent=1))
            print("\n".join(report.redis_section(
                dict(redis=r, config=dict(seconds=ctx.seconds, runs=ctx.runs,
                                          lib_seconds=ctx.lib_seconds)))))
    finally:
        ctx.procs.stop_all()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
