/* Command-line numbers (number.h). */
#include <errno.h>
#include <stdlib.h>

#include "number.h"

int serve_parse_uint(const char *s, unsigned long min, unsigned long max,
                     unsigned long *out) {
  /* strtoul would take a sign or leading spaces, and wraps "-1" */
  if (*s < '0' || *s > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}
