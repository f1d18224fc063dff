/* mcsession verify: checks a signed value like Tornado's
 * decode_signed_value(secret, NAME, SIGNED, max_age_days=D) and prints
 * the value it carries. With one secret the tool is Tornado with a plain
 * string secret: it verifies whatever key version the value names. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cmd_common.h"

#define DAY_SECONDS 86400
#define DEFAULT_MAX_AGE_DAYS 31 /* Tornado's max_age_days default */

typedef struct verify_args {
  const char *secret_file;
  const char *max_age_days;
  const char *now;
  char *pos[2]; /* NAME SIGNED */
} verify_args;

static int verify_numbers(const tool_cmd *cmd, const verify_args *a,
                          int64_t *max_age_s, int64_t *now) {
  int64_t days = DEFAULT_MAX_AGE_DAYS;
  *now = (int64_t)time(NULL);
  int rc = -1;
  if (a->max_age_days)
    rc = tool_opt_i64(cmd, "--max-age-days", a->max_age_days, 0,
                      INT64_MAX / DAY_SECONDS, &days);
  if (rc < 0 && a->now)
    rc = tool_opt_i64(cmd, "--now", a->now, 0, INT64_MAX, now);
  *max_age_s = days * DAY_SECONDS;
  return rc;
}

static int invalid(const tool_cmd *cmd, const char *why) {
  fprintf(stderr, "mcsession %s: invalid signed value: %s\n", cmd->name,
          why);
  return TOOL_EXIT_INVALID;
}

/* mcs_verify says only "invalid", by design; the tool holds the secret,
 * so it may say which check failed: it verifies again under the name the
 * value carries and without the age limit. */
static int explain(const tool_cmd *cmd, const mcs_keyring *ring,
                   const mcs_signed_info *p, const char *sv, size_t len,
                   const char *name) {
  const char *signed_name = p->name;
  size_t vlen = 0;
  int rc = mcs_verify(ring, signed_name, sv, len, 0, -1, NULL, 0, &vlen);
  if (rc != MCS_OK && rc != MCS_ELIMIT) /* ELIMIT: verified, no buffer */
    return invalid(cmd, "signature does not match (wrong secret, or the "
                        "value was altered)");
  if (strcmp(signed_name, name) != 0) {
    fprintf(stderr,
            "mcsession %s: invalid signed value: signed for the name '%s', "
            "not '%s'\n", cmd->name, signed_name, name);
    return TOOL_EXIT_INVALID;
  }
  fprintf(stderr, "mcsession %s: invalid signed value: too old (signed at "
          "%lld)\n", cmd->name, (long long)p->timestamp);
  return TOOL_EXIT_INVALID;
}

static int verify_and_print(const tool_cmd *cmd, const tool_secret *secret,
                            const char *name, const char *sv, int64_t now,
                            int64_t max_age_s) {
  size_t len = strlen(sv);
  mcs_signed_info p;
  size_t carried = 0;
  /* Its fields, unverified: which key version to load, and what to say
   * when it does not verify. */
  int rc = mcs_signed_inspect(sv, len, &p, NULL, 0, &carried);
  if (rc != MCS_OK && rc != MCS_ELIMIT) /* ELIMIT: well formed, no buffer */
    return invalid(cmd, "malformed (not a version 2 signed value)");
  mcs_keyring *ring = tool_ring(cmd, p.key_version, secret);
  if (!ring)
    return TOOL_EXIT_ERROR;
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t vlen = 0;
  rc = mcs_verify(ring, name, sv, len, now, max_age_s, value, sizeof value,
                  &vlen);
  if (rc == MCS_OK)
    rc = tool_print_line(cmd, value, vlen);
  else if (rc == MCS_EBADSIG)
    rc = explain(cmd, ring, &p, sv, len, name);
  else
    rc = tool_fail(cmd, TOOL_EXIT_ERROR, "cannot verify", mcs_strerror(rc));
  sodium_memzero(value, sizeof value);
  mcs_keyring_free(ring);
  return rc;
}

static int run_verify(const tool_cmd *cmd, int argc, char **argv) {
  verify_args a = {0};
  const tool_opt opts[] = {{"secret-file", &a.secret_file, NULL},
                           {"max-age-days", &a.max_age_days, NULL},
                           {"now", &a.now, NULL}};
  int rc = tool_parse_args(cmd, argc, argv, opts, 3, a.pos, 2);
  if (rc >= 0)
    return rc;
  if (!a.secret_file)
    return tool_usage_error(cmd, "--secret-file is required", NULL);
  int64_t max_age_s, now;
  if ((rc = verify_numbers(cmd, &a, &max_age_s, &now)) >= 0)
    return rc;
  tool_line line;
  if ((rc = tool_stdin_arg(cmd, "SIGNED", &a.pos[1], &line)) < 0) {
    tool_secret secret;
    if ((rc = tool_read_secret(cmd, a.secret_file, &secret)) < 0) {
      rc = verify_and_print(cmd, &secret, a.pos[0], a.pos[1], now, max_age_s);
      tool_secret_wipe(&secret);
    }
  }
  tool_line_wipe(&line);
  return rc;
}

const tool_cmd tool_cmd_verify = {
    "verify",
    "check a signed value and print the value it carries",
    "verify --secret-file FILE [--max-age-days D] [--now UNIX] [--] "
    "NAME SIGNED",
    "Checks SIGNED (a Tornado version 2 signed value) as Tornado's\n"
    "decode_signed_value(secret, NAME, SIGNED, max_age_days=D) does: the\n"
    "format, the HMAC-SHA256 signature, the name and the age. When it is\n"
    "valid, prints the value it carries (raw bytes) and a newline, and\n"
    "exits 0; otherwise prints one line saying why on stderr and exits 1.\n"
    "\n"
    "  --secret-file FILE  the secret (16 to 1024 bytes; one trailing\n"
    "                      newline is ignored). It verifies values of any\n"
    "                      key version, like a plain Tornado cookie_secret\n"
    "  --max-age-days D    reject values signed more than D whole days\n"
    "                      before now (default 31, Tornado's)\n"
    "  --now UNIX          take UNIX (seconds) as the current time\n"
    "  --                  ends the options, so NAME or SIGNED may start\n"
    "                      with '-'\n"
    "\n"
    "SIGNED '-' reads it from the first line of standard input (its LF or\n"
    "CR LF dropped, at most 8192 bytes): a signed cookie is a credential,\n"
    "and on the command line every local user can see it (ps).\n",
    "  1  SIGNED does not verify: malformed, tampered with, signed for\n"
    "     another name, or too old\n" TOOL_EXIT_STDIN_HELP TOOL_EXIT_USAGE_HELP
    "  3  the secret file missing or invalid, an output error\n",
    run_verify,
};
