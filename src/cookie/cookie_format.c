/* Building Set-Cookie header values (RFC 6265 section 4.1, with SameSite
 * and the cookie name prefixes from RFC 6265bis and Partitioned from CHIPS).
 *
 * Everything is validated before a byte is written, and the output is built
 * with a bounded appender, so bad input never reaches a response header
 * (no header injection through CR/LF, no extra attributes through ';') and
 * a short buffer is never overrun. Nothing here depends on the locale: day
 * and month names come from tables, numbers from a hand-written formatter.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#endif

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "cookie/cookie_int.h"

/* RFC 6265bis section 5.6: user agents ignore a cookie whose name and value
 * together exceed 4096 octets and an attribute value longer than 1024
 * octets, so refusing them here turns a silent loss into an error. */
#define COOKIE_NAME_VALUE_MAX 4096
#define COOKIE_PATH_MAX 1024
/* RFC 1034 section 3.1: a domain name is at most 255 octets. */
#define COOKIE_DOMAIN_MAX 255
/* 9999-12-31 23:59:59 GMT: the last instant an IMF-fixdate (4-digit year,
 * RFC 7231 section 7.1.1.1) can express. Later expiries are clamped. */
#define COOKIE_EXPIRES_MAX INT64_C(253402300799)

void mcs_cookie_attrs_init(mcs_cookie_attrs *attrs) {
  if (!attrs)
    return;
  memset(attrs, 0, sizeof *attrs);
  attrs->path = "/";
  attrs->domain = NULL;
  attrs->max_age = -1;
  attrs->http_only = 1;
  attrs->secure = 1; /* secure by default: mcsession/cookie.h */
  attrs->same_site = MCS_SAMESITE_LAX;
  attrs->partitioned = 0;
}

/* ---- Character classes --------------------------------------------------- */

static bool is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

/* RFC 6265 section 4.1.1: cookie-name = token, and token is RFC 7230
 * section 3.2.6's tchar run. */
static bool is_tchar(unsigned char c) {
  return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 6265 section 4.1.1: cookie-octet = %x21 / %x23-2B / %x2D-3A /
 * %x3C-5B / %x5D-7E, i.e. printable US-ASCII without DQUOTE, ',', ';' and
 * backslash (and without SP, CTLs, DEL and 8-bit bytes). */
static bool is_cookie_octet(unsigned char c) {
  return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' &&
         c != '\\';
}

/* Characters of a URI path: RFC 3986 section 3.3 (pchar and '/'), minus
 * ';', which would end the attribute. Browsers match the Path attribute
 * against the request's URI path (RFC 6265 section 5.1.4), which holds only
 * these characters, so anything else (SP, DQUOTE, '\\', CTLs, 8-bit bytes)
 * would make a cookie that never matches, or break the header. */
static bool is_path_char(unsigned char c) {
  return is_alnum(c) || (c != 0 && strchr("-._~!$&'()*+,=:@/%", c) != NULL);
}

/* RFC 6265 section 4.1.2.3: a domain is a host name (RFC 1034 section 3.5,
 * RFC 1123 section 2.1): letters, digits, '-' and '.' (a leading '.' is
 * allowed and ignored by user agents). */
static bool is_domain_char(unsigned char c) {
  return is_alnum(c) || c == '-' || c == '.';
}

/* ---- Validation ---------------------------------------------------------- */

static bool name_valid(const char *name) {
  if (!name || !*name)
    return false;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (!is_tchar(*p))
      return false;
  return true;
}

/* An empty value is allowed (section 4.1.1: *cookie-octet). */
static bool value_valid(const char *value, size_t len) {
  if (!value)
    return len == 0;
  for (size_t i = 0; i < len; i++)
    if (!is_cookie_octet((unsigned char)value[i]))
      return false;
  return true;
}

/* A Path that does not start with '/' is silently replaced by the default
 * path in the browser (RFC 6265 section 5.2.4), so it is refused here. */
static bool path_valid(const char *path) {
  size_t len = strlen(path);
  if (len == 0 || len > COOKIE_PATH_MAX || path[0] != '/')
    return false;
  for (size_t i = 0; i < len; i++)
    if (!is_path_char((unsigned char)path[i]))
      return false;
  return true;
}

static bool domain_valid(const char *domain) {
  size_t len = strlen(domain);
  if (len == 0 || len > COOKIE_DOMAIN_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!is_domain_char((unsigned char)domain[i]))
      return false;
  return true;
}

/* ASCII case-insensitive prefix test, independent of the locale. */
static bool has_prefix_ci(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++) {
    unsigned char a = (unsigned char)*s, b = (unsigned char)*prefix;
    if (a >= 'A' && a <= 'Z')
      a = (unsigned char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z')
      b = (unsigned char)(b - 'A' + 'a');
    if (a != b)
      return false;
  }
  return true;
}

/* RFC 6265bis section 4.1.3: "__Secure-" requires Secure; "__Host-" also
 * requires Path=/ and no Domain. Browsers now match the prefixes without
 * regard to case (RFC 6265bis section 5.7), so the same is done here: a
 * "__HOST-" cookie that breaks the rules would be dropped just the same. */
static bool prefix_rules_hold(const char *name, const mcs_cookie_attrs *a) {
  if (has_prefix_ci(name, "__Secure-") && !a->secure)
    return false;
  if (has_prefix_ci(name, "__Host-"))
    return a->secure && a->path && strcmp(a->path, "/") == 0 && !a->domain;
  return true;
}

int mcs_cookie_attrs_check(const char *name, const mcs_cookie_attrs *attrs) {
  if (!attrs || !name_valid(name) ||
      !mcs__all_zero(attrs->reserved, sizeof attrs->reserved))
    return MCS_EINVAL;
  if (attrs->same_site != MCS_SAMESITE_LAX &&
      attrs->same_site != MCS_SAMESITE_STRICT &&
      attrs->same_site != MCS_SAMESITE_NONE &&
      attrs->same_site != MCS_SAMESITE_OMIT)
    return MCS_EINVAL;
  if ((attrs->path && !path_valid(attrs->path)) ||
      (attrs->domain && !domain_valid(attrs->domain)))
    return MCS_EINVAL;
  /* RFC 6265bis section 5.6.7 (SameSite=None) and CHIPS (Partitioned):
   * browsers reject both on a cookie without Secure. */
  if ((attrs->same_site == MCS_SAMESITE_NONE || attrs->partitioned) &&
      !attrs->secure)
    return MCS_EINVAL;
  return prefix_rules_hold(name, attrs) ? MCS_OK : MCS_EINVAL;
}

/* ---- Bounded appender ---------------------------------------------------- */

/* Writes into p[0..size) and keeps room for the final NUL; once something
 * does not fit it stops writing and remembers that it is `full`. */
typedef struct out_buf {
  char *p;
  size_t size;
  size_t len; /* always < size unless full */
  bool full;
} out_buf;

static void put(out_buf *o, const char *s, size_t n) {
  if (o->full || n >= o->size - o->len) {
    o->full = true;
    return;
  }
  if (n)
    memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void put_str(out_buf *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(out_buf *o, uint64_t v) {
  char tmp[20]; /* UINT64_MAX has 20 digits */
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(o, tmp + i, sizeof tmp - i);
}

/* Zero-padded to `width` digits; `v` must fit. */
static void put_padded(out_buf *o, unsigned v, size_t width) {
  char tmp[4];
  for (size_t i = width; i-- > 0; v /= 10)
    tmp[i] = (char)('0' + v % 10);
  put(o, tmp, width);
}

/* ---- Expires ------------------------------------------------------------- */

/* The instant Expires names. max_age 0 deletes the cookie, so it gets the
 * epoch rather than `now` (a clock slightly behind the browser's would
 * otherwise keep the cookie alive). Overflow-safe; clamped to what an
 * IMF-fixdate can write. Only called with max_age >= 0. */
static int64_t expiry_time(int64_t now, int64_t max_age) {
  if (max_age == 0)
    return 0;
  if (now < 0)
    now = 0;
  if (now > COOKIE_EXPIRES_MAX - max_age)
    return COOKIE_EXPIRES_MAX;
  return now + max_age;
}

/* IMF-fixdate, RFC 7231 section 7.1.1.1: "Sun, 06 Nov 1994 08:49:37 GMT".
 * False when the platform's time_t cannot hold `t`. */
static bool put_imf_fixdate(out_buf *o, int64_t t) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                  "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  time_t tt = (time_t)t;
  if ((int64_t)tt != t || !gmtime_r(&tt, &tm))
    return false;
  put(o, days[tm.tm_wday], 3);
  put(o, ", ", 2);
  put_padded(o, (unsigned)tm.tm_mday, 2);
  put(o, " ", 1);
  put(o, months[tm.tm_mon], 3);
  put(o, " ", 1);
  put_padded(o, (unsigned)(tm.tm_year + 1900), 4);
  put(o, " ", 1);
  put_padded(o, (unsigned)tm.tm_hour, 2);
  put(o, ":", 1);
  put_padded(o, (unsigned)tm.tm_min, 2);
  put(o, ":", 1);
  put_padded(o, (unsigned)tm.tm_sec, 2);
  put(o, " GMT", 4);
  return true;
}

/* Max-Age wins over Expires in every current browser (RFC 6265 section
 * 5.3 step 3); Expires is still sent for old clients that only know it. */
static bool put_lifetime(out_buf *o, int64_t max_age, int64_t now) {
  if (max_age < 0)
    return true;
  put_str(o, "; Max-Age=");
  put_u64(o, (uint64_t)max_age);
  put_str(o, "; Expires=");
  return put_imf_fixdate(o, expiry_time(now, max_age));
}

/* ---- Set-Cookie ---------------------------------------------------------- */

static const char *samesite_name(mcs_samesite s) {
  switch (s) {
  case MCS_SAMESITE_LAX:
    return "Lax";
  case MCS_SAMESITE_STRICT:
    return "Strict";
  case MCS_SAMESITE_NONE:
    return "None";
  default:
    return NULL;
  }
}

static void put_flags(out_buf *o, const mcs_cookie_attrs *a) {
  const char *same_site = samesite_name(a->same_site);
  if (a->secure)
    put_str(o, "; Secure");
  if (a->http_only)
    put_str(o, "; HttpOnly");
  if (same_site) {
    put_str(o, "; SameSite=");
    put_str(o, same_site);
  }
  if (a->partitioned)
    put_str(o, "; Partitioned");
}

/* Everything mcs_cookie_format refuses, checked before anything is
 * written. */
static int check_cookie(const char *name, const char *value, size_t value_len,
                        const mcs_cookie_attrs *attrs) {
  int rc = mcs_cookie_attrs_check(name, attrs);
  if (rc)
    return rc;
  if (!value_valid(value, value_len))
    return MCS_EINVAL;
  size_t name_len = strlen(name);
  if (name_len > COOKIE_NAME_VALUE_MAX ||
      value_len > COOKIE_NAME_VALUE_MAX - name_len)
    return MCS_EINVAL;
  return MCS_OK;
}

/* Order: name=value; Path; Domain; Max-Age; Expires; Secure; HttpOnly;
 * SameSite; Partitioned. */
static bool put_cookie(out_buf *o, const char *name, const char *value,
                       size_t value_len, const mcs_cookie_attrs *a,
                       int64_t now) {
  put_str(o, name);
  put(o, "=", 1);
  put(o, value, value_len);
  if (a->path) {
    put_str(o, "; Path=");
    put_str(o, a->path);
  }
  if (a->domain) {
    put_str(o, "; Domain=");
    put_str(o, a->domain);
  }
  if (!put_lifetime(o, a->max_age, now))
    return false;
  put_flags(o, a);
  return true;
}

int mcs_cookie_format(const char *name, const char *value, size_t value_len,
                      const mcs_cookie_attrs *attrs, int64_t now, char *out,
                      size_t out_size, size_t *out_len) {
  if (out_len)
    *out_len = 0;
  if (out && out_size)
    out[0] = '\0';
  if (!out && out_size)
    return MCS_EINVAL;
  int rc = check_cookie(name, value, value_len, attrs);
  if (rc)
    return rc;
  out_buf o = {out, out_size, 0, false};
  bool dated = put_cookie(&o, name, value, value_len, attrs, now);
  if (!dated || o.full) {
    if (out_size)
      out[0] = '\0';
    return dated ? MCS_ELIMIT : MCS_EINVAL;
  }
  out[o.len] = '\0';
  if (out_len)
    *out_len = o.len;
  return MCS_OK;
}
