/* libFuzzer target for the demo's application/x-www-form-urlencoded parser
 * (examples/demo/form.c).
 *
 * Input layout: byte 0 picks the field to look up (the demo's "name" or
 * "_xsrf", or "a"), byte 1 the output buffer size (1..256), and the rest is
 * the body. The body is copied into a buffer of exactly its size, so
 * AddressSanitizer reports any read past its end (the parser never needs a
 * NUL).
 *
 * Invariants checked:
 *   - the result is one of the four codes; on anything but FORM_OK the
 *     output is an empty string and the length 0;
 *   - on FORM_OK the value fits, is NUL-terminated, holds no NUL and no
 *     byte a strict decoder could not have produced from printable ASCII;
 *   - a larger buffer never changes the answer, only FORM_TOO_LONG;
 *   - the value, percent-encoded again, parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "fuzz_check.h"

static const char *const names[] = {"name", "_xsrf", "a"};

/* Encodes every byte as %XX: the strictest form there is. */
static size_t encode(const char *v, size_t n, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    out[o++] = '%';
    out[o++] = hex[c >> 4];
    out[o++] = hex[c & 15];
  }
  return o;
}

static void check_round_trip(const char *value, size_t len) {
  char body[3 + 3 * 256];
  char again[257];
  size_t again_len;
  memcpy(body, "a=", 2);
  size_t n = 2 + encode(value, len, body + 2);
  CHECK(form_get(body, n, "a", again, sizeof again, &again_len) == FORM_OK);
  CHECK(again_len == len && memcmp(again, value, len) == 0);
}

static void check_result(int rc, const char *out, size_t out_size,
                         size_t out_len) {
  CHECK(rc == FORM_OK || rc == FORM_ABSENT || rc == FORM_MALFORMED ||
        rc == FORM_TOO_LONG);
  if (rc != FORM_OK) {
    CHECK(out[0] == '\0' && out_len == 0);
    return;
  }
  CHECK(out_len < out_size && out[out_len] == '\0');
  CHECK(memchr(out, '\0', out_len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  const char *name = names[data[0] % 3];
  size_t out_size = (size_t)data[1] + 1;
  size_t len = size - 2;
  char *body = malloc(len ? len : 1);
  CHECK(body != NULL);
  memcpy(body, data + 2, len);

  char out[257], big[257 * 3];
  size_t out_len = 99, big_len = 99;
  int rc = form_get(body, len, name, out, out_size, &out_len);
  check_result(rc, out, out_size, out_len);
  int rc_big = form_get(body, len, name, big, sizeof big, &big_len);
  check_result(rc_big, big, sizeof big, big_len);
  if (rc == FORM_TOO_LONG)
    CHECK(rc_big == FORM_OK || rc_big == FORM_TOO_LONG);
  else
    CHECK(rc_big == rc);
  if (rc == FORM_OK) {
    CHECK(big_len == out_len && memcmp(big, out, out_len) == 0);
    check_round_trip(out, out_len);
  }
  free(body);
  return 0;
}
