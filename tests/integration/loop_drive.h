/* What the integration tests of sessions on an mcs_loop over a real
 * server share (test_memcached_loop.c, test_redis_loop.c): a callback that
 * records what it was told, and a driver that runs the loop as an
 * application's event loop would. Include after cmocka.h. */
#ifndef MCS_LOOP_DRIVE_H
#define MCS_LOOP_DRIVE_H

#include <poll.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include "mcsession.h"

typedef struct result {
  int calls;
  int rc;
  mcs_session *s;
} result;

static inline void on_done(void *ud, int rc, mcs_session *s) {
  result *r = ud;
  r->calls++;
  r->rc = rc;
  r->s = s;
}

static inline int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until nothing is pending; returns the milliseconds it
 * took and fails the test past 10 s. */
static inline int64_t drive(mcs_loop *loop) {
  int64_t t0 = now_ms();
  while (mcs_loop_pending(loop) > 0) {
    int t = mcs_loop_timeout(loop);
    struct pollfd pfd = {mcs_loop_fd(loop), POLLIN, 0};
    (void)poll(&pfd, 1, t < 0 || t > 100 ? 100 : t);
    mcs_loop_run(loop);
    assert_true(now_ms() - t0 < 10000);
  }
  return now_ms() - t0;
}

/* A session holding {"n": n}, stored with the blocking calls; its Cookie
 * header ("name=value") into out. */
static inline void loop_new_session(mcs_manager *mgr, int64_t n, char *out,
                                    size_t size) {
  mcs_session *s = NULL;
  assert_int_equal(mcs_session_load(mgr, NULL, 0, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", n), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  const char *sc = mcs_session_cookie(s, 0);
  size_t len = strcspn(sc, ";");
  assert_true(len < size);
  memcpy(out, sc, len);
  out[len] = '\0';
  mcs_session_free(s);
}

#endif /* MCS_LOOP_DRIVE_H */
