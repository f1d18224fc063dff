/*
 * The Redis store's URL:
 *
 *   redis://host[:port][,host[:port]...][/db][?name=value[&...]]
 *   redis+cluster://host[:port][,host[:port]...][/][?name=value[&...]]
 *
 * The scheme and the database path follow redis-cli's -u (the IANA
 * "redis" URI scheme: the path is the database number); hosts, %XX
 * escapes and the one-line reasons are the memcached URL's
 * (store_url.c). No user info: the password comes from password_file, so
 * it is never on a command line or in a process listing. Never
 * allocates, never resolves names, never opens the file.
 */
#include <string.h>
#include <strings.h>

#include "store/redis/rd_int.h"

#define fail mcs__url_fail
#define SCHEME "redis://"
#define SCHEME_CLUSTER "redis+cluster://"

void mcs_redis_config_init(mcs_redis_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->connect_timeout_ms = 200;
  cfg->io_timeout_ms = 200;
  cfg->retry_s = 2;
  cfg->pool = 8;
  memcpy(cfg->prefix, "mcs:", 5);
}

static int set_prefix(void *cfg, const char *v, size_t n, char *err,
                      size_t es) {
  return mcs__url_unescape("prefix", v, n, ((mcs_redis_config *)cfg)->prefix,
                           MCS_REDIS_PREFIX_MAX, true, NULL, err, es);
}

static int set_password_file(void *cfg, const char *v, size_t n, char *err,
                             size_t es) {
  size_t len = 0;
  int rc = mcs__url_unescape("password_file", v, n,
                             ((mcs_redis_config *)cfg)->password_file,
                             MCS_REDIS_PATH_MAX, false, &len, err, es);
  if (!rc && len == 0)
    return fail(err, es, "empty value for 'password_file'");
  return rc;
}

static const mcs__url_param params[] = {
    {"connect_timeout_ms", 1, MCS_REDIS_TIMEOUT_MAX_MS,
     offsetof(mcs_redis_config, connect_timeout_ms), NULL, NULL},
    {"io_timeout_ms", 1, MCS_REDIS_TIMEOUT_MAX_MS,
     offsetof(mcs_redis_config, io_timeout_ms), NULL, NULL},
    {"retry_s", 0, MCS_REDIS_RETRY_MAX_S, offsetof(mcs_redis_config, retry_s),
     NULL, NULL},
    {"pool", 1, MCS_REDIS_POOL_MAX, offsetof(mcs_redis_config, pool), NULL,
     NULL},
    {"db", 0, MCS_REDIS_DB_MAX, offsetof(mcs_redis_config, db), NULL,
     " (the path names the database too)"},
    {"prefix", 0, 0, 0, set_prefix, NULL},
    {"password_file", 0, 0, 0, set_password_file, NULL},
};
#define NPARAMS (sizeof params / sizeof params[0])
#define DB_BIT (1u << 4) /* params[4]: the path sets it too */

static int add_server(mcs_redis_config *cfg, const char *s, size_t n,
                      char *err, size_t es) {
  if (n == 0)
    return fail(err, es, "empty host in server list");
  if (cfg->server_count == MCS_REDIS_SERVERS_MAX)
    return fail(err, es, "too many servers (at most %d)",
                MCS_REDIS_SERVERS_MAX);
  mcs_redis_server *srv = &cfg->servers[cfg->server_count];
  int rc = mcs__url_server(s, n, MCS_REDIS_DEFAULT_PORT, srv->host,
                           &srv->port, err, es);
  if (rc)
    return rc;
  for (size_t i = 0; i < cfg->server_count; i++)
    if (mcs__url_same_server(cfg->servers[i].host, cfg->servers[i].port,
                             srv->host, srv->port))
      return fail(err, es, "duplicate server '%.*s'", (int)n, s);
  cfg->server_count++;
  return MCS_OK;
}

static int parse_servers(mcs_redis_config *cfg, const char *s, size_t n,
                         char *err, size_t es) {
  if (n == 0)
    return fail(err, es, "no server in URL");
  for (;;) {
    const char *comma = memchr(s, ',', n);
    size_t len = comma ? (size_t)(comma - s) : n;
    int rc = add_server(cfg, s, len, err, es);
    if (rc || !comma)
      return rc;
    n -= len + 1;
    s = comma + 1;
  }
}

/* "/", "/<db>" or nothing before the query. */
static int parse_path(mcs_redis_config *cfg, const char *p, size_t n,
                      unsigned *seen, char *err, size_t es) {
  if (n <= 1)
    return MCS_OK;
  if (!mcs__url_uint(p + 1, n - 1, MCS_REDIS_DB_MAX, &cfg->db))
    return fail(err, es, "bad database '%.*s' in path (0..%d)",
                (int)(n > 17 ? 16 : n - 1), p + 1, MCS_REDIS_DB_MAX);
  *seen |= DB_BIT;
  return MCS_OK;
}

int mcs_redis_url_parse(const char *url, mcs_redis_config *cfg, char *err,
                        size_t err_size) {
  if (err && err_size)
    err[0] = '\0';
  if (!url || !cfg)
    return fail(err, err_size, "no URL or no config");
  size_t len = strnlen(url, MCS_REDIS_URL_MAX + 1);
  int rc = mcs__url_check_chars(url, len, MCS_REDIS_URL_MAX, err, err_size);
  if (rc)
    return rc;
  mcs_redis_config_init(cfg);
  const char *hosts;
  if (strncasecmp(url, SCHEME, strlen(SCHEME)) == 0) {
    hosts = url + strlen(SCHEME);
  } else if (strncasecmp(url, SCHEME_CLUSTER, strlen(SCHEME_CLUSTER)) == 0) {
    hosts = url + strlen(SCHEME_CLUSTER);
    cfg->cluster = true;
  } else if (strncasecmp(url, "rediss://", 9) == 0) {
    return fail(err, err_size, "rediss:// (TLS) is not supported yet");
  } else {
    return fail(err, err_size,
                "URL must start with '" SCHEME "' or '" SCHEME_CLUSTER "'");
  }
  size_t hlen = strcspn(hosts, "/?");
  if ((rc = parse_servers(cfg, hosts, hlen, err, err_size)) != 0)
    return rc;
  const char *path = hosts + hlen;
  size_t plen = strcspn(path, "?");
  unsigned seen = 0;
  if ((rc = parse_path(cfg, path, plen, &seen, err, err_size)) != 0)
    return rc;
  if (path[plen] == '?')
    rc = mcs__url_query(params, NPARAMS, cfg, path + plen + 1, &seen, err,
                        err_size);
  return rc ? rc : mcs_redis_config_check(cfg, err, err_size);
}

/* ---- Checking a config built by hand or by the parser ---- */

static int check_servers(const mcs_redis_config *cfg, char *err, size_t es) {
  if (cfg->server_count == 0 || cfg->server_count > MCS_REDIS_SERVERS_MAX)
    return fail(err, es, "server count %zu out of range (1..%d)",
                cfg->server_count, MCS_REDIS_SERVERS_MAX);
  for (size_t i = 0; i < cfg->server_count; i++) {
    const mcs_redis_server *s = &cfg->servers[i];
    size_t n = strnlen(s->host, sizeof s->host);
    if (n == sizeof s->host || !mcs__url_host_valid(s->host, n))
      return fail(err, es, "server %zu: bad or empty host", i);
    if (s->port == 0)
      return fail(err, es, "server %zu: bad port 0", i);
    for (size_t j = 0; j < i; j++)
      if (mcs__url_same_server(cfg->servers[j].host, cfg->servers[j].port,
                               s->host, s->port))
        return fail(err, es, "duplicate server %zu", i);
  }
  return MCS_OK;
}

int mcs_redis_config_check(const mcs_redis_config *cfg, char *err,
                           size_t err_size) {
  if (!cfg)
    return fail(err, err_size, "no config");
  if (!mcs__all_zero(cfg->reserved, sizeof cfg->reserved))
    return fail(err, err_size, "the config sets a field this library does "
                               "not know (built against a newer header?)");
  int rc = check_servers(cfg, err, err_size);
  if (rc)
    return rc;
  for (unsigned i = 0; i < NPARAMS; i++) {
    const mcs__url_param *pm = &params[i];
    if (pm->set)
      continue;
    unsigned v =
        *(const unsigned *)(const void *)((const char *)cfg + pm->offset);
    if (v < pm->min || v > pm->max)
      return fail(err, err_size, "value out of range for '%s' (%u..%u)",
                  pm->name, pm->min, pm->max);
  }
  /* "Redis cluster specification", "Implemented subset": a cluster
   * supports only database 0 (SELECT fails). */
  if (cfg->cluster && cfg->db != 0)
    return fail(err, err_size, "'db' must be 0 with redis+cluster:// (a "
                               "cluster has only database 0)");
  size_t n = strnlen(cfg->prefix, sizeof cfg->prefix);
  if (n == sizeof cfg->prefix ||
      (n > 0 && !mcs__store_key_valid(cfg->prefix, n)))
    return fail(err, err_size, "prefix too long or not key characters");
  if (strnlen(cfg->password_file, sizeof cfg->password_file) ==
      sizeof cfg->password_file)
    return fail(err, err_size, "password_file longer than %d bytes",
                MCS_REDIS_PATH_MAX);
  return MCS_OK;
}
