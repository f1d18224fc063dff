/* libFuzzer target for the decoder of a user's session list
 * (src/codec/ulist.c), which reads what opened from the store: written by
 * this library under the server's key, but by any release, or a bug, so
 * treated as hostile.
 *
 * Input: the plain (opened) bytes of a list, in a buffer of exactly
 * `size` bytes, so AddressSanitizer reports any read past the end.
 *
 * Invariants checked:
 *   - decoding returns MCS_OK, MCS_ECORRUPT or MCS_ENOMEM, never anything
 *     else; on anything but MCS_OK the list is empty;
 *   - a decoded list holds at most MCS_USER_SESSIONS_MAX entries, each
 *     within its bounds (handles valid, labels valid and within count);
 *   - what decodes encodes, and that encoding decodes to a list that
 *     encodes to the same bytes (the writer's format is a fixed point).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_int.h"
#include "fuzz_check.h"

static void check_entries(const mcs__ulist *l) {
  CHECK(l->count <= MCS_USER_SESSIONS_MAX);
  for (size_t i = 0; i < l->count; i++) {
    const mcs__ulist_entry *e = &l->e[i];
    CHECK(mcs__ulist_handle_valid(e->handle));
    CHECK(e->label_count <= MCS_SESSION_LABELS_MAX);
    for (size_t j = 0; j < e->label_count; j++)
      CHECK(mcs__ulist_label_valid(e->labels[j], strlen(e->labels[j])));
    CHECK(strlen(e->key) > 0 && strlen(e->key) <= MCS_STORE_KEY_MAX);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mcs__ulist a, b;
  int rc = mcs__ulist_decode(data, size, &a);
  CHECK(rc == MCS_OK || rc == MCS_ECORRUPT || rc == MCS_ENOMEM);
  if (rc != MCS_OK) {
    CHECK(a.count == 0);
    return 0;
  }
  check_entries(&a);
  mcs__buf one = MCS__BUF_INIT, two = MCS__BUF_INIT;
  if (mcs__ulist_encode(&a, &one) == MCS_OK) {
    rc = mcs__ulist_decode(one.data, one.len, &b);
    CHECK(rc == MCS_OK || rc == MCS_ENOMEM);
    if (rc == MCS_OK && mcs__ulist_encode(&b, &two) == MCS_OK) {
      CHECK(b.count == a.count);
      CHECK(two.len == one.len && memcmp(two.data, one.data, one.len) == 0);
    }
  }
  mcs__buf_free(&one);
  mcs__buf_free(&two);
  return 0;
}
