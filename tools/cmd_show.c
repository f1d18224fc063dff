/* mcsession show: prints a session as the store holds it — its data as
 * JSON, creation time, remaining TTL, revision and bound user — without
 * sliding its expiry (the read is `mg <key> v c f t`, no T). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/memcached/mc_int.h"
#include "ops_common.h"

/* Decoding limits: the largest value memcached holds, the library's depth
 * limit (the application's own max_data_bytes is not known here). */
static const mcs__limits show_limits = {MCS_MEMCACHED_ITEM_MAX,
                                        MCS_JSON_DEPTH_MAX};

typedef struct shown {
  ops_target t;
  mcs__record rec;
  int64_t ttl; /* -1: no expiry */
  int revoked; /* -1: not bound to a user */
} shown;

/* Reads the record without touching it. -1 when found, else the exit
 * status (1: no such session). */
static int read_session(ops_ctx *ctx, shown *s) {
  mcs_store_value v = {MCS__BUF_INIT, MCS_MEMCACHED_ITEM_MAX};
  uint32_t flags;
  mcs_store_result r;
  int rc =
      mcs__mc_peek(ctx->store, s->t.key, s->t.key_len, &v, &flags, &s->ttl, &r);
  if (rc == MCS_OK && r == MCS_STORE_MISS)
    rc = tool_fail(ctx->cmd, TOOL_EXIT_INVALID, "no such session", s->t.key);
  else if (rc)
    rc = ops_store_error(ctx, rc);
  else {
    const mcs__codec *codec =
        ctx->tornado ? &mcs__codec_tornado : &mcs__codec_json;
    rc = codec->decode(v.buf.data ? v.buf.data : (const uint8_t *)"", v.buf.len,
                       &show_limits, &s->rec);
    rc = rc ? tool_fail(ctx->cmd, TOOL_EXIT_ERROR,
                        "the stored record "
                        "cannot be decoded",
                        mcs_strerror(rc))
            : -1;
  }
  mcs__buf_free(&v.buf);
  return rc;
}

/* Native sessions bound to a user: is that user's binding still current?
 * (A fresh read of the user's record: the tool keeps no cache.) */
static int check_user(ops_ctx *ctx, shown *s) {
  bool revoked = false;
  s->revoked = -1;
  if (ctx->tornado || !s->rec.user)
    return -1;
  int rc = mcs__revoke_check(ctx->mgr, &s->rec, &revoked);
  if (rc)
    return ops_store_error(ctx, rc);
  s->revoked = revoked;
  return -1;
}

static json_t *or_null(bool has, json_t *v) {
  if (has)
    return v;
  json_decref(v);
  return json_null();
}

static json_t *describe(const ops_ctx *ctx, const shown *s) {
  const mcs__record *r = &s->rec;
  json_t *doc = json_object();
  json_object_set_new(doc, "mode",
                      json_string(ctx->tornado ? "tornado" : "native"));
  json_object_set_new(doc, "id", json_string(s->t.id));
  json_object_set_new(doc, "key", json_string(s->t.key));
  json_object_set_new(doc, "ttl", or_null(s->ttl >= 0, json_integer(s->ttl)));
  if (s->t.signed_at)
    json_object_set_new(doc, "signed_at", json_integer(s->t.signed_at));
  if (r->retired_until)
    json_object_set_new(doc, "retired_until", json_integer(r->retired_until));
  /* The recipe's pickles carry no creation time or revision. */
  json_object_set_new(doc, "created",
                      or_null(!ctx->tornado, json_integer(r->created)));
  json_object_set_new(doc, "revision",
                      or_null(!ctx->tornado, json_integer((json_int_t)r->rev)));
  json_object_set_new(
      doc, "user",
      or_null(r->user != NULL, json_string(r->user ? r->user : "")));
  if (s->revoked >= 0)
    json_object_set_new(doc, "user_revoked", json_boolean(s->revoked));
  json_object_set(doc, "data", r->data);
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
  const mcs__record *r = &s->rec;
  char t1[64], t2[64];
  int rc =
      ops_printf(ctx->cmd, "key:       %s\nid:        %s\n", s->t.key, s->t.id);
  if (rc == TOOL_EXIT_OK && s->ttl >= 0)
    rc = ops_printf(ctx->cmd, "ttl:       %lld s\n", (long long)s->ttl);
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
                    (unsigned long long)r->rev);
  }
  if (rc == TOOL_EXIT_OK && r->user)
    rc = ops_printf(ctx->cmd, "user:      %s (%s)\n", r->user,
                    s->revoked ? "revoked" : "current");
  char *data = json_dumps(r->data, JSON_INDENT(2) | JSON_SORT_KEYS);
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
    rc = check_user(ctx, &s);
  if (rc < 0)
    rc = ctx->args->json ? ops_print_json(ctx->cmd, describe(ctx, &s))
                         : print_text(ctx, &s);
  mcs__record_clear(&s.rec);
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
    "data; a retired snapshot left by a regenerate (read-only until then,\n"
    "see mcs_session_regenerate) also shows retired_until.\n"
    "\n"
    "COOKIE-OR-ID: the session cookie's value (quoted or not, alone or as\n"
    "name=value; verified with the secret, its age not checked) or the\n"
    "session id itself (native: 43 base64url characters; tornado: 64 hex\n"
    "digits). Exits 1 when the cookie is invalid or the session does not\n"
    "exist.\n"
    "\n" OPS_STDIN_HELP "\n" OPS_OPTIONS_HELP,
    run_show,
};
