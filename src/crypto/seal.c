/*
 * Sealed records: authenticated encryption of a store record under a key
 * that only the server secret AND the session id give (docs/security.md,
 * "Sealed records"). The layout, all of it read before anything is
 * trusted:
 *
 *   0..2   magic 00 6d 73 ("\0ms": no JSON text, no pickle starts so)
 *   3      format version (1)
 *   4..7   key-ring version of the secret, big endian
 *   8..31  nonce (24 random bytes)
 *   32..   ciphertext of the plain record, then the 16-byte tag
 *
 * The AEAD is XChaCha20-Poly1305 (IETF): constant time in software on
 * every CPU (AES-256-GCM is offered by libsodium only where the CPU has
 * AES-NI, so a mixed fleet would need both), and its 192-bit nonce may be
 * drawn at random for every seal with no state shared between processes
 * or servers (a 96-bit GCM nonce drawn at random is safe for about 2^32
 * messages per key, and a record is resealed on every changed save).
 *
 * The key comes in two steps. Once per key-ring version, when the sealer
 * is made: master = HMAC-SHA256(salt, secret of that version), HKDF's
 * extract step (RFC 5869), which turns a secret of any length and
 * quality into a uniform 32-byte key. Once per seal or open: key =
 * BLAKE2b-256 keyed with master over label || session id — the keyed
 * BLAKE2b that libsodium's crypto_kdf is built on, with the whole id as
 * its input (crypto_kdf itself takes a 64-bit subkey id, too small for a
 * 256-bit session id). Not HKDF's expand step: it costs three SHA-256
 * compressions in portable C, about 12,000 instructions, where keyed
 * BLAKE2b costs two of its own, a fifth of that; a changed save pays it
 * on every request (docs/benchmarks.md, "Sealed records").
 *
 * The associated data is the header (magic, format and key version) and
 * the store key, so a record copied under another key, or relabelled
 * with another version or format, fails to open.
 */
#include <string.h>

#include <sodium.h>

#include "crypto/crypto_int.h"

#define SEAL_FORMAT 1
#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEAL_KEY crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define SEAL_AD_MAX (MCS__SEAL_HEADER + MCS_STORE_KEY_MAX)

_Static_assert(MCS__SEAL_OVERHEAD == MCS__SEAL_HEADER + SEAL_NONCE + SEAL_TAG,
               "the overhead the header promises");
_Static_assert(SEAL_KEY == MCS__HMAC_BYTES, "HKDF-Extract gives a key");

static const uint8_t seal_magic[3] = {0x00, 0x6d, 0x73};
static const char hkdf_salt[] = "mcsession record seal";
static const char kdf_label[] = "mcsession record key v1";

typedef struct seal_key {
  unsigned version;
  uint8_t master[SEAL_KEY]; /* HKDF-Extract of the version's secret */
} seal_key;

struct mcs__sealer {
  seal_key *keys; /* ascending versions: the newest seals */
  size_t count;
};

int mcs__sealer_new(const mcs_keyring *ring, mcs__sealer **out) {
  *out = NULL;
  size_t n = mcs__keyring_count(ring);
  if (n == 0)
    return MCS_EINVAL;
  mcs__sealer *s = mcs__calloc(1, sizeof *s);
  if (s && !(s->keys = mcs__calloc(n, sizeof *s->keys))) {
    mcs__free(s);
    s = NULL;
  }
  if (!s)
    return MCS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    size_t len = 0;
    const uint8_t *secret = mcs__keyring_at(ring, i, &s->keys[i].version, &len);
    mcs__hmac salt;
    mcs__hmac_key(&salt, hkdf_salt, sizeof hkdf_salt - 1);
    mcs__hmac_mac(&salt, secret, len, s->keys[i].master); /* HKDF-Extract */
    mcs__hmac_wipe(&salt);
  }
  s->count = n;
  *out = s;
  return MCS_OK;
}

void mcs__sealer_free(mcs__sealer *s) {
  if (!s)
    return;
  sodium_memzero(s->keys, s->count * sizeof *s->keys);
  mcs__free(s->keys);
  mcs__free(s);
}

bool mcs__sealed(const uint8_t *buf, size_t len) {
  return len >= sizeof seal_magic &&
         memcmp(buf, seal_magic, sizeof seal_magic) == 0;
}

static unsigned get_version(const uint8_t *h) {
  return (unsigned)h[4] << 24 | (unsigned)h[5] << 16 | (unsigned)h[6] << 8 |
         h[7];
}

int mcs__sealed_version(const uint8_t *buf, size_t len, unsigned *version) {
  if (len < MCS__SEAL_OVERHEAD || !mcs__sealed(buf, len) ||
      buf[3] != SEAL_FORMAT)
    return MCS_EINVAL;
  *version = get_version(buf);
  return MCS_OK;
}

static const seal_key *key_of(const mcs__sealer *s, unsigned version) {
  for (size_t i = 0; i < s->count; i++)
    if (s->keys[i].version == version)
      return &s->keys[i];
  return NULL;
}

/* The record key for ctx: BLAKE2b-256(key = master, label || ctx). */
static void derive(const seal_key *k, const void *ctx, size_t ctx_len,
                   uint8_t key[SEAL_KEY]) {
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, k->master, sizeof k->master, SEAL_KEY);
  crypto_generichash_blake2b_update(&st, (const uint8_t *)kdf_label,
                                    sizeof kdf_label - 1);
  crypto_generichash_blake2b_update(&st, ctx, ctx_len);
  crypto_generichash_blake2b_final(&st, key, SEAL_KEY);
  sodium_memzero(&st, sizeof st);
}

static void put_header(uint8_t h[MCS__SEAL_HEADER], unsigned version) {
  memcpy(h, seal_magic, sizeof seal_magic);
  h[3] = SEAL_FORMAT;
  h[4] = (uint8_t)(version >> 24);
  h[5] = (uint8_t)(version >> 16);
  h[6] = (uint8_t)(version >> 8);
  h[7] = (uint8_t)version;
}

/* The associated data: the header, then the store key. */
static size_t make_ad(uint8_t ad[SEAL_AD_MAX], const uint8_t *header,
                      const void *key, size_t key_len) {
  memcpy(ad, header, MCS__SEAL_HEADER);
  memcpy(ad + MCS__SEAL_HEADER, key, key_len);
  return MCS__SEAL_HEADER + key_len;
}

int mcs__seal(const mcs__sealer *s, const void *ctx, size_t ctx_len,
              const void *store_key, size_t key_len, mcs__buf *buf) {
  if (key_len > MCS_STORE_KEY_MAX)
    return MCS_EINVAL;
  if (mcs__buf_reserve(buf, MCS__SEAL_OVERHEAD))
    return MCS_ENOMEM;
  const seal_key *k = &s->keys[s->count - 1];
  size_t n = buf->len;
  uint8_t *p = buf->data;
  uint8_t key[SEAL_KEY], ad[SEAL_AD_MAX];
  memmove(p + MCS__SEAL_HEADER + SEAL_NONCE, p, n);
  put_header(p, k->version);
  if (mcs_random_bytes(p + MCS__SEAL_HEADER, SEAL_NONCE))
    return MCS_EIO;
  size_t ad_len = make_ad(ad, p, store_key, key_len);
  derive(k, ctx, ctx_len, key);
  uint8_t *c = p + MCS__SEAL_HEADER + SEAL_NONCE;
  unsigned long long clen = 0;
  /* In place: libsodium's AEADs allow c == m. */
  crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, c, n, ad, ad_len, NULL,
                                             p + MCS__SEAL_HEADER, key);
  sodium_memzero(key, sizeof key);
  buf->len = MCS__SEAL_HEADER + SEAL_NONCE + (size_t)clen;
  return MCS_OK;
}

int mcs__unseal(const mcs__sealer *s, const void *ctx, size_t ctx_len,
                const void *store_key, size_t key_len, const uint8_t *in,
                size_t len, mcs__buf *out) {
  unsigned version;
  if (mcs__sealed_version(in, len, &version) || key_len > MCS_STORE_KEY_MAX)
    return MCS_EBADSIG;
  const seal_key *k = key_of(s, version);
  if (!k)
    return MCS_EBADSIG; /* a version no longer (or never) in the ring */
  size_t clen = len - MCS__SEAL_HEADER - SEAL_NONCE;
  mcs__buf_reset(out);
  if (mcs__buf_reserve(out, clen - SEAL_TAG + 1))
    return MCS_ENOMEM;
  uint8_t key[SEAL_KEY], ad[SEAL_AD_MAX];
  size_t ad_len = make_ad(ad, in, store_key, key_len);
  derive(k, ctx, ctx_len, key);
  unsigned long long mlen = 0;
  int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
      out->data, &mlen, NULL, in + MCS__SEAL_HEADER + SEAL_NONCE, clen, ad,
      ad_len, in + MCS__SEAL_HEADER, key);
  sodium_memzero(key, sizeof key);
  if (bad)
    return MCS_EBADSIG;
  out->len = (size_t)mlen;
  return MCS_OK;
}
