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
 *   everything built (pickle_machine.c: MCS_ETOOBIG), nesting
 *   (max_depth), the stack and marks (MCS__PICKLE_STACK_MAX) and memo
 *   indices (MCS__PICKLE_MEMO_MAX, and the input's length).
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
 *
 * This file reads opcodes and runs their handlers; pickle_machine.c
 * (pickle_machine.h) is the machine they work: the input, the stack,
 * the marks, the memo, the values built and what they weigh.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec/pickle/pickle_machine.h"

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

/* ---- Opcode handlers (pickletools.py names) ------------------------------ */

/* A handler gets the `arg` of its table entry: an argument width, a
 * container kind, or which constant. */
typedef int (*op_fn)(mcs__pk_dec *d, unsigned arg);

static int op_proto(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  uint64_t v;
  int rc = mcs__pk_take_uint(d, 1, &v);
  if (rc == MCS_OK && v > HIGHEST_PROTOCOL)
    rc = mcs__pk_corrupt(d, "unsupported protocol (above 5)");
  return rc;
}

/* FRAME: an 8-byte length; the frame must fit in the input (as _pickle.c
 * checks); its contents are ordinary opcodes. */
static int op_frame(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  uint64_t n;
  int rc = mcs__pk_take_uint(d, 8, &n);
  if (rc == MCS_OK && n > mcs__pk_remaining(d))
    rc = mcs__pk_corrupt(d, "truncated: FRAME longer than the input");
  return rc;
}

static int op_stop(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  d->stopped = true;
  return MCS_OK;
}

/* NONE (arg 0), NEWTRUE (1), NEWFALSE (2). */
static int op_const(mcs__pk_dec *d, unsigned arg) {
  return mcs__pk_push_scalar(d,
                             arg == 0 ? json_null() : json_boolean(arg == 1));
}

/* BININT1, BININT2: unsigned, 1 or 2 bytes. */
static int op_uint(mcs__pk_dec *d, unsigned width) {
  uint64_t u;
  int rc = mcs__pk_take_uint(d, width, &u);
  return rc ? rc : mcs__pk_push_int(d, (int64_t)u);
}

/* BININT: int4, signed. */
static int op_binint(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  uint64_t u;
  int rc = mcs__pk_take_uint(d, 4, &u);
  return rc ? rc
            : mcs__pk_push_int(d, (u & 0x80000000u) ? (int64_t)u - 0x100000000
                                                    : (int64_t)u);
}

/* LONG1, LONG4: a 1-byte or (signed) 4-byte length, then the integer. */
static int op_long_bin(mcs__pk_dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = mcs__pk_take_counted(d, width, width == 4, &s, &n);
  return rc ? rc : mcs__pk_push_long_bytes(d, s, n);
}

/* INT (protocol 0): decimal text; "00" and "01" are False and True. */
static int op_int(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  const char *s;
  size_t n;
  int rc = mcs__pk_take_line(d, TEXT_ARG_MAX, &s, &n);
  if (rc)
    return rc;
  if (n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1'))
    return mcs__pk_push_scalar(d, json_boolean(s[1] == '1'));
  return mcs__pk_push_decimal(d, s, n);
}

/* LONG (protocol 0): decimal text with an optional trailing 'L'. */
static int op_long(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  const char *s;
  size_t n;
  int rc = mcs__pk_take_line(d, MCS__PICKLE_DIGITS_MAX + 2, &s, &n);
  if (rc)
    return rc;
  if (n > 0 && s[n - 1] == 'L')
    n--;
  return mcs__pk_push_decimal(d, s, n);
}

/* BINFLOAT: 8 bytes, big-endian IEEE 754 binary64. */
static int op_binfloat(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  const uint8_t *s;
  int rc = mcs__pk_take(d, 8, &s);
  if (rc)
    return rc;
  uint64_t u = 0;
  for (int i = 0; i < 8; i++)
    u = u << 8 | s[i];
  double x;
  _Static_assert(sizeof x == sizeof u, "binary64 double expected");
  memcpy(&x, &u, sizeof x);
  return mcs__pk_push_double(d, x);
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

/* The "C" locale's number format, made once (newlocale, POSIX 2008): the
 * decimal point of repr() text is '.', whatever locale the application
 * set. NULL when it could not be made (no memory). */
static locale_t c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void make_c_numeric(void) {
  c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* Python's float() of text in JSON number syntax: strtod under the "C"
 * locale, switched for this thread only (uselocale). Not jansson's
 * parser: for text over 15 bytes its lexer must grow a buffer, and
 * jansson 2.14 drops a digit and goes on when that fails (value.c,
 * mcs__json_load_exact), which would read a different float.
 * Out of range is overflow only: Python reads "1e-400" as 0.0. */
static int text_to_double(mcs__pk_dec *d, const char *s, size_t n,
                          double *x) {
  char text[TEXT_ARG_MAX + 1];
  memcpy(text, s, n); /* n <= TEXT_ARG_MAX (mcs__pk_take_line) */
  text[n] = '\0';
  pthread_once(&c_numeric_once, make_c_numeric);
  if (!c_numeric)
    return mcs__pk_nomem(d);
  locale_t was = uselocale(c_numeric);
  char *end;
  errno = 0;
  *x = strtod(text, &end);
  int range = errno == ERANGE && isinf(*x);
  uselocale(was);
  if (end != text + n || range)
    return mcs__pk_corrupt(d, "FLOAT text is out of range");
  return MCS_OK;
}

/* FLOAT (protocol 0): repr() text. Only JSON number syntax is accepted
 * ("inf", "nan", "1_0" are refused). */
static int op_float(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  const char *s;
  size_t n;
  double x;
  int rc = mcs__pk_take_line(d, TEXT_ARG_MAX, &s, &n);
  if (rc)
    return rc;
  if (!json_number_syntax(s, n))
    return mcs__pk_corrupt(d, "FLOAT text is not a finite number");
  rc = text_to_double(d, s, n, &x);
  return rc ? rc : mcs__pk_push_double(d, x);
}

static int push_str(mcs__pk_dec *d, const uint8_t *s, size_t n) {
  if (!mcs__utf8_valid((const char *)s, n))
    return mcs__pk_corrupt(d, "str is not valid UTF-8 (a lone surrogate?)");
  return mcs__pk_push_scalar(d, json_stringn_nocheck((const char *)s, n));
}

/* SHORT_BINUNICODE, BINUNICODE, BINUNICODE8: UTF-8 after a 1/4/8-byte
 * length. */
static int op_unicode(mcs__pk_dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = mcs__pk_take_counted(d, width, false, &s, &n);
  return rc ? rc : push_str(d, s, n);
}

/* SHORT_BINSTRING, BINSTRING (Python 2 str, int4 length): Python 3
 * decodes them as ASCII by default and fails on other bytes; so do we. */
static int op_binstring(mcs__pk_dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = mcs__pk_take_counted(d, width, width == 4, &s, &n);
  if (rc)
    return rc;
  for (size_t i = 0; i < n; i++)
    if (s[i] >= 0x80)
      return mcs__pk_corrupt(d, "Python 2 str that is not ASCII");
  return push_str(d, s, n);
}

/* SHORT_BINBYTES, BINBYTES, BINBYTES8. */
static int op_bytes(mcs__pk_dec *d, unsigned width) {
  const uint8_t *s;
  size_t n;
  int rc = mcs__pk_take_counted(d, width, false, &s, &n);
  return rc ? rc : mcs__pk_push_scalar(d, mcs__bytes_new(s, n));
}

/* EMPTY_LIST, EMPTY_TUPLE, EMPTY_DICT. */
static int op_empty(mcs__pk_dec *d, unsigned kind) {
  return mcs__pk_push_container(d, (uint8_t)kind);
}

/* APPEND: list, value -> list (the list must be above the fence). */
static int op_append(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  mcs__pk_slot *list, value;
  if (mcs__pk_visible(d) < 2)
    return mcs__pk_underflow(d);
  int rc = mcs__pk_target(d, d->sp - 2, MCS__PK_LIST, &list);
  if (rc == MCS_OK)
    rc = mcs__pk_pop(d, &value);
  return rc ? rc : mcs__pk_seq_add(d, list, value);
}

/* SETITEM: dict, key, value -> dict. */
static int op_setitem(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  mcs__pk_slot *dict;
  if (mcs__pk_visible(d) < 3)
    return mcs__pk_underflow(d);
  int rc = mcs__pk_target(d, d->sp - 3, MCS__PK_DICT, &dict);
  return rc ? rc : mcs__pk_move_pairs(d, dict, d->sp - 2);
}

/* APPENDS (kind list), SETITEMS (kind dict): the container sits just
 * below the mark. */
static int op_batch(mcs__pk_dec *d, unsigned kind) {
  size_t mark;
  mcs__pk_slot *c;
  int rc = mcs__pk_pop_mark(d, &mark);
  if (rc == MCS_OK && mark == 0)
    rc = mcs__pk_underflow(d);
  if (rc == MCS_OK)
    rc = mcs__pk_target(d, mark - 1, (uint8_t)kind, &c);
  if (rc)
    return rc;
  return kind == MCS__PK_LIST ? mcs__pk_move_items(d, c, mark)
                              : mcs__pk_move_pairs(d, c, mark);
}

/* LIST, TUPLE, DICT: a container of everything since the mark. */
static int op_from_mark(mcs__pk_dec *d, unsigned kind) {
  size_t mark;
  int rc = mcs__pk_pop_mark(d, &mark);
  return rc ? rc : mcs__pk_build(d, mark, (uint8_t)kind);
}

/* TUPLE1, TUPLE2, TUPLE3. */
static int op_tuple_n(mcs__pk_dec *d, unsigned n) {
  return mcs__pk_visible(d) < n ? mcs__pk_underflow(d)
                                : mcs__pk_build(d, d->sp - n, MCS__PK_TUPLE);
}

static int op_mark(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  return mcs__pk_push_mark(d);
}

/* POP drops the top mark if it is at the top of the stack, else a value
 * (_pickle.c's load_pop). */
static int op_pop(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  if (d->nmarks && d->marks[d->nmarks - 1] == d->sp) {
    d->nmarks--;
    return MCS_OK;
  }
  if (mcs__pk_visible(d) == 0)
    return mcs__pk_underflow(d);
  mcs__pk_drop_from(d, d->sp - 1);
  return MCS_OK;
}

static int op_pop_mark(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  size_t mark;
  int rc = mcs__pk_pop_mark(d, &mark);
  if (rc == MCS_OK)
    mcs__pk_drop_from(d, mark);
  return rc;
}

static int op_dup(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  if (mcs__pk_visible(d) == 0)
    return mcs__pk_underflow(d);
  mcs__pk_slot top = d->stack[d->sp - 1];
  return mcs__pk_push_again(d, top.v, top.kind, d->sp - 1);
}

/* A memo index: uint1 or uint4 (width 1, 4), or decimal text (width 0,
 * protocol 0's PUT and GET). */
static int memo_index(mcs__pk_dec *d, unsigned width, uint64_t *index) {
  if (width)
    return mcs__pk_take_uint(d, width, index);
  const char *s;
  size_t n;
  int rc = mcs__pk_take_line(d, TEXT_ARG_MAX, &s, &n);
  if (rc)
    return rc;
  if (n == 0 || n > 9)
    return mcs__pk_corrupt(d, "malformed memo index");
  *index = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return mcs__pk_corrupt(d, "malformed memo index");
    *index = *index * 10 + (uint64_t)(s[i] - '0');
  }
  return MCS_OK;
}

/* PUT, BINPUT, LONG_BINPUT. */
static int op_put(mcs__pk_dec *d, unsigned width) {
  uint64_t i;
  int rc = memo_index(d, width, &i);
  return rc ? rc : mcs__pk_memo_put(d, i);
}

/* MEMOIZE stores at index len(memo), as pickle.py does. */
static int op_memoize(mcs__pk_dec *d, unsigned arg) {
  (void)arg;
  return mcs__pk_memo_put(d, d->memo_count);
}

/* GET, BINGET, LONG_BINGET. */
static int op_get(mcs__pk_dec *d, unsigned width) {
  uint64_t i;
  int rc = memo_index(d, width, &i);
  return rc ? rc : mcs__pk_memo_get(d, i);
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
    [OP_EMPTY_LIST] = RUN(op_empty, MCS__PK_LIST),
    [OP_EMPTY_TUPLE] = RUN(op_empty, MCS__PK_TUPLE),
    [OP_EMPTY_DICT] = RUN(op_empty, MCS__PK_DICT),
    [OP_APPEND] = RUN(op_append, 0),
    [OP_APPENDS] = RUN(op_batch, MCS__PK_LIST),
    [OP_SETITEM] = RUN(op_setitem, 0),
    [OP_SETITEMS] = RUN(op_batch, MCS__PK_DICT),
    [OP_LIST] = RUN(op_from_mark, MCS__PK_LIST),
    [OP_TUPLE] = RUN(op_from_mark, MCS__PK_TUPLE),
    [OP_DICT] = RUN(op_from_mark, MCS__PK_DICT),
    [OP_TUPLE1] = RUN(op_tuple_n, 1),
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

static int run(mcs__pk_dec *d) {
  while (!d->stopped) {
    if (d->p == d->end) {
      d->op = NULL;
      return mcs__pk_corrupt(d, "truncated: no STOP");
    }
    d->op = d->p++;
    const op_info *o = &ops[*d->op];
    if (!o->fn)
      return mcs__pk_corrupt(d, o->refusal ? o->refusal : "unknown opcode");
    int rc = o->fn(d, o->arg);
    if (rc)
      return rc;
  }
  d->op = NULL;
  if (d->p != d->end)
    return mcs__pk_corrupt(d, "bytes after STOP");
  if (d->sp != 1 || d->nmarks != 0)
    return mcs__pk_corrupt(d, "STOP must leave exactly one value and no MARK");
  return MCS_OK;
}

/* The top-level dict's keys are session keys, and (defence in depth)
 * each value passes the model's own checker. The dict itself is not
 * checked as a value: a session whose one key is "$int" is no tagged
 * value. */
static int check_session(mcs__pk_dec *d, json_t *data) {
  const char *key;
  json_t *v;
  json_object_foreach(data, key, v) {
    if (!mcs__key_valid(key))
      return mcs__pk_corrupt(
          d, "top-level key is not a session key (1..256 bytes)");
    int rc = mcs__value_check(v, d->max_height - 1);
    if (rc)
      return rc == MCS_ENOMEM ? mcs__pk_nomem(d)
                              : mcs__pk_corrupt(d, "value check failed");
  }
  return MCS_OK;
}

/* Turns the value left by STOP into the record's data. */
static int finish(mcs__pk_dec *d, mcs__record *out, bool *not_a_dict) {
  mcs__pk_slot *top = &d->stack[0];
  if (top->kind != MCS__PK_DICT) {
    *not_a_dict = true;
    out->data = json_object();
    return out->data ? MCS_OK : mcs__pk_nomem(d);
  }
  int rc = check_session(d, top->v);
  if (rc)
    return rc;
  out->data = json_incref(top->v);
  return MCS_OK;
}

static void dec_free(mcs__pk_dec *d) {
  mcs__pk_drop_from(d, 0);
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
  mcs__pk_dec d = {.p = buf, .end = buf + len, .len = len};
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
