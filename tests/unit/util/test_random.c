/* mcs_random_bytes: small draws come from a per-thread buffer of OS
 * randomness (src/random.c); no byte may be handed out twice, across
 * calls, across threads, or across a fork. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

/* Many 32-byte draws (several buffer refills): no two alike. */
static void test_draws_never_repeat(void **st) {
  (void)st;
  enum { N = 200 };
  static uint8_t d[N][32];
  for (int i = 0; i < N; i++)
    assert_int_equal(mcs_random_bytes(d[i], sizeof d[i]), MCS_OK);
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      assert_memory_not_equal(d[i], d[j], sizeof d[i]);
}

/* Odd sizes, a large draw (straight from the OS) and zero bytes. */
static void test_sizes_and_arguments(void **st) {
  (void)st;
  uint8_t small[7] = {0}, zero7[7] = {0}, big[4096] = {0}, zero[4096] = {0};
  assert_int_equal(mcs_random_bytes(small, sizeof small), MCS_OK);
  assert_memory_not_equal(small, zero7, sizeof small);
  assert_int_equal(mcs_random_bytes(big, sizeof big), MCS_OK);
  assert_memory_not_equal(big, zero, sizeof big);
  assert_int_equal(mcs_random_bytes(NULL, 0), MCS_OK);
  assert_int_equal(mcs_random_bytes(NULL, 1), MCS_EINVAL);
}

/* After fork, the child's next draw must differ from the parent's: the
 * child forgets the buffer it inherited. */
static void test_fork_child_does_not_repeat_parent(void **st) {
  (void)st;
  uint8_t warm[32], mine[32], childs[32];
  assert_int_equal(mcs_random_bytes(warm, sizeof warm), MCS_OK); /* fill */
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    uint8_t b[32];
    int ok = mcs_random_bytes(b, sizeof b) == MCS_OK &&
             write(p[1], b, sizeof b) == (ssize_t)sizeof b;
    _exit(ok ? 0 : 1);
  }
  close(p[1]);
  assert_int_equal(mcs_random_bytes(mine, sizeof mine), MCS_OK);
  assert_int_equal(read(p[0], childs, sizeof childs), (ssize_t)sizeof childs);
  close(p[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_memory_not_equal(mine, childs, sizeof mine);
}

static void *draw_thread(void *arg) {
  return mcs_random_bytes(arg, 32) == MCS_OK ? arg : NULL;
}

/* Each thread has its own buffer: two threads never get the same bytes. */
static void test_threads_draw_different_bytes(void **st) {
  (void)st;
  uint8_t a[32], b[32];
  pthread_t ta, tb;
  void *ra, *rb;
  assert_int_equal(pthread_create(&ta, NULL, draw_thread, a), 0);
  assert_int_equal(pthread_create(&tb, NULL, draw_thread, b), 0);
  assert_int_equal(pthread_join(ta, &ra), 0);
  assert_int_equal(pthread_join(tb, &rb), 0);
  assert_non_null(ra);
  assert_non_null(rb);
  assert_memory_not_equal(a, b, sizeof a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_draws_never_repeat),
      cmocka_unit_test(test_sizes_and_arguments),
      cmocka_unit_test(test_fork_child_does_not_repeat_parent),
      cmocka_unit_test(test_threads_draw_different_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
