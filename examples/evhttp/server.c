/* One event base and one evhttp per thread, all accepting on the same
 * listening socket (opened once by listen.c). The session calls block the
 * loop that runs them (mcsession/evhttp.h), so a request waiting for a
 * slow store stalls only its own thread's connections: the kernel hands
 * new connections to whichever loop is free to accept them.
 *
 * Each base is used only by its own thread, so libevent needs no locking
 * (no evthread_use_pthreads). Stopping uses a pipe: every loop watches its
 * read end, and closing the write end makes it readable (EOF) for all of
 * them at once; each loop then breaks itself. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "flags.h"
#include "handler.h"
#include "server.h"

/* Header blocks up to this size reach the handler, which answers 431 for
 * a Cookie header over MCS_COOKIE_HEADER_MAX (8 KiB); larger ones are
 * refused by evhttp itself, with 400 in libevent 2.1 (it reports them as
 * an invalid header and has no hook to choose the status). Without a
 * limit evhttp would buffer headers without bound. Same budget as the
 * libmicrohttpd server's connection memory. */
#define MAX_HEADERS_SIZE (64 * 1024)
/* evhttp reads bodies up to this size; the handler answers 413 for any
 * over DEMO_BODY_MAX (16 KiB), with the connection kept, after reading it
 * whole, as the libmicrohttpd server does. evhttp refuses a larger body
 * itself the moment it sees the size (a Content-Length or a chunk header)
 * with 413 and closes the connection at once, while a client may still be
 * sending: that resets the connection, and the client may miss the answer.
 * The margin keeps that to bodies far beyond anything the demo accepts. */
#define READ_BODY_MAX (4 * DEMO_BODY_MAX)
/* Idle keep-alive connections and stalled clients are dropped after this. */
#define CONNECTION_TIMEOUT_S 30

/* Every method evhttp parses: the routes answer 405 (with Allow) for the
 * ones a path does not take, where evhttp's default set would answer 501
 * for some. */
#define ALL_METHODS                                                            \
  (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |       \
   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |                 \
   EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

typedef struct worker {
  struct event_base *base;
  struct evhttp *http;
  struct event *stop;
  pthread_t thread;
} worker;

struct evserver {
  worker *workers;
  unsigned n;       /* workers set up */
  unsigned running; /* threads started */
  int fd;           /* the listening socket, shared */
  int stop_pipe[2]; /* closing [1] stops every loop */
};

static void on_stop(evutil_socket_t fd, short what, void *base) {
  (void)fd;
  (void)what;
  event_base_loopbreak(base);
}

/* Configures w->http and makes it accept on `fd`. evhttp_accept_socket
 * would wrap fd in a listener that closes it when freed, once per thread;
 * a listener of our own without LEV_OPT_CLOSE_ON_FREE leaves the one fd to
 * evserver_stop. Backlog 0: the socket is already listening. */
static int setup_http(worker *w, app *a, int fd) {
  evhttp_set_max_headers_size(w->http, MAX_HEADERS_SIZE);
  evhttp_set_max_body_size(w->http, READ_BODY_MAX);
  evhttp_set_timeout(w->http, CONNECTION_TIMEOUT_S);
  evhttp_set_allowed_methods(w->http, ALL_METHODS);
  evhttp_set_gencb(w->http, handle_request, a);
  struct evconnlistener *l =
      evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0, fd);
  if (!l)
    return -1;
  if (!evhttp_bind_listener(w->http, l)) {
    evconnlistener_free(l);
    return -1;
  }
  return 0; /* evhttp_free frees the listener */
}

static int worker_init(worker *w, app *a, int fd, int stop_fd) {
  w->base = event_base_new();
  w->http = w->base ? evhttp_new(w->base) : NULL;
  if (!w->http || setup_http(w, a, fd) != 0)
    return -1;
  w->stop = event_new(w->base, stop_fd, EV_READ, on_stop, w->base);
  return w->stop && event_add(w->stop, NULL) == 0 ? 0 : -1;
}

static void worker_free(worker *w) {
  if (w->http)
    evhttp_free(w->http); /* its listener and connections too */
  if (w->stop)
    event_free(w->stop);
  if (w->base)
    event_base_free(w->base);
}

static void *worker_run(void *arg) {
  worker *w = arg;
  event_base_dispatch(w->base);
  return NULL;
}

/* Stops the threads started so far and frees everything but fd. */
static void teardown(evserver *s) {
  if (s->stop_pipe[1] >= 0)
    close(s->stop_pipe[1]);
  for (unsigned i = 0; i < s->running; i++)
    pthread_join(s->workers[i].thread, NULL);
  for (unsigned i = 0; i < s->n; i++)
    worker_free(&s->workers[i]);
  if (s->stop_pipe[0] >= 0)
    close(s->stop_pipe[0]);
  free(s->workers);
  free(s);
}

static int open_stop_pipe(int p[2]) {
  if (pipe(p) != 0) {
    p[0] = p[1] = -1;
    return -1;
  }
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  return 0;
}

/* libevent's own warnings (it never aborts on them), marked as such. */
static void log_libevent(int severity, const char *msg) {
  (void)severity;
  fprintf(stderr, "%s: libevent: %s\n", demo_program, msg);
}

static int start_threads(evserver *s) {
  for (; s->running < s->n; s->running++) {
    int rc = pthread_create(&s->workers[s->running].thread, NULL, worker_run,
                            &s->workers[s->running]);
    if (rc != 0) {
      fprintf(stderr, "%s: cannot start a thread: %s\n", demo_program,
              strerror(rc));
      return -1;
    }
  }
  return 0;
}

evserver *evserver_start(app *a, int fd, unsigned threads) {
  event_set_log_callback(log_libevent); /* before any thread runs */
  evserver *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->fd = fd;
  s->stop_pipe[0] = s->stop_pipe[1] = -1;
  s->workers = calloc(threads, sizeof *s->workers);
  if (!s->workers || open_stop_pipe(s->stop_pipe) != 0) {
    fprintf(stderr, "%s: %s\n", demo_program, strerror(errno));
    teardown(s);
    return NULL;
  }
  for (; s->n < threads; s->n++) {
    if (worker_init(&s->workers[s->n], a, fd, s->stop_pipe[0]) != 0) {
      s->n++; /* free the half-built one too */
      fprintf(stderr, "%s: cannot set up an event loop\n", demo_program);
      teardown(s);
      return NULL;
    }
  }
  if (start_threads(s) != 0) {
    teardown(s);
    return NULL;
  }
  return s;
}

void evserver_stop(evserver *s) {
  int fd = s->fd;
  teardown(s);
  close(fd);
}
