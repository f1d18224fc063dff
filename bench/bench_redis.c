/*
 * bench_redis — the Redis client choice, measured (docs/design.md, "The
 * Redis client"): GETEX round trips through hiredis (Debian's 0.14.1, the
 * maintained library) and through mcsession's Redis store (its own RESP2
 * client), on one key of a real server.
 *
 *   bench_redis hiredis --store redis://H:P [--threads N] [--depth D]
 *                       [--seconds S]
 *       GETEX key EX 1800 on one hiredis context per thread, D commands
 *       pipelined (redisAppendCommand D times, then D redisGetReply): the
 *       floor `make bench` divides the library by.
 *   bench_redis mcs --store URL [--threads N] [--seconds S]
 *       the same GETEX through mcs_store_get (the store's pooled blocking
 *       side, shared by the threads).
 *   bench_redis reader FILE
 *       feeds FILE's bytes to hiredis's reply reader and says what came
 *       of it (reply, error, or nothing yet): how the client behaves on a
 *       hostile reply.
 *
 * The library pipelined (one loop, N sessions in flight) is bench_lib's
 * `cycles --inflight N` on the same URL. Prints one line of name=value
 * pairs. Exit status 0, 1 on failure, 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <mcsession.h>

#include "bench_clock.h"

#define MAX_THREADS 16
#define MAX_DEPTH 256
#define KEY "mcs:bench-redis-client"
#define TTL 1800
#define VALUE_BYTES 300 /* about a demo session's record */

typedef struct opts {
  const char *cmd, *store, *file;
  unsigned threads, depth;
  double seconds;
  mcs_redis_config cfg;
} opts;

static int usage(void) {
  fputs("usage: bench_redis hiredis|mcs --store redis://HOST:PORT "
        "[--threads N] [--depth D] [--seconds S]\n"
        "       bench_redis reader FILE\n",
        stderr);
  return 2;
}

static int parse_opts(opts *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->threads = 1;
  o->depth = 1;
  o->seconds = 3;
  if (argc < 3)
    return -1;
  o->cmd = argv[1];
  if (strcmp(o->cmd, "reader") == 0) {
    o->file = argv[2];
    return argc == 3 ? 0 : -1;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--store") == 0)
      o->store = v;
    else if (strcmp(k, "--threads") == 0)
      o->threads = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "--depth") == 0)
      o->depth = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "--seconds") == 0)
      o->seconds = strtod(v, NULL);
    else
      return -1;
  }
  if (argc % 2 != 0 || !o->store || o->threads < 1 ||
      o->threads > MAX_THREADS || o->depth < 1 || o->depth > MAX_DEPTH ||
      o->seconds <= 0 || mcs_redis_url_parse(o->store, &o->cfg, NULL, 0))
    return -1;
  return 0;
}

/* ---- the workers -------------------------------------------------------- */

typedef struct worker {
  pthread_t tid;
  pthread_barrier_t *start;
  const opts *o;
  mcs_store *store; /* mcs */
  uint64_t ops, failures;
  double elapsed;
} worker;

/* One batch of D pipelined GETEX on a hiredis context; failures counted. */
static uint64_t hiredis_batch(redisContext *c, unsigned depth) {
  uint64_t failures = 0;
  for (unsigned i = 0; i < depth; i++)
    if (redisAppendCommand(c, "GETEX %s EX %d", KEY, TTL) != REDIS_OK)
      failures++;
  for (unsigned i = 0; i < depth; i++) {
    redisReply *r = NULL;
    if (redisGetReply(c, (void **)&r) != REDIS_OK || !r ||
        r->type != REDIS_REPLY_STRING)
      failures++;
    if (r)
      freeReplyObject(r);
  }
  return failures;
}

static void *hiredis_thread(void *arg) {
  worker *w = arg;
  const mcs_redis_server *srv = &w->o->cfg.servers[0];
  struct timeval tv = {1, 0};
  redisContext *c = redisConnectWithTimeout(srv->host, srv->port, tv);
  if (!c || c->err) {
    w->failures = 1;
    pthread_barrier_wait(w->start);
    redisFree(c);
    return NULL;
  }
  for (int i = 0; i < 100; i++) /* warm-up */
    (void)hiredis_batch(c, w->o->depth);
  pthread_barrier_wait(w->start);
  double t0 = now_s(), t = t0;
  while (t - t0 < w->o->seconds) {
    w->failures += hiredis_batch(c, w->o->depth);
    w->ops += w->o->depth;
    t = now_s();
  }
  w->elapsed = t - t0;
  redisFree(c);
  return NULL;
}

static int mcs_get(worker *w) {
  void *data = NULL;
  size_t len = 0;
  mcs_store_result res;
  int rc = mcs_store_get(w->store, KEY, strlen(KEY), TTL, 1u << 20, &data, &len,
                         NULL, NULL, &res);
  mcs_free(data);
  return rc == MCS_OK && res == MCS_STORE_HIT ? 0 : -1;
}

static void *mcs_thread(void *arg) {
  worker *w = arg;
  for (int i = 0; i < 100; i++) /* warm-up */
    (void)mcs_get(w);
  pthread_barrier_wait(w->start);
  double t0 = now_s(), t = t0;
  while (t - t0 < w->o->seconds) {
    for (int i = 0; i < 64; i++)
      w->failures += mcs_get(w) != 0;
    w->ops += 64;
    t = now_s();
  }
  w->elapsed = t - t0;
  return NULL;
}

/* ---- commands ------------------------------------------------------------ */

static int cmd_timed(const opts *o, int hiredis) {
  static worker ws[MAX_THREADS];
  mcs_store *store = NULL;
  char err[256] = "";
  char value[VALUE_BYTES];
  mcs_store_result res;
  memset(value, 'v', sizeof value);
  /* The key, written by the store (with its header, which a GETEX through
   * hiredis returns too: the same bytes either way). */
  int rc = mcs_store_redis_new_config(&store, &o->cfg, err, sizeof err);
  if (rc == MCS_OK)
    rc = mcs_store_set(store, KEY, strlen(KEY), value, sizeof value, 0, TTL,
                       &res);
  if (rc != MCS_OK) {
    fprintf(stderr, "bench_redis: %s %s\n", mcs_strerror(rc), err);
    mcs_store_free(store);
    return 1;
  }
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, o->threads);
  for (unsigned i = 0; i < o->threads; i++) {
    ws[i] = (worker){.start = &start, .o = o, .store = store};
    pthread_create(&ws[i].tid, NULL, hiredis ? hiredis_thread : mcs_thread,
                   &ws[i]);
  }
  double rate = 0;
  uint64_t ops = 0, failures = 0;
  for (unsigned i = 0; i < o->threads; i++) {
    pthread_join(ws[i].tid, NULL);
    if (ws[i].elapsed > 0)
      rate += (double)ws[i].ops / ws[i].elapsed;
    ops += ws[i].ops;
    failures += ws[i].failures;
  }
  pthread_barrier_destroy(&start);
  printf("threads=%u depth=%u ops_per_s=%.0f ops=%" PRIu64 " failures=%" PRIu64
         "\n",
         o->threads, hiredis ? o->depth : 1, rate, ops, failures);
  mcs_store_free(store);
  return failures ? 1 : 0;
}

static int cmd_reader(const opts *o) {
  static char buf[1 << 16];
  FILE *f = fopen(o->file, "rb");
  if (!f)
    return usage();
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  redisReader *r = redisReaderCreate();
  void *reply = NULL;
  int rc = redisReaderFeed(r, buf, n);
  if (rc == REDIS_OK)
    rc = redisReaderGetReply(r, &reply);
  if (rc != REDIS_OK)
    printf("reader=error err=%d errstr=\"%s\"\n", r->err, r->errstr);
  else
    printf("reader=%s\n", reply ? "reply" : "incomplete");
  if (reply)
    freeReplyObject(reply);
  redisReaderFree(r);
  return 0;
}

int main(int argc, char **argv) {
  opts o;
  if (parse_opts(&o, argc, argv) != 0)
    return usage();
  if (strcmp(o.cmd, "hiredis") == 0)
    return cmd_timed(&o, 1);
  if (strcmp(o.cmd, "mcs") == 0)
    return o.depth == 1 ? cmd_timed(&o, 0) : usage();
  if (strcmp(o.cmd, "reader") == 0)
    return cmd_reader(&o);
  return usage();
}
