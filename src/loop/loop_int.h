/*
 * The loop wing: mcs_loop (loop.c), an event loop's helper — an epoll
 * descriptor the application watches, a helper thread for work that may
 * block, and the engine of the store's non-blocking side when it has one
 * (driven only through mcs_store_ops: the loop knows no particular
 * store) — and the hooks the session wing's *_start functions use. The
 * only code of the library that calls epoll (scripts/check_layers.py
 * holds it to that).
 *
 * May use: util, store. Knows nothing of sessions.
 * (docs/design.md, "Event loops")
 */
#ifndef MCS_LOOP_INT_H
#define MCS_LOOP_INT_H

#include "store/store_int.h"

/* ---- Hooks for session_async.c (loop.c) ---- */
/* The store the loop runs operations on. */
mcs_store *mcs__loop_store(const mcs_loop *loop);
/* How the loop runs store operations (mcsession/store.h, "The
 * non-blocking side"): */
/* the store's operations never block (MCS_STORE_CAP_NONBLOCKING): the
 * *_start functions simply call the synchronous code; */
bool mcs__loop_inline(const mcs_loop *loop);
/* the store attached an engine: operations go to mcs__loop_submit;
 * otherwise they run on the helper thread (mcs__loop_queue). */
bool mcs__loop_async(const mcs_loop *loop);
/* Submits op to the store's engine (only when mcs__loop_async): its done
 * runs later on the loop's thread, from mcs_loop_run or mcs_loop_free,
 * never inside this call. */
void mcs__loop_submit(mcs_loop *loop, mcs_store_op *op);
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
