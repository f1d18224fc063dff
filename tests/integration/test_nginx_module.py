#!/usr/bin/python3
"""ngx_http_mcsession_module loaded into Debian's nginx: the
configurations docs/nginx.md gives, tested.

Usage: test_nginx_module.py MODULE DEMO TOOL [TEST...]

One memcached (on 127.0.0.1 and ::1), the demo (C, native sessions), the
Python recipe app (tornado sessions) and nginx with the module (-p DIR -c
FILE -g 'daemon off;' under a temporary prefix, one worker), every one on
127.0.0.1 and stopped by its PID. nginx checks sessions itself and passes
$mcsession_user to a backend (a second nginx server that echoes X-User).
Skips (77) without nginx, memcached, tornado or memcache.

Covers: native and tornado sessions reach the backend with their user;
no cookie, forged, expired, destroyed and revoked sessions get 401, or the
redirect with next=; $mcsession_outcome; one memcached command per gated
request, no write and no new connection, and the idle expiry slides; a
nested `mcsession off`; a store named by its IPv6 address; several
workers; hostile cookies get 4xx and nginx keeps serving; a user name
with a space at either end is no user; HTTP/2 (h2c), several streams on
one connection; tornado mode over two memcached servers hashed as
python-memcache hashes them; a stalled memcached gives 503 within the
store's io timeout while the same single worker answers other requests at
once, logged once, and gated requests pass again within seconds of
memcached coming back; clients that close while their request waits for
the store leave no descriptor or memory behind and crash no worker;
`nginx -t` names the directive of every configuration error.
"""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

try:
    import memcache  # noqa: F401
    import tornado.web
except ImportError as e:
    print("skipping: %s" % e, file=sys.stderr)
    sys.exit(77)

import demo_harness
import edge_checks
import gate_harness
from demo_harness import free_port
from edge_checks import native, read_secret
from gate_harness import Nginx, http, nginx_test
from tornado_harness import Browser, RecipeApp, raw_get, unquote

IO_TIMEOUT_MS = 1000
CLOSE_IO_TIMEOUT_MS = 1000  # the server of test_zz_clients_close_...
MODULE = None  # path of ngx_http_mcsession_module.so; main() sets it

# The http{} block: docs/nginx.md's configurations, with ports and files
# filled in. The first server is native mode (sessions made by the demo),
# the second tornado mode (made by the recipe app), the third native mode
# over the same memcached named by its IPv6 address.
HTTP = """
    mcsession_store memcached://127.0.0.1:%(mc)d?io_timeout_ms=%(io)d;
    mcsession_secret_file %(secret)s;
    mcsession_idle_timeout 600;

    upstream backend {
        server 127.0.0.1:%(backend)d;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:{port};
        listen 127.0.0.1:%(h2port)d http2;  # cleartext, prior knowledge

        location /app/ {
            mcsession on;
            mcsession_require_user on;
            proxy_set_header X-User $mcsession_user;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;

            # Public pages inside the application: no session read.
            location /app/public/ {
                mcsession off;
                proxy_pass http://backend;
            }
        }
        # Browsers without a session go to the login page, and back.
        location /account/ {
            mcsession on;
            mcsession_require_user on;
            mcsession_login_url /login;
            proxy_set_header X-User $mcsession_user;
            proxy_pass http://backend;
        }
        # Read, never required: the variables alone. (Not with `return`
        # here: it answers in the rewrite phase, before any access check.)
        location /soft/ {
            mcsession on;
            proxy_set_header X-User $mcsession_user;
            proxy_set_header X-Outcome $mcsession_outcome;
            proxy_pass http://backend;
        }
        location /open/ {
            return 200 "open\\n";
        }
    }

    server {
        listen 127.0.0.1:%(tport)d;
        mcsession_mode tornado;
        mcsession_cookie_secret_file %(cookie_file)s;
        mcsession_session_secret_file %(session_file)s;
        mcsession_idle_timeout 3600;

        location /tapp/ {
            mcsession on;
            mcsession_require_user on;
            proxy_set_header X-User $mcsession_user;
            proxy_pass http://backend;
        }
    }

    server {
        listen 127.0.0.1:%(v6port)d;
        mcsession_store memcached://[::1]:%(mc)d?io_timeout_ms=%(io)d;

        location / {
            mcsession on;
            mcsession_require_user on;
            proxy_set_header X-User $mcsession_user;
            proxy_pass http://backend;
        }
    }

    # The same memcached, never skipped after a failure (retry_s=0), so
    # every request of a stall waits for its io timeout, briefly.
    server {
        listen 127.0.0.1:%(closeport)d;
        mcsession_store memcached://127.0.0.1:%(mc)d?io_timeout_ms=%(closeio)d&retry_s=0;

        location /app/ {
            mcsession on;
            mcsession_require_user on;
            proxy_pass http://backend;
        }
        location /open/ {
            return 200 "open\n";
        }
    }

    # A store nobody listens on.
    server {
        listen 127.0.0.1:%(deadport)d;
        mcsession_store memcached://127.0.0.1:%(dead)d;

        location / {
            mcsession on;
            proxy_pass http://backend;
        }
    }

    # The backend: echoes what nginx passed it.
    server {
        listen 127.0.0.1:%(backend)d;
        location / {
            return 200 "user=$http_x_user\\n";
        }
        location /app/public/ {
            return 200 "public user=$http_x_user\\n";
        }
        location /soft/ {
            return 200 "user=$http_x_user outcome=$http_x_outcome\\n";
        }
    }
"""

ENV = {}


def load_module():
    return "load_module %s;" % MODULE


def setUpModule():
    edge_checks.start_apps(ENV, "mcs-ngx-module-", "127.0.0.1,::1")
    mc = ENV["mc"]
    ENV["tport"] = free_port()
    ENV["v6port"] = free_port()
    ENV["deadport"] = free_port()
    ENV["dead"] = free_port()
    ENV["h2port"] = free_port()
    ENV["tport2"] = free_port()
    ENV["closeport"] = free_port()
    ENV["conf"] = HTTP % {
        "mc": mc.port, "io": IO_TIMEOUT_MS, "secret": ENV["secret"],
        "cookie_file": ENV["cookie_file"],
        "session_file": ENV["session_file"], "backend": free_port(),
        "tport": ENV["tport"], "v6port": ENV["v6port"],
        "deadport": ENV["deadport"], "dead": ENV["dead"],
        "h2port": ENV["h2port"], "closeport": ENV["closeport"],
        "closeio": CLOSE_IO_TIMEOUT_MS}
    ENV["nginx"] = Nginx(ENV["conf"], main=load_module())


def tearDownModule():
    edge_checks.stop_apps(ENV, ("nginx",))


def get(path, cookie=None, headers=None, port=None, **kw):
    h = dict(headers or {})
    if cookie is not None:
        h["Cookie"] = cookie
    return http(port or ENV["nginx"].port, path=path, headers=h, **kw)


def tornado_jar(name):
    b = Browser()
    b.login(ENV["py"], name)
    return "; ".join("%s=%s" % kv for kv in b.jar.items())


class ModuleTest(unittest.TestCase):
    def tearDown(self):
        self.assertIsNone(ENV["nginx"].proc.poll(), ENV["nginx"].error_log())
        self.assertNotIn("[alert]", ENV["nginx"].error_log())

    def test_native_and_tornado_users_reach_the_backend(self):
        _, c = ENV["demo"].login("alice")
        r = get("/app/page?x=1", native(c))
        self.assertEqual((r.status, r.body), (200, "user=alice\n"))
        self.assertEqual(r.set_cookies(), [])
        r = get("/app/form", native(c), method="POST", body="a=1&b=2")
        self.assertEqual((r.status, r.body), (200, "user=alice\n"))
        jar = tornado_jar("Zoë")
        r = get("/tapp/", jar, port=ENV["tport"])
        self.assertEqual((r.status, r.body), (200, "user=Zoë\n"))
        # Native mode knows nothing of tornado's cookies, and back.
        self.assertEqual(get("/app/", jar).status, 401)
        self.assertEqual(get("/tapp/", native(c), port=ENV["tport"]).status,
                         401)

    def test_no_cookie_forged_expired_destroyed_revoked_get_401(self):
        self.assertEqual(get("/tapp/", port=ENV["tport"]).status, 401)
        jar = tornado_jar("bob")
        self.assertEqual(get("/tapp/", jar, port=ENV["tport"]).status, 200)
        forged = re.sub(r"verification=[^;]*", "verification=2|1:0|x", jar)
        self.assertEqual(get("/tapp/", forged, port=ENV["tport"]).status,
                         401)
        edge_checks.expired_destroyed_revoked(
            self, ENV, lambda cookie: get("/app/", cookie))

    def test_login_url_redirects_with_next(self):
        r = get("/account/orders?page=2&x=%C3%A9")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.header("Location").split("/", 3)[-1],
                         "login?next=%2Faccount%2Forders%3Fpage%3D2%26x"
                         "%3D%25C3%25A9")
        _, c = ENV["demo"].login("erin")
        r = get("/account/orders?page=2", native(c))
        self.assertEqual((r.status, r.body), (200, "user=erin\n"))

    def test_outcome_variable(self):
        self.assertEqual(get("/soft/").body, "user= outcome=new\n")
        _, c = ENV["demo"].login("fay")
        self.assertEqual(get("/soft/", native(c)).body,
                         "user=fay outcome=loaded\n")
        self.assertEqual(get("/soft/", native(c[:-4] + "AAAA")).body,
                         "user= outcome=forged\n")
        before, _ = ENV["demo"].login("gus")  # a cookie with no record
        self.assertEqual(get("/soft/", native(before)).body,
                         "user= outcome=expired\n")

    def test_nested_mcsession_off(self):
        r = get("/app/public/x")
        self.assertEqual((r.status, r.body), (200, "public user=\n"))
        self.assertEqual(get("/app/x").status, 401)

    def test_ipv6_store_address(self):
        _, c = ENV["demo"].login("ivy")
        r = get("/", native(c), port=ENV["v6port"])
        self.assertEqual((r.status, r.body), (200, "user=ivy\n"))
        self.assertEqual(get("/", port=ENV["v6port"]).status, 401)

    def test_a_dead_store_gives_503_and_nginx_keeps_serving(self):
        _, c = ENV["demo"].login("kim")
        for _ in range(3):
            r = get("/", native(c), port=ENV["deadport"])
            self.assertEqual(r.status, 503)
        # No cookie needs no store.
        self.assertEqual(get("/", port=ENV["deadport"]).status, 200)
        # Three 503s, one line.
        self.assertEqual(ENV["nginx"].error_log().count(
            'the session store "memcached://127.0.0.1:%d" failed'
            % ENV["dead"]), 1)
        self.assertEqual(get("/open/").body, "open\n")

    def test_one_memcached_command_per_gated_request_and_it_slides(self):
        before, after = edge_checks.one_command_per_request(
            self, ENV, lambda cookie: get("/app/", cookie), 600)
        # The worker's loop keeps its connection: none is opened per
        # request (the one more is the second `stats`).
        self.assertEqual(after["total_connections"],
                         before["total_connections"] + 1)

    def test_hostile_cookies_get_4xx_and_nginx_keeps_serving(self):
        _, c = ENV["demo"].login("grace")
        for value in edge_checks.HOSTILE_COOKIES:
            r = get("/app/", value)
            self.assertIn(r.status, (401, 431), value[:40])
            r = get("/tapp/", value.replace("session=", "session_id="),
                    port=ENV["tport"])
            self.assertIn(r.status, (401, 431), value[:40])
        # Beyond nginx's own limits (8 KiB a line): nginx's 400.
        self.assertEqual(get("/app/", "session=" + "x" * 20000).status, 400)
        # Several Cookie lines are one list of pairs.
        r = get("/app/", "theme=dark", headers={"cookie": "session=" + c})
        self.assertEqual((r.status, r.body), (200, "user=grace\n"))
        self.assertEqual(get("/open/").body, "open\n")

    def test_several_workers_and_a_reload_with_a_new_key(self):
        backend = free_port()
        secret = edge_checks.write(ENV["dir"], "reloaded_secret", "s" * 32)
        with open(secret, "w") as f:
            f.write("s" * 32)  # the demo's secret, without the newline
        ngx = Nginx("""
            mcsession_store memcached://127.0.0.1:%d;
            mcsession_secret_file %s;
            server {
                listen 127.0.0.1:{port} reuseport;
                location / {
                    mcsession on;
                    mcsession_require_user on;
                    proxy_set_header X-User $mcsession_user;
                    proxy_set_header X-Pid $pid;
                    proxy_pass http://127.0.0.1:%d;
                }
            }
            server {
                listen 127.0.0.1:%d;
                location / {
                    return 200 "$http_x_user $http_x_pid\\n";
                }
            }""" % (ENV["mc"].port, secret, backend, backend),
                    main=load_module(),
                    workers=3)
        try:
            _, c = ENV["demo"].login("hal")
            pids = set()
            for _ in range(40):
                r = http(ngx.port, path="/", headers={"Cookie": native(c)})
                self.assertEqual(r.status, 200, ngx.error_log())
                user, pid = r.body.split()
                self.assertEqual(user, "hal")
                pids.add(pid)
            self.assertGreater(len(pids), 1, "one worker answered all")
            self.assertEqual(http(ngx.port, path="/").status, 401)
            # A reload reads the secret file again: the demo's cookie
            # stops passing once the new workers alone answer (the old
            # ones may still take a connection or two while they leave).
            edge_checks.write(ENV["dir"], "reloaded_secret", "t" * 32)
            os.kill(ngx.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 8
            refused = 0
            while refused < 10:
                self.assertLess(time.monotonic(), deadline, "no reload")
                r = http(ngx.port, path="/", headers={"Cookie": native(c)})
                refused = refused + 1 if r.status == 401 else 0
                if not refused:
                    time.sleep(0.1)
            self.assertIsNone(ngx.proc.poll())
            self.assertNotIn("[alert]", ngx.error_log())
        finally:
            ngx.stop()

    def test_nginx_t_names_the_directive_of_each_error(self):
        d = ENV["dir"]
        short = edge_checks.write(d, "short", "too short")
        good = "mcsession_store %s;\nmcsession_secret_file %s;\n" % (
            ENV["url"], ENV["secret"])
        on = "server { listen 127.0.0.1:{port}; location / { mcsession on; } }"
        rc, err = nginx_test(good + on, load_module())
        self.assertEqual(rc, 0, err)
        cases = [
            ("mcsession_secret_file %s/missing;" % d,
             "mcsession_secret_file", "cannot open"),
            ("mcsession_secret_file %s;" % d,  # a directory: unreadable
             "mcsession_secret_file", "cannot read"),
            ("mcsession_secret_file %s;" % short,
             "mcsession_secret_file", "holds 9 bytes"),
            ("mcsession_store memcached://127.0.0.1:99999;",
             "mcsession_store", "bad URL"),
            ("mcsession_store redis://127.0.0.1;",
             "mcsession_store", "bad URL"),
            ("mcsession_store memory;", "mcsession_store", "memory store"),
            ("mcsession_mode natve;", "mcsession_mode",
             'invalid mode "natve" (want native or tornado)'),
            ("mcsession_mode tornado;\nmcsession_mode native;",
             "mcsession_mode", "is duplicate"),
        ]
        for directive, name, what in cases:
            text = good.replace(name + " ", "#") + directive + "\n" + on
            rc, err = nginx_test(text, load_module())
            self.assertNotEqual(rc, 0, directive)
            self.assertIn('"%s"' % name, err, directive)
            self.assertIn(what, err, directive)
        # A secret others may read: used, with a warning that says so.
        os.chmod(ENV["secret"], 0o644)
        try:
            rc, err = nginx_test(good + on, load_module())
        finally:
            os.chmod(ENV["secret"], 0o600)
        self.assertEqual(rc, 0, err)
        self.assertIn("is open to group or others (mode 0644); fix: chmod "
                      "600", err)
        # Tornado mode without its two secrets; mcsession on without a
        # store or a secret.
        rc, err = nginx_test(good + "mcsession_mode tornado;\n"
                             "mcsession_cookie_secret_file %s;\n" %
                             ENV["cookie_file"] + on, load_module())
        self.assertNotEqual(rc, 0)
        self.assertIn('"mcsession_session_secret_file"', err)
        self.assertIn('"mcsession on"', err)
        rc, err = nginx_test("mcsession_secret_file %s;\n" % ENV["secret"]
                             + on, load_module())
        self.assertNotEqual(rc, 0)
        self.assertIn('needs "mcsession_store"', err)
        rc, err = nginx_test("mcsession_store %s;\n" % ENV["url"] + on,
                             load_module())
        self.assertNotEqual(rc, 0)
        self.assertIn('needs "mcsession_secret_file"', err)

    def test_docs_configurations_pass_nginx_t(self):
        """docs/nginx.md, section 2: each configuration, with this test's
        module, store and secrets, passes nginx -t."""
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "..", "..", "docs", "nginx.md")) as f:
            doc = f.read()
        section = doc[doc.index("## 2. "):doc.index("## 3. ")]
        blocks = re.findall(r"```nginx\n(.*?)```", section, re.S)
        self.assertEqual(len(blocks), 2)
        files = {"/etc/app/cookie_secret": ENV["cookie_file"],
                 "/etc/app/session_secret": ENV["session_file"],
                 "/etc/myapp/session.secret": ENV["secret"],
                 "/var/log/nginx/": ENV["dir"] + "/"}
        for block in blocks:
            conf = re.sub(r"load_module [^;]*;", load_module(), block)
            for doc_path, path in files.items():
                conf = conf.replace(doc_path, path)
            conf = conf.replace("http {", "pid %s/t.pid;\nerror_log "
                                "stderr;\nevents {}\nhttp {" % ENV["dir"], 1)
            path = os.path.join(ENV["dir"], "doc.conf")
            with open(path, "w") as f:
                f.write(conf)
            p = subprocess.run([gate_harness.nginx_binary(), "-t", "-p",
                                ENV["dir"], "-c", path],
                               capture_output=True, text=True,
                               timeout=demo_harness.TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr + conf)

    def test_spaced_user_names_are_no_users(self):
        logged = len(ENV["nginx"].error_log())
        edge_checks.spaced_users_are_no_users(
            self, ENV, lambda cookie: get("/tapp/", cookie,
                                          port=ENV["tport"]))
        self.assertEqual(ENV["nginx"].error_log()[logged:].count(
            "the session's user is not fit for a header"), 5)

    def test_http2_streams_on_one_connection(self):
        _, c = ENV["demo"].login("olga")
        ok = (native(c), 200, "user=olga\n")
        cases = [ok, (None, 401, None), (native(c[:-4] + "AAAA"), 401, None),
                 ok, ok, (native(c), 200, "user=olga\n"), ok, ok]
        edge_checks.over_http2(self, ENV["h2port"], "/app/", cases)
        edge_checks.over_http2(self, ENV["h2port"], "/account/x", [
            (None, 302, None), (native(c), 200, "user=olga\n")])

    def test_tornado_sessions_on_two_servers_hashed_as_python_memcache(self):
        """The recipe app on two memcached servers (python-memcache's
        hashing picks one per session); the module, given the same list
        in the same order, finds every session."""
        mc2 = demo_harness.start_memcached()
        ports = [ENV["mc"].port, mc2.port]
        py = ngx = None
        try:
            py = RecipeApp(ports, ENV["cookie_file"], ENV["session_file"])
            ngx = Nginx("""
                mcsession_store "memcached://127.0.0.1:%d,127.0.0.1:%d?hash=python-memcache";
                mcsession_mode tornado;
                mcsession_cookie_secret_file %s;
                mcsession_session_secret_file %s;
                server {
                    listen 127.0.0.1:{port};
                    location / {
                        mcsession on;
                        mcsession_require_user on;
                        proxy_set_header X-User $mcsession_user;
                        proxy_pass http://127.0.0.1:%d;
                    }
                }
                server {
                    listen 127.0.0.1:%d;
                    return 200 "user=$http_x_user\\n";
                }""" % (ports[0], ports[1], ENV["cookie_file"],
                        ENV["session_file"], ENV["tport2"], ENV["tport2"]),
                        main=load_module())
            used = set()
            # At least 10 logins, and on until both servers hold one: a
            # fixed 10 missed a server in 1 run of 512 (a fresh-clone
            # make check hit it); 64 miss it in 1 of 2**63.
            for i in range(64):
                if i >= 10 and used == {0, 1}:
                    break
                b = Browser()
                b.login(py, "user %d" % i)
                jar = "; ".join("%s=%s" % kv for kv in b.jar.items())
                r = http(ngx.port, path="/", headers={"Cookie": jar})
                self.assertEqual((r.status, r.body),
                                 (200, "user=user %d\n" % i))
                sid = tornado.web.decode_signed_value(
                    read_secret(ENV["cookie_file"]), "session_id",
                    unquote(b.jar["session_id"])).decode()
                holders = [n for n, p in enumerate(ports)
                           if raw_get(p, sid)]
                self.assertEqual(len(holders), 1, holders)
                used.add(holders[0])
            self.assertEqual(used, {0, 1})
            self.assertEqual(http(ngx.port, path="/").status, 401)
        finally:
            for stop in (ngx and ngx.stop, py and py.stop, mc2.kill):
                if stop:
                    stop()

    def test_zz_clients_close_while_parked(self):
        """Named to run last, after the stalled test (whose one log line
        of a burst these 503s would otherwise take): memcached is frozen
        for a while."""
        master = ENV["nginx"].proc.pid

        port = ENV["closeport"]

        def quick():
            self.assertEqual(get("/open/", port=port).status, 200)

        edge_checks.closes_while_parked(
            self, ENV, port, "/app/",
            lambda: edge_checks.worker_pids(master), quick,
            CLOSE_IO_TIMEOUT_MS)
        self.assertNotIn("exited on signal", ENV["nginx"].error_log())

    def test_z_stalled_memcached_gives_503_in_time_and_recovers(self):
        """Named to run last: memcached is frozen for a while."""
        def quick():  # the same single nginx worker
            self.assertEqual(get("/open/").status, 200)
            self.assertEqual(get("/app/public/").status, 200)
            self.assertEqual(get("/app/").status, 401)  # no cookie

        logged = len(ENV["nginx"].error_log())
        edge_checks.stalled_memcached(
            self, ENV, lambda cookie: get("/app/", cookie), quick,
            IO_TIMEOUT_MS)
        # Once per burst: three 503s, one line.
        log = ENV["nginx"].error_log()[logged:]
        self.assertEqual(log.count("the session store \"memcached://"
                                   "127.0.0.1:%d?io_timeout_ms=%d\" failed"
                                   % (ENV["mc"].port, IO_TIMEOUT_MS)), 1,
                         log)


def main():
    global MODULE
    usage = "test_nginx_module.py MODULE DEMO TOOL [TEST...]"
    if len(sys.argv) < 4:
        sys.exit("usage: " + usage)
    MODULE = os.path.abspath(sys.argv.pop(1))
    edge_checks.main(usage)


if __name__ == "__main__":
    main()
