/*
 * Pickle decoder for tornado mode: reads a pickled Python dict (protocols
 * 0 to 5, as CPython writes them) into the session value model.
 *
 * References: CPython's Lib/pickletools.py (the opcode table: each
 * opcode's argument format and stack effect; cited by opcode name below)
 * and Modules/_pickle.c (what pickle.loads really does, e.g. that MARK
 * sets a "fence" below which ordinary opcodes cannot pop).
 *
 * The input is hostile (anyone who can write to memcached writes it):
 *
 * - Nothing is imported or called. Only opcodes that build None, bool,
 *   int, float, str, bytes, list, tuple and dict are understood; every
 *   other one, known or not, is refused with a reason (see `ops` below).
 * - Every length is checked against the bytes that remain before anything
 *   is read or allocated (declared lengths go up to 2^64 - 1).
 * - Bounds: the input (max_bytes + slack: MCS_ETOOBIG), the "weight" of
 *   everything built (see below: MCS_ETOOBIG), nesting (max_depth), the
 *   stack and marks (MCS__PICKLE_STACK_MAX) and memo indices
 *   (MCS__PICKLE_MEMO_MAX, and the input's length).
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
 *
 * Other decisions (each gives MCS_ECORRUPT with a reason):
 * - dict keys must be str without NUL (JSON object keys); top-level keys
 *   must also be session keys (1..MCS_KEY_MAX bytes).
 * - A dict value of the form {"$bytes": str} or {"$int": str} is refused:
 *   in our model it would read as bytes / a big integer (a silent type
 *   change), and the session could not be written back unchanged.
 * - NaN and infinities: JSON cannot hold them.
 * - str must be well-formed UTF-8: CPython writes a lone surrogate with
 *   'surrogatepass', which is not.
 * - Integers beyond int64 become {"$int": "<digits>"}, up to 4300 digits.
 * - Protocol 0/1 text forms: INT, LONG, FLOAT (JSON number syntax only),
 *   GET and PUT are read; STRING and UNICODE (escaped text) are refused.
 *   SHORT_BINSTRING/BINSTRING (Python 2 str) are read as str when ASCII,
 *   as Python 3's pickle.loads does by default.
 * - Protocol 2 pickles of bytes are refused: CPython writes them as a call
 *   (GLOBAL _codecs.encode + REDUCE); protocols 3+ have BINBYTES.
 * - Bytes after STOP and anything but one value on the stack at STOP are
 *   refused (pickle.loads ignores them; no pickler writes them).
 * - A valid pickle whose top level is not a dict decodes to an empty
 *   session with info->not_a_dict set (the recipe's rule). Its contents are
 *   still checked: a refused opcode anywhere refuses the record.
 */
#include <math.h>
#include <string.h>

#include "codec/pickle/pickle_int.h"

/* Opcodes, named as in pickletools.py. */
/* clang-format off */
enum {
  OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1',
  OP_DUP = '2', OP_FLOAT = 'F', OP_INT = 'I', OP_BININT = 'J',
  OP_BININT1 = 'K', OP_LONG = 'L', OP_BININT2 = 'M', OP_NONE = 'N',
  OP_PERSID = 'P', OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_STRING = 'S',
  OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U', OP_UNICODE = 'V',
  OP_BINUNICODE = 'X', OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c',
  OP_DICT = 'd', OP_EMPTY_DICT = '}', OP_APPENDS = 'e', OP_GET = 'g',
  OP_BINGET = 'h', OP_INST = 'i', OP_LONG_BINGET = 'j', OP_LIST = 'l',
  OP_EMPTY_LIST = ']', OP_OBJ = 'o', OP_PUT = 'p', OP_BINPUT = 'q',
  OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't',
  OP_EMPTY_TUPLE = ')', OP_SETITEMS = 'u', OP_BINFLOAT = 'G',
  /* protocol 2 */
  OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_EXT1 = 0x82, OP_EXT2 = 0x83,
  OP_EXT4 = 0x84, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87,
  OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
  /* protocol 3 */
  OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
  /* protocol 4 */
  OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e,
  OP_EMPTY_SET = 0x8f, OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91,
  OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93, OP_MEMOIZE = 0x94,
  OP_FRAME = 0x95,
  /* protocol 5 */
  OP_BYTEARRAY8 = 0x96, OP_NEXT_BUFFER = 0x97, OP_READONLY_BUFFER = 0x98
};
/* clang-format on */

#define HIGHEST_PROTOCOL 5
/* Longest text argument read (INT, FLOAT, GET, PUT); LONG may carry as
 * many digits as a big integer. */
#define TEXT_ARG_MAX 64

enum kind { K_SCALAR, K_LIST, K_TUPLE, K_DICT };

typedef struct slot {
  json_t *v;       /* owned reference; NULL while being moved */
  unsigned height; /* 0 for scalars, 1 + the deepest child for containers */
  uint8_t kind;
  bool frozen; /* copied by GET/DUP while open: no more changes */
} slot;

typedef struct memo_entry {
  json_t *v;    /* owned reference, NULL when unset */
  uint32_t pos; /* stack index of the value when it was memoized */
  uint8_t kind;
} memo_entry;

typedef struct dec {
  const uint8_t *p, *end;
  size_t len;        /* of the whole input */
  const uint8_t *op; /* the opcode being run, for info->offset */
  slot *stack;
  size_t sp, stack_cap;
  size_t *marks;
  size_t nmarks, marks_cap;
  memo_entry *memo;
  size_t memo_cap, memo_count;
  size_t weight, budget;
  unsigned max_height;
  const char *reason;
  bool stopped;
} dec;

/* Records why decoding stops (the first reason wins) and returns rc. */
static int fail(dec *d, int rc, const char *reason) {
  if (!d->reason)
    d->reason = reason;
  return rc;
}

static int corrupt(dec *d, const char *reason) {
  return fail(d, MCS_ECORRUPT, reason);
}

static int nomem(dec *d) { return fail(d, MCS_ENOMEM, "out of memory"); }

/* ---- Reading arguments ------------------------------------------------- */

static size_t remaining(const dec *d) { return (size_t)(d->end - d->p); }

/* Takes the next n bytes; MCS_ECORRUPT if the input ends first. */
static int take(dec *d, size_t n, const uint8_t **out) {
  if (n > remaining(d))
    return corrupt(d, "truncated: an argument runs past the end");
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
static int take_uint(dec *d, size_t n, uint64_t *out) {
  const uint8_t *s;
  int rc = take(d, n, &s);
  if (rc == MCS_OK)
    *out = load_le(s, n);
  return rc;
}

/* A length of n bytes, then that many bytes (pickletools' bytes1,
 * bytes4, bytes8, unicodestring1/4/8). `is_signed`: the length is an
 * int4 (BINSTRING, LONG4) and must not be negative. */
static int take_counted(dec *d, size_t n, bool is_signed, const uint8_t **data,
                        size_t *len) {
  uint64_t declared;
  int rc = take_uint(d, n, &declared);
  if (rc)
    return rc;
  if (is_signed && (declared & 0x80000000u))
    return corrupt(d, "negative length");
  if (declared > remaining(d))
    return corrupt(d, "truncated: a declared length exceeds the input");
  *len = (size_t)declared;
  return take(d, *len, data);
}

/* A newline-terminated text argument of at most `max` bytes (pickletools'
 * decimalnl_short, floatnl, ...), without its newline. */
static int take_line(dec *d, size_t max, const char **s, size_t *n) {
  size_t span = remaining(d) < max + 1 ? remaining(d) : max + 1;
  const uint8_t *nl = memchr(d->p, '\n', span);
  if (!nl)
    return corrupt(d, "text argument without newline, or too long");
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

/* Index of the top mark: ordinary opcodes cannot reach below it (as in
 * _pickle.c's Pdata fence). */
static size_t fence(const dec *d) {
  return d->nmarks ? d->marks[d->nmarks - 1] : 0;
}

/* Values above the fence. */
static size_t visible(const dec *d) { return d->sp - fence(d); }

static int underflow(dec *d) {
  return corrupt(d, "stack underflow (or an opcode reaching below MARK)");
}

/* Pushes a value; the reference is stolen, also on failure. */
static int push(dec *d, json_t *v, uint8_t kind, unsigned height) {
  if (!v)
    return nomem(d);
  if (d->sp >= MCS__PICKLE_STACK_MAX) {
    json_decref(v);
    return corrupt(d, "too many values on the stack");
  }
  if (grow((void **)&d->stack, &d->stack_cap, d->sp + 1, sizeof(slot))) {
    json_decref(v);
    return nomem(d);
  }
  d->stack[d->sp++] = (slot){v, height, kind, false};
  return MCS_OK;
}

/* Pops the top value above the fence; the caller owns out->v. */
static int pop(dec *d, slot *out) {
  if (visible(d) == 0)
    return underflow(d);
  *out = d->stack[--d->sp];
  return MCS_OK;
}

/* Drops the values from index `from` up. */
static void drop_from(dec *d, size_t from) {
  while (d->sp > from)
    json_decref(d->stack[--d->sp].v);
}

/* Charges w against the weight budget (see the file comment). */
static int charge(dec *d, size_t w) {
  if (w > d->budget - d->weight)
    return fail(d, MCS_ETOOBIG,
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
static int push_scalar(dec *d, json_t *v) {
  if (!v)
    return nomem(d);
  int rc = charge(d, scalar_weight(v));
  if (rc) {
    json_decref(v);
    return rc;
  }
  return push(d, v, K_SCALAR, 0);
}

/* Charges and pushes a new empty container. */
static int push_container(dec *d, uint8_t kind) {
  int rc = charge(d, 1);
  if (rc)
    return rc;
  return push(d, kind == K_DICT ? json_object() : json_array(), kind, 1);
}

static int push_mark(dec *d) {
  if (d->nmarks >= MCS__PICKLE_STACK_MAX)
    return corrupt(d, "too many open MARKs");
  if (grow((void **)&d->marks, &d->marks_cap, d->nmarks + 1, sizeof(size_t)))
    return nomem(d);
  d->marks[d->nmarks++] = d->sp;
  return MCS_OK;
}

static int pop_mark(dec *d, size_t *mark) {
  if (d->nmarks == 0)
    return corrupt(d, "an opcode that needs a MARK found none");
  *mark = d->marks[--d->nmarks];
  return MCS_OK;
}

/* ---- Building containers ---------------------------------------------- */

/* Checks that `child` may go into `parent` and updates the parent's
 * height. Children are final once inside a container (only stack values
 * can change), so this is where dicts are checked for the tagged shape. */
static int admit(dec *d, slot *parent, const slot *child) {
  if (child->kind == K_DICT && mcs__value_type(child->v) != MCS_TYPE_MAP)
    return corrupt(d, "a dict shaped like a tagged value ({\"$bytes\": str} "
                      "or {\"$int\": str}) cannot be represented");
  if (child->height >= d->max_height)
    return corrupt(d, "nested deeper than the depth limit");
  if (child->height + 1 > parent->height)
    parent->height = child->height + 1;
  return MCS_OK;
}

/* Appends child to the list or tuple in `parent`; child.v is stolen. */
static int seq_add(dec *d, slot *parent, slot child) {
  int rc = admit(d, parent, &child);
  if (rc) {
    json_decref(child.v);
    return rc;
  }
  return json_array_append_new(parent->v, child.v) ? nomem(d) : MCS_OK;
}

/* Checks a dict key: a str without NUL (JSON object keys cannot hold
 * one; jansson copies the key). */
static int check_key(dec *d, const json_t *key) {
  if (!json_is_string(key))
    return corrupt(d, "dict key is not a str");
  if (memchr(json_string_value(key), '\0', json_string_length(key)))
    return corrupt(d, "dict key contains NUL");
  return MCS_OK;
}

/* dict[key] = value; both references are stolen. A later duplicate key
 * replaces the earlier value, as in Python. */
static int dict_set(dec *d, slot *dict, slot key, slot value) {
  int rc = check_key(d, key.v);
  if (rc == MCS_OK)
    rc = admit(d, dict, &value);
  if (rc) {
    json_decref(value.v);
  } else if (json_object_setn_new_nocheck(dict->v, json_string_value(key.v),
                                          json_string_length(key.v), value.v)) {
    rc = nomem(d); /* jansson released value.v */
  }
  json_decref(key.v);
  return rc;
}

/* The container at stack index i, which an opcode is about to change:
 * it must be visible, of `kind` and not frozen. */
static int target(dec *d, size_t i, uint8_t kind, slot **out) {
  if (i < fence(d) || i >= d->sp)
    return underflow(d);
  slot *t = &d->stack[i];
  if (t->kind != kind)
    return corrupt(d, kind == K_LIST ? "APPEND(S) to something not a list"
                                     : "SETITEM(S) on something not a dict");
  if (t->frozen)
    return corrupt(d, "container changed after it was shared (recursive "
                      "structure): not supported");
  *out = t;
  return MCS_OK;
}

/* Moves the values at [from, sp) into the sequence `parent`. */
static int move_items(dec *d, slot *parent, size_t from) {
  for (size_t i = from; i < d->sp; i++) {
    slot child = d->stack[i];
    d->stack[i].v = NULL;
    int rc = seq_add(d, parent, child);
    if (rc)
      return rc;
  }
  drop_from(d, from);
  return MCS_OK;
}

/* Moves the key/value pairs at [from, sp) into the dict `dict`. */
static int move_pairs(dec *d, slot *dict, size_t from) {
  if ((d->sp - from) % 2)
    return corrupt(d, "odd number of items for a dict");
  for (size_t i = from; i < d->sp; i += 2) {
    slot key = d->stack[i], value = d->stack[i + 1];
    d->stack[i].v = d->stack[i + 1].v = NULL;
    int rc = dict_set(d, dict, key, value);
    if (rc)
      return rc;
  }
  drop_from(d, from);
  return MCS_OK;
}

/* Replaces the values at [from, sp) with one new container of `kind`
 * holding them (LIST, TUPLE, TUPLE1/2/3, DICT). */
static int build(dec *d, size_t from, uint8_t kind) {
  int rc = charge(d, 1);
  if (rc)
    return rc;
  slot c = {kind == K_DICT ? json_object() : json_array(), 1, kind, false};
  if (!c.v)
    return nomem(d);
  rc = kind == K_DICT ? move_pairs(d, &c, from) : move_items(d, &c, from);
  if (rc) {
    json_decref(c.v);
    return rc;
  }
  return push(d, c.v, c.kind, c.height);
}

/* ---- Shared references -------------------------------------------------- */

static int copy_value(dec *d, json_t *src, bool is_dict, json_t **out,
                      unsigned *height);

/* Copies one member of a container: containers deeply, scalars shared
 * (nothing changes a scalar in place). *out is NULL on failure. */
static int copy_member(dec *d, json_t *src, json_t **out, unsigned *height) {
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

static int copy_list(dec *d, json_t *src, json_t *dst, unsigned *height) {
  for (size_t i = 0; i < json_array_size(src); i++) {
    json_t *m;
    unsigned h;
    int rc = copy_member(d, json_array_get(src, i), &m, &h);
    if (rc)
      return rc;
    if (json_array_append_new(dst, m)) /* releases m */
      return nomem(d);
    raise_height(height, h);
  }
  return MCS_OK;
}

static int copy_dict(dec *d, json_t *src, json_t *dst, unsigned *height) {
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
      return nomem(d);
    raise_height(height, h);
  }
  return MCS_OK;
}

/* A deep copy of the container `src` (a dict when is_dict, else a list),
 * every value charged. Recursion is bounded: `src` was built within the
 * depth limit. */
static int copy_value(dec *d, json_t *src, bool is_dict, json_t **out,
                      unsigned *height) {
  *out = NULL;
  int rc = charge(d, 1);
  if (rc)
    return rc;
  json_t *dst = is_dict ? json_object() : json_array();
  if (!dst)
    return nomem(d);
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
static int push_again(dec *d, json_t *v, uint8_t kind, size_t pos) {
  if (kind == K_SCALAR)
    return push_scalar(d, json_incref(v));
  if (pos < d->sp && d->stack[pos].v == v)
    d->stack[pos].frozen = true;
  json_t *copy;
  unsigned height;
  int rc = copy_value(d, v, kind == K_DICT, &copy, &height);
  return rc ? rc : push(d, copy, kind, height);
}

/* ---- Memo ------------------------------------------------------------------
 */

/* Memo indices are bounded by MCS__PICKLE_MEMO_MAX and by the input's
 * length: CPython numbers memo entries 0, 1, 2, ... and each costs at
 * least one byte, so the dense table never outgrows the input 16 times. */
static int memo_put(dec *d, uint64_t index) {
  if (visible(d) == 0)
    return underflow(d);
  if (index >= MCS__PICKLE_MEMO_MAX || index >= d->len)
    return corrupt(d, "memo index out of range");
  if (grow((void **)&d->memo, &d->memo_cap, (size_t)index + 1,
           sizeof(memo_entry)))
    return nomem(d);
  memo_entry *m = &d->memo[index];
  if (m->v)
    json_decref(m->v);
  else
    d->memo_count++;
  slot *top = &d->stack[d->sp - 1];
  *m = (memo_entry){json_incref(top->v), (uint32_t)(d->sp - 1), top->kind};
  return MCS_OK;
}

static int memo_get(dec *d, uint64_t index) {
  if (index >= d->memo_cap || !d->memo[index].v)
    return corrupt(d, "memo index not set");
  memo_entry m = d->memo[index];
  return push_again(d, m.v, m.kind, m.pos);
}

/* ---- Numbers ------------------------------------------------------------ */

/* uint64 -> int64 two's complement without implementation-defined casts. */
static int64_t to_i64(uint64_t u) {
  return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static int push_int(dec *d, int64_t v) {
  return push_scalar(d, json_integer((json_int_t)v));
}

/* A big integer from its decimal text (already checked). */
static int push_bigint(dec *d, const char *digits, size_t n) {
  json_t *obj = json_object();
  json_t *str = json_stringn_nocheck(digits, n);
  if (!obj || !str || json_object_set_new_nocheck(obj, MCS__TAG_BIGINT, str)) {
    json_decref(obj);
    if (!obj)
      json_decref(str);
    return nomem(d);
  }
  return push_scalar(d, obj);
}

/* LONG1/LONG4 argument (pickletools: long1, long4): little-endian two's
 * complement, any length (0 bytes is 0). */
static int push_long_bytes(dec *d, const uint8_t *s, size_t n) {
  n = mcs__pickle_long_trim(s, n);
  if (n == 0)
    return push_int(d, 0);
  if (n <= 8) {
    uint64_t u = load_le(s, n);
    if (n < 8 && (s[n - 1] & 0x80))
      u |= ~UINT64_C(0) << (8 * n);
    return push_int(d, to_i64(u));
  }
  if (n > MCS__PICKLE_LONG_BYTES_MAX)
    return corrupt(d, "integer of more than 4300 digits");
  char text[MCS__PICKLE_LONG_TEXT_MAX];
  size_t len = mcs__pickle_long_text(s, n, text);
  if (len - (text[0] == '-') > MCS__PICKLE_DIGITS_MAX)
    return corrupt(d, "integer of more than 4300 digits");
  return push_bigint(d, text, len);
}

/* Decimal text as CPython writes it for INT and LONG (an optional '-',
 * digits, no leading zero): an int64 or a big integer. */
static int push_decimal(dec *d, const char *s, size_t n) {
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  if (n == i || n - i > MCS__PICKLE_DIGITS_MAX || (s[i] == '0' && n - i > 1))
    return corrupt(d, "malformed decimal integer");
  uint64_t mag = 0, limit = i ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
  bool big = false;
  for (size_t k = i; k < n; k++) {
    if (s[k] < '0' || s[k] > '9')
      return corrupt(d, "malformed decimal integer");
    unsigned digit = (unsigned)(s[k] - '0');
    if (!big && mag > (limit - digit) / 10)
      big = true;
    else if (!big)
      mag = mag * 10 + digit;
  }
  if (big)
    return push_bigint(d, s, n);
  if (i && mag == 0)
    return push_int(d, 0); /* "-0" */
  return push_int(d, i ? to_i64(~mag + 1) : (int64_t)mag);
}

static int push_double(dec *d, double x) {
  if (!isfinite(x))
    return corrupt(d, "float is NaN or infinite (JSON cannot hold it)");
  return push_scalar(d, json_real(x));
}

/* ---- Opcode handlers (pickletools.py names) ------------------------------ */

/* A handler gets the `arg` of its table entry: an argument width, a
 * container kind, or which constant. */
typedef int (*op_fn)(dec *d, unsigned arg);

static int op_proto(dec *d, unsigned arg) {
  (void)arg;
  uint64_t v;
  int rc = take_uint(d, 1, &v);
  if (rc == MCS_OK && v > HIGHEST_PROTOCOL)
    rc = corrupt(d, "unsupported protocol (above 5)");
  return rc;
}

/* FRAME: an 8-byte length; the frame must fit in the input (as _pickle.c
 * checks); its contents are ordinary opcodes. */
static int op_frame(dec *d, unsigned arg) {
  (void)arg;
  uint64_t n;
  int rc = take_uint(d, 8, &n);
  if (rc == MCS_OK && n > remaining(d))
    rc = corrupt(d, "truncated: FRAME longer than the input");
  return rc;
}

static int op_stop(dec *d, unsigned arg) {
  (void)arg;
  d->stopped = true;
  return MCS_OK;
}

/* NONE (arg 0), NEWTRUE (1), NEWFALSE (2). */
static int op_const(dec *d, unsigned arg) {
  return push_scalar(d, arg == 0 ? json_null() : json_boolean(arg == 1));
}

/* BININT1, BININT2: unsigned, 1 or 2 bytes. */
static int op_uint(dec *d, unsigned width) {
  uint64_t u;
  int rc = take_uint(d, width, &u);
  return rc ? rc : push_int(d, (int64_t)u);
}

/* BININT: int4, signed. */
static int op_binint(dec *d, unsigned arg) {
  (void)arg;
  uint64_t u;
  int rc = take_uint(d, 4, &u);
  return rc ? rc
            : push_int(d, (u & 0x80000000u) ? (int64_t)u - 0x100000000
                                            : (int64_t)u);
}

/* LONG1, LONG4: a 1-byte or (signed) 4-byte length, then the integer. */
static int op_long_bin(dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = take_counted(d, width, width == 4, &s, &n);
  return rc ? rc : push_long_bytes(d, s, n);
}

/* INT (protocol 0): decimal text; "00" and "01" are False and True. */
static int op_int(dec *d, unsigned arg) {
  (void)arg;
  const char *s;
  size_t n;
  int rc = take_line(d, TEXT_ARG_MAX, &s, &n);
  if (rc)
    return rc;
  if (n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1'))
    return push_scalar(d, json_boolean(s[1] == '1'));
  return push_decimal(d, s, n);
}

/* LONG (protocol 0): decimal text with an optional trailing 'L'. */
static int op_long(dec *d, unsigned arg) {
  (void)arg;
  const char *s;
  size_t n;
  int rc = take_line(d, MCS__PICKLE_DIGITS_MAX + 2, &s, &n);
  if (rc)
    return rc;
  if (n > 0 && s[n - 1] == 'L')
    n--;
  return push_decimal(d, s, n);
}

/* BINFLOAT: 8 bytes, big-endian IEEE 754 binary64. */
static int op_binfloat(dec *d, unsigned arg) {
  (void)arg;
  const uint8_t *s;
  int rc = take(d, 8, &s);
  if (rc)
    return rc;
  uint64_t u = 0;
  for (int i = 0; i < 8; i++)
    u = u << 8 | s[i];
  double x;
  _Static_assert(sizeof x == sizeof u, "binary64 double expected");
  memcpy(&x, &u, sizeof x);
  return push_double(d, x);
}

/* Digits from s[*i] on; false if there are none. */
static bool skip_digits(const char *s, size_t n, size_t *i) {
  size_t start = *i;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9')
    (*i)++;
  return *i > start;
}

/* JSON number grammar (RFC 8259 section 6), which every finite float's
 * repr() in Python 3 follows: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number_syntax(const char *s, size_t n) {
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  size_t int_start = i;
  if (!skip_digits(s, n, &i) || (s[int_start] == '0' && i - int_start > 1))
    return false;
  if (i < n && s[i] == '.' && (++i, !skip_digits(s, n, &i)))
    return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    if (!skip_digits(s, n, &i))
      return false;
  }
  return i == n;
}

/* FLOAT (protocol 0): repr() text. Only JSON number syntax is accepted
 * ("inf", "nan", "1_0" are refused); the value is then read with
 * jansson's locale-independent parser, which can only fail for overflow
 * ("1e999") or lack of memory. */
static int op_float(dec *d, unsigned arg) {
  (void)arg;
  const char *s;
  size_t n;
  int rc = take_line(d, TEXT_ARG_MAX, &s, &n);
  if (rc)
    return rc;
  if (!json_number_syntax(s, n))
    return corrupt(d, "FLOAT text is not a finite number");
  enum json_error_code code;
  json_t *v = mcs__json_loadb(s, n, JSON_DECODE_ANY, &rc, &code);
  if (!v)
    return code == json_error_numeric_overflow
               ? corrupt(d, "FLOAT text is out of range")
               : nomem(d);
  double x = json_number_value(v);
  if (json_is_integer(v) && x == 0 && s[0] == '-')
    x = -0.0; /* "-0" is negative zero to Python's float() */
  json_decref(v);
  return push_double(d, x);
}

static int push_str(dec *d, const uint8_t *s, size_t n) {
  if (!mcs__utf8_valid((const char *)s, n))
    return corrupt(d, "str is not valid UTF-8 (a lone surrogate?)");
  return push_scalar(d, json_stringn_nocheck((const char *)s, n));
}

/* SHORT_BINUNICODE, BINUNICODE, BINUNICODE8: UTF-8 after a 1/4/8-byte
 * length. */
static int op_unicode(dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = take_counted(d, width, false, &s, &n);
  return rc ? rc : push_str(d, s, n);
}

/* SHORT_BINSTRING, BINSTRING (Python 2 str, int4 length): Python 3
 * decodes them as ASCII by default and fails on other bytes; so do we. */
static int op_binstring(dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = take_counted(d, width, width == 4, &s, &n);
  if (rc)
    return rc;
  for (size_t i = 0; i < n; i++)
    if (s[i] >= 0x80)
      return corrupt(d, "Python 2 str that is not ASCII");
  return push_str(d, s, n);
}

/* SHORT_BINBYTES, BINBYTES, BINBYTES8. */
static int op_bytes(dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = take_counted(d, width, false, &s, &n);
  return rc ? rc : push_scalar(d, mcs__bytes_new(s, n));
}

/* EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT. */
static int op_empty(dec *d, unsigned kind) {
  return push_container(d, (uint8_t)kind);
}

/* APPEND: list, value -> list (the list must be above the fence). */
static int op_append(dec *d, unsigned arg) {
  (void)arg;
  slot *list, value;
  if (visible(d) < 2)
    return underflow(d);
  int rc = target(d, d->sp - 2, K_LIST, &list);
  if (rc == MCS_OK)
    rc = pop(d, &value);
  return rc ? rc : seq_add(d, list, value);
}

/* SETITEM: dict, key, value -> dict. */
static int op_setitem(dec *d, unsigned arg) {
  (void)arg;
  slot *dict;
  if (visible(d) < 3)
    return underflow(d);
  int rc = target(d, d->sp - 3, K_DICT, &dict);
  return rc ? rc : move_pairs(d, dict, d->sp - 2);
}

/* APPENDS (kind list), SETITEMS (kind dict): the container sits just
 * below the mark. */
static int op_batch(dec *d, unsigned kind) {
  size_t mark;
  slot *c;
  int rc = pop_mark(d, &mark);
  if (rc == MCS_OK && mark == 0)
    rc = underflow(d);
  if (rc == MCS_OK)
    rc = target(d, mark - 1, (uint8_t)kind, &c);
  if (rc)
    return rc;
  return kind == K_LIST ? move_items(d, c, mark) : move_pairs(d, c, mark);
}

/* LIST, TUPLE, DICT: a container of everything since the mark. */
static int op_from_mark(dec *d, unsigned kind) {
  size_t mark;
  int rc = pop_mark(d, &mark);
  return rc ? rc : build(d, mark, (uint8_t)kind);
}

/* TUPLE1, TUPLE2, TUPLE3. */
static int op_tuple_n(dec *d, unsigned n) {
  return visible(d) < n ? underflow(d) : build(d, d->sp - n, K_TUPLE);
}

static int op_mark(dec *d, unsigned arg) {
  (void)arg;
  return push_mark(d);
}

/* POP drops the top mark if it is at the top of the stack, else a value
 * (_pickle.c's load_pop). */
static int op_pop(dec *d, unsigned arg) {
  (void)arg;
  if (d->nmarks && d->marks[d->nmarks - 1] == d->sp) {
    d->nmarks--;
    return MCS_OK;
  }
  if (visible(d) == 0)
    return underflow(d);
  drop_from(d, d->sp - 1);
  return MCS_OK;
}

static int op_pop_mark(dec *d, unsigned arg) {
  (void)arg;
  size_t mark;
  int rc = pop_mark(d, &mark);
  if (rc == MCS_OK)
    drop_from(d, mark);
  return rc;
}

static int op_dup(dec *d, unsigned arg) {
  (void)arg;
  if (visible(d) == 0)
    return underflow(d);
  slot top = d->stack[d->sp - 1];
  return push_again(d, top.v, top.kind, d->sp - 1);
}

/* A memo index: uint1 or uint4 (width 1, 4), or decimal text (width 0,
 * protocol 0's PUT and GET). */
static int memo_index(dec *d, unsigned width, uint64_t *index) {
  if (width)
    return take_uint(d, width, index);
  const char *s;
  size_t n;
  int rc = take_line(d, TEXT_ARG_MAX, &s, &n);
  if (rc)
    return rc;
  if (n == 0 || n > 9)
    return corrupt(d, "malformed memo index");
  *index = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return corrupt(d, "malformed memo index");
    *index = *index * 10 + (uint64_t)(s[i] - '0');
  }
  return MCS_OK;
}

/* PUT, BINPUT, LONG_BINPUT. */
static int op_put(dec *d, unsigned width) {
  uint64_t i;
  int rc = memo_index(d, width, &i);
  return rc ? rc : memo_put(d, i);
}

/* MEMOIZE stores at index len(memo), as pickle.py does. */
static int op_memoize(dec *d, unsigned arg) {
  (void)arg;
  return memo_put(d, d->memo_count);
}

/* GET, BINGET, LONG_BINGET. */
static int op_get(dec *d, unsigned width) {
  uint64_t i;
  int rc = memo_index(d, width, &i);
  return rc ? rc : memo_get(d, i);
}

/* ---- The opcode table ---------------------------------------------------- */

typedef struct op_info {
  op_fn fn;            /* NULL: refused */
  unsigned arg;        /* passed to fn */
  const char *refusal; /* why, for refused opcodes we know */
} op_info;

#define RUN(f, arg)                                                            \
  { f, arg, NULL }
#define REFUSE(why)                                                            \
  { NULL, 0, why }
#define CALLS "refused: it imports or calls Python code"

/* clang-format off */
static const op_info ops[256] = {
    [OP_PROTO] = RUN(op_proto, 0), [OP_FRAME] = RUN(op_frame, 0),
    [OP_STOP] = RUN(op_stop, 0), [OP_NONE] = RUN(op_const, 0),
    [OP_NEWTRUE] = RUN(op_const, 1), [OP_NEWFALSE] = RUN(op_const, 2),
    [OP_INT] = RUN(op_int, 0), [OP_BININT] = RUN(op_binint, 0),
    [OP_BININT1] = RUN(op_uint, 1), [OP_BININT2] = RUN(op_uint, 2),
    [OP_LONG] = RUN(op_long, 0), [OP_LONG1] = RUN(op_long_bin, 1),
    [OP_LONG4] = RUN(op_long_bin, 4), [OP_FLOAT] = RUN(op_float, 0),
    [OP_BINFLOAT] = RUN(op_binfloat, 0),
    [OP_SHORT_BINUNICODE] = RUN(op_unicode, 1),
    [OP_BINUNICODE] = RUN(op_unicode, 4),
    [OP_BINUNICODE8] = RUN(op_unicode, 8),
    [OP_SHORT_BINSTRING] = RUN(op_binstring, 1),
    [OP_BINSTRING] = RUN(op_binstring, 4),
    [OP_SHORT_BINBYTES] = RUN(op_bytes, 1), [OP_BINBYTES] = RUN(op_bytes, 4),
    [OP_BINBYTES8] = RUN(op_bytes, 8),
    [OP_EMPTY_LIST] = RUN(op_empty, K_LIST),
    [OP_EMPTY_TUPLE] = RUN(op_empty, K_TUPLE),
    [OP_EMPTY_DICT] = RUN(op_empty, K_DICT),
    [OP_APPEND] = RUN(op_append, 0), [OP_APPENDS] = RUN(op_batch, K_LIST),
    [OP_SETITEM] = RUN(op_setitem, 0), [OP_SETITEMS] = RUN(op_batch, K_DICT),
    [OP_LIST] = RUN(op_from_mark, K_LIST),
    [OP_TUPLE] = RUN(op_from_mark, K_TUPLE),
    [OP_DICT] = RUN(op_from_mark, K_DICT), [OP_TUPLE1] = RUN(op_tuple_n, 1),
    [OP_TUPLE2] = RUN(op_tuple_n, 2), [OP_TUPLE3] = RUN(op_tuple_n, 3),
    [OP_MARK] = RUN(op_mark, 0), [OP_POP] = RUN(op_pop, 0),
    [OP_POP_MARK] = RUN(op_pop_mark, 0), [OP_DUP] = RUN(op_dup, 0),
    [OP_PUT] = RUN(op_put, 0), [OP_BINPUT] = RUN(op_put, 1),
    [OP_LONG_BINPUT] = RUN(op_put, 4), [OP_MEMOIZE] = RUN(op_memoize, 0),
    [OP_GET] = RUN(op_get, 0), [OP_BINGET] = RUN(op_get, 1),
    [OP_LONG_BINGET] = RUN(op_get, 4),

    [OP_GLOBAL] = REFUSE("GLOBAL " CALLS),
    [OP_STACK_GLOBAL] = REFUSE("STACK_GLOBAL " CALLS),
    [OP_REDUCE] = REFUSE("REDUCE " CALLS),
    [OP_BUILD] = REFUSE("BUILD " CALLS),
    [OP_INST] = REFUSE("INST " CALLS),
    [OP_OBJ] = REFUSE("OBJ " CALLS),
    [OP_NEWOBJ] = REFUSE("NEWOBJ " CALLS),
    [OP_NEWOBJ_EX] = REFUSE("NEWOBJ_EX " CALLS),
    [OP_EXT1] = REFUSE("EXT1 " CALLS " (extension registry)"),
    [OP_EXT2] = REFUSE("EXT2 " CALLS " (extension registry)"),
    [OP_EXT4] = REFUSE("EXT4 " CALLS " (extension registry)"),
    [OP_PERSID] = REFUSE("PERSID " CALLS " (persistent_load)"),
    [OP_BINPERSID] = REFUSE("BINPERSID " CALLS " (persistent_load)"),
    [OP_NEXT_BUFFER] = REFUSE("NEXT_BUFFER refused: out-of-band buffers"),
    [OP_READONLY_BUFFER] =
        REFUSE("READONLY_BUFFER refused: out-of-band buffers"),
    [OP_EMPTY_SET] = REFUSE("EMPTY_SET refused: sets are not session values"),
    [OP_ADDITEMS] = REFUSE("ADDITEMS refused: sets are not session values"),
    [OP_FROZENSET] = REFUSE("FROZENSET refused: sets are not session values"),
    [OP_BYTEARRAY8] =
        REFUSE("BYTEARRAY8 refused: bytearray is not a session value"),
    [OP_STRING] = REFUSE("STRING (protocol 0 escaped str) not supported"),
    [OP_UNICODE] = REFUSE("UNICODE (protocol 0 escaped str) not supported"),
};
/* clang-format on */

/* ---- Driver -----------------------------------------------------------------
 */

static int run(dec *d) {
  while (!d->stopped) {
    if (d->p == d->end) {
      d->op = NULL;
      return corrupt(d, "truncated: no STOP");
    }
    d->op = d->p++;
    const op_info *o = &ops[*d->op];
    if (!o->fn)
      return corrupt(d, o->refusal ? o->refusal : "unknown opcode");
    int rc = o->fn(d, o->arg);
    if (rc)
      return rc;
  }
  d->op = NULL;
  if (d->p != d->end)
    return corrupt(d, "bytes after STOP");
  if (d->sp != 1 || d->nmarks != 0)
    return corrupt(d, "STOP must leave exactly one value and no MARK");
  return MCS_OK;
}

/* The top-level dict's keys are session keys, and (defence in depth)
 * each value passes the model's own checker. The dict itself is not
 * checked as a value: a session whose one key is "$int" is no tagged
 * value. */
static int check_session(dec *d, json_t *data) {
  const char *key;
  json_t *v;
  json_object_foreach(data, key, v) {
    if (!mcs__key_valid(key))
      return corrupt(d, "top-level key is not a session key (1..256 bytes)");
    int rc = mcs__value_check(v, d->max_height - 1);
    if (rc)
      return rc == MCS_ENOMEM ? nomem(d) : corrupt(d, "value check failed");
  }
  return MCS_OK;
}

/* Turns the value left by STOP into the record's data. */
static int finish(dec *d, mcs__record *out, bool *not_a_dict) {
  slot *top = &d->stack[0];
  if (top->kind != K_DICT) {
    *not_a_dict = true;
    out->data = json_object();
    return out->data ? MCS_OK : nomem(d);
  }
  int rc = check_session(d, top->v);
  if (rc)
    return rc;
  out->data = json_incref(top->v);
  return MCS_OK;
}

static void dec_free(dec *d) {
  drop_from(d, 0);
  for (size_t i = 0; i < d->memo_cap; i++)
    json_decref(d->memo[i].v);
  mcs__free(d->stack);
  mcs__free(d->marks);
  mcs__free(d->memo);
}

/* max_bytes + slack without overflow. */
static size_t size_limit(const mcs__limits *limits) {
  return limits->max_bytes > SIZE_MAX - MCS__PICKLE_SLACK
             ? SIZE_MAX
             : limits->max_bytes + MCS__PICKLE_SLACK;
}

int mcs__pickle_decode(const uint8_t *buf, size_t len,
                       const mcs__limits *limits, mcs__record *out,
                       mcs__pickle_info *info) {
  mcs__pickle_info scratch;
  if (!info)
    info = &scratch;
  *info = (mcs__pickle_info){false, NULL, -1, -1};
  memset(out, 0, sizeof *out);
  if (len > size_limit(limits)) {
    info->reason = "input over the size limit";
    return MCS_ETOOBIG;
  }
  dec d = {.p = buf, .end = buf + len, .len = len};
  d.budget = size_limit(limits);
  /* The data object is one level above its values, which may nest
   * max_depth deep (as in the JSON codec). */
  d.max_height = limits->max_depth < 1024 ? limits->max_depth + 1 : 1025;
  int rc = run(&d);
  if (rc == MCS_OK)
    rc = finish(&d, out, &info->not_a_dict);
  if (rc) {
    info->reason = d.reason;
    if (d.op) {
      info->offset = (long long)(d.op - buf);
      info->opcode = *d.op;
    }
    info->not_a_dict = false;
  }
  dec_free(&d);
  if (rc)
    mcs__record_clear(out);
  return rc;
}
