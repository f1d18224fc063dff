/*
 * Internal view of a session: its identity, its record and this request's
 * recorded changes. Shared by session.c (life cycle), values.c (typed
 * access), changes.c (the change log) and csrf.c.
 */
#ifndef MCS_SESSION_INTERNAL_H
#define MCS_SESSION_INTERNAL_H

#include <jansson.h>

#include "internal.h"

/* ---- Tagged values (values.c) ----
 * Session data is a jansson object. Two value types JSON lacks are held as
 * one-member objects: {"$bytes": "<base64>"} and {"$int": "<digits>"}. */
#define MCS__TAG_BYTES "$bytes"
#define MCS__TAG_BIGINT "$int"

mcs_type mcs__value_type(const json_t *v);
/* New tagged value; NULL on allocation failure. */
json_t *mcs__bytes_new(const void *data, size_t len);
/* Walks a value: depth within max_depth, tagged forms well formed, no NaN.
 * MCS_OK or MCS_EINVAL. */
int mcs__value_check(const json_t *v, unsigned max_depth);
/* a + b without overflow: MCS_OK or MCS_ERANGE. */
int mcs__int_add_checked(int64_t a, int64_t b, int64_t *sum);
/* Well-formed UTF-8 (RFC 3629), checked without allocating. */
bool mcs__utf8_valid(const char *s, size_t n);
/* A session key: 1..MCS_KEY_MAX bytes of valid UTF-8. */
bool mcs__key_valid(const char *key);

/* ---- Change log (changes.c) ----
 * One entry per key this request touched. Sets and deletes are absolute
 * (re-applied as they are); increments are relative (their summed delta is
 * added to whatever value the store holds when a CAS conflict forces a
 * re-apply). */
typedef enum mcs__change_kind {
  MCS__CHANGE_SET,
  MCS__CHANGE_DELETE,
  MCS__CHANGE_INCR
} mcs__change_kind;

typedef struct mcs__change {
  char *key;
  mcs__change_kind kind;
  json_t *value; /* SET: owned reference */
  int64_t delta; /* INCR */
} mcs__change;

typedef struct mcs__changes {
  mcs__change *items;
  size_t len, cap;
} mcs__changes;

/* Records that `key` now holds `value` (a new reference is taken). */
int mcs__changes_set(mcs__changes *c, const char *key, json_t *value);
int mcs__changes_delete(mcs__changes *c, const char *key);
/* Records an increment; an earlier absolute change of the key absorbs it
 * (the caller passes the key's new value as `now_value`). */
int mcs__changes_incr(mcs__changes *c, const char *key, int64_t delta,
                      json_t *now_value);
/* Applies the log to `data` (a fresher copy of the session's data).
 * MCS_ETYPE when an increment meets a value that is no longer an integer,
 * MCS_ERANGE on overflow, MCS_ENOMEM. */
int mcs__changes_apply(const mcs__changes *c, json_t *data);
void mcs__changes_clear(mcs__changes *c);

/* ---- The session ---- */
struct mcs_session {
  mcs_manager *mgr;
  mcs_outcome outcome;

  char id[MCS__ID_MAX + 1]; /* the id this session goes by */
  size_t id_len;
  char key[MCS_STORE_KEY_MAX + 1]; /* store key of its record */
  size_t key_len;
  /* The id of the validly signed cookie this request presented, if any,
   * even when its record was gone: CSRF tokens bound to it still verify. */
  char presented_id[MCS__ID_MAX + 1];
  size_t presented_len;
  int64_t signed_at; /* timestamp of the presented cookie's signature */

  mcs__record rec;     /* data (always an object), created, rev */
  uint64_t cas;        /* token of the record we read or wrote */
  mcs__changes changes;

  bool stored;      /* a record exists under `key` */
  bool forwarded;   /* loaded through a forward: never send the id */
  bool regenerated; /* regenerate called; old identity below */
  char old_key[MCS_STORE_KEY_MAX + 1];
  size_t old_key_len;
  uint64_t old_cas;
  bool destroyed;
  bool csrf_issued;
  bool user_pending; /* set_user called: rec.user is to be written */

  mcs__cookie_out cookies; /* prepared by save */
};

#endif /* MCS_SESSION_INTERNAL_H */
