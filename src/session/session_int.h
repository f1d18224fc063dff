/*
 * The session wing: the manager (manager.c) and what it is configured
 * with — how a mode names sessions (scheme_native.c, scheme_tornado.c),
 * CSRF tokens (csrf.c), per-user revocation (revoke.c), sealed records
 * (sealing.c) — and a session's
 * life: load (load.c), save (save.c), regenerate (retire.c), destroy and
 * what those share (session.c), typed values (values.c) over a change log
 * (changes.c), and the same on an event loop (session_async.c).
 *
 * May use: every other wing (util, crypto, cookie, codec, cache, store,
 * loop). Nothing uses it. (docs/design.md, "Wings")
 */
#ifndef MCS_SESSION_INT_H
#define MCS_SESSION_INT_H

#include <jansson.h>

#include "cache/cache_int.h"
#include "codec/codec_int.h"
#include "cookie/cookie_int.h"
#include "crypto/crypto_int.h"
#include "loop/loop_int.h"
#include "store/store_int.h"

/* Up to this many Set-Cookie values per response (tornado mode: 2). */
#define MCS__SET_COOKIE_MAX 2
#define MCS__SET_COOKIE_LEN 1024

typedef struct mcs__cookie_out {
  size_t count;
  char value[MCS__SET_COOKIE_MAX][MCS__SET_COOKIE_LEN];
} mcs__cookie_out;

/* How a mode names sessions: cookies, ids and store keys. */
typedef struct mcs__scheme {
  /* Reads the id named by a Cookie header: MCS_OK (id set), MCS_ENOENT (no
   * session cookie), MCS_EBADSIG (a cookie that does not verify),
   * MCS_ELIMIT (header over limits). On MCS_OK, known->key_len > 0 when
   * the id's store key and CSRF MAC came along (a cookie verified before:
   * known->key, known->csrf_mac), 0 when the caller must derive them. */
  int (*read_id)(const mcs_manager *mgr, const char *header, size_t len,
                 char id[MCS__ID_MAX + 1], size_t *id_len,
                 int64_t *signed_at, mcs__idcache_entry *known);
  int (*new_id)(const mcs_manager *mgr, char id[MCS__ID_MAX + 1],
                size_t *id_len);
  /* True when id[0..len) has the shape of this mode's ids. */
  bool (*id_valid)(const char *id, size_t len);
  /* Store key for an id into key[MCS_STORE_KEY_MAX + 1]. */
  int (*store_key)(const mcs_manager *mgr, const char *id, size_t id_len,
                   char key[MCS_STORE_KEY_MAX + 1], size_t *key_len);
  /* Set-Cookie values naming `id`, or expiring the cookies (id NULL). */
  int (*cookies)(const mcs_manager *mgr, const char *id, size_t id_len,
                 mcs__cookie_out *out);
} mcs__scheme;

extern const mcs__scheme mcs__scheme_native;  /* scheme_native.c */
extern const mcs__scheme mcs__scheme_tornado; /* scheme_tornado.c */

/* HMAC-SHA256(csrf key, "csrf" || id): what a CSRF token masks (csrf.c). */
void mcs__csrf_mac(const mcs_manager *m, const char *id, size_t id_len,
                   uint8_t mac[MCS__HMAC_BYTES]);

/* ---- Per-user revocation (revoke.c) ---- */
/* Whether a record bound to a user (rec->user) was revoked since: at most
 * one store read, none when the cache answers. A user record that cannot
 * be read counts as a revocation (fail closed). Store errors and
 * MCS_ENOMEM are returned (the caller cannot tell, so must not serve the
 * session). */
int mcs__revoke_check(mcs_manager *m, mcs__record *rec, bool *revoked);
/* True when no store read is needed to know that rec's binding (if any)
 * is still current: the cache answers, and says so. Never does I/O. */
bool mcs__revoke_known_current(mcs_manager *m, mcs__record *rec);
/* Works out rec->user_tag if the record is bound and has none yet; the
 * two functions above do so themselves. Call before caching a record. */
void mcs__revoke_tag(const mcs_manager *m, mcs__record *rec);
/* The user's current generation, read from the store (cache updated), for
 * binding a session at login. A record that cannot be read is replaced by
 * a new generation (a revocation now: the sessions bound before stay
 * ended, this one is bound to the new one). */
int mcs__revoke_current(mcs_manager *m, const char *uid, uint64_t *gen);
/* Writes a new generation for uid with the given record TTL (one `set`);
 * *gen (may be NULL) gets it. MCS_EINVAL in tornado mode. */
int mcs__revoke_write(mcs_manager *m, const char *uid, uint32_t ttl,
                      uint64_t *gen);
/* mcs__revoke_check without the cache: always one store read (cache
 * updated), for an operator asking what is true now (admin.c). */
int mcs__revoke_check_fresh(mcs_manager *m, mcs__record *rec, bool *revoked);
/* What the store holds for uid, read now (cache updated): the generation
 * (0: no record), its record's write time, and whether a record is there
 * that cannot be read (then gen and written_at are 0). */
int mcs__revoke_state(mcs_manager *m, const char *uid, uint64_t *gen,
                      int64_t *written_at, bool *unreadable);
/* The record TTL mcs_manager_revoke_user uses: mcs_revocation_ttl (the
 * rule, explained in revoke.c) applied to the manager's own timeouts. */
uint32_t mcs__revoke_ttl(const mcs_manager *m);
/* The user's MAC (HMAC-SHA256 of the uid under the store-key secret, with
 * a label of its own), which names the user's records in the store. */
void mcs__user_mac(const mcs_manager *m, const char *uid,
                   uint8_t mac[MCS__HMAC_BYTES]);
/* A user's store key: prefix + kind ("u:" revocation record, "l:" list of
 * sessions) + base64url(mac), mac being mcs__user_mac's. Into key
 * (NUL-terminated); returns its length. */
size_t mcs__user_key(const mcs_manager *m, const char kind[2],
                     const uint8_t mac[MCS__HMAC_BYTES],
                     char key[MCS_STORE_KEY_MAX + 1]);

/* ---- A user's sessions (sessions.c) ---- */
/* After a save wrote a binding (s->list_pending): lists the session in
 * its user's list (compare-and-swap, replayed on conflict). Blocking. */
int mcs__sessions_listed(mcs_session *s);
/* After a bound session's record was deleted (a logout): removes its
 * entry; best effort (the next listing prunes it anyway). Blocking. */
void mcs__sessions_unlisted(mcs_session *s);
/* True when a load of this bound session should update its "last seen"
 * (this process has not written it for last_seen_interval). No I/O. */
bool mcs__sessions_seen_due(const mcs_session *s);
/* Updates its "last seen" in the list; best effort (a failure only
 * leaves the time older), never adds an entry. Blocking. */
void mcs__sessions_seen(mcs_session *s);

/* ---- The manager (manager.c) ---- */
struct mcs_manager {
  mcs_manager_config cfg; /* strings below replace the borrowed ones */
  mcs_keyring *keys;      /* owned copy */
  mcs_store *store;       /* borrowed, or owned when own_store */
  bool own_store;
  char *key_prefix;
  size_t key_prefix_len;
  char *cookie_name;
  char *cookie_path;
  char *cookie_domain;
  uint8_t store_key_secret[64]; /* HMAC key for native store keys */
  size_t store_key_secret_len;
  uint8_t csrf_key[32];   /* derived from the key ring */
  mcs__hmac store_key_hmac; /* keyed with store_key_secret */
  mcs__hmac csrf_hmac;      /* keyed with csrf_key */
  uint8_t *session_secret; /* tornado mode: owned copy */
  size_t session_secret_len;
  uint32_t signature_max_age;
  const mcs__scheme *scheme;
  const mcs__codec *codec;
  mcs__limits limits;
  mcs__revcache *revcache; /* users' generations (revoke.c) */
  mcs__revcache *seencache; /* when this process last wrote a session's
                               "last seen" (sessions.c; tag: SipHash-128
                               of its store key, gen unused) */
  mcs__rcache *rcache;     /* decoded records (rcache.c), or NULL */
  mcs__idcache *idcache;   /* verified cookies (idcache.c), or NULL */
  mcs__sealer *sealer;     /* every ring version's sealing key (native
                              mode; NULL in tornado mode) */
  struct {
    _Atomic uint64_t created, loaded, expired, forged, saves, writes_skipped,
        cas_retries, store_errors, corrupt, revoked, revocation_reads,
        retired, revocation_unreadable, tampered;
  } stats;
  mcs__ratelimit log_unreadable_user; /* revoke.c's warning */
  mcs__ratelimit log_tampered;        /* sealing.c's warning */
  mcs__clock clock;   /* cfg.clock */
  mcs__logger logger; /* cfg.log */
};

#define MCS__STAT_INC(mgr, field)                                            \
  atomic_fetch_add_explicit(&(mgr)->stats.field, 1, memory_order_relaxed)

/* A manager's clock and log (util/clock.c, util/log.c). */
#define mcs__now(m) mcs__clock_now(&(m)->clock)
#define mcs__log(m, ...) mcs__logf(&(m)->logger, __VA_ARGS__)
#define mcs__log_burst(m, rl, ...)                                            \
  mcs__logf_burst(&(m)->logger, (rl), mcs__now(m), __VA_ARGS__)


/* ---- Sealed records (sealing.c) ---- */
/* Seals the codec's bytes in body (in place) for session id under its
 * store key, unless the manager writes plain records (tornado mode,
 * seal_records off). MCS_OK, MCS_ENOMEM, MCS_EIO. */
int mcs__record_seal(const mcs_manager *m, const char *id, size_t id_len,
                     const char *key, size_t key_len, mcs__buf *body);
/* The codec's bytes of what the store holds for id under key: *plain is
 * raw itself (a plain record the manager accepts) or scratch's contents
 * (a sealed record, opened). MCS_EBADSIG when it does not open or is
 * plain where only sealed records are accepted (tampering); MCS_ENOMEM. */
int mcs__record_open(const mcs_manager *m, const char *id, size_t id_len,
                     const char *key, size_t key_len, const uint8_t *raw,
                     size_t len, mcs__buf *scratch, const uint8_t **plain,
                     size_t *plain_len);
/* Counts a record that did not open, and logs it once per burst. */
void mcs__record_tampered(mcs_manager *m);

/* ---- Change log (changes.c) ----
 * One entry per key this request touched. Sets and deletes are absolute
 * (re-applied as they are); increments are relative (their summed delta is
 * added to whatever value the store holds when a CAS conflict forces a
 * re-apply). */
typedef enum mcs__change_kind {
  MCS__CHANGE_SET,
  MCS__CHANGE_DELETE,
  MCS__CHANGE_INCR
} mcs__change_kind;

typedef struct mcs__change {
  char *key;
  mcs__change_kind kind;
  json_t *value; /* SET: owned reference */
  int64_t delta; /* INCR */
} mcs__change;

typedef struct mcs__changes {
  mcs__change *items;
  size_t len, cap;
} mcs__changes;

/* Records that `key` now holds `value` (a new reference is taken). */
int mcs__changes_set(mcs__changes *c, const char *key, json_t *value);
int mcs__changes_delete(mcs__changes *c, const char *key);
/* Records an increment; an earlier absolute change of the key absorbs it
 * (the caller passes the key's new value as `now_value`). */
int mcs__changes_incr(mcs__changes *c, const char *key, int64_t delta,
                      json_t *now_value);
/* Applies the log to `data` (a fresher copy of the session's data).
 * MCS_ETYPE when an increment meets a value that is no longer an integer,
 * MCS_ERANGE on overflow, MCS_ENOMEM. */
int mcs__changes_apply(const mcs__changes *c, json_t *data);
void mcs__changes_clear(mcs__changes *c);

/* ---- The session ---- */
struct mcs_session {
  mcs_manager *mgr;
  mcs_outcome outcome;

  char id[MCS__ID_MAX + 1]; /* the id this session goes by */
  size_t id_len;
  char key[MCS_STORE_KEY_MAX + 1]; /* store key of its record */
  size_t key_len;
  /* The id of the validly signed cookie this request presented, if any,
   * even when its record was gone: CSRF tokens bound to it still verify. */
  char presented_id[MCS__ID_MAX + 1];
  size_t presented_len;
  /* mcs__csrf_mac of presented_id, when the scheme handed it over. */
  uint8_t presented_csrf_mac[MCS__HMAC_BYTES];
  bool presented_csrf_known;
  int64_t signed_at; /* timestamp of the presented cookie's signature */

  mcs__record rec;     /* data (always an object), created, rev */
  uint64_t cas;        /* token of the record we read or wrote */
  mcs__changes changes;

  bool stored;      /* a record exists under `key` */
  bool retired;     /* loaded a retired snapshot: read-only, never send
                       a cookie (retire.c, mcs_session_regenerate) */
  bool regenerated; /* regenerate called; old identity below */
  char old_id[MCS__ID_MAX + 1]; /* its record is sealed for it */
  size_t old_id_len;
  char old_key[MCS_STORE_KEY_MAX + 1];
  size_t old_key_len;
  uint64_t old_cas;
  bool destroyed;
  bool csrf_issued;
  bool user_pending; /* set_user called: rec.user is to be written */
  bool list_pending; /* to be (re)listed in its user's list by the next
                        successful save (sessions.c) */
  size_t label_count; /* labels for that entry (allocated when > 0) */
  char (*labels)[MCS_SESSION_LABEL_MAX + 1];
  char *moved_from; /* set_user bound this stored session to another
                       user: the next listing removes its entry from this
                       one's list (allocated; NULL when none) */

  /* Set-Cookie values prepared by save; allocated by the first save that
   * sends a cookie (most requests send none, and without these 2 KiB a
   * session is small enough for malloc's per-thread cache). */
  mcs__cookie_out *cookies;
};

/* MCS_OK when the application may change the session: MCS_ESTATE once
 * destroyed, MCS_ERETIRED for a retired snapshot. */
static inline int mcs__session_writable(const mcs_session *s) {
  if (s->destroyed)
    return MCS_ESTATE;
  return s->retired ? MCS_ERETIRED : MCS_OK;
}

/* ---- What load.c, save.c and retire.c share (session.c) ---- */

/* What a read of a record came to: a record to use, or none (missing,
 * or undecodable: counted as corrupt), or none because what the store
 * holds did not open (counted as tampered). */
typedef enum mcs__fetch_result {
  MCS__FETCH_FOUND,
  MCS__FETCH_GONE,
  MCS__FETCH_TAMPERED
} mcs__fetch_result;

/* Counts and logs a store error. */
void mcs__session_store_error(mcs_session *s, int rc);
/* Which session a record belongs to: its id (what it is sealed for) and
 * store key. Borrowed pointers. */
typedef struct mcs__ident {
  const char *id;
  size_t id_len;
  const char *key;
  size_t key_len;
} mcs__ident;
/* The session's current identity, and (after a regenerate) its old one. */
mcs__ident mcs__session_ident(const mcs_session *s);
mcs__ident mcs__session_old_ident(const mcs_session *s);
/* Opens and decodes what a read of `who`'s record answered (rc, r, the
 * value in v) into rec, through the manager's decoded-record cache. */
int mcs__session_take_record(mcs_session *s, mcs__ident who, int rc,
                             mcs_store_result r, const mcs_store_value *v,
                             mcs__record *rec, mcs__fetch_result *res);
/* Reads (sliding the expiry to touch_ttl, 0: not) and decodes one record. */
int mcs__session_read_record(mcs_session *s, mcs__ident who,
                             uint32_t touch_ttl, mcs__record *rec,
                             uint64_t *cas, mcs__fetch_result *res);
/* s->key for s->id, as the mode's scheme names it. */
int mcs__session_set_key(mcs_session *s);
/* The TTL of a write of the session's record. */
uint32_t mcs__session_write_ttl(const mcs_session *s);
/* The record in the manager's codec into out, sealed for `who`. */
int mcs__session_encode(const mcs_session *s, mcs__ident who,
                        const mcs__record *rec, mcs__buf *out);
/* Passes a store call's rc on, counting it when it is a store error. */
int mcs__session_store_rc(mcs_session *s, int rc);

/* Retires the old record of a regenerated session (s->old_key) once its
 * new record is written, carrying into the new one what other requests
 * wrote to the old one meanwhile (retire.c, for save.c). */
int mcs__retire_old_record(mcs_session *s, mcs__buf *body);

/* ---- Loading and saving in steps (load.c, save.c), for session_async.c ----
 * The blocking functions are these steps run back to back; the event-loop
 * functions run the one store operation between them without blocking and
 * hand whatever needs more store operations (MCS__NEED_IO) to the loop's
 * helper thread. */

/* Positive, internal: this step needs store operations that may block;
 * nothing was changed, call it again with allow_io (off the loop). */
#define MCS__NEED_IO 2

/* An empty buffer for a record as the store returns it, bounded by what
 * the manager could ever have written (with room for a replica header). */
mcs_store_value mcs__record_value(const mcs_manager *m);

/* Checks the arguments, makes a session (*out, owned by the caller) and
 * parses the Cookie header into it. *need_read: its key names the record
 * to read (mg with the idle timeout); otherwise it is settled (NEW or
 * FORGED). On error *out is NULL. */
int mcs__load_begin(mcs_manager *mgr, const char *header, size_t len,
                    mcs_session **out, bool *need_read);
/* Takes the answer of that read (rc, r, the value, its CAS token) and
 * settles the session. *found (an mcs__fetch_result) tells a later
 * mcs__load_settle what the read found. MCS__NEED_IO when settling needs
 * more operations. */
int mcs__load_take(mcs_session *s, int rc, mcs_store_result r,
                   const mcs_store_value *v, uint64_t cas, bool allow_io,
                   int *found);
int mcs__load_settle(mcs_session *s, int found, bool allow_io);
/* The read and the settling, blocking. */
int mcs__load_read(mcs_session *s);

/* Prepares the one write a save needs into *op (op->kind 0: none, the
 * save is complete and the result returned), encoding into body, which
 * must outlive the write. MCS__NEED_IO: take mcs__save_slow instead. */
int mcs__save_begin(mcs_session *s, mcs__buf *body, mcs_store_op *op);
/* Finishes after the store answered op. Blocks (conflict replay, id
 * collision) exactly when mcs__save_written_needs_io(op). */
int mcs__save_written(mcs_session *s, mcs__buf *body, const mcs_store_op *op);
bool mcs__save_written_needs_io(const mcs_store_op *op);
/* The whole save, blocking, after save_begin said MCS__NEED_IO. */
int mcs__save_slow(mcs_session *s, mcs__buf *body);
/* What every save ends with: the change log is cleared on success, the
 * cookies on failure. Returns rc. */
int mcs__save_finish(mcs_session *s, int rc);

#endif /* MCS_SESSION_INT_H */
