/* A manager's clock: the configured one (tests move it by hand) or the
 * system's, in Unix seconds. */
#include <time.h>

#include "util/util_int.h"

int64_t mcs__clock_now(const mcs__clock *c) {
  if (c && c->fn)
    return c->fn(c->ud);
  return (int64_t)time(NULL);
}
