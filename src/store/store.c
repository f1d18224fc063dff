/* The store wrapper: a table of operations plus user data. Checks arguments
 * once here so every store implementation can rely on them. */
#include <stddef.h>
#include <string.h>

#include "store/store_int.h"

bool mcs__store_key_valid(const char *key, size_t len) {
  if (!key || len == 0 || len > MCS_STORE_KEY_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c <= 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

int mcs_store_value_set(mcs_store_value *dst, const void *data, size_t len) {
  if (!dst || (!data && len))
    return MCS_EINVAL;
  if (dst->max_len && len > dst->max_len)
    return MCS_ETOOBIG;
  mcs__buf_reset(&dst->buf);
  return mcs__buf_append(&dst->buf, data, len);
}

/* What a table of each known version holds: version 1 ended at destroy
 * (a v1 table is that prefix of today's, so the rest reads as absent;
 * members are only ever added after destroy). */
static size_t ops_size(unsigned version) {
  switch (version) {
  case 1:
    return offsetof(mcs_store_ops, destroy) + sizeof(void (*)(void *));
  case MCS_STORE_OPS_VERSION:
    return sizeof(mcs_store_ops);
  default:
    return 0;
  }
}

#define KNOWN_CAPS (MCS_STORE_CAP_NONBLOCKING | MCS_STORE_CAP_ATOMIC_GET_TOUCH)

/* The non-blocking side is all six members or none: a loop must never
 * find half an engine. */
static bool engine_whole(const mcs_store_ops *o) {
  int n = !!o->attach + !!o->detach + !!o->submit + !!o->flush + !!o->timeout +
          !!o->event;
  return n == 0 || n == 6;
}

int mcs__store_new_own(mcs_store **out, const mcs_store_ops *ops, void *ud,
                       const void *own) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  size_t size = ops ? ops_size(ops->version) : 0;
  if (!size)
    return MCS_EINVAL;
  mcs_store_ops o;
  memset(&o, 0, sizeof o);
  memcpy(&o, ops, size);
  if (!o.get || !o.add || !o.cas || !o.set || !o.del || !o.touch ||
      (o.caps & ~KNOWN_CAPS) || !engine_whole(&o))
    return MCS_EINVAL;
  o.version = MCS_STORE_OPS_VERSION;
  mcs_store *s = mcs__calloc(1, sizeof *s);
  if (!s)
    return MCS_ENOMEM;
  s->ops = o;
  s->ud = ud;
  s->own = own;
  *out = s;
  return MCS_OK;
}

int mcs_store_new(mcs_store **out, const mcs_store_ops *ops, void *ud) {
  return mcs__store_new_own(out, ops, ud, NULL);
}

const char *mcs_store_kind(const mcs_store *store) {
  if (!store)
    return NULL;
  return store->ops.kind ? store->ops.kind : "custom";
}

unsigned mcs_store_caps(const mcs_store *store) {
  return store ? store->ops.caps : 0;
}

const char *mcs_store_key_prefix(const mcs_store *store) {
  return store && store->ops.key_prefix ? store->ops.key_prefix(store->ud)
                                        : NULL;
}

void mcs_store_free(mcs_store *store) {
  if (!store)
    return;
  if (store->ops.destroy)
    store->ops.destroy(store->ud);
  mcs__free(store);
}

#define MCS__CHECK_KEY(store, key, len, result)                              \
  do {                                                                       \
    if (!(store) || !(result))                                               \
      return MCS_EINVAL;                                                     \
    if (!mcs__store_key_valid((key), (len)))                                 \
      return MCS_EINVAL;                                                     \
  } while (0)


int mcs_store_add(mcs_store *store, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  uint64_t *cas, mcs_store_result *result) {
  MCS__CHECK_KEY(store, key, key_len, result);
  if ((!data && len) || ttl == 0)
    return MCS_EINVAL;
  return store->ops.add(store->ud, key, key_len, data, len, flags, ttl, cas,
                        result);
}

int mcs_store_cas(mcs_store *store, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  uint64_t cas, uint64_t *new_cas, mcs_store_result *result) {
  MCS__CHECK_KEY(store, key, key_len, result);
  if ((!data && len) || ttl == 0 || cas == 0)
    return MCS_EINVAL;
  return store->ops.cas(store->ud, key, key_len, data, len, flags, ttl, cas,
                        new_cas, result);
}

int mcs_store_set(mcs_store *store, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  mcs_store_result *result) {
  MCS__CHECK_KEY(store, key, key_len, result);
  if ((!data && len) || ttl == 0)
    return MCS_EINVAL;
  return store->ops.set(store->ud, key, key_len, data, len, flags, ttl,
                        result);
}

int mcs_store_delete(mcs_store *store, const char *key, size_t key_len,
                     mcs_store_result *result) {
  MCS__CHECK_KEY(store, key, key_len, result);
  return store->ops.del(store->ud, key, key_len, result);
}

int mcs_store_touch(mcs_store *store, const char *key, size_t key_len,
                    uint32_t ttl, mcs_store_result *result) {
  MCS__CHECK_KEY(store, key, key_len, result);
  if (ttl == 0)
    return MCS_EINVAL;
  return store->ops.touch(store->ud, key, key_len, ttl, result);
}

int mcs__store_peek(mcs_store *store, const char *key, size_t key_len,
                    mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                    int64_t *ttl, mcs_store_result *result) {
  if (store->ops.peek)
    return store->ops.peek(store->ud, key, key_len, value, cas, flags, ttl,
                           result);
  *ttl = MCS_STORE_TTL_UNKNOWN;
  return store->ops.get(store->ud, key, key_len, 0, value, cas, flags, result);
}

/* The public reads: one read (a peek when `peek`, else a get that slides
 * by touch_ttl) into a buffer handed to the caller. */
static int read_out(mcs_store *store, const char *key, size_t key_len,
                    bool peek, uint32_t touch_ttl, size_t max_len, void **data,
                    size_t *len, uint64_t *cas, uint32_t *flags, int64_t *ttl,
                    mcs_store_result *result) {
  MCS__CHECK_KEY(store, key, key_len, result);
  if (!data || !len)
    return MCS_EINVAL;
  *data = NULL;
  *len = 0;
  mcs_store_value v = {MCS__BUF_INIT, max_len};
  uint64_t c = 0;
  uint32_t f = 0;
  int64_t t = MCS_STORE_TTL_UNKNOWN;
  int rc = peek ? mcs__store_peek(store, key, key_len, &v, &c, &f, &t, result)
                : store->ops.get(store->ud, key, key_len, touch_ttl, &v, &c,
                                 &f, result);
  if (rc == MCS_OK && *result == MCS_STORE_HIT) {
    /* Hand over the buffer; an empty value still gets a valid pointer. */
    if (!v.buf.data && !(v.buf.data = mcs__malloc(1)))
      return MCS_ENOMEM;
    *data = v.buf.data;
    *len = v.buf.len;
    if (cas)
      *cas = c;
    if (flags)
      *flags = f;
    if (ttl)
      *ttl = t;
    return MCS_OK;
  }
  mcs__buf_free(&v.buf);
  return rc;
}

int mcs_store_get(mcs_store *store, const char *key, size_t key_len,
                  uint32_t touch_ttl, size_t max_len, void **data,
                  size_t *len, uint64_t *cas, uint32_t *flags,
                  mcs_store_result *result) {
  return read_out(store, key, key_len, false, touch_ttl, max_len, data, len,
                  cas, flags, NULL, result);
}

int mcs_store_peek(mcs_store *store, const char *key, size_t key_len,
                   size_t max_len, void **data, size_t *len, uint64_t *cas,
                   uint32_t *flags, int64_t *ttl, mcs_store_result *result) {
  return read_out(store, key, key_len, true, 0, max_len, data, len, cas, flags,
                  ttl, result);
}

void mcs__store_op_run(mcs_store *store, mcs_store_op *op) {
  void *ud = store->ud;
  const mcs_store_ops *o = &store->ops;
  op->result = MCS_STORE_MISS;
  op->out_cas = 0;
  switch (op->kind) {
  case MCS_STORE_OP_GET:
    op->rc = o->get(ud, op->key, op->key_len, op->ttl, op->value,
                    &op->out_cas, &op->out_flags, &op->result);
    break;
  case MCS_STORE_OP_ADD:
    op->rc = o->add(ud, op->key, op->key_len, op->data, op->len, op->flags,
                    op->ttl, &op->out_cas, &op->result);
    break;
  case MCS_STORE_OP_CAS:
    op->rc = o->cas(ud, op->key, op->key_len, op->data, op->len, op->flags,
                    op->ttl, op->cas, &op->out_cas, &op->result);
    break;
  case MCS_STORE_OP_SET:
    op->rc = o->set(ud, op->key, op->key_len, op->data, op->len, op->flags,
                    op->ttl, &op->result);
    break;
  case MCS_STORE_OP_DELETE:
    op->rc = o->del(ud, op->key, op->key_len, &op->result);
    break;
  case MCS_STORE_OP_TOUCH:
    op->rc = o->touch(ud, op->key, op->key_len, op->ttl, &op->result);
    break;
  default:
    op->rc = MCS_EINVAL;
  }
}
