/* mcsession-gate: a forward-auth daemon. A proxy (nginx auth_request,
 * Traefik forwardAuth, Caddy forward_auth) asks it, for each request,
 * whether the session the request's cookies name has a user; it answers
 * 200 with X-Session-User, 401, or 503 (handler.c, verdict.c). See
 * --help, mcsession-gate(1) and docs/nginx.md.
 *
 * Built like the demo on libmicrohttpd (serve/evloop.c: one MHD daemon
 * and one mcs_loop per thread, so no thread ever waits for the store;
 * serve/connguard.c: connection limits), with the same session setup
 * (serve/sessions.c), through the public API only. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "evloop.h"
#include "flags.h"
#include "gatelog.h"
#include "handler.h"
#include "listen.h"
#include "sessions.h"

const char gate_program[] = "mcsession-gate";

/* MHD's per-connection memory: the request header block and the read
 * buffer. nginx forwards the client's headers to the gate, up to its
 * large_client_header_buffers (4 x 8 KiB by default); a block that did
 * not fit would get MHD's own 431, which auth_request turns into a 500
 * for the client. 64 KiB holds them. */
#define CONNECTION_MEMORY (64u * 1024u)
/* A connection whose request or answer stops moving is dropped after
 * this; request headers have their own deadline (--header-timeout). */
#define CONNECTION_TIMEOUT_S 30u

static int open_listener(const gate_flags *f) {
  char err[512];
  int bad_spec;
  int fd = listen_open(f->listen, &bad_spec, err, sizeof err);
  if (fd < 0)
    fprintf(stderr, "%s: %s\n", gate_program, err);
  return fd >= 0 ? fd : bad_spec ? -GATE_EXIT_USAGE : -1;
}

static void announce(int fd, const gate_flags *f, unsigned max_connections) {
  char url[128];
  if (listen_url(fd, url, sizeof url) != 0)
    url[0] = '\0';
  /* The first line on stdout: tests and people read the URL from it. */
  printf("%s: serving %s (store: %s, %s mode, %u thread%s, at most %u "
         "connections; Ctrl-C stops)\n",
         gate_program, url, f->store, f->tornado ? "tornado" : "native",
         f->threads, f->threads == 1 ? "" : "s", max_connections);
  fflush(stdout);
}

/* Serves until SIGINT or SIGTERM, which are blocked before the threads
 * start (they inherit the mask), so only sigwait sees them. */
static int serve(gate_app *g, mcs_store *store, const gate_flags *f,
                 int fd) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN); /* a proxy that hangs up is not fatal */
  evloops_config cfg = {
      .program = gate_program,
      .store = store,
      .app = g,
      .threads = f->threads,
      .max_connections = f->max_connections,
      .default_connections = GATE_MAX_CONNECTIONS,
      .max_per_address = f->max_per_address,
      .header_timeout_s = f->header_timeout,
      .connection_memory = CONNECTION_MEMORY,
      .connection_timeout_s = CONNECTION_TIMEOUT_S,
      .on_request = gate_on_request,
      .on_completed = gate_on_completed,
  };
  evloops *e = evloops_start(fd, &cfg);
  if (!e) {
    close(fd);
    return 1;
  }
  announce(fd, f, evloops_max_connections(e));
  int sig = 0;
  sigwait(&set, &sig);
  evloops_stop(e);
  fprintf(stderr, "%s: stopped (signal %d)\n", gate_program, sig);
  return 0;
}

int main(int argc, char **argv) {
  gate_flags f;
  int rc = flags_parse(&f, argc, argv);
  if (rc >= 0)
    return rc;
  sessions_opts o = {
      .program = gate_program,
      .store = f.store,
      .tornado = f.tornado,
      .secret_file = f.secret_file,
      .cookie_secret_file = f.cookie_secret_file,
      .session_secret_file = f.session_secret_file,
      .idle_timeout = f.idle_timeout,
      .absolute_timeout = f.absolute_timeout,
      .absolute_set = f.absolute_set,
      .log = gatelog_library,
  };
  sessions s;
  if ((rc = sessions_open(&s, &o)) != 0)
    return rc;
  gate_app g = {s.mgr, {f.tornado, f.user_key ? f.user_key : "user_name"}};
  int fd = open_listener(&f);
  rc = fd < 0 ? -fd : serve(&g, s.store, &f, fd);
  sessions_close(&s);
  return rc;
}
