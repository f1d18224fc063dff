/*
 * The crypto wing: HMAC-SHA256 with precomputed keys and a constant-time
 * compare (hmac.c), the key ring (keyring.c), Tornado's signed-value
 * format v2 (signer.c), and sealed records (seal.c).
 *
 * May use: util, libsodium. Knows nothing of cookies as HTTP headers,
 * sessions or stores. (docs/design.md, "Wings")
 */
#ifndef MCS_CRYPTO_INT_H
#define MCS_CRYPTO_INT_H

#include <sodium.h>

#include "util/util_int.h"

/* ---- HMAC-SHA256 with a precomputed key (hmac.c) ---- */
#define MCS__HMAC_BYTES crypto_auth_hmacsha256_BYTES
typedef struct mcs__hmac {
  crypto_auth_hmacsha256_state state; /* after init with the key */
} mcs__hmac;
void mcs__hmac_key(mcs__hmac *h, const void *key, size_t len);
void mcs__hmac_mac(const mcs__hmac *h, const void *msg, size_t len,
                   uint8_t mac[MCS__HMAC_BYTES]);
/* The MAC of the message a || b (a label and an id, say): no copy of the
 * two parts needed. */
void mcs__hmac_mac2(const mcs__hmac *h, const void *a, size_t a_len,
                    const void *b, size_t b_len, uint8_t mac[MCS__HMAC_BYTES]);
void mcs__hmac_wipe(mcs__hmac *h);
/* Whether a and b (len bytes each; len is public, the contents secret) are
 * equal, in time that depends on len only. */
bool mcs__equal_ct(const void *a, const void *b, size_t len);

/* ---- Keyring internals (keyring.c) ---- */
/* The keyed HMAC state of a version; NULL if absent. Borrowed. */
const mcs__hmac *mcs__keyring_hmac(const mcs_keyring *ring, unsigned version);
/* Looks up the secret for a version; NULL if absent. Borrowed. */
const uint8_t *mcs__keyring_secret(const mcs_keyring *ring, unsigned version,
                                   size_t *len);
/* The secret of the lowest version (for store-key derivation). */
const uint8_t *mcs__keyring_oldest(const mcs_keyring *ring, size_t *len);
/* Deep copy. */
int mcs__keyring_clone(const mcs_keyring *ring, mcs_keyring **out);
/* How many keys the ring holds, and the i-th (ascending versions): its
 * secret (borrowed), *version and *len. NULL ring: 0 keys. */
size_t mcs__keyring_count(const mcs_keyring *ring);
const uint8_t *mcs__keyring_at(const mcs_keyring *ring, size_t i,
                               unsigned *version, size_t *len);

/* ---- Sealed records (seal.c) ----
 * AEAD (XChaCha20-Poly1305) under a key derived from a key-ring version's
 * secret and a context (the session id), with the store key as associated
 * data; seal.c's comment has the layout and the reasons. */
#define MCS__SEAL_HEADER 8   /* magic, format version, key version */
#define MCS__SEAL_OVERHEAD 48 /* header, 24-byte nonce, 16-byte tag */
typedef struct mcs__sealer mcs__sealer;
/* A sealer for every version of the ring (a key per version, derived
 * now); the newest seals. MCS_OK, MCS_EINVAL (empty ring), MCS_ENOMEM.
 * Immutable once made: any thread may seal and open at once. */
int mcs__sealer_new(const mcs_keyring *ring, mcs__sealer **out);
void mcs__sealer_free(mcs__sealer *s); /* NULL is fine; wipes the keys */
/* True when buf starts like a sealed record (the magic only: proves
 * nothing). */
bool mcs__sealed(const uint8_t *buf, size_t len);
/* The key version in a sealed record's header: MCS_OK, or MCS_EINVAL when
 * buf is no sealed record of a known format. Proves nothing. */
int mcs__sealed_version(const uint8_t *buf, size_t len, unsigned *version);
/* Seals buf's contents in place (it grows by MCS__SEAL_OVERHEAD) for
 * context ctx (the session id) under store_key (at most
 * MCS_STORE_KEY_MAX bytes). MCS_OK, MCS_ENOMEM, MCS_EIO (no random
 * bytes), MCS_EINVAL; on error buf's contents are undefined. */
int mcs__seal(const mcs__sealer *s, const void *ctx, size_t ctx_len,
              const void *store_key, size_t key_len, mcs__buf *buf);
/* Opens in[0..len) sealed for ctx under store_key into out (replaced):
 * MCS_OK, MCS_EBADSIG for anything that does not open (not sealed, an
 * unknown format or key version, altered, truncated, another context, key
 * or secret), MCS_ENOMEM. Reads nothing past `len`. */
int mcs__unseal(const mcs__sealer *s, const void *ctx, size_t ctx_len,
                const void *store_key, size_t key_len, const uint8_t *in,
                size_t len, mcs__buf *out);

/* ---- Signed values (signer.c) ---- */
/* True when s[0..n) is exactly `want` lowercase hex digits (Python's
 * hexdigest(); one spelling per value). */
bool mcs__lower_hex(const char *s, size_t n, size_t want);
/* The signer's age rule: true when a signature made at `timestamp` is
 * older than max_age_s at `now` (max_age_s < 0: never). */
bool mcs__signature_too_old(int64_t timestamp, int64_t now,
                            int64_t max_age_s);
/* mcs_verify that also reports the signature's timestamp. */
int mcs__verify_at(const mcs_keyring *ring, const char *name,
                   const char *signed_value, size_t signed_len, int64_t now,
                   int64_t max_age_s, void *value_out, size_t value_size,
                   size_t *value_len, int64_t *timestamp);

/* The fields of a v2 signed value, as mcs__signed_parse found them. The
 * pointers are BORROWED from the parsed input. */
typedef struct mcs__signed_parts {
  unsigned key_version;
  int64_t timestamp;
  const char *name; /* not NUL-terminated */
  size_t name_len;
  const char *b64; /* the base64 field, not yet decoded */
  size_t b64_len;
  const char *signature; /* 64 lowercase hex digits */
  size_t signed_len;     /* bytes covered by the HMAC (through the last |) */
} mcs__signed_parts;

/* Checks only the structure of a signed value: the same strict rules as
 * mcs_verify, but no key, no HMAC, no name or age check, and the base64
 * field's alphabet and padding but not its decoding. For callers that
 * must pick a key before verifying, and for diagnostics; a success here
 * proves nothing about authenticity. MCS_OK or MCS_EBADSIG. Never
 * allocates. */
int mcs__signed_parse(const char *in, size_t len, mcs__signed_parts *out);

#endif /* MCS_CRYPTO_INT_H */
