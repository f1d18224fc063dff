/* mcsession stats: per-server figures from memcached itself, and whether
 * each server answers. */
#include <stdio.h>
#include <string.h>

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

/* Asks every server; prints a table or one JSON object. */
static int report(const ops_ctx *ctx, size_t *down) {
  const mcs_memcached_config *mc = &ctx->mc;
  json_t *list = json_array();
  int rc = ctx->args->json ? TOOL_EXIT_OK
                           : ops_printf(ctx->cmd,
                                        "%-24s state %10s %10s %10s "
                                        "%10s %10s\n",
                                        "server", "items", "hits", "misses",
                                        "evictions", "conns");
  for (size_t i = 0; i < mc->server_count && rc == TOOL_EXIT_OK; i++) {
    char name[MCS_MEMCACHED_HOST_MAX + 16];
    node_stats n;
    const mcs_memcached_server *srv = &mc->servers[i];
    snprintf(name, sizeof name, strchr(srv->host, ':') ? "[%s]:%u" : "%s:%u",
             srv->host, (unsigned)srv->port);
    node_stats_read(srv, mc->connect_timeout_ms, mc->io_timeout_ms, &n);
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
  rc = report(&ctx, &down);
  if (rc == TOOL_EXIT_OK && down) {
    char what[64];
    snprintf(what, sizeof what, "%zu of %zu", down, ctx.mc.server_count);
    rc = tool_fail(cmd, TOOL_EXIT_ERROR, "servers not answering", what);
  }
  ops_close(&ctx);
  return rc;
}

const tool_cmd tool_cmd_stats = {
    "stats",
    "per-server memcached figures, and which servers answer",
    "stats --store URL [--json]",
    "Asks every server of the --store URL for its statistics (memcached's\n"
    "'stats' command, over a short connection of its own, within the URL's\n"
    "connect_timeout_ms and io_timeout_ms) and prints one line per server:\n"
    "up or down, items (curr_items), hits (get_hits), misses (get_misses),\n"
    "evictions, connections (curr_connections). With --json: {\"servers\":\n"
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
