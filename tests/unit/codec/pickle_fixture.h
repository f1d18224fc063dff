/* What the tornado record codec tests (test_codec_pickle*.c) share:
 * counting allocators with fault injection (main() points the library's
 * hook and jansson's at them, so every test also checks that nothing
 * leaked), the CPython vectors (tests/vectors/pickles/, found through
 * $MCS_VECTORS, else tests/vectors from the source root) and the files
 * for tests/integration/pickle_crosscheck.py, and decode/compare
 * helpers. */
#ifndef PICKLE_FIXTURE_H
#define PICKLE_FIXTURE_H

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

static inline bool inject_failure(void) {
  if (fail_countdown < 0)
    return false;
  if (fail_countdown-- == 0)
    return true;
  return false;
}

static inline void *count_malloc(size_t n) {
  void *p = inject_failure() ? NULL : malloc(n);
  if (p)
    live_blocks++;
  return p;
}
static inline void *count_realloc(void *p, size_t n) {
  if (inject_failure())
    return NULL;
  void *q = realloc(p, n);
  if (!p && q)
    live_blocks++;
  return q;
}
static inline void *count_calloc(size_t n, size_t m) {
  void *p = inject_failure() ? NULL : calloc(n, m);
  if (p)
    live_blocks++;
  return p;
}
static inline void count_free(void *p) {
  if (p)
    live_blocks--;
  free(p);
}

static long blocks_at_setup;

static inline int leak_check_setup(void **state) {
  (void)state;
  blocks_at_setup = live_blocks;
  return 0;
}

static inline int leak_check_teardown(void **state) {
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

static inline void find_vectors(void) {
  const char *env = getenv("MCS_VECTORS");
  snprintf(vector_dir, sizeof vector_dir, "%s/pickles",
           env ? env : "tests/vectors");
}

/* Reads a vector into a buffer of exactly its size (so AddressSanitizer
 * catches any read past the end). free() it. */
static inline uint8_t *read_vector(const char *name, size_t *len) {
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

static inline json_t *load_json_file(const char *name) {
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
static inline entry *read_manifest(size_t *count) {
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
static inline bool out_path(const char *name, char *path, size_t size) {
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
static inline void write_for_crosscheck(const char *name, const mcs__buf *pkl,
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

static inline int decode(const void *in, size_t len, mcs__record *rec,
                         mcs__pickle_info *info) {
  return mcs__pickle_decode(in, len, &limits, rec, info);
}

/* json_equal, plus: reals compared bit for bit (-0.0 is not 0.0). */
static inline bool strict_equal(const json_t *a, const json_t *b) {
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

static inline char *dump(const json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  return s ? s : strdup("?");
}

static inline void check_value(const json_t *got, const json_t *want,
                               const char *what) {
  if (!strict_equal(got, want)) {
    char *g = dump(got), *w = dump(want);
    fail_msg("%s: got %.300s\nwant %.300s", what, g, w);
  }
}

/* Decoding must fail with `want` (and the record stay empty, nothing
 * leak). Returns the info for more checks. */
static inline mcs__pickle_info expect_refused(const void *in, size_t len,
                                              int want, const char *what) {
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

static inline json_t *parse(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!v)
    fail_msg("bad test JSON: %s (%s)", text, err.text);
  return v;
}

/* Encodes `data`, decodes the result, and expects `want` back. */
static inline void expect_round_trip(const json_t *data, const json_t *want) {
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

static inline void add(bytes *b, const void *p, size_t n) {
  b->data = realloc(b->data, b->len + n + 1);
  assert_non_null(b->data);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static inline void add_str(bytes *b, const char *s) { add(b, s, strlen(s)); }
/* A string literal that may hold NUL bytes. */
#define ADD_LIT(b, lit) add((b), (lit), sizeof(lit) - 1)

static inline void add_repeat(bytes *b, const char *s, size_t times) {
  for (size_t i = 0; i < times; i++)
    add_str(b, s);
}

/* What each main() does first: finds the vectors and points the library's
 * and jansson's allocations at the counting hooks (-1: they refused). */
static inline int pickle_tests_init(void) {
  find_vectors();
  json_set_alloc_funcs(count_malloc, count_free);
  return mcs_replace_allocator(count_malloc, count_realloc, count_calloc,
                               count_free) == MCS_OK
             ? 0
             : -1;
}

/* A test run between the leak check's setup and teardown. */
#define LEAK_CHECKED(f)                                                        \
  cmocka_unit_test_setup_teardown(f, leak_check_setup, leak_check_teardown)

#endif /* PICKLE_FIXTURE_H */
