/* What the gate answers for one request, from the result of its session
 * load: independent of the HTTP library, so it is tested on its own
 * (tests/unit/gate/test_gate_verdict.c). */
#ifndef GATE_VERDICT_H
#define GATE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>

/* The longest user name sent in X-Session-User. A native user id is at
 * most MCS_USER_ID_MAX (256) bytes; a Tornado application's user_name has
 * no limit of its own, and a proxy's buffer for the gate's answer header
 * (nginx's proxy_buffer_size: 4 KiB by default) must hold it. */
#define GATE_USER_MAX 1024

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
  bool unsafe_user; /* 401 because the user cannot travel in a header */
  size_t user_len;
  char user[GATE_USER_MAX + 1]; /* 200 only; NUL-terminated */
} verdict;

/* The verdict for a load that returned rc with session s (NULL unless
 * rc is MCS_OK; not freed here). Never reads the store. */
void verdict_decide(const gate_rules *r, int rc, const mcs_session *s,
                    verdict *v);

/* True when `user` can be sent as a header value and arrive unchanged:
 * 1 to GATE_USER_MAX bytes, no control byte (below 0x20, or 0x7f: CR and
 * LF would split the header, NUL ends it, and proxies treat the others
 * variously) and no space at either end (HTTP parsers strip it, so " bob"
 * would arrive as "bob"). Bytes from 0x80 up (UTF-8) pass as they are.
 * Such a user is refused (401), not encoded: an encoding would give one
 * user two spellings that the backend cannot tell from real names. */
bool verdict_user_ok(const char *user, size_t len);

#endif
