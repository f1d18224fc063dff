/* Once-per-burst logging (gatelog.h). Only failures take the lock; the
 * success path reads one atomic flag. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gatelog.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static time_t now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec;
}

/* ---- Store failures: a burst lasts until the store answers again ----- */

static atomic_bool failing;
static uint64_t failed; /* requests answered 503 in this burst */
static time_t failing_since;

void gatelog_store_failed(int rc) {
  pthread_mutex_lock(&lock);
  if (!atomic_load_explicit(&failing, memory_order_relaxed)) {
    failed = 0;
    failing_since = now_s();
    atomic_store_explicit(&failing, true, memory_order_relaxed);
    fprintf(stderr,
            "%s: error: the session store failed (%s): answering 503 until "
            "it answers again\n",
            gate_program, mcs_strerror(rc));
  }
  failed++;
  pthread_mutex_unlock(&lock);
}

void gatelog_store_ok(void) {
  if (!atomic_load_explicit(&failing, memory_order_relaxed))
    return;
  pthread_mutex_lock(&lock);
  if (atomic_load_explicit(&failing, memory_order_relaxed)) {
    atomic_store_explicit(&failing, false, memory_order_relaxed);
    fprintf(stderr,
            "%s: the session store answers again: %llu request%s answered "
            "503 in %lld s\n",
            gate_program, (unsigned long long)failed, failed == 1 ? "" : "s",
            (long long)(now_s() - failing_since));
  }
  pthread_mutex_unlock(&lock);
}

/* ---- Everything else: each kind at most once a minute ---------------- */

#define QUIET_S 60

typedef struct limited {
  time_t last; /* when it was last printed; 0: never */
  uint64_t suppressed;
} limited;

/* True when the caller may print now (under the lock); *suppressed is
 * how many were dropped since the last print. */
static bool may_print(limited *l, uint64_t *suppressed) {
  time_t now = now_s();
  if (l->last != 0 && now - l->last < QUIET_S) {
    l->suppressed++;
    return false;
  }
  *suppressed = l->suppressed;
  l->suppressed = 0;
  l->last = now;
  return true;
}

static void print_limited(limited *l, const char *level, const char *text,
                          const char *detail) {
  uint64_t dropped;
  pthread_mutex_lock(&lock);
  if (may_print(l, &dropped)) {
    fprintf(stderr, "%s: %s: %s%s%s", gate_program, level, text,
            detail ? ": " : "", detail ? detail : "");
    if (dropped)
      fprintf(stderr, " (%llu more since the last such line)",
              (unsigned long long)dropped);
    fputc('\n', stderr);
  }
  pthread_mutex_unlock(&lock);
}

static limited unsafe_user, unexpected;

void gatelog_unsafe_user(void) {
  print_limited(&unsafe_user, "warning",
                "a session's user name cannot be sent in a header unchanged "
                "(a control byte, a space at either end, or over 1024 "
                "bytes): answered 401",
                NULL);
}

void gatelog_unexpected(int rc) {
  print_limited(&unexpected, "error", "a session load failed, answered 500",
                mcs_strerror(rc));
}

/* The library's messages, by text: a small table of the ones printed
 * lately (a store outage repeats one message per request). */
#define RECENT 8
#define TEXT_MAX 160

typedef struct recent {
  char text[TEXT_MAX];
  limited l;
} recent;

static recent recents[RECENT];
static unsigned next_slot;

static limited *slot_for(const char *message) {
  for (unsigned i = 0; i < RECENT; i++)
    if (recents[i].l.last != 0 &&
        strncmp(recents[i].text, message, TEXT_MAX - 1) == 0)
      return &recents[i].l;
  recent *r = &recents[next_slot++ % RECENT];
  size_t n = strnlen(message, TEXT_MAX - 1);
  memcpy(r->text, message, n);
  r->text[n] = '\0';
  r->l = (limited){0, 0};
  return &r->l;
}

void gatelog_library(void *ud, mcs_log_level level, const char *message) {
  (void)ud;
  if (level > MCS_LOG_WARN)
    return;
  uint64_t dropped;
  pthread_mutex_lock(&lock);
  if (may_print(slot_for(message), &dropped)) {
    fprintf(stderr, "%s: %s: %s", gate_program,
            level == MCS_LOG_ERROR ? "error" : "warning", message);
    if (dropped)
      fprintf(stderr, " (%llu more since the last such line)",
              (unsigned long long)dropped);
    fputc('\n', stderr);
  }
  pthread_mutex_unlock(&lock);
}
