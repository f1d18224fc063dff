/* mcs_loop and the *_start functions without memcached: the memory store
 * (operations inline, no MCS_PENDING) and a store of the application's
 * own (the spy), whose operations run on the loop's helper thread while
 * every callback comes back to the loop's thread. The pipelined memcached
 * engine has its own tests (integration.mc_async, memcached_session). */
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "loop_util.h"

/* A load through the loop that must go pending; returns the session. */
static mcs_session *load_pending(fixture *f, mcs_loop *loop,
                                 const char *cookie) {
  cb_result r = {0};
  mcs_session *s = (mcs_session *)1;
  assert_int_equal(mcs_session_load_start(f->mgr, loop, cookie,
                                          strlen(cookie), &s, on_done, &r),
                   MCS_PENDING);
  assert_null(s);
  assert_int_equal(r.calls, 0); /* never from inside the start call */
  assert_int_equal(mcs_loop_pending(loop), 1);
  drive(loop);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.rc, MCS_OK);
  assert_true(pthread_equal(r.thread, pthread_self()));
  assert_non_null(r.s);
  return r.s;
}

static void save_pending(mcs_session *s, mcs_loop *loop, int want_rc) {
  cb_result r = {0};
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &r),
                   MCS_PENDING);
  assert_int_equal(r.calls, 0);
  drive(loop);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.rc, want_rc);
  assert_ptr_equal(r.s, s);
  assert_true(pthread_equal(r.thread, pthread_self()));
}

/* A stored session holding user=alice, saved through the loop. */
static void make_stored(fixture *f, mcs_loop *loop, char *cookie,
                        size_t size) {
  mcs_session *s = NULL;
  cb_result r = {0};
  /* No cookie: nothing to read, so the load completes at once. */
  assert_int_equal(
      mcs_session_load_start(f->mgr, loop, NULL, 0, &s, on_done, &r), MCS_OK);
  assert_non_null(s);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_NEW);
  assert_int_equal(mcs_session_set_str(s, "user", "alice", 5), MCS_OK);
  save_pending(s, loop, MCS_OK);
  cookie_header_from(s, cookie, size);
  mcs_session_free(s);
  assert_int_equal(r.calls, 0);
}

/* A fixture (spy store), a loop over it, and one stored session holding
 * user=alice whose Cookie header goes to cookie. */
static fixture *stored_rig(mcs_loop **loop, char *cookie, size_t size) {
  fixture *f = fixture_new(NULL);
  assert_int_equal(mcs_loop_new(loop, f->store), MCS_OK);
  make_stored(f, *loop, cookie, size);
  return f;
}

static void rig_free(fixture *f, mcs_loop *loop) {
  mcs_loop_free(loop);
  fixture_free(f);
}

static void test_memory_store_completes_at_once(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  cfg.keys = f->keys;
  cfg.store = f->memory;
  mcs_manager *mgr;
  assert_int_equal(mcs_manager_new(&mgr, &cfg), MCS_OK);
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, f->memory), MCS_OK);
  cb_result r = {0};
  mcs_session *s;
  assert_int_equal(mcs_session_load_start(mgr, loop, "", 0, &s, on_done, &r),
                   MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", 41), MCS_OK);
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &r), MCS_OK);
  char cookie[512];
  cookie_header_from(s, cookie, sizeof cookie);
  mcs_session_free(s);
  assert_int_equal(mcs_session_load_start(mgr, loop, cookie, strlen(cookie),
                                          &s, on_done, &r),
                   MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  int64_t n = 0;
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 41);
  mcs_session_free(s);
  assert_int_equal(r.calls, 0);
  assert_int_equal(mcs_loop_pending(loop), 0);
  assert_int_equal(mcs_loop_timeout(loop), -1);
  mcs_loop_free(loop);
  mcs_manager_free(mgr);
  fixture_free(f);
}

static void test_own_store_runs_on_helper_and_calls_back_on_loop(void **st) {
  (void)st;
  char cookie[512];
  mcs_loop *loop;
  fixture *f = stored_rig(&loop, cookie, sizeof cookie);
  assert_int_equal(f->spy.adds, 1);
  spy_reset_counts(&f->spy);

  mcs_session *s = load_pending(f, loop, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  const char *user;
  size_t len;
  assert_int_equal(mcs_session_get_str(s, "user", &user, &len), MCS_OK);
  assert_memory_equal(user, "alice", 5);
  assert_int_equal(f->spy.gets, 1);
  assert_int_equal(f->spy.get_touch_ttl, 1800); /* the read slides */

  /* Unchanged: completes at once with no store traffic. */
  cb_result r = {0};
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &r), MCS_OK);
  assert_int_equal(spy_total(&f->spy), 1);
  /* Changed: one compare-and-swap. */
  assert_int_equal(mcs_session_incr(s, "n", 3, NULL), MCS_OK);
  save_pending(s, loop, MCS_OK);
  assert_int_equal(f->spy.cases, 1);
  assert_false(mcs_session_dirty(s));
  mcs_session_free(s);

  s = load_pending(f, loop, cookie);
  int64_t n = 0;
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 3);
  mcs_session_free(s);
  rig_free(f, loop);
}

static void test_conflicting_saves_both_survive_through_loop(void **st) {
  (void)st;
  char cookie[512];
  mcs_loop *loop;
  fixture *f = stored_rig(&loop, cookie, sizeof cookie);
  mcs_session *a = load_pending(f, loop, cookie);
  mcs_session *b = load_pending(f, loop, cookie);
  assert_int_equal(mcs_session_set_str(a, "a", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_incr(a, "n", 5, NULL), MCS_OK);
  assert_int_equal(mcs_session_set_str(b, "b", "2", 1), MCS_OK);
  assert_int_equal(mcs_session_incr(b, "n", 7, NULL), MCS_OK);
  /* Both in flight at once; b's CAS conflicts and is replayed. */
  cb_result ra = {0}, rb = {0};
  assert_int_equal(mcs_session_save_start(a, loop, on_done, &ra),
                   MCS_PENDING);
  assert_int_equal(mcs_session_save_start(b, loop, on_done, &rb),
                   MCS_PENDING);
  assert_int_equal(mcs_loop_pending(loop), 2);
  drive(loop);
  assert_int_equal(ra.rc, MCS_OK);
  assert_int_equal(rb.rc, MCS_OK);
  mcs_session_free(a);
  mcs_session_free(b);
  mcs_session *s = load_pending(f, loop, cookie);
  int64_t n = 0;
  assert_true(mcs_session_has(s, "a"));
  assert_true(mcs_session_has(s, "b"));
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 12);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.cas_retries, 1);
  mcs_session_free(s);
  rig_free(f, loop);
}

static void test_store_error_reaches_the_callback(void **st) {
  (void)st;
  char cookie[512];
  mcs_loop *loop;
  fixture *f = stored_rig(&loop, cookie, sizeof cookie);
  mcs_session *s = load_pending(f, loop, cookie);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  f->spy.fail_all = MCS_ESTORE;
  save_pending(s, loop, MCS_ESTORE);
  assert_true(mcs_session_dirty(s)); /* nothing lost: it can be saved again */
  assert_int_equal(mcs_session_cookie_count(s), 0);
  cb_result r = {0};
  mcs_session *s2 = NULL;
  assert_int_equal(mcs_session_load_start(f->mgr, loop, cookie,
                                          strlen(cookie), &s2, on_done, &r),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(r.rc, MCS_ESTORE);
  assert_null(r.s);
  f->spy.fail_all = 0;
  save_pending(s, loop, MCS_OK);
  mcs_session_free(s);
  rig_free(f, loop);
}

static void test_forged_and_absent_cookies_complete_at_once(void **st) {
  (void)st;
  char cookie[512];
  mcs_loop *loop;
  fixture *f = stored_rig(&loop, cookie, sizeof cookie);
  spy_reset_counts(&f->spy);
  cookie[strlen(cookie) - 1] ^= 1; /* the signature's last hex digit */
  cb_result r = {0};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(f->mgr, loop, cookie,
                                          strlen(cookie), &s, on_done, &r),
                   MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  assert_int_equal(mcs_session_load_start(f->mgr, loop, "theme=dark", 10, &s,
                                          on_done, &r),
                   MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_NEW);
  /* A new session with no data stores nothing. */
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &r), MCS_OK);
  mcs_session_free(s);
  assert_int_equal(spy_total(&f->spy), 0);
  assert_int_equal(r.calls, 0);
  rig_free(f, loop);
}

static void test_destroy_and_regenerate_through_loop(void **st) {
  (void)st;
  char cookie[512], fresh[512];
  mcs_loop *loop;
  fixture *f = stored_rig(&loop, cookie, sizeof cookie);
  mcs_session *s = load_pending(f, loop, cookie);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  save_pending(s, loop, MCS_OK);
  cookie_header_from(s, fresh, sizeof fresh);
  assert_string_not_equal(cookie, fresh);
  mcs_session_free(s);
  /* The old cookie, through the loop: the retired snapshot, read-only
   * (putting its expiry back runs on the helper thread). */
  s = load_pending(f, loop, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_true(mcs_session_has(s, "user"));
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_ERETIRED);
  assert_int_equal(mcs_session_destroy(s), MCS_ERETIRED);
  cb_result r = {0};
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &r), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  mcs_session_free(s);
  s = load_pending(f, loop, fresh);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_true(mcs_session_has(s, "user"));
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  save_pending(s, loop, MCS_OK);
  mcs_session_free(s);
  s = load_pending(f, loop, fresh);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  rig_free(f, loop);
}

typedef struct work_probe {
  pthread_t worker, finisher;
  int worked, finished;
} work_probe;

static void probe_work(void *ud) {
  work_probe *p = ud;
  p->worker = pthread_self();
  p->worked++;
}

static void probe_done(void *ud) {
  work_probe *p = ud;
  p->finisher = pthread_self();
  p->finished++;
}

static void test_queued_work_runs_off_loop_then_back(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, f->store), MCS_OK);
  work_probe p[3] = {0};
  for (int i = 0; i < 3; i++)
    assert_int_equal(mcs_loop_queue_work(loop, probe_work, probe_done, &p[i]),
                     MCS_OK);
  assert_int_equal(mcs_loop_pending(loop), 3);
  drive(loop);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(p[i].worked, 1);
    assert_int_equal(p[i].finished, 1);
    assert_false(pthread_equal(p[i].worker, pthread_self()));
    assert_true(pthread_equal(p[i].finisher, pthread_self()));
  }
  assert_int_equal(mcs_loop_queue_work(loop, NULL, probe_done, &p[0]),
                   MCS_EINVAL);
  assert_int_equal(mcs_loop_queue_work(loop, probe_work, NULL, &p[0]),
                   MCS_EINVAL);
  rig_free(f, loop);
}

static void test_free_runs_the_callbacks_still_due(void **st) {
  (void)st;
  char cookie[512];
  mcs_loop *loop;
  fixture *f = stored_rig(&loop, cookie, sizeof cookie);
  cb_result r = {0};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(f->mgr, loop, cookie,
                                          strlen(cookie), &s, on_done, &r),
                   MCS_PENDING);
  mcs_loop_free(loop);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.rc, MCS_OK);
  mcs_session_free(r.s);
  fixture_free(f);
}

static void test_bad_arguments_are_refused(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_loop *loop, *other;
  cb_result r = {0};
  mcs_session *s;
  assert_int_equal(mcs_loop_new(NULL, f->store), MCS_EINVAL);
  assert_int_equal(mcs_loop_new(&loop, NULL), MCS_EINVAL);
  assert_null(loop);
  assert_int_equal(mcs_loop_new(&loop, f->store), MCS_OK);
  assert_int_equal(mcs_loop_new(&other, f->memory), MCS_OK);
  assert_int_equal(
      mcs_session_load_start(f->mgr, loop, NULL, 0, NULL, on_done, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_session_load_start(f->mgr, loop, NULL, 0, &s, NULL, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_session_load_start(f->mgr, NULL, NULL, 0, &s, on_done, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_session_load_start(f->mgr, loop, NULL, 3, &s, on_done, &r),
      MCS_EINVAL);
  /* A loop over another store than the manager's. */
  assert_int_equal(
      mcs_session_load_start(f->mgr, other, NULL, 0, &s, on_done, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_session_load_start(f->mgr, loop, NULL, 0, &s, on_done, &r),
      MCS_OK);
  assert_int_equal(mcs_session_save_start(s, other, on_done, &r), MCS_EINVAL);
  assert_int_equal(mcs_session_save_start(s, loop, NULL, &r), MCS_EINVAL);
  assert_int_equal(mcs_session_save_start(NULL, loop, on_done, &r),
                   MCS_EINVAL);
  mcs_session_free(s);
  assert_int_equal(r.calls, 0);
  assert_int_equal(mcs_loop_fd(NULL), -1);
  assert_int_equal(mcs_loop_run(NULL), 0);
  assert_int_equal(mcs_loop_pending(NULL), 0);
  mcs_loop_free(NULL);
  mcs_loop_free(other);
  rig_free(f, loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_store_completes_at_once),
      cmocka_unit_test(test_own_store_runs_on_helper_and_calls_back_on_loop),
      cmocka_unit_test(test_conflicting_saves_both_survive_through_loop),
      cmocka_unit_test(test_store_error_reaches_the_callback),
      cmocka_unit_test(test_forged_and_absent_cookies_complete_at_once),
      cmocka_unit_test(test_destroy_and_regenerate_through_loop),
      cmocka_unit_test(test_queued_work_runs_off_loop_then_back),
      cmocka_unit_test(test_free_runs_the_callbacks_still_due),
      cmocka_unit_test(test_bad_arguments_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
