/*
 * The pickle machine (pickle_machine.c), inside the pickle codec: the
 * state of one decode and the steps the opcode handlers of
 * pickle_decode.c take on it. Every step that fails records why (the
 * first reason wins) and returns the error.
 */
#ifndef MCS_PICKLE_MACHINE_H
#define MCS_PICKLE_MACHINE_H

#include "codec/pickle/pickle_int.h"

enum mcs__pk_kind { MCS__PK_SCALAR, MCS__PK_LIST, MCS__PK_TUPLE, MCS__PK_DICT };

typedef struct mcs__pk_slot {
  json_t *v;       /* owned reference; NULL while being moved */
  unsigned height; /* 0 for scalars, 1 + the deepest child for containers */
  uint8_t kind;
  bool frozen; /* copied by GET/DUP while open: no more changes */
} mcs__pk_slot;

typedef struct mcs__pk_memo {
  json_t *v;    /* owned reference, NULL when unset */
  uint32_t pos; /* stack index of the value when it was memoized */
  uint8_t kind;
} mcs__pk_memo;

typedef struct mcs__pk_dec {
  const uint8_t *p, *end;
  size_t len;        /* of the whole input */
  const uint8_t *op; /* the opcode being run, for info->offset */
  mcs__pk_slot *stack;
  size_t sp, stack_cap;
  size_t *marks;
  size_t nmarks, marks_cap;
  mcs__pk_memo *memo;
  size_t memo_cap, memo_count;
  size_t weight, budget;
  unsigned max_height;
  const char *reason;
  bool stopped;
} mcs__pk_dec;

/* Records why decoding stops (the first reason wins) and returns rc. */
static inline int mcs__pk_fail(mcs__pk_dec *d, int rc, const char *reason) {
  if (!d->reason)
    d->reason = reason;
  return rc;
}

static inline int mcs__pk_corrupt(mcs__pk_dec *d, const char *reason) {
  return mcs__pk_fail(d, MCS_ECORRUPT, reason);
}

static inline int mcs__pk_nomem(mcs__pk_dec *d) {
  return mcs__pk_fail(d, MCS_ENOMEM, "out of memory");
}

static inline size_t mcs__pk_remaining(const mcs__pk_dec *d) {
  return (size_t)(d->end - d->p);
}

/* Index of the top mark: ordinary opcodes cannot reach below it (as in
 * _pickle.c's Pdata fence). */
static inline size_t mcs__pk_fence(const mcs__pk_dec *d) {
  return d->nmarks ? d->marks[d->nmarks - 1] : 0;
}

/* Values above the fence. */
static inline size_t mcs__pk_visible(const mcs__pk_dec *d) {
  return d->sp - mcs__pk_fence(d);
}

static inline int mcs__pk_underflow(mcs__pk_dec *d) {
  return mcs__pk_corrupt(d,
                         "stack underflow (or an opcode reaching below MARK)");
}

/* ---- Reading arguments ---- */

/* Takes the next n bytes; MCS_ECORRUPT if the input ends first. */
int mcs__pk_take(mcs__pk_dec *d, size_t n, const uint8_t **out);
/* An unsigned little-endian integer of n bytes (uint1, uint2, uint4,
 * uint8 in pickletools). */
int mcs__pk_take_uint(mcs__pk_dec *d, size_t n, uint64_t *out);
/* A length of n bytes, then that many bytes (pickletools' bytes1,
 * bytes4, bytes8, unicodestring1/4/8). `is_signed`: the length is an
 * int4 (BINSTRING, LONG4) and must not be negative. */
int mcs__pk_take_counted(mcs__pk_dec *d, size_t n, bool is_signed,
                         const uint8_t **data, size_t *len);
/* A newline-terminated text argument of at most `max` bytes (pickletools'
 * decimalnl_short, floatnl, ...), without its newline. */
int mcs__pk_take_line(mcs__pk_dec *d, size_t max, const char **s, size_t *n);

/* ---- The stack and its marks ---- */

/* Pops the top value above the fence; the caller owns out->v. */
int mcs__pk_pop(mcs__pk_dec *d, mcs__pk_slot *out);
/* Drops the values from index `from` up. */
void mcs__pk_drop_from(mcs__pk_dec *d, size_t from);
/* Charges and pushes a new scalar (reference stolen; NULL: no memory). */
int mcs__pk_push_scalar(mcs__pk_dec *d, json_t *v);
/* Charges and pushes a new empty container. */
int mcs__pk_push_container(mcs__pk_dec *d, uint8_t kind);
/* MARK: the values pushed from now on are a group (a fence below them). */
int mcs__pk_push_mark(mcs__pk_dec *d);
/* Closes the top mark; *mark: the stack index where its group begins. */
int mcs__pk_pop_mark(mcs__pk_dec *d, size_t *mark);

/* ---- Building containers ---- */

/* Appends child to the list or tuple in `parent`; child.v is stolen. */
int mcs__pk_seq_add(mcs__pk_dec *d, mcs__pk_slot *parent, mcs__pk_slot child);
/* The container at stack index i, which an opcode is about to change:
 * it must be visible, of `kind` and not frozen. */
int mcs__pk_target(mcs__pk_dec *d, size_t i, uint8_t kind, mcs__pk_slot **out);
/* Moves the values at [from, sp) into the sequence `parent`. */
int mcs__pk_move_items(mcs__pk_dec *d, mcs__pk_slot *parent, size_t from);
/* Moves the key/value pairs at [from, sp) into the dict `dict`. */
int mcs__pk_move_pairs(mcs__pk_dec *d, mcs__pk_slot *dict, size_t from);
/* Replaces the values at [from, sp) with one new container of `kind`
 * holding them (LIST, TUPLE, TUPLE1/2/3, DICT). */
int mcs__pk_build(mcs__pk_dec *d, size_t from, uint8_t kind);

/* ---- Shared references and the memo ---- */

/* Pushes another occurrence of `v` (GET, DUP). `pos` is where the
 * original was on the stack; if it is still there, it is still open, and
 * it is frozen (see the file comment of pickle_machine.c). */
int mcs__pk_push_again(mcs__pk_dec *d, json_t *v, uint8_t kind, size_t pos);
/* Memo indices are bounded by MCS__PICKLE_MEMO_MAX and by the input's
 * length: CPython numbers memo entries 0, 1, 2, ... and each costs at
 * least one byte, so the dense table never outgrows the input 16 times. */
int mcs__pk_memo_put(mcs__pk_dec *d, uint64_t index);
int mcs__pk_memo_get(mcs__pk_dec *d, uint64_t index);

/* ---- Numbers ---- */

int mcs__pk_push_int(mcs__pk_dec *d, int64_t v);
/* LONG1/LONG4 argument (pickletools: long1, long4): little-endian two's
 * complement, any length (0 bytes is 0). */
int mcs__pk_push_long_bytes(mcs__pk_dec *d, const uint8_t *s, size_t n);
/* Decimal text as CPython writes it for INT and LONG (an optional '-',
 * digits, no leading zero): an int64 or a big integer. */
int mcs__pk_push_decimal(mcs__pk_dec *d, const char *s, size_t n);
int mcs__pk_push_double(mcs__pk_dec *d, double x);

#endif /* MCS_PICKLE_MACHINE_H */
