/*
 * Loading a session (docs/design.md, "Session life cycle"): the Cookie
 * header to an id, the id to its record, the record checked against its
 * lifetimes, its user's revocations and, for a retired snapshot, its
 * grace. A store error is reported, never turned into an empty session
 * that a later save would write over real data; EXPIRED and FORGED
 * sessions get a fresh id (a record that does not open is FORGED too:
 * sealing.c). In steps (mcs__load_*), so that
 * session_async.c runs the same code around a read it does not block on.
 */
#include <string.h>

#include <jansson.h>

#include "session/session_int.h"

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
  return rc ? rc : mcs__session_set_key(s);
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
static int check_revoked(mcs_session *s, mcs__fetch_result *res) {
  bool revoked = false;
  int rc = mcs__revoke_check(s->mgr, &s->rec, &revoked);
  if (rc == MCS_OK && revoked) {
    MCS__STAT_INC(s->mgr, revoked);
    drop_record(s);
    *res = MCS__FETCH_GONE;
  }
  return rc;
}

/* A retired snapshot (see mcs_session_regenerate) within its grace loads
 * read-only; after it, it is dropped like an expired record. The load's
 * read slid the record's expiry; it is put back (best effort), since the
 * grace is fixed when the snapshot is written. The grace is capped at
 * forward_ttl from now whatever the record says. */
static void settle_retired(mcs_session *s, mcs__fetch_result *res) {
  mcs_manager *m = s->mgr;
  int64_t now = mcs__now(m);
  int64_t left = s->rec.retired_until - now;
  if (left > (int64_t)m->cfg.forward_ttl)
    left = m->cfg.forward_ttl;
  if (left <= 0) {
    drop_record(s);
    *res = MCS__FETCH_GONE;
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
         !mcs__revoke_known_current(s->mgr, &s->rec) ||
         mcs__sessions_seen_due(s);
}

/* A record that did not open: the cookie was good, but nothing of that
 * identity is trusted — not its CSRF tokens either. */
static int settle_tampered(mcs_session *s) {
  MCS__STAT_INC(s->mgr, forged);
  s->presented_len = 0;
  s->presented_csrf_known = false;
  return make_fresh(s, MCS_SESSION_FORGED);
}

int mcs__load_settle(mcs_session *s, int found, bool allow_io) {
  mcs_manager *m = s->mgr;
  mcs__fetch_result res = (mcs__fetch_result)found;
  int rc = MCS_OK;
  if (res == MCS__FETCH_TAMPERED)
    return settle_tampered(s);
  if (res == MCS__FETCH_FOUND && !allow_io) {
    if (settling_needs_io(s))
      return MCS__NEED_IO; /* nothing done yet: the caller retries */
  } else if (res == MCS__FETCH_FOUND && s->rec.retired_until) {
    settle_retired(s, &res); /* no user: nothing to check for revocation */
  } else if (res == MCS__FETCH_FOUND) {
    if (past_absolute_lifetime(s)) {
      drop_record(s);
      res = MCS__FETCH_GONE;
    }
    if (res == MCS__FETCH_FOUND && (rc = check_revoked(s, &res)))
      return rc;
    if (res == MCS__FETCH_FOUND)
      mcs__sessions_seen(s); /* at most once per last_seen_interval */
  }
  if (res == MCS__FETCH_GONE) {
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
  mcs__fetch_result res;
  s->cas = cas;
  rc = mcs__session_take_record(s, mcs__session_ident(s), rc, r, v, &s->rec,
                                &res);
  *found = (int)res;
  return rc ? rc : mcs__load_settle(s, *found, allow_io);
}

int mcs__load_read(mcs_session *s) {
  mcs__fetch_result res;
  int rc = mcs__session_read_record(s, mcs__session_ident(s),
                                    s->mgr->cfg.idle_timeout, &s->rec, &s->cas,
                                    &res);
  return rc ? rc : mcs__load_settle(s, (int)res, true);
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
  } else if ((rc = mcs__session_set_key(s))) {
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
