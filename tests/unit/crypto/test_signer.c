/* Tornado signed values (src/crypto/signer.c): known answers from the real
 * Tornado, tampering, age, the arguments of sign and verify, and random
 * round trips (the fixture: signer_fixture.h). Values that are validly
 * signed but wrongly built: test_signer_structure.c. */
#include "signer_fixture.h"

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
    assert_true(v->signed_len + 1 <=
                MCS_SIGNED_MAX_LEN(strlen(v->name), v->value_len));
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
      assert_int_equal(
          verify_guarded(ring, v->name, v->signed_value, len, v->timestamp, -1),
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
        assert_int_equal(
            verify_guarded(ring, v->name, buf, v->signed_len, v->timestamp, -1),
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
    assert_int_equal(
        verify_guarded(ring, v->name, buf, v->signed_len + 1, v->timestamp, -1),
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
  static const char *names[] = {
      "",         "Session",  "sessio",      "session ",
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
  assert_int_equal(
      mcs_sign(signer, 3, "session", "v", 1, NOW, buf, sizeof buf, &n), MCS_OK);
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
      mcs_keyring_add(ring, 2, "fedcba9876543210fedcba9876543210", 32), MCS_OK);
  char buf[OUT_MAX];
  size_t n = 0;
  assert_int_equal(
      mcs_sign(ring, 1, "session", "v", 1, NOW, buf, sizeof buf, &n), MCS_OK);
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
  assert_int_equal(
      verify_guarded(ring, "session", buf, n, NOW + max_age, max_age), MCS_OK);
  assert_int_equal(
      verify_guarded(ring, "session", buf, n, NOW + max_age + 1, max_age),
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
  assert_int_equal(
      verify_guarded(ring, "session", buf, n, INT64_MIN, INT64_MAX), MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MIN, 1),
                   MCS_OK);
  assert_int_equal(
      verify_guarded(ring, "session", buf, n, INT64_MAX, INT64_MAX), MCS_OK);
  assert_int_equal(verify_guarded(ring, "session", buf, n, INT64_MAX, 0),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

/* ---- Verify arguments and output --------------------------------------- */

static void
test_verify_reports_elimit_when_value_buffer_too_small(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("hello", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  char value[5];
  size_t len = 0;
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, value, 4, &len),
                   MCS_ELIMIT);
  assert_int_equal(len, 5);
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL, 0, &len),
                   MCS_ELIMIT);
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, value, 5, &len),
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
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL, 0, &len),
                   MCS_EBADSIG);
  mcs_keyring_free(ring);
}

static void test_verify_empty_value_needs_no_buffer(void **state) {
  (void)state;
  char buf[OUT_MAX];
  size_t n = sign_simple("", buf);
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  size_t len = 99;
  assert_int_equal(mcs_verify(ring, "session", buf, n, NOW, -1, NULL, 0, &len),
                   MCS_OK);
  assert_int_equal(len, 0);
  mcs_keyring_free(ring);
}

static void test_verify_rejects_null_arguments(void **state) {
  (void)state;
  char buf[OUT_MAX], value[16];
  size_t n = sign_simple("hello", buf), len;
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  assert_int_equal(
      mcs_verify(NULL, "session", buf, n, NOW, -1, value, sizeof value, &len),
      MCS_EINVAL);
  assert_int_equal(
      mcs_verify(ring, NULL, buf, n, NOW, -1, value, sizeof value, &len),
      MCS_EINVAL);
  assert_int_equal(
      mcs_verify(ring, "session", NULL, n, NOW, -1, value, sizeof value, &len),
      MCS_EINVAL);
  assert_int_equal(
      mcs_verify(ring, "session", buf, n, NOW, -1, NULL, sizeof value, &len),
      MCS_EINVAL);
  assert_int_equal(
      mcs_verify(ring, "session", buf, n, NOW, -1, value, sizeof value, NULL),
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
  assert_int_equal(mcs_sign(NULL, -1, "s", "v", 1, NOW, out, sizeof out, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", "v", 1, NOW, NULL, 100, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", NULL, 1, NOW, out, sizeof out, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, -1, "s", "v", 1, -1, out, sizeof out, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, 4, "s", "v", 1, NOW, out, sizeof out, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_sign(ring, MCS_KEY_VERSION_MAX + 1L, "s", "v", 1, NOW,
                            out, sizeof out, NULL),
                   MCS_EINVAL);
  assert_int_equal(
      mcs_sign(ring, -1, "s", big, sizeof big, NOW, out, sizeof out, NULL),
      MCS_ELIMIT);
  assert_int_equal(
      mcs_sign(ring, -1, "s", big, sizeof big - 1, NOW, out, sizeof out, NULL),
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
  assert_int_equal(
      mcs_sign(ring, 0, "session", NULL, 0, NOW, out, sizeof out, NULL),
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
  assert_int_equal(mcs_sign(ring, -1, name, value, sizeof value, INT64_MAX, out,
                            sizeof out, &n),
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
    assert_int_equal(
        mcs_sign(ring, -1, name, rnd + 64, value_len, ts, out, sizeof out, &n),
        MCS_OK);
    assert_int_equal(
        mcs_verify(ring, name, out, n, ts, 0, value, sizeof value, &len),
        MCS_OK);
    assert_int_equal(len, value_len);
    if (len)
      assert_memory_equal(value, rnd + 64, len);
    mcs_keyring_free(ring);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_reproduces_tornado_vectors),
      cmocka_unit_test(test_sign_with_current_key_matches_explicit_version),
      cmocka_unit_test(test_sign_fits_exact_buffer_and_not_one_less),
      cmocka_unit_test(test_verify_decodes_tornado_vectors),
      cmocka_unit_test(test_parse_reports_vector_fields),
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
  };
  if (sodium_init() < 0)
    return 1;
  return cmocka_run_group_tests_name("signer", tests, load_vectors,
                                     free_vectors);
}
