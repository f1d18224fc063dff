/*
 * The connection pool of one server, shared by all threads: the same
 * rules for every network store (memcached, Redis), which give it how to
 * open, check and close one of their connections.
 *
 * At most `pool` connections exist at once (idle + in use + being opened).
 * A thread that finds none free waits on a condition variable bound to
 * CLOCK_MONOTONIC (so wall-clock jumps cannot stretch the wait) until its
 * deadline. Connecting happens outside the lock.
 *
 * Failure handling: when a connect fails (or the store reports a failed
 * request), the server is marked down until now + retry_s. Meanwhile
 * requests fail at once with MCS_ESTORE without touching the network.
 * When the time has passed, the first request to arrive moves the mark
 * forward again and probes with one connect; the others keep failing fast
 * until the probe succeeds (then the mark is cleared). So a dead server
 * costs one connect attempt per retry_s, not one per request, and is never
 * given up on for good.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

struct mcs__conn_pool {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mcs__conn_pool_ops ops;
  void *ctx;
  unsigned max;
  int64_t retry_ms;
  void **idle; /* stack: the most recently used is reused first */
  unsigned idle_count;
  unsigned total;     /* idle + in use + connecting */
  int64_t down_until; /* monotonic ms; 0 = up */
  _Atomic uint64_t connects, connect_failures, down_skips;
};

static int cond_init_monotonic(pthread_cond_t *cv) {
  pthread_condattr_t attr;
  if (pthread_condattr_init(&attr) != 0)
    return MCS_ENOMEM;
  int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(cv, &attr);
  pthread_condattr_destroy(&attr);
  return rc ? MCS_ENOMEM : MCS_OK;
}

int mcs__conn_pool_new(const mcs__conn_pool_ops *ops, void *ctx, unsigned max,
                       unsigned retry_s, mcs__conn_pool **out) {
  *out = NULL;
  mcs__conn_pool *p = mcs__calloc(1, sizeof *p);
  if (!p)
    return MCS_ENOMEM;
  p->idle = mcs__calloc(max, sizeof *p->idle);
  if (!p->idle || pthread_mutex_init(&p->mu, NULL) != 0) {
    mcs__free(p->idle);
    mcs__free(p);
    return MCS_ENOMEM;
  }
  if (cond_init_monotonic(&p->cv) != 0) {
    pthread_mutex_destroy(&p->mu);
    mcs__free(p->idle);
    mcs__free(p);
    return MCS_ENOMEM;
  }
  p->ops = *ops;
  p->ctx = ctx;
  p->max = max;
  p->retry_ms = (int64_t)retry_s * 1000;
  *out = p;
  return MCS_OK;
}

void mcs__conn_pool_free(mcs__conn_pool *p) {
  if (!p)
    return;
  for (unsigned i = 0; i < p->idle_count; i++)
    p->ops.close(p->idle[i]);
  if (p->ops.ctx_free)
    p->ops.ctx_free(p->ctx);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  mcs__free(p->idle);
  mcs__free(p);
}

/* Closes the idle connections; called with the lock held. */
static void drop_idle_locked(mcs__conn_pool *p) {
  for (unsigned i = 0; i < p->idle_count; i++)
    p->ops.close(p->idle[i]);
  p->total -= p->idle_count;
  p->idle_count = 0;
}

static void mark_down_locked(mcs__conn_pool *p) {
  /* Never 0, which means "up", even when retry_s is 0. */
  int64_t until = mcs__net_now_ms() + p->retry_ms;
  p->down_until = until ? until : 1;
  drop_idle_locked(p);
  /* Waiters must re-check: they now fail fast instead of waiting. */
  pthread_cond_broadcast(&p->cv);
}

void mcs__conn_pool_mark_down(mcs__conn_pool *p) {
  pthread_mutex_lock(&p->mu);
  mark_down_locked(p);
  pthread_mutex_unlock(&p->mu);
}

static void deadline_ts(int64_t deadline_ms, struct timespec *ts) {
  ts->tv_sec = (time_t)(deadline_ms / 1000);
  ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

/* Down and not yet time to probe: fail fast. Time to probe: move the mark
 * forward so that concurrent requests keep failing fast while this one
 * connects. Lock held. Returns true when the caller must fail. */
static bool skip_down_locked(mcs__conn_pool *p, bool *probing) {
  *probing = false;
  if (p->down_until == 0)
    return false;
  int64_t now = mcs__net_now_ms();
  if (now < p->down_until)
    return true;
  p->down_until = now + p->retry_ms > 0 ? now + p->retry_ms : 1;
  *probing = true;
  return false;
}

/* Opens a connection for a slot already counted in total. */
static int open_slot(mcs__conn_pool *p, bool probing, void **out) {
  atomic_fetch_add_explicit(&p->connects, 1, memory_order_relaxed);
  int rc = p->ops.open(p->ctx, out);
  pthread_mutex_lock(&p->mu);
  if (rc) {
    atomic_fetch_add_explicit(&p->connect_failures, 1, memory_order_relaxed);
    p->total--;
    if (rc != MCS_ENOMEM)
      mark_down_locked(p);
    else
      pthread_cond_signal(&p->cv); /* the slot is free again */
  } else if (probing) {
    p->down_until = 0;
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* Pops an idle connection that still looks healthy, closing stale ones;
 * `probe` also asks the socket (see mcs__conn_pool_acquire in store_int.h).
 * Lock held. */
static void *pop_idle_locked(mcs__conn_pool *p, bool probe) {
  while (p->idle_count > 0) {
    void *c = p->idle[--p->idle_count];
    if (p->ops.idle_ok(c, probe))
      return c;
    p->ops.close(c);
    p->total--;
  }
  return NULL;
}

int mcs__conn_pool_acquire(mcs__conn_pool *p, int64_t wait_deadline, bool fresh,
                           bool probe, void **out) {
  struct timespec ts;
  bool probing;
  *out = NULL;
  deadline_ts(wait_deadline, &ts);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (skip_down_locked(p, &probing)) {
      pthread_mutex_unlock(&p->mu);
      atomic_fetch_add_explicit(&p->down_skips, 1, memory_order_relaxed);
      return MCS_ESTORE;
    }
    if (fresh && p->idle_count > 0 && p->total >= p->max) {
      p->ops.close(p->idle[--p->idle_count]); /* make room */
      p->total--;
    }
    if (!fresh && !probing && (*out = pop_idle_locked(p, probe)) != NULL)
      break;
    if (p->total < p->max) {
      p->total++;
      pthread_mutex_unlock(&p->mu);
      return open_slot(p, probing, out);
    }
    if (probing)
      p->down_until = 1; /* cannot probe now: due again, next one tries */
    if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0 &&
        mcs__net_now_ms() >= wait_deadline) {
      pthread_mutex_unlock(&p->mu);
      return MCS_ETIMEDOUT;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return MCS_OK;
}

void mcs__conn_pool_release(mcs__conn_pool *p, void *c, bool reuse) {
  if (!c)
    return;
  reuse = reuse && p->ops.done(c);
  pthread_mutex_lock(&p->mu);
  if (reuse && p->down_until == 0 && p->idle_count < p->max) {
    p->idle[p->idle_count++] = c;
    c = NULL;
  } else {
    p->total--;
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (c) /* outside the lock: close() may take a while */
    p->ops.close(c);
}

bool mcs__conn_pool_is_down(mcs__conn_pool *p) {
  pthread_mutex_lock(&p->mu);
  bool down = p->down_until != 0 && mcs__net_now_ms() < p->down_until;
  pthread_mutex_unlock(&p->mu);
  return down;
}

void mcs__conn_pool_stats_get(mcs__conn_pool *p, mcs__conn_pool_stats *st) {
  st->connects = atomic_load_explicit(&p->connects, memory_order_relaxed);
  st->connect_failures =
      atomic_load_explicit(&p->connect_failures, memory_order_relaxed);
  st->down_skips = atomic_load_explicit(&p->down_skips, memory_order_relaxed);
}
