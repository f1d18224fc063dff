/* The operations subcommands' shared parts (see ops_common.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ops_common.h"

#define TORNADO_ID_COOKIE "session_id"
#define TORNADO_ID_LEN 64

/* ---- Options ------------------------------------------------------------ */

void ops_opts_init(ops_opts *o, ops_args *a) {
  memset(a, 0, sizeof *a);
  const tool_opt common[] = {
      {"store", &a->store, NULL},
      {"mode", &a->mode, NULL},
      {"secret-file", &a->secret_file, NULL},
      {"store-key-secret-file", &a->store_key_secret_file, NULL},
      {"cookie-secret-file", &a->cookie_secret_file, NULL},
      {"session-secret-file", &a->session_secret_file, NULL},
      {"json", NULL, &a->json}};
  memcpy(o->opt, common, sizeof common);
  o->n = sizeof common / sizeof common[0];
}

void ops_opts_add(ops_opts *o, const char *name, const char **value) {
  if (o->n < sizeof o->opt / sizeof o->opt[0])
    o->opt[o->n++] = (tool_opt){name, value, NULL};
}

/* ---- Opening the store -------------------------------------------------- */

static int check_mode(ops_ctx *ctx) {
  const ops_args *a = ctx->args;
  const char *mode = a->mode ? a->mode : "native";
  if (strcmp(mode, "native") != 0 && strcmp(mode, "tornado") != 0)
    return tool_usage_error(ctx->cmd,
                            "--mode must be native or tornado, "
                            "not",
                            mode);
  ctx->tornado = strcmp(mode, "tornado") == 0;
  if (ctx->tornado && (a->secret_file || a->store_key_secret_file))
    return tool_usage_error(ctx->cmd,
                            "tornado mode takes "
                            "--cookie-secret-file and --session-secret-file",
                            NULL);
  if (!ctx->tornado && (a->cookie_secret_file || a->session_secret_file))
    return tool_usage_error(ctx->cmd,
                            "--cookie-secret-file and "
                            "--session-secret-file are for --mode tornado",
                            NULL);
  return -1;
}

static int open_store(ops_ctx *ctx) {
  const char *url = ctx->args->store;
  char why[256];
  if (!url)
    return tool_usage_error(ctx->cmd, "--store is required", NULL);
  if (strncmp(url, "memcached://", 12) != 0)
    return tool_usage_error(ctx->cmd,
                            "--store must be a memcached:// URL "
                            "(a memory store lives inside its process, out "
                            "of reach), not",
                            url);
  if (mcs_memcached_url_parse(url, &ctx->mc, why, sizeof why) != MCS_OK)
    return tool_usage_error(ctx->cmd, "bad --store URL:", why);
  int rc = mcs_store_memcached_new_config(&ctx->store, &ctx->mc);
  if (rc)
    return tool_fail(ctx->cmd, TOOL_EXIT_ERROR, "cannot create the store",
                     mcs_strerror(rc));
  return -1;
}

/* The recipe's session_secret may be any non-empty string, even one
 * shorter than a key ring accepts: read it by the manager's rules. */
static int check_session_secret(const tool_cmd *cmd, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return tool_fail(cmd, TOOL_EXIT_ERROR, "cannot read secret file",
                     strerror(errno));
  tool_check_secret_mode(cmd, path, f);
  char buf[MCS_SECRET_MAX_BYTES + 2];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  if (n > 0 && buf[n - 1] == '\n')
    n--;
  sodium_memzero(buf, sizeof buf);
  if (n == 0 || n > MCS_SECRET_MAX_BYTES)
    return tool_fail(cmd, TOOL_EXIT_ERROR,
                     "the session secret must be 1 to "
                     "1024 bytes",
                     path);
  return -1;
}

/* The manager says why it refused a setting (a secret of the wrong
 * length, say); its messages start with "mcsession: ". */
static void log_to_stderr(void *ud, mcs_log_level level, const char *msg) {
  (void)level;
  if (strncmp(msg, "mcsession: ", 11) == 0)
    msg += 11;
  fprintf(stderr, "mcsession %s: %s\n", ((const tool_cmd *)ud)->name, msg);
}

/* Native mode: a manager over the store, so keys are derived exactly as
 * the application derives them. */
static int open_manager(ops_ctx *ctx, const tool_secret *store_key) {
  const tool_secret *ring_key =
      ctx->cookie_key.len ? &ctx->cookie_key : store_key;
  if (!(ctx->ring = tool_ring(ctx->cmd, 0, ring_key)))
    return TOOL_EXIT_ERROR;
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  cfg.keys = ctx->ring;
  cfg.store = ctx->store;
  cfg.revocation_check_interval = 0; /* always ask the store */
  cfg.log = log_to_stderr;
  cfg.log_ud = (void *)(uintptr_t)ctx->cmd;
  if (store_key->len) {
    cfg.store_key_secret = store_key->bytes;
    cfg.store_key_secret_len = store_key->len;
  }
  int rc = mcs_manager_new(&ctx->mgr, &cfg);
  return rc ? TOOL_EXIT_ERROR : -1; /* the log callback said why */
}

static int read_native_keys(ops_ctx *ctx) {
  const ops_args *a = ctx->args;
  tool_secret store_key = {.len = 0};
  int rc = -1;
  if (!a->secret_file && !a->store_key_secret_file)
    return tool_usage_error(ctx->cmd,
                            "native mode needs --secret-file (or "
                            "--store-key-secret-file)",
                            NULL);
  if (a->secret_file)
    rc = tool_read_secret(ctx->cmd, a->secret_file, &ctx->cookie_key);
  if (rc < 0 && a->store_key_secret_file)
    rc = tool_read_secret(ctx->cmd, a->store_key_secret_file, &store_key);
  if (rc < 0)
    rc = open_manager(ctx, &store_key);
  tool_secret_wipe(&store_key);
  return rc;
}

static int read_tornado_keys(ops_ctx *ctx) {
  const ops_args *a = ctx->args;
  int rc = -1;
  if (a->cookie_secret_file)
    rc = tool_read_secret(ctx->cmd, a->cookie_secret_file, &ctx->cookie_key);
  if (rc < 0 && a->session_secret_file)
    rc = check_session_secret(ctx->cmd, a->session_secret_file);
  return rc;
}

int ops_open(ops_ctx *ctx, const tool_cmd *cmd, const ops_args *args,
             bool need_keys) {
  memset(ctx, 0, sizeof *ctx);
  ctx->cmd = cmd;
  ctx->args = args;
  int rc = check_mode(ctx);
  if (rc < 0)
    rc = open_store(ctx);
  if (rc < 0 && need_keys)
    rc = ctx->tornado ? read_tornado_keys(ctx) : read_native_keys(ctx);
  if (rc >= 0)
    ops_close(ctx);
  return rc;
}

void ops_close(ops_ctx *ctx) {
  mcs_manager_free(ctx->mgr);
  mcs_keyring_free(ctx->ring);
  mcs_store_free(ctx->store);
  tool_secret_wipe(&ctx->cookie_key);
  ctx->mgr = NULL;
  ctx->ring = NULL;
  ctx->store = NULL;
}

/* ---- Naming a session --------------------------------------------------- */

static bool b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool hex_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A session id of the mode's shape: native 43 base64url characters,
 * tornado 64 lowercase hex digits. */
static bool id_ok(const ops_ctx *ctx, const char *s, size_t n) {
  if (n != (ctx->tornado ? TORNADO_ID_LEN : MCS_ID_LEN))
    return false;
  for (size_t i = 0; i < n; i++)
    if (ctx->tornado ? !hex_char(s[i]) : !b64url_char(s[i]))
      return false;
  return true;
}

static int store_key(ops_ctx *ctx, ops_target *t) {
  size_t n = strlen(t->id);
  if (ctx->tornado) { /* the recipe keys memcached by the raw id */
    memcpy(t->key, t->id, n + 1);
    t->key_len = n;
    return -1;
  }
  int rc = ctx->mgr->scheme->store_key(ctx->mgr, t->id, n, t->key, &t->key_len);
  return rc ? tool_fail(ctx->cmd, TOOL_EXIT_ERROR,
                        "cannot derive the store "
                        "key",
                        mcs_strerror(rc))
            : -1;
}

/* Splits "name=value" (a Cookie or Set-Cookie header's pair; attributes
 * after ';' dropped) and unquotes the value. A signed value itself may
 * hold '=' (base64 padding) but never before its first '|'. */
typedef struct cookie_text {
  const char *name, *value;
  size_t name_len, value_len;
} cookie_text;

static void split_cookie(const char *arg, cookie_text *c) {
  const char *eq = strchr(arg, '=');
  const char *bar = strchr(arg, '|');
  c->name = NULL;
  c->name_len = 0;
  c->value = arg;
  if (eq && (!bar || eq < bar)) {
    c->name = arg;
    c->name_len = (size_t)(eq - arg);
    c->value = eq + 1;
  }
  c->value_len = strcspn(c->value, ";");
  if (c->value_len >= 2 && c->value[0] == '"' &&
      c->value[c->value_len - 1] == '"') {
    c->value++;
    c->value_len -= 2;
  }
}

static int invalid(const ops_ctx *ctx, const char *why) {
  return tool_fail(ctx->cmd, TOOL_EXIT_INVALID, "invalid cookie", why);
}

/* Checks the signature with the cookie secret (any key version, as
 * Tornado with a plain secret does; no age limit) and extracts the id. */
static int verify_cookie(ops_ctx *ctx, const cookie_text *c,
                         const mcs__signed_parts *p, ops_target *t) {
  char name[MCS_SIGNED_NAME_MAX + 1];
  memcpy(name, p->name, p->name_len);
  name[p->name_len] = '\0';
  if (ctx->tornado && strcmp(name, TORNADO_ID_COOKIE) != 0)
    return invalid(ctx, "not a session_id cookie");
  if (c->name && (c->name_len != p->name_len ||
                  memcmp(c->name, p->name, p->name_len) != 0))
    return invalid(ctx, "the cookie's name is not the one it was signed for");
  mcs_keyring *ring = tool_ring(ctx->cmd, p->key_version, &ctx->cookie_key);
  if (!ring)
    return TOOL_EXIT_ERROR;
  size_t n = 0;
  int rc =
      mcs__verify_at(ring, name, c->value, c->value_len, (int64_t)time(NULL),
                     -1, t->id, MCS__ID_MAX, &n, &t->signed_at);
  mcs_keyring_free(ring);
  if (rc == MCS_ELIMIT || (rc == MCS_OK && !id_ok(ctx, t->id, n)))
    return invalid(ctx, "it does not carry a session id of this mode");
  if (rc)
    return invalid(ctx, "signature does not match (wrong secret, or the "
                        "value was altered)");
  t->id[n] = '\0';
  return -1;
}

int ops_resolve(ops_ctx *ctx, const char *arg, ops_target *t) {
  memset(t, 0, sizeof *t);
  size_t n = strlen(arg);
  if (id_ok(ctx, arg, n)) {
    memcpy(t->id, arg, n + 1);
    return store_key(ctx, t);
  }
  cookie_text c;
  mcs__signed_parts p;
  split_cookie(arg, &c);
  if (mcs__signed_parse(c.value, c.value_len, &p) != MCS_OK)
    return invalid(ctx, "neither a session id nor a signed cookie value");
  if (ctx->cookie_key.len == 0)
    return tool_usage_error(ctx->cmd,
                            ctx->tornado ? "a cookie needs --cookie-secret-file"
                                         : "a cookie needs --secret-file",
                            NULL);
  int rc = verify_cookie(ctx, &c, &p, t);
  return rc >= 0 ? rc : store_key(ctx, t);
}

/* ---- Output ------------------------------------------------------------- */

int ops_store_error(const ops_ctx *ctx, int rc) {
  char what[160];
  snprintf(what, sizeof what, "%s (%s)", mcs_strerror(rc), ctx->args->store);
  return tool_fail(ctx->cmd, TOOL_EXIT_ERROR, "store error", what);
}

int ops_print_json(const tool_cmd *cmd, json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (!text)
    return tool_fail(cmd, TOOL_EXIT_ERROR, "out of memory", NULL);
  int rc = tool_print_line(cmd, text, strlen(text));
  free(text);
  return rc;
}

int ops_printf(const tool_cmd *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vprintf(fmt, ap);
  va_end(ap);
  if (n >= 0 && fflush(stdout) == 0)
    return TOOL_EXIT_OK;
  return tool_fail(cmd, TOOL_EXIT_ERROR, "cannot write output",
                   strerror(errno));
}

int ops_run_one(const tool_cmd *cmd, int argc, char **argv,
                int (*fn)(ops_ctx *ctx, const char *cookie_or_id)) {
  ops_args a;
  ops_opts o;
  char *pos[1];
  tool_line line;
  ops_opts_init(&o, &a);
  int rc = tool_parse_args(cmd, argc, argv, o.opt, o.n, pos, 1);
  if (rc >= 0)
    return rc;
  if ((rc = tool_stdin_arg(cmd, "COOKIE-OR-ID", &pos[0], &line)) < 0) {
    ops_ctx ctx;
    if ((rc = ops_open(&ctx, cmd, &a, true)) < 0) {
      rc = fn(&ctx, pos[0]);
      ops_close(&ctx);
    }
  }
  tool_line_wipe(&line);
  return rc;
}
