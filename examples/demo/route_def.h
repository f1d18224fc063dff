/* One route, described in phases, so that a single description serves
 * both drivers:
 *   route_sync.c   route(): load, act, save, render, each call blocking
 *                  (examples/evhttp);
 *   route_async.c  the same steps through an mcs_loop, never blocking the
 *                  thread (examples/demo/server.c on libmicrohttpd).
 * The phases of a route, in order:
 *   (load the session, when `session` is set)
 *   prepare     check the request, act on the session; says what next;
 *   work        optional: a step that may block on the store; the
 *               event-loop driver runs it on its loop's helper thread;
 *   after_work  acts on work's result; says what next;
 *   (save the session)
 *   render      the page, after a successful save, so that it shows what
 *               was stored (after any CAS replay).
 * Failed loads and saves become error pages in the drivers, the same way
 * for every route (route_session_error). */
#ifndef DEMO_ROUTE_DEF_H
#define DEMO_ROUTE_DEF_H

#include <stdbool.h>

#include <mcsession.h>

#include "app.h"
#include "device.h"
#include "reply.h"
#include "routes.h"

typedef enum route_step {
  STEP_REPLY, /* the reply is complete; the session is not saved */
  STEP_SAVE,  /* save the session, then render */
  STEP_WORK   /* run the route's work, then its after_work */
} route_step;

/* What one request's phases hand each other. */
typedef struct route_call {
  /* OWNED while set (the drivers free it or hand it to the reply for its
   * Set-Cookie values); NULL for session-free routes. */
  mcs_session *session;
  char xsrf[MCS_CSRF_TOKEN_LEN + 1]; /* issued before save, shown after */
  char name[DEMO_NAME_MAX + 1];      /* POST /login: the user to bind */
  /* POST /login: why the name was refused (static), shown above a fresh
   * sign-in form; NULL when it was not. */
  const char *refused;
  /* POST /logout-everywhere: the user to revoke; the sessions routes:
   * the user whose sessions are listed or ended. BORROWED from session
   * (valid until it is saved or freed, which work does not do). */
  const char *user;
  bool revoked; /* POST /logout-everywhere: the user was revoked */
  /* POST /login: the labels the user's list of sessions shows. */
  char device[DEVICE_LABEL_SIZE]; /* device.h: from the User-Agent */
  char client[CLIENT_LABEL_SIZE]; /* the client's address, or "" */
  /* The sessions routes (route_sessions.c): this session's handle, and
   * for POST /sessions/end the one to end. */
  char handle[MCS_SESSION_HANDLE_LEN + 1];
  char target[MCS_SESSION_HANDLE_LEN + 1];
  /* GET /sessions: the user's live sessions, OWNED (route_finish frees
   * them with mcs_free); NULL when count is 0. */
  mcs_user_session *list;
  size_t count;
  int rc; /* work's result */
} route_call;

typedef struct route_def {
  const char *path;
  const char *method; /* GET routes answer HEAD too */
  bool session;       /* load the session before prepare */
  /* Checks the request and acts on the session; says what next. */
  route_step (*prepare)(app *a, const request *rq, route_call *c, reply *rp);
  /* May block. Runs on another thread in the event-loop driver, so it
   * touches only *c and the app's thread-safe manager and store, never
   * the request or the reply (NULL when the route never answers
   * STEP_WORK). */
  void (*work)(app *a, route_call *c);
  /* Acts on work's result (c->rc): STEP_REPLY or STEP_SAVE. */
  route_step (*after_work)(app *a, const request *rq, route_call *c, reply *rp);
  /* The page after a successful save (NULL when the route never answers
   * STEP_SAVE). */
  void (*render)(app *a, const request *rq, route_call *c, reply *rp);
} route_def;

/* The route for rq, or NULL when there is none: *rp is then the 404 or
 * 405 page (with Allow). */
const route_def *route_find(const request *rq, reply *rp);

/* Makes *rp the page for a failed session call (503 store down, 431, ...). */
void route_session_error(reply *rp, int rc);

/* After a save that returned rc: on success renders the page and hands
 * the session to the reply (for its Set-Cookie values); on failure makes
 * the reply the error page and frees the session. */
void route_saved(app *a, const request *rq, const route_def *d, route_call *c,
                 reply *rp, int rc);

/* The end of every request: frees a session still owned (a reply without
 * a save sends no cookies) and a list of sessions, and fills the status and
 * content type a route left unset (200, HTML). */
void route_finish(route_call *c, reply *rp);

#endif
