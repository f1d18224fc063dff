/*
 * mcsession — server-side HTTP sessions for C web services.
 *
 * A signed cookie names the session; the session's data lives in a store
 * (the embedded memory store by default, memcached in deployments); the
 * idle timeout slides with every visit.
 *
 * Conventions used throughout this header:
 *
 *   - Every function that can fail returns an int: 0 (MCS_OK) on success or
 *     a negative MCS_E* code. mcs_strerror() names it. Outcomes that are not
 *     failures (a cache miss, a CAS conflict) are reported through separate
 *     out-parameters, never mixed into the error codes.
 *   - Constructors have the form `int mcs_x_new(mcs_x **out, ...)`: on
 *     success *out holds a new object, on failure *out is set to NULL and
 *     nothing is left allocated. `mcs_x_free(NULL)` does nothing.
 *   - Input strings and buffers are copied; the caller keeps ownership of
 *     what it passes in. A returned pointer is either BORROWED (valid until
 *     the event named in its comment) or OWNED by the caller, who releases
 *     it with mcs_free().
 *   - Thread-safety: a manager, a key ring and a store are shared by all
 *     threads (the manager and key ring are immutable once created, stores
 *     lock internally). A session belongs to one request and one thread at
 *     a time.
 *     Functions that take no such object (mcs_version, mcs_strerror,
 *     mcs_sign / mcs_verify on a built ring, the mcs_cookie_* functions,
 *     mcs_random_bytes, mcs_memcached_url_parse, ...) keep no state and
 *     may be called from any thread. Functions that take a session may be
 *     called only by the thread that currently owns it.
 *   - Functions that cannot fail return no code; they treat NULL objects
 *     as empty (a getter on NULL returns 0 or NULL).
 *   - The library keeps no global mutable state except the allocator hook
 *     (mcs_replace_allocator), never prints, and never aborts.
 */
#ifndef MCSESSION_H
#define MCSESSION_H

#include <stddef.h>
#include <stdint.h>

#include "mcsession/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define MCS_VERSION_MAJOR 0
#define MCS_VERSION_MINOR 1
#define MCS_VERSION_PATCH 0
#define MCS_VERSION_STRING "0.1.0"

/* The library's version as 0xMMmmpp, for comparing the headers you built
 * against with the library you run against. */
MCS_EXPORT unsigned mcs_version(void);
/* The same as a string ("0.1.0"). Static storage. */
MCS_EXPORT const char *mcs_version_string(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* One list generates the codes and their messages (mcs_strerror), so the
 * two never drift apart. X(name, value, message). */
#define MCS_ERRNO_MAP(X)                                                      \
  X(EINVAL, -1, "invalid argument")                                           \
  X(ENOMEM, -2, "out of memory")                                              \
  X(EBADSIG, -3, "signed value is invalid, tampered with or too old")         \
  X(ELIMIT, -4, "input exceeds a configured limit")                           \
  X(ETOOBIG, -5, "session data exceeds the size limit")                       \
  X(ECORRUPT, -6, "stored session record is corrupt")                         \
  X(ESTORE, -7, "session store unavailable")                                  \
  X(ETIMEDOUT, -8, "session store timed out")                                 \
  X(ECONFLICT, -9, "too many concurrent updates to the session")              \
  X(EGONE, -10, "session was destroyed or expired during the request")        \
  X(ENOENT, -11, "no such key in the session")                                \
  X(ETYPE, -12, "session value has a different type")                         \
  X(ERANGE, -13, "integer overflow")                                          \
  X(ESTATE, -14, "operation not allowed in the session's current state")      \
  X(EPROTO, -15, "protocol error talking to the store")                       \
  X(EIO, -16, "input/output error")                                           \
  X(ERETIRED, -17,                                                            \
    "session was retired by a regenerate: it can be read, not changed")

typedef enum mcs_error {
  MCS_OK = 0,
#define MCS__ERR_ENUM(name, value, msg) MCS_##name = (value),
  MCS_ERRNO_MAP(MCS__ERR_ENUM)
#undef MCS__ERR_ENUM
} mcs_error;

/* A short English message for an error code; "unknown error" for values
 * that are not codes. Static storage, never NULL. */
MCS_EXPORT const char *mcs_strerror(int err);
/* The code's name ("MCS_EBADSIG"), or "MCS_UNKNOWN". Static storage. */
MCS_EXPORT const char *mcs_errname(int err);

/* The HTTP status code a web server answers when a session call failed
 * with `err`. One mapping for every adapter (mcsession/mhd.h,
 * mcsession/evhttp.h) and for servers that use the core directly:
 *   MCS_OK                                                       200
 *   MCS_ELIMIT (Cookie header too large or too many cookies)     431
 *   MCS_ETOOBIG (the request made the data too large)            413
 *   MCS_EBADSIG (e.g. a CSRF token that does not verify)         403
 *   MCS_EINVAL (request data the session refused, e.g. not UTF-8) 400
 *   MCS_EGONE (the session ended during the request)             409
 *   MCS_ERETIRED (a change through a regenerated session's old id) 409
 *   MCS_ESTORE, MCS_ETIMEDOUT, MCS_EPROTO, MCS_ENOMEM,
 *   MCS_ECONFLICT (transient: retrying can succeed)              503
 *   anything else (a bug in the caller or the library)           500
 * Never fails; keeps no state, so any thread may call it. */
MCS_EXPORT unsigned mcs_http_status_for_error(int err);

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/* Replaces the allocator the library uses for everything it allocates
 * (not for jansson's own allocations: use json_set_alloc_funcs for those).
 * Call it once, before any other mcsession function, from one thread; like
 * libuv's uv_replace_allocator it is process-wide. All four functions must
 * be given. Returns MCS_OK or MCS_EINVAL. */
MCS_EXPORT int mcs_replace_allocator(void *(*malloc_fn)(size_t),
                                     void *(*realloc_fn)(void *, size_t),
                                     void *(*calloc_fn)(size_t, size_t),
                                     void (*free_fn)(void *));

/* Releases memory the library handed to the caller as OWNED. NULL is fine. */
MCS_EXPORT void mcs_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Key ring and signed values (Tornado signed-value format, version 2)      */
/* ------------------------------------------------------------------------ */

/* A set of HMAC secrets by key version. The key with the highest version
 * signs; every key verifies values that name its version. Rotation: deploy
 * a ring with a new, higher version added (new cookies use it, old ones
 * still verify); once max-age has passed, deploy a ring without the old
 * version. A manager copies its ring, so a new ring means a new manager.
 *
 * Build it, then hand it to mcs_manager_new (which copies it) or use it for
 * mcs_sign / mcs_verify. Adding keys is not thread-safe; once built, a key
 * ring may be read by any number of threads. */
typedef struct mcs_keyring mcs_keyring;

/* Smallest accepted secret, in bytes. Shorter secrets are refused
 * (MCS_EINVAL): an HMAC key is only as strong as its length. */
#define MCS_SECRET_MIN_BYTES 16
#define MCS_SECRET_MAX_BYTES 1024
/* Key versions are small non-negative integers (Tornado's key_version). */
#define MCS_KEY_VERSION_MAX 1000000

/* MCS_OK, MCS_EINVAL (out is NULL), MCS_ENOMEM, or MCS_EIO when the OS
 * CSPRNG / libsodium cannot be initialised (done here, so sign and verify
 * never need to). */
MCS_EXPORT int mcs_keyring_new(mcs_keyring **out);
/* Wipes the secrets and frees the ring; no thread may still be using it
 * (managers hold their own copies). NULL is fine. */
MCS_EXPORT void mcs_keyring_free(mcs_keyring *ring);
/* Adds (a copy of) `secret` under `version`. MCS_EINVAL for a NULL ring,
 * a version out of range, a version already present, or a secret of the
 * wrong length; MCS_ENOMEM. On failure the ring is unchanged. */
MCS_EXPORT int mcs_keyring_add(mcs_keyring *ring, unsigned version,
                               const void *secret, size_t secret_len);
/* The version that signs (the highest); MCS_EINVAL if the ring is empty. */
MCS_EXPORT int mcs_keyring_current(const mcs_keyring *ring, unsigned *version);

/* Upper bound on a signed value's length given the lengths of its name and
 * value, terminating NUL included. */
#define MCS_SIGNED_MAX_LEN(name_len, value_len)                               \
  (128u + (name_len) + 4u * (((value_len) + 2u) / 3u))

/* Limits on what mcs_sign accepts and mcs_verify parses. */
#define MCS_SIGNED_NAME_MAX 256
#define MCS_SIGNED_VALUE_MAX 3072

/* Signs `value` under `name` with the key of `key_version` (or the current
 * key when key_version < 0) and timestamp `timestamp` (Unix seconds), and
 * writes the NUL-terminated signed value to out[0..out_size). The output is
 * byte for byte what Tornado's create_signed_value(secret, name, value,
 * version=2, key_version=...) returns for that clock.
 * Returns MCS_OK, MCS_EINVAL (unknown key version, negative timestamp,
 * empty name, or a name with bytes outside printable ASCII 0x21..0x7e), or MCS_ELIMIT (name or value
 * over the limits, or out_size too small: MCS_SIGNED_MAX_LEN is always
 * enough; a key version above MCS_KEY_VERSION_MAX is MCS_EINVAL). On
 * failure out holds "" (when out_size > 0). Never allocates. *out_len (if
 * not NULL) gets the length without the NUL. */
MCS_EXPORT int mcs_sign(const mcs_keyring *ring, long key_version,
                        const char *name, const void *value, size_t value_len,
                        int64_t timestamp, char *out, size_t out_size,
                        size_t *out_len);

/* Verifies a signed value: the format, the key version (it must be in the
 * ring), the HMAC (constant-time compare), the name, and the age
 * (`now - timestamp <= max_age_s`; max_age_s < 0 disables the age check).
 * On success the decoded value is written to value_out (up to
 * value_size bytes, not NUL-terminated) and its length to *value_len.
 * Every kind of invalid input gives MCS_EBADSIG, so failures reveal nothing;
 * MCS_EINVAL only for NULL arguments (value_out may be NULL when
 * value_size is 0), and MCS_ELIMIT when value_size is too small for a value
 * that verified — *value_len then holds the size needed.
 * Only the canonical form Tornado writes is accepted: no leading zeros or
 * signs in numbers, a name by mcs_sign's rules, strict base64. (Tornado's
 * own decoder is laxer, but Tornado never writes such values.)
 * Never allocates. */
MCS_NODISCARD MCS_EXPORT int mcs_verify(const mcs_keyring *ring, const char *name,
                          const char *signed_value, size_t signed_len,
                          int64_t now, int64_t max_age_s, void *value_out,
                          size_t value_size, size_t *value_len);

/* ------------------------------------------------------------------------ */
/* Stores                                                                   */
/* ------------------------------------------------------------------------ */

/* A store is a table of operations plus user data, so applications can
 * bring their own. mcsession ships two: the memory store below and the
 * memcached store. Stores are shared by all threads; every operation must
 * be safe to call concurrently.
 *
 * Every operation returns MCS_OK when the store answered, whatever it
 * answered, and puts the answer in *result; a negative code means the store
 * could not be asked (MCS_ESTORE, MCS_ETIMEDOUT, MCS_EPROTO, MCS_ENOMEM,
 * MCS_EINVAL for a key the store cannot hold, MCS_ETOOBIG for a value over
 * the store's item limit or a stored value over the reader's limit; a
 * write refused with MCS_ETOOBIG has changed nothing). Keys are byte
 * strings of at most MCS_STORE_KEY_MAX bytes without spaces or control
 * bytes. TTLs are in seconds and always positive. CAS tokens are opaque,
 * never 0. */
#define MCS_STORE_KEY_MAX 250

typedef enum mcs_store_result {
  MCS_STORE_HIT = 1,       /* get: found */
  MCS_STORE_MISS,          /* get/cas/delete/touch: no such key */
  MCS_STORE_STORED,        /* add/cas/set: written */
  MCS_STORE_EXISTS,        /* add: key taken; cas: token out of date */
  MCS_STORE_DELETED,       /* delete: removed */
  MCS_STORE_TOUCHED        /* touch: expiry updated */
} mcs_store_result;

/* Where a store's get writes the value it found. Opaque; fill it with
 * mcs_store_value_set. */
typedef struct mcs_store_value mcs_store_value;

/* Copies `len` bytes into `dst` (replacing what it held): for a store's
 * get, on the thread running it. MCS_ENOMEM, MCS_ETOOBIG if len exceeds
 * the limit the caller set on it, MCS_EINVAL for NULL dst (or NULL data
 * with len > 0). */
MCS_EXPORT int mcs_store_value_set(mcs_store_value *dst, const void *data,
                                   size_t len);

#define MCS_STORE_OPS_VERSION 1

typedef struct mcs_store_ops {
  unsigned version; /* MCS_STORE_OPS_VERSION */
  /* Read `key`. When touch_ttl > 0, also set its expiry to touch_ttl
   * seconds from now (in the same operation, where the store can).
   * On MCS_STORE_HIT the value goes to `value`, the CAS token to *cas and
   * the client flags to *flags. */
  int (*get)(void *ud, const char *key, size_t key_len, uint32_t touch_ttl,
             mcs_store_value *value, uint64_t *cas, uint32_t *flags,
             mcs_store_result *result);
  /* Create `key` only if absent: STORED or EXISTS. *cas gets the new
   * record's CAS token (may be NULL). */
  int (*add)(void *ud, const char *key, size_t key_len, const void *data,
             size_t len, uint32_t flags, uint32_t ttl, uint64_t *cas,
             mcs_store_result *result);
  /* Replace `key` only if its CAS token is still `cas`: STORED, EXISTS (it
   * changed since) or MISS (it is gone). *new_cas may be NULL. */
  int (*cas)(void *ud, const char *key, size_t key_len, const void *data,
             size_t len, uint32_t flags, uint32_t ttl, uint64_t cas,
             uint64_t *new_cas, mcs_store_result *result);
  /* Write unconditionally: STORED. */
  int (*set)(void *ud, const char *key, size_t key_len, const void *data,
             size_t len, uint32_t flags, uint32_t ttl,
             mcs_store_result *result);
  /* Remove: DELETED or MISS. */
  int (*del)(void *ud, const char *key, size_t key_len,
             mcs_store_result *result);
  /* Set the expiry: TOUCHED or MISS. The CAS token stays what it was (a
   * touch is not a change the next cas should conflict with). */
  int (*touch)(void *ud, const char *key, size_t key_len, uint32_t ttl,
               mcs_store_result *result);
  /* Called by mcs_store_free. May be NULL. */
  void (*destroy)(void *ud);
} mcs_store_ops;

typedef struct mcs_store mcs_store;

/* Wraps user operations into a store. `ops` is copied; `ud` is BORROWED
 * (passed to every operation, and to ops->destroy when the store is freed,
 * which may release it). MCS_EINVAL (NULL out or ops, another
 * ops->version, a missing operation), MCS_ENOMEM. */
MCS_EXPORT int mcs_store_new(mcs_store **out, const mcs_store_ops *ops,
                             void *ud);
/* Frees the store (calling ops->destroy). Free it only after every manager
 * using it has been freed. NULL is fine. */
MCS_EXPORT void mcs_store_free(mcs_store *store);

/* Direct access to a store's operations, for tools and tests, with the
 * contracts of mcs_store_ops above; keys are checked first (MCS_EINVAL for
 * a NULL store or result, or a key the store cannot hold). Thread-safe as
 * the store is. The value read by mcs_store_get is OWNED by the caller
 * (*data, free with mcs_free; NULL on a miss); max_len bounds it
 * (MCS_ETOOBIG above). */
MCS_EXPORT int mcs_store_get(mcs_store *store, const char *key,
                             size_t key_len, uint32_t touch_ttl,
                             size_t max_len, void **data, size_t *len,
                             uint64_t *cas, uint32_t *flags,
                             mcs_store_result *result);
MCS_EXPORT int mcs_store_add(mcs_store *store, const char *key,
                             size_t key_len, const void *data, size_t len,
                             uint32_t flags, uint32_t ttl, uint64_t *cas,
                             mcs_store_result *result);
MCS_EXPORT int mcs_store_cas(mcs_store *store, const char *key,
                             size_t key_len, const void *data, size_t len,
                             uint32_t flags, uint32_t ttl, uint64_t cas,
                             uint64_t *new_cas, mcs_store_result *result);
MCS_EXPORT int mcs_store_set(mcs_store *store, const char *key,
                             size_t key_len, const void *data, size_t len,
                             uint32_t flags, uint32_t ttl,
                             mcs_store_result *result);
MCS_EXPORT int mcs_store_delete(mcs_store *store, const char *key,
                                size_t key_len, mcs_store_result *result);
MCS_EXPORT int mcs_store_touch(mcs_store *store, const char *key,
                               size_t key_len, uint32_t ttl,
                               mcs_store_result *result);

/* --- The memory store ----------------------------------------------------
 * In-process, thread-safe (one lock per shard), TTL-aware, bounded by bytes
 * with least-recently-used eviction, with CAS tokens. The embedded default:
 * for one process and for tests. Time is read from CLOCK_MONOTONIC unless
 * the config supplies a clock. */
typedef struct mcs_memory_config {
  size_t max_bytes;  /* total budget for keys, values and overhead;
                        default 64 MiB; minimum 64 KiB */
  unsigned shards;   /* power of two, 1..256; default 16; each shard gets
                        max_bytes / shards, at least 4 KiB */
  size_t max_item_bytes; /* largest value accepted, 1..max_bytes / shards;
                            default 1 MiB (so a budget under 16 MiB needs
                            fewer shards or a smaller item limit) */
  /* Optional clock in seconds (tests use it to move time). NULL: monotonic. */
  int64_t (*clock)(void *clock_ud);
  void *clock_ud;
} mcs_memory_config;

/* Fills the defaults. NULL is ignored. */
MCS_EXPORT void mcs_memory_config_init(mcs_memory_config *cfg);
/* cfg (copied) may be NULL for the defaults. MCS_EINVAL for an invalid
 * config (docs/configuration.md lists the limits), MCS_ENOMEM. Free the
 * store with mcs_store_free once nothing uses it. */
MCS_EXPORT int mcs_store_memory_new(mcs_store **out,
                                    const mcs_memory_config *cfg);

typedef struct mcs_memory_stats {
  uint64_t items;
  uint64_t bytes;      /* accounted bytes in use */
  uint64_t evictions;  /* items evicted to stay under max_bytes */
  uint64_t expired;    /* items found expired and reclaimed */
} mcs_memory_stats;
/* Figures for a memory store; MCS_EINVAL if `store` is not one. */
MCS_EXPORT int mcs_store_memory_stats(mcs_store *store,
                                      mcs_memory_stats *stats);

/* --- The memcached store: mcs_store_memcached_new(&store, "memcached://…")
 * (URL, replicas, timeouts and their guarantees in that header). */
#include "mcsession/memcached.h"

/* ------------------------------------------------------------------------ */
/* Cookies (RFC 6265)                                                       */
/* ------------------------------------------------------------------------ */

/* Limits on an incoming Cookie header. Beyond them, parsing fails with
 * MCS_ELIMIT (an HTTP server answers 431). */
#define MCS_COOKIE_HEADER_MAX 8192
#define MCS_COOKIE_COUNT_MAX 64

typedef struct mcs_cookie_pair {
  const char *name;  /* BORROWED: points into the header */
  size_t name_len;
  const char *value; /* BORROWED: points into the header; the surrounding
                        DQUOTEs of a quoted value are not included */
  size_t value_len;
} mcs_cookie_pair;

/* Splits a Cookie header (RFC 6265 section 5.4 / 4.2.1) into name/value
 * pairs without allocating and without reading past `len` (the header need
 * not be NUL-terminated). Pairs are separated by ';' only (',' is an
 * ordinary byte); SP and HTAB around names and values are trimmed; a value
 * in double quotes is returned without them (backslash escapes are not
 * undone); the value is everything after the first '='; pairs without '='
 * or with an empty name are skipped and not counted. Writes up to
 * max_pairs pairs (in header order) and their number to *count.
 * MCS_ELIMIT when the header exceeds MCS_COOKIE_HEADER_MAX bytes or holds
 * more than MCS_COOKIE_COUNT_MAX (or max_pairs) cookies — failing rather
 * than truncating, so a client cannot push a cookie out of sight.
 * MCS_EINVAL for NULL arguments (a NULL header with len 0 is an empty
 * header). *count is 0 on any error. */
MCS_EXPORT int mcs_cookie_parse(const char *header, size_t len,
                                mcs_cookie_pair *pairs, size_t max_pairs,
                                size_t *count);

/* Finds cookie `name` in a Cookie header. When the name is repeated the
 * first occurrence wins (browsers send the most specific path first).
 * On success *value points into `header` (BORROWED). MCS_ENOENT when
 * absent (then *value is NULL and *value_len 0), MCS_ELIMIT as for
 * mcs_cookie_parse — the whole header is scanned, so the answer does not
 * depend on where the cookie sits. */
MCS_EXPORT int mcs_cookie_find(const char *header, size_t len,
                               const char *name, const char **value,
                               size_t *value_len);

typedef enum mcs_samesite {
  MCS_SAMESITE_LAX = 0, /* default */
  MCS_SAMESITE_STRICT,
  MCS_SAMESITE_NONE,    /* requires secure */
  MCS_SAMESITE_OMIT     /* no SameSite attribute */
} mcs_samesite;

/* Attributes of a Set-Cookie header (RFC 6265 section 4.1; SameSite from
 * RFC 6265bis; Partitioned from CHIPS). */
typedef struct mcs_cookie_attrs {
  const char *path;      /* default "/"; NULL omits */
  const char *domain;    /* default NULL (host-only cookie) */
  int64_t max_age;       /* seconds; < 0 (default) omits Max-Age and
                            Expires, making a browser-session cookie */
  int http_only;         /* default 1 */
  int secure;            /* default 0; required by SameSite=None,
                            Partitioned and the __Secure-/__Host- prefixes */
  mcs_samesite same_site; /* default LAX */
  int partitioned;       /* default 0 */
} mcs_cookie_attrs;

/* Fills the defaults listed above. NULL is ignored. */
MCS_EXPORT void mcs_cookie_attrs_init(mcs_cookie_attrs *attrs);

/* Checks a cookie name and its attributes: the name is an RFC 7230 token;
 * the __Host- prefix (matched case-insensitively, as browsers do) demands
 * Secure, Path=/ and no Domain; __Secure- demands Secure; SameSite=None and
 * Partitioned demand Secure; a path starts with '/', holds only RFC 3986
 * path characters other than ';' and is at most 1024 bytes; a domain holds
 * only letters, digits, '-' and '.' (a leading dot allowed), at most 255
 * bytes. MCS_OK or MCS_EINVAL. */
MCS_EXPORT int mcs_cookie_attrs_check(const char *name,
                                      const mcs_cookie_attrs *attrs);

/* Builds the value of a Set-Cookie header ("name=value; Path=/; ...") into
 * out[0..out_size), NUL-terminated. `now` (Unix seconds) dates Expires.
 * The name must be an RFC 6265 token; the value must be cookie-octets
 * (no CTL, whitespace, DQUOTE, ',', ';', '\\' or bytes >= 0x80); a name
 * and value together over 4096 bytes (browsers drop such cookies) and
 * invalid attributes are MCS_EINVAL too. Nothing is emitted for bad input
 * (out[0] = '\0'). Expires is capped at the year 9999. MCS_ELIMIT when
 * out_size is too small. */
MCS_EXPORT int mcs_cookie_format(const char *name, const char *value,
                                 size_t value_len,
                                 const mcs_cookie_attrs *attrs, int64_t now,
                                 char *out, size_t out_size, size_t *out_len);

/* ------------------------------------------------------------------------ */
/* Manager                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum mcs_mode {
  MCS_MODE_NATIVE = 0,  /* one signed cookie, JSON records, hashed keys */
  MCS_MODE_TORNADO      /* byte-compatible with the Tornado recipe */
} mcs_mode;

/* Log levels for the optional log callback. */
typedef enum mcs_log_level {
  MCS_LOG_ERROR = 0,
  MCS_LOG_WARN,
  MCS_LOG_INFO,
  MCS_LOG_DEBUG
} mcs_log_level;

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
                                default NULL: the memcached store's URL
                                `prefix` (itself "mcs:" by default) when
                                `store` is one, else "mcs:" */
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
} mcs_manager_stats;
MCS_EXPORT void mcs_manager_stats_get(const mcs_manager *mgr,
                                      mcs_manager_stats *stats);

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
 * Set-Cookie values to send (see mcs_session_set_cookie).
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
MCS_EXPORT size_t mcs_session_set_cookie_count(const mcs_session *s);
MCS_EXPORT const char *mcs_session_set_cookie(const mcs_session *s,
                                              size_t i);

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

/* --- Event loops: sessions without blocking --------------------------------
 * mcs_session_load and mcs_session_save block their thread for a store
 * round trip. A server built on an event loop (one thread serving many
 * connections) uses the *_start functions below instead: they queue the
 * store request on an mcs_loop and return; the loop sends every request
 * queued in one turn of the application's loop in ONE write per server
 * (pipelining) and reports each result through a callback.
 *
 * The common cases never block the loop's thread: a load needs one read
 * (`mg`), a save of a changed session one write (`ms`), an unchanged save
 * none. The rare follow-ups (a CAS conflict's re-read and replay, a
 * retired snapshot left by regenerate, a revocation read, an id
 * collision, destroy and regenerate) run the same code as
 * mcs_session_load/save on the
 * loop's helper thread, and their callback comes back to the loop's
 * thread. How each store is driven:
 *   - the memcached store with replicas=0: non-blocking pipelined
 *     connections owned by the loop (one per server, besides the store's
 *     shared pool);
 *   - the memory store: operations run at once (they never block), so
 *     the *_start functions complete without MCS_PENDING;
 *   - any other store (your own, memcached with replicas > 0): each
 *     operation runs on the loop's helper thread.
 *
 * Wiring it into an event loop (see examples/demo/server.c):
 *   1. watch mcs_loop_fd() for readability;
 *   2. after each turn of your loop (after the handlers that called
 *      *_start have run), and whenever the fd is readable or
 *      mcs_loop_timeout() has passed, call mcs_loop_run();
 *   3. wait at most mcs_loop_timeout() milliseconds in your poll.
 *
 * Thread-safety: a loop belongs to the thread that runs it; every mcs_loop
 * function and every *_start call on it must come from that thread
 * (mcs_loop_new and mcs_loop_free too may be called elsewhere before and
 * after). Use one loop per event-loop thread; they may share a store and a
 * manager. Callbacks run on the loop's thread, inside mcs_loop_run (or
 * mcs_loop_free), never inside the *_start call that queued them. Linux
 * only (epoll, eventfd). */

/* Returned (positive, not an error) by a *_start function whose result
 * comes later through its callback. */
#define MCS_PENDING 1

typedef struct mcs_loop mcs_loop;

/* A loop for one event-loop thread, over `store` (BORROWED: it must
 * outlive the loop). No thread or connection is opened yet: the helper
 * thread starts with the first job that needs it, connections with the
 * first request to their server. MCS_EINVAL (NULL out or store), MCS_ENOMEM,
 * MCS_EIO (epoll or eventfd could not be created). */
MCS_EXPORT int mcs_loop_new(mcs_loop **out, mcs_store *store);
/* Runs the loop until nothing is pending (so every callback still due
 * runs, bounded by the store's timeouts), stops the helper thread, closes
 * the loop's connections and frees it. NULL is fine. */
MCS_EXPORT void mcs_loop_free(mcs_loop *loop);
/* A file descriptor that becomes readable when mcs_loop_run has work
 * (an epoll descriptor: add it to your poll, epoll, libevent, MHD loop).
 * Owned by the loop: do not read from it or close it. */
MCS_EXPORT int mcs_loop_fd(const mcs_loop *loop);
/* Milliseconds until mcs_loop_run must be called even if the fd stays
 * quiet: 0 when requests wait to be sent, the time to the nearest I/O
 * deadline otherwise, -1 when nothing is in flight. */
MCS_EXPORT int mcs_loop_timeout(const mcs_loop *loop);
/* Does the loop's work without blocking: sends what was queued, reads
 * replies, fails requests past their deadline (MCS_ETIMEDOUT) and runs
 * the callbacks of everything that finished. Callbacks may start new
 * work (it goes out on the next call); they must not call mcs_loop_run
 * or mcs_loop_free. Returns the number of callbacks run. */
MCS_EXPORT size_t mcs_loop_run(mcs_loop *loop);
/* Started operations and queued jobs whose callback has not run yet. */
MCS_EXPORT size_t mcs_loop_pending(const mcs_loop *loop);

/* Runs work(ud) on the loop's helper thread, then done(ud) on the loop's
 * thread (from mcs_loop_run). For application work that must block (a
 * synchronous store call such as mcs_manager_revoke_user, a file read).
 * Jobs run one at a time, in order. MCS_EINVAL (NULL loop, work or done),
 * MCS_ENOMEM, MCS_EIO (the thread could not be started). */
MCS_EXPORT int mcs_loop_queue_work(mcs_loop *loop, void (*work)(void *ud),
                                   void (*done)(void *ud), void *ud);

/* Reports a *_start result that came through the loop: rc is what the
 * synchronous function would have returned. For a load, `s` is the new
 * session (OWNED by the callee, as from mcs_session_load) when rc is
 * MCS_OK, else NULL; for a save, `s` is the session that was saved (still
 * owned by the caller, whatever rc). */
typedef void (*mcs_session_cb)(void *ud, int rc, mcs_session *s);

/* mcs_session_load through `loop`, whose store must be the manager's.
 * Returns:
 *   MCS_OK       done now: *out is the session (no store round trip was
 *                needed, e.g. no cookie or a forged one, or the memory
 *                store); cb is not called;
 *   MCS_PENDING  *out is NULL; cb(ud, rc, session) runs later, from
 *                mcs_loop_run, with the result of the load;
 *   < 0          failed now (the codes of mcs_session_load, MCS_EINVAL
 *                for a loop over another store); cb is not called.
 * The Cookie header is read before this returns (it need not outlive the
 * call). */
MCS_EXPORT int mcs_session_load_start(mcs_manager *mgr, mcs_loop *loop,
                                      const char *cookie_header,
                                      size_t header_len, mcs_session **out,
                                      mcs_session_cb cb, void *ud);
/* mcs_session_save through `loop`, with the same three kinds of return.
 * While MCS_PENDING, the session belongs to the loop: do not use or free
 * it until cb(ud, rc, s) has run; afterwards it is the caller's again, in
 * the state mcs_session_save would have left (Set-Cookie values ready on
 * success). */
MCS_EXPORT int mcs_session_save_start(mcs_session *s, mcs_loop *loop,
                                      mcs_session_cb cb, void *ud);

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
 * MCS_ENOMEM. One request's session: not for concurrent use. */
MCS_EXPORT int mcs_session_set_user(mcs_session *s, const char *uid);

/* The user the session is bound to, or NULL (none, destroyed, retired —
 * see mcs_session_regenerate — or NULL s).
 * BORROWED, valid until the next mcs_session_set_user, mcs_session_save
 * (a save that meets a concurrent change re-reads the record) or
 * mcs_session_free. */
MCS_EXPORT const char *mcs_session_user(const mcs_session *s);

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

/* ------------------------------------------------------------------------ */
/* Random secrets and ids                                                   */
/* ------------------------------------------------------------------------ */

/* Session ids are 256 bits from the OS CSPRNG, encoded base64url without
 * padding (43 characters). */
#define MCS_ID_BYTES 32
#define MCS_ID_LEN 43

/* Fills out with `len` random bytes from the OS CSPRNG. MCS_EIO if the
 * CSPRNG cannot be initialised, MCS_EINVAL for NULL out with len > 0.
 * Any thread. */
MCS_EXPORT int mcs_random_bytes(void *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_H */
