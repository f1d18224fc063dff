"""Logs benchmark users in over HTTP (Python stdlib only) and returns the
Cookie header each one sends afterwards.

Works for the three servers alike: GET /login (collecting cookies and the
form's _xsrf field, if there is one), POST /login with a name, then GET /
must answer 200 with "What's up, <name>?" for that Cookie header alone.
"""
import http.client
import re
import urllib.parse

XSRF_FIELD = re.compile(r'name="_xsrf"\s+value="([^"]+)"')


def _request(port, method, path, jar, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {}
    if jar:
        headers["Cookie"] = cookie_header(jar)
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode("utf-8", "replace")
    for value in resp.headers.get_all("Set-Cookie") or []:
        _store_cookie(jar, value)
    conn.close()
    return resp.status, text


def _store_cookie(jar, set_cookie):
    pair, _, attrs = set_cookie.partition(";")
    name, _, value = pair.strip().partition("=")
    if re.search(r"max-age=0\b|expires=thu, 01 jan 1970", attrs, re.I):
        jar.pop(name, None)
    else:
        jar[name] = value


def cookie_header(jar):
    return "; ".join("%s=%s" % item for item in jar.items())


def login(port, name):
    """Logs `name` in; returns the Cookie header value. Raises
    RuntimeError when any step does not answer as a login app should."""
    jar = {}
    status, page = _request(port, "GET", "/login", jar)
    if status != 200:
        raise RuntimeError("GET /login answered %d" % status)
    form = {"name": name}
    match = XSRF_FIELD.search(page)
    if match:
        form["_xsrf"] = match.group(1)
    status, _ = _request(port, "POST", "/login", jar,
                         urllib.parse.urlencode(form))
    if status not in (302, 303):
        raise RuntimeError("POST /login answered %d" % status)
    header = cookie_header(jar)
    check_logged_in(port, header, name)
    return header


def check_logged_in(port, header, name):
    """GET / with only this Cookie header must greet `name`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/", headers={"Cookie": header})
    resp = conn.getresponse()
    text = resp.read().decode("utf-8", "replace")
    conn.close()
    if resp.status != 200 or ("What's up, %s?" % name) not in text.replace(
            "&#39;", "'").replace("&#x27;", "'"):
        raise RuntimeError("GET / with %s's cookies answered %d: %.80r"
                           % (name, resp.status, text))


def login_many(port, count, prefix):
    """Logs in `count` users (prefix00, prefix01, ...); returns their
    Cookie headers in order."""
    return [login(port, "%s%02d" % (prefix, i)) for i in range(count)]
