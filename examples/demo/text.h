/* Characters of UTF-8 text, for what the demo shows people: user names
 * (name.c) and device labels (device.c). */
#ifndef DEMO_TEXT_H
#define DEMO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the UTF-8 sequence at s[*i..n) into *cp and advances *i.
 * False (*i unchanged) for anything not well formed (RFC 3629): stray
 * continuation bytes, truncated sequences, overlong forms, surrogates,
 * values beyond U+10FFFF. *i < n. */
bool text_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp);

/* C0 and C1 control characters and DEL (tabs, line breaks, ...). */
bool text_is_control(uint32_t cp);

/* Bidirectional embedding, override and isolate controls (U+202A..U+202E,
 * U+2066..U+2069), which can make text read as something it is not. */
bool text_is_bidi_control(uint32_t cp);

#endif
