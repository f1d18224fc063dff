/* What the operations subcommands (show, destroy, touch, stats,
 * revoke-user) share: the common options, the store and manager they
 * open, naming a session by cookie or id, and JSON output.
 *
 * Every one of them takes the same options, so a script can pass one set
 * to all; each reads only the secrets it needs. */
#ifndef MCS_TOOL_OPS_COMMON_H
#define MCS_TOOL_OPS_COMMON_H

#include <jansson.h>

#include "cmd_common.h"

/* The common options, as given on the command line. */
typedef struct ops_args {
  const char *store;
  const char *mode;
  const char *secret_file;
  const char *store_key_secret_file;
  const char *cookie_secret_file;
  const char *session_secret_file;
  bool json;
  /* The application's timeouts, for the commands that write a user's
   * session list (its lifetime follows them) and prune it (sessions,
   * end-session): 0 / has_absolute false mean the library's defaults. */
  uint32_t idle_timeout;
  bool has_absolute;
  uint32_t absolute_timeout;
} ops_args;

/* The --help paragraph describing the common options. */
#define OPS_OPTIONS_HELP                                                       \
  "  --store URL          the store as the application uses it (the URL's\n"   \
  "                       prefix is the key prefix): "                         \
  "memcached://host[:port]\n"                                                  \
  "                       [,...][?prefix=P&...], redis://host[:port][/db]\n"   \
  "                       [?...] or redis+cluster://host[:port][,...][?...]\n" \
  "                       (native mode only). Required\n"                      \
  "  --mode MODE          native (default) or tornado\n"                       \
  "  --secret-file F      native: the key ring's secret (verifies cookies\n"   \
  "                       of any key version; derives store keys)\n"           \
  "  --store-key-secret-file F\n"                                              \
  "                       native: the store-key secret, when the\n"            \
  "                       application sets store_key_secret or its ring\n"     \
  "                       has several versions (then: the lowest one's)\n"     \
  "  --cookie-secret-file F\n"                                                 \
  "                       tornado: the recipe's cookie_secret (verifies\n"     \
  "                       session_id cookies; raw ids need no secret)\n"       \
  "  --session-secret-file F\n"                                                \
  "                       tornado: the recipe's session_secret (accepted\n"    \
  "                       and checked; ids and keys do not need it)\n"         \
  "  --json               one JSON object on stdout instead of text\n"

/* Exit status 2 for these commands (tool_cmd.exits). */
#define OPS_EXIT_USAGE_HELP                                                    \
  "  2  bad command line (unknown option, missing or extra argument, a\n"      \
  "     value out of range, a bad --store URL, a secret the command needs\n"   \
  "     not given)\n"

/* The exit statuses of the commands that name one session (show,
 * destroy, touch); `what3` adds to status 3's causes. */
#define OPS_EXIT_SESSION_HELP(what3)                                           \
  "  1  the cookie does not verify (invalid, tampered with, signed for\n"      \
  "     another name), or no such session\n" TOOL_EXIT_STDIN_HELP              \
      OPS_EXIT_USAGE_HELP                                                      \
  "  3  a secret file missing or invalid, the store unreachable or\n"          \
  "     failing" what3 ", an output error\n"

/* The --help paragraph on COOKIE-OR-ID "-". */
#define OPS_STDIN_HELP                                                         \
  "COOKIE-OR-ID '-' reads it from the first line of standard input (its\n"     \
  "LF or CR LF dropped, at most 8192 bytes): a cookie is a credential, and\n"  \
  "on the command line every local user can see it (ps).\n"

/* The common options plus up to OPS_EXTRA_MAX of the command's own, for
 * tool_parse_args. */
#define OPS_EXTRA_MAX 4 /* revoke-user: --ttl and three timeouts */
typedef struct ops_opts {
  tool_opt opt[7 + OPS_EXTRA_MAX];
  size_t n;
} ops_opts;
void ops_opts_init(ops_opts *o, ops_args *a);
/* --idle-timeout and --absolute-timeout as given (NULL: not) into a;
 * -1, or TOOL_EXIT_USAGE after printing why. */
int ops_timeouts(const tool_cmd *cmd, const char *idle, const char *absolute,
                 ops_args *a);
/* The --help paragraph on those two options. */
#define OPS_TIMEOUTS_HELP                                                      \
  "  --idle-timeout S     the application's idle_timeout, 1 to 4294967295\n"  \
  "                       (library default 1800)\n"                          \
  "  --absolute-timeout S the application's absolute_timeout, 0 (none) to\n"   \
  "                       4294967295 (library default 86400)\n"
void ops_opts_add(ops_opts *o, const char *name, const char **value);

/* An open store and, for the commands that name sessions or users, a
 * manager configured as the application's (mode, secrets, key prefix,
 * store), through which the operator API (mcsession/admin.h) names keys
 * exactly as the application does. */
typedef struct ops_ctx {
  const tool_cmd *cmd;
  const ops_args *args;
  bool tornado;
  bool redis; /* which of mc and rd the store was made from */
  mcs_memcached_config mc;
  mcs_redis_config rd;
  mcs_store *store;
  mcs_keyring *ring;       /* what the manager was given */
  unsigned ring_version;   /* the key version `ring` holds its secret at */
  mcs_manager *mgr;        /* NULL for stats */
  tool_secret cookie_key;  /* verifies cookies (len 0: none given) */
  tool_secret store_key;   /* native: --store-key-secret-file (len 0) */
  tool_secret session_key; /* tornado: --session-secret-file (len 0) */
} ops_ctx;

/* Checks --store and --mode, reads the secrets the command needs
 * (need_keys: naming sessions or users) and opens the store and (with
 * need_keys) the manager, its ring holding the secret at key version 0.
 * Returns -1 on success, else the exit status (after printing why). */
int ops_open(ops_ctx *ctx, const tool_cmd *cmd, const ops_args *args,
             bool need_keys);
void ops_close(ops_ctx *ctx);

/* The whole run of a subcommand that takes the common options and one
 * COOKIE-OR-ID ("-": read from standard input): parse, open the store,
 * fn(ctx, cookie_or_id), close. Returns the exit status. */
int ops_run_one(const tool_cmd *cmd, int argc, char **argv,
                int (*fn)(ops_ctx *ctx, const char *cookie_or_id));

/* COOKIE-OR-ID: a signed cookie value (quoted or not, alone or as
 * name=value) verified with the cookie secret at whatever key version it
 * names, as Tornado with a plain secret does (its age is not checked: an
 * operator may inspect old cookies), or a raw session id. Returns -1
 * with *t filled (mcs_admin_session_resolve), TOOL_EXIT_INVALID for a
 * cookie that does not verify or an argument that is neither,
 * TOOL_EXIT_USAGE when a needed secret was not given. */
int ops_resolve(ops_ctx *ctx, const char *arg, mcs_admin_ref *t);

/* A command about a user: native mode only, and UID (1 to 256 bytes of
 * UTF-8 without control characters). -1, or TOOL_EXIT_USAGE after
 * printing why. */
int ops_check_user(const tool_cmd *cmd, const ops_args *a, const char *uid);

/* The whole run of a subcommand that takes the common options, the
 * application's timeouts (ops_timeouts) and `npos` arguments, the first
 * a UID: parse, check (ops_check_user, then check(cmd, pos) if not
 * NULL: -1 or an exit status), open the store and manager, fn(ctx, pos),
 * close. Returns the exit status. */
int ops_run_user(const tool_cmd *cmd, int argc, char **argv, size_t npos,
                 int (*check)(const tool_cmd *cmd, char **pos),
                 int (*fn)(ops_ctx *ctx, char **pos));

/* Remakes ctx's manager with its one secret at key version `version` (a
 * sealed record names the version it was sealed with). -1, or the exit
 * status after printing why. */
int ops_use_key_version(ops_ctx *ctx, unsigned version);

/* Prints a store error ("cannot reach the store: ...") and returns
 * TOOL_EXIT_ERROR. */
int ops_store_error(const ops_ctx *ctx, int rc);

/* Prints `doc` as one compact line (and releases it); TOOL_EXIT_OK or
 * TOOL_EXIT_ERROR. NULL doc (allocation failed) is an error. */
int ops_print_json(const tool_cmd *cmd, json_t *doc);

/* Prints a formatted line to stdout; TOOL_EXIT_OK or TOOL_EXIT_ERROR. */
int ops_printf(const tool_cmd *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* MCS_TOOL_OPS_COMMON_H */
