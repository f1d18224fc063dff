/* From evhttp's request to the shared routes and back. evhttp has already
 * read the whole request (bounded by the limits server.c sets), so one
 * call answers it; the session calls inside route() block this thread's
 * loop for at most the store's timeouts (mcsession/evhttp.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <mcsession/evhttp.h>

#include "form.h"
#include "handler.h"
#include "routes.h"

static uint64_t micros_since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  int64_t us = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 +
               (t.tv_nsec - t0->tv_nsec) / 1000;
  return us > 0 ? (uint64_t)us : 0;
}

/* The routes' session loader: the adapter reads the Cookie header. */
static int load_session(mcs_manager *mgr, const request *rq,
                        mcs_session **out) {
  return mcs_evhttp_session_load(mgr, rq->native, out);
}

static const char *method_name(enum evhttp_cmd_type cmd) {
  switch (cmd) {
  case EVHTTP_REQ_GET:
    return "GET";
  case EVHTTP_REQ_POST:
    return "POST";
  case EVHTTP_REQ_HEAD:
    return "HEAD";
  case EVHTTP_REQ_PUT:
    return "PUT";
  case EVHTTP_REQ_DELETE:
    return "DELETE";
  case EVHTTP_REQ_OPTIONS:
    return "OPTIONS";
  case EVHTTP_REQ_TRACE:
    return "TRACE";
  case EVHTTP_REQ_CONNECT:
    return "CONNECT";
  case EVHTTP_REQ_PATCH:
    return "PATCH";
  default:
    return "UNKNOWN";
  }
}

/* The request's path, percent-decoded the way libmicrohttpd decodes it for
 * the other server ('+' stays '+'), so both route the same URLs. NULL for
 * a path that decodes to a NUL byte, or without memory. evhttp allocates
 * with libevent's allocator, which this program leaves at malloc: free()
 * the result. */
static char *decoded_path(struct evhttp_request *req) {
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
  if (!raw || !*raw)
    raw = "/"; /* "GET http://host HTTP/1.1" names the root */
  size_t len = 0;
  char *path = evhttp_uridecode(raw, 0, &len);
  if (path && strlen(path) != len) {
    free(path);
    return NULL;
  }
  return path;
}

/* The shared headers, Content-Length for HEAD, and the session's cookies
 * through the adapter. False when evhttp refused one (no memory). */
static bool add_headers(struct evhttp_request *req, const reply *rp,
                        bool head) {
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  reply_header h[REPLY_HEADERS_MAX];
  size_t n = reply_headers(rp, h);
  for (size_t i = 0; i < n; i++)
    if (evhttp_add_header(out, h[i].name, h[i].value) != 0)
      return false;
  /* evhttp sends no Content-Length for HEAD; say what GET would send, as
   * libmicrohttpd does (RFC 9110 section 9.3.2). */
  if (head) {
    char len[24];
    snprintf(len, sizeof len, "%zu", rp->body.len);
    if (evhttp_add_header(out, "Content-Length", len) != 0)
      return false;
  }
  return !rp->session || mcs_evhttp_add_set_cookies(rp->session, req) == 0;
}

/* Sends *rp and frees what it holds; returns the status sent. evhttp
 * would send a body even for HEAD, so none is added then. */
static unsigned send_reply(struct evhttp_request *req, reply *rp, bool head) {
  if (rp->body.failed)
    reply_error(rp, 503, "Out of memory.");
  struct evbuffer *body = evhttp_request_get_output_buffer(req);
  bool ok = add_headers(req, rp, head);
  if (ok && !head && rp->body.len > 0)
    ok = evbuffer_add(body, rp->body.data, rp->body.len) == 0;
  unsigned status = rp->status;
  mcs_session_free(rp->session);
  rp->session = NULL;
  sb_free(&rp->body);
  if (!ok) { /* out of memory: a bare 503 without half-built headers */
    evhttp_clear_headers(evhttp_request_get_output_headers(req));
    evbuffer_drain(body, evbuffer_get_length(body));
    evhttp_send_error(req, 503, NULL);
    return 503;
  }
  evhttp_send_reply(req, (int)status, reason_phrase(status), NULL);
  return status;
}

/* The query's "notice" argument into buf, or NULL (absent, or a query
 * the demo's strict form parser refuses). libmicrohttpd decodes the query
 * itself for the other server. */
static const char *notice_arg(struct evhttp_request *req, char *buf,
                              size_t size) {
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
  return query && form_get(query, strlen(query), "notice", buf, size, NULL) ==
                      FORM_OK
             ? buf
             : NULL;
}

/* Builds the shared request from evhttp's and routes it. */
static void route_request(app *a, struct evhttp_request *req, const char *path,
                          reply *rp) {
  char notice[64];
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  size_t len = evbuffer_get_length(in);
  /* One contiguous body, at most DEMO_BODY_MAX bytes (checked above). */
  const char *body = len ? (const char *)evbuffer_pullup(in, -1) : NULL;
  if (len && !body) {
    reply_error(rp, 503, "Out of memory.");
    return;
  }
  bool post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
  char *peer = NULL;
  ev_uint16_t port = 0;
  /* Read for POSTs only (a sign-in uses them), as the other server does.
   * evhttp keeps the peer's address as numeric text; the connection
   * outlives this call. */
  if (post)
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer,
                               &port);
  request rq = {
      .method = method_name(evhttp_request_get_command(req)),
      .path = path,
      .notice = notice_arg(req, notice, sizeof notice),
      .content_type = evhttp_find_header(evhttp_request_get_input_headers(req),
                                         "Content-Type"),
      .user_agent =
          post ? evhttp_find_header(evhttp_request_get_input_headers(req),
                                    "User-Agent")
               : NULL,
      .client = peer,
      .body = body,
      .body_len = len,
      .load = load_session,
      .native = req,
  };
  route(a, &rq, rp);
}

void handle_request(struct evhttp_request *req, void *arg) {
  app *a = arg;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  reply rp = {0};
  char *path = decoded_path(req);
  if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > DEMO_BODY_MAX)
    reply_error(&rp, 413, "The request body is too large.");
  else if (path)
    route_request(a, req, path, &rp);
  else
    reply_error(&rp, 400, "The request path is malformed.");
  free(path);
  bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
  unsigned status = send_reply(req, &rp, head);
  /* Until the reply is queued: evhttp reports neither when the headers
   * arrived nor (on every path) when the last byte left. */
  metrics_observe(&a->metrics, status, micros_since(&t0));
}
