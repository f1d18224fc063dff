/* A growable text buffer for building responses, and HTML escaping. */
#ifndef DEMO_HTML_H
#define DEMO_HTML_H

#include <stdbool.h>
#include <stddef.h>

/* The text lives in malloc'd memory so that a server can take it over
 * (libmicrohttpd with MHD_RESPMEM_MUST_FREE). An allocation failure sets
 * `failed` and makes every later append a no-op: callers check once, at the
 * end. */
typedef struct strbuf {
  char *data; /* NUL-terminated when not NULL */
  size_t len;
  size_t cap;
  bool failed;
} strbuf;

#define STRBUF_INIT                                                            \
  { NULL, 0, 0, false }

void sb_append(strbuf *sb, const char *s, size_t len);
void sb_puts(strbuf *sb, const char *s);
void sb_printf(strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends `s` with & < > " ' replaced by entities, safe in element text
 * and in quoted attribute values. */
void sb_html(strbuf *sb, const char *s, size_t len);
/* Hands the text over (the caller frees it with free()) and resets sb. */
char *sb_take(strbuf *sb, size_t *len);
void sb_free(strbuf *sb);

#endif
