/* What the demo's routes share (routes.c: the recipe's app, health and
 * metrics; route_sessions.c: "Your sessions"): where a finished action
 * sends the browser, who is signed in, CSRF tokens and form checks. */
#ifndef DEMO_ROUTE_KIT_H
#define DEMO_ROUTE_KIT_H

#include <stdbool.h>
#include <stddef.h>

#include "route_def.h"

/* After an action the browser is sent to a page with a notice saying what
 * happened: a query argument rather than state, so it needs no script, no
 * cookie and no store write, and a reload shows the same page. Only the
 * values below are shown, as fixed sentences (notice_text). */
#define LOGIN_SIGNED_OUT "/login?notice=signed-out"
#define LOGIN_SIGNED_OUT_EVERYWHERE "/login?notice=signed-out-everywhere"
#define LOGIN_FORM_EXPIRED "/login?notice=form-expired"
#define SESSIONS_ENDED "/sessions?notice=session-ended"
#define SESSIONS_GONE "/sessions?notice=session-gone"
#define SESSIONS_OTHERS_ENDED "/sessions?notice=others-ended"

/* The sentence for a notice value, or NULL for any other value. Static. */
const char *notice_text(const char *value);

/* Makes *rp a 302 to `location` (static storage). */
void redirect(reply *rp, const char *location);

/* The recipe's current_user: session["user_name"], into *name (BORROWED
 * from s, valid until it changes) and *len when not NULL. A retired
 * session (the cookie from before a login moments ago) is nobody,
 * whatever its old data says. */
bool user_name(const mcs_session *s, const char **name, size_t *len);
bool logged_in(const mcs_session *s);

/* Tornado mode binds no session to a user (the recipe has no users), so
 * "everywhere" could only mean this session and there is no list of a
 * user's sessions: the pages offer neither, and their routes answer 404.
 * True in native mode; else false with *rp that 404. */
bool native_only(const app *a, reply *rp);

/* Copies the client's address (NULL: unknown) into out as a label, or ""
 * when there is none or it does not fit. */
void client_label(const char *client, char out[CLIENT_LABEL_SIZE]);

/* A CSRF token for the page into c->xsrf, issued before the save that
 * makes a new session's cookie go out with it: STEP_SAVE, or STEP_REPLY
 * with *rp the error page. */
route_step issue_token(route_call *c, reply *rp);

typedef enum form_check {
  FORM_CHECKED, /* a form this session was given: go on */
  FORM_REFUSED, /* *rp is the error page */
  /* A token of the right shape that does not verify: a form this demo
   * served, to a session that has ended since (the tab was open past the
   * idle timeout, or signed in or out elsewhere; a demo restarted without
   * --secret-file), or a forgery. Nothing is done either way. */
  FORM_STALE
} form_check;

/* Checks the body's content type and its _xsrf field. */
form_check check_form(const request *rq, const mcs_session *s, reply *rp);

/* Checks a form that acts on a signed-in session (logout, ending
 * sessions): true to go on, else *rp is the page (403 for a stale form,
 * saying so plainly). */
bool action_form(const request *rq, route_call *c, reply *rp);

#endif
