/*
 * What each store operation sends to Redis and what its reply means,
 * shared by the blocking side (rd_store.c) and the engine (rd_async.c).
 * The commands are the Redis command reference's:
 *
 *   get    GET key | GETEX key EX <ttl>     bulk (hit) / null (miss)
 *   add    SET key <v> NX [EX <ttl>]        +OK / null (NX: the key exists)
 *   set    SET key <v> [EX <ttl>]           +OK
 *   cas    EVALSHA <sha> 1 key <hdr12> <v> <ttl>
 *                                           :2 stored / :1 exists / :0 miss
 *   del    DEL key                          :1 / :0
 *   touch  EXPIRE key <ttl>                 :1 / :0
 *
 * <v> is the 16-byte header (a new random token, the flags) and the data,
 * sent as one bulk string without being copied together.
 */
#include <string.h>

#include "store/redis/rd_int.h"

#define ARG(s) ((mcs__rd_arg){s, sizeof s - 1, NULL, 0})

static size_t put_uint(char *out, uint64_t v) {
  char d[24];
  size_t n = 0, o = 0;
  do
    d[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n)
    out[o++] = d[--n];
  return o;
}

static bool is_write(mcs_store_op_kind k) {
  return k == MCS_STORE_OP_ADD || k == MCS_STORE_OP_CAS ||
         k == MCS_STORE_OP_SET;
}

int mcs__rd_op_check(const mcs__rd_opargs *a) {
  if (a->kind < MCS_STORE_OP_GET || a->kind > MCS_STORE_OP_TOUCH ||
      !mcs__store_key_valid(a->key, a->key_len))
    return MCS_EINVAL;
  /* EXPIRE with 0 would delete the key; memcached's store refuses a
   * touch with 0 too. A cas with token 0 can match nothing we store. */
  if ((a->kind == MCS_STORE_OP_TOUCH && a->ttl == 0) ||
      (a->kind == MCS_STORE_OP_CAS && a->cas == 0) ||
      (is_write(a->kind) && !a->data && a->len))
    return MCS_EINVAL;
  if (is_write(a->kind) && a->len > MCS_REDIS_VALUE_MAX)
    return MCS_ETOOBIG;
  return MCS_OK;
}

size_t mcs__rd_value_limit(const mcs_store_value *v) {
  size_t max = MCS_REDIS_VALUE_MAX;
  if (v && v->max_len && v->max_len < max)
    max = v->max_len;
  return MCS__RD_HDR_LEN + max;
}

size_t mcs__rd_op_argv(const mcs__rd_opargs *a, mcs__rd_opbuf *b,
                       mcs__rd_arg argv[MCS__RD_ARGS_MAX]) {
  mcs__rd_arg key = {a->key, a->key_len, NULL, 0};
  mcs__rd_arg ttl = {b->num[0], put_uint(b->num[0], a->ttl), NULL, 0};
  mcs__rd_arg val = {b->hdr, MCS__RD_HDR_LEN, a->data, a->len};
  size_t n = 0;
  if (is_write(a->kind)) {
    b->new_token = mcs__rd_token_new();
    mcs__rd_hdr_put(b->hdr, b->new_token, a->flags);
  }
  switch (a->kind) {
  case MCS_STORE_OP_GET:
    argv[n++] = a->ttl ? ARG("GETEX") : ARG("GET");
    argv[n++] = key;
    if (a->ttl) {
      argv[n++] = ARG("EX");
      argv[n++] = ttl;
    }
    return n;
  case MCS_STORE_OP_ADD:
  case MCS_STORE_OP_SET:
    argv[n++] = ARG("SET");
    argv[n++] = key;
    argv[n++] = val;
    if (a->kind == MCS_STORE_OP_ADD)
      argv[n++] = ARG("NX");
    if (a->ttl) {
      argv[n++] = ARG("EX");
      argv[n++] = ttl;
    }
    return n;
  case MCS_STORE_OP_CAS:
    mcs__rd_hdr_put(b->expect_hdr, a->cas, 0);
    argv[n++] = a->eval_text ? ARG("EVAL") : ARG("EVALSHA");
    argv[n++] = a->eval_text
                    ? (mcs__rd_arg){mcs__rd_cas_script,
                                    strlen(mcs__rd_cas_script), NULL, 0}
                    : (mcs__rd_arg){mcs__rd_cas_sha, 40, NULL, 0};
    argv[n++] = ARG("1");
    argv[n++] = key;
    argv[n++] = (mcs__rd_arg){b->expect_hdr, MCS__RD_TOKEN_END, NULL, 0};
    argv[n++] = val;
    argv[n++] = ttl;
    return n;
  case MCS_STORE_OP_DELETE:
    argv[n++] = ARG("DEL");
    argv[n++] = key;
    return n;
  case MCS_STORE_OP_TOUCH:
    argv[n++] = ARG("EXPIRE");
    argv[n++] = key;
    argv[n++] = ttl;
    return n;
  default:
    return 0;
  }
}

static bool is_ok(const mcs__rd_node *r) {
  return r->type == MCS__RD_STATUS && r->len == 2 &&
         memcmp(r->p, "OK", 2) == 0;
}

/* A hit: the header's token and flags, the data after it. */
static int hit(const mcs__rd_node *r, mcs_store_value *value, uint64_t *cas,
               uint32_t *flags) {
  int rc = mcs__rd_hdr_get(r->p, r->len, cas, flags);
  if (rc)
    return rc;
  size_t len = r->len - MCS__RD_HDR_LEN;
  if (value && value->max_len && len > value->max_len)
    return MCS_ETOOBIG;
  return value ? mcs_store_value_set(value, r->p + MCS__RD_HDR_LEN, len)
               : MCS_OK;
}

int mcs__rd_op_result(mcs__rd_store *st, mcs_store_op_kind kind,
                      const mcs__rd_node *r, const mcs__rd_opbuf *b,
                      mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                      mcs_store_result *result, bool *noscript) {
  *noscript = false;
  if (r->type == MCS__RD_ERROR) {
    /* "EVALSHA": NOSCRIPT when the server does not have the script (it
     * restarted, or SCRIPT FLUSH): nothing ran, send the text. */
    if (kind == MCS_STORE_OP_CAS && mcs__rd_err_is(r, "NOSCRIPT")) {
      *noscript = true;
      return MCS_OK;
    }
    mcs__rd_count(&st->error_replies);
    mcs__rd_note_error(st, "", r->p, r->len);
    return MCS_ESTORE;
  }
  int64_t i = r->type == MCS__RD_INT ? r->i : -1;
  switch (kind) {
  case MCS_STORE_OP_GET:
    if (r->type == MCS__RD_NIL)
      return *result = MCS_STORE_MISS, MCS_OK;
    if (r->type != MCS__RD_BULK)
      break;
    *result = MCS_STORE_HIT;
    return hit(r, value, cas, flags);
  case MCS_STORE_OP_ADD:
  case MCS_STORE_OP_SET:
    if (kind == MCS_STORE_OP_ADD && r->type == MCS__RD_NIL)
      return *result = MCS_STORE_EXISTS, MCS_OK;
    if (!is_ok(r))
      break;
    *cas = b->new_token;
    return *result = MCS_STORE_STORED, MCS_OK;
  case MCS_STORE_OP_CAS:
    if (i < 0 || i > 2)
      break;
    *result = i == 2 ? MCS_STORE_STORED
                     : i == 1 ? MCS_STORE_EXISTS : MCS_STORE_MISS;
    if (i == 2)
      *cas = b->new_token;
    return MCS_OK;
  case MCS_STORE_OP_DELETE:
  case MCS_STORE_OP_TOUCH:
    if (i < 0 || i > 1)
      break;
    *result = !i ? MCS_STORE_MISS
                 : kind == MCS_STORE_OP_DELETE ? MCS_STORE_DELETED
                                               : MCS_STORE_TOUCHED;
    return MCS_OK;
  default:
    break;
  }
  mcs__rd_count(&st->protocol_errors);
  mcs__rd_note_error(st, "reply does not fit the command", NULL, 0);
  return MCS_EPROTO;
}
