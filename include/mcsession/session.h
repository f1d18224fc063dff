/*
 * mcsession: a request's session — load, values, save, regenerate,
 * destroy, the user it is bound to, CSRF tokens. Part of mcsession.h.
 */
#ifndef MCSESSION_SESSION_H
#define MCSESSION_SESSION_H

#include "mcsession/manager.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Sessions                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct mcs_session mcs_session;

typedef enum mcs_outcome {
  MCS_SESSION_NEW = 0, /* no session cookie was presented */
  MCS_SESSION_LOADED,  /* a live session was found */
  MCS_SESSION_EXPIRED, /* the cookie was valid but the session is gone or
                          past its absolute lifetime */
  MCS_SESSION_FORGED,  /* the cookie was invalid (bad signature, name, age,
                          verification) */
  MCS_SESSION_RETIRED  /* the cookie names a session that was regenerated
                          less than forward_ttl seconds ago: a read-only
                          snapshot of its data from before the regenerate,
                          with no user (see mcs_session_regenerate) */
} mcs_outcome;

/* Loads the session named by a request's Cookie header (`cookie_header`
 * may be NULL or empty). One store round trip at most in the common case;
 * the read also slides the idle expiry.
 * On success *out is a session owned by the caller (mcs_session_free).
 * EXPIRED and FORGED give a fresh empty session with a new id.
 * Errors: MCS_ELIMIT (header too large or too many cookies: answer 431),
 * MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO (store unavailable: answer 503;
 * nothing was lost), MCS_ENOMEM. A record that cannot be decoded counts as
 * expired (and in the corrupt counter), never as an error that blocks the
 * user. Thread-safe with respect to the manager. */
MCS_EXPORT int mcs_session_load(mcs_manager *mgr, const char *cookie_header,
                                size_t header_len, mcs_session **out);

/* Frees the session without saving. NULL is fine. */
MCS_EXPORT void mcs_session_free(mcs_session *s);

/* What mcs_session_load found (NEW for a NULL session). */
MCS_EXPORT mcs_outcome mcs_session_outcome(const mcs_session *s);
/* The outcome's name ("LOADED"). Static storage. */
MCS_EXPORT const char *mcs_outcome_name(mcs_outcome outcome);
/* Creation time (Unix seconds) of the session's data; the load time for a
 * fresh session. 0 when the store's format does not record it (tornado). */
MCS_EXPORT int64_t mcs_session_created(const mcs_session *s);
/* True when this request changed the session (it will be written). */
MCS_EXPORT int mcs_session_dirty(const mcs_session *s);

/* Writes the session if this request changed it, then prepares the
 * Set-Cookie values to send (see mcs_session_cookie).
 *   - Nothing changed: no store traffic.
 *   - A new session with no data: not stored; a cookie is only sent when a
 *     CSRF token was issued (so the next request can prove it).
 *   - A new session: created with add; an id collision retries with a new
 *     id.
 *   - A loaded session: compare-and-swap. On conflict the record is read
 *     again and this request's changes are applied on top of it (sets and
 *     deletes replace, incr adds), up to max_cas_retries times
 *     (MCS_ECONFLICT after that).
 *   - A session destroyed or expired meanwhile is never written back:
 *     MCS_EGONE.
 * Other errors: MCS_ETOOBIG (data over max_data_bytes or the store's item
 * limit), MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO, MCS_ENOMEM. After an
 * error nothing was written that loses data; the session may be freed or
 * saved again. After success the session is clean and may be changed and
 * saved again. */
MCS_EXPORT int mcs_session_save(mcs_session *s);

/* The Set-Cookie header values prepared by the last mcs_session_save (or
 * destroy/regenerate followed by save): count and the i-th value.
 * BORROWED, valid until the next save or mcs_session_free. */
MCS_EXPORT size_t mcs_session_cookie_count(const mcs_session *s);
MCS_EXPORT const char *mcs_session_cookie(const mcs_session *s, size_t i);

/* Gives the session a new id (call at login and at every privilege
 * change). Data, user binding and creation time are kept. On save (three
 * store operations: add the new record, read the old one, compare-and-swap
 * it) the data is written under the new id and the old record is RETIRED
 * for forward_ttl seconds (never extended): it keeps its own data as it
 * stood before the regenerate, and nothing else.
 *
 * A request presenting the old cookie during that grace loads the retired
 * snapshot (outcome MCS_SESSION_RETIRED): it can read the old data, is
 * never sent a cookie (so it cannot overwrite the new one in the browser),
 * has no user (mcs_session_user gives NULL: treat it as not logged in),
 * and cannot change anything: setters, mcs_session_set_user,
 * mcs_session_regenerate and mcs_session_destroy give MCS_ERETIRED. So
 * whoever holds the old id (a fixated cookie, say) gains nothing of the
 * new session: not its data, not its id, not the power to write, log out
 * or revoke it. CSRF tokens minted for the old id verify only on requests
 * that present the old id. After the grace the old cookie is EXPIRED.
 *
 * A request with the old cookie that loaded the session before the
 * regenerate and saves after it gets MCS_ERETIRED (its changes were not
 * written); one that saved before the regenerate's save has its changes
 * carried into the new record.
 * Errors: MCS_ESTATE after destroy; MCS_ERETIRED on a retired session;
 * MCS_ENOMEM. */
MCS_EXPORT int mcs_session_regenerate(mcs_session *s);

/* Marks the session destroyed: on save its record is deleted and the
 * cookie expired. Later value changes give MCS_ESTATE. MCS_ERETIRED on a
 * retired session (see mcs_session_regenerate): the old id of a
 * regenerated session cannot end the new one. */
MCS_EXPORT int mcs_session_destroy(mcs_session *s);

/* --- Users and per-user revocation (native mode) ---------------------------
 * "Log this user out everywhere" without an index of sessions: bind each
 * session to its user at login; revoking the user later ends every session
 * bound before, on any server sharing the store.
 *
 * How it works: each user may have one small record in the store holding
 * a random GENERATION (key: prefix + "u:" + base64url(HMAC(store-key
 * secret, label + uid)), so the key does not name the user). Binding records the
 * current generation in the session; revoking writes a new one (one store
 * write); a bound session is valid only while its generation is current.
 *
 * Cost: binding reads the user's record (one round trip, at login).
 * Loading a bound session asks the manager's cache first: no round trip
 * while the entry is younger than revocation_check_interval and matches;
 * otherwise one read (never more than one per load). The load that finds
 * a session revoked also deletes its record (once). Sessions not bound to
 * a user pay nothing.
 *
 * Bound: a revoked session stays usable for at most
 * revocation_check_interval seconds (default 5) after
 * mcs_manager_revoke_user returns, in processes other than the one that
 * revoked (through that manager: at once). 0 makes every load check.
 * A request that loaded the session before that keeps it until it ends.
 *
 * Fails closed: a user's record that is present but cannot be read (not
 * exactly what this version writes: another format version, bad bytes,
 * too long) counts as a revocation, never as "no record"; binding a
 * session to that user (set_user) then writes a fresh generation.
 *
 * Limits: the record lives min(idle_timeout + revocation_check_interval,
 * absolute_timeout) + 60 seconds, which outlives every session it must
 * stop, provided all processes sharing the store use the same or shorter
 * settings (and clocks within a minute of each other). memcached may
 * evict it earlier under memory pressure (as it may evict sessions), which
 * would let the revoked sessions through again: size memcached so it does
 * not evict. Tornado mode cannot bind users (the recipe's records have no
 * room for it).
 *
 * A user id is 1..MCS_USER_ID_MAX bytes of UTF-8 without control
 * characters; it is copied, and stored in the session's record. */
#define MCS_USER_ID_MAX 256

/* Binds the session to user `uid` (call at login, with regenerate): the
 * current generation is read from the store, and the binding is written
 * with the session's next save (a new session holding only a binding is
 * stored too). It survives regenerate and is kept until destroy or
 * another set_user. A user record that is there but unreadable is
 * replaced by a new generation first (one more write: the sessions bound
 * before stay ended). Errors: MCS_EINVAL (bad uid, tornado mode),
 * MCS_ESTATE (after destroy), MCS_ERETIRED (a retired session),
 * MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO (the user's record could not be
 * read or replaced; the session is unchanged), MCS_EIO (no random bytes),
 * MCS_ENOMEM. One request's session: not for concurrent use.
 * Native mode: the save that writes the binding also lists the session
 * in the user's list of sessions (see "A user's sessions" below; that
 * save then fails with the list's errors too, MCS_ECONFLICT included,
 * and sends no cookie). The save of a destroyed bound session (a logout)
 * removes its entry. A stored session bound to another user moves: that
 * save lists it for the new user and removes it from the old user's list
 * (best effort, two more store commands). */
MCS_EXPORT int mcs_session_set_user(mcs_session *s, const char *uid);

/* The user the session is bound to, or NULL (none, destroyed, retired —
 * see mcs_session_regenerate — or NULL s).
 * BORROWED, valid until the next mcs_session_set_user, mcs_session_save
 * (a save that meets a concurrent change re-reads the record) or
 * mcs_session_free. */
MCS_EXPORT const char *mcs_session_user(const mcs_session *s);

/* The longest user name mcs_user_header_safe accepts. */
#define MCS_USER_HEADER_MAX 1024

/* 1 when the `len` bytes at `user` can be passed on as a user name in an
 * HTTP header value and arrive unchanged, else 0 (NULL too): 1 to
 * MCS_USER_HEADER_MAX bytes, no control byte (below 0x20, or 0x7f: CR
 * and LF would split the header, NUL ends it, proxies treat the others
 * variously) and no space at either end (HTTP parsers strip it, so " bob"
 * would arrive as "bob"). Bytes from 0x80 up pass as they are: UTF-8 is
 * not checked, a Tornado application may have stored any string.
 * The rule of the edge checks (mcsession-gate's X-Session-User, the nginx
 * module's $mcsession_user): a name that fails it is refused there, not
 * encoded, as an encoding would give one user two spellings that a
 * backend cannot tell from real names. A user id mcs_session_set_user
 * accepts passes unless it starts or ends with a space.
 * Keeps no state; thread-safe. */
MCS_EXPORT int mcs_user_header_safe(const char *user, size_t len);

/* Ends every session bound to `uid` before this call: writes one record
 * (a new generation) and updates this manager's cache at once; other
 * processes notice within revocation_check_interval. Sessions bound after
 * it are not affected; the user can log in again at once. A revoked
 * session loads as MCS_SESSION_EXPIRED (and in the stats' revoked
 * counter) and its record is deleted.
 * Errors: MCS_EINVAL (NULL manager, bad uid, tornado mode), MCS_ESTORE /
 * MCS_ETIMEDOUT / MCS_EPROTO (nothing was revoked, or, after a timeout,
 * perhaps it was: call again), MCS_EIO (no random bytes), MCS_ENOMEM.
 * Thread-safe; any thread may call it while others load sessions. */
MCS_EXPORT int mcs_manager_revoke_user(mcs_manager *mgr, const char *uid);

/* --- A user's sessions -------------------------------------------------------
 * Native mode only (tornado mode: MCS_EINVAL). A session bound with
 * mcs_session_set_user (or _set_user_labels) is recorded, when the save
 * that writes the binding succeeds, in its user's LIST: one store record
 * per user, sealed like session records (docs/design.md, "A user's
 * sessions"). Each entry has a HANDLE (an opaque string naming the
 * session in the list: a keyed hash of its id, from which neither the id
 * nor a cookie can be made), when the session was created, when it was
 * last seen (updated by a load at most once per last_seen_interval per
 * process) and the labels the application gave at login.
 *
 * The list keeps the MCS_USER_SESSIONS_MAX newest entries (by creation):
 * an older one drops off the list, which does NOT end its session (it
 * lives on, unlisted, until it expires or the user is revoked). Entries
 * of sessions that ended (expired, destroyed, revoked, past their
 * absolute lifetime) are pruned when the list is read by
 * mcs_manager_list_sessions, never on an ordinary load. Logins that race
 * each other all get their entry (compare-and-swap, replayed on
 * conflict). */
#define MCS_USER_SESSIONS_MAX 64
/* Labels per session, and bytes per label (longer ones are cut at a
 * UTF-8 character boundary). */
#define MCS_SESSION_LABELS_MAX 4
#define MCS_SESSION_LABEL_MAX 128
/* A handle's length: 22 characters of base64url (128 bits). */
#define MCS_SESSION_HANDLE_LEN 22

/* set_user with labels (say the User-Agent and the client address, in
 * an order the application chooses): `count` (0..MCS_SESSION_LABELS_MAX)
 * strings of valid UTF-8 without control characters, copied (and cut to
 * MCS_SESSION_LABEL_MAX bytes). They are stored only in the user's
 * sealed list, not in the session. Same errors as mcs_session_set_user,
 * plus MCS_EINVAL for a bad label or count. mcs_session_set_user is this
 * with no labels. */
MCS_EXPORT int mcs_session_set_user_labels(mcs_session *s, const char *uid,
                                           const char *const *labels,
                                           size_t count);

/* The handle this session has (or will have, once bound and saved) in
 * its user's list, into out[0..MCS_SESSION_HANDLE_LEN] (NUL-terminated):
 * the way to mark "this device" in mcs_manager_list_sessions's result.
 * It changes with mcs_session_regenerate (a regenerated bound session is
 * listed again under its new handle at its save). MCS_OK, MCS_EINVAL
 * (NULL argument, tornado mode). One request's session. */
MCS_EXPORT int mcs_session_handle(const mcs_session *s,
                                  char out[MCS_SESSION_HANDLE_LEN + 1]);

/* 1 when `handle` has a handle's shape (MCS_SESSION_HANDLE_LEN characters
 * of base64url, NUL-terminated), else 0 (NULL too): what
 * mcs_manager_end_session and mcs_manager_end_other_sessions check before
 * reading the store, for a program that checks its input first. Says
 * nothing of whether such a session exists. Keeps no state. */
MCS_EXPORT int mcs_session_handle_valid(const char *handle);

/* One entry of a user's list. Plain data, returned in an array the
 * caller owns (see mcs_manager_list_sessions). */
typedef struct mcs_user_session {
  char handle[MCS_SESSION_HANDLE_LEN + 1];
  int64_t created;   /* Unix seconds */
  int64_t last_seen; /* Unix seconds: login, or a load since (at most
                        last_seen_interval old, per process) */
  size_t label_count;
  char labels[MCS_SESSION_LABELS_MAX][MCS_SESSION_LABEL_MAX + 1];
  uint64_t reserved[4]; /* zero: room for later fields */
} mcs_user_session;

/* The live sessions of `uid`, oldest first: *out (OWNED by the caller,
 * free with mcs_free; NULL when *count is 0) holds *count entries.
 * Prunes first: an entry whose session was destroyed or has expired,
 * was revoked (mcs_manager_revoke_user) or is past absolute_timeout is
 * left out and removed from the stored list (one compare-and-swap; if
 * another write wins, the next list prunes it). Cost: one read of the
 * list, one read of the user's revocation state, one read per entry
 * (does its record still exist? reads do not slide its expiry), and the
 * write when something was pruned. A session regenerated in the last
 * forward_ttl seconds may show under its old handle too (its retired
 * snapshot still exists). A list that does not open (tampered, or
 * sealed under a secret no longer in the ring) or cannot be read counts
 * as empty (the next login starts it afresh).
 * Errors: MCS_EINVAL (NULL argument, bad uid, tornado mode), MCS_ESTORE /
 * MCS_ETIMEDOUT / MCS_EPROTO, MCS_ENOMEM; then *out is NULL, *count 0.
 * Thread-safe: any thread, while others use the manager. */
MCS_EXPORT int mcs_manager_list_sessions(mcs_manager *mgr, const char *uid,
                                         mcs_user_session **out,
                                         size_t *count);

/* Ends exactly the session `handle` names in uid's list: its record is
 * deleted (its next load is MCS_SESSION_EXPIRED, its cookie worth
 * nothing) and its entry removed. The user's other sessions are
 * untouched; to end all of them use mcs_manager_revoke_user (one write).
 * MCS_OK, MCS_ENOENT (no such handle in the list: never listed, dropped
 * off, or already ended), MCS_EINVAL (NULL argument, bad uid or handle,
 * tornado mode), MCS_ECONFLICT (the list kept changing under us; the
 * session's record is deleted already: call again to remove the entry),
 * MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO, MCS_ENOMEM.
 * Thread-safe: any thread, while others use the manager. */
MCS_EXPORT int mcs_manager_end_session(mcs_manager *mgr, const char *uid,
                                       const char *handle);

/* "Log out everywhere else": ends every session in uid's list but the
 * one `keep` names (this device: mcs_session_handle), as
 * mcs_manager_end_session would one by one, in one edit of the list: it
 * is read once, each other entry's record deleted, and the list written
 * once holding `keep`'s entry alone. `keep` NULL ends every listed
 * session (mcs_manager_revoke_user also ends the unlisted ones, in one
 * write). The session `keep` names is never ended, listed or not.
 * Sessions that dropped off the list (more than MCS_USER_SESSIONS_MAX)
 * live on: revoke the user to end those. A login that races this call
 * (its entry appears before our write) is ended too when the write is
 * replayed. *ended (may be NULL): how many entries it removed.
 * Cost: 1 + (sessions ended) + 1 store commands, and nothing is written
 * when there was nothing to end.
 * MCS_OK (nothing to end included), MCS_EINVAL (NULL manager, bad uid,
 * malformed keep, tornado mode), MCS_ECONFLICT (the list kept changing
 * under us; the records deleted so far stay deleted: call again),
 * MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO (some records may be deleted
 * already; their entries go at the next list or call), MCS_ENOMEM.
 * Thread-safe: any thread, while others use the manager. */
MCS_EXPORT int mcs_manager_end_other_sessions(mcs_manager *mgr,
                                              const char *uid,
                                              const char *keep,
                                              size_t *ended);

/* --- Values ----------------------------------------------------------------
 * A session maps UTF-8 keys (1..MCS_KEY_MAX bytes, no NUL) to values.
 * Getters return MCS_ENOENT for an absent key and MCS_ETYPE for a value of
 * another type. Borrowed results stay valid until that key is changed or
 * the session is freed. Setters copy their input; MCS_EINVAL for a bad key
 * or a string that is not valid UTF-8; MCS_ESTATE after destroy;
 * MCS_ERETIRED on a retired session (read-only).
 *
 * Nested values travel as JSON text. Two values JSON cannot express are
 * written as one-member objects: bytes as {"$bytes":"<base64>"} (standard
 * alphabet, padded) and integers beyond int64 (from Python) as
 * {"$int":"<decimal digits>"}. An object of exactly that shape read from
 * JSON text is taken to be such a value. */
#define MCS_KEY_MAX 256

typedef enum mcs_type {
  MCS_TYPE_NULL = 0,
  MCS_TYPE_BOOL,
  MCS_TYPE_INT,
  MCS_TYPE_DOUBLE,
  MCS_TYPE_STRING,
  MCS_TYPE_BYTES,
  MCS_TYPE_LIST,
  MCS_TYPE_MAP,
  MCS_TYPE_BIGINT
} mcs_type;

MCS_EXPORT int mcs_session_type(const mcs_session *s, const char *key,
                                mcs_type *type);
MCS_EXPORT int mcs_session_has(const mcs_session *s, const char *key);

MCS_EXPORT int mcs_session_get_str(const mcs_session *s, const char *key,
                                   const char **value, size_t *len);
MCS_EXPORT int mcs_session_get_int(const mcs_session *s, const char *key,
                                   int64_t *value);
MCS_EXPORT int mcs_session_get_double(const mcs_session *s, const char *key,
                                      double *value);
MCS_EXPORT int mcs_session_get_bool(const mcs_session *s, const char *key,
                                    int *value);
/* *value is OWNED by the caller (mcs_free). */
MCS_EXPORT int mcs_session_get_bytes(const mcs_session *s, const char *key,
                                     void **value, size_t *len);
/* The value as compact JSON text, OWNED by the caller (mcs_free),
 * NUL-terminated; *len may be NULL. Works for every type. */
MCS_EXPORT int mcs_session_get_json(const mcs_session *s, const char *key,
                                    char **json, size_t *len);

MCS_EXPORT int mcs_session_set_str(mcs_session *s, const char *key,
                                   const char *value, size_t len);
MCS_EXPORT int mcs_session_set_int(mcs_session *s, const char *key,
                                   int64_t value);
/* MCS_EINVAL for NaN and infinities (JSON cannot hold them). */
MCS_EXPORT int mcs_session_set_double(mcs_session *s, const char *key,
                                      double value);
MCS_EXPORT int mcs_session_set_bool(mcs_session *s, const char *key,
                                    int value);
MCS_EXPORT int mcs_session_set_bytes(mcs_session *s, const char *key,
                                     const void *value, size_t len);
MCS_EXPORT int mcs_session_set_null(mcs_session *s, const char *key);
/* Parses JSON text (any JSON value; depth at most MCS_JSON_DEPTH_MAX) and
 * stores it. MCS_EINVAL for invalid JSON. */
#define MCS_JSON_DEPTH_MAX 32
MCS_EXPORT int mcs_session_set_json(mcs_session *s, const char *key,
                                    const char *json, size_t len);
/* Removes a key: MCS_OK, or MCS_ENOENT if it was absent. */
MCS_EXPORT int mcs_session_delete(mcs_session *s, const char *key);
/* Adds `delta` to an integer value (an absent key counts as 0) and writes
 * the sum to *result (may be NULL). On a CAS conflict at save the delta is
 * re-applied to the newer value, so concurrent increments are never lost.
 * MCS_ETYPE if the value is not an integer, MCS_ERANGE on overflow. */
MCS_EXPORT int mcs_session_incr(mcs_session *s, const char *key,
                                int64_t delta, int64_t *result);

/* Number of keys (0 for NULL). */
MCS_EXPORT size_t mcs_session_count(const mcs_session *s);
/* Iterates keys: start with *iter = NULL; each call returns the next key
 * (BORROWED, valid until the session changes) or NULL at the end. */
MCS_EXPORT const char *mcs_session_next_key(const mcs_session *s,
                                            void **iter);

/* ------------------------------------------------------------------------ */
/* CSRF tokens                                                              */
/* ------------------------------------------------------------------------ */

/* Length of a token, NUL excluded. */
#define MCS_CSRF_TOKEN_LEN 86

/* Writes a CSRF token bound to this session into out (at least
 * MCS_CSRF_TOKEN_LEN + 1 bytes), NUL-terminated. Tokens are masked with
 * fresh random bytes each time (so a page's token reveals nothing across
 * responses, defeating BREACH-style compression attacks) and made of
 * base64url characters, safe in HTML attributes and form bodies.
 * Issuing a token on a new session makes the next save send its cookie.
 * MCS_ELIMIT if out_size is too small, MCS_ESTATE after destroy. */
MCS_EXPORT int mcs_csrf_token(mcs_session *s, char *out, size_t out_size);

/* Checks a token from a form or header, in constant time. A token is
 * accepted when it was issued for this session or for the validly signed
 * cookie this request presented (so a form shown before the session was
 * stored still verifies). MCS_OK or MCS_EBADSIG. */
MCS_NODISCARD MCS_EXPORT int mcs_csrf_verify(const mcs_session *s,
                                             const char *token, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_SESSION_H */
