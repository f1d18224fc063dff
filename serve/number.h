/* Numbers on a server program's command line (the demo's and the gate's
 * flags read them alike). */
#ifndef SERVE_NUMBER_H
#define SERVE_NUMBER_H

/* Parses a decimal in [min, max] into *out: digits only (no sign, no
 * spaces, no trailing bytes). Returns 0, or -1 leaving *out alone. */
int serve_parse_uint(const char *s, unsigned long min, unsigned long max,
                     unsigned long *out);

#endif
