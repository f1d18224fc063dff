/*
 * Per-user revocation ("log this user out everywhere"; docs/design.md,
 * "Revocation").
 *
 * Each user may have one small record in the store, under
 *
 *     prefix + "u:" + base64url(HMAC-SHA256(store_key_secret,
 *                                           "mcsession user\0" + uid))
 *
 * holding the user's current GENERATION: {"v":1,"g":"<16 hex>","t":<s>}
 * ("t", the revocation time, is for operators only). No record means
 * generation 0. A session bound to a user (mcs_session_set_user) stores
 * the uid and the generation read at that moment; revoking writes a new
 * random generation (one `set`), and a bound session is valid only while
 * its generation is the current one, or while the user has no record.
 *
 * Why a generation and not "bound after the revocation time": comparing
 * the clock of the process that logged the user in with the clock of the
 * one that revoked would let a login a clock skew before a revocation
 * survive it. Equality needs no clock. The price is one store read when a
 * user is bound (at login, which already writes twice).
 *
 * The record is read back only in exactly the shape encode_record writes
 * (no whitespace, these keys in this order, the generation in 16
 * lowercase hex digits and not 0, "t" as %lld prints it, at most
 * RECORD_MAX bytes), by a small parser that allocates nothing
 * (parse_record), not by jansson: the only writer is this file (the
 * library's mcs_manager_revoke_user and mcs_admin_user_revoke, which the
 * mcsession tool calls, both go through mcs__revoke_write), a fixed
 * shape needs no general parser, and jansson 2.14 reports some of its
 * allocation failures as syntax errors. Any change to the bytes written is
 * a new format version.
 *
 * Fails closed: a record that is there but cannot be read (another
 * version, say from a newer library during a rolling upgrade, uppercase
 * hex, generation 0, trailing bytes, too long) is a revocation whose
 * generation nobody here knows: every session bound to that user ends,
 * and binding a session to the user writes a fresh generation first
 * (mcs__revoke_current), which also repairs the record. Treating such a
 * record as "no record" would let whoever (or whatever bug) wrote it
 * undo a revocation without deleting anything. Lack of memory and store
 * errors are neither: they fail the request (MCS_ENOMEM, 503), as when the
 * record cannot be read at all. Each one counts in the stats'
 * revocation_unreadable and is logged, once a minute at most.
 *
 * Why the record may expire, and when (mcs_revocation_ttl). It must
 * outlive every session bound before the revocation, R:
 *   - idle: such a session passes a load only while some process's cache
 *     says its generation is current, so until R + interval at the
 *     latest; each pass slides its record's expiry to idle_timeout, on
 *     memcached's clock as the record's own TTL. So it is gone by
 *     R + interval + idle_timeout (or found revoked and deleted first);
 *   - absolute: whatever its record's TTL (reads slide it to the idle
 *     timeout uncut, `mcsession touch` can set any), every load drops a
 *     session whose created time is absolute_timeout old, and created
 *     <= R: none passes after R + absolute_timeout. That is measured on
 *     the loading process's clock against the creating process's, while
 *     the record's TTL runs on memcached's, so it needs the margin too.
 * Hence min(idle_timeout + interval, absolute_timeout) + TTL_MARGIN.
 * After that, "no record" (generation 0) lets only sessions bound after
 * the revocation through, which is right. It assumes every process
 * sharing the store uses the same or shorter timeouts and interval, and
 * clocks that agree within TTL_MARGIN; with absolute_timeout 0 a session
 * given a longer life with `mcsession touch` may outlive the record.
 *
 * Loads consult the manager's cache (revcache.c) first: a fresh entry
 * that matches costs no round trip. A missing or stale entry, or one that
 * does not match (the session may have been bound, elsewhere, after a
 * revocation this process has not seen yet), costs one `get`, whose answer
 * decides. So a check costs at most one round trip, and a revoked session
 * stays usable in another process for at most revocation_check_interval
 * seconds after the revocation was written.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "session/session_int.h"

#define RECORD_VERSION 1
#define RECORD_MAX 256
#define RECORD_FLAGS 0x5256 /* "RV": tells these records apart */
/* Slack over the lifetimes the record must cover: clocks in whole
 * seconds, requests that were in flight, and (for the absolute timeout,
 * checked against the creating process's clock) clock skew between
 * processes. */
#define TTL_MARGIN 60

/* ---- Users: tags and store keys ----------------------------------------- */


/* HMAC-SHA256 of the uid under the store-key secret, through the
 * manager's keyed state (store_key_hmac: keyed once, with that secret);
 * the label keeps these inputs apart from session ids (which never
 * contain a NUL). */
void mcs__user_mac(const mcs_manager *m, const char *uid,
                   uint8_t mac[MCS__HMAC_BYTES]) {
  static const char label[] = "mcsession user"; /* sizeof: NUL included */
  mcs__hmac_mac2(&m->store_key_hmac, label, sizeof label, uid, strlen(uid),
                 mac);
}

typedef struct user_ref {
  uint8_t mac[crypto_auth_hmacsha256_BYTES]; /* first bytes: cache tag */
} user_ref;

static void user_ref_of(const mcs_manager *m, const char *uid, user_ref *u) {
  mcs__user_mac(m, uid, u->mac);
}

_Static_assert(MCS__USER_TAG_BYTES == crypto_auth_hmacsha256_BYTES,
               "a record's user tag is the user's MAC");

void mcs__revoke_tag(const mcs_manager *m, mcs__record *rec) {
  if (rec->user && !rec->user_tag_set) {
    mcs__user_mac(m, rec->user, rec->user_tag);
    rec->user_tag_set = true;
  }
}

/* The bound user's ref, from the record's tag (worked out if missing). */
static void user_ref_of_record(const mcs_manager *m, mcs__record *rec,
                               user_ref *u) {
  mcs__revoke_tag(m, rec);
  memcpy(u->mac, rec->user_tag, sizeof u->mac);
}

/* The user's record key, built only when the store is asked (a load
 * whose revocation cache answers needs just the MAC). The manager refuses
 * prefixes that could make the key too long. Returns its length. */
size_t mcs__user_key(const mcs_manager *m, const char kind[2],
                     const uint8_t mac[MCS__HMAC_BYTES],
                     char key[MCS_STORE_KEY_MAX + 1]) {
  size_t p = m->key_prefix_len;
  memcpy(key, m->key_prefix, p);
  memcpy(key + p, kind, 2);
  size_t n = p + 2 + mcs__b64url_encode(mac, MCS__HMAC_BYTES, key + p + 2);
  key[n] = '\0';
  return n;
}

static size_t user_key(const mcs_manager *m, const user_ref *u,
                       char key[MCS_STORE_KEY_MAX + 1]) {
  return mcs__user_key(m, "u:", u->mac, key);
}

/* ---- Generations -------------------------------------------------------- */



/* ---- Reading a user's record ------------------------------------------ */

typedef struct cursor {
  const uint8_t *p;
  size_t n;
} cursor;

static bool take_lit(cursor *c, const char *lit) {
  size_t k = strlen(lit);
  if (c->n < k || memcmp(c->p, lit, k) != 0)
    return false;
  c->p += k;
  c->n -= k;
  return true;
}

/* 1..max_digits (<= 19) decimal digits as printf writes them: no leading
 * zero except in "0". */
static bool take_uint(cursor *c, size_t max_digits, uint64_t *v) {
  size_t i = 0;
  uint64_t x = 0;
  while (i < c->n && i <= max_digits && c->p[i] >= '0' && c->p[i] <= '9')
    x = x * 10 + (uint64_t)(c->p[i++] - '0');
  if (i == 0 || i > max_digits || (c->p[0] == '0' && i > 1))
    return false;
  c->p += i;
  c->n -= i;
  *v = x;
  return true;
}

/* "t": an int64_t as %lld prints it. */
static bool take_time(cursor *c, int64_t *out) {
  uint64_t t;
  bool neg = take_lit(c, "-");
  if (!take_uint(c, 19, &t) || t > (uint64_t)INT64_MAX + neg || (neg && !t))
    return false;
  /* -t computed in unsigned arithmetic: INT64_MIN has no positive twin. */
  *out = neg ? (int64_t)(0 - t) : (int64_t)t;
  return true;
}

/* The generation and write time in a record of exactly the shape
 * encode_record writes (see the top of this file). NULL, or why the
 * record cannot be read. */
static const char *parse_record(const uint8_t *buf, size_t len, uint64_t *gen,
                                int64_t *written_at) {
  cursor c = {buf, len};
  uint64_t v;
  if (!take_lit(&c, "{\"v\":") || !take_uint(&c, 9, &v))
    return "not a revocation record";
  if (v != RECORD_VERSION)
    return "unknown format version";
  if (!take_lit(&c, ",\"g\":\"") || c.n < MCS__GEN_HEX ||
      !mcs__gen_parse((const char *)c.p, MCS__GEN_HEX, gen))
    return "bad generation";
  c.p += MCS__GEN_HEX;
  c.n -= MCS__GEN_HEX;
  if (!take_lit(&c, "\",\"t\":") || !take_time(&c, written_at) ||
      !take_lit(&c, "}") || c.n != 0)
    return "not of the expected shape";
  return NULL;
}

/* What the store holds for a user. */
typedef struct user_state {
  uint64_t gen;       /* 0: no record */
  int64_t written_at; /* the record's "t" (0: no record) */
  bool unreadable;    /* a record this version cannot read: revoked */
} user_state;

static void set_unreadable(mcs_manager *m, user_state *st, const char *why) {
  st->gen = 0;
  st->written_at = 0;
  st->unreadable = true;
  MCS__STAT_INC(m, revocation_unreadable);
  mcs__log_burst(m, &m->log_unreadable_user, MCS_LOG_WARN,
                 "mcsession: a user's revocation record cannot be read "
                 "(%s): treated as revoked",
                 why);
}

/* Reads the user's record (one `get`, no touch). Lack of memory and
 * store errors are returned: never "no record", never "revoked". */
static int read_user(mcs_manager *m, const user_ref *u, user_state *st) {
  mcs_store_value v = {MCS__BUF_INIT, RECORD_MAX};
  uint64_t cas;
  uint32_t flags;
  mcs_store_result r = MCS_STORE_MISS;
  char key[MCS_STORE_KEY_MAX + 1];
  size_t key_len = user_key(m, u, key);
  MCS__STAT_INC(m, revocation_reads);
  int rc = m->store->ops.get(m->store->ud, key, key_len, 0, &v, &cas, &flags,
                             &r);
  st->gen = 0;
  st->written_at = 0;
  st->unreadable = false;
  if (rc == MCS_ETOOBIG) {
    rc = MCS_OK; /* there, and not one of ours */
    set_unreadable(m, st, "longer than 256 bytes");
  } else if (rc && rc != MCS_ENOMEM) {
    MCS__STAT_INC(m, store_errors);
    mcs__log(m, MCS_LOG_WARN, "mcsession: store error reading a user: %s",
             mcs_strerror(rc));
  } else if (rc == MCS_OK && r == MCS_STORE_HIT) {
    const char *why =
        parse_record(v.buf.data, v.buf.len, &st->gen, &st->written_at);
    if (why)
      set_unreadable(m, st, why);
  }
  mcs__buf_free(&v.buf);
  return rc;
}

/* Reads the user's state from the store and remembers it, as of the time
 * the read began (the answer is at least that new), so the documented
 * bound holds however long the read took. An unreadable record is not
 * remembered, and what was remembered before is dropped: until the record
 * is repaired every check asks the store (each finds the session revoked
 * and deletes it, so this costs one read per bound session). */
static int refresh(mcs_manager *m, const user_ref *u, user_state *st) {
  uint64_t stamp = mcs__revcache_stamp(m->revcache);
  int64_t asked_at = mcs__now(m);
  int rc = read_user(m, u, st);
  if (rc == MCS_OK && st->unreadable)
    mcs__revcache_forget(m->revcache, u->mac, stamp);
  else if (rc == MCS_OK)
    mcs__revcache_put(m->revcache, u->mac, st->gen, asked_at, stamp);
  return rc;
}

static bool current(uint64_t store_gen, uint64_t bound_gen) {
  return store_gen == 0 || store_gen == bound_gen;
}

/* True when the cache alone says the record's binding is still current. */
static bool cached_current(mcs_manager *m, const user_ref *u,
                           const mcs__record *rec) {
  uint64_t gen;
  return mcs__revcache_get(m->revcache, u->mac, mcs__now(m),
                           m->cfg.revocation_check_interval, &gen) &&
         current(gen, rec->user_gen);
}

bool mcs__revoke_known_current(mcs_manager *m, mcs__record *rec) {
  if (!rec->user)
    return true;
  user_ref u;
  user_ref_of_record(m, rec, &u);
  return cached_current(m, &u, rec);
}

int mcs__revoke_check(mcs_manager *m, mcs__record *rec, bool *revoked) {
  *revoked = false;
  if (!rec->user)
    return MCS_OK;
  user_ref u;
  user_state st;
  user_ref_of_record(m, rec, &u);
  if (cached_current(m, &u, rec))
    return MCS_OK;
  int rc = refresh(m, &u, &st);
  if (rc == MCS_OK)
    *revoked = st.unreadable || !current(st.gen, rec->user_gen);
  return rc;
}

int mcs__revoke_check_fresh(mcs_manager *m, mcs__record *rec, bool *revoked) {
  *revoked = false;
  if (!rec->user)
    return MCS_OK;
  user_ref u;
  user_state st;
  user_ref_of_record(m, rec, &u);
  int rc = refresh(m, &u, &st);
  if (rc == MCS_OK)
    *revoked = st.unreadable || !current(st.gen, rec->user_gen);
  return rc;
}

int mcs__revoke_state(mcs_manager *m, const char *uid, uint64_t *gen,
                      int64_t *written_at, bool *unreadable) {
  user_ref u;
  user_state st;
  user_ref_of(m, uid, &u);
  int rc = refresh(m, &u, &st);
  if (rc == MCS_OK) {
    *gen = st.gen;
    *written_at = st.written_at;
    *unreadable = st.unreadable;
  }
  return rc;
}

int mcs__revoke_current(mcs_manager *m, const char *uid, uint64_t *gen) {
  user_ref u;
  user_state st;
  user_ref_of(m, uid, &u);
  int rc = refresh(m, &u, &st);
  if (rc == MCS_OK && st.unreadable)
    /* Nobody knows the current generation: make one (a revocation now,
     * so the sessions bound before stay ended). Two logins racing here
     * each write one; the earlier one's session then ends too: the safe
     * side, and only while a bad record is being replaced. */
    return mcs__revoke_write(m, uid, mcs__revoke_ttl(m), gen);
  if (rc == MCS_OK)
    *gen = st.gen;
  return rc;
}

/* ---- Revoking ----------------------------------------------------------- */

/* The rule and its reasons are at the top of this file. */
uint32_t mcs_revocation_ttl(uint32_t idle_timeout, uint32_t absolute_timeout,
                            uint32_t revocation_check_interval) {
  uint64_t live = (uint64_t)idle_timeout + revocation_check_interval;
  if (absolute_timeout && absolute_timeout < live)
    live = absolute_timeout;
  live += TTL_MARGIN;
  return live > UINT32_MAX ? UINT32_MAX : (uint32_t)live;
}

uint32_t mcs__revoke_ttl(const mcs_manager *m) {
  const mcs_manager_config *c = &m->cfg;
  return mcs_revocation_ttl(c->idle_timeout, c->absolute_timeout,
                            c->revocation_check_interval);
}

/* The record is a fixed shape of hex digits and a number: formatted
 * directly rather than through a JSON builder. */
static int encode_record(uint64_t gen, int64_t now, mcs__buf *out) {
  char hex[MCS__GEN_HEX + 1], text[RECORD_MAX];
  mcs__gen_format(gen, hex);
  int n = snprintf(text, sizeof text, "{\"v\":%d,\"g\":\"%s\",\"t\":%lld}",
                   RECORD_VERSION, hex, (long long)now);
  if (n < 0 || (size_t)n >= sizeof text) /* cannot happen: 55 bytes at most */
    return MCS_EINVAL;
  return mcs__buf_append(out, text, (size_t)n);
}

/* A fresh random generation, never 0 (0 means "no record"). */
static int new_gen(uint64_t *gen) {
  int rc = mcs_random_bytes(gen, sizeof *gen);
  if (rc == MCS_OK && *gen == 0)
    *gen = 1;
  return rc;
}

int mcs__revoke_write(mcs_manager *m, const char *uid, uint32_t ttl,
                      uint64_t *gen_out) {
  if (!m || !mcs__user_id_valid(uid) || ttl == 0 ||
      m->cfg.mode != MCS_MODE_NATIVE)
    return MCS_EINVAL;
  user_ref u;
  uint64_t gen;
  mcs__buf body = MCS__BUF_INIT;
  mcs_store_result r;
  char key[MCS_STORE_KEY_MAX + 1];
  user_ref_of(m, uid, &u);
  size_t key_len = user_key(m, &u, key);
  int rc = new_gen(&gen);
  if (rc == MCS_OK)
    rc = encode_record(gen, mcs__now(m), &body);
  if (rc == MCS_OK)
    rc = m->store->ops.set(m->store->ud, key, key_len, body.data, body.len,
                           RECORD_FLAGS, ttl, &r);
  mcs__buf_free(&body);
  if (rc) {
    if (rc != MCS_ENOMEM && rc != MCS_EIO)
      MCS__STAT_INC(m, store_errors);
    return rc;
  }
  /* Stamped after the write: newer than any read still in flight. */
  mcs__revcache_put(m->revcache, u.mac, gen, mcs__now(m),
                    mcs__revcache_stamp(m->revcache));
  if (gen_out)
    *gen_out = gen;
  return MCS_OK;
}

int mcs_manager_revoke_user(mcs_manager *mgr, const char *uid) {
  return mgr ? mcs__revoke_write(mgr, uid, mcs__revoke_ttl(mgr), NULL)
             : MCS_EINVAL;
}

const char *mcs_session_user(const mcs_session *s) {
  /* A retired snapshot has no user (its record keeps none): whoever
   * presents a regenerated session's old id is nobody. */
  return s && !s->destroyed && !s->retired ? s->rec.user : NULL;
}
