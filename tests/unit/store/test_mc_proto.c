/*
 * The memcached store's pure parts, no server needed: the meta-protocol
 * codec (memcached doc/protocol.txt, "Meta Commands"), the store URL
 * parser, the hash ring and the replica header.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/memcached/mc_int.h"

/* ======================================================================== */
/* Protocol codec                                                           */
/* ======================================================================== */

static mcs__mc_req req_of(mcs__mc_cmd cmd, const char *key) {
  mcs__mc_req r;
  memset(&r, 0, sizeof r);
  r.cmd = cmd;
  r.key = key;
  r.key_len = key ? strlen(key) : 0;
  return r;
}

static void expect_line(const mcs__mc_req *r, const char *want) {
  char line[MCS__MC_REQ_LINE_MAX];
  size_t n;
  assert_int_equal(mcs__mc_format_line(r, line, sizeof line, &n), MCS_OK);
  assert_string_equal(line, want);
  assert_int_equal(n, strlen(want));
}

static void test_proto_formats_each_command(void **state) {
  (void)state;
  mcs__mc_req r = req_of(MCS__MC_GET, "k");
  expect_line(&r, "mg k v c f\r\n");
  r.ttl = 60;
  expect_line(&r, "mg k v c f T60\r\n");
  r = req_of(MCS__MC_TOUCH, "k");
  r.ttl = 5;
  expect_line(&r, "mg k T5\r\n");
  r = req_of(MCS__MC_ADD, "k");
  r.data = "abc", r.data_len = 3, r.ttl = 9, r.flags = 4294967295u;
  r.want_cas = true;
  expect_line(&r, "ms k 3 T9 F4294967295 ME c\r\n");
  r.cmd = MCS__MC_CAS, r.cas = 18446744073709551615u;
  expect_line(&r, "ms k 3 T9 F4294967295 C18446744073709551615 c\r\n");
  r.cmd = MCS__MC_SET, r.want_cas = false, r.quiet = true;
  r.has_opaque = true, r.opaque = 7;
  expect_line(&r, "ms k 3 T9 F4294967295 MS q O7\r\n");
  r = req_of(MCS__MC_DELETE, "k");
  expect_line(&r, "md k\r\n");
  r = req_of(MCS__MC_NOOP, NULL);
  expect_line(&r, "mn\r\n");
  r = req_of(MCS__MC_GET, "k");
  r.want_ttl = true, r.has_opaque = true, r.opaque = 0;
  expect_line(&r, "mg k v c f t O0\r\n");
}

/* The longest line there can be (longest key, every number at its
 * largest, every option) fits MCS__MC_REQ_LINE_MAX. */
static void test_proto_longest_line_fits(void **state) {
  (void)state;
  static char key[MCS_STORE_KEY_MAX + 1];
  memset(key, 'k', MCS_STORE_KEY_MAX);
  mcs__mc_req r = req_of(MCS__MC_CAS, key);
  static const char data[1];
  r.data = data;
  r.data_len = MCS_MEMCACHED_ITEM_MAX - MCS__MC_ITEM_OVERHEAD - r.key_len;
  r.ttl = UINT32_MAX, r.flags = UINT32_MAX, r.cas = UINT64_MAX;
  r.want_cas = r.quiet = r.has_opaque = true, r.opaque = UINT32_MAX;
  char line[MCS__MC_REQ_LINE_MAX];
  size_t n;
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n), MCS_OK);
  assert_int_equal(n, strlen(line));
  assert_true(n < sizeof line);
  assert_memory_equal(line + n - 18, " c q O4294967295\r\n", 18);
}

static void test_proto_refuses_bad_keys_and_requests(void **state) {
  (void)state;
  static char long_key[252];
  memset(long_key, 'k', 251);
  const char *bad[] = {"a b", "v\r\nmd victim", "v\nmd x", "", long_key,
                       "tab\tkey", "del\x7f"};
  char line[MCS__MC_REQ_LINE_MAX];
  size_t n;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    for (int cmd = MCS__MC_GET; cmd < MCS__MC_NOOP; cmd++) {
      mcs__mc_req r = req_of((mcs__mc_cmd)cmd, bad[i]);
      r.ttl = 1, r.cas = 1;
      assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n),
                       MCS_EINVAL);
    }
  mcs__mc_req r = req_of(MCS__MC_GET, long_key + 1); /* 250 bytes: fine */
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n), MCS_OK);
  r = req_of(MCS__MC_SET, "k");
  r.data = "", r.data_len = MCS_MEMCACHED_ITEM_MAX + 1, r.ttl = 1;
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n),
                   MCS_ETOOBIG);
  r = req_of(MCS__MC_CAS, "k");
  r.ttl = 1; /* cas 0 */
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n),
                   MCS_EINVAL);
  r = req_of(MCS__MC_TOUCH, "k"); /* ttl 0 */
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n),
                   MCS_EINVAL);
  /* mn takes no flags and MN echoes none: an opaque could not be checked */
  r = req_of(MCS__MC_NOOP, NULL);
  r.has_opaque = true;
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n),
                   MCS_EINVAL);
  r.has_opaque = false, r.quiet = true;
  assert_int_equal(mcs__mc_req_check(&r), MCS_EINVAL);
  r.quiet = false;
  assert_int_equal(mcs__mc_req_check(&r), MCS_OK);
}

/* mcs__mc_req_check (what the blocking client checks before it takes a
 * connection) refuses exactly what the formatter refuses. */
static void test_proto_req_check_agrees_with_format(void **state) {
  (void)state;
  const char *keys[] = {"k", "a b", "", "x\r\nmd y"};
  char line[MCS__MC_REQ_LINE_MAX];
  size_t n;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    for (int cmd = MCS__MC_GET; cmd <= MCS__MC_NOOP; cmd++)
      for (int v = 0; v < 8; v++) {
        mcs__mc_req r = req_of((mcs__mc_cmd)cmd, keys[i]);
        r.ttl = v & 1, r.cas = v & 2, r.has_opaque = v & 4;
        r.data = "", r.data_len = v == 7 ? MCS_MEMCACHED_ITEM_MAX : 0;
        assert_int_equal(mcs__mc_req_check(&r),
                         mcs__mc_format_line(&r, line, sizeof line, &n));
      }
}

static int parse_str(const char *s, size_t max, mcs__mc_resp *r, size_t *c) {
  return mcs__mc_parse((const uint8_t *)s, strlen(s), max, r, c);
}

static void test_proto_parses_replies(void **state) {
  (void)state;
  mcs__mc_resp r;
  size_t c;
  assert_int_equal(parse_str("VA 3 c1 f5\r\nabc\r\n", 10, &r, &c), MCS_OK);
  assert_int_equal(r.status, MCS__MC_VA);
  assert_int_equal(c, 17);
  assert_memory_equal(r.value, "abc", 3);
  assert_true(r.has_cas && r.cas == 1 && r.has_flags && r.flags == 5);
  assert_int_equal(parse_str("VA 0 c18446744073709551615 f4294967295\r\n\r\n",
                             0, &r, &c), MCS_OK);
  assert_true(r.value_len == 0 && r.cas == UINT64_MAX &&
              r.flags == UINT32_MAX);
  const char *ok[] = {"HD c42\r\n", "EN\r\n", "NS\r\n", "EX\r\n", "NF\r\n",
                      "MN\r\n", "HD t-1\r\n",
                      "HD O7 k/foo b W X Z s3 h1 l0\r\n", "EN O7\r\n",
                      "EN k/foo O0\r\n", "EN O1 kZm9v b\r\n",
                      "NF O4294967295\r\n", "NS O3\r\n", "EX O3\r\n"};
  const mcs__mc_status st[] = {MCS__MC_HD, MCS__MC_EN, MCS__MC_NS,
                               MCS__MC_EX, MCS__MC_NF, MCS__MC_MN,
                               MCS__MC_HD, MCS__MC_HD, MCS__MC_EN,
                               MCS__MC_EN, MCS__MC_EN, MCS__MC_NF,
                               MCS__MC_NS, MCS__MC_EX};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    assert_int_equal(parse_str(ok[i], 0, &r, &c), MCS_OK);
    assert_int_equal(r.status, st[i]);
    assert_int_equal(c, strlen(ok[i]));
  }
  assert_int_equal(parse_str("HD t-1\r\n", 0, &r, &c), MCS_OK);
  assert_true(r.has_ttl && r.ttl == -1);
}

static void test_proto_rejects_malformed_replies(void **state) {
  (void)state;
  static const char *bad[] = {
      "XX\r\n", "hd\r\n", "HDX\r\n", "HD\n", "HD\rX\n", "HD  c1\r\n",
      "HD c1 \r\n", "HD \r\n", "HD c\r\n", "HD c01\r\n", "HD c-1\r\n",
      "HD c18446744073709551616\r\n", "HD f4294967296\r\n", "HD c1 c2\r\n",
      "HD y1\r\n", "HD W1\r\n", "HD t-2\r\n", "HD O4294967296\r\n",
      "HD O123456789012345678901234567890123\r\n", "VA\r\n", "VA x\r\n",
      "VA -1\r\n", "VA 01\r\n", "VA 3 c1 f1\r\nabcd\r\n", "VA 1\r\nabc",
      "EN c1\r\n", "EN O1 t5\r\n", "EN f0 O1\r\n", "EN O1 O1\r\n",
      "EN O\r\n", "EN Ox\r\n", "MN x\r\n", "MN O1\r\n", "HD O01\r\n",
      "HD O-1\r\n", "HD\x01\r\n", "HD \xff\r\n", "ERROR\r\n",
      "CLIENT_ERROR bad command line format\r\n",
      "VA 99999999999999999999999\r\n"};
  mcs__mc_resp r;
  size_t c;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = parse_str(bad[i], 100, &r, &c);
    if (rc != MCS_EPROTO)
      fail_msg("%zu: '%s' gave %d", i, bad[i], rc);
  }
  assert_int_equal(parse_str("SERVER_ERROR out of memory\r\n", 0, &r, &c),
                   MCS_ESTORE);
  assert_int_equal(parse_str("SERVER_ERROR object too large for cache\r\n",
                             0, &r, &c), MCS_ETOOBIG);
  assert_int_equal(parse_str("VA 11 c1 f1\r\n", 10, &r, &c), MCS_ETOOBIG);
  char line[MCS__MC_LINE_MAX + 1];
  memset(line, 'H', sizeof line - 1);
  line[sizeof line - 1] = '\0';
  assert_int_equal(parse_str(line, 0, &r, &c), MCS_EPROTO);
  line[100] = '\0';
  assert_int_equal(parse_str(line, 0, &r, &c), MCS__MC_NEED_MORE);
}

static void test_proto_needs_more_until_complete(void **state) {
  (void)state;
  const char *s = "VA 5 c9 f1 O3\r\nhe\r\no\r\nHD c10\r\nEN\r\nMN\r\n";
  const size_t first = 22, len = strlen(s);
  mcs__mc_resp r;
  size_t c, pos = 0;
  for (size_t n = 0; n < first; n++)
    assert_int_equal(mcs__mc_parse((const uint8_t *)s, n, 5, &r, &c),
                     MCS__MC_NEED_MORE);
  const mcs__mc_status want[] = {MCS__MC_VA, MCS__MC_HD, MCS__MC_EN,
                                 MCS__MC_MN};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(mcs__mc_parse((const uint8_t *)s + pos, len - pos, 5,
                                   &r, &c), MCS_OK);
    assert_int_equal(r.status, want[i]);
    if (i == 0)
      assert_memory_equal(r.value, "he\r\no", 5); /* CR LF inside a value */
    pos += c;
  }
  assert_int_equal(pos, len);
}

/* picohttpparser's trick: put the input right before a PROT_NONE page so
 * that reading one byte too far crashes the test. */
static void test_proto_parser_stays_inside_buffer(void **state) {
  (void)state;
  long pg = sysconf(_SC_PAGESIZE);
  uint8_t *mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(mem != MAP_FAILED);
  assert_int_equal(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
  const char *in[] = {"VA 3 c1 f5\r\nabc\r\n", "VA 3 c1 f5\r\nabc\r",
                      "HD c123", "HD c1\r", "EN\r\n", "SERVER_ERROR", "V"};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    size_t n = strlen(in[i]), c;
    mcs__mc_resp r;
    memcpy(mem + pg - n, in[i], n);
    for (size_t k = 0; k <= n; k++)
      (void)mcs__mc_parse(mem + pg - k, k, 100, &r, &c);
  }
  munmap(mem, (size_t)pg * 2);
}

static void test_proto_checks_reply_fits_request(void **state) {
  (void)state;
  mcs__mc_resp r;
  size_t c;
  mcs__mc_req get = req_of(MCS__MC_GET, "k"), add = req_of(MCS__MC_ADD, "k");
  add.want_cas = true;
  assert_int_equal(parse_str("VA 1 c1\r\nx\r\n", 9, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&get, &r), MCS_EPROTO); /* no f */
  assert_int_equal(parse_str("VA 1 c0 f0\r\nx\r\n", 9, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&get, &r), MCS_EPROTO); /* CAS 0 */
  assert_int_equal(parse_str("HD\r\n", 0, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&get, &r), MCS_EPROTO);
  assert_int_equal(mcs__mc_check(&add, &r), MCS_EPROTO); /* no c */
  assert_int_equal(parse_str("EN\r\n", 0, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&get, &r), MCS_OK);
  get.quiet = true; /* a quiet miss sends nothing, so EN is out of step */
  assert_int_equal(mcs__mc_check(&get, &r), MCS_EPROTO);
  assert_int_equal(parse_str("NS\r\n", 0, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&add, &r), MCS_OK);
  assert_int_equal(parse_str("EX\r\n", 0, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&add, &r), MCS_EPROTO);
  get.quiet = false, get.has_opaque = true, get.opaque = 2;
  assert_int_equal(parse_str("VA 1 c1 f0 O3\r\nx\r\n", 9, &r, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&get, &r), MCS_EPROTO);
}

/* Security issue 12, item 4: a reply is matched to its request by the
 * echoed opaque, not by position alone. Each kind of reply must bring
 * back exactly the request's opaque; a missing one (as a reply that
 * belongs to an earlier request sent without one), a different one, or
 * one the request did not carry is out of step. */
static void test_proto_check_requires_the_echo(void **state) {
  (void)state;
  static const struct {
    mcs__mc_cmd cmd;
    const char *ours, *missing, *other;
  } cases[] = {
      {MCS__MC_GET, "VA 1 c1 f0 O5\r\nx\r\n", "VA 1 c1 f0\r\nx\r\n",
       "VA 1 c1 f0 O4\r\nx\r\n"},
      {MCS__MC_GET, "EN O5\r\n", "EN\r\n", "EN O6\r\n"},
      {MCS__MC_TOUCH, "HD O5\r\n", "HD\r\n", "HD O4294967295\r\n"},
      {MCS__MC_TOUCH, "EN O5\r\n", "EN\r\n", "EN O0\r\n"},
      {MCS__MC_ADD, "HD c9 O5\r\n", "HD c9\r\n", "HD c9 O50\r\n"},
      {MCS__MC_ADD, "NS O5\r\n", "NS\r\n", "NS O4\r\n"},
      {MCS__MC_CAS, "EX O5\r\n", "EX\r\n", "EX O4\r\n"},
      {MCS__MC_SET, "HD c7 O5\r\n", "HD c7\r\n", "HD O4 c7\r\n"},
      {MCS__MC_DELETE, "NF O5\r\n", "NF\r\n", "NF O4\r\n"},
  };
  mcs__mc_resp r;
  size_t c;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mcs__mc_req req = req_of(cases[i].cmd, "k");
    req.want_cas = true, req.has_opaque = true, req.opaque = 5;
    assert_int_equal(parse_str(cases[i].ours, 9, &r, &c), MCS_OK);
    assert_int_equal(mcs__mc_check(&req, &r), MCS_OK);
    req.has_opaque = false; /* an opaque nobody asked for */
    assert_int_equal(mcs__mc_check(&req, &r), MCS_EPROTO);
    req.has_opaque = true;
    assert_int_equal(parse_str(cases[i].missing, 9, &r, &c), MCS_OK);
    assert_int_equal(mcs__mc_check(&req, &r), MCS_EPROTO);
    assert_int_equal(parse_str(cases[i].other, 9, &r, &c), MCS_OK);
    assert_int_equal(mcs__mc_check(&req, &r), MCS_EPROTO);
  }
}

static void test_proto_pipeline_format_and_parse(void **state) {
  (void)state;
  mcs__buf b = MCS__BUF_INIT;
  const char *keys[] = {"a", "b", "c"};
  for (uint32_t i = 0; i < 3; i++) {
    mcs__mc_req r = req_of(MCS__MC_GET, keys[i]);
    r.quiet = true, r.has_opaque = true, r.opaque = i + 1;
    assert_int_equal(mcs__mc_format(&b, &r), MCS_OK);
  }
  mcs__mc_req set = req_of(MCS__MC_SET, "d"), mn = req_of(MCS__MC_NOOP, 0);
  set.data = "x\r\ny", set.data_len = 4, set.ttl = 3, set.quiet = true;
  assert_int_equal(mcs__mc_format(&b, &set), MCS_OK);
  assert_int_equal(mcs__mc_format(&b, &mn), MCS_OK);
  const char *want = "mg a v c f q O1\r\nmg b v c f q O2\r\nmg c v c f q O3\r\n"
                     "ms d 4 T3 F0 MS q\r\nx\r\ny\r\nmn\r\n";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  const char *reply = "VA 1 c5 f0 O1\r\na\r\nVA 1 c6 f0 O3\r\nc\r\nMN\r\n";
  uint32_t seen[3] = {0}, k = 0;
  mcs__mc_resp r;
  size_t c, pos = 0;
  while (parse_str(reply + pos, 10, &r, &c) == MCS_OK) {
    pos += c;
    if (r.status == MCS__MC_MN)
      break;
    assert_true(r.has_opaque && r.opaque >= 1 && r.opaque <= 3);
    seen[k++] = r.opaque;
  }
  assert_int_equal(pos, strlen(reply));
  assert_true(k == 2 && seen[0] == 1 && seen[1] == 3);
  mcs__buf_free(&b);
}

/* ======================================================================== */
/* URL parser                                                               */
/* ======================================================================== */

static void test_url_parses_good_urls(void **state) {
  (void)state;
  mcs_memcached_config cfg;
  char err[128];
  assert_int_equal(mcs_memcached_url_parse("memcached://127.0.0.1:11211",
                                           &cfg, err, sizeof err), MCS_OK);
  assert_int_equal(cfg.server_count, 1);
  assert_string_equal(cfg.servers[0].host, "127.0.0.1");
  assert_true(cfg.replicas == 0 && cfg.connect_timeout_ms == 200 &&
              cfg.io_timeout_ms == 200 && cfg.retry_s == 2 && cfg.pool == 8);
  assert_string_equal(cfg.prefix, "mcs:");
  assert_int_equal(mcs_memcached_url_parse(
      "MEMCACHED://h1:1,cache-2.example,[::1]:3,[fe80::1%25eth0]/?replicas=2"
      "&connect_timeout_ms=50&io_timeout_ms=75&retry_s=0&prefix=app%3Ax"
      "&pool=1", &cfg, err, sizeof err), MCS_OK);
  assert_int_equal(cfg.server_count, 4);
  assert_true(cfg.servers[0].port == 1 && cfg.servers[1].port == 11211);
  assert_string_equal(cfg.servers[2].host, "::1");
  assert_string_equal(cfg.servers[3].host, "fe80::1%eth0");
  assert_true(cfg.replicas == 2 && cfg.connect_timeout_ms == 50 &&
              cfg.io_timeout_ms == 75 && cfg.retry_s == 0 && cfg.pool == 1);
  assert_string_equal(cfg.prefix, "app:x");
  assert_int_equal(mcs_memcached_url_parse("memcached://h?prefix=", &cfg,
                                           NULL, 0), MCS_OK);
  assert_string_equal(cfg.prefix, "");
}

static void test_url_rejects_each_kind_of_bad_url(void **state) {
  (void)state;
  static char many[2048], huge[MCS_MEMCACHED_URL_MAX + 64], pre[128];
  int n = snprintf(many, sizeof many, "memcached://h0");
  for (int i = 1; i <= MCS_MEMCACHED_SERVERS_MAX; i++)
    n += snprintf(many + n, sizeof many - (size_t)n, ",h%d", i);
  snprintf(huge, sizeof huge, "memcached://h?prefix=%0*d",
           MCS_MEMCACHED_URL_MAX, 0);
  snprintf(pre, sizeof pre, "memcached://h?prefix=%0*d",
           MCS_MEMCACHED_PREFIX_MAX + 1, 0);
  static const struct { const char *url, *why; } cases[] = {
      {NULL, "no URL"}, {"", "must start"}, {"http://h:1", "must start"},
      {"memcached://", "no server"}, {"memcached://h:0", "bad port"},
      {"memcached://h:65536", "bad port"}, {"memcached://h:", "bad port"},
      {"memcached://h:1x", "bad port"}, {"memcached://h:+1", "bad port"},
      {"memcached://:11211", "empty host"}, {"memcached://a,,b", "empty host"},
      {"memcached://a,", "empty host"}, {"memcached://[]:1", "empty host"},
      {"memcached://::1:11211", "brackets"},
      {"memcached://[::1:11211", "unterminated"},
      {"memcached://[::1]x", "after ']'"}, {"memcached://[zz::1]", "bad host"},
      {"memcached://[1.2.3.4]", "bad host"}, {"memcached://h$:1", "bad host"},
      {"memcached://u@h:1", "user info"}, {"memcached://h:1#x", "fragment"},
      {"memcached://h:1/path", "unexpected path"},
      {"memcached://h:1 ?pool=1", "space"}, {"memcached://h\n", "control"},
      {"memcached://h:1,h:1", "duplicate server"},
      {"memcached://H:1,h:1", "duplicate server"},
      {"memcached://h?pool=0", "out of range"},
      {"memcached://h?pool=1025", "out of range"},
      {"memcached://h?pool=-1", "out of range"},
      {"memcached://h?pool=99999999999", "out of range"},
      {"memcached://h?io_timeout_ms=0", "out of range"},
      {"memcached://h?connect_timeout_ms=60001", "out of range"},
      {"memcached://h?retry_s=3601", "out of range"},
      {"memcached://h?replicas=9", "out of range"},
      {"memcached://h?replicas=1", "needs more than 1 servers"},
      {"memcached://h?pool=1&pool=2", "duplicate parameter"},
      {"memcached://h?bogus=1", "unknown parameter"},
      {"memcached://h?Pool=1", "unknown parameter"},
      {"memcached://h?pool", "no value"}, {"memcached://h?pool=1&", "empty"},
      {"memcached://h?", "empty parameter"},
      {"memcached://h?prefix=a%2", "escape"},
      {"memcached://h?prefix=a%zz", "escape"},
      {"memcached://h?prefix=a%20b", "space or control"},
      {"memcached://h?prefix=a%0d%0a", "space or control"},
      {many, "too many servers"}, {huge, "longer"}, {pre, "out of range"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mcs_memcached_config cfg;
    mcs_store *s = (mcs_store *)&cfg;
    char err[160] = "";
    int rc = mcs_memcached_url_parse(cases[i].url, &cfg, err, sizeof err);
    if (rc != MCS_EINVAL || !strstr(err, cases[i].why) || strchr(err, '\n'))
      fail_msg("case %zu: rc %d, reason '%s', want '%s'", i, rc, err,
               cases[i].why);
    assert_int_equal(mcs_store_memcached_new(&s, cases[i].url), MCS_EINVAL);
    assert_null(s);
  }
  char tiny[8];
  assert_int_equal(mcs_memcached_url_parse("memcached://h?zzzzzz=1", NULL,
                                           tiny, sizeof tiny), MCS_EINVAL);
  assert_int_equal(strlen(tiny), 7);
}

static void test_store_accepts_replicas_and_exposes_prefix(void **state) {
  (void)state;
  mcs_store *s = NULL;
  assert_int_equal(mcs_store_memcached_new(
      &s, "memcached://127.0.0.1:1,127.0.0.1:2?replicas=2"), MCS_EINVAL);
  assert_null(s); /* 3 copies need 3 servers */
  assert_int_equal(mcs_store_memcached_new(
      &s, "memcached://127.0.0.1:1,127.0.0.1:2?replicas=1&prefix=x%3A"),
      MCS_OK);
  assert_string_equal(mcs_store_memcached_prefix(s), "x:");
  /* The same through the generic interface, which the manager reads. */
  assert_string_equal(mcs_store_key_prefix(s), "x:");
  assert_string_equal(mcs_store_kind(s), "memcached");
  assert_int_equal(mcs_store_caps(s), MCS_STORE_CAP_ATOMIC_GET_TOUCH);
  assert_null(s->ops.attach); /* replicas: the loop's helper runs it */
  mcs_memcached_stats st;
  assert_int_equal(mcs_store_memcached_stats_get(s, &st), MCS_OK);
  assert_int_equal(st.requests, 0); /* nothing connects before a request */
  /* Its whole table with a user's ud is not a memcached store: the kind
   * is a name, and the getters would read the user's data as ours. */
  mcs_store_ops ops = s->ops;
  ops.destroy = NULL;
  static char fake[4096];
  mcs_store *copy = NULL;
  assert_int_equal(mcs_store_new(&copy, &ops, fake), MCS_OK);
  assert_string_equal(mcs_store_kind(copy), "memcached");
  assert_null(mcs_store_memcached_prefix(copy));
  assert_int_equal(mcs_store_memcached_stats_get(copy, &st), MCS_EINVAL);
  mcs_store_free(copy);
  mcs_store_free(s);
  assert_int_equal(mcs_store_memcached_new(&s, "memcached://127.0.0.1:1"),
                   MCS_OK);
  assert_string_equal(mcs_store_key_prefix(s), "mcs:");
  assert_non_null(s->ops.attach); /* replicas=0: an engine per loop */
  mcs_store_free(s);
  mcs_store *mem = NULL;
  assert_int_equal(mcs_store_memory_new(&mem, NULL), MCS_OK);
  assert_null(mcs_store_memcached_prefix(mem));
  assert_int_equal(mcs_store_memcached_stats_get(mem, &st), MCS_EINVAL);
  mcs_store_free(mem);
}

/* ======================================================================== */
/* Item size and the replica header                                         */
/* ======================================================================== */

/* memcached unlinks a key's item when a write to it is too large, so the
 * boundary is checked here, before the wire (mc_int.h). */
static void test_item_fits_leaves_room_for_memcached_overhead(void **st) {
  (void)st;
  const size_t room = MCS_MEMCACHED_ITEM_MAX - MCS__MC_ITEM_OVERHEAD;
  assert_true(mcs__mc_item_fits(3, room - 3));
  assert_false(mcs__mc_item_fits(3, room - 2));
  assert_false(mcs__mc_item_fits(0, MCS_MEMCACHED_ITEM_MAX));
  assert_false(mcs__mc_item_fits(251, 0));
  assert_false(mcs__mc_item_fits(3, SIZE_MAX));
  mcs__mc_req r = req_of(MCS__MC_CAS, "big");
  char line[MCS__MC_REQ_LINE_MAX];
  size_t n;
  r.data = "", r.data_len = room - 2, r.ttl = 1, r.cas = 1;
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n),
                   MCS_ETOOBIG);
  r.data_len = room - 3;
  assert_int_equal(mcs__mc_format_line(&r, line, sizeof line, &n), MCS_OK);
}

static void test_get_can_ask_for_the_remaining_ttl(void **state) {
  (void)state;
  mcs__mc_req r = req_of(MCS__MC_GET, "k");
  r.want_ttl = true;
  expect_line(&r, "mg k v c f t\r\n");
  r.ttl = 30;
  expect_line(&r, "mg k v c f t T30\r\n");
  mcs__mc_resp resp;
  size_t c;
  assert_int_equal(parse_str("VA 1 c1 f0\r\nx\r\n", 9, &resp, &c), MCS_OK);
  assert_int_equal(mcs__mc_check(&r, &resp), MCS_EPROTO); /* no t */
  assert_int_equal(parse_str("VA 1 c1 f0 t-1\r\nx\r\n", 9, &resp, &c),
                   MCS_OK);
  assert_int_equal(mcs__mc_check(&r, &resp), MCS_OK);
}

static void test_replica_header_round_trips_and_rejects_lookalikes(void **s) {
  (void)s;
  uint8_t buf[MCS__MC_HDR_LEN + 2];
  mcs__mc_hdr h;
  mcs__mc_hdr_put(buf, false, 0x0102030405060708u);
  memcpy(buf + MCS__MC_HDR_LEN, "{}", 2);
  assert_memory_equal(buf, "\0mcrv\1\2\3\4\5\6\7\10", MCS__MC_HDR_LEN);
  assert_int_equal(mcs__mc_hdr_get(buf, sizeof buf, &h), MCS__MC_HDR_LEN);
  assert_true(!h.tomb && h.rev == 0x0102030405060708u);
  mcs__mc_hdr_put(buf, true, 1);
  assert_int_equal(mcs__mc_hdr_get(buf, MCS__MC_HDR_LEN, &h),
                   MCS__MC_HDR_LEN);
  assert_true(h.tomb && h.rev == 1);
  /* Anything else is a value without a header: revision 0, all payload. */
  assert_int_equal(mcs__mc_hdr_get(buf, MCS__MC_HDR_LEN - 1, &h), 0);
  assert_true(!h.tomb && h.rev == 0);
  static const char json[] = "{\"v\":1,\"data\":{}}";
  assert_int_equal(
      mcs__mc_hdr_get((const uint8_t *)json, sizeof json - 1, &h), 0);
  mcs__mc_hdr_put(buf, false, 0); /* revision 0 is never written */
  assert_int_equal(mcs__mc_hdr_get(buf, sizeof buf, &h), 0);
  mcs__mc_hdr_put(buf, false, UINT64_MAX); /* absurd: not a header */
  assert_int_equal(mcs__mc_hdr_get(buf, sizeof buf, &h), 0);
  mcs__mc_hdr_put(buf, false, 5);
  buf[4] = 'x';
  assert_int_equal(mcs__mc_hdr_get(buf, sizeof buf, &h), 0);
  assert_int_equal(mcs__mc_hdr_get(NULL, 0, &h), 0);
}

/* ======================================================================== */
/* Hash ring                                                                */
/* ======================================================================== */

static void test_ring_spreads_evenly_and_moves_few_keys(void **state) {
  (void)state;
  const char *three[] = {"10.0.0.1:11211", "10.0.0.2:11211",
                         "10.0.0.3:11211"};
  const char *two[] = {"10.0.0.1:11211", "10.0.0.3:11211"};
  const size_t two_to_three[] = {0, 2};
  mcs__mc_ring *r3, *r2;
  assert_int_equal(mcs__mc_ring_new(three, 3, &r3), MCS_OK);
  assert_int_equal(mcs__mc_ring_new(two, 2, &r2), MCS_OK);
  size_t per[3] = {0}, moved = 0;
  for (int i = 0; i < 10000; i++) {
    char key[32];
    int n = snprintf(key, sizeof key, "session-key-%d", i);
    size_t a = mcs__mc_ring_pick(r3, key, (size_t)n);
    size_t b = two_to_three[mcs__mc_ring_pick(r2, key, (size_t)n)];
    per[a]++;
    if (a != b) {
      moved++;
      assert_int_equal(a, 1); /* only the removed server's keys move */
    }
  }
  for (int i = 0; i < 3; i++)
    if (per[i] < 2667 || per[i] > 4000)
      fail_msg("server %d has %zu of 10000 keys", i, per[i]);
  assert_true(moved <= 4000);
  size_t out[3];
  assert_int_equal(mcs__mc_ring_pick_n(r3, "k", 1, 3, out), 3);
  assert_true(out[0] != out[1] && out[1] != out[2] && out[0] != out[2]);
  assert_int_equal(out[0], mcs__mc_ring_pick(r3, "k", 1));
  assert_int_equal(mcs__mc_ring_pick_n(r2, "k", 1, 5, out), 2);
  mcs__mc_ring_free(r3);
  mcs__mc_ring_free(r2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proto_formats_each_command),
      cmocka_unit_test(test_proto_longest_line_fits),
      cmocka_unit_test(test_proto_refuses_bad_keys_and_requests),
      cmocka_unit_test(test_proto_parses_replies),
      cmocka_unit_test(test_proto_rejects_malformed_replies),
      cmocka_unit_test(test_proto_needs_more_until_complete),
      cmocka_unit_test(test_proto_parser_stays_inside_buffer),
      cmocka_unit_test(test_proto_checks_reply_fits_request),
      cmocka_unit_test(test_proto_check_requires_the_echo),
      cmocka_unit_test(test_proto_req_check_agrees_with_format),
      cmocka_unit_test(test_proto_pipeline_format_and_parse),
      cmocka_unit_test(test_url_parses_good_urls),
      cmocka_unit_test(test_url_rejects_each_kind_of_bad_url),
      cmocka_unit_test(test_store_accepts_replicas_and_exposes_prefix),
      cmocka_unit_test(test_item_fits_leaves_room_for_memcached_overhead),
      cmocka_unit_test(test_get_can_ask_for_the_remaining_ttl),
      cmocka_unit_test(test_replica_header_round_trips_and_rejects_lookalikes),
      cmocka_unit_test(test_ring_spreads_evenly_and_moves_few_keys),
  };
  return cmocka_run_group_tests_name("mc_proto", tests, NULL, NULL);
}
