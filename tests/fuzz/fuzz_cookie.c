/* libFuzzer target for the Cookie header parser (and, on what it finds, the
 * Set-Cookie formatter).
 *
 * Input layout: byte 0 gives the length n (0..31) of the cookie name to
 * look up, the next n bytes are that name (cut at its first NUL, as a C
 * string would be), and everything after is the Cookie header. The header
 * ends exactly where libFuzzer's buffer ends, so AddressSanitizer reports
 * any read past `len`.
 *
 * Invariants checked:
 *   - parse and find agree on MCS_ELIMIT, and never return anything else
 *     but MCS_OK / MCS_ENOENT for input within the limits;
 *   - every pair lies inside the header, has a non-empty name without ';',
 *     '=' or surrounding SP/HTAB, and a value without ';';
 *   - find returns exactly the first pair with that name (same pointer);
 *   - a pair the formatter accepts comes back unchanged when its output is
 *     parsed; a pair it refuses leaves an empty output.
 *
 * Built by the CMake build with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt),
 * linked with the static library; `make fuzz` runs it longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcsession.h"
#include "fuzz_check.h"

static int is_wsp(char c) { return c == ' ' || c == '\t'; }

static int contains(const char *p, size_t n, char c) {
  return n && memchr(p, c, n) != NULL;
}

static void check_pair(const mcs_cookie_pair *p, const char *h, size_t len) {
  CHECK(p->name_len > 0);
  CHECK(p->name >= h && p->name_len <= len && p->name <= h + len - p->name_len);
  CHECK(p->value >= h && p->value_len <= len &&
        p->value <= h + len - p->value_len);
  CHECK(!is_wsp(p->name[0]) && !is_wsp(p->name[p->name_len - 1]));
  CHECK(!contains(p->name, p->name_len, ';'));
  CHECK(!contains(p->name, p->name_len, '='));
  CHECK(!contains(p->value, p->value_len, ';'));
}

/* The index of the first pair named `name`, or count if none. */
static size_t first_match(const mcs_cookie_pair *pairs, size_t count,
                          const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < count; i++)
    if (pairs[i].name_len == n && memcmp(pairs[i].name, name, n) == 0)
      return i;
  return count;
}

static void check_find(const char *h, size_t len, const char *name,
                       int parse_rc, const mcs_cookie_pair *pairs,
                       size_t count) {
  const char *v;
  size_t vlen;
  int rc = mcs_cookie_find(h, len, name, &v, &vlen);
  if (parse_rc == MCS_ELIMIT) {
    CHECK(rc == MCS_ELIMIT);
    return;
  }
  size_t i = first_match(pairs, count, name);
  if (i == count) {
    CHECK(rc == MCS_ENOENT && v == NULL && vlen == 0);
    return;
  }
  CHECK(rc == MCS_OK && v == pairs[i].value && vlen == pairs[i].value_len);
}

/* Formats the pair; if accepted, the output must parse back to it. */
static void check_round_trip(const mcs_cookie_pair *p) {
  static char name[MCS_COOKIE_HEADER_MAX + 1];
  static char out[MCS_COOKIE_HEADER_MAX + 512];
  mcs_cookie_attrs attrs;
  size_t out_len, vlen;
  const char *v;
  memcpy(name, p->name, p->name_len);
  name[p->name_len] = '\0';
  mcs_cookie_attrs_init(&attrs);
  attrs.max_age = (int64_t)p->value_len - 100;
  int rc = mcs_cookie_format(name, p->value, p->value_len, &attrs, 1700000000,
                             out, sizeof out, &out_len);
  if (rc != MCS_OK) {
    CHECK(rc == MCS_EINVAL && out[0] == '\0' && out_len == 0);
    return;
  }
  CHECK(out_len == strlen(out));
  for (size_t i = 0; i < out_len; i++)
    CHECK((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] < 0x7f);
  CHECK(mcs_cookie_find(out, out_len, name, &v, &vlen) == MCS_OK);
  CHECK(vlen == p->value_len && memcmp(v, p->value, vlen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mcs_cookie_pair pairs[MCS_COOKIE_COUNT_MAX];
  char name[32];
  size_t count = 0;
  if (size == 0)
    return 0;
  size_t name_len = data[0] % sizeof name;
  if (name_len > size - 1)
    name_len = size - 1;
  memcpy(name, data + 1, name_len);
  name[name_len] = '\0';
  const char *h = (const char *)data + 1 + name_len;
  size_t len = size - 1 - name_len;

  int rc = mcs_cookie_parse(h, len, pairs, MCS_COOKIE_COUNT_MAX, &count);
  CHECK(rc == MCS_OK || rc == MCS_ELIMIT);
  CHECK(rc == MCS_OK || count == 0);
  CHECK(len <= MCS_COOKIE_HEADER_MAX || rc == MCS_ELIMIT);
  for (size_t i = 0; i < count; i++)
    check_pair(&pairs[i], h, len);
  check_find(h, len, name, rc, pairs, count);
  if (count > 0) {
    check_round_trip(&pairs[0]);
    check_round_trip(&pairs[count - 1]);
  }
  return 0;
}
