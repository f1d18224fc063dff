/*
 * mcsession: the store interface (what any backend provides, and what a
 * store of your own must guarantee) and the embedded memory store. The
 * memcached store is mcsession/memcached.h. Part of mcsession.h.
 */
#ifndef MCSESSION_STORE_H
#define MCSESSION_STORE_H

#include "mcsession/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Stores                                                                   */
/* ------------------------------------------------------------------------ */

/* A store is a table of operations plus user data, so applications can
 * bring their own. mcsession ships two: the memory store below and the
 * memcached store. Stores are shared by all threads; every operation must
 * be safe to call concurrently.
 *
 * Every operation returns MCS_OK when the store answered, whatever it
 * answered, and puts the answer in *result; a negative code means the store
 * could not be asked (MCS_ESTORE, MCS_ETIMEDOUT, MCS_EPROTO, MCS_ENOMEM,
 * MCS_EINVAL for a key the store cannot hold, MCS_ETOOBIG for a value over
 * the store's item limit or a stored value over the reader's limit; a
 * write refused with MCS_ETOOBIG has changed nothing). Keys are byte
 * strings of at most MCS_STORE_KEY_MAX bytes without spaces or control
 * bytes. TTLs are in seconds and always positive. CAS tokens are opaque,
 * never 0. */
#define MCS_STORE_KEY_MAX 250

typedef enum mcs_store_result {
  MCS_STORE_HIT = 1,       /* get: found */
  MCS_STORE_MISS,          /* get/cas/delete/touch: no such key */
  MCS_STORE_STORED,        /* add/cas/set: written */
  MCS_STORE_EXISTS,        /* add: key taken; cas: token out of date */
  MCS_STORE_DELETED,       /* delete: removed */
  MCS_STORE_TOUCHED        /* touch: expiry updated */
} mcs_store_result;

/* Where a store's get writes the value it found. Opaque; fill it with
 * mcs_store_value_set. */
typedef struct mcs_store_value mcs_store_value;

/* Copies `len` bytes into `dst` (replacing what it held): for a store's
 * get, on the thread running it. MCS_ENOMEM, MCS_ETOOBIG if len exceeds
 * the limit the caller set on it, MCS_EINVAL for NULL dst (or NULL data
 * with len > 0). */
MCS_EXPORT int mcs_store_value_set(mcs_store_value *dst, const void *data,
                                   size_t len);

/* 2: the table ends in `peek`. A table of version 1 (a store built
 * against an older header, without that member) is still accepted: its
 * peek counts as NULL. */
#define MCS_STORE_OPS_VERSION 2

/* What a peek reports as the seconds a key has left when it has no
 * expiry, and when the store cannot tell. */
#define MCS_STORE_TTL_NEVER (-1)
#define MCS_STORE_TTL_UNKNOWN (-2)

typedef struct mcs_store_ops {
  unsigned version; /* MCS_STORE_OPS_VERSION */
  /* Read `key`. When touch_ttl > 0, also set its expiry to touch_ttl
   * seconds from now (in the same operation, where the store can).
   * On MCS_STORE_HIT the value goes to `value`, the CAS token to *cas and
   * the client flags to *flags. */
  int (*get)(void *ud, const char *key, size_t key_len, uint32_t touch_ttl,
             mcs_store_value *value, uint64_t *cas, uint32_t *flags,
             mcs_store_result *result);
  /* Create `key` only if absent: STORED or EXISTS. *cas gets the new
   * record's CAS token (may be NULL). */
  int (*add)(void *ud, const char *key, size_t key_len, const void *data,
             size_t len, uint32_t flags, uint32_t ttl, uint64_t *cas,
             mcs_store_result *result);
  /* Replace `key` only if its CAS token is still `cas`: STORED, EXISTS (it
   * changed since) or MISS (it is gone). *new_cas may be NULL. */
  int (*cas)(void *ud, const char *key, size_t key_len, const void *data,
             size_t len, uint32_t flags, uint32_t ttl, uint64_t cas,
             uint64_t *new_cas, mcs_store_result *result);
  /* Write unconditionally: STORED. */
  int (*set)(void *ud, const char *key, size_t key_len, const void *data,
             size_t len, uint32_t flags, uint32_t ttl,
             mcs_store_result *result);
  /* Remove: DELETED or MISS. */
  int (*del)(void *ud, const char *key, size_t key_len,
             mcs_store_result *result);
  /* Set the expiry: TOUCHED or MISS. The CAS token stays what it was (a
   * touch is not a change the next cas should conflict with). */
  int (*touch)(void *ud, const char *key, size_t key_len, uint32_t ttl,
               mcs_store_result *result);
  /* Called by mcs_store_free. May be NULL. */
  void (*destroy)(void *ud);

  /* ---- Optional: may be NULL (version 2 on) ----
   * Read `key` without touching it, for operators (mcsession/admin.h):
   * neither its expiry nor anything else of it changes. As get with
   * touch_ttl 0, and on MCS_STORE_HIT *ttl gets the whole seconds it has
   * left (>= 0), MCS_STORE_TTL_NEVER when it has no expiry, or
   * MCS_STORE_TTL_UNKNOWN when the store cannot tell. A store without it
   * is read with get (touch_ttl 0) instead, its TTL unknown. */
  int (*peek)(void *ud, const char *key, size_t key_len, mcs_store_value *value,
              uint64_t *cas, uint32_t *flags, int64_t *ttl,
              mcs_store_result *result);
} mcs_store_ops;

typedef struct mcs_store mcs_store;

/* Wraps user operations into a store. `ops` is copied (of a version 1
 * table, the members before peek); `ud` is BORROWED (passed to every
 * operation, and to ops->destroy when the store is freed, which may
 * release it). MCS_EINVAL (NULL out or ops, an ops->version other than 1
 * or 2, a missing operation other than destroy and peek), MCS_ENOMEM. */
MCS_EXPORT int mcs_store_new(mcs_store **out, const mcs_store_ops *ops,
                             void *ud);
/* Frees the store (calling ops->destroy). Free it only after every manager
 * using it has been freed. NULL is fine. */
MCS_EXPORT void mcs_store_free(mcs_store *store);

/* Direct access to a store's operations, for tools and tests, with the
 * contracts of mcs_store_ops above; keys are checked first (MCS_EINVAL for
 * a NULL store or result, or a key the store cannot hold). Thread-safe as
 * the store is. The value read by mcs_store_get is OWNED by the caller
 * (*data, free with mcs_free; NULL on a miss); max_len bounds it
 * (MCS_ETOOBIG above). */
MCS_EXPORT int mcs_store_get(mcs_store *store, const char *key,
                             size_t key_len, uint32_t touch_ttl,
                             size_t max_len, void **data, size_t *len,
                             uint64_t *cas, uint32_t *flags,
                             mcs_store_result *result);
MCS_EXPORT int mcs_store_add(mcs_store *store, const char *key,
                             size_t key_len, const void *data, size_t len,
                             uint32_t flags, uint32_t ttl, uint64_t *cas,
                             mcs_store_result *result);
MCS_EXPORT int mcs_store_cas(mcs_store *store, const char *key,
                             size_t key_len, const void *data, size_t len,
                             uint32_t flags, uint32_t ttl, uint64_t cas,
                             uint64_t *new_cas, mcs_store_result *result);
MCS_EXPORT int mcs_store_set(mcs_store *store, const char *key,
                             size_t key_len, const void *data, size_t len,
                             uint32_t flags, uint32_t ttl,
                             mcs_store_result *result);
MCS_EXPORT int mcs_store_delete(mcs_store *store, const char *key,
                                size_t key_len, mcs_store_result *result);
MCS_EXPORT int mcs_store_touch(mcs_store *store, const char *key,
                               size_t key_len, uint32_t ttl,
                               mcs_store_result *result);
/* Reads `key` without touching it (ops->peek, or get with touch_ttl 0
 * when the store has none): like mcs_store_get with touch_ttl 0, and on
 * a hit *ttl (may be NULL) gets the seconds the key has left,
 * MCS_STORE_TTL_NEVER or MCS_STORE_TTL_UNKNOWN (see mcs_store_ops.peek).
 * cas and flags may be NULL. The value is OWNED by the caller (mcs_free);
 * NULL on a miss. */
MCS_EXPORT int mcs_store_peek(mcs_store *store, const char *key, size_t key_len,
                              size_t max_len, void **data, size_t *len,
                              uint64_t *cas, uint32_t *flags, int64_t *ttl,
                              mcs_store_result *result);

/* --- The memory store ----------------------------------------------------
 * In-process, thread-safe (one lock per shard), TTL-aware, bounded by bytes
 * with least-recently-used eviction, with CAS tokens. The embedded default:
 * for one process and for tests. Time is read from CLOCK_MONOTONIC unless
 * the config supplies a clock. */
typedef struct mcs_memory_config {
  size_t max_bytes;  /* total budget for keys, values and overhead;
                        default 64 MiB; minimum 64 KiB */
  unsigned shards;   /* power of two, 1..256; default 16; each shard gets
                        max_bytes / shards, at least 4 KiB */
  size_t max_item_bytes; /* largest value accepted, 1..max_bytes / shards;
                            default 1 MiB (so a budget under 16 MiB needs
                            fewer shards or a smaller item limit) */
  /* Optional clock in seconds (tests use it to move time). NULL: monotonic. */
  int64_t (*clock)(void *clock_ud);
  void *clock_ud;
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_memory_config;

/* Fills the defaults. NULL is ignored. */
MCS_EXPORT void mcs_memory_config_init(mcs_memory_config *cfg);
/* cfg (copied) may be NULL for the defaults. MCS_EINVAL for an invalid
 * config (docs/configuration.md lists the limits), MCS_ENOMEM. Free the
 * store with mcs_store_free once nothing uses it. */
MCS_EXPORT int mcs_store_memory_new(mcs_store **out,
                                    const mcs_memory_config *cfg);

typedef struct mcs_memory_stats {
  uint64_t items;
  uint64_t bytes;      /* accounted bytes in use */
  uint64_t evictions;  /* items evicted to stay under max_bytes */
  uint64_t expired;    /* items found expired and reclaimed */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_memory_stats;
/* Figures for a memory store; MCS_EINVAL if `store` is not one. */
MCS_EXPORT int mcs_store_memory_stats_get(const mcs_store *store,
                                          mcs_memory_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_STORE_H */
