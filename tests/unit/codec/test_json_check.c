/* The non-allocating JSON validator (json_check.c) that tells jansson's
 * out-of-memory from bad input (mcs__json_loadb): cases chosen at the
 * edges of jansson 2.14's own rules, each checked against jansson itself.
 * tests/fuzz/fuzz_json_check.c checks the same property on random text. */
#include <jansson.h>

#include "session/session_int.h"
#include "test_util.h"

#define ANY JSON_DECODE_ANY
#define NUL JSON_ALLOW_NUL
#define DUP JSON_REJECT_DUPLICATES

typedef struct jcase {
  const char *text;
  size_t len; /* 0: strlen(text) */
  size_t flags;
  bool valid;
} jcase;

static const jcase cases[] = {
    /* top level */
    {"{}", 0, 0, true},
    {" \t\r\n[] \n", 0, 0, true},
    {"", 0, 0, false},
    {"", 0, ANY, false},
    {"   ", 0, ANY, false},
    {"1", 0, 0, false},
    {"1", 0, ANY, true},
    {"\"s\"", 0, 0, false},
    {"\"s\"", 0, ANY, true},
    {"null", 0, ANY, true},
    {"nul", 0, ANY, false},
    {"nullx", 0, ANY, false},
    {"true false", 0, ANY, false},
    {"{} {}", 0, 0, false},
    {"{}x", 0, 0, false},
    {"\f{}", 0, 0, false}, /* form feed is not whitespace */
    /* containers */
    {"[1,2,[3,{\"a\":[]}]]", 0, 0, true},
    {"[1,]", 0, 0, false},
    {"[,1]", 0, 0, false},
    {"[1 2]", 0, 0, false},
    {"{\"a\":1,}", 0, 0, false},
    {"{\"a\" 1}", 0, 0, false},
    {"{\"a\":}", 0, 0, false},
    {"{1:1}", 0, 0, false},
    {"{\"a\":1", 0, 0, false},
    {"[", 0, 0, false},
    {"[}", 0, 0, false},
    {"{]", 0, 0, false},
    {"[1]]", 0, 0, false},
    /* numbers */
    {"[0,-0,10,-1.5e+3,2E-2,0.5,1e5]", 0, 0, true},
    {"[01]", 0, 0, false},
    {"[-]", 0, 0, false},
    {"[1.]", 0, 0, false},
    {"[.5]", 0, 0, false},
    {"[+1]", 0, 0, false},
    {"[1e]", 0, 0, false},
    {"[1e+]", 0, 0, false},
    {"[0x1]", 0, 0, false},
    {"[NaN]", 0, 0, false},
    {"[Infinity]", 0, 0, false},
    /* strings */
    {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 0, 0, true},
    {"[\"\\u00e9\\u00E9\\ud83d\\ude00\"]", 0, 0, true},
    {"[\"\\x\"]", 0, 0, false},
    {"[\"\\u12\"]", 0, 0, false},
    {"[\"\\u12g4\"]", 0, 0, false},
    {"[\"\\ud83d\"]", 0, 0, false},        /* lone high surrogate */
    {"[\"\\ud83d\\u0041\"]", 0, 0, false}, /* high, then not low */
    {"[\"\\ud83dx\"]", 0, 0, false},
    {"[\"\\ude00\"]", 0, 0, false}, /* lone low surrogate */
    {"[\"a\tb\"]", 0, 0, false},    /* raw control character */
    {"[\"a\nb\"]", 0, 0, false},
    {"[\"a\x7f\"]", 0, 0, true},
    {"[\"abc]", 0, 0, false},
    {"[\"abc\\", 0, 0, false},
    {"[\"\\u00", 0, 0, false},
    /* \u0000: never in a key; in a value with JSON_ALLOW_NUL only */
    {"[\"a\\u0000b\"]", 0, 0, false},
    {"[\"a\\u0000b\"]", 0, NUL, true},
    {"{\"a\\u0000\":1}", 0, NUL, false},
    {"{\"a\":\"\\u0000\"}", 0, NUL | DUP, true},
    /* raw NUL bytes */
    {"[\"a\0b\"]", 7, NUL, false},
    {"[1]\0", 4, 0, false},
    /* UTF-8 (RFC 3629) */
    {"[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]", 0, 0, true},
    {"[\"\xc3\"]", 0, 0, false},
    {"[\"\xc0\x80\"]", 0, 0, false},         /* overlong */
    {"[\"\xe0\x80\x80\"]", 0, 0, false},     /* overlong */
    {"[\"\xed\xa0\x80\"]", 0, 0, false},     /* surrogate */
    {"[\"\xf4\x90\x80\x80\"]", 0, 0, false}, /* > U+10FFFF */
    {"[\"\xf5\x80\x80\x80\"]", 0, 0, false},
    {"[\"\x80\"]", 0, 0, false},
    {"[\xc3\xa9]", 0, 0, false}, /* outside a string */
    /* codes of their own: accepted here, jansson refuses with them */
    {"{\"a\":1,\"a\":2}", 0, DUP, true},
    {"[123456789012345678901234567890]", 0, 0, true},
    {"[1e999]", 0, 0, true},
    /* flags this validator does not know: never "valid" */
    {"[1]", 0, JSON_DISABLE_EOF_CHECK, false},
};

static void check_case(const jcase *c) {
  size_t len = c->len ? c->len : strlen(c->text);
  bool valid = mcs__json_valid(c->text, len, c->flags);
  if (valid != c->valid)
    fail_msg("%s (flags %zx): validator says %d", c->text, c->flags, valid);
  json_error_t err;
  json_t *v = json_loadb(c->text, len, c->flags, &err);
  enum json_error_code code = json_error_code(&err);
  /* The rule: accepted here => jansson parses, or fails with a code
   * mcs__json_loadb never hands to the validator. */
  if (valid && !v && code != json_error_duplicate_key &&
      code != json_error_numeric_overflow)
    fail_msg("%s: accepted, but jansson refuses it: %s", c->text, err.text);
  /* And the validator is no stricter than jansson on these. */
  if (v && !valid && !(c->flags & JSON_DISABLE_EOF_CHECK))
    fail_msg("%s: refused, but jansson parses it", c->text);
  json_decref(v);
  /* Absent allocation failures, a failed load is never "no memory". */
  int rc;
  v = mcs__json_loadb(c->text, len, c->flags, &rc, NULL);
  assert_int_equal(rc, v ? MCS_OK : MCS_ECORRUPT);
  json_decref(v);
}

static void test_cases_agree_with_jansson(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&cases[i]);
  assert_false(mcs__json_valid(NULL, 0, JSON_DECODE_ANY));
}

/* Nesting: jansson counts every value, the innermost included, up to
 * 2048. n brackets around `inner`. */
static void check_depth(size_t n, const char *inner, bool valid) {
  size_t k = strlen(inner), len = 2 * n + k;
  char *t = malloc(len);
  assert_non_null(t);
  memset(t, '[', n);
  memcpy(t + n, inner, k);
  memset(t + n + k, ']', n);
  assert_int_equal(mcs__json_valid(t, len, 0), valid);
  json_error_t err;
  json_t *v = json_loadb(t, len, 0, &err);
  assert_int_equal(v != NULL, valid);
  json_decref(v);
  free(t);
}

static void test_depth_limit_is_janssons(void **state) {
  (void)state;
  check_depth(2048, "", true); /* the innermost [] is value 2048 */
  check_depth(2049, "", false);
  check_depth(2047, "1", true); /* 1 is value 2048 */
  check_depth(2048, "1", false);
  check_depth(2047, "{}", true);
  check_depth(2047, "{\"a\":1}", false);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cases_agree_with_jansson),
      cmocka_unit_test(test_depth_limit_is_janssons),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
