/* UTF-8 characters: see text.h. */
#include "text.h"

bool text_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp) {
  unsigned char b = s[*i];
  size_t extra = b < 0x80                ? 0
                 : b >= 0xc2 && b < 0xe0 ? 1
                 : b >= 0xe0 && b < 0xf0 ? 2
                 : b >= 0xf0 && b < 0xf5 ? 3
                                         : 4;
  if (extra == 4 || n - *i <= extra)
    return false;
  static const uint32_t first_mask[] = {0x7f, 0x1f, 0x0f, 0x07};
  static const uint32_t least[] = {0, 0x80, 0x800, 0x10000};
  uint32_t v = b & first_mask[extra];
  for (size_t k = 1; k <= extra; k++) {
    unsigned char c = s[*i + k];
    if ((c & 0xc0) != 0x80)
      return false;
    v = v << 6 | (c & 0x3f);
  }
  if (v < least[extra] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return false;
  *i += extra + 1;
  *cp = v;
  return true;
}

bool text_is_control(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

bool text_is_bidi_control(uint32_t cp) {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}
