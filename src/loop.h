/*
 * Internal view of mcs_loop (loop.c) and the engines it drives: one store
 * operation in flight (mcs__aop), the memcached engine that pipelines them
 * (mc_async.c), and the hooks session_async.c uses.
 */
#ifndef MCS_LOOP_INTERNAL_H
#define MCS_LOOP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef enum mcs__op_kind {
  MCS__OP_GET = 1, /* read; slides the expiry to `ttl` when ttl > 0 */
  MCS__OP_ADD,
  MCS__OP_CAS,
  MCS__OP_SET,
  MCS__OP_DEL,
  MCS__OP_TOUCH
} mcs__op_kind;

/* One store operation, with the contracts of the mcs_store_ops member of
 * the same name. The request fields are BORROWED until `done` runs; the
 * submitter owns the struct and must not touch it meanwhile. */
typedef struct mcs__aop mcs__aop;
struct mcs__aop {
  /* Request. */
  mcs__op_kind kind;
  const char *key;
  size_t key_len;
  const void *data; /* ADD, CAS, SET */
  size_t len;
  uint32_t flags; /* ADD, CAS, SET: client flags */
  uint32_t ttl;   /* seconds; GET: 0 means "do not slide" */
  uint64_t cas;   /* CAS: the token to compare */
  mcs_store_value *value; /* GET: where a hit's value goes (its max_len
                             bounds the read); NULL drops it */
  /* Result, valid when `done` runs. rc is MCS_OK when the store answered,
   * and then `result` says what it answered. */
  int rc;
  mcs_store_result result;
  uint64_t out_cas;   /* GET hit: the token; ADD/CAS stored: the new one */
  uint32_t out_flags; /* GET hit */
  /* Called once on the loop's thread, from mcs_loop_run (or
   * mcs_loop_free), never from inside the submit call. It may submit
   * other operations. */
  void (*done)(mcs__aop *op);
  void *ctx; /* the submitter's */
  /* Private to the engine running it. */
  mcs__aop *next;
  int64_t deadline; /* monotonic ms */
  size_t server;
  uint32_t opaque; /* O<opaque> on the wire; its reply must echo it */
  bool sent;
};

/* Runs op with the store's blocking operations (for the helper thread),
 * filling its result; does not call op->done. */
void mcs__aop_run(mcs_store *store, mcs__aop *op);

/* ---- The memcached engine (mc_async.c) ----
 * Non-blocking connections owned by one loop, one per server, opened on
 * first use. Each submitted operation is formatted at once onto its
 * server's output buffer and remembered in that connection's FIFO; flush
 * writes each buffer with one send. Replies come back in order
 * (memcached answers a connection's requests in order) and complete the
 * FIFO's head. Any socket error, malformed reply or deadline passed
 * closes the connection and fails every operation in its FIFO (a stream
 * that may be out of step is never reused); a connection that fails
 * marks its server down for retry_s, during which operations fail at once
 * with MCS_ESTORE. Reads (GET) that were sent on a connection the server
 * closed before answering anything are sent again once on a fresh
 * connection, as the blocking client does; writes are not (their effect
 * is unknown). Single-threaded: every call from the loop's thread. */
typedef struct mcs__mc_async mcs__mc_async;

/* For `store` when it is a memcached store with replicas=0: *out is a new
 * engine whose sockets are added to `epfd` (epoll) with data.ptr set to
 * an engine-owned tag, passed back to mcs__mc_async_event. MCS_EINVAL when
 * the store is not such a store (the caller then runs operations another
 * way), MCS_ENOMEM. */
int mcs__mc_async_new(mcs_store *store, int epfd, mcs__mc_async **out);
/* Closes the connections; operations still in flight complete with
 * MCS_ESTORE (their done runs here). NULL is fine. */
void mcs__mc_async_free(mcs__mc_async *a);
/* Queues op (its done runs later, on success or failure). A key the store
 * cannot hold or a value over the item limit completes with MCS_EINVAL or
 * MCS_ETOOBIG without reaching the network. */
void mcs__mc_async_submit(mcs__mc_async *a, mcs__aop *op);
/* Sends what was queued (non-blocking; what the socket does not take now
 * waits for EPOLLOUT), then fails operations past their deadline, then
 * runs the done callbacks of everything completed since the last call. */
void mcs__mc_async_flush(mcs__mc_async *a);
/* An epoll event for one of the engine's sockets (tag = data.ptr). Reads
 * and completes replies; their done callbacks run before it returns. */
void mcs__mc_async_event(mcs__mc_async *a, void *tag, uint32_t events);
/* True when `tag` is one of this engine's. */
bool mcs__mc_async_owns(const mcs__mc_async *a, const void *tag);
/* Milliseconds until the nearest deadline (0: something waits to be sent
 * or to have its done run), -1 when nothing is in flight. */
int mcs__mc_async_timeout(const mcs__mc_async *a);
/* Operations submitted and not yet completed. */
size_t mcs__mc_async_pending(const mcs__mc_async *a);

/* ---- Hooks for session_async.c (loop.c) ---- */
/* The store the loop runs operations on. */
mcs_store *mcs__loop_store(const mcs_loop *loop);
/* The loop's memcached engine, or NULL when operations run another way. */
mcs__mc_async *mcs__loop_mc(const mcs_loop *loop);
/* True when the store's operations never block (the memory store): the
 * *_start functions then simply call the synchronous code. */
bool mcs__loop_inline(const mcs_loop *loop);
/* Counts one callback the application waits for (mcs_loop_pending);
 * mcs__loop_settled takes it back, just before that callback runs. */
void mcs__loop_owe(mcs_loop *loop);
void mcs__loop_settled(mcs_loop *loop);
/* Runs work(ud) on the helper thread, then done(ud) on the loop's thread,
 * without counting it in mcs_loop_pending (the caller counts what the
 * application waits for). MCS_ENOMEM, MCS_EIO. */
int mcs__loop_queue(mcs_loop *loop, void (*work)(void *ud),
                    void (*done)(void *ud), void *ud);

#endif /* MCS_LOOP_INTERNAL_H */
