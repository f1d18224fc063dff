/* The allocator hook (process-wide, like libuv's uv_replace_allocator) and
 * the small copy helpers built on it. */
#include <stdlib.h>
#include <string.h>

#include "util/util_int.h"

static struct {
  void *(*malloc_fn)(size_t);
  void *(*realloc_fn)(void *, size_t);
  void *(*calloc_fn)(size_t, size_t);
  void (*free_fn)(void *);
} mcs__allocator = {malloc, realloc, calloc, free};

int mcs_replace_allocator(void *(*malloc_fn)(size_t),
                          void *(*realloc_fn)(void *, size_t),
                          void *(*calloc_fn)(size_t, size_t),
                          void (*free_fn)(void *)) {
  if (!malloc_fn || !realloc_fn || !calloc_fn || !free_fn)
    return MCS_EINVAL;
  mcs__allocator.malloc_fn = malloc_fn;
  mcs__allocator.realloc_fn = realloc_fn;
  mcs__allocator.calloc_fn = calloc_fn;
  mcs__allocator.free_fn = free_fn;
  return MCS_OK;
}

/* malloc(0) may return NULL legitimately; asking for one byte keeps "NULL
 * means out of memory" true everywhere in the library. */
void *mcs__malloc(size_t size) {
  return mcs__allocator.malloc_fn(size ? size : 1);
}

void *mcs__calloc(size_t n, size_t size) {
  if (n == 0 || size == 0)
    n = size = 1;
  return mcs__allocator.calloc_fn(n, size);
}

void *mcs__realloc(void *ptr, size_t size) {
  return mcs__allocator.realloc_fn(ptr, size ? size : 1);
}

void mcs__free(void *ptr) {
  if (ptr)
    mcs__allocator.free_fn(ptr);
}

void mcs_free(void *ptr) { mcs__free(ptr); }

void *mcs__memdup(const void *data, size_t len) {
  void *p = mcs__malloc(len);
  if (p && len)
    memcpy(p, data, len);
  return p;
}

/* Always NUL-terminates; the copy holds exactly `len` bytes before it. */
char *mcs__strndup(const char *s, size_t len) {
  if (len == SIZE_MAX)
    return NULL;
  char *p = mcs__malloc(len + 1);
  if (!p)
    return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *mcs__strdup(const char *s) { return mcs__strndup(s, strlen(s)); }

bool mcs__all_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  uint8_t any = 0;
  for (size_t i = 0; i < n; i++)
    any |= b[i];
  return any == 0;
}
