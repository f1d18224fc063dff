/* One shard of the memory store: chained hash table with incremental
 * rehashing, LRU list, byte accounting. Every function except init, fini,
 * enter, leave and grow runs with the shard's lock held and neither
 * allocates nor frees: removed items and retired bucket arrays are handed
 * to mcs__mem_op and released after unlocking. */
#include <string.h>

#include "store/memory/memory_int.h"

#define MEM_INITIAL_BUCKETS 64u /* per shard; doubles when full */
/* Incremental rehash: each locked operation moves at most this many
 * non-empty buckets and skips at most this many empty ones, so no
 * operation pays for a whole table (as in redis's dict.c). Growth starts
 * when items == buckets and doubles the table, so at least as many
 * operations pass before the next growth as there are buckets to move:
 * the rehash always finishes in time. */
#define MEM_REHASH_BUCKETS 8u
#define MEM_REHASH_EMPTY 64u
/* How far from the LRU tail eviction looks for an expired item. */
#define MEM_EXPIRED_SCAN 5u

typedef mcs__mem_item item;
typedef mcs__mem_shard shard;

static bool item_expired(const item *it, int64_t now) {
  return now >= it->expiry;
}

static bool item_matches(const item *it, const mcs__mem_key *k) {
  return it->hash == k->hash && it->key_len == k->len &&
         memcmp(it->data, k->key, k->len) == 0;
}

/* ---- Hash table ------------------------------------------------------- */

static item **table_slot(const mcs__mem_table *t, uint64_t hash) {
  return &t->slots[hash & t->mask];
}

/* The item with key k in either table, or NULL. Chains are short (load
 * factor <= 1 on average, keyed hash), so this is O(1) expected. */
static item *table_find(const shard *sh, const mcs__mem_key *k) {
  for (int i = 0; i < 2 && sh->t[i].slots; i++)
    for (item *it = *table_slot(&sh->t[i], k->hash); it; it = it->hnext)
      if (item_matches(it, k))
        return it;
  return NULL;
}

/* New items go to the table being rehashed into, so t[0] only drains. */
static void table_insert(shard *sh, item *it) {
  mcs__mem_table *t = sh->t[1].slots ? &sh->t[1] : &sh->t[0];
  item **slot = table_slot(t, it->hash);
  it->hnext = *slot;
  *slot = it;
  t->used++;
}

static void table_remove(shard *sh, item *it) {
  for (int i = 0; i < 2 && sh->t[i].slots; i++) {
    for (item **link = table_slot(&sh->t[i], it->hash); *link;
         link = &(*link)->hnext) {
      if (*link == it) {
        *link = it->hnext;
        sh->t[i].used--;
        return;
      }
    }
  }
}

/* Moves one t[0] bucket's chain into t[1]. */
static void table_move_bucket(shard *sh, size_t idx) {
  item *it = sh->t[0].slots[idx];
  sh->t[0].slots[idx] = NULL;
  while (it) {
    item *next = it->hnext;
    item **slot = table_slot(&sh->t[1], it->hash);
    it->hnext = *slot;
    *slot = it;
    sh->t[0].used--;
    sh->t[1].used++;
    it = next;
  }
}

/* One bounded step of rehashing. When t[0] is drained, t[1] takes its
 * place and the old array goes to op, to be freed after unlocking. */
static void table_rehash_step(shard *sh, mcs__mem_op *op) {
  if (!sh->t[1].slots)
    return;
  unsigned moved = 0, empty = 0;
  while (sh->rehash_idx <= sh->t[0].mask && moved < MEM_REHASH_BUCKETS &&
         empty < MEM_REHASH_EMPTY) {
    if (sh->t[0].slots[sh->rehash_idx]) {
      table_move_bucket(sh, sh->rehash_idx);
      moved++;
    } else {
      empty++;
    }
    sh->rehash_idx++;
  }
  if (sh->rehash_idx <= sh->t[0].mask)
    return;
  op->old_slots = sh->t[0].slots;
  sh->t[0] = sh->t[1];
  sh->t[1] = (mcs__mem_table){NULL, 0, 0};
  sh->rehash_idx = 0;
}

/* Asks for twice the buckets once there are as many items as buckets; the
 * array is allocated after unlocking (shard_grow). */
static void table_check_load(const shard *sh, mcs__mem_op *op) {
  size_t n = sh->t[0].mask + 1;
  if (sh->t[1].slots || sh->t[0].used < n)
    return;
  if (n <= SIZE_MAX / 2 / sizeof(item *))
    op->grow_to = n * 2;
}

/* ---- LRU list --------------------------------------------------------- */

static void lru_unlink(shard *sh, item *it) {
  if (it->prev)
    it->prev->next = it->next;
  else
    sh->lru_head = it->next;
  if (it->next)
    it->next->prev = it->prev;
  else
    sh->lru_tail = it->prev;
  it->prev = it->next = NULL;
}

static void lru_push_head(shard *sh, item *it) {
  it->prev = NULL;
  it->next = sh->lru_head;
  if (sh->lru_head)
    sh->lru_head->prev = it;
  else
    sh->lru_tail = it;
  sh->lru_head = it;
}

void mcs__mem_shard_bump(shard *sh, item *it) {
  if (sh->lru_head == it)
    return;
  lru_unlink(sh, it);
  lru_push_head(sh, it);
}

/* ---- Shard operations (locked) ---------------------------------------- */

void mcs__mem_shard_link(shard *sh, item *it, mcs__mem_op *op) {
  table_insert(sh, it);
  lru_push_head(sh, it);
  sh->bytes += mcs__mem_item_size(it);
  sh->items++;
  table_check_load(sh, op);
}

void mcs__mem_shard_unlink(shard *sh, item *it, mcs__mem_op *op) {
  table_remove(sh, it);
  lru_unlink(sh, it);
  sh->bytes -= mcs__mem_item_size(it);
  sh->items--;
  it->hnext = op->garbage;
  op->garbage = it;
}

item *mcs__mem_shard_lookup(shard *sh, const mcs__mem_key *k, int64_t now,
                            mcs__mem_op *op) {
  item *it = table_find(sh, k);
  if (it && item_expired(it, now)) {
    mcs__mem_shard_unlink(sh, it, op);
    sh->expired++;
    return NULL;
  }
  return it;
}

/* The item to drop for space: an expired one near the tail if any (cheap
 * to find, and losing it costs nothing), else the least recently used. */
static item *shard_victim(const shard *sh, int64_t now, bool *expired) {
  item *it = sh->lru_tail;
  for (unsigned i = 0; it && i < MEM_EXPIRED_SCAN; i++, it = it->prev) {
    if (item_expired(it, now)) {
      *expired = true;
      return it;
    }
  }
  *expired = false;
  return sh->lru_tail;
}

/* Terminates: need <= budget, so an empty shard always has room. */
void mcs__mem_shard_make_room(shard *sh, size_t budget, size_t need,
                              int64_t now, mcs__mem_op *op) {
  while (sh->lru_tail && sh->bytes + need > budget) {
    bool expired;
    item *victim = shard_victim(sh, now, &expired);
    mcs__mem_shard_unlink(sh, victim, op);
    if (expired)
      sh->expired++;
    else
      sh->evictions++;
  }
}

/* ---- Locking, growth, lifetime ---------------------------------------- */

/* Installs a larger bucket array, allocated outside the lock. Growth is an
 * optimisation: if the allocation fails, chains just get longer and the
 * next insert asks again. */
static void shard_grow(shard *sh, size_t buckets) {
  item **slots = mcs__calloc(buckets, sizeof *slots);
  if (!slots)
    return;
  pthread_mutex_lock(&sh->lock);
  if (!sh->t[1].slots && sh->t[0].mask + 1 < buckets) {
    sh->t[1] = (mcs__mem_table){slots, buckets - 1, 0};
    sh->rehash_idx = 0;
    slots = NULL;
  }
  pthread_mutex_unlock(&sh->lock);
  mcs__free(slots); /* another thread grew the table first */
}

void mcs__mem_shard_enter(shard *sh, mcs__mem_op *op) {
  *op = (mcs__mem_op){NULL, NULL, 0};
  pthread_mutex_lock(&sh->lock);
  table_rehash_step(sh, op);
}

void mcs__mem_shard_leave(shard *sh, mcs__mem_op *op) {
  pthread_mutex_unlock(&sh->lock);
  for (item *it = op->garbage, *next; it; it = next) {
    next = it->hnext;
    mcs__free(it);
  }
  mcs__free(op->old_slots);
  if (op->grow_to)
    shard_grow(sh, op->grow_to);
}

int mcs__mem_shard_init(shard *sh) {
  memset(sh, 0, sizeof *sh);
  sh->t[0].slots = mcs__calloc(MEM_INITIAL_BUCKETS, sizeof(item *));
  if (!sh->t[0].slots)
    return MCS_ENOMEM;
  sh->t[0].mask = MEM_INITIAL_BUCKETS - 1;
  if (pthread_mutex_init(&sh->lock, NULL) != 0) {
    mcs__free(sh->t[0].slots);
    return MCS_ENOMEM;
  }
  return MCS_OK;
}

/* Every item is on the LRU list, so walking it frees them all. */
void mcs__mem_shard_fini(shard *sh) {
  for (item *it = sh->lru_head, *next; it; it = next) {
    next = it->next;
    mcs__free(it);
  }
  mcs__free(sh->t[0].slots);
  mcs__free(sh->t[1].slots);
  pthread_mutex_destroy(&sh->lock);
}
