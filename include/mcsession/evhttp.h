/*
 * mcsession — the libevent evhttp adapter (libmcsession-evhttp).
 *
 * Two functions connect mcsession's framework-neutral core (the Cookie
 * header in, Set-Cookie header values out) to libevent 2.1's evhttp:
 *
 *   mcs_evhttp_session_load     the session named by a request's Cookie
 *                               header
 *   mcs_evhttp_add_set_cookies  the session's Set-Cookie values onto the
 *                               request's output headers
 *
 * and the core's mcs_http_status_for_error (mcsession.h) gives the HTTP
 * status for an error code, the same mapping the libmicrohttpd adapter uses.
 *
 * Typical request callback (evhttp_set_gencb / evhttp_set_cb):
 *
 *   static void handler(struct evhttp_request *req, void *mgr) {
 *     mcs_session *s;
 *     int rc = mcs_evhttp_session_load(mgr, req, &s);
 *     if (rc != MCS_OK) {      (431: Cookie header too large, 503: store down)
 *       evhttp_send_error(req, (int)mcs_http_status_for_error(rc), NULL);
 *       return;
 *     }
 *     ... read and change the session ...
 *     rc = mcs_session_save(s);
 *     if (rc == MCS_OK)
 *       rc = mcs_evhttp_add_set_cookies(s, req);
 *     mcs_session_free(s);
 *     ... evhttp_send_reply(req, 200, "OK", body), or an error page when
 *         rc != MCS_OK ...
 *   }
 *
 * Ownership: nothing here takes ownership of its arguments. The session
 * returned by mcs_evhttp_session_load is OWNED by the caller
 * (mcs_session_free); it does not point into the request, so it may
 * outlive it.
 *
 * Thread-safety: both functions are reentrant and keep no state. An
 * evhttp request belongs to the thread that runs its event base: call them
 * from that thread (from the request callback, typically). The manager may
 * be shared by any number of threads and event bases; a session belongs to
 * one request.
 *
 * The event loop: the session calls are synchronous. mcs_evhttp_session_load
 * and mcs_session_save run in the request callback and block that event
 * base's loop (every connection it serves) while they talk to the store:
 *   - the memory store answers in microseconds, so blocking is harmless;
 *   - the memcached store bounds every operation by its timeouts: about
 *     pool wait + connect + I/O, i.e. io_timeout_ms (default 200 ms), plus
 *     connect_timeout_ms (200 ms) when it must open a connection and
 *     io_timeout_ms again for a free pooled connection, twice when a stale
 *     pooled connection forces its single retry (mcsession/memcached.h).
 *     A server that failed is refused at once, without waiting, until
 *     retry_s has passed. On loopback an operation takes about 100 µs.
 *     A load is one operation in the common case; a save that writes is
 *     one, plus two per compare-and-swap conflict (max_cas_retries bounds
 *     them); a save with nothing to write is none.
 * So a slow or unreachable memcached stalls a loop for at most the store's
 * timeouts per operation, never indefinitely. The example server
 * (examples/evhttp, build/mcsession-evhttp-demo) runs one event base and one
 * evhttp per thread (--threads N), all accepting on one shared listening
 * socket: a request waiting for the store stalls only the connections of
 * its own thread while the others keep serving. (An application that must
 * never block a loop can instead hand the session work to worker threads
 * and send the reply back on the loop, with libevent's thread support.)
 *
 * Limits: evhttp buffers header blocks without limit unless told otherwise;
 * set evhttp_set_max_headers_size (the example uses 64 KiB) so that Cookie
 * headers over MCS_COOKIE_HEADER_MAX (8 KiB) reach your handler, which
 * answers 431, while larger header blocks are refused by evhttp itself
 * (libevent 2.1 answers those with 400).
 *
 * Errors are the core's MCS_E* codes (see mcsession.h).
 *
 * This header declares libevent's types without including its headers, so
 * it can be included before or after <event2/http.h>. Link with
 * -lmcsession-evhttp -lmcsession -levent (pkg-config: mcsession-evhttp).
 * Tested with libevent 2.1.12.
 */
#ifndef MCSESSION_EVHTTP_H
#define MCSESSION_EVHTTP_H

#include "mcsession/session.h"

#ifdef __cplusplus
extern "C" {
#endif

struct evhttp_request;

/* Loads the session named by the request's Cookie header (input headers;
 * no header means a new session). Only the first Cookie header counts: an
 * HTTP/1.1 user agent sends one (RFC 6265 section 5.4). evhttp keeps
 * header values as C strings, so the header ends at a NUL byte, if any.
 * Returns what mcs_session_load returns: MCS_OK with *out set; MCS_ELIMIT
 * for a header over MCS_COOKIE_HEADER_MAX bytes or with too many cookies
 * (answer 431); MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO when the store is
 * unreachable (answer 503; nothing was lost); MCS_ENOMEM; MCS_EINVAL for a
 * NULL argument. On failure *out is NULL. Blocks for at most one store
 * operation in the common case (see "The event loop" above). */
MCS_EXPORT int mcs_evhttp_session_load(mcs_manager *mgr,
                                       struct evhttp_request *req,
                                       mcs_session **out);

/* Adds one "Set-Cookie" header to the request's output headers
 * (evhttp_request_get_output_headers) for each value that the last
 * mcs_session_save prepared (none when nothing needs sending). Call it
 * after a successful save and before evhttp_send_reply. evhttp copies the
 * header text, so the session may be freed right after.
 * All or nothing: on failure no header was added.
 * Returns MCS_OK, MCS_EINVAL for a NULL argument, or MCS_ENOMEM when
 * evhttp refuses a header (it does so only when it cannot allocate: the
 * values never hold the CR or LF it also refuses). Never blocks. */
MCS_EXPORT int mcs_evhttp_add_set_cookies(const mcs_session *s,
                                          struct evhttp_request *req);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_EVHTTP_H */
