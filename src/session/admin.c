/*
 * The operator's API (mcsession/admin.h): naming a session by cookie or
 * id, reading it without sliding its expiry, touching and deleting it,
 * and a user's revocation record. Everything here goes through the
 * manager's scheme, codec and revocation code, so an operator's program
 * names and reads sessions exactly as the application does; nothing here
 * is a second implementation of those rules.
 */
#include <string.h>

#include "session/session_int.h"

_Static_assert(MCS_SESSION_ID_MAX == MCS__ID_MAX,
               "the public id bound is the library's");

#define TORNADO_ID_COOKIE "session_id" /* the recipe's, scheme_tornado.c */
/* The largest record an operator may read: memcached's item size, the
 * most any application sharing the store can have written (its
 * max_data_bytes may be larger than this manager's). */
#define ADMIN_READ_MAX MCS_MEMCACHED_ITEM_MAX

/* ---- Naming ------------------------------------------------------------- */

/* The id's length when `id` is a NUL-terminated id of the manager's mode,
 * else 0. */
static size_t id_length(const mcs_manager *m, const char *id) {
  size_t n = strnlen(id, MCS__ID_MAX + 1);
  return n <= MCS__ID_MAX && m->scheme->id_valid(id, n) ? n : 0;
}

/* The store key of a well-formed id; NUL-terminated. */
static int key_of(const mcs_manager *m, const char *id, size_t n,
                  char key[MCS_STORE_KEY_MAX + 1], size_t *key_len) {
  return m->scheme->store_key(m, id, n, key, key_len);
}

/* The store key of `id` after checking it. */
static int checked_key(const mcs_manager *m, const char *id,
                       char key[MCS_STORE_KEY_MAX + 1], size_t *key_len) {
  size_t n = id_length(m, id);
  return n ? key_of(m, id, n, key, key_len) : MCS_EINVAL;
}

/* A cookie's value: verified under `name` with no age limit, carrying an
 * id of this mode. */
static int verify_cookie(const mcs_manager *m, const char *text, size_t len,
                         const char *name, mcs_admin_ref *out) {
  if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
    text++;
    len -= 2;
  }
  mcs__signed_parts parts;
  if (mcs__signed_parse(text, len, &parts) != MCS_OK)
    return MCS_EINVAL; /* not a signed value at all */
  if (!name)
    name = m->cfg.mode == MCS_MODE_TORNADO ? TORNADO_ID_COOKIE : m->cookie_name;
  size_t n = 0;
  int rc = mcs__verify_at(m->keys, name, text, len, mcs__now(m), -1, out->id,
                          MCS__ID_MAX, &n, &out->signed_at);
  if (rc == MCS_ELIMIT || (rc == MCS_OK && !m->scheme->id_valid(out->id, n)))
    return MCS_EINVAL; /* authentic, but no session id of this mode */
  if (rc)
    return MCS_EBADSIG;
  out->id[n] = '\0';
  return MCS_OK;
}

int mcs_admin_session_resolve(const mcs_manager *mgr, const char *text,
                              size_t len, const char *name,
                              mcs_admin_ref *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!mgr || !text || !out)
    return MCS_EINVAL;
  int rc;
  if (len <= MCS__ID_MAX && mgr->scheme->id_valid(text, len)) {
    memcpy(out->id, text, len);
    out->id[len] = '\0';
    rc = MCS_OK;
  } else {
    rc = verify_cookie(mgr, text, len, name, out);
  }
  if (rc == MCS_OK)
    rc = key_of(mgr, out->id, strlen(out->id), out->key, &out->key_len);
  if (rc)
    memset(out, 0, sizeof *out);
  return rc;
}

int mcs_admin_store_key(const mcs_manager *mgr, const char *id, char *key,
                        size_t key_size, size_t *key_len) {
  if (!mgr || !id || !key)
    return MCS_EINVAL;
  char k[MCS_STORE_KEY_MAX + 1];
  size_t n = 0;
  int rc = checked_key(mgr, id, k, &n);
  if (rc == MCS_OK && n >= key_size)
    rc = MCS_ELIMIT;
  if (rc == MCS_OK) {
    memcpy(key, k, n + 1);
    if (key_len)
      *key_len = n;
  }
  return rc;
}

/* ---- Reading ------------------------------------------------------------ */

/* The data as compact JSON text, in the library's allocator (so that
 * mcs_admin_view_clear, like mcs_free, releases it). */
static int dump_data(const json_t *data, char **out, size_t *out_len) {
  size_t n = json_dumpb(data, NULL, 0, JSON_COMPACT);
  char *text = n ? mcs__malloc(n + 1) : NULL;
  if (!text)
    return MCS_ENOMEM;
  if (json_dumpb(data, text, n, JSON_COMPACT) != n) {
    mcs__free(text);
    return MCS_ENOMEM;
  }
  text[n] = '\0';
  *out = text;
  *out_len = n;
  return MCS_OK;
}

/* Opens (a sealed record: sealing.c, as a load does) and decodes what
 * the store holds for id under key; says in the view whether it was
 * sealed. */
static int open_record(mcs_manager *m, const char *id, const char *key,
                       size_t key_len, const mcs__buf *raw, mcs__record *rec,
                       mcs_admin_view *view) {
  static const mcs__limits limits = {ADMIN_READ_MAX, MCS_JSON_DEPTH_MAX};
  mcs__buf scratch = MCS__BUF_INIT;
  const uint8_t *plain;
  size_t len;
  int rc = mcs__record_open(m, id, strlen(id), key, key_len,
                            raw->data ? raw->data : (const uint8_t *)"",
                            raw->len, &scratch, &plain, &len);
  if (rc == MCS_EBADSIG)
    mcs__record_tampered(m);
  else if (rc == MCS_OK)
    rc = m->codec->decode(len ? plain : (const uint8_t *)"", len, &limits, rec);
  unsigned version = 0;
  if (rc == MCS_OK && plain != raw->data &&
      mcs__sealed_version(raw->data, raw->len, &version) == MCS_OK) {
    view->sealed = 1;
    view->seal_key_version = version;
  }
  if (scratch.data)
    sodium_memzero(scratch.data, scratch.cap);
  mcs__buf_free(&scratch);
  return rc;
}

/* Reads id's record (under `key`) without touching it, opens and decodes
 * it. *found: the store had it. */
static int peek_record(mcs_manager *m, const char *id, const char *key,
                       size_t key_len, mcs__record *rec, int64_t *ttl,
                       int *found, mcs_admin_view *view) {
  mcs_store_value v = {MCS__BUF_INIT, ADMIN_READ_MAX + MCS__SEAL_OVERHEAD};
  uint64_t cas = 0;
  uint32_t flags = 0;
  mcs_store_result r = MCS_STORE_MISS;
  int rc = mcs__store_peek(m->store, key, key_len, &v, &cas, &flags, ttl, &r);
  if (rc == MCS_OK && r == MCS_STORE_HIT) {
    *found = 1;
    rc = open_record(m, id, key, key_len, &v.buf, rec, view);
  }
  mcs__buf_free(&v.buf);
  return rc;
}

/* Fills the view from a decoded record; a bound user is checked now. */
static int fill_view(mcs_manager *m, mcs__record *rec, int64_t ttl,
                     mcs_admin_view *view) {
  view->created = rec->created;
  view->revision = rec->rev;
  view->retired_until = rec->retired_until;
  view->ttl = ttl;
  view->user_revoked = -1;
  int rc = dump_data(rec->data, &view->data, &view->data_len);
  if (rc == MCS_OK && rec->user && !(view->user = mcs__strdup(rec->user)))
    rc = MCS_ENOMEM;
  if (rc == MCS_OK && rec->user) {
    bool revoked = false;
    rc = mcs__revoke_check_fresh(m, rec, &revoked);
    view->user_revoked = revoked;
  }
  return rc;
}

int mcs_admin_session_read(mcs_manager *mgr, const char *id,
                           mcs_admin_view *view, int *found) {
  if (view)
    memset(view, 0, sizeof *view);
  if (found)
    *found = 0;
  if (!mgr || !id || !view || !found)
    return MCS_EINVAL;
  char key[MCS_STORE_KEY_MAX + 1];
  size_t key_len = 0;
  int64_t ttl = MCS_STORE_TTL_UNKNOWN;
  mcs__record rec;
  memset(&rec, 0, sizeof rec);
  int rc = checked_key(mgr, id, key, &key_len);
  if (rc == MCS_OK)
    rc = peek_record(mgr, id, key, key_len, &rec, &ttl, found, view);
  if (rc == MCS_OK && *found)
    rc = fill_view(mgr, &rec, ttl, view);
  mcs__record_clear(&rec);
  if (rc)
    mcs_admin_view_clear(view);
  return rc;
}

int mcs_sealed_key_version(const void *record, size_t len,
                           unsigned *version) {
  if (!record || !version)
    return MCS_EINVAL;
  return mcs__sealed_version(record, len, version);
}

void mcs_admin_view_clear(mcs_admin_view *view) {
  if (!view)
    return;
  mcs__free(view->data);
  mcs__free(view->user);
  memset(view, 0, sizeof *view);
}

/* ---- Touching and ending ------------------------------------------------ */

/* A touch (ttl > 0) or a delete (ttl 0) of id's record; *found tells
 * whether there was one. */
static int keyed_write(mcs_manager *mgr, const char *id, uint32_t ttl,
                       int *found) {
  char key[MCS_STORE_KEY_MAX + 1];
  size_t key_len = 0;
  mcs_store_result r = MCS_STORE_MISS;
  mcs_store *st = mgr->store;
  int rc = checked_key(mgr, id, key, &key_len);
  if (rc == MCS_OK)
    rc = ttl ? st->ops.touch(st->ud, key, key_len, ttl, &r)
             : st->ops.del(st->ud, key, key_len, &r);
  if (rc == MCS_OK)
    *found = r == (ttl ? MCS_STORE_TOUCHED : MCS_STORE_DELETED);
  return rc;
}

int mcs_admin_session_touch(mcs_manager *mgr, const char *id, uint32_t ttl,
                            int *found) {
  if (found)
    *found = 0;
  if (!mgr || !id || !found || ttl == 0)
    return MCS_EINVAL;
  return keyed_write(mgr, id, ttl, found);
}

int mcs_admin_session_destroy(mcs_manager *mgr, const char *id, int *found) {
  if (found)
    *found = 0;
  if (!mgr || !id || !found)
    return MCS_EINVAL;
  return keyed_write(mgr, id, 0, found);
}

/* ---- Users -------------------------------------------------------------- */

int mcs_user_id_valid(const char *uid) { return mcs__user_id_valid(uid); }

int mcs_user_header_safe(const char *user, size_t len) {
  if (!user || len == 0 || len > MCS_USER_HEADER_MAX || user[0] == ' ' ||
      user[len - 1] == ' ')
    return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)user[i];
    if (c < 0x20 || c == 0x7f)
      return 0;
  }
  return 1;
}

int mcs_admin_user_state(mcs_manager *mgr, const char *uid,
                         mcs_admin_user *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!mgr || !out || !mcs__user_id_valid(uid) ||
      mgr->cfg.mode != MCS_MODE_NATIVE)
    return MCS_EINVAL;
  bool unreadable = false;
  int rc = mcs__revoke_state(mgr, uid, &out->generation, &out->written_at,
                             &unreadable);
  out->unreadable = unreadable;
  if (rc)
    memset(out, 0, sizeof *out);
  return rc;
}

int mcs_admin_user_revoke(mcs_manager *mgr, const char *uid, uint32_t ttl,
                          uint64_t *generation) {
  if (!mgr)
    return MCS_EINVAL;
  return mcs__revoke_write(mgr, uid, ttl ? ttl : mcs__revoke_ttl(mgr),
                           generation);
}
