/*
 * A Redis Cluster's slot map ("Redis cluster specification", "Client
 * and Server roles", "Redirection and resharding"): which node serves
 * each of the 16384 hash slots, read from CLUSTER SLOTS ("CLUSTER SLOTS"
 * in the command reference: an array of [start, end, [host, port, id,
 * ...], replicas...]; Redis 7 adds a map of metadata to each node, which
 * RESP2 sends as an array and we skip). The map is read when the store
 * first needs it, after a MOVED (throttled: a resharding sends many) and
 * after a node failed (a failover promotes a replica: the next map
 * names it). Reads take the lock shared; a refresh builds the new map
 * aside and swaps it in.
 */
#include <string.h>

#include "store/redis/rd_int.h"

/* At most one full read of the map per this many ms. */
#define REFRESH_GAP_MS 100

/* The index after the subtree that starts at i. */
static size_t skip(const mcs__rd_node *n, size_t count, size_t i) {
  size_t left = 1;
  while (left && i < count) {
    left += (n[i].type == MCS__RD_ARRAY ? (size_t)n[i].i : 0) - 1;
    i++;
  }
  return i;
}

int mcs__rd_slots_apply(mcs__rd_store *st, const mcs__rd_node *n,
                        size_t count) {
  if (!count || n[0].type != MCS__RD_ARRAY)
    return MCS_EPROTO;
  int16_t *map = mcs__malloc(MCS__RD_SLOTS * sizeof *map);
  if (!map)
    return MCS_ENOMEM;
  for (size_t s = 0; s < MCS__RD_SLOTS; s++)
    map[s] = -1;
  size_t i = 1;
  int rc = MCS_OK, ranges = 0;
  for (int64_t e = 0; e < n[0].i && rc == MCS_OK; e++) {
    const mcs__rd_node *r = &n[i];
    size_t end = skip(n, count, i);
    /* [start, end, [host, port, ...], ...]: 3 + the master's fields. */
    if (r->type != MCS__RD_ARRAY || r->i < 3 || i + 5 >= end ||
        r[1].type != MCS__RD_INT || r[2].type != MCS__RD_INT ||
        r[3].type != MCS__RD_ARRAY || r[3].i < 2 ||
        r[4].type != MCS__RD_BULK || r[5].type != MCS__RD_INT ||
        r[1].i < 0 || r[2].i < r[1].i || r[2].i >= MCS__RD_SLOTS ||
        r[5].i < 1 || r[5].i > 65535 || r[4].len == 0 ||
        r[4].len > MCS_REDIS_HOST_MAX) {
      rc = MCS_EPROTO;
      break;
    }
    int node = mcs__rd_node_find_add(st, (const char *)r[4].p, r[4].len,
                                     (uint16_t)r[5].i);
    if (node < 0) {
      rc = MCS_ENOMEM;
      break;
    }
    for (int64_t s = r[1].i; s <= r[2].i; s++)
      map[s] = (int16_t)node;
    ranges++;
    i = end;
  }
  if (rc == MCS_OK) {
    pthread_rwlock_wrlock(&st->slots_mu);
    memcpy(st->slots, map, MCS__RD_SLOTS * sizeof *map);
    pthread_rwlock_unlock(&st->slots_mu);
  }
  mcs__free(map);
  return rc;
}

/* CLUSTER SLOTS from one node. */
static int ask_node(mcs__rd_store *st, int node, mcs__rd_node *nodes) {
  static const mcs__rd_arg argv[2] = {{"CLUSTER", 7, NULL, 0},
                                      {"SLOTS", 5, NULL, 0}};
  mcs__conn_pool *pool = st->nodes[node]->pool;
  if (mcs__conn_pool_is_down(pool))
    return MCS_ESTORE;
  mcs__buf wire = MCS__BUF_INIT;
  void *conn = NULL;
  mcs__rd_conn *c = NULL;
  int64_t deadline = mcs__rd_now_ms() + st->cfg.io_timeout_ms;
  size_t sent, cnt = 0;
  int rc = mcs__rd_format(&wire, argv, 2);
  if (rc == MCS_OK)
    rc = mcs__conn_pool_acquire(pool, deadline, false, true, &conn);
  c = conn;
  if (rc == MCS_OK)
    rc = mcs__rd_conn_send(c, wire.data, wire.len, deadline, &sent);
  if (rc == MCS_OK)
    rc = mcs__rd_conn_read(c, MCS_REDIS_HOST_MAX + 64, deadline, nodes,
                           MCS__RD_SLOTS_NODES_MAX, &cnt, NULL);
  if (rc == MCS_OK && nodes[0].type == MCS__RD_ERROR) {
    mcs__rd_note_error(st, "CLUSTER SLOTS: ", nodes[0].p, nodes[0].len);
    rc = MCS_ESTORE; /* not a cluster node ("cluster support disabled") */
  } else if (rc == MCS_OK) {
    rc = mcs__rd_slots_apply(st, nodes, cnt);
  }
  if (c)
    mcs__conn_pool_release(pool, c, rc == MCS_OK);
  if (rc == MCS_ESTORE || rc == MCS_ETIMEDOUT)
    mcs__conn_pool_mark_down(pool);
  mcs__buf_free(&wire);
  return rc;
}

int mcs__rd_slots_refresh(mcs__rd_store *st) {
  mcs__rd_node *nodes = mcs__malloc(MCS__RD_SLOTS_NODES_MAX * sizeof *nodes);
  if (!nodes)
    return MCS_ENOMEM;
  pthread_mutex_lock(&st->refresh_mu);
  if (!atomic_load(&st->slots_stale) &&
      mcs__rd_now_ms() < atomic_load(&st->slots_next)) {
    pthread_mutex_unlock(&st->refresh_mu); /* another thread just did */
    mcs__free(nodes);
    return MCS_OK;
  }
  mcs__rd_slots_begin(st);
  int rc = MCS_ESTORE;
  /* The known nodes (seeds first) until one answers: a node that just
   * failed is marked down and skipped. */
  size_t n = atomic_load(&st->node_count);
  for (size_t i = 0; i < n && rc != MCS_OK && rc != MCS_ENOMEM; i++)
    rc = ask_node(st, (int)i, nodes);
  if (rc != MCS_OK)
    atomic_store(&st->slots_stale, true);
  pthread_mutex_unlock(&st->refresh_mu);
  mcs__free(nodes);
  return rc;
}

void mcs__rd_slots_moved(mcs__rd_store *st, uint16_t slot, int node) {
  pthread_rwlock_wrlock(&st->slots_mu);
  st->slots[slot] = (int16_t)node;
  pthread_rwlock_unlock(&st->slots_mu);
  atomic_store(&st->slots_stale, true); /* more slots have moved, surely */
}

int mcs__rd_redirect_parse(mcs__rd_store *st, const mcs__rd_node *err,
                           uint16_t *slot, int *node) {
  /* "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" */
  const char *p = memchr(err->p, ' ', err->len);
  const char *end = (const char *)err->p + err->len;
  const char *sp = p ? memchr(p + 1, ' ', (size_t)(end - p - 1)) : NULL;
  unsigned s;
  if (!sp || !mcs__url_uint(p + 1, (size_t)(sp - p - 1), MCS__RD_SLOTS - 1, &s))
    return MCS_EPROTO;
  const char *addr = sp + 1, *colon = NULL;
  for (const char *q = addr; q < end; q++)
    if (*q == ':')
      colon = q; /* the last one: an IPv6 address has many */
  unsigned port;
  if (!colon || colon == addr ||
      !mcs__url_uint(colon + 1, (size_t)(end - colon - 1), 65535, &port) ||
      port == 0)
    return MCS_EPROTO;
  *slot = (uint16_t)s;
  *node = mcs__rd_node_find_add(st, addr, (size_t)(colon - addr),
                                (uint16_t)port);
  return *node < 0 ? MCS_ENOMEM : MCS_OK;
}

int mcs__rd_route(mcs__rd_store *st, const char *key, size_t len) {
  if (!st->cfg.cluster)
    return st->ring ? (int)mcs__rd_ring_pick(st, key, len) : 0;
  if (mcs__rd_slots_due(st))
    (void)mcs__rd_slots_refresh(st);
  uint16_t slot = mcs__rd_slot(key, len);
  int node = mcs__rd_slot_node(st, slot);
  if (node < 0 && mcs__rd_slots_refresh(st) == MCS_OK)
    node = mcs__rd_slot_node(st, slot);
  return node;
}

int mcs__rd_slot_node(mcs__rd_store *st, uint16_t slot) {
  pthread_rwlock_rdlock(&st->slots_mu);
  int node = st->slots[slot];
  pthread_rwlock_unlock(&st->slots_mu);
  return node;
}

bool mcs__rd_slots_due(mcs__rd_store *st) {
  return atomic_load(&st->slots_stale) &&
         mcs__rd_now_ms() >= atomic_load(&st->slots_next);
}

void mcs__rd_slots_begin(mcs__rd_store *st) {
  atomic_store(&st->slots_stale, false);
  atomic_store(&st->slots_next, mcs__rd_now_ms() + REFRESH_GAP_MS);
  mcs__rd_count(&st->slot_refreshes);
}
