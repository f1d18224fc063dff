/* The tornado record codec (src/codec/pickle/pickle_decode.c,
 * src/codec/pickle/pickle_encode.c), called directly: known answers from
 * CPython (tests/vectors/gen_pickles.py writes tests/vectors/pickles/ and
 * its MANIFEST):
 *   - every valid pickle decodes to the JSON CPython's pickle.loads gave;
 *   - every hostile one is refused with MCS_ECORRUPT (at the expected
 *     opcode) or MCS_ETOOBIG, leaving the record empty;
 *   - our encoder writes byte for byte what CPython writes with its memo
 *     off.
 * When $MCS_BUILD is set, the encoder's outputs (with the JSON they must
 * load as) go to $MCS_BUILD/pickle_out/ for
 * tests/integration/pickle_crosscheck.py, which loads them in CPython.
 * Round trips of every type and the encoder's limits are here too; the
 * decoder's bounds and allocation failures: test_codec_pickle_bounds.c.
 * Every test also checks that nothing leaked (pickle_fixture.h). */
#include "pickle_fixture.h"

/* ---- Known answers from CPython ---------------------------------------- */

static void test_cpython_pickles_decode_to_expected_values(void **state) {
  (void)state;
  size_t n, seen = 0;
  entry *m = read_manifest(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(m[i].kind, "ok") != 0)
      continue;
    size_t len;
    uint8_t *in = read_vector(m[i].a, &len);
    json_t *want = load_json_file(m[i].b);
    mcs__record rec;
    mcs__pickle_info info;
    int rc = decode(in, len, &rec, &info);
    if (rc != MCS_OK)
      fail_msg("%s: %s (%s at offset %lld, opcode 0x%02x)", m[i].a,
               mcs_errname(rc), info.reason, info.offset, info.opcode);
    assert_false(info.not_a_dict);
    assert_null(info.reason);
    assert_int_equal(rec.created, 0);
    assert_int_equal(rec.rev, 0);
    assert_int_equal(rec.retired_until, 0);
    check_value(rec.data, want, m[i].a);
    mcs__record_clear(&rec);
    json_decref(want);
    free(in);
    seen++;
  }
  assert_true(seen >= 30);
  free(m);
}

static void test_top_level_not_a_dict_is_an_empty_session(void **state) {
  (void)state;
  size_t n, seen = 0;
  entry *m = read_manifest(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(m[i].kind, "notdict") != 0)
      continue;
    size_t len;
    uint8_t *in = read_vector(m[i].a, &len);
    mcs__record rec;
    mcs__pickle_info info;
    int rc = decode(in, len, &rec, &info);
    if (rc != MCS_OK)
      fail_msg("%s: %s (%s)", m[i].a, mcs_errname(rc), info.reason);
    assert_true(info.not_a_dict);
    assert_true(json_is_object(rec.data));
    assert_int_equal(json_object_size(rec.data), 0);
    mcs__record_clear(&rec);
    free(in);
    seen++;
  }
  assert_true(seen >= 5);
  free(m);
}

static void test_hostile_pickles_are_refused(void **state) {
  (void)state;
  size_t n, seen = 0;
  entry *m = read_manifest(&n);
  for (size_t i = 0; i < n; i++) {
    bool big = strcmp(m[i].kind, "toobig") == 0;
    if (strcmp(m[i].kind, "corrupt") != 0 && !big)
      continue;
    size_t len;
    uint8_t *in = read_vector(m[i].a, &len);
    mcs__pickle_info info =
        expect_refused(in, len, big ? MCS_ETOOBIG : MCS_ECORRUPT, m[i].a);
    if (!big && strcmp(m[i].b, "-") != 0) {
      int want = (int)strtol(m[i].b, NULL, 16);
      if (info.opcode != want)
        fail_msg("%s: stopped at opcode 0x%02x (offset %lld: %s), want "
                 "0x%02x",
                 m[i].a, info.opcode, info.offset, info.reason, want);
      assert_true(info.offset >= 0 && (size_t)info.offset < len);
      assert_int_equal(in[info.offset], want);
    }
    free(in);
    seen++;
  }
  assert_true(seen >= 100);
  free(m);
}

/* A prefix of a pickle never holds its STOP, so it never decodes. */
static void test_every_truncation_is_corrupt(void **state) {
  (void)state;
  size_t n;
  entry *m = read_manifest(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(m[i].kind, "ok") != 0 && strcmp(m[i].kind, "notdict") != 0)
      continue;
    size_t len;
    uint8_t *in = read_vector(m[i].a, &len);
    size_t step = len > 4096 ? 97 : 1; /* big vectors: a sample */
    for (size_t cut = 0; cut < len; cut += step) {
      uint8_t *copy = malloc(cut ? cut : 1); /* exact size for ASan */
      memcpy(copy, in, cut);
      char what[200];
      snprintf(what, sizeof what, "%s cut at %zu", m[i].a, cut);
      expect_refused(copy, cut, MCS_ECORRUPT, what);
      free(copy);
    }
    free(in);
  }
  free(m);
}

static void test_encoder_writes_what_cpython_writes(void **state) {
  (void)state;
  size_t n, seen = 0;
  entry *m = read_manifest(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(m[i].kind, "encode") != 0)
      continue;
    json_t *data = load_json_file(m[i].a);
    size_t len;
    uint8_t *want = read_vector(m[i].b, &len);
    mcs__buf out = MCS__BUF_INIT;
    assert_int_equal(mcs__pickle_encode(data, &limits, &out), MCS_OK);
    if (out.len != len || memcmp(out.data, want, len) != 0) {
      size_t at = 0;
      while (at < len && at < out.len && out.data[at] == want[at])
        at++;
      fail_msg("%s: %zu bytes, CPython %zu; first difference at %zu", m[i].b,
               out.len, len, at);
    }
    char name[160];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(m[i].a) - 5), m[i].a);
    write_for_crosscheck(name, &out, data);
    mcs__buf_free(&out);
    free(want);
    json_decref(data);
    seen++;
  }
  assert_true(seen >= 5);
  free(m);
}

/* CPython's pickles decode, re-encode, and decode to the same value; the
 * re-encoded ones also go to pickle_crosscheck.py. */
static void test_cpython_pickles_survive_a_round_trip(void **state) {
  (void)state;
  size_t n;
  entry *m = read_manifest(&n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(m[i].kind, "ok") != 0)
      continue;
    size_t len;
    uint8_t *in = read_vector(m[i].a, &len);
    mcs__record rec;
    assert_int_equal(decode(in, len, &rec, NULL), MCS_OK);
    expect_round_trip(rec.data, rec.data);
    mcs__buf out = MCS__BUF_INIT;
    assert_int_equal(mcs__pickle_encode(rec.data, &limits, &out), MCS_OK);
    char name[160];
    snprintf(name, sizeof name, "rt_%.*s", (int)(strlen(m[i].a) - 4), m[i].a);
    write_for_crosscheck(name, &out, rec.data);
    mcs__buf_free(&out);
    mcs__record_clear(&rec);
    free(in);
  }
  free(m);
}

/* ---- Round trips of every type ------------------------------------------ */

static void test_every_value_type_round_trips(void **state) {
  (void)state;
  static const char *values[] = {
      "null",
      "true",
      "false",
      "0",
      "-1",
      "255",
      "256",
      "65535",
      "65536",
      "-2147483648",
      "2147483647",
      "2147483648",
      "-2147483649",
      "9223372036854775807",
      "-9223372036854775808",
      "{\"$int\":\"9223372036854775808\"}",
      "{\"$int\":\"-9223372036854775809\"}",
      "{\"$int\":\"18446744073709551616\"}",
      "{\"$int\":\"-340282366920938463463374607431768211456\"}",
      "0.1",
      "-0.0",
      "0.0",
      "1e308",
      "-1e308",
      "5e-324",
      "1.5",
      "\"\"",
      "\"caf\\u00e9\"",
      "\"\\ud83d\\ude00\"",
      "\"a\\u0000b\"",
      "{\"$bytes\":\"\"}",
      "{\"$bytes\":\"AAEC/w==\"}",
      "[]",
      "{}",
      "[1,[2,[3,[]]]]",
      "{\"a\":{\"b\":[{}]}}",
      "{\"$int\":5}",
      "{\"$bytes\":\"QQ==\",\"x\":1}",
      "{\"\":\"empty key, nested\"}",
      "[null,true,1,1.5,\"s\",{\"$bytes\":\"QQ==\"},[],{}]",
  };
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    json_t *data = json_object();
    assert_int_equal(json_object_set_new(data, "k", parse(values[i])), 0);
    expect_round_trip(data, data);
    json_decref(data);
  }
}

/* Big integers: decimal -> two's complement (encoder) and back (decoder)
 * agree for every length, both signs, at powers of ten and just below. */
static void test_big_integers_convert_exactly(void **state) {
  (void)state;
  char digits[MCS__PICKLE_DIGITS_MAX + 2];
  for (size_t k = 19; k <= MCS__PICKLE_DIGITS_MAX;
       k = k < 100 ? k + 1
           : k < MCS__PICKLE_DIGITS_MAX && k + 97 > MCS__PICKLE_DIGITS_MAX
               ? MCS__PICKLE_DIGITS_MAX
               : k + 97) {
    for (int form = 0; form < 4; form++) {
      bool neg = form & 1, nines = form & 2;
      size_t at = 0;
      if (neg)
        digits[at++] = '-';
      if (nines) { /* 10^k - 1: k nines */
        memset(digits + at, '9', k);
        at += k;
      } else { /* 10^(k-1): k digits */
        digits[at++] = '1';
        memset(digits + at, '0', k - 1);
        at += k - 1;
      }
      json_t *tag = json_pack("{s:s#}", MCS__TAG_BIGINT, digits, (int)at);
      json_t *data = json_pack("{s:o}", "n", tag);
      assert_non_null(data);
      bool fits = k == 19 && !nines; /* 10^18 */
      if (fits) {
        json_t *want = json_pack("{s:I}", "n",
                                 (json_int_t)(neg ? -1 : 1) *
                                     (json_int_t)1000000000000000000LL);
        expect_round_trip(data, want);
        json_decref(want);
      } else {
        expect_round_trip(data, data);
      }
      json_decref(data);
    }
  }
}

static void test_int64_edges_written_as_tags_come_back_as_ints(void **state) {
  (void)state;
  json_t *data = parse("{\"a\":{\"$int\":\"9223372036854775807\"},"
                       "\"b\":{\"$int\":\"-9223372036854775808\"},"
                       "\"c\":{\"$int\":\"5\"},\"d\":{\"$int\":\"-0\"}}");
  json_t *want = parse("{\"a\":9223372036854775807,"
                       "\"b\":-9223372036854775808,\"c\":5,\"d\":0}");
  expect_round_trip(data, want);
  json_decref(data);
  json_decref(want);
}

/* ---- Encoder --------------------------------------------------------------
 */

static void test_encoder_output_for_a_small_session(void **state) {
  (void)state;
  json_t *data = parse("{\"user_name\":\"ann\"}");
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(mcs__pickle_encode(data, &limits, &out), MCS_OK);
  static const uint8_t want[] =
      "\x80\x04\x95\x13\x00\x00\x00\x00\x00\x00\x00}\x8c\x09user_name"
      "\x8c\x03"
      "anns.";
  assert_int_equal(out.len, sizeof want - 1);
  assert_memory_equal(out.data, want, sizeof want - 1);
  json_object_clear(data);
  assert_int_equal(mcs__pickle_encode(data, &limits, &out), MCS_OK);
  assert_int_equal(out.len, 4); /* no frame under 4 bytes, as CPython */
  assert_memory_equal(out.data, "\x80\x04}.", 4);
  mcs__buf_free(&out);
  json_decref(data);
}

static void test_encoder_refuses_values_outside_the_model(void **state) {
  (void)state;
  mcs__buf out = MCS__BUF_INIT;
  json_t *v = json_array();
  assert_int_equal(mcs__pickle_encode(v, &limits, &out), MCS_EINVAL);
  json_decref(v);
  static const char *bad[] = {
      "{\"k\":{\"$bytes\":\"!!\"}}", "{\"k\":{\"$bytes\":\"QR==\"}}",
      "{\"k\":{\"$int\":\"12a\"}}",  "{\"k\":{\"$int\":\"007\"}}",
      "{\"k\":[{\"$int\":\"\"}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    v = parse(bad[i]);
    assert_int_equal(mcs__pickle_encode(v, &limits, &out), MCS_EINVAL);
    json_decref(v);
  }
  v = json_pack("{s:o}", "k", json_stringn_nocheck("\xff", 1));
  assert_int_equal(mcs__pickle_encode(v, &limits, &out), MCS_EINVAL);
  json_decref(v);
  /* Deeper than the limit: MCS_JSON_DEPTH_MAX + 1 lists in a value. */
  json_t *deep = json_integer(0);
  for (int i = 0; i < MCS_JSON_DEPTH_MAX + 1; i++) {
    json_t *l = json_array();
    json_array_append_new(l, deep);
    deep = l;
  }
  v = json_pack("{s:o}", "k", deep);
  assert_int_equal(mcs__pickle_encode(v, &limits, &out), MCS_EINVAL);
  json_decref(v);
  mcs__buf_free(&out);
}

/* {"k": "x" * n} pickles to n + 22 bytes; the limit is max_bytes + slack. */
static void test_encoder_size_limit(void **state) {
  (void)state;
  mcs__buf out = MCS__BUF_INIT;
  size_t n = LIMIT - 22;
  char *s = malloc(n + 1);
  memset(s, 'x', n + 1);
  json_t *v = json_pack("{s:s#}", "k", s, (int)n);
  assert_int_equal(mcs__pickle_encode(v, &limits, &out), MCS_OK);
  assert_int_equal(out.len, LIMIT);
  mcs__record rec; /* what we write at the limit, we read back */
  assert_int_equal(decode(out.data, out.len, &rec, NULL), MCS_OK);
  mcs__record_clear(&rec);
  json_decref(v);
  v = json_pack("{s:s#}", "k", s, (int)(n + 1));
  assert_int_equal(mcs__pickle_encode(v, &limits, &out), MCS_ETOOBIG);
  assert_int_equal(out.len, 0);
  json_decref(v);
  free(s);
  mcs__buf_free(&out);
}

/* The codec tornado mode uses (codec/codec_tornado.c): plain pickles as
 * the recipe writes them, and a retired snapshot as its pickle plus a
 * trailer after STOP. */
static void test_codec_entry(void **state) {
  (void)state;
  const mcs__codec *c = &mcs__codec_tornado;
  assert_string_equal(c->name, "tornado-pickle");
  assert_int_equal(c->flags, 0);
  mcs__record rec = {0};
  rec.data = parse("{\"n\":1}");
  mcs__buf out = MCS__BUF_INIT;
  assert_int_equal(c->encode(&rec, &limits, &out), MCS_OK);
  assert_int_equal(out.data[out.len - 1], '.'); /* ends with STOP */
  mcs__record back;
  assert_int_equal(c->decode(out.data, out.len, &limits, &back), MCS_OK);
  assert_true(json_equal(back.data, rec.data));
  assert_int_equal(back.retired_until, 0);
  mcs__record_clear(&back);
  rec.retired_until = 1700000010;
  assert_int_equal(c->encode(&rec, &limits, &out), MCS_OK);
  assert_memory_equal(out.data + out.len - 16, "\0mcsret\1", 8);
  assert_int_equal(c->decode(out.data, out.len, &limits, &back), MCS_OK);
  assert_int_equal(back.retired_until, 1700000010);
  assert_true(json_equal(back.data, rec.data));
  mcs__record_clear(&back);
  mcs__record_clear(&rec);
  mcs__buf_free(&out);
}

int main(void) {
  if (pickle_tests_init())
    return 1;
#define T(f) LEAK_CHECKED(f)
  const struct CMUnitTest tests[] = {
      T(test_cpython_pickles_decode_to_expected_values),
      T(test_top_level_not_a_dict_is_an_empty_session),
      T(test_hostile_pickles_are_refused),
      T(test_every_truncation_is_corrupt),
      T(test_encoder_writes_what_cpython_writes),
      T(test_cpython_pickles_survive_a_round_trip),
      T(test_every_value_type_round_trips),
      T(test_big_integers_convert_exactly),
      T(test_int64_edges_written_as_tags_come_back_as_ints),
      T(test_encoder_output_for_a_small_session),
      T(test_encoder_refuses_values_outside_the_model),
      T(test_encoder_size_limit),
      T(test_codec_entry),
  };
#undef T
  return cmocka_run_group_tests_name("codec_pickle", tests, NULL, NULL);
}
