/* Every pthread_mutex_init / pthread_cond_init in the library may fail
 * (glibc's never do; other libcs' may): whatever was being made must then
 * fail with MCS_ENOMEM, leaving no memory and no mutex behind. The test is
 * linked with -Wl,--wrap for those functions (tests/CMakeLists.txt), so the
 * library's calls land in the __wrap_ functions below, which fail the Nth
 * call on demand and count what is live. Covered: the caches' striped
 * locks (cache/ways.c, revcache.c), the memory store's shards, the
 * memcached store's pools, and a manager that makes all of them. */
#include <errno.h>
#include <pthread.h>

#include "cache/cache_int.h"
#include "cache/ways.h"
#include "test_util.h"

int __real_pthread_mutex_init(pthread_mutex_t *m,
                              const pthread_mutexattr_t *attr);
int __real_pthread_mutex_destroy(pthread_mutex_t *m);
int __real_pthread_cond_init(pthread_cond_t *cv,
                             const pthread_condattr_t *attr);
int __real_pthread_cond_destroy(pthread_cond_t *cv);
int __wrap_pthread_mutex_init(pthread_mutex_t *m,
                              const pthread_mutexattr_t *attr);
int __wrap_pthread_mutex_destroy(pthread_mutex_t *m);
int __wrap_pthread_cond_init(pthread_cond_t *cv,
                             const pthread_condattr_t *attr);
int __wrap_pthread_cond_destroy(pthread_cond_t *cv);

static long fail_at;     /* the init call to fail (1: the first), 0: none */
static long inits;       /* init calls since arm() */
static long live_locks;  /* mutexes and condition variables made, not yet
                            destroyed */
static long live_allocs; /* allocations through the library's hook */

static int should_fail(void) { return ++inits == fail_at; }

/* Counts a lock that an init made. */
static int made(int rc) {
  live_locks += rc == 0;
  return rc;
}

int __wrap_pthread_mutex_init(pthread_mutex_t *m,
                              const pthread_mutexattr_t *attr) {
  return should_fail() ? EAGAIN : made(__real_pthread_mutex_init(m, attr));
}

int __wrap_pthread_mutex_destroy(pthread_mutex_t *m) {
  live_locks--;
  return __real_pthread_mutex_destroy(m);
}

int __wrap_pthread_cond_init(pthread_cond_t *cv,
                             const pthread_condattr_t *attr) {
  return should_fail() ? ENOMEM : made(__real_pthread_cond_init(cv, attr));
}

int __wrap_pthread_cond_destroy(pthread_cond_t *cv) {
  live_locks--;
  return __real_pthread_cond_destroy(cv);
}

static void *count_malloc(size_t n) {
  void *p = malloc(n);
  live_allocs += p != NULL;
  return p;
}
static void *count_calloc(size_t n, size_t m) {
  void *p = calloc(n, m);
  live_allocs += p != NULL;
  return p;
}
static void *count_realloc(void *old, size_t n) {
  void *p = realloc(old, n);
  live_allocs += old == NULL && p != NULL;
  return p;
}
static void count_free(void *p) {
  live_allocs -= p != NULL;
  free(p);
}

static int setup(void **st) {
  (void)st;
  return mcs_replace_allocator(count_malloc, count_realloc, count_calloc,
                               count_free);
}

static int teardown(void **st) {
  (void)st;
  return mcs_replace_allocator(malloc, realloc, calloc, free);
}

static void arm(long n) {
  fail_at = n;
  inits = 0;
}

/* Makes something with the Nth init failing, for every N until making it
 * takes no failure at all: each failure must give MCS_ENOMEM and leave
 * nothing live; the success is freed and must leave nothing live either.
 * Returns how many inits the success took. */
static long each_failure(int (*make)(void **out), void (*unmake)(void *)) {
  long locks0 = live_locks, allocs0 = live_allocs;
  for (long n = 1;; n++) {
    void *obj = NULL;
    arm(n);
    int rc = make(&obj);
    long used = inits;
    arm(0);
    if (rc == MCS_OK) {
      assert_true(used < n); /* no init was left to fail */
      unmake(obj);
      assert_int_equal(live_locks, locks0);
      assert_int_equal(live_allocs, allocs0);
      return used;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_null(obj);
    assert_int_equal(live_locks, locks0);
    assert_int_equal(live_allocs, allocs0);
  }
}

static int make_idcache(void **out) {
  return mcs__idcache_new(100, (mcs__idcache **)out);
}
static void free_idcache(void *c) { mcs__idcache_free(c); }

static int make_rcache(void **out) {
  return mcs__rcache_new(100, (mcs__rcache **)out);
}
static void free_rcache(void *c) { mcs__rcache_free(c); }

static int make_revcache(void **out) {
  return mcs__revcache_new(100, (mcs__revcache **)out);
}
static void free_revcache(void *c) { mcs__revcache_free(c); }

static int make_memory_store(void **out) {
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.shards = 8;
  return mcs_store_memory_new((mcs_store **)out, &cfg);
}
static void free_store(void *s) { mcs_store_free(s); }

/* Two pools, each a mutex and a condition variable; nothing connects. */
static int make_memcached_store(void **out) {
  return mcs_store_memcached_new((mcs_store **)out,
                                 "memcached://127.0.0.1:1,127.0.0.1:2");
}

/* A loop over a store made beforehand: its mutex and condition variable. */
static mcs_store *loop_store;
static int make_loop(void **out) {
  return mcs_loop_new((mcs_loop **)out, loop_store);
}
static void free_loop(void *l) { mcs_loop_free(l); }

static mcs_keyring *keys;

/* A manager over its own memory store, every cache on. */
static int make_manager(void **out) {
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  cfg.keys = keys;
  cfg.cookie_cache_entries = 64;
  cfg.decode_cache_entries = 64;
  return mcs_manager_new((mcs_manager **)out, &cfg);
}
static void free_manager(void *m) { mcs_manager_free(m); }

static void test_locks_all_or_none(void **st) {
  (void)st;
  pthread_mutex_t locks[8];
  long locks0 = live_locks;
  for (long n = 1; n <= 8; n++) {
    arm(n);
    assert_int_equal(mcs__locks_init(locks, 8), MCS_ENOMEM);
    assert_int_equal(live_locks, locks0);
  }
  arm(0);
  assert_int_equal(mcs__locks_init(locks, 8), MCS_OK);
  assert_int_equal(live_locks, locks0 + 8);
  mcs__locks_destroy(locks, 8);
  assert_int_equal(live_locks, locks0);
}

static void test_caches(void **st) {
  (void)st;
  assert_int_equal(each_failure(make_idcache, free_idcache), MCS__WAYS_LOCKS);
  assert_int_equal(each_failure(make_rcache, free_rcache), MCS__WAYS_LOCKS);
  assert_true(each_failure(make_revcache, free_revcache) > 0);
}

static void test_stores(void **st) {
  (void)st;
  assert_int_equal(each_failure(make_memory_store, free_store), 8);
  assert_int_equal(each_failure(make_memcached_store, free_store), 4);
}

static void test_loop(void **st) {
  (void)st;
  assert_int_equal(teardown(NULL), 0); /* the store outlives the counts */
  assert_int_equal(mcs_store_memory_new(&loop_store, NULL), MCS_OK);
  assert_int_equal(setup(NULL), 0);
  assert_int_equal(each_failure(make_loop, free_loop), 2);
  assert_int_equal(teardown(NULL), 0);
  mcs_store_free(loop_store);
  assert_int_equal(setup(NULL), 0);
}

static void test_manager(void **st) {
  (void)st;
  assert_int_equal(teardown(NULL), 0); /* the key ring outlives the counts */
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  assert_int_equal(
      mcs_keyring_add(keys, 0, test_secret, sizeof test_secret - 1), MCS_OK);
  assert_int_equal(setup(NULL), 0);
  /* Its store's shards and three caches' locks. */
  assert_true(each_failure(make_manager, free_manager) > 3 * MCS__WAYS_LOCKS);
  assert_int_equal(teardown(NULL), 0);
  mcs_keyring_free(keys);
  assert_int_equal(setup(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_locks_all_or_none),
      cmocka_unit_test(test_caches),
      cmocka_unit_test(test_stores),
      cmocka_unit_test(test_loop),
      cmocka_unit_test(test_manager),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
