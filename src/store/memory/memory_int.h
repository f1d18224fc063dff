/* One shard of the memory store: a chained hash table with incremental
 * rehashing, an LRU list and byte accounting behind one mutex. Private to
 * memory_store.c and memory_shard.c; see memory_store.c for the
 * design. */
#ifndef MCS_STORE_MEMORY_SHARD_H
#define MCS_STORE_MEMORY_SHARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

typedef struct mcs__mem_item {
  struct mcs__mem_item *hnext;       /* hash chain; garbage list later */
  struct mcs__mem_item *prev, *next; /* LRU; prev is towards the head */
  uint64_t hash;
  uint64_t cas;
  int64_t expiry; /* store-clock seconds; expired when now >= expiry */
  size_t value_len;
  uint32_t flags;
  uint8_t key_len;
  unsigned char data[]; /* key_len key bytes, then value_len value bytes */
} mcs__mem_item;

_Static_assert(MCS_STORE_KEY_MAX <= UINT8_MAX, "key_len is a uint8_t");

typedef struct mcs__mem_table {
  mcs__mem_item **slots;
  size_t mask; /* bucket count - 1; the count is a power of two */
  size_t used; /* items chained in this table */
} mcs__mem_table;

typedef struct mcs__mem_shard {
  pthread_mutex_t lock;
  mcs__mem_table t[2];     /* t[1].slots != NULL only while rehashing */
  size_t rehash_idx;       /* next t[0] bucket to move while rehashing */
  mcs__mem_item *lru_head; /* most recently used */
  mcs__mem_item *lru_tail; /* eviction candidate */
  size_t bytes;            /* accounted bytes of the items held */
  size_t items;
  uint64_t evictions;
  uint64_t expired;
} mcs__mem_shard;

/* A key as prepared (hashed) outside the lock. */
typedef struct mcs__mem_key {
  const char *key;
  uint8_t len;
  uint64_t hash;
} mcs__mem_key;

/* What a locked section leaves to do once the lock is released, so that
 * freeing and allocating never happen under it. */
typedef struct mcs__mem_op {
  mcs__mem_item *garbage;    /* unlinked items, chained through hnext */
  mcs__mem_item **old_slots; /* bucket array retired by a finished rehash */
  size_t grow_to;            /* > 0: the table wants this many buckets */
} mcs__mem_op;

/* Accounted size of an item: header, one bucket pointer, key and value. */
static inline size_t mcs__mem_item_bytes(size_t key_len, size_t value_len) {
  return sizeof(mcs__mem_item) + sizeof(mcs__mem_item *) + key_len +
         value_len;
}

static inline size_t mcs__mem_item_size(const mcs__mem_item *it) {
  return mcs__mem_item_bytes(it->key_len, it->value_len);
}

/* Initialises an empty shard (zeroing it first). MCS_OK or MCS_ENOMEM with
 * nothing left allocated. */
int mcs__mem_shard_init(mcs__mem_shard *sh);
/* Frees every item and table and destroys the mutex. */
void mcs__mem_shard_fini(mcs__mem_shard *sh);

/* Locks the shard and does one bounded step of rehashing. */
void mcs__mem_shard_enter(mcs__mem_shard *sh, mcs__mem_op *op);
/* Unlocks, then frees what was unlinked and grows the table if asked. */
void mcs__mem_shard_leave(mcs__mem_shard *sh, mcs__mem_op *op);

/* The following need the lock (between enter and leave). */

/* The live item with key k, or NULL; an expired one is reclaimed (and
 * counted) on the way. The pointer is valid until leave. */
mcs__mem_item *mcs__mem_shard_lookup(mcs__mem_shard *sh,
                                     const mcs__mem_key *k, int64_t now,
                                     mcs__mem_op *op);
/* Links a new item at the LRU head. The shard owns it from now on. */
void mcs__mem_shard_link(mcs__mem_shard *sh, mcs__mem_item *it,
                         mcs__mem_op *op);
/* Unlinks an item; it is freed by leave. */
void mcs__mem_shard_unlink(mcs__mem_shard *sh, mcs__mem_item *it,
                           mcs__mem_op *op);
/* Drops items (expired ones near the LRU tail first, else the least
 * recently used) until `need` more bytes fit within `budget`. need must be
 * <= budget. */
void mcs__mem_shard_make_room(mcs__mem_shard *sh, size_t budget, size_t need,
                              int64_t now, mcs__mem_op *op);
/* Marks an item most recently used. */
void mcs__mem_shard_bump(mcs__mem_shard *sh, mcs__mem_item *it);

#endif /* MCS_STORE_MEMORY_SHARD_H */
