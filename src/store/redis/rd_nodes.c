/*
 * The servers a Redis store talks to: those of its URL, and the cluster
 * nodes it learns from CLUSTER SLOTS and redirections (each with its
 * pool, never removed while the store lives), and the ring that spreads
 * keys over several servers of a redis:// URL (the memcached store's
 * ketama ring, mc_ring.c).
 */
#include <string.h>

#include "store/memcached/mc_int.h" /* the ketama ring, shared */
#include "store/redis/rd_int.h"

typedef mcs__rd_store rd_store;

int mcs__rd_node_find_add(rd_store *st, const char *host, size_t hlen,
                          uint16_t port) {
  char h[MCS_REDIS_HOST_MAX + 1];
  if (hlen == 0 || hlen > MCS_REDIS_HOST_MAX ||
      !mcs__url_host_valid(host, hlen))
    return -1; /* a server's reply names no host we would connect to */
  memcpy(h, host, hlen);
  h[hlen] = '\0';
  pthread_mutex_lock(&st->nodes_mu);
  size_t n = atomic_load(&st->node_count);
  int found = -1;
  for (size_t i = 0; i < n && found < 0; i++)
    if (mcs__url_same_server(st->nodes[i]->srv.host, st->nodes[i]->srv.port,
                             h, port))
      found = (int)i;
  if (found < 0 && n < MCS__RD_NODES_MAX) {
    mcs__rd_node_srv *nd = mcs__calloc(1, sizeof *nd);
    if (nd) {
      memcpy(nd->srv.host, h, hlen + 1);
      nd->srv.port = port;
      if (mcs__rd_pool_new(st, &nd->srv, &nd->pool) == MCS_OK) {
        st->nodes[n] = nd;
        atomic_store(&st->node_count, n + 1); /* publishes nodes[n] */
        found = (int)n;
      } else {
        mcs__free(nd);
      }
    }
  }
  pthread_mutex_unlock(&st->nodes_mu);
  return found;
}

size_t mcs__rd_ring_pick(const rd_store *st, const char *key, size_t len) {
  return mcs__mc_ring_pick(st->ring, key, len);
}
