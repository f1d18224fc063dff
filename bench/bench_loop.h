/* bench_lib's `loop` lines: the library through an mcs_loop (bench_loop.c). */
#ifndef BENCH_LOOP_H
#define BENCH_LOOP_H

#include <stdint.h>

#include <mcsession.h>

/* Sessions in flight at most. */
#define BENCH_LOOP_MAX 256

typedef struct bench_loop_result {
  uint64_t cycles, failures; /* in the timed part */
  double elapsed;
  uint64_t all_cycles;       /* warm-up and drain included */
} bench_loop_result;

/* Keeps n sessions (cookies[i] names session i) cycling through `loop`
 * for `seconds` after a 0.2 s warm-up, then lets the cycles in flight
 * finish. write: incr a counter (one cas per save); else read-only (no
 * write). 0, or -1 for a bad n. */
int bench_loop_run(mcs_manager *mgr, mcs_loop *loop, const char *const *cookies,
                   unsigned n, int write, double seconds,
                   bench_loop_result *out);

#endif
