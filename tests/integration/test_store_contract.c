/*
 * The store contract (include/mcsession/store.h, docs/design.md "The
 * store contract"), one suite for every store: run as
 *
 *   test_store_contract memory | memcached | redis | redis-cluster
 *
 * it makes that store (starting the servers it needs on free loopback
 * ports, stopped by PID) and holds it to the same rules: every operation
 * and result, CAS tokens (never 0, new on every write, kept by touch and
 * by a sliding get, a cas on a deleted key is MISS), expiry and sliding,
 * values and keys at their edges, the reader's limit, and through a
 * session manager: 40 concurrent increments of one session lose nothing
 * and a destroyed session is never resurrected. A new store gets the
 * whole suite by adding a rig below. Only the public API is used.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcsession.h"
#include "rd_harness.h"

static mcs_store *store;
static char ns[32]; /* this test's key namespace: no flush between tests */
static unsigned test_no;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int setup(void **state) {
  (void)state;
  snprintf(ns, sizeof ns, "c%u:%ld:", ++test_no, (long)time(NULL));
  return 0;
}

/* The test's key for `name` (static: one at a time per call site). */
static const char *K(const char *name, char out[96]) {
  snprintf(out, 96, "%s%s", ns, name);
  return out;
}

static void put(const char *key, const char *val, uint32_t ttl) {
  mcs_store_result res;
  assert_int_equal(mcs_store_set(store, key, strlen(key), val, strlen(val), 0,
                                 ttl, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
}

/* get: the result; the value (NUL-terminated, static) and token on a hit. */
static mcs_store_result get(const char *key, uint32_t touch, const char **val,
                            uint64_t *cas) {
  static char copy[1024];
  void *data = NULL;
  size_t len = 0;
  uint32_t flags;
  uint64_t c = 0;
  mcs_store_result res = 0;
  assert_int_equal(mcs_store_get(store, key, strlen(key), touch, 1000, &data,
                                 &len, &c, &flags, &res), MCS_OK);
  if (res == MCS_STORE_HIT) {
    assert_true(len < sizeof copy);
    assert_true(c != 0); /* tokens are never 0 */
    memcpy(copy, data, len);
    copy[len] = '\0';
    if (val)
      *val = copy;
    if (cas)
      *cas = c;
  } else {
    assert_int_equal(res, MCS_STORE_MISS);
    assert_null(data);
  }
  mcs_free(data);
  return res;
}

static mcs_store_result cas(const char *key, const char *val, uint64_t token,
                            uint64_t *new_cas) {
  mcs_store_result res = 0;
  assert_int_equal(mcs_store_cas(store, key, strlen(key), val, strlen(val), 0,
                                 60, token, new_cas, &res), MCS_OK);
  return res;
}

/* ======================================================================== */
/* Operations and results                                                   */
/* ======================================================================== */

static void test_every_operation_and_result(void **state) {
  (void)state;
  char k[96];
  mcs_store_result res;
  uint64_t t1 = 0, t2 = 0, t3 = 0;
  const char bin[] = "a\r\nb\0c $-1\r\n*2";
  const char *v;
  K("k", k);
  assert_int_equal(get(k, 0, NULL, NULL), MCS_STORE_MISS);
  assert_int_equal(mcs_store_add(store, k, strlen(k), bin, sizeof bin,
                                 0xffffffffu, 60, &t1, &res), MCS_OK);
  assert_true(res == MCS_STORE_STORED && t1 != 0);
  uint64_t untouched = 7;
  assert_int_equal(mcs_store_add(store, k, strlen(k), "x", 1, 0, 60,
                                 &untouched, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_EXISTS);
  assert_int_equal(untouched, 7); /* nothing stored: no token written */
  void *data;
  size_t len;
  uint32_t flags;
  assert_int_equal(mcs_store_get(store, k, strlen(k), 30, 0, &data, &len, &t2,
                                 &flags, &res), MCS_OK);
  assert_true(res == MCS_STORE_HIT && len == sizeof bin &&
              flags == 0xffffffffu && t2 == t1);
  assert_memory_equal(data, bin, len);
  mcs_free(data);
  assert_int_equal(cas(k, "", t1, &t3), MCS_STORE_STORED);
  assert_true(t3 != 0 && t3 != t1);
  assert_int_equal(get(k, 0, &v, &t2), MCS_STORE_HIT);
  assert_true(v[0] == '\0' && t2 == t3); /* the empty value */
  assert_int_equal(mcs_store_touch(store, k, strlen(k), 60, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_TOUCHED);
  char gone[96];
  K("nope", gone);
  assert_int_equal(mcs_store_touch(store, gone, strlen(gone), 60, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(mcs_store_delete(store, k, strlen(k), &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_DELETED);
  assert_int_equal(mcs_store_delete(store, k, strlen(k), &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(get(k, 0, NULL, NULL), MCS_STORE_MISS);
}

static void test_cas_conflict_and_missing_key(void **state) {
  (void)state;
  char k[96], g[96];
  uint64_t t = 0;
  const char *v;
  put(K("c", k), "1", 60);
  assert_int_equal(get(k, 0, NULL, &t), MCS_STORE_HIT);
  put(k, "2", 60); /* another writer: the token is stale */
  assert_int_equal(cas(k, "3", t, NULL), MCS_STORE_EXISTS);
  assert_int_equal(cas(K("gone", g), "3", t, NULL), MCS_STORE_MISS);
  assert_int_equal(get(k, 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "2");
  assert_int_equal(get(g, 0, NULL, NULL), MCS_STORE_MISS); /* not created */
}

/* Every write gives a new token; touch, a sliding get and a peek keep it. */
static void test_tokens_change_on_writes_only(void **state) {
  (void)state;
  char k[96];
  uint64_t seen[8], t = 0;
  size_t n = 0;
  mcs_store_result res;
  put(K("t", k), "a", 60);
  assert_int_equal(get(k, 0, NULL, &seen[n]), MCS_STORE_HIT);
  n++;
  put(k, "a", 60); /* the same bytes again are still a write */
  assert_int_equal(get(k, 0, NULL, &seen[n]), MCS_STORE_HIT);
  n++;
  assert_int_equal(cas(k, "b", seen[n - 1], &seen[n]), MCS_STORE_STORED);
  n++;
  assert_int_equal(mcs_store_touch(store, k, strlen(k), 90, &res), MCS_OK);
  assert_int_equal(get(k, 0, NULL, &t), MCS_STORE_HIT);
  assert_true(t == seen[n - 1]);
  assert_int_equal(get(k, 120, NULL, &t), MCS_STORE_HIT); /* slides */
  assert_true(t == seen[n - 1]);
  int64_t ttl = 0;
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(mcs_store_peek(store, k, strlen(k), 0, &data, &len, &t,
                                  NULL, &ttl, &res), MCS_OK);
  assert_true(res == MCS_STORE_HIT && t == seen[n - 1]);
  mcs_free(data);
  /* The touch's token still works for a cas. */
  assert_int_equal(cas(k, "c", t, &seen[n]), MCS_STORE_STORED);
  n++;
  for (size_t i = 0; i < n; i++) {
    assert_true(seen[i] != 0);
    for (size_t j = 0; j < i; j++)
      assert_true(seen[i] != seen[j]);
  }
}

/* A deleted key's cas is MISS, never STORED: a destroyed session is never
 * written back; a key made again has a token no earlier state had. */
static void test_cas_on_deleted_key_is_miss(void **state) {
  (void)state;
  char k[96];
  uint64_t t = 0, t2 = 0;
  mcs_store_result res;
  put(K("d", k), "live", 60);
  assert_int_equal(get(k, 0, NULL, &t), MCS_STORE_HIT);
  assert_int_equal(mcs_store_delete(store, k, strlen(k), &res), MCS_OK);
  assert_int_equal(cas(k, "resurrected", t, NULL), MCS_STORE_MISS);
  assert_int_equal(get(k, 0, NULL, NULL), MCS_STORE_MISS);
  assert_int_equal(mcs_store_add(store, k, strlen(k), "new", 3, 0, 60, &t2,
                                 &res), MCS_OK);
  assert_true(res == MCS_STORE_STORED && t2 != t);
  assert_int_equal(cas(k, "resurrected", t, NULL), MCS_STORE_EXISTS);
}

/* Whole-second expiry clocks (memcached's, Redis's EX): margins of 1 s. */
static void test_expiry_and_sliding(void **state) {
  (void)state;
  char slide[96], still[96];
  uint64_t t = 0;
  mcs_store_result res;
  put(K("slide", slide), "x", 2);
  put(K("still", still), "x", 2);
  assert_int_equal(get(still, 0, NULL, &t), MCS_STORE_HIT);
  sleep_ms(1000);
  assert_int_equal(get(slide, 5, NULL, NULL), MCS_STORE_HIT);
  sleep_ms(2200);
  assert_int_equal(get(slide, 0, NULL, NULL), MCS_STORE_HIT);
  /* Expired: invisible to every operation. */
  assert_int_equal(get(still, 0, NULL, NULL), MCS_STORE_MISS);
  assert_int_equal(cas(still, "y", t, NULL), MCS_STORE_MISS);
  assert_int_equal(mcs_store_touch(store, still, strlen(still), 60, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(mcs_store_add(store, still, strlen(still), "z", 1, 0, 60,
                                 NULL, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
}

/* A peek reports what is left and slides nothing. */
static void test_peek_reads_without_touching(void **state) {
  (void)state;
  char k[96];
  mcs_store_result res;
  int64_t ttl = 0;
  void *data = NULL;
  size_t len = 0;
  put(K("p", k), "peeked", 100);
  assert_int_equal(mcs_store_peek(store, k, strlen(k), 0, &data, &len, NULL,
                                  NULL, &ttl, &res), MCS_OK);
  assert_true(res == MCS_STORE_HIT && len == 6);
  assert_memory_equal(data, "peeked", 6);
  mcs_free(data);
  assert_true(ttl == MCS_STORE_TTL_UNKNOWN || (ttl >= 98 && ttl <= 100));
  assert_int_equal(mcs_store_peek(store, k, 1, 0, &data, &len, NULL, NULL,
                                  &ttl, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS); /* ns's first byte: no such key */
}

static void test_keys_and_values_at_their_edges(void **state) {
  (void)state;
  char a[MCS_STORE_KEY_MAX + 1], b[MCS_STORE_KEY_MAX + 1], k[96];
  const char *v;
  snprintf(a, sizeof a, "%s", ns);
  size_t p = strlen(a);
  memset(a + p, 'x', MCS_STORE_KEY_MAX - p);
  a[MCS_STORE_KEY_MAX] = '\0';
  memcpy(b, a, sizeof b);
  b[MCS_STORE_KEY_MAX - 1] = 'y';
  put(a, "A", 60);
  put(b, "B", 60);
  assert_int_equal(get(a, 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "A");
  assert_int_equal(get(b, 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "B");
  /* Keys the store cannot hold never reach it. */
  mcs_store_result res;
  const char *bad[] = {"a b", "x\r\nDEL victim", "tab\tkey", "del\x7f"};
  put(K("victim", k), "alive", 60);
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(mcs_store_set(store, bad[i], strlen(bad[i]), "v", 1, 0,
                                   60, &res), MCS_EINVAL);
  assert_int_equal(get(k, 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "alive");
  /* A 64 KiB value of every byte value round trips. */
  size_t n = 65536;
  uint8_t *big = malloc(n);
  assert_non_null(big);
  for (size_t i = 0; i < n; i++)
    big[i] = (uint8_t)(i * 131u + 7);
  assert_int_equal(mcs_store_set(store, k, strlen(k), big, n, 42, 60, &res),
                   MCS_OK);
  void *data = NULL;
  size_t len = 0;
  uint32_t flags = 0;
  assert_int_equal(mcs_store_get(store, k, strlen(k), 0, n, &data, &len, NULL,
                                 &flags, &res), MCS_OK);
  assert_true(res == MCS_STORE_HIT && len == n && flags == 42);
  assert_memory_equal(data, big, n);
  mcs_free(data);
  /* Over the reader's limit: an error, never a miss; the value stays. */
  assert_int_equal(mcs_store_get(store, k, strlen(k), 0, n - 1, &data, &len,
                                 NULL, NULL, &res), MCS_ETOOBIG);
  assert_null(data);
  assert_int_equal(mcs_store_get(store, k, strlen(k), 0, n, &data, &len, NULL,
                                 NULL, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_HIT);
  mcs_free(data);
  free(big);
}

/* ======================================================================== */
/* Concurrency                                                              */
/* ======================================================================== */

#define THREADS 8
#define INCREMENTS 40 /* in all, over the threads */

typedef struct ctx {
  mcs_manager *mgr;
  const char *key;
  const char *cookie;
  atomic_int next, errors;
} ctx;

static void *store_incr(void *arg) {
  ctx *c = arg;
  while (atomic_fetch_add(&c->next, 1) < INCREMENTS) {
    for (int tries = 0;; tries++) {
      void *data = NULL;
      size_t len = 0;
      uint64_t t = 0;
      mcs_store_result res;
      char buf[32];
      if (tries > 10000 ||
          mcs_store_get(store, c->key, strlen(c->key), 0, 31, &data, &len, &t,
                        NULL, &res) != MCS_OK ||
          res != MCS_STORE_HIT) {
        atomic_fetch_add(&c->errors, 1);
        mcs_free(data);
        return NULL;
      }
      memcpy(buf, data, len);
      buf[len] = '\0';
      mcs_free(data);
      int n = snprintf(buf, sizeof buf, "%ld", strtol(buf, NULL, 10) + 1);
      if (mcs_store_cas(store, c->key, strlen(c->key), buf, (size_t)n, 0, 60,
                        t, NULL, &res) != MCS_OK) {
        atomic_fetch_add(&c->errors, 1);
        return NULL;
      }
      if (res == MCS_STORE_STORED)
        break;
    }
  }
  return NULL;
}

static void run_threads(ctx *c, void *(*fn)(void *)) {
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, fn, c), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&c->errors), 0);
}

static void test_concurrent_cas_increments_lose_nothing(void **state) {
  (void)state;
  char k[96];
  const char *v;
  ctx c = {NULL, K("ctr", k), NULL, 0, 0};
  put(k, "0", 60);
  run_threads(&c, store_incr);
  assert_int_equal(get(k, 0, &v, NULL), MCS_STORE_HIT);
  assert_int_equal(atoi(v), INCREMENTS);
}

static const char secret[] = "0123456789abcdef0123456789abcdef";

static mcs_manager *manager(mcs_keyring **keys) {
  mcs_manager_config cfg;
  mcs_manager *m = NULL;
  assert_int_equal(mcs_keyring_new(keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(*keys, 0, secret, sizeof secret - 1),
                   MCS_OK);
  mcs_manager_config_init(&cfg);
  cfg.keys = *keys;
  cfg.store = store;
  cfg.max_cas_retries = 100; /* 8 writers at once on one record */
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  return m;
}

static void cookie_of(const mcs_session *s, char *out, size_t size) {
  const char *sc = mcs_session_cookie(s, 0);
  size_t n = strcspn(sc, ";");
  assert_true(n < size);
  memcpy(out, sc, n);
  out[n] = '\0';
}

static void *session_incr(void *arg) {
  ctx *c = arg;
  while (atomic_fetch_add(&c->next, 1) < INCREMENTS) {
    mcs_session *s = NULL;
    if (mcs_session_load(c->mgr, c->cookie, strlen(c->cookie), &s) != MCS_OK ||
        mcs_session_outcome(s) != MCS_SESSION_LOADED ||
        mcs_session_incr(s, "n", 1, NULL) != MCS_OK ||
        mcs_session_save(s) != MCS_OK)
      atomic_fetch_add(&c->errors, 1);
    mcs_session_free(s);
  }
  return NULL;
}

/* 40 requests, 8 at a time, each load -> incr -> save on one session:
 * every conflict replays the increment on the newer record. */
static void test_concurrent_session_increments_lose_nothing(void **state) {
  (void)state;
  mcs_keyring *keys;
  mcs_manager *m = manager(&keys);
  mcs_session *s = NULL;
  char cookie[512];
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", 0), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_of(s, cookie, sizeof cookie);
  mcs_session_free(s);
  ctx c = {m, NULL, cookie, 0, 0};
  run_threads(&c, session_incr);
  int64_t n = -1;
  assert_int_equal(mcs_session_load(m, cookie, strlen(cookie), &s), MCS_OK);
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, INCREMENTS);
  mcs_session_free(s);
  mcs_manager_free(m);
  mcs_keyring_free(keys);
}

/* A request that loaded before a logout and saves after it gets
 * MCS_EGONE: the session stays destroyed. */
static void test_destroyed_session_is_not_resurrected(void **state) {
  (void)state;
  mcs_keyring *keys;
  mcs_manager *m = manager(&keys);
  mcs_session *s = NULL, *late = NULL;
  char cookie[512];
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_str(s, "user", "ann", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_of(s, cookie, sizeof cookie);
  mcs_session_free(s);
  assert_int_equal(mcs_session_load(m, cookie, strlen(cookie), &late), MCS_OK);
  assert_int_equal(mcs_session_load(m, cookie, strlen(cookie), &s), MCS_OK);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  assert_int_equal(mcs_session_set_str(late, "cart", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_save(late), MCS_EGONE);
  mcs_session_free(late);
  assert_int_equal(mcs_session_load(m, cookie, strlen(cookie), &s), MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  assert_false(mcs_session_has(s, "cart"));
  mcs_session_free(s);
  mcs_manager_free(m);
  mcs_keyring_free(keys);
}

/* ======================================================================== */
/* Rigs: one per store                                                      */
/* ======================================================================== */

/* Generous timeouts: the suite also runs under sanitizers. */
#define PARAMS "io_timeout_ms=5000&connect_timeout_ms=2000&pool=16"

static mc_node mc;
static rd_server rd;
static rd_cluster cl;

static int make_store(const char *kind) {
  char url[512];
  if (strcmp(kind, "memory") == 0)
    return mcs_store_memory_new(&store, NULL);
  if (strcmp(kind, "memcached") == 0) {
    if (!mc_harness_available())
      return 77;
    if (mc_node_start(&mc) != 0)
      return -1;
    snprintf(url, sizeof url, "memcached://127.0.0.1:%u?" PARAMS,
             (unsigned)mc.port);
    return mcs_store_memcached_new(&store, url);
  }
  if (!rd_harness_available())
    return 77;
  if (strcmp(kind, "redis") == 0) {
    if (rd_server_start(&rd, NULL, false) != 0)
      return -1;
    snprintf(url, sizeof url, "redis://127.0.0.1:%u?" PARAMS,
             (unsigned)rd.node.port);
    return mcs_store_redis_new(&store, url);
  }
  if (strcmp(kind, "redis-cluster") == 0) {
    if (rd_cluster_start(&cl, 3, false) != 0)
      return -1;
    rd_cluster_url(&cl, url, sizeof url, PARAMS);
    return mcs_store_redis_new(&store, url);
  }
  return -1;
}

static void stop_servers(void) {
  if (mc.pid)
    mc_node_stop(&mc);
  if (rd.node.pid) {
    mc_node_stop(&rd.node);
    rd_dir_remove(&rd);
  }
  rd_cluster_stop(&cl);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
      T(test_every_operation_and_result),
      T(test_cas_conflict_and_missing_key),
      T(test_tokens_change_on_writes_only),
      T(test_cas_on_deleted_key_is_miss),
      T(test_expiry_and_sliding),
      T(test_peek_reads_without_touching),
      T(test_keys_and_values_at_their_edges),
      T(test_concurrent_cas_increments_lose_nothing),
      T(test_concurrent_session_increments_lose_nothing),
      T(test_destroyed_session_is_not_resurrected),
#undef T
  };
  if (argc != 2) {
    fprintf(stderr, "usage: %s memory|memcached|redis|redis-cluster\n",
            argv[0]);
    return 2;
  }
  int rc = make_store(argv[1]);
  if (rc == 77) {
    fprintf(stderr, "%s: servers not installed, skipped\n", argv[1]);
    return 77;
  }
  if (rc != 0) {
    fprintf(stderr, "%s: could not start or open the store\n", argv[1]);
    stop_servers();
    return 1;
  }
  char name[64];
  snprintf(name, sizeof name, "store_contract_%s", argv[1]);
  int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
  mcs_store_free(store);
  stop_servers();
  return failed;
}
