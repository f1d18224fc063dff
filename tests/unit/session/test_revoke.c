/* Per-user revocation (revoke.c, revcache.c) through the public API, on
 * the memory store with a clock the test moves; the spy store counts
 * every store operation. Two managers on one store play two processes.
 * Here: revoking and binding, the cache and its interval, the envelope's
 * binding and the config; the user's record itself (keys, TTLs,
 * unreadable records, store errors, logging): test_revoke_record.c. */
#include "revoke_fixture.h"

/* ---- Revoking and binding ------------------------------------------------ */

static void test_revoke_ends_sessions_bound_before(void **state) {
  (void)state;
  fixture *f = fx();
  char c1[512], c2[512];
  login(f->mgr, "alice", c1, sizeof c1);
  login(f->mgr, "alice", c2, sizeof c2); /* a second device */
  assert_int_equal(outcome_on(f->mgr, c1), MCS_SESSION_LOADED);
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  assert_int_equal(f->spy.sets, 1); /* one write */
  assert_int_equal(spy_total(&f->spy), 1);
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_on(f->mgr, c1), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_on(f->mgr, c2), MCS_SESSION_EXPIRED);
  assert_int_equal(f->spy.dels, 2); /* revoked records are deleted */
  assert_int_equal(outcome_on(f->mgr, c1), MCS_SESSION_EXPIRED);
  mcs_manager_stats st = stats_of(f->mgr);
  assert_int_equal(st.revoked, 2);
  assert_int_equal(st.expired, 3);
  fixture_free(f);
}

static void test_user_logs_in_again_right_after_revoke(void **state) {
  (void)state;
  fixture *f = fx();
  char c1[512], c2[512];
  login(f->mgr, "alice", c1, sizeof c1);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  login(f->mgr, "alice", c2, sizeof c2);
  assert_int_equal(outcome_on(f->mgr, c2), MCS_SESSION_LOADED);
  assert_int_equal(outcome_on(f->mgr, c1), MCS_SESSION_EXPIRED);
  fixture_free(f);
}

static void test_other_users_are_not_affected(void **state) {
  (void)state;
  fixture *f = fx();
  char ca[512], cb[512];
  login(f->mgr, "alice", ca, sizeof ca);
  login(f->mgr, "bob", cb, sizeof cb);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  assert_int_equal(outcome_on(f->mgr, cb), MCS_SESSION_LOADED);
  assert_int_equal(outcome_on(f->mgr, ca), MCS_SESSION_EXPIRED);
  fixture_free(f);
}

/* A session bound to alice, then to bob: from then on bob's revocation
 * ends it and alice's does not. Loads come from the decoded-record cache,
 * which keeps each record's user tag: the tag must follow the binding. */
static void test_rebinding_follows_the_new_user(void **state) {
  (void)state;
  fixture *f = fx();
  char c[512];
  login(f->mgr, "alice", c, sizeof c);
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(f->mgr, c, strlen(c), &s), MCS_OK);
  assert_string_equal(mcs_session_user(s), "alice");
  assert_int_equal(mcs_session_set_user(s, "bob"), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK); /* same id, same cookie */
  mcs_session_free(s);
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "bob"), MCS_OK);
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_EXPIRED);
  fixture_free(f);
}

/* set_user read the user's state and cached it: loads within the interval
 * cost only the session's own read; after it, one more read. */
static void test_cached_check_costs_no_round_trip(void **state) {
  (void)state;
  fixture *f = fx();
  char c[512];
  login(f->mgr, "alice", c, sizeof c);
  spy_reset_counts(&f->spy);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
    f->clock.now += 1; /* 0, 1, 2 s after the read at login */
  }
  assert_int_equal(f->spy.gets, 3);
  f->clock.now += 2; /* 5 s: the cached state is stale */
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  assert_int_equal(f->spy.gets, 5); /* session + user */
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  assert_int_equal(f->spy.gets, 6); /* fresh again */
  assert_int_equal(stats_of(f->mgr).revocation_reads, 2);
  fixture_free(f);
}

static void test_unbound_sessions_never_read_user_state(void **state) {
  (void)state;
  fixture *f = fx();
  char c[512];
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_null(mcs_session_user(s));
  cookie_header_from(s, c, sizeof c);
  mcs_session_free(s);
  spy_reset_counts(&f->spy);
  f->clock.now += 100;
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  assert_int_equal(spy_total(&f->spy), 1);
  assert_int_equal(stats_of(f->mgr).revocation_reads, 0);
  fixture_free(f);
}

/* The documented bound: another process notices within the interval. */
static void test_other_process_notices_within_interval(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_manager *other = peer(f, 5);
  char c[512];
  login(f->mgr, "alice", c, sizeof c);
  assert_int_equal(outcome_on(other, c), MCS_SESSION_LOADED); /* caches */
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  f->clock.now += 4;
  assert_int_equal(outcome_on(other, c), MCS_SESSION_LOADED); /* stale */
  f->clock.now += 1;
  assert_int_equal(outcome_on(other, c), MCS_SESSION_EXPIRED);
  mcs_manager_free(other);
  fixture_free(f);
}

/* Logging in again through one process right after a revocation must not
 * be undone by another process whose cache still holds the old state: a
 * mismatch is checked against the store before it counts. */
static void test_stale_cache_never_revokes_a_newer_login(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_manager *other = peer(f, 60);
  char c1[512], c2[512];
  /* A first revocation, so the cached state is a generation, not "none"
   * (which lets every session through anyway). */
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  login(f->mgr, "alice", c1, sizeof c1);
  assert_int_equal(outcome_on(other, c1), MCS_SESSION_LOADED);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  login(f->mgr, "alice", c2, sizeof c2);
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_on(other, c2), MCS_SESSION_LOADED);
  /* one extra read for the revocation, not more, and one of the user's
   * list: the first load of the session in this process looks at its
   * "last seen" (written at login: no write) */
  assert_int_equal(f->spy.gets, 3);
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_on(other, c2), MCS_SESSION_LOADED);
  assert_int_equal(f->spy.gets, 1); /* and the cache learned it */
  assert_int_equal(outcome_on(other, c1), MCS_SESSION_EXPIRED);
  mcs_manager_free(other);
  fixture_free(f);
}

static void test_interval_zero_checks_every_load(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_manager *strict = peer(f, 0);
  char c[512];
  login(f->mgr, "alice", c, sizeof c);
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_on(strict, c), MCS_SESSION_LOADED);
  assert_int_equal(outcome_on(strict, c), MCS_SESSION_LOADED);
  /* two loads, each reading the record and the user's state; the first
   * in this process also reads the list for "last seen" */
  assert_int_equal(f->spy.gets, 5);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  assert_int_equal(outcome_on(strict, c), MCS_SESSION_EXPIRED); /* at once */
  mcs_manager_free(strict);
  fixture_free(f);
}

static void test_binding_survives_regenerate(void **state) {
  (void)state;
  fixture *f = fx();
  char c1[512], c2[512];
  login(f->mgr, "alice", c1, sizeof c1);
  mcs_session *s = load(f, c1);
  assert_string_equal(mcs_session_user(s), "alice");
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, c2, sizeof c2);
  mcs_session_free(s);
  s = load(f, c2);
  assert_string_equal(mcs_session_user(s), "alice");
  mcs_session_free(s);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  assert_int_equal(outcome_on(f->mgr, c2), MCS_SESSION_EXPIRED);
  fixture_free(f);
}

/* Binding an existing session is a change: it is written, and a
 * concurrent change to another key (a CAS conflict) loses neither. */
static char conflict_cookie[512];
static void write_other_key(spy *sp, void *ud) {
  fixture *f = ud;
  (void)sp;
  mcs_session *s = load(f, conflict_cookie);
  assert_int_equal(mcs_session_set_int(s, "other", 7), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
}

static void test_binding_survives_cas_replay(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, conflict_cookie, sizeof conflict_cookie);
  mcs_session_free(s);
  s = load(f, conflict_cookie);
  assert_int_equal(mcs_session_set_user(s, "alice"), MCS_OK);
  assert_true(mcs_session_dirty(s));
  f->spy.before_cas = write_other_key;
  f->spy.before_cas_ud = f;
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_false(mcs_session_dirty(s));
  mcs_session_free(s);
  s = load(f, conflict_cookie);
  int64_t other = 0;
  assert_int_equal(mcs_session_get_int(s, "other", &other), MCS_OK);
  assert_int_equal(other, 7);
  assert_string_equal(mcs_session_user(s), "alice");
  mcs_session_free(s);
  assert_true(stats_of(f->mgr).cas_retries >= 1);
  fixture_free(f);
}

static void test_new_session_holding_only_a_binding_is_stored(void **state) {
  (void)state;
  fixture *f = fx();
  char c[512];
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_user(s, "alice"), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, c, sizeof c);
  mcs_session_free(s);
  s = load(f, c);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_string_equal(mcs_session_user(s), "alice");
  mcs_session_free(s);
  fixture_free(f);
}

static void test_set_user_rejects_bad_ids_and_states(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_session *s = load(f, NULL);
  char longest[MCS_USER_ID_MAX + 2];
  memset(longest, 'u', sizeof longest);
  longest[MCS_USER_ID_MAX + 1] = '\0'; /* one byte too many */
  const char *bad[] = {NULL,      "",         "tab\there", "nl\n",
                       "del\x7f", "\xff\xfe", "\xc3",      longest};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(mcs_session_set_user(s, bad[i]), MCS_EINVAL);
  longest[MCS_USER_ID_MAX] = '\0';
  assert_int_equal(mcs_session_set_user(s, longest), MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "ünïcödé user@example.org"), MCS_OK);
  assert_int_equal(mcs_session_set_user(NULL, "a"), MCS_EINVAL);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "alice"), MCS_ESTATE);
  assert_null(mcs_session_user(s));
  mcs_session_free(s);
  assert_null(mcs_session_user(NULL));
  assert_int_equal(mcs_manager_revoke_user(NULL, "a"), MCS_EINVAL);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, ""), MCS_EINVAL);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, NULL), MCS_EINVAL);
  fixture_free(f);
}

static void tornado(mcs_manager_config *cfg) {
  cfg->mode = MCS_MODE_TORNADO;
  cfg->session_secret = "recipe secret";
  cfg->session_secret_len = 13;
}

static void test_tornado_mode_cannot_bind(void **state) {
  (void)state;
  fixture *f = fixture_new(tornado);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_user(s, "alice"), MCS_EINVAL);
  mcs_session_free(s);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_EINVAL);
  assert_int_equal(spy_total(&f->spy), 0);
  fixture_free(f);
}

/* ---- Envelope and config ------------------------------------------------- */

/* The envelope's "ui"/"ug" members: written, read back, and checked. */
static void test_codec_round_trips_and_checks_binding(void **state) {
  (void)state;
  mcs__limits lim = {65536, 32};
  mcs__record rec = {0}, back = {0};
  mcs__buf out = MCS__BUF_INIT;
  rec.data = json_object();
  rec.created = 1;
  assert_int_equal(mcs__record_set_user(&rec, "a\"b\\c", 0x1234), MCS_OK);
  assert_int_equal(mcs__codec_json.encode(&rec, &lim, &out), MCS_OK);
  assert_non_null(strstr((char *)out.data, "\"ug\":\"0000000000001234\""));
  assert_int_equal(mcs__codec_json.decode(out.data, out.len, &lim, &back),
                   MCS_OK);
  assert_string_equal(back.user, "a\"b\\c");
  assert_int_equal(back.user_gen, 0x1234);
  mcs__record_clear(&back);
  const char *bad[] = {
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":5}",
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":\"\"}",
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":\"a\\u0001\"}",
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":\"a\\u0000b\"}",
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":\"a\",\"ug\":\"12\"}",
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":\"a\",\"ug\":7}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(mcs__codec_json.decode((const uint8_t *)bad[i],
                                            strlen(bad[i]), &lim, &back),
                     MCS_ECORRUPT);
  const char *ok = "{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"ui\":\"a\"}";
  assert_int_equal(
      mcs__codec_json.decode((const uint8_t *)ok, strlen(ok), &lim, &back),
      MCS_OK);
  assert_string_equal(back.user, "a");
  assert_int_equal(back.user_gen, 0);
  mcs__record_clear(&back);
  mcs__record_clear(&rec);
  mcs__buf_free(&out);
}

static void test_config_limits(void **state) {
  (void)state;
  mcs_keyring *keys = NULL;
  mcs_manager *m = NULL;
  mcs_manager_config cfg;
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(keys, 0, test_secret, 32), MCS_OK);
  mcs_manager_config_init(&cfg);
  assert_int_equal(cfg.revocation_check_interval, 5);
  assert_int_equal(cfg.revocation_cache_entries, 4096);
  cfg.keys = keys;
  size_t bad[] = {0, 15, 1024 * 1024 + 1};
  for (size_t i = 0; i < 3; i++) {
    cfg.revocation_cache_entries = bad[i];
    assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
    assert_null(m);
  }
  cfg.revocation_cache_entries = 16;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  mcs_manager_free(m);
  mcs_keyring_free(keys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_revoke_ends_sessions_bound_before),
      cmocka_unit_test(test_user_logs_in_again_right_after_revoke),
      cmocka_unit_test(test_other_users_are_not_affected),
      cmocka_unit_test(test_rebinding_follows_the_new_user),
      cmocka_unit_test(test_cached_check_costs_no_round_trip),
      cmocka_unit_test(test_unbound_sessions_never_read_user_state),
      cmocka_unit_test(test_other_process_notices_within_interval),
      cmocka_unit_test(test_stale_cache_never_revokes_a_newer_login),
      cmocka_unit_test(test_interval_zero_checks_every_load),
      cmocka_unit_test(test_binding_survives_regenerate),
      cmocka_unit_test(test_binding_survives_cas_replay),
      cmocka_unit_test(test_new_session_holding_only_a_binding_is_stored),
      cmocka_unit_test(test_set_user_rejects_bad_ids_and_states),
      cmocka_unit_test(test_tornado_mode_cannot_bind),
      cmocka_unit_test(test_codec_round_trips_and_checks_binding),
      cmocka_unit_test(test_config_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
