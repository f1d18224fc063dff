/*
 * Internal declarations shared by the library's source files. Nothing here
 * is exported; symbols are prefixed mcs__.
 */
#ifndef MCS_INTERNAL_H
#define MCS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "mcsession.h"

/* ---- Allocation (alloc.c): every allocation goes through the hook. ---- */
void *mcs__malloc(size_t size);
void *mcs__calloc(size_t n, size_t size);
void *mcs__realloc(void *ptr, size_t size);
void mcs__free(void *ptr);
/* Copies of a buffer / string; NULL on allocation failure. */
void *mcs__memdup(const void *data, size_t len);
char *mcs__strndup(const char *s, size_t len);
char *mcs__strdup(const char *s);

/* ---- Growable byte buffer (buf.c). ---- */
typedef struct mcs__buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} mcs__buf;

#define MCS__BUF_INIT {NULL, 0, 0}
/* Makes room for `extra` more bytes. MCS_OK or MCS_ENOMEM. */
int mcs__buf_reserve(mcs__buf *b, size_t extra);
int mcs__buf_append(mcs__buf *b, const void *data, size_t len);
/* Appends a NUL-terminated string (without the NUL). */
int mcs__buf_append_str(mcs__buf *b, const char *s);
void mcs__buf_reset(mcs__buf *b); /* len = 0, keeps the memory */
void mcs__buf_free(mcs__buf *b);  /* frees and zeroes */

/* What a store's get writes into (see mcs_store_value_set). */
struct mcs_store_value {
  mcs__buf buf;
  size_t max_len;
};

/* ---- Store wrapper (store.c). ---- */
struct mcs_store {
  mcs_store_ops ops;
  void *ud;
};
/* True when `key` can go to a store: 1..MCS_STORE_KEY_MAX bytes, none of
 * them a space, a control byte or DEL. */
bool mcs__store_key_valid(const char *key, size_t len);
/* True when `store` is the memory store (store_memory.c). */
bool mcs__store_is_memory(const mcs_store *store);

/* True when s[0..n) is exactly `want` lowercase hex digits (Python's
 * hexdigest(); one spelling per value) — signer.c. */
bool mcs__lower_hex(const char *s, size_t n, size_t want);

/* ---- Randomness and ids (random.c). ---- */
/* sodium_init once; MCS_OK or MCS_EIO. Cheap after the first call. */
int mcs__sodium_ready(void);

/* ---- Base64 helpers over libsodium (b64.c). ---- */
/* Encoded length (without NUL) of n bytes, standard padded alphabet. */
size_t mcs__b64_len(size_t n);
/* Standard alphabet with padding (Python's base64.b64encode). `out` must
 * hold mcs__b64_len(n) + 1 bytes. Returns the length written. */
size_t mcs__b64_encode(const void *in, size_t n, char *out);
/* URL-safe alphabet without padding. `out` must hold
 * mcs__b64url_len(n) + 1 bytes. */
size_t mcs__b64url_len(size_t n);
size_t mcs__b64url_encode(const void *in, size_t n, char *out);
/* True when `in` has the shape of standard padded base64 (alphabet, whole
 * groups, at most two final '='); says nothing of trailing bits. */
bool mcs__b64_shape_ok(const char *in, size_t n);
/* Strict decode of the standard padded alphabet (no whitespace, correct
 * padding, canonical trailing bits). MCS_OK, MCS_EINVAL, or MCS_ELIMIT
 * when out_size is too small. */
int mcs__b64_decode(const char *in, size_t n, void *out, size_t out_size,
                    size_t *out_len);

/* ---- Time (manager.c). ---- */
int64_t mcs__now(const mcs_manager *mgr);

/* ---- HMAC-SHA256 with a precomputed key (hmac.c) ---- */
#define MCS__HMAC_BYTES crypto_auth_hmacsha256_BYTES
typedef struct mcs__hmac {
  crypto_auth_hmacsha256_state state; /* after init with the key */
} mcs__hmac;
void mcs__hmac_key(mcs__hmac *h, const void *key, size_t len);
void mcs__hmac_mac(const mcs__hmac *h, const void *msg, size_t len,
               uint8_t mac[MCS__HMAC_BYTES]);
void mcs__hmac_wipe(mcs__hmac *h);
/* Whether a and b (len bytes each; len is public, the contents secret) are
 * equal, in time that depends on len only (hmac.c). */
bool mcs__equal_ct(const void *a, const void *b, size_t len);

/* ---- Keyring internals (keyring.c) ---- */
/* The keyed HMAC state of a version; NULL if absent. Borrowed. */
const mcs__hmac *mcs__keyring_hmac(const mcs_keyring *ring, unsigned version);
/* Looks up the secret for a version; NULL if absent. Borrowed. */
const uint8_t *mcs__keyring_secret(const mcs_keyring *ring, unsigned version,
                                   size_t *len);
/* The secret of the lowest version (for store-key derivation). */
const uint8_t *mcs__keyring_oldest(const mcs_keyring *ring, size_t *len);
/* Deep copy. */
int mcs__keyring_clone(const mcs_keyring *ring, mcs_keyring **out);
/* The signer's age rule: true when a signature made at `timestamp` is
 * older than max_age_s at `now` (max_age_s < 0: never). */
bool mcs__signature_too_old(int64_t timestamp, int64_t now,
                            int64_t max_age_s);
/* mcs_verify that also reports the signature's timestamp (signer.c). */
int mcs__verify_at(const mcs_keyring *ring, const char *name,
                   const char *signed_value, size_t signed_len, int64_t now,
                   int64_t max_age_s, void *value_out, size_t value_size,
                   size_t *value_len, int64_t *timestamp);

/* The fields of a v2 signed value, as mcs__signed_parse found them. The
 * pointers are BORROWED from the parsed input. */
typedef struct mcs__signed_parts {
  unsigned key_version;
  int64_t timestamp;
  const char *name;      /* not NUL-terminated */
  size_t name_len;
  const char *b64;       /* the base64 field, not yet decoded */
  size_t b64_len;
  const char *signature; /* 64 lowercase hex digits */
  size_t signed_len;     /* bytes covered by the HMAC (through the last |) */
} mcs__signed_parts;

/* Checks only the structure of a signed value (signer.c): the same strict
 * rules as mcs_verify, but no key, no HMAC, no name or age check, and the
 * base64 field's alphabet and padding but not its decoding. For callers that must pick a key before verifying (the tool)
 * and for diagnostics; a success here proves nothing about authenticity.
 * MCS_OK or MCS_EBADSIG. Never allocates. */
int mcs__signed_parse(const char *in, size_t len, mcs__signed_parts *out);

/* ---- Session data and records ---- */

/* A decoded store record. `data` is a JSON object (jansson) whose values
 * use the tagged forms for bytes and big integers (values.c). */
#define MCS__USER_TAG_BYTES 32 /* crypto_auth_hmacsha256_BYTES */

typedef struct mcs__record {
  struct json_t *data;  /* owned reference, never NULL after decode */
  int64_t created;      /* Unix seconds; 0 if the format has none */
  uint64_t rev;         /* revision, incremented on each write */
  /* Nonzero: a retired snapshot left by a regenerate (session.c), void
   * after this Unix time. Its data is the session's data from before the
   * regenerate; it has no user. */
  int64_t retired_until;
  char *user;           /* user the session is bound to (revoke.c), or NULL */
  uint64_t user_gen;    /* that user's generation when it was bound */
  /* HMAC of `user` under the manager's store-key secret (revoke.c), worked
   * out once per decoded record and kept with it in the decoded-record
   * cache: a load whose record that cache holds needs no HMAC for it. */
  bool user_tag_set;
  uint8_t user_tag[MCS__USER_TAG_BYTES];
} mcs__record;

void mcs__record_clear(mcs__record *rec);

/* ---- Decoded-record cache (rcache.c) ----
 * Thread-safe; a hit needs the raw bytes to be equal to the cached ones.
 * mcs__rcache_new with 0 entries gives NULL (disabled); every function
 * accepts NULL. */
typedef struct mcs__rcache mcs__rcache;
int mcs__rcache_new(size_t entries, mcs__rcache **out);
void mcs__rcache_free(mcs__rcache *c);
/* On a hit (*hit) fills rec with a private top-level copy of the data. */
int mcs__rcache_get(mcs__rcache *c, const char *key, size_t key_len,
                    const uint8_t *raw, size_t len, mcs__record *rec,
                    bool *hit);
/* Remembers what raw decoded to (best effort: never fails). */
void mcs__rcache_put(mcs__rcache *c, const char *key, size_t key_len,
                     const uint8_t *raw, size_t len, const mcs__record *rec);

typedef struct mcs__limits {
  size_t max_bytes;   /* encoded size */
  unsigned max_depth; /* nesting */
} mcs__limits;

/* How records become bytes and back. decode treats its input as hostile:
 * MCS_ECORRUPT for anything malformed, MCS_ETOOBIG above limits, never a
 * crash. encode gives MCS_ETOOBIG above limits->max_bytes. */
typedef struct mcs__codec {
  const char *name;
  uint32_t flags; /* client flags stored with the record */
  /* decode(encode(rec)) gives back every field of rec (created, rev,
   * user): only then may a save seed the decoded-record cache. */
  bool keeps_record;
  int (*decode)(const uint8_t *buf, size_t len, const mcs__limits *limits,
                mcs__record *out);
  int (*encode)(const mcs__record *rec, const mcs__limits *limits,
                mcs__buf *out);
} mcs__codec;

extern const mcs__codec mcs__codec_json;    /* codec_json.c */
extern const mcs__codec mcs__codec_tornado; /* codec_tornado.c (pickle) */

/* Largest session id any scheme uses (tornado: 64 hex digits). */
#define MCS__ID_MAX 64

/* ---- Verified-cookie cache (idcache.c), native mode ----
 * Thread-safe; a hit needs the cookie value to be equal (constant-time
 * compare) to one that verified. mcs__idcache_new with 0 entries gives
 * NULL (disabled); every function accepts NULL. */
typedef struct mcs__idcache mcs__idcache;
typedef struct mcs__idcache_entry {
  char id[MCS__ID_MAX + 1];
  size_t id_len;
  int64_t signed_at; /* the signature's timestamp */
  char key[MCS_STORE_KEY_MAX + 1]; /* the id's store key */
  size_t key_len;
  uint8_t csrf_mac[MCS__HMAC_BYTES]; /* the id's CSRF MAC (csrf.c) */
} mcs__idcache_entry;
int mcs__idcache_new(size_t entries, mcs__idcache **out);
void mcs__idcache_free(mcs__idcache *c);
/* True, with *out, when `value` verified before (its age is the caller's
 * to check). */
bool mcs__idcache_get(mcs__idcache *c, const char *value, size_t len,
                      mcs__idcache_entry *out);
/* Remembers a value that verified (best effort: never fails). */
void mcs__idcache_put(mcs__idcache *c, const char *value, size_t len,
                      const mcs__idcache_entry *e);
/* Forgets `value` (a cookie that aged out). */
void mcs__idcache_drop(mcs__idcache *c, const char *value, size_t len);

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

/* ---- Per-user revocation (revoke.c, revcache.c) ---- */
/* Bytes of a user's HMAC that name it in the manager's cache. */
#define MCS__USER_TAG_LEN 16
typedef struct mcs__revcache mcs__revcache;
int mcs__revcache_new(size_t entries, mcs__revcache **out);
void mcs__revcache_free(mcs__revcache *c); /* NULL is fine */
/* True, with *gen, when the cache holds the user (tag) and read it less
 * than `interval` seconds before `now`. Always false for interval 0. */
bool mcs__revcache_get(mcs__revcache *c, const uint8_t *tag, int64_t now,
                       uint32_t interval, uint64_t *gen);
/* A stamp to take before reading the store, for mcs__revcache_put: an
 * entry written after it is newer than that read and is kept. */
uint64_t mcs__revcache_stamp(mcs__revcache *c);
void mcs__revcache_put(mcs__revcache *c, const uint8_t *tag, uint64_t gen,
                       int64_t now, uint64_t stamp);
/* Drops the user's entry unless it was written after `stamp` (a read
 * that found the user's record unreadable: nothing may vouch for it). */
void mcs__revcache_forget(mcs__revcache *c, const uint8_t *tag, uint64_t stamp);

/* A user id: 1..MCS_USER_ID_MAX bytes of UTF-8 without control bytes. */
bool mcs__user_id_valid(const char *uid);
/* A generation as 16 lowercase hex digits / back (0 is refused). */
void mcs__gen_format(uint64_t gen, char out[17]);
bool mcs__gen_parse(const char *s, size_t n, uint64_t *gen);
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
/* How long a user's revocation record must live to govern every session
 * of a manager with these timeouts (the rule is explained in revoke.c):
 * min(idle_timeout + revocation_check_interval, absolute_timeout) + 60,
 * absolute_timeout 0 meaning none; at most UINT32_MAX. */
uint32_t mcs__revoke_ttl_for(uint32_t idle_timeout, uint32_t absolute_timeout,
                             uint32_t revocation_check_interval);
/* The record TTL mcs_manager_revoke_user uses: the rule above applied to
 * the manager's own timeouts. */
uint32_t mcs__revoke_ttl(const mcs_manager *m);
/* Replaces rec's binding with (a copy of) uid and gen; uid NULL unbinds. */
int mcs__record_set_user(mcs__record *rec, const char *uid, uint64_t gen);

/* ---- Manager (manager.c) ---- */

/* At most one log message per period for one kind of event, so a burst
 * (every load of a user whose record is bad, say) logs once, and the next
 * message says how many were left out. Lock-free and thread-safe; zeroed
 * memory is a ready limiter. Lives in whatever owns the event (the
 * manager), never in global state. */
typedef struct mcs__ratelimit {
  _Atomic int64_t next;        /* manager clock: when the next may go out */
  _Atomic uint64_t suppressed; /* messages left out since the last one */
} mcs__ratelimit;
/* Seconds between two messages of one kind (mcs__log_burst). */
#define MCS__LOG_BURST_S 60
/* True when a message may go out at `now` (then *suppressed gets how many
 * were left out since the previous one); false when one went out less
 * than `period` seconds ago. A clock stepped back to before the last
 * message does not silence the limiter until it catches up. */
bool mcs__ratelimit_pass(mcs__ratelimit *rl, int64_t now, uint32_t period,
                         uint64_t *suppressed);

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
  mcs__rcache *rcache;     /* decoded records (rcache.c), or NULL */
  mcs__idcache *idcache;   /* verified cookies (idcache.c), or NULL */
  struct {
    _Atomic uint64_t created, loaded, expired, forged, saves, writes_skipped,
        cas_retries, store_errors, corrupt, revoked, revocation_reads,
        retired, revocation_unreadable;
  } stats;
  mcs__ratelimit log_unreadable_user; /* revoke.c's warning */
};

#define MCS__STAT_INC(mgr, field)                                            \
  atomic_fetch_add_explicit(&(mgr)->stats.field, 1, memory_order_relaxed)

void mcs__log(const mcs_manager *mgr, mcs_log_level level, const char *fmt,
              ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* mcs__log, at most once per MCS__LOG_BURST_S seconds for `rl` (one
 * limiter per kind of message); a message after left-out ones ends with
 * how many. */
void mcs__log_burst(mcs_manager *mgr, mcs__ratelimit *rl, mcs_log_level level,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif /* MCS_INTERNAL_H */
