/*
 * The memcached store's hash=python-memcache: CRC-32 known answers, the
 * server python-memcached picks (tests/vectors/python_memcache_servers.txt,
 * made by memcache.Client itself: gen_python_memcache.py), and the URL
 * parameter and config checks around it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/memcached/mc_int.h"

/* ---- CRC-32 and the hash ---------------------------------------------- */

static uint32_t crc_of(const char *s) { return mcs__crc32(s, strlen(s)); }

static void test_crc32_known_answers(void **state) {
  (void)state;
  assert_int_equal(crc_of("123456789"), 0xCBF43926u); /* the check value */
  assert_int_equal(crc_of(""), 0u);
  assert_int_equal(crc_of("a"), 0xE8B7BE43u);
  assert_int_equal(crc_of("The quick brown fox jumps over the lazy dog"),
                   0x414FA339u);
  const unsigned char ff[4] = {0xff, 0xff, 0xff, 0xff};
  assert_int_equal(mcs__crc32(ff, sizeof ff), 0xFFFFFFFFu);
}

static void test_hash_is_never_zero(void **state) {
  (void)state;
  /* crc32("zero-5924") = 0x8000124a: bits 16..30 are all 0. */
  assert_int_equal(crc_of("zero-5924") >> 16 & 0x7fff, 0);
  assert_int_equal(mcs__mc_python_memcache_hash("zero-5924", 9), 1);
  assert_int_equal(mcs__mc_python_memcache_hash("123456789", 9),
                   (0xCBF43926u >> 16) & 0x7fff);
}

/* ---- The vectors ------------------------------------------------------ */

#define COUNTS 3
static const size_t server_counts[COUNTS] = {2, 3, 5};

typedef struct rings {
  mcs__mc_ring *r[COUNTS];
} rings;

static void rings_new(rings *rs) {
  for (size_t i = 0; i < COUNTS; i++)
    assert_int_equal(mcs__mc_ring_new_modulo(server_counts[i], &rs->r[i]),
                     MCS_OK);
}

static void rings_free(rings *rs) {
  for (size_t i = 0; i < COUNTS; i++)
    mcs__mc_ring_free(rs->r[i]);
}

/* Parses the unsigned number at *p in `base` and steps past it and one
 * space. */
static unsigned long field(char **p, int base) {
  char *end;
  unsigned long v = strtoul(*p, &end, base);
  assert_true(end != *p);
  *p = *end == ' ' ? end + 1 : end;
  return v;
}

/* One line: "<key> <crc32 hex> <index of 2> <index of 3> <index of 5>". */
static void check_line(char *line, const rings *rs) {
  char *space = strchr(line, ' ');
  assert_non_null(space);
  size_t key_len = (size_t)(space - line);
  char *p = space + 1;
  uint32_t crc = (uint32_t)field(&p, 16);
  if (mcs__crc32(line, key_len) != crc)
    fail_msg("crc32 of '%.*s'", (int)key_len, line);
  for (size_t i = 0; i < COUNTS; i++) {
    size_t want = field(&p, 10), got;
    assert_int_equal(mcs__mc_ring_pick(rs->r[i], line, key_len), want);
    assert_int_equal(mcs__mc_ring_pick_n(rs->r[i], line, key_len, 4, &got),
                     1);
    assert_int_equal(got, want);
  }
}

static void test_server_choice_matches_python_memcache(void **state) {
  (void)state;
  const char *dir = getenv("MCS_VECTORS");
  char path[1200], line[512];
  snprintf(path, sizeof path, "%s/python_memcache_servers.txt",
           dir ? dir : "tests/vectors");
  FILE *f = fopen(path, "r");
  if (!f)
    fail_msg("cannot open %s (set MCS_VECTORS)", path);
  rings rs;
  rings_new(&rs);
  size_t lines = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    check_line(line, &rs);
    lines++;
  }
  fclose(f);
  rings_free(&rs);
  assert_true(lines >= 300);
}

static void test_one_server_takes_every_key(void **state) {
  (void)state;
  mcs__mc_ring *r;
  assert_int_equal(mcs__mc_ring_new_modulo(1, &r), MCS_OK);
  assert_int_equal(mcs__mc_ring_pick(r, "anything", 8), 0);
  mcs__mc_ring_free(r);
  assert_int_equal(mcs__mc_ring_new_modulo(0, &r), MCS_EINVAL);
  assert_null(r);
  assert_int_equal(
      mcs__mc_ring_new_modulo(MCS_MEMCACHED_SERVERS_MAX + 1, &r), MCS_EINVAL);
}

/* ---- The URL parameter ------------------------------------------------ */

static int parse(const char *url, mcs_memcached_config *cfg, char *err,
                 size_t size) {
  return mcs_memcached_url_parse(url, cfg, err, size);
}

static void test_url_hash_parameter(void **state) {
  (void)state;
  mcs_memcached_config cfg;
  char err[256];
  assert_int_equal(parse("memcached://a,b", &cfg, err, sizeof err), MCS_OK);
  assert_int_equal(cfg.hash, MCS_MEMCACHED_HASH_KETAMA); /* the default */
  assert_int_equal(
      parse("memcached://a,b?hash=python-memcache", &cfg, err, sizeof err),
      MCS_OK);
  assert_int_equal(cfg.hash, MCS_MEMCACHED_HASH_PYTHON_MEMCACHE);
  assert_int_equal(
      parse("memcached://a/?pool=2&hash=ketama", &cfg, err, sizeof err),
      MCS_OK);
  assert_int_equal(cfg.hash, MCS_MEMCACHED_HASH_KETAMA);
  assert_int_equal(cfg.pool, 2);
}

static void expect_bad(const char *url, const char *reason) {
  mcs_memcached_config cfg;
  char err[256];
  assert_int_equal(parse(url, &cfg, err, sizeof err), MCS_EINVAL);
  if (!strstr(err, reason))
    fail_msg("%s: reason '%s' lacks '%s'", url, err, reason);
}

static void test_url_hash_refusals(void **state) {
  (void)state;
  expect_bad("memcached://a?hash=crc32", "unknown hash 'crc32'");
  expect_bad("memcached://a?hash=", "unknown hash ''");
  expect_bad("memcached://a?hash=Python-Memcache", "unknown hash");
  expect_bad("memcached://a?hash=ketama&hash=ketama",
             "duplicate parameter 'hash'");
  expect_bad("memcached://a?hash", "has no value");
  expect_bad("memcached://a,b?replicas=1&hash=python-memcache",
             "'replicas' must be 0 with hash=python-memcache");
  expect_bad("memcached://a,b?hash=python-memcache&replicas=1",
             "'replicas' must be 0 with hash=python-memcache");
}

static void test_config_check_hash(void **state) {
  (void)state;
  mcs_memcached_config cfg;
  char err[256];
  assert_int_equal(parse("memcached://a,b", &cfg, err, sizeof err), MCS_OK);
  cfg.hash = MCS_MEMCACHED_HASH_PYTHON_MEMCACHE;
  assert_int_equal(mcs_memcached_config_check(&cfg, err, sizeof err), MCS_OK);
  cfg.replicas = 1;
  assert_int_equal(mcs_memcached_config_check(&cfg, err, sizeof err),
                   MCS_EINVAL);
  assert_non_null(strstr(err, "replicas"));
  cfg.replicas = 0;
  cfg.hash = (mcs_memcached_hash)7;
  assert_int_equal(mcs_memcached_config_check(&cfg, err, sizeof err),
                   MCS_EINVAL);
  assert_non_null(strstr(err, "unknown hash"));
  mcs_store *store = NULL;
  assert_int_equal(mcs_store_memcached_new_config(&store, &cfg), MCS_EINVAL);
  assert_null(store);
}

/* A store built with the parameter routes keys python-memcached's way (no
 * server needed: routing is decided before any connection). */
static void test_store_uses_python_memcache_routing(void **state) {
  (void)state;
  mcs_store *store = NULL;
  assert_int_equal(
      mcs_store_memcached_new(
          &store, "memcached://127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,"
                  "127.0.0.1:4,127.0.0.1:5?hash=python-memcache"),
      MCS_OK);
  const mcs__mc_store *st = store->ud;
  /* From the vectors: "123456789" goes to server 4 of 5, "a" to 2. */
  assert_int_equal(mcs__mc_ring_pick(st->ring, "123456789", 9), 4);
  assert_int_equal(mcs__mc_ring_pick(st->ring, "a", 1), 2);
  mcs_store_free(store);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32_known_answers),
      cmocka_unit_test(test_hash_is_never_zero),
      cmocka_unit_test(test_server_choice_matches_python_memcache),
      cmocka_unit_test(test_one_server_takes_every_key),
      cmocka_unit_test(test_url_hash_parameter),
      cmocka_unit_test(test_url_hash_refusals),
      cmocka_unit_test(test_config_check_hash),
      cmocka_unit_test(test_store_uses_python_memcache_routing),
  };
  return cmocka_run_group_tests_name("mc_pyhash", tests, NULL, NULL);
}
