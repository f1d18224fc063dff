/* The tornado record codec (src/codec/pickle/pickle_decode.c, src/codec/pickle/pickle_encode.c),
 * called directly.
 *
 * Known answers come from CPython (tests/vectors/gen_pickles.py writes
 * tests/vectors/pickles/ and its MANIFEST; the directory is found through
 * $MCS_VECTORS, else tests/vectors from the source root):
 *   - every valid pickle decodes to the JSON CPython's pickle.loads gave;
 *   - every hostile one is refused with MCS_ECORRUPT (at the expected
 *     opcode) or MCS_ETOOBIG, leaving the record empty;
 *   - our encoder writes byte for byte what CPython writes with its memo
 *     off.
 * When $MCS_BUILD is set, the encoder's outputs (with the JSON they must
 * load as) go to $MCS_BUILD/pickle_out/ for
 * tests/integration/pickle_crosscheck.py, which loads them in CPython.
 *
 * Both the library and jansson allocate through counting hooks installed
 * in main(), so every test also checks that nothing leaked, and the hooks
 * can fail the Nth allocation. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "codec/pickle/pickle_int.h"
#include "session/session_int.h"

static const mcs__limits limits = {65536, MCS_JSON_DEPTH_MAX};
#define LIMIT (65536 + MCS__PICKLE_SLACK)

/* ---- Counting allocators with fault injection ----------------------- */

static long live_blocks;         /* allocations not yet freed */
static long fail_countdown = -1; /* fail the allocation after this many */

static bool inject_failure(void) {
  if (fail_countdown < 0)
    return false;
  if (fail_countdown-- == 0)
    return true;
  return false;
}

static void *count_malloc(size_t n) {
  void *p = inject_failure() ? NULL : malloc(n);
  if (p)
    live_blocks++;
  return p;
}
static void *count_realloc(void *p, size_t n) {
  if (inject_failure())
    return NULL;
  void *q = realloc(p, n);
  if (!p && q)
    live_blocks++;
  return q;
}
static void *count_calloc(size_t n, size_t m) {
  void *p = inject_failure() ? NULL : calloc(n, m);
  if (p)
    live_blocks++;
  return p;
}
static void count_free(void *p) {
  if (p)
    live_blocks--;
  free(p);
}

static long blocks_at_setup;

static int leak_check_setup(void **state) {
  (void)state;
  blocks_at_setup = live_blocks;
  return 0;
}

static int leak_check_teardown(void **state) {
  (void)state;
  fail_countdown = -1;
  if (live_blocks != blocks_at_setup) {
    fprintf(stderr, "%ld block(s) leaked\n", live_blocks - blocks_at_setup);
    return -1;
  }
  return 0;
}

/* ---- Files ------------------------------------------------------------ */

static char vector_dir[1024];

static void find_vectors(void) {
  const char *env = getenv("MCS_VECTORS");
  snprintf(vector_dir, sizeof vector_dir, "%s/pickles",
           env ? env : "tests/vectors");
}

/* Reads a vector into a buffer of exactly its size (so AddressSanitizer
 * catches any read past the end). free() it. */
static uint8_t *read_vector(const char *name, size_t *len) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", vector_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s (set MCS_VECTORS)", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static json_t *load_json_file(const char *name) {
  size_t len;
  uint8_t *text = read_vector(name, &len);
  json_error_t err;
  json_t *v = json_loadb((const char *)text, len, JSON_ALLOW_NUL, &err);
  free(text);
  if (!v)
    fail_msg("%s: %s", name, err.text);
  return v;
}

typedef struct entry {
  char kind[16], a[128], b[128];
} entry;

/* The MANIFEST's entries (see gen_pickles.py); free() the array. */
static entry *read_manifest(size_t *count) {
  char path[1200], line[512];
  snprintf(path, sizeof path, "%s/MANIFEST", vector_dir);
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s (set MCS_VECTORS)", path);
  entry *list = NULL;
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    list = realloc(list, (n + 1) * sizeof *list);
    assert_non_null(list);
    entry *e = &list[n];
    e->b[0] = '\0';
    assert_true(sscanf(line, "%15s %127s %127s", e->kind, e->a, e->b) >= 2);
    n++;
  }
  fclose(f);
  assert_true(n > 100);
  *count = n;
  return list;
}

/* $MCS_BUILD/pickle_out/<name>, or false when $MCS_BUILD is unset. */
static bool out_path(const char *name, char *path, size_t size) {
  const char *build = getenv("MCS_BUILD");
  if (!build)
    return false;
  snprintf(path, size, "%s/pickle_out", build);
  if (mkdir(path, 0777) != 0 && errno != EEXIST)
    fail_msg("cannot create %s", path);
  snprintf(path, size, "%s/pickle_out/%s", build, name);
  return true;
}

/* Leaves a pickle our encoder wrote, and the value it must load as, for
 * pickle_crosscheck.py. */
static void write_for_crosscheck(const char *name, const mcs__buf *pkl,
                                 const json_t *want) {
  char path[1200];
  if (!out_path("", path, sizeof path))
    return;
  snprintf(path, sizeof path, "%s/pickle_out/%s.pkl", getenv("MCS_BUILD"),
           name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(pkl->data, 1, pkl->len, f), pkl->len);
  fclose(f);
  snprintf(path, sizeof path, "%s/pickle_out/%s.json", getenv("MCS_BUILD"),
           name);
  assert_int_equal(json_dump_file(want, path, JSON_COMPACT), 0);
}

/* ---- Helpers ------------------------------------------------------------ */

static int decode(const void *in, size_t len, mcs__record *rec,
                  mcs__pickle_info *info) {
  return mcs__pickle_decode(in, len, &limits, rec, info);
}

/* json_equal, plus: reals compared bit for bit (-0.0 is not 0.0). */
static bool strict_equal(const json_t *a, const json_t *b) {
  if (!json_equal(a, b))
    return false;
  if (json_is_real(a)) {
    double x = json_real_value(a), y = json_real_value(b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  if (json_is_array(a)) {
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!strict_equal(json_array_get(a, i), json_array_get(b, i)))
        return false;
  }
  if (json_is_object(a)) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)a, k, v) {
      if (!strict_equal(v, json_object_get(b, k)))
        return false;
    }
  }
  return true;
}

static char *dump(const json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return s ? s : strdup("?");
}

static void check_value(const json_t *got, const json_t *want,
                        const char *what) {
  if (!strict_equal(got, want)) {
    char *g = dump(got), *w = dump(want);
    fail_msg("%s: got %.300s\nwant %.300s", what, g, w);
  }
}

/* Decoding must fail with `want` (and the record stay empty, nothing
 * leak). Returns the info for more checks. */
static mcs__pickle_info expect_refused(const void *in, size_t len, int want,
                                       const char *what) {
  mcs__record rec;
  mcs__pickle_info info;
  memset(&rec, 0xa5, sizeof rec);
  long before = live_blocks;
  int rc = decode(in, len, &rec, &info);
  if (rc == MCS_OK)
    mcs__record_clear(&rec);
  if (rc != want)
    fail_msg("%s: %s (%s), want %s", what, mcs_errname(rc),
             info.reason ? info.reason : "no reason", mcs_errname(want));
  if (rec.data || rec.retired_until)
    fail_msg("%s: record not left empty", what);
  if (!info.reason)
    fail_msg("%s: no reason given", what);
  if (live_blocks != before)
    fail_msg("%s: %ld block(s) leaked", what, live_blocks - before);
  return info;
}

static json_t *parse(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!v)
    fail_msg("bad test JSON: %s (%s)", text, err.text);
  return v;
}

/* Encodes `data`, decodes the result, and expects `want` back. */
static void expect_round_trip(const json_t *data, const json_t *want) {
  mcs__buf out = MCS__BUF_INIT;
  int rc = mcs__pickle_encode(data, &limits, &out);
  if (rc != MCS_OK) {
    char *s = dump(data);
    fail_msg("encode(%.300s): %s", s, mcs_errname(rc));
  }
  mcs__record back;
  mcs__pickle_info info;
  rc = decode(out.data, out.len, &back, &info);
  if (rc != MCS_OK)
    fail_msg("decode of our own output: %s (%s at %lld)", mcs_errname(rc),
             info.reason, info.offset);
  check_value(back.data, want, "round trip");
  mcs__record_clear(&back);
  mcs__buf_free(&out);
}

/* A growable byte string for hand-made pickles; free() .data. */
typedef struct bytes {
  uint8_t *data;
  size_t len;
} bytes;

static void add(bytes *b, const void *p, size_t n) {
  b->data = realloc(b->data, b->len + n + 1);
  assert_non_null(b->data);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void add_str(bytes *b, const char *s) { add(b, s, strlen(s)); }
/* A string literal that may hold NUL bytes. */
#define ADD_LIT(b, lit) add((b), (lit), sizeof(lit) - 1)

static void add_repeat(bytes *b, const char *s, size_t times) {
  for (size_t i = 0; i < times; i++)
    add_str(b, s);
}

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

/* ---- Decoder bounds, in memory ------------------------------------------ */

/* {"k": b"x" * n} with BINBYTES8: 17 + n bytes. */
static bytes bytes_pickle(size_t n) {
  bytes b = {0};
  add_str(&b, "\x80\x04}\x8c\x01k\x8e");
  uint8_t len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (uint8_t)((uint64_t)n >> (8 * i));
  add(&b, len8, 8);
  char *x = malloc(n);
  memset(x, 'x', n);
  add(&b, x, n);
  free(x);
  add_str(&b, "s.");
  return b;
}

static void test_input_over_the_size_limit_is_toobig(void **state) {
  (void)state;
  bytes b = bytes_pickle(LIMIT - 16);
  assert_int_equal(b.len, LIMIT + 1);
  expect_refused(b.data, b.len, MCS_ETOOBIG, "one byte over");
  free(b.data);
  b = bytes_pickle(LIMIT - 17);
  mcs__record rec;
  assert_int_equal(decode(b.data, b.len, &rec, NULL), MCS_OK);
  mcs__record_clear(&rec);
  free(b.data);
}

/* A 30000-byte str named four times weighs 120000: over the budget. */
static void test_shared_string_bomb_is_toobig(void **state) {
  (void)state;
  bytes b = {0};
  ADD_LIT(&b, "\x80\x04}(\x8c\x01"
              "aX\x30\x75\x00\x00");
  add_repeat(&b, "x", 30000);
  ADD_LIT(&b, "\x94\x8c\x01"
              "bh\x00\x8c\x01"
              "ch\x00\x8c\x01"
              "dh\x00u.");
  mcs__pickle_info info = expect_refused(b.data, b.len, MCS_ETOOBIG, "bomb");
  assert_non_null(strstr(info.reason, "expands"));
  /* Named twice, it fits. */
  bytes ok = {0};
  ADD_LIT(&ok, "\x80\x04}(\x8c\x01"
               "aX\x30\x75\x00\x00");
  add_repeat(&ok, "x", 30000);
  ADD_LIT(&ok, "\x94\x8c\x01"
               "bh\x00u.");
  mcs__record rec;
  assert_int_equal(decode(ok.data, ok.len, &rec, NULL), MCS_OK);
  assert_int_equal(json_string_length(json_object_get(rec.data, "b")), 30000);
  mcs__record_clear(&rec);
  free(ok.data);
  free(b.data);
}

/* `levels` containers of one kind nested in the value of key "k". */
static void nested_pickle(bytes *b, int levels, const char *open,
                          const char *close) {
  add_str(b, "\x80\x04}\x8c\x01k");
  add_repeat(b, open, (size_t)levels);
  add_str(b, "N");
  add_repeat(b, close, (size_t)levels);
  add_str(b, "s.");
}

static void test_nesting_is_bounded_for_every_container(void **state) {
  (void)state;
  static const char *forms[][2] = {
      {"]", "a"},          /* lists */
      {"", "\x85"},        /* tuples (TUPLE1) */
      {"(", "l"},          /* LIST from a mark */
      {"}\x8c\x01x", "s"}, /* dicts */
  };
  for (size_t f = 0; f < 4; f++) {
    bytes b = {0};
    nested_pickle(&b, MCS_JSON_DEPTH_MAX, forms[f][0], forms[f][1]);
    mcs__record rec;
    int rc = decode(b.data, b.len, &rec, NULL);
    if (rc != MCS_OK)
      fail_msg("form %zu at the depth limit: %s", f, mcs_errname(rc));
    mcs__record_clear(&rec);
    free(b.data);
    b = (bytes){0};
    nested_pickle(&b, MCS_JSON_DEPTH_MAX + 1, forms[f][0], forms[f][1]);
    mcs__pickle_info info =
        expect_refused(b.data, b.len, MCS_ECORRUPT, "one level deeper");
    assert_non_null(strstr(info.reason, "deeper"));
    free(b.data);
  }
}

/* Very deep input is refused as it is read, never recursed into. */
static void test_deep_hostile_nesting_is_refused_early(void **state) {
  (void)state;
  bytes b = {0};
  nested_pickle(&b, 30000, "]", "a");
  expect_refused(b.data, b.len, MCS_ECORRUPT, "30000 levels");
  free(b.data);
}

static void test_stack_and_marks_are_bounded(void **state) {
  (void)state;
  bytes b = {0};
  add_str(&b, "\x80\x04");
  add_repeat(&b, "N", MCS__PICKLE_STACK_MAX + 1);
  mcs__pickle_info info = expect_refused(b.data, b.len, MCS_ECORRUPT, "stack");
  assert_non_null(strstr(info.reason, "stack"));
  free(b.data);
  b = (bytes){0};
  add_str(&b, "\x80\x04");
  add_repeat(&b, "(", MCS__PICKLE_STACK_MAX + 1);
  info = expect_refused(b.data, b.len, MCS_ECORRUPT, "marks");
  assert_non_null(strstr(info.reason, "MARK"));
  free(b.data);
}

/* {"k": (1, 1)} with the 1 memoized at `index` by LONG_BINPUT and
 * fetched by LONG_BINGET, after a 65520-byte str that is popped (so the
 * input is long enough for any index below MCS__PICKLE_MEMO_MAX). */
static bytes memo_pickle(uint32_t index) {
  bytes b = {0};
  uint8_t idx[4] = {(uint8_t)index, (uint8_t)(index >> 8),
                    (uint8_t)(index >> 16), (uint8_t)(index >> 24)};
  ADD_LIT(&b, "\x80\x04}\x8c\x01kX\xf0\xff\x00\x00");
  add_repeat(&b, "x", 65520);
  add_str(&b, "0K\x01r");
  add(&b, idx, 4);
  add_str(&b, "j");
  add(&b, idx, 4);
  add_str(&b, "\x86s.");
  return b;
}

static void test_memo_indices_are_bounded(void **state) {
  (void)state;
  /* The highest index accepted, then one more. */
  bytes b = memo_pickle(MCS__PICKLE_MEMO_MAX - 1);
  assert_true(b.len > MCS__PICKLE_MEMO_MAX);
  mcs__record rec;
  assert_int_equal(decode(b.data, b.len, &rec, NULL), MCS_OK);
  json_t *want = parse("{\"k\":[1,1]}");
  check_value(rec.data, want, "memo at the highest index");
  json_decref(want);
  mcs__record_clear(&rec);
  free(b.data);
  b = memo_pickle(MCS__PICKLE_MEMO_MAX);
  mcs__pickle_info info =
      expect_refused(b.data, b.len, MCS_ECORRUPT, "memo index");
  assert_int_equal(info.opcode, 'r');
  assert_int_equal(info.offset, 11 + 65520 + 3);
  free(b.data);
  /* An index at or past the input's length: a short input cannot claim
   * a big table. */
  static const uint8_t small[] = "\x80\x04}\x8c\x01kK\x01q\x0bs.";
  assert_int_equal(decode(small, sizeof small - 1, &rec, NULL), MCS_OK);
  mcs__record_clear(&rec);
  static const uint8_t past[] = "\x80\x04}\x8c\x01kK\x01q\x0cs.";
  info = expect_refused(past, sizeof past - 1, MCS_ECORRUPT, "memo index");
  assert_int_equal(info.opcode, 'q');
  assert_int_equal(info.offset, 8);
}

static void test_reason_names_the_refused_opcode(void **state) {
  (void)state;
  static const uint8_t global[] = "\x80\x04}\x8c\x01kcos\nsystem\ns.";
  mcs__pickle_info info =
      expect_refused(global, sizeof global - 1, MCS_ECORRUPT, "GLOBAL");
  assert_non_null(strstr(info.reason, "GLOBAL"));
  assert_int_equal(info.offset, 6);
  assert_int_equal(info.opcode, 'c');
  static const uint8_t reduce[] = "\x80\x04]\x8c\x01x\x85R.";
  info = expect_refused(reduce, sizeof reduce - 1, MCS_ECORRUPT, "REDUCE");
  assert_non_null(strstr(info.reason, "REDUCE"));
  static const uint8_t recursive[] = "\x80\x04}\x8c\x01l]\x94h\x00"
                                     "as.";
  info = expect_refused(recursive, sizeof recursive - 1, MCS_ECORRUPT,
                        "recursive");
  assert_non_null(strstr(info.reason, "recursive"));
  assert_int_equal(info.opcode, 'a');
}

/* A container named again while still being built is fine as long as it
 * is not changed afterwards: the copy is a snapshot. */
static void test_container_shared_while_open_but_unchanged(void **state) {
  (void)state;
  /* {'a': [1], 'b': <GET of 'a''s list, still below the SETITEMS mark>} */
  static const uint8_t in[] = "\x80\x04}(\x8c\x01"
                              "a]K\x01"
                              "a\x94\x8c\x01"
                              "bh\x00u.";
  mcs__record rec;
  assert_int_equal(decode(in, sizeof in - 1, &rec, NULL), MCS_OK);
  json_t *want = parse("{\"a\":[1],\"b\":[1]}");
  check_value(rec.data, want, "shared while open");
  /* The two lists are distinct objects: changing one leaves the other. */
  assert_ptr_not_equal(json_object_get(rec.data, "a"),
                       json_object_get(rec.data, "b"));
  json_decref(want);
  mcs__record_clear(&rec);
}

/* ---- Allocation failures ---------------------------------------------------
 */

/* Fails the 1st, 2nd, ... allocation until the call succeeds: each
 * failure must be MCS_ENOMEM, leave nothing allocated and the output
 * empty. */
static void test_allocation_failures_are_clean(void **state) {
  (void)state;
  static const char *names[] = {"nested_p4.pkl",     "shared_p4.pkl",
                                "bytes_p5.pkl",      "text_forms.pkl",
                                "odd_but_valid.pkl", "scalars_p2.pkl"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    size_t len;
    uint8_t *in = read_vector(names[i], &len);
    for (long nth = 0;; nth++) {
      mcs__record rec;
      long before = live_blocks;
      fail_countdown = nth;
      int rc = decode(in, len, &rec, NULL);
      fail_countdown = -1;
      if (rc == MCS_OK) {
        mcs__buf out = MCS__BUF_INIT; /* now the encoder, the same way */
        for (long k = 0;; k++) {
          fail_countdown = k;
          int erc = mcs__pickle_encode(rec.data, &limits, &out);
          fail_countdown = -1;
          if (erc == MCS_OK)
            break;
          assert_int_equal(erc, MCS_ENOMEM);
          mcs__buf_free(&out);
        }
        mcs__buf_free(&out);
        mcs__record_clear(&rec);
        break;
      }
      if (rc != MCS_ENOMEM)
        fail_msg("%s, allocation %ld failed: %s", names[i], nth,
                 mcs_errname(rc));
      assert_null(rec.data);
      if (live_blocks != before)
        fail_msg("%s, allocation %ld failed: %ld block(s) leaked", names[i],
                 nth, live_blocks - before);
    }
    free(in);
  }
}

int main(void) {
  find_vectors();
  json_set_alloc_funcs(count_malloc, count_free);
  if (mcs_replace_allocator(count_malloc, count_realloc, count_calloc,
                            count_free) != MCS_OK)
    return 1;
#define T(f)                                                                   \
  cmocka_unit_test_setup_teardown(f, leak_check_setup, leak_check_teardown)
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
      T(test_input_over_the_size_limit_is_toobig),
      T(test_shared_string_bomb_is_toobig),
      T(test_nesting_is_bounded_for_every_container),
      T(test_deep_hostile_nesting_is_refused_early),
      T(test_stack_and_marks_are_bounded),
      T(test_memo_indices_are_bounded),
      T(test_reason_names_the_refused_opcode),
      T(test_container_shared_while_open_but_unchanged),
      T(test_allocation_failures_are_clean),
  };
#undef T
  return cmocka_run_group_tests_name("codec_pickle", tests, NULL, NULL);
}
