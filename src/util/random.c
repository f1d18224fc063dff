/* The OS CSPRNG through libsodium. sodium_init() is thread-safe and
 * idempotent; we call it before the first use rather than requiring the
 * application to.
 *
 * Small draws (a CSRF token's mask and a session id are 32 bytes; one of
 * each per page at most) come from a per-thread buffer that one OS call
 * (getrandom) fills with POOL_BYTES: on a server answering tens of
 * thousands of pages a second, a system call per page is a measurable
 * share of the CPU. The buffer holds OS randomness only (no generator of
 * our own), each byte is handed out once and wiped as it is, and a forked
 * child empties the buffer it inherited (pthread_atfork), so parent and
 * child never hand out the same bytes. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "util/util_int.h"

/* 4 KiB: one getrandom per ~64 pages (a page draws a CSRF mask, and a new
 * session an id); at 512 bytes the refills were ~1 % of a page's CPU. */
#define POOL_BYTES 4096
/* Draws larger than this go to the OS directly. */
#define SMALL_MAX 64

static atomic_bool sodium_ok;

int mcs__sodium_ready(void) {
  /* sodium_init takes a global lock on every call: skip it once done. */
  if (atomic_load_explicit(&sodium_ok, memory_order_acquire))
    return MCS_OK;
  /* 0: initialised now, 1: already initialised, -1: failure. */
  if (sodium_init() < 0)
    return MCS_EIO;
  atomic_store_explicit(&sodium_ok, true, memory_order_release);
  return MCS_OK;
}

static _Thread_local struct {
  uint8_t buf[POOL_BYTES];
  size_t left; /* buf[0..left) not handed out yet */
} pool;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static bool atfork_ok; /* written once, under atfork_once */

/* In a forked child (only the forking thread survives): what the parent
 * may still hand out must not be handed out here too. */
static void forget_pool(void) {
  sodium_memzero(pool.buf, sizeof pool.buf);
  pool.left = 0;
}

static void register_atfork(void) {
  atfork_ok = pthread_atfork(NULL, NULL, forget_pool) == 0;
}

static void draw_small(uint8_t *out, size_t len) {
  pthread_once(&atfork_once, register_atfork);
  if (!atfork_ok) { /* no way to hear of a fork: no buffer */
    randombytes_buf(out, len);
    return;
  }
  if (pool.left < len) {
    randombytes_buf(pool.buf, sizeof pool.buf);
    pool.left = sizeof pool.buf;
  }
  pool.left -= len;
  memcpy(out, pool.buf + pool.left, len);
  sodium_memzero(pool.buf + pool.left, len);
}

int mcs_random_bytes(void *out, size_t len) {
  if (!out && len)
    return MCS_EINVAL;
  int rc = mcs__sodium_ready();
  if (rc)
    return rc;
  if (len > SMALL_MAX)
    randombytes_buf(out, len);
  else if (len > 0)
    draw_small(out, len);
  return MCS_OK;
}
