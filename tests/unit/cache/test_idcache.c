/* The verified-cookie cache (src/cache/idcache.c): exact-match hits only, and a
 * session loaded through it is the session a full verification gives —
 * same id, same record — while tampered or aged cookies never pass. */
#include "session/session_int.h"
#include "test_util.h"

static mcs__idcache_entry entry(const char *id, int64_t at, const char *key) {
  mcs__idcache_entry e;
  memset(&e, 0, sizeof e);
  e.id_len = strlen(id);
  memcpy(e.id, id, e.id_len + 1);
  e.signed_at = at;
  e.key_len = strlen(key);
  memcpy(e.key, key, e.key_len + 1);
  return e;
}

static void test_only_equal_values_hit(void **st) {
  (void)st;
  mcs__idcache *c;
  assert_int_equal(mcs__idcache_new(16, &c), MCS_OK);
  const char a[] = "2|1:0|10:1700000000|7:session|4:YWJj|0123";
  char b[sizeof a];
  memcpy(b, a, sizeof a);
  b[sizeof b - 2] ^= 1; /* same length, one bit off */
  mcs__idcache_entry e = entry("abc", 1700000000, "mcs:k"), got;
  assert_false(mcs__idcache_get(c, a, sizeof a - 1, &got));
  mcs__idcache_put(c, a, sizeof a - 1, &e);
  assert_true(mcs__idcache_get(c, a, sizeof a - 1, &got));
  assert_string_equal(got.id, "abc");
  assert_int_equal(got.signed_at, 1700000000);
  assert_string_equal(got.key, "mcs:k");
  assert_false(mcs__idcache_get(c, b, sizeof b - 1, &got));
  assert_false(mcs__idcache_get(c, a, sizeof a - 2, &got)); /* a prefix */
  mcs__idcache_drop(c, a, sizeof a - 1);
  assert_false(mcs__idcache_get(c, a, sizeof a - 1, &got));
  mcs__idcache_free(c);
}

/* A table of 4 slots is one bucket of four ways: every value lands there.
 * Four values live side by side; a fifth evicts the one used least
 * recently; putting a cached value again keeps its way. */
static void test_ways_keep_colliding_values(void **st) {
  (void)st;
  mcs__idcache *c;
  assert_int_equal(mcs__idcache_new(4, &c), MCS_OK);
  const char *values[] = {"value-a", "value-b", "value-c", "value-d",
                          "value-e"};
  mcs__idcache_entry e[5], got;
  for (int i = 0; i < 5; i++) {
    char id[2] = {(char)('a' + i), 0};
    e[i] = entry(id, i, "k");
  }
  for (int i = 0; i < 4; i++)
    mcs__idcache_put(c, values[i], 7, &e[i]);
  for (int i = 3; i >= 0; i--) { /* a is now the most recent, d the least */
    assert_true(mcs__idcache_get(c, values[i], 7, &got));
    assert_string_equal(got.id, e[i].id);
  }
  mcs__idcache_put(c, values[3], 7, &e[3]); /* again: its own way */
  assert_true(mcs__idcache_get(c, values[2], 7, &got));
  mcs__idcache_put(c, values[4], 7, &e[4]); /* evicts b, the least recent */
  assert_false(mcs__idcache_get(c, values[1], 7, &got));
  for (int i = 0; i < 5; i++) {
    if (i == 1)
      continue;
    assert_true(mcs__idcache_get(c, values[i], 7, &got));
    assert_string_equal(got.id, e[i].id);
  }
  mcs__idcache_drop(c, values[4], 7); /* frees its way for the next */
  mcs__idcache_put(c, values[1], 7, &e[1]);
  for (int i = 0; i < 4; i++)
    assert_true(mcs__idcache_get(c, values[i], 7, &got));
  mcs__idcache_free(c);
}

/* mcs__equal_ct (what a hit's compare runs) works in 64-, 32- and
 * 16-byte blocks and a tail: at every length that splits differently, a
 * string one bit off anywhere is unequal; equal strings are equal. */
static void test_constant_time_compare_sees_every_byte(void **st) {
  (void)st;
  static const size_t lengths[] = {0,  1,  15, 16, 17,  31,  32,  47, 63,
                                   64, 65, 97, 113, 127, 128, 200, 256};
  unsigned char a[256], b[256];
  for (size_t i = 0; i < sizeof a; i++)
    a[i] = (unsigned char)(i * 37 + 11);
  for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
    size_t len = lengths[l];
    memcpy(b, a, sizeof a);
    assert_true(mcs__equal_ct(a, b, len));
    for (size_t i = 0; i < len; i++) {
      for (unsigned bit = 0; bit < 8; bit++) {
        b[i] ^= (unsigned char)(1u << bit);
        assert_false(mcs__equal_ct(a, b, len));
        b[i] ^= (unsigned char)(1u << bit);
      }
    }
    b[len % sizeof b] ^= 1; /* past the end: not compared */
    if (len < sizeof b)
      assert_true(mcs__equal_ct(a, b, len));
  }
}

static void test_limits_and_disabled_cache(void **st) {
  (void)st;
  mcs__idcache *c;
  static char big[300];
  memset(big, 'x', sizeof big);
  mcs__idcache_entry e = entry("abc", 1, "k"), got;
  assert_int_equal(mcs__idcache_new(0, &c), MCS_OK);
  assert_null(c); /* disabled: every call is a miss */
  mcs__idcache_put(c, "v", 1, &e);
  assert_false(mcs__idcache_get(c, "v", 1, &got));
  mcs__idcache_drop(c, "v", 1);
  mcs__idcache_free(c);
  assert_int_equal(mcs__idcache_new(4, &c), MCS_OK);
  mcs__idcache_put(c, big, sizeof big, &e); /* too long: not kept */
  assert_false(mcs__idcache_get(c, big, sizeof big, &got));
  mcs__idcache_put(c, "", 0, &e);
  assert_false(mcs__idcache_get(c, "", 0, &got));
  mcs__idcache_free(c);
}

static void no_cookie_cache(mcs_manager_config *cfg) {
  cfg->cookie_cache_entries = 0;
}

/* Stores a session, returns its cookie; loads it twice (the second load
 * comes from the cache) and checks both are the same session. */
static void load_twice_same(fixture *f, char *cookie, size_t size) {
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "u", "ann", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, cookie, size);
  mcs_session_free(s);
  for (int i = 0; i < 2; i++) {
    s = load(f, cookie);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    const char *u;
    size_t len;
    assert_int_equal(mcs_session_get_str(s, "u", &u, &len), MCS_OK);
    assert_memory_equal(u, "ann", 3);
    assert_int_equal(mcs_session_incr(s, "n", 1, NULL), MCS_OK);
    assert_int_equal(mcs_session_save(s), MCS_OK); /* cas on the same key */
    mcs_session_free(s);
  }
  s = load(f, cookie);
  int64_t n = 0;
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 2);
  mcs_session_free(s);
}

static void test_cached_cookie_loads_the_same_session(void **st) {
  (void)st;
  char with[512], without[512];
  fixture *f = fixture_new(NULL);
  load_twice_same(f, with, sizeof with);
  fixture_free(f);
  f = fixture_new(no_cookie_cache);
  load_twice_same(f, without, sizeof without);
  fixture_free(f);
}

/* A cookie one bit away from a cached one is forged, cached or not. */
static void test_tampered_twin_of_cached_cookie_is_forged(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  load_twice_same(f, cookie, sizeof cookie);
  size_t n = strlen(cookie);
  for (size_t i = strlen("session="); i < n; i += 7) {
    char twin[512];
    memcpy(twin, cookie, n + 1);
    twin[i] ^= 1;
    mcs_session *s = load(f, twin);
    assert_int_not_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    mcs_session_free(s);
  }
  mcs_session *s = load(f, cookie); /* the real one still works */
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  fixture_free(f);
}

/* The CSRF MAC that comes with a cached cookie is the one computing it
 * gives: a token issued on a session loaded through the cache verifies on
 * a manager without the cache (same keys, same store), and back. */
static void test_csrf_tokens_agree_with_and_without_the_cache(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  load_twice_same(f, cookie, sizeof cookie); /* now cached */
  mcs_manager *plain = fixture_manager(f, no_cookie_cache);
  char t_cached[MCS_CSRF_TOKEN_LEN + 1], t_plain[MCS_CSRF_TOKEN_LEN + 1];
  mcs_session *a = load(f, cookie), *b = NULL;
  assert_int_equal(
      mcs_session_load(plain, cookie, strlen(cookie), &b), MCS_OK);
  assert_int_equal(mcs_session_outcome(b), MCS_SESSION_LOADED);
  assert_int_equal(mcs_csrf_token(a, t_cached, sizeof t_cached), MCS_OK);
  assert_int_equal(mcs_csrf_token(b, t_plain, sizeof t_plain), MCS_OK);
  assert_int_equal(mcs_csrf_verify(b, t_cached, MCS_CSRF_TOKEN_LEN), MCS_OK);
  assert_int_equal(mcs_csrf_verify(a, t_plain, MCS_CSRF_TOKEN_LEN), MCS_OK);
  t_plain[10] = t_plain[10] == 'A' ? 'B' : 'A';
  assert_int_equal(mcs_csrf_verify(a, t_plain, MCS_CSRF_TOKEN_LEN),
                   MCS_EBADSIG);
  /* After regenerate the cached MAC (of the old id) is not the new id's:
   * a token for the new id still verifies, on the same session. */
  assert_int_equal(mcs_session_regenerate(a), MCS_OK);
  assert_int_equal(mcs_csrf_token(a, t_cached, sizeof t_cached), MCS_OK);
  assert_int_equal(mcs_csrf_verify(a, t_cached, MCS_CSRF_TOKEN_LEN), MCS_OK);
  assert_int_equal(mcs_csrf_verify(b, t_cached, MCS_CSRF_TOKEN_LEN),
                   MCS_EBADSIG); /* another id's token */
  mcs_session_free(a);
  mcs_session_free(b);
  mcs_manager_free(plain);
  fixture_free(f);
}

static void test_cookie_cache_size_is_validated(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  assert_int_equal(cfg.cookie_cache_entries, 1024);
  cfg.keys = f->keys;
  cfg.cookie_cache_entries = 65537;
  mcs_manager *m;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  cfg.cookie_cache_entries = 65536;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  mcs_manager_free(m);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_only_equal_values_hit),
      cmocka_unit_test(test_ways_keep_colliding_values),
      cmocka_unit_test(test_constant_time_compare_sees_every_byte),
      cmocka_unit_test(test_limits_and_disabled_cache),
      cmocka_unit_test(test_cached_cookie_loads_the_same_session),
      cmocka_unit_test(test_tampered_twin_of_cached_cookie_is_forged),
      cmocka_unit_test(test_csrf_tokens_agree_with_and_without_the_cache),
      cmocka_unit_test(test_cookie_cache_size_is_validated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
