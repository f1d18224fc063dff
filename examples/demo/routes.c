/* The recipe's app (DESIGN section 1) plus health, metrics and a
 * session-free /ping. Each handler: load the session, act, save, then
 * render, so a page shows what was stored (after any CAS replay).
 * Independent of the HTTP library: the server loads the session for us
 * (rq->load, with its adapter) and sends the reply. */
#include <string.h>
#include <strings.h>

#include "form.h"
#include "pages.h"
#include "routes.h"

static const char HTML[] = "text/html; charset=utf-8";
static const char TEXT[] = "text/plain; charset=utf-8";

static void redirect(reply *rp, const char *location) {
  rp->status = 302;
  rp->location = location;
  rp->content_type = TEXT;
  sb_puts(&rp->body, "See ");
  sb_puts(&rp->body, location);
  sb_puts(&rp->body, "\n");
}

/* The page for a failed session call. */
static void session_error(reply *rp, int rc) {
  unsigned status = mcs_http_status_for_error(rc);
  const char *msg =
      status == 503   ? "The session store is unavailable. Please try "
                        "again in a moment."
      : status == 431 ? "Your Cookie header is too large. Clear this "
                        "site's cookies and try again."
                      : mcs_strerror(rc);
  reply_error(rp, status, msg);
}

static mcs_session *load(app *a, const request *rq, reply *rp) {
  mcs_session *s = NULL;
  int rc = rq->load(a->mgr, rq, &s);
  if (rc != MCS_OK)
    session_error(rp, rc);
  return s;
}

/* Saves and hands the session to the reply for its cookies; on failure
 * the reply becomes the error page and the session is freed. */
static bool save(mcs_session *s, reply *rp) {
  int rc = mcs_session_save(s);
  if (rc != MCS_OK) {
    mcs_session_free(s);
    session_error(rp, rc);
    return false;
  }
  rp->session = s;
  return true;
}

static bool user_name(const mcs_session *s, const char **name, size_t *len) {
  return mcs_session_get_str(s, "user_name", name, len) == MCS_OK;
}

static int64_t count_of(const mcs_session *s) {
  int64_t n = 0;
  return mcs_session_get_int(s, "count", &n) == MCS_OK ? n : 0;
}

static void get_home(app *a, const request *rq, reply *rp) {
  mcs_session *s = load(a, rq, rp);
  char xsrf[MCS_CSRF_TOKEN_LEN + 1];
  if (!s)
    return;
  if (!mcs_session_has(s, "user_name")) {
    mcs_session_free(s);
    redirect(rp, "/login");
    return;
  }
  int rc = mcs_csrf_token(s, xsrf, sizeof xsrf);
  if (rc != MCS_OK) {
    mcs_session_free(s);
    session_error(rp, rc);
    return;
  }
  const char *name;
  size_t len;
  /* Read after save: a save may replace the record the name points into. */
  if (save(s, rp) && user_name(s, &name, &len))
    page_home(&rp->body, name, len, count_of(s), xsrf);
  else if (!rp->status)
    redirect(rp, "/login"); /* another tab logged out meanwhile */
}

static void get_login(app *a, const request *rq, reply *rp) {
  mcs_session *s = load(a, rq, rp);
  char xsrf[MCS_CSRF_TOKEN_LEN + 1];
  if (!s)
    return;
  int rc = mcs_csrf_token(s, xsrf, sizeof xsrf);
  if (rc != MCS_OK) {
    mcs_session_free(s);
    session_error(rp, rc);
    return;
  }
  if (save(s, rp))
    page_login(&rp->body, xsrf, NULL);
}

/* Checks the body's content type and its _xsrf field. */
static bool check_form(const request *rq, const mcs_session *s, reply *rp) {
  static const char want[] = "application/x-www-form-urlencoded";
  const char *ct = rq->content_type;
  if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0 ||
      (ct[sizeof want - 1] != '\0' && ct[sizeof want - 1] != ';')) {
    reply_error(rp, 415, "Send the form as application/x-www-form-urlencoded.");
    return false;
  }
  char token[MCS_CSRF_TOKEN_LEN + 1];
  size_t len;
  int rc = form_get(rq->body, rq->body_len, "_xsrf", token, sizeof token, &len);
  if (rc == FORM_MALFORMED) {
    reply_error(rp, 400, "The form data is malformed.");
    return false;
  }
  if (rc != FORM_OK || mcs_csrf_verify(s, token, len) != MCS_OK) {
    reply_error(rp, 403,
                "The form's XSRF token is missing or wrong. Reload the page "
                "and try again.");
    return false;
  }
  return true;
}

/* Reads the name field: 1..DEMO_NAME_MAX bytes, else a 400 page. */
static bool form_name(const request *rq, char *name, size_t size, size_t *len,
                      reply *rp) {
  int rc = form_get(rq->body, rq->body_len, "name", name, size, len);
  if (rc == FORM_OK && *len > 0)
    return true;
  reply_error(rp, 400,
              rc == FORM_TOO_LONG
                  ? "That name is too long: at most 256 bytes, please."
              : rc == FORM_MALFORMED ? "The form data is malformed."
                                     : "Please enter a name.");
  return false;
}

static void post_login(app *a, const request *rq, reply *rp) {
  char name[DEMO_NAME_MAX + 1];
  size_t len = 0;
  mcs_session *s = load(a, rq, rp);
  if (!s)
    return;
  if (!check_form(rq, s, rp) || !form_name(rq, name, sizeof name, &len, rp)) {
    mcs_session_free(s);
    return;
  }
  int rc = mcs_session_set_str(s, "user_name", name, len);
  /* A new id at login: an id planted before login (session fixation)
   * names nothing afterwards. */
  if (rc == MCS_OK)
    rc = mcs_session_regenerate(s);
  /* Bound to its user, the session ends when the user is logged out
   * everywhere (one store read now, at login). */
  if (rc == MCS_OK && a->bind_users)
    rc = mcs_session_set_user(s, name);
  if (rc != MCS_OK) {
    mcs_session_free(s);
    reply_error(rp, mcs_http_status_for_error(rc), /* EINVAL: 400 */
                rc == MCS_EINVAL ? "The name must be valid UTF-8 text."
                                 : mcs_strerror(rc));
    return;
  }
  if (save(s, rp))
    redirect(rp, "/");
}

static void get_count(app *a, const request *rq, reply *rp) {
  mcs_session *s = load(a, rq, rp);
  if (!s)
    return;
  int rc = mcs_session_incr(s, "count", 1, NULL);
  if (rc != MCS_OK) {
    mcs_session_free(s);
    session_error(rp, rc);
    return;
  }
  if (save(s, rp)) /* after save: the stored value, replays included */
    page_count(&rp->body, count_of(s), mcs_session_has(s, "user_name"));
}

/* The session of a form POST whose content type and _xsrf token check
 * out; NULL when the reply already holds the error page. */
static mcs_session *load_form(app *a, const request *rq, reply *rp) {
  mcs_session *s = load(a, rq, rp);
  if (s && !check_form(rq, s, rp)) {
    mcs_session_free(s);
    return NULL;
  }
  return s;
}

static void post_logout(app *a, const request *rq, reply *rp) {
  mcs_session *s = load_form(a, rq, rp);
  if (!s)
    return;
  mcs_session_destroy(s);
  if (save(s, rp))
    redirect(rp, "/login");
}

/* "Log out everywhere": revokes the user (one store write), which ends
 * every session bound to them on every server sharing the store — within
 * the manager's revocation_check_interval elsewhere, at once here. */
static void post_logout_everywhere(app *a, const request *rq, reply *rp) {
  mcs_session *s = load_form(a, rq, rp);
  if (!s)
    return;
  const char *user = mcs_session_user(s);
  int rc = user ? mcs_manager_revoke_user(a->mgr, user) : MCS_OK;
  if (rc != MCS_OK) {
    mcs_session_free(s);
    session_error(rp, rc);
    return;
  }
  mcs_session_destroy(s);
  if (save(s, rp))
    redirect(rp, "/login");
}

/* Ready when the store answers: a read of a key nobody writes. */
static void get_healthz(app *a, const request *rq, reply *rp) {
  (void)rq;
  static const char key[] = "mcs:healthz";
  void *data = NULL;
  size_t len;
  mcs_store_result res;
  int rc = mcs_store_get(a->store, key, sizeof key - 1, 0, 1024, &data, &len,
                         NULL, NULL, &res);
  mcs_free(data);
  rp->content_type = TEXT;
  rp->status = rc == MCS_OK ? 200 : 503;
  sb_puts(&rp->body, rc == MCS_OK ? "ok\n" : "store unavailable\n");
}

static void get_metrics(app *a, const request *rq, reply *rp) {
  (void)rq;
  rp->status = 200;
  rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
  metrics_render(&a->metrics, a->mgr, &rp->body);
}

/* No session, no store: the ceiling for benchmarks. */
static void get_ping(app *a, const request *rq, reply *rp) {
  (void)a;
  (void)rq;
  rp->status = 200;
  rp->content_type = TEXT;
  sb_puts(&rp->body, "ok");
}

typedef struct route_def {
  const char *path;
  const char *method; /* GET routes answer HEAD too */
  void (*fn)(app *a, const request *rq, reply *rp);
} route_def;

static const route_def routes[] = {
    {"/", "GET", get_home},           {"/login", "GET", get_login},
    {"/login", "POST", post_login},   {"/count", "GET", get_count},
    {"/logout", "POST", post_logout},
    {"/logout-everywhere", "POST", post_logout_everywhere},
    {"/healthz", "GET", get_healthz},
    {"/metrics", "GET", get_metrics}, {"/ping", "GET", get_ping},
};

static bool method_is(const char *sent, const char *route_method) {
  return strcmp(sent, route_method) == 0 ||
         (strcmp(sent, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* The Allow header for a path that exists under other methods. */
static const char *allowed(bool get, bool post) {
  return get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST";
}

void route(app *a, const request *rq, reply *rp) {
  bool get = false, post = false;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (strcmp(routes[i].path, rq->path) != 0)
      continue;
    if (method_is(rq->method, routes[i].method)) {
      routes[i].fn(a, rq, rp);
      if (!rp->status)
        rp->status = 200;
      if (!rp->content_type)
        rp->content_type = HTML;
      return;
    }
    *(strcmp(routes[i].method, "GET") == 0 ? &get : &post) = true;
  }
  if (get || post) {
    reply_error(rp, 405, "This page does not accept that method.");
    rp->allow = allowed(get, post);
    return;
  }
  reply_error(rp, 404, "There is no page here.");
}
