/* mcsession end-session: ends one of a user's sessions by its handle
 * (mcs_manager_end_session), as the "Your sessions" page of an
 * application would. */
#include <stdio.h>

#include "ops_common.h"

static int end_one(ops_ctx *ctx, char **pos) {
  const char *uid = pos[0], *handle = pos[1];
  int rc = mcs_manager_end_session(ctx->mgr, uid, handle);
  if (rc == MCS_ENOENT)
    return tool_fail(ctx->cmd, TOOL_EXIT_INVALID,
                     "no such session in the user's list", handle);
  if (rc)
    return ops_store_error(ctx, rc);
  if (ctx->args->json)
    return ops_print_json(ctx->cmd,
                          json_pack("{s:s, s:s, s:b}", "user", uid, "handle",
                                    handle, "ended", 1));
  return ops_printf(ctx->cmd, "ended session %s of user %s\n", handle, uid);
}

/* HANDLE as mcsession sessions prints it: 22 base64url characters. */
static int check_handle(const tool_cmd *cmd, char **pos) {
  if (!mcs_session_handle_valid(pos[1]))
    return tool_usage_error(cmd,
                            "HANDLE must be a handle as 'mcsession "
                            "sessions' prints it (22 characters)",
                            NULL);
  return -1;
}

static int run_end_session(const tool_cmd *cmd, int argc, char **argv) {
  return ops_run_user(cmd, argc, argv, 2, check_handle, end_one);
}

const tool_cmd tool_cmd_end_session = {
    "end-session",
    "end one of a user's sessions by its handle (native mode)",
    "end-session --store URL --secret-file F [--idle-timeout S] "
    "[--absolute-timeout S] [OPTIONS] [--] UID HANDLE",
    "Ends the session HANDLE (as 'mcsession sessions UID' prints it) of user\n"
    "UID: its record is deleted, so its next request starts a new session\n"
    "(logged out), and it leaves the user's list. The user's other sessions\n"
    "are untouched (revoke-user ends all of them). Prints 'ended session\n"
    "HANDLE of user UID' (--json: {\"user\", \"handle\", \"ended\": true});\n"
    "exit status 1 when the list holds no such session (never listed,\n"
    "dropped off the 64 newest, or ended already).\n"
    "\n"
    "The user's list is written back; it is kept as long as the\n"
    "application's timeouts say:\n" OPS_TIMEOUTS_HELP "\n" OPS_OPTIONS_HELP,
    "  1  no such session in the user's list\n" OPS_EXIT_USAGE_HELP
    "     Also: a UID that is not 1 to 256 bytes of UTF-8 without control\n"
    "     characters, a HANDLE that is not 22 base64url characters,\n"
    "     --mode tornado.\n"
    "  3  the secret file missing or invalid, the store unreachable or\n"
    "     failing (the session may be ended but still listed: run it\n"
    "     again), an output error\n",
    run_end_session,
};
