/* Sealed records at the crypto level (crypto/seal.c): the construction
 * the comment documents, checked against libsodium's primitives directly;
 * every alteration, truncation, other context, other store key, other
 * secret and unknown key version refused; rotation across versions; a
 * record sealed by this format's first release still opens. */
#include "test_util.h"

#include <sodium.h>

#include "crypto/crypto_int.h"

static const char id[] = "k3Jq0n1pXh3cz9q9aYd0yTfIYtF8c7cR4c2pJ2j8c2A";
static const char key[] = "mcs:zq3YbW1N0aJ6i0bGhXh9Yv0yHqk1x3r4e6a7b8c9d0e";
static const char plain[] = "{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"who\":\"alice\"}}";

/* Whether needle occurs in hay. */
static bool contains(const uint8_t *hay, size_t n, const char *needle) {
  size_t m = strlen(needle);
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(hay + i, needle, m) == 0)
      return true;
  return false;
}

static mcs_keyring *ring_of(unsigned v1, const char *s1, unsigned v2,
                            const char *s2) {
  mcs_keyring *r = NULL;
  assert_int_equal(mcs_keyring_new(&r), MCS_OK);
  assert_int_equal(mcs_keyring_add(r, v1, s1, strlen(s1)), MCS_OK);
  if (s2)
    assert_int_equal(mcs_keyring_add(r, v2, s2, strlen(s2)), MCS_OK);
  return r;
}

static mcs__sealer *sealer_of(mcs_keyring *ring) {
  mcs__sealer *s = NULL;
  assert_int_equal(mcs__sealer_new(ring, &s), MCS_OK);
  mcs_keyring_free(ring);
  return s;
}

/* A sealed copy of `plain` for (id, key) into b. */
static void seal_into(const mcs__sealer *s, const char *ctx, const char *k,
                      mcs__buf *b) {
  mcs__buf_reset(b);
  assert_int_equal(mcs__buf_append(b, plain, sizeof plain - 1), MCS_OK);
  assert_int_equal(mcs__seal(s, ctx, strlen(ctx), k, strlen(k), b), MCS_OK);
  assert_int_equal(b->len, sizeof plain - 1 + MCS__SEAL_OVERHEAD);
}

static int open_of(const mcs__sealer *s, const char *ctx, const char *k,
                   const uint8_t *in, size_t len, mcs__buf *out) {
  return mcs__unseal(s, ctx, strlen(ctx), k, strlen(k), in, len, out);
}

static void test_round_trip_and_fresh_nonces(void **state) {
  (void)state;
  mcs__sealer *s = sealer_of(ring_of(0, test_secret, 0, NULL));
  mcs__buf a = MCS__BUF_INIT, b = MCS__BUF_INIT, out = MCS__BUF_INIT;
  seal_into(s, id, key, &a);
  seal_into(s, id, key, &b);
  assert_true(mcs__sealed(a.data, a.len));
  assert_false(mcs__sealed((const uint8_t *)plain, sizeof plain - 1));
  /* Random nonces: the same record never seals to the same bytes. */
  assert_memory_not_equal(a.data + 8, b.data + 8, 24);
  assert_int_equal(open_of(s, id, key, a.data, a.len, &out), MCS_OK);
  assert_int_equal(out.len, sizeof plain - 1);
  assert_memory_equal(out.data, plain, out.len);
  /* Nothing of the plain text shows. */
  assert_false(contains(a.data, a.len, "alice"));
  mcs__buf_free(&a);
  mcs__buf_free(&b);
  mcs__buf_free(&out);
  mcs__sealer_free(s);
}

/* The construction, recomputed from libsodium alone: master =
 * HMAC-SHA256(key "mcsession record seal", secret) (HKDF-Extract), record
 * key = BLAKE2b-256(key master, "mcsession record key v1" || id), and
 * XChaCha20-Poly1305 with the header and the store key as associated data. */
static void test_construction_is_the_documented_one(void **state) {
  (void)state;
  mcs__sealer *s = sealer_of(ring_of(7, test_secret, 0, NULL));
  mcs__buf b = MCS__BUF_INIT;
  seal_into(s, id, key, &b);
  static const uint8_t header[8] = {0, 'm', 's', 1, 0, 0, 0, 7};
  assert_memory_equal(b.data, header, 8);
  uint8_t prk[32], k[32], ad[8 + sizeof key], out[sizeof plain];
  static const char salt[] = "mcsession record seal";
  static const char label[] = "mcsession record key v1";
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const uint8_t *)salt, sizeof salt - 1);
  crypto_auth_hmacsha256_update(&st, (const uint8_t *)test_secret,
                                sizeof test_secret - 1);
  crypto_auth_hmacsha256_final(&st, prk);
  uint8_t info[sizeof label - 1 + sizeof id - 1];
  memcpy(info, label, sizeof label - 1);
  memcpy(info + sizeof label - 1, id, sizeof id - 1);
  assert_int_equal(crypto_generichash(k, sizeof k, info, sizeof info, prk,
                                      sizeof prk),
                   0);
  memcpy(ad, b.data, 8);
  memcpy(ad + 8, key, sizeof key - 1);
  unsigned long long n = 0;
  assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
                       out, &n, NULL, b.data + 32, b.len - 32, ad,
                       8 + sizeof key - 1, b.data + 8, k),
                   0);
  assert_int_equal(n, sizeof plain - 1);
  assert_memory_equal(out, plain, n);
  mcs__buf_free(&b);
  mcs__sealer_free(s);
}

/* Every single-bit change anywhere, and every truncation, is refused. */
static void test_any_alteration_or_truncation_is_refused(void **state) {
  (void)state;
  mcs__sealer *s = sealer_of(ring_of(0, test_secret, 0, NULL));
  mcs__buf b = MCS__BUF_INIT, out = MCS__BUF_INIT;
  seal_into(s, id, key, &b);
  for (size_t i = 0; i < b.len; i++)
    for (int bit = 0; bit < 8; bit++) {
      b.data[i] ^= (uint8_t)(1u << bit);
      assert_int_equal(open_of(s, id, key, b.data, b.len, &out), MCS_EBADSIG);
      b.data[i] ^= (uint8_t)(1u << bit);
    }
  for (size_t len = 0; len < b.len; len++)
    assert_int_equal(open_of(s, id, key, b.data, len, &out), MCS_EBADSIG);
  assert_int_equal(open_of(s, id, key, b.data, b.len, &out), MCS_OK);
  mcs__buf_free(&b);
  mcs__buf_free(&out);
  mcs__sealer_free(s);
}

static void test_other_id_key_or_secret_is_refused(void **state) {
  (void)state;
  mcs__sealer *s = sealer_of(ring_of(0, test_secret, 0, NULL));
  mcs__sealer *other = sealer_of(ring_of(0, "another secret, 16+ bytes", 0,
                                         NULL));
  mcs__buf b = MCS__BUF_INIT, out = MCS__BUF_INIT;
  seal_into(s, id, key, &b);
  assert_int_equal(open_of(s, "another-id", key, b.data, b.len, &out),
                   MCS_EBADSIG);
  assert_int_equal(open_of(s, id, "mcs:another-key", b.data, b.len, &out),
                   MCS_EBADSIG);
  assert_int_equal(open_of(other, id, key, b.data, b.len, &out), MCS_EBADSIG);
  mcs__buf_free(&b);
  mcs__buf_free(&out);
  mcs__sealer_free(s);
  mcs__sealer_free(other);
}

/* The newest version seals; every version in the ring opens; a version
 * removed from the ring no longer does, and relabelling a record with
 * another version of the ring does not help. */
static void test_rotation(void **state) {
  (void)state;
  mcs__sealer *v1 = sealer_of(ring_of(1, test_secret, 0, NULL));
  mcs__sealer *v12 = sealer_of(ring_of(1, test_secret, 2, "the newer secret!"));
  mcs__sealer *v2 = sealer_of(ring_of(2, "the newer secret!", 0, NULL));
  mcs__buf old = MCS__BUF_INIT, fresh = MCS__BUF_INIT, out = MCS__BUF_INIT;
  seal_into(v1, id, key, &old);
  seal_into(v12, id, key, &fresh);
  assert_int_equal(old.data[7], 1);
  assert_int_equal(fresh.data[7], 2);
  assert_int_equal(open_of(v12, id, key, old.data, old.len, &out), MCS_OK);
  assert_int_equal(open_of(v12, id, key, fresh.data, fresh.len, &out), MCS_OK);
  assert_int_equal(open_of(v2, id, key, fresh.data, fresh.len, &out), MCS_OK);
  assert_int_equal(open_of(v2, id, key, old.data, old.len, &out), MCS_EBADSIG);
  assert_int_equal(open_of(v1, id, key, fresh.data, fresh.len, &out),
                   MCS_EBADSIG);
  old.data[7] = 2;
  assert_int_equal(open_of(v12, id, key, old.data, old.len, &out), MCS_EBADSIG);
  mcs__buf_free(&old);
  mcs__buf_free(&fresh);
  mcs__buf_free(&out);
  mcs__sealer_free(v1);
  mcs__sealer_free(v12);
  mcs__sealer_free(v2);
}

/* A record sealed by the format's first release (test_secret, version 0,
 * for `id` under `key`): records already in stores must keep opening. */
static const char first_release_hex[] =
    "006d7301000000006c9eda0463801ce15125e56c823d239818c9e820f57a4b06"
    "b7925c2d85069bfcc9fe8e6d50d717d9790ae5ff5d3cde415182dce513d6a911"
    "029a0ccab3b3c2c7655daa0cbb3dc6e1146cbe0bf8c7d5";

static void test_records_of_the_first_release_open(void **state) {
  (void)state;
  mcs__sealer *s = sealer_of(ring_of(0, test_secret, 0, NULL));
  uint8_t rec[256];
  size_t len = 0;
  assert_int_equal(sodium_hex2bin(rec, sizeof rec, first_release_hex,
                                  strlen(first_release_hex), NULL, &len, NULL),
                   0);
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(open_of(s, id, key, rec, len, &out), MCS_OK);
  assert_int_equal(out.len, sizeof plain - 1);
  assert_memory_equal(out.data, plain, out.len);
  mcs__buf_free(&out);
  mcs__sealer_free(s);
}

int main(void) {
  assert_int_equal(sodium_init() >= 0, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_and_fresh_nonces),
      cmocka_unit_test(test_construction_is_the_documented_one),
      cmocka_unit_test(test_any_alteration_or_truncation_is_refused),
      cmocka_unit_test(test_other_id_key_or_secret_is_refused),
      cmocka_unit_test(test_rotation),
      cmocka_unit_test(test_records_of_the_first_release_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
