/*
 * mcs_session_load_start / mcs_session_save_start: the session life cycle
 * of load.c and save.c, driven by an mcs_loop instead of blocking calls.
 *
 * Each call runs the steps those files expose (session_int.h, "in
 * steps"):
 * the CPU work now, the one store operation through the engine the loop
 * attached from the store's non-blocking side (whichever store it is),
 * the rest in the operation's completion. A step that needs more store
 * operations (MCS__NEED_IO) goes to the loop's helper thread, which runs
 * the very code mcs_session_load/save run, so there is one implementation
 * of the rules, not two. A store without an engine sends the whole call
 * to the helper; a store whose operations never block runs it inline.
 *
 * A task holds what lives across the wait: the operation, the buffer its
 * value lands in (load) or its value comes from (save), and the
 * application's callback.
 */
#include "session/session_int.h"

typedef struct task {
  mcs_loop *loop;
  mcs_session *s;
  mcs_session_cb cb;
  void *ud;
  bool is_load;
  int rc;    /* a helper-thread step's result */
  int found; /* load: what the read found, for mcs__load_settle */
  mcs_store_op op;
  mcs_store_value value; /* load: the record read */
  mcs__buf body;         /* save: the record written */
} task;

static task *task_new(mcs_loop *loop, mcs_session *s, mcs_session_cb cb,
                      void *ud, bool is_load) {
  task *t = mcs__calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->loop = loop;
  t->s = s;
  t->cb = cb;
  t->ud = ud;
  t->is_load = is_load;
  t->value = mcs__record_value(s->mgr);
  t->op.ctx = t;
  return t;
}

static void task_free(task *t) {
  mcs__buf_free(&t->value.buf);
  mcs__buf_free(&t->body);
  mcs__free(t);
}

/* Ends a pending call: the application's callback, on the loop's thread.
 * A failed load frees its session, as mcs_session_load does. */
static void deliver(task *t, int rc) {
  mcs_session *s = t->s;
  mcs_session_cb cb = t->cb;
  void *ud = t->ud;
  bool is_load = t->is_load;
  mcs__loop_settled(t->loop);
  task_free(t);
  if (is_load) {
    if (rc) {
      mcs_session_free(s);
      s = NULL;
    }
    cb(ud, rc, s);
  } else {
    cb(ud, mcs__save_finish(s, rc), s);
  }
}

/* The helper thread's jobs: a blocking step, then deliver on the loop. */
static void job_done(void *ud) {
  task *t = ud;
  deliver(t, t->rc);
}

static void hand_off(task *t, void (*work)(void *ud)) {
  int rc = mcs__loop_queue(t->loop, work, job_done, t);
  if (rc)
    deliver(t, rc);
}

static bool check_loop(const mcs_manager *mgr, const mcs_loop *loop,
                       const void *cb) {
  return mgr && loop && cb && mcs__loop_store(loop) == mgr->store;
}

/* ---- Loading ------------------------------------------------------------ */

static void load_read_work(void *ud) {
  task *t = ud;
  t->rc = mcs__load_read(t->s);
}

static void load_settle_work(void *ud) {
  task *t = ud;
  t->rc = mcs__load_settle(t->s, t->found, true);
}

static void load_read_done(mcs_store_op *op) {
  task *t = op->ctx;
  int rc = mcs__load_take(t->s, op->rc, op->result, &t->value, op->out_cas,
                          false, &t->found);
  mcs__buf_free(&t->value.buf);
  if (rc == MCS__NEED_IO)
    hand_off(t, load_settle_work);
  else
    deliver(t, rc);
}

/* Queues the read of s's record: to the store's engine, or on the helper
 * thread. */
static int start_read(task *t) {
  if (!mcs__loop_async(t->loop))
    return mcs__loop_queue(t->loop, load_read_work, job_done, t);
  mcs_session *s = t->s;
  t->op.kind = MCS_STORE_OP_GET;
  t->op.key = s->key;
  t->op.key_len = s->key_len;
  t->op.ttl = s->mgr->cfg.idle_timeout;
  t->op.value = &t->value;
  t->op.done = load_read_done;
  mcs__loop_submit(t->loop, &t->op);
  return MCS_OK;
}

int mcs_session_load_start(mcs_manager *mgr, mcs_loop *loop,
                           const char *cookie_header, size_t header_len,
                           mcs_session **out, mcs_session_cb cb, void *ud) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  if (!check_loop(mgr, loop, (const void *)cb))
    return MCS_EINVAL;
  if (mcs__loop_inline(loop))
    return mcs_session_load(mgr, cookie_header, header_len, out);
  mcs_session *s;
  bool need_read;
  int rc = mcs__load_begin(mgr, cookie_header, header_len, &s, &need_read);
  if (rc || !need_read) {
    *out = s; /* no cookie, or a forged one: nothing to read */
    return rc;
  }
  task *t = task_new(loop, s, cb, ud, true);
  if (!t || (rc = start_read(t)) != MCS_OK) {
    if (t)
      task_free(t);
    mcs_session_free(s);
    return rc ? rc : MCS_ENOMEM;
  }
  mcs__loop_owe(loop);
  return MCS_PENDING;
}

/* ---- Saving ------------------------------------------------------------- */

static void save_slow_work(void *ud) {
  task *t = ud;
  t->rc = mcs__save_slow(t->s, &t->body);
}

static void save_written_work(void *ud) {
  task *t = ud;
  t->rc = mcs__save_written(t->s, &t->body, &t->op);
}

/* A store without an engine: the write and what follows it, on the
 * helper thread. */
static void save_write_work(void *ud) {
  task *t = ud;
  mcs__store_op_run(mcs__loop_store(t->loop), &t->op);
  t->rc = mcs__save_written(t->s, &t->body, &t->op);
}

static void save_written_done(mcs_store_op *op) {
  task *t = op->ctx;
  if (mcs__save_written_needs_io(op))
    hand_off(t, save_written_work); /* a conflict: replay off the loop */
  else
    deliver(t, mcs__save_written(t->s, &t->body, op));
}

int mcs_session_save_start(mcs_session *s, mcs_loop *loop, mcs_session_cb cb,
                           void *ud) {
  if (!s || !check_loop(s->mgr, loop, (const void *)cb))
    return MCS_EINVAL;
  if (mcs__loop_inline(loop))
    return mcs_session_save(s);
  task *t = task_new(loop, s, cb, ud, false);
  if (!t)
    return MCS_ENOMEM;
  bool async = mcs__loop_async(loop);
  int rc = mcs__save_begin(s, &t->body, &t->op);
  if (rc == MCS__NEED_IO) {
    rc = mcs__loop_queue(loop, save_slow_work, job_done, t);
  } else if (rc == MCS_OK && t->op.kind && async) {
    t->op.done = save_written_done;
    mcs__loop_submit(loop, &t->op);
  } else if (rc == MCS_OK && t->op.kind) {
    rc = mcs__loop_queue(loop, save_write_work, job_done, t);
  } else { /* done now: nothing to write, or an error */
    task_free(t);
    return mcs__save_finish(s, rc);
  }
  if (rc) {
    task_free(t);
    return mcs__save_finish(s, rc);
  }
  mcs__loop_owe(loop);
  return MCS_PENDING;
}
