#!/usr/bin/python3
"""HTTP-level tests of the demo servers, standard library only.

Usage: test_demo_http.py PATH/TO/SERVER

SERVER is build/mcsession-demo (libmicrohttpd) or
build/mcsession-evhttp-demo (libevent's evhttp): the same app, routes and
limits behind two HTTP libraries, held to the same tests. What may differ
between them is listed, with the reason, in SERVERS below.

Every demo this starts listens on 127.0.0.1 port 0 (the kernel picks a free
port; the demo prints its URL) and is stopped by its PID. The memcached
tests start their own memcached on a free loopback port, stop it by PID, and
skip (saying why) when the demo was built without the memcached store.
"""
import base64
import http.client
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import demo_harness
from demo_harness import (TIMEOUT, Demo, Memcached, count_in,
                          mc_commands, mc_stats, session_id, session_rows,
                          write_secret)

DEMO = None  # set from argv in main()
PROGRAM = None  # its file name: "mcsession-demo", ...
SERVER = None  # its entry in SERVERS
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# What legitimately differs between the servers, by program name. Nothing
# else may: the routes, pages, statuses and limits are shared code.
SERVERS = {
    # libmicrohttpd answers a header block beyond its per-connection memory
    # (32 KiB in the demo) itself, with 431.
    "mcsession-demo": {"oversized_header_block": 431,
                       # Event loops that never wait for the store
                       # (serve/evloop.c): one thread keeps
                       # serving while its requests wait.
                       "loop_never_waits": True,
                       # Connection limits and a request-header deadline
                       # (serve/connguard.c).
                       "connection_limits": True},
    # libevent 2.1's evhttp refuses a header block beyond
    # evhttp_set_max_headers_size (64 KiB here) itself and reports it as an
    # invalid header, so it answers 400; it has no hook to choose another
    # status (http.c: evhttp_read_header). Still a 4xx, never a dropped
    # connection. Cookie headers below that size get the app's 431.
    "mcsession-evhttp-demo": {"oversized_header_block": 400,
                              # Its session calls block their thread's
                              # event loop (mcsession/evhttp.h).
                              "loop_never_waits": False,
                              # libevent 2.1 has no hook to refuse a
                              # connection evhttp accepts, and its timeouts
                              # restart with every byte: it has neither the
                              # limits nor their flags.
                              "connection_limits": False},
}


def check_planted_cookie_gains_nothing(test, demo):
    """Session fixation (issue 12): the attacker's stored pre-login cookie
    is planted in the victim's browser; the victim logs in with it. Within
    the regenerate's grace, whoever presents the planted cookie is not
    greeted as the victim, cannot count, log the victim out (or out
    everywhere), or turn it into a cookie of their own by logging in, and
    the victim's session is untouched."""
    r = demo.get("/count")  # the attacker's own visit: a stored session
    planted = r.cookie()
    r = demo.get("/login", cookie=planted)  # the victim, with it
    r = demo.post("/login", {"name": "Victim", "_xsrf": r.xsrf()},
                  cookie=planted)
    test.assertEqual(r.status, 302)
    victim = r.cookie()
    test.assertNotEqual(session_id(victim), session_id(planted))

    r = demo.get("/", cookie=planted)
    test.assertEqual((r.status, r.header("Location")), (302, "/login"))
    test.assertNotIn("Victim", r.body)
    r = demo.get("/count", cookie=planted)
    test.assertEqual(r.status, 409, r.body)
    test.assertIn("Reload the page", r.body)
    test.assertEqual(r.set_cookies(), [])
    r = demo.get("/login", cookie=planted)
    test.assertEqual(r.set_cookies(), [])
    token = r.xsrf()  # minted for the planted id
    for path in ("/logout", "/logout-everywhere"):
        r = demo.post(path, {"_xsrf": token}, cookie=planted)
        test.assertEqual(r.status, 409, path)
        test.assertEqual(r.set_cookies(), [], path)
    r = demo.post("/login", {"name": "Mallory", "_xsrf": token},
                  cookie=planted)
    test.assertEqual(r.status, 409)
    test.assertEqual(r.set_cookies(), [])
    # A token minted for the planted id is worthless on the victim's.
    r = demo.post("/logout", {"_xsrf": token}, cookie=victim)
    test.assertEqual(r.status, 403)

    r = demo.get("/", cookie=victim)
    test.assertEqual(r.status, 200)
    test.assertIn("What's up, Victim?", r.body)
    test.assertEqual(count_in(r.body), 1)  # the attacker's count, not more


class DemoTest(unittest.TestCase):
    """The routes and failure cases against one demo (memory store)."""

    @classmethod
    def setUpClass(cls):
        cls.demo = Demo("--threads", "8")

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def tearDown(self):
        self.assertIsNone(self.demo.proc.poll(), "demo died: " + self.demo.err())

    def test_root_redirects_anonymous_users_to_login(self):
        r = self.demo.get("/")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/login")
        self.assertEqual(r.set_cookies(), [])

    def test_login_form_has_xsrf_and_session_cookie_attributes(self):
        r = self.demo.get("/login")
        self.assertEqual(r.status, 200)
        self.assertIn('<form method="post" action="/login">', r.body)
        self.assertRegex(r.xsrf() or "", r"^[A-Za-z0-9_-]{86}$")
        (sc,) = r.set_cookies()
        self.assertTrue(sc.startswith("session=2|"))
        for attr in ("Path=/", "HttpOnly", "SameSite=Lax"):
            self.assertIn(attr, sc.split("; "))
        # Plain HTTP on loopback: the one place the demo drops Secure
        # (the library's default), and its start-up line says so.
        self.assertNotIn("Secure", sc.split("; "))
        self.assertIn("cookies without Secure: plain HTTP on loopback",
                      self.demo.line)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'none'", csp)
        self.assertIn("style-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn('<link rel="stylesheet" href="/style.css">', r.body)
        self.assertNotIn("<style", r.body)

    def test_stylesheet_is_served_and_cacheable(self):
        r = self.demo.get("/style.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/css; charset=utf-8")
        self.assertEqual(r.header("Cache-Control"), "public, max-age=86400")
        self.assertIn("body{", r.body)
        self.assertEqual(r.set_cookies(), [])  # no session for a stylesheet

    def test_login_changes_session_id_and_greets(self):
        before, after = self.demo.login("Ada")
        self.assertNotEqual(session_id(before), session_id(after))
        r = self.demo.get("/", cookie=after)
        self.assertEqual(r.status, 200)
        self.assertIn("What's up, Ada?", r.body)
        self.assertIsNotNone(r.xsrf(), "no logout form")

    def test_greeting_escapes_html(self):
        name = "<script>alert(\"x\")</script> & 'q'"
        _, c = self.demo.login(name)
        r = self.demo.get("/", cookie=c)
        self.assertIn("What's up, &lt;script&gt;alert(&quot;x&quot;)"
                      "&lt;/script&gt; &amp; &#39;q&#39;?", r.body)
        self.assertNotIn("<script>", r.body)

    def test_login_refuses_missing_wrong_and_foreign_tokens(self):
        r = self.demo.get("/login")
        c, token = r.cookie(), r.xsrf()
        other = self.demo.get("/login").xsrf()
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        # No token a form of ours could have sent: 403, in plain words.
        for body in ({"name": "Eve"}, {"name": "Eve", "_xsrf": ""},
                     {"name": "Eve", "_xsrf": "x" * 5000}):
            r = self.demo.post("/login", body, cookie=c)
            self.assertEqual(r.status, 403, body)
            self.assertIn("no valid _xsrf field", r.body)
            self.assertEqual(r.set_cookies(), [])
        # A token of ours that does not verify (a stale form, or a
        # forgery): nothing done, no cookie, the sign-in page again.
        for body in ({"name": "Eve", "_xsrf": flipped},
                     {"name": "Eve", "_xsrf": other}):
            r = self.demo.post("/login", body, cookie=c)
            self.assertEqual((r.status, r.header("Location")),
                             (302, "/login?notice=form-expired"), body)
            self.assertEqual(r.set_cookies(), [])
        r = self.demo.post("/login", {"name": "Eve", "_xsrf": token})
        self.assertEqual(r.status, 302, "token accepted without its cookie")
        self.assertEqual(r.header("Location"), "/login?notice=form-expired")
        self.assertEqual(r.set_cookies(), [])
        self.assertEqual(self.demo.get("/", cookie=c).status, 302)

    def test_a_stale_login_form_gets_a_fresh_one(self):
        """A sign-in tab left open while the session it was given ended
        (here: signed in and out in another tab) posts a token that no
        longer verifies: sent back to a fresh form that says so in plain
        words, whose token works; a reload asks for the form again."""
        r = self.demo.get("/login")
        c, stale = r.cookie(), r.xsrf()
        r = self.demo.post("/login", {"name": "Tab", "_xsrf": stale},
                           cookie=c)
        c = r.cookie()
        r = self.demo.post("/logout", {"_xsrf": self.demo.get(
            "/", cookie=c).xsrf()}, cookie=c)
        r = self.demo.get("/login")  # the other tab's sign-in page
        c = r.cookie()
        r = self.demo.post("/login", {"name": "Tab", "_xsrf": stale},
                           cookie=c)
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/login?notice=form-expired"))
        self.assertEqual(r.set_cookies(), [])
        r = self.demo.get(r.header("Location"), cookie=c)
        c = r.cookie() or c  # as a browser keeps what it is sent
        self.assertEqual(r.status, 200)
        self.assertIn("This form was open too long", r.body)
        self.assertIn("Please sign in again.", r.body)
        self.assertNotIn("XSRF", r.body)
        r = self.demo.post("/login", {"name": "Tab", "_xsrf": r.xsrf()},
                           cookie=c)
        self.assertEqual((r.status, r.header("Location")), (302, "/"))
        r = self.demo.get("/", cookie=r.cookie())
        self.assertIn("What's up, Tab?", r.body)

    def test_tampered_and_malformed_cookies_are_refused(self):
        _, good = self.demo.login("Mallory's victim")
        self.assertEqual(self.demo.get("/", cookie=good).status, 200)
        fields = good.split("|")
        sig = fields[5]
        tampered_sig = good[:-1] + ("0" if good[-1] != "0" else "1")
        other_id = base64.b64encode(b"x" * 43).decode()
        tampered_id = "|".join(fields[:4] + ["60:" + other_id, sig])
        forged_before = self.demo.metrics()["mcsession_sessions_forged_total"]
        for bad in (tampered_sig, tampered_id, good[:-10], good[:40],
                    good.replace("7:session", "7:session", 1) + "x",
                    "", "2|", "garbage", '"' + good + '"x', "%00" * 10,
                    "2|1:0|10:0000000000|7:session|0:|" + "0" * 64,
                    "\u00ff\u00fe"):
            r = self.demo.get("/", cookie=bad)
            self.assertEqual(r.status, 302, "%r got %d" % (bad, r.status))
            self.assertEqual(r.header("Location"), "/login")
        self.assertGreater(
            self.demo.metrics()["mcsession_sessions_forged_total"],
            forged_before)
        # The first of two session cookies counts, valid or not.
        r = self.demo.get("/", headers={
            "Cookie": "session=%s; session=%s" % (tampered_sig, good)})
        self.assertEqual(r.status, 302)
        for header in (";;;", "=", "session", "a=b; =c; session", "x" * 100):
            self.assertEqual(self.demo.get("/", headers={
                "Cookie": header}).status, 302, header)

    def test_count_increments_and_concurrent_counts_are_not_lost(self):
        _, c = self.demo.login("Counter")
        barrier = threading.Barrier(40)
        results = []
        lock = threading.Lock()

        def one():
            conn = http.client.HTTPConnection("127.0.0.1", self.demo.port,
                                              timeout=TIMEOUT)
            try:
                barrier.wait(TIMEOUT)
                r = self.demo.get("/count", cookie=c, conn=conn)
                with lock:
                    results.append((r.status, count_in(r.body)))
            finally:
                conn.close()

        threads = [threading.Thread(target=one) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 3)
        self.assertEqual([s for s, _ in results], [200] * 40, results)
        self.assertEqual(sorted(n for _, n in results), list(range(1, 41)))
        r = self.demo.get("/", cookie=c)
        self.assertEqual(count_in(r.body), 40)

    def test_count_works_for_anonymous_visitors(self):
        r = self.demo.get("/count")
        self.assertEqual((r.status, count_in(r.body)), (200, 1))
        r = self.demo.get("/count", cookie=r.cookie())
        self.assertEqual((r.status, count_in(r.body)), (200, 2))

    def test_logout_destroys_the_session(self):
        _, c = self.demo.login("Leaving")
        token = self.demo.get("/", cookie=c).xsrf()
        r = self.demo.post("/logout", {"_xsrf": "nope"}, cookie=c)
        self.assertEqual(r.status, 403)
        self.assertEqual(self.demo.get("/", cookie=c).status, 200)
        r = self.demo.post("/logout", {"_xsrf": token}, cookie=c)
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location"), "/login?notice=signed-out")
        (sc,) = r.set_cookies()
        self.assertRegex(sc, r"Max-Age=0|Expires=Thu, 01 Jan 1970")
        r = self.demo.get("/", cookie=c)
        self.assertEqual((r.status, r.header("Location")), (302, "/login"))
        r = self.demo.get("/count", cookie=c)
        self.assertEqual(count_in(r.body), 1, "old cookie revived data")
        r = self.demo.post("/logout", {"_xsrf": token}, cookie=c)
        self.assertIn(r.status, (302, 403))

    def test_sign_in_page_confirms_a_logout(self):
        """After "Log out" the sign-in page says so; it did not, and
        looked the same as before signing in."""
        _, c = self.demo.login("Leaving")
        token = self.demo.get("/", cookie=c).xsrf()
        r = self.demo.post("/logout", {"_xsrf": token}, cookie=c)
        r = self.demo.get(r.header("Location"))
        self.assertEqual(r.status, 200)
        self.assertIn('<p class="notice" id="notice" role="status">'
                      'You are signed out.</p>', r.body)
        self.assertIn('<form method="post" action="/login">', r.body)
        # Only known notices, as fixed sentences, never the query itself.
        for query in ("", "?notice=%3Cb%3Ehi", "?notice=", "?x=1",
                      "?notice"):
            r = self.demo.get("/login" + query)
            self.assertEqual(r.status, 200, query)
            self.assertNotIn('id="notice"', r.body, query)
            self.assertNotIn("<b>hi", r.body, query)
        # A stale logout form: nothing done, and said plainly.
        _, c = self.demo.login("Staying")
        r = self.demo.post("/logout", {"_xsrf": token}, cookie=c)
        self.assertEqual(r.status, 403)
        self.assertIn("This page was open too long", r.body)
        self.assertEqual(self.demo.get("/", cookie=c).status, 200)

    def test_a_planted_cookie_gains_nothing_from_the_login(self):
        check_planted_cookie_gains_nothing(self, self.demo)
        m = self.demo.metrics()
        self.assertGreaterEqual(m["mcsession_sessions_retired_total"], 1)

    def test_logout_everywhere_ends_every_session_of_the_user(self):
        _, laptop = self.demo.login("Roaming")
        _, phone = self.demo.login("Roaming")
        _, other = self.demo.login("Somebody else")
        self.assertEqual(self.demo.get("/", cookie=phone).status, 200)
        token = self.demo.get("/", cookie=laptop).xsrf()
        r = self.demo.post("/logout-everywhere", {"_xsrf": "nope"},
                           cookie=laptop)
        self.assertEqual(r.status, 403)
        self.assertEqual(self.demo.get("/", cookie=phone).status, 200)
        r = self.demo.post("/logout-everywhere", {"_xsrf": token},
                           cookie=laptop)
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/login?notice=signed-out-everywhere"))
        self.assertIn("You are signed out on every device.",
                      self.demo.get(r.header("Location")).body)
        for c in (laptop, phone):
            r = self.demo.get("/", cookie=c)
            self.assertEqual((r.status, r.header("Location")),
                             (302, "/login"), "a revoked session still works")
        self.assertEqual(self.demo.get("/", cookie=other).status, 200)
        m = self.demo.metrics()
        self.assertGreaterEqual(m["mcsession_sessions_revoked_total"], 1)
        # The same user logs in again afterwards: a fresh, working session.
        _, again = self.demo.login("Roaming")
        self.assertEqual(self.demo.get("/", cookie=again).status, 200)

    def test_oversized_cookie_headers_get_431(self):
        r = self.demo.get("/", headers={"Cookie": "a=" + "x" * 9000})
        self.assertEqual(r.status, 431)
        self.assertIn("Cookie header too large", r.body)
        many = "; ".join("c%d=v" % i for i in range(70))
        self.assertEqual(self.demo.get("/count", headers={
            "Cookie": many}).status, 431)
        # Up to the server's header limit (MHD: about 15 KiB of the
        # demo's 32 KiB connection memory; evhttp: 64 KiB) the app
        # answers 431;
        # beyond it the HTTP library answers itself (SERVERS): the
        # connection is never just dropped.
        for size in (40000, 200000, 2000000):
            status = self.demo.raw(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a="
                                   + b"x" * size + b"\r\n\r\n")
            want = 431 if size < 60000 else SERVER["oversized_header_block"]
            self.assertEqual(status, want, size)
        self.assertEqual(self.demo.get("/ping").status, 200)

    def test_large_bodies_get_413(self):
        c = self.demo.get("/login").cookie()
        big = "name=" + "a" * (20 * 1024)
        r = self.demo.post("/login", big, cookie=c, headers=FORM)
        self.assertEqual(r.status, 413)
        chunks = iter([b"name=", b"a" * 9000, b"a" * 9000])
        conn = http.client.HTTPConnection("127.0.0.1", self.demo.port,
                                          timeout=TIMEOUT)
        try:
            conn.request("POST", "/login", body=chunks, headers=FORM,
                         encode_chunked=True)
            self.assertEqual(conn.getresponse().status, 413)
        finally:
            conn.close()
        status = self.demo.raw(b"POST /login HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 99999999999\r\n\r\nname=")
        self.assertEqual(status, 413)

    def test_names_are_bounded_and_checked(self):
        r = self.demo.get("/login")
        c, token = r.cookie(), r.xsrf()
        for name, why in (("n" * 257, "too long"), ("", "enter a name"),
                          ("\u00e9" * 129, "too long")):
            r = self.demo.post("/login", {"name": name, "_xsrf": token},
                               cookie=c)
            self.assertEqual(r.status, 400, name)
            self.assertIn(why, r.body)
        r = self.demo.post("/login", "name=%FF%FE&_xsrf=" + token, cookie=c,
                           headers=FORM)
        self.assertEqual(r.status, 400)
        self.assertIn("UTF-8", r.body)
        _, c2 = self.demo.login("n" * 256)
        self.assertIn("n" * 256, self.demo.get("/", cookie=c2).body)

    def test_names_say_what_is_wrong_and_offer_the_form_again(self):
        """Names a greeting could not show honestly are refused, each
        with its own reason, above a fresh sign-in form that works."""
        r = self.demo.get("/login")
        c, token = r.cookie(), r.xsrf()
        blank = "Please enter a name (spaces alone are not one)."
        control = "Control characters (tabs, line breaks and the like) " \
                  "are not allowed in a name."
        bidi = "Text-direction control characters"
        for name, why in (("   ", blank), ("\u00a0\u3000 ", blank),
                          ("\u200b", blank),
                          ("a\x01b", control), ("a\tb", control),
                          ("line\nbreak", control), ("\x7f", control),
                          ("c1\u0085", control),
                          ("evil\u202egnp.exe", bidi),
                          ("\u2066isolated\u2069", bidi)):
            r = self.demo.post("/login", {"name": name, "_xsrf": token},
                               cookie=c)
            self.assertEqual(r.status, 400, repr(name))
            self.assertIn(why, r.body, repr(name))
            self.assertNotIn("UTF-8", r.body, repr(name))
            self.assertIn('<p class="error" id="error" role="alert">',
                          r.body)
            self.assertIn('<form method="post" action="/login">', r.body)
            c, token = r.cookie() or c, r.xsrf()
        r = self.demo.post("/login", {"name": "  Ada  ", "_xsrf": token},
                           cookie=c)
        self.assertEqual(r.status, 302, "the fresh form's token")
        r = self.demo.get("/", cookie=r.cookie())
        self.assertIn("What's up, Ada?", r.body)  # trimmed
        # Right-to-left text itself is a name like any other.
        _, c = self.demo.login("\u05e9\u05dc\u05d5\u05dd")
        self.assertIn("What's up, \u05e9\u05dc\u05d5\u05dd?",
                      self.demo.get("/", cookie=c).body)

    def test_hostile_form_bodies_get_4xx(self):
        r = self.demo.get("/login")
        c, token = r.cookie(), r.xsrf()
        for body in ("%zz", "name=%0", "name=%00&_xsrf=" + token,
                     "name&_xsrf=" + token, "=x&_xsrf=" + token,
                     "name=a&name=b&_xsrf=" + token,
                     "_xsrf=%s&_xsrf=%s&name=a" % (token, token),
                     "&".join("f%d=1" % i for i in range(40)) + "&_xsrf="
                     + token, "name=\x01&_xsrf=" + token,
                     "name=a b&_xsrf=" + token, "&" * 10000, "%" * 5000):
            r = self.demo.post("/login", body.encode("latin-1"), cookie=c,
                               headers=FORM)
            self.assertIn(r.status, (400, 403), body[:40])
        for ctype in ("text/plain", "multipart/form-data; boundary=x",
                      "application/x-www-form-urlencodedX"):
            r = self.demo.post("/login", "name=a&_xsrf=" + token, cookie=c,
                               headers={"Content-Type": ctype})
            self.assertEqual(r.status, 415, ctype)

    def test_random_garbage_never_earns_5xx(self):
        rnd = random.Random(4)
        alphabet = "abc=;%|\"\\ ,:2x0+&\u00ff\t"
        for _ in range(150):
            junk = "".join(rnd.choice(alphabet)
                           for _ in range(rnd.randrange(1, 300)))
            path = rnd.choice(["/", "/login", "/count", "/logout"])
            method = "GET" if path in ("/", "/count") else "POST"
            r = self.demo.request(method, path, body=junk.encode("latin-1"),
                                  headers={"Cookie": junk, **FORM})
            self.assertLess(r.status, 500, (path, junk))

    def test_home_page_says_only_count_counts(self):
        _, c = self.demo.login("Counter")
        r = self.demo.get("/", cookie=c)
        self.assertEqual(count_in(r.body), 0)
        self.assertIn("Only the counter page (/count) counts a visit; this "
                      "page just shows the number.", r.body)
        self.demo.get("/count", cookie=c)
        self.assertEqual(count_in(self.demo.get("/", cookie=c).body), 1)

    def test_other_routes_and_methods(self):
        self.assertEqual(self.demo.get("/healthz").status, 200)
        r = self.demo.get("/ping")
        self.assertEqual((r.status, r.body, r.set_cookies()), (200, "ok", []))
        self.assertEqual(self.demo.request("HEAD", "/ping").status, 200)
        self.assertEqual(self.demo.get("/nope").status, 404)
        r = self.demo.request("DELETE", "/")
        self.assertEqual((r.status, r.header("Allow")), (405, "GET, HEAD"))
        r = self.demo.request("PUT", "/login")
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST")
        self.assertEqual(self.demo.get("/logout").status, 405)

    def test_keep_alive_survives_several_requests(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.demo.port,
                                          timeout=TIMEOUT)
        try:
            for path in ("/ping", "/login", "/", "/healthz"):
                r = self.demo.get(path, conn=conn)
                self.assertLess(r.status, 400)
                self.assertNotEqual((r.header("Connection") or "").lower(),
                                    "close", path)
            sock = conn.sock
            self.demo.get("/ping", conn=conn)
            self.assertIs(conn.sock, sock, "connection was not reused")
        finally:
            conn.close()

    def test_metrics_are_prometheus_text(self):
        self.demo.get("/ping")
        self.demo.login("Metric")
        r = self.demo.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        m = self.demo.metrics()
        for name in ("created", "loaded", "expired", "forged"):
            self.assertIn("mcsession_sessions_%s_total" % name, m)
        for name in ("saves", "writes_skipped", "cas_retries",
                     "store_errors"):
            self.assertIn("mcsession_%s_total" % name, m)
        self.assertGreaterEqual(m["mcsession_sessions_created_total"], 1)
        h = "mcsession_demo_request_duration_seconds"
        buckets = [v for k, v in m.items() if k.startswith(h + "_bucket")]
        self.assertEqual(buckets, sorted(buckets))
        self.assertEqual(m[h + '_bucket{le="+Inf"}'], m[h + "_count"])
        self.assertGreater(m[h + "_count"], 0)
        self.assertGreater(m['mcsession_demo_requests_total{code="2xx"}'], 0)


FIREFOX_LINUX = ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
                 "Firefox/121.0")
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/"
                  "537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
                  "Safari/537.36")


def other_rows(body):
    return [h for h, here in session_rows(body) if not here]


class SessionsPageTest(unittest.TestCase):
    """ "Your sessions" (issue 16): the signed-in user's live sessions,
    this device marked, each other one ended on its own (CSRF-protected
    forms), all but this one ended at once; labels escaped."""

    @classmethod
    def setUpClass(cls):
        cls.demo = Demo("--threads", "2")

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def tearDown(self):
        self.assertIsNone(self.demo.proc.poll(), "demo died: " + self.demo.err())

    def page(self, cookie, path="/sessions"):
        r = self.demo.get(path, cookie=cookie)
        self.assertEqual(r.status, 200, r.body)
        return r

    def signed_in(self, cookie):
        return self.demo.get("/", cookie=cookie).status == 200

    def token(self, cookie):
        """A CSRF token for the session, from the home page's forms (the
        sessions page has forms only when there is another session)."""
        return self.demo.get("/", cookie=cookie).xsrf()

    def test_home_links_to_the_page_and_it_needs_a_sign_in(self):
        _, c = self.demo.login("Linked")
        self.assertIn('<a href="/sessions" id="sessions-link">Your sessions'
                      '</a>', self.demo.get("/", cookie=c).body)
        for cookie in (None, "garbage"):
            r = self.demo.get("/sessions", cookie=cookie)
            self.assertEqual((r.status, r.header("Location")),
                             (302, "/login"))
        self.assertEqual(self.demo.get("/sessions/end").status, 405)

    def test_lists_two_logins_marks_this_device_and_ends_the_other(self):
        _, laptop = self.demo.login("Twin", FIREFOX_LINUX)
        _, phone = self.demo.login("Twin", CHROME_ANDROID)
        _, stranger = self.demo.login("Not Twin", FIREFOX_LINUX)
        r = self.page(laptop)
        rows = session_rows(r.body)
        self.assertEqual(len(rows), 2, r.body)
        self.assertEqual(sorted(here for _, here in rows), [False, True])
        (mine,) = [h for h, here in rows if here]
        self.assertEqual(r.body.count('id="this-device">This device<'), 1)
        self.assertIn('<strong class="device">Firefox on Linux</strong>',
                      r.body)
        self.assertIn('<strong class="device">Chrome on Android</strong>',
                      r.body)
        self.assertIn('from <span class="address">127.0.0.1</span>', r.body)
        self.assertRegex(r.body, r'signed in <span class="created">'
                         r'\d{4}-\d\d-\d\d \d\d:\d\d UTC</span>')
        self.assertIn(">Log out everywhere else</button>", r.body)
        self.assertEqual(r.body.count(">End</button>"), 1)  # not this one
        (other,) = other_rows(r.body)
        self.assertEqual(other_rows(self.page(phone).body), [mine],
                         "the phone sees the laptop")

        r = self.demo.post("/sessions/end", {"_xsrf": r.xsrf(),
                                             "handle": other}, cookie=laptop)
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/sessions?notice=session-ended"))
        self.assertEqual(r.set_cookies(), [])
        r = self.page(laptop, r.header("Location"))
        self.assertIn("That session has ended", r.body)
        self.assertEqual(session_rows(r.body), [(mine, True)])
        self.assertIn('id="only-this">No other device is signed in.', r.body)
        # The phone's next request finds no session: signed out, and its
        # cookie starts a new, empty one.
        r = self.demo.get("/", cookie=phone)
        self.assertEqual((r.status, r.header("Location")), (302, "/login"))
        self.assertEqual(count_in(self.demo.get("/count",
                                                cookie=phone).body), 1)
        self.assertTrue(self.signed_in(laptop))
        self.assertTrue(self.signed_in(stranger))

        # Ending it again: said plainly, nothing breaks.
        r = self.demo.post("/sessions/end", {"_xsrf": self.token(laptop),
                                             "handle": other}, cookie=laptop)
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/sessions?notice=session-gone"))
        self.assertIn("That session had already ended",
                      self.page(laptop, r.header("Location")).body)
        self.assertTrue(self.signed_in(laptop))

    def test_forms_refuse_missing_forged_and_foreign_tokens(self):
        _, laptop = self.demo.login("Guarded")
        _, phone = self.demo.login("Guarded")
        _, mallory = self.demo.login("Mallory")
        token = self.page(laptop).xsrf()
        (other,) = other_rows(self.page(laptop).body)
        foreign = self.page(mallory).xsrf()
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        for path in ("/sessions/end", "/sessions/end-others"):
            for body in ({}, {"_xsrf": ""}, {"_xsrf": "x" * 5000},
                         {"_xsrf": flipped}, {"_xsrf": foreign}):
                body = dict(body, handle=other)
                r = self.demo.post(path, body, cookie=laptop)
                self.assertEqual(r.status, 403, (path, body))
                self.assertEqual(r.set_cookies(), [])
            r = self.demo.post(path, "handle=" + other, cookie=laptop,
                               headers={"Content-Type": "text/plain"})
            self.assertEqual(r.status, 415)
        self.assertTrue(self.signed_in(phone), "ended without a valid token")
        self.assertEqual(len(session_rows(self.page(laptop).body)), 2)

    def test_a_bad_or_own_handle_is_refused_and_another_users_is_gone(self):
        _, c = self.demo.login("Careful")
        _, victim = self.demo.login("Victim of Careful")
        token = self.token(c)
        ((mine, _),) = session_rows(self.page(c).body)
        (theirs, _), = session_rows(self.page(victim).body)
        for handle in ("", "x", "A" * 21, "A" * 23, "A" * 21 + "=",
                       "<script>" + "A" * 14):
            r = self.demo.post("/sessions/end", {"_xsrf": token,
                                                 "handle": handle}, cookie=c)
            self.assertEqual(r.status, 400, handle)
            self.assertIn("does not say which session", r.body)
        r = self.demo.post("/sessions/end", {"_xsrf": token}, cookie=c)
        self.assertEqual(r.status, 400)
        r = self.demo.post("/sessions/end", {"_xsrf": token, "handle": mine},
                           cookie=c)
        self.assertEqual(r.status, 400)
        self.assertIn("To end it, use Log out", r.body)
        # Handles name sessions in their own user's list only.
        r = self.demo.post("/sessions/end", {"_xsrf": token,
                                             "handle": theirs}, cookie=c)
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/sessions?notice=session-gone"))
        self.assertTrue(self.signed_in(victim))
        self.assertTrue(self.signed_in(c))

    def test_labels_are_escaped_and_any_user_agent_signs_in(self):
        hostile = "<script>alert('x')</script> \"&amp;\" <img src=x>"
        _, c = self.demo.login("Escaped", hostile)
        # Bytes as sent: not UTF-8 (0xe9 alone), DEL, U+202E (a
        # text-direction override), markup.
        _, c2 = self.demo.login("Escaped", b"caf\xe9\x7f "
                                + "\u202e".encode() + b"<b>")
        _, c3 = self.demo.login("Escaped", "")
        _, c4 = self.demo.login("Escaped", "Z" * 2000)
        # Spaces collapse, so the label has room when the header's window
        # ends inside a character: cut there, not shown as '?'.
        self.demo.login("Escaped",
                        b"Cut" + b" " * 127 + "\u00e9\u20ac".encode())
        body = self.page(c).body
        self.assertNotIn("<script>", body)
        self.assertNotIn("<img", body)
        self.assertNotIn("<b>", body)
        self.assertIn("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
                      "&quot;&amp;amp;&quot; &lt;img src=x&gt;", body)
        self.assertIn("caf? &lt;b&gt;", body)  # not UTF-8, DEL, bidi
        self.assertIn('<strong class="device">Unknown browser</strong>', body)
        self.assertIn("Z" * 128 + "</div>", body)  # cut to a label's size
        self.assertNotIn("Z" * 129, body)
        self.assertIn("Z" * 40 + "\u2026</strong>", body)
        self.assertIn(">Cut \u00e9</div>", body)
        self.assertEqual(len(session_rows(body)), 5)
        for cookie in (c2, c3, c4):
            self.assertTrue(self.signed_in(cookie))

    def test_log_out_everywhere_else_keeps_this_device(self):
        _, here = self.demo.login("Many")
        others = [self.demo.login("Many")[1] for _ in range(3)]
        _, stranger = self.demo.login("Not Many")
        r = self.page(here)
        self.assertEqual(len(session_rows(r.body)), 4)
        r = self.demo.post("/sessions/end-others", {"_xsrf": r.xsrf()},
                           cookie=here)
        self.assertEqual((r.status, r.header("Location")),
                         (302, "/sessions?notice=others-ended"))
        r = self.page(here, r.header("Location"))
        self.assertIn("Your other sessions have ended", r.body)
        self.assertEqual([here for _, here in session_rows(r.body)], [True])
        self.assertNotIn("Log out everywhere else", r.body)
        self.assertTrue(self.signed_in(here), "this device was logged out")
        for c in others:
            r = self.demo.get("/", cookie=c)
            self.assertEqual((r.status, r.header("Location")),
                             (302, "/login"), "another device still works")
        self.assertTrue(self.signed_in(stranger))
        # Again, with nothing else left: fine, and still signed in.
        r = self.demo.post("/sessions/end-others",
                           {"_xsrf": self.token(here)}, cookie=here)
        self.assertEqual(r.status, 302)
        self.assertTrue(self.signed_in(here))


class FlagsTest(unittest.TestCase):
    def run_demo(self, *args):
        p = subprocess.run([DEMO, *args], capture_output=True, text=True,
                           timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr

    def test_help_and_bad_flags(self):
        rc, out, _ = self.run_demo("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: %s " % PROGRAM, out)
        for args in (["--bogus"], ["--threads", "0"], ["--threads", "x"],
                     ["--listen", "nope"], ["--listen", "1.2.3.4:99999"],
                     ["--store", "http://x"],
                     ["--idle-timeout", "-1"],
                     ["--threads"], ["extra"], ["--threads=2", "--threads=3"],
                     # out of range where the server has these flags,
                     # unknown where it has not
                     ["--max-connections", "0"], ["--max-per-address", "x"],
                     ["--header-timeout", "0"], ["--header-timeout", "3601"],
                     ["--max-connections", "100001"]):
            rc, _, err = self.run_demo(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn("usage: %s " % PROGRAM, err, args)

    def test_a_bad_listen_address_says_why(self):
        for spec, why in (("0.0.0.0:99999", "the port must be 0 to 65535"),
                          ("127.0.0.1:http", "the port must be a number"),
                          ("::1:8080", "IPv6 address goes in brackets"),
                          ("127.0.0.1", "want ADDR:PORT"),
                          (":8080", "no address before the port"),
                          ("127.0.0.1:", "no port after the colon"),
                          ("no-such-host.invalid:80", "cannot resolve")):
            rc, _, err = self.run_demo("--listen", spec)
            self.assertEqual(rc, 2, spec)
            self.assertIn("bad --listen address '%s': " % spec, err)
            self.assertIn(why, err, spec)

    def test_a_busy_port_says_how_to_choose_another(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            rc, out, err = self.run_demo("--listen", "127.0.0.1:%d" % port)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("cannot listen on 127.0.0.1:%d: Address already in use"
                      % port, err)
        self.assertIn("(another program has that port: choose another, "
                      "e.g. --listen 127.0.0.1:%d, or port 0 for any free "
                      "one)" % (port + 1), err)
        self.assertIn('%s: with make: make demo ARGS="--listen 127.0.0.1:%d"'
                      % (PROGRAM, port + 1), err)

    def test_both_servers_default_to_one_thread(self):
        """The same flag has the same default in both servers (the
        libevent one had 4, the libmicrohttpd one 1)."""
        rc, out, _ = self.run_demo("--help")
        self.assertIn("(default 1)", out)
        demo = Demo()
        try:
            self.assertIn(", 1 thread", demo.line)
        finally:
            demo.stop()

    def test_secret_file(self):
        with tempfile.TemporaryDirectory() as d:
            missing = os.path.join(d, "no")
            rc, _, err = self.run_demo("--secret-file", missing,
                                       "--listen", "127.0.0.1:0")
            self.assertEqual(rc, 1)
            self.assertIn("secret file '%s': cannot open it: No such file"
                          % missing, err)
            short = write_secret(d, "short\n")
            rc, _, err = self.run_demo("--secret-file", short,
                                       "--listen", "127.0.0.1:0")
            self.assertEqual(rc, 1)
            self.assertIn("secret file '%s': a secret must be 16 to 1024 "
                          "bytes" % short, err)
            secret = write_secret(d, "0123456789abcdef0123456789abcdef\n")
            demo = Demo(secret_file=secret)
            try:
                self.assertNotIn("random secret", demo.err())
                self.assertNotIn("warning", demo.err())  # mode 0600
            finally:
                demo.stop()
            # A secret others may read is used, with a warning naming the
            # fix (security issue 12, item 6).
            for mode in (0o644, 0o640, 0o602):
                secret = write_secret(d, "0123456789abcdef0123456789abcdef",
                                      mode)
                demo = Demo(secret_file=secret)
                try:
                    self.assertEqual(demo.get("/ping").status, 200)
                    warnings = [l for l in demo.err().splitlines()
                                if "chmod 600 '%s'" % secret in l]
                    self.assertEqual(len(warnings), 1, demo.err())
                    self.assertIn("secret file '%s'" % secret, warnings[0])
                    self.assertIn("mode %04o" % mode, warnings[0])
                finally:
                    demo.stop()
        demo = Demo()
        try:
            self.assertIn("sessions will not survive a restart", demo.err())
        finally:
            demo.stop()

    def test_timeouts(self):
        demo = Demo("--idle-timeout", "2")
        try:
            _, c = demo.login("Idle")
            self.assertEqual(demo.get("/", cookie=c).status, 200)
            time.sleep(3.5)
            self.assertEqual(demo.get("/", cookie=c).status, 302)
        finally:
            demo.stop()
        demo = Demo("--idle-timeout", "60", "--absolute-timeout", "2")
        try:
            _, c = demo.login("Absolute")
            for _ in range(4):  # activity does not extend it
                time.sleep(1)
                last = demo.get("/", cookie=c).status
            self.assertEqual(last, 302)
        finally:
            demo.stop()


PING = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"


def connect(demo, source="127.0.0.1"):
    """A connection to the demo from `source` (any of 127.0.0.0/8 works
    on Linux loopback: a client address of one's choice)."""
    s = socket.socket()
    s.settimeout(TIMEOUT)
    s.bind((source, 0))
    s.connect(("127.0.0.1", demo.port))
    return s


def ping(s):
    """GET /ping on the connection; the status, or 0 when the server
    closed it without an answer."""
    try:
        s.sendall(PING)
        answer = b""
        while not answer.endswith(b"ok") and (chunk := s.recv(4096)):
            answer += chunk
    except (BrokenPipeError, ConnectionResetError):
        return 0
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0


def closed_within(s, seconds):
    """Whether the server closes the connection within `seconds`."""
    ready, _, _ = select.select([s], [], [], seconds)
    if not ready:
        return False
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True


class ConnectionLimitsTest(unittest.TestCase):
    """One client cannot hold every connection (security issue 12, item
    5): per-address and overall limits across all the event-loop threads,
    and a deadline for each request header that trickled bytes do not
    extend."""

    def setUp(self):
        if not SERVER["connection_limits"]:
            self.skipTest("%s has no connection limits" % PROGRAM)
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()

    def held(self, demo, source, n):
        """n connections from `source`, each served one request (so the
        demo has accepted and counted it) and kept open."""
        for _ in range(n):
            s = connect(demo, source)
            self.socks.append(s)
            self.assertEqual(ping(s), 200, "connection %d from %s"
                             % (len(self.socks), source))
        return self.socks[-n:]

    def refused(self, demo, source):
        s = connect(demo, source)
        self.socks.append(s)
        return ping(s) == 0

    def test_one_address_gets_64_connections_by_default(self):
        """The default per-address limit (64) holds across threads: a
        daemon per thread counting alone would let 4 x 64 through."""
        demo = Demo("--threads", "4")
        try:
            first = self.held(demo, "127.0.0.1", 64)
            self.assertTrue(self.refused(demo, "127.0.0.1"),
                            "a 65th connection from one address was served")
            # Another address is not affected, and the held ones still work.
            self.held(demo, "127.0.0.2", 1)
            self.assertEqual(ping(first[0]), 200)
            # A place freed is a place again.
            first[1].close()
            deadline = time.monotonic() + TIMEOUT
            while self.refused(demo, "127.0.0.1"):
                self.assertLess(time.monotonic(), deadline, "never freed")
                time.sleep(0.05)
            self.assertIn("at most 1000 connections, 64 per address, 10 s "
                          "for a request header", demo.line)
        finally:
            demo.stop()

    def test_the_overall_limit_counts_every_address(self):
        demo = Demo("--threads", "2", "--max-connections", "8",
                    "--max-per-address", "3")
        try:
            self.assertIn("at most 8 connections, 3 per address", demo.line)
            a = self.held(demo, "127.0.0.1", 3)
            self.assertTrue(self.refused(demo, "127.0.0.1"))
            self.held(demo, "127.0.0.2", 3)
            self.held(demo, "127.0.0.3", 2)
            self.assertTrue(self.refused(demo, "127.0.0.4"),
                            "a 9th connection was served")
            self.assertEqual(ping(a[0]), 200)
            a[1].close()
            deadline = time.monotonic() + TIMEOUT
            while self.refused(demo, "127.0.0.4"):
                self.assertLess(time.monotonic(), deadline, "never freed")
                time.sleep(0.05)
        finally:
            demo.stop()

    def test_a_trickled_header_is_cut_off_at_the_deadline(self):
        """With --header-timeout 2, a client sending a header byte every
        half second is closed after 2 s (MHD's idle timeout, 30 s, would
        never fire), while a slow but complete header, a kept-alive
        connection in use and new connections keep being served; a
        kept-alive connection left idle is closed at the deadline too."""
        demo = Demo("--threads", "2", "--header-timeout", "2")
        try:
            self.assertIn("2 s for a request header", demo.line)
            trickler = connect(demo, "127.0.0.2")
            keep = connect(demo)
            idle = connect(demo)
            self.assertEqual(ping(idle), 200)
            self.socks += [trickler, keep, idle]
            slow = connect(demo, "127.0.0.3")
            self.socks.append(slow)
            slow.sendall(b"GET /ping HTTP/1.1\r\n")
            start = time.monotonic()
            header = iter(b"GET /ping HTTP/1.1\r\nX-Slow: " + b"a" * 100)
            closed_after = None
            while time.monotonic() - start < 6:
                try:
                    trickler.sendall(bytes([next(header)]))
                except OSError:  # reset: closed a moment ago
                    closed_after = time.monotonic() - start
                    break
                if closed_within(trickler, 0.5):
                    closed_after = time.monotonic() - start
                    break
                self.assertEqual(ping(keep), 200)
                s = connect(demo)
                self.assertEqual(ping(s), 200)
                s.close()
                if slow is not None and time.monotonic() - start > 0.5:
                    slow.sendall(b"Host: x\r\n\r\n")  # done in time
                    self.assertEqual(ping_answer(slow), 200)
                    slow = None
            self.assertIsNotNone(closed_after, "the trickler still holds "
                                 "its connection after 6 s")
            self.assertGreater(closed_after, 1.5)
            self.assertLess(closed_after, 3.5)
            self.assertIsNone(slow, "the slow header was not finished")
            self.assertEqual(ping(keep), 200)
            self.assertTrue(closed_within(idle, 1),
                            "an idle kept-alive connection outlived the "
                            "header deadline")
        finally:
            demo.stop()


def ping_answer(s):
    """The status of the answer to a request already sent on s."""
    answer = b""
    while not answer.endswith(b"ok") and (chunk := s.recv(4096)):
        answer += chunk
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0


class RedisStoreTest(unittest.TestCase):
    """The demo on a Redis store (redis://): sessions, the counter's
    replays, an outage (503) and the recovery; tornado mode refuses it."""

    def setUp(self):
        if not shutil.which("redis-server"):
            self.skipTest("redis-server is not installed")
        self.dir = tempfile.TemporaryDirectory()
        self.secret = write_secret(self.dir.name, "s" * 32)
        self.rd = demo_harness.start_server(demo_harness.Redis)
        self.url = "redis://127.0.0.1:%d/2" % self.rd.port

    def tearDown(self):
        self.rd.kill()
        self.dir.cleanup()

    def test_sessions_count_outage_and_recovery(self):
        demo = Demo("--store", self.url, secret_file=self.secret)
        try:
            _, c = demo.login("Rosa")
            self.assertIn("What's up, Rosa?", demo.get("/", cookie=c).body)
            for n in range(1, 4):
                self.assertEqual(count_in(demo.get("/count", cookie=c).body),
                                 n)
            self.rd.kill()
            self.assertEqual(demo.get("/", cookie=c).status, 503)
            self.assertEqual(demo.get("/healthz").status, 503)
            self.rd = demo_harness.Redis(self.rd.port)
            deadline = time.monotonic() + 15
            while demo.get("/healthz").status != 200:
                self.assertLess(time.monotonic(), deadline, "no recovery")
                time.sleep(0.25)
            _, c2 = demo.login("Back")
            self.assertEqual(count_in(demo.get("/count", cookie=c2).body), 1)
        finally:
            demo.stop()

    def test_tornado_mode_refuses_a_redis_url(self):
        r = subprocess.run([DEMO, "--store", self.url, "--mode", "tornado",
                            "--cookie-secret-file", self.secret,
                            "--session-secret-file", self.secret],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--mode tornado keeps its sessions in memcached", r.stderr)


class MemcachedStoreTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("memcached"):
            self.skipTest("memcached is not installed")
        self.dir = tempfile.TemporaryDirectory()
        self.secret = write_secret(self.dir.name, "s" * 32)
        self.mc = demo_harness.start_memcached()
        self.url = "memcached://127.0.0.1:%d" % self.mc.port

    def tearDown(self):
        self.mc.kill()
        self.dir.cleanup()

    def demo(self):
        return Demo("--store", self.url, secret_file=self.secret)

    def test_an_unreachable_store_at_start_up_is_a_warning(self):
        """The demo starts (the store may come later) but says so on
        stderr before its "serving" line, instead of nothing at all."""
        self.mc.kill()
        demo = Demo("--store", self.url + "?connect_timeout_ms=300",
                    secret_file=self.secret)
        try:
            self.assertIn("warning: no answer from the store %s?"
                          "connect_timeout_ms=300 at start-up" % self.url,
                          demo.err())
            self.assertIn("503", demo.err())
            self.assertIn("start memcached there, or give another --store",
                          demo.err())
            self.assertEqual(demo.get("/healthz").status, 503)
        finally:
            demo.stop()
        self.mc = Memcached(self.mc.port)
        demo = self.demo()
        try:
            self.assertNotIn("no answer", demo.err())
        finally:
            demo.stop()

    def test_store_outage_gives_503_and_service_recovers(self):
        demo = self.demo()
        try:
            _, c = demo.login("Durable")
            self.assertEqual(demo.get("/", cookie=c).status, 200)
            self.mc.kill()
            r = demo.get("/", cookie=c)
            self.assertEqual(r.status, 503)
            self.assertIn("session store is unavailable", r.body)
            self.assertEqual(demo.get("/count", cookie=c).status, 503)
            self.assertEqual(demo.get("/healthz").status, 503)
            self.mc = Memcached(self.mc.port)
            deadline = time.monotonic() + 15
            while demo.get("/healthz").status != 200:
                self.assertLess(time.monotonic(), deadline, "no recovery")
                time.sleep(0.25)
            # The restarted memcached is empty: the old session is gone,
            # and new ones work.
            self.assertEqual(demo.get("/", cookie=c).status, 302)
            _, c2 = demo.login("Back")
            self.assertIn("What's up, Back?", demo.get("/", cookie=c2).body)
            self.assertEqual(count_in(demo.get("/count", cookie=c2).body), 1)
            m = demo.metrics()
            self.assertGreater(m["mcsession_store_errors_total"], 0)
            self.assertGreater(
                m['mcsession_demo_requests_total{code="5xx"}'], 0)
        finally:
            demo.stop()

    def test_a_stalled_store_stalls_only_one_thread(self):
        """A blocking store call stalls at most one thread (evhttp's
        per-thread event loop; in the MHD demo only an event loop's helper
        thread, which runs /healthz's store read); the other threads keep
        serving. The "store" here accepts connections and never answers."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(16)
            # retry_s=0: the start-up probe, which times out too, does
            # not have the store skip the server afterwards.
            url = ("memcached://127.0.0.1:%d?io_timeout_ms=3000&retry_s=0"
                   % silent.getsockname()[1])
            demo = Demo("--threads", "2", "--store", url,
                        secret_file=self.secret)
            try:
                slow = {}

                def wait_for_store():
                    t = time.monotonic()
                    slow["status"] = demo.get("/healthz").status
                    slow["took"] = time.monotonic() - t

                waiter = threading.Thread(target=wait_for_store)
                waiter.start()
                time.sleep(0.5)  # /healthz is now blocked on the store
                for _ in range(5):
                    t = time.monotonic()
                    self.assertEqual(demo.get("/ping").status, 200)
                    self.assertLess(time.monotonic() - t, 1.0)
                waiter.join(TIMEOUT)
                self.assertEqual(slow.get("status"), 503)
                self.assertGreater(slow["took"], 2.0)
            finally:
                demo.stop()

    def test_requests_waiting_for_a_frozen_store_never_stall_the_loop(self):
        """One event-loop thread: while requests wait for a store that has
        stopped answering (memcached frozen with SIGSTOP), the same thread
        answers /ping at once; clients that hang up while their request
        waits leave nothing behind (the demo's own checks at exit, and
        sanitizers when built with them); once the store answers again
        every request ends and the service goes on."""
        if not SERVER["loop_never_waits"]:
            self.skipTest("%s blocks its loop on the store by design"
                          % PROGRAM)
        demo = Demo("--threads", "1", "--store", self.url,
                    secret_file=self.secret)
        try:
            _, c = demo.login("Frozen")
            self.assertEqual(count_in(demo.get("/count", cookie=c).body), 1)
            demo_harness.freeze(self.mc.proc.pid)
            try:
                waited = {}

                def wait_for_store():
                    waited["status"] = demo.get("/", cookie=c).status

                waiter = threading.Thread(target=wait_for_store)
                waiter.start()
                request = ("GET /count HTTP/1.1\r\nHost: x\r\n"
                           "Cookie: session=%s\r\n\r\n" % c).encode()
                for _ in range(3):  # hang up while the request waits
                    with socket.create_connection(
                            ("127.0.0.1", demo.port), timeout=TIMEOUT) as s:
                        s.sendall(request)
                        time.sleep(0.02)
                for _ in range(5):
                    t = time.monotonic()
                    self.assertEqual(demo.get("/ping").status, 200)
                    self.assertLess(time.monotonic() - t, 0.5)
            finally:
                os.kill(self.mc.proc.pid, signal.SIGCONT)
            waiter.join(TIMEOUT)
            # Answered once the store woke up, or 503 after its timeout.
            self.assertIn(waited.get("status"), (200, 503))
            deadline = time.monotonic() + 10
            while demo.get("/healthz").status != 200:
                self.assertLess(time.monotonic() - deadline, 0, "no recovery")
                time.sleep(0.25)
            r = demo.get("/count", cookie=c)
            self.assertEqual(r.status, 200)
            self.assertGreaterEqual(count_in(r.body), 2)
        finally:
            demo.stop()

    def test_store_commands_for_login_load_list_and_logout(self):
        """What each step costs in memcached commands, as memcached counts
        them: an ordinary load stays at one (the list is not read), a
        login and a logout pay for the user's list (docs/design.md, "A
        user's sessions", has the figures)."""
        demo = self.demo()
        try:
            def cost(step):
                before = mc_stats(self.mc.port)
                r = step()
                return mc_commands(before, mc_stats(self.mc.port)), r

            _, other = demo.login("Counted")  # the user's list exists
            r = demo.get("/login")
            c, token = r.cookie(), r.xsrf()
            login, r = cost(lambda: demo.post(
                "/login", {"name": "Counted", "_xsrf": token}, cookie=c))
            self.assertEqual(r.status, 302)
            c = r.cookie()
            load, r = cost(lambda: demo.get("/", cookie=c))
            self.assertEqual((load, r.status), (1, 200))
            listing, r = cost(lambda: demo.get("/sessions", cookie=c))
            self.assertEqual(len(session_rows(r.body)), 2)
            token = r.xsrf()
            (handle,) = [h for h, here in session_rows(r.body) if not here]
            end, r = cost(lambda: demo.post(
                "/sessions/end", {"_xsrf": token, "handle": handle},
                cookie=c))
            self.assertEqual(r.header("Location"),
                             "/sessions?notice=session-ended")
            others = [demo.login("Counted")[1] for _ in range(2)]
            end_others, r = cost(lambda: demo.post(
                "/sessions/end-others", {"_xsrf": token}, cookie=c))
            self.assertEqual(r.header("Location"),
                             "/sessions?notice=others-ended")
            for o in others:
                self.assertEqual(demo.get("/", cookie=o).status, 302)
            logout, r = cost(lambda: demo.post("/logout", {"_xsrf": token},
                                               cookie=c))
            self.assertEqual(r.status, 302)
            sys.stderr.write("\nmemcached commands: login %d, load %d, "
                             "GET /sessions (2 sessions) %d, end one %d, "
                             "end 2 others %d, logout %d\n"
                             % (login, load, listing, end, end_others,
                                logout))
            # A login: the pre-login session's read, the user's
            # revocation generation, the new record's add, and the list's
            # read and compare-and-swap. A logout: the read, the delete,
            # and the list's read and compare-and-swap. The list page:
            # the read, the list, the revocation state, and one read per
            # session listed (nothing pruned, so no write). Ending one:
            # the read, then the list's read, the delete and the list's
            # compare-and-swap. Ending the two others: the read, the
            # list's read, a delete each and the list's compare-and-swap.
            self.assertEqual((login, load, listing, end, end_others, logout),
                             (5, 1, 5, 4, 5, 4))
        finally:
            demo.stop()

    def test_tornado_mode_has_no_sessions_page(self):
        """Tornado mode binds no session to a user: no list, so no page
        and no link to it, and its forms answer 404 (as "Log out
        everywhere" does there)."""
        demo = Demo("--store", self.url, "--mode", "tornado",
                    "--cookie-secret-file", self.secret,
                    "--session-secret-file", self.secret)
        try:
            r = demo.get("/login")
            headers = {"Cookie": "; ".join(
                sc.split(";")[0] for sc in r.set_cookies())}
            r = demo.post("/login", {"name": "Tess", "_xsrf": r.xsrf()},
                          headers=headers)
            self.assertEqual(r.status, 302)
            headers = {"Cookie": "; ".join(
                sc.split(";")[0] for sc in r.set_cookies())}
            r = demo.get("/", headers=headers)
            self.assertIn("What's up, Tess?", r.body)
            self.assertNotIn("/sessions", r.body)
            token = r.xsrf()
            r = demo.get("/sessions", headers=headers)
            self.assertEqual(r.status, 404)
            self.assertIn("in tornado mode sessions are not bound to users",
                          r.body)
            for path in ("/sessions/end", "/sessions/end-others"):
                r = demo.post(path, {"_xsrf": token, "handle": "A" * 22},
                              headers=headers)
                self.assertEqual(r.status, 404, path)
            self.assertEqual(demo.get("/", headers=headers).status, 200)
        finally:
            demo.stop()

    def test_a_planted_cookie_gains_nothing_from_the_login(self):
        demo = self.demo()
        try:
            check_planted_cookie_gains_nothing(self, demo)
        finally:
            demo.stop()

    def test_sessions_survive_a_demo_restart(self):
        demo = self.demo()
        try:
            _, c = demo.login("Persistent")
        finally:
            demo.stop()
        demo = self.demo()
        try:
            self.assertIn("What's up, Persistent?",
                          demo.get("/", cookie=c).body)
        finally:
            demo.stop()


def main():
    global DEMO, PROGRAM, SERVER
    if len(sys.argv) < 2:
        sys.exit("usage: test_demo_http.py PATH/TO/SERVER (%s)"
                 % " or ".join(SERVERS))
    DEMO = demo_harness.DEMO = os.path.abspath(sys.argv.pop(1))
    PROGRAM = os.path.basename(DEMO)
    if PROGRAM not in SERVERS:
        sys.exit("test_demo_http.py: unknown server %r (want %s)"
                 % (PROGRAM, " or ".join(SERVERS)))
    SERVER = SERVERS[PROGRAM]
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
