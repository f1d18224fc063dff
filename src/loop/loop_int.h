/*
 * The loop wing: mcs_loop (loop.c), an event loop's helper — an epoll
 * descriptor the application watches, a helper thread for work that may
 * block, and the store's non-blocking engine when it has one — and the
 * hooks the session wing's *_start functions use.
 *
 * May use: util, store. Knows nothing of sessions.
 * (docs/design.md, "Event loops")
 */
#ifndef MCS_LOOP_INT_H
#define MCS_LOOP_INT_H

#include "store/store_int.h"
#include "store/memcached/mc_int.h" /* the memcached engine (for now) */

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

#endif /* MCS_LOOP_INT_H */
