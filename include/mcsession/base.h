/*
 * mcsession: what every part of the API shares — the version, the error
 * codes and their messages, the allocator hook, random bytes, log levels,
 * and the rule by which public structs grow. Included by every other
 * mcsession header; see mcsession.h for the conventions of the whole API.
 */
#ifndef MCSESSION_BASE_H
#define MCSESSION_BASE_H

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

/* Log levels for the optional log callback. */
typedef enum mcs_log_level {
  MCS_LOG_ERROR = 0,
  MCS_LOG_WARN,
  MCS_LOG_INFO,
  MCS_LOG_DEBUG
} mcs_log_level;

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_BASE_H */
