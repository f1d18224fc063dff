/*
 * One blocking Redis connection: a non-blocking TCP socket whose every
 * wait is a poll() bounded by the time left before a deadline (a socket
 * timeout would restart on every byte: mc_conn.c has the same rule), a
 * read buffer parsed in place (rd_resp.c), and the handshake a new
 * connection needs: AUTH with the password from the store's
 * password_file, SELECT for a database other than 0 ("AUTH", "SELECT" in
 * the Redis command reference), pipelined in one round trip.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "store/redis/rd_int.h"

#define READ_CHUNK 16384
#define KEEP_CAP (256 * 1024)

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

static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - mcs__rd_now_ms();
    if (left <= 0)
      return MCS_ETIMEDOUT;
    struct pollfd pfd = {fd, events, 0};
    int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
    if (n > 0)
      return MCS_OK; /* errors and hang-ups show on the next syscall */
    if (n < 0 && errno != EINTR)
      return MCS_ESTORE;
  }
}

static void set_nodelay(int fd) {
  int one = 1; /* small, latency-bound requests: no Nagle delay */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int resolve(const mcs_redis_server *srv, struct addrinfo **res) {
  char port[8];
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof port, "%u", (unsigned)srv->port);
  return getaddrinfo(srv->host, port, &hints, res) == 0 ? MCS_OK : MCS_ESTORE;
}

int mcs__rd_connect_start(const mcs_redis_server *srv, int *fd) {
  struct addrinfo *res = NULL;
  *fd = -1;
  int rc = resolve(srv, &res);
  if (rc)
    return rc;
  rc = MCS_ESTORE;
  for (struct addrinfo *ai = res; ai && rc; ai = ai->ai_next) {
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   ai->ai_protocol);
    if (s < 0)
      continue;
    set_nodelay(s);
    if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS ||
        errno == EINTR) {
      *fd = s;
      rc = MCS_OK;
    } else {
      close(s);
    }
  }
  freeaddrinfo(res);
  return rc;
}

/* One address within the deadline: connect, then SO_ERROR. */
static int connect_addr(const struct addrinfo *ai, int64_t deadline,
                        int *out) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  if (fd < 0)
    return MCS_ESTORE;
  set_nodelay(fd);
  int rc = MCS_OK;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS && errno != EINTR)
      rc = MCS_ESTORE;
    else if ((rc = wait_fd(fd, POLLOUT, deadline)) == MCS_OK) {
      int err = 0;
      socklen_t elen = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err)
        rc = MCS_ESTORE;
    }
  }
  if (rc)
    close(fd);
  else
    *out = fd;
  return rc;
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
  struct addrinfo *res = NULL;
  int fd = -1;
  *out = NULL;
  int64_t deadline = mcs__rd_now_ms() + st->cfg.connect_timeout_ms;
  int rc = resolve(srv, &res);
  if (rc) {
    mcs__rd_note_error(st, "cannot resolve the server's name", NULL, 0);
    return rc;
  }
  rc = MCS_ESTORE;
  for (struct addrinfo *ai = res; ai && rc != MCS_ETIMEDOUT; ai = ai->ai_next)
    if ((rc = connect_addr(ai, deadline, &fd)) == MCS_OK)
      break;
  freeaddrinfo(res);
  if (rc) {
    mcs__rd_note_error(st, rc == MCS_ETIMEDOUT ? "connect timed out"
                                               : "connection refused",
                       NULL, 0);
    return rc;
  }
  mcs__rd_conn *c = mcs__calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return MCS_ENOMEM;
  }
  c->fd = fd;
  deadline = mcs__rd_now_ms() + st->cfg.io_timeout_ms;
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
  if (c->rpos != c->rbuf.len)
    return false;
  if (!probe)
    return true;
  /* Readable while idle: closed by the server (a restart) or sent
   * something unasked; either way not safe for a write. */
  struct pollfd pfd = {c->fd, POLLIN, 0};
  int n;
  do
    n = poll(&pfd, 1, 0);
  while (n < 0 && errno == EINTR);
  return n == 0;
}

int mcs__rd_conn_send(mcs__rd_conn *c, const uint8_t *buf, size_t len,
                      int64_t deadline, size_t *sent) {
  *sent = 0;
  while (*sent < len) {
    /* MSG_NOSIGNAL: a peer gone away is EPIPE, not SIGPIPE. */
    ssize_t n = send(c->fd, buf + *sent, len - *sent, MSG_NOSIGNAL);
    if (n > 0) {
      *sent += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(c->fd, POLLOUT, deadline);
      if (rc)
        return rc;
    } else if (!(n < 0 && errno == EINTR)) {
      return MCS_ESTORE;
    }
  }
  return MCS_OK;
}

/* Reads what is there, waiting until deadline for at least one byte. */
static int fill(mcs__rd_conn *c, int64_t deadline) {
  if (c->rpos > 0) {
    memmove(c->rbuf.data, c->rbuf.data + c->rpos, c->rbuf.len - c->rpos);
    c->rbuf.len -= c->rpos;
    c->rpos = 0;
  }
  if (c->rbuf.cap - c->rbuf.len < READ_CHUNK &&
      mcs__buf_reserve(&c->rbuf, READ_CHUNK) != MCS_OK)
    return MCS_ENOMEM;
  if (c->rbuf.len == 0) { /* a reply is rarely there at once: poll first */
    int rc = wait_fd(c->fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
  for (;;) {
    ssize_t n = recv(c->fd, c->rbuf.data + c->rbuf.len,
                     c->rbuf.cap - c->rbuf.len, 0);
    if (n > 0) {
      c->rbuf.len += (size_t)n;
      return MCS_OK;
    }
    if (n == 0)
      return MCS_ESTORE; /* closed by the server */
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return MCS_ESTORE;
    int rc = wait_fd(c->fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
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
    rc = fill(c, deadline);
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
  if (c->rpos != c->rbuf.len)
    return false;
  c->rpos = c->rbuf.len = 0;
  if (c->rbuf.cap > KEEP_CAP)
    mcs__buf_free(&c->rbuf);
  return true;
}
