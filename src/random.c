/* The OS CSPRNG through libsodium. sodium_init() is thread-safe and
 * idempotent; we call it before the first use rather than requiring the
 * application to. */
#include <sodium.h>

#include "internal.h"

int mcs__sodium_ready(void) {
  /* 0: initialised now, 1: already initialised, -1: failure. */
  return sodium_init() < 0 ? MCS_EIO : MCS_OK;
}

int mcs_random_bytes(void *out, size_t len) {
  if (!out && len)
    return MCS_EINVAL;
  int rc = mcs__sodium_ready();
  if (rc)
    return rc;
  randombytes_buf(out, len);
  return MCS_OK;
}
