#!/usr/bin/python3
"""Checks that CPython's pickle.loads reads what mcsession's pickle encoder
writes, and gets equal values.

tests/unit/codec/test_codec_pickle.c leaves, in $MCS_BUILD/pickle_out/, pairs
<name>.pkl (our encoder's output) and <name>.json (the value it encoded,
in the session value model: bytes as {"$bytes": base64}, big integers as
{"$int": digits}). For each pair this script checks, in CPython:

  - the pickle holds only opcodes that build plain data (scanned with
    pickletools.genops, which parses without executing, BEFORE loading:
    we never load anything that could import or call);
  - pickle.loads gives a dict equal to the JSON's value, with exact types
    (True is not 1, 1.0 is not 1) and -0.0 kept negative.

Usage: /usr/bin/python3 pickle_crosscheck.py DIR
Exits 77 (ctest: skipped) when DIR holds no pickles (run the unit test
first), 1 on the first disagreement, 0 otherwise.
"""
import base64
import json
import math
import os
import pickle
import pickletools
import sys

PLAIN = {
    "PROTO", "FRAME", "STOP", "NONE", "NEWTRUE", "NEWFALSE", "BININT",
    "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "SHORT_BINUNICODE",
    "BINUNICODE", "BINUNICODE8", "SHORT_BINBYTES", "BINBYTES", "BINBYTES8",
    "EMPTY_LIST", "APPEND", "APPENDS", "EMPTY_DICT", "SETITEM", "SETITEMS",
    "MARK",
}


def from_model(v):
    if isinstance(v, dict):
        if len(v) == 1 and isinstance(v.get("$bytes"), str):
            return base64.b64decode(v["$bytes"], validate=True)
        if len(v) == 1 and isinstance(v.get("$int"), str):
            return int(v["$int"])
        return {k: from_model(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_model(x) for x in v]
    return v


def same(a, b, path="data"):
    """Equality with exact types; raises AssertionError with the path."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b), \
            f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def check(pkl_path, json_path):
    with open(pkl_path, "rb") as f:
        data = f.read()
    for op, _arg, pos in pickletools.genops(data):
        assert op.name in PLAIN, f"opcode {op.name} at {pos}"
    with open(json_path, encoding="utf-8") as f:
        want = from_model(json.load(f))
    got = pickle.loads(data)
    assert isinstance(got, dict), "top level is not a dict"
    same(got, want)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    names = sorted(n[:-4] for n in os.listdir(out) if n.endswith(".pkl")) \
        if os.path.isdir(out) else []
    if not names:
        print(f"no pickles in {out}; run test_codec_pickle first",
              file=sys.stderr)
        return 77
    for name in names:
        try:
            check(os.path.join(out, name + ".pkl"),
                  os.path.join(out, name + ".json"))
        except Exception as e:  # report which file, then fail
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    print(f"{len(names)} pickles written by mcsession load in CPython "
          f"{sys.version.split()[0]} as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
