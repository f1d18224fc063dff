/* Parsing the Cookie request header.
 *
 * What a browser sends is fixed by RFC 6265 section 5.4 (step 4: the
 * cookie-list serialised as name "=" value pairs joined by "; "); the
 * grammar a conforming user agent produces is section 4.2.1. Servers meet
 * older and stranger clients too, so this parser accepts the looser input
 * that section 5.2 tells user agents to accept in Set-Cookie: pairs are
 * split on ';' only, SP and HTAB around names and values are dropped, a
 * pair with no '=' or an empty name is ignored, and everything after the
 * first '=' is the value (so "a=b=c" gives "b=c").
 *
 * Two deliberate deviations from the letter of the RFC:
 *   - A value wrapped in DQUOTEs is returned without them (section 4.1.1
 *     allows DQUOTE *cookie-octet DQUOTE; Python's http.cookies, and so
 *     Tornado, quotes values that contain '='). Backslash escapes inside
 *     the quotes are NOT undone: that would need a copy, and no cookie
 *     this library writes or reads contains one.
 *   - ',' is an ordinary byte. RFC 2965 used it as a separator, RFC 6265
 *     does not, and splitting on it would cut Expires-like values apart.
 *
 * The parser never allocates, never reads outside header[0..len) (the
 * header need not be NUL-terminated; NUL bytes are ordinary bytes) and does
 * O(len) work, len being capped at MCS_COOKIE_HEADER_MAX.
 */
#include <stdbool.h>
#include <string.h>

#include "cookie/cookie_int.h"

/* Where the scan of one header stands: the next unread byte and the end. */
typedef struct cookie_scan {
  const char *pos;
  const char *end;
} cookie_scan;

/* RFC 6265 section 5.2 step 4 (and RFC 5234 WSP): only SP and HTAB are
 * whitespace here; CR, LF and others are kept as bytes of the pair. */
static bool is_wsp(char c) { return c == ' ' || c == '\t'; }

/* Narrows [*start, *end) so that it neither starts nor ends with WSP. */
static void trim_wsp(const char **start, const char **end) {
  while (*start < *end && is_wsp(**start))
    (*start)++;
  while (*end > *start && is_wsp((*end)[-1]))
    (*end)--;
}

/* Drops the DQUOTEs of a quoted value (RFC 6265 section 4.1.1,
 * cookie-value = DQUOTE *cookie-octet DQUOTE). A lone '"' is kept. */
static void unquote(const char **start, const char **end) {
  if (*end - *start >= 2 && (*start)[0] == '"' && (*end)[-1] == '"') {
    (*start)++;
    (*end)--;
  }
}

/* Turns one ';'-delimited segment [seg, seg_end) into a pair. Returns false
 * for segments that carry no cookie: no '=' or an empty name (RFC 6265
 * section 5.2 steps 2 and 5, applied to the request header). */
static bool segment_to_pair(const char *seg, const char *seg_end,
                            mcs_cookie_pair *pair) {
  const char *eq = memchr(seg, '=', (size_t)(seg_end - seg));
  if (!eq)
    return false;
  const char *name = seg, *name_end = eq;
  const char *value = eq + 1, *value_end = seg_end;
  trim_wsp(&name, &name_end);
  if (name == name_end)
    return false;
  trim_wsp(&value, &value_end);
  unquote(&value, &value_end);
  pair->name = name;
  pair->name_len = (size_t)(name_end - name);
  pair->value = value;
  pair->value_len = (size_t)(value_end - value);
  return true;
}

/* Advances to the next pair that carries a cookie. Returns false at the end
 * of the header. memchr is bounded by the bytes left, so nothing past
 * `end` is ever read. */
static bool scan_next(cookie_scan *scan, mcs_cookie_pair *pair) {
  /* '!=' rather than '<': for the NULL empty header both are NULL, and
   * ordering null pointers is undefined in C. */
  while (scan->pos != scan->end) {
    const char *seg = scan->pos;
    const char *semi = memchr(seg, ';', (size_t)(scan->end - seg));
    const char *seg_end = semi ? semi : scan->end;
    scan->pos = semi ? semi + 1 : scan->end;
    if (segment_to_pair(seg, seg_end, pair))
      return true;
  }
  return false;
}

/* Common argument and size checks. A NULL header is the empty header only
 * when len is 0 (no Cookie header at all). */
static int scan_start(cookie_scan *scan, const char *header, size_t len) {
  if (!header && len)
    return MCS_EINVAL;
  if (len > MCS_COOKIE_HEADER_MAX)
    return MCS_ELIMIT;
  scan->pos = header;
  scan->end = header ? header + len : header;
  return MCS_OK;
}

/* Too many cookies is an error, not a reason to stop early: were the
 * parser to keep the first N pairs and drop the rest, a client (or a
 * script on a sibling subdomain that can plant cookies) could push the
 * real session cookie past the cut, or plant a shadowing copy ahead of it,
 * and the answer would depend on where the cookie sits. Failing makes the
 * server answer 431 instead of acting on a partial view. */
int mcs_cookie_parse(const char *header, size_t len, mcs_cookie_pair *pairs,
                     size_t max_pairs, size_t *count) {
  cookie_scan scan;
  mcs_cookie_pair pair;
  size_t n = 0;
  if (!count || (!pairs && max_pairs))
    return MCS_EINVAL;
  *count = 0;
  int rc = scan_start(&scan, header, len);
  if (rc)
    return rc;
  size_t limit =
      max_pairs < MCS_COOKIE_COUNT_MAX ? max_pairs : MCS_COOKIE_COUNT_MAX;
  while (scan_next(&scan, &pair)) {
    if (n == limit)
      return MCS_ELIMIT;
    pairs[n++] = pair;
  }
  *count = n;
  return MCS_OK;
}

static bool pair_is(const mcs_cookie_pair *pair, const char *name,
                    size_t name_len) {
  return pair->name_len == name_len && memcmp(pair->name, name, name_len) == 0;
}

/* Scans the whole header even after a match, counting every pair, so that
 * the MCS_ELIMIT verdict is exactly mcs_cookie_parse's and never depends on
 * where the wanted cookie sits (see above). The first match wins: RFC 6265
 * section 5.4 step 2 sorts longer paths first, so the first copy is the
 * most specific one. */
int mcs_cookie_find(const char *header, size_t len, const char *name,
                    const char **value, size_t *value_len) {
  cookie_scan scan;
  mcs_cookie_pair pair, found = {NULL, 0, NULL, 0};
  size_t n = 0;
  if (!name || !value || !value_len)
    return MCS_EINVAL;
  *value = NULL;
  *value_len = 0;
  int rc = scan_start(&scan, header, len);
  if (rc)
    return rc;
  size_t name_len = strlen(name);
  while (scan_next(&scan, &pair)) {
    if (++n > MCS_COOKIE_COUNT_MAX)
      return MCS_ELIMIT;
    if (!found.name && pair_is(&pair, name, name_len))
      found = pair;
  }
  if (!found.name)
    return MCS_ENOENT;
  *value = found.value;
  *value_len = found.value_len;
  return MCS_OK;
}
