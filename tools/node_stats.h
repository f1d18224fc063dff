/* A one-shot client of memcached's text `stats` command (memcached
 * doc/protocol.txt, "General-purpose statistics"), for `mcsession stats`:
 * a short connection per server, bounded by timeouts, nothing pooled. */
#ifndef MCS_TOOL_NODE_STATS_H
#define MCS_TOOL_NODE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcsession.h"

/* The figures `mcsession stats` reports, in its output order. */
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

/* Connects (within connect_ms), sends "stats", reads until "END" (within
 * io_ms) and fills *out. Never fails otherwise: a server that cannot be
 * asked has up = false and a reason. */
void node_stats_read(const mcs_memcached_server *srv, unsigned connect_ms,
                     unsigned io_ms, node_stats *out);

#endif /* MCS_TOOL_NODE_STATS_H */
