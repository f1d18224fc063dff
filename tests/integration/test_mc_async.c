/*
 * The memcached store's engine (src/store/memcached/mc_async.c), reached
 * only through the store's table (attach ... event; the contract is in
 * include/mcsession/store.h)
 * against real memcached servers, driven directly: an epoll fd, submits,
 * then flush / epoll_wait / event until every operation is done. Covers
 * every operation and result, pipelining (one connection, replies in
 * order), expiry sliding, the ring over three servers, and the failure
 * paths: a refused port (fail fast for retry_s), a stopped server
 * (deadline), a restarted server (reads re-sent once, writes failed),
 * callbacks that submit, and requests refused before the network. Every
 * wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
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
static mc_node *all[NODES] = {&node[0], &node[1], &node[2]};

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

static int slot_of(rig *r, int fd) {
  for (int i = 0; i < WATCH_MAX; i++)
    if (r->fds[i] == fd)
      return i;
  return -1;
}

static uint32_t to_epoll(uint32_t ev) {
  return (ev & MCS_STORE_IO_READ ? (uint32_t)EPOLLIN : 0u) |
         (ev & MCS_STORE_IO_WRITE ? (uint32_t)EPOLLOUT : 0u);
}

static int rig_ctl(rig *r, int op, int fd, uint32_t events, void *tag) {
  struct epoll_event ev = {.events = to_epoll(events), .data.ptr = tag};
  assert_non_null(tag);
  return epoll_ctl(r->epfd, op, fd, &ev) == 0 ? MCS_OK : MCS_EIO;
}

static int rig_watch(void *ctx, int fd, uint32_t events, void *tag) {
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

static int rig_modify(void *ctx, int fd, uint32_t events, void *tag) {
  rig *r = ctx;
  int i = slot_of(r, fd);
  assert_true(i >= 0);
  r->tags[i] = tag;
  return rig_ctl(r, EPOLL_CTL_MOD, fd, events, tag);
}

static void rig_unwatch(void *ctx, int fd) {
  rig *r = ctx;
  int i = slot_of(r, fd);
  assert_true(i >= 0);
  r->fds[i] = -1;
  r->watched--;
  (void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static size_t pending_of(const rig *r) {
  return mcs__mc_async_pending((const mcs__mc_async *)r->a);
}

static void rig_flush(rig *r) { r->store->ops.flush(r->a); }

static int rig_timeout(rig *r) { return r->store->ops.timeout(r->a); }

static void rig_submit(rig *r, mcs_store_op *op) {
  r->store->ops.submit(r->a, op);
}

static rig *rig_open(mc_node *const *nodes, size_t n, const char *params) {
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

static void rig_close(rig *r) {
  r->store->ops.detach(r->a);
  assert_int_equal(r->watched, 0); /* every socket unwatched */
  mcs_store_free(r->store);
  close(r->epfd);
  free(r);
}

/* One turn of a loop: flush, wait (at most cap ms), handle events. */
static void rig_step(rig *r, int cap) {
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
static void rig_run(rig *r) {
  int64_t end = mcs__mc_now_ms() + BOUND_MS;
  while (pending_of(r) > 0) {
    if (mcs__mc_now_ms() > end)
      fail_msg("%zu operations still pending", pending_of(r));
    rig_step(r, 50);
  }
  rig_flush(r); /* nothing left: must do nothing */
}

static uint64_t stat_of(const mc_node *n, const char *name) {
  uint64_t v = 0;
  assert_int_equal(mc_node_stat(n, name, &v), 0);
  return v;
}

/* Connections a node accepted; reading it costs one more. */
static uint64_t conns_of(const mc_node *n) {
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

static void top_done(mcs_store_op *op) {
  top *t = op->ctx;
  t->calls++;
  t->order = seq++;
}

static void top_init(top *t, mcs_store_op_kind kind, const char *key,
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
static void submit(rig *r, top *t) {
  rig_submit(r, &t->op);
  assert_int_equal(t->calls, 0);
}

/* Runs one operation to completion. Returns its rc. */
static int run1(rig *r, top *t) {
  submit(r, t);
  rig_run(r);
  assert_int_equal(t->calls, 1);
  return t->op.rc;
}

static int op1(rig *r, mcs_store_op_kind kind, const char *key,
               const char *data, uint32_t ttl, uint64_t cas, top *t) {
  top_init(t, kind, key, data, ttl, cas);
  return run1(r, t);
}

/* Asserts a hit holding `want`. */
static void assert_value(const top *t, const char *want) {
  assert_int_equal(t->op.rc, MCS_OK);
  assert_int_equal(t->op.result, MCS_STORE_HIT);
  assert_int_equal(t->val.buf.len, strlen(want));
  assert_memory_equal(t->val.buf.data, want, strlen(want));
  assert_true(t->op.out_cas != 0);
}

static void top_free(top *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    mcs__buf_free(&t[i].val.buf);
}

/* Remaining TTL of key on a node (`mg <key> t`), -2 on a miss. */
static long ttl_on(const mc_node *n, const char *key) {
  char req[64], reply[64];
  long t = -2;
  snprintf(req, sizeof req, "mg %s t\r\n", key);
  assert_int_equal(mc_node_raw(n, req, "\r\n", reply, sizeof reply), 0);
  if (strcmp(reply, "EN\r\n") != 0)
    assert_int_equal(sscanf(reply, "HD t%ld", &t), 1);
  return t;
}

static int setup(void **state) {
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

/* ======================================================================== */
/* Results                                                                  */
/* ======================================================================== */

static void test_every_op_result_value_and_cas_token(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, SLOW);
  top t = {0};
  assert_int_equal(rig_timeout(r), -1); /* nothing in flight */
  assert_int_equal(op1(r, MCS_STORE_OP_GET, "k", NULL, 0, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_MISS);
  assert_int_equal(op1(r, MCS_STORE_OP_ADD, "k", "v1", 60, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_STORED);
  uint64_t c1 = t.op.out_cas;
  assert_true(c1 != 0);
  assert_int_equal(op1(r, MCS_STORE_OP_ADD, "k", "other", 60, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_EXISTS);
  op1(r, MCS_STORE_OP_GET, "k", NULL, 0, 0, &t);
  assert_value(&t, "v1");
  assert_true(t.op.out_cas == c1 && t.op.out_flags == 7);
  assert_int_equal(op1(r, MCS_STORE_OP_CAS, "k", "v2", 60, c1, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_STORED);
  uint64_t c2 = t.op.out_cas;
  assert_true(c2 != 0 && c2 != c1);
  assert_int_equal(op1(r, MCS_STORE_OP_CAS, "k", "v3", 60, c1, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_EXISTS); /* stale token */
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "k", "v4", 60, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_STORED);
  op1(r, MCS_STORE_OP_GET, "k", NULL, 0, 0, &t);
  assert_value(&t, "v4");
  uint64_t c4 = t.op.out_cas;
  assert_int_equal(op1(r, MCS_STORE_OP_TOUCH, "k", NULL, 100, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_TOUCHED);
  op1(r, MCS_STORE_OP_GET, "k", NULL, 0, 0, &t);
  assert_true(t.op.out_cas == c4); /* a touch keeps the token */
  assert_int_equal(op1(r, MCS_STORE_OP_TOUCH, "nope", NULL, 100, 0, &t),
                   MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_MISS);
  assert_int_equal(op1(r, MCS_STORE_OP_DELETE, "k", NULL, 0, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_DELETED);
  assert_int_equal(op1(r, MCS_STORE_OP_DELETE, "k", NULL, 0, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_MISS);
  assert_int_equal(op1(r, MCS_STORE_OP_CAS, "k", "v5", 60, c4, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_MISS); /* deleted key */
  assert_int_equal(op1(r, MCS_STORE_OP_GET, "k", NULL, 0, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_MISS);
  assert_int_equal(pending_of(r), 0);
  top_free(&t, 1);
  rig_close(r);
}

/* One batch, dependent operations: memcached applies them in order. */
static void test_mixed_batch_completes_in_order(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, SLOW);
  top t[6] = {0};
  top_init(&t[0], MCS_STORE_OP_ADD, "m", "a", 60, 0);
  top_init(&t[1], MCS_STORE_OP_ADD, "m", "b", 60, 0);
  top_init(&t[2], MCS_STORE_OP_GET, "m", NULL, 0, 0);
  top_init(&t[3], MCS_STORE_OP_SET, "m", "c", 60, 0);
  top_init(&t[4], MCS_STORE_OP_DELETE, "m", NULL, 0, 0);
  top_init(&t[5], MCS_STORE_OP_GET, "m", NULL, 0, 0);
  for (int i = 0; i < 6; i++)
    submit(r, &t[i]);
  assert_int_equal(pending_of(r), 6);
  assert_int_equal(rig_timeout(r), 0); /* bytes to send */
  rig_run(r);
  const mcs_store_result want[] = {MCS_STORE_STORED,  MCS_STORE_EXISTS,
                                   MCS_STORE_HIT,     MCS_STORE_STORED,
                                   MCS_STORE_DELETED, MCS_STORE_MISS};
  for (int i = 0; i < 6; i++) {
    assert_int_equal(t[i].calls, 1);
    assert_int_equal(t[i].order, i);
    assert_int_equal(t[i].op.rc, MCS_OK);
    assert_int_equal(t[i].op.result, want[i]);
  }
  assert_value(&t[2], "a");
  top_free(t, 6);
  rig_close(r);
}

/* 200 reads in one batch: one connection, 200 mg served, replies matched
 * to their requests in order. */
static void test_200_gets_pipelined_on_one_connection(void **state) {
  (void)state;
  enum { N = 200 };
  static top t[N];
  uint64_t conns0 = conns_of(&node[0]);
  rig *r = rig_open(all, 1, SLOW);
  for (int i = 0; i < N; i++) {
    char key[16], val[16];
    snprintf(key, sizeof key, "p%d", i);
    snprintf(val, sizeof val, "value-%d", i * 7);
    top_init(&t[i], MCS_STORE_OP_SET, key, val, 60, 0);
    submit(r, &t[i]);
  }
  rig_run(r);
  for (int i = 0; i < N; i++)
    assert_int_equal(t[i].op.result, MCS_STORE_STORED);
  uint64_t gets0 = stat_of(&node[0], "cmd_get");
  seq = 0;
  for (int i = 0; i < N; i++) {
    char key[16];
    snprintf(key, sizeof key, "p%d", i);
    top_init(&t[i], MCS_STORE_OP_GET, key, NULL, 0, 0);
    submit(r, &t[i]);
  }
  rig_run(r);
  assert_int_equal(stat_of(&node[0], "cmd_get") - gets0, N);
  for (int i = 0; i < N; i++) {
    char val[16];
    snprintf(val, sizeof val, "value-%d", i * 7);
    assert_int_equal(t[i].order, i);
    assert_value(&t[i], val);
  }
  /* One engine connection, plus the 3 stats reads since conns0. */
  assert_int_equal(conns_of(&node[0]) - conns0, 1 + 3);
  top_free(t, N);
  rig_close(r);
}

static void test_get_with_ttl_slides_the_expiry(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, SLOW);
  top t = {0};
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "s", "x", 100, 0, &t), MCS_OK);
  op1(r, MCS_STORE_OP_GET, "s", NULL, 0, 0, &t); /* ttl 0: no slide */
  assert_value(&t, "x");
  long left = ttl_on(&node[0], "s");
  assert_true(left > 90 && left <= 100);
  op1(r, MCS_STORE_OP_GET, "s", NULL, 5000, 0, &t);
  assert_value(&t, "x");
  left = ttl_on(&node[0], "s");
  assert_true(left > 4990 && left <= 5000);
  top_free(&t, 1);
  rig_close(r);
}

/* Keys spread over three servers by the store's ring: each is written to
 * and read from its owner only, over one connection per server. */
static void test_three_servers_each_key_on_its_owner(void **state) {
  (void)state;
  enum { N = 60 };
  static top t[N];
  rig *r = rig_open(all, NODES, SLOW);
  for (int i = 0; i < N; i++) {
    char key[16];
    snprintf(key, sizeof key, "ring%d", i);
    top_init(&t[i], MCS_STORE_OP_SET, key, key, 60, 0);
    submit(r, &t[i]);
  }
  rig_run(r);
  size_t per[NODES] = {0};
  for (int i = 0; i < N; i++) {
    assert_int_equal(t[i].op.result, MCS_STORE_STORED);
    size_t owner = mt_owner(r->store, t[i].key);
    per[owner]++;
    for (size_t s = 0; s < NODES; s++)
      assert_int_equal(ttl_on(&node[s], t[i].key) != -2, s == owner);
  }
  for (size_t s = 0; s < NODES; s++)
    assert_true(per[s] > 0); /* 60 keys reach every server */
  for (int i = 0; i < N; i++) {
    char key[16];
    snprintf(key, sizeof key, "ring%d", i);
    top_init(&t[i], MCS_STORE_OP_GET, key, NULL, 0, 0);
    submit(r, &t[i]);
  }
  rig_run(r);
  for (int i = 0; i < N; i++)
    assert_value(&t[i], t[i].key);
  top_free(t, N);
  rig_close(r);
}

/* ======================================================================== */
/* Failures                                                                 */
/* ======================================================================== */

/* Nothing listening: MCS_ESTORE at once; for retry_s the engine does not
 * even try (a memcached started on the port sees no connection), then it
 * probes again and succeeds. */
static void test_refused_server_fails_fast_for_retry_s(void **state) {
  (void)state;
  mc_node late = {0, mc_free_port(), false};
  mc_node *lp = &late;
  assert_true(late.port != 0);
  rig *r = rig_open(&lp, 1, "retry_s=1&connect_timeout_ms=200");
  top t = {0};
  int64_t t0 = mcs__mc_now_ms();
  assert_int_equal(op1(r, MCS_STORE_OP_GET, "k", NULL, 0, 0, &t), MCS_ESTORE);
  assert_true(mcs__mc_now_ms() - t0 < 150);
  assert_int_equal(mc_node_restart(&late), 0); /* now it would answer */
  /* memcached counts a connection when a worker thread takes it: let it
   * take the harness's readiness probe before counting. */
  mt_sleep_ms(50);
  uint64_t c0 = conns_of(&late);
  t0 = mcs__mc_now_ms();
  top_init(&t, MCS_STORE_OP_SET, "k", "v", 60, 0);
  submit(r, &t);
  assert_int_equal(rig_timeout(r), 0); /* a done is due */
  rig_run(r);
  assert_int_equal(t.op.rc, MCS_ESTORE);
  assert_true(mcs__mc_now_ms() - t0 < 50);
  assert_int_equal(conns_of(&late) - c0, 1); /* only the stats read */
  mt_sleep_ms(1100);
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "k", "v", 60, 0, &t), MCS_OK);
  assert_int_equal(t.op.result, MCS_STORE_STORED);
  top_free(&t, 1);
  rig_close(r);
  mc_node_stop(&late);
}

/* A stopped server: MCS_ETIMEDOUT within io_timeout_ms; the server is
 * then skipped; after SIGCONT and retry_s a fresh connection is used (the
 * timed-out stream, whose late reply is still coming, never is). */
static void test_stopped_server_times_out_and_stream_is_dropped(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, "io_timeout_ms=200&retry_s=1");
  top t = {0}, u = {0};
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "z", "v", 60, 0, &t), MCS_OK);
  assert_int_equal(mc_node_pause(&node[0]), 0);
  int64_t t0 = mcs__mc_now_ms();
  top_init(&t, MCS_STORE_OP_GET, "z", NULL, 0, 0);
  top_init(&u, MCS_STORE_OP_GET, "z", NULL, 0, 0);
  submit(r, &t);
  submit(r, &u);
  rig_run(r);
  int64_t took = mcs__mc_now_ms() - t0;
  assert_int_equal(mc_node_resume(&node[0]), 0);
  assert_int_equal(t.op.rc, MCS_ETIMEDOUT);
  assert_int_equal(u.op.rc, MCS_ETIMEDOUT);
  if (took < 195 || took > 600)
    fail_msg("timed out after %ld ms, want about 200", (long)took);
  t0 = mcs__mc_now_ms();
  assert_int_equal(op1(r, MCS_STORE_OP_GET, "z", NULL, 0, 0, &t), MCS_ESTORE);
  assert_true(mcs__mc_now_ms() - t0 < 50); /* marked down: no waiting */
  mt_sleep_ms(1100);
  uint64_t c0 = conns_of(&node[0]);
  op1(r, MCS_STORE_OP_GET, "z", NULL, 0, 0, &t);
  assert_value(&t, "v");
  assert_int_equal(conns_of(&node[0]) - c0, 1 + 1); /* a fresh one */
  top_free(&t, 1);
  top_free(&u, 1);
  rig_close(r);
}

/* A loop that handles its events late (a descheduled thread) does not
 * time out answers already waiting in the socket. */
static void test_late_loop_reads_before_timing_out(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, "io_timeout_ms=200&retry_s=1");
  top t = {0};
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "late", "v", 60, 0, &t), MCS_OK);
  top_init(&t, MCS_STORE_OP_GET, "late", NULL, 0, 0);
  submit(r, &t);
  rig_flush(r);     /* connected already: sent now */
  mt_sleep_ms(300); /* past the deadline, no event handled */
  rig_flush(r);
  assert_int_equal(t.calls, 1);
  assert_value(&t, "v");
  top_free(&t, 1);
  rig_close(r);
}

/* Killed and restarted between batches: the idle connection is dead. The
 * reads of the next batch are sent again on a fresh connection and
 * answered; the writes fail with MCS_ESTORE (no hang), and the server is
 * not marked down for it. */
static void test_restarted_server_reads_resent_writes_fail(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, "io_timeout_ms=1000&retry_s=5");
  top t[4] = {0};
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "a", "1", 60, 0, &t[0]), MCS_OK);
  mcs_memcached_stats st0 = stats_of(r->store);
  mc_node_kill(&node[0]);
  assert_int_equal(mc_node_restart(&node[0]), 0);
  top_init(&t[0], MCS_STORE_OP_GET, "a", NULL, 0, 0);
  top_init(&t[1], MCS_STORE_OP_SET, "b", "2", 60, 0);
  top_init(&t[2], MCS_STORE_OP_TOUCH, "a", NULL, 60, 0);
  top_init(&t[3], MCS_STORE_OP_GET, "b", NULL, 0, 0);
  int64_t t0 = mcs__mc_now_ms();
  for (int i = 0; i < 4; i++)
    submit(r, &t[i]);
  rig_run(r);
  assert_true(mcs__mc_now_ms() - t0 < 500);
  assert_int_equal(t[0].op.rc, MCS_OK);
  assert_int_equal(t[0].op.result, MCS_STORE_MISS); /* a new, empty server */
  assert_int_equal(t[1].op.rc, MCS_ESTORE);
  assert_int_equal(t[2].op.rc, MCS_OK);
  assert_int_equal(t[2].op.result, MCS_STORE_MISS);
  assert_int_equal(t[3].op.rc, MCS_OK);
  assert_int_equal(t[3].op.result, MCS_STORE_MISS); /* b was not written */
  assert_int_equal(stats_of(r->store).retries - st0.retries, 3);
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "b", "2", 60, 0, &t[1]), MCS_OK);
  op1(r, MCS_STORE_OP_GET, "b", NULL, 0, 0, &t[1]);
  assert_value(&t[1], "2");
  top_free(t, 4);
  rig_close(r);
}

/* A batch far larger than the socket buffers: flush sends what the
 * kernel takes, the rest goes out on EPOLLOUT; large replies arrive over
 * many reads. */
static void test_large_batch_goes_out_through_epollout(void **state) {
  (void)state;
  enum { N = 16, LEN = 512 * 1024 };
  static char vals[N][LEN];
  static top t[N];
  rig *r = rig_open(all, 1, SLOW);
  for (int i = 0; i < N; i++) {
    memset(vals[i], 'a' + i, LEN);
    char key[16];
    snprintf(key, sizeof key, "big%d", i);
    top_init(&t[i], MCS_STORE_OP_SET, key, NULL, 60, 0);
    t[i].op.data = vals[i];
    t[i].op.len = LEN;
    submit(r, &t[i]);
  }
  rig_run(r);
  for (int i = 0; i < N; i++)
    assert_int_equal(t[i].op.result, MCS_STORE_STORED);
  for (int i = 0; i < N; i++) {
    char key[16];
    snprintf(key, sizeof key, "big%d", i);
    top_init(&t[i], MCS_STORE_OP_GET, key, NULL, 0, 0);
    t[i].val.max_len = LEN;
    submit(r, &t[i]);
  }
  rig_run(r);
  for (int i = 0; i < N; i++) {
    assert_int_equal(t[i].op.rc, MCS_OK);
    assert_int_equal(t[i].op.result, MCS_STORE_HIT);
    assert_int_equal(t[i].val.buf.len, LEN);
    assert_memory_equal(t[i].val.buf.data, vals[i], LEN);
  }
  top_free(t, N);
  rig_close(r);
}

/* A listening socket on 127.0.0.1 that the test answers by hand. */
static int fake_listen(uint16_t *port) {
  struct sockaddr_in sa = {0};
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 8), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* Turns the engine until `fd` is readable (bounded), then accepts or
 * reads from it. */
static void step_until_readable(rig *r, int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  for (int i = 0; i < 200 && poll(&p, 1, 0) == 0; i++)
    rig_step(r, 10);
  assert_int_equal(poll(&p, 1, 0), 1);
}

/* Reads exactly strlen(want) bytes from fd and compares. */
static void expect_wire(rig *r, int fd, const char *want) {
  char got[256];
  size_t len = 0, n = strlen(want);
  while (len < n) {
    step_until_readable(r, fd);
    ssize_t k = recv(fd, got + len, n - len, 0);
    assert_true(k > 0);
    len += (size_t)k;
  }
  assert_memory_equal(got, want, n);
}

/* The exact requests on the wire (each with the connection's next
 * opaque), and a reply the codec refuses: every operation of the stream
 * fails with MCS_EPROTO, the connection is closed and the server is not
 * marked down (the next request reconnects). */
static void test_wire_format_and_malformed_reply(void **state) {
  (void)state;
  uint16_t port;
  int lfd = fake_listen(&port);
  mc_node fake = {0, port, false};
  mc_node *fp = &fake;
  rig *r = rig_open(&fp, 1, "io_timeout_ms=2000&retry_s=60");
  top t[3] = {0};
  top_init(&t[0], MCS_STORE_OP_GET, "a", NULL, 30, 0);
  top_init(&t[1], MCS_STORE_OP_ADD, "b", "xy", 40, 0);
  top_init(&t[2], MCS_STORE_OP_TOUCH, "c", NULL, 50, 0);
  for (int i = 0; i < 3; i++)
    submit(r, &t[i]);
  step_until_readable(r, lfd);
  int cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  expect_wire(r, cfd,
              "mg a v c f T30 O0\r\nms b 2 T40 F7 ME c O1\r\nxy\r\n"
              "mg c T50 O2\r\n");
  assert_int_equal(send(cfd, "XX junk\r\n", 9, MSG_NOSIGNAL), 9);
  rig_run(r);
  for (int i = 0; i < 3; i++)
    assert_int_equal(t[i].op.rc, MCS_EPROTO);
  char c;
  assert_int_equal(recv(cfd, &c, 1, 0), 0); /* the engine closed it */
  close(cfd);
  top_init(&t[0], MCS_STORE_OP_DELETE, "d", NULL, 0, 0);
  submit(r, &t[0]);
  step_until_readable(r, lfd); /* not marked down: a new connection */
  cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  expect_wire(r, cfd, "md d O3\r\n");
  assert_int_equal(send(cfd, "NF O3\r\n", 7, MSG_NOSIGNAL), 7);
  rig_run(r);
  assert_int_equal(t[0].op.rc, MCS_OK);
  assert_int_equal(t[0].op.result, MCS_STORE_MISS);
  close(cfd);
  close(lfd);
  top_free(t, 3);
  rig_close(r);
}

/* Reads n request lines (no data blocks) from fd; tok[i] gets the
 * opaque of line i as memcached echoes it (" O<token>"), or "". */
static void read_opaques(rig *r, int fd, int n, char tok[][24]) {
  char buf[1024];
  size_t len = 0;
  int lines = 0;
  while (lines < n) {
    assert_true(len < sizeof buf - 1);
    step_until_readable(r, fd);
    ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    assert_true(k > 0);
    len += (size_t)k;
    buf[len] = '\0';
    lines = 0;
    for (char *p = buf; (p = strstr(p, "\r\n")) != NULL; p += 2)
      lines++;
  }
  char *line = buf;
  for (int i = 0; i < n; i++) {
    char *eol = strstr(line, "\r\n"), *o;
    *eol = '\0';
    o = strstr(line, " O");
    int w = o ? (int)strcspn(o + 1, " ") + 1 : 0;
    snprintf(tok[i], sizeof tok[i], "%.*s", w, o ? o : "");
    line = eol + 2;
  }
}

/* Security issue 12, item 4: a reply that comes twice (a buggy proxy, a
 * hostile server) must not shift the pipelined replies onto the other
 * keys. a's reply is duplicated: matched by position alone, b would get
 * a's value and c b's. The echoed opaque tells them apart: a completes,
 * the stream is out of step from there, so b and c fail with MCS_EPROTO
 * and the connection is closed. */
static void test_duplicated_reply_never_answers_another_key(void **state) {
  (void)state;
  uint16_t port;
  int lfd = fake_listen(&port);
  mc_node fake = {0, port, false};
  mc_node *fp = &fake;
  rig *r = rig_open(&fp, 1, "io_timeout_ms=2000&retry_s=60");
  top t[3] = {0};
  const char *keys[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    top_init(&t[i], MCS_STORE_OP_GET, keys[i], NULL, 0, 0);
    submit(r, &t[i]);
  }
  step_until_readable(r, lfd);
  int cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  char tok[3][24], out[512];
  read_opaques(r, cfd, 3, tok);
  snprintf(out, sizeof out,
           "VA 3 c1 f0%s\r\nv-a\r\nVA 3 c1 f0%s\r\nv-a\r\n"
           "VA 3 c2 f0%s\r\nv-b\r\nVA 3 c3 f0%s\r\nv-c\r\n",
           tok[0], tok[0], tok[1], tok[2]);
  assert_int_equal(send(cfd, out, strlen(out), MSG_NOSIGNAL),
                   (ssize_t)strlen(out));
  rig_run(r);
  assert_value(&t[0], "v-a");
  for (int i = 1; i < 3; i++) {
    if (t[i].op.rc == MCS_OK && t[i].op.result == MCS_STORE_HIT)
      fail_msg("%s's read was handed '%.*s'", keys[i], (int)t[i].val.buf.len,
               (const char *)t[i].val.buf.data);
    assert_int_equal(t[i].op.rc, MCS_EPROTO);
  }
  char c;
  assert_int_equal(recv(cfd, &c, 1, 0), 0); /* the engine closed it */
  close(cfd);
  close(lfd);
  top_free(t, 3);
  rig_close(r);
}

/* Operations in flight when the engine is freed complete with ESTORE. */
static void test_free_fails_what_is_in_flight(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, SLOW);
  top t = {0};
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "f", "v", 60, 0, &t), MCS_OK);
  top_init(&t, MCS_STORE_OP_GET, "f", NULL, 0, 0);
  submit(r, &t);
  rig_flush(r); /* sent, reply not read */
  r->store->ops.detach(r->a);
  r->a = NULL;
  assert_int_equal(t.calls, 1);
  assert_int_equal(t.op.rc, MCS_ESTORE);
  top_free(&t, 1);
  rig_close(r);
}

/* ======================================================================== */
/* Callbacks and refusals                                                   */
/* ======================================================================== */

typedef struct chain {
  rig *r;
  top step[4];
  int next;
} chain;

/* Each step's done submits the next: set, get, invalid key, del. */
static void chain_done(mcs_store_op *op) {
  chain *c = op->ctx;
  top *t = &c->step[c->next++];
  assert_ptr_equal(op, &t->op);
  t->calls++;
  if (c->next == 4)
    return;
  top *n = &c->step[c->next];
  n->op.ctx = c;
  n->op.done = chain_done;
  rig_submit(c->r, &n->op);
  assert_int_equal(n->calls, 0);
}

static void test_done_callbacks_may_submit(void **state) {
  (void)state;
  rig *r = rig_open(all, 1, SLOW);
  static chain c;
  memset(&c, 0, sizeof c);
  c.r = r;
  top_init(&c.step[0], MCS_STORE_OP_SET, "chain", "linked", 60, 0);
  top_init(&c.step[1], MCS_STORE_OP_GET, "chain", NULL, 0, 0);
  top_init(&c.step[2], MCS_STORE_OP_GET, "bad key", NULL, 0, 0);
  top_init(&c.step[3], MCS_STORE_OP_DELETE, "chain", NULL, 0, 0);
  c.step[0].op.ctx = &c;
  c.step[0].op.done = chain_done;
  rig_submit(r, &c.step[0].op);
  rig_run(r);
  assert_int_equal(c.next, 4);
  assert_int_equal(c.step[0].op.result, MCS_STORE_STORED);
  assert_value(&c.step[1], "linked");
  assert_int_equal(c.step[2].op.rc, MCS_EINVAL);
  assert_int_equal(c.step[3].op.rc, MCS_OK);
  assert_int_equal(c.step[3].op.result, MCS_STORE_DELETED);
  top_free(c.step, 4);
  rig_close(r);
}

/* Bad keys and over-large values never reach the network: no connection
 * is even opened. */
static void test_refused_requests_never_reach_the_network(void **state) {
  (void)state;
  static char big[MCS_MEMCACHED_ITEM_MAX];
  static char long_key[MCS_STORE_KEY_MAX + 2];
  memset(long_key, 'k', MCS_STORE_KEY_MAX + 1);
  uint64_t c0 = conns_of(&node[0]);
  rig *r = rig_open(all, 1, SLOW);
  top t[4] = {0};
  top_init(&t[0], MCS_STORE_OP_GET, "a b", NULL, 0, 0);
  top_init(&t[1], MCS_STORE_OP_DELETE, "x\r\nmd y", NULL, 0, 0);
  top_init(&t[2], MCS_STORE_OP_SET, "big", NULL, 60, 0);
  t[2].op.data = big;
  t[2].op.len = sizeof big;
  top_init(&t[3], MCS_STORE_OP_GET, "", NULL, 0, 0);
  t[3].op.key = long_key;
  t[3].op.key_len = MCS_STORE_KEY_MAX + 1;
  for (int i = 0; i < 4; i++)
    submit(r, &t[i]);
  assert_int_equal(pending_of(r), 4);
  rig_flush(r);
  assert_int_equal(pending_of(r), 0);
  const int want[] = {MCS_EINVAL, MCS_EINVAL, MCS_ETOOBIG, MCS_EINVAL};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(t[i].calls, 1);
    assert_int_equal(t[i].op.rc, want[i]);
  }
  assert_int_equal(conns_of(&node[0]) - c0, 1); /* the stats read only */
  top_free(t, 4);
  rig_close(r);
}

/* A stored value over the reader's max_len: MCS_ETOOBIG for that read
 * alone; the reads pipelined behind it get their answers on the same
 * connection (the value is read whole, up to the item limit). */
static void test_value_over_reader_limit(void **state) {
  (void)state;
  static char big[100000];
  memset(big, 'v', sizeof big);
  rig *r = rig_open(all, 1, SLOW);
  top t[3] = {0};
  top_init(&t[0], MCS_STORE_OP_SET, "large", NULL, 60, 0);
  t[0].op.data = big;
  t[0].op.len = sizeof big;
  assert_int_equal(run1(r, &t[0]), MCS_OK);
  assert_int_equal(op1(r, MCS_STORE_OP_SET, "small", "s", 60, 0, &t[1]),
                   MCS_OK);
  uint64_t c0 = conns_of(&node[0]);
  top_init(&t[0], MCS_STORE_OP_GET, "large", NULL, 0, 0); /* max_len 1000 */
  top_init(&t[1], MCS_STORE_OP_GET, "small", NULL, 0, 0);
  top_init(&t[2], MCS_STORE_OP_GET, "large", NULL, 0, 0);
  t[2].val.max_len = sizeof big;
  for (int i = 0; i < 3; i++)
    submit(r, &t[i]);
  rig_run(r);
  assert_int_equal(t[0].op.rc, MCS_ETOOBIG);
  assert_int_equal(t[1].op.rc, MCS_OK);
  assert_value(&t[1], "s");
  assert_int_equal(t[2].op.rc, MCS_OK);
  assert_int_equal(t[2].val.buf.len, sizeof big);
  assert_memory_equal(t[2].val.buf.data, big, sizeof big);
  assert_int_equal(conns_of(&node[0]) - c0, 1); /* the stats read only */
  top_free(t, 3);
  rig_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
      T(test_every_op_result_value_and_cas_token),
      T(test_mixed_batch_completes_in_order),
      T(test_200_gets_pipelined_on_one_connection),
      T(test_get_with_ttl_slides_the_expiry),
      T(test_three_servers_each_key_on_its_owner),
      T(test_refused_server_fails_fast_for_retry_s),
      T(test_stopped_server_times_out_and_stream_is_dropped),
      T(test_late_loop_reads_before_timing_out),
      T(test_restarted_server_reads_resent_writes_fail),
      T(test_large_batch_goes_out_through_epollout),
      T(test_wire_format_and_malformed_reply),
      T(test_duplicated_reply_never_answers_another_key),
      T(test_free_fails_what_is_in_flight),
      T(test_done_callbacks_may_submit),
      T(test_refused_requests_never_reach_the_network),
      T(test_value_over_reader_limit),
#undef T
  };
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not found: tests skipped\n");
    return 77;
  }
  int failed = cmocka_run_group_tests_name("mc_async", tests, NULL, NULL);
  for (int i = 0; i < NODES; i++)
    mc_node_stop(&node[i]);
  return failed;
}
