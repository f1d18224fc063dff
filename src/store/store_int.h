/*
 * The store wing: the store interface every backend implements (store.c
 * wraps a table of operations and checks arguments once), the memory store
 * (memory/), the memcached store (memcached/), and one store operation as
 * an event loop runs it (mcs__aop).
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
/* True when `store` is the memory store (memory/memory_store.c). */
bool mcs__store_is_memory(const mcs_store *store);

typedef enum mcs__op_kind {
  MCS__OP_GET = 1, /* read; slides the expiry to `ttl` when ttl > 0 */
  MCS__OP_ADD,
  MCS__OP_CAS,
  MCS__OP_SET,
  MCS__OP_DEL,
  MCS__OP_TOUCH
} mcs__op_kind;

/* One store operation, with the contracts of the mcs_store_ops member of
 * the same name. The request fields are BORROWED until `done` runs; the
 * submitter owns the struct and must not touch it meanwhile. */
typedef struct mcs__aop mcs__aop;
struct mcs__aop {
  /* Request. */
  mcs__op_kind kind;
  const char *key;
  size_t key_len;
  const void *data; /* ADD, CAS, SET */
  size_t len;
  uint32_t flags; /* ADD, CAS, SET: client flags */
  uint32_t ttl;   /* seconds; GET: 0 means "do not slide" */
  uint64_t cas;   /* CAS: the token to compare */
  mcs_store_value *value; /* GET: where a hit's value goes (its max_len
                             bounds the read); NULL drops it */
  /* Result, valid when `done` runs. rc is MCS_OK when the store answered,
   * and then `result` says what it answered. */
  int rc;
  mcs_store_result result;
  uint64_t out_cas;   /* GET hit: the token; ADD/CAS stored: the new one */
  uint32_t out_flags; /* GET hit */
  /* Called once on the loop's thread, from mcs_loop_run (or
   * mcs_loop_free), never from inside the submit call. It may submit
   * other operations. */
  void (*done)(mcs__aop *op);
  void *ctx; /* the submitter's */
  /* Private to the engine running it. */
  mcs__aop *next;
  int64_t deadline; /* monotonic ms */
  size_t server;
  uint32_t opaque; /* O<opaque> on the wire; its reply must echo it */
  bool sent;
};

/* Runs op with the store's blocking operations (for a helper thread),
 * filling its result; does not call op->done. */
void mcs__aop_run(mcs_store *store, mcs__aop *op);

#endif /* MCS_STORE_INT_H */
