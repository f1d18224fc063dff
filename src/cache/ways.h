/*
 * Set-associative slot tables for the caches keyed by a hash (idcache.c,
 * rcache.c). A hash picks a BUCKET of MCS__WAYS adjacent slots; an entry
 * may live in any of them. Why not one slot per hash: with k keys over n
 * slots, a key shares its slot with another with probability
 * 1 - (1 - 1/n)^(k-1) (about one key in five at k = n/4), and two such
 * keys used in turn evict each other on every use, so a cache a quarter
 * full still misses a fifth of the time. With four ways a bucket must be
 * wanted by five keys at once before anything is evicted (at a quarter
 * full: about one key in fifty).
 *
 * A new entry goes, in order, to the way already holding its key, to an
 * empty way, to the way used least recently. Each bucket keeps its ways'
 * recency ranks (0: used last); the caller holds the bucket's lock.
 *
 * Both caches make and unmake their tables the same way (ways.c): the
 * slots, the ranks and a fixed set of mutexes, one per group of buckets.
 */
#ifndef MCS_WAYS_H
#define MCS_WAYS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCS__WAYS 4
/* Mutexes per table: bucket b takes lock b % MCS__WAYS_LOCKS. */
#define MCS__WAYS_LOCKS 64

typedef struct mcs__ways_rank {
  uint8_t of[MCS__WAYS]; /* a permutation of 0 .. MCS__WAYS - 1 */
} mcs__ways_rank;

/* Slots in a table of at least `entries`: a power of two, at least one
 * bucket. */
static inline size_t mcs__ways_slots(size_t entries) {
  size_t n = MCS__WAYS;
  while (n < entries)
    n <<= 1;
  return n;
}

/* The bucket a hash picks in a table of `slots` slots; its ways are the
 * slots MCS__WAYS * bucket + 0 .. MCS__WAYS - 1. */
static inline size_t mcs__ways_bucket(size_t hash, size_t slots) {
  return hash & (slots / MCS__WAYS - 1);
}

static inline void mcs__ways_rank_init(mcs__ways_rank *r) {
  for (unsigned w = 0; w < MCS__WAYS; w++)
    r->of[w] = (uint8_t)w;
}

/* Way w was just used: it ranks first, those it passed move down one. */
static inline void mcs__ways_touch(mcs__ways_rank *r, unsigned w) {
  for (unsigned i = 0; i < MCS__WAYS; i++)
    if (r->of[i] < r->of[w])
      r->of[i]++;
  r->of[w] = 0;
}

/* The way a new entry takes. holds[w]: way w holds the entry's key;
 * empty[w]: way w is empty. */
static inline unsigned mcs__ways_pick(const bool holds[MCS__WAYS],
                                      const bool empty[MCS__WAYS],
                                      const mcs__ways_rank *r) {
  unsigned oldest = 0;
  for (unsigned w = 0; w < MCS__WAYS; w++)
    if (holds[w])
      return w;
  for (unsigned w = 0; w < MCS__WAYS; w++)
    if (empty[w])
      return w;
  for (unsigned w = 1; w < MCS__WAYS; w++)
    if (r->of[w] > r->of[oldest])
      oldest = w;
  return oldest;
}

/* ---- Locks (ways.c) ---- */

/* Initialises n mutexes, all or none: when one fails, those made before
 * it are destroyed. MCS_OK, or MCS_ENOMEM (the system lacked the
 * resources; glibc never fails, other libcs may). */
int mcs__locks_init(pthread_mutex_t *locks, size_t n);
void mcs__locks_destroy(pthread_mutex_t *locks, size_t n);

/* ---- A cache's table (ways.c) ---- */

typedef struct mcs__ways_table {
  size_t slots;           /* a power of two, at least MCS__WAYS */
  size_t slot_size;       /* bytes of one slot */
  void *mem;              /* slots * slot_size bytes, zeroed at first */
  mcs__ways_rank *recent; /* per bucket */
  pthread_mutex_t locks[MCS__WAYS_LOCKS];
} mcs__ways_table;

/* Sets up t for at least `entries` slots of slot_size bytes. MCS_OK, or
 * MCS_ENOMEM with nothing left to free. */
int mcs__ways_table_init(mcs__ways_table *t, size_t entries, size_t slot_size);
/* Destroys the locks, wipes and frees the slots (whatever they point to
 * is the caller's to release first) and the ranks. */
void mcs__ways_table_fini(mcs__ways_table *t);

static inline pthread_mutex_t *mcs__ways_lock(mcs__ways_table *t, size_t b) {
  return &t->locks[b % MCS__WAYS_LOCKS];
}

#endif
