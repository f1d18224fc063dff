/* A user's sessions, listed and ended one by one (route_sessions.h; the
 * library side: mcsession/session.h, "A user's sessions").
 *
 * "Log out everywhere else" ends the other listed sessions with
 * mcs_manager_end_other_sessions rather than revoking the user and
 * binding this session again. Revoke and re-bind would end this device too if
 * any of its requests loaded in between (it would find itself revoked,
 * and its record deleted before the re-bind's save), and other servers
 * notice a revocation only after their revocation_check_interval; ending
 * a session deletes its record, which every server sees at the session's
 * next request, and never touches this device's record. What it does not
 * reach is a session the list no longer holds (beyond the 64 newest):
 * "Log out everywhere" (revocation) is there for that. Cost: the list's
 * read and write, and a delete per session ended. */
#include <string.h>

#include "form.h"
#include "pages.h"
#include "route_kit.h"
#include "route_sessions.h"

/* How often an end is tried again when the list kept changing under it
 * (MCS_ECONFLICT: the records are deleted already, the entries not yet
 * removed). */
#define END_TRIES 3

/* The checks every sessions route makes after native_only: signed in
 * (else to the sign-in page), this session's handle. STEP_WORK to go on
 * with c->user and c->handle set; else STEP_REPLY with *rp the page. */
static route_step signed_in_user(route_call *c, reply *rp) {
  if (!logged_in(c->session)) {
    redirect(rp, "/login");
    return STEP_REPLY;
  }
  c->user = mcs_session_user(c->session);
  int rc = mcs_session_handle(c->session, c->handle);
  if (rc != MCS_OK) {
    route_session_error(rp, rc);
    return STEP_REPLY;
  }
  return STEP_WORK;
}

/* ---- GET /sessions ---- */

route_step sessions_prepare(app *a, const request *rq, route_call *c,
                            reply *rp) {
  (void)rq;
  if (!native_only(a, rp))
    return STEP_REPLY;
  route_step next = signed_in_user(c, rp);
  if (next == STEP_WORK && issue_token(c, rp) != STEP_SAVE)
    return STEP_REPLY;
  return next;
}

void sessions_work(app *a, route_call *c) {
  /* A signed-in session bound to no user (signed in before the demo
   * bound users) has no list: the page shows none. */
  c->rc = c->user
              ? mcs_manager_list_sessions(a->mgr, c->user, &c->list, &c->count)
              : MCS_OK;
}

route_step sessions_after_work(app *a, const request *rq, route_call *c,
                               reply *rp) {
  (void)a;
  (void)rq;
  if (c->rc != MCS_OK) {
    route_session_error(rp, c->rc);
    return STEP_REPLY;
  }
  return STEP_SAVE; /* for a token's cookie; an unchanged session writes
                       nothing */
}

void sessions_render(app *a, const request *rq, route_call *c, reply *rp) {
  (void)a;
  const char *name;
  size_t len;
  if (!user_name(c->session, &name, &len)) {
    redirect(rp, "/login"); /* another tab logged out meanwhile */
    return;
  }
  page_sessions(&rp->body, &(sessions_view){.name = name,
                                            .name_len = len,
                                            .list = c->list,
                                            .count = c->count,
                                            .this_handle = c->handle,
                                            .xsrf = c->xsrf,
                                            .notice = notice_text(rq->notice)});
}

/* ---- POST /sessions/end ---- */

/* Reads the form's handle into c->target: true when it names a session
 * other than this one, else *rp is the 400 page. */
static bool form_target(const request *rq, route_call *c, reply *rp) {
  size_t len = 0;
  int rc = form_get(rq->body, rq->body_len, "handle", c->target,
                    sizeof c->target, &len);
  if (rc != FORM_OK || len != MCS_SESSION_HANDLE_LEN ||
      !mcs_session_handle_valid(c->target)) {
    reply_error(rp, 400,
                "The form does not say which session to end. Use the End "
                "buttons on the Your sessions page.");
    return false;
  }
  if (strcmp(c->target, c->handle) == 0) {
    reply_error(rp, 400,
                "That is the session you are using now. To end it, use Log "
                "out on the home page.");
    return false;
  }
  return true;
}

/* The checks both actions make: native mode, a form of this session's,
 * signed in, and (when `target`) the handle to end in c->target. A
 * session bound to no user has no list, so nothing to end: it is sent to
 * `no_list`. STEP_WORK to go on, else STEP_REPLY with *rp the page. */
static route_step action_prepare(app *a, const request *rq, route_call *c,
                                 reply *rp, bool target, const char *no_list) {
  if (!native_only(a, rp) || !action_form(rq, c, rp) ||
      signed_in_user(c, rp) != STEP_WORK ||
      (target && !form_target(rq, c, rp)))
    return STEP_REPLY;
  if (!c->user) {
    redirect(rp, no_list);
    return STEP_REPLY;
  }
  return STEP_WORK;
}

route_step session_end_prepare(app *a, const request *rq, route_call *c,
                               reply *rp) {
  return action_prepare(a, rq, c, rp, true, SESSIONS_GONE);
}

/* Ends c->user's session `target`, or with NULL every other listed one
 * (this device's kept), again while the list kept changing under us;
 * returns what the library last said. */
static int end_retrying(app *a, route_call *c, const char *target) {
  int rc = MCS_ECONFLICT;
  for (int i = 0; i < END_TRIES && rc == MCS_ECONFLICT; i++)
    rc = target ? mcs_manager_end_session(a->mgr, c->user, target)
                : mcs_manager_end_other_sessions(a->mgr, c->user, c->handle,
                                                 NULL);
  return rc;
}

void session_end_work(app *a, route_call *c) {
  c->rc = end_retrying(a, c, c->target);
}

/* Post/Redirect/Get: the list again, saying what happened. A session
 * that was gone already (signed out, expired, ended in another tab, or
 * not this user's) is said so plainly: nothing to do is not an error. */
route_step session_end_after_work(app *a, const request *rq, route_call *c,
                                  reply *rp) {
  (void)a;
  (void)rq;
  if (c->rc == MCS_OK || c->rc == MCS_ENOENT)
    redirect(rp, c->rc == MCS_OK ? SESSIONS_ENDED : SESSIONS_GONE);
  else
    route_session_error(rp, c->rc);
  return STEP_REPLY;
}

/* ---- POST /sessions/end-others ---- */

route_step end_others_prepare(app *a, const request *rq, route_call *c,
                              reply *rp) {
  return action_prepare(a, rq, c, rp, false, SESSIONS_OTHERS_ENDED);
}

void end_others_work(app *a, route_call *c) {
  c->rc = end_retrying(a, c, NULL);
}

route_step end_others_after_work(app *a, const request *rq, route_call *c,
                                 reply *rp) {
  (void)a;
  (void)rq;
  if (c->rc == MCS_OK)
    redirect(rp, SESSIONS_OTHERS_ENDED);
  else
    route_session_error(rp, c->rc);
  return STEP_REPLY;
}
