#!/usr/bin/python3
"""Checks the library's layering from its object files (docs/design.md,
"Wings"): who calls whom is read from the symbols each object defines and
needs (nm), so it sees exactly what the linker sees.

    check_layers.py OBJECT_DIR WING [WING ...] [--only PREFIX=WING[,WING...]]
                    [--objects OBJECT ...]

OBJECT_DIR holds the objects of src/ in src/'s layout (CMake's
CMakeFiles/mcsession_objects.dir); the WINGs are src/'s folders, lowest
first. With --objects only the objects named are read (the build passes
the library's exact list, so stale objects of moved files in an old build
tree count for nothing); without, every *.c.o under OBJECT_DIR. Three
rules, each violation printed on its own line:

  1. No call cycles between files: the graph "file A uses a symbol
     defined in file B" has no cycle (calls within one file do not count).
  2. A file uses only its own wing and the wings listed before it.
  3. Each --only PREFIX=WINGS (may be repeated): a symbol from outside the
     library (libc, a system library) whose name starts with PREFIX is
     used only by files of the WINGS listed. The build passes
     --only epoll_=loop: the loop is the one place that touches epoll;
     a store waits on its descriptors through the loop's mcs_store_io.

Exit status 0 when all hold, 1 otherwise, 2 on bad usage. Only global
symbols count: a static function is private to its file, and a call
through a function pointer (a store's operations table, a codec) is no
link-time dependency, which is how a lower wing calls back up.
"""
import collections
import os
import subprocess
import sys


def objects(root, only):
    if only:
        paths = only
    else:
        paths = [os.path.join(d, n) for d, _, names in os.walk(root)
                 for n in names if n.endswith(".c.o")]
    for path in paths:
        yield os.path.relpath(path, root)[:-len(".o")], path


def symbols(path):
    """(defined, needed) global symbols of one object."""
    out = subprocess.run(["nm", "-P", path], capture_output=True, text=True,
                         check=True).stdout
    defined, needed = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind in "TDRBCVWG":
            defined.add(name)
        elif kind == "U":
            needed.add(name)
    return defined, needed


def graph(root, only):
    """(files, edges, external): edges[src][dst] lists the symbols src
    takes from dst; external[src] the symbols it takes from outside the
    objects read (libc and other libraries)."""
    owner, needs = {}, {}
    for src, path in objects(root, only):
        defined, needed = symbols(path)
        for name in defined:
            owner[name] = src
        needs[src] = needed
    edges = collections.defaultdict(dict)  # src -> {dst: [symbols]}
    external = collections.defaultdict(list)
    for src, needed in needs.items():
        for name in sorted(needed):
            dst = owner.get(name)
            if dst is None:
                external[src].append(name)
            elif dst != src:
                edges[src].setdefault(dst, []).append(name)
    return sorted(needs), edges, external


def parse_only(specs):
    """--only PREFIX=WING[,WING...] values into [(prefix, {wings})]."""
    rules = []
    for spec in specs:
        prefix, sep, wings = spec.partition("=")
        if not prefix or not sep or not wings:
            return None
        rules.append((prefix, set(wings.split(","))))
    return rules


def cycles(files, edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in files:
        if v not in index:
            visit(v)
    return found


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    args = argv[1:]
    only = []
    if "--objects" in args:
        only = args[args.index("--objects") + 1:]
        args = args[:args.index("--objects")]
    specs, rest = [], []
    while args:
        arg = args.pop(0)
        if arg == "--only" and args:
            specs.append(args.pop(0))
        elif arg.startswith("--"):
            rest = []
            break
        else:
            rest.append(arg)
    rules = parse_only(specs)
    if len(rest) < 2 or rules is None:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root, wings = rest[0], rest[1:]
    rank = {w: i for i, w in enumerate(wings)}
    files, edges, external = graph(root, only)
    if not files:
        print("check_layers: no objects under %s" % root, file=sys.stderr)
        return 2
    bad = 0
    for comp in cycles(files, edges):
        bad += 1
        print("cycle: " + " <-> ".join(comp))
    for src in files:
        wing = src.split("/")[0]
        if wing not in rank:
            bad += 1
            print("%s: not in a known wing (%s)" % (src, ", ".join(wings)))
            continue
        for dst, names in sorted(edges.get(src, {}).items()):
            dwing = dst.split("/")[0]
            if rank.get(dwing, -1) > rank[wing]:
                bad += 1
                print("%s (%s) uses %s (%s, a higher wing): %s"
                      % (src, wing, dst, dwing, ", ".join(names[:4])))
    for src in files:
        wing = src.split("/")[0]
        for prefix, allowed in rules:
            names = [n for n in external.get(src, []) if n.startswith(prefix)]
            if names and wing not in allowed:
                bad += 1
                print("%s (%s) uses %s*, reserved to %s: %s"
                      % (src, wing, prefix, ", ".join(sorted(allowed)),
                         ", ".join(names[:4])))
    if bad:
        print("check_layers: %d violation(s)" % bad)
        return 1
    print("check_layers: %d files, no cycles, every call goes down%s"
          % (len(files), "".join(", %s* only in %s"
                                 % (p, ",".join(sorted(w)))
                                 for p, w in rules)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
