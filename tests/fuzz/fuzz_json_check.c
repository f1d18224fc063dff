/* libFuzzer target for the non-allocating JSON validator (src/codec/json_check.c)
 * that tells jansson's out-of-memory from bad input in mcs__json_loadb.
 *
 * Input: one byte of flags (bit 0 JSON_DECODE_ANY, bit 1 JSON_ALLOW_NUL,
 * bit 2 JSON_REJECT_DUPLICATES), then the text, copied into a buffer of
 * exactly its size so AddressSanitizer sees any read past the end.
 *
 * Invariants checked (no allocation fails here):
 *   - the rule the validator must keep: when it accepts, jansson parses
 *     the text, or fails with a code mcs__json_loadb never sends to the
 *     validator (duplicate key, number out of range). Breaking it would
 *     turn a corrupt session record into MCS_ENOMEM on every request;
 *   - hence mcs__json_loadb never answers MCS_ENOMEM;
 *   - the other direction, which keeps the validator useful rather than
 *     safe: when jansson parses the text, the validator accepts it (so an
 *     allocation failure is not reported as corruption for text jansson
 *     can read). Except for text holding a NUL byte: jansson 2.14 skips
 *     one right after a number or a literal ("[1\0]" parses: stream_unget
 *     puts the NUL back where stream_get reads "nothing buffered"), which
 *     the validator refuses as the grammar does.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t flags = 0;
  if (data[0] & 1)
    flags |= JSON_DECODE_ANY;
  if (data[0] & 2)
    flags |= JSON_ALLOW_NUL;
  if (data[0] & 4)
    flags |= JSON_REJECT_DUPLICATES;
  size_t n = size - 1;
  char *text = malloc(n ? n : 1);
  CHECK(text != NULL);
  memcpy(text, data + 1, n);

  bool valid = mcs__json_valid(text, n, flags);
  json_error_t err;
  json_t *v = json_loadb(text, n, flags, &err);
  enum json_error_code code = json_error_code(&err);
  if (valid)
    CHECK(v != NULL || code == json_error_duplicate_key ||
          code == json_error_numeric_overflow);
  if (v && !memchr(text, '\0', n))
    CHECK(valid);
  json_decref(v);

  int rc;
  v = mcs__json_loadb(text, n, flags, &rc, NULL);
  CHECK(v ? rc == MCS_OK : rc == MCS_ECORRUPT);
  json_decref(v);
  free(text);
  return 0;
}
