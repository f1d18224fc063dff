/*
 * Shared helpers for the unit tests: a manager on a memory store with a
 * clock the test moves, and a "spy" store that wraps another store to
 * count operations, fail on demand and run a hook before a CAS (to play a
 * concurrent request). Header-only so each test stays one file.
 */
#ifndef MCS_TEST_UTIL_H
#define MCS_TEST_UTIL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcsession.h"

static const char test_secret[] = "0123456789abcdef0123456789abcdef";

typedef struct test_clock {
  int64_t now;
} test_clock;

static inline int64_t test_clock_read(void *ud) {
  return ((test_clock *)ud)->now;
}

/* ---- The spy store -------------------------------------------------------- */

typedef struct spy {
  mcs_store *inner;
  /* Atomic: the concurrency test's threads share one spy (and run under
   * ThreadSanitizer). */
  _Atomic unsigned gets, adds, cases, sets, dels, touches;
  int fail_all;        /* every op returns this error while non-zero */
  void (*before_cas)(struct spy *spy, void *ud);
  void *before_cas_ud;
  _Atomic unsigned get_touch_ttl; /* touch_ttl of the last get */
  _Atomic unsigned touch_ttl;     /* ttl of the last touch */
  char last_key[MCS_STORE_KEY_MAX + 1]; /* key of the last add */
  char last_set_key[MCS_STORE_KEY_MAX + 1]; /* key of the last set */
  _Atomic unsigned set_ttl;                 /* ttl of the last set */
} spy;

static inline int spy_get(void *ud, const char *key, size_t key_len,
                          uint32_t touch_ttl, mcs_store_value *value,
                          uint64_t *cas, uint32_t *flags,
                          mcs_store_result *result) {
  spy *s = ud;
  s->gets++;
  s->get_touch_ttl = touch_ttl;
  if (s->fail_all)
    return s->fail_all;
  void *data = NULL;
  size_t len = 0;
  int rc = mcs_store_get(s->inner, key, key_len, touch_ttl, 1 << 22, &data,
                         &len, cas, flags, result);
  if (rc == MCS_OK && *result == MCS_STORE_HIT)
    rc = mcs_store_value_set(value, data, len);
  mcs_free(data);
  return rc;
}

static inline int spy_add(void *ud, const char *key, size_t key_len,
                          const void *data, size_t len, uint32_t flags,
                          uint32_t ttl, uint64_t *cas,
                          mcs_store_result *result) {
  spy *s = ud;
  s->adds++;
  memcpy(s->last_key, key, key_len);
  s->last_key[key_len] = '\0';
  if (s->fail_all)
    return s->fail_all;
  return mcs_store_add(s->inner, key, key_len, data, len, flags, ttl, cas,
                       result);
}

static inline int spy_cas(void *ud, const char *key, size_t key_len,
                          const void *data, size_t len, uint32_t flags,
                          uint32_t ttl, uint64_t cas, uint64_t *new_cas,
                          mcs_store_result *result) {
  spy *s = ud;
  s->cases++;
  if (s->before_cas) {
    void (*hook)(spy *, void *) = s->before_cas;
    s->before_cas = NULL; /* once */
    hook(s, s->before_cas_ud);
  }
  if (s->fail_all)
    return s->fail_all;
  return mcs_store_cas(s->inner, key, key_len, data, len, flags, ttl, cas,
                       new_cas, result);
}

static inline int spy_set(void *ud, const char *key, size_t key_len,
                          const void *data, size_t len, uint32_t flags,
                          uint32_t ttl, mcs_store_result *result) {
  spy *s = ud;
  s->sets++;
  memcpy(s->last_set_key, key, key_len);
  s->last_set_key[key_len] = '\0';
  s->set_ttl = ttl;
  if (s->fail_all)
    return s->fail_all;
  return mcs_store_set(s->inner, key, key_len, data, len, flags, ttl, result);
}

static inline int spy_del(void *ud, const char *key, size_t key_len,
                          mcs_store_result *result) {
  spy *s = ud;
  s->dels++;
  if (s->fail_all)
    return s->fail_all;
  return mcs_store_delete(s->inner, key, key_len, result);
}

static inline int spy_touch(void *ud, const char *key, size_t key_len,
                            uint32_t ttl, mcs_store_result *result) {
  spy *s = ud;
  s->touches++;
  s->touch_ttl = ttl;
  if (s->fail_all)
    return s->fail_all;
  return mcs_store_touch(s->inner, key, key_len, ttl, result);
}

static inline unsigned spy_total(const spy *s) {
  return s->gets + s->adds + s->cases + s->sets + s->dels + s->touches;
}

static inline void spy_reset_counts(spy *s) {
  s->gets = s->adds = s->cases = s->sets = s->dels = s->touches = 0;
}

/* Blocking only, no capabilities, no peek: a loop runs it on its helper
 * thread; readers without touching fall back on get (mcs_store_peek). */
static const mcs_store_ops spy_ops = {
    .version = MCS_STORE_OPS_VERSION,
    .get = spy_get,
    .add = spy_add,
    .cas = spy_cas,
    .set = spy_set,
    .del = spy_del,
    .touch = spy_touch,
    .kind = "spy",
};

/* Whether needle occurs in hay[0..n) (what a store holds, say). */
static inline bool mem_contains(const void *hay, size_t n, const char *needle) {
  size_t m = strlen(needle);
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp((const char *)hay + i, needle, m) == 0)
      return true;
  return false;
}

/* ---- A manager over a spied memory store -------------------------------- */

typedef struct fixture {
  test_clock clock;
  mcs_store *memory;
  spy spy;
  mcs_store *store;
  mcs_keyring *keys;
  mcs_manager *mgr;
} fixture;

/* A manager over `store` with the fixture's key ring and clock; cfg_edit
 * (may be NULL) adjusts the config first. The caller frees it
 * (fixture_free frees only f->mgr). */
static inline mcs_manager *
fixture_manager_on(fixture *f, mcs_store *store,
                   void (*cfg_edit)(mcs_manager_config *)) {
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  cfg.keys = f->keys;
  cfg.store = store;
  cfg.clock = test_clock_read;
  cfg.clock_ud = &f->clock;
  if (cfg_edit)
    cfg_edit(&cfg);
  mcs_manager *m = NULL;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  return m;
}

/* fixture_manager_on the fixture's (spied) store. */
static inline mcs_manager *fixture_manager(fixture *f,
                                           void (*cfg_edit)(mcs_manager_config *)) {
  return fixture_manager_on(f, f->store, cfg_edit);
}

/* cfg_edit (may be NULL) adjusts the config before the manager is made. */
static inline fixture *fixture_new(void (*cfg_edit)(mcs_manager_config *)) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->clock.now = 1700000000;
  mcs_memory_config mc;
  mcs_memory_config_init(&mc);
  mc.clock = test_clock_read;
  mc.clock_ud = &f->clock;
  assert_int_equal(mcs_store_memory_new(&f->memory, &mc), MCS_OK);
  f->spy.inner = f->memory;
  assert_int_equal(mcs_store_new(&f->store, &spy_ops, &f->spy), MCS_OK);
  assert_int_equal(mcs_keyring_new(&f->keys), MCS_OK);
  assert_int_equal(
      mcs_keyring_add(f->keys, 0, test_secret, sizeof test_secret - 1),
      MCS_OK);
  f->mgr = fixture_manager(f, cfg_edit);
  return f;
}

static inline void fixture_free(fixture *f) {
  mcs_manager_free(f->mgr);
  mcs_store_free(f->store);
  mcs_store_free(f->memory);
  mcs_keyring_free(f->keys);
  free(f);
}

/* Turns the first Set-Cookie value into a Cookie header ("name=value"). */
static inline void cookie_header_from(const mcs_session *s, char *out,
                                      size_t out_size) {
  assert_true(mcs_session_cookie_count(s) >= 1);
  const char *sc = mcs_session_cookie(s, 0);
  size_t n = strcspn(sc, ";");
  assert_true(n < out_size);
  memcpy(out, sc, n);
  out[n] = '\0';
}

static inline mcs_session *load(fixture *f, const char *header) {
  mcs_session *s = NULL;
  assert_int_equal(
      mcs_session_load(f->mgr, header, header ? strlen(header) : 0, &s),
      MCS_OK);
  assert_non_null(s);
  return s;
}

#endif /* MCS_TEST_UTIL_H */
