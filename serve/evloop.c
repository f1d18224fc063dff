/* One event loop per thread, serving HTTP without ever waiting for the
 * session store (evloop.h). Shared by the demo and the gate: each program
 * brings its access handler, this file runs it. Each thread owns:
 *   - an MHD daemon started without a thread of its own, on a
 *     dup() of the listening socket: every daemon accepts from the one
 *     socket (the kernel hands each new connection to one of them), and
 *     each closes only its own descriptor when it stops;
 *   - an mcs_loop over the app's store, through which the handlers load
 *     and save sessions;
 *   - an epoll descriptor watching MHD's epoll descriptor, the mcs_loop's
 *     descriptor and the shared stop eventfd.
 * Each turn waits at most the sooner of MHD's and the loop's timeouts,
 * then runs MHD (which reads requests and calls the handlers; they queue
 * store requests on the loop) and then the mcs_loop (which sends what the
 * handlers queued, one write for all of them, and runs the callbacks of
 * what the store answered). A callback that finishes a request resumes
 * its connection. MHD in external polling mode has no inter-thread
 * channel (MHD_start_daemon drops MHD_USE_ITC without an internal
 * thread), so a resume wakes nothing: evloop_ctx.resumed makes the next
 * wait 0 ms, and the next MHD_run answers the resumed requests.
 *
 * Each loop also keeps its daemon's connections within the process's
 * connection limits and closes those that owe a request header past its
 * deadline (connguard.c), after every MHD_run; the wait is bounded by the
 * next such deadline too.
 *
 * Stopping: the main thread writes the eventfd, which stays readable, so
 * every thread sees it. A thread then stops taking requests and runs its
 * mcs_loop until nothing is pending (bounded by the store's timeouts), so
 * every suspended connection has been resumed before MHD_stop_daemon
 * (which must never meet a suspended one) closes them all. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdarg.h>

#include "connguard.h"
#include "evloop.h"

/* Descriptors to keep for other things than connections: stdio, the
 * listening socket, and per thread its copy, two epoll descriptors, the
 * loop's and its store connections. Generous: running out makes accept
 * fail, while a spare descriptor costs nothing. */
#define FDS_RESERVED(threads) (64u + 16u * (threads))

typedef struct evthread {
  const struct evloops *e;
  evloop_ctx sl;
  struct MHD_Daemon *daemon;
  connguard_loop *guard; /* the daemon's share of the limits */
  int epfd; /* ours: MHD's epoll fd, the loop's fd, the stop eventfd */
  pthread_t thread;
} evthread;

struct evloops {
  evloops_config cfg;
  evthread *threads;
  unsigned n;       /* threads set up */
  unsigned running; /* threads started */
  int fd;           /* the listening socket (each daemon has a dup) */
  int stop_fd;      /* eventfd, readable once we stop */
  connguard *guard; /* the connection limits, shared by every thread */
  unsigned max_connections;
};

/* What an event on our epoll descriptor is about. */
enum { TAG_MHD = 1, TAG_LOOP, TAG_STOP };

static void say(const evloops *e, const char *what, const char *why) {
  fprintf(stderr, "%s: %s: %s\n", e->cfg.program, what, why);
}

static int watch(int epfd, int fd, uint32_t tag) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

__attribute__((format(printf, 2, 0))) static void
log_mhd(void *cls, const char *fmt, va_list ap) {
  const evloops *e = cls;
  fprintf(stderr, "%s: libmicrohttpd: ", e->cfg.program);
  vfprintf(stderr, fmt, ap);
}

/* The daemon, on its own copy of the listening socket. */
static int start_daemon(evthread *t, evloops *e) {
  int copy = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    say(e, "cannot copy the listening socket", strerror(errno));
    return -1;
  }
  const evloops_config *c = &e->cfg;
  /* No MHD_USE_INTERNAL_POLLING_THREAD: our thread runs the daemon. */
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  /* The logger goes first: MHD uses it only for messages about the
   * options after it. MHD's own connection limit is the guard's total,
   * so the guard's count is the one that refuses (connguard.h). On
   * failure the copy is left alone: MHD 0.9.75 closes it on some failure
   * paths and not on others, and one descriptor leaked by a process that
   * is about to exit is better than closing a number that might be
   * reused. */
  t->daemon = MHD_start_daemon(
      flags, 0, connguard_accept, t->guard, c->on_request, &t->sl,
      MHD_OPTION_EXTERNAL_LOGGER, log_mhd, e,
      MHD_OPTION_LISTEN_SOCKET, copy, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      c->connection_memory, MHD_OPTION_CONNECTION_TIMEOUT,
      c->connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
      e->max_connections, MHD_OPTION_NOTIFY_CONNECTION, connguard_notify,
      t->guard, MHD_OPTION_NOTIFY_COMPLETED, c->on_completed, &t->sl,
      MHD_OPTION_END);
  return t->daemon ? 0 : -1;
}

static int thread_init(evthread *t, evloops *e) {
  t->sl.app = e->cfg.app;
  t->epfd = -1;
  int rc = mcs_loop_new(&t->sl.loop, e->cfg.store);
  if (rc != MCS_OK) {
    say(e, "cannot create an mcs_loop", mcs_strerror(rc));
    return -1;
  }
  if (!(t->guard = connguard_loop_new(e->guard))) {
    say(e, "cannot set up an event loop", strerror(ENOMEM));
    return -1;
  }
  if (start_daemon(t, e) != 0)
    return -1;
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(t->daemon, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info) {
    say(e, "cannot set up an event loop", "MHD has no epoll descriptor");
    return -1;
  }
  t->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (t->epfd < 0 || watch(t->epfd, info->epoll_fd, TAG_MHD) != 0 ||
      watch(t->epfd, mcs_loop_fd(t->sl.loop), TAG_LOOP) != 0 ||
      watch(t->epfd, e->stop_fd, TAG_STOP) != 0) {
    say(e, "cannot set up an event loop", strerror(errno));
    return -1;
  }
  return 0;
}

/* Milliseconds to wait: 0 after a resume, else the soonest of MHD's
 * deadline (connection timeouts, data it already holds), the loop's
 * (requests to send, store deadlines) and the next request-header
 * deadline; -1 when none has one. */
static int wait_ms(evthread *t) {
  if (t->sl.resumed)
    return 0;
  int ms = mcs_loop_timeout(t->sl.loop);
  int header_ms = connguard_timeout(t->guard);
  if (header_ms >= 0 && (ms < 0 || header_ms < ms))
    ms = header_ms;
  MHD_UNSIGNED_LONG_LONG mhd_ms;
  if (MHD_get_timeout(t->daemon, &mhd_ms) == MHD_YES &&
      (ms < 0 || mhd_ms < (MHD_UNSIGNED_LONG_LONG)ms))
    ms = mhd_ms > INT_MAX ? INT_MAX : (int)mhd_ms;
  return ms;
}

/* Runs the loop's callbacks until none is due, without taking new
 * requests: each one still waiting for the store is answered (or fails
 * with the store's timeout) and its connection resumed. */
static void drain(const evloops *e, mcs_loop *loop) {
  while (mcs_loop_pending(loop) > 0) {
    struct pollfd p = {.fd = mcs_loop_fd(loop), .events = POLLIN};
    if (poll(&p, 1, mcs_loop_timeout(loop)) < 0 && errno != EINTR) {
      say(e, "cannot wait for the store", strerror(errno));
      return;
    }
    mcs_loop_run(loop);
  }
}

static void *thread_run(void *arg) {
  evthread *t = arg;
  const evloops *e = t->e;
  for (;;) {
    struct epoll_event ev[3];
    int n = epoll_wait(t->epfd, ev, 3, wait_ms(t));
    if (n < 0 && errno != EINTR) {
      say(e, "event loop failed", strerror(errno));
      break;
    }
    bool stop = false;
    for (int i = 0; i < n; i++)
      stop |= ev[i].data.u32 == TAG_STOP;
    if (stop)
      break;
    /* Every turn runs both, whatever woke us: MHD_run must run after
     * every wait (MHD_get_timeout's contract), and mcs_loop_run is what
     * sends the store requests the handlers just queued. */
    t->sl.resumed = false;
    if (MHD_run(t->daemon) != MHD_YES)
      say(e, "event loop failed", "MHD_run refused to run");
    connguard_run(t->guard);
    mcs_loop_run(t->sl.loop);
  }
  drain(e, t->sl.loop);
  return NULL;
}

/* Frees what thread_init built; the thread (if any) has ended. */
static void thread_free(evthread *t) {
  if (t->daemon)
    MHD_stop_daemon(t->daemon);  /* closes its connections and socket */
  connguard_loop_free(t->guard); /* after: MHD reported every close */
  mcs_loop_free(t->sl.loop);
  if (t->epfd >= 0)
    close(t->epfd);
}

/* Stops the threads started so far and frees everything but fd. */
static void teardown(evloops *e) {
  uint64_t one = 1;
  if (e->running > 0 && write(e->stop_fd, &one, sizeof one) != sizeof one)
    say(e, "cannot signal the event loops", strerror(errno)); /* not reached:
                       an eventfd's counter is far from full */
  for (unsigned i = 0; i < e->running; i++) {
    int rc = pthread_join(e->threads[i].thread, NULL);
    if (rc != 0) /* not reached: each thread is joined once, here */
      say(e, "cannot join a thread", strerror(rc));
  }
  for (unsigned i = 0; i < e->n; i++)
    thread_free(&e->threads[i]);
  connguard_free(e->guard);
  if (e->stop_fd >= 0)
    close(e->stop_fd);
  free(e->threads);
  free(e);
}

static int start_threads(evloops *e) {
  for (; e->running < e->n; e->running++) {
    int rc = pthread_create(&e->threads[e->running].thread, NULL, thread_run,
                            &e->threads[e->running]);
    if (rc != 0) {
      say(e, "cannot start a thread", strerror(rc));
      return -1;
    }
  }
  return 0;
}

/* The connection limit in force: the one asked for if the descriptor
 * limit can hold it (connguard_fit_fd_limit raises the soft limit up to
 * the hard one), else the default lowered to what fits, with a warning.
 * 0 after saying why it cannot start. */
static unsigned connection_limit(const evloops_config *c) {
  unsigned want = c->max_connections ? c->max_connections
                                     : c->default_connections;
  unsigned reserved = FDS_RESERVED(c->threads);
  unsigned fit = connguard_fit_fd_limit(want, reserved);
  if (fit >= want)
    return want;
  if (c->max_connections || fit == 0) {
    fprintf(stderr,
            "%s: --max-connections %u needs %u open files, more than the "
            "hard limit (ulimit -Hn) allows\n",
            c->program, want, want + reserved);
    return 0;
  }
  fprintf(stderr,
          "%s: warning: the open-file limit (ulimit -Hn) has room for %u "
          "connections, not %u: serving at most %u\n",
          c->program, fit, want, fit);
  return fit;
}

static int start_guard(evloops *e) {
  if (!(e->max_connections = connection_limit(&e->cfg)))
    return -1;
  unsigned per_address = e->cfg.max_per_address;
  if (per_address == 0 || per_address > e->max_connections)
    per_address = e->max_connections;
  connguard_config cfg = {e->max_connections, per_address,
                          e->cfg.header_timeout_s * 1000u};
  if (!(e->guard = connguard_new(&cfg))) {
    say(e, "cannot start", strerror(ENOMEM));
    return -1;
  }
  return 0;
}

evloops *evloops_start(int fd, const evloops_config *cfg) {
  unsigned threads = cfg->threads;
  evloops *e = calloc(1, sizeof *e);
  if (!e) {
    fprintf(stderr, "%s: cannot start: %s\n", cfg->program, strerror(errno));
    return NULL;
  }
  e->cfg = *cfg;
  e->fd = fd;
  e->stop_fd = eventfd(0, EFD_CLOEXEC);
  e->threads = calloc(threads, sizeof *e->threads);
  if (e->stop_fd < 0 || !e->threads) {
    say(e, "cannot start", strerror(errno));
    teardown(e);
    return NULL;
  }
  if (start_guard(e) != 0) {
    teardown(e);
    return NULL;
  }
  for (; e->n < threads; e->n++) {
    e->threads[e->n].e = e;
    if (thread_init(&e->threads[e->n], e) != 0) {
      e->n++; /* free the half-built one too */
      teardown(e);
      return NULL;
    }
  }
  if (start_threads(e) != 0) {
    teardown(e);
    return NULL;
  }
  return e;
}

unsigned evloops_max_connections(const evloops *e) {
  return e->max_connections;
}

void evloops_stop(evloops *e) {
  int fd = e->fd;
  teardown(e);
  close(fd);
}
