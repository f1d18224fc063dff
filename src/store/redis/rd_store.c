/*
 * The Redis store: the operations table (the blocking side here, the
 * engine in rd_async.c, the commands in rd_ops.c), its life cycle, the
 * password file, the servers it knows, and its counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "store/memcached/mc_int.h" /* mcs__mc_ring_new, _free */
#include "store/redis/rd_int.h"

typedef mcs__rd_store rd_store;

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

/* Runs one store operation as one command (two after NOSCRIPT). */
static int run_op(rd_store *st, const mcs__rd_opargs *in,
                  mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                  mcs_store_result *result) {
  mcs__rd_opargs a = *in;
  int rc = mcs__rd_op_check(&a);
  for (int round = 0; rc == MCS_OK && round < 2; round++) {
    mcs__rd_opbuf b;
    mcs__rd_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.key = a.key;
    cmd.key_len = a.key_len;
    cmd.kind = a.kind == MCS_STORE_OP_GET || a.kind == MCS_STORE_OP_TOUCH
                   ? MCS__RD_K_READ
                   : MCS__RD_K_WRITE;
    cmd.ncmds = 1;
    cmd.argc[0] = mcs__rd_op_argv(&a, &b, cmd.argv[0]);
    cmd.max_bulk = mcs__rd_value_limit(value);
    bool noscript = false;
    rc = mcs__rd_run(st, &cmd);
    if (rc == MCS_OK)
      rc = mcs__rd_op_result(st, a.kind, &cmd.out[0], &b, value, cas, flags,
                             result, &noscript);
    mcs__buf_free(&cmd.reply);
    if (rc || !noscript)
      return rc;
    mcs__rd_count(&st->script_loads);
    a.eval_text = true; /* EVAL caches the script again ("Script cache") */
  }
  return rc ? rc : MCS_EPROTO; /* NOSCRIPT twice: not a Redis we know */
}

static mcs__rd_opargs args(mcs_store_op_kind kind, const char *key,
                           size_t key_len) {
  mcs__rd_opargs a;
  memset(&a, 0, sizeof a);
  a.kind = kind;
  a.key = key;
  a.key_len = key_len;
  return a;
}

static int rd_get(void *ud, const char *key, size_t key_len,
                  uint32_t touch_ttl, mcs_store_value *value, uint64_t *cas,
                  uint32_t *flags, mcs_store_result *result) {
  mcs__rd_opargs a = args(MCS_STORE_OP_GET, key, key_len);
  a.ttl = touch_ttl;
  return run_op(ud, &a, value, cas, flags, result);
}

static int rd_write(void *ud, mcs_store_op_kind kind, const char *key,
                    size_t key_len, const void *data, size_t len,
                    uint32_t flags, uint32_t ttl, uint64_t cas,
                    uint64_t *new_cas, mcs_store_result *result) {
  mcs__rd_opargs a = args(kind, key, key_len);
  uint64_t token = 0;
  uint32_t fl = 0;
  a.data = data;
  a.len = len;
  a.flags = flags;
  a.ttl = ttl;
  a.cas = cas;
  int rc = run_op(ud, &a, NULL, &token, &fl, result);
  if (rc == MCS_OK && *result == MCS_STORE_STORED && new_cas)
    *new_cas = token;
  return rc;
}

static int rd_add(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl, uint64_t *cas,
                  mcs_store_result *result) {
  return rd_write(ud, MCS_STORE_OP_ADD, key, key_len, data, len, flags, ttl,
                  0, cas, result);
}

static int rd_cas(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl, uint64_t cas,
                  uint64_t *new_cas, mcs_store_result *result) {
  return rd_write(ud, MCS_STORE_OP_CAS, key, key_len, data, len, flags, ttl,
                  cas, new_cas, result);
}

static int rd_set(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl,
                  mcs_store_result *result) {
  return rd_write(ud, MCS_STORE_OP_SET, key, key_len, data, len, flags, ttl,
                  0, NULL, result);
}

static int rd_del(void *ud, const char *key, size_t key_len,
                  mcs_store_result *result) {
  mcs__rd_opargs a = args(MCS_STORE_OP_DELETE, key, key_len);
  uint64_t c;
  uint32_t f;
  return run_op(ud, &a, NULL, &c, &f, result);
}

static int rd_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                    mcs_store_result *result) {
  mcs__rd_opargs a = args(MCS_STORE_OP_TOUCH, key, key_len);
  uint64_t c;
  uint32_t f;
  a.ttl = ttl;
  return run_op(ud, &a, NULL, &c, &f, result);
}

/* GET and PTTL pipelined to the key's server: one round trip, nothing
 * changed. PTTL ("PTTL"): -1 no expiry, -2 no key (gone between the two:
 * the TTL is then unknown). */
static int rd_peek(void *ud, const char *key, size_t key_len,
                   mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                   int64_t *ttl, mcs_store_result *result) {
  rd_store *st = ud;
  mcs__rd_opargs a = args(MCS_STORE_OP_GET, key, key_len);
  mcs__rd_opbuf b;
  mcs__rd_cmd cmd;
  int rc = mcs__rd_op_check(&a);
  if (rc)
    return rc;
  memset(&cmd, 0, sizeof cmd);
  cmd.key = key;
  cmd.key_len = key_len;
  cmd.kind = MCS__RD_K_READ;
  cmd.ncmds = 2;
  cmd.argc[0] = mcs__rd_op_argv(&a, &b, cmd.argv[0]);
  cmd.argv[1][0] = (mcs__rd_arg){"PTTL", 4, NULL, 0};
  cmd.argv[1][1] = (mcs__rd_arg){key, key_len, NULL, 0};
  cmd.argc[1] = 2;
  cmd.max_bulk = mcs__rd_value_limit(value);
  bool noscript;
  rc = mcs__rd_run(st, &cmd);
  if (rc == MCS_OK)
    rc = mcs__rd_op_result(st, MCS_STORE_OP_GET, &cmd.out[0], &b, value, cas,
                           flags, result, &noscript);
  if (rc == MCS_OK && *result == MCS_STORE_HIT) {
    const mcs__rd_node *t = &cmd.out[1];
    if (t->type != MCS__RD_INT)
      rc = MCS_EPROTO;
    else
      *ttl = t->i == -1 ? MCS_STORE_TTL_NEVER
             : t->i < 0 ? MCS_STORE_TTL_UNKNOWN
                        : t->i / 1000;
  }
  mcs__buf_free(&cmd.reply);
  return rc;
}

static const char *rd_key_prefix(void *ud) {
  return ((const rd_store *)ud)->cfg.prefix;
}

static void rd_destroy(void *ud);

/* redis:// and redis+cluster://: one command per operation (routed by
 * the ring or the slot map, and redirected in a cluster), GETEX reads and
 * slides at once; an engine per event loop pipelines them (rd_async.c). */
static const mcs_store_ops rd_ops = {
    .version = MCS_STORE_OPS_VERSION,
    .get = rd_get,
    .add = rd_add,
    .cas = rd_cas,
    .set = rd_set,
    .del = rd_del,
    .touch = rd_touch,
    .destroy = rd_destroy,
    .peek = rd_peek,
    .kind = "redis",
    .caps = MCS_STORE_CAP_ATOMIC_GET_TOUCH,
    .key_prefix = rd_key_prefix,
    .attach = mcs__rd_async_attach,
    .detach = mcs__rd_async_detach,
    .submit = mcs__rd_async_submit,
    .flush = mcs__rd_async_flush,
    .timeout = mcs__rd_async_timeout,
    .event = mcs__rd_async_event,
};

static const char rd_identity = 'R';

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

static void rd_destroy(void *ud) {
  rd_store *st = ud;
  if (!st)
    return;
  size_t n = atomic_load(&st->node_count);
  for (size_t i = 0; i < n; i++) {
    mcs__conn_pool_free(st->nodes[i]->pool);
    mcs__free(st->nodes[i]);
  }
  mcs__mc_ring_free(st->ring);
  mcs__free(st->slots);
  pthread_rwlock_destroy(&st->slots_mu);
  pthread_mutex_destroy(&st->nodes_mu);
  pthread_mutex_destroy(&st->refresh_mu);
  pthread_mutex_destroy(&st->err_mu);
  sodium_memzero(st->password, sizeof st->password);
  mcs__free(st);
}

/* The password: the file's first line, without its line end. */
static int read_password(rd_store *st, char *err, size_t es) {
  const char *path = st->cfg.password_file;
  char buf[MCS_REDIS_PASSWORD_MAX + 2];
  if (!path[0])
    return MCS_OK;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return mcs__url_fail(err, es, "cannot open password_file '%.200s': %s",
                         path, strerror(errno));
  size_t len = 0;
  ssize_t n = 0;
  while (len < sizeof buf &&
         ((n = read(fd, buf + len, sizeof buf - len)) > 0 ||
          (n < 0 && errno == EINTR)))
    len += n > 0 ? (size_t)n : 0;
  close(fd);
  size_t line = 0;
  while (line < len && buf[line] != '\n' && buf[line] != '\r')
    line++;
  int rc = MCS_OK;
  if (n < 0)
    rc = mcs__url_fail(err, es, "cannot read password_file '%.200s'", path);
  else if (line > MCS_REDIS_PASSWORD_MAX)
    rc = mcs__url_fail(err, es, "password in '%.200s' longer than %d bytes",
                       path, MCS_REDIS_PASSWORD_MAX);
  else if (line == 0)
    rc = mcs__url_fail(err, es, "password_file '%.200s' is empty", path);
  else if (memchr(buf, '\0', line))
    rc = mcs__url_fail(err, es, "password in '%.200s' has a NUL byte", path);
  if (rc == MCS_OK) {
    memcpy(st->password, buf, line);
    st->password_len = line;
  }
  sodium_memzero(buf, sizeof buf);
  return rc;
}

static int build_ring(rd_store *st) {
  return mcs__mc_ring_new_servers(&mcs__rd_servers_layout, st->cfg.servers,
                                  st->cfg.server_count,
                                  (mcs__mc_ring **)&st->ring);
}

static int init_locks(rd_store *st) {
  int ok = 0;
  ok += pthread_mutex_init(&st->nodes_mu, NULL) == 0;
  ok += pthread_mutex_init(&st->refresh_mu, NULL) == 0;
  ok += pthread_mutex_init(&st->err_mu, NULL) == 0;
  ok += pthread_rwlock_init(&st->slots_mu, NULL) == 0;
  return ok == 4 ? MCS_OK : MCS_ENOMEM;
}

static int build(rd_store *st, char *err, size_t es) {
  int rc = read_password(st, err, es);
  if (rc)
    return rc;
  for (size_t i = 0; i < st->cfg.server_count; i++) {
    const mcs_redis_server *s = &st->cfg.servers[i];
    if (mcs__rd_node_find_add(st, s->host, strlen(s->host), s->port) !=
        (int)i)
      return MCS_ENOMEM;
  }
  if (!st->cfg.cluster && st->cfg.server_count > 1)
    return build_ring(st);
  if (st->cfg.cluster) {
    st->slots = mcs__malloc(MCS__RD_SLOTS * sizeof *st->slots);
    if (!st->slots)
      return MCS_ENOMEM;
    for (size_t i = 0; i < MCS__RD_SLOTS; i++)
      st->slots[i] = -1;
  }
  return MCS_OK;
}

int mcs_store_redis_new_config(mcs_store **out, const mcs_redis_config *cfg,
                               char *err, size_t err_size) {
  if (err && err_size)
    err[0] = '\0';
  if (!out)
    return mcs__url_fail(err, err_size, "no store pointer");
  *out = NULL;
  int rc = mcs_redis_config_check(cfg, err, err_size);
  if (rc)
    return rc;
  if (mcs__sodium_ready() != MCS_OK)
    return MCS_EIO;
  rd_store *st = mcs__calloc(1, sizeof *st);
  if (!st)
    return MCS_ENOMEM;
  st->cfg = *cfg;
  if (init_locks(st) != MCS_OK) {
    mcs__free(st); /* a lock that failed to init: leak the others' none */
    return MCS_ENOMEM;
  }
  rc = build(st, err, err_size);
  if (!rc)
    rc = mcs__store_new_own(out, &rd_ops, st, &rd_identity);
  if (rc)
    rd_destroy(st);
  return rc;
}

int mcs_store_redis_new_err(mcs_store **out, const char *url, char *err,
                            size_t err_size) {
  mcs_redis_config cfg;
  if (out)
    *out = NULL;
  int rc = mcs_redis_url_parse(url, &cfg, err, err_size);
  return rc ? rc : mcs_store_redis_new_config(out, &cfg, err, err_size);
}

int mcs_store_redis_new(mcs_store **out, const char *url) {
  return mcs_store_redis_new_err(out, url, NULL, 0);
}

static rd_store *ours(const mcs_store *store) {
  return mcs__store_own_ud(store, &rd_identity);
}

const char *mcs_store_redis_prefix(const mcs_store *store) {
  const rd_store *st = ours(store);
  return st ? st->cfg.prefix : NULL;
}

int mcs_store_redis_last_error(const mcs_store *store, char *out,
                               size_t size) {
  rd_store *st = ours(store);
  if (!st || !out || !size)
    return MCS_EINVAL;
  pthread_mutex_lock(&st->err_mu);
  snprintf(out, size, "%s", st->last_error);
  pthread_mutex_unlock(&st->err_mu);
  return MCS_OK;
}

int mcs_store_redis_stats_get(const mcs_store *store, mcs_redis_stats *stats) {
  rd_store *st = ours(store);
  if (!st || !stats)
    return MCS_EINVAL;
  memset(stats, 0, sizeof *stats);
  stats->requests = atomic_load(&st->requests);
  stats->timeouts = atomic_load(&st->timeouts);
  stats->protocol_errors = atomic_load(&st->protocol_errors);
  stats->error_replies = atomic_load(&st->error_replies);
  stats->redirects = atomic_load(&st->redirects);
  stats->slot_refreshes = atomic_load(&st->slot_refreshes);
  stats->script_loads = atomic_load(&st->script_loads);
  size_t n = atomic_load(&st->node_count);
  for (size_t i = 0; i < n; i++) {
    mcs__conn_pool_stats ps;
    mcs__conn_pool_stats_get(st->nodes[i]->pool, &ps);
    stats->connects += ps.connects;
    stats->connect_failures += ps.connect_failures;
    stats->down_skips += ps.down_skips;
  }
  return MCS_OK;
}
