/*
 * Sessions through mcs_loop over a real memcached: a turn's loads share
 * one connection and arrive as one command each, changed saves are one
 * write, concurrent saves are replayed, and a dead, stalled or replicated
 * store behaves as with the blocking calls (errors, never lost data).
 */
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mc_testutil.h"
#include "loop_drive.h"

static mc_node node, node2;
static mc_node *nodes[2] = {&node, &node2};

#define PARAMS "io_timeout_ms=3000&connect_timeout_ms=2000&retry_s=1"
#define BATCH 64

/* Loads the session named by `cookie` through the loop (it must go
 * pending and succeed) and returns its "n". */
static int64_t load_n(const mt_mgr *m, mcs_loop *loop, const char *cookie) {
  result r = {0};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(m->mgr, loop, cookie,
                                          strlen(cookie), &s, on_done, &r),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(r.rc, MCS_OK);
  int64_t n = -1;
  assert_int_equal(mcs_session_get_int(r.s, "n", &n), MCS_OK);
  mcs_session_free(r.s);
  return n;
}

static int flush_nodes(void **state) {
  (void)state;
  return mc_node_flush(&node) || mc_node_flush(&node2);
}

static uint64_t stat_of(const mc_node *n, const char *name) {
  uint64_t v = 0;
  assert_int_equal(mc_node_stat(n, name, &v), 0);
  return v;
}

static void test_a_turns_loads_share_one_connection(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  static char cookies[BATCH][512];
  for (int i = 0; i < BATCH; i++)
    mt_new_session(&m, i, cookies[i], sizeof cookies[i]);
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, st), MCS_OK);
  uint64_t cmds = mt_commands(&node);
  uint64_t conns = stat_of(&node, "total_connections");
  result r[BATCH] = {0};
  for (int i = 0; i < BATCH; i++) {
    mcs_session *s = NULL;
    assert_int_equal(mcs_session_load_start(m.mgr, loop, cookies[i],
                                            strlen(cookies[i]), &s, on_done,
                                            &r[i]),
                     MCS_PENDING);
  }
  assert_int_equal(mcs_loop_timeout(loop), 0); /* requests wait to go out */
  drive(loop);
  for (int i = 0; i < BATCH; i++) {
    int64_t n = -1;
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].rc, MCS_OK);
    assert_int_equal(mcs_session_outcome(r[i].s), MCS_SESSION_LOADED);
    assert_int_equal(mcs_session_get_int(r[i].s, "n", &n), MCS_OK);
    assert_int_equal(n, i); /* each reply reached its own request */
    mcs_session_free(r[i].s);
  }
  /* One new connection (the loop's), plus the one the harness opened to
   * ask; one command (mg, counted as a touch) per load. */
  assert_int_equal(stat_of(&node, "total_connections") - conns, 1 + 1);
  assert_int_equal(mt_commands(&node) - cmds, BATCH);
  mcs_loop_free(loop);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void test_changed_save_is_one_write_and_replays_conflicts(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 1, PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  char c[512];
  mt_new_session(&m, 10, c, sizeof c);
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, st), MCS_OK);
  result la = {0}, lb = {0};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(m.mgr, loop, c, strlen(c), &s,
                                          on_done, &la),
                   MCS_PENDING);
  assert_int_equal(mcs_session_load_start(m.mgr, loop, c, strlen(c), &s,
                                          on_done, &lb),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(la.rc, MCS_OK);
  assert_int_equal(lb.rc, MCS_OK);
  /* One changed save alone: exactly one ms. */
  assert_int_equal(mcs_session_incr(la.s, "n", 1, NULL), MCS_OK);
  uint64_t cmds = mt_commands(&node);
  result sa = {0}, sb = {0};
  assert_int_equal(mcs_session_save_start(la.s, loop, on_done, &sa),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(sa.rc, MCS_OK);
  assert_int_equal(mt_commands(&node) - cmds, 1);
  /* The other request read the same record: its CAS conflicts, and its
   * change is replayed on the fresh record (on the helper thread). */
  assert_int_equal(mcs_session_incr(lb.s, "n", 5, NULL), MCS_OK);
  assert_int_equal(mcs_session_set_str(lb.s, "b", "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save_start(lb.s, loop, on_done, &sb),
                   MCS_PENDING);
  drive(loop);
  assert_int_equal(sb.rc, MCS_OK);
  assert_int_equal(mt_mgr_stats(&m).cas_retries, 1);
  mcs_session_free(la.s);
  mcs_session_free(lb.s);
  assert_int_equal(mt_read_n(&m, c, NULL), 16);
  mcs_loop_free(loop);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void test_dead_server_fails_fast_through_loop(void **state) {
  (void)state;
  mcs_store *st = open_store(mc_free_port(), PARAMS);
  mt_mgr m = mt_mgr_new(st, NULL);
  mcs_session *s = mt_load(&m, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  char c[512];
  /* A cookie naming a session this store never saw is still a read. */
  {
    mcs_store *mem;
    assert_int_equal(mcs_store_memory_new(&mem, NULL), MCS_OK);
    mt_mgr mm = mt_mgr_new(mem, NULL);
    mt_new_session(&mm, 1, c, sizeof c);
    mt_mgr_free(&mm);
    mcs_store_free(mem);
  }
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, st), MCS_OK);
  result lr = {0}, sr = {0};
  mcs_session *out = NULL;
  assert_int_equal(mcs_session_load_start(m.mgr, loop, c, strlen(c), &out,
                                          on_done, &lr),
                   MCS_PENDING);
  assert_true(drive(loop) < 1000);
  assert_int_equal(lr.rc, MCS_ESTORE);
  assert_null(lr.s);
  /* The save of a new session fails too, and nothing is lost. */
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &sr),
                   MCS_PENDING);
  assert_true(drive(loop) < 1000);
  assert_int_equal(sr.rc, MCS_ESTORE);
  assert_true(mcs_session_dirty(s));
  mcs_session_free(s);
  mcs_loop_free(loop);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void test_stalled_server_times_out_then_recovers(void **state) {
  (void)state;
  mcs_store *st =
      mt_store(nodes, 1, "io_timeout_ms=300&connect_timeout_ms=300&retry_s=1");
  mt_mgr m = mt_mgr_new(st, NULL);
  char c[512];
  mt_new_session(&m, 7, c, sizeof c);
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, st), MCS_OK);
  result r = {0};
  mcs_session *s = NULL;
  assert_int_equal(mc_node_pause(&node), 0);
  assert_int_equal(mcs_session_load_start(m.mgr, loop, c, strlen(c), &s,
                                          on_done, &r),
                   MCS_PENDING);
  int64_t took = drive(loop);
  assert_int_equal(mc_node_resume(&node), 0);
  assert_int_equal(r.rc, MCS_ETIMEDOUT);
  assert_true(took >= 250 && took < 2000);
  /* After retry_s the server is tried again on a fresh connection. */
  mt_sleep_ms(1100);
  assert_int_equal(load_n(&m, loop, c), 7);
  mcs_loop_free(loop);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

static void test_replicated_store_runs_on_helper_thread(void **state) {
  (void)state;
  mcs_store *st = mt_store(nodes, 2, PARAMS "&replicas=1");
  mt_mgr m = mt_mgr_new(st, NULL);
  mcs_loop *loop;
  assert_int_equal(mcs_loop_new(&loop, st), MCS_OK);
  result r = {0};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(m.mgr, loop, NULL, 0, &s, on_done,
                                          &r),
                   MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", 3), MCS_OK);
  assert_int_equal(mcs_session_save_start(s, loop, on_done, &r), MCS_PENDING);
  drive(loop);
  assert_int_equal(r.rc, MCS_OK);
  char c[512];
  mt_cookie(s, c, sizeof c);
  mcs_session_free(s);
  assert_int_equal(load_n(&m, loop, c), 3);
  mcs_loop_free(loop);
  mt_mgr_free(&m);
  mcs_store_free(st);
}

int main(void) {
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not installed: skipping\n");
    return 77;
  }
  if (mc_node_start(&node) != 0 || mc_node_start(&node2) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_a_turns_loads_share_one_connection,
                             flush_nodes),
      cmocka_unit_test_setup(
          test_changed_save_is_one_write_and_replays_conflicts, flush_nodes),
      cmocka_unit_test(test_dead_server_fails_fast_through_loop),
      cmocka_unit_test_setup(test_stalled_server_times_out_then_recovers,
                             flush_nodes),
      cmocka_unit_test_setup(test_replicated_store_runs_on_helper_thread,
                             flush_nodes),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  mc_node_stop(&node);
  mc_node_stop(&node2);
  return rc;
}
