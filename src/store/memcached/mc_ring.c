/*
 * Consistent hashing in the style of ketama (libketama, and libmemcached's
 * MEMCACHED_BEHAVIOR_KETAMA): each server owns MCS__MC_RING_POINTS points
 * on a 32-bit circle, placed by hashing "<name>-<i>"; a key belongs to the
 * first point at or after its own hash. Removing a server therefore moves
 * only the keys it owned, and adding one takes about 1/n of the keys.
 *
 * The hash is BLAKE2b (libsodium crypto_generichash) rather than ketama's
 * MD5, so placements differ from libmemcached's: a mixed deployment of
 * both clients would not agree on key owners (docs/design.md, "The
 * memcached client", has this client as the only writer). The ring is
 * immutable once built, so lookups need no lock.
 *
 * A ring built by mcs__mc_ring_new_modulo has no points: it picks servers
 * as python-memcached does (hash=python-memcache; see mcs_memcached_hash
 * in mcsession/memcached.h), for sharing keys with Python applications.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/memcached/mc_int.h"

/* 16 bytes of hash give four 32-bit points, as ketama takes four from one
 * MD5 digest. */
#define POINTS_PER_HASH 4

typedef struct point {
  uint32_t hash;
  uint32_t server;
} point;

struct mcs__mc_ring {
  point *points; /* NULL for a modulo ring */
  size_t count;
  size_t servers;
  bool modulo; /* python-memcached's choice instead of points */
};

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint32_t key_hash(const void *key, size_t len) {
  unsigned char h[crypto_generichash_BYTES_MIN];
  crypto_generichash(h, sizeof h, key, len, NULL, 0);
  return le32(h);
}

/* Ties (two servers on the same point) are broken by server index so the
 * order, and thus every lookup, is deterministic. */
static int cmp_point(const void *a, const void *b) {
  const point *x = a, *y = b;
  if (x->hash != y->hash)
    return x->hash < y->hash ? -1 : 1;
  return (x->server > y->server) - (x->server < y->server);
}

static void add_server_points(point *pts, const char *name, uint32_t server) {
  char label[MCS__URL_NAME_MAX + 16];
  unsigned char h[crypto_generichash_BYTES_MIN];
  for (unsigned i = 0; i < MCS__MC_RING_POINTS / POINTS_PER_HASH; i++) {
    int n = snprintf(label, sizeof label, "%s-%u", name, i);
    crypto_generichash(h, sizeof h, (const unsigned char *)label,
                       (unsigned long long)n, NULL, 0);
    for (unsigned j = 0; j < POINTS_PER_HASH; j++)
      pts[i * POINTS_PER_HASH + j] = (point){le32(h + 4 * j), server};
  }
}

int mcs__mc_ring_new(const char *const *names, size_t count,
                     mcs__mc_ring **out) {
  *out = NULL;
  if (!names || count == 0 || count > MCS_MEMCACHED_SERVERS_MAX)
    return MCS_EINVAL;
  for (size_t i = 0; i < count; i++)
    if (!names[i] || strlen(names[i]) >= MCS__URL_NAME_MAX)
      return MCS_EINVAL;
  int rc = mcs__sodium_ready();
  if (rc)
    return rc;
  mcs__mc_ring *r = mcs__calloc(1, sizeof *r);
  point *pts = mcs__calloc(count * MCS__MC_RING_POINTS, sizeof *pts);
  if (!r || !pts) {
    mcs__free(r);
    mcs__free(pts);
    return MCS_ENOMEM;
  }
  for (size_t i = 0; i < count; i++)
    add_server_points(pts + i * MCS__MC_RING_POINTS, names[i], (uint32_t)i);
  r->count = count * MCS__MC_RING_POINTS;
  qsort(pts, r->count, sizeof *pts, cmp_point);
  r->points = pts;
  r->servers = count;
  *out = r;
  return MCS_OK;
}

int mcs__mc_ring_new_servers(const mcs__url_servers *t, const void *servers,
                             size_t count, mcs__mc_ring **out) {
  *out = NULL;
  if (count == 0 || count > MCS_MEMCACHED_SERVERS_MAX)
    return MCS_EINVAL;
  char(*names)[MCS__URL_NAME_MAX] = mcs__calloc(count, sizeof *names);
  const char **ptrs = mcs__calloc(count, sizeof *ptrs);
  int rc = MCS_ENOMEM;
  if (names && ptrs) {
    for (size_t i = 0; i < count; i++) {
      mcs__url_server_name(mcs__url_server_host(t, servers, i),
                           mcs__url_server_port(t, servers, i), names[i],
                           sizeof names[i]);
      ptrs[i] = names[i];
    }
    rc = mcs__mc_ring_new(ptrs, count, out);
  }
  mcs__free(names);
  mcs__free(ptrs);
  return rc;
}

int mcs__mc_ring_new_modulo(size_t count, mcs__mc_ring **out) {
  *out = NULL;
  if (count == 0 || count > MCS_MEMCACHED_SERVERS_MAX)
    return MCS_EINVAL;
  mcs__mc_ring *r = mcs__calloc(1, sizeof *r);
  if (!r)
    return MCS_ENOMEM;
  r->servers = count;
  r->modulo = true;
  *out = r;
  return MCS_OK;
}

/* CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320, initial and final
 * value 0xFFFFFFFF), as zlib's and Python's binascii.crc32. Half a byte
 * per step with a 16-entry table: constant data, no initialisation, and
 * the speed is irrelevant here (one 64-byte key per request). */
uint32_t mcs__crc32(const void *data, size_t len) {
  static const uint32_t nibble[16] = {
      0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
      0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
      0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};
  const unsigned char *p = data;
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    crc = (crc >> 4) ^ nibble[crc & 0x0f];
    crc = (crc >> 4) ^ nibble[crc & 0x0f];
  }
  return crc ^ 0xffffffffu;
}

/* memcache.py's cmemcache_hash, its serverHashFunction. */
uint32_t mcs__mc_python_memcache_hash(const void *key, size_t len) {
  uint32_t h = (mcs__crc32(key, len) >> 16) & 0x7fff;
  return h ? h : 1;
}

void mcs__mc_ring_free(mcs__mc_ring *r) {
  if (!r)
    return;
  mcs__free(r->points);
  mcs__free(r);
}

/* Position of the first point at or after h, wrapping to 0. */
static size_t lower_bound(const mcs__mc_ring *r, uint32_t h) {
  size_t lo = 0, hi = r->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->points[mid].hash < h)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == r->count ? 0 : lo;
}

size_t mcs__mc_ring_pick(const mcs__mc_ring *r, const void *key,
                         size_t key_len) {
  if (r->servers == 1)
    return 0;
  if (r->modulo) /* memcache.py, Client._get_server: buckets[h % len] */
    return mcs__mc_python_memcache_hash(key, key_len) % r->servers;
  return r->points[lower_bound(r, key_hash(key, key_len))].server;
}

/* Walks the ring from the key's point, collecting distinct servers. Bounded
 * by one lap: at most count points. */
size_t mcs__mc_ring_pick_n(const mcs__mc_ring *r, const void *key,
                           size_t key_len, size_t n, size_t *out) {
  if (n > r->servers)
    n = r->servers;
  if (r->modulo) { /* one copy per key, as python-memcached keeps */
    if (n > 0)
      out[0] = mcs__mc_ring_pick(r, key, key_len);
    return n > 0;
  }
  size_t got = 0, pos = lower_bound(r, key_hash(key, key_len));
  for (size_t step = 0; step < r->count && got < n; step++) {
    size_t s = r->points[(pos + step) % r->count].server;
    bool dup = false;
    for (size_t i = 0; i < got && !dup; i++)
      dup = out[i] == s;
    if (!dup)
      out[got++] = s;
  }
  return got;
}
