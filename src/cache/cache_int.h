/*
 * The cache wing: the three per-manager caches that spare a request work
 * it did before — verified cookies (idcache.c: two HMACs), decoded records
 * (rcache.c: a decode), users' revocation generations (revcache.c: a store
 * read) — over the set-associative slot tables of ways.h. Each is
 * thread-safe, bounded, and only ever an optimisation: a miss costs the
 * work, never a different answer.
 *
 * May use: util, crypto, codec. Knows nothing of stores or managers.
 * (docs/design.md, "Wings")
 */
#ifndef MCS_CACHE_INT_H
#define MCS_CACHE_INT_H

#include "codec/codec_int.h"
#include "crypto/crypto_int.h"

/* Largest session id any scheme uses (tornado: 64 hex digits). */
#define MCS__ID_MAX 64

/* ---- Decoded-record cache (rcache.c) ----
 * Thread-safe; a hit needs the raw bytes to be equal to the cached ones.
 * mcs__rcache_new with 0 entries gives NULL (disabled); every function
 * accepts NULL. */
typedef struct mcs__rcache mcs__rcache;
int mcs__rcache_new(size_t entries, mcs__rcache **out);
void mcs__rcache_free(mcs__rcache *c);
/* On a hit (*hit) fills rec with a private top-level copy of the data. */
int mcs__rcache_get(mcs__rcache *c, const char *key, size_t key_len,
                    const uint8_t *raw, size_t len, mcs__record *rec,
                    bool *hit);
/* Remembers what raw decoded to (best effort: never fails). */
void mcs__rcache_put(mcs__rcache *c, const char *key, size_t key_len,
                     const uint8_t *raw, size_t len, const mcs__record *rec);

/* ---- Verified-cookie cache (idcache.c), native mode ----
 * Thread-safe; a hit needs the cookie value to be equal (constant-time
 * compare) to one that verified. mcs__idcache_new with 0 entries gives
 * NULL (disabled); every function accepts NULL. */
typedef struct mcs__idcache mcs__idcache;
typedef struct mcs__idcache_entry {
  char id[MCS__ID_MAX + 1];
  size_t id_len;
  int64_t signed_at;               /* the signature's timestamp */
  char key[MCS_STORE_KEY_MAX + 1]; /* the id's store key */
  size_t key_len;
  uint8_t csrf_mac[MCS__HMAC_BYTES]; /* the id's CSRF MAC (session/csrf.c) */
} mcs__idcache_entry;
int mcs__idcache_new(size_t entries, mcs__idcache **out);
void mcs__idcache_free(mcs__idcache *c);
/* True, with *out, when `value` verified before (its age is the caller's
 * to check). */
bool mcs__idcache_get(mcs__idcache *c, const char *value, size_t len,
                      mcs__idcache_entry *out);
/* Remembers a value that verified (best effort: never fails). */
void mcs__idcache_put(mcs__idcache *c, const char *value, size_t len,
                      const mcs__idcache_entry *e);
/* Forgets `value` (a cookie that aged out). */
void mcs__idcache_drop(mcs__idcache *c, const char *value, size_t len);

/* ---- Users' revocation generations (revcache.c) ---- */
/* Bytes of a user's HMAC that name it in the cache. */
#define MCS__USER_TAG_LEN 16
typedef struct mcs__revcache mcs__revcache;
int mcs__revcache_new(size_t entries, mcs__revcache **out);
void mcs__revcache_free(mcs__revcache *c); /* NULL is fine */
/* True, with *gen, when the cache holds the user (tag) and read it less
 * than `interval` seconds before `now`. Always false for interval 0. */
bool mcs__revcache_get(mcs__revcache *c, const uint8_t *tag, int64_t now,
                       uint32_t interval, uint64_t *gen);
/* A stamp to take before reading the store, for mcs__revcache_put: an
 * entry written after it is newer than that read and is kept. */
uint64_t mcs__revcache_stamp(mcs__revcache *c);
void mcs__revcache_put(mcs__revcache *c, const uint8_t *tag, uint64_t gen,
                       int64_t now, uint64_t stamp);
/* Drops the user's entry unless it was written after `stamp` (a read
 * that found the user's record unreadable: nothing may vouch for it). */
void mcs__revcache_forget(mcs__revcache *c, const uint8_t *tag,
                          uint64_t stamp);

#endif /* MCS_CACHE_INT_H */
