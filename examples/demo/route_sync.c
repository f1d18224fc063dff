/* The blocking driver: every phase of a route (route_def.h) in one call,
 * for servers whose threads may wait on the store (examples/evhttp). */
#include "route_def.h"

void route(app *a, const request *rq, reply *rp) {
  const route_def *d = route_find(rq, rp);
  if (!d)
    return;
  route_call c = {0};
  route_step step = STEP_REPLY;
  int rc = d->session ? rq->load(a->mgr, rq, &c.session) : MCS_OK;
  if (rc != MCS_OK)
    route_session_error(rp, rc);
  else
    step = d->prepare(a, rq, &c, rp);
  if (step == STEP_WORK) {
    d->work(a, &c);
    step = d->after_work(a, rq, &c, rp);
  }
  if (step == STEP_SAVE)
    route_saved(a, rq, d, &c, rp, mcs_session_save(c.session));
  route_finish(&c, rp);
}
