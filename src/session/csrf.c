/*
 * CSRF tokens bound to the session. A token is
 *
 *     base64url( mask || (mask XOR HMAC-SHA256(csrf_key, "csrf" || id)) )
 *
 * with a fresh 32-byte random mask each time, so the same secret never
 * appears twice in a response body (which defeats BREACH-style compression
 * attacks), and an attacker's page, which cannot read the victim's cookie,
 * cannot compute it. It verifies against the session's current id and
 * against the id of the validly signed cookie the request presented: the
 * login form is shown before the session has a stored record, and the POST
 * that follows may therefore come back as a fresh session with a new id.
 */
#include <string.h>

#include <sodium.h>

#include "session/session_int.h"

#define MAC_BYTES crypto_auth_hmacsha256_BYTES
#define RAW_BYTES (2 * MAC_BYTES)

void mcs__csrf_mac(const mcs_manager *m, const char *id, size_t id_len,
                   uint8_t mac[MAC_BYTES]) {
  mcs__hmac_mac2(&m->csrf_hmac, "csrf", 4, id, id_len, mac);
}

/* The MAC for `id`: the one the verified-cookie cache handed over when id
 * is the presented one (the usual case: one HMAC less per page), else
 * computed. */
static void token_mac(const mcs_session *s, const char *id, size_t id_len,
                      uint8_t mac[MAC_BYTES]) {
  if (s->presented_csrf_known && id_len == s->presented_len &&
      memcmp(id, s->presented_id, id_len) == 0)
    memcpy(mac, s->presented_csrf_mac, MAC_BYTES);
  else
    mcs__csrf_mac(s->mgr, id, id_len, mac);
}

int mcs_csrf_token(mcs_session *s, char *out, size_t out_size) {
  if (!s || !out)
    return MCS_EINVAL;
  if (s->destroyed)
    return MCS_ESTATE;
  if (out_size < MCS_CSRF_TOKEN_LEN + 1)
    return MCS_ELIMIT;
  uint8_t raw[RAW_BYTES], mac[MAC_BYTES];
  int rc = mcs_random_bytes(raw, MAC_BYTES);
  if (rc)
    return rc;
  token_mac(s, s->id, s->id_len, mac);
  for (size_t i = 0; i < MAC_BYTES; i++)
    raw[MAC_BYTES + i] = raw[i] ^ mac[i];
  mcs__b64url_encode(raw, sizeof raw, out);
  s->csrf_issued = true;
  return MCS_OK;
}

/* Constant time in the token's contents: both candidate ids are always
 * checked and the results combined without branching on secrets. */
int mcs_csrf_verify(const mcs_session *s, const char *token, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-_";
  if (!s || !token || len != MCS_CSRF_TOKEN_LEN)
    return MCS_EBADSIG;
  /* libsodium 1.0.18 would take some bytes >= 0x80 for alphabet characters;
   * only the canonical form of a token is accepted. */
  for (size_t i = 0; i < len; i++)
    if (!token[i] || !strchr(alphabet, token[i]))
      return MCS_EBADSIG;
  uint8_t raw[RAW_BYTES], mac[MAC_BYTES], want[MAC_BYTES];
  size_t n = 0;
  const char *end = NULL;
  if (sodium_base642bin(raw, sizeof raw, token, len, NULL, &n, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      n != RAW_BYTES || end != token + len)
    return MCS_EBADSIG;
  for (size_t i = 0; i < MAC_BYTES; i++)
    mac[i] = raw[i] ^ raw[MAC_BYTES + i];
  token_mac(s, s->id, s->id_len, want);
  int ok = sodium_memcmp(mac, want, MAC_BYTES) == 0;
  if (s->presented_len) {
    token_mac(s, s->presented_id, s->presented_len, want);
    ok |= sodium_memcmp(mac, want, MAC_BYTES) == 0;
  }
  return ok ? MCS_OK : MCS_EBADSIG;
}
