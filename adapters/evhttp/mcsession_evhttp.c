/* The libevent evhttp adapter: evhttp's request object on one side,
 * mcsession's Cookie-header-in, Set-Cookie-values-out core on the other.
 * Stateless; each call touches only the request it is given, so it is safe
 * with any number of event bases in any number of threads. */
#include <stddef.h>
#include <string.h>
#include <sys/queue.h> /* TAILQ_*: evkeyvalq is a public TAILQ */

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mcsession/evhttp.h"

int mcs_evhttp_session_load(mcs_manager *mgr, struct evhttp_request *req,
                            mcs_session **out) {
  if (out)
    *out = NULL;
  if (!mgr || !req || !out)
    return MCS_EINVAL;
  /* evhttp_find_header matches names case-insensitively and returns the
   * first header of that name. evhttp stores the value NUL-terminated
   * (trimmed, continuation lines joined), so strlen is its length. */
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  const char *header = in ? evhttp_find_header(in, "Cookie") : NULL;
  return mcs_session_load(mgr, header, header ? strlen(header) : 0, out);
}

/* Moves every entry of `from` to the end of `to`, in order. Both lists are
 * libevent's; entries stay allocated by libevent's allocator. */
static void move_headers(struct evkeyvalq *from, struct evkeyvalq *to) {
  struct evkeyval *kv;
  while ((kv = TAILQ_FIRST(from)) != NULL) {
    TAILQ_REMOVE(from, kv, next);
    TAILQ_INSERT_TAIL(to, kv, next);
  }
}

int mcs_evhttp_add_set_cookies(const mcs_session *s,
                               struct evhttp_request *req) {
  if (!s || !req)
    return MCS_EINVAL;
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  if (!out)
    return MCS_EINVAL;
  /* Built on a list of our own first and moved over only when every
   * header was accepted, so a failure leaves the response untouched (and
   * evhttp_clear_headers frees what was built with libevent's allocator,
   * which may not be malloc). */
  struct evkeyvalq built;
  TAILQ_INIT(&built);
  size_t n = mcs_session_cookie_count(s);
  for (size_t i = 0; i < n; i++) {
    const char *value = mcs_session_cookie(s, i);
    if (!value || evhttp_add_header(&built, "Set-Cookie", value) != 0) {
      evhttp_clear_headers(&built);
      return MCS_ENOMEM;
    }
  }
  move_headers(&built, out);
  return MCS_OK;
}
