"""Issue 14's edge table, lines (a) and (b): nginx serving a 20-byte
static file (a) ungated and (b) gated by ngx_http_mcsession_module with a
valid session, on the same nginx, the same sessions and the same method
as line (c) (gate_lines.py: wrk -t1 -c32 with sessions.lua over 256
logged-in sessions, a warm-up, BENCH_RUNS runs, the median; nginx with one
worker on CPU 0, wrk and memcached on CPU 1).

(b) also records the worker's resident set before its load and its peak
after it (the issue's target: growth ≤ 8 MiB), and, like every line,
memcached commands per request and new memcached connections.
"""
import os

import gate_lines
from procs import peak_rss_kib, rss_kib

MODULE_SERVERS = """
    mcsession_store %(store)s;
    mcsession_secret_file %(secret)s;
    server {
        listen 127.0.0.1:{port};
        location /a/ {
            alias %(www)s/;
        }
        location /b/ {
            alias %(www)s/;
            mcsession on;
            mcsession_require_user on;
        }
    }
"""


def module_lines(ctx, module, demo_argv_for_port, secret):
    """Lines (a) and (b) for results["edge"]."""
    cookie_file = gate_lines.sessions(ctx, demo_argv_for_port)
    root = gate_lines.www(ctx)
    nginx, pids, port = gate_lines.start_nginx(
        ctx, "nginx-module", "load_module %s;" % module,
        MODULE_SERVERS % dict(store=ctx.mc_url, secret=secret, www=root))
    try:
        worker = pids[1]
        a = gate_lines.measure(ctx, port, "/a" + gate_lines.PATH,
                               cookie_file, pids)
        a.update(label="a", what="ungated (nginx alone)")
        rss0 = rss_kib(worker)
        b = gate_lines.measure(ctx, port, "/b" + gate_lines.PATH,
                               cookie_file, pids)
        b.update(label="b", what="gated by the module (mcsession on)",
                 worker_rss_kib=rss0,
                 worker_rss_growth_kib=peak_rss_kib(worker) - rss0)
        for line in (a, b):
            ctx.progress("edge (%s) %8.0f req/s  runs %s  %.1f us CPU/req  "
                         "%.2f mc cmds/req" % (
                             line["label"], line["rps"], line["runs"],
                             line["nginx_cpu_us"], line["cmds"]))
        ctx.progress("edge (b) = %.0f %% of (a); worker RSS +%d KiB"
                     % (100 * b["rps"] / a["rps"],
                        b["worker_rss_growth_kib"]))
        return [a, b]
    finally:
        ctx.procs.stop(nginx)


def module_path(build_dir):
    """The module built in `build_dir`, or None."""
    path = os.path.join(build_dir, "ngx_http_mcsession_module.so")
    return path if os.path.exists(path) else None
