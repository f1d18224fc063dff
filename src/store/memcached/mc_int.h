/*
 * Internal declarations of the memcached store: the meta-protocol codec
 * (mc_proto.c), one connection (mc_conn.c), the per-server pool
 * (mc_pool.c), the hash ring (mc_ring.c) and the URL parser (mc_url.c).
 * The protocol is memcached's doc/protocol.txt, "Meta Commands".
 */
#ifndef MCS_MC_INTERNAL_H
#define MCS_MC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "store/store_int.h"
#include "mcsession/memcached.h"

/* ---- Protocol codec (mc_proto.c): formats requests, parses replies;
 * no I/O, no allocation except appending to a caller's buffer. ---- */

/* A request line is at most "ms" + key (250) + a few numeric flags. */
#define MCS__MC_REQ_LINE_MAX 512
/* Longest reply line accepted (the data block of VA is not counted). */
#define MCS__MC_LINE_MAX 1024
/* Longest opaque token (protocol.txt, "O(token)": up to 32 bytes). */
#define MCS__MC_OPAQUE_MAX 32
/* What memcached adds to a value when it sizes an item (items.c,
 * item_make_header: the item struct, key + NUL, flags, CAS, CR LF; about
 * 70 bytes on 64-bit builds), rounded up generously. A write whose
 * key + value + this exceeds MCS_MEMCACHED_ITEM_MAX is refused before it
 * is sent: memcached answers an item that is too large with
 * "SERVER_ERROR object too large for cache" AND unlinks the key's current
 * item (proto_parser.c, "Avoid stale data persisting in cache because we
 * failed alloc"), so sending it would delete the session it meant to
 * update. */
#define MCS__MC_ITEM_OVERHEAD 256

/* Returned (positive, not an error) when a reply is not complete yet. */
#define MCS__MC_NEED_MORE 1

typedef enum mcs__mc_cmd {
  MCS__MC_GET = 1, /* mg <key> v c f [T<ttl>] */
  MCS__MC_TOUCH,   /* mg <key> T<ttl> (no value: HD or EN) */
  MCS__MC_ADD,     /* ms <key> <len> T F ME [c] */
  MCS__MC_CAS,     /* ms <key> <len> T F C<cas> [c] */
  MCS__MC_SET,     /* ms <key> <len> T F MS [c] */
  MCS__MC_DELETE,  /* md <key> */
  MCS__MC_NOOP     /* mn: ends a pipeline of quiet requests */
} mcs__mc_cmd;

typedef struct mcs__mc_req {
  mcs__mc_cmd cmd;
  const char *key; /* BORROWED; checked with mcs__store_key_valid */
  size_t key_len;
  const void *data; /* ms: the value; BORROWED */
  size_t data_len;  /* at most MCS_MEMCACHED_ITEM_MAX */
  uint32_t flags;   /* ms: client flags (F) */
  uint32_t ttl;     /* ms: T (required); GET: T when > 0; TOUCH: T > 0 */
  uint64_t cas;     /* CAS: compare token (C), never 0 */
  bool want_cas;    /* ms: ask for the new CAS token (c) */
  bool want_ttl;    /* GET: ask for the remaining TTL (t) */
  bool quiet;       /* q: suppress EN (mg), HD (ms, md); not for NOOP */
  /* O<opaque>: copied back into the reply, which mcs__mc_check then
   * requires. The store's engines send one on every request (a counter
   * per connection: mcs__mc_conn_next_opaque, mc_async.c) so that a
   * duplicated or stray reply can never answer another request. Not for
   * NOOP: MN echoes nothing. */
  bool has_opaque;
  uint32_t opaque;
} mcs__mc_req;

typedef enum mcs__mc_status {
  MCS__MC_VA = 1, /* value follows */
  MCS__MC_HD,     /* success, no value */
  MCS__MC_EN,     /* mg: miss */
  MCS__MC_NS,     /* ms: not stored (add found the key) */
  MCS__MC_EX,     /* ms with C: CAS mismatch */
  MCS__MC_NF,     /* not found */
  MCS__MC_MN      /* mn answered: the pipeline is complete */
} mcs__mc_status;

typedef struct mcs__mc_resp {
  mcs__mc_status status;
  const uint8_t *value; /* VA: BORROWED, points into the parsed buffer */
  size_t value_len;
  uint64_t cas;     /* c */
  uint32_t flags;   /* f */
  uint32_t opaque;  /* O (we only send decimal uint32 opaques) */
  int64_t ttl;      /* t; -1 for no expiry */
  bool has_cas, has_flags, has_opaque, has_ttl;
} mcs__mc_resp;

/* MCS_OK when `req` may go on the wire: a valid key (no space, no
 * control byte: no command injection), the fields its command needs, a
 * value within the item limit (else MCS_ETOOBIG), no opaque or q on NOOP;
 * MCS_EINVAL otherwise. mcs__mc_format_line checks the same. */
int mcs__mc_req_check(const mcs__mc_req *req);
/* Writes the request line (CRLF included, data block excluded) into
 * out[0..size), NUL-terminated, and its length to *len. MCS_EINVAL for an
 * invalid key or request, MCS_ETOOBIG for data over the item limit,
 * MCS_ELIMIT if size is too small (MCS__MC_REQ_LINE_MAX always fits). */
int mcs__mc_format_line(const mcs__mc_req *req, char *out, size_t size,
                        size_t *len);
/* Appends the whole request (line, and for ms the data block and its
 * CRLF) to `out`, e.g. to build a pipeline. Errors as above plus
 * MCS_ENOMEM; on error `out` keeps its previous length. */
int mcs__mc_format(mcs__buf *out, const mcs__mc_req *req);

/* Parses one reply at the start of buf[0..len). Never reads outside it,
 * never allocates. On MCS_OK *resp is filled (resp->value points into buf)
 * and *consumed is the reply's length including a VA data block.
 * MCS__MC_NEED_MORE: the reply is not complete yet. Errors: MCS_EPROTO
 * (malformed, "ERROR", "CLIENT_ERROR ..."), MCS_ETOOBIG (a VA longer than
 * max_value, or "SERVER_ERROR object too large ..."), MCS_ESTORE (other
 * "SERVER_ERROR ..."). After an error the stream must be abandoned. */
int mcs__mc_parse(const uint8_t *buf, size_t len, size_t max_value,
                  mcs__mc_resp *resp, size_t *consumed);

/* Checks that a parsed reply is one `req` can get (e.g. VA with c and f
 * for GET, HD or NS for ADD) and that it echoes req's opaque exactly
 * (none when req has none). MCS_OK or MCS_EPROTO: the stream is then out
 * of step and the connection must be closed. */
int mcs__mc_check(const mcs__mc_req *req, const mcs__mc_resp *resp);

/* True when a value of data_len bytes under a key of key_len bytes fits
 * in one memcached item with room to spare (see MCS__MC_ITEM_OVERHEAD). */
bool mcs__mc_item_fits(size_t key_len, size_t data_len);

/* ---- Time (mc_conn.c) ---- */
/* CLOCK_MONOTONIC in milliseconds. */
int64_t mcs__mc_now_ms(void);

/* ---- One connection (mc_conn.c): a non-blocking TCP socket with
 * poll()-bounded I/O and a read buffer. Used by one thread at a time. ---- */
typedef struct mcs__mc_conn mcs__mc_conn;

/* Connects to srv within timeout_ms (all addresses of the name share the
 * budget). MCS_OK, MCS_ETIMEDOUT, MCS_ESTORE (refused, unreachable, name
 * not resolved), MCS_ENOMEM. Name resolution itself (getaddrinfo) is not
 * bounded by the timeout: use addresses or /etc/hosts names. */
int mcs__mc_conn_open(const mcs_memcached_server *srv, unsigned timeout_ms,
                      mcs__mc_conn **out);
void mcs__mc_conn_close(mcs__mc_conn *c); /* NULL is fine */
/* True when an idle connection looks usable: nothing buffered, and (when
 * `probe`, one poll() system call) the peer has neither closed it nor sent
 * anything unasked. */
bool mcs__mc_conn_idle_ok(mcs__mc_conn *c, bool probe);
/* True once the connection has completed a request (so it may be stale). */
bool mcs__mc_conn_reused(const mcs__mc_conn *c);
/* True after a send or receive failed at the socket level (closed, reset,
 * timed out), as opposed to a reply the parser refused. */
bool mcs__mc_conn_failed(const mcs__mc_conn *c);
/* The opaque for the next request sent on c (a per-connection counter):
 * its reply must echo it (mcs__mc_check). */
uint32_t mcs__mc_conn_next_opaque(mcs__mc_conn *c);
/* Sends all of iov before `deadline` (mcs__mc_now_ms scale). *sent counts
 * the bytes the kernel accepted, even on failure. MCS_OK, MCS_ETIMEDOUT,
 * MCS_ESTORE. */
int mcs__mc_conn_sendv(mcs__mc_conn *c, const struct iovec *iov, int iovcnt,
                       int64_t deadline, size_t *sent);
/* Reads and parses the next reply (see mcs__mc_parse). resp->value stays
 * valid until the next call on this connection. *got_bytes (may be NULL)
 * tells whether any byte of the reply arrived. MCS_OK, MCS_ETIMEDOUT,
 * MCS_ESTORE (closed or reset), MCS_ENOMEM, or the parser's errors. */
int mcs__mc_conn_read(mcs__mc_conn *c, size_t max_value, int64_t deadline,
                      mcs__mc_resp *resp, bool *got_bytes);
/* Marks a request complete; true when nothing unread is left (the
 * connection is in step and may be reused). Drops a large read buffer. */
bool mcs__mc_conn_done(mcs__mc_conn *c);

/* Starts a non-blocking connect to srv (for an event loop): resolves the
 * name, takes the first address whose socket and connect() succeed or are
 * in progress, sets TCP_NODELAY, and returns the socket (non-blocking,
 * close-on-exec) in *fd. The caller learns the outcome from writability
 * and SO_ERROR; a connect that fails then does not fall back to the next
 * address. MCS_OK or MCS_ESTORE (not resolved, refused at once). Name
 * resolution blocks, as in mcs__mc_conn_open. */
int mcs__mc_connect_start(const mcs_memcached_server *srv, int *fd);

/* ---- Per-server pool (mc_pool.c): conn_pool.c over memcached
 * connections. ---- */
int mcs__mc_pool_new(const mcs_memcached_server *srv,
                     const mcs_memcached_config *cfg, mcs__conn_pool **out);

/* ---- Consistent hashing (mc_ring.c): immutable once built. ---- */
typedef struct mcs__mc_ring mcs__mc_ring;
/* Points per server on the ring. ketama uses 160; with 160 the largest
 * share of 3 servers strays more than 20 % from even for about 1 in 200
 * sets of server names (simulated over 2,000 random "127.0.0.1:port"
 * triples), with 640 never more than 13 % (99th percentile 9.5 %). The
 * cost is 8 bytes per point: 15 KiB for 3 servers, 320 KiB for 64. */
#define MCS__MC_RING_POINTS 640

/* Builds a ring over `count` servers named names[i] ("host:port"; the
 * name, not the position, decides where a server's points fall, so adding
 * or removing a server moves only its share of keys). */
int mcs__mc_ring_new(const char *const *names, size_t count,
                     mcs__mc_ring **out);
/* The same over a config's server array laid out as t says
 * (mcs_memcached_server, mcs_redis_server), each named by
 * mcs__url_server_name. */
int mcs__mc_ring_new_servers(const mcs__url_servers *t, const void *servers,
                             size_t count, mcs__mc_ring **out);
/* A ring without points that picks as python-memcached does
 * (MCS_MEMCACHED_HASH_PYTHON_MEMCACHE): servers[hash % count], the hash
 * below. pick_n gives one server at most (no replicas with it). */
int mcs__mc_ring_new_modulo(size_t count, mcs__mc_ring **out);
void mcs__mc_ring_free(mcs__mc_ring *r);
/* CRC-32 (IEEE, reflected, 0xEDB88320): Python's binascii.crc32. */
uint32_t mcs__crc32(const void *data, size_t len);
/* python-memcached's server hash (memcache.py, cmemcache_hash):
 * ((crc32(key) & 0xffffffff) >> 16) & 0x7fff, or 1 when that is 0. */
uint32_t mcs__mc_python_memcache_hash(const void *key, size_t len);
/* Index (into names) of the server owning key. */
size_t mcs__mc_ring_pick(const mcs__mc_ring *r, const void *key,
                         size_t key_len);
/* Up to n distinct servers for key in ring order (owner first): the
 * replica set. Returns how many were written to out. */
size_t mcs__mc_ring_pick_n(const mcs__mc_ring *r, const void *key,
                           size_t key_len, size_t n, size_t *out);

/* ---- The store (mc_store.c) and its requests (mc_exec.c) ---- */

/* protocol.txt, "Expiration times": above 30 days the server reads the
 * number as a Unix time. */
#define MCS__MC_RELATIVE_TTL_MAX (60u * 60u * 24u * 30u)

typedef struct mcs__mc_store {
  mcs_memcached_config cfg;
  mcs__mc_ring *ring;
  mcs__conn_pool **pools; /* one per server, in cfg.servers order */
  _Atomic uint64_t requests, timeouts, protocol_errors, retries;
} mcs__mc_store;

/* What a checked reply (mcs__mc_check) to a request of kind `cmd` means
 * for the store's caller: VA HIT; EN and NF MISS; NS and EX EXISTS; HD
 * STORED, DELETED or TOUCHED by command. */
mcs_store_result mcs__mc_result(mcs__mc_cmd cmd, mcs__mc_status status);

/* Bytes a reply's value may have: the reader's max_len (v may be NULL),
 * never more than memcached's item limit (we never write more). */
size_t mcs__mc_value_limit(const mcs_store_value *v);

/* A TTL in seconds as the wire wants it: relative up to 30 days, an
 * absolute Unix time beyond; 0 stays 0 ("never expires"). */
uint32_t mcs__mc_wire_ttl(uint32_t ttl);

/* One request to one server, run by mcs__mc_exec. */
typedef struct mcs__mc_op {
  size_t server;          /* index into cfg.servers */
  mcs__mc_req req;        /* key and data BORROWED until exec returns;
                             exec sets its opaque (one per connection) */
  /* Where a VA's value is copied (its max_len bounds the read); NULL:
   * values are read (bounded by the item limit) and dropped. */
  mcs_store_value *value;
  int rc;                 /* out: MCS_OK when the server answered */
  mcs__mc_resp resp;      /* out: the checked reply; resp.value is NULL */
  /* Private to mcs__mc_exec. */
  mcs__mc_conn *conn;
  bool reused;
  int tries;
  int64_t deadline;
  size_t line_len;
  char line[MCS__MC_REQ_LINE_MAX];
} mcs__mc_op;

/* Runs n requests, each to its own server (servers must be distinct), as
 * one round trip of wall time: every request is sent before any reply is
 * read. Connections are taken in ascending server order, so threads that
 * each need several servers cannot deadlock on the pools. Each op gets
 * its own rc (MCS_OK, MCS_ESTORE, MCS_ETIMEDOUT, MCS_EPROTO, MCS_ETOOBIG,
 * MCS_ENOMEM, MCS_EINVAL); a server that fails is marked down. A request
 * that cannot have been applied (stale pooled connection) is repeated
 * once on a fresh connection. */
void mcs__mc_exec(mcs__mc_store *st, mcs__mc_op *ops, size_t n);
/* One request to the key's server (mcs__mc_exec of one op). On MCS_OK
 * *resp holds the checked reply and, for a hit, `value` (may be NULL) a
 * copy of the value. */
int mcs__mc_roundtrip(mcs__mc_store *st, const mcs__mc_req *req,
                      mcs_store_value *value, mcs__mc_resp *resp);

/* ---- Replicas (mc_replica.c): the store operations when replicas > 0;
 * same contracts as mcs_store_ops (ud is the mcs__mc_store). ---- */
int mcs__mc_r_get(void *ud, const char *key, size_t key_len,
                  uint32_t touch_ttl, mcs_store_value *value, uint64_t *cas,
                  uint32_t *flags, mcs_store_result *result);
int mcs__mc_r_add(void *ud, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  uint64_t *cas, mcs_store_result *result);
int mcs__mc_r_cas(void *ud, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  uint64_t cas, uint64_t *new_cas, mcs_store_result *result);
int mcs__mc_r_set(void *ud, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t flags, uint32_t ttl,
                  mcs_store_result *result);
int mcs__mc_r_del(void *ud, const char *key, size_t key_len,
                  mcs_store_result *result);
int mcs__mc_r_touch(void *ud, const char *key, size_t key_len, uint32_t ttl,
                    mcs_store_result *result);

/* The replica record header (mc_replica.c), exposed for unit tests:
 * "\0mcr", a kind byte ('v' value, 't' tombstone), the revision as 8
 * bytes big-endian. */
#define MCS__MC_HDR_LEN 13
typedef struct mcs__mc_hdr {
  bool tomb;
  uint64_t rev; /* 0 for a value written without a header */
} mcs__mc_hdr;
void mcs__mc_hdr_put(uint8_t out[MCS__MC_HDR_LEN], bool tomb, uint64_t rev);
/* Parses the header at the start of a stored value. A value without one
 * (written with replicas=0 or by another client) reads as revision 0, all
 * payload. Returns the payload's offset (0 or MCS__MC_HDR_LEN). */
size_t mcs__mc_hdr_get(const uint8_t *raw, size_t len, mcs__mc_hdr *out);

/* ---- The memcached engine (mc_async.c, over store/pipe.c) ----
 * The non-blocking side of the store with replicas=0 (mcs_store_ops'
 * attach ... event, contract in include/mcsession/store.h), one engine
 * per event loop. Non-blocking connections, one per server, opened on
 * first use and watched through the loop's mcs_store_io (the engine never
 * calls epoll). Each submitted operation is formatted at once onto its
 * server's output buffer and remembered in that connection's FIFO; flush
 * writes each buffer with one send. Replies come back in order (memcached
 * answers a connection's requests in order) and complete the FIFO's head.
 * Any socket error, malformed reply or deadline passed closes the
 * connection and fails every operation in its FIFO (a stream that may be
 * out of step is never reused); a connection that fails marks its server
 * down for retry_s, during which operations fail at once with
 * MCS_ESTORE. Reads (GET) that were sent on a connection the server
 * closed before answering anything are sent again once on a fresh
 * connection, as the blocking client does; writes are not (their effect
 * is unknown). Single-threaded: every call but attach from the loop's
 * thread. A key the store cannot hold or a value over the item limit
 * completes with MCS_EINVAL or MCS_ETOOBIG without reaching the network.
 * Detach fails what is still in flight with MCS_ESTORE. */
typedef struct mcs__mc_async mcs__mc_async;

/* `ud` is the mcs__mc_store (replicas=0). MCS_OK or MCS_ENOMEM. */
int mcs__mc_async_attach(void *ud, const mcs_store_io *io, void **engine);
void mcs__mc_async_detach(void *engine);
void mcs__mc_async_submit(void *engine, mcs_store_op *op);
void mcs__mc_async_flush(void *engine);
int mcs__mc_async_timeout(void *engine);
void mcs__mc_async_event(void *engine, void *tag, uint32_t events);
/* Operations submitted and not yet completed (for tests). */
size_t mcs__mc_async_pending(const mcs__mc_async *a);

/* How the config keeps its servers, for store_url.c's list parser and
 * checks and the ring (mc_url.c). */
extern const mcs__url_servers mcs__mc_servers_layout;

#endif /* MCS_MC_INTERNAL_H */
