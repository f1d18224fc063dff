/*
 * Tornado mode's record format: the recipe's pickled dict (pickle_*.c),
 * plus one thing the recipe never needed — the retired snapshot a
 * regenerate leaves behind (session.c). That is the session's pickle with
 * a fixed trailer after its STOP opcode:
 *
 *     <pickle of the data> "\0mcsret\1" <until: 8 bytes, big-endian>
 *
 * The mark lives outside the pickled dict, so no value an application
 * stores (whatever its keys or strings) can make a session read as
 * retired: pickle.dumps never writes bytes after STOP, and a pickle the
 * recipe wrote whose last 16 bytes happen to look like a trailer still
 * fails to decode without them (its STOP is its last byte), so it reads
 * as the plain session it is. Python's pickle.loads ignores bytes past
 * STOP, so the recipe's side reads a retired record as the snapshot's
 * dict (the data the old id had anyway).
 */
#include <string.h>

#include "codec/pickle/pickle_int.h"

#define TRAILER_MARK "\0mcsret\1"
#define TRAILER_MARK_LEN 8
#define TRAILER_LEN (TRAILER_MARK_LEN + 8)

static bool has_trailer(const uint8_t *buf, size_t len) {
  return len > TRAILER_LEN &&
         memcmp(buf + len - TRAILER_LEN, TRAILER_MARK, TRAILER_MARK_LEN) == 0;
}

static int64_t trailer_until(const uint8_t *buf, size_t len) {
  const uint8_t *p = buf + len - 8;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v > INT64_MAX ? 0 : (int64_t)v;
}

static int tornado_decode(const uint8_t *buf, size_t len,
                          const mcs__limits *limits, mcs__record *out) {
  if (has_trailer(buf, len)) {
    int64_t until = trailer_until(buf, len);
    int rc = mcs__pickle_decode(buf, len - TRAILER_LEN, limits, out, NULL);
    if (rc == MCS_OK && until > 0) {
      out->retired_until = until;
      return MCS_OK;
    }
    mcs__record_clear(out);
    if (rc == MCS_ENOMEM)
      return rc;
  }
  return mcs__pickle_decode(buf, len, limits, out, NULL);
}

static int tornado_encode(const mcs__record *rec, const mcs__limits *limits,
                          mcs__buf *out) {
  int rc = mcs__pickle_encode(rec->data, limits, out);
  if (rc || !rec->retired_until)
    return rc;
  uint8_t trailer[TRAILER_LEN];
  uint64_t until = (uint64_t)rec->retired_until;
  memcpy(trailer, TRAILER_MARK, TRAILER_MARK_LEN);
  for (int i = 7; i >= 0; i--, until >>= 8)
    trailer[TRAILER_MARK_LEN + i] = (uint8_t)until;
  return mcs__buf_append(out, trailer, sizeof trailer);
}

const mcs__codec mcs__codec_tornado = {
    .name = "tornado-pickle",
    .flags = 0, /* as the recipe's python-memcached stores bytes */
    .decode = tornado_decode,
    .encode = tornado_encode,
};
