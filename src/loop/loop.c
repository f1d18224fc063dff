/*
 * mcs_loop: store operations for one event-loop thread without blocking
 * it (include/mcsession/loop.h, "Event loops").
 *
 * A loop owns an epoll descriptor (what the application watches), the
 * engine of the store's non-blocking side when it has one (attached
 * through mcs_store_ops; its descriptors go into the epoll set through the
 * mcs_store_io table below, the only way a store waits on anything), and
 * a helper thread for work that has to block: the rare session steps that
 * need several store operations, every operation of a store without an
 * engine, and the application's own jobs. The helper thread takes jobs
 * in order from a queue and puts them, finished, on a second queue; an
 * eventfd in the epoll set tells the loop, whose thread then runs each
 * job's `done`. So every callback the application sees runs on the loop's
 * thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop/loop_int.h"

/* Events taken per epoll_wait in mcs_loop_run; more wait for the next call
 * (the descriptor stays readable). */
#define EVENTS_PER_RUN 64
/* mcs_loop_free's wait for helper-thread jobs, which have no deadline the
 * loop knows of. */
#define FREE_POLL_MS 100

typedef struct job {
  void (*work)(void *ud);
  void (*done)(void *ud);
  void *ud;
  struct job *next;
} job;

typedef struct job_queue {
  job *head, *tail;
} job_queue;

struct mcs_loop {
  mcs_store *store;
  const mcs_store_ops *ops; /* the store's */
  void *engine;             /* the store's; NULL: none attached */
  mcs_store_io io;          /* how the engine watches its descriptors */
  bool inline_ops;          /* MCS_STORE_CAP_NONBLOCKING: never blocks */
  int epfd;
  int wake_fd;       /* eventfd: the helper thread finished a job */
  size_t owed;       /* callbacks the application waits for */
  size_t settled;    /* callbacks run, for mcs_loop_run's count */
  /* The helper thread and its two queues, under mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  bool started, stopping;
  job_queue queued, finished;
};

static void queue_push(job_queue *q, job *j) {
  j->next = NULL;
  if (q->tail)
    q->tail->next = j;
  else
    q->head = j;
  q->tail = j;
}

static job *queue_pop(job_queue *q) {
  job *j = q->head;
  if (j && !(q->head = j->next))
    q->tail = NULL;
  return j;
}

/* ---- The helper thread -------------------------------------------------- */

static void wake_loop(mcs_loop *loop) {
  uint64_t one = 1;
  ssize_t n;
  do /* an eventfd counter write only fails at 2^64 - 1 */
    n = write(loop->wake_fd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
}

static void *helper_main(void *arg) {
  mcs_loop *loop = arg;
  pthread_mutex_lock(&loop->mu);
  for (;;) {
    job *j = queue_pop(&loop->queued);
    if (!j) {
      if (loop->stopping)
        break;
      pthread_cond_wait(&loop->cv, &loop->mu);
      continue;
    }
    pthread_mutex_unlock(&loop->mu);
    j->work(j->ud);
    pthread_mutex_lock(&loop->mu);
    queue_push(&loop->finished, j);
    wake_loop(loop);
  }
  pthread_mutex_unlock(&loop->mu);
  return NULL;
}

/* Starts the helper with every signal blocked: signals are the
 * application's business, not a library thread's. */
static int start_helper(mcs_loop *loop) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&loop->thread, NULL, helper_main, loop);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return MCS_EIO;
  loop->started = true;
  return MCS_OK;
}

int mcs__loop_queue(mcs_loop *loop, void (*work)(void *ud),
                    void (*done)(void *ud), void *ud) {
  job *j = mcs__calloc(1, sizeof *j);
  if (!j)
    return MCS_ENOMEM;
  j->work = work;
  j->done = done;
  j->ud = ud;
  int rc = MCS_OK;
  pthread_mutex_lock(&loop->mu);
  if (!loop->started)
    rc = start_helper(loop);
  if (rc == MCS_OK) {
    queue_push(&loop->queued, j);
    pthread_cond_signal(&loop->cv);
  }
  pthread_mutex_unlock(&loop->mu);
  if (rc)
    mcs__free(j);
  return rc;
}

/* Runs the `done` of every job the helper finished. */
static void run_finished(mcs_loop *loop) {
  uint64_t count;
  ssize_t n;
  do /* resets the eventfd's counter: it is readable again only after
        the next job finishes */
    n = read(loop->wake_fd, &count, sizeof count);
  while (n < 0 && errno == EINTR);
  pthread_mutex_lock(&loop->mu);
  job_queue done = loop->finished;
  loop->finished.head = loop->finished.tail = NULL;
  pthread_mutex_unlock(&loop->mu);
  for (job *j; (j = queue_pop(&done));) {
    j->done(j->ud);
    mcs__free(j);
  }
}

/* ---- The engine's descriptors (mcs_store_io) ---------------------------- */

/* The engine's tags go into epoll as they are; the loop's own descriptor
 * is tagged with an address of the loop, which no engine owns. */
static uint32_t to_epoll(uint32_t events) {
  return (events & MCS_STORE_IO_READ ? (uint32_t)EPOLLIN : 0u) |
         (events & MCS_STORE_IO_WRITE ? (uint32_t)EPOLLOUT : 0u);
}

static uint32_t from_epoll(uint32_t events) {
  return (events & EPOLLIN ? MCS_STORE_IO_READ : 0u) |
         (events & EPOLLOUT ? MCS_STORE_IO_WRITE : 0u) |
         (events & (EPOLLERR | EPOLLHUP) ? MCS_STORE_IO_ERROR : 0u);
}

static int io_ctl(void *ctx, int op, int fd, uint32_t events, void *tag) {
  mcs_loop *loop = ctx;
  struct epoll_event ev = {.events = to_epoll(events), .data.ptr = tag};
  if (epoll_ctl(loop->epfd, op, fd, &ev) != 0)
    return errno == ENOMEM ? MCS_ENOMEM : MCS_EIO;
  return MCS_OK;
}

static int io_watch(void *ctx, int fd, uint32_t events, void *tag) {
  return io_ctl(ctx, EPOLL_CTL_ADD, fd, events, tag);
}

static int io_modify(void *ctx, int fd, uint32_t events, void *tag) {
  return io_ctl(ctx, EPOLL_CTL_MOD, fd, events, tag);
}

static void io_unwatch(void *ctx, int fd) {
  mcs_loop *loop = ctx;
  (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Attaches the store's engine when the store has a non-blocking side and
 * its operations may block; an engine that declines (MCS_OK, NULL) leaves
 * the helper thread to run them. */
static int attach_engine(mcs_loop *loop) {
  if (loop->inline_ops || !mcs__store_has_engine(loop->store))
    return MCS_OK;
  loop->io = (mcs_store_io){.ctx = loop,
                            .watch = io_watch,
                            .modify = io_modify,
                            .unwatch = io_unwatch};
  void *engine = NULL;
  int rc = loop->ops->attach(loop->store->ud, &loop->io, &engine);
  if (rc == MCS_OK)
    loop->engine = engine;
  return rc;
}

/* ---- The loop ----------------------------------------------------------- */

int mcs_loop_new(mcs_loop **out, mcs_store *store) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  if (!store)
    return MCS_EINVAL;
  mcs_loop *loop = mcs__calloc(1, sizeof *loop);
  if (!loop)
    return MCS_ENOMEM;
  loop->store = store;
  loop->ops = &store->ops;
  loop->inline_ops = (store->ops.caps & MCS_STORE_CAP_NONBLOCKING) != 0;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &loop->wake_fd};
  int rc = MCS_EIO;
  if (loop->epfd >= 0 && loop->wake_fd >= 0 &&
      epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) == 0)
    rc = MCS_OK;
  if (rc == MCS_OK)
    rc = attach_engine(loop);
  /* glibc never fails these; other libcs might. */
  if (rc == MCS_OK && pthread_mutex_init(&loop->mu, NULL) != 0) {
    rc = MCS_ENOMEM;
  } else if (rc == MCS_OK && pthread_cond_init(&loop->cv, NULL) != 0) {
    pthread_mutex_destroy(&loop->mu);
    rc = MCS_ENOMEM;
  }
  if (rc) {
    if (loop->engine)
      loop->ops->detach(loop->engine);
    if (loop->epfd >= 0)
      close(loop->epfd);
    if (loop->wake_fd >= 0)
      close(loop->wake_fd);
    mcs__free(loop);
    return rc;
  }
  *out = loop;
  return MCS_OK;
}

static void stop_helper(mcs_loop *loop) {
  pthread_mutex_lock(&loop->mu);
  loop->stopping = true;
  pthread_cond_signal(&loop->cv);
  bool started = loop->started;
  pthread_mutex_unlock(&loop->mu);
  if (started)
    pthread_join(loop->thread, NULL);
}

void mcs_loop_free(mcs_loop *loop) {
  if (!loop)
    return;
  /* Every callback still due runs: in-flight requests end by their
   * deadline at the latest, helper jobs when their work returns. */
  while (loop->owed > 0) {
    int t = mcs_loop_timeout(loop);
    struct pollfd pfd = {loop->epfd, POLLIN, 0};
    (void)poll(&pfd, 1, t < 0 || t > FREE_POLL_MS ? FREE_POLL_MS : t);
    mcs_loop_run(loop);
  }
  stop_helper(loop);
  if (loop->engine)
    loop->ops->detach(loop->engine);
  run_finished(loop); /* nothing is owed, but free what is queued */
  pthread_cond_destroy(&loop->cv);
  pthread_mutex_destroy(&loop->mu);
  close(loop->epfd);
  close(loop->wake_fd);
  mcs__free(loop);
}

int mcs_loop_fd(const mcs_loop *loop) { return loop ? loop->epfd : -1; }

int mcs_loop_timeout(const mcs_loop *loop) {
  if (!loop || !loop->engine)
    return -1; /* the helper's jobs announce themselves on the fd */
  return loop->ops->timeout(loop->engine);
}

size_t mcs_loop_run(mcs_loop *loop) {
  if (!loop)
    return 0;
  size_t before = loop->settled;
  struct epoll_event ev[EVENTS_PER_RUN];
  /* Replies first, then deadlines: a loop thread that was descheduled
   * for a while must not time out requests whose answers already wait in
   * the socket buffer. */
  int n;
  do
    n = epoll_wait(loop->epfd, ev, EVENTS_PER_RUN, 0);
  while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; i++) {
    if (ev[i].data.ptr == &loop->wake_fd)
      run_finished(loop);
    else if (loop->engine)
      loop->ops->event(loop->engine, ev[i].data.ptr, from_epoll(ev[i].events));
  }
  /* The engine sends what the application and the callbacks queued (the
   * memcached one: one write per server), fails what is past its
   * deadline, runs what completed. */
  if (loop->engine)
    loop->ops->flush(loop->engine);
  return loop->settled - before;
}

size_t mcs_loop_pending(const mcs_loop *loop) {
  return loop ? loop->owed : 0;
}

/* ---- Application jobs --------------------------------------------------- */

typedef struct app_job {
  mcs_loop *loop;
  void (*work)(void *ud);
  void (*done)(void *ud);
  void *ud;
} app_job;

static void app_work(void *arg) {
  app_job *a = arg;
  a->work(a->ud);
}

static void app_done(void *arg) {
  app_job *a = arg;
  void (*done)(void *) = a->done;
  void *ud = a->ud;
  mcs__loop_settled(a->loop);
  mcs__free(a);
  done(ud);
}

int mcs_loop_queue_work(mcs_loop *loop, void (*work)(void *ud),
                        void (*done)(void *ud), void *ud) {
  if (!loop || !work || !done)
    return MCS_EINVAL;
  app_job *a = mcs__calloc(1, sizeof *a);
  if (!a)
    return MCS_ENOMEM;
  *a = (app_job){loop, work, done, ud};
  int rc = mcs__loop_queue(loop, app_work, app_done, a);
  if (rc) {
    mcs__free(a);
    return rc;
  }
  mcs__loop_owe(loop);
  return MCS_OK;
}

/* ---- Hooks for session_async.c ------------------------------------------ */

mcs_store *mcs__loop_store(const mcs_loop *loop) { return loop->store; }

bool mcs__loop_inline(const mcs_loop *loop) { return loop->inline_ops; }

bool mcs__loop_async(const mcs_loop *loop) { return loop->engine != NULL; }

void mcs__loop_submit(mcs_loop *loop, mcs_store_op *op) {
  loop->ops->submit(loop->engine, op);
}

void mcs__loop_owe(mcs_loop *loop) { loop->owed++; }

void mcs__loop_settled(mcs_loop *loop) {
  loop->owed--;
  loop->settled++;
}
