/*
 * memcached meta protocol: request formatting and a strict reply parser.
 * Follows memcached's doc/protocol.txt, sections "Meta Commands", "Meta
 * Get", "Meta Set", "Meta Delete", "Meta No-Op" and "Error strings".
 *
 * No I/O here. The parser never allocates and only points into the
 * caller's buffer (as picohttpparser does), so it can be fuzzed alone.
 * It is deliberately strict: a reply that is not exactly what the protocol
 * describes means the stream may be out of step, and the caller then
 * closes the connection rather than guess.
 */
#include <string.h>

#include "store/memcached/mc_int.h"

/* ------------------------------------------------------------------------ */
/* Formatting                                                               */
/* ------------------------------------------------------------------------ */

static bool is_ms(mcs__mc_cmd cmd) {
  return cmd == MCS__MC_ADD || cmd == MCS__MC_CAS || cmd == MCS__MC_SET;
}

/* Arguments the wire must never see: the key is checked again here even
 * though the store wrapper checked it, because a space or CR LF in a key
 * would inject commands (this layer is the last line of defence). */
int mcs__mc_req_check(const mcs__mc_req *req) {
  if (!req || req->cmd < MCS__MC_GET || req->cmd > MCS__MC_NOOP)
    return MCS_EINVAL;
  /* mn takes no flags and MN echoes none ("Meta No-Op"): an opaque asked
   * of it could never be checked, so it is refused, not silently lost. */
  if (req->cmd == MCS__MC_NOOP)
    return req->has_opaque || req->quiet ? MCS_EINVAL : MCS_OK;
  if (!mcs__store_key_valid(req->key, req->key_len))
    return MCS_EINVAL;
  if (req->cmd == MCS__MC_TOUCH && req->ttl == 0)
    return MCS_EINVAL;
  if (req->cmd == MCS__MC_CAS && req->cas == 0)
    return MCS_EINVAL;
  if (is_ms(req->cmd)) {
    if (!req->data && req->data_len)
      return MCS_EINVAL;
    if (!mcs__mc_item_fits(req->key_len, req->data_len))
      return MCS_ETOOBIG;
  }
  return MCS_OK;
}

bool mcs__mc_item_fits(size_t key_len, size_t data_len) {
  return key_len <= MCS_STORE_KEY_MAX &&
         data_len <= MCS_MEMCACHED_ITEM_MAX - MCS__MC_ITEM_OVERHEAD - key_len;
}

/* A request line under construction. Lines are built piece by piece
 * rather than with snprintf: this runs for every request, and formatting
 * through stdio cost more than the rest of a read's client work together.
 * Every append is bounded; one that does not fit marks the line as
 * overflowed (which MCS__MC_REQ_LINE_MAX rules out, but is checked). */
typedef struct line {
  char *p;
  size_t n, size;
  bool overflow;
} req_line;

static void put(req_line *l, const char *s, size_t n) {
  if (l->overflow || n > l->size - l->n) {
    l->overflow = true;
    return;
  }
  memcpy(l->p + l->n, s, n);
  l->n += n;
}

static void put_lit(req_line *l, const char *s) { put(l, s, strlen(s)); }

/* A space, the flag letter, the number in decimal: " T3600". */
static void put_flag(req_line *l, char flag, uint64_t v) {
  char tmp[2 + 20];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (flag)
    tmp[--i] = flag;
  tmp[--i] = ' ';
  put(l, tmp + i, sizeof tmp - i);
}

/* The flags after the key (and length) for each command. */
static void put_flags(req_line *l, const mcs__mc_req *req) {
  switch (req->cmd) {
  case MCS__MC_GET:
    put_lit(l, req->want_ttl ? " v c f t" : " v c f");
    if (req->ttl)
      put_flag(l, 'T', req->ttl);
    return;
  case MCS__MC_TOUCH:
    put_flag(l, 'T', req->ttl);
    return;
  case MCS__MC_ADD:
  case MCS__MC_SET:
  case MCS__MC_CAS:
    put_flag(l, 'T', req->ttl);
    put_flag(l, 'F', req->flags);
    if (req->cmd == MCS__MC_CAS)
      put_flag(l, 'C', req->cas);
    else
      put_lit(l, req->cmd == MCS__MC_ADD ? " ME" : " MS");
    return;
  default:
    return;
  }
}

static const char *cmd_name(mcs__mc_cmd cmd) {
  if (cmd == MCS__MC_GET || cmd == MCS__MC_TOUCH)
    return "mg";
  if (cmd == MCS__MC_DELETE)
    return "md";
  return is_ms(cmd) ? "ms" : "mn";
}

int mcs__mc_format_line(const mcs__mc_req *req, char *out, size_t size,
                        size_t *len) {
  int rc = mcs__mc_req_check(req);
  if (rc)
    return rc;
  if (!out || !len || size < MCS__MC_REQ_LINE_MAX)
    return out && len ? MCS_ELIMIT : MCS_EINVAL;
  if (req->cmd == MCS__MC_NOOP) {
    memcpy(out, "mn\r\n", 5);
    *len = 4;
    return MCS_OK;
  }
  req_line l = {out, 0, size - 1, false}; /* room left for a closing NUL */
  put_lit(&l, cmd_name(req->cmd));
  put(&l, " ", 1);
  put(&l, req->key, req->key_len);
  if (is_ms(req->cmd))
    put_flag(&l, 0, req->data_len);
  put_flags(&l, req);
  if (is_ms(req->cmd) && req->want_cas)
    put_lit(&l, " c");
  if (req->quiet)
    put_lit(&l, " q");
  if (req->has_opaque)
    put_flag(&l, 'O', req->opaque);
  put_lit(&l, "\r\n");
  if (l.overflow)
    return MCS_ELIMIT;
  out[l.n] = '\0';
  *len = l.n;
  return MCS_OK;
}

int mcs__mc_format(mcs__buf *out, const mcs__mc_req *req) {
  char buf[MCS__MC_REQ_LINE_MAX];
  size_t n, old = out ? out->len : 0;
  int rc = mcs__mc_format_line(req, buf, sizeof buf, &n);
  if (rc || !out)
    return rc ? rc : MCS_EINVAL;
  rc = mcs__buf_append(out, buf, n);
  if (!rc && is_ms(req->cmd)) {
    rc = mcs__buf_append(out, req->data, req->data_len);
    if (!rc)
      rc = mcs__buf_append(out, "\r\n", 2);
  }
  if (rc)
    out->len = old;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct span {
  const uint8_t *p;
  size_t n;
} span;

static bool span_eq(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_starts(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.n >= n && memcmp(s.p, lit, n) == 0;
}

/* Canonical unsigned decimal: 1..20 digits, no sign, no leading zero
 * (memcached prints numbers with %llu), value <= max. */
static bool parse_u64(span s, uint64_t max, uint64_t *out) {
  if (s.n == 0 || s.n > 20 || (s.p[0] == '0' && s.n > 1))
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.n; i++) {
    unsigned d = (unsigned)s.p[i] - '0';
    if (d > 9 || v > (max - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* Finds the CR LF ending the line. The line may hold only printable
 * ASCII: a bare CR or LF, NUL or any other control byte is malformed. */
static int find_line(const uint8_t *buf, size_t len, size_t *line_len) {
  size_t lim = len < MCS__MC_LINE_MAX ? len : MCS__MC_LINE_MAX;
  for (size_t i = 0; i < lim; i++) {
    uint8_t c = buf[i];
    if (c == '\r') {
      if (i + 1 == len)
        return MCS__MC_NEED_MORE;
      if (buf[i + 1] != '\n')
        return MCS_EPROTO;
      *line_len = i;
      return MCS_OK;
    }
    if (c < 0x20 || c > 0x7e)
      return MCS_EPROTO;
  }
  return len < MCS__MC_LINE_MAX ? MCS__MC_NEED_MORE : MCS_EPROTO;
}

/* "Error strings" in protocol.txt: ERROR, CLIENT_ERROR <msg>,
 * SERVER_ERROR <msg>. Returns 0 when the line is not one of them. */
static int error_line(span line) {
  if (span_eq(line, "ERROR") || span_starts(line, "CLIENT_ERROR"))
    return MCS_EPROTO;
  /* memcached's text for an item over -I: "object too large for cache". */
  if (span_starts(line, "SERVER_ERROR object too large"))
    return MCS_ETOOBIG;
  if (span_starts(line, "SERVER_ERROR"))
    return MCS_ESTORE;
  return 0;
}

static const struct {
  char code[3];
  mcs__mc_status status;
} codes[] = {{"VA", MCS__MC_VA}, {"HD", MCS__MC_HD}, {"EN", MCS__MC_EN},
             {"NS", MCS__MC_NS}, {"EX", MCS__MC_EX}, {"NF", MCS__MC_NF},
             {"MN", MCS__MC_MN}};

static bool parse_code(span line, mcs__mc_status *st) {
  if (line.n < 2 || (line.n > 2 && line.p[2] != ' '))
    return false;
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    if (memcmp(line.p, codes[i].code, 2) == 0) {
      *st = codes[i].status;
      return true;
    }
  }
  return false;
}

/* The next space-separated token of line starting at *pos. Exactly one
 * space separates tokens; an empty token (double or trailing space) is
 * malformed. */
static bool next_token(span line, size_t *pos, span *tok) {
  if (*pos >= line.n)
    return false;
  if (line.p[*pos] != ' ' || *pos + 1 >= line.n)
    return false;
  size_t start = *pos + 1, end = start;
  while (end < line.n && line.p[end] != ' ')
    end++;
  if (end == start)
    return false;
  tok->p = line.p + start;
  tok->n = end - start;
  *pos = end;
  return true;
}

static bool parse_ttl(span v, int64_t *out) {
  uint64_t u;
  if (span_eq(v, "-1")) {
    *out = -1;
    return true;
  }
  if (!parse_u64(v, INT64_MAX, &u))
    return false;
  *out = (int64_t)u;
  return true;
}

/* The flags a reply may return (protocol.txt lists them under each
 * command); bit i of a "seen" mask stands for flag_letters[i]. */
static const char flag_letters[] = "cftOskhlbWXZ";
/* What memcached copies into EN, the miss of mg: the opaque, and the key
 * (with b when it is base64) when asked (proto_text.c, 1.6.18 and later;
 * process_mget_command). */
#define EN_FLAGS ((1u << 3) | (1u << 5) | (1u << 8)) /* O, k, b */

/* One returned flag. Each may appear once; unknown letters are
 * malformed. */
static bool parse_flag(span tok, mcs__mc_resp *r, unsigned *seen) {
  uint8_t f = tok.p[0];
  span v = {tok.p + 1, tok.n - 1};
  uint64_t u;
  const char *at = memchr(flag_letters, f, sizeof flag_letters - 1);
  if (!at || (*seen & (1u << (at - flag_letters))))
    return false;
  *seen |= 1u << (at - flag_letters);
  switch (f) {
  case 'c':
    return (r->has_cas = parse_u64(v, UINT64_MAX, &r->cas));
  case 'f':
    if (!parse_u64(v, UINT32_MAX, &u))
      return false;
    r->flags = (uint32_t)u;
    return (r->has_flags = true);
  case 't':
    return (r->has_ttl = parse_ttl(v, &r->ttl));
  case 'O':
    if (v.n > MCS__MC_OPAQUE_MAX || !parse_u64(v, UINT32_MAX, &u))
      return false;
    r->opaque = (uint32_t)u;
    return (r->has_opaque = true);
  case 's': case 'h': case 'l':
    return parse_u64(v, UINT64_MAX, &u);
  case 'k':
    return v.n >= 1 && v.n <= MCS_STORE_KEY_MAX;
  default: /* b, W, X, Z carry no token */
    return v.n == 0;
  }
}

/* The flags after the code (and VA's size); *seen says which came. */
static int parse_flags(span line, size_t pos, mcs__mc_resp *r,
                       unsigned *seen) {
  span tok;
  *seen = 0;
  while (pos < line.n) {
    if (!next_token(line, &pos, &tok) || !parse_flag(tok, r, seen))
      return MCS_EPROTO;
  }
  return MCS_OK;
}

/* VA's <size>, bounded by the caller's limit. */
static int parse_size(span line, size_t *pos, size_t max_value,
                      size_t *size) {
  span tok;
  uint64_t u;
  if (!next_token(line, pos, &tok) || !parse_u64(tok, UINT64_MAX, &u))
    return MCS_EPROTO;
  if (u > max_value)
    return MCS_ETOOBIG;
  *size = (size_t)u;
  return MCS_OK;
}

/* The data block after a VA line: exactly size bytes, then CR LF. */
static int take_value(const uint8_t *buf, size_t len, size_t line_end,
                      mcs__mc_resp *r, size_t *consumed) {
  size_t need = line_end;
  if (r->value_len > SIZE_MAX - need - 2)
    return MCS_ETOOBIG;
  need += r->value_len + 2;
  if (len < need)
    return MCS__MC_NEED_MORE;
  if (buf[need - 2] != '\r' || buf[need - 1] != '\n')
    return MCS_EPROTO;
  r->value = buf + line_end;
  *consumed = need;
  return MCS_OK;
}

int mcs__mc_parse(const uint8_t *buf, size_t len, size_t max_value,
                  mcs__mc_resp *resp, size_t *consumed) {
  size_t n, pos = 2;
  unsigned seen;
  if (!resp || !consumed || (!buf && len))
    return MCS_EINVAL;
  memset(resp, 0, sizeof *resp);
  int rc = find_line(buf, len, &n);
  if (rc)
    return rc;
  span line = {buf, n};
  if ((rc = error_line(line)) != 0)
    return rc;
  if (!parse_code(line, &resp->status))
    return MCS_EPROTO;
  if (resp->status == MCS__MC_VA &&
      (rc = parse_size(line, &pos, max_value, &resp->value_len)) != 0)
    return rc;
  /* MN carries nothing ("MN\r\n"); EN only the echoes (EN_FLAGS). */
  if (resp->status == MCS__MC_MN && line.n != 2)
    return MCS_EPROTO;
  if ((rc = parse_flags(line, pos, resp, &seen)) != 0)
    return rc;
  if (resp->status == MCS__MC_EN && (seen & ~EN_FLAGS))
    return MCS_EPROTO;
  if (resp->status == MCS__MC_VA)
    return take_value(buf, len, n + 2, resp, consumed);
  *consumed = n + 2;
  return MCS_OK;
}

/* ------------------------------------------------------------------------ */
/* Matching a reply to its request                                          */
/* ------------------------------------------------------------------------ */

static bool status_ok(const mcs__mc_req *req, mcs__mc_status st) {
  switch (req->cmd) {
  case MCS__MC_GET: /* a quiet miss sends nothing at all */
    return st == MCS__MC_VA || (st == MCS__MC_EN && !req->quiet);
  case MCS__MC_TOUCH:
    return st == MCS__MC_HD || st == MCS__MC_EN;
  case MCS__MC_ADD: /* mode E answers NS when the key exists */
    return st == MCS__MC_HD || st == MCS__MC_NS;
  case MCS__MC_CAS:
    return st == MCS__MC_HD || st == MCS__MC_EX || st == MCS__MC_NF;
  case MCS__MC_SET:
    return st == MCS__MC_HD;
  case MCS__MC_DELETE:
    return st == MCS__MC_HD || st == MCS__MC_NF;
  case MCS__MC_NOOP:
    return st == MCS__MC_MN;
  }
  return false;
}

/* The echo. memcached answers a connection's requests in order, but a
 * reply that comes twice (a buggy proxy, a hostile or confused server)
 * would shift every later reply onto the next request, another user's
 * key: position alone cannot tell. So each request carries an opaque
 * (O<n>, from a per-connection counter) that memcached copies into its
 * reply, EN included since 1.6.18, and a reply must bring back exactly
 * the opaque of the request it is matched with. O rather than the key
 * echo (k): a few bytes whatever the key's length, the same for every
 * command, and a number compares in one instruction. A reply with an
 * opaque nobody asked for is not ours either. */
static bool echo_ok(const mcs__mc_req *req, const mcs__mc_resp *resp) {
  if (!req->has_opaque)
    return !resp->has_opaque;
  return resp->has_opaque && resp->opaque == req->opaque;
}

int mcs__mc_check(const mcs__mc_req *req, const mcs__mc_resp *resp) {
  if (!req || !resp || !status_ok(req, resp->status) || !echo_ok(req, resp))
    return MCS_EPROTO;
  /* We asked for c and f: a hit without them (or with CAS 0, which the
   * store contract forbids) is not the reply to our request. */
  if (resp->status == MCS__MC_VA && req->cmd == MCS__MC_GET &&
      (!resp->has_cas || !resp->has_flags || resp->cas == 0))
    return MCS_EPROTO;
  if (resp->status == MCS__MC_VA && req->want_ttl && !resp->has_ttl)
    return MCS_EPROTO;
  if (resp->status == MCS__MC_HD && is_ms(req->cmd) && req->want_cas &&
      (!resp->has_cas || resp->cas == 0))
    return MCS_EPROTO;
  return MCS_OK;
}
