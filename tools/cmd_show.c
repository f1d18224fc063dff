/* mcsession show: prints a session as the store holds it — its data as
 * JSON, creation time, remaining TTL, revision and bound user — without
 * sliding its expiry (the read is `mg <key> v c f t`, no T). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops_common.h"

typedef struct shown {
  mcs_admin_ref t;
  mcs_admin_view v;
  json_t *data; /* v.data parsed, for the JSON output */
} shown;

/* A sealed record that did not open with the secret at the version the
 * tool guessed (0 for a raw id, the cookie's for a cookie) names the
 * version it was sealed with (the application's newest): true when the
 * manager now holds the secret at that version, for one more try. Only
 * with --secret-file: the store-key secret seals nothing. */
static bool at_record_version(ops_ctx *ctx, const shown *s) {
  void *raw = NULL;
  size_t len = 0;
  unsigned version = 0;
  mcs_store_result r = MCS_STORE_MISS;
  bool other = ctx->cookie_key.len &&
               mcs_store_get(ctx->store, s->t.key, s->t.key_len, 0,
                             MCS_MEMCACHED_ITEM_MAX, &raw, &len, NULL, NULL,
                             &r) == MCS_OK &&
               r == MCS_STORE_HIT &&
               mcs_sealed_key_version(raw, len, &version) == MCS_OK &&
               version != ctx->ring_version;
  mcs_free(raw);
  return other && ops_use_key_version(ctx, version) < 0;
}

/* Reads the session without touching it (mcs_admin_session_read: the
 * user's binding checked with a fresh read of the user's record; a
 * sealed record opened). -1 when found, else the exit status (1: no such
 * session). */
static int read_session(ops_ctx *ctx, shown *s) {
  int found = 0;
  int rc = mcs_admin_session_read(ctx->mgr, s->t.id, &s->v, &found);
  if (rc == MCS_EBADSIG && found && at_record_version(ctx, s))
    rc = mcs_admin_session_read(ctx->mgr, s->t.id, &s->v, &found);
  if (rc == MCS_OK && !found)
    return tool_fail(ctx->cmd, TOOL_EXIT_INVALID, "no such session", s->t.key);
  if (found && rc == MCS_EBADSIG)
    return tool_fail(ctx->cmd, TOOL_EXIT_ERROR,
                     "the stored record does not open",
                     ctx->cookie_key.len
                         ? "altered, moved, or sealed with a secret other "
                           "than --secret-file"
                         : "it is sealed: give the application's "
                           "--secret-file");
  if (found && (rc == MCS_ECORRUPT || rc == MCS_ETOOBIG))
    return tool_fail(ctx->cmd, TOOL_EXIT_ERROR,
                     "the stored record "
                     "cannot be decoded",
                     mcs_strerror(rc));
  if (rc)
    return ops_store_error(ctx, rc);
  /* The library's own compact JSON text: only lack of memory fails. */
  s->data = json_loadb(s->v.data, s->v.data_len, JSON_ALLOW_NUL, NULL);
  return s->data ? -1
                 : tool_fail(ctx->cmd, TOOL_EXIT_ERROR, "out of memory", NULL);
}

static json_t *or_null(bool has, json_t *v) {
  if (has)
    return v;
  json_decref(v);
  return json_null();
}

static json_t *describe(const ops_ctx *ctx, const shown *s) {
  const mcs_admin_view *r = &s->v;
  json_t *doc = json_object();
  json_object_set_new(doc, "mode",
                      json_string(ctx->tornado ? "tornado" : "native"));
  json_object_set_new(doc, "id", json_string(s->t.id));
  json_object_set_new(doc, "key", json_string(s->t.key));
  json_object_set_new(doc, "ttl", or_null(r->ttl >= 0, json_integer(r->ttl)));
  if (s->t.signed_at)
    json_object_set_new(doc, "signed_at", json_integer(s->t.signed_at));
  if (r->retired_until)
    json_object_set_new(doc, "retired_until", json_integer(r->retired_until));
  /* The recipe's pickles carry no creation time or revision. */
  json_object_set_new(doc, "created",
                      or_null(!ctx->tornado, json_integer(r->created)));
  json_object_set_new(
      doc, "revision",
      or_null(!ctx->tornado, json_integer((json_int_t)r->revision)));
  json_object_set_new(
      doc, "user",
      or_null(r->user != NULL, json_string(r->user ? r->user : "")));
  if (r->user_revoked >= 0)
    json_object_set_new(doc, "user_revoked", json_boolean(r->user_revoked));
  json_object_set_new(doc, "sealed", json_boolean(r->sealed));
  if (r->sealed)
    json_object_set_new(doc, "seal_key_version",
                        json_integer(r->seal_key_version));
  json_object_set(doc, "data", s->data);
  return doc;
}

/* "1700000000 (2023-11-14 22:13:20 UTC)" */
static void when(int64_t t, char *out, size_t size) {
  struct tm tm;
  time_t tt = (time_t)t;
  char date[32] = "?";
  if (gmtime_r(&tt, &tm))
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
  snprintf(out, size, "%lld (%s)", (long long)t, date);
}

static int print_text(const ops_ctx *ctx, const shown *s) {
  const mcs_admin_view *r = &s->v;
  char t1[64], t2[64];
  int rc =
      ops_printf(ctx->cmd, "key:       %s\nid:        %s\n", s->t.key, s->t.id);
  if (rc == TOOL_EXIT_OK && r->ttl >= 0)
    rc = ops_printf(ctx->cmd, "ttl:       %lld s\n", (long long)r->ttl);
  else if (rc == TOOL_EXIT_OK)
    rc = ops_printf(ctx->cmd, "ttl:       never expires\n");
  if (rc == TOOL_EXIT_OK && r->retired_until) {
    when(r->retired_until, t1, sizeof t1);
    rc = ops_printf(ctx->cmd, "retired:   until %s (read-only snapshot left "
                              "by a regenerate)\n", t1);
  }
  if (rc == TOOL_EXIT_OK && !ctx->tornado) {
    when(r->created, t2, sizeof t2);
    rc = ops_printf(ctx->cmd, "created:   %s\nrevision:  %llu\n", t2,
                    (unsigned long long)r->revision);
  }
  if (rc == TOOL_EXIT_OK && r->user)
    rc = ops_printf(ctx->cmd, "user:      %s (%s)\n", r->user,
                    r->user_revoked > 0 ? "revoked" : "current");
  if (rc == TOOL_EXIT_OK && r->sealed)
    rc = ops_printf(ctx->cmd, "sealed:    yes (key version %u)\n",
                    r->seal_key_version);
  else if (rc == TOOL_EXIT_OK && !ctx->tornado)
    rc = ops_printf(ctx->cmd, "sealed:    no (a plain record: anyone who "
                              "can write the store could have written "
                              "it)\n");
  char *data = json_dumps(s->data, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (rc == TOOL_EXIT_OK)
    rc = data ? ops_printf(ctx->cmd, "data:\n%s\n", data)
              : tool_fail(ctx->cmd, TOOL_EXIT_ERROR, "out of memory", NULL);
  free(data);
  return rc;
}

static int show(ops_ctx *ctx, const char *arg) {
  shown s;
  memset(&s, 0, sizeof s);
  int rc = ops_resolve(ctx, arg, &s.t);
  if (rc < 0)
    rc = read_session(ctx, &s);
  if (rc < 0)
    rc = ctx->args->json ? ops_print_json(ctx->cmd, describe(ctx, &s))
                         : print_text(ctx, &s);
  json_decref(s.data);
  mcs_admin_view_clear(&s.v);
  return rc;
}

static int run_show(const tool_cmd *cmd, int argc, char **argv) {
  return ops_run_one(cmd, argc, argv, show);
}

const tool_cmd tool_cmd_show = {
    "show",
    "print a session: data, creation time, remaining TTL",
    "show --store URL [OPTIONS] [--] COOKIE-OR-ID",
    "Prints the session that COOKIE-OR-ID names, as the store holds it: its\n"
    "data (JSON; bytes as {\"$bytes\": base64}), creation time, remaining\n"
    "TTL in seconds, revision, and the user it is bound to (and whether\n"
    "that user was revoked since). Reading does not slide the expiry.\n"
    "With --json: one object with the members mode, id, key, ttl (null:\n"
    "never expires), signed_at (cookies only), created and revision (null\n"
    "in tornado mode), user (or null), user_revoked (bound sessions only),\n"
    "sealed (and seal_key_version when true), data; a retired snapshot left\n"
    "by a regenerate (read-only until then, see mcs_session_regenerate)\n"
    "also shows retired_until. A native record is sealed: opening it takes\n"
    "--secret-file (the secret is used at the key version the record\n"
    "names); plain records (sealing off, or from before it) are shown as\n"
    "such.\n"
    "\n"
    "COOKIE-OR-ID: the session cookie's value (quoted or not, alone, as\n"
    "name=value, or a whole 'Cookie: ...' or 'Set-Cookie: ...' line, of\n"
    "whose pairs the one named session (tornado: session_id) counts, else\n"
    "the first signed for its own name; verified with the secret, its age\n"
    "not checked) or the session id itself (native: 43 base64url\n"
    "characters; tornado: 64 hex digits). Exits 1 when the cookie is\n"
    "invalid or the session does not exist.\n"
    "\n" OPS_STDIN_HELP "\n" OPS_OPTIONS_HELP,
    OPS_EXIT_SESSION_HELP(", a stored record that does not open (altered,\n"
                          "     moved, sealed with another secret) or "
                          "cannot be\n     decoded"),
    run_show,
};
