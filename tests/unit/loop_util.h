/* What the tests of sessions on an mcs_loop share: a callback that records
 * what it was told and on which thread, and a driver that runs the loop
 * as an application's event loop would. */
#ifndef MCS_LOOP_UTIL_H
#define MCS_LOOP_UTIL_H

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "test_util.h"

typedef struct cb_result {
  int calls;
  int rc;
  mcs_session *s;
  pthread_t thread;
} cb_result;

static inline void on_done(void *ud, int rc, mcs_session *s) {
  cb_result *res = ud;
  res->calls++;
  res->rc = rc;
  res->s = s;
  res->thread = pthread_self();
}

/* As an application's loop: poll the loop's fd, run, until nothing is
 * pending; fails the test after 5 s. */
static inline void drive(mcs_loop *loop) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (mcs_loop_pending(loop) > 0) {
    int timeout = mcs_loop_timeout(loop);
    struct pollfd pfd = {mcs_loop_fd(loop), POLLIN, 0};
    (void)poll(&pfd, 1, timeout < 0 || timeout > 100 ? 100 : timeout);
    mcs_loop_run(loop);
    clock_gettime(CLOCK_MONOTONIC, &t);
    assert_true(t.tv_sec - t0.tv_sec < 5);
  }
}

#endif /* MCS_LOOP_UTIL_H */
