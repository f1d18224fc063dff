/* The native record codec (src/codec/codec_json.c), called directly:
 *
 *   {"v":1,"c":<created>,"r":<rev>,"d":{...}}   a session record
 *   {"v":1,"ru":<until>,"s":{…}}                a retired snapshot
 *
 * The decoder's input is hostile: every malformed record must give
 * MCS_ECORRUPT (or MCS_ETOOBIG above the size limit), leave the output
 * record empty, and free everything it allocated. Both the library and
 * jansson allocate through counting hooks installed in main(), so "no leak"
 * is checked by every test, not only under LeakSanitizer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session/session_int.h"

static const mcs__limits limits = {65536, MCS_JSON_DEPTH_MAX};
/* What codec_json.c allows around the data (ENVELOPE_SLACK). */
#define SLACK (128 + 2 * MCS_USER_ID_MAX + 32) /* room for a user id */

/* ---- Counting allocators ---------------------------------------------- */

static long live_blocks; /* allocations not yet freed, library + jansson */
static long fail_at; /* when nonzero: the fail_at-th malloc from now fails */

static void *count_malloc(size_t n) {
  if (fail_at && --fail_at == 0) {
    errno = ENOMEM;
    return NULL; /* one failure, then malloc works again (transient) */
  }
  void *p = malloc(n);
  if (p)
    live_blocks++;
  return p;
}
static void *count_realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!p && q)
    live_blocks++;
  return q;
}
static void *count_calloc(size_t n, size_t m) {
  void *p = calloc(n, m);
  if (p)
    live_blocks++;
  return p;
}
static void count_free(void *p) {
  if (p)
    live_blocks--;
  free(p);
}

/* ---- Helpers -------------------------------------------------------------- */

static int decode_n(const void *in, size_t len, mcs__record *rec) {
  return mcs__codec_json.decode((const uint8_t *)in, len, &limits, rec);
}

static int decode(const char *in, mcs__record *rec) {
  return decode_n(in, strlen(in), rec);
}

/* Decodes into a record that holds garbage first, so "left empty" is
 * checked for real. */
static void expect_corrupt_n(const char *in, size_t len, int line) {
  mcs__record rec;
  memset(&rec, 0xa5, sizeof rec);
  long before = live_blocks;
  int rc = decode_n(in, len, &rec);
  if (rc == MCS_OK)
    mcs__record_clear(&rec); /* report the failure, not a leak */
  if (rc != MCS_ECORRUPT)
    fail_msg("line %d: decode(%.*s) = %s, want MCS_ECORRUPT", line,
             (int)(len > 200 ? 200 : len), in, mcs_errname(rc));
  if (rec.data != NULL || rec.retired_until != 0 || rec.user != NULL)
    fail_msg("line %d: record not left empty after a failed decode", line);
  if (live_blocks != before)
    fail_msg("line %d: %ld block(s) leaked decoding %.*s", line,
             live_blocks - before, (int)(len > 200 ? 200 : len), in);
}
#define expect_corrupt(in) expect_corrupt_n((in), strlen(in), __LINE__)

static json_t *parse(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!v)
    fail_msg("bad test JSON: %s (%s)", text, err.text);
  return v;
}

/* Encodes `rec`, returning the text as a NUL-terminated string (free()). */
static char *encode_text(const mcs__record *rec) {
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(mcs__codec_json.encode(rec, &limits, &out), MCS_OK);
  char *s = malloc(out.len + 1);
  assert_non_null(s);
  memcpy(s, out.data, out.len);
  s[out.len] = '\0';
  mcs__buf_free(&out);
  return s;
}

/* Encodes then decodes `rec`; the decoded record must equal it. */
static void expect_round_trip(const mcs__record *rec) {
  long before = live_blocks;
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(mcs__codec_json.encode(rec, &limits, &out), MCS_OK);
  mcs__record back;
  assert_int_equal(decode_n(out.data, out.len, &back), MCS_OK);
  assert_int_equal(back.retired_until, rec->retired_until);
  assert_int_equal(back.created, rec->created);
  assert_int_equal(back.rev, rec->rev);
  assert_non_null(back.data);
  assert_true(json_equal(back.data, rec->data));
  mcs__record_clear(&back);
  mcs__buf_free(&out);
  assert_int_equal(live_blocks, before);
}

/* A string of `n` nested arrays around 0: "[[[0]]]" for n = 3. */
static char *nested_arrays(size_t n) {
  char *s = malloc(2 * n + 2);
  assert_non_null(s);
  memset(s, '[', n);
  s[n] = '0';
  memset(s + n + 1, ']', n);
  s[2 * n + 1] = '\0';
  return s;
}

/* A record whose data is {"k": <value>}. */
static char *record_with(const char *value) {
  size_t n = strlen(value) + 64;
  char *s = malloc(n);
  assert_non_null(s);
  snprintf(s, n, "{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":%s}}", value);
  return s;
}

static const char valid[] =
    "{\"v\":1,\"c\":1700000000,\"r\":7,"
    "\"d\":{\"user\":\"ann\",\"n\":3,\"x\":0.5,\"ok\":true,\"z\":null,"
    "\"b\":{\"$bytes\":\"AP8=\"},\"big\":{\"$int\":\"-123456789012345678901\"},"
    "\"l\":[1,[2,{\"m\":[]}]],\"e\":\"\\u00e9\"}}";

/* ---- Decoding valid records ------------------------------------------- */

static void test_decode_reads_created_rev_and_data(void **state) {
  (void)state;
  mcs__record rec;
  assert_int_equal(decode(valid, &rec), MCS_OK);
  assert_int_equal(rec.created, 1700000000);
  assert_int_equal(rec.rev, 7);
  assert_int_equal(rec.retired_until, 0);
  assert_non_null(rec.data);
  json_t *want = parse("{\"user\":\"ann\",\"n\":3,\"x\":0.5,\"ok\":true,"
                       "\"z\":null,\"b\":{\"$bytes\":\"AP8=\"},"
                       "\"big\":{\"$int\":\"-123456789012345678901\"},"
                       "\"l\":[1,[2,{\"m\":[]}]],\"e\":\"\xc3\xa9\"}");
  assert_true(json_equal(rec.data, want));
  assert_int_equal(mcs__value_type(json_object_get(rec.data, "b")),
                   MCS_TYPE_BYTES);
  assert_int_equal(mcs__value_type(json_object_get(rec.data, "big")),
                   MCS_TYPE_BIGINT);
  json_decref(want);
  mcs__record_clear(&rec);
  assert_null(rec.data);
}

static void test_decode_accepts_empty_data_and_zero_created(void **state) {
  (void)state;
  mcs__record rec;
  assert_int_equal(decode("{\"v\":1,\"c\":0,\"r\":0,\"d\":{}}", &rec),
                   MCS_OK);
  assert_int_equal(rec.created, 0);
  assert_int_equal(rec.rev, 0);
  assert_int_equal(json_object_size(rec.data), 0);
  mcs__record_clear(&rec);
}

static void test_decode_ignores_unknown_members_and_order(void **state) {
  (void)state;
  mcs__record rec;
  assert_int_equal(decode(" {\"x\":[1,{}],\"d\":{\"a\":1},\"r\":2,"
                          "\"c\":3,\"v\":1,\"later\":\"field\"}\n",
                          &rec),
                   MCS_OK);
  assert_int_equal(rec.created, 3);
  assert_int_equal(rec.rev, 2);
  assert_int_equal(json_integer_value(json_object_get(rec.data, "a")), 1);
  mcs__record_clear(&rec);
}

static void test_decode_accepts_int64_extremes(void **state) {
  (void)state;
  mcs__record rec;
  assert_int_equal(decode("{\"v\":1,\"c\":9223372036854775807,"
                          "\"r\":9223372036854775807,\"d\":{"
                          "\"lo\":-9223372036854775808}}",
                          &rec),
                   MCS_OK);
  assert_int_equal(rec.created, INT64_MAX);
  assert_int_equal(rec.rev, (uint64_t)INT64_MAX);
  assert_true(json_integer_value(json_object_get(rec.data, "lo")) ==
              INT64_MIN);
  mcs__record_clear(&rec);
}

/* ---- Round trips ---------------------------------------------------------- */

static void test_encode_writes_the_documented_envelope(void **state) {
  (void)state;
  mcs__record rec = {0};
  rec.created = 1700000000;
  rec.rev = 3;
  rec.data = parse("{\"a\":1,\"b\":\"x\"}");
  char *text = encode_text(&rec);
  assert_string_equal(
      text, "{\"v\":1,\"c\":1700000000,\"r\":3,\"d\":{\"a\":1,\"b\":\"x\"}}");
  free(text);
  mcs__record_clear(&rec);
}

static void test_record_round_trips(void **state) {
  (void)state;
  mcs__record rec = {0};
  rec.created = 1700000123;
  rec.rev = 42;
  rec.data = parse(
      "{\"s\":\"caf\xc3\xa9 \\\"q\\\" \\n\",\"i\":-9223372036854775808,"
      "\"I\":9223372036854775807,\"d1\":0.1,\"d2\":1e300,\"d3\":-0.0,"
      "\"d4\":5e-324,\"t\":true,\"f\":false,\"n\":null,"
      "\"b\":{\"$bytes\":\"AAECA/8=\"},\"big\":{\"$int\":"
      "\"123456789012345678901234567890\"},"
      "\"l\":[[],[{}],[1,\"two\",[3.5]]],\"m\":{\"x\":{\"y\":{\"z\":[]}}},"
      "\"\xe2\x82\xac\":\"euro key\",\"empty\":\"\"}");
  expect_round_trip(&rec);
  mcs__record_clear(&rec);
}

static void test_record_with_empty_data_round_trips(void **state) {
  (void)state;
  mcs__record rec = {0};
  rec.data = json_object();
  expect_round_trip(&rec);
  mcs__record_clear(&rec);
}

static void test_encode_refuses_record_without_data(void **state) {
  (void)state;
  mcs__record rec = {0};
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(mcs__codec_json.encode(&rec, &limits, &out), MCS_EINVAL);
  rec.data = json_array();
  assert_int_equal(mcs__codec_json.encode(&rec, &limits, &out), MCS_EINVAL);
  mcs__record_clear(&rec);
  mcs__buf_free(&out);
}

static void test_retired_snapshot_round_trips_without_its_user(void **st) {
  (void)st;
  mcs__record rec = {0};
  rec.created = 1700000000;
  rec.rev = 4;
  rec.data = parse("{\"cart\":2}");
  rec.retired_until = 1700000010;
  /* A snapshot never carries a user: whoever holds the old id is nobody. */
  assert_int_equal(mcs__record_set_user(&rec, "ann", 5), MCS_OK);
  char *text = encode_text(&rec);
  assert_string_equal(text, "{\"v\":1,\"ru\":1700000010,\"s\":{\"c\":"
                            "1700000000,\"r\":4,\"d\":{\"cart\":2}}}");
  free(text);
  assert_int_equal(mcs__record_set_user(&rec, NULL, 0), MCS_OK);
  expect_round_trip(&rec);
  mcs__record_clear(&rec);
}

/* An older reader (no "ru") finds no "c"/"r"/"d" at the top and refuses
 * the record, rather than taking a snapshot for a live, writable session.
 * Shown here by the body alone, which this reader would accept. */
static void test_retired_snapshot_hides_its_body_from_old_readers(void **st) {
  (void)st;
  mcs__record rec;
  const char *doc = "{\"v\":1,\"ru\":17,\"s\":{\"c\":1,\"r\":1,"
                    "\"d\":{\"k\":1}}}";
  assert_int_equal(decode(doc, &rec), MCS_OK);
  assert_int_equal(rec.retired_until, 17);
  assert_int_equal(json_integer_value(json_object_get(rec.data, "k")), 1);
  mcs__record_clear(&rec);
  expect_corrupt("{\"v\":1,\"s\":{\"c\":1,\"r\":1,\"d\":{}}}");
}


static void test_string_with_nul_is_allowed_and_round_trips(void **state) {
  (void)state;
  mcs__record rec;
  assert_int_equal(
      decode("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"a\\u0000b\"}}", &rec),
      MCS_OK);
  json_t *k = json_object_get(rec.data, "k");
  assert_int_equal(json_string_length(k), 3);
  assert_memory_equal(json_string_value(k), "a\0b", 3);
  char *text = encode_text(&rec);
  assert_non_null(strstr(text, "\"a\\u0000b\""));
  free(text);
  expect_round_trip(&rec);
  mcs__record_clear(&rec);
}

/* ---- Corrupt input ---------------------------------------------------- */

static void test_not_json_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("");
  expect_corrupt(" ");
  expect_corrupt("hello");
  expect_corrupt("{v:1}");
  expect_corrupt("{'v':1,'c':1,'r':1,'d':{}}");
  expect_corrupt("\x80\x02}q\x00.");  /* a pickle */
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{},}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":[1,]}}");
  expect_corrupt("\xef\xbb\xbf{\"v\":1,\"c\":1,\"r\":1,\"d\":{}}"); /* BOM */
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"\xff\"}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"\xc0\x80\"}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"\\ud800\"}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"a\nb\"}}");
}

static void test_every_truncation_of_a_valid_record_is_corrupt(void **state) {
  (void)state;
  size_t n = strlen(valid);
  for (size_t len = 0; len < n; len++) {
    char *copy = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
    memcpy(copy, valid, len);
    expect_corrupt_n(copy, len, __LINE__);
    free(copy);
  }
}

static void test_top_level_not_an_object_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("[]");
  expect_corrupt("[{\"v\":1,\"c\":1,\"r\":1,\"d\":{}}]");
  expect_corrupt("1");
  expect_corrupt("\"v\"");
  expect_corrupt("null");
  expect_corrupt("true");
}

static void test_bad_version_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("{\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":2,\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":0,\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":\"1\",\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1.0,\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":true,\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":null,\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":2,\"f\":\"k\",\"u\":1}");
}

static void test_bad_created_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("{\"v\":1,\"c\":-1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":\"1\",\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":1.5,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":null,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":99999999999999999999,\"r\":1,\"d\":{}}");
}

static void test_bad_rev_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("{\"v\":1,\"c\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":-1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":\"1\",\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":[],\"d\":{}}");
}

static void test_data_not_an_object_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":[]}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":\"{}\"}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":null}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":1}");
}

static void test_duplicate_keys_are_corrupt(void **state) {
  (void)state;
  expect_corrupt("{\"v\":1,\"v\":1,\"c\":1,\"r\":1,\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{},\"d\":{}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"a\":1,\"a\":2}}");
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"a\":[{\"x\":1,\"x\":1}]}}");
  /* Same key once escaped, once not. */
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"a\":1,\"\\u0061\":2}}");
}

static void test_nul_in_a_key_is_corrupt(void **state) {
  (void)state;
  expect_corrupt("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"a\\u0000b\":1}}");
}

static void test_raw_nul_byte_is_corrupt(void **state) {
  (void)state;
  static const char doc[] = "{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"a\0b\"}}";
  expect_corrupt_n(doc, sizeof doc - 1, __LINE__);
}

/* A record must hold every value mcs_session_set_json accepts: a value
 * nested MCS_JSON_DEPTH_MAX deep sits inside "d" and decodes. */
static void test_value_nested_to_max_depth_decodes(void **state) {
  (void)state;
  char *value = nested_arrays(MCS_JSON_DEPTH_MAX);
  char *doc = record_with(value);
  mcs__record rec;
  int rc = decode(doc, &rec);
  if (rc != MCS_OK)
    fail_msg("record with a value nested %d deep: %s", MCS_JSON_DEPTH_MAX,
             mcs_errname(rc));
  mcs__record_clear(&rec);
  free(doc);
  free(value);
}

static void test_value_nested_deeper_than_limit_is_corrupt(void **state) {
  (void)state;
  /* One level over the limit, in arrays and in maps. */
  char *value = nested_arrays(MCS_JSON_DEPTH_MAX + 1);
  char *doc = record_with(value);
  expect_corrupt(doc);
  free(doc);
  free(value);
  char maps[1024] = "";
  for (int i = 0; i < MCS_JSON_DEPTH_MAX + 1; i++)
    strcat(maps, "{\"a\":");
  strcat(maps, "1");
  for (int i = 0; i < MCS_JSON_DEPTH_MAX + 1; i++)
    strcat(maps, "}");
  doc = record_with(maps);
  expect_corrupt(doc);
  free(doc);
  /* Deeper than jansson's own parser limit (2048), within the size
   * limit: refused without exhausting the stack. */
  value = nested_arrays(30000);
  doc = record_with(value);
  expect_corrupt(doc);
  free(doc);
  free(value);
}

static void test_tagged_values_do_not_count_as_nesting(void **state) {
  (void)state;
  /* MCS_JSON_DEPTH_MAX - 1 arrays around a $bytes value: the tag is a
   * scalar, not one more level. */
  char inner[1024];
  memset(inner, '[', MCS_JSON_DEPTH_MAX - 1);
  inner[MCS_JSON_DEPTH_MAX - 1] = '\0';
  strcat(inner, "{\"$bytes\":\"QQ==\"}");
  for (int i = 0; i < MCS_JSON_DEPTH_MAX - 1; i++)
    strcat(inner, "]");
  char *doc = record_with(inner);
  mcs__record rec;
  assert_int_equal(decode(doc, &rec), MCS_OK);
  mcs__record_clear(&rec);
  free(doc);
}

static void test_bad_bytes_tag_in_data_is_corrupt(void **state) {
  (void)state;
  static const char *bad[] = {
      "{\"$bytes\":\"!!\"}",   "{\"$bytes\":\"QR==\"}",
      "{\"$bytes\":\"Zg\"}",   "{\"$bytes\":\"Zg=\"}",
      "{\"$bytes\":\"Z===\"}", "{\"$bytes\":\"Zm9v \"}",
      "{\"$bytes\":\"Zm9-\"}", "[1,{\"$bytes\":\"!!\"}]",
      "{\"m\":{\"$bytes\":\"Zg=\"}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *doc = record_with(bad[i]);
    expect_corrupt(doc);
    free(doc);
  }
}

/* "Zm" + U+00E9 is four bytes (5a 6d c3 a9) of valid UTF-8, but c3 and a9
 * are not base64 digits. */
static void test_bytes_tag_with_non_ascii_is_corrupt(void **state) {
  (void)state;
  expect_corrupt(
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":{\"$bytes\":\"Zm\xc3\xa9\"}}}");
  expect_corrupt(
      "{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":{\"$bytes\":\"\\u00ff\\u00ff"
      "\\u00ff\\u00ff\"}}}");
}

static void test_bad_int_tag_in_data_is_corrupt(void **state) {
  (void)state;
  static const char *bad[] = {
      "{\"$int\":\"01\"}", "{\"$int\":\"\"}",   "{\"$int\":\"-\"}",
      "{\"$int\":\"+1\"}", "{\"$int\":\" 1\"}", "{\"$int\":\"1 \"}",
      "{\"$int\":\"1a\"}", "{\"$int\":\"1.0\"}", "{\"$int\":\"-01\"}",
      "{\"$int\":\"1e5\"}", "{\"$int\":\"\\u0661\"}",
      "[{\"$int\":\"00\"}]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *doc = record_with(bad[i]);
    expect_corrupt(doc);
    free(doc);
  }
  /* 4301 digits: over CPython's int/str limit. */
  char *digits = malloc(4301 + 16);
  strcpy(digits, "{\"$int\":\"");
  memset(digits + 9, '7', 4301);
  strcpy(digits + 9 + 4301, "\"}");
  char *doc = record_with(digits);
  expect_corrupt(doc);
  free(doc);
  /* 4300 digits are fine. */
  strcpy(digits + 9 + 4300, "\"}");
  doc = record_with(digits);
  mcs__record rec;
  assert_int_equal(decode(doc, &rec), MCS_OK);
  mcs__record_clear(&rec);
  free(doc);
  free(digits);
}

static void test_tag_lookalikes_are_plain_maps(void **state) {
  (void)state;
  /* Not exactly one string member: ordinary maps, not corrupt. */
  static const char *maps[] = {
      "{\"$bytes\":5}",
      "{\"$int\":[1]}",
      "{\"$bytes\":\"!!\",\"x\":1}",
      "{\"$int\":\"01\",\"$bytes\":\"QQ==\"}",
  };
  for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
    char *doc = record_with(maps[i]);
    mcs__record rec;
    assert_int_equal(decode(doc, &rec), MCS_OK);
    assert_int_equal(mcs__value_type(json_object_get(rec.data, "k")),
                     MCS_TYPE_MAP);
    mcs__record_clear(&rec);
    free(doc);
  }
}

static void test_bad_retired_snapshot_is_corrupt(void **state) {
  (void)state;
  const char *body = "{\"c\":1,\"r\":1,\"d\":{}}";
  char doc[200];
  static const char *const untils[] = {"0", "-1", "\"1\"", "1.5", "null"};
  for (size_t i = 0; i < sizeof untils / sizeof *untils; i++) {
    snprintf(doc, sizeof doc, "{\"v\":1,\"ru\":%s,\"s\":%s}", untils[i],
             body);
    expect_corrupt(doc);
  }
  expect_corrupt("{\"v\":1,\"ru\":1}");
  expect_corrupt("{\"v\":1,\"ru\":1,\"s\":[]}");
  expect_corrupt("{\"v\":1,\"ru\":1,\"s\":{\"c\":1,\"r\":1}}");
  /* A snapshot with a user is not one we wrote. */
  expect_corrupt("{\"v\":1,\"ru\":1,\"s\":{\"c\":1,\"r\":1,\"d\":{},"
                 "\"ui\":\"ann\"}}");
  /* The forwards of releases before 0.2 are refused (read as expired). */
  expect_corrupt("{\"v\":1,\"f\":\"mcs:k\",\"u\":17}");
}

static void test_nan_like_literals_are_corrupt(void **state) {
  (void)state;
  static const char *bad[] = {"NaN", "nan", "Infinity", "-Infinity",
                              "inf", "-inf", "1e999", "-1e999",
                              "0x10", "+1", ".5", "01"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *doc = record_with(bad[i]);
    expect_corrupt(doc);
    free(doc);
  }
}

static void test_trailing_garbage_is_corrupt(void **state) {
  (void)state;
  static const char *tails[] = {"x", "{}", "1", ",", "]", "\"\""};
  for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
    char doc[512];
    snprintf(doc, sizeof doc, "%s%s", valid, tails[i]);
    expect_corrupt(doc);
  }
  char doc[512];
  size_t n = strlen(valid);
  memcpy(doc, valid, n + 1); /* with its NUL as a trailing byte */
  expect_corrupt_n(doc, n + 1, __LINE__);
  /* Whitespace after the document is JSON, not garbage. */
  snprintf(doc, sizeof doc, "%s \r\n\t", valid);
  mcs__record rec;
  assert_int_equal(decode(doc, &rec), MCS_OK);
  mcs__record_clear(&rec);
}

/* ---- Size limits ---------------------------------------------------------- */

/* A valid record exactly `len` bytes long: {"...","d":{"k":"xxx..."}}. */
static char *record_of_length(size_t len) {
  static const char head[] = "{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"k\":\"";
  static const char tail[] = "\"}}";
  size_t fixed = sizeof head - 1 + sizeof tail - 1;
  assert_true(len >= fixed);
  char *s = malloc(len + 1);
  assert_non_null(s);
  memcpy(s, head, sizeof head - 1);
  memset(s + sizeof head - 1, 'x', len - fixed);
  memcpy(s + len - (sizeof tail - 1), tail, sizeof tail);
  assert_int_equal(strlen(s), len);
  return s;
}

static void test_input_over_size_limit_is_toobig(void **state) {
  (void)state;
  size_t limit = limits.max_bytes + SLACK;
  char *doc = record_of_length(limit);
  mcs__record rec;
  assert_int_equal(decode(doc, &rec), MCS_OK);
  mcs__record_clear(&rec);
  free(doc);
  doc = record_of_length(limit + 1);
  long before = live_blocks;
  memset(&rec, 0xa5, sizeof rec);
  assert_int_equal(decode(doc, &rec), MCS_ETOOBIG);
  assert_null(rec.data);
  assert_int_equal(rec.retired_until, 0);
  assert_int_equal(live_blocks, before);
  free(doc);
  /* Garbage that long is refused for its size before it is parsed. */
  char *junk = malloc(limit + 1000);
  memset(junk, '[', limit + 1000);
  assert_int_equal(decode_n(junk, limit + 1000, &rec), MCS_ETOOBIG);
  free(junk);
}

static void test_encode_over_size_limit_is_toobig(void **state) {
  (void)state;
  size_t limit = limits.max_bytes + SLACK;
  /* A record that encodes to exactly the limit is written... */
  char *doc = record_of_length(limit);
  mcs__record rec;
  assert_int_equal(decode(doc, &rec), MCS_OK);
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(mcs__codec_json.encode(&rec, &limits, &out), MCS_OK);
  assert_int_equal(out.len, limit);
  assert_memory_equal(out.data, doc, limit);
  /* ...one byte more is not. */
  size_t klen = json_string_length(json_object_get(rec.data, "k"));
  char *longer = malloc(klen + 1);
  memset(longer, 'x', klen + 1);
  json_object_set_new(rec.data, "k", json_stringn(longer, klen + 1));
  free(longer);
  assert_int_equal(mcs__codec_json.encode(&rec, &limits, &out), MCS_ETOOBIG);
  /* Escaping counts: 20000 control bytes are 120000 bytes of JSON. */
  char ctl[20000];
  memset(ctl, 0x01, sizeof ctl);
  json_object_set_new(rec.data, "k", json_stringn(ctl, sizeof ctl));
  assert_int_equal(mcs__codec_json.encode(&rec, &limits, &out), MCS_ETOOBIG);
  /* A smaller limit applies too. */
  const mcs__limits small = {256, MCS_JSON_DEPTH_MAX};
  json_object_set_new(rec.data, "k", json_string("short"));
  assert_int_equal(mcs__codec_json.encode(&rec, &small, &out), MCS_OK);
  char big[256 + SLACK + 16];
  memset(big, 'y', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  json_object_set_new(rec.data, "k", json_string(big));
  assert_int_equal(mcs__codec_json.encode(&rec, &small, &out), MCS_ETOOBIG);
  mcs__buf_free(&out);
  mcs__record_clear(&rec);
  free(doc);
}

/* Nothing allocated by a test may outlive it. */
static long baseline;

static int leak_check_setup(void **state) {
  (void)state;
  baseline = live_blocks;
  return 0;
}

static int leak_check_teardown(void **state) {
  (void)state;
  if (live_blocks != baseline) {
    print_error("%ld block(s) leaked\n", live_blocks - baseline);
    return -1;
  }
  return 0;
}

/* The data object is a map of session keys, not a value: a session whose
 * only key is "$bytes" (holding any string) is a session. */
static void test_session_key_named_like_a_tag_is_data(void **state) {
  (void)state;
  mcs__record rec;
  assert_int_equal(
      decode("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"$bytes\":\"not base64!\"}}",
             &rec),
      MCS_OK);
  assert_string_equal(
      json_string_value(json_object_get(rec.data, "$bytes")), "not base64!");
  mcs__record_clear(&rec);
  assert_int_equal(
      decode("{\"v\":1,\"c\":1,\"r\":1,\"d\":{\"$int\":\"x\"}}", &rec),
      MCS_OK);
  mcs__record_clear(&rec);
}

/* jansson 2.14 ignores a failed growth of its lexer's token buffer
 * (load.c, lex_save): the byte is dropped and the parse goes on, so a
 * string can come back shorter with no error (fixed upstream after 2.14,
 * commit 5cf038c). A record is decoded exactly or not at all: with each
 * single allocation failing in turn, every decode gives the record
 * unchanged or MCS_ENOMEM, never a cut value, and leaks nothing. The
 * string's token (302 bytes with its quotes) crosses the buffer's sizes
 * 16, 32, ... 256 inside its text, where jansson drops one byte and reads
 * on safely; a failure as the closing quote is saved would make jansson
 * itself read past its buffer, which no caller can mend (docs/design.md,
 * "jansson under memory pressure"). */
static void test_decode_under_each_allocation_failure_is_exact(void **state) {
  (void)state;
  char text[512], value[301];
  for (size_t i = 0; i < 300; i++)
    value[i] = (char)('a' + i % 26);
  value[300] = '\0';
  snprintf(text, sizeof text,
           "{\"v\":1,\"c\":1700000000,\"r\":12345678901234567,"
           "\"d\":{\"k\":\"%s\",\"n\":-123456789012345678}}",
           value);
  size_t exact = 0, nomem = 0;
  for (long k = 1; k < 200; k++) {
    mcs__record rec;
    long before = live_blocks;
    fail_at = k;
    int rc = decode(text, &rec);
    bool failed = fail_at == 0; /* the k-th allocation was reached */
    fail_at = 0;
    if (rc == MCS_OK) {
      json_t *d = rec.data;
      const json_t *k_value = json_object_get(d, "k");
      if (!json_is_string(k_value) ||
          json_string_length(k_value) != sizeof value - 1 ||
          memcmp(json_string_value(k_value), value, sizeof value - 1) ||
          json_integer_value(json_object_get(d, "n")) != -123456789012345678 ||
          rec.rev != 12345678901234567u || rec.created != 1700000000)
        fail_msg("allocation %ld failing: decoded a different record", k);
      mcs__record_clear(&rec);
      exact++;
    } else if (rc == MCS_ENOMEM) {
      nomem++;
    } else {
      fail_msg("allocation %ld failing: %s, want OK or ENOMEM", k,
               mcs_errname(rc));
    }
    if (live_blocks != before)
      fail_msg("allocation %ld failing: %ld block(s) leaked", k,
               live_blocks - before);
    if (!failed)
      break; /* past the decode's last allocation */
  }
  assert_true(nomem > 0); /* the failures did reach the decoder */
  assert_true(exact > 0);
}

int main(void) {
  json_set_alloc_funcs(count_malloc, count_free);
  if (mcs_replace_allocator(count_malloc, count_realloc, count_calloc,
                            count_free) != MCS_OK)
    return 1;
#define T(f) cmocka_unit_test_setup_teardown(f, leak_check_setup, leak_check_teardown)
  const struct CMUnitTest tests[] = {
      T(test_decode_reads_created_rev_and_data),
      T(test_session_key_named_like_a_tag_is_data),
      T(test_decode_accepts_empty_data_and_zero_created),
      T(test_decode_ignores_unknown_members_and_order),
      T(test_decode_accepts_int64_extremes),
      T(test_encode_writes_the_documented_envelope),
      T(test_record_round_trips),
      T(test_record_with_empty_data_round_trips),
      T(test_encode_refuses_record_without_data),
      T(test_retired_snapshot_round_trips_without_its_user),
      T(test_retired_snapshot_hides_its_body_from_old_readers),
      T(test_string_with_nul_is_allowed_and_round_trips),
      T(test_not_json_is_corrupt),
      T(test_every_truncation_of_a_valid_record_is_corrupt),
      T(test_top_level_not_an_object_is_corrupt),
      T(test_bad_version_is_corrupt),
      T(test_bad_created_is_corrupt),
      T(test_bad_rev_is_corrupt),
      T(test_data_not_an_object_is_corrupt),
      T(test_duplicate_keys_are_corrupt),
      T(test_nul_in_a_key_is_corrupt),
      T(test_raw_nul_byte_is_corrupt),
      T(test_value_nested_to_max_depth_decodes),
      T(test_value_nested_deeper_than_limit_is_corrupt),
      T(test_tagged_values_do_not_count_as_nesting),
      T(test_bad_bytes_tag_in_data_is_corrupt),
      T(test_bytes_tag_with_non_ascii_is_corrupt),
      T(test_bad_int_tag_in_data_is_corrupt),
      T(test_tag_lookalikes_are_plain_maps),
      T(test_bad_retired_snapshot_is_corrupt),
      T(test_nan_like_literals_are_corrupt),
      T(test_trailing_garbage_is_corrupt),
      T(test_input_over_size_limit_is_toobig),
      T(test_encode_over_size_limit_is_toobig),
      T(test_decode_under_each_allocation_failure_is_exact),
  };
#undef T
  return cmocka_run_group_tests_name("codec_json", tests, NULL, NULL);
}
