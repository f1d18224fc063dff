/* The change log that lets a save re-apply this request's changes after a
 * CAS conflict (src/session/changes.c), at the mcs__changes_* level, and
 * as sessions fill it (the fixture: values_fixture.h). */
#include "values_fixture.h"

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
  json_t *one = json_integer(1), *s = json_string("s"),
         *seven = json_integer(7);
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
  return cmocka_run_group_tests_name("changes", tests, NULL, NULL);
}
