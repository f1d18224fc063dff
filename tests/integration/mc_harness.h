/*
 * Test harness: real memcached processes on 127.0.0.1, started and
 * stopped by PID.
 *
 * Every started process is registered; an atexit handler and handlers for
 * the usual fatal signals kill what is still running, and on Linux the
 * child also gets PR_SET_PDEATHSIG, so a failing or killed test never
 * leaves a memcached behind. Only processes this harness started are ever
 * signalled. Not thread-safe: drive it from the test's main thread.
 */
#ifndef MC_HARNESS_H
#define MC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct mc_node {
  pid_t pid;      /* 0 when not running */
  uint16_t port;  /* kept across stop/restart */
  bool paused;    /* SIGSTOPped */
  /* Another server than memcached (mc_node_start_argv): its argv, NULL
   * terminated, "%port" standing for the port; BORROWED, kept for
   * restarts. NULL: memcached. */
  const char *const *argv;
} mc_node;

/* The memcached binary: $MCS_MEMCACHED, else /usr/bin/memcached. True if
 * it exists and is executable (tests skip otherwise). */
bool mc_harness_available(void);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0,
 * then closed). Nothing listens on it: connecting is refused. 0 on
 * failure. */
uint16_t mc_free_port(void);

/* Starts memcached -l 127.0.0.1 -p <free port> -U 0 -m 64 (and -u root
 * when running as root) and waits (at most 5 s) until it accepts.
 * 0 or -1. */
int mc_node_start(mc_node *n);
/* Starts argv[0] with argv (see mc_node.argv) on a free port, as
 * mc_node_start (a Redis server, say). 0 or -1. */
int mc_node_start_argv(mc_node *n, const char *const *argv);
/* The same on a given port (a cluster node's). 0 or -1. */
int mc_node_start_argv_on(mc_node *n, const char *const *argv, uint16_t port);
/* Starts it again on the same port (after mc_node_stop/kill). 0 or -1. */
int mc_node_restart(mc_node *n);
/* SIGCONT (if paused), SIGTERM, waits up to 2 s, then SIGKILL; reaps. */
void mc_node_stop(mc_node *n);
/* SIGKILL at once; reaps. */
void mc_node_kill(mc_node *n);
/* SIGSTOP / SIGCONT. 0 or -1. */
int mc_node_pause(mc_node *n);
int mc_node_resume(mc_node *n);

/* Sends `request` on a new connection and reads the reply until it ends
 * with `end` (e.g. "\r\n" or "END\r\n"), at most 2 s. The reply is
 * NUL-terminated in reply[0..size). 0 or -1. */
int mc_node_raw(const mc_node *n, const char *request, const char *end,
                char *reply, size_t size);
/* A counter from "stats" (e.g. "cmd_get"). 0 or -1. */
int mc_node_stat(const mc_node *n, const char *name, uint64_t *value);
/* "flush_all". 0 or -1. */
int mc_node_flush(const mc_node *n);

/* A blocking TCP connection to 127.0.0.1:port whose sends and receives
 * give up after timeout_s (SO_SNDTIMEO, SO_RCVTIMEO). The fd, or -1. */
int mc_connect_local(uint16_t port, int timeout_s);

#endif /* MC_HARNESS_H */
