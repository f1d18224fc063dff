/* The recipe's app (docs/design.md, "Tornado mode") plus health, metrics
 * and a session-free /ping, each route split into the phases of
 * route_def.h so that the blocking driver (route_sync.c) and the
 * event-loop driver (route_async.c) run the same code. Independent of
 * the HTTP library: the drivers load and save the session, the server
 * sends the reply. */
#include <string.h>
#include <strings.h>

#include "form.h"
#include "pages.h"
#include "route_def.h"

static const char TEXT[] = "text/plain; charset=utf-8";

static void redirect(reply *rp, const char *location) {
  rp->status = 302;
  rp->location = location;
  rp->content_type = TEXT;
  sb_puts(&rp->body, "See ");
  sb_puts(&rp->body, location);
  sb_puts(&rp->body, "\n");
}

/* The recipe's current_user: session["user_name"]. A retired session (the
 * cookie from before a login moments ago: mcs_session_regenerate) is
 * nobody, whatever its old data says. */
static bool user_name(const mcs_session *s, const char **name, size_t *len) {
  return mcs_session_outcome(s) != MCS_SESSION_RETIRED &&
         mcs_session_get_str(s, "user_name", name, len) == MCS_OK;
}

static bool logged_in(const mcs_session *s) {
  return user_name(s, NULL, NULL);
}

static int64_t count_of(const mcs_session *s) {
  int64_t n = 0;
  return mcs_session_get_int(s, "count", &n) == MCS_OK ? n : 0;
}

/* A CSRF token for the page, issued before the save that makes a new
 * session's cookie go out with it. */
static route_step issue_token(route_call *c, reply *rp) {
  int rc = mcs_csrf_token(c->session, c->xsrf, sizeof c->xsrf);
  if (rc != MCS_OK) {
    route_session_error(rp, rc);
    return STEP_REPLY;
  }
  return STEP_SAVE;
}

/* ---- GET / ---- */

static route_step home_prepare(app *a, const request *rq, route_call *c,
                               reply *rp) {
  (void)a;
  (void)rq;
  if (!logged_in(c->session)) {
    redirect(rp, "/login");
    return STEP_REPLY;
  }
  return issue_token(c, rp);
}

static void home_render(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  const char *name;
  size_t len;
  /* Read after save: a save may replace the record the name points into. */
  if (user_name(c->session, &name, &len))
    page_home(&rp->body, name, len, count_of(c->session), c->xsrf);
  else
    redirect(rp, "/login"); /* another tab logged out meanwhile */
}

/* ---- GET /login ---- */

static route_step login_form_prepare(app *a, const request *rq, route_call *c,
                                     reply *rp) {
  (void)a;
  (void)rq;
  return issue_token(c, rp);
}

static void login_form_render(app *a, const request *rq, route_call *c,
                              reply *rp) {
  (void)a;
  (void)rq;
  page_login(&rp->body, c->xsrf, NULL);
}

/* ---- POST /login ---- */

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

/* The page for a login the session refused. */
static route_step login_failed(reply *rp, int rc) {
  if (rc == MCS_EINVAL) /* 400 */
    reply_error(rp, 400, "The name must be valid UTF-8 text.");
  else
    route_session_error(rp, rc);
  return STEP_REPLY;
}

static route_step login_prepare(app *a, const request *rq, route_call *c,
                                reply *rp) {
  size_t len = 0;
  if (!check_form(rq, c->session, rp) ||
      !form_name(rq, c->name, sizeof c->name, &len, rp))
    return STEP_REPLY;
  int rc = mcs_session_set_str(c->session, "user_name", c->name, len);
  /* A new id at login: an id planted before login (session fixation)
   * names nothing afterwards. */
  if (rc == MCS_OK)
    rc = mcs_session_regenerate(c->session);
  if (rc != MCS_OK)
    return login_failed(rp, rc);
  /* Bound to its user, the session ends when the user is logged out
   * everywhere. Binding reads the store (once, at login): work. */
  return a->bind_users ? STEP_WORK : STEP_SAVE;
}

static void login_work(app *a, route_call *c) {
  (void)a;
  c->rc = mcs_session_set_user(c->session, c->name);
}

static route_step login_after_work(app *a, const request *rq, route_call *c,
                                   reply *rp) {
  (void)a;
  (void)rq;
  return c->rc == MCS_OK ? STEP_SAVE : login_failed(rp, c->rc);
}

static void to_home(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  (void)c;
  redirect(rp, "/");
}

/* ---- GET /count ---- */

static route_step count_prepare(app *a, const request *rq, route_call *c,
                                reply *rp) {
  (void)a;
  (void)rq;
  int rc = mcs_session_incr(c->session, "count", 1, NULL);
  if (rc != MCS_OK) {
    route_session_error(rp, rc);
    return STEP_REPLY;
  }
  return STEP_SAVE;
}

static void count_render(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  /* After save: the stored value, replays included. */
  page_count(&rp->body, count_of(c->session), logged_in(c->session));
}

/* ---- POST /logout and POST /logout-everywhere ---- */

static route_step destroy_session(route_call *c, reply *rp) {
  int rc = mcs_session_destroy(c->session);
  if (rc != MCS_OK) {
    route_session_error(rp, rc);
    return STEP_REPLY;
  }
  return STEP_SAVE;
}

static route_step logout_prepare(app *a, const request *rq, route_call *c,
                                 reply *rp) {
  (void)a;
  if (!check_form(rq, c->session, rp))
    return STEP_REPLY;
  return destroy_session(c, rp);
}

/* "Log out everywhere": revokes the user (one store write), which ends
 * every session bound to them on every server sharing the store — within
 * the manager's revocation_check_interval elsewhere, at once here. */
static route_step everywhere_prepare(app *a, const request *rq, route_call *c,
                                     reply *rp) {
  (void)a;
  if (!check_form(rq, c->session, rp))
    return STEP_REPLY;
  c->user = mcs_session_user(c->session);
  return c->user ? STEP_WORK : destroy_session(c, rp);
}

static void everywhere_work(app *a, route_call *c) {
  c->rc = mcs_manager_revoke_user(a->mgr, c->user);
}

static route_step everywhere_after_work(app *a, const request *rq,
                                        route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  if (c->rc != MCS_OK) {
    route_session_error(rp, c->rc);
    return STEP_REPLY;
  }
  return destroy_session(c, rp);
}

static void to_login(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  (void)c;
  redirect(rp, "/login");
}

/* ---- GET /healthz: ready when the store answers ---- */

static route_step health_prepare(app *a, const request *rq, route_call *c,
                                 reply *rp) {
  (void)a;
  (void)rq;
  (void)c;
  (void)rp;
  return STEP_WORK; /* the store read may block */
}

/* A read of a key nobody writes. */
static void health_work(app *a, route_call *c) {
  static const char key[] = "mcs:healthz";
  void *data = NULL;
  size_t len;
  mcs_store_result res;
  c->rc = mcs_store_get(a->store, key, sizeof key - 1, 0, 1024, &data, &len,
                        NULL, NULL, &res);
  mcs_free(data);
}

static route_step health_after_work(app *a, const request *rq, route_call *c,
                                    reply *rp) {
  (void)a;
  (void)rq;
  rp->content_type = TEXT;
  rp->status = c->rc == MCS_OK ? 200 : 503;
  sb_puts(&rp->body, c->rc == MCS_OK ? "ok\n" : "store unavailable\n");
  return STEP_REPLY;
}

/* ---- GET /metrics and GET /ping: no session, answered at once ---- */

static route_step metrics_prepare(app *a, const request *rq, route_call *c,
                                  reply *rp) {
  (void)rq;
  (void)c;
  rp->status = 200;
  rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
  metrics_render(&a->metrics, a->mgr, &rp->body);
  return STEP_REPLY;
}

/* A 200 with a fixed body, answered at once. */
static route_step fixed_reply(reply *rp, const char *content_type,
                              const char *body) {
  rp->status = 200;
  rp->content_type = content_type;
  sb_puts(&rp->body, body);
  return STEP_REPLY;
}

/* No session, no store: the ceiling for benchmarks. */
static route_step ping_prepare(app *a, const request *rq, route_call *c,
                               reply *rp) {
  (void)a;
  (void)rq;
  (void)c;
  return fixed_reply(rp, TEXT, "ok");
}

/* The pages' stylesheet: the same bytes until the demo is rebuilt, so
 * browsers may keep it for a day. */
static route_step style_prepare(app *a, const request *rq, route_call *c,
                                reply *rp) {
  (void)a;
  (void)rq;
  (void)c;
  rp->cache_control = "public, max-age=86400";
  return fixed_reply(rp, "text/css; charset=utf-8", page_style());
}

static const route_def routes[] = {
    {.path = "/",
     .method = "GET",
     .session = true,
     .prepare = home_prepare,
     .render = home_render},
    {.path = "/login",
     .method = "GET",
     .session = true,
     .prepare = login_form_prepare,
     .render = login_form_render},
    {.path = "/login",
     .method = "POST",
     .session = true,
     .prepare = login_prepare,
     .work = login_work,
     .after_work = login_after_work,
     .render = to_home},
    {.path = "/count",
     .method = "GET",
     .session = true,
     .prepare = count_prepare,
     .render = count_render},
    {.path = "/logout",
     .method = "POST",
     .session = true,
     .prepare = logout_prepare,
     .render = to_login},
    {.path = "/logout-everywhere",
     .method = "POST",
     .session = true,
     .prepare = everywhere_prepare,
     .work = everywhere_work,
     .after_work = everywhere_after_work,
     .render = to_login},
    {.path = "/healthz",
     .method = "GET",
     .prepare = health_prepare,
     .work = health_work,
     .after_work = health_after_work},
    {.path = "/metrics", .method = "GET", .prepare = metrics_prepare},
    {.path = "/ping", .method = "GET", .prepare = ping_prepare},
    {.path = "/style.css", .method = "GET", .prepare = style_prepare},
};

static bool method_is(const char *sent, const char *route_method) {
  return strcmp(sent, route_method) == 0 ||
         (strcmp(sent, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* The Allow header for a path that exists under other methods. */
static const char *allowed(bool get, bool post) {
  return get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : "POST";
}

const route_def *route_find(const request *rq, reply *rp) {
  bool get = false, post = false;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (strcmp(routes[i].path, rq->path) != 0)
      continue;
    if (method_is(rq->method, routes[i].method))
      return &routes[i];
    *(strcmp(routes[i].method, "GET") == 0 ? &get : &post) = true;
  }
  if (get || post) {
    reply_error(rp, 405, "This page does not accept that method.");
    rp->allow = allowed(get, post);
    return NULL;
  }
  reply_error(rp, 404, "There is no page here.");
  return NULL;
}

/* ---- What both drivers share ---- */

static const char HTML[] = "text/html; charset=utf-8";

void route_session_error(reply *rp, int rc) {
  unsigned status = mcs_http_status_for_error(rc);
  const char *msg =
      status == 503   ? "The session store is unavailable. Please try "
                        "again in a moment."
      : status == 431 ? "Your Cookie header is too large. Clear this "
                        "site's cookies and try again."
      : rc == MCS_ERETIRED
          ? "This request carried the session cookie from before a sign-in "
            "moments ago, which can no longer change anything. Reload the "
            "page."
          : mcs_strerror(rc);
  reply_error(rp, status, msg);
}

void route_saved(app *a, const request *rq, const route_def *d, route_call *c,
                 reply *rp, int rc) {
  if (rc != MCS_OK) {
    mcs_session_free(c->session);
    c->session = NULL;
    route_session_error(rp, rc);
    return;
  }
  d->render(a, rq, c, rp);
  rp->session = c->session;
  c->session = NULL;
}

void route_finish(route_call *c, reply *rp) {
  mcs_session_free(c->session);
  c->session = NULL;
  if (!rp->status)
    rp->status = 200;
  if (!rp->content_type)
    rp->content_type = HTML;
}
