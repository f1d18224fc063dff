/* The gate's access handler. For every request, whatever its path and
 * method: load the session its Cookie header names through the thread's
 * mcs_loop, answer from the result (verdict.c), never save.
 *
 * Not saving is the point of a gate. The load itself slides the idle
 * expiry, in the same single store round trip as the read (memcached's
 * mg with T), so an active user stays logged in; and no Set-Cookie is
 * ever sent: the application owns its cookies.
 *
 * MHD calls the handler several times per request (docs/design.md, "HTTP
 * servers, measured"), and answering in the first call would cost
 * keep-alive, so:
 *   1. headers parsed: *req_cls becomes the static FIRST_CALL marker
 *      (nothing allocated: most requests finish in the next call);
 *   2. body bytes, if a proxy sends any: read and dropped (a gate looks
 *      at headers only);
 *   3. the request is complete: the load starts. When it finishes at once
 *      (no cookie, a forged one, a refused header), the answer is queued
 *      in this call. Otherwise a req_state is allocated, the connection
 *      suspended, and the load's callback (from mcs_loop_run on this
 *      thread) keeps the verdict and resumes the connection;
 *   4. MHD calls step 3 again for the resumed request, which queues the
 *      kept verdict.
 * The completion callback frees the state. A suspended connection is
 * out of MHD's sight (MHD 0.9.75 neither times it out nor completes it
 * until it is resumed), so the state stays valid for the callback; the
 * demo's server.c says more. */
#include <stdbool.h>
#include <stdlib.h>

#include "connguard.h"
#include "evloop.h"
#include "gatelog.h"
#include "handler.h"

typedef struct req_state {
  struct MHD_Connection *conn;
  evloop_ctx *ctx;
  bool waiting;  /* suspended: the load's callback has not run */
  bool orphaned; /* completed by MHD while waiting (not with 0.9.75) */
  verdict v;
} req_state;

static char FIRST_CALL; /* *req_cls between the first call and the last */

static bool add(struct MHD_Response *r, const char *name, const char *value) {
  return MHD_add_response_header(r, name, value) == MHD_YES;
}

/* Queues the answer: an empty body and, for 200 and 401, what the proxy
 * may pass on (auth_request_set ... $upstream_http_x_session_user). */
static enum MHD_Result answer(struct MHD_Connection *conn, const verdict *v) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO; /* out of memory: MHD closes the connection */
  bool ok = add(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
            (!v->outcome || add(r, "X-Session-Outcome", v->outcome)) &&
            (v->status != 200 || add(r, "X-Session-User", v->user));
  enum MHD_Result ret = ok ? MHD_queue_response(conn, v->status, r) : MHD_NO;
  MHD_destroy_response(r);
  return ret;
}

/* The verdict for a finished load, with what it means for the log. */
static void decide(const gate_app *g, int rc, mcs_session *s, verdict *v) {
  verdict_decide(&g->rules, rc, s, v);
  mcs_session_free(s);
  if (v->status == 503)
    gatelog_store_failed(rc);
  else if (v->status == 500)
    gatelog_unexpected(rc);
  else {
    gatelog_store_ok();
    if (v->unsafe_user)
      gatelog_unsafe_user();
  }
}

static void loaded(void *ud, int rc, mcs_session *s) {
  req_state *st = ud;
  st->waiting = false;
  if (st->orphaned) { /* see gate_on_completed */
    mcs_session_free(s);
    free(st);
    return;
  }
  decide(st->ctx->app, rc, s, &st->v);
  MHD_resume_connection(st->conn);
  st->ctx->resumed = true;
}

/* The first Cookie header, with the length MHD knows (an HTTP/1.1 user
 * agent sends one; nginx joins HTTP/2's several into one). */
static void cookie_of(struct MHD_Connection *conn, const char **cookie,
                      size_t *len) {
  if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_COOKIE,
                                    sizeof MHD_HTTP_HEADER_COOKIE - 1, cookie,
                                    len) != MHD_YES) {
    *cookie = NULL;
    *len = 0;
  }
}

static enum MHD_Result start(evloop_ctx *ctx, struct MHD_Connection *conn,
                             void **req_cls) {
  const gate_app *g = ctx->app;
  req_state *st = malloc(sizeof *st);
  if (!st)
    return MHD_NO;
  st->conn = conn;
  st->ctx = ctx;
  st->orphaned = false;
  const char *cookie;
  size_t len;
  cookie_of(conn, &cookie, &len);
  mcs_session *s = NULL;
  int rc = mcs_session_load_start(g->mgr, ctx->loop, cookie, len, &s, loaded,
                                  st);
  if (rc == MCS_PENDING) {
    st->waiting = true;
    *req_cls = st;
    MHD_suspend_connection(conn);
    return MHD_YES;
  }
  decide(g, rc, s, &st->v);
  enum MHD_Result ret = answer(conn, &st->v);
  free(st);
  return ret;
}

enum MHD_Result gate_on_request(void *cls, struct MHD_Connection *conn,
                                const char *url, const char *method,
                                const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls) {
  (void)url;
  (void)method;
  (void)version;
  (void)upload_data;
  if (!*req_cls) {
    connguard_header_done(conn);
    *req_cls = &FIRST_CALL;
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    *upload_data_size = 0; /* a body: dropped */
    return MHD_YES;
  }
  if (*req_cls == &FIRST_CALL)
    return start(cls, conn, req_cls);
  req_state *st = *req_cls; /* resumed: the load has answered */
  if (st->waiting)
    return MHD_YES; /* not reached: MHD does not call suspended ones */
  return answer(conn, &st->v);
}

void gate_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)code;
  connguard_request_done(conn);
  req_state *st = *req_cls;
  *req_cls = NULL;
  if (!st || st == (void *)&FIRST_CALL)
    return;
  if (st->waiting) {
    /* Not reached with MHD 0.9.75, which completes no connection while
     * it is suspended. Should another version do so, the load still
     * holds the state: its callback frees it. */
    st->orphaned = true;
    return;
  }
  free(st);
}
