"""The recipe's demo application (login form, greeting), ported to Python 3
on Debian's python3-tornado, plus one route the recipe did not have:
GET /count, which increments session["count"] — the compatibility tests use
it to show a counter continuing across the C and Python sides.

Usage: recipe_app.py --port P --memcached HOST:PORT[,HOST:PORT...]
                     --cookie-secret-file F --session-secret-file F
                     [--session-timeout SECONDS]
Several servers become memcache.Client's server list, in that order (the
recipe passes its memcached_address straight to memcache.Client).
Run with /usr/bin/python3 (Debian's), which has tornado and memcache.
"""
import argparse
import asyncio

import tornado.web

import recipe_session as session

LOGIN_PAGE = """<!doctype html><html><body>
<form action="/login" method="post">{xsrf}
Name: <input type="text" name="name"><input type="submit" value="Sign in">
</form></body></html>"""


class BaseHandler(tornado.web.RequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session.Session(self.application.session_manager, self)

    def get_current_user(self):
        return self.session.get("user_name")


class MainHandler(BaseHandler):
    @tornado.web.authenticated
    def get(self):
        username = self.get_current_user()
        self.write("What's up, " + tornado.escape.xhtml_escape(username) + "?")


class LoginHandler(BaseHandler):
    def get(self):
        self.write(LOGIN_PAGE.format(xsrf=self.xsrf_form_html()))

    def post(self):
        self.session["user_name"] = self.get_argument("name")
        self.session.save()
        self.redirect("/")


class CountHandler(BaseHandler):
    def get(self):
        self.session["count"] = self.session.get("count", 0) + 1
        self.session.save()
        self.write("count: %d" % self.session["count"])


def read_secret(path):
    with open(path) as f:
        text = f.read()
    return text[:-1] if text.endswith("\n") else text


def make_app(args):
    app = tornado.web.Application(
        [(r"/", MainHandler), (r"/login", LoginHandler),
         (r"/count", CountHandler)],
        cookie_secret=read_secret(args.cookie_secret_file),
        login_url="/login",
        xsrf_cookies=True)
    app.session_manager = session.SessionManager(
        read_secret(args.session_secret_file), args.memcached.split(","),
        args.session_timeout)
    return app


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--memcached", required=True)
    p.add_argument("--cookie-secret-file", required=True)
    p.add_argument("--session-secret-file", required=True)
    p.add_argument("--session-timeout", type=int, default=3600)
    args = p.parse_args()
    make_app(args).listen(args.port, address="127.0.0.1")
    print("recipe app on http://127.0.0.1:%d/" % args.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
