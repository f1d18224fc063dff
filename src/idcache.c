/*
 * A cache of verified session cookies (native mode). Verifying a cookie
 * (base64, HMAC-SHA256) and deriving its store key (another HMAC) cost
 * about 3 us per request with libsodium's portable SHA-256 — a tenth of
 * what an event-loop server spends on a whole request — and a user's
 * browser sends the same cookie on every request. So: a fixed table of
 * slots, picked by a keyed hash (SipHash, random key per cache: nobody can
 * aim at a slot) of the cookie value, each holding one cookie value that
 * verified and what it verified to (the id, the signature's time, the
 * store key). Two ways per bucket (ways.h).
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
#include "ways.h"

#define IDCACHE_VALUE_MAX 256
#define IDCACHE_LOCKS 64

typedef struct slot {
  size_t value_len; /* 0: empty */
  char value[IDCACHE_VALUE_MAX];
  mcs__idcache_entry e;
} slot;

struct mcs__idcache {
  size_t entries; /* slots: a power of two, at least 2 */
  slot *slots;
  unsigned char *recent; /* per bucket: the way used last */
  uint8_t hash_key[crypto_shorthash_KEYBYTES];
  pthread_mutex_t locks[IDCACHE_LOCKS];
};

int mcs__idcache_new(size_t entries, mcs__idcache **out) {
  *out = NULL;
  if (entries == 0)
    return MCS_OK;
  size_t n = mcs__ways_slots(entries);
  mcs__idcache *c = mcs__calloc(1, sizeof *c);
  if (!c || !(c->slots = mcs__calloc(n, sizeof *c->slots)) ||
      !(c->recent = mcs__calloc(n / 2, 1))) {
    if (c)
      mcs__free(c->slots);
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
  mcs__free(c->recent);
  sodium_memzero(c->hash_key, sizeof c->hash_key);
  mcs__free(c);
}

static size_t bucket_of(const mcs__idcache *c, const char *value,
                        size_t len) {
  uint8_t h[crypto_shorthash_BYTES];
  uint64_t v;
  crypto_shorthash(h, (const unsigned char *)value, len, c->hash_key);
  memcpy(&v, h, sizeof v);
  return mcs__ways_bucket((size_t)v, c->entries);
}

static pthread_mutex_t *lock_of(mcs__idcache *c, size_t b) {
  return &c->locks[b % IDCACHE_LOCKS];
}

/* Which ways of bucket b hold `value`. Both are compared, in constant time
 * (lengths are not secret: the presenter chose theirs; contents are), so
 * the time taken does not tell which way, if any, matched. */
static void match(const mcs__idcache *c, size_t b, const char *value,
                  size_t len, bool holds[2]) {
  for (unsigned w = 0; w < 2; w++) {
    const slot *sl = &c->slots[2 * b + w];
    holds[w] = sl->value_len == len &&
               sodium_memcmp(sl->value, value, len) == 0;
  }
}

bool mcs__idcache_get(mcs__idcache *c, const char *value, size_t len,
                      mcs__idcache_entry *out) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return false;
  size_t b = bucket_of(c, value, len);
  bool holds[2], hit = false;
  pthread_mutex_lock(lock_of(c, b));
  match(c, b, value, len, holds);
  for (unsigned w = 0; w < 2; w++) {
    if (holds[w]) {
      *out = c->slots[2 * b + w].e;
      c->recent[b] = (unsigned char)w;
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
  size_t b = bucket_of(c, value, len);
  bool holds[2], empty[2];
  pthread_mutex_lock(lock_of(c, b));
  match(c, b, value, len, holds);
  for (unsigned w = 0; w < 2; w++)
    empty[w] = c->slots[2 * b + w].value_len == 0;
  unsigned w = mcs__ways_pick(holds, empty, c->recent[b]);
  slot *sl = &c->slots[2 * b + w];
  memcpy(sl->value, value, len);
  sl->value_len = len;
  sl->e = *e;
  c->recent[b] = (unsigned char)w;
  pthread_mutex_unlock(lock_of(c, b));
}

void mcs__idcache_drop(mcs__idcache *c, const char *value, size_t len) {
  if (!c || len == 0 || len > IDCACHE_VALUE_MAX)
    return;
  size_t b = bucket_of(c, value, len);
  bool holds[2];
  pthread_mutex_lock(lock_of(c, b));
  match(c, b, value, len, holds);
  for (unsigned w = 0; w < 2; w++)
    if (holds[w])
      sodium_memzero(&c->slots[2 * b + w], sizeof c->slots[0]);
  pthread_mutex_unlock(lock_of(c, b));
}
