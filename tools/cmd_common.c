/* Helpers shared by the tool's subcommands (see cmd_common.h). Messages go
 * to stderr on one line each, prefixed "mcsession <command>:", so scripts
 * can show them as they are. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd_common.h"

int tool_usage_error(const tool_cmd *cmd, const char *reason,
                     const char *detail) {
  fprintf(stderr, "mcsession %s: %s%s%s%s (usage: mcsession %s)\n",
          cmd->name, reason, detail ? " '" : "", detail ? detail : "",
          detail ? "'" : "", cmd->usage);
  return TOOL_EXIT_USAGE;
}

int tool_fail(const tool_cmd *cmd, int status, const char *message,
              const char *detail) {
  fprintf(stderr, "mcsession %s: %s%s%s\n", cmd->name, message,
          detail ? ": " : "", detail ? detail : "");
  return status;
}

static int print_help(const tool_cmd *cmd) {
  printf("Usage: mcsession %s\n\n%s\nExit status:\n  0  success\n%s",
         cmd->usage, cmd->help, cmd->exits);
  return fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_ERROR;
}

static const tool_opt *find_opt(const tool_opt *opts, size_t nopts,
                                const char *name, size_t len) {
  for (size_t i = 0; i < nopts; i++)
    if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
      return &opts[i];
  return NULL;
}

/* Stores an option's value ("--name=VALUE" or "--name VALUE"); a second
 * occurrence is an error rather than a silent override. */
static int take_value(const tool_cmd *cmd, const tool_opt *o, const char *eq,
                      int argc, char **argv, int *i) {
  if (*o->value)
    return tool_usage_error(cmd, "option given twice:", argv[*i]);
  if (eq) {
    *o->value = eq + 1;
    return -1;
  }
  if (*i + 1 >= argc)
    return tool_usage_error(cmd, "option needs a value:", argv[*i]);
  *o->value = argv[++*i];
  return -1;
}

/* argv[*i] starts with '-' and is not "-" or "--". */
static int take_option(const tool_cmd *cmd, const tool_opt *opts,
                       size_t nopts, int argc, char **argv, int *i) {
  const char *arg = argv[*i];
  if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
    return print_help(cmd);
  if (arg[1] != '-')
    return tool_usage_error(cmd,
                            "unknown option (put '--' before arguments "
                            "that start with '-'):",
                            arg);
  const char *name = arg + 2;
  const char *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  const tool_opt *o = find_opt(opts, nopts, name, len);
  if (!o)
    return tool_usage_error(cmd, "unknown option", arg);
  if (o->value)
    return take_value(cmd, o, eq, argc, argv, i);
  if (eq)
    return tool_usage_error(cmd, "option takes no value:", arg);
  *o->flag = true;
  return -1;
}

/* "-" then 21 base64url characters, the second not '-': the shape of a
 * session handle (mcs_session_handle) that happens to start with '-',
 * about one in 64 of them. No option of the tool looks like that (they
 * all start with "--", but -h), so it is taken as an argument: a handle
 * pasted from 'mcsession sessions' works without '--' before it. */
static bool dash_handle(const char *arg) {
  return arg[0] == '-' && arg[1] != '-' && mcs_session_handle_valid(arg);
}

int tool_parse_args(const tool_cmd *cmd, int argc, char **argv,
                    const tool_opt *opts, size_t nopts, char **pos,
                    size_t npos) {
  size_t got = 0;
  bool options = true;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options && strcmp(arg, "--") == 0) {
      options = false;
    } else if (options && arg[0] == '-' && arg[1] != '\0' &&
               !dash_handle(arg)) {
      int rc = take_option(cmd, opts, nopts, argc, argv, &i);
      if (rc >= 0)
        return rc;
    } else if (got == npos) {
      return tool_usage_error(cmd, "unexpected argument", arg);
    } else {
      pos[got++] = argv[i];
    }
  }
  if (got < npos)
    return tool_usage_error(cmd, "missing argument", NULL);
  return -1;
}

/* strtoll alone accepts leading spaces, '+' and trailing junk (when end is
 * not checked) and saturates on overflow; each of those is refused. */
bool tool_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  const char *digits = (s[0] == '-' && min < 0) ? s + 1 : s;
  if (*digits < '0' || *digits > '9')
    return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end != '\0' || v < min || v > max)
    return false;
  *out = (int64_t)v;
  return true;
}

int tool_opt_i64(const tool_cmd *cmd, const char *opt, const char *s,
                 int64_t min, int64_t max, int64_t *out) {
  if (tool_parse_i64(s, min, max, out))
    return -1;
  fprintf(stderr,
          "mcsession %s: %s needs an integer from %lld to %lld, not '%s' "
          "(usage: mcsession %s)\n",
          cmd->name, opt, (long long)min, (long long)max, s, cmd->usage);
  return TOOL_EXIT_USAGE;
}

/* Reads at most two bytes more than a secret may hold: enough to tell
 * "too long" from "longest secret plus its newline". */
static int read_file(const tool_cmd *cmd, const char *path,
                     tool_secret *secret) {
  FILE *f = fopen(path, "rb");
  int err = f ? 0 : errno;
  if (f) {
    tool_check_secret_mode(cmd, path, f);
    errno = 0;
    secret->len = fread(secret->bytes, 1, sizeof secret->bytes, f);
    err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
  }
  if (!err)
    return -1;
  fprintf(stderr, "mcsession %s: cannot read secret file '%s': %s\n",
          cmd->name, path, strerror(err));
  return TOOL_EXIT_ERROR;
}

int tool_read_secret(const tool_cmd *cmd, const char *path,
                     tool_secret *secret) {
  int rc = read_file(cmd, path, secret);
  if (rc >= 0)
    return rc;
  if (secret->len > 0 && secret->bytes[secret->len - 1] == '\n')
    secret->len--;
  if (secret->len >= MCS_SECRET_MIN_BYTES &&
      secret->len <= MCS_SECRET_MAX_BYTES)
    return -1;
  if (secret->len == 0)
    fprintf(stderr, "mcsession %s: secret file '%s' is empty\n", cmd->name,
            path);
  else if (secret->len < MCS_SECRET_MIN_BYTES)
    fprintf(stderr,
            "mcsession %s: secret in '%s' is too short: %zu bytes, at least "
            "%d needed (make one with 'mcsession keygen')\n",
            cmd->name, path, secret->len, MCS_SECRET_MIN_BYTES);
  else
    fprintf(stderr, "mcsession %s: secret in '%s' is longer than %d bytes\n",
            cmd->name, path, MCS_SECRET_MAX_BYTES);
  tool_secret_wipe(secret);
  return TOOL_EXIT_ERROR;
}

void tool_secret_wipe(tool_secret *secret) {
  sodium_memzero(secret->bytes, sizeof secret->bytes);
  secret->len = 0;
}

/* Files warned about, so that one named twice (--secret-file and
 * --store-key-secret-file, say) is named once. */
#define WARNED_MAX 4
static struct {
  dev_t dev;
  ino_t ino;
} warned[WARNED_MAX];
static size_t nwarned;

static bool warned_before(const struct stat *st) {
  for (size_t i = 0; i < nwarned; i++)
    if (warned[i].dev == st->st_dev && warned[i].ino == st->st_ino)
      return true;
  if (nwarned < WARNED_MAX) {
    warned[nwarned].dev = st->st_dev;
    warned[nwarned].ino = st->st_ino;
    nwarned++;
  }
  return false;
}

/* Only regular files: a pipe or a terminal (--secret-file /dev/stdin) has
 * no mode of anybody's choosing. */
void tool_check_secret_mode(const tool_cmd *cmd, const char *path, FILE *f) {
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
      !(st.st_mode & 077) || warned_before(&st))
    return;
  fprintf(stderr,
          "mcsession %s: warning: secret file '%s' is open to group or "
          "others (mode %04o); fix: chmod 600 '%s'\n",
          cmd->name, path, (unsigned)(st.st_mode & 07777), path);
}

/* Reads until a newline, end of input or a full buffer, with read(2)
 * rather than stdio, whose buffer would keep a copy of the credential.
 * Returns the bytes before the newline, or -1 with errno set. */
static ssize_t read_line(char *buf, size_t cap) {
  size_t n = 0;
  while (n < cap) {
    ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -1 : (ssize_t)n;
    char *nl = memchr(buf + n, '\n', (size_t)r);
    if (nl)
      return nl - buf;
    n += (size_t)r;
  }
  return (ssize_t)n;
}

int tool_stdin_arg(const tool_cmd *cmd, const char *what, char **arg,
                   tool_line *line) {
  if (strcmp(*arg, "-") != 0)
    return -1;
  ssize_t r = read_line(line->text, sizeof line->text - 1);
  if (r < 0)
    return tool_fail(cmd, TOOL_EXIT_ERROR, "cannot read standard input",
                     strerror(errno));
  size_t n = (size_t)r;
  if (n > 0 && line->text[n - 1] == '\r')
    n--;
  if (n > TOOL_STDIN_ARG_MAX) { /* or the buffer filled without a LF */
    fprintf(stderr,
            "mcsession %s: %s on standard input is longer than %d bytes\n",
            cmd->name, what, TOOL_STDIN_ARG_MAX);
    return TOOL_EXIT_INVALID;
  }
  if (memchr(line->text, '\0', n)) {
    fprintf(stderr, "mcsession %s: %s on standard input holds a NUL byte\n",
            cmd->name, what);
    return TOOL_EXIT_INVALID;
  }
  if (n == 0)
    return tool_usage_error(cmd, "no line on standard input for", what);
  line->text[n] = '\0';
  *arg = line->text;
  return -1;
}

void tool_line_wipe(tool_line *line) {
  sodium_memzero(line->text, sizeof line->text);
}

mcs_keyring *tool_ring(const tool_cmd *cmd, unsigned version,
                       const tool_secret *secret) {
  mcs_keyring *ring = NULL;
  int rc = mcs_keyring_new(&ring);
  if (rc == MCS_OK)
    rc = mcs_keyring_add(ring, version, secret->bytes, secret->len);
  if (rc == MCS_OK)
    return ring;
  mcs_keyring_free(ring);
  tool_fail(cmd, TOOL_EXIT_ERROR, "cannot build the key ring",
            mcs_strerror(rc));
  return NULL;
}

int tool_print_line(const tool_cmd *cmd, const void *data, size_t len) {
  if (fwrite(data, 1, len, stdout) == len && putchar('\n') != EOF &&
      fflush(stdout) == 0)
    return TOOL_EXIT_OK;
  return tool_fail(cmd, TOOL_EXIT_ERROR, "cannot write output",
                   strerror(errno));
}
