/*
 * A cache of decoded records. Decoding a ~300-byte JSON record with
 * jansson costs about 4 us, more than everything else a session load does
 * together; most loads read a record that has not changed since the last
 * time this process decoded it. So: a fixed table of slots, picked by a
 * hash of the store key, each holding the raw bytes of one record and what
 * they decoded to. A hit requires the raw bytes to be EQUAL (not the CAS
 * token, which a restarted memcached reuses): equal bytes decode to equal
 * records, so a hit can never serve anything the decoder would not have.
 *
 * Sharing: a hit hands out a shallow copy of the cached data object (a new
 * top-level object whose members are references to the cached values;
 * copy_object, since json_copy drops members when memory runs out).
 * The session changes only its own top-level object (set, delete, incr
 * and replay all replace members; nothing edits a value in place), and
 * jansson's reference counts are atomic and its dump functions keep their
 * loop-detection state per call (jansson >= 2.13), so the shared values
 * may be read by any number of threads.
 *
 * Bounded: `entries` slots, four ways per bucket (ways.h), records over
 * RCACHE_RECORD_MAX bytes are not cached; one mutex per group of buckets.
 */
#include <pthread.h>
#include <string.h>

#include <jansson.h>

#include "cache/cache_int.h"
#include "cache/ways.h"

#define RCACHE_RECORD_MAX 4096

typedef struct slot {
  uint64_t key_hash; /* of the store key the raw bytes were read from */
  uint8_t *raw;      /* NULL: empty */
  size_t len;
  json_t *data; /* the cache's own top-level object */
  int64_t created;
  uint64_t rev;
  char *user;
  uint64_t user_gen;
  bool user_tag_set;
  uint8_t user_tag[MCS__USER_TAG_BYTES];
} slot;

struct mcs__rcache {
  mcs__ways_table t; /* t.mem holds the slots */
  slot *slots;       /* t.mem */
};

int mcs__rcache_new(size_t entries, mcs__rcache **out) {
  *out = NULL;
  if (entries == 0)
    return MCS_OK;
  mcs__rcache *c = mcs__calloc(1, sizeof *c);
  int rc = c ? mcs__ways_table_init(&c->t, entries, sizeof(slot)) : MCS_ENOMEM;
  if (rc != MCS_OK) {
    mcs__free(c);
    return rc;
  }
  c->slots = c->t.mem;
  *out = c;
  return MCS_OK;
}

static void slot_clear(slot *sl) {
  mcs__free(sl->raw);
  json_decref(sl->data);
  mcs__free(sl->user);
  memset(sl, 0, sizeof *sl);
}

void mcs__rcache_free(mcs__rcache *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->t.slots; i++)
    slot_clear(&c->slots[i]);
  mcs__ways_table_fini(&c->t);
  mcs__free(c);
}

/* FNV-1a: the keys are HMAC outputs or random ids, already well mixed. */
static uint64_t hash_of(const char *key, size_t len) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)key[i]) * 0x100000001b3u;
  return h;
}

static pthread_mutex_t *lock_of(mcs__rcache *c, size_t b) {
  return mcs__ways_lock(&c->t, b);
}

/* A new top-level object holding references to src's members. Not
 * json_copy: jansson's (2.14) ignores allocation failures and returns an
 * object with members missing, which a later save would store. */
static json_t *copy_object(json_t *src) {
  json_t *dst = json_object();
  const char *k;
  json_t *v;
  if (!dst)
    return NULL;
  json_object_foreach(src, k, v) {
    if (json_object_set_nocheck(dst, k, v)) {
      json_decref(dst);
      return NULL;
    }
  }
  return dst;
}

/* Fills rec from a slot: a private top-level copy of the data. */
static int copy_out(const slot *sl, mcs__record *rec) {
  memset(rec, 0, sizeof *rec);
  rec->data = copy_object(sl->data);
  if (!rec->data)
    return MCS_ENOMEM;
  rec->created = sl->created;
  rec->rev = sl->rev;
  rec->user_gen = sl->user_gen;
  rec->user_tag_set = sl->user_tag_set;
  memcpy(rec->user_tag, sl->user_tag, sizeof rec->user_tag);
  if (sl->user && !(rec->user = mcs__strdup(sl->user))) {
    mcs__record_clear(rec);
    return MCS_ENOMEM;
  }
  return MCS_OK;
}

int mcs__rcache_get(mcs__rcache *c, const char *key, size_t key_len,
                    const uint8_t *raw, size_t len, mcs__record *rec,
                    bool *hit) {
  *hit = false;
  if (!c || len > RCACHE_RECORD_MAX)
    return MCS_OK;
  uint64_t h = hash_of(key, key_len);
  size_t b = mcs__ways_bucket((size_t)h, c->t.slots);
  int rc = MCS_OK;
  pthread_mutex_lock(lock_of(c, b));
  for (unsigned w = 0; w < MCS__WAYS; w++) {
    const slot *sl = &c->slots[MCS__WAYS * b + w];
    if (sl->raw && sl->key_hash == h && sl->len == len &&
        memcmp(sl->raw, raw, len) == 0) {
      rc = copy_out(sl, rec);
      *hit = rc == MCS_OK;
      mcs__ways_touch(&c->t.recent[b], w);
      break;
    }
  }
  pthread_mutex_unlock(lock_of(c, b));
  return rc;
}

/* Builds a slot's contents outside the lock. */
static bool fill(slot *sl, const uint8_t *raw, size_t len,
                 const mcs__record *rec) {
  memset(sl, 0, sizeof *sl);
  sl->raw = mcs__memdup(raw, len);
  sl->data = copy_object(rec->data);
  sl->user = rec->user ? mcs__strdup(rec->user) : NULL;
  sl->len = len;
  sl->created = rec->created;
  sl->rev = rec->rev;
  sl->user_gen = rec->user_gen;
  sl->user_tag_set = rec->user_tag_set;
  memcpy(sl->user_tag, rec->user_tag, sizeof sl->user_tag);
  if (sl->raw && sl->data && (!rec->user || sl->user))
    return true;
  slot_clear(sl);
  return false;
}

void mcs__rcache_put(mcs__rcache *c, const char *key, size_t key_len,
                     const uint8_t *raw, size_t len, const mcs__record *rec) {
  if (!c || len > RCACHE_RECORD_MAX || rec->retired_until || !rec->data)
    return;
  slot fresh, old;
  if (!fill(&fresh, raw, len, rec))
    return; /* a cache: out of memory just means no entry */
  uint64_t h = hash_of(key, key_len);
  size_t b = mcs__ways_bucket((size_t)h, c->t.slots);
  fresh.key_hash = h;
  bool holds[MCS__WAYS], empty[MCS__WAYS];
  pthread_mutex_lock(lock_of(c, b));
  for (unsigned w = 0; w < MCS__WAYS; w++) {
    const slot *sl = &c->slots[MCS__WAYS * b + w];
    empty[w] = sl->raw == NULL;
    holds[w] = !empty[w] && sl->key_hash == h;
  }
  unsigned w = mcs__ways_pick(holds, empty, &c->t.recent[b]);
  old = c->slots[MCS__WAYS * b + w];
  c->slots[MCS__WAYS * b + w] = fresh;
  mcs__ways_touch(&c->t.recent[b], w);
  pthread_mutex_unlock(lock_of(c, b));
  slot_clear(&old);
}
