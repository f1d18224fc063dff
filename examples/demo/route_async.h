/* The event-loop driver: the routes (route_def.h) through an mcs_loop, so
 * that a thread serving many connections never waits for the store. A
 * task starts in the server's request handler; whatever needs the store
 * continues in callbacks that mcs_loop_run makes on the same thread, and
 * the task ends by handing back the finished reply. */
#ifndef DEMO_ROUTE_ASYNC_H
#define DEMO_ROUTE_ASYNC_H

#include <stdbool.h>

#include <mcsession.h>

#include "route_def.h"

typedef struct route_task route_task;

struct route_task {
  reply rp; /* the answer, complete once the task is done */
  /* Private to route_async.c. */
  app *a;
  mcs_loop *loop;
  const request *rq;
  const route_def *def;
  route_call call;
  void (*done)(route_task *t);
  void *ud; /* the server's, for done */
};

/* Answers *rq with the loop's thread. Returns true when t->rp is already
 * complete (no store round trip was needed: /ping, the memory store, a
 * request refused early); done is not called then. Returns false when the
 * task goes on in callbacks from mcs_loop_run on this thread and ends
 * with done(t), t->rp complete. Until then *t, *rq (and what it points
 * to) must stay valid and untouched. t is initialised here; `ud` is
 * stored in t->ud. */
bool route_task_start(route_task *t, app *a, mcs_loop *loop, const request *rq,
                      void (*done)(route_task *t), void *ud);

/* Frees what the task still holds (the reply's body and session), for a
 * reply that was sent or will not be. Not while the task is running. */
void route_task_release(route_task *t);

#endif
