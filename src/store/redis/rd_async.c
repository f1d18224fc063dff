/*
 * The Redis engine of an event loop: the non-blocking side of the Redis
 * store's table (contracts in include/mcsession/store.h and rd_int.h),
 * over the pipelined engines' core (store/pipe.c: one non-blocking
 * connection per server, a FIFO of operations each, one write per server
 * per turn, deadlines, failures; "Redis pipelining" in the Redis
 * documentation). What is Redis's here: the commands, the replies, the
 * handshake, and for redis+cluster:// the routing by slot.
 *
 * Redis answers a connection's commands in the order it read them, so
 * every reply belongs to the FIFO's head. RESP has no request id to
 * echo: every reply is checked against its command's expected shape
 * (rd_ops.c), and a reply that is malformed or unfit leaves the stream
 * out of step: the core closes the connection and fails its FIFO. A new
 * connection starts with the handshake (AUTH, SELECT), queued in front of
 * its first commands in the same write; an error reply to it fails them
 * all (MCS_ESTORE, noted for mcs_store_redis_last_error). A cas answered
 * NOSCRIPT (the server lost its script cache) is sent again at once as
 * EVAL with the script's text.
 *
 * A cluster ("Redis cluster specification"): one connection per master
 * (the store's node list: seeds, then nodes learnt), each command sent to
 * the master of its key's slot by the store's slot map, which the engine
 * reads but never waits for. A -MOVED reply corrects the slot at once and
 * sends the command to the node named (it was not executed, so sending
 * it again is safe, even a write); the whole map is then stale. -ASK
 * sends ASKING and the command to the node named, in one write, without
 * touching the map. At most MCS__RD_REDIRECTS_MAX redirections per
 * command. A stale map (a MOVED, a node that failed: a failover promotes
 * a replica) is read again with CLUSTER SLOTS on the engine's own
 * connections, like any command (at most one read per 100 ms); a command
 * whose slot has no node yet (the first requests) waits for that read,
 * then goes or fails with MCS_ESTORE; it is never lost.
 */
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "store/redis/rd_int.h"

typedef struct mcs__rd_async {
  mcs__pipe pipe; /* first: the engine is its pipe */
  mcs__rd_store *st;
  bool cluster;
  /* Cluster: the slot map's read, an operation of the engine's own. */
  mcs_store_op refresh;
  bool refreshing;
  size_t refresh_from;      /* the node asked next (moves on after a failure) */
  size_t refresh_tries;     /* reads failed in a row while commands wait */
  mcs__rd_node *slot_nodes; /* its reply's nodes, meanwhile */
  mcs_store_op *parked_head, *parked_tail; /* waiting for the map */
} mcs__rd_async;

/* The engine's bookkeeping in an operation's private members: scratch[0]
 * the token a write stores; in scratch[1], besides the core's
 * MCS__PIPE_SENT: EVAL (send the script's text, after NOSCRIPT), ASK
 * (send ASKING first), ASK_WAIT (ASKING's +OK is still to come) and the
 * redirections followed so far (HOPS). A connection's proto[0] says the
 * handshake is queued (or sent), proto[1] how many of its replies are
 * still to come (+OK each). */
#define EVAL 2u
#define ASK 4u
#define ASK_WAIT 8u
#define HOPS_SHIFT 8
#define HOPS_MASK (0xffu << HOPS_SHIFT)

static const mcs__rd_arg asking_arg[1] = {{"ASKING", 6, NULL, 0}};
static const mcs__rd_arg slots_argv[2] = {{"CLUSTER", 7, NULL, 0},
                                          {"SLOTS", 5, NULL, 0}};

static mcs__rd_opargs op_args(const mcs_store_op *op) {
  mcs__rd_opargs a;
  memset(&a, 0, sizeof a);
  a.kind = op->kind;
  a.key = op->key;
  a.key_len = op->key_len;
  a.data = op->data;
  a.len = op->len;
  a.flags = op->flags;
  a.ttl = op->ttl;
  a.cas = op->cas;
  a.eval_text = (op->scratch[1] & EVAL) != 0;
  return a;
}

/* Fills op's result from its reply. MCS_OK, or the error to complete it
 * with; *again: NOSCRIPT, send it once more as EVAL. */
static int op_result(mcs__rd_async *a, mcs_store_op *op,
                     const mcs__rd_node *r, bool *again) {
  mcs__rd_opbuf b;
  uint64_t cas = 0;
  uint32_t flags = 0;
  b.new_token = op->scratch[0];
  int rc = mcs__rd_op_result(a->st, op->kind, r, &b, op->value, &cas, &flags,
                             &op->result, again);
  if (rc == MCS_OK && *again && (op->scratch[1] & EVAL))
    return *again = false, MCS_EPROTO; /* NOSCRIPT to EVAL: not Redis */
  if (rc == MCS_OK && !*again) {
    op->out_cas = cas;
    op->out_flags = flags;
  }
  return rc;
}

/* Queues op on node's connection (the connections in use grow with the
 * cluster's node list). */
static void send_to(mcs__rd_async *a, int node, mcs_store_op *op) {
  if ((size_t)node >= a->pipe.n)
    a->pipe.n = (size_t)node + 1; /* node < MCS__RD_NODES_MAX = cap */
  mcs__pipe_send_on(&a->pipe, &a->pipe.conns[node], op);
}

/* ------------------------------------------------------------------------ */
/* The cluster's slot map, read on the loop                                 */
/* ------------------------------------------------------------------------ */

static void refresh_start(mcs__rd_async *a);

/* Sends the commands that waited for the map to their nodes (or fails
 * them with rc, or MCS_ESTORE when the map has no node for the slot). */
static void parked_settle(mcs__rd_async *a, int rc) {
  mcs_store_op *op = a->parked_head;
  a->parked_head = a->parked_tail = NULL;
  while (op) {
    mcs_store_op *next = op->next;
    int node =
        rc ? -1 : mcs__rd_slot_node(a->st, mcs__rd_slot(op->key, op->key_len));
    if (node >= 0) {
      send_to(a, node, op);
    } else {
      if (!rc)
        mcs__rd_note_error(a->st, "no cluster node serves the key's slot", NULL,
                           0);
      mcs__pipe_complete(&a->pipe, op, rc ? rc : MCS_ESTORE);
    }
    op = next;
  }
}

/* The read of the map ended (its reply was applied, or it failed). A
 * failure moves on to the next node; while commands wait, at once, each
 * known node once. */
static void refresh_done(mcs_store_op *op) {
  mcs__rd_async *a = op->ctx;
  size_t n = atomic_load(&a->st->node_count);
  a->refreshing = false;
  mcs__free(a->slot_nodes);
  a->slot_nodes = NULL;
  if (op->rc == MCS_OK) {
    a->refresh_tries = 0;
    parked_settle(a, MCS_OK);
    return;
  }
  atomic_store(&a->st->slots_stale, true);
  a->refresh_from = (a->refresh_from + 1) % (n ? n : 1);
  if (a->parked_head && !a->pipe.closing && ++a->refresh_tries < n) {
    refresh_start(a);
    return;
  }
  a->refresh_tries = 0;
  parked_settle(a, op->rc);
}

/* Starts a read of the map (CLUSTER SLOTS) on the first node from
 * refresh_from whose server is not marked down. */
static void refresh_start(mcs__rd_async *a) {
  size_t n = atomic_load(&a->st->node_count), node = n;
  if (a->refreshing)
    return;
  for (size_t i = 0; i < n && node == n; i++) {
    size_t k = (a->refresh_from + i) % n;
    if (!mcs__pipe_is_down(&a->pipe.conns[k]))
      node = k;
  }
  if (node == n || a->pipe.closing ||
      !(a->slot_nodes =
            mcs__malloc(MCS__RD_SLOTS_NODES_MAX * sizeof *a->slot_nodes))) {
    atomic_store(&a->st->slots_stale, true);
    parked_settle(a, node == n || a->pipe.closing ? MCS_ESTORE : MCS_ENOMEM);
    return;
  }
  a->refresh_from = node;
  mcs__rd_slots_begin(a->st);
  memset(&a->refresh, 0, sizeof a->refresh);
  a->refresh.kind = MCS_STORE_OP_GET; /* it only reads: may go again */
  a->refresh.done = refresh_done;
  a->refresh.ctx = a;
  a->refreshing = true;
  mcs__pipe_begin(&a->pipe, &a->refresh);
  send_to(a, (int)node, &a->refresh);
}

/* The reply to CLUSTER SLOTS. */
static void refresh_reply(mcs__rd_async *a, mcs__pipe_conn *c,
                          const mcs__rd_node *nodes, size_t count) {
  int rc;
  mcs__pipe_pop(c);
  if (nodes[0].type == MCS__RD_ERROR) {
    mcs__rd_note_error(a->st, "CLUSTER SLOTS: ", nodes[0].p, nodes[0].len);
    rc = MCS_ESTORE; /* not a cluster node ("cluster support disabled") */
  } else {
    rc = mcs__rd_slots_apply(a->st, nodes, count);
  }
  mcs__pipe_complete(&a->pipe, &a->refresh, rc);
}

/* A -MOVED or -ASK reply to op (the head of c): true when it was one,
 * and op was sent on or completed. */
static bool redirect(mcs__rd_async *a, mcs__pipe_conn *c, mcs_store_op *op,
                     const mcs__rd_node *r) {
  bool moved = mcs__rd_err_is(r, "MOVED"), ask = mcs__rd_err_is(r, "ASK");
  if (!moved && !ask)
    return false;
  mcs__pipe_pop(c);
  mcs__rd_count(&a->st->redirects);
  unsigned hops = (unsigned)((op->scratch[1] & HOPS_MASK) >> HOPS_SHIFT);
  uint16_t slot;
  int node = -1;
  int rc = mcs__rd_redirect_parse(a->st, r, &slot, &node);
  if (rc == MCS_OK && hops >= MCS__RD_REDIRECTS_MAX) {
    mcs__rd_note_error(a->st, "too many cluster redirections", NULL, 0);
    rc = MCS_ESTORE;
  }
  if (rc) {
    mcs__pipe_complete(&a->pipe, op, rc);
    return true;
  }
  if (moved)
    mcs__rd_slots_moved(a->st, slot, node);
  op->scratch[1] = (op->scratch[1] & ~(uint64_t)(ASK | ASK_WAIT | HOPS_MASK)) |
                   (ask ? ASK : 0u) | ((uint64_t)(hops + 1) << HOPS_SHIFT);
  send_to(a, node, op);
  return true;
}

/* ------------------------------------------------------------------------ */
/* The protocol's hooks (store/pipe.c)                                      */
/* ------------------------------------------------------------------------ */

static int hook_connect(void *ctx, size_t server, int *fd) {
  mcs__rd_async *a = ctx;
  if (server >= atomic_load(&a->st->node_count))
    return MCS_ESTORE;
  return mcs__rd_connect_start(&a->st->nodes[server]->srv, fd);
}

/* The command of op (CLUSTER SLOTS for the map's read), after the
 * handshake on a connection still to be made and ASKING when asked. */
static int hook_encode(void *ctx, mcs__pipe_conn *c, mcs_store_op *op) {
  mcs__rd_async *a = ctx;
  size_t old = c->out.len, hs = 0;
  bool handshake = c->fd < 0 && !c->proto[0];
  int rc = handshake ? mcs__rd_handshake(a->st, &c->out, &hs) : MCS_OK;
  if (rc == MCS_OK && (op->scratch[1] & ASK))
    rc = mcs__rd_format(&c->out, asking_arg, 1);
  mcs__rd_opbuf b;
  b.new_token = 0;
  if (rc == MCS_OK && op == &a->refresh) {
    rc = mcs__rd_format(&c->out, slots_argv, 2);
  } else if (rc == MCS_OK) {
    mcs__rd_opargs args = op_args(op);
    mcs__rd_arg argv[MCS__RD_ARGS_MAX];
    size_t argc = mcs__rd_op_argv(&args, &b, argv);
    rc = mcs__rd_format(&c->out, argv, argc);
  }
  if (rc) {
    c->out.len = old;
    return rc;
  }
  if (handshake) {
    c->proto[0] = 1;
    c->proto[1] = hs;
  }
  if (op != &a->refresh) {
    op->scratch[0] = b.new_token;
    mcs__rd_count(&a->st->requests);
  }
  op->scratch[1] &= ~(uint64_t)ASK_WAIT;
  if (op->scratch[1] & ASK)
    op->scratch[1] |= ASK_WAIT;
  return MCS_OK;
}

/* The reply to a handshake command: +OK, else the connection fails. */
static int handshake_reply(mcs__rd_async *a, mcs__pipe_conn *c,
                           const mcs__rd_node *r) {
  c->proto[1]--;
  if (r->type == MCS__RD_STATUS && r->len == 2 && memcmp(r->p, "OK", 2) == 0)
    return MCS_OK;
  if (r->type == MCS__RD_ERROR) {
    mcs__rd_note_error(a->st, "handshake: ", r->p, r->len);
    mcs__rd_count(&a->st->error_replies);
    mcs__pipe_fail(&a->pipe, c, MCS_ESTORE, MCS_ESTORE, true);
    return MCS__PIPE_GONE;
  }
  return MCS_EPROTO;
}

/* The op at the head got its reply: complete it, or send it again. */
static void head_reply(mcs__rd_async *a, mcs__pipe_conn *c,
                       const mcs__rd_node *r) {
  mcs_store_op *op = mcs__pipe_pop(c);
  bool again = false;
  int rc = op_result(a, op, r, &again);
  if (rc == MCS_OK && again) {
    op->scratch[1] |= EVAL;
    mcs__rd_count(&a->st->script_loads);
    if ((rc = mcs__pipe_enqueue(&a->pipe, c, op)) == MCS_OK)
      return; /* flush sends it */
  }
  mcs__pipe_complete(&a->pipe, op, rc);
}

static int hook_reply(void *ctx, mcs__pipe_conn *c, const uint8_t *buf,
                      size_t len, size_t *used) {
  mcs__rd_async *a = ctx;
  mcs_store_op *op = c->head;
  if (!op && !c->proto[1]) { /* bytes nobody asked for */
    mcs__rd_count(&a->st->protocol_errors);
    return MCS_EPROTO;
  }
  bool slots =
      op == &a->refresh && !c->proto[1] && !(op->scratch[1] & ASK_WAIT);
  mcs__rd_node one, *nodes = slots ? a->slot_nodes : &one;
  size_t cnt = 0;
  /* Values are read whole up to the largest the store writes, so one
   * over the reader's own limit fails that read alone and the commands
   * pipelined behind it keep their answers. */
  int rc = mcs__rd_parse(
      buf, len,
      slots ? MCS_REDIS_HOST_MAX + 64 : MCS__RD_HDR_LEN + MCS_REDIS_VALUE_MAX,
      nodes, slots ? MCS__RD_SLOTS_NODES_MAX : 1, &cnt, used);
  if (rc == MCS__RD_NEED_MORE)
    return MCS__PIPE_NEED_MORE;
  if (rc) { /* out of step: the rest cannot be matched to replies */
    mcs__rd_count(&a->st->protocol_errors);
    mcs__rd_note_error(a->st, "reply is not RESP or does not fit", NULL, 0);
    return rc;
  }
  if (c->proto[1])
    return handshake_reply(a, c, &one);
  if (op->scratch[1] & ASK_WAIT) { /* ASKING's reply */
    op->scratch[1] &= ~(uint64_t)ASK_WAIT;
    return one.type == MCS__RD_STATUS ? MCS_OK : MCS_EPROTO;
  }
  if (slots)
    refresh_reply(a, c, nodes, cnt);
  else if (!(a->cluster && redirect(a, c, op, &one)))
    head_reply(a, c, &one);
  return MCS_OK;
}

static void hook_closed(void *ctx, mcs__pipe_conn *c) {
  (void)ctx;
  sodium_memzero(c->out.data, c->out.cap); /* it may hold AUTH's password */
  c->proto[0] = c->proto[1] = 0;
}

static void hook_failed(void *ctx, mcs_store_op *op, int rc) {
  mcs__rd_async *a = ctx;
  (void)op;
  if (rc == MCS_ETIMEDOUT) {
    mcs__rd_count(&a->st->timeouts);
    mcs__rd_note_error(a->st, "request timed out", NULL, 0);
  }
}

/* A node failed: a failover may have promoted a replica; read the map. */
static void hook_down(void *ctx, mcs__pipe_conn *c) {
  mcs__rd_async *a = ctx;
  (void)c;
  if (a->cluster)
    atomic_store(&a->st->slots_stale, true);
}

static const mcs__pipe_hooks hooks = {.connect = hook_connect,
                                      .encode = hook_encode,
                                      .reply = hook_reply,
                                      .closed = hook_closed,
                                      .failed = hook_failed,
                                      .down = hook_down};

/* ------------------------------------------------------------------------ */
/* The engine                                                               */
/* ------------------------------------------------------------------------ */

int mcs__rd_async_attach(void *ud, const mcs_store_io *io, void **engine) {
  mcs__rd_store *st = ud;
  *engine = NULL;
  mcs__rd_async *a = mcs__calloc(1, sizeof *a);
  /* A cluster's node list grows: a connection for each node it may hold
   * (the tags the loop watches must not move). */
  size_t cap = st->cfg.cluster ? MCS__RD_NODES_MAX : st->cfg.server_count;
  if (!a || mcs__pipe_init(&a->pipe, &hooks, a, io, cap)) {
    mcs__free(a);
    return MCS_ENOMEM;
  }
  a->st = st;
  a->cluster = st->cfg.cluster;
  a->pipe.n = st->cfg.cluster ? atomic_load(&st->node_count) : cap;
  a->pipe.io_timeout_ms = st->cfg.io_timeout_ms;
  a->pipe.connect_timeout_ms = st->cfg.connect_timeout_ms;
  a->pipe.retry_s = st->cfg.retry_s;
  *engine = a;
  return MCS_OK;
}

void mcs__rd_async_detach(void *engine) {
  mcs__rd_async *a = engine;
  if (!a)
    return;
  mcs__pipe_fini(&a->pipe); /* the map's read fails: waiting ops too */
  mcs__free(a->slot_nodes);
  mcs__free(a);
}

void mcs__rd_async_submit(void *engine, mcs_store_op *op) {
  mcs__rd_async *a = engine;
  mcs__pipe_begin(&a->pipe, op);
  mcs__rd_opargs args = op_args(op);
  int rc = mcs__rd_op_check(&args);
  if (rc) {
    mcs__pipe_complete(&a->pipe, op, rc);
    return;
  }
  if (!a->cluster) { /* the ring never blocks */
    send_to(a, mcs__rd_route(a->st, op->key, op->key_len), op);
    return;
  }
  int node = mcs__rd_slot_node(a->st, mcs__rd_slot(op->key, op->key_len));
  if (node >= 0 || a->pipe.closing) {
    send_to(a, node >= 0 ? node : 0, op); /* closing: fails at once */
    return;
  }
  op->next = NULL; /* the map does not know the slot yet: wait for it */
  if (a->parked_tail)
    a->parked_tail->next = op;
  else
    a->parked_head = op;
  a->parked_tail = op;
  refresh_start(a);
}

void mcs__rd_async_flush(void *engine) {
  mcs__rd_async *a = engine;
  if (a->cluster && !a->refreshing && mcs__rd_slots_due(a->st))
    refresh_start(a);
  mcs__pipe_flush(&a->pipe);
}

void mcs__rd_async_event(void *engine, void *tag, uint32_t events) {
  mcs__pipe_event(&((mcs__rd_async *)engine)->pipe, tag, events);
}

int mcs__rd_async_timeout(void *engine) {
  return mcs__pipe_timeout(&((const mcs__rd_async *)engine)->pipe);
}

size_t mcs__rd_async_pending(const void *engine) {
  const mcs__rd_async *a = engine;
  return a ? a->pipe.pending - (a->refreshing ? 1 : 0) : 0;
}
