/*
 * Fuzz target: the RESP2 reply parser of the Redis store
 * (src/store/redis/rd_resp.c) fed a hostile byte stream, as a compromised
 * or confused server (or anything else listening on the port) could send,
 * and what the store makes of each reply: the meaning for every store
 * operation (rd_ops.c), a redirection (MOVED/ASK, rd_slots.c) and a
 * cluster slot map (CLUSTER SLOTS, rd_slots.c).
 *
 * Invariants checked beyond "no crash, no sanitizer report":
 *   - a reply consumes at least one byte and no more than there is; every
 *     node's bytes lie inside that reply; no bulk string exceeds the
 *     caller's limit; the nodes form exactly one tree (pre-order);
 *   - RESP is self-delimiting: every proper prefix of a complete reply is
 *     "need more", never a different reply (a short read must not be
 *     mistaken for a whole one);
 *   - an operation's result, when accepted, is one its kind may have.
 *
 * The first byte picks the bulk limit and the node limit; the rest is the
 * stream. Built with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis/rd_int.h"
#include "fuzz_check.h"

#define NODES_MAX 64

/* A cluster store that never connects (nothing listens on port 1): the
 * slot map and the node list need one to live in. Made once. */
static mcs__rd_store *the_store(void) {
  static mcs_store *store;
  if (!store && mcs_store_redis_new(&store, "redis+cluster://127.0.0.1:1") !=
                    MCS_OK)
    abort();
  return store->ud;
}

/* The index after the subtree starting at i; count + 1 when it does not
 * fit in the nodes. */
static size_t subtree_end(const mcs__rd_node *n, size_t count, size_t i) {
  if (i >= count)
    return count + 1;
  size_t next = i + 1;
  if (n[i].type == MCS__RD_ARRAY)
    for (int64_t e = 0; e < n[i].i && next <= count; e++)
      next = subtree_end(n, count, next);
  return next;
}

static void check_nodes(const uint8_t *p, size_t used, size_t max_bulk,
                        const mcs__rd_node *n, size_t count) {
  CHECK(count >= 1 && count <= NODES_MAX);
  CHECK(subtree_end(n, count, 0) == count);
  for (size_t i = 0; i < count; i++) {
    if (n[i].type == MCS__RD_ARRAY) {
      CHECK(n[i].i >= 0);
      continue;
    }
    if (n[i].type == MCS__RD_BULK)
      CHECK(n[i].len <= max_bulk);
    if (n[i].len)
      CHECK(n[i].p >= p && n[i].p + n[i].len <= p + used);
  }
}

static bool result_fits(mcs_store_op_kind kind, mcs_store_result r) {
  switch (kind) {
  case MCS_STORE_OP_GET:
    return r == MCS_STORE_HIT || r == MCS_STORE_MISS;
  case MCS_STORE_OP_ADD:
  case MCS_STORE_OP_SET:
    return r == MCS_STORE_STORED || r == MCS_STORE_EXISTS;
  case MCS_STORE_OP_CAS:
    return r == MCS_STORE_STORED || r == MCS_STORE_EXISTS ||
           r == MCS_STORE_MISS;
  case MCS_STORE_OP_DELETE:
    return r == MCS_STORE_DELETED || r == MCS_STORE_MISS;
  case MCS_STORE_OP_TOUCH:
    return r == MCS_STORE_TOUCHED || r == MCS_STORE_MISS;
  default:
    return false;
  }
}

/* What the store makes of one reply, for every operation. */
static void interpret(mcs__rd_store *st, const mcs__rd_node *n, size_t count) {
  static const mcs_store_op_kind kinds[] = {
      MCS_STORE_OP_GET,    MCS_STORE_OP_ADD,   MCS_STORE_OP_SET,
      MCS_STORE_OP_CAS,    MCS_STORE_OP_DELETE, MCS_STORE_OP_TOUCH};
  mcs__rd_opbuf b;
  memset(&b, 0, sizeof b);
  b.new_token = 7;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    uint64_t cas = 0;
    uint32_t flags = 0;
    mcs_store_result res = 0;
    bool noscript = false;
    int rc = mcs__rd_op_result(st, kinds[k], &n[0], &b, NULL, &cas, &flags,
                               &res, &noscript);
    if (rc == MCS_OK && !noscript)
      CHECK(result_fits(kinds[k], res));
    if (noscript)
      CHECK(kinds[k] == MCS_STORE_OP_CAS && n[0].type == MCS__RD_ERROR);
  }
  if (n[0].type == MCS__RD_ERROR) {
    uint16_t slot = 0;
    int node = -1;
    if (mcs__rd_redirect_parse(st, &n[0], &slot, &node) == MCS_OK)
      CHECK(slot < MCS__RD_SLOTS && node >= 0 && node < MCS__RD_NODES_MAX);
  } else if (n[0].type == MCS__RD_ARRAY) {
    (void)mcs__rd_slots_apply(st, n, count);
  }
}

/* Every proper prefix of a whole reply asks for more. */
static void check_prefixes(const uint8_t *p, size_t used, size_t max_bulk) {
  mcs__rd_node n[NODES_MAX];
  size_t count, consumed;
  size_t step = used > 256 ? used / 64 : 1;
  for (size_t k = 0; k < used; k += step)
    CHECK(mcs__rd_parse(p, k, max_bulk, n, NODES_MAX, &count, &consumed) ==
          MCS__RD_NEED_MORE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t max_bulk = data[0] < 0xf0 ? data[0] : MCS_REDIS_VALUE_MAX;
  const uint8_t *p = data + 1;
  size_t len = size - 1, pos = 0;
  mcs__rd_store *st = the_store();
  for (int i = 0; i < 256 && pos < len; i++) {
    mcs__rd_node n[NODES_MAX];
    size_t count = 0, used = 0;
    int rc = mcs__rd_parse(p + pos, len - pos, max_bulk, n, NODES_MAX, &count,
                           &used);
    if (rc != MCS_OK) {
      CHECK(rc == MCS__RD_NEED_MORE || rc == MCS_EPROTO || rc == MCS_ETOOBIG);
      return 0;
    }
    CHECK(used >= 3 && used <= len - pos);
    check_nodes(p + pos, used, max_bulk, n, count);
    check_prefixes(p + pos, used, max_bulk);
    interpret(st, n, count);
    pos += used;
  }
  return 0;
}
