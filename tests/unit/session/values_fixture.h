/* The fixture of the session-value tests (test_values*.c, test_changes.c):
 * a fresh NEW session per test from a manager over a spied memory store
 * (test_util.h), and checks of what a session holds. */
#ifndef VALUES_FIXTURE_H
#define VALUES_FIXTURE_H

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session/session_int.h"
#include "test_util.h"

/* ---- Fixture: a fresh NEW session per test ------------------------------- */

typedef struct ctx {
  fixture *f;
  mcs_session *s;
  char header[2048]; /* Cookie header naming the saved session */
} ctx;

static inline int setup_with(void **state, void (*edit)(mcs_manager_config *)) {
  ctx *c = calloc(1, sizeof *c);
  if (!c)
    return -1;
  c->f = fixture_new(edit);
  c->s = load(c->f, NULL);
  *state = c;
  return 0;
}

static inline int setup(void **state) { return setup_with(state, NULL); }

static inline void small_limit(mcs_manager_config *cfg) {
  cfg->max_data_bytes = 1024;
}

static inline int setup_small(void **state) {
  return setup_with(state, small_limit);
}

static inline int teardown(void **state) {
  ctx *c = *state;
  mcs_session_free(c->s);
  fixture_free(c->f);
  free(c);
  return 0;
}

#define CTX ((ctx *)*state)
#define S (CTX->s)

/* Saves c->s, frees it, and loads the session again through its cookie
 * (the one this save sent, or the one it was loaded with: a loaded
 * session's save sends none). */
static inline void save_and_reload(ctx *c) {
  assert_int_equal(mcs_session_save(c->s), MCS_OK);
  if (mcs_session_cookie_count(c->s) > 0)
    cookie_header_from(c->s, c->header, sizeof c->header);
  assert_true(c->header[0] != '\0');
  mcs_session_free(c->s);
  c->s = load(c->f, c->header);
  assert_int_equal(mcs_session_outcome(c->s), MCS_SESSION_LOADED);
}

static inline void expect_type(const mcs_session *s, const char *key,
                               mcs_type t) {
  mcs_type got = (mcs_type)-1;
  assert_int_equal(mcs_session_type(s, key, &got), MCS_OK);
  assert_int_equal(got, t);
}

/* get_json must give exactly `want`, NUL-terminated, with its length. */
static inline void expect_json(const mcs_session *s, const char *key,
                               const char *want, size_t want_len) {
  char *json = NULL;
  size_t len = 0;
  assert_int_equal(mcs_session_get_json(s, key, &json, &len), MCS_OK);
  assert_non_null(json);
  assert_int_equal(len, want_len);
  assert_memory_equal(json, want, want_len);
  assert_int_equal(json[len], '\0');
  mcs_free(json);
}
#define EXPECT_JSON(s, key, lit) expect_json((s), (key), (lit), sizeof(lit) - 1)

static inline int set_json(mcs_session *s, const char *key, const char *json) {
  return mcs_session_set_json(s, key, json, strlen(json));
}

static inline char *nested(const char *open, const char *leaf,
                           const char *close, int depth) {
  size_t n = (strlen(open) + strlen(close)) * (size_t)depth + strlen(leaf) + 1;
  char *out = malloc(n);
  assert_non_null(out);
  out[0] = '\0';
  for (int i = 0; i < depth; i++)
    strcat(out, open);
  strcat(out, leaf);
  for (int i = 0; i < depth; i++)
    strcat(out, close);
  return out;
}

#endif /* VALUES_FIXTURE_H */
