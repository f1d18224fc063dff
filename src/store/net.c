/*
 * The sockets of the network stores (memcached, Redis): non-blocking TCP
 * whose every wait goes through poll() with the time left before a
 * deadline, so no call can block past the configured timeouts (a blocking
 * socket with SO_RCVTIMEO would restart its timer on every byte), and a
 * read buffer that replies are parsed from in place. The protocols live
 * in the stores (mc_proto.c, rd_resp.c); this file knows only bytes.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"

/* Read granularity, and the buffer size kept between requests: a buffer
 * grown for a large value is released afterwards. */
#define READ_CHUNK 16384
#define KEEP_CAP (256 * 1024)

int64_t mcs__net_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mcs__net_wait(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - mcs__net_now_ms();
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

static int resolve(const char *host, uint16_t port, struct addrinfo **res) {
  char service[8];
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(service, sizeof service, "%u", (unsigned)port);
  return getaddrinfo(host, service, &hints, res) == 0 ? MCS_OK : MCS_ESTORE;
}

/* A socket for ai with its connect started: MCS_OK (connected or in
 * progress), MCS_ESTORE. */
static int start_one(const struct addrinfo *ai, int *fd) {
  int s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 ai->ai_protocol);
  if (s < 0)
    return MCS_ESTORE;
  set_nodelay(s); /* before connect: no request ever waits on Nagle */
  /* EINTR: the connect goes on in the background, like EINPROGRESS. */
  if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS ||
      errno == EINTR) {
    *fd = s;
    return MCS_OK;
  }
  close(s);
  return MCS_ESTORE;
}

/* One address within the deadline: the connect, then SO_ERROR. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out) {
  int fd = -1;
  int rc = start_one(ai, &fd);
  if (rc == MCS_OK && (rc = mcs__net_wait(fd, POLLOUT, deadline)) == MCS_OK) {
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err)
      rc = MCS_ESTORE;
  }
  if (rc && fd >= 0)
    close(fd);
  else if (rc == MCS_OK)
    *out = fd;
  return rc;
}

int mcs__net_connect(const char *host, uint16_t port, int64_t deadline, int *fd,
                     bool *resolved) {
  struct addrinfo *res = NULL;
  *fd = -1;
  int rc = resolve(host, port, &res);
  if (resolved)
    *resolved = rc == MCS_OK;
  if (rc)
    return rc;
  rc = MCS_ESTORE;
  for (struct addrinfo *ai = res; ai && rc != MCS_ETIMEDOUT; ai = ai->ai_next)
    if ((rc = connect_one(ai, deadline, fd)) == MCS_OK)
      break;
  freeaddrinfo(res);
  return rc;
}

int mcs__net_connect_start(const char *host, uint16_t port, int *fd) {
  struct addrinfo *res = NULL;
  *fd = -1;
  int rc = resolve(host, port, &res);
  if (rc)
    return rc;
  rc = MCS_ESTORE;
  for (struct addrinfo *ai = res; ai && rc; ai = ai->ai_next)
    rc = start_one(ai, fd);
  freeaddrinfo(res);
  return rc;
}

bool mcs__net_quiet(int fd) {
  /* An idle connection should have nothing to read: readable means the
   * server closed it (EOF, e.g. after a restart) or sent something we did
   * not ask for. Either way it is not safe to send on. */
  struct pollfd pfd = {fd, POLLIN, 0};
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

int mcs__net_sendv(int fd, const struct iovec *iov_in, int iovcnt,
                   int64_t deadline, size_t *sent) {
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
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n > 0) {
      *sent += (size_t)n;
      iov = advance(iov, &iovcnt, (size_t)n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = mcs__net_wait(fd, POLLOUT, deadline);
      if (rc)
        return rc;
    } else if (!(n < 0 && errno == EINTR)) {
      return MCS_ESTORE;
    }
  }
  return MCS_OK;
}

int mcs__net_fill(int fd, mcs__buf *rbuf, size_t *rpos, int64_t deadline) {
  if (*rpos > 0) { /* keep the unread part at the front */
    memmove(rbuf->data, rbuf->data + *rpos, rbuf->len - *rpos);
    rbuf->len -= *rpos;
    *rpos = 0;
  }
  if (rbuf->cap - rbuf->len < READ_CHUNK &&
      mcs__buf_reserve(rbuf, READ_CHUNK) != MCS_OK)
    return MCS_ENOMEM;
  size_t room = rbuf->cap - rbuf->len;
  /* Nothing buffered means we are waiting for the first bytes of a reply
   * to a request just sent: they are rarely there yet, so wait first
   * rather than pay for a recv that says EAGAIN (2 syscalls, not 3). */
  if (rbuf->len == 0 && deadline > mcs__net_now_ms()) {
    int rc = mcs__net_wait(fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
  for (;;) {
    ssize_t n = recv(fd, rbuf->data + rbuf->len, room, 0);
    if (n > 0) {
      rbuf->len += (size_t)n;
      return MCS_OK;
    }
    if (n == 0)
      return MCS_ESTORE; /* the server closed the connection */
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return MCS_ESTORE;
    int rc = mcs__net_wait(fd, POLLIN, deadline);
    if (rc)
      return rc;
  }
}

bool mcs__net_drained(mcs__buf *rbuf, size_t *rpos) {
  if (*rpos != rbuf->len)
    return false;
  *rpos = rbuf->len = 0;
  if (rbuf->cap > KEEP_CAP)
    mcs__buf_free(rbuf);
  return true;
}
