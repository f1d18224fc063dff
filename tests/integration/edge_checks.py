"""What every test of a session check at the edge asserts, whoever checks
(the nginx module, mcsession-gate behind auth_request): the scenarios of
issue 14, section 3, over a `get(cookie)` that sends one gated request
with that Cookie header (None: none) and returns the Response.

`env` is the test's dict with: demo (demo_harness.Demo, native sessions),
mc (demo_harness.Memcached), url (its memcached URL), secret (the demo's
secret file), cookie_file and session_file (the recipe's secrets):
start_apps() fills it. Set gate_harness.TOOL first."""
import gc
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest
import warnings

import demo_harness
import gate_harness
from demo_harness import Demo, start_memcached, write_secret
from gate_harness import mc_commands, mc_stats, tool
from tornado_harness import RecipeApp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tornado"))
import recipe_session  # noqa: E402 (the recipe's own session code)

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
    demo_harness.freeze(mc.proc.pid)
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
    recovers(tc, get, native(c))
    return [r for r, _ in waited]


def recovers(tc, get, cookie):
    """memcached is back: a gated request with `cookie` (a live session)
    passes again within 10 s."""
    t0 = time.monotonic()
    while get(cookie).status != 200:
        tc.assertLess(time.monotonic() - t0, 10, "no recovery")
        time.sleep(0.2)


class _RecipeHandler:
    """What the recipe's SessionManager.set needs of a Tornado handler:
    the two cookies it sets, signed as Tornado signs them."""

    def __init__(self, cookie_secret):
        self.cookie_secret = cookie_secret
        self.jar = {}

    def set_secure_cookie(self, name, value):
        import tornado.web
        self.jar[name] = tornado.web.create_signed_value(
            self.cookie_secret, name, value).decode()


def read_secret(path):
    """A secret file's text, one trailing newline dropped (as the
    recipe app reads it)."""
    with open(path) as f:
        text = f.read()
    return text[:-1] if text.endswith("\n") else text


def recipe_cookie(env, data, ports):
    """The Cookie header of a session the recipe's own code stores with
    `data` (a dict) on the memcached servers `ports` (python-memcache's
    choice among them): what a Tornado application whose login stored
    any string as its user_name leaves (the recipe app's form strips the
    spaces a name starts or ends with)."""
    manager = recipe_session.SessionManager(
        read_secret(env["session_file"]), ["127.0.0.1:%d" % p for p in ports],
        3600)
    session = manager.get()
    session.update(data)
    handler = _RecipeHandler(read_secret(env["cookie_file"]))
    # The recipe leaves its memcache clients to the garbage collector.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        manager.set(handler, session)
        gc.collect()
    return "; ".join("%s=%s" % kv for kv in handler.jar.items())


def spaced_users_are_no_users(tc, env, get, answer=401):
    """Tornado sessions whose user_name starts or ends with a space (a
    backend that trims it would read another user), or is one: `answer`,
    as for no user; the same name without the spaces passes (200). `get`
    sends one request gated in tornado mode with that Cookie header."""
    port = env["mc"].port
    tc.assertEqual(get(recipe_cookie(env, {"user_name": "bob"},
                                     [port])).status, 200)
    for name in (" bob", "bob ", " bob ", " ", "\tbob"):
        r = get(recipe_cookie(env, {"user_name": name}, [port]))
        tc.assertEqual(r.status, answer, repr(name))


def worker_pids(master):
    """nginx's worker processes: the children of its master (the kernel's
    list of a thread's children, proc(5); nginx's master has one
    thread)."""
    with open("/proc/%d/task/%d/children" % (master, master)) as f:
        return sorted(int(pid) for pid in f.read().split())


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for PID %d" % pid)


def _send(port, path, cookie, n):
    """n gated requests on n connections, left open: the sockets."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port),
                                         demo_harness.TIMEOUT)
            socks.append(s)
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Cookie: %s\r\n\r\n" % (path, cookie)).encode())
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def _settle(pids, fds, seconds):
    """Waits until each of `pids` holds no more descriptors than `fds`
    gives it (the parked requests are answered and gone): True, or False
    after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(open_fds(p) <= fds[p] for p in pids):
            return True
        time.sleep(0.1)
    return False


def _rises(pids, fds, by, seconds):
    """True once one of `pids` holds `by` descriptors more than `fds`
    gives it, within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(open_fds(p) - fds[p] >= by for p in pids):
            return True
        time.sleep(0.01)
    return False


def closes_while_parked(tc, env, port, path, pids, quick, io_timeout_ms,
                        slack=0, rounds=6, per_round=100):
    """memcached frozen (SIGSTOP): `rounds` times, `per_round` clients send
    a gated request (`path` on `port`, a live session) and close their
    connection while it waits for the store (once half of them, at least,
    are seen waiting: nginx's worker holds their connections). After each
    round, once the store's io timeout has answered them, every process
    pids() gives (nginx's worker, the gate) is the same as before (none died
    and was replaced), holds at most `slack` descriptors more than before
    (an upstream's kept-alive connections), and quick() (a request that
    needs no store) is answered at once.

    Memory: from the second round's end (free lists and pools warm) to the
    last's, no resident set grows by more than 1 MiB. How many requests
    wait at once varies from round to round on a loaded machine, and with
    it the allocator's high-water mark, so a larger growth is looked at
    again: three more rounds must then add no more than 256 KiB (a leak of
    1 KiB per close would add 300). Then memcached runs again, and the
    session passes again (recovers())."""
    _, c = env["demo"].login("quentin")
    cookie = native(c)
    before = pids()
    base = {p: open_fds(p) for p in before}
    fds = {p: base[p] + slack for p in before}
    mc = env["mc"]

    def one_round(i):
        socks = _send(port, path, cookie, per_round)
        try:
            # Taken in and waiting for the store (the io timeout).
            tc.assertTrue(_rises(before, base, per_round // 2,
                                 io_timeout_ms / 1000),
                          "the requests were not parked: %s "
                          "descriptors, %s before" % (
                              {p: open_fds(p) for p in before}, base))
        finally:
            for s in socks:
                s.close()
        t = time.monotonic()
        quick()
        tc.assertLess(time.monotonic() - t, 0.5)
        tc.assertTrue(_settle(before, fds, io_timeout_ms / 1000 + 5),
                      "descriptors after round %d: %s, at most %s"
                      % (i, {p: open_fds(p) for p in before}, fds))
        tc.assertEqual(pids(), before, "a process was replaced")
        return {p: rss_kib(p) for p in before}

    demo_harness.freeze(mc.proc.pid)
    try:
        rss = [one_round(i) for i in range(rounds)]
        grown = {p: rss[-1][p] - rss[1][p] for p in before}
        if any(g > 1024 for g in grown.values()):
            more = [one_round(rounds + i) for i in range(3)]
            still = {p: more[-1][p] - rss[-1][p] for p in before}
            tc.assertTrue(all(g <= 256 for g in still.values()),
                          "resident set growth (KiB) over %d closes: %s, "
                          "then over %d more: %s"
                          % ((rounds - 2) * per_round, grown,
                             3 * per_round, still))
    finally:
        os.kill(mc.proc.pid, signal.SIGCONT)
    recovers(tc, lambda c: gate_harness.http(port, path=path,
                                             headers={"Cookie": c}), cookie)


def over_http2(tc, port, path, cases):
    """`cases`, (Cookie header or None, status, body or None) each, sent
    at once as the streams of one cleartext HTTP/2 connection to `port`,
    `path` (prior knowledge, no upgrade: nginx's `listen ... http2`)
    before any answer is read: each stream gets its status (and body).
    curl 7.88 cannot reuse a prior-knowledge connection ("Error in the
    HTTP2 framing layer"), so the client is python3-h2's protocol
    machine on a plain socket. Skips without python3-h2."""
    try:
        import h2.config
        import h2.connection
        import h2.events
    except ImportError:
        tc.skipTest("no python3-h2")
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    streams = {}
    for i, (cookie, _, _) in enumerate(cases):
        sid = conn.get_next_available_stream_id()
        headers = [(":method", "GET"), (":scheme", "http"),
                   (":authority", "127.0.0.1:%d" % port),
                   (":path", "%s?stream=%d" % (path, i))]
        if cookie is not None:
            headers.append(("cookie", cookie))
        conn.send_headers(sid, headers, end_stream=True)
        streams[sid] = dict(case=i, body=b"")
    with socket.create_connection(("127.0.0.1", port),
                                  demo_harness.TIMEOUT) as s:
        s.sendall(conn.data_to_send())
        ended = 0
        while ended < len(streams):
            data = s.recv(65536)
            tc.assertTrue(data, "nginx closed the connection")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    streams[ev.stream_id]["status"] = int(
                        dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id]["body"] += ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended += 1
                elif isinstance(ev, (h2.events.StreamReset,
                                     h2.events.ConnectionTerminated)):
                    tc.fail("HTTP/2: %r" % ev)
            s.sendall(conn.data_to_send())
    for st in streams.values():
        cookie, status, body = cases[st["case"]]
        tc.assertEqual(st.get("status"), status, (st["case"], cookie))
        if body is not None:
            tc.assertEqual(st["body"].decode(), body, (st["case"], cookie))


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
