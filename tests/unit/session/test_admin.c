/* The operator's API (mcsession/admin.h) on the memory store: naming a
 * session by cookie or id (native and tornado), reading it without
 * sliding its expiry (with the memory store's peek, and through a store
 * without one), retired snapshots, a revoked user, touch, destroy, a
 * user's revocation record, and bad input. The memcached store's peek is
 * covered by integration.memcached_revoke and, through the mcsession
 * tool, integration.tool_ops. */
#include <stdbool.h>

#include "test_util.h"

static const char session_secret[] = "the recipe's session secret";

static void tornado(mcs_manager_config *cfg) {
  cfg->mode = MCS_MODE_TORNADO;
  cfg->session_secret = session_secret;
  cfg->session_secret_len = sizeof session_secret - 1;
}

/* A manager straight on the fixture's memory store (which has a peek),
 * not through the spy (which has none); same keys, prefix and clock, so
 * it names the same records. */
static mcs_manager *direct_manager(fixture *f, bool tornado_mode) {
  return fixture_manager_on(f, f->memory, tornado_mode ? tornado : NULL);
}

/* A saved session holding {"n": 7} (and bound to `uid` unless NULL);
 * its first cookie's value goes to value[size]. */
static void new_session(fixture *f, const char *uid, char *value, size_t size) {
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", 7), MCS_OK);
  if (uid)
    assert_int_equal(mcs_session_set_user(s, uid), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char hdr[1024];
  cookie_header_from(s, hdr, sizeof hdr);
  const char *eq = strchr(hdr, '=');
  assert_non_null(eq);
  assert_true(strlen(eq + 1) < size);
  strcpy(value, eq + 1);
  mcs_session_free(s);
}

/* The id the cookie value names. */
static void id_of(fixture *f, const char *value, char id[65]) {
  mcs_admin_ref ref;
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  strcpy(id, ref.id);
}

/* ---- Naming ------------------------------------------------------------- */

static void test_resolve_cookie_and_id(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], quoted[600];
  new_session(f, NULL, value, sizeof value);
  mcs_admin_ref ref;
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  assert_int_equal(strlen(ref.id), MCS_ID_LEN);
  assert_string_equal(ref.key, f->spy.last_key); /* where save added it */
  assert_int_equal(ref.key_len, strlen(ref.key));
  assert_int_equal(ref.signed_at, f->clock.now);
  /* The raw id names the same record; it carries no signature time. */
  char id[65];
  strcpy(id, ref.id);
  mcs_admin_ref by_id;
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, id, strlen(id), NULL, &by_id), MCS_OK);
  assert_string_equal(by_id.id, id);
  assert_string_equal(by_id.key, ref.key);
  assert_int_equal(by_id.signed_at, 0);
  /* Quoted, as a Cookie header may carry it; the length is what counts
   * (no NUL needed). */
  snprintf(quoted, sizeof quoted, "\"%s\"trailing", value);
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, quoted, strlen(value) + 2, NULL, &ref),
      MCS_OK);
  assert_string_equal(ref.id, id);
  /* The store key alone. */
  char key[MCS_STORE_KEY_MAX + 1];
  size_t key_len = 0;
  assert_int_equal(mcs_admin_store_key(f->mgr, id, key, sizeof key, &key_len),
                   MCS_OK);
  assert_string_equal(key, ref.key);
  assert_int_equal(key_len, ref.key_len);
  assert_int_equal(mcs_admin_store_key(f->mgr, id, key, key_len + 1, NULL),
                   MCS_OK);
  assert_int_equal(mcs_admin_store_key(f->mgr, id, key, key_len, NULL),
                   MCS_ELIMIT);
  /* Naming touched nothing in the store. */
  spy_reset_counts(&f->spy);
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  assert_int_equal(spy_total(&f->spy), 0);
  fixture_free(f);
}

/* An operator may look at an old cookie: no age check, unlike a load. */
static void test_resolve_has_no_age_limit(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], hdr[600];
  new_session(f, NULL, value, sizeof value);
  int64_t signed_at = f->clock.now;
  f->clock.now += 40 * 86400; /* past the 1-day signature max age */
  snprintf(hdr, sizeof hdr, "session=%s", value);
  mcs_session *s = load(f, hdr);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  mcs_admin_ref ref;
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  assert_int_equal(ref.signed_at, signed_at);
  fixture_free(f);
}

static void test_resolve_refuses_bad_input(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], buf[600];
  new_session(f, NULL, value, sizeof value);
  mcs_admin_ref ref;
  memset(&ref, 0xa5, sizeof ref);
  /* NULLs; *out zeroed whenever it is there. */
  assert_int_equal(mcs_admin_session_resolve(NULL, value, 3, NULL, &ref),
                   MCS_EINVAL);
  assert_int_equal(ref.key_len, 0);
  assert_string_equal(ref.id, "");
  assert_int_equal(mcs_admin_session_resolve(f->mgr, NULL, 3, NULL, &ref),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, value, 3, NULL, NULL),
                   MCS_EINVAL);
  /* Neither an id nor a signed value. */
  assert_int_equal(mcs_admin_session_resolve(f->mgr, "hello", 5, NULL, &ref),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, "", 0, NULL, &ref),
                   MCS_EINVAL);
  /* An id of the other mode, or one character short. */
  char hex[65];
  memset(hex, 'a', 64);
  hex[64] = '\0';
  assert_int_equal(mcs_admin_session_resolve(f->mgr, hex, 64, NULL, &ref),
                   MCS_EINVAL);
  char id[65];
  id_of(f, value, id);
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, id, MCS_ID_LEN - 1, NULL, &ref),
      MCS_EINVAL);
  /* Altered: the signature's last digit. */
  strcpy(buf, value);
  char *last = buf + strlen(buf) - 1;
  *last = *last == '0' ? '1' : '0';
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, buf, strlen(buf), NULL, &ref),
      MCS_EBADSIG);
  assert_string_equal(ref.id, "");
  /* Signed with another key, or under another name. */
  mcs_keyring *other = NULL;
  assert_int_equal(mcs_keyring_new(&other), MCS_OK);
  assert_int_equal(mcs_keyring_add(other, 0, "fedcba9876543210", 16), MCS_OK);
  size_t n = 0;
  assert_int_equal(
      mcs_sign(other, 0, "session", id, strlen(id), 1, buf, sizeof buf, &n),
      MCS_OK);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, buf, n, NULL, &ref),
                   MCS_EBADSIG);
  mcs_keyring_free(other);
  assert_int_equal(
      mcs_sign(f->keys, 0, "sid", id, strlen(id), 1, buf, sizeof buf, &n),
      MCS_OK);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, buf, n, NULL, &ref),
                   MCS_EBADSIG);
  /* ... which verifies under the name given (an application whose
   * cookie_name this manager does not share). */
  assert_int_equal(mcs_admin_session_resolve(f->mgr, buf, n, "sid", &ref),
                   MCS_OK);
  assert_string_equal(ref.id, id);
  /* Authentic, but no session id inside. */
  assert_int_equal(
      mcs_sign(f->keys, 0, "session", "short-id", 8, 1, buf, sizeof buf, &n),
      MCS_OK);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, buf, n, NULL, &ref),
                   MCS_EINVAL);
  char big[200];
  memset(big, 'A', sizeof big);
  assert_int_equal(
      mcs_sign(f->keys, 0, "session", big, sizeof big, 1, buf, sizeof buf, &n),
      MCS_OK);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, buf, n, NULL, &ref),
                   MCS_EINVAL);
  /* mcs_admin_store_key checks the id too. */
  char key[MCS_STORE_KEY_MAX + 1];
  assert_int_equal(mcs_admin_store_key(f->mgr, "short", key, sizeof key, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_store_key(f->mgr, hex, key, sizeof key, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_store_key(NULL, id, key, sizeof key, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_store_key(f->mgr, NULL, key, sizeof key, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_store_key(f->mgr, id, NULL, 0, NULL), MCS_EINVAL);
  fixture_free(f);
}

/* ---- Reading ------------------------------------------------------------ */

/* The memory store's peek: the seconds left, counting down; nothing
 * slides them. Through a store without peek (the spy): a get that does
 * not slide, and a TTL nobody can tell. */
static void test_read_does_not_slide_the_expiry(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], id[65];
  new_session(f, NULL, value, sizeof value);
  id_of(f, value, id);
  mcs_manager *m = direct_manager(f, false);
  mcs_admin_view v;
  int found = 0;
  f->clock.now += 100;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(mcs_admin_session_read(m, id, &v, &found), MCS_OK);
    assert_int_equal(found, 1);
    assert_int_equal(v.ttl, 1800 - 100 - 10 * i);
    assert_string_equal(v.data, "{\"n\":7}");
    assert_int_equal(v.data_len, 7);
    assert_int_equal(v.created, f->clock.now - 100 - 10 * i);
    assert_int_equal(v.revision, 1);
    assert_int_equal(v.retired_until, 0);
    assert_null(v.user);
    assert_int_equal(v.user_revoked, -1);
    mcs_admin_view_clear(&v);
    f->clock.now += 10;
  }
  /* A load slides it back to the idle timeout: that is the difference. */
  char hdr[600];
  snprintf(hdr, sizeof hdr, "session=%s", value);
  mcs_session *s = load(f, hdr);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  assert_int_equal(mcs_admin_session_read(m, id, &v, &found), MCS_OK);
  assert_int_equal(v.ttl, 1800);
  mcs_admin_view_clear(&v);
  /* Through the spy: one get, touch_ttl 0, no touch. */
  spy_reset_counts(&f->spy);
  f->spy.get_touch_ttl = 99;
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_int_equal(f->spy.gets, 1);
  assert_int_equal(f->spy.get_touch_ttl, 0);
  assert_int_equal(spy_total(&f->spy), 1);
  assert_int_equal(v.ttl, MCS_STORE_TTL_UNKNOWN);
  assert_string_equal(v.data, "{\"n\":7}");
  mcs_admin_view_clear(&v);
  mcs_admin_view_clear(&v); /* twice is fine */
  mcs_admin_view_clear(NULL);
  mcs_manager_free(m);
  fixture_free(f);
}

static void accept_plain(mcs_manager_config *cfg) {
  cfg->seal_records = MCS_SEAL_ACCEPT_PLAIN;
}

static void test_read_missing_corrupt_and_bad_input(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], id[65], key[MCS_STORE_KEY_MAX + 1];
  new_session(f, NULL, value, sizeof value);
  id_of(f, value, id);
  mcs_admin_view v;
  int found = 7;
  /* Bad input: EINVAL, the view empty. */
  memset(&v, 0xa5, sizeof v);
  assert_int_equal(mcs_admin_session_read(NULL, id, &v, &found), MCS_EINVAL);
  assert_null(v.data);
  assert_int_equal(found, 0);
  assert_int_equal(mcs_admin_session_read(f->mgr, NULL, &v, &found),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_session_read(f->mgr, id, NULL, &found),
                   MCS_EINVAL);
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, NULL), MCS_EINVAL);
  assert_int_equal(mcs_admin_session_read(f->mgr, "not-an-id", &v, &found),
                   MCS_EINVAL);
  /* Plain where only sealed records open: found, and EBADSIG, counted. */
  size_t key_len = 0;
  assert_int_equal(mcs_admin_store_key(f->mgr, id, key, sizeof key, &key_len),
                   MCS_OK);
  mcs_store_result r;
  assert_int_equal(
      mcs_store_set(f->memory, key, key_len, "{not json", 9, 0, 60, &r),
      MCS_OK);
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found),
                   MCS_EBADSIG);
  assert_int_equal(found, 1);
  assert_null(v.data);
  mcs_manager_stats stats;
  mcs_manager_stats_get(f->mgr, &stats);
  assert_int_equal(stats.tampered, 1);
  /* Corrupt, where plain records are accepted: found, and ECORRUPT. */
  mcs_manager *plain = fixture_manager(f, accept_plain);
  assert_int_equal(mcs_admin_session_read(plain, id, &v, &found),
                   MCS_ECORRUPT);
  assert_int_equal(found, 1);
  assert_null(v.data);
  mcs_manager_free(plain);
  /* Gone: MCS_OK, not found. */
  f->clock.now += 61;
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_OK);
  assert_int_equal(found, 0);
  assert_null(v.data);
  /* The store failing. */
  f->spy.fail_all = MCS_ESTORE;
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_ESTORE);
  assert_int_equal(found, 0);
  fixture_free(f);
}

/* Retired: the old id of a regenerated session, read-only until
 * retired_until, its old data, no user. */
static void test_read_a_retired_snapshot(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], id[65], hdr[600];
  new_session(f, "alice", value, sizeof value);
  id_of(f, value, id);
  snprintf(hdr, sizeof hdr, "session=%s", value);
  mcs_session *s = load(f, hdr);
  assert_int_equal(mcs_session_set_int(s, "n", 8), MCS_OK);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  mcs_admin_view v;
  int found = 0;
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_int_equal(v.retired_until, f->clock.now + 10); /* forward_ttl */
  assert_string_equal(v.data, "{\"n\":7}");
  assert_null(v.user);
  assert_int_equal(v.user_revoked, -1);
  mcs_admin_view_clear(&v);
  fixture_free(f);
}

/* A bound session: the user's record is read now, whatever the
 * manager's cache says; a revoked session is reported, not deleted. */
static void test_read_a_session_whose_user_was_revoked(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], id[65];
  new_session(f, "alice", value, sizeof value);
  id_of(f, value, id);
  mcs_admin_view v;
  int found = 0;
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_OK);
  assert_string_equal(v.user, "alice");
  assert_int_equal(v.user_revoked, 0);
  mcs_admin_view_clear(&v);
  /* Another process revokes; this manager's cache (5 s) still says
   * current, and is not asked. */
  mcs_manager *other = direct_manager(f, false);
  assert_int_equal(mcs_admin_user_revoke(other, "alice", 0, NULL), MCS_OK);
  mcs_manager_free(other);
  mcs_manager_stats before, after;
  mcs_manager_stats_get(f->mgr, &before);
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_OK);
  mcs_manager_stats_get(f->mgr, &after);
  assert_string_equal(v.user, "alice");
  assert_int_equal(v.user_revoked, 1);
  assert_int_equal(after.revocation_reads, before.revocation_reads + 1);
  assert_int_equal(after.loaded, before.loaded);
  mcs_admin_view_clear(&v);
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found), MCS_OK);
  assert_int_equal(found, 1); /* still there: reading deleted nothing */
  mcs_admin_view_clear(&v);
  /* The store failing: the read fails, as a load would. */
  f->spy.fail_all = MCS_ETIMEDOUT;
  assert_int_equal(mcs_admin_session_read(f->mgr, id, &v, &found),
                   MCS_ETIMEDOUT);
  assert_null(v.user);
  fixture_free(f);
}

/* ---- Touching and ending ------------------------------------------------ */

static void test_touch_and_destroy(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  char value[512], id[65], hdr[600];
  new_session(f, NULL, value, sizeof value);
  id_of(f, value, id);
  mcs_manager *m = direct_manager(f, false);
  int found = 0;
  assert_int_equal(mcs_admin_session_touch(f->mgr, id, 500, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_int_equal(f->spy.touch_ttl, 500);
  mcs_admin_view v;
  assert_int_equal(mcs_admin_session_read(m, id, &v, &found), MCS_OK);
  assert_int_equal(v.ttl, 500);
  assert_string_equal(v.data, "{\"n\":7}"); /* data untouched */
  mcs_admin_view_clear(&v);
  assert_int_equal(mcs_admin_session_touch(f->mgr, id, 0, &found), MCS_EINVAL);
  assert_int_equal(mcs_admin_session_touch(f->mgr, "x", 5, &found), MCS_EINVAL);
  assert_int_equal(mcs_admin_session_touch(NULL, id, 5, &found), MCS_EINVAL);
  assert_int_equal(mcs_admin_session_touch(f->mgr, id, 5, NULL), MCS_EINVAL);
  /* Destroy: gone for the application too. */
  assert_int_equal(mcs_admin_session_destroy(f->mgr, id, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_int_equal(mcs_admin_session_destroy(f->mgr, id, &found), MCS_OK);
  assert_int_equal(found, 0);
  assert_int_equal(mcs_admin_session_touch(f->mgr, id, 60, &found), MCS_OK);
  assert_int_equal(found, 0);
  snprintf(hdr, sizeof hdr, "session=%s", value);
  mcs_session *s = load(f, hdr);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  assert_int_equal(mcs_admin_session_destroy(f->mgr, "x", &found), MCS_EINVAL);
  assert_int_equal(mcs_admin_session_destroy(NULL, id, &found), MCS_EINVAL);
  assert_int_equal(mcs_admin_session_destroy(f->mgr, id, NULL), MCS_EINVAL);
  f->spy.fail_all = MCS_ESTORE;
  assert_int_equal(mcs_admin_session_destroy(f->mgr, id, &found), MCS_ESTORE);
  assert_int_equal(mcs_admin_session_touch(f->mgr, id, 5, &found), MCS_ESTORE);
  mcs_manager_free(m);
  fixture_free(f);
}

/* ---- Users -------------------------------------------------------------- */

static void test_user_state_and_revoke(void **state) {
  (void)state;
  fixture *f = fixture_new(NULL);
  mcs_admin_user u;
  memset(&u, 0xa5, sizeof u);
  assert_int_equal(mcs_admin_user_state(f->mgr, "alice", &u), MCS_OK);
  assert_int_equal(u.generation, 0); /* never revoked: no record */
  assert_int_equal(u.written_at, 0);
  assert_int_equal(u.unreadable, 0);
  /* ttl 0: the manager's own rule (idle 1800 + interval 5 + 60). */
  uint64_t gen = 0;
  assert_int_equal(mcs_admin_user_revoke(f->mgr, "alice", 0, &gen), MCS_OK);
  assert_true(gen != 0);
  assert_int_equal(f->spy.set_ttl, 1865);
  assert_int_equal(mcs_revocation_ttl(1800, 86400, 5), 1865);
  f->clock.now += 3;
  assert_int_equal(mcs_admin_user_state(f->mgr, "alice", &u), MCS_OK);
  assert_int_equal(u.generation, gen);
  assert_int_equal(u.written_at, f->clock.now - 3);
  assert_int_equal(u.unreadable, 0);
  /* An explicit TTL, a new generation. */
  uint64_t gen2 = 0;
  assert_int_equal(mcs_admin_user_revoke(f->mgr, "alice", 999999, &gen2),
                   MCS_OK);
  assert_int_equal(f->spy.set_ttl, 999999);
  assert_true(gen2 != gen);
  assert_int_equal(mcs_admin_user_revoke(f->mgr, "alice", 5, NULL), MCS_OK);
  /* A record of another shape: unreadable, which counts as revoked. */
  char key[MCS_STORE_KEY_MAX + 1];
  strcpy(key, f->spy.last_set_key);
  mcs_store_result r;
  assert_int_equal(
      mcs_store_set(f->memory, key, strlen(key), "{\"v\":9}", 7, 0, 60, &r),
      MCS_OK);
  assert_int_equal(mcs_admin_user_state(f->mgr, "alice", &u), MCS_OK);
  assert_int_equal(u.unreadable, 1);
  assert_int_equal(u.generation, 0);
  assert_int_equal(u.written_at, 0);
  /* Bad input. */
  assert_int_equal(mcs_admin_user_state(NULL, "alice", &u), MCS_EINVAL);
  assert_int_equal(mcs_admin_user_state(f->mgr, "", &u), MCS_EINVAL);
  assert_int_equal(mcs_admin_user_state(f->mgr, NULL, &u), MCS_EINVAL);
  assert_int_equal(mcs_admin_user_state(f->mgr, "alice", NULL), MCS_EINVAL);
  assert_int_equal(mcs_admin_user_revoke(NULL, "alice", 0, NULL), MCS_EINVAL);
  assert_int_equal(mcs_admin_user_revoke(f->mgr, "a\nb", 0, NULL), MCS_EINVAL);
  f->spy.fail_all = MCS_ESTORE;
  memset(&u, 0xa5, sizeof u);
  assert_int_equal(mcs_admin_user_state(f->mgr, "alice", &u), MCS_ESTORE);
  assert_int_equal(u.generation, 0);
  assert_int_equal(mcs_admin_user_revoke(f->mgr, "alice", 0, NULL), MCS_ESTORE);
  fixture_free(f);
}

static void test_user_id_valid(void **state) {
  (void)state;
  char uid[MCS_USER_ID_MAX + 2];
  memset(uid, 'u', sizeof uid);
  uid[MCS_USER_ID_MAX] = '\0';
  assert_true(mcs_user_id_valid(uid));
  uid[MCS_USER_ID_MAX] = 'u';
  uid[MCS_USER_ID_MAX + 1] = '\0';
  assert_false(mcs_user_id_valid(uid));
  assert_true(mcs_user_id_valid("alice@example.com"));
  assert_true(mcs_user_id_valid("\xc3\xa9lodie"));
  assert_false(mcs_user_id_valid(""));
  assert_false(mcs_user_id_valid(NULL));
  assert_false(mcs_user_id_valid("a\tb"));
  assert_false(mcs_user_id_valid("\xc3"));
}

/* The edge checks' rule for a user name passed on in a header. */
static void test_user_header_safe(void **state) {
  (void)state;
  char big[MCS_USER_HEADER_MAX + 2];
  memset(big, 'u', sizeof big);
  assert_true(mcs_user_header_safe(big, MCS_USER_HEADER_MAX));
  assert_false(mcs_user_header_safe(big, MCS_USER_HEADER_MAX + 1));
  assert_true(mcs_user_header_safe("Jane Doe", 8));
  assert_true(mcs_user_header_safe("\xe6\x97\xa5\xe6\x9c\xac", 6));
  assert_true(mcs_user_header_safe("\xff", 1)); /* not UTF-8, still safe */
  assert_false(mcs_user_header_safe("x\x7f", 2));
  assert_false(mcs_user_header_safe("x ", 2));
  assert_false(mcs_user_header_safe(" x", 2));
  assert_false(mcs_user_header_safe(" ", 1));
  assert_false(mcs_user_header_safe("x", 0));
  assert_false(mcs_user_header_safe(NULL, 0));
  assert_false(mcs_user_header_safe(NULL, 3));
  for (int c = 0; c < 0x20; c++) {
    char u[3] = {'a', (char)c, 'b'};
    assert_false(mcs_user_header_safe(u, 3));
  }
  /* the length given counts, not a NUL: "a\0b" is refused */
  assert_false(mcs_user_header_safe("a\0b", 3));
  assert_true(mcs_user_header_safe("ab\r\n", 2));
}

/* ---- Tornado mode ---------------------------------------------------------
 */

static void test_tornado_mode(void **state) {
  (void)state;
  fixture *f = fixture_new(tornado);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "user_name", "ann", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  const char *sc = mcs_session_cookie(s, 0); /* session_id=... */
  assert_true(strncmp(sc, "session_id=", 11) == 0);
  char value[512], verification[512];
  size_t n = strcspn(sc + 11, ";");
  memcpy(value, sc + 11, n);
  value[n] = '\0';
  sc = mcs_session_cookie(s, 1); /* verification=... */
  n = strcspn(sc + 13, ";");
  memcpy(verification, sc + 13, n);
  verification[n] = '\0';
  mcs_session_free(s);
  /* The cookie names the raw hex id, which is the store key. */
  mcs_admin_ref ref;
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  assert_int_equal(strlen(ref.id), 64);
  assert_string_equal(ref.key, ref.id);
  assert_string_equal(ref.key, f->spy.last_key);
  char id[65];
  strcpy(id, ref.id);
  assert_int_equal(mcs_admin_session_resolve(f->mgr, id, 64, NULL, &ref),
                   MCS_OK);
  assert_string_equal(ref.key, id);
  /* The verification cookie is no session_id cookie; a native id is no
   * tornado id. */
  assert_int_equal(mcs_admin_session_resolve(f->mgr, verification,
                                             strlen(verification), NULL, &ref),
                   MCS_EBADSIG);
  char native_id[MCS_ID_LEN + 1];
  memset(native_id, 'A', MCS_ID_LEN);
  native_id[MCS_ID_LEN] = '\0';
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, native_id, MCS_ID_LEN, NULL, &ref),
      MCS_EINVAL);
  /* Reading: the pickle as JSON, no creation time or revision. */
  mcs_manager *m = direct_manager(f, true);
  mcs_admin_view v;
  int found = 0;
  assert_int_equal(mcs_admin_session_read(m, id, &v, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_string_equal(v.data, "{\"user_name\":\"ann\"}");
  assert_int_equal(v.created, 0);
  assert_int_equal(v.revision, 0);
  assert_int_equal(v.user_revoked, -1);
  assert_int_equal(v.ttl, 1800);
  mcs_admin_view_clear(&v);
  assert_int_equal(mcs_admin_session_touch(m, id, 90, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_int_equal(mcs_admin_session_destroy(m, id, &found), MCS_OK);
  assert_int_equal(found, 1);
  /* No users in tornado mode. */
  mcs_admin_user u;
  assert_int_equal(mcs_admin_user_state(m, "alice", &u), MCS_EINVAL);
  assert_int_equal(mcs_admin_user_revoke(m, "alice", 60, NULL), MCS_EINVAL);
  mcs_manager_free(m);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve_cookie_and_id),
      cmocka_unit_test(test_resolve_has_no_age_limit),
      cmocka_unit_test(test_resolve_refuses_bad_input),
      cmocka_unit_test(test_read_does_not_slide_the_expiry),
      cmocka_unit_test(test_read_missing_corrupt_and_bad_input),
      cmocka_unit_test(test_read_a_retired_snapshot),
      cmocka_unit_test(test_read_a_session_whose_user_was_revoked),
      cmocka_unit_test(test_touch_and_destroy),
      cmocka_unit_test(test_user_state_and_revoke),
      cmocka_unit_test(test_user_id_valid),
      cmocka_unit_test(test_user_header_safe),
      cmocka_unit_test(test_tornado_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
