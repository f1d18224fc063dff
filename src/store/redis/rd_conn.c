/*
 * One blocking Redis connection: a socket of net.c (every wait bounded by
 * a deadline), a read buffer parsed in place (rd_resp.c), and the
 * handshake a new connection needs: AUTH with the password from the
 * store's password_file, SELECT for a database other than 0 ("AUTH",
 * "SELECT" in the Redis command reference), pipelined in one round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "store/redis/rd_int.h"

void mcs__rd_note_error(mcs__rd_store *st, const char *what, const void *p,
                        size_t len) {
  pthread_mutex_lock(&st->err_mu);
  snprintf(st->last_error, sizeof st->last_error, "%s%.*s", what,
           (int)(len > 120 ? 120 : len), p ? (const char *)p : "");
  pthread_mutex_unlock(&st->err_mu);
}

struct mcs__rd_conn {
  int fd;
  mcs__buf rbuf; /* rbuf.data[rpos..rbuf.len) is unread */
  size_t rpos, parsed; /* parsed: bytes of the last reply handed out */
  bool reused;
};

int mcs__rd_connect_start(const mcs_redis_server *srv, int *fd) {
  return mcs__net_connect_start(srv->host, srv->port, fd);
}

int mcs__rd_handshake(const mcs__rd_store *st, mcs__buf *out, size_t *n) {
  int rc = MCS_OK;
  char db[16];
  *n = 0;
  if (st->password_len) {
    mcs__rd_arg a[2] = {{"AUTH", 4, NULL, 0},
                        {st->password, st->password_len, NULL, 0}};
    rc = mcs__rd_format(out, a, 2);
    *n += rc == MCS_OK;
  }
  if (rc == MCS_OK && st->cfg.db) {
    int len = snprintf(db, sizeof db, "%u", st->cfg.db);
    mcs__rd_arg a[2] = {{"SELECT", 6, NULL, 0}, {db, (size_t)len, NULL, 0}};
    rc = mcs__rd_format(out, a, 2);
    *n += rc == MCS_OK;
  }
  return rc;
}

/* Sends the handshake and checks that each reply is +OK; an error reply
 * (WRONGPASS, "ERR DB index is out of range") is noted for
 * mcs_store_redis_last_error, never with the password. */
static int handshake(mcs__rd_store *st, mcs__rd_conn *c, int64_t deadline) {
  mcs__buf b = MCS__BUF_INIT;
  size_t n = 0, sent;
  int rc = mcs__rd_handshake(st, &b, &n);
  if (rc == MCS_OK && n)
    rc = mcs__rd_conn_send(c, b.data, b.len, deadline, &sent);
  sodium_memzero(b.data, b.cap);
  mcs__buf_free(&b);
  for (size_t i = 0; i < n && rc == MCS_OK; i++) {
    mcs__rd_node r;
    size_t cnt;
    rc = mcs__rd_conn_read(c, 0, deadline, &r, 1, &cnt, NULL);
    if (rc == MCS_OK && r.type == MCS__RD_ERROR) {
      mcs__rd_note_error(st, i == 0 && st->password_len ? "AUTH: " : "SELECT: ",
                         r.p, r.len);
      rc = MCS_ESTORE;
    } else if (rc == MCS_OK && (r.type != MCS__RD_STATUS || r.len != 2 ||
                                memcmp(r.p, "OK", 2) != 0)) {
      rc = MCS_EPROTO;
    }
  }
  if (rc == MCS_EPROTO)
    mcs__rd_note_error(st, "handshake: the reply is not Redis's", NULL, 0);
  return rc;
}

int mcs__rd_conn_open(mcs__rd_store *st, const mcs_redis_server *srv,
                      mcs__rd_conn **out) {
  int fd = -1;
  bool resolved = false;
  *out = NULL;
  int rc = mcs__net_connect(srv->host, srv->port,
                            mcs__rd_now_ms() + st->cfg.connect_timeout_ms, &fd,
                            &resolved);
  if (rc) {
    const char *why = !resolved ? "cannot resolve the server's name"
                      : rc == MCS_ETIMEDOUT ? "connect timed out"
                                            : "connection refused";
    mcs__rd_note_error(st, why, NULL, 0);
    return rc;
  }
  mcs__rd_conn *c = mcs__calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return MCS_ENOMEM;
  }
  c->fd = fd;
  int64_t deadline = mcs__rd_now_ms() + st->cfg.io_timeout_ms;
  if ((rc = handshake(st, c, deadline)) != MCS_OK) {
    mcs__rd_conn_close(c);
    return rc;
  }
  mcs__rd_conn_done(c);
  c->reused = false;
  *out = c;
  return MCS_OK;
}

void mcs__rd_conn_close(mcs__rd_conn *c) {
  if (!c)
    return;
  close(c->fd);
  mcs__buf_free(&c->rbuf);
  mcs__free(c);
}

bool mcs__rd_conn_reused(const mcs__rd_conn *c) { return c->reused; }

bool mcs__rd_conn_idle_ok(mcs__rd_conn *c, bool probe) {
  return c->rpos == c->rbuf.len && (!probe || mcs__net_quiet(c->fd));
}

int mcs__rd_conn_send(mcs__rd_conn *c, const uint8_t *buf, size_t len,
                      int64_t deadline, size_t *sent) {
  struct iovec iov = {(void *)(uintptr_t)buf, len};
  return mcs__net_sendv(c->fd, &iov, 1, deadline, sent);
}

int mcs__rd_conn_read(mcs__rd_conn *c, size_t max_bulk, int64_t deadline,
                      mcs__rd_node *nodes, size_t max, size_t *count,
                      bool *got_bytes) {
  c->rpos += c->parsed; /* the previous reply is no longer pointed to */
  c->parsed = 0;
  size_t start = c->rbuf.len - c->rpos, used = 0;
  for (;;) {
    const uint8_t *p = c->rbuf.data ? c->rbuf.data + c->rpos : NULL;
    int rc = mcs__rd_parse(p, c->rbuf.len - c->rpos, max_bulk, nodes, max,
                           count, &used);
    if (rc != MCS__RD_NEED_MORE) {
      if (rc == MCS_OK)
        c->parsed = used;
      if (got_bytes)
        *got_bytes = true;
      return rc;
    }
    rc = mcs__net_fill(c->fd, &c->rbuf, &c->rpos, deadline);
    if (got_bytes)
      *got_bytes = c->rbuf.len - c->rpos > start || start > 0;
    if (rc)
      return rc;
  }
}

bool mcs__rd_conn_done(mcs__rd_conn *c) {
  c->rpos += c->parsed;
  c->parsed = 0;
  c->reused = true;
  return mcs__net_drained(&c->rbuf, &c->rpos);
}
