/*
 * The Redis store against real servers, beyond the shared contract
 * (test_store_contract.c): the CAS script (its SHA-1 is the server's,
 * NOSCRIPT after SCRIPT FLUSH or a restart is answered with the text),
 * AUTH from a password file and SELECT, and failures with clear errors
 * (mcs_store_redis_last_error): a wrong password, a database the server
 * does not have, a server that does not speak RESP, one killed (errors
 * within the timeout, no hang) and restarted (served again), one
 * stalled, a value another client wrote without the header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rd_harness.h"
#include "store/redis/rd_int.h"

#define SLOW "io_timeout_ms=3000&connect_timeout_ms=2000"

static rd_server plain;  /* no password */
static rd_server locked; /* requirepass */
static const char password[] = "s3cret-\x01-pass";
static char pwfile[64], badpwfile[64], emptyfile[64];

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* "redis://127.0.0.1:<port><rest>". */
static mcs_store *open_url(unsigned port, const char *rest) {
  char url[512];
  mcs_store *s = NULL;
  char err[160];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u%s", port, rest);
  int rc = mcs_store_redis_new_err(&s, url, err, sizeof err);
  if (rc)
    fail_msg("%s: %s", url, err);
  return s;
}

/* The same with "?<params>". */
static mcs_store *open_q(unsigned port, const char *params) {
  char rest[400];
  snprintf(rest, sizeof rest, "?%s", params);
  return open_url(port, rest);
}

static mcs_store *open_plain(const char *params) {
  return open_q(plain.node.port, params);
}

static int get_rc(mcs_store *s, const char *key, mcs_store_result *res) {
  void *d = NULL;
  size_t len;
  int rc = mcs_store_get(s, key, strlen(key), 0, 0, &d, &len, NULL, NULL, res);
  mcs_free(d);
  return rc;
}

static void last_error(mcs_store *s, char *out, size_t size) {
  assert_int_equal(mcs_store_redis_last_error(s, out, size), MCS_OK);
}

static int64_t now_ms(void) { return mcs__rd_now_ms(); }

static mcs_redis_stats stats(mcs_store *s) {
  mcs_redis_stats st;
  assert_int_equal(mcs_store_redis_stats_get(s, &st), MCS_OK);
  return st;
}

/* ---- The CAS script ---- */

static void test_script_sha_is_the_servers_and_noscript_is_answered(void **st0) {
  (void)st0;
  char reply[256], cmd[128];
  mcs_store *s = open_plain(SLOW);
  mcs_store_result res;
  uint64_t t = 0;
  assert_int_equal(rd_cmd(&plain, "SCRIPT FLUSH", reply, sizeof reply), 0);
  assert_int_equal(mcs_store_set(s, "sk", 2, "1", 1, 0, 60, &res), MCS_OK);
  void *d = NULL;
  size_t len;
  assert_int_equal(mcs_store_get(s, "sk", 2, 0, 0, &d, &len, &t, NULL, &res),
                   MCS_OK);
  mcs_free(d);
  /* The server has no script: NOSCRIPT, then EVAL with the text. */
  assert_int_equal(mcs_store_cas(s, "sk", 2, "2", 1, 0, 60, t, &t, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
  assert_int_equal(stats(s).script_loads, 1);
  /* EVAL cached it under the SHA-1 of its text: ours. */
  snprintf(cmd, sizeof cmd, "SCRIPT EXISTS %s", mcs__rd_cas_sha);
  assert_int_equal(rd_cmd(&plain, cmd, reply, sizeof reply), 0);
  assert_string_equal(reply, "*1\r\n:1\r\n");
  assert_int_equal(mcs_store_cas(s, "sk", 2, "3", 1, 0, 60, t, &t, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
  assert_int_equal(stats(s).script_loads, 1); /* EVALSHA from now on */
  mcs_store_free(s);
}

/* Values of other clients have no header: an error, never a miss or a
 * made-up token. */
static void test_foreign_value_is_a_protocol_error(void **st0) {
  (void)st0;
  char reply[64];
  mcs_store *s = open_plain(SLOW);
  mcs_store_result res;
  assert_int_equal(rd_cmd(&plain, "SET foreign plain", reply, sizeof reply), 0);
  assert_int_equal(get_rc(s, "foreign", &res), MCS_EPROTO);
  mcs_store_free(s);
}

/* ---- AUTH and SELECT ---- */

static void test_password_file_and_database(void **st0) {
  (void)st0;
  char url[512], err[160], reply[64];
  mcs_store_result res;
  mcs_store *s = NULL;
  snprintf(url, sizeof url, "/?password_file=%s&db=3&" SLOW, pwfile);
  s = open_url(locked.node.port, url);
  assert_int_equal(mcs_store_set(s, "db3", 3, "x", 1, 0, 60, &res), MCS_OK);
  assert_int_equal(get_rc(s, "db3", &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_HIT);
  mcs_store_free(s);
  /* The key is in database 3, not 0 (the server's own view). */
  assert_int_equal(rd_cmd(&locked, "AUTH s3cret", reply, sizeof reply), 0);
  snprintf(url, sizeof url, "/0?password_file=%s&" SLOW, pwfile);
  s = open_url(locked.node.port, url);
  assert_int_equal(get_rc(s, "db3", &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  mcs_store_free(s);
  (void)err;
}

static void test_wrong_password_no_password_wrong_db(void **st0) {
  (void)st0;
  char params[256], err[160];
  mcs_store_result res;
  snprintf(params, sizeof params, "password_file=%s&" SLOW, badpwfile);
  mcs_store *s = open_q(locked.node.port, params);
  int64_t t0 = now_ms();
  assert_int_equal(get_rc(s, "k", &res), MCS_ESTORE);
  assert_true(now_ms() - t0 < 3000);
  last_error(s, err, sizeof err);
  assert_non_null(strstr(err, "WRONGPASS"));
  assert_null(strstr(err, "wrong-pass")); /* never the password */
  mcs_store_free(s);
  s = open_q(locked.node.port, SLOW);
  assert_int_equal(get_rc(s, "k", &res), MCS_ESTORE);
  last_error(s, err, sizeof err);
  assert_non_null(strstr(err, "NOAUTH"));
  mcs_store_free(s);
  s = open_url(plain.node.port, "/99?" SLOW);
  assert_int_equal(get_rc(s, "k", &res), MCS_ESTORE);
  last_error(s, err, sizeof err);
  assert_non_null(strstr(err, "DB index is out of range"));
  mcs_store_free(s);
}

static void test_password_file_problems_are_clear(void **st0) {
  (void)st0;
  char url[256], err[200];
  mcs_store *s = NULL;
  snprintf(url, sizeof url, "redis://127.0.0.1:%u?password_file=/nonexistent",
           plain.node.port);
  assert_int_equal(mcs_store_redis_new_err(&s, url, err, sizeof err),
                   MCS_EINVAL);
  assert_null(s);
  assert_non_null(strstr(err, "cannot open password_file '/nonexistent'"));
  snprintf(url, sizeof url, "redis://127.0.0.1:%u?password_file=%s",
           plain.node.port, emptyfile);
  assert_int_equal(mcs_store_redis_new_err(&s, url, err, sizeof err),
                   MCS_EINVAL);
  assert_non_null(strstr(err, "is empty"));
}

/* ---- Servers that fail ---- */

static void test_non_redis_server_is_a_protocol_error(void **st0) {
  (void)st0;
  mc_node mc;
  char err[160];
  mcs_store_result res;
  if (!mc_harness_available())
    skip();
  assert_int_equal(mc_node_start(&mc), 0);
  mcs_store *s = open_q(mc.port, SLOW);
  int64_t t0 = now_ms();
  assert_int_equal(get_rc(s, "k", &res), MCS_EPROTO);
  assert_true(now_ms() - t0 < 3000);
  last_error(s, err, sizeof err);
  assert_non_null(strstr(err, "not RESP"));
  assert_true(stats(s).protocol_errors >= 1);
  mcs_store_free(s);
  mc_node_stop(&mc);
}

/* Killed: refused at once (no hang), then skipped for retry_s;
 * restarted: served again after retry_s. */
static void test_killed_then_restarted_server(void **st0) {
  (void)st0;
  rd_server r;
  char err[160];
  mcs_store_result res;
  assert_int_equal(rd_server_start(&r, NULL, false), 0);
  mcs_store *s = open_q(r.node.port,
                          "io_timeout_ms=300&connect_timeout_ms=300&retry_s=1");
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 60, &res), MCS_OK);
  mc_node_kill(&r.node);
  int64_t t0 = now_ms();
  int rc = get_rc(s, "k", &res);
  assert_true(rc == MCS_ESTORE || rc == MCS_ETIMEDOUT);
  assert_true(now_ms() - t0 < 700); /* within connect + I/O timeouts */
  t0 = now_ms();
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 60, &res), MCS_ESTORE);
  assert_true(now_ms() - t0 < 100); /* marked down: fails fast */
  last_error(s, err, sizeof err);
  assert_true(err[0] != '\0');
  assert_int_equal(mc_node_restart(&r.node), 0);
  sleep_ms(1100);
  assert_int_equal(get_rc(s, "k", &res), MCS_OK); /* no persistence: */
  assert_int_equal(res, MCS_STORE_MISS);          /* a clean server */
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 60, &res), MCS_OK);
  mcs_store_free(s);
  mc_node_stop(&r.node);
  rd_dir_remove(&r);
}

/* A restart while connections are pooled: a read goes again on a fresh
 * one; the cas after it finds no script (NOSCRIPT) and sends the text. */
static void test_restart_with_pooled_connections(void **st0) {
  (void)st0;
  rd_server r;
  mcs_store_result res;
  uint64_t t = 0;
  assert_int_equal(rd_server_start(&r, NULL, false), 0);
  mcs_store *s = open_q(r.node.port, SLOW);
  assert_int_equal(mcs_store_add(s, "k", 1, "1", 1, 0, 60, &t, &res), MCS_OK);
  assert_int_equal(mcs_store_cas(s, "k", 1, "2", 1, 0, 60, t, &t, &res),
                   MCS_OK);
  assert_int_equal(mc_node_restart(&r.node), 0);
  assert_int_equal(get_rc(s, "k", &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_MISS);
  uint64_t loads = stats(s).script_loads;
  assert_int_equal(mcs_store_add(s, "k", 1, "1", 1, 0, 60, &t, &res), MCS_OK);
  assert_int_equal(mcs_store_cas(s, "k", 1, "2", 1, 0, 60, t, &t, &res),
                   MCS_OK);
  assert_int_equal(res, MCS_STORE_STORED);
  assert_int_equal(stats(s).script_loads, loads + 1);
  mcs_store_free(s);
  mc_node_stop(&r.node);
  rd_dir_remove(&r);
}

static void test_stalled_server_times_out(void **st0) {
  (void)st0;
  mcs_store_result res;
  mcs_store *s = open_plain("io_timeout_ms=300&retry_s=1");
  assert_int_equal(mcs_store_set(s, "p", 1, "1", 1, 0, 60, &res), MCS_OK);
  assert_int_equal(mc_node_pause(&plain.node), 0);
  int64_t t0 = now_ms();
  int rc = get_rc(s, "p", &res);
  int64_t t1 = now_ms();
  assert_int_equal(mc_node_resume(&plain.node), 0);
  assert_int_equal(rc, MCS_ETIMEDOUT);
  assert_true(t1 - t0 >= 290 && t1 - t0 < 1000);
  assert_true(stats(s).timeouts >= 1);
  sleep_ms(1100);
  assert_int_equal(get_rc(s, "p", &res), MCS_OK);
  assert_int_equal(res, MCS_STORE_HIT);
  mcs_store_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_script_sha_is_the_servers_and_noscript_is_answered),
      cmocka_unit_test(test_foreign_value_is_a_protocol_error),
      cmocka_unit_test(test_password_file_and_database),
      cmocka_unit_test(test_wrong_password_no_password_wrong_db),
      cmocka_unit_test(test_password_file_problems_are_clear),
      cmocka_unit_test(test_non_redis_server_is_a_protocol_error),
      cmocka_unit_test(test_killed_then_restarted_server),
      cmocka_unit_test(test_restart_with_pooled_connections),
      cmocka_unit_test(test_stalled_server_times_out),
  };
  if (!rd_harness_available()) {
    fprintf(stderr, "redis-server not found: skipped\n");
    return 77;
  }
  (void)password;
  if (rd_temp_file(pwfile, sizeof pwfile, "s3cret\n") != 0 ||
      rd_temp_file(badpwfile, sizeof badpwfile, "wrong-pass\n") != 0 ||
      rd_temp_file(emptyfile, sizeof emptyfile, "\n") != 0 ||
      rd_pair_start(&plain, &locked, "s3cret") != 0)
    return 1;
  int failed = cmocka_run_group_tests_name("redis_store", tests, NULL, NULL);
  rd_pair_stop(&plain, &locked);
  unlink(pwfile);
  unlink(badpwfile);
  unlink(emptyfile);
  return failed;
}
