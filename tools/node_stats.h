/* A one-shot client of memcached's text `stats` command (memcached
 * doc/protocol.txt, "General-purpose statistics") and of Redis's `INFO`
 * (node_info.c), for `mcsession stats`: a short connection per server,
 * bounded by timeouts, nothing pooled. */
#ifndef MCS_TOOL_NODE_STATS_H
#define MCS_TOOL_NODE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcsession.h"

/* The figures `mcsession stats` reports, in its output order (memcached's
 * names; node_info.c says which INFO fields stand for them). */
#define NODE_STAT_NAMES(X)                                                     \
  X(curr_items)                                                                \
  X(get_hits)                                                                  \
  X(get_misses)                                                                \
  X(evictions)                                                                 \
  X(curr_connections)

typedef struct node_stats {
  bool up;          /* the server answered `stats` */
  char error[128];  /* why not, when !up */
  char version[48]; /* "1.6.18" */
#define NODE_STAT_FIELD(name) uint64_t name;
  NODE_STAT_NAMES(NODE_STAT_FIELD)
#undef NODE_STAT_FIELD
} node_stats;

/* A server to ask. */
typedef struct node_target {
  const char *host; /* a name or an address; IPv6 without brackets */
  uint16_t port;
  unsigned connect_ms, io_ms;
  bool redis; /* INFO instead of stats */
  /* Redis: AUTH first when password_len > 0; curr_items counts database
   * db's keys. BORROWED. */
  const char *password;
  size_t password_len;
  unsigned db;
} node_target;

/* Connects (within connect_ms), sends "stats" (or Redis's INFO), reads the
 * whole reply (within io_ms) and fills *out. Never fails otherwise: a
 * server that cannot be asked has up = false and a reason. */
void node_stats_read(const node_target *t, node_stats *out);

/* ---- Redis (node_info.c) ---- */
/* The request: [AUTH password] INFO, as RESP arrays, into buf. The length,
 * or 0 when it does not fit. */
size_t node_info_request(const node_target *t, char *buf, size_t size);
/* Whether buf[0..len) holds the whole reply to that request: 1 yes, 0 not
 * yet, -1 an error reply (its text is copied to out->error). */
int node_info_complete(const node_target *t, const char *buf, size_t len,
                       node_stats *out);
/* Fills *out from a complete reply (NUL-terminated). */
void node_info_parse(const node_target *t, char *buf, node_stats *out);

#endif /* MCS_TOOL_NODE_STATS_H */
