/* What the cookie tests (test_cookie*.c) share: a guard page (every
 * parser input, and short output buffers for the formatter, sit right
 * before a PROT_NONE page, as in picohttpparser's tests, so a read or a
 * write past the end crashes the test; main() maps it as the group's
 * setup) and short forms of parse and find that check their results. */
#ifndef COOKIE_FIXTURE_H
#define COOKIE_FIXTURE_H

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

static inline int guard_setup(void **state) {
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

static inline int guard_teardown(void **state) {
  (void)state;
  munmap(guard_start, guard_map_len);
  return 0;
}

/* Copies n bytes so that the last one sits right before the guard page. */
static inline const char *place(const void *data, size_t n) {
  char *p = guard_end - n;
  if (n)
    memcpy(p, data, n);
  return p;
}

/* ---- Parse helpers ------------------------------------------------------- */

static mcs_cookie_pair pairs[MCS_COOKIE_COUNT_MAX];

/* Parses a header given with an explicit length (so it may hold NULs). */
static inline size_t parse_n(const char *s, size_t len) {
  size_t n = 99;
  const char *h = place(s, len);
  assert_int_equal(mcs_cookie_parse(h, len, pairs, MCS_COOKIE_COUNT_MAX, &n),
                   MCS_OK);
  return n;
}

static inline size_t parse(const char *s) { return parse_n(s, strlen(s)); }

static inline void expect_pair_n(size_t i, const char *name, size_t name_len,
                                 const char *value, size_t value_len) {
  assert_int_equal(pairs[i].name_len, name_len);
  assert_memory_equal(pairs[i].name, name, name_len);
  assert_int_equal(pairs[i].value_len, value_len);
  if (value_len)
    assert_memory_equal(pairs[i].value, value, value_len);
}

static inline void expect_pair(size_t i, const char *name, const char *value) {
  expect_pair_n(i, name, strlen(name), value, strlen(value));
}

/* find on a header placed before the guard page; returns the code and
 * leaves the value in *value / *len. */
static inline int find_n(const char *s, size_t slen, const char *name,
                         const char **value, size_t *len) {
  return mcs_cookie_find(place(s, slen), slen, name, value, len);
}

static inline void expect_found(const char *header, const char *name,
                                const char *value) {
  const char *v = NULL;
  size_t len = 0;
  assert_int_equal(find_n(header, strlen(header), name, &v, &len), MCS_OK);
  assert_int_equal(len, strlen(value));
  if (len)
    assert_memory_equal(v, value, len);
}

static inline void expect_absent(const char *header, const char *name) {
  const char *v = header;
  size_t len = 7;
  assert_int_equal(find_n(header, strlen(header), name, &v, &len), MCS_ENOENT);
  assert_null(v);
  assert_int_equal(len, 0);
}

/* "a=1; a=1; ..." with `count` pairs, plus `junk` separators in front. */
static inline size_t build_pairs(char *buf, size_t size, size_t count,
                                 size_t junk) {
  size_t len = 0;
  for (size_t i = 0; i < junk; i++)
    len += (size_t)snprintf(buf + len, size - len, ";");
  for (size_t i = 0; i < count; i++)
    len += (size_t)snprintf(buf + len, size - len, "%sc%zu=%zu", i ? "; " : "",
                            i, i);
  return len;
}

#endif /* COOKIE_FIXTURE_H */
