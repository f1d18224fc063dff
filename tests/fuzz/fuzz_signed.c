/* libFuzzer target for signed values: mcs_verify, mcs__signed_parse,
 * mcs_signed_inspect and mcs_sign on arbitrary bytes.
 *
 * The first input byte picks a mode; the rest is the payload:
 *   0  payload is a signed value, verified under the name "session";
 *   1  payload is "NAME\nSIGNED": the name comes from the input too;
 *   2  payload is a value: sign it, verify it, expect it back;
 *   3  like 0, with `now` and max-age taken from the payload's first bytes.
 *
 * Invariants (abort on violation):
 *   - mcs_verify returns MCS_OK, MCS_EBADSIG or MCS_ELIMIT, and MCS_EBADSIG
 *     whenever mcs__signed_parse rejects the input;
 *   - mcs_signed_inspect accepts exactly what mcs__signed_parse accepts,
 *     with its fields, and a value that verifies is the value it reads;
 *   - whatever parses and carries valid base64 is canonical: re-signing
 *     its fields reproduces every byte before the signature;
 *   - whatever verifies is reproduced byte for byte by mcs_sign with the
 *     parsed key version and timestamp;
 *   - sign then verify gives back the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"
#include "fuzz_check.h"

#define OUT_MAX MCS_SIGNED_MAX_LEN(MCS_SIGNED_NAME_MAX, MCS_SIGNED_VALUE_MAX)
#define NOW 1700000000

static const char SECRET[] = "fuzzing secret, 32 bytes long...";

/* Versions 0, 1 and 7 under SECRET and two variants of it. Built once and
 * never freed: it lives as long as the fuzzing process. */
static const mcs_keyring *fixed_ring(void) {
  static mcs_keyring *ring;
  static const unsigned versions[] = {0, 1, 7};
  if (ring)
    return ring;
  CHECK(mcs_keyring_new(&ring) == MCS_OK);
  for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
    char secret[sizeof SECRET];
    memcpy(secret, SECRET, sizeof secret);
    secret[0] = (char)('0' + i);
    CHECK(mcs_keyring_add(ring, versions[i], secret, sizeof SECRET - 1) ==
          MCS_OK);
  }
  return ring;
}

/* mcs_sign with a one-key ring of `version` (any version the parser
 * accepts); returns the status, output in out[OUT_MAX]. */
static int sign_with_version(unsigned version, const char *name,
                             const void *value, size_t len, int64_t ts,
                             char *out, size_t *out_len) {
  mcs_keyring *ring = NULL;
  CHECK(mcs_keyring_new(&ring) == MCS_OK);
  CHECK(mcs_keyring_add(ring, version, SECRET, sizeof SECRET - 1) == MCS_OK);
  int rc = mcs_sign(ring, (long)version, name, value, len, ts, out, OUT_MAX,
                    out_len);
  mcs_keyring_free(ring);
  return rc;
}

/* A parsed value whose base64 decodes must be exactly what mcs_sign
 * writes for its fields, up to the signature. */
static void check_canonical(const char *in, const mcs__signed_parts *p) {
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t len = 0;
  if (mcs__b64_decode(p->b64, p->b64_len, value, sizeof value, &len) != MCS_OK)
    return;
  char name[MCS_SIGNED_NAME_MAX + 1];
  memcpy(name, p->name, p->name_len);
  name[p->name_len] = '\0';
  char out[OUT_MAX];
  size_t n = 0;
  CHECK(sign_with_version(p->key_version, name, value, len, p->timestamp,
                          out, &n) == MCS_OK);
  CHECK(n == p->signed_len + 64);
  CHECK(memcmp(out, in, p->signed_len) == 0);
}

/* A verified value must be reproduced byte for byte by signing again. */
static void check_resign(const mcs_keyring *ring, const char *name,
                         const char *in, size_t len,
                         const mcs__signed_parts *p, const uint8_t *value,
                         size_t value_len) {
  char out[OUT_MAX];
  size_t n = 0;
  CHECK(mcs_sign(ring, (long)p->key_version, name, value, value_len,
                 p->timestamp, out, sizeof out, &n) == MCS_OK);
  CHECK(n == len && memcmp(out, in, len) == 0);
}

/* mcs_signed_inspect agrees with the parser (and, when the value
 * verified, with mcs_verify's value). */
static void check_inspect(const char *in, size_t len, int parsed,
                          const mcs__signed_parts *p, int verified,
                          const uint8_t *value, size_t value_len) {
  mcs_signed_info info;
  uint8_t seen[MCS_SIGNED_VALUE_MAX];
  size_t seen_len = 0;
  int rc = mcs_signed_inspect(in, len, &info, seen, sizeof seen, &seen_len);
  CHECK(rc == (parsed == MCS_OK ? MCS_OK : MCS_EBADSIG));
  if (rc != MCS_OK)
    return;
  CHECK(info.key_version == p->key_version && info.timestamp == p->timestamp);
  CHECK(strlen(info.name) == p->name_len &&
        memcmp(info.name, p->name, p->name_len) == 0);
  if (verified == MCS_OK)
    CHECK(seen_len == value_len &&
          (value_len == 0 || memcmp(seen, value, value_len) == 0));
}

static void verify_one(const char *name, const char *in, size_t len,
                       int64_t now, int64_t max_age) {
  const mcs_keyring *ring = fixed_ring();
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t value_len = 0;
  mcs__signed_parts p;
  int parsed = mcs__signed_parse(in, len, &p);
  CHECK(parsed == MCS_OK || parsed == MCS_EBADSIG);
  int rc = mcs_verify(ring, name, in, len, now, max_age, value, sizeof value,
                      &value_len);
  CHECK(rc == MCS_OK || rc == MCS_EBADSIG);
  check_inspect(in, len, parsed, &p, rc, value, value_len);
  if (parsed != MCS_OK) {
    CHECK(rc == MCS_EBADSIG);
    return;
  }
  check_canonical(in, &p);
  if (rc == MCS_OK) {
    CHECK(value_len <= MCS_SIGNED_VALUE_MAX);
    check_resign(ring, name, in, len, &p, value, value_len);
  }
}

/* Mode 1: "NAME\nSIGNED"; a name longer than any valid one is cut, which
 * is fine: it then simply cannot match. */
static void verify_with_input_name(const char *in, size_t len) {
  const char *nl = memchr(in, '\n', len);
  size_t name_len = nl ? (size_t)(nl - in) : 0;
  char name[MCS_SIGNED_NAME_MAX + 2];
  if (name_len > MCS_SIGNED_NAME_MAX + 1)
    name_len = MCS_SIGNED_NAME_MAX + 1;
  memcpy(name, in, name_len);
  name[name_len] = '\0';
  size_t skip = nl ? (size_t)(nl - in) + 1 : 0;
  verify_one(name, in + skip, len - skip, NOW, -1);
}

/* Mode 2: any value up to the limit signs and verifies back. */
static void round_trip(const uint8_t *value, size_t len) {
  const mcs_keyring *ring = fixed_ring();
  char out[OUT_MAX];
  size_t n = 0;
  int rc = mcs_sign(ring, -1, "session", value, len, NOW, out, sizeof out, &n);
  CHECK(rc == (len <= MCS_SIGNED_VALUE_MAX ? MCS_OK : MCS_ELIMIT));
  if (rc != MCS_OK)
    return;
  uint8_t back[MCS_SIGNED_VALUE_MAX];
  size_t back_len = 0;
  CHECK(mcs_verify(ring, "session", out, n, NOW, 0, back, sizeof back,
                   &back_len) == MCS_OK);
  CHECK(back_len == len && (len == 0 || memcmp(back, value, len) == 0));
  verify_one("session", out, n, NOW, 0);
}

/* Mode 3: the clock and the age limit from the input, to exercise the age
 * arithmetic at the extremes. */
static void verify_with_clock(const uint8_t *in, size_t len) {
  uint64_t now = 0, age = 0;
  if (len < 16)
    return;
  for (int i = 0; i < 8; i++) {
    now = now << 8 | in[i];
    age = age << 8 | in[8 + i];
  }
  verify_one("session", (const char *)in + 16, len - 16, (int64_t)now,
             (int64_t)age);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  switch (data[0] & 3) {
  case 0:
    verify_one("session", in, len, NOW, -1);
    break;
  case 1:
    verify_with_input_name(in, len);
    break;
  case 2:
    round_trip(data + 1, len);
    break;
  default:
    verify_with_clock(data + 1, len);
    break;
  }
  return 0;
}
