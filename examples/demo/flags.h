/* The demo's command line. */
#ifndef DEMO_FLAGS_H
#define DEMO_FLAGS_H

#include <stdint.h>

typedef struct demo_flags {
  const char *listen;        /* ADDR:PORT; default 127.0.0.1:8080 */
  const char *store;         /* "memory" or "memcached://..." */
  const char *secret_file;   /* NULL: a random secret for this run */
  uint32_t idle_timeout;     /* seconds; 0: the library's default */
  uint32_t absolute_timeout; /* seconds; 0: disabled */
  int absolute_set;          /* absolute_timeout came from the command line */
  unsigned threads;          /* MHD's thread pool size */
} demo_flags;

#define DEMO_EXIT_USAGE 2

/* Fills *f from argv. Returns -1 to go on, or an exit status: 0 after
 * --help (printed to stdout), DEMO_EXIT_USAGE after a usage line on
 * stderr. */
int flags_parse(demo_flags *f, int argc, char **argv);

/* Prints "mcsession-demo: WHAT 'ARG'" and the usage line to stderr;
 * returns DEMO_EXIT_USAGE. */
int flags_usage_error(const char *what, const char *arg);

#endif
