/* mcsession-demo: the Tornado session recipe's login app (DESIGN
 * section 1) in C, with mcsession and libmicrohttpd. See --help. The
 * program around the server is shared with the libevent example
 * (run.c); this file only names the server and its start and stop. */
#include <microhttpd.h>

#include "flags.h"
#include "run.h"
#include "server.h"

const char demo_program[] = "mcsession-demo";
const char demo_http_library[] = "libmicrohttpd";

static void *start(app *a, int fd, unsigned threads) {
  return server_start(a, fd, threads);
}

static void stop(void *server) {
  MHD_stop_daemon(server); /* waits for requests in progress */
}

int main(int argc, char **argv) {
  static const demo_server mhd = {start, stop};
  return demo_main(argc, argv, &mhd);
}
