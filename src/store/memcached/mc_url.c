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


static bool same_server(const mcs_memcached_server *a,
                        const mcs_memcached_server *b) {
  return mcs__url_same_server(a->host, a->port, b->host, b->port);
}

static int add_server(mcs_memcached_config *cfg, const char *s, size_t n,
                      char *err, size_t es) {
  if (n == 0)
    return fail(err, es, "empty host in server list");
  if (cfg->server_count == MCS_MEMCACHED_SERVERS_MAX)
    return fail(err, es, "too many servers (at most %d)",
                MCS_MEMCACHED_SERVERS_MAX);
  mcs_memcached_server *srv = &cfg->servers[cfg->server_count];
  int rc = mcs__url_server(s, n, MCS_MEMCACHED_DEFAULT_PORT, srv->host,
                           &srv->port, err, es);
  if (rc)
    return rc;
  for (size_t i = 0; i < cfg->server_count; i++)
    if (same_server(&cfg->servers[i], srv))
      return fail(err, es, "duplicate server '%.*s'", (int)n, s);
  cfg->server_count++;
  return MCS_OK;
}

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

static int parse_servers(mcs_memcached_config *cfg, const char *s, size_t n,
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
  if ((rc = parse_servers(cfg, hosts, hlen, err, err_size)) != 0)
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

static int check_servers(const mcs_memcached_config *cfg, char *err,
                         size_t es) {
  if (cfg->server_count == 0 || cfg->server_count > MCS_MEMCACHED_SERVERS_MAX)
    return fail(err, es, "server count %zu out of range (1..%d)",
                cfg->server_count, MCS_MEMCACHED_SERVERS_MAX);
  for (size_t i = 0; i < cfg->server_count; i++) {
    const mcs_memcached_server *s = &cfg->servers[i];
    size_t n = strnlen(s->host, sizeof s->host);
    if (n == sizeof s->host || !mcs__url_host_valid(s->host, n))
      return fail(err, es, "server %zu: bad or empty host", i);
    if (s->port == 0)
      return fail(err, es, "server %zu: bad port 0", i);
    for (size_t j = 0; j < i; j++)
      if (same_server(&cfg->servers[j], s))
        return fail(err, es, "duplicate server %zu", i);
  }
  return MCS_OK;
}

static int check_ranges(const mcs_memcached_config *cfg, char *err,
                        size_t es) {
  for (unsigned i = 0; i < NPARAMS; i++) {
    const mcs__url_param *pm = &params[i];
    if (pm->set)
      continue;
    unsigned v = *(const unsigned *)(const void *)((const char *)cfg +
                                                   pm->offset);
    if (v < pm->min || v > pm->max)
      return fail(err, es, "value out of range for '%s' (%u..%u)", pm->name,
                  pm->min, pm->max);
  }
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
  int rc = check_servers(cfg, err, err_size);
  if (!rc)
    rc = check_ranges(cfg, err, err_size);
  if (rc)
    return rc;
  size_t n = strnlen(cfg->prefix, sizeof cfg->prefix);
  if (n == sizeof cfg->prefix ||
      (n > 0 && !mcs__store_key_valid(cfg->prefix, n)))
    return fail(err, err_size, "prefix too long or not key characters");
  return MCS_OK;
}
