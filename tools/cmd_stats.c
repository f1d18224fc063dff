/* mcsession stats: per-server figures from memcached (stats) or Redis
 * (INFO) itself, and whether each server answers. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "node_stats.h"
#include "ops_common.h"

static json_t *node_json(const char *name, const node_stats *n) {
  json_t *o = json_pack("{s:s, s:b}", "server", name, "up", n->up);
  if (!o)
    return NULL;
  if (!n->up) {
    json_object_set_new(o, "error", json_string(n->error));
    return o;
  }
  json_object_set_new(o, "version", json_string(n->version));
#define NODE_STAT_JSON(field)                                                  \
  json_object_set_new(o, #field, json_integer((json_int_t)n->field));
  NODE_STAT_NAMES(NODE_STAT_JSON)
#undef NODE_STAT_JSON
  return o;
}

static int print_row(const tool_cmd *cmd, const char *name,
                     const node_stats *n) {
  if (!n->up)
    return ops_printf(cmd, "%-24s down  %s\n", name, n->error);
  return ops_printf(
      cmd, "%-24s up    %10llu %10llu %10llu %10llu %10llu\n", name,
      (unsigned long long)n->curr_items, (unsigned long long)n->get_hits,
      (unsigned long long)n->get_misses, (unsigned long long)n->evictions,
      (unsigned long long)n->curr_connections);
}

/* The servers of the --store URL, as the node_stats client takes them. */
typedef struct targets {
  size_t count;
  node_target t[MCS_MEMCACHED_SERVERS_MAX > MCS_REDIS_SERVERS_MAX
                    ? MCS_MEMCACHED_SERVERS_MAX
                    : MCS_REDIS_SERVERS_MAX];
  char password[MCS_REDIS_PASSWORD_MAX + 2];
} targets;

/* The password_file's first line (the store, made before, has checked
 * the file). */
static void read_password(const char *path, targets *ts, size_t *len) {
  *len = 0;
  FILE *f = path[0] ? fopen(path, "rb") : NULL;
  if (!f)
    return;
  size_t n = fread(ts->password, 1, sizeof ts->password - 1, f);
  fclose(f);
  while (*len < n && ts->password[*len] != '\n' && ts->password[*len] != '\r')
    (*len)++;
}

static void list_targets(const ops_ctx *ctx, targets *ts) {
  size_t pw_len = 0;
  if (ctx->redis) {
    const mcs_redis_config *rd = &ctx->rd;
    read_password(rd->password_file, ts, &pw_len);
    ts->count = rd->server_count;
    for (size_t i = 0; i < ts->count; i++)
      ts->t[i] = (node_target){rd->servers[i].host,
                               rd->servers[i].port,
                               rd->connect_timeout_ms,
                               rd->io_timeout_ms,
                               true,
                               ts->password,
                               pw_len,
                               rd->db};
    return;
  }
  const mcs_memcached_config *mc = &ctx->mc;
  ts->count = mc->server_count;
  for (size_t i = 0; i < ts->count; i++)
    ts->t[i] = (node_target){mc->servers[i].host,
                             mc->servers[i].port,
                             mc->connect_timeout_ms,
                             mc->io_timeout_ms,
                             false,
                             NULL,
                             0,
                             0};
}

/* Asks every server; prints a table or one JSON object. */
static int report(const ops_ctx *ctx, const targets *ts, size_t *down) {
  json_t *list = json_array();
  int rc = ctx->args->json ? TOOL_EXIT_OK
                           : ops_printf(ctx->cmd,
                                        "%-24s state %10s %10s %10s "
                                        "%10s %10s\n",
                                        "server", "items", "hits", "misses",
                                        "evictions", "conns");
  for (size_t i = 0; i < ts->count && rc == TOOL_EXIT_OK; i++) {
    char name[MCS_MEMCACHED_HOST_MAX + 16];
    node_stats n;
    const node_target *t = &ts->t[i];
    snprintf(name, sizeof name, strchr(t->host, ':') ? "[%s]:%u" : "%s:%u",
             t->host, (unsigned)t->port);
    node_stats_read(t, &n);
    *down += !n.up;
    if (ctx->args->json)
      json_array_append_new(list, node_json(name, &n));
    else
      rc = print_row(ctx->cmd, name, &n);
  }
  if (ctx->args->json && rc == TOOL_EXIT_OK)
    return ops_print_json(ctx->cmd, json_pack("{s:o}", "servers", list));
  json_decref(list);
  return rc;
}

static int run_stats(const tool_cmd *cmd, int argc, char **argv) {
  ops_args a;
  ops_opts o;
  ops_opts_init(&o, &a);
  int rc = tool_parse_args(cmd, argc, argv, o.opt, o.n, NULL, 0);
  if (rc >= 0)
    return rc;
  ops_ctx ctx;
  if ((rc = ops_open(&ctx, cmd, &a, false)) >= 0)
    return rc;
  size_t down = 0;
  static targets ts; /* 64 targets and a password: not on the stack */
  list_targets(&ctx, &ts);
  rc = report(&ctx, &ts, &down);
  sodium_memzero(ts.password, sizeof ts.password);
  if (rc == TOOL_EXIT_OK && down) {
    char what[64];
    snprintf(what, sizeof what, "%zu of %zu", down, ts.count);
    rc = tool_fail(cmd, TOOL_EXIT_ERROR, "servers not answering", what);
  }
  ops_close(&ctx);
  return rc;
}

const tool_cmd tool_cmd_stats = {
    "stats",
    "per-server memcached or Redis figures, and which servers answer",
    "stats --store URL [--json]",
    "Asks every server of the --store URL for its statistics (memcached's\n"
    "'stats' command, or Redis's INFO after AUTH with the URL's\n"
    "password_file, over a short connection of its own, within the URL's\n"
    "connect_timeout_ms and io_timeout_ms) and prints one line per server:\n"
    "up or down, items (curr_items), hits (get_hits), misses (get_misses),\n"
    "evictions, connections (curr_connections). From Redis: the keys of the\n"
    "URL's database, keyspace_hits, keyspace_misses, evicted_keys,\n"
    "connected_clients. A redis+cluster:// URL lists its seed nodes, not\n"
    "every node of the cluster. With --json: {\"servers\":\n"
    "[{\"server\", \"up\", \"version\", \"curr_items\", \"get_hits\",\n"
    "\"get_misses\", \"evictions\", \"curr_connections\"} or {\"server\",\n"
    "\"up\": false, \"error\"}]}. The report is printed in full either way;\n"
    "when a server does not answer, the exit status is 3 and stderr says\n"
    "how many. Secrets and --mode are accepted (as for the other commands)\n"
    "and not needed.\n"
    "\n" OPS_OPTIONS_HELP,
    OPS_EXIT_USAGE_HELP
    "  3  a server not answering (after the whole report), an output\n"
    "     error\n",
    run_stats,
};
