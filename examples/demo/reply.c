/* Replies: error pages, the headers every reply carries, reason phrases.
 * Shared by both servers so their answers are the same byte for byte,
 * apart from what each HTTP library adds itself (Date, Content-Length,
 * Connection). */
#include "reply.h"
#include "pages.h"

static const char HTML[] = "text/html; charset=utf-8";

/* The title of an error page. */
static const char *status_title(unsigned status) {
  switch (status) {
  case 400:
    return "Bad request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not found";
  case 405:
    return "Method not allowed";
  case 409:
    return "Conflict";
  case 413:
    return "Request too large";
  case 415:
    return "Unsupported media type";
  case 431:
    return "Cookie header too large";
  case 503:
    return "Service unavailable";
  default:
    return "Error";
  }
}

void reply_error(reply *rp, unsigned status, const char *message) {
  sb_free(&rp->body);
  rp->status = status;
  rp->content_type = HTML;
  rp->location = NULL;
  page_error(&rp->body, status, status_title(status), message);
}

size_t reply_headers(const reply *rp, reply_header out[REPLY_HEADERS_MAX]) {
  size_t n = 0;
  out[n++] = (reply_header){"Content-Type", rp->content_type};
  /* Session pages must not be cached by anyone; the stylesheet from this
   * origin is all a page may load. */
  out[n++] = (reply_header){"Cache-Control",
                            rp->cache_control ? rp->cache_control : "no-store"};
  out[n++] = (reply_header){"X-Content-Type-Options", "nosniff"};
  out[n++] = (reply_header){
      "Content-Security-Policy",
      "default-src 'none'; style-src 'self'; form-action 'self'; "
      "frame-ancestors 'none'; base-uri 'none'"};
  if (rp->location)
    out[n++] = (reply_header){"Location", rp->location};
  if (rp->allow)
    out[n++] = (reply_header){"Allow", rp->allow};
  return n;
}

const char *reason_phrase(unsigned status) {
  switch (status) {
  case 200:
    return "OK";
  case 302:
    return "Found";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 409:
    return "Conflict";
  case 413:
    return "Content Too Large";
  case 415:
    return "Unsupported Media Type";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}
