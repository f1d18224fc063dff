/* The bare meta-protocol client; see bare_mc.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bare_mc.h"

int bare_connect(bare_mc *c, const char *host, unsigned port) {
  struct addrinfo hints = {0}, *ai = NULL;
  char service[16];
  snprintf(service, sizeof service, "%u", port);
  hints.ai_socktype = SOCK_STREAM;
  c->fd = -1;
  c->off = c->have = 0;
  if (getaddrinfo(host, service, &hints, &ai) != 0)
    return -1;
  int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  return 0;
}

void bare_close(bare_mc *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

static int send_all(bare_mc *c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Makes at least `need` unread bytes available in the buffer. */
static int fill(bare_mc *c, size_t need) {
  if (need > BARE_BUF_SIZE)
    return -1;
  if (c->off + need > BARE_BUF_SIZE) {
    memmove(c->buf, c->buf + c->off, c->have - c->off);
    c->have -= c->off;
    c->off = 0;
  }
  while (c->have - c->off < need) {
    ssize_t r = recv(c->fd, c->buf + c->have, BARE_BUF_SIZE - c->have, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    c->have += (size_t)r;
  }
  return 0;
}

/* The next reply line without its CR LF, NUL-terminated in place.
 * Borrowed until the next read. */
static char *next_line(bare_mc *c) {
  size_t scanned = 0;
  for (;;) {
    char *start = c->buf + c->off;
    char *lf = memchr(start + scanned, '\n', c->have - c->off - scanned);
    if (lf) {
      if (lf == start || lf[-1] != '\r')
        return NULL;
      lf[-1] = '\0';
      c->off = (size_t)(lf + 1 - c->buf);
      return start;
    }
    scanned = c->have - c->off;
    if (fill(c, scanned + 1) != 0)
      return NULL;
  }
}

/* Skips a value of `len` bytes and its CR LF. */
static int skip_value(bare_mc *c, size_t len) {
  if (fill(c, len + 2) != 0)
    return -1;
  c->off += len + 2;
  return 0;
}

/* Parses the flags of a "VA <len> c<cas> f<flags>" line. */
static int parse_va(char *line, uint64_t *cas, uint32_t *flags,
                    size_t *vlen) {
  char *end, *save = NULL;
  *vlen = strtoul(line + 3, &end, 10);
  for (char *t = strtok_r(end, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    if (t[0] == 'c')
      *cas = strtoull(t + 1, NULL, 10);
    else if (t[0] == 'f')
      *flags = (uint32_t)strtoul(t + 1, NULL, 10);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Requests: appended to a batch, sent with one write, answered in order     */
/* ------------------------------------------------------------------------ */

static int batch_put(bare_batch *b, const void *p, size_t n) {
  if (n > sizeof b->buf - b->len)
    return -1;
  memcpy(b->buf + b->len, p, n);
  b->len += n;
  return 0;
}

int bare_batch_mg(bare_batch *b, const char *key, uint32_t ttl) {
  char req[320];
  int n = snprintf(req, sizeof req, "mg %s v c f T%" PRIu32 "\r\n", key, ttl);
  if (n < 0 || (size_t)n >= sizeof req)
    return -1;
  return batch_put(b, req, (size_t)n);
}

int bare_batch_ms_cas(bare_batch *b, const char *key, const void *data,
                      size_t len, uint32_t ttl, uint32_t flags, uint64_t cas) {
  char req[320];
  int n = snprintf(req, sizeof req,
                   "ms %s %zu T%" PRIu32 " F%" PRIu32 " C%" PRIu64 "\r\n", key,
                   len, ttl, flags, cas);
  if (n < 0 || (size_t)n >= sizeof req || batch_put(b, req, (size_t)n) != 0 ||
      batch_put(b, data, len) != 0)
    return -1;
  return batch_put(b, "\r\n", 2);
}

int bare_batch_send(bare_mc *c, bare_batch *b) {
  int rc = send_all(c, b->buf, b->len);
  b->len = 0;
  return rc;
}

int bare_read_mg(bare_mc *c, uint64_t *cas, uint32_t *flags, size_t *vlen) {
  char *line = next_line(c);
  if (!line)
    return -1;
  if (strcmp(line, "EN") == 0)
    return 0;
  if (strncmp(line, "VA ", 3) != 0)
    return -1;
  parse_va(line, cas, flags, vlen);
  return skip_value(c, *vlen) == 0 ? 1 : -1;
}

int bare_read_ms(bare_mc *c) {
  char *line = next_line(c);
  if (!line)
    return -1;
  if (strcmp(line, "HD") == 0)
    return 1;
  return strcmp(line, "EX") == 0 || strcmp(line, "NF") == 0 ? 0 : -1;
}

int bare_mg(bare_mc *c, const char *key, uint32_t ttl, uint64_t *cas,
            uint32_t *flags, size_t *vlen) {
  bare_batch b = {.len = 0};
  if (bare_batch_mg(&b, key, ttl) != 0 || bare_batch_send(c, &b) != 0)
    return -1;
  return bare_read_mg(c, cas, flags, vlen);
}

int bare_ms_cas(bare_mc *c, const char *key, const void *data, size_t len,
                uint32_t ttl, uint32_t flags, uint64_t cas) {
  bare_batch b = {.len = 0};
  if (bare_batch_ms_cas(&b, key, data, len, ttl, flags, cas) != 0 ||
      bare_batch_send(c, &b) != 0)
    return -1;
  return bare_read_ms(c);
}

int bare_stat(bare_mc *c, const char *name, uint64_t *value) {
  if (send_all(c, "stats\r\n", 7) != 0)
    return -1;
  size_t name_len = strlen(name);
  int found = -1;
  for (;;) {
    char *line = next_line(c);
    if (!line)
      return -1;
    if (strcmp(line, "END") == 0)
      return found;
    if (strncmp(line, "STAT ", 5) == 0 &&
        strncmp(line + 5, name, name_len) == 0 && line[5 + name_len] == ' ') {
      *value = strtoull(line + 6 + name_len, NULL, 10);
      found = 0;
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Pipelined quiet writes                                                   */
/* ------------------------------------------------------------------------ */

#define PIPE_FLUSH_AT (256u * 1024u)

int bare_pipe_init(bare_pipe *p, bare_mc *mc) {
  memset(p, 0, sizeof *p);
  p->mc = mc;
  p->cap = PIPE_FLUSH_AT + 4096;
  p->buf = malloc(p->cap);
  return p->buf ? 0 : -1;
}

int bare_pipe_set(bare_pipe *p, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t ttl, uint32_t flags) {
  size_t need = key_len + len + 64;
  if (p->len + need > p->cap && bare_pipe_flush(p) != 0)
    return -1;
  if (need > p->cap)
    return -1;
  int n = snprintf(p->buf + p->len, p->cap - p->len,
                   "ms %.*s %zu T%" PRIu32 " F%" PRIu32 " q\r\n", (int)key_len,
                   key, len, ttl, flags);
  p->len += (size_t)n;
  memcpy(p->buf + p->len, data, len);
  memcpy(p->buf + p->len + len, "\r\n", 2);
  p->len += len + 2;
  p->written++;
  return p->len >= PIPE_FLUSH_AT ? bare_pipe_flush(p) : 0;
}

int bare_pipe_flush(bare_pipe *p) {
  if (p->len == 0)
    return 0;
  memcpy(p->buf + p->len, "mn\r\n", 4);
  if (send_all(p->mc, p->buf, p->len + 4) != 0)
    return -1;
  p->len = 0;
  /* Quiet mode: only failures answer, then MN closes the batch. */
  for (;;) {
    char *line = next_line(p->mc);
    if (!line)
      return -1;
    if (strcmp(line, "MN") == 0)
      return 0;
    p->errors++;
  }
}

void bare_pipe_free(bare_pipe *p) {
  free(p->buf);
  p->buf = NULL;
}
