/* mcsession revoke-user: logs a user out everywhere (per-user revocation,
 * mcs_manager_revoke_user), from outside the application. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ops_common.h"

/* The record must outlive every session bound before it, which only the
 * application's timeouts tell (mcs_revocation_ttl). Without
 * them the tool keeps it 30 days: a longer life costs a few dozen bytes
 * of memcached per revoked user, a shorter one than the sessions' brings
 * them back. 30 days is the longest TTL memcached takes as relative. */
#define UNKNOWN_TIMEOUTS_TTL_S (30u * 86400u)
/* The library's defaults (mcs_manager_config_init), for the check of a
 * --ttl given without the application's timeouts. */
#define LIB_IDLE_TIMEOUT 1800
#define LIB_ABSOLUTE_TIMEOUT 86400
#define LIB_CHECK_INTERVAL 5

/* The application's timeouts, as given (NULL: not given). */
typedef struct timeouts_args {
  const char *idle, *absolute, *interval;
} timeouts_args;

/* Success is not the end of every session at once: a server that checked
 * the user less than revocation_check_interval ago still lets its
 * sessions through until it checks again. The output says for how long,
 * so that a browser still signed in a moment later is no surprise. */
static const char *how_soon(const char *interval_arg, int64_t interval,
                            char *buf, size_t size) {
  if (interval == 0)
    return "sessions already open end at their next request";
  if (!interval_arg)
    return "sessions already open may still work for up to the "
           "application's revocation_check_interval (5 s by default)";
  snprintf(buf, size,
           "sessions already open may still work for up to %lld s "
           "(--revocation-check-interval)",
           (long long)interval);
  return buf;
}

static int revoke(ops_ctx *ctx, const char *uid, int64_t ttl,
                  const char *interval_arg) {
  int64_t interval = LIB_CHECK_INTERVAL;
  if (interval_arg) /* checked by least_ttl */
    tool_parse_i64(interval_arg, 0, UINT32_MAX, &interval);
  uint64_t gen = 0;
  int rc = mcs_admin_user_revoke(ctx->mgr, uid, (uint32_t)ttl, &gen);
  if (rc)
    return ops_store_error(ctx, rc);
  char hex[17]; /* as the record writes it: 16 lowercase hex digits */
  snprintf(hex, sizeof hex, "%016" PRIx64, gen);
  if (ctx->args->json)
    return ops_print_json(ctx->cmd,
                          json_pack("{s:s, s:s, s:I, s:I}", "user", uid,
                                    "generation", hex, "ttl", (json_int_t)ttl,
                                    "ends_within", (json_int_t)interval));
  char buf[128];
  return ops_printf(ctx->cmd, "revoked user %s (generation %s); %s\n", uid, hex,
                    how_soon(interval_arg, interval, buf, sizeof buf));
}

/* The record's least lifetime by the library's rule, from the timeouts
 * given (the library's defaults for the others). -1 with *need set, or
 * the exit status of a bad value. */
static int least_ttl(const tool_cmd *cmd, const timeouts_args *t,
                     uint32_t *need) {
  ops_args a;
  int64_t interval = LIB_CHECK_INTERVAL;
  memset(&a, 0, sizeof a);
  int rc = ops_timeouts(cmd, t->idle, t->absolute, &a);
  if (rc >= 0)
    return rc;
  if (t->interval &&
      (rc = tool_opt_i64(cmd, "--revocation-check-interval", t->interval, 0,
                         UINT32_MAX, &interval)) >= 0)
    return rc;
  *need = mcs_revocation_ttl(t->idle ? a.idle_timeout : LIB_IDLE_TIMEOUT,
                             a.has_absolute ? a.absolute_timeout
                                            : LIB_ABSOLUTE_TIMEOUT,
                             (uint32_t)interval);
  return -1;
}

/* --ttl if given (never shorter than the rule), else the rule's value
 * when the timeouts were given, else UNKNOWN_TIMEOUTS_TTL_S. */
static int choose_ttl(const tool_cmd *cmd, const char *ttl_arg,
                      const timeouts_args *t, int64_t *ttl) {
  uint32_t need;
  int rc = least_ttl(cmd, t, &need);
  if (rc >= 0)
    return rc;
  bool known = t->idle || t->absolute || t->interval;
  if (!ttl_arg) {
    *ttl = known ? need : UNKNOWN_TIMEOUTS_TTL_S;
    return -1;
  }
  if ((rc = tool_opt_i64(cmd, "--ttl", ttl_arg, 1, UINT32_MAX, ttl)) >= 0)
    return rc;
  if (*ttl >= need)
    return -1;
  char why[320];
  int n = snprintf(why, sizeof why,
                   "--ttl %lld is shorter than the sessions it ends may live "
                   "(%lu s: min(idle + interval, absolute) + 60 with %s)",
                   (long long)*ttl, (unsigned long)need,
                   known ? "the timeouts given"
                         : "the library's default timeouts; give the "
                           "application's --idle-timeout, --absolute-timeout, "
                           "--revocation-check-interval");
  return tool_usage_error(cmd, n > 0 ? why : "--ttl is too short", NULL);
}

static int run_revoke_user(const tool_cmd *cmd, int argc, char **argv) {
  ops_args a;
  ops_opts o;
  char *pos[1];
  const char *ttl_arg = NULL;
  timeouts_args t = {NULL, NULL, NULL};
  int64_t ttl;
  ops_opts_init(&o, &a);
  ops_opts_add(&o, "ttl", &ttl_arg);
  ops_opts_add(&o, "idle-timeout", &t.idle);
  ops_opts_add(&o, "absolute-timeout", &t.absolute);
  ops_opts_add(&o, "revocation-check-interval", &t.interval);
  int rc = tool_parse_args(cmd, argc, argv, o.opt, o.n, pos, 1);
  if (rc >= 0)
    return rc;
  if ((rc = choose_ttl(cmd, ttl_arg, &t, &ttl)) >= 0)
    return rc;
  if ((rc = ops_check_user(cmd, &a, pos[0])) >= 0)
    return rc;
  ops_ctx ctx;
  if ((rc = ops_open(&ctx, cmd, &a, true)) >= 0)
    return rc;
  rc = revoke(&ctx, pos[0], ttl, t.interval);
  ops_close(&ctx);
  return rc;
}

const tool_cmd tool_cmd_revoke_user = {
    "revoke-user",
    "log a user out everywhere (native mode)",
    "revoke-user --store URL --secret-file F [--idle-timeout S] "
    "[--absolute-timeout S] [--revocation-check-interval S] [--ttl S] "
    "[OPTIONS] [--] UID",
    "Ends every session bound to user UID (with mcs_session_set_user) before\n"
    "now, on every server sharing the store: one write of a new revocation\n"
    "generation for UID. Applications notice within their\n"
    "revocation_check_interval (default 5 s): until then a browser signed\n"
    "in as UID may keep working, which the output says. The user may log\n"
    "in again at once. Prints 'revoked user UID (generation G); ...' and\n"
    "for how long sessions may still work (--json: {\"user\",\n"
    "\"generation\", \"ttl\", \"ends_within\"}, the last in seconds: the\n"
    "--revocation-check-interval given, else the library's default 5).\n"
    "\n"
    "The revocation record must outlive every session it ends, or those\n"
    "come back when it expires: it lives min(idle timeout +\n"
    "revocation_check_interval, absolute timeout) + 60 s, by the\n"
    "application's settings, which the tool takes from these options (the\n"
    "same rule the library uses for mcs_manager_revoke_user):\n"
    "  --idle-timeout S     the application's idle_timeout, 1 to 4294967295\n"
    "                       (library default 1800)\n"
    "  --absolute-timeout S the application's absolute_timeout, 0 (none) to\n"
    "                       4294967295 (library default 86400)\n"
    "  --revocation-check-interval S\n"
    "                       the application's revocation_check_interval, 0\n"
    "                       to 4294967295 (library default 5)\n"
    "  --ttl S              a longer lifetime, 1 to 4294967295 s; one shorter\n"
    "                       than the rule (with the library's defaults for\n"
    "                       timeouts not given) is refused\n"
    "Without any of them the record lives 30 days (2592000 s), enough\n"
    "unless the application's sessions may live longer.\n"
    "\n" OPS_OPTIONS_HELP,
    OPS_EXIT_USAGE_HELP
    "     Also: --ttl shorter than the sessions it ends may live, a UID\n"
    "     that is not 1 to 256 bytes of UTF-8 without control characters,\n"
    "     --mode tornado.\n"
    "  3  the secret file missing or invalid, the store unreachable or\n"
    "     failing, an output error\n",
    run_revoke_user,
};
