/* Request counters and a latency histogram, updated with atomics from
 * every server thread, rendered in the Prometheus text format (0.0.4). */
#ifndef DEMO_METRICS_H
#define DEMO_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include <mcsession.h>

#include "html.h"

/* Upper bounds of the latency buckets, in microseconds; +Inf is implicit. */
#define METRICS_BUCKETS 14

typedef struct metrics {
  atomic_uint_fast64_t bucket[METRICS_BUCKETS + 1]; /* last one: +Inf */
  atomic_uint_fast64_t sum_us;
  atomic_uint_fast64_t by_class[6]; /* index status / 100; 0: other */
} metrics;

void metrics_init(metrics *m);
/* Records one finished request. Lock-free; safe from any thread. */
void metrics_observe(metrics *m, unsigned status, uint64_t micros);
/* Appends the exposition: the manager's session counters and ours. */
void metrics_render(const metrics *m, const mcs_manager *mgr, strbuf *out);

#endif
