/*
 * Typed access to session values. Data lives in a jansson object (the
 * value model, codec/value.c); every change is also written to the
 * request's change log (changes.c) so that a CAS conflict at save time
 * can re-apply it on top of fresher data.
 */
#include <math.h>
#include <string.h>

#include "session/session_int.h"

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
  return rc ? rc : mcs__bytes_decode(v, value, len);
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
