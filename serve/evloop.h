/* Event-loop threads serving HTTP with libmicrohttpd, for programs that
 * load sessions through an mcs_loop and never wait for the store (the
 * demo, examples/demo/server.c; the gate, gate/handler.c). Each thread
 * runs one MHD daemon without a thread of its own and one mcs_loop; the
 * program supplies the access handler and the completion callback, and
 * gets the thread's loop through their closure. Connection limits and the
 * request-header deadline are connguard.h's, applied to every daemon. */
#ifndef SERVE_EVLOOP_H
#define SERVE_EVLOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>
#include <microhttpd.h>

/* The closure of one thread's access handler and completion callback. */
typedef struct evloop_ctx {
  void *app;      /* evloops_config.app */
  mcs_loop *loop; /* this thread's; sessions load and save through it */
  /* Set it when a request finished in an mcs_loop callback and its
   * connection was resumed (MHD_resume_connection). MHD without its own
   * thread has no way to wake itself for that (it drops its inter-thread
   * channel in external polling mode), so the thread must call MHD_run
   * again at once. */
  bool resumed;
} evloop_ctx;

typedef struct evloops_config {
  const char *program; /* names the program in messages */
  mcs_store *store;    /* every thread's mcs_loop runs over it (BORROWED) */
  void *app;           /* handed to the callbacks in evloop_ctx.app */
  unsigned threads;
  /* Connections at once, every thread together. 0: default_connections,
   * lowered with a warning to what the descriptor limit has room for; a
   * nonzero value that does not fit is an error. */
  unsigned max_connections;
  unsigned default_connections;
  unsigned max_per_address;  /* of them from one address (IPv6: /64) */
  unsigned header_timeout_s; /* for each request header (connguard.h) */
  /* Per connection: MHD's memory pool (headers and read buffer: a header
   * block that does not fit gets MHD's own 431) and its idle timeout. */
  size_t connection_memory;
  unsigned connection_timeout_s;
  /* MHD's callbacks, with the thread's evloop_ctx as closure. The handler
   * must call connguard_header_done on a request's first call and the
   * completion callback connguard_request_done. */
  MHD_AccessHandlerCallback on_request;
  MHD_RequestCompletedCallback on_completed;
} evloops_config;

typedef struct evloops evloops;

/* Starts cfg->threads event-loop threads serving the listening socket
 * `fd` (non-blocking, listening). On success the threads share fd (the
 * caller's until evloops_stop) and a handle is returned; on failure NULL,
 * after saying why on stderr, with nothing left running and fd still the
 * caller's. *cfg is copied. */
evloops *evloops_start(int fd, const evloops_config *cfg);

/* The connection limit in force (see max_connections). */
unsigned evloops_max_connections(const evloops *e);

/* Stops every thread, letting requests that wait for the store finish,
 * closes every connection and fd, and frees the handle. */
void evloops_stop(evloops *e);

#endif
