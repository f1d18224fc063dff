/*
 * The session life cycle (docs/design.md, "Session life cycle"): load
 * (load.c), save (save.c), regenerate (retire.c), destroy (here). This
 * file holds what the others share — reading and decoding a record, an
 * id's store key, a write's TTL and encoding, counting store errors —
 * and a session's end and accessors; it calls none of them. The rules
 * the four keep:
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

/* ---- What loading, saving and retiring share ---------------------------- */

void mcs__session_store_error(mcs_session *s, int rc) {
  MCS__STAT_INC(s->mgr, store_errors);
  mcs__log(s->mgr, MCS_LOG_WARN, "mcsession: store error: %s",
           mcs_strerror(rc));
}

mcs_store_value mcs__record_value(const mcs_manager *m) {
  return (mcs_store_value){MCS__BUF_INIT, m->limits.max_bytes * 2 + 1024};
}

mcs__ident mcs__session_ident(const mcs_session *s) {
  return (mcs__ident){s->id, s->id_len, s->key, s->key_len};
}

mcs__ident mcs__session_old_ident(const mcs_session *s) {
  return (mcs__ident){s->old_id, s->old_id_len, s->old_key, s->old_key_len};
}

/* Opens (sealing.c) and decodes the stored bytes raw[0..len) of `who`'s
 * record into rec. The decoded-record cache is keyed by the stored
 * bytes, so an unchanged sealed record costs neither an open nor a
 * decode. */
static int open_and_decode(mcs_manager *m, mcs__ident who, const uint8_t *raw,
                           size_t len, mcs__record *rec) {
  bool hit = false;
  int rc = mcs__rcache_get(m->rcache, who.key, who.key_len, raw, len, rec, &hit);
  if (rc || hit)
    return rc;
  mcs__buf scratch = MCS__BUF_INIT;
  const uint8_t *plain;
  size_t plain_len;
  rc = mcs__record_open(m, who.id, who.id_len, who.key, who.key_len, raw, len,
                        &scratch, &plain, &plain_len);
  if (rc == MCS_OK)
    rc = m->codec->decode(plain_len ? plain : (const uint8_t *)"", plain_len,
                          &m->limits, rec);
  if (scratch.data)
    sodium_memzero(scratch.data, scratch.cap); /* the session's data */
  mcs__buf_free(&scratch);
  if (rc == MCS_OK) {
    mcs__revoke_tag(m, rec);
    mcs__rcache_put(m->rcache, who.key, who.key_len, raw, len, rec);
  }
  return rc;
}

/* Decodes what a read of `who` answered (rc, r, the value in v).
 * Undecodable records count as gone (and as corrupt), records that do not
 * open as tampered: either way the user gets a fresh session rather than
 * an error page, and the bad record is left for an operator to look at. */
int mcs__session_take_record(mcs_session *s, mcs__ident who, int rc,
                             mcs_store_result r, const mcs_store_value *v,
                             mcs__record *rec, mcs__fetch_result *res) {
  mcs_manager *m = s->mgr;
  bool tampered = false;
  if (rc == MCS_OK && r == MCS_STORE_HIT) {
    const uint8_t *raw = v->buf.data ? v->buf.data : (const uint8_t *)"";
    rc = open_and_decode(m, who, raw, v->buf.len, rec);
    if (rc == MCS_EBADSIG) {
      mcs__record_tampered(m);
      tampered = true;
      r = MCS_STORE_MISS;
      rc = MCS_OK;
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
    mcs__session_store_error(s, rc);
  }
  *res = tampered                                 ? MCS__FETCH_TAMPERED
         : (rc == MCS_OK && r == MCS_STORE_HIT) ? MCS__FETCH_FOUND
                                                : MCS__FETCH_GONE;
  return rc;
}

/* Reads and decodes one record (mcs__session_take_record says how). */
int mcs__session_read_record(mcs_session *s, mcs__ident who,
                             uint32_t touch_ttl, mcs__record *rec,
                             uint64_t *cas, mcs__fetch_result *res) {
  mcs_manager *m = s->mgr;
  mcs_store_value v = mcs__record_value(m);
  uint32_t flags = 0;
  mcs_store_result r = MCS_STORE_MISS;
  int rc = m->store->ops.get(m->store->ud, who.key, who.key_len, touch_ttl, &v,
                             cas, &flags, &r);
  rc = mcs__session_take_record(s, who, rc, r, &v, rec, res);
  mcs__buf_free(&v.buf);
  return rc;
}

int mcs__session_set_key(mcs_session *s) {
  return s->mgr->scheme->store_key(s->mgr, s->id, s->id_len, s->key,
                                   &s->key_len);
}

/* The idle timeout, cut short by the absolute lifetime where that ends
 * sooner. */
uint32_t mcs__session_write_ttl(const mcs_session *s) {
  const mcs_manager_config *c = &s->mgr->cfg;
  int64_t ttl = c->idle_timeout;
  if (c->absolute_timeout) {
    int64_t left = s->rec.created + c->absolute_timeout - mcs__now(s->mgr);
    if (left < ttl)
      ttl = left;
  }
  return ttl < 1 ? 1 : (uint32_t)ttl;
}

int mcs__session_encode(const mcs_session *s, mcs__ident who,
                        const mcs__record *rec, mcs__buf *out) {
  const mcs_manager *m = s->mgr;
  int rc = m->codec->encode(rec, &m->limits, out);
  return rc ? rc : mcs__record_seal(m, who.id, who.id_len, who.key,
                                    who.key_len, out);
}

/* Maps a store call's outcome: errors are counted and passed on. */
int mcs__session_store_rc(mcs_session *s, int rc) {
  if (rc && rc != MCS_ETOOBIG && rc != MCS_ENOMEM && rc != MCS_EINVAL)
    mcs__session_store_error(s, rc);
  return rc;
}

/* ---- The end of a session ----------------------------------------------- */

void mcs_session_free(mcs_session *s) {
  if (!s)
    return;
  mcs__record_clear(&s->rec);
  mcs__changes_clear(&s->changes);
  mcs__free(s->labels);
  mcs__free(s->moved_from);
  if (s->cookies) {
    sodium_memzero(s->cookies, sizeof *s->cookies); /* signed ids */
    mcs__free(s->cookies);
  }
  mcs__free(s);
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
