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

/* The config's server array, for the shared list parser and checks
 * (store_url.c). */
_Static_assert(sizeof(((mcs_redis_server *)0)->host) == MCS__URL_HOST_MAX + 1,
               "host buffer as store_url.c expects");
const mcs__url_servers mcs__rd_servers_layout = MCS__URL_SERVERS(
    mcs_redis_server, MCS_REDIS_SERVERS_MAX, MCS_REDIS_DEFAULT_PORT);

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
  if ((rc = mcs__url_servers_parse(&mcs__rd_servers_layout, cfg->servers,
                                   &cfg->server_count, hosts, hlen, err,
                                   err_size)) != 0)
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

int mcs_redis_config_check(const mcs_redis_config *cfg, char *err,
                           size_t err_size) {
  if (!cfg)
    return fail(err, err_size, "no config");
  if (!mcs__all_zero(cfg->reserved, sizeof cfg->reserved))
    return fail(err, err_size, "the config sets a field this library does "
                               "not know (built against a newer header?)");
  int rc = mcs__url_servers_check(&mcs__rd_servers_layout, cfg->servers,
                                  cfg->server_count, err, err_size);
  if (!rc)
    rc = mcs__url_ranges_check(params, NPARAMS, cfg, err, err_size);
  if (rc)
    return rc;
  /* "Redis cluster specification", "Implemented subset": a cluster
   * supports only database 0 (SELECT fails). */
  if (cfg->cluster && cfg->db != 0)
    return fail(err, err_size, "'db' must be 0 with redis+cluster:// (a "
                               "cluster has only database 0)");
  if ((rc = mcs__url_prefix_check(cfg->prefix, sizeof cfg->prefix, err,
                                  err_size)) != 0)
    return rc;
  if (strnlen(cfg->password_file, sizeof cfg->password_file) ==
      sizeof cfg->password_file)
    return fail(err, err_size, "password_file longer than %d bytes",
                MCS_REDIS_PATH_MAX);
  return MCS_OK;
}
