/*
 * Sessions through mcs_loop over a real Redis Cluster (three masters with
 * a replica each: rd_harness.c), on the Redis engine's cluster side
 * (src/store/redis/rd_async.c over store/pipe.c): a turn's loads go out
 * in one write per master, one command each; a slot migrated by hand is
 * followed by MOVED (once, then the map is read again on the loop) and,
 * mid-migration, by ASK (ASKING and the command to the new master, the
 * map untouched), for reads and writes alike; a killed master gives
 * errors within the timeout, never a miss, and its sessions are served
 * again once its replica is promoted. The library's send() calls are
 * counted (the linker sends them to __wrap_send).
 */
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rd_harness.h"
#include "mcsession.h"
#include "loop_drive.h"
#include "send_count.h"
#include "store/redis/rd_int.h"


#define PARAMS "io_timeout_ms=1000&connect_timeout_ms=500&retry_s=0"
#define BATCH 64
static const char secret[] = "0123456789abcdef0123456789abcdef";

static rd_cluster cl;
static mcs_store *store;
static mcs_keyring *keys;
static mcs_manager *mgr;
static mcs_loop *loop;
static char cookies[BATCH][512];

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A session's id and store key, from its "session=..." cookie. */
static mcs_admin_ref ref_of(const char *cookie) {
  mcs_admin_ref ref;
  const char *v = strchr(cookie, '=') + 1;
  assert_int_equal(mcs_admin_session_resolve(mgr, v, strlen(v), NULL, &ref),
                   MCS_OK);
  return ref;
}

/* The hash slot of a session's store key. */
static unsigned slot_of(const char *cookie) {
  mcs_admin_ref ref = ref_of(cookie);
  return mcs__rd_slot(ref.key, ref.key_len);
}

/* Starts loads of cookies[0..n) on `l` (one turn), results into r. */
static void start_loads(mcs_manager *m, mcs_loop *l, int n, result *r) {
  memset(r, 0, (size_t)n * sizeof *r);
  for (int i = 0; i < n; i++) {
    mcs_session *s = NULL;
    assert_int_equal(mcs_session_load_start(m, l, cookies[i],
                                            strlen(cookies[i]), &s, on_done,
                                            &r[i]),
                     MCS_PENDING);
  }
}

/* The loads of cookies[0..n) (start_loads) succeeded, each with its own
 * session ({"n": i}: each reply reached its own request); frees them. */
static void expect_results(result *r, int n) {
  for (int i = 0; i < n; i++) {
    int64_t v = -1;
    assert_int_equal(r[i].rc, MCS_OK);
    assert_int_equal(mcs_session_get_int(r[i].s, "n", &v), MCS_OK);
    assert_int_equal(v, i);
    mcs_session_free(r[i].s);
  }
}

static result load(const char *cookie) {
  result r = {0, 0, NULL};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(mgr, loop, cookie, strlen(cookie),
                                          &s, on_done, &r),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(r.calls, 1);
  return r;
}

/* Loads `cookie` through the loop: MCS_OK and {"n": want}. */
static void expect_n(const char *cookie, int64_t want) {
  result r = load(cookie);
  int64_t n = -1;
  assert_int_equal(r.rc, MCS_OK);
  assert_int_equal(mcs_session_outcome(r.s), MCS_SESSION_LOADED);
  assert_int_equal(mcs_session_get_int(r.s, "n", &n), MCS_OK);
  assert_int_equal(n, want);
  mcs_session_free(r.s);
}

/* Loads, adds 1 and saves through the loop (GETEX, then EVALSHA). */
static void incr_through_loop(const char *cookie) {
  result r = load(cookie), sv = {0, 0, NULL};
  assert_int_equal(r.rc, MCS_OK);
  assert_int_equal(mcs_session_incr(r.s, "n", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save_start(r.s, loop, on_done, &sv),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(sv.rc, MCS_OK);
  mcs_session_free(r.s);
}

/* Commands the store sends, summed over the servers in `on` (INFO
 * commandstats: replicas count what they replay, so masters only). */
static long long commands_of(const bool *on) {
  long long sum = 0;
  for (size_t m = 0; m < cl.count; m++)
    if (on[m])
      sum += rd_commands(&cl.srv[m]);
  return sum;
}

static mcs_redis_stats stats(void) {
  mcs_redis_stats st;
  assert_int_equal(mcs_store_redis_stats_get(store, &st), MCS_OK);
  return st;
}

/* A store that has not read the slot map yet: the first loads of a turn
 * wait for it (one CLUSTER SLOTS, on the loop), then go; none is lost. */
static void fresh_store_reads_the_map_on_the_loop(void) {
  char url[512];
  mcs_store *fresh;
  mcs_manager *m2;
  mcs_loop *l2;
  mcs_manager_config cfg;
  mcs_redis_stats st;
  result r[3];
  rd_cluster_url(&cl, url, sizeof url, PARAMS);
  assert_int_equal(mcs_store_redis_new(&fresh, url), MCS_OK);
  mcs_manager_config_init(&cfg);
  cfg.keys = keys;
  cfg.store = fresh;
  assert_int_equal(mcs_manager_new(&m2, &cfg), MCS_OK);
  assert_int_equal(mcs_loop_new(&l2, fresh), MCS_OK);
  start_loads(m2, l2, 3, r);
  drive(l2);
  expect_results(r, 3);
  assert_int_equal(mcs_store_redis_stats_get(fresh, &st), MCS_OK);
  assert_int_equal(st.slot_refreshes, 1);
  assert_int_equal(st.requests, 3);
  mcs_loop_free(l2);
  mcs_manager_free(m2);
  mcs_store_free(fresh);
}

static void test_a_turns_loads_go_out_one_write_per_master(void **st0) {
  (void)st0;
  bool on[RD_CLUSTER_MAX] = {false};
  size_t masters = 0;
  for (int i = 0; i < BATCH; i++) {
    loop_new_session(mgr, i, cookies[i], sizeof cookies[i]);
    int m = rd_cluster_master_of(&cl, slot_of(cookies[i]));
    assert_true(m >= 0);
    masters += !on[m];
    on[m] = true;
  }
  assert_int_equal(masters, 3); /* the sessions spread over the three */
  fresh_store_reads_the_map_on_the_loop();
  for (int i = 0; i < BATCH; i++)
    expect_n(cookies[i], i); /* connections to every master open */
  long long cmds = commands_of(on);
  result r[BATCH];
  atomic_store(&sends, 0);
  start_loads(mgr, loop, BATCH, r);
  drive(loop);
  /* 64 GETEX: one send per master, one command per load. */
  assert_int_equal(atomic_load(&sends), (int)masters);
  assert_int_equal(commands_of(on) - cmds, BATCH);
  expect_results(r, BATCH);
  /* A changed save: one command too. */
  cmds = commands_of(on);
  incr_through_loop(cookies[1]);
  assert_true(commands_of(on) - cmds <= 2 + 1); /* + EVAL once */
  expect_n(cookies[1], 2);
}

/* Starts moving the slot of cookies[i] (with its key) to another master
 * (rd_cluster_migrate_start). */
static rd_migration migrate_start(int i) {
  mcs_admin_ref ref = ref_of(cookies[i]);
  rd_migration mg;
  assert_int_equal(rd_cluster_migrate_start(&cl, ref.key, ref.key_len, &mg),
                   0);
  return mg;
}

/* Ends the migration: every node knows the slot's new owner. */
static void migrate_end(const rd_migration *mg) {
  assert_int_equal(rd_cluster_migrate_end(&cl, mg, 10000), 0);
}

/* Mid-migration the old master answers -ASK: the engine sends ASKING and
 * the command to the new master in one write, this once, and keeps its
 * map; a changed save (EVALSHA, then EVAL there: the new master has not
 * seen the script) goes the same way. */
static void test_ask_during_a_migration_on_the_loop(void **st0) {
  (void)st0;
  int64_t want = 5; /* cookies[5] holds 5 */
  rd_migration mg = migrate_start(5);
  mcs_redis_stats before = stats();
  expect_n(cookies[5], want);
  incr_through_loop(cookies[5]);
  expect_n(cookies[5], want + 1);
  mcs_redis_stats after = stats();
  /* read, read + write (the save's), read: each once -ASK */
  assert_int_equal(after.redirects - before.redirects, 4);
  assert_int_equal(after.slot_refreshes, before.slot_refreshes);
  migrate_end(&mg);
}

/* A slot moved by hand, the engine's map not told: the old master
 * answers -MOVED once, the command goes to the new one (a write too: it
 * was not executed), the slot is corrected at once and the whole map is
 * read again on the loop before a later request (at most every 100 ms). */
static void test_moved_after_a_hand_migrated_slot(void **st0) {
  (void)st0;
  rd_migration mg = migrate_start(9);
  migrate_end(&mg);
  mcs_redis_stats before = stats();
  expect_n(cookies[9], 9);
  mcs_redis_stats after = stats();
  assert_int_equal(after.redirects - before.redirects, 1);
  sleep_ms(150);
  incr_through_loop(cookies[9]); /* the map is read again first */
  expect_n(cookies[9], 10);
  after = stats();
  assert_int_equal(after.redirects - before.redirects, 1);
  assert_true(after.slot_refreshes > before.slot_refreshes);
  /* Another slot migrated meanwhile is found by its write's MOVED. */
  mg = migrate_start(13);
  migrate_end(&mg);
  before = stats();
  incr_through_loop(cookies[13]);
  assert_true(stats().redirects - before.redirects >= 1);
  expect_n(cookies[13], 14);
}

/* A master is killed: its sessions fail through the loop with errors
 * within the timeout (never a miss, never a hang) until the cluster has
 * promoted its replica (cluster-node-timeout 1 s); the engine reads the
 * map again and serves them from the new master. */
static void test_killed_master_then_failover_on_the_loop(void **st0) {
  (void)st0;
  assert_true(rd_cluster_kill_master_of(&cl, slot_of(cookies[2])) >= 0);
  int64_t t0 = now_ms();
  int errors = 0;
  for (;;) {
    int64_t t = now_ms();
    result r = load(cookies[2]);
    /* io_timeout_ms + connect_timeout_ms, with room for a loaded box */
    assert_true(now_ms() - t < 2500);
    if (r.rc == MCS_OK) {
      int64_t n = -1;
      assert_int_equal(mcs_session_outcome(r.s), MCS_SESSION_LOADED);
      assert_int_equal(mcs_session_get_int(r.s, "n", &n), MCS_OK);
      assert_int_equal(n, 2);
      mcs_session_free(r.s);
      break;
    }
    assert_true(r.rc == MCS_ESTORE || r.rc == MCS_ETIMEDOUT);
    errors++;
    assert_true(now_ms() - t0 < 15000);
    sleep_ms(50);
  }
  fprintf(stderr, "failover on the loop: %d errors, served again after "
                  "%lld ms\n", errors, (long long)(now_ms() - t0));
  assert_true(errors > 0);
  assert_int_equal(rd_cluster_wait_ok(&cl, 5000), 0);
  for (int i = 0; i < BATCH; i++) {
    result r = load(cookies[i]);
    if (r.rc != MCS_OK) {
      char err[200];
      mcs_store_redis_last_error(store, err, sizeof err);
      fail_msg("session %d: %d (%s)", i, r.rc, err);
    }
    mcs_session_free(r.s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_turns_loads_go_out_one_write_per_master),
      /* Before the migrations by hand: a replica promoted later might not
       * have heard of a slot its master was given by SETSLOT NODE. */
      cmocka_unit_test(test_killed_master_then_failover_on_the_loop),
      cmocka_unit_test(test_ask_during_a_migration_on_the_loop),
      cmocka_unit_test(test_moved_after_a_hand_migrated_slot),
  };
  mcs_manager_config cfg;
  int rc = rd_cluster_setup(&cl, PARAMS, &store);
  if (rc)
    return rc;
  if (mcs_keyring_new(&keys) != MCS_OK ||
      mcs_keyring_add(keys, 0, secret, sizeof secret - 1) != MCS_OK) {
    rd_cluster_stop(&cl);
    return 1;
  }
  mcs_manager_config_init(&cfg);
  cfg.keys = keys;
  cfg.store = store;
  if (mcs_manager_new(&mgr, &cfg) != MCS_OK ||
      mcs_loop_new(&loop, store) != MCS_OK) {
    rd_cluster_stop(&cl);
    return 1;
  }
  int failed =
      cmocka_run_group_tests_name("redis_cluster_loop", tests, NULL, NULL);
  mcs_loop_free(loop);
  mcs_manager_free(mgr);
  mcs_keyring_free(keys);
  mcs_store_free(store);
  rd_cluster_stop(&cl);
  return failed;
}
