/*
 * The memcached store's URL:
 *
 *   memcached://host[:port][,host[:port]...][/][?name=value[&...]]
 *
 * Syntax after RFC 3986 where it applies (case-insensitive scheme, IPv6
 * literals in brackets as in section 3.2.2, %XX escapes in the query),
 * but far narrower: no user info, no path beyond "/", no fragment, only
 * printable ASCII. Every deviation is an error with a one-line reason,
 * never a silent default. Never allocates and never resolves names.
 */
#include <string.h>
#include <strings.h>

#include "store/memcached/mc_int.h"

#define SCHEME "memcached://"

#define fail mcs__url_fail

void mcs_memcached_config_init(mcs_memcached_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->replicas = 0;
  cfg->connect_timeout_ms = 200;
  cfg->io_timeout_ms = 200;
  cfg->retry_s = 2;
  cfg->pool = 8;
  memcpy(cfg->prefix, "mcs:", 5);
}

/* ---- Parameters: name, range, where the value goes. ---- */

static int set_prefix(void *cfg, const char *v, size_t n, char *err,
                      size_t es);
static int set_hash(void *cfg, const char *v, size_t n, char *err, size_t es);

static const mcs__url_param params[] = {
    {"replicas", 0, MCS_MEMCACHED_REPLICAS_MAX,
     offsetof(mcs_memcached_config, replicas), NULL, NULL},
    {"connect_timeout_ms", 1, MCS_MEMCACHED_TIMEOUT_MAX_MS,
     offsetof(mcs_memcached_config, connect_timeout_ms), NULL, NULL},
    {"io_timeout_ms", 1, MCS_MEMCACHED_TIMEOUT_MAX_MS,
     offsetof(mcs_memcached_config, io_timeout_ms), NULL, NULL},
    {"retry_s", 0, MCS_MEMCACHED_RETRY_MAX_S,
     offsetof(mcs_memcached_config, retry_s), NULL, NULL},
    {"pool", 1, MCS_MEMCACHED_POOL_MAX,
     offsetof(mcs_memcached_config, pool), NULL, NULL},
    {"prefix", 0, 0, 0, set_prefix, NULL},
    {"hash", 0, 0, 0, set_hash, NULL},
};
#define NPARAMS (sizeof params / sizeof params[0])

/* The config's server array, for the shared list parser and checks
 * (store_url.c). */
_Static_assert(sizeof(((mcs_memcached_server *)0)->host) ==
                   MCS__URL_HOST_MAX + 1,
               "host buffer as store_url.c expects");
const mcs__url_servers mcs__mc_servers_layout =
    MCS__URL_SERVERS(mcs_memcached_server, MCS_MEMCACHED_SERVERS_MAX,
                     MCS_MEMCACHED_DEFAULT_PORT);

/* ---- Query ---- */

/* %XX-decodes the prefix; the result must be usable in a memcached key. */
static int set_prefix(void *cfg, const char *v, size_t n, char *err,
                      size_t es) {
  return mcs__url_unescape("prefix", v, n,
                           ((mcs_memcached_config *)cfg)->prefix,
                           MCS_MEMCACHED_PREFIX_MAX, true, NULL, err, es);
}

/* The hash's names, as in the URL (mcs_memcached_hash's order). */
static const char *const hash_names[] = {"ketama", "python-memcache"};
#define NHASHES (sizeof hash_names / sizeof hash_names[0])

static int set_hash(void *cfg, const char *v, size_t n, char *err,
                    size_t es) {
  for (size_t i = 0; i < NHASHES; i++)
    if (strlen(hash_names[i]) == n && memcmp(hash_names[i], v, n) == 0) {
      ((mcs_memcached_config *)cfg)->hash = (mcs_memcached_hash)i;
      return MCS_OK;
    }
  return fail(err, es, "unknown hash '%.*s' (ketama or python-memcache)",
              (int)(n > 32 ? 32 : n), v);
}

/* ---- Whole URL ---- */

int mcs_memcached_url_parse(const char *url, mcs_memcached_config *cfg,
                            char *err, size_t err_size) {
  if (err && err_size)
    err[0] = '\0';
  if (!url || !cfg)
    return fail(err, err_size, "no URL or no config");
  size_t len = strnlen(url, MCS_MEMCACHED_URL_MAX + 1);
  int rc = mcs__url_check_chars(url, len, MCS_MEMCACHED_URL_MAX, err,
                                err_size);
  if (rc)
    return rc;
  if (strncasecmp(url, SCHEME, strlen(SCHEME)) != 0)
    return fail(err, err_size, "URL must start with '" SCHEME "'");
  mcs_memcached_config_init(cfg);
  const char *hosts = url + strlen(SCHEME);
  size_t hlen = strcspn(hosts, "/?");
  if ((rc = mcs__url_servers_parse(&mcs__mc_servers_layout, cfg->servers,
                                   &cfg->server_count, hosts, hlen, err,
                                   err_size)) != 0)
    return rc;
  const char *rest = hosts + hlen;
  if (*rest == '/')
    rest++;
  if (*rest == '?')
    rc = mcs__url_query(params, NPARAMS, cfg, rest + 1, &(unsigned){0}, err,
                        err_size);
  else if (*rest)
    return fail(err, err_size, "unexpected path '%.*s'", 32, rest);
  return rc ? rc : mcs_memcached_config_check(cfg, err, err_size);
}

/* ---- Checking a config built by hand or by the parser ---- */

static int check_ranges(const mcs_memcached_config *cfg, char *err,
                        size_t es) {
  int rc = mcs__url_ranges_check(params, NPARAMS, cfg, err, es);
  if (rc)
    return rc;
  if (cfg->replicas >= cfg->server_count)
    return fail(err, es, "value out of range for 'replicas': %u needs more "
                "than %u servers", cfg->replicas, cfg->replicas);
  if ((unsigned)cfg->hash >= NHASHES)
    return fail(err, es, "unknown hash %u", (unsigned)cfg->hash);
  /* python-memcached keeps one copy of each key, on one server; copies
   * elsewhere would be invisible to it and go stale. */
  if (cfg->hash == MCS_MEMCACHED_HASH_PYTHON_MEMCACHE && cfg->replicas)
    return fail(err, es, "'replicas' must be 0 with hash=python-memcache "
                "(python-memcached keeps one copy of each key)");
  return MCS_OK;
}

int mcs_memcached_config_check(const mcs_memcached_config *cfg, char *err,
                               size_t err_size) {
  if (!cfg)
    return fail(err, err_size, "no config");
  if (!mcs__all_zero(cfg->reserved, sizeof cfg->reserved))
    return fail(err, err_size, "the config sets a field this library does "
                               "not know (built against a newer header?)");
  int rc = mcs__url_servers_check(&mcs__mc_servers_layout, cfg->servers,
                                  cfg->server_count, err, err_size);
  if (!rc)
    rc = check_ranges(cfg, err, err_size);
  if (!rc)
    rc = mcs__url_prefix_check(cfg->prefix, sizeof cfg->prefix, err, err_size);
  return rc;
}
