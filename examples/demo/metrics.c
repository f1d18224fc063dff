/* Prometheus text exposition for the demo: session counters come from
 * mcs_manager_stats_get, request figures from our own atomics. */
#include <inttypes.h>

#include "metrics.h"

/* From 100 µs (a memory-store request) to 2.5 s (a store timing out). */
static const uint64_t bucket_us[METRICS_BUCKETS] = {
    100,   250,   500,    1000,   2500,   5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

void metrics_init(metrics *m) {
  for (int i = 0; i <= METRICS_BUCKETS; i++)
    atomic_init(&m->bucket[i], 0);
  atomic_init(&m->sum_us, 0);
  for (int i = 0; i < 6; i++)
    atomic_init(&m->by_class[i], 0);
}

void metrics_observe(metrics *m, unsigned status, uint64_t micros) {
  int i = 0;
  while (i < METRICS_BUCKETS && micros > bucket_us[i])
    i++;
  /* Relaxed: each counter is independent; a scrape may see a request in
   * the histogram a moment before it shows up in the sum. */
  atomic_fetch_add_explicit(&m->bucket[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->sum_us, micros, memory_order_relaxed);
  unsigned cls = status / 100;
  atomic_fetch_add_explicit(&m->by_class[cls < 6 ? cls : 0], 1,
                            memory_order_relaxed);
}

static uint64_t load(const atomic_uint_fast64_t *a) {
  return atomic_load_explicit(a, memory_order_relaxed);
}

static void counter(strbuf *out, const char *name, const char *help,
                    uint64_t value) {
  sb_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name,
            help, name, name, value);
}

static void render_sessions(const mcs_manager *mgr, strbuf *out) {
  mcs_manager_stats st;
  mcs_manager_stats_get(mgr, &st);
  counter(out, "mcsession_sessions_created_total",
          "Sessions written to the store for the first time.", st.created);
  counter(out, "mcsession_sessions_loaded_total",
          "Requests that found a live session.", st.loaded);
  counter(out, "mcsession_sessions_expired_total",
          "Requests with a valid cookie whose session was gone.", st.expired);
  counter(out, "mcsession_sessions_forged_total",
          "Requests with an invalid session cookie.", st.forged);
  counter(out, "mcsession_sessions_revoked_total",
          "Requests whose user had been logged out everywhere.", st.revoked);
  counter(out, "mcsession_sessions_retired_total",
          "Requests with the old cookie of a session regenerated moments "
          "ago (read-only).",
          st.retired);
  counter(out, "mcsession_saves_total", "Successful session saves.", st.saves);
  counter(out, "mcsession_writes_skipped_total",
          "Saves that had nothing to write.", st.writes_skipped);
  counter(out, "mcsession_cas_retries_total",
          "Compare-and-swap conflicts resolved by replaying changes.",
          st.cas_retries);
  counter(out, "mcsession_store_errors_total", "Store operations that failed.",
          st.store_errors);
  counter(out, "mcsession_records_corrupt_total",
          "Stored session records that could not be decoded.", st.corrupt);
  counter(out, "mcsession_revocation_records_unreadable_total",
          "Users' revocation records found unreadable (counted as revoked).",
          st.revocation_unreadable);
  counter(out, "mcsession_records_tampered_total",
          "Stored session records that did not open (altered, moved, or "
          "sealed under a secret not in the ring).",
          st.tampered);
}

static void render_requests(const metrics *m, strbuf *out) {
  static const char *const classes[6] = {"other", "1xx", "2xx",
                                         "3xx",   "4xx", "5xx"};
  sb_puts(out, "# HELP mcsession_demo_requests_total Requests answered, by "
               "status class.\n# TYPE mcsession_demo_requests_total "
               "counter\n");
  for (int i = 1; i < 6; i++)
    sb_printf(out, "mcsession_demo_requests_total{code=\"%s\"} %" PRIu64 "\n",
              classes[i], load(&m->by_class[i]));
}

static void render_latency(const metrics *m, strbuf *out) {
  const char *name = "mcsession_demo_request_duration_seconds";
  sb_printf(out,
            "# HELP %s Time from a request's headers to its last byte sent.\n"
            "# TYPE %s histogram\n",
            name, name);
  uint64_t cumulative = 0;
  for (int i = 0; i < METRICS_BUCKETS; i++) {
    cumulative += load(&m->bucket[i]);
    sb_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
              (double)bucket_us[i] / 1e6, cumulative);
  }
  cumulative += load(&m->bucket[METRICS_BUCKETS]);
  sb_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
  sb_printf(out, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
            (double)load(&m->sum_us) / 1e6, name, cumulative);
}

void metrics_render(const metrics *m, const mcs_manager *mgr, strbuf *out) {
  render_sessions(mgr, out);
  render_requests(m, out);
  render_latency(m, out);
}
