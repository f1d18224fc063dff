/* Signed values in Tornado's format version 2 (tornado/web.py:
 * create_signed_value, _decode_fields_v2, _decode_signed_value_v2):
 *
 *   2|<len>:<key_version>|<len>:<timestamp>|<len>:<name>|<len>:<b64>|<sig>
 *
 * <len> is the decimal byte length of the field after it, <b64> the value
 * in standard padded base64, <sig> the lowercase hex HMAC-SHA256 of every
 * byte before it (through the last '|').
 *
 * The parser is stricter than Tornado's (which takes anything int() takes):
 * it accepts exactly the canonical form create_signed_value writes, so a
 * value that verifies is one mcs_sign would have written byte for byte.
 * It never allocates and reads only inside [in, in + len). */
#include <string.h>

#include <sodium.h>

#include "crypto/crypto_int.h"

#define SIG_HEX_LEN (2 * crypto_auth_hmacsha256_BYTES)
/* 5 digits cover the longest field (the base64 value, B64_FIELD_MAX). */
#define LEN_DIGITS_MAX 5
#define KEY_VERSION_DIGITS_MAX 7 /* MCS_KEY_VERSION_MAX = 1000000 */
#define TIMESTAMP_DIGITS_MAX 19  /* INT64_MAX has 19 digits */
/* Base64 of MCS_SIGNED_VALUE_MAX bytes. */
#define B64_FIELD_MAX (4u * ((MCS_SIGNED_VALUE_MAX + 2u) / 3u))
/* MCS_SIGNED_MAX_LEN counts the NUL; inputs are measured without it. */
#define SIGNED_INPUT_MAX                                                     \
  (MCS_SIGNED_MAX_LEN(MCS_SIGNED_NAME_MAX, MCS_SIGNED_VALUE_MAX) - 1u)

/* ---- Shared helpers ---------------------------------------------------- */

/* Names are cookie names in practice: printable ASCII without space.
 * (Tornado takes any string; its length prefix, not the alphabet, delimits
 * it.) Sign and verify apply the same rule, so verify accepts exactly the
 * names sign can write. */
static bool name_ok(const char *name, size_t len) {
  if (len == 0 || len > MCS_SIGNED_NAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
      return false;
  return true;
}

/* Lowercase hex HMAC-SHA256 into hex[SIG_HEX_LEN + 1], NUL-terminated,
 * from the key's precomputed state (the key ring keys it once; libsodium's
 * init hashes keys longer than a block, as RFC 2104 and Python's hmac do,
 * so any secret length gives Tornado's result). */
static void hmac_hex(const mcs__hmac *key, const void *msg, size_t len,
                     char *hex) {
  unsigned char mac[MCS__HMAC_BYTES];
  mcs__hmac_mac(key, msg, len, mac);
  sodium_bin2hex(hex, SIG_HEX_LEN + 1, mac, sizeof mac);
  /* The MAC may be a valid signature for a message an attacker chose: it
   * may not linger on the stack. */
  sodium_memzero(mac, sizeof mac);
}

/* ---- Parsing ------------------------------------------------------------ */

/* A canonical decimal number of 1..max_digits digits: no sign, no spaces,
 * no leading zero except "0" itself. max_digits <= 19 keeps it in 64 bits. */
static bool parse_digits(const char *s, size_t n, size_t max_digits,
                         uint64_t *out) {
  if (n == 0 || n > max_digits || (n > 1 && s[0] == '0'))
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

typedef struct cursor {
  const char *p;
  const char *end;
} cursor;

/* Consumes "<len>:<field>|". The length is looked for only in the next
 * LEN_DIGITS_MAX + 1 bytes, and the field must end before the input does,
 * so no read goes past `end`. */
static bool take_field(cursor *c, const char **field, size_t *len) {
  size_t avail = (size_t)(c->end - c->p);
  size_t n = 0;
  while (n < avail && n <= LEN_DIGITS_MAX && c->p[n] != ':')
    n++;
  uint64_t flen;
  if (n == avail || !parse_digits(c->p, n, LEN_DIGITS_MAX, &flen))
    return false;
  const char *start = c->p + n + 1;
  if (flen >= (size_t)(c->end - start) || start[flen] != '|')
    return false;
  *field = start;
  *len = (size_t)flen;
  c->p = start + flen + 1;
  return true;
}

bool mcs__lower_hex(const char *s, size_t n, size_t want) {
  if (n != want)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

/* Tornado writes hexdigest(), which is lowercase; uppercase is refused so
 * that one MAC has exactly one spelling. */
static bool signature_ok(const char *s, size_t n) {
  return mcs__lower_hex(s, n, SIG_HEX_LEN);
}

static bool parse_numbers(const char *kv, size_t kv_len, const char *ts,
                          size_t ts_len, mcs__signed_parts *p) {
  uint64_t v, t;
  if (!parse_digits(kv, kv_len, KEY_VERSION_DIGITS_MAX, &v) ||
      v > MCS_KEY_VERSION_MAX)
    return false;
  if (!parse_digits(ts, ts_len, TIMESTAMP_DIGITS_MAX, &t) ||
      t > (uint64_t)INT64_MAX)
    return false;
  p->key_version = (unsigned)v;
  p->timestamp = (int64_t)t;
  return true;
}

int mcs__signed_parse(const char *in, size_t len, mcs__signed_parts *out) {
  if (!in || !out || len < 2 || len > SIGNED_INPUT_MAX || in[0] != '2' ||
      in[1] != '|')
    return MCS_EBADSIG;
  cursor c = {in + 2, in + len};
  mcs__signed_parts p;
  const char *kv, *ts;
  size_t kv_len, ts_len;
  if (!take_field(&c, &kv, &kv_len) || !take_field(&c, &ts, &ts_len) ||
      !take_field(&c, &p.name, &p.name_len) ||
      !take_field(&c, &p.b64, &p.b64_len))
    return MCS_EBADSIG;
  if (!parse_numbers(kv, kv_len, ts, ts_len, &p) ||
      !name_ok(p.name, p.name_len) || p.b64_len > B64_FIELD_MAX ||
      !mcs__b64_shape_ok(p.b64, p.b64_len) ||
      !signature_ok(c.p, (size_t)(c.end - c.p)))
    return MCS_EBADSIG;
  p.signature = c.p;
  p.signed_len = (size_t)(c.p - in);
  *out = p;
  return MCS_OK;
}

/* ---- Verifying ---------------------------------------------------------- */

static bool signature_matches(const mcs_keyring *ring, const char *in,
                              const mcs__signed_parts *p) {
  const mcs__hmac *key = mcs__keyring_hmac(ring, p->key_version);
  if (!key)
    return false; /* key versions are public; no need to hide a miss */
  char expected[SIG_HEX_LEN + 1];
  hmac_hex(key, in, p->signed_len, expected);
  bool ok = sodium_memcmp(expected, p->signature, SIG_HEX_LEN) == 0;
  sodium_memzero(expected, sizeof expected);
  return ok;
}

static bool name_matches(const char *name, const mcs__signed_parts *p) {
  size_t n = strnlen(name, MCS_SIGNED_NAME_MAX + 1);
  return n == p->name_len && memcmp(name, p->name, n) == 0;
}

/* Tornado's rule: expired when timestamp < now - max_age. Written so that
 * now - max_age_s cannot overflow; when it would, every timestamp (all are
 * >= 0) is recent enough. Future timestamps pass, as in Tornado. */
bool mcs__signature_too_old(int64_t timestamp, int64_t now,
                            int64_t max_age_s) {
  if (max_age_s < 0 || now < INT64_MIN + max_age_s)
    return false;
  return timestamp < now - max_age_s;
}

/* Decodes into a local buffer first so that MCS_ELIMIT is reported only for
 * well-formed values, and *value_len tells the caller the size needed. */
static int decode_value(const mcs__signed_parts *p, void *out, size_t size,
                        size_t *len) {
  uint8_t buf[MCS_SIGNED_VALUE_MAX];
  size_t n = 0;
  int rc = MCS_EBADSIG;
  if (mcs__b64_decode(p->b64, p->b64_len, buf, sizeof buf, &n) == MCS_OK) {
    *len = n;
    rc = n > size ? MCS_ELIMIT : MCS_OK;
    if (rc == MCS_OK && n)
      memcpy(out, buf, n);
  }
  sodium_memzero(buf, sizeof buf); /* the value is often a session id */
  return rc;
}

int mcs__verify_at(const mcs_keyring *ring, const char *name,
                   const char *signed_value, size_t signed_len, int64_t now,
                   int64_t max_age_s, void *value_out, size_t value_size,
                   size_t *value_len, int64_t *timestamp) {
  if (!ring || !name || !signed_value || !value_len ||
      (!value_out && value_size))
    return MCS_EINVAL;
  mcs__signed_parts p;
  /* The structure is checked before the HMAC: its outcome depends only on
   * the attacker's own bytes, so it needs no constant-time treatment. */
  if (mcs__signed_parse(signed_value, signed_len, &p) != MCS_OK ||
      !signature_matches(ring, signed_value, &p) || !name_matches(name, &p) ||
      mcs__signature_too_old(p.timestamp, now, max_age_s))
    return MCS_EBADSIG;
  if (timestamp)
    *timestamp = p.timestamp;
  return decode_value(&p, value_out, value_size, value_len);
}

int mcs_verify(const mcs_keyring *ring, const char *name,
               const char *signed_value, size_t signed_len, int64_t now,
               int64_t max_age_s, void *value_out, size_t value_size,
               size_t *value_len) {
  return mcs__verify_at(ring, name, signed_value, signed_len, now, max_age_s,
                        value_out, value_size, value_len, NULL);
}

/* ---- Inspecting --------------------------------------------------------- */

static const char B64_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decodes the value as Tornado reads it: Python's b64decode ignores the
 * unused bits of the last character before the padding, which libsodium
 * (and so mcs_verify) refuses when they are not zero. They are cleared in
 * a copy first. */
static int decode_as_tornado(const mcs__signed_parts *p, void *out, size_t size,
                             size_t *len) {
  char b64[B64_FIELD_MAX];
  size_t n = p->b64_len; /* <= B64_FIELD_MAX, a multiple of 4 (parse) */
  memcpy(b64, p->b64, n);
  size_t pad = (n >= 1 && b64[n - 1] == '=') + (n >= 2 && b64[n - 2] == '=');
  if (pad) {
    /* The last data character carries 2 (one '=') or 4 (two) unused bits. */
    char *last = &b64[n - pad - 1];
    unsigned bits = (unsigned)(strchr(B64_ALPHABET, *last) - B64_ALPHABET);
    *last = B64_ALPHABET[bits & ~((1u << (2 * pad)) - 1u)];
  }
  mcs__signed_parts q = *p;
  q.b64 = b64;
  return decode_value(&q, out, size, len);
}

int mcs_signed_inspect(const char *signed_value, size_t signed_len,
                       mcs_signed_info *info, void *value_out,
                       size_t value_size, size_t *value_len) {
  if (!signed_value || !info || !value_len || (!value_out && value_size))
    return MCS_EINVAL;
  memset(info, 0, sizeof *info);
  *value_len = 0;
  mcs__signed_parts p;
  if (mcs__signed_parse(signed_value, signed_len, &p) != MCS_OK)
    return MCS_EBADSIG;
  int rc = decode_as_tornado(&p, value_out, value_size, value_len);
  if (rc != MCS_OK && rc != MCS_ELIMIT)
    return rc; /* cannot happen: parse checked the shape */
  memcpy(info->name, p.name, p.name_len); /* name_ok: <= NAME_MAX bytes */
  info->key_version = p.key_version;
  info->timestamp = p.timestamp;
  return rc;
}

/* ---- Signing ------------------------------------------------------------ */

static size_t dec_len(uint64_t v) {
  size_t n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

static char *put_dec(char *p, uint64_t v) {
  size_t n = dec_len(v);
  for (size_t i = n; i-- > 0; v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + n;
}

/* Bytes taken by "<len>:<field>|" for a field of n bytes. */
static size_t field_size(size_t n) { return dec_len(n) + 1 + n + 1; }

static char *put_number_field(char *p, uint64_t v) {
  p = put_dec(p, dec_len(v));
  *p++ = ':';
  p = put_dec(p, v);
  *p++ = '|';
  return p;
}

static char *put_bytes_field(char *p, const char *data, size_t n) {
  p = put_dec(p, n);
  *p++ = ':';
  memcpy(p, data, n);
  p += n;
  *p++ = '|';
  return p;
}

/* The base64 is written in place; its NUL lands where the '|' goes. */
static char *put_b64_field(char *p, const void *value, size_t value_len) {
  p = put_dec(p, mcs__b64_len(value_len));
  *p++ = ':';
  p += mcs__b64_encode(value_len ? value : "", value_len, p);
  *p++ = '|';
  return p;
}

typedef struct sign_input {
  unsigned version;
  int64_t timestamp;
  const char *name;
  size_t name_len;
  const void *value;
  size_t value_len;
} sign_input;

static size_t signed_size(const sign_input *in) {
  return 2 + field_size(dec_len(in->version)) +
         field_size(dec_len((uint64_t)in->timestamp)) +
         field_size(in->name_len) + field_size(mcs__b64_len(in->value_len)) +
         SIG_HEX_LEN;
}

/* Writes everything the signature covers; returns its length. */
static size_t put_to_sign(char *out, const sign_input *in) {
  char *p = out;
  *p++ = '2';
  *p++ = '|';
  p = put_number_field(p, in->version);
  p = put_number_field(p, (uint64_t)in->timestamp);
  p = put_bytes_field(p, in->name, in->name_len);
  p = put_b64_field(p, in->value, in->value_len);
  return (size_t)(p - out);
}

/* Validates everything but the key, and measures the name without
 * reading past MCS_SIGNED_NAME_MAX + 1 bytes of it. */
static int check_sign_input(const char *name, const void *value,
                            size_t value_len, int64_t timestamp,
                            size_t *name_len) {
  if (!name || (!value && value_len) || timestamp < 0)
    return MCS_EINVAL;
  size_t n = strnlen(name, MCS_SIGNED_NAME_MAX + 1);
  if (n > MCS_SIGNED_NAME_MAX || value_len > MCS_SIGNED_VALUE_MAX)
    return MCS_ELIMIT;
  if (!name_ok(name, n))
    return MCS_EINVAL;
  *name_len = n;
  return MCS_OK;
}

/* key_version < 0 selects the current (highest) key. */
static int pick_key(const mcs_keyring *ring, long key_version,
                    unsigned *version, const mcs__hmac **key) {
  if (key_version > (long)MCS_KEY_VERSION_MAX)
    return MCS_EINVAL;
  if (key_version < 0) {
    if (mcs_keyring_current(ring, version))
      return MCS_EINVAL;
  } else {
    *version = (unsigned)key_version;
  }
  *key = mcs__keyring_hmac(ring, *version);
  return *key ? MCS_OK : MCS_EINVAL;
}

int mcs_sign(const mcs_keyring *ring, long key_version, const char *name,
             const void *value, size_t value_len, int64_t timestamp,
             char *out, size_t out_size, size_t *out_len) {
  if (out && out_size)
    out[0] = '\0'; /* a failed call never leaves a stale value behind */
  if (!ring || !out)
    return MCS_EINVAL;
  sign_input in = {0, timestamp, name, 0, value, value_len};
  const mcs__hmac *key = NULL;
  int rc = check_sign_input(name, value, value_len, timestamp, &in.name_len);
  if (rc == MCS_OK)
    rc = pick_key(ring, key_version, &in.version, &key);
  if (rc)
    return rc;
  if (signed_size(&in) >= out_size)
    return MCS_ELIMIT;
  size_t n = put_to_sign(out, &in);
  hmac_hex(key, out, n, out + n);
  if (out_len)
    *out_len = n + SIG_HEX_LEN;
  return MCS_OK;
}
