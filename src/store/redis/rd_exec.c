/*
 * Running a command on the Redis store's pooled connections: to the
 * key's server (the ring for redis:// with several servers, the slot map
 * for a cluster), within io_timeout_ms, with the retry rules of the
 * memcached client (mc_store.c): a command is sent again, once, on a
 * fresh connection only when nothing of it can have been applied (the
 * send failed before the kernel took a byte on a pooled connection), or
 * when it only reads (GET, GETEX, PTTL, EXPIRE: doing them twice changes
 * nothing once would not) and the pooled connection turned out closed
 * before any byte of the reply.
 *
 * A cluster answers a command for a slot the node does not serve with a
 * redirection ("Redis cluster specification", "Redirection and
 * resharding"): MOVED <slot> <host>:<port> (the slot has moved: remember
 * it and read the whole map again soon) or ASK <slot> <host>:<port> (the
 * slot is being migrated and this key already lives there: send ASKING
 * and the command to that node, this once, without changing the map). At
 * most MCS__RD_REDIRECTS_MAX redirections per command, so a cluster in flux
 * cannot keep a request going round.
 */
#include <string.h>

#include "store/redis/rd_int.h"

typedef struct try {
  mcs__rd_conn *conn;
  bool acquired, reused, got, sent_any;
} try_state;

/* Copies the replies' bytes into cmd->reply (the connection's buffer is
 * reused by the next read) and points the nodes there. */
static int keep(mcs__rd_cmd *cmd, size_t i, const mcs__rd_node *r,
                size_t *offs) {
  cmd->out[i] = *r;
  offs[i] = cmd->reply.len;
  if (r->type == MCS__RD_BULK || r->type == MCS__RD_STATUS ||
      r->type == MCS__RD_ERROR)
    return mcs__buf_append(&cmd->reply, r->p, r->len);
  return MCS_OK;
}

/* Reads the replies of an exchange: ASKING's first when asked. */
static int read_replies(mcs__rd_cmd *cmd, try_state *t, bool asking,
                        int64_t deadline) {
  size_t offs[2] = {0, 0};
  mcs__rd_node r;
  size_t cnt;
  int rc = MCS_OK;
  mcs__buf_reset(&cmd->reply);
  if (asking) {
    rc = mcs__rd_conn_read(t->conn, 0, deadline, &r, 1, &cnt, &t->got);
    if (rc == MCS_OK && r.type != MCS__RD_STATUS)
      rc = MCS_EPROTO;
  }
  for (size_t i = 0; i < cmd->ncmds && rc == MCS_OK; i++) {
    rc = mcs__rd_conn_read(t->conn, cmd->max_bulk, deadline, &r, 1, &cnt,
                           i == 0 && !asking ? &t->got : NULL);
    if (rc == MCS_OK)
      rc = keep(cmd, i, &r, offs);
  }
  for (size_t i = 0; i < cmd->ncmds && rc == MCS_OK; i++)
    if (cmd->out[i].p)
      cmd->out[i].p = cmd->reply.data + offs[i];
  return rc;
}

/* One try on node: a connection, the send, the replies. */
static int exchange(mcs__rd_store *st, mcs__conn_pool *pool,
                    const mcs__buf *wire, mcs__rd_cmd *cmd, bool asking,
                    bool fresh, try_state *t) {
  int64_t deadline = mcs__rd_now_ms() + st->cfg.io_timeout_ms;
  memset(t, 0, sizeof *t);
  void *conn = NULL;
  int rc = mcs__conn_pool_acquire(pool, deadline, fresh,
                                  cmd->kind == MCS__RD_K_WRITE, &conn);
  t->conn = conn;
  if (rc)
    return rc; /* the pool or the connect noted why */
  t->acquired = true;
  t->reused = mcs__rd_conn_reused(t->conn);
  size_t sent = 0;
  for (size_t i = 0; i < cmd->ncmds; i++)
    mcs__rd_count(&st->requests);
  rc = mcs__rd_conn_send(t->conn, wire->data, wire->len, deadline, &sent);
  t->sent_any = sent > 0;
  if (rc == MCS_OK)
    rc = read_replies(cmd, t, asking, deadline);
  mcs__conn_pool_release(pool, t->conn, rc == MCS_OK);
  return rc;
}

/* The wire form of cmd, ASKING first when asked. */
static int build(const mcs__rd_cmd *cmd, bool asking, mcs__buf *wire) {
  static const mcs__rd_arg askarg = {"ASKING", 6, NULL, 0};
  mcs__buf_reset(wire);
  int rc = asking ? mcs__rd_format(wire, &askarg, 1) : MCS_OK;
  for (size_t i = 0; i < cmd->ncmds && rc == MCS_OK; i++)
    rc = mcs__rd_format(wire, cmd->argv[i], cmd->argc[i]);
  return rc;
}

static void note_failure(mcs__rd_store *st, int rc) {
  if (rc == MCS_ETIMEDOUT) {
    mcs__rd_count(&st->timeouts);
    mcs__rd_note_error(st, "request timed out", NULL, 0);
  } else if (rc == MCS_EPROTO) {
    mcs__rd_count(&st->protocol_errors);
    mcs__rd_note_error(st, "reply is not RESP or does not fit the command",
                       NULL, 0);
  } else if (rc == MCS_ESTORE) {
    mcs__rd_note_error(st, "connection closed or refused", NULL, 0);
  }
}

/* One command on one node, with the single repeat the rules allow. */
static int on_node(mcs__rd_store *st, int node, mcs__buf *wire,
                   mcs__rd_cmd *cmd, bool asking) {
  mcs__conn_pool *pool = st->nodes[node]->pool;
  try_state t;
  int rc = exchange(st, pool, wire, cmd, asking, false, &t);
  bool stale = rc == MCS_ESTORE && t.reused &&
               (!t.sent_any || (cmd->kind == MCS__RD_K_READ && !t.got));
  if (stale) /* the server closed it (a restart): once more, fresh */
    rc = exchange(st, pool, wire, cmd, asking, true, &t);
  if (rc && t.acquired)
    note_failure(st, rc);
  /* A server that failed at the socket level is skipped for retry_s (a
   * refusal by the pool itself, or a reply we refused, is not that). */
  if ((rc == MCS_ESTORE || rc == MCS_ETIMEDOUT) && t.acquired)
    mcs__conn_pool_mark_down(pool);
  return rc;
}

int mcs__rd_run(mcs__rd_store *st, mcs__rd_cmd *cmd) {
  mcs__buf wire = MCS__BUF_INIT;
  bool asking = false;
  int node = mcs__rd_route(st, cmd->key, cmd->key_len), rc = MCS_ESTORE;
  for (int hop = 0; hop <= MCS__RD_REDIRECTS_MAX; hop++) {
    if (node < 0) {
      mcs__rd_note_error(st, "no cluster node serves the key's slot", NULL, 0);
      rc = MCS_ESTORE;
      break;
    }
    if ((rc = build(cmd, asking, &wire)) != MCS_OK)
      break;
    rc = on_node(st, node, &wire, cmd, asking);
    if (rc || !st->cfg.cluster) {
      if (rc == MCS_ESTORE || rc == MCS_ETIMEDOUT)
        atomic_store(&st->slots_stale, true); /* a failover? */
      break;
    }
    bool moved = mcs__rd_err_is(&cmd->out[0], "MOVED");
    asking = mcs__rd_err_is(&cmd->out[0], "ASK");
    if (!moved && !asking)
      break;
    uint16_t slot;
    mcs__rd_count(&st->redirects);
    if (mcs__rd_redirect_parse(st, &cmd->out[0], &slot, &node) != MCS_OK) {
      rc = MCS_EPROTO;
      break;
    }
    if (moved)
      mcs__rd_slots_moved(st, slot, node);
    rc = MCS_ESTORE; /* unless the next hop answers */
  }
  if (rc == MCS_ESTORE && (mcs__rd_err_is(&cmd->out[0], "MOVED") ||
                           mcs__rd_err_is(&cmd->out[0], "ASK")))
    mcs__rd_note_error(st, "too many cluster redirections", NULL, 0);
  mcs__buf_free(&wire);
  return rc;
}
