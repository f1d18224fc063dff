"""Issue 14's edge table, line (c): nginx with auth_request to
mcsession-gate, serving a 20-byte static file to logged-in sessions; and
line (d): the same with auth_request to the Tornado recipe app (what a
user does today).

Same method as the other HTTP lines (http_lines.py): wrk -t1 -c32 with
sessions.lua over 256 logged-in sessions, a warm-up, BENCH_RUNS runs of
BENCH_SECONDS, the median; memcached's stats and the CPU time of every
process around each run.

Placement: nginx (one worker) on CPU 0, wrk and memcached on CPU 1, as
the module's line (b). The gate runs on CPU 0 too, with one event loop:
the server side of every line then gets the same one CPU, so req/s
compare like for like, and the gate's hop is paid where it is paid in a
deployment (by the machine serving the requests), not hidden on the CPU
that the load generator needs. CPU per request is reported per process:
nginx (master + worker), the gate, memcached.

The sessions are native ones, made by the demo's login (the C library)
with the same secret on the same memcached.
"""
import os
import statistics
import time

import http_lines
import mcstats
import steal
from procs import cpu_seconds, free_port, peak_rss_kib

SERVER_CPU = http_lines.SERVER_CPU
PATH = "/20b.txt"
BODY = b"twenty bytes static\n"  # 20 bytes

# The nginx of every edge line (this file's and module_lines.py's): one
# worker, the http{} servers given.
NGINX_CONF = """
%(main)s
worker_processes 1;
error_log %(dir)s/nginx-error.log warn;
pid %(dir)s/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(dir)s/nginx-body;
    proxy_temp_path %(dir)s/nginx-proxy;
    fastcgi_temp_path %(dir)s/nginx-fastcgi;
    uwsgi_temp_path %(dir)s/nginx-uwsgi;
    scgi_temp_path %(dir)s/nginx-scgi;
    default_type text/plain;
%(servers)s
}
"""

GATE_SERVERS = """
    upstream mcsession_gate {
        server 127.0.0.1:%(gate)d;
        keepalive 32;
        keepalive_timeout 5s;
    }
    server {
        listen 127.0.0.1:{port};
        root %(www)s;
        location = /_auth {
            internal;
            proxy_pass http://mcsession_gate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass_request_headers off;
            proxy_set_header Cookie "session=$cookie_session";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            auth_request /_auth;
        }
    }
"""


# Line (d): the recipe app's "/" is its logged-in page (200 for a user,
# a redirect to /login otherwise, which auth_request turns into an
# error): the check a Tornado application can offer today. It gets the
# client's headers, the Cookie among them, as auth_request sends them.
RECIPE_SERVERS = """
    upstream recipe {
        server 127.0.0.1:%(app)d;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:{port};
        root %(www)s;
        location = /_auth {
            internal;
            proxy_pass http://recipe/;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            auth_request /_auth;
        }
    }
"""


def children(pid):
    """PIDs whose parent is `pid` (nginx's worker)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def _cpu(pids):
    return sum(cpu_seconds(p) for p in pids)


def sessions(ctx, demo_argv_for_port):
    """256 logged-in users' Cookie headers, made through the demo."""
    server = http_lines.Server("gate-logins", demo_argv_for_port, ["/"])
    proc, port = http_lines.start(ctx, server)
    try:
        return http_lines.logins(ctx, "gate-logins", port)
    finally:
        ctx.procs.stop(proc)


def www(ctx):
    """The directory holding the 20-byte file, reachable by nginx's
    worker (nobody, under root)."""
    path = os.path.join(ctx.work, "www")
    os.makedirs(path, exist_ok=True)
    os.chmod(ctx.work, 0o755)
    with open(os.path.join(path, PATH.lstrip("/")), "wb") as f:
        f.write(BODY)
    return path


def start_nginx(ctx, name, main, servers):
    """nginx (one worker, CPU 0) with `servers` in http{}: (proc, PIDs of
    master and worker). {port} in `servers` is its port, returned too."""
    port = free_port()
    conf = os.path.join(ctx.work, name + ".conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % dict(dir=ctx.work, main=main,
                                  servers=servers.replace("{port}",
                                                          str(port))))
    nginx = ctx.procs.start(name, [
        "nginx", "-p", ctx.work, "-c", conf, "-g", "daemon off;"],
        SERVER_CPU)
    ctx.procs.wait_port(nginx, port)
    return nginx, [nginx.pid] + children(nginx.pid), port


def run_once(ctx, port, path, cookie_file, seconds, nginx_pids, gate_pid):
    """One wrk run of `path`: its figures, with the CPU time of nginx (and
    the gate) and memcached per request, memcached's commands, and what
    else took CPUs 0 and 1 meanwhile (steal.py): steal_pct, the larger
    steal of the two, and others_pct, other processes' share."""
    before = ctx.mc.stats()
    n0, m0 = _cpu(nginx_pids), cpu_seconds(ctx.mc_pid)
    g0 = cpu_seconds(gate_pid) if gate_pid else 0
    s0, w0, t0 = steal.snapshot(), steal.children_cpu(), time.monotonic()
    r = http_lines.wrk(ctx, port, path, cookie_file, seconds)
    s1, w1, t1 = steal.snapshot(), steal.children_cpu(), time.monotonic()
    n1, m1 = _cpu(nginx_pids), cpu_seconds(ctx.mc_pid)
    g1 = cpu_seconds(gate_pid) if gate_pid else 0
    after = ctx.mc.stats()
    cpus = (SERVER_CPU, http_lines.LOAD_CPU)
    r["steal_pct"] = steal.steal_pct(s0, s1, cpus)
    r["others_pct"] = steal.others_pct(
        s0, s1, cpus, (n1 - n0) + (m1 - m0) + (g1 - g0) + (w1 - w0),
        t1 - t0)
    req = max(r["requests"], 1)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["nginx_cpu_us"] = (n1 - n0) * 1e6 / req
    r["gate_cpu_us"] = (g1 - g0) * 1e6 / req
    r["cpu_us"] = r["nginx_cpu_us"] + r["gate_cpu_us"]
    r["mc_cpu_us"] = (m1 - m0) * 1e6 / req
    r["cmds"] = mcstats.commands(before, after) / req
    r["conns"] = mcstats.new_connections(before, after)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return r


def measure(ctx, port, path, cookie_file, nginx_pids, gate_pid=None):
    """A warm-up, then ctx.runs runs of `path`: one line of the table
    (summary())."""
    http_lines.wrk(ctx, port, path, cookie_file, http_lines.WARMUP_SECONDS)
    return summary([run_once(ctx, port, path, cookie_file, ctx.seconds,
                             nginx_pids, gate_pid)
                    for _ in range(ctx.runs)])


def summary(runs):
    """One line of the table from its runs: the median run's figures
    (medians of req/s and CPU per request; sums of errors and new
    connections), every run's req/s and steal."""
    line = dict(sorted(runs, key=lambda r: r["rps"])[len(runs) // 2])
    line["rps"] = statistics.median(r["rps"] for r in runs)
    for key in ("cpu_us", "nginx_cpu_us", "gate_cpu_us", "mc_cpu_us"):
        line[key] = statistics.median(r[key] for r in runs)
    for key in ("errors", "non2xx", "conns"):
        line[key] = sum(r[key] for r in runs)
    line["runs"] = [round(r["rps"]) for r in runs]
    line["steal_runs"] = [round(r["steal_pct"], 1) for r in runs]
    line["others_runs"] = [round(r["others_pct"]) for r in runs]
    return line


def _auth_request_line(ctx, name, servers, cookie_file, helper, label,
                       what):
    """nginx (`name`: its configuration's and log's name) with auth_request
    to `helper` (a started process, on CPU 0), measured: a list with one
    line for results["edge"]. Stops both."""
    nginx = None
    try:
        nginx, pids, port = start_nginx(ctx, name, "", servers)
        line = measure(ctx, port, PATH, cookie_file, pids, helper.pid)
        line.update(label=label, what=what,
                    gate_rss_kib=peak_rss_kib(helper.pid))
        ctx.progress("edge (%s) %8.0f req/s  runs %s  %.1f + %.1f us "
                     "CPU/req (nginx + %s)" % (
                         label, line["rps"], line["runs"],
                         line["nginx_cpu_us"], line["gate_cpu_us"],
                         name.split("-", 1)[1]))
        return [line]
    finally:
        if nginx:
            ctx.procs.stop(nginx)
        ctx.procs.stop(helper)


def gate_lines(ctx, gate, demo_argv_for_port, secret):
    """Line (c): a list with one line for results["edge"]."""
    cookie_file = sessions(ctx, demo_argv_for_port)
    root = www(ctx)
    gate_port = free_port()
    gate_proc = ctx.procs.start("gate", [
        gate, "--listen", "127.0.0.1:%d" % gate_port, "--store", ctx.mc_url,
        "--secret-file", secret], SERVER_CPU)
    ctx.procs.wait_port(gate_proc, gate_port)
    return _auth_request_line(
        ctx, "nginx-gate", GATE_SERVERS % dict(gate=gate_port, www=root),
        cookie_file, gate_proc, "c",
        "auth_request to mcsession-gate (1 loop, CPU 0)")


def recipe_line(ctx, recipe_server):
    """Line (d): a list with one line for results["edge"]. The recipe app
    (an http_lines.Server) runs on CPU 0 beside nginx, as the gate does,
    over sessions it made itself."""
    app, app_port = http_lines.start(ctx, recipe_server)
    try:
        cookie_file = http_lines.logins(ctx, "recipe-edge", app_port)
    except BaseException:
        ctx.procs.stop(app)
        raise
    return _auth_request_line(
        ctx, "nginx-recipe", RECIPE_SERVERS % dict(app=app_port,
                                                   www=www(ctx)),
        cookie_file, app, "d",
        "auth_request to the Tornado recipe app (CPU 0)")
