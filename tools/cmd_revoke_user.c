/* mcsession revoke-user: logs a user out everywhere (per-user revocation,
 * mcs_manager_revoke_user), from outside the application. */
#include <string.h>

#include "ops_common.h"

/* The library's default absolute timeout: the record must outlive every
 * session bound before it (see docs/configuration.md). */
#define DEFAULT_TTL_S 86400

static int revoke(ops_ctx *ctx, const char *uid, int64_t ttl) {
  uint64_t gen = 0;
  int rc = mcs__revoke_write(ctx->mgr, uid, (uint32_t)ttl, &gen);
  if (rc)
    return ops_store_error(ctx, rc);
  char hex[17];
  mcs__gen_format(gen, hex);
  if (ctx->args->json)
    return ops_print_json(ctx->cmd,
                          json_pack("{s:s, s:s, s:I}", "user", uid,
                                    "generation", hex, "ttl", (json_int_t)ttl));
  return ops_printf(ctx->cmd, "revoked user %s (generation %s)\n", uid, hex);
}

static int run_revoke_user(const tool_cmd *cmd, int argc, char **argv) {
  ops_args a;
  ops_opts o;
  char *pos[1];
  const char *ttl_arg = NULL;
  int64_t ttl = DEFAULT_TTL_S;
  ops_opts_init(&o, &a);
  ops_opts_add(&o, "ttl", &ttl_arg);
  int rc = tool_parse_args(cmd, argc, argv, o.opt, o.n, pos, 1);
  if (rc >= 0)
    return rc;
  if (ttl_arg &&
      (rc = tool_opt_i64(cmd, "--ttl", ttl_arg, 1, UINT32_MAX, &ttl)) >= 0)
    return rc;
  if (a.mode && strcmp(a.mode, "tornado") == 0)
    return tool_usage_error(cmd,
                            "revoke-user works in native mode only "
                            "(tornado sessions cannot be bound to users)",
                            NULL);
  if (!mcs__user_id_valid(pos[0]))
    return tool_usage_error(cmd,
                            "UID must be 1 to 256 bytes of UTF-8 "
                            "without control characters",
                            NULL);
  ops_ctx ctx;
  if ((rc = ops_open(&ctx, cmd, &a, true)) >= 0)
    return rc;
  rc = revoke(&ctx, pos[0], ttl);
  ops_close(&ctx);
  return rc;
}

const tool_cmd tool_cmd_revoke_user = {
    "revoke-user",
    "log a user out everywhere (native mode)",
    "revoke-user --store URL --secret-file F [--ttl S] [OPTIONS] [--] UID",
    "Ends every session bound to user UID (with mcs_session_set_user) before\n"
    "now, on every server sharing the store: one write of a new revocation\n"
    "generation for UID. Applications notice within their\n"
    "revocation_check_interval (default 5 s); the user may log in again at\n"
    "once. Prints 'revoked user UID (generation G)' (--json: {\"user\",\n"
    "\"generation\", \"ttl\"}).\n"
    "\n"
    "  --ttl S              how long the revocation record lives, 1 to\n"
    "                       4294967295 s (default 86400). It must outlive\n"
    "                       the sessions it ends: at least the application's\n"
    "                       idle timeout + revocation_check_interval + 60,\n"
    "                       or its absolute timeout if that is shorter (the\n"
    "                       library's defaults need 1865)\n" OPS_OPTIONS_HELP,
    run_revoke_user,
};
