/* What the gate answers for one request, from the result of its session
 * load: independent of the HTTP library, so it is tested on its own
 * (tests/unit/gate/test_gate_verdict.c). */
#ifndef GATE_VERDICT_H
#define GATE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>

typedef struct gate_rules {
  bool tornado;         /* --mode tornado */
  const char *user_key; /* tornado: the session key naming the user */
} gate_rules;

typedef struct verdict {
  /* 200 (a session with a user), 401 (anything else a client can cause),
   * 503 (the store failed: retrying can succeed), 500 (a bug). */
  unsigned status;
  /* X-Session-Outcome: "new", "loaded", "expired", "forged", "retired",
   * or "refused" (a Cookie header over the library's limits); NULL for
   * 5xx. Static storage. */
  const char *outcome;
  bool unsafe_user; /* 401: the user cannot travel in a header
                     * (mcs_user_header_safe) */
  size_t user_len;
  char user[MCS_USER_HEADER_MAX + 1]; /* 200 only; NUL-terminated */
} verdict;

/* The verdict for a load that returned rc with session s (NULL unless
 * rc is MCS_OK; not freed here). Never reads the store. */
void verdict_decide(const gate_rules *r, int rc, const mcs_session *s,
                    verdict *v);

#endif
