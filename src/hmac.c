/* HMAC-SHA256 with the key's pads hashed once. An HMAC over a short
 * message costs four SHA-256 compressions, two of them for the key alone;
 * keeping the keyed state and copying it per message halves the cost of
 * every cookie check and store-key derivation on the hot path. */
#include <string.h>

#include "internal.h"

void mcs__hmac_key(mcs__hmac *h, const void *key, size_t len) {
  crypto_auth_hmacsha256_init(&h->state, key, len);
}

void mcs__hmac_mac(const mcs__hmac *h, const void *msg, size_t len,
               uint8_t mac[MCS__HMAC_BYTES]) {
  crypto_auth_hmacsha256_state st = h->state;
  crypto_auth_hmacsha256_update(&st, msg, len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
}

void mcs__hmac_wipe(mcs__hmac *h) { sodium_memzero(h, sizeof *h); }
