/* Cookie header parsing (RFC 6265 section 5.4 / 4.2.1) and Set-Cookie
 * formatting (section 4.1, RFC 6265bis prefixes and SameSite, CHIPS).
 *
 * Every parser input is placed right before a PROT_NONE page, as
 * picohttpparser's tests do, so a read past `len` crashes the test instead
 * of silently reading a terminating NUL. Short output buffers for the
 * formatter sit right before the same page, so a write past out_size
 * crashes too.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcsession.h"

/* ---- Guard page ---------------------------------------------------------- */

/* Readable/writable bytes [guard_start, guard_end), then a PROT_NONE page. */
static char *guard_start;
static char *guard_end;
static size_t guard_map_len;

static int guard_setup(void **state) {
  (void)state;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t usable = (MCS_COOKIE_HEADER_MAX + 2 + page - 1) / page * page;
  guard_map_len = usable + page;
  char *base = mmap(NULL, guard_map_len, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED || mprotect(base + usable, page, PROT_NONE) != 0)
    return -1;
  guard_start = base;
  guard_end = base + usable;
  return 0;
}

static int guard_teardown(void **state) {
  (void)state;
  munmap(guard_start, guard_map_len);
  return 0;
}

/* Copies n bytes so that the last one sits right before the guard page. */
static const char *place(const void *data, size_t n) {
  char *p = guard_end - n;
  if (n)
    memcpy(p, data, n);
  return p;
}

/* ---- Parse helpers ------------------------------------------------------- */

static mcs_cookie_pair pairs[MCS_COOKIE_COUNT_MAX];

/* Parses a header given with an explicit length (so it may hold NULs). */
static size_t parse_n(const char *s, size_t len) {
  size_t n = 99;
  const char *h = place(s, len);
  assert_int_equal(mcs_cookie_parse(h, len, pairs, MCS_COOKIE_COUNT_MAX, &n),
                   MCS_OK);
  return n;
}

static size_t parse(const char *s) { return parse_n(s, strlen(s)); }

static void expect_pair_n(size_t i, const char *name, size_t name_len,
                          const char *value, size_t value_len) {
  assert_int_equal(pairs[i].name_len, name_len);
  assert_memory_equal(pairs[i].name, name, name_len);
  assert_int_equal(pairs[i].value_len, value_len);
  if (value_len)
    assert_memory_equal(pairs[i].value, value, value_len);
}

static void expect_pair(size_t i, const char *name, const char *value) {
  expect_pair_n(i, name, strlen(name), value, strlen(value));
}

/* find on a header placed before the guard page; returns the code and
 * leaves the value in *value / *len. */
static int find_n(const char *s, size_t slen, const char *name,
                  const char **value, size_t *len) {
  return mcs_cookie_find(place(s, slen), slen, name, value, len);
}

static void expect_found(const char *header, const char *name,
                         const char *value) {
  const char *v = NULL;
  size_t len = 0;
  assert_int_equal(find_n(header, strlen(header), name, &v, &len), MCS_OK);
  assert_int_equal(len, strlen(value));
  if (len)
    assert_memory_equal(v, value, len);
}

static void expect_absent(const char *header, const char *name) {
  const char *v = header;
  size_t len = 7;
  assert_int_equal(find_n(header, strlen(header), name, &v, &len), MCS_ENOENT);
  assert_null(v);
  assert_int_equal(len, 0);
}

/* "a=1; a=1; ..." with `count` pairs, plus `junk` separators in front. */
static size_t build_pairs(char *buf, size_t size, size_t count, size_t junk) {
  size_t len = 0;
  for (size_t i = 0; i < junk; i++)
    len += (size_t)snprintf(buf + len, size - len, ";");
  for (size_t i = 0; i < count; i++)
    len += (size_t)snprintf(buf + len, size - len, "%sc%zu=%zu", i ? "; " : "",
                            i, i);
  return len;
}

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

/* ---- Formatting ---------------------------------------------------------- */

static void test_attrs_init_sets_documented_defaults(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  assert_string_equal(a.path, "/");
  assert_null(a.domain);
  assert_true(a.max_age < 0);
  assert_int_equal(a.http_only, 1);
  assert_int_equal(a.secure, 0);
  assert_int_equal(a.same_site, MCS_SAMESITE_LAX);
  assert_int_equal(a.partitioned, 0);
  assert_int_equal(mcs_cookie_attrs_check("session", &a), MCS_OK);
}

static void test_format_with_defaults(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  assert_string_equal(fmt("session", "abc", &a, 0),
                      "session=abc; Path=/; HttpOnly; SameSite=Lax");
}

static void test_format_writes_every_attribute_in_order(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  assert_string_equal(fmt("a", "b", &a, 0), "a=b");
}

static void test_format_writes_samesite_strict(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  a.same_site = MCS_SAMESITE_STRICT;
  assert_string_equal(fmt("a", "b", &a, 0),
                      "a=b; Path=/; HttpOnly; SameSite=Strict");
}

static void test_format_accepts_empty_value(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  assert_string_equal(fmt("a", "", &a, 0), "a=; Path=/");
  assert_string_equal(fmt("a", NULL, &a, 0), "a=; Path=/");
}

static void test_format_accepts_every_token_and_cookie_octet(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
  a.path = NULL;
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  a.max_age = 60;
  assert_string_equal(fmt("a", "b", &a, INT64_MIN),
                      "a=b; Max-Age=60; Expires=Thu, 01 Jan 1970 00:01:00 GMT");
}

static void test_format_max_age_zero_expires_at_epoch(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  a.max_age = 0;
  assert_string_equal(fmt("session", "", &a, 1700000000),
                      "session=; Path=/; Max-Age=0; "
                      "Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
                      "SameSite=Lax");
}

static void test_format_negative_max_age_omits_max_age_and_expires(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
  a.http_only = 0;
  a.same_site = MCS_SAMESITE_OMIT;
  a.path = "/a-b._~!$&'()*+,=:@%20/";
  assert_string_equal(fmt("n", "v", &a, 0),
                      "n=v; Path=/a-b._~!$&'()*+,=:@%20/");
}

static void test_format_refuses_empty_relative_or_long_path(void **s) {
  (void)s;
  static char long_path[1026];
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
  a.same_site = (mcs_samesite)42;
  expect_refused("n", "v", 1, &a);
  a.same_site = (mcs_samesite)-1;
  expect_refused("n", "v", 1, &a);
}

static void test_format_refuses_name_and_value_over_4096_bytes(void **s) {
  (void)s;
  static char value[4097];
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
  assert_string_equal(fmt("_Host-s", "v", &a, 0),
                      "_Host-s=v; Path=/; HttpOnly; SameSite=Lax");
  assert_string_equal(fmt("__Hosts", "v", &a, 0),
                      "__Hosts=v; Path=/; HttpOnly; SameSite=Lax");
  assert_string_equal(fmt("__Secure", "v", &a, 0),
                      "__Secure=v; Path=/; HttpOnly; SameSite=Lax");
}

static void test_format_refuses_samesite_none_without_secure(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  a.same_site = MCS_SAMESITE_NONE;
  expect_refused("n", "v", 1, &a);
  a.secure = 1;
  assert_string_equal(fmt("n", "v", &a, 0),
                      "n=v; Path=/; Secure; HttpOnly; SameSite=None");
}

static void test_format_refuses_partitioned_without_secure(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
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
  mcs_cookie_attrs a = defaults();
  assert_int_equal(mcs_cookie_format("n", "v", 1, &a, 0, NULL, 10, NULL),
                   MCS_EINVAL);
  assert_int_equal(mcs_cookie_format("n", "v", 1, &a, 0, NULL, 0, NULL),
                   MCS_ELIMIT);
}

static void test_format_output_parses_back(void **s) {
  (void)s;
  mcs_cookie_attrs a = defaults();
  a.max_age = 100;
  const char *h = fmt("session", "2|1:0|10:1700000000|4:c2Vz|ab", &a, 5);
  expect_found(h, "session", "2|1:0|10:1700000000|4:c2Vz|ab");
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
  return cmocka_run_group_tests_name("cookie", tests, guard_setup,
                                     guard_teardown);
}
