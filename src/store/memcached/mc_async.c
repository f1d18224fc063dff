/*
 * The memcached engine of an event loop: the non-blocking side of the
 * memcached store's table (contracts in include/mcsession/store.h and
 * mc_int.h). One non-blocking connection per server, requests formatted
 * at submit time onto the connection's output buffer and sent together by
 * flush (pipelining: N requests cost one send and about one round trip).
 *
 * memcached answers the requests of one connection in the order it read
 * them, so each connection keeps a FIFO of its operations and every reply
 * completes the head. Position alone is not trusted: each request carries
 * an opaque from the connection's counter (O<n>), and the reply must echo
 * the head's (mcs__mc_check), so a reply that comes twice cannot shift
 * the others onto the wrong operations (security issue 12). A reply the
 * codec refuses (malformed, unfit, wrong or missing echo), a socket error
 * or a deadline passed leaves the stream out of step: the connection is
 * closed and its whole FIFO fails.
 *
 * Callbacks never run inside submit or in the middle of parsing: finished
 * operations go to a "completed" list that flush and event hand out last,
 * so a callback may submit at any time.
 *
 * The engine waits on its sockets only through the loop's mcs_store_io
 * (watch, modify, unwatch): it never calls epoll and knows nothing of the
 * loop but that table.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/memcached/mc_int.h"

/* Read granularity; per event at most READ_BUDGET bytes are read so one
 * busy socket cannot starve the others (watching is level-triggered: the
 * rest is read on the next turn). Buffers grown past KEEP_CAP (a large
 * value) are released once empty. */
#define READ_CHUNK 16384
#define READ_BUDGET (1024 * 1024)
#define KEEP_CAP (256 * 1024)

typedef struct conn {
  size_t server;         /* index into cfg.servers */
  int fd;                /* -1: closed; opened by the next flush */
  bool connecting;       /* connect in progress: writability tells the end */
  bool out_armed;        /* watched for writability too */
  bool reused;           /* completed a reply since it was opened */
  bool heard;            /* a byte arrived since the FIFO was last empty */
  int64_t conn_deadline; /* while connecting */
  int64_t down_until;    /* ms; 0: up. Submits fail fast until then */
  uint32_t seq;          /* the next request's opaque; never reset */
  mcs__buf out;          /* out.data[out_off..out.len) is unsent */
  size_t out_off;
  mcs__buf in; /* in.data[in_off..in.len) is unparsed */
  size_t in_off;
  mcs_store_op *head, *tail; /* sent or queued here, oldest first */
} conn;

struct mcs__mc_async {
  mcs__mc_store *st;
  const mcs_store_io *io; /* the loop's: how the sockets are watched */
  conn *conns; /* one per server, in cfg.servers order */
  size_t n;
  mcs_store_op *done_head, *done_tail; /* completed, done not yet run */
  size_t pending;                  /* submitted, done not yet run */
  bool closing;                    /* in mcs__mc_async_detach */
};

static void count(_Atomic uint64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* Operations and their requests                                            */
/* ------------------------------------------------------------------------ */

/* The engine's bookkeeping in an operation's private members (next and
 * deadline are used as named): the request's opaque, and whether it was
 * sent on an earlier connection. */
static uint32_t op_opaque(const mcs_store_op *op) {
  return (uint32_t)op->scratch[0];
}
static bool op_sent(const mcs_store_op *op) { return op->scratch[1] != 0; }

static bool is_write(mcs_store_op_kind k) {
  return k == MCS_STORE_OP_ADD || k == MCS_STORE_OP_CAS ||
         k == MCS_STORE_OP_SET;
}

/* The request an op stands for, as the blocking client builds it
 * (mc_store.c): add and cas ask for the new CAS token; every
 * request carries the opaque enqueue gave the op. */
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

/* Moves op to the completed list; its done runs in deliver. */
static void complete(mcs__mc_async *a, mcs_store_op *op, int rc) {
  op->rc = rc;
  op->next = NULL;
  if (a->done_tail)
    a->done_tail->next = op;
  else
    a->done_head = op;
  a->done_tail = op;
  if (rc == MCS_ETIMEDOUT)
    count(&a->st->timeouts);
  else if (rc == MCS_EPROTO)
    count(&a->st->protocol_errors);
}

/* Runs the done callbacks of what completed so far. The list is detached
 * first: callbacks may submit, and what they complete waits for the next
 * call (timeout says 0), so one call does bounded work. */
static void deliver(mcs__mc_async *a) {
  mcs_store_op *op = a->done_head;
  a->done_head = a->done_tail = NULL;
  while (op) {
    mcs_store_op *next = op->next;
    op->next = NULL;
    a->pending--;
    if (op->done)
      op->done(op);
    op = next;
  }
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

static bool has_unsent(const conn *c) { return c->out_off < c->out.len; }

static void buf_drop(mcs__buf *b, size_t *off) {
  *off = b->len = 0;
  if (b->cap > KEEP_CAP)
    mcs__buf_free(b);
}

/* Formats op onto c's output buffer and appends it to the FIFO. Its
 * deadline: io_timeout_ms, plus connect_timeout_ms when the connection
 * is still to be made (memcached.h: "connect + I/O"). */
static int enqueue(mcs__mc_async *a, conn *c, mcs_store_op *op) {
  const mcs_memcached_config *cfg = &a->st->cfg;
  op->scratch[0] = c->seq; /* distinct for the last 2^32 requests here */
  mcs__mc_req req = op_req(op);
  int rc = mcs__mc_format(&c->out, &req);
  if (rc)
    return rc;
  c->seq++;
  if (!c->head)
    c->heard = false; /* see conn_fail: "nothing heard since it was sent" */
  op->next = NULL;
  op->deadline = mcs__mc_now_ms() + cfg->io_timeout_ms +
                 (c->fd < 0 || c->connecting ? cfg->connect_timeout_ms : 0);
  if (c->tail)
    c->tail->next = op;
  else
    c->head = op;
  c->tail = op;
  count(&a->st->requests);
  return MCS_OK;
}

static void conn_close(mcs__mc_async *a, conn *c) {
  if (c->fd >= 0) {
    a->io->unwatch(a->io->ctx, c->fd);
    close(c->fd);
  }
  c->fd = -1;
  c->connecting = c->out_armed = c->reused = c->heard = false;
  buf_drop(&c->out, &c->out_off);
  buf_drop(&c->in, &c->in_off);
}

/* Sends a read (mg: doing it twice changes nothing once would not) of a
 * failed connection again, once: op_sent means "sent on an earlier
 * connection". True when it was taken care of
 * (queued, or completed because it could not be). */
static bool resend(mcs__mc_async *a, conn *c, mcs_store_op *op) {
  if ((op->kind != MCS_STORE_OP_GET && op->kind != MCS_STORE_OP_TOUCH) ||
      op_sent(op))
    return false;
  op->scratch[1] = 1;
  count(&a->st->retries);
  int rc = enqueue(a, c, op);
  if (rc)
    complete(a, op, rc);
  return true;
}

/* Closes c and settles its FIFO: the head gets `rc`, the rest `rest_rc`.
 * `down` (the socket failed or timed out) marks the server down for
 * retry_s, except when the connection looks stale: it had answered
 * before, then was closed or reset (MCS_ESTORE) before answering
 * anything of this batch, as after a server restart. Then, as the
 * blocking client does, reads are sent again once on a fresh connection
 * and writes fail (their effect is unknown). */
static void conn_fail(mcs__mc_async *a, conn *c, int rc, int rest_rc,
                      bool down) {
  bool stale =
      down && rc == MCS_ESTORE && c->reused && !c->heard && !a->closing;
  mcs_store_op *op = c->head;
  c->head = c->tail = NULL;
  conn_close(a, c);
  if (op && down && !stale) {
    int64_t until = mcs__mc_now_ms() + (int64_t)a->st->cfg.retry_s * 1000;
    c->down_until = until > 0 ? until : 1; /* never 0, which means up */
  }
  for (bool first = true; op; first = false) {
    mcs_store_op *next = op->next;
    if (!(stale && resend(a, c, op)))
      complete(a, op, first ? rc : rest_rc);
    op = next;
  }
}

/* Sets what the socket is watched for: readability always, writability
 * while connecting or while the kernel has not taken everything. Skips
 * the call (a system call in the loop) when nothing changes. */
static void want_out(mcs__mc_async *a, conn *c, bool on) {
  if (c->out_armed == on)
    return;
  uint32_t events = MCS_STORE_IO_READ | (on ? MCS_STORE_IO_WRITE : 0u);
  if (a->io->modify(a->io->ctx, c->fd, events, c) != MCS_OK) {
    conn_fail(a, c, MCS_ESTORE, MCS_ESTORE, true);
    return;
  }
  c->out_armed = on;
}

static void conn_open(mcs__mc_async *a, conn *c) {
  int fd = -1;
  int rc = mcs__mc_connect_start(&a->st->cfg.servers[c->server], &fd);
  if (rc == MCS_OK) {
    rc =
        a->io->watch(a->io->ctx, fd, MCS_STORE_IO_READ | MCS_STORE_IO_WRITE, c);
    if (rc) {
      close(fd);
      rc = rc == MCS_ENOMEM ? MCS_ENOMEM : MCS_ESTORE;
    }
  }
  if (rc) {
    conn_fail(a, c, rc, rc, rc != MCS_ENOMEM);
    return;
  }
  c->fd = fd;
  c->connecting = c->out_armed = true;
  c->conn_deadline = mcs__mc_now_ms() + a->st->cfg.connect_timeout_ms;
}

/* The connect ended (writable or error): SO_ERROR tells how. */
static void conn_connected(mcs__mc_async *a, conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
    conn_fail(a, c, MCS_ESTORE, MCS_ESTORE, true);
    return;
  }
  c->connecting = false;
  c->down_until = 0; /* the probe after retry_s succeeded */
}

/* Writes the unsent bytes, as many as the kernel takes (MSG_NOSIGNAL: a
 * peer that went away gives EPIPE, not SIGPIPE). */
static void conn_send(mcs__mc_async *a, conn *c) {
  while (has_unsent(c)) {
    ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                     MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      want_out(a, c, true);
      return;
    } else {
      conn_fail(a, c, MCS_ESTORE, MCS_ESTORE, true);
      return;
    }
  }
  buf_drop(&c->out, &c->out_off);
  want_out(a, c, false);
}

/* Completes FIFO heads from the replies buffered so far. MCS_OK, or the
 * codec's error after which c has been failed (stream out of step). */
static int conn_parse(mcs__mc_async *a, conn *c) {
  while (c->in_off < c->in.len) {
    mcs_store_op *op = c->head;
    if (!op) { /* bytes nobody asked for */
      conn_fail(a, c, MCS_EPROTO, MCS_EPROTO, false);
      count(&a->st->protocol_errors);
      return MCS_EPROTO;
    }
    mcs__mc_req req = op_req(op);
    mcs__mc_resp resp;
    size_t used = 0;
    /* Values are read whole up to the item limit (which no write of ours
     * exceeds), so one over the reader's own limit fails that read alone
     * and the requests pipelined behind it keep their answers. */
    int rc = mcs__mc_parse(c->in.data + c->in_off, c->in.len - c->in_off,
                           MCS_MEMCACHED_ITEM_MAX, &resp, &used);
    if (rc == MCS__MC_NEED_MORE)
      break;
    if (rc == MCS_OK)
      rc = mcs__mc_check(&req, &resp);
    if (rc) { /* out of step: the rest cannot be matched to replies */
      conn_fail(a, c, rc, rc == MCS_ETOOBIG ? MCS_ESTORE : rc, false);
      return rc;
    }
    c->in_off += used;
    if (!(c->head = op->next))
      c->tail = NULL;
    c->reused = true;
    if (resp.status == MCS__MC_VA &&
        resp.value_len > mcs__mc_value_limit(op->value))
      complete(a, op, MCS_ETOOBIG);
    else
      complete(a, op, op_result(op, req.cmd, &resp));
  }
  if (c->in_off == c->in.len)
    buf_drop(&c->in, &c->in_off);
  return MCS_OK;
}

/* One recv into the input buffer. MCS_OK (*got bytes of the *offered
 * space), MCS__MC_NEED_MORE (nothing now), MCS_ESTORE (closed or reset),
 * MCS_ENOMEM. */
static int conn_recv(conn *c, size_t *got, size_t *offered) {
  if (c->in_off > 0) { /* keep the unparsed part at the front */
    memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_off = 0;
  }
  if (c->in.cap - c->in.len < READ_CHUNK &&
      mcs__buf_reserve(&c->in, READ_CHUNK) != MCS_OK)
    return MCS_ENOMEM;
  *offered = c->in.cap - c->in.len;
  for (;;) {
    ssize_t n = recv(c->fd, c->in.data + c->in.len, *offered, 0);
    if (n > 0) {
      c->in.len += (size_t)n;
      *got = (size_t)n;
      return MCS_OK;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return MCS__MC_NEED_MORE;
    return MCS_ESTORE; /* 0: the server closed the connection */
  }
}

/* Reads and parses what the server sent. A read that did not fill the
 * space it was offered has drained the socket: stop there rather than
 * spend a recv on EAGAIN (the fd is level-triggered, so anything that
 * arrives meanwhile is reported on the next turn). */
static void conn_read(mcs__mc_async *a, conn *c) {
  size_t budget = READ_BUDGET;
  while (c->fd >= 0 && budget > 0) {
    size_t got = 0, offered = 0;
    int rc = conn_recv(c, &got, &offered);
    if (rc == MCS__MC_NEED_MORE)
      return;
    if (rc) { /* an idle connection closed by the server just goes */
      conn_fail(a, c, rc, rc, rc == MCS_ESTORE);
      return;
    }
    c->heard = true;
    budget -= got < budget ? got : budget;
    if (conn_parse(a, c) != MCS_OK)
      return;
    if (got < offered)
      return;
  }
}

/* ------------------------------------------------------------------------ */
/* The engine                                                               */
/* ------------------------------------------------------------------------ */

int mcs__mc_async_attach(void *ud, const mcs_store_io *io, void **engine) {
  mcs__mc_store *st = ud;
  *engine = NULL;
  mcs__mc_async *a = mcs__calloc(1, sizeof *a);
  conn *conns = mcs__calloc(st->cfg.server_count, sizeof *conns);
  if (!a || !conns) {
    mcs__free(a);
    mcs__free(conns);
    return MCS_ENOMEM;
  }
  for (size_t i = 0; i < st->cfg.server_count; i++) {
    conns[i].server = i;
    conns[i].fd = -1;
  }
  a->st = st;
  a->io = io;
  a->conns = conns;
  a->n = st->cfg.server_count;
  *engine = a;
  return MCS_OK;
}

void mcs__mc_async_detach(void *engine) {
  mcs__mc_async *a = engine;
  if (!a)
    return;
  a->closing = true; /* no re-sends; submits from callbacks fail at once */
  do {
    for (size_t i = 0; i < a->n; i++)
      conn_fail(a, &a->conns[i], MCS_ESTORE, MCS_ESTORE, false);
    deliver(a);
  } while (a->done_head);
  for (size_t i = 0; i < a->n; i++) {
    mcs__buf_free(&a->conns[i].out);
    mcs__buf_free(&a->conns[i].in);
  }
  mcs__free(a->conns);
  mcs__free(a);
}

void mcs__mc_async_submit(void *engine, mcs_store_op *op) {
  mcs__mc_async *a = engine;
  op->next = NULL;
  op->scratch[1] = 0; /* not sent yet */
  op->result = 0;
  op->out_cas = 0;
  op->out_flags = 0;
  a->pending++;
  int rc = op_check(op);
  if (rc) {
    complete(a, op, rc);
    return;
  }
  conn *c = &a->conns[mcs__mc_ring_pick(a->st->ring, op->key, op->key_len)];
  if (a->closing || (c->down_until && mcs__mc_now_ms() < c->down_until)) {
    complete(a, op, MCS_ESTORE);
    return;
  }
  if ((rc = enqueue(a, c, op)) != MCS_OK)
    complete(a, op, rc);
}

void mcs__mc_async_flush(void *engine) {
  mcs__mc_async *a = engine;
  for (size_t i = 0; i < a->n; i++) {
    conn *c = &a->conns[i];
    if (!has_unsent(c) || c->connecting || c->out_armed)
      continue; /* nothing to do, or waiting for writability */
    if (c->fd < 0)
      conn_open(a, c); /* the data goes once the connect is done */
    else
      conn_send(a, c);
  }
  /* Replies come in order: the head is the one the others wait behind.
   * Before failing it, read what the socket holds: a loop that was late
   * handling events must not time out answers that already arrived. */
  int64_t now = mcs__mc_now_ms();
  for (size_t i = 0; i < a->n; i++) {
    conn *c = &a->conns[i];
    if (c->head && now >= c->head->deadline && c->fd >= 0 && !c->connecting)
      conn_read(a, c);
    if ((c->head && now >= c->head->deadline) ||
        (c->connecting && now >= c->conn_deadline))
      conn_fail(a, c, MCS_ETIMEDOUT, MCS_ETIMEDOUT, true);
  }
  deliver(a);
}

/* True when `tag` is one of this engine's connections. */
static bool owns(const mcs__mc_async *a, const void *tag) {
  uintptr_t p = (uintptr_t)tag, base = (uintptr_t)a->conns;
  return tag && p >= base && p - base < a->n * sizeof(conn) &&
         (p - base) % sizeof(conn) == 0;
}

void mcs__mc_async_event(void *engine, void *tag, uint32_t events) {
  mcs__mc_async *a = engine;
  if (!owns(a, tag))
    return;
  conn *c = tag;
  if (c->fd >= 0 && c->connecting &&
      (events & (MCS_STORE_IO_WRITE | MCS_STORE_IO_ERROR)))
    conn_connected(a, c);
  if (c->fd >= 0 && !c->connecting && (events & MCS_STORE_IO_WRITE))
    conn_send(a, c);
  if (c->fd >= 0 && !c->connecting &&
      (events & (MCS_STORE_IO_READ | MCS_STORE_IO_ERROR)))
    conn_read(a, c);
  deliver(a);
}

int mcs__mc_async_timeout(void *engine) {
  const mcs__mc_async *a = engine;
  if (a->done_head)
    return 0;
  int64_t next = INT64_MAX;
  for (size_t i = 0; i < a->n; i++) {
    const conn *c = &a->conns[i];
    if (has_unsent(c) && !c->connecting && !c->out_armed)
      return 0; /* flush has something to send (or to connect for) */
    if (c->head && c->head->deadline < next)
      next = c->head->deadline;
    if (c->connecting && c->conn_deadline < next)
      next = c->conn_deadline;
  }
  if (next == INT64_MAX)
    return -1;
  int64_t left = next - mcs__mc_now_ms();
  return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

size_t mcs__mc_async_pending(const mcs__mc_async *a) {
  return a ? a->pending : 0;
}
