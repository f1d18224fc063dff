/*
 * The memcached store: mcs_store_ops over the meta protocol (memcached
 * doc/protocol.txt, "Meta Commands"):
 *
 *   get    mg <key> v c f [T<ttl>]     VA (hit) / EN (miss); with T the
 *                                      expiry slides in the same round trip
 *   add    ms <key> <n> T F ME c       HD c<cas> / NS (exists)
 *   cas    ms <key> <n> T F C<cas> c   HD c<cas> / EX / NF
 *   set    ms <key> <n> T F MS         HD
 *   del    md <key>                    HD / NF
 *   touch  mg <key> T<ttl>             HD / EN  (the protocol has no "mt";
 *                                      "Meta Get" replaces touch and gat;
 *                                      the item's CAS is kept)
 *
 * That is the replicas=0 path: one round trip per operation, values
 * stored exactly as given. With replicas > 0 the operations in
 * mc_replica.c run instead, over the same request engine (mcs__mc_exec).
 *
 * Each request goes to the server the hash ring picks, over a pooled
 * connection. Every request carries an opaque (O<n>, the connection's
 * counter) that its reply must echo, so a reply left over on a pooled
 * connection (one that came twice) can never answer the next request.
 * Any reply that is malformed, does not fit the request or does not echo
 * its opaque, and any failure mid-reply, closes that connection: a stream
 * that may be out of step is never reused. A request is repeated (once,
 * on a fresh connection) only when nothing of it can have been applied:
 * the send failed before the kernel accepted a byte, or, for the
 * read-only and idempotent mg, the reused connection turned out to be
 * closed.
 */
#include <stdatomic.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "store/memcached/mc_int.h"

typedef mcs__mc_store mc_store;

static void mc_destroy(void *ud);
static int mc_peek(void *ud, const char *key, size_t key_len,
                   mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                   int64_t *ttl, mcs_store_result *result);

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

static mcs__mc_req make_req(mcs__mc_cmd cmd, const char *key, size_t len) {
  mcs__mc_req r;
  memset(&r, 0, sizeof r);
  r.cmd = cmd;
  r.key = key;
  r.key_len = len;
  return r;
}

static int mc_get(void *ud, const char *key, size_t key_len,
                  uint32_t touch_ttl, mcs_store_value *value, uint64_t *cas,
                  uint32_t *flags, mcs_store_result *result) {
  mcs__mc_req req = make_req(MCS__MC_GET, key, key_len);
  mcs__mc_resp resp;
  req.ttl = touch_ttl ? mcs__mc_wire_ttl(touch_ttl) : 0;
  int rc = mcs__mc_roundtrip(ud, &req, value, &resp);
  if (rc)
    return rc;
  *result = mcs__mc_result(req.cmd, resp.status);
  if (*result == MCS_STORE_HIT) {
    *cas = resp.cas;
    *flags = resp.flags;
  }
  return MCS_OK;
}

/* Shared by add, cas and set: an ms with T, F and the mode's flags. */
static int mc_store_cmd(void *ud, mcs__mc_cmd cmd, const char *key,
                        size_t key_len, const void *data, size_t len,
                        uint32_t flags, uint32_t ttl, uint64_t cas,
                        uint64_t *new_cas, mcs_store_result *result) {
  mcs__mc_req req = make_req(cmd, key, key_len);
  mcs__mc_resp resp;
  req.data = data;
  req.data_len = len;
  req.flags = flags;
  req.ttl = mcs__mc_wire_ttl(ttl);
  req.cas = cas;
  req.want_cas = new_cas != NULL;
  int rc = mcs__mc_roundtrip(ud, &req, NULL, &resp);
  if (rc)
    return rc;
  *result = mcs__mc_result(cmd, resp.status);
  if (*result == MCS_STORE_STORED && new_cas)
    *new_cas = resp.cas;
  return MCS_OK;
}

static int mc_add(void *ud, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  uint64_t *cas, mcs_store_result *result) {
  return mc_store_cmd(ud, MCS__MC_ADD, key, key_len, data, len, flags, ttl,
                      0, cas, result);
}

static int mc_cas(void *ud, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  uint64_t cas, uint64_t *new_cas,
                  mcs_store_result *result) {
  return mc_store_cmd(ud, MCS__MC_CAS, key, key_len, data, len, flags, ttl,
                      cas, new_cas, result);
}

static int mc_set(void *ud, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  mcs_store_result *result) {
  return mc_store_cmd(ud, MCS__MC_SET, key, key_len, data, len, flags, ttl,
                      0, NULL, result);
}

static int mc_del(void *ud, const char *key, size_t key_len,
                  mcs_store_result *result) {
  mcs__mc_req req = make_req(MCS__MC_DELETE, key, key_len);
  mcs__mc_resp resp;
  int rc = mcs__mc_roundtrip(ud, &req, NULL, &resp);
  if (!rc)
    *result = mcs__mc_result(req.cmd, resp.status);
  return rc;
}

static int mc_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                    mcs_store_result *result) {
  mcs__mc_req req = make_req(MCS__MC_TOUCH, key, key_len);
  mcs__mc_resp resp;
  req.ttl = mcs__mc_wire_ttl(ttl);
  int rc = mcs__mc_roundtrip(ud, &req, NULL, &resp);
  if (!rc)
    *result = mcs__mc_result(req.cmd, resp.status);
  return rc;
}

static const char *mc_key_prefix(void *ud) {
  return ((const mc_store *)ud)->cfg.prefix;
}

/* replicas=0: one request to one server per operation, values as given,
 * get-and-touch in one `mg T`; and an engine per event loop (mc_async.c)
 * that pipelines them. */
static const mcs_store_ops mc_ops = {
    .version = MCS_STORE_OPS_VERSION,
    .get = mc_get,
    .add = mc_add,
    .cas = mc_cas,
    .set = mc_set,
    .del = mc_del,
    .touch = mc_touch,
    .destroy = mc_destroy,
    .peek = mc_peek,
    .kind = "memcached",
    .caps = MCS_STORE_CAP_ATOMIC_GET_TOUCH,
    .key_prefix = mc_key_prefix,
    .attach = mcs__mc_async_attach,
    .detach = mcs__mc_async_detach,
    .submit = mcs__mc_async_submit,
    .flush = mcs__mc_async_flush,
    .timeout = mcs__mc_async_timeout,
    .event = mcs__mc_async_event,
};

/* replicas>0: every key on replicas + 1 servers, values carrying a
 * revision header (mc_replica.c); get-and-touch is one `mg T` per copy.
 * No engine: an operation is up to three dependent rounds over several
 * servers, which an event loop runs on its helper thread. */
static const mcs_store_ops mc_replica_ops = {
    .version = MCS_STORE_OPS_VERSION,
    .get = mcs__mc_r_get,
    .add = mcs__mc_r_add,
    .cas = mcs__mc_r_cas,
    .set = mcs__mc_r_set,
    .del = mcs__mc_r_del,
    .touch = mcs__mc_r_touch,
    .destroy = mc_destroy,
    .peek = mc_peek,
    .kind = "memcached",
    .caps = MCS_STORE_CAP_ATOMIC_GET_TOUCH,
    .key_prefix = mc_key_prefix,
};

/* The memcached store's identity (struct mcs_store's `own`), for both
 * tables. */
static const char mc_identity = 'M';

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

static void mc_destroy(void *ud) {
  mc_store *st = ud;
  if (!st)
    return;
  for (size_t i = 0; st->pools && i < st->cfg.server_count; i++)
    mcs__conn_pool_free(st->pools[i]);
  mcs__free(st->pools);
  mcs__mc_ring_free(st->ring);
  mcs__free(st);
}

static int build_ring(mc_store *st) {
  size_t n = st->cfg.server_count;
  if (st->cfg.hash == MCS_MEMCACHED_HASH_PYTHON_MEMCACHE)
    return mcs__mc_ring_new_modulo(n, &st->ring);
  return mcs__mc_ring_new_servers(&mcs__mc_servers_layout, st->cfg.servers, n,
                                  &st->ring);
}

static int build_pools(mc_store *st) {
  st->pools = mcs__calloc(st->cfg.server_count, sizeof *st->pools);
  if (!st->pools)
    return MCS_ENOMEM;
  for (size_t i = 0; i < st->cfg.server_count; i++) {
    int rc = mcs__mc_pool_new(&st->cfg.servers[i], &st->cfg, &st->pools[i]);
    if (rc)
      return rc;
  }
  return MCS_OK;
}

int mcs_store_memcached_new_config(mcs_store **out,
                                   const mcs_memcached_config *cfg) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  if (mcs_memcached_config_check(cfg, NULL, 0) != MCS_OK)
    return MCS_EINVAL;
  mc_store *st = mcs__calloc(1, sizeof *st);
  if (!st)
    return MCS_ENOMEM;
  st->cfg = *cfg;
  int rc = build_ring(st);
  if (!rc)
    rc = build_pools(st);
  if (!rc)
    rc = mcs__store_new_own(out, cfg->replicas ? &mc_replica_ops : &mc_ops, st,
                            &mc_identity);
  if (rc)
    mc_destroy(st);
  return rc;
}

int mcs_store_memcached_new(mcs_store **out, const char *url) {
  mcs_memcached_config cfg;
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  int rc = mcs_memcached_url_parse(url, &cfg, NULL, 0);
  return rc ? rc : mcs_store_memcached_new_config(out, &cfg);
}

/* The store's user data when `store` is a memcached store, else NULL. */
static mc_store *ours(const mcs_store *store) {
  return mcs__store_own_ud(store, &mc_identity);
}

const char *mcs_store_memcached_prefix(const mcs_store *store) {
  const mc_store *st = ours(store);
  return st ? st->cfg.prefix : NULL;
}

int mcs_store_memcached_stats_get(const mcs_store *store,
                              mcs_memcached_stats *stats) {
  mc_store *st = ours(store);
  if (!st || !stats)
    return MCS_EINVAL;
  memset(stats, 0, sizeof *stats);
  stats->requests = atomic_load(&st->requests);
  stats->timeouts = atomic_load(&st->timeouts);
  stats->protocol_errors = atomic_load(&st->protocol_errors);
  stats->retries = atomic_load(&st->retries);
  for (size_t i = 0; i < st->cfg.server_count; i++) {
    mcs__conn_pool_stats ps;
    mcs__conn_pool_stats_get(st->pools[i], &ps);
    stats->connects += ps.connects;
    stats->connect_failures += ps.connect_failures;
    stats->down_skips += ps.down_skips;
  }
  return MCS_OK;
}

/* ------------------------------------------------------------------------ */
/* Peek: reading without touching (mcs_store_ops.peek)                      */
/* ------------------------------------------------------------------------ */

/* The copy to report among those read: the highest revision, tombstones
 * counting as absent; -1 when none. With replicas=0 there is one copy. */
static int peek_winner(const mcs__mc_op *ops, mcs_store_value *copies,
                       size_t n, mcs__mc_hdr *hdr, size_t *offset) {
  int w = -1;
  for (size_t i = 0; i < n; i++) {
    mcs__mc_hdr h = {false, 0};
    if (ops[i].rc != MCS_OK || ops[i].resp.status != MCS__MC_VA)
      continue;
    size_t off = mcs__mc_hdr_get(copies[i].buf.data, copies[i].buf.len, &h);
    if (w < 0 || h.rev > hdr->rev) {
      w = (int)i;
      *hdr = h;
      *offset = off;
    }
  }
  return w;
}

/* The answer from the copies read: an error only when no copy answered.
 * The CAS token is what get would give: the server's own with replicas=0,
 * else the revision + 1 (mc_replica.c, token_of). */
static int peek_result(mc_store *st, const mcs__mc_op *ops,
                       mcs_store_value *copies, size_t n,
                       mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                       int64_t *ttl, mcs_store_result *result) {
  mcs__mc_hdr hdr = {false, 0};
  size_t off = 0;
  int w = peek_winner(ops, copies, n, &hdr, &off);
  int rc = ops[0].rc;
  for (size_t i = 0; i < n && rc; i++)
    if (ops[i].rc == MCS_OK)
      rc = MCS_OK;
  if (st->cfg.replicas == 0) { /* values are stored exactly as given */
    off = 0;
    hdr.tomb = false;
  }
  *result = MCS_STORE_MISS;
  if (rc || w < 0 || hdr.tomb)
    return rc;
  *result = MCS_STORE_HIT;
  *cas = st->cfg.replicas == 0 ? ops[w].resp.cas : hdr.rev + 1;
  *flags = ops[w].resp.flags;
  /* `t` is -1 for an item without expiry, as MCS_STORE_TTL_NEVER. */
  *ttl = ops[w].resp.has_ttl ? ops[w].resp.ttl : MCS_STORE_TTL_UNKNOWN;
  return mcs_store_value_set(value, copies[w].buf.data + off,
                             copies[w].buf.len - off);
}

/* `mg <key> v c f t` (no T: no slide) to every copy at once; the newest
 * copy's value (header removed), flags and remaining TTL. No read
 * repair: a look changes nothing. */
static int mc_peek(void *ud, const char *key, size_t key_len,
                   mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                   int64_t *ttl, mcs_store_result *result) {
  mc_store *st = ud;
  size_t server[MCS_MEMCACHED_REPLICAS_MAX + 1];
  mcs__mc_op ops[MCS_MEMCACHED_REPLICAS_MAX + 1];
  mcs_store_value copies[MCS_MEMCACHED_REPLICAS_MAX + 1];
  size_t n = mcs__mc_ring_pick_n(st->ring, key, key_len,
                                 st->cfg.replicas + 1, server);
  for (size_t i = 0; i < n; i++) {
    copies[i] = (mcs_store_value){MCS__BUF_INIT,
                                  mcs__mc_value_limit(value) + MCS__MC_HDR_LEN};
    ops[i].server = server[i];
    ops[i].req = make_req(MCS__MC_GET, key, key_len);
    ops[i].req.want_ttl = true;
    ops[i].value = &copies[i];
  }
  mcs__mc_exec(st, ops, n);
  int rc = peek_result(st, ops, copies, n, value, cas, flags, ttl, result);
  for (size_t i = 0; i < n; i++)
    mcs__buf_free(&copies[i].buf);
  return rc;
}
