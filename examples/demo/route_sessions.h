/* "Your sessions" (native mode; 404 in tornado mode, whose sessions are
 * bound to no user): the phases (route_def.h) of
 *   GET  /sessions              the signed-in user's live sessions, this
 *                               device marked, an "End" button for each
 *                               other one and "Log out everywhere else";
 *   POST /sessions/end          ends the one its `handle` field names;
 *   POST /sessions/end-others   ends every listed one but this device's.
 * Every store call (list, end) is work: on the event-loop driver it runs
 * on the loop's helper thread, like "Log out everywhere". routes.c puts
 * them in the route table. */
#ifndef DEMO_ROUTE_SESSIONS_H
#define DEMO_ROUTE_SESSIONS_H

#include "route_def.h"

route_step sessions_prepare(app *a, const request *rq, route_call *c,
                            reply *rp);
void sessions_work(app *a, route_call *c);
route_step sessions_after_work(app *a, const request *rq, route_call *c,
                               reply *rp);
void sessions_render(app *a, const request *rq, route_call *c, reply *rp);

route_step session_end_prepare(app *a, const request *rq, route_call *c,
                               reply *rp);
void session_end_work(app *a, route_call *c);
route_step session_end_after_work(app *a, const request *rq, route_call *c,
                                  reply *rp);

route_step end_others_prepare(app *a, const request *rq, route_call *c,
                              reply *rp);
void end_others_work(app *a, route_call *c);
route_step end_others_after_work(app *a, const request *rq, route_call *c,
                                 reply *rp);

#endif
