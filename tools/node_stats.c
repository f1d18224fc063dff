/* `stats` (or INFO) over a short TCP connection (see node_stats.h).
 * Non-blocking socket, every wait through poll() with the time left, so a
 * stalled server costs at most the timeouts. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "node_stats.h"

/* A stats reply is about 3 KiB; more than this is not memcached. */
#define REPLY_MAX 65536

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 when fd is ready for `events` before the deadline, else -1. */
static int wait_for(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return -1;
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, (int)left);
    if (n > 0)
      return 0;
    if (n < 0 && errno != EINTR)
      return -1;
  }
}

/* A connected socket, or -1 with the reason in *err. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *err) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  socklen_t len = sizeof *err;
  *err = errno;
  if (fd < 0)
    return -1;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
    return fd;
  *err = errno;
  if (*err == EINPROGRESS) {
    *err = ETIMEDOUT;
    if (wait_for(fd, POLLOUT, deadline) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) == 0 && *err == 0)
      return fd;
  }
  close(fd);
  return -1;
}

static int open_conn(const node_target *srv, unsigned ms, node_stats *out) {
  char port[8];
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  snprintf(port, sizeof port, "%u", (unsigned)srv->port);
  int rc = getaddrinfo(srv->host, port, &hints, &res);
  if (rc != 0) {
    snprintf(out->error, sizeof out->error, "%s", gai_strerror(rc));
    return -1;
  }
  int64_t deadline = now_ms() + ms;
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
    fd = connect_one(ai, deadline, &err);
  freeaddrinfo(res);
  if (fd < 0)
    snprintf(out->error, sizeof out->error, "cannot connect: %s",
             strerror(err));
  return fd;
}

/* Whether the reply is whole: 1, 0 not yet, -1 an error reply. */
static int complete(const node_target *t, const char *buf, size_t len,
                    node_stats *out) {
  if (t->redis)
    return node_info_complete(t, buf, len, out);
  if (strstr(buf, "ERROR"))
    return -1;
  return len >= 5 && strcmp(buf + len - 5, "END\r\n") == 0;
}

/* Reads until the reply is whole (or an error reply). 0, or -1. */
static int read_reply(const node_target *t, int fd, char *buf, size_t size,
                      int64_t deadline, node_stats *out) {
  size_t len = 0;
  while (len + 1 < size) {
    if (wait_for(fd, POLLIN, deadline) != 0)
      return -1;
    ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
      return -1;
    len += n > 0 ? (size_t)n : 0;
    buf[len] = '\0';
    int c = complete(t, buf, len, out);
    if (c != 0)
      return c > 0 ? 0 : -1;
  }
  return -1;
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  if (*s < '0' || *s > '9')
    return false;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end != '\0')
    return false;
  *out = v;
  return true;
}

/* One "STAT <name> <value>" line (NUL-terminated, CR removed). */
static void take_stat(char *line, node_stats *out) {
  char *name = line + 5, *value = strchr(name, ' ');
  if (strncmp(line, "STAT ", 5) != 0 || !value)
    return;
  *value++ = '\0';
  if (strcmp(name, "version") == 0)
    snprintf(out->version, sizeof out->version, "%s", value);
#define NODE_STAT_TAKE(field)                                                  \
  if (strcmp(name, #field) == 0)                                               \
    (void)parse_u64(value, &out->field);
  NODE_STAT_NAMES(NODE_STAT_TAKE)
#undef NODE_STAT_TAKE
}

static void parse_reply(char *buf, node_stats *out) {
  for (char *line = buf; *line;) {
    char *eol = strstr(line, "\r\n");
    if (!eol)
      break;
    *eol = '\0';
    take_stat(line, out);
    line = eol + 2;
  }
}

void node_stats_read(const node_target *t, node_stats *out) {
  char req[1200];
  size_t req_len = 0;
  memset(out, 0, sizeof *out);
  if (t->redis)
    req_len = node_info_request(t, req, sizeof req);
  else
    req_len = (size_t)snprintf(req, sizeof req, "stats\r\n");
  int fd = req_len ? open_conn(t, t->connect_ms, out) : -1;
  if (fd < 0) {
    if (!req_len)
      snprintf(out->error, sizeof out->error, "password too long");
    return;
  }
  char *buf = malloc(REPLY_MAX);
  int64_t deadline = now_ms() + t->io_ms;
  bool ok = buf && wait_for(fd, POLLOUT, deadline) == 0 &&
            send(fd, req, req_len, MSG_NOSIGNAL) == (ssize_t)req_len &&
            read_reply(t, fd, buf, REPLY_MAX, deadline, out) == 0;
  close(fd);
  if (ok && t->redis)
    node_info_parse(t, buf, out);
  else if (ok)
    parse_reply(buf, out);
  else if (!out->error[0])
    snprintf(out->error, sizeof out->error, "no answer to '%s'",
             t->redis ? "INFO" : "stats");
  out->up = ok;
  sodium_memzero(req, sizeof req); /* it may hold the password */
  free(buf);
}
