/*
 * The pickle machine (pickle_machine.h): what the opcode handlers of
 * pickle_decode.c work — reading arguments from the input, the stack
 * and its marks, building containers, the memo and shared references,
 * numbers — every step bounded (the file comment of pickle_decode.c
 * lists the bounds).
 *
 * Shared references. The memo lets a pickle name one object many times
 * (GET, and DUP for the stack top). JSON values cannot be shared safely
 * (cycles; "billion laughs": a=[x,x], b=[a,a], ... doubles per level), so:
 *
 * - GET/DUP of a scalar shares the immutable jansson value (a reference);
 *   GET/DUP of a container pushes a deep copy.
 * - Every value built or copied is charged its weight: 1 per value plus
 *   the bytes of its payload (str, bytes; about the binary size of a big
 *   integer; dict keys as str). Without GET/DUP the weight never exceeds
 *   the input's length, and it is at most the length of the data's JSON
 *   (native mode) encoding, so the budget is the size limit itself: what
 *   fits native mode fits here, and an expansion bomb stops after at most
 *   `budget` steps, before the memory is spent.
 * - A container can be changed only while it sits on the stack, and an
 *   original container is on the stack at most once (GET pushes copies).
 *   When GET/DUP copies a container that is still on the stack (still being
 *   built), that stack slot is frozen: any later APPEND/SETITEM into it is
 *   refused. This is exactly how a recursive structure (l = []; l.append(l))
 *   appears, and CPython's pickler emits it for nothing else: a shared
 *   object in a tree is complete before it is referenced again.
 */
#include <math.h>
#include <string.h>

#include "codec/pickle/pickle_machine.h"

/* ---- Reading arguments ------------------------------------------------- */

/* Takes the next n bytes; MCS_ECORRUPT if the input ends first. */
int mcs__pk_take(mcs__pk_dec *d, size_t n, const uint8_t **out) {
  if (n > mcs__pk_remaining(d))
    return mcs__pk_corrupt(d, "truncated: an argument runs past the end");
  *out = d->p;
  d->p += n;
  return MCS_OK;
}

static uint64_t load_le(const uint8_t *s, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;)
    v = v << 8 | s[i];
  return v;
}

/* An unsigned little-endian integer of n bytes (uint1, uint2, uint4,
 * uint8 in pickletools). */
int mcs__pk_take_uint(mcs__pk_dec *d, size_t n, uint64_t *out) {
  const uint8_t *s;
  int rc = mcs__pk_take(d, n, &s);
  if (rc == MCS_OK)
    *out = load_le(s, n);
  return rc;
}

/* A length of n bytes, then that many bytes (pickletools' bytes1,
 * bytes4, bytes8, unicodestring1/4/8). `is_signed`: the length is an
 * int4 (BINSTRING, LONG4) and must not be negative. */
int mcs__pk_take_counted(mcs__pk_dec *d, size_t n, bool is_signed,
                         const uint8_t **data, size_t *len) {
  uint64_t declared;
  int rc = mcs__pk_take_uint(d, n, &declared);
  if (rc)
    return rc;
  if (is_signed && (declared & 0x80000000u))
    return mcs__pk_corrupt(d, "negative length");
  if (declared > mcs__pk_remaining(d))
    return mcs__pk_corrupt(d, "truncated: a declared length exceeds the input");
  *len = (size_t)declared;
  return mcs__pk_take(d, *len, data);
}

/* A newline-terminated text argument of at most `max` bytes (pickletools'
 * decimalnl_short, floatnl, ...), without its newline. */
int mcs__pk_take_line(mcs__pk_dec *d, size_t max, const char **s, size_t *n) {
  size_t span = mcs__pk_remaining(d) < max + 1 ? mcs__pk_remaining(d) : max + 1;
  const uint8_t *nl = memchr(d->p, '\n', span);
  if (!nl)
    return mcs__pk_corrupt(d, "text argument without newline, or too long");
  *s = (const char *)d->p;
  *n = (size_t)(nl - d->p);
  d->p = nl + 1;
  return MCS_OK;
}

/* ---- Stack, marks, weight ------------------------------------------------ */

/* Grows *arr (elements of `size` bytes, *cap of them) to hold `need`,
 * zeroing the new part. MCS_OK or MCS_ENOMEM; `need` is bounded by the
 * caller. */
static int grow(void **arr, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return MCS_OK;
  size_t n = *cap ? *cap : 16;
  while (n < need)
    n *= 2;
  uint8_t *p = mcs__realloc(*arr, n * size);
  if (!p)
    return MCS_ENOMEM;
  memset(p + *cap * size, 0, (n - *cap) * size);
  *arr = p;
  *cap = n;
  return MCS_OK;
}

/* Pushes a value; the reference is stolen, also on failure. */
static int push(mcs__pk_dec *d, json_t *v, uint8_t kind, unsigned height) {
  if (!v)
    return mcs__pk_nomem(d);
  if (d->sp >= MCS__PICKLE_STACK_MAX) {
    json_decref(v);
    return mcs__pk_corrupt(d, "too many values on the stack");
  }
  if (grow((void **)&d->stack, &d->stack_cap, d->sp + 1,
           sizeof(mcs__pk_slot))) {
    json_decref(v);
    return mcs__pk_nomem(d);
  }
  d->stack[d->sp++] = (mcs__pk_slot){v, height, kind, false};
  return MCS_OK;
}

/* Pops the top value above the fence; the caller owns out->v. */
int mcs__pk_pop(mcs__pk_dec *d, mcs__pk_slot *out) {
  if (mcs__pk_visible(d) == 0)
    return mcs__pk_underflow(d);
  *out = d->stack[--d->sp];
  return MCS_OK;
}

/* Drops the values from index `from` up. */
void mcs__pk_drop_from(mcs__pk_dec *d, size_t from) {
  while (d->sp > from)
    json_decref(d->stack[--d->sp].v);
}

/* Charges w against the weight budget (see the file comment). */
static int charge(mcs__pk_dec *d, size_t w) {
  if (w > d->budget - d->weight)
    return mcs__pk_fail(
        d, MCS_ETOOBIG,
        "data expands beyond the size limit (shared references)");
  d->weight += w;
  return MCS_OK;
}

/* A scalar's weight: 1 plus its payload (a big integer's digits count for
 * about their binary size: a decimal digit carries 3.3 bits). */
static size_t scalar_weight(const json_t *v) {
  switch (mcs__value_type(v)) {
  case MCS_TYPE_STRING:
    return 1 + json_string_length(v);
  case MCS_TYPE_BYTES:
    return 1 + json_string_length(json_object_get(v, MCS__TAG_BYTES)) / 4 * 3;
  case MCS_TYPE_BIGINT:
    return 1 + json_string_length(json_object_get(v, MCS__TAG_BIGINT)) / 3;
  default:
    return 1;
  }
}

/* Charges and pushes a new scalar (reference stolen; NULL: no memory). */
int mcs__pk_push_scalar(mcs__pk_dec *d, json_t *v) {
  if (!v)
    return mcs__pk_nomem(d);
  int rc = charge(d, scalar_weight(v));
  if (rc) {
    json_decref(v);
    return rc;
  }
  return push(d, v, MCS__PK_SCALAR, 0);
}

/* Charges and pushes a new empty container. */
int mcs__pk_push_container(mcs__pk_dec *d, uint8_t kind) {
  int rc = charge(d, 1);
  if (rc)
    return rc;
  return push(d, kind == MCS__PK_DICT ? json_object() : json_array(), kind, 1);
}

int mcs__pk_push_mark(mcs__pk_dec *d) {
  if (d->nmarks >= MCS__PICKLE_STACK_MAX)
    return mcs__pk_corrupt(d, "too many open MARKs");
  if (grow((void **)&d->marks, &d->marks_cap, d->nmarks + 1, sizeof(size_t)))
    return mcs__pk_nomem(d);
  d->marks[d->nmarks++] = d->sp;
  return MCS_OK;
}

int mcs__pk_pop_mark(mcs__pk_dec *d, size_t *mark) {
  if (d->nmarks == 0)
    return mcs__pk_corrupt(d, "an opcode that needs a MARK found none");
  *mark = d->marks[--d->nmarks];
  return MCS_OK;
}

/* ---- Building containers ---------------------------------------------- */

/* Checks that `child` may go into `parent` and updates the parent's
 * height. Children are final once inside a container (only stack values
 * can change), so this is where dicts are checked for the tagged shape. */
static int admit(mcs__pk_dec *d, mcs__pk_slot *parent,
                 const mcs__pk_slot *child) {
  if (child->kind == MCS__PK_DICT && mcs__value_type(child->v) != MCS_TYPE_MAP)
    return mcs__pk_corrupt(
        d, "a dict shaped like a tagged value ({\"$bytes\": str} "
           "or {\"$int\": str}) cannot be represented");
  if (child->height >= d->max_height)
    return mcs__pk_corrupt(d, "nested deeper than the depth limit");
  if (child->height + 1 > parent->height)
    parent->height = child->height + 1;
  return MCS_OK;
}

/* Appends child to the list or tuple in `parent`; child.v is stolen. */
int mcs__pk_seq_add(mcs__pk_dec *d, mcs__pk_slot *parent, mcs__pk_slot child) {
  int rc = admit(d, parent, &child);
  if (rc) {
    json_decref(child.v);
    return rc;
  }
  return json_array_append_new(parent->v, child.v) ? mcs__pk_nomem(d) : MCS_OK;
}

/* Checks a dict key: a str without NUL (JSON object keys cannot hold
 * one; jansson copies the key). */
static int check_key(mcs__pk_dec *d, const json_t *key) {
  if (!json_is_string(key))
    return mcs__pk_corrupt(d, "dict key is not a str");
  if (memchr(json_string_value(key), '\0', json_string_length(key)))
    return mcs__pk_corrupt(d, "dict key contains NUL");
  return MCS_OK;
}

/* dict[key] = value; both references are stolen. A later duplicate key
 * replaces the earlier value, as in Python. */
static int dict_set(mcs__pk_dec *d, mcs__pk_slot *dict, mcs__pk_slot key,
                    mcs__pk_slot value) {
  int rc = check_key(d, key.v);
  if (rc == MCS_OK)
    rc = admit(d, dict, &value);
  if (rc) {
    json_decref(value.v);
  } else if (json_object_setn_new_nocheck(dict->v, json_string_value(key.v),
                                          json_string_length(key.v), value.v)) {
    rc = mcs__pk_nomem(d); /* jansson released value.v */
  }
  json_decref(key.v);
  return rc;
}

/* The container at stack index i, which an opcode is about to change:
 * it must be visible, of `kind` and not frozen. */
int mcs__pk_target(mcs__pk_dec *d, size_t i, uint8_t kind, mcs__pk_slot **out) {
  if (i < mcs__pk_fence(d) || i >= d->sp)
    return mcs__pk_underflow(d);
  mcs__pk_slot *t = &d->stack[i];
  if (t->kind != kind)
    return mcs__pk_corrupt(d, kind == MCS__PK_LIST
                                  ? "APPEND(S) to something not a list"
                                  : "SETITEM(S) on something not a dict");
  if (t->frozen)
    return mcs__pk_corrupt(d,
                           "container changed after it was shared (recursive "
                           "structure): not supported");
  *out = t;
  return MCS_OK;
}

/* Moves the values at [from, sp) into the sequence `parent`. */
int mcs__pk_move_items(mcs__pk_dec *d, mcs__pk_slot *parent, size_t from) {
  for (size_t i = from; i < d->sp; i++) {
    mcs__pk_slot child = d->stack[i];
    d->stack[i].v = NULL;
    int rc = mcs__pk_seq_add(d, parent, child);
    if (rc)
      return rc;
  }
  mcs__pk_drop_from(d, from);
  return MCS_OK;
}

/* Moves the key/value pairs at [from, sp) into the dict `dict`. */
int mcs__pk_move_pairs(mcs__pk_dec *d, mcs__pk_slot *dict, size_t from) {
  if ((d->sp - from) % 2)
    return mcs__pk_corrupt(d, "odd number of items for a dict");
  for (size_t i = from; i < d->sp; i += 2) {
    mcs__pk_slot key = d->stack[i], value = d->stack[i + 1];
    d->stack[i].v = d->stack[i + 1].v = NULL;
    int rc = dict_set(d, dict, key, value);
    if (rc)
      return rc;
  }
  mcs__pk_drop_from(d, from);
  return MCS_OK;
}

/* Replaces the values at [from, sp) with one new container of `kind`
 * holding them (LIST, TUPLE, TUPLE1/2/3, DICT). */
int mcs__pk_build(mcs__pk_dec *d, size_t from, uint8_t kind) {
  int rc = charge(d, 1);
  if (rc)
    return rc;
  mcs__pk_slot c = {kind == MCS__PK_DICT ? json_object() : json_array(), 1,
                    kind, false};
  if (!c.v)
    return mcs__pk_nomem(d);
  rc = kind == MCS__PK_DICT ? mcs__pk_move_pairs(d, &c, from)
                            : mcs__pk_move_items(d, &c, from);
  if (rc) {
    json_decref(c.v);
    return rc;
  }
  return push(d, c.v, c.kind, c.height);
}

/* ---- Shared references -------------------------------------------------- */

static int copy_value(mcs__pk_dec *d, json_t *src, bool is_dict, json_t **out,
                      unsigned *height);

/* Copies one member of a container: containers deeply, scalars shared
 * (nothing changes a scalar in place). *out is NULL on failure. */
static int copy_member(mcs__pk_dec *d, json_t *src, json_t **out,
                       unsigned *height) {
  mcs_type t = mcs__value_type(src);
  if (t == MCS_TYPE_LIST || t == MCS_TYPE_MAP)
    return copy_value(d, src, t == MCS_TYPE_MAP, out, height);
  *out = NULL;
  *height = 0;
  int rc = charge(d, scalar_weight(src));
  if (rc == MCS_OK)
    *out = json_incref(src);
  return rc;
}

static void raise_height(unsigned *height, unsigned child) {
  if (child + 1 > *height)
    *height = child + 1;
}

static int copy_list(mcs__pk_dec *d, json_t *src, json_t *dst,
                     unsigned *height) {
  for (size_t i = 0; i < json_array_size(src); i++) {
    json_t *m;
    unsigned h;
    int rc = copy_member(d, json_array_get(src, i), &m, &h);
    if (rc)
      return rc;
    if (json_array_append_new(dst, m)) /* releases m */
      return mcs__pk_nomem(d);
    raise_height(height, h);
  }
  return MCS_OK;
}

static int copy_dict(mcs__pk_dec *d, json_t *src, json_t *dst,
                     unsigned *height) {
  const char *key;
  json_t *member;
  json_object_foreach(src, key, member) {
    size_t n = strlen(key); /* keys never hold NUL (check_key) */
    json_t *m;
    unsigned h;
    int rc = charge(d, 1 + n);
    if (rc == MCS_OK)
      rc = copy_member(d, member, &m, &h);
    if (rc)
      return rc;
    if (json_object_setn_new_nocheck(dst, key, n, m)) /* releases m */
      return mcs__pk_nomem(d);
    raise_height(height, h);
  }
  return MCS_OK;
}

/* A deep copy of the container `src` (a dict when is_dict, else a list),
 * every value charged. Recursion is bounded: `src` was built within the
 * depth limit. */
static int copy_value(mcs__pk_dec *d, json_t *src, bool is_dict, json_t **out,
                      unsigned *height) {
  *out = NULL;
  int rc = charge(d, 1);
  if (rc)
    return rc;
  json_t *dst = is_dict ? json_object() : json_array();
  if (!dst)
    return mcs__pk_nomem(d);
  *height = 1;
  rc =
      is_dict ? copy_dict(d, src, dst, height) : copy_list(d, src, dst, height);
  if (rc) {
    json_decref(dst);
    return rc;
  }
  *out = dst;
  return MCS_OK;
}

/* Pushes another occurrence of `v` (GET, DUP). `pos` is where the
 * original was on the stack; if it is still there, it is still open, and
 * it is frozen (see the file comment). */
int mcs__pk_push_again(mcs__pk_dec *d, json_t *v, uint8_t kind, size_t pos) {
  if (kind == MCS__PK_SCALAR)
    return mcs__pk_push_scalar(d, json_incref(v));
  if (pos < d->sp && d->stack[pos].v == v)
    d->stack[pos].frozen = true;
  json_t *copy;
  unsigned height;
  int rc = copy_value(d, v, kind == MCS__PK_DICT, &copy, &height);
  return rc ? rc : push(d, copy, kind, height);
}

/* ---- Memo ------------------------------------------------------------------
 */

/* Memo indices are bounded by MCS__PICKLE_MEMO_MAX and by the input's
 * length: CPython numbers memo entries 0, 1, 2, ... and each costs at
 * least one byte, so the dense table never outgrows the input 16 times. */
int mcs__pk_memo_put(mcs__pk_dec *d, uint64_t index) {
  if (mcs__pk_visible(d) == 0)
    return mcs__pk_underflow(d);
  if (index >= MCS__PICKLE_MEMO_MAX || index >= d->len)
    return mcs__pk_corrupt(d, "memo index out of range");
  if (grow((void **)&d->memo, &d->memo_cap, (size_t)index + 1,
           sizeof(mcs__pk_memo)))
    return mcs__pk_nomem(d);
  mcs__pk_memo *m = &d->memo[index];
  if (m->v)
    json_decref(m->v);
  else
    d->memo_count++;
  mcs__pk_slot *top = &d->stack[d->sp - 1];
  *m = (mcs__pk_memo){json_incref(top->v), (uint32_t)(d->sp - 1), top->kind};
  return MCS_OK;
}

int mcs__pk_memo_get(mcs__pk_dec *d, uint64_t index) {
  if (index >= d->memo_cap || !d->memo[index].v)
    return mcs__pk_corrupt(d, "memo index not set");
  mcs__pk_memo m = d->memo[index];
  return mcs__pk_push_again(d, m.v, m.kind, m.pos);
}

/* ---- Numbers ------------------------------------------------------------ */

/* uint64 -> int64 two's complement without implementation-defined casts. */
static int64_t to_i64(uint64_t u) {
  return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

int mcs__pk_push_int(mcs__pk_dec *d, int64_t v) {
  return mcs__pk_push_scalar(d, json_integer((json_int_t)v));
}

/* A big integer from its decimal text (already checked). */
static int push_bigint(mcs__pk_dec *d, const char *digits, size_t n) {
  json_t *obj = json_object();
  json_t *str = json_stringn_nocheck(digits, n);
  if (!obj || !str || json_object_set_new_nocheck(obj, MCS__TAG_BIGINT, str)) {
    json_decref(obj);
    if (!obj)
      json_decref(str);
    return mcs__pk_nomem(d);
  }
  return mcs__pk_push_scalar(d, obj);
}

/* LONG1/LONG4 argument (pickletools: long1, long4): little-endian two's
 * complement, any length (0 bytes is 0). */
int mcs__pk_push_long_bytes(mcs__pk_dec *d, const uint8_t *s, size_t n) {
  n = mcs__pickle_long_trim(s, n);
  if (n == 0)
    return mcs__pk_push_int(d, 0);
  if (n <= 8) {
    uint64_t u = load_le(s, n);
    if (n < 8 && (s[n - 1] & 0x80))
      u |= ~UINT64_C(0) << (8 * n);
    return mcs__pk_push_int(d, to_i64(u));
  }
  if (n > MCS__PICKLE_LONG_BYTES_MAX)
    return mcs__pk_corrupt(d, "integer of more than 4300 digits");
  char text[MCS__PICKLE_LONG_TEXT_MAX];
  size_t len = mcs__pickle_long_text(s, n, text);
  if (len - (text[0] == '-') > MCS__PICKLE_DIGITS_MAX)
    return mcs__pk_corrupt(d, "integer of more than 4300 digits");
  return push_bigint(d, text, len);
}

/* Decimal text as CPython writes it for INT and LONG (an optional '-',
 * digits, no leading zero): an int64 or a big integer. */
int mcs__pk_push_decimal(mcs__pk_dec *d, const char *s, size_t n) {
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  if (n == i || n - i > MCS__PICKLE_DIGITS_MAX || (s[i] == '0' && n - i > 1))
    return mcs__pk_corrupt(d, "malformed decimal integer");
  uint64_t mag = 0, limit = i ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
  bool big = false;
  for (size_t k = i; k < n; k++) {
    if (s[k] < '0' || s[k] > '9')
      return mcs__pk_corrupt(d, "malformed decimal integer");
    unsigned digit = (unsigned)(s[k] - '0');
    if (!big && mag > (limit - digit) / 10)
      big = true;
    else if (!big)
      mag = mag * 10 + digit;
  }
  if (big)
    return push_bigint(d, s, n);
  if (i && mag == 0)
    return mcs__pk_push_int(d, 0); /* "-0" */
  return mcs__pk_push_int(d, i ? to_i64(~mag + 1) : (int64_t)mag);
}

int mcs__pk_push_double(mcs__pk_dec *d, double x) {
  if (!isfinite(x))
    return mcs__pk_corrupt(d, "float is NaN or infinite (JSON cannot hold it)");
  return mcs__pk_push_scalar(d, json_real(x));
}
