"""What every test of a session check at the edge asserts, whoever checks
(the nginx module, mcsession-gate behind auth_request): the scenarios of
issue 14, section 3, over a `get(cookie)` that sends one gated request
with that Cookie header (None: none) and returns the Response.

`env` is the test's dict with: demo (demo_harness.Demo, native sessions),
mc (demo_harness.Memcached), url (its memcached URL) and secret (the
demo's secret file). Set gate_harness.TOOL first."""
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

import demo_harness
import gate_harness
from demo_harness import Demo, start_memcached, write_secret
from gate_harness import mc_commands, mc_stats, tool
from tornado_harness import RecipeApp

# Cookie headers a client may send: each must get a 4xx, never a 5xx
# (the native cookie's name; the tornado test renames it).
HOSTILE_COOKIES = [
    "; ".join("k%d=v" % i for i in range(1000)),  # 7.9 KB
    "session=" + "x" * 7000,
    "session=\x01\x02\x7f\x80\xff\"\\;;;",
    "session=" + "; session=".join(["2|1:0|x"] * 300),
]


def write(directory, name, text):
    """A file of `text` and a newline, readable by its owner only."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


def start_apps(env, prefix, listen="127.0.0.1"):
    """Fills `env`: a temporary dir, the demo's secret, the recipe's two
    secret files (cookie_file, session_file), memcached (mc, on `listen`)
    and its url, the demo and the recipe app (py) on it."""
    d = env["dir"] = tempfile.mkdtemp(prefix=prefix)
    env["secret"] = write_secret(d, "s" * 32)
    env["cookie_file"] = write(d, "cookie_secret",
                               "cookie secret, 32 bytes long!!")
    env["session_file"] = write(d, "session_secret", "session secret")
    mc = env["mc"] = start_memcached(listen)
    env["url"] = "memcached://127.0.0.1:%d" % mc.port
    env["demo"] = Demo("--store", env["url"], secret_file=env["secret"])
    env["py"] = RecipeApp([mc.port], env["cookie_file"],
                          env["session_file"])


def stop_apps(env, names):
    """Stops env's processes `names` (in that order), then the demo, the
    recipe app and memcached, removes the dir; raises the first error a
    stop reported."""
    errors = []
    for name in list(names) + ["py", "demo"]:
        if name in env:
            try:
                env[name].stop()
            except Exception as e:  # noqa: BLE001 - re-raised below
                errors.append(e)
    if "mc" in env:
        env["mc"].kill()
    shutil.rmtree(env.get("dir", "/nonexistent"), ignore_errors=True)
    if errors:
        raise errors[0]


def native(c):
    """A browser's Cookie header around the demo's session cookie."""
    return "theme=dark; session=" + c + "; lang=en"


def _touch(env, cookie, seconds):
    return tool("touch", "--store", env["url"], "--secret-file",
                env["secret"], "-", str(seconds), stdin=cookie + "\n")


def expired_destroyed_revoked(tc, env, get):
    """No cookie, a forged one, an expired, a destroyed (logout) and a
    revoked (logout everywhere, noticed within the revocation check
    interval, 5 s) session: 401; a live one 200."""
    demo = env["demo"]
    tc.assertEqual(get(None).status, 401)
    _, c = demo.login("bob")
    tc.assertEqual(get(native(c)).status, 200)
    tc.assertEqual(get(native(c[:-4] + "AAAA")).status, 401)
    # Expired: a minute's life shortened to one second.
    rc, out = _touch(env, c, 1)
    tc.assertEqual(rc, 0, out)
    time.sleep(2.2)
    tc.assertEqual(get(native(c)).status, 401)
    # Destroyed: logged out in the application.
    _, c = demo.login("carol")
    tc.assertEqual(get(native(c)).status, 200)
    token = demo.get("/", cookie=c).xsrf()
    demo.post("/logout", {"_xsrf": token}, cookie=c)
    tc.assertEqual(get(native(c)).status, 401)
    # Revoked: logged out everywhere from another session.
    _, laptop = demo.login("dave")
    _, phone = demo.login("dave")
    tc.assertEqual(get(native(phone)).status, 200)
    token = demo.get("/", cookie=laptop).xsrf()
    demo.post("/logout-everywhere", {"_xsrf": token}, cookie=laptop)
    deadline = time.monotonic() + 8
    while get(native(phone)).status == 200:
        tc.assertLess(time.monotonic(), deadline, "revocation ignored")
        time.sleep(0.25)
    tc.assertEqual(get(native(phone)).status, 401)


def one_command_per_request(tc, env, get, idle_timeout):
    """Ten gated requests: ten memcached commands, no write, and the
    session's expiry slid back to `idle_timeout` seconds."""
    _, c = env["demo"].login("frank")
    tc.assertEqual(get(native(c)).status, 200)  # warm
    rc, _ = _touch(env, c, 5)
    tc.assertEqual(rc, 0)
    before = mc_stats(env["mc"].port)
    for _ in range(10):
        tc.assertEqual(get(native(c)).status, 200)
    after = mc_stats(env["mc"].port)
    tc.assertEqual(mc_commands(before, after), 10)
    tc.assertEqual(after["cmd_set"], before["cmd_set"])
    rc, out = tool("show", "--store", env["url"], "--secret-file",
                   env["secret"], "--json", "-", stdin=c + "\n")
    tc.assertEqual(rc, 0)
    tc.assertTrue(idle_timeout - 10 <= json.loads(out)["ttl"]
                  <= idle_timeout, out)
    return before, after


def stalled_memcached(tc, env, get, quick, io_timeout_ms, status=503):
    """memcached frozen (SIGSTOP): three gated requests at once each answer
    `status` within the store's io timeout (+1.5 s), while quick() (other
    requests, which must not wait) runs five times in under 0.5 s each;
    memcached back (SIGCONT): a gated request passes again within 10 s.
    Returns the three gated responses."""
    _, c = env["demo"].login("heidi")
    tc.assertEqual(get(native(c)).status, 200)
    mc = env["mc"]
    os.kill(mc.proc.pid, signal.SIGSTOP)
    try:
        waited = []

        def gated():
            t = time.monotonic()
            r = get(native(c))
            waited.append((r, time.monotonic() - t))

        threads = [threading.Thread(target=gated) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        for _ in range(5):
            t = time.monotonic()
            quick()
            tc.assertLess(time.monotonic() - t, 0.5)
        for t in threads:
            t.join(10)
        tc.assertEqual(len(waited), 3)
        for r, took in waited:
            tc.assertEqual(r.status, status)
            tc.assertLess(took, io_timeout_ms / 1000 + 1.5)
    finally:
        os.kill(mc.proc.pid, signal.SIGCONT)
    t0 = time.monotonic()
    while get(native(c)).status != 200:
        tc.assertLess(time.monotonic() - t0, 10, "no recovery")
        time.sleep(0.2)
    return [r for r, _ in waited]


def main(usage):
    """A test file's main(): argv[1] and its usage say what it is (the
    caller takes it first), then DEMO and TOOL; skips (77) without
    memcached or nginx; runs the tests named after them, or all."""
    if len(sys.argv) < 3:
        sys.exit("usage: " + usage)
    demo_harness.DEMO = os.path.abspath(sys.argv.pop(1))
    gate_harness.TOOL = os.path.abspath(sys.argv.pop(1))
    for prog in ("memcached", "nginx"):
        if not shutil.which(prog) and not os.path.exists("/usr/sbin/" + prog):
            print("skipping: %s is not installed" % prog, file=sys.stderr)
            sys.exit(77)
    unittest.main(verbosity=2, module="__main__")
