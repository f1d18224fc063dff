/* The library's log: messages go to the configured callback or nowhere
 * (the library never prints), and a burst of one kind of message can be
 * cut to one per period. */
#include <stdarg.h>
#include <stdio.h>

#include "util/util_int.h"

/* Formats into a fixed buffer (a longer message is cut) with `tail`, if
 * any, appended. */
MCS__PRINTF(4, 0)
static void vlog(const mcs__logger *lg, mcs_log_level level, const char *tail,
                 const char *fmt, va_list ap) {
  char msg[256];
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  if (n >= 0 && (size_t)n < sizeof msg && tail)
    (void)snprintf(msg + n, sizeof msg - (size_t)n, "%s", tail);
  lg->fn(lg->ud, level, msg);
}

void mcs__logf(const mcs__logger *lg, mcs_log_level level, const char *fmt,
               ...) {
  if (!lg || !lg->fn)
    return;
  va_list ap;
  va_start(ap, fmt);
  vlog(lg, level, NULL, fmt, ap);
  va_end(ap);
}

bool mcs__ratelimit_pass(mcs__ratelimit *rl, int64_t now, uint32_t period,
                         uint64_t *suppressed) {
  int64_t next = atomic_load_explicit(&rl->next, memory_order_relaxed);
  /* Differences in uint64_t: any two int64_t clock readings fit. */
  bool due = now >= next || (uint64_t)next - (uint64_t)now > period;
  int64_t until =
      now > INT64_MAX - (int64_t)period ? INT64_MAX : now + (int64_t)period;
  /* One thread wins the slot; the others count themselves out. */
  if (!due || !atomic_compare_exchange_strong_explicit(&rl->next, &next, until,
                                                       memory_order_relaxed,
                                                       memory_order_relaxed)) {
    atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
    return false;
  }
  *suppressed =
      atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
  return true;
}

void mcs__logf_burst(const mcs__logger *lg, mcs__ratelimit *rl, int64_t now,
                     mcs_log_level level, const char *fmt, ...) {
  uint64_t left_out = 0;
  char tail[64];
  if (!lg || !lg->fn ||
      !mcs__ratelimit_pass(rl, now, MCS__LOG_BURST_S, &left_out))
    return;
  if (left_out) {
    int n = snprintf(tail, sizeof tail, " (and %llu more since the last)",
                     (unsigned long long)left_out);
    if (n < 0 || (size_t)n >= sizeof tail)
      tail[0] = '\0';
  }
  va_list ap;
  va_start(ap, fmt);
  vlog(lg, level, left_out ? tail : NULL, fmt, ap);
  va_end(ap);
}
