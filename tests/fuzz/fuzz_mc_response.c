/*
 * Fuzz target: the memcached meta-protocol reply parser (src/store/memcached/mc_proto.c) fed a
 * hostile byte stream, as a compromised or confused server could send.
 * The first byte picks the caller's value limit; the rest is parsed as a
 * sequence of replies, each checked against every request kind. The
 * reply at position i is checked as the engines check it, against a
 * request carrying opaque i (their per-connection counter): it may be
 * accepted only when it echoes exactly that opaque, and a request sent
 * without one accepts no reply that carries one (security issue 12:
 * replies are never matched by position alone). Also
 * feeds the input as a key to the request formatter, which must either
 * refuse it or produce exactly one line (no command injection).
 *
 * Built by the CMake build with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt),
 * linked with the static library; `make fuzz` runs it longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/memcached/mc_int.h"
#include "fuzz_check.h"

/* What mcs__mc_check must never accept: a reply whose echo is not the
 * request's opaque. */
static bool echo_mismatch(const mcs__mc_req *req, const mcs__mc_resp *r) {
  if (!req->has_opaque)
    return r->has_opaque;
  return !r->has_opaque || r->opaque != req->opaque;
}

static void check_reply_against_requests(const mcs__mc_resp *r,
                                         uint32_t seq) {
  for (int cmd = MCS__MC_GET; cmd <= MCS__MC_NOOP; cmd++) {
    for (int v = 0; v < 8; v++) {
      mcs__mc_req req;
      memset(&req, 0, sizeof req);
      req.cmd = (mcs__mc_cmd)cmd;
      req.want_cas = v & 1;
      req.quiet = v & 2;
      req.has_opaque = v & 4;
      req.opaque = seq;
      if (mcs__mc_check(&req, r) == MCS_OK && echo_mismatch(&req, r))
        abort();
    }
  }
}

static void parse_stream(const uint8_t *p, size_t n, size_t max) {
  size_t pos = 0;
  for (int i = 0; i < 4096 && pos < n; i++) {
    mcs__mc_resp r;
    size_t used = 0;
    if (mcs__mc_parse(p + pos, n - pos, max, &r, &used) != MCS_OK)
      return;
    if (used == 0 || used > n - pos)
      abort();
    if (r.status == MCS__MC_VA) {
      if (r.value_len > max || r.value < p + pos ||
          r.value + r.value_len > p + pos + used)
        abort();
      volatile uint8_t sink = 0;
      for (size_t k = 0; k < r.value_len; k++)
        sink ^= r.value[k];
      (void)sink;
    }
    check_reply_against_requests(&r, (uint32_t)i);
    pos += used;
  }
}

/* A key either is refused or yields one line ending in its only CR LF. */
static void format_as_key(const uint8_t *p, size_t n) {
  char line[MCS__MC_REQ_LINE_MAX];
  size_t len;
  mcs__mc_req req;
  memset(&req, 0, sizeof req);
  req.cmd = MCS__MC_GET;
  req.key = (const char *)p;
  req.key_len = n;
  req.ttl = 1;
  if (mcs__mc_format_line(&req, line, sizeof line, &len) != MCS_OK)
    return;
  if (len < 2 || len >= sizeof line || memcmp(line + len - 2, "\r\n", 2))
    abort();
  for (size_t i = 0; i + 2 < len; i++)
    if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t max = data[0] < 0xf0 ? data[0] : MCS_MEMCACHED_ITEM_MAX;
  parse_stream(data + 1, size - 1, max);
  format_as_key(data + 1, size - 1);
  return 0;
}
