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

/* Splits "host:port" or "[v6]:port" into host[] and *port. */
static int split(const char *spec, char *host, size_t host_size,
                 const char **port) {
  const char *colon, *h = spec;
  size_t hlen;
  if (*spec == '[') {
    const char *close = strchr(spec, ']');
    if (!close || close[1] != ':')
      return -1;
    h = spec + 1;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(spec, ':');
    if (!colon || memchr(spec, ':', (size_t)(colon - spec)))
      return -1; /* IPv6 needs brackets */
    hlen = (size_t)(colon - spec);
  }
  if (hlen == 0 || hlen >= host_size || colon[1] == '\0')
    return -1;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = colon + 1;
  return 0;
}

static int resolve(const char *spec, struct addrinfo **res) {
  char host[256];
  const char *port;
  if (split(spec, host, sizeof host, &port) != 0 ||
      strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
      strtoul(port, NULL, 10) > 65535)
    return -1;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  return getaddrinfo(host, port, &hints, res) == 0 ? 0 : -1;
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
  *bad_spec = 0;
  if (resolve(spec, &res) != 0) {
    *bad_spec = 1;
    snprintf(err, err_size, "bad --listen address '%s' (want ADDR:PORT)", spec);
    return -1;
  }
  int fd = open_socket(res);
  if (fd < 0)
    snprintf(err, err_size, "cannot listen on %s: %s", spec, strerror(errno));
  freeaddrinfo(res);
  return fd;
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
