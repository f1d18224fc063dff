/*
 * Running requests on the memcached store's pooled connections: one
 * request or a batch (the replicas' writes) to the servers the ring
 * picks, each request with the connection's next opaque, which its reply
 * must echo; the retry rules are mc_store.c's header comment. Shared by
 * the plain operations (mc_store.c), the replicated ones (mc_replica.c)
 * and the pipelined engine's helpers (mc_async.c).
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "store/memcached/mc_int.h"

typedef mcs__mc_store mc_store;

static void count(_Atomic uint64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

uint32_t mcs__mc_wire_ttl(uint32_t ttl) {
  if (ttl <= MCS__MC_RELATIVE_TTL_MAX)
    return ttl;
  uint64_t abs = (uint64_t)time(NULL) + ttl;
  return abs > UINT32_MAX ? UINT32_MAX : (uint32_t)abs;
}

size_t mcs__mc_value_limit(const mcs_store_value *v) {
  if (!v || v->max_len == 0 || v->max_len > MCS_MEMCACHED_ITEM_MAX)
    return MCS_MEMCACHED_ITEM_MAX;
  return v->max_len;
}

static bool is_ms(mcs__mc_cmd cmd) {
  return cmd == MCS__MC_ADD || cmd == MCS__MC_CAS || cmd == MCS__MC_SET;
}

/* mg: nothing a second sending would change (see op_finish's retry). */
static bool is_read(const mcs__mc_op *op) {
  return op->req.cmd == MCS__MC_GET || op->req.cmd == MCS__MC_TOUCH;
}

static void count_failure(mc_store *st, int rc) {
  if (rc == MCS_ETIMEDOUT)
    count(&st->timeouts);
  else if (rc == MCS_EPROTO)
    count(&st->protocol_errors);
}

/* The op failed for good: count it; a server that failed at the socket
 * level (not one whose reply we merely refused) is skipped for retry_s. */
static void op_fail(mc_store *st, mcs__mc_op *op, int rc, bool broken) {
  op->rc = rc;
  count_failure(st, rc);
  if (broken)
    mcs__conn_pool_mark_down(st->pools[op->server]);
}

static int send_req(mcs__mc_op *op, size_t *sent) {
  const mcs__mc_req *req = &op->req;
  struct iovec iov[3] = {{op->line, op->line_len}, {NULL, 0}, {NULL, 0}};
  int cnt = 1;
  if (is_ms(req->cmd)) { /* the value goes out as is: no copy */
    iov[1] = (struct iovec){(void *)(uintptr_t)req->data, req->data_len};
    iov[2] = (struct iovec){(void *)(uintptr_t) "\r\n", 2};
    cnt = 3;
  }
  return mcs__mc_conn_sendv(op->conn, iov, cnt, op->deadline, sent);
}

/* Formats op's request line for the connection it holds, with that
 * connection's next opaque: the reply must echo it (mcs__mc_check), so a
 * duplicated or stray reply left on a pooled connection can never answer
 * this request (security issue 12). Per try: a fresh connection has its
 * own counter. */
static int format_for_conn(mcs__mc_op *op) {
  op->req.has_opaque = true;
  op->req.opaque = mcs__mc_conn_next_opaque(op->conn);
  return mcs__mc_format_line(&op->req, op->line, sizeof op->line,
                             &op->line_len);
}

/* Takes a connection and sends the request. On success op->conn is set
 * and the reply is awaited by op_finish. A send that failed before the
 * kernel took a byte, on a pooled connection the server had closed, is
 * repeated once on a fresh connection: nothing can have been applied. */
static void op_start(mc_store *st, mcs__mc_op *op) {
  mcs__conn_pool *pool = st->pools[op->server];
  for (;;) {
    int64_t wait = mcs__mc_now_ms() + st->cfg.io_timeout_ms;
    void *conn = NULL;
    int rc = mcs__conn_pool_acquire(pool, wait, op->tries > 0, !is_read(op),
                                    &conn);
    op->conn = conn;
    if (rc) {
      op->rc = rc; /* the pool marked the server down if it must */
      return;
    }
    if ((rc = format_for_conn(op)) != MCS_OK) { /* mcs__mc_exec checked */
      mcs__conn_pool_release(pool, op->conn, false);
      op->conn = NULL;
      op->rc = rc;
      return;
    }
    size_t sent = 0;
    op->reused = mcs__mc_conn_reused(op->conn);
    op->deadline = mcs__mc_now_ms() + st->cfg.io_timeout_ms;
    count(&st->requests);
    if ((rc = send_req(op, &sent)) == MCS_OK)
      return;
    bool retry = op->reused && sent == 0 && rc == MCS_ESTORE;
    mcs__conn_pool_release(pool, op->conn, false);
    op->conn = NULL;
    if (!retry || op->tries++ > 0) {
      op_fail(st, op, retry ? MCS_ESTORE : rc, true);
      return;
    }
    count(&st->retries);
  }
}

/* Reads and checks the reply; copies a value out; gives the connection
 * back (kept only after a clean, complete exchange). Returns true when
 * the op must be run again on a fresh connection: a pooled connection
 * turned out closed before any reply byte, and the request was a read
 * (mg has no effect a second time would change). */
static bool op_finish(mc_store *st, mcs__mc_op *op) {
  mcs__mc_conn *c = op->conn;
  bool got = false;
  size_t limit = mcs__mc_value_limit(op->value);
  int rc = mcs__mc_conn_read(c, limit, op->deadline, &op->resp, &got);
  bool failed = mcs__mc_conn_failed(c);
  if (!failed && rc == MCS_OK)
    rc = mcs__mc_check(&op->req, &op->resp);
  if (rc == MCS_OK && op->resp.status == MCS__MC_VA && op->value)
    rc = mcs_store_value_set(op->value, op->resp.value, op->resp.value_len);
  op->resp.value = NULL; /* it pointed into the connection's buffer */
  mcs__conn_pool_release(st->pools[op->server], c, rc == MCS_OK);
  op->conn = NULL;
  op->rc = rc;
  if (!failed) {
    count_failure(st, rc);
    return false;
  }
  if (rc == MCS_ESTORE && op->reused && !got && is_read(op) &&
      op->tries == 0) {
    op->tries++;
    count(&st->retries);
    return true;
  }
  op_fail(st, op, rc, true);
  return false;
}

/* Ascending server order of ops[0..n) into order[] (n is small). */
static void server_order(const mcs__mc_op *ops, size_t n, size_t *order) {
  for (size_t i = 0; i < n; i++) {
    size_t j = i;
    for (; j > 0 && ops[order[j - 1]].server > ops[i].server; j--)
      order[j] = order[j - 1];
    order[j] = i;
  }
}

void mcs__mc_exec(mc_store *st, mcs__mc_op *ops, size_t n) {
  size_t order[MCS_MEMCACHED_REPLICAS_MAX + 1];
  if (n > sizeof order / sizeof order[0])
    n = sizeof order / sizeof order[0];
  server_order(ops, n, order);
  for (size_t k = 0; k < n; k++) {
    mcs__mc_op *op = &ops[order[k]];
    op->conn = NULL;
    op->tries = 0;
    op->rc = mcs__mc_req_check(&op->req); /* formatted per connection */
    if (op->rc == MCS_OK)
      op_start(st, op);
  }
  for (size_t i = 0; i < n; i++) {
    mcs__mc_op *op = &ops[i];
    while (op->conn && op_finish(st, op))
      op_start(st, op); /* the one repeat of a read on a fresh connection */
  }
}

int mcs__mc_roundtrip(mcs__mc_store *st, const mcs__mc_req *req,
                      mcs_store_value *value, mcs__mc_resp *resp) {
  mcs__mc_op op;
  op.server = mcs__mc_ring_pick(st->ring, req->key, req->key_len);
  op.req = *req;
  op.value = value;
  mcs__mc_exec(st, &op, 1);
  *resp = op.resp;
  return op.rc;
}


mcs_store_result mcs__mc_result(mcs__mc_cmd cmd, mcs__mc_status status) {
  switch (status) {
  case MCS__MC_VA:
    return MCS_STORE_HIT;
  case MCS__MC_HD:
    if (cmd == MCS__MC_DELETE)
      return MCS_STORE_DELETED;
    return cmd == MCS__MC_TOUCH ? MCS_STORE_TOUCHED : MCS_STORE_STORED;
  case MCS__MC_NS: /* add found the key */
  case MCS__MC_EX: /* cas: the token is out of date */
    return MCS_STORE_EXISTS;
  default: /* EN (mg), NF (md, ms with C): no such key */
    return MCS_STORE_MISS;
  }
}
