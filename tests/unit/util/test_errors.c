/* Error codes, their messages and names (src/util/error.c, generated from
 * MCS_ERRNO_MAP), the version, and the allocator hook's argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcsession.h"

typedef struct code_info {
  int value;
  const char *name; /* "EINVAL" */
  const char *msg;
} code_info;

static const code_info codes[] = {
#define CODE_INFO(name, value, msg) {value, #name, msg},
    MCS_ERRNO_MAP(CODE_INFO)
#undef CODE_INFO
};
#define N_CODES (sizeof codes / sizeof codes[0])

static void test_codes_are_negative_and_distinct(void **state) {
  (void)state;
  /* No success value hides in the error list; no two codes collide. */
  assert_true(N_CODES >= 16);
  for (size_t i = 0; i < N_CODES; i++) {
    assert_true(codes[i].value < 0);
    for (size_t j = i + 1; j < N_CODES; j++)
      assert_int_not_equal(codes[i].value, codes[j].value);
  }
  /* Values are ABI: the documented ones never move. */
  assert_int_equal(MCS_EINVAL, -1);
  assert_int_equal(MCS_EBADSIG, -3);
  assert_int_equal(MCS_ENOENT, -11);
  assert_int_equal(MCS_EIO, -16);
  assert_int_equal(MCS_OK, 0);
}

static void test_strerror_gives_the_map_message_for_every_code(void **state) {
  (void)state;
  for (size_t i = 0; i < N_CODES; i++) {
    const char *m = mcs_strerror(codes[i].value);
    assert_non_null(m);
    assert_true(m[0] != '\0');
    assert_string_equal(m, codes[i].msg);
    assert_string_not_equal(m, "unknown error");
    assert_string_not_equal(m, mcs_strerror(MCS_OK));
  }
}

static void test_strerror_messages_are_distinct(void **state) {
  (void)state;
  for (size_t i = 0; i < N_CODES; i++)
    for (size_t j = i + 1; j < N_CODES; j++)
      assert_string_not_equal(mcs_strerror(codes[i].value),
                              mcs_strerror(codes[j].value));
}

static void test_errname_is_mcs_prefix_plus_name(void **state) {
  (void)state;
  for (size_t i = 0; i < N_CODES; i++) {
    char want[64];
    snprintf(want, sizeof want, "MCS_%s", codes[i].name);
    assert_string_equal(mcs_errname(codes[i].value), want);
  }
  assert_string_equal(mcs_errname(MCS_EBADSIG), "MCS_EBADSIG");
  assert_string_equal(mcs_errname(MCS_ETOOBIG), "MCS_ETOOBIG");
}

static void test_ok_has_its_own_message_and_name(void **state) {
  (void)state;
  assert_string_equal(mcs_errname(MCS_OK), "MCS_OK");
  assert_non_null(mcs_strerror(MCS_OK));
  assert_true(mcs_strerror(MCS_OK)[0] != '\0');
  assert_string_not_equal(mcs_strerror(MCS_OK), "unknown error");
}

static void test_unknown_codes_are_named_unknown(void **state) {
  (void)state;
  const int unknown[] = {1, 2, 100, -18, -100, -1000, INT32_MAX, INT32_MIN};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    assert_string_equal(mcs_strerror(unknown[i]), "unknown error");
    assert_string_equal(mcs_errname(unknown[i]), "MCS_UNKNOWN");
  }
}

/* One mapping for every adapter: the statuses the adapters document. */
static void test_http_status_for_every_code(void **state) {
  (void)state;
  static const struct {
    int err;
    unsigned status;
  } want[] = {
      {MCS_OK, 200},        {MCS_ELIMIT, 431},    {MCS_ETOOBIG, 413},
      {MCS_EBADSIG, 403},   {MCS_EINVAL, 400},    {MCS_EGONE, 409},
      {MCS_ESTORE, 503},    {MCS_ETIMEDOUT, 503}, {MCS_EPROTO, 503},
      {MCS_ENOMEM, 503},    {MCS_ECONFLICT, 503}, {MCS_ECORRUPT, 500},
      {MCS_ENOENT, 500},    {MCS_ETYPE, 500},     {MCS_ERANGE, 500},
      {MCS_ESTATE, 500},    {MCS_EIO, 500},       {1, 500},
      {-1000, 500},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    assert_int_equal(mcs_http_status_for_error(want[i].err), want[i].status);
  /* Every code maps to an error status (a code added later must be
   * placed deliberately, or it is a 500). */
  for (size_t i = 0; i < N_CODES; i++) {
    unsigned st = mcs_http_status_for_error(codes[i].value);
    assert_true(st >= 400 && st <= 599);
  }
}

static void test_version_matches_the_macros(void **state) {
  (void)state;
  unsigned want = ((unsigned)MCS_VERSION_MAJOR << 16) |
                  ((unsigned)MCS_VERSION_MINOR << 8) | MCS_VERSION_PATCH;
  assert_int_equal(mcs_version(), want);
  assert_int_equal(mcs_version() >> 16, MCS_VERSION_MAJOR);
  assert_int_equal((mcs_version() >> 8) & 0xff, MCS_VERSION_MINOR);
  assert_int_equal(mcs_version() & 0xff, MCS_VERSION_PATCH);
  char s[32];
  snprintf(s, sizeof s, "%d.%d.%d", MCS_VERSION_MAJOR, MCS_VERSION_MINOR,
           MCS_VERSION_PATCH);
  assert_string_equal(MCS_VERSION_STRING, s);
  assert_string_equal(mcs_version_string(), MCS_VERSION_STRING);
}

static void test_replace_allocator_refuses_nulls(void **state) {
  (void)state;
  assert_int_equal(mcs_replace_allocator(NULL, realloc, calloc, free),
                   MCS_EINVAL);
  assert_int_equal(mcs_replace_allocator(malloc, NULL, calloc, free),
                   MCS_EINVAL);
  assert_int_equal(mcs_replace_allocator(malloc, realloc, NULL, free),
                   MCS_EINVAL);
  assert_int_equal(mcs_replace_allocator(malloc, realloc, calloc, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_replace_allocator(NULL, NULL, NULL, NULL), MCS_EINVAL);
  /* A refused call left the working allocator in place. */
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  mcs_keyring_free(ring);
  /* And the four standard functions are accepted. */
  assert_int_equal(mcs_replace_allocator(malloc, realloc, calloc, free),
                   MCS_OK);
}

/* Counting hooks: the library's allocations go through them once
 * installed. */
static size_t hook_mallocs, hook_frees;
static void *count_malloc(size_t n) {
  hook_mallocs++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n) {
  if (!p)
    hook_mallocs++;
  return realloc(p, n);
}
static void *count_calloc(size_t n, size_t m) {
  hook_mallocs++;
  return calloc(n, m);
}
static void count_free(void *p) {
  if (p)
    hook_frees++;
  free(p);
}

static void test_replaced_allocator_is_used(void **state) {
  (void)state;
  assert_int_equal(mcs_replace_allocator(count_malloc, count_realloc,
                                         count_calloc, count_free),
                   MCS_OK);
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_true(hook_mallocs > 0);
  mcs_keyring_free(ring);
  assert_int_equal(hook_frees, hook_mallocs);
  assert_int_equal(mcs_replace_allocator(malloc, realloc, calloc, free),
                   MCS_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes_are_negative_and_distinct),
      cmocka_unit_test(test_strerror_gives_the_map_message_for_every_code),
      cmocka_unit_test(test_strerror_messages_are_distinct),
      cmocka_unit_test(test_errname_is_mcs_prefix_plus_name),
      cmocka_unit_test(test_ok_has_its_own_message_and_name),
      cmocka_unit_test(test_unknown_codes_are_named_unknown),
      cmocka_unit_test(test_http_status_for_every_code),
      cmocka_unit_test(test_version_matches_the_macros),
      cmocka_unit_test(test_replace_allocator_refuses_nulls),
      cmocka_unit_test(test_replaced_allocator_is_used),
  };
  return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
