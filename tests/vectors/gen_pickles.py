#!/usr/bin/python3
"""Writes the pickle codec's test vectors (tests/vectors/pickles/), made by
CPython itself. Run with Debian's Python (the files are checked in):

    /usr/bin/python3 tests/vectors/gen_pickles.py

Kinds of vectors, listed in pickles/MANIFEST (read by
tests/unit/codec/pickle_fixture.h), one per line:

  ok <name>.pkl <name>.json    decodes to the JSON (our value model:
                               bytes as {"$bytes": base64}, ints beyond
                               int64 as {"$int": digits}, tuples as lists)
  notdict <name>.pkl           valid, top level not a dict: empty session
  corrupt <name>.pkl <op|->    refused with MCS_ECORRUPT; <op> is the hex
                               opcode the decoder must stop at, if known
  toobig <name>.pkl            refused with MCS_ETOOBIG (expansion bombs)
  encode <name>.json <name>.pkl
                               our encoder must write exactly these bytes:
                               CPython's protocol 4 with the memo off
                               (Pickler.fast = True)

Valid vectors come from pickle.dumps for protocols 2 to 5 (plus 0 and 1
where the decoder reads them); their expected JSON is made from what
pickle.loads gives back. Hostile vectors are hand-assembled or pickled
from objects but NEVER loaded: each is scanned with pickletools.genops
only (which parses without executing).
"""
import base64
import io
import json
import os
import pickle
import pickletools
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pickles")
INT64 = (-(2**63), 2**63 - 1)

# Opcodes the decoder refuses (src/codec/pickle/pickle_decode.c).
REFUSED = {
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ",
    "NEWOBJ_EX", "EXT1", "EXT2", "EXT4", "PERSID", "BINPERSID",
    "NEXT_BUFFER", "READONLY_BUFFER", "EMPTY_SET", "ADDITEMS", "FROZENSET",
    "BYTEARRAY8", "STRING", "UNICODE",
}

manifest = []


def to_model(v):
    """A Python value as our JSON value model."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            assert isinstance(k, str), k
            out[k] = to_model(x)
        return out
    if isinstance(v, (list, tuple)):
        return [to_model(x) for x in v]
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode("ascii")}
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return v if INT64[0] <= v <= INT64[1] else {"$int": str(v)}
    raise TypeError(type(v))


def from_model(v):
    """Our JSON value model as a Python value (inverse of to_model)."""
    if isinstance(v, dict):
        if len(v) == 1 and isinstance(v.get("$bytes"), str):
            return base64.b64decode(v["$bytes"], validate=True)
        if len(v) == 1 and isinstance(v.get("$int"), str):
            return int(v["$int"])
        return {k: from_model(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_model(x) for x in v]
    return v


def first_refused(data):
    """Name and offset of the first refused opcode, parsing only."""
    try:
        for op, _arg, pos in pickletools.genops(data):
            if op.name in REFUSED:
                return op, pos
    except Exception:  # malformed on purpose; stop scanning there
        pass
    return None, None


def safe_loads(data):
    """pickle.loads, only for bytes proven to hold no refused opcode."""
    op, _ = first_refused(data)
    assert op is None, op.name
    return pickle.loads(data)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def write_json(name, value):
    with open(os.path.join(OUT, name), "w", encoding="ascii") as f:
        json.dump(value, f, ensure_ascii=True, allow_nan=False)
        f.write("\n")


expected = {}


def ok(name, data, session=None):
    """A valid vector: expected JSON from what CPython loads. Vectors of one
    session in several protocols share the JSON file `session`.json, and
    must all load to the same model."""
    model = to_model(safe_loads(data))
    assert isinstance(model, dict)
    session = session or name
    if session in expected:
        assert json.dumps(expected[session]) == json.dumps(model), name
    else:
        expected[session] = model
        write_json(session + ".json", model)
    write(name + ".pkl", data)
    manifest.append(f"ok {name}.pkl {session}.json")


def notdict(name, data):
    assert not isinstance(safe_loads(data), dict)
    write(name + ".pkl", data)
    manifest.append(f"notdict {name}.pkl")


def corrupt(name, data, opname=None):
    """A refused vector. With opname, the decoder must stop at that opcode:
    the first refused one pickletools finds."""
    op = "-"
    if opname:
        found, _pos = first_refused(data)
        assert found is not None and found.name == opname, (name, found)
        op = "%02x" % found.code.encode("latin-1")[0]
    write(name + ".pkl", data)
    manifest.append(f"corrupt {name}.pkl {op}")


def toobig(name, data):
    write(name + ".pkl", data)
    manifest.append(f"toobig {name}.pkl")


def fast_dumps(value):
    """CPython's protocol 4 with the memo off: our encoder's reference."""
    f = io.BytesIO()
    p = pickle.Pickler(f, 4)
    p.fast = True
    p.dump(value)
    return f.getvalue()


def encode(name, model):
    write_json(name + ".json", model)
    write(name + ".pkl", fast_dumps(from_model(model)))
    manifest.append(f"encode {name}.json {name}.pkl")


# ---- Valid sessions ----------------------------------------------------

SCALARS = {
    "none": None, "t": True, "f": False, "zero": 0, "one": 1, "u8": 255,
    "u8p": 256, "u16": 65535, "u16p": 65536, "neg": -1, "neg256": -256,
    "i32min": -2**31, "i32max": 2**31 - 1, "i32over": 2**31,
    "i32under": -2**31 - 1, "i64max": 2**63 - 1, "i64min": -2**63,
    "two63": 2**63, "below_i64": -2**63 - 1, "two64": 2**64,
    "neg_two64": -2**64, "googol": 10**100, "neg_googol": -10**100,
    "f01": 0.1, "fneg0": -0.0, "fbig": 1e308, "fmin": 5e-324, "fone": 1.0,
    "fneg": -2.5, "fmax": sys.float_info.max,
}

STRINGS = {
    "empty": "", "ascii": "hello", "latin": "caf\u00e9", "cjk": "\u65e5\u672c",
    "astral": "\U0001d11e\U0001f600", "nul": "a\x00b", "long": "x" * 300,
    "s255": "y" * 255, "s256": "z" * 256, "escapes": 'q"\\\n\r\t',
    "k\u00e9y": "unicode key", "\U0001f600": "astral key", "k" * 256: "max key",
    "$int": "a tag name is a fine session key",
}

BYTES = {
    "empty": b"", "all": bytes(range(256)), "ff00": b"\xff\x00",
    "b256": bytes(256), "text": b"plain",
}

NESTED = {
    "list": [1, [2, [3, []]], {"a": [{}]}],
    "tuple": (1, "two", (3.0, None)), "empty_tuple": (), "t1": (1,),
    "t2": (1, 2), "t3": (1, 2, 3), "t4": (1, 2, 3, 4),
    "dict": {"x": {"y": {"z": []}}, "": "empty key inside"},
    "mixed": [None, True, 1.5, "x", 10**30, -(10**30)],
    "lookalikes": {"$int": 5, "$bytes": "QQ==", "n": 1},
    "one_tag_not_str": {"$int": 5},
}


def shared():
    x = [1]
    s = "a shared string value"
    d = {"k": "v"}
    t = (1, [2])
    return {"a": x, "b": x, "c": [x, x], "s1": s, "s2": s, "d1": d, "d2": d,
            "t1": t, "t2": t}


def deep(levels):
    v = 0
    for _ in range(levels):
        v = [v]
    return {"deep": v}


def big():
    return {"many": list(range(1001)),
            "keys": {str(i): i for i in range(1001)}}


def gen_valid():
    sessions = {"scalars": SCALARS, "strings": STRINGS, "nested": NESTED,
                "shared": shared(), "empty": {}, "deep32": deep(32)}
    for proto in (2, 3, 4, 5):
        for name, value in sessions.items():
            ok(f"{name}_p{proto}", pickle.dumps(value, proto), name)
        if proto >= 3:
            ok(f"bytes_p{proto}", pickle.dumps({"b": BYTES}, proto), "bytes")
    for proto in (2, 4):
        ok(f"big_p{proto}", pickle.dumps(big(), proto), "big")
    # Protocol 1: BINUNICODE, BININT, LONG text, MARK ... TUPLE, BINPUT.
    ok("scalars_p1", pickle.dumps(SCALARS, 1), "scalars")
    ok("nested_p1", pickle.dumps(NESTED, 1), "nested")
    ok("shared_p1", pickle.dumps(shared(), 1), "shared")
    ok("bigint_4300_digits",
       pickle.dumps({"n": 10**4299, "m": -(10**4300 - 1)}, 4))
    # Python 2 str (SHORT_BINSTRING, BINSTRING): ASCII, read as str.
    ok("py2_binstring",
       b"\x80\x02}(U\x03keyU\x05valueT\x02\x00\x00\x00k2T\x00\x00\x00\x00u.")
    # Protocol 0/1 text forms in a protocol 4 dict: INT (incl. the bool
    # spellings), LONG, FLOAT, PUT, GET, DUP.
    ok("text_forms",
       b"\x80\x04}(\x8c\x01aI42\n\x8c\x01bI-7\n\x8c\x01cI01\n\x8c\x01dI00\n"
       b"\x8c\x01eL123456789012345678901234567890L\n\x8c\x01fL-5\n"
       b"\x8c\x01gF1.5\n\x8c\x01hF-0.0\n\x8c\x01iF1e+300\n"
       b"\x8c\x01j]p7\nK\x01a\x8c\x01kg7\n\x8c\x01lI9223372036854775808\n"
       b"\x8c\x01m\x8c\x02xy2\x86u.")
    # FRAME, MEMOIZE, LONG_BINPUT/LONG_BINGET, POP, POP_MARK, non-minimal
    # LONG1, LIST and DICT from a mark.
    ok("odd_but_valid",
       b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a"
       b"(K\x01K\x02l\x94r\x20\x00\x00\x00\x8c\x01bj\x20\x00\x00\x00"
       b"\x8c\x01c\x8a\x09\x05\x00\x00\x00\x00\x00\x00\x00\x00"
       b"\x8c\x01d(\x8c\x01xK\x01d(N1N0(0\x8c\x01e\x8a\x00u.")


def gen_notdict():
    x = [1]
    for proto in (0, 2, 4):
        notdict(f"notdict_list_p{proto}",
                pickle.dumps([1, 1.5, -0.0, 10**30, True, None, x, x], proto))
    notdict("notdict_int", pickle.dumps(5, 4))
    notdict("notdict_none", pickle.dumps(None, 4))
    notdict("notdict_str", pickle.dumps("session", 4))
    notdict("notdict_tuple", pickle.dumps(({"a": 1},), 4))


# ---- Hostile -------------------------------------------------------------

class Evil:
    """Pickles to a call of os.system. Never unpickled here."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/mcsession-pickle-pwned",))


def wrap(payload):
    """{'k': <payload>} around a hand-assembled value, protocol 4."""
    return b"\x80\x04}\x8c\x01k" + payload + b"s."


def gen_refused_opcodes():
    for proto in (2, 3, 4, 5):
        data = pickle.dumps({"user": Evil()}, proto)
        corrupt(f"os_system_p{proto}", data,
                "GLOBAL" if proto < 4 else "STACK_GLOBAL")
    corrupt("op_global", wrap(b"cos\nsystem\n"), "GLOBAL")
    corrupt("op_stack_global", wrap(b"\x8c\x02os\x8c\x06system\x93"),
            "STACK_GLOBAL")
    corrupt("op_reduce", wrap(b"]\x8c\x01x\x85R"), "REDUCE")
    corrupt("op_build", wrap(b"}}b"), "BUILD")
    corrupt("op_inst", wrap(b"(ios\nsystem\n"), "INST")
    corrupt("op_obj", wrap(b"(]o"), "OBJ")
    corrupt("op_newobj", wrap(b"])\x81"), "NEWOBJ")
    corrupt("op_newobj_ex", wrap(b"])}\x92"), "NEWOBJ_EX")
    corrupt("op_ext1", wrap(b"\x82\x01"), "EXT1")
    corrupt("op_ext2", wrap(b"\x83\x01\x00"), "EXT2")
    corrupt("op_ext4", wrap(b"\x84\x01\x00\x00\x00"), "EXT4")
    corrupt("op_persid", wrap(b"Pabc\n"), "PERSID")
    corrupt("op_binpersid", wrap(b"NQ"), "BINPERSID")
    corrupt("op_next_buffer", wrap(b"\x97"), "NEXT_BUFFER")
    corrupt("op_readonly_buffer", wrap(b"C\x01a\x98"), "READONLY_BUFFER")
    corrupt("op_empty_set", pickle.dumps({"s": {1, 2}}, 4), "EMPTY_SET")
    corrupt("op_additems", wrap(b"](K\x01\x90"), "ADDITEMS")
    corrupt("op_frozenset", pickle.dumps({"s": frozenset([1])}, 4),
            "FROZENSET")
    corrupt("op_bytearray8", pickle.dumps({"b": bytearray(b"ab")}, 5),
            "BYTEARRAY8")
    corrupt("protocol0_str", pickle.dumps({"s": "x"}, 0), "UNICODE")
    corrupt("op_string_py2", wrap(b"S'abc'\n"), "STRING")
    corrupt("op_unicode", wrap(b"Vabc\n"), "UNICODE")
    corrupt("op_unknown_ff", wrap(b"\xff"))
    corrupt("op_unknown_00", wrap(b"\x00"))
    corrupt("op_unknown_99", wrap(b"\x99"))
    corrupt("bytes_p2_is_a_call", pickle.dumps({"b": b"x"}, 2), "GLOBAL")
    corrupt("empty_bytes_p2_is_a_call", pickle.dumps({"b": b""}, 2),
            "GLOBAL")


def gen_structure():
    l = []
    l.append(l)
    corrupt("recursive_list", pickle.dumps({"l": l}, 4))
    d = {}
    d["self"] = d
    corrupt("recursive_dict", pickle.dumps(d, 4))
    l2 = []
    l2.append((l2,))
    corrupt("recursive_via_tuple", pickle.dumps({"l": l2}, 4))
    corrupt("recursive_dup", wrap(b"]2a"))
    corrupt("too_deep_33", pickle.dumps(deep(33), 4))
    corrupt("underflow_append", b"\x80\x04a.")
    corrupt("underflow_setitem", b"\x80\x04}K\x01s.")
    corrupt("underflow_stop", b"\x80\x04.")
    corrupt("underflow_pop", b"\x80\x04}00.")
    corrupt("underflow_tuple3", b"\x80\x04K\x01K\x02\x87.")
    corrupt("below_mark_setitem", b"\x80\x04}(\x8c\x01kK\x01s.")
    corrupt("below_mark_append", b"\x80\x04](K\x01a.")
    corrupt("pop_mark_without_mark", b"\x80\x04}1.")
    corrupt("appends_without_mark", b"\x80\x04]e.")
    corrupt("stop_with_two_values", b"\x80\x04}}.")
    corrupt("stop_with_open_mark", b"\x80\x04}(.")
    corrupt("bytes_after_stop", b"\x80\x04}.\x00")
    corrupt("no_stop", b"\x80\x04}")
    corrupt("empty_input", b"")
    corrupt("protocol_6", b"\x80\x06}.")
    corrupt("odd_setitems", b"\x80\x04}(\x8c\x01kK\x01K\x02u.")
    corrupt("append_to_tuple", wrap(b")K\x01a"))
    corrupt("append_to_dict", wrap(b"}K\x01a"))
    corrupt("setitem_on_list", wrap(b"]\x8c\x01aK\x01s"))
    corrupt("memo_get_unset", wrap(b"h\x05"))
    corrupt("memo_get_out_of_range", wrap(b"j\xff\xff\xff\xff"))
    corrupt("memo_put_out_of_range", wrap(b"K\x01r\xff\xff\xff\xff"))
    corrupt("memo_text_index_huge", wrap(b"K\x01p99999999999\n"))
    corrupt("memo_put_empty_stack", b"\x80\x04\x94}.")
    corrupt("key_int", pickle.dumps({1: "a"}, 4))
    corrupt("key_nested_int", pickle.dumps({"d": {1: "x"}}, 4))
    corrupt("key_tuple", pickle.dumps({(1, 2): "x"}, 4))
    corrupt("key_bytes", pickle.dumps({b"k": 1}, 4))
    corrupt("key_none", pickle.dumps({None: 1}, 4))
    corrupt("key_bool", pickle.dumps({True: 1}, 4))
    corrupt("key_nul", pickle.dumps({"a\x00b": 1}, 4))
    corrupt("key_nested_nul", pickle.dumps({"d": {"a\x00": 1}}, 4))
    corrupt("key_empty_top", pickle.dumps({"": 1}, 4))
    corrupt("key_257_bytes_top", pickle.dumps({"k" * 257: 1}, 4))
    corrupt("lookalike_bytes", pickle.dumps({"v": {"$bytes": "QQ=="}}, 4))
    corrupt("lookalike_int", pickle.dumps({"v": {"$int": "5"}}, 4))
    corrupt("lookalike_in_list", pickle.dumps({"v": [{"$int": "x"}]}, 4))
    corrupt("lone_surrogate", pickle.dumps({"s": "\ud800"}, 4))
    corrupt("lone_surrogate_key", pickle.dumps({"\udfff": 1}, 4))
    corrupt("bad_utf8", wrap(b"\x8c\x02\xc3\x28"))
    corrupt("overlong_utf8", wrap(b"\x8c\x02\xc0\x80"))
    corrupt("binstring_not_ascii", wrap(b"U\x01\xe9"))
    corrupt("nan", pickle.dumps({"f": float("nan")}, 4))
    corrupt("inf", pickle.dumps({"f": float("inf")}, 4))
    corrupt("neg_inf", pickle.dumps({"f": float("-inf")}, 4))
    corrupt("nan_in_notdict", pickle.dumps([float("nan")], 4))
    corrupt("float_text_nan", wrap(b"Fnan\n"))
    corrupt("float_text_inf", wrap(b"Finf\n"))
    corrupt("float_text_overflow", wrap(b"F1e999\n"))
    corrupt("float_text_garbage", wrap(b"F1.5x\n"))
    corrupt("int_text_garbage", wrap(b"I12a\n"))
    corrupt("int_text_leading_zero", wrap(b"I007\n"))
    corrupt("int_text_no_newline", wrap(b"I12"))
    corrupt("long_too_many_digits", wrap(b"L" + b"9" * 4301 + b"L\n"))
    corrupt("long4_too_many_digits", pickle.dumps({"n": 10**4300}, 4))


def gen_lengths():
    corrupt("huge_binunicode8", wrap(b"\x8d" + b"\xff" * 8 + b"abc"))
    corrupt("huge_binbytes8", wrap(b"\x8e" + b"\x00" * 7 + b"\x80" + b"x"))
    corrupt("huge_binunicode", wrap(b"X\xff\xff\xff\xffabc"))
    corrupt("huge_binbytes", wrap(b"B\xff\xff\xff\x7fabc"))
    corrupt("huge_long4", wrap(b"\x8b\xff\xff\xff\x7f\x01"))
    corrupt("negative_long4", wrap(b"\x8b\xff\xff\xff\xff\x01"))
    corrupt("negative_binstring", wrap(b"T\xff\xff\xff\xffabc"))
    corrupt("huge_frame", b"\x80\x04\x95" + b"\xff" * 8 + b"}.")
    corrupt("short_binunicode_past_end", b"\x80\x04}\x8c\x01k\x8c\xffabc")
    corrupt("long1_past_end", wrap(b"\x8a\x09\x01\x02"))
    corrupt("binfloat_past_end", b"\x80\x04}\x8c\x01kG\x3f\xf0")


def gen_bombs():
    # Billion laughs through the memo: level i is a list of ten GETs of
    # level i - 1 (10^i values at level i).
    b = bytearray(b"\x80\x04}\x8c\x01k]K\x00a\x94")
    for i in range(1, 30):
        b += b"(" + (b"h" + bytes([i - 1])) * 10 + b"l\x94"
    toobig("billion_laughs", bytes(b + b"s."))
    # Through DUP: x, then (DUP TUPLE2) doubles it; 40 doublings.
    toobig("dup_doubling", wrap(b"\x8c\x04abcd" + b"2\x86" * 40))
    # Wide: a list of 1000 GETs of a list of 1000 GETs of a string.
    w = bytearray(b"\x80\x04}\x8c\x01k\x8c\x08abcdefgh\x94(")
    w += b"h\x00" * 1000 + b"l\x94(" + b"h\x01" * 1000 + b"l"
    toobig("wide_memo_bomb", bytes(w + b"s."))


def gen_encode():
    encode("encode_scalars", {
        "none": None, "t": True, "f": False, "zero": 0, "u8": 255,
        "u8p": 256, "u16": 65535, "u16p": 65536, "neg": -1,
        "i32min": -2**31, "i32max": 2**31 - 1, "i32over": 2**31,
        "i32under": -2**31 - 1, "i64max": 2**63 - 1, "i64min": -2**63,
        "two63": {"$int": str(2**63)}, "below_i64": {"$int": str(-2**63 - 1)},
        "neg128": -128, "neg129": -129, "two40": 2**40, "neg_two40": -2**40,
        "googol": {"$int": str(10**100)},
        "neg_googol": {"$int": str(-10**100)},
        "neg_pow256": {"$int": str(-(256**9))},
        "pow256": {"$int": str(256**9)},
        "small_as_tag": {"$int": "5"}, "zero_as_tag": {"$int": "0"},
        "i64min_as_tag": {"$int": str(-2**63)},
        "f01": 0.1, "fneg0": -0.0, "fbig": 1e308, "fmin": 5e-324,
    })
    encode("encode_strings", STRINGS)
    encode("encode_bytes", to_model(BYTES))
    encode("encode_containers", {
        "empty_list": [], "empty_map": {}, "one": [1], "two": [1, 2],
        "l1000": list(range(1000)), "l1001": list(range(1001)),
        "l2001": [0] * 2001,
        "m1": {"a": 1}, "m1000": {str(i): i for i in range(1000)},
        "m1001": {str(i): 0 for i in range(1001)},
        "nested": [[[]], {"x": [{"y": None}]}],
    })
    encode("encode_empty", {})
    encode("encode_one_key", {"user_name": "ann"})
    encode("encode_bigint_4300", {"n": {"$int": str(10**4299)},
                                  "m": {"$int": str(-(10**4300 - 1))}})


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    gen_valid()
    gen_notdict()
    gen_refused_opcodes()
    gen_structure()
    gen_lengths()
    gen_bombs()
    gen_encode()
    with open(os.path.join(OUT, "MANIFEST"), "w", encoding="ascii") as f:
        f.write("# Generated by tests/vectors/gen_pickles.py; see there.\n")
        f.write("\n".join(manifest) + "\n")
    print(f"{len(manifest)} vectors in {OUT}")


if __name__ == "__main__":
    main()
