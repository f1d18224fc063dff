/* The decoded-record cache (src/cache/rcache.c): a hit needs the same store key
 * and byte-for-byte the same record; it hands out a private copy; two ways
 * per bucket keep colliding keys side by side. */
#include <jansson.h>

#include "session/session_int.h"
#include "test_util.h"

/* A record holding {"n": n}, bound to `user` (may be NULL). */
static mcs__record record(int n, const char *user) {
  mcs__record rec;
  memset(&rec, 0, sizeof rec);
  rec.data = json_pack("{s:i}", "n", n);
  assert_non_null(rec.data);
  rec.created = 1700000000 + n;
  rec.rev = (uint64_t)n;
  if (user) {
    assert_int_equal(mcs__record_set_user(&rec, user, 7), MCS_OK);
    memset(rec.user_tag, n, sizeof rec.user_tag);
    rec.user_tag_set = true;
  }
  return rec;
}

static bool get(mcs__rcache *c, const char *key, const char *raw, int *n) {
  mcs__record rec;
  bool hit = false;
  memset(&rec, 0, sizeof rec);
  assert_int_equal(mcs__rcache_get(c, key, strlen(key), (const uint8_t *)raw,
                                   strlen(raw), &rec, &hit),
                   MCS_OK);
  if (hit)
    *n = (int)json_integer_value(json_object_get(rec.data, "n"));
  mcs__record_clear(&rec);
  return hit;
}

static void put(mcs__rcache *c, const char *key, const char *raw, int n) {
  mcs__record rec = record(n, NULL);
  mcs__rcache_put(c, key, strlen(key), (const uint8_t *)raw, strlen(raw),
                  &rec);
  mcs__record_clear(&rec);
}

static void test_hits_need_same_key_and_bytes(void **st) {
  (void)st;
  mcs__rcache *c;
  int n = 0;
  assert_int_equal(mcs__rcache_new(16, &c), MCS_OK);
  put(c, "k1", "{\"n\":1}", 1);
  assert_true(get(c, "k1", "{\"n\":1}", &n));
  assert_int_equal(n, 1);
  assert_false(get(c, "k1", "{\"n\":2}", &n)); /* the record changed */
  assert_false(get(c, "k2", "{\"n\":1}", &n)); /* same bytes, other key */
  put(c, "k1", "{\"n\":2}", 2);                /* replaces k1's entry */
  assert_false(get(c, "k1", "{\"n\":1}", &n));
  assert_true(get(c, "k1", "{\"n\":2}", &n));
  assert_int_equal(n, 2);
  mcs__rcache_free(c);
}

/* The copy is the caller's: changing it leaves the cached record alone;
 * the binding and its tag come back as they went in. */
static void test_hit_is_a_private_copy_with_binding(void **st) {
  (void)st;
  mcs__rcache *c;
  assert_int_equal(mcs__rcache_new(16, &c), MCS_OK);
  mcs__record in = record(5, "alice"), out;
  const uint8_t raw[] = "raw-5";
  mcs__rcache_put(c, "k", 1, raw, sizeof raw, &in);
  bool hit = false;
  memset(&out, 0, sizeof out);
  assert_int_equal(mcs__rcache_get(c, "k", 1, raw, sizeof raw, &out, &hit),
                   MCS_OK);
  assert_true(hit);
  assert_string_equal(out.user, "alice");
  assert_int_equal(out.user_gen, 7);
  assert_true(out.user_tag_set);
  assert_memory_equal(out.user_tag, in.user_tag, sizeof in.user_tag);
  assert_int_equal(out.created, in.created);
  assert_int_equal(json_object_set_new(out.data, "n", json_integer(99)), 0);
  mcs__record_clear(&out);
  memset(&out, 0, sizeof out);
  assert_int_equal(mcs__rcache_get(c, "k", 1, raw, sizeof raw, &out, &hit),
                   MCS_OK);
  assert_true(hit);
  assert_int_equal(json_integer_value(json_object_get(out.data, "n")), 5);
  mcs__record_clear(&out);
  mcs__record_clear(&in);
  mcs__rcache_free(c);
}

/* Four slots: one bucket of four ways, every key lands in it. */
static void test_ways_keep_colliding_keys(void **st) {
  (void)st;
  mcs__rcache *c;
  int n = 0;
  assert_int_equal(mcs__rcache_new(4, &c), MCS_OK);
  put(c, "a", "ra", 1);
  put(c, "b", "rb", 2);
  put(c, "c", "rc", 3);
  put(c, "d", "rd", 4);
  assert_true(get(c, "d", "rd", &n));
  assert_true(get(c, "c", "rc", &n));
  assert_true(get(c, "b", "rb", &n));
  assert_true(get(c, "a", "ra", &n)); /* least recent now: d */
  put(c, "d", "rd2", 5);              /* d's new bytes: d's way */
  assert_true(get(c, "a", "ra", &n)); /* least recent now: c */
  put(c, "e", "re", 6);               /* evicts c */
  assert_false(get(c, "c", "rc", &n));
  assert_true(get(c, "d", "rd2", &n));
  assert_int_equal(n, 5);
  assert_true(get(c, "e", "re", &n));
  assert_int_equal(n, 6);
  assert_true(get(c, "a", "ra", &n));
  assert_true(get(c, "b", "rb", &n));
  mcs__rcache_free(c);
}

static void test_disabled_and_limits(void **st) {
  (void)st;
  mcs__rcache *c;
  int n = 0;
  assert_int_equal(mcs__rcache_new(0, &c), MCS_OK);
  assert_null(c); /* disabled: every call is a miss */
  put(c, "k", "r", 1);
  assert_false(get(c, "k", "r", &n));
  mcs__rcache_free(c);
  assert_int_equal(mcs__rcache_new(4, &c), MCS_OK);
  static char big[5000];
  memset(big, 'x', sizeof big - 1);
  put(c, "k", big, 1); /* too big to keep */
  assert_false(get(c, "k", big, &n));
  mcs__rcache_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hits_need_same_key_and_bytes),
      cmocka_unit_test(test_hit_is_a_private_copy_with_binding),
      cmocka_unit_test(test_ways_keep_colliding_keys),
      cmocka_unit_test(test_disabled_and_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
