/*
 * One memcached connection: a non-blocking TCP socket whose every wait
 * goes through poll() with the time left before a deadline, so no call
 * can block past the configured timeouts (a blocking socket with
 * SO_RCVTIMEO would restart its timer on every byte). Replies are read
 * into a buffer and parsed in place (mc_proto.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/memcached/mc_int.h"

/* Read granularity, and the buffer size kept between requests: a buffer
 * grown for a large value is released afterwards. */
#define READ_CHUNK 16384
#define KEEP_CAP (256 * 1024)

struct mcs__mc_conn {
  int fd;
  mcs__buf rbuf;  /* rbuf.data[rpos..rbuf.len) is unread */
  size_t rpos;
  bool reused;    /* completed at least one request */
  bool failed;    /* a send or receive failed at the socket level */
  uint32_t seq;   /* the next request's opaque (mcs__mc_conn_next_opaque) */
};

int64_t mcs__mc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` until deadline. MCS_OK, MCS_ETIMEDOUT or MCS_ESTORE.
 * Rounds the wait up so a deadline 0.4 ms away is not a busy loop. */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - mcs__mc_now_ms();
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
  /* Requests are small and latency-bound: do not let Nagle hold the
   * second segment of a request waiting for an ACK. Failure is harmless. */
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* One address: a non-blocking connect completed via poll + SO_ERROR. */
static int connect_addr(const struct addrinfo *ai, int64_t deadline,
                        int *fd_out) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  if (fd < 0)
    return MCS_ESTORE;
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
  if (rc) {
    close(fd);
    return rc;
  }
  set_nodelay(fd);
  *fd_out = fd;
  return MCS_OK;
}

static int resolve(const mcs_memcached_server *srv, struct addrinfo **res) {
  char port[8];
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof port, "%u", (unsigned)srv->port);
  return getaddrinfo(srv->host, port, &hints, res) == 0 ? MCS_OK
                                                        : MCS_ESTORE;
}

int mcs__mc_conn_open(const mcs_memcached_server *srv, unsigned timeout_ms,
                      mcs__mc_conn **out) {
  struct addrinfo *res = NULL;
  int fd = -1, rc;
  *out = NULL;
  int64_t deadline = mcs__mc_now_ms() + timeout_ms;
  if ((rc = resolve(srv, &res)) != 0)
    return rc;
  rc = MCS_ESTORE;
  for (struct addrinfo *ai = res; ai && rc != MCS_ETIMEDOUT; ai = ai->ai_next)
    if ((rc = connect_addr(ai, deadline, &fd)) == MCS_OK)
      break;
  freeaddrinfo(res);
  if (rc)
    return rc;
  mcs__mc_conn *c = mcs__calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return MCS_ENOMEM;
  }
  c->fd = fd;
  *out = c;
  return MCS_OK;
}

int mcs__mc_connect_start(const mcs_memcached_server *srv, int *fd) {
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
    set_nodelay(s); /* before connect: no request ever waits on Nagle */
    /* EINTR: the connect goes on in the background, like EINPROGRESS. */
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

void mcs__mc_conn_close(mcs__mc_conn *c) {
  if (!c)
    return;
  close(c->fd);
  mcs__buf_free(&c->rbuf);
  mcs__free(c);
}

bool mcs__mc_conn_reused(const mcs__mc_conn *c) { return c->reused; }

bool mcs__mc_conn_failed(const mcs__mc_conn *c) { return c->failed; }

/* A counter, not a random token: the opaque is no secret (a hostile
 * server can echo anything it was sent); it only has to differ from the
 * opaques of the replies that could still be on their way, and the last
 * 2^32 requests of this connection are all distinct. */
uint32_t mcs__mc_conn_next_opaque(mcs__mc_conn *c) { return c->seq++; }

bool mcs__mc_conn_idle_ok(mcs__mc_conn *c, bool probe) {
  if (c->rpos != c->rbuf.len)
    return false;
  if (!probe)
    return true;
  /* An idle connection should have nothing to read: readable means the
   * server closed it (EOF, e.g. after a restart) or sent something we did
   * not ask for. Either way it is not safe to send on. */
  struct pollfd pfd = {c->fd, POLLIN, 0};
  int n;
  do
    n = poll(&pfd, 1, 0);
  while (n < 0 && errno == EINTR);
  return n == 0;
}

/* Skips the first `done` bytes of iov in place; returns the new start. */
static struct iovec *advance(struct iovec *iov, int *cnt, size_t done) {
  while (*cnt > 0 && done >= iov->iov_len) {
    done -= iov->iov_len;
    iov++;
    (*cnt)--;
  }
  if (*cnt > 0) {
    iov->iov_base = (char *)iov->iov_base + done;
    iov->iov_len -= done;
  }
  return iov;
}

int mcs__mc_conn_sendv(mcs__mc_conn *c, const struct iovec *iov_in,
                       int iovcnt, int64_t deadline, size_t *sent) {
  struct iovec local[8];
  *sent = 0;
  if (iovcnt < 0 || iovcnt > 8)
    return MCS_EINVAL;
  memcpy(local, iov_in, sizeof local[0] * (size_t)iovcnt);
  struct iovec *iov = advance(local, &iovcnt, 0);
  while (iovcnt > 0) {
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)iovcnt;
    /* MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the
     * application with SIGPIPE. */
    ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (n > 0) {
      *sent += (size_t)n;
      iov = advance(iov, &iovcnt, (size_t)n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(c->fd, POLLOUT, deadline);
      if (rc) {
        c->failed = true;
        return rc;
      }
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      c->failed = true;
      return MCS_ESTORE;
    }
  }
  return MCS_OK;
}

/* Reads what is available into the buffer, waiting until deadline for
 * at least one byte. MCS_ESTORE on EOF or error. */
static int fill(mcs__mc_conn *c, int64_t deadline) {
  if (c->rpos > 0) { /* keep the unread part at the front */
    memmove(c->rbuf.data, c->rbuf.data + c->rpos, c->rbuf.len - c->rpos);
    c->rbuf.len -= c->rpos;
    c->rpos = 0;
  }
  size_t room = c->rbuf.cap - c->rbuf.len;
  if (room < READ_CHUNK && mcs__buf_reserve(&c->rbuf, READ_CHUNK) != 0)
    return MCS_ENOMEM;
  room = c->rbuf.cap - c->rbuf.len;
  /* Nothing buffered means we are waiting for the first bytes of a reply
   * to a request just sent: they are rarely there yet, so wait first
   * rather than pay for a recv that says EAGAIN (2 syscalls, not 3). */
  if (c->rbuf.len == 0 && deadline > mcs__mc_now_ms()) {
    int rc = wait_fd(c->fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
  for (;;) {
    ssize_t n = recv(c->fd, c->rbuf.data + c->rbuf.len, room, 0);
    if (n > 0) {
      c->rbuf.len += (size_t)n;
      return MCS_OK;
    }
    if (n == 0)
      return MCS_ESTORE; /* the server closed the connection */
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return MCS_ESTORE;
    int rc = wait_fd(c->fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
}

int mcs__mc_conn_read(mcs__mc_conn *c, size_t max_value, int64_t deadline,
                      mcs__mc_resp *resp, bool *got_bytes) {
  size_t start_len = c->rbuf.len - c->rpos, consumed = 0;
  for (;;) {
    const uint8_t *p = c->rbuf.data ? c->rbuf.data + c->rpos : NULL;
    int rc = mcs__mc_parse(p, c->rbuf.len - c->rpos, max_value, resp,
                           &consumed);
    if (rc != MCS__MC_NEED_MORE) {
      if (rc == MCS_OK)
        c->rpos += consumed;
      if (got_bytes)
        *got_bytes = true;
      return rc;
    }
    rc = fill(c, deadline);
    if (got_bytes)
      *got_bytes = c->rbuf.len - c->rpos > start_len || start_len > 0;
    if (rc) {
      c->failed = rc != MCS_ENOMEM;
      return rc;
    }
  }
}

bool mcs__mc_conn_done(mcs__mc_conn *c) {
  c->reused = true;
  if (c->rpos != c->rbuf.len)
    return false;
  c->rpos = c->rbuf.len = 0;
  if (c->rbuf.cap > KEEP_CAP)
    mcs__buf_free(&c->rbuf);
  return true;
}
