#!/usr/bin/python3
"""make bench: mcsession side by side with the Tornado recipe and
express-session, on one memcached, in one run (issue 6); the demo and the
library on Redis beside it (issue 15).

  run.py --demo BUILD/mcsession-demo --bench-lib BENCH_BUILD/bench_lib
         [--gate BUILD/mcsession-gate] [--bench-redis BENCH_BUILD/bench_redis]
         [--module BUILD/ngx_http_mcsession_module.so]
         [--out bench/results/latest.md]
  run.py --edge-only --demo ... --gate ... --module ...
         (only the nginx edge table, issue 14)
  run.py --render bench/results/latest.json   (the table again, no run)
  run.py --demo ... --bench-lib ... --only instructions
         (only the callgrind lines, sealing on and off: a few minutes)

Environment: BENCH_SECONDS (wrk run length, default 10), BENCH_RUNS (runs
per line, default 3), BENCH_LIB_SECONDS (bench_lib run length, default
half of BENCH_SECONDS), BENCH_DEMO_THREADS (skip the 1/2 sweep),
BENCH_GROWTH (session counts for the growth lines, default
10000,1000000).

Everything listens on 127.0.0.1; servers run on CPU 0, wrk and memcached on
CPU 1. Every process started here is stopped by PID, also on failure or
Ctrl-C; every run is bounded.
"""
import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import gate_lines
import http_lines
import instructions
import lib_lines
import module_lines
import redis_lines
import report
from http_lines import Server
from mcstats import Memcached
from procs import Procs, free_port, peak_rss_kib

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
# Event-loop threads: the demo serves with one per CPU it has (one: CPU 0),
# as docs/adapter-mhd.md advises; the sweep also measures 2, to show what a
# second loop on the same CPU costs.
DEMO_THREADS = 1
DEMO_THREAD_CHOICES = (1, 2)
MEMCACHED_MB = 1024


class Ctx:
    """What every part of the run needs."""

    def __init__(self, args, work):
        self.demo = os.path.abspath(args.demo)
        self.bench_lib = (os.path.abspath(args.bench_lib)
                          if args.bench_lib else None)
        self.gate = os.path.abspath(args.gate) if args.gate else None
        self.module = os.path.abspath(args.module) if args.module else None
        bench_redis = getattr(args, "bench_redis", None)
        self.bench_redis = os.path.abspath(bench_redis) if bench_redis \
            else None
        self.work = work
        self.procs = Procs(work)
        self.lua_script = os.path.join(BENCH_DIR, "sessions.lua")
        self.seconds = int(os.environ.get("BENCH_SECONDS", "10"))
        self.runs = int(os.environ.get("BENCH_RUNS", "3"))
        self.lib_seconds = float(os.environ.get(
            "BENCH_LIB_SECONDS", max(1.0, self.seconds / 2)))
        self.mc = None
        self.mc_pid = None
        self.mc_port = None
        self.mc_url = None

    def progress(self, text):
        print("bench: " + text, file=sys.stderr, flush=True)


def secret_file(ctx, name):
    path = os.path.join(ctx.work, name)
    with open(path, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)  # else the servers warn about its mode
    return path


def start_memcached(ctx):
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
            "-m", str(MEMCACHED_MB), "-c", "4096", "-t", "1"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    proc = ctx.procs.start("memcached", argv, http_lines.LOAD_CPU)
    ctx.procs.wait_port(proc, port)
    ctx.mc_pid = proc.pid
    ctx.mc_port = port
    ctx.mc_url = "memcached://127.0.0.1:%d" % port
    ctx.mc = Memcached(port)
    return proc


# --------------------------------------------------------------------------
# The three servers
# --------------------------------------------------------------------------

def demo_server(ctx, secret, threads, name="demo"):
    return Server(name, lambda port: [
        ctx.demo, "--listen", "127.0.0.1:%d" % port, "--store", ctx.mc_url,
        "--secret-file", secret, "--threads", str(threads)],
        ["/", "/count", "/ping"], cas_metric="mcsession_cas_retries_total")


def tornado_server(ctx):
    cookie_secret = secret_file(ctx, "tornado-cookie.secret")
    session_secret = secret_file(ctx, "tornado-session.secret")
    return Server("tornado", lambda port: [
        "/usr/bin/python3", os.path.join(ROOT, "tests/tornado/recipe_app.py"),
        "--port", str(port), "--memcached", "127.0.0.1:%d" % ctx.mc_port,
        "--cookie-secret-file", cookie_secret,
        "--session-secret-file", session_secret],
        ["/", "/count"])  # the recipe has no session-free route


def node_server(ctx):
    secret = secret_file(ctx, "node.secret")
    return Server("node", lambda port: [
        "node", os.path.join(BENCH_DIR, "node/app.js"), "--port", str(port),
        "--memcached", "127.0.0.1:%d" % ctx.mc_port, "--secret-file", secret],
        ["/", "/count", "/ping"])


# --------------------------------------------------------------------------
# The parts of the run
# --------------------------------------------------------------------------

def threads_sweep(ctx, secret):
    """GET / on the demo with 1 and 2 event-loop threads (one run each),
    for the table; every other demo line uses DEMO_THREADS. (It used to
    keep the faster, but one 10 s run apiece cannot tell them apart on
    this machine, and a noisy pick put two loops on one CPU.)"""
    fixed = os.environ.get("BENCH_DEMO_THREADS")
    if fixed:
        return [], int(fixed), None
    sweep, cookies = [], None
    for threads in DEMO_THREAD_CHOICES:
        lines, cookies = http_lines.server_lines(
            ctx, demo_server(ctx, secret, threads, "demo-t%d" % threads),
            cookie_file=cookies, routes=["/"], runs=1)
        sweep.append((threads, lines[0]["rps"], lines[0]["p99_us"],
                      lines[0]["cpu_us"]))
    ctx.progress("demo threads: %s" % (sweep,))
    return sweep, DEMO_THREADS, cookies


def http_part(ctx, secret, threads, cookies):
    lines = []
    demo, _ = http_lines.server_lines(ctx, demo_server(ctx, secret, threads),
                                      cookie_file=cookies)
    lines += demo
    for server in (tornado_server(ctx), node_server(ctx)):
        peer, _ = http_lines.server_lines(ctx, server)
        lines += peer
    return lines


def growth_part(ctx, secret, threads):
    """GET / on the demo with N valid sessions present in memcached."""
    counts = [int(n) for n in os.environ.get(
        "BENCH_GROWTH", "10000,1000000").split(",")]
    ctx.mc.flush_all()
    time.sleep(1.1)  # flush_all covers items stored within its second
    server = demo_server(ctx, secret, threads, "demo-growth")
    proc, port = http_lines.start(ctx, server)
    lines, present = [], 0
    try:
        cookies = http_lines.logins(ctx, "demo-growth", port)
        present = http_lines.CONNECTIONS * http_lines.SESSIONS_PER_CONNECTION
        for n in counts:
            lib_lines.fill(ctx, secret, n - present)
            present = n
            items = ctx.mc.stats()["curr_items"]
            # /ping in the same rounds: GET / ÷ /ping cancels out how fast
            # this shared machine happens to be while each size is measured
            line, ping = http_lines.route_lines(ctx, server, proc, port,
                                                ["/", "/ping"], cookies,
                                                ctx.runs, ctx.seconds)
            line.update(sessions=n, items=items, ping_rps=ping["rps"],
                        ping_cpu_us=ping["cpu_us"])
            lines.append(line)
            ctx.progress("growth %8d sessions %8.0f req/s  %.1f + %.1f us "
                         "CPU/req" % (n, line["rps"], line["cpu_us"],
                                      line["mc_cpu_us"]))
        for line in lines:
            line["rss_kib"] = peak_rss_kib(proc.pid)
    finally:
        ctx.procs.stop(proc)
    return lines


def gate_part(ctx, secret):
    """Issue 14's edge table, line (c): nginx auth_request to
    mcsession-gate (bench/gate_lines.py); [] without --gate or nginx."""
    if not ctx.gate or not shutil.which("nginx"):
        ctx.progress("edge (c) skipped: no --gate or no nginx")
        return []
    return gate_lines.gate_lines(
        ctx, ctx.gate, lambda port: demo_server(ctx, secret, 1)
        .argv_for_port(port), secret)


def module_part(ctx, secret):
    """Issue 14's edge table, lines (a) ungated and (b) gated by the nginx
    module (bench/module_lines.py); [] without --module or nginx."""
    if not ctx.module or not shutil.which("nginx"):
        ctx.progress("edge (a), (b) skipped: no --module or no nginx")
        return []
    return module_lines.module_lines(
        ctx, ctx.module, lambda port: demo_server(ctx, secret, 1)
        .argv_for_port(port), secret)


def recipe_part(ctx):
    """Issue 14's edge table, line (d): nginx auth_request to the Tornado
    recipe app; [] without nginx."""
    if not shutil.which("nginx"):
        return []
    return gate_lines.recipe_line(ctx, tornado_server(ctx))


def edge_part(ctx, secret):
    return module_part(ctx, secret) + gate_part(ctx, secret) + \
        recipe_part(ctx)


def versions():
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True,
                                 timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    tornado = first_line(["/usr/bin/python3", "-c",
                          "import tornado; print(tornado.version)"])
    pkgs = {}
    for name in ("express", "express-session", "connect-memcached"):
        path = os.path.join(BENCH_DIR, "node/node_modules", name,
                            "package.json")
        try:
            with open(path) as f:
                pkgs[name] = json.load(f)["version"]
        except OSError:
            pkgs[name] = "?"
    return dict(memcached=first_line(["memcached", "-V"]),
                wrk=first_line(["wrk", "-v"]).split(" [")[0],
                node=first_line(["node", "--version"]), tornado=tornado,
                **pkgs)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--demo")
    p.add_argument("--bench-lib")
    p.add_argument("--gate", help="build/mcsession-gate: the edge table's "
                   "line (c), nginx auth_request to the gate (issue 14)")
    p.add_argument("--module", help="build/ngx_http_mcsession_module.so: "
                   "the edge table's lines (a) and (b), nginx ungated and "
                   "gated by the module (issue 14)")
    p.add_argument("--edge-only", action="store_true",
                   help="run only the edge table (with --gate, --module)")
    p.add_argument("--bench-redis", help="BENCH_BUILD/bench_redis: the Redis "
                   "lines (issue 15, bench/redis_lines.py)")
    p.add_argument("--out", default=os.path.join(BENCH_DIR,
                                                 "results/latest.md"))
    p.add_argument("--only", choices=("instructions", "growth"),
                   help="run only this part (its table is printed, "
                        "bench/results/ is left alone)")
    p.add_argument("--render", metavar="JSON",
                   help="only print the table of a run's saved results "
                        "(the .json written next to --out)")
    args = p.parse_args()
    if not args.render and not args.demo:
        p.error("--demo is required (or --render)")
    if not args.render and not args.edge_only and not args.bench_lib:
        p.error("--bench-lib is required (or --render, or --edge-only)")
    return args


def write_results(results, out):
    """The table to `out`, and the raw results beside it (.json), so the
    table can be drawn again (--render) without running again."""
    text = report.render(results)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(results, f, indent=1)
    print(text)
    print("(written to %s)" % os.path.relpath(out, os.getcwd()))


def main():
    args = parse_args()
    if args.render:
        with open(args.render) as f:
            print(report.render(json.load(f)))
        return 0
    work = tempfile.mkdtemp(prefix="mcsession-bench-")
    ctx = Ctx(args, work)
    ok = False
    try:
        start_memcached(ctx)
        if args.only == "instructions":
            part = dict(instructions=instructions.instruction_lines(
                ctx, secret_file(ctx, "demo.secret")))
            print("\n".join(report.instructions_section(part)))
            ok = True
            return 0
        if args.only == "growth":
            part = dict(growth=growth_part(
                ctx, secret_file(ctx, "demo.secret"), 1))
            print("\n".join(report.growth_section(part)))
            ok = True
            return 0
        results = dict(config=dict(seconds=ctx.seconds, runs=ctx.runs,
                                   lib_seconds=ctx.lib_seconds),
                       versions=versions(), machine=report.machine(),
                       load_before=os.getloadavg())
        if args.edge_only:
            results["edge"] = edge_part(ctx, secret_file(ctx, "demo.secret"))
            print("\n".join(report.edge_section(results)))
            ok = True
            return 0
        results["lib"] = lib_lines.library_lines(ctx)
        results["memory"] = lib_lines.memory_lines(ctx)
        demo_secret = secret_file(ctx, "demo.secret")
        ctx.mc.flush_all()
        results["sweep"], threads, cookies = threads_sweep(ctx, demo_secret)
        results["threads"] = threads
        results["http"] = http_part(ctx, demo_secret, threads, cookies)
        results["edge"] = results.get("edge", []) + edge_part(ctx,
                                                              demo_secret)
        results["redis"] = redis_lines.redis_part(ctx, demo_secret)
        results["instructions"] = instructions.instruction_lines(
            ctx, demo_secret)
        results["growth"] = growth_part(ctx, demo_secret, threads)
        results["load_after"] = os.getloadavg()
        write_results(results, args.out)
        ok = True
    finally:
        ctx.procs.stop_all()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("bench: failed; logs kept in " + work, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
