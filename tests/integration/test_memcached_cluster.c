/*
 * Sessions on a cluster of three real memcached servers: how they spread
 * and how few move when a server goes, what a killed (SIGKILL) or stalled
 * (SIGSTOP) server does to them with and without replicas, recovery after
 * a restart, and round trips with replicas. Figures (spread, moves,
 * failover times) are printed on stderr as "figure: ..." lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mc_testutil.h"

#define NODES 3
#define MANY 10000 /* sessions for the spread */
#define FEW 300    /* sessions for the failure tests */
#define IO_MS 300
/* Fast failure detection; retry_s=1 so a returning server is used again
 * within a second. */
#define FAST "io_timeout_ms=300&connect_timeout_ms=300&retry_s=1"

static mc_node node[NODES];
static mc_node *all[NODES] = {&node[0], &node[1], &node[2]};

typedef struct sess {
  char cookie[256];
  char key[MCS_STORE_KEY_MAX + 1];
  size_t owner; /* index of the server that owns the key (replicas=0) */
  int64_t n;    /* the value it should hold */
} sess;

static sess *ss; /* MANY of them */

static int setup_cluster(void **state) {
  (void)state;
  for (int i = 0; i < NODES; i++) {
    if (!node[i].pid &&
        (node[i].port ? mc_node_restart(&node[i]) : mc_node_start(&node[i])))
      return -1;
    if (node[i].paused && mc_node_resume(&node[i]))
      return -1;
    if (mc_node_flush(&node[i]))
      return -1;
  }
  return 0;
}

/* Creates n sessions, each {"n": i}, recording cookie, key and owner. */
static void create(const mt_mgr *m, mcs_store *st, size_t n) {
  for (size_t i = 0; i < n; i++) {
    mcs_session *s = mt_load(m, NULL);
    assert_int_equal(mcs_session_set_int(s, "n", (int64_t)i), MCS_OK);
    assert_int_equal(mcs_session_save(s), MCS_OK);
    mt_cookie(s, ss[i].cookie, sizeof ss[i].cookie);
    memcpy(ss[i].key, s->key, s->key_len + 1);
    ss[i].owner = mt_owner(st, ss[i].key);
    ss[i].n = (int64_t)i;
    mcs_session_free(s);
  }
}

static uint64_t items_on(const mc_node *n) {
  uint64_t v = 0;
  assert_int_equal(mc_node_stat(n, "curr_items", &v), 0);
  return v;
}

/* 10,000 sessions over 3 servers: each holds 3,333 +- 20 %; with one
 * server removed from the URL, only that server's sessions move (they
 * are not found: EXPIRED), at most 40 %. */
static void test_cluster_spread_and_moves(void **state) {
  (void)state;
  mcs_store *st3 = mt_store(all, NODES, FAST);
  mc_node *two[2] = {&node[0], &node[2]};
  mcs_store *st2 = mt_store(two, 2, FAST);
  mt_mgr m3 = mt_mgr_new(st3, NULL), m2 = mt_mgr_new(st2, NULL);
  create(&m3, st3, MANY);
  uint64_t per[NODES];
  for (int i = 0; i < NODES; i++) {
    per[i] = items_on(&node[i]);
    fprintf(stderr, "figure: server %d holds %llu of %d sessions\n", i,
            (unsigned long long)per[i], MANY);
    assert_true(per[i] >= MANY / 3 * 8 / 10 && per[i] <= MANY / 3 * 12 / 10);
  }
  size_t moved = 0;
  for (size_t i = 0; i < MANY; i++) {
    int64_t v = mt_read_n(&m2, ss[i].cookie, NULL);
    moved += v < 0;
    assert_true(v < 0 ? ss[i].owner == 1 : v == ss[i].n);
  }
  fprintf(stderr, "figure: removing server 1 moved %zu of %d (%.1f %%)\n",
          moved, MANY, 100.0 * (double)moved / MANY);
  assert_int_equal(moved, per[1]);
  assert_true(moved <= MANY * 4 / 10);
  mt_mgr_free(&m3);
  mt_mgr_free(&m2);
  mcs_store_free(st3);
  mcs_store_free(st2);
}

/* Loads every session with mt_read_n; counts outcomes by owner, and the
 * slowest failing load. */
typedef struct tally {
  size_t ok, wrong, failed[NODES];
  int codes; /* bit 0: ESTORE seen, bit 1: ETIMEDOUT seen, bit 2: other */
  int64_t worst_fail_ms;
} tally;

static tally load_all(const mt_mgr *m, size_t n) {
  tally t = {0};
  for (size_t i = 0; i < n; i++) {
    int rc;
    int64_t t0 = mcs__mc_now_ms();
    int64_t v = mt_read_n(m, ss[i].cookie, &rc);
    int64_t dt = mcs__mc_now_ms() - t0;
    if (rc == MCS_OK && v == ss[i].n) {
      t.ok++;
      continue;
    }
    if (rc == MCS_OK) {
      t.wrong++;
      continue;
    }
    t.failed[ss[i].owner]++;
    t.codes |= rc == MCS_ESTORE ? 1 : rc == MCS_ETIMEDOUT ? 2 : 4;
    if (dt > t.worst_fail_ms)
      t.worst_fail_ms = dt;
  }
  return t;
}

static size_t owned_by(size_t n, size_t owner) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    c += ss[i].owner == owner;
  return c;
}

/* replicas=0, SIGKILL of server 1: its sessions fail with MCS_ESTORE
 * (fast: connection refused, then skipped), the others load. Restarted
 * empty, it serves again: its sessions are gone (EXPIRED), the rest load,
 * new sessions are created on it. */
static void test_cluster_kill_without_replicas(void **state) {
  (void)state;
  mcs_store *st = mt_store(all, NODES, FAST);
  mt_mgr m = mt_mgr_new(st, NULL);
  create(&m, st, FEW);
  mc_node_kill(&node[1]);
  tally t = load_all(&m, FEW);
  fprintf(stderr,
          "figure: replicas=0, server killed: %zu loaded, %zu "
          "failed (slowest failure %lld ms)\n",
          t.ok, t.failed[1], (long long)t.worst_fail_ms);
  assert_int_equal(t.failed[1], owned_by(FEW, 1));
  assert_int_equal(t.ok + t.failed[1], FEW);
  assert_true(t.codes == 1 && t.worst_fail_ms < IO_MS);
  assert_int_equal(mc_node_restart(&node[1]), 0);
  mt_sleep_ms(1100); /* retry_s */
  t = load_all(&m, FEW);
  assert_int_equal(t.ok, FEW - owned_by(FEW, 1)); /* lost: no replicas */
  assert_int_equal(mt_mgr_stats(&m).expired, owned_by(FEW, 1));
  create(&m, st, 30); /* and it takes new sessions */
  assert_true(items_on(&node[1]) > 0);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

/* Every session loads, then gets n += 1000 through the manager. */
static void bump_all(const mt_mgr *m, size_t n) {
  for (size_t i = 0; i < n; i++) {
    mcs_session *s = mt_load(m, ss[i].cookie);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    assert_int_equal(mcs_session_incr(s, "n", 1000, NULL), MCS_OK);
    assert_int_equal(mcs_session_save(s), MCS_OK);
    mcs_session_free(s);
    ss[i].n += 1000;
  }
}

/* replicas=1, SIGKILL of server 1: every session still loads and can be
 * changed. Restarted empty, server 1 gets its copies back by read
 * repair; then server 0 may die too and still nothing is lost. */
static void test_cluster_kill_with_replicas(void **state) {
  (void)state;
  mcs_store *st = mt_store(all, NODES, FAST "&replicas=1");
  mt_mgr m = mt_mgr_new(st, NULL);
  create(&m, st, FEW);
  mc_node_kill(&node[1]);
  int64_t t0 = mcs__mc_now_ms();
  tally t = load_all(&m, FEW);
  fprintf(stderr,
          "figure: replicas=1, server killed: %zu of %d loaded in "
          "%lld ms\n",
          t.ok, FEW, (long long)(mcs__mc_now_ms() - t0));
  assert_int_equal(t.ok, FEW);
  bump_all(&m, FEW); /* writes while it is down */
  assert_int_equal(mc_node_restart(&node[1]), 0);
  mt_sleep_ms(1100);
  assert_int_equal(load_all(&m, FEW).ok, FEW); /* and repairs server 1 */
  mc_node_kill(&node[0]);
  t = load_all(&m, FEW);
  assert_true(t.ok == FEW && t.wrong == 0);
  assert_int_equal(mt_mgr_stats(&m).expired, 0);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

/* replicas=0, SIGSTOP of server 1: its sessions fail within the I/O
 * timeout (the first with MCS_ETIMEDOUT, the rest at once while it is
 * marked down), the others load; after SIGCONT all load again. */
static void test_cluster_stall_without_replicas(void **state) {
  (void)state;
  mcs_store *st = mt_store(all, NODES, FAST);
  mt_mgr m = mt_mgr_new(st, NULL);
  create(&m, st, FEW);
  assert_int_equal(mc_node_pause(&node[1]), 0);
  tally t = load_all(&m, FEW);
  assert_int_equal(mc_node_resume(&node[1]), 0);
  fprintf(stderr,
          "figure: replicas=0, server stalled: %zu loaded, %zu "
          "failed (slowest failure %lld ms, io_timeout %d ms)\n",
          t.ok, t.failed[1], (long long)t.worst_fail_ms, IO_MS);
  assert_int_equal(t.failed[1], owned_by(FEW, 1));
  assert_true((t.codes & 2) && !(t.codes & 4));
  assert_true(t.worst_fail_ms >= IO_MS - 10 && t.worst_fail_ms < 3 * IO_MS);
  mt_sleep_ms(1100);
  assert_int_equal(load_all(&m, FEW).ok, FEW);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

/* The revision a server holds for a key, read around the replica layer;
 * 0 when it holds none. */
static uint64_t rev_on(mc_node *n, const char *key) {
  mcs_store *raw = mt_store(&n, 1, FAST);
  void *data = NULL;
  size_t len = 0;
  mcs_store_result res;
  mcs__mc_hdr h = {false, 0};
  assert_int_equal(
      mcs_store_get(raw, key, strlen(key), 0, 0, &data, &len, NULL, NULL, &res),
      MCS_OK);
  if (res == MCS_STORE_HIT)
    mcs__mc_hdr_get(data, len, &h);
  mcs_free(data);
  mcs_store_free(raw);
  return h.rev;
}

/* The first session whose replica set includes server 1. */
static size_t on_server1(const mcs_store *st, size_t n) {
  const mcs__mc_store *m = st->ud;
  for (size_t i = 0; i < n; i++) {
    size_t set[2];
    mcs__mc_ring_pick_n(m->ring, ss[i].key, strlen(ss[i].key), 2, set);
    if (set[0] == 1 || set[1] == 1)
      return i;
  }
  fail_msg("no session on server 1");
  return 0;
}

/* replicas=1, SIGSTOP of server 1: every session loads and changes while
 * it is stopped, some are destroyed; after SIGCONT server 1 still holds
 * the OLD copies, yet a reader that uses all three servers (a fresh
 * store, as another application process would have) gets the newest data
 * for every session, and destroyed sessions stay destroyed (tombstones).
 * The writer's retry_s is long so that nothing more reaches server 1
 * while it is stopped (a request sent to a stopped server waits in its
 * socket buffer and is applied when it resumes). */
static void test_cluster_stall_with_replicas(void **state) {
  (void)state;
  mcs_store *st = mt_store(all, NODES,
                           "io_timeout_ms=300&retry_s=30&replicas=1");
  mt_mgr m = mt_mgr_new(st, NULL);
  create(&m, st, FEW);
  size_t probe = on_server1(st, FEW);
  uint64_t old_rev = rev_on(&node[1], ss[probe].key);
  assert_int_equal(mc_node_pause(&node[1]), 0);
  int64_t t0 = mcs__mc_now_ms();
  bump_all(&m, FEW);
  int64_t dt = mcs__mc_now_ms() - t0;
  for (size_t i = 0; i < FEW; i += 10) { /* logouts while it is stopped */
    mcs_session *s = mt_load(&m, ss[i].cookie);
    assert_int_equal(mcs_session_destroy(s), MCS_OK);
    assert_int_equal(mcs_session_save(s), MCS_OK);
    mcs_session_free(s);
    ss[i].n = -1;
  }
  assert_int_equal(mc_node_resume(&node[1]), 0);
  fprintf(stderr,
          "figure: replicas=1, server stalled: %d loads + saves in "
          "%lld ms\n",
          FEW, (long long)dt);
  assert_true(old_rev > 0);
  assert_int_equal(rev_on(&node[1], ss[probe].key), old_rev); /* stale */
  mcs_store *st2 = mt_store(all, NODES, FAST "&replicas=1");
  mt_mgr m2 = mt_mgr_new(st2, NULL);
  tally t = load_all(&m2, FEW);
  assert_true(t.ok == FEW && t.wrong == 0);
  assert_true(rev_on(&node[1], ss[probe].key) > old_rev); /* repaired */
  assert_int_equal(stats_of(st2).timeouts, 0);
  mt_mgr_free(&m2);
  mcs_store_free(st2);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static uint64_t commands(void) {
  uint64_t sum = 0;
  for (int i = 0; i < NODES; i++)
    sum += mt_commands(&node[i]);
  return sum;
}

/* With replicas=1 (two copies): a read is one mg per copy, sent together
 * (one round trip of wall time); an unchanged save costs nothing; a
 * changed save reads both copies, writes the authority, then the other
 * (4 commands, 3 round trips). */
static void test_cluster_replica_round_trips(void **state) {
  (void)state;
  mcs_store *st = mt_store(all, NODES, FAST "&replicas=1");
  mt_mgr m = mt_mgr_new(st, NULL);
  create(&m, st, 1);
  uint64_t c0 = commands(), r0 = stats_of(st).requests;
  mcs_session *s = mt_load(&m, ss[0].cookie);
  assert_int_equal(commands() - c0, 2);
  c0 = commands();
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(commands() - c0, 0);
  assert_int_equal(mcs_session_incr(s, "n", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(commands() - c0, 4);
  mcs_session_free(s);
  assert_int_equal(stats_of(st).requests - r0, 6);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup_cluster)
      T(test_cluster_spread_and_moves),
      T(test_cluster_replica_round_trips),
      T(test_cluster_kill_without_replicas),
      T(test_cluster_kill_with_replicas),
      T(test_cluster_stall_without_replicas),
      T(test_cluster_stall_with_replicas),
#undef T
  };
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not found: skipped\n");
    return 77;
  }
  ss = calloc(MANY, sizeof *ss);
  if (!ss)
    return 1;
  int failed =
      cmocka_run_group_tests_name("memcached_cluster", tests, NULL, NULL);
  for (int i = 0; i < NODES; i++)
    mc_node_stop(&node[i]);
  free(ss);
  return failed;
}
