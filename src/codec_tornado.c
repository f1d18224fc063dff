/*
 * Tornado mode's record format: the recipe's pickled dict (pickle_*.c),
 * plus one thing the recipe never needed — the forward a regenerate leaves
 * behind. It is written as an ordinary dict,
 *
 *     {"__mcs_forward__": "<new store key>", "__mcs_until__": <unix s>}
 *
 * so the Python side, should it read one, sees a session without a user
 * (logged out) rather than an error; this side reads exactly that shape
 * back as a forward.
 */
#include <string.h>

#include <jansson.h>

#include "pickle.h"
#include "session.h"

#define FORWARD_KEY "__mcs_forward__"
#define UNTIL_KEY "__mcs_until__"

/* Turns a decoded {"__mcs_forward__", "__mcs_until__"} dict into a
 * forward record; anything else stays data. */
static int lift_forward(mcs__record *rec) {
  json_t *f = json_object_get(rec->data, FORWARD_KEY);
  json_t *u = json_object_get(rec->data, UNTIL_KEY);
  if (json_object_size(rec->data) != 2 || !json_is_string(f) ||
      !json_is_integer(u))
    return MCS_OK;
  if (!mcs__store_key_valid(json_string_value(f), json_string_length(f)))
    return MCS_ECORRUPT;
  char *key = mcs__strndup(json_string_value(f), json_string_length(f));
  if (!key)
    return MCS_ENOMEM;
  rec->forward_until = json_integer_value(u);
  rec->forward = key;
  json_decref(rec->data);
  rec->data = NULL;
  return MCS_OK;
}

static int tornado_decode(const uint8_t *buf, size_t len,
                          const mcs__limits *limits, mcs__record *out) {
  int rc = mcs__pickle_decode(buf, len, limits, out, NULL);
  if (rc == MCS_OK && (rc = lift_forward(out)) != MCS_OK)
    mcs__record_clear(out);
  return rc;
}

static int tornado_encode(const mcs__record *rec, const mcs__limits *limits,
                          mcs__buf *out) {
  if (!rec->forward)
    return mcs__pickle_encode(rec->data, limits, out);
  json_t *fwd = json_pack("{s:s, s:I}", FORWARD_KEY, rec->forward, UNTIL_KEY,
                          (json_int_t)rec->forward_until);
  if (!fwd)
    return MCS_ENOMEM;
  int rc = mcs__pickle_encode(fwd, limits, out);
  json_decref(fwd);
  return rc;
}

const mcs__codec mcs__codec_tornado = {
    .name = "tornado-pickle",
    .flags = 0, /* as the recipe's python-memcached stores bytes */
    .decode = tornado_decode,
    .encode = tornado_encode,
};
