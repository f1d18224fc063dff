/* A user's sessions (mcsession/session.h, "A user's sessions") on the
 * memory store: listing at login with labels and handles, ending one
 * (that session loads as expired, the others stay) or all but one, the
 * bound of 64
 * (dropping off ends nothing), "last seen" written at most once per
 * interval with no store command on the loads in between, pruning of
 * ended, revoked and expired sessions, the list sealed in the store, a
 * regenerate keeping its entry, bad arguments and tornado mode. The
 * 16-thread test is test_sessions_threads.c; memcached is covered by
 * integration.memcached_revoke and, through the tool, integration.tool_ops. */
#include <stdbool.h>

#include "test_util.h"

#include "session/session_int.h"

typedef struct login_out {
  char cookie[512];
  char handle[MCS_SESSION_HANDLE_LEN + 1];
} login_out;

/* Logs uid in on m with labels; its cookie and handle. */
static void login_on(mcs_manager *m, const char *uid, const char *ua,
                     const char *addr, login_out *out) {
  mcs_session *s = NULL;
  const char *labels[2] = {ua, addr};
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_set_user_labels(s, uid, labels, ua ? 2 : 0),
                   MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, out->cookie, sizeof out->cookie);
  assert_int_equal(mcs_session_handle(s, out->handle), MCS_OK);
  mcs_session_free(s);
}

static mcs_outcome outcome_of(fixture *f, const char *cookie) {
  mcs_session *s = load(f, cookie);
  mcs_outcome o = mcs_session_outcome(s);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  return o;
}

static size_t list(fixture *f, const char *uid, mcs_user_session **out) {
  size_t n = 99;
  assert_int_equal(mcs_manager_list_sessions(f->mgr, uid, out, &n), MCS_OK);
  return n;
}

/* uid's list holds exactly the session `handle` names. */
static void expect_only(fixture *f, const char *uid, const char *handle) {
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, uid, &l), 1);
  assert_string_equal(l[0].handle, handle);
  mcs_free(l);
}

static void test_logins_are_listed_with_labels_and_handles(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, b, c;
  login_on(f->mgr, "alice", "Firefox on Linux", "192.0.2.1", &a);
  f->clock.now += 10;
  login_on(f->mgr, "alice", "Safari on iPhone", "2001:db8::7", &b);
  login_on(f->mgr, "bob", NULL, NULL, &c);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 2);
  assert_string_equal(l[0].handle, a.handle);
  assert_string_equal(l[1].handle, b.handle);
  assert_string_not_equal(a.handle, b.handle);
  assert_int_equal(l[0].created, 1700000000);
  assert_int_equal(l[1].created, 1700000010);
  assert_int_equal(l[1].last_seen, 1700000010);
  assert_int_equal(l[0].label_count, 2);
  assert_string_equal(l[0].labels[0], "Firefox on Linux");
  assert_string_equal(l[1].labels[1], "2001:db8::7");
  mcs_free(l);
  assert_int_equal(list(f, "bob", &l), 1);
  assert_int_equal(l[0].label_count, 0);
  assert_string_equal(l[0].handle, c.handle);
  mcs_free(l);
  assert_int_equal(list(f, "carol", &l), 0);
  assert_null(l);
  /* The handle is neither the cookie's id nor anything in it. */
  assert_null(strstr(a.cookie, a.handle));
  fixture_free(f);
}

static void test_end_one_session_leaves_the_others(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, b, c;
  login_on(f->mgr, "alice", "one", "1", &a);
  login_on(f->mgr, "alice", "two", "2", &b);
  login_on(f->mgr, "alice", "three", "3", &c);
  assert_int_equal(mcs_manager_end_session(f->mgr, "alice", b.handle),
                   MCS_OK);
  assert_int_equal(outcome_of(f, b.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  assert_int_equal(outcome_of(f, c.cookie), MCS_SESSION_LOADED);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 2);
  assert_string_equal(l[0].handle, a.handle);
  assert_string_equal(l[1].handle, c.handle);
  mcs_free(l);
  /* Again, or under another user: nothing there. */
  assert_int_equal(mcs_manager_end_session(f->mgr, "alice", b.handle),
                   MCS_ENOENT);
  assert_int_equal(mcs_manager_end_session(f->mgr, "bob", a.handle),
                   MCS_ENOENT);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  fixture_free(f);
}

/* "Log out everywhere else": one read of the list, a delete per session
 * ended, one write; the kept session and other users' stay. */
static void test_end_other_sessions_keeps_one(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, b, c, d, e;
  login_on(f->mgr, "alice", "one", "1", &a);
  login_on(f->mgr, "alice", "two", "2", &b);
  login_on(f->mgr, "alice", "three", "3", &c);
  login_on(f->mgr, "alice", "four", "4", &d);
  login_on(f->mgr, "bob", NULL, NULL, &e);
  size_t ended = 99;
  spy_reset_counts(&f->spy);
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "alice", b.handle, &ended),
      MCS_OK);
  assert_int_equal(ended, 3);
  assert_int_equal(f->spy.gets, 1);
  assert_int_equal(f->spy.dels, 3);
  assert_int_equal(f->spy.cases, 1);
  assert_int_equal(spy_total(&f->spy), 5);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, c.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, d.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, b.cookie), MCS_SESSION_LOADED);
  assert_int_equal(outcome_of(f, e.cookie), MCS_SESSION_LOADED);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 1);
  assert_string_equal(l[0].handle, b.handle);
  assert_string_equal(l[0].labels[0], "two");
  mcs_free(l);
  /* Nothing left to end: one read, no write. */
  spy_reset_counts(&f->spy);
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "alice", b.handle, &ended),
      MCS_OK);
  assert_int_equal(ended, 0);
  assert_int_equal(spy_total(&f->spy), 1);
  /* A kept handle that is not listed ends every listed one, itself
   * never; NULL keeps none. */
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "bob", b.handle, NULL), MCS_OK);
  assert_int_equal(outcome_of(f, e.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, b.cookie), MCS_SESSION_LOADED);
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "alice", NULL, &ended), MCS_OK);
  assert_int_equal(ended, 1);
  assert_int_equal(outcome_of(f, b.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(list(f, "alice", &l), 0);
  fixture_free(f);
}

typedef struct race {
  fixture *f;
  login_out late;
} race;

/* Before end_other_sessions writes the list: another device logs in. */
static void login_meanwhile(spy *sp, void *ud) {
  (void)sp;
  race *r = ud;
  login_on(r->f->mgr, "alice", "late", "9", &r->late);
}

/* A login that wins the race against the list's write makes it replay:
 * the session that came meanwhile is ended too, the kept one is not. */
static void test_end_other_sessions_replays_over_a_login(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, b;
  race r = {f, {{0}, {0}}};
  login_on(f->mgr, "alice", "one", "1", &a);
  login_on(f->mgr, "alice", "two", "2", &b);
  f->spy.before_cas = login_meanwhile;
  f->spy.before_cas_ud = &r;
  size_t ended = 0;
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "alice", a.handle, &ended),
      MCS_OK);
  assert_int_not_equal(r.late.handle[0], '\0'); /* the hook ran */
  assert_int_equal(ended, 2);                    /* b, and the late one */
  assert_int_equal(outcome_of(f, r.late.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, b.cookie), MCS_SESSION_EXPIRED);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  expect_only(f, "alice", a.handle);
  fixture_free(f);
}

/* The store failing: its error, nothing counted as ended, and every
 * session still there once it is back. */
static void test_end_other_sessions_store_failure(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, b;
  login_on(f->mgr, "alice", "one", "1", &a);
  login_on(f->mgr, "alice", "two", "2", &b);
  f->spy.fail_all = MCS_ESTORE;
  size_t ended = 7;
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "alice", a.handle, &ended),
      MCS_ESTORE);
  assert_int_equal(ended, 0);
  f->spy.fail_all = 0;
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  assert_int_equal(outcome_of(f, b.cookie), MCS_SESSION_LOADED);
  fixture_free(f);
}

static void test_list_keeps_the_64_newest_and_ends_none(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out first, o;
  login_on(f->mgr, "alice", "first", "x", &first);
  for (int i = 0; i < MCS_USER_SESSIONS_MAX + 5; i++) {
    f->clock.now++;
    login_on(f->mgr, "alice", "more", "x", &o);
  }
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), MCS_USER_SESSIONS_MAX);
  assert_string_equal(l[MCS_USER_SESSIONS_MAX - 1].handle, o.handle);
  for (size_t i = 0; i < MCS_USER_SESSIONS_MAX; i++)
    assert_string_not_equal(l[i].handle, first.handle);
  mcs_free(l);
  /* Dropped off the list, still logged in. */
  assert_int_equal(outcome_of(f, first.cookie), MCS_SESSION_LOADED);
  assert_int_equal(mcs_manager_end_session(f->mgr, "alice", first.handle),
                   MCS_ENOENT);
  fixture_free(f);
}

static void interval_60(mcs_manager_config *cfg) {
  cfg->last_seen_interval = 60;
}

static void test_last_seen_is_written_once_per_interval(void **st) {
  (void)st;
  fixture *f = fixture_new(interval_60);
  login_out a;
  login_on(f->mgr, "alice", "ua", "ip", &a);
  int64_t t0 = f->clock.now;
  /* Loads within the interval: the record's read and nothing else (the
   * revocation cache is fresh for 5 s, so stay within it, then past). */
  for (int i = 0; i < 3; i++) {
    spy_reset_counts(&f->spy);
    assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
    assert_int_equal(spy_total(&f->spy), 1);
    f->clock.now += 1;
  }
  f->clock.now = t0 + 59;
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  assert_int_equal(f->spy.cases, 0); /* the revocation read, no list */
  assert_int_equal(f->spy.gets, 2);
  f->clock.now = t0 + 60; /* the interval passed: one read, one write */
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  /* the record and the list (the revocation cache, read at t0 + 59, is
   * fresh) */
  assert_int_equal(f->spy.gets, 2);
  assert_int_equal(f->spy.cases, 1);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 1);
  assert_int_equal(l[0].last_seen, t0 + 60);
  assert_int_equal(l[0].created, t0);
  mcs_free(l);
  f->clock.now += 1;
  spy_reset_counts(&f->spy);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  assert_int_equal(spy_total(&f->spy), 1);
  fixture_free(f);
}

/* Another process's first load of the session reads the list and finds
 * its time recent: no write. */
static void test_other_process_reads_but_does_not_rewrite(void **st) {
  (void)st;
  fixture *f = fixture_new(interval_60);
  mcs_manager *other = fixture_manager(f, interval_60);
  login_out a;
  login_on(f->mgr, "alice", "ua", "ip", &a);
  mcs_session *s = NULL;
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_load(other, a.cookie, strlen(a.cookie), &s),
                   MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_int_equal(f->spy.cases + f->spy.sets + f->spy.adds, 0);
  mcs_session_free(s);
  spy_reset_counts(&f->spy);
  assert_int_equal(mcs_session_load(other, a.cookie, strlen(a.cookie), &s),
                   MCS_OK);
  assert_int_equal(spy_total(&f->spy), 1);
  mcs_session_free(s);
  mcs_manager_free(other);
  fixture_free(f);
}

static test_clock behind = {0};

static void interval_60_behind(mcs_manager_config *cfg) {
  interval_60(cfg);
  cfg->clock = test_clock_read;
  cfg->clock_ud = &behind;
}

/* A process whose clock is behind the one that wrote "last seen" reads
 * the list once, not on every load (the time it remembers is never
 * ahead of its own clock). */
static void test_a_clock_behind_reads_the_list_once(void **st) {
  (void)st;
  fixture *f = fixture_new(interval_60);
  behind.now = f->clock.now - 100;
  mcs_manager *other = fixture_manager(f, interval_60_behind);
  login_out a;
  login_on(f->mgr, "alice", "ua", "ip", &a);
  mcs_session *s = NULL;
  for (int i = 0; i < 2; i++) {
    spy_reset_counts(&f->spy);
    assert_int_equal(
        mcs_session_load(other, a.cookie, strlen(a.cookie), &s), MCS_OK);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
    mcs_session_free(s);
    behind.now++;
  }
  assert_int_equal(spy_total(&f->spy), 1); /* the record's read alone */
  mcs_manager_free(other);
  fixture_free(f);
}

static void absolute_3600(mcs_manager_config *cfg) {
  cfg->absolute_timeout = 3600;
}

static void test_list_prunes_ended_revoked_and_expired(void **st) {
  (void)st;
  fixture *f = fixture_new(absolute_3600); /* idle_timeout 1800 */
  login_out a, b, c, d;
  login_on(f->mgr, "alice", "a", "1", &a);
  login_on(f->mgr, "alice", "b", "2", &b);
  login_on(f->mgr, "alice", "d", "4", &d);
  f->clock.now += 1000;
  login_on(f->mgr, "alice", "c", "3", &c);
  /* b logs out: gone from the list at once. */
  mcs_session *s = load(f, b.cookie);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 3);
  mcs_free(l);
  /* d's record disappears without a logout (evicted, say): pruned. */
  mcs_store_result r;
  mcs_admin_ref ref;
  const char *value = strchr(d.cookie, '=') + 1; /* "session=<value>" */
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  assert_int_equal(mcs_store_delete(f->memory, ref.key, ref.key_len, &r),
                   MCS_OK);
  assert_int_equal(list(f, "alice", &l), 2);
  assert_string_equal(l[0].handle, a.handle);
  assert_string_equal(l[1].handle, c.handle);
  mcs_free(l);
  /* a and c stay in use; then a is past its absolute lifetime (its
   * record is still there: no load has dropped it yet). */
  for (int i = 0; i < 4; i++) {
    f->clock.now += 600;
    assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
    assert_int_equal(outcome_of(f, c.cookie), MCS_SESSION_LOADED);
  }
  f->clock.now = 1700000000 + 3600;
  expect_only(f, "alice", c.handle);
  /* The pruning was written back: the next listing writes nothing. */
  spy_reset_counts(&f->spy);
  assert_int_equal(list(f, "alice", &l), 1);
  mcs_free(l);
  assert_int_equal(f->spy.cases + f->spy.sets, 0);
  /* c idle for longer than idle_timeout: pruned. */
  f->clock.now += 1800 + 300 + 61;
  assert_int_equal(list(f, "alice", &l), 0);
  login_on(f->mgr, "alice", "e", "5", &c);
  /* Revoked: all gone. */
  assert_int_equal(mcs_manager_revoke_user(f->mgr, "alice"), MCS_OK);
  assert_int_equal(list(f, "alice", &l), 0);
  /* A login after the revocation is listed. */
  login_on(f->mgr, "alice", "f", "6", &a);
  expect_only(f, "alice", a.handle);
  fixture_free(f);
}

/* The list's store key, as sessions.c names it. */
static void list_key(fixture *f, const char *uid,
                     char key[MCS_STORE_KEY_MAX + 1]) {
  uint8_t mac[MCS__HMAC_BYTES];
  mcs__user_mac(f->mgr, uid, mac);
  memcpy(key, "mcs:l:", 6);
  key[6 + mcs__b64url_encode(mac, sizeof mac, key + 6)] = '\0';
}


static void test_list_is_sealed_and_a_bad_one_is_empty(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a;
  login_on(f->mgr, "alice", "Firefox-on-Linux", "192.0.2.1", &a);
  char key[MCS_STORE_KEY_MAX + 1];
  list_key(f, "alice", key);
  void *raw = NULL;
  size_t len = 0;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(f->memory, key, strlen(key), 0, 1 << 20,
                                 &raw, &len, NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_false(mem_contains(raw, len, "Firefox"));
  assert_false(mem_contains(raw, len, "192.0.2.1"));
  assert_false(mem_contains(raw, len, a.handle));
  assert_false(mem_contains(raw, len, "mcs:"));
  /* Flipped: it lists nothing and ends nothing. */
  ((uint8_t *)raw)[len - 1] ^= 1;
  assert_int_equal(
      mcs_store_set(f->memory, key, strlen(key), raw, len, 0, 600, &r),
      MCS_OK);
  mcs_free(raw);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 0);
  assert_int_equal(mcs_manager_end_session(f->mgr, "alice", a.handle),
                   MCS_ENOENT);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  /* Another user's list copied over alice's does not open either. */
  login_out b;
  login_on(f->mgr, "bob", "x", "y", &b);
  char bkey[MCS_STORE_KEY_MAX + 1];
  list_key(f, "bob", bkey);
  assert_int_equal(mcs_store_get(f->memory, bkey, strlen(bkey), 0, 1 << 20,
                                 &raw, &len, NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(
      mcs_store_set(f->memory, key, strlen(key), raw, len, 0, 600, &r),
      MCS_OK);
  mcs_free(raw);
  assert_int_equal(list(f, "alice", &l), 0);
  /* The next login starts it afresh. */
  login_on(f->mgr, "alice", "again", "z", &a);
  assert_int_equal(list(f, "alice", &l), 1);
  mcs_free(l);
  fixture_free(f);
}

static void test_regenerate_keeps_the_entry_under_a_new_handle(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a;
  login_on(f->mgr, "alice", "ua", "ip", &a);
  f->clock.now += 5;
  mcs_session *s = load(f, a.cookie);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  char h[MCS_SESSION_HANDLE_LEN + 1];
  assert_int_equal(mcs_session_handle(s, h), MCS_OK);
  assert_string_not_equal(h, a.handle);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  f->clock.now += 60; /* past the retired snapshot's grace */
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 1);
  assert_string_equal(l[0].handle, h);
  assert_int_equal(l[0].created, 1700000000);
  assert_string_equal(l[0].labels[0], "ua");
  mcs_free(l);
  fixture_free(f);
}

/* A regenerated session keeps its place in the list (created stays its
 * first login's): the list stays oldest first, and the oldest is what
 * drops off. */
static void test_regenerate_keeps_the_entrys_place(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, b;
  login_on(f->mgr, "alice", "first", "1", &a);
  f->clock.now += 10;
  login_on(f->mgr, "alice", "second", "2", &b);
  f->clock.now += 10;
  mcs_session *s = load(f, a.cookie);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  char h[MCS_SESSION_HANDLE_LEN + 1];
  assert_int_equal(mcs_session_handle(s, h), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  f->clock.now += 60; /* past the retired snapshot's grace */
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 2);
  assert_string_equal(l[0].handle, h);
  assert_int_equal(l[0].created, 1700000000);
  assert_string_equal(l[1].handle, b.handle);
  mcs_free(l);
  fixture_free(f);
}

/* A stored session bound to another user (set_user without regenerate)
 * leaves the first user's list: that user can no longer end it, nor see
 * it. Bound back within the request, nothing moves. */
static void test_a_session_bound_to_another_user_leaves_the_list(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  login_out a, other;
  login_on(f->mgr, "alice", "ua", "ip", &a);
  login_on(f->mgr, "alice", "ua", "ip", &other);
  mcs_session *s = load(f, a.cookie);
  assert_int_equal(mcs_session_set_user(s, "bob"), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  expect_only(f, "alice", other.handle);
  expect_only(f, "bob", a.handle);
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "alice", NULL, NULL), MCS_OK);
  assert_int_equal(outcome_of(f, a.cookie), MCS_SESSION_LOADED);
  /* bob, then carol, then bob again in one request: bob's list keeps it */
  s = load(f, a.cookie);
  assert_int_equal(mcs_session_set_user(s, "carol"), MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "bob"), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  expect_only(f, "bob", a.handle);
  fixture_free(f);
}

static void test_labels_are_checked_and_cut(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  char longer[300];
  memset(longer, 'a', sizeof longer);
  memcpy(longer + MCS_SESSION_LABEL_MAX - 1, "\xc3\xa9", 2); /* é across */
  longer[sizeof longer - 1] = '\0';
  const char *bad[] = {"tab\there"};
  const char *cut[] = {longer};
  const char *five[] = {"1", "2", "3", "4", "5"};
  assert_int_equal(mcs_session_set_user_labels(s, "alice", bad, 1),
                   MCS_EINVAL);
  assert_int_equal(mcs_session_set_user_labels(s, "alice", five, 5),
                   MCS_EINVAL);
  assert_int_equal(mcs_session_set_user_labels(s, "alice", NULL, 1),
                   MCS_EINVAL);
  assert_int_equal(mcs_session_set_user_labels(s, "alice", cut, 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  mcs_user_session *l = NULL;
  assert_int_equal(list(f, "alice", &l), 1);
  assert_int_equal(strlen(l[0].labels[0]), MCS_SESSION_LABEL_MAX - 1);
  mcs_free(l);
  fixture_free(f);
}

static const char session_secret[] = "the recipe's session secret";

static void tornado(mcs_manager_config *cfg) {
  cfg->mode = MCS_MODE_TORNADO;
  cfg->session_secret = session_secret;
  cfg->session_secret_len = sizeof session_secret - 1;
}

static void test_bad_arguments_and_tornado_mode(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_user_session *l = (void *)1;
  size_t n = 7;
  assert_int_equal(mcs_manager_list_sessions(NULL, "a", &l, &n), MCS_EINVAL);
  assert_null(l);
  assert_int_equal(n, 0);
  assert_int_equal(mcs_manager_list_sessions(f->mgr, "", &l, &n),
                   MCS_EINVAL);
  assert_int_equal(mcs_manager_list_sessions(f->mgr, "a", NULL, &n),
                   MCS_EINVAL);
  assert_int_equal(mcs_manager_end_session(f->mgr, "a", "short"),
                   MCS_EINVAL);
  assert_int_equal(
      mcs_manager_end_session(f->mgr, "a", "AAAAAAAAAAAAAAAAAAAAA="),
      MCS_EINVAL);
  assert_int_equal(mcs_manager_end_session(f->mgr, "a", NULL), MCS_EINVAL);
  size_t ended = 5;
  assert_int_equal(mcs_manager_end_other_sessions(NULL, "a", NULL, &ended),
                   MCS_EINVAL);
  assert_int_equal(ended, 0);
  assert_int_equal(mcs_manager_end_other_sessions(f->mgr, "", NULL, NULL),
                   MCS_EINVAL);
  assert_int_equal(
      mcs_manager_end_other_sessions(f->mgr, "a", "short", NULL), MCS_EINVAL);
  assert_int_equal(mcs_session_handle(NULL, NULL), MCS_EINVAL);
  assert_true(mcs_session_handle_valid("AAAAAAAAAAAAAAAAAAAA-_"));
  assert_false(mcs_session_handle_valid("AAAAAAAAAAAAAAAAAAAAA="));
  assert_false(mcs_session_handle_valid("AAAAAAAAAAAAAAAAAAAAAAA"));
  assert_false(mcs_session_handle_valid("short"));
  assert_false(mcs_session_handle_valid(NULL));
  fixture_free(f);

  fixture *t = fixture_new(tornado);
  mcs_manager *m = t->mgr;
  assert_int_equal(mcs_manager_list_sessions(m, "a", &l, &n), MCS_EINVAL);
  assert_int_equal(
      mcs_manager_end_session(m, "a", "AAAAAAAAAAAAAAAAAAAAAA"), MCS_EINVAL);
  assert_int_equal(mcs_manager_end_other_sessions(m, "a", NULL, NULL),
                   MCS_EINVAL);
  mcs_session *s = NULL;
  char h[MCS_SESSION_HANDLE_LEN + 1];
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_handle(s, h), MCS_EINVAL);
  assert_int_equal(mcs_session_set_user_labels(s, "a", NULL, 0), MCS_EINVAL);
  mcs_session_free(s);
  fixture_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_logins_are_listed_with_labels_and_handles),
      cmocka_unit_test(test_end_one_session_leaves_the_others),
      cmocka_unit_test(test_end_other_sessions_keeps_one),
      cmocka_unit_test(test_end_other_sessions_replays_over_a_login),
      cmocka_unit_test(test_end_other_sessions_store_failure),
      cmocka_unit_test(test_list_keeps_the_64_newest_and_ends_none),
      cmocka_unit_test(test_last_seen_is_written_once_per_interval),
      cmocka_unit_test(test_other_process_reads_but_does_not_rewrite),
      cmocka_unit_test(test_a_clock_behind_reads_the_list_once),
      cmocka_unit_test(test_list_prunes_ended_revoked_and_expired),
      cmocka_unit_test(test_list_is_sealed_and_a_bad_one_is_empty),
      cmocka_unit_test(test_regenerate_keeps_the_entry_under_a_new_handle),
      cmocka_unit_test(test_regenerate_keeps_the_entrys_place),
      cmocka_unit_test(test_a_session_bound_to_another_user_leaves_the_list),
      cmocka_unit_test(test_labels_are_checked_and_cut),
      cmocka_unit_test(test_bad_arguments_and_tornado_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
