/*
 * Per-user revocation ("log this user out everywhere", DESIGN section 3.6).
 *
 * Each user may have one small record in the store, under
 *
 *     prefix + "u:" + base64url(HMAC-SHA256(store_key_secret,
 *                                           "mcsession user\0" + uid))
 *
 * holding the user's current GENERATION: {"v":1,"g":"<16 hex>","t":<s>}
 * ("t", the revocation time, is for operators only). No record means
 * generation 0. A session bound to a user (mcs_session_set_user) stores
 * the uid and the generation read at that moment; revoking writes a new
 * random generation (one `set`), and a bound session is valid only while
 * its generation is the current one, or while the user has no record.
 *
 * Why a generation and not "bound after the revocation time": comparing
 * the clock of the process that logged the user in with the clock of the
 * one that revoked would let a login a clock skew before a revocation
 * survive it. Equality needs no clock. The price is one store read when a
 * user is bound (at login, which already writes twice).
 *
 * Why the record may expire: a session bound before a revocation is
 * either loaded while the record exists (and then found revoked and
 * deleted) or not loaded at all, and then its own record dies of the idle
 * timeout. Every process checks the store at least once per
 * revocation_check_interval, so idle_timeout + interval (+ a margin)
 * outlives every session the record has to stop; so does the absolute
 * timeout. After that, "no record" (generation 0) lets only sessions bound
 * after the revocation through, which is right.
 *
 * Loads consult the manager's cache (revcache.c) first: a fresh entry
 * that matches costs no round trip. A missing or stale entry, or one that
 * does not match (the session may have been bound, elsewhere, after a
 * revocation this process has not seen yet), costs one `get`, whose answer
 * decides. So a check costs at most one round trip, and a revoked session
 * stays usable in another process for at most revocation_check_interval
 * seconds after the revocation was written.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "session.h"

#define RECORD_VERSION 1
#define RECORD_MAX 256
#define RECORD_FLAGS 0x5256 /* "RV": tells these records apart */
#define GEN_HEX 16
/* Slack over idle_timeout + revocation_check_interval for clock steps of
 * whole seconds and requests that were in flight. */
#define TTL_MARGIN 60

/* ---- Users: tags and store keys ----------------------------------------- */

bool mcs__user_id_valid(const char *uid) {
  if (!uid)
    return false;
  size_t n = strnlen(uid, MCS_USER_ID_MAX + 1);
  if (n == 0 || n > MCS_USER_ID_MAX || !mcs__utf8_valid(uid, n))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)uid[i];
    if (c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

/* HMAC-SHA256 of the uid under the store-key secret; the label keeps
 * these inputs apart from session ids (which never contain a NUL). */
static void user_mac(const mcs_manager *m, const char *uid,
                     uint8_t mac[crypto_auth_hmacsha256_BYTES]) {
  static const char label[] = "mcsession user"; /* sizeof: NUL included */
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, m->store_key_secret,
                              m->store_key_secret_len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
                                sizeof label);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)uid, strlen(uid));
  crypto_auth_hmacsha256_final(&st, mac);
}

typedef struct user_ref {
  uint8_t mac[crypto_auth_hmacsha256_BYTES]; /* first bytes: cache tag */
} user_ref;

static void user_ref_of(const mcs_manager *m, const char *uid, user_ref *u) {
  user_mac(m, uid, u->mac);
}

_Static_assert(MCS__USER_TAG_BYTES == crypto_auth_hmacsha256_BYTES,
               "a record's user tag is the user's MAC");

void mcs__revoke_tag(const mcs_manager *m, mcs__record *rec) {
  if (rec->user && !rec->user_tag_set) {
    user_mac(m, rec->user, rec->user_tag);
    rec->user_tag_set = true;
  }
}

/* The bound user's ref, from the record's tag (worked out if missing). */
static void user_ref_of_record(const mcs_manager *m, mcs__record *rec,
                               user_ref *u) {
  mcs__revoke_tag(m, rec);
  memcpy(u->mac, rec->user_tag, sizeof u->mac);
}

/* The user's record key, built only when the store is asked (a load
 * whose revocation cache answers needs just the MAC). The manager refuses
 * prefixes that could make the key too long. Returns its length. */
static size_t user_key(const mcs_manager *m, const user_ref *u,
                       char key[MCS_STORE_KEY_MAX + 1]) {
  size_t p = m->key_prefix_len;
  memcpy(key, m->key_prefix, p);
  memcpy(key + p, "u:", 2);
  return p + 2 + mcs__b64url_encode(u->mac, sizeof u->mac, key + p + 2);
}

/* ---- Generations -------------------------------------------------------- */

void mcs__gen_format(uint64_t gen, char out[GEN_HEX + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < GEN_HEX; i++)
    out[i] = hex[(gen >> (60 - 4 * i)) & 0xf];
  out[GEN_HEX] = '\0';
}

bool mcs__gen_parse(const char *s, size_t n, uint64_t *gen) {
  uint64_t v = 0;
  if (n != GEN_HEX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    unsigned d = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
                 : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                          : 16u;
    if (d > 15)
      return false;
    v = v << 4 | d;
  }
  *gen = v;
  return v != 0;
}

/* The generation a stored record holds; a record we cannot read counts
 * as none (whoever can write the store could as well have deleted it).
 * Running out of memory is not "unreadable": MCS_ENOMEM, never a pass. */
static int decode_gen(mcs_manager *m, const uint8_t *buf, size_t len,
                      uint64_t *gen) {
  int rc;
  json_t *doc = mcs__json_loadb(buf, len, JSON_REJECT_DUPLICATES, &rc, NULL);
  if (!doc && rc == MCS_ENOMEM)
    return MCS_ENOMEM; /* never "no record": that would let revoked in */
  json_t *g = json_object_get(doc, "g");
  json_t *v = json_object_get(doc, "v");
  if (!json_is_integer(v) || json_integer_value(v) != RECORD_VERSION ||
      !json_is_string(g) ||
      !mcs__gen_parse(json_string_value(g), json_string_length(g), gen)) {
    MCS__STAT_INC(m, corrupt);
    mcs__log(m, MCS_LOG_WARN, "mcsession: unreadable revocation record");
    *gen = 0;
  }
  json_decref(doc);
  return MCS_OK;
}

/* Reads the user's generation from the store (one `get`, no touch). */
static int read_gen(mcs_manager *m, const user_ref *u, uint64_t *gen) {
  mcs_store_value v = {MCS__BUF_INIT, RECORD_MAX};
  uint64_t cas;
  uint32_t flags;
  mcs_store_result r = MCS_STORE_MISS;
  char key[MCS_STORE_KEY_MAX + 1];
  size_t key_len = user_key(m, u, key);
  MCS__STAT_INC(m, revocation_reads);
  int rc = m->store->ops.get(m->store->ud, key, key_len, 0, &v, &cas, &flags,
                             &r);
  *gen = 0;
  if (rc == MCS_ETOOBIG) {
    rc = MCS_OK; /* not one of ours: as unreadable */
    MCS__STAT_INC(m, corrupt);
  } else if (rc && rc != MCS_ENOMEM) {
    MCS__STAT_INC(m, store_errors);
    mcs__log(m, MCS_LOG_WARN, "mcsession: store error reading a user: %s",
             mcs_strerror(rc));
  } else if (rc == MCS_OK && r == MCS_STORE_HIT) {
    rc = decode_gen(m, v.buf.data ? v.buf.data : (const uint8_t *)"", v.buf.len,
                    gen);
  }
  mcs__buf_free(&v.buf);
  return rc;
}

/* Reads the generation from the store and remembers it, as of the time
 * the read began (the answer is at least that new), so the documented
 * bound holds however long the read took. */
static int refresh(mcs_manager *m, const user_ref *u, uint64_t *gen) {
  uint64_t stamp = mcs__revcache_stamp(m->revcache);
  int64_t asked_at = mcs__now(m);
  int rc = read_gen(m, u, gen);
  if (rc == MCS_OK)
    mcs__revcache_put(m->revcache, u->mac, *gen, asked_at, stamp);
  return rc;
}

static bool current(uint64_t store_gen, uint64_t bound_gen) {
  return store_gen == 0 || store_gen == bound_gen;
}

/* True when the cache alone says the record's binding is still current. */
static bool cached_current(mcs_manager *m, const user_ref *u,
                           const mcs__record *rec) {
  uint64_t gen;
  return mcs__revcache_get(m->revcache, u->mac, mcs__now(m),
                           m->cfg.revocation_check_interval, &gen) &&
         current(gen, rec->user_gen);
}

bool mcs__revoke_known_current(mcs_manager *m, mcs__record *rec) {
  if (!rec->user)
    return true;
  user_ref u;
  user_ref_of_record(m, rec, &u);
  return cached_current(m, &u, rec);
}

int mcs__revoke_check(mcs_manager *m, mcs__record *rec, bool *revoked) {
  *revoked = false;
  if (!rec->user)
    return MCS_OK;
  user_ref u;
  uint64_t gen;
  user_ref_of_record(m, rec, &u);
  if (cached_current(m, &u, rec))
    return MCS_OK;
  int rc = refresh(m, &u, &gen);
  if (rc == MCS_OK)
    *revoked = !current(gen, rec->user_gen);
  return rc;
}

int mcs__revoke_current(mcs_manager *m, const char *uid, uint64_t *gen) {
  user_ref u;
  user_ref_of(m, uid, &u);
  return refresh(m, &u, gen);
}

/* ---- Revoking ----------------------------------------------------------- */

uint32_t mcs__revoke_ttl(const mcs_manager *m) {
  const mcs_manager_config *c = &m->cfg;
  uint64_t ttl =
      (uint64_t)c->idle_timeout + c->revocation_check_interval + TTL_MARGIN;
  if (c->absolute_timeout && c->absolute_timeout < ttl)
    ttl = c->absolute_timeout;
  return ttl > UINT32_MAX ? UINT32_MAX : (uint32_t)ttl;
}

/* The record is a fixed shape of hex digits and a number: formatted
 * directly rather than through a JSON builder. */
static int encode_record(uint64_t gen, int64_t now, mcs__buf *out) {
  char hex[GEN_HEX + 1], text[RECORD_MAX];
  mcs__gen_format(gen, hex);
  int n = snprintf(text, sizeof text, "{\"v\":%d,\"g\":\"%s\",\"t\":%lld}",
                   RECORD_VERSION, hex, (long long)now);
  return mcs__buf_append(out, text, (size_t)n);
}

/* A fresh random generation, never 0 (0 means "no record"). */
static int new_gen(uint64_t *gen) {
  int rc = mcs_random_bytes(gen, sizeof *gen);
  if (rc == MCS_OK && *gen == 0)
    *gen = 1;
  return rc;
}

int mcs__revoke_write(mcs_manager *m, const char *uid, uint32_t ttl,
                      uint64_t *gen_out) {
  if (!m || !mcs__user_id_valid(uid) || ttl == 0 ||
      m->cfg.mode != MCS_MODE_NATIVE)
    return MCS_EINVAL;
  user_ref u;
  uint64_t gen;
  mcs__buf body = MCS__BUF_INIT;
  mcs_store_result r;
  char key[MCS_STORE_KEY_MAX + 1];
  user_ref_of(m, uid, &u);
  size_t key_len = user_key(m, &u, key);
  int rc = new_gen(&gen);
  if (rc == MCS_OK)
    rc = encode_record(gen, mcs__now(m), &body);
  if (rc == MCS_OK)
    rc = m->store->ops.set(m->store->ud, key, key_len, body.data, body.len,
                           RECORD_FLAGS, ttl, &r);
  mcs__buf_free(&body);
  if (rc) {
    if (rc != MCS_ENOMEM && rc != MCS_EIO)
      MCS__STAT_INC(m, store_errors);
    return rc;
  }
  /* Stamped after the write: newer than any read still in flight. */
  mcs__revcache_put(m->revcache, u.mac, gen, mcs__now(m),
                    mcs__revcache_stamp(m->revcache));
  if (gen_out)
    *gen_out = gen;
  return MCS_OK;
}

int mcs_manager_revoke_user(mcs_manager *mgr, const char *uid) {
  return mgr ? mcs__revoke_write(mgr, uid, mcs__revoke_ttl(mgr), NULL)
             : MCS_EINVAL;
}

/* ---- Binding sessions -----------------------------------------------------
 */

int mcs__record_set_user(mcs__record *rec, const char *uid, uint64_t gen) {
  char *copy = NULL;
  if (uid && !(copy = mcs__strdup(uid)))
    return MCS_ENOMEM;
  mcs__free(rec->user);
  rec->user = copy;
  rec->user_gen = uid ? gen : 0;
  rec->user_tag_set = false; /* the tag was the old user's */
  return MCS_OK;
}

int mcs_session_set_user(mcs_session *s, const char *uid) {
  if (!s || !mcs__user_id_valid(uid) || s->mgr->cfg.mode != MCS_MODE_NATIVE)
    return MCS_EINVAL;
  int rc = mcs__session_writable(s);
  if (rc)
    return rc;
  uint64_t gen;
  rc = mcs__revoke_current(s->mgr, uid, &gen);
  if (rc == MCS_OK)
    rc = mcs__record_set_user(&s->rec, uid, gen);
  if (rc == MCS_OK)
    s->user_pending = true;
  return rc;
}

const char *mcs_session_user(const mcs_session *s) {
  /* A retired snapshot has no user (its record keeps none): whoever
   * presents a regenerated session's old id is nobody. */
  return s && !s->destroyed && !s->retired ? s->rec.user : NULL;
}
