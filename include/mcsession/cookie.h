/*
 * mcsession: Cookie header parsing and Set-Cookie formatting (RFC 6265),
 * usable on their own. Part of mcsession.h.
 */
#ifndef MCSESSION_COOKIE_H
#define MCSESSION_COOKIE_H

#include "mcsession/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Cookies (RFC 6265)                                                       */
/* ------------------------------------------------------------------------ */

/* Limits on an incoming Cookie header. Beyond them, parsing fails with
 * MCS_ELIMIT (an HTTP server answers 431). */
#define MCS_COOKIE_HEADER_MAX 8192
#define MCS_COOKIE_COUNT_MAX 64

typedef struct mcs_cookie_pair {
  const char *name;  /* BORROWED: points into the header */
  size_t name_len;
  const char *value; /* BORROWED: points into the header; the surrounding
                        DQUOTEs of a quoted value are not included */
  size_t value_len;
} mcs_cookie_pair;

/* Splits a Cookie header (RFC 6265 section 5.4 / 4.2.1) into name/value
 * pairs without allocating and without reading past `len` (the header need
 * not be NUL-terminated). Pairs are separated by ';' only (',' is an
 * ordinary byte); SP and HTAB around names and values are trimmed; a value
 * in double quotes is returned without them (backslash escapes are not
 * undone); the value is everything after the first '='; pairs without '='
 * or with an empty name are skipped and not counted. Writes up to
 * max_pairs pairs (in header order) and their number to *count.
 * MCS_ELIMIT when the header exceeds MCS_COOKIE_HEADER_MAX bytes or holds
 * more than MCS_COOKIE_COUNT_MAX (or max_pairs) cookies — failing rather
 * than truncating, so a client cannot push a cookie out of sight.
 * MCS_EINVAL for NULL arguments (a NULL header with len 0 is an empty
 * header). *count is 0 on any error. */
MCS_EXPORT int mcs_cookie_parse(const char *header, size_t len,
                                mcs_cookie_pair *pairs, size_t max_pairs,
                                size_t *count);

/* Finds cookie `name` in a Cookie header. When the name is repeated the
 * first occurrence wins (browsers send the most specific path first).
 * On success *value points into `header` (BORROWED). MCS_ENOENT when
 * absent (then *value is NULL and *value_len 0), MCS_ELIMIT as for
 * mcs_cookie_parse — the whole header is scanned, so the answer does not
 * depend on where the cookie sits. */
MCS_EXPORT int mcs_cookie_find(const char *header, size_t len,
                               const char *name, const char **value,
                               size_t *value_len);

typedef enum mcs_samesite {
  MCS_SAMESITE_LAX = 0, /* default */
  MCS_SAMESITE_STRICT,
  MCS_SAMESITE_NONE,    /* requires secure */
  MCS_SAMESITE_OMIT     /* no SameSite attribute */
} mcs_samesite;

/* Attributes of a Set-Cookie header (RFC 6265 section 4.1; SameSite from
 * RFC 6265bis; Partitioned from CHIPS). */
typedef struct mcs_cookie_attrs {
  const char *path;      /* default "/"; NULL omits */
  const char *domain;    /* default NULL (host-only cookie) */
  int64_t max_age;       /* seconds; < 0 (default) omits Max-Age and
                            Expires, making a browser-session cookie */
  int http_only;         /* default 1 */
  /* Default 1: the browser sends the cookie over HTTPS only, so a
   * session id never crosses the network in the clear. Required by
   * SameSite=None, Partitioned and the __Secure-/__Host- prefixes. The
   * one switch for plain-HTTP development: set it to 0 (browsers accept
   * Secure cookies from http://localhost, not from other plain-HTTP
   * origins). */
  int secure;
  mcs_samesite same_site; /* default LAX */
  int partitioned;       /* default 0 */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[4];
} mcs_cookie_attrs;

/* Fills the defaults listed above. NULL is ignored. */
MCS_EXPORT void mcs_cookie_attrs_init(mcs_cookie_attrs *attrs);

/* Checks a cookie name and its attributes: the name is an RFC 7230 token;
 * the __Host- prefix (matched case-insensitively, as browsers do) demands
 * Secure, Path=/ and no Domain; __Secure- demands Secure; SameSite=None and
 * Partitioned demand Secure; a path starts with '/', holds only RFC 3986
 * path characters other than ';' and is at most 1024 bytes; a domain holds
 * only letters, digits, '-' and '.' (a leading dot allowed), at most 255
 * bytes. MCS_OK or MCS_EINVAL. */
MCS_EXPORT int mcs_cookie_attrs_check(const char *name,
                                      const mcs_cookie_attrs *attrs);

/* Builds the value of a Set-Cookie header ("name=value; Path=/; ...") into
 * out[0..out_size), NUL-terminated. `now` (Unix seconds) dates Expires.
 * The name must be an RFC 6265 token; the value must be cookie-octets
 * (no CTL, whitespace, DQUOTE, ',', ';', '\\' or bytes >= 0x80); a name
 * and value together over 4096 bytes (browsers drop such cookies) and
 * invalid attributes are MCS_EINVAL too. Nothing is emitted for bad input
 * (out[0] = '\0'). Expires is capped at the year 9999. MCS_ELIMIT when
 * out_size is too small. */
MCS_EXPORT int mcs_cookie_format(const char *name, const char *value,
                                 size_t value_len,
                                 const mcs_cookie_attrs *attrs, int64_t now,
                                 char *out, size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_COOKIE_H */
