/* What every libFuzzer target here shares: the entry point's prototype
 * (the targets build with -Wmissing-prototypes) and CHECK, an invariant
 * that aborts (so libFuzzer saves the input) when it does not hold. */
#ifndef MCS_FUZZ_CHECK_H
#define MCS_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      abort();                                                                 \
  } while (0)

#endif
