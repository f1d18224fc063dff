/* Parsing ADDR:PORT and opening the listening socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

/* Splits "host:port" or "[v6]:port" into host[] and *port; NULL, or
 * what is wrong with the spec. */
static const char *split(const char *spec, char *host, size_t host_size,
                         const char **port) {
  static const char want[] = "want ADDR:PORT, e.g. 127.0.0.1:8080";
  const char *colon, *h = spec;
  size_t hlen;
  if (*spec == '[') {
    const char *close = strchr(spec, ']');
    if (!close || close[1] != ':')
      return "want [IPv6]:PORT, e.g. [::1]:8080";
    h = spec + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(spec, ':');
    if (!colon)
      return want;
    if (memchr(spec, ':', (size_t)(colon - spec)))
      return "an IPv6 address goes in brackets, e.g. [::1]:8080";
    hlen = (size_t)(colon - spec);
  }
  if (hlen == 0)
    return "no address before the port";
  if (hlen >= host_size)
    return "the address is too long";
  if (colon[1] == '\0')
    return "no port after the colon";
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = colon + 1;
  return NULL;
}

/* NULL, or what is wrong with the port (digits, 0 to 65535). */
static const char *check_port(const char *port) {
  if (strspn(port, "0123456789") != strlen(port))
    return "the port must be a number";
  if (strlen(port) > 5 || strtoul(port, NULL, 10) > 65535)
    return "the port must be 0 to 65535 (0: any free port)";
  return NULL;
}

/* 0, or -1 with the reason in why[]. */
static int resolve(const char *spec, struct addrinfo **res, char *why,
                   size_t why_size) {
  char host[256];
  const char *port = NULL;
  const char *wrong = split(spec, host, sizeof host, &port);
  if (!wrong)
    wrong = check_port(port);
  if (wrong) {
    snprintf(why, why_size, "%s", wrong);
    return -1;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(host, port, &hints, res);
  if (rc != 0)
    snprintf(why, why_size, "cannot resolve '%s': %s", host, gai_strerror(rc));
  return rc == 0 ? 0 : -1;
}

void listen_next_port(const char *spec, char *out, size_t size) {
  const char *colon = strrchr(spec, ':');
  if (!colon) { /* not a spec listen_open took; nothing better to say */
    snprintf(out, size, "127.0.0.1:8081");
    return;
  }
  unsigned long port = strtoul(colon + 1, NULL, 10);
  unsigned long next = port > 0 && port < 65535 ? port + 1 : 8081;
  snprintf(out, size, "%.*s:%lu", (int)(colon - spec), spec, next);
}

static int open_socket(const struct addrinfo *ai) {
  int fd =
      socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0)
    return -1;
  int one = 1;
  /* Non-blocking: every server thread accepts on this socket, and all but
   * one of them find nothing to accept when a connection arrives. */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int listen_open(const char *spec, int *bad_spec, char *err, size_t err_size) {
  struct addrinfo *res = NULL;
  char why[300];
  *bad_spec = 0;
  if (resolve(spec, &res, why, sizeof why) != 0) {
    *bad_spec = 1;
    snprintf(err, err_size, "bad --listen address '%s': %s", spec, why);
    errno = EINVAL;
    return -1;
  }
  int fd = open_socket(res);
  int e = errno;
  freeaddrinfo(res);
  if (fd >= 0)
    return fd;
  if (e == EADDRINUSE) {
    char next[300];
    listen_next_port(spec, next, sizeof next);
    snprintf(err, err_size,
             "cannot listen on %s: %s (another program has that port: "
             "choose another, e.g. --listen %s, or port 0 for any free one)",
             spec, strerror(e), next);
  } else {
    snprintf(err, err_size, "cannot listen on %s: %s", spec, strerror(e));
  }
  errno = e;
  return -1;
}

int listen_url(int fd, char *out, size_t out_size) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN];
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return -1;
  unsigned port;
  const void *addr;
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(void *)&ss;
    addr = &a->sin6_addr;
    port = ntohs(a->sin6_port);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(void *)&ss;
    addr = &a->sin_addr;
    port = ntohs(a->sin_port);
  }
  if (!inet_ntop(ss.ss_family, addr, host, sizeof host))
    return -1;
  int n =
      snprintf(out, out_size,
               ss.ss_family == AF_INET6 ? "http://[%s]:%u/" : "http://%s:%u/",
               host, port);
  return n > 0 && (size_t)n < out_size ? 0 : -1;
}

int listen_is_loopback(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(void *)&ss;
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  }
  const struct sockaddr_in *a = (const struct sockaddr_in *)(void *)&ss;
  return ss.ss_family == AF_INET && (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}
