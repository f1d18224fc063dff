/*
 * Internal view of a session: its identity, its record and this request's
 * recorded changes. Shared by session.c (life cycle), values.c (typed
 * access), changes.c (the change log) and csrf.c.
 */
#ifndef MCS_SESSION_INTERNAL_H
#define MCS_SESSION_INTERNAL_H

#include <jansson.h>

#include "internal.h"

/* ---- Tagged values (values.c) ----
 * Session data is a jansson object. Two value types JSON lacks are held as
 * one-member objects: {"$bytes": "<base64>"} and {"$int": "<digits>"}. */
#define MCS__TAG_BYTES "$bytes"
#define MCS__TAG_BIGINT "$int"

mcs_type mcs__value_type(const json_t *v);
/* New tagged value; NULL on allocation failure. */
json_t *mcs__bytes_new(const void *data, size_t len);
/* Walks a value: depth within max_depth, tagged forms well formed, no NaN.
 * MCS_OK, MCS_EINVAL, or MCS_ENOMEM (checking a $bytes value allocates). */
int mcs__value_check(const json_t *v, unsigned max_depth);
/* a + b without overflow: MCS_OK or MCS_ERANGE. */
int mcs__int_add_checked(int64_t a, int64_t b, int64_t *sum);
/* Well-formed UTF-8 (RFC 3629), checked without allocating. */
bool mcs__utf8_valid(const char *s, size_t n);
/* A session key: 1..MCS_KEY_MAX bytes of valid UTF-8. */
bool mcs__key_valid(const char *key);
/* json_loadb, with lack of memory told apart from bad input (values.c).
 * On NULL, *rc is MCS_ENOMEM or MCS_ECORRUPT and *code (may be NULL)
 * jansson's error code. */
json_t *mcs__json_loadb(const void *buf, size_t len, size_t flags, int *rc,
                        enum json_error_code *code);
/* True when jansson 2.14's json_loadb, with these flags (JSON_DECODE_ANY,
 * JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES; others: false), must parse the
 * text or fail only for a duplicate key or a number out of range. Never
 * allocates (json_check.c). */
bool mcs__json_valid(const void *buf, size_t len, size_t flags);

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

/* MCS_OK when the application may change the session: MCS_ESTATE once
 * destroyed, MCS_ERETIRED for a retired snapshot (session.c). */
int mcs__session_writable(const mcs_session *s);

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
                       a cookie (session.c, mcs_session_regenerate) */
  bool regenerated; /* regenerate called; old identity below */
  char old_key[MCS_STORE_KEY_MAX + 1];
  size_t old_key_len;
  uint64_t old_cas;
  bool destroyed;
  bool csrf_issued;
  bool user_pending; /* set_user called: rec.user is to be written */

  /* Set-Cookie values prepared by save; allocated by the first save that
   * sends a cookie (most requests send none, and without these 2 KiB a
   * session is small enough for malloc's per-thread cache). */
  mcs__cookie_out *cookies;
};

/* ---- Loading and saving in steps (session.c), for session_async.c ----
 * The blocking functions are these steps run back to back; the event-loop
 * functions run the one store operation between them without blocking and
 * hand whatever needs more store operations (MCS__NEED_IO) to the loop's
 * helper thread. */

/* Positive, internal: this step needs store operations that may block;
 * nothing was changed, call it again with allow_io (off the loop). */
#define MCS__NEED_IO 2

struct mcs__aop;

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
 * settles the session. *found tells a later mcs__load_settle what the
 * read found. MCS__NEED_IO when settling needs more operations. */
int mcs__load_take(mcs_session *s, int rc, mcs_store_result r,
                   const mcs_store_value *v, uint64_t cas, bool allow_io,
                   int *found);
int mcs__load_settle(mcs_session *s, int found, bool allow_io);
/* The read and the settling, blocking. */
int mcs__load_read(mcs_session *s);

/* Prepares the one write a save needs into *op (op->kind 0: none, the
 * save is complete and the result returned), encoding into body, which
 * must outlive the write. MCS__NEED_IO: take mcs__save_slow instead. */
int mcs__save_begin(mcs_session *s, mcs__buf *body, struct mcs__aop *op);
/* Finishes after the store answered op. Blocks (conflict replay, id
 * collision) exactly when mcs__save_written_needs_io(op). */
int mcs__save_written(mcs_session *s, mcs__buf *body,
                      const struct mcs__aop *op);
bool mcs__save_written_needs_io(const struct mcs__aop *op);
/* The whole save, blocking, after save_begin said MCS__NEED_IO. */
int mcs__save_slow(mcs_session *s, mcs__buf *body);
/* What every save ends with: the change log is cleared on success, the
 * cookies on failure. Returns rc. */
int mcs__save_finish(mcs_session *s, int rc);

#endif /* MCS_SESSION_INTERNAL_H */
