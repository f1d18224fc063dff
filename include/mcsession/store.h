/*
 * mcsession: the store interface (what any backend provides, and what a
 * store of your own must guarantee) and the embedded memory store. The
 * memcached store is mcsession/memcached.h. Part of mcsession.h.
 */
#ifndef MCSESSION_STORE_H
#define MCSESSION_STORE_H

#include "mcsession/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Stores                                                                   */
/* ------------------------------------------------------------------------ */

/* A store is a table of operations (mcs_store_ops) plus user data, so
 * applications can bring their own: mcsession ships two, the memory store
 * below and the memcached store (mcsession/memcached.h), and a third (a
 * Redis store, say) needs nothing but this header. Every store has a
 * blocking side (get, add, cas, set, del, touch: one call, one answer)
 * and may have a non-blocking side for event loops (attach ... detach:
 * start an operation, hear of it later on the loop's thread); see "The
 * non-blocking side" below.
 *
 * What every store guarantees (the session layer's correctness rests on
 * it; the shipped stores' tests hold them to it):
 *
 *   - Answers and errors. An operation returns MCS_OK when the store
 *     answered, whatever it answered, and puts the answer in *result. A
 *     negative code means the store could not be asked or could not
 *     answer: MCS_ESTORE (unreachable, closed, refused), MCS_ETIMEDOUT,
 *     MCS_EPROTO (an answer that makes no sense), MCS_ENOMEM, MCS_EINVAL
 *     (a key the store cannot hold), MCS_ETOOBIG (a value over the store's
 *     item limit, or a stored value over the reader's limit). An error is
 *     NEVER reported as MCS_STORE_MISS (or as an empty value): a miss
 *     means "no such key" and ends a session, so a store that turns an
 *     outage into misses logs every user out and lets a CAS that should
 *     fail look like a fresh start.
 *   - Writes. A write the store refused (MCS_ETOOBIG, MCS_EINVAL, a
 *     server that was down) has changed nothing; one whose answer never
 *     came (MCS_ETIMEDOUT, a connection lost mid-request) may or may not
 *     have been applied, and the library treats it so (the save reports
 *     the error; the next load sees whichever state is there).
 *   - CAS tokens are opaque 64-bit values, never 0. Every write (add, cas,
 *     set) gives the key a new token that no earlier state of that key
 *     had; a touch, and a get that slides the expiry, keep it (a touch is
 *     not a change the next cas should conflict with). cas compares the
 *     token exactly: STORED only when it is the key's current token,
 *     EXISTS when the key changed since, MISS when the key is gone
 *     (deleted or expired: a destroyed key's cas is MISS, never EXISTS or
 *     STORED).
 *   - get with touch_ttl > 0 reads the key and sets its expiry to
 *     touch_ttl seconds from now. A store does it in one atomic operation
 *     where it can (memcached's `mg T`, Redis's GETEX) and says so with
 *     MCS_STORE_CAP_ATOMIC_GET_TOUCH; otherwise it reads, then touches
 *     (two operations: a write in between gets its expiry replaced by the
 *     touch's, and a key deleted in between is still reported as the hit
 *     that was read, whose next cas then finds it gone). A touch that
 *     fails after a successful read fails the get (an error, not a hit
 *     without the slide). touch_ttl 0 never changes the expiry.
 *   - Expiry. TTLs are relative seconds, always positive (the store maps
 *     long ones to its own format: memcached reads over 30 days as a Unix
 *     time). An expired key is invisible to every operation.
 *   - Sizes. Keys are 1..MCS_STORE_KEY_MAX bytes without spaces, control
 *     bytes or DEL (the library checks them before they reach a store; a
 *     store may check again). A store's item limit should leave room for
 *     the manager's max_data_bytes (up to 1 MiB) plus a few hundred bytes
 *     of record; a larger write fails with MCS_ETOOBIG, changing nothing.
 *     A get writes its value only through mcs_store_value_set, which
 *     enforces the reader's limit (MCS_ETOOBIG: an error, not a miss).
 *   - Threads. A store is shared by all threads: every blocking operation
 *     may be called concurrently from any thread (request threads, event
 *     loops' helper threads). The non-blocking side is per loop; see
 *     below.
 *   - Ownership. Keys, data and value destinations are BORROWED for the
 *     call (for the non-blocking side: until the operation's done runs);
 *     a store keeps no pointer to them afterwards. */
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

/* --- The non-blocking side -----------------------------------------------
 * An event loop (mcs_loop, mcsession/loop.h) drives a store's operations
 * without blocking its thread, in one of three ways, chosen when the loop
 * is made:
 *   1. a store with MCS_STORE_CAP_NONBLOCKING (the memory store): its
 *      blocking operations never wait, so the loop simply calls them;
 *   2. a store with the non-blocking members (attach ... event; the
 *      memcached store with replicas=0): the loop attaches an ENGINE of
 *      the store's, submits operations to it and passes it the events of
 *      the descriptors it asked the loop to watch;
 *   3. any other store (or one whose attach declines): each operation
 *      runs through the blocking side on the loop's helper thread.
 *
 * An operation, as the loop submits it. The submitter fills the request
 * and `done`/`ctx`, zeroes the rest, and then leaves the whole struct to
 * the engine until done runs. */
typedef enum mcs_store_op_kind {
  MCS_STORE_OP_GET = 1, /* get; `ttl` > 0 slides the expiry (touch_ttl) */
  MCS_STORE_OP_ADD,
  MCS_STORE_OP_CAS,
  MCS_STORE_OP_SET,
  MCS_STORE_OP_DELETE,
  MCS_STORE_OP_TOUCH
} mcs_store_op_kind;

typedef struct mcs_store_op mcs_store_op;
struct mcs_store_op {
  /* The request, with the meaning of the blocking operation of the same
   * kind; everything it points to is BORROWED until done runs. */
  mcs_store_op_kind kind;
  const char *key;
  size_t key_len;
  const void *data; /* ADD, CAS, SET */
  size_t len;
  uint32_t flags;         /* ADD, CAS, SET: client flags */
  uint32_t ttl;           /* seconds; GET: 0 means "do not slide" */
  uint64_t cas;           /* CAS: the token to compare */
  mcs_store_value *value; /* GET: where a hit's value goes (through
                             mcs_store_value_set); NULL drops it */
  /* The result, set by the engine before done runs: rc is MCS_OK when the
   * store answered, and then `result` says what it answered; otherwise a
   * negative code as for the blocking side (never MISS for an error). */
  int rc;
  mcs_store_result result;
  uint64_t out_cas;   /* GET hit: the token; ADD/CAS stored: the new one */
  uint32_t out_flags; /* GET hit: the client flags */
  /* Called exactly once per submitted operation, on the loop's thread,
   * from the engine's flush, event or detach, NEVER from inside submit
   * (so the submitter may finish its own bookkeeping after submit). The
   * engine does not touch op once done has been called: done may free or
   * reuse it, and may submit operations (to this engine) at once. */
  void (*done)(mcs_store_op *op);
  void *ctx; /* the submitter's */
  /* The engine's own while the operation is in flight, for whatever
   * bookkeeping it needs (a queue link, a deadline, a request id): the
   * submitter neither sets nor reads them. */
  mcs_store_op *next;
  int64_t deadline;
  uint64_t scratch[2];
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[4];
};

/* What a descriptor watched for an engine reports (mcs_store_io, and the
 * engine's event member). Watching is level-triggered: a descriptor is
 * reported again on every turn while the condition holds, so an engine
 * may do a bounded amount of work per event. */
#define MCS_STORE_IO_READ 0x1u  /* readable */
#define MCS_STORE_IO_WRITE 0x2u /* writable (also: a connect finished) */
/* Error or hang-up: reported whether asked for or not. */
#define MCS_STORE_IO_ERROR 0x4u

/* What a loop lends an engine: the only way a store waits on a
 * descriptor, so the store needs no poller of its own (only the loop
 * calls epoll) and does not link against the loop. Owned by the loop;
 * valid from attach until detach returns; called only from the loop's
 * thread, inside the engine's members. */
typedef struct mcs_store_io {
  void *ctx; /* the loop's: pass it back to each member */
  /* Starts watching `fd` for `events` (MCS_STORE_IO_READ and/or WRITE);
   * the engine's event member gets `tag` back, which must be a non-NULL
   * address the engine owns (its connection, say), never another's.
   * MCS_OK, MCS_ENOMEM, MCS_EIO. */
  int (*watch)(void *ctx, int fd, uint32_t events, void *tag);
  /* Changes what a watched fd is watched for (and its tag). MCS_OK,
   * MCS_ENOMEM, MCS_EIO. */
  int (*modify)(void *ctx, int fd, uint32_t events, void *tag);
  /* Stops watching fd: call it before closing fd. */
  void (*unwatch)(void *ctx, int fd);
} mcs_store_io;

/* Capability flags (mcs_store_ops.caps). */
/* The blocking operations never wait for I/O or for long on a lock: an
 * event loop calls them on its own thread (the *_start functions then
 * complete at once). */
#define MCS_STORE_CAP_NONBLOCKING 0x1u
/* get with touch_ttl reads and slides in one atomic operation (see the
 * contract above; informational: the library relies on neither form). */
#define MCS_STORE_CAP_ATOMIC_GET_TOUCH 0x2u

/* 2 added the kind, the capabilities, the default key prefix, peek and
 * the non-blocking side. A table of version 1 (the eight members up to
 * destroy) is still accepted: the rest reads as absent. */
#define MCS_STORE_OPS_VERSION 2

/* What a peek reports as the seconds a key has left when it has no
 * expiry, and when the store cannot tell. */
#define MCS_STORE_TTL_NEVER (-1)
#define MCS_STORE_TTL_UNKNOWN (-2)

typedef struct mcs_store_ops {
  unsigned version; /* MCS_STORE_OPS_VERSION */
  /* Read `key`. When touch_ttl > 0, also set its expiry to touch_ttl
   * seconds from now (one operation or two: see above). On
   * MCS_STORE_HIT the value goes to `value` (mcs_store_value_set), the CAS
   * token to *cas and the client flags to *flags. */
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
  /* Set the expiry: TOUCHED or MISS. The CAS token stays what it was. */
  int (*touch)(void *ud, const char *key, size_t key_len, uint32_t ttl,
               mcs_store_result *result);
  /* Called by mcs_store_free. May be NULL. */
  void (*destroy)(void *ud);

  /* ---- Version 2: what the store is ---- */
  /* A short name for diagnostics ("memory", "memcached", "redis"); static
   * storage. NULL reads as "custom". Only a name: the library never
   * trusts it to tell what `ud` points to. */
  const char *kind;
  unsigned caps; /* MCS_STORE_CAP_* */
  /* The key prefix a manager over this store uses when its config sets
   * none (mcs_manager_config.key_prefix), or NULL for the library's
   * "mcs:": so one setting in the store's URL is enough. BORROWED, valid
   * until the store is freed. May be NULL. Any thread. */
  const char *(*key_prefix)(void *ud);

  /* Optional (may be NULL): read `key` without touching it, for operators (mcsession/admin.h):
   * neither its expiry nor anything else of it changes. As get with
   * touch_ttl 0, and on MCS_STORE_HIT *ttl gets the whole seconds it has
   * left (>= 0), MCS_STORE_TTL_NEVER when it has no expiry, or
   * MCS_STORE_TTL_UNKNOWN when the store cannot tell. A store without it
   * is read with get (touch_ttl 0) instead, its TTL unknown. */
  int (*peek)(void *ud, const char *key, size_t key_len, mcs_store_value *value,
              uint64_t *cas, uint32_t *flags, int64_t *ttl,
              mcs_store_result *result);

  /* ---- Version 2: the non-blocking side (all six, or none) ----
   * Per loop, an ENGINE: the store's state for driving operations from
   * one loop's thread (its own connections, queues, deadlines). Engines
   * of different loops run at the same time on different threads: what
   * they share (the store, its counters) must be thread-safe. */
  /* Called by mcs_loop_new (any thread): *engine is a new engine that will
   * wait on descriptors only through `io` (BORROWED, kept until detach).
   * MCS_OK with *engine NULL declines: the loop then runs the store's
   * operations on its helper thread (how a store sends configurations it
   * cannot drive without blocking there). MCS_ENOMEM fails mcs_loop_new.
   * No descriptor need be opened yet. */
  int (*attach)(void *ud, const mcs_store_io *io, void **engine);
  /* Called by mcs_loop_free, when nothing the application waits for is in
   * flight: completes whatever still is (done runs here, rc MCS_ESTORE;
   * operations those callbacks submit complete here too), unwatches and
   * closes its descriptors, frees the engine. */
  void (*detach)(void *engine);
  /* Takes op (its done runs later, whatever happens: an operation that
   * cannot start completes with its error). On the loop's thread, also
   * from inside done callbacks. Bounded: every operation must complete
   * in a time the store bounds (its I/O timeout, reported as
   * MCS_ETIMEDOUT), since the loop waits for them when it is freed. */
  void (*submit)(void *engine, mcs_store_op *op);
  /* Called at the end of every mcs_loop_run: sends what was submitted
   * (without blocking: what cannot go now waits for MCS_STORE_IO_WRITE),
   * fails what is past its deadline, then runs the done callbacks of what
   * completed. */
  void (*flush)(void *engine);
  /* Milliseconds until flush must run even if no descriptor is reported:
   * 0 when something waits to be sent or to have its done run, the time
   * to the nearest deadline otherwise, -1 when nothing is in flight. */
  int (*timeout)(void *engine);
  /* A watched descriptor's events (MCS_STORE_IO_*) for `tag`: reads,
   * completes operations and runs their done callbacks before returning.
   * A tag the engine no longer uses (it unwatched it earlier in the same
   * turn) must be ignored. */
  void (*event)(void *engine, void *tag, uint32_t events);
} mcs_store_ops;

typedef struct mcs_store mcs_store;

/* Wraps user operations into a store. `ops` is copied (of a version 1
 * table, the members up to destroy; the rest reads as absent); `ud` is
 * BORROWED (passed to every operation, and to ops->destroy when the store
 * is freed, which may release it). MCS_EINVAL (NULL out or ops, an
 * ops->version this library does not know (1 and MCS_STORE_OPS_VERSION
 * are), a missing operation other than destroy, key_prefix and peek, caps
 * it does not know, a non-blocking side with some members missing),
 * MCS_ENOMEM. */
MCS_EXPORT int mcs_store_new(mcs_store **out, const mcs_store_ops *ops,
                             void *ud);
/* Frees the store (calling ops->destroy). Free it only after every manager
 * and loop using it has been freed. NULL is fine. */
MCS_EXPORT void mcs_store_free(mcs_store *store);

/* The store's kind (mcs_store_ops.kind; "custom" when it set none),
 * static storage; NULL for a NULL store. For diagnostics only. Any
 * thread. */
MCS_EXPORT const char *mcs_store_kind(const mcs_store *store);
/* The store's MCS_STORE_CAP_* flags (0 for NULL). Any thread. */
MCS_EXPORT unsigned mcs_store_caps(const mcs_store *store);
/* The store's default key prefix (mcs_store_ops.key_prefix), or NULL when
 * it has none. BORROWED, valid until the store is freed. Any thread. */
MCS_EXPORT const char *mcs_store_key_prefix(const mcs_store *store);

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
/* Reads `key` without touching it (ops->peek, or get with touch_ttl 0
 * when the store has none): like mcs_store_get with touch_ttl 0, and on
 * a hit *ttl (may be NULL) gets the seconds the key has left,
 * MCS_STORE_TTL_NEVER or MCS_STORE_TTL_UNKNOWN (see mcs_store_ops.peek).
 * cas and flags may be NULL. The value is OWNED by the caller (mcs_free);
 * NULL on a miss. */
MCS_EXPORT int mcs_store_peek(mcs_store *store, const char *key, size_t key_len,
                              size_t max_len, void **data, size_t *len,
                              uint64_t *cas, uint32_t *flags, int64_t *ttl,
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
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
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
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zero. */
  uint64_t reserved[8];
} mcs_memory_stats;
/* Figures for a memory store; MCS_EINVAL if `store` is not one. */
MCS_EXPORT int mcs_store_memory_stats_get(const mcs_store *store,
                                          mcs_memory_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_STORE_H */
