/* libmicrohttpd glue: the demo's access handler and completion callback,
 * which serve/evloop.c runs on each event-loop thread's daemon. */
#ifndef DEMO_SERVER_H
#define DEMO_SERVER_H

#include <microhttpd.h>

#include "app.h"
#include "flags.h"

/* Starts the demo's event-loop threads on the listening socket `fd` as
 * the flags say, setting f->max_connections to the limit in force. NULL
 * on failure (said on stderr; fd is still the caller's). */
void *server_start(app *a, int fd, demo_flags *f);
/* Stops them and closes fd. */
void server_stop(void *server);

#endif
