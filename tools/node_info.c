/* Redis's INFO for `mcsession stats` ("INFO" in the Redis command
 * reference; RESP2 framing as in "RESP protocol specification"). The
 * figures map onto memcached's columns:
 *
 *   curr_items        keys of the URL's database ("db0:keys=N,...")
 *   get_hits          keyspace_hits
 *   get_misses        keyspace_misses
 *   evictions         evicted_keys
 *   curr_connections  connected_clients
 *   version           redis_version
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_stats.h"

/* Appends a RESP bulk string; false when it does not fit. */
static bool put_bulk(char *buf, size_t size, size_t *len, const char *p,
                     size_t n) {
  char head[32];
  int h = snprintf(head, sizeof head, "$%zu\r\n", n);
  if (h < 0 || *len + (size_t)h + n + 2 > size)
    return false;
  memcpy(buf + *len, head, (size_t)h);
  memcpy(buf + *len + h, p, n);
  memcpy(buf + *len + h + n, "\r\n", 2);
  *len += (size_t)h + n + 2;
  return true;
}

size_t node_info_request(const node_target *t, char *buf, size_t size) {
  size_t len = 0;
  if (t->password_len) {
    if (size < 4)
      return 0;
    memcpy(buf, "*2\r\n", 4);
    len = 4;
    if (!put_bulk(buf, size, &len, "AUTH", 4) ||
        !put_bulk(buf, size, &len, t->password, t->password_len))
      return 0;
  }
  if (len + 4 > size)
    return 0;
  memcpy(buf + len, "*1\r\n", 4);
  len += 4;
  return put_bulk(buf, size, &len, "INFO", 4) ? len : 0;
}

/* The line at *pos (CR LF excluded): its length, or -1 when not whole. */
static long line_at(const char *buf, size_t len, size_t pos) {
  const char *lf = pos < len ? memchr(buf + pos, '\n', len - pos) : NULL;
  if (!lf || lf == buf + pos || lf[-1] != '\r')
    return -1;
  return (long)(lf - (buf + pos)) - 1;
}

/* An error reply's text (the password is never in one) into out. */
static int error_reply(const char *p, long n, node_stats *out) {
  snprintf(out->error, sizeof out->error, "%.*s", (int)(n < 120 ? n : 120),
           p + 1);
  return -1;
}

int node_info_complete(const node_target *t, const char *buf, size_t len,
                       node_stats *out) {
  size_t pos = 0;
  long n;
  if (t->password_len) { /* +OK to AUTH */
    if ((n = line_at(buf, len, 0)) < 0)
      return 0;
    if (buf[0] != '+')
      return buf[0] == '-' ? error_reply(buf, n, out) : -1;
    pos = (size_t)n + 2;
  }
  if ((n = line_at(buf, len, pos)) < 0)
    return 0;
  if (buf[pos] == '-')
    return error_reply(buf + pos, n, out);
  char *end = NULL;
  errno = 0;
  unsigned long long body = strtoull(buf + pos + 1, &end, 10);
  if (buf[pos] != '$' || errno || end != buf + pos + n || body > len)
    return -1;
  pos += (size_t)n + 2;
  return len - pos >= body + 2 ? 1 : 0;
}

static void take_u64(const char *value, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(value, &end, 10);
  if (!errno && end != value)
    *out = v;
}

/* One "name:value" line (NUL-terminated, CR removed). */
static void take_line(const node_target *t, char *line, node_stats *out) {
  char db[24];
  char *value = strchr(line, ':');
  if (!value)
    return;
  *value++ = '\0';
  snprintf(db, sizeof db, "db%u", t->db);
  if (strcmp(line, "redis_version") == 0)
    snprintf(out->version, sizeof out->version, "%s", value);
  else if (strcmp(line, "keyspace_hits") == 0)
    take_u64(value, &out->get_hits);
  else if (strcmp(line, "keyspace_misses") == 0)
    take_u64(value, &out->get_misses);
  else if (strcmp(line, "evicted_keys") == 0)
    take_u64(value, &out->evictions);
  else if (strcmp(line, "connected_clients") == 0)
    take_u64(value, &out->curr_connections);
  else if (strcmp(line, db) == 0 && strncmp(value, "keys=", 5) == 0)
    take_u64(value + 5, &out->curr_items);
}

void node_info_parse(const node_target *t, char *buf, node_stats *out) {
  char *body = strchr(buf + (buf[0] == '+'), '$'); /* after AUTH's +OK */
  char *line = body ? strstr(body, "\r\n") : NULL;
  while (line && *(line += 2)) {
    char *eol = strstr(line, "\r\n");
    if (!eol)
      break;
    *eol = '\0';
    take_line(t, line, out);
    line = eol;
  }
}
