/*
 * The value model of session data (mcsession.h, "Values"): a jansson
 * object whose values may use two tagged one-member objects for what JSON
 * lacks, {"$bytes": "<base64>"} and {"$int": "<digits>"}; the checks a
 * value must pass before it is stored or after it is decoded; and
 * json_loadb with lack of memory told apart from bad input.
 */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "codec/codec_int.h"

/* ---- Tagged values ---------------------------------------------------- */

/* The member of a one-member object named `tag`, if it holds a string. */
static const json_t *tagged_member(const json_t *v, const char *tag) {
  if (!json_is_object(v) || json_object_size(v) != 1)
    return NULL;
  const json_t *m = json_object_get(v, tag);
  return json_is_string(m) ? m : NULL;
}

mcs_type mcs__value_type(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    if (tagged_member(v, MCS__TAG_BYTES))
      return MCS_TYPE_BYTES;
    if (tagged_member(v, MCS__TAG_BIGINT))
      return MCS_TYPE_BIGINT;
    return MCS_TYPE_MAP;
  case JSON_ARRAY:
    return MCS_TYPE_LIST;
  case JSON_STRING:
    return MCS_TYPE_STRING;
  case JSON_INTEGER:
    return MCS_TYPE_INT;
  case JSON_REAL:
    return MCS_TYPE_DOUBLE;
  case JSON_TRUE:
  case JSON_FALSE:
    return MCS_TYPE_BOOL;
  case JSON_NULL:
  default:
    return MCS_TYPE_NULL;
  }
}

json_t *mcs__bytes_new(const void *data, size_t len) {
  if (len > SIZE_MAX / 2)
    return NULL;
  char *b64 = mcs__malloc(mcs__b64_len(len) + 1);
  if (!b64)
    return NULL;
  size_t n = mcs__b64_encode(data, len, b64);
  json_t *obj = json_object();
  json_t *str = json_stringn_nocheck(b64, n);
  mcs__free(b64);
  if (!obj || !str) {
    json_decref(obj);
    json_decref(str);
    return NULL;
  }
  /* set_new steals `str` even when it fails. */
  if (json_object_set_new_nocheck(obj, MCS__TAG_BYTES, str)) {
    json_decref(obj);
    return NULL;
  }
  return obj;
}

/* Decodes a {"$bytes": ...} value into a new buffer (OWNED). */
int mcs__bytes_decode(const json_t *v, void **out, size_t *out_len) {
  const json_t *m = tagged_member(v, MCS__TAG_BYTES);
  if (!m)
    return MCS_ETYPE;
  size_t n = json_string_length(m);
  uint8_t *buf = mcs__malloc(n / 4 * 3 + 1);
  if (!buf)
    return MCS_ENOMEM;
  size_t len = 0;
  int rc = mcs__b64_decode(json_string_value(m), n, buf, n / 4 * 3 + 1, &len);
  if (rc) {
    mcs__free(buf);
    return MCS_ECORRUPT;
  }
  *out = buf;
  *out_len = len;
  return MCS_OK;
}

/* Big integers: an optional '-' and 1..4300 digits without a leading zero
 * (4300 is CPython's default int/str conversion limit). */
static bool bigint_digits_valid(const char *s, size_t n) {
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  if (n == i || n - i > 4300 || (s[i] == '0' && n - i > 1))
    return false;
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

static int tagged_check(const json_t *v, mcs_type t) {
  if (t == MCS_TYPE_BYTES) {
    const json_t *m = tagged_member(v, MCS__TAG_BYTES);
    size_t n = json_string_length(m), len;
    uint8_t *tmp = mcs__malloc(n / 4 * 3 + 1);
    if (!tmp)
      return MCS_ENOMEM;
    int rc = mcs__b64_decode(json_string_value(m), n, tmp, n / 4 * 3 + 1,
                             &len);
    mcs__free(tmp);
    return rc == MCS_ENOMEM ? rc : rc ? MCS_EINVAL : MCS_OK;
  }
  const json_t *m = tagged_member(v, MCS__TAG_BIGINT);
  return bigint_digits_valid(json_string_value(m), json_string_length(m))
             ? MCS_OK
             : MCS_EINVAL;
}

int mcs__value_check(const json_t *v, unsigned max_depth) {
  mcs_type t = mcs__value_type(v);
  if (t == MCS_TYPE_BYTES || t == MCS_TYPE_BIGINT)
    return tagged_check(v, t);
  if (t == MCS_TYPE_DOUBLE && !isfinite(json_real_value(v)))
    return MCS_EINVAL;
  if (t != MCS_TYPE_LIST && t != MCS_TYPE_MAP)
    return MCS_OK;
  if (max_depth == 0)
    return MCS_EINVAL;
  if (t == MCS_TYPE_LIST) {
    for (size_t i = 0; i < json_array_size(v); i++) {
      int rc = mcs__value_check(json_array_get(v, i), max_depth - 1);
      if (rc)
        return rc;
    }
    return MCS_OK;
  }
  const char *k;
  const json_t *member;
  json_object_foreach((json_t *)(uintptr_t)v, k, member) {
    int rc = mcs__value_check(member, max_depth - 1);
    if (rc)
      return rc;
  }
  return MCS_OK;
}

/* Why json_loadb failed, as MCS_ENOMEM or MCS_ECORRUPT. jansson 2.14
 * does not always say:
 *   - out of memory for its lexer's buffer (lex_init), or for a value or
 *     an object member, it answers NULL without setting the error code,
 *     so json_error_code would read a byte of whatever the stack held
 *     (found by the pickle decoder's allocation-failure test, 2 runs in
 *     150). The error starts zeroed (mcs__json_loadb): json_error_unknown,
 *     which no parse error sets, so it means no memory, as
 *     json_error_out_of_memory does;
 *   - out of memory for the copy of a string it has just scanned, it
 *     reports a syntax error. Only then (a cold path) is the text checked
 *     with a validator that allocates nothing (json_check.c): if jansson
 *     had to accept it, the syntax error was an allocation failure.
 * Duplicate keys, numbers out of range, NUL characters, bad UTF-8 and
 * nesting too deep have codes of their own: always corrupt. */
static int load_failure(const void *buf, size_t len, size_t flags,
                        enum json_error_code c) {
  switch (c) {
  case json_error_unknown:
  case json_error_out_of_memory:
    return MCS_ENOMEM;
  case json_error_invalid_syntax:
  case json_error_premature_end_of_input:
  case json_error_end_of_input_expected:
    return mcs__json_valid(buf, len, flags) ? MCS_ENOMEM : MCS_ECORRUPT;
  default:
    return MCS_ECORRUPT;
  }
}

json_t *mcs__json_loadb(const void *buf, size_t len, size_t flags, int *rc,
                        enum json_error_code *code) {
  json_error_t err;
  memset(&err, 0, sizeof err);
  json_t *v = json_loadb(buf, len, flags, &err);
  enum json_error_code c = json_error_code(&err);
  *rc = v ? MCS_OK : load_failure(buf, len, flags, c);
  if (code)
    *code = c;
  return v;
}


/* ---- Documents this library wrote -------------------------------------- */

/* json_dump_callback sink comparing what is dumped with the input. */
typedef struct same_as {
  const char *text;
  size_t len, at;
} same_as;

static int compare_chunk(const char *data, size_t n, void *ud) {
  same_as *c = ud;
  if (n > c->len - c->at || memcmp(c->text + c->at, data, n) != 0)
    return -1; /* differs: stop dumping */
  c->at += n;
  return 0;
}

/* Why: jansson 2.14 drops a byte of a token and parses on when its
 * lexer's buffer cannot grow (load.c, lex_save ignores the failure; fixed
 * upstream after 2.14 by commit 5cf038c), so a string or number can come
 * back cut with no error. Equal bytes after a compact dump prove nothing
 * was dropped (dumping is one-to-one: two different documents never dump
 * to the same text). Text in another form (an older or foreign writer,
 * or a dump that itself ran out of memory) is parsed a second time and
 * must agree: a transient failure does not cut both parses alike. */
json_t *mcs__json_load_exact(const void *buf, size_t len, size_t flags,
                             int *rc) {
  json_t *v = mcs__json_loadb(buf, len, flags, rc, NULL);
  if (!v)
    return NULL;
  same_as c = {buf, len, 0};
  if (json_dump_callback(v, compare_chunk, &c, JSON_COMPACT) == 0 &&
      c.at == len)
    return v;
  json_t *again = mcs__json_loadb(buf, len, flags, rc, NULL);
  bool agree = again && json_equal(v, again);
  json_decref(again);
  if (agree)
    return v;
  json_decref(v);
  if (*rc == MCS_OK)
    *rc = MCS_ENOMEM; /* the two parses differ: one was cut */
  return NULL;
}

bool mcs__key_valid(const char *key) {
  if (!key)
    return false;
  size_t n = strnlen(key, MCS_KEY_MAX + 1);
  return n > 0 && n <= MCS_KEY_MAX && mcs__utf8_valid(key, n);
}
