/* mcsession-gate's command line. Each flag takes its value as "--flag
 * VALUE" or "--flag=VALUE"; anything unknown, repeated, out of range or
 * contradictory prints what is wrong and the usage line, and exits 2,
 * before anything starts. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mcsession.h>

#include "flags.h"
#include "gatelog.h"
#include "number.h"
#include "sessions.h"

#define USAGE_ARGS                                                             \
  "--store memcached://HOST:PORT[,...]|redis://HOST:PORT [--listen ADDR:PORT] "\
  "(--secret-file FILE | --mode tornado --cookie-secret-file FILE "            \
  "--session-secret-file FILE [--user-key NAME]) [--idle-timeout SECONDS] "    \
  "[--absolute-timeout SECONDS] [--threads N] [--max-connections N] "          \
  "[--max-per-address N] [--header-timeout SECONDS] [--help] [--version]"

static const char HELP[] =
    "\nAnswers a proxy's forward-auth request (nginx auth_request, Traefik\n"
    "forwardAuth, Caddy forward_auth) from the mcsession session its Cookie\n"
    "header names: 200 with X-Session-User for a live session with a user,\n"
    "401 otherwise, 503 when the store fails. Any path and method. It reads\n"
    "sessions, never writes them: the read slides the idle expiry, and no\n"
    "Set-Cookie is ever sent.\n\n"
    "  --store URL                memcached://host:port[,...],\n"
    "                             redis://host:port[/db] or\n"
    "                             redis+cluster://host:port[,...] (native\n"
    "                             mode only); required, as the application\n"
    "                             that makes the sessions has it (tornado,\n"
    "                             several servers: add ?hash=python-memcache)\n"
    "  --listen ADDR:PORT         where to listen (default 127.0.0.1:8081;\n"
    "                             port 0 picks a free port; [::1]:PORT for "
    "IPv6)\n"
    "  --mode native|tornado      native (default): mcsession's own cookie,\n"
    "                             the user the session is bound to; tornado:\n"
    "                             the Tornado recipe's cookies and records\n"
    "  --secret-file FILE         native, required: the cookie-signing secret\n"
    "  --cookie-secret-file FILE  tornado, required: the app's cookie_secret\n"
    "  --session-secret-file FILE tornado, required: the recipe's\n"
    "                             session_secret\n"
    "                             (one trailing newline in a secret file is\n"
    "                             not part of the secret)\n"
    "  --user-key NAME            tornado: the session key naming the user\n"
    "                             (default user_name)\n"
    "  --idle-timeout SECONDS     the idle timeout each request slides the\n"
    "                             session to: the application's (default\n"
    "                             1800; tornado: the recipe's session_timeout)\n"
    "  --absolute-timeout SECONDS native: session lifetime however active, as\n"
    "                             the application has it; 0 disables\n"
    "                             (default 86400)\n"
    "  --threads N                event-loop threads (default: one per CPU\n"
    "                             this process may run on)\n"
    "  --max-connections N        connections at once (1 to 100000; default\n"
    "                             1000, or what the descriptor limit allows)\n"
    "  --max-per-address N        of them from one address, IPv6 by /64\n"
    "                             (default: all; the proxy is one address)\n"
    "  --header-timeout SECONDS   for each request header, and for an idle\n"
    "                             kept-alive connection (1 to 3600; default\n"
    "                             10)\n"
    "  --help, --version\n\n"
    "Exit status: 0 after a clean stop (SIGINT, SIGTERM), 1 when it cannot\n"
    "start (a secret file, the socket), 2 for a bad command line.\n";

static void usage(FILE *out) {
  fprintf(out, "usage: %s " USAGE_ARGS "\n", gate_program);
}

static int usage_error(const char *what, const char *arg) {
  fprintf(stderr, "%s: %s%s%s%s\n", gate_program, what, arg ? " '" : "",
          arg ? arg : "", arg ? "'" : "");
  usage(stderr);
  return GATE_EXIT_USAGE;
}

enum {
  F_LISTEN,
  F_STORE,
  F_MODE,
  F_SECRET,
  F_COOKIE_SECRET,
  F_SESSION_SECRET,
  F_USER_KEY,
  F_IDLE,
  F_ABSOLUTE,
  F_THREADS,
  F_MAX_CONNECTIONS,
  F_MAX_PER_ADDRESS,
  F_HEADER_TIMEOUT,
  F_COUNT
};

static const char *const NAMES[F_COUNT] = {
    "listen",         "store",           "mode",
    "secret-file",    "cookie-secret-file", "session-secret-file",
    "user-key",       "idle-timeout",    "absolute-timeout",
    "threads",        "max-connections", "max-per-address",
    "header-timeout",
};

/* 30 days: memcached's limit for a relative expiry. */
#define TIMEOUT_MAX (30ul * 24 * 3600)

static int set_number(gate_flags *f, int id, const char *arg,
                      const char *value) {
  unsigned long min = id == F_ABSOLUTE ? 0 : 1, max = TIMEOUT_MAX, v;
  if (id == F_THREADS)
    max = 256;
  else if (id == F_MAX_CONNECTIONS || id == F_MAX_PER_ADDRESS)
    max = 100000;
  else if (id == F_HEADER_TIMEOUT)
    max = 3600;
  if (serve_parse_uint(value, min, max, &v) != 0)
    return usage_error("bad number for", arg);
  switch (id) {
  case F_IDLE:
    f->idle_timeout = (uint32_t)v;
    break;
  case F_ABSOLUTE:
    f->absolute_timeout = (uint32_t)v;
    f->absolute_set = true;
    break;
  case F_THREADS:
    f->threads = (unsigned)v;
    break;
  case F_MAX_CONNECTIONS:
    f->max_connections = (unsigned)v;
    break;
  case F_MAX_PER_ADDRESS:
    f->max_per_address = (unsigned)v;
    break;
  default:
    f->header_timeout = (unsigned)v;
  }
  return -1;
}

static int set_flag(gate_flags *f, int id, const char *arg,
                    const char *value) {
  switch (id) {
  case F_LISTEN:
    f->listen = value;
    return -1;
  case F_STORE:
    /* The gate reads what other processes write: the memory store would
     * hold no session ever. */
    if (sessions_store_kind_of(value) != SESSIONS_STORE_MEMCACHED &&
        sessions_store_kind_of(value) != SESSIONS_STORE_REDIS)
      return usage_error("--store must be a memcached://, redis:// or "
                         "redis+cluster:// URL, not",
                         value);
    f->store = value;
    return -1;
  case F_MODE:
    if (strcmp(value, "native") != 0 && strcmp(value, "tornado") != 0)
      return usage_error("unknown --mode (want native or tornado):", value);
    f->tornado = strcmp(value, "tornado") == 0;
    return -1;
  case F_SECRET:
    f->secret_file = value;
    return -1;
  case F_COOKIE_SECRET:
    f->cookie_secret_file = value;
    return -1;
  case F_SESSION_SECRET:
    f->session_secret_file = value;
    return -1;
  case F_USER_KEY:
    if (strlen(value) == 0 || strlen(value) > MCS_KEY_MAX)
      return usage_error("--user-key must be 1 to 256 bytes:", value);
    f->user_key = value;
    return -1;
  default:
    return set_number(f, id, arg, value);
  }
}

/* Flags that are fine alone but not together; checked after all are read,
 * so their order on the command line does not matter. */
static int check_combination(const gate_flags *f, unsigned seen) {
  if (!f->store)
    return usage_error("--store is required", NULL);
  if (!f->tornado) {
    if (f->cookie_secret_file || f->session_secret_file || f->user_key)
      return usage_error(
          "only --mode tornado takes",
          f->user_key ? "--user-key"
          : f->cookie_secret_file ? "--cookie-secret-file"
                                  : "--session-secret-file");
    if (!f->secret_file) /* a random one would make every cookie forged */
      return usage_error("--secret-file is required (native mode)", NULL);
    return -1;
  }
  if (f->secret_file)
    return usage_error("--mode tornado takes --cookie-secret-file, not",
                       "--secret-file");
  if (!f->cookie_secret_file || !f->session_secret_file)
    return usage_error("--mode tornado needs",
                       f->cookie_secret_file ? "--session-secret-file"
                                             : "--cookie-secret-file");
  if (seen & (1u << F_ABSOLUTE)) /* the recipe's records carry no time */
    return usage_error("--mode tornado has no", "--absolute-timeout");
  return -1;
}

/* One thread per CPU this process may run on (taskset, cgroups' cpusets):
 * an event loop keeps a core busy, and a second on the same core only
 * adds switches. */
static unsigned cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return (unsigned)CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 && n <= 256 ? (unsigned)n : 1;
}

static void defaults(gate_flags *f) {
  memset(f, 0, sizeof *f);
  f->listen = "127.0.0.1:8081";
  f->header_timeout = GATE_HEADER_TIMEOUT_S;
}

static int lookup(const char *name, size_t len) {
  for (int i = 0; i < F_COUNT; i++)
    if (strlen(NAMES[i]) == len && memcmp(NAMES[i], name, len) == 0)
      return i;
  return -1;
}

int flags_parse(gate_flags *f, int argc, char **argv) {
  defaults(f);
  unsigned seen = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(stdout);
      fputs(HELP, stdout);
      return 0;
    }
    if (strcmp(arg, "--version") == 0) {
      printf("%s %s\n", gate_program, mcs_version_string());
      return 0;
    }
    if (strncmp(arg, "--", 2) != 0)
      return usage_error("unexpected argument", arg);
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    int id = lookup(arg + 2, len);
    if (id < 0)
      return usage_error("unknown flag", arg);
    if (seen & (1u << id))
      return usage_error("flag given twice:", arg);
    seen |= 1u << id;
    if (!eq && i + 1 >= argc)
      return usage_error("flag needs a value:", arg);
    int rc = set_flag(f, id, arg, eq ? eq + 1 : argv[++i]);
    if (rc >= 0)
      return rc;
  }
  if (!f->threads)
    f->threads = cpus();
  return check_combination(f, seen);
}
