/* The part of main() both demo servers share; see run.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "flags.h"
#include "listen.h"
#include "run.h"

/* SIGINT and SIGTERM are blocked before the server starts its threads
 * (which inherit the mask), so only sigwait below sees them: a clean
 * stop. */
static void block_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN); /* a client that hangs up is not fatal */
}

/* The listening socket, or minus the exit status. A port in use adds a
 * line for `make demo`, whose ARGS carry flags to the demo: the demo
 * cannot tell whether make started it, so it says both ways. */
static int open_listener(const demo_flags *f) {
  char err[512];
  int bad_spec;
  int fd = listen_open(f->listen, &bad_spec, err, sizeof err);
  if (fd >= 0)
    return fd;
  int e = errno;
  if (bad_spec)
    return -flags_usage_message(err);
  fprintf(stderr, "%s: %s\n", demo_program, err);
  if (e == EADDRINUSE) {
    char next[300];
    listen_next_port(f->listen, next, sizeof next);
    fprintf(stderr, "%s: with make: make demo ARGS=\"--listen %s\"\n",
            demo_program, next);
  }
  return -1;
}

/* The first line on stdout: tests and people read the URL from it, and
 * the limits in force. */
static void announce(int fd, const demo_flags *f) {
  char url[128], limits[128] = "";
  if (listen_url(fd, url, sizeof url) != 0)
    url[0] = '\0';
  if (demo_connection_limits &&
      snprintf(limits, sizeof limits,
               ", at most %u connections, %u per address, %u s for a "
               "request header",
               f->max_connections, f->max_per_address,
               f->header_timeout) >= (int)sizeof limits)
    limits[0] = '\0'; /* not reached: the numbers are bounded */
  printf("%s: serving %s (store: %s, %u thread%s%s%s; Ctrl-C stops)\n",
         demo_program, url, f->store, f->threads, f->threads == 1 ? "" : "s",
         limits,
         f->plain_http ? "; cookies without Secure: plain HTTP on loopback"
                       : "");
  fflush(stdout);
}

/* A store that does not answer at start-up earns a warning, not a refusal
 * to start: it may come up after the demo, and until it does the pages
 * that need a session answer 503 (and /healthz says so). The warning
 * says what to do about it. The store then skips a failed server for its
 * retry_s, as after any failed request. */
static void probe_store(app *a, const demo_flags *f) {
  int rc = app_store_ping(a);
  if (rc != MCS_OK)
    fprintf(stderr,
            "%s: warning: no answer from the store %s at start-up (%s); "
            "serving anyway: pages that need a session answer 503 until "
            "it answers; start memcached there, or give another --store\n",
            demo_program, f->store, mcs_strerror(rc));
}

static int serve(app *a, demo_flags *f, int fd, const demo_server *srv) {
  sigset_t set;
  block_signals(&set);
  void *server = srv->start(a, fd, f);
  if (!server) {
    fprintf(stderr, "%s: %s did not start\n", demo_program, demo_http_library);
    close(fd);
    return 1;
  }
  announce(fd, f);
  int sig = 0;
  sigwait(&set, &sig);
  srv->stop(server);
  fprintf(stderr, "%s: stopped (signal %d)\n", demo_program, sig);
  return 0;
}

int demo_main(int argc, char **argv, const demo_server *srv) {
  demo_flags f;
  int rc = flags_parse(&f, argc, argv);
  if (rc >= 0)
    return rc;
  int fd = open_listener(&f);
  if (fd < 0)
    return -fd;
  f.plain_http = listen_is_loopback(fd);
  app a;
  rc = app_open(&a, &f);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  probe_store(&a, &f);
  rc = serve(&a, &f, fd, srv);
  app_close(&a);
  return rc;
}
