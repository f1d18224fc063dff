/* application/x-www-form-urlencoded parsing: see form.h for the rules. */
#include <stdbool.h>
#include <string.h>

#include "form.h"

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes one escaped run s[0..len). Writes to out when out is not NULL
 * (out_size bytes available, no NUL added). Returns the decoded length,
 * FORM_MALFORMED for a bad byte or escape, FORM_TOO_LONG when out is full. */
static long decode(const char *s, size_t len, char *out, size_t out_size) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c > 0x7e)
      return FORM_MALFORMED;
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (len - i < 3)
        return FORM_MALFORMED;
      int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
      if (h < 0 || l < 0 || (h == 0 && l == 0))
        return FORM_MALFORMED;
      c = (unsigned char)(h * 16 + l);
      i += 2;
    }
    if (out) {
      if (n >= out_size)
        return FORM_TOO_LONG;
      out[n] = (char)c;
    }
    n++;
  }
  return (long)n;
}

/* True when the escaped name s[0..len) decodes to exactly `name`. */
static bool name_is(const char *s, size_t len, const char *name) {
  char buf[64];
  size_t want = strlen(name);
  long n = decode(s, len, buf, sizeof buf);
  return n >= 0 && (size_t)n == want && memcmp(buf, name, want) == 0;
}

typedef struct field {
  const char *name, *value;
  size_t name_len, value_len;
} field;

/* Splits body[pos..) at the next '&' into *f; advances *pos past it.
 * FORM_OK, or FORM_MALFORMED for a piece without '=' or with an empty
 * name. Empty pieces come back with name_len == 0 and value == NULL. */
static int next_field(const char *body, size_t len, size_t *pos, field *f) {
  size_t start = *pos, end = start;
  while (end < len && body[end] != '&')
    end++;
  *pos = end < len ? end + 1 : end;
  f->name = body + start;
  f->value = NULL;
  f->name_len = f->value_len = 0;
  if (end == start)
    return FORM_OK;
  const char *eq = memchr(body + start, '=', end - start);
  if (!eq || eq == body + start)
    return FORM_MALFORMED;
  f->name_len = (size_t)(eq - (body + start));
  f->value = eq + 1;
  f->value_len = (size_t)(body + end - f->value);
  return FORM_OK;
}

/* Validates every field (see form.h) and finds the one named `name`. */
static int scan(const char *body, size_t len, const char *name, field *hit) {
  size_t pos = 0, fields = 0;
  bool found = false;
  while (pos < len) {
    field f;
    if (next_field(body, len, &pos, &f) != FORM_OK)
      return FORM_MALFORMED;
    if (f.name_len == 0)
      continue;
    if (++fields > FORM_FIELDS_MAX || decode(f.name, f.name_len, NULL, 0) < 0 ||
        decode(f.value, f.value_len, NULL, 0) < 0)
      return FORM_MALFORMED;
    if (!name_is(f.name, f.name_len, name))
      continue;
    if (found)
      return FORM_MALFORMED; /* the same field twice: which one counts? */
    found = true;
    *hit = f;
  }
  return found ? FORM_OK : FORM_ABSENT;
}

int form_get(const char *body, size_t len, const char *name, char *out,
             size_t out_size, size_t *out_len) {
  if (out_len)
    *out_len = 0;
  if (!out || out_size == 0 || !name)
    return FORM_MALFORMED;
  out[0] = '\0';
  field f;
  int rc = body || len == 0 ? scan(body, len, name, &f) : FORM_MALFORMED;
  if (rc != FORM_OK)
    return rc;
  long n = decode(f.value, f.value_len, out, out_size - 1);
  if (n < 0) {
    out[0] = '\0';
    return (int)n;
  }
  out[n] = '\0';
  if (out_len)
    *out_len = (size_t)n;
  return FORM_OK;
}
