/*
 * mcsession — server-side HTTP sessions for C web services.
 *
 * A signed cookie names the session; the session's data lives in a store
 * (the embedded memory store by default, memcached in deployments); the
 * idle timeout slides with every visit.
 *
 * Conventions used throughout the API (mcsession.h and its parts):
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
 *     mcs_sign / mcs_verify on a built ring, mcs_signed_inspect, the
 *     mcs_cookie_* functions, mcs_random_bytes, mcs_memcached_url_parse,
 *     ...) keep no state and may be called from any thread. Functions
 *     that take a session may be called only by the thread that currently
 *     owns it.
 *   - Functions that cannot fail return no code; they treat NULL objects
 *     as empty (a getter on NULL returns 0 or NULL).
 *   - Process-wide state, all of it: the allocator hook
 *     (mcs_replace_allocator, set once before anything else), libsodium's
 *     one-time initialisation (sodium_init, thread-safe), and per thread a
 *     small buffer of OS randomness for ids and tokens (each byte handed
 *     out once and wiped; a pthread_atfork handler empties it in a forked
 *     child so parent and child never share bytes). Everything else lives
 *     in the objects you create. The library never prints and never
 *     aborts.
 *   - Structs grow without breaking callers: every public config and stats
 *     struct ends in `reserved` space that its _init function (or the
 *     library, for stats) zeroes. A later 0.x release adds fields by
 *     taking them from that space, never by moving a field or changing a
 *     struct's size, and a new config field's zero always means "the
 *     default" — so a program built against an older header keeps working
 *     with a newer library. (tests/unit/util/test_abi.c holds the sizes and
 *     offsets to this.) Structs are always filled by their _init function
 *     first, never by hand from zero.
 */
#ifndef MCSESSION_H
#define MCSESSION_H

/* The whole API. Each part can also be included on its own; each includes
 * what it needs (none includes this header back). The HTTP adapters
 * (mcsession/mhd.h, mcsession/evhttp.h) are separate: they need their
 * HTTP library's headers. */
#include "mcsession/base.h"      /* version, errors, memory, random bytes */
#include "mcsession/signer.h"    /* key rings, signed values */
#include "mcsession/cookie.h"    /* Cookie / Set-Cookie */
#include "mcsession/store.h"     /* the store interface, the memory store */
#include "mcsession/memcached.h" /* the memcached store */
#include "mcsession/redis.h"     /* the Redis store */
#include "mcsession/manager.h"   /* the session manager */
#include "mcsession/session.h"   /* sessions, values, users, CSRF */
#include "mcsession/loop.h"      /* event loops */
#include "mcsession/admin.h"     /* operators: inspect, touch, end, revoke */

#endif /* MCSESSION_H */
