/* The session life cycle through the public API: outcomes, round trips,
 * CAS with replay, regenerate and its retired snapshot, destroy, limits, store
 * failures. The spy store counts every store operation. */
#include "test_util.h"

static void flip_char(char *s, size_t i) { s[i] = s[i] == 'a' ? 'b' : 'a'; }

/* Creates a stored session holding user=alice and returns its cookie. */
static void make_stored(fixture *f, char *cookie, size_t size) {
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "user", "alice", 5), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, cookie, size);
  mcs_session_free(s);
}

static void test_load_without_cookie_is_new_and_costs_nothing(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_NEW);
  assert_int_equal(mcs_session_count(s), 0);
  mcs_session_free(s);
  s = load(f, "other=1; theme=dark");
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_NEW);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  assert_int_equal(spy_total(&f->spy), 0);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_new_session_with_data_is_added_with_cookie(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_true(mcs_session_dirty(s));
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_false(mcs_session_dirty(s));
  assert_int_equal(f->spy.adds, 1);
  assert_int_equal(spy_total(&f->spy), 1);
  assert_int_equal(mcs_session_cookie_count(s), 1);
  const char *c = mcs_session_cookie(s, 0);
  assert_true(strncmp(c, "session=2|1:0|10:1700000000|7:session|", 38) == 0);
  assert_non_null(strstr(c, "; Path=/"));
  assert_non_null(strstr(c, "; HttpOnly"));
  assert_non_null(strstr(c, "; Secure")); /* secure by default */
  assert_non_null(strstr(c, "; SameSite=Lax"));
  assert_null(mcs_session_cookie(s, 1));
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.created, 1);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_loaded_read_is_one_round_trip_and_slides(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  spy_reset_counts(&f->spy);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  const char *v;
  size_t n;
  assert_int_equal(mcs_session_get_str(s, "user", &v, &n), MCS_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(v, "alice", 5);
  assert_int_equal(mcs_session_created(s), 1700000000);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  assert_int_equal(f->spy.gets, 1);
  assert_int_equal(f->spy.get_touch_ttl, 1800);
  assert_int_equal(spy_total(&f->spy), 1);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.loaded, 1);
  assert_int_equal(stats.writes_skipped, 1);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_changed_save_is_one_cas(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  spy_reset_counts(&f->spy);
  mcs_session *s = load(f, cookie);
  int64_t r;
  assert_int_equal(mcs_session_incr(s, "count", 1, &r), MCS_OK);
  assert_int_equal(r, 1);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(f->spy.gets, 1);
  assert_int_equal(f->spy.cases, 1);
  assert_int_equal(spy_total(&f->spy), 2);
  mcs_session_free(s);
  s = load(f, cookie);
  assert_int_equal(mcs_session_get_int(s, "count", &r), MCS_OK);
  assert_int_equal(r, 1);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_tampered_cookie_is_forged_and_gets_fresh_id(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  size_t len = strlen(cookie);
  for (size_t i = strlen("session="); i < len; i += 7) {
    char bad[512];
    memcpy(bad, cookie, len + 1);
    flip_char(bad, i);
    mcs_session *s = load(f, bad);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
    assert_int_equal(mcs_session_count(s), 0);
    assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
    assert_int_equal(mcs_session_save(s), MCS_OK);
    char fresh[512];
    cookie_header_from(s, fresh, sizeof fresh);
    assert_string_not_equal(fresh, cookie);
    mcs_session_free(s);
  }
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_true(stats.forged > 10);
  fixture_free(f);
}

static void test_cookie_without_record_is_expired_and_not_reused(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char fresh[512];
  cookie_header_from(s, fresh, sizeof fresh);
  assert_string_not_equal(fresh, cookie);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_idle_timeout_expires_and_reads_slide_it(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL); /* idle 1800 s */
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  for (int i = 0; i < 5; i++) {
    f->clock.now += 1700;
    mcs_session *s = load(f, cookie);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    mcs_session_free(s);
  }
  f->clock.now += 1801;
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  fixture_free(f);
}

static void short_absolute(mcs_manager_config *cfg) {
  cfg->idle_timeout = 60;
  cfg->absolute_timeout = 200;
}

static void test_absolute_lifetime_ends_an_active_session(void **st) {
  (void)st;
  fixture *f = fixture_new(short_absolute);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  for (int i = 0; i < 3; i++) {
    f->clock.now += 50;
    mcs_session *s = load(f, cookie);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    assert_int_equal(mcs_session_incr(s, "n", 1, NULL), MCS_OK);
    assert_int_equal(mcs_session_save(s), MCS_OK);
    mcs_session_free(s);
  }
  f->clock.now += 50; /* 200 s after creation */
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_cas_conflict_replays_changes_to_other_keys(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *a = load(f, cookie);
  mcs_session *b = load(f, cookie);
  assert_int_equal(mcs_session_set_str(a, "a", "1", 1), MCS_OK);
  assert_int_equal(mcs_session_set_str(b, "b", "2", 1), MCS_OK);
  assert_int_equal(mcs_session_incr(a, "n", 5, NULL), MCS_OK);
  assert_int_equal(mcs_session_incr(b, "n", 7, NULL), MCS_OK);
  assert_int_equal(mcs_session_delete(b, "user"), MCS_OK);
  assert_int_equal(mcs_session_save(a), MCS_OK);
  assert_int_equal(mcs_session_save(b), MCS_OK);
  mcs_session_free(a);
  mcs_session_free(b);
  mcs_session *s = load(f, cookie);
  int64_t n;
  assert_true(mcs_session_has(s, "a"));
  assert_true(mcs_session_has(s, "b"));
  assert_false(mcs_session_has(s, "user"));
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 12);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.cas_retries, 1);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_same_key_last_writer_wins(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *a = load(f, cookie);
  mcs_session *b = load(f, cookie);
  assert_int_equal(mcs_session_set_str(a, "user", "bob", 3), MCS_OK);
  assert_int_equal(mcs_session_set_str(b, "user", "carol", 5), MCS_OK);
  assert_int_equal(mcs_session_save(a), MCS_OK);
  assert_int_equal(mcs_session_save(b), MCS_OK);
  mcs_session_free(a);
  mcs_session_free(b);
  mcs_session *s = load(f, cookie);
  const char *v;
  assert_int_equal(mcs_session_get_str(s, "user", &v, NULL), MCS_OK);
  assert_string_equal(v, "carol");
  mcs_session_free(s);
  fixture_free(f);
}

static void test_destroyed_meanwhile_is_never_resurrected(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *a = load(f, cookie);
  mcs_session *b = load(f, cookie);
  assert_int_equal(mcs_session_destroy(b), MCS_OK);
  assert_int_equal(mcs_session_save(b), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(b), 1);
  assert_non_null(strstr(mcs_session_cookie(b, 0), "Max-Age=0"));
  assert_int_equal(mcs_session_set_int(b, "x", 1), MCS_ESTATE);
  assert_int_equal(mcs_session_incr(a, "n", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save(a), MCS_EGONE);
  mcs_session_free(a);
  mcs_session_free(b);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_store_error_on_load_is_an_error_not_a_session(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  f->spy.fail_all = MCS_ESTORE;
  mcs_session *s = (mcs_session *)1;
  assert_int_equal(mcs_session_load(f->mgr, cookie, strlen(cookie), &s),
                   MCS_ESTORE);
  assert_null(s);
  f->spy.fail_all = MCS_ETIMEDOUT;
  assert_int_equal(mcs_session_load(f->mgr, cookie, strlen(cookie), &s),
                   MCS_ETIMEDOUT);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.store_errors, 2);
  fixture_free(f);
}

static void test_store_error_on_save_loses_nothing(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_set_str(s, "user", "mallory", 7), MCS_OK);
  f->spy.fail_all = MCS_ESTORE;
  assert_int_equal(mcs_session_save(s), MCS_ESTORE);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  f->spy.fail_all = 0;
  /* The record is intact, and the same session can be saved again. */
  mcs_session *check = load(f, cookie);
  const char *v;
  assert_int_equal(mcs_session_get_str(check, "user", &v, NULL), MCS_OK);
  assert_string_equal(v, "alice");
  mcs_session_free(check);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  check = load(f, cookie);
  assert_int_equal(mcs_session_get_str(check, "user", &v, NULL), MCS_OK);
  assert_string_equal(v, "mallory");
  mcs_session_free(check);
  fixture_free(f);
}

/* Every change through a retired session is refused, and none reaches
 * the store. */
static void expect_read_only(fixture *f, mcs_session *s) {
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_ERETIRED);
  assert_int_equal(mcs_session_set_str(s, "x", "y", 1), MCS_ERETIRED);
  assert_int_equal(mcs_session_incr(s, "hits", 1, NULL), MCS_ERETIRED);
  assert_int_equal(mcs_session_delete(s, "user"), MCS_ERETIRED);
  assert_int_equal(mcs_session_set_user(s, "mallory"), MCS_ERETIRED);
  assert_int_equal(mcs_session_regenerate(s), MCS_ERETIRED);
  assert_int_equal(mcs_session_destroy(s), MCS_ERETIRED);
  assert_false(mcs_session_dirty(s));
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  assert_int_equal(spy_total(&f->spy), 0);
  assert_null(mcs_session_user(s));
}

static void test_regenerate_retires_the_old_id_to_a_snapshot(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL); /* forward_ttl 10 s */
  char old_cookie[512], new_cookie[512];
  make_stored(f, old_cookie, sizeof old_cookie);
  mcs_session *s = load(f, old_cookie);
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_set_str(s, "role", "admin", 5), MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "alice"), MCS_OK);
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  /* list the session in alice's list (read it, add it: the first entry),
   * add the new record, read the old one, compare-and-swap it */
  assert_int_equal(f->spy.adds, 2);
  assert_int_equal(f->spy.gets, 2);
  assert_int_equal(f->spy.cases, 1);
  assert_int_equal(spy_total(&f->spy), 5);
  cookie_header_from(s, new_cookie, sizeof new_cookie);
  assert_string_not_equal(old_cookie, new_cookie);
  mcs_session_free(s);

  s = load(f, new_cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_true(mcs_session_has(s, "user"));
  assert_true(mcs_session_has(s, "role"));
  assert_string_equal(mcs_session_user(s), "alice");
  assert_int_equal(mcs_session_created(s), 1700000000);
  mcs_session_free(s);

  /* In flight with the old cookie: the old data as it was before the
   * regenerate (not the login's changes), no user, read-only, no cookie. */
  f->clock.now += 5;
  s = load(f, old_cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_string_equal(mcs_outcome_name(MCS_SESSION_RETIRED), "RETIRED");
  assert_true(mcs_session_has(s, "user"));
  assert_false(mcs_session_has(s, "role"));
  expect_read_only(f, s);
  mcs_session_free(s);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.retired, 1);

  /* The new session did not change. */
  s = load(f, new_cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_false(mcs_session_has(s, "hits"));
  assert_false(mcs_session_has(s, "x"));
  assert_string_equal(mcs_session_user(s), "alice");
  mcs_session_free(s);

  /* After the grace the old cookie is worthless, however often it was
   * used in between. */
  f->clock.now += 6;
  s = load(f, old_cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  fixture_free(f);
}

/* Session fixation (issue 12): the attacker plants a stored pre-login
 * cookie A in the victim's browser; the victim logs in (A -> B). Whoever
 * presents A afterwards sees nothing of the victim's session, cannot
 * write it, log it out, get CSRF tokens for it, or regenerate it into a
 * cookie of their own. */
static void test_fixated_cookie_gains_nothing_from_the_login(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char planted[512], victim[512];
  mcs_session *s = load(f, NULL); /* the attacker's own pre-login visit */
  assert_int_equal(mcs_session_incr(s, "count", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, planted, sizeof planted);
  mcs_session_free(s);

  s = load(f, planted); /* the victim logs in with the planted cookie */
  assert_int_equal(mcs_session_set_str(s, "user_name", "victim", 6), MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "victim"), MCS_OK);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, victim, sizeof victim);
  mcs_session_free(s);

  mcs_session *a = load(f, planted); /* the attacker, within the grace */
  assert_int_equal(mcs_session_outcome(a), MCS_SESSION_RETIRED);
  assert_false(mcs_session_has(a, "user_name"));
  assert_null(mcs_session_user(a));
  char token[MCS_CSRF_TOKEN_LEN + 1];
  assert_int_equal(mcs_csrf_token(a, token, sizeof token), MCS_OK);
  expect_read_only(f, a);
  mcs_session_free(a);

  s = load(f, victim); /* the victim's session is whole and untouched */
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_string_equal(mcs_session_user(s), "victim");
  int64_t count = 0;
  assert_int_equal(mcs_session_get_int(s, "count", &count), MCS_OK);
  assert_int_equal(count, 1);
  assert_int_equal(mcs_csrf_verify(s, token, strlen(token)), MCS_EBADSIG);
  mcs_session_free(s);
  fixture_free(f);
}

/* Two requests with one stored session's cookie (into old_cookie): the
 * first loads, then a login loads; `meanwhile` (may be NULL) runs on the
 * first; then the login regenerates, sets "role" and saves (its cookie
 * into new_cookie). Returns the first request's session. */
static mcs_session *login_beside(fixture *f, char old_cookie[512],
                                 char new_cookie[512],
                                 void (*meanwhile)(mcs_session *other)) {
  make_stored(f, old_cookie, 512);
  mcs_session *other = load(f, old_cookie);
  mcs_session *login = load(f, old_cookie);
  if (meanwhile)
    meanwhile(other);
  assert_int_equal(mcs_session_regenerate(login), MCS_OK);
  assert_int_equal(mcs_session_set_str(login, "role", "user", 4), MCS_OK);
  assert_int_equal(mcs_session_save(login), MCS_OK);
  cookie_header_from(login, new_cookie, 512);
  mcs_session_free(login);
  return other;
}

/* A request that loaded the session before a regenerate and saves after
 * it is refused: its change reaches neither the new record nor the
 * snapshot. */
static void test_inflight_write_after_regenerate_is_refused(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char old_cookie[512], new_cookie[512];
  mcs_session *other = login_beside(f, old_cookie, new_cookie, NULL);
  assert_int_equal(mcs_session_incr(other, "hits", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save(other), MCS_ERETIRED);
  assert_int_equal(mcs_session_cookie_count(other), 0);
  mcs_session_free(other);
  mcs_session *s = load(f, new_cookie);
  assert_false(mcs_session_has(s, "hits"));
  mcs_session_free(s);
  s = load(f, old_cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_false(mcs_session_has(s, "hits"));
  mcs_session_free(s);
  fixture_free(f);
}

/* Plain records planted below load only where the manager accepts them
 * (with sealing on they do not open: test_sealing.c). */
static void accept_plain(mcs_manager_config *cfg) {
  cfg->seal_records = MCS_SEAL_ACCEPT_PLAIN;
}

/* A record that claims a grace far in the future (written by whoever can
 * write the store, with sealing off) is held to forward_ttl from now. */
static void test_retired_grace_is_capped_at_forward_ttl(void **st) {
  (void)st;
  fixture *f = fixture_new(accept_plain);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  char key[MCS_STORE_KEY_MAX + 1], rec[256];
  strcpy(key, f->spy.last_key); /* the add of make_stored */
  snprintf(rec, sizeof rec,
           "{\"v\":1,\"ru\":%lld,\"s\":{\"c\":1,\"r\":1,\"d\":{}}}",
           (long long)f->clock.now + 1000000);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(f->memory, key, strlen(key), rec,
                                 strlen(rec), 0x4a53, 1800, &r),
                   MCS_OK);
  spy_reset_counts(&f->spy);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_int_equal(f->spy.touches, 1);
  assert_int_equal(f->spy.touch_ttl, 10); /* the store drops it by then */
  mcs_session_free(s);
  fixture_free(f);
}

static void add_cart(mcs_session *other) {
  assert_int_equal(mcs_session_set_str(other, "cart", "3 apples", 8), MCS_OK);
  assert_int_equal(mcs_session_save(other), MCS_OK);
}

static void test_inflight_write_before_regenerate_is_merged(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char old_cookie[512], new_cookie[512];
  mcs_session_free(login_beside(f, old_cookie, new_cookie, add_cart));
  mcs_session *s = load(f, new_cookie);
  assert_true(mcs_session_has(s, "cart"));
  assert_true(mcs_session_has(s, "role"));
  assert_true(mcs_session_has(s, "user"));
  mcs_session_free(s);
  /* The snapshot is the old record's own data: the cart, not the role. */
  s = load(f, old_cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_true(mcs_session_has(s, "cart"));
  assert_false(mcs_session_has(s, "role"));
  mcs_session_free(s);
  fixture_free(f);
}

static void test_regenerate_of_new_session_just_renames(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(f->spy.adds, 1);
  assert_int_equal(f->spy.cases, 0);
  char cookie[512];
  cookie_header_from(s, cookie, sizeof cookie);
  mcs_session_free(s);
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_destroy_after_regenerate_removes_both_records(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_regenerate(s), MCS_ESTATE);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  mcs_memory_stats ms;
  assert_int_equal(mcs_store_memory_stats_get(f->memory, &ms), MCS_OK);
  assert_int_equal(ms.items, 0);
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  fixture_free(f);
}

/* A concurrent request that rewrites the record before every CAS. */
typedef struct interferer {
  fixture *f;
  char cookie[512];
  int runs;
} interferer;

static void interfere(spy *sp, void *ud) {
  interferer *in = ud;
  in->runs++;
  mcs_session *s = load(in->f, in->cookie);
  assert_int_equal(mcs_session_incr(s, "other", 1, NULL), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  sp->before_cas = interfere; /* again, forever */
  sp->before_cas_ud = in;
}

static void test_cas_retries_are_bounded(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL); /* max_cas_retries 8 */
  interferer in = {f, {0}, 0};
  make_stored(f, in.cookie, sizeof in.cookie);
  mcs_session *s = load(f, in.cookie);
  assert_int_equal(mcs_session_incr(s, "mine", 1, NULL), MCS_OK);
  f->spy.before_cas = interfere;
  f->spy.before_cas_ud = &in;
  assert_int_equal(mcs_session_save(s), MCS_ECONFLICT);
  f->spy.before_cas = NULL;
  assert_int_equal(in.runs, 9);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_corrupt_record_is_counted_and_left_alone(void **st) {
  (void)st;
  fixture *f = fixture_new(accept_plain);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  char key[MCS_STORE_KEY_MAX + 1]; /* the record's key, seen by the spy */
  strcpy(key, f->spy.last_key);
  size_t key_len = strlen(key);
  mcs_store_result r;
  static const char garbage[] = "\x80\x04not a record at all{{{";
  assert_int_equal(mcs_store_set(f->memory, key, key_len, garbage,
                                 sizeof garbage - 1, 0, 60, &r),
                   MCS_OK);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK); /* under a new id */
  mcs_session_free(s);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.corrupt, 1);
  void *data;
  size_t len;
  assert_int_equal(mcs_store_get(f->memory, key, key_len, 0, 1024, &data,
                                 &len, NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_memory_equal(data, garbage, sizeof garbage - 1);
  mcs_free(data);
  fixture_free(f);
}

static void test_oversized_header_is_elimit(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  size_t n = MCS_COOKIE_HEADER_MAX + 1;
  char *h = malloc(n + 1);
  memset(h, 'a', n);
  h[0] = 'x';
  h[1] = '=';
  h[n] = '\0';
  mcs_session *s = (mcs_session *)1;
  assert_int_equal(mcs_session_load(f->mgr, h, n, &s), MCS_ELIMIT);
  assert_null(s);
  free(h);
  fixture_free(f);
}

static void no_absolute(mcs_manager_config *cfg) {
  cfg->absolute_timeout = 0;
  cfg->idle_timeout = 40 * 86400;
}

static void test_old_signature_gets_a_fresh_cookie(void **st) {
  (void)st;
  fixture *f = fixture_new(no_absolute); /* signature max age 31 days */
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  f->clock.now += 10 * 86400;
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  mcs_session_free(s);
  f->clock.now += 10 * 86400;
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 1);
  char fresh[512];
  cookie_header_from(s, fresh, sizeof fresh);
  mcs_session_free(s);
  f->clock.now += 15 * 86400; /* the old one is now past 31 days */
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  s = load(f, fresh);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_manager_config_is_validated(void **st) {
  (void)st;
  mcs_keyring *keys;
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  mcs_manager *m = (mcs_manager *)1;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL); /* no keys */
  assert_null(m);
  cfg.keys = keys;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL); /* empty ring */
  assert_int_equal(
      mcs_keyring_add(keys, 3, test_secret, sizeof test_secret - 1), MCS_OK);
  cfg.cookie_name = "bad name";
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  cfg.cookie_name = "__Host-session"; /* needs Secure */
  cfg.cookie.secure = 0;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  cfg.cookie.secure = 1;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  mcs_manager_free(m);
  cfg.key_prefix = "has space";
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  cfg.key_prefix = "app:";
  cfg.idle_timeout = 0;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  cfg.idle_timeout = 10;
  cfg.max_data_bytes = 2 * 1024 * 1024;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  cfg.max_data_bytes = 4096;
  /* No store given: the manager makes and owns a memory store. */
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  mcs_session *s;
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  mcs_manager_free(m);
  mcs_manager_free(NULL);
  mcs_keyring_free(keys);
}

/* The decoded-record cache: a session's changes never reach other
 * sessions through it, and a record changed in the store is decoded anew
 * (a hit needs identical bytes). */
static void test_decode_cache_never_serves_stale_or_shared_data(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL); /* cache on by default */
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  mcs_session *a = load(f, cookie); /* decoded, cached */
  mcs_session *b = load(f, cookie); /* from the cache */
  assert_int_equal(mcs_session_set_str(a, "user", "mallory", 7), MCS_OK);
  assert_int_equal(mcs_session_set_int(a, "extra", 1), MCS_OK);
  const char *v;
  assert_int_equal(mcs_session_get_str(b, "user", &v, NULL), MCS_OK);
  assert_string_equal(v, "alice");
  assert_false(mcs_session_has(b, "extra"));
  mcs_session_free(a); /* never saved */
  mcs_session *c = load(f, cookie);
  assert_int_equal(mcs_session_get_str(c, "user", &v, NULL), MCS_OK);
  assert_string_equal(v, "alice");
  assert_false(mcs_session_has(c, "extra"));
  /* Another writer changes the record: the next load sees the change. */
  assert_int_equal(mcs_session_set_str(b, "user", "bob", 3), MCS_OK);
  assert_int_equal(mcs_session_save(b), MCS_OK);
  mcs_session_free(b);
  mcs_session_free(c);
  c = load(f, cookie);
  assert_int_equal(mcs_session_get_str(c, "user", &v, NULL), MCS_OK);
  assert_string_equal(v, "bob");
  mcs_session_free(c);
  fixture_free(f);
}

static void no_cache(mcs_manager_config *cfg) { cfg->decode_cache_entries = 0; }

static void test_decode_cache_can_be_disabled(void **st) {
  (void)st;
  fixture *f = fixture_new(no_cache);
  char cookie[512];
  make_stored(f, cookie, sizeof cookie);
  for (int i = 0; i < 3; i++) {
    mcs_session *s = load(f, cookie);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    mcs_session_free(s);
  }
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_without_cookie_is_new_and_costs_nothing),
      cmocka_unit_test(test_new_session_with_data_is_added_with_cookie),
      cmocka_unit_test(test_loaded_read_is_one_round_trip_and_slides),
      cmocka_unit_test(test_changed_save_is_one_cas),
      cmocka_unit_test(test_tampered_cookie_is_forged_and_gets_fresh_id),
      cmocka_unit_test(test_cookie_without_record_is_expired_and_not_reused),
      cmocka_unit_test(test_idle_timeout_expires_and_reads_slide_it),
      cmocka_unit_test(test_absolute_lifetime_ends_an_active_session),
      cmocka_unit_test(test_cas_conflict_replays_changes_to_other_keys),
      cmocka_unit_test(test_same_key_last_writer_wins),
      cmocka_unit_test(test_destroyed_meanwhile_is_never_resurrected),
      cmocka_unit_test(test_store_error_on_load_is_an_error_not_a_session),
      cmocka_unit_test(test_store_error_on_save_loses_nothing),
      cmocka_unit_test(test_regenerate_retires_the_old_id_to_a_snapshot),
      cmocka_unit_test(test_fixated_cookie_gains_nothing_from_the_login),
      cmocka_unit_test(test_inflight_write_after_regenerate_is_refused),
      cmocka_unit_test(test_retired_grace_is_capped_at_forward_ttl),
      cmocka_unit_test(test_inflight_write_before_regenerate_is_merged),
      cmocka_unit_test(test_regenerate_of_new_session_just_renames),
      cmocka_unit_test(test_destroy_after_regenerate_removes_both_records),
      cmocka_unit_test(test_cas_retries_are_bounded),
      cmocka_unit_test(test_corrupt_record_is_counted_and_left_alone),
      cmocka_unit_test(test_oversized_header_is_elimit),
      cmocka_unit_test(test_old_signature_gets_a_fresh_cookie),
      cmocka_unit_test(test_manager_config_is_validated),
      cmocka_unit_test(test_decode_cache_never_serves_stale_or_shared_data),
      cmocka_unit_test(test_decode_cache_can_be_disabled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
