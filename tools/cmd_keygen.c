/* mcsession keygen: a new random secret for a key ring or a Tornado
 * cookie_secret. */
#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_common.h"

/* 256 bits, the HMAC-SHA256 output size: more adds nothing. */
#define KEYGEN_BYTES 32

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int file_error(const char *path, const char *what, int err) {
  fprintf(stderr, "mcsession keygen: %s '%s': %s\n", what, path, strerror(err));
  return TOOL_EXIT_ERROR;
}

/* -o FILE: a new file, created readable by its owner only (0600, less if
 * the umask says so), so the secret is never readable by others even for
 * a moment. An existing file is refused, never replaced: it may be the
 * secret in use, whose loss ends every session signed with it (and
 * truncating it would keep its mode, however loose). */
static int write_file(const tool_cmd *cmd, const char *path, const char *text) {
  int fd =
      open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == EEXIST) {
    fprintf(stderr,
            "mcsession keygen: '%s' exists; keygen never replaces a file "
            "(it may be the secret in use): remove it first, or choose "
            "another name\n",
            path);
    return TOOL_EXIT_ERROR;
  }
  if (fd < 0)
    return file_error(path, "cannot create", errno);
  struct stat st;
  int err = write_all(fd, text, strlen(text)) == 0 &&
                    write_all(fd, "\n", 1) == 0 && fstat(fd, &st) == 0
                ? 0
                : errno;
  if (close(fd) != 0 && !err)
    err = errno;
  if (err) {
    unlink(path); /* no half-written secret left behind */
    return file_error(path, "cannot write", err);
  }
  char said[PATH_MAX + 80];
  int n = snprintf(said, sizeof said,
                   "wrote a new secret to '%s' (mode %04o: only its owner "
                   "can read it)",
                   path, (unsigned)(st.st_mode & 07777));
  return tool_print_line(cmd, said,
                         n > 0 && (size_t)n < sizeof said ? (size_t)n : 0);
}

/* `keygen > FILE` makes FILE with the shell's mode, usually 0644: the
 * secret is then readable by every local user. Said once, after the
 * secret is out, with the fix. Pipes and terminals have no such mode. */
static void check_stdout(void) {
  struct stat st;
  if (fstat(STDOUT_FILENO, &st) != 0 || !S_ISREG(st.st_mode) ||
      !(st.st_mode & 077))
    return;
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/fd/1", path, sizeof path - 1);
  if (n <= 0)
    n = snprintf(path, sizeof path, "FILE");
  path[n] = '\0';
  fprintf(stderr,
          "mcsession keygen: warning: the secret went to a file that group "
          "or others can read (mode %04o); fix: chmod 600 '%s' (or write it "
          "with 'mcsession keygen -o FILE', which does)\n",
          (unsigned)(st.st_mode & 07777), path);
}

/* "-o FILE" is "--output FILE", the one-letter form people type from
 * habit (cc, curl, ...); the tool's other options have none. Rewritten
 * in place before parsing, up to "--", skipping --output's own value. */
static void expand_o(int argc, char **argv) {
  static char output[] = "--output";
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "-o") == 0)
      argv[i] = output;
    if (strcmp(argv[i], "--output") == 0)
      i++;
  }
}

static int run_keygen(const tool_cmd *cmd, int argc, char **argv) {
  const char *output = NULL;
  const tool_opt opts[] = {{"output", &output, NULL}};
  expand_o(argc, argv);
  int rc = tool_parse_args(cmd, argc, argv, opts, 1, NULL, 0);
  if (rc >= 0)
    return rc;
  uint8_t key[KEYGEN_BYTES];
  char text[sodium_base64_ENCODED_LEN(KEYGEN_BYTES,
                                      sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  rc = mcs_random_bytes(key, sizeof key);
  if (rc != MCS_OK)
    return tool_fail(cmd, TOOL_EXIT_ERROR, "no random bytes",
                     mcs_strerror(rc));
  sodium_bin2base64(text, sizeof text, key, sizeof key,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (output) {
    rc = write_file(cmd, output, text);
  } else {
    rc = tool_print_line(cmd, text, strlen(text));
    if (rc == TOOL_EXIT_OK)
      check_stdout();
  }
  sodium_memzero(key, sizeof key);
  sodium_memzero(text, sizeof text);
  return rc;
}

const tool_cmd tool_cmd_keygen = {
    "keygen",
    "print a new random secret, or write it to a new file",
    "keygen [-o FILE]",
    "Makes a new secret: 32 bytes from the operating system's CSPRNG,\n"
    "base64url without padding (43 characters), and a newline; the 43\n"
    "characters themselves are the secret, as with a Tornado\n"
    "cookie_secret. Pass the file that holds it as --secret-file.\n"
    "\n"
    "  --output FILE, -o FILE\n"
    "                      write the secret to FILE, a new file created\n"
    "                      with mode 0600 (readable by its owner only), and\n"
    "                      say so on stdout; an existing FILE is refused,\n"
    "                      never replaced. Without it the secret goes to\n"
    "                      stdout, and a file that receives it there\n"
    "                      (keygen > FILE) readable by group or others\n"
    "                      earns a warning naming the fix.\n"
    "\n"
    "  mcsession keygen -o secret\n",
    TOOL_EXIT_USAGE_HELP
    "  3  no random bytes, FILE exists or cannot be written, an output\n"
    "     error\n",
    run_keygen,
};
