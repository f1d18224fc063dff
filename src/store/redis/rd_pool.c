/*
 * A Redis server's connection pool: the rules of conn_pool.c (as the
 * memcached store's) over Redis connections (rd_conn.c), whose open
 * includes the handshake (AUTH, SELECT).
 */
#include "store/redis/rd_int.h"

/* What opening one connection needs: the store (timeouts, password,
 * database) and the server. */
typedef struct rd_target {
  mcs__rd_store *st;
  mcs_redis_server srv;
} rd_target;

static int rd_open(void *ctx, void **conn) {
  const rd_target *t = ctx;
  mcs__rd_conn *c = NULL;
  int rc = mcs__rd_conn_open(t->st, &t->srv, &c);
  *conn = c;
  return rc;
}

static void rd_close(void *conn) { mcs__rd_conn_close(conn); }

static bool rd_idle_ok(void *conn, bool probe) {
  return mcs__rd_conn_idle_ok(conn, probe);
}

static bool rd_done(void *conn) { return mcs__rd_conn_done(conn); }

static void rd_target_free(void *ctx) { mcs__free(ctx); }

static const mcs__conn_pool_ops RD_POOL_OPS = {rd_open, rd_close, rd_idle_ok,
                                               rd_done, rd_target_free};

int mcs__rd_pool_new(mcs__rd_store *st, const mcs_redis_server *srv,
                     mcs__conn_pool **out) {
  *out = NULL;
  rd_target *t = mcs__calloc(1, sizeof *t);
  if (!t)
    return MCS_ENOMEM;
  t->st = st;
  t->srv = *srv;
  int rc =
      mcs__conn_pool_new(&RD_POOL_OPS, t, st->cfg.pool, st->cfg.retry_s, out);
  if (rc != MCS_OK)
    mcs__free(t);
  return rc;
}
