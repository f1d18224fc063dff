/*
 * mcsession — the Redis store.
 *
 * A small client of RESP2 (the Redis serialization protocol, "RESP
 * protocol specification"), the library's own (docs/design.md, "The Redis
 * client", has the measurement against hiredis and why). Redis 6.2 or
 * later; tested against Debian's 7.0.
 *
 * How each store operation maps (one round trip each; docs/design.md,
 * "The store contract", has the reasoning):
 *
 *   get       GETEX key EX ttl (sliding; Redis >= 6.2), GET key (no slide)
 *   add       SET key value NX EX ttl
 *   cas       EVALSHA <cas script> 1 key token value ttl: compares the
 *             token stored with the value and replaces it in one atomic
 *             step on the server (EVAL with the script's text after a
 *             NOSCRIPT reply: a restarted server has forgotten it)
 *   set       SET key value EX ttl
 *   del       DEL key
 *   touch     EXPIRE key ttl (the value, and so its token, is kept)
 *   peek      GET key + PTTL key, pipelined
 *
 * Every value is stored behind a 16-byte header ("\0mcr", the CAS token
 * and the client flags, big-endian): the token is 64 random bits drawn
 * for every write, never 0, so it changes on every write and is kept by
 * a touch and by a sliding read, and a cas on a deleted key finds no
 * value (MISS: a destroyed session is never written back). Values that
 * other clients write without the header read as MCS_EPROTO. On servers
 * older than 6.2 GETEX is an unknown command: every sliding read fails
 * with MCS_ESTORE and mcs_store_redis_last_error says why.
 *
 * Connections are pooled per server and shared by all threads (blocking
 * side); an event loop gets its own pipelined connections (the
 * non-blocking side: every request started in one loop turn goes out in
 * one write per server). Every connect and every request is bounded by a
 * timeout; a server that fails is skipped without a connect attempt for
 * retry_s seconds, then probed by one request.
 *
 * redis:// with several servers spreads the keys over them by consistent
 * hashing (as the memcached store's ketama: client-side sharding, one
 * copy of each key). redis+cluster:// takes the servers as seed nodes of a
 * Redis Cluster: the slot map comes from CLUSTER SLOTS, MOVED and ASK
 * replies are followed (at most 5 redirections per operation), the map is
 * read again after a MOVED or a failed node (a failover). Every command
 * names one key, so no command ever crosses slots. On an event loop a
 * cluster store runs its operations on the loop's helper thread.
 *
 * rediss:// (TLS) and RESP3 are not supported (yet).
 *
 * Errors: MCS_ESTORE (server down, refused, closed the connection, an
 * error reply such as WRONGPASS or an unknown command), MCS_ETIMEDOUT,
 * MCS_EPROTO (a reply that does not follow RESP or does not fit the
 * command, a value without the header), MCS_ETOOBIG. After MCS_ETIMEDOUT
 * a write's effect is unknown.
 *
 * Include "mcsession.h" (which includes this header) or this header alone.
 */
#ifndef MCSESSION_REDIS_H
#define MCSESSION_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcsession/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of a configuration. */
#define MCS_REDIS_SERVERS_MAX 64
#define MCS_REDIS_HOST_MAX 255   /* bytes, brackets of IPv6 excluded */
#define MCS_REDIS_PREFIX_MAX 64  /* bytes */
#define MCS_REDIS_URL_MAX 8192   /* bytes */
#define MCS_REDIS_PATH_MAX 1024  /* password_file, bytes */
#define MCS_REDIS_PASSWORD_MAX 512 /* bytes in the password file */
#define MCS_REDIS_POOL_MAX 1024  /* connections per server */
#define MCS_REDIS_TIMEOUT_MAX_MS 60000
#define MCS_REDIS_RETRY_MAX_S 3600
#define MCS_REDIS_DB_MAX 65535
/* The largest value a write carries (the session layer's max_data_bytes
 * is at most 1 MiB): a larger one fails with MCS_ETOOBIG before anything
 * is sent. */
#define MCS_REDIS_VALUE_MAX (2u * 1024u * 1024u)
#define MCS_REDIS_DEFAULT_PORT 6379

typedef struct mcs_redis_server {
  /* Host name or IP address, NUL-terminated; an IPv6 literal without its
   * brackets. */
  char host[MCS_REDIS_HOST_MAX + 1];
  uint16_t port; /* 1..65535 */
} mcs_redis_server;

/* A store's settings. Fill it with mcs_redis_config_init (defaults, no
 * servers) or mcs_redis_url_parse. Plain data: no pointers to own. */
typedef struct mcs_redis_config {
  mcs_redis_server servers[MCS_REDIS_SERVERS_MAX];
  size_t server_count; /* 1..MCS_REDIS_SERVERS_MAX */
  /* Redis Cluster (redis+cluster://): servers are seed nodes. */
  bool cluster;
  unsigned db;                 /* SELECT db; 0 (default) with cluster */
  unsigned connect_timeout_ms; /* per connect; default 200 */
  /* Per request (sending it and reading the reply), and the longest wait
   * for a free pooled connection; default 200. */
  unsigned io_timeout_ms;
  unsigned retry_s; /* a failed server is skipped this long; default 2 */
  unsigned pool;    /* connections per server; default 8 */
  /* Default key prefix for managers over this store (as the memcached
   * store's); default "mcs:". Key characters only. */
  char prefix[MCS_REDIS_PREFIX_MAX + 1];
  /* A file holding the password for AUTH (its first line; a trailing
   * newline is dropped); empty: no AUTH. Read once, when the store is
   * made; the password is never logged nor put in an error message. */
  char password_file[MCS_REDIS_PATH_MAX + 1];
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_redis_config;

/* Defaults, no servers. NULL is ignored. Any thread. */
MCS_EXPORT void mcs_redis_config_init(mcs_redis_config *cfg);

/* Parses a store URL into *cfg (defaults first, then the URL):
 *
 *   redis://host[:port][,host[:port]...][/db][?name=value[&name=value...]]
 *   redis+cluster://host[:port][,host[:port]...][/][?name=value...]
 *
 * Hosts as in the memcached URL (names, IPv4, IPv6 in brackets); the port
 * defaults to 6379. The path is the database number (as redis-cli's -u);
 * a cluster has only database 0. Parameters: connect_timeout_ms,
 * io_timeout_ms, retry_s, pool, prefix (%XX escapes allowed),
 * password_file (a path, %XX escapes allowed), db (the same as the path;
 * not both, and not with cluster). The scheme is matched without regard to
 * case; nothing else is.
 *
 * MCS_OK, or MCS_EINVAL with a one-line reason in err[0..err_size) (when
 * err is not NULL; NUL-terminated, cut to fit). Never allocates, never
 * resolves names, never opens the password file. Thread-safe. */
MCS_EXPORT int mcs_redis_url_parse(const char *url, mcs_redis_config *cfg,
                                   char *err, size_t err_size);

/* Checks a config as mcs_store_redis_new_config does (but does not read
 * the password file): MCS_OK or MCS_EINVAL with a reason in err. */
MCS_EXPORT int mcs_redis_config_check(const mcs_redis_config *cfg, char *err,
                                      size_t err_size);

/* Creates a Redis store from a URL (mcs_redis_url_parse). Reads the
 * password file (MCS_EINVAL when it cannot be read, is empty or holds more
 * than MCS_REDIS_PASSWORD_MAX bytes); makes no connection (the first
 * request to a server connects). MCS_OK, MCS_EINVAL, MCS_ENOMEM, MCS_EIO
 * (libsodium failed to initialise). On failure *out is NULL. Free with
 * mcs_store_free after every thread, manager and loop is done with it. */
MCS_EXPORT int mcs_store_redis_new(mcs_store **out, const char *url);
/* The same, with a one-line reason for MCS_EINVAL in err (may be NULL). */
MCS_EXPORT int mcs_store_redis_new_err(mcs_store **out, const char *url,
                                       char *err, size_t err_size);
/* The same from a config struct (copied). */
MCS_EXPORT int mcs_store_redis_new_config(mcs_store **out,
                                          const mcs_redis_config *cfg,
                                          char *err, size_t err_size);

/* The `prefix` of the store's config. BORROWED, valid until the store is
 * freed. NULL if `store` is not a Redis store. */
MCS_EXPORT const char *mcs_store_redis_prefix(const mcs_store *store);

/* The last error a server answered with (an error reply's first line,
 * e.g. "WRONGPASS invalid username-password pair", "ERR DB index is out
 * of range", or what the client saw: "connection refused", "reply is not
 * RESP"), cut to fit, NUL-terminated; "" when there was none.
 * MCS_EINVAL if `store` is not a Redis store. Any thread. */
MCS_EXPORT int mcs_store_redis_last_error(const mcs_store *store, char *out,
                                          size_t size);

/* Counters since creation, summed over servers; any thread, any time. */
typedef struct mcs_redis_stats {
  uint64_t requests;         /* commands sent */
  uint64_t connects;         /* connect attempts */
  uint64_t connect_failures; /* connect attempts (or handshakes) that failed */
  uint64_t down_skips;       /* requests refused fast: server marked down */
  uint64_t timeouts;         /* requests that timed out */
  uint64_t protocol_errors;  /* malformed or unexpected replies */
  uint64_t error_replies;    /* error replies other than redirections */
  uint64_t redirects;        /* MOVED and ASK followed (cluster) */
  uint64_t slot_refreshes;   /* slot maps read (cluster) */
  uint64_t script_loads;     /* NOSCRIPT answered by sending the script */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_redis_stats;

/* Fills *stats; MCS_EINVAL if `store` is not a Redis store. */
MCS_EXPORT int mcs_store_redis_stats_get(const mcs_store *store,
                                         mcs_redis_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_REDIS_H */
