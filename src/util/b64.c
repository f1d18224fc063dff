/* Base64 in the two alphabets mcsession needs, over libsodium's
 * constant-time codec: the standard padded one (Tornado signed values,
 * bytes in JSON) and the URL-safe unpadded one (ids, store keys, tokens). */
#include <sodium.h>

#include "util/util_int.h"

size_t mcs__b64_len(size_t n) {
  return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) - 1;
}

size_t mcs__b64_encode(const void *in, size_t n, char *out) {
  size_t cap = mcs__b64_len(n) + 1;
  sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
  return cap - 1;
}

size_t mcs__b64url_len(size_t n) {
  return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

size_t mcs__b64url_encode(const void *in, size_t n, char *out) {
  size_t cap = mcs__b64url_len(n) + 1;
  sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return cap - 1;
}

bool mcs__b64url_chars_ok(const char *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  }
  return true;
}

/* libsodium 1.0.18 reads its input as signed char, so bytes >= 0x80 can
 * pass for alphabet characters ("AA\xff=" decodes); we check the shape
 * ourselves first: whole 4-character groups of the standard alphabet, '='
 * only as one or two final pad bytes. */
bool mcs__b64_shape_ok(const char *in, size_t n) {
  if (n % 4 != 0)
    return false;
  size_t i = 0;
  for (; i < n; i++) {
    char c = in[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
      break;
  }
  size_t pad = n - i;
  if (pad > 2)
    return false;
  for (; i < n; i++)
    if (in[i] != '=')
      return false;
  return true;
}

/* libsodium rejects bad padding and (since 1.0.17) non-zero trailing bits;
 * it stops at the first byte it cannot decode, so we demand that it
 * consumed everything. */
int mcs__b64_decode(const char *in, size_t n, void *out, size_t out_size,
                    size_t *out_len) {
  if (!mcs__b64_shape_ok(in, n))
    return MCS_EINVAL;
  size_t max = n / 4 * 3;
  if (max > out_size) {
    /* Padding can make the real length shorter than max; only the real
     * length has to fit. */
    size_t pad = (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
    if (max - pad > out_size)
      return MCS_ELIMIT;
  }
  const char *end = NULL;
  size_t len = 0;
  if (sodium_base642bin(out, out_size, in, n, NULL, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return MCS_EINVAL;
  if (end != in + n)
    return MCS_EINVAL;
  *out_len = len;
  return MCS_OK;
}
