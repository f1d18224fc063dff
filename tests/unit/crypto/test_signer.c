/* Unit tests for the key ring (src/crypto/keyring.c) and Tornado signed values
 * (src/crypto/signer.c).
 *
 * Known answers come from tests/vectors/signed_values.txt, written by the
 * real Tornado (gen_signed_vectors.py); the directory is in $MCS_VECTORS
 * (set by ctest). Hostile inputs are placed right before an inaccessible
 * page, as picohttpparser's tests do, so any read past the end crashes. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "session/session_int.h"

#define OUT_MAX MCS_SIGNED_MAX_LEN(MCS_SIGNED_NAME_MAX, MCS_SIGNED_VALUE_MAX)
#define NOW 1700000000
#define DAY 86400

/* ---- Known-answer vectors ---------------------------------------------- */

typedef struct vector {
  unsigned key_version;
  int64_t timestamp;
  uint8_t secret[MCS_SECRET_MAX_BYTES];
  size_t secret_len;
  char name[MCS_SIGNED_NAME_MAX + 1];
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t value_len;
  char signed_value[OUT_MAX];
  size_t signed_len;
} vector;

typedef struct vectors {
  vector *v;
  size_t count;
} vectors;

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* "-" is the empty string; returns false on bad hex or overflow. */
static bool unhex(const char *s, uint8_t *out, size_t cap, size_t *len) {
  size_t n = strlen(s);
  if (strcmp(s, "-") == 0)
    n = 0;
  if (n % 2 || n / 2 > cap)
    return false;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return true;
}

static bool parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0)
    return false;
  *out = v;
  return true;
}

static bool copy_str(const char *s, char *out, size_t cap, size_t *len) {
  size_t n = strlen(s);
  if (n >= cap)
    return false;
  memcpy(out, s, n + 1);
  if (len)
    *len = n;
  return true;
}

/* key_version timestamp secret_hex name value_hex signed_value */
static bool parse_vector(char *line, vector *v) {
  char *tok[6], *save = NULL;
  line[strcspn(line, "\n")] = '\0';
  for (int i = 0; i < 6; i++)
    if (!(tok[i] = strtok_r(i ? NULL : line, " ", &save)))
      return false;
  int64_t kv;
  if (strtok_r(NULL, " ", &save) || !parse_i64(tok[0], &kv) ||
      kv > MCS_KEY_VERSION_MAX)
    return false;
  v->key_version = (unsigned)kv;
  return parse_i64(tok[1], &v->timestamp) &&
         unhex(tok[2], v->secret, sizeof v->secret, &v->secret_len) &&
         copy_str(tok[3], v->name, sizeof v->name, NULL) &&
         unhex(tok[4], v->value, sizeof v->value, &v->value_len) &&
         copy_str(tok[5], v->signed_value, sizeof v->signed_value,
                  &v->signed_len);
}

static FILE *open_vectors(void) {
  const char *dir = getenv("MCS_VECTORS");
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/signed_values.txt",
                   dir ? dir : "tests/vectors");
  if (n < 0 || (size_t)n >= sizeof path)
    return NULL;
  FILE *f = fopen(path, "r");
  if (!f)
    fprintf(stderr, "cannot open %s (set MCS_VECTORS)\n", path);
  return f;
}

static int load_vectors(void **state) {
  static vectors vs;
  FILE *f = open_vectors();
  if (!f)
    return -1;
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;
  while (rc == 0 && getline(&line, &cap, f) > 0) {
    if (line[0] == '#')
      continue;
    vector *grown = realloc(vs.v, (vs.count + 1) * sizeof *vs.v);
    if (!grown || !parse_vector(line, &grown[vs.count]))
      rc = -1;
    if (grown)
      vs.v = grown;
    vs.count += rc == 0;
  }
  free(line);
  fclose(f);
  *state = &vs;
  return rc == 0 && vs.count >= 40 ? 0 : -1;
}

static int free_vectors(void **state) {
  vectors *vs = *state;
  free(vs->v);
  vs->v = NULL;
  vs->count = 0;
  return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static const char SECRET[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN (sizeof SECRET - 1)

static mcs_keyring *ring_with(unsigned version, const void *secret,
                              size_t len) {
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, version, secret, len), MCS_OK);
  return ring;
}

static mcs_keyring *ring_for(const vector *v) {
  return ring_with(v->key_version, v->secret, v->secret_len);
}

/* An input buffer whose last byte sits right before a PROT_NONE page. */
typedef struct guarded {
  uint8_t *map;
  size_t map_len;
  char *data;
} guarded;

static guarded guard_copy(const void *data, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t body = (len + page - 1) / page * page;
  guarded g = {NULL, body + page, NULL};
  void *m = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(m != MAP_FAILED);
  g.map = m;
  assert_int_equal(mprotect(g.map + body, page, PROT_NONE), 0);
  g.data = (char *)g.map + body - len;
  if (len)
    memcpy(g.data, data, len);
  return g;
}

static void guard_free(guarded *g) { munmap(g->map, g->map_len); }

/* mcs_verify on a guarded copy of in[0..len). */
static int verify_guarded(const mcs_keyring *ring, const char *name,
                          const void *in, size_t len, int64_t now,
                          int64_t max_age) {
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t value_len = 0;
  guarded g = guard_copy(in, len);
  int rc = mcs_verify(ring, name, g.data, len, now, max_age, value,
                      sizeof value, &value_len);
  guard_free(&g);
  return rc;
}

/* prefix + the lowercase hex HMAC of prefix: a value with a valid
 * signature whatever its structure, so a rejection can only come from the
 * structural rule under test. Returns the total length. */
static size_t sign_raw(const void *secret, size_t secret_len,
                       const char *prefix, size_t plen, char *out) {
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, secret, secret_len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, plen);
  crypto_auth_hmacsha256_final(&st, mac);
  memcpy(out, prefix, plen);
  sodium_bin2hex(out + plen, 65, mac, sizeof mac);
  return plen + 64;
}

/* Signs with SECRET as version 0 under name "session" at NOW. */
static size_t sign_simple(const char *value, char *out) {
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  size_t n = 0;
  assert_int_equal(mcs_sign(ring, 0, "session", value, strlen(value), NOW,
                            out, OUT_MAX, &n),
                   MCS_OK);
  mcs_keyring_free(ring);
  return n;
}

/* ---- Known answers ------------------------------------------------------ */

static void test_sign_reproduces_tornado_vectors(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_keyring *ring = ring_for(v);
    char out[OUT_MAX];
    size_t n = 0;
    assert_int_equal(mcs_sign(ring, (long)v->key_version, v->name, v->value,
                              v->value_len, v->timestamp, out, sizeof out, &n),
                     MCS_OK);
    assert_int_equal(n, v->signed_len);
    assert_memory_equal(out, v->signed_value, n + 1);
    mcs_keyring_free(ring);
  }
}

static void test_sign_with_current_key_matches_explicit_version(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_keyring *ring = ring_for(v);
    char out[OUT_MAX];
    assert_int_equal(mcs_sign(ring, -1, v->name, v->value, v->value_len,
                              v->timestamp, out, sizeof out, NULL),
                     MCS_OK);
    assert_string_equal(out, v->signed_value);
    mcs_keyring_free(ring);
  }
}

static void test_sign_fits_exact_buffer_and_not_one_less(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_keyring *ring = ring_for(v);
    char out[OUT_MAX];
    assert_true(v->signed_len + 1 <= MCS_SIGNED_MAX_LEN(strlen(v->name),
                                                        v->value_len));
    assert_int_equal(mcs_sign(ring, -1, v->name, v->value, v->value_len,
                              v->timestamp, out, v->signed_len, NULL),
                     MCS_ELIMIT);
    assert_int_equal(out[0], '\0');
    assert_int_equal(mcs_sign(ring, -1, v->name, v->value, v->value_len,
                              v->timestamp, out, v->signed_len + 1, NULL),
                     MCS_OK);
    assert_string_equal(out, v->signed_value);
    mcs_keyring_free(ring);
  }
}

static void test_verify_decodes_tornado_vectors(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_keyring *ring = ring_for(v);
    uint8_t value[MCS_SIGNED_VALUE_MAX];
    size_t len = SIZE_MAX;
    guarded g = guard_copy(v->signed_value, v->signed_len);
    assert_int_equal(mcs_verify(ring, v->name, g.data, v->signed_len,
                                v->timestamp, 0, value, v->value_len, &len),
                     MCS_OK);
    assert_int_equal(len, v->value_len);
    if (len)
      assert_memory_equal(value, v->value, len);
    guard_free(&g);
    mcs_keyring_free(ring);
  }
}

static void test_parse_reports_vector_fields(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs__signed_parts p;
    assert_int_equal(mcs__signed_parse(v->signed_value, v->signed_len, &p),
                     MCS_OK);
    assert_int_equal(p.key_version, v->key_version);
    assert_int_equal(p.timestamp, v->timestamp);
    assert_int_equal(p.name_len, strlen(v->name));
    assert_memory_equal(p.name, v->name, p.name_len);
    assert_int_equal(p.signed_len + 64, v->signed_len);
    assert_ptr_equal(p.signature, v->signed_value + p.signed_len);
  }
}

/* ---- Tampering ---------------------------------------------------------- */

static void test_verify_rejects_every_truncation(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_keyring *ring = ring_for(v);
    for (size_t len = 0; len < v->signed_len; len++)
      assert_int_equal(verify_guarded(ring, v->name, v->signed_value, len,
                                      v->timestamp, -1),
                       MCS_EBADSIG);
    mcs_keyring_free(ring);
  }
}

static void test_verify_rejects_flipped_byte_anywhere(void **state) {
  const vectors *vs = *state;
  static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08,
                                  0x10, 0x20, 0x40, 0x80};
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_keyring *ring = ring_for(v);
    char buf[OUT_MAX];
    memcpy(buf, v->signed_value, v->signed_len);
    /* Every bit of short values; one bit per byte of long ones (cost). */
    size_t nmasks = v->signed_len < 400 ? sizeof masks : 1;
    for (size_t pos = 0; pos < v->signed_len; pos++)
      for (size_t m = 0; m < nmasks; m++) {
        buf[pos] = (char)(buf[pos] ^ masks[(pos + m) % sizeof masks]);
        assert_int_equal(verify_guarded(ring, v->name, buf, v->signed_len,
                                        v->timestamp, -1),
                         MCS_EBADSIG);
        buf[pos] = v->signed_value[pos];
      }
    mcs_keyring_free(ring);
  }
}

static void test_verify_rejects_extra_trailing_bytes(void **state) {
  const vector *v = &((const vectors *)*state)->v[0];
  mcs_keyring *ring = ring_for(v);
  static const char tails[] = {'0', 'a', '\0', '\n', ' ', '|'};
  char buf[OUT_MAX + 1];
  memcpy(buf, v->signed_value, v->signed_len);
  for (size_t i = 0; i < sizeof tails; i++) {
    buf[v->signed_len] = tails[i];
    assert_int_equal(verify_guarded(ring, v->name, buf, v->signed_len + 1,
                                    v->timestamp, -1),
                     MCS_EBADSIG);
  }
  mcs_keyring_free(ring);
}

static void test_verify_rejects_uppercase_hex_signature(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  bool changed = false;
  for (size_t i = n - 64; i < n; i++)
    if (buf[i] >= 'a' && buf[i] <= 'f') {
      buf[i] = (char)(buf[i] - 'a' + 'A');
      changed = true;
    }
  assert_true(changed);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, -1),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_wrong_name(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  static const char *names[] = {"", "Session", "sessio", "session ",
                                "sessionx", "ssession", "verification"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    assert_int_equal(verify_guarded(ring, names[i], buf, n, NOW, -1),
                     MCS_EBADSIG);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, -1), MCS_OK);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_unknown_key_version(void **state) {
  (void)state;
  mcs_keyring *signer = ring_with(3, SECRET, SECRET_LEN);
  char buf[OUT_MAX];
  size_t n = 0;
  assert_int_equal(mcs_sign(signer, 3, "session", "v", 1, NOW, buf,
                            sizeof buf, &n),
                   MCS_OK);
  /* Same secret, other version: the value names version 3, which is gone. */
  mcs_keyring *ring = ring_with(4, SECRET, SECRET_LEN);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, -1),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
  mcs_keyring_free(signer);
}

static void test_verify_rejects_value_signed_with_other_secret(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, "fedcba9876543210fedcba9876543210", 32);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, -1),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_relabelled_key_version(void **state) {
  (void)state;
  /* Both versions present with different secrets: a value signed by
   * version 1 and relabelled as version 2 must not verify. */
  mcs_keyring *ring = ring_with(1, SECRET, SECRET_LEN);
  assert_int_equal(
      mcs_keyring_add(ring, 2, "fedcba9876543210fedcba9876543210", 32),
      MCS_OK);
  char buf[OUT_MAX];
  size_t n = 0;
  assert_int_equal(mcs_sign(ring, 1, "session", "v", 1, NOW, buf, sizeof buf,
                            &n),
                   MCS_OK);
  assert_int_equal(memcmp(buf, "2|1:1|", 6), 0);
  buf[4] = '2';
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, -1),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

/* ---- Age ---------------------------------------------------------------- */

static void test_verify_rejects_value_older_than_max_age(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  int64_t max_age = 31 * DAY;
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW + max_age,
                                  max_age),
                   MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW + max_age + 1,
                                  max_age),
                   MCS_EBADSIG);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW + 1, 0),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_age_check_disabled_by_negative_max_age(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MAX, -1),
                   MCS_OK);
  mcs_keyring_free(ring);
}

static void test_verify_accepts_future_timestamp_like_tornado(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  assert_int_equal(verify_guarded(ring, "session", buf, n, 0, 0), MCS_OK);
  mcs_keyring_free(ring);
}

static void test_verify_age_arithmetic_does_not_overflow(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  /* Under UBSan these would trap if now - max_age were computed naively. */
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MIN,
                                  INT64_MAX),
                   MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MIN, 1),
                   MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MAX,
                                  INT64_MAX),
                   MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MAX, 0),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

/* ---- Structure (validly signed, structurally wrong) --------------------- */

typedef struct raw_case {
  const char *what;
  const char *prefix; /* everything the signature covers */
  size_t len;
  bool parses; /* only the base64's trailing bits are wrong: the parser
                 checks the alphabet, the decoder the rest */
} raw_case;

/* A string literal and its length, embedded NULs included. */
#define LIT(s) s, sizeof(s) - 1

#define TS "10:1700000000|"
#define NM "7:session|"
#define VAL "8:aGVsbG8=|"

static const raw_case hostile[] = {
    {"version 1 prefix", LIT("1|1:0|" TS NM VAL), false},
    {"version 3 prefix", LIT("3|1:0|" TS NM VAL), false},
    {"version 02", LIT("02|1:0|" TS NM VAL), false},
    {"no version", LIT("|1:0|" TS NM VAL), false},
    {"leading zero in length", LIT("2|01:0|" TS NM VAL), false},
    {"leading zero in name length", LIT("2|1:0|" TS "07:session|" VAL), false},
    {"six-digit length", LIT("2|1:0|" TS NM "000008:aGVsbG8=|"), false},
    {"empty length", LIT("2|:0|" TS NM VAL), false},
    {"signed length", LIT("2|+1:0|" TS NM VAL), false},
    {"negative length", LIT("2|-1:0|" TS NM VAL), false},
    {"space in length", LIT("2| 1:0|" TS NM VAL), false},
    {"length too long", LIT("2|1:0|" TS "8:session|" VAL), false},
    {"length too short", LIT("2|1:0|" TS "6:session|" VAL), false},
    {"length past the end", LIT("2|1:0|" TS NM "99999:aGVsbG8=|"), false},
    {"empty key version", LIT("2|0:|" TS NM VAL), false},
    {"key version leading zero", LIT("2|2:00|" TS NM VAL), false},
    {"key version signed", LIT("2|2:+0|" TS NM VAL), false},
    {"key version negative", LIT("2|2:-0|" TS NM VAL), false},
    {"key version non-numeric", LIT("2|1:x|" TS NM VAL), false},
    {"key version over max", LIT("2|7:1000001|" TS NM VAL), false},
    {"key version 8 digits", LIT("2|8:00000000|" TS NM VAL), false},
    {"empty timestamp", LIT("2|1:0|0:|" NM VAL), false},
    {"timestamp leading zero", LIT("2|1:0|11:01700000000|" NM VAL), false},
    {"timestamp negative", LIT("2|1:0|11:-1700000000|" NM VAL), false},
    {"timestamp signed", LIT("2|1:0|11:+1700000000|" NM VAL), false},
    {"timestamp fraction", LIT("2|1:0|12:1700000000.5|" NM VAL), false},
    {"timestamp over int64",
     LIT("2|1:0|19:9223372036854775808|" NM VAL), false},
    {"timestamp 20 digits",
     LIT("2|1:0|20:10000000000000000000|" NM VAL), false},
    {"timestamp with space", LIT("2|1:0|11: 1700000000|" NM VAL), false},
    {"empty name", LIT("2|1:0|" TS "0:|" VAL), false},
    {"name with NUL", LIT("2|1:0|" TS "7:sess\0on|" VAL), false},
    {"name with space", LIT("2|1:0|" TS "7:sess on|" VAL), false},
    {"name with DEL", LIT("2|1:0|" TS "7:sess\x7fon|" VAL), false},
    {"base64 without padding", LIT("2|1:0|" TS NM "7:aGVsbG8|"), false},
    {"base64 bad trailing bits", LIT("2|1:0|" TS NM "8:aGVsbG9=|"), true},
    {"base64 bad character", LIT("2|1:0|" TS NM "8:aGVs*G8=|"), false},
    {"base64 with newline", LIT("2|1:0|" TS NM "9:aGVs\nbG8=|"), false},
    {"base64 url alphabet", LIT("2|1:0|" TS NM "4:-_-_|"), false},
    /* libsodium 1.0.18 decodes these bytes as if they were '+'. */
    {"base64 byte 0x86", LIT("2|1:0|" TS NM "8:aGVs\x86G8=|"), false},
    {"base64 byte 0xff", LIT("2|1:0|" TS NM "4:AA\xff=|"), false},
    {"base64 pad inside", LIT("2|1:0|" TS NM "8:aG=sbG8=|"), false},
    {"base64 three pads", LIT("2|1:0|" TS NM "4:A===|"), false},
    {"base64 only pads", LIT("2|1:0|" TS NM "4:====|"), false},
    {"missing pipe after field", LIT("2|1:0:" TS NM VAL), false},
    {"missing value field", LIT("2|1:0|" TS NM), false},
    {"colon instead of pipe at end", LIT("2|1:0|" TS NM "8:aGVsbG8=:"), false},
    {"embedded NUL before signature", LIT("2|1:0|" TS NM VAL "\0"), false},
};

/* The positive control for the table: the canonical value verifies, so
 * the helper signs correctly and every rejection above is structural. */
static void test_raw_signed_canonical_value_verifies(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  char buf[OUT_MAX];
  const char *prefix = "2|1:0|" TS NM VAL;
  size_t n = sign_raw(SECRET, SECRET_LEN, prefix, strlen(prefix), buf);
  char ours[OUT_MAX];
  assert_int_equal(sign_simple("hello", ours), n);
  assert_memory_equal(buf, ours, n);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, 0), MCS_OK);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_malformed_but_signed_values(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
    const raw_case *c = &hostile[i];
    char buf[OUT_MAX];
    size_t n = sign_raw(SECRET, SECRET_LEN, c->prefix, c->len, buf);
    int rc = verify_guarded(ring, "session", buf, n, NOW, -1);
    if (rc != MCS_EBADSIG)
      fail_msg("accepted: %s", c->what);
  }
  mcs_keyring_free(ring);
}

/* The structural rules on their own, without a key that could mask them
 * (an over-limit key version is also simply absent from any ring). */
static void test_parse_rejects_malformed_structure(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
    const raw_case *c = &hostile[i];
    char buf[OUT_MAX];
    size_t n = sign_raw(SECRET, SECRET_LEN, c->prefix, c->len, buf);
    mcs__signed_parts p;
    int rc = mcs__signed_parse(buf, n, &p);
    if (rc != (c->parses ? MCS_OK : MCS_EBADSIG))
      fail_msg("parse gave %d for: %s", rc, c->what);
  }
}

static void test_parse_rejects_uppercase_and_non_hex_signatures(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs__signed_parts p;
  assert_int_equal(mcs__signed_parse(buf, n, &p), MCS_OK);
  static const char bad[] = {'A', 'F', 'g', 'z', ' ', '\0', '|'};
  for (size_t i = 0; i < sizeof bad; i++) {
    char saved = buf[n - 7];
    buf[n - 7] = bad[i];
    assert_int_equal(mcs__signed_parse(buf, n, &p), MCS_EBADSIG);
    buf[n - 7] = saved;
  }
}

static void test_verify_rejects_short_and_long_signatures(void **state) {
  (void)state;
  char buf[OUT_MAX + 1];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  assert_int_equal(verify_guarded(ring, "session", buf, n - 1, NOW, -1),
                   MCS_EBADSIG);
  buf[n] = buf[n - 1];
  assert_int_equal(verify_guarded(ring, "session", buf, n + 1, NOW, -1),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_oversized_fields(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  char prefix[OUT_MAX], buf[OUT_MAX + 64];
  /* A name one byte over MCS_SIGNED_NAME_MAX, asked for by that name. */
  char name[MCS_SIGNED_NAME_MAX + 2];
  memset(name, 'n', MCS_SIGNED_NAME_MAX + 1);
  name[MCS_SIGNED_NAME_MAX + 1] = '\0';
  int p = snprintf(prefix, sizeof prefix, "2|1:0|" TS "%d:%s|" VAL,
                   MCS_SIGNED_NAME_MAX + 1, name);
  size_t n = sign_raw(SECRET, SECRET_LEN, prefix, (size_t)p, buf);
  assert_int_equal(verify_guarded(ring, name, buf, n, NOW, -1), MCS_EBADSIG);
  /* A base64 field that decodes to MCS_SIGNED_VALUE_MAX + 3 bytes. */
  size_t b64 = 4 * (MCS_SIGNED_VALUE_MAX / 3 + 1);
  p = snprintf(prefix, sizeof prefix, "2|1:0|" TS NM "%zu:", b64);
  memset(prefix + p, 'A', b64);
  prefix[p + (int)b64] = '|';
  n = sign_raw(SECRET, SECRET_LEN, prefix, (size_t)p + b64 + 1, buf);
  assert_int_equal(verify_guarded(ring, "session", buf, n, NOW, -1),
                   MCS_EBADSIG);
  mcs__signed_parts parts;
  assert_int_equal(mcs__signed_parse(buf, n, &parts), MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_overlong_input(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  static char big[OUT_MAX + 100];
  size_t n = sign_simple("hello", big);
  memset(big + n, '0', sizeof big - n);
  assert_int_equal(verify_guarded(ring, "session", big, sizeof big, NOW, -1),
                   MCS_EBADSIG);
  assert_int_equal(verify_guarded(ring, "session", big, OUT_MAX, NOW, -1),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_garbage(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  static const char *junk[] = {"", "2", "2|", "2|1", "2|1:", "2|1:0",
                               "2|1:0|", "hello", "2|||||",
                               "2|99999:", "2|1:0|1:0|1:s|0:|"};
  for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
    assert_int_equal(
        verify_guarded(ring, "s", junk[i], strlen(junk[i]), NOW, -1),
        MCS_EBADSIG);
  mcs_keyring_free(ring);
}

/* ---- Verify arguments and output --------------------------------------- */

static void test_verify_reports_elimit_when_value_buffer_too_small(
    void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  char value[5];
  size_t len = 0;
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, value, 4,
                              &len),
                   MCS_ELIMIT);
  assert_int_equal(len, 5);
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL, 0,
                              &len),
                   MCS_ELIMIT);
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, value, 5,
                              &len),
                   MCS_OK);
  assert_memory_equal(value, "hello", 5);
  mcs_keyring_free(ring);
}

static void test_verify_tampered_value_gives_ebadsig_not_elimit(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  buf[n - 1] = buf[n - 1] == '0' ? '1' : '0';
  size_t len = 0;
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL, 0,
                              &len),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_empty_value_needs_no_buffer(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  size_t len = 99;
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL, 0,
                              &len),
                   MCS_OK);
  assert_int_equal(len, 0);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_null_arguments(void **state) {
  (void)state;
  char buf[OUT_MAX], value[16];
  size_t n = sign_simple("hello", buf), len;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  assert_int_equal(mcs_verify(NULL, "session", buf, n, NOW, -1, value,
                              sizeof value, &len),
                   MCS_EINVAL);
  assert_int_equal(mcs_verify(ring, NULL, buf, n, NOW, -1, value,
                              sizeof value, &len),
                   MCS_EINVAL);
  assert_int_equal(mcs_verify(ring, "session", NULL, n, NOW, -1, value,
                              sizeof value, &len),
                   MCS_EINVAL);
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL,
                              sizeof value, &len),
                   MCS_EINVAL);
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, value,
                              sizeof value, NULL),
                   MCS_EINVAL);
  mcs_keyring_free(ring);
}

/* ---- Sign arguments ----------------------------------------------------- */

static int sign_name(const mcs_keyring *ring, const char *name) {
  char out[OUT_MAX];
  return mcs_sign(ring, -1, name, "v", 1, NOW, out, sizeof out, NULL);
}

static void test_sign_rejects_bad_names(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  assert_int_equal(sign_name(ring, NULL), MCS_EINVAL);
  assert_int_equal(sign_name(ring, ""), MCS_EINVAL);
  assert_int_equal(sign_name(ring, "a b"), MCS_EINVAL);
  assert_int_equal(sign_name(ring, "a\tb"), MCS_EINVAL);
  assert_int_equal(sign_name(ring, "a\x7f"), MCS_EINVAL);
  assert_int_equal(sign_name(ring, "caf\xc3\xa9"), MCS_EINVAL);
  char name[MCS_SIGNED_NAME_MAX + 2];
  memset(name, 'n', sizeof name - 1);
  name[MCS_SIGNED_NAME_MAX + 1] = '\0';
  assert_int_equal(sign_name(ring, name), MCS_ELIMIT);
  name[MCS_SIGNED_NAME_MAX] = '\0';
  assert_int_equal(sign_name(ring, name), MCS_OK);
  assert_int_equal(sign_name(ring, "!~|:"), MCS_OK);
  mcs_keyring_free(ring);
}

static void test_sign_rejects_bad_arguments(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(5, SECRET, SECRET_LEN);
  char out[OUT_MAX];
  static uint8_t big[MCS_SIGNED_VALUE_MAX + 1];
  assert_int_equal(mcs_sign(NULL, -1, "s", "v", 1, NOW, out, sizeof out,
                            NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", "v", 1, NOW, NULL, 100, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", NULL, 1, NOW, out, sizeof out,
                            NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", "v", 1, -1, out, sizeof out,
                            NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, 4, "s", "v", 1, NOW, out, sizeof out,
                            NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, MCS_KEY_VERSION_MAX + 1L, "s", "v", 1, NOW,
                            out, sizeof out, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", big, sizeof big, NOW, out,
                            sizeof out, NULL),
                   MCS_ELIMIT);
  assert_int_equal(mcs_sign(ring, -1, "s", big, sizeof big - 1, NOW, out,
                            sizeof out, NULL),
                   MCS_OK);
  assert_int_equal(mcs_sign(ring, -1, "s", "v", 1, NOW, out, 0, NULL),
                   MCS_ELIMIT);
  mcs_keyring_free(ring);
}

static void test_sign_with_empty_ring_fails(void **state) {
  (void)state;
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(sign_name(ring, "s"), MCS_EINVAL);
  mcs_keyring_free(ring);
}

static void test_sign_accepts_null_value_of_length_zero(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  char out[OUT_MAX], ref[OUT_MAX];
  assert_int_equal(mcs_sign(ring, 0, "session", NULL, 0, NOW, out,
                            sizeof out, NULL),
                   MCS_OK);
  sign_simple("", ref);
  assert_string_equal(out, ref);
  mcs_keyring_free(ring);
}

static void test_sign_max_len_macro_bounds_largest_value(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(MCS_KEY_VERSION_MAX, SECRET, SECRET_LEN);
  char name[MCS_SIGNED_NAME_MAX + 1];
  memset(name, '~', MCS_SIGNED_NAME_MAX);
  name[MCS_SIGNED_NAME_MAX] = '\0';
  static uint8_t value[MCS_SIGNED_VALUE_MAX];
  char out[OUT_MAX];
  size_t n = 0;
  assert_int_equal(mcs_sign(ring, -1, name, value, sizeof value, INT64_MAX,
                            out, sizeof out, &n),
                   MCS_OK);
  assert_true(n < OUT_MAX);
  assert_int_equal(strlen(out), n);
  mcs_keyring_free(ring);
}

/* ---- Round trips -------------------------------------------------------- */

static void test_sign_then_verify_round_trips_random_inputs(void **state) {
  (void)state;
  uint8_t seed[randombytes_SEEDBYTES] = {42};
  uint8_t rnd[MCS_SIGNED_VALUE_MAX + 64];
  for (int i = 0; i < 200; i++) {
    seed[1] = (uint8_t)i;
    randombytes_buf_deterministic(rnd, sizeof rnd, seed);
    size_t value_len =
        (rnd[0] | (size_t)rnd[1] << 8) % (MCS_SIGNED_VALUE_MAX + 1);
    char name[9];
    for (int k = 0; k < 8; k++)
      name[k] = (char)(0x21 + rnd[2 + k] % 94);
    name[1 + rnd[10] % 8] = '\0';
    unsigned version = rnd[11] | (unsigned)rnd[12] << 8;
    int64_t ts = (int64_t)(rnd[13] | (uint64_t)rnd[14] << 8 |
                           (uint64_t)rnd[15] << 16 | (uint64_t)rnd[16] << 40);
    mcs_keyring *ring = ring_with(version, rnd + 17, 16 + rnd[33] % 48);
    char out[OUT_MAX];
    size_t n = 0, len = 0;
    uint8_t value[MCS_SIGNED_VALUE_MAX];
    assert_int_equal(mcs_sign(ring, -1, name, rnd + 64, value_len, ts, out,
                              sizeof out, &n),
                     MCS_OK);
    assert_int_equal(mcs_verify(ring, name, out, n, ts, 0, value,
                                sizeof value, &len),
                     MCS_OK);
    assert_int_equal(len, value_len);
    if (len)
      assert_memory_equal(value, rnd + 64, len);
    mcs_keyring_free(ring);
  }
}

/* ---- Key ring ----------------------------------------------------------- */

static void test_keyring_rejects_duplicate_version(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(1, SECRET, SECRET_LEN);
  assert_int_equal(mcs_keyring_add(ring, 1, SECRET, SECRET_LEN), MCS_EINVAL);
  assert_int_equal(mcs_keyring_add(ring, 1, "another secret 16", 17),
                   MCS_EINVAL);
  mcs_keyring_free(ring);
}

static void test_keyring_enforces_secret_length_limits(void **state) {
  (void)state;
  static uint8_t secret[MCS_SECRET_MAX_BYTES + 1];
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, 0, secret, 0), MCS_EINVAL);
  assert_int_equal(mcs_keyring_add(ring, 0, secret, MCS_SECRET_MIN_BYTES - 1),
                   MCS_EINVAL);
  assert_int_equal(mcs_keyring_add(ring, 0, secret, MCS_SECRET_MAX_BYTES + 1),
                   MCS_EINVAL);
  assert_int_equal(mcs_keyring_add(ring, 0, NULL, MCS_SECRET_MIN_BYTES),
                   MCS_EINVAL);
  assert_int_equal(mcs_keyring_add(ring, 0, secret, MCS_SECRET_MIN_BYTES),
                   MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, 1, secret, MCS_SECRET_MAX_BYTES),
                   MCS_OK);
  mcs_keyring_free(ring);
}

static void test_keyring_enforces_version_limit(void **state) {
  (void)state;
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, MCS_KEY_VERSION_MAX + 1u, SECRET,
                                   SECRET_LEN),
                   MCS_EINVAL);
  assert_int_equal(
      mcs_keyring_add(ring, MCS_KEY_VERSION_MAX, SECRET, SECRET_LEN), MCS_OK);
  assert_int_equal(mcs_keyring_add(NULL, 0, SECRET, SECRET_LEN), MCS_EINVAL);
  mcs_keyring_free(ring);
}

static void test_keyring_current_is_highest_version(void **state) {
  (void)state;
  mcs_keyring *ring = NULL;
  unsigned v = 99;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_current(ring, &v), MCS_EINVAL);
  static const unsigned order[] = {5, 2, 9, 0, 7, 3, 1, 8, 4, 6};
  unsigned highest = 0;
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    assert_int_equal(mcs_keyring_add(ring, order[i], SECRET, SECRET_LEN),
                     MCS_OK);
    highest = order[i] > highest ? order[i] : highest;
    assert_int_equal(mcs_keyring_current(ring, &v), MCS_OK);
    assert_int_equal(v, highest);
  }
  assert_int_equal(v, 9);
  size_t len = 0;
  const uint8_t *oldest = mcs__keyring_oldest(ring, &len);
  assert_non_null(oldest);
  assert_ptr_equal(oldest, mcs__keyring_secret(ring, 0, NULL));
  assert_int_equal(mcs_keyring_current(NULL, &v), MCS_EINVAL);
  assert_int_equal(mcs_keyring_current(ring, NULL), MCS_EINVAL);
  mcs_keyring_free(ring);
}

static void test_keyring_current_tracks_additions(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(4, SECRET, SECRET_LEN);
  unsigned v = 0;
  assert_int_equal(mcs_keyring_add(ring, 2, SECRET, SECRET_LEN), MCS_OK);
  assert_int_equal(mcs_keyring_current(ring, &v), MCS_OK);
  assert_int_equal(v, 4);
  assert_int_equal(mcs_keyring_add(ring, 11, SECRET, SECRET_LEN), MCS_OK);
  assert_int_equal(mcs_keyring_current(ring, &v), MCS_OK);
  assert_int_equal(v, 11);
  mcs_keyring_free(ring);
}

static void test_keyring_keeps_its_own_copy_of_secrets(void **state) {
  (void)state;
  char secret[SECRET_LEN + 1];
  memcpy(secret, SECRET, sizeof secret);
  mcs_keyring *ring = ring_with(0, secret, SECRET_LEN);
  memset(secret, 'x', SECRET_LEN);
  char out[OUT_MAX], ref[OUT_MAX];
  assert_int_equal(mcs_sign(ring, 0, "session", "hello", 5, NOW, out,
                            sizeof out, NULL),
                   MCS_OK);
  sign_simple("hello", ref);
  assert_string_equal(out, ref);
  size_t len = 0;
  assert_memory_equal(mcs__keyring_secret(ring, 0, &len), SECRET, SECRET_LEN);
  assert_int_equal(len, SECRET_LEN);
  assert_null(mcs__keyring_secret(ring, 1, &len));
  mcs_keyring_free(ring);
}

static void test_keyring_rotation_old_version_still_verifies(void **state) {
  (void)state;
  static const char new_secret[] = "a brand new secret for version 2";
  mcs_keyring *ring = ring_with(1, SECRET, SECRET_LEN);
  char old[OUT_MAX], fresh[OUT_MAX];
  size_t old_n = 0, fresh_n = 0;
  assert_int_equal(mcs_sign(ring, -1, "session", "u1", 2, NOW, old,
                            sizeof old, &old_n),
                   MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, 2, new_secret, sizeof new_secret - 1),
                   MCS_OK);
  assert_int_equal(mcs_sign(ring, -1, "session", "u2", 2, NOW, fresh,
                            sizeof fresh, &fresh_n),
                   MCS_OK);
  assert_int_equal(memcmp(old, "2|1:1|", 6), 0);
  assert_int_equal(memcmp(fresh, "2|1:2|", 6), 0);
  assert_int_equal(verify_guarded(ring, "session", old, old_n, NOW, 0),
                   MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", fresh, fresh_n, NOW, 0),
                   MCS_OK);
  mcs_keyring_free(ring);
}

static void test_keyring_clone_is_deep(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(3, SECRET, SECRET_LEN), *copy = NULL;
  assert_int_equal(mcs_keyring_add(ring, 1, "sixteen bytes!!!", 16), MCS_OK);
  assert_int_equal(mcs__keyring_clone(ring, &copy), MCS_OK);
  char a[OUT_MAX], b[OUT_MAX];
  assert_int_equal(mcs_sign(ring, 1, "s", "v", 1, NOW, a, sizeof a, NULL),
                   MCS_OK);
  mcs_keyring_free(ring);
  assert_int_equal(mcs_sign(copy, 1, "s", "v", 1, NOW, b, sizeof b, NULL),
                   MCS_OK);
  assert_string_equal(a, b);
  unsigned v = 0;
  assert_int_equal(mcs_keyring_current(copy, &v), MCS_OK);
  assert_int_equal(v, 3);
  mcs_keyring_free(copy);
  assert_int_equal(mcs__keyring_clone(NULL, &copy), MCS_EINVAL);
  assert_null(copy);
}

static void test_keyring_new_and_free_handle_null(void **state) {
  (void)state;
  assert_int_equal(mcs_keyring_new(NULL), MCS_EINVAL);
  mcs_keyring_free(NULL);
  assert_null(mcs__keyring_oldest(NULL, NULL));
  assert_null(mcs__keyring_secret(NULL, 0, NULL));
}

/* ---- Allocation: fault injection and "never allocates" ----------------- */

static struct {
  long fail_at; /* fail the allocation with this index; -1 never */
  long count;   /* allocations attempted */
  long live;    /* blocks not yet freed */
} alloc_hook;

static bool alloc_should_fail(void) {
  return alloc_hook.count++ == alloc_hook.fail_at;
}

static void *hook_malloc(size_t n) {
  if (alloc_should_fail())
    return NULL;
  void *p = malloc(n);
  alloc_hook.live += p != NULL;
  return p;
}

static void *hook_calloc(size_t n, size_t size) {
  if (alloc_should_fail())
    return NULL;
  void *p = calloc(n, size);
  alloc_hook.live += p != NULL;
  return p;
}

static void *hook_realloc(void *old, size_t n) {
  if (alloc_should_fail())
    return NULL;
  void *p = realloc(old, n);
  alloc_hook.live += p != NULL && old == NULL;
  return p;
}

static void hook_free(void *p) {
  alloc_hook.live -= p != NULL;
  free(p);
}

static void hook_install(long fail_at) {
  alloc_hook.fail_at = fail_at;
  alloc_hook.count = 0;
  alloc_hook.live = 0;
  assert_int_equal(mcs_replace_allocator(hook_malloc, hook_realloc,
                                         hook_calloc, hook_free),
                   MCS_OK);
}

static void hook_remove(void) {
  assert_int_equal(mcs_replace_allocator(malloc, realloc, calloc, free),
                   MCS_OK);
}

/* Builds a five-key ring and clones it; returns the first error. */
static int build_and_clone(void) {
  mcs_keyring *ring = NULL, *copy = NULL;
  int rc = mcs_keyring_new(&ring);
  for (unsigned v = 0; rc == MCS_OK && v < 5; v++)
    rc = mcs_keyring_add(ring, 4 - v, SECRET, SECRET_LEN);
  if (rc == MCS_OK)
    rc = mcs__keyring_clone(ring, &copy);
  if (rc == MCS_OK)
    assert_non_null(copy);
  else
    assert_null(copy);
  mcs_keyring_free(copy);
  mcs_keyring_free(ring);
  return rc;
}

static void test_keyring_survives_every_allocation_failure(void **state) {
  (void)state;
  int rc = MCS_ENOMEM;
  long n;
  for (n = 0; rc == MCS_ENOMEM && n < 1000; n++) {
    hook_install(n);
    rc = build_and_clone();
    long live = alloc_hook.live;
    hook_remove();
    assert_int_equal(live, 0);
  }
  assert_int_equal(rc, MCS_OK);
  assert_true(n > 5);
}

static void test_keyring_add_failure_leaves_ring_unchanged(void **state) {
  (void)state;
  mcs_keyring *ring = ring_with(1, SECRET, SECRET_LEN);
  for (long n = 0; n < 2; n++) {
    hook_install(n);
    int rc = mcs_keyring_add(ring, 2, SECRET, SECRET_LEN);
    hook_remove();
    if (rc == MCS_OK)
      break;
    assert_int_equal(rc, MCS_ENOMEM);
    unsigned v = 0;
    assert_int_equal(mcs_keyring_current(ring, &v), MCS_OK);
    assert_int_equal(v, 1);
    assert_null(mcs__keyring_secret(ring, 2, NULL));
  }
  mcs_keyring_free(ring);
}

static void test_sign_and_verify_never_allocate(void **state) {
  const vector *v = &((const vectors *)*state)->v[0];
  mcs_keyring *ring = ring_for(v);
  char out[OUT_MAX];
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t n = 0, len = 0;
  hook_install(0); /* any allocation would fail... */
  int rc_sign = mcs_sign(ring, -1, v->name, v->value, v->value_len,
                         v->timestamp, out, sizeof out, &n);
  int rc_verify = mcs_verify(ring, v->name, out, n, v->timestamp, 0, value,
                             sizeof value, &len);
  long attempts = alloc_hook.count;
  hook_remove();
  assert_int_equal(rc_sign, MCS_OK);
  assert_int_equal(rc_verify, MCS_OK);
  assert_int_equal(attempts, 0); /* ...and none was attempted */
  mcs_keyring_free(ring);
}

/* ---- mcs_signed_inspect: the fields without the key --------------------- */

/* Every Tornado vector's fields and value, read from a guarded copy
 * (nothing read past the end) without any key. */
static void test_inspect_reads_vector_fields_without_a_key(void **state) {
  const vectors *vs = *state;
  for (size_t i = 0; i < vs->count; i++) {
    const vector *v = &vs->v[i];
    mcs_signed_info info;
    uint8_t value[MCS_SIGNED_VALUE_MAX];
    size_t len = SIZE_MAX;
    guarded g = guard_copy(v->signed_value, v->signed_len);
    assert_int_equal(mcs_signed_inspect(g.data, v->signed_len, &info, value,
                                        sizeof value, &len),
                     MCS_OK);
    assert_string_equal(info.name, v->name);
    assert_int_equal(info.key_version, v->key_version);
    assert_int_equal(info.timestamp, v->timestamp);
    assert_int_equal(len, v->value_len);
    if (len)
      assert_memory_equal(value, v->value, len);
    /* No room: the size needed, the fields still read. */
    len = 0;
    memset(&info, 0, sizeof info);
    int rc = mcs_signed_inspect(g.data, v->signed_len, &info, NULL, 0, &len);
    assert_int_equal(rc, v->value_len ? MCS_ELIMIT : MCS_OK);
    assert_int_equal(len, v->value_len);
    assert_string_equal(info.name, v->name);
    guard_free(&g);
  }
}

/* It proves nothing: a value with a made-up signature reads just as
 * well, and mcs_verify refuses it. */
static void test_inspect_proves_nothing(void **state) {
  (void)state;
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, 7, "0123456789abcdef", 16), MCS_OK);
  char buf[OUT_MAX];
  size_t n = 0;
  assert_int_equal(
      mcs_sign(ring, 7, "session", "hello", 5, 1234, buf, sizeof buf, &n),
      MCS_OK);
  memset(buf + n - 64, '0', 64); /* a signature nobody computed */
  mcs_signed_info info;
  char value[8];
  size_t len = 0;
  assert_int_equal(mcs_signed_inspect(buf, n, &info, value, sizeof value, &len),
                   MCS_OK);
  assert_string_equal(info.name, "session");
  assert_int_equal(info.key_version, 7);
  assert_int_equal(info.timestamp, 1234);
  assert_int_equal(len, 5);
  assert_memory_equal(value, "hello", 5);
  static const uint8_t zero[sizeof info.reserved];
  assert_memory_equal(info.reserved, zero, sizeof zero);
  assert_int_equal(
      mcs_verify(ring, "session", buf, n, 1234, -1, value, sizeof value, &len),
      MCS_EBADSIG);
  mcs_keyring_free(ring);
}

/* The value as Tornado decodes it: Python ignores the unused bits of the
 * last base64 character, which mcs_verify refuses when they are set. */
static void test_inspect_decodes_the_value_as_tornado_does(void **state) {
  (void)state;
  static const char sv[] =
      "2|1:0|4:1000|7:session|8:aGVsbG9=|"
      "694e9d2100c5c07c4f1157cf8884c7f608d94de5d1ce9fbeba29ee75ff97e128";
  mcs_signed_info info;
  char value[8];
  size_t len = 0;
  assert_int_equal(
      mcs_signed_inspect(sv, sizeof sv - 1, &info, value, sizeof value, &len),
      MCS_OK);
  assert_int_equal(len, 5);
  assert_memory_equal(value, "hello", 5);
  /* Two '=': 4 unused bits (Python: b64decode("aB==") == b"h"). */
  static const char two_pads[] =
      "2|1:0|1:1|1:n|4:aB==|"
      "0000000000000000000000000000000000000000000000000000000000000000";
  assert_int_equal(mcs_signed_inspect(two_pads, sizeof two_pads - 1, &info,
                                      value, sizeof value, &len),
                   MCS_OK);
  assert_int_equal(len, 1);
  assert_memory_equal(value, "h", 1);
  /* One '=': 2 unused bits (b64decode("aGF=") == b"ha"). */
  static const char one_pad[] =
      "2|1:0|1:1|1:n|4:aGF=|"
      "0000000000000000000000000000000000000000000000000000000000000000";
  assert_int_equal(mcs_signed_inspect(one_pad, sizeof one_pad - 1, &info, value,
                                      sizeof value, &len),
                   MCS_OK);
  assert_int_equal(len, 2);
  assert_memory_equal(value, "ha", 2);
}

static void test_inspect_refuses_malformed_values(void **state) {
  (void)state;
  mcs_signed_info info;
  char value[8];
  size_t len = 99;
  static const char *const bad[] = {
      "",
      "hello",
      "1|1:0|1:1|1:n|4:aGk=|" /* format 1 */
      "0000000000000000000000000000000000000000000000000000000000000000",
      "2|1:0|1:1|1:n|4:aGk=|00", /* short signature */
      "2|2:00|1:1|1:n|4:aGk=|"   /* leading zero */
      "0000000000000000000000000000000000000000000000000000000000000000",
      "2|1:0|1:1|3:a b|4:aGk=|" /* space in the name */
      "0000000000000000000000000000000000000000000000000000000000000000",
      "2|1:0|1:1|1:n|4:aG!=|" /* not base64 */
      "0000000000000000000000000000000000000000000000000000000000000000",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&info, 0xa5, sizeof info);
    guarded g = guard_copy(bad[i], strlen(bad[i]));
    assert_int_equal(mcs_signed_inspect(g.data, strlen(bad[i]), &info, value,
                                        sizeof value, &len),
                     MCS_EBADSIG);
    guard_free(&g);
    assert_string_equal(info.name, ""); /* zeroed */
    assert_int_equal(info.key_version, 0);
  }
  static const char good[] =
      "2|1:0|1:1|1:n|4:aGk=|"
      "0000000000000000000000000000000000000000000000000000000000000000";
  assert_int_equal(
      mcs_signed_inspect(good, sizeof good - 1, &info, value, 8, &len), MCS_OK);
  assert_int_equal(mcs_signed_inspect(NULL, 3, &info, value, 8, &len),
                   MCS_EINVAL);
  assert_int_equal(
      mcs_signed_inspect(good, sizeof good - 1, NULL, value, 8, &len),
      MCS_EINVAL);
  assert_int_equal(
      mcs_signed_inspect(good, sizeof good - 1, &info, value, 8, NULL),
      MCS_EINVAL);
  assert_int_equal(
      mcs_signed_inspect(good, sizeof good - 1, &info, NULL, 8, &len),
      MCS_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_reproduces_tornado_vectors),
      cmocka_unit_test(test_sign_with_current_key_matches_explicit_version),
      cmocka_unit_test(test_sign_fits_exact_buffer_and_not_one_less),
      cmocka_unit_test(test_verify_decodes_tornado_vectors),
      cmocka_unit_test(test_parse_reports_vector_fields),
      cmocka_unit_test(test_inspect_reads_vector_fields_without_a_key),
      cmocka_unit_test(test_inspect_proves_nothing),
      cmocka_unit_test(test_inspect_decodes_the_value_as_tornado_does),
      cmocka_unit_test(test_inspect_refuses_malformed_values),
      cmocka_unit_test(test_verify_rejects_every_truncation),
      cmocka_unit_test(test_verify_rejects_flipped_byte_anywhere),
      cmocka_unit_test(test_verify_rejects_extra_trailing_bytes),
      cmocka_unit_test(test_verify_rejects_uppercase_hex_signature),
      cmocka_unit_test(test_verify_rejects_wrong_name),
      cmocka_unit_test(test_verify_rejects_unknown_key_version),
      cmocka_unit_test(test_verify_rejects_value_signed_with_other_secret),
      cmocka_unit_test(test_verify_rejects_relabelled_key_version),
      cmocka_unit_test(test_verify_rejects_value_older_than_max_age),
      cmocka_unit_test(test_verify_age_check_disabled_by_negative_max_age),
      cmocka_unit_test(test_verify_accepts_future_timestamp_like_tornado),
      cmocka_unit_test(test_verify_age_arithmetic_does_not_overflow),
      cmocka_unit_test(test_raw_signed_canonical_value_verifies),
      cmocka_unit_test(test_verify_rejects_malformed_but_signed_values),
      cmocka_unit_test(test_parse_rejects_malformed_structure),
      cmocka_unit_test(test_parse_rejects_uppercase_and_non_hex_signatures),
      cmocka_unit_test(test_verify_rejects_short_and_long_signatures),
      cmocka_unit_test(test_verify_rejects_oversized_fields),
      cmocka_unit_test(test_verify_rejects_overlong_input),
      cmocka_unit_test(test_verify_rejects_garbage),
      cmocka_unit_test(test_verify_reports_elimit_when_value_buffer_too_small),
      cmocka_unit_test(test_verify_tampered_value_gives_ebadsig_not_elimit),
      cmocka_unit_test(test_verify_empty_value_needs_no_buffer),
      cmocka_unit_test(test_verify_rejects_null_arguments),
      cmocka_unit_test(test_sign_rejects_bad_names),
      cmocka_unit_test(test_sign_rejects_bad_arguments),
      cmocka_unit_test(test_sign_with_empty_ring_fails),
      cmocka_unit_test(test_sign_accepts_null_value_of_length_zero),
      cmocka_unit_test(test_sign_max_len_macro_bounds_largest_value),
      cmocka_unit_test(test_sign_then_verify_round_trips_random_inputs),
      cmocka_unit_test(test_keyring_rejects_duplicate_version),
      cmocka_unit_test(test_keyring_enforces_secret_length_limits),
      cmocka_unit_test(test_keyring_enforces_version_limit),
      cmocka_unit_test(test_keyring_current_is_highest_version),
      cmocka_unit_test(test_keyring_current_tracks_additions),
      cmocka_unit_test(test_keyring_keeps_its_own_copy_of_secrets),
      cmocka_unit_test(test_keyring_rotation_old_version_still_verifies),
      cmocka_unit_test(test_keyring_clone_is_deep),
      cmocka_unit_test(test_keyring_new_and_free_handle_null),
      cmocka_unit_test(test_keyring_survives_every_allocation_failure),
      cmocka_unit_test(test_keyring_add_failure_leaves_ring_unchanged),
      cmocka_unit_test(test_sign_and_verify_never_allocate),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests_name("signer", tests, load_vectors,
                                     free_vectors);
}
