/* The memory store, through the public mcs_store_* wrappers: memcached
 * semantics, CAS tokens, TTLs on a fake clock, LRU eviction, size limits,
 * accounting, table growth, concurrency and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "session/session_int.h"

#define TTL 3600u

/* ---- Fault-injecting allocator --------------------------------------------
 * Installed once in main. Disarmed it forwards to libc; armed with N it
 * fails the Nth allocation counted from arming (and, when `sticky`, every
 * later one too). */
static _Atomic long alloc_count;
static _Atomic long fail_at;      /* 0: disarmed */
static _Atomic int fail_sticky;
static _Atomic int fail_calloc;   /* fail every calloc (table growth) */

static int should_fail(void) {
  long at = atomic_load(&fail_at);
  if (at == 0)
    return 0;
  long n = atomic_fetch_add(&alloc_count, 1) + 1;
  return n == at || (atomic_load(&fail_sticky) && n > at);
}

static void *fi_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *fi_realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n);
}
static void *fi_calloc(size_t n, size_t m) {
  if (atomic_load(&fail_calloc) || should_fail())
    return NULL;
  return calloc(n, m);
}

static void arm(long n, int sticky) {
  atomic_store(&alloc_count, 0);
  atomic_store(&fail_sticky, sticky);
  atomic_store(&fail_at, n);
}

static void disarm(void) {
  atomic_store(&fail_at, 0);
  atomic_store(&fail_calloc, 0);
}

/* ---- Helpers ------------------------------------------------------------ */

static int64_t fake_clock(void *ud) { return *(const int64_t *)ud; }

/* Deterministic pseudo-random numbers (Marsaglia's xorshift32). */
static uint32_t xorshift(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

static mcs_store *new_store(const mcs_memory_config *cfg) {
  mcs_store *s = NULL;
  assert_int_equal(mcs_store_memory_new(&s, cfg), MCS_OK);
  assert_non_null(s);
  return s;
}

/* One shard, 64 KiB, and a fake clock starting at *now. */
static mcs_store *small_store(int64_t *now, size_t max_item) {
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.max_bytes = 64 * 1024;
  cfg.shards = 1;
  cfg.max_item_bytes = max_item;
  cfg.clock = fake_clock;
  cfg.clock_ud = now;
  return new_store(&cfg);
}

static mcs_memory_stats stats_of(mcs_store *s) {
  mcs_memory_stats st;
  assert_int_equal(mcs_store_memory_stats_get(s, &st), MCS_OK);
  return st;
}

static mcs_store_result set_ttl(mcs_store *s, const char *key,
                                const char *val, uint32_t ttl) {
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_set(s, key, strlen(key), val, strlen(val), 0, ttl, &r),
      MCS_OK);
  return r;
}

static void put(mcs_store *s, const char *key, const char *val) {
  assert_int_equal(set_ttl(s, key, val, TTL), MCS_STORE_STORED);
}

/* Reads key; on a hit checks the value is `want` (NULL: expect a miss). */
static uint64_t want_value(mcs_store *s, const char *key,
                             const char *want) {
  void *data = NULL;
  size_t len = 0;
  uint64_t cas = 0;
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_get(s, key, strlen(key), 0, 0, &data, &len,
                                 &cas, NULL, &r),
                   MCS_OK);
  if (!want) {
    assert_int_equal(r, MCS_STORE_MISS);
    assert_null(data);
    return 0;
  }
  assert_int_equal(r, MCS_STORE_HIT);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(data, want, len);
  assert_int_not_equal(cas, 0);
  mcs_free(data);
  return cas;
}

static void want_miss(mcs_store *s, const char *key) {
  want_value(s, key, NULL);
}

static mcs_store_result touch(mcs_store *s, const char *key, uint32_t ttl) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_touch(s, key, strlen(key), ttl, &r), MCS_OK);
  return r;
}

static mcs_store_result del(mcs_store *s, const char *key) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_delete(s, key, strlen(key), &r), MCS_OK);
  return r;
}

static mcs_store_result cas_str(mcs_store *s, const char *key,
                                const char *val, uint64_t cas,
                                uint64_t *new_cas) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_cas(s, key, strlen(key), val, strlen(val), 0,
                                 TTL, cas, new_cas, &r),
                   MCS_OK);
  return r;
}

static mcs_store_result add_str(mcs_store *s, const char *key,
                                const char *val, uint64_t *cas) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_add(s, key, strlen(key), val, strlen(val), 0,
                                 TTL, cas, &r),
                   MCS_OK);
  return r;
}

/* ---- Config ------------------------------------------------------------- */

static void test_memory_config_init_sets_documented_defaults(void **st) {
  (void)st;
  mcs_memory_config cfg;
  memset(&cfg, 0xa5, sizeof cfg);
  mcs_memory_config_init(&cfg);
  assert_int_equal(cfg.max_bytes, 64u << 20);
  assert_int_equal(cfg.shards, 16);
  assert_int_equal(cfg.max_item_bytes, 1u << 20);
  assert_null(cfg.clock);
  assert_null(cfg.clock_ud);
  mcs_memory_config_init(NULL); /* harmless */
}

static void test_memory_new_accepts_null_config_as_defaults(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  want_value(s, "k", "v");
  mcs_store_free(s);
}

static int try_config(size_t max_bytes, unsigned shards, size_t max_item) {
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.max_bytes = max_bytes;
  cfg.shards = shards;
  cfg.max_item_bytes = max_item;
  mcs_store *s = (mcs_store *)&cfg; /* must be reset to NULL on failure */
  int rc = mcs_store_memory_new(&s, &cfg);
  if (rc != MCS_OK)
    assert_null(s);
  mcs_store_free(s);
  return rc;
}

static void test_memory_new_rejects_invalid_configs(void **st) {
  (void)st;
  const size_t K = 1024;
  assert_int_equal(try_config(64 * K - 1, 1, 1024), MCS_EINVAL);
  assert_int_equal(try_config(64 * K, 1, 1024), MCS_OK);
  assert_int_equal(try_config(64 * K, 16, 4 * K), MCS_OK);
  assert_int_equal(try_config(1024 * K, 0, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 3, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 24, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 512, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 256, 1024), MCS_OK);
  /* Shards under 4 KiB each. */
  assert_int_equal(try_config(64 * K, 32, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K - 1, 256, 1024), MCS_EINVAL);
  /* max_item_bytes must be 1 .. max_bytes / shards. */
  assert_int_equal(try_config(64 * K, 1, 0), MCS_EINVAL);
  assert_int_equal(try_config(64 * K, 1, 1), MCS_OK);
  assert_int_equal(try_config(64 * K, 1, 64 * K), MCS_OK);
  assert_int_equal(try_config(64 * K, 1, 64 * K + 1), MCS_EINVAL);
  assert_int_equal(try_config(64 * K, 16, 1u << 20), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_new(NULL, NULL), MCS_EINVAL);
}

/* ---- Operations --------------------------------------------------------- */

static void test_memory_get_misses_absent_key(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  want_miss(s, "nothing");
  mcs_store_free(s);
}

static void test_memory_set_then_get_returns_value_flags_and_cas(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_set(s, "k", 1, "hello", 5, 0xdeadbeef, TTL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_STORED);
  void *data = NULL;
  size_t len = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;
  assert_int_equal(
      mcs_store_get(s, "k", 1, 0, 0, &data, &len, &cas, &flags, &r), MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "hello", 5);
  assert_int_equal(flags, 0xdeadbeef);
  assert_int_not_equal(cas, 0);
  mcs_free(data);
  mcs_store_free(s);
}

static void test_memory_set_overwrites_existing_value(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "one");
  put(s, "k", "two");
  want_value(s, "k", "two");
  assert_int_equal(stats_of(s).items, 1);
  mcs_store_free(s);
}

static void test_memory_empty_value_round_trips(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "empty", "");
  want_value(s, "empty", "");
  mcs_store_free(s);
}

static void test_memory_keys_differing_in_one_byte_are_distinct(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  char a[MCS_STORE_KEY_MAX + 1], b[MCS_STORE_KEY_MAX + 1];
  memset(a, 'x', MCS_STORE_KEY_MAX);
  a[MCS_STORE_KEY_MAX] = '\0';
  memcpy(b, a, sizeof b);
  b[MCS_STORE_KEY_MAX - 1] = 'y';
  put(s, a, "A");
  put(s, b, "B");
  put(s, "x", "short");
  want_value(s, a, "A");
  want_value(s, b, "B");
  want_value(s, "x", "short");
  want_miss(s, "xx");
  mcs_store_free(s);
}

static void test_memory_add_stores_only_when_absent(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  uint64_t cas = 0;
  assert_int_equal(add_str(s, "k", "first", &cas), MCS_STORE_STORED);
  assert_int_not_equal(cas, 0);
  assert_int_equal(want_value(s, "k", "first"), cas);
  uint64_t other = 0;
  assert_int_equal(add_str(s, "k", "second", &other), MCS_STORE_EXISTS);
  assert_int_equal(other, 0); /* untouched when nothing was stored */
  want_value(s, "k", "first");
  assert_int_equal(add_str(s, "k2", "x", NULL), MCS_STORE_STORED);
  mcs_store_free(s);
}

static void test_memory_cas_stores_only_with_current_token(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v1");
  uint64_t c1 = want_value(s, "k", "v1");
  uint64_t c2 = 0;
  assert_int_equal(cas_str(s, "k", "v2", c1, &c2), MCS_STORE_STORED);
  assert_int_not_equal(c2, 0);
  assert_int_not_equal(c2, c1);
  assert_int_equal(want_value(s, "k", "v2"), c2);
  /* The token read before the write is stale now. */
  assert_int_equal(cas_str(s, "k", "v3", c1, NULL), MCS_STORE_EXISTS);
  want_value(s, "k", "v2");
  assert_int_equal(cas_str(s, "k", "v3", c2, NULL), MCS_STORE_STORED);
  want_value(s, "k", "v3");
  mcs_store_free(s);
}

static void test_memory_cas_misses_absent_key(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  assert_int_equal(cas_str(s, "nope", "v", 1, NULL), MCS_STORE_MISS);
  put(s, "k", "v");
  uint64_t c = want_value(s, "k", "v");
  assert_int_equal(del(s, "k"), MCS_STORE_DELETED);
  assert_int_equal(cas_str(s, "k", "v2", c, NULL), MCS_STORE_MISS);
  want_miss(s, "k");
  mcs_store_free(s);
}

static void test_memory_delete_removes_then_misses(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  assert_int_equal(del(s, "k"), MCS_STORE_DELETED);
  want_miss(s, "k");
  assert_int_equal(del(s, "k"), MCS_STORE_MISS);
  assert_int_equal(stats_of(s).items, 0);
  mcs_store_free(s);
}

static void test_memory_touch_hits_present_and_misses_absent(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  assert_int_equal(touch(s, "k", 10), MCS_STORE_TOUCHED);
  assert_int_equal(touch(s, "absent", 10), MCS_STORE_MISS);
  want_value(s, "k", "v");
  mcs_store_free(s);
}

static void test_memory_cas_token_changes_on_every_write(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  enum { N = 1000 };
  uint64_t *seen = calloc(N + 3, sizeof *seen);
  assert_non_null(seen);
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    char v[32];
    snprintf(v, sizeof v, "v%d", i);
    put(s, i % 2 ? "a" : "b", v);
    seen[n++] = want_value(s, i % 2 ? "a" : "b", v);
  }
  uint64_t c = seen[n - 1]; /* the last write (i = N - 1) went to "a" */
  assert_int_equal(cas_str(s, "a", "x", c, &seen[n]), MCS_STORE_STORED);
  n++;
  assert_int_equal(del(s, "a"), MCS_STORE_DELETED);
  assert_int_equal(add_str(s, "a", "y", &seen[n]), MCS_STORE_STORED);
  n++;
  for (size_t i = 0; i < n; i++) {
    assert_int_not_equal(seen[i], 0);
    for (size_t j = 0; j < i; j++)
      assert_int_not_equal(seen[i], seen[j]);
  }
  free(seen);
  mcs_store_free(s);
}

static void test_memory_touch_keeps_cas_token(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  uint64_t c = want_value(s, "k", "v");
  assert_int_equal(touch(s, "k", 100), MCS_STORE_TOUCHED);
  void *data = NULL;
  size_t len;
  uint64_t c2 = 0;
  mcs_store_result r;
  assert_int_equal(
      mcs_store_get(s, "k", 1, 100, 0, &data, &len, &c2, NULL, &r), MCS_OK);
  mcs_free(data);
  assert_int_equal(c2, c);
  /* So a read-and-touch followed by cas succeeds, as sessions need. */
  assert_int_equal(cas_str(s, "k", "v2", c, NULL), MCS_STORE_STORED);
  mcs_store_free(s);
}

static void test_memory_get_value_larger_than_caller_limit(void **st) {
  (void)st;
  int64_t now = 1000;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "0123456789", 10), MCS_STORE_STORED);
  void *data = NULL;
  size_t len = 0;
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_get(s, "k", 1, 100, 4, &data, &len, NULL, NULL, &r),
      MCS_ETOOBIG);
  assert_null(data);
  /* The failed get-and-touch did not extend the expiry. */
  now = 1010;
  want_miss(s, "k");
  mcs_store_free(s);
}

/* The manager calls ops.get directly with a buffer it keeps: a hit must
 * reuse that buffer rather than allocate. */
static void test_memory_get_reuses_caller_buffer(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  char big[300];
  memset(big, 'q', sizeof big);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(s, "k", 1, big, sizeof big, 7, TTL, &r),
                   MCS_OK);
  mcs_store_value v = {MCS__BUF_INIT, 0};
  uint64_t cas = 0;
  uint32_t flags = 0;
  assert_int_equal(s->ops.get(s->ud, "k", 1, 0, &v, &cas, &flags, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  uint8_t *first = v.buf.data;
  for (int i = 0; i < 10; i++) {
    assert_int_equal(s->ops.get(s->ud, "k", 1, 60, &v, &cas, &flags, &r),
                     MCS_OK);
    assert_ptr_equal(v.buf.data, first);
    assert_int_equal(v.buf.len, sizeof big);
    assert_memory_equal(v.buf.data, big, sizeof big);
    assert_int_equal(flags, 7);
  }
  mcs__buf_free(&v.buf);
  mcs_store_free(s);
}

/* ---- TTL ---------------------------------------------------------------- */

static void test_memory_items_expire_after_ttl(void **st) {
  (void)st;
  int64_t now = 1000;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 10), MCS_STORE_STORED);
  now = 1009;
  want_value(s, "k", "v");
  now = 1010; /* memcached: gone once exptime <= now */
  want_miss(s, "k");
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  assert_int_equal(m.expired, 1);
  mcs_store_free(s);
}

static void test_memory_expired_item_is_invisible_to_every_op(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  const char *keys[] = {"get", "add", "cas", "del", "touch"};
  uint64_t c = 0;
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(set_ttl(s, keys[i], "old", 5), MCS_STORE_STORED);
  c = want_value(s, "cas", "old");
  now = 5;
  want_miss(s, "get");
  assert_int_equal(add_str(s, "add", "new", NULL), MCS_STORE_STORED);
  want_value(s, "add", "new");
  assert_int_equal(cas_str(s, "cas", "new", c, NULL), MCS_STORE_MISS);
  assert_int_equal(del(s, "del"), MCS_STORE_MISS);
  assert_int_equal(touch(s, "touch", 100), MCS_STORE_MISS);
  want_miss(s, "touch");
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 1);
  assert_int_equal(m.expired, 5);
  mcs_store_free(s);
}

static void test_memory_touch_extends_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 10), MCS_STORE_STORED);
  now = 5;
  assert_int_equal(touch(s, "k", 10), MCS_STORE_TOUCHED);
  now = 14;
  want_value(s, "k", "v");
  now = 15;
  want_miss(s, "k");
  mcs_store_free(s);
}

static void test_memory_touch_can_shorten_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 100), MCS_STORE_STORED);
  assert_int_equal(touch(s, "k", 1), MCS_STORE_TOUCHED);
  now = 1;
  want_miss(s, "k");
  mcs_store_free(s);
}

static void test_memory_get_and_touch_extends_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 10), MCS_STORE_STORED);
  assert_int_equal(set_ttl(s, "plain", "v", 10), MCS_STORE_STORED);
  now = 5;
  void *data = NULL;
  size_t len;
  mcs_store_result r;
  assert_int_equal(
      mcs_store_get(s, "k", 1, 10, 0, &data, &len, NULL, NULL, &r), MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  mcs_free(data);
  want_value(s, "plain", "v"); /* a plain get does not extend */
  now = 14;
  want_value(s, "k", "v");
  want_miss(s, "plain");
  now = 15;
  want_miss(s, "k");
  mcs_store_free(s);
}

/* ---- Eviction and limits ------------------------------------------------ */

#define VAL_LEN 1000

static void put_sized(mcs_store *s, int i, uint32_t ttl) {
  char key[16], val[VAL_LEN + 1];
  snprintf(key, sizeof key, "k%03d", i);
  memset(val, 'a' + i % 26, VAL_LEN);
  val[VAL_LEN] = '\0';
  assert_int_equal(set_ttl(s, key, val, ttl), MCS_STORE_STORED);
}

static mcs_store_result probe(mcs_store *s, int i) {
  char key[16];
  snprintf(key, sizeof key, "k%03d", i);
  void *data = NULL;
  size_t len;
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_get(s, key, strlen(key), 0, 0, &data, &len,
                                 NULL, NULL, &r),
                   MCS_OK);
  mcs_free(data);
  return r;
}

/* How many equal-sized items fit in the one-shard, 64 KiB store. */
static int capacity(mcs_store *s) {
  put_sized(s, 999, TTL);
  uint64_t item = stats_of(s).bytes;
  char key[] = "k999";
  assert_int_equal(del(s, key), MCS_STORE_DELETED);
  return (int)(64 * 1024 / item);
}

static void test_memory_evicts_least_recently_used_first(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  assert_true(cap > 10);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, TTL);
  assert_int_equal(stats_of(s).evictions, 0);
  assert_int_equal(stats_of(s).items, cap);
  /* Reading the two oldest makes them the most recently used. */
  assert_int_equal(probe(s, 0), MCS_STORE_HIT);
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  put_sized(s, cap, TTL);
  put_sized(s, cap + 1, TTL);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.evictions, 2);
  assert_int_equal(m.items, cap);
  assert_true(m.bytes <= 64 * 1024);
  assert_int_equal(probe(s, 2), MCS_STORE_MISS);
  assert_int_equal(probe(s, 3), MCS_STORE_MISS);
  assert_int_equal(probe(s, 0), MCS_STORE_HIT);
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  for (int i = 4; i < cap + 2; i++)
    assert_int_equal(probe(s, i), MCS_STORE_HIT);
  mcs_store_free(s);
}

static void test_memory_eviction_reclaims_expired_items_first(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, i == 2 ? 10 : TTL);
  now = 20;
  put_sized(s, cap, TTL);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.evictions, 0);
  assert_int_equal(m.expired, 1);
  assert_int_equal(probe(s, 0), MCS_STORE_HIT);
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  assert_int_equal(probe(s, 2), MCS_STORE_MISS);
  mcs_store_free(s);
}

static void test_memory_replacing_an_item_never_evicts_others(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, TTL);
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < cap; i++)
      put_sized(s, i, TTL);
  assert_int_equal(stats_of(s).evictions, 0);
  assert_int_equal(stats_of(s).items, cap);
  mcs_store_free(s);
}

static void test_memory_rejects_items_that_never_fit(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 64 * 1024);
  size_t n = 64 * 1024 + 1;
  char *big = malloc(n);
  assert_non_null(big);
  memset(big, 'z', n);
  put(s, "k", "old");
  uint64_t c = want_value(s, "k", "old");
  mcs_memory_stats before = stats_of(s);
  mcs_store_result r = 0;
  /* Over max_item_bytes. */
  assert_int_equal(mcs_store_set(s, "k", 1, big, n, 0, TTL, &r), MCS_ETOOBIG);
  /* Within max_item_bytes but, with key and overhead, over the shard. */
  assert_int_equal(mcs_store_set(s, "k", 1, big, n - 1, 0, TTL, &r),
                   MCS_ETOOBIG);
  assert_int_equal(mcs_store_add(s, "n", 1, big, n - 1, 0, TTL, NULL, &r),
                   MCS_ETOOBIG);
  assert_int_equal(
      mcs_store_cas(s, "k", 1, big, n - 1, 0, TTL, c, NULL, &r), MCS_ETOOBIG);
  assert_int_equal(want_value(s, "k", "old"), c);
  want_miss(s, "n");
  mcs_memory_stats after = stats_of(s);
  assert_memory_equal(&before, &after, sizeof before);
  free(big);
  mcs_store_free(s);
}

static void test_memory_max_item_bytes_is_inclusive(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 100);
  char v[102];
  memset(v, 'v', sizeof v);
  v[101] = '\0';
  assert_int_equal(set_ttl(s, "k", v + 1, TTL), MCS_STORE_STORED);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(s, "k", 1, v, 101, 0, TTL, &r), MCS_ETOOBIG);
  want_value(s, "k", v + 1);
  mcs_store_free(s);
}

/* ---- Accounting and growth ---------------------------------------------- */

static void test_memory_overwrite_keeps_byte_accounting_exact(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "a");
  uint64_t one = stats_of(s).bytes;
  assert_true(one > 2);
  char big[501];
  memset(big, 'b', 500);
  big[500] = '\0';
  put(s, "k", big);
  assert_int_equal(stats_of(s).bytes, one + 499);
  put(s, "k", "c");
  assert_int_equal(stats_of(s).bytes, one);
  assert_int_equal(add_str(s, "k", big, NULL), MCS_STORE_EXISTS);
  assert_int_equal(stats_of(s).bytes, one);
  for (int i = 0; i < 200; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    put(s, key, big + i);
    put(s, key, big + 500 - i);
  }
  for (int i = 0; i < 200; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    assert_int_equal(del(s, key), MCS_STORE_DELETED);
  }
  assert_int_equal(del(s, "k"), MCS_STORE_DELETED);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  mcs_store_free(s);
}

static void test_memory_table_grows_to_100000_keys(void **st) {
  (void)st;
  enum { N = 100000 };
  mcs_store *s = new_store(NULL);
  char key[32], val[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);
    put(s, key, val);
  }
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, N);
  assert_int_equal(m.evictions, 0);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);
    want_value(s, key, val);
  }
  for (int i = 0; i < N; i += 2) {
    snprintf(key, sizeof key, "key:%d", i);
    assert_int_equal(del(s, key), MCS_STORE_DELETED);
  }
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);
    want_value(s, key, i % 2 ? val : NULL);
  }
  for (int i = 1; i < N; i += 2) {
    snprintf(key, sizeof key, "key:%d", i);
    assert_int_equal(del(s, key), MCS_STORE_DELETED);
  }
  m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  mcs_store_free(s);
}

/* ---- Reference model ---------------------------------------------------
 * Random operations on one shard (so its table grows and rehashes many
 * times while items are deleted, expire and get touched mid-migration),
 * checked one by one against a trivial model. No evictions: the budget is
 * far above what the keys need. */

typedef struct model_entry {
  int live;
  long value;
  int64_t expiry;
  uint64_t cas; /* 0: not known yet (set does not report it) */
} model_entry;

static void model_get(mcs_store *s, const char *key, model_entry *e,
                      int64_t now, uint32_t touch_ttl) {
  void *data = NULL;
  size_t len = 0;
  uint64_t cas = 0;
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_get(s, key, strlen(key), touch_ttl, 0, &data,
                                 &len, &cas, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, e->live ? MCS_STORE_HIT : MCS_STORE_MISS);
  if (!e->live)
    return;
  char want[32];
  int n = snprintf(want, sizeof want, "%ld", e->value);
  assert_int_equal(len, (size_t)n);
  assert_memory_equal(data, want, len);
  mcs_free(data);
  if (e->cas)
    assert_int_equal(cas, e->cas);
  e->cas = cas;
  if (touch_ttl)
    e->expiry = now + touch_ttl;
}

static void model_write(mcs_store *s, const char *key, model_entry *e,
                        int64_t now, unsigned op, long v, uint32_t ttl) {
  char val[32];
  int n = snprintf(val, sizeof val, "%ld", v);
  mcs_store_result r = 0, want = MCS_STORE_STORED;
  uint64_t cas = 0;
  if (op == 1) {
    assert_int_equal(
        mcs_store_set(s, key, strlen(key), val, (size_t)n, 0, ttl, &r),
        MCS_OK);
  } else if (op == 2) {
    want = e->live ? MCS_STORE_EXISTS : MCS_STORE_STORED;
    assert_int_equal(mcs_store_add(s, key, strlen(key), val, (size_t)n, 0,
                                   ttl, &cas, &r),
                     MCS_OK);
  } else {
    /* UINT64_MAX is never issued: a live item with an unknown token must
     * answer EXISTS. */
    uint64_t token = e->live && e->cas ? e->cas : UINT64_MAX;
    want = !e->live ? MCS_STORE_MISS
                    : (e->cas ? MCS_STORE_STORED : MCS_STORE_EXISTS);
    assert_int_equal(mcs_store_cas(s, key, strlen(key), val, (size_t)n, 0,
                                   ttl, token, &cas, &r),
                     MCS_OK);
  }
  assert_int_equal(r, want);
  if (r == MCS_STORE_STORED)
    *e = (model_entry){1, v, now + ttl, cas};
}

static void model_step(mcs_store *s, model_entry *m, unsigned nkeys,
                       int64_t now, uint32_t *rnd, long step) {
  unsigned k = xorshift(rnd) % nkeys;
  char key[16];
  snprintf(key, sizeof key, "m%u", k);
  model_entry *e = &m[k];
  if (e->live && now >= e->expiry)
    e->live = 0;
  uint32_t ttl = 1 + xorshift(rnd) % 30;
  unsigned op = xorshift(rnd) % 6;
  mcs_store_result r = 0;
  switch (op) {
  case 0:
    model_get(s, key, e, now, xorshift(rnd) % 2 ? ttl : 0);
    break;
  case 4:
    assert_int_equal(del(s, key), e->live ? MCS_STORE_DELETED
                                          : MCS_STORE_MISS);
    e->live = 0;
    break;
  case 5:
    r = touch(s, key, ttl);
    assert_int_equal(r, e->live ? MCS_STORE_TOUCHED : MCS_STORE_MISS);
    e->expiry = now + ttl;
    break;
  default:
    model_write(s, key, e, now, op, step, ttl);
  }
}

static void test_memory_matches_reference_model_under_random_ops(void **st) {
  (void)st;
  enum { KEYS = 6000, OPS = 300000 };
  int64_t now = 0;
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.shards = 1;
  cfg.clock = fake_clock;
  cfg.clock_ud = &now;
  mcs_store *s = new_store(&cfg);
  model_entry *m = calloc(KEYS, sizeof *m);
  assert_non_null(m);
  uint32_t rnd = 0x9e3779b9u;
  for (long i = 0; i < OPS; i++) {
    if (xorshift(&rnd) % 2000 == 0)
      now += xorshift(&rnd) % 10;
    model_step(s, m, KEYS, now, &rnd, i);
  }
  uint64_t live = 0;
  for (unsigned k = 0; k < KEYS; k++) {
    char key[16];
    snprintf(key, sizeof key, "m%u", k);
    if (m[k].live && now >= m[k].expiry)
      m[k].live = 0;
    model_get(s, key, &m[k], now, 0); /* reclaims the expired ones */
    live += (uint64_t)m[k].live;
  }
  mcs_memory_stats ms = stats_of(s);
  assert_int_equal(ms.items, live);
  assert_int_equal(ms.evictions, 0);
  free(m);
  mcs_store_free(s);
}

/* ---- Stats -------------------------------------------------------------- */

static void test_memory_stats_count_items_and_bytes(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  assert_int_equal(m.evictions, 0);
  assert_int_equal(m.expired, 0);
  put(s, "a", "1");
  uint64_t one = stats_of(s).bytes;
  assert_true(one > 2); /* key, value and the per-item overhead */
  put(s, "b", "22");
  m = stats_of(s);
  assert_int_equal(m.items, 2);
  assert_int_equal(m.bytes, 2 * one + 1); /* same overhead, one byte more */
  mcs_store_free(s);
}

static int other_del(void *ud, const char *key, size_t key_len,
                     mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)result;
  return MCS_ESTORE;
}
static int other_get(void *ud, const char *key, size_t key_len,
                     uint32_t touch_ttl, mcs_store_value *value,
                     uint64_t *cas, uint32_t *flags,
                     mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)touch_ttl, (void)value;
  (void)cas, (void)flags, (void)result;
  return MCS_ESTORE;
}

static void test_memory_stats_reject_other_stores(void **st) {
  (void)st;
  /* Borrow the memory store's ops but replace get: not a memory store. */
  mcs_store *mem = new_store(NULL);
  mcs_store_ops ops = mem->ops;
  ops.get = other_get;
  ops.del = other_del;
  ops.destroy = NULL;
  mcs_store *other = NULL;
  assert_int_equal(mcs_store_new(&other, &ops, NULL), MCS_OK);
  mcs_memory_stats m;
  assert_int_equal(mcs_store_memory_stats_get(other, &m), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_stats_get(NULL, &m), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_stats_get(mem, NULL), MCS_EINVAL);
  mcs_store_free(other);
  mcs_store_free(mem);
}

/* The memory store's whole table, kind and capabilities included, with a
 * user's ud: still not a memory store (the stats would read the user's
 * data as the store's shards). The kind is a name, not an identity. */
static void test_memory_identity_cannot_be_copied(void **st) {
  (void)st;
  mcs_store *mem = new_store(NULL);
  assert_string_equal(mcs_store_kind(mem), "memory");
  assert_int_equal(mcs_store_caps(mem),
                   MCS_STORE_CAP_NONBLOCKING | MCS_STORE_CAP_ATOMIC_GET_TOUCH);
  assert_null(mcs_store_key_prefix(mem)); /* the manager's "mcs:" */
  mcs_store_ops ops = mem->ops;
  ops.destroy = NULL;
  static char fake[4096];
  mcs_store *copy = NULL;
  assert_int_equal(mcs_store_new(&copy, &ops, fake), MCS_OK);
  assert_string_equal(mcs_store_kind(copy), "memory");
  mcs_memory_stats m;
  assert_int_equal(mcs_store_memory_stats_get(copy, &m), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_stats_get(mem, &m), MCS_OK);
  mcs_store_free(copy);
  mcs_store_free(mem);
}

/* mcs_store_new: version 1 tables (the eight members up to destroy) still
 * work, as no kind, no capabilities, no prefix, no engine; unknown
 * versions and capabilities, and half a non-blocking side, are refused. */
static int none_attach(void *ud, const mcs_store_io *io, void **engine) {
  (void)ud, (void)io;
  *engine = NULL;
  return MCS_OK;
}
static void none_detach(void *engine) { (void)engine; }

static void test_store_new_versions_and_tables(void **st) {
  (void)st;
  mcs_store *mem = new_store(NULL);
  /* A version 1 table, as a program built against the 0.1 header lays it
   * out: the v2 members are not even there to read. */
  struct {
    unsigned version;
    void *fns[7];
  } v1;
  _Static_assert(sizeof v1 == offsetof(mcs_store_ops, destroy) +
                                  sizeof(void (*)(void *)),
                 "v1 prefix");
  memcpy(&v1, &mem->ops, sizeof v1);
  v1.version = 1;
  v1.fns[6] = NULL; /* destroy: the memory store stays mem's */
  mcs_store *s = NULL;
  assert_int_equal(
      mcs_store_new(&s, (const mcs_store_ops *)(void *)&v1, mem->ud), MCS_OK);
  assert_string_equal(mcs_store_kind(s), "custom");
  assert_int_equal(mcs_store_caps(s), 0);
  assert_null(mcs_store_key_prefix(s));
  assert_null(s->ops.attach);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 60, &r), MCS_OK);
  mcs_memory_stats m;
  assert_int_equal(mcs_store_memory_stats_get(s, &m), MCS_EINVAL);
  mcs_store_free(s);

  mcs_store_ops ops = mem->ops;
  ops.destroy = NULL;
  ops.version = MCS_STORE_OPS_VERSION + 1;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  assert_null(s);
  ops.version = 0;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.version = MCS_STORE_OPS_VERSION;
  ops.caps = 0x80u;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.caps = 0;
  ops.attach = none_attach; /* without the five others */
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.detach = none_detach;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.attach = NULL;
  ops.detach = NULL;
  ops.touch = NULL;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  assert_null(s);
  assert_null(mcs_store_kind(NULL));
  assert_int_equal(mcs_store_caps(NULL), 0);
  assert_null(mcs_store_key_prefix(NULL));
  mcs_store_free(mem);
}

/* ---- Concurrency -------------------------------------------------------- */

#define THREADS 8
#define LOOPS 2000
#define SHARED 4

typedef struct worker {
  mcs_store *s;
  unsigned id;
  long errors;
  long conflicts;
} worker;

/* get -> parse -> cas, retrying on EXISTS. 0 on success. */
static int cas_increment(worker *w, const char *key) {
  for (;;) {
    void *data = NULL;
    size_t len = 0;
    uint64_t cas = 0;
    mcs_store_result r = 0;
    if (mcs_store_get(w->s, key, strlen(key), TTL, 32, &data, &len, &cas,
                      NULL, &r) != MCS_OK || r != MCS_STORE_HIT)
      return -1;
    char num[33];
    memcpy(num, data, len);
    num[len] = '\0';
    mcs_free(data);
    char next[32];
    int n = snprintf(next, sizeof next, "%ld", strtol(num, NULL, 10) + 1);
    if (mcs_store_cas(w->s, key, strlen(key), next, (size_t)n, 0, TTL, cas,
                      NULL, &r) != MCS_OK)
      return -1;
    if (r == MCS_STORE_STORED)
      return 0;
    if (r != MCS_STORE_EXISTS)
      return -1;
    w->conflicts++;
  }
}

/* Other traffic on random keys, spread over every shard. */
static int noise(worker *w, uint32_t *rnd) {
  char key[32];
  snprintf(key, sizeof key, "noise:%u:%u", w->id, xorshift(rnd) % 256);
  mcs_store_result r;
  switch (xorshift(rnd) % 3) {
  case 0:
    return mcs_store_set(w->s, key, strlen(key), "payload", 7, 0, TTL, &r);
  case 1:
    return mcs_store_delete(w->s, key, strlen(key), &r);
  default: {
    void *data = NULL;
    size_t len;
    int rc = mcs_store_get(w->s, key, strlen(key), 0, 0, &data, &len, NULL,
                           NULL, &r);
    mcs_free(data);
    return rc;
  }
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  uint32_t rnd = 2463534242u + w->id * 7919u;
  for (unsigned i = 0; i < LOOPS; i++) {
    char key[16];
    snprintf(key, sizeof key, "counter:%u", (w->id + i) % SHARED);
    if (cas_increment(w, key) != 0 || noise(w, &rnd) != MCS_OK)
      w->errors++;
  }
  return NULL;
}

static void test_memory_concurrent_cas_increments_are_exact(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  for (int k = 0; k < SHARED; k++) {
    char key[16];
    snprintf(key, sizeof key, "counter:%d", k);
    assert_int_equal(add_str(s, key, "0", NULL), MCS_STORE_STORED);
  }
  pthread_t tid[THREADS];
  worker w[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    w[t] = (worker){s, t, 0, 0};
    assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
  }
  long conflicts = 0;
  for (unsigned t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(tid[t], NULL), 0);
    assert_int_equal(w[t].errors, 0);
    conflicts += w[t].conflicts;
  }
  char want[16];
  snprintf(want, sizeof want, "%d", THREADS * LOOPS / SHARED);
  for (int k = 0; k < SHARED; k++) {
    char key[16];
    snprintf(key, sizeof key, "counter:%d", k);
    want_value(s, key, want);
  }
  assert_int_equal(stats_of(s).evictions, 0);
  print_message("    %ld CAS conflicts resolved\n", conflicts);
  mcs_store_free(s);
}

/* ---- Allocation failures ------------------------------------------------ */

/* Each failure must leave the store exactly as it was. */
static void assert_unchanged(mcs_store *s, const mcs_memory_stats *before,
                             const char *key, const char *val,
                             uint64_t cas) {
  mcs_memory_stats now = stats_of(s);
  assert_int_equal(now.items, before->items);
  assert_int_equal(now.bytes, before->bytes);
  if (val)
    assert_int_equal(want_value(s, key, val), cas);
  else
    want_miss(s, key);
}

static void test_memory_new_fails_cleanly_when_allocation_fails(void **st) {
  (void)st;
  long n = 1;
  for (;; n++) {
    mcs_store *s = (mcs_store *)&n;
    arm(n, 0);
    int rc = mcs_store_memory_new(&s, NULL);
    disarm();
    if (rc == MCS_OK) {
      mcs_store_free(s);
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_null(s); /* LeakSanitizer checks nothing was left behind */
  }
  assert_true(n > 3);
}

static void test_memory_set_failure_keeps_old_value(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "old");
  uint64_t c = want_value(s, "k", "old");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_set(s, "k", 1, "new", 3, 0, TTL, &r);
    disarm();
    if (rc == MCS_OK)
      break;
    assert_int_equal(rc, MCS_ENOMEM);
    assert_unchanged(s, &before, "k", "old", c);
  }
  assert_true(n > 1);
  want_value(s, "k", "new");
  mcs_store_free(s);
}

static void test_memory_add_failure_leaves_key_absent(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "other", "x");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_add(s, "k", 1, "new", 3, 0, TTL, NULL, &r);
    disarm();
    if (rc == MCS_OK) {
      assert_int_equal(r, MCS_STORE_STORED);
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_unchanged(s, &before, "k", NULL, 0);
  }
  assert_true(n > 1);
  want_value(s, "k", "new");
  mcs_store_free(s);
}

static void test_memory_cas_failure_keeps_old_value_and_token(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "old");
  uint64_t c = want_value(s, "k", "old");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_cas(s, "k", 1, "new", 3, 0, TTL, c, NULL, &r);
    disarm();
    if (rc == MCS_OK) {
      assert_int_equal(r, MCS_STORE_STORED); /* the token still matched */
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_unchanged(s, &before, "k", "old", c);
  }
  assert_true(n > 1);
  want_value(s, "k", "new");
  mcs_store_free(s);
}

static void test_memory_get_failure_changes_nothing(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "value", 10), MCS_STORE_STORED);
  uint64_t c = want_value(s, "k", "value");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    void *data = NULL;
    size_t len;
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_get(s, "k", 1, 100, 0, &data, &len, NULL, NULL, &r);
    disarm();
    if (rc == MCS_OK) {
      assert_int_equal(r, MCS_STORE_HIT);
      mcs_free(data);
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_null(data);
    assert_unchanged(s, &before, "k", "value", c);
  }
  assert_true(n > 1);
  /* Only the successful get-and-touch extended the expiry. */
  now = 50;
  want_value(s, "k", "value");
  mcs_store_free(s);
}

static void test_memory_get_and_touch_failure_keeps_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "value", 10), MCS_STORE_STORED);
  void *data = NULL;
  size_t len;
  mcs_store_result r;
  arm(1, 1);
  assert_int_equal(
      mcs_store_get(s, "k", 1, 100, 0, &data, &len, NULL, NULL, &r),
      MCS_ENOMEM);
  disarm();
  now = 10;
  want_miss(s, "k");
  mcs_store_free(s);
}

/* Growing a table is optional: with every calloc failing, writes still
 * succeed (on longer chains), and growth resumes once memory is back. */
static void test_memory_table_growth_failure_is_harmless(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.shards = 1;
  cfg.clock = fake_clock;
  cfg.clock_ud = &now;
  mcs_store *s = new_store(&cfg);
  char key[32];
  atomic_store(&fail_calloc, 1);
  for (int i = 0; i < 3000; i++) {
    snprintf(key, sizeof key, "g%d", i);
    put(s, key, key);
  }
  disarm();
  for (int i = 3000; i < 6000; i++) {
    snprintf(key, sizeof key, "g%d", i);
    put(s, key, key);
  }
  for (int i = 0; i < 6000; i++) {
    snprintf(key, sizeof key, "g%d", i);
    want_value(s, key, key);
  }
  assert_int_equal(stats_of(s).items, 6000);
  mcs_store_free(s);
}

int main(void) {
  if (mcs_replace_allocator(fi_malloc, fi_realloc, fi_calloc, free) !=
      MCS_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_config_init_sets_documented_defaults),
      cmocka_unit_test(test_memory_new_accepts_null_config_as_defaults),
      cmocka_unit_test(test_memory_new_rejects_invalid_configs),
      cmocka_unit_test(test_memory_get_misses_absent_key),
      cmocka_unit_test(test_memory_set_then_get_returns_value_flags_and_cas),
      cmocka_unit_test(test_memory_set_overwrites_existing_value),
      cmocka_unit_test(test_memory_empty_value_round_trips),
      cmocka_unit_test(test_memory_keys_differing_in_one_byte_are_distinct),
      cmocka_unit_test(test_memory_add_stores_only_when_absent),
      cmocka_unit_test(test_memory_cas_stores_only_with_current_token),
      cmocka_unit_test(test_memory_cas_misses_absent_key),
      cmocka_unit_test(test_memory_delete_removes_then_misses),
      cmocka_unit_test(test_memory_touch_hits_present_and_misses_absent),
      cmocka_unit_test(test_memory_cas_token_changes_on_every_write),
      cmocka_unit_test(test_memory_touch_keeps_cas_token),
      cmocka_unit_test(test_memory_get_value_larger_than_caller_limit),
      cmocka_unit_test(test_memory_get_reuses_caller_buffer),
      cmocka_unit_test(test_memory_items_expire_after_ttl),
      cmocka_unit_test(test_memory_expired_item_is_invisible_to_every_op),
      cmocka_unit_test(test_memory_touch_extends_expiry),
      cmocka_unit_test(test_memory_touch_can_shorten_expiry),
      cmocka_unit_test(test_memory_get_and_touch_extends_expiry),
      cmocka_unit_test(test_memory_evicts_least_recently_used_first),
      cmocka_unit_test(test_memory_eviction_reclaims_expired_items_first),
      cmocka_unit_test(test_memory_replacing_an_item_never_evicts_others),
      cmocka_unit_test(test_memory_rejects_items_that_never_fit),
      cmocka_unit_test(test_memory_max_item_bytes_is_inclusive),
      cmocka_unit_test(test_memory_overwrite_keeps_byte_accounting_exact),
      cmocka_unit_test(test_memory_table_grows_to_100000_keys),
      cmocka_unit_test(test_memory_matches_reference_model_under_random_ops),
      cmocka_unit_test(test_memory_stats_count_items_and_bytes),
      cmocka_unit_test(test_memory_stats_reject_other_stores),
      cmocka_unit_test(test_memory_identity_cannot_be_copied),
      cmocka_unit_test(test_store_new_versions_and_tables),
      cmocka_unit_test(test_memory_concurrent_cas_increments_are_exact),
      cmocka_unit_test(test_memory_new_fails_cleanly_when_allocation_fails),
      cmocka_unit_test(test_memory_set_failure_keeps_old_value),
      cmocka_unit_test(test_memory_add_failure_leaves_key_absent),
      cmocka_unit_test(test_memory_cas_failure_keeps_old_value_and_token),
      cmocka_unit_test(test_memory_get_failure_changes_nothing),
      cmocka_unit_test(test_memory_get_and_touch_failure_keeps_expiry),
      cmocka_unit_test(test_memory_table_growth_failure_is_harmless),
  };
  return cmocka_run_group_tests_name("store_memory", tests, NULL, NULL);
}
