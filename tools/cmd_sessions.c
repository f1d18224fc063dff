/* mcsession sessions: a user's live sessions, as mcs_manager_list_sessions
 * gives them (which prunes the ended ones from the user's list first). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ops_common.h"

static void utc(int64_t t, char out[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  out[0] = '\0';
  if (gmtime_r(&tt, &tm))
    strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static json_t *entry_json(const mcs_user_session *e) {
  json_t *labels = json_array();
  for (size_t i = 0; labels && i < e->label_count; i++)
    if (json_array_append_new(labels, json_string(e->labels[i]))) {
      json_decref(labels);
      labels = NULL;
    }
  return labels ? json_pack("{s:s, s:I, s:I, s:o}", "handle", e->handle,
                            "created", (json_int_t)e->created, "last_seen",
                            (json_int_t)e->last_seen, "labels", labels)
                : NULL;
}

static int print_json(ops_ctx *ctx, const char *uid,
                      const mcs_user_session *l, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, entry_json(&l[i]))) {
      json_decref(arr);
      arr = NULL;
    }
  return ops_print_json(ctx->cmd, arr ? json_pack("{s:s, s:o}", "user", uid,
                                                  "sessions", arr)
                                      : NULL);
}

/* A label as a terminal may show it: the client chose it (a User-Agent),
 * and the library refuses only C0 controls and DEL, so C1 controls
 * (U+0080..U+009F: some terminals act on U+009B as an escape) and the
 * text-direction controls (U+202A..U+202E, U+2066..U+2069: they can make
 * a line read as something else) become '?'. --json prints it as is. */
static void terminal_safe(const char *in, char out[MCS_SESSION_LABEL_MAX + 1]) {
  const unsigned char *p = (const unsigned char *)in;
  size_t o = 0;
  while (*p) {
    bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
    bool bidi = p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa &&
                                  p[2] <= 0xae) ||
                                 (p[1] == 0x81 && p[2] >= 0xa6 &&
                                  p[2] <= 0xa9));
    if (c1 || bidi) {
      out[o++] = '?';
      p += c1 ? 2 : 3;
    } else {
      out[o++] = (char)*p++;
    }
  }
  out[o] = '\0';
}

/* One line per session: handle, created, last seen, the labels (joined by
 * " | "), oldest first. */
static int print_text(ops_ctx *ctx, const char *uid,
                      const mcs_user_session *l, size_t n) {
  if (n == 0)
    return ops_printf(ctx->cmd, "no live sessions for user %s\n", uid);
  int rc = TOOL_EXIT_OK;
  for (size_t i = 0; rc == TOOL_EXIT_OK && i < n; i++) {
    char created[32], seen[32];
    utc(l[i].created, created);
    utc(l[i].last_seen, seen);
    rc = ops_printf(ctx->cmd, "%s  created %s  last seen %s", l[i].handle,
                    created, seen);
    for (size_t j = 0; rc == TOOL_EXIT_OK && j < l[i].label_count; j++) {
      char shown[MCS_SESSION_LABEL_MAX + 1];
      terminal_safe(l[i].labels[j], shown);
      rc = ops_printf(ctx->cmd, "%s%s", j ? " | " : "  ", shown);
    }
    if (rc == TOOL_EXIT_OK)
      rc = ops_printf(ctx->cmd, "\n");
  }
  return rc;
}

static int list(ops_ctx *ctx, char **pos) {
  mcs_user_session *l = NULL;
  size_t n = 0;
  int rc = mcs_manager_list_sessions(ctx->mgr, pos[0], &l, &n);
  if (rc)
    return ops_store_error(ctx, rc);
  rc = ctx->args->json ? print_json(ctx, pos[0], l, n)
                       : print_text(ctx, pos[0], l, n);
  mcs_free(l);
  return rc;
}

static int run_sessions(const tool_cmd *cmd, int argc, char **argv) {
  return ops_run_user(cmd, argc, argv, 1, NULL, list);
}

const tool_cmd tool_cmd_sessions = {
    "sessions",
    "list a user's live sessions (native mode)",
    "sessions --store URL --secret-file F [--idle-timeout S] "
    "[--absolute-timeout S] [OPTIONS] [--] UID",
    "Lists the live sessions of user UID from the user's session list (kept\n"
    "by the library for sessions bound with mcs_session_set_user), oldest\n"
    "first, one line each: its HANDLE (for end-session), when it was\n"
    "created and last seen (UTC; last seen is updated at most once per the\n"
    "application's last_seen_interval), and its labels (as the application\n"
    "gave them at login, joined by ' | '; C1 and text-direction controls\n"
    "show as '?'). --json prints {\"user\",\n"
    "\"sessions\": [{\"handle\", \"created\", \"last_seen\", \"labels\"}]},\n"
    "times in Unix seconds. The list keeps the 64 newest sessions; older\n"
    "ones still work but are not listed.\n"
    "\n"
    "Entries of sessions that ended (logged out, expired, revoked, past the\n"
    "absolute timeout) are removed from the stored list as it is read, so\n"
    "the tool must know the application's timeouts (they also set how long\n"
    "the list is kept):\n" OPS_TIMEOUTS_HELP "\n" OPS_OPTIONS_HELP,
    OPS_EXIT_USAGE_HELP
    "     Also: a UID that is not 1 to 256 bytes of UTF-8 without control\n"
    "     characters, --mode tornado.\n"
    "  3  the secret file missing or invalid, the store unreachable or\n"
    "     failing, an output error\n",
    run_sessions,
};
