/*
 * The pipelined engines' core (contracts in include/mcsession/store.h and
 * store_int.h): what the memcached engine (memcached/mc_async.c) and the
 * Redis engine (redis/rd_async.c) share, so there is one implementation
 * of the connection handling behind both. One non-blocking connection
 * per server, requests formatted at submit time onto the connection's
 * output buffer (the protocol's encode hook) and sent together by flush
 * (pipelining: N requests cost one send and about one round trip).
 *
 * Both servers answer a connection's requests in the order they read
 * them, so each connection keeps a FIFO of its operations and every reply
 * belongs to the head; the protocol's reply hook parses one reply and
 * checks it against the head (memcached's echoed opaque, Redis's reply
 * shape). A reply it refuses, a socket error or a deadline passed leaves
 * the stream out of step: the connection is closed and its whole FIFO
 * fails. A connection that failed at the socket level marks its server
 * down for retry_s (operations fail at once meanwhile), except when it
 * looks stale (a restart): then reads are sent again once on a fresh
 * connection, as the blocking clients do; writes are not (their effect
 * is unknown).
 *
 * Callbacks never run inside submit or in the middle of parsing: finished
 * operations go to a "completed" list that flush and event hand out last,
 * so a callback may submit at any time. The core waits on its sockets
 * only through the loop's mcs_store_io (watch, modify, unwatch): it never
 * calls epoll and knows nothing of the loop but that table.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/store_int.h"

/* Read granularity; per event at most READ_BUDGET bytes are read so one
 * busy socket cannot starve the others (watching is level-triggered: the
 * rest is read on the next turn). Buffers grown past KEEP_CAP (a large
 * value) are released once empty. */
#define READ_CHUNK 16384
#define READ_BUDGET (1024 * 1024)
#define KEEP_CAP (256 * 1024)

static void count(_Atomic uint64_t *c) {
  if (c)
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static bool op_sent(const mcs_store_op *op) {
  return (op->scratch[1] & MCS__PIPE_SENT) != 0;
}

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

void mcs__pipe_complete(mcs__pipe *p, mcs_store_op *op, int rc) {
  op->rc = rc;
  op->next = NULL;
  if (p->done_tail)
    p->done_tail->next = op;
  else
    p->done_head = op;
  p->done_tail = op;
  if (rc && p->hooks->failed)
    p->hooks->failed(p->ctx, op, rc);
}

/* Runs the done callbacks of what completed so far. The list is detached
 * first: callbacks may submit, and what they complete waits for the next
 * call (timeout says 0), so one call does bounded work. */
static void deliver(mcs__pipe *p) {
  mcs_store_op *op = p->done_head;
  p->done_head = p->done_tail = NULL;
  while (op) {
    mcs_store_op *next = op->next;
    op->next = NULL;
    p->pending--;
    if (op->done)
      op->done(op);
    op = next;
  }
}

mcs_store_op *mcs__pipe_pop(mcs__pipe_conn *c) {
  mcs_store_op *op = c->head;
  if (op && !(c->head = op->next))
    c->tail = NULL;
  return op;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

static bool has_unsent(const mcs__pipe_conn *c) {
  return c->out_off < c->out.len;
}

static void buf_drop(mcs__buf *b, size_t *off) {
  *off = b->len = 0;
  if (b->cap > KEEP_CAP)
    mcs__buf_free(b);
}

bool mcs__pipe_is_down(const mcs__pipe_conn *c) {
  return c->down_until && mcs__net_now_ms() < c->down_until;
}

/* Formats op onto c's output buffer and appends it to the FIFO. Its
 * deadline: io_timeout_ms, plus connect_timeout_ms when the connection
 * is still to be made ("connect + I/O"). */
int mcs__pipe_enqueue(mcs__pipe *p, mcs__pipe_conn *c, mcs_store_op *op) {
  int rc = p->hooks->encode(p->ctx, c, op);
  if (rc)
    return rc;
  if (!c->head)
    c->heard = false; /* see fail: "nothing heard since it was sent" */
  op->next = NULL;
  op->deadline = mcs__net_now_ms() + p->io_timeout_ms +
                 (c->fd < 0 || c->connecting ? p->connect_timeout_ms : 0);
  if (c->tail)
    c->tail->next = op;
  else
    c->head = op;
  c->tail = op;
  count(p->requests);
  return MCS_OK;
}

static void conn_close(mcs__pipe *p, mcs__pipe_conn *c) {
  if (c->fd >= 0) {
    p->io->unwatch(p->io->ctx, c->fd);
    close(c->fd);
  }
  c->fd = -1;
  c->connecting = c->out_armed = c->reused = c->heard = false;
  if (p->hooks->closed)
    p->hooks->closed(p->ctx, c);
  buf_drop(&c->out, &c->out_off);
  buf_drop(&c->in, &c->in_off);
}

/* Sends a read (doing it twice changes nothing once would not) of a
 * failed connection again, once: op_sent means "sent on an earlier
 * connection". True when it was taken care of (queued, or completed
 * because it could not be). */
static bool resend(mcs__pipe *p, mcs__pipe_conn *c, mcs_store_op *op) {
  if ((op->kind != MCS_STORE_OP_GET && op->kind != MCS_STORE_OP_TOUCH) ||
      op_sent(op))
    return false;
  op->scratch[1] |= MCS__PIPE_SENT;
  count(p->retries);
  int rc = mcs__pipe_enqueue(p, c, op);
  if (rc)
    mcs__pipe_complete(p, op, rc);
  return true;
}

/* The connection looks stale: it had answered before, then was closed or
 * reset (MCS_ESTORE) before answering anything of this batch, as after a
 * server restart. */
static bool looks_stale(const mcs__pipe *p, const mcs__pipe_conn *c, int rc,
                        bool down) {
  return down && rc == MCS_ESTORE && c->reused && !c->heard && !p->closing;
}

void mcs__pipe_fail(mcs__pipe *p, mcs__pipe_conn *c, int rc, int rest_rc,
                    bool down) {
  bool stale = looks_stale(p, c, rc, down);
  mcs_store_op *op = c->head;
  c->head = c->tail = NULL;
  conn_close(p, c);
  if (op && down && !stale) {
    int64_t until = mcs__net_now_ms() + (int64_t)p->retry_s * 1000;
    c->down_until = until > 0 ? until : 1; /* never 0, which means up */
  }
  if (down && p->hooks->down)
    p->hooks->down(p->ctx, c);
  for (bool first = true; op; first = false) {
    mcs_store_op *next = op->next;
    if (!(stale && resend(p, c, op)))
      mcs__pipe_complete(p, op, first ? rc : rest_rc);
    op = next;
  }
}

/* Sets what the socket is watched for: readability always, writability
 * while connecting or while the kernel has not taken everything. Skips
 * the call (a system call in the loop) when nothing changes. */
static void want_out(mcs__pipe *p, mcs__pipe_conn *c, bool on) {
  if (c->out_armed == on)
    return;
  uint32_t events = MCS_STORE_IO_READ | (on ? MCS_STORE_IO_WRITE : 0u);
  if (p->io->modify(p->io->ctx, c->fd, events, c) != MCS_OK) {
    mcs__pipe_fail(p, c, MCS_ESTORE, MCS_ESTORE, true);
    return;
  }
  c->out_armed = on;
}

static void conn_open(mcs__pipe *p, mcs__pipe_conn *c) {
  int fd = -1;
  int rc = p->hooks->connect(p->ctx, c->server, &fd);
  if (rc == MCS_OK) {
    rc =
        p->io->watch(p->io->ctx, fd, MCS_STORE_IO_READ | MCS_STORE_IO_WRITE, c);
    if (rc) {
      close(fd);
      rc = rc == MCS_ENOMEM ? MCS_ENOMEM : MCS_ESTORE;
    }
  }
  if (rc) {
    mcs__pipe_fail(p, c, rc, rc, rc != MCS_ENOMEM);
    return;
  }
  c->fd = fd;
  c->connecting = c->out_armed = true;
  c->conn_deadline = mcs__net_now_ms() + p->connect_timeout_ms;
}

/* The connect ended (writable or error): SO_ERROR tells how. */
static void conn_connected(mcs__pipe *p, mcs__pipe_conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
    mcs__pipe_fail(p, c, MCS_ESTORE, MCS_ESTORE, true);
    return;
  }
  c->connecting = false;
  c->down_until = 0; /* the probe after retry_s succeeded */
}

/* Writes the unsent bytes, as many as the kernel takes (MSG_NOSIGNAL: a
 * peer that went away gives EPIPE, not SIGPIPE). */
static void conn_send(mcs__pipe *p, mcs__pipe_conn *c) {
  while (has_unsent(c)) {
    ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                     MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      want_out(p, c, true);
      return;
    } else {
      mcs__pipe_fail(p, c, MCS_ESTORE, MCS_ESTORE, true);
      return;
    }
  }
  buf_drop(&c->out, &c->out_off);
  want_out(p, c, false);
}

/* Completes FIFO heads from the replies buffered so far (the protocol's
 * reply hook, one reply a call). MCS_OK, or the error after which c has
 * been failed (stream out of step). */
static int conn_parse(mcs__pipe *p, mcs__pipe_conn *c) {
  while (c->in_off < c->in.len) {
    size_t used = 0;
    int rc = p->hooks->reply(p->ctx, c, c->in.data + c->in_off,
                             c->in.len - c->in_off, &used);
    if (rc == MCS__PIPE_NEED_MORE)
      break;
    if (rc == MCS__PIPE_GONE)
      return MCS_ESTORE; /* the hook failed c itself */
    if (rc) { /* out of step: the rest cannot be matched to replies */
      mcs__pipe_fail(p, c, rc, rc == MCS_ETOOBIG ? MCS_ESTORE : rc, false);
      return rc;
    }
    c->in_off += used;
    c->reused = true;
  }
  if (c->in_off == c->in.len)
    buf_drop(&c->in, &c->in_off);
  return MCS_OK;
}

/* One recv into the input buffer. MCS_OK (*got bytes of the *offered
 * space), MCS__PIPE_NEED_MORE (nothing now), MCS_ESTORE (closed or
 * reset), MCS_ENOMEM. */
static int conn_recv(mcs__pipe_conn *c, size_t *got, size_t *offered) {
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
      return MCS__PIPE_NEED_MORE;
    return MCS_ESTORE; /* 0: the server closed the connection */
  }
}

/* Reads and parses what the server sent. A read that did not fill the
 * space it was offered has drained the socket: stop there rather than
 * spend a recv on EAGAIN (the fd is level-triggered, so anything that
 * arrives meanwhile is reported on the next turn). */
static void conn_read(mcs__pipe *p, mcs__pipe_conn *c) {
  size_t budget = READ_BUDGET;
  while (c->fd >= 0 && budget > 0) {
    size_t got = 0, offered = 0;
    int rc = conn_recv(c, &got, &offered);
    if (rc == MCS__PIPE_NEED_MORE)
      return;
    if (rc) { /* an idle connection closed by the server just goes */
      mcs__pipe_fail(p, c, rc, rc, rc == MCS_ESTORE);
      return;
    }
    c->heard = true;
    budget -= got < budget ? got : budget;
    if (conn_parse(p, c) != MCS_OK)
      return;
    if (got < offered)
      return;
  }
}

/* ------------------------------------------------------------------------ */
/* The engine's calls                                                       */
/* ------------------------------------------------------------------------ */

int mcs__pipe_init(mcs__pipe *p, const mcs__pipe_hooks *hooks, void *ctx,
                   const mcs_store_io *io, size_t cap) {
  memset(p, 0, sizeof *p);
  p->conns = mcs__calloc(cap, sizeof *p->conns);
  if (!p->conns)
    return MCS_ENOMEM;
  for (size_t i = 0; i < cap; i++) {
    p->conns[i].server = i;
    p->conns[i].fd = -1;
  }
  p->hooks = hooks;
  p->ctx = ctx;
  p->io = io;
  p->cap = p->n = cap;
  return MCS_OK;
}

void mcs__pipe_fini(mcs__pipe *p) {
  p->closing = true; /* no re-sends; submits from callbacks fail at once */
  do {
    for (size_t i = 0; i < p->n; i++)
      mcs__pipe_fail(p, &p->conns[i], MCS_ESTORE, MCS_ESTORE, false);
    deliver(p);
  } while (p->done_head);
  for (size_t i = 0; i < p->cap; i++) {
    mcs__buf_free(&p->conns[i].out);
    mcs__buf_free(&p->conns[i].in);
  }
  mcs__free(p->conns);
  p->conns = NULL;
}

void mcs__pipe_begin(mcs__pipe *p, mcs_store_op *op) {
  op->next = NULL;
  op->scratch[1] = 0; /* not sent yet; the protocol's flags clear */
  op->result = 0;
  op->out_cas = 0;
  op->out_flags = 0;
  p->pending++;
}

void mcs__pipe_send_on(mcs__pipe *p, mcs__pipe_conn *c, mcs_store_op *op) {
  if (p->closing || mcs__pipe_is_down(c)) {
    if (!p->closing && p->hooks->down)
      p->hooks->down(p->ctx, c);
    mcs__pipe_complete(p, op, MCS_ESTORE);
    return;
  }
  int rc = mcs__pipe_enqueue(p, c, op);
  if (rc)
    mcs__pipe_complete(p, op, rc);
}

void mcs__pipe_flush(mcs__pipe *p) {
  for (size_t i = 0; i < p->n; i++) {
    mcs__pipe_conn *c = &p->conns[i];
    if (!has_unsent(c) || c->connecting || c->out_armed)
      continue; /* nothing to do, or waiting for writability */
    if (c->fd < 0)
      conn_open(p, c); /* the data goes once the connect is done */
    else
      conn_send(p, c);
  }
  /* Replies come in order: the head is the one the others wait behind.
   * Before failing it, read what the socket holds: a loop that was late
   * handling events must not time out answers that already arrived. */
  int64_t now = mcs__net_now_ms();
  for (size_t i = 0; i < p->n; i++) {
    mcs__pipe_conn *c = &p->conns[i];
    if (c->head && now >= c->head->deadline && c->fd >= 0 && !c->connecting)
      conn_read(p, c);
    if ((c->head && now >= c->head->deadline) ||
        (c->connecting && now >= c->conn_deadline))
      mcs__pipe_fail(p, c, MCS_ETIMEDOUT, MCS_ETIMEDOUT, true);
  }
  deliver(p);
}

/* True when `tag` is one of this engine's connections. */
static bool owns(const mcs__pipe *p, const void *tag) {
  uintptr_t t = (uintptr_t)tag, base = (uintptr_t)p->conns;
  return tag && t >= base && t - base < p->cap * sizeof(mcs__pipe_conn) &&
         (t - base) % sizeof(mcs__pipe_conn) == 0;
}

void mcs__pipe_event(mcs__pipe *p, void *tag, uint32_t events) {
  if (!owns(p, tag))
    return;
  mcs__pipe_conn *c = tag;
  if (c->fd >= 0 && c->connecting &&
      (events & (MCS_STORE_IO_WRITE | MCS_STORE_IO_ERROR)))
    conn_connected(p, c);
  if (c->fd >= 0 && !c->connecting && (events & MCS_STORE_IO_WRITE))
    conn_send(p, c);
  if (c->fd >= 0 && !c->connecting &&
      (events & (MCS_STORE_IO_READ | MCS_STORE_IO_ERROR)))
    conn_read(p, c);
  deliver(p);
}

int mcs__pipe_timeout(const mcs__pipe *p) {
  if (p->done_head)
    return 0;
  int64_t next = INT64_MAX;
  for (size_t i = 0; i < p->n; i++) {
    const mcs__pipe_conn *c = &p->conns[i];
    if (has_unsent(c) && !c->connecting && !c->out_armed)
      return 0; /* flush has something to send (or to connect for) */
    if (c->head && c->head->deadline < next)
      next = c->head->deadline;
    if (c->connecting && c->conn_deadline < next)
      next = c->conn_deadline;
  }
  if (next == INT64_MAX)
    return -1;
  int64_t left = next - mcs__net_now_ms();
  return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}
