/* What the memory-store tests (test_store_memory*.c) share: the
 * fault-injecting allocator their main() installs, stores on a fake clock
 * and short forms of the store calls that check their results. */
#ifndef STORE_MEMORY_FIXTURE_H
#define STORE_MEMORY_FIXTURE_H

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
static _Atomic long fail_at; /* 0: disarmed */
static _Atomic int fail_sticky;
static _Atomic int fail_calloc; /* fail every calloc (table growth) */

static inline int should_fail(void) {
  long at = atomic_load(&fail_at);
  if (at == 0)
    return 0;
  long n = atomic_fetch_add(&alloc_count, 1) + 1;
  return n == at || (atomic_load(&fail_sticky) && n > at);
}

static inline void *fi_malloc(size_t n) {
  return should_fail() ? NULL : malloc(n);
}
static inline void *fi_realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n);
}
static inline void *fi_calloc(size_t n, size_t m) {
  if (atomic_load(&fail_calloc) || should_fail())
    return NULL;
  return calloc(n, m);
}

static inline void arm(long n, int sticky) {
  atomic_store(&alloc_count, 0);
  atomic_store(&fail_sticky, sticky);
  atomic_store(&fail_at, n);
}

static inline void disarm(void) {
  atomic_store(&fail_at, 0);
  atomic_store(&fail_calloc, 0);
}

/* ---- Helpers ------------------------------------------------------------ */

static inline int64_t fake_clock(void *ud) { return *(const int64_t *)ud; }

/* Deterministic pseudo-random numbers (Marsaglia's xorshift32). */
static inline uint32_t xorshift(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

static inline mcs_store *new_store(const mcs_memory_config *cfg) {
  mcs_store *s = NULL;
  assert_int_equal(mcs_store_memory_new(&s, cfg), MCS_OK);
  assert_non_null(s);
  return s;
}

/* One shard, 64 KiB, and a fake clock starting at *now. */
static inline mcs_store *small_store(int64_t *now, size_t max_item) {
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.max_bytes = 64 * 1024;
  cfg.shards = 1;
  cfg.max_item_bytes = max_item;
  cfg.clock = fake_clock;
  cfg.clock_ud = now;
  return new_store(&cfg);
}

static inline mcs_memory_stats stats_of(mcs_store *s) {
  mcs_memory_stats st;
  assert_int_equal(mcs_store_memory_stats_get(s, &st), MCS_OK);
  return st;
}

static inline mcs_store_result set_ttl(mcs_store *s, const char *key,
                                       const char *val, uint32_t ttl) {
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_set(s, key, strlen(key), val, strlen(val), 0, ttl, &r), MCS_OK);
  return r;
}

static inline void put(mcs_store *s, const char *key, const char *val) {
  assert_int_equal(set_ttl(s, key, val, TTL), MCS_STORE_STORED);
}

/* Reads key; on a hit checks the value is `want` (NULL: expect a miss). */
static inline uint64_t want_value(mcs_store *s, const char *key,
                                  const char *want) {
  void *data = NULL;
  size_t len = 0;
  uint64_t cas = 0;
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_get(s, key, strlen(key), 0, 0, &data, &len, &cas, NULL, &r),
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

static inline void want_miss(mcs_store *s, const char *key) {
  want_value(s, key, NULL);
}

static inline mcs_store_result touch(mcs_store *s, const char *key,
                                     uint32_t ttl) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_touch(s, key, strlen(key), ttl, &r), MCS_OK);
  return r;
}

static inline mcs_store_result del(mcs_store *s, const char *key) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_delete(s, key, strlen(key), &r), MCS_OK);
  return r;
}

static inline mcs_store_result cas_str(mcs_store *s, const char *key,
                                       const char *val, uint64_t cas,
                                       uint64_t *new_cas) {
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_cas(s, key, strlen(key), val, strlen(val), 0, TTL,
                                 cas, new_cas, &r),
                   MCS_OK);
  return r;
}

static inline mcs_store_result add_str(mcs_store *s, const char *key,
                                       const char *val, uint64_t *cas) {
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_add(s, key, strlen(key), val, strlen(val), 0, TTL, cas, &r),
      MCS_OK);
  return r;
}

/* Peeks at key (mcs_store_peek): its value into out (NUL-terminated),
 * CAS token and seconds left (either may be NULL). */
static inline mcs_store_result peek_str(mcs_store *s, const char *key, char *out,
                                 size_t out_size, uint64_t *cas, int64_t *ttl) {
  void *data = NULL;
  size_t len = 0;
  uint32_t flags = 99;
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_peek(s, key, strlen(key), 0, &data, &len, cas, &flags, ttl, &r),
      MCS_OK);
  if (r == MCS_STORE_HIT) {
    assert_true(len < out_size);
    memcpy(out, data, len);
    out[len] = '\0';
    assert_int_equal(flags, 0);
  } else {
    assert_null(data);
  }
  mcs_free(data);
  return r;
}

#endif /* STORE_MEMORY_FIXTURE_H */
