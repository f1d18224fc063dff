/*
 * Many threads on one key through one shared memcached store: 16 threads
 * x 100 increments must end at exactly 1,600, whether each increment is a
 * raw get + cas on the store or a whole request (load -> incr -> save)
 * through one shared session manager, with and without replicas. Also
 * run under ThreadSanitizer by `make check` (label `threads`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "mc_testutil.h"

#define THREADS 16
#define ROUNDS 100
/* Sanitizers slow everything down: timeouts only bound a hang. */
#define PARAMS "io_timeout_ms=10000&connect_timeout_ms=5000&pool=16"

static mc_node node[2];
static mc_node *both[2] = {&node[0], &node[1]};

static int flush_nodes(void **state) {
  (void)state;
  return mc_node_flush(&node[0]) || mc_node_flush(&node[1]);
}

typedef struct ctx {
  mcs_store *store;
  mcs_manager *mgr;
  const char *cookie;
  atomic_int errors;
} ctx;

static void run_threads(ctx *c, void *(*fn)(void *)) {
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, fn, c), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&c->errors), 0);
}

/* ---- Raw store: get + cas until the cas wins ---- */

static int store_incr_once(mcs_store *s) {
  for (int tries = 0; tries < 10000; tries++) {
    void *data = NULL;
    size_t len;
    uint64_t cas;
    mcs_store_result res;
    char buf[32];
    int rc = mcs_store_get(s, "ctr", 3, 0, 31, &data, &len, &cas, NULL, &res);
    if (rc || res != MCS_STORE_HIT)
      return -1;
    memcpy(buf, data, len);
    buf[len] = '\0';
    mcs_free(data);
    int n = snprintf(buf, sizeof buf, "%ld", strtol(buf, NULL, 10) + 1);
    rc = mcs_store_cas(s, "ctr", 3, buf, (size_t)n, 0, 600, cas, NULL, &res);
    if (rc)
      return -1;
    if (res == MCS_STORE_STORED)
      return 0;
    if (res != MCS_STORE_EXISTS)
      return -1;
  }
  return -1;
}

static void *store_worker(void *arg) {
  ctx *c = arg;
  for (int i = 0; i < ROUNDS; i++)
    if (store_incr_once(c->store) != 0)
      atomic_fetch_add(&c->errors, 1);
  return NULL;
}

static void store_increments(const char *params) {
  ctx c = {mt_store(both, 2, params), NULL, NULL, 0};
  put(c.store, "ctr", "0", 600);
  run_threads(&c, store_worker);
  const char *v;
  assert_int_equal(get(c.store, "ctr", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "1600");
  assert_true(stats_of(c.store).connects <= 2 * 16);
  mcs_store_free(c.store);
}

static void test_threads_store_cas_increments(void **state) {
  (void)state;
  store_increments(PARAMS);
}

static void test_threads_store_cas_increments_replicas(void **state) {
  (void)state;
  store_increments(PARAMS "&replicas=1");
}

/* ---- Sessions: one request per increment through a shared manager ---- */

static void *session_worker(void *arg) {
  ctx *c = arg;
  for (int i = 0; i < ROUNDS; i++) {
    mcs_session *s = NULL;
    int rc = mcs_session_load(c->mgr, c->cookie, strlen(c->cookie), &s);
    if (rc == MCS_OK && mcs_session_outcome(s) != MCS_SESSION_LOADED)
      rc = MCS_EGONE;
    if (rc == MCS_OK)
      rc = mcs_session_incr(s, "n", 1, NULL);
    if (rc == MCS_OK)
      rc = mcs_session_save(s);
    if (rc) {
      fprintf(stderr, "request failed: %s\n", mcs_errname(rc));
      atomic_fetch_add(&c->errors, 1);
    }
    mcs_session_free(s);
  }
  return NULL;
}

static void many_retries(mcs_manager_config *cfg) {
  /* 16 writers on one record: a save may lose many races in a row. */
  cfg->max_cas_retries = 10000;
}

static void session_increments(const char *params) {
  char cookie[512];
  mcs_store *st = mt_store(both, 2, params);
  mt_mgr m = mt_mgr_new(st, many_retries);
  mt_new_session(&m, 0, cookie, sizeof cookie);
  ctx c = {st, m.mgr, cookie, 0};
  int64_t t0 = mcs__mc_now_ms();
  run_threads(&c, session_worker);
  mcs_manager_stats ms = mt_mgr_stats(&m);
  fprintf(stderr, "figure: %s: %d requests in %lld ms, %llu CAS retries\n",
          params, THREADS * ROUNDS, (long long)(mcs__mc_now_ms() - t0),
          (unsigned long long)ms.cas_retries);
  assert_int_equal(mt_read_n(&m, cookie, NULL), THREADS * ROUNDS);
  assert_int_equal(ms.saves, THREADS * ROUNDS + 1);
  assert_int_equal(ms.store_errors, 0);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void test_threads_session_increments(void **state) {
  (void)state;
  session_increments(PARAMS);
}

static void test_threads_session_increments_replicas(void **state) {
  (void)state;
  session_increments(PARAMS "&replicas=1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, flush_nodes)
      T(test_threads_store_cas_increments),
      T(test_threads_store_cas_increments_replicas),
      T(test_threads_session_increments),
      T(test_threads_session_increments_replicas),
#undef T
  };
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not found: skipped\n");
    return 77;
  }
  if (mc_node_start(&node[0]) != 0 || mc_node_start(&node[1]) != 0) {
    fprintf(stderr, "could not start memcached\n");
    mc_node_stop(&node[0]);
    return 1;
  }
  int failed =
      cmocka_run_group_tests_name("memcached_threads", tests, NULL, NULL);
  mc_node_stop(&node[0]);
  mc_node_stop(&node[1]);
  return failed;
}
