/* What the signer and key-ring tests (test_signer*.c, test_keyring.c)
 * share: the known-answer vectors Tornado wrote
 * (tests/vectors/signed_values.txt, found through $MCS_VECTORS; main()
 * loads them as the group's setup), key rings, and inputs placed right
 * before an inaccessible page, as picohttpparser's tests do, so any read
 * past the end crashes. */
#ifndef SIGNER_FIXTURE_H
#define SIGNER_FIXTURE_H

#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "session/session_int.h"

#define OUT_MAX MCS_SIGNED_MAX_LEN(MCS_SIGNED_NAME_MAX, MCS_SIGNED_VALUE_MAX)
#define NOW 1700000000
#define DAY 86400

/* ---- Known-answer vectors ---------------------------------------------- */

typedef struct vector {
  unsigned key_version;
  int64_t timestamp;
  uint8_t secret[MCS_SECRET_MAX_BYTES];
  size_t secret_len;
  char name[MCS_SIGNED_NAME_MAX + 1];
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t value_len;
  char signed_value[OUT_MAX];
  size_t signed_len;
} vector;

typedef struct vectors {
  vector *v;
  size_t count;
} vectors;

static inline int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* "-" is the empty string; returns false on bad hex or overflow. */
static inline bool unhex(const char *s, uint8_t *out, size_t cap, size_t *len) {
  size_t n = strlen(s);
  if (strcmp(s, "-") == 0)
    n = 0;
  if (n % 2 || n / 2 > cap)
    return false;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hexval(s[i]), lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return true;
}

static inline bool parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0)
    return false;
  *out = v;
  return true;
}

static inline bool copy_str(const char *s, char *out, size_t cap, size_t *len) {
  size_t n = strlen(s);
  if (n >= cap)
    return false;
  memcpy(out, s, n + 1);
  if (len)
    *len = n;
  return true;
}

/* key_version timestamp secret_hex name value_hex signed_value */
static inline bool parse_vector(char *line, vector *v) {
  char *tok[6], *save = NULL;
  line[strcspn(line, "\n")] = '\0';
  for (int i = 0; i < 6; i++)
    if (!(tok[i] = strtok_r(i ? NULL : line, " ", &save)))
      return false;
  int64_t kv;
  if (strtok_r(NULL, " ", &save) || !parse_i64(tok[0], &kv) ||
      kv > MCS_KEY_VERSION_MAX)
    return false;
  v->key_version = (unsigned)kv;
  return parse_i64(tok[1], &v->timestamp) &&
         unhex(tok[2], v->secret, sizeof v->secret, &v->secret_len) &&
         copy_str(tok[3], v->name, sizeof v->name, NULL) &&
         unhex(tok[4], v->value, sizeof v->value, &v->value_len) &&
         copy_str(tok[5], v->signed_value, sizeof v->signed_value,
                  &v->signed_len);
}

static inline FILE *open_vectors(void) {
  const char *dir = getenv("MCS_VECTORS");
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/signed_values.txt",
                   dir ? dir : "tests/vectors");
  if (n < 0 || (size_t)n >= sizeof path)
    return NULL;
  FILE *f = fopen(path, "r");
  if (!f)
    fprintf(stderr, "cannot open %s (set MCS_VECTORS)\n", path);
  return f;
}

static inline int load_vectors(void **state) {
  static vectors vs;
  FILE *f = open_vectors();
  if (!f)
    return -1;
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;
  while (rc == 0 && getline(&line, &cap, f) > 0) {
    if (line[0] == '#')
      continue;
    vector *grown = realloc(vs.v, (vs.count + 1) * sizeof *vs.v);
    if (!grown || !parse_vector(line, &grown[vs.count]))
      rc = -1;
    if (grown)
      vs.v = grown;
    vs.count += rc == 0;
  }
  free(line);
  fclose(f);
  *state = &vs;
  return rc == 0 && vs.count >= 40 ? 0 : -1;
}

static inline int free_vectors(void **state) {
  vectors *vs = *state;
  free(vs->v);
  vs->v = NULL;
  vs->count = 0;
  return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static const char SECRET[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN (sizeof SECRET - 1)

static inline mcs_keyring *ring_with(unsigned version, const void *secret,
                                     size_t len) {
  mcs_keyring *ring = NULL;
  assert_int_equal(mcs_keyring_new(&ring), MCS_OK);
  assert_int_equal(mcs_keyring_add(ring, version, secret, len), MCS_OK);
  return ring;
}

static inline mcs_keyring *ring_for(const vector *v) {
  return ring_with(v->key_version, v->secret, v->secret_len);
}

/* An input buffer whose last byte sits right before a PROT_NONE page. */
typedef struct guarded {
  uint8_t *map;
  size_t map_len;
  char *data;
} guarded;

static inline guarded guard_copy(const void *data, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t body = (len + page - 1) / page * page;
  guarded g = {NULL, body + page, NULL};
  void *m = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(m != MAP_FAILED);
  g.map = m;
  assert_int_equal(mprotect(g.map + body, page, PROT_NONE), 0);
  g.data = (char *)g.map + body - len;
  if (len)
    memcpy(g.data, data, len);
  return g;
}

static inline void guard_free(guarded *g) { munmap(g->map, g->map_len); }

/* mcs_verify on a guarded copy of in[0..len). */
static inline int verify_guarded(const mcs_keyring *ring, const char *name,
                                 const void *in, size_t len, int64_t now,
                                 int64_t max_age) {
  uint8_t value[MCS_SIGNED_VALUE_MAX];
  size_t value_len = 0;
  guarded g = guard_copy(in, len);
  int rc = mcs_verify(ring, name, g.data, len, now, max_age, value,
                      sizeof value, &value_len);
  guard_free(&g);
  return rc;
}

/* prefix + the lowercase hex HMAC of prefix: a value with a valid
 * signature whatever its structure, so a rejection can only come from the
 * structural rule under test. Returns the total length. */
static inline size_t sign_raw(const void *secret, size_t secret_len,
                              const char *prefix, size_t plen, char *out) {
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, secret, secret_len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, plen);
  crypto_auth_hmacsha256_final(&st, mac);
  memcpy(out, prefix, plen);
  sodium_bin2hex(out + plen, 65, mac, sizeof mac);
  return plen + 64;
}

/* Signs with SECRET as version 0 under name "session" at NOW. */
static inline size_t sign_simple(const char *value, char *out) {
  mcs_keyring *ring = ring_with(0, SECRET, SECRET_LEN);
  size_t n = 0;
  assert_int_equal(
      mcs_sign(ring, 0, "session", value, strlen(value), NOW, out, OUT_MAX, &n),
      MCS_OK);
  mcs_keyring_free(ring);
  return n;
}

#endif /* SIGNER_FIXTURE_H */
