/* libFuzzer target for the tornado record decoder (src/codec/pickle/pickle_decode.c):
 * memcached values are pickles anyone with store access can write, so the
 * decoder must survive any bytes.
 *
 * Input: the raw bytes of a stored record (libFuzzer's buffer is exactly
 * `size` bytes, so AddressSanitizer reports any read past the end).
 *
 * Invariants checked:
 *   - decode returns MCS_OK, MCS_ECORRUPT, MCS_ETOOBIG or MCS_ENOMEM, and
 *     MCS_ETOOBIG whenever the input is over the size limit;
 *   - after a failure the record is empty and a reason is given;
 *   - after success the data is a JSON object whose keys are session keys
 *     and whose values pass the value model's checker within the depth
 *     limit; a top level that is not a dict gives empty data;
 *   - what decodes also encodes (MCS_ETOOBIG allowed: shared references
 *     are written out in full), the encoding decodes to equal data
 *     (json_equal, and reals bit for bit so -0.0 stays negative), and
 *     encoding that again gives the same bytes;
 *   - the tornado codec (codec_tornado.c) reads the same bytes as the same
 *     plain session unless they end in a retired snapshot's trailer, and
 *     a snapshot it reads encodes back to bytes that read the same.
 *
 * Built by the CMake build with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt),
 * linked with the static library; `make fuzz` runs it longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/pickle/pickle_int.h"
#include "session/session_int.h"
#include "fuzz_check.h"

/* Small, so that the size and expansion limits are reached within
 * libFuzzer's usual input sizes. */
static const mcs__limits limits = {2048, MCS_JSON_DEPTH_MAX};
#define LIMIT (2048 + MCS__PICKLE_SLACK)

/* json_equal, with reals compared bit for bit. */
static int strict_equal(const json_t *a, const json_t *b) {
  if (!json_equal(a, b))
    return 0;
  if (json_is_real(a)) {
    double x = json_real_value(a), y = json_real_value(b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  if (json_is_array(a)) {
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!strict_equal(json_array_get(a, i), json_array_get(b, i)))
        return 0;
  }
  if (json_is_object(a)) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)a, k, v) {
      if (!strict_equal(v, json_object_get(b, k)))
        return 0;
    }
  }
  return 1;
}

static void check_decoded(const mcs__record *rec,
                          const mcs__pickle_info *info) {
  CHECK(json_is_object(rec->data));
  CHECK(rec->created == 0 && rec->rev == 0 && rec->retired_until == 0);
  CHECK(info->reason == NULL);
  if (info->not_a_dict)
    CHECK(json_object_size(rec->data) == 0);
  const char *k;
  json_t *v;
  json_object_foreach(rec->data, k, v) {
    CHECK(mcs__key_valid(k));
    CHECK(mcs__value_check(v, limits.max_depth) == MCS_OK);
  }
}

/* Encodes, decodes, compares; then checks the encoding is a fixed point. */
static void check_round_trip(const json_t *data) {
  mcs__buf out = MCS__BUF_INIT, again = MCS__BUF_INIT;
  int rc = mcs__pickle_encode(data, &limits, &out);
  CHECK(rc == MCS_OK || rc == MCS_ETOOBIG || rc == MCS_ENOMEM);
  if (rc == MCS_OK) {
    CHECK(out.len <= LIMIT);
    mcs__record back;
    mcs__pickle_info info;
    rc = mcs__pickle_decode(out.data, out.len, &limits, &back, &info);
    CHECK(rc == MCS_OK || rc == MCS_ENOMEM);
    if (rc == MCS_OK) {
      CHECK(!info.not_a_dict);
      CHECK(strict_equal(data, back.data));
      rc = mcs__pickle_encode(back.data, &limits, &again);
      CHECK(rc == MCS_OK || rc == MCS_ENOMEM);
      if (rc == MCS_OK)
        CHECK(again.len == out.len &&
              memcmp(again.data, out.data, out.len) == 0);
      mcs__record_clear(&back);
    }
  }
  mcs__buf_free(&again);
  mcs__buf_free(&out);
}

/* The tornado codec on the same input: a plain pickle reads exactly as
 * the pickle decoder read it (no data can pass for a snapshot); a
 * snapshot survives a round trip. */
static void check_tornado_codec(const uint8_t *data, size_t size,
                                int plain_rc, const mcs__record *plain) {
  mcs__record rec;
  int rc = mcs__codec_tornado.decode(data, size, &limits, &rec);
  CHECK(rc == MCS_OK || rc == MCS_ECORRUPT || rc == MCS_ETOOBIG ||
        rc == MCS_ENOMEM);
  if (rc == MCS_ENOMEM || plain_rc == MCS_ENOMEM)
    return;
  if (plain_rc == MCS_OK) { /* a complete pickle never has a trailer */
    CHECK(rc == MCS_OK && rec.retired_until == 0);
    CHECK(strict_equal(plain->data, rec.data));
  }
  if (rc == MCS_OK && rec.retired_until) {
    mcs__buf out = MCS__BUF_INIT;
    mcs__record back;
    rc = mcs__codec_tornado.encode(&rec, &limits, &out);
    if (rc == MCS_OK &&
        mcs__codec_tornado.decode(out.data, out.len, &limits, &back) ==
            MCS_OK) {
      CHECK(back.retired_until == rec.retired_until);
      CHECK(strict_equal(rec.data, back.data));
      mcs__record_clear(&back);
    }
    mcs__buf_free(&out);
  }
  mcs__record_clear(&rec); /* a failed decode left it empty */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mcs__record rec;
  mcs__pickle_info info;
  memset(&rec, 0xa5, sizeof rec); /* decode must set every field */
  int rc = mcs__pickle_decode(data, size, &limits, &rec, &info);
  CHECK(rc == MCS_OK || rc == MCS_ECORRUPT || rc == MCS_ETOOBIG ||
        rc == MCS_ENOMEM);
  if (size > LIMIT)
    CHECK(rc == MCS_ETOOBIG);
  check_tornado_codec(data, size, rc, &rec);
  if (rc != MCS_OK) {
    CHECK(rec.data == NULL && rec.retired_until == 0);
    CHECK(info.reason != NULL && !info.not_a_dict);
    CHECK(info.offset < (long long)size);
    return 0;
  }
  check_decoded(&rec, &info);
  check_round_trip(rec.data);
  mcs__record_clear(&rec);
  return 0;
}
