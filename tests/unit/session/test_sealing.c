/* Sealed records through the public API (session/sealing.c, on the memory
 * store behind the spy): what the store holds reveals nothing; a record
 * altered, truncated, moved under another session's key or sealed under
 * another secret loads as FORGED with a fresh id, is counted, logged once
 * per burst and left where it is; rotation; plain records during a
 * migration; retired snapshots; the operator's read. */
#include <stdbool.h>

#include "test_util.h"


/* A stored session with recognisable strings; its cookie header and
 * store key. */
static void make_stored(fixture *f, char cookie[512],
                        char key[MCS_STORE_KEY_MAX + 1]) {
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "secret-name", "alice-wonder", 12),
                   MCS_OK);
  assert_int_equal(mcs_session_set_user(s, "user-4711"), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, cookie, 512);
  /* Its key from its cookie (the save's last add may be the user's
   * session list, written after the record). */
  const char *value = strchr(cookie, '=') + 1;
  mcs_admin_ref ref;
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  strcpy(key, ref.key);
  mcs_session_free(s);
}

/* The state of the tests that start from one stored session. */
typedef struct stored {
  fixture *f;
  char cookie[512];
  char key[MCS_STORE_KEY_MAX + 1];
} stored;

static int setup_stored(void **st) {
  stored *t = calloc(1, sizeof *t);
  assert_non_null(t);
  t->f = fixture_new(NULL);
  make_stored(t->f, t->cookie, t->key);
  *st = t;
  return 0;
}

static int teardown_stored(void **st) {
  stored *t = *st;
  fixture_free(t->f);
  free(t);
  return 0;
}

/* The bytes the memory store holds under key (malloc'd by the library). */
static void *raw_of(fixture *f, const char *key, size_t *len) {
  void *data = NULL;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(f->memory, key, strlen(key), 0, 1 << 20,
                                 &data, len, NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  return data;
}

static void put_raw(fixture *f, const char *key, const void *data,
                    size_t len) {
  mcs_store_result r;
  assert_int_equal(
      mcs_store_set(f->memory, key, strlen(key), data, len, 0, 600, &r),
      MCS_OK);
}

static uint64_t tampered(const fixture *f) {
  mcs_manager_stats st;
  mcs_manager_stats_get(f->mgr, &st);
  return st.tampered;
}

/* Loads `cookie` expecting tampering: FORGED, a new id, nothing of the
 * old data, and the bad record left as it was. */
static void expect_tampered(fixture *f, const char *cookie, const char *key) {
  size_t before_len, after_len;
  void *before = raw_of(f, key, &before_len);
  uint64_t count = tampered(f);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  assert_int_equal(mcs_session_count(s), 0);
  assert_null(mcs_session_user(s));
  assert_int_equal(tampered(f), count + 1);
  /* A change is saved under a new id, never over the bad record. */
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_string_not_equal(f->spy.last_key, key);
  mcs_session_free(s);
  void *after = raw_of(f, key, &after_len);
  assert_int_equal(after_len, before_len);
  assert_memory_equal(after, before, before_len);
  mcs_free(before);
  mcs_free(after);
}

static void test_store_holds_none_of_the_sessions_strings(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  size_t len;
  void *raw = raw_of(f, key, &len);
  assert_false(mem_contains(raw, len, "secret-name"));
  assert_false(mem_contains(raw, len, "alice-wonder"));
  assert_false(mem_contains(raw, len, "user-4711"));
  assert_false(mem_contains(raw, len, "\"d\""));
  mcs_free(raw);
  /* ... and it loads. */
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_string_equal(mcs_session_user(s), "user-4711");
  mcs_session_free(s);
}

static void test_flipped_bytes_are_tampering(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  size_t len;
  uint8_t *raw = raw_of(f, key, &len);
  /* Header, nonce, ciphertext, tag: a byte of each region and more. */
  for (size_t i = 0; i < len; i += 7) {
    raw[i] ^= 0x20;
    put_raw(f, key, raw, len);
    expect_tampered(f, cookie, key);
    raw[i] ^= 0x20;
  }
  put_raw(f, key, raw, len); /* the original loads again */
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  mcs_free(raw);
}

static void test_truncated_record_is_tampering(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  size_t len;
  uint8_t *raw = raw_of(f, key, &len);
  static const size_t cuts[] = {1, 3, 8, 31, 32, 47, 48};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    put_raw(f, key, raw, cuts[i]);
    expect_tampered(f, cookie, key);
  }
  put_raw(f, key, raw, len - 1);
  expect_tampered(f, cookie, key);
  mcs_free(raw);
}

/* Someone who can write the store copies their own record over the
 * victim's (or the victim's over theirs): it does not open there. */
static void test_record_copied_under_another_key_is_tampering(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  char cookie_a[512], key_a[MCS_STORE_KEY_MAX + 1];
  char cookie_b[512], key_b[MCS_STORE_KEY_MAX + 1];
  make_stored(f, cookie_a, key_a);
  make_stored(f, cookie_b, key_b);
  size_t len;
  void *raw_a = raw_of(f, key_a, &len);
  put_raw(f, key_b, raw_a, len);
  expect_tampered(f, cookie_b, key_b);
  mcs_free(raw_a);
  fixture_free(f);
}

/* The ring the managers below are made with (ring_set), freed by
 * ring_drop. */
static mcs_keyring *ring;
static const char next_secret[] = "the next secret, 16+ bytes";

/* Sets `ring` to versions v (secret s) and, if s2, v2 (secret s2). */
static void ring_set(unsigned v, const char *s1, unsigned v2, const char *s2) {
  mcs_keyring_free(ring);
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, v, s1, strlen(s1)), MCS_OK);
  if (s2)
    assert_int_equal(mcs_keyring_add(ring, v2, s2, strlen(s2)), MCS_OK);
}

static void ring_drop(void) {
  mcs_keyring_free(ring);
  ring = NULL;
}

/* `ring`, with the store keys of the fixture's manager (the secret of
 * its ring's lowest version), so records are found under the same keys. */
static void use_ring(mcs_manager_config *cfg) {
  cfg->keys = ring;
  cfg->store_key_secret = test_secret;
  cfg->store_key_secret_len = sizeof test_secret - 1;
}

static void test_record_sealed_by_another_secret_is_tampering(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  /* A manager with another ring writes a record under the same key. */
  ring_set(0, "a different secret of 16+ bytes", 0, NULL);
  mcs_manager *intruder = fixture_manager(f, use_ring);
  ring_drop();
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(intruder, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_str(s, "role", "admin", 5), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  size_t len;
  void *planted = raw_of(f, f->spy.last_key, &len);
  mcs_session_free(s);
  mcs_manager_free(intruder);
  put_raw(f, key, planted, len);
  expect_tampered(f, cookie, key);
  mcs_free(planted);
}

static unsigned log_count;
static void count_log(void *ud, mcs_log_level level, const char *msg) {
  (void)ud;
  (void)level;
  if (strstr(msg, "did not open"))
    log_count++;
}
static void with_log(mcs_manager_config *cfg) { cfg->log = count_log; }

/* A burst of tampered records is logged once a minute, counted each
 * time. */
static void test_tampering_is_logged_once_per_burst(void **st) {
  (void)st;
  log_count = 0;
  fixture *f = fixture_new(with_log);
  char cookie[512], key[MCS_STORE_KEY_MAX + 1];
  make_stored(f, cookie, key);
  put_raw(f, key, "\0ms\1junk", 8);
  for (int i = 0; i < 5; i++) {
    mcs_session *s = load(f, cookie);
    assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
    mcs_session_free(s);
  }
  assert_int_equal(tampered(f), 5);
  assert_int_equal(log_count, 1);
  f->clock.now += 61;
  mcs_session_free(load(f, cookie));
  assert_int_equal(log_count, 2);
  fixture_free(f);
}

/* Version 1 is added: records of version 0 still open, a changed save
 * reseals with version 1, and once version 0 has left the ring (the
 * store-key secret set explicitly) the resealed record still opens. */
static void test_rotation(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  size_t len;
  uint8_t *raw = raw_of(f, key, &len);
  assert_int_equal(raw[7], 0); /* key version 0 */
  mcs_free(raw);
  ring_set(0, test_secret, 1, next_secret);
  mcs_manager_free(f->mgr);
  f->mgr = fixture_manager(f, use_ring);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_int_equal(mcs_session_set_int(s, "n", 2), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  raw = raw_of(f, key, &len);
  assert_int_equal(raw[7], 1); /* resealed with the newest */
  mcs_free(raw);
  mcs_admin_ref ref;
  const char *value = cookie + strlen("session=");
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  ring_set(1, next_secret, 0, NULL);
  mcs_manager *v1 = fixture_manager(f, use_ring);
  mcs_admin_view v;
  int found = 0;
  assert_int_equal(mcs_admin_session_read(v1, ref.id, &v, &found), MCS_OK);
  assert_int_equal(found, 1);
  assert_true(mem_contains(v.data, v.data_len, "alice-wonder"));
  mcs_admin_view_clear(&v);
  mcs_manager_free(v1);
  ring_drop();
}

static void seal_off(mcs_manager_config *cfg) {
  cfg->seal_records = MCS_SEAL_OFF;
}
static void seal_accept_plain(mcs_manager_config *cfg) {
  cfg->seal_records = MCS_SEAL_ACCEPT_PLAIN;
}

/* A deployment with plain records: with accept_plain they load, and are
 * sealed at their next changed save; with sealing on, a plain record is
 * tampering; with sealing off, sealed records still load. */
static void test_plain_record_migration(void **st) {
  (void)st;
  fixture *f = fixture_new(seal_off);
  char cookie[512], key[MCS_STORE_KEY_MAX + 1];
  make_stored(f, cookie, key);
  size_t len;
  char *raw = raw_of(f, key, &len);
  assert_int_equal(raw[0], '{'); /* plain JSON, as before sealing */
  assert_true(mem_contains(raw, len, "alice-wonder"));
  mcs_free(raw);
  mcs_manager_free(f->mgr);
  f->mgr = fixture_manager(f, seal_accept_plain);
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_int_equal(tampered(f), 0);
  mcs_session_free(s); /* unchanged: stays plain */
  raw = raw_of(f, key, &len);
  assert_int_equal(raw[0], '{');
  mcs_free(raw);
  s = load(f, cookie);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  raw = raw_of(f, key, &len);
  assert_false(mem_contains(raw, len, "alice-wonder")); /* sealed now */
  mcs_free(raw);
  /* Sealing off again: the sealed record still loads. */
  mcs_manager_free(f->mgr);
  f->mgr = fixture_manager(f, seal_off);
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_string_equal(mcs_session_user(s), "user-4711");
  mcs_session_free(s);
  /* On: a plain record does not load. */
  char plain_cookie[512], plain_key[MCS_STORE_KEY_MAX + 1];
  make_stored(f, plain_cookie, plain_key);
  mcs_manager_free(f->mgr);
  f->mgr = fixture_manager(f, NULL);
  expect_tampered(f, plain_cookie, plain_key);
  fixture_free(f);
}

/* The retired snapshot a regenerate leaves under the old key is sealed
 * for the old id, and the old cookie still reads it. */
static void test_retired_snapshot_is_sealed(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  mcs_session *s = load(f, cookie);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  size_t len;
  void *raw = raw_of(f, key, &len);
  assert_false(mem_contains(raw, len, "alice-wonder"));
  assert_false(mem_contains(raw, len, "\"ru\""));
  mcs_free(raw);
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  const char *name = NULL;
  size_t n = 0;
  assert_int_equal(mcs_session_get_str(s, "secret-name", &name, &n), MCS_OK);
  assert_int_equal(n, 12);
  assert_memory_equal(name, "alice-wonder", 12);
  mcs_session_free(s);
}

/* A tampered record also fails the operator's read (EBADSIG, found); an
 * intact one opens. */
static void test_admin_read_opens_sealed_records(void **st) {
  stored *t = *st;
  fixture *f = t->f;
  const char *cookie = t->cookie, *key = t->key;
  mcs_admin_ref ref;
  const char *value = cookie + strlen("session=");
  assert_int_equal(
      mcs_admin_session_resolve(f->mgr, value, strlen(value), NULL, &ref),
      MCS_OK);
  mcs_admin_view v;
  int found = 0;
  assert_int_equal(mcs_admin_session_read(f->mgr, ref.id, &v, &found), MCS_OK);
  assert_string_equal(v.user, "user-4711");
  assert_true(mem_contains(v.data, v.data_len, "alice-wonder"));
  mcs_admin_view_clear(&v);
  size_t len;
  uint8_t *raw = raw_of(f, key, &len);
  raw[len - 1] ^= 1;
  put_raw(f, key, raw, len);
  mcs_free(raw);
  assert_int_equal(mcs_admin_session_read(f->mgr, ref.id, &v, &found),
                   MCS_EBADSIG);
  assert_int_equal(found, 1);
  assert_null(v.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_store_holds_none_of_the_sessions_strings, setup_stored,
                                      teardown_stored),
      cmocka_unit_test_setup_teardown(test_flipped_bytes_are_tampering, setup_stored,
                                      teardown_stored),
      cmocka_unit_test_setup_teardown(test_truncated_record_is_tampering, setup_stored,
                                      teardown_stored),
      cmocka_unit_test(test_record_copied_under_another_key_is_tampering),
      cmocka_unit_test_setup_teardown(test_record_sealed_by_another_secret_is_tampering, setup_stored,
                                      teardown_stored),
      cmocka_unit_test(test_tampering_is_logged_once_per_burst),
      cmocka_unit_test_setup_teardown(test_rotation, setup_stored,
                                      teardown_stored),
      cmocka_unit_test(test_plain_record_migration),
      cmocka_unit_test_setup_teardown(test_retired_snapshot_is_sealed, setup_stored,
                                      teardown_stored),
      cmocka_unit_test_setup_teardown(test_admin_read_opens_sealed_records, setup_stored,
                                      teardown_stored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
