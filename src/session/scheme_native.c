/*
 * Native mode's naming: one cookie whose value is a Tornado v2 signed value
 * carrying the session id; ids are 256 random bits in base64url; the store
 * key is prefix + base64url(HMAC-SHA256(store_key_secret, id)), so a dump
 * of the store yields nothing a client could present as a cookie.
 */
#include <string.h>

#include <sodium.h>

#include "session/session_int.h"

static bool id_well_formed(const char *id, size_t len) {
  return len == MCS_ID_LEN && mcs__b64url_chars_ok(id, len);
}

static int native_store_key(const mcs_manager *mgr, const char *id,
                            size_t id_len, char key[MCS_STORE_KEY_MAX + 1],
                            size_t *key_len);

/* A cookie value that verified before (idcache.c): the same id, store key
 * and signature time, with the signature's age checked again. MCS_OK,
 * MCS_EBADSIG (aged out since), or MCS_ENOENT (not cached). */
static int cached_id(const mcs_manager *mgr, const char *value,
                     size_t value_len, mcs__idcache_entry *e) {
  if (!mcs__idcache_get(mgr->idcache, value, value_len, e))
    return MCS_ENOENT;
  if (!mcs__signature_too_old(e->signed_at, mcs__now(mgr),
                              mgr->signature_max_age))
    return MCS_OK;
  mcs__idcache_drop(mgr->idcache, value, value_len);
  return MCS_EBADSIG;
}

/* Verifies the value and derives the id's store key; remembers both. */
static int verify_id(const mcs_manager *mgr, const char *value,
                     size_t value_len, mcs__idcache_entry *e) {
  int rc = mcs__verify_at(mgr->keys, mgr->cookie_name, value, value_len,
                          mcs__now(mgr), mgr->signature_max_age, e->id,
                          MCS__ID_MAX, &e->id_len, &e->signed_at);
  if (rc || !id_well_formed(e->id, e->id_len))
    return MCS_EBADSIG; /* MCS_ELIMIT too: signed, but not by this scheme */
  e->id[e->id_len] = '\0';
  if ((rc = native_store_key(mgr, e->id, e->id_len, e->key, &e->key_len)))
    return rc;
  mcs__csrf_mac(mgr, e->id, e->id_len, e->csrf_mac);
  mcs__idcache_put(mgr->idcache, value, value_len, e);
  return MCS_OK;
}

static int native_read_id(const mcs_manager *mgr, const char *header,
                          size_t len, char id[MCS__ID_MAX + 1],
                          size_t *id_len, int64_t *signed_at,
                          mcs__idcache_entry *known) {
  const char *value;
  size_t value_len;
  mcs__idcache_entry e;
  known->key_len = 0;
  int rc = mcs_cookie_find(header, len, mgr->cookie_name, &value, &value_len);
  if (rc)
    return rc; /* MCS_ENOENT or MCS_ELIMIT */
  rc = cached_id(mgr, value, value_len, &e);
  if (rc == MCS_ENOENT)
    rc = verify_id(mgr, value, value_len, &e);
  if (rc == MCS_OK) {
    memcpy(id, e.id, e.id_len + 1);
    *id_len = e.id_len;
    *signed_at = e.signed_at;
    *known = e;
  }
  sodium_memzero(&e, sizeof e);
  return rc;
}

static int native_new_id(const mcs_manager *mgr, char id[MCS__ID_MAX + 1],
                         size_t *id_len) {
  (void)mgr;
  uint8_t raw[MCS_ID_BYTES];
  int rc = mcs_random_bytes(raw, sizeof raw);
  if (rc)
    return rc;
  *id_len = mcs__b64url_encode(raw, sizeof raw, id);
  sodium_memzero(raw, sizeof raw);
  return MCS_OK;
}

static int native_store_key(const mcs_manager *mgr, const char *id,
                            size_t id_len, char key[MCS_STORE_KEY_MAX + 1],
                            size_t *key_len) {
  uint8_t mac[MCS__HMAC_BYTES];
  mcs__hmac_mac(&mgr->store_key_hmac, id, id_len, mac);
  size_t p = mgr->key_prefix_len;
  if (p + mcs__b64url_len(sizeof mac) > MCS_STORE_KEY_MAX)
    return MCS_EINVAL; /* the manager refuses such prefixes up front */
  memcpy(key, mgr->key_prefix, p);
  *key_len = p + mcs__b64url_encode(mac, sizeof mac, key + p);
  return MCS_OK;
}

static int native_cookies(const mcs_manager *mgr, const char *id,
                          size_t id_len, mcs__cookie_out *out) {
  int64_t now = mcs__now(mgr);
  mcs_cookie_attrs attrs = mgr->cfg.cookie;
  char signed_value[MCS_SIGNED_MAX_LEN(MCS_SIGNED_NAME_MAX, MCS__ID_MAX)];
  const char *value = "";
  size_t value_len = 0;
  if (id) {
    int rc = mcs_sign(mgr->keys, -1, mgr->cookie_name, id, id_len, now,
                      signed_value, sizeof signed_value, &value_len);
    if (rc)
      return rc;
    value = signed_value;
  } else {
    attrs.max_age = 0; /* expire it now */
  }
  out->count = 0;
  int rc = mcs_cookie_format(mgr->cookie_name, value, value_len, &attrs, now,
                             out->value[0], sizeof out->value[0], NULL);
  if (rc == MCS_OK)
    out->count = 1;
  return rc;
}

const mcs__scheme mcs__scheme_native = {
    .read_id = native_read_id,
    .new_id = native_new_id,
    .id_valid = id_well_formed,
    .store_key = native_store_key,
    .cookies = native_cookies,
};
