/*
 * Sessions through mcs_loop over a real Redis (the store's engine,
 * src/store/redis/rd_async.c): a turn's loads go out in one write on one
 * connection, one command each (GETEX); a changed save is one command
 * (EVALSHA) and a conflict is replayed; NOSCRIPT, AUTH and SELECT on the
 * engine's own connections; a killed server fails fast and a restarted
 * one is served again. The library's send() calls are counted (the
 * linker sends them to __wrap_send).
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


static rd_server srv, locked;
static char pwfile[64], badpwfile[64];
#define PARAMS "io_timeout_ms=3000&connect_timeout_ms=2000&retry_s=1"
#define BATCH 64
static const char secret[] = "0123456789abcdef0123456789abcdef";

typedef struct env {
  mcs_store *store;
  mcs_keyring *keys;
  mcs_manager *mgr;
  mcs_loop *loop;
} env;

static env env_new(unsigned port, const char *rest) {
  env e;
  char url[512], err[160];
  mcs_manager_config cfg;
  snprintf(url, sizeof url, "redis://127.0.0.1:%u%s", port, rest);
  if (mcs_store_redis_new_err(&e.store, url, err, sizeof err) != MCS_OK)
    fail_msg("%s: %s", url, err);
  assert_int_equal(mcs_keyring_new(&e.keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(e.keys, 0, secret, sizeof secret - 1),
                   MCS_OK);
  mcs_manager_config_init(&cfg);
  cfg.keys = e.keys;
  cfg.store = e.store;
  assert_int_equal(mcs_manager_new(&e.mgr, &cfg), MCS_OK);
  assert_int_equal(mcs_loop_new(&e.loop, e.store), MCS_OK);
  return e;
}

static void env_free(env *e) {
  mcs_loop_free(e->loop);
  mcs_manager_free(e->mgr);
  mcs_keyring_free(e->keys);
  mcs_store_free(e->store);
}

/* A stored session holding {"n": n}; its Cookie header into out. */
static void new_session(const env *e, int64_t n, char *out, size_t size) {
  loop_new_session(e->mgr, n, out, size);
}

static result load(const env *e, const char *cookie) {
  result r = {0, 0, NULL};
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load_start(e->mgr, e->loop, cookie,
                                          strlen(cookie), &s, on_done, &r),
                   MCS_PENDING);
  drive(e->loop);
  assert_int_equal(r.calls, 1);
  return r;
}

static void test_a_turns_loads_are_one_write(void **state) {
  (void)state;
  env e = env_new(srv.node.port, "?" PARAMS);
  static char cookies[BATCH][512];
  for (int i = 0; i < BATCH; i++)
    new_session(&e, i, cookies[i], sizeof cookies[i]);
  long long cmds = rd_commands(&srv);
  long long conns = rd_info(&srv, "stats", "total_connections_received");
  result r[BATCH];
  memset(r, 0, sizeof r);
  atomic_store(&sends, 0);
  for (int i = 0; i < BATCH; i++) {
    mcs_session *s = NULL;
    assert_int_equal(mcs_session_load_start(e.mgr, e.loop, cookies[i],
                                            strlen(cookies[i]), &s, on_done,
                                            &r[i]),
                     MCS_PENDING);
  }
  drive(e.loop);
  assert_int_equal(atomic_load(&sends), 1); /* 64 GETEX, one send */
  for (int i = 0; i < BATCH; i++) {
    int64_t n = -1;
    assert_int_equal(r[i].rc, MCS_OK);
    assert_int_equal(mcs_session_outcome(r[i].s), MCS_SESSION_LOADED);
    assert_int_equal(mcs_session_get_int(r[i].s, "n", &n), MCS_OK);
    assert_int_equal(n, i); /* each reply reached its own request */
    mcs_session_free(r[i].s);
  }
  /* One new connection (the engine's; the harness asks on one more), one
   * command per load. */
  assert_int_equal(rd_info(&srv, "stats", "total_connections_received") -
                       conns, 1 + 1);
  assert_int_equal(rd_commands(&srv) - cmds, BATCH);
  env_free(&e);
}

static void test_changed_save_is_one_command_and_conflicts_replay(void **st0) {
  (void)st0;
  env e = env_new(srv.node.port, "?" PARAMS);
  char c[512], reply[64];
  new_session(&e, 10, c, sizeof c);
  result la = load(&e, c), lb = load(&e, c);
  assert_int_equal(la.rc, MCS_OK);
  assert_int_equal(lb.rc, MCS_OK);
  /* The server forgets its scripts: the first cas is NOSCRIPT + EVAL. */
  assert_int_equal(rd_cmd(&srv, "SCRIPT FLUSH", reply, sizeof reply), 0);
  mcs_redis_stats st;
  assert_int_equal(mcs_session_incr(la.s, "n", 1, NULL), MCS_OK);
  result sa = {0, 0, NULL}, sb = {0, 0, NULL};
  assert_int_equal(mcs_session_save_start(la.s, e.loop, on_done, &sa),
                   MCS_PENDING);
  drive(e.loop);
  assert_int_equal(sa.rc, MCS_OK);
  assert_int_equal(mcs_store_redis_stats_get(e.store, &st), MCS_OK);
  assert_int_equal(st.script_loads, 1);
  /* The other request read the same record: its cas conflicts and its
   * change is replayed on the fresh record (on the helper thread). */
  assert_int_equal(mcs_session_incr(lb.s, "n", 5, NULL), MCS_OK);
  assert_int_equal(mcs_session_save_start(lb.s, e.loop, on_done, &sb),
                   MCS_PENDING);
  drive(e.loop);
  assert_int_equal(sb.rc, MCS_OK);
  mcs_session_free(la.s);
  mcs_session_free(lb.s);
  result r = load(&e, c);
  int64_t n = -1;
  assert_int_equal(mcs_session_get_int(r.s, "n", &n), MCS_OK);
  assert_int_equal(n, 16);
  mcs_session_free(r.s);
  /* A changed save alone: one command. */
  r = load(&e, c);
  assert_int_equal(mcs_session_incr(r.s, "n", 1, NULL), MCS_OK);
  long long cmds = rd_commands(&srv);
  assert_int_equal(mcs_session_save_start(r.s, e.loop, on_done, &sa),
                   MCS_PENDING);
  drive(e.loop);
  assert_int_equal(sa.rc, MCS_OK);
  assert_int_equal(rd_commands(&srv) - cmds, 1);
  mcs_session_free(r.s);
  env_free(&e);
}

static void test_handshake_on_the_engines_connections(void **st0) {
  (void)st0;
  char rest[256], c[512], err[160];
  snprintf(rest, sizeof rest, "/2?password_file=%s&" PARAMS, pwfile);
  env e = env_new(locked.node.port, rest);
  new_session(&e, 7, c, sizeof c);
  result r = load(&e, c);
  int64_t n = -1;
  assert_int_equal(r.rc, MCS_OK);
  assert_int_equal(mcs_session_get_int(r.s, "n", &n), MCS_OK);
  assert_int_equal(n, 7);
  mcs_session_free(r.s);
  env_free(&e);
  snprintf(rest, sizeof rest, "?password_file=%s&" PARAMS, badpwfile);
  env bad = env_new(locked.node.port, rest);
  r = load(&bad, c);
  assert_int_equal(r.rc, MCS_ESTORE);
  assert_int_equal(mcs_store_redis_last_error(bad.store, err, sizeof err),
                   MCS_OK);
  assert_non_null(strstr(err, "WRONGPASS"));
  env_free(&bad);
}

static void test_killed_then_restarted_through_the_loop(void **st0) {
  (void)st0;
  rd_server r;
  char c[512];
  assert_int_equal(rd_server_start(&r, NULL, false), 0);
  env e = env_new(r.node.port, "?io_timeout_ms=500&connect_timeout_ms=500"
                               "&retry_s=1");
  new_session(&e, 1, c, sizeof c);
  assert_int_equal(load(&e, c).rc, MCS_OK);
  mcs_session_free(load(&e, c).s);
  mc_node_kill(&r.node);
  int64_t t0 = now_ms();
  result x = load(&e, c);
  assert_true(x.rc == MCS_ESTORE || x.rc == MCS_ETIMEDOUT);
  assert_true(now_ms() - t0 < 1500);
  t0 = now_ms();
  assert_int_equal(load(&e, c).rc, MCS_ESTORE); /* marked down: at once */
  assert_true(now_ms() - t0 < 200);
  assert_int_equal(mc_node_restart(&r.node), 0);
  struct timespec ts = {1, 100000000L};
  nanosleep(&ts, NULL);
  x = load(&e, c); /* served again: the data went with the process */
  assert_int_equal(x.rc, MCS_OK);
  assert_int_equal(mcs_session_outcome(x.s), MCS_SESSION_EXPIRED);
  mcs_session_free(x.s);
  env_free(&e);
  mc_node_stop(&r.node);
  rd_dir_remove(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_turns_loads_are_one_write),
      cmocka_unit_test(test_changed_save_is_one_command_and_conflicts_replay),
      cmocka_unit_test(test_handshake_on_the_engines_connections),
      cmocka_unit_test(test_killed_then_restarted_through_the_loop),
  };
  if (!rd_harness_available()) {
    fprintf(stderr, "redis-server not found: skipped\n");
    return 77;
  }
  if (rd_temp_file(pwfile, sizeof pwfile, "pw-for-loop\n") != 0 ||
      rd_temp_file(badpwfile, sizeof badpwfile, "not-it\n") != 0 ||
      rd_pair_start(&srv, &locked, "pw-for-loop") != 0)
    return 1;
  int failed = cmocka_run_group_tests_name("redis_loop", tests, NULL, NULL);
  rd_pair_stop(&srv, &locked);
  unlink(pwfile);
  unlink(badpwfile);
  return failed;
}
