/* The operations subcommands' shared parts (see ops_common.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops_common.h"

#define TORNADO_ID_COOKIE "session_id"
#define NATIVE_COOKIE "session" /* the library's default cookie name */

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

int ops_timeouts(const tool_cmd *cmd, const char *idle, const char *absolute,
                 ops_args *a) {
  int64_t v;
  int rc;
  if (idle && (rc = tool_opt_i64(cmd, "--idle-timeout", idle, 1, UINT32_MAX,
                                 &v)) >= 0)
    return rc;
  if (idle)
    a->idle_timeout = (uint32_t)v;
  if (absolute && (rc = tool_opt_i64(cmd, "--absolute-timeout", absolute, 0,
                                     UINT32_MAX, &v)) >= 0)
    return rc;
  if (absolute) {
    a->has_absolute = true;
    a->absolute_timeout = (uint32_t)v;
  }
  return -1;
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

static bool has_scheme(const char *url, const char *scheme) {
  return strncmp(url, scheme, strlen(scheme)) == 0;
}

/* memcached://, redis:// or redis+cluster://. Tornado mode keeps
 * memcached: the recipe's Python side speaks memcached, so its sessions
 * are never in Redis. */
static int open_store(ops_ctx *ctx) {
  const char *url = ctx->args->store;
  char why[256] = "";
  if (!url)
    return tool_usage_error(ctx->cmd, "--store is required", NULL);
  ctx->redis =
      has_scheme(url, "redis://") || has_scheme(url, "redis+cluster://");
  if (!ctx->redis && !has_scheme(url, "memcached://"))
    return tool_usage_error(ctx->cmd,
                            "--store must be a memcached://, redis:// or "
                            "redis+cluster:// URL (a memory store lives "
                            "inside its process, out of reach), not",
                            url);
  if (ctx->redis && ctx->tornado)
    return tool_usage_error(ctx->cmd,
                            "tornado mode keeps its sessions in memcached "
                            "(the recipe's Python side speaks memcached "
                            "only); --store must be memcached://, not",
                            url);
  int rc = ctx->redis ? mcs_redis_url_parse(url, &ctx->rd, why, sizeof why)
                      : mcs_memcached_url_parse(url, &ctx->mc, why, sizeof why);
  if (rc != MCS_OK) {
    char reason[300]; /* `why` quotes what it names: no quotes around it */
    snprintf(reason, sizeof reason, "bad --store URL: %s", why);
    return tool_usage_error(ctx->cmd, reason, NULL);
  }
  rc = ctx->redis
           ? mcs_store_redis_new_config(&ctx->store, &ctx->rd, why, sizeof why)
           : mcs_store_memcached_new_config(&ctx->store, &ctx->mc);
  if (rc)
    return tool_fail(ctx->cmd, TOOL_EXIT_ERROR, "cannot create the store",
                     rc == MCS_EINVAL && why[0] ? why : mcs_strerror(rc));
  return -1;
}

/* The recipe's session_secret may be any non-empty string, even one
 * shorter than a key ring accepts: read it by the manager's rules. */
static int read_session_secret(const tool_cmd *cmd, const char *path,
                               tool_secret *out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return tool_fail(cmd, TOOL_EXIT_ERROR, "cannot read secret file",
                     strerror(errno));
  tool_check_secret_mode(cmd, path, f);
  size_t n = fread(out->bytes, 1, sizeof out->bytes, f);
  fclose(f);
  if (n > 0 && out->bytes[n - 1] == '\n')
    n--;
  out->len = n;
  if (n == 0 || n > MCS_SECRET_MAX_BYTES) {
    tool_secret_wipe(out);
    return tool_fail(cmd, TOOL_EXIT_ERROR,
                     "the session secret must be 1 to "
                     "1024 bytes",
                     path);
  }
  return -1;
}

/* The manager says why it refused a setting (a secret of the wrong
 * length, say); its messages start with "mcsession: ". Its warnings (a
 * store error, a record that does not open) are left out: the command
 * reports what it found itself, on one line. */
static void log_to_stderr(void *ud, mcs_log_level level, const char *msg) {
  if (level != MCS_LOG_ERROR)
    return;
  if (strncmp(msg, "mcsession: ", 11) == 0)
    msg += 11;
  fprintf(stderr, "mcsession %s: %s\n", ((const tool_cmd *)ud)->name, msg);
}

/* Tornado mode names sessions by raw ids and verifies session_id cookies
 * with the cookie secret; its manager still wants a cookie secret and a
 * session secret. A secret nobody knows stands in for one not given: the
 * tool refuses cookies before it would need the real one, and the
 * session secret only makes new ids, which the tool never does. */
static int stand_in(const tool_cmd *cmd, tool_secret *s) {
  s->len = 32;
  int rc = mcs_random_bytes(s->bytes, s->len);
  return rc ? tool_fail(cmd, TOOL_EXIT_ERROR, "no random bytes",
                        mcs_strerror(rc))
            : -1;
}

/* The manager's config for the mode, over ctx's store and ring. */
static int manager_config(ops_ctx *ctx, mcs_manager_config *cfg,
                          tool_secret *stand_in_secret) {
  mcs_manager_config_init(cfg);
  cfg->keys = ctx->ring;
  cfg->store = ctx->store;
  cfg->log = log_to_stderr;
  /* An operator looks at whatever the store holds: plain records too
   * (show says which were sealed). */
  cfg->seal_records = MCS_SEAL_ACCEPT_PLAIN;
  cfg->log_ud = (void *)(uintptr_t)ctx->cmd;
  if (ctx->args->idle_timeout)
    cfg->idle_timeout = ctx->args->idle_timeout;
  if (ctx->args->has_absolute)
    cfg->absolute_timeout = ctx->args->absolute_timeout;
  if (ctx->tornado) {
    cfg->mode = MCS_MODE_TORNADO;
    const tool_secret *ss = &ctx->session_key;
    if (!ss->len) {
      int rc = stand_in(ctx->cmd, stand_in_secret);
      if (rc >= 0)
        return rc;
      ss = stand_in_secret;
    }
    cfg->session_secret = ss->bytes;
    cfg->session_secret_len = ss->len;
  } else if (ctx->store_key.len) {
    cfg->store_key_secret = ctx->store_key.bytes;
    cfg->store_key_secret_len = ctx->store_key.len;
  }
  return -1;
}

/* (Re)opens the manager with a ring holding the secret at `version`:
 * a cookie names the key version it was signed with, and with one
 * secret the tool is Tornado with a plain cookie_secret, which verifies
 * any version. (The store-key secret, unless given, is the ring's lowest
 * version's: the same secret, whatever the version.) -1, or the exit
 * status after printing why. */
static int ops_manager(ops_ctx *ctx, unsigned version) {
  if (ctx->mgr && ctx->ring_version == version)
    return -1;
  mcs_manager_free(ctx->mgr);
  mcs_keyring_free(ctx->ring);
  ctx->mgr = NULL;
  tool_secret spare = {.len = 0};
  const tool_secret *ring_key =
      ctx->cookie_key.len ? &ctx->cookie_key : &ctx->store_key;
  int rc = -1;
  if (!ring_key->len) /* tornado without --cookie-secret-file */
    rc = stand_in(ctx->cmd, &spare);
  if (rc < 0 && !(ctx->ring = tool_ring(ctx->cmd, version,
                                        ring_key->len ? ring_key : &spare)))
    rc = TOOL_EXIT_ERROR;
  ctx->ring_version = version;
  mcs_manager_config cfg;
  if (rc < 0)
    rc = manager_config(ctx, &cfg, &spare);
  if (rc < 0 && mcs_manager_new(&ctx->mgr, &cfg) != MCS_OK)
    rc = TOOL_EXIT_ERROR; /* the log callback said why */
  tool_secret_wipe(&spare);
  return rc;
}

int ops_use_key_version(ops_ctx *ctx, unsigned version) {
  return ops_manager(ctx, version);
}

static int read_native_keys(ops_ctx *ctx) {
  const ops_args *a = ctx->args;
  int rc = -1;
  if (!a->secret_file && !a->store_key_secret_file)
    return tool_usage_error(ctx->cmd,
                            "native mode needs --secret-file (or "
                            "--store-key-secret-file)",
                            NULL);
  if (a->secret_file)
    rc = tool_read_secret(ctx->cmd, a->secret_file, &ctx->cookie_key);
  if (rc < 0 && a->store_key_secret_file)
    rc = tool_read_secret(ctx->cmd, a->store_key_secret_file, &ctx->store_key);
  return rc;
}

static int read_tornado_keys(ops_ctx *ctx) {
  const ops_args *a = ctx->args;
  int rc = -1;
  if (a->cookie_secret_file)
    rc = tool_read_secret(ctx->cmd, a->cookie_secret_file, &ctx->cookie_key);
  if (rc < 0 && a->session_secret_file)
    rc = read_session_secret(ctx->cmd, a->session_secret_file,
                             &ctx->session_key);
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
  if (rc < 0 && need_keys)
    rc = ops_manager(ctx, 0);
  if (rc >= 0)
    ops_close(ctx);
  return rc;
}

void ops_close(ops_ctx *ctx) {
  mcs_manager_free(ctx->mgr);
  mcs_keyring_free(ctx->ring);
  mcs_store_free(ctx->store);
  tool_secret_wipe(&ctx->cookie_key);
  tool_secret_wipe(&ctx->store_key);
  tool_secret_wipe(&ctx->session_key);
  ctx->mgr = NULL;
  ctx->ring = NULL;
  ctx->store = NULL;
}

/* ---- Naming a session --------------------------------------------------- */

/* Splits "name=value" (a Cookie or Set-Cookie header's pair; what
 * follows ';' dropped) and unquotes the value. A signed value itself may
 * hold '=' (base64 padding) but never before its first '|'. */
typedef struct cookie_text {
  const char *name, *value;
  size_t name_len, value_len;
} cookie_text;

static void split_pair(const char *arg, cookie_text *c) {
  const char *end = arg + strcspn(arg, ";");
  const char *eq = memchr(arg, '=', (size_t)(end - arg));
  const char *bar = memchr(arg, '|', (size_t)(end - arg));
  c->name = NULL;
  c->name_len = 0;
  c->value = arg;
  if (eq && (!bar || eq < bar)) {
    c->name = arg;
    c->name_len = (size_t)(eq - arg);
    c->value = eq + 1;
  }
  c->value_len = (size_t)(end - c->value);
  if (c->value_len >= 2 && c->value[0] == '"' &&
      c->value[c->value_len - 1] == '"') {
    c->value++;
    c->value_len -= 2;
  }
}

/* A whole header line, as copied from a browser's developer tools or a
 * capture, starts with the header's name ("Cookie: a=1; session=...",
 * "Set-Cookie: session=...; Path=/"), which is not part of any pair. */
static const char *skip_header_name(const char *arg) {
  static const char *const headers[] = {"cookie:", "set-cookie:"};
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    size_t n = strlen(headers[i]);
    if (strncasecmp(arg, headers[i], n) == 0)
      return arg + n + strspn(arg + n, " \t");
  }
  return arg;
}

/* Which pair of a header line names the session, in the order tried:
 * the one named as the session cookie usually is and signed for that
 * name; else the first signed for its own name (an application may
 * rename its cookie); else the first holding a signed value at all, so
 * that the error names the pair's name and the one it was signed for. */
typedef enum pair_rule {
  PAIR_USUAL_NAME,
  PAIR_OWN_NAME,
  PAIR_ANY_SIGNED,
  PAIR_RULES
} pair_rule;

static bool pair_fits(const cookie_text *c, pair_rule rule, const char *usual) {
  mcs_signed_info info;
  size_t len = 0;
  int rc = mcs_signed_inspect(c->value, c->value_len, &info, NULL, 0, &len);
  if (rc != MCS_OK && rc != MCS_ELIMIT) /* ELIMIT: well formed, no buffer */
    return false;
  if (rule == PAIR_ANY_SIGNED)
    return true;
  bool own = c->name && c->name_len == strlen(info.name) &&
             memcmp(c->name, info.name, c->name_len) == 0;
  return own && (rule == PAIR_OWN_NAME || strcmp(info.name, usual) == 0);
}

/* The first of the pairs in `line` that fits `rule` into *c; false when
 * there is none. */
static bool find_pair(const char *line, pair_rule rule, const char *usual,
                      cookie_text *c) {
  for (const char *p = line; p; p = strchr(p, ';')) {
    p += *p == ';';
    split_pair(p + strspn(p, " \t"), c);
    if (pair_fits(c, rule, usual))
      return true;
  }
  return false;
}

/* COOKIE-OR-ID's text as one pair. A browser's Cookie header holds every
 * cookie of the site, the session's not necessarily first: the pair is
 * chosen by the rules above, else it is the first pair (or the whole
 * text: an id). */
static void split_cookie(const char *arg, const char *usual, cookie_text *c) {
  arg = skip_header_name(arg);
  for (pair_rule r = PAIR_USUAL_NAME; r < PAIR_RULES; r++)
    if (find_pair(arg, r, usual, c))
      return;
  split_pair(arg, c);
}

static int invalid(const ops_ctx *ctx, const char *why) {
  return tool_fail(ctx->cmd, TOOL_EXIT_INVALID, "invalid cookie", why);
}

/* A signed cookie value: the checks the tool can say more about first
 * (mcs_signed_inspect reads the name and key version, proving nothing),
 * then the library verifies it (any key version, as Tornado with a plain
 * secret does; no age limit) and names the session. */
static int resolve_cookie(ops_ctx *ctx, const cookie_text *c,
                          const mcs_signed_info *info, mcs_admin_ref *t) {
  if (ctx->cookie_key.len == 0)
    return tool_usage_error(ctx->cmd,
                            ctx->tornado ? "a cookie needs --cookie-secret-file"
                                         : "a cookie needs --secret-file",
                            NULL);
  if (ctx->tornado && strcmp(info->name, TORNADO_ID_COOKIE) != 0)
    return invalid(ctx, "not a session_id cookie");
  if (c->name && (c->name_len != strlen(info->name) ||
                  memcmp(c->name, info->name, c->name_len) != 0)) {
    char why[400]; /* both names, which is the whole story */
    snprintf(why, sizeof why, "it is named '%.*s' but was signed for '%s'",
             (int)(c->name_len > 128 ? 128 : c->name_len), c->name, info->name);
    return invalid(ctx, why);
  }
  int rc = ops_manager(ctx, info->key_version);
  if (rc >= 0)
    return rc;
  rc = mcs_admin_session_resolve(ctx->mgr, c->value, c->value_len, info->name,
                                 t);
  if (rc == MCS_EINVAL)
    return invalid(ctx, "it does not carry a session id of this mode");
  if (rc)
    return invalid(ctx, "signature does not match (wrong secret, or the "
                        "value was altered)");
  return -1;
}

/* What the tool understands, for a text that is none of it: said as
 * what to paste, since a wrong paste is the usual cause. */
#define NOTHING_TO_NAME(cookie, id)                                            \
  "neither a session id nor a signed cookie value; give the " cookie           \
  " cookie's value (2|1:...), its pair (" cookie "=2|1:...), a whole "         \
  "Cookie: line holding it, or the session id (" id ")"

int ops_resolve(ops_ctx *ctx, const char *arg, mcs_admin_ref *t) {
  cookie_text c;
  mcs_signed_info info;
  size_t value_len = 0;
  split_cookie(arg, ctx->tornado ? TORNADO_ID_COOKIE : NATIVE_COOKIE, &c);
  int rc = mcs_signed_inspect(c.value, c.value_len, &info, NULL, 0, &value_len);
  if (rc == MCS_OK || rc == MCS_ELIMIT) /* well formed (ELIMIT: no buffer) */
    return resolve_cookie(ctx, &c, &info, t);
  if (mcs_admin_session_resolve(ctx->mgr, arg, strlen(arg), NULL, t) != MCS_OK)
    return invalid(
        ctx, ctx->tornado ? NOTHING_TO_NAME(TORNADO_ID_COOKIE, "64 hex digits")
                          : NOTHING_TO_NAME(NATIVE_COOKIE, "43 base64url "
                                                           "characters"));
  return -1;
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

int ops_check_user(const tool_cmd *cmd, const ops_args *a, const char *uid) {
  char why[128];
  if (a->mode && strcmp(a->mode, "tornado") == 0) {
    snprintf(why, sizeof why,
             "%s works in native mode only (tornado sessions cannot be "
             "bound to users)",
             cmd->name);
    return tool_usage_error(cmd, why, NULL);
  }
  if (!mcs_user_id_valid(uid))
    return tool_usage_error(cmd,
                            "UID must be 1 to 256 bytes of UTF-8 "
                            "without control characters",
                            NULL);
  return -1;
}

int ops_run_user(const tool_cmd *cmd, int argc, char **argv, size_t npos,
                 int (*check)(const tool_cmd *cmd, char **pos),
                 int (*fn)(ops_ctx *ctx, char **pos)) {
  ops_args a;
  ops_opts o;
  char *pos[2];
  const char *idle = NULL, *absolute = NULL;
  ops_ctx ctx;
  if (npos < 1 || npos > sizeof pos / sizeof pos[0])
    return TOOL_EXIT_ERROR;
  ops_opts_init(&o, &a);
  ops_opts_add(&o, "idle-timeout", &idle);
  ops_opts_add(&o, "absolute-timeout", &absolute);
  int rc = tool_parse_args(cmd, argc, argv, o.opt, o.n, pos, npos);
  if (rc >= 0 || (rc = ops_timeouts(cmd, idle, absolute, &a)) >= 0 ||
      (rc = ops_check_user(cmd, &a, pos[0])) >= 0 ||
      (check && (rc = check(cmd, pos)) >= 0) ||
      (rc = ops_open(&ctx, cmd, &a, true)) >= 0)
    return rc;
  rc = fn(&ctx, pos);
  ops_close(&ctx);
  return rc;
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
