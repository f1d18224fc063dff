/*
 * A cache of verified session cookies (native mode). Verifying a cookie
 * (base64, HMAC-SHA256) and deriving its store key (another HMAC) cost
 * about 3 us per request with libsodium's portable SHA-256 — a tenth of
 * what an event-loop server spends on a whole request — and a user's
 * browser sends the same cookie on every request. So: a fixed table of
 * slots, picked by a keyed hash (SipHash, random key per cache: nobody can
 * aim at a slot) of the cookie value, each holding one cookie value that
 * verified and what it verified to (the id, the signature's time, the
 * store key).
 *
 * Why a hit is as good as a verification:
 *   - only values that verified are put in, under this manager's key ring,
 *     which never changes after the manager is made;
 *   - a hit needs the presented value to be byte-for-byte equal to the
 *     stored one, compared in constant time (the stored value is another
 *     user's secret: a timing difference must not tell an attacker how
 *     much of it they guessed);
 *   - the signature's age is checked again on every hit, as the signer
 *     checks it (a cookie ages out of the cache as it ages out of
 *     validity).
 * Values over IDCACHE_VALUE_MAX bytes are not cached. Thread-safe: one
 * mutex per group of slots.
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define IDCACHE_VALUE_MAX 256
#define IDCACHE_LOCKS 64

typedef struct slot {
  size_t value_len; /* 0: empty */
  char value[IDCACHE_VALUE_MAX];
  mcs__idcache_entry e;
} slot;

struct mcs__idcache {
  size_t entries; /* a power of two */
  slot *slots;
  uint8_t hash_key[crypto_shorthash_KEYBYTES];
  pthread_mutex_t locks[IDCACHE_LOCKS];
};

int mcs__idcache_new(size_t entries, mcs__idcache **out) {
  *out = NULL;
  if (entries == 0)
    return MCS_OK;
  size_t n = 1;
  while (n < entries)
    n <<= 1;
  mcs__idcache *c = mcs__calloc(1, sizeof *c);
  if (!c || !(c->slots = mcs__calloc(n, sizeof *c->slots))) {
    mcs__free(c);
    return MCS_ENOMEM;
  }
  c->entries = n;
  randombytes_buf(c->hash_key, sizeof c->hash_key);
  for (size_t i = 0; i < IDCACHE_LOCKS; i++)
    pthread_mutex_init(&c->locks[i], NULL);
  *out = c;
  return MCS_OK;
}

void mcs__idcache_free(mcs__idcache *c) {
  if (!c)
    return;
  for (size_t i = 0; i < IDCACHE_LOCKS; i++)
    pthread_mutex_destroy(&c->locks[i]);
  sodium_memzero(c->slots, c->entries * sizeof *c->slots);
  mcs__free(c->slots);
  sodium_memzero(c->hash_key, sizeof c->hash_key);
  mcs__free(c);
}

static size_t slot_of(const mcs__idcache *c, const char *value, size_t len) {
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t v;
  crypto_shorthash(h, (const unsigned char *)value, len, c->hash_key);
  memcpy(&v, h, sizeof v);
  return (size_t)(v & (c->entries - 1));
}

static pthread_mutex_t *lock_of(mcs__idcache *c, size_t i) {
  return &c->locks[i % IDCACHE_LOCKS];
}

bool mcs__idcache_get(mcs__idcache *c, const char *value, size_t len,
                      mcs__idcache_entry *out) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return false;
  size_t i = slot_of(c, value, len);
  slot *sl = &c->slots[i];
  bool hit = false;
  pthread_mutex_lock(lock_of(c, i));
  /* Lengths are not secret (the presenter chose theirs); contents are. */
  if (sl->value_len == len && sodium_memcmp(sl->value, value, len) == 0) {
    *out = sl->e;
    hit = true;
  }
  pthread_mutex_unlock(lock_of(c, i));
  return hit;
}

void mcs__idcache_put(mcs__idcache *c, const char *value, size_t len,
                      const mcs__idcache_entry *e) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return;
  size_t i = slot_of(c, value, len);
  slot *sl = &c->slots[i];
  pthread_mutex_lock(lock_of(c, i));
  memcpy(sl->value, value, len);
  sl->value_len = len;
  sl->e = *e;
  pthread_mutex_unlock(lock_of(c, i));
}

void mcs__idcache_drop(mcs__idcache *c, const char *value, size_t len) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return;
  size_t i = slot_of(c, value, len);
  slot *sl = &c->slots[i];
  pthread_mutex_lock(lock_of(c, i));
  if (sl->value_len == len && sodium_memcmp(sl->value, value, len) == 0) {
    sodium_memzero(sl, sizeof *sl);
  }
  pthread_mutex_unlock(lock_of(c, i));
}
