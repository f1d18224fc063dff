/* Session values as JSON (mcs_session_set_json / get_json), and every kind
 * of value through a save and a load, within and over the size limit
 * (src/session/values.c; the fixture: values_fixture.h). */
#include "values_fixture.h"

/* ---- JSON in ----------------------------------------------------------------
 */

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
      "{\"a\":1,\"a\":2}",              /* duplicate keys */
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

/* ---- JSON out
 * ---------------------------------------------------------------- */

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
  assert_int_equal(mcs_session_set_str(S, "s", "a\"b\\c\n\x01\xc3\xa9/", 10),
                   MCS_OK);
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

/* ---- Save and load --------------------------------------------------------
 */

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
static void
test_value_nested_to_max_depth_survives_save_and_load(void **state) {
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
  assert_int_equal(mcs_session_set_bytes(S, "k", big, sizeof big), MCS_ETOOBIG);
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

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TS(f) cmocka_unit_test_setup_teardown(f, setup_small, teardown)
  const struct CMUnitTest tests[] = {
      T(test_set_json_nested_lists_and_maps),
      T(test_set_json_of_tagged_bytes_reads_as_bytes),
      T(test_set_json_refuses_invalid_json),
      T(test_set_json_accepts_nul_in_strings),
      T(test_set_json_depth_max_ok_and_one_more_refused),
      T(test_set_json_refuses_malformed_tagged_values),
      T(test_set_json_refuses_non_ascii_in_bytes),
      T(test_get_json_of_every_type),
      T(test_values_survive_save_and_load),
      T(test_value_nested_to_max_depth_survives_save_and_load),
      TS(test_value_over_size_limit_is_etoobig_at_set),
      TS(test_data_over_size_limit_is_etoobig_at_save),
      TS(test_loaded_session_over_size_limit_writes_nothing),
  };
#undef T
#undef TS
  return cmocka_run_group_tests_name("values_json", tests, NULL, NULL);
}
