/*
 * Sessions through the manager over a real memcached (docs/design.md,
 * "Session life cycle"):
 * the life cycle, idle expiry and its sliding on reads, round trips as
 * the server itself counts them, the URL prefix as the key prefix, a
 * garbage record, sealed records as memcached holds them, the size
 * limits, a store that cannot answer, and sessions destroyed or changed
 * concurrently.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mc_testutil.h"

static mc_node node;
static mc_node *nodes[1] = {&node};

/* Generous timeouts: sanitizer builds are slow. */
#define PARAMS "io_timeout_ms=3000&connect_timeout_ms=2000&retry_s=1"

static int flush_node(void **state) {
  (void)state;
  return mc_node_flush(&node);
}

static void short_idle(mcs_manager_config *cfg) { cfg->idle_timeout = 3; }

static void test_session_life_cycle(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  char c1[512], c2[512];
  mt_new_session(&m, 1, c1, sizeof c1); /* add */
  assert_int_equal(mt_read_n(&m, c1, NULL), 1);
  mcs_session *s = mt_load(&m, c1); /* change: cas */
  assert_int_equal(mcs_session_set_str(s, "user", "ann", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  s = mt_load(&m, c1);
  const char *user;
  size_t len;
  assert_int_equal(mcs_session_get_str(s, "user", &user, &len), MCS_OK);
  assert_memory_equal(user, "ann", 3);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK); /* login */
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mt_cookie(s, c2, sizeof c2);
  mcs_session_free(s);
  assert_string_not_equal(c1, c2);
  assert_int_equal(mt_read_n(&m, c2, NULL), 1);
  s = mt_load(&m, c1); /* a read-only snapshot, for a while */
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_int_equal(mcs_session_set_int(s, "n", 2), MCS_ERETIRED);
  assert_int_equal(mcs_session_destroy(s), MCS_ERETIRED);
  mcs_session_free(s);
  assert_int_equal(mt_read_n(&m, c2, NULL), 1);
  s = mt_load(&m, c2); /* logout */
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  s = mt_load(&m, c2);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  mcs_manager_stats ms = mt_mgr_stats(&m);
  assert_true(ms.created == 2 && ms.store_errors == 0 && ms.corrupt == 0);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

/* Memcached's clock ticks in whole seconds: with a 3 s idle timeout, reads
 * 1.1 s apart keep the session alive well past 3 s; 4.2 s without a read
 * end it. */
static void test_session_expires_when_idle_and_reads_slide_it(void **st0) {
  (void)st0;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, short_idle);
  char c[512];
  mt_new_session(&m, 7, c, sizeof c);
  for (int i = 0; i < 4; i++) { /* 4.4 s in all */
    mt_sleep_ms(1100);
    assert_int_equal(mt_read_n(&m, c, NULL), 7);
  }
  mt_sleep_ms(4200);
  mcs_session *s = mt_load(&m, c);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

/* Commands as memcached counts them (stats: cmd_get, cmd_set, cmd_touch,
 * delete_*), before and after each step of a request. */
static void test_session_round_trips_from_server_stats(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  char c[512];
  uint64_t n0 = mt_commands(&node), sets0, sets1;
  mt_new_session(&m, 1, c, sizeof c);
  assert_int_equal(mt_commands(&node) - n0, 1); /* add: one ms */
  n0 = mt_commands(&node);
  mcs_session *s = mt_load(&m, c); /* read + slide: one mg */
  assert_int_equal(mt_commands(&node) - n0, 1);
  n0 = mt_commands(&node);
  assert_int_equal(mcs_session_save(s), MCS_OK); /* unchanged: nothing */
  assert_int_equal(mt_commands(&node) - n0, 0);
  assert_int_equal(mc_node_stat(&node, "cmd_set", &sets0), 0);
  assert_int_equal(mcs_session_incr(s, "n", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK); /* changed: one CAS */
  assert_int_equal(mt_commands(&node) - n0, 1);
  assert_int_equal(mc_node_stat(&node, "cmd_set", &sets1), 0);
  assert_int_equal(sets1 - sets0, 1);
  mcs_session_free(s);
  n0 = mt_commands(&node);
  s = mt_load(&m, NULL); /* an anonymous visitor costs nothing */
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  assert_int_equal(mt_commands(&node) - n0, 0);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void explicit_prefix(mcs_manager_config *cfg) {
  cfg->key_prefix = "explicit:";
}

/* The store URL's prefix becomes the manager's key prefix unless the
 * application sets one. */
static void test_session_url_prefix_is_the_key_prefix(void **state) {
  (void)state;
  char c[512], key[MCS_STORE_KEY_MAX + 1], reply[64], req[300];
  mcs_store *st = mt_store(nodes, 1, PARAMS "&prefix=app7%3A");
  mt_mgr m = mt_mgr_new(st, NULL);
  mt_new_session(&m, 1, c, sizeof c);
  mt_store_key(&m, c, key, sizeof key);
  assert_memory_equal(key, "app7:", 5);
  snprintf(req, sizeof req, "mg %s\r\n", key);
  assert_int_equal(mc_node_raw(&node, req, "\r\n", reply, sizeof reply), 0);
  assert_string_equal(reply, "HD\r\n"); /* it is there, under that key */
  mt_mgr_free(&m);
  m = mt_mgr_new(st, explicit_prefix);
  mt_new_session(&m, 1, c, sizeof c);
  mt_store_key(&m, c, key, sizeof key);
  assert_memory_equal(key, "explicit:", 9);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void accept_plain(mcs_manager_config *cfg) {
  cfg->seal_records = MCS_SEAL_ACCEPT_PLAIN;
}

/* Garbage where a record should be: a fresh session, never a crash or an
 * error page. With sealing on (the default) it does not open: FORGED,
 * counted as tampered; where plain records are accepted it is a counted
 * corrupt record. */
/* One round of garbage records for a manager that seals or not. */
static void garbage_round(mcs_store *st, bool sealed) {
  static const char *junk[] = {"\x01\x02\xff\xfe garbage \x80\x95",
                               "{\"v\":1,\"data\":[", "\x80\x04\x95.",
                               "\x00ms\x01\x00\x00\x00\x00 short"};
  mt_mgr m = mt_mgr_new(st, sealed ? NULL : accept_plain);
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
    char c[512], key[MCS_STORE_KEY_MAX + 1];
    mt_new_session(&m, 1, c, sizeof c);
    mt_store_key(&m, c, key, sizeof key);
    size_t n = i == 3 ? 14 : strlen(junk[i]); /* the last one holds NULs */
    mcs_store_result r;
    assert_int_equal(mcs_store_set(st, key, strlen(key), junk[i], n, 0, 60, &r),
                     MCS_OK);
    assert_int_equal(r, MCS_STORE_STORED);
    mcs_session *s = mt_load(&m, c);
    /* A record that starts like a sealed one never counts as corrupt. */
    bool forged = sealed || i == 3;
    assert_int_equal(mcs_session_outcome(s),
                     forged ? MCS_SESSION_FORGED : MCS_SESSION_EXPIRED);
    assert_int_equal(mcs_session_count(s), 0);
    mcs_session_free(s);
    mcs_manager_stats stats = mt_mgr_stats(&m);
    assert_int_equal(stats.corrupt, sealed ? 0 : (i < 3 ? i + 1 : 3));
    assert_int_equal(stats.tampered, sealed ? i + 1 : (i < 3 ? 0 : 1));
  }
  mt_mgr_free(&m);
}

/* Garbage where a record should be: a fresh session, never a crash or an
 * error page. With sealing on (the default) it does not open: FORGED,
 * counted as tampered; where plain records are accepted it is a counted
 * corrupt record. */
static void test_session_garbage_record_is_tampered_or_corrupt(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  garbage_round(st, true);
  garbage_round(st, false);
  mcs_store_free(st);
}

static bool has_bytes(const void *hay, size_t n, const char *needle) {
  size_t m = strlen(needle);
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp((const char *)hay + i, needle, m) == 0)
      return true;
  return false;
}

/* What memcached holds for a session, read raw: none of its strings; the
 * record flipped there, or copied under another session's key, loads as
 * FORGED and stays as it was. */
static void test_session_sealed_record_in_memcached(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  char c[512], c2[512], key[MCS_STORE_KEY_MAX + 1], key2[MCS_STORE_KEY_MAX + 1];
  mcs_session *s = mt_load(&m, NULL);
  assert_int_equal(mcs_session_set_str(s, "card", "4111-1111-1111", 14),
                   MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "mallory@example.org"), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mt_cookie(s, c, sizeof c);
  mcs_session_free(s);
  mt_new_session(&m, 2, c2, sizeof c2);
  mt_store_key(&m, c, key, sizeof key);
  mt_store_key(&m, c2, key2, sizeof key2);
  void *raw = NULL;
  size_t len = 0;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(st, key, strlen(key), 0, 1 << 20, &raw, &len,
                                 NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_false(has_bytes(raw, len, "card"));
  assert_false(has_bytes(raw, len, "4111"));
  assert_false(has_bytes(raw, len, "mallory"));
  assert_int_equal(((const uint8_t *)raw)[0], 0); /* no JSON text */
  /* Copied under the other session's key. */
  assert_int_equal(mcs_store_set(st, key2, strlen(key2), raw, len, 0, 60, &r),
                   MCS_OK);
  s = mt_load(&m, c2);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  /* Flipped in place. */
  ((uint8_t *)raw)[len / 2] ^= 4;
  assert_int_equal(mcs_store_set(st, key, strlen(key), raw, len, 0, 60, &r),
                   MCS_OK);
  s = mt_load(&m, c);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  assert_null(mcs_session_user(s));
  mcs_session_free(s);
  void *after = NULL;
  size_t after_len = 0;
  assert_int_equal(mcs_store_get(st, key, strlen(key), 0, 1 << 20, &after,
                                 &after_len, NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(after_len, len);
  assert_memory_equal(after, raw, len);
  assert_int_equal(mt_mgr_stats(&m).tampered, 2);
  mcs_free(raw);
  mcs_free(after);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void one_mib(mcs_manager_config *cfg) {
  cfg->max_data_bytes = MCS_MEMCACHED_ITEM_MAX;
}

/* Saves a string of `len` bytes into the session; returns save's code. */
static int save_big(const mt_mgr *m, const char *cookie, size_t len) {
  char *big = malloc(len);
  assert_non_null(big);
  memset(big, 'x', len);
  mcs_session *s = mt_load(m, cookie);
  int rc = mcs_session_set_str(s, "big", big, len);
  if (rc == MCS_OK)
    rc = mcs_session_save(s);
  mcs_session_free(s);
  free(big);
  return rc;
}

/* Over the manager's limit, or under it but over memcached's 1 MiB item:
 * MCS_ETOOBIG, nothing sent, the stored session unchanged. */
static void test_session_too_big_is_refused_and_kept(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr small = mt_mgr_new(st, NULL), big = mt_mgr_new(st, one_mib);
  char c[512];
  mt_new_session(&small, 5, c, sizeof c);
  uint64_t sets0, sets1;
  assert_int_equal(mc_node_stat(&node, "cmd_set", &sets0), 0);
  assert_int_equal(save_big(&small, c, 70 * 1024), MCS_ETOOBIG);
  /* Encodes to just under 1 MiB (the manager accepts it) but key + value
   * + memcached's item overhead do not fit in one item. */
  assert_int_equal(save_big(&big, c, MCS_MEMCACHED_ITEM_MAX - 200),
                   MCS_ETOOBIG);
  assert_int_equal(save_big(&big, c, 2 * MCS_MEMCACHED_ITEM_MAX), MCS_ETOOBIG);
  assert_int_equal(mc_node_stat(&node, "cmd_set", &sets1), 0);
  assert_int_equal(sets1, sets0); /* refused before the wire */
  assert_int_equal(mt_read_n(&small, c, NULL), 5);
  assert_int_equal(save_big(&big, c, 900 * 1024), MCS_OK); /* fits */
  assert_int_equal(mt_read_n(&big, c, NULL), 5);
  mt_mgr_free(&small);
  mt_mgr_free(&big);
  mcs_store_free(st);
}

/* A store that cannot answer gives load and save an error, within the
 * I/O timeout, then at once while the server is marked down; nothing is
 * overwritten, and the session is there again once the server is. (A
 * request that timed out may still be applied when a stalled server
 * resumes: it waited in the socket buffer. So a timeout is an error whose
 * effect is unknown; here the save comes after the timeout, is refused
 * without being sent, and so cannot have changed anything.) */
static void test_session_store_down_is_an_error(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, "io_timeout_ms=300&retry_s=1");
  mt_mgr m = mt_mgr_new(st, NULL);
  char c[512];
  mt_new_session(&m, 3, c, sizeof c);
  mcs_session *s = mt_load(&m, c), *s2 = NULL;
  assert_int_equal(mcs_session_set_int(s, "n", 4), MCS_OK);
  uint64_t sets0, sets1;
  assert_int_equal(mc_node_stat(&node, "cmd_set", &sets0), 0);
  assert_int_equal(mc_node_pause(&node), 0);
  int64_t t0 = mcs__mc_now_ms();
  int rc = mcs_session_load(m.mgr, c, strlen(c), &s2);
  int64_t t1 = mcs__mc_now_ms();
  int rc2 = mcs_session_save(s); /* server marked down: fails fast */
  int64_t t2 = mcs__mc_now_ms();
  assert_int_equal(mc_node_resume(&node), 0);
  assert_int_equal(rc, MCS_ETIMEDOUT);
  assert_null(s2);
  assert_true(t1 - t0 >= 290 && t1 - t0 < 1000);
  assert_int_equal(rc2, MCS_ESTORE);
  assert_true(t2 - t1 < 100);
  mcs_session_free(s);
  mt_sleep_ms(1100); /* retry_s */
  assert_int_equal(mt_read_n(&m, c, NULL), 3);
  assert_int_equal(mc_node_stat(&node, "cmd_set", &sets1), 0);
  assert_int_equal(sets1, sets0);
  assert_true(mt_mgr_stats(&m).store_errors >= 2);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

/* Two requests on one session: changes to different keys both survive
 * (the second CAS conflicts, re-reads, re-applies); a destroy in between
 * is never undone by a later save. */
static void test_session_concurrent_requests(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  char c[512];
  mt_new_session(&m, 1, c, sizeof c);
  mcs_session *a = mt_load(&m, c), *b = mt_load(&m, c);
  assert_int_equal(mcs_session_set_str(a, "a", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_set_str(b, "b", "2", 1), MCS_OK);
  assert_int_equal(mcs_session_save(a), MCS_OK);
  assert_int_equal(mcs_session_save(b), MCS_OK);
  mcs_session_free(a);
  mcs_session_free(b);
  a = mt_load(&m, c);
  assert_true(mcs_session_has(a, "a") && mcs_session_has(a, "b"));
  assert_true(mt_mgr_stats(&m).cas_retries >= 1);
  b = mt_load(&m, c);
  assert_int_equal(mcs_session_destroy(a), MCS_OK);
  assert_int_equal(mcs_session_save(a), MCS_OK);
  assert_int_equal(mcs_session_set_int(b, "n", 2), MCS_OK);
  assert_int_equal(mcs_session_save(b), MCS_EGONE);
  mcs_session_free(a);
  mcs_session_free(b);
  a = mt_load(&m, c);
  assert_int_equal(mcs_session_outcome(a), MCS_SESSION_EXPIRED);
  mcs_session_free(a);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, flush_node)
      T(test_session_life_cycle),
      T(test_session_expires_when_idle_and_reads_slide_it),
      T(test_session_round_trips_from_server_stats),
      T(test_session_url_prefix_is_the_key_prefix),
      T(test_session_garbage_record_is_tampered_or_corrupt),
      T(test_session_sealed_record_in_memcached),
      T(test_session_too_big_is_refused_and_kept),
      T(test_session_store_down_is_an_error),
      T(test_session_concurrent_requests),
#undef T
  };
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not found: skipped\n");
    return 77;
  }
  if (mc_node_start(&node) != 0) {
    fprintf(stderr, "could not start memcached\n");
    return 1;
  }
  int failed =
      cmocka_run_group_tests_name("memcached_session", tests, NULL, NULL);
  mc_node_stop(&node);
  return failed;
}
