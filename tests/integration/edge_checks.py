"""What every test of a session check at the edge asserts, whoever checks
(the nginx module, mcsession-gate behind auth_request): the scenarios of
issue 14, section 3, over a `get(cookie)` that sends one gated request
with that Cookie header (None: none) and returns the Response.

`env` is the test's dict with: demo (demo_harness.Demo, native sessions),
mc (demo_harness.Memcached), url (its memcached URL) and secret (the
demo's secret file). Set gate_harness.TOOL first."""
import json
import os
import signal
import threading
import time

from gate_harness import mc_commands, mc_stats, tool

# Cookie headers a client may send: each must get a 4xx, never a 5xx
# (the native cookie's name; the tornado test renames it).
HOSTILE_COOKIES = [
    "; ".join("k%d=v" % i for i in range(1000)),  # 7.9 KB
    "session=" + "x" * 7000,
    "session=\x01\x02\x7f\x80\xff\"\\;;;",
    "session=" + "; session=".join(["2|1:0|x"] * 300),
]


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
