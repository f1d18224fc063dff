/* The MHD side of the demo. Every request is served by an event loop that
 * never waits for the session store: serve/evloop.c runs, per thread, one
 * MHD daemon without a thread of its own and one mcs_loop; this file is
 * the daemon's access handler.
 *
 * MHD calls the handler several times per request (docs/design.md, "HTTP
 * servers, measured"):
 *   1. headers parsed: we allocate per-request state in *req_cls and
 *      return MHD_YES without answering (answering here would make MHD
 *      close the connection, losing keep-alive);
 *   2. zero or more times with body bytes, which we collect, bounded;
 *   3. once more with no bytes: the request is complete and its route
 *      starts (route_async.c). When it finishes at once (/ping,
 *      /metrics, the memory store, a request refused early) the reply is
 *      queued in this call. Otherwise it is waiting for the store: we
 *      suspend the connection (MHD_suspend_connection) and return.
 *   4. the route goes on in mcs_loop callbacks on this thread (the load's
 *      answer, the save, a blocking step done on the loop's helper
 *      thread); when the reply is complete it is kept in the request's
 *      state and the connection resumed. Nothing is queued from a
 *      callback: responses are queued from the handler only;
 *   5. after the resume MHD calls the handler once more for the same
 *      request (step 3's call again), and it queues the kept reply.
 * The completion callback records the latency and frees the state,
 * including a session still held.
 *
 * The connection limits and the request-header deadline are connguard.c's:
 * its accept policy and connection notices are the daemon's, the first
 * call tells it a header is complete, the completion callback that the
 * next one's deadline starts.
 *
 * A suspended connection is out of MHD's sight: MHD 0.9.75 neither times
 * it out, nor notices the client hanging up, nor completes it, until it is
 * resumed. So the state the mcs_loop callbacks use stays valid whatever
 * the client does; a client that left is noticed when the reply is
 * written, after the resume, and the completion callback frees the state
 * then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <mcsession/mhd.h>
#include <microhttpd.h>

#include "connguard.h"
#include "evloop.h"
#include "flags.h"
#include "route_async.h"
#include "server.h"

/* MHD keeps each connection's headers and body window in one pool, and
 * zeroes the whole pool before every request on a kept-alive connection
 * (MHD 0.9.75, memorypool.c MHD_pool_reset): at 64 KiB that memset was 4 %
 * of the server's CPU under load. With 32 KiB, Cookie headers of up to
 * about 15 KiB still reach the handler, which answers 431 for any over
 * MCS_COOKIE_HEADER_MAX (8 KiB); larger header blocks get MHD's own 431
 * (verified with MHD 0.9.75, which sends it before closing, even for
 * megabytes of header). */
#define CONNECTION_MEMORY (32u * 1024u)
/* Stalled clients (a body or an answer not moving) are dropped after this.
 * It is an idle timeout, restarted by every byte, so it does not bound a
 * request header: the header deadline (connguard.h, --header-timeout)
 * does, and it also closes kept-alive connections that send nothing. */
#define CONNECTION_TIMEOUT_S 30u

typedef enum req_phase {
  PHASE_READING, /* calls 1 and 2 */
  PHASE_WAITING, /* suspended: the route waits for the store */
  PHASE_READY    /* resumed: task.rp is the reply to queue */
} req_phase;

typedef struct req_state {
  struct timespec start;
  evloop_ctx *sl;
  struct MHD_Connection *conn;
  req_phase phase;
  unsigned status; /* what we answered; 0 until then */
  bool too_large;  /* the body passed DEMO_BODY_MAX: answer 413 */
  bool orphaned;   /* completed by MHD while waiting (see on_completed) */
  char *body;
  size_t len;
  request rq;      /* what the route reads, kept while it runs */
  char client[CLIENT_LABEL_SIZE]; /* rq.client's text */
  route_task task; /* the route in progress, then its reply */
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
static enum MHD_Result first_call(evloop_ctx *sl, struct MHD_Connection *conn,
                                  void **req_cls) {
  connguard_header_done(conn);
  req_state *st = calloc(1, sizeof *st);
  if (!st)
    return MHD_NO;
  clock_gettime(CLOCK_MONOTONIC, &st->start);
  st->sl = sl;
  st->conn = conn;
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

/* The route finished in an mcs_loop callback: keep the reply and let MHD
 * call the handler again to queue it. */
static void task_done(route_task *t) {
  req_state *st = t->ud;
  if (st->orphaned) { /* see on_completed */
    route_task_release(&st->task);
    free(st->body);
    free(st);
    return;
  }
  st->phase = PHASE_READY;
  MHD_resume_connection(st->conn);
  st->sl->resumed = true;
}

/* The client's address as text into st->client; rq.client points there,
 * or is NULL when MHD does not know it. */
static const char *client_text(req_state *st) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = ci ? ci->client_addr : NULL;
  socklen_t len = !sa                         ? 0
                  : sa->sa_family == AF_INET  ? sizeof(struct sockaddr_in)
                  : sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : 0;
  return len && getnameinfo(sa, len, st->client, sizeof st->client, NULL, 0,
                            NI_NUMERICHOST) == 0
             ? st->client
             : NULL;
}

/* The request as the routes see it. The strings point into the
 * connection's memory pool, which MHD keeps until the request completes
 * and leaves alone while the connection is suspended (MHD 0.9.75's
 * connection.c), so the route may read them in its callbacks. */
static void build_request(req_state *st, const char *url, const char *method) {
  const char *cookie = NULL;
  size_t cookie_len = 0;
  /* The first Cookie header, with the length MHD knows (as the adapter's
   * mcs_mhd_session_load reads it). */
  if (MHD_lookup_connection_value_n(
          st->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE,
          sizeof MHD_HTTP_HEADER_COOKIE - 1, &cookie, &cookie_len) != MHD_YES) {
    cookie = NULL;
    cookie_len = 0;
  }
  bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
  st->rq = (request){
      .method = method,
      .path = url,
      .notice = MHD_lookup_connection_value(st->conn, MHD_GET_ARGUMENT_KIND,
                                            "notice"),
      .content_type = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_TYPE),
      /* Read for POSTs only (a sign-in uses them): a GET, the common
       * request, pays for no address formatting. */
      .user_agent =
          post ? MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND,
                                             MHD_HTTP_HEADER_USER_AGENT)
               : NULL,
      .client = post ? client_text(st) : NULL,
      .body = st->body,
      .body_len = st->len,
      .cookie = cookie,
      .cookie_len = cookie_len,
  };
}

static enum MHD_Result final_call(struct MHD_Connection *conn, req_state *st,
                                  const char *url, const char *method) {
  if (st->phase == PHASE_READY)
    return send_reply(conn, st, &st->task.rp);
  if (st->phase == PHASE_WAITING)
    return MHD_YES; /* not reached: MHD does not call suspended ones */
  if (st->too_large)
    return answer_error(conn, st, MHD_HTTP_CONTENT_TOO_LARGE,
                        "The request body is too large.");
  build_request(st, url, method);
  if (route_task_start(&st->task, st->sl->app, st->sl->loop, &st->rq,
                       task_done, st))
    return send_reply(conn, st, &st->task.rp);
  st->phase = PHASE_WAITING;
  MHD_suspend_connection(conn);
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  (void)version;
  req_state *st = *req_cls;
  if (!st)
    return first_call(cls, conn, req_cls);
  if (*upload_data_size > 0) {
    collect(st, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return final_call(conn, st, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode code) {
  evloop_ctx *sl = cls;
  app *a = sl->app;
  req_state *st = *req_cls;
  (void)code;
  connguard_request_done(conn);
  if (!st)
    return;
  *req_cls = NULL;
  if (st->phase == PHASE_WAITING) {
    /* Not reached with MHD 0.9.75, which completes no connection while
     * it is suspended. Should another version do so, the route still
     * owns the state: its last callback frees it. */
    st->orphaned = true;
    return;
  }
  if (st->status)
    metrics_observe(&a->metrics, st->status, micros_since(&st->start));
  route_task_release(&st->task);
  free(st->body);
  free(st);
}

void *server_start(app *a, int fd, demo_flags *f) {
  evloops_config cfg = {
      .program = demo_program,
      .store = a->store,
      .app = a,
      .threads = f->threads,
      .max_connections = f->max_connections,
      .default_connections = DEMO_MAX_CONNECTIONS,
      .max_per_address = f->max_per_address,
      .header_timeout_s = f->header_timeout,
      .connection_memory = CONNECTION_MEMORY,
      .connection_timeout_s = CONNECTION_TIMEOUT_S,
      .on_request = on_request,
      .on_completed = on_completed,
  };
  evloops *e = evloops_start(fd, &cfg);
  if (e)
    f->max_connections = evloops_max_connections(e);
  return e;
}

void server_stop(void *server) { evloops_stop(server); }
