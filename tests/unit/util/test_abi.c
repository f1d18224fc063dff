/* The public structs' layout, held still (mcsession.h, "Structs grow"):
 * a program built against an older header must keep working with a newer
 * library of the same major version. So a struct never changes size, no
 * field moves, and new fields come out of the `reserved` space at the end,
 * which the _init functions (and the stats getters) zero.
 *
 * Adding a field: take its bytes from `reserved` (shrinking the array),
 * make zero mean "the default", and add its offset here. The sizes and the
 * offsets below then stay as they are; if one has to change, the major
 * version (SOVERSION) has to change with it. The figures are those of
 * x86_64 Linux (LP64), the platform the library supports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mcsession.h"

#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* `reserved` is the last member, and it is all zeros in `s`. */
#define CHECK_RESERVED(type, s)                                               \
  do {                                                                        \
    assert_int_equal(END_OF(type, reserved), sizeof(type));                   \
    static const uint8_t zero[sizeof((s).reserved)];                          \
    assert_memory_equal((s).reserved, zero, sizeof zero);                     \
  } while (0)

static void test_layout_is_frozen(void **state) {
  (void)state;
#if defined(__x86_64__) && defined(__LP64__)
  assert_int_equal(sizeof(mcs_manager_config), 368);
  assert_int_equal(offsetof(mcs_manager_config, cookie_cache_entries), 232);
  assert_int_equal(offsetof(mcs_manager_config, seal_records), 240);
  assert_int_equal(offsetof(mcs_manager_config, last_seen_interval), 244);
  assert_int_equal(sizeof(mcs_user_session), 600);
  assert_int_equal(offsetof(mcs_manager_config, reserved), 248);
  assert_int_equal(sizeof(mcs_manager_stats), 232);
  assert_int_equal(offsetof(mcs_manager_stats, revocation_unreadable), 96);
  assert_int_equal(offsetof(mcs_manager_stats, tampered), 104);
  assert_int_equal(offsetof(mcs_manager_stats, reserved), 112);
  assert_int_equal(sizeof(mcs_memory_config), 104);
  assert_int_equal(offsetof(mcs_memory_config, reserved), 40);
  assert_int_equal(sizeof(mcs_memory_stats), 96);
  assert_int_equal(offsetof(mcs_memory_stats, reserved), 32);
  assert_int_equal(sizeof(mcs_cookie_attrs), 72);
  assert_int_equal(offsetof(mcs_cookie_attrs, reserved), 40);
  assert_int_equal(sizeof(mcs_memcached_config), 16680);
  assert_int_equal(offsetof(mcs_memcached_config, reserved), 16616);
  assert_int_equal(sizeof(mcs_memcached_stats), 120);
  assert_int_equal(offsetof(mcs_memcached_stats, reserved), 56);
  assert_int_equal(sizeof(mcs_signed_info), 304);
  assert_int_equal(offsetof(mcs_signed_info, reserved), 272);
  assert_int_equal(sizeof(mcs_admin_ref), 368);
  assert_int_equal(offsetof(mcs_admin_ref, reserved), 336);
  assert_int_equal(sizeof(mcs_admin_view), 128);
  assert_int_equal(offsetof(mcs_admin_view, ttl), 56);
  assert_int_equal(offsetof(mcs_admin_view, sealed), 64);
  assert_int_equal(offsetof(mcs_admin_view, reserved), 72);
  assert_int_equal(sizeof(mcs_admin_user), 56);
  assert_int_equal(offsetof(mcs_admin_user, reserved), 24);
  /* A store operation: the library fills it, a store's engine reads it
   * (reserved last, zeroed by the submitter). */
  assert_int_equal(sizeof(mcs_store_op), 168);
  assert_int_equal(offsetof(mcs_store_op, done), 88);
  assert_int_equal(offsetof(mcs_store_op, next), 104);
  assert_int_equal(offsetof(mcs_store_op, reserved), 136);
  assert_int_equal(END_OF(mcs_store_op, reserved), sizeof(mcs_store_op));
  /* The operations table grows by version, not by reserved space: a
   * version 1 table is the prefix up to `destroy`, members are only ever
   * added after it (mcs_store_new copies as many bytes as the table's
   * version had). */
  assert_int_equal(END_OF(mcs_store_ops, destroy), 64);
  assert_int_equal(sizeof(mcs_store_io), 32);
#else
  skip();
#endif
}

/* The _init functions zero the reserved space whatever was there. */
static void test_init_zeroes_reserved_space(void **state) {
  (void)state;
  mcs_manager_config mc;
  memset(&mc, 0xa5, sizeof mc);
  mcs_manager_config_init(&mc);
  CHECK_RESERVED(mcs_manager_config, mc);
  CHECK_RESERVED(mcs_cookie_attrs, mc.cookie);
  mcs_memory_config mem;
  memset(&mem, 0xa5, sizeof mem);
  mcs_memory_config_init(&mem);
  CHECK_RESERVED(mcs_memory_config, mem);
  mcs_cookie_attrs ca;
  memset(&ca, 0xa5, sizeof ca);
  mcs_cookie_attrs_init(&ca);
  CHECK_RESERVED(mcs_cookie_attrs, ca);
  mcs_memcached_config mcd;
  memset(&mcd, 0xa5, sizeof mcd);
  mcs_memcached_config_init(&mcd);
  CHECK_RESERVED(mcs_memcached_config, mcd);
  memset(&mcd, 0xa5, sizeof mcd);
  char why[128];
  assert_int_equal(mcs_memcached_url_parse("memcached://127.0.0.1:1", &mcd,
                                           why, sizeof why),
                   MCS_OK);
  CHECK_RESERVED(mcs_memcached_config, mcd);
}

/* So do the stats getters. */
static void test_stats_zero_reserved_space(void **state) {
  (void)state;
  mcs_store *mem = NULL;
  assert_int_equal(mcs_store_memory_new(&mem, NULL), MCS_OK);
  mcs_memory_stats ms;
  memset(&ms, 0xa5, sizeof ms);
  assert_int_equal(mcs_store_memory_stats_get(mem, &ms), MCS_OK);
  CHECK_RESERVED(mcs_memory_stats, ms);
  mcs_store_free(mem);
  mcs_manager_stats st;
  memset(&st, 0xa5, sizeof st);
  mcs_manager_stats_get(NULL, &st);
  CHECK_RESERVED(mcs_manager_stats, st);
}

/* So do the operator API's fillers (mcsession/admin.h, signer.h). */
static void test_admin_fillers_zero_reserved_space(void **state) {
  (void)state;
  mcs_signed_info si;
  memset(&si, 0xa5, sizeof si);
  size_t len = 0;
  assert_int_equal(mcs_signed_inspect("x", 1, &si, NULL, 0, &len), MCS_EBADSIG);
  CHECK_RESERVED(mcs_signed_info, si);
  mcs_keyring *keys = NULL;
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(keys, 0, "0123456789abcdef", 16), MCS_OK);
  mcs_manager_config mc;
  mcs_manager_config_init(&mc);
  mc.keys = keys;
  mcs_manager *m = NULL;
  assert_int_equal(mcs_manager_new(&m, &mc), MCS_OK);
  mcs_admin_ref ref;
  memset(&ref, 0xa5, sizeof ref);
  char id[MCS_ID_LEN + 1];
  memset(id, 'A', MCS_ID_LEN);
  id[MCS_ID_LEN] = '\0';
  assert_int_equal(mcs_admin_session_resolve(m, id, MCS_ID_LEN, NULL, &ref),
                   MCS_OK);
  CHECK_RESERVED(mcs_admin_ref, ref);
  mcs_admin_view view;
  memset(&view, 0xa5, sizeof view);
  int found = 1;
  assert_int_equal(mcs_admin_session_read(m, id, &view, &found), MCS_OK);
  assert_int_equal(found, 0);
  CHECK_RESERVED(mcs_admin_view, view);
  mcs_admin_user user;
  memset(&user, 0xa5, sizeof user);
  assert_int_equal(mcs_admin_user_state(m, "alice", &user), MCS_OK);
  CHECK_RESERVED(mcs_admin_user, user);
  mcs_manager_free(m);
  mcs_keyring_free(keys);
}

/* A config with something in its reserved space (a field of a later
 * release, set by a program built against a newer header) is refused,
 * not read without the setting its caller meant. */
static void test_unknown_fields_are_refused(void **state) {
  (void)state;
  mcs_keyring *keys = NULL;
  assert_int_equal(mcs_keyring_new(&keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(keys, 0, "0123456789abcdef", 16), MCS_OK);
  mcs_manager_config mc;
  mcs_manager_config_init(&mc);
  mc.keys = keys;
  mcs_manager *m = NULL;
  assert_int_equal(mcs_manager_new(&m, &mc), MCS_OK);
  mcs_manager_free(m);
  mc.reserved[3] = 1;
  assert_int_equal(mcs_manager_new(&m, &mc), MCS_EINVAL);
  mc.reserved[3] = 0;
  mc.last_seen_interval = 86401; /* over a day: refused */
  assert_int_equal(mcs_manager_new(&m, &mc), MCS_EINVAL);
  mc.last_seen_interval = 0; /* the default */
  mc.seal_records = (mcs_seal_mode)3; /* no such mode */
  assert_int_equal(mcs_manager_new(&m, &mc), MCS_EINVAL);
  mc.seal_records = MCS_SEAL_ON;
  mc.cookie.reserved[0] = 1;
  assert_int_equal(mcs_manager_new(&m, &mc), MCS_EINVAL);
  assert_null(m);
  assert_int_equal(mcs_cookie_attrs_check("session", &mc.cookie),
                   MCS_EINVAL);
  mcs_keyring_free(keys);
  mcs_memory_config mem;
  mcs_memory_config_init(&mem);
  mem.reserved[7] = 1;
  mcs_store *st = NULL;
  assert_int_equal(mcs_store_memory_new(&st, &mem), MCS_EINVAL);
  mcs_memcached_config mcd;
  char why[128];
  assert_int_equal(mcs_memcached_url_parse("memcached://127.0.0.1:1", &mcd,
                                           why, sizeof why),
                   MCS_OK);
  mcd.reserved[0] = 1;
  assert_int_equal(mcs_memcached_config_check(&mcd, why, sizeof why),
                   MCS_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout_is_frozen),
      cmocka_unit_test(test_init_zeroes_reserved_space),
      cmocka_unit_test(test_stats_zero_reserved_space),
      cmocka_unit_test(test_admin_fillers_zero_reserved_space),
      cmocka_unit_test(test_unknown_fields_are_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
