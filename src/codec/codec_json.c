/*
 * The native record format: one JSON document per session.
 *
 *   {"v":1,"c":<created, Unix s>,"r":<revision>,"d":{...session data...}}
 *   {"v":1,"c":…,"r":…,"ui":"<user id>","ug":"<16 hex>","d":{…}}
 *                                           bound to a user (revoke.c)
 *   {"v":1,"ru":<until>,"s":{"c":…,"r":…,"d":{…}}}
 *                                           a retired snapshot left by
 *                                           regenerate (session.c)
 *
 * A retired snapshot keeps its envelope under "s" so that a reader which
 * does not know "ru" (an older release, during a rolling upgrade) finds no
 * "c"/"r"/"d" and refuses the record, rather than taking it for a live
 * session that may be written. It never has a user ("ui"/"ug").
 * (Releases before 0.2 wrote {"v":1,"f":"<store key>","u":<until>}, a
 * forward; such a record is now refused as corrupt, i.e. expired.)
 *
 * Bytes and big integers inside "d" use the tagged one-member objects
 * described in mcsession.h ({"$bytes":"<base64>"}, {"$int":"<digits>"}).
 * Members other than these are ignored, so a newer writer can add some.
 *
 * The decoder treats the stored bytes as hostile: size bounded before
 * parsing, duplicate keys refused, nesting bounded, every tagged value
 * checked; anything else is MCS_ECORRUPT.
 */
#include <string.h>

#include <jansson.h>

#include "codec/codec_int.h"

#define ENVELOPE_VERSION 1
/* Room for the envelope around the data within the size limit: the
 * fixed members, and a user id of MCS_USER_ID_MAX bytes even if every
 * byte needs escaping ('"' and '\\' take two). */
#define ENVELOPE_SLACK (128 + 2 * MCS_USER_ID_MAX + 32)

/* "ui" and "ug" name the user the session is bound to; "ug" only counts
 * with "ui". */
static int decode_user(const json_t *doc, mcs__record *out) {
  json_t *ui = json_object_get(doc, "ui");
  json_t *ug = json_object_get(doc, "ug");
  uint64_t gen = 0;
  if (!ui)
    return MCS_OK;
  if (!json_is_string(ui) || strlen(json_string_value(ui)) !=
                                 json_string_length(ui) ||
      !mcs__user_id_valid(json_string_value(ui)) ||
      (ug && (!json_is_string(ug) ||
              !mcs__gen_parse(json_string_value(ug), json_string_length(ug),
                              &gen))))
    return MCS_ECORRUPT;
  return mcs__record_set_user(out, json_string_value(ui), gen);
}

/* The members of a session's envelope ("c", "r", "d" and the user), at
 * the top level of a live record or under "s" of a retired one. */
static int decode_body(json_t *doc, const mcs__limits *limits,
                       mcs__record *out) {
  if (!json_is_object(doc))
    return MCS_ECORRUPT;
  json_t *c = json_object_get(doc, "c");
  json_t *r = json_object_get(doc, "r");
  json_t *d = json_object_get(doc, "d");
  if (!json_is_integer(c) || json_integer_value(c) < 0 ||
      !json_is_integer(r) || json_integer_value(r) < 0 || !json_is_object(d))
    return MCS_ECORRUPT;
  /* Each value may nest max_depth deep (as mcs_session_set_json allows).
   * The data object is checked member by member, not as a value: a
   * session whose only key is "$bytes" is a session, not a tagged value. */
  const char *k;
  json_t *member;
  json_object_foreach(d, k, member) {
    if (!mcs__key_valid(k))
      return MCS_ECORRUPT;
    int rc = mcs__value_check(member, limits->max_depth);
    if (rc) /* no memory to check a $bytes value is not corruption */
      return rc == MCS_ENOMEM ? rc : MCS_ECORRUPT;
  }
  out->created = json_integer_value(c);
  out->rev = (uint64_t)json_integer_value(r);
  out->data = json_incref(d);
  return decode_user(doc, out);
}

/* A retired snapshot: the body under "s", void after "ru" (positive). */
static int decode_retired(json_t *doc, json_t *until,
                          const mcs__limits *limits, mcs__record *out) {
  json_t *body = json_object_get(doc, "s");
  if (!json_is_integer(until) || json_integer_value(until) <= 0 ||
      !json_is_object(body) || json_object_get(body, "ui"))
    return MCS_ECORRUPT;
  int rc = decode_body(body, limits, out);
  if (rc == MCS_OK)
    out->retired_until = json_integer_value(until);
  return rc;
}

static int decode_envelope(json_t *doc, const mcs__limits *limits,
                           mcs__record *out) {
  if (!json_is_object(doc))
    return MCS_ECORRUPT;
  json_t *v = json_object_get(doc, "v");
  if (!json_is_integer(v) || json_integer_value(v) != ENVELOPE_VERSION)
    return MCS_ECORRUPT;
  json_t *until = json_object_get(doc, "ru");
  if (until)
    return decode_retired(doc, until, limits, out);
  return decode_body(doc, limits, out);
}

static int json_decode(const uint8_t *buf, size_t len,
                       const mcs__limits *limits, mcs__record *out) {
  memset(out, 0, sizeof *out);
  if (len > limits->max_bytes + ENVELOPE_SLACK)
    return MCS_ETOOBIG;
  int rc;
  json_t *doc = mcs__json_load_exact(
      buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &rc);
  if (!doc)
    return rc;
  rc = decode_envelope(doc, limits, out);
  json_decref(doc);
  if (rc)
    mcs__record_clear(out);
  return rc;
}

/* json_dump_callback sink: appends to a buffer, stops past the limit. */
struct sink {
  mcs__buf *out;
  size_t limit;
  int rc;
};

static int sink_write(const char *data, size_t n, void *ud) {
  struct sink *s = ud;
  if (s->out->len + n > s->limit) {
    s->rc = MCS_ETOOBIG;
    return -1;
  }
  if (mcs__buf_append(s->out, data, n)) {
    s->rc = MCS_ENOMEM;
    return -1;
  }
  return 0;
}

/* Generation 0 (the user had no revocation record) is left out. */
static int set_user(json_t *doc, const mcs__record *rec) {
  int bad = json_object_set_new_nocheck(doc, "ui", json_string(rec->user));
  if (rec->user_gen) {
    char hex[17];
    mcs__gen_format(rec->user_gen, hex);
    bad |= json_object_set_new_nocheck(doc, "ug", json_string(hex));
  }
  return bad;
}

/* Adds the body members to `doc`; nonzero on allocation failure. A
 * retired snapshot's body carries no user. */
static int set_body(json_t *doc, const mcs__record *rec) {
  int bad = json_object_set_new_nocheck(doc, "c", json_integer(rec->created));
  bad |= json_object_set_new_nocheck(doc, "r",
                                     json_integer((json_int_t)rec->rev));
  bad |= json_object_set_nocheck(doc, "d", rec->data);
  if (rec->user && !rec->retired_until)
    bad |= set_user(doc, rec);
  return bad;
}

static json_t *build_envelope(const mcs__record *rec) {
  json_t *doc = json_object();
  if (!doc)
    return NULL;
  int bad = json_object_set_new_nocheck(doc, "v", json_integer(ENVELOPE_VERSION));
  if (rec->retired_until) {
    json_t *body = json_object();
    bad |= !body || set_body(body, rec);
    bad |= json_object_set_new_nocheck(doc, "ru",
                                       json_integer(rec->retired_until));
    bad |= json_object_set_new_nocheck(doc, "s", body);
  } else {
    bad |= set_body(doc, rec);
  }
  if (bad) {
    json_decref(doc);
    return NULL;
  }
  return doc;
}

static int json_encode(const mcs__record *rec, const mcs__limits *limits,
                       mcs__buf *out) {
  if (!json_is_object(rec->data))
    return MCS_EINVAL;
  json_t *doc = build_envelope(rec);
  if (!doc)
    return MCS_ENOMEM;
  mcs__buf_reset(out);
  struct sink s = {out, limits->max_bytes + ENVELOPE_SLACK, MCS_OK};
  int rc = json_dump_callback(doc, sink_write, &s, JSON_COMPACT);
  json_decref(doc);
  if (rc != 0)
    return s.rc ? s.rc : MCS_ENOMEM;
  return MCS_OK;
}

const mcs__codec mcs__codec_json = {
    .name = "json",
    .flags = 0x4a53, /* "JS": tells our records apart in a shared store */
    .keeps_record = true,
    .decode = json_decode,
    .encode = json_encode,
};

