/* libFuzzer target for the native record decoder (src/codec/codec_json.c), which
 * reads bytes from the store and must treat them as hostile.
 *
 * Input: the raw bytes of a stored record. They are copied into a buffer of
 * exactly `size` bytes (libFuzzer's own buffer already is), so
 * AddressSanitizer reports any read past the end.
 *
 * Invariants checked:
 *   - decode returns MCS_OK, MCS_ECORRUPT, MCS_ETOOBIG or MCS_ENOMEM, and
 *     MCS_ETOOBIG exactly when the input is over the size limit;
 *   - after a failure the record is empty (no data, not retired);
 *   - after success the record holds data (a JSON object, every value well
 *     formed within the depth limit; a bound user id valid, its generation
 *     0 without one); a retired snapshot (positive until) has no user;
 *   - every {"$bytes": ...} value accepted is canonical base64: decoding
 *     it and encoding the bytes again gives back the same text (so no two
 *     spellings of a value are accepted, and nothing outside the alphabet
 *     is silently mapped onto it);
 *   - a decoded record encodes again (MCS_ETOOBIG is allowed: the encoder
 *     may spell numbers longer than the input did, "1e9" becoming
 *     "1000000000.0"), and what it encodes to decodes to an equal record
 *     (json_equal on the data, same created / rev / user / retired_until);
 *   - encoding is a fixed point from there: the second encoding is byte
 *     for byte the first.
 *
 * Built by the CMake build with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt),
 * linked with the static library; `make fuzz` runs it longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "session/session_int.h"
#include "fuzz_check.h"

/* Small enough that the size limit is reached within libFuzzer's default
 * input sizes; the envelope slack (codec_json.c's ENVELOPE_SLACK: the
 * fixed members and room for a bound user id) comes on top. */
static const mcs__limits limits = {2048, MCS_JSON_DEPTH_MAX};
#define SLACK (128 + 2 * MCS_USER_ID_MAX + 32)

/* Every tagged bytes value in `v` must be canonical base64. */
static void check_bytes_canonical(const json_t *v) {
  mcs_type t = mcs__value_type(v);
  if (t == MCS_TYPE_BYTES) {
    const json_t *m = json_object_get(v, MCS__TAG_BYTES);
    const char *text = json_string_value(m);
    size_t n = json_string_length(m), len = 0;
    uint8_t *bin = malloc(n / 4 * 3 + 1);
    char *again = malloc(n + 1);
    CHECK(bin && again);
    CHECK(mcs__b64_decode(text, n, bin, n / 4 * 3 + 1, &len) == MCS_OK);
    CHECK(mcs__b64_len(len) == n);
    CHECK(mcs__b64_encode(bin, len, again) == n);
    CHECK(memcmp(again, text, n) == 0);
    free(bin);
    free(again);
  } else if (t == MCS_TYPE_LIST) {
    for (size_t i = 0; i < json_array_size(v); i++)
      check_bytes_canonical(json_array_get(v, i));
  } else if (t == MCS_TYPE_MAP) {
    const char *k;
    json_t *member;
    json_object_foreach((json_t *)(uintptr_t)v, k, member)
      check_bytes_canonical(member);
  }
}

static void check_decoded(const mcs__record *rec) {
  CHECK(rec->retired_until >= 0);
  CHECK(!rec->retired_until || !rec->user);
  CHECK(json_is_object(rec->data));
  CHECK(!rec->user || mcs__user_id_valid(rec->user));
  CHECK(rec->user || rec->user_gen == 0);
  /* Member by member: the data object is a map of session keys, never a
   * tagged value itself (a session may have a key named "$bytes"). */
  const char *k;
  json_t *member;
  json_object_foreach(rec->data, k, member) {
    CHECK(mcs__key_valid(k));
    CHECK(mcs__value_check(member, limits.max_depth) == MCS_OK);
    check_bytes_canonical(member);
  }
}

static void check_equal(const mcs__record *a, const mcs__record *b) {
  CHECK(a->retired_until == b->retired_until);
  CHECK(a->created == b->created && a->rev == b->rev);
  CHECK(json_equal(a->data, b->data));
  CHECK((a->user == NULL) == (b->user == NULL));
  CHECK(!a->user || (strcmp(a->user, b->user) == 0 &&
                     a->user_gen == b->user_gen));
}

/* Encodes `rec`, decodes the result, checks the two agree, and checks the
 * re-encoding is byte for byte the same. */
static void check_round_trip(const mcs__record *rec) {
  mcs__buf out = MCS__BUF_INIT, again = MCS__BUF_INIT;
  int rc = mcs__codec_json.encode(rec, &limits, &out);
  if (rc == MCS_ETOOBIG || rc == MCS_ENOMEM) {
    mcs__buf_free(&out);
    return;
  }
  CHECK(rc == MCS_OK);
  CHECK(out.len <= limits.max_bytes + SLACK);
  mcs__record back;
  rc = mcs__codec_json.decode(out.data, out.len, &limits, &back);
  if (rc == MCS_ENOMEM) {
    mcs__buf_free(&out);
    return;
  }
  CHECK(rc == MCS_OK);
  check_decoded(&back);
  check_equal(rec, &back);
  rc = mcs__codec_json.encode(&back, &limits, &again);
  CHECK(rc == MCS_OK || rc == MCS_ENOMEM);
  if (rc == MCS_OK)
    CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
  mcs__record_clear(&back);
  mcs__buf_free(&again);
  mcs__buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mcs__record rec;
  memset(&rec, 0xa5, sizeof rec); /* decode must set every field */
  int rc = mcs__codec_json.decode(data, size, &limits, &rec);
  CHECK(rc == MCS_OK || rc == MCS_ECORRUPT || rc == MCS_ETOOBIG ||
        rc == MCS_ENOMEM);
  CHECK((rc == MCS_ETOOBIG) == (size > limits.max_bytes + SLACK));
  if (rc != MCS_OK) {
    CHECK(rec.data == NULL && rec.retired_until == 0);
    return 0;
  }
  check_decoded(&rec);
  check_round_trip(&rec);
  mcs__record_clear(&rec);
  return 0;
}
