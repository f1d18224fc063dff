/* The evhttp request callback: one evhttp request in, the shared routes
 * (examples/demo/routes.c) in the middle, one evhttp reply out. */
#ifndef EVDEMO_HANDLER_H
#define EVDEMO_HANDLER_H

#include "app.h"

struct evhttp_request;

/* evhttp's generic callback (evhttp_set_gencb), with the app as `arg`.
 * Runs on the thread of the event base that received the request and
 * blocks that loop while the session talks to the store (see
 * mcsession/evhttp.h). */
void handle_request(struct evhttp_request *req, void *arg);

#endif
