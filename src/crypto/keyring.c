/* The key ring: HMAC secrets by key version, kept sorted by version so the
 * signing key (the highest) is the last entry and the store-key secret (the
 * lowest) the first. Rings hold a handful of keys, so a sorted array with
 * linear search beats anything cleverer. Secrets are wiped before their
 * memory is returned. */
#include <string.h>

#include <sodium.h>

#include "crypto/crypto_int.h"

typedef struct mcs__key {
  unsigned version;
  size_t len;
  uint8_t *secret; /* owned copy */
  mcs__hmac hmac;  /* keyed once: every sign and verify starts from it */
} mcs__key;

struct mcs_keyring {
  mcs__key *keys; /* sorted by ascending version */
  size_t count;
  size_t cap;
};

/* The ring's HMAC code is libsodium's; initialising it here means every
 * sign and verify (which all need a ring) runs after sodium_init. */
int mcs_keyring_new(mcs_keyring **out) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  int rc = mcs__sodium_ready();
  if (rc)
    return rc;
  mcs_keyring *ring = mcs__calloc(1, sizeof *ring);
  if (!ring)
    return MCS_ENOMEM;
  *out = ring;
  return MCS_OK;
}

static void key_wipe(mcs__key *k) {
  if (k->secret) {
    sodium_memzero(k->secret, k->len);
    mcs__free(k->secret);
  }
  k->secret = NULL;
  k->len = 0;
  mcs__hmac_wipe(&k->hmac);
}

void mcs_keyring_free(mcs_keyring *ring) {
  if (!ring)
    return;
  for (size_t i = 0; i < ring->count; i++)
    key_wipe(&ring->keys[i]);
  mcs__free(ring->keys);
  mcs__free(ring);
}

/* Index of the first key whose version is >= `version` (the insertion
 * point), so callers can tell "found" from "absent" by one compare. */
static size_t key_lower_bound(const mcs_keyring *ring, unsigned version) {
  size_t i = 0;
  while (i < ring->count && ring->keys[i].version < version)
    i++;
  return i;
}

static const mcs__key *key_find(const mcs_keyring *ring, unsigned version) {
  size_t i = key_lower_bound(ring, version);
  if (i < ring->count && ring->keys[i].version == version)
    return &ring->keys[i];
  return NULL;
}

/* Grows the array before anything else changes, so a failure leaves the
 * ring exactly as it was. */
static int ring_reserve_one(mcs_keyring *ring) {
  if (ring->count < ring->cap)
    return MCS_OK;
  size_t cap = ring->cap ? ring->cap * 2 : 4;
  if (cap > SIZE_MAX / sizeof *ring->keys)
    return MCS_ENOMEM;
  mcs__key *keys = mcs__realloc(ring->keys, cap * sizeof *keys);
  if (!keys)
    return MCS_ENOMEM;
  ring->keys = keys;
  ring->cap = cap;
  return MCS_OK;
}

static bool secret_len_ok(size_t len) {
  return len >= MCS_SECRET_MIN_BYTES && len <= MCS_SECRET_MAX_BYTES;
}

int mcs_keyring_add(mcs_keyring *ring, unsigned version, const void *secret,
                    size_t secret_len) {
  if (!ring || !secret || !secret_len_ok(secret_len) ||
      version > MCS_KEY_VERSION_MAX || key_find(ring, version))
    return MCS_EINVAL;
  if (ring_reserve_one(ring))
    return MCS_ENOMEM;
  uint8_t *copy = mcs__memdup(secret, secret_len);
  if (!copy)
    return MCS_ENOMEM;
  size_t at = key_lower_bound(ring, version);
  memmove(&ring->keys[at + 1], &ring->keys[at],
          (ring->count - at) * sizeof *ring->keys);
  mcs__key *k = &ring->keys[at];
  memset(k, 0, sizeof *k);
  k->version = version;
  k->len = secret_len;
  k->secret = copy;
  mcs__hmac_key(&k->hmac, copy, secret_len);
  ring->count++;
  return MCS_OK;
}

int mcs_keyring_current(const mcs_keyring *ring, unsigned *version) {
  if (!ring || !version || ring->count == 0)
    return MCS_EINVAL;
  *version = ring->keys[ring->count - 1].version;
  return MCS_OK;
}

const uint8_t *mcs__keyring_secret(const mcs_keyring *ring, unsigned version,
                                   size_t *len) {
  const mcs__key *k = ring ? key_find(ring, version) : NULL;
  if (!k)
    return NULL;
  if (len)
    *len = k->len;
  return k->secret;
}

const mcs__hmac *mcs__keyring_hmac(const mcs_keyring *ring,
                                   unsigned version) {
  const mcs__key *k = ring ? key_find(ring, version) : NULL;
  return k ? &k->hmac : NULL;
}

const uint8_t *mcs__keyring_oldest(const mcs_keyring *ring, size_t *len) {
  if (!ring || ring->count == 0)
    return NULL;
  if (len)
    *len = ring->keys[0].len;
  return ring->keys[0].secret;
}

/* Adding the keys in ascending order appends each one, so the copy keeps
 * the source's order and its failure path is the ordinary free. */
int mcs__keyring_clone(const mcs_keyring *ring, mcs_keyring **out) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  if (!ring)
    return MCS_EINVAL;
  mcs_keyring *copy = NULL;
  int rc = mcs_keyring_new(&copy);
  for (size_t i = 0; rc == MCS_OK && i < ring->count; i++)
    rc = mcs_keyring_add(copy, ring->keys[i].version, ring->keys[i].secret,
                         ring->keys[i].len);
  if (rc) {
    mcs_keyring_free(copy);
    return rc;
  }
  *out = copy;
  return MCS_OK;
}

size_t mcs__keyring_count(const mcs_keyring *ring) {
  return ring ? ring->count : 0;
}

const uint8_t *mcs__keyring_at(const mcs_keyring *ring, size_t i,
                               unsigned *version, size_t *len) {
  const mcs__key *k = &ring->keys[i];
  *version = k->version;
  *len = k->len;
  return k->secret;
}
