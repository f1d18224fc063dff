/* What a route answers: status, body and a few headers, independent of
 * the HTTP library that sends it. */
#ifndef DEMO_REPLY_H
#define DEMO_REPLY_H

#include <stddef.h>

#include <mcsession.h>

#include "html.h"

typedef struct reply {
  unsigned status;
  strbuf body;
  const char *content_type; /* static strings, all of these */
  const char *location;     /* for redirects */
  const char *allow;        /* for 405 */
  /* Cache-Control; NULL: "no-store", which every session page needs. */
  const char *cache_control;
  /* When set, its Set-Cookie values are sent; the server frees it. */
  mcs_session *session;
} reply;

/* Makes *rp a short HTML error page (dropping any body it had). */
void reply_error(reply *rp, unsigned status, const char *message);

/* The headers a reply carries besides Set-Cookie (which the server adds
 * from rp->session with its adapter), in order. */
#define REPLY_HEADERS_MAX 6
typedef struct reply_header {
  const char *name, *value; /* static or borrowed from *rp */
} reply_header;
/* Fills out[] and returns how many headers there are. */
size_t reply_headers(const reply *rp, reply_header out[REPLY_HEADERS_MAX]);

/* The standard reason phrase for the statuses the demo sends (RFC 9110,
 * RFC 6585 for 431); "Unknown" for others. Static storage. */
const char *reason_phrase(unsigned status);

#endif
