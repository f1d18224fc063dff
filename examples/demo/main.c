/* mcsession-demo: the Tornado session recipe's login app (DESIGN
 * section 1) in C, with mcsession and libmicrohttpd. See --help. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <microhttpd.h>

#include "app.h"
#include "flags.h"
#include "listen.h"
#include "server.h"

/* SIGINT and SIGTERM are blocked before MHD starts its threads (which
 * inherit the mask), so only sigwait below sees them: a clean stop. */
static void block_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN); /* a client that hangs up is not fatal */
}

static int open_listener(const demo_flags *f) {
  char err[512];
  int bad_spec;
  int fd = listen_open(f->listen, &bad_spec, err, sizeof err);
  if (fd >= 0)
    return fd;
  if (bad_spec)
    return -flags_usage_error("bad --listen address", f->listen);
  fprintf(stderr, "mcsession-demo: %s\n", err);
  return -1;
}

static void announce(int fd, const demo_flags *f) {
  char url[128];
  if (listen_url(fd, url, sizeof url) != 0)
    url[0] = '\0';
  printf("mcsession-demo: serving %s (store: %s, %u threads; Ctrl-C "
         "stops)\n",
         url, f->store, f->threads);
  fflush(stdout);
}

static int serve(app *a, const demo_flags *f, int fd) {
  sigset_t set;
  block_signals(&set);
  struct MHD_Daemon *d = server_start(a, fd, f->threads);
  if (!d) {
    fputs("mcsession-demo: libmicrohttpd did not start\n", stderr);
    close(fd);
    return 1;
  }
  announce(fd, f);
  int sig = 0;
  sigwait(&set, &sig);
  MHD_stop_daemon(d); /* waits for requests in progress */
  fprintf(stderr, "mcsession-demo: stopped (signal %d)\n", sig);
  return 0;
}

int main(int argc, char **argv) {
  demo_flags f;
  int rc = flags_parse(&f, argc, argv);
  if (rc >= 0)
    return rc;
  int fd = open_listener(&f);
  if (fd < 0)
    return -fd;
  app a;
  rc = app_open(&a, &f);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  rc = serve(&a, &f, fd);
  app_close(&a);
  return rc;
}
