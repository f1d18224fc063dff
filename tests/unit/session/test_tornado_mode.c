/* Tornado mode through the public API: the recipe's two cookies, its id and
 * verification derivations, the raw id as store key, pickled records with
 * flags 0, and a mismatched verification treated as forged. (The
 * cross-checks against the real Python application are integration
 * tests.) */
#include <sodium.h>

#include "test_util.h"

static const char session_secret[] = "the recipe's session secret";

static void tornado(mcs_manager_config *cfg) {
  cfg->mode = MCS_MODE_TORNADO;
  cfg->session_secret = session_secret;
  cfg->session_secret_len = sizeof session_secret - 1;
}

/* "name=value" of the i-th Set-Cookie, appended to a Cookie header. */
static void append_cookie(const mcs_session *s, size_t i, char *hdr,
                          size_t size) {
  const char *sc = mcs_session_cookie(s, i);
  assert_non_null(sc);
  size_t n = strcspn(sc, ";"), used = strlen(hdr);
  assert_true(used + n + 3 < size);
  if (used) {
    memcpy(hdr + used, "; ", 2);
    used += 2;
  }
  memcpy(hdr + used, sc, n);
  hdr[used + n] = '\0';
}

static void both_cookies(const mcs_session *s, char *hdr, size_t size) {
  hdr[0] = '\0';
  assert_int_equal(mcs_session_cookie_count(s), 2);
  append_cookie(s, 0, hdr, size);
  append_cookie(s, 1, hdr, size);
}

static void test_new_session_sends_session_id_and_verification(void **st) {
  (void)st;
  fixture *f = fixture_new(tornado);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "user_name", "ann", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 2);
  assert_true(strncmp(mcs_session_cookie(s, 0), "session_id=2|1:0|", 17) ==
              0);
  assert_true(strncmp(mcs_session_cookie(s, 1),
                      "verification=2|1:0|", 19) == 0);
  /* The store key is the raw 64-hex id, the value a pickle, flags 0. */
  const char *key = f->spy.last_key;
  assert_int_equal(strlen(key), 64);
  assert_int_equal(strspn(key, "0123456789abcdef"), 64);
  void *data;
  size_t len;
  uint32_t flags = 99;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(f->memory, key, 64, 0, 4096, &data, &len,
                                 NULL, &flags, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_int_equal(flags, 0);
  assert_true(len > 2 && ((unsigned char *)data)[0] == 0x80);
  mcs_free(data);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_both_cookies_load_the_session(void **st) {
  (void)st;
  fixture *f = fixture_new(tornado);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "count", 41), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char hdr[1024];
  both_cookies(s, hdr, sizeof hdr);
  mcs_session_free(s);
  s = load(f, hdr);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  int64_t n;
  assert_int_equal(mcs_session_incr(s, "count", 1, &n), MCS_OK);
  assert_int_equal(n, 42);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_created(s), 0); /* pickles carry none */
  mcs_session_free(s);
  fixture_free(f);
}

static void test_verification_of_another_id_is_forged(void **st) {
  (void)st;
  fixture *f = fixture_new(tornado);
  char a[1024], b[1024];
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  both_cookies(s, a, sizeof a);
  mcs_session_free(s);
  s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "x", 2), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  both_cookies(s, b, sizeof b);
  /* session_id of A with the (validly signed) verification of B. */
  char mixed[2048];
  size_t a_id = strcspn(a, ";");
  const char *b_ver = strstr(b, "verification=");
  assert_non_null(b_ver);
  snprintf(mixed, sizeof mixed, "%.*s; %s", (int)a_id, a, b_ver);
  mcs_session_free(s);
  s = load(f, mixed);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  /* session_id alone: the recipe raises InvalidSessionException. */
  a[a_id] = '\0';
  s = load(f, a);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_quoted_cookie_values_are_accepted(void **st) {
  (void)st;
  fixture *f = fixture_new(tornado);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char hdr[1024], quoted[1100];
  both_cookies(s, hdr, sizeof hdr);
  mcs_session_free(s);
  /* As Tornado's own Set-Cookie sends them: session_id="2|1:0|...". */
  size_t n = strcspn(hdr, ";");
  const char *ver = hdr + n + 2;
  snprintf(quoted, sizeof quoted, "session_id=\"%.*s\"; verification=\"%s\"",
           (int)(n - strlen("session_id=")), hdr + strlen("session_id="),
           ver + strlen("verification="));
  s = load(f, quoted);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_regenerate_and_destroy_work_in_tornado_mode(void **st) {
  (void)st;
  fixture *f = fixture_new(tornado);
  char old_hdr[1024], new_hdr[1024];
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "user_name", "bo", 2), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  both_cookies(s, old_hdr, sizeof old_hdr);
  mcs_session_free(s);
  s = load(f, old_hdr);
  assert_int_equal(mcs_session_regenerate(s), MCS_OK);
  assert_int_equal(mcs_session_set_str(s, "role", "admin", 5), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  both_cookies(s, new_hdr, sizeof new_hdr);
  mcs_session_free(s);
  s = load(f, old_hdr); /* a read-only snapshot of the old data */
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_RETIRED);
  assert_true(mcs_session_has(s, "user_name"));
  assert_false(mcs_session_has(s, "role"));
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_ERETIRED);
  assert_int_equal(mcs_session_destroy(s), MCS_ERETIRED);
  assert_int_equal(mcs_session_regenerate(s), MCS_ERETIRED);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 0);
  mcs_session_free(s);
  s = load(f, new_hdr);
  assert_true(mcs_session_has(s, "role"));
  mcs_session_free(s);
  s = load(f, new_hdr);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_session_cookie_count(s), 2);
  mcs_session_free(s);
  s = load(f, new_hdr);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_EXPIRED);
  mcs_session_free(s);
  fixture_free(f);
}

/* Issue 12 item 3: ordinary data shaped like the forwards of earlier
 * releases ({"__mcs_forward__": key, "__mcs_until__": t}) is data. With
 * those, a user who may choose key names could point their session at
 * another user's record and read and write it. */
static void test_data_shaped_like_a_forward_is_just_data(void **st) {
  (void)st;
  fixture *f = fixture_new(tornado);
  char victim_key[MCS_STORE_KEY_MAX + 1], hdr[1024];
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_str(s, "user_name", "victim", 6), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  strcpy(victim_key, f->spy.last_key);
  mcs_session_free(s);

  s = load(f, NULL); /* the attacker's own session */
  assert_int_equal(mcs_session_set_str(s, "__mcs_forward__", victim_key,
                                       strlen(victim_key)),
                   MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "__mcs_until__", INT64_MAX / 2),
                   MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  both_cookies(s, hdr, sizeof hdr);
  mcs_session_free(s);

  s = load(f, hdr);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_false(mcs_session_has(s, "user_name"));
  assert_int_equal(mcs_session_count(s), 2);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_tornado_mode_needs_a_session_secret(void **st) {
  (void)st;
  mcs_keyring *keys;
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  assert_int_equal(
      mcs_keyring_add(keys, 0, test_secret, sizeof test_secret - 1), MCS_OK);
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  cfg.keys = keys;
  cfg.mode = MCS_MODE_TORNADO;
  mcs_manager *m = (mcs_manager *)1;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  assert_null(m);
  cfg.mode = (mcs_mode)7;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_EINVAL);
  mcs_keyring_free(keys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_session_sends_session_id_and_verification),
      cmocka_unit_test(test_both_cookies_load_the_session),
      cmocka_unit_test(test_verification_of_another_id_is_forged),
      cmocka_unit_test(test_quoted_cookie_values_are_accepted),
      cmocka_unit_test(test_regenerate_and_destroy_work_in_tornado_mode),
      cmocka_unit_test(test_data_shaped_like_a_forward_is_just_data),
      cmocka_unit_test(test_tornado_mode_needs_a_session_secret),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
