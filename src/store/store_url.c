/*
 * What the store URLs (memcached://, redis://) share: the server list's
 * entries (RFC 3986 section 3.2.2 hosts: names, IPv4, IPv6 literals in
 * brackets with an RFC 6874 zone), decimal parameters, the %XX-escaped
 * key prefix and the characters a URL may hold. Every failure is
 * MCS_EINVAL with a one-line reason; nothing here allocates or resolves
 * names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/store_int.h"

int mcs__url_fail(char *err, size_t err_size, const char *fmt, ...) {
  if (err && err_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return MCS_EINVAL;
}
#define fail mcs__url_fail

bool mcs__url_uint(const char *s, size_t n, unsigned max, unsigned *out) {
  unsigned long v = 0;
  if (n == 0 || n > 10)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > max)
      return false;
  }
  *out = (unsigned)v;
  return true;
}

/* ---- Hosts ---- */

static bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* A name or IPv4 address. */
static bool valid_name(const char *h, size_t n) {
  if (n == 0 || n > MCS__URL_HOST_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!host_char(h[i]))
      return false;
  return true;
}

/* An IPv6 address (hex, ':' and '.' for a trailing IPv4 part), optionally
 * with a %zone of name characters. Its exact form is left to
 * getaddrinfo at connect time. */
static bool valid_v6(const char *h, size_t n) {
  size_t colons = 0, i = 0;
  if (n < 2 || n > MCS__URL_HOST_MAX)
    return false;
  for (; i < n && h[i] != '%'; i++) {
    char c = h[i];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
               (c >= 'A' && c <= 'F');
    colons += c == ':';
    if (!hex && c != ':' && c != '.')
      return false;
  }
  if (colons < 2)
    return false;
  return i == n || valid_name(h + i + 1, n - i - 1);
}

bool mcs__url_host_valid(const char *h, size_t n) {
  return memchr(h, ':', n) ? valid_v6(h, n) : valid_name(h, n);
}

/* Copies a host, turning an IPv6 zone's "%25" (RFC 6874) into '%', and
 * validates the result. */
static bool copy_host(char *dst, const char *h, size_t n, bool bracketed) {
  size_t o = 0;
  if (n > MCS__URL_HOST_MAX)
    return false;
  for (size_t i = 0; i < n; i++, o++) {
    dst[o] = h[i];
    if (h[i] == '%' && i + 2 < n && h[i + 1] == '2' && h[i + 2] == '5')
      i += 2;
  }
  dst[o] = '\0';
  return bracketed ? valid_v6(dst, o) : valid_name(dst, o);
}

static int parse_port(const char *s, size_t n, uint16_t *port, char *err,
                      size_t es) {
  unsigned v;
  if (!mcs__url_uint(s, n, 65535, &v) || v == 0)
    return fail(err, es, "bad port '%.*s' (1..65535)", (int)(n > 16 ? 16 : n),
                s);
  *port = (uint16_t)v;
  return MCS_OK;
}

/* Splits one "host[:port]" or "[v6][:port]" entry. */
static int split_server(const char *s, size_t n, const char **host,
                        size_t *hlen, const char **port, size_t *plen,
                        char *err, size_t es) {
  const char *end = s + n, *colon;
  *port = NULL;
  *plen = 0;
  if (n > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', n);
    if (!rb)
      return fail(err, es, "unterminated '[' in server '%.*s'", (int)n, s);
    *host = s + 1;
    *hlen = (size_t)(rb - s - 1);
    colon = rb + 1 < end ? rb + 1 : NULL;
    if (colon && *colon != ':')
      return fail(err, es, "unexpected text after ']' in '%.*s'", (int)n, s);
  } else {
    colon = memchr(s, ':', n);
    *host = s;
    *hlen = colon ? (size_t)(colon - s) : n;
    if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
      return fail(err, es, "IPv6 address '%.*s' must be in brackets",
                  (int)n, s);
  }
  if (colon) {
    *port = colon + 1;
    *plen = (size_t)(end - colon - 1);
  }
  return MCS_OK;
}

int mcs__url_server(const char *s, size_t n, uint16_t default_port,
                    char host[MCS__URL_HOST_MAX + 1], uint16_t *port,
                    char *err, size_t es) {
  const char *h = NULL, *p = NULL;
  size_t hlen = 0, plen = 0;
  if (n == 0)
    return fail(err, es, "empty host in server list");
  int rc = split_server(s, n, &h, &hlen, &p, &plen, err, es);
  if (rc)
    return rc;
  if (hlen == 0)
    return fail(err, es, "empty host in '%.*s'", (int)n, s);
  if (!copy_host(host, h, hlen, h != s))
    return fail(err, es, "bad host '%.*s'", (int)(hlen > 64 ? 64 : hlen), h);
  *port = default_port;
  return p ? parse_port(p, plen, port, err, es) : MCS_OK;
}

bool mcs__url_same_server(const char *h1, uint16_t p1, const char *h2,
                          uint16_t p2) {
  return p1 == p2 && strcasecmp(h1, h2) == 0;
}

/* ---- Query values ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int mcs__url_unescape(const char *name, const char *v, size_t n, char *dst,
                      size_t max, bool key_chars, size_t *out_len, char *err,
                      size_t es) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++, o++) {
    int c = (unsigned char)v[i];
    if (c == '%') {
      int hi = i + 2 < n ? hexval(v[i + 1]) : -1;
      int lo = i + 2 < n ? hexval(v[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return fail(err, es, "bad %%-escape in %s", name);
      c = hi * 16 + lo;
      i += 2;
    }
    if (o == max)
      return fail(err, es, "value out of range for '%s' (at most %zu bytes)",
                  name, max);
    if (c == 0 || (key_chars && (c <= 0x20 || c == 0x7f)))
      return fail(err, es, "%s contains a space or control byte", name);
    dst[o] = (char)c;
  }
  dst[o] = '\0';
  if (out_len)
    *out_len = o;
  return MCS_OK;
}

int mcs__url_check_chars(const char *url, size_t len, size_t max, char *err,
                         size_t es) {
  if (len > max)
    return fail(err, es, "URL longer than %zu bytes", max);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)url[i];
    if (c <= 0x20 || c >= 0x7f)
      return fail(err, es, "space, control or non-ASCII byte at offset %zu",
                  i);
    if (c == '#')
      return fail(err, es, "fragment ('#') not allowed");
    if (c == '@')
      return fail(err, es, "user info ('@') not supported");
  }
  return MCS_OK;
}

/* One "name=value" of a query (s[0..n)). */
static int url_param(const mcs__url_param *params, size_t count, void *cfg,
                     const char *s, size_t n, unsigned *seen, char *err,
                     size_t es) {
  const char *eq = memchr(s, '=', n);
  size_t nlen = eq ? (size_t)(eq - s) : n;
  int shown = (int)(nlen > 32 ? 32 : nlen);
  if (n == 0)
    return mcs__url_fail(err, es, "empty parameter in query");
  if (!eq)
    return mcs__url_fail(err, es, "parameter '%.*s' has no value", shown, s);
  const char *v = eq + 1;
  size_t vlen = n - nlen - 1;
  for (unsigned i = 0; i < count && i < 32; i++) {
    const mcs__url_param *pm = &params[i];
    if (strlen(pm->name) != nlen || memcmp(pm->name, s, nlen) != 0)
      continue;
    if (*seen & (1u << i))
      return mcs__url_fail(err, es, "duplicate parameter '%s'%s", pm->name,
                           pm->dup_note ? pm->dup_note : "");
    *seen |= 1u << i;
    if (pm->set)
      return pm->set(cfg, v, vlen, err, es);
    unsigned *dst = (unsigned *)(void *)((char *)cfg + pm->offset);
    if (!mcs__url_uint(v, vlen, pm->max, dst) || *dst < pm->min)
      return mcs__url_fail(err, es, "value out of range for '%s' (%u..%u)",
                           pm->name, pm->min, pm->max);
    return MCS_OK;
  }
  return mcs__url_fail(err, es, "unknown parameter '%.*s'", shown, s);
}

int mcs__url_query(const mcs__url_param *params, size_t count, void *cfg,
                   const char *q, unsigned *seen, char *err, size_t es) {
  for (;;) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    int rc = url_param(params, count, cfg, q, n, seen, err, es);
    if (rc || !amp)
      return rc;
    q = amp + 1;
  }
}

/* ---- Server lists and the checks both configs share ---- */

static char *srv_host(const mcs__url_servers *t, void *first, size_t i) {
  return (char *)first + i * t->stride + t->host_off;
}

static uint16_t *srv_port(const mcs__url_servers *t, void *first, size_t i) {
  return (uint16_t *)(void *)((char *)first + i * t->stride + t->port_off);
}

const char *mcs__url_server_host(const mcs__url_servers *t, const void *first,
                                 size_t i) {
  return (const char *)first + i * t->stride + t->host_off;
}

uint16_t mcs__url_server_port(const mcs__url_servers *t, const void *first,
                              size_t i) {
  return *(const uint16_t *)(const void *)((const char *)first + i * t->stride +
                                           t->port_off);
}

/* Appends one "host[:port]" entry (s[0..n)) as server *count. */
static int add_server(const mcs__url_servers *t, void *first, size_t *count,
                      const char *s, size_t n, char *err, size_t es) {
  if (n == 0)
    return fail(err, es, "empty host in server list");
  if (*count == t->max)
    return fail(err, es, "too many servers (at most %zu)", t->max);
  char *host = srv_host(t, first, *count);
  uint16_t *port = srv_port(t, first, *count);
  int rc = mcs__url_server(s, n, t->default_port, host, port, err, es);
  if (rc)
    return rc;
  for (size_t i = 0; i < *count; i++)
    if (mcs__url_same_server(mcs__url_server_host(t, first, i),
                             mcs__url_server_port(t, first, i), host, *port))
      return fail(err, es, "duplicate server '%.*s'", (int)n, s);
  (*count)++;
  return MCS_OK;
}

int mcs__url_servers_parse(const mcs__url_servers *t, void *servers,
                           size_t *count, const char *s, size_t n, char *err,
                           size_t es) {
  if (n == 0)
    return fail(err, es, "no server in URL");
  for (;;) {
    const char *comma = memchr(s, ',', n);
    size_t len = comma ? (size_t)(comma - s) : n;
    int rc = add_server(t, servers, count, s, len, err, es);
    if (rc || !comma)
      return rc;
    n -= len + 1;
    s = comma + 1;
  }
}

int mcs__url_servers_check(const mcs__url_servers *t, const void *servers,
                           size_t count, char *err, size_t es) {
  if (count == 0 || count > t->max)
    return fail(err, es, "server count %zu out of range (1..%zu)", count,
                t->max);
  for (size_t i = 0; i < count; i++) {
    const char *host = mcs__url_server_host(t, servers, i);
    uint16_t port = mcs__url_server_port(t, servers, i);
    size_t n = strnlen(host, MCS__URL_HOST_MAX + 1);
    if (n == MCS__URL_HOST_MAX + 1 || !mcs__url_host_valid(host, n))
      return fail(err, es, "server %zu: bad or empty host", i);
    if (port == 0)
      return fail(err, es, "server %zu: bad port 0", i);
    for (size_t j = 0; j < i; j++)
      if (mcs__url_same_server(mcs__url_server_host(t, servers, j),
                               mcs__url_server_port(t, servers, j), host, port))
        return fail(err, es, "duplicate server %zu", i);
  }
  return MCS_OK;
}

int mcs__url_ranges_check(const mcs__url_param *params, size_t count,
                          const void *cfg, char *err, size_t es) {
  for (size_t i = 0; i < count; i++) {
    const mcs__url_param *pm = &params[i];
    if (pm->set)
      continue;
    unsigned v =
        *(const unsigned *)(const void *)((const char *)cfg + pm->offset);
    if (v < pm->min || v > pm->max)
      return fail(err, es, "value out of range for '%s' (%u..%u)", pm->name,
                  pm->min, pm->max);
  }
  return MCS_OK;
}

int mcs__url_prefix_check(const char *prefix, size_t size, char *err,
                          size_t es) {
  size_t n = strnlen(prefix, size);
  if (n == size || (n > 0 && !mcs__store_key_valid(prefix, n)))
    return fail(err, es, "prefix too long or not key characters");
  return MCS_OK;
}

void mcs__url_server_name(const char *host, uint16_t port, char *out,
                          size_t size) {
  if (strchr(host, ':')) /* IPv6: brackets, as in the URL */
    snprintf(out, size, "[%s]:%u", host, (unsigned)port);
  else
    snprintf(out, size, "%s:%u", host, (unsigned)port);
}
