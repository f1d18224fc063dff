/* Command-line parsing for the demo servers. Each flag takes its value as
 * "--flag VALUE" or "--flag=VALUE"; anything unknown, repeated or out of
 * range prints the usage line and exits 2, before anything starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "number.h"
#include "sessions.h"

/* The usage line after "usage: PROGRAM ": the flags every server has,
 * then the connection limits where the server has them. */
#define USAGE_ARGS                                                             \
  "[--listen ADDR:PORT] [--store memory|memcached://HOST:PORT|"                \
  "redis://HOST:PORT] [--mode native|tornado] [--secret-file FILE] "           \
  "[--cookie-secret-file FILE --session-secret-file FILE] "                    \
  "[--idle-timeout SECONDS] [--absolute-timeout SECONDS] "                   \
  "[--seal-records on|accept-plain|off] [--threads N] "
#define USAGE_LIMITS                                                           \
  "[--max-connections N] [--max-per-address N] [--header-timeout SECONDS] "

static void print_usage(FILE *out) {
  fprintf(out, "usage: %s " USAGE_ARGS "%s[--help]\n", demo_program,
          demo_connection_limits ? USAGE_LIMITS : "");
}

static const char HELP_FLAGS[] =
    "  --listen ADDR:PORT         where to listen (default 127.0.0.1:8080;\n"
    "                             port 0 picks a free port; [::1]:PORT for "
    "IPv6)\n"
    "  --store memory|URL         session store: the embedded memory store\n"
    "                             (default), memcached://host:port[,...],\n"
    "                             redis://host:port[/db] or\n"
    "                             redis+cluster://host:port[,...] (native\n"
    "                             mode only)\n"
    "  --mode native|tornado      native (default): mcsession's own cookie\n"
    "                             and records; tornado: the Tornado recipe's\n"
    "                             (cookies session_id + verification, pickled\n"
    "                             records under the raw id), sharing users\n"
    "                             with the Python app on the same memcached\n"
    "                             (several servers: add ?hash=python-memcache\n"
    "                             to the store URL)\n"
    "  --secret-file FILE         native: cookie-signing secret (16+ bytes,\n"
    "                             e.g. from 'mcsession keygen'); without it a\n"
    "                             random secret is made and sessions end with\n"
    "                             the process\n"
    "  --cookie-secret-file FILE  tornado, required: the app's cookie_secret\n"
    "                             (16+ bytes)\n"
    "  --session-secret-file FILE tornado, required: the recipe's\n"
    "                             session_secret (1+ bytes)\n"
    "                             (one trailing newline in a secret file is\n"
    "                             not part of the secret)\n"
    "  --idle-timeout SECONDS     session idle timeout (default 1800;\n"
    "                             tornado: the recipe's session_timeout)\n"
    "  --absolute-timeout SECONDS native: session lifetime however active; 0\n"
    "                             disables (default 86400)\n"
    "  --seal-records on|accept-plain|off\n"
    "                             native: records in the store encrypted\n"
    "                             and authenticated (on, the default);\n"
    "                             accept-plain also loads plain records\n"
    "                             while a deployment migrates; off writes\n"
    "                             plain records (docs/security.md)\n";

/* The limits that keep one client from holding every connection
 * (connguard.h); the defaults are DEMO_MAX_CONNECTIONS and the others. */
static const char HELP_LIMITS[] =
    "  --max-connections N        connections at once, every thread\n"
    "                             together (1 to 100000; default 1000, or\n"
    "                             what the descriptor limit has room for);\n"
    "                             more are closed as they arrive\n"
    "  --max-per-address N        connections at once from one client\n"
    "                             address, IPv6 counted by /64 (1 to 100000;\n"
    "                             default 64; behind a reverse proxy, make\n"
    "                             it --max-connections)\n"
    "  --header-timeout SECONDS   a connection that has not sent a whole\n"
    "                             request header this long after it opened,\n"
    "                             or after its previous answer, is closed;\n"
    "                             trickled bytes do not extend it (1 to\n"
    "                             3600; default 10)\n";

static void help(void) {
  print_usage(stdout);
  printf("\nThe Tornado session recipe's login app, in C with mcsession and\n"
         "%s.\n\n",
         demo_http_library);
  fputs(HELP_FLAGS, stdout);
  /* Each server says what its threads are. */
  printf("  --threads N                %s (default %u)\n", demo_threads_help,
         demo_default_threads);
  if (demo_connection_limits)
    fputs(HELP_LIMITS, stdout);
  fputs("  --help                     this text\n", stdout);
}

int flags_usage_error(const char *what, const char *arg) {
  fprintf(stderr, "%s: %s '%s'\n", demo_program, what, arg);
  print_usage(stderr);
  return DEMO_EXIT_USAGE;
}

int flags_usage_message(const char *message) {
  fprintf(stderr, "%s: %s\n", demo_program, message);
  print_usage(stderr);
  return DEMO_EXIT_USAGE;
}

typedef struct flag_def {
  const char *name;
  int id;
} flag_def;

enum {
  F_LISTEN,
  F_STORE,
  F_SECRET,
  F_IDLE,
  F_ABSOLUTE,
  F_THREADS,
  F_MODE,
  F_COOKIE_SECRET,
  F_SESSION_SECRET,
  F_SEAL,
  F_MAX_CONNECTIONS, /* this one and the next two: demo_connection_limits */
  F_MAX_PER_ADDRESS,
  F_HEADER_TIMEOUT
};

static const flag_def defs[] = {
    {"listen", F_LISTEN},
    {"store", F_STORE},
    {"mode", F_MODE},
    {"secret-file", F_SECRET},
    {"cookie-secret-file", F_COOKIE_SECRET},
    {"session-secret-file", F_SESSION_SECRET},
    {"idle-timeout", F_IDLE},
    {"absolute-timeout", F_ABSOLUTE},
    {"threads", F_THREADS},
    {"seal-records", F_SEAL},
    {"max-connections", F_MAX_CONNECTIONS},
    {"max-per-address", F_MAX_PER_ADDRESS},
    {"header-timeout", F_HEADER_TIMEOUT},
};

/* A server without the connection limits does not know their flags. */
static int lookup(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
      return defs[i].id >= F_MAX_CONNECTIONS && !demo_connection_limits
                 ? -1
                 : defs[i].id;
  return -1;
}

/* The longest timeouts we accept: 30 days, memcached's limit for a
 * relative expiry. */
#define TIMEOUT_MAX (30ul * 24 * 3600)

/* The most connections we take a limit for; the per-address table has a
 * bucket per connection (connguard.c). */
#define CONNECTIONS_MAX 100000ul
/* The longest header timeout: an hour is already no defence. */
#define HEADER_TIMEOUT_MAX 3600ul

static unsigned long number_max(int id) {
  switch (id) {
  case F_THREADS:
    return 256;
  case F_MAX_CONNECTIONS:
  case F_MAX_PER_ADDRESS:
    return CONNECTIONS_MAX;
  case F_HEADER_TIMEOUT:
    return HEADER_TIMEOUT_MAX;
  default:
    return TIMEOUT_MAX;
  }
}

static int set_number(demo_flags *f, int id, const char *arg,
                      const char *value) {
  unsigned long v;
  unsigned long min = id == F_ABSOLUTE ? 0 : 1;
  if (serve_parse_uint(value, min, number_max(id), &v) != 0)
    return flags_usage_error("bad number for", arg);
  if (id == F_THREADS)
    f->threads = (unsigned)v;
  else if (id == F_IDLE)
    f->idle_timeout = (uint32_t)v;
  else if (id == F_MAX_CONNECTIONS)
    f->max_connections = (unsigned)v;
  else if (id == F_MAX_PER_ADDRESS)
    f->max_per_address = (unsigned)v;
  else if (id == F_HEADER_TIMEOUT)
    f->header_timeout = (unsigned)v;
  else {
    f->absolute_timeout = (uint32_t)v;
    f->absolute_set = 1;
  }
  return -1;
}

static int set_flag(demo_flags *f, int id, const char *arg, const char *value,
                    unsigned *seen) {
  if (*seen & (1u << id))
    return flags_usage_error("flag given twice:", arg);
  *seen |= 1u << id;
  if (id == F_LISTEN)
    f->listen = value;
  else if (id == F_STORE) {
    if (sessions_store_kind_of(value) == SESSIONS_STORE_UNKNOWN)
      return flags_usage_error("unknown store", value);
    f->store = value;
  } else if (id == F_MODE) {
    if (strcmp(value, "native") != 0 && strcmp(value, "tornado") != 0)
      return flags_usage_error("unknown mode", value);
    f->mode = strcmp(value, "tornado") == 0 ? DEMO_MODE_TORNADO
                                            : DEMO_MODE_NATIVE;
  } else if (id == F_SEAL) {
    static const char *const names[] = {"on", "accept-plain", "off"};
    int i = 0;
    while (i < 3 && strcmp(value, names[i]) != 0)
      i++;
    if (i == 3)
      return flags_usage_error("unknown --seal-records value", value);
    f->seal_records = i; /* the order of mcs_seal_mode */
  } else if (id == F_SECRET)
    f->secret_file = value;
  else if (id == F_COOKIE_SECRET)
    f->cookie_secret_file = value;
  else if (id == F_SESSION_SECRET)
    f->session_secret_file = value;
  else
    return set_number(f, id, arg, value);
  return -1;
}

/* Flags that are fine alone but not together; checked after all are read,
 * so their order on the command line does not matter. */
static int check_combination(const demo_flags *f) {
  if (f->mode == DEMO_MODE_NATIVE) {
    if (f->cookie_secret_file || f->session_secret_file)
      return flags_usage_error(
          "only --mode tornado takes",
          f->cookie_secret_file ? "--cookie-secret-file"
                                : "--session-secret-file");
    return -1;
  }
  if (f->secret_file) /* the recipe's cookie_secret is the signing secret */
    return flags_usage_error("--mode tornado takes --cookie-secret-file, not",
                             "--secret-file");
  if (!f->cookie_secret_file || !f->session_secret_file)
    return flags_usage_error(
        "--mode tornado needs",
        f->cookie_secret_file ? "--session-secret-file"
                              : "--cookie-secret-file");
  if (f->seal_records) /* the recipe's records are pickles, never sealed */
    return flags_usage_error("--mode tornado has no", "--seal-records");
  if (f->absolute_set) /* the recipe's records carry no creation time */
    return flags_usage_error("--mode tornado has no", "--absolute-timeout");
  return -1;
}

static void defaults(demo_flags *f) {
  memset(f, 0, sizeof *f);
  f->listen = "127.0.0.1:8080";
  f->store = "memory";
  f->threads = demo_default_threads;
  f->max_per_address = DEMO_MAX_PER_ADDRESS;
  f->header_timeout = DEMO_HEADER_TIMEOUT_S;
}

int flags_parse(demo_flags *f, int argc, char **argv) {
  defaults(f);
  unsigned seen = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      help();
      return 0;
    }
    if (strncmp(arg, "--", 2) != 0)
      return flags_usage_error("unexpected argument", arg);
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    int id = lookup(arg + 2, len);
    if (id < 0)
      return flags_usage_error("unknown flag", arg);
    if (!eq && i + 1 >= argc)
      return flags_usage_error("flag needs a value:", arg);
    int rc = set_flag(f, id, arg, eq ? eq + 1 : argv[++i], &seen);
    if (rc >= 0)
      return rc;
  }
  return check_combination(f);
}
