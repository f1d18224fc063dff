/* mcsession touch: sets a session's remaining lifetime. */
#include "ops_common.h"

/* memcached reads TTLs above 30 days as a Unix time; the store converts
 * them. Beyond 2^31 - 1 the wire format's 32 bits do not reach. */
#define TOUCH_MAX_S 2147483647

static int touch(ops_ctx *ctx, const char *arg, int64_t seconds) {
  mcs_admin_ref t;
  int found = 0;
  int rc = ops_resolve(ctx, arg, &t);
  if (rc >= 0)
    return rc;
  if ((rc = mcs_admin_session_touch(ctx->mgr, t.id, (uint32_t)seconds, &found)))
    return ops_store_error(ctx, rc);
  if (!found)
    return tool_fail(ctx->cmd, TOOL_EXIT_INVALID, "no such session", t.key);
  if (ctx->args->json)
    return ops_print_json(ctx->cmd,
                          json_pack("{s:s, s:s, s:I}", "id", t.id, "key", t.key,
                                    "ttl", (json_int_t)seconds));
  return ops_printf(ctx->cmd, "touched %s: expires in %lld s\n", t.key,
                    (long long)seconds);
}

static int run_touch(const tool_cmd *cmd, int argc, char **argv) {
  ops_args a;
  ops_opts o;
  char *pos[2];
  int64_t seconds;
  tool_line line;
  ops_opts_init(&o, &a);
  int rc = tool_parse_args(cmd, argc, argv, o.opt, o.n, pos, 2);
  if (rc >= 0)
    return rc;
  if ((rc = tool_opt_i64(cmd, "SECONDS", pos[1], 1, TOUCH_MAX_S, &seconds)) >=
      0)
    return rc;
  if ((rc = tool_stdin_arg(cmd, "COOKIE-OR-ID", &pos[0], &line)) < 0) {
    ops_ctx ctx;
    if ((rc = ops_open(&ctx, cmd, &a, true)) < 0) {
      rc = touch(&ctx, pos[0], seconds);
      ops_close(&ctx);
    }
  }
  tool_line_wipe(&line);
  return rc;
}

const tool_cmd tool_cmd_touch = {
    "touch",
    "set how long a session lives from now",
    "touch --store URL [OPTIONS] [--] COOKIE-OR-ID SECONDS",
    "Sets the remaining lifetime of the session COOKIE-OR-ID names (see\n"
    "'mcsession show --help' for the forms it takes) to SECONDS (1 to\n"
    "2147483647) from now, without changing its data. Each later request\n"
    "slides it to the application's idle timeout again; the absolute\n"
    "lifetime, checked from the creation time, still applies. Prints\n"
    "'touched KEY: expires in N s' (--json: {\"id\", \"key\", \"ttl\"}).\n"
    "Exits 1 when the cookie is invalid or the session does not exist.\n"
    "\n" OPS_STDIN_HELP "\n" OPS_OPTIONS_HELP,
    OPS_EXIT_SESSION_HELP(""),
    run_touch,
};
