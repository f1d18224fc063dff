/* The demo's routes, shared by both servers: each server (demo/server.c on
 * libmicrohttpd, evhttp/server.c on libevent) turns its HTTP library's
 * request into one `request`, calls route(), and sends the `reply` it
 * fills. Routes never touch a server's types and never send anything
 * themselves; statuses are plain numbers. */
#ifndef DEMO_ROUTES_H
#define DEMO_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>

#include "app.h"
#include "reply.h"

typedef struct request request;

/* Loads the request's session from its Cookie header. Each server does it
 * with its adapter (mcs_mhd_session_load, mcs_evhttp_session_load), so the
 * examples show those calls; returns what they return. */
typedef int (*session_loader)(mcs_manager *mgr, const request *rq,
                              mcs_session **out);

struct request {
  const char *method;       /* as sent: "GET", "POST", ... */
  const char *path;         /* decoded, without the query string */
  const char *content_type; /* NULL when absent */
  const char *body;         /* the whole body (at most DEMO_BODY_MAX bytes) */
  size_t body_len;
  session_loader load; /* the server's; never NULL */
  void *native;        /* the server's own request object, for load */
};

/* Answers one request: fills *rp (status, body, headers). Never fails:
 * errors become error pages. Safe from any number of threads at once. */
void route(app *a, const request *rq, reply *rp);

#endif
