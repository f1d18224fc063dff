/* mcsession sign: writes a signed value, byte for byte what Tornado's
 * create_signed_value(secret, NAME, VALUE, version=2, key_version=N)
 * returns at that time. */
#include <string.h>
#include <time.h>

#include "cmd_common.h"

typedef struct sign_args {
  const char *secret_file;
  const char *key_version;
  const char *timestamp;
  char *pos[2]; /* NAME VALUE */
} sign_args;

/* Defaults: key version 0 (Tornado's when none is given), now. */
static int sign_numbers(const tool_cmd *cmd, const sign_args *a,
                        int64_t *version, int64_t *timestamp) {
  *version = 0;
  *timestamp = (int64_t)time(NULL);
  int rc = -1;
  if (a->key_version)
    rc = tool_opt_i64(cmd, "--key-version", a->key_version, 0,
                      MCS_KEY_VERSION_MAX, version);
  if (rc < 0 && a->timestamp)
    rc = tool_opt_i64(cmd, "--timestamp", a->timestamp, 0, INT64_MAX,
                      timestamp);
  if (rc < 0 && *timestamp < 0)
    rc = tool_fail(cmd, TOOL_EXIT_ERROR, "the clock reads before 1970",
                   "pass --timestamp");
  return rc;
}

static int sign_and_print(const tool_cmd *cmd, const mcs_keyring *ring,
                          long version, const char *name, const char *value,
                          int64_t timestamp) {
  char out[MCS_SIGNED_MAX_LEN(MCS_SIGNED_NAME_MAX, MCS_SIGNED_VALUE_MAX)];
  size_t n = 0;
  int rc = mcs_sign(ring, version, name, value, strlen(value), timestamp, out,
                    sizeof out, &n);
  if (rc == MCS_OK)
    return tool_print_line(cmd, out, n);
  if (rc == MCS_EINVAL || rc == MCS_ELIMIT)
    return tool_usage_error(cmd, "NAME must be 1 to 256 printable ASCII "
                                 "characters without spaces:", name);
  return tool_fail(cmd, TOOL_EXIT_ERROR, "cannot sign", mcs_strerror(rc));
}

static int run_sign(const tool_cmd *cmd, int argc, char **argv) {
  sign_args a = {0};
  const tool_opt opts[] = {{"secret-file", &a.secret_file, NULL},
                           {"key-version", &a.key_version, NULL},
                           {"timestamp", &a.timestamp, NULL}};
  int rc = tool_parse_args(cmd, argc, argv, opts, 3, a.pos, 2);
  if (rc >= 0)
    return rc;
  if (!a.secret_file)
    return tool_usage_error(cmd, "--secret-file is required", NULL);
  int64_t version, timestamp;
  if ((rc = sign_numbers(cmd, &a, &version, &timestamp)) >= 0)
    return rc;
  if (strlen(a.pos[1]) > MCS_SIGNED_VALUE_MAX)
    return tool_usage_error(cmd, "VALUE is longer than 3072 bytes", NULL);
  tool_secret secret;
  if ((rc = tool_read_secret(cmd, a.secret_file, &secret)) >= 0)
    return rc;
  mcs_keyring *ring = tool_ring(cmd, (unsigned)version, &secret);
  tool_secret_wipe(&secret);
  if (!ring)
    return TOOL_EXIT_ERROR;
  rc = sign_and_print(cmd, ring, (long)version, a.pos[0], a.pos[1], timestamp);
  mcs_keyring_free(ring);
  return rc;
}

const tool_cmd tool_cmd_sign = {
    "sign",
    "sign a value (Tornado signed-value format 2)",
    "sign --secret-file FILE [--key-version N] [--timestamp UNIX] [--] "
    "NAME VALUE",
    "Prints VALUE signed under NAME, and a newline: the same bytes as\n"
    "Tornado's create_signed_value(secret, NAME, VALUE, version=2,\n"
    "key_version=N) at that time.\n"
    "\n"
    "  --secret-file FILE  the secret (16 to 1024 bytes; one trailing\n"
    "                      newline is ignored); see 'mcsession keygen'\n"
    "  --key-version N     key version written into the value, 0 to\n"
    "                      1000000 (default 0, as Tornado without one)\n"
    "  --timestamp UNIX    signing time in Unix seconds (default now)\n"
    "  --                  ends the options, so NAME or VALUE may start\n"
    "                      with '-'\n"
    "\n"
    "NAME: 1 to 256 printable ASCII characters without spaces (a cookie\n"
    "name). VALUE: at most 3072 bytes.\n",
    TOOL_EXIT_USAGE_HELP
    "  3  the secret file missing or invalid, an output error\n",
    run_sign,
};
