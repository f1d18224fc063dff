"""What else took the benchmark's CPUs during a run: the hypervisor's
steal (the time it ran other VMs on this VM's CPUs: /proc/stat, the 8th
figure of a cpuN line, proc(5)) and the other processes of this VM (the
CPUs' busy time less what the benchmark's own processes used). On the
shared VM the benchmarks run on both come and go; a run during which
either was high measured the neighbours as much as the code, so the edge
lines record both for each run and flag the runs above STEAL_FLAG_PCT or
OTHERS_FLAG_PCT.
"""
import os
import resource

STEAL_FLAG_PCT = 5.0     # of either CPU's time
OTHERS_FLAG_PCT = 25.0   # of one CPU, CPUs 0 and 1 together


def snapshot():
    """{cpu number: (steal, busy, all time)} in seconds since boot; busy
    is neither idle, nor waiting for I/O, nor stolen."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *figures = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            # user nice system idle iowait irq softirq steal (guest and
            # guest_nice are inside user and nice already)
            t = [int(x) / tick for x in figures[:8]]
            out[int(name[3:])] = (t[7], sum(t) - t[3] - t[4] - t[7], sum(t))
    return out


def children_cpu():
    """CPU seconds of this process's children that have been waited for
    (wrk, once a run returns)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def steal_pct(before, after, cpus):
    """The largest steal of `cpus` between two snapshots, in % of that
    CPU's time."""
    worst = 0.0
    for cpu in cpus:
        if cpu in before and cpu in after:
            total = after[cpu][2] - before[cpu][2]
            if total > 0:
                worst = max(worst, 100.0 * (after[cpu][0] - before[cpu][0])
                            / total)
    return worst


def others_pct(before, after, cpus, ours, seconds):
    """What processes other than the benchmark's kept `cpus` busy between
    two snapshots `seconds` apart, in % of one CPU: their busy time less
    `ours` (the CPU seconds the benchmark's processes used meanwhile)."""
    busy = sum(after[c][1] - before[c][1] for c in cpus
               if c in before and c in after)
    return max(0.0, 100.0 * (busy - ours) / seconds) if seconds > 0 else 0.0


def flagged(run):
    return (run["steal_pct"] > STEAL_FLAG_PCT
            or run.get("others_pct", 0) > OTHERS_FLAG_PCT)
