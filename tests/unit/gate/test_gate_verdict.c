/* The gate's decision (gate/verdict.c), through the public API: which
 * load results pass with which user, and which user names a header
 * cannot carry. Sessions come from a manager on the memory store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mcsession.h>

#include "verdict.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef";

typedef struct rig {
  mcs_keyring *keys;
  mcs_manager *mgr;
} rig;

static void rig_open(rig *r, mcs_mode mode) {
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  assert_int_equal(mcs_keyring_new(&r->keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(r->keys, 0, SECRET, sizeof SECRET - 1),
                   MCS_OK);
  cfg.keys = r->keys;
  cfg.mode = mode;
  if (mode == MCS_MODE_TORNADO) {
    cfg.session_secret = "session secret";
    cfg.session_secret_len = 14;
  }
  assert_int_equal(mcs_manager_new(&r->mgr, &cfg), MCS_OK);
}

static void rig_close(rig *r) {
  mcs_manager_free(r->mgr);
  mcs_keyring_free(r->keys);
}

/* A stored session (with `user` bound, or under "user_name" in tornado
 * mode, or none), loaded again from its cookie. */
static mcs_session *stored(rig *r, mcs_mode mode, const char *user,
                           size_t user_len) {
  mcs_session *s;
  assert_int_equal(mcs_session_load(r->mgr, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "count", 1), MCS_OK);
  if (user && mode == MCS_MODE_NATIVE)
    assert_int_equal(mcs_session_set_user(s, user), MCS_OK);
  if (user && mode == MCS_MODE_TORNADO)
    assert_int_equal(mcs_session_set_str(s, "user_name", user, user_len),
                     MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  char header[8192] = "";
  for (size_t i = 0; i < mcs_session_cookie_count(s); i++) {
    const char *c = mcs_session_cookie(s, i);
    size_t n = strcspn(c, ";");
    if (i)
      strncat(header, "; ", sizeof header - strlen(header) - 1);
    strncat(header, c, n < sizeof header - strlen(header) - 1
                           ? n
                           : sizeof header - strlen(header) - 1);
  }
  mcs_session_free(s);
  assert_int_equal(mcs_session_load(r->mgr, header, strlen(header), &s),
                   MCS_OK);
  return s;
}

static void test_native(void **state) {
  (void)state;
  rig r;
  rig_open(&r, MCS_MODE_NATIVE);
  gate_rules rules = {false, "user_name"};
  verdict v;
  mcs_session *s = stored(&r, MCS_MODE_NATIVE, "alice@example.org", 0);
  verdict_decide(&rules, MCS_OK, s, &v);
  assert_int_equal(v.status, 200);
  assert_string_equal(v.outcome, "loaded");
  assert_string_equal(v.user, "alice@example.org");
  assert_int_equal(v.user_len, 17);
  mcs_session_free(s);

  s = stored(&r, MCS_MODE_NATIVE, NULL, 0); /* no user */
  verdict_decide(&rules, MCS_OK, s, &v);
  assert_int_equal(v.status, 401);
  assert_string_equal(v.outcome, "loaded");
  mcs_session_free(s);

  /* A space at the end: a valid user id, but not sendable unchanged. */
  s = stored(&r, MCS_MODE_NATIVE, "bob ", 0);
  verdict_decide(&rules, MCS_OK, s, &v);
  assert_int_equal(v.status, 401);
  assert_true(v.unsafe_user);
  mcs_session_free(s);

  assert_int_equal(mcs_session_load(r.mgr, NULL, 0, &s), MCS_OK);
  verdict_decide(&rules, MCS_OK, s, &v);
  assert_int_equal(v.status, 401);
  assert_string_equal(v.outcome, "new");
  mcs_session_free(s);
  const char forged[] = "session=2|1:0|10:1700000000|7:session|4:eHg=|00";
  assert_int_equal(mcs_session_load(r.mgr, forged, sizeof forged - 1, &s),
                   MCS_OK);
  verdict_decide(&rules, MCS_OK, s, &v);
  assert_int_equal(v.status, 401);
  assert_string_equal(v.outcome, "forged");
  mcs_session_free(s);
  rig_close(&r);
}

static void test_tornado(void **state) {
  (void)state;
  rig r;
  rig_open(&r, MCS_MODE_TORNADO);
  gate_rules rules = {true, "user_name"};
  verdict v;
  mcs_session *s = stored(&r, MCS_MODE_TORNADO, "Zo\xc3\xab", 4);
  verdict_decide(&rules, MCS_OK, s, &v);
  assert_int_equal(v.status, 200);
  assert_string_equal(v.user, "Zo\xc3\xab");
  gate_rules other = {true, "count"}; /* an int: nobody */
  verdict_decide(&other, MCS_OK, s, &v);
  assert_int_equal(v.status, 401);
  mcs_session_free(s);
  static const struct {
    const char *name;
    size_t len;
  } bad[] = {{"", 0}, {"a\r\nX-Session-User: admin", 25}, {"a\0b", 3},
             {" admin", 6}, {"tab\there", 8}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s = stored(&r, MCS_MODE_TORNADO, bad[i].name, bad[i].len);
    verdict_decide(&rules, MCS_OK, s, &v);
    assert_int_equal(v.status, 401);
    assert_int_equal(v.user_len, 0);
    mcs_session_free(s);
  }
  rig_close(&r);
}

static void test_errors(void **state) {
  (void)state;
  gate_rules rules = {false, "user_name"};
  verdict v;
  verdict_decide(&rules, MCS_ELIMIT, NULL, &v);
  assert_int_equal(v.status, 401);
  assert_string_equal(v.outcome, "refused");
  int transient[] = {MCS_ESTORE, MCS_ETIMEDOUT, MCS_EPROTO, MCS_ENOMEM};
  for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
    verdict_decide(&rules, transient[i], NULL, &v);
    assert_int_equal(v.status, 503);
    assert_null(v.outcome);
  }
  verdict_decide(&rules, MCS_EINVAL, NULL, &v);
  assert_int_equal(v.status, 500);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_native),
      cmocka_unit_test(test_tornado),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
