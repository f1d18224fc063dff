/* The key ring (src/crypto/keyring.c): versions, limits, rotation, deep
 * copies, every allocation failure; and that signing and verifying never
 * allocate (the fixture: signer_fixture.h). */
#include "signer_fixture.h"

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
  assert_int_equal(
      mcs_keyring_add(ring, MCS_KEY_VERSION_MAX + 1u, SECRET, SECRET_LEN),
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
  assert_int_equal(
      mcs_sign(ring, 0, "session", "hello", 5, NOW, out, sizeof out, NULL),
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
  assert_int_equal(
      mcs_sign(ring, -1, "session", "u1", 2, NOW, old, sizeof old, &old_n),
      MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, 2, new_secret, sizeof new_secret - 1),
                   MCS_OK);
  assert_int_equal(mcs_sign(ring, -1, "session", "u2", 2, NOW, fresh,
                            sizeof fresh, &fresh_n),
                   MCS_OK);
  assert_int_equal(memcmp(old, "2|1:1|", 6), 0);
  assert_int_equal(memcmp(fresh, "2|1:2|", 6), 0);
  assert_int_equal(verify_guarded(ring, "session", old, old_n, NOW, 0), MCS_OK);
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
  assert_int_equal(
      mcs_replace_allocator(hook_malloc, hook_realloc, hook_calloc, hook_free),
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

int main(void) {
  const struct CMUnitTest tests[] = {
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
  return cmocka_run_group_tests_name("keyring", tests, load_vectors,
                                     free_vectors);
}
