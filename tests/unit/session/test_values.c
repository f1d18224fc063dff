/* Session values through the public API (src/session/values.c): typed
 * round trips, types and type errors, argument checks, delete and
 * iteration, incr; on sessions made by a manager over a spied memory store
 * (values_fixture.h). JSON in and out, save and load and the size limit:
 * test_values_json.c. */
#include "values_fixture.h"

/* ---- Typed round trips -------------------------------------------------- */

static void test_set_get_str_round_trip(void **state) {
#define LIT(x)                                                                 \
  { x, sizeof(x) - 1 }
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
  const int64_t cases[] = {0,         1,         -1,
                           42,        INT32_MAX, (int64_t)INT32_MAX + 1,
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
  const double cases[] = {0.1,    -0.0,     1e300,   -1e300,
                          5e-324, 1.0,      DBL_MAX, DBL_MIN,
                          0.5,    -123.456, 1e16,    3.141592653589793};
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

/* ---- Types and type errors ------------------------------------------------
 */

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
  assert_int_equal(mcs_session_get_json(S, "absent", &json, &len), MCS_ENOENT);
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
      "\xff",
      "a\x80",
      "\xc3",             /* truncated */
      "\xc0\x80",         /* overlong NUL */
      "\xed\xa0\x80",     /* surrogate */
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
      {"\xff", 1},     {"ok\x80", 3},       {"\xc3", 1},
      {"\xc0\x80", 2}, {"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4},
      {"a\0\xfe", 3},  {"\xe2\x82", 2},     {"\xf0\x9f\x98", 3},
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

/* ---- incr -------------------------------------------------------------------
 */

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
      T(test_delete_removes_and_absent_is_enoent),
      T(test_delete_survives_save_and_load),
      T(test_next_key_visits_every_key_once),
      T(test_incr_of_absent_key_starts_at_zero),
      T(test_incr_adds_and_writes_result),
      T(test_incr_on_non_integer_is_etype),
      T(test_incr_overflow_is_erange_both_directions),
      T(test_incr_survives_save_and_load),
  };
#undef T
#undef TS
  return cmocka_run_group_tests_name("values", tests, NULL, NULL);
}
