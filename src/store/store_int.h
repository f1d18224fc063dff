/*
 * The store wing: the store interface every backend implements (store.c
 * wraps a table of operations and checks arguments once), the memory store
 * (memory/) and the memcached store (memcached/). A store's blocking and
 * non-blocking sides are one table (include/mcsession/store.h, where the
 * contract is): nothing above this wing knows which store it talks to.
 *
 * May use: util. Knows nothing of sessions, cookies or records: a store
 * moves opaque bytes under keys. (docs/design.md, "The store contract")
 */
#ifndef MCS_STORE_INT_H
#define MCS_STORE_INT_H

#include "util/util_int.h"

/* What a store's get writes into (see mcs_store_value_set). */
struct mcs_store_value {
  mcs__buf buf;
  size_t max_len;
};

struct mcs_store {
  mcs_store_ops ops;
  void *ud;
  /* Which of the library's own stores this is (the address of a private
   * object of its file), NULL for a store made by mcs_store_new. Only the
   * library's constructors set it, so a cast of ud guarded by it is safe
   * whatever a user's table says about itself (its kind is just a name,
   * and copying a built-in store's table copies no identity). */
  const void *own;
};

/* True when `key` can go to a store: 1..MCS_STORE_KEY_MAX bytes, none of
 * them a space, a control byte or DEL. */
bool mcs__store_key_valid(const char *key, size_t len);
/* Reads `key` without touching it: the store's peek, or its get with
 * touch_ttl 0 (and *ttl MCS_STORE_TTL_UNKNOWN) when it has none. The
 * arguments are the caller's to check (mcs_store_peek does). */
int mcs__store_peek(mcs_store *store, const char *key, size_t key_len,
                    mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                    int64_t *ttl, mcs_store_result *result);

/* mcs_store_new for the library's own stores: `own` is their identity
 * (see struct mcs_store). */
int mcs__store_new_own(mcs_store **out, const mcs_store_ops *ops, void *ud,
                       const void *own);
/* The store's ud when it was made with identity `own`, else NULL. */
static inline void *mcs__store_own_ud(const mcs_store *store, const void *own) {
  return store && store->own == own ? store->ud : NULL;
}

/* True when the store has the non-blocking side (attach ... event). */
static inline bool mcs__store_has_engine(const mcs_store *store) {
  return store->ops.attach != NULL;
}

/* Runs op with the store's blocking operations (for a helper thread),
 * filling its result; does not call op->done. */
void mcs__store_op_run(mcs_store *store, mcs_store_op *op);

/* ---- What the store URLs share (store_url.c) ---- */
/* Longest host in a URL, brackets of IPv6 excluded (MCS_MEMCACHED_HOST_MAX,
 * MCS_REDIS_HOST_MAX). */
#define MCS__URL_HOST_MAX 255
/* Writes a one-line reason to err (may be NULL; NUL-terminated, cut to
 * err_size) and returns MCS_EINVAL. */
int mcs__url_fail(char *err, size_t err_size, const char *fmt, ...)
    MCS__PRINTF(3, 4);
/* Decimal digits only (no sign, no spaces), at most `max`. */
bool mcs__url_uint(const char *s, size_t n, unsigned max, unsigned *out);
/* A name, an IPv4 address or an IPv6 address (without brackets). */
bool mcs__url_host_valid(const char *h, size_t n);
/* Parses one "host[:port]" or "[v6][:port]" entry of a server list into
 * host (NUL-terminated, an IPv6 literal without brackets, its "%25" zone
 * separator as '%') and *port (default_port when none is given). */
int mcs__url_server(const char *s, size_t n, uint16_t default_port,
                    char host[MCS__URL_HOST_MAX + 1], uint16_t *port,
                    char *err, size_t err_size);
/* The same server: same port, host names equal regardless of case. */
bool mcs__url_same_server(const char *h1, uint16_t p1, const char *h2,
                          uint16_t p2);
/* %XX-decodes a parameter's value into dst (max bytes + NUL); `name` is
 * for the reason. No NUL byte ever; with key_chars also no space, control
 * byte or DEL (a key prefix). *out_len (may be NULL) gets the length. */
int mcs__url_unescape(const char *name, const char *v, size_t n, char *dst,
                      size_t max, bool key_chars, size_t *out_len, char *err,
                      size_t err_size);
/* At most max bytes, printable ASCII only, no fragment, no user info. */
int mcs__url_check_chars(const char *url, size_t len, size_t max, char *err,
                         size_t err_size);

#endif /* MCS_STORE_INT_H */
