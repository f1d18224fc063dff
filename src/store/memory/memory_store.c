/* The memory store: the embedded default behind every session when no
 * memcached is configured, so a busy multi-threaded server hits it on every
 * request. This file holds the operations, construction and stats;
 * memory_shard.c the hash table, LRU list and accounting of a shard.
 *
 * Layout. The store is split into N shards (a power of two). Each shard has
 * its own mutex, its own chained hash table and its own LRU list, so threads
 * working on different sessions rarely meet on a lock. A key's SipHash-2-4
 * value (libsodium's crypto_shorthash) under a random per-store key picks
 * the shard (top bits) and the bucket (low bits): clients who choose keys
 * cannot aim them all at one bucket or one shard.
 *
 * Semantics follow memcached's (doc/protocol.txt in the memcached
 * repository): get HIT/MISS, add STORED/EXISTS ("NOT_STORED"), cas
 * STORED/EXISTS/MISS ("NOT_FOUND"), set STORED, delete DELETED/MISS, touch
 * TOUCHED/MISS. An item is expired once now >= its expiry (memcached's
 * `exptime <= current_time`); an expired item is invisible to every
 * operation and is reclaimed where it is found. Touch and get-and-touch
 * keep the CAS token, as in memcached. TTLs are always relative seconds
 * here (memcached reads TTLs over 30 days as Unix times; the store wrapper
 * hands us relative ones). CAS tokens come from one atomic counter per
 * store: unique and never 0, but not ordered between concurrent writers.
 *
 * Locking. Whatever can be done without the shard lock is: hashing, reading
 * the clock, allocating and filling a new item, freeing unlinked items and
 * retired bucket arrays, allocating a larger bucket array. Under the lock:
 * lookup, link/unlink, eviction, copying a value out (so no reader can see
 * an item being freed) and one bounded step of incremental rehashing.
 * Nothing under the lock allocates, except mcs_store_value_set growing the
 * caller's buffer, so a write cannot fail half way: MCS_ENOMEM is reported
 * only before the store was touched, and a failed set keeps the old value.
 *
 * Accounting. An item costs sizeof(mcs__mem_item) + one bucket pointer +
 * key + value bytes. Each shard may hold max_bytes / shards of that; a
 * write that would go over evicts from the shard's LRU tail (an expired
 * item among the last few first) until the new item fits. The bucket
 * arrays are not counted beyond that one pointer per item: a table doubles
 * when it has as many items as buckets and never shrinks, so it holds one
 * to two pointers per item at its peak.
 */
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "store/memory/memory_int.h"

/* Defaults, as documented in mcsession.h. */
#define MEM_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define MEM_DEFAULT_SHARDS 16u
#define MEM_DEFAULT_MAX_ITEM ((size_t)1 << 20)

/* Config rules (anything else is MCS_EINVAL):
 *   - max_bytes >= 64 KiB (the documented minimum);
 *   - shards is a power of two in 1..256;
 *   - each shard gets at least 4 KiB (max_bytes / shards >= 4096): below
 *     that a shard holds only a couple of sessions and thrashes;
 *   - 1 <= max_item_bytes <= max_bytes / shards: a value that could never
 *     fit in its shard is a configuration mistake, not a runtime surprise.
 *     (A value near that limit may still be MCS_ETOOBIG once its key and
 *     the item overhead are added.) */
#define MEM_MIN_BYTES ((size_t)64 << 10)
#define MEM_MAX_SHARDS 256u
#define MEM_MIN_SHARD_BYTES ((size_t)4 << 10)

#define MEM_CACHE_LINE 64u
#define MEM_SHARD_STRIDE 192u /* bytes per shard: whole cache lines */

_Static_assert(crypto_shorthash_BYTES == sizeof(uint64_t), "64-bit hash");

/* Each shard on its own cache lines, so one shard's lock traffic does not
 * slow its neighbours (false sharing). */
typedef union mem_shard_slot {
  mcs__mem_shard s;
  unsigned char pad[MEM_SHARD_STRIDE];
} mem_shard_slot;
_Static_assert(sizeof(mcs__mem_shard) <= MEM_SHARD_STRIDE, "grow the stride");
_Static_assert(MEM_SHARD_STRIDE % MEM_CACHE_LINE == 0, "whole lines");

typedef struct mem_store {
  /* Read-only after creation. */
  unsigned char hash_key[crypto_shorthash_KEYBYTES];
  size_t shard_mask;
  size_t shard_budget;
  size_t max_item_bytes;
  int64_t (*clock)(void *clock_ud);
  void *clock_ud;
  void *shard_mem;        /* the allocation behind `shards` */
  mem_shard_slot *shards; /* cache-line aligned */
  /* Written by every write: kept off the read-only line above. */
  unsigned char pad[MEM_CACHE_LINE];
  _Atomic uint64_t last_cas;
} mem_store;

typedef enum mem_mode { MEM_SET, MEM_ADD, MEM_CAS } mem_mode;

/* A write request. */
typedef struct mem_req {
  mem_mode mode;
  const void *data;
  size_t len;
  uint32_t flags;
  uint32_t ttl;
  uint64_t expect; /* MEM_CAS: the token the caller read */
} mem_req;

/* ---- Helpers ---------------------------------------------------------- */

static mcs__mem_shard *shard_at(const mem_store *ms, size_t i) {
  return &ms->shards[i].s;
}

/* Seconds on the configured clock, else CLOCK_MONOTONIC (immune to wall
 * clock jumps, which would expire or revive every session at once). */
static int64_t mem_now(const mem_store *ms) {
  if (ms->clock)
    return ms->clock(ms->clock_ud);
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (int64_t)ts.tv_sec;
}

/* now + ttl, saturating: a clock near INT64_MAX must not wrap expiries
 * into the past. */
static int64_t expiry_at(int64_t now, uint32_t ttl) {
  return now > INT64_MAX - (int64_t)ttl ? INT64_MAX : now + (int64_t)ttl;
}

/* Hashes the key (outside any lock) and picks its shard from the top bits
 * (buckets use the low ones). The wrapper has validated the key; the
 * length check guards direct calls of the ops, since items store the
 * length in a byte. */
static int key_prepare(const mem_store *ms, const char *key, size_t len,
                       mcs__mem_key *k, mcs__mem_shard **sh) {
  if (!key || len == 0 || len > MCS_STORE_KEY_MAX)
    return MCS_EINVAL;
  unsigned char h[crypto_shorthash_BYTES];
  crypto_shorthash(h, (const unsigned char *)key, len, ms->hash_key);
  memcpy(&k->hash, h, sizeof k->hash);
  k->key = key;
  k->len = (uint8_t)len;
  *sh = shard_at(ms, (size_t)(k->hash >> 56) & ms->shard_mask);
  return MCS_OK;
}

/* Builds the item a write will link, before taking the lock: the caller's
 * buffer is private to the caller and the item is invisible until linked,
 * so copying here is safe and keeps the copy out of the critical section.
 * MCS_ETOOBIG for an item that could never fit, MCS_ENOMEM. */
static int item_prepare(mem_store *ms, const mcs__mem_key *k,
                        const mem_req *rq, int64_t now, mcs__mem_item **out) {
  if (rq->len > ms->max_item_bytes ||
      mcs__mem_item_bytes(k->len, rq->len) > ms->shard_budget)
    return MCS_ETOOBIG;
  mcs__mem_item *it = mcs__malloc(sizeof *it + k->len + rq->len);
  if (!it)
    return MCS_ENOMEM;
  it->hnext = it->prev = it->next = NULL;
  it->hash = k->hash;
  it->cas = atomic_fetch_add_explicit(&ms->last_cas, 1,
                                      memory_order_relaxed) + 1;
  it->expiry = expiry_at(now, rq->ttl);
  it->value_len = rq->len;
  it->flags = rq->flags;
  it->key_len = k->len;
  memcpy(it->data, k->key, k->len);
  if (rq->len)
    memcpy(it->data + k->len, rq->data, rq->len);
  *out = it;
  return MCS_OK;
}

/* What a write in rq->mode does given the live item (NULL: none). */
static mcs_store_result write_verdict(const mem_req *rq,
                                      const mcs__mem_item *old) {
  if (rq->mode == MEM_ADD && old)
    return MCS_STORE_EXISTS;
  if (rq->mode == MEM_CAS && !old)
    return MCS_STORE_MISS;
  if (rq->mode == MEM_CAS && old->cas != rq->expect)
    return MCS_STORE_EXISTS;
  return MCS_STORE_STORED;
}

/* set, add and cas. Replacing unlinks the old item before making room, so
 * its bytes count towards the new one and it is never "evicted". */
static int mem_write(mem_store *ms, const char *key, size_t key_len,
                     const mem_req *rq, uint64_t *new_cas,
                     mcs_store_result *result) {
  mcs__mem_key k;
  mcs__mem_shard *sh;
  mcs__mem_item *it;
  mcs__mem_op op;
  int64_t now = mem_now(ms);
  int rc = key_prepare(ms, key, key_len, &k, &sh);
  if (rc == MCS_OK)
    rc = item_prepare(ms, &k, rq, now, &it);
  if (rc != MCS_OK)
    return rc;
  uint64_t token = it->cas; /* once linked, others may free `it` */
  mcs__mem_shard_enter(sh, &op);
  mcs__mem_item *old = mcs__mem_shard_lookup(sh, &k, now, &op);
  mcs_store_result res = write_verdict(rq, old);
  if (res == MCS_STORE_STORED) {
    if (old)
      mcs__mem_shard_unlink(sh, old, &op);
    mcs__mem_shard_make_room(sh, ms->shard_budget, mcs__mem_item_size(it),
                             now, &op);
    mcs__mem_shard_link(sh, it, &op);
  } else {
    it->hnext = op.garbage; /* never linked: freed with the garbage */
    op.garbage = it;
  }
  mcs__mem_shard_leave(sh, &op);
  if (res == MCS_STORE_STORED && new_cas)
    *new_cas = token;
  *result = res;
  return MCS_OK;
}

/* ---- Operations ------------------------------------------------------- */

/* A key's live item, looked up under its shard's lock: what get, delete
 * and touch share. found_enter hashes the key, takes the lock and looks;
 * found_leave releases the lock, then frees whatever the lookup reclaimed.
 * f->it (NULL: no live item) may be dereferenced only in between. */
typedef struct mem_found {
  mcs__mem_shard *sh;
  mcs__mem_op op;
  int64_t now;
  mcs__mem_item *it;
} mem_found;

static int found_enter(mem_store *ms, const char *key, size_t key_len,
                       mem_found *f) {
  mcs__mem_key k;
  f->now = mem_now(ms);
  int rc = key_prepare(ms, key, key_len, &k, &f->sh);
  if (rc != MCS_OK)
    return rc;
  mcs__mem_shard_enter(f->sh, &f->op);
  f->it = mcs__mem_shard_lookup(f->sh, &k, f->now, &f->op);
  return MCS_OK;
}

static void found_leave(mem_found *f) { mcs__mem_shard_leave(f->sh, &f->op); }

/* Copies the value out first so that a failed copy changes nothing (no
 * touch, no LRU bump); the copy runs under the lock because another
 * thread may unlink and free the item as soon as it is released. */
static int item_read(mcs__mem_shard *sh, mcs__mem_item *it, int64_t now,
                     uint32_t touch_ttl, mcs_store_value *value,
                     uint64_t *cas, uint32_t *flags) {
  int rc = mcs_store_value_set(value, it->data + it->key_len, it->value_len);
  if (rc != MCS_OK)
    return rc;
  if (touch_ttl > 0)
    it->expiry = expiry_at(now, touch_ttl);
  mcs__mem_shard_bump(sh, it);
  if (cas)
    *cas = it->cas;
  if (flags)
    *flags = it->flags;
  return MCS_OK;
}

static int memory_get(void *ud, const char *key, size_t key_len,
                      uint32_t touch_ttl, mcs_store_value *value,
                      uint64_t *cas, uint32_t *flags,
                      mcs_store_result *result) {
  mem_found f;
  int rc = found_enter(ud, key, key_len, &f);
  if (rc != MCS_OK)
    return rc;
  if (f.it)
    rc = item_read(f.sh, f.it, f.now, touch_ttl, value, cas, flags);
  found_leave(&f);
  if (rc == MCS_OK)
    *result = f.it ? MCS_STORE_HIT : MCS_STORE_MISS;
  return rc;
}

static int memory_add(void *ud, const char *key, size_t key_len,
                      const void *data, size_t len, uint32_t flags,
                      uint32_t ttl, uint64_t *cas, mcs_store_result *result) {
  mem_req rq = {MEM_ADD, data, len, flags, ttl, 0};
  return mem_write(ud, key, key_len, &rq, cas, result);
}

static int memory_cas(void *ud, const char *key, size_t key_len,
                      const void *data, size_t len, uint32_t flags,
                      uint32_t ttl, uint64_t cas, uint64_t *new_cas,
                      mcs_store_result *result) {
  mem_req rq = {MEM_CAS, data, len, flags, ttl, cas};
  return mem_write(ud, key, key_len, &rq, new_cas, result);
}

static int memory_set(void *ud, const char *key, size_t key_len,
                      const void *data, size_t len, uint32_t flags,
                      uint32_t ttl, mcs_store_result *result) {
  mem_req rq = {MEM_SET, data, len, flags, ttl, 0};
  return mem_write(ud, key, key_len, &rq, NULL, result);
}

static int memory_del(void *ud, const char *key, size_t key_len,
                      mcs_store_result *result) {
  mem_found f;
  int rc = found_enter(ud, key, key_len, &f);
  if (rc != MCS_OK)
    return rc;
  if (f.it)
    mcs__mem_shard_unlink(f.sh, f.it, &f.op);
  found_leave(&f);
  *result = f.it ? MCS_STORE_DELETED : MCS_STORE_MISS;
  return MCS_OK;
}

/* Like memcached's touch: new expiry, LRU bump, same CAS token. */
static int memory_touch(void *ud, const char *key, size_t key_len,
                        uint32_t ttl, mcs_store_result *result) {
  mem_found f;
  int rc = found_enter(ud, key, key_len, &f);
  if (rc != MCS_OK)
    return rc;
  if (f.it) {
    f.it->expiry = expiry_at(f.now, ttl);
    mcs__mem_shard_bump(f.sh, f.it);
  }
  found_leave(&f);
  *result = f.it ? MCS_STORE_TOUCHED : MCS_STORE_MISS;
  return MCS_OK;
}

/* Reads without touching: no new expiry and no LRU bump either, so an
 * operator's look does not keep an idle session from being evicted. The
 * time left is counted on the store's clock; every item here expires. */
static int memory_peek(void *ud, const char *key, size_t key_len,
                       mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                       int64_t *ttl, mcs_store_result *result) {
  mem_store *ms = ud;
  mcs__mem_key k;
  mcs__mem_shard *sh;
  mcs__mem_op op;
  int64_t now = mem_now(ms);
  int rc = key_prepare(ms, key, key_len, &k, &sh);
  if (rc != MCS_OK)
    return rc;
  mcs__mem_shard_enter(sh, &op);
  mcs__mem_item *it = mcs__mem_shard_lookup(sh, &k, now, &op);
  if (it) {
    rc = mcs_store_value_set(value, it->data + it->key_len, it->value_len);
    *cas = it->cas;
    *flags = it->flags;
    *ttl = it->expiry - now; /* lookup returns only items with now < expiry */
  }
  mcs__mem_shard_leave(sh, &op);
  if (rc == MCS_OK)
    *result = it ? MCS_STORE_HIT : MCS_STORE_MISS;
  return rc;
}

/* Frees the store with its first `ready` shards initialised. */
static void mem_free(mem_store *ms, size_t ready) {
  for (size_t i = 0; i < ready; i++)
    mcs__mem_shard_fini(shard_at(ms, i));
  mcs__free(ms->shard_mem);
  sodium_memzero(ms->hash_key, sizeof ms->hash_key);
  mcs__free(ms);
}

static void memory_destroy(void *ud) {
  mem_store *ms = ud;
  mem_free(ms, ms->shard_mask + 1);
}

/* Operations never wait for I/O (a shard lock is held for a lookup and a
 * copy), so an event loop runs them inline; get-and-touch happens under
 * one lock. No non-blocking side: none is needed. */
static const mcs_store_ops memory_ops = {
    .version = MCS_STORE_OPS_VERSION,
    .get = memory_get,
    .add = memory_add,
    .cas = memory_cas,
    .set = memory_set,
    .del = memory_del,
    .touch = memory_touch,
    .destroy = memory_destroy,
    .peek = memory_peek,
    .kind = "memory",
    .caps = MCS_STORE_CAP_NONBLOCKING | MCS_STORE_CAP_ATOMIC_GET_TOUCH,
};

/* The memory store's identity (struct mcs_store's `own`). */
static const char memory_identity = 'm';

/* ---- Construction and stats ------------------------------------------- */

void mcs_memory_config_init(mcs_memory_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->max_bytes = MEM_DEFAULT_MAX_BYTES;
  cfg->shards = MEM_DEFAULT_SHARDS;
  cfg->max_item_bytes = MEM_DEFAULT_MAX_ITEM;
}

/* The rules are listed with MEM_MIN_BYTES above. */
static bool config_valid(const mcs_memory_config *cfg) {
  if (cfg->max_bytes < MEM_MIN_BYTES ||
      !mcs__all_zero(cfg->reserved, sizeof cfg->reserved))
    return false;
  if (cfg->shards == 0 || cfg->shards > MEM_MAX_SHARDS ||
      (cfg->shards & (cfg->shards - 1)) != 0)
    return false;
  size_t per_shard = cfg->max_bytes / cfg->shards;
  return per_shard >= MEM_MIN_SHARD_BYTES && cfg->max_item_bytes >= 1 &&
         cfg->max_item_bytes <= per_shard;
}

/* Allocates the shard array aligned to a cache line (the allocator hook
 * promises only malloc's alignment) and initialises every shard. On
 * failure frees everything, `ms` included. */
static int mem_init_shards(mem_store *ms, unsigned n) {
  ms->shard_mem = mcs__malloc(n * sizeof(mem_shard_slot) + MEM_CACHE_LINE);
  if (!ms->shard_mem) {
    mem_free(ms, 0);
    return MCS_ENOMEM;
  }
  uintptr_t p = (uintptr_t)ms->shard_mem;
  p = (p + MEM_CACHE_LINE - 1) & ~(uintptr_t)(MEM_CACHE_LINE - 1);
  ms->shards = (mem_shard_slot *)p;
  for (unsigned i = 0; i < n; i++) {
    if (mcs__mem_shard_init(shard_at(ms, i)) != MCS_OK) {
      mem_free(ms, i);
      return MCS_ENOMEM;
    }
  }
  return MCS_OK;
}

int mcs_store_memory_new(mcs_store **out, const mcs_memory_config *cfg) {
  mcs_memory_config defaults;
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  if (!cfg) {
    mcs_memory_config_init(&defaults);
    cfg = &defaults;
  }
  if (!config_valid(cfg))
    return MCS_EINVAL;
  int rc = mcs__sodium_ready(); /* the hash key comes from the CSPRNG */
  if (rc != MCS_OK)
    return rc;
  mem_store *ms = mcs__calloc(1, sizeof *ms);
  if (!ms)
    return MCS_ENOMEM;
  randombytes_buf(ms->hash_key, sizeof ms->hash_key);
  ms->shard_mask = cfg->shards - 1;
  ms->shard_budget = cfg->max_bytes / cfg->shards;
  ms->max_item_bytes = cfg->max_item_bytes;
  ms->clock = cfg->clock;
  ms->clock_ud = cfg->clock_ud;
  atomic_init(&ms->last_cas, 0);
  if ((rc = mem_init_shards(ms, cfg->shards)) != MCS_OK)
    return rc;
  if ((rc = mcs__store_new_own(out, &memory_ops, ms, &memory_identity)) !=
      MCS_OK)
    memory_destroy(ms);
  return rc;
}

/* Sums the shards' figures, locking one shard at a time: each shard's
 * figures are consistent, the total is not a snapshot across shards. */
int mcs_store_memory_stats_get(const mcs_store *store,
                               mcs_memory_stats *stats) {
  const mem_store *ms = mcs__store_own_ud(store, &memory_identity);
  if (!ms || !stats)
    return MCS_EINVAL;
  memset(stats, 0, sizeof *stats);
  for (size_t i = 0; i <= ms->shard_mask; i++) {
    mcs__mem_shard *sh = shard_at(ms, i);
    pthread_mutex_lock(&sh->lock);
    stats->items += sh->items;
    stats->bytes += sh->bytes;
    stats->evictions += sh->evictions;
    stats->expired += sh->expired;
    pthread_mutex_unlock(&sh->lock);
  }
  return MCS_OK;
}
