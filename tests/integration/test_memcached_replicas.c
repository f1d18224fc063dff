/*
 * The replicated store (replicas=1 over two real memcached servers), seen
 * from the store API and from each server's raw contents: every operation
 * and result, copies on both servers, read repair of missing and older
 * copies, tombstones, values written without replicas, the failover
 * revision gap, the size limit and a stalled server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mc_testutil.h"

static mc_node node[2];
static mc_node *both[2] = {&node[0], &node[1]};
static mcs_store *rs;     /* replicas=1 over both */
static mcs_store *raw[2]; /* replicas=0, one per server: raw contents */

#define PARAMS "io_timeout_ms=3000&connect_timeout_ms=2000&retry_s=1"

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < 2; i++) {
    if (!node[i].pid && mc_node_restart(&node[i]))
      return -1;
    if (mc_node_flush(&node[i]))
      return -1;
  }
  mt_sleep_ms(1100); /* a server killed by a test is retried by now */
  return 0;
}

/* What server i holds for key: its header (rev 0 when none or absent);
 * returns false when absent. */
static bool held(int i, const char *key, mcs__mc_hdr *h) {
  void *data = NULL;
  size_t len = 0;
  mcs_store_result res;
  *h = (mcs__mc_hdr){false, 0};
  assert_int_equal(mcs_store_get(raw[i], key, strlen(key), 0, 0, &data, &len,
                                 NULL, NULL, &res),
                   MCS_OK);
  if (res == MCS_STORE_HIT)
    mcs__mc_hdr_get(data, len, h);
  mcs_free(data);
  return res == MCS_STORE_HIT;
}

static uint64_t rev_at(int i, const char *key) {
  mcs__mc_hdr h;
  return held(i, key, &h) ? h.rev : 0;
}

static void test_replicas_every_operation(void **state) {
  (void)state;
  mcs_store_result res;
  uint64_t tok = 0, tok2 = 0, tok3 = 0;
  const char *v;
  assert_int_equal(mcs_store_add(rs, "k", 1, "v1", 2, 7, 60, &tok, &res),
                   MCS_OK);
  assert_true(res == MCS_STORE_STORED && tok != 0);
  assert_true(rev_at(0, "k") == 1 && rev_at(1, "k") == 1); /* two copies */
  assert_int_equal(mcs_store_add(rs, "k", 1, "x", 1, 0, 60, NULL, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_EXISTS);
  assert_int_equal(get(rs, "k", 30, &v, &tok2), MCS_STORE_HIT);
  assert_true(strcmp(v, "v1") == 0 && tok2 == tok);
  assert_int_equal(mcs_store_touch(rs, "k", 1, 60, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_TOUCHED);
  assert_int_equal(get(rs, "k", 0, NULL, &tok2), MCS_STORE_HIT);
  assert_int_equal(tok2, tok); /* a touch keeps the token */
  assert_int_equal(mcs_store_cas(rs, "k", 1, "v2", 2, 7, 60, tok, &tok3, &res),
                   MCS_OK);
  assert_true(res == MCS_STORE_STORED && tok3 != tok);
  assert_int_equal(mcs_store_cas(rs, "k", 1, "v3", 2, 7, 60, tok, NULL, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_EXISTS); /* stale token */
  put(rs, "k", "v4", 60);
  assert_int_equal(get(rs, "k", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "v4");
  assert_true(rev_at(0, "k") == 3 && rev_at(1, "k") == 3);
  assert_int_equal(mcs_store_delete(rs, "k", 1, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_DELETED);
  mcs__mc_hdr h;
  for (int i = 0; i < 2; i++) /* tombstones, not deletions */
    assert_true(held(i, "k", &h) && h.tomb && h.rev == 4);
  assert_int_equal(get(rs, "k", 0, NULL, NULL), MCS_STORE_MISS);
  assert_int_equal(mcs_store_delete(rs, "k", 1, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(mcs_store_touch(rs, "k", 1, 60, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(mcs_store_cas(rs, "k", 1, "v5", 2, 0, 60, tok3, NULL, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(mcs_store_add(rs, "k", 1, "new", 3, 0, 60, NULL, &res),
                   MCS_OK); /* over the tombstone */
  assert_int_equal(res, MCS_STORE_STORED);
  assert_int_equal(get(rs, "k", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "new");
  assert_true(rev_at(0, "k") == 5 && rev_at(1, "k") == 5);
}

/* A copy lost (as after a restart) or left behind (as after a stall) is
 * rewritten by the next read; the older copy is never served. */
static void test_replicas_read_repair(void **state) {
  (void)state;
  mcs_store_result res;
  const char *v;
  put(rs, "r", "one", 60);
  put(rs, "r", "two", 60); /* revision 2 on both */
  assert_int_equal(mcs_store_delete(raw[0], "r", 1, &res), MCS_OK);
  assert_int_equal(get(rs, "r", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "two");
  assert_int_equal(rev_at(0, "r"), 2); /* repaired */
  uint8_t old[MCS__MC_HDR_LEN + 3];
  mcs__mc_hdr_put(old, false, 1);
  memcpy(old + MCS__MC_HDR_LEN, "one", 3);
  assert_int_equal(mcs_store_set(raw[1], "r", 1, old, sizeof old, 0, 60, &res),
                   MCS_OK);
  assert_int_equal(get(rs, "r", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "two");
  assert_int_equal(rev_at(1, "r"), 2);
}

/* A value written without replicas (no header) reads as revision 0 and
 * takes updates; a value that only looks like a header is payload. */
static void test_replicas_read_values_without_header(void **state) {
  (void)state;
  mcs_store_result res;
  const char *v;
  uint64_t tok = 0;
  put(raw[0], "old", "legacy", 60);
  put(raw[1], "old", "legacy", 60);
  assert_int_equal(get(rs, "old", 0, &v, &tok), MCS_STORE_HIT);
  assert_true(strcmp(v, "legacy") == 0 && tok == 1);
  assert_int_equal(
      mcs_store_cas(rs, "old", 3, "new", 3, 0, 60, tok, NULL, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
  assert_true(rev_at(0, "old") == 1 && rev_at(1, "old") == 1);
}

/* With the primary down, the next server acts as authority and skips a
 * revision: a write the primary may have applied just before it froze
 * (revision + 1) can never tie with or beat this one. */
static void test_replicas_failover_skips_a_revision(void **state) {
  (void)state;
  const mcs__mc_store *st = rs->ud;
  size_t set[2];
  mcs__mc_ring_pick_n(st->ring, "f", 1, 2, set);
  int primary = (int)set[0], other = 1 - primary;
  put(rs, "f", "a", 60);
  mc_node_kill(&node[primary]);
  put(rs, "f", "b", 60);
  assert_int_equal(rev_at(other, "f"), 3);
  const char *v;
  assert_int_equal(get(rs, "f", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "b");
}

/* Too big with the header: refused before anything is sent, the value
 * kept on both servers. */
static void test_replicas_too_big_keeps_the_value(void **state) {
  (void)state;
  size_t n = MCS_MEMCACHED_ITEM_MAX - MCS__MC_ITEM_OVERHEAD - 3;
  uint8_t *big = calloc(1, n);
  mcs_store_result res;
  uint64_t tok = 0;
  const char *v;
  assert_non_null(big);
  put(rs, "big", "intact", 60);
  assert_int_equal(get(rs, "big", 0, NULL, &tok), MCS_STORE_HIT);
  uint64_t c0 = mt_commands(&node[0]) + mt_commands(&node[1]);
  assert_int_equal(mcs_store_cas(rs, "big", 3, big, n, 0, 60, tok, NULL, &res),
                   MCS_ETOOBIG); /* fits without hdr */
  assert_int_equal(mcs_store_set(rs, "big", 3, big, n + 100, 0, 60, &res),
                   MCS_ETOOBIG);
  assert_int_equal(mt_commands(&node[0]) + mt_commands(&node[1]), c0);
  assert_int_equal(get(rs, "big", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "intact");
  assert_int_equal(mcs_store_cas(rs, "big", 3, big, n - MCS__MC_HDR_LEN, 0, 60,
                                 tok, NULL, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
  free(big);
}

/* One server stalled: reads and writes still succeed, after one I/O
 * timeout at most, and then without waiting while it is marked down. */
static void test_replicas_stalled_server_costs_one_timeout(void **state) {
  (void)state;
  mcs_store *s = mt_store(both, 2, "io_timeout_ms=300&retry_s=30&replicas=1");
  const char *v;
  put(s, "s", "1", 60);
  assert_int_equal(mc_node_pause(&node[1]), 0);
  int64_t t0 = mcs__mc_now_ms();
  mcs_store_result r1 = get(s, "s", 0, &v, NULL);
  int64_t t1 = mcs__mc_now_ms();
  put(s, "s", "2", 60);
  mcs_store_result r2 = get(s, "s", 0, &v, NULL);
  int64_t t2 = mcs__mc_now_ms();
  assert_int_equal(mc_node_resume(&node[1]), 0);
  fprintf(stderr,
          "figure: replicas=1, one server stalled: first read "
          "%lld ms, then a write + a read %lld ms\n",
          (long long)(t1 - t0), (long long)(t2 - t1));
  assert_true(r1 == MCS_STORE_HIT && r2 == MCS_STORE_HIT);
  assert_string_equal(v, "2");
  assert_true(t1 - t0 >= 290 && t1 - t0 < 1000);
  assert_true(t2 - t1 < 250); /* no waiting: a few loopback round trips */
  mcs_store_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
      T(test_replicas_every_operation),
      T(test_replicas_read_repair),
      T(test_replicas_read_values_without_header),
      T(test_replicas_failover_skips_a_revision),
      T(test_replicas_too_big_keeps_the_value),
      T(test_replicas_stalled_server_costs_one_timeout),
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
  rs = mt_store(both, 2, PARAMS "&replicas=1");
  raw[0] = mt_store(&both[0], 1, PARAMS);
  raw[1] = mt_store(&both[1], 1, PARAMS);
  int failed =
      cmocka_run_group_tests_name("memcached_replicas", tests, NULL, NULL);
  for (int i = 0; i < 2; i++) {
    mcs_store_free(raw[i]);
    mc_node_stop(&node[i]);
  }
  mcs_store_free(rs);
  return failed;
}
