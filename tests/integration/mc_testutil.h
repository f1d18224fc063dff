/*
 * Helpers shared by the memcached integration tests: stores on harness
 * nodes (mc_harness.h), raw store access, and session managers over a
 * memcached store. Header-only so each test stays one file; include it
 * after <cmocka.h>.
 */
#ifndef MC_TESTUTIL_H
#define MC_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc_harness.h"
#include "store/memcached/mc_int.h"
#include "session/session_int.h"

static const char mt_secret[] = "0123456789abcdef0123456789abcdef";

static inline void mt_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* "memcached://127.0.0.1:<p1>,...?params" for the given nodes. */
static inline void mt_url(char *out, size_t size, mc_node *const *nodes,
                          size_t n, const char *params) {
  int len = snprintf(out, size, "memcached://");
  for (size_t i = 0; i < n; i++)
    len += snprintf(out + len, size - (size_t)len, "%s127.0.0.1:%u",
                    i ? "," : "", (unsigned)nodes[i]->port);
  snprintf(out + len, size - (size_t)len, "?%s", params ? params : "");
}

static inline mcs_store *mt_store(mc_node *const *nodes, size_t n,
                                  const char *params) {
  char url[512];
  mcs_store *s = NULL;
  mt_url(url, sizeof url, nodes, n, params);
  assert_int_equal(mcs_store_memcached_new(&s, url), MCS_OK);
  return s;
}

static inline mcs_store *open_store(uint16_t port, const char *params) {
  mc_node n = {0, port, false, NULL};
  mc_node *p = &n;
  return mt_store(&p, 1, params);
}

static inline mcs_memcached_stats stats_of(mcs_store *s) {
  mcs_memcached_stats st;
  assert_int_equal(mcs_store_memcached_stats_get(s, &st), MCS_OK);
  return st;
}

static inline void put(mcs_store *s, const char *key, const char *val,
                       uint32_t ttl) {
  mcs_store_result res;
  assert_int_equal(
      mcs_store_set(s, key, strlen(key), val, strlen(val), 0, ttl, &res),
      MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
}

/* get: the result, and the value (NUL-terminated, static) on a hit. */
static inline mcs_store_result get(mcs_store *s, const char *key,
                                   uint32_t touch, const char **val,
                                   uint64_t *cas) {
  static char copy[256];
  void *data = NULL;
  size_t len = 0;
  uint32_t flags;
  mcs_store_result res = 0;
  uint64_t c = 0;
  assert_int_equal(mcs_store_get(s, key, strlen(key), touch, 200, &data, &len,
                                 &c, &flags, &res),
                   MCS_OK);
  if (res == MCS_STORE_HIT) {
    assert_true(len < sizeof copy && c != 0);
    memcpy(copy, data, len);
    copy[len] = '\0';
    if (val)
      *val = copy;
    if (cas)
      *cas = c;
  }
  mcs_free(data);
  return res;
}

/* The sum of a node's command counters: every request the store sends
 * moves exactly one of them (mg counts as cmd_get or cmd_touch, ms as
 * cmd_set, md as delete_hits or delete_misses). */
static inline uint64_t mt_commands(const mc_node *n) {
  const char *names[] = {"cmd_get", "cmd_set", "cmd_touch", "delete_hits",
                         "delete_misses"};
  uint64_t sum = 0, v;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    assert_int_equal(mc_node_stat(n, names[i], &v), 0);
    sum += v;
  }
  return sum;
}

static inline mcs__mc_req req_of(mcs__mc_cmd cmd, const char *key) {
  mcs__mc_req r;
  memset(&r, 0, sizeof r);
  r.cmd = cmd;
  r.key = key;
  r.key_len = key ? strlen(key) : 0;
  return r;
}

/* ---- Session managers over a memcached store ---- */

typedef struct mt_mgr {
  mcs_keyring *keys;
  mcs_manager *mgr;
} mt_mgr;

/* A manager on `store`; cfg_edit (may be NULL) adjusts the config. */
static inline mt_mgr mt_mgr_new(mcs_store *store,
                                void (*cfg_edit)(mcs_manager_config *)) {
  mt_mgr m;
  mcs_manager_config cfg;
  assert_int_equal(mcs_keyring_new(&m.keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(m.keys, 0, mt_secret, sizeof mt_secret - 1),
                   MCS_OK);
  mcs_manager_config_init(&cfg);
  cfg.keys = m.keys;
  cfg.store = store;
  if (cfg_edit)
    cfg_edit(&cfg);
  assert_int_equal(mcs_manager_new(&m.mgr, &cfg), MCS_OK);
  return m;
}

static inline void mt_mgr_free(mt_mgr *m) {
  mcs_manager_free(m->mgr);
  mcs_keyring_free(m->keys);
}

static inline mcs_manager_stats mt_mgr_stats(const mt_mgr *m) {
  mcs_manager_stats st;
  mcs_manager_stats_get(m->mgr, &st);
  return st;
}

/* Loads the session named by `cookie` (NULL: none); asserts MCS_OK. */
static inline mcs_session *mt_load(const mt_mgr *m, const char *cookie) {
  mcs_session *s = NULL;
  assert_int_equal(
      mcs_session_load(m->mgr, cookie, cookie ? strlen(cookie) : 0, &s),
      MCS_OK);
  return s;
}

/* The Cookie header naming a saved session ("name=value"). */
static inline void mt_cookie(const mcs_session *s, char *out, size_t size) {
  assert_true(mcs_session_cookie_count(s) >= 1);
  const char *sc = mcs_session_cookie(s, 0);
  size_t n = strcspn(sc, ";");
  assert_true(n < size);
  memcpy(out, sc, n);
  out[n] = '\0';
}

/* Creates a session holding {"n": value} and writes its cookie. */
static inline void mt_new_session(const mt_mgr *m, int64_t value, char *cookie,
                                  size_t size) {
  mcs_session *s = mt_load(m, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", value), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mt_cookie(s, cookie, size);
  mcs_session_free(s);
}

/* The server (index into the URL's list) that owns a store key. */
static inline size_t mt_owner(const mcs_store *store, const char *key) {
  const mcs__mc_store *st = store->ud;
  return mcs__mc_ring_pick(st->ring, key, strlen(key));
}

/* Loads the session and returns its "n" (-1 when it is not LOADED);
 * *rc_out (may be NULL) gets the load's return code, which is not
 * asserted. */
static inline int64_t mt_read_n(const mt_mgr *m, const char *cookie,
                                int *rc_out) {
  mcs_session *s = NULL;
  int64_t v = -1;
  int rc = mcs_session_load(m->mgr, cookie, strlen(cookie), &s);
  if (rc_out)
    *rc_out = rc;
  if (rc == MCS_OK && mcs_session_outcome(s) == MCS_SESSION_LOADED)
    assert_int_equal(mcs_session_get_int(s, "n", &v), MCS_OK);
  mcs_session_free(s);
  return v;
}

/* The store key of the session a cookie names (for raw access with
 * mc_node_raw); read from the session's internal struct (session/session_int.h). */
static inline void mt_store_key(const mt_mgr *m, const char *cookie, char *key,
                                size_t size) {
  mcs_session *s = mt_load(m, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_true(s->key_len < size);
  memcpy(key, s->key, s->key_len + 1);
  mcs_session_free(s);
}

#endif /* MC_TESTUTIL_H */
