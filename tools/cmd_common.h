/* Shared pieces of the mcsession command-line tool: the command table
 * entry, option parsing, number parsing, secret files and output.
 *
 * Adding a subcommand: write tools/cmd_<name>.c defining
 * `const tool_cmd tool_cmd_<name>`, add X(<name>) to TOOL_COMMANDS below
 * and the file to tools/CMakeLists.txt. */
#ifndef MCS_TOOL_CMD_COMMON_H
#define MCS_TOOL_CMD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mcsession.h"

/* Every subcommand, in the order `mcsession --help` lists them. */
#define TOOL_COMMANDS(X)                                                     \
  X(keygen)                                                                  \
  X(sign)                                                                    \
  X(verify)                                                                  \
  X(show)                                                                    \
  X(destroy)                                                                 \
  X(touch)                                                                   \
  X(stats)                                                                   \
  X(revoke_user)                                                             \
  X(sessions)                                                                \
  X(end_session)

/* Exit statuses, the same for every subcommand (listed by --help). */
enum {
  TOOL_EXIT_OK = 0,
  TOOL_EXIT_INVALID = 1, /* the input was checked and is not valid, or
                            names no session */
  TOOL_EXIT_USAGE = 2,   /* bad command line */
  TOOL_EXIT_ERROR = 3    /* anything else: secret file, store, I/O, memory */
};

/* The exit-status paragraph of `mcsession --help`: every status some
 * command returns. */
#define TOOL_EXIT_HELP                                                         \
  "Exit status (each command's --help lists the ones it returns):\n"           \
  "  0  success\n"                                                             \
  "  1  a signed value or cookie that does not verify (invalid, tampered\n"    \
  "     with; verify: or too old), or no such session (show, destroy,\n"       \
  "     touch)\n"                                                              \
  "  2  bad command line (unknown option, missing or extra argument, bad\n"    \
  "     --store URL)\n"                                                        \
  "  3  any other error (secret file missing or invalid, store unreachable\n"  \
  "     or failing, a server not answering (stats), output error)\n"

/* A command's own exit statuses (tool_cmd.exits) follow "0  success" in
 * its --help: only those it can return. These lines are shared. */
#define TOOL_EXIT_USAGE_HELP                                                   \
  "  2  bad command line (unknown option, missing or extra argument, a\n"      \
  "     value out of range)\n"
#define TOOL_EXIT_STDIN_HELP                                                   \
  "     A line on standard input ('-') longer than 8192 bytes or holding\n"    \
  "     a NUL byte also exits 1; no line at all, 2.\n"

typedef struct tool_cmd {
  const char *name;
  const char *summary; /* one line for `mcsession --help` */
  const char *usage;   /* the synopsis after "mcsession ", one line */
  const char *help;    /* the rest of `mcsession <name> --help` */
  /* The exit statuses besides 0 that this command returns, as lines of
   * its --help ("  1  ...\n  2  ...\n"). */
  const char *exits;
  /* argv[0] is the subcommand's name; returns an exit status. */
  int (*run)(const struct tool_cmd *cmd, int argc, char **argv);
} tool_cmd;

#define TOOL_DECLARE_CMD(name) extern const tool_cmd tool_cmd_##name;
TOOL_COMMANDS(TOOL_DECLARE_CMD)
#undef TOOL_DECLARE_CMD

/* One option of a subcommand: "--name VALUE" or "--name=VALUE" when
 * `value` is given, a bare "--name" when `flag` is. */
typedef struct tool_opt {
  const char *name; /* without the leading dashes */
  const char **value;
  bool *flag;
} tool_opt;

/* Parses argv[1..argc): options anywhere until "--", every other argument
 * (and everything after "--") positional; "-" alone is positional.
 * "--help" prints the command's help to stdout. Exactly `npos` positionals
 * are required; they are stored in pos[].
 * Returns -1 to go on, or the exit status to return at once (0 after
 * --help; TOOL_EXIT_USAGE after printing a one-line usage to stderr). */
int tool_parse_args(const tool_cmd *cmd, int argc, char **argv,
                    const tool_opt *opts, size_t nopts, char **pos,
                    size_t npos);

/* Prints "mcsession <cmd>: <reason> (usage: mcsession <usage>)" on one
 * line to stderr and returns TOOL_EXIT_USAGE. */
int tool_usage_error(const tool_cmd *cmd, const char *reason,
                     const char *detail);

/* Prints "mcsession <cmd>: <message>" to stderr; returns `status`. */
int tool_fail(const tool_cmd *cmd, int status, const char *message,
              const char *detail);

/* A whole-string decimal integer in [min, max]: digits only (a leading
 * '-' when min < 0), no spaces or '+', no trailing bytes, no overflow. */
bool tool_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* The option value `s` as an integer in [min, max], or a usage error.
 * Returns -1 on success (with *out set) or TOOL_EXIT_USAGE. */
int tool_opt_i64(const tool_cmd *cmd, const char *opt, const char *s,
                 int64_t min, int64_t max, int64_t *out);

/* A secret file's contents: MCS_SECRET_MIN_BYTES..MCS_SECRET_MAX_BYTES
 * bytes after dropping exactly one trailing "\n". */
typedef struct tool_secret {
  uint8_t bytes[MCS_SECRET_MAX_BYTES + 2];
  size_t len;
} tool_secret;

/* Reads `path` into *secret. Returns -1 on success, or TOOL_EXIT_ERROR
 * after printing why on stderr. Wipe the secret with tool_secret_wipe. */
int tool_read_secret(const tool_cmd *cmd, const char *path,
                     tool_secret *secret);
void tool_secret_wipe(tool_secret *secret);

/* Every reader of a secret file calls this with the file it opened: a
 * regular file that its group or others may access in any way (mode &
 * 077) earns one warning on stderr per file, naming the fix (chmod 600).
 * It is not refused: the secret still works, and refusing would break a
 * running deployment over a mode. */
void tool_check_secret_mode(const tool_cmd *cmd, const char *path, FILE *f);

/* The longest argument read from standard input: a cookie (or any signed
 * value) cannot be longer than the Cookie header the library accepts. */
#define TOOL_STDIN_ARG_MAX MCS_COOKIE_HEADER_MAX

typedef struct tool_line {
  char text[TOOL_STDIN_ARG_MAX + 3]; /* and CR, LF, NUL */
} tool_line;

/* A cookie on the command line shows in the process list (ps) to every
 * local user; "-" in its place reads it from standard input instead.
 * When *arg is "-", reads the first line of standard input into *line,
 * without its line ending (LF or CR LF; nothing else is stripped), and
 * points *arg at it. `what` names the argument in messages. Returns -1 to
 * go on, or the exit status after printing why: TOOL_EXIT_USAGE for no
 * line (empty input or an empty line), TOOL_EXIT_INVALID for a line over
 * TOOL_STDIN_ARG_MAX bytes or with a NUL byte, TOOL_EXIT_ERROR for a read
 * error. Wipe the line with tool_line_wipe when done. */
int tool_stdin_arg(const tool_cmd *cmd, const char *what, char **arg,
                   tool_line *line);
void tool_line_wipe(tool_line *line);

/* A key ring holding only `secret` under `version`. NULL (after printing
 * why) on failure. */
mcs_keyring *tool_ring(const tool_cmd *cmd, unsigned version,
                       const tool_secret *secret);

/* Writes data and a newline to stdout and flushes, so a full disk or a
 * closed pipe becomes an error rather than silent truncation. Returns
 * TOOL_EXIT_OK or TOOL_EXIT_ERROR. */
int tool_print_line(const tool_cmd *cmd, const void *data, size_t len);

#endif /* MCS_TOOL_CMD_COMMON_H */
