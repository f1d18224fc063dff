/* mcsession-demo: the Tornado session recipe's login app (docs/design.md,
 * "Tornado mode") in C, with mcsession and libmicrohttpd. See --help. The
 * program around the server is shared with the libevent example
 * (run.c); this file only names the server and its start and stop:
 * event-loop threads that never wait for the store (server.c on
 * serve/evloop.c). */
#include "flags.h"
#include "run.h"
#include "server.h"

const char demo_program[] = "mcsession-demo";
const char demo_http_library[] = "libmicrohttpd";
const char demo_threads_help[] =
    "event-loop threads; each serves many\n"
    "                             connections at once and never waits for\n"
    "                             the store";
/* One loop keeps a core busy; add threads for more cores. */
const unsigned demo_default_threads = 1;
const int demo_connection_limits = 1; /* serve/connguard.c */

int main(int argc, char **argv) {
  static const demo_server mhd = {server_start, server_stop};
  return demo_main(argc, argv, &mhd);
}
