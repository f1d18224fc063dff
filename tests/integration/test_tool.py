#!/usr/bin/python3
"""Drives the mcsession command-line tool as a user would.

Usage: /usr/bin/python3 test_tool.py PATH/TO/mcsession

Standard library only. Runs every check, prints each failure with the
command that caused it, and exits 1 if any failed (0 otherwise).
"""
import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "vectors", "signed_values.txt")
COMMANDS = ["keygen", "sign", "verify"]
DAY = 86400
TOOL = None
TMP = None


class Failure(Exception):
    pass


def run(*args, stdout=subprocess.PIPE, input=None):
    """Runs the tool with `input` on its standard input (none: empty)."""
    return subprocess.run([TOOL, *args], stdout=stdout,
                          stderr=subprocess.PIPE, timeout=30,
                          input=input if input is not None else b"")


def describe(args, r):
    return "mcsession %s -> exit %d\n    stdout: %r\n    stderr: %r" % (
        " ".join(repr(a) if isinstance(a, str) else repr(a) for a in args),
        r.returncode, r.stdout, r.stderr)


def expect(args, code, stdout=None, stderr_has=None, input=None):
    """Runs the tool and checks the exit status, stdout (exactly, if
    given), and that stderr is one line containing stderr_has (if given) or
    empty (on success)."""
    r = run(*args, input=input)
    problems = []
    if r.returncode != code:
        problems.append("expected exit %d" % code)
    if stdout is not None and r.stdout != stdout:
        problems.append("expected stdout %r" % stdout)
    lines = r.stderr.decode("utf-8", "replace").splitlines()
    if code == 0 and r.stderr:
        problems.append("expected nothing on stderr")
    if code != 0 and len(lines) != 1:
        problems.append("expected exactly one line on stderr")
    if code != 0 and r.stdout:
        problems.append("expected nothing on stdout")
    if stderr_has and not any(stderr_has in line for line in lines):
        problems.append("expected %r on stderr" % stderr_has)
    if code == 2 and "usage: mcsession" not in r.stderr.decode("utf-8", "replace"):
        problems.append("expected a usage line")
    if problems:
        raise Failure("; ".join(problems) + "\n  " + describe(args, r))
    return r


def secret_file(content, name="secret"):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def reference_sign(secret, name, value, timestamp, key_version=0):
    """An independent implementation of Tornado's format 2, stdlib only."""
    def field(b):
        return b"%d:%s" % (len(b), b)
    to_sign = b"|".join([b"2", field(b"%d" % key_version),
                         field(b"%d" % timestamp), field(name.encode()),
                         field(base64.b64encode(value)), b""])
    mac = hmac.new(secret, to_sign, hashlib.sha256).hexdigest()
    return to_sign + mac.encode()


def load_vectors():
    out = []
    with open(VECTORS) as f:
        for line in f:
            if line.startswith("#"):
                continue
            kv, ts, secret, name, value, signed = line.split()
            out.append((int(kv), int(ts), bytes.fromhex(secret), name,
                        b"" if value == "-" else bytes.fromhex(value),
                        signed.encode()))
    return out


SECRET = b"0123456789abcdef0123456789abcdef"


# ---- The tool itself ------------------------------------------------------

def test_help_lists_every_command_and_exit_codes():
    for flag in ("--help", "-h"):
        out = expect([flag], 0).stdout.decode()
        for cmd in COMMANDS:
            if not re.search(r"^  %s\s" % cmd, out, re.M):
                raise Failure("%s does not list %s:\n%s" % (flag, cmd, out))
        for code in ("0", "1", "2", "3"):
            if not re.search(r"^  %s  " % code, out, re.M):
                raise Failure("%s does not document exit %s" % (flag, code))


def test_every_subcommand_has_help():
    for cmd in COMMANDS:
        for args in ([cmd, "--help"], [cmd, "-h"],
                     [cmd, "--secret-file", "nowhere", "--help"]):
            if cmd == "keygen" and len(args) > 2:
                continue
            out = expect(args, 0).stdout.decode()
            if not out.startswith("Usage: mcsession %s" % cmd):
                raise Failure("bad help for %s: %r" % (args, out[:80]))
            if "Exit status" not in out:
                raise Failure("%s help lacks exit codes" % cmd)


def test_each_help_lists_only_its_exit_statuses():
    """keygen and sign never exit 1; their --help no longer says they
    may."""
    for cmd, want in (("keygen", ["0", "2", "3"]), ("sign", ["0", "2", "3"]),
                      ("verify", ["0", "1", "2", "3"])):
        out = expect([cmd, "--help"], 0).stdout.decode()
        codes = re.findall(r"^  ([0-3])  ", out, re.M)
        if codes != want:
            raise Failure("%s --help lists exit statuses %r, want %r"
                          % (cmd, codes, want))


def test_version():
    out = expect(["--version"], 0).stdout
    if not re.fullmatch(rb"mcsession \d+\.\d+\.\d+\n", out):
        raise Failure("bad --version output %r" % out)


def test_bad_top_level_arguments():
    expect([], 2, stderr_has="missing command")
    expect(["frobnicate"], 2, stderr_has="unknown command")
    expect(["--frobnicate"], 2, stderr_has="unknown option")


# ---- keygen ---------------------------------------------------------------

def test_keygen_prints_43_base64url_chars_of_32_random_bytes():
    a = expect(["keygen"], 0).stdout
    b = expect(["keygen"], 0).stdout
    for out in (a, b):
        if not re.fullmatch(rb"[A-Za-z0-9_-]{43}\n", out):
            raise Failure("keygen printed %r" % out)
        if len(base64.urlsafe_b64decode(out[:-1] + b"=")) != 32:
            raise Failure("keygen output is not 32 bytes")
    if a == b:
        raise Failure("two keygen runs printed the same secret")


def test_keygen_rejects_arguments():
    expect(["keygen", "extra"], 2, stderr_has="unexpected argument")
    expect(["keygen", "--bytes", "16"], 2, stderr_has="unknown option")


def test_keygen_writes_a_new_file_readable_by_its_owner_only():
    old = os.umask(0o022)  # a usual shell's: files 0644 by default
    try:
        for flag in ("-o", "--output"):
            path = os.path.join(TMP, "keygen%s" % flag)
            out = expect(["keygen", flag, path], 0).stdout.decode()
            if out != "wrote a new secret to '%s' (mode 0600: only its " \
                    "owner can read it)\n" % path:
                raise Failure("keygen %s said %r" % (flag, out))
            if os.stat(path).st_mode & 0o777 != 0o600:
                raise Failure("keygen %s made mode %o"
                              % (flag, os.stat(path).st_mode & 0o777))
            with open(path, "rb") as f:
                key = f.read()
            if not re.fullmatch(rb"[A-Za-z0-9_-]{43}\n", key):
                raise Failure("keygen %s wrote %r" % (flag, key))
            # Never replaced: it may be the secret in use.
            expect(["keygen", flag, path], 3, stderr_has="exists")
            with open(path, "rb") as f:
                if f.read() != key:
                    raise Failure("keygen replaced an existing file")
        expect(["keygen", "-o"], 2, stderr_has="needs a value")
        expect(["keygen", "-o", os.path.join(TMP, "no", "dir")], 3,
               stderr_has="cannot create")
    finally:
        os.umask(old)


def test_keygen_to_a_file_others_can_read_warns():
    """keygen > FILE gives FILE the shell's mode: said, with the fix."""
    for mode, warned in ((0o644, True), (0o600, False)):
        path = os.path.join(TMP, "redirected%o" % mode)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)
        try:
            r = subprocess.run([TOOL, "keygen"], stdout=fd,
                               stderr=subprocess.PIPE, timeout=30)
        finally:
            os.close(fd)
        err = r.stderr.decode()
        if r.returncode != 0 or os.path.getsize(path) != 44:
            raise Failure("keygen > file: exit %d, %r" % (r.returncode, err))
        if warned != ("chmod 600 '%s'" % path in err) or \
                warned != ("mode %04o" % mode in err):
            raise Failure("keygen > file of mode %o: stderr %r" % (mode, err))


def test_keygen_output_works_as_secret_file():
    key = expect(["keygen"], 0).stdout
    path = secret_file(key, "generated")
    signed = expect(["sign", "--secret-file", path, "--timestamp", "5",
                     "s", "v"], 0).stdout
    if signed[:-1] != reference_sign(key[:-1], "s", b"v", 5):
        raise Failure("keygen's newline was not dropped from the secret")
    expect(["verify", "--secret-file", path, "--now", "5", "s",
            signed[:-1]], 0, stdout=b"v\n")


# ---- sign -----------------------------------------------------------------

def test_sign_reproduces_tornado_vectors():
    checked = 0
    for kv, ts, secret, name, value, signed in load_vectors():
        if b"\0" in value:
            continue  # argv cannot carry NUL
        # Always one newline more: it is dropped, so secrets that end in a
        # newline themselves survive.
        path = secret_file(secret + b"\n")
        expect(["sign", "--secret-file", path, "--key-version", str(kv),
                "--timestamp", str(ts), "--", name, value], 0,
               stdout=signed + b"\n")
        checked += 1
    if checked < 30:
        raise Failure("only %d vectors were usable" % checked)


def test_sign_defaults_to_key_version_0_and_now():
    path = secret_file(SECRET)
    before = int(time.time())
    out = expect(["sign", "--secret-file", path, "session", "hello"], 0).stdout
    after = int(time.time())
    m = re.fullmatch(rb"2\|1:0\|\d+:(\d+)\|7:session\|8:aGVsbG8=\|[0-9a-f]{64}\n",
                     out)
    if not m or not before <= int(m.group(1)) <= after:
        raise Failure("unexpected default signature %r" % out)


def test_sign_accepts_option_equals_form():
    path = secret_file(SECRET)
    expect(["sign", "--secret-file=" + path, "--key-version=3",
            "--timestamp=10", "n", "v"], 0,
           stdout=reference_sign(SECRET, "n", b"v", 10, 3) + b"\n")


def test_sign_options_may_follow_arguments():
    path = secret_file(SECRET)
    expect(["sign", "n", "v", "--timestamp", "10", "--secret-file", path], 0,
           stdout=reference_sign(SECRET, "n", b"v", 10) + b"\n")


def test_double_dash_allows_leading_dashes():
    path = secret_file(SECRET)
    for name, value in (("-n", "-v"), ("--help", "--"), ("-", "-x"),
                        ("--secret-file", "--timestamp")):
        want = reference_sign(SECRET, name, value.encode(), 7)
        signed = expect(["sign", "--secret-file", path, "--timestamp", "7",
                         "--", name, value], 0, stdout=want + b"\n").stdout
        expect(["verify", "--secret-file", path, "--now", "7", "--", name,
                signed[:-1]], 0, stdout=value.encode() + b"\n")


def test_lone_dash_is_an_argument():
    path = secret_file(SECRET)
    expect(["sign", "--secret-file", path, "--timestamp", "7", "n", "-"], 0,
           stdout=reference_sign(SECRET, "n", b"-", 7) + b"\n")


def test_dash_value_without_double_dash_is_an_unknown_option():
    path = secret_file(SECRET)
    expect(["sign", "--secret-file", path, "n", "-v"], 2,
           stderr_has="unknown option (put '--' before arguments that "
                      "start with '-'): '-v'")
    expect(["sign", "--secret-file", path, "n", "--value"], 2,
           stderr_has="unknown option '--value'")


def test_sign_bad_arguments_give_usage():
    path = secret_file(SECRET)
    base = ["sign", "--secret-file", path]
    cases = [
        (["sign", "n", "v"], "--secret-file is required"),
        (base, "missing argument"),
        (base + ["n"], "missing argument"),
        (base + ["n", "v", "extra"], "unexpected argument"),
        (base + ["--bogus", "n", "v"], "unknown option"),
        (base + ["--secret-file", path, "n", "v"], "given twice"),
        (["sign", "n", "v", "--secret-file"], "needs a value"),
        (base + ["--help=yes", "n", "v"], "unknown option"),
    ]
    for bad in ("", "abc", "-1", "1000001", " 1", "1 ", "+1", "1x", "0x10",
                "99999999999999999999"):
        cases.append((base + ["--key-version", bad, "n", "v"],
                      "--key-version needs an integer"))
    for bad in ("", "-1", "1e9", "1.5", "9223372036854775808", "now"):
        cases.append((base + ["--timestamp", bad, "n", "v"],
                      "--timestamp needs an integer"))
    for name in ("a b", "", "x" * 257, "caf\u00e9", "tab\there"):
        cases.append((base + ["--", name, "v"], "NAME must be"))
    cases.append((base + ["n", "v" * 3073], "longer than 3072"))
    for args, msg in cases:
        expect(args, 2, stderr_has=msg)


def test_sign_accepts_limits():
    path = secret_file(SECRET)
    expect(["sign", "--secret-file", path, "--key-version", "1000000",
            "--timestamp", "9223372036854775807", "x" * 256, "v" * 3072], 0,
           stdout=reference_sign(SECRET, "x" * 256, b"v" * 3072,
                                 2**63 - 1, 1000000) + b"\n")


def test_sign_reports_output_errors():
    if not os.path.exists("/dev/full"):
        return
    path = secret_file(SECRET)
    with open("/dev/full", "wb") as full:
        r = run("sign", "--secret-file", path, "n", "v", stdout=full)
    if r.returncode != 3 or b"cannot write output" not in r.stderr:
        raise Failure("writing to /dev/full: exit %d, %r" % (r.returncode,
                                                             r.stderr))


# ---- verify ---------------------------------------------------------------

def test_verify_decodes_tornado_vectors():
    for kv, ts, secret, name, value, signed in load_vectors():
        path = secret_file(secret + b"\n")
        expect(["verify", "--secret-file", path, "--now", str(ts), "--",
                name, signed], 0, stdout=value + b"\n")


def test_verify_accepts_any_key_version_with_one_secret():
    path = secret_file(SECRET)
    for kv in (0, 1, 7, 123, 1000000):
        signed = reference_sign(SECRET, "n", b"v", 100, kv)
        expect(["verify", "--secret-file", path, "--now", "100", "n",
                signed], 0, stdout=b"v\n")


def test_verify_rejects_invalid_values_with_one_line():
    path = secret_file(SECRET)
    good = reference_sign(SECRET, "session", b"hello", 1000).decode()
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    other = reference_sign(b"another secret of 32 bytes......", "session",
                           b"hello", 1000).decode()
    cases = [
        (flipped, "session", "signature does not match"),
        (good.replace("aGVsbG8=", "aGVsbG9="), "session",
         "signature does not match"),
        (other, "session", "signature does not match"),
        (good, "sessions", "signed for the name 'session'"),
        (good + "0", "session", "malformed"),
        (good[:-1], "session", "malformed"),
        ("", "session", "malformed"),
        ("garbage", "session", "malformed"),
        (good.upper(), "session", "malformed"),
        (good.replace("2|1:0|", "2|01:0|"), "session", "malformed"),
    ]
    for signed, name, why in cases:
        expect(["verify", "--secret-file", path, "--now", "1000", "--", name,
                signed], 1, stderr_has=why)


def test_verify_max_age():
    path = secret_file(SECRET)
    signed = reference_sign(SECRET, "s", b"v", 1000)
    base = ["verify", "--secret-file", path]
    # Default: Tornado's 31 days.
    expect(base + ["--now", str(1000 + 31 * DAY), "s", signed], 0,
           stdout=b"v\n")
    expect(base + ["--now", str(1001 + 31 * DAY), "s", signed], 1,
           stderr_has="too old")
    expect(base + ["--max-age-days", "0", "--now", "1000", "s", signed], 0,
           stdout=b"v\n")
    expect(base + ["--max-age-days", "0", "--now", "1001", "s", signed], 1,
           stderr_has="too old")
    expect(base + ["--max-age-days", "400", "--now", str(1000 + 400 * DAY),
                   "s", signed], 0, stdout=b"v\n")
    # Without --now the clock is read: a value from 1970 is too old.
    expect(base + ["s", signed], 1, stderr_has="too old")
    fresh = reference_sign(SECRET, "s", b"v", int(time.time()))
    expect(base + ["s", fresh], 0, stdout=b"v\n")


def test_verify_bad_arguments_give_usage():
    path = secret_file(SECRET)
    signed = reference_sign(SECRET, "s", b"v", 1000).decode()
    base = ["verify", "--secret-file", path]
    cases = [
        (["verify", "s", signed], "--secret-file is required"),
        (base + ["s"], "missing argument"),
        (base + ["s", signed, "x"], "unexpected argument"),
        (base + ["--max-age", "3", "s", signed], "unknown option"),
        (base + ["--max-age-days", "-1", "s", signed], "--max-age-days"),
        (base + ["--max-age-days", "1.5", "s", signed], "--max-age-days"),
        (base + ["--max-age-days", "106751991167301", "s", signed],
         "--max-age-days"),
        (base + ["--now", "yesterday", "s", signed], "--now"),
        (base + ["--now", "-5", "s", signed], "--now"),
        (base + ["s", "-" + signed], "unknown option"),
    ]
    for args, msg in cases:
        expect(args, 2, stderr_has=msg)


# ---- secret files ---------------------------------------------------------

def test_secret_file_errors():
    missing = os.path.join(TMP, "does-not-exist")
    cases = [
        (missing, "does-not-exist"),
        (secret_file(b"", "empty"), "is empty"),
        (secret_file(b"\n", "newline"), "is empty"),
        (secret_file(b"x" * 15, "short"), "too short: 15 bytes"),
        (secret_file(b"x" * 15 + b"\n", "short-nl"), "too short: 15 bytes"),
        (secret_file(b"x" * 1025, "long"), "longer than 1024"),
        (secret_file(b"x" * 1024 + b"\n\n", "long-nl"), "longer than 1024"),
        (TMP, "cannot read secret file"),
    ]
    for path, msg in cases:
        expect(["sign", "--secret-file", path, "n", "v"], 3, stderr_has=msg)
        expect(["verify", "--secret-file", path, "n", "2|"], 3,
               stderr_has=msg)


def test_secret_file_open_to_others_is_used_with_one_warning():
    """Security issue 12, item 6: any group or other permission bit earns
    one line on stderr naming the file and the fix; the secret still
    works."""
    want = reference_sign(SECRET, "n", b"v", 1) + b"\n"
    for mode in (0o644, 0o640, 0o604, 0o620, 0o601, 0o666):
        path = secret_file(SECRET, "open-%o" % mode)
        os.chmod(path, mode)
        r = run("sign", "--secret-file", path, "--timestamp", "1", "n", "v")
        lines = r.stderr.decode().splitlines()
        if r.returncode != 0 or r.stdout != want or len(lines) != 1 or \
                "warning: secret file '%s'" % path not in lines[0] or \
                "mode %04o" % mode not in lines[0] or \
                "chmod 600 '%s'" % path not in lines[0]:
            raise Failure("mode %o:\n  %s" % (mode, describe(["sign"], r)))
    for mode in (0o600, 0o400, 0o700):
        path = secret_file(SECRET, "closed-%o" % mode)
        os.chmod(path, mode)
        expect(["sign", "--secret-file", path, "--timestamp", "1", "n", "v"],
               0, stdout=want)


def test_verify_reads_signed_from_stdin():
    """Security issue 12, item 6: SIGNED '-' is read from standard input,
    so a cookie need not show in the process list."""
    path = secret_file(SECRET)
    signed = reference_sign(SECRET, "n", b"value", 7)
    base = ["verify", "--secret-file", path, "--now", "7", "n"]
    for data in (signed + b"\n", signed + b"\r\n", signed,
                 signed + b"\nthe second line is not read\n"):
        expect(base + ["-"], 0, stdout=b"value\n", input=data)
        expect(base[:-1] + ["--", "n", "-"], 0, stdout=b"value\n", input=data)
    expect(base + [signed.decode()], 0, stdout=b"value\n")  # argv still works
    for data in (b"", b"\n", b"\r\n"):
        expect(base + ["-"], 2, stderr_has="no line on standard input for "
               "'SIGNED'", input=data)
    expect(base + ["-"], 1, stderr_has="longer than 8192 bytes",
           input=b"2" * 8193 + b"\n")
    expect(base + ["-"], 1, stderr_has="longer than 8192 bytes",
           input=b"2" * 100000)
    expect(base + ["-"], 1, stderr_has="invalid signed value",
           input=b"2" * 8192 + b"\r\n")  # as long as may be: checked
    expect(base + ["-"], 1, stderr_has="NUL byte", input=signed + b"\0\n")
    expect(base + ["-"], 1, stderr_has="invalid signed value",
           input=signed[:-1] + b"0\n")
    if b"standard input" not in expect(["verify", "--help"], 0).stdout:
        raise Failure("verify --help does not mention standard input")


def test_secret_file_drops_exactly_one_newline():
    cases = [
        (b"x" * 16, b"x" * 16),
        (b"x" * 16 + b"\n", b"x" * 16),
        (b"x" * 16 + b"\n\n", b"x" * 16 + b"\n"),
        (b"x" * 15 + b"\n\n", b"x" * 15 + b"\n"),
        (b"x" * 16 + b"\r\n", b"x" * 16 + b"\r"),
        (b"x" * 1024 + b"\n", b"x" * 1024),
        (bytes(range(256)), bytes(range(256))),
    ]
    for content, secret in cases:
        path = secret_file(content)
        expect(["sign", "--secret-file", path, "--timestamp", "1", "n", "v"],
               0, stdout=reference_sign(secret, "n", b"v", 1) + b"\n")


def main():
    global TOOL, TMP
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    TOOL = os.path.abspath(sys.argv[1])
    os.umask(0o077)  # secret files readable by their owner only, as they
    # should be: the tool warns about any other mode (tested on its own)
    tests = [(name, fn) for name, fn in globals().items()
             if name.startswith("test_") and callable(fn)]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        TMP = tmp
        for name, fn in tests:
            try:
                fn()
                print("ok    %s" % name)
            except Failure as e:
                failed += 1
                print("FAIL  %s\n  %s" % (name, e))
            except Exception:
                failed += 1
                print("ERROR %s\n%s" % (name, traceback.format_exc()))
    print("%d of %d tool tests failed" % (failed, len(tests)) if failed
          else "all %d tool tests passed" % len(tests))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
