/*
 * The Redis store on a real Redis Cluster (three masters, each with a
 * replica: rd_harness.c): keys spread over the three masters, a slot
 * migrated by hand (ASK, then MOVED, each counted), a resharding (slots
 * moved with redis-cli --cluster reshard, under traffic) loses nothing,
 * a failover (a master killed, its replica promoted) is survived with
 * errors bounded in number and time, and sessions run through mcs_loop
 * (on the store's engine: test_redis_cluster_loop.c has its tests).
 */
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rd_harness.h"
#include "store/redis/rd_int.h"

#define KEYS 300
#define PARAMS "io_timeout_ms=1000&connect_timeout_ms=500&retry_s=0"

static rd_cluster cl;
static mcs_store *store;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void key_of(int i, char *out, size_t size) {
  snprintf(out, size, "mcs:k%d", i);
}

static int put_i(int i) {
  char k[32], v[32];
  mcs_store_result res;
  key_of(i, k, sizeof k);
  int n = snprintf(v, sizeof v, "v%d", i);
  return mcs_store_set(store, k, strlen(k), v, (size_t)n, 0, 600, &res);
}

/* MCS_OK when key i reads back as written. */
static int check_i(int i) {
  char k[32], v[32];
  void *d = NULL;
  size_t len = 0;
  mcs_store_result res;
  key_of(i, k, sizeof k);
  int n = snprintf(v, sizeof v, "v%d", i);
  int rc = mcs_store_get(store, k, strlen(k), 600, 64, &d, &len, NULL, NULL,
                         &res);
  if (rc == MCS_OK && (res != MCS_STORE_HIT || len != (size_t)n ||
                       memcmp(d, v, len) != 0))
    rc = MCS_EPROTO;
  mcs_free(d);
  return rc;
}

static void test_keys_spread_over_the_three_masters(void **st0) {
  (void)st0;
  for (int i = 0; i < KEYS; i++)
    assert_int_equal(put_i(i), MCS_OK);
  int per[RD_CLUSTER_MAX] = {0};
  for (int i = 0; i < KEYS; i++) {
    char k[32];
    key_of(i, k, sizeof k);
    int m = rd_cluster_master_of(&cl, mcs__rd_slot(k, strlen(k)));
    assert_true(m >= 0);
    per[m]++;
  }
  int used = 0;
  for (size_t m = 0; m < cl.count; m++)
    used += per[m] > 0;
  assert_int_equal(used, 3);
  for (size_t m = 0; m < cl.count; m++)
    assert_true(per[m] == 0 || per[m] > KEYS / 6); /* none nearly empty */
  for (int i = 0; i < KEYS; i++)
    assert_int_equal(check_i(i), MCS_OK);
}

/* One slot caught mid-migration, by hand ("Redis cluster specification",
 * "ASK redirection"): the slot is MIGRATING on its master and IMPORTING
 * on another, and the key has moved. The old master answers -ASK: the
 * store must send ASKING and the command to the new one, once, without
 * changing its slot map; a write goes the same way. When the slot is
 * assigned to the new master, the old one answers -MOVED once and the
 * store reads the map again. */
static void test_ask_during_a_migration(void **st0) {
  (void)st0;
  const int i = KEYS + 1;
  char k[32];
  rd_migration mg;
  key_of(i, k, sizeof k);
  assert_int_equal(put_i(i), MCS_OK);
  assert_int_equal(rd_cluster_migrate_start(&cl, k, strlen(k), &mg), 0);
  mcs_redis_stats before, after;
  assert_int_equal(mcs_store_redis_stats_get(store, &before), MCS_OK);
  assert_int_equal(check_i(i), MCS_OK); /* read: -ASK, then ASKING */
  assert_int_equal(put_i(i), MCS_OK);   /* write: the same */
  assert_int_equal(check_i(i), MCS_OK);
  assert_int_equal(mcs_store_redis_stats_get(store, &after), MCS_OK);
  assert_int_equal(after.redirects - before.redirects, 3);
  assert_int_equal(after.slot_refreshes, before.slot_refreshes);
  /* The migration ends: every node learns the slot's new owner. */
  assert_int_equal(rd_cluster_migrate_end(&cl, &mg, 10000), 0);
  /* -MOVED: the slot is corrected at once, and the whole map is read
   * again before a later request (more slots may have moved), at most
   * one read per 100 ms (rd_slots.c: a resharding sends many MOVED). */
  assert_int_equal(check_i(i), MCS_OK);
  assert_int_equal(mcs_store_redis_stats_get(store, &after), MCS_OK);
  assert_int_equal(after.redirects - before.redirects, 4);
  sleep_ms(150);
  assert_int_equal(check_i(i), MCS_OK);
  assert_int_equal(mcs_store_redis_stats_get(store, &after), MCS_OK);
  assert_int_equal(after.redirects - before.redirects, 4);
  assert_true(after.slot_refreshes > before.slot_refreshes);
}

/* redis-cli --cluster reshard: 2000 slots (with their keys) from the
 * master of slot 0 to another. The store learns it from MOVED (and ASK
 * for a slot caught mid-migration) and reads the map again. */
static void test_resharding_is_followed(void **st0) {
  (void)st0;
  char from[64], to[64], addr[32], reply[256];
  int src = rd_cluster_master_of(&cl, 0);
  int dst = rd_cluster_master_of(&cl, MCS__RD_SLOTS - 1);
  assert_true(src >= 0 && dst >= 0 && src != dst);
  assert_int_equal(rd_cmd(&cl.srv[src], "CLUSTER MYID", reply, sizeof reply),
                   0);
  snprintf(from, sizeof from, "%.40s", strchr(reply, '\n') + 1);
  assert_int_equal(rd_cmd(&cl.srv[dst], "CLUSTER MYID", reply, sizeof reply),
                   0);
  snprintf(to, sizeof to, "%.40s", strchr(reply, '\n') + 1);
  snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)cl.srv[src].node.port);
  mcs_redis_stats before;
  assert_int_equal(mcs_store_redis_stats_get(store, &before), MCS_OK);
  const char *argv[] = {"/usr/bin/redis-cli", "--cluster", "reshard", addr,
                        "--cluster-from", from, "--cluster-to", to,
                        "--cluster-slots", "2000", "--cluster-yes", NULL};
  pid_t pid;
  extern char **environ;
  /* Its stdout (a line per slot moved) is noise in the test's log. */
  posix_spawn_file_actions_t fa;
  assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
  assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
                                                    O_WRONLY, 0),
                   0);
  assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL,
                               (char *const *)(void *)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  /* Traffic while it runs: every operation must succeed (ASK, MOVED). */
  int st = 0, rounds = 0;
  while (waitpid(pid, &st, WNOHANG) != pid) {
    for (int i = 0; i < KEYS; i += 7)
      assert_int_equal(check_i(i), MCS_OK);
    assert_true(++rounds < 2000);
  }
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(rd_cluster_master_of(&cl, 0), dst);
  for (int i = 0; i < KEYS; i++)
    assert_int_equal(check_i(i), MCS_OK);
  for (int i = 0; i < KEYS; i++)
    assert_int_equal(put_i(i), MCS_OK);
  mcs_redis_stats after;
  assert_int_equal(mcs_store_redis_stats_get(store, &after), MCS_OK);
  assert_true(after.redirects > before.redirects);
  assert_true(after.slot_refreshes > before.slot_refreshes);
}

/* A master is killed: its replica takes over after the cluster's node
 * timeout (1 s here). Meanwhile its keys fail with errors (never a miss,
 * never a hang); afterwards every key is served again. */
static void test_failover_is_survived(void **st0) {
  (void)st0;
  char k[32];
  key_of(1, k, sizeof k);
  assert_true(rd_cluster_kill_master_of(&cl, mcs__rd_slot(k, strlen(k))) >=
              0);
  int64_t t0 = mcs__rd_now_ms();
  int errors = 0;
  for (;;) {
    int64_t t = mcs__rd_now_ms();
    int rc = check_i(1);
    assert_true(mcs__rd_now_ms() - t < 2500); /* bounded: no hang */
    if (rc == MCS_OK)
      break;
    assert_true(rc == MCS_ESTORE || rc == MCS_ETIMEDOUT);
    errors++;
    assert_true(mcs__rd_now_ms() - t0 < 15000);
    sleep_ms(50);
  }
  fprintf(stderr, "failover: %d errors, served again after %lld ms\n",
          errors, (long long)(mcs__rd_now_ms() - t0));
  /* The other masters may say CLUSTERDOWN (an error, never a miss) until
   * they have heard of the new master too. */
  assert_int_equal(rd_cluster_wait_ok(&cl, 5000), 0);
  for (int i = 0; i < KEYS; i++) {
    int rc = check_i(i);
    if (rc != MCS_OK) {
      char err[200];
      mcs_store_redis_last_error(store, err, sizeof err);
      fail_msg("key %d: %d (%s)", i, rc, err);
    }
  }
  assert_int_equal(put_i(1), MCS_OK);
}

/* Sessions work on a loop unchanged (the cluster engine's own tests are
 * test_redis_cluster_loop.c). */
static void on_done(void *ud, int rc, mcs_session *s) {
  int *out = ud;
  *out = rc;
  mcs_session_free(s);
}

static void test_sessions_through_a_loop(void **st0) {
  (void)st0;
  static const char secret[] = "0123456789abcdef0123456789abcdef";
  mcs_keyring *keys;
  mcs_manager *mgr;
  mcs_manager_config cfg;
  mcs_loop *loop;
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(keys, 0, secret, sizeof secret - 1),
                   MCS_OK);
  mcs_manager_config_init(&cfg);
  cfg.keys = keys;
  cfg.store = store;
  assert_int_equal(mcs_manager_new(&mgr, &cfg), MCS_OK);
  assert_int_equal(mcs_loop_new(&loop, store), MCS_OK);
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(mgr, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char cookie[512];
  const char *sc = mcs_session_cookie(s, 0);
  size_t n = strcspn(sc, ";");
  memcpy(cookie, sc, n);
  cookie[n] = '\0';
  mcs_session_free(s);
  int rc = 1;
  s = NULL;
  assert_int_equal(mcs_session_load_start(mgr, loop, cookie, n, &s, on_done,
                                          &rc),
                   MCS_PENDING);
  int64_t t0 = mcs__rd_now_ms();
  while (mcs_loop_pending(loop) > 0) {
    struct pollfd pfd = {mcs_loop_fd(loop), POLLIN, 0};
    (void)poll(&pfd, 1, 100);
    mcs_loop_run(loop);
    assert_true(mcs__rd_now_ms() - t0 < 5000);
  }
  assert_int_equal(rc, MCS_OK);
  mcs_loop_free(loop);
  mcs_manager_free(mgr);
  mcs_keyring_free(keys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys_spread_over_the_three_masters),
      cmocka_unit_test(test_ask_during_a_migration),
      cmocka_unit_test(test_resharding_is_followed),
      cmocka_unit_test(test_sessions_through_a_loop),
      cmocka_unit_test(test_failover_is_survived),
  };
  int rc = rd_cluster_setup(&cl, PARAMS, &store);
  if (rc)
    return rc;
  int failed = cmocka_run_group_tests_name("redis_cluster", tests, NULL, NULL);
  mcs_store_free(store);
  rd_cluster_stop(&cl);
  return failed;
}
