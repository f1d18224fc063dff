/*
 * Typed access to session values. Data lives in a jansson object; every
 * change is also written to the request's change log (changes.c) so that a
 * CAS conflict at save time can re-apply it on top of fresher data.
 */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "session.h"

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
static int bytes_decode(const json_t *v, void **out, size_t *out_len) {
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

/* Well-formed UTF-8 (RFC 3629 section 4): no overlong forms, no
 * surrogates, nothing above U+10FFFF. Checked here rather than left to
 * jansson, whose constructors answer NULL both for bad UTF-8 and for no
 * memory. */
bool mcs__utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
                 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4
                 : 0;
    if (len == 0 || n - i < len)
      return false;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
    if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
        (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
      return false; /* overlong, surrogate, or beyond U+10FFFF */
    i += len;
  }
  return true;
}

bool mcs__key_valid(const char *key) {
  if (!key)
    return false;
  size_t n = strnlen(key, MCS_KEY_MAX + 1);
  return n > 0 && n <= MCS_KEY_MAX && mcs__utf8_valid(key, n);
}

/* ---- Reading ------------------------------------------------------------ */

/* Readers only need the length rule: a key that is not valid UTF-8 can
 * never have been stored, so the lookup simply misses. */
static bool key_len_ok(const char *key) {
  if (!key)
    return false;
  size_t n = strnlen(key, MCS_KEY_MAX + 1);
  return n > 0 && n <= MCS_KEY_MAX;
}

static const json_t *lookup(const mcs_session *s, const char *key) {
  if (!s || !key_len_ok(key))
    return NULL;
  return json_object_get(s->rec.data, key);
}

/* Shared prologue of the getters: MCS_EINVAL, MCS_ENOENT or MCS_OK. */
static int find(const mcs_session *s, const char *key, const json_t **v) {
  if (!s || !key_len_ok(key))
    return MCS_EINVAL;
  *v = lookup(s, key);
  return *v ? MCS_OK : MCS_ENOENT;
}

int mcs_session_type(const mcs_session *s, const char *key, mcs_type *type) {
  const json_t *v;
  int rc = find(s, key, &v);
  if (rc == MCS_OK && type)
    *type = mcs__value_type(v);
  return rc;
}

int mcs_session_has(const mcs_session *s, const char *key) {
  return lookup(s, key) != NULL;
}

int mcs_session_get_str(const mcs_session *s, const char *key,
                        const char **value, size_t *len) {
  const json_t *v;
  int rc = find(s, key, &v);
  if (rc)
    return rc;
  if (!json_is_string(v))
    return MCS_ETYPE;
  if (value)
    *value = json_string_value(v);
  if (len)
    *len = json_string_length(v);
  return MCS_OK;
}

int mcs_session_get_int(const mcs_session *s, const char *key,
                        int64_t *value) {
  const json_t *v;
  int rc = find(s, key, &v);
  if (rc)
    return rc;
  if (!json_is_integer(v))
    return MCS_ETYPE;
  if (value)
    *value = json_integer_value(v);
  return MCS_OK;
}

int mcs_session_get_double(const mcs_session *s, const char *key,
                           double *value) {
  const json_t *v;
  int rc = find(s, key, &v);
  if (rc)
    return rc;
  if (!json_is_real(v))
    return MCS_ETYPE;
  if (value)
    *value = json_real_value(v);
  return MCS_OK;
}

int mcs_session_get_bool(const mcs_session *s, const char *key, int *value) {
  const json_t *v;
  int rc = find(s, key, &v);
  if (rc)
    return rc;
  if (!json_is_boolean(v))
    return MCS_ETYPE;
  if (value)
    *value = json_is_true(v);
  return MCS_OK;
}

int mcs_session_get_bytes(const mcs_session *s, const char *key, void **value,
                          size_t *len) {
  const json_t *v;
  if (!value || !len)
    return MCS_EINVAL;
  *value = NULL;
  *len = 0;
  int rc = find(s, key, &v);
  return rc ? rc : bytes_decode(v, value, len);
}

int mcs_session_get_json(const mcs_session *s, const char *key, char **json,
                         size_t *len) {
  const json_t *v;
  if (!json)
    return MCS_EINVAL;
  *json = NULL;
  int rc = find(s, key, &v);
  if (rc)
    return rc;
  size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
  if (n == 0)
    return MCS_ENOMEM;
  char *out = mcs__malloc(n + 1);
  if (!out)
    return MCS_ENOMEM;
  if (json_dumpb(v, out, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
    mcs__free(out);
    return MCS_ENOMEM;
  }
  out[n] = '\0';
  *json = out;
  if (len)
    *len = n;
  return MCS_OK;
}

size_t mcs_session_count(const mcs_session *s) {
  return s ? json_object_size(s->rec.data) : 0;
}

const char *mcs_session_next_key(const mcs_session *s, void **iter) {
  if (!s || !iter)
    return NULL;
  json_t *obj = s->rec.data;
  void *it = *iter ? json_object_iter_next(obj, *iter) : json_object_iter(obj);
  *iter = it;
  return it ? json_object_iter_key(it) : NULL;
}

/* ---- Writing ------------------------------------------------------------ */

/* Stores `value` (a reference is stolen, even on failure) under `key` and
 * records the change. */
static int put(mcs_session *s, const char *key, json_t *value) {
  if (!s || !mcs__key_valid(key)) {
    json_decref(value);
    return MCS_EINVAL;
  }
  int rc = mcs__session_writable(s);
  if (rc) {
    json_decref(value);
    return rc;
  }
  if (!value)
    return MCS_ENOMEM;
  rc = mcs__changes_set(&s->changes, key, value);
  if (rc == MCS_OK && json_object_set_nocheck(s->rec.data, key, value) != 0)
    rc = MCS_ENOMEM; /* the log now over-states the change: harmless, the
                        save re-applies it or the caller gives up */
  json_decref(value);
  return rc;
}

int mcs_session_set_str(mcs_session *s, const char *key, const char *value,
                        size_t len) {
  if (!value && len)
    return MCS_EINVAL;
  if (s && len > s->mgr->limits.max_bytes)
    return MCS_ETOOBIG;
  const char *text = value ? value : "";
  if (!mcs__utf8_valid(text, len))
    return MCS_EINVAL;
  return put(s, key, json_stringn_nocheck(text, len));
}

int mcs_session_set_int(mcs_session *s, const char *key, int64_t value) {
  return put(s, key, json_integer((json_int_t)value));
}

int mcs_session_set_double(mcs_session *s, const char *key, double value) {
  if (!isfinite(value))
    return MCS_EINVAL;
  return put(s, key, json_real(value));
}

int mcs_session_set_bool(mcs_session *s, const char *key, int value) {
  return put(s, key, json_boolean(value));
}

int mcs_session_set_null(mcs_session *s, const char *key) {
  return put(s, key, json_null());
}

int mcs_session_set_bytes(mcs_session *s, const char *key, const void *value,
                          size_t len) {
  if (!value && len)
    return MCS_EINVAL;
  if (s && len > s->mgr->limits.max_bytes)
    return MCS_ETOOBIG;
  return put(s, key, mcs__bytes_new(value, len));
}

int mcs_session_set_json(mcs_session *s, const char *key, const char *json,
                         size_t len) {
  if (!s || !json)
    return MCS_EINVAL;
  if (len > s->mgr->limits.max_bytes)
    return MCS_ETOOBIG;
  int rc;
  json_t *v = mcs__json_loadb(json, len,
                              JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
                                  JSON_ALLOW_NUL,
                              &rc, NULL);
  if (!v)
    return rc == MCS_ENOMEM ? MCS_ENOMEM : MCS_EINVAL;
  rc = mcs__value_check(v, MCS_JSON_DEPTH_MAX);
  if (rc) {
    json_decref(v);
    return rc;
  }
  return put(s, key, v);
}

int mcs_session_delete(mcs_session *s, const char *key) {
  if (!s || !mcs__key_valid(key))
    return MCS_EINVAL;
  int rc = mcs__session_writable(s);
  if (rc)
    return rc;
  if (!json_object_get(s->rec.data, key))
    return MCS_ENOENT;
  rc = mcs__changes_delete(&s->changes, key);
  if (rc)
    return rc;
  json_object_del(s->rec.data, key);
  return MCS_OK;
}

int mcs_session_incr(mcs_session *s, const char *key, int64_t delta,
                     int64_t *result) {
  if (!s || !mcs__key_valid(key))
    return MCS_EINVAL;
  int rc = mcs__session_writable(s);
  if (rc)
    return rc;
  json_t *cur = json_object_get(s->rec.data, key);
  if (cur && !json_is_integer(cur))
    return MCS_ETYPE;
  int64_t sum;
  rc = mcs__int_add_checked(cur ? json_integer_value(cur) : 0, delta, &sum);
  if (rc)
    return rc;
  json_t *v = json_integer(sum);
  if (!v)
    return MCS_ENOMEM;
  rc = mcs__changes_incr(&s->changes, key, delta, v);
  if (rc == MCS_OK && json_object_set_nocheck(s->rec.data, key, v) != 0)
    rc = MCS_ENOMEM;
  json_decref(v);
  if (rc == MCS_OK && result)
    *result = sum;
  return rc;
}
