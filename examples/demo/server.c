/* The MHD side of the demo. MHD calls the access handler several times
 * per request (DESIGN section 9):
 *   1. headers parsed: we allocate per-request state in *req_cls and
 *      return MHD_YES without answering (answering here would make MHD
 *      close the connection, losing keep-alive);
 *   2. zero or more times with body bytes, which we collect, bounded;
 *   3. once more with no bytes: the request is complete; we answer.
 * The completion callback records the latency and frees the state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mcsession/mhd.h>
#include <microhttpd.h>

#include "flags.h"
#include "routes.h"
#include "server.h"

/* MHD keeps each connection's headers and body window in one pool. With
 * 64 KiB, Cookie headers of up to about 30 KiB reach the handler, which
 * answers 431 for any over MCS_COOKIE_HEADER_MAX (8 KiB); larger header
 * blocks get MHD's own 431 (verified with MHD 0.9.75, which sends it
 * before closing, even for megabytes of header). */
#define CONNECTION_MEMORY (64u * 1024u)
/* Idle keep-alive connections and stalled clients are dropped after this. */
#define CONNECTION_TIMEOUT_S 30u

typedef struct req_state {
  struct timespec start;
  unsigned status; /* what we answered; 0 until then */
  bool too_large;  /* the body passed DEMO_BODY_MAX: answer 413 */
  char *body;
  size_t len;
} req_state;

static uint64_t micros_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  int64_t us = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 +
               (t.tv_nsec - t0->tv_nsec) / 1000;
  return us > 0 ? (uint64_t)us : 0;
}

static bool add_headers(struct MHD_Response *r, const reply *rp) {
  reply_header h[REPLY_HEADERS_MAX];
  size_t n = reply_headers(rp, h);
  for (size_t i = 0; i < n; i++)
    if (MHD_add_response_header(r, h[i].name, h[i].value) != MHD_YES)
      return false;
  return !rp->session || mcs_mhd_add_set_cookies(rp->session, r) == MCS_OK;
}

/* Builds the MHD response for *rp and queues it; frees what rp holds. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, req_state *st,
                                  reply *rp) {
  if (rp->body.failed)
    reply_error(rp, MHD_HTTP_SERVICE_UNAVAILABLE, "Out of memory.");
  size_t len;
  char *text = sb_take(&rp->body, &len);
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, text, text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r)
    free(text);
  bool ok = r && add_headers(r, rp);
  mcs_session_free(rp->session);
  rp->session = NULL;
  if (!ok) {
    if (r)
      MHD_destroy_response(r);
    return MHD_NO; /* out of memory: MHD closes the connection */
  }
  st->status = rp->status;
  enum MHD_Result ret = MHD_queue_response(conn, rp->status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, req_state *st,
                                    unsigned status, const char *message) {
  reply rp = {0};
  reply_error(&rp, status, message);
  return send_reply(conn, st, &rp);
}

/* First call: set up the state. A body announced as too large is refused
 * at once; MHD then closes the connection instead of reading it. */
static enum MHD_Result first_call(struct MHD_Connection *conn, void **req_cls) {
  req_state *st = calloc(1, sizeof *st);
  if (!st)
    return MHD_NO;
  clock_gettime(CLOCK_MONOTONIC, &st->start);
  *req_cls = st;
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > DEMO_BODY_MAX))
    return answer_error(conn, st, MHD_HTTP_CONTENT_TOO_LARGE,
                        "The request body is too large.");
  return MHD_YES;
}

/* Appends body bytes, up to DEMO_BODY_MAX; the rest is read and dropped
 * (MHD cannot answer mid-body) and earns 413 at the end. */
static void collect(req_state *st, const char *data, size_t n) {
  if (st->too_large || n > DEMO_BODY_MAX - st->len) {
    st->too_large = true;
    return;
  }
  if (!st->body && !(st->body = malloc(DEMO_BODY_MAX))) {
    st->too_large = true; /* no memory: refuse rather than guess */
    return;
  }
  memcpy(st->body + st->len, data, n);
  st->len += n;
}

/* The routes' session loader: the adapter reads the Cookie header. */
static int load_session(mcs_manager *mgr, const request *rq,
                        mcs_session **out) {
  return mcs_mhd_session_load(mgr, rq->native, out);
}

static enum MHD_Result final_call(app *a, struct MHD_Connection *conn,
                                  req_state *st, const char *url,
                                  const char *method) {
  if (st->too_large)
    return answer_error(conn, st, MHD_HTTP_CONTENT_TOO_LARGE,
                        "The request body is too large.");
  request rq = {.method = method,
                .path = url,
                .content_type = MHD_lookup_connection_value(
                    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
                .body = st->body,
                .body_len = st->len,
                .load = load_session,
                .native = conn};
  reply rp = {0};
  route(a, &rq, &rp);
  return send_reply(conn, st, &rp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  (void)version;
  req_state *st = *req_cls;
  if (!st)
    return first_call(conn, req_cls);
  if (*upload_data_size > 0) {
    collect(st, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return final_call(cls, conn, st, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode code) {
  app *a = cls;
  req_state *st = *req_cls;
  (void)conn;
  (void)code;
  if (!st)
    return;
  if (st->status)
    metrics_observe(&a->metrics, st->status, micros_since(&st->start));
  free(st->body);
  free(st);
  *req_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void
log_mhd(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  fprintf(stderr, "%s: libmicrohttpd: ", demo_program);
  vfprintf(stderr, fmt, ap);
}

struct MHD_Daemon *server_start(app *a, int fd, unsigned threads) {
  unsigned flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  /* The logger goes first: MHD uses it only for messages about the
   * options after it. */
  return MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER, log_mhd,
      NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
      MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_END);
}
