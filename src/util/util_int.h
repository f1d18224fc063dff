/*
 * The util wing: what every other wing stands on — allocation through the
 * process-wide hook (alloc.c), a growable byte buffer (buf.c), base64 over
 * libsodium (b64.c), the error table (error.c), randomness (random.c), the
 * clock and the log a manager is configured with (clock.c, log.c).
 *
 * May use: libc, libsodium and the public header. Knows nothing of
 * sessions, stores or cookies. (docs/design.md, "Wings")
 */
#ifndef MCS_UTIL_INT_H
#define MCS_UTIL_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- Randomness (random.c). ---- */
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
/* True when the n bytes at `in` are all of the URL-safe alphabet
 * (A-Z a-z 0-9 - _): ids and handles, whose lengths callers check. */
bool mcs__b64url_chars_ok(const char *in, size_t n);
/* True when `in` has the shape of standard padded base64 (alphabet, whole
 * groups, at most two final '='); says nothing of trailing bits. */
bool mcs__b64_shape_ok(const char *in, size_t n);
/* Strict decode of the standard padded alphabet (no whitespace, correct
 * padding, canonical trailing bits). MCS_OK, MCS_EINVAL, or MCS_ELIMIT
 * when out_size is too small. */
int mcs__b64_decode(const char *in, size_t n, void *out, size_t out_size,
                    size_t *out_len);

/* ---- Public structs (alloc.c) ---- */
/* True when the n bytes at p are all zero: a public struct's `reserved`
 * space, which a field of a later release would occupy (mcsession.h,
 * "Structs grow"). A config with something there is refused (MCS_EINVAL)
 * rather than read without the setting the caller meant. */
bool mcs__all_zero(const void *p, size_t n);

/* ---- Text (utf8.c) ---- */
/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
bool mcs__utf8_valid(const char *s, size_t n);

/* ---- The clock (clock.c) ----
 * A manager's notion of now, in Unix seconds: the configured clock (tests
 * move it by hand) or time(). */
typedef struct mcs__clock {
  int64_t (*fn)(void *ud); /* NULL: time() */
  void *ud;
} mcs__clock;
int64_t mcs__clock_now(const mcs__clock *c);

/* ---- The log (log.c) ----
 * The library never prints: messages go to the configured callback, or
 * nowhere. */
typedef struct mcs__logger {
  void (*fn)(void *ud, mcs_log_level level, const char *message);
  void *ud;
} mcs__logger;

/* At most one log message per period for one kind of event, so a burst
 * (every load of a user whose record is bad, say) logs once, and the next
 * message says how many were left out. Lock-free and thread-safe; zeroed
 * memory is a ready limiter. Lives in whatever owns the event (the
 * manager), never in global state. */
typedef struct mcs__ratelimit {
  _Atomic int64_t next;        /* clock: when the next may go out */
  _Atomic uint64_t suppressed; /* messages left out since the last one */
} mcs__ratelimit;
/* Seconds between two messages of one kind (mcs__logf_burst). */
#define MCS__LOG_BURST_S 60
/* True when a message may go out at `now` (then *suppressed gets how many
 * were left out since the previous one); false when one went out less
 * than `period` seconds ago. A clock stepped back to before the last
 * message does not silence the limiter until it catches up. */
bool mcs__ratelimit_pass(mcs__ratelimit *rl, int64_t now, uint32_t period,
                         uint64_t *suppressed);

#if defined(__GNUC__)
#define MCS__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MCS__PRINTF(fmt, args)
#endif

/* Formats a message (cut at 255 bytes) and hands it to the callback. */
void mcs__logf(const mcs__logger *lg, mcs_log_level level, const char *fmt,
               ...) MCS__PRINTF(3, 4);
/* mcs__logf, at most once per MCS__LOG_BURST_S seconds for `rl` (one
 * limiter per kind of message); a message after left-out ones ends with
 * how many. */
void mcs__logf_burst(const mcs__logger *lg, mcs__ratelimit *rl, int64_t now,
                     mcs_log_level level, const char *fmt, ...)
    MCS__PRINTF(5, 6);

#endif /* MCS_UTIL_INT_H */
