/* What every demo server's main() does around its HTTP library: parse the
 * flags, open the listening socket, build the app, start serving, wait for
 * SIGINT or SIGTERM, stop. Each server supplies how to start and stop. */
#ifndef DEMO_RUN_H
#define DEMO_RUN_H

#include "app.h"

typedef struct demo_server {
  /* Starts serving on the listening socket `fd` (non-blocking, already
   * listening) as the flags say (f->threads request threads, ...). On
   * success it owns fd and returns a handle; on failure it returns NULL,
   * fd is still the caller's, and it may have said why on stderr. A server
   * with connection limits sets f->max_connections to the limit in force,
   * which the start-up line shows. */
  void *(*start)(app *a, int fd, demo_flags *f);
  /* Stops serving, waits for the server's threads, closes fd and frees
   * the handle. */
  void (*stop)(void *server);
} demo_server;

/* The whole program; returns the exit status: 0 after a clean stop or
 * --help, DEMO_EXIT_USAGE for bad flags, 1 when something failed. */
int demo_main(int argc, char **argv, const demo_server *srv);

#endif
