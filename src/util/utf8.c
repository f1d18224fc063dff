/* Well-formed UTF-8, checked without allocating: what every text the
 * library accepts (session keys and strings, user ids) must be. */
#include "util/util_int.h"

/* Well-formed UTF-8 (RFC 3629 section 4): no overlong forms, no
 * surrogates, nothing above U+10FFFF. Checked here rather than left to
 * jansson, whose constructors answer NULL both for bad UTF-8 and for no
 * memory. */
bool mcs__utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
                 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4
                 : 0;
    if (len == 0 || n - i < len)
      return false;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
    if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
        (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
      return false; /* overlong, surrogate, or beyond U+10FFFF */
    i += len;
  }
  return true;
}
