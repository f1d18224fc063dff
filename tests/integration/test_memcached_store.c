/*
 * The memcached store against a real memcached started by the harness:
 * every operation and result, expiry sliding, long TTLs, keys that must
 * never reach the wire, the item size limit, pipelining, a restart and a
 * stalled server. Every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "mc_testutil.h"

static mc_node node;
static mcs_store *store; /* on node, generous timeouts (sanitizers) */

/* ======================================================================== */
/* Against a real memcached                                                 */
/* ======================================================================== */

static int live_setup(void **state) {
  (void)state;
  return mc_node_flush(&node);
}

static void test_live_round_trips_every_op_and_result(void **state) {
  (void)state;
  mcs_store_result res;
  const char *v;
  uint64_t cas = 0, cas2 = 0, new_cas = 0;
  const char bin[] = "a\r\nb\0c";
  assert_int_equal(get(store, "k", 0, NULL, NULL), MCS_STORE_MISS);
  assert_int_equal(mcs_store_add(store, "k", 1, bin, sizeof bin, 0xffffffffu,
                                 60, &cas, &res), MCS_OK);
  assert_true(res == MCS_STORE_STORED && cas != 0);
  assert_int_equal(mcs_store_add(store, "k", 1, "x", 1, 0, 60, NULL, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_EXISTS);
  void *data;
  size_t len;
  uint32_t flags;
  assert_int_equal(mcs_store_get(store, "k", 1, 30, 0, &data, &len, &cas2,
                                 &flags, &res), MCS_OK);
  assert_true(res == MCS_STORE_HIT && len == sizeof bin &&
              flags == 0xffffffffu && cas2 == cas);
  assert_memory_equal(data, bin, len);
  mcs_free(data);
  assert_int_equal(mcs_store_cas(store, "k", 1, "", 0, 0, 60, cas, &new_cas,
                                 &res), MCS_OK);
  assert_true(res == MCS_STORE_STORED && new_cas != 0 && new_cas != cas);
  assert_int_equal(get(store, "k", 0, &v, &cas2), MCS_STORE_HIT);
  assert_true(v[0] == '\0' && cas2 == new_cas); /* empty value */
  put(store, "k", "v2", 60);
  assert_int_equal(mcs_store_touch(store, "k", 1, 60, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_TOUCHED);
  assert_int_equal(mcs_store_touch(store, "nope", 4, 60, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(mcs_store_delete(store, "k", 1, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_DELETED);
  assert_int_equal(mcs_store_delete(store, "k", 1, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
}

static void test_live_cas_conflict_and_missing_key(void **state) {
  (void)state;
  mcs_store_result res;
  uint64_t cas = 0;
  put(store, "c", "1", 60);
  assert_int_equal(get(store, "c", 0, NULL, &cas), MCS_STORE_HIT);
  put(store, "c", "2", 60); /* someone else writes: the token is stale */
  assert_int_equal(mcs_store_cas(store, "c", 1, "3", 1, 0, 60, cas, NULL,
                                 &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_EXISTS);
  assert_int_equal(mcs_store_cas(store, "gone", 4, "3", 1, 0, 60, cas, NULL,
                                 &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  const char *v;
  assert_int_equal(get(store, "c", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "2");
}

/* Memcached's clock ticks in whole seconds, so the margins are 1 s. */
static void test_live_get_with_touch_slides_expiry(void **state) {
  (void)state;
  put(store, "slide", "x", 2);
  put(store, "still", "x", 2);
  mt_sleep_ms(1000);
  assert_int_equal(get(store, "slide", 5, NULL, NULL), MCS_STORE_HIT);
  mt_sleep_ms(2200);
  assert_int_equal(get(store, "slide", 0, NULL, NULL), MCS_STORE_HIT);
  assert_int_equal(get(store, "still", 0, NULL, NULL), MCS_STORE_MISS);
}

/* Over 30 days memcached reads T as a Unix time ("Expiration times"): a
 * 40-day TTL sent as is would be a date in 1970 and expire at once. */
static void test_live_long_ttl_is_sent_as_unix_time(void **state) {
  (void)state;
  const uint32_t days40 = 40u * 86400u;
  char reply[64];
  put(store, "long", "x", days40);
  assert_int_equal(mc_node_raw(&node, "mg long t\r\n", "\r\n", reply,
                               sizeof reply), 0);
  long t = 0;
  assert_int_equal(sscanf(reply, "HD t%ld", &t), 1);
  /* The server converts back with its own whole-second clock, which
   * may be a few seconds off ours. */
  if (t < (long)days40 - 10 || t > (long)days40 + 10)
    fail_msg("remaining TTL %ld, want about %ld", t, (long)days40);
}

/* The wrapper checks keys; here the store's own operations are called
 * directly, as a buggy wrapper or another caller could, to show the
 * protocol layer refuses them itself and nothing reaches the server. */
static void test_live_bad_keys_never_reach_the_wire(void **state) {
  (void)state;
  static char long_key[252];
  memset(long_key, 'k', 251);
  const char *bad[] = {"a b", "victim\r\nmd victim", "x\nmd victim", "",
                       long_key, "tab\tkey", "del\x7f"};
  put(store, "victim", "alive", 60);
  uint64_t before = mt_commands(&node), reqs = stats_of(store).requests;
  const mcs_store_ops *ops = &store->ops;
  void *ud = store->ud;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *k = bad[i];
    size_t n = strlen(k);
    mcs_store_value val = {MCS__BUF_INIT, 0};
    uint64_t cas;
    uint32_t fl;
    mcs_store_result res;
    assert_int_equal(ops->get(ud, k, n, 5, &val, &cas, &fl, &res),
                     MCS_EINVAL);
    assert_int_equal(ops->set(ud, k, n, "v", 1, 0, 9, &res), MCS_EINVAL);
    assert_int_equal(ops->add(ud, k, n, "v", 1, 0, 9, &cas, &res),
                     MCS_EINVAL);
    assert_int_equal(ops->cas(ud, k, n, "v", 1, 0, 9, 1, &cas, &res),
                     MCS_EINVAL);
    assert_int_equal(ops->del(ud, k, n, &res), MCS_EINVAL);
    assert_int_equal(ops->touch(ud, k, n, 9, &res), MCS_EINVAL);
    assert_int_equal(mcs_store_get(store, k, n, 0, 0, (void **)&val.buf.data,
                                   &val.buf.len, NULL, NULL, &res),
                     MCS_EINVAL);
    mcs__buf_free(&val.buf);
  }
  assert_int_equal(mt_commands(&node), before);
  assert_int_equal(stats_of(store).requests, reqs);
  const char *v;
  assert_int_equal(get(store, "victim", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "alive");
}

/* memcached unlinks a key's item when a write to it is too large
 * (proto_parser.c, "Avoid stale data persisting in cache because we failed
 * alloc"), so the store refuses such writes before they are sent: a
 * too-big write, even a CAS with a valid token, leaves the value intact. */
static void test_live_item_size_limit(void **state) {
  (void)state;
  const size_t max = MCS_MEMCACHED_ITEM_MAX;
  uint8_t *big = malloc(max + 1);
  assert_non_null(big);
  for (size_t i = 0; i <= max; i++)
    big[i] = (uint8_t)(i * 131u);
  mcs_store_result res;
  uint64_t cas = 0, before = mt_commands(&node);
  put(store, "big", "intact", 60);
  assert_int_equal(get(store, "big", 0, NULL, &cas), MCS_STORE_HIT);
  before = mt_commands(&node);
  const size_t sizes[] = {max + 1, max, max - MCS__MC_ITEM_OVERHEAD};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(mcs_store_cas(store, "big", 3, big, sizes[i], 0, 60,
                                   cas, NULL, &res), MCS_ETOOBIG);
    assert_int_equal(mcs_store_set(store, "big", 3, big, sizes[i], 0, 60,
                                   &res), MCS_ETOOBIG);
    assert_int_equal(mcs_store_add(store, "big2", 4, big, sizes[i], 0, 60,
                                   NULL, &res), MCS_ETOOBIG);
  }
  assert_int_equal(mt_commands(&node), before); /* nothing was sent */
  const char *v;
  assert_int_equal(get(store, "big", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "intact");
  /* The largest value the store sends is accepted by memcached. */
  size_t fits = max - MCS__MC_ITEM_OVERHEAD - 3;
  assert_int_equal(mcs_store_cas(store, "big", 3, big, fits, 0, 60, cas,
                                 NULL, &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(mcs_store_get(store, "big", 3, 0, 0, &data, &len, NULL,
                                 NULL, &res), MCS_OK);
  assert_true(res == MCS_STORE_HIT && len == fits);
  assert_memory_equal(data, big, fits);
  mcs_free(data);
  assert_int_equal(mcs_store_get(store, "big", 3, 0, 1000, &data, &len, NULL,
                                 NULL, &res), MCS_ETOOBIG);
  put(store, "small", "ok", 60); /* the store still works */
  assert_int_equal(get(store, "small", 0, NULL, NULL), MCS_STORE_HIT);
  free(big);
}

/* Pipelining: quiet requests answered only when they have something to
 * say, ended by mn / MN (protocol.txt "Meta No-Op"). */
static void test_live_quiet_pipeline(void **state) {
  (void)state;
  mcs_memcached_server srv = {"127.0.0.1", node.port};
  mcs__mc_conn *c;
  assert_int_equal(mcs__mc_conn_open(&srv, 2000, &c), MCS_OK);
  mcs__buf b = MCS__BUF_INIT;
  const char *keys[] = {"p1", "p-missing", "p3"};
  mcs__mc_req reqs[3];
  for (uint32_t i = 0; i < 3; i += 2) {
    mcs__mc_req r = req_of(MCS__MC_SET, keys[i]);
    r.data = keys[i], r.data_len = 2, r.ttl = 60, r.quiet = true;
    assert_int_equal(mcs__mc_format(&b, &r), MCS_OK);
  }
  for (uint32_t i = 0; i < 3; i++) {
    reqs[i] = req_of(MCS__MC_GET, keys[i]);
    reqs[i].quiet = true, reqs[i].has_opaque = true, reqs[i].opaque = i;
    assert_int_equal(mcs__mc_format(&b, &reqs[i]), MCS_OK);
  }
  mcs__mc_req mn = req_of(MCS__MC_NOOP, NULL);
  assert_int_equal(mcs__mc_format(&b, &mn), MCS_OK);
  struct iovec iov = {b.data, b.len};
  size_t sent;
  int64_t deadline = mcs__mc_now_ms() + 2000;
  assert_int_equal(mcs__mc_conn_sendv(c, &iov, 1, deadline, &sent), MCS_OK);
  mcs__mc_resp r;
  int hits = 0;
  for (;;) {
    assert_int_equal(mcs__mc_conn_read(c, 100, deadline, &r, NULL), MCS_OK);
    if (r.status == MCS__MC_MN)
      break;
    assert_true(r.has_opaque && r.opaque < 3 && r.opaque != 1);
    assert_int_equal(mcs__mc_check(&reqs[r.opaque], &r), MCS_OK);
    assert_memory_equal(r.value, keys[r.opaque], 2);
    hits++;
  }
  assert_int_equal(hits, 2);
  assert_true(mcs__mc_conn_done(c));
  mcs__mc_conn_close(c);
  mcs__buf_free(&b);
}

/* A restart closes every pooled connection; the store notices before
 * sending (the idle connection reads as closed) and reconnects. */
static void test_live_survives_server_restart(void **state) {
  (void)state;
  put(store, "r", "1", 60);
  assert_int_equal(mc_node_restart(&node), 0);
  /* A read goes out on the pooled connection the restart killed (reads
   * skip the idle probe) and is sent again on a fresh one: one retry. */
  uint64_t retries = stats_of(store).retries;
  assert_int_equal(get(store, "r", 0, NULL, NULL), MCS_STORE_MISS);
  assert_int_equal(stats_of(store).retries, retries + 1);
  put(store, "r", "2", 60);
  assert_int_equal(get(store, "r", 0, NULL, NULL), MCS_STORE_HIT);
}

/* A write after a restart never goes out on a dead connection (its effect
 * would be unknown): the idle probe finds it closed, and a fresh one
 * takes the write. No retry, no error. */
static void test_live_write_after_restart_probes_the_connection(void **state) {
  (void)state;
  put(store, "w", "1", 60);
  assert_int_equal(get(store, "w", 0, NULL, NULL), MCS_STORE_HIT);
  assert_int_equal(mc_node_restart(&node), 0);
  uint64_t retries = stats_of(store).retries;
  put(store, "w", "2", 60);
  assert_int_equal(stats_of(store).retries, retries);
  const char *v = NULL;
  assert_int_equal(get(store, "w", 0, &v, NULL), MCS_STORE_HIT);
  assert_string_equal(v, "2");
}

static void test_live_paused_server_times_out_then_recovers(void **state) {
  (void)state;
  mcs_store *s = open_store(node.port, "io_timeout_ms=300&retry_s=1");
  mcs_store_result res;
  put(s, "p", "1", 60);
  assert_int_equal(mc_node_pause(&node), 0);
  int64_t t0 = mcs__mc_now_ms();
  void *d = NULL;
  size_t len;
  int rc = mcs_store_get(s, "p", 1, 0, 0, &d, &len, NULL, NULL, &res);
  int64_t t1 = mcs__mc_now_ms();
  /* Marked down: the next request fails at once, without waiting. */
  int rc2 = mcs_store_get(s, "p", 1, 0, 0, &d, &len, NULL, NULL, &res);
  int64_t t2 = mcs__mc_now_ms();
  assert_int_equal(mc_node_resume(&node), 0);
  assert_int_equal(rc, MCS_ETIMEDOUT);
  assert_true(t1 - t0 >= 290 && t1 - t0 < 300 + 700);
  assert_int_equal(rc2, MCS_ESTORE);
  assert_true(t2 - t1 < 50);
  mt_sleep_ms(1100); /* retry_s passes: one probe reconnects */
  assert_int_equal(get(s, "p", 0, NULL, NULL), MCS_STORE_HIT);
  mcs_store_free(s);
}

int main(void) {
  const struct CMUnitTest live[] = {
#define LIVE(t) cmocka_unit_test_setup(t, live_setup)
      LIVE(test_live_round_trips_every_op_and_result),
      LIVE(test_live_cas_conflict_and_missing_key),
      LIVE(test_live_get_with_touch_slides_expiry),
      LIVE(test_live_long_ttl_is_sent_as_unix_time),
      LIVE(test_live_bad_keys_never_reach_the_wire),
      LIVE(test_live_item_size_limit),
      LIVE(test_live_quiet_pipeline),
      LIVE(test_live_survives_server_restart),
      LIVE(test_live_write_after_restart_probes_the_connection),
      LIVE(test_live_paused_server_times_out_then_recovers),
#undef LIVE
  };
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not found: live tests skipped\n");
    return 77;
  }
  if (mc_node_start(&node) != 0) {
    fprintf(stderr, "could not start memcached\n");
    return 1;
  }
  store = open_store(node.port, "io_timeout_ms=5000&connect_timeout_ms=2000"
                                "&retry_s=1");
  int failed = cmocka_run_group_tests_name("memcached_live", live, NULL, NULL);
  mcs_store_free(store);
  mc_node_stop(&node);
  return failed;
}
