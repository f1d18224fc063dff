#!/usr/bin/python3
"""Tornado mode against the real thing (issue 5): the Python port of the
recipe (tests/tornado/recipe_app.py, on Debian's python3-tornado and
python3-memcache) and the C demo in --mode tornado, side by side on one
memcached, with the same cookie and session secrets.

Usage: test_tornado_compat.py PATH/TO/DEMO [PATH/TO/mcsession-tool] [TEST...]

Covers: a login on either side greets on the other (cookies carried across;
Tornado quotes its values); the C side's regenerate at login (the Python
side greets with the NEW cookies, and the old ones name no user); a counter
incremented alternately on both sides; every value type Python writes
surviving a C read-modify-write; hostile pickles (one per refused opcode,
and a real os.system payload) refused with nothing run, the demo still
serving and the user not logged in; a validly signed verification cookie
that does not match the id refused; with two memcached servers and
hash=python-memcache, sessions found on both sides; `mcsession show --mode
tornado` on a session the Python app wrote. And the demo's tornado flags.

Everything listens on 127.0.0.1; every process is stopped by its PID.
Exits 77 (ctest: skipped) without memcached, tornado or memcache.
"""
import html
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import memcache
    import tornado.web
except ImportError as e:
    print("skipping: %s" % e, file=sys.stderr)
    sys.exit(77)

import demo_harness
from demo_harness import TIMEOUT, Demo, count_in, start_memcached
from tornado_harness import (Browser, RecipeApp, hostile_pickles,
                             load_trusted, os_system_pickles, raw_get,
                             redirects_to_login, unquote)

TOOL = None  # the mcsession tool, when given
COOKIE_SECRET = "cookie secret of the recipe app, 42 bytes!"
SESSION_SECRET = "the recipe's session secret"
ENV = {}  # shared processes and files, set up once


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text + "\n")  # one trailing newline: not part of a secret
    os.chmod(path, 0o600)  # as a secret should be (else warnings)
    return path


def start_pair(ports, url_params=""):
    """The recipe app and the C demo on the memcached servers `ports`."""
    store = "memcached://" + ",".join("127.0.0.1:%d" % p for p in ports)
    py = RecipeApp(ports, ENV["cookie_file"], ENV["session_file"])
    try:
        c = Demo("--mode", "tornado", "--store", store + url_params,
                 "--cookie-secret-file", ENV["cookie_file"],
                 "--session-secret-file", ENV["session_file"],
                 "--threads", "4")
    except BaseException:
        py.stop()
        raise
    return py, c


def stop_all(stoppers):
    """Calls every stopper, then raises the first error (a demo that
    exited uncleanly), so one failure does not leave processes behind."""
    errors = []
    for stop in stoppers:
        try:
            stop()
        except Exception as e:  # noqa: BLE001 - re-raised below
            errors.append(e)
    if errors:
        raise errors[0]


def setUpModule():
    ENV["dir"] = tempfile.mkdtemp(prefix="mcs-tornado-")
    ENV["cookie_file"] = write(ENV["dir"], "cookie_secret", COOKIE_SECRET)
    ENV["session_file"] = write(ENV["dir"], "session_secret", SESSION_SECRET)
    ENV["mc"] = start_memcached()
    ENV["py"], ENV["c"] = start_pair([ENV["mc"].port])


def tearDownModule():
    stoppers = [ENV[n].stop for n in ("c", "py") if n in ENV]
    if "mc" in ENV:
        stoppers.append(ENV["mc"].kill)
    stoppers.append(lambda: shutil.rmtree(ENV["dir"], ignore_errors=True))
    stop_all(stoppers)


def session_id(browser):
    """The raw id the session_id cookie carries (checked with Tornado's
    own decoder)."""
    value = tornado.web.decode_signed_value(
        COOKIE_SECRET, "session_id", unquote(browser.jar["session_id"]))
    if value is None:
        raise AssertionError("session_id cookie does not verify")
    return value.decode()


def greeting(name):
    return "What's up, " + html.escape(name, quote=False)


def py_set(port, key, data):
    """Writes a record as the recipe does (bytes: flags 0)."""
    mc = memcache.Client(["127.0.0.1:%d" % port])
    try:
        if not mc.set(key, data, 600):
            raise AssertionError("memcache set failed")
    finally:
        mc.disconnect_all()


class OneServer(unittest.TestCase):
    """Base: one memcached, the recipe app and the C demo (no tests)."""

    def setUp(self):
        self.py, self.c, self.port = ENV["py"], ENV["c"], ENV["mc"].port

    def assertGreets(self, app, browser, name):
        r = browser.get(app, "/")
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(greeting(name), r.body)


class SharedSessions(OneServer):
    def test_login_on_python_greets_on_c(self):
        b = Browser()
        b.login(self.py, "Zoë & <Ann>")
        # Tornado quotes its cookie values (they contain '|').
        self.assertTrue(b.jar["session_id"].startswith('"'), b.jar)
        self.assertTrue(b.jar["verification"].startswith('"'), b.jar)
        self.assertGreets(self.c, b, "Zoë & <Ann>")
        self.assertGreets(self.py, b, "Zoë & <Ann>")

    def test_login_on_c_greets_on_python_with_the_new_cookies(self):
        b = Browser()
        self.assertEqual(count_in(b.get(self.c, "/count").body), 1)
        old = Browser(b.jar)
        old_id = session_id(old)
        r = b.login(self.c, "Carol")
        # Both cookies, kept 30 days as Tornado's set_secure_cookie does.
        self.assertEqual(sorted(c.split("=")[0] for c in r.set_cookies()),
                         ["session_id", "verification"])
        for c in r.set_cookies():
            self.assertIn("Max-Age=2592000", c)
        new_id = session_id(b)
        self.assertNotEqual(new_id, old_id)  # regenerated at login
        self.assertGreets(self.py, b, "Carol")
        self.assertGreets(self.c, b, "Carol")
        r = b.get(self.py, "/count")  # the data moved to the new id
        self.assertIn("count: 2", r.body)
        flags, raw = raw_get(self.port, new_id)
        self.assertEqual(flags, 0)
        self.assertEqual(load_trusted(raw), {"user_name": "Carol",
                                             "count": 2})
        # The old id is a short-lived retired snapshot of the data it had
        # before the login: the pickle, then a trailer that pickle.loads
        # ignores. A cookie planted before login names no user on either
        # side and leads nowhere near the new id.
        _, retired = raw_get(self.port, old_id)
        self.assertEqual(retired[-16:-8], b"\0mcsret\1")
        until = int.from_bytes(retired[-8:], "big")
        self.assertLessEqual(abs(until - (time.time() + 10)), 5)
        self.assertEqual(load_trusted(retired), {"count": 1})
        self.assertNotIn(new_id.encode(), retired)
        self.assertTrue(redirects_to_login(old.get(self.py, "/")))
        self.assertTrue(redirects_to_login(old.get(self.c, "/")))

    def test_c_offers_only_the_log_out_it_can_do(self):
        """Tornado mode binds no session to a user, so "Log out
        everywhere ... on every device" would only log this session out,
        and there is no list of a user's sessions: the C side neither
        offers nor accepts either; "Log out" works and says so."""
        b = Browser()
        b.login(self.c, "Tess")
        r = b.get(self.c, "/")
        self.assertIn(">Log out</button>", r.body)
        self.assertNotIn("everywhere", r.body)
        self.assertNotIn("every device", r.body)
        self.assertNotIn("/sessions", r.body)  # no "Your sessions" page
        token = r.xsrf()
        r = b.request(self.c, "POST", "/logout-everywhere",
                      {"_xsrf": token})
        self.assertEqual(r.status, 404)
        # Nor a list of the user's sessions: there is no user.
        self.assertEqual(b.get(self.c, "/sessions").status, 404)
        for path in ("/sessions/end", "/sessions/end-others"):
            r = b.request(self.c, "POST", path,
                          {"_xsrf": token, "handle": "A" * 22})
            self.assertEqual(r.status, 404, path)
        self.assertGreets(self.py, b, "Tess")  # still signed in
        r = b.request(self.c, "POST", "/logout",
                      {"_xsrf": b.get(self.c, "/").xsrf()})
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/login?notice=signed-out"))
        self.assertTrue(redirects_to_login(b.get(self.py, "/")))

    def test_counter_continues_across_sides(self):
        b = Browser()
        for n in range(1, 9, 2):
            r = b.get(self.c, "/count")
            self.assertEqual(count_in(r.body), n, r.body)
            r = b.get(self.py, "/count")
            self.assertEqual(r.body, "count: %d" % (n + 1))
        flags, raw = raw_get(self.port, session_id(b))
        self.assertEqual((flags, load_trusted(raw)), (0, {"count": 8}))

    def test_wrong_verification_is_refused(self):
        alice, bob = Browser(), Browser()
        alice.login(self.py, "alice")
        bob.login(self.py, "bob")
        self.assertGreets(self.c, alice, "alice")
        # Validly signed, but bob's verification does not match alice's id.
        forged = Browser(alice.jar)
        forged.jar["verification"] = bob.jar["verification"]
        self.assertTrue(redirects_to_login(forged.get(self.c, "/")))
        self.assertTrue(redirects_to_login(forged.get(self.py, "/")))
        signed = tornado.web.create_signed_value(
            COOKIE_SECRET, "verification", "0" * 64).decode()
        forged.jar["verification"] = signed
        self.assertTrue(redirects_to_login(forged.get(self.c, "/")))
        self.assertGreets(self.c, alice, "alice")  # the real pair still works


def normalized(v):
    """A value as the C side may give it back: tuples as lists; floats by
    their exact representation (so -0.0 and 0.0 differ)."""
    if isinstance(v, (list, tuple)):
        return [normalized(x) for x in v]
    if isinstance(v, dict):
        return {k: normalized(x) for k, x in v.items()}
    if isinstance(v, float):
        return ("float", v.hex())
    if isinstance(v, bool) or v is None:
        return ("const", v)
    return (type(v).__name__, v)


VALUES = {
    "user_name": "Zoë ✓ 日本語",
    "count": 41,
    "nested": {"list": [1, [2, [3, {"deep": None}]], {"k": "v"}],
               "tuple": (1, "two", 3.5, ()), "empty": {}, "none": []},
    "unicode": "naïve café — ☃ 𝄞 \u0000 end",
    "big": 2 ** 100, "negative big": -(2 ** 80) + 7, "beyond int64": 2 ** 64,
    "int64 max": 2 ** 63 - 1, "int64 min": -2 ** 63, "zero": 0,
    "float": 3.141592653589793, "negative zero": -0.0,
    "huge": 1.7976931348623157e308, "denormal": 5e-324,
    "bytes": bytes(range(256)), "no bytes": b"",
    "none": None, "yes": True, "no": False,
    "ключ": ["list", ("of", "tuples"), {"in": "dicts"}],
}


class PythonValuesSurviveC(OneServer):
    def check_protocol(self, proto):
        b = Browser()
        b.login(self.py, "someone")
        sid = session_id(b)
        py_set(self.port, sid, pickle.dumps(VALUES, protocol=proto))
        r = b.get(self.c, "/count")  # read, increment, compare-and-swap
        self.assertEqual(count_in(r.body), 42, r.body)
        flags, raw = raw_get(self.port, sid)
        self.assertEqual(flags, 0)
        want = dict(VALUES, count=42)
        self.assertEqual(normalized(load_trusted(raw)), normalized(want))
        self.assertGreets(self.py, b, VALUES["user_name"])
        self.assertGreets(self.c, b, VALUES["user_name"])
        self.assertIn("count: 43", b.get(self.py, "/count").body)

    def test_protocol_4(self):
        self.check_protocol(4)

    def test_protocol_5(self):
        self.check_protocol(5)


class HostilePickles(OneServer):
    def test_hostile_records_are_refused_and_nothing_runs(self):
        marker = os.path.join(ENV["dir"], "pwned")
        victim = Browser()
        victim.login(self.py, "victim")
        self.assertGreets(self.c, victim, "victim")
        sid = session_id(victim)
        cases = hostile_pickles() + os_system_pickles(marker)
        corrupt = "mcsession_records_corrupt_total"
        before = self.c.metrics()[corrupt]
        try:
            for label, data in cases:
                with self.subTest(label):
                    self.check_refused(victim, sid, data)
        finally:
            mc = memcache.Client(["127.0.0.1:%d" % self.port])
            mc.delete(sid)
            mc.disconnect_all()
        self.assertFalse(os.path.exists(marker), "the payload ran")
        # Each record was read twice (/ and /count) and refused each time.
        self.assertEqual(self.c.metrics()[corrupt] - before, 2 * len(cases))
        self.assertEqual(self.c.get("/healthz").status, 200)
        self.assertIsNone(self.c.proc.poll())

    def check_refused(self, victim, sid, data):
        py_set(self.port, sid, data)
        b = Browser(victim.jar)  # only ever sent to the C side
        self.assertTrue(redirects_to_login(b.get(self.c, "/")))
        r = Browser(victim.jar).get(self.c, "/count")  # a fresh session
        self.assertEqual(count_in(r.body), 1, r.body)
        self.assertEqual(raw_get(self.port, sid), (0, data))  # untouched
        self.assertEqual(self.c.get("/healthz").status, 200)


class TwoServers(unittest.TestCase):
    """hash=python-memcache: both sides pick the same server for a key."""

    @classmethod
    def setUpClass(cls):
        cls.mcs = [ENV["mc"], start_memcached()]
        cls.ports = [m.port for m in cls.mcs]
        try:
            cls.py, cls.c = start_pair(cls.ports, "?hash=python-memcache")
        except BaseException:
            cls.mcs[1].kill()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_all([cls.c.stop, cls.py.stop, cls.mcs[1].kill])

    def owner(self, sid):
        """The one server holding sid; it must be python-memcached's
        choice."""
        holders = [i for i, p in enumerate(self.ports) if raw_get(p, sid)]
        self.assertEqual(len(holders), 1, holders)
        client = memcache.Client(["127.0.0.1:%d" % p for p in self.ports])
        server, _ = client._get_server(sid.encode())
        self.assertEqual(client.servers.index(server), holders[0])
        client.disconnect_all()
        return holders[0]

    def test_sessions_are_found_on_both_sides(self):
        used = set()
        # At least 8 rounds, and on until both servers hold a session (a
        # fixed 8 missed one in 1 run of 32,768).
        for i in range(32):
            if i >= 8 and used == {0, 1}:
                break
            for first, second in ((self.py, self.c), (self.c, self.py)):
                b = Browser()
                name = "user %d" % i
                b.login(first, name)
                r = b.get(second, "/")
                self.assertEqual(r.status, 200, r.body)
                self.assertIn(greeting(name), r.body)
                used.add(self.owner(session_id(b)))
        self.assertEqual(used, {0, 1})

    def test_tool_shows_a_python_session(self):
        if not TOOL:
            self.skipTest("no tool given")
        b = Browser()
        b.login(self.py, "shown")
        url = "memcached://%s?hash=python-memcache" % ",".join(
            "127.0.0.1:%d" % p for p in self.ports)
        doc = show(url, "session_id=" + b.jar["session_id"])
        self.assertEqual((doc["mode"], doc["id"]), ("tornado", session_id(b)))
        self.assertEqual(doc["data"], {"user_name": "shown"})


def show(url, cookie):
    p = subprocess.run([TOOL, "show", "--json", "--store", url, "--mode",
                        "tornado", "--cookie-secret-file", ENV["cookie_file"],
                        "--", cookie], capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("show: %d %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


class ToolOnOneServer(OneServer):
    def test_tool_shows_a_python_session(self):
        if not TOOL:
            self.skipTest("no tool given")
        b = Browser()
        b.login(self.py, "Zoë")
        b.get(self.py, "/count")
        doc = show("memcached://127.0.0.1:%d" % self.port,
                   b.jar["session_id"])
        self.assertEqual(doc["data"], {"user_name": "Zoë", "count": 1})
        self.assertIsNone(doc["created"])


class Flags(unittest.TestCase):
    def run_demo(self, *args):
        p = subprocess.run([demo_harness.DEMO, *args], capture_output=True,
                           text=True, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr

    def test_help_documents_the_tornado_flags(self):
        rc, out, _ = self.run_demo("--help")
        self.assertEqual(rc, 0)
        for flag in ("--mode native|tornado", "--cookie-secret-file",
                     "--session-secret-file"):
            self.assertIn(flag, out)

    def test_bad_combinations_exit_2_with_usage(self):
        c, s = ENV["cookie_file"], ENV["session_file"]
        for args in (["--mode", "tornado"],
                     ["--mode", "tornado", "--cookie-secret-file", c],
                     ["--mode", "tornado", "--session-secret-file", s],
                     ["--mode", "tornado", "--cookie-secret-file", c,
                      "--session-secret-file", s, "--secret-file", c],
                     ["--mode", "tornado", "--cookie-secret-file", c,
                      "--session-secret-file", s, "--absolute-timeout", "9"],
                     ["--cookie-secret-file", c],
                     ["--mode", "native", "--session-secret-file", s],
                     ["--mode", "pickle"], ["--mode"],
                     ["--mode", "tornado", "--mode", "native"]):
            rc, _, err = self.run_demo(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn("usage: ", err, args)

    def test_bad_hash_urls_exit_2(self):
        for url in ("memcached://127.0.0.1:1?hash=md5",
                    "memcached://127.0.0.1:1,127.0.0.1:2?hash=python-memcache"
                    "&replicas=1"):
            rc, _, err = self.run_demo("--store", url)
            self.assertEqual(rc, 2, url)
            self.assertIn("bad --store URL", err)


def main():
    """argv: DEMO [TOOL] [unittest arguments, e.g. a test name]"""
    global TOOL
    args = sys.argv[1:]
    if not args or not os.path.isfile(args[0]):
        sys.exit("usage: test_tornado_compat.py PATH/TO/DEMO [PATH/TO/TOOL] "
                 "[TEST...]")
    if not shutil.which("memcached"):
        print("skipping: memcached is not installed", file=sys.stderr)
        sys.exit(77)
    demo_harness.DEMO = args.pop(0)
    if args and os.path.isfile(args[0]):
        TOOL = args.pop(0)
    unittest.main(argv=[sys.argv[0], "-v", *args])


if __name__ == "__main__":
    main()
