/*
 * Pickle encoder for tornado mode, and the codec table entry.
 *
 * Writes protocol 4 (readable by every Python 3.4+, the oldest protocol
 * with SHORT_BINUNICODE and FRAME) the way CPython's C pickler does with
 * its memo turned off (Pickler.fast = True), so that the output for a
 * value is byte for byte what CPython writes (tests/vectors/pickles):
 *
 *   PROTO 4, FRAME <len>, <value>, STOP
 *
 * - one FRAME around everything after PROTO, left out when that is under
 *   4 bytes (_pickle.c: FRAME_SIZE_MIN). CPython splits frames at 64 KiB
 *   and writes str/bytes of 64 KiB or more outside frames; for larger
 *   records we still write one frame, which pickle.loads accepts (frames
 *   are only a read-ahead hint), so the bytes differ from CPython's there;
 * - list: EMPTY_LIST, then for one item: x APPEND; for more: batches of
 *   up to 1000 items, MARK x ... APPENDS (_pickle.c batch_list_exact);
 * - dict: EMPTY_DICT, then for one item: k v SETITEM; for more: batches
 *   MARK k v ... SETITEMS, and one more, empty, batch when the last one
 *   held exactly 1000 (_pickle.c batch_dict_exact loops "while the batch
 *   was full"; pickle.py differs, but pickle.dumps runs the C code);
 * - int: BININT1, BININT2, BININT, else LONG1/LONG4 with the shortest
 *   two's-complement form (pickle.py save_long, encode_long), also for
 *   {"$int": "<digits>"};
 * - float: BINFLOAT; str: SHORT_BINUNICODE / BINUNICODE / BINUNICODE8;
 *   bytes: SHORT_BINBYTES / BINBYTES / BINBYTES8; None, True, False:
 *   NONE, NEWTRUE, NEWFALSE.
 *
 * No memo: our values share nothing. Output is bounded by the size limit
 * as it is written (MCS_ETOOBIG), recursion by the depth limit.
 */
#include <math.h>
#include <string.h>

#include "codec/pickle/pickle_int.h"

/* clang-format off */
enum {
  OP_MARK = '(', OP_STOP = '.', OP_BINFLOAT = 'G', OP_BININT = 'J',
  OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N', OP_BINUNICODE = 'X',
  OP_APPEND = 'a', OP_APPENDS = 'e', OP_EMPTY_DICT = '}',
  OP_EMPTY_LIST = ']', OP_SETITEM = 's', OP_SETITEMS = 'u',
  OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C', OP_PROTO = 0x80,
  OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
  OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e,
  OP_FRAME = 0x95
};
/* clang-format on */

#define PROTOCOL 4
#define BATCH 1000       /* pickle.py Pickler._BATCHSIZE */
#define FRAME_HEADER 9   /* FRAME + 8-byte length */
#define FRAME_SIZE_MIN 4 /* _pickle.c: smaller frames are left out */

typedef struct enc {
  mcs__buf *out;
  size_t limit;
} enc;

/* ---- Output ------------------------------------------------------------ */

static int put(enc *e, const void *p, size_t n) {
  if (n > e->limit || e->out->len > e->limit - n)
    return MCS_ETOOBIG;
  return mcs__buf_append(e->out, p, n);
}

static int put_op(enc *e, uint8_t op) { return put(e, &op, 1); }

static void store_le(uint8_t *dst, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = (uint8_t)(v >> (8 * i));
}

/* An opcode with an n-byte little-endian argument. */
static int put_op_le(enc *e, uint8_t op, uint64_t arg, size_t n) {
  uint8_t b[9];
  b[0] = op;
  store_le(b + 1, arg, n);
  return put(e, b, 1 + n);
}

/* An opcode, a length of 1, 4 or 8 bytes picked by the size of `len`,
 * then the data (str and bytes). ops[] holds the three opcodes. */
static int put_counted(enc *e, const uint8_t ops[3], const void *data,
                       size_t len) {
  int rc;
  if (len <= 0xff)
    rc = put_op_le(e, ops[0], len, 1);
  else if ((uint64_t)len <= 0xffffffffu)
    rc = put_op_le(e, ops[1], len, 4);
  else
    rc = put_op_le(e, ops[2], len, 8);
  return rc ? rc : put(e, data, len);
}

/* ---- Scalars ---------------------------------------------------------------
 */

static int put_str(enc *e, const char *s, size_t n) {
  static const uint8_t ops[3] = {OP_SHORT_BINUNICODE, OP_BINUNICODE,
                                 OP_BINUNICODE8};
  if (!mcs__utf8_valid(s, n))
    return MCS_EINVAL;
  return put_counted(e, ops, s, n);
}

/* LONG1 / LONG4 with the shortest two's-complement form of x (n bytes,
 * little-endian), as pickle.py encode_long writes it. */
static int put_long_bytes(enc *e, const uint8_t *x, size_t n) {
  while (n > 1 && ((x[n - 1] == 0x00 && !(x[n - 2] & 0x80)) ||
                   (x[n - 1] == 0xff && (x[n - 2] & 0x80))))
    n--;
  int rc =
      n < 256 ? put_op_le(e, OP_LONG1, n, 1) : put_op_le(e, OP_LONG4, n, 4);
  return rc ? rc : put(e, x, n);
}

/* pickle.py save_long for protocol 2 and up. */
static int put_int(enc *e, int64_t v) {
  if (v >= 0 && v <= 0xff)
    return put_op_le(e, OP_BININT1, (uint64_t)v, 1);
  if (v >= 0 && v <= 0xffff)
    return put_op_le(e, OP_BININT2, (uint64_t)v, 2);
  if (v >= INT32_MIN && v <= INT32_MAX)
    return put_op_le(e, OP_BININT, (uint64_t)v, 4); /* low 4 bytes */
  uint8_t b[8];
  store_le(b, (uint64_t)v, 8);
  return put_long_bytes(e, b, 8);
}

static int put_double(enc *e, double x) {
  if (!isfinite(x))
    return MCS_EINVAL;
  uint64_t u;
  _Static_assert(sizeof x == sizeof u, "binary64 double expected");
  memcpy(&u, &x, sizeof u);
  uint8_t b[9] = {OP_BINFLOAT};
  for (int i = 0; i < 8; i++) /* big-endian (pickletools: float8) */
    b[1 + i] = (uint8_t)(u >> (56 - 8 * i));
  return put(e, b, sizeof b);
}

static int put_bytes(enc *e, const json_t *v) {
  static const uint8_t ops[3] = {OP_SHORT_BINBYTES, OP_BINBYTES, OP_BINBYTES8};
  const json_t *m = json_object_get(v, MCS__TAG_BYTES);
  size_t n = json_string_length(m), len = 0;
  uint8_t *raw = mcs__malloc(n / 4 * 3 + 1);
  if (!raw)
    return MCS_ENOMEM;
  int rc = mcs__b64_decode(json_string_value(m), n, raw, n / 4 * 3 + 1, &len);
  rc = rc ? MCS_EINVAL : put_counted(e, ops, raw, len);
  mcs__free(raw);
  return rc;
}

/* {"$int": "<digits>"}: an int64 when it fits (as CPython would write
 * it), else LONG1/LONG4. The digits were checked by mcs__value_check. */
static int put_bigint(enc *e, const json_t *v) {
  const json_t *m = json_object_get(v, MCS__TAG_BIGINT);
  const char *s = json_string_value(m);
  size_t n = json_string_length(m);
  uint8_t x[MCS__PICKLE_LONG_BUF];
  size_t len = mcs__pickle_long_bytes(s, n, x);
  if (len <= 9) { /* may fit int64 after trimming */
    uint64_t u = 0;
    for (size_t i = len; i-- > 0;)
      u = u << 8 | x[i];
    bool fits = len < 9 ? true : (x[8] == (x[7] & 0x80 ? 0xff : 0x00));
    if (fits && len < 9 && (x[len - 1] & 0x80))
      u |= ~UINT64_C(0) << (8 * len);
    if (fits)
      return put_int(e, u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1);
  }
  return put_long_bytes(e, x, len);
}

/* ---- Containers ------------------------------------------------------ */

static int put_value(enc *e, const json_t *v, unsigned depth);

static int put_list(enc *e, const json_t *v, unsigned depth) {
  int rc = put_op(e, OP_EMPTY_LIST);
  size_t n = json_array_size(v);
  if (rc || n == 0)
    return rc;
  if (n == 1) {
    rc = put_value(e, json_array_get(v, 0), depth - 1);
    return rc ? rc : put_op(e, OP_APPEND);
  }
  for (size_t i = 0; rc == MCS_OK && i < n;) { /* n > 1: no empty batch */
    rc = put_op(e, OP_MARK);
    for (size_t end = n - i < BATCH ? n : i + BATCH; rc == MCS_OK && i < end;
         i++)
      rc = put_value(e, json_array_get(v, i), depth - 1);
    if (rc == MCS_OK)
      rc = put_op(e, OP_APPENDS);
  }
  return rc;
}

/* One key and its value. */
static int put_item(enc *e, void *it, unsigned depth) {
  int rc = put_str(e, json_object_iter_key(it), json_object_iter_key_len(it));
  return rc ? rc : put_value(e, json_object_iter_value(it), depth - 1);
}

static int put_dict(enc *e, const json_t *v, unsigned depth) {
  json_t *obj = (json_t *)(uintptr_t)v; /* iterators are not const */
  int rc = put_op(e, OP_EMPTY_DICT);
  void *it = json_object_iter(obj);
  if (rc || !it)
    return rc;
  if (json_object_size(obj) == 1) {
    rc = put_item(e, it, depth);
    return rc ? rc : put_op(e, OP_SETITEM);
  }
  size_t k;
  do { /* a full batch is followed by another, maybe empty, as in CPython */
    rc = put_op(e, OP_MARK);
    for (k = 0; rc == MCS_OK && it && k < BATCH; k++) {
      rc = put_item(e, it, depth);
      it = json_object_iter_next(obj, it);
    }
    if (rc == MCS_OK)
      rc = put_op(e, OP_SETITEMS);
  } while (rc == MCS_OK && k == BATCH);
  return rc;
}

/* One value; `depth` is how many container levels may still open. */
static int put_value(enc *e, const json_t *v, unsigned depth) {
  switch (mcs__value_type(v)) {
  case MCS_TYPE_NULL:
    return put_op(e, OP_NONE);
  case MCS_TYPE_BOOL:
    return put_op(e, json_is_true(v) ? OP_NEWTRUE : OP_NEWFALSE);
  case MCS_TYPE_INT:
    return put_int(e, json_integer_value(v));
  case MCS_TYPE_DOUBLE:
    return put_double(e, json_real_value(v));
  case MCS_TYPE_STRING:
    return put_str(e, json_string_value(v), json_string_length(v));
  case MCS_TYPE_BYTES:
    return put_bytes(e, v);
  case MCS_TYPE_BIGINT:
    return put_bigint(e, v);
  case MCS_TYPE_LIST:
    return depth ? put_list(e, v, depth) : MCS_EINVAL;
  case MCS_TYPE_MAP:
    return depth ? put_dict(e, v, depth) : MCS_EINVAL;
  }
  return MCS_EINVAL;
}

/* Fills in the FRAME header reserved after PROTO, or removes it when the
 * frame would be under FRAME_SIZE_MIN bytes (as _pickle.c does). */
static void close_frame(mcs__buf *out) {
  size_t frame = out->len - 2 - FRAME_HEADER;
  if (frame >= FRAME_SIZE_MIN) {
    out->data[2] = OP_FRAME;
    store_le(out->data + 3, frame, 8);
    return;
  }
  memmove(out->data + 2, out->data + 2 + FRAME_HEADER, frame);
  out->len -= FRAME_HEADER;
}

/* Top-level checks the rest of the encoder relies on: the data object
 * (not itself a value: a session whose one key is "$int" is a dict) and
 * its values are in the model. */
static int check_data(const json_t *data, unsigned max_depth) {
  if (!json_is_object(data))
    return MCS_EINVAL;
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)(uintptr_t)data, key, v) {
    int rc = mcs__value_check(v, max_depth);
    if (rc)
      return rc == MCS_ENOMEM ? rc : MCS_EINVAL;
  }
  return MCS_OK;
}

int mcs__pickle_encode(const json_t *data, const mcs__limits *limits,
                       mcs__buf *out) {
  int rc = check_data(data, limits->max_depth);
  if (rc)
    return rc;
  mcs__buf_reset(out);
  enc e = {out, limits->max_bytes > SIZE_MAX - MCS__PICKLE_SLACK
                    ? SIZE_MAX
                    : limits->max_bytes + MCS__PICKLE_SLACK};
  static const uint8_t head[2 + FRAME_HEADER] = {OP_PROTO, PROTOCOL};
  /* The frame header's 9 bytes are only reserved here; the limit applies
   * to the final length, checked by the last put (STOP) below. */
  e.limit =
      e.limit > SIZE_MAX - FRAME_HEADER ? SIZE_MAX : e.limit + FRAME_HEADER;
  rc = put(&e, head, sizeof head);
  if (rc == MCS_OK)
    rc = put_dict(&e, data, limits->max_depth + 1);
  if (rc == MCS_OK)
    rc = put_op(&e, OP_STOP);
  if (rc == MCS_OK) {
    close_frame(out);
    if (out->len > e.limit - FRAME_HEADER)
      rc = MCS_ETOOBIG;
  }
  if (rc)
    mcs__buf_reset(out);
  return rc;
}
