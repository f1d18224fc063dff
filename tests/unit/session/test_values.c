/* Session values through the public API (src/session/values.c), on sessions made
 * by a manager over a spied memory store (test_util.h); and the change log
 * that lets a save re-apply this request's changes after a CAS conflict
 * (src/session/changes.c), at the mcs__changes_* level. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session/session_int.h"
#include "test_util.h"

/* ---- Fixture: a fresh NEW session per test ------------------------------- */

typedef struct ctx {
  fixture *f;
  mcs_session *s;
  char header[2048]; /* Cookie header naming the saved session */
} ctx;

static int setup_with(void **state, void (*edit)(mcs_manager_config *)) {
  ctx *c = calloc(1, sizeof *c);
  if (!c)
    return -1;
  c->f = fixture_new(edit);
  c->s = load(c->f, NULL);
  *state = c;
  return 0;
}

static int setup(void **state) { return setup_with(state, NULL); }

static void small_limit(mcs_manager_config *cfg) {
  cfg->max_data_bytes = 1024;
}

static int setup_small(void **state) {
  return setup_with(state, small_limit);
}

static int teardown(void **state) {
  ctx *c = *state;
  mcs_session_free(c->s);
  fixture_free(c->f);
  free(c);
  return 0;
}

#define CTX ((ctx *)*state)
#define S (CTX->s)

/* Saves c->s, frees it, and loads the session again through its cookie
 * (the one this save sent, or the one it was loaded with: a loaded
 * session's save sends none). */
static void save_and_reload(ctx *c) {
  assert_int_equal(mcs_session_save(c->s), MCS_OK);
  if (mcs_session_cookie_count(c->s) > 0)
    cookie_header_from(c->s, c->header, sizeof c->header);
  assert_true(c->header[0] != '\0');
  mcs_session_free(c->s);
  c->s = load(c->f, c->header);
  assert_int_equal(mcs_session_outcome(c->s), MCS_SESSION_LOADED);
}

static void expect_type(const mcs_session *s, const char *key, mcs_type t) {
  mcs_type got = (mcs_type)-1;
  assert_int_equal(mcs_session_type(s, key, &got), MCS_OK);
  assert_int_equal(got, t);
}

/* get_json must give exactly `want`, NUL-terminated, with its length. */
static void expect_json(const mcs_session *s, const char *key,
                        const char *want, size_t want_len) {
  char *json = NULL;
  size_t len = 0;
  assert_int_equal(mcs_session_get_json(s, key, &json, &len), MCS_OK);
  assert_non_null(json);
  assert_int_equal(len, want_len);
  assert_memory_equal(json, want, want_len);
  assert_int_equal(json[len], '\0');
  mcs_free(json);
}
#define EXPECT_JSON(s, key, lit) expect_json((s), (key), (lit), sizeof(lit) - 1)

static int set_json(mcs_session *s, const char *key, const char *json) {
  return mcs_session_set_json(s, key, json, strlen(json));
}

static char *nested(const char *open, const char *leaf, const char *close,
                    int depth) {
  size_t n = (strlen(open) + strlen(close)) * (size_t)depth + strlen(leaf) + 1;
  char *out = malloc(n);
  assert_non_null(out);
  out[0] = '\0';
  for (int i = 0; i < depth; i++)
    strcat(out, open);
  strcat(out, leaf);
  for (int i = 0; i < depth; i++)
    strcat(out, close);
  return out;
}

/* ---- Typed round trips -------------------------------------------------- */

static void test_set_get_str_round_trip(void **state) {
#define LIT(x) {x, sizeof(x) - 1}
  static const struct {
    const char *v;
    size_t n;
  } cases[] = {
      LIT(""),
      LIT("ann"),
      LIT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
      LIT("with\0nul"),
      LIT("\0"),
      LIT("quote\" back\\ ctl\x01\x1f"),
  };
#undef LIT
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *v = NULL;
    size_t len = 99;
    assert_int_equal(mcs_session_set_str(S, "k", cases[i].v, cases[i].n),
                     MCS_OK);
    assert_int_equal(mcs_session_get_str(S, "k", &v, &len), MCS_OK);
    assert_int_equal(len, cases[i].n);
    assert_memory_equal(v, cases[i].v, cases[i].n);
    assert_int_equal(v[len], '\0');
    expect_type(S, "k", MCS_TYPE_STRING);
  }
  /* NULL with length 0 is the empty string. */
  const char *v;
  size_t len = 5;
  assert_int_equal(mcs_session_set_str(S, "e", NULL, 0), MCS_OK);
  assert_int_equal(mcs_session_get_str(S, "e", &v, &len), MCS_OK);
  assert_int_equal(len, 0);
  assert_string_equal(v, "");
  /* Out-parameters are optional. */
  assert_int_equal(mcs_session_get_str(S, "e", NULL, NULL), MCS_OK);
}

static void test_set_get_int_round_trip(void **state) {
  const int64_t cases[] = {0, 1, -1, 42, INT32_MAX, (int64_t)INT32_MAX + 1,
                           INT32_MIN, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t v = 12345;
    assert_int_equal(mcs_session_set_int(S, "n", cases[i]), MCS_OK);
    assert_int_equal(mcs_session_get_int(S, "n", &v), MCS_OK);
    assert_true(v == cases[i]);
    expect_type(S, "n", MCS_TYPE_INT);
  }
  assert_int_equal(mcs_session_get_int(S, "n", NULL), MCS_OK);
}

static void test_set_get_double_round_trip(void **state) {
  const double cases[] = {0.1,  -0.0,    1e300,   -1e300, 5e-324,
                          1.0,  DBL_MAX, DBL_MIN, 0.5,    -123.456,
                          1e16, 3.141592653589793};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double v = 7;
    assert_int_equal(mcs_session_set_double(S, "d", cases[i]), MCS_OK);
    assert_int_equal(mcs_session_get_double(S, "d", &v), MCS_OK);
    assert_memory_equal(&v, &cases[i], sizeof v); /* bit for bit, -0.0 too */
    expect_type(S, "d", MCS_TYPE_DOUBLE);
  }
}

static void test_set_get_bool_round_trip(void **state) {
  int v = 7;
  assert_int_equal(mcs_session_set_bool(S, "b", 1), MCS_OK);
  assert_int_equal(mcs_session_get_bool(S, "b", &v), MCS_OK);
  assert_int_equal(v, 1);
  assert_int_equal(mcs_session_set_bool(S, "b", 0), MCS_OK);
  assert_int_equal(mcs_session_get_bool(S, "b", &v), MCS_OK);
  assert_int_equal(v, 0);
  /* Any non-zero int is true, and reads back as 1. */
  assert_int_equal(mcs_session_set_bool(S, "b", 42), MCS_OK);
  assert_int_equal(mcs_session_get_bool(S, "b", &v), MCS_OK);
  assert_int_equal(v, 1);
  assert_int_equal(mcs_session_set_bool(S, "b", -1), MCS_OK);
  assert_int_equal(mcs_session_get_bool(S, "b", &v), MCS_OK);
  assert_int_equal(v, 1);
  expect_type(S, "b", MCS_TYPE_BOOL);
}

static void test_set_null_reads_back_as_null(void **state) {
  assert_int_equal(mcs_session_set_null(S, "z"), MCS_OK);
  assert_int_equal(mcs_session_has(S, "z"), 1);
  expect_type(S, "z", MCS_TYPE_NULL);
  EXPECT_JSON(S, "z", "null");
}

static void test_bytes_with_nul_round_trip(void **state) {
  static const uint8_t v[] = {'a', 0, 'b', 0, 0};
  void *out = NULL;
  size_t len = 0;
  assert_int_equal(mcs_session_set_bytes(S, "b", v, sizeof v), MCS_OK);
  assert_int_equal(mcs_session_get_bytes(S, "b", &out, &len), MCS_OK);
  assert_int_equal(len, sizeof v);
  assert_memory_equal(out, v, sizeof v);
  mcs_free(out);
  expect_type(S, "b", MCS_TYPE_BYTES);
}

static void test_bytes_of_every_value_round_trip(void **state) {
  uint8_t v[256];
  for (int i = 0; i < 256; i++)
    v[i] = (uint8_t)(255 - i);
  /* Every length, so every padding case is met. */
  for (size_t n = 0; n <= sizeof v; n++) {
    void *out = NULL;
    size_t len = 999;
    assert_int_equal(mcs_session_set_bytes(S, "b", v, n), MCS_OK);
    assert_int_equal(mcs_session_get_bytes(S, "b", &out, &len), MCS_OK);
    assert_non_null(out); /* owned, even when empty */
    assert_int_equal(len, n);
    if (n)
      assert_memory_equal(out, v, n);
    mcs_free(out);
  }
  assert_int_equal(mcs_session_set_bytes(S, "e", NULL, 0), MCS_OK);
  expect_type(S, "e", MCS_TYPE_BYTES);
  EXPECT_JSON(S, "e", "{\"$bytes\":\"\"}");
}

static void test_set_replaces_value_of_another_type(void **state) {
  int64_t i;
  const char *str;
  assert_int_equal(mcs_session_set_str(S, "k", "x", 1), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "k", 5), MCS_OK);
  assert_int_equal(mcs_session_get_int(S, "k", &i), MCS_OK);
  assert_int_equal(i, 5);
  assert_int_equal(mcs_session_get_str(S, "k", &str, NULL), MCS_ETYPE);
  assert_int_equal(mcs_session_count(S), 1);
}

/* ---- Types and type errors ------------------------------------------------ */

static void test_type_reports_every_type(void **state) {
  assert_int_equal(mcs_session_set_null(S, "null"), MCS_OK);
  assert_int_equal(mcs_session_set_bool(S, "bool", 1), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "int", 1), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "double", 1.5), MCS_OK);
  assert_int_equal(mcs_session_set_str(S, "string", "s", 1), MCS_OK);
  assert_int_equal(mcs_session_set_bytes(S, "bytes", "b", 1), MCS_OK);
  assert_int_equal(set_json(S, "list", "[1,2]"), MCS_OK);
  assert_int_equal(set_json(S, "map", "{\"a\":1}"), MCS_OK);
  assert_int_equal(
      set_json(S, "bigint", "{\"$int\":\"123456789012345678901234567890\"}"),
      MCS_OK);
  expect_type(S, "null", MCS_TYPE_NULL);
  expect_type(S, "bool", MCS_TYPE_BOOL);
  expect_type(S, "int", MCS_TYPE_INT);
  expect_type(S, "double", MCS_TYPE_DOUBLE);
  expect_type(S, "string", MCS_TYPE_STRING);
  expect_type(S, "bytes", MCS_TYPE_BYTES);
  expect_type(S, "list", MCS_TYPE_LIST);
  expect_type(S, "map", MCS_TYPE_MAP);
  expect_type(S, "bigint", MCS_TYPE_BIGINT);
  /* JSON scalars set as text get their own types too. */
  assert_int_equal(set_json(S, "j", "2.0"), MCS_OK);
  expect_type(S, "j", MCS_TYPE_DOUBLE);
  assert_int_equal(set_json(S, "j", "-7"), MCS_OK);
  expect_type(S, "j", MCS_TYPE_INT);
  assert_int_equal(set_json(S, "j", "false"), MCS_OK);
  expect_type(S, "j", MCS_TYPE_BOOL);
  assert_int_equal(set_json(S, "j", "\"s\""), MCS_OK);
  expect_type(S, "j", MCS_TYPE_STRING);
  assert_int_equal(set_json(S, "j", "{\"$bytes\":\"QQ==\"}"), MCS_OK);
  expect_type(S, "j", MCS_TYPE_BYTES);
  /* The type out-parameter is optional. */
  assert_int_equal(mcs_session_type(S, "j", NULL), MCS_OK);
}

static void test_get_int_on_string_is_etype(void **state) {
  int64_t v = 77;
  assert_int_equal(mcs_session_set_str(S, "k", "12", 2), MCS_OK);
  assert_int_equal(mcs_session_get_int(S, "k", &v), MCS_ETYPE);
  assert_int_equal(v, 77); /* untouched */
}

static void test_getters_of_another_type_are_etype(void **state) {
  const char *str;
  size_t len;
  int64_t i;
  double d;
  int b;
  void *bytes = (void *)1;
  assert_int_equal(mcs_session_set_int(S, "int", 1), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "double", 1.0), MCS_OK);
  assert_int_equal(mcs_session_set_str(S, "str", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_set_bool(S, "bool", 1), MCS_OK);
  assert_int_equal(mcs_session_set_bytes(S, "bytes", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_set_null(S, "null"), MCS_OK);
  assert_int_equal(set_json(S, "big", "{\"$int\":\"99999999999999999999\"}"),
                   MCS_OK);
  assert_int_equal(set_json(S, "list", "[1]"), MCS_OK);
  assert_int_equal(set_json(S, "map", "{\"a\":1}"), MCS_OK);

  assert_int_equal(mcs_session_get_str(S, "int", &str, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_str(S, "bytes", &str, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_str(S, "null", &str, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_int(S, "double", &i), MCS_ETYPE);
  assert_int_equal(mcs_session_get_int(S, "bool", &i), MCS_ETYPE);
  assert_int_equal(mcs_session_get_int(S, "big", &i), MCS_ETYPE);
  assert_int_equal(mcs_session_get_int(S, "null", &i), MCS_ETYPE);
  assert_int_equal(mcs_session_get_double(S, "int", &d), MCS_ETYPE);
  assert_int_equal(mcs_session_get_double(S, "str", &d), MCS_ETYPE);
  assert_int_equal(mcs_session_get_bool(S, "int", &b), MCS_ETYPE);
  assert_int_equal(mcs_session_get_bool(S, "null", &b), MCS_ETYPE);
  assert_int_equal(mcs_session_get_bytes(S, "str", &bytes, &len), MCS_ETYPE);
  assert_null(bytes);
  assert_int_equal(mcs_session_get_bytes(S, "big", &bytes, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_bytes(S, "map", &bytes, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_bytes(S, "list", &bytes, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_str(S, "list", &str, &len), MCS_ETYPE);
  assert_int_equal(mcs_session_get_int(S, "map", &i), MCS_ETYPE);
}

static void test_getters_on_absent_key_are_enoent(void **state) {
  const char *str;
  size_t len;
  int64_t i;
  double d;
  int b;
  void *bytes;
  char *json = (char *)1;
  mcs_type t;
  assert_int_equal(mcs_session_set_int(S, "present", 1), MCS_OK);
  assert_int_equal(mcs_session_get_str(S, "absent", &str, &len), MCS_ENOENT);
  assert_int_equal(mcs_session_get_int(S, "absent", &i), MCS_ENOENT);
  assert_int_equal(mcs_session_get_double(S, "absent", &d), MCS_ENOENT);
  assert_int_equal(mcs_session_get_bool(S, "absent", &b), MCS_ENOENT);
  assert_int_equal(mcs_session_get_bytes(S, "absent", &bytes, &len),
                   MCS_ENOENT);
  assert_int_equal(mcs_session_get_json(S, "absent", &json, &len),
                   MCS_ENOENT);
  assert_null(json);
  assert_int_equal(mcs_session_type(S, "absent", &t), MCS_ENOENT);
  assert_int_equal(mcs_session_has(S, "absent"), 0);
  assert_int_equal(mcs_session_has(S, "present"), 1);
  /* Keys are case-sensitive and compared whole. */
  assert_int_equal(mcs_session_get_int(S, "Present", &i), MCS_ENOENT);
  assert_int_equal(mcs_session_get_int(S, "presen", &i), MCS_ENOENT);
}

/* ---- Argument checks ----------------------------------------------------- */

/* Every setter with `key`; each must return `want`. */
static void expect_setters(mcs_session *s, const char *key, int want) {
  assert_int_equal(mcs_session_set_str(s, key, "v", 1), want);
  assert_int_equal(mcs_session_set_int(s, key, 1), want);
  assert_int_equal(mcs_session_set_double(s, key, 1.5), want);
  assert_int_equal(mcs_session_set_bool(s, key, 1), want);
  assert_int_equal(mcs_session_set_bytes(s, key, "v", 1), want);
  assert_int_equal(mcs_session_set_null(s, key), want);
  assert_int_equal(mcs_session_set_json(s, key, "[1]", 3), want);
  assert_int_equal(mcs_session_incr(s, key, 1, NULL), want);
}

static void expect_getters(const mcs_session *s, const char *key, int want) {
  const char *str;
  size_t len;
  int64_t i;
  double d;
  int b;
  void *bytes;
  char *json;
  mcs_type t;
  assert_int_equal(mcs_session_get_str(s, key, &str, &len), want);
  assert_int_equal(mcs_session_get_int(s, key, &i), want);
  assert_int_equal(mcs_session_get_double(s, key, &d), want);
  assert_int_equal(mcs_session_get_bool(s, key, &b), want);
  assert_int_equal(mcs_session_get_bytes(s, key, &bytes, &len), want);
  assert_int_equal(mcs_session_get_json(s, key, &json, &len), want);
  assert_int_equal(mcs_session_type(s, key, &t), want);
  assert_int_equal(mcs_session_has(s, key), 0);
}

static void test_empty_key_is_einval(void **state) {
  expect_setters(S, "", MCS_EINVAL);
  expect_getters(S, "", MCS_EINVAL);
  assert_int_equal(mcs_session_delete(S, ""), MCS_EINVAL);
  assert_int_equal(mcs_session_count(S), 0);
  assert_false(mcs_session_dirty(S));
}

static void test_key_of_max_length_is_accepted(void **state) {
  char key[MCS_KEY_MAX + 1];
  memset(key, 'k', MCS_KEY_MAX);
  key[MCS_KEY_MAX] = '\0';
  int64_t v;
  assert_int_equal(mcs_session_set_int(S, key, 9), MCS_OK);
  assert_int_equal(mcs_session_get_int(S, key, &v), MCS_OK);
  assert_int_equal(v, 9);
  /* Multi-byte UTF-8 counts in bytes: 128 x U+00E9 = 256 bytes. */
  char utf[MCS_KEY_MAX + 1];
  for (int i = 0; i < MCS_KEY_MAX; i += 2) {
    utf[i] = (char)0xc3;
    utf[i + 1] = (char)0xa9;
  }
  utf[MCS_KEY_MAX] = '\0';
  assert_int_equal(mcs_session_set_int(S, utf, 1), MCS_OK);
  assert_int_equal(mcs_session_delete(S, key), MCS_OK);
}

static void test_key_over_max_length_is_einval(void **state) {
  char key[MCS_KEY_MAX + 2];
  memset(key, 'k', MCS_KEY_MAX + 1);
  key[MCS_KEY_MAX + 1] = '\0';
  expect_setters(S, key, MCS_EINVAL);
  expect_getters(S, key, MCS_EINVAL);
  assert_int_equal(mcs_session_delete(S, key), MCS_EINVAL);
  /* Far over, too (the length scan must stop). */
  char *huge = malloc(100000);
  memset(huge, 'k', 99999);
  huge[99999] = '\0';
  expect_setters(S, huge, MCS_EINVAL);
  free(huge);
  assert_int_equal(mcs_session_count(S), 0);
}

static void test_key_not_utf8_is_einval(void **state) {
  static const char *bad[] = {
      "\xff",         "a\x80",        "\xc3",         /* truncated */
      "\xc0\x80",     /* overlong NUL */
      "\xed\xa0\x80", /* surrogate */
      "\xf4\x90\x80\x80", /* beyond U+10FFFF */
      "\xe2\x82",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    expect_setters(S, bad[i], MCS_EINVAL);
    assert_int_equal(mcs_session_delete(S, bad[i]), MCS_EINVAL);
    /* Such a key can never be stored, so reading it finds nothing. */
    int64_t v;
    assert_int_equal(mcs_session_get_int(S, bad[i], &v), MCS_ENOENT);
    assert_int_equal(mcs_session_has(S, bad[i]), 0);
  }
  assert_int_equal(mcs_session_count(S), 0);
  assert_false(mcs_session_dirty(S));
}

static void test_string_not_utf8_is_einval(void **state) {
  static const struct {
    const char *v;
    size_t n;
  } bad[] = {
      {"\xff", 1},         {"ok\x80", 3},       {"\xc3", 1},
      {"\xc0\x80", 2},     {"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4},
      {"a\0\xfe", 3},      {"\xe2\x82", 2},     {"\xf0\x9f\x98", 3},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(mcs_session_set_str(S, "k", bad[i].v, bad[i].n),
                     MCS_EINVAL);
  /* A failed set changes nothing, not even an earlier value. */
  assert_int_equal(mcs_session_has(S, "k"), 0);
  assert_false(mcs_session_dirty(S));
  assert_int_equal(mcs_session_set_str(S, "k", "old", 3), MCS_OK);
  assert_int_equal(mcs_session_set_str(S, "k", "\xff", 1), MCS_EINVAL);
  const char *v;
  assert_int_equal(mcs_session_get_str(S, "k", &v, NULL), MCS_OK);
  assert_string_equal(v, "old");
}

static void test_nan_and_infinite_doubles_are_einval(void **state) {
  assert_int_equal(mcs_session_set_double(S, "d", NAN), MCS_EINVAL);
  assert_int_equal(mcs_session_set_double(S, "d", -NAN), MCS_EINVAL);
  assert_int_equal(mcs_session_set_double(S, "d", INFINITY), MCS_EINVAL);
  assert_int_equal(mcs_session_set_double(S, "d", -INFINITY), MCS_EINVAL);
  assert_int_equal(mcs_session_has(S, "d"), 0);
  assert_false(mcs_session_dirty(S));
}

static void test_null_arguments_are_einval(void **state) {
  size_t len;
  void *bytes;
  /* No session. */
  expect_setters(NULL, "k", MCS_EINVAL);
  expect_getters(NULL, "k", MCS_EINVAL);
  assert_int_equal(mcs_session_delete(NULL, "k"), MCS_EINVAL);
  assert_int_equal(mcs_session_count(NULL), 0);
  void *it = NULL;
  assert_null(mcs_session_next_key(NULL, &it));
  /* No key. */
  expect_setters(S, NULL, MCS_EINVAL);
  expect_getters(S, NULL, MCS_EINVAL);
  assert_int_equal(mcs_session_delete(S, NULL), MCS_EINVAL);
  /* No value where a length says there is one. */
  assert_int_equal(mcs_session_set_str(S, "k", NULL, 1), MCS_EINVAL);
  assert_int_equal(mcs_session_set_bytes(S, "k", NULL, 1), MCS_EINVAL);
  assert_int_equal(mcs_session_set_json(S, "k", NULL, 0), MCS_EINVAL);
  assert_int_equal(mcs_session_set_json(S, "k", NULL, 3), MCS_EINVAL);
  /* Required out-parameters. */
  assert_int_equal(mcs_session_set_bytes(S, "b", "x", 1), MCS_OK);
  assert_int_equal(mcs_session_get_bytes(S, "b", NULL, &len), MCS_EINVAL);
  assert_int_equal(mcs_session_get_bytes(S, "b", &bytes, NULL), MCS_EINVAL);
  assert_int_equal(mcs_session_get_json(S, "b", NULL, &len), MCS_EINVAL);
  assert_null(mcs_session_next_key(S, NULL));
  assert_int_equal(mcs_session_count(S), 1);
}

static void test_changes_after_destroy_are_estate(void **state) {
  assert_int_equal(mcs_session_set_int(S, "k", 1), MCS_OK);
  assert_int_equal(mcs_session_destroy(S), MCS_OK);
  expect_setters(S, "k", MCS_ESTATE);
  assert_int_equal(mcs_session_count(S), 0);
}

/* ---- JSON in ---------------------------------------------------------------- */

static void test_set_json_nested_lists_and_maps(void **state) {
  static const char doc[] =
      "{\"list\":[1,\"two\",[3,[4,{}]],{\"k\":null}],\"map\":{\"a\":{\"b\":"
      "{\"c\":[true,false]}}},\"bytes\":{\"$bytes\":\"AP8=\"},\"big\":"
      "{\"$int\":\"-123456789012345678901234567890\"},\"e\":\"\xc3\xa9\"}";
  assert_int_equal(set_json(S, "doc", doc), MCS_OK);
  expect_type(S, "doc", MCS_TYPE_MAP);
  EXPECT_JSON(S, "doc", doc);
  assert_int_equal(set_json(S, "l", " [ [ ] , { } , [ [ 1 ] ] ] "), MCS_OK);
  expect_type(S, "l", MCS_TYPE_LIST);
  EXPECT_JSON(S, "l", "[[],{},[[1]]]");
}

static void test_set_json_of_tagged_bytes_reads_as_bytes(void **state) {
  void *out;
  size_t len;
  assert_int_equal(set_json(S, "b", "{\"$bytes\":\"AGhpAP8=\"}"), MCS_OK);
  assert_int_equal(mcs_session_get_bytes(S, "b", &out, &len), MCS_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(out, "\0hi\0\xff", 5);
  mcs_free(out);
}

static void test_set_json_refuses_invalid_json(void **state) {
  static const char *bad[] = {
      "",
      " ",
      "{",
      "[1,]",
      "{'a':1}",
      "{\"a\":1,}",
      "NaN",
      "Infinity",
      "-Infinity",
      "1e999",
      "123456789012345678901234567890", /* beyond int64: use {"$int":...} */
      "{\"a\":1,\"a\":2}",               /* duplicate keys */
      "[{\"a\":1,\"a\":1}]",
      "1 2",
      "[1] x",
      "\"\xff\"",
      "\"a\nb\"",
      "undefined",
      "0x10",
      "01",
      "{\"a\\u0000b\":1}", /* NUL in a key */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = set_json(S, "k", bad[i]);
    if (rc != MCS_EINVAL)
      fail_msg("set_json(%s) = %s, want MCS_EINVAL", bad[i], mcs_errname(rc));
  }
  assert_int_equal(mcs_session_has(S, "k"), 0);
  assert_false(mcs_session_dirty(S));
}

static void test_set_json_accepts_nul_in_strings(void **state) {
  const char *v;
  size_t len;
  assert_int_equal(set_json(S, "k", "\"a\\u0000b\""), MCS_OK);
  assert_int_equal(mcs_session_get_str(S, "k", &v, &len), MCS_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(v, "a\0b", 3);
  EXPECT_JSON(S, "k", "\"a\\u0000b\"");
}

static void test_set_json_depth_max_ok_and_one_more_refused(void **state) {
  char *ok = nested("[", "0", "]", MCS_JSON_DEPTH_MAX);
  char *over = nested("[", "0", "]", MCS_JSON_DEPTH_MAX + 1);
  assert_int_equal(set_json(S, "l", ok), MCS_OK);
  expect_json(S, "l", ok, strlen(ok));
  assert_int_equal(set_json(S, "l", over), MCS_EINVAL);
  expect_json(S, "l", ok, strlen(ok)); /* the refused value left no trace */
  free(ok);
  free(over);
  ok = nested("{\"a\":", "[]", "}", MCS_JSON_DEPTH_MAX - 1);
  over = nested("{\"a\":", "[]", "}", MCS_JSON_DEPTH_MAX);
  assert_int_equal(set_json(S, "m", ok), MCS_OK);
  assert_int_equal(set_json(S, "m2", over), MCS_EINVAL);
  free(ok);
  free(over);
  /* Far deeper than jansson's parser allows: refused, no crash. */
  over = nested("[", "", "]", 20000);
  assert_int_equal(set_json(S, "x", over), MCS_EINVAL);
  free(over);
  assert_int_equal(mcs_session_has(S, "m2"), 0);
}

static void test_set_json_refuses_malformed_tagged_values(void **state) {
  static const char *bad[] = {
      "{\"$bytes\":\"!!\"}",
      "{\"$bytes\":\"QR==\"}",
      "{\"$bytes\":\"Zg\"}",
      "{\"$bytes\":\"Zm9-\"}",
      "{\"$int\":\"01\"}",
      "{\"$int\":\"\"}",
      "{\"$int\":\"-\"}",
      "{\"$int\":\"+5\"}",
      "{\"$int\":\"1.5\"}",
      "[1,{\"$int\":\"007\"}]",
      "{\"a\":{\"b\":[{\"$bytes\":\"*\"}]}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = set_json(S, "k", bad[i]);
    if (rc != MCS_EINVAL)
      fail_msg("set_json(%s) = %s, want MCS_EINVAL", bad[i], mcs_errname(rc));
  }
  assert_int_equal(mcs_session_has(S, "k"), 0);
}

/* "Zm" + U+00E9: valid UTF-8, valid JSON, but not base64. */
static void test_set_json_refuses_non_ascii_in_bytes(void **state) {
  int rc = set_json(S, "k", "{\"$bytes\":\"Zm\xc3\xa9\"}");
  if (rc != MCS_EINVAL) {
    void *out = NULL;
    size_t len = 0;
    (void)mcs_session_get_bytes(S, "k", &out, &len);
    mcs_free(out);
    fail_msg("set_json({\"$bytes\":\"Zm\\u00e9\"}) = %s, decoded to %zu "
             "bytes; want MCS_EINVAL",
             mcs_errname(rc), len);
  }
}

/* ---- JSON out ---------------------------------------------------------------- */

static void test_get_json_of_every_type(void **state) {
  assert_int_equal(mcs_session_set_null(S, "null"), MCS_OK);
  EXPECT_JSON(S, "null", "null");
  assert_int_equal(mcs_session_set_bool(S, "t", 1), MCS_OK);
  EXPECT_JSON(S, "t", "true");
  assert_int_equal(mcs_session_set_bool(S, "f", 0), MCS_OK);
  EXPECT_JSON(S, "f", "false");
  assert_int_equal(mcs_session_set_int(S, "i", -5), MCS_OK);
  EXPECT_JSON(S, "i", "-5");
  assert_int_equal(mcs_session_set_int(S, "min", INT64_MIN), MCS_OK);
  EXPECT_JSON(S, "min", "-9223372036854775808");
  assert_int_equal(mcs_session_set_double(S, "d", 0.5), MCS_OK);
  EXPECT_JSON(S, "d", "0.5");
  /* A whole double stays a double in JSON. */
  assert_int_equal(mcs_session_set_double(S, "w", 2.0), MCS_OK);
  EXPECT_JSON(S, "w", "2.0");
  assert_int_equal(
      mcs_session_set_str(S, "s", "a\"b\\c\n\x01\xc3\xa9/", 10), MCS_OK);
  EXPECT_JSON(S, "s", "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9/\"");
  assert_int_equal(mcs_session_set_str(S, "nul", "a\0b", 3), MCS_OK);
  EXPECT_JSON(S, "nul", "\"a\\u0000b\"");
  assert_int_equal(mcs_session_set_bytes(S, "b", "\x00\xff", 2), MCS_OK);
  EXPECT_JSON(S, "b", "{\"$bytes\":\"AP8=\"}");
  assert_int_equal(
      set_json(S, "big", "{ \"$int\" : \"123456789012345678901234567890\" }"),
      MCS_OK);
  EXPECT_JSON(S, "big", "{\"$int\":\"123456789012345678901234567890\"}");
  assert_int_equal(set_json(S, "l", "[1, \"a\", null, true, [], {}]"), MCS_OK);
  EXPECT_JSON(S, "l", "[1,\"a\",null,true,[],{}]");
  /* Maps keep their members' order. */
  assert_int_equal(set_json(S, "m", "{\"b\": 1, \"a\": [2], \"c\": {}}"),
                   MCS_OK);
  EXPECT_JSON(S, "m", "{\"b\":1,\"a\":[2],\"c\":{}}");
  /* The length is optional. */
  char *json = NULL;
  assert_int_equal(mcs_session_get_json(S, "i", &json, NULL), MCS_OK);
  assert_string_equal(json, "-5");
  mcs_free(json);
}

/* ---- Delete, count, iteration ------------------------------------------ */

static void test_delete_removes_and_absent_is_enoent(void **state) {
  int64_t v;
  assert_int_equal(mcs_session_set_int(S, "a", 1), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "b", 2), MCS_OK);
  assert_int_equal(mcs_session_delete(S, "a"), MCS_OK);
  assert_int_equal(mcs_session_has(S, "a"), 0);
  assert_int_equal(mcs_session_get_int(S, "a", &v), MCS_ENOENT);
  assert_int_equal(mcs_session_delete(S, "a"), MCS_ENOENT);
  assert_int_equal(mcs_session_delete(S, "never"), MCS_ENOENT);
  assert_int_equal(mcs_session_count(S), 1);
  assert_int_equal(mcs_session_get_int(S, "b", &v), MCS_OK);
  assert_int_equal(v, 2);
  /* A deleted key can be set again. */
  assert_int_equal(mcs_session_set_int(S, "a", 3), MCS_OK);
  assert_int_equal(mcs_session_get_int(S, "a", &v), MCS_OK);
  assert_int_equal(v, 3);
}

static void test_delete_survives_save_and_load(void **state) {
  assert_int_equal(mcs_session_set_int(S, "a", 1), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "b", 2), MCS_OK);
  save_and_reload(CTX);
  assert_int_equal(mcs_session_delete(S, "a"), MCS_OK);
  save_and_reload(CTX);
  assert_int_equal(mcs_session_has(S, "a"), 0);
  assert_int_equal(mcs_session_has(S, "b"), 1);
  assert_int_equal(mcs_session_count(S), 1);
}

static void test_next_key_visits_every_key_once(void **state) {
  enum { N = 100 };
  int seen[N] = {0};
  void *it = NULL;
  assert_int_equal(mcs_session_count(S), 0);
  assert_null(mcs_session_next_key(S, &it));
  assert_null(it);
  for (int i = 0; i < N; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    assert_int_equal(mcs_session_set_int(S, key, i), MCS_OK);
  }
  /* Overwriting does not add keys. */
  assert_int_equal(mcs_session_set_str(S, "key7", "x", 1), MCS_OK);
  assert_int_equal(mcs_session_count(S), N);
  it = NULL;
  size_t visits = 0;
  for (const char *k; (k = mcs_session_next_key(S, &it)) != NULL;) {
    int i = -1;
    assert_int_equal(sscanf(k, "key%d", &i), 1);
    assert_true(i >= 0 && i < N);
    seen[i]++;
    visits++;
  }
  assert_null(it);
  assert_int_equal(visits, N);
  for (int i = 0; i < N; i++)
    assert_int_equal(seen[i], 1);
  /* After deletes the count and the walk agree again. */
  for (int i = 0; i < N; i += 2) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    assert_int_equal(mcs_session_delete(S, key), MCS_OK);
  }
  assert_int_equal(mcs_session_count(S), N / 2);
  it = NULL;
  visits = 0;
  for (const char *k; (k = mcs_session_next_key(S, &it)) != NULL;) {
    int i = -1;
    assert_int_equal(sscanf(k, "key%d", &i), 1);
    assert_int_equal(i % 2, 1);
    visits++;
  }
  assert_int_equal(visits, N / 2);
}

/* ---- incr ------------------------------------------------------------------- */

static void test_incr_of_absent_key_starts_at_zero(void **state) {
  int64_t r = 0, v = 0;
  assert_int_equal(mcs_session_incr(S, "n", 5, &r), MCS_OK);
  assert_int_equal(r, 5);
  assert_int_equal(mcs_session_get_int(S, "n", &v), MCS_OK);
  assert_int_equal(v, 5);
  assert_int_equal(mcs_session_incr(S, "m", -3, &r), MCS_OK);
  assert_int_equal(r, -3);
  assert_int_equal(mcs_session_incr(S, "z", 0, &r), MCS_OK);
  assert_int_equal(r, 0);
  expect_type(S, "z", MCS_TYPE_INT);
}

static void test_incr_adds_and_writes_result(void **state) {
  int64_t r = 0, v;
  assert_int_equal(mcs_session_set_int(S, "n", 40), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "n", 2, &r), MCS_OK);
  assert_int_equal(r, 42);
  assert_int_equal(mcs_session_incr(S, "n", -50, &r), MCS_OK);
  assert_int_equal(r, -8);
  assert_int_equal(mcs_session_incr(S, "n", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_get_int(S, "n", &v), MCS_OK);
  assert_int_equal(v, -7);
}

static void test_incr_on_non_integer_is_etype(void **state) {
  int64_t r = 99;
  assert_int_equal(mcs_session_set_str(S, "s", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "s", 1, &r), MCS_ETYPE);
  assert_int_equal(r, 99);
  assert_int_equal(mcs_session_set_double(S, "d", 1.0), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "d", 1, &r), MCS_ETYPE);
  assert_int_equal(mcs_session_set_null(S, "z"), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "z", 1, &r), MCS_ETYPE);
  assert_int_equal(set_json(S, "big", "{\"$int\":\"99999999999999999999\"}"),
                   MCS_OK);
  assert_int_equal(mcs_session_incr(S, "big", 1, &r), MCS_ETYPE);
  expect_type(S, "s", MCS_TYPE_STRING);
  expect_type(S, "big", MCS_TYPE_BIGINT);
}

static void test_incr_overflow_is_erange_both_directions(void **state) {
  int64_t r = 99, v;
  assert_int_equal(mcs_session_set_int(S, "hi", INT64_MAX - 1), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "hi", 1, &r), MCS_OK);
  assert_true(r == INT64_MAX);
  r = 99;
  assert_int_equal(mcs_session_incr(S, "hi", 1, &r), MCS_ERANGE);
  assert_int_equal(r, 99);
  assert_int_equal(mcs_session_incr(S, "hi", INT64_MAX, &r), MCS_ERANGE);
  assert_int_equal(mcs_session_get_int(S, "hi", &v), MCS_OK);
  assert_true(v == INT64_MAX); /* unchanged */

  assert_int_equal(mcs_session_set_int(S, "lo", INT64_MIN + 1), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "lo", -1, &r), MCS_OK);
  assert_true(r == INT64_MIN);
  assert_int_equal(mcs_session_incr(S, "lo", -1, &r), MCS_ERANGE);
  assert_int_equal(mcs_session_incr(S, "lo", INT64_MIN, &r), MCS_ERANGE);
  assert_int_equal(mcs_session_get_int(S, "lo", &v), MCS_OK);
  assert_true(v == INT64_MIN);
  /* The extremes themselves are reachable from zero. */
  assert_int_equal(mcs_session_incr(S, "a", INT64_MIN, &r), MCS_OK);
  assert_true(r == INT64_MIN);
  assert_int_equal(mcs_session_incr(S, "b", INT64_MAX, &r), MCS_OK);
  assert_true(r == INT64_MAX);
  assert_int_equal(mcs_session_incr(S, "b", INT64_MIN, &r), MCS_OK);
  assert_int_equal(r, -1);
}

static void test_incr_survives_save_and_load(void **state) {
  int64_t v;
  assert_int_equal(mcs_session_incr(S, "n", 3, NULL), MCS_OK);
  save_and_reload(CTX);
  assert_int_equal(mcs_session_incr(S, "n", 4, NULL), MCS_OK);
  save_and_reload(CTX);
  assert_int_equal(mcs_session_get_int(S, "n", &v), MCS_OK);
  assert_int_equal(v, 7);
}

/* ---- Save and load -------------------------------------------------------- */

static void test_values_survive_save_and_load(void **state) {
  uint8_t all[256];
  for (int i = 0; i < 256; i++)
    all[i] = (uint8_t)i;
  static const char nested_doc[] =
      "{\"l\":[1,[2,[3,{\"m\":{\"x\":[]}}]]],\"s\":\"\xe2\x82\xac\","
      "\"b\":{\"$bytes\":\"AP8=\"},\"n\":null}";
  assert_int_equal(mcs_session_set_str(S, "str", "caf\xc3\xa9\0!", 7), MCS_OK);
  assert_int_equal(mcs_session_set_str(S, "empty", "", 0), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "max", INT64_MAX), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "min", INT64_MIN), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "tenth", 0.1), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "huge", 1e300), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "tiny", 5e-324), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "negzero", -0.0), MCS_OK);
  assert_int_equal(mcs_session_set_double(S, "whole", 3.0), MCS_OK);
  assert_int_equal(mcs_session_set_bool(S, "yes", 1), MCS_OK);
  assert_int_equal(mcs_session_set_bool(S, "no", 0), MCS_OK);
  assert_int_equal(mcs_session_set_null(S, "nothing"), MCS_OK);
  assert_int_equal(mcs_session_set_bytes(S, "bytes", all, sizeof all), MCS_OK);
  assert_int_equal(mcs_session_set_bytes(S, "nobytes", NULL, 0), MCS_OK);
  assert_int_equal(
      set_json(S, "big", "{\"$int\":\"-123456789012345678901234567890\"}"),
      MCS_OK);
  assert_int_equal(set_json(S, "nested", nested_doc), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "\xe2\x82\xac key", 1), MCS_OK);
  size_t count = mcs_session_count(S);

  save_and_reload(CTX);

  assert_int_equal(mcs_session_count(S), count);
  const char *str;
  size_t len;
  int64_t i;
  double d;
  int b;
  void *bytes;
  assert_int_equal(mcs_session_get_str(S, "str", &str, &len), MCS_OK);
  assert_int_equal(len, 7);
  assert_memory_equal(str, "caf\xc3\xa9\0!", 7);
  assert_int_equal(mcs_session_get_str(S, "empty", &str, &len), MCS_OK);
  assert_int_equal(len, 0);
  assert_int_equal(mcs_session_get_int(S, "max", &i), MCS_OK);
  assert_true(i == INT64_MAX);
  assert_int_equal(mcs_session_get_int(S, "min", &i), MCS_OK);
  assert_true(i == INT64_MIN);
  assert_int_equal(mcs_session_get_double(S, "tenth", &d), MCS_OK);
  assert_true(d == 0.1);
  assert_int_equal(mcs_session_get_double(S, "huge", &d), MCS_OK);
  assert_true(d == 1e300);
  assert_int_equal(mcs_session_get_double(S, "tiny", &d), MCS_OK);
  assert_true(d == 5e-324);
  assert_int_equal(mcs_session_get_double(S, "negzero", &d), MCS_OK);
  assert_true(d == 0.0 && signbit(d));
  assert_int_equal(mcs_session_get_double(S, "whole", &d), MCS_OK);
  assert_true(d == 3.0);
  assert_int_equal(mcs_session_get_bool(S, "yes", &b), MCS_OK);
  assert_int_equal(b, 1);
  assert_int_equal(mcs_session_get_bool(S, "no", &b), MCS_OK);
  assert_int_equal(b, 0);
  expect_type(S, "nothing", MCS_TYPE_NULL);
  assert_int_equal(mcs_session_get_bytes(S, "bytes", &bytes, &len), MCS_OK);
  assert_int_equal(len, 256);
  assert_memory_equal(bytes, all, 256);
  mcs_free(bytes);
  assert_int_equal(mcs_session_get_bytes(S, "nobytes", &bytes, &len), MCS_OK);
  assert_int_equal(len, 0);
  mcs_free(bytes);
  expect_type(S, "big", MCS_TYPE_BIGINT);
  EXPECT_JSON(S, "big", "{\"$int\":\"-123456789012345678901234567890\"}");
  expect_type(S, "nested", MCS_TYPE_MAP);
  EXPECT_JSON(S, "nested", nested_doc);
  assert_int_equal(mcs_session_get_int(S, "\xe2\x82\xac key", &i), MCS_OK);
  assert_int_equal(i, 1);
}

/* Whatever set_json accepts must come back from the store. */
static void test_value_nested_to_max_depth_survives_save_and_load(
    void **state) {
  char *ok = nested("{\"a\":", "0", "}", MCS_JSON_DEPTH_MAX);
  assert_int_equal(set_json(S, "deep", ok), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "marker", 1), MCS_OK);
  char header[2048];
  assert_int_equal(mcs_session_save(S), MCS_OK);
  cookie_header_from(S, header, sizeof header);
  mcs_session_free(S);
  S = load(CTX->f, header);
  if (mcs_session_outcome(S) != MCS_SESSION_LOADED)
    fail_msg("session holding a value nested %d deep came back %s",
             MCS_JSON_DEPTH_MAX, mcs_outcome_name(mcs_session_outcome(S)));
  expect_json(S, "deep", ok, strlen(ok));
  free(ok);
}

/* ---- Size limit (max_data_bytes = 1024) -------------------------------- */

static void test_value_over_size_limit_is_etoobig_at_set(void **state) {
  char big[2000];
  memset(big, 'x', sizeof big);
  assert_int_equal(mcs_session_set_str(S, "k", big, sizeof big), MCS_ETOOBIG);
  assert_int_equal(mcs_session_set_bytes(S, "k", big, sizeof big),
                   MCS_ETOOBIG);
  char json[2003];
  json[0] = '"';
  memset(json + 1, 'x', 2000);
  json[2001] = '"';
  json[2002] = '\0';
  assert_int_equal(set_json(S, "k", json), MCS_ETOOBIG);
  assert_int_equal(mcs_session_has(S, "k"), 0);
  assert_false(mcs_session_dirty(S));
}

static void add_small_keys(mcs_session *s, int n) {
  for (int i = 0; i < n; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%03d", i);
    assert_int_equal(mcs_session_set_str(s, key, "0123456789abcdef", 16),
                     MCS_OK);
  }
}

static void test_data_over_size_limit_is_etoobig_at_save(void **state) {
  fixture *f = CTX->f;
  add_small_keys(S, 100); /* ~3 KB of JSON */
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_save(S), MCS_ETOOBIG);
  assert_int_equal(f->spy.adds, 0);
  assert_int_equal(f->spy.cases, 0);
  assert_int_equal(f->spy.sets, 0);
  assert_int_equal(mcs_session_cookie_count(S), 0);
  /* Nothing lost: the session still holds its data and can be trimmed
   * and saved. */
  assert_int_equal(mcs_session_count(S), 100);
  assert_true(mcs_session_dirty(S));
  for (int i = 10; i < 100; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%03d", i);
    assert_int_equal(mcs_session_delete(S, key), MCS_OK);
  }
  save_and_reload(CTX);
  assert_int_equal(mcs_session_count(S), 10);
}

static void test_loaded_session_over_size_limit_writes_nothing(void **state) {
  fixture *f = CTX->f;
  char header[2048];
  add_small_keys(S, 5);
  assert_int_equal(mcs_session_save(S), MCS_OK);
  cookie_header_from(S, header, sizeof header);
  mcs_session_free(S);
  S = load(f, header);
  assert_int_equal(mcs_session_outcome(S), MCS_SESSION_LOADED);
  add_small_keys(S, 100);
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_save(S), MCS_ETOOBIG);
  assert_int_equal(f->spy.adds + f->spy.cases + f->spy.sets + f->spy.dels, 0);
  /* The stored record is still the old one. */
  mcs_session_free(S);
  S = load(f, header);
  assert_int_equal(mcs_session_outcome(S), MCS_SESSION_LOADED);
  assert_int_equal(mcs_session_count(S), 5);
}

/* ---- The change log (changes.c) -------------------------------------- */

static const mcs__change *entry(const mcs__changes *c, const char *key) {
  for (size_t i = 0; i < c->len; i++)
    if (strcmp(c->items[i].key, key) == 0)
      return &c->items[i];
  return NULL;
}

static json_t *obj(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, 0, &err);
  if (!v)
    fail_msg("bad test JSON %s: %s", text, err.text);
  return v;
}

static void expect_data(json_t *data, const char *want_text) {
  json_t *want = obj(want_text);
  if (!json_equal(data, want)) {
    char *got = json_dumps(data, JSON_COMPACT);
    print_error("got %s, want %s\n", got, want_text);
    free(got);
    json_decref(want);
    fail();
  }
  json_decref(want);
}

static void test_changes_set_then_incr_folds_into_set(void **state) {
  (void)state;
  mcs__changes c = {0};
  json_t *five = json_integer(5), *eight = json_integer(8);
  assert_int_equal(mcs__changes_set(&c, "k", five), MCS_OK);
  assert_int_equal(mcs__changes_incr(&c, "k", 3, eight), MCS_OK);
  assert_int_equal(c.len, 1);
  const mcs__change *e = entry(&c, "k");
  assert_non_null(e);
  assert_int_equal(e->kind, MCS__CHANGE_SET);
  assert_true(json_equal(e->value, eight));
  /* Applied on fresher data, it is a set: the stored 100 is replaced. */
  json_t *data = obj("{\"k\":100,\"other\":1}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"k\":8,\"other\":1}");
  /* Even over a value of another type. */
  json_t *data2 = obj("{\"k\":\"str\"}");
  assert_int_equal(mcs__changes_apply(&c, data2), MCS_OK);
  expect_data(data2, "{\"k\":8}");
  json_decref(data);
  json_decref(data2);
  json_decref(five);
  json_decref(eight);
  mcs__changes_clear(&c);
  assert_int_equal(c.len, 0);
  assert_null(c.items);
}

static void test_changes_incr_then_incr_adds_deltas(void **state) {
  (void)state;
  mcs__changes c = {0};
  json_t *now = json_integer(0); /* only used when folding into a set */
  assert_int_equal(mcs__changes_incr(&c, "k", 2, now), MCS_OK);
  assert_int_equal(mcs__changes_incr(&c, "k", 3, now), MCS_OK);
  assert_int_equal(mcs__changes_incr(&c, "k", -1, now), MCS_OK);
  assert_int_equal(c.len, 1);
  const mcs__change *e = entry(&c, "k");
  assert_int_equal(e->kind, MCS__CHANGE_INCR);
  assert_int_equal(e->delta, 4);
  /* Relative: added to whatever the fresher data holds. */
  json_t *data = obj("{\"k\":10}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"k\":14}");
  json_decref(data);
  data = obj("{}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"k\":4}");
  json_decref(data);
  json_decref(now);
  mcs__changes_clear(&c);
}

static void test_changes_delete_then_apply_removes(void **state) {
  (void)state;
  mcs__changes c = {0};
  assert_int_equal(mcs__changes_delete(&c, "gone"), MCS_OK);
  json_t *data = obj("{\"gone\":[1,2],\"kept\":true}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"kept\":true}");
  /* Already absent in the fresher data is fine. */
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"kept\":true}");
  json_decref(data);
  mcs__changes_clear(&c);
}

static void test_changes_later_change_replaces_earlier(void **state) {
  (void)state;
  mcs__changes c = {0};
  json_t *one = json_integer(1), *s = json_string("s"), *seven = json_integer(7);
  /* set, delete: a delete. */
  assert_int_equal(mcs__changes_set(&c, "a", one), MCS_OK);
  assert_int_equal(mcs__changes_delete(&c, "a"), MCS_OK);
  /* incr, set: a set. */
  assert_int_equal(mcs__changes_incr(&c, "b", 5, one), MCS_OK);
  assert_int_equal(mcs__changes_set(&c, "b", s), MCS_OK);
  /* delete, incr: a set of the resulting value (delta on nothing). */
  assert_int_equal(mcs__changes_delete(&c, "c"), MCS_OK);
  assert_int_equal(mcs__changes_incr(&c, "c", 7, seven), MCS_OK);
  assert_int_equal(c.len, 3);
  assert_int_equal(entry(&c, "a")->kind, MCS__CHANGE_DELETE);
  assert_int_equal(entry(&c, "b")->kind, MCS__CHANGE_SET);
  assert_int_equal(entry(&c, "c")->kind, MCS__CHANGE_SET);
  json_t *data = obj("{\"a\":0,\"b\":0,\"c\":100,\"d\":4}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"b\":\"s\",\"c\":7,\"d\":4}");
  json_decref(data);
  json_decref(one);
  json_decref(s);
  json_decref(seven);
  mcs__changes_clear(&c);
}

static void test_changes_set_keeps_its_own_reference(void **state) {
  (void)state;
  mcs__changes c = {0};
  json_t *v = json_string("x");
  assert_int_equal(mcs__changes_set(&c, "k", v), MCS_OK);
  json_decref(v); /* the log holds its own reference */
  json_t *data = json_object();
  assert_int_equal(mcs__changes_apply(&c, data), MCS_OK);
  expect_data(data, "{\"k\":\"x\"}");
  json_decref(data);
  mcs__changes_clear(&c);
}

static void test_changes_apply_incr_on_string_is_etype(void **state) {
  (void)state;
  mcs__changes c = {0};
  assert_int_equal(mcs__changes_incr(&c, "n", 1, NULL), MCS_OK);
  static const char *not_ints[] = {"{\"n\":\"5\"}", "{\"n\":5.0}",
                                   "{\"n\":null}", "{\"n\":[5]}",
                                   "{\"n\":{\"$int\":\"5\"}}"};
  for (size_t i = 0; i < sizeof not_ints / sizeof not_ints[0]; i++) {
    json_t *data = obj(not_ints[i]);
    assert_int_equal(mcs__changes_apply(&c, data), MCS_ETYPE);
    json_decref(data);
  }
  mcs__changes_clear(&c);
}

static void test_changes_overflow_is_erange(void **state) {
  (void)state;
  mcs__changes c = {0};
  /* Summed deltas. */
  assert_int_equal(mcs__changes_incr(&c, "up", INT64_MAX, NULL), MCS_OK);
  assert_int_equal(mcs__changes_incr(&c, "up", 1, NULL), MCS_ERANGE);
  assert_true(entry(&c, "up")->delta == INT64_MAX); /* unchanged */
  assert_int_equal(mcs__changes_incr(&c, "down", INT64_MIN, NULL), MCS_OK);
  assert_int_equal(mcs__changes_incr(&c, "down", -1, NULL), MCS_ERANGE);
  assert_true(entry(&c, "down")->delta == INT64_MIN);
  mcs__changes_clear(&c);
  /* A delta applied to a fresher value. */
  assert_int_equal(mcs__changes_incr(&c, "n", 10, NULL), MCS_OK);
  json_t *data = obj("{\"n\":9223372036854775800}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_ERANGE);
  json_decref(data);
  mcs__changes_clear(&c);
  assert_int_equal(mcs__changes_incr(&c, "n", -10, NULL), MCS_OK);
  data = obj("{\"n\":-9223372036854775800}");
  assert_int_equal(mcs__changes_apply(&c, data), MCS_ERANGE);
  json_decref(data);
  mcs__changes_clear(&c);
}

static void test_int_add_checked_limits(void **state) {
  (void)state;
  int64_t r = 0;
  assert_int_equal(mcs__int_add_checked(INT64_MAX, 0, &r), MCS_OK);
  assert_true(r == INT64_MAX);
  assert_int_equal(mcs__int_add_checked(INT64_MAX, 1, &r), MCS_ERANGE);
  assert_int_equal(mcs__int_add_checked(INT64_MIN, -1, &r), MCS_ERANGE);
  assert_int_equal(mcs__int_add_checked(INT64_MIN, INT64_MAX, &r), MCS_OK);
  assert_int_equal(r, -1);
  assert_int_equal(mcs__int_add_checked(-1, INT64_MIN, &r), MCS_ERANGE);
  assert_int_equal(mcs__int_add_checked(INT64_MIN, 0, &r), MCS_OK);
  assert_true(r == INT64_MIN);
}

/* The session records its changes in the log as documented. */
static void test_session_changes_are_logged_per_key(void **state) {
  assert_int_equal(mcs_session_set_int(S, "a", 1), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "a", 2, NULL), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "n", 2, NULL), MCS_OK);
  assert_int_equal(mcs_session_incr(S, "n", 3, NULL), MCS_OK);
  assert_int_equal(mcs_session_set_int(S, "d", 1), MCS_OK);
  assert_int_equal(mcs_session_delete(S, "d"), MCS_OK);
  assert_int_equal(S->changes.len, 3);
  const mcs__change *a = entry(&S->changes, "a");
  assert_int_equal(a->kind, MCS__CHANGE_SET);
  assert_int_equal(json_integer_value(a->value), 3);
  assert_int_equal(entry(&S->changes, "n")->kind, MCS__CHANGE_INCR);
  assert_int_equal(entry(&S->changes, "n")->delta, 5);
  assert_int_equal(entry(&S->changes, "d")->kind, MCS__CHANGE_DELETE);
  /* Failed changes are not logged. */
  assert_int_equal(mcs_session_set_str(S, "bad", "\xff", 1), MCS_EINVAL);
  assert_int_equal(mcs_session_incr(S, "a", INT64_MAX, NULL), MCS_ERANGE);
  assert_int_equal(mcs_session_delete(S, "absent"), MCS_ENOENT);
  assert_int_equal(S->changes.len, 3);
  assert_null(entry(&S->changes, "bad"));
  assert_int_equal(json_integer_value(entry(&S->changes, "a")->value), 3);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TS(f) cmocka_unit_test_setup_teardown(f, setup_small, teardown)
  const struct CMUnitTest tests[] = {
      T(test_set_get_str_round_trip),
      T(test_set_get_int_round_trip),
      T(test_set_get_double_round_trip),
      T(test_set_get_bool_round_trip),
      T(test_set_null_reads_back_as_null),
      T(test_bytes_with_nul_round_trip),
      T(test_bytes_of_every_value_round_trip),
      T(test_set_replaces_value_of_another_type),
      T(test_type_reports_every_type),
      T(test_get_int_on_string_is_etype),
      T(test_getters_of_another_type_are_etype),
      T(test_getters_on_absent_key_are_enoent),
      T(test_empty_key_is_einval),
      T(test_key_of_max_length_is_accepted),
      T(test_key_over_max_length_is_einval),
      T(test_key_not_utf8_is_einval),
      T(test_string_not_utf8_is_einval),
      T(test_nan_and_infinite_doubles_are_einval),
      T(test_null_arguments_are_einval),
      T(test_changes_after_destroy_are_estate),
      T(test_set_json_nested_lists_and_maps),
      T(test_set_json_of_tagged_bytes_reads_as_bytes),
      T(test_set_json_refuses_invalid_json),
      T(test_set_json_accepts_nul_in_strings),
      T(test_set_json_depth_max_ok_and_one_more_refused),
      T(test_set_json_refuses_malformed_tagged_values),
      T(test_set_json_refuses_non_ascii_in_bytes),
      T(test_get_json_of_every_type),
      T(test_delete_removes_and_absent_is_enoent),
      T(test_delete_survives_save_and_load),
      T(test_next_key_visits_every_key_once),
      T(test_incr_of_absent_key_starts_at_zero),
      T(test_incr_adds_and_writes_result),
      T(test_incr_on_non_integer_is_etype),
      T(test_incr_overflow_is_erange_both_directions),
      T(test_incr_survives_save_and_load),
      T(test_values_survive_save_and_load),
      T(test_value_nested_to_max_depth_survives_save_and_load),
      TS(test_value_over_size_limit_is_etoobig_at_set),
      TS(test_data_over_size_limit_is_etoobig_at_save),
      TS(test_loaded_session_over_size_limit_writes_nothing),
      cmocka_unit_test(test_changes_set_then_incr_folds_into_set),
      cmocka_unit_test(test_changes_incr_then_incr_adds_deltas),
      cmocka_unit_test(test_changes_delete_then_apply_removes),
      cmocka_unit_test(test_changes_later_change_replaces_earlier),
      cmocka_unit_test(test_changes_set_keeps_its_own_reference),
      cmocka_unit_test(test_changes_apply_incr_on_string_is_etype),
      cmocka_unit_test(test_changes_overflow_is_erange),
      cmocka_unit_test(test_int_add_checked_limits),
      T(test_session_changes_are_logged_per_key),
  };
#undef T
#undef TS
  return cmocka_run_group_tests_name("values", tests, NULL, NULL);
}
