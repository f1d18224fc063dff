/* Base64 helpers (src/b64.c): the standard padded alphabet used by Tornado
 * signed values and by {"$bytes": ...} in JSON, the URL-safe unpadded one
 * used for ids and store keys, and the strict decoder that must refuse
 * every non-canonical spelling (RFC 4648 sections 3.1-3.5, 4, 5, 10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "session/session_int.h"

/* RFC 4648 section 10. */
static const struct {
  const char *in;
  const char *out;
} rfc4648_vectors[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
    {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
#define N_VECTORS (sizeof rfc4648_vectors / sizeof rfc4648_vectors[0])

/* Decodes `in` (a C string) into a buffer of out_size bytes; returns the
 * code and stores the length in *len. */
static int decode(const char *in, void *out, size_t out_size, size_t *len) {
  return mcs__b64_decode(in, strlen(in), out, out_size, len);
}

static void expect_refused(const char *in) {
  uint8_t out[64];
  size_t len = 12345;
  int rc = decode(in, out, sizeof out, &len);
  if (rc != MCS_EINVAL)
    fail_msg("decode(\"%s\") = %s, want MCS_EINVAL", in, mcs_errname(rc));
}

/* ---- Encoding ------------------------------------------------------------ */

static void test_encode_matches_rfc4648_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < N_VECTORS; i++) {
    char out[16];
    size_t n = strlen(rfc4648_vectors[i].in);
    memset(out, 'X', sizeof out);
    assert_int_equal(mcs__b64_len(n), strlen(rfc4648_vectors[i].out));
    size_t w = mcs__b64_encode(rfc4648_vectors[i].in, n, out);
    assert_int_equal(w, strlen(rfc4648_vectors[i].out));
    assert_string_equal(out, rfc4648_vectors[i].out); /* NUL-terminated */
  }
}

static void test_decode_matches_rfc4648_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < N_VECTORS; i++) {
    uint8_t out[16];
    size_t len = 999;
    assert_int_equal(decode(rfc4648_vectors[i].out, out, sizeof out, &len),
                     MCS_OK);
    assert_int_equal(len, strlen(rfc4648_vectors[i].in));
    if (len)
      assert_memory_equal(out, rfc4648_vectors[i].in, len);
  }
}

static void test_encode_uses_plus_and_slash(void **state) {
  (void)state;
  const uint8_t in[] = {0xfb, 0xff, 0xbf};
  char out[8];
  assert_int_equal(mcs__b64_encode(in, 3, out), 4);
  assert_string_equal(out, "+/+/");
  assert_int_equal(mcs__b64_encode(in, 2, out), 4);
  assert_string_equal(out, "+/8=");
}

static void test_every_byte_value_round_trips(void **state) {
  (void)state;
  uint8_t in[256], back[256];
  char enc[400];
  for (int i = 0; i < 256; i++)
    in[i] = (uint8_t)i;
  /* Every length, so every padding case meets every byte. */
  for (size_t n = 0; n <= sizeof in; n++) {
    size_t w = mcs__b64_encode(in + (256 - n), n, enc);
    assert_int_equal(w, mcs__b64_len(n));
    assert_int_equal(w % 4, 0);
    assert_int_equal(strlen(enc), w);
    size_t len = 0;
    assert_int_equal(mcs__b64_decode(enc, w, back, sizeof back, &len), MCS_OK);
    assert_int_equal(len, n);
    if (n)
      assert_memory_equal(back, in + (256 - n), n);
  }
}

/* ---- URL-safe encoding ------------------------------------------------ */

static void test_url_encoding_has_no_padding(void **state) {
  (void)state;
  static const struct {
    const char *in;
    const char *out;
  } v[] = {{"", ""},         {"f", "Zg"},          {"fo", "Zm8"},
           {"foo", "Zm9v"},  {"foob", "Zm9vYg"},   {"fooba", "Zm9vYmE"},
           {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char out[16];
    size_t n = strlen(v[i].in);
    assert_int_equal(mcs__b64url_len(n), strlen(v[i].out));
    assert_int_equal(mcs__b64url_encode(v[i].in, n, out), strlen(v[i].out));
    assert_string_equal(out, v[i].out);
  }
}

static void test_url_encoding_uses_dash_and_underscore(void **state) {
  (void)state;
  const uint8_t in[] = {0xfb, 0xff, 0xbf, 0xfb, 0xff};
  char out[16];
  assert_int_equal(mcs__b64url_encode(in, sizeof in, out), 7);
  assert_string_equal(out, "-_-_-_8");
}

static void test_url_encoding_of_an_id_is_43_chars(void **state) {
  (void)state;
  uint8_t id[MCS_ID_BYTES];
  char out[MCS_ID_LEN + 8];
  memset(id, 0xff, sizeof id);
  assert_int_equal(mcs__b64url_len(MCS_ID_BYTES), 43);
  assert_int_equal(MCS_ID_LEN, 43);
  memset(out, 'X', sizeof out);
  assert_int_equal(mcs__b64url_encode(id, sizeof id, out), 43);
  assert_int_equal(out[43], '\0');
  /* 256 one bits: 42 x '_' (63), then 1111 + two zero bits (60, '8'). */
  assert_int_equal(strspn(out, "_"), 42);
  assert_int_equal(out[42], '8');
}

/* ---- Strict decoding -------------------------------------------------- */

static void test_decode_refuses_characters_outside_the_alphabet(void **state) {
  (void)state;
  expect_refused("Zm9-");  /* URL-safe alphabet is not the standard one */
  expect_refused("Zm9_");
  expect_refused("Zm9*");
  expect_refused("Z.9v");
  expect_refused("Zm9=v===");
}

/* Every byte outside the 65 characters of the alphabet, in every position
 * of a quantum. Bytes 0x80..0xff matter most: a decoder that reads them
 * as signed char may map them onto a real digit. */
static void test_decode_refuses_every_byte_outside_the_alphabet(void **state) {
  (void)state;
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int c = 0; c < 256; c++) {
    if (c == '=' || (c != 0 && strchr(alphabet, c)))
      continue;
    for (int pos = 0; pos < 4; pos++) {
      char in[4] = {'Z', 'm', '9', 'v'};
      uint8_t out[8];
      size_t len = 0;
      in[pos] = (char)c;
      int rc = mcs__b64_decode(in, 4, out, sizeof out, &len);
      if (rc != MCS_EINVAL)
        fail_msg("byte 0x%02x at %d: %s (decoded %zu bytes: %02x %02x %02x)",
                 c, pos, mcs_errname(rc), len, out[0], out[1], out[2]);
    }
  }
}

static void test_decode_refuses_embedded_nul(void **state) {
  (void)state;
  uint8_t out[8];
  size_t len;
  assert_int_equal(mcs__b64_decode("Zm\0v", 4, out, sizeof out, &len),
                   MCS_EINVAL);
}

static void test_decode_refuses_wrong_padding(void **state) {
  (void)state;
  expect_refused("Zg=A");     /* data after padding */
  expect_refused("Z===");     /* too much padding */
  expect_refused("====");
  expect_refused("Zm8==");    /* 5 chars */
  expect_refused("Zm9v====");  /* padding after a full quantum */
  expect_refused("Zg==Zg=="); /* padding in the middle */
  expect_refused("Zm=v");
}

static void test_decode_refuses_missing_padding(void **state) {
  (void)state;
  expect_refused("Zg");
  expect_refused("Zm8");
  expect_refused("Zg=");
  expect_refused("Zm9vYg");
}

static void test_decode_refuses_length_not_multiple_of_4(void **state) {
  (void)state;
  expect_refused("Z");
  expect_refused("Zm9vY");
  expect_refused("Zm9vYmFy1");
}

static void test_decode_refuses_noncanonical_trailing_bits(void **state) {
  (void)state;
  uint8_t out[4];
  size_t len = 0;
  assert_int_equal(decode("QQ==", out, sizeof out, &len), MCS_OK);
  assert_int_equal(len, 1);
  assert_int_equal(out[0], 'A');
  expect_refused("QR=="); /* same byte, non-zero unused bits */
  expect_refused("QX==");
  assert_int_equal(decode("QUI=", out, sizeof out, &len), MCS_OK);
  assert_int_equal(len, 2);
  expect_refused("QUJ="); /* "AB" with a stray low bit */
}

static void test_decode_refuses_whitespace(void **state) {
  (void)state;
  expect_refused(" Zm9v"); /* 5: length check */
  expect_refused(" Zm9");  /* 4: alphabet check */
  expect_refused("Zm9 ");
  expect_refused("Zm9v\nZm9");
  expect_refused("Zm\r\n");
  expect_refused("Zm9v\tYmE");
}

static void test_decode_of_empty_input_is_empty(void **state) {
  (void)state;
  uint8_t out[1];
  size_t len = 7;
  assert_int_equal(mcs__b64_decode("", 0, out, sizeof out, &len), MCS_OK);
  assert_int_equal(len, 0);
}

static void test_decode_reports_elimit_when_out_is_too_small(void **state) {
  (void)state;
  uint8_t out[8];
  size_t len;
  assert_int_equal(decode("Zm9v", out, 2, &len), MCS_ELIMIT);
  assert_int_equal(decode("Zm8=", out, 1, &len), MCS_ELIMIT);
  assert_int_equal(decode("Zg==", out, 0, &len), MCS_ELIMIT);
  assert_int_equal(decode("Zm9vYmFy", out, 5, &len), MCS_ELIMIT);
}

static void test_decode_into_exact_fit_buffer_with_padding(void **state) {
  (void)state;
  for (size_t i = 0; i < N_VECTORS; i++) {
    size_t n = strlen(rfc4648_vectors[i].in);
    uint8_t out[8];
    size_t len = 99;
    /* A buffer of exactly the decoded length (one byte for "Zg=="), even
     * though the padded input could hold up to 3 per quantum. */
    assert_int_equal(decode(rfc4648_vectors[i].out, out, n, &len), MCS_OK);
    assert_int_equal(len, n);
    if (n)
      assert_memory_equal(out, rfc4648_vectors[i].in, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_matches_rfc4648_vectors),
      cmocka_unit_test(test_decode_matches_rfc4648_vectors),
      cmocka_unit_test(test_encode_uses_plus_and_slash),
      cmocka_unit_test(test_every_byte_value_round_trips),
      cmocka_unit_test(test_url_encoding_has_no_padding),
      cmocka_unit_test(test_url_encoding_uses_dash_and_underscore),
      cmocka_unit_test(test_url_encoding_of_an_id_is_43_chars),
      cmocka_unit_test(test_decode_refuses_characters_outside_the_alphabet),
      cmocka_unit_test(test_decode_refuses_every_byte_outside_the_alphabet),
      cmocka_unit_test(test_decode_refuses_embedded_nul),
      cmocka_unit_test(test_decode_refuses_wrong_padding),
      cmocka_unit_test(test_decode_refuses_missing_padding),
      cmocka_unit_test(test_decode_refuses_length_not_multiple_of_4),
      cmocka_unit_test(test_decode_refuses_noncanonical_trailing_bits),
      cmocka_unit_test(test_decode_refuses_whitespace),
      cmocka_unit_test(test_decode_of_empty_input_is_empty),
      cmocka_unit_test(test_decode_reports_elimit_when_out_is_too_small),
      cmocka_unit_test(test_decode_into_exact_fit_buffer_with_padding),
  };
  return cmocka_run_group_tests_name("b64", tests, NULL, NULL);
}
