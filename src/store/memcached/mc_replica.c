/*
 * Replicas (store URL `replicas=N`, N > 0): every key lives on the N + 1
 * distinct servers that follow its hash on the ring (mcs__mc_ring_pick_n,
 * "the replica set", primary first). The aims: losing any N servers loses
 * no key; a server that comes back, empty after a restart or holding OLD
 * values after a stall (SIGSTOP, a frozen VM), never makes a reader see
 * older data than the newest acknowledged write; concurrent updates are
 * never lost.
 *
 * How:
 *
 *   - Revisions. Every value written carries a 13-byte header: "\0mcr", a
 *     kind ('v' value, 't' tombstone) and a revision, chosen by the writer
 *     as (highest revision it saw) + 1. Readers ask every server of the
 *     set at once (all requests sent, then all replies read: one round
 *     trip of wall time) and serve the highest revision; ties go to the
 *     earlier server in ring order. A returning server's old values have
 *     lower revisions, so they lose; an empty server simply has nothing.
 *     A value without the header (written with replicas=0, or by another
 *     client) counts as revision 0, all payload.
 *
 *   - Read repair. After a read, every answering server whose copy is
 *     older (or missing) gets the winning bytes with a CONDITIONAL write:
 *     `ms … C<its own CAS>` where it had a copy, `ms … ME` where it had
 *     none. If that server changed meanwhile, it is re-read and the write
 *     is retried only while its revision is still lower; so a repair never
 *     overwrites a newer value (bounded: PUSH_ROUNDS).
 *
 *   - One authority per write. add, cas, set and delete first read the
 *     set (round trip 1), then write the AUTHORITY (the first server in
 *     ring order that answered) conditionally on exactly what they read
 *     there (round trip 2), then bring the other answering servers up to
 *     that revision as a repair does (round trip 3). The authority's
 *     CAS/ME is the single point where concurrent writers are ordered: the
 *     loser gets EXISTS and (through the session manager) re-reads and
 *     re-applies its changes. Writing the others only after the authority
 *     accepted means a loser never leaves a same-revision rival copy
 *     behind. The caller's CAS token is the revision it saw plus one, so
 *     `cas` succeeds only when the newest revision in the set is still
 *     the one the caller read.
 *
 *   - Failover gap. When the primary did not answer and a later server
 *     acts as authority, the new revision skips one (highest + 2): the
 *     stalled primary may hold one write that was applied just before it
 *     froze but never acknowledged (it was based on the highest revision
 *     then, so it is at most highest + 1), and that write must not tie
 *     with or beat the acknowledged writes made without it.
 *
 *   - Tombstones. Deleting writes a tombstone (header only, next
 *     revision) instead of `md`, with a TTL as long as the longest
 *     remaining TTL of the copies it replaces, so a stalled server that
 *     comes back with the deleted value cannot bring it back to life
 *     (a logout stays a logout). Readers treat a winning tombstone as a
 *     miss and repair older copies into tombstones too.
 *
 * Round trips (wall time; every request of a round runs in parallel):
 * get 1 (+1 when a copy needs repair), add/cas/set/delete 3 (+1 per
 * re-read of a replica that changed under the write), touch 2. replicas=0
 * never comes here: one round trip per operation, no header.
 *
 * Limits, stated plainly: the guarantees hold for one failure at a time
 * per replica set (N = 1) and assume every server's copies are repaired
 * by reads before the next failure; there is no background re-replication
 * (a session not read since a server restarted has one copy until it is
 * read). A write whose authority request timed out may or may not have
 * been applied (the caller got an error). While processes disagree about
 * whether a server is up (up to retry_s + io_timeout_ms after it
 * returns), two processes could each take a different authority for the
 * same key; within one process (one store shared by all threads) that
 * cannot happen.
 */
#include <string.h>

#include "store/memcached/mc_int.h"

#define COPIES_MAX (MCS_MEMCACHED_REPLICAS_MAX + 1)
/* Conditional writes per replica before giving up on it (it will be
 * repaired by a later read). */
#define PUSH_ROUNDS 3
/* set and delete re-read and retry this often after losing a race. */
#define WRITE_ATTEMPTS 8
/* Revisions stay far from overflow: a corrupt header claiming more is
 * read as no header at all. */
#define REV_MAX (UINT64_C(1) << 62)

static const uint8_t magic[4] = {0, 'm', 'c', 'r'};

void mcs__mc_hdr_put(uint8_t out[MCS__MC_HDR_LEN], bool tomb, uint64_t rev) {
  memcpy(out, magic, sizeof magic);
  out[4] = tomb ? 't' : 'v';
  for (int i = 0; i < 8; i++)
    out[5 + i] = (uint8_t)(rev >> (56 - 8 * i));
}

size_t mcs__mc_hdr_get(const uint8_t *raw, size_t len, mcs__mc_hdr *out) {
  uint64_t rev = 0;
  out->tomb = false;
  out->rev = 0;
  if (len < MCS__MC_HDR_LEN || memcmp(raw, magic, sizeof magic) != 0 ||
      (raw[4] != 'v' && raw[4] != 't'))
    return 0;
  for (int i = 0; i < 8; i++)
    rev = rev << 8 | raw[5 + i];
  if (rev == 0 || rev >= REV_MAX)
    return 0;
  out->tomb = raw[4] == 't';
  out->rev = rev;
  return MCS__MC_HDR_LEN;
}

/* ------------------------------------------------------------------------ */
/* The replica set of one key                                               */
/* ------------------------------------------------------------------------ */

typedef struct copy {
  int rc;       /* MCS_OK: the server answered the last request */
  bool present; /* it holds a value (data or tombstone) */
  mcs__mc_hdr hdr;
  uint64_t ncas; /* the server's own CAS token for that value */
  uint32_t flags;
  int64_t ttl;         /* remaining seconds; -1: never expires */
  mcs_store_value raw; /* the value as stored, header included */
} copy;

typedef struct rset {
  mcs__mc_store *st;
  const char *key;
  size_t key_len, n;
  size_t server[COPIES_MAX]; /* ring order: primary first */
  copy c[COPIES_MAX];
} rset;

/* What to write: bytes (header included), flags, TTL, and the header
 * they carry. */
typedef struct wr {
  const void *data;
  size_t len;
  uint32_t flags, ttl;
  mcs__mc_hdr hdr;
} wr;

static void rs_init(rset *rs, mcs__mc_store *st, const char *key,
                    size_t key_len, size_t max_payload) {
  size_t max_raw = max_payload == 0 || max_payload > MCS_MEMCACHED_ITEM_MAX
                       ? MCS_MEMCACHED_ITEM_MAX
                       : max_payload + MCS__MC_HDR_LEN;
  memset(rs, 0, sizeof *rs);
  rs->st = st;
  rs->key = key;
  rs->key_len = key_len;
  rs->n = mcs__mc_ring_pick_n(st->ring, key, key_len, st->cfg.replicas + 1,
                              rs->server);
  for (size_t i = 0; i < rs->n; i++) {
    rs->c[i].rc = MCS_ESTORE; /* not asked yet */
    rs->c[i].raw.max_len = max_raw;
  }
}

static void rs_free(rset *rs) {
  for (size_t i = 0; i < rs->n; i++)
    mcs__buf_free(&rs->c[i].raw.buf);
}

static mcs__mc_req req_for(const rset *rs, mcs__mc_cmd cmd) {
  mcs__mc_req r;
  memset(&r, 0, sizeof r);
  r.cmd = cmd;
  r.key = rs->key;
  r.key_len = rs->key_len;
  return r;
}

/* Records what a GET found. */
static void note_read(copy *c, const mcs__mc_op *op) {
  c->rc = op->rc;
  c->present = op->rc == MCS_OK && op->resp.status == MCS__MC_VA;
  c->hdr = (mcs__mc_hdr){false, 0};
  if (!c->present)
    return;
  c->ncas = op->resp.cas;
  c->flags = op->resp.flags;
  c->ttl = op->resp.has_ttl ? op->resp.ttl : -1;
  mcs__mc_hdr_get(c->raw.buf.data, c->raw.buf.len, &c->hdr);
}

/* Reads the selected copies in parallel (`mg <key> v c f t [T<ttl>]`). */
static void read_copies(rset *rs, const bool *sel, uint32_t touch_ttl) {
  mcs__mc_op ops[COPIES_MAX];
  size_t idx[COPIES_MAX], k = 0;
  for (size_t i = 0; i < rs->n; i++) {
    if (!sel[i])
      continue;
    ops[k].server = rs->server[i];
    ops[k].req = req_for(rs, MCS__MC_GET);
    ops[k].req.want_ttl = true;
    ops[k].req.ttl = touch_ttl ? mcs__mc_wire_ttl(touch_ttl) : 0;
    ops[k].value = &rs->c[i].raw;
    idx[k++] = i;
  }
  mcs__mc_exec(rs->st, ops, k);
  for (size_t j = 0; j < k; j++)
    note_read(&rs->c[idx[j]], &ops[j]);
}

/* Reads every copy. MCS_OK when at least one server answered, else the
 * primary's error. MCS_ETOOBIG when any copy is over the caller's limit:
 * an unreadable copy may be the newest, so none is served. */
static int read_all(rset *rs, uint32_t touch_ttl) {
  bool all[COPIES_MAX];
  for (size_t i = 0; i < rs->n; i++)
    all[i] = true;
  read_copies(rs, all, touch_ttl);
  int rc = rs->c[0].rc;
  for (size_t i = 0; i < rs->n; i++) {
    if (rs->c[i].rc == MCS_ETOOBIG)
      return MCS_ETOOBIG;
    if (rs->c[i].rc == MCS_OK)
      rc = MCS_OK;
  }
  return rc;
}

/* The copy with the highest revision (ties: earliest in ring order), or
 * -1 when no answering server holds the key. */
static int winner(const rset *rs) {
  int w = -1;
  for (size_t i = 0; i < rs->n; i++) {
    const copy *c = &rs->c[i];
    if (c->rc == MCS_OK && c->present &&
        (w < 0 || c->hdr.rev > rs->c[w].hdr.rev))
      w = (int)i;
  }
  return w;
}

static bool live(const rset *rs, int w) { return w >= 0 && !rs->c[w].hdr.tomb; }

/* The first server in ring order that answered (read_all found one). */
static size_t authority(const rset *rs) {
  size_t a = 0;
  while (a + 1 < rs->n && rs->c[a].rc != MCS_OK)
    a++;
  return a;
}

/* Remaining lifetime of a copy as a TTL to write: 0 for "never". */
static uint32_t ttl_of(const copy *c) {
  if (c->ttl < 0)
    return 0;
  if (c->ttl > (int64_t)UINT32_MAX)
    return UINT32_MAX;
  return c->ttl < 1 ? 1 : (uint32_t)c->ttl;
}

/* ------------------------------------------------------------------------ */
/* Conditional writes                                                       */
/* ------------------------------------------------------------------------ */

/* `ms` for copy i, conditional on what we last read there: C<its CAS>
 * over a copy, ME (only if absent) where there was none. */
static void make_write(const rset *rs, size_t i, const wr *w, mcs__mc_op *op) {
  const copy *c = &rs->c[i];
  op->server = rs->server[i];
  op->req = req_for(rs, c->present ? MCS__MC_CAS : MCS__MC_ADD);
  op->req.cas = c->ncas;
  op->req.data = w->data;
  op->req.data_len = w->len;
  op->req.flags = w->flags;
  op->req.ttl = mcs__mc_wire_ttl(w->ttl);
  op->req.want_cas = true;
  op->value = NULL;
}

static void note_written(copy *c, const wr *w, uint64_t ncas) {
  c->present = true;
  c->hdr = w->hdr;
  c->ncas = ncas;
}

/* Brings every copy with stale[i] set up to w's revision: a copy already
 * at or past it is left alone (as is an absent one when skip_absent), a
 * write refused because the copy changed meanwhile is re-read and
 * retried while still older. Failures are recorded in the copies and
 * otherwise ignored: a later read repairs what is left behind. */
static void push(rset *rs, bool *stale, const wr *w, bool skip_absent) {
  for (int round = 0; round < PUSH_ROUNDS; round++) {
    mcs__mc_op ops[COPIES_MAX];
    size_t idx[COPIES_MAX], k = 0;
    bool again[COPIES_MAX] = {false}, any = false;
    for (size_t i = 0; i < rs->n; i++) {
      const copy *c = &rs->c[i];
      if (stale[i] &&
          (c->rc != MCS_OK || (c->present && c->hdr.rev >= w->hdr.rev) ||
           (!c->present && skip_absent)))
        stale[i] = false;
      if (stale[i]) {
        make_write(rs, i, w, &ops[k]);
        idx[k++] = i;
      }
    }
    mcs__mc_exec(rs->st, ops, k);
    for (size_t j = 0; j < k; j++) {
      size_t i = idx[j];
      if (ops[j].rc == MCS_OK && ops[j].resp.status == MCS__MC_HD)
        note_written(&rs->c[i], w, ops[j].resp.cas);
      else if (ops[j].rc == MCS_OK) /* NS, EX, NF: it changed under us */
        again[i] = any = true;
      else
        rs->c[i].rc = ops[j].rc;
      stale[i] = again[i];
    }
    if (!any)
      return;
    read_copies(rs, again, 0);
  }
}

/* Read repair: every answering copy older than the winner (or missing,
 * unless the winner is a tombstone) gets the winner's bytes. */
static void repair(rset *rs, int w, uint32_t ttl) {
  const copy *win = &rs->c[w];
  bool stale[COPIES_MAX], any = false;
  for (size_t i = 0; i < rs->n; i++) {
    const copy *c = &rs->c[i];
    stale[i] = (int)i != w && c->rc == MCS_OK &&
              (c->present ? c->hdr.rev < win->hdr.rev : !win->hdr.tomb);
    any = any || stale[i];
  }
  if (!any)
    return;
  wr x = {win->raw.buf.data, win->raw.buf.len, win->flags, ttl, win->hdr};
  if (!x.data)
    x.data = "";
  push(rs, stale, &x, win->hdr.tomb);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                               */
/* ------------------------------------------------------------------------ */

/* The caller's CAS token for a revision: never 0, even for revision 0. */
static uint64_t token_of(uint64_t rev) { return rev + 1; }

int mcs__mc_r_get(void *ud, const char *key, size_t key_len, uint32_t touch_ttl,
                  mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                  mcs_store_result *result) {
  rset rs;
  rs_init(&rs, ud, key, key_len, value ? value->max_len : 0);
  int rc = read_all(&rs, touch_ttl);
  if (rc == MCS_OK) {
    int w = winner(&rs);
    *result = MCS_STORE_MISS;
    if (live(&rs, w)) {
      const copy *c = &rs.c[w];
      size_t off = c->hdr.rev ? MCS__MC_HDR_LEN : 0;
      const uint8_t *p =
          c->raw.buf.data ? c->raw.buf.data : (const uint8_t *)"";
      if (value)
        rc = mcs_store_value_set(value, p + off, c->raw.buf.len - off);
      *cas = token_of(c->hdr.rev);
      *flags = c->flags;
      *result = MCS_STORE_HIT;
    }
    if (w >= 0 && rc == MCS_OK)
      repair(&rs, w, touch_ttl ? touch_ttl : ttl_of(&rs.c[w]));
  }
  rs_free(&rs);
  return rc;
}

typedef enum wmode { W_ADD, W_CAS, W_SET, W_DEL } wmode;

typedef struct wreq {
  wmode mode;
  const void *data;
  size_t len;
  uint32_t flags, ttl;
  uint64_t token; /* W_CAS */
} wreq;

/* After read_all: true when the operation ends here with *res (add of a
 * live key, cas of a changed or gone key, delete of a gone key). */
static bool decided(const rset *rs, int w, const wreq *q,
                    mcs_store_result *res) {
  bool is_live = live(rs, w);
  switch (q->mode) {
  case W_ADD:
    *res = MCS_STORE_EXISTS;
    return is_live;
  case W_CAS:
    *res = !is_live ? MCS_STORE_MISS : MCS_STORE_EXISTS;
    return !is_live || token_of(rs->c[w].hdr.rev) != q->token;
  case W_DEL:
    *res = MCS_STORE_MISS;
    return !is_live;
  case W_SET:
    break;
  }
  return false;
}

/* A tombstone must outlive every copy it replaces (see the top). */
static uint32_t tombstone_ttl(const rset *rs) {
  uint32_t ttl = 1;
  for (size_t i = 0; i < rs->n; i++) {
    const copy *c = &rs->c[i];
    if (c->rc != MCS_OK || !c->present)
      continue;
    if (c->ttl < 0)
      return 0;
    if (ttl_of(c) > ttl)
      ttl = ttl_of(c);
  }
  return ttl;
}

/* Header + payload of the new revision into body; fills *x. */
static int build(const rset *rs, const wreq *q, uint64_t rev, mcs__buf *body,
                 wr *x) {
  uint8_t hdr[MCS__MC_HDR_LEN];
  bool tomb = q->mode == W_DEL;
  mcs__mc_hdr_put(hdr, tomb, rev);
  mcs__buf_reset(body);
  int rc = mcs__buf_append(body, hdr, sizeof hdr);
  if (!rc && !tomb)
    rc = mcs__buf_append(body, q->data, q->len);
  *x = (wr){body->data,
            body->len,
            q->flags,
            tomb ? tombstone_ttl(rs) : q->ttl,
            {tomb, rev}};
  return rc;
}

/* One attempt: read the set, write the authority, then the others.
 * *res is EXISTS when the authority refused (someone wrote first). */
static int write_once(rset *rs, const wreq *q, mcs__buf *body,
                      mcs_store_result *res, uint64_t *new_token) {
  int rc = read_all(rs, 0);
  if (rc)
    return rc;
  int w = winner(rs);
  if (decided(rs, w, q, res))
    return MCS_OK;
  size_t a = authority(rs);
  uint64_t rev = (w >= 0 ? rs->c[w].hdr.rev : 0) + (a == 0 ? 1 : 2);
  wr x;
  if ((rc = build(rs, q, rev, body, &x)) != 0)
    return rc;
  mcs__mc_op op;
  make_write(rs, a, &x, &op);
  mcs__mc_exec(rs->st, &op, 1);
  if (op.rc)
    return op.rc;
  *res = MCS_STORE_EXISTS;
  if (op.resp.status != MCS__MC_HD)
    return MCS_OK;
  note_written(&rs->c[a], &x, op.resp.cas);
  bool stale[COPIES_MAX];
  for (size_t i = 0; i < rs->n; i++)
    stale[i] = i != a;
  push(rs, stale, &x, q->mode == W_DEL);
  *res = q->mode == W_DEL ? MCS_STORE_DELETED : MCS_STORE_STORED;
  *new_token = token_of(rev);
  return MCS_OK;
}

static int write_through(mcs__mc_store *st, const char *key, size_t key_len,
                         const wreq *q, mcs_store_result *res,
                         uint64_t *new_token) {
  if (!mcs__mc_item_fits(key_len, q->len + MCS__MC_HDR_LEN))
    return MCS_ETOOBIG; /* before anything is sent: see mc_int.h */
  if (!mcs__store_key_valid(key, key_len) || (!q->data && q->len))
    return MCS_EINVAL;
  mcs__buf body = MCS__BUF_INIT;
  int rc = MCS_ECONFLICT;
  uint64_t tok = 0;
  for (int i = 0; i < WRITE_ATTEMPTS && rc == MCS_ECONFLICT; i++) {
    rset rs;
    rs_init(&rs, st, key, key_len, 0);
    rc = write_once(&rs, q, &body, res, &tok);
    rs_free(&rs);
    /* add and cas report a lost race; set and delete try again. */
    if (rc == MCS_OK && *res == MCS_STORE_EXISTS &&
        (q->mode == W_SET || q->mode == W_DEL))
      rc = MCS_ECONFLICT;
  }
  mcs__buf_free(&body);
  if (rc == MCS_OK && new_token && tok)
    *new_token = tok;
  return rc;
}

int mcs__mc_r_add(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl, uint64_t *cas,
                  mcs_store_result *result) {
  wreq q = {W_ADD, data, len, flags, ttl, 0};
  return write_through(ud, key, key_len, &q, result, cas);
}

int mcs__mc_r_cas(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl, uint64_t cas,
                  uint64_t *new_cas, mcs_store_result *result) {
  wreq q = {W_CAS, data, len, flags, ttl, cas};
  return write_through(ud, key, key_len, &q, result, new_cas);
}

int mcs__mc_r_set(void *ud, const char *key, size_t key_len, const void *data,
                  size_t len, uint32_t flags, uint32_t ttl,
                  mcs_store_result *result) {
  wreq q = {W_SET, data, len, flags, ttl, 0};
  return write_through(ud, key, key_len, &q, result, NULL);
}

int mcs__mc_r_del(void *ud, const char *key, size_t key_len,
                  mcs_store_result *result) {
  wreq q = {W_DEL, NULL, 0, 0, 0, 0};
  return write_through(ud, key, key_len, &q, result, NULL);
}

/* Sets the expiry of the newest copies (`mg <key> T<ttl>`, which keeps
 * each server's CAS) after reading the set; older copies are repaired. A
 * tombstone is never touched: shortening it could let a stalled
 * server's deleted value outlive it. */
int mcs__mc_r_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                    mcs_store_result *result) {
  rset rs;
  rs_init(&rs, ud, key, key_len, 0);
  int rc = read_all(&rs, 0);
  int w = rc ? -1 : winner(&rs);
  *result = MCS_STORE_MISS;
  if (live(&rs, w)) {
    mcs__mc_op ops[COPIES_MAX];
    size_t k = 0;
    for (size_t i = 0; i < rs.n; i++) {
      const copy *c = &rs.c[i];
      if (c->rc != MCS_OK || !c->present || c->hdr.rev != rs.c[w].hdr.rev)
        continue;
      ops[k].server = rs.server[i];
      ops[k].req = req_for(&rs, MCS__MC_TOUCH);
      ops[k].req.ttl = mcs__mc_wire_ttl(ttl);
      ops[k++].value = NULL;
    }
    mcs__mc_exec(rs.st, ops, k);
    for (size_t j = 0; j < k; j++)
      if (ops[j].rc == MCS_OK && ops[j].resp.status == MCS__MC_HD)
        *result = MCS_STORE_TOUCHED;
    repair(&rs, w, ttl);
  }
  rs_free(&rs);
  return rc;
}
