/*
 * A cache of verified session cookies (native mode). Verifying a cookie
 * (base64, HMAC-SHA256) and deriving its store key (another HMAC) cost
 * about 3 us per request with libsodium's portable SHA-256 — a tenth of
 * what an event-loop server spends on a whole request — and a user's
 * browser sends the same cookie on every request. So: a fixed table of
 * slots, picked by a keyed hash (SipHash, random key per cache: nobody can
 * aim at a slot) of the cookie value, each holding one cookie value that
 * verified and what it verified to (the id, the signature's time, the
 * store key). Four ways per bucket (ways.h).
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

#include "cache/cache_int.h"
#include "cache/ways.h"

#define IDCACHE_VALUE_MAX 256

typedef struct slot {
  uint64_t hash;    /* keyed hash of the value */
  size_t value_len; /* 0: empty */
  char value[IDCACHE_VALUE_MAX];
  mcs__idcache_entry e;
} slot;

struct mcs__idcache {
  mcs__ways_table t; /* t.mem holds the slots */
  slot *slots;       /* t.mem */
  uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

int mcs__idcache_new(size_t entries, mcs__idcache **out) {
  *out = NULL;
  if (entries == 0)
    return MCS_OK;
  mcs__idcache *c = mcs__calloc(1, sizeof *c);
  int rc = c ? mcs__ways_table_init(&c->t, entries, sizeof(slot)) : MCS_ENOMEM;
  if (rc != MCS_OK) {
    mcs__free(c);
    return rc;
  }
  c->slots = c->t.mem;
  randombytes_buf(c->hash_key, sizeof c->hash_key);
  *out = c;
  return MCS_OK;
}

void mcs__idcache_free(mcs__idcache *c) {
  if (!c)
    return;
  mcs__ways_table_fini(&c->t); /* wipes the slots */
  sodium_memzero(c->hash_key, sizeof c->hash_key);
  mcs__free(c);
}

/* The value's keyed hash (SipHash under the cache's random key). */
static uint64_t hash_of(const mcs__idcache *c, const char *value, size_t len) {
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t v;
  crypto_shorthash(h, (const unsigned char *)value, len, c->hash_key);
  memcpy(&v, h, sizeof v);
  return v;
}

static pthread_mutex_t *lock_of(mcs__idcache *c, size_t b) {
  return mcs__ways_lock(&c->t, b);
}

/* Which ways of bucket b hold `value` (whose hash is h). Only ways with
 * the same hash are compared, and those in constant time: a hash is
 * keyed with a secret, so whether, or how far, two hashes agree tells
 * nothing about the stored value; its bytes are another user's secret,
 * and a timing difference must not tell how much of it was guessed.
 * Lengths are not secret (the presenter chose theirs). */
static void match(const mcs__idcache *c, size_t b, uint64_t h,
                  const char *value, size_t len, bool holds[MCS__WAYS]) {
  for (unsigned w = 0; w < MCS__WAYS; w++) {
    const slot *sl = &c->slots[MCS__WAYS * b + w];
    holds[w] = sl->value_len == len && sl->hash == h &&
               mcs__equal_ct(sl->value, value, len);
  }
}

bool mcs__idcache_get(mcs__idcache *c, const char *value, size_t len,
                      mcs__idcache_entry *out) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return false;
  uint64_t h = hash_of(c, value, len);
  size_t b = mcs__ways_bucket((size_t)h, c->t.slots);
  bool holds[MCS__WAYS], hit = false;
  pthread_mutex_lock(lock_of(c, b));
  match(c, b, h, value, len, holds);
  for (unsigned w = 0; w < MCS__WAYS; w++) {
    if (holds[w]) {
      *out = c->slots[MCS__WAYS * b + w].e;
      mcs__ways_touch(&c->t.recent[b], w);
      hit = true;
      break;
    }
  }
  pthread_mutex_unlock(lock_of(c, b));
  return hit;
}

void mcs__idcache_put(mcs__idcache *c, const char *value, size_t len,
                      const mcs__idcache_entry *e) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return;
  uint64_t h = hash_of(c, value, len);
  size_t b = mcs__ways_bucket((size_t)h, c->t.slots);
  bool holds[MCS__WAYS], empty[MCS__WAYS];
  pthread_mutex_lock(lock_of(c, b));
  match(c, b, h, value, len, holds);
  for (unsigned w = 0; w < MCS__WAYS; w++)
    empty[w] = c->slots[MCS__WAYS * b + w].value_len == 0;
  unsigned w = mcs__ways_pick(holds, empty, &c->t.recent[b]);
  slot *sl = &c->slots[MCS__WAYS * b + w];
  memcpy(sl->value, value, len);
  sl->value_len = len;
  sl->hash = h;
  sl->e = *e;
  mcs__ways_touch(&c->t.recent[b], w);
  pthread_mutex_unlock(lock_of(c, b));
}

void mcs__idcache_drop(mcs__idcache *c, const char *value, size_t len) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return;
  uint64_t h = hash_of(c, value, len);
  size_t b = mcs__ways_bucket((size_t)h, c->t.slots);
  bool holds[MCS__WAYS];
  pthread_mutex_lock(lock_of(c, b));
  match(c, b, h, value, len, holds);
  for (unsigned w = 0; w < MCS__WAYS; w++)
    if (holds[w])
      sodium_memzero(&c->slots[MCS__WAYS * b + w], sizeof c->slots[0]);
  pthread_mutex_unlock(lock_of(c, b));
}
