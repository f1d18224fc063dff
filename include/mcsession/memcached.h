/*
 * mcsession — the memcached store.
 *
 * A small client of memcached's meta protocol (memcached doc/protocol.txt,
 * "Meta Commands"; server 1.6.18 or later, tested against 1.6.18): one round
 * trip reads a value, its CAS token and flags and slides its expiry
 * (`mg <key> v c f T<ttl>`). Connections are pooled per server and shared by
 * all threads; keys are spread over several servers by consistent hashing
 * (ketama style, or python-memcached's choice with `hash=python-memcache`,
 * see mcs_memcached_hash); every connect and every I/O is bounded by a
 * timeout; a server that fails is skipped without a connect attempt until
 * `retry_s` seconds have passed, then probed by one request.
 *
 * Values read are bounded by the caller's limit and by
 * MCS_MEMCACHED_ITEM_MAX (a larger stored value reads as MCS_ETOOBIG).
 * Errors: MCS_ESTORE (server down, refused, closed the connection,
 * SERVER_ERROR), MCS_ETIMEDOUT, MCS_EPROTO (a reply that does not follow
 * the protocol, or does not echo its request's opaque: every request
 * carries one, so a duplicated or stray reply never answers another
 * request; the connection is closed, never reused; memcached echoes it on
 * a miss since 1.6.18), MCS_ETOOBIG.
 * After MCS_ETIMEDOUT a write's effect is unknown: a stalled server still
 * applies what waited in its socket buffer when it resumes.
 *
 * Replicas (`replicas=N`): each key is kept on N + 1 servers. Values then
 * carry a 13-byte header with a revision number; a read asks every copy
 * in parallel (one round trip of wall time), serves the highest revision
 * and rewrites older or missing copies conditionally (read repair); add,
 * cas, set and delete read the copies, write the first answering server
 * in ring order (the authority, which orders concurrent writers), then
 * the others: 3 round trips. Deletes leave tombstones so a server that
 * was stalled cannot bring a deleted value back. With N = 1, losing or
 * restarting any one server loses nothing and a server returning with
 * old values never wins over newer ones. The CAS token of a replicated
 * key is its revision + 1. Values written with replicas=0 read as
 * revision 0 (so 0 -> N works); values written with replicas > 0 carry
 * the header, so going back to 0 needs a flush.
 * src/store/memcached/mc_replica.c has the full reasoning and its limits.
 *
 * Include "mcsession.h" (which includes this header) or this header alone;
 * it includes "mcsession/store.h" and nothing that includes it back.
 */
#ifndef MCSESSION_MEMCACHED_H
#define MCSESSION_MEMCACHED_H

#include <stddef.h>
#include <stdint.h>

#include "mcsession/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of a configuration. */
#define MCS_MEMCACHED_SERVERS_MAX 64
#define MCS_MEMCACHED_HOST_MAX 255   /* bytes, brackets of IPv6 excluded */
#define MCS_MEMCACHED_PREFIX_MAX 64  /* bytes */
#define MCS_MEMCACHED_URL_MAX 8192   /* bytes */
#define MCS_MEMCACHED_REPLICAS_MAX 8
#define MCS_MEMCACHED_POOL_MAX 1024  /* connections per server */
#define MCS_MEMCACHED_TIMEOUT_MAX_MS 60000
#define MCS_MEMCACHED_RETRY_MAX_S 3600
/* memcached's default item size limit (-I 1m; servers must not run with
 * a smaller one). A write whose key + value (+ 13 bytes of header with
 * replicas) + 256 bytes of item overhead exceeds it fails with
 * MCS_ETOOBIG BEFORE anything is sent, and the stored value is left as it
 * was: memcached answers an oversized write with SERVER_ERROR and also
 * unlinks the key's current item, so such a write must never reach it. */
#define MCS_MEMCACHED_ITEM_MAX (1024u * 1024u)
#define MCS_MEMCACHED_DEFAULT_PORT 11211

/* How a key's server is chosen among several.
 *
 * KETAMA (default, URL `hash=ketama`): consistent hashing; adding or
 *   removing a server moves only about 1/n of the keys. Placements are
 *   mcsession's own (BLAKE2b points), not libmemcached's.
 *
 * PYTHON_MEMCACHE (URL `hash=python-memcache`): exactly what Python's
 *   python-memcached (`memcache.Client`, Debian python3-memcache 1.59)
 *   does, so a C service and Python applications on the same servers
 *   (tornado mode) agree on where each key lives:
 *     h = ((crc32(key) & 0xffffffff) >> 16) & 0x7fff, or 1 if that is 0
 *     server = servers[h % server_count]
 *   with the servers in URL order and every server of weight 1 (as
 *   memcache.Client(["host:port", ...]) builds its buckets; weighted
 *   ("host:port", w) entries repeat a server w times there, which a URL
 *   cannot say: list the servers the Python side lists, unweighted).
 *   Adding or removing a server moves most keys.
 *   A difference by design: when the chosen server is down,
 *   python-memcached rehashes the key onto another server (up to 10
 *   tries: h = hash(str(h) + str(i))); mcsession fails the request
 *   (MCS_ESTORE) instead. Rehashing would read and write a session on a
 *   server where the other side does not look for it, and bring stale
 *   copies back when the server returns. Requires replicas=0 (the Python
 *   side keeps one copy per key). */
typedef enum mcs_memcached_hash {
  MCS_MEMCACHED_HASH_KETAMA = 0,
  MCS_MEMCACHED_HASH_PYTHON_MEMCACHE
} mcs_memcached_hash;

typedef struct mcs_memcached_server {
  /* Host name or IP address, NUL-terminated; an IPv6 literal is stored
   * without its brackets ("::1", "fe80::1%eth0"). */
  char host[MCS_MEMCACHED_HOST_MAX + 1];
  uint16_t port; /* 1..65535 */
} mcs_memcached_server;

/* A store's settings. Fill it with mcs_memcached_config_init (defaults, no
 * servers) or mcs_memcached_url_parse. Plain data: no pointers to own. */
typedef struct mcs_memcached_config {
  mcs_memcached_server servers[MCS_MEMCACHED_SERVERS_MAX];
  size_t server_count;         /* 1..MCS_MEMCACHED_SERVERS_MAX */
  /* Extra copies of each key on the next distinct servers of the ring;
   * default 0; at most server_count - 1, and 0 with
   * MCS_MEMCACHED_HASH_PYTHON_MEMCACHE. With replicas > 0 every value
   * carries a revision header, reads ask all copies at once and repair
   * stale ones, writes go through one authority server (see "Replicas"
   * above). */
  unsigned replicas;
  unsigned connect_timeout_ms; /* per connect; default 200 */
  /* Per request (sending it and reading the reply), and separately the
   * longest wait for a free pooled connection; default 200. One operation
   * takes at most about pool wait + connect + I/O, twice when a stale
   * pooled connection forces the single retry. A request that times out
   * marks its server down (see retry_s). */
  unsigned io_timeout_ms;
  unsigned retry_s;            /* a failed server is skipped this long;
                                  0..3600, default 2 */
  unsigned pool;               /* connections per server; default 8 */
  /* Prefix for store keys chosen by the session manager: a manager whose
   * config leaves key_prefix NULL (the default) uses this one (the store
   * itself uses keys exactly as given). Default "mcs:". Key characters
   * only: no spaces, control bytes or DEL. */
  char prefix[MCS_MEMCACHED_PREFIX_MAX + 1];
  /* How keys are spread over the servers; default
   * MCS_MEMCACHED_HASH_KETAMA. See mcs_memcached_hash. */
  mcs_memcached_hash hash;
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_memcached_config;

/* Defaults, no servers. NULL is ignored. Any thread. */
MCS_EXPORT void mcs_memcached_config_init(mcs_memcached_config *cfg);

/* Parses a store URL into *cfg (defaults first, then the URL):
 *
 *   memcached://host[:port][,host[:port]...][/][?name=value[&name=value...]]
 *
 * Hosts are names or IPv4 addresses, or IPv6 addresses in brackets
 * ("[::1]:11211"); the port defaults to 11211. Parameters: replicas,
 * connect_timeout_ms, io_timeout_ms, retry_s, pool, prefix (the prefix may
 * use %XX escapes), hash (`ketama` or `python-memcache`; the latter only
 * with replicas=0). The scheme is matched without regard to case; nothing
 * else is (parameter names and the hash's value are lower case).
 *
 * Returns MCS_OK, or MCS_EINVAL for every kind of bad URL (unknown or
 * duplicate parameter, bad port, empty host, duplicate server, value out of
 * range, too many servers, ...), writing a one-line reason to
 * err[0..err_size) when err is not NULL (always NUL-terminated, truncated
 * to fit). On failure *cfg is left with unspecified contents. Never
 * allocates, never resolves names. Thread-safe. */
MCS_EXPORT int mcs_memcached_url_parse(const char *url,
                                       mcs_memcached_config *cfg, char *err,
                                       size_t err_size);

/* Checks a config as mcs_store_memcached_new_config does: MCS_OK or
 * MCS_EINVAL with a reason in err (may be NULL; NUL-terminated, truncated
 * to err_size). Never allocates; any thread. */
MCS_EXPORT int mcs_memcached_config_check(const mcs_memcached_config *cfg,
                                          char *err, size_t err_size);

/* Creates a memcached store from a URL (see mcs_memcached_url_parse).
 * No connection is made here: the first request to a server connects.
 * Returns MCS_OK, MCS_EINVAL (bad URL), MCS_ENOMEM, MCS_EIO (libsodium
 * failed to initialise). On failure *out is NULL. Free with
 * mcs_store_free, after every thread (and manager) has finished using
 * it. */
MCS_EXPORT int mcs_store_memcached_new(mcs_store **out, const char *url);

/* The same from a config struct (copied; see mcs_memcached_config_check
 * for why one is refused). Same errors and ownership. */
MCS_EXPORT int mcs_store_memcached_new_config(mcs_store **out,
                                              const mcs_memcached_config *cfg);

/* The `prefix` of the store's config, for building store keys.
 * BORROWED, valid until the store is freed. NULL if `store` is not a
 * memcached store. */
MCS_EXPORT const char *mcs_store_memcached_prefix(const mcs_store *store);

/* Counters since creation, summed over servers; read them for metrics,
 * from any thread at any time. */
typedef struct mcs_memcached_stats {
  uint64_t requests;         /* operations that reached a connection */
  uint64_t connects;         /* connect attempts */
  uint64_t connect_failures; /* connect attempts that failed */
  uint64_t down_skips;       /* requests refused fast: server marked down */
  uint64_t timeouts;         /* requests that timed out */
  uint64_t protocol_errors;  /* malformed or unexpected replies */
  uint64_t retries;          /* requests repeated on a fresh connection */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_memcached_stats;

/* Fills *stats; MCS_EINVAL if `store` is not a memcached store. */
MCS_EXPORT int mcs_store_memcached_stats_get(const mcs_store *store,
                                             mcs_memcached_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_MEMCACHED_H */
