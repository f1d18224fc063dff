/* The libmicrohttpd adapter: MHD's request and response objects on one
 * side, mcsession's Cookie-header-in, Set-Cookie-values-out core on the
 * other. Stateless, so it is safe in every MHD threading mode. */
#include <stddef.h>

#include <microhttpd.h>

#include "mcsession/mhd.h"

int mcs_mhd_session_load(mcs_manager *mgr, struct MHD_Connection *conn,
                         mcs_session **out) {
  if (out)
    *out = NULL;
  if (!mgr || !conn || !out)
    return MCS_EINVAL;
  /* The _n variant gives the length MHD already knows (and would expose a
   * NUL inside the value rather than silently cutting the header there). */
  const char *header = NULL;
  size_t len = 0;
  if (MHD_lookup_connection_value_n(
          conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE,
          sizeof MHD_HTTP_HEADER_COOKIE - 1, &header, &len) != MHD_YES) {
    header = NULL;
    len = 0;
  }
  return mcs_session_load(mgr, header, len, out);
}

int mcs_mhd_add_set_cookies(const mcs_session *s,
                            struct MHD_Response *response) {
  if (!s || !response)
    return MCS_EINVAL;
  size_t n = mcs_session_cookie_count(s);
  for (size_t i = 0; i < n; i++) {
    const char *value = mcs_session_cookie(s, i);
    if (!value || MHD_add_response_header(response, MHD_HTTP_HEADER_SET_COOKIE,
                                          value) != MHD_YES)
      return MCS_ENOMEM;
  }
  return MCS_OK;
}
