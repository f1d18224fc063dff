/* mcsession destroy: deletes a session's record, as a logout would (the
 * user's next request starts a new session). */
#include "ops_common.h"

static int destroy(ops_ctx *ctx, const char *arg) {
  mcs_admin_ref t;
  int found = 0;
  int rc = ops_resolve(ctx, arg, &t);
  if (rc >= 0)
    return rc;
  if ((rc = mcs_admin_session_destroy(ctx->mgr, t.id, &found)))
    return ops_store_error(ctx, rc);
  if (!found)
    return tool_fail(ctx->cmd, TOOL_EXIT_INVALID, "no such session", t.key);
  if (ctx->args->json)
    return ops_print_json(ctx->cmd, json_pack("{s:s, s:s, s:b}", "id", t.id,
                                              "key", t.key, "destroyed", 1));
  return ops_printf(ctx->cmd, "destroyed %s\n", t.key);
}

static int run_destroy(const tool_cmd *cmd, int argc, char **argv) {
  return ops_run_one(cmd, argc, argv, destroy);
}

const tool_cmd tool_cmd_destroy = {
    "destroy",
    "delete a session (log it out)",
    "destroy --store URL [OPTIONS] [--] COOKIE-OR-ID",
    "Deletes the record of the session COOKIE-OR-ID names (see 'mcsession\n"
    "show --help' for the forms it takes). The next request with that\n"
    "cookie starts a new session; a request in flight cannot write it back.\n"
    "Prints 'destroyed KEY' (--json: {\"id\", \"key\", \"destroyed\": true}).\n"
    "Exits 1 when the cookie is invalid or the session does not exist.\n"
    "\n" OPS_STDIN_HELP "\n" OPS_OPTIONS_HELP,
    OPS_EXIT_SESSION_HELP(""),
    run_destroy,
};
