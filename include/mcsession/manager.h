/*
 * mcsession: the session manager — one per application, shared by every
 * thread — its configuration, counters, and per-user revocation. Part of
 * mcsession.h.
 */
#ifndef MCSESSION_MANAGER_H
#define MCSESSION_MANAGER_H

#include "mcsession/cookie.h"
#include "mcsession/signer.h"
#include "mcsession/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Manager                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum mcs_mode {
  MCS_MODE_NATIVE = 0,  /* one signed cookie, JSON records, hashed keys */
  MCS_MODE_TORNADO      /* byte-compatible with the Tornado recipe */
} mcs_mode;

/* How native-mode records are kept in the store (docs/security.md,
 * "Sealed records"). Sealed: encrypted and authenticated (XChaCha20-
 * Poly1305) under a key derived from the key ring's newest secret and the
 * session's id, bound to its store key: a reader of the store learns
 * nothing of the data, a writer can plant nothing, and a record moved to
 * another key does not open. A record that does not open (or, with
 * MCS_SEAL_ON, a plain one) loads as MCS_SESSION_FORGED with a fresh id
 * and counts in mcs_manager_stats.tampered. Tornado mode never seals (its
 * records are the recipe's) and ignores the setting. */
typedef enum mcs_seal_mode {
  MCS_SEAL_ON = 0,       /* default: seal every write, open only sealed
                            records */
  MCS_SEAL_ACCEPT_PLAIN, /* seal every write, accept plain records too:
                            for migrating a deployment whose records are
                            plain (each is sealed at its next changed
                            save); back to MCS_SEAL_ON once the plain
                            ones have expired (absolute_timeout) */
  MCS_SEAL_OFF           /* write plain JSON, accept plain and sealed
                            records (so turning sealing off logs nobody
                            out) */
} mcs_seal_mode;

typedef struct mcs_manager_config {
  mcs_mode mode;             /* default MCS_MODE_NATIVE */
  /* Required. Copied by mcs_manager_new. */
  const mcs_keyring *keys;
  /* Secret for deriving store keys from session ids (native mode):
   * key = prefix + base64url(HMAC-SHA256(secret, id)). NULL: the secret of
   * the key ring's LOWEST version, so keep that version in the ring when
   * rotating, or set this explicitly. Copied. */
  const void *store_key_secret;
  size_t store_key_secret_len;
  /* BORROWED for the manager's lifetime. NULL: the manager creates and
   * owns a memory store with default settings. */
  mcs_store *store;
  /* Tornado mode only, required there: the recipe's session_secret, from
   * which ids and verification cookies are derived. Copied. (The key ring
   * holds the recipe's cookie_secret.) */
  const void *session_secret;
  size_t session_secret_len;
  const char *key_prefix;    /* prepended to store keys (native mode);
                                default NULL: the store's default
                                (mcs_store_key_prefix: the memcached
                                store's URL `prefix`, itself "mcs:" by
                                default) when it has one, else "mcs:" */
  uint32_t idle_timeout;     /* seconds; default 1800 */
  uint32_t absolute_timeout; /* seconds since creation; 0 disables;
                                default 86400; native mode only (the
                                recipe's records carry no creation time) */
  /* Maximum age of a cookie's signature, seconds. Default 0: the absolute
   * timeout, or 31 days when that is disabled (Tornado's default). */
  uint32_t signature_max_age;
  const char *cookie_name;   /* default "session"; tornado mode always
                                uses "session_id" and "verification" */
  mcs_cookie_attrs cookie;   /* defaults from mcs_cookie_attrs_init */
  size_t max_data_bytes;     /* encoded session size limit; default 65536 */
  unsigned max_cas_retries;  /* default 8 */
  uint32_t forward_ttl;      /* seconds the old id of a regenerated
                                session stays readable as a retired,
                                read-only snapshot; default 10 (the name
                                is historical: nothing forwards) */
  /* Optional log callback; called from the thread doing the work. */
  void (*log)(void *log_ud, mcs_log_level level, const char *message);
  void *log_ud;
  /* Optional clock in Unix seconds (tests). NULL: time(). */
  int64_t (*clock)(void *clock_ud);
  void *clock_ud;
  /* Per-user revocation (mcs_manager_revoke_user). How long, in seconds,
   * this manager trusts what it last read of a user's revocation state:
   * a session revoked elsewhere stays usable here for at most this long.
   * Default 5; 0: read it on every load of a session bound to a user
   * (immediate, one extra round trip on each such load). */
  uint32_t revocation_check_interval;
  /* Users whose revocation state is cached (the cache is bounded by it;
   * about 40 bytes each); 16..1048576, default 4096. A user pushed out
   * costs one read on their next load. */
  size_t revocation_cache_entries;
  /* Decoded records this manager remembers, so a load whose record has
   * not changed since skips decoding it (a hit needs the stored bytes to
   * be identical). Records over 4 KiB are not kept. 0 disables; at most
   * 65536; default 1024 (about 1.5 KiB each for a 300-byte record).
   * Rounded up to a power of two; four-way set-associative. */
  size_t decode_cache_entries;
  /* Session cookies this manager remembers having verified (native mode),
   * so a browser's next request with the same cookie skips the signature
   * check, the store-key derivation and the CSRF MAC of its id (three
   * HMACs, about 3 us); a hit
   * needs the cookie value to be byte-for-byte equal (compared in
   * constant time) and the signature's age is checked again every time.
   * About 600 bytes each. 0 disables; at most 65536; default 1024.
   * Rounded up to a power of two; four-way set-associative. */
  size_t cookie_cache_entries;
  /* Sealed records (native mode), see mcs_seal_mode; default
   * MCS_SEAL_ON. Sealing uses every version in the key ring: the newest
   * seals, the others still open what they sealed (docs/security.md,
   * "Rotating secrets"). */
  mcs_seal_mode seal_records;
  /* A user's sessions (mcs_manager_list_sessions): how often, in
   * seconds, a load of a bound session updates its "last seen" time in
   * the user's list. A load in between costs no store command for it;
   * one that finds the interval passed (as this process last wrote it)
   * costs a read and a compare-and-swap of the list. 0 means the
   * default, 300; at most 86400. */
  uint32_t last_seen_interval;
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[15];
} mcs_manager_config;

typedef struct mcs_manager mcs_manager;

/* Fills the defaults (docs/configuration.md). NULL is ignored. */
MCS_EXPORT void mcs_manager_config_init(mcs_manager_config *cfg);
/* Validates and copies the config: strings, secrets and the key ring are
 * copied (the caller may free them afterwards); `store` is BORROWED and
 * must outlive the manager. The new manager may be shared by every thread
 * at once. MCS_EINVAL names no detail through the code; the log callback
 * (if any) gets a message saying what is wrong. Also MCS_ENOMEM, MCS_EIO
 * (libsodium could not be initialised). */
MCS_EXPORT int mcs_manager_new(mcs_manager **out,
                               const mcs_manager_config *cfg);
/* Frees the manager (and the memory store it created, if any). Every
 * session made by it must be freed first. NULL is fine. */
MCS_EXPORT void mcs_manager_free(mcs_manager *mgr);

/* Counters, updated atomically; read them for metrics, from any thread at
 * any time (each counter is exact; they are not a consistent snapshot of
 * one another). A NULL manager gives zeros; NULL stats is ignored. */
typedef struct mcs_manager_stats {
  uint64_t created;     /* sessions written for the first time */
  uint64_t loaded;      /* loads that found a live session */
  uint64_t expired;     /* loads with a valid cookie but no live record */
  uint64_t forged;      /* loads with an invalid cookie */
  uint64_t saves;       /* successful mcs_session_save calls */
  uint64_t writes_skipped; /* saves that had nothing to write */
  uint64_t cas_retries; /* CAS conflicts resolved by re-applying changes */
  uint64_t store_errors; /* store operations that failed */
  uint64_t corrupt;     /* session records that could not be decoded (a
                           user's revocation record that cannot be read
                           counts in revocation_unreadable instead) */
  uint64_t revoked;     /* loads refused because the session's user was
                           revoked (also counted in expired) */
  uint64_t revocation_reads; /* store reads of users' revocation state */
  uint64_t retired;     /* loads that found a retired snapshot (a cookie
                           from before a regenerate, within its grace) */
  uint64_t revocation_unreadable; /* reads that found a user's revocation
                           record present but unreadable (not of the
                           writer's exact shape, an unknown version, too
                           long): treated as a revocation, so the sessions
                           bound to that user end (also in revoked) and
                           the next login writes a fresh record. Nonzero
                           means something else writes these keys, or a
                           newer version of the library does (a rolling
                           upgrade); the log says so once a minute */
  uint64_t tampered; /* loads (and admin reads) that found a record that
                        does not open: altered, truncated, copied from
                        another session's key, sealed under a secret no
                        longer in the ring, or plain while seal_records is
                        MCS_SEAL_ON. Loads settle as FORGED (also counted
                        in forged); the log says so once a minute */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[15];
} mcs_manager_stats;
MCS_EXPORT void mcs_manager_stats_get(const mcs_manager *mgr,
                                      mcs_manager_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_MANAGER_H */
