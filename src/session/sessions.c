/*
 * A user's sessions: the list mcs_manager_list_sessions shows and
 * mcs_manager_end_session ends from (docs/design.md, "A user's
 * sessions"; the public contract is in mcsession/session.h).
 *
 * One record per user, under
 *
 *     prefix + "l:" + base64url(HMAC-SHA256(store_key_secret,
 *                                           "mcsession user\0" + uid))
 *
 * (the MAC that keys the user's revocation record, revoke.c), holding the
 * list codec/ulist.c encodes, SEALED (crypto/seal.c) for the context
 * "mcsession sessions\0" + uid under that store key. Why sealed: labels
 * are personal data (User-Agent, client address) and the entries hold
 * the sessions' store keys, which end_session needs; a store reader sees
 * neither, and a store writer cannot plant an entry (a list that does not
 * open counts as empty: it lists nothing and ends nothing). The context
 * holds a NUL, which no session id does, so no session record opens as a
 * list or the other way round. The cost is one seal per list write and
 * one open per list read, none on an ordinary load.
 *
 * A HANDLE is base64url of the first 16 bytes of HMAC-SHA256(store-key
 * secret, "mcsession handle\0" + id): it names the session in the list
 * and to the user, and gives neither its id nor its cookie.
 *
 * Writes are compare-and-swap on the token of the read (add when there
 * is no list), replayed on a fresh read on conflict, at most
 * LIST_CAS_RETRIES times, so logins that race each other all keep their
 * entry ("last seen", written by a load, is tried once). The record lives mcs__revoke_ttl (the revocation record's rule:
 * longer than any session it lists can live without a load), and every
 * write renews it.
 *
 * When things happen:
 *   - listed: by the save that writes a binding (set_user) or the new
 *     record of a regenerated bound session, just after that record is
 *     written (save.c, mcs__save_slow, says why after);
 *   - last seen: by a load of a bound session when this process has not
 *     written that session's time for last_seen_interval (the manager's
 *     seencache; a miss, say after a restart, costs one update); never
 *     an entry added there;
 *   - removed: by the save of a destroyed bound session (a logout;
 *     best effort), and by the two calls that end sessions;
 *   - pruned: by mcs_manager_list_sessions (ended, expired, revoked);
 *   - ended one: mcs_manager_end_session; all but one:
 *     mcs_manager_end_other_sessions (one read, a delete per entry ended,
 *     one write).
 * The oldest entry drops off when a 65th is added; that ends nothing.
 */
#include <string.h>

#include <sodium.h>

#include "session/session_int.h"

#define LIST_CAS_RETRIES 64
#define LIST_FLAGS 0x534c /* "SL": tells these records apart */

static const char handle_label[] = "mcsession handle";  /* with its NUL */
static const char list_label[] = "mcsession sessions"; /* with its NUL */

_Static_assert(MCS_SESSION_HANDLE_LEN == 22, "base64url of 16 bytes");

/* ---- Names ---------------------------------------------------------------- */

static void handle_mac(const mcs_manager *m, const char *id, size_t n,
                       uint8_t mac[MCS__HMAC_BYTES]) {
  mcs__hmac_mac2(&m->store_key_hmac, handle_label, sizeof handle_label, id,
                 n, mac);
}

static void handle_text(const uint8_t mac[MCS__HMAC_BYTES],
                        char out[MCS_SESSION_HANDLE_LEN + 1]) {
  out[mcs__b64url_encode(mac, 16, out)] = '\0';
}

int mcs_session_handle_valid(const char *handle) {
  return mcs__ulist_handle_valid(handle);
}

int mcs_session_handle(const mcs_session *s,
                       char out[MCS_SESSION_HANDLE_LEN + 1]) {
  if (!s || !out || s->mgr->cfg.mode != MCS_MODE_NATIVE)
    return MCS_EINVAL;
  uint8_t mac[MCS__HMAC_BYTES];
  handle_mac(s->mgr, s->id, s->id_len, mac);
  handle_text(mac, out);
  return MCS_OK;
}

/* The manager's seencache knows a session by a tag of its store key, not
 * by its handle: the key is at hand on every load and ends in a MAC of the
 * id (unique per session), so a load whose time is fresh computes no MAC
 * (SipHash-128 of the key, about a tenth of the handle's HMAC-SHA256; a
 * fixed key is enough, as the cache is this process's own memory and the
 * keys are MACs nobody can choose). */
static void seen_tag(const char *key, size_t key_len,
                     uint8_t tag[MCS__USER_TAG_LEN]) {
  static const uint8_t fixed[crypto_shorthash_siphashx24_KEYBYTES];
  _Static_assert(MCS__USER_TAG_LEN == crypto_shorthash_siphashx24_BYTES,
                 "a seencache tag is one SipHash-128");
  crypto_shorthash_siphashx24(tag, (const unsigned char *)key, key_len,
                              fixed);
}

/* Where a user's list lives and what it is sealed for. */
typedef struct list_ref {
  char key[MCS_STORE_KEY_MAX + 1];
  size_t key_len;
  char ctx[sizeof list_label + MCS_USER_ID_MAX];
  size_t ctx_len;
} list_ref;

/* mac: the user's (mcs__user_mac), when at hand (a session's record
 * caches it), else NULL. */
static void list_ref_of(const mcs_manager *m, const char *uid,
                        const uint8_t *mac, list_ref *l) {
  uint8_t own[MCS__HMAC_BYTES];
  size_t n = strlen(uid);
  if (!mac) {
    mcs__user_mac(m, uid, own);
    mac = own;
  }
  l->key_len = mcs__user_key(m, "l:", mac, l->key);
  memcpy(l->ctx, list_label, sizeof list_label);
  memcpy(l->ctx + sizeof list_label, uid, n);
  l->ctx_len = sizeof list_label + n;
}

/* The MAC of s's bound user, cached in its record (the revocation check
 * needs it too). */
static const uint8_t *user_mac(mcs_session *s) {
  mcs__revoke_tag(s->mgr, &s->rec);
  return s->rec.user_tag;
}

static bool usable(const mcs_manager *m, const char *uid) {
  return m && m->cfg.mode == MCS_MODE_NATIVE && m->sealer &&
         mcs__user_id_valid(uid);
}

/* ---- Reading and writing the list ---------------------------------------- */

/* What the store holds: the list (empty when none, or when it does not
 * open or decode: then logged once per burst) and the token to write it
 * back with. */
typedef struct list_state {
  mcs__ulist *list;
  bool present; /* a record is there (write with cas, or set if no token) */
  uint64_t cas;
} list_state;

static void unreadable(mcs_manager *m, const char *why) {
  mcs__log_burst(m, &m->log_tampered, MCS_LOG_WARN,
                 "mcsession: a user's session list %s: treated as empty",
                 why);
}

static int open_list(mcs_manager *m, const list_ref *l, const mcs__buf *raw,
                     list_state *st) {
  mcs__buf plain = MCS__BUF_INIT;
  int rc = mcs__unseal(m->sealer, l->ctx, l->ctx_len, l->key, l->key_len,
                       raw->data, raw->len, &plain);
  if (rc == MCS_EBADSIG) {
    unreadable(m, "does not open");
    rc = MCS_OK;
  } else if (rc == MCS_OK) {
    /* Lack of memory is MCS_ENOMEM, never a cut or corrupt list
     * (mcs__json_load_exact): a list that opens but does not decode was
     * written by a bad writer, counts as empty, and the next write
     * replaces it. */
    rc = mcs__ulist_decode(plain.data, plain.len, st->list);
    if (rc == MCS_ECORRUPT) {
      unreadable(m, "is not of a known format");
      rc = MCS_OK;
    }
  }
  mcs__buf_free(&plain);
  return rc;
}

static int read_list(mcs_manager *m, const list_ref *l, list_state *st) {
  mcs_store_value v = {MCS__BUF_INIT, MCS__ULIST_BYTES + MCS__SEAL_OVERHEAD};
  mcs_store_result r = MCS_STORE_MISS;
  uint32_t flags;
  st->list->count = 0;
  st->present = false;
  st->cas = 0;
  int rc = m->store->ops.get(m->store->ud, l->key, l->key_len, 0, &v,
                             &st->cas, &flags, &r);
  if (rc == MCS_ETOOBIG) { /* there, and not ours: replace it */
    unreadable(m, "is too long");
    st->present = true;
    st->cas = 0;
    rc = MCS_OK;
  } else if (rc == MCS_OK && r == MCS_STORE_HIT) {
    st->present = true;
    rc = open_list(m, l, &v.buf, st);
  }
  mcs__buf_free(&v.buf);
  return rc;
}

/* Writes st->list back: *done false when another write came first. */
static int write_list(mcs_manager *m, const list_ref *l, const list_state *st,
                      bool *done) {
  mcs__buf body = MCS__BUF_INIT;
  mcs_store_result r = MCS_STORE_MISS;
  mcs_store *s = m->store;
  uint32_t ttl = mcs__revoke_ttl(m);
  int rc = mcs__ulist_encode(st->list, &body);
  if (rc == MCS_OK)
    rc = mcs__seal(m->sealer, l->ctx, l->ctx_len, l->key, l->key_len, &body);
  if (rc == MCS_OK && !st->present)
    rc = s->ops.add(s->ud, l->key, l->key_len, body.data, body.len,
                    LIST_FLAGS, ttl, NULL, &r);
  else if (rc == MCS_OK && st->cas == 0)
    rc = s->ops.set(s->ud, l->key, l->key_len, body.data, body.len,
                    LIST_FLAGS, ttl, &r);
  else if (rc == MCS_OK)
    rc = s->ops.cas(s->ud, l->key, l->key_len, body.data, body.len,
                    LIST_FLAGS, ttl, st->cas, NULL, &r);
  mcs__buf_free(&body);
  *done = rc == MCS_OK && r == MCS_STORE_STORED;
  if (rc && rc != MCS_ENOMEM && rc != MCS_EIO)
    MCS__STAT_INC(m, store_errors);
  return rc;
}

/* What an update does to the list it read: MCS_OK with *changed when it
 * is to be written, MCS_OK without to leave it, or an error (returned). */
typedef int (*list_edit)(mcs__ulist *list, void *arg, bool *changed);

/* Read, edit, compare-and-swap; again on conflict, at most `tries`
 * times (MCS_ECONFLICT after the last). mac: as list_ref_of's. */
static int update_list(mcs_manager *m, const char *uid, const uint8_t *mac,
                       unsigned tries, list_edit edit, void *arg) {
  list_ref l;
  list_state st = {mcs__calloc(1, sizeof *st.list), false, 0};
  if (!st.list)
    return MCS_ENOMEM;
  list_ref_of(m, uid, mac, &l);
  int rc = MCS_ECONFLICT;
  for (unsigned i = 0; i < tries; i++) {
    bool changed = false, done = false;
    if ((rc = read_list(m, &l, &st)) || (rc = edit(st.list, arg, &changed)))
      break;
    if (!changed || (rc = write_list(m, &l, &st, &done)) || done)
      break;
    rc = MCS_ECONFLICT;
  }
  mcs__free(st.list);
  return rc;
}

static ptrdiff_t find(const mcs__ulist *list, const char *handle) {
  for (size_t i = 0; i < list->count; i++)
    if (strcmp(list->e[i].handle, handle) == 0)
      return (ptrdiff_t)i;
  return -1;
}

static void remove_at(mcs__ulist *list, size_t i) {
  memmove(&list->e[i], &list->e[i + 1],
          (list->count - i - 1) * sizeof list->e[0]);
  list->count--;
}

/* Removes the entry named `arg` (a handle), if there. */
static int drop_entry(mcs__ulist *list, void *arg, bool *changed) {
  ptrdiff_t at = find(list, arg);
  if (at >= 0) {
    remove_at(list, (size_t)at);
    *changed = true;
  }
  return MCS_OK;
}

/* ---- Listing at login ------------------------------------------------------ */

typedef struct add_arg {
  mcs__ulist_entry e;
  char old[MCS_SESSION_HANDLE_LEN + 1]; /* a regenerated session's former
                                           handle, or "" */
} add_arg;

/* Adds (or renews) the entry; a regenerated session's former entry is
 * replaced by it, passing on its creation time and, when this request
 * gave none, its labels. A renewed entry keeps its place, so the list
 * stays in order of creation and the oldest is the one that drops off. */
static int add_entry(mcs__ulist *list, void *arg, bool *changed) {
  add_arg *a = arg;
  mcs__ulist_entry e = a->e;
  ptrdiff_t old = a->old[0] ? find(list, a->old) : -1;
  ptrdiff_t same = find(list, e.handle); /* set_user again */
  if (old >= 0) {
    e.created = list->e[old].created;
    if (e.label_count == 0) {
      e.label_count = list->e[old].label_count;
      memcpy(e.labels, list->e[old].labels, sizeof e.labels);
    }
  }
  if (old >= 0 || same >= 0) {
    list->e[old >= 0 ? old : same] = e; /* the new one counts */
    if (old >= 0 && same >= 0)
      remove_at(list, (size_t)same);
  } else {
    if (list->count == MCS_USER_SESSIONS_MAX)
      remove_at(list, 0); /* the oldest drops off; its session lives on */
    list->e[list->count++] = e;
  }
  *changed = true;
  return MCS_OK;
}

int mcs__sessions_listed(mcs_session *s) {
  mcs_manager *m = s->mgr;
  add_arg *a = mcs__calloc(1, sizeof *a);
  if (!a)
    return MCS_ENOMEM;
  mcs__ulist_entry *e = &a->e;
  uint8_t mac[MCS__HMAC_BYTES];
  if (s->old_id_len) {
    handle_mac(m, s->old_id, s->old_id_len, mac);
    handle_text(mac, a->old);
  }
  handle_mac(m, s->id, s->id_len, mac);
  handle_text(mac, e->handle);
  memcpy(e->key, s->key, s->key_len + 1);
  e->created = s->rec.created;
  e->seen = mcs__now(m);
  e->gen = s->rec.user_gen;
  e->label_count = s->label_count;
  for (size_t i = 0; i < s->label_count; i++)
    memcpy(e->labels[i], s->labels[i], sizeof e->labels[i]);
  int rc = update_list(m, s->rec.user, user_mac(s), LIST_CAS_RETRIES,
                       add_entry, a);
  if (rc == MCS_OK && s->moved_from) {
    /* Best effort, like a logout's: its entry names the session as it
     * was listed there (before a regenerate of this request). */
    (void)update_list(m, s->moved_from, NULL, LIST_CAS_RETRIES, drop_entry,
                      a->old[0] ? a->old : e->handle);
    mcs__free(s->moved_from);
    s->moved_from = NULL;
  }
  if (rc == MCS_OK) {
    uint8_t tag[MCS__USER_TAG_LEN];
    seen_tag(s->key, s->key_len, tag);
    mcs__revcache_put(m->seencache, tag, 0, e->seen,
                      mcs__revcache_stamp(m->seencache));
  }
  mcs__free(a);
  return rc;
}

/* ---- Binding (set_user) ---------------------------------------------------- */

/* Checks labels and copies them (each cut at a character boundary) into
 * *out (OWNED; NULL for none). */
static int copy_labels(const char *const *labels, size_t count,
                       char (**out)[MCS_SESSION_LABEL_MAX + 1]) {
  char(*copy)[MCS_SESSION_LABEL_MAX + 1] = NULL;
  *out = NULL;
  if (count && !(copy = mcs__calloc(count, sizeof *copy)))
    return MCS_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    size_t n = labels[i] ? strnlen(labels[i], MCS_SESSION_LABEL_MAX + 1) : 0;
    while (n > MCS_SESSION_LABEL_MAX ||
           (n && ((unsigned char)labels[i][n] & 0xc0) == 0x80))
      n--; /* cut before a continuation byte: a whole character */
    if (!labels[i] || !mcs__ulist_label_valid(labels[i], n)) {
      mcs__free(copy);
      return MCS_EINVAL;
    }
    memcpy(copy[i], labels[i], n);
  }
  *out = copy;
  return MCS_OK;
}

int mcs_session_set_user_labels(mcs_session *s, const char *uid,
                                const char *const *labels, size_t count) {
  if (!s || !mcs__user_id_valid(uid) || s->mgr->cfg.mode != MCS_MODE_NATIVE ||
      count > MCS_SESSION_LABELS_MAX || (count && !labels))
    return MCS_EINVAL;
  int rc = mcs__session_writable(s);
  if (rc)
    return rc;
  /* The labels are checked before the store is asked, and the session
   * takes them only with the binding. */
  char(*copy)[MCS_SESSION_LABEL_MAX + 1] = NULL;
  char *from = NULL;
  uint64_t gen;
  rc = copy_labels(labels, count, &copy);
  /* A binding read from the store, to another user: that user's list
   * holds the session, and must let it go. */
  if (rc == MCS_OK && !s->moved_from && s->rec.user && !s->user_pending &&
      strcmp(s->rec.user, uid) != 0 && !(from = mcs__strdup(s->rec.user)))
    rc = MCS_ENOMEM;
  if (rc == MCS_OK)
    rc = mcs__revoke_current(s->mgr, uid, &gen);
  if (rc == MCS_OK)
    rc = mcs__record_set_user(&s->rec, uid, gen);
  if (rc) {
    mcs__free(copy);
    mcs__free(from);
    return rc;
  }
  mcs__free(s->labels);
  s->labels = copy;
  s->label_count = count;
  if (from)
    s->moved_from = from;
  if (s->moved_from && strcmp(s->moved_from, uid) == 0) {
    mcs__free(s->moved_from); /* bound back: nothing moved */
    s->moved_from = NULL;
  }
  s->user_pending = s->list_pending = true;
  return MCS_OK;
}

int mcs_session_set_user(mcs_session *s, const char *uid) {
  return mcs_session_set_user_labels(s, uid, NULL, 0);
}

void mcs__sessions_unlisted(mcs_session *s) {
  uint8_t mac[MCS__HMAC_BYTES];
  char handle[MCS_SESSION_HANDLE_LEN + 1];
  if (!s->mgr->sealer)
    return;
  handle_mac(s->mgr, s->id, s->id_len, mac);
  handle_text(mac, handle);
  (void)update_list(s->mgr, s->rec.user, user_mac(s), LIST_CAS_RETRIES,
                    drop_entry, handle);
}

/* ---- Last seen ------------------------------------------------------------- */

/* Whether s's "last seen" is due, with the seencache's tag for it. */
static bool seen_due(const mcs_session *s, uint8_t tag[MCS__USER_TAG_LEN]) {
  const mcs_manager *m = s->mgr;
  uint64_t unused;
  if (!s->rec.user || s->rec.retired_until || !m->sealer)
    return false;
  seen_tag(s->key, s->key_len, tag);
  return !mcs__revcache_get(m->seencache, tag, mcs__now(m),
                            m->cfg.last_seen_interval, &unused);
}

bool mcs__sessions_seen_due(const mcs_session *s) {
  uint8_t tag[MCS__USER_TAG_LEN];
  return seen_due(s, tag);
}

typedef struct seen_arg {
  const char *handle;
  int64_t now, interval;
  int64_t seen; /* the time the list holds now */
} seen_arg;

/* Another process may have written the time within the interval: then
 * the read was the only cost, and the write is left out. */
static int set_seen(mcs__ulist *list, void *arg, bool *changed) {
  seen_arg *a = arg;
  ptrdiff_t at = find(list, a->handle);
  a->seen = a->now;
  if (at >= 0 && list->e[at].seen > a->now - a->interval) {
    a->seen = list->e[at].seen;
  } else if (at >= 0) {
    list->e[at].seen = a->now;
    *changed = true;
  }
  return MCS_OK;
}

void mcs__sessions_seen(mcs_session *s) {
  mcs_manager *m = s->mgr;
  uint8_t mac[MCS__HMAC_BYTES], tag[MCS__USER_TAG_LEN];
  if (!seen_due(s, tag))
    return;
  char handle[MCS_SESSION_HANDLE_LEN + 1];
  uint64_t stamp = mcs__revcache_stamp(m->seencache);
  seen_arg a = {handle, mcs__now(m), m->cfg.last_seen_interval, 0};
  handle_mac(m, s->id, s->id_len, mac);
  handle_text(mac, handle);
  a.seen = a.now;
  /* One try: on a conflict another writer just wrote the list, and the
   * time is only informational (a load must not replay list writes). */
  (void)update_list(m, s->rec.user, user_mac(s), 1, set_seen, &a);
  /* Remembered whatever the outcome: a list that cannot be written now is
   * not retried on every load. */
  mcs__revcache_put(m->seencache, tag, 0, a.seen < a.now ? a.seen : a.now,
                    stamp); /* another host's clock may be ahead */
}

/* ---- Listing and pruning --------------------------------------------------- */

/* Whether entry e's session has ended: revoked since it was bound
 * (st: the user's state), past its absolute lifetime, idle for longer
 * than any load could have left unrecorded, or its record gone. The
 * last costs a read that does not slide the record's expiry. */
static int entry_ended(mcs_manager *m, const mcs__ulist_entry *e,
                       uint64_t gen, bool unreadable, bool *ended) {
  const mcs_manager_config *c = &m->cfg;
  int64_t now = mcs__now(m);
  *ended = unreadable || (gen != 0 && gen != e->gen) ||
           (c->absolute_timeout &&
            now - e->created >= (int64_t)c->absolute_timeout) ||
           now - e->seen > (int64_t)c->idle_timeout +
                               (int64_t)c->last_seen_interval + 60;
  if (*ended)
    return MCS_OK;
  mcs_store_value v = mcs__record_value(m);
  mcs_store_result r = MCS_STORE_MISS;
  uint64_t cas;
  uint32_t flags;
  int rc = m->store->ops.get(m->store->ud, e->key, strlen(e->key), 0, &v,
                             &cas, &flags, &r);
  mcs__buf_free(&v.buf);
  if (rc == MCS_ETOOBIG)
    rc = MCS_OK; /* there (too long to read here): alive */
  else if (rc == MCS_OK)
    *ended = r != MCS_STORE_HIT;
  return rc;
}

/* Removes the entries of ended sessions: *pruned says whether any went. */
static int prune(mcs_manager *m, const char *uid, mcs__ulist *list,
                 bool *pruned) {
  uint64_t gen;
  int64_t written_at;
  bool unreadable;
  *pruned = false;
  if (list->count == 0)
    return MCS_OK;
  int rc = mcs__revoke_state(m, uid, &gen, &written_at, &unreadable);
  for (size_t i = list->count; rc == MCS_OK && i-- > 0;) {
    bool ended;
    rc = entry_ended(m, &list->e[i], gen, unreadable, &ended);
    if (rc == MCS_OK && ended) {
      remove_at(list, i);
      *pruned = true;
    }
  }
  return rc;
}

static int copy_out(const mcs__ulist *list, mcs_user_session **out,
                    size_t *count) {
  if (list->count == 0)
    return MCS_OK;
  mcs_user_session *a = mcs__calloc(list->count, sizeof *a);
  if (!a)
    return MCS_ENOMEM;
  for (size_t i = 0; i < list->count; i++) {
    const mcs__ulist_entry *e = &list->e[i];
    memcpy(a[i].handle, e->handle, sizeof a[i].handle);
    a[i].created = e->created;
    a[i].last_seen = e->seen;
    a[i].label_count = e->label_count;
    memcpy(a[i].labels, e->labels, sizeof a[i].labels);
  }
  *out = a;
  *count = list->count;
  return MCS_OK;
}

int mcs_manager_list_sessions(mcs_manager *mgr, const char *uid,
                              mcs_user_session **out, size_t *count) {
  if (out)
    *out = NULL;
  if (count)
    *count = 0;
  if (!out || !count || !usable(mgr, uid))
    return MCS_EINVAL;
  list_ref l;
  list_state st = {mcs__calloc(1, sizeof *st.list), false, 0};
  if (!st.list)
    return MCS_ENOMEM;
  list_ref_of(mgr, uid, NULL, &l);
  bool pruned = false, done;
  int rc = read_list(mgr, &l, &st);
  if (rc == MCS_OK)
    rc = prune(mgr, uid, st.list, &pruned);
  if (rc == MCS_OK && pruned && st.present)
    /* One attempt: a write that came first is newer; the next list
     * prunes what it still holds. */
    (void)write_list(mgr, &l, &st, &done);
  if (rc == MCS_OK)
    rc = copy_out(st.list, out, count);
  mcs__free(st.list);
  return rc;
}

/* ---- Ending one ------------------------------------------------------------ */

typedef struct end_arg {
  mcs_manager *m;
  const char *handle;
  bool deleted;
} end_arg;

/* Deletes the session's record (again, harmlessly, on a replay), then
 * drops its entry. */
static int end_entry(mcs__ulist *list, void *arg, bool *changed) {
  end_arg *a = arg;
  ptrdiff_t at = find(list, a->handle);
  if (at < 0)
    return a->deleted ? MCS_OK : MCS_ENOENT; /* a replay: someone pruned it */
  mcs_store *s = a->m->store;
  mcs_store_result r;
  const char *key = list->e[at].key;
  int rc = s->ops.del(s->ud, key, strlen(key), &r);
  if (rc)
    return rc;
  a->deleted = true;
  remove_at(list, (size_t)at);
  *changed = true;
  return MCS_OK;
}

int mcs_manager_end_session(mcs_manager *mgr, const char *uid,
                            const char *handle) {
  if (!usable(mgr, uid) || !mcs__ulist_handle_valid(handle))
    return MCS_EINVAL;
  end_arg a = {mgr, handle, false};
  return update_list(mgr, uid, NULL, LIST_CAS_RETRIES, end_entry, &a);
}

/* ---- Ending all but one ---------------------------------------------------- */

typedef struct others_arg {
  mcs_manager *m;
  const char *keep; /* NULL: none kept */
  size_t ended;
} others_arg;

/* Deletes the record of every entry but keep's and drops those entries.
 * On a replay the list is read again: records deleted before are deleted
 * again, harmlessly, and `ended` counts what this edit removed. */
static int end_others(mcs__ulist *list, void *arg, bool *changed) {
  others_arg *a = arg;
  mcs_store *s = a->m->store;
  a->ended = 0;
  for (size_t i = list->count; i-- > 0;) {
    if (a->keep && strcmp(list->e[i].handle, a->keep) == 0)
      continue;
    mcs_store_result r;
    const char *key = list->e[i].key;
    int rc = s->ops.del(s->ud, key, strlen(key), &r);
    if (rc)
      return rc;
    remove_at(list, i);
    a->ended++;
  }
  *changed = a->ended > 0;
  return MCS_OK;
}

int mcs_manager_end_other_sessions(mcs_manager *mgr, const char *uid,
                                   const char *keep, size_t *ended) {
  if (ended)
    *ended = 0;
  if (!usable(mgr, uid) || (keep && !mcs__ulist_handle_valid(keep)))
    return MCS_EINVAL;
  others_arg a = {mgr, keep, 0};
  int rc = update_list(mgr, uid, NULL, LIST_CAS_RETRIES, end_others, &a);
  if (rc == MCS_OK && ended)
    *ended = a.ended;
  return rc;
}
