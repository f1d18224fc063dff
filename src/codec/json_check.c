/*
 * A strict JSON validator that allocates nothing, for telling jansson's
 * out-of-memory from bad input (mcs__json_loadb, values.c).
 *
 * jansson 2.14 reports some allocation failures as syntax errors: when
 * the copy of a string it has just scanned cannot be allocated
 * (lex_scan_string), the token becomes "invalid" and json_loadb fails
 * with json_error_invalid_syntax, as for a typo. A session record read
 * while memory is short would then count as corrupt, and its user would
 * be logged out instead of getting MCS_ENOMEM (503, try again). So, on
 * that cold path only, the text is checked here: a syntax error on text
 * that jansson must accept can only have been an allocation failure.
 *
 * The one rule this file must keep: it accepts nothing that jansson
 * rejects, absent allocation failures, with a syntax error code (else a
 * corrupt record would read as "no memory" on every request: a 503 loop
 * instead of a fresh session). It may reject more (a rare out-of-memory
 * then reads as corrupt, as it did before). tests/fuzz/fuzz_json_check.c
 * checks "accepted here => jansson parses it, or fails with a code of its
 * own (duplicate key, number out of range)".
 *
 * The grammar is RFC 8259's, with jansson 2.14's own restrictions
 * (src/load.c):
 *   - the top level is an object or array unless JSON_DECODE_ANY;
 *   - \u0000 is refused in a key always, in a string value unless
 *     JSON_ALLOW_NUL;
 *   - a \u escape naming half of a surrogate pair must be half of a pair;
 *   - values nest at most JSON_PARSER_MAX_DEPTH (2048) deep, counting the
 *     innermost value itself, as jansson's parse_value does;
 *   - raw bytes must be RFC 3629 UTF-8 (jansson's utf8_check_full).
 * Duplicate keys (JSON_REJECT_DUPLICATES) and numbers out of range are
 * not checked: jansson reports them with codes of their own, which
 * mcs__json_loadb never sends here. Flags other than those three make the
 * text count as invalid (unchecked, so never "no memory").
 */
#include <string.h>

#include "codec/codec_int.h"

#define DEPTH_MAX 2048 /* jansson 2.14's JSON_PARSER_MAX_DEPTH */
#define FLAGS_KNOWN                                                            \
  ((size_t)(JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES))

typedef struct scan {
  const unsigned char *p;
  size_t n, i;
  bool allow_nul;
  size_t depth;                           /* containers open */
  unsigned char in_object[DEPTH_MAX / 8]; /* bit d: container d is {} */
} scan;

static int peek(const scan *s) { return s->i < s->n ? s->p[s->i] : -1; }

static void skip_ws(scan *s) {
  while (s->i < s->n && (s->p[s->i] == ' ' || s->p[s->i] == '\t' ||
                         s->p[s->i] == '\n' || s->p[s->i] == '\r'))
    s->i++;
}

static bool take(scan *s, char c) {
  if (peek(s) != (unsigned char)c)
    return false;
  s->i++;
  return true;
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static void skip_digits(scan *s) {
  while (is_digit(peek(s)))
    s->i++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(scan *s) {
  (void)take(s, '-');
  if (take(s, '0')) {
    /* a digit after a leading 0 is left for the caller to refuse */
  } else if (is_digit(peek(s))) {
    skip_digits(s);
  } else {
    return false;
  }
  if (take(s, '.')) {
    if (!is_digit(peek(s)))
      return false;
    skip_digits(s);
  }
  if (take(s, 'e') || take(s, 'E')) {
    if (!take(s, '+'))
      (void)take(s, '-');
    if (!is_digit(peek(s)))
      return false;
    skip_digits(s);
  }
  return true;
}

static bool word(scan *s, const char *w) {
  size_t n = strlen(w);
  if (s->n - s->i < n || memcmp(s->p + s->i, w, n) != 0)
    return false;
  s->i += n;
  return true;
}

/* Four hex digits (either case) after "\u", as a code unit. */
static bool hex4(scan *s, unsigned *out) {
  unsigned v = 0;
  if (s->n - s->i < 4)
    return false;
  for (int k = 0; k < 4; k++) {
    int c = s->p[s->i++];
    unsigned d = is_digit(c)              ? (unsigned)(c - '0')
                 : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                 : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
                                          : 16u;
    if (d > 15)
      return false;
    v = v << 4 | d;
  }
  *out = v;
  return true;
}

/* The escape after a backslash: one of "\/bfnrt, or \u with four hex
 * digits naming a character (a surrogate only as the first half of a
 * pair). */
static bool escape(scan *s, bool key) {
  int c = peek(s);
  unsigned u, low;
  if (c < 0)
    return false;
  s->i++;
  if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
      c == 'r' || c == 't')
    return true;
  if (c != 'u' || !hex4(s, &u))
    return false;
  if (u == 0)
    return !key && s->allow_nul;
  if (u >= 0xdc00 && u <= 0xdfff)
    return false;
  if (u >= 0xd800 && u <= 0xdbff)
    return take(s, '\\') && take(s, 'u') && hex4(s, &low) && low >= 0xdc00 &&
           low <= 0xdfff;
  return true;
}

/* One UTF-8 sequence starting at a byte >= 0x80. */
static bool utf8_char(scan *s) {
  unsigned char c = s->p[s->i];
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  if (s->n - s->i < len || !mcs__utf8_valid((const char *)s->p + s->i, len))
    return false;
  s->i += len;
  return true;
}

static bool string(scan *s, bool key) {
  if (!take(s, '"'))
    return false;
  for (;;) {
    int c = peek(s);
    if (c < 0x20) /* also the end of the input (-1) */
      return false;
    if (c == '"') {
      s->i++;
      return true;
    }
    if (c == '\\') {
      s->i++;
      if (!escape(s, key))
        return false;
    } else if (c >= 0x80) {
      if (!utf8_char(s))
        return false;
    } else {
      s->i++;
    }
  }
}

/* A key, its colon, and the whitespace around them. */
static bool member_key(scan *s) {
  skip_ws(s);
  if (!string(s, true))
    return false;
  skip_ws(s);
  if (!take(s, ':'))
    return false;
  skip_ws(s);
  return true;
}

static bool top_is_object(const scan *s) {
  size_t d = s->depth - 1;
  return s->in_object[d / 8] >> (d % 8) & 1;
}

/* Opens a container; *closed when it was empty ("{}" or "[]"). */
static bool open_container(scan *s, bool *closed) {
  bool object = peek(s) == '{';
  size_t d = s->depth++;
  s->i++;
  if (object)
    s->in_object[d / 8] |= (unsigned char)(1u << (d % 8));
  else
    s->in_object[d / 8] &= (unsigned char)~(1u << (d % 8));
  skip_ws(s);
  if (take(s, object ? '}' : ']')) {
    s->depth--;
    *closed = true;
    return true;
  }
  *closed = false;
  return !object || member_key(s);
}

/* One value where one is expected; *opened when it opened a container
 * whose members come next. */
static bool value(scan *s, bool *opened) {
  *opened = false;
  if (s->depth + 1 > DEPTH_MAX)
    return false;
  switch (peek(s)) {
  case '{':
  case '[': {
    bool closed;
    if (!open_container(s, &closed))
      return false;
    *opened = !closed;
    return true;
  }
  case '"':
    return string(s, false);
  case 't':
    return word(s, "true");
  case 'f':
    return word(s, "false");
  case 'n':
    return word(s, "null");
  default:
    return number(s);
  }
}

/* After a value: commas, closing brackets. True with *more when another
 * value is expected, true without when the text ended well. */
static bool after_value(scan *s, bool *more) {
  for (;;) {
    skip_ws(s);
    if (s->depth == 0) {
      *more = false;
      return s->i == s->n;
    }
    if (take(s, ',')) {
      *more = true;
      return !top_is_object(s) || member_key(s);
    }
    if (!take(s, top_is_object(s) ? '}' : ']'))
      return false;
    s->depth--;
  }
}

bool mcs__json_valid(const void *buf, size_t len, size_t flags) {
  scan s;
  if (!buf || (flags & ~FLAGS_KNOWN))
    return false;
  memset(&s, 0, sizeof s);
  s.p = buf;
  s.n = len;
  s.allow_nul = flags & JSON_ALLOW_NUL;
  skip_ws(&s);
  if (!(flags & JSON_DECODE_ANY) && peek(&s) != '{' && peek(&s) != '[')
    return false;
  for (bool more = true; more;) {
    bool opened;
    skip_ws(&s);
    if (!value(&s, &opened))
      return false;
    if (opened)
      continue; /* its first member comes next */
    if (!after_value(&s, &more))
      return false;
  }
  return true;
}
