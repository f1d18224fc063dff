/*
 * The pickle codec, inside the codec wing: the record format of tornado
 * mode (docs/design.md, "Tornado mode"). The Tornado recipe stores `pickle.dumps(dict, HIGHEST_PROTOCOL)`
 * with memcached flags 0; this codec reads such records into the session
 * value model (mcsession.h, "Values") and writes records that CPython's
 * pickle.loads turns back into equal values.
 *
 * Decoding (pickle_decode.c, over pickle_machine.c) treats the bytes as
 * hostile. It runs no code: it understands only the opcodes that build
 * None, bool, int, float, str, bytes, list, tuple (read as a list) and
 * dict, and refuses every opcode that could import or call anything
 * (GLOBAL, REDUCE, BUILD, ...) with MCS_ECORRUPT. Limits: the input and the fully expanded data are bounded
 * by the size limit (MCS_ETOOBIG), nesting by the depth limit, the stack,
 * the marks and the memo by the constants below (MCS_ECORRUPT).
 *
 * Encoding (pickle_encode.c) writes protocol 4 without a memo: byte for
 * byte what CPython's own pickler writes for the same value with its memo
 * turned off (Pickler.fast = True), for records under 64 KiB.
 */
#ifndef MCS_PICKLE_H
#define MCS_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "codec/codec_int.h"

/* Room on top of limits->max_bytes for the pickle's own framing (PROTO,
 * FRAME, EMPTY_DICT, STOP), as the JSON codec allows for its envelope. */
#define MCS__PICKLE_SLACK 128
/* Memo indices must be below this and below the input's length (a dense
 * table of 16-byte entries is sized by the highest index used; CPython
 * numbers entries from 0 and each costs at least one input byte). */
#define MCS__PICKLE_MEMO_MAX 65536
/* Values and marks on the unpickling stack at any one time. CPython's
 * pickler never needs more than a batch (1000 items) per nesting level. */
#define MCS__PICKLE_STACK_MAX 65536
/* Digits of the largest integer accepted: CPython's default limit for
 * int <-> str conversion (sys.get_int_max_str_digits()), which is also the
 * limit of the {"$int": "<digits>"} form. */
#define MCS__PICKLE_DIGITS_MAX 4300

/* What the decoder found besides the data. Every field is set by every
 * call. */
typedef struct mcs__pickle_info {
  /* The pickle was valid but its top level is not a dict (the recipe then
   * treats the session as empty): the record holds an empty data object,
   * and the caller must not overwrite the stored record unless the
   * application writes. */
  bool not_a_dict;
  /* Why decoding failed: static English text for logs and tests, NULL on
   * success. Never contains input bytes. */
  const char *reason;
  /* Byte offset and value of the opcode that failed; -1 when the failure
   * is not tied to one opcode (size limit, missing STOP). */
  long long offset;
  int opcode;
} mcs__pickle_info;

/* Decodes a pickled dict into `out` (created = 0, rev = 0,
 * retired_until = 0, data = a new JSON object). `info` may be NULL.
 *   MCS_OK        data decoded (info->not_a_dict: top level not a dict, data
 *                 empty)
 *   MCS_ECORRUPT  malformed, refused opcode, unsupported value, over the
 *                 depth, stack or memo bound (info->reason says which)
 *   MCS_ETOOBIG   input longer than max_bytes + MCS__PICKLE_SLACK, or data
 *                 that expands (through shared references) beyond that
 *   MCS_ENOMEM
 * On error `out` is left empty and nothing is leaked. */
int mcs__pickle_decode(const uint8_t *buf, size_t len,
                       const mcs__limits *limits, mcs__record *out,
                       mcs__pickle_info *info);

/* Pickles `data` (a JSON object in the value model) into `out` (reset
 * first). MCS_OK; MCS_EINVAL for data outside the model (not an object,
 * NaN, malformed tagged value, nested deeper than limits->max_depth, a
 * string that is not UTF-8); MCS_ETOOBIG above max_bytes +
 * MCS__PICKLE_SLACK; MCS_ENOMEM. */
int mcs__pickle_encode(const json_t *data, const mcs__limits *limits,
                       mcs__buf *out);

/* ---- Big integers (pickle_long.c) ----
 * A two's-complement integer of more bytes than this has more than 4300
 * decimal digits (2^(8 * 1786) > 10^4300); the text buffer fits its
 * digits and sign. */
#define MCS__PICKLE_LONG_BYTES_MAX 1787
#define MCS__PICKLE_LONG_LIMBS ((MCS__PICKLE_LONG_BYTES_MAX + 3) / 4)
#define MCS__PICKLE_LONG_TEXT_MAX (MCS__PICKLE_LONG_LIMBS * 10 + 2)
/* Room for mcs__pickle_long_bytes' output: whole limbs plus a sign byte. */
#define MCS__PICKLE_LONG_BUF (MCS__PICKLE_LONG_LIMBS * 4 + 1)
/* Length of s[0..n) without bytes that are only sign extension. */
size_t mcs__pickle_long_trim(const uint8_t *s, size_t n);
/* Decimal text of the n-byte two's-complement integer s (n > 8 after
 * trimming, so never zero) into text[MCS__PICKLE_LONG_TEXT_MAX]; returns
 * its length. */
size_t mcs__pickle_long_text(const uint8_t *s, size_t n, char *text);
/* Two's-complement little-endian bytes of decimal text (an optional '-',
 * at most 4300 digits, already checked) into x[MCS__PICKLE_LONG_BUF],
 * untrimmed (one spare byte holds the sign); returns the length. */
size_t mcs__pickle_long_bytes(const char *s, size_t n, uint8_t *x);


#endif /* MCS_PICKLE_H */
