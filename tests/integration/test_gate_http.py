#!/usr/bin/python3
"""mcsession-gate over HTTP, standard library only (plus Debian's
python3-tornado and python3-memcache for the Tornado cases).

Usage: test_gate_http.py GATE DEMO TOOL [TEST...]

GATE is build/mcsession-gate, DEMO build/mcsession-demo (it makes the
native sessions, through the C library, and logs users out), TOOL
build/mcsession (it reads and shortens sessions' lifetimes). Every process
listens on 127.0.0.1 (port 0 or a free port), each test's memcached
included, and is stopped by its PID. Skips (77) without memcached.

Covers: a native session with a user passes (200, X-Session-User), on any
path and method, with no Set-Cookie; no cookie, forged, anonymous,
destroyed, expired, retired and revoked sessions get 401 with the
outcome; a request slides the idle expiry with exactly one memcached
command and writes nothing; a Tornado recipe session passes in tornado
mode, and user names a header cannot carry are refused; hostile requests
never get a 5xx and the gate keeps serving; a stalled memcached gives 503
within the store's io timeout while other requests are answered at once,
logged once, and the gate recovers; a killed and restarted memcached too;
bad flags exit 2 naming the flag.
"""
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

import demo_harness
import gate_harness
from demo_harness import (TIMEOUT, Demo, Memcached, start_memcached,
                          write_secret)
from gate_harness import (Gate, http, mc_commands, mc_stats, raw_status,
                          run_gate, tool)


def cookie(c):
    return {"Cookie": "session=" + c}


class NativeTest(unittest.TestCase):
    """One memcached, the demo making sessions, one gate reading them."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.secret = write_secret(cls.dir.name, "s" * 32)
        cls.mc = start_memcached()
        cls.url = "memcached://127.0.0.1:%d" % cls.mc.port
        cls.demo = Demo("--store", cls.url, secret_file=cls.secret)
        cls.gate = Gate("--store", cls.url, "--secret-file", cls.secret,
                        "--idle-timeout", "600", "--threads", "2")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gate.stop()
            cls.demo.stop()
        finally:
            cls.mc.kill()
            cls.dir.cleanup()

    def tearDown(self):
        self.assertTrue(self.gate.alive(), "gate died: " + self.gate.err())

    def ask(self, c=None, **kw):
        headers = dict(kw.pop("headers", {}))
        if c is not None:
            headers.update(cookie(c))
        return http(self.gate.port, headers=headers, **kw)

    def ttl(self, c):
        rc, out = tool("show", "--store", self.url, "--secret-file",
                       self.secret, "--json", "-", stdin=c + "\n")
        self.assertEqual(rc, 0, out)
        import json
        return json.loads(out)["ttl"]

    def test_a_session_with_a_user_passes_on_any_path_and_method(self):
        _, c = self.demo.login("alice")
        for method, path in (("GET", "/"), ("GET", "/any/path?x=1"),
                             ("POST", "/form"), ("HEAD", "/h"),
                             ("DELETE", "/d")):
            r = self.ask(c, method=method, path=path,
                         body="a=1" if method == "POST" else None)
            self.assertEqual(r.status, 200, (method, path))
            self.assertEqual(r.header("X-Session-User"), "alice")
            self.assertEqual(r.header("X-Session-Outcome"), "loaded")
            self.assertEqual(r.set_cookies(), [])

    def test_no_cookie_forged_and_anonymous_get_401(self):
        r = self.ask()
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "new"))
        self.assertIsNone(r.header("X-Session-User"))
        _, c = self.demo.login("bob")
        for bad in (c[:-2] + ("AA" if not c.endswith("AA") else "BB"),
                    "2|1:0|10:1700000000|7:session|4:eHg=|" + "0" * 64):
            r = self.ask(bad)
            self.assertEqual((r.status, r.header("X-Session-Outcome")),
                             (401, "forged"), bad)
        anon = self.demo.get("/count").cookie()  # stored, no user
        r = self.ask(anon)
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "loaded"))
        self.assertEqual(r.set_cookies(), [])

    def test_destroyed_retired_and_revoked_sessions_get_401(self):
        # Carol's stored visitor session; she logs in with it (regenerate).
        before = self.demo.get("/count").cookie()
        r = self.demo.get("/login", cookie=before)
        r = self.demo.post("/login", {"name": "carol", "_xsrf": r.xsrf()},
                           cookie=before)
        self.assertEqual(r.status, 302)
        c = r.cookie()
        # The cookie from before the login: a retired snapshot, nobody.
        r = self.ask(before)
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "retired"))
        self.assertEqual(self.ask(c).status, 200)
        token = self.demo.get("/", cookie=c).xsrf()
        r = self.demo.post("/logout", {"_xsrf": token}, cookie=c)
        self.assertEqual(r.status, 302)
        r = self.ask(c)
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "expired"))
        # Revoked: the user logs out everywhere from another session; the
        # gate (another process) notices within its revocation check
        # interval (5 s).
        _, laptop = self.demo.login("dave")
        _, phone = self.demo.login("dave")
        self.assertEqual(self.ask(phone).status, 200)
        token = self.demo.get("/", cookie=laptop).xsrf()
        r = self.demo.post("/logout-everywhere", {"_xsrf": token},
                           cookie=laptop)
        self.assertEqual(r.status, 302)
        deadline = time.monotonic() + 8
        while self.ask(phone).status == 200:
            self.assertLess(time.monotonic(), deadline, "revocation ignored")
            time.sleep(0.25)
        r = self.ask(phone)
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "expired"))

    def test_expired_session_gets_401(self):
        _, c = self.demo.login("erin")
        rc, out = tool("touch", "--store", self.url, "--secret-file",
                       self.secret, "-", "1", stdin=c + "\n")
        self.assertEqual(rc, 0, out)
        time.sleep(2.2)
        r = self.ask(c)
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "expired"))

    def test_each_request_slides_the_expiry_in_one_command(self):
        _, c = self.demo.login("frank")
        self.assertGreater(self.ttl(c), 1000)  # the demo's 1800 s
        # The first load of a user reads its revocation state once; the
        # next ones within 5 s trust the cache.
        self.assertEqual(self.ask(c).status, 200)
        rc, _ = tool("touch", "--store", self.url, "--secret-file",
                     self.secret, "-", "5", stdin=c + "\n")
        self.assertEqual(rc, 0)
        s = socket.create_connection(("127.0.0.1", self.gate.port), TIMEOUT)
        try:
            before = mc_stats(self.mc.port)
            for _ in range(20):
                r = http(self.gate.port, headers=cookie(c), sock=s)
                self.assertEqual(r.status, 200)
            after = mc_stats(self.mc.port)
        finally:
            s.close()
        self.assertEqual(mc_commands(before, after), 20)
        self.assertEqual(after["cmd_set"], before["cmd_set"])  # no save
        # The 5 s touch was slid to the gate's idle timeout, 600 s.
        self.assertTrue(590 <= self.ttl(c) <= 600, self.ttl(c))

    def test_hostile_requests_get_4xx_and_the_gate_keeps_serving(self):
        _, c = self.demo.login("grace")
        cases = {
            "huge": "session=" + "x" * 20000,
            "over 64 pairs": "; ".join("k%d=v" % i for i in range(100)),
            "binary": "session=" + "".join(chr(b) for b in
                                           range(0x80, 0x100)) + "\x01\x7f",
            "quotes": 'session="2|1:0|' + '"' * 500,
        }
        for name, value in cases.items():
            r = http(self.gate.port, headers={"Cookie": value})
            self.assertEqual((r.status, r.header("X-Session-Outcome")),
                             (401, "refused" if name in ("huge",
                                                         "over 64 pairs")
                              else "forged"), name)
        # Thousands of pairs: libmicrohttpd splits the Cookie header into
        # its connection's memory and answers 431 itself when they do not
        # fit (docs/nginx.md: pass the gate the session cookie alone).
        r = http(self.gate.port, headers={"Cookie": "; ".join(
            "k%d=v" % i for i in range(3000))})
        self.assertEqual(r.status, 431)
        # A header block beyond the gate's 64 KiB per connection: MHD's
        # own 431.
        big = ("GET / HTTP/1.1\r\nHost: x\r\n" +
               "".join("X-%d: %s\r\n" % (i, "y" * 8000) for i in range(9)) +
               "\r\n").encode()
        self.assertEqual(raw_status(self.gate.port, big), 431)
        # Nginx's largest (4 x 8 KiB) fits.
        r = http(self.gate.port, headers={
            "Cookie": "session=" + c, "X-A": "a" * 8000, "X-B": "b" * 8000,
            "X-C": "c" * 8000})
        self.assertEqual((r.status, r.header("X-Session-User")),
                         (200, "grace"))
        rng = random.Random(14)
        for _ in range(200):
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(
                1, 400)))
            status = raw_status(self.gate.port, rng.choice(
                [b"", b"GET / HTTP/1.1\r\nCookie: "]) + junk + b"\r\n\r\n")
            self.assertLess(status, 500, junk)
        self.assertEqual(self.ask(c).status, 200)

    def test_keep_alive(self):
        _, c = self.demo.login("heidi")
        s = socket.create_connection(("127.0.0.1", self.gate.port), TIMEOUT)
        try:
            for i in range(10):
                r = http(self.gate.port, headers=cookie(c) if i % 2 else {},
                         sock=s)
                self.assertEqual(r.status, 200 if i % 2 else 401)
        finally:
            s.close()


class TornadoTest(unittest.TestCase):
    """The recipe app (Python) makes the sessions; the gate in tornado
    mode reads them."""

    @classmethod
    def setUpClass(cls):
        try:
            import memcache  # noqa: F401
            import tornado  # noqa: F401
        except ImportError as e:
            raise unittest.SkipTest("no tornado/memcache: %s" % e)
        from tornado_harness import RecipeApp
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.cookie_file = os.path.join(d, "cookie_secret")
        cls.session_file = os.path.join(d, "session_secret")
        for path, text in ((cls.cookie_file, "cookie secret of the app, 32b"),
                           (cls.session_file, "the recipe's session secret")):
            with open(path, "w") as f:
                f.write(text + "\n")
            os.chmod(path, 0o600)
        cls.mc = start_memcached()
        cls.url = "memcached://127.0.0.1:%d" % cls.mc.port
        cls.py = RecipeApp([cls.mc.port], cls.cookie_file, cls.session_file)
        cls.gate = Gate("--mode", "tornado", "--store", cls.url,
                        "--cookie-secret-file", cls.cookie_file,
                        "--session-secret-file", cls.session_file,
                        "--idle-timeout", "3600")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.gate.stop()
        finally:
            cls.py.stop()
            cls.mc.kill()
            cls.dir.cleanup()

    def header(self, browser):
        return {"Cookie": "; ".join("%s=%s" % kv
                                    for kv in browser.jar.items())}

    def test_a_recipe_session_passes(self):
        from tornado_harness import Browser
        b = Browser()
        b.login(self.py, "Zoë Tornado")
        r = http(self.gate.port, headers=self.header(b))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Session-User").encode("latin-1")
                         .decode("utf-8"), "Zoë Tornado")
        self.assertEqual(r.set_cookies(), [])
        # No user yet: a session the recipe stored for a visitor.
        anon = Browser()
        anon.get(self.py, "/count")
        r = http(self.gate.port, headers=self.header(anon))
        self.assertEqual((r.status, r.header("X-Session-Outcome")),
                         (401, "loaded"))
        # A tampered verification cookie.
        bad = Browser(b.jar)
        bad.jar["verification"] = bad.jar["verification"][:-3] + '00"'
        r = http(self.gate.port, headers=self.header(bad))
        self.assertEqual(r.status, 401)

    def test_user_names_a_header_cannot_carry_are_refused(self):
        from tornado_harness import Browser
        # Tornado's get_argument keeps CR and LF: a user name that would
        # split the header, and one the proxy would strip to another name.
        for name in ("mallory\r\nX-Session-User: admin", "x\ty"):
            b = Browser()
            b.login(self.py, name)
            r = http(self.gate.port, headers=self.header(b))
            self.assertEqual((r.status, r.header("X-Session-Outcome")),
                             (401, "loaded"), repr(name))
            self.assertIsNone(r.header("X-Session-User"))
        self.assertIn("cannot be sent in a header", self.gate.err())

    def test_another_user_key(self):
        from tornado_harness import Browser
        b = Browser()
        b.login(self.py, "ivan")
        other = Gate("--mode", "tornado", "--store", self.url,
                     "--cookie-secret-file", self.cookie_file,
                     "--session-secret-file", self.session_file,
                     "--user-key", "count")  # not a string: nobody
        try:
            b.get(self.py, "/count")
            r = http(other.port, headers=self.header(b))
            self.assertEqual(r.status, 401)
        finally:
            other.stop()


class StoreFailureTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.secret = write_secret(self.dir.name, "s" * 32)
        self.mc = start_memcached()
        self.url = "memcached://127.0.0.1:%d" % self.mc.port
        self.demo = Demo("--store", self.url, secret_file=self.secret)

    def tearDown(self):
        try:
            self.demo.stop()
        finally:
            self.mc.kill()
            self.dir.cleanup()

    def test_a_stalled_store_gives_503_in_time_and_others_are_served(self):
        gate = Gate("--store", self.url + "?io_timeout_ms=1000",
                    "--secret-file", self.secret, "--threads", "1")
        try:
            _, c = self.demo.login("stalled")
            self.assertEqual(http(gate.port, headers=cookie(c)).status, 200)
            demo_harness.freeze(self.mc.proc.pid)
            try:
                waited = []

                def gated():
                    t = time.monotonic()
                    r = http(gate.port, headers=cookie(c))
                    waited.append((r.status, time.monotonic() - t))

                threads = [threading.Thread(target=gated) for _ in range(4)]
                for t in threads:
                    t.start()
                time.sleep(0.1)
                for _ in range(5):  # the same single thread answers these
                    t = time.monotonic()
                    self.assertEqual(http(gate.port).status, 401)
                    self.assertLess(time.monotonic() - t, 0.5)
                for t in threads:
                    t.join(TIMEOUT)
                for status, took in waited:
                    self.assertEqual(status, 503)
                    self.assertLess(took, 2.5)  # io_timeout_ms=1000
            finally:
                os.kill(self.mc.proc.pid, signal.SIGCONT)
            deadline = time.monotonic() + 10
            while http(gate.port, headers=cookie(c)).status != 200:
                self.assertLess(time.monotonic(), deadline, "no recovery")
                time.sleep(0.2)
            err = gate.err()
            self.assertEqual(err.count("the session store failed"), 1, err)
            self.assertIn("answers again", err)
        finally:
            gate.stop()

    def test_a_dead_store_gives_503_and_a_restarted_one_serves(self):
        gate = Gate("--store", self.url, "--secret-file", self.secret)
        try:
            _, c = self.demo.login("durable")
            self.assertEqual(http(gate.port, headers=cookie(c)).status, 200)
            self.mc.kill()
            for _ in range(3):
                self.assertEqual(http(gate.port, headers=cookie(c)).status,
                                 503)
            self.assertEqual(http(gate.port).status, 401)  # no store needed
            self.mc = Memcached(self.mc.port)
            # Every thread's connection comes back (each retries on its
            # own), within seconds. The restarted memcached is empty: the
            # session is gone.
            deadline = time.monotonic() + 15
            while any(http(gate.port, headers=cookie(c)).status == 503
                      for _ in range(8)):
                self.assertLess(time.monotonic(), deadline, "no recovery")
                time.sleep(0.25)
            r = http(gate.port, headers=cookie(c))
            self.assertEqual((r.status, r.header("X-Session-Outcome")),
                             (401, "expired"))
            _, c2 = self.demo.login("back")
            self.assertEqual(http(gate.port, headers=cookie(c2)).status, 200)
        finally:
            gate.stop()


class RedisTest(unittest.TestCase):
    """The demo and the gate on one private redis-server (redis://): a
    session with a user passes, none gets 401, a killed server 503."""

    def setUp(self):
        if not shutil.which("redis-server"):
            self.skipTest("redis-server is not installed")
        self.dir = tempfile.TemporaryDirectory()
        self.secret = write_secret(self.dir.name, "s" * 32)
        self.rd = demo_harness.start_server(demo_harness.Redis)
        self.url = "redis://127.0.0.1:%d/1?io_timeout_ms=500" % self.rd.port

    def tearDown(self):
        self.rd.kill()
        self.dir.cleanup()

    def test_sessions_from_the_demo_pass_the_gate(self):
        demo = Demo("--store", self.url, secret_file=self.secret)
        gate = Gate("--store", self.url, "--secret-file", self.secret)
        try:
            _, c = demo.login("rosa")
            r = http(gate.port, headers=cookie(c))
            self.assertEqual((r.status, r.header("X-Session-User")),
                             (200, "rosa"))
            self.assertEqual(r.set_cookies(), [])
            self.assertEqual(http(gate.port).status, 401)
            self.rd.kill()
            self.assertEqual(http(gate.port, headers=cookie(c)).status, 503)
        finally:
            gate.stop()
            demo.stop()


class FlagsTest(unittest.TestCase):
    def test_help_version_and_bad_flags(self):
        rc, out, _ = run_gate("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: mcsession-gate ", out)
        rc, out, _ = run_gate("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^mcsession-gate \d+\.\d+")
        with tempfile.TemporaryDirectory() as d:
            s = write_secret(d, "s" * 32)
            store = ["--store", "memcached://127.0.0.1:1"]
            cases = [
                ([], "--store is required"),
                (["--store", "memory", "--secret-file", s], "memcached://"),
                (["--store", "http://x", "--secret-file", s], "http://x"),
                (["--store", "redis://x?db=1&db=2", "--secret-file", s],
                 "--store URL"),
                (["--store", "redis://127.0.0.1:1", "--mode", "tornado",
                  "--cookie-secret-file", s, "--session-secret-file", s],
                 "--mode tornado keeps its sessions in memcached"),
                (store, "--secret-file is required"),
                (store + ["--secret-file", s, "--bogus"], "--bogus"),
                (store + ["--secret-file", s, "--threads", "0"],
                 "--threads"),
                (store + ["--secret-file", s, "--idle-timeout", "x"],
                 "--idle-timeout"),
                (store + ["--secret-file", s, "--listen", "nope"],
                 "bad --listen address 'nope': want ADDR:PORT"),
                (store + ["--secret-file", s, "--listen", "0.0.0.0:99999"],
                 "the port must be 0 to 65535"),
                (store + ["--secret-file", s, "--user-key", "u"],
                 "--user-key"),
                (store + ["--secret-file", s, "--mode", "tornado"],
                 "--cookie-secret-file"),
                (store + ["--mode", "tornado", "--cookie-secret-file", s],
                 "--session-secret-file"),
                (store + ["--mode", "tornado", "--cookie-secret-file", s,
                          "--session-secret-file", s, "--absolute-timeout",
                          "5"], "--absolute-timeout"),
                (store + ["--mode", "bogus", "--secret-file", s], "bogus"),
                (store + ["--secret-file", s, "--secret-file", s],
                 "twice"),
                (store + ["--secret-file", s, "extra"], "extra"),
                (store + ["--secret-file"], "needs a value"),
                (["--store", "memcached://[::1", "--secret-file", s],
                 "--store URL"),
            ]
            for args, words in cases:
                rc, _, err = run_gate(*args)
                self.assertEqual(rc, 2, (args, err))
                self.assertIn(words, err, args)
                self.assertIn("mcsession-gate", err, args)
            rc, _, err = run_gate(*store, "--secret-file",
                                  os.path.join(d, "missing"))
            self.assertEqual(rc, 1)
            self.assertIn("secret file '%s': cannot open it: No such file"
                          % os.path.join(d, "missing"), err)
            short = os.path.join(d, "short")
            with open(short, "w") as f:
                f.write("short\n")
            os.chmod(short, 0o600)
            rc, _, err = run_gate(*store, "--secret-file", short)
            self.assertEqual(rc, 1)
            self.assertIn("secret file '%s': a secret must be 16 to 1024 "
                          "bytes" % short, err)
            with socket.socket() as taken:
                taken.bind(("127.0.0.1", 0))
                taken.listen(1)
                busy = "127.0.0.1:%d" % taken.getsockname()[1]
                rc, _, err = run_gate(*store, "--secret-file", s,
                                      "--listen", busy)
            self.assertEqual(rc, 1)
            self.assertIn("cannot listen on %s: Address already in use "
                          "(another program has that port: choose another"
                          % busy, err)
            self.assertNotIn("make demo", err)


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: test_gate_http.py GATE DEMO TOOL [TEST...]")
    gate_harness.GATE = os.path.abspath(sys.argv.pop(1))
    demo_harness.DEMO = os.path.abspath(sys.argv.pop(1))
    gate_harness.TOOL = os.path.abspath(sys.argv.pop(1))
    if not shutil.which("memcached"):
        print("skipping: memcached is not installed", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
