/* The recipe's app (docs/design.md, "Tornado mode"), "Log out
 * everywhere" and the route table (with "Your sessions" from
 * route_sessions.c), plus health, metrics and a session-free /ping.
 * Each route is split into the phases of route_def.h so that the
 * blocking driver (route_sync.c) and the event-loop driver
 * (route_async.c) run the same code. Independent of the HTTP library:
 * the drivers load and save the session, the server sends the reply. */
#include <string.h>

#include "device.h"
#include "form.h"
#include "name.h"
#include "pages.h"
#include "route_kit.h"
#include "route_sessions.h"

static const char TEXT[] = "text/plain; charset=utf-8";

static int64_t count_of(const mcs_session *s) {
  int64_t n = 0;
  return mcs_session_get_int(s, "count", &n) == MCS_OK ? n : 0;
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
  (void)rq;
  const char *name;
  size_t len;
  /* Read after save: a save may replace the record the name points into. */
  if (user_name(c->session, &name, &len))
    page_home(&rp->body, name, len, count_of(c->session), c->xsrf,
              a->bind_users);
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
  page_login(&rp->body, c->xsrf, notice_text(rq->notice), NULL);
}

/* ---- POST /login ---- */

/* Reads and checks the name field into c->name. False with c->refused
 * set for a name the person should change (the form is shown again,
 * saying why), or with *rp an error page for a body no form sends. */
static bool form_name(const request *rq, route_call *c, size_t *len,
                      reply *rp) {
  int rc =
      form_get(rq->body, rq->body_len, "name", c->name, sizeof c->name, len);
  if (rc == FORM_MALFORMED) {
    reply_error(rp, 400, "The form data is malformed.");
    return false;
  }
  name_verdict v = rc == FORM_OK ? name_check(c->name, len) : NAME_BLANK;
  c->refused = rc == FORM_TOO_LONG
                   ? "That name is too long: at most 256 bytes, please."
               : v != NAME_OK ? name_problem(v)
                              : NULL;
  return !c->refused;
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
  form_check fc = check_form(rq, c->session, rp);
  if (fc == FORM_STALE) {
    /* A fresh form, through a redirect (Post/Redirect/Get): a reload
     * then asks for the form again instead of posting the stale token
     * again, and a POST from another site (which a SameSite=Lax browser
     * sends without the session cookie) earns no new cookie that would
     * replace the one it holds. */
    redirect(rp, LOGIN_FORM_EXPIRED);
    return STEP_REPLY;
  }
  if (fc != FORM_CHECKED)
    return STEP_REPLY;
  if (!form_name(rq, c, &len, rp)) /* the form again, with why */
    return c->refused ? issue_token(c, rp) : STEP_REPLY;
  int rc = mcs_session_set_str(c->session, "user_name", c->name, len);
  /* A new id at login: an id planted before login (session fixation)
   * names nothing afterwards. */
  if (rc == MCS_OK)
    rc = mcs_session_regenerate(c->session);
  if (rc != MCS_OK)
    return login_failed(rp, rc);
  if (!a->bind_users)
    return STEP_SAVE;
  /* Bound to its user, the session ends when the user is logged out
   * everywhere, and is listed on the user's "Your sessions" page with
   * where it signed in from. Binding reads the store (once, at login):
   * work. */
  device_label(rq->user_agent, c->device);
  client_label(rq->client, c->client);
  return STEP_WORK;
}

static void login_work(app *a, route_call *c) {
  (void)a;
  const char *labels[] = {c->device, c->client};
  c->rc = mcs_session_set_user_labels(c->session, c->name, labels,
                                      c->client[0] ? 2 : 1);
}

static route_step login_after_work(app *a, const request *rq, route_call *c,
                                   reply *rp) {
  (void)a;
  (void)rq;
  return c->rc == MCS_OK ? STEP_SAVE : login_failed(rp, c->rc);
}

/* Signed in: home. A refused name: the sign-in form again (its token
 * issued before the save), saying why, as a 400. */
static void login_render(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  if (!c->refused) {
    redirect(rp, "/");
    return;
  }
  rp->status = 400;
  page_login(&rp->body, c->xsrf, NULL, c->refused);
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
  return action_form(rq, c, rp) ? destroy_session(c, rp) : STEP_REPLY;
}

/* "Log out everywhere": revokes the user (one store write), which ends
 * every session bound to them on every server sharing the store — within
 * the manager's revocation_check_interval elsewhere, at once here. */
static route_step everywhere_prepare(app *a, const request *rq, route_call *c,
                                     reply *rp) {
  if (!native_only(a, rp) || !action_form(rq, c, rp))
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
  c->revoked = true;
  return destroy_session(c, rp);
}

static void to_signed_out(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  (void)rq;
  (void)c;
  redirect(rp, LOGIN_SIGNED_OUT);
}

/* A session bound to no user was only logged out itself. */
static void to_signed_out_everywhere(app *a, const request *rq, route_call *c,
                                     reply *rp) {
  (void)a;
  (void)rq;
  redirect(rp, c->revoked ? LOGIN_SIGNED_OUT_EVERYWHERE : LOGIN_SIGNED_OUT);
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

static void health_work(app *a, route_call *c) { c->rc = app_store_ping(a); }

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
     .render = login_render},
    {.path = "/count",
     .method = "GET",
     .session = true,
     .prepare = count_prepare,
     .render = count_render},
    {.path = "/logout",
     .method = "POST",
     .session = true,
     .prepare = logout_prepare,
     .render = to_signed_out},
    {.path = "/logout-everywhere",
     .method = "POST",
     .session = true,
     .prepare = everywhere_prepare,
     .work = everywhere_work,
     .after_work = everywhere_after_work,
     .render = to_signed_out_everywhere},
    {.path = "/sessions",
     .method = "GET",
     .session = true,
     .prepare = sessions_prepare,
     .work = sessions_work,
     .after_work = sessions_after_work,
     .render = sessions_render},
    {.path = "/sessions/end",
     .method = "POST",
     .session = true,
     .prepare = session_end_prepare,
     .work = session_end_work,
     .after_work = session_end_after_work},
    {.path = "/sessions/end-others",
     .method = "POST",
     .session = true,
     .prepare = end_others_prepare,
     .work = end_others_work,
     .after_work = end_others_after_work},
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
  mcs_free(c->list);
  c->list = NULL;
  if (!rp->status)
    rp->status = 200;
  if (!rp->content_type)
    rp->content_type = HTML;
}
