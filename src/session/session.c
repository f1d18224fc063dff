/*
 * The session life cycle (DESIGN section 3): load, save, regenerate,
 * destroy. The rules this file keeps:
 *
 *   - A store error is reported, never turned into an empty session that a
 *     later save would write over real data.
 *   - EXPIRED and FORGED sessions get a fresh id; a presented id is never
 *     reused for new data.
 *   - save writes nothing when nothing changed, creates with add, updates
 *     with compare-and-swap and, on conflict, replays this request's change
 *     log on a fresh read (changes.c) — bounded by max_cas_retries.
 *   - A record that disappeared while the request ran stays gone (EGONE).
 *   - Regenerate never hands the new session to the old id: the old record
 *     becomes a retired snapshot of its own data (read-only, no user, no
 *     cookie, void after forward_ttl); nothing points from it to the new
 *     one, and nothing done through it reaches the new one.
 */
#include <string.h>

#include <jansson.h>

#include "session/session_int.h"
#include "session/session_int.h"

/* A new session retries add with a fresh id this many times. */
#define MAX_ID_COLLISIONS 3

/* ---- Reading records ---------------------------------------------------- */

typedef enum fetch_result { FETCH_FOUND, FETCH_GONE } fetch_result;

static void count_store_error(mcs_session *s, int rc) {
  MCS__STAT_INC(s->mgr, store_errors);
  mcs__log(s->mgr, MCS_LOG_WARN, "mcsession: store error: %s",
           mcs_strerror(rc));
}

mcs_store_value mcs__record_value(const mcs_manager *m) {
  return (mcs_store_value){MCS__BUF_INIT, m->limits.max_bytes * 2 + 1024};
}

/* Decodes what a read of `key` answered (rc, r, the value in v). Undecodable
 * records count as gone (and as corrupt): the user gets a fresh session
 * rather than an error page, and the bad record is left for an operator to
 * look at. */
static int take_record(mcs_session *s, const char *key, size_t key_len,
                       int rc, mcs_store_result r, const mcs_store_value *v,
                       mcs__record *rec, fetch_result *res) {
  mcs_manager *m = s->mgr;
  if (rc == MCS_OK && r == MCS_STORE_HIT) {
    const uint8_t *raw = v->buf.data ? v->buf.data : (const uint8_t *)"";
    bool hit = false;
    rc = mcs__rcache_get(m->rcache, key, key_len, raw, v->buf.len, rec, &hit);
    if (rc == MCS_OK && !hit) {
      rc = m->codec->decode(raw, v->buf.len, &m->limits, rec);
      if (rc == MCS_OK) {
        mcs__revoke_tag(m, rec);
        mcs__rcache_put(m->rcache, key, key_len, raw, v->buf.len, rec);
      }
    }
    if (rc == MCS_ECORRUPT || rc == MCS_ETOOBIG) {
      MCS__STAT_INC(m, corrupt);
      mcs__log(m, MCS_LOG_WARN, "mcsession: undecodable record (%s)",
               mcs_strerror(rc));
      r = MCS_STORE_MISS;
      rc = MCS_OK;
    }
  } else if (rc == MCS_ETOOBIG) {
    MCS__STAT_INC(m, corrupt);
    r = MCS_STORE_MISS;
    rc = MCS_OK;
  } else if (rc) {
    count_store_error(s, rc);
  }
  *res = (rc == MCS_OK && r == MCS_STORE_HIT) ? FETCH_FOUND : FETCH_GONE;
  return rc;
}

/* Reads and decodes one record (take_record says how). */
static int read_record(mcs_session *s, const char *key, size_t key_len,
                       uint32_t touch_ttl, mcs__record *rec, uint64_t *cas,
                       fetch_result *res) {
  mcs_manager *m = s->mgr;
  mcs_store_value v = mcs__record_value(m);
  uint32_t flags = 0;
  mcs_store_result r = MCS_STORE_MISS;
  int rc = m->store->ops.get(m->store->ud, key, key_len, touch_ttl, &v, cas,
                             &flags, &r);
  rc = take_record(s, key, key_len, rc, r, &v, rec, res);
  mcs__buf_free(&v.buf);
  return rc;
}

/* Reads the record under s->key, sliding its idle expiry. */
static int fetch(mcs_session *s, mcs__record *rec, uint64_t *cas,
                 fetch_result *res) {
  return read_record(s, s->key, s->key_len, s->mgr->cfg.idle_timeout, rec,
                     cas, res);
}

/* ---- Loading ------------------------------------------------------------ */

static int set_key_for_id(mcs_session *s) {
  return s->mgr->scheme->store_key(s->mgr, s->id, s->id_len, s->key,
                                   &s->key_len);
}

/* Turns `s` into a fresh, empty, unsaved session with a new id. */
static int make_fresh(mcs_session *s, mcs_outcome outcome) {
  mcs_manager *m = s->mgr;
  mcs__record_clear(&s->rec);
  s->outcome = outcome;
  s->stored = s->retired = false;
  s->cas = 0;
  s->rec.created = mcs__now(m);
  s->rec.data = json_object();
  if (!s->rec.data)
    return MCS_ENOMEM;
  int rc = m->scheme->new_id(m, s->id, &s->id_len);
  return rc ? rc : set_key_for_id(s);
}

static bool past_absolute_lifetime(const mcs_session *s) {
  uint32_t limit = s->mgr->cfg.absolute_timeout;
  return limit && mcs__now(s->mgr) - s->rec.created >= (int64_t)limit;
}

/* Ends a record found past its absolute lifetime; best effort, since the
 * session is over for this request whatever the store says. */
static void drop_record(mcs_session *s) {
  mcs_store_result r;
  mcs_store *st = s->mgr->store;
  (void)st->ops.del(st->ud, s->key, s->key_len, &r);
}

/* A session whose user was revoked after it was bound (revoke.c) ends
 * like one past its lifetime. */
static int check_revoked(mcs_session *s, fetch_result *res) {
  bool revoked = false;
  int rc = mcs__revoke_check(s->mgr, &s->rec, &revoked);
  if (rc == MCS_OK && revoked) {
    MCS__STAT_INC(s->mgr, revoked);
    drop_record(s);
    *res = FETCH_GONE;
  }
  return rc;
}

/* A retired snapshot (see mcs_session_regenerate) within its grace loads
 * read-only; after it, it is dropped like an expired record. The load's
 * read slid the record's expiry; it is put back (best effort), since the
 * grace is fixed when the snapshot is written. The grace is capped at
 * forward_ttl from now whatever the record says. */
static void settle_retired(mcs_session *s, fetch_result *res) {
  mcs_manager *m = s->mgr;
  int64_t now = mcs__now(m);
  int64_t left = s->rec.retired_until - now;
  if (left > (int64_t)m->cfg.forward_ttl)
    left = m->cfg.forward_ttl;
  if (left <= 0) {
    drop_record(s);
    *res = FETCH_GONE;
    return;
  }
  mcs_store_result r;
  (void)m->store->ops.touch(m->store->ud, s->key, s->key_len, (uint32_t)left,
                            &r);
  s->retired = true;
}

/* True when what a load found needs more store operations to settle: a
 * retired snapshot's expiry to put back, a record past its lifetime to
 * drop, a user binding the revocation cache cannot vouch for. */
static bool settling_needs_io(mcs_session *s) {
  return s->rec.retired_until || past_absolute_lifetime(s) ||
         !mcs__revoke_known_current(s->mgr, &s->rec);
}

int mcs__load_settle(mcs_session *s, int found, bool allow_io) {
  mcs_manager *m = s->mgr;
  fetch_result res = found ? FETCH_FOUND : FETCH_GONE;
  int rc = MCS_OK;
  if (res == FETCH_FOUND && !allow_io) {
    if (settling_needs_io(s))
      return MCS__NEED_IO; /* nothing done yet: the caller retries */
  } else if (res == FETCH_FOUND && s->rec.retired_until) {
    settle_retired(s, &res); /* no user: nothing to check for revocation */
  } else if (res == FETCH_FOUND) {
    if (past_absolute_lifetime(s)) {
      drop_record(s);
      res = FETCH_GONE;
    }
    if (res == FETCH_FOUND && (rc = check_revoked(s, &res)))
      return rc;
  }
  if (res == FETCH_GONE) {
    MCS__STAT_INC(m, expired);
    return make_fresh(s, MCS_SESSION_EXPIRED);
  }
  if (s->retired) {
    MCS__STAT_INC(m, retired);
    s->outcome = MCS_SESSION_RETIRED;
  } else {
    MCS__STAT_INC(m, loaded);
    s->outcome = MCS_SESSION_LOADED;
  }
  s->stored = true;
  return MCS_OK;
}

int mcs__load_take(mcs_session *s, int rc, mcs_store_result r,
                   const mcs_store_value *v, uint64_t cas, bool allow_io,
                   int *found) {
  fetch_result res;
  s->cas = cas;
  rc = take_record(s, s->key, s->key_len, rc, r, v, &s->rec, &res);
  *found = res == FETCH_FOUND;
  return rc ? rc : mcs__load_settle(s, *found, allow_io);
}

int mcs__load_read(mcs_session *s) {
  fetch_result res;
  int rc = read_record(s, s->key, s->key_len, s->mgr->cfg.idle_timeout,
                       &s->rec, &s->cas, &res);
  return rc ? rc : mcs__load_settle(s, res == FETCH_FOUND, true);
}

/* Parses the Cookie header into s (see mcs__load_begin). */
static int begin_into(mcs_session *s, const char *header, size_t len,
                      bool *need_read) {
  mcs_manager *m = s->mgr;
  *need_read = false;
  if (!header || len == 0)
    return make_fresh(s, MCS_SESSION_NEW);
  mcs__idcache_entry known;
  known.key_len = 0;
  int rc = m->scheme->read_id(m, header, len, s->presented_id,
                              &s->presented_len, &s->signed_at, &known);
  if (rc == MCS_ENOENT)
    return make_fresh(s, MCS_SESSION_NEW);
  if (rc == MCS_EBADSIG) {
    MCS__STAT_INC(m, forged);
    s->presented_len = 0;
    return make_fresh(s, MCS_SESSION_FORGED);
  }
  if (rc)
    return rc;
  memcpy(s->id, s->presented_id, s->presented_len + 1);
  s->id_len = s->presented_len;
  if (known.key_len) { /* the scheme knew them: a cookie seen before */
    memcpy(s->key, known.key, known.key_len + 1);
    s->key_len = known.key_len;
    memcpy(s->presented_csrf_mac, known.csrf_mac, sizeof known.csrf_mac);
    s->presented_csrf_known = true;
  } else if ((rc = set_key_for_id(s))) {
    return rc;
  }
  sodium_memzero(&known, sizeof known);
  *need_read = true;
  return MCS_OK;
}

int mcs__load_begin(mcs_manager *mgr, const char *header, size_t len,
                    mcs_session **out, bool *need_read) {
  *out = NULL;
  *need_read = false;
  if (!mgr || (!header && len))
    return MCS_EINVAL;
  mcs_session *s = mcs__calloc(1, sizeof *s);
  if (!s)
    return MCS_ENOMEM;
  s->mgr = mgr;
  int rc = begin_into(s, header, len, need_read);
  if (rc) {
    mcs_session_free(s);
    return rc;
  }
  *out = s;
  return MCS_OK;
}

int mcs_session_load(mcs_manager *mgr, const char *cookie_header,
                     size_t header_len, mcs_session **out) {
  if (!out)
    return MCS_EINVAL;
  bool need_read;
  int rc = mcs__load_begin(mgr, cookie_header, header_len, out, &need_read);
  if (rc == MCS_OK && need_read && (rc = mcs__load_read(*out)) != MCS_OK) {
    mcs_session_free(*out);
    *out = NULL;
  }
  return rc;
}

void mcs_session_free(mcs_session *s) {
  if (!s)
    return;
  mcs__record_clear(&s->rec);
  mcs__changes_clear(&s->changes);
  if (s->cookies) {
    sodium_memzero(s->cookies, sizeof *s->cookies); /* signed ids */
    mcs__free(s->cookies);
  }
  mcs__free(s);
}

static void forget_cookies(mcs_session *s) {
  if (s->cookies)
    s->cookies->count = 0;
}

/* ---- Writing ------------------------------------------------------------ */

/* The idle timeout, cut short by the absolute lifetime where that ends
 * sooner. */
static uint32_t write_ttl(const mcs_session *s) {
  const mcs_manager_config *c = &s->mgr->cfg;
  int64_t ttl = c->idle_timeout;
  if (c->absolute_timeout) {
    int64_t left = s->rec.created + c->absolute_timeout - mcs__now(s->mgr);
    if (left < ttl)
      ttl = left;
  }
  return ttl < 1 ? 1 : (uint32_t)ttl;
}

static int encode(const mcs_session *s, const mcs__record *rec,
                  mcs__buf *out) {
  return s->mgr->codec->encode(rec, &s->mgr->limits, out);
}

static int prepare_cookie(mcs_session *s, bool expire) {
  mcs_manager *m = s->mgr;
  if (!s->cookies && !(s->cookies = mcs__calloc(1, sizeof *s->cookies)))
    return MCS_ENOMEM;
  return m->scheme->cookies(m, expire ? NULL : s->id, s->id_len, s->cookies);
}

/* Maps a store call's outcome: errors are counted and passed on. */
static int store_rc(mcs_session *s, int rc) {
  if (rc && rc != MCS_ETOOBIG && rc != MCS_ENOMEM && rc != MCS_EINVAL)
    count_store_error(s, rc);
  return rc;
}

/* The next load will read exactly the bytes just written: spare it the
 * decode — where the codec keeps every field of the record, so the cache
 * holds exactly what decoding those bytes would give. */
static void seed_cache(mcs_session *s, const mcs__buf *body) {
  mcs_manager *m = s->mgr;
  if (m->codec->keeps_record) {
    mcs__revoke_tag(m, &s->rec);
    mcs__rcache_put(m->rcache, s->key, s->key_len, body->data, body->len,
                    &s->rec);
  }
}

/* What one add of a new session's record answered: MCS_OK when it was
 * stored, or *retry with a new id ready when the id was taken (which 256
 * random bits make a theoretical case), or an error. */
static int after_add(mcs_session *s, int rc, mcs_store_result r, uint64_t cas,
                     const mcs__buf *body, bool *retry) {
  *retry = false;
  if (rc)
    return store_rc(s, rc);
  if (r == MCS_STORE_STORED) {
    s->cas = cas;
    s->stored = true;
    seed_cache(s, body);
    MCS__STAT_INC(s->mgr, created);
    return MCS_OK;
  }
  *retry = true;
  if ((rc = s->mgr->scheme->new_id(s->mgr, s->id, &s->id_len)))
    return rc;
  return set_key_for_id(s);
}

/* Creates the record of a new session with add, under a fresh id as long
 * as ids turn out taken (a few times at most). */
static int create_record(mcs_session *s, const mcs__buf *body) {
  mcs_manager *m = s->mgr;
  mcs_store *st = m->store;
  for (int attempt = 0; attempt < MAX_ID_COLLISIONS; attempt++) {
    mcs_store_result r = MCS_STORE_EXISTS;
    uint64_t cas = 0;
    bool retry;
    int rc = st->ops.add(st->ud, s->key, s->key_len, body->data, body->len,
                         m->codec->flags, write_ttl(s), &cas, &r);
    if ((rc = after_add(s, rc, r, cas, body, &retry)) || !retry)
      return rc;
  }
  return MCS_ECONFLICT;
}

/* Re-reads the record after a CAS conflict and replays this request's
 * changes on top. MCS_EGONE if it disappeared meanwhile. */
static int refresh_and_replay(mcs_session *s) {
  mcs__record fresh = {0};
  fetch_result res;
  uint64_t cas = 0;
  int rc = fetch(s, &fresh, &cas, &res);
  if (rc)
    return rc;
  if (res == FETCH_GONE)
    return MCS_EGONE;
  if (fresh.retired_until) { /* regenerated by another request meanwhile */
    mcs__record_clear(&fresh);
    return MCS_ERETIRED;
  }
  rc = mcs__changes_apply(&s->changes, fresh.data);
  if (rc == MCS_ETYPE || rc == MCS_ERANGE)
    rc = MCS_ECONFLICT; /* a concurrent write made our increment moot */
  if (rc == MCS_OK && s->user_pending) /* our binding wins, like a set */
    rc = mcs__record_set_user(&fresh, s->rec.user, s->rec.user_gen);
  if (rc) {
    mcs__record_clear(&fresh);
    return rc;
  }
  mcs__record_clear(&s->rec);
  s->rec = fresh;
  s->cas = cas;
  return MCS_OK;
}

/* What one compare-and-swap of the record answered: MCS_OK when stored,
 * *retry on a conflict (the record changed since we read it), MCS_EGONE
 * when it disappeared, or an error. */
static int after_cas(mcs_session *s, int rc, mcs_store_result r, uint64_t cas,
                     const mcs__buf *body, bool *retry) {
  *retry = false;
  if (rc)
    return store_rc(s, rc);
  if (r == MCS_STORE_STORED) {
    s->cas = cas;
    seed_cache(s, body);
    return MCS_OK;
  }
  if (r == MCS_STORE_MISS)
    return MCS_EGONE;
  *retry = true;
  return MCS_OK;
}

/* Writes an existing record with compare-and-swap, replaying the change
 * log on a fresh read after each conflict. `first` is the attempt to
 * start at: 1 when attempt 0 already ran (and conflicted) elsewhere. */
static int update_record(mcs_session *s, mcs__buf *body, unsigned first) {
  mcs_manager *m = s->mgr;
  mcs_store *st = m->store;
  for (unsigned attempt = first; attempt <= m->cfg.max_cas_retries;
       attempt++) {
    int rc = MCS_OK;
    if (attempt > 0 || s->cas == 0) {
      if (attempt > 0)
        MCS__STAT_INC(m, cas_retries);
      if ((rc = refresh_and_replay(s)))
        return rc;
    }
    s->rec.rev++;
    if ((rc = encode(s, &s->rec, body)))
      return rc;
    mcs_store_result r = MCS_STORE_EXISTS;
    uint64_t cas = 0;
    bool retry;
    rc = st->ops.cas(st->ud, s->key, s->key_len, body->data, body->len,
                     m->codec->flags, write_ttl(s), s->cas, &cas, &r);
    if ((rc = after_cas(s, rc, r, cas, body, &retry)) || !retry)
      return rc;
  }
  return MCS_ECONFLICT;
}

/* Another request wrote the old record after this one read it: replays
 * this request's changes on that record's data (`old`, just read) and
 * rewrites the new record with the result, so neither write is lost. */
static int merge_old_into_new(mcs_session *s, mcs__buf *body,
                              const mcs__record *old) {
  mcs_manager *m = s->mgr;
  /* A copy: `old` stays as it was, to become the retired snapshot. */
  json_t *merged = json_deep_copy(old->data);
  if (!merged)
    return MCS_ENOMEM;
  int rc = mcs__changes_apply(&s->changes, merged);
  if (rc == MCS_OK && !s->user_pending)
    rc = mcs__record_set_user(&s->rec, old->user, old->user_gen);
  if (rc) {
    json_decref(merged);
    return rc == MCS_ETYPE || rc == MCS_ERANGE ? MCS_ECONFLICT : rc;
  }
  json_decref(s->rec.data);
  s->rec.data = merged;
  s->rec.rev = old->rev > s->rec.rev ? old->rev + 1 : s->rec.rev + 1;
  mcs_store_result r;
  if ((rc = encode(s, &s->rec, body)) ||
      (rc = store_rc(s, m->store->ops.set(m->store->ud, s->key, s->key_len,
                                           body->data, body->len,
                                           m->codec->flags, write_ttl(s),
                                           &r))))
    return rc;
  s->cas = 0; /* set returns no token: the next save reads first */
  return MCS_OK;
}

/* Writes `old` (the old record as just read, CAS token `cas`) back as a
 * retired snapshot of itself: same data, no user, void after forward_ttl.
 * Sets *stored when the compare-and-swap took. */
static int write_retired(mcs_session *s, mcs__buf *body, mcs__record *old,
                         uint64_t cas, bool *stored) {
  mcs_manager *m = s->mgr;
  mcs_store *st = m->store;
  mcs_store_result r = MCS_STORE_EXISTS;
  int rc = mcs__record_set_user(old, NULL, 0);
  old->retired_until = mcs__now(m) + m->cfg.forward_ttl;
  if (rc || (rc = encode(s, old, body)) ||
      (rc = store_rc(s, st->ops.cas(st->ud, s->old_key, s->old_key_len,
                                     body->data, body->len, m->codec->flags,
                                     m->cfg.forward_ttl, cas, NULL, &r))))
    return rc;
  *stored = r == MCS_STORE_STORED;
  return r == MCS_STORE_MISS ? MCS_EGONE : MCS_OK;
}

/* One attempt at retiring the old record (s->old_key): reads it, carries
 * into the new record whatever another request wrote to it since this one
 * read it, and compare-and-swaps it into a retired snapshot of its own
 * data. *done when the old record is retired (by us or, if another
 * regenerate of the same session won, by that one: both new records stay
 * valid, each request keeps its own). */
static int retire_attempt(mcs_session *s, mcs__buf *body, bool *done) {
  mcs__record old = {0};
  fetch_result res;
  uint64_t cas = 0;
  int rc = read_record(s, s->old_key, s->old_key_len, 0, &old, &cas, &res);
  if (rc == MCS_OK && res == FETCH_GONE)
    rc = MCS_EGONE;
  else if (rc == MCS_OK && old.retired_until)
    *done = true;
  else if (rc == MCS_OK && cas != s->old_cas &&
           (rc = merge_old_into_new(s, body, &old)) == MCS_OK)
    s->old_cas = cas;
  if (rc == MCS_OK && !*done)
    rc = write_retired(s, body, &old, cas, done);
  mcs__record_clear(&old);
  return rc;
}

/* Retires the old record, retrying while other requests write it. */
static int retire_old_record(mcs_session *s, mcs__buf *body) {
  for (unsigned attempt = 0; attempt <= s->mgr->cfg.max_cas_retries;
       attempt++) {
    bool done = false;
    int rc = retire_attempt(s, body, &done);
    if (rc || done)
      return rc;
    MCS__STAT_INC(s->mgr, cas_retries);
  }
  return MCS_ECONFLICT;
}

/* Deletes what the session had in the store; a record already gone is
 * fine. */
static int delete_key(mcs_session *s, const char *key, size_t len) {
  mcs_store_result r;
  mcs_store *st = s->mgr->store;
  return store_rc(s, st->ops.del(st->ud, key, len, &r));
}

static int save_destroyed(mcs_session *s) {
  int rc = MCS_OK;
  if (s->stored)
    rc = delete_key(s, s->key, s->key_len);
  if (rc == MCS_OK && s->regenerated)
    rc = delete_key(s, s->old_key, s->old_key_len);
  if (rc)
    return rc;
  s->stored = s->regenerated = false;
  return prepare_cookie(s, true);
}

/* A new session: stored only if it holds data; its cookie is sent when it
 * was stored, or when a CSRF token names it. */
static int save_new(mcs_session *s, mcs__buf *body) {
  if (json_object_size(s->rec.data) == 0 && !s->rec.user) {
    MCS__STAT_INC(s->mgr, writes_skipped);
    return s->csrf_issued ? prepare_cookie(s, false) : MCS_OK;
  }
  s->rec.rev = 1;
  int rc = encode(s, &s->rec, body);
  if (rc || (rc = create_record(s, body)))
    return rc;
  return prepare_cookie(s, false);
}

/* Writes the new record, prepares its cookie, then retires the old record
 * — the last step, so that a failure before it (no memory for the cookie,
 * say) leaves the old session as it was and the user logged in. */
static int save_regenerated(mcs_session *s, mcs__buf *body) {
  s->rec.rev++;
  int rc = encode(s, &s->rec, body);
  if (rc || (rc = create_record(s, body)))
    return rc;
  if ((rc = prepare_cookie(s, false)) == MCS_OK)
    rc = retire_old_record(s, body);
  if (rc) {
    /* Its cookie is not sent (mcs__save_finish): the new record must not
     * outlive the request, nor, when the old one ended meanwhile
     * (MCS_EGONE, a logout), the old one. */
    (void)delete_key(s, s->key, s->key_len);
    s->stored = false;
    return rc;
  }
  s->regenerated = false;
  return MCS_OK;
}

/* A loaded session whose cookie signature is past half its allowed age
 * gets a freshly signed cookie (no store traffic). */
static int refresh_cookie_if_old(mcs_session *s) {
  if (s->retired || s->signed_at == 0)
    return MCS_OK;
  if (mcs__now(s->mgr) - s->signed_at <= (int64_t)s->mgr->signature_max_age / 2)
    return MCS_OK;
  return prepare_cookie(s, false);
}

static int save_existing(mcs_session *s, mcs__buf *body) {
  if (s->changes.len == 0 && !s->user_pending) {
    MCS__STAT_INC(s->mgr, writes_skipped);
    return refresh_cookie_if_old(s);
  }
  int rc = update_record(s, body, 0);
  return rc ? rc : refresh_cookie_if_old(s);
}

int mcs__save_finish(mcs_session *s, int rc) {
  if (rc) {
    forget_cookies(s);
    return rc;
  }
  mcs__changes_clear(&s->changes);
  s->user_pending = false;
  MCS__STAT_INC(s->mgr, saves);
  return MCS_OK;
}

int mcs_session_save(mcs_session *s) {
  if (!s)
    return MCS_EINVAL;
  if (s->retired && mcs_session_dirty(s))
    return MCS_ERETIRED; /* cannot happen through the API; kept as a wall */
  forget_cookies(s);
  mcs__buf body = MCS__BUF_INIT;
  int rc = mcs__save_slow(s, &body);
  mcs__buf_free(&body);
  return mcs__save_finish(s, rc);
}

/* ---- Saving in steps (session_async.c) ----------------------------------
 * The common saves need one write: an add for a new session with data, a
 * compare-and-swap for a changed one. save_begin prepares it; after the
 * store answered, save_written finishes; anything else (conflicts, id
 * collisions, destroy, regenerate, a session never read) is left to
 * mcs__save_slow, the blocking code above. */

int mcs__save_begin(mcs_session *s, mcs__buf *body, mcs_store_op *op) {
  forget_cookies(s);
  op->kind = 0;
  if (s->retired && mcs_session_dirty(s))
    return MCS_ERETIRED;
  if (s->destroyed || s->regenerated || (s->stored && s->cas == 0))
    return MCS__NEED_IO;
  int rc;
  if (!s->stored) {
    if (json_object_size(s->rec.data) == 0 && !s->rec.user)
      return save_new(s, body); /* stores nothing */
    s->rec.rev = 1;
    op->kind = MCS_STORE_OP_ADD;
  } else {
    if (s->changes.len == 0 && !s->user_pending)
      return save_existing(s, body); /* writes nothing */
    s->rec.rev++;
    op->kind = MCS_STORE_OP_CAS;
    op->cas = s->cas;
  }
  if ((rc = encode(s, &s->rec, body))) {
    op->kind = 0;
    return rc;
  }
  op->key = s->key;
  op->key_len = s->key_len;
  op->data = body->data;
  op->len = body->len;
  op->flags = s->mgr->codec->flags;
  op->ttl = write_ttl(s);
  return MCS_OK;
}

int mcs__save_written(mcs_session *s, mcs__buf *body, const mcs_store_op *op) {
  bool retry;
  int rc;
  if (op->kind == MCS_STORE_OP_ADD) {
    rc = after_add(s, op->rc, op->result, op->out_cas, body, &retry);
    if (rc == MCS_OK && retry)
      rc = create_record(s, body);
    return rc ? rc : prepare_cookie(s, false);
  }
  rc = after_cas(s, op->rc, op->result, op->out_cas, body, &retry);
  if (rc == MCS_OK && retry) /* blocking: the caller runs us off-loop */
    rc = update_record(s, body, 1);
  return rc ? rc : refresh_cookie_if_old(s);
}

bool mcs__save_written_needs_io(const mcs_store_op *op) {
  return op->rc == MCS_OK && op->result == MCS_STORE_EXISTS;
}

int mcs__save_slow(mcs_session *s, mcs__buf *body) {
  if (s->destroyed)
    return save_destroyed(s);
  if (s->regenerated)
    return save_regenerated(s, body);
  return s->stored ? save_existing(s, body) : save_new(s, body);
}

/* ---- Identity ----------------------------------------------------------- */

int mcs_session_regenerate(mcs_session *s) {
  if (!s)
    return MCS_EINVAL;
  int rc = mcs__session_writable(s);
  if (rc)
    return rc;
  if (s->stored && !s->regenerated) {
    memcpy(s->old_key, s->key, s->key_len + 1);
    s->old_key_len = s->key_len;
    s->old_cas = s->cas;
    s->regenerated = true;
    s->stored = false;
  }
  rc = s->mgr->scheme->new_id(s->mgr, s->id, &s->id_len);
  return rc ? rc : set_key_for_id(s);
}

int mcs_session_destroy(mcs_session *s) {
  if (!s)
    return MCS_EINVAL;
  if (s->retired)
    return MCS_ERETIRED;
  s->destroyed = true;
  mcs__changes_clear(&s->changes);
  json_object_clear(s->rec.data);
  return MCS_OK;
}

/* ---- Accessors ---------------------------------------------------------- */

mcs_outcome mcs_session_outcome(const mcs_session *s) {
  return s ? s->outcome : MCS_SESSION_NEW;
}

const char *mcs_outcome_name(mcs_outcome outcome) {
  switch (outcome) {
  case MCS_SESSION_NEW:
    return "NEW";
  case MCS_SESSION_LOADED:
    return "LOADED";
  case MCS_SESSION_EXPIRED:
    return "EXPIRED";
  case MCS_SESSION_FORGED:
    return "FORGED";
  case MCS_SESSION_RETIRED:
    return "RETIRED";
  }
  return "UNKNOWN";
}

int64_t mcs_session_created(const mcs_session *s) {
  return s ? s->rec.created : 0;
}

int mcs_session_dirty(const mcs_session *s) {
  return s && (s->changes.len > 0 || s->destroyed || s->regenerated ||
               s->user_pending);
}

size_t mcs_session_cookie_count(const mcs_session *s) {
  return s && s->cookies ? s->cookies->count : 0;
}

const char *mcs_session_cookie(const mcs_session *s, size_t i) {
  return (s && s->cookies && i < s->cookies->count) ? s->cookies->value[i]
                                                    : NULL;
}
