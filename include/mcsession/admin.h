/*
 * mcsession: the operator's API — what a program needs to look after the
 * sessions of a running application from outside it (the mcsession tool
 * is one such program): name a session by its cookie or its id, read it
 * without sliding its expiry, set its lifetime, end it; read and revoke a
 * user's revocation state. Part of mcsession.h.
 *
 * Every call takes a manager configured as the application's is — the
 * same mode, key ring (or, in tornado mode, cookie_secret), store-key
 * secret, key prefix and store — so that ids, store keys and user records
 * are named exactly as the application names them. (An application's
 * own manager serves as well.) Its timeouts matter only to
 * mcs_admin_user_revoke with ttl 0; its caches are neither consulted nor
 * filled, except that what is read of a user's revocation record
 * refreshes the revocation cache, as any read of it does.
 *
 * Threads: like mcs_manager_revoke_user, every call may run on any
 * thread while others use the same manager (sessions loading, other
 * admin calls). The calls that reach the store block for at most its
 * timeouts. The manager's counters count only what concerns users'
 * revocation records: their reads (revocation_reads, and
 * revocation_unreadable for one that cannot be read), the store
 * errors of those reads and of revocations (store_errors), and session
 * records that do not open (tampered).
 *
 * A signed value's fields can be read without the key with
 * mcs_signed_inspect (mcsession/signer.h), which proves nothing.
 */
#ifndef MCSESSION_ADMIN_H
#define MCSESSION_ADMIN_H

#include "mcsession/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Naming a session                                                         */
/* ------------------------------------------------------------------------ */

/* The longest session id of any mode: native ids are MCS_ID_LEN (43)
 * base64url characters, tornado ids 64 lowercase hex digits. */
#define MCS_SESSION_ID_MAX 64

/* A session as the store knows it. */
typedef struct mcs_admin_ref {
  char id[MCS_SESSION_ID_MAX + 1]; /* NUL-terminated */
  char key[MCS_STORE_KEY_MAX + 1]; /* its store key, NUL-terminated */
  size_t key_len;
  int64_t signed_at; /* when the cookie was signed (Unix seconds); 0 when
                        a raw id was given */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zeroed by mcs_admin_session_resolve. */
  uint64_t reserved[4];
} mcs_admin_ref;

/* Names the session that `text` (len bytes, no NUL needed) designates:
 * either a raw session id of the manager's mode, or a session cookie's
 * value (a signed value, as it appears in a Cookie header; one pair of
 * double quotes around it is dropped) verified with the manager's key
 * ring under `name` and WITHOUT an age check (an operator may look at an
 * old cookie). `name` NULL means the manager's session cookie: its
 * cookie_name in native mode, "session_id" in tornado mode (whose
 * "verification" cookie is not needed). Fills *out (the id, its store
 * key, the signature's time).
 * Errors: MCS_EBADSIG (a signed value that does not verify: another key,
 * another name, altered), MCS_EINVAL (NULL mgr, text or out; text that is
 * neither a session id of this mode nor a signed value; a value that
 * verifies but carries no session id of this mode). On error *out is
 * zeroed. No I/O, no allocation. */
MCS_EXPORT int mcs_admin_session_resolve(const mcs_manager *mgr,
                                         const char *text, size_t len,
                                         const char *name, mcs_admin_ref *out);

/* The store key of session `id` (NUL-terminated, of the manager's mode),
 * as the application derives it (native: prefix + base64url(HMAC of the
 * id); tornado: the id itself), NUL-terminated into key[0..key_size)
 * (MCS_STORE_KEY_MAX + 1 is always enough); *key_len (may be NULL) gets
 * its length. MCS_EINVAL (NULL arguments, an id not of the mode's shape),
 * MCS_ELIMIT (key_size too small). No I/O, no allocation. */
MCS_EXPORT int mcs_admin_store_key(const mcs_manager *mgr, const char *id,
                                   char *key, size_t key_size, size_t *key_len);

/* ------------------------------------------------------------------------ */
/* Reading, touching and ending a session                                   */
/* ------------------------------------------------------------------------ */

/* A session's record as the store holds it, read-only. Filled by
 * mcs_admin_session_read; released with mcs_admin_view_clear. */
typedef struct mcs_admin_view {
  /* The data as compact JSON text, NUL-terminated: an object, in the
   * value model of mcsession/session.h (bytes as {"$bytes": base64},
   * integers beyond int64 as {"$int": digits}; strings may hold \u0000).
   * OWNED by the view. */
  char *data;
  size_t data_len;
  int64_t created;   /* Unix seconds; 0 in tornado mode (the recipe's
                        records carry no creation time) */
  uint64_t revision; /* incremented by each write; 0 in tornado mode */
  /* Nonzero: a retired snapshot left by a regenerate (read-only for
   * requests presenting the old id, see mcs_session_regenerate) until
   * this Unix time. */
  int64_t retired_until;
  char *user;       /* the user it is bound to, or NULL; OWNED by the view */
  int user_revoked; /* -1: not bound; 0: the binding is current; 1: the
                       user was revoked since (or their record cannot be
                       read): a load would end the session */
  /* Seconds the record has left in the store, MCS_STORE_TTL_NEVER, or
   * MCS_STORE_TTL_UNKNOWN (a store without mcs_store_ops.peek). */
  int64_t ttl;
  /* 1: the record was sealed (mcs_seal_mode) and opened, with the key
   * ring's version seal_key_version. 0: a plain record (tornado mode,
   * seal_records MCS_SEAL_OFF, or one from before sealing, accepted by
   * MCS_SEAL_ACCEPT_PLAIN): whoever can write the store could have
   * written it. */
  int sealed;
  uint32_t seal_key_version;
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zeroed by mcs_admin_session_read. */
  uint64_t reserved[7];
} mcs_admin_view;

/* Reads session `id` WITHOUT sliding its expiry or changing anything
 * else (the store's peek: see mcs_store_ops) and decodes it into *view.
 * A bound session's user is checked against the store now (one more
 * read), whatever the manager's revocation cache holds; a revoked
 * session is reported, not deleted. The record may be up to 1 MiB
 * (MCS_MEMCACHED_ITEM_MAX) whatever the manager's max_data_bytes, since
 * the application that wrote it may allow more. A record past its
 * absolute lifetime is shown as it is (compare `created`).
 * A sealed record (mcs_seal_mode) is opened with the manager's key ring,
 * as a load would; the manager's seal_records decides, as for a load,
 * whether a plain record is accepted.
 * *found: 1 when the store holds the session, else 0 (and MCS_OK).
 * Errors: MCS_EINVAL (NULL arguments, an id not of the mode's shape),
 * MCS_ECORRUPT or MCS_ETOOBIG (the record cannot be decoded; *found is
 * 1), MCS_EBADSIG (the record does not open: altered, moved, sealed under
 * a secret not in this key ring, or plain while seal_records is
 * MCS_SEAL_ON; *found is 1; counted in the manager's `tampered`),
 * MCS_ESTORE / MCS_ETIMEDOUT / MCS_EPROTO (the session's or its
 * user's record could not be read), MCS_ENOMEM. On error, and on a miss,
 * *view holds nothing to release. */
MCS_EXPORT int mcs_admin_session_read(mcs_manager *mgr, const char *id,
                                      mcs_admin_view *view, int *found);

/* The key-ring version a sealed record (mcs_seal_mode) names in its
 * header, for a program that holds one secret and must give its manager
 * that secret at the version the record was sealed with (the mcsession
 * tool). record[0..len) is the record as the store holds it (say, from
 * mcs_store_get). MCS_OK, or MCS_EINVAL (NULL arguments, not a sealed
 * record of a format this library knows). Like mcs_signed_inspect it
 * proves nothing: the version is authenticated only when the record
 * opens. No I/O, no allocation. */
MCS_EXPORT int mcs_sealed_key_version(const void *record, size_t len,
                                      unsigned *version);

/* Releases what *view owns and zeroes it. NULL is fine; so is a view
 * that holds nothing. */
MCS_EXPORT void mcs_admin_view_clear(mcs_admin_view *view);

/* Sets session `id`'s remaining lifetime to `ttl` seconds from now
 * (the memcached store sends a TTL over 30 days as a Unix time, at most
 * 2^32 - 1), without changing its data or its CAS token. Later requests
 * slide it to the application's idle timeout again; the absolute
 * lifetime, counted from its creation, still applies.
 * *found: 1 when the session was there. Errors: MCS_EINVAL (NULL
 * arguments, a bad id, ttl 0), MCS_ESTORE /
 * MCS_ETIMEDOUT / MCS_EPROTO. */
MCS_EXPORT int mcs_admin_session_touch(mcs_manager *mgr, const char *id,
                                       uint32_t ttl, int *found);

/* Deletes session `id`'s record, as a logout would: the next request with
 * its cookie starts a new session, and a request in flight cannot write
 * it back (its save fails with MCS_EGONE). *found: 1 when it was there.
 * Errors: MCS_EINVAL (NULL arguments, a bad id), MCS_ESTORE /
 * MCS_ETIMEDOUT / MCS_EPROTO. */
MCS_EXPORT int mcs_admin_session_destroy(mcs_manager *mgr, const char *id,
                                         int *found);

/* ------------------------------------------------------------------------ */
/* Users (native mode)                                                      */
/* ------------------------------------------------------------------------ */

/* 1 when `uid` is a user id mcs_session_set_user accepts (1 to
 * MCS_USER_ID_MAX bytes of UTF-8 without control characters), else 0
 * (NULL too). Keeps no state. */
MCS_EXPORT int mcs_user_id_valid(const char *uid);

/* How long a user's revocation record must live to end every session a
 * manager with these settings may have bound before it:
 * min(idle_timeout + revocation_check_interval, absolute_timeout) + 60
 * seconds, absolute_timeout 0 meaning none, at most UINT32_MAX. The
 * rule mcs_manager_revoke_user applies to its manager's settings; a
 * shorter-lived record lets the sessions it ended come back when it
 * expires. Keeps no state. */
MCS_EXPORT uint32_t mcs_revocation_ttl(uint32_t idle_timeout,
                                       uint32_t absolute_timeout,
                                       uint32_t revocation_check_interval);

/* A user's revocation record (mcsession/session.h, "Users and per-user
 * revocation"). */
typedef struct mcs_admin_user {
  /* The current generation: sessions bound under another one are
   * revoked. 0: no record (never revoked, or the record expired): every
   * binding is current. In the record (and the tool's output) it is
   * written as 16 lowercase hex digits, "%016" PRIx64. */
  uint64_t generation;
  int64_t written_at; /* Unix seconds the record was written (by a
                         revocation, or by a login that replaced an
                         unreadable record); 0 without one */
  int unreadable;     /* 1: a record is there that this version cannot
                         read (another format version, another writer):
                         it counts as a revocation of every session bound
                         to the user; generation and written_at are 0 */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zeroed by mcs_admin_user_state. */
  uint64_t reserved[4];
} mcs_admin_user;

/* Reads user `uid`'s revocation record now (one store read, whatever the
 * manager's cache holds; the cache is updated). Errors: MCS_EINVAL (NULL
 * arguments, a bad uid, tornado mode), MCS_ESTORE / MCS_ETIMEDOUT /
 * MCS_EPROTO, MCS_ENOMEM. On error *out is zeroed. */
MCS_EXPORT int mcs_admin_user_state(mcs_manager *mgr, const char *uid,
                                    mcs_admin_user *out);

/* Revokes user `uid` as mcs_manager_revoke_user does (a new random
 * generation, one store write: every session bound before ends), with a
 * record that lives `ttl` seconds; 0 means mcs_revocation_ttl of the
 * manager's own settings, which is what mcs_manager_revoke_user uses. A
 * program outside the application should pass the TTL the application's
 * settings call for (mcs_revocation_ttl of its idle_timeout,
 * absolute_timeout and revocation_check_interval) or longer.
 * *generation (may be NULL) gets the new generation.
 * Errors: MCS_EINVAL (NULL mgr, a bad uid, tornado mode), MCS_ESTORE /
 * MCS_ETIMEDOUT / MCS_EPROTO (nothing was revoked, or, after a timeout,
 * perhaps it was: call again), MCS_EIO (no random bytes), MCS_ENOMEM. */
MCS_EXPORT int mcs_admin_user_revoke(mcs_manager *mgr, const char *uid,
                                     uint32_t ttl, uint64_t *generation);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_ADMIN_H */
