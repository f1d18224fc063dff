/*
 * A memcached server's connection pool: the rules of conn_pool.c (a
 * bounded pool shared by all threads, a failed server skipped for retry_s
 * and then probed by one connect) over memcached connections (mc_conn.c).
 */
#include "store/memcached/mc_int.h"

/* What opening one connection needs. */
typedef struct mc_target {
  mcs_memcached_server srv;
  unsigned connect_timeout_ms;
} mc_target;

static int mc_open(void *ctx, void **conn) {
  const mc_target *t = ctx;
  mcs__mc_conn *c = NULL;
  int rc = mcs__mc_conn_open(&t->srv, t->connect_timeout_ms, &c);
  *conn = c;
  return rc;
}

static void mc_close(void *conn) { mcs__mc_conn_close(conn); }

static bool mc_idle_ok(void *conn, bool probe) {
  return mcs__mc_conn_idle_ok(conn, probe);
}

static bool mc_done(void *conn) { return mcs__mc_conn_done(conn); }

static void mc_target_free(void *ctx) { mcs__free(ctx); }

static const mcs__conn_pool_ops MC_POOL_OPS = {mc_open, mc_close, mc_idle_ok,
                                               mc_done, mc_target_free};

int mcs__mc_pool_new(const mcs_memcached_server *srv,
                     const mcs_memcached_config *cfg, mcs__conn_pool **out) {
  *out = NULL;
  mc_target *t = mcs__calloc(1, sizeof *t);
  if (!t)
    return MCS_ENOMEM;
  t->srv = *srv;
  t->connect_timeout_ms = cfg->connect_timeout_ms;
  int rc = mcs__conn_pool_new(&MC_POOL_OPS, t, cfg->pool, cfg->retry_s, out);
  if (rc != MCS_OK)
    mcs__free(t);
  return rc;
}
