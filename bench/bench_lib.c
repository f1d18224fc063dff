/*
 * bench_lib — mcsession without HTTP, for `make bench` (bench/run.py).
 *
 *   bench_lib cycles --store memory|URL --mode read|write [--threads N]
 *       (URL: memcached://, redis:// or redis+cluster://)
 *                    [--seconds S]
 *       load+save cycles per second. Each thread owns one session holding
 *       ~300 bytes of data and repeats: load it from its Cookie header,
 *       read a value (read) or incr a counter (write), save, free.
 *   bench_lib bare --store URL --mode read|write [--threads N] [--seconds S]
 *       the floor: the same record's bytes read with a bare `mg` (read) or
 *       `mg` + `ms C<cas>` (write) on a plain blocking socket per thread.
 *   bench_lib cycles|bare ... --inflight N
 *       N sessions in flight on one thread: the library through an
 *       mcs_loop (bench_loop.c), and its floor, N bare `mg` (and N `ms`)
 *       sent with one write and answered in order.
 *   bench_lib memory --store memory|URL [--sessions N]
 *       bytes per session: the memory store's accounted bytes, or
 *       memcached's `stats bytes`, before and after N sessions.
 *   bench_lib fill --store URL --secret-file F [--sessions N]
 *       writes N valid sessions (made by the library, as the demo with that
 *       secret would make them) into memcached, pipelined.
 *
 * Prints one line of name=value pairs. Exit status 0, 1 on failure, 2 on
 * bad usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mcsession.h>

#include "bare_mc.h"
#include "bench_loop.h"
#include "bench_clock.h"

#define MAX_THREADS 16
#define KEY_PREFIX "mcs:" /* the demo's (the memcached URL's default) */
#define IDLE_TTL 1800     /* the manager's default idle timeout */
#define WARMUP_CYCLES 500

typedef struct opts {
  const char *cmd, *store, *mode, *secret_file;
  unsigned threads;
  unsigned inflight; /* 0: one blocking session per thread */
  double seconds;
  unsigned long sessions;
} opts;

static int usage(void) {
  fputs("usage: bench_lib cycles|bare|memory|fill --store memory|URL "
        "[--mode read|write] [--threads N] [--inflight N] [--seconds S] "
        "[--sessions N] [--secret-file F]\n",
        stderr);
  return 2;
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "bench_lib: %s: %s\n", what,
          rc < 0 ? mcs_strerror(rc) : "failed");
  return 1;
}

static int parse_opts(opts *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->mode = "read";
  o->threads = 1;
  o->seconds = 3;
  o->sessions = 10000;
  if (argc < 2)
    return -1;
  o->cmd = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--store") == 0)
      o->store = v;
    else if (strcmp(k, "--mode") == 0)
      o->mode = v;
    else if (strcmp(k, "--secret-file") == 0)
      o->secret_file = v;
    else if (strcmp(k, "--threads") == 0)
      o->threads = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "--seconds") == 0)
      o->seconds = strtod(v, NULL);
    else if (strcmp(k, "--sessions") == 0)
      o->sessions = strtoul(v, NULL, 10);
    else if (strcmp(k, "--inflight") == 0)
      o->inflight = (unsigned)strtoul(v, NULL, 10);
    else
      return -1;
  }
  if (o->inflight > BENCH_LOOP_MAX || (o->inflight && o->threads != 1))
    return -1;
  if (argc % 2 != 0 || !o->store || o->threads < 1 ||
      o->threads > MAX_THREADS || o->seconds <= 0 || o->sessions < 1)
    return -1;
  return strcmp(o->mode, "read") == 0 || strcmp(o->mode, "write") == 0 ? 0
                                                                       : -1;
}

/* ------------------------------------------------------------------------ */
/* Stores: the real ones, a tap that shows what the library writes, and a   */
/* pipe that sends the library's writes to memcached in bulk                */
/* ------------------------------------------------------------------------ */

static int is_memcached(const char *store) {
  return strncmp(store, "memcached://", 12) == 0;
}

static int is_redis(const char *store) {
  return strncmp(store, "redis://", 8) == 0 ||
         strncmp(store, "redis+cluster://", 16) == 0;
}

/* The memory store, memcached or Redis (cycles only: the bare floor on
 * Redis is bench_redis's hiredis). */
static int open_store(const char *spec, mcs_store **out) {
  if (is_redis(spec))
    return mcs_store_redis_new(out, spec);
  if (!is_memcached(spec))
    return mcs_store_memory_new(out, NULL);
  return mcs_store_memcached_new(out, spec);
}

/* host:port of the first server of a memcached URL, for the bare client. */
static int url_server(const char *url, mcs_memcached_server *srv) {
  mcs_memcached_config cfg;
  if (mcs_memcached_url_parse(url, &cfg, NULL, 0) != MCS_OK)
    return -1;
  *srv = cfg.servers[0];
  return 0;
}

/* The last record the library wrote through the tap. */
typedef struct tap {
  mcs_store *inner;
  char key[MCS_STORE_KEY_MAX + 1];
  unsigned char value[4096];
  size_t value_len;
  uint32_t flags;
} tap;

static void tap_record(tap *t, const char *key, size_t key_len,
                       const void *data, size_t len, uint32_t flags) {
  memcpy(t->key, key, key_len);
  t->key[key_len] = '\0';
  t->value_len = len < sizeof t->value ? len : 0;
  memcpy(t->value, data, t->value_len);
  t->flags = flags;
}

static int tap_get(void *ud, const char *key, size_t key_len, uint32_t ttl,
                   mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                   mcs_store_result *result) {
  tap *t = ud;
  void *data = NULL;
  size_t len = 0;
  int rc = mcs_store_get(t->inner, key, key_len, ttl, 1u << 20, &data, &len,
                         cas, flags, result);
  if (rc == MCS_OK && *result == MCS_STORE_HIT)
    rc = mcs_store_value_set(value, data, len);
  mcs_free(data);
  return rc;
}

static int tap_add(void *ud, const char *key, size_t key_len, const void *data,
                   size_t len, uint32_t flags, uint32_t ttl, uint64_t *cas,
                   mcs_store_result *result) {
  tap *t = ud;
  tap_record(t, key, key_len, data, len, flags);
  return mcs_store_add(t->inner, key, key_len, data, len, flags, ttl, cas,
                       result);
}

static int tap_cas(void *ud, const char *key, size_t key_len, const void *data,
                   size_t len, uint32_t flags, uint32_t ttl, uint64_t cas,
                   uint64_t *new_cas, mcs_store_result *result) {
  tap *t = ud;
  tap_record(t, key, key_len, data, len, flags);
  return mcs_store_cas(t->inner, key, key_len, data, len, flags, ttl, cas,
                       new_cas, result);
}

static int tap_set(void *ud, const char *key, size_t key_len, const void *data,
                   size_t len, uint32_t flags, uint32_t ttl,
                   mcs_store_result *result) {
  tap *t = ud;
  tap_record(t, key, key_len, data, len, flags);
  return mcs_store_set(t->inner, key, key_len, data, len, flags, ttl, result);
}

static int tap_del(void *ud, const char *key, size_t key_len,
                   mcs_store_result *result) {
  return mcs_store_delete(((tap *)ud)->inner, key, key_len, result);
}

static int tap_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                     mcs_store_result *result) {
  return mcs_store_touch(((tap *)ud)->inner, key, key_len, ttl, result);
}

static const mcs_store_ops TAP_OPS = {
    .version = MCS_STORE_OPS_VERSION,
    .get = tap_get,
    .add = tap_add,
    .cas = tap_cas,
    .set = tap_set,
    .del = tap_del,
    .touch = tap_touch,
    .kind = "tap",
};

/* The fill's store: a new session's add becomes a quiet pipelined ms. */
static int pipe_add(void *ud, const char *key, size_t key_len,
                    const void *data, size_t len, uint32_t flags, uint32_t ttl,
                    uint64_t *cas, mcs_store_result *result) {
  if (bare_pipe_set(ud, key, key_len, data, len, ttl, flags) != 0)
    return MCS_ESTORE;
  if (cas)
    *cas = 1;
  *result = MCS_STORE_STORED;
  return MCS_OK;
}

/* Everything else the fill never asks for. */
static int pipe_get(void *ud, const char *key, size_t key_len, uint32_t ttl,
                    mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                    mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)ttl, (void)value, (void)cas;
  (void)flags, (void)result;
  return MCS_ESTORE;
}

static int pipe_cas(void *ud, const char *key, size_t key_len,
                    const void *data, size_t len, uint32_t flags, uint32_t ttl,
                    uint64_t cas, uint64_t *new_cas, mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)data, (void)len, (void)flags;
  (void)ttl, (void)cas, (void)new_cas, (void)result;
  return MCS_ESTORE;
}

static int pipe_set(void *ud, const char *key, size_t key_len,
                    const void *data, size_t len, uint32_t flags, uint32_t ttl,
                    mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)data, (void)len, (void)flags;
  (void)ttl, (void)result;
  return MCS_ESTORE;
}

static int pipe_del(void *ud, const char *key, size_t key_len,
                    mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)result;
  return MCS_ESTORE;
}

static int pipe_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                      mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)ttl, (void)result;
  return MCS_ESTORE;
}

static const mcs_store_ops PIPE_OPS = {
    .version = MCS_STORE_OPS_VERSION,
    .get = pipe_get,
    .add = pipe_add,
    .cas = pipe_cas,
    .set = pipe_set,
    .del = pipe_del,
    .touch = pipe_touch,
    .kind = "bench-fill",
};

/* ------------------------------------------------------------------------ */
/* Managers and sessions                                                    */
/* ------------------------------------------------------------------------ */

/* A key ring with the secret from `path` (one trailing newline dropped, as
 * the demo reads it) or a random one. */
static int make_keys(const char *path, mcs_keyring **ring) {
  unsigned char secret[MCS_SECRET_MAX_BYTES + 2];
  size_t len = 32;
  if (path) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
      return MCS_EIO;
    len = fread(secret, 1, sizeof secret, fp);
    fclose(fp);
    if (len > 0 && secret[len - 1] == '\n')
      len--;
  } else if (mcs_random_bytes(secret, len) != MCS_OK) {
    return MCS_EIO;
  }
  int rc = mcs_keyring_new(ring);
  if (rc == MCS_OK)
    rc = mcs_keyring_add(*ring, 0, secret, len);
  return rc;
}

static int make_manager(const mcs_keyring *ring, mcs_store *store,
                        mcs_manager **mgr) {
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
  cfg.keys = ring;
  cfg.store = store;
  cfg.key_prefix = KEY_PREFIX;
  cfg.idle_timeout = IDLE_TTL;
  return mcs_manager_new(mgr, &cfg);
}

/* ~300 bytes of session data: a user name, a counter and a profile. */
static int fill_session(mcs_session *s, unsigned long n) {
  static const char profile[] =
      "{\"display_name\":\"Benchmark User\",\"email\":\"bench.user@example."
      "org\",\"locale\":\"en-GB\",\"timezone\":\"Europe/London\",\"roles\":["
      "\"reader\",\"editor\"],\"theme\":\"dark\",\"last_page\":\"/reports/"
      "2024/q3?sort=desc\",\"plan\":\"team-annual\"}";
  char name[32];
  snprintf(name, sizeof name, "bench-user-%06lu", n);
  int rc = mcs_session_set_str(s, "user_name", name, strlen(name));
  if (rc == MCS_OK)
    rc = mcs_session_set_json(s, "profile", profile, sizeof profile - 1);
  if (rc == MCS_OK)
    rc = mcs_session_set_int(s, "count", 0);
  return rc;
}

/* Creates and saves session number n; its Cookie header goes to cookie
 * (NULL: not wanted). */
static int create_session(mcs_manager *mgr, unsigned long n, char *cookie,
                          size_t size) {
  mcs_session *s = NULL;
  int rc = mcs_session_load(mgr, NULL, 0, &s);
  if (rc == MCS_OK)
    rc = fill_session(s, n);
  if (rc == MCS_OK)
    rc = mcs_session_save(s);
  if (rc == MCS_OK && cookie) {
    const char *sc = mcs_session_cookie(s, 0);
    size_t len = sc ? strcspn(sc, ";") : 0;
    if (len == 0 || len >= size)
      rc = MCS_ELIMIT;
    else
      snprintf(cookie, size, "%.*s", (int)len, sc);
  }
  mcs_session_free(s);
  return rc;
}

/* A session made for a benchmark: its Cookie header, and its record's key
 * and bytes as the library wrote them (what the bare floor sends). */
typedef struct made_session {
  char cookie[1024];
  char key[MCS_STORE_KEY_MAX + 1];
  unsigned char value[4096];
  size_t value_len;
  uint32_t flags;
} made_session;

/* Makes n sessions, numbered from 0, through a tap on `store` that shows
 * what the library writes. */
static int make_sessions(mcs_keyring *ring, mcs_store *store, unsigned n,
                         made_session *out) {
  tap t = {.inner = store};
  mcs_store *tapped = NULL;
  mcs_manager *setup = NULL;
  int rc = mcs_store_new(&tapped, &TAP_OPS, &t);
  if (rc == MCS_OK)
    rc = make_manager(ring, tapped, &setup);
  for (unsigned i = 0; rc == MCS_OK && i < n; i++) {
    made_session *m = &out[i];
    rc = create_session(setup, i, m->cookie, sizeof m->cookie);
    memcpy(m->key, t.key, sizeof m->key);
    memcpy(m->value, t.value, t.value_len);
    m->value_len = t.value_len;
    m->flags = t.flags;
  }
  mcs_manager_free(setup);
  mcs_store_free(tapped);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Timed workers                                                            */
/* ------------------------------------------------------------------------ */

typedef struct worker {
  pthread_t tid;
  pthread_barrier_t *start;
  int write;
  double seconds;
  made_session sess; /* this worker's */
  mcs_manager *mgr;   /* cycles */
  mcs_memcached_server srv; /* bare */
  /* results */
  uint64_t cycles, failures;
  double elapsed;
} worker;

/* One request's worth of library work; 0 when the session came back. */
static int lib_cycle(worker *w) {
  mcs_session *s = NULL;
  int rc = mcs_session_load(w->mgr, w->sess.cookie, strlen(w->sess.cookie),
                            &s);
  if (rc != MCS_OK)
    return rc;
  const char *name;
  size_t len;
  if (mcs_session_outcome(s) != MCS_SESSION_LOADED ||
      mcs_session_get_str(s, "user_name", &name, &len) != MCS_OK)
    rc = MCS_ENOENT;
  else if (w->write)
    rc = mcs_session_incr(s, "count", 1, NULL);
  if (rc == MCS_OK)
    rc = mcs_session_save(s);
  mcs_session_free(s);
  return rc;
}

/* The same round trips with the bare client. */
static int bare_cycle(worker *w, bare_mc *mc) {
  uint64_t cas = 0;
  uint32_t flags = 0;
  size_t len = 0;
  if (bare_mg(mc, w->sess.key, IDLE_TTL, &cas, &flags, &len) != 1)
    return -1;
  if (!w->write)
    return 0;
  return bare_ms_cas(mc, w->sess.key, w->sess.value, w->sess.value_len,
                     IDLE_TTL, flags,
                     cas) == 1
             ? 0
             : -1;
}

/* Runs `cycle` for w->seconds after a warm-up and a common start. */
static void run_timed(worker *w, int (*cycle)(worker *, bare_mc *),
                      bare_mc *mc) {
  for (int i = 0; i < WARMUP_CYCLES; i++)
    (void)cycle(w, mc);
  pthread_barrier_wait(w->start);
  double t0 = now_s(), t = t0;
  while (t - t0 < w->seconds) {
    for (int i = 0; i < 64; i++) {
      if (cycle(w, mc) != 0)
        w->failures++;
      w->cycles++;
    }
    t = now_s();
  }
  w->elapsed = t - t0;
}

static int lib_cycle_adapter(worker *w, bare_mc *mc) {
  (void)mc;
  return lib_cycle(w);
}

static void *lib_thread(void *arg) {
  run_timed(arg, lib_cycle_adapter, NULL);
  return NULL;
}

static void *bare_thread(void *arg) {
  worker *w = arg;
  bare_mc *mc = malloc(sizeof *mc);
  if (!mc || bare_connect(mc, w->srv.host, w->srv.port) != 0) {
    fprintf(stderr, "bench_lib: cannot connect to %s:%u\n", w->srv.host,
            (unsigned)w->srv.port);
    pthread_barrier_wait(w->start);
    w->failures = 1;
    free(mc);
    return NULL;
  }
  run_timed(w, bare_cycle, mc);
  bare_close(mc);
  free(mc);
  return NULL;
}

/* Starts one thread per worker and sums their rates. */
static void run_workers(worker *ws, unsigned n, void *(*fn)(void *),
                        double *rate, uint64_t *cycles, uint64_t *failures) {
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, n);
  for (unsigned i = 0; i < n; i++) {
    ws[i].start = &start;
    pthread_create(&ws[i].tid, NULL, fn, &ws[i]);
  }
  *rate = 0;
  *cycles = *failures = 0;
  for (unsigned i = 0; i < n; i++) {
    pthread_join(ws[i].tid, NULL);
    if (ws[i].elapsed > 0)
      *rate += (double)ws[i].cycles / ws[i].elapsed;
    *cycles += ws[i].cycles;
    *failures += ws[i].failures;
  }
  pthread_barrier_destroy(&start);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

/* Gives each worker its own session. */
static int prepare_workers(const opts *o, mcs_keyring *ring, mcs_store *store,
                           worker *ws) {
  static made_session made[MAX_THREADS];
  int rc = make_sessions(ring, store, o->threads, made);
  for (unsigned i = 0; rc == MCS_OK && i < o->threads; i++) {
    ws[i].write = strcmp(o->mode, "write") == 0;
    ws[i].seconds = o->seconds;
    ws[i].sess = made[i];
  }
  return rc;
}

/* Commands the store sent (memcached or Redis). */
static uint64_t store_requests(mcs_store *store) {
  mcs_memcached_stats st;
  mcs_redis_stats rst;
  if (mcs_store_redis_stats_get(store, &rst) == MCS_OK)
    return rst.requests;
  return mcs_store_memcached_stats_get(store, &st) == MCS_OK ? st.requests : 0;
}

/* What every timed command starts from: a random key ring, the store
 * named by --store, a manager over it. */
static int open_bench(const opts *o, mcs_keyring **ring, mcs_store **store,
                      mcs_manager **mgr) {
  int rc = make_keys(NULL, ring);
  if (rc == MCS_OK)
    rc = open_store(o->store, store);
  if (rc == MCS_OK)
    rc = make_manager(*ring, *store, mgr);
  return rc;
}

static int cmd_timed(const opts *o, int bare) {
  static worker ws[MAX_THREADS];
  mcs_keyring *ring = NULL;
  mcs_store *store = NULL;
  mcs_manager *mgr = NULL;
  if (bare && !is_memcached(o->store))
    return usage();
  int rc = open_bench(o, &ring, &store, &mgr);
  if (rc == MCS_OK)
    rc = prepare_workers(o, ring, store, ws);
  for (unsigned i = 0; rc == MCS_OK && i < o->threads; i++) {
    ws[i].mgr = mgr;
    if (bare && url_server(o->store, &ws[i].srv) != 0)
      rc = MCS_EINVAL;
  }
  if (rc != MCS_OK) {
    mcs_manager_free(mgr);
    mcs_store_free(store);
    mcs_keyring_free(ring);
    return fail("setup", rc);
  }
  uint64_t req0 = store_requests(store), cycles, failures;
  double rate;
  run_workers(ws, o->threads, bare ? bare_thread : lib_thread, &rate, &cycles,
              &failures);
  uint64_t reqs = store_requests(store) - req0;
  printf("cycles_per_s=%.0f cycles=%" PRIu64 " failures=%" PRIu64
         " record_bytes=%zu",
         rate, cycles, failures, ws[0].sess.value_len);
  if (!bare && (is_memcached(o->store) || is_redis(o->store)))
    printf(" store_ops_per_cycle=%.3f",
           (double)reqs / (double)(cycles + WARMUP_CYCLES * o->threads));
  printf("\n");
  mcs_manager_free(mgr);
  mcs_store_free(store);
  mcs_keyring_free(ring);
  return failures ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* In flight: N sessions on one thread, pipelined                           */
/* ------------------------------------------------------------------------ */

typedef struct flight {
  unsigned n;
  made_session sess[BENCH_LOOP_MAX];
  const char *cookies[BENCH_LOOP_MAX]; /* sess[i].cookie */
} flight;

static int prepare_flight(const opts *o, mcs_keyring *ring, mcs_store *store,
                          flight *f) {
  f->n = o->inflight;
  for (unsigned i = 0; i < f->n; i++)
    f->cookies[i] = f->sess[i].cookie;
  return make_sessions(ring, store, f->n, f->sess);
}

/* One batch of the floor: N mg in one write, their replies; to write,
 * then N ms C<cas> in one write, their replies. Failures are counted. */
static void bare_batch_cycle(bare_mc *mc, const flight *f, int write,
                             bare_batch *b, uint64_t *failures) {
  uint64_t cas[BENCH_LOOP_MAX];
  uint32_t flags;
  size_t len;
  for (unsigned i = 0; i < f->n; i++)
    if (bare_batch_mg(b, f->sess[i].key, IDLE_TTL) != 0)
      (*failures)++;
  if (bare_batch_send(mc, b) != 0)
    (*failures)++;
  for (unsigned i = 0; i < f->n; i++)
    if (bare_read_mg(mc, &cas[i], &flags, &len) != 1)
      (*failures)++;
  if (!write)
    return;
  for (unsigned i = 0; i < f->n; i++)
    if (bare_batch_ms_cas(b, f->sess[i].key, f->sess[i].value,
                          f->sess[i].value_len, IDLE_TTL, f->sess[i].flags,
                          cas[i]) != 0)
      (*failures)++;
  if (bare_batch_send(mc, b) != 0)
    (*failures)++;
  for (unsigned i = 0; i < f->n; i++)
    if (bare_read_ms(mc) != 1)
      (*failures)++;
}

static int bare_flight(const opts *o, const flight *f,
                       bench_loop_result *out) {
  static bare_mc mc;
  static bare_batch b;
  mcs_memcached_server srv;
  if (url_server(o->store, &srv) != 0 ||
      bare_connect(&mc, srv.host, srv.port) != 0)
    return MCS_ESTORE;
  int write = strcmp(o->mode, "write") == 0;
  memset(out, 0, sizeof *out);
  for (int i = 0; i < 20; i++) /* warm-up, not counted */
    bare_batch_cycle(&mc, f, write, &b, &out->failures);
  out->failures = 0;
  double t0 = now_s(), t = t0;
  while (t - t0 < o->seconds) {
    bare_batch_cycle(&mc, f, write, &b, &out->failures);
    out->cycles += f->n;
    t = now_s();
  }
  out->elapsed = t - t0;
  bare_close(&mc);
  return MCS_OK;
}

static int lib_flight(const opts *o, mcs_manager *mgr, mcs_store *store,
                      const flight *f, bench_loop_result *out) {
  mcs_loop *loop = NULL;
  int rc = mcs_loop_new(&loop, store);
  if (rc == MCS_OK &&
      bench_loop_run(mgr, loop, f->cookies, f->n,
                     strcmp(o->mode, "write") == 0, o->seconds, out) != 0)
    rc = MCS_EINVAL;
  mcs_loop_free(loop);
  return rc;
}

static int cmd_inflight(const opts *o, int bare) {
  static flight f;
  mcs_keyring *ring = NULL;
  mcs_store *store = NULL;
  mcs_manager *mgr = NULL;
  bench_loop_result res = {0};
  if (bare && !is_memcached(o->store))
    return usage();
  int rc = open_bench(o, &ring, &store, &mgr);
  if (rc == MCS_OK)
    rc = prepare_flight(o, ring, store, &f);
  uint64_t req0 = store_requests(store);
  if (rc == MCS_OK)
    rc = bare ? bare_flight(o, &f, &res) : lib_flight(o, mgr, store, &f, &res);
  uint64_t reqs = store_requests(store) - req0;
  if (rc == MCS_OK) {
    printf("cycles_per_s=%.0f cycles=%" PRIu64 " failures=%" PRIu64
           " record_bytes=%zu inflight=%u",
           res.elapsed > 0 ? (double)res.cycles / res.elapsed : 0.0,
           res.cycles, res.failures, f.sess[0].value_len, f.n);
    /* Every op the store sent over every cycle run (warm-up too). */
    if (!bare && (is_memcached(o->store) || is_redis(o->store)) &&
        res.all_cycles)
      printf(" store_ops_per_cycle=%.3f",
             (double)reqs / (double)res.all_cycles);
    printf("\n");
  }
  mcs_manager_free(mgr);
  mcs_store_free(store);
  mcs_keyring_free(ring);
  if (rc != MCS_OK)
    return fail("inflight", rc);
  return res.failures ? 1 : 0;
}

/* Bytes the store holds: the memory store's account or memcached's. */
static int store_bytes(const opts *o, mcs_store *store, uint64_t *bytes) {
  if (!is_memcached(o->store)) {
    mcs_memory_stats st;
    int rc = mcs_store_memory_stats_get(store, &st);
    *bytes = st.bytes;
    return rc;
  }
  mcs_memcached_server srv;
  bare_mc mc;
  if (url_server(o->store, &srv) != 0 ||
      bare_connect(&mc, srv.host, srv.port) != 0)
    return MCS_ESTORE;
  int rc = bare_stat(&mc, "bytes", bytes) == 0 ? MCS_OK : MCS_EPROTO;
  bare_close(&mc);
  return rc;
}

static int cmd_memory(const opts *o) {
  mcs_keyring *ring = NULL;
  mcs_store *store = NULL, *tapped = NULL;
  mcs_manager *mgr = NULL;
  tap t = {0};
  uint64_t before = 0, after = 0;
  int rc = make_keys(NULL, &ring);
  if (rc == MCS_OK)
    rc = open_store(o->store, &store);
  t.inner = store;
  if (rc == MCS_OK)
    rc = mcs_store_new(&tapped, &TAP_OPS, &t);
  if (rc == MCS_OK)
    rc = make_manager(ring, tapped, &mgr);
  if (rc == MCS_OK)
    rc = store_bytes(o, store, &before);
  for (unsigned long i = 0; rc == MCS_OK && i < o->sessions; i++)
    rc = create_session(mgr, i, NULL, 0);
  if (rc == MCS_OK)
    rc = store_bytes(o, store, &after);
  if (rc == MCS_OK)
    printf("bytes_per_session=%.1f sessions=%lu record_bytes=%zu "
           "key_bytes=%zu\n",
           (double)(after - before) / (double)o->sessions, o->sessions,
           t.value_len, strlen(t.key));
  mcs_manager_free(mgr);
  mcs_store_free(tapped);
  mcs_store_free(store);
  mcs_keyring_free(ring);
  return rc == MCS_OK ? 0 : fail("memory", rc);
}

static int cmd_fill(const opts *o) {
  mcs_memcached_server srv;
  static bare_mc mc;
  bare_pipe pipe = {0};
  mcs_keyring *ring = NULL;
  mcs_store *store = NULL;
  mcs_manager *mgr = NULL;
  if (!is_memcached(o->store) || !o->secret_file ||
      url_server(o->store, &srv) != 0)
    return usage();
  if (bare_connect(&mc, srv.host, srv.port) != 0 ||
      bare_pipe_init(&pipe, &mc) != 0)
    return fail("connect", MCS_ESTORE);
  double t0 = now_s();
  int rc = make_keys(o->secret_file, &ring);
  if (rc == MCS_OK)
    rc = mcs_store_new(&store, &PIPE_OPS, &pipe);
  if (rc == MCS_OK)
    rc = make_manager(ring, store, &mgr);
  for (unsigned long i = 0; rc == MCS_OK && i < o->sessions; i++)
    rc = create_session(mgr, 1000000 + i, NULL, 0);
  if (rc == MCS_OK && bare_pipe_flush(&pipe) != 0)
    rc = MCS_ESTORE;
  if (rc == MCS_OK)
    printf("filled=%" PRIu64 " errors=%" PRIu64 " seconds=%.1f\n",
           pipe.written, pipe.errors, now_s() - t0);
  mcs_manager_free(mgr);
  mcs_store_free(store);
  mcs_keyring_free(ring);
  bare_pipe_free(&pipe);
  bare_close(&mc);
  return rc == MCS_OK && pipe.errors == 0 ? 0 : fail("fill", rc);
}

int main(int argc, char **argv) {
  opts o;
  if (parse_opts(&o, argc, argv) != 0)
    return usage();
  if (strcmp(o.cmd, "cycles") == 0)
    return o.inflight ? cmd_inflight(&o, 0) : cmd_timed(&o, 0);
  if (strcmp(o.cmd, "bare") == 0)
    return o.inflight ? cmd_inflight(&o, 1) : cmd_timed(&o, 1);
  if (strcmp(o.cmd, "memory") == 0)
    return cmd_memory(&o);
  if (strcmp(o.cmd, "fill") == 0)
    return cmd_fill(&o);
  return usage();
}
