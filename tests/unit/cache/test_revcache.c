/* The manager's cache of users' revocation state (revcache.c): fresh for
 * exactly the check interval, bounded, ordered by read stamps, and shared
 * by threads (run again under ThreadSanitizer by `make check`). */
#include <pthread.h>

#include "session/session_int.h"
#include "test_util.h"

static uint8_t tag_of(int i, uint8_t tag[MCS__USER_TAG_LEN]) {
  memset(tag, 0, MCS__USER_TAG_LEN);
  tag[8] = (uint8_t)i; /* beyond the bytes that pick the set */
  tag[0] = (uint8_t)(i * 7);
  return tag[0];
}

static void test_entry_is_fresh_for_exactly_the_interval(void **state) {
  (void)state;
  mcs__revcache *c = NULL;
  uint8_t tag[MCS__USER_TAG_LEN];
  uint64_t gen = 0;
  assert_int_equal(mcs__revcache_new(16, &c), MCS_OK);
  tag_of(1, tag);
  assert_false(mcs__revcache_get(c, tag, 100, 5, &gen)); /* absent */
  mcs__revcache_put(c, tag, 42, 100, mcs__revcache_stamp(c));
  assert_true(mcs__revcache_get(c, tag, 100, 5, &gen));
  assert_int_equal(gen, 42);
  assert_true(mcs__revcache_get(c, tag, 104, 5, &gen));
  assert_false(mcs__revcache_get(c, tag, 105, 5, &gen)); /* stale */
  assert_false(mcs__revcache_get(c, tag, 99, 5, &gen));  /* clock went back */
  assert_false(mcs__revcache_get(c, tag, 100, 0, &gen)); /* 0: never cached */
  mcs__revcache_free(c);
  mcs__revcache_free(NULL);
}

/* A read that began before a newer write (a local revoke) must not put
 * its older answer back over it. */
static void test_older_read_never_overwrites_newer_entry(void **state) {
  (void)state;
  mcs__revcache *c = NULL;
  uint8_t tag[MCS__USER_TAG_LEN];
  uint64_t gen = 0;
  assert_int_equal(mcs__revcache_new(16, &c), MCS_OK);
  tag_of(2, tag);
  uint64_t reader = mcs__revcache_stamp(c);                  /* read starts */
  mcs__revcache_put(c, tag, 7, 100, mcs__revcache_stamp(c)); /* revoke */
  mcs__revcache_put(c, tag, 1, 100, reader);                 /* read ends */
  assert_true(mcs__revcache_get(c, tag, 100, 5, &gen));
  assert_int_equal(gen, 7);
  uint64_t later = mcs__revcache_stamp(c); /* a read after the revoke */
  mcs__revcache_put(c, tag, 9, 101, later);
  assert_true(mcs__revcache_get(c, tag, 101, 5, &gen));
  assert_int_equal(gen, 9);
  mcs__revcache_free(c);
}

/* 16 entries (4 sets of 4): 64 users keep at most 16; the ones written
 * last survive in each set. */
static void test_cache_is_bounded(void **state) {
  (void)state;
  mcs__revcache *c = NULL;
  uint8_t tag[MCS__USER_TAG_LEN];
  uint64_t gen;
  assert_int_equal(mcs__revcache_new(16, &c), MCS_OK);
  for (int i = 0; i < 64; i++) {
    tag_of(i, tag);
    mcs__revcache_put(c, tag, (uint64_t)i + 1, 100, mcs__revcache_stamp(c));
  }
  int kept = 0;
  for (int i = 0; i < 64; i++) {
    tag_of(i, tag);
    if (mcs__revcache_get(c, tag, 100, 5, &gen)) {
      assert_int_equal(gen, (uint64_t)i + 1);
      kept++;
    }
  }
  assert_int_equal(kept, 16);
  for (int i = 48; i < 64; i++) { /* the last 16 written */
    tag_of(i, tag);
    assert_true(mcs__revcache_get(c, tag, 100, 5, &gen));
  }
  mcs__revcache_free(c);
}

static void login(mcs_manager *m, const char *uid, char *cookie, size_t size) {
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_user(s, uid), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, cookie, size);
  mcs_session_free(s);
}

static mcs_outcome outcome_on(mcs_manager *m, const char *cookie) {
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(m, cookie, strlen(cookie), &s), MCS_OK);
  mcs_outcome o = mcs_session_outcome(s);
  mcs_session_free(s);
  return o;
}

static mcs_manager_stats stats_of(mcs_manager *m) {
  mcs_manager_stats st;
  mcs_manager_stats_get(m, &st);
  return st;
}

static fixture *fx(void) { return fixture_new(NULL); }

static void tiny_cache(mcs_manager_config *cfg) {
  cfg->revocation_cache_entries = 16;
}

/* More users than cache entries: the cache stays bounded and answers
 * stay right (a user pushed out costs a read, nothing else). */
static void test_small_cache_stays_correct(void **state) {
  (void)state;
  fixture *f = fixture_new(tiny_cache);
  enum { USERS = 64 };
  static char cookies[USERS][512];
  char uid[16];
  for (int i = 0; i < USERS; i++) {
    snprintf(uid, sizeof uid, "user%d", i);
    login(f->mgr, uid, cookies[i], sizeof cookies[i]);
  }
  for (int i = 0; i < USERS; i += 2) {
    snprintf(uid, sizeof uid, "user%d", i);
    assert_int_equal(mcs_manager_revoke_user(f->mgr, uid), MCS_OK);
  }
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < USERS; i++)
      assert_int_equal(outcome_on(f->mgr, cookies[i]),
                       i % 2 ? MCS_SESSION_LOADED : MCS_SESSION_EXPIRED);
  assert_true(stats_of(f->mgr).revocation_reads > 0);
  fixture_free(f);
}

/* Threads loading bound sessions while another revokes (run under
 * ThreadSanitizer by `make check`): every load of a revoked user's
 * session after the revocation returned is refused (same manager: no
 * delay), the other user's sessions always load. */
enum { THREADS = 4, ROUNDS = 300 };

typedef struct worker {
  mcs_manager *mgr;
  const char *alive, *doomed;
  _Atomic int *revoked_done;
  int errors;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  for (int i = 0; i < ROUNDS; i++) {
    int done = *w->revoked_done;
    mcs_session *s = NULL;
    if (mcs_session_load(w->mgr, w->alive, strlen(w->alive), &s) != MCS_OK ||
        mcs_session_outcome(s) != MCS_SESSION_LOADED)
      w->errors++;
    mcs_session_free(s);
    s = NULL;
    if (mcs_session_load(w->mgr, w->doomed, strlen(w->doomed), &s) != MCS_OK ||
        (done && mcs_session_outcome(s) == MCS_SESSION_LOADED))
      w->errors++;
    mcs_session_free(s);
  }
  return NULL;
}

static void test_threads_share_the_cache(void **state) {
  (void)state;
  fixture *f = fx();
  char alive[512], doomed[512];
  login(f->mgr, "bob", alive, sizeof alive);
  login(f->mgr, "alice", doomed, sizeof doomed);
  _Atomic int done = 0;
  pthread_t t[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){f->mgr, alive, doomed, &done, 0};
    assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
  }
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  done = 1;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].errors, 0);
  }
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_entry_is_fresh_for_exactly_the_interval),
      cmocka_unit_test(test_older_read_never_overwrites_newer_entry),
      cmocka_unit_test(test_cache_is_bounded),
      cmocka_unit_test(test_small_cache_stays_correct),
      cmocka_unit_test(test_threads_share_the_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
