/* What the revocation tests (test_revoke*.c) share: a fixture manager,
 * a second manager on its store and clock ("another process"), logins,
 * and short forms of loads and stats. */
#ifndef REVOKE_FIXTURE_H
#define REVOKE_FIXTURE_H

#include <pthread.h>
#include <sodium.h>

#include "session/session_int.h"
#include "test_util.h"

/* ---- Helpers ------------------------------------------------------------- */

static inline fixture *fx(void) { return fixture_new(NULL); }

/* A second manager ("another process") on f's store and clock. */
static inline mcs_manager *peer(fixture *f, uint32_t interval) {
  mcs_manager_config cfg;
  mcs_manager *m = NULL;
  mcs_manager_config_init(&cfg);
  cfg.keys = f->keys;
  cfg.store = f->store;
  cfg.clock = test_clock_read;
  cfg.clock_ud = &f->clock;
  cfg.revocation_check_interval = interval;
  assert_int_equal(mcs_manager_new(&m, &cfg), MCS_OK);
  return m;
}

/* Logs `uid` in on manager m: a new session, bound, saved; its cookie. */
static inline void login(mcs_manager *m, const char *uid, char *cookie,
                         size_t size) {
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(m, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_str(s, "user_name", uid, strlen(uid)),
                   MCS_OK);
  assert_int_equal(mcs_session_set_user(s, uid), MCS_OK);
  assert_string_equal(mcs_session_user(s), uid);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  cookie_header_from(s, cookie, size);
  mcs_session_free(s);
}

static inline mcs_outcome outcome_on(mcs_manager *m, const char *cookie) {
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(m, cookie, strlen(cookie), &s), MCS_OK);
  mcs_outcome o = mcs_session_outcome(s);
  mcs_session_free(s);
  return o;
}

static inline mcs_manager_stats stats_of(mcs_manager *m) {
  mcs_manager_stats st;
  mcs_manager_stats_get(m, &st);
  return st;
}

#endif /* REVOKE_FIXTURE_H */
