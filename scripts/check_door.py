#!/usr/bin/python3
"""Checks that the public API is the only door into the library (issue
13): everything that is not the library or its tests -- tools/,
adapters/, examples/, bench/, serve/ and gate/ (issue 14) -- uses
mcsession.h and its parts alone.

    check_door.py SOURCE_DIR [--library LIBMCSESSION.so]

The build is the first wall: those directories compile with include/
alone on their include path and link the shared library, which exports
only MCS_EXPORT functions, so an internal name fails to compile or to
link. This is the second, read from the sources, so that a wall taken
down (src/ put back on an include path, say) is noticed at once:

  1. No C source or header there names an internal symbol or macro: no
     identifier starting with mcs__ or MCS__, comments included.
  2. None includes an internal header: a header of src/, by its path
     under src/ ("session/session_int.h") or by its file name alone
     ("mc_int.h", as an include path into src/ would allow), or any path
     through a src/ directory.
  3. Their CMake files put no src/ directory on an include path and use
     no target of the library's internals (mcsession_objects).

With --library, also: 4. the shared library exports no internal name
and nothing but mcs_ names (nm -D; names starting with "_", the
toolchain's, aside), so that the link stays a wall.

Each violation is printed as PATH:LINE: what; exit status 0 when there are
none, 1 otherwise, 2 on bad usage.
"""
import os
import re
import subprocess
import sys

OUTSIDE = ("tools", "adapters", "examples", "bench", "serve", "gate")
SOURCE_EXT = (".c", ".h", ".cc", ".cpp")
INTERNAL_NAME = re.compile(r"\b(mcs__|MCS__)\w*")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
INCLUDE_DIRS = re.compile(r"\b(target_)?include_directories\s*\(([^)]*)\)",
                          re.S)
SRC_DIR = re.compile(r"(^|[/}\s])(\.\./)*src(/|\s|\)|$)")


def internal_headers(root):
    """Paths under src/ and bare file names of the library's headers."""
    paths, names = set(), set()
    src = os.path.join(root, "src")
    for d, _, files in os.walk(src):
        for n in files:
            if n.endswith(".h"):
                paths.add(os.path.relpath(os.path.join(d, n), src))
                names.add(n)
    return paths, names


def files_under(root, want):
    for top in OUTSIDE:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [x for x in dirs if x != "node_modules"]
            for n in sorted(files):
                if want(n):
                    yield os.path.join(d, n)


def check_source(root, path, headers, problems):
    paths, names = headers
    rel = os.path.relpath(path, root)
    local = set(os.listdir(os.path.dirname(path)))
    with open(path, encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, 1):
            m = INTERNAL_NAME.search(line)
            if m:
                problems.append("%s:%d: internal name %s" % (rel, no, m.group(0)))
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            base = os.path.basename(inc)
            if (inc in paths or "src/" in inc or
                    (base in names and inc not in local)):
                problems.append("%s:%d: internal header %s" % (rel, no, inc))


def check_cmake(root, path, problems):
    rel = os.path.relpath(path, root)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in INCLUDE_DIRS.finditer(text):
        if SRC_DIR.search(m.group(2)):
            no = text.count("\n", 0, m.start()) + 1
            problems.append("%s:%d: src/ on an include path" % (rel, no))
    for m in re.finditer(r"\bmcsession_objects\b", text):
        no = text.count("\n", 0, m.start()) + 1
        problems.append("%s:%d: uses mcsession_objects" % (rel, no))


def check_exports(library, problems):
    out = subprocess.run(["nm", "-D", "--defined-only", library],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        name = line.split()[-1]
        # Names of the toolchain's own (sanitizer coverage sections, say)
        # start with "_"; every other export must be a public mcs_ name.
        internal = name.startswith("mcs__")
        if internal or not (name.startswith("mcs_") or name.startswith("_")):
            problems.append("%s: exports %s" % (library, name))


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--library"):
        print("usage: check_door.py SOURCE_DIR [--library LIBMCSESSION.so]",
              file=sys.stderr)
        return 2
    root = argv[1]
    headers = internal_headers(root)
    problems = []
    count = 0
    for path in files_under(root, lambda n: n.endswith(SOURCE_EXT)):
        check_source(root, path, headers, problems)
        count += 1
    cmake = list(files_under(root, lambda n: n == "CMakeLists.txt" or
                             n.endswith(".cmake")))
    cmake.append(os.path.join(root, "cmake", "McsAdapter.cmake"))
    for path in cmake:
        check_cmake(root, path, problems)
    if len(argv) == 4:
        check_exports(argv[3], problems)
    for p in problems:
        print(p)
    if problems:
        return 1
    print("the public API is the only door: %d sources and %d CMake files "
          "of %s use no internal name or header" % (count, len(cmake),
                                                   ", ".join(OUTSIDE)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
