"""The one table `make bench` prints (Markdown), with the issue's targets
judged PASS or MISS against the figures of the same run."""
import os
import platform
import time

FLAT_WITHIN = 0.05        # growth: cost at 1M sessions within 5 % of 10k
POOL_CONNECTIONS = 8      # the memcached store's default pool per server


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return dict(nproc=os.cpu_count(), cpu=model, kernel=platform.release(),
                mem_gib=round(mem_kib / 1048576))


def num(x, digits=0):
    return "—" if x is None else "{:,.{}f}".format(x, digits)


def ms(us):
    return "%.2f" % (us / 1000.0)


def cpu(x):
    """CPU µs per request (runs saved before it was measured: —)."""
    return "—" if x is None else "%.1f" % x


def mark(ok):
    return "PASS" if ok else "MISS"


def find(lines, **want):
    for line in lines:
        if all(line.get(k) == v for k, v in want.items()):
            return line
    return None


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------

def header(r):
    m, v, c = r["machine"], r["versions"], r["config"]
    return [
        "# mcsession benchmark",
        "",
        "Run %s with `make bench` (BENCH_SECONDS=%d BENCH_RUNS=%d). Machine: "
        "%s, nproc %d, %d GiB, Linux %s." % (
            time.strftime("%Y-%m-%d %H:%M %Z"), c["seconds"], c["runs"],
            m["cpu"], m["nproc"], m["mem_gib"], m["kernel"]),
        "Versions: %s; %s; tornado %s; node %s with express %s, "
        "express-session %s, connect-memcached %s." % (
            v["memcached"], v["wrk"], v["tornado"], v["node"], v["express"],
            v["express-session"], v["connect-memcached"]),
        "Load average (1/5/15 min) before: %s, after: %s — anything above "
        "the benchmark's own ~2 means other work shared the CPUs." % (
            "/".join("%.2f" % x for x in r["load_before"]),
            "/".join("%.2f" % x for x in r["load_after"])),
        "",
    ]


def http_section(r):
    out = [
        "## HTTP (wrk -t1 -c32 -d%ds over 256 logged-in sessions; server on "
        "CPU 0, wrk and memcached -t 1 on CPU 1; median of %d runs)" % (
            r["config"]["seconds"], r["config"]["runs"]),
        "",
        "| server | route | req/s | p50 ms | p99 ms | errors | non-2xx "
        "| peak RSS MiB | server CPU µs/req | mc CPU µs/req | mc cmds/req "
        "| new mc conns | CAS replays |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for l in r["http"]:
        name = l["server"]
        if name == "demo":
            name = "demo (%d loop%s)" % (r["threads"],
                                         "s" if r["threads"] > 1 else "")
        out.append("| %s | GET %s | %s | %s | %s | %d | %d | %.1f | %s | %s "
                   "| %.2f | %d | %s |" % (
                       name, l["route"], num(l["rps"]), ms(l["p50_us"]),
                       ms(l["p99_us"]), l["errors"], l["non2xx"],
                       l["rss_kib"] / 1024, cpu(l.get("cpu_us")),
                       cpu(l.get("mc_cpu_us")), l["cmds"], l["conns"],
                       num(l.get("cas_replays"))))
    if r["sweep"]:
        out += ["", "Demo event-loop threads on its one CPU (GET /, one run "
                "each): " + ", ".join(
                    "%d → %s req/s (p99 %s ms%s)" % (
                        s[0], num(s[1]), ms(s[2]),
                        ", %s µs CPU/req" % cpu(s[3]) if len(s) > 3 else "")
                    for s in r["sweep"])
                + "; every other demo line runs %d (one per CPU)."
                % r["threads"]]
    out += ["", "Errors are wrk's socket errors and timeouts, non-2xx every "
            "other answer (both summed over the runs, as are new memcached "
            "connections); mc cmds/req is every command memcached served "
            "(its `stats` before and after) ÷ requests; CPU µs/req is the "
            "user + system time the server (and memcached) used during the "
            "run (/proc/PID/stat) ÷ requests, the median run's. The 32 "
            "connections "
            "take turns over 256 logged-in sessions (bench/sessions.lua says "
            "why); CAS replays (the demo's counter) show whether two "
            "requests of one session ever overlapped. The peers have no "
            "CAS: their concurrent writes simply overwrite each other.", ""]
    return out


def edge_section(r):
    """Issue 14: nginx at the edge. Each line of r["edge"] says what it
    measured (label, what); a figure a line lacks shows as —."""
    lines = sorted(r.get("edge") or [], key=lambda l: l.get("label", ""))
    if not lines:
        return []
    out = [
        "## nginx at the edge (issue 14: wrk -t1 -c32 -d%ds over 256 "
        "logged-in sessions, a 20-byte static file; nginx with one worker "
        "on CPU 0, wrk and memcached on CPU 1; median of %d runs)" % (
            r["config"]["seconds"], r["config"]["runs"]),
        "",
        "| line | what | req/s | p50 ms | p99 ms | errors | non-2xx "
        "| CPU µs/req | of it nginx | of it gate (app) | mc CPU µs/req "
        "| mc cmds/req | new mc conns |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for l in lines:
        out.append("| (%s) | %s | %s | %s | %s | %d | %d | %s | %s | %s | %s "
                   "| %.2f | %d |" % (
                       l.get("label", "?"), l.get("what", ""), num(l["rps"]),
                       ms(l["p50_us"]), ms(l["p99_us"]), l["errors"],
                       l["non2xx"], cpu(l.get("cpu_us")),
                       cpu(l.get("nginx_cpu_us")), cpu(l.get("gate_cpu_us")),
                       cpu(l.get("mc_cpu_us")), l["cmds"], l["conns"]))
    out += ["", "CPU µs/req is every server-side process's user + system "
            "time ÷ requests (nginx's master and worker, and the gate where "
            "there is one, all on CPU 0); the gate's line sends each request "
            "through nginx's auth_request to mcsession-gate on a kept-alive "
            "upstream connection (bench/gate_lines.py), line (d) to the "
            "Tornado recipe app's logged-in page (its CPU in the gate's "
            "column); (a) and (b) are one "
            "nginx, the module loaded, its locations ungated and gated "
            "(bench/module_lines.py).", ""]
    return out + edge_targets(lines) + edge_pairs(lines)


def edge_targets(lines):
    """Issue 14's targets for the lines measured (those of a line that
    was not run are left out)."""
    by = {l.get("label"): l for l in lines}
    a, b, d = by.get("a"), by.get("b"), by.get("d")
    rows = []
    if a and b and "ratio_median" in b:
        # The median of interleaved pairs' ratios (module_lines.py).
        ratios = [p["ratio"] for p in b["pairs"]]
        quiet = sum(1 for p in b["pairs"] if not p["flagged"])
        rows.append(("(b) ≥ 60 % of (a)", "%.0f %% (median of %s; all "
                     "pairs: %.0f–%.0f %%)" % (
                         100 * b["ratio_median"],
                         "%d quiet pairs" % quiet
                         if b["ratio_basis"] == "unflagged"
                         else "all %d pairs, %d quiet" % (len(ratios),
                                                          quiet),
                         100 * min(ratios), 100 * max(ratios)),
                     # Fewer than three quiet pairs: the runs measured
                     # the neighbours; the figure says nothing either way.
                     mark(b["ratio_median"] >= 0.6)
                     if b["ratio_basis"] == "unflagged"
                     else "UNSURE (other load)"))
    elif a and b:
        rows.append(("(b) ≥ 60 % of (a)", "%.0f %%" % (100 * b["rps"] /
                                                      a["rps"]),
                     b["rps"] >= 0.6 * a["rps"]))
    if b and d:
        rows.append(("(b) ≥ 20 × (d)", "%.1f ×" % (b["rps"] / d["rps"]),
                     b["rps"] >= 20 * d["rps"]))
    if b:
        rows += [
            ("(b) one memcached command per gated request",
             "%.2f" % b["cmds"], abs(b["cmds"] - 1) <= 0.02),
            ("(b) no new memcached connection per request",
             "%d new" % b["conns"], b["conns"] <= 1),
            ("(b) nginx worker RSS growth under load ≤ 8 MiB",
             "%.1f MiB" % (b["worker_rss_growth_kib"] / 1024),
             b["worker_rss_growth_kib"] <= 8 * 1024)]
    if not rows:
        return []
    out = ["| edge target (issue 14) | measured | |", "|---|--:|---|"]
    out += ["| %s | %s | %s |" % (name, got,
                                  ok if isinstance(ok, str) else mark(ok))
            for name, got, ok in rows]
    return out + [""]


def edge_pairs(lines):
    """(a) and (b), pair by pair: the ratios, the steal each pair saw, and
    how busy nginx was (a line that leaves nginx idle is waiting for
    something else: here memcached's round trip, on the CPU wrk loads)."""
    by = {l.get("label"): l for l in lines}
    a, b = by.get("a"), by.get("b")
    if not (a and b and b.get("pairs")):
        return []
    return [
        "(a) and (b) ran in %d interleaved pairs (a, b, a, b, ...) on one "
        "nginx. (b) ÷ (a) per pair, with the hypervisor's steal of CPU 0 "
        "or 1 and the CPU other processes took from them during the pair "
        "(bench/steal.py; flagged † above %.0f %% steal or %.0f %% of a "
        "CPU): %s. By nginx's CPU per "
        "request instead of req/s (what (b) would reach with nginx busy "
        "all the time), the median pair gives %s. nginx was busy %.0f %% "
        "of the median (a) run and %.0f %% of the median (b) run." % (
            len(b["pairs"]), b["steal_flag_pct"],
            b.get("others_flag_pct", 0),
            ", ".join("%.0f %% (steal %.1f %%, others %d %%%s)" % (
                100 * p["ratio"], p["steal_pct"], p.get("others_pct", 0),
                " †" if p["flagged"] else "") for p in b["pairs"]),
            "%.0f %%" % (100 * b["cpu_ratio_median"])
            if b.get("cpu_ratio_median") else "—",
            100 * a.get("nginx_busy", 0), 100 * b.get("nginx_busy", 0)),
        ""]


def lib_section(r):
    out = [
        "## Library, no HTTP (bench_lib: load + save of a %d-byte record; "
        "median of %d × %g s)" % (r["lib"][0]["record"], r["config"]["runs"],
                                  r["config"]["lib_seconds"]),
        "",
        "| store | session | threads | CPUs | mcsession cycles/s "
        "| bare meta floor /s | mcsession ÷ bare | store cmds/cycle |",
        "|---|---|--:|---|--:|--:|--:|--:|",
    ]
    for l in r["lib"]:
        bare = l.get("bare")
        threads = "%d" % l["threads"]
        if l.get("inflight"):
            threads += ", mcs_loop × %d in flight" % l["inflight"]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            l["store"], "read-only" if l["mode"] == "read" else "changed",
            threads, l["cpus"], num(l["rate"]), num(bare),
            "%.2f" % (l["rate"] / bare) if bare else "—",
            "%.2f" % l["ops"] if l.get("ops") is not None else "—"))
    out += ["", "Bare floor: `mg <key> v c f T1800` (read-only) and `mg` + "
            "`ms <key> <len> T1800 F<f> C<cas>` (changed) of the same record "
            "on one blocking TCP socket (TCP_NODELAY) per thread. The "
            "mcs_loop line keeps that many sessions in flight on one thread "
            "(mcs_session_load_start / save_start, one write per turn); its "
            "floor sends as many bare `mg` (then `ms`) with one write and "
            "reads the replies.", ""]
    return out


def memory_section(r):
    out = ["## Memory per session (%d sessions of %d-byte records, "
           "%d-byte keys)" % (r["memory"][0]["sessions"],
                              r["memory"][0]["record"], r["memory"][0]["key"]),
           "", "| store | bytes per session | measured as |", "|---|--:|---|"]
    how = {"memory": "mcs_store_memory_stats_get bytes, after − before",
           "memcached": "memcached `stats` bytes, after − before"}
    for l in r["memory"]:
        out.append("| %s | %s | %s |" % (l["store"], num(l["bytes"]),
                                         how[l["store"]]))
    return out + [""]


def instructions_section(r):
    lines = r.get("instructions")
    if not lines:
        return []
    # Runs before sealing measured each route once, without "seal".
    per = {l["route"]: l["instructions"] for l in lines
           if l.get("seal", "on") == "on"}
    off = {l["route"]: l["instructions"] for l in lines
           if l.get("seal") == "off"}
    out = ["## Instructions (callgrind: the demo's user-space instructions "
           "per request, 256 sessions on memcached, 2,000 requests a route)",
           "", "| route | instructions/request |", "|---|--:|"]
    out += ["| GET %s | %s |" % (route, num(n)) for route, n in per.items()]
    out += sealing_lines(per, off)
    out += ["", "GET / costs %s instructions more than /ping: the session "
            "(cookie, memcached request and reply, record, CSRF token) and "
            "the larger page. The count does not depend on how busy the "
            "machine is, but moves by about 3,000 between identical runs "
            "(random ids and where they fall in the caches); it leaves out the kernel (system "
            "calls, TCP), about half of a request's CPU here, and callgrind "
            "counts vector loops such as libmicrohttpd's per-request memset "
            "of its 32 KiB connection pool (most of /ping's count) per "
            "iteration." % num(per["/"] - per["/ping"]), ""]
    return out


def sealing_lines(on, off):
    """Sealed records against --seal-records off, per route (targets: read
    within 5 %, write within 10 %)."""
    targets = {"/": ("read", 1.05), "/count": ("write", 1.10)}
    rows = [(route, what, limit) for route, (what, limit) in targets.items()
            if route in on and route in off]
    if not rows:
        return []
    out = ["", "| route, sealing | on | off | on ÷ off | target |",
           "|---|--:|--:|--:|--:|"]
    for route, what, limit in rows:
        ratio = on[route] / off[route]
        out.append("| GET %s (%s) | %s | %s | %.3f%s | ≤ %.2f |"
                   % (route, what, num(on[route]), num(off[route]), ratio,
                      "" if ratio <= limit else " **missed**", limit))
    return out


def growth_cost(l):
    """What a GET / costs at one size: the CPU time the demo and memcached
    spend per request (runs saved before CPU was measured: the inverse of
    GET / ÷ /ping, or of req/s, so that higher still means costlier)."""
    if l.get("cpu_us") is not None:
        return l["cpu_us"] + l["mc_cpu_us"]
    return 1 / (l["rps"] / l["ping_rps"] if l.get("ping_rps") else l["rps"])


def growth_section(r):
    out = ["## Growth: demo GET / with N valid sessions in memcached",
           "", "| sessions | items in memcached | GET / req/s | /ping req/s "
           "| p50 ms | p99 ms | mc cmds/req | demo CPU µs/req "
           "| mc CPU µs/req | cost vs first |",
           "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    first = growth_cost(r["growth"][0])
    for l in r["growth"]:
        out.append("| %s | %s | %s | %s | %s | %s | %.2f | %s | %s | %.2f |"
                   % (num(l["sessions"]), num(l["items"]), num(l["rps"]),
                      num(l.get("ping_rps")), ms(l["p50_us"]),
                      ms(l["p99_us"]), l["cmds"], cpu(l.get("cpu_us")),
                      cpu(l.get("mc_cpu_us")), growth_cost(l) / first))
    return out + ["", "Cost is the CPU time the demo and memcached spend "
                  "per GET / (user + system, /proc/PID/stat, median of the "
                  "runs): unlike req/s it does not move with how much CPU "
                  "wrk, on memcached's CPU, or other tenants of this "
                  "shared machine happened to take while each size was "
                  "measured. /ping runs alternate with GET / at each size "
                  "as a check on the machine.", ""]


# --------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------

def targets(r):
    h, lib, g = r["http"], r["lib"], r["growth"]
    read, write = find(h, server="demo", route="/"), \
        find(h, server="demo", route="/count")
    ping = find(h, server="demo", route="/ping")
    peer_read = max(l["rps"] for l in h
                    if l["server"] != "demo" and l["route"] == "/")
    peer_write = max(l["rps"] for l in h
                     if l["server"] != "demo" and l["route"] == "/count")
    mem_read = find(lib, store="memory", mode="read", threads=1)
    mc_reads = [l for l in lib if l["store"] == "memcached"
                and l["mode"] == "read"]
    demo_lines = [l for l in h if l["server"] == "demo"]
    rows = [
        ("read route ≥ 10 × faster peer", "%.1f ×" % (read["rps"] / peer_read),
         read["rps"] >= 10 * peer_read),
        ("read route ≥ 50 % of /ping", "%.0f %%" % (100 * read["rps"] /
                                                   ping["rps"]),
         read["rps"] >= 0.5 * ping["rps"]),
        ("write route ≥ 7 × faster peer", "%.1f ×" % (write["rps"] /
                                                      peer_write),
         write["rps"] >= 7 * peer_write),
        ("memcached cmds per read = 1", "%.2f" % read["cmds"],
         abs(read["cmds"] - 1) <= 0.02),
        ("memcached cmds per write = 2", "%.2f" % write["cmds"],
         abs(write["cmds"] - 2) <= 0.02),
        ("unchanged save = 0 cmds (library read-only cycle − 1 load)",
         ", ".join("%.2f" % (l["ops"] - 1) for l in mc_reads),
         all(abs(l["ops"] - 1) <= 0.01 for l in mc_reads)),
        ("no new memcached connection per request",
         "%d new over %s requests" % (
             sum(l["conns"] for l in demo_lines),
             num(sum(l["total_requests"] for l in demo_lines))),
         all(l["conns"] <= POOL_CONNECTIONS for l in demo_lines)),
        ("demo peak RSS ≤ 16 MiB", "%.1f MiB" % (read["rss_kib"] / 1024),
         read["rss_kib"] <= 16 * 1024),
    ]
    # The target compares a read with a bare round trip; the mcs_loop
    # line's floor is a pipelined batch (its ratio is in the library
    # table, not a target).
    for l in [l for l in mc_reads if not l.get("inflight")]:
        rows.append(("library ÷ bare ≥ 0.8, memcached read, %d thread%s"
                     % (l["threads"], "s" if l["threads"] > 1 else ""),
                     "%.2f" % (l["rate"] / l["bare"]),
                     l["rate"] >= 0.8 * l["bare"]))
    rows += redis_targets(r)
    rows.append(("≥ 200,000 read-only cycles/s, memory store, one core",
                  num(mem_read["rate"]), mem_read["rate"] >= 200000))
    last = g[-1]
    growth = growth_cost(last) / growth_cost(g[0])
    rows.append(("cost flat from %s to %s sessions (demo + memcached CPU "
                 "per GET / no more than %d %% higher)"
                 % (num(g[0]["sessions"]), num(last["sessions"]),
                    FLAT_WITHIN * 100),
                 "%.2f" % growth, growth <= 1 + FLAT_WITHIN))
    out = ["## Targets (issue 6)", "", "| target | measured | |",
           "|---|--:|---|"]
    out += ["| %s | %s | %s |" % (name, got, mark(ok))
            for name, got, ok in rows]
    return out + [""]


def redis_floor(clients, line):
    """The hiredis GETEX line a library line is divided by: same threads,
    depth 1, or one thread pipelining as many as the loop keeps in flight."""
    return find(clients, client="hiredis", threads=line["threads"],
                depth=line["depth"])


def redis_targets(r):
    """Issue 15's: library ÷ bare GETEX ≥ 0.8 (read-only, blocking), one
    command per read, the demo's two routes at 1 and 2 commands."""
    rd = r.get("redis")
    if not rd:
        return []
    rows = []
    for l in rd["clients"]:
        floor = redis_floor(rd["clients"], l)
        if l["client"] == "library" and l["mode"] == "read" and \
                l["depth"] == 1 and floor:
            rows.append(("library ÷ bare GETEX ≥ 0.8, Redis read, %d "
                         "thread%s" % (l["threads"],
                                       "s" if l["threads"] > 1 else ""),
                         "%.2f" % (l["rate"] / floor["rate"]),
                         l["rate"] >= 0.8 * floor["rate"]))
    read = find(rd["http"], server="demo-redis", route="/")
    write = find(rd["http"], server="demo-redis", route="/count")
    rows.append(("Redis cmds per read = 1 (GETEX)", "%.2f" % read["cmds"],
                 abs(read["cmds"] - 1) <= 0.02))
    rows.append(("Redis cmds per changed write = 2 (GETEX, EVALSHA)",
                 "%.2f" % write["cmds"], abs(write["cmds"] - 2) <= 0.02))
    return rows


def redis_section(r):
    """Issue 15: the Redis store (bench/redis_lines.py)."""
    rd = r.get("redis")
    if not rd:
        return []
    clients = rd["clients"]
    out = ["## Redis (bench/redis_lines.py; redis-server on CPU 1, clients "
           "and the demo on CPU 0; median of %d × %g s)"
           % (r["config"]["runs"], r["config"]["lib_seconds"]), "",
           "### The client: GETEX ops/s on one key", "",
           "| client | threads | pipelined | GETEX/s | runs |",
           "|---|--:|--:|--:|---|"]
    for l in clients:
        if l["client"] == "library":
            continue
        out.append("| %s | %d | %d | %s | %s |" % (
            "hiredis 0.14.1" if l["client"] == "hiredis"
            else "mcsession (mcs_store_get)", l["threads"], l["depth"],
            num(l["rate"]), " ".join(num(x) for x in l["runs"])))
    out += ["", "### The library ÷ a bare GETEX round trip", "",
            "| session | threads | in flight (mcs_loop) | cycles/s "
            "| hiredis GETEX/s | library ÷ GETEX | Redis cmds/cycle |",
            "|---|--:|--:|--:|--:|--:|--:|"]
    for l in clients:
        if l["client"] != "library":
            continue
        floor = redis_floor(clients, l)
        out.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            "read-only" if l["mode"] == "read" else "changed", l["threads"],
            l["depth"] if l["depth"] > 1 else "—", num(l["rate"]),
            num(floor["rate"]) if floor else "—",
            "%.2f" % (l["rate"] / floor["rate"]) if floor else "—",
            "%.2f" % l["cmds"] if l.get("cmds") is not None else "—"))
    out += ["", "### The demo on Redis beside memcached, with the peers "
            "(wrk as above)", "",
            "| server, store | route | req/s | p99 ms | errors | non-2xx "
            "| server CPU µs/req | store CPU µs/req | store cmds/req "
            "| CAS replays |", "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    mc = [l for l in r.get("http", []) if l["server"] in ("demo", "node")]
    names = {"demo": "demo, memcached", "node": "express-session, memcached",
             "demo-redis": "demo, Redis", "node-redis":
             "express-session + connect-redis"}
    for lines in (mc, rd["http"]):
        for l in lines:
            out.append("| %s | GET %s | %s | %s | %d | %d | %s | %s | %.2f "
                       "| %s |" % (
                           names.get(l["server"], l["server"]), l["route"], num(l["rps"]), ms(l["p99_us"]),
                           l["errors"], l["non2xx"], cpu(l.get("cpu_us")),
                           cpu(l.get("mc_cpu_us")), l["cmds"],
                           num(l.get("cas_replays"))))
    out += ["", "A read is one GETEX (read and slide the idle expiry); a "
            "changed write is that GETEX and one EVALSHA of the CAS script "
            "(compare the stored token, replace): two commands, two round "
            "trips, as on memcached (mg, ms C). The hiredis floor is GETEX "
            "alone, on one blocking context per thread (pipelined: that "
            "many commands appended, then their replies). store cmds/req "
            "on Redis counts the commands the demo sent (INFO commandstats: "
            "GETEX, GET, EVALSHA, EVAL, SET, EXPIRE, DEL), not the GETRANGE "
            "and SET the CAS script runs inside the server.", ""]
    return out


def render(r):
    lines = header(r) + targets(r) + http_section(r) + edge_section(r) + \
        instructions_section(r) + lib_section(r) + memory_section(r) + \
        redis_section(r) + growth_section(r)
    return "\n".join(lines)
