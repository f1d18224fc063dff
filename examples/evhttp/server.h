/* The libevent side of the evhttp example: N threads, each with its own
 * event base and evhttp, all accepting on one listening socket. */
#ifndef EVDEMO_SERVER_H
#define EVDEMO_SERVER_H

#include "app.h"

typedef struct evserver evserver;

/* Starts `threads` event loops serving the app on the listening socket
 * `fd` (non-blocking, already listening). On success the server owns fd;
 * NULL on failure, with fd still the caller's and the cause on stderr. */
evserver *evserver_start(app *a, int fd, unsigned threads);

/* Stops every loop, joins the threads, frees everything, closes fd.
 * Requests being handled finish first; replies not yet written are
 * dropped with their connections. */
void evserver_stop(evserver *s);

#endif
