/*
 * The manager's cache of per-user revocation generations (revoke.c):
 * user tag -> (generation, when it was read), bounded and thread-safe.
 *
 * Set-associative: a tag picks one set of WAYS entries; a full set drops
 * the entry written longest ago. Sets are guarded by a fixed number of
 * striped mutexes, so threads checking different users rarely meet on a
 * lock, and every operation is O(WAYS).
 *
 * Ordering: a reader takes a stamp BEFORE it asks the store and passes it
 * to put; an entry written after that stamp (by a revoke through this
 * manager, or a newer read) is newer than what the reader saw and is
 * kept. Without this, a read that started before a local revoke could
 * put the old generation back after the revoke updated the cache.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cache/cache_int.h"
#include "cache/ways.h" /* its locks */

#define WAYS 4
#define STRIPES 64

typedef struct rc_entry {
  uint8_t tag[MCS__USER_TAG_LEN];
  uint64_t gen;       /* 0: the user has no revocation record */
  int64_t fetched_at; /* manager clock, Unix seconds */
  uint64_t seq;       /* write order; 0: the slot is empty */
} rc_entry;

struct mcs__revcache {
  size_t sets; /* a power of two */
  rc_entry *entries;
  pthread_mutex_t locks[STRIPES];
  _Atomic uint64_t seq;
};

static size_t round_up_pow2(size_t n) {
  size_t p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

int mcs__revcache_new(size_t entries, mcs__revcache **out) {
  *out = NULL;
  mcs__revcache *c = mcs__calloc(1, sizeof *c);
  if (!c)
    return MCS_ENOMEM;
  c->sets = round_up_pow2((entries + WAYS - 1) / WAYS);
  c->entries = mcs__calloc(c->sets * WAYS, sizeof *c->entries);
  int rc = c->entries ? mcs__locks_init(c->locks, STRIPES) : MCS_ENOMEM;
  if (rc != MCS_OK) {
    mcs__free(c->entries);
    mcs__free(c);
    return rc;
  }
  atomic_init(&c->seq, 0);
  *out = c;
  return MCS_OK;
}

void mcs__revcache_free(mcs__revcache *c) {
  if (!c)
    return;
  mcs__locks_destroy(c->locks, STRIPES);
  mcs__free(c->entries);
  mcs__free(c);
}

/* The set a tag belongs to (tags are HMAC output: any bytes will do). */
static size_t set_of(const mcs__revcache *c, const uint8_t *tag) {
  uint64_t h;
  memcpy(&h, tag, sizeof h);
  return (size_t)(h & (c->sets - 1));
}

static rc_entry *find(mcs__revcache *c, size_t set, const uint8_t *tag) {
  rc_entry *e = &c->entries[set * WAYS];
  for (size_t i = 0; i < WAYS; i++)
    if (e[i].seq && memcmp(e[i].tag, tag, MCS__USER_TAG_LEN) == 0)
      return &e[i];
  return NULL;
}

/* An empty slot, else the one written longest ago. */
static rc_entry *victim(mcs__revcache *c, size_t set) {
  rc_entry *e = &c->entries[set * WAYS], *v = &e[0];
  for (size_t i = 0; i < WAYS; i++) {
    if (e[i].seq == 0)
      return &e[i];
    if (e[i].seq < v->seq)
      v = &e[i];
  }
  return v;
}

bool mcs__revcache_get(mcs__revcache *c, const uint8_t *tag, int64_t now,
                       uint32_t interval, uint64_t *gen) {
  if (interval == 0)
    return false;
  size_t set = set_of(c, tag);
  pthread_mutex_t *lock = &c->locks[set % STRIPES];
  pthread_mutex_lock(lock);
  const rc_entry *e = find(c, set, tag);
  /* Fresh for `interval` seconds from the (whole) second of the read:
   * with a clock in whole seconds that is at most `interval` real
   * seconds after the store answered. A clock that went back also
   * counts as stale. */
  bool fresh = e && now >= e->fetched_at && now - e->fetched_at < interval;
  if (fresh)
    *gen = e->gen;
  pthread_mutex_unlock(lock);
  return fresh;
}

uint64_t mcs__revcache_stamp(mcs__revcache *c) {
  return atomic_load_explicit(&c->seq, memory_order_acquire);
}

void mcs__revcache_put(mcs__revcache *c, const uint8_t *tag, uint64_t gen,
                       int64_t now, uint64_t stamp) {
  size_t set = set_of(c, tag);
  pthread_mutex_t *lock = &c->locks[set % STRIPES];
  pthread_mutex_lock(lock);
  rc_entry *e = find(c, set, tag);
  if (!e || e->seq <= stamp) { /* else: written after our read began */
    if (!e) {
      e = victim(c, set);
      memcpy(e->tag, tag, MCS__USER_TAG_LEN);
    }
    e->gen = gen;
    e->fetched_at = now;
    e->seq = atomic_fetch_add_explicit(&c->seq, 1, memory_order_acq_rel) + 1;
  }
  pthread_mutex_unlock(lock);
}

void mcs__revcache_forget(mcs__revcache *c, const uint8_t *tag,
                          uint64_t stamp) {
  size_t set = set_of(c, tag);
  pthread_mutex_t *lock = &c->locks[set % STRIPES];
  pthread_mutex_lock(lock);
  rc_entry *e = find(c, set, tag);
  if (e && e->seq <= stamp) /* else: written after our read began */
    e->seq = 0;             /* an empty slot */
  pthread_mutex_unlock(lock);
}
