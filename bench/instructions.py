"""The instructions lines: user-space instructions per request of the demo
under callgrind, GET / (read) and /count (write) against /ping, over the
same 256 logged-in sessions on memcached, with sealed records (the
default) and again with --seal-records off, so the sealing line shows
what sealing costs each route. Unlike req/s and CPU time, an instruction count
does not move with how busy this shared machine is, so it shows the
library's own cost from one run to the next (and what a change did to
it). It counts neither the kernel's work (system calls, the network
stack: about half of what a request costs here) nor waiting; callgrind
also counts some vector loops (memset, memcpy) per iteration, so the
figure is a measure to compare, not a prediction of time."""
import glob
import http.client
import os
import re
import subprocess
import time

import login
from procs import free_port

SESSIONS = 256
WARMUP_REQUESTS = 2 * SESSIONS   # every cookie and record cache filled
REQUESTS = 2000                  # per route
TOTAL = re.compile(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", re.M)


def _control(pid, *args):
    subprocess.run(["callgrind_control"] + list(args) + [str(pid)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60, check=True)


def _requests(conn, path, cookies, n):
    for i in range(n):
        conn.request("GET", path, headers={"Cookie": cookies[i % len(cookies)]})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError("GET %s under callgrind answered %d"
                               % (path, resp.status))


def _instructions(out_prefix, dumps_before):
    """Ir of the newest dump callgrind wrote since dumps_before."""
    dumps = sorted(set(glob.glob(out_prefix + ".*")) - dumps_before,
                   key=os.path.getmtime)
    if not dumps:
        raise RuntimeError("callgrind wrote no dump")
    text = subprocess.run(["callgrind_annotate", dumps[-1]],
                          capture_output=True, text=True, timeout=120,
                          check=True).stdout
    match = TOTAL.search(text)
    if not match:
        raise RuntimeError("no PROGRAM TOTALS in %s" % dumps[-1])
    return int(match.group(1).replace(",", ""))


def instruction_lines(ctx, secret):
    """[{route, seal, instructions}] per request: GET /, /count and /ping
    with sealed records, GET / and /count with sealing off."""
    return (_under_callgrind(ctx, secret, "on", ("/", "/count", "/ping")) +
            _under_callgrind(ctx, secret, "off", ("/", "/count")))


def _under_callgrind(ctx, secret, seal, routes):
    port = free_port()
    out_prefix = os.path.join(ctx.work, "callgrind-%s.out" % seal)
    # Under callgrind the demo runs some 50 times slower: a store timeout
    # made for production would fire on a busy machine.
    store = ctx.mc_url + ("&" if "?" in ctx.mc_url else "?") + \
        "io_timeout_ms=10000"
    proc = ctx.procs.start("demo-callgrind-seal-" + seal, [
        "valgrind", "--tool=callgrind", "--instr-atstart=no",
        "--callgrind-out-file=" + out_prefix, ctx.demo,
        "--listen", "127.0.0.1:%d" % port, "--store", store,
        "--secret-file", secret, "--threads", "1",
        "--seal-records", seal], 0)
    try:
        ctx.procs.wait_port(proc, port, timeout=60)
        cookies = login.login_many(port, SESSIONS, "cg")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        _requests(conn, "/", cookies, WARMUP_REQUESTS)
        lines = []
        for path in routes:
            before = set(glob.glob(out_prefix + ".*"))
            _control(proc.pid, "--zero")
            _control(proc.pid, "--instr=on")
            _requests(conn, path, cookies, REQUESTS)
            _control(proc.pid, "--instr=off")
            _control(proc.pid, "--dump")
            time.sleep(0.5)  # the dump is written by the demo's process
            per = _instructions(out_prefix, before) / REQUESTS
            lines.append(dict(route=path, seal=seal, instructions=per))
            ctx.progress("callgrind GET %-6s sealing %-3s %8.0f "
                         "instructions/request" % (path, seal, per))
        conn.close()
        return lines
    finally:
        ctx.procs.stop(proc)
