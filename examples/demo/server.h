/* libmicrohttpd glue: the daemon, the access handler and the per-request
 * state. */
#ifndef DEMO_SERVER_H
#define DEMO_SERVER_H

#include "app.h"

struct MHD_Daemon;

/* Starts MHD on the listening socket `fd` (MHD owns it from then on) with
 * an internal pool of `threads` epoll threads. NULL on failure (MHD has
 * logged why). */
struct MHD_Daemon *server_start(app *a, int fd, unsigned threads);

#endif
