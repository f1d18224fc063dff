/* libFuzzer target for the demo's user-name check (examples/demo/name.c),
 * which decodes UTF-8 itself.
 *
 * The input is the name, copied into a buffer of exactly its size plus
 * the one byte name_check may write (its NUL), so AddressSanitizer
 * reports any read or write past it.
 *
 * Invariants checked:
 *   - the verdict is one of the five, and every refusal has a sentence;
 *   - what is left is the input with the ASCII spaces at both ends
 *     dropped, NUL-terminated, and checking it again changes nothing;
 *   - an accepted name is not blank and holds no control byte, and the
 *     library takes it as a user id (mcs_user_id_valid, up to its 256
 *     bytes): the demo asks more of a name than the library, never less;
 *   - a name the library's own UTF-8 check accepts is never refused as
 *     "not UTF-8": the two decoders agree on what is well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mcsession.h>

#include "fuzz_check.h"
#include "name.h"

/* The input without its ASCII spaces at both ends, as offset and length. */
static void trimmed(const uint8_t *d, size_t n, size_t *start, size_t *len) {
  size_t s = 0, e = n;
  while (s < e && d[s] == ' ')
    s++;
  while (e > s && d[e - 1] == ' ')
    e--;
  *start = s;
  *len = e - s;
}

static void check_accepted(const char *name, size_t len) {
  CHECK(len > 0);
  for (size_t i = 0; i < len; i++)
    CHECK((unsigned char)name[i] >= 0x20 && (unsigned char)name[i] != 0x7f);
  if (len <= MCS_USER_ID_MAX)
    CHECK(mcs_user_id_valid(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *name = malloc(size + 1);
  CHECK(name != NULL);
  memcpy(name, data, size);
  size_t len = size;
  name_verdict v = name_check(name, &len);
  CHECK(v >= NAME_OK && v <= NAME_BIDI);
  CHECK((v == NAME_OK) == (name_problem(v)[0] == '\0'));

  size_t start, want;
  trimmed(data, size, &start, &want);
  CHECK(len == want && memcmp(name, data + start, len) == 0);
  CHECK(name[len] == '\0');

  size_t again = len;
  CHECK(name_check(name, &again) == v && again == len);

  if (v == NAME_OK)
    check_accepted(name, len);
  /* mcs_user_id_valid reads a C string: only names without a NUL. */
  if (v == NAME_NOT_UTF8 && len > 0 && len <= MCS_USER_ID_MAX &&
      memchr(name, '\0', len) == NULL)
    CHECK(!mcs_user_id_valid(name));
  free(name);
  return 0;
}
