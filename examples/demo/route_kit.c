/* What the routes share: see route_kit.h. */
#include <string.h>
#include <strings.h>

#include "form.h"
#include "route_kit.h"

static const struct {
  const char *value, *text;
} NOTICES[] = {
    {"signed-out", "You are signed out."},
    {"signed-out-everywhere", "You are signed out on every device."},
    {"form-expired",
     "This form was open too long (or you signed in or out in another tab) "
     "and has expired. Please sign in again."},
    {"session-ended",
     "That session has ended: the device is signed out at its next "
     "request."},
    {"session-gone",
     "That session had already ended (it was signed out, timed out or "
     "ended from another page), so there was nothing left to end."},
    {"others-ended", "Your other sessions have ended: only this device is "
                     "still signed in."},
};

const char *notice_text(const char *value) {
  for (size_t i = 0; value && i < sizeof NOTICES / sizeof NOTICES[0]; i++)
    if (strcmp(NOTICES[i].value, value) == 0)
      return NOTICES[i].text;
  return NULL;
}

void redirect(reply *rp, const char *location) {
  rp->status = 302;
  rp->location = location;
  rp->content_type = "text/plain; charset=utf-8";
  sb_puts(&rp->body, "See ");
  sb_puts(&rp->body, location);
  sb_puts(&rp->body, "\n");
}

bool user_name(const mcs_session *s, const char **name, size_t *len) {
  return mcs_session_outcome(s) != MCS_SESSION_RETIRED &&
         mcs_session_get_str(s, "user_name", name, len) == MCS_OK;
}

bool logged_in(const mcs_session *s) { return user_name(s, NULL, NULL); }

bool native_only(const app *a, reply *rp) {
  if (!a->bind_users)
    reply_error(rp, 404,
                "There is no page here: in tornado mode sessions are not "
                "bound to users, so only Log out is offered.");
  return a->bind_users;
}

void client_label(const char *client, char out[CLIENT_LABEL_SIZE]) {
  size_t n = client ? strnlen(client, CLIENT_LABEL_SIZE) : CLIENT_LABEL_SIZE;
  if (n == CLIENT_LABEL_SIZE)
    n = 0;
  memcpy(out, client ? client : "", n);
  out[n] = '\0';
}

route_step issue_token(route_call *c, reply *rp) {
  int rc = mcs_csrf_token(c->session, c->xsrf, sizeof c->xsrf);
  if (rc != MCS_OK) {
    route_session_error(rp, rc);
    return STEP_REPLY;
  }
  return STEP_SAVE;
}

form_check check_form(const request *rq, const mcs_session *s, reply *rp) {
  static const char want[] = "application/x-www-form-urlencoded";
  const char *ct = rq->content_type;
  if (!ct || strncasecmp(ct, want, sizeof want - 1) != 0 ||
      (ct[sizeof want - 1] != '\0' && ct[sizeof want - 1] != ';')) {
    reply_error(rp, 415, "Send the form as application/x-www-form-urlencoded.");
    return FORM_REFUSED;
  }
  char token[MCS_CSRF_TOKEN_LEN + 1];
  size_t len;
  int rc = form_get(rq->body, rq->body_len, "_xsrf", token, sizeof token, &len);
  if (rc == FORM_MALFORMED) {
    reply_error(rp, 400, "The form data is malformed.");
    return FORM_REFUSED;
  }
  if (rc == FORM_OK && mcs_csrf_verify(s, token, len) == MCS_OK)
    return FORM_CHECKED;
  if (rc == FORM_OK && len == MCS_CSRF_TOKEN_LEN)
    return FORM_STALE;
  reply_error(rp, 403,
              "The form has no valid _xsrf field. Send it from the page that "
              "shows it.");
  return FORM_REFUSED;
}

/* A stale form on a signed-in page: the page was open too long. Nothing
 * was done; the home page (or the sign-in page, if the session has
 * ended) is one click away on the error page. */
static void stale_page(reply *rp) {
  reply_error(rp, 403,
              "This page was open too long (or you signed in or out in "
              "another tab), so nothing was done. Open the home page and try "
              "again.");
}

bool action_form(const request *rq, route_call *c, reply *rp) {
  form_check fc = check_form(rq, c->session, rp);
  if (fc == FORM_STALE)
    stale_page(rp);
  return fc == FORM_CHECKED;
}
