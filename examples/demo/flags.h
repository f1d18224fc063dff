/* The demo's command line, the same for both servers. */
#ifndef DEMO_FLAGS_H
#define DEMO_FLAGS_H

#include <stdint.h>

/* --mode: the library's native sessions, or the Tornado recipe's (two
 * cookies, pickled records under the raw id) to share users with a Python
 * application built on it. */
typedef enum demo_mode { DEMO_MODE_NATIVE = 0, DEMO_MODE_TORNADO } demo_mode;

typedef struct demo_flags {
  const char *listen;        /* ADDR:PORT; default 127.0.0.1:8080 */
  const char *store; /* "memory", "memcached://...", "redis[+cluster]://..." */
  demo_mode mode;            /* default DEMO_MODE_NATIVE */
  const char *secret_file;   /* native: NULL means a random secret */
  /* tornado (both required there, refused in native mode): the recipe's
   * cookie_secret (signs the cookies) and session_secret (derives ids and
   * verification cookies). */
  const char *cookie_secret_file;
  const char *session_secret_file;
  uint32_t idle_timeout;     /* seconds; 0: the library's default */
  uint32_t absolute_timeout; /* seconds; 0: disabled */
  int absolute_set;          /* absolute_timeout came from the command line */
  /* --seal-records: an mcs_seal_mode (0: MCS_SEAL_ON, the library's
   * default); native mode only. */
  int seal_records;
  unsigned threads;          /* server threads (each server's own kind;
                                default demo_default_threads) */
  /* Connection limits (servers with demo_connection_limits only; see
   * connguard.h). max_connections 0: DEMO_MAX_CONNECTIONS, or fewer when
   * the descriptor limit has no room for it. */
  unsigned max_connections;
  unsigned max_per_address; /* default DEMO_MAX_PER_ADDRESS */
  unsigned header_timeout;  /* seconds; default DEMO_HEADER_TIMEOUT_S */
  /* Not a flag: set once the socket is open. On a loopback address the
   * session cookie goes without Secure, so a browser on this machine
   * keeps it over plain http://127.0.0.1 (the one development switch,
   * mcs_cookie_attrs.secure; said at start-up). */
  int plain_http;
} demo_flags;

/* The connection limits' defaults, as a production server would set them:
 * more connections than a single machine's clients need, yet one address
 * gets only a small share of them (browsers open about 6 per host; 64
 * leaves room for an office behind one NAT address), and a request header
 * (a few hundred bytes from any real client) gets seconds, not minutes. */
#define DEMO_MAX_CONNECTIONS 1000u
#define DEMO_MAX_PER_ADDRESS 64u
#define DEMO_HEADER_TIMEOUT_S 10u

#define DEMO_EXIT_USAGE 2

/* Defined by each server's main.c: its name, for messages and usage
 * ("mcsession-demo"), and the HTTP library it runs on, for --help. */
extern const char demo_program[];
extern const char demo_http_library[];
/* Also each server's: what --threads counts, for --help (may span lines,
 * indented to the help's second column), and its default. */
extern const char demo_threads_help[];
extern const unsigned demo_default_threads;
/* Also each server's: whether it enforces --max-connections,
 * --max-per-address and --header-timeout (the libmicrohttpd server does;
 * the others neither offer nor accept them). */
extern const int demo_connection_limits;

/* Fills *f from argv. Returns -1 to go on, or an exit status: 0 after
 * --help (printed to stdout), DEMO_EXIT_USAGE after a usage line on
 * stderr. */
int flags_parse(demo_flags *f, int argc, char **argv);

/* Prints "PROGRAM: WHAT 'ARG'" and the usage line to stderr;
 * returns DEMO_EXIT_USAGE. */
int flags_usage_error(const char *what, const char *arg);
/* Prints "PROGRAM: MESSAGE" (a whole sentence, such as listen_open's)
 * and the usage line to stderr; returns DEMO_EXIT_USAGE. */
int flags_usage_message(const char *message);

#endif
