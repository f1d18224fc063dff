/*
 * Regenerate and the retired snapshot (docs/design.md, "Regenerate and
 * retired snapshots"). Regenerate never hands the new session to the old
 * id: when the new record has been written (save.c), the old record
 * becomes a retired snapshot of its own data — read-only, no user, no
 * cookie, void after forward_ttl — and nothing points from it to the new
 * one, so nothing done through it reaches the new one. Whatever another
 * request wrote to the old record since this one read it is carried into
 * the new record first, so neither write is lost.
 */
#include <string.h>

#include <jansson.h>

#include "session/session_int.h"

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
  if ((rc = mcs__session_encode(s, mcs__session_ident(s), &s->rec, body)) ||
      (rc = mcs__session_store_rc(
           s, m->store->ops.set(m->store->ud, s->key, s->key_len, body->data,
                                body->len, m->codec->flags,
                                mcs__session_write_ttl(s), &r))))
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
  if (rc || (rc = mcs__session_encode(s, mcs__session_old_ident(s), old,
                                      body)) ||
      (rc = mcs__session_store_rc(
           s, st->ops.cas(st->ud, s->old_key, s->old_key_len, body->data,
                          body->len, m->codec->flags, m->cfg.forward_ttl, cas,
                          NULL, &r))))
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
  mcs__fetch_result res;
  uint64_t cas = 0;
  int rc = mcs__session_read_record(s, mcs__session_old_ident(s), 0, &old,
                                    &cas, &res);
  if (rc == MCS_OK && res != MCS__FETCH_FOUND) /* a bad one stays as is */
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
int mcs__retire_old_record(mcs_session *s, mcs__buf *body) {
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

int mcs_session_regenerate(mcs_session *s) {
  if (!s)
    return MCS_EINVAL;
  int rc = mcs__session_writable(s);
  if (rc)
    return rc;
  if (s->stored && !s->regenerated) {
    memcpy(s->old_id, s->id, s->id_len + 1);
    s->old_id_len = s->id_len;
    memcpy(s->old_key, s->key, s->key_len + 1);
    s->old_key_len = s->key_len;
    s->old_cas = s->cas;
    s->regenerated = true;
    s->stored = false;
  }
  rc = s->mgr->scheme->new_id(s->mgr, s->id, &s->id_len);
  if (rc == MCS_OK && s->rec.user)
    s->list_pending = true; /* listed again under its new handle */
  return rc ? rc : mcs__session_set_key(s);
}
