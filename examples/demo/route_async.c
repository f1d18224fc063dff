/* The event-loop driver (route_async.h). Each step that needs the store
 * either completes at once (MCS_OK: no round trip was needed) or returns
 * MCS_PENDING and continues in its callback; drive() is the one place
 * that decides what comes next, so the immediate and the delayed paths
 * run the same code. Blocking steps (route_def's work) go to the loop's
 * helper thread with mcs_loop_queue_work and come back through it. */
#include "route_async.h"

static bool drive(route_task *t, route_step step);

/* The reply is complete. */
static bool finish(route_task *t) {
  route_finish(&t->call, &t->rp);
  return true;
}

static void work_run(void *ud) { /* on the helper thread */
  route_task *t = ud;
  t->def->work(t->a, &t->call);
}

static void work_done(void *ud) {
  route_task *t = ud;
  if (drive(t, t->def->after_work(t->a, t->rq, &t->call, &t->rp)))
    t->done(t);
}

static void saved(void *ud, int rc, mcs_session *s) {
  route_task *t = ud;
  (void)s; /* t->call.session, the caller's again */
  route_saved(t->a, t->rq, t->def, &t->call, &t->rp, rc);
  finish(t);
  t->done(t);
}

/* Runs `step`; true when the reply is complete now, false when a
 * callback continues later. */
static bool drive(route_task *t, route_step step) {
  int rc;
  switch (step) {
  case STEP_WORK:
    rc = mcs_loop_queue_work(t->loop, work_run, work_done, t);
    if (rc == MCS_OK)
      return false;
    route_session_error(&t->rp, rc);
    break;
  case STEP_SAVE:
    rc = mcs_session_save_start(t->call.session, t->loop, saved, t);
    if (rc == MCS_PENDING)
      return false;
    route_saved(t->a, t->rq, t->def, &t->call, &t->rp, rc);
    break;
  case STEP_REPLY:
    break;
  }
  return finish(t);
}

/* After the load: prepare, or the error page for a failed load. */
static bool loaded_now(route_task *t, int rc) {
  if (rc != MCS_OK) {
    route_session_error(&t->rp, rc);
    return finish(t);
  }
  return drive(t, t->def->prepare(t->a, t->rq, &t->call, &t->rp));
}

static void loaded(void *ud, int rc, mcs_session *s) {
  route_task *t = ud;
  t->call.session = s; /* ours now; NULL when rc says why not */
  if (loaded_now(t, rc))
    t->done(t);
}

bool route_task_start(route_task *t, app *a, mcs_loop *loop, const request *rq,
                      void (*done)(route_task *t), void *ud) {
  *t = (route_task){.a = a, .loop = loop, .rq = rq, .done = done, .ud = ud};
  t->def = route_find(rq, &t->rp);
  if (!t->def)
    return finish(t);
  if (!t->def->session)
    return loaded_now(t, MCS_OK);
  int rc = mcs_session_load_start(a->mgr, loop, rq->cookie, rq->cookie_len,
                                  &t->call.session, loaded, t);
  return rc == MCS_PENDING ? false : loaded_now(t, rc);
}

void route_task_release(route_task *t) {
  mcs_session_free(t->call.session);
  t->call.session = NULL;
  mcs_free(t->call.list);
  t->call.list = NULL;
  mcs_session_free(t->rp.session);
  t->rp.session = NULL;
  sb_free(&t->rp.body);
}
