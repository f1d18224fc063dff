/* Signed values that are validly signed but structurally wrong, and
 * signatures and fields of the wrong size (src/crypto/signer.c): verify
 * and mcs__signed_parse refuse them all (the fixture: signer_fixture.h). */
#include "signer_fixture.h"

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
    {"timestamp over int64", LIT("2|1:0|19:9223372036854775808|" NM VAL),
     false},
    {"timestamp 20 digits", LIT("2|1:0|20:10000000000000000000|" NM VAL),
     false},
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
  static const char *junk[] = {"",
                               "2",
                               "2|",
                               "2|1",
                               "2|1:",
                               "2|1:0",
                               "2|1:0|",
                               "hello",
                               "2|||||",
                               "2|99999:",
                               "2|1:0|1:0|1:s|0:|"};
  for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
    assert_int_equal(
        verify_guarded(ring, "s", junk[i], strlen(junk[i]), NOW, -1),
        MCS_EBADSIG);
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
      cmocka_unit_test(test_raw_signed_canonical_value_verifies),
      cmocka_unit_test(test_verify_rejects_malformed_but_signed_values),
      cmocka_unit_test(test_parse_rejects_malformed_structure),
      cmocka_unit_test(test_parse_rejects_uppercase_and_non_hex_signatures),
      cmocka_unit_test(test_verify_rejects_short_and_long_signatures),
      cmocka_unit_test(test_verify_rejects_oversized_fields),
      cmocka_unit_test(test_verify_rejects_overlong_input),
      cmocka_unit_test(test_verify_rejects_garbage),
      cmocka_unit_test(test_inspect_reads_vector_fields_without_a_key),
      cmocka_unit_test(test_inspect_proves_nothing),
      cmocka_unit_test(test_inspect_decodes_the_value_as_tornado_does),
      cmocka_unit_test(test_inspect_refuses_malformed_values),
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests_name("signer_structure", tests, load_vectors,
                                     free_vectors);
}
