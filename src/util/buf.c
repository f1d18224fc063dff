/* A growable byte buffer for encoders. Grows geometrically; every size
 * computation is checked for overflow. */
#include <string.h>

#include "util/util_int.h"

int mcs__buf_reserve(mcs__buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len)
    return MCS_ENOMEM;
  size_t need = b->len + extra;
  if (need <= b->cap)
    return MCS_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = mcs__realloc(b->data, cap);
  if (!p)
    return MCS_ENOMEM;
  b->data = p;
  b->cap = cap;
  return MCS_OK;
}

int mcs__buf_append(mcs__buf *b, const void *data, size_t len) {
  int rc = mcs__buf_reserve(b, len);
  if (rc)
    return rc;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  return MCS_OK;
}

int mcs__buf_append_str(mcs__buf *b, const char *s) {
  return mcs__buf_append(b, s, strlen(s));
}

void mcs__buf_reset(mcs__buf *b) { b->len = 0; }

void mcs__buf_free(mcs__buf *b) {
  mcs__free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
