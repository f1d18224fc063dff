/* A third store joins the event loop without a line of loop/ or session/
 * knowing it: "pipe", a store of the application's own with a
 * non-blocking side, written here against mcsession.h alone (the header's
 * contract, "The non-blocking side").
 *
 * It stands in for a networked store (a Redis client, say). Its data lives
 * in a memory store, the "server". Its blocking side calls the server
 * directly (the loop's helper thread uses it for the rare steps that need
 * several operations). Its engine sends every submitted operation as one
 * byte down a pipe and answers it only when the pipe's read end, which it
 * asked the loop to watch through mcs_store_io, is readable: a round trip
 * through a descriptor and the loop's epoll set, as over a socket. So a
 * load or save through mcs_loop completes only if the loop drives this
 * engine: attach, submit, flush, event, timeout, detach.
 *
 * Checked: loads and saves go pending and complete through the engine with
 * no blocking call; every engine member runs on the loop's thread and no
 * done runs inside submit; a CAS conflict is replayed on the helper
 * thread through the blocking side; a store error reaches the callback as
 * that error, never as a new session; a store that declines to attach,
 * and a store whose operations never block, are run the other two ways;
 * mcs_loop_free detaches the engine. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "loop_util.h"

/* ---- The pipe store ----------------------------------------------------- */

typedef struct pipe_store {
  mcs_store *server;         /* where the data is */
  _Atomic unsigned blocking; /* calls of the blocking side */
  unsigned attaches, detaches, submits, events, answered;
  uint32_t last_get_ttl;                /* ttl of the last GET submitted */
  char last_key[MCS_STORE_KEY_MAX + 1]; /* key of the last submitted */
  int fail_rc;                          /* non-zero: every answer is this */
  bool decline;                         /* attach declines: no engine */
  pthread_t loop_thread;                /* where every engine call must come */
} pipe_store;

typedef struct engine {
  pipe_store *ps;
  const mcs_store_io *io;
  int fd[2];                          /* the "connection": [1] -> [0] */
  mcs_store_op *queued, *queued_tail; /* submitted, not sent */
  mcs_store_op *sent, *sent_tail;     /* sent, answer not read */
} engine;

static void on_loop_thread(const pipe_store *ps) {
  assert_true(pthread_equal(pthread_self(), ps->loop_thread));
}

static void push(mcs_store_op **head, mcs_store_op **tail, mcs_store_op *op) {
  op->next = NULL;
  if (*tail)
    (*tail)->next = op;
  else
    *head = op;
  *tail = op;
}

static mcs_store_op *pop(mcs_store_op **head, mcs_store_op **tail) {
  mcs_store_op *op = *head;
  if (op && !(*head = op->next))
    *tail = NULL;
  return op;
}

/* The server's answer to op, through the public store functions. */
static void answer(pipe_store *ps, mcs_store_op *op) {
  mcs_store *sv = ps->server;
  op->result = 0;
  switch (op->kind) {
  case MCS_STORE_OP_GET: {
    void *data = NULL;
    size_t len = 0;
    op->rc = mcs_store_get(sv, op->key, op->key_len, op->ttl, 1 << 22, &data,
                           &len, &op->out_cas, &op->out_flags, &op->result);
    if (op->rc == MCS_OK && op->result == MCS_STORE_HIT && op->value)
      op->rc = mcs_store_value_set(op->value, data, len);
    mcs_free(data);
    break;
  }
  case MCS_STORE_OP_ADD:
    op->rc = mcs_store_add(sv, op->key, op->key_len, op->data, op->len,
                           op->flags, op->ttl, &op->out_cas, &op->result);
    break;
  case MCS_STORE_OP_CAS:
    op->rc =
        mcs_store_cas(sv, op->key, op->key_len, op->data, op->len, op->flags,
                      op->ttl, op->cas, &op->out_cas, &op->result);
    break;
  case MCS_STORE_OP_SET:
    op->rc = mcs_store_set(sv, op->key, op->key_len, op->data, op->len,
                           op->flags, op->ttl, &op->result);
    break;
  case MCS_STORE_OP_DELETE:
    op->rc = mcs_store_delete(sv, op->key, op->key_len, &op->result);
    break;
  case MCS_STORE_OP_TOUCH:
    op->rc = mcs_store_touch(sv, op->key, op->key_len, op->ttl, &op->result);
    break;
  default:
    op->rc = MCS_EINVAL;
  }
  if (ps->fail_rc) /* the store failed: an error, never a miss */
    op->rc = ps->fail_rc;
}

static int pipe_attach(void *ud, const mcs_store_io *io, void **out) {
  pipe_store *ps = ud;
  *out = NULL;
  ps->attaches++;
  if (ps->decline)
    return MCS_OK;
  engine *e = calloc(1, sizeof *e);
  if (!e)
    return MCS_ENOMEM;
  e->ps = ps;
  e->io = io;
  if (pipe(e->fd) != 0) {
    free(e);
    return MCS_EIO;
  }
  for (int i = 0; i < 2; i++) {
    fcntl(e->fd[i], F_SETFL, O_NONBLOCK);
    fcntl(e->fd[i], F_SETFD, FD_CLOEXEC);
  }
  int rc = io->watch(io->ctx, e->fd[0], MCS_STORE_IO_READ, e);
  if (rc) {
    close(e->fd[0]);
    close(e->fd[1]);
    free(e);
    return rc;
  }
  *out = e;
  return MCS_OK;
}

static void pipe_submit(void *eng, mcs_store_op *op) {
  engine *e = eng;
  on_loop_thread(e->ps);
  e->ps->submits++;
  if (op->kind == MCS_STORE_OP_GET)
    e->ps->last_get_ttl = op->ttl;
  memcpy(e->ps->last_key, op->key, op->key_len);
  e->ps->last_key[op->key_len] = '\0';
  op->deadline = 1; /* the engine's own member: any use is fine */
  push(&e->queued, &e->queued_tail, op);
}

/* Sends what was submitted: one byte per request. */
static void pipe_flush(void *eng) {
  engine *e = eng;
  on_loop_thread(e->ps);
  for (mcs_store_op *op; (op = pop(&e->queued, &e->queued_tail));) {
    assert_int_equal(write(e->fd[1], "r", 1), 1);
    push(&e->sent, &e->sent_tail, op);
  }
}

static int pipe_timeout(void *eng) {
  engine *e = eng;
  on_loop_thread(e->ps);
  if (e->queued)
    return 0; /* flush has something to send */
  return e->sent ? 1000 : -1;
}

/* The read end is readable: each byte is one answer, in order. */
static void pipe_event(void *eng, void *tag, uint32_t events) {
  engine *e = eng;
  on_loop_thread(e->ps);
  assert_ptr_equal(tag, e);
  assert_true(events & MCS_STORE_IO_READ);
  e->ps->events++;
  char buf[64];
  ssize_t n = read(e->fd[0], buf, sizeof buf);
  for (ssize_t i = 0; i < n; i++) {
    mcs_store_op *op = pop(&e->sent, &e->sent_tail);
    assert_non_null(op);
    answer(e->ps, op);
    e->ps->answered++;
    op->done(op); /* op is the submitter's again */
  }
}

/* Fails what is left (also what those callbacks submit), then closes. */
static void pipe_detach(void *eng) {
  engine *e = eng;
  e->ps->detaches++;
  for (;;) {
    mcs_store_op *op = pop(&e->sent, &e->sent_tail);
    if (!op)
      op = pop(&e->queued, &e->queued_tail);
    if (!op)
      break;
    op->rc = MCS_ESTORE;
    op->done(op);
  }
  e->io->unwatch(e->io->ctx, e->fd[0]);
  close(e->fd[0]);
  close(e->fd[1]);
  free(e);
}

/* The blocking side: straight to the server, counted. */
static int pb_get(void *ud, const char *key, size_t key_len, uint32_t ttl,
                  mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                  mcs_store_result *result) {
  pipe_store *ps = ud;
  ps->blocking++;
  void *data = NULL;
  size_t len = 0;
  int rc = mcs_store_get(ps->server, key, key_len, ttl, 1 << 22, &data, &len,
                         cas, flags, result);
  if (rc == MCS_OK && *result == MCS_STORE_HIT)
    rc = mcs_store_value_set(value, data, len);
  mcs_free(data);
  return rc;
}
static int pb_add(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl, uint64_t *cas,
                  mcs_store_result *result) {
  pipe_store *ps = ud;
  ps->blocking++;
  return mcs_store_add(ps->server, key, key_len, data, len, flags, ttl, cas,
                       result);
}
static int pb_cas(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl, uint64_t cas,
                  uint64_t *new_cas, mcs_store_result *result) {
  pipe_store *ps = ud;
  ps->blocking++;
  return mcs_store_cas(ps->server, key, key_len, data, len, flags, ttl, cas,
                       new_cas, result);
}
static int pb_set(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl,
                  mcs_store_result *result) {
  pipe_store *ps = ud;
  ps->blocking++;
  return mcs_store_set(ps->server, key, key_len, data, len, flags, ttl, result);
}
static int pb_del(void *ud, const char *key, size_t key_len,
                  mcs_store_result *result) {
  pipe_store *ps = ud;
  ps->blocking++;
  return mcs_store_delete(ps->server, key, key_len, result);
}
static int pb_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                    mcs_store_result *result) {
  pipe_store *ps = ud;
  ps->blocking++;
  return mcs_store_touch(ps->server, key, key_len, ttl, result);
}
static const char *pipe_prefix(void *ud) {
  (void)ud;
  return "pipe:";
}

static const mcs_store_ops pipe_ops = {
    .version = MCS_STORE_OPS_VERSION,
    .get = pb_get,
    .add = pb_add,
    .cas = pb_cas,
    .set = pb_set,
    .del = pb_del,
    .touch = pb_touch,
    .kind = "pipe",
    .caps = MCS_STORE_CAP_ATOMIC_GET_TOUCH,
    .key_prefix = pipe_prefix,
    .attach = pipe_attach,
    .detach = pipe_detach,
    .submit = pipe_submit,
    .flush = pipe_flush,
    .timeout = pipe_timeout,
    .event = pipe_event,
};

/* ---- The rig: a manager and a loop over a pipe store ----------------------
 */

typedef struct rig {
  fixture *f; /* keys, clock and the memory store (the server) */
  pipe_store ps;
  mcs_store *store;
  mcs_manager *mgr;
  mcs_loop *loop;
} rig;

static mcs_store *rig_store; /* for set_store, which has no context */
static void set_store(mcs_manager_config *cfg) { cfg->store = rig_store; }

static rig *rig_new(const mcs_store_ops *ops, bool decline) {
  rig *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->f = fixture_new(NULL);
  r->ps.server = r->f->memory;
  r->ps.decline = decline;
  r->ps.loop_thread = pthread_self();
  assert_int_equal(mcs_store_new(&r->store, ops, &r->ps), MCS_OK);
  rig_store = r->store;
  r->mgr = fixture_manager(r->f, set_store);
  assert_int_equal(mcs_loop_new(&r->loop, r->store), MCS_OK);
  return r;
}

static void rig_free(rig *r) {
  if (r->loop)
    mcs_loop_free(r->loop);
  mcs_manager_free(r->mgr);
  mcs_store_free(r->store);
  fixture_free(r->f);
  free(r);
}

static int start_load(rig *r, const char *cookie, cb_result *res) {
  mcs_session *s = (mcs_session *)1;
  int rc = mcs_session_load_start(
      r->mgr, r->loop, cookie, cookie ? strlen(cookie) : 0, &s, on_done, res);
  if (rc == MCS_PENDING)
    assert_null(s);
  else
    res->s = s;
  return rc;
}

/* A load that must go pending and succeed. */
static mcs_session *load_pending(rig *r, const char *cookie) {
  cb_result res = {0};
  assert_int_equal(start_load(r, cookie, &res), MCS_PENDING);
  assert_int_equal(res.calls, 0); /* never from inside the start call */
  drive(r->loop);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.rc, MCS_OK);
  assert_true(pthread_equal(res.thread, pthread_self()));
  return res.s;
}

static void save_pending(rig *r, mcs_session *s, int want_rc) {
  cb_result res = {0};
  assert_int_equal(mcs_session_save_start(s, r->loop, on_done, &res),
                   MCS_PENDING);
  assert_int_equal(res.calls, 0);
  drive(r->loop);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.rc, want_rc);
  assert_ptr_equal(res.s, s);
  assert_true(pthread_equal(res.thread, pthread_self()));
}

/* A new session holding user=alice, saved through the loop (one add). */
static void make_stored(rig *r, char *cookie, size_t size) {
  cb_result res = {0};
  assert_int_equal(start_load(r, NULL, &res), MCS_OK); /* nothing to read */
  mcs_session *s = res.s;
  assert_int_equal(mcs_session_set_str(s, "user", "alice", 5), MCS_OK);
  save_pending(r, s, MCS_OK);
  cookie_header_from(s, cookie, size);
  mcs_session_free(s);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_loop_drives_a_user_store_engine(void **st) {
  (void)st;
  rig *r = rig_new(&pipe_ops, false);
  assert_int_equal(r->ps.attaches, 1);
  assert_string_equal(mcs_store_kind(r->store), "pipe");
  assert_int_equal(mcs_loop_timeout(r->loop), -1); /* nothing in flight */
  char cookie[512];
  make_stored(r, cookie, sizeof cookie);
  assert_int_equal(r->ps.submits, 1); /* the add */

  mcs_session *s = load_pending(r, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  const char *user;
  size_t len;
  assert_int_equal(mcs_session_get_str(s, "user", &user, &len), MCS_OK);
  assert_memory_equal(user, "alice", 5);
  assert_int_equal(r->ps.last_get_ttl, 1800); /* the read slides */
  /* Unchanged: complete at once, nothing submitted. */
  cb_result res = {0};
  assert_int_equal(mcs_session_save_start(s, r->loop, on_done, &res), MCS_OK);
  assert_int_equal(r->ps.submits, 2);
  /* Changed: one compare-and-swap through the engine. */
  assert_int_equal(mcs_session_incr(s, "n", 3, NULL), MCS_OK);
  assert_int_equal(mcs_session_save_start(s, r->loop, on_done, &res),
                   MCS_PENDING);
  assert_int_equal(mcs_loop_timeout(r->loop), 0); /* queued: send it */
  drive(r->loop);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.rc, MCS_OK);
  assert_false(mcs_session_dirty(s));
  mcs_session_free(s);
  s = load_pending(r, cookie);
  int64_t n = 0;
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 3);
  mcs_session_free(s);

  /* Every operation went through the engine, none through the blocking
   * side; the keys carry the store's default prefix. */
  assert_int_equal(r->ps.submits, 4);
  assert_int_equal(r->ps.answered, 4);
  assert_int_equal(r->ps.blocking, 0);
  assert_true(r->ps.events >= 1);
  assert_int_equal(mcs_loop_timeout(r->loop), -1);
  assert_memory_equal(r->ps.last_key, "pipe:", 5);
  mcs_loop_free(r->loop);
  r->loop = NULL;
  assert_int_equal(r->ps.detaches, 1);
  rig_free(r);
}

/* Two saves of one session in flight at once: the second's CAS conflicts
 * (answered by the engine), and its replay runs on the helper thread
 * through the blocking side; both changes survive. */
static void test_conflict_replays_on_the_helper(void **st) {
  (void)st;
  rig *r = rig_new(&pipe_ops, false);
  char cookie[512];
  make_stored(r, cookie, sizeof cookie);
  mcs_session *a = load_pending(r, cookie);
  mcs_session *b = load_pending(r, cookie);
  assert_int_equal(mcs_session_incr(a, "n", 5, NULL), MCS_OK);
  assert_int_equal(mcs_session_incr(b, "n", 7, NULL), MCS_OK);
  cb_result ra = {0}, rb = {0};
  assert_int_equal(mcs_session_save_start(a, r->loop, on_done, &ra),
                   MCS_PENDING);
  assert_int_equal(mcs_session_save_start(b, r->loop, on_done, &rb),
                   MCS_PENDING);
  drive(r->loop);
  assert_int_equal(ra.rc, MCS_OK);
  assert_int_equal(rb.rc, MCS_OK);
  assert_true(pthread_equal(rb.thread, pthread_self()));
  assert_true(r->ps.blocking > 0); /* the replay: read, then cas */
  mcs_session_free(a);
  mcs_session_free(b);
  mcs_session *s = load_pending(r, cookie);
  int64_t n = 0;
  assert_int_equal(mcs_session_get_int(s, "n", &n), MCS_OK);
  assert_int_equal(n, 12);
  mcs_session_free(s);
  rig_free(r);
}

/* An engine's error reaches the callback as that error: a failed read
 * is not an absent session. */
static void test_engine_errors_reach_the_callback(void **st) {
  (void)st;
  rig *r = rig_new(&pipe_ops, false);
  char cookie[512];
  make_stored(r, cookie, sizeof cookie);
  r->ps.fail_rc = MCS_ETIMEDOUT;
  cb_result res = {0};
  assert_int_equal(start_load(r, cookie, &res), MCS_PENDING);
  drive(r->loop);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.rc, MCS_ETIMEDOUT);
  assert_null(res.s);
  r->ps.fail_rc = 0;
  mcs_session *s = load_pending(r, cookie);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  mcs_session_free(s);
  assert_int_equal(r->ps.blocking, 0);
  rig_free(r);
}

/* A store whose attach declines runs on the helper thread (blocking side
 * only); the callbacks still come back to the loop's thread. */
static void test_declined_attach_runs_on_the_helper(void **st) {
  (void)st;
  rig *r = rig_new(&pipe_ops, true);
  assert_int_equal(r->ps.attaches, 1);
  char cookie[512];
  make_stored(r, cookie, sizeof cookie);
  mcs_session *s = load_pending(r, cookie);
  mcs_session_free(s);
  assert_int_equal(r->ps.submits, 0);
  assert_int_equal(r->ps.blocking, 2); /* the add, the get */
  assert_int_equal(mcs_loop_timeout(r->loop), -1);
  mcs_loop_free(r->loop);
  r->loop = NULL;
  assert_int_equal(r->ps.detaches, 0); /* nothing was attached */
  rig_free(r);
}

/* MCS_STORE_CAP_NONBLOCKING: the loop calls the blocking side on its own
 * thread and never attaches the engine; *_start complete at once. */
static void test_nonblocking_store_runs_inline(void **st) {
  (void)st;
  mcs_store_ops ops = pipe_ops;
  ops.caps |= MCS_STORE_CAP_NONBLOCKING;
  rig *r = rig_new(&ops, false);
  assert_int_equal(r->ps.attaches, 0);
  cb_result res = {0};
  assert_int_equal(start_load(r, NULL, &res), MCS_OK);
  mcs_session *s = res.s;
  assert_int_equal(mcs_session_set_int(s, "x", 1), MCS_OK);
  assert_int_equal(mcs_session_save_start(s, r->loop, on_done, &res), MCS_OK);
  mcs_session_free(s);
  assert_int_equal(res.calls, 0);
  assert_int_equal(r->ps.blocking, 1); /* the add, inline */
  assert_int_equal(r->ps.submits, 0);
  rig_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loop_drives_a_user_store_engine),
      cmocka_unit_test(test_conflict_replays_on_the_helper),
      cmocka_unit_test(test_engine_errors_reach_the_callback),
      cmocka_unit_test(test_declined_attach_runs_on_the_helper),
      cmocka_unit_test(test_nonblocking_store_runs_inline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
