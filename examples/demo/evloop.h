/* The demo's event-loop threads (libmicrohttpd server). */
#ifndef DEMO_EVLOOP_H
#define DEMO_EVLOOP_H

#include "app.h"

typedef struct evloops evloops;

/* Starts f->threads event-loop threads serving the listening socket `fd`
 * within the flags' connection limits (connguard.h), setting
 * f->max_connections to the limit in force. On success the threads share
 * fd (the caller's until evloops_stop) and a handle is returned; on
 * failure NULL, after saying why on stderr, with nothing left running and
 * fd still the caller's. */
evloops *evloops_start(app *a, int fd, demo_flags *f);

/* Stops every thread, letting requests that wait for the store finish,
 * closes every connection and fd, and frees the handle. */
void evloops_stop(evloops *e);

#endif
