/*
 * Two-way set-associative slot tables, for the caches keyed by a hash
 * (idcache.c, rcache.c). A hash picks a BUCKET of two adjacent slots; an
 * entry may live in either. Why not one slot per hash: with k keys over
 * n slots, a key shares its slot with another with probability
 * 1 - (1 - 1/n)^(k-1) (about one key in five at k = n/4), and two such
 * keys used in turn evict each other on every use, so a cache a quarter
 * full still misses a fifth of the time. With two ways a bucket must be
 * wanted by three keys at once before anything is evicted.
 *
 * A new entry goes, in order, to the way already holding its key, to an
 * empty way, to the way used less recently (one bit per bucket).
 */
#ifndef MCS_WAYS_H
#define MCS_WAYS_H

#include <stdbool.h>
#include <stddef.h>

/* Slots in a table of at least `entries`: a power of two, at least 2. */
static inline size_t mcs__ways_slots(size_t entries) {
  size_t n = 2;
  while (n < entries)
    n <<= 1;
  return n;
}

/* The bucket a hash picks in a table of `slots` slots; its ways are the
 * slots 2 * bucket and 2 * bucket + 1. */
static inline size_t mcs__ways_bucket(size_t hash, size_t slots) {
  return hash & (slots / 2 - 1);
}

/* The way (0 or 1) a new entry takes. holds[w]: way w holds the entry's
 * key; empty[w]: way w is empty; recent: the way used last. */
static inline unsigned mcs__ways_pick(const bool holds[2], const bool empty[2],
                                      unsigned recent) {
  for (unsigned w = 0; w < 2; w++)
    if (holds[w])
      return w;
  for (unsigned w = 0; w < 2; w++)
    if (empty[w])
      return w;
  return recent ^ 1u;
}

#endif
