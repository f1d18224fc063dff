/* A user's sessions under concurrency (mcsession/session.h, "A user's
 * sessions"), on the memory store through one shared manager: 16 threads
 * log the same user in and out. Each keeps up to three sessions live,
 * logs the oldest out when it has three, and lists the user's sessions
 * now and then: every session it holds live must be listed (no login
 * lost its entry to a concurrent one), none it ended before listing may
 * be. At the end the list is exactly the sessions still live. Runs again
 * under ThreadSanitizer (label `threads`). */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "test_util.h"

#define THREADS 16
#define ROUNDS 60
#define LIVE 3

typedef struct held {
  char cookie[512];
  char handle[MCS_SESSION_HANDLE_LEN + 1];
} held;

typedef struct worker {
  mcs_manager *mgr;
  int id;
  held live[LIVE];
  int nlive;
  char ended[MCS_SESSION_HANDLE_LEN + 1];
  int failures, lost, ghosts, conflicts;
} worker;

static int login(worker *w, held *h) {
  mcs_session *s = NULL;
  char label[32];
  snprintf(label, sizeof label, "thread %d", w->id);
  const char *labels[] = {label};
  int rc = mcs_session_load(w->mgr, NULL, 0, &s);
  if (rc == MCS_OK)
    rc = mcs_session_set_user_labels(s, "alice", labels, 1);
  if (rc == MCS_OK)
    rc = mcs_session_save(s);
  if (rc == MCS_OK && mcs_session_cookie_count(s) == 1) {
    const char *sc = mcs_session_cookie(s, 0);
    size_t n = strcspn(sc, ";");
    memcpy(h->cookie, sc, n);
    h->cookie[n] = '\0';
    rc = mcs_session_handle(s, h->handle);
  } else if (rc == MCS_OK) {
    rc = MCS_ESTATE;
  }
  mcs_session_free(s);
  return rc;
}

static int logout(worker *w, const held *h) {
  mcs_session *s = NULL;
  int rc = mcs_session_load(w->mgr, h->cookie, strlen(h->cookie), &s);
  if (rc == MCS_OK && mcs_session_outcome(s) != MCS_SESSION_LOADED)
    rc = MCS_EGONE;
  if (rc == MCS_OK)
    rc = mcs_session_destroy(s);
  if (rc == MCS_OK)
    rc = mcs_session_save(s);
  mcs_session_free(s);
  return rc;
}

static bool listed(const mcs_user_session *l, size_t n, const char *handle) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(l[i].handle, handle) == 0)
      return true;
  return false;
}

static void check_list(worker *w) {
  mcs_user_session *l = NULL;
  size_t n = 0;
  if (mcs_manager_list_sessions(w->mgr, "alice", &l, &n) != MCS_OK) {
    w->failures++;
    return;
  }
  for (int i = 0; i < w->nlive; i++)
    if (!listed(l, n, w->live[i].handle))
      w->lost++;
  if (w->ended[0] && listed(l, n, w->ended))
    w->ghosts++;
  mcs_free(l);
}

static void *run(void *arg) {
  worker *w = arg;
  for (int r = 0; r < ROUNDS; r++) {
    if (w->nlive == LIVE) {
      int rc = logout(w, &w->live[0]);
      if (rc != MCS_OK) {
        fprintf(stderr, "logout: %s\n", mcs_errname(rc));
        w->failures++;
      }
      memcpy(w->ended, w->live[0].handle, sizeof w->ended);
      memmove(&w->live[0], &w->live[1], (LIVE - 1) * sizeof w->live[0]);
      w->nlive--;
    }
    int rc = login(w, &w->live[w->nlive]);
    if (rc == MCS_OK)
      w->nlive++;
    else if (rc == MCS_ECONFLICT)
      w->conflicts++; /* not logged in, so not live: allowed, counted */
    else {
      fprintf(stderr, "login: %s\n", mcs_errname(rc));
      w->failures++;
    }
    if (r % 5 == 4)
      check_list(w);
  }
  return NULL;
}

static void test_sixteen_threads_log_one_user_in_and_out(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  f->clock.now = (int64_t)time(NULL);
  /* On the memory store itself: the spy counts, and keeps the last key,
   * for one thread at a time. */
  mcs_manager *mgr = fixture_manager_on(f, f->memory, NULL);
  pthread_t t[THREADS];
  static worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].mgr = mgr;
    w[i].id = i;
    assert_int_equal(pthread_create(&t[i], NULL, run, &w[i]), 0);
  }
  int live = 0, conflicts = 0;
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(w[i].failures, 0);
    assert_int_equal(w[i].lost, 0);
    assert_int_equal(w[i].ghosts, 0);
    live += w[i].nlive;
    conflicts += w[i].conflicts;
  }
  assert_true(conflicts < THREADS * ROUNDS / 10);
  mcs_user_session *l = NULL;
  size_t n = 0;
  assert_int_equal(mcs_manager_list_sessions(mgr, "alice", &l, &n), MCS_OK);
  assert_int_equal(n, (size_t)live);
  for (int i = 0; i < THREADS; i++)
    for (int j = 0; j < w[i].nlive; j++)
      assert_true(listed(l, n, w[i].live[j].handle));
  mcs_free(l);
  mcs_manager_free(mgr);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sixteen_threads_log_one_user_in_and_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
