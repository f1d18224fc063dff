/*
 * Tornado mode's naming, byte-compatible with the tornado-memcached-sessions
 * recipe (docs/design.md, "Tornado mode"):
 *
 *   session_id   = hex(sha256(session_secret + str(uuid4())))
 *   verification = hex(hmac_sha256(key=session_id, msg=session_secret))
 *
 * both sent as Tornado signed values (cookie_secret = the key ring) in the
 * cookies "session_id" and "verification"; the store key is the raw id. A
 * verification that does not match its id marks the cookie forged, as the
 * recipe's InvalidSessionException does — but compared in constant time.
 */
#include <string.h>

#include <sodium.h>

#include "session/session_int.h"

#define HEX_ID_LEN 64
#define ID_COOKIE "session_id"
#define VERIFY_COOKIE "verification"

static bool hex_id_well_formed(const char *id, size_t len) {
  return mcs__lower_hex(id, len, HEX_ID_LEN);
}

/* hex(hmac_sha256(key=id, msg=session_secret)) into out[65]. */
static void verification_for(const mcs_manager *mgr, const char *id,
                             size_t id_len, char out[HEX_ID_LEN + 1]) {
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)id, id_len);
  crypto_auth_hmacsha256_update(&st, mgr->session_secret,
                                mgr->session_secret_len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_bin2hex(out, HEX_ID_LEN + 1, mac, sizeof mac);
}

/* Finds and verifies one signed cookie; its value goes to out[out_size]. */
static int read_signed(const mcs_manager *mgr, const char *header, size_t len,
                       const char *name, char *out, size_t out_size,
                       size_t *out_len, int64_t *signed_at) {
  const char *value;
  size_t value_len;
  int rc = mcs_cookie_find(header, len, name, &value, &value_len);
  if (rc)
    return rc;
  rc = mcs__verify_at(mgr->keys, name, value, value_len, mcs__now(mgr),
                      mgr->signature_max_age, out, out_size, out_len,
                      signed_at);
  return rc == MCS_OK ? MCS_OK : MCS_EBADSIG;
}

static int tornado_read_id(const mcs_manager *mgr, const char *header,
                           size_t len, char id[MCS__ID_MAX + 1],
                           size_t *id_len, int64_t *signed_at,
                           mcs__idcache_entry *known) {
  known->key_len = 0; /* the raw id is the key: store_key is cheap here */
  int rc = read_signed(mgr, header, len, ID_COOKIE, id, MCS__ID_MAX, id_len,
                       signed_at);
  if (rc)
    return rc; /* no session_id cookie: a new session, as in the recipe */
  if (!hex_id_well_formed(id, *id_len))
    return MCS_EBADSIG;
  id[*id_len] = '\0';
  char presented[HEX_ID_LEN + 1], expected[HEX_ID_LEN + 1];
  size_t presented_len = 0;
  rc = read_signed(mgr, header, len, VERIFY_COOKIE, presented, HEX_ID_LEN,
                   &presented_len, NULL);
  if (rc == MCS_ELIMIT)
    return rc;
  verification_for(mgr, id, *id_len, expected);
  bool ok = rc == MCS_OK && presented_len == HEX_ID_LEN;
  if (!ok)
    memset(presented, 0, sizeof presented);
  ok &= sodium_memcmp(presented, expected, HEX_ID_LEN) == 0;
  return ok ? MCS_OK : MCS_EBADSIG;
}

/* Python's str(uuid.uuid4()): 8-4-4-4-12 lowercase hex, version 4,
 * RFC 4122 variant. out[37]. */
static int uuid4_text(char out[37]) {
  uint8_t b[16];
  int rc = mcs_random_bytes(b, sizeof b);
  if (rc)
    return rc;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  static const size_t groups[] = {4, 2, 2, 2, 6};
  size_t in = 0, at = 0;
  for (size_t g = 0; g < 5; g++) {
    if (g)
      out[at++] = '-';
    sodium_bin2hex(out + at, 37 - at, b + in, groups[g]);
    in += groups[g];
    at += 2 * groups[g];
  }
  out[36] = '\0';
  return MCS_OK;
}

static int tornado_new_id(const mcs_manager *mgr, char id[MCS__ID_MAX + 1],
                          size_t *id_len) {
  char uuid[37];
  int rc = uuid4_text(uuid);
  if (rc)
    return rc;
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, mgr->session_secret, mgr->session_secret_len);
  crypto_hash_sha256_update(&st, (const unsigned char *)uuid, 36);
  crypto_hash_sha256_final(&st, digest);
  sodium_bin2hex(id, MCS__ID_MAX + 1, digest, sizeof digest);
  *id_len = HEX_ID_LEN;
  return MCS_OK;
}

/* The recipe keys memcached by the raw id (no prefix). */
static int tornado_store_key(const mcs_manager *mgr, const char *id,
                             size_t id_len, char key[MCS_STORE_KEY_MAX + 1],
                             size_t *key_len) {
  (void)mgr;
  if (id_len > MCS_STORE_KEY_MAX)
    return MCS_EINVAL;
  memcpy(key, id, id_len);
  key[id_len] = '\0';
  *key_len = id_len;
  return MCS_OK;
}

static int format_signed(const mcs_manager *mgr, const char *name,
                         const char *value, size_t value_len, int64_t now,
                         const mcs_cookie_attrs *attrs, char *out,
                         size_t out_size) {
  char signed_value[MCS_SIGNED_MAX_LEN(sizeof VERIFY_COOKIE, HEX_ID_LEN)];
  size_t signed_len = 0;
  if (value) {
    int rc = mcs_sign(mgr->keys, -1, name, value, value_len, now,
                      signed_value, sizeof signed_value, &signed_len);
    if (rc)
      return rc;
  }
  return mcs_cookie_format(name, value ? signed_value : "", signed_len, attrs,
                           now, out, out_size, NULL);
}

static int tornado_cookies(const mcs_manager *mgr, const char *id,
                           size_t id_len, mcs__cookie_out *out) {
  int64_t now = mcs__now(mgr);
  mcs_cookie_attrs attrs = mgr->cfg.cookie;
  char verification[HEX_ID_LEN + 1];
  if (id)
    verification_for(mgr, id, id_len, verification);
  else
    attrs.max_age = 0;
  out->count = 0;
  int rc = format_signed(mgr, ID_COOKIE, id, id_len, now, &attrs,
                         out->value[0], sizeof out->value[0]);
  if (rc == MCS_OK)
    rc = format_signed(mgr, VERIFY_COOKIE, id ? verification : NULL,
                       HEX_ID_LEN, now, &attrs, out->value[1],
                       sizeof out->value[1]);
  if (rc == MCS_OK)
    out->count = 2;
  return rc;
}

const mcs__scheme mcs__scheme_tornado = {
    .read_id = tornado_read_id,
    .new_id = tornado_new_id,
    .id_valid = hex_id_well_formed,
    .store_key = tornado_store_key,
    .cookies = tornado_cookies,
};
