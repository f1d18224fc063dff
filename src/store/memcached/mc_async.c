/*
 * The memcached engine of an event loop: the non-blocking side of the
 * memcached store's table (contracts in include/mcsession/store.h and
 * mc_int.h), over the pipelined engines' core (store/pipe.c: one
 * non-blocking connection per server, a FIFO of operations each, one
 * write per server per turn, deadlines, failures). What is memcached's
 * here: the meta-protocol requests and the matching of replies.
 *
 * memcached answers the requests of one connection in the order it read
 * them, so every reply belongs to the FIFO's head. Position alone is not
 * trusted: each request carries an opaque from the connection's counter
 * (O<n>), and the reply must echo the head's (mcs__mc_check), so a reply
 * that comes twice cannot shift the others onto the wrong operations
 * (security issue 12). A reply the codec refuses (malformed, unfit, wrong
 * or missing echo) leaves the stream out of step: the core closes the
 * connection and fails its whole FIFO.
 */
#include <stdatomic.h>
#include <string.h>

#include "store/memcached/mc_int.h"

struct mcs__mc_async {
  mcs__pipe pipe; /* first: the engine is its pipe */
  mcs__mc_store *st;
};

static void count(_Atomic uint64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* Operations and their requests                                            */
/* ------------------------------------------------------------------------ */

/* The engine's bookkeeping in an operation's private members: scratch[0]
 * the request's opaque (scratch[1] is the core's). A connection's
 * proto[0] is its next opaque, never reset. */
static uint32_t op_opaque(const mcs_store_op *op) {
  return (uint32_t)op->scratch[0];
}

static bool is_write(mcs_store_op_kind k) {
  return k == MCS_STORE_OP_ADD || k == MCS_STORE_OP_CAS ||
         k == MCS_STORE_OP_SET;
}

/* The request an op stands for, as the blocking client builds it
 * (mc_store.c): add and cas ask for the new CAS token; every
 * request carries the opaque encode gave the op. */
static mcs__mc_req op_req(const mcs_store_op *op) {
  static const mcs__mc_cmd cmds[] = {[MCS_STORE_OP_GET] = MCS__MC_GET,
                                     [MCS_STORE_OP_ADD] = MCS__MC_ADD,
                                     [MCS_STORE_OP_CAS] = MCS__MC_CAS,
                                     [MCS_STORE_OP_SET] = MCS__MC_SET,
                                     [MCS_STORE_OP_DELETE] = MCS__MC_DELETE,
                                     [MCS_STORE_OP_TOUCH] = MCS__MC_TOUCH};
  mcs__mc_req r;
  memset(&r, 0, sizeof r);
  r.cmd = cmds[op->kind];
  r.key = op->key;
  r.key_len = op->key_len;
  r.has_opaque = true;
  r.opaque = op_opaque(op);
  if (op->kind != MCS_STORE_OP_DELETE) /* GET: T only when sliding */
    r.ttl = op->ttl ? mcs__mc_wire_ttl(op->ttl) : 0;
  if (is_write(op->kind)) {
    r.data = op->data;
    r.data_len = op->len;
    r.flags = op->flags;
    r.cas = op->cas;
    r.want_cas = op->kind != MCS_STORE_OP_SET;
  }
  return r;
}

/* What must fail before the network is involved (mc_int.h: EINVAL for a
 * key the store cannot hold, ETOOBIG for a value over the item limit). */
static int op_check(const mcs_store_op *op) {
  if (op->kind < MCS_STORE_OP_GET || op->kind > MCS_STORE_OP_TOUCH ||
      !mcs__store_key_valid(op->key, op->key_len))
    return MCS_EINVAL;
  if (is_write(op->kind) && !mcs__mc_item_fits(op->key_len, op->len))
    return MCS_ETOOBIG;
  return MCS_OK;
}

/* Fills op's result from its checked reply. MCS_OK, or what copying the
 * value gave (MCS_ENOMEM, MCS_ETOOBIG). */
static int op_result(mcs_store_op *op, mcs__mc_cmd cmd, const mcs__mc_resp *r) {
  op->result = mcs__mc_result(cmd, r->status);
  if (r->status == MCS__MC_HD && is_write(op->kind))
    op->out_cas = r->cas; /* 0 for set, which did not ask */
  if (r->status != MCS__MC_VA)
    return MCS_OK;
  op->out_cas = r->cas;
  op->out_flags = r->flags;
  return op->value ? mcs_store_value_set(op->value, r->value, r->value_len)
                   : MCS_OK;
}

/* ------------------------------------------------------------------------ */
/* The protocol's hooks (store/pipe.c)                                      */
/* ------------------------------------------------------------------------ */

static int hook_connect(void *ctx, size_t server, int *fd) {
  mcs__mc_async *a = ctx;
  return mcs__mc_connect_start(&a->st->cfg.servers[server], fd);
}

static int hook_encode(void *ctx, mcs__pipe_conn *c, mcs_store_op *op) {
  (void)ctx;
  /* Distinct for the last 2^32 requests on this connection. */
  op->scratch[0] = (uint32_t)c->proto[0];
  mcs__mc_req req = op_req(op);
  int rc = mcs__mc_format(&c->out, &req);
  if (rc == MCS_OK)
    c->proto[0] = (uint32_t)(c->proto[0] + 1);
  return rc;
}

static int hook_reply(void *ctx, mcs__pipe_conn *c, const uint8_t *buf,
                      size_t len, size_t *used) {
  mcs__mc_async *a = ctx;
  mcs_store_op *op = c->head;
  if (!op) { /* bytes nobody asked for */
    count(&a->st->protocol_errors);
    return MCS_EPROTO;
  }
  mcs__mc_req req = op_req(op);
  mcs__mc_resp resp;
  /* Values are read whole up to the item limit (which no write of ours
   * exceeds), so one over the reader's own limit fails that read alone
   * and the requests pipelined behind it keep their answers. */
  int rc = mcs__mc_parse(buf, len, MCS_MEMCACHED_ITEM_MAX, &resp, used);
  if (rc == MCS__MC_NEED_MORE)
    return MCS__PIPE_NEED_MORE;
  if (rc == MCS_OK)
    rc = mcs__mc_check(&req, &resp);
  if (rc)
    return rc;
  mcs__pipe_pop(c);
  if (resp.status == MCS__MC_VA &&
      resp.value_len > mcs__mc_value_limit(op->value))
    mcs__pipe_complete(&a->pipe, op, MCS_ETOOBIG);
  else
    mcs__pipe_complete(&a->pipe, op, op_result(op, req.cmd, &resp));
  return MCS_OK;
}

static void hook_failed(void *ctx, mcs_store_op *op, int rc) {
  mcs__mc_async *a = ctx;
  (void)op;
  if (rc == MCS_ETIMEDOUT)
    count(&a->st->timeouts);
  else if (rc == MCS_EPROTO)
    count(&a->st->protocol_errors);
}

static const mcs__pipe_hooks hooks = {.connect = hook_connect,
                                      .encode = hook_encode,
                                      .reply = hook_reply,
                                      .failed = hook_failed};

/* ------------------------------------------------------------------------ */
/* The engine                                                               */
/* ------------------------------------------------------------------------ */

int mcs__mc_async_attach(void *ud, const mcs_store_io *io, void **engine) {
  mcs__mc_store *st = ud;
  *engine = NULL;
  mcs__mc_async *a = mcs__calloc(1, sizeof *a);
  if (!a || mcs__pipe_init(&a->pipe, &hooks, a, io, st->cfg.server_count)) {
    mcs__free(a);
    return MCS_ENOMEM;
  }
  a->st = st;
  a->pipe.io_timeout_ms = st->cfg.io_timeout_ms;
  a->pipe.connect_timeout_ms = st->cfg.connect_timeout_ms;
  a->pipe.retry_s = st->cfg.retry_s;
  a->pipe.requests = &st->requests;
  a->pipe.retries = &st->retries;
  *engine = a;
  return MCS_OK;
}

void mcs__mc_async_detach(void *engine) {
  mcs__mc_async *a = engine;
  if (!a)
    return;
  mcs__pipe_fini(&a->pipe);
  mcs__free(a);
}

void mcs__mc_async_submit(void *engine, mcs_store_op *op) {
  mcs__mc_async *a = engine;
  mcs__pipe_begin(&a->pipe, op);
  int rc = op_check(op);
  if (rc) {
    mcs__pipe_complete(&a->pipe, op, rc);
    return;
  }
  size_t server = mcs__mc_ring_pick(a->st->ring, op->key, op->key_len);
  mcs__pipe_send_on(&a->pipe, &a->pipe.conns[server], op);
}

void mcs__mc_async_flush(void *engine) {
  mcs__pipe_flush(&((mcs__mc_async *)engine)->pipe);
}

void mcs__mc_async_event(void *engine, void *tag, uint32_t events) {
  mcs__pipe_event(&((mcs__mc_async *)engine)->pipe, tag, events);
}

int mcs__mc_async_timeout(void *engine) {
  return mcs__pipe_timeout(&((const mcs__mc_async *)engine)->pipe);
}

size_t mcs__mc_async_pending(const mcs__mc_async *a) {
  return a ? a->pipe.pending : 0;
}
