/* CSRF tokens: bound to the session, masked per issue, constant-time
 * verification, and the login-form flow where the form is shown before the
 * session has a stored record. */
#include "test_util.h"

static void test_token_has_fixed_length_and_url_safe_chars(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  char t[MCS_CSRF_TOKEN_LEN + 1];
  assert_int_equal(mcs_csrf_token(s, t, sizeof t), MCS_OK);
  assert_int_equal(strlen(t), MCS_CSRF_TOKEN_LEN);
  assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                   MCS_CSRF_TOKEN_LEN);
  assert_int_equal(mcs_csrf_token(s, t, sizeof t - 1), MCS_ELIMIT);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_tokens_are_masked_differently_each_time(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  char a[MCS_CSRF_TOKEN_LEN + 1], b[MCS_CSRF_TOKEN_LEN + 1];
  assert_int_equal(mcs_csrf_token(s, a, sizeof a), MCS_OK);
  assert_int_equal(mcs_csrf_token(s, b, sizeof b), MCS_OK);
  assert_string_not_equal(a, b);
  assert_int_equal(mcs_csrf_verify(s, a, strlen(a)), MCS_OK);
  assert_int_equal(mcs_csrf_verify(s, b, strlen(b)), MCS_OK);
  mcs_session_free(s);
  fixture_free(f);
}

static void test_altered_or_foreign_tokens_fail(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  mcs_session *other = load(f, NULL);
  char t[MCS_CSRF_TOKEN_LEN + 1];
  assert_int_equal(mcs_csrf_token(s, t, sizeof t), MCS_OK);
  assert_int_equal(mcs_csrf_verify(other, t, strlen(t)), MCS_EBADSIG);
  for (size_t i = 0; i < MCS_CSRF_TOKEN_LEN; i++) {
    char bad[MCS_CSRF_TOKEN_LEN + 1];
    memcpy(bad, t, sizeof bad);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    assert_int_equal(mcs_csrf_verify(s, bad, MCS_CSRF_TOKEN_LEN), MCS_EBADSIG);
  }
  assert_int_equal(mcs_csrf_verify(s, t, MCS_CSRF_TOKEN_LEN - 1), MCS_EBADSIG);
  assert_int_equal(mcs_csrf_verify(s, "", 0), MCS_EBADSIG);
  assert_int_equal(mcs_csrf_verify(s, NULL, 0), MCS_EBADSIG);
  char padded[MCS_CSRF_TOKEN_LEN + 2];
  memcpy(padded, t, MCS_CSRF_TOKEN_LEN);
  padded[MCS_CSRF_TOKEN_LEN] = '=';
  assert_int_equal(mcs_csrf_verify(s, padded, MCS_CSRF_TOKEN_LEN + 1),
                   MCS_EBADSIG);
  mcs_session_free(other);
  mcs_session_free(s);
  fixture_free(f);
}

/* GET /login on a new visitor: a token is issued, the session stays empty
 * (no store traffic) but its cookie is sent; POST /login comes back with
 * that cookie, finds no record, and the token still verifies. */
static void test_login_form_flow_without_stored_session(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *get = load(f, NULL);
  char t[MCS_CSRF_TOKEN_LEN + 1];
  assert_int_equal(mcs_csrf_token(get, t, sizeof t), MCS_OK);
  assert_int_equal(mcs_session_save(get), MCS_OK);
  assert_int_equal(spy_total(&f->spy), 0);
  char cookie[512];
  cookie_header_from(get, cookie, sizeof cookie);
  mcs_session_free(get);

  mcs_session *post = load(f, cookie);
  assert_int_equal(mcs_session_outcome(post), MCS_SESSION_EXPIRED);
  assert_int_equal(mcs_csrf_verify(post, t, strlen(t)), MCS_OK);
  assert_int_equal(mcs_session_set_str(post, "user_name", "ann", 3), MCS_OK);
  assert_int_equal(mcs_session_regenerate(post), MCS_OK);
  assert_int_equal(mcs_session_save(post), MCS_OK);
  mcs_session_free(post);

  /* A forged cookie gives no such grace. */
  cookie[strlen(cookie) - 1] ^= 1;
  mcs_session *forged = load(f, cookie);
  assert_int_equal(mcs_session_outcome(forged), MCS_SESSION_FORGED);
  assert_int_equal(mcs_csrf_verify(forged, t, strlen(t)), MCS_EBADSIG);
  mcs_session_free(forged);
  fixture_free(f);
}

static void test_token_survives_save_and_load(void **st) {
  (void)st;
  fixture *f = fixture_new(NULL);
  mcs_session *s = load(f, NULL);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  char t[MCS_CSRF_TOKEN_LEN + 1];
  assert_int_equal(mcs_csrf_token(s, t, sizeof t), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char cookie[512];
  cookie_header_from(s, cookie, sizeof cookie);
  mcs_session_free(s);
  s = load(f, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_int_equal(mcs_csrf_verify(s, t, strlen(t)), MCS_OK);
  assert_int_equal(mcs_session_destroy(s), MCS_OK);
  assert_int_equal(mcs_csrf_token(s, t, sizeof t), MCS_ESTATE);
  mcs_session_free(s);
  fixture_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_has_fixed_length_and_url_safe_chars),
      cmocka_unit_test(test_tokens_are_masked_differently_each_time),
      cmocka_unit_test(test_altered_or_foreign_tokens_fail),
      cmocka_unit_test(test_login_form_flow_without_stored_session),
      cmocka_unit_test(test_token_survives_save_and_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
