/* The demo's routes. The server (server.c) turns MHD's callbacks into one
 * `request` and sends the `reply` a route fills; routes never queue
 * responses themselves. */
#ifndef DEMO_ROUTES_H
#define DEMO_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>

#include "app.h"
#include "html.h"

struct MHD_Connection;

typedef struct request {
  struct MHD_Connection *conn;
  const char *method;       /* as sent: "GET", "POST", ... */
  const char *path;         /* without the query string */
  const char *content_type; /* NULL when absent */
  const char *body;         /* the whole body (at most DEMO_BODY_MAX bytes) */
  size_t body_len;
} request;

typedef struct reply {
  unsigned status;
  strbuf body;
  const char *content_type; /* static strings, all of these */
  const char *location;     /* for redirects */
  const char *allow;        /* for 405 */
  /* When set, its Set-Cookie values are sent; the server frees it. */
  mcs_session *session;
} reply;

/* Answers one request: fills *rp (status, body, headers). Never fails:
 * errors become error pages. */
void route(app *a, const request *rq, reply *rp);

/* Makes *rp a short HTML error page (dropping any body it had). */
void reply_error(reply *rp, unsigned status, const char *message);

#endif
