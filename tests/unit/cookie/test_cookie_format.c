/* Set-Cookie formatting (RFC 6265 section 4.1, RFC 6265bis prefixes and
 * SameSite, CHIPS): attributes, dates, refused bytes and combinations,
 * short buffers right before the guard page of cookie_fixture.h, and
 * output that parses back. */
#include "cookie_fixture.h"

/* ---- Formatting helpers -------------------------------------------------- */

static char out[2048];

static const char *fmt(const char *name, const char *value,
                       const mcs_cookie_attrs *a, int64_t now) {
  size_t len = 12345;
  int rc = mcs_cookie_format(name, value, value ? strlen(value) : 0, a, now,
                             out, sizeof out, &len);
  assert_int_equal(rc, MCS_OK);
  assert_int_equal(len, strlen(out));
  return out;
}

/* The formatter refuses and emits nothing: out[0] is NUL, the rest of the
 * buffer is untouched. */
static void expect_refused(const char *name, const char *value,
                           size_t value_len, const mcs_cookie_attrs *a) {
  size_t len = 12345;
  memset(out, 'X', sizeof out);
  assert_int_equal(
      mcs_cookie_format(name, value, value_len, a, 0, out, sizeof out, &len),
      MCS_EINVAL);
  assert_int_equal(out[0], '\0');
  assert_int_equal(out[1], 'X');
  assert_int_equal(len, 0);
}

static mcs_cookie_attrs defaults(void) {
  mcs_cookie_attrs a;
  memset(&a, 0x5a, sizeof a); /* init must set every field */
  mcs_cookie_attrs_init(&a);
  return a;
}

/* The defaults without Secure: most tests here look at one attribute at a
 * time, and Secure (on by default) would only repeat itself in every
 * expected string. */
static mcs_cookie_attrs plain(void) {
  mcs_cookie_attrs a = defaults();
  a.secure = 0;
  return a;
}

/* ---- Formatting ---------------------------------------------------------- */

static void test_attrs_init_sets_documented_defaults(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  assert_string_equal(a.path, "/");
  assert_null(a.domain);
  assert_true(a.max_age < 0);
  assert_int_equal(a.http_only, 1);
  assert_int_equal(a.secure, 1); /* secure by default */
  assert_int_equal(a.same_site, MCS_SAMESITE_LAX);
  assert_int_equal(a.partitioned, 0);
  assert_int_equal(mcs_cookie_attrs_check("session", &a), MCS_OK);
}

static void test_format_with_defaults(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  assert_string_equal(fmt("session", "abc", &a, 0),
                      "session=abc; Path=/; Secure; HttpOnly; SameSite=Lax");
  a.secure = 0; /* the one switch for plain-HTTP development */
  assert_string_equal(fmt("session", "abc", &a, 0),
                      "session=abc; Path=/; HttpOnly; SameSite=Lax");
}

static void test_format_writes_every_attribute_in_order(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.path = "/app";
  a.domain = "example.com";
  a.max_age = 3600;
  a.secure = 1;
  a.same_site = MCS_SAMESITE_NONE;
  a.partitioned = 1;
  assert_string_equal(
      fmt("session", "v", &a, 1700000000),
      "session=v; Path=/app; Domain=example.com; Max-Age=3600; "
      "Expires=Tue, 14 Nov 2023 23:13:20 GMT; Secure; HttpOnly; "
      "SameSite=None; Partitioned");
}

static void test_format_omits_disabled_attributes(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  assert_string_equal(fmt("a", "b", &a, 0), "a=b");
}

static void test_format_writes_samesite_strict(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.same_site = MCS_SAMESITE_STRICT;
  assert_string_equal(fmt("a", "b", &a, 0),
                      "a=b; Path=/; HttpOnly; SameSite=Strict");
}

static void test_format_accepts_empty_value(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  assert_string_equal(fmt("a", "", &a, 0), "a=; Path=/");
  assert_string_equal(fmt("a", NULL, &a, 0), "a=; Path=/");
}

static void test_format_accepts_every_token_and_cookie_octet(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  assert_string_equal(fmt("!#$%&'*+-.^_`|~09AZaz", "!#+-:<[]~{}=/?@", &a, 0),
                      "!#$%&'*+-.^_`|~09AZaz=!#+-:<[]~{}=/?@");
}

static const struct {
  int64_t now, max_age;
  const char *expires;
} expiry_cases[] = {
    {0, 1, "Thu, 01 Jan 1970 00:00:01 GMT"},
    {951827695, 1, "Tue, 29 Feb 2000 12:34:56 GMT"},      /* leap day */
    {1709164800, 86399, "Thu, 29 Feb 2024 23:59:59 GMT"}, /* leap day */
    {4107542399, 1, "Mon, 01 Mar 2100 00:00:00 GMT"},     /* 2100: no leap */
    {2147483647, 1, "Tue, 19 Jan 2038 03:14:08 GMT"},     /* past int32 */
    {4294967295, 1, "Sun, 07 Feb 2106 06:28:16 GMT"},     /* past uint32 */
    {253402300000, 799, "Fri, 31 Dec 9999 23:59:59 GMT"},
};

static void test_format_dates_expires_as_imf_fixdate(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  char want[256];
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  for (size_t i = 0; i < sizeof expiry_cases / sizeof expiry_cases[0]; i++) {
    a.max_age = expiry_cases[i].max_age;
    snprintf(want, sizeof want, "a=b; Max-Age=%lld; Expires=%s",
             (long long)expiry_cases[i].max_age, expiry_cases[i].expires);
    assert_string_equal(fmt("a", "b", &a, expiry_cases[i].now), want);
  }
}

static void test_format_clamps_expires_to_year_9999(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  a.max_age = INT64_MAX;
  assert_string_equal(fmt("a", "b", &a, INT64_MAX),
                      "a=b; Max-Age=9223372036854775807; "
                      "Expires=Fri, 31 Dec 9999 23:59:59 GMT");
  a.max_age = 2;
  assert_string_equal(fmt("a", "b", &a, 253402300798),
                      "a=b; Max-Age=2; Expires=Fri, 31 Dec 9999 23:59:59 GMT");
}

static void test_format_dates_from_epoch_when_clock_is_negative(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  a.max_age = 60;
  assert_string_equal(fmt("a", "b", &a, INT64_MIN),
                      "a=b; Max-Age=60; Expires=Thu, 01 Jan 1970 00:01:00 GMT");
}

static void test_format_max_age_zero_expires_at_epoch(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.max_age = 0;
  assert_string_equal(fmt("session", "", &a, 1700000000),
                      "session=; Path=/; Max-Age=0; "
                      "Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
                      "SameSite=Lax");
}

static void test_format_negative_max_age_omits_max_age_and_expires(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.max_age = -1;
  assert_string_equal(fmt("a", "b", &a, 1700000000),
                      "a=b; Path=/; HttpOnly; SameSite=Lax");
  a.max_age = INT64_MIN;
  assert_string_equal(fmt("a", "b", &a, 1700000000),
                      "a=b; Path=/; HttpOnly; SameSite=Lax");
}

/* Bytes that must never reach a header through any field. */
static const char always_bad[] = {'\r', '\n',       ';',       ',',  ' ',
                                  '"',  '\\',       0x7f,      0x01, 0x1f,
                                  '\t', (char)0x80, (char)0xff};

static void with_byte(char *buf, const char *tmpl, size_t at, char c) {
  strcpy(buf, tmpl);
  buf[at] = c;
}

static void test_format_refuses_bad_bytes_in_name(void **s) {
  (void)s;
  static const char more[] = "=()<>@:/[]?{}";
  mcs_cookie_attrs a = plain();
  char name[8];
  for (size_t i = 0; i < sizeof always_bad + sizeof more - 1; i++) {
    char c =
        i < sizeof always_bad ? always_bad[i] : more[i - sizeof always_bad];
    for (size_t at = 0; at < 3; at++) {
      with_byte(name, "abc", at, c);
      expect_refused(name, "v", 1, &a);
      assert_int_equal(mcs_cookie_attrs_check(name, &a), MCS_EINVAL);
    }
  }
  expect_refused("", "v", 1, &a); /* the C string ends at a NUL */
  expect_refused(NULL, "v", 1, &a);
}

static void test_format_refuses_bad_bytes_in_value(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  char value[8];
  for (size_t i = 0; i < sizeof always_bad; i++) {
    for (size_t at = 0; at < 3; at++) {
      with_byte(value, "abc", at, always_bad[i]);
      expect_refused("n", value, 3, &a);
    }
  }
  expect_refused("n", "a\0b", 3, &a); /* a NUL inside value_len */
  expect_refused("n", "\0", 1, &a);
  expect_refused("n", NULL, 1, &a);
}

static void test_format_refuses_bad_bytes_in_path(void **s) {
  (void)s;
  static const char more[] = "<>#?[]{}|^`";
  mcs_cookie_attrs a = plain();
  char path[8];
  a.path = path;
  for (size_t i = 0; i < sizeof always_bad + sizeof more - 1; i++) {
    char c =
        i < sizeof always_bad ? always_bad[i] : more[i - sizeof always_bad];
    if (c == ',')
      continue; /* a URI path may hold ',' (RFC 3986 sub-delims) */
    for (size_t at = 1; at < 4; at++) {
      with_byte(path, "/abc", at, c);
      expect_refused("n", "v", 1, &a);
      assert_int_equal(mcs_cookie_attrs_check("n", &a), MCS_EINVAL);
    }
  }
}

static void test_format_accepts_uri_path_characters(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  a.path = "/a-b._~!$&'()*+,=:@%20/";
  assert_string_equal(fmt("n", "v", &a, 0),
                      "n=v; Path=/a-b._~!$&'()*+,=:@%20/");
}

static void test_format_refuses_empty_relative_or_long_path(void **s) {
  (void)s;
  static char long_path[1026];
  mcs_cookie_attrs a = plain();
  a.path = "";
  expect_refused("n", "v", 1, &a);
  a.path = "app";
  expect_refused("n", "v", 1, &a);
  memset(long_path, 'p', sizeof long_path - 1);
  long_path[0] = '/';
  long_path[1025] = '\0'; /* 1025 bytes */
  a.path = long_path;
  expect_refused("n", "v", 1, &a);
  long_path[1024] = '\0'; /* 1024 bytes: the limit */
  assert_int_equal(mcs_cookie_attrs_check("n", &a), MCS_OK);
}

static void test_format_refuses_bad_bytes_in_domain(void **s) {
  (void)s;
  static const char more[] = "_/:@%*=";
  mcs_cookie_attrs a = plain();
  char domain[16];
  a.domain = domain;
  for (size_t i = 0; i < sizeof always_bad + sizeof more - 1; i++) {
    char c =
        i < sizeof always_bad ? always_bad[i] : more[i - sizeof always_bad];
    for (size_t at = 0; at < 3; at++) {
      with_byte(domain, "a.example", at, c);
      expect_refused("n", "v", 1, &a);
      assert_int_equal(mcs_cookie_attrs_check("n", &a), MCS_EINVAL);
    }
  }
}

static void test_format_refuses_empty_or_long_domain(void **s) {
  (void)s;
  static char long_domain[257];
  mcs_cookie_attrs a = plain();
  a.domain = "";
  expect_refused("n", "v", 1, &a);
  memset(long_domain, 'd', 256);
  a.domain = long_domain;
  expect_refused("n", "v", 1, &a);
  long_domain[255] = '\0';
  assert_int_equal(mcs_cookie_attrs_check("n", &a), MCS_OK);
  a.domain = ".Example-1.COM";
  assert_int_equal(mcs_cookie_attrs_check("n", &a), MCS_OK);
}

static void test_format_refuses_null_attrs(void **s) {
  (void)s;
  expect_refused("n", "v", 1, NULL);
  assert_int_equal(mcs_cookie_attrs_check("n", NULL), MCS_EINVAL);
}

static void test_format_refuses_unknown_samesite_value(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.same_site = (mcs_samesite)42;
  expect_refused("n", "v", 1, &a);
  a.same_site = (mcs_samesite)-1;
  expect_refused("n", "v", 1, &a);
}

static void test_format_refuses_name_and_value_over_4096_bytes(void **s) {
  (void)s;
  static char value[4097];
  mcs_cookie_attrs a = plain();
  memset(value, 'v', sizeof value);
  expect_refused("nm", value, 4095, &a);
  size_t len;
  static char big[8192];
  assert_int_equal(
      mcs_cookie_format("nm", value, 4094, &a, 0, big, sizeof big, &len),
      MCS_OK);
  assert_int_equal(len,
                   2 + 1 + 4094 + strlen("; Path=/; HttpOnly; SameSite=Lax"));
}

static void
test_format_host_prefix_requires_secure_root_path_no_domain(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.secure = 1;
  assert_string_equal(fmt("__Host-s", "v", &a, 0),
                      "__Host-s=v; Path=/; Secure; HttpOnly; SameSite=Lax");
  a.secure = 0;
  expect_refused("__Host-s", "v", 1, &a);
  a.secure = 1;
  a.path = "/app";
  expect_refused("__Host-s", "v", 1, &a);
  a.path = NULL;
  expect_refused("__Host-s", "v", 1, &a);
  a.path = "/";
  a.domain = "example.com";
  expect_refused("__Host-s", "v", 1, &a);
  a.secure = 0;
  a.domain = NULL;
  expect_refused("__HOST-s", "v", 1, &a); /* matched case-insensitively */
  expect_refused("__host-", "v", 1, &a);
}

static void test_format_secure_prefix_requires_secure(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  expect_refused("__Secure-s", "v", 1, &a);
  expect_refused("__secure-s", "v", 1, &a);
  a.secure = 1;
  a.domain = "example.com";
  a.path = "/app";
  assert_string_equal(fmt("__Secure-s", "v", &a, 0),
                      "__Secure-s=v; Path=/app; Domain=example.com; Secure; "
                      "HttpOnly; SameSite=Lax");
}

static void test_format_leaves_lookalike_prefixes_alone(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  assert_string_equal(fmt("_Host-s", "v", &a, 0),
                      "_Host-s=v; Path=/; HttpOnly; SameSite=Lax");
  assert_string_equal(fmt("__Hosts", "v", &a, 0),
                      "__Hosts=v; Path=/; HttpOnly; SameSite=Lax");
  assert_string_equal(fmt("__Secure", "v", &a, 0),
                      "__Secure=v; Path=/; HttpOnly; SameSite=Lax");
}

static void test_format_refuses_samesite_none_without_secure(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.same_site = MCS_SAMESITE_NONE;
  expect_refused("n", "v", 1, &a);
  a.secure = 1;
  assert_string_equal(fmt("n", "v", &a, 0),
                      "n=v; Path=/; Secure; HttpOnly; SameSite=None");
}

static void test_format_refuses_partitioned_without_secure(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.partitioned = 1;
  expect_refused("n", "v", 1, &a);
  a.secure = 1;
  assert_string_equal(
      fmt("n", "v", &a, 0),
      "n=v; Path=/; Secure; HttpOnly; SameSite=Lax; Partitioned");
}

/* Every size below the needed one fails with MCS_ELIMIT, writes nothing
 * past out_size (the buffer ends at the guard page) and nothing before
 * `out`, and leaves out[0] NUL; the exact size succeeds. */
static void test_format_reports_elimit_for_every_short_buffer(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.domain = "example.com";
  a.max_age = 60;
  a.secure = 1;
  a.partitioned = 1;
  const char *full = fmt("__Secure-id", "value", &a, 1700000000);
  size_t need = strlen(full) + 1;
  for (size_t size = 0; size <= need; size++) {
    char *o = guard_end - size;
    size_t len = 12345;
    memset(o - 1, 'X', size + 1);
    int rc = mcs_cookie_format("__Secure-id", "value", 5, &a, 1700000000, o,
                               size, &len);
    assert_int_equal(o[-1], 'X');
    if (size == need) {
      assert_int_equal(rc, MCS_OK);
      assert_string_equal(o, full);
      assert_int_equal(len, need - 1);
    } else {
      assert_int_equal(rc, MCS_ELIMIT);
      assert_int_equal(len, 0);
      if (size)
        assert_int_equal(o[0], '\0');
    }
  }
}

static void test_format_rejects_null_out_with_size(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  assert_int_equal(mcs_cookie_format("n", "v", 1, &a, 0, NULL, 10, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_cookie_format("n", "v", 1, &a, 0, NULL, 0, NULL),
                   MCS_ELIMIT);
}

static void test_format_output_parses_back(void **s) {
  (void)s;
  mcs_cookie_attrs a = plain();
  a.max_age = 100;
  const char *h = fmt("session", "2|1:0|10:1700000000|4:c2Vz|ab", &a, 5);
  expect_found(h, "session", "2|1:0|10:1700000000|4:c2Vz|ab");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_attrs_init_sets_documented_defaults),
      cmocka_unit_test(test_format_with_defaults),
      cmocka_unit_test(test_format_writes_every_attribute_in_order),
      cmocka_unit_test(test_format_omits_disabled_attributes),
      cmocka_unit_test(test_format_writes_samesite_strict),
      cmocka_unit_test(test_format_accepts_empty_value),
      cmocka_unit_test(test_format_accepts_every_token_and_cookie_octet),
      cmocka_unit_test(test_format_dates_expires_as_imf_fixdate),
      cmocka_unit_test(test_format_clamps_expires_to_year_9999),
      cmocka_unit_test(test_format_dates_from_epoch_when_clock_is_negative),
      cmocka_unit_test(test_format_max_age_zero_expires_at_epoch),
      cmocka_unit_test(test_format_negative_max_age_omits_max_age_and_expires),
      cmocka_unit_test(test_format_refuses_bad_bytes_in_name),
      cmocka_unit_test(test_format_refuses_bad_bytes_in_value),
      cmocka_unit_test(test_format_refuses_bad_bytes_in_path),
      cmocka_unit_test(test_format_accepts_uri_path_characters),
      cmocka_unit_test(test_format_refuses_empty_relative_or_long_path),
      cmocka_unit_test(test_format_refuses_bad_bytes_in_domain),
      cmocka_unit_test(test_format_refuses_empty_or_long_domain),
      cmocka_unit_test(test_format_refuses_null_attrs),
      cmocka_unit_test(test_format_refuses_unknown_samesite_value),
      cmocka_unit_test(test_format_refuses_name_and_value_over_4096_bytes),
      cmocka_unit_test(
          test_format_host_prefix_requires_secure_root_path_no_domain),
      cmocka_unit_test(test_format_secure_prefix_requires_secure),
      cmocka_unit_test(test_format_leaves_lookalike_prefixes_alone),
      cmocka_unit_test(test_format_refuses_samesite_none_without_secure),
      cmocka_unit_test(test_format_refuses_partitioned_without_secure),
      cmocka_unit_test(test_format_reports_elimit_for_every_short_buffer),
      cmocka_unit_test(test_format_rejects_null_out_with_size),
      cmocka_unit_test(test_format_output_parses_back),
  };
  return cmocka_run_group_tests_name("cookie_format", tests, guard_setup,
                                     guard_teardown);
}
