/*
 * Big integers for the pickle codec: the two's-complement little-endian
 * bytes of LONG1/LONG4 (pickletools: long1, long4) to decimal text and
 * back, exactly, for up to 4300 digits (CPython's default int <-> str
 * limit, and the limit of the {"$int": "<digits>"} form). Schoolbook
 * arithmetic on 32-bit limbs: at this size, simple beats clever.
 */
#include <stdbool.h>
#include <string.h>

#include "codec/pickle/pickle_int.h"

#define LONG_LIMBS_MAX MCS__PICKLE_LONG_LIMBS

size_t mcs__pickle_long_trim(const uint8_t *s, size_t n) {
  while (n > 1 && ((s[n - 1] == 0x00 && !(s[n - 2] & 0x80)) ||
                   (s[n - 1] == 0xff && (s[n - 2] & 0x80))))
    n--;
  return n;
}

/* Decimal text of the magnitude in limbs[0..n) (little-endian base 2^32,
 * destroyed), written backwards ending at `end`; returns the start. */
static char *limbs_to_text(uint32_t *limbs, size_t n, char *end) {
  char *p = end;
  while (n > 0) {
    uint64_t rem = 0;
    for (size_t i = n; i-- > 0;) {
      uint64_t cur = rem << 32 | limbs[i];
      limbs[i] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
    }
    while (n > 0 && limbs[n - 1] == 0)
      n--;
    for (int k = 0; k < 9 && (n > 0 || rem > 0); k++) {
      *--p = (char)('0' + rem % 10);
      rem /= 10;
    }
  }
  return p;
}

size_t mcs__pickle_long_text(const uint8_t *s, size_t n, char *text) {
  uint32_t limbs[LONG_LIMBS_MAX] = {0};
  bool neg = s[n - 1] & 0x80;
  unsigned carry = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned b = s[i];
    if (neg) { /* magnitude = ~x + 1 */
      b = (~b & 0xffu) + carry;
      carry = b >> 8;
      b &= 0xffu;
    }
    limbs[i / 4] |= (uint32_t)b << (8 * (i % 4));
  }
  char *end = text + MCS__PICKLE_LONG_TEXT_MAX;
  char *p = limbs_to_text(limbs, (n + 3) / 4, end);
  if (neg)
    *--p = '-';
  size_t len = (size_t)(end - p);
  memmove(text, p, len);
  return len;
}

/* Decimal digits (no sign, no leading zero, at most 4300) into
 * little-endian 32-bit limbs; returns how many limbs. */
static size_t digits_to_limbs(const char *s, size_t n, uint32_t *limbs) {
  size_t count = 0;
  for (size_t i = 0; i < n;) {
    uint32_t chunk = 0, scale = 1;
    for (size_t k = 0; k < 9 && i < n; k++, i++) {
      chunk = chunk * 10 + (uint32_t)(s[i] - '0');
      scale *= 10;
    }
    uint64_t carry = chunk; /* limbs = limbs * scale + chunk */
    for (size_t j = 0; j < count; j++) {
      uint64_t cur = (uint64_t)limbs[j] * scale + carry;
      limbs[j] = (uint32_t)cur;
      carry = cur >> 32;
    }
    if (carry)
      limbs[count++] = (uint32_t)carry;
  }
  return count;
}

size_t mcs__pickle_long_bytes(const char *s, size_t n, uint8_t *x) {
  bool neg = n > 0 && s[0] == '-';
  uint32_t limbs[LONG_LIMBS_MAX] = {0};
  size_t count = digits_to_limbs(s + neg, n - neg, limbs);
  size_t len = count * 4 + 1; /* one more byte: room for the sign */
  unsigned carry = 1;
  for (size_t i = 0; i < len; i++) {
    unsigned b = i / 4 < count ? (limbs[i / 4] >> (8 * (i % 4))) & 0xffu : 0;
    if (neg) { /* two's complement: ~b + 1 */
      b = (~b & 0xffu) + carry;
      carry = b >> 8;
    }
    x[i] = (uint8_t)b;
  }
  return len;
}
