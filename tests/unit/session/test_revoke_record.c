/* A user's revocation record (revoke.c): store errors while reading it,
 * its key and TTL, records that cannot be read (fail closed, repaired at
 * the next login), and their warning logged once per burst (the rate
 * limiter, also across threads). The fixture: revoke_fixture.h. */
#include "revoke_fixture.h"

/* ---- The user's record --------------------------------------------------- */

/* A store that fails only reads of users' records (whose keys start
 * "mcs:u:") while `failing` is set. */
static int failing;
static mcs_store *inner_store;

static int uf_get(void *ud, const char *key, size_t key_len, uint32_t touch_ttl,
                  mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                  mcs_store_result *result) {
  (void)ud;
  if (failing && key_len > 6 && memcmp(key, "mcs:u:", 6) == 0)
    return MCS_ETIMEDOUT;
  void *data = NULL;
  size_t len = 0;
  int rc = mcs_store_get(inner_store, key, key_len, touch_ttl, 1 << 20, &data,
                         &len, cas, flags, result);
  if (rc == MCS_OK && *result == MCS_STORE_HIT)
    rc = mcs_store_value_set(value, data, len);
  mcs_free(data);
  return rc;
}

/* A store that cannot answer: binding and revoking fail and say so; a
 * bound session whose user cannot be checked is an error (503), never
 * served unchecked. */
static void test_store_errors_are_reported(void **state) {
  (void)state;
  fixture *f = fx();
  char c[512];
  login(f->mgr, "alice", c, sizeof c);
  mcs_session *s = load(f, NULL);
  f->spy.fail_all = MCS_ESTORE;
  assert_int_equal(mcs_session_set_user(s, "bob"), MCS_ESTORE);
  assert_null(mcs_session_user(s));
  assert_false(mcs_session_dirty(s));
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_ESTORE);
  f->spy.fail_all = 0;
  mcs_session_free(s);
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  /* The session's read works, the user's does not. */
  mcs_store_ops ops = spy_ops;
  ops.get = uf_get;
  mcs_store *uf = NULL;
  inner_store = f->store;
  assert_int_equal(mcs_store_new(&uf, &ops, &f->spy), MCS_OK);
  mcs_manager_config cfg;
  mcs_manager *m = NULL;
  mcs_manager_config_init(&cfg);
  cfg.keys = f->keys;
  cfg.store = uf;
  cfg.clock = test_clock_read;
  cfg.clock_ud = &f->clock;
  cfg.revocation_check_interval = 0;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  failing = 1;
  s = NULL;
  assert_int_equal(mcs_session_load(m, c, strlen(c), &s), MCS_ETIMEDOUT);
  assert_null(s);
  failing = 0;
  assert_int_equal(outcome_on(m, c), MCS_SESSION_LOADED);
  assert_true(stats_of(m).store_errors >= 1);
  mcs_manager_free(m);
  mcs_store_free(uf);
  fixture_free(f);
}

/* The documented store key: prefix "u:" base64url(HMAC-SHA256(store-key
 * secret, "mcsession user" NUL uid)), computed here independently. */
static void user_key(const char *uid, char *key, size_t size) {
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)test_secret,
                              sizeof test_secret - 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)"mcsession user",
                                15);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)uid, strlen(uid));
  crypto_auth_hmacsha256_final(&st, mac);
  char b64[64];
  sodium_bin2base64(b64, sizeof b64, mac, sizeof mac,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  snprintf(key, size, "mcs:u:%s", b64);
}

static void test_record_key_format_and_ttl(void **state) {
  (void)state;
  fixture *f = fx();
  char key[128];
  user_key("alice", key, sizeof key);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  void *data = NULL;
  size_t len = 0;
  uint64_t cas;
  uint32_t flags;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(f->memory, key, strlen(key), 0, 256, &data,
                                 &len, &cas, &flags, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_true(len > 20 && memcmp(data, "{\"v\":1,\"g\":\"", 12) == 0);
  mcs_free(data);
  /* idle 1800 + interval 5 + 60: alive at 1864 s, gone at 1865 s. */
  assert_int_equal(mcs__revoke_ttl(f->mgr), 1865);
  f->clock.now += 1864;
  assert_int_equal(mcs_store_get(f->memory, key, strlen(key), 0, 256, &data,
                                 &len, &cas, &flags, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  mcs_free(data);
  f->clock.now += 1;
  assert_int_equal(mcs_store_get(f->memory, key, strlen(key), 0, 256, &data,
                                 &len, &cas, &flags, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_MISS);
  fixture_free(f);
}

static void short_absolute(mcs_manager_config *cfg) {
  cfg->absolute_timeout = 600;
}

/* The rule (revoke.c): min(idle + interval, absolute) + 60, absolute 0
 * meaning none. The absolute timeout gets the margin too: it is checked
 * on the loading process's clock, the record's TTL runs on the store's. */
static void test_record_ttl_is_capped_by_absolute_timeout(void **state) {
  (void)state;
  fixture *f = fixture_new(short_absolute);
  assert_int_equal(mcs__revoke_ttl(f->mgr), 660);
  fixture_free(f);
  assert_int_equal(mcs_revocation_ttl(1800, 86400, 5), 1865);
  assert_int_equal(mcs_revocation_ttl(1800, 600, 5), 660);
  assert_int_equal(mcs_revocation_ttl(1800, 0, 5), 1865);
  assert_int_equal(mcs_revocation_ttl(1800, 1805, 5), 1865);
  assert_int_equal(mcs_revocation_ttl(200000, 86400, 5), 86460);
  assert_int_equal(mcs_revocation_ttl(200000, 0, 0), 200060);
  assert_int_equal(mcs_revocation_ttl(UINT32_MAX, 0, UINT32_MAX), UINT32_MAX);
  assert_int_equal(mcs_revocation_ttl(UINT32_MAX - 10, 0, 0), UINT32_MAX);
}

/* Another process's clock, 30 s behind the fixture's (and the store's). */
static int64_t behind_clock(void *ud) { return ((test_clock *)ud)->now - 30; }

/* A session created just before a revocation, absolute timeout shorter
 * than idle, and a process whose clock is 30 s behind the store's: a load
 * it served from its cache within the interval slid the session's record
 * by the idle timeout, and it sees the session's absolute lifetime end 30
 * s late. The user's record must outlive that (today's 600 s record did
 * not: the revoked session loaded again). */
/* f->mgr's settings, on a clock 30 s behind. */
static void short_absolute_behind(mcs_manager_config *cfg) {
  short_absolute(cfg);
  cfg->clock = behind_clock;
}

static void
test_record_outlives_absolute_lifetime_on_a_slow_clock(void **state) {
  (void)state;
  fixture *f = fixture_new(short_absolute);
  mcs_manager *slow = fixture_manager(f, short_absolute_behind);
  char c[512];
  login(f->mgr, "alice", c, sizeof c);
  assert_int_equal(outcome_on(slow, c), MCS_SESSION_LOADED); /* caches */
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  f->clock.now += 4; /* within the interval: served, record slid */
  assert_int_equal(outcome_on(slow, c), MCS_SESSION_LOADED);
  f->clock.now += 606; /* 610 s by the store, 580 s by the slow clock */
  assert_int_equal(outcome_on(slow, c), MCS_SESSION_EXPIRED);
  mcs_manager_free(slow);
  fixture_free(f);
}

/* Sessions bound after a revocation stay valid when its record expires;
 * those bound before are long gone by then (idle timeout). */
static void test_expired_record_lets_later_logins_through(void **state) {
  (void)state;
  fixture *f = fx();
  char c1[512], c2[512];
  login(f->mgr, "alice", c1, sizeof c1);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  login(f->mgr, "alice", c2, sizeof c2);
  for (int i = 0; i < 4; i++) { /* keep c2 alive past the record's TTL */
    f->clock.now += 600;
    assert_int_equal(outcome_on(f->mgr, c2), MCS_SESSION_LOADED);
  }
  assert_int_equal(outcome_on(f->mgr, c1), MCS_SESSION_EXPIRED);
  fixture_free(f);
}

static void put_user_record(fixture *f, const char *uid, const char *text,
                            size_t len) {
  char key[128];
  mcs_store_result r;
  user_key(uid, key, sizeof key);
  assert_int_equal(
      mcs_store_set(f->memory, key, strlen(key), text, len, 0x5256, 600, &r),
      MCS_OK);
}

/* The user's record as it is stored now (into buf[size], NUL-ended). */
static void get_user_record(fixture *f, const char *uid, char *buf,
                            size_t size) {
  char key[128];
  void *data = NULL;
  size_t len = 0;
  uint64_t cas;
  uint32_t flags;
  mcs_store_result r;
  user_key(uid, key, sizeof key);
  assert_int_equal(mcs_store_get(f->memory, key, strlen(key), 0, 1024, &data,
                                 &len, &cas, &flags, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_true(len < size);
  memcpy(buf, data, len);
  buf[len] = '\0';
  mcs_free(data);
}

/* Records that are there but not exactly what this version writes. Each
 * was "generation 0 = not revoked" before, letting revoked sessions in. */
static const char *const unreadable[] = {
    "not json",
    "",
    "[]",
    "{\"v\":1,\"g\":\"0000000000000000\",\"t\":1}", /* generation 0 */
    "{\"v\":2,\"g\":\"00000000000000ff\",\"t\":1}", /* newer format */
    "{\"v\":0,\"g\":\"00000000000000ff\",\"t\":1}",
    "{\"v\":01,\"g\":\"00000000000000ff\",\"t\":1}",
    "{\"v\":1,\"g\":\"00000000000000FF\",\"t\":1}",  /* uppercase */
    "{\"v\":1,\"g\":\"0000000000000ff\",\"t\":1}",   /* 15 digits */
    "{\"v\":1,\"g\":\"000000000000000ff\",\"t\":1}", /* 17 digits */
    "{\"v\":1,\"g\":\"00000000000000ff\"}",          /* no "t" */
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":1} ", /* trailing */
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":1}x",
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":1,\"x\":2}",
    "{\"g\":\"00000000000000ff\",\"v\":1,\"t\":1}",  /* other order */
    "{ \"v\":1,\"g\":\"00000000000000ff\",\"t\":1}", /* whitespace */
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":01}",
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":-0}",
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":1.5}",
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":9223372036854775808}",
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":-9223372036854775809}",
    "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":12345678901234567890}",
};

/* Whoever (or whatever bug) writes a record we cannot read must not undo
 * a revocation by it: an unreadable record is a revocation (the session
 * EXPIRED, its record deleted), counted in revocation_unreadable, not in
 * corrupt. Logging in again works and repairs the record. */
static void test_unreadable_record_counts_as_revoked(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_manager *strict = peer(f, 0);
  char c[512], big[300];
  memset(big, ' ', sizeof big); /* > 256 bytes: the store says ETOOBIG */
  static const char good[] = "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":1}";
  memcpy(big, good, sizeof good - 1);
  size_t n = sizeof unreadable / sizeof unreadable[0];
  for (size_t i = 0; i <= n; i++) {
    login(f->mgr, "alice", c, sizeof c); /* repairs the last bad record */
    if (i < n)
      put_user_record(f, "alice", unreadable[i], strlen(unreadable[i]));
    else
      put_user_record(f, "alice", big, sizeof big);
    spy_reset_counts(&f->spy);
    if (outcome_on(strict, c) != MCS_SESSION_EXPIRED)
      fail_msg("record %zu (%s) let a bound session in", i,
               i < n ? unreadable[i] : "300 bytes");
    assert_int_equal(f->spy.dels, 1); /* the session's record went */
    assert_int_equal(outcome_on(strict, c), MCS_SESSION_EXPIRED);
  }
  mcs_manager_stats st = stats_of(strict);
  assert_int_equal(st.revocation_unreadable, n + 1);
  assert_int_equal(st.revoked, n + 1);
  assert_int_equal(st.corrupt, 0);
  mcs_manager_free(strict);
  fixture_free(f);
}

/* Edge cases of the writer's own shape that must stay readable: any "t"
 * %lld can print. (A readable record of another generation revokes too,
 * so the unreadable counter tells the cases apart.) */
static void test_records_of_the_writers_shape_are_read(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_manager *strict = peer(f, 0);
  char c[512];
  const char *ok[] = {
      "{\"v\":1,\"g\":\"00000000000000ff\",\"t\":0}",
      "{\"v\":1,\"g\":\"ffffffffffffffff\",\"t\":-5}",
      "{\"v\":1,\"g\":\"0123456789abcdef\",\"t\":9223372036854775807}",
      "{\"v\":1,\"g\":\"0000000000000001\",\"t\":-9223372036854775808}",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    login(f->mgr, "alice", c, sizeof c);
    put_user_record(f, "alice", ok[i], strlen(ok[i]));
    assert_int_equal(outcome_on(strict, c), MCS_SESSION_EXPIRED);
  }
  assert_int_equal(stats_of(strict).revocation_unreadable, 0);
  /* And the record the writer wrote, read back: the session it governs
   * loads. */
  login(f->mgr, "bob", c, sizeof c);
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "bob"), MCS_OK);
  login(f->mgr, "bob", c, sizeof c);
  assert_int_equal(outcome_on(strict, c), MCS_SESSION_LOADED);
  assert_int_equal(stats_of(strict).revocation_unreadable, 0);
  mcs_manager_free(strict);
  fixture_free(f);
}

/* A cached "current" answer must not outlive the process's own finding
 * that the record became unreadable: the entry is dropped. */
static void test_unreadable_record_drops_the_cached_state(void **state) {
  (void)state;
  fixture *f = fx();
  mcs_manager *other = peer(f, 60);
  char c1[512], c2[512];
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  login(f->mgr, "alice", c1, sizeof c1);
  assert_int_equal(outcome_on(other, c1), MCS_SESSION_LOADED); /* caches */
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  login(f->mgr, "alice", c2, sizeof c2); /* bound to the newer generation */
  put_user_record(f, "alice", "garbage", 7);
  /* c2 does not match other's cache: the store is asked, and says
   * "unreadable". From then on other's cache vouches for nobody. */
  assert_int_equal(outcome_on(other, c2), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_on(other, c1), MCS_SESSION_EXPIRED);
  assert_int_equal(stats_of(other).revocation_unreadable, 2);
  mcs_manager_free(other);
  fixture_free(f);
}

/* Logging in over an unreadable record writes a fresh generation (the
 * record is repaired, the new session is bound to it); sessions bound
 * before stay ended. */
static void test_login_over_unreadable_record_repairs_it(void **state) {
  (void)state;
  fixture *f = fx();
  char old[512], c[512], rec[300];
  login(f->mgr, "alice", old, sizeof old);
  put_user_record(f, "alice", "{\"v\":2}", 8);
  spy_reset_counts(&f->spy);
  login(f->mgr, "alice", c, sizeof c);
  assert_int_equal(f->spy.sets, 1); /* the new generation */
  get_user_record(f, "alice", rec, sizeof rec);
  assert_int_equal(memcmp(rec, "{\"v\":1,\"g\":\"", 12), 0);
  assert_int_equal(outcome_on(f->mgr, c), MCS_SESSION_LOADED);
  assert_int_equal(outcome_on(f->mgr, old), MCS_SESSION_EXPIRED);
  assert_int_equal(stats_of(f->mgr).revocation_unreadable, 1);
  fixture_free(f);
}

/* ---- Logging once per burst ---------------------------------------------- */

static int log_count;
static char log_last[256];
static void count_log(void *ud, mcs_log_level level, const char *msg) {
  (void)ud;
  (void)level;
  log_count++;
  snprintf(log_last, sizeof log_last, "%s", msg);
}

static void with_log(mcs_manager_config *cfg) {
  cfg->log = count_log;
  cfg->revocation_check_interval = 0;
}

/* Every load of a user's sessions meets the bad record; the log hears of
 * it once a minute, then how many it did not hear about. */
static void test_unreadable_record_is_logged_once_per_burst(void **state) {
  (void)state;
  fixture *f = fixture_new(with_log);
  char c[8][512];
  for (int i = 0; i < 8; i++)
    login(f->mgr, "alice", c[i], sizeof c[i]);
  put_user_record(f, "alice", "junk", 4);
  log_count = 0;
  for (int i = 0; i < 5; i++)
    assert_int_equal(outcome_on(f->mgr, c[i]), MCS_SESSION_EXPIRED);
  assert_int_equal(log_count, 1);
  assert_non_null(strstr(log_last, "revocation record cannot be read"));
  assert_non_null(strstr(log_last, "treated as revoked"));
  f->clock.now += 59;
  assert_int_equal(outcome_on(f->mgr, c[5]), MCS_SESSION_EXPIRED);
  assert_int_equal(log_count, 1);
  f->clock.now += 1;
  assert_int_equal(outcome_on(f->mgr, c[6]), MCS_SESSION_EXPIRED);
  assert_int_equal(log_count, 2);
  assert_non_null(strstr(log_last, "(and 5 more since the last)"));
  assert_int_equal(stats_of(f->mgr).revocation_unreadable, 7);
  fixture_free(f);
}

static void test_ratelimit_passes_once_per_period(void **state) {
  (void)state;
  mcs__ratelimit rl;
  uint64_t left = 99;
  memset(&rl, 0, sizeof rl);
  assert_true(mcs__ratelimit_pass(&rl, 1000, 60, &left));
  assert_int_equal(left, 0);
  assert_false(mcs__ratelimit_pass(&rl, 1000, 60, &left));
  assert_false(mcs__ratelimit_pass(&rl, 1059, 60, &left));
  assert_true(mcs__ratelimit_pass(&rl, 1060, 60, &left));
  assert_int_equal(left, 2);
  /* Within the period, quiet; a clock stepped back to before the last
   * message does not silence the log until it catches up. */
  assert_false(mcs__ratelimit_pass(&rl, 1119, 60, &left));
  assert_true(mcs__ratelimit_pass(&rl, 10, 60, &left));
  assert_int_equal(left, 1);
  /* Extreme clocks do not overflow. */
  assert_true(mcs__ratelimit_pass(&rl, INT64_MAX - 5, 60, &left));
  assert_false(mcs__ratelimit_pass(&rl, INT64_MAX - 1, 60, &left));
  assert_true(mcs__ratelimit_pass(&rl, INT64_MIN, 60, &left));
}

#define RL_THREADS 8
#define RL_CALLS 1000
static mcs__ratelimit shared_rl;
static _Atomic int rl_passed;
static void *rl_hammer(void *arg) {
  (void)arg;
  uint64_t left;
  for (int i = 0; i < RL_CALLS; i++)
    if (mcs__ratelimit_pass(&shared_rl, 5000, 60, &left))
      rl_passed++;
  return NULL;
}

/* Many threads at one instant: exactly one message goes out, and every
 * other call is counted for the next. */
static void test_ratelimit_is_thread_safe(void **state) {
  (void)state;
  pthread_t t[RL_THREADS];
  memset(&shared_rl, 0, sizeof shared_rl);
  for (int i = 0; i < RL_THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, rl_hammer, NULL), 0);
  for (int i = 0; i < RL_THREADS; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(rl_passed, 1);
  uint64_t left = 0;
  assert_true(mcs__ratelimit_pass(&shared_rl, 5060, 60, &left));
  assert_int_equal(left, RL_THREADS * RL_CALLS - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_store_errors_are_reported),
      cmocka_unit_test(test_record_key_format_and_ttl),
      cmocka_unit_test(test_record_ttl_is_capped_by_absolute_timeout),
      cmocka_unit_test(test_expired_record_lets_later_logins_through),
      cmocka_unit_test(test_record_outlives_absolute_lifetime_on_a_slow_clock),
      cmocka_unit_test(test_unreadable_record_counts_as_revoked),
      cmocka_unit_test(test_records_of_the_writers_shape_are_read),
      cmocka_unit_test(test_unreadable_record_drops_the_cached_state),
      cmocka_unit_test(test_login_over_unreadable_record_repairs_it),
      cmocka_unit_test(test_unreadable_record_is_logged_once_per_burst),
      cmocka_unit_test(test_ratelimit_passes_once_per_period),
      cmocka_unit_test(test_ratelimit_is_thread_safe),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
