/*
 * RESP2, the Redis serialization protocol ("RESP protocol specification"
 * in the Redis documentation): commands are arrays of bulk strings;
 * replies are simple strings (+), errors (-), integers (:), bulk strings
 * ($, $-1 null) and arrays (*, *-1 null), each line ended by CR LF.
 *
 * No I/O here. The parser never allocates and only points into the
 * caller's buffer, so it can be fuzzed alone (tests/fuzz/fuzz_rd_reply.c).
 * It is strict: RESP3 types (which a server sends only after HELLO 3,
 * never to us), bare LF, signs or leading garbage in lengths, lines over
 * MCS__RD_LINE_MAX or nesting over MCS__RD_DEPTH_MAX are MCS_EPROTO, and
 * the caller then closes the connection rather than guess.
 *
 * Also here: the header stored in front of every value, the CAS script,
 * and the cluster's key slot.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "store/redis/rd_int.h"

/* ------------------------------------------------------------------------ */
/* Formatting                                                               */
/* ------------------------------------------------------------------------ */

/* "<c><n>\r\n" into tmp; returns its length. */
static size_t header(char *tmp, char c, size_t n) {
  char digits[24];
  size_t d = 0, o = 0;
  do
    digits[d++] = (char)('0' + n % 10);
  while ((n /= 10) != 0);
  tmp[o++] = c;
  while (d)
    tmp[o++] = digits[--d];
  tmp[o++] = '\r';
  tmp[o++] = '\n';
  return o;
}

int mcs__rd_format(mcs__buf *out, const mcs__rd_arg *argv, size_t argc) {
  if (!argc || argc > MCS__RD_ARGS_MAX)
    return MCS_EINVAL;
  char tmp[32];
  size_t old = out->len, need = header(tmp, '*', argc);
  for (size_t i = 0; i < argc; i++)
    need += 32 + argv[i].n + argv[i].n2;
  if (mcs__buf_reserve(out, need) != MCS_OK)
    return MCS_ENOMEM;
  int rc = mcs__buf_append(out, tmp, header(tmp, '*', argc));
  for (size_t i = 0; i < argc && rc == MCS_OK; i++) {
    const mcs__rd_arg *a = &argv[i];
    /* Binary safe: a bulk string is its length, then exactly that many
     * bytes; nothing in an argument can end it early (no injection). */
    rc = mcs__buf_append(out, tmp, header(tmp, '$', a->n + a->n2));
    if (rc == MCS_OK && a->n)
      rc = mcs__buf_append(out, a->p, a->n);
    if (rc == MCS_OK && a->n2)
      rc = mcs__buf_append(out, a->p2, a->n2);
    if (rc == MCS_OK)
      rc = mcs__buf_append(out, "\r\n", 2);
  }
  if (rc != MCS_OK)
    out->len = old;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct parser {
  const uint8_t *buf;
  size_t len, pos, max_bulk;
  mcs__rd_node *nodes;
  size_t max, count;
} parser;

/* The line at pos (without CR LF) and where the next begins. */
static int line(parser *ps, const uint8_t **p, size_t *n) {
  size_t avail = ps->len - ps->pos;
  size_t lim = avail < MCS__RD_LINE_MAX + 2 ? avail : MCS__RD_LINE_MAX + 2;
  const uint8_t *s = ps->buf + ps->pos;
  const uint8_t *lf = memchr(s, '\n', lim);
  if (!lf)
    return lim == avail ? MCS__RD_NEED_MORE : MCS_EPROTO;
  size_t k = (size_t)(lf - s);
  if (k == 0 || s[k - 1] != '\r')
    return MCS_EPROTO; /* a bare LF is not RESP */
  *p = s;
  *n = k - 1;
  ps->pos += k + 1;
  return MCS_OK;
}

/* A decimal integer, optional '-', no '+', no spaces, no leading zeros
 * beyond "0", within int64. */
static bool number(const uint8_t *p, size_t n, int64_t *out) {
  bool neg = n > 0 && p[0] == '-';
  size_t i = neg;
  uint64_t v = 0;
  if (i == n || n - i > 19 || (p[i] == '0' && n - i > 1))
    return false;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(p[i] - '0');
  }
  if (v > (uint64_t)INT64_MAX)
    return false;
  *out = neg ? -(int64_t)v : (int64_t)v;
  return true;
}

static bool printable(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x20 && p[i] != '\t')
      return false;
  return true;
}

static int value(parser *ps, int depth);

static int elements(parser *ps, int64_t n, int depth) {
  if (depth >= MCS__RD_DEPTH_MAX)
    return MCS_EPROTO;
  for (int64_t i = 0; i < n; i++) {
    int rc = value(ps, depth + 1);
    if (rc)
      return rc;
  }
  return MCS_OK;
}

static int value(parser *ps, int depth) {
  if (ps->pos >= ps->len)
    return MCS__RD_NEED_MORE;
  if (ps->count == ps->max)
    return MCS_ETOOBIG;
  mcs__rd_node *nd = &ps->nodes[ps->count++];
  const uint8_t *p;
  size_t n;
  int rc = line(ps, &p, &n);
  if (rc)
    return rc;
  memset(nd, 0, sizeof *nd);
  nd->type = (mcs__rd_type)p[0];
  nd->p = p + 1;
  nd->len = n - 1;
  switch (p[0]) {
  case '+':
  case '-':
    return printable(nd->p, nd->len) ? MCS_OK : MCS_EPROTO;
  case ':':
    return number(nd->p, nd->len, &nd->i) ? MCS_OK : MCS_EPROTO;
  case '$':
  case '*':
    if (!number(nd->p, nd->len, &nd->i) || nd->i < -1)
      return MCS_EPROTO;
    nd->p = NULL;
    nd->len = 0;
    if (nd->i == -1) {
      nd->type = MCS__RD_NIL;
      nd->i = 0;
      return MCS_OK;
    }
    if (p[0] == '*')
      /* Every element is at least 3 bytes ("+\r\n"): a count the
       * remaining bytes could never hold waits for more, bounded by the
       * node limit first. */
      return (uint64_t)nd->i > ps->max - ps->count ? MCS_ETOOBIG
                                                   : elements(ps, nd->i, depth);
    if ((uint64_t)nd->i > ps->max_bulk)
      return MCS_ETOOBIG;
    if (ps->len - ps->pos < (size_t)nd->i + 2)
      return MCS__RD_NEED_MORE;
    nd->p = ps->buf + ps->pos;
    nd->len = (size_t)nd->i;
    ps->pos += nd->len + 2;
    return ps->buf[ps->pos - 2] == '\r' && ps->buf[ps->pos - 1] == '\n'
               ? MCS_OK
               : MCS_EPROTO;
  default: /* RESP3 types, or not RESP at all (memcached's "ERROR") */
    return MCS_EPROTO;
  }
}

int mcs__rd_parse(const uint8_t *buf, size_t len, size_t max_bulk,
                  mcs__rd_node *nodes, size_t max, size_t *count,
                  size_t *consumed) {
  parser ps = {buf, buf ? len : 0, 0, max_bulk, nodes, max, 0};
  *count = 0;
  *consumed = 0;
  if (!max)
    return MCS_ETOOBIG;
  int rc = value(&ps, 0);
  if (rc)
    return rc;
  *count = ps.count;
  *consumed = ps.pos;
  return MCS_OK;
}

bool mcs__rd_err_is(const mcs__rd_node *n, const char *word) {
  size_t w = strlen(word);
  return n->type == MCS__RD_ERROR && n->len >= w &&
         memcmp(n->p, word, w) == 0 && (n->len == w || n->p[w] == ' ');
}

/* ------------------------------------------------------------------------ */
/* Stored values                                                            */
/* ------------------------------------------------------------------------ */

static const uint8_t magic[4] = {0, 'm', 'c', 'r'};

void mcs__rd_hdr_put(uint8_t out[MCS__RD_HDR_LEN], uint64_t token,
                     uint32_t flags) {
  memcpy(out, magic, 4);
  for (int i = 0; i < 8; i++)
    out[4 + i] = (uint8_t)(token >> (56 - 8 * i));
  for (int i = 0; i < 4; i++)
    out[12 + i] = (uint8_t)(flags >> (24 - 8 * i));
}

int mcs__rd_hdr_get(const uint8_t *v, size_t len, uint64_t *token,
                    uint32_t *flags) {
  if (len < MCS__RD_HDR_LEN || memcmp(v, magic, 4) != 0)
    return MCS_EPROTO;
  uint64_t t = 0;
  uint32_t f = 0;
  for (int i = 0; i < 8; i++)
    t = t << 8 | v[4 + i];
  for (int i = 0; i < 4; i++)
    f = f << 8 | v[12 + i];
  if (t == 0)
    return MCS_EPROTO;
  *token = t;
  *flags = f;
  return MCS_OK;
}

uint64_t mcs__rd_token_new(void) {
  uint64_t t = 0;
  /* 64 random bits: two writes of a key draw the same token with
   * probability 2^-64, which is what "a token no earlier state of the key
   * had" needs in practice; a counter would need a second key (another
   * slot in a cluster) or a script on every write. */
  while (t == 0)
    randombytes_buf(&t, sizeof t);
  return t;
}

/* The compare-and-swap, run atomically by the server ("EVAL": "Redis
 * guarantees the script's atomic execution"): KEYS[1] the key, ARGV[1]
 * the 12 bytes the stored value must start with (magic and the token the
 * caller read), ARGV[2] the new value (with its new header), ARGV[3] the
 * TTL in seconds ("0": none). Returns 0 for no such key (GETRANGE of a
 * missing key is ""; a stored value is never shorter than its header),
 * 1 for a different token, 2 when written. It reads only the header, not
 * the whole value, and touches one key, so in a cluster it runs on that
 * key's node with no cross-slot access. */
const char mcs__rd_cas_script[] =
    "local h = redis.call('GETRANGE', KEYS[1], 0, 11)\n"
    "if h == '' then return 0 end\n"
    "if h ~= ARGV[1] then return 1 end\n"
    "if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[2])\n"
    "else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end\n"
    "return 2\n";
/* SHA-1 of the text above (sha1sum; the integration test compares it
 * with the server's SCRIPT LOAD reply). */
const char mcs__rd_cas_sha[41] = "fe2dcfa1e753f620bfab31288e7c894734b51d49";

/* ------------------------------------------------------------------------ */
/* Cluster slots, names, time                                               */
/* ------------------------------------------------------------------------ */

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial 0, no reflection
 * ("Redis cluster specification", appendix "CRC16 reference"). */
static uint16_t crc16(const uint8_t *p, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)(p[i] << 8);
    for (int b = 0; b < 8; b++)
      crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}

uint16_t mcs__rd_slot(const char *key, size_t len) {
  const char *open = memchr(key, '{', len);
  if (open) {
    size_t rest = len - (size_t)(open - key) - 1;
    const char *close = memchr(open + 1, '}', rest);
    if (close && close > open + 1)
      return crc16((const uint8_t *)open + 1, (size_t)(close - open - 1)) &
             (MCS__RD_SLOTS - 1);
  }
  return crc16((const uint8_t *)key, len) & (MCS__RD_SLOTS - 1);
}

int64_t mcs__rd_now_ms(void) { return mcs__net_now_ms(); }
