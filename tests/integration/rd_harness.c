/*
 * Test harness for real Redis servers (see rd_harness.h). Test code: the
 * processes are mc_harness's (registered, killed at exit, stopped by
 * PID); replies are read with the library's own RESP parser.
 */
#include "rd_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/redis/rd_int.h"

extern char **environ;

static const char *server_bin(void) {
  const char *b = getenv("MCS_REDIS_SERVER");
  return b && *b ? b : "/usr/bin/redis-server";
}

static const char *cli_bin(void) { return "/usr/bin/redis-cli"; }

bool rd_harness_available(void) {
  return access(server_bin(), X_OK) == 0 && access(cli_bin(), X_OK) == 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void set_args(rd_server *s, const char *password, bool cluster) {
  size_t n = 0;
  const char **a = s->argv;
  a[n++] = server_bin();
  a[n++] = "--port";
  a[n++] = "%port";
  a[n++] = "--bind";
  a[n++] = "127.0.0.1";
  a[n++] = "--save";
  a[n++] = "";
  a[n++] = "--appendonly";
  a[n++] = "no";
  a[n++] = "--protected-mode";
  a[n++] = "no";
  a[n++] = "--dir";
  a[n++] = s->dir;
  if (password) {
    snprintf(s->extra[0], sizeof s->extra[0], "%s", password);
    a[n++] = "--requirepass";
    a[n++] = s->extra[0];
  }
  if (cluster) {
    a[n++] = "--cluster-enabled";
    a[n++] = "yes";
    a[n++] = "--cluster-node-timeout";
    a[n++] = "1000";
    a[n++] = "--cluster-replica-validity-factor";
    a[n++] = "0";
    a[n++] = "--repl-diskless-sync-delay";
    a[n++] = "0";
  }
  a[n] = NULL;
}

/* True when nothing listens on 127.0.0.1:port (a bind succeeds). */
static bool port_free(unsigned port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

int rd_server_start(rd_server *s, const char *password, bool cluster) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "/tmp/mcs-redis-XXXXXX");
  if (!mkdtemp(s->dir))
    return -1;
  set_args(s, password, cluster);
  if (!cluster)
    return mc_node_start_argv(&s->node, s->argv);
  /* A cluster node also listens on port + 10000 (its bus: "Redis cluster
   * specification", "Cluster bus"), which must exist and be free. */
  for (int attempt = 0; attempt < 50; attempt++) {
    unsigned port = mc_free_port();
    if (port && port + 10000 <= 65535 && port_free(port + 10000) &&
        mc_node_start_argv_on(&s->node, s->argv, (uint16_t)port) == 0)
      return 0;
  }
  return -1;
}

void rd_dir_remove(rd_server *s) {
  char path[160];
  const char *files[] = {"nodes.conf", "dump.rdb"};
  if (!s->dir[0])
    return;
  for (size_t i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", s->dir, files[i]);
    unlink(path);
  }
  rmdir(s->dir);
  s->dir[0] = '\0';
}

int rd_pair_start(rd_server *plain, rd_server *locked, const char *password) {
  if (rd_server_start(plain, NULL, false) == 0 &&
      rd_server_start(locked, password, false) == 0)
    return 0;
  fprintf(stderr, "could not start redis-server\n");
  return -1;
}

void rd_pair_stop(rd_server *plain, rd_server *locked) {
  mc_node_stop(&plain->node);
  mc_node_stop(&locked->node);
  rd_dir_remove(plain);
  rd_dir_remove(locked);
}

int rd_temp_file(char *path, size_t size, const char *text) {
  snprintf(path, size, "/tmp/mcs-pw-XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0)
    return -1;
  size_t n = strlen(text);
  bool ok = write(fd, text, n) == (ssize_t)n;
  close(fd);
  return ok ? 0 : -1;
}

int rd_cmd(const rd_server *s, const char *cmd, char *out, size_t size) {
  static mcs__rd_node nodes[4096];
  int fd = mc_connect_local(s->node.port, 2);
  size_t len = 0, cnt, used;
  if (fd < 0 || size < 2)
    return fd < 0 ? -1 : (close(fd), -1);
  char line[1024];
  int n = snprintf(line, sizeof line, "%s\r\n", cmd);
  int rc = -1;
  if (n < (int)sizeof line && send(fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
    for (;;) {
      ssize_t r = recv(fd, out + len, size - 1 - len, 0);
      if (r <= 0)
        break;
      len += (size_t)r;
      int p = mcs__rd_parse((const uint8_t *)out, len, size, nodes, 4096,
                            &cnt, &used);
      if (p != MCS__RD_NEED_MORE) {
        rc = p == MCS_OK ? 0 : -1;
        break;
      }
      if (len + 1 >= size)
        break;
    }
  }
  out[len] = '\0';
  close(fd);
  return rc;
}

long long rd_info(const rd_server *s, const char *section, const char *name) {
  static char buf[65536];
  char cmd[64], pat[96];
  snprintf(cmd, sizeof cmd, "INFO %s", section);
  if (rd_cmd(s, cmd, buf, sizeof buf) != 0)
    return -1;
  snprintf(pat, sizeof pat, "\n%s:", name);
  const char *p = strstr(buf, pat);
  return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

long long rd_commands(const rd_server *s) {
  static char buf[65536];
  if (rd_cmd(s, "INFO commandstats", buf, sizeof buf) != 0)
    return -1;
  /* Not SET: Redis counts the CAS script's own SET as a call too. */
  const char *names[] = {"get", "getex", "evalsha", "eval", "del", "expire",
                         "pttl"};
  long long sum = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char pat[48];
    snprintf(pat, sizeof pat, "cmdstat_%s:calls=", names[i]);
    const char *p = strstr(buf, pat);
    if (p)
      sum += strtoll(p + strlen(pat), NULL, 10);
  }
  return sum;
}

/* ---- Clusters ---- */

/* Runs argv, output to /dev/null, at most 60 s. 0 when it exited 0. */
static int run(const char **argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)(void *)argv,
                       environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return -1;
  int st = 0;
  for (int i = 0; i < 6000; i++) {
    if (waitpid(pid, &st, WNOHANG) == pid)
      return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
    sleep_ms(10);
  }
  kill(pid, SIGKILL); /* our own child */
  waitpid(pid, NULL, 0);
  return -1;
}

int rd_cluster_start(rd_cluster *c, size_t masters, bool replicas) {
  char addr[RD_CLUSTER_MAX][32];
  const char *argv[RD_CLUSTER_MAX + 8];
  memset(c, 0, sizeof *c);
  c->masters = masters;
  c->count = replicas ? masters * 2 : masters;
  size_t n = 0;
  argv[n++] = cli_bin();
  argv[n++] = "--cluster";
  argv[n++] = "create";
  for (size_t i = 0; i < c->count; i++) {
    if (rd_server_start(&c->srv[i], NULL, true) != 0)
      return -1;
    snprintf(addr[i], sizeof addr[i], "127.0.0.1:%u",
             (unsigned)c->srv[i].node.port);
    argv[n++] = addr[i];
  }
  argv[n++] = "--cluster-replicas";
  argv[n++] = replicas ? "1" : "0";
  argv[n++] = "--cluster-yes";
  argv[n] = NULL;
  if (run(argv) != 0)
    return -1;
  return rd_cluster_wait_ok(c, 20000);
}

void rd_cluster_stop(rd_cluster *c) {
  for (size_t i = 0; i < c->count; i++) {
    mc_node_stop(&c->srv[i].node);
    rd_dir_remove(&c->srv[i]);
  }
}

static int index_of_port(const rd_cluster *c, unsigned port) {
  for (size_t i = 0; i < c->count; i++)
    if (c->srv[i].node.port == port)
      return (int)i;
  return -1;
}

static bool node_live(const rd_cluster *c, size_t i) {
  return c->srv[i].node.pid && !c->srv[i].node.paused;
}

/* The index of the master that `nodes` (a CLUSTER NODES reply) names for
 * `slot`, -1 when none: "<id> 127.0.0.1:<port>@<cport> <flags> <master>
 * <ping> <pong> <epoch> <link> <slot ranges...>". */
static int master_in(const rd_cluster *c, const char *nodes, unsigned slot) {
  for (const char *l = strchr(nodes, '\n'); l && l[1];
       l = strchr(l + 1, '\n')) {
    const char *end = strchr(l + 1, '\n');
    char line[1024];
    size_t len = end ? (size_t)(end - l - 1) : strlen(l + 1);
    if (len >= sizeof line)
      continue;
    memcpy(line, l + 1, len);
    line[len] = '\0';
    char *colon = strchr(line, ':');
    if (!colon || !strstr(line, "master") || strstr(line, "fail"))
      continue;
    unsigned port = (unsigned)strtoul(colon + 1, NULL, 10);
    char *tok = line;
    for (int f = 0; f < 8 && tok; f++)
      tok = strchr(tok + 1, ' ');
    while (tok && *tok == ' ') {
      unsigned a = 0, b = 0;
      int k = sscanf(tok + 1, "%u-%u", &a, &b);
      if (k == 1)
        b = a;
      if (k >= 1 && slot >= a && slot <= b)
        return index_of_port(c, port);
      tok = strchr(tok + 1, ' ');
    }
  }
  return -1;
}

/* What node i says of `slot`'s master; -1 when it does not answer. */
static int master_seen_by(const rd_cluster *c, size_t i, unsigned slot) {
  static char buf[65536];
  if (rd_cmd(&c->srv[i], "CLUSTER NODES", buf, sizeof buf) != 0 ||
      buf[0] != '$')
    return -1;
  return master_in(c, buf, slot);
}

int rd_cluster_master_of(rd_cluster *c, unsigned slot) {
  for (size_t i = 0; i < c->count; i++)
    if (node_live(c, i)) {
      int m = master_seen_by(c, i, slot);
      if (m >= 0)
        return m;
    }
  return -1;
}

int rd_cluster_kill_master_of(rd_cluster *c, unsigned slot) {
  int victim = rd_cluster_master_of(c, slot);
  if (victim < 0)
    return -1;
  sleep_ms(500); /* the replicas have its keys (replication is async) */
  mc_node_kill(&c->srv[victim].node);
  return victim;
}

/* MIGRATEs every key of the slot from the old master to the new one, a
 * few at a time (CLUSTER GETKEYSINSLOT; at most 8 keys of some 60 bytes
 * per MIGRATE, within rd_cmd's line): other keys may share the slot
 * (random session ids), and SETSLOT NODE is refused to a master that
 * still holds keys of it. */
static int migrate_keys(rd_cluster *c, const rd_migration *mg) {
  static char reply[8192];
  static mcs__rd_node nodes[9];
  char cmd[1024];
  for (int round = 0; round < 1000; round++) {
    size_t count = 0, used = 0;
    snprintf(cmd, sizeof cmd, "CLUSTER GETKEYSINSLOT %u 8", mg->slot);
    if (rd_cmd(&c->srv[mg->src], cmd, reply, sizeof reply) != 0 ||
        mcs__rd_parse((const uint8_t *)reply, strlen(reply), sizeof reply,
                      nodes, 9, &count, &used) != MCS_OK ||
        nodes[0].type != MCS__RD_ARRAY) {
      fprintf(stderr, "%s: %s\n", cmd, reply);
      return -1;
    }
    if (count == 1)
      return 0; /* no key left there */
    int len = snprintf(cmd, sizeof cmd, "MIGRATE 127.0.0.1 %u \"\" 0 5000 KEYS",
                       (unsigned)c->srv[mg->dst].node.port);
    for (size_t k = 1; k < count && len < (int)sizeof cmd; k++)
      len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %.*s",
                      (int)nodes[k].len, (const char *)nodes[k].p);
    if (len >= (int)sizeof cmd || rd_cmd_ok(&c->srv[mg->src], cmd) != 0)
      return -1;
  }
  return -1;
}

int rd_cluster_migrate_start(rd_cluster *c, const char *key, size_t key_len,
                             rd_migration *mg) {
  char cmd[400];
  memset(mg, 0, sizeof *mg);
  mg->slot = mcs__rd_slot(key, key_len);
  mg->src = rd_cluster_master_of(c, mg->slot);
  mg->dst = rd_cluster_master_of(c, (mg->slot + MCS__RD_SLOTS / 2) %
                                        MCS__RD_SLOTS);
  if (mg->src < 0 || mg->dst < 0 || mg->src == mg->dst ||
      rd_node_id(&c->srv[mg->src], mg->src_id) != 0 ||
      rd_node_id(&c->srv[mg->dst], mg->dst_id) != 0)
    return -1;
  snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %u IMPORTING %s", mg->slot,
           mg->src_id);
  if (rd_cmd_ok(&c->srv[mg->dst], cmd) != 0)
    return -1;
  snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %u MIGRATING %s", mg->slot,
           mg->dst_id);
  if (rd_cmd_ok(&c->srv[mg->src], cmd) != 0)
    return -1;
  return migrate_keys(c, mg);
}

int rd_cluster_migrate_end(rd_cluster *c, const rd_migration *mg, long ms) {
  char cmd[160], reply[256];
  snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %u NODE %s", mg->slot,
           mg->dst_id);
  /* The new owner first: it bumps its config epoch, so no node's gossip
   * can hand the slot back to the old one; then the old owner; then the
   * rest (replicas refuse, and learn it by gossip). */
  if (rd_cmd_ok(&c->srv[mg->dst], cmd) != 0 ||
      rd_cmd_ok(&c->srv[mg->src], cmd) != 0)
    return -1;
  for (size_t m = 0; m < c->count; m++)
    if ((int)m != mg->src && (int)m != mg->dst && node_live(c, m))
      (void)rd_cmd(&c->srv[m], cmd, reply, sizeof reply);
  /* Done when every live node names the new owner: the tests then count
   * redirections exactly, whichever node the store asks for the map. */
  for (long waited = 0;; waited += 20) {
    bool agreed = true;
    for (size_t i = 0; i < c->count && agreed; i++)
      agreed = !node_live(c, i) || master_seen_by(c, i, mg->slot) == mg->dst;
    if (agreed)
      return 0;
    if (waited >= ms) {
      fprintf(stderr, "slot %u: the nodes did not agree on its new owner "
                      "within %ld ms\n", mg->slot, ms);
      return -1;
    }
    sleep_ms(20);
  }
}

int rd_cluster_wait_ok(rd_cluster *c, long ms) {
  static char buf[8192];
  for (long waited = 0; waited < ms; waited += 50) {
    bool ok = true;
    for (size_t i = 0; i < c->count && ok; i++) {
      if (!c->srv[i].node.pid)
        continue;
      ok = rd_cmd(&c->srv[i], "CLUSTER INFO", buf, sizeof buf) == 0 &&
           strstr(buf, "cluster_state:ok") != NULL;
    }
    for (unsigned s = 0; ok && s < MCS__RD_SLOTS; s += 4096)
      ok = rd_cluster_master_of(c, s) >= 0;
    if (ok)
      return 0;
    sleep_ms(50);
  }
  return -1;
}

void rd_cluster_url(const rd_cluster *c, char *out, size_t size,
                    const char *params) {
  int len = snprintf(out, size, "redis+cluster://");
  for (size_t i = 0; i < c->masters; i++)
    len += snprintf(out + len, size - (size_t)len, "%s127.0.0.1:%u",
                    i ? "," : "", (unsigned)c->srv[i].node.port);
  snprintf(out + len, size - (size_t)len, "?%s", params ? params : "");
}

int rd_cluster_setup(rd_cluster *c, const char *params, mcs_store **store) {
  char url[512];
  if (!rd_harness_available()) {
    fprintf(stderr, "redis-server not found: skipped\n");
    return 77;
  }
  if (rd_cluster_start(c, 3, true) != 0) {
    fprintf(stderr, "could not start a Redis Cluster\n");
    rd_cluster_stop(c);
    return 1;
  }
  rd_cluster_url(c, url, sizeof url, params);
  if (mcs_store_redis_new(store, url) != MCS_OK) {
    fprintf(stderr, "could not make a store on %s\n", url);
    rd_cluster_stop(c);
    return 1;
  }
  return 0;
}

int rd_cmd_ok(const rd_server *s, const char *cmd) {
  char reply[256];
  if (rd_cmd(s, cmd, reply, sizeof reply) == 0 &&
      strncmp(reply, "+OK", 3) == 0)
    return 0;
  fprintf(stderr, "%s: %s\n", cmd, reply);
  return -1;
}

int rd_node_id(const rd_server *s, char out[41]) {
  char reply[128];
  const char *nl;
  if (rd_cmd(s, "CLUSTER MYID", reply, sizeof reply) != 0 ||
      !(nl = strchr(reply, '\n')) || strlen(nl + 1) < 40)
    return -1;
  snprintf(out, 41, "%.40s", nl + 1);
  return 0;
}
