/*
 * The cookie wing: Cookie header parsing (RFC 6265 section 5.4, with the
 * browser-compatible leniencies cookie_parse.c lists) and Set-Cookie
 * formatting with attribute checks (cookie_format.c). Both are public API
 * (mcsession/cookie.h); this header exists so the wing has a door like
 * the others, and holds nothing yet.
 *
 * May use: util. Knows nothing of signing, sessions or stores.
 * (docs/design.md, "Wings")
 */
#ifndef MCS_COOKIE_INT_H
#define MCS_COOKIE_INT_H

#include "util/util_int.h"

#endif /* MCS_COOKIE_INT_H */
