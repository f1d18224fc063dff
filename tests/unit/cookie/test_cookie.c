/* Cookie header parsing (RFC 6265 section 5.4 / 4.2.1): splitting,
 * trimming, quotes, limits, finding one cookie, and never reading past
 * `len` (the guard page of cookie_fixture.h). Set-Cookie formatting:
 * test_cookie_format.c. */
#include "cookie_fixture.h"

/* ---- Parsing ------------------------------------------------------------- */

static void test_parse_splits_pairs_separated_by_semicolon_space(void **s) {
  (void)s;
  assert_int_equal(parse("a=1; b=2; session=xyz"), 3);
  expect_pair(0, "a", "1");
  expect_pair(1, "b", "2");
  expect_pair(2, "session", "xyz");
}

static void test_parse_accepts_pairs_without_spaces(void **s) {
  (void)s;
  assert_int_equal(parse("a=1;b=2;c=3"), 3);
  expect_pair(0, "a", "1");
  expect_pair(1, "b", "2");
  expect_pair(2, "c", "3");
}

static void test_parse_trims_spaces_and_tabs_around_names_and_values(void **s) {
  (void)s;
  assert_int_equal(parse(" \t a \t= \t1 \t;\tb\t=\t2\t ;  c  =  3  "), 3);
  expect_pair(0, "a", "1");
  expect_pair(1, "b", "2");
  expect_pair(2, "c", "3");
}

static void test_parse_keeps_whitespace_inside_names_and_values(void **s) {
  (void)s;
  assert_int_equal(parse("a b = c d ; e=\" f \""), 2);
  expect_pair(0, "a b", "c d");
  expect_pair(1, "e", " f ");
}

static void test_parse_keeps_cr_lf_as_ordinary_bytes(void **s) {
  (void)s;
  /* Only SP and HTAB are whitespace (RFC 6265 section 5.2). */
  assert_int_equal(parse("\ra=1\n"), 1);
  expect_pair(0, "\ra", "1\n");
}

static void test_parse_unquotes_double_quoted_values(void **s) {
  (void)s;
  /* What Python's http.cookies (Tornado) sends for a value with '='. */
  assert_int_equal(parse("session_id=\"2|1:0|10:1700000000|4:sess|4:YQ==|ab\""
                         "; b=\"x\""),
                   2);
  expect_pair(0, "session_id", "2|1:0|10:1700000000|4:sess|4:YQ==|ab");
  expect_pair(1, "b", "x");
}

static void test_parse_unquotes_after_trimming_whitespace(void **s) {
  (void)s;
  assert_int_equal(parse("a = \t\"v\" \t"), 1);
  expect_pair(0, "a", "v");
}

static void test_parse_turns_two_quotes_into_empty_value(void **s) {
  (void)s;
  assert_int_equal(parse("a=\"\""), 1);
  expect_pair(0, "a", "");
}

static void test_parse_keeps_lone_or_unbalanced_quotes(void **s) {
  (void)s;
  assert_int_equal(parse("a=\"; b=\"x; c=x\"; d=\"\"\""), 4);
  expect_pair(0, "a", "\"");
  expect_pair(1, "b", "\"x");
  expect_pair(2, "c", "x\"");
  expect_pair(3, "d", "\""); /* only the outer pair is removed */
}

static void test_parse_accepts_empty_values(void **s) {
  (void)s;
  assert_int_equal(parse("a=; b= ;c=\t"), 3);
  expect_pair(0, "a", "");
  expect_pair(1, "b", "");
  expect_pair(2, "c", "");
}

static void test_parse_value_keeps_everything_after_first_equals(void **s) {
  (void)s;
  assert_int_equal(parse("a=b=c; d==; e=YQ=="), 3);
  expect_pair(0, "a", "b=c");
  expect_pair(1, "d", "=");
  expect_pair(2, "e", "YQ==");
}

static void test_parse_skips_pairs_without_equals(void **s) {
  (void)s;
  assert_int_equal(parse("foo; a=1; bar ;baz"), 1);
  expect_pair(0, "a", "1");
}

static void test_parse_skips_pairs_with_empty_name(void **s) {
  (void)s;
  assert_int_equal(parse("=1; a=2;  \t=3; ="), 1);
  expect_pair(0, "a", "2");
}

static void test_parse_skips_empty_segments_and_trailing_semicolon(void **s) {
  (void)s;
  assert_int_equal(parse(";;a=1;; ;\t;b=2;"), 2);
  expect_pair(0, "a", "1");
  expect_pair(1, "b", "2");
}

static void test_parse_treats_comma_as_ordinary_byte(void **s) {
  (void)s;
  /* RFC 2965 split on ','; RFC 6265 does not. */
  assert_int_equal(parse("a=1, b=2"), 1);
  expect_pair(0, "a", "1, b=2");
}

static void test_parse_keeps_repeated_names_in_header_order(void **s) {
  (void)s;
  assert_int_equal(parse("a=first; b=x; a=second"), 3);
  expect_pair(0, "a", "first");
  expect_pair(1, "b", "x");
  expect_pair(2, "a", "second");
}

static void test_parse_treats_nul_bytes_as_ordinary_bytes(void **s) {
  (void)s;
  static const char h[] = "a=x\0y; b\0=1; \0=2; c=\0";
  assert_int_equal(parse_n(h, sizeof h - 1), 4);
  expect_pair_n(0, "a", 1, "x\0y", 3);
  expect_pair_n(1, "b\0", 2, "1", 1);
  expect_pair_n(2, "\0", 1, "2", 1);
  expect_pair_n(3, "c", 1, "\0", 1);
}

static void test_parse_gives_no_pairs_for_empty_or_null_header(void **s) {
  (void)s;
  size_t n = 99;
  assert_int_equal(mcs_cookie_parse(NULL, 0, pairs, 4, &n), MCS_OK);
  assert_int_equal(n, 0);
  n = 99;
  assert_int_equal(mcs_cookie_parse(place("", 0), 0, pairs, 4, &n), MCS_OK);
  assert_int_equal(n, 0);
  assert_int_equal(parse(" \t ; ;;"), 0);
  assert_int_equal(parse("novalue"), 0);
}

static void test_parse_rejects_invalid_arguments(void **s) {
  (void)s;
  size_t n = 99;
  assert_int_equal(mcs_cookie_parse(NULL, 3, pairs, 4, &n), MCS_EINVAL);
  assert_int_equal(mcs_cookie_parse("a=1", 3, pairs, 4, NULL), MCS_EINVAL);
  assert_int_equal(mcs_cookie_parse("a=1", 3, NULL, 4, &n), MCS_EINVAL);
}

static void
test_parse_with_no_room_accepts_only_headers_without_pairs(void **s) {
  (void)s;
  size_t n = 99;
  assert_int_equal(mcs_cookie_parse("x; ;", 4, NULL, 0, &n), MCS_OK);
  assert_int_equal(n, 0);
  assert_int_equal(mcs_cookie_parse("a=1", 3, NULL, 0, &n), MCS_ELIMIT);
  assert_int_equal(n, 0);
}

static void test_parse_accepts_header_exactly_at_size_limit(void **s) {
  (void)s;
  char h[MCS_COOKIE_HEADER_MAX];
  memset(h, 'v', sizeof h);
  memcpy(h, "a=", 2);
  assert_int_equal(parse_n(h, sizeof h), 1);
  assert_int_equal(pairs[0].value_len, MCS_COOKIE_HEADER_MAX - 2);
  assert_ptr_equal(pairs[0].value + pairs[0].value_len, guard_end);
}

static void test_parse_rejects_header_over_size_limit(void **s) {
  (void)s;
  char h[MCS_COOKIE_HEADER_MAX + 1];
  size_t n = 99;
  memset(h, ' ', sizeof h);
  memcpy(h, "a=1", 3);
  const char *p = place(h, sizeof h);
  assert_int_equal(mcs_cookie_parse(p, sizeof h, pairs, 64, &n), MCS_ELIMIT);
  assert_int_equal(n, 0);
}

static void test_parse_accepts_exactly_count_max_pairs(void **s) {
  (void)s;
  char h[2048];
  size_t len = build_pairs(h, sizeof h, MCS_COOKIE_COUNT_MAX, 0);
  assert_int_equal(parse_n(h, len), MCS_COOKIE_COUNT_MAX);
  expect_pair(MCS_COOKIE_COUNT_MAX - 1, "c63", "63");
}

static void test_parse_rejects_more_than_count_max_pairs(void **s) {
  (void)s;
  char h[2048];
  mcs_cookie_pair many[MCS_COOKIE_COUNT_MAX + 8];
  size_t n = 99, len = build_pairs(h, sizeof h, MCS_COOKIE_COUNT_MAX + 1, 0);
  const char *p = place(h, len);
  /* A bigger array does not raise the limit. */
  assert_int_equal(mcs_cookie_parse(p, len, many, MCS_COOKIE_COUNT_MAX + 8, &n),
                   MCS_ELIMIT);
  assert_int_equal(n, 0);
}

static void test_parse_rejects_more_pairs_than_max_pairs(void **s) {
  (void)s;
  size_t n = 99;
  const char *p = place("a=1; b=2; c=3", 13);
  assert_int_equal(mcs_cookie_parse(p, 13, pairs, 3, &n), MCS_OK);
  assert_int_equal(n, 3);
  assert_int_equal(mcs_cookie_parse(p, 13, pairs, 2, &n), MCS_ELIMIT);
  assert_int_equal(n, 0);
}

static void test_parse_does_not_count_segments_without_cookies(void **s) {
  (void)s;
  char h[4096];
  size_t len = build_pairs(h, sizeof h, MCS_COOKIE_COUNT_MAX, 1000);
  assert_int_equal(parse_n(h, len), MCS_COOKIE_COUNT_MAX);
}

/* ---- Finding ------------------------------------------------------------- */

static void test_find_returns_value_of_named_cookie(void **s) {
  (void)s;
  expect_found("a=1; session=abc; b=2", "session", "abc");
  expect_found("session=abc", "session", "abc");
  expect_found("x=1;session = abc ", "session", "abc");
}

static void test_find_returns_first_of_repeated_names(void **s) {
  (void)s;
  expect_found("s=first; s=second", "s", "first");
  expect_found("x; =1; s=first; t=2; s=second", "s", "first");
}

static void test_find_matches_whole_names_case_sensitively(void **s) {
  (void)s;
  expect_found("ab=1; a=2; abc=3", "a", "2");
  expect_absent("ab=1; abc=3", "a");
  expect_absent("a=1", "ab");
  expect_absent("A=1; SESSION=2", "a");
  expect_absent("A=1; SESSION=2", "session");
}

static void test_find_returns_unquoted_value(void **s) {
  (void)s;
  expect_found("v=\"2|1:0|YQ==\"", "v", "2|1:0|YQ==");
  expect_found("v=\"\"", "v", "");
}

static void test_find_returns_empty_value(void **s) {
  (void)s;
  expect_found("a=; b=2", "a", "");
}

static void test_find_returns_enoent_when_absent(void **s) {
  (void)s;
  const char *v = "x";
  size_t len = 3;
  assert_int_equal(mcs_cookie_find(NULL, 0, "a", &v, &len), MCS_ENOENT);
  assert_null(v);
  assert_int_equal(len, 0);
  expect_absent("", "a");
  expect_absent("a; b", "a");
  expect_absent("b=1; c=2", "a");
  expect_absent("=1", "");
}

static void test_find_does_not_match_name_across_nul_byte(void **s) {
  (void)s;
  static const char h[] = "ab\0=1; a=2\0x";
  const char *v;
  size_t len;
  assert_int_equal(find_n(h, sizeof h - 1, "ab", &v, &len), MCS_ENOENT);
  assert_int_equal(find_n(h, sizeof h - 1, "a", &v, &len), MCS_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(v, "2\0x", 3);
}

static void test_find_rejects_invalid_arguments(void **s) {
  (void)s;
  const char *v;
  size_t len;
  assert_int_equal(mcs_cookie_find("a=1", 3, NULL, &v, &len), MCS_EINVAL);
  assert_int_equal(mcs_cookie_find("a=1", 3, "a", NULL, &len), MCS_EINVAL);
  assert_int_equal(mcs_cookie_find("a=1", 3, "a", &v, NULL), MCS_EINVAL);
  assert_int_equal(mcs_cookie_find(NULL, 1, "a", &v, &len), MCS_EINVAL);
}

static void test_find_rejects_header_over_size_limit(void **s) {
  (void)s;
  char h[MCS_COOKIE_HEADER_MAX + 1];
  const char *v;
  size_t len;
  memset(h, ' ', sizeof h);
  memcpy(h, "a=1", 3);
  assert_int_equal(find_n(h, sizeof h, "a", &v, &len), MCS_ELIMIT);
  assert_int_equal(find_n(h, sizeof h - 1, "a", &v, &len), MCS_OK);
}

/* The verdict must not depend on where the cookie sits: a cookie first in
 * an over-limit header is not found either. */
static void test_find_enforces_count_limit_wherever_cookie_sits(void **s) {
  (void)s;
  char h[2048];
  const char *v;
  size_t len, n = build_pairs(h, sizeof h, MCS_COOKIE_COUNT_MAX, 0);
  assert_int_equal(find_n(h, n, "c0", &v, &len), MCS_OK);
  assert_int_equal(find_n(h, n, "c63", &v, &len), MCS_OK);
  n = build_pairs(h, sizeof h, MCS_COOKIE_COUNT_MAX + 1, 0);
  assert_int_equal(find_n(h, n, "c0", &v, &len), MCS_ELIMIT);
  assert_int_equal(find_n(h, n, "c64", &v, &len), MCS_ELIMIT);
  assert_int_equal(find_n(h, n, "absent", &v, &len), MCS_ELIMIT);
}

/* ---- Over-reads ---------------------------------------------------------- */

/* Inputs chosen to stop in every state of the scanner: inside a name,
 * right after '=', inside quotes, in trailing whitespace, on a NUL. */
static const struct {
  const char *s;
  size_t len;
} tricky[] = {
#define T(lit)                                                                 \
  { lit, sizeof(lit) - 1 }
    T("a=1; b=2"),
    T("session=\"2|1:0|10:1700000000|7:session|4:YQ==|ab\""),
    T("  \t a \t =  \t\"\" \t ;"),
    T("\"=\"\"; \"\"=\"; =\"x"),
    T("a=b=c;d;=e; f= \"g\" ;h=\"\t"),
    T(";;;; ;\t;=;a"),
    T("a=1\0b=2; c\0=\0; \0\0"),
    T("x=\x7f\xff\x80; \xff=\r\n"),
    T("a=\"; b=\"x; c=x\"; d=\"\"\""),
#undef T
};

/* Checks that every pair lies inside [h, h + len) and that find agrees
 * with parse about the first occurrence. */
static void check_inside(const char *h, size_t len, size_t count) {
  for (size_t i = 0; i < count; i++) {
    assert_true(pairs[i].name >= h && pairs[i].name_len > 0);
    assert_true(pairs[i].name + pairs[i].name_len <= h + len);
    assert_true(pairs[i].value >= h);
    assert_true(pairs[i].value + pairs[i].value_len <= h + len);
  }
}

static void check_find_agrees(const char *h, size_t len, size_t count) {
  static const char *names[] = {"a", "b", "c", "d", "f", "h", "x", "session"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    const char *v;
    size_t vlen, i;
    int rc = mcs_cookie_find(h, len, names[k], &v, &vlen);
    for (i = 0; i < count; i++)
      if (pairs[i].name_len == strlen(names[k]) &&
          memcmp(pairs[i].name, names[k], pairs[i].name_len) == 0)
        break;
    assert_int_equal(rc, i < count ? MCS_OK : MCS_ENOENT);
    if (i < count) {
      assert_ptr_equal(v, pairs[i].value);
      assert_int_equal(vlen, pairs[i].value_len);
    }
  }
}

static void test_parse_and_find_never_read_past_len(void **s) {
  (void)s;
  for (size_t t = 0; t < sizeof tricky / sizeof tricky[0]; t++) {
    for (size_t n = 0; n <= tricky[t].len; n++) {
      const char *h = place(tricky[t].s, n);
      size_t count = 99;
      assert_int_equal(mcs_cookie_parse(h, n, pairs, 64, &count), MCS_OK);
      check_inside(h, n, count);
      check_find_agrees(h, n, count);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_splits_pairs_separated_by_semicolon_space),
      cmocka_unit_test(test_parse_accepts_pairs_without_spaces),
      cmocka_unit_test(
          test_parse_trims_spaces_and_tabs_around_names_and_values),
      cmocka_unit_test(test_parse_keeps_whitespace_inside_names_and_values),
      cmocka_unit_test(test_parse_keeps_cr_lf_as_ordinary_bytes),
      cmocka_unit_test(test_parse_unquotes_double_quoted_values),
      cmocka_unit_test(test_parse_unquotes_after_trimming_whitespace),
      cmocka_unit_test(test_parse_turns_two_quotes_into_empty_value),
      cmocka_unit_test(test_parse_keeps_lone_or_unbalanced_quotes),
      cmocka_unit_test(test_parse_accepts_empty_values),
      cmocka_unit_test(test_parse_value_keeps_everything_after_first_equals),
      cmocka_unit_test(test_parse_skips_pairs_without_equals),
      cmocka_unit_test(test_parse_skips_pairs_with_empty_name),
      cmocka_unit_test(test_parse_skips_empty_segments_and_trailing_semicolon),
      cmocka_unit_test(test_parse_treats_comma_as_ordinary_byte),
      cmocka_unit_test(test_parse_keeps_repeated_names_in_header_order),
      cmocka_unit_test(test_parse_treats_nul_bytes_as_ordinary_bytes),
      cmocka_unit_test(test_parse_gives_no_pairs_for_empty_or_null_header),
      cmocka_unit_test(test_parse_rejects_invalid_arguments),
      cmocka_unit_test(
          test_parse_with_no_room_accepts_only_headers_without_pairs),
      cmocka_unit_test(test_parse_accepts_header_exactly_at_size_limit),
      cmocka_unit_test(test_parse_rejects_header_over_size_limit),
      cmocka_unit_test(test_parse_accepts_exactly_count_max_pairs),
      cmocka_unit_test(test_parse_rejects_more_than_count_max_pairs),
      cmocka_unit_test(test_parse_rejects_more_pairs_than_max_pairs),
      cmocka_unit_test(test_parse_does_not_count_segments_without_cookies),
      cmocka_unit_test(test_find_returns_value_of_named_cookie),
      cmocka_unit_test(test_find_returns_first_of_repeated_names),
      cmocka_unit_test(test_find_matches_whole_names_case_sensitively),
      cmocka_unit_test(test_find_returns_unquoted_value),
      cmocka_unit_test(test_find_returns_empty_value),
      cmocka_unit_test(test_find_returns_enoent_when_absent),
      cmocka_unit_test(test_find_does_not_match_name_across_nul_byte),
      cmocka_unit_test(test_find_rejects_invalid_arguments),
      cmocka_unit_test(test_find_rejects_header_over_size_limit),
      cmocka_unit_test(test_find_enforces_count_limit_wherever_cookie_sits),
      cmocka_unit_test(test_parse_and_find_never_read_past_len),
  };
  return cmocka_run_group_tests_name("cookie", tests, guard_setup,
                                     guard_teardown);
}
