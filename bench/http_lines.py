"""The HTTP lines: a server under wrk, one route at a time, with memcached's
stats read around every run."""
import http.client
import json
import os
import re
import statistics

import login
import mcstats
from procs import cpu_seconds, free_port, peak_rss_kib

SERVER_CPU = 0
LOAD_CPU = 1          # wrk (and memcached)
CONNECTIONS = 32
SESSIONS_PER_CONNECTION = 8   # see sessions.lua: why more than one
WARMUP_SECONDS = 1


class Server:
    """One server program: how to start it and which routes it has."""

    def __init__(self, name, argv_for_port, routes, cas_metric=None):
        self.name = name
        self.argv_for_port = argv_for_port
        self.routes = routes
        self.cas_metric = cas_metric  # a counter of CAS replays at /metrics


def start(ctx, server):
    port = free_port()
    proc = ctx.procs.start(server.name, server.argv_for_port(port),
                           SERVER_CPU)
    ctx.procs.wait_port(proc, port)
    return proc, port


def write_cookies(ctx, name, headers):
    path = os.path.join(ctx.work, name + ".cookies")
    with open(path, "w") as f:
        f.write("\n".join(headers) + "\n")
    return path


def logins(ctx, server_name, port):
    """The logged-in users' Cookie headers, in a file for wrk."""
    headers = login.login_many(port, CONNECTIONS * SESSIONS_PER_CONNECTION,
                               "bench")
    return write_cookies(ctx, server_name, headers)


def metric(port, name):
    """A counter from the server's Prometheus-style /metrics page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    match = re.search(r"^%s (\d+)" % re.escape(name), text, re.M)
    if not match:
        raise RuntimeError("no %s at /metrics" % name)
    return int(match.group(1))


def wrk(ctx, port, path, cookie_file, seconds):
    """One wrk run; the figures its done() printed."""
    out = ctx.procs.run(
        "wrk", ["wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % seconds,
                "--timeout", "5s", "-s", ctx.lua_script,
                "http://127.0.0.1:%d" % port, "--", path, cookie_file],
        LOAD_CPU, timeout=seconds + 60)
    for line in out.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError("wrk printed no BENCH line:\n" + out)


def measured_run(ctx, server, port, path, cookie_file, seconds, pid):
    """One wrk run, with memcached's stats and the CPU time the server
    (pid) and memcached used around it: req/s depends on wrk and on how
    busy this shared machine is, CPU time per request much less so."""
    cas0 = metric(port, server.cas_metric) if server.cas_metric else None
    before = ctx.mc.stats()
    cpu0, mc_cpu0 = cpu_seconds(pid), cpu_seconds(ctx.mc_pid)
    r = wrk(ctx, port, path, cookie_file, seconds)
    cpu1, mc_cpu1 = cpu_seconds(pid), cpu_seconds(ctx.mc_pid)
    after = ctx.mc.stats()
    r["cpu_us"] = (cpu1 - cpu0) * 1e6 / max(r["requests"], 1)
    r["mc_cpu_us"] = (mc_cpu1 - mc_cpu0) * 1e6 / max(r["requests"], 1)
    if server.cas_metric:
        r["cas_replays"] = metric(port, server.cas_metric) - cas0
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["cmds"] = mcstats.commands(before, after) / max(r["requests"], 1)
    r["conns"] = mcstats.new_connections(before, after)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


def median_line(runs):
    """The run with the median req/s stands for the line (CPU per request:
    the median of its own); errors and non-2xx answers are summed over all
    runs, new connections too."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    line = dict(ordered[len(ordered) // 2])
    line["rps"] = statistics.median(r["rps"] for r in runs)
    for key in ("cpu_us", "mc_cpu_us"):
        line[key] = statistics.median(r[key] for r in runs)
    for key in ("errors", "non2xx", "conns", "cas_replays"):
        if key in line:
            line[key] = sum(r[key] for r in runs)
    line["total_requests"] = sum(r["requests"] for r in runs)
    line["runs"] = [round(r["rps"]) for r in runs]
    return line


def route_lines(ctx, server, proc, port, routes, cookie_file, runs,
                seconds):
    """A warm-up per route (pools fill, JITs compile), then `runs` rounds
    of one measured run per route. Rounds interleave the routes, so the
    ratios between them (read route ÷ /ping) compare runs made moments
    apart: on a shared, noisy machine a slow spell then touches every
    route alike instead of one route's runs."""
    for route in routes:
        wrk(ctx, port, route, cookie_file, WARMUP_SECONDS)
    runs_of = {route: [] for route in routes}
    for _ in range(runs):
        for route in routes:
            runs_of[route].append(measured_run(ctx, server, port, route,
                                               cookie_file, seconds, proc.pid))
    return [median_line(runs_of[route]) for route in routes]


def server_lines(ctx, server, cookie_file=None, routes=None, runs=None,
                 seconds=None):
    """Starts the server, logs the users in (unless their cookies are
    given), measures its routes, records its peak RSS, stops it."""
    proc, port = start(ctx, server)
    try:
        if cookie_file is None:
            cookie_file = logins(ctx, server.name, port)
        routes = routes or server.routes
        lines = route_lines(ctx, server, proc, port, routes, cookie_file,
                            runs or ctx.runs, seconds or ctx.seconds)
        for route, line in zip(routes, lines):
            line.update(server=server.name, route=route)
            ctx.progress("%-8s %-7s %8.0f req/s  runs %s  %.1f us CPU/req"
                         % (server.name, route, line["rps"], line["runs"],
                            line["cpu_us"]))
        rss = peak_rss_kib(proc.pid)
        for line in lines:
            line["rss_kib"] = rss
        return lines, cookie_file
    finally:
        ctx.procs.stop(proc)
