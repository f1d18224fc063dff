/* The memory store at its limits, through the public mcs_store_*
 * wrappers: LRU eviction, size limits, byte accounting, table growth, a
 * reference model under random operations, and allocation failures
 * (store_memory_fixture.h's allocator). */
#include "store_memory_fixture.h"

/* ---- Eviction and limits ------------------------------------------------ */

#define VAL_LEN 1000

static void put_sized(mcs_store *s, int i, uint32_t ttl) {
  char key[16], val[VAL_LEN + 1];
  snprintf(key, sizeof key, "k%03d", i);
  memset(val, 'a' + i % 26, VAL_LEN);
  val[VAL_LEN] = '\0';
  assert_int_equal(set_ttl(s, key, val, ttl), MCS_STORE_STORED);
}

static mcs_store_result probe(mcs_store *s, int i) {
  char key[16];
  snprintf(key, sizeof key, "k%03d", i);
  void *data = NULL;
  size_t len;
  mcs_store_result r = 0;
  assert_int_equal(
      mcs_store_get(s, key, strlen(key), 0, 0, &data, &len, NULL, NULL, &r),
      MCS_OK);
  mcs_free(data);
  return r;
}

/* How many equal-sized items fit in the one-shard, 64 KiB store. */
static int capacity(mcs_store *s) {
  put_sized(s, 999, TTL);
  uint64_t item = stats_of(s).bytes;
  char key[] = "k999";
  assert_int_equal(del(s, key), MCS_STORE_DELETED);
  return (int)(64 * 1024 / item);
}

static void test_memory_evicts_least_recently_used_first(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  assert_true(cap > 10);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, TTL);
  assert_int_equal(stats_of(s).evictions, 0);
  assert_int_equal(stats_of(s).items, cap);
  /* Reading the two oldest makes them the most recently used. */
  assert_int_equal(probe(s, 0), MCS_STORE_HIT);
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  put_sized(s, cap, TTL);
  put_sized(s, cap + 1, TTL);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.evictions, 2);
  assert_int_equal(m.items, cap);
  assert_true(m.bytes <= 64 * 1024);
  assert_int_equal(probe(s, 2), MCS_STORE_MISS);
  assert_int_equal(probe(s, 3), MCS_STORE_MISS);
  assert_int_equal(probe(s, 0), MCS_STORE_HIT);
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  for (int i = 4; i < cap + 2; i++)
    assert_int_equal(probe(s, i), MCS_STORE_HIT);
  mcs_store_free(s);
}

static void test_memory_eviction_reclaims_expired_items_first(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, i == 2 ? 10 : TTL);
  now = 20;
  put_sized(s, cap, TTL);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.evictions, 0);
  assert_int_equal(m.expired, 1);
  assert_int_equal(probe(s, 0), MCS_STORE_HIT);
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  assert_int_equal(probe(s, 2), MCS_STORE_MISS);
  mcs_store_free(s);
}

static void test_memory_replacing_an_item_never_evicts_others(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, TTL);
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < cap; i++)
      put_sized(s, i, TTL);
  assert_int_equal(stats_of(s).evictions, 0);
  assert_int_equal(stats_of(s).items, cap);
  mcs_store_free(s);
}

static void test_memory_rejects_items_that_never_fit(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 64 * 1024);
  size_t n = 64 * 1024 + 1;
  char *big = malloc(n);
  assert_non_null(big);
  memset(big, 'z', n);
  put(s, "k", "old");
  uint64_t c = want_value(s, "k", "old");
  mcs_memory_stats before = stats_of(s);
  mcs_store_result r = 0;
  /* Over max_item_bytes. */
  assert_int_equal(mcs_store_set(s, "k", 1, big, n, 0, TTL, &r), MCS_ETOOBIG);
  /* Within max_item_bytes but, with key and overhead, over the shard. */
  assert_int_equal(mcs_store_set(s, "k", 1, big, n - 1, 0, TTL, &r),
                   MCS_ETOOBIG);
  assert_int_equal(mcs_store_add(s, "n", 1, big, n - 1, 0, TTL, NULL, &r),
                   MCS_ETOOBIG);
  assert_int_equal(mcs_store_cas(s, "k", 1, big, n - 1, 0, TTL, c, NULL, &r),
                   MCS_ETOOBIG);
  assert_int_equal(want_value(s, "k", "old"), c);
  want_miss(s, "n");
  mcs_memory_stats after = stats_of(s);
  assert_memory_equal(&before, &after, sizeof before);
  free(big);
  mcs_store_free(s);
}

static void test_memory_max_item_bytes_is_inclusive(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 100);
  char v[102];
  memset(v, 'v', sizeof v);
  v[101] = '\0';
  assert_int_equal(set_ttl(s, "k", v + 1, TTL), MCS_STORE_STORED);
  mcs_store_result r;
  assert_int_equal(mcs_store_set(s, "k", 1, v, 101, 0, TTL, &r), MCS_ETOOBIG);
  want_value(s, "k", v + 1);
  mcs_store_free(s);
}

/* ---- Accounting and growth ---------------------------------------------- */

static void test_memory_overwrite_keeps_byte_accounting_exact(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "a");
  uint64_t one = stats_of(s).bytes;
  assert_true(one > 2);
  char big[501];
  memset(big, 'b', 500);
  big[500] = '\0';
  put(s, "k", big);
  assert_int_equal(stats_of(s).bytes, one + 499);
  put(s, "k", "c");
  assert_int_equal(stats_of(s).bytes, one);
  assert_int_equal(add_str(s, "k", big, NULL), MCS_STORE_EXISTS);
  assert_int_equal(stats_of(s).bytes, one);
  for (int i = 0; i < 200; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    put(s, key, big + i);
    put(s, key, big + 500 - i);
  }
  for (int i = 0; i < 200; i++) {
    char key[16];
    snprintf(key, sizeof key, "key%d", i);
    assert_int_equal(del(s, key), MCS_STORE_DELETED);
  }
  assert_int_equal(del(s, "k"), MCS_STORE_DELETED);
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  mcs_store_free(s);
}

static void test_memory_table_grows_to_100000_keys(void **st) {
  (void)st;
  enum { N = 100000 };
  mcs_store *s = new_store(NULL);
  char key[32], val[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);
    put(s, key, val);
  }
  mcs_memory_stats m = stats_of(s);
  assert_int_equal(m.items, N);
  assert_int_equal(m.evictions, 0);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);
    want_value(s, key, val);
  }
  for (int i = 0; i < N; i += 2) {
    snprintf(key, sizeof key, "key:%d", i);
    assert_int_equal(del(s, key), MCS_STORE_DELETED);
  }
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "key:%d", i);
    snprintf(val, sizeof val, "value-%d", i);
    want_value(s, key, i % 2 ? val : NULL);
  }
  for (int i = 1; i < N; i += 2) {
    snprintf(key, sizeof key, "key:%d", i);
    assert_int_equal(del(s, key), MCS_STORE_DELETED);
  }
  m = stats_of(s);
  assert_int_equal(m.items, 0);
  assert_int_equal(m.bytes, 0);
  mcs_store_free(s);
}

/* ---- Reference model ---------------------------------------------------
 * Random operations on one shard (so its table grows and rehashes many
 * times while items are deleted, expire and get touched mid-migration),
 * checked one by one against a trivial model. No evictions: the budget is
 * far above what the keys need. */

typedef struct model_entry {
  int live;
  long value;
  int64_t expiry;
  uint64_t cas; /* 0: not known yet (set does not report it) */
} model_entry;

static void model_get(mcs_store *s, const char *key, model_entry *e,
                      int64_t now, uint32_t touch_ttl) {
  void *data = NULL;
  size_t len = 0;
  uint64_t cas = 0;
  mcs_store_result r = 0;
  assert_int_equal(mcs_store_get(s, key, strlen(key), touch_ttl, 0, &data, &len,
                                 &cas, NULL, &r),
                   MCS_OK);
  assert_int_equal(r, e->live ? MCS_STORE_HIT : MCS_STORE_MISS);
  if (!e->live)
    return;
  char want[32];
  int n = snprintf(want, sizeof want, "%ld", e->value);
  assert_int_equal(len, (size_t)n);
  assert_memory_equal(data, want, len);
  mcs_free(data);
  if (e->cas)
    assert_int_equal(cas, e->cas);
  e->cas = cas;
  if (touch_ttl)
    e->expiry = now + touch_ttl;
}

static void model_write(mcs_store *s, const char *key, model_entry *e,
                        int64_t now, unsigned op, long v, uint32_t ttl) {
  char val[32];
  int n = snprintf(val, sizeof val, "%ld", v);
  mcs_store_result r = 0, want = MCS_STORE_STORED;
  uint64_t cas = 0;
  if (op == 1) {
    assert_int_equal(
        mcs_store_set(s, key, strlen(key), val, (size_t)n, 0, ttl, &r), MCS_OK);
  } else if (op == 2) {
    want = e->live ? MCS_STORE_EXISTS : MCS_STORE_STORED;
    assert_int_equal(
        mcs_store_add(s, key, strlen(key), val, (size_t)n, 0, ttl, &cas, &r),
        MCS_OK);
  } else {
    /* UINT64_MAX is never issued: a live item with an unknown token must
     * answer EXISTS. */
    uint64_t token = e->live && e->cas ? e->cas : UINT64_MAX;
    want = !e->live ? MCS_STORE_MISS
                    : (e->cas ? MCS_STORE_STORED : MCS_STORE_EXISTS);
    assert_int_equal(mcs_store_cas(s, key, strlen(key), val, (size_t)n, 0, ttl,
                                   token, &cas, &r),
                     MCS_OK);
  }
  assert_int_equal(r, want);
  if (r == MCS_STORE_STORED)
    *e = (model_entry){1, v, now + ttl, cas};
}

static void model_step(mcs_store *s, model_entry *m, unsigned nkeys,
                       int64_t now, uint32_t *rnd, long step) {
  unsigned k = xorshift(rnd) % nkeys;
  char key[16];
  snprintf(key, sizeof key, "m%u", k);
  model_entry *e = &m[k];
  if (e->live && now >= e->expiry)
    e->live = 0;
  uint32_t ttl = 1 + xorshift(rnd) % 30;
  unsigned op = xorshift(rnd) % 6;
  mcs_store_result r = 0;
  switch (op) {
  case 0:
    model_get(s, key, e, now, xorshift(rnd) % 2 ? ttl : 0);
    break;
  case 4:
    assert_int_equal(del(s, key), e->live ? MCS_STORE_DELETED : MCS_STORE_MISS);
    e->live = 0;
    break;
  case 5:
    r = touch(s, key, ttl);
    assert_int_equal(r, e->live ? MCS_STORE_TOUCHED : MCS_STORE_MISS);
    e->expiry = now + ttl;
    break;
  default:
    model_write(s, key, e, now, op, step, ttl);
  }
}

static void test_memory_matches_reference_model_under_random_ops(void **st) {
  (void)st;
  enum { KEYS = 6000, OPS = 300000 };
  int64_t now = 0;
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.shards = 1;
  cfg.clock = fake_clock;
  cfg.clock_ud = &now;
  mcs_store *s = new_store(&cfg);
  model_entry *m = calloc(KEYS, sizeof *m);
  assert_non_null(m);
  uint32_t rnd = 0x9e3779b9u;
  for (long i = 0; i < OPS; i++) {
    if (xorshift(&rnd) % 2000 == 0)
      now += xorshift(&rnd) % 10;
    model_step(s, m, KEYS, now, &rnd, i);
  }
  uint64_t live = 0;
  for (unsigned k = 0; k < KEYS; k++) {
    char key[16];
    snprintf(key, sizeof key, "m%u", k);
    if (m[k].live && now >= m[k].expiry)
      m[k].live = 0;
    model_get(s, key, &m[k], now, 0); /* reclaims the expired ones */
    live += (uint64_t)m[k].live;
  }
  mcs_memory_stats ms = stats_of(s);
  assert_int_equal(ms.items, live);
  assert_int_equal(ms.evictions, 0);
  free(m);
  mcs_store_free(s);
}

/* ---- Allocation failures ------------------------------------------------ */

/* Each failure must leave the store exactly as it was. */
static void assert_unchanged(mcs_store *s, const mcs_memory_stats *before,
                             const char *key, const char *val, uint64_t cas) {
  mcs_memory_stats now = stats_of(s);
  assert_int_equal(now.items, before->items);
  assert_int_equal(now.bytes, before->bytes);
  if (val)
    assert_int_equal(want_value(s, key, val), cas);
  else
    want_miss(s, key);
}

static void test_memory_new_fails_cleanly_when_allocation_fails(void **st) {
  (void)st;
  long n = 1;
  for (;; n++) {
    mcs_store *s = (mcs_store *)&n;
    arm(n, 0);
    int rc = mcs_store_memory_new(&s, NULL);
    disarm();
    if (rc == MCS_OK) {
      mcs_store_free(s);
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_null(s); /* LeakSanitizer checks nothing was left behind */
  }
  assert_true(n > 3);
}

static void test_memory_set_failure_keeps_old_value(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "old");
  uint64_t c = want_value(s, "k", "old");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_set(s, "k", 1, "new", 3, 0, TTL, &r);
    disarm();
    if (rc == MCS_OK)
      break;
    assert_int_equal(rc, MCS_ENOMEM);
    assert_unchanged(s, &before, "k", "old", c);
  }
  assert_true(n > 1);
  want_value(s, "k", "new");
  mcs_store_free(s);
}

static void test_memory_add_failure_leaves_key_absent(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "other", "x");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_add(s, "k", 1, "new", 3, 0, TTL, NULL, &r);
    disarm();
    if (rc == MCS_OK) {
      assert_int_equal(r, MCS_STORE_STORED);
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_unchanged(s, &before, "k", NULL, 0);
  }
  assert_true(n > 1);
  want_value(s, "k", "new");
  mcs_store_free(s);
}

static void test_memory_cas_failure_keeps_old_value_and_token(void **st) {
  (void)st;
  mcs_store *s = new_store(NULL);
  put(s, "k", "old");
  uint64_t c = want_value(s, "k", "old");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_cas(s, "k", 1, "new", 3, 0, TTL, c, NULL, &r);
    disarm();
    if (rc == MCS_OK) {
      assert_int_equal(r, MCS_STORE_STORED); /* the token still matched */
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_unchanged(s, &before, "k", "old", c);
  }
  assert_true(n > 1);
  want_value(s, "k", "new");
  mcs_store_free(s);
}

static void test_memory_get_failure_changes_nothing(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "value", 10), MCS_STORE_STORED);
  uint64_t c = want_value(s, "k", "value");
  mcs_memory_stats before = stats_of(s);
  long n = 1;
  for (;; n++) {
    void *data = NULL;
    size_t len;
    mcs_store_result r;
    arm(n, 0);
    int rc = mcs_store_get(s, "k", 1, 100, 0, &data, &len, NULL, NULL, &r);
    disarm();
    if (rc == MCS_OK) {
      assert_int_equal(r, MCS_STORE_HIT);
      mcs_free(data);
      break;
    }
    assert_int_equal(rc, MCS_ENOMEM);
    assert_null(data);
    assert_unchanged(s, &before, "k", "value", c);
  }
  assert_true(n > 1);
  /* Only the successful get-and-touch extended the expiry. */
  now = 50;
  want_value(s, "k", "value");
  mcs_store_free(s);
}

static void test_memory_get_and_touch_failure_keeps_expiry(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 1024);
  assert_int_equal(set_ttl(s, "k", "value", 10), MCS_STORE_STORED);
  void *data = NULL;
  size_t len;
  mcs_store_result r;
  arm(1, 1);
  assert_int_equal(
      mcs_store_get(s, "k", 1, 100, 0, &data, &len, NULL, NULL, &r),
      MCS_ENOMEM);
  disarm();
  now = 10;
  want_miss(s, "k");
  mcs_store_free(s);
}

/* Growing a table is optional: with every calloc failing, writes still
 * succeed (on longer chains), and growth resumes once memory is back. */
static void test_memory_table_growth_failure_is_harmless(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_memory_config cfg;
  mcs_memory_config_init(&cfg);
  cfg.shards = 1;
  cfg.clock = fake_clock;
  cfg.clock_ud = &now;
  mcs_store *s = new_store(&cfg);
  char key[32];
  atomic_store(&fail_calloc, 1);
  for (int i = 0; i < 3000; i++) {
    snprintf(key, sizeof key, "g%d", i);
    put(s, key, key);
  }
  disarm();
  for (int i = 3000; i < 6000; i++) {
    snprintf(key, sizeof key, "g%d", i);
    put(s, key, key);
  }
  for (int i = 0; i < 6000; i++) {
    snprintf(key, sizeof key, "g%d", i);
    want_value(s, key, key);
  }
  assert_int_equal(stats_of(s).items, 6000);
  mcs_store_free(s);
}

/* An operator's look does not keep an item from eviction. */
static void test_memory_peek_does_not_bump_lru(void **st) {
  (void)st;
  int64_t now = 0;
  mcs_store *s = small_store(&now, 4096);
  int cap = capacity(s);
  for (int i = 0; i < cap; i++)
    put_sized(s, i, TTL);
  char val[VAL_LEN + 1];
  assert_int_equal(peek_str(s, "k000", val, sizeof val, NULL, NULL),
                   MCS_STORE_HIT);
  put_sized(s, cap, TTL);
  assert_int_equal(probe(s, 0), MCS_STORE_MISS); /* still the oldest */
  assert_int_equal(probe(s, 1), MCS_STORE_HIT);
  mcs_store_free(s);
}

int main(void) {
  if (mcs_replace_allocator(fi_malloc, fi_realloc, fi_calloc, free) != MCS_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memory_evicts_least_recently_used_first),
      cmocka_unit_test(test_memory_eviction_reclaims_expired_items_first),
      cmocka_unit_test(test_memory_replacing_an_item_never_evicts_others),
      cmocka_unit_test(test_memory_peek_does_not_bump_lru),
      cmocka_unit_test(test_memory_rejects_items_that_never_fit),
      cmocka_unit_test(test_memory_max_item_bytes_is_inclusive),
      cmocka_unit_test(test_memory_overwrite_keeps_byte_accounting_exact),
      cmocka_unit_test(test_memory_table_grows_to_100000_keys),
      cmocka_unit_test(test_memory_matches_reference_model_under_random_ops),
      cmocka_unit_test(test_memory_new_fails_cleanly_when_allocation_fails),
      cmocka_unit_test(test_memory_set_failure_keeps_old_value),
      cmocka_unit_test(test_memory_add_failure_leaves_key_absent),
      cmocka_unit_test(test_memory_cas_failure_keeps_old_value_and_token),
      cmocka_unit_test(test_memory_get_failure_changes_nothing),
      cmocka_unit_test(test_memory_get_and_touch_failure_keeps_expiry),
      cmocka_unit_test(test_memory_table_growth_failure_is_harmless),
  };
  return cmocka_run_group_tests_name("store_memory_limits", tests, NULL, NULL);
}
