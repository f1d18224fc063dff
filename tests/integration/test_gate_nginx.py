#!/usr/bin/python3
"""mcsession-gate behind Debian's nginx with auth_request: the
configuration docs/nginx.md gives, tested.

Usage: test_gate_nginx.py GATE DEMO TOOL [TEST...]

One memcached, the demo (C, native sessions), the Python recipe app
(tornado sessions), a gate per mode and nginx (-p DIR -c FILE -g 'daemon
off;' under a temporary prefix, one worker), every one on 127.0.0.1 and
stopped by its PID. nginx asks the gate at /_auth (native) or /_tauth
(tornado), passes the user to a backend (a second nginx server that echoes
X-User), redirects to a login URL with next= where error_page 401 says
so, and answers 503 when the gate does. Skips (77) without nginx,
memcached, tornado or memcache.

Covers: native and tornado sessions reach the backend with their user;
no cookie, forged, expired, destroyed and revoked sessions get 401, or the
redirect; one memcached command per gated request, and no write; a
stalled memcached gives 503 within the store's io timeout while an
ungated location and cookie-less requests are answered at once, and gated
requests pass again within seconds of memcached coming back; clients that
close while the gate waits for the store leave no descriptor or memory
behind in nginx or the gate; hostile cookies get 4xx and nginx keeps
serving; a user name with a space at either end is no user; HTTP/2 (h2c),
several streams on one connection; a POST's body stays away from the
gate.
"""
import os
import sys
import unittest

try:
    import memcache  # noqa: F401
    import tornado  # noqa: F401
except ImportError as e:
    print("skipping: %s" % e, file=sys.stderr)
    sys.exit(77)

import edge_checks
import gate_harness
from demo_harness import free_port
from edge_checks import native
from gate_harness import Gate, Nginx, http
from tornado_harness import Browser

IO_TIMEOUT_MS = 1000

# The http{} block: docs/nginx.md's auth_request configuration (section
# "mcsession-gate behind auth_request"), with ports filled in.
HTTP = """
    upstream mcsession_gate {
        server 127.0.0.1:%(gate)d;
        keepalive 16;
        keepalive_timeout 5s;  # less than the gate's --header-timeout
    }
    upstream mcsession_gate_tornado {
        server 127.0.0.1:%(tgate)d;
        keepalive 16;
        keepalive_timeout 5s;
    }
    upstream backend {
        server 127.0.0.1:%(backend)d;
    }

    server {
        listen 127.0.0.1:{port};
        listen 127.0.0.1:%(h2port)d http2;  # cleartext, prior knowledge

        # The gate sees the session cookie alone: no body (nor its
        # length: the gate would wait for it), no other header (so no
        # client header can fill its memory).
        location = /_auth {
            internal;
            proxy_pass http://mcsession_gate;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass_request_headers off;
            proxy_set_header Cookie "session=$cookie_session";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location = /_tauth {
            internal;
            proxy_pass http://mcsession_gate_tornado;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass_request_headers off;
            proxy_set_header Cookie
                "session_id=$cookie_session_id; verification=$cookie_verification";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        # auth_request turns the gate's 503 (store down), like any answer
        # but 2xx, 401 and 403, into a 500: give it back its meaning.
        location @gate_unavailable {
            return 503 "sessions unavailable\\n";
        }

        location /app/ {
            auth_request /_auth;
            auth_request_set $user $upstream_http_x_session_user;
            error_page 500 = @gate_unavailable;
            proxy_set_header X-User $user;
            proxy_pass http://backend;
        }
        location /tapp/ {
            auth_request /_tauth;
            auth_request_set $user $upstream_http_x_session_user;
            error_page 500 = @gate_unavailable;
            proxy_set_header X-User $user;
            proxy_pass http://backend;
        }
        # Browsers without a session go to the login page, and back.
        location /account/ {
            auth_request /_auth;
            auth_request_set $user $upstream_http_x_session_user;
            error_page 401 = @login;
            error_page 500 = @gate_unavailable;
            proxy_set_header X-User $user;
            proxy_pass http://backend;
        }
        location @login {
            return 302 /login?next=$request_uri;
        }
        location /open/ {
            return 200 "open\\n";
        }
    }

    # The backend: echoes the user nginx passed it.
    server {
        listen 127.0.0.1:%(backend)d;
        location / {
            return 200 "user=$http_x_user\\n";
        }
    }
"""

# test_zz_clients_close_while_parked: a gate of its own, the same nginx
# configuration.
CLOSE_IO_TIMEOUT_MS = 1000
CLOSE_KEEPALIVE = 16  # the mcsession_gate upstream's keepalive

ENV = {}


def setUpModule():
    edge_checks.start_apps(ENV, "mcs-gate-nginx-")
    store = "%s?io_timeout_ms=%d" % (ENV["url"], IO_TIMEOUT_MS)
    ENV["gate"] = Gate("--store", store, "--secret-file", ENV["secret"],
                       "--idle-timeout", "600", "--threads", "1")
    ENV["tgate"] = Gate("--mode", "tornado", "--store", store,
                        "--cookie-secret-file", ENV["cookie_file"],
                        "--session-secret-file", ENV["session_file"],
                        "--idle-timeout", "3600", "--threads", "1")
    ENV["h2port"] = free_port()
    ENV["nginx"] = Nginx(HTTP % {"gate": ENV["gate"].port,
                                 "tgate": ENV["tgate"].port,
                                 "backend": free_port(),
                                 "h2port": ENV["h2port"]})


def tearDownModule():
    edge_checks.stop_apps(ENV, ("nginx", "tgate", "gate"))


def get(path, cookie=None, headers=None, **kw):
    h = dict(headers or {})
    if cookie is not None:
        h["Cookie"] = cookie
    return http(ENV["nginx"].port, path=path, headers=h, **kw)


class GateBehindNginxTest(unittest.TestCase):
    def tearDown(self):
        for name in ("gate", "tgate"):
            self.assertTrue(ENV[name].alive(), ENV[name].err())
        self.assertIsNone(ENV["nginx"].proc.poll(), ENV["nginx"].error_log())

    def test_native_and_tornado_users_reach_the_backend(self):
        _, c = ENV["demo"].login("alice")
        r = get("/app/page?x=1", native(c))
        self.assertEqual((r.status, r.body), (200, "user=alice\n"))
        self.assertEqual(r.set_cookies(), [])
        r = get("/app/form", native(c), method="POST", body="a=1&b=2")
        self.assertEqual((r.status, r.body), (200, "user=alice\n"))
        b = Browser()
        b.login(ENV["py"], "Zoë")
        jar = "; ".join("%s=%s" % kv for kv in b.jar.items())
        r = get("/tapp/", jar)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.encode("latin-1").decode("utf-8")
                         if "Ã" in r.body else r.body, "user=Zoë\n")
        # The native gate knows nothing of tornado's cookies, and back.
        self.assertEqual(get("/app/", jar).status, 401)
        self.assertEqual(get("/tapp/", native(c)).status, 401)

    def test_no_cookie_forged_expired_destroyed_revoked_get_401(self):
        # The gate notices a revocation within its check interval (5 s).
        edge_checks.expired_destroyed_revoked(
            self, ENV, lambda cookie: get("/app/", cookie))

    def test_error_page_redirects_to_the_login_with_next(self):
        r = get("/account/orders?page=2")
        self.assertEqual(r.status, 302)
        self.assertTrue(r.header("Location").endswith(
            "/login?next=/account/orders?page=2"), r.header("Location"))
        _, c = ENV["demo"].login("erin")
        r = get("/account/orders?page=2", native(c))
        self.assertEqual((r.status, r.body), (200, "user=erin\n"))

    def test_one_memcached_command_per_gated_request_and_no_write(self):
        edge_checks.one_command_per_request(
            self, ENV, lambda cookie: get("/app/", cookie), 600)

    def test_hostile_cookies_get_4xx_and_nginx_keeps_serving(self):
        _, c = ENV["demo"].login("grace")
        for value in edge_checks.HOSTILE_COOKIES:
            r = get("/app/", value)
            self.assertEqual(r.status, 401, value[:40])
            r = get("/tapp/", value.replace("session=", "session_id="))
            self.assertEqual(r.status, 401, value[:40])
        # Beyond nginx's own limits (8 KiB a line): nginx's 400.
        r = get("/app/", "session=" + "x" * 20000)
        self.assertEqual(r.status, 400)
        # Nginx's largest request header block (4 x 8 KiB), session first.
        r = get("/app/", native(c), headers={
            "X-A": "a" * 7000, "X-B": "b" * 7000, "X-C": "c" * 7000})
        self.assertEqual((r.status, r.body), (200, "user=grace\n"))
        self.assertEqual(get("/open/").body, "open\n")

    def test_spaced_user_names_are_no_users(self):
        edge_checks.spaced_users_are_no_users(
            self, ENV, lambda cookie: get("/tapp/", cookie))
        self.assertIn("cannot be sent in a header", ENV["tgate"].err())

    def test_http2_streams_on_one_connection(self):
        _, c = ENV["demo"].login("olga")
        ok = (native(c), 200, "user=olga\n")
        cases = [ok, (None, 401, None), (native(c[:-4] + "AAAA"), 401, None),
                 ok, ok, ok, ok, ok]
        edge_checks.over_http2(self, ENV["h2port"], "/app/", cases)
        edge_checks.over_http2(self, ENV["h2port"], "/account/x", [
            (None, 302, None), (native(c), 200, "user=olga\n")])

    def test_zz_clients_close_while_parked(self):
        """Named to run last: memcached is frozen for a while. A gate of
        its own that never skips the store after a failure (retry_s=0),
        so every request of the stall waits for the io timeout."""
        store = "%s?io_timeout_ms=%d&retry_s=0" % (ENV["url"],
                                                   CLOSE_IO_TIMEOUT_MS)
        gate = Gate("--store", store, "--secret-file", ENV["secret"],
                    "--threads", "1")
        ngx = None
        try:
            ngx = Nginx(HTTP % {"gate": gate.port,
                                "tgate": ENV["tgate"].port,
                                "backend": free_port(),
                                "h2port": free_port()})

            def quick():
                self.assertEqual(http(ngx.port, path="/open/").status, 200)

            def pids():
                return edge_checks.worker_pids(ngx.proc.pid) + [gate.proc.pid]

            edge_checks.closes_while_parked(
                self, ENV, ngx.port, "/app/", pids, quick,
                CLOSE_IO_TIMEOUT_MS, slack=CLOSE_KEEPALIVE)
            self.assertTrue(gate.alive(), gate.err())
            self.assertNotIn("exited on signal", ngx.error_log())
        finally:
            if ngx:
                ngx.stop()
            gate.stop()

    def test_z_stalled_memcached_gives_503_in_time_and_recovers(self):
        """Named to run last: memcached is frozen for a while."""
        def quick():  # one nginx worker, one gate thread
            self.assertEqual(get("/open/").status, 200)
            self.assertEqual(get("/app/").status, 401)  # no cookie

        for r in edge_checks.stalled_memcached(
                self, ENV, lambda cookie: get("/app/", cookie), quick,
                IO_TIMEOUT_MS):
            self.assertEqual(r.body, "sessions unavailable\n")
        self.assertIn("the session store failed", ENV["gate"].err())


def main():
    usage = "test_gate_nginx.py GATE DEMO TOOL [TEST...]"
    if len(sys.argv) < 4:
        sys.exit("usage: " + usage)
    gate_harness.GATE = os.path.abspath(sys.argv.pop(1))
    edge_checks.main(usage)


if __name__ == "__main__":
    main()
