/* The memory store, through the public mcs_store_* wrappers: config,
 * memcached semantics, CAS tokens, TTLs on a fake clock, stats and
 * concurrency. Eviction, limits, accounting, growth, a reference model and
 * allocation failures: test_store_memory_limits.c. */
#include "store_memory_fixture.h"

/* ---- Config ------------------------------------------------------------- */

static void test_memory_config_init_sets_documented_defaults(void **st) {
  (void)st;
  mcs_memory_config cfg;
  memset(&cfg, 0xa5, sizeof cfg);
  mcs_memory_config_init(&cfg);
  assert_int_equal(cfg.max_bytes, 64u << 20);
  assert_int_equal(cfg.shards, 16);
  assert_int_equal(cfg.max_item_bytes, 1u << 20);
  assert_null(cfg.clock);
  assert_null(cfg.clock_ud);
  mcs_memory_config_init(NULL); /* harmless */
}

static void test_memory_new_accepts_null_config_as_defaults(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  want_value(s, "k", "v");
  mcs_store_free(s);
}

static int try_config(size_t max_bytes, unsigned shards, size_t max_item) {
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.max_bytes = max_bytes;
  cfg.shards = shards;
  cfg.max_item_bytes = max_item;
  mcs_store *s = (mcs_store *)&cfg; /* must be reset to NULL on failure */
  int rc = mcs_store_memory_new(&s, &cfg);
  if (rc != MCS_OK)
    assert_null(s);
  mcs_store_free(s);
  return rc;
}

static void test_memory_new_rejects_invalid_configs(void **st) {
  (void)st;
  const size_t K = 1024;
  assert_int_equal(try_config(64 * K - 1, 1, 1024), MCS_EINVAL);
  assert_int_equal(try_config(64 * K, 1, 1024), MCS_OK);
  assert_int_equal(try_config(64 * K, 16, 4 * K), MCS_OK);
  assert_int_equal(try_config(1024 * K, 0, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 3, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 24, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 512, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K, 256, 1024), MCS_OK);
  /* Shards under 4 KiB each. */
  assert_int_equal(try_config(64 * K, 32, 1024), MCS_EINVAL);
  assert_int_equal(try_config(1024 * K - 1, 256, 1024), MCS_EINVAL);
  /* max_item_bytes must be 1 .. max_bytes / shards. */
  assert_int_equal(try_config(64 * K, 1, 0), MCS_EINVAL);
  assert_int_equal(try_config(64 * K, 1, 1), MCS_OK);
  assert_int_equal(try_config(64 * K, 1, 64 * K), MCS_OK);
  assert_int_equal(try_config(64 * K, 1, 64 * K + 1), MCS_EINVAL);
  assert_int_equal(try_config(64 * K, 16, 1u << 20), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_new(NULL, NULL), MCS_EINVAL);
}

/* ---- Operations --------------------------------------------------------- */

static void test_memory_get_misses_absent_key(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  want_miss(s, "nothing");
  mcs_store_free(s);
}

static void test_memory_set_then_get_returns_value_flags_and_cas(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_set(s, "k", 1, "hello", 5, 0xdeadbeef, TTL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_STORED);
  void *data = NULL;
  size_t len = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;
  assert_int_equal(
      mcs_store_get(s, "k", 1, 0, 0, &data, &len, &cas, &flags, &r), MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  assert_int_equal(len, 5);
  assert_memory_equal(data, "hello", 5);
  assert_int_equal(flags, 0xdeadbeef);
  assert_int_not_equal(cas, 0);
  mcs_free(data);
  mcs_store_free(s);
}

static void test_memory_set_overwrites_existing_value(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "one");
  put(s, "k", "two");
  want_value(s, "k", "two");
  assert_int_equal(stats_of(s).items, 1);
  mcs_store_free(s);
}

static void test_memory_empty_value_round_trips(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "empty", "");
  want_value(s, "empty", "");
  mcs_store_free(s);
}

static void test_memory_keys_differing_in_one_byte_are_distinct(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  char a[MCS_STORE_KEY_MAX + 1], b[MCS_STORE_KEY_MAX + 1];
  memset(a, 'x', MCS_STORE_KEY_MAX);
  a[MCS_STORE_KEY_MAX] = '\0';
  memcpy(b, a, sizeof b);
  b[MCS_STORE_KEY_MAX - 1] = 'y';
  put(s, a, "A");
  put(s, b, "B");
  put(s, "x", "short");
  want_value(s, a, "A");
  want_value(s, b, "B");
  want_value(s, "x", "short");
  want_miss(s, "xx");
  mcs_store_free(s);
}

static void test_memory_add_stores_only_when_absent(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  uint64_t cas = 0;
  assert_int_equal(add_str(s, "k", "first", &cas), MCS_STORE_STORED);
  assert_int_not_equal(cas, 0);
  assert_int_equal(want_value(s, "k", "first"), cas);
  uint64_t other = 0;
  assert_int_equal(add_str(s, "k", "second", &other), MCS_STORE_EXISTS);
  assert_int_equal(other, 0); /* untouched when nothing was stored */
  want_value(s, "k", "first");
  assert_int_equal(add_str(s, "k2", "x", NULL), MCS_STORE_STORED);
  mcs_store_free(s);
}

static void test_memory_cas_stores_only_with_current_token(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v1");
  uint64_t c1 = want_value(s, "k", "v1");
  uint64_t c2 = 0;
  assert_int_equal(cas_str(s, "k", "v2", c1, &c2), MCS_STORE_STORED);
  assert_int_not_equal(c2, 0);
  assert_int_not_equal(c2, c1);
  assert_int_equal(want_value(s, "k", "v2"), c2);
  /* The token read before the write is stale now. */
  assert_int_equal(cas_str(s, "k", "v3", c1, NULL), MCS_STORE_EXISTS);
  want_value(s, "k", "v2");
  assert_int_equal(cas_str(s, "k", "v3", c2, NULL), MCS_STORE_STORED);
  want_value(s, "k", "v3");
  mcs_store_free(s);
}

static void test_memory_cas_misses_absent_key(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  assert_int_equal(cas_str(s, "nope", "v", 1, NULL), MCS_STORE_MISS);
  put(s, "k", "v");
  uint64_t c = want_value(s, "k", "v");
  assert_int_equal(del(s, "k"), MCS_STORE_DELETED);
  assert_int_equal(cas_str(s, "k", "v2", c, NULL), MCS_STORE_MISS);
  want_miss(s, "k");
  mcs_store_free(s);
}

static void test_memory_delete_removes_then_misses(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  assert_int_equal(del(s, "k"), MCS_STORE_DELETED);
  want_miss(s, "k");
  assert_int_equal(del(s, "k"), MCS_STORE_MISS);
  assert_int_equal(stats_of(s).items, 0);
  mcs_store_free(s);
}

static void test_memory_touch_hits_present_and_misses_absent(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  assert_int_equal(touch(s, "k", 10), MCS_STORE_TOUCHED);
  assert_int_equal(touch(s, "absent", 10), MCS_STORE_MISS);
  want_value(s, "k", "v");
  mcs_store_free(s);
}

static void test_memory_cas_token_changes_on_every_write(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  enum { N = 1000 };
  uint64_t *seen = calloc(N + 3, sizeof *seen);
  assert_non_null(seen);
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    char v[32];
    snprintf(v, sizeof v, "v%d", i);
    put(s, i % 2 ? "a" : "b", v);
    seen[n++] = want_value(s, i % 2 ? "a" : "b", v);
  }
  uint64_t c = seen[n - 1]; /* the last write (i = N - 1) went to "a" */
  assert_int_equal(cas_str(s, "a", "x", c, &seen[n]), MCS_STORE_STORED);
  n++;
  assert_int_equal(del(s, "a"), MCS_STORE_DELETED);
  assert_int_equal(add_str(s, "a", "y", &seen[n]), MCS_STORE_STORED);
  n++;
  for (size_t i = 0; i < n; i++) {
    assert_int_not_equal(seen[i], 0);
    for (size_t j = 0; j < i; j++)
      assert_int_not_equal(seen[i], seen[j]);
  }
  free(seen);
  mcs_store_free(s);
}

static void test_memory_touch_keeps_cas_token(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "v");
  uint64_t c = want_value(s, "k", "v");
  assert_int_equal(touch(s, "k", 100), MCS_STORE_TOUCHED);
  void *data = NULL;
  size_t len;
  uint64_t c2 = 0;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(s, "k", 1, 100, 0, &data, &len, &c2, NULL, &r),
                   MCS_OK);
  mcs_free(data);
  assert_int_equal(c2, c);
  /* So a read-and-touch followed by cas succeeds, as sessions need. */
  assert_int_equal(cas_str(s, "k", "v2", c, NULL), MCS_STORE_STORED);
  mcs_store_free(s);
}

static void test_memory_get_value_larger_than_caller_limit(void **st) {
  (void)st;
  int64_t now = 1000;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "0123456789", 10), MCS_STORE_STORED);
  void *data = NULL;
  size_t len = 0;
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_get(s, "k", 1, 100, 4, &data, &len, NULL, NULL, &r),
      MCS_ETOOBIG);
  assert_null(data);
  /* The failed get-and-touch did not extend the expiry. */
  now = 1010;
  want_miss(s, "k");
  mcs_store_free(s);
}

/* The manager calls ops.get directly with a buffer it keeps: a hit must
 * reuse that buffer rather than allocate. */
static void test_memory_get_reuses_caller_buffer(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  char big[300];
  memset(big, 'q', sizeof big);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(s, "k", 1, big, sizeof big, 7, TTL, &r),
                   MCS_OK);
  mcs_store_value v = {MCS__BUF_INIT, 0};
  uint64_t cas = 0;
  uint32_t flags = 0;
  assert_int_equal(s->ops.get(s->ud, "k", 1, 0, &v, &cas, &flags, &r), MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  uint8_t *first = v.buf.data;
  for (int i = 0; i < 10; i++) {
    assert_int_equal(s->ops.get(s->ud, "k", 1, 60, &v, &cas, &flags, &r),
                     MCS_OK);
    assert_ptr_equal(v.buf.data, first);
    assert_int_equal(v.buf.len, sizeof big);
    assert_memory_equal(v.buf.data, big, sizeof big);
    assert_int_equal(flags, 7);
  }
  mcs__buf_free(&v.buf);
  mcs_store_free(s);
}

/* ---- TTL ---------------------------------------------------------------- */

static void test_memory_items_expire_after_ttl(void **st) {
  (void)st;
  int64_t now = 1000;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 10), MCS_STORE_STORED);
  now = 1009;
  want_value(s, "k", "v");
  now = 1010; /* memcached: gone once exptime <= now */
  want_miss(s, "k");
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  assert_int_equal(m.expired, 1);
  mcs_store_free(s);
}

static void test_memory_expired_item_is_invisible_to_every_op(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  const char *keys[] = {"get", "add", "cas", "del", "touch"};
  uint64_t c = 0;
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(set_ttl(s, keys[i], "old", 5), MCS_STORE_STORED);
  c = want_value(s, "cas", "old");
  now = 5;
  want_miss(s, "get");
  assert_int_equal(add_str(s, "add", "new", NULL), MCS_STORE_STORED);
  want_value(s, "add", "new");
  assert_int_equal(cas_str(s, "cas", "new", c, NULL), MCS_STORE_MISS);
  assert_int_equal(del(s, "del"), MCS_STORE_MISS);
  assert_int_equal(touch(s, "touch", 100), MCS_STORE_MISS);
  want_miss(s, "touch");
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 1);
  assert_int_equal(m.expired, 5);
  mcs_store_free(s);
}

static void test_memory_touch_extends_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 10), MCS_STORE_STORED);
  now = 5;
  assert_int_equal(touch(s, "k", 10), MCS_STORE_TOUCHED);
  now = 14;
  want_value(s, "k", "v");
  now = 15;
  want_miss(s, "k");
  mcs_store_free(s);
}

static void test_memory_touch_can_shorten_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 100), MCS_STORE_STORED);
  assert_int_equal(touch(s, "k", 1), MCS_STORE_TOUCHED);
  now = 1;
  want_miss(s, "k");
  mcs_store_free(s);
}

static void test_memory_get_and_touch_extends_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "v", 10), MCS_STORE_STORED);
  assert_int_equal(set_ttl(s, "plain", "v", 10), MCS_STORE_STORED);
  now = 5;
  void *data = NULL;
  size_t len;
  mcs_store_result r;
  assert_int_equal(mcs_store_get(s, "k", 1, 10, 0, &data, &len, NULL, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, MCS_STORE_HIT);
  mcs_free(data);
  want_value(s, "plain", "v"); /* a plain get does not extend */
  now = 14;
  want_value(s, "k", "v");
  want_miss(s, "plain");
  now = 15;
  want_miss(s, "k");
  mcs_store_free(s);
}

/* ---- Peek: reading without touching (mcs_store_ops.peek) ---------------- */

/* The value, get's CAS token, the seconds left on the store's clock; the
 * expiry stays where it was. */
static void test_memory_peek_reports_ttl_and_never_slides(void **st) {
  (void)st;
  int64_t now = 1000;
  mcs_store *s = small_store(&now, 4096);
  assert_int_equal(set_ttl(s, "k", "v1", 100), MCS_STORE_STORED);
  uint64_t get_cas = want_value(s, "k", "v1");
  char val[16];
  uint64_t cas = 0;
  int64_t ttl = 0;
  now += 30;
  assert_int_equal(peek_str(s, "k", val, sizeof val, &cas, &ttl),
                   MCS_STORE_HIT);
  assert_string_equal(val, "v1");
  assert_int_equal(cas, get_cas);
  assert_int_equal(ttl, 70);
  now += 69;
  assert_int_equal(peek_str(s, "k", val, sizeof val, NULL, &ttl),
                   MCS_STORE_HIT);
  assert_int_equal(ttl, 1);
  now += 1; /* peeking did not extend it */
  assert_int_equal(peek_str(s, "k", val, sizeof val, NULL, &ttl),
                   MCS_STORE_MISS);
  want_miss(s, "k");
  /* Limits and arguments, as for mcs_store_get. */
  put(s, "big", "0123456789");
  void *data = NULL;
  size_t len = 0;
  mcs_store_result r;
  assert_int_equal(
      mcs_store_peek(s, "big", 3, 4, &data, &len, NULL, NULL, NULL, &r),
      MCS_ETOOBIG);
  assert_null(data);
  assert_int_equal(
      mcs_store_peek(NULL, "big", 3, 0, &data, &len, NULL, NULL, NULL, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_store_peek(s, "big", 3, 0, NULL, &len, NULL, NULL, NULL, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_store_peek(s, "big", 3, 0, &data, NULL, NULL, NULL, NULL, &r),
      MCS_EINVAL);
  assert_int_equal(
      mcs_store_peek(s, "big", 3, 0, &data, &len, NULL, NULL, NULL, NULL),
      MCS_EINVAL);
  assert_int_equal(
      mcs_store_peek(s, "b g", 3, 0, &data, &len, NULL, NULL, NULL, &r),
      MCS_EINVAL);
  mcs_store_free(s);
}

/* Calls of the spy-like store below. */
static _Atomic unsigned plain_gets;
static _Atomic unsigned plain_get_ttl;

static int plain_get(void *ud, const char *key, size_t key_len,
                     uint32_t touch_ttl, mcs_store_value *value, uint64_t *cas,
                     uint32_t *flags, mcs_store_result *result) {
  plain_gets++;
  plain_get_ttl = touch_ttl;
  mcs_store *inner = ud;
  return inner->ops.get(inner->ud, key, key_len, touch_ttl, value, cas, flags,
                        result);
}

/* A table of version 1 (built against a header without `peek`, so
 * shorter) is accepted, and peek reads through its get without touching,
 * the TTL unknown; other versions are refused. */
static void test_store_ops_version_1_has_no_peek(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *mem = small_store(&now, 4096);
  put(mem, "k", "v");
  /* Only the members a version 1 table has, on the heap so that reading
   * past them would be caught by AddressSanitizer. */
  mcs_store_ops full = mem->ops;
  full.version = 1;
  full.get = plain_get;
  full.destroy = NULL;
  size_t v1_size = offsetof(mcs_store_ops, kind); /* ends with destroy */
  unsigned char *v1 = malloc(v1_size);
  assert_non_null(v1);
  memcpy(v1, &full, v1_size);
  mcs_store *old = NULL;
  assert_int_equal(
      mcs_store_new(&old, (const mcs_store_ops *)(const void *)v1, mem),
      MCS_OK);
  free(v1);
  assert_null(old->ops.peek);
  char val[8];
  int64_t ttl = 0;
  plain_gets = 0;
  plain_get_ttl = 99;
  assert_int_equal(peek_str(old, "k", val, sizeof val, NULL, &ttl),
                   MCS_STORE_HIT);
  assert_string_equal(val, "v");
  assert_int_equal(ttl, MCS_STORE_TTL_UNKNOWN);
  assert_int_equal(plain_gets, 1);
  assert_int_equal(plain_get_ttl, 0);
  mcs_store_free(old);
  mcs_store_ops ops = mem->ops;
  for (unsigned version = 0; version < 5; version += 3) { /* 0 and 3 */
    ops.version = version;
    assert_int_equal(mcs_store_new(&old, &ops, NULL), MCS_EINVAL);
    assert_null(old);
  }
  ops.version = MCS_STORE_OPS_VERSION;
  ops.peek = NULL; /* optional */
  ops.destroy = NULL;
  assert_int_equal(mcs_store_new(&old, &ops, mem->ud), MCS_OK);
  mcs_store_free(old);
  mcs_store_free(mem);
}

/* ---- Stats -------------------------------------------------------------- */

static void test_memory_stats_count_items_and_bytes(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  assert_int_equal(m.evictions, 0);
  assert_int_equal(m.expired, 0);
  put(s, "a", "1");
  uint64_t one = stats_of(s).bytes;
  assert_true(one > 2); /* key, value and the per-item overhead */
  put(s, "b", "22");
  m = stats_of(s);
  assert_int_equal(m.items, 2);
  assert_int_equal(m.bytes, 2 * one + 1); /* same overhead, one byte more */
  mcs_store_free(s);
}

static int other_del(void *ud, const char *key, size_t key_len,
                     mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)result;
  return MCS_ESTORE;
}
static int other_get(void *ud, const char *key, size_t key_len,
                     uint32_t touch_ttl, mcs_store_value *value, uint64_t *cas,
                     uint32_t *flags, mcs_store_result *result) {
  (void)ud, (void)key, (void)key_len, (void)touch_ttl, (void)value;
  (void)cas, (void)flags, (void)result;
  return MCS_ESTORE;
}

static void test_memory_stats_reject_other_stores(void **st) {
  (void)st;
  /* Borrow the memory store's ops but replace get: not a memory store. */
  mcs_store *mem = new_store(NULL);
  mcs_store_ops ops = mem->ops;
  ops.get = other_get;
  ops.del = other_del;
  ops.destroy = NULL;
  mcs_store *other = NULL;
  assert_int_equal(mcs_store_new(&other, &ops, NULL), MCS_OK);
  mcs_memory_stats m;
  assert_int_equal(mcs_store_memory_stats_get(other, &m), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_stats_get(NULL, &m), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_stats_get(mem, NULL), MCS_EINVAL);
  mcs_store_free(other);
  mcs_store_free(mem);
}

/* The memory store's whole table, kind and capabilities included, with a
 * user's ud: still not a memory store (the stats would read the user's
 * data as the store's shards). The kind is a name, not an identity. */
static void test_memory_identity_cannot_be_copied(void **st) {
  (void)st;
  mcs_store *mem = new_store(NULL);
  assert_string_equal(mcs_store_kind(mem), "memory");
  assert_int_equal(mcs_store_caps(mem),
                   MCS_STORE_CAP_NONBLOCKING | MCS_STORE_CAP_ATOMIC_GET_TOUCH);
  assert_null(mcs_store_key_prefix(mem)); /* the manager's "mcs:" */
  mcs_store_ops ops = mem->ops;
  ops.destroy = NULL;
  static char fake[4096];
  mcs_store *copy = NULL;
  assert_int_equal(mcs_store_new(&copy, &ops, fake), MCS_OK);
  assert_string_equal(mcs_store_kind(copy), "memory");
  mcs_memory_stats m;
  assert_int_equal(mcs_store_memory_stats_get(copy, &m), MCS_EINVAL);
  assert_int_equal(mcs_store_memory_stats_get(mem, &m), MCS_OK);
  mcs_store_free(copy);
  mcs_store_free(mem);
}

/* mcs_store_new: version 1 tables (the eight members up to destroy) still
 * work, as no kind, no capabilities, no prefix, no engine; unknown
 * versions and capabilities, and half a non-blocking side, are refused. */
static int none_attach(void *ud, const mcs_store_io *io, void **engine) {
  (void)ud, (void)io;
  *engine = NULL;
  return MCS_OK;
}
static void none_detach(void *engine) { (void)engine; }

static void test_store_new_versions_and_tables(void **st) {
  (void)st;
  mcs_store *mem = new_store(NULL);
  /* A version 1 table, as a program built against the 0.1 header lays it
   * out: the v2 members are not even there to read. */
  struct {
    unsigned version;
    void *fns[7];
  } v1;
  _Static_assert(sizeof v1 == offsetof(mcs_store_ops, destroy) +
                                  sizeof(void (*)(void *)),
                 "v1 prefix");
  memcpy(&v1, &mem->ops, sizeof v1);
  v1.version = 1;
  v1.fns[6] = NULL; /* destroy: the memory store stays mem's */
  mcs_store *s = NULL;
  assert_int_equal(
      mcs_store_new(&s, (const mcs_store_ops *)(void *)&v1, mem->ud), MCS_OK);
  assert_string_equal(mcs_store_kind(s), "custom");
  assert_int_equal(mcs_store_caps(s), 0);
  assert_null(mcs_store_key_prefix(s));
  assert_null(s->ops.attach);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 60, &r), MCS_OK);
  mcs_memory_stats m;
  assert_int_equal(mcs_store_memory_stats_get(s, &m), MCS_EINVAL);
  mcs_store_free(s);

  mcs_store_ops ops = mem->ops;
  ops.destroy = NULL;
  ops.version = MCS_STORE_OPS_VERSION + 1;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  assert_null(s);
  ops.version = 0;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.version = MCS_STORE_OPS_VERSION;
  ops.caps = 0x80u;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.caps = 0;
  ops.attach = none_attach; /* without the five others */
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.detach = none_detach;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  ops.attach = NULL;
  ops.detach = NULL;
  ops.touch = NULL;
  assert_int_equal(mcs_store_new(&s, &ops, NULL), MCS_EINVAL);
  assert_null(s);
  assert_null(mcs_store_kind(NULL));
  assert_int_equal(mcs_store_caps(NULL), 0);
  assert_null(mcs_store_key_prefix(NULL));
  mcs_store_free(mem);
}

/* ---- Concurrency -------------------------------------------------------- */

#define THREADS 8
#define LOOPS 2000
#define SHARED 4

typedef struct worker {
  mcs_store *s;
  unsigned id;
  long errors;
  long conflicts;
} worker;

/* get -> parse -> cas, retrying on EXISTS. 0 on success. */
static int cas_increment(worker *w, const char *key) {
  for (;;) {
    void *data = NULL;
    size_t len = 0;
    uint64_t cas = 0;
    mcs_store_result r = 0;
    if (mcs_store_get(w->s, key, strlen(key), TTL, 32, &data, &len, &cas, NULL,
                      &r) != MCS_OK ||
        r != MCS_STORE_HIT)
      return -1;
    char num[33];
    memcpy(num, data, len);
    num[len] = '\0';
    mcs_free(data);
    char next[32];
    int n = snprintf(next, sizeof next, "%ld", strtol(num, NULL, 10) + 1);
    if (mcs_store_cas(w->s, key, strlen(key), next, (size_t)n, 0, TTL, cas,
                      NULL, &r) != MCS_OK)
      return -1;
    if (r == MCS_STORE_STORED)
      return 0;
    if (r != MCS_STORE_EXISTS)
      return -1;
    w->conflicts++;
  }
}

/* Other traffic on random keys, spread over every shard. */
static int noise(worker *w, uint32_t *rnd) {
  char key[32];
  snprintf(key, sizeof key, "noise:%u:%u", w->id, xorshift(rnd) % 256);
  mcs_store_result r;
  switch (xorshift(rnd) % 3) {
  case 0:
    return mcs_store_set(w->s, key, strlen(key), "payload", 7, 0, TTL, &r);
  case 1:
    return mcs_store_delete(w->s, key, strlen(key), &r);
  default: {
    void *data = NULL;
    size_t len;
    int rc = mcs_store_get(w->s, key, strlen(key), 0, 0, &data, &len, NULL,
                           NULL, &r);
    mcs_free(data);
    return rc;
  }
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  uint32_t rnd = 2463534242u + w->id * 7919u;
  for (unsigned i = 0; i < LOOPS; i++) {
    char key[16];
    snprintf(key, sizeof key, "counter:%u", (w->id + i) % SHARED);
    if (cas_increment(w, key) != 0 || noise(w, &rnd) != MCS_OK)
      w->errors++;
  }
  return NULL;
}

static void test_memory_concurrent_cas_increments_are_exact(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  for (int k = 0; k < SHARED; k++) {
    char key[16];
    snprintf(key, sizeof key, "counter:%d", k);
    assert_int_equal(add_str(s, key, "0", NULL), MCS_STORE_STORED);
  }
  pthread_t tid[THREADS];
  worker w[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    w[t] = (worker){s, t, 0, 0};
    assert_int_equal(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
  }
  long conflicts = 0;
  for (unsigned t = 0; t < THREADS; t++) {
    assert_int_equal(pthread_join(tid[t], NULL), 0);
    assert_int_equal(w[t].errors, 0);
    conflicts += w[t].conflicts;
  }
  char want[16];
  snprintf(want, sizeof want, "%d", THREADS * LOOPS / SHARED);
  for (int k = 0; k < SHARED; k++) {
    char key[16];
    snprintf(key, sizeof key, "counter:%d", k);
    want_value(s, key, want);
  }
  assert_int_equal(stats_of(s).evictions, 0);
  print_message("    %ld CAS conflicts resolved\n", conflicts);
  mcs_store_free(s);
}

int main(void) {
  if (mcs_replace_allocator(fi_malloc, fi_realloc, fi_calloc, free) != MCS_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_config_init_sets_documented_defaults),
      cmocka_unit_test(test_memory_new_accepts_null_config_as_defaults),
      cmocka_unit_test(test_memory_new_rejects_invalid_configs),
      cmocka_unit_test(test_memory_get_misses_absent_key),
      cmocka_unit_test(test_memory_set_then_get_returns_value_flags_and_cas),
      cmocka_unit_test(test_memory_set_overwrites_existing_value),
      cmocka_unit_test(test_memory_empty_value_round_trips),
      cmocka_unit_test(test_memory_keys_differing_in_one_byte_are_distinct),
      cmocka_unit_test(test_memory_add_stores_only_when_absent),
      cmocka_unit_test(test_memory_cas_stores_only_with_current_token),
      cmocka_unit_test(test_memory_cas_misses_absent_key),
      cmocka_unit_test(test_memory_delete_removes_then_misses),
      cmocka_unit_test(test_memory_touch_hits_present_and_misses_absent),
      cmocka_unit_test(test_memory_cas_token_changes_on_every_write),
      cmocka_unit_test(test_memory_touch_keeps_cas_token),
      cmocka_unit_test(test_memory_get_value_larger_than_caller_limit),
      cmocka_unit_test(test_memory_get_reuses_caller_buffer),
      cmocka_unit_test(test_memory_items_expire_after_ttl),
      cmocka_unit_test(test_memory_expired_item_is_invisible_to_every_op),
      cmocka_unit_test(test_memory_touch_extends_expiry),
      cmocka_unit_test(test_memory_touch_can_shorten_expiry),
      cmocka_unit_test(test_memory_get_and_touch_extends_expiry),
      cmocka_unit_test(test_memory_peek_reports_ttl_and_never_slides),
      cmocka_unit_test(test_store_ops_version_1_has_no_peek),
      cmocka_unit_test(test_memory_stats_count_items_and_bytes),
      cmocka_unit_test(test_memory_stats_reject_other_stores),
      cmocka_unit_test(test_memory_identity_cannot_be_copied),
      cmocka_unit_test(test_store_new_versions_and_tables),
      cmocka_unit_test(test_memory_concurrent_cas_increments_are_exact),
  };
  return cmocka_run_group_tests_name("store_memory", tests, NULL, NULL);
}
