/* Concurrent requests on one session through one shared manager and the
 * memory store: 8 threads x 1,000 separate load -> incr -> save cycles, as
 * concurrent HTTP requests would do them, must end at exactly 8,000 — no
 * increment lost to a CAS race. */
#include <pthread.h>
#include <time.h>

#include "test_util.h"

#define THREADS 8
#define ROUNDS 1000

typedef struct worker {
  mcs_manager *mgr;
  const char *cookie;
  int failures;
} worker;

static void *run(void *arg) {
  worker *w = arg;
  for (int i = 0; i < ROUNDS; i++) {
    mcs_session *s = NULL;
    int rc = mcs_session_load(w->mgr, w->cookie, strlen(w->cookie), &s);
    if (rc == MCS_OK && mcs_session_outcome(s) == MCS_SESSION_LOADED)
      rc = mcs_session_incr(s, "count", 1, NULL);
    else if (rc == MCS_OK)
      rc = MCS_EGONE;
    if (rc == MCS_OK)
      rc = mcs_session_save(s);
    if (rc)
      w->failures++;
    mcs_session_free(s);
  }
  return NULL;
}

static void more_retries(mcs_manager_config *cfg) {
  /* 8 writers on one record: each save may lose a few races in a row. */
  cfg->max_cas_retries = 1000;
}

static void test_eight_threads_incr_one_session_exactly(void **st) {
  (void)st;
  fixture *f = fixture_new(more_retries);
  f->clock.now = (int64_t)time(NULL);
  char cookie[512];
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "count", 0), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, cookie, sizeof cookie);
  mcs_session_free(s);

  pthread_t t[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){f->mgr, cookie, 0};
    assert_int_equal(pthread_create(&t[i], NULL, run, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].failures, 0);
  }
  s = load(f, cookie);
  int64_t count;
  assert_int_equal(mcs_session_get_int(s, "count", &count), MCS_OK);
  assert_int_equal(count, THREADS * ROUNDS);
  mcs_session_free(s);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.saves, THREADS * ROUNDS + 1);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eight_threads_incr_one_session_exactly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
