"""The library lines (bench_lib, no HTTP): load+save cycles beside the bare
meta-protocol floor, bytes per session, and the growth fill."""
import statistics

# (store, threads, CPUs for bench_lib). memcached runs on CPU 1, so the
# memcached lines keep bench_lib on CPU 0 (2 threads there overlap their
# round trips); the memory store has no server and may use both CPUs.
# The last line: one thread with an mcs_loop keeping INFLIGHT sessions in
# flight (an event-loop server's view), against the bare floor sending the
# same INFLIGHT requests with one write.
INFLIGHT = 32
LIB_CONFIGS = (
    ("memory", 1, "0", 0), ("memory", 2, "0,1", 0),
    ("memcached", 1, "0", 0), ("memcached", 2, "0", 0),
    ("memcached", 1, "0", INFLIGHT),
)


def parse_pairs(out):
    pairs = {}
    for token in out.split():
        key, _, value = token.partition("=")
        pairs[key] = float(value)
    return pairs


def bench_lib(ctx, args, cpus, timeout):
    out = ctx.procs.run("bench_lib", [ctx.bench_lib] + args, cpus, timeout)
    return parse_pairs(out)


def one_run(ctx, cmd, store_url, mode, threads, cpus, inflight):
    extra = ["--inflight", str(inflight)] if inflight else []
    return bench_lib(ctx, [cmd, "--store", store_url, "--mode", mode,
                           "--threads", str(threads), "--seconds",
                           str(ctx.lib_seconds)] + extra, cpus,
                     timeout=ctx.lib_seconds + 60)


def median_of(runs):
    """The median cycles/s of runs, with the last run's other figures."""
    line = dict(runs[-1])
    line["cycles_per_s"] = statistics.median(r["cycles_per_s"] for r in runs)
    line["failures"] = sum(r["failures"] for r in runs)
    return line


def timed(ctx, store_url, mode, threads, cpus, inflight=0, bare=False):
    """ctx.runs runs of the library and, when `bare`, of the bare floor,
    alternating (library, floor, library, ...) so that their ratio compares
    runs made moments apart on this shared machine. Returns the library's
    median line and the floor's (or None)."""
    lib_runs, bare_runs = [], []
    for _ in range(ctx.runs):
        lib_runs.append(one_run(ctx, "cycles", store_url, mode, threads, cpus,
                                inflight))
        if bare:
            bare_runs.append(one_run(ctx, "bare", store_url, mode, threads,
                                     cpus, inflight))
    return median_of(lib_runs), median_of(bare_runs) if bare else None


def library_lines(ctx):
    lines = []
    for store, threads, cpus, inflight in LIB_CONFIGS:
        url = ctx.mc_url if store == "memcached" else "memory"
        for mode in ("read", "write"):
            lib, bare = timed(ctx, url, mode, threads, cpus, inflight,
                              bare=store == "memcached")
            line = dict(store=store, mode=mode, threads=threads, cpus=cpus,
                        inflight=inflight,
                        rate=lib["cycles_per_s"], failures=lib["failures"],
                        record=lib["record_bytes"],
                        ops=lib.get("store_ops_per_cycle"))
            if bare:
                line["bare"] = bare["cycles_per_s"]
                line["failures"] += bare["failures"]
            lines.append(line)
            ctx.progress("lib %-9s %-5s %dT x%-3d %10.0f cycles/s%s"
                         % (store, mode, threads, inflight, line["rate"],
                            "  bare %.0f" % line["bare"] if "bare" in line
                            else ""))
    return lines


def memory_lines(ctx, sessions=10000):
    lines = []
    for store in ("memory", "memcached"):
        url = ctx.mc_url if store == "memcached" else "memory"
        r = bench_lib(ctx, ["memory", "--store", url, "--sessions",
                            str(sessions)], "0", timeout=300)
        lines.append(dict(store=store, bytes=r["bytes_per_session"],
                          record=r["record_bytes"], key=r["key_bytes"],
                          sessions=sessions))
    return lines


def fill(ctx, secret_file, sessions):
    """Writes `sessions` valid sessions (the demo's secret) to memcached."""
    r = bench_lib(ctx, ["fill", "--store", ctx.mc_url, "--secret-file",
                        secret_file, "--sessions", str(sessions)], "0",
                  timeout=1800)
    ctx.progress("filled %d sessions in %.1f s" % (r["filled"], r["seconds"]))
    return r
