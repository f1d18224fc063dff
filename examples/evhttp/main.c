/* mcsession-evhttp-demo: the demo app (examples/demo: routes, pages,
 * flags, ...) served by libevent's evhttp through the mcsession evhttp
 * adapter, instead of libmicrohttpd. Same flags, routes and limits; see
 * --help. This file only names the server and its start and stop. */
#include "flags.h"
#include "run.h"
#include "server.h"

const char demo_program[] = "mcsession-evhttp-demo";
const char demo_http_library[] = "libevent's evhttp";
const char demo_threads_help[] =
    "request threads; a request waiting for the\n"
    "                             store holds up only its own thread's\n"
    "                             connections, so give several when the\n"
    "                             store may be slow";
/* One, as the libmicrohttpd demo: the same default for the same flag, so
 * the two servers start alike; --threads adds more. */
const unsigned demo_default_threads = 1;
/* libevent 2.1's evhttp takes each connection it accepts with no hook to
 * refuse it first, and its timeouts restart with every byte read: the
 * limits of serve/connguard.h are the libmicrohttpd server's. */
const int demo_connection_limits = 0;

static void *start(app *a, int fd, demo_flags *f) {
  return evserver_start(a, fd, f->threads);
}

static void stop(void *server) { evserver_stop(server); }

int main(int argc, char **argv) {
  static const demo_server evhttp = {start, stop};
  return demo_main(argc, argv, &evhttp);
}
