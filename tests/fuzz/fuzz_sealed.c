/* libFuzzer target for the sealed-record opener (src/crypto/seal.c), which
 * reads bytes from the store and must treat them as hostile, and for the
 * native decoder behind it (src/codec/codec_json.c).
 *
 * Input: the raw bytes of a stored record, in a buffer of exactly `size`
 * bytes (libFuzzer's own), so AddressSanitizer reports any read past the
 * end. The first byte also picks a position to alter in the second half.
 *
 * Invariants checked:
 *   - opening returns MCS_OK, MCS_EBADSIG or MCS_ENOMEM, never anything
 *     else, and never MCS_OK for input shorter than the overhead;
 *   - what opens is decoded like any record (no crash, a known code);
 *   - the input sealed for one id and store key opens to exactly itself,
 *     and no longer opens after any one byte of the sealed record is
 *     changed, nor for another id, nor under another store key.
 *
 * Built by the CMake build with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt),
 * linked with the static library; `make fuzz` runs it longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"
#include "fuzz_check.h"

static const char id[] = "k3Jq0n1pXh3cz9q9aYd0yTfIYtF8c7cR4c2pJ2j8c2A";
static const char key[] = "mcs:zq3YbW1N0aJ6i0bGhXh9Yv0yHqk1x3r4e6a7b8c9d0e";
static const char secret[] = "0123456789abcdef0123456789abcdef";

static mcs__sealer *sealer(void) {
  static mcs__sealer *s;
  if (!s) {
    mcs_keyring *ring = NULL;
    CHECK(mcs_keyring_new(&ring) == MCS_OK);
    CHECK(mcs_keyring_add(ring, 0, secret, sizeof secret - 1) == MCS_OK);
    CHECK(mcs__sealer_new(ring, &s) == MCS_OK);
    mcs_keyring_free(ring);
  }
  return s;
}

static int open_for(const char *ctx, const char *k, const uint8_t *in,
                    size_t len, mcs__buf *out) {
  return mcs__unseal(sealer(), ctx, strlen(ctx), k, strlen(k), in, len, out);
}

/* The input as stored bytes: opened, then decoded when it opens. */
static void open_as_stored(const uint8_t *data, size_t size) {
  mcs__buf out = MCS__BUF_INIT;
  int rc = open_for(id, key, data, size, &out);
  CHECK(rc == MCS_OK || rc == MCS_EBADSIG || rc == MCS_ENOMEM);
  CHECK(rc != MCS_OK || size >= MCS__SEAL_OVERHEAD);
  if (rc == MCS_OK) {
    static const mcs__limits limits = {4096, MCS_JSON_DEPTH_MAX};
    mcs__record rec;
    rc = mcs__codec_json.decode(out.data, out.len, &limits, &rec);
    CHECK(rc == MCS_OK || rc == MCS_ECORRUPT || rc == MCS_ETOOBIG ||
          rc == MCS_ENOMEM);
    mcs__record_clear(&rec);
  }
  mcs__buf_free(&out);
}

/* The input as a plain record: sealed, it opens to itself, and not after
 * a change, for another id or under another key. */
static void seal_round_trip(const uint8_t *data, size_t size) {
  mcs__buf b = MCS__BUF_INIT, out = MCS__BUF_INIT;
  if (mcs__buf_append(&b, data, size) ||
      mcs__seal(sealer(), id, strlen(id), key, strlen(key), &b) != MCS_OK) {
    mcs__buf_free(&b);
    return; /* out of memory */
  }
  CHECK(b.len == size + MCS__SEAL_OVERHEAD);
  CHECK(open_for(id, key, b.data, b.len, &out) == MCS_OK);
  CHECK(out.len == size && (size == 0 || memcmp(out.data, data, size) == 0));
  CHECK(open_for("another id", key, b.data, b.len, &out) == MCS_EBADSIG);
  CHECK(open_for(id, "mcs:another", b.data, b.len, &out) == MCS_EBADSIG);
  size_t at = size ? data[0] * b.len / 256 : 0;
  b.data[at] ^= (uint8_t)(size > 1 ? data[1] | 1 : 1);
  CHECK(open_for(id, key, b.data, b.len, &out) == MCS_EBADSIG);
  CHECK(open_for(id, key, b.data, b.len - 1, &out) == MCS_EBADSIG);
  mcs__buf_free(&b);
  mcs__buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (mcs__sodium_ready() != MCS_OK)
    return 0;
  open_as_stored(data, size);
  if (size <= 4096)
    seal_round_trip(data, size);
  return 0;
}
