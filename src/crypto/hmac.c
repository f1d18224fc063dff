/* HMAC-SHA256 with the key's pads hashed once. An HMAC over a short
 * message costs four SHA-256 compressions, two of them for the key alone;
 * keeping the keyed state and copying it per message halves the cost of
 * every cookie check and store-key derivation on the hot path. Also here:
 * the constant-time compare of the verified-cookie cache's hits. */
#include <string.h>

#include "crypto/crypto_int.h"

void mcs__hmac_key(mcs__hmac *h, const void *key, size_t len) {
  crypto_auth_hmacsha256_init(&h->state, key, len);
}

void mcs__hmac_mac(const mcs__hmac *h, const void *msg, size_t len,
               uint8_t mac[MCS__HMAC_BYTES]) {
  mcs__hmac_mac2(h, msg, len, NULL, 0, mac);
}

/* The copy of the keyed state is wiped: it is as good as the key for
 * making MACs. */
void mcs__hmac_mac2(const mcs__hmac *h, const void *a, size_t a_len,
                    const void *b, size_t b_len,
                    uint8_t mac[MCS__HMAC_BYTES]) {
  crypto_auth_hmacsha256_state st = h->state;
  crypto_auth_hmacsha256_update(&st, a, a_len);
  if (b_len)
    crypto_auth_hmacsha256_update(&st, b, b_len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
}

void mcs__hmac_wipe(mcs__hmac *h) { sodium_memzero(h, sizeof *h); }

/* Constant-time equality of two byte strings of a public length: whole
 * 64-, 32- and 16-byte blocks through crypto_verify_* (vectorised in
 * libsodium), the tail through sodium_memcmp (a byte at a time). Every
 * block is compared; only the length decides which calls are made. */
bool mcs__equal_ct(const void *a_, const void *b_, size_t len) {
  const unsigned char *a = a_;
  const unsigned char *b = b_;
  int differ = 0;
  size_t i = 0;
  for (; len - i >= 64; i += 64)
    differ |= crypto_verify_64(a + i, b + i);
  if (len - i >= 32) {
    differ |= crypto_verify_32(a + i, b + i);
    i += 32;
  }
  if (len - i >= 16) {
    differ |= crypto_verify_16(a + i, b + i);
    i += 16;
  }
  if (len > i)
    differ |= sodium_memcmp(a + i, b + i, len - i);
  return differ == 0;
}
