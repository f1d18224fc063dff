/*
 * Test harness for real Redis servers on 127.0.0.1 (Debian redis-server;
 * $MCS_REDIS_SERVER overrides), started and stopped by PID through
 * mc_harness (mc_node_start_argv): a single server, or a cluster of three
 * masters (and a replica for each) made with `redis-cli --cluster create`.
 * Servers persist nothing (no RDB, no AOF) and work in a temporary
 * directory of their own, removed by rd_dir_remove. Not thread-safe.
 */
#ifndef RD_HARNESS_H
#define RD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_harness.h"

#define RD_ARGS_MAX 32

typedef struct rd_server {
  mc_node node;
  const char *argv[RD_ARGS_MAX];
  char dir[64];    /* its working directory */
  char conf[96];   /* cluster: its nodes file */
  char extra[4][128];
} rd_server;

/* redis-server and redis-cli are there (tests skip otherwise). */
bool rd_harness_available(void);
/* A server on a free port; `password` (may be NULL) for requirepass;
 * `cluster` for --cluster-enabled. 0 or -1. */
int rd_server_start(rd_server *s, const char *password, bool cluster);
/* Removes the server's directory (after it stopped). */
void rd_dir_remove(rd_server *s);
/* Two servers, one without a password and one requiring `password`
 * (the tests of AUTH); 0, or -1 after saying why on stderr. Stop them
 * (and remove their directories) with rd_pair_stop. */
int rd_pair_start(rd_server *plain, rd_server *locked, const char *password);
void rd_pair_stop(rd_server *plain, rd_server *locked);
/* A new file /tmp/mcs-pw-XXXXXX holding `text` (a password file); its
 * path in path[0..size). 0 or -1. */
int rd_temp_file(char *path, size_t size, const char *text);

/* Sends one command (inline form: words separated by spaces, no
 * quoting) and reads its whole reply into out (the RESP text,
 * NUL-terminated). 0 or -1. */
int rd_cmd(const rd_server *s, const char *cmd, char *out, size_t size);
/* Sends `cmd` and expects +OK: 0, or -1 after printing the reply. */
int rd_cmd_ok(const rd_server *s, const char *cmd);
/* The server's cluster node id (CLUSTER MYID: 40 hex digits) into out,
 * NUL-terminated. 0 or -1. */
int rd_node_id(const rd_server *s, char out[41]);
/* The integer after "name:" in INFO <section>. -1 on failure. */
long long rd_info(const rd_server *s, const char *section, const char *name);
/* The sum of calls of the commands the store sends but SET (INFO
 * commandstats counts the commands a script runs, so SET inside the CAS
 * script would count twice). */
long long rd_commands(const rd_server *s);

/* A cluster: n masters (3) and, with replicas, one replica each. */
#define RD_CLUSTER_MAX 6
typedef struct rd_cluster {
  rd_server srv[RD_CLUSTER_MAX];
  size_t masters, count;
} rd_cluster;
/* Starts the servers and runs redis-cli --cluster create; waits until
 * every node reports cluster_state:ok. 0 or -1. */
int rd_cluster_start(rd_cluster *c, size_t masters, bool replicas);
void rd_cluster_stop(rd_cluster *c);
/* The index of the server that is master for `slot` (CLUSTER SLOTS of a
 * live node), -1 when unknown. */
int rd_cluster_master_of(rd_cluster *c, unsigned slot);
/* Kills (SIGKILL) the master of `slot`, half a second after the call
 * (replication is asynchronous: its replica then has what was written
 * before). Its index, or -1 when no live master has the slot. */
int rd_cluster_kill_master_of(rd_cluster *c, unsigned slot);
/* A slot moved by hand ("Redis cluster specification", "ASK
 * redirection"): the slot of `key`, its old master and the new one (the
 * master of the slot half the ring away), their node ids. */
typedef struct rd_migration {
  unsigned slot;
  int src, dst;
  char src_id[41], dst_id[41];
} rd_migration;
/* Starts moving key's slot: IMPORTING on the new master, MIGRATING on
 * the old, every key of the slot MIGRATEd (others may share it). 0, or
 * -1 after saying why. */
int rd_cluster_migrate_start(rd_cluster *c, const char *key, size_t key_len,
                             rd_migration *mg);
/* Ends it: SETSLOT NODE to the new master, the old, then the others, in
 * the order the specification asks for; then waits (at most ms) until
 * every live node names the new master. 0, or -1 after saying why. */
int rd_cluster_migrate_end(rd_cluster *c, const rd_migration *mg, long ms);
/* Waits (at most ms) until a live node says cluster_state:ok and names a
 * live master for every slot. 0 or -1. */
int rd_cluster_wait_ok(rd_cluster *c, long ms);
/* "redis+cluster://127.0.0.1:<p>,...?<params>" (the masters as seeds). */
void rd_cluster_url(const rd_cluster *c, char *out, size_t size,
                    const char *params);
/* What a cluster test's main does first: without redis-server, says so
 * and gives 77 (skipped); else starts three masters with a replica each
 * and makes *store on them with `params` (rd_cluster_url). 0 when ready,
 * 1 after saying why (the cluster stopped). */
struct mcs_store;
int rd_cluster_setup(rd_cluster *c, const char *params,
                     struct mcs_store **store);

#endif /* RD_HARNESS_H */
