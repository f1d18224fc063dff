/* libmicrohttpd glue: the access handler, the per-request state, and the
 * start of one daemon that an event-loop thread (evloop.c) drives. */
#ifndef DEMO_SERVER_H
#define DEMO_SERVER_H

#include <stdbool.h>

#include <mcsession.h>

#include "app.h"
#include "connguard.h"

struct MHD_Daemon;

/* What the handlers of one daemon share with the thread that runs it. */
typedef struct server_loop {
  app *a;
  mcs_loop *loop; /* this thread's; sessions load and save through it */
  /* Set when a request finished in an mcs_loop callback and its
   * connection was resumed. MHD without its own thread has no way to
   * wake itself for that (it drops its inter-thread channel in external
   * polling mode), so the thread must call MHD_run again at once. */
  bool resumed;
} server_loop;

/* Starts an MHD daemon without a thread of its own (the caller runs it
 * with MHD_run) on the listening socket `fd`, which the daemon owns from
 * then on: MHD_stop_daemon closes it. The handlers use *sl, which must
 * outlive the daemon, and its connections are held to `guard`'s limits
 * (`max_connections`: the guard's total), which must too. NULL on failure
 * (MHD has logged why); fd is then in an unknown state (MHD 0.9.75 closes
 * it on some failure paths and not on others): leave it alone. */
struct MHD_Daemon *server_daemon_start(server_loop *sl, int fd,
                                       connguard_loop *guard,
                                       unsigned max_connections);

#endif
