/*
 * What the tests of the memcached store's engine share (test_mc_async.c,
 * test_mc_async_wire.c): three memcached servers, a rig that drives one
 * engine on its own epoll fd through the store's table, and test
 * operations that record their completion order.
 */
#ifndef MCS_MC_ASYNC_RIG_H
#define MCS_MC_ASYNC_RIG_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session/session_int.h"
#include "mc_testutil.h"

#define NODES 3
#define BOUND_MS 5000 /* longest any batch may take (sanitizers included) */
/* Generous timeouts where none are under test (sanitizer builds). */
#define SLOW "io_timeout_ms=2000&connect_timeout_ms=2000"

static mc_node node[NODES];

/* ---- The rig: one engine on its own epoll fd ----
 * The engine is reached only through the store's table (attach ...
 * event) and waits on its sockets only through the rig's mcs_store_io,
 * as under an mcs_loop; the rig also checks it keeps to that table: every
 * event it gets back is for a descriptor it watches, and detach leaves
 * nothing watched. */

#define WATCH_MAX 16

typedef struct rig {
  int epfd;
  mcs_store *store;
  void *a; /* the engine */
  mcs_store_io io;
  int fds[WATCH_MAX]; /* watched descriptors (-1: free slot) */
  void *tags[WATCH_MAX];
  size_t watched;
} rig;

static inline int slot_of(rig *r, int fd) {
  for (int i = 0; i < WATCH_MAX; i++)
    if (r->fds[i] == fd)
      return i;
  return -1;
}

static inline uint32_t to_epoll(uint32_t ev) {
  return (ev & MCS_STORE_IO_READ ? (uint32_t)EPOLLIN : 0u) |
         (ev & MCS_STORE_IO_WRITE ? (uint32_t)EPOLLOUT : 0u);
}

static inline int rig_ctl(rig *r, int op, int fd, uint32_t events, void *tag) {
  struct epoll_event ev = {.events = to_epoll(events), .data.ptr = tag};
  assert_non_null(tag);
  return epoll_ctl(r->epfd, op, fd, &ev) == 0 ? MCS_OK : MCS_EIO;
}

static inline int rig_watch(void *ctx, int fd, uint32_t events, void *tag) {
  rig *r = ctx;
  assert_int_equal(slot_of(r, fd), -1); /* not watched twice */
  int i = slot_of(r, -1);
  assert_true(i >= 0);
  int rc = rig_ctl(r, EPOLL_CTL_ADD, fd, events, tag);
  if (rc == MCS_OK) {
    r->fds[i] = fd;
    r->tags[i] = tag;
    r->watched++;
  }
  return rc;
}

static inline int rig_modify(void *ctx, int fd, uint32_t events, void *tag) {
  rig *r = ctx;
  int i = slot_of(r, fd);
  assert_true(i >= 0);
  r->tags[i] = tag;
  return rig_ctl(r, EPOLL_CTL_MOD, fd, events, tag);
}

static inline void rig_unwatch(void *ctx, int fd) {
  rig *r = ctx;
  int i = slot_of(r, fd);
  assert_true(i >= 0);
  r->fds[i] = -1;
  r->watched--;
  (void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static inline size_t pending_of(const rig *r) {
  return mcs__mc_async_pending((const mcs__mc_async *)r->a);
}

static inline void rig_flush(rig *r) { r->store->ops.flush(r->a); }

static inline int rig_timeout(rig *r) { return r->store->ops.timeout(r->a); }

static inline void rig_submit(rig *r, mcs_store_op *op) {
  r->store->ops.submit(r->a, op);
}

static inline rig *rig_open(mc_node *const *nodes, size_t n,
                            const char *params) {
  rig *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  assert_true(r->epfd >= 0);
  for (int i = 0; i < WATCH_MAX; i++)
    r->fds[i] = -1;
  r->io = (mcs_store_io){r, rig_watch, rig_modify, rig_unwatch};
  r->store = mt_store(nodes, n, params);
  assert_string_equal(mcs_store_kind(r->store), "memcached");
  assert_non_null(r->store->ops.attach);
  assert_int_equal(r->store->ops.attach(r->store->ud, &r->io, &r->a), MCS_OK);
  assert_non_null(r->a);
  assert_int_equal(r->watched, 0); /* connections open on first use */
  return r;
}

static inline void rig_close(rig *r) {
  r->store->ops.detach(r->a);
  assert_int_equal(r->watched, 0); /* every socket unwatched */
  mcs_store_free(r->store);
  close(r->epfd);
  free(r);
}

/* One turn of a loop: flush, wait (at most cap ms), handle events. */
static inline void rig_step(rig *r, int cap) {
  rig_flush(r);
  if (pending_of(r) == 0)
    return;
  int t = rig_timeout(r);
  assert_true(t >= 0); /* something is pending: a deadline exists */
  struct epoll_event ev[16];
  int n = epoll_wait(r->epfd, ev, 16, t > cap ? cap : t);
  for (int i = 0; i < n; i++) {
    uint32_t e = ev[i].events, got = 0;
    int k = 0;
    while (k < WATCH_MAX && (r->fds[k] < 0 || r->tags[k] != ev[i].data.ptr))
      k++;
    assert_true(k < WATCH_MAX); /* a tag the engine watches */
    if (e & EPOLLIN)
      got |= MCS_STORE_IO_READ;
    if (e & EPOLLOUT)
      got |= MCS_STORE_IO_WRITE;
    if (e & (EPOLLERR | EPOLLHUP))
      got |= MCS_STORE_IO_ERROR;
    r->store->ops.event(r->a, ev[i].data.ptr, got);
  }
}

/* Drives the engine as a loop would until nothing is pending. */
static inline void rig_run(rig *r) {
  int64_t end = mcs__mc_now_ms() + BOUND_MS;
  while (pending_of(r) > 0) {
    if (mcs__mc_now_ms() > end)
      fail_msg("%zu operations still pending", pending_of(r));
    rig_step(r, 50);
  }
  rig_flush(r); /* nothing left: must do nothing */
}

static inline uint64_t stat_of(const mc_node *n, const char *name) {
  uint64_t v = 0;
  assert_int_equal(mc_node_stat(n, name, &v), 0);
  return v;
}

/* Connections a node accepted; reading it costs one more. */
static inline uint64_t conns_of(const mc_node *n) {
  return stat_of(n, "total_connections");
}

/* ---- Test operations ---- */

typedef struct top {
  mcs_store_op op;
  mcs_store_value val;
  char key[32], data[32];
  int calls, order;
} top;

static int seq; /* completion order */

static inline void top_done(mcs_store_op *op) {
  top *t = op->ctx;
  t->calls++;
  t->order = seq++;
}

static inline void top_init(top *t, mcs_store_op_kind kind, const char *key,
                            const char *data, uint32_t ttl, uint64_t cas) {
  mcs__buf_free(&t->val.buf);
  memset(t, 0, sizeof *t);
  snprintf(t->key, sizeof t->key, "%s", key);
  snprintf(t->data, sizeof t->data, "%s", data ? data : "");
  t->val.max_len = 1000;
  t->op.kind = kind;
  t->op.key = t->key;
  t->op.key_len = strlen(t->key);
  t->op.data = t->data;
  t->op.len = strlen(t->data);
  t->op.ttl = ttl;
  t->op.cas = cas;
  t->op.flags = 7;
  t->op.value = kind == MCS_STORE_OP_GET ? &t->val : NULL;
  t->op.done = top_done;
  t->op.ctx = t;
}

/* Submits; done must not run inside the submit. */
static inline void submit(rig *r, top *t) {
  rig_submit(r, &t->op);
  assert_int_equal(t->calls, 0);
}

/* Runs one operation to completion. Returns its rc. */
static inline int run1(rig *r, top *t) {
  submit(r, t);
  rig_run(r);
  assert_int_equal(t->calls, 1);
  return t->op.rc;
}

static inline int op1(rig *r, mcs_store_op_kind kind, const char *key,
                      const char *data, uint32_t ttl, uint64_t cas, top *t) {
  top_init(t, kind, key, data, ttl, cas);
  return run1(r, t);
}

/* Asserts a hit holding `want`. */
static inline void assert_value(const top *t, const char *want) {
  assert_int_equal(t->op.rc, MCS_OK);
  assert_int_equal(t->op.result, MCS_STORE_HIT);
  assert_int_equal(t->val.buf.len, strlen(want));
  assert_memory_equal(t->val.buf.data, want, strlen(want));
  assert_true(t->op.out_cas != 0);
}

static inline void top_free(top *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    mcs__buf_free(&t[i].val.buf);
}

/* Remaining TTL of key on a node (`mg <key> t`), -2 on a miss. */
static inline long ttl_on(const mc_node *n, const char *key) {
  char req[64], reply[64];
  long t = -2;
  snprintf(req, sizeof req, "mg %s t\r\n", key);
  assert_int_equal(mc_node_raw(n, req, "\r\n", reply, sizeof reply), 0);
  if (strcmp(reply, "EN\r\n") != 0)
    assert_int_equal(sscanf(reply, "HD t%ld", &t), 1);
  return t;
}

static inline int setup(void **state) {
  (void)state;
  for (int i = 0; i < NODES; i++) {
    if (!node[i].pid &&
        (node[i].port ? mc_node_restart(&node[i]) : mc_node_start(&node[i])))
      return -1;
    if ((node[i].paused && mc_node_resume(&node[i])) || mc_node_flush(&node[i]))
      return -1;
  }
  seq = 0;
  return 0;
}

#endif /* MCS_MC_ASYNC_RIG_H */
