/*
 * The codec wing: what a session is made of and how it becomes bytes in a
 * store and back. The value model (value.c: tagged values, checks, UTF-8,
 * json_loadb that tells lack of memory from bad input, with json_check.c),
 * the decoded record (record.c), the native JSON envelope (codec_json.c),
 * tornado mode's pickles (codec_tornado.c over pickle/).
 *
 * Decoders treat their input as hostile: anything malformed is
 * MCS_ECORRUPT, above the limits MCS_ETOOBIG, never a crash.
 *
 * May use: util, jansson. Knows nothing of stores, cookies or managers:
 * limits come in as arguments. (docs/design.md, "Wings")
 */
#ifndef MCS_CODEC_INT_H
#define MCS_CODEC_INT_H

#include <jansson.h>

#include "util/util_int.h"

/* ---- The value model (value.c) ----
 * Session data is a jansson object. Two value types JSON lacks are held as
 * one-member objects: {"$bytes": "<base64>"} and {"$int": "<digits>"}. */
#define MCS__TAG_BYTES "$bytes"
#define MCS__TAG_BIGINT "$int"

mcs_type mcs__value_type(const json_t *v);
/* New tagged value; NULL on allocation failure. */
json_t *mcs__bytes_new(const void *data, size_t len);
/* The bytes of a {"$bytes": ...} value into *out (OWNED, mcs__free):
 * MCS_OK, MCS_ETYPE (not such a value), MCS_ECORRUPT, MCS_ENOMEM. */
int mcs__bytes_decode(const json_t *v, void **out, size_t *out_len);
/* Walks a value: depth within max_depth, tagged forms well formed, no NaN.
 * MCS_OK, MCS_EINVAL, or MCS_ENOMEM (checking a $bytes value allocates). */
int mcs__value_check(const json_t *v, unsigned max_depth);
/* a + b without overflow: MCS_OK or MCS_ERANGE. */
int mcs__int_add_checked(int64_t a, int64_t b, int64_t *sum);
/* A session key: 1..MCS_KEY_MAX bytes of valid UTF-8. */
bool mcs__key_valid(const char *key);
/* json_loadb, with lack of memory told apart from bad input. On NULL, *rc
 * is MCS_ENOMEM or MCS_ECORRUPT and *code (may be NULL) jansson's error
 * code. */
json_t *mcs__json_loadb(const void *buf, size_t len, size_t flags, int *rc,
                        enum json_error_code *code);
/* mcs__json_loadb for a document read back from a store, which this
 * library wrote with JSON_COMPACT: the result is exactly what the text
 * holds, or NULL with *rc MCS_ENOMEM or MCS_ECORRUPT, never a value jansson
 * cut short for lack of memory (value.c says how). Text in another form
 * costs a second parse. */
json_t *mcs__json_load_exact(const void *buf, size_t len, size_t flags,
                             int *rc);
/* True when jansson 2.14's json_loadb, with these flags (JSON_DECODE_ANY,
 * JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES; others: false), must parse the
 * text or fail only for a duplicate key or a number out of range. Never
 * allocates (json_check.c). */
bool mcs__json_valid(const void *buf, size_t len, size_t flags);

/* ---- Records (record.c) ---- */

/* A decoded store record. `data` is a JSON object in the value model. */
#define MCS__USER_TAG_BYTES 32 /* crypto_auth_hmacsha256_BYTES */

typedef struct mcs__record {
  struct json_t *data; /* owned reference, never NULL after decode */
  int64_t created;     /* Unix seconds; 0 if the format has none */
  uint64_t rev;        /* revision, incremented on each write */
  /* Nonzero: a retired snapshot left by a regenerate (session/), void
   * after this Unix time. Its data is the session's data from before the
   * regenerate; it has no user. */
  int64_t retired_until;
  char *user;        /* user the session is bound to, or NULL */
  uint64_t user_gen; /* that user's generation when it was bound */
  /* HMAC of `user` under the manager's store-key secret (session/revoke.c),
   * worked out once per decoded record and kept with it in the
   * decoded-record cache: a load whose record that cache holds needs no
   * HMAC for it. */
  bool user_tag_set;
  uint8_t user_tag[MCS__USER_TAG_BYTES];
} mcs__record;

void mcs__record_clear(mcs__record *rec);
/* Replaces rec's binding with (a copy of) uid and gen; uid NULL unbinds. */
int mcs__record_set_user(mcs__record *rec, const char *uid, uint64_t gen);
/* A user id: 1..MCS_USER_ID_MAX bytes of UTF-8 without control bytes. */
bool mcs__user_id_valid(const char *uid);
/* s[0..n): UTF-8 without control bytes (C0 and DEL). */
bool mcs__text_valid(const char *s, size_t n);
/* A generation as 16 lowercase hex digits / back (0 is refused). */
#define MCS__GEN_HEX 16
void mcs__gen_format(uint64_t gen, char out[MCS__GEN_HEX + 1]);
bool mcs__gen_parse(const char *s, size_t n, uint64_t *gen);

/* ---- Codecs ---- */
typedef struct mcs__limits {
  size_t max_bytes;   /* encoded size */
  unsigned max_depth; /* nesting */
} mcs__limits;

/* How records become bytes and back. decode treats its input as hostile:
 * MCS_ECORRUPT for anything malformed, MCS_ETOOBIG above limits, never a
 * crash; on error `out` is left empty. encode gives MCS_ETOOBIG above
 * limits->max_bytes. */
typedef struct mcs__codec {
  const char *name;
  uint32_t flags; /* client flags stored with the record */
  /* decode(encode(rec)) gives back every field of rec (created, rev,
   * user): only then may a save seed the decoded-record cache. */
  bool keeps_record;
  int (*decode)(const uint8_t *buf, size_t len, const mcs__limits *limits,
                mcs__record *out);
  int (*encode)(const mcs__record *rec, const mcs__limits *limits,
                mcs__buf *out);
} mcs__codec;

extern const mcs__codec mcs__codec_json;    /* codec_json.c */
extern const mcs__codec mcs__codec_tornado; /* codec_tornado.c (pickle) */

/* ---- A user's list of sessions (ulist.c) ---- */
/* The largest encoded list (64 entries of the longest members, escaped). */
#define MCS__ULIST_BYTES (160 * 1024)
typedef struct mcs__ulist_entry {
  char handle[MCS_SESSION_HANDLE_LEN + 1];
  char key[MCS_STORE_KEY_MAX + 1]; /* the session's record */
  int64_t created, seen;
  uint64_t gen; /* the user's generation when bound (0: none) */
  size_t label_count;
  char labels[MCS_SESSION_LABELS_MAX][MCS_SESSION_LABEL_MAX + 1];
} mcs__ulist_entry;
typedef struct mcs__ulist {
  size_t count; /* oldest first */
  mcs__ulist_entry e[MCS_USER_SESSIONS_MAX];
} mcs__ulist;
/* Decodes a list (replacing *out): MCS_OK, MCS_ECORRUPT (not exactly
 * what mcs__ulist_encode writes, or over a limit), MCS_ENOMEM. */
int mcs__ulist_decode(const void *buf, size_t len, mcs__ulist *out);
/* Encodes *l into out (replaced): MCS_OK, MCS_ENOMEM. */
int mcs__ulist_encode(const mcs__ulist *l, mcs__buf *out);
/* A handle's shape: MCS_SESSION_HANDLE_LEN base64url characters. */
bool mcs__ulist_handle_valid(const char *s);
/* A label: up to MCS_SESSION_LABEL_MAX bytes of UTF-8, no control bytes. */
bool mcs__ulist_label_valid(const char *s, size_t n);

#endif /* MCS_CODEC_INT_H */
