/* Response text building and HTML escaping for the demo. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"

/* Makes room for `extra` more bytes plus the NUL; doubles to keep appends
 * amortised O(1). The first allocation holds a whole page (under 1 KiB
 * since the stylesheet has its own URL): one malloc per response, where
 * starting small took three reallocs. */
static bool reserve(strbuf *sb, size_t extra) {
  if (sb->failed)
    return false;
  if (extra >= SIZE_MAX / 2 - sb->len) {
    sb->failed = true;
    return false;
  }
  size_t need = sb->len + extra + 1;
  if (need <= sb->cap)
    return true;
  size_t cap = sb->cap ? sb->cap : 1024;
  while (cap < need)
    cap *= 2;
  char *p = realloc(sb->data, cap);
  if (!p) {
    sb->failed = true;
    return false;
  }
  sb->data = p;
  sb->cap = cap;
  return true;
}

void sb_append(strbuf *sb, const char *s, size_t len) {
  if (!reserve(sb, len))
    return;
  memcpy(sb->data + sb->len, s, len);
  sb->len += len;
  sb->data[sb->len] = '\0';
}

void sb_puts(strbuf *sb, const char *s) { sb_append(sb, s, strlen(s)); }

void sb_printf(strbuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(sb, (size_t)n)) {
    sb->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

static const char *entity(char c) {
  switch (c) {
  case '&':
    return "&amp;";
  case '<':
    return "&lt;";
  case '>':
    return "&gt;";
  case '"':
    return "&quot;";
  case '\'':
    return "&#39;";
  default:
    return NULL;
  }
}

void sb_html(strbuf *sb, const char *s, size_t len) {
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    const char *e = entity(s[i]);
    if (!e)
      continue;
    sb_append(sb, s + start, i - start);
    sb_puts(sb, e);
    start = i + 1;
  }
  sb_append(sb, s + start, len - start);
}

char *sb_take(strbuf *sb, size_t *len) {
  char *p = sb->data;
  *len = sb->len;
  sb->data = NULL;
  sb->len = sb->cap = 0;
  return p;
}

void sb_free(strbuf *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
  sb->failed = false;
}
