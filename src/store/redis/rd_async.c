/*
 * The Redis engine of an event loop: the non-blocking side of the Redis
 * store's table for redis:// (contracts in include/mcsession/store.h and
 * rd_int.h; the memcached engine, mc_async.c, is the model). One
 * non-blocking connection per server, commands formatted at submit time
 * onto the connection's output buffer and sent together by flush
 * (pipelining: "Redis pipelining" in the Redis documentation; N commands
 * cost one send and about one round trip).
 *
 * Redis answers a connection's commands in the order it read them, so
 * each connection keeps a FIFO of its operations and every reply
 * completes the head. RESP has no request id to echo: every reply is
 * checked against its command's expected shape (rd_ops.c), and a reply
 * that is malformed or unfit, a socket error or a deadline passed leaves
 * the stream out of step: the connection is closed and its whole FIFO
 * fails. A new connection starts with the handshake (AUTH, SELECT),
 * queued in front of its first commands in the same write; an error
 * reply to it fails them all (MCS_ESTORE, noted for
 * mcs_store_redis_last_error). A cas answered NOSCRIPT (the server lost
 * its script cache) is sent again at once as EVAL with the script's text.
 *
 * Callbacks never run inside submit or in the middle of parsing: finished
 * operations go to a "completed" list that flush and event hand out last.
 * The engine waits on its sockets only through the loop's mcs_store_io.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "store/redis/rd_int.h"

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
  bool hs_queued;        /* the handshake is in `out` (or was sent) */
  size_t hs_pending;     /* handshake replies still to come (+OK each) */
  mcs__buf out;          /* out.data[out_off..out.len) is unsent */
  size_t out_off;
  mcs__buf in; /* in.data[in_off..in.len) is unparsed */
  size_t in_off;
  mcs_store_op *head, *tail; /* sent or queued here, oldest first */
} conn;

typedef struct mcs__rd_async mcs__rd_async;
struct mcs__rd_async {
  mcs__rd_store *st;
  const mcs_store_io *io; /* the loop's: how the sockets are watched */
  conn *conns; /* one per server, in cfg.servers order */
  size_t n;
  mcs_store_op *done_head, *done_tail; /* completed, done not yet run */
  size_t pending;                  /* submitted, done not yet run */
  bool closing;                    /* in mcs__rd_async_detach */
};

static void count(_Atomic uint64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* Operations and their requests                                            */
/* ------------------------------------------------------------------------ */

/* The engine's bookkeeping in an operation's private members (next and
 * deadline are used as named): scratch[0] the token a write stores,
 * scratch[1] SENT (sent on an earlier connection) and EVAL (send the
 * script's text, after NOSCRIPT). */
#define SENT 1u
#define EVAL 2u

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

static bool op_sent(const mcs_store_op *op) {
  return (op->scratch[1] & SENT) != 0;
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

/* Moves op to the completed list; its done runs in deliver. */
static void complete(mcs__rd_async *a, mcs_store_op *op, int rc) {
  op->rc = rc;
  op->next = NULL;
  if (a->done_tail)
    a->done_tail->next = op;
  else
    a->done_head = op;
  a->done_tail = op;
  if (rc == MCS_ETIMEDOUT) {
    count(&a->st->timeouts);
    mcs__rd_note_error(a->st, "request timed out", NULL, 0);
  }
}

/* Runs the done callbacks of what completed so far. The list is detached
 * first: callbacks may submit, and what they complete waits for the next
 * call (timeout says 0), so one call does bounded work. */
static void deliver(mcs__rd_async *a) {
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

/* Formats op onto c's output buffer (after the handshake, for a
 * connection still to be made) and appends it to the FIFO. Its deadline:
 * io_timeout_ms, plus connect_timeout_ms when the connection is still to
 * be made. */
static int enqueue(mcs__rd_async *a, conn *c, mcs_store_op *op) {
  const mcs_redis_config *cfg = &a->st->cfg;
  size_t old = c->out.len, hs = 0;
  int rc = MCS_OK;
  if (c->fd < 0 && !c->hs_queued)
    rc = mcs__rd_handshake(a->st, &c->out, &hs);
  mcs__rd_opargs args = op_args(op);
  mcs__rd_opbuf b;
  mcs__rd_arg argv[MCS__RD_ARGS_MAX];
  size_t argc = mcs__rd_op_argv(&args, &b, argv);
  if (rc == MCS_OK)
    rc = mcs__rd_format(&c->out, argv, argc);
  if (rc) {
    c->out.len = old;
    return rc;
  }
  if (c->fd < 0 && !c->hs_queued) {
    c->hs_queued = true;
    c->hs_pending = hs;
  }
  op->scratch[0] = b.new_token;
  if (!c->head)
    c->heard = false; /* see conn_fail: "nothing heard since it was sent" */
  op->next = NULL;
  op->deadline = mcs__rd_now_ms() + cfg->io_timeout_ms +
                 (c->fd < 0 || c->connecting ? cfg->connect_timeout_ms : 0);
  if (c->tail)
    c->tail->next = op;
  else
    c->head = op;
  c->tail = op;
  count(&a->st->requests);
  return MCS_OK;
}

static void conn_close(mcs__rd_async *a, conn *c) {
  if (c->fd >= 0) {
    a->io->unwatch(a->io->ctx, c->fd);
    close(c->fd);
  }
  c->fd = -1;
  c->connecting = c->out_armed = c->reused = c->heard = false;
  c->hs_queued = false;
  c->hs_pending = 0;
  sodium_memzero(c->out.data, c->out.cap); /* it may hold AUTH's password */
  buf_drop(&c->out, &c->out_off);
  buf_drop(&c->in, &c->in_off);
}

/* Sends a read (GET, GETEX, EXPIRE: doing it twice changes nothing once
 * would not) of a
 * failed connection again, once: op_sent means "sent on an earlier
 * connection". True when it was taken care of
 * (queued, or completed because it could not be). */
static bool resend(mcs__rd_async *a, conn *c, mcs_store_op *op) {
  if ((op->kind != MCS_STORE_OP_GET && op->kind != MCS_STORE_OP_TOUCH) ||
      op_sent(op))
    return false;
  op->scratch[1] |= SENT;
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
static void conn_fail(mcs__rd_async *a, conn *c, int rc, int rest_rc,
                      bool down) {
  bool stale =
      down && rc == MCS_ESTORE && c->reused && !c->heard && !a->closing;
  mcs_store_op *op = c->head;
  c->head = c->tail = NULL;
  conn_close(a, c);
  if (op && down && !stale) {
    int64_t until = mcs__rd_now_ms() + (int64_t)a->st->cfg.retry_s * 1000;
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
static void want_out(mcs__rd_async *a, conn *c, bool on) {
  if (c->out_armed == on)
    return;
  uint32_t events = MCS_STORE_IO_READ | (on ? MCS_STORE_IO_WRITE : 0u);
  if (a->io->modify(a->io->ctx, c->fd, events, c) != MCS_OK) {
    conn_fail(a, c, MCS_ESTORE, MCS_ESTORE, true);
    return;
  }
  c->out_armed = on;
}

static void conn_open(mcs__rd_async *a, conn *c) {
  int fd = -1;
  int rc = mcs__rd_connect_start(&a->st->nodes[c->server]->srv, &fd);
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
  c->conn_deadline = mcs__rd_now_ms() + a->st->cfg.connect_timeout_ms;
}

/* The connect ended (writable or error): SO_ERROR tells how. */
static void conn_connected(mcs__rd_async *a, conn *c) {
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
static void conn_send(mcs__rd_async *a, conn *c) {
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

/* The reply to a handshake command: +OK, else the connection fails. */
static int handshake_reply(mcs__rd_async *a, conn *c, const mcs__rd_node *r) {
  c->hs_pending--;
  if (r->type == MCS__RD_STATUS && r->len == 2 && memcmp(r->p, "OK", 2) == 0)
    return MCS_OK;
  if (r->type == MCS__RD_ERROR) {
    mcs__rd_note_error(a->st, "handshake: ", r->p, r->len);
    count(&a->st->error_replies);
    conn_fail(a, c, MCS_ESTORE, MCS_ESTORE, true);
    return MCS_ESTORE;
  }
  conn_fail(a, c, MCS_EPROTO, MCS_EPROTO, false);
  return MCS_EPROTO;
}

/* The op at the head got its reply: complete it, or send it again. */
static void head_reply(mcs__rd_async *a, conn *c, const mcs__rd_node *r) {
  mcs_store_op *op = c->head;
  if (!(c->head = op->next))
    c->tail = NULL;
  bool again = false;
  int rc = op_result(a, op, r, &again);
  if (rc == MCS_OK && again) {
    op->scratch[1] |= EVAL;
    count(&a->st->script_loads);
    if ((rc = enqueue(a, c, op)) == MCS_OK)
      return; /* flush sends it */
  }
  complete(a, op, rc);
}

/* Completes FIFO heads from the replies buffered so far. MCS_OK, or the
 * codec's error after which c has been failed (stream out of step). */
static int conn_parse(mcs__rd_async *a, conn *c) {
  while (c->in_off < c->in.len) {
    if (!c->head && !c->hs_pending) { /* bytes nobody asked for */
      conn_fail(a, c, MCS_EPROTO, MCS_EPROTO, false);
      count(&a->st->protocol_errors);
      return MCS_EPROTO;
    }
    mcs__rd_node r;
    size_t used = 0, cnt = 0;
    /* Values are read whole up to the largest the store writes, so one
     * over the reader's own limit fails that read alone and the commands
     * pipelined behind it keep their answers. */
    int rc = mcs__rd_parse(c->in.data + c->in_off, c->in.len - c->in_off,
                           MCS__RD_HDR_LEN + MCS_REDIS_VALUE_MAX, &r, 1, &cnt,
                           &used);
    if (rc == MCS__RD_NEED_MORE)
      break;
    if (rc) { /* out of step: the rest cannot be matched to replies */
      count(&a->st->protocol_errors);
      mcs__rd_note_error(a->st, "reply is not RESP or does not fit", NULL, 0);
      conn_fail(a, c, rc, rc == MCS_ETOOBIG ? MCS_ESTORE : rc, false);
      return rc;
    }
    c->in_off += used;
    c->reused = true;
    if (c->hs_pending) {
      if ((rc = handshake_reply(a, c, &r)) != MCS_OK)
        return rc;
      continue;
    }
    head_reply(a, c, &r);
  }
  if (c->in_off == c->in.len)
    buf_drop(&c->in, &c->in_off);
  return MCS_OK;
}

/* One recv into the input buffer. MCS_OK (*got bytes of the *offered
 * space), MCS__RD_NEED_MORE (nothing now), MCS_ESTORE (closed or reset),
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
      return MCS__RD_NEED_MORE;
    return MCS_ESTORE; /* 0: the server closed the connection */
  }
}

/* Reads and parses what the server sent. A read that did not fill the
 * space it was offered has drained the socket: stop there rather than
 * spend a recv on EAGAIN (the fd is level-triggered, so anything that
 * arrives meanwhile is reported on the next turn). */
static void conn_read(mcs__rd_async *a, conn *c) {
  size_t budget = READ_BUDGET;
  while (c->fd >= 0 && budget > 0) {
    size_t got = 0, offered = 0;
    int rc = conn_recv(c, &got, &offered);
    if (rc == MCS__RD_NEED_MORE)
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

int mcs__rd_async_attach(void *ud, const mcs_store_io *io, void **engine) {
  mcs__rd_store *st = ud;
  *engine = NULL;
  if (st->cfg.cluster)
    return MCS_OK; /* declined: the helper thread runs a cluster's ops */
  mcs__rd_async *a = mcs__calloc(1, sizeof *a);
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

void mcs__rd_async_detach(void *engine) {
  mcs__rd_async *a = engine;
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

void mcs__rd_async_submit(void *engine, mcs_store_op *op) {
  mcs__rd_async *a = engine;
  op->next = NULL;
  op->scratch[1] = 0; /* not sent yet, EVALSHA */
  op->result = 0;
  op->out_cas = 0;
  op->out_flags = 0;
  a->pending++;
  mcs__rd_opargs args = op_args(op);
  int rc = mcs__rd_op_check(&args);
  if (rc) {
    complete(a, op, rc);
    return;
  }
  conn *c = &a->conns[mcs__rd_route(a->st, op->key, op->key_len)];
  if (a->closing || (c->down_until && mcs__rd_now_ms() < c->down_until)) {
    complete(a, op, MCS_ESTORE);
    return;
  }
  if ((rc = enqueue(a, c, op)) != MCS_OK)
    complete(a, op, rc);
}

void mcs__rd_async_flush(void *engine) {
  mcs__rd_async *a = engine;
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
  int64_t now = mcs__rd_now_ms();
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
static bool owns(const mcs__rd_async *a, const void *tag) {
  uintptr_t p = (uintptr_t)tag, base = (uintptr_t)a->conns;
  return tag && p >= base && p - base < a->n * sizeof(conn) &&
         (p - base) % sizeof(conn) == 0;
}

void mcs__rd_async_event(void *engine, void *tag, uint32_t events) {
  mcs__rd_async *a = engine;
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

int mcs__rd_async_timeout(void *engine) {
  const mcs__rd_async *a = engine;
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
  int64_t left = next - mcs__rd_now_ms();
  return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

size_t mcs__rd_async_pending(const void *engine) {
  const mcs__rd_async *a = engine;
  return a ? a->pending : 0;
}
