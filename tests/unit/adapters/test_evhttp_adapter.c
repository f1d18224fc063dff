/* The libevent evhttp adapter (adapters/evhttp) on evhttp request objects
 * built in memory: no sockets, no event loop. libevent's allocator is
 * replaced by a counting one that can be told to fail, to check that a
 * failed mcs_evhttp_add_set_cookies leaves the response untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h> /* TAILQ_*: evkeyvalq is a public TAILQ */

#include <cmocka.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mcsession.h"
#include "mcsession/evhttp.h"

/* libevent allocations fail while fail_left reaches 0 (negative: never). */
static long fail_left = -1;

static int should_fail(void) {
  if (fail_left < 0)
    return 0;
  return fail_left-- == 0;
}
static void *ev_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *ev_realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n);
}

/* libevent warns about each allocation it could not make; those are the
 * failures this test causes on purpose. */
static void quiet(int severity, const char *msg) {
  (void)severity;
  (void)msg;
}

typedef struct fixture {
  mcs_keyring *keys;
  mcs_manager *mgr;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  mcs_manager_config cfg;
  assert_non_null(f);
  assert_int_equal(mcs_keyring_new(&f->keys), MCS_OK);
  assert_int_equal(mcs_keyring_add(f->keys, 0, "0123456789abcdef", 16), MCS_OK);
  mcs_manager_config_init(&cfg);
  cfg.keys = f->keys;
  assert_int_equal(mcs_manager_new(&f->mgr, &cfg), MCS_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  mcs_manager_free(f->mgr);
  mcs_keyring_free(f->keys);
  free(f);
  return 0;
}

/* A request as evhttp hands it to a callback, with a Cookie header when
 * `cookie` is not NULL. */
static struct evhttp_request *request_with(const char *cookie) {
  struct evhttp_request *req = evhttp_request_new(NULL, NULL);
  assert_non_null(req);
  if (cookie)
    assert_int_equal(evhttp_add_header(evhttp_request_get_input_headers(req),
                                       "Cookie", cookie),
                     0);
  return req;
}

static size_t count_headers(struct evhttp_request *req, const char *name) {
  size_t n = 0;
  struct evkeyval *kv;
  TAILQ_FOREACH(kv, evhttp_request_get_output_headers(req), next)
  if (strcmp(kv->key, name) == 0)
    n++;
  return n;
}

/* Stores a session with user=ada; writes "session=<value>" to cookie. */
static void make_stored(fixture *f, char *cookie, size_t size) {
  struct evhttp_request *req = request_with(NULL);
  mcs_session *s;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_session_set_str(s, "user", "ada", 3), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_evhttp_add_set_cookies(s, req), MCS_OK);
  const char *sc =
      evhttp_find_header(evhttp_request_get_output_headers(req), "Set-Cookie");
  assert_non_null(sc);
  size_t len = strcspn(sc, ";"); /* name=value, without the attributes */
  assert_true(len < size);
  memcpy(cookie, sc, len);
  cookie[len] = '\0';
  mcs_session_free(s);
  evhttp_request_free(req);
}

static void test_no_cookie_header_gives_a_new_session(void **state) {
  fixture *f = *state;
  struct evhttp_request *req = request_with(NULL);
  mcs_session *s = NULL;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_NEW);
  /* Nothing to store, nothing to send. */
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_evhttp_add_set_cookies(s, req), MCS_OK);
  assert_int_equal(count_headers(req, "Set-Cookie"), 0);
  mcs_session_free(s);
  evhttp_request_free(req);
}

static void test_set_cookie_round_trips_through_the_cookie_header(void **st) {
  fixture *f = *st;
  char cookie[1024];
  make_stored(f, cookie, sizeof cookie);
  assert_true(strncmp(cookie, "session=2|", 10) == 0);
  char header[1100];
  snprintf(header, sizeof header, "theme=dark; %s", cookie);
  struct evhttp_request *req = request_with(header);
  mcs_session *s;
  const char *user;
  size_t len;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_LOADED);
  assert_int_equal(mcs_session_get_str(s, "user", &user, &len), MCS_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(user, "ada", 3);
  mcs_session_free(s);
  evhttp_request_free(req);
}

static void test_first_cookie_header_counts(void **state) {
  fixture *f = *state;
  char cookie[1024];
  make_stored(f, cookie, sizeof cookie);
  struct evhttp_request *req = request_with("session=forged");
  assert_int_equal(evhttp_add_header(evhttp_request_get_input_headers(req),
                                     "cookie", cookie),
                   0);
  mcs_session *s;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_session_outcome(s), MCS_SESSION_FORGED);
  mcs_session_free(s);
  evhttp_request_free(req);
}

static void test_oversized_cookie_header_is_elimit_431(void **state) {
  fixture *f = *state;
  char *big = malloc(MCS_COOKIE_HEADER_MAX + 16);
  assert_non_null(big);
  memcpy(big, "a=", 2);
  memset(big + 2, 'x', MCS_COOKIE_HEADER_MAX + 8);
  big[MCS_COOKIE_HEADER_MAX + 10] = '\0';
  struct evhttp_request *req = request_with(big);
  mcs_session *s = (mcs_session *)1;
  int rc = mcs_evhttp_session_load(f->mgr, req, &s);
  assert_int_equal(rc, MCS_ELIMIT);
  assert_null(s);
  assert_int_equal(mcs_http_status_for_error(rc), 431);
  evhttp_request_free(req);
  free(big);
}

static void test_null_arguments_are_einval(void **state) {
  fixture *f = *state;
  struct evhttp_request *req = request_with(NULL);
  mcs_session *s = (mcs_session *)1;
  assert_int_equal(mcs_evhttp_session_load(NULL, req, &s), MCS_EINVAL);
  assert_null(s);
  s = (mcs_session *)1;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, NULL, &s), MCS_EINVAL);
  assert_null(s);
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, NULL), MCS_EINVAL);
  assert_int_equal(mcs_evhttp_add_set_cookies(NULL, req), MCS_EINVAL);
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_evhttp_add_set_cookies(s, NULL), MCS_EINVAL);
  mcs_session_free(s);
  evhttp_request_free(req);
}

/* The application's own headers stay, in order; ours come after them. */
static void test_set_cookies_are_appended(void **state) {
  fixture *f = *state;
  struct evhttp_request *req = request_with(NULL);
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  assert_int_equal(evhttp_add_header(out, "Set-Cookie", "theme=dark"), 0);
  mcs_session *s;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  assert_int_equal(mcs_evhttp_add_set_cookies(s, req), MCS_OK);
  assert_int_equal(count_headers(req, "Set-Cookie"), 2);
  struct evkeyval *first = TAILQ_FIRST(out);
  assert_string_equal(first->value, "theme=dark");
  assert_string_equal(TAILQ_NEXT(first, next)->value,
                      mcs_session_cookie(s, 0));
  mcs_session_free(s);
  evhttp_request_free(req);
}

/* evhttp refusing a header (it does so only without memory) leaves the
 * output headers as they were. */
static void test_failed_add_leaves_headers_untouched(void **state) {
  fixture *f = *state;
  struct evhttp_request *req = request_with(NULL);
  struct evkeyvalq *out = evhttp_request_get_output_headers(req);
  assert_int_equal(evhttp_add_header(out, "X-App", "1"), 0);
  mcs_session *s;
  assert_int_equal(mcs_evhttp_session_load(f->mgr, req, &s), MCS_OK);
  assert_int_equal(mcs_session_set_int(s, "n", 1), MCS_OK);
  assert_int_equal(mcs_session_save(s), MCS_OK);
  for (long nth = 0; nth < 3; nth++) {
    fail_left = nth; /* header entry, its name, its value */
    assert_int_equal(mcs_evhttp_add_set_cookies(s, req), MCS_ENOMEM);
    fail_left = -1;
    assert_int_equal(count_headers(req, "Set-Cookie"), 0);
    assert_int_equal(count_headers(req, "X-App"), 1);
  }
  assert_int_equal(mcs_evhttp_add_set_cookies(s, req), MCS_OK);
  assert_int_equal(count_headers(req, "Set-Cookie"), 1);
  mcs_session_free(s);
  evhttp_request_free(req);
}

int main(void) {
  /* Before libevent allocates anything. */
  event_set_mem_functions(ev_malloc, ev_realloc, free);
  event_set_log_callback(quiet);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_cookie_header_gives_a_new_session),
      cmocka_unit_test(test_set_cookie_round_trips_through_the_cookie_header),
      cmocka_unit_test(test_first_cookie_header_counts),
      cmocka_unit_test(test_oversized_cookie_header_is_elimit_431),
      cmocka_unit_test(test_null_arguments_are_einval),
      cmocka_unit_test(test_set_cookies_are_appended),
      cmocka_unit_test(test_failed_add_leaves_headers_untouched),
  };
  return cmocka_run_group_tests_name("evhttp_adapter", tests, setup, teardown);
}
