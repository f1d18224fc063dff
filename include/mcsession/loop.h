/*
 * mcsession: event loops — sessions loaded and saved without blocking the
 * thread, for servers that serve many connections per thread. Part of
 * mcsession.h.
 */
#ifndef MCSESSION_LOOP_H
#define MCSESSION_LOOP_H

#include "mcsession/session.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * mcs_session_load/save on the loop's helper thread, and their callback
 * comes back to the loop's thread. How a store is driven depends only on
 * what its table provides (mcsession/store.h, "The non-blocking side"),
 * never on which store it is:
 *   - a store whose operations never block (MCS_STORE_CAP_NONBLOCKING:
 *     the memory store): they run at once, so the *_start functions
 *     complete without MCS_PENDING;
 *   - a store with a non-blocking side (the memcached store with
 *     replicas=0, or one of your own): the loop attaches the store's
 *     engine, whose descriptors it watches in its epoll set (memcached:
 *     pipelined connections owned by the loop, one per server, besides
 *     the store's shared pool);
 *   - any other store (memcached with replicas > 0, a blocking store of
 *     your own): each operation runs on the loop's helper thread.
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
 * outlive the loop). Attaches the store's engine when it has one. No
 * thread or connection is opened yet: the helper thread starts with the
 * first job that needs it, connections with the first request to their
 * server. MCS_EINVAL (NULL out or store), MCS_ENOMEM, MCS_EIO (epoll or
 * eventfd could not be created), or what the store's attach returned. */
MCS_EXPORT int mcs_loop_new(mcs_loop **out, mcs_store *store);
/* Runs the loop until nothing is pending (so every callback still due
 * runs, bounded by the store's timeouts), stops the helper thread,
 * detaches the store's engine (closing the loop's connections) and frees
 * it. NULL is fine. */
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

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_LOOP_H */
