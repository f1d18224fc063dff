/* The demo's routes, shared by both servers: each server turns its HTTP
 * library's request into one `request`, has it answered, and sends the
 * `reply` that comes back. evhttp/handler.c calls route() below, which
 * blocks on the store; demo/server.c (libmicrohttpd) runs the same routes
 * through an mcs_loop without blocking (route_async.h). Routes never touch
 * a server's types and never send anything themselves; statuses are plain
 * numbers. */
#ifndef DEMO_ROUTES_H
#define DEMO_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>

#include "app.h"
#include "reply.h"

typedef struct request request;

/* Bytes a client address takes as text, with its NUL: an IPv6 address
 * (INET6_ADDRSTRLEN, 46) with room to spare. */
#define CLIENT_LABEL_SIZE 64

/* Loads the request's session from its Cookie header, for route(). A
 * server does it with its adapter (mcs_evhttp_session_load), so the
 * example shows that call; returns what it returns. */
typedef int (*session_loader)(mcs_manager *mgr, const request *rq,
                              mcs_session **out);

struct request {
  const char *method;       /* as sent: "GET", "POST", ... */
  const char *path;         /* decoded, without the query string */
  /* The query's "notice" argument, decoded (NULL when absent): the one
   * query argument the demo reads, which confirmation GET /login shows
   * ("/login?notice=signed-out"; routes.c). Only known values are shown,
   * as fixed sentences, never the value itself. */
  const char *notice;
  const char *content_type; /* NULL when absent */
  /* The User-Agent header as sent (NULL when absent) and the client's
   * address as text (NULL when unknown): POST /login gives them to the
   * session as labels for the user's list of sessions. The address is
   * the connection's peer: behind a proxy, the proxy's. */
  const char *user_agent;
  const char *client;
  const char *body;         /* the whole body (at most DEMO_BODY_MAX bytes) */
  size_t body_len;
  session_loader load; /* route(): the server's; never NULL there */
  void *native;        /* the server's own request object, for load */
  /* route_async.h: the Cookie header as sent (NULL when absent), which
   * mcs_session_load_start reads. */
  const char *cookie;
  size_t cookie_len;
};

/* Answers one request, blocking on the store as needed: fills *rp
 * (status, body, headers). Never fails: errors become error pages. Safe
 * from any number of threads at once. */
void route(app *a, const request *rq, reply *rp);

#endif
