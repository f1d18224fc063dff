/* mcsession-gate's command line. */
#ifndef GATE_FLAGS_H
#define GATE_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#define GATE_EXIT_USAGE 2

/* Connections at once, every thread together, unless --max-connections
 * says otherwise (or the descriptor limit has no room for them). */
#define GATE_MAX_CONNECTIONS 1000u
/* Seconds for each request header, and for a kept-alive connection to
 * send its next one: longer than a proxy needs, and not forever. A proxy
 * that keeps idle connections to the gate should drop them sooner
 * (nginx: keepalive_timeout in the upstream block; docs/nginx.md). */
#define GATE_HEADER_TIMEOUT_S 10u

typedef struct gate_flags {
  const char *listen; /* ADDR:PORT; default 127.0.0.1:8081 */
  const char *store;  /* memcached://, redis[+cluster]://...; required */
  bool tornado;       /* --mode tornado */
  const char *secret_file;         /* native: required */
  const char *cookie_secret_file;  /* tornado: required */
  const char *session_secret_file; /* tornado: required */
  const char *user_key;            /* tornado; default "user_name" */
  uint32_t idle_timeout;           /* 0: the library's default (1800) */
  uint32_t absolute_timeout;       /* native, when absolute_set */
  bool absolute_set;
  unsigned threads;          /* default: the CPUs we may run on */
  unsigned max_connections;  /* 0: GATE_MAX_CONNECTIONS, or what fits */
  unsigned max_per_address;  /* 0: as many as max_connections */
  unsigned header_timeout;   /* seconds */
} gate_flags;

/* Fills *f from argv. Returns -1 to go on, or an exit status: 0 after
 * --help or --version (printed to stdout), GATE_EXIT_USAGE after saying
 * what is wrong, naming the flag, and the usage line on stderr. */
int flags_parse(gate_flags *f, int argc, char **argv);

#endif
