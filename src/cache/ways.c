/* Making and unmaking the slot tables of ways.h, and the striped locks of
 * every cache in this wing: one piece of code, so a failed step frees what
 * the steps before it made in exactly one place. */
#include <string.h>

#include <sodium.h>

#include "cache/cache_int.h"
#include "cache/ways.h"

int mcs__locks_init(pthread_mutex_t *locks, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (pthread_mutex_init(&locks[i], NULL) != 0) {
      mcs__locks_destroy(locks, i);
      return MCS_ENOMEM;
    }
  }
  return MCS_OK;
}

void mcs__locks_destroy(pthread_mutex_t *locks, size_t n) {
  for (size_t i = 0; i < n; i++)
    pthread_mutex_destroy(&locks[i]);
}

int mcs__ways_table_init(mcs__ways_table *t, size_t entries, size_t slot_size) {
  memset(t, 0, sizeof *t);
  t->slots = mcs__ways_slots(entries);
  t->slot_size = slot_size;
  t->mem = mcs__calloc(t->slots, slot_size);
  t->recent = mcs__calloc(t->slots / MCS__WAYS, sizeof *t->recent);
  int rc = t->mem && t->recent ? MCS_OK : MCS_ENOMEM;
  if (rc == MCS_OK)
    rc = mcs__locks_init(t->locks, MCS__WAYS_LOCKS);
  if (rc != MCS_OK) {
    mcs__free(t->mem);
    mcs__free(t->recent);
    memset(t, 0, sizeof *t);
    return rc;
  }
  for (size_t b = 0; b < t->slots / MCS__WAYS; b++)
    mcs__ways_rank_init(&t->recent[b]);
  return MCS_OK;
}

/* The slots are wiped: a verified-cookie cache's hold other users' cookie
 * values. */
void mcs__ways_table_fini(mcs__ways_table *t) {
  mcs__locks_destroy(t->locks, MCS__WAYS_LOCKS);
  sodium_memzero(t->mem, t->slots * t->slot_size);
  mcs__free(t->mem);
  mcs__free(t->recent);
}
