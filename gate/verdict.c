/* The gate's decision (verdict.h). */
#include <string.h>

#include "verdict.h"

static const char *outcome_of(const mcs_session *s) {
  switch (mcs_session_outcome(s)) {
  case MCS_SESSION_LOADED:
    return "loaded";
  case MCS_SESSION_EXPIRED:
    return "expired";
  case MCS_SESSION_FORGED:
    return "forged";
  case MCS_SESSION_RETIRED:
    return "retired";
  case MCS_SESSION_NEW:
  default:
    return "new";
  }
}

/* The session's user, or NULL: native mode's bound user; tornado mode's
 * string under the user key (the recipe's current_user; an empty one is
 * nobody, as Tornado's @authenticated has it). Only a live session has
 * one: a retired snapshot (the cookie from before a login's regenerate)
 * is nobody, whatever its old data says. */
static const char *user_of(const gate_rules *r, const mcs_session *s,
                           size_t *len) {
  if (mcs_session_outcome(s) != MCS_SESSION_LOADED)
    return NULL;
  if (!r->tornado) {
    const char *uid = mcs_session_user(s);
    if (uid)
      *len = strlen(uid);
    return uid;
  }
  const char *name;
  if (mcs_session_get_str(s, r->user_key, &name, len) != MCS_OK ||
      *len == 0)
    return NULL;
  return name;
}

void verdict_decide(const gate_rules *r, int rc, const mcs_session *s,
                    verdict *v) {
  v->outcome = NULL;
  v->unsafe_user = false;
  v->user_len = 0;
  v->user[0] = '\0';
  switch (rc) {
  case MCS_OK:
    break;
  case MCS_ELIMIT:
    /* A Cookie header over the library's limits (8 KiB, 64 cookies) names
     * no session we will read: not authenticated. 401, not 431: the
     * forward-auth protocols know 2xx, 401 and 403, and nginx's
     * auth_request turns any other answer into a 500 for the client. */
    v->status = 401;
    v->outcome = "refused";
    return;
  default:
    /* The store's errors (and ENOMEM) are worth a retry: 503. Anything
     * else is a bug here or in the library. */
    v->status = mcs_http_status_for_error(rc) == 503 ? 503 : 500;
    return;
  }
  v->outcome = outcome_of(s);
  size_t len = 0;
  const char *user = user_of(r, s, &len);
  if (!user) {
    v->status = 401;
    return;
  }
  if (!mcs_user_header_safe(user, len)) {
    v->status = 401;
    v->unsafe_user = true;
    return;
  }
  memcpy(v->user, user, len);
  v->user[len] = '\0';
  v->user_len = len;
  v->status = 200;
}
