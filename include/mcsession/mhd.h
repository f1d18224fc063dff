/*
 * mcsession — the libmicrohttpd adapter (libmcsession-mhd).
 *
 * Two functions connect mcsession's framework-neutral core (the Cookie
 * header in, Set-Cookie header values out) to libmicrohttpd 0.9.75 or later:
 *
 *   mcs_mhd_session_load      the session named by a request's Cookie header
 *   mcs_mhd_add_set_cookies   the session's Set-Cookie values onto a response
 *
 * The HTTP status to answer for an error code is the core's
 * mcs_http_status_for_error (mcsession/base.h), the one mapping every
 * adapter shares.
 *
 * Typical access handler (second call, when the request is complete):
 *
 *   mcs_session *s;
 *   int rc = mcs_mhd_session_load(mgr, conn, &s);
 *   if (rc != MCS_OK)          (431: Cookie header too large, 503: store down)
 *     return reply(conn, mcs_http_status_for_error(rc));
 *   ... read and change the session ...
 *   rc = mcs_session_save(s);
 *   struct MHD_Response *r = make_page(...);
 *   if (rc == MCS_OK)
 *     rc = mcs_mhd_add_set_cookies(s, r);
 *   ... queue r (or an error page if rc != MCS_OK) ...
 *   mcs_session_free(s);
 *
 * Ownership: nothing here takes ownership of its arguments. The session
 * returned by mcs_mhd_session_load is OWNED by the caller (mcs_session_free).
 *
 * Thread-safety: every function is reentrant and keeps no state, so it
 * works with every MHD threading mode, thread pool included. Call the first
 * two from the thread MHD runs the access handler on for that connection
 * (MHD's rule for touching a connection); the manager may be shared by all
 * of MHD's threads; a session belongs to one request.
 *
 * Errors are the core's MCS_E* codes (see mcsession.h).
 *
 * This header declares MHD's types without including <microhttpd.h>, so it
 * can be included before or after it. Link with -lmcsession-mhd
 * -lmcsession -lmicrohttpd (pkg-config: mcsession-mhd).
 */
#ifndef MCSESSION_MHD_H
#define MCSESSION_MHD_H

#include "mcsession/session.h"

#ifdef __cplusplus
extern "C" {
#endif

struct MHD_Connection;
struct MHD_Response;

/* Loads the session named by the request's Cookie header (MHD_HEADER_KIND;
 * no header means a new session). Only the first Cookie header counts: an
 * HTTP/1.1 user agent sends one (RFC 6265 section 5.4).
 * Returns what mcs_session_load returns: MCS_OK with *out set; MCS_ELIMIT
 * for a header over MCS_COOKIE_HEADER_MAX bytes or with too many cookies
 * (answer 431); MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO when the store is
 * unreachable (answer 503; nothing was lost); MCS_ENOMEM; MCS_EINVAL for a
 * NULL argument. On failure *out is NULL. */
MCS_EXPORT int mcs_mhd_session_load(mcs_manager *mgr,
                                    struct MHD_Connection *conn,
                                    mcs_session **out);

/* Adds one "Set-Cookie" header to `response` for each value that the last
 * mcs_session_save prepared (none when nothing needs sending). Call it after
 * a successful save and before queueing the response. MHD copies the
 * header text, so the session may be freed right after.
 * Returns MCS_OK, MCS_EINVAL for a NULL argument, or MCS_ENOMEM when MHD
 * refuses a header (it does so only when it cannot allocate). */
MCS_EXPORT int mcs_mhd_add_set_cookies(const mcs_session *s,
                                       struct MHD_Response *response);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_MHD_H */
