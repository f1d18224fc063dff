/* The tornado record decoder's bounds, on pickles built in memory: size,
 * expansion through shared references, nesting, the stack and marks, memo
 * indices, the reason given for a refusal; and every allocation failure
 * leaving nothing behind (pickle_fixture.h's counting allocators). */
#include "pickle_fixture.h"

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

/* FLOAT text longer than 15 bytes is read exactly, also when an
 * allocation fails on the way: the value or MCS_ENOMEM, never a float with
 * a digit dropped (jansson 2.14's lexer drops one when its buffer cannot
 * grow, so op_float reads the text with strtod instead). */
static void test_long_float_text_is_exact_or_enomem(void **state) {
  (void)state;
  static const char in[] = "\x80\x04}(\x8c\x01"
                           "fF1.2345678901234567e-300\n\x8c\x01"
                           "gF0.10000000000000001\nu.";
  size_t exact = 0;
  for (long nth = 0; nth < 64; nth++) {
    mcs__record rec;
    long before = live_blocks;
    fail_countdown = nth;
    int rc = decode(in, sizeof in - 1, &rec, NULL);
    fail_countdown = -1;
    if (rc == MCS_OK) {
      assert_true(json_real_value(json_object_get(rec.data, "f")) ==
                  1.2345678901234567e-300);
      assert_true(json_real_value(json_object_get(rec.data, "g")) == 0.1);
      mcs__record_clear(&rec);
      exact++;
    } else if (rc != MCS_ENOMEM) {
      fail_msg("allocation %ld failed: %s", nth, mcs_errname(rc));
    }
    if (live_blocks != before)
      fail_msg("allocation %ld failed: %ld block(s) leaked", nth,
               live_blocks - before);
  }
  assert_true(exact > 0);
}

int main(void) {
  if (pickle_tests_init())
    return 1;
#define T(f) LEAK_CHECKED(f)
  const struct CMUnitTest tests[] = {
      T(test_input_over_the_size_limit_is_toobig),
      T(test_shared_string_bomb_is_toobig),
      T(test_nesting_is_bounded_for_every_container),
      T(test_deep_hostile_nesting_is_refused_early),
      T(test_stack_and_marks_are_bounded),
      T(test_memo_indices_are_bounded),
      T(test_reason_names_the_refused_opcode),
      T(test_container_shared_while_open_but_unchanged),
      T(test_allocation_failures_are_clean),
      T(test_long_float_text_is_exact_or_enomem),
  };
#undef T
  return cmocka_run_group_tests_name("codec_pickle_bounds", tests, NULL, NULL);
}
