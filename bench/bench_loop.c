/*
 * The library through an mcs_loop, no HTTP: N sessions in flight on one
 * thread, each repeating load -> read a value or incr a counter -> save,
 * as an event-loop server keeps N requests in flight. Each turn of the
 * loop sends every request the callbacks queued in one write (see
 * mcs_loop_run), so a round trip is shared by up to N sessions.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench_loop.h"
#include "bench_clock.h"

typedef struct slot slot;

typedef struct run {
  mcs_manager *mgr;
  mcs_loop *loop;
  int write;
  int stop;
  uint64_t cycles, failures;
} run;

struct slot {
  run *r;
  const char *cookie;
};

static void start_load(slot *sl);

/* A cycle ended (rc: how); the slot starts its next one. */
static void cycle_done(slot *sl, int rc, mcs_session *s) {
  mcs_session_free(s);
  sl->r->cycles++;
  if (rc != MCS_OK) {
    if (sl->r->failures++ == 0)
      fprintf(stderr, "bench_loop: first failure: %s\n", mcs_errname(rc));
  }
  if (!sl->r->stop)
    start_load(sl);
}

static void on_saved(void *ud, int rc, mcs_session *s) {
  cycle_done(ud, rc, s);
}

/* What a request does with its session: read the user's name (read) or
 * count the visit (write), then save. */
static void use_session(slot *sl, mcs_session *s) {
  const char *name;
  size_t len;
  int rc = MCS_OK;
  if (mcs_session_outcome(s) != MCS_SESSION_LOADED ||
      mcs_session_get_str(s, "user_name", &name, &len) != MCS_OK)
    rc = MCS_ENOENT;
  else if (sl->r->write)
    rc = mcs_session_incr(s, "count", 1, NULL);
  if (rc == MCS_OK) {
    rc = mcs_session_save_start(s, sl->r->loop, on_saved, sl);
    if (rc == MCS_PENDING)
      return;
  }
  cycle_done(sl, rc, s);
}

static void on_loaded(void *ud, int rc, mcs_session *s) {
  if (rc != MCS_OK)
    cycle_done(ud, rc, NULL);
  else
    use_session(ud, s);
}

static void start_load(slot *sl) {
  mcs_session *s = NULL;
  int rc = mcs_session_load_start(sl->r->mgr, sl->r->loop, sl->cookie,
                                  strlen(sl->cookie), &s, on_loaded, sl);
  if (rc == MCS_OK)
    use_session(sl, s);
  else if (rc != MCS_PENDING)
    cycle_done(sl, rc, NULL);
}

/* One turn: wait for the loop's fd (bounded), then run it. */
static void turn(mcs_loop *loop) {
  int t = mcs_loop_timeout(loop);
  struct pollfd pfd = {mcs_loop_fd(loop), POLLIN, 0};
  (void)poll(&pfd, 1, t < 0 || t > 100 ? 100 : t);
  mcs_loop_run(loop);
}

int bench_loop_run(mcs_manager *mgr, mcs_loop *loop, const char *const *cookies,
                   unsigned n, int write, double seconds,
                   bench_loop_result *out) {
  static slot slots[BENCH_LOOP_MAX];
  run r = {mgr, loop, write, 0, 0, 0};
  if (n == 0 || n > BENCH_LOOP_MAX)
    return -1;
  for (unsigned i = 0; i < n; i++) {
    slots[i] = (slot){&r, cookies[i]};
    start_load(&slots[i]);
  }
  double t0 = now_s(), t = t0;
  uint64_t warm_cycles = 0;
  int warm = 1;
  /* A short warm-up (connections opened, caches filled) is not counted. */
  while (t - t0 < seconds + 0.2) {
    turn(loop);
    t = now_s();
    if (warm && t - t0 >= 0.2) {
      warm = 0;
      warm_cycles = r.cycles;
      r.failures = 0;
      t0 += 0.2;
    }
  }
  out->cycles = r.cycles - warm_cycles;
  out->failures = r.failures;
  out->elapsed = t - t0;
  r.stop = 1;
  while (mcs_loop_pending(loop) > 0)
    turn(loop);
  out->all_cycles = r.cycles;
  return 0;
}
