/*
 * The store wing: the store interface every backend implements (store.c
 * wraps a table of operations and checks arguments once), what the network
 * stores share (store_url.c, conn_pool.c, net.c, pipe.c), the memory store
 * (memory/), the memcached store (memcached/) and the Redis store
 * (redis/). A store's blocking and
 * non-blocking sides are one table (include/mcsession/store.h, where the
 * contract is): nothing above this wing knows which store it talks to.
 *
 * May use: util. Knows nothing of sessions, cookies or records: a store
 * moves opaque bytes under keys. (docs/design.md, "The store contract")
 */
#ifndef MCS_STORE_INT_H
#define MCS_STORE_INT_H

#include "util/util_int.h"

/* What a store's get writes into (see mcs_store_value_set). */
struct mcs_store_value {
  mcs__buf buf;
  size_t max_len;
};

struct mcs_store {
  mcs_store_ops ops;
  void *ud;
  /* Which of the library's own stores this is (the address of a private
   * object of its file), NULL for a store made by mcs_store_new. Only the
   * library's constructors set it, so a cast of ud guarded by it is safe
   * whatever a user's table says about itself (its kind is just a name,
   * and copying a built-in store's table copies no identity). */
  const void *own;
};

/* True when `key` can go to a store: 1..MCS_STORE_KEY_MAX bytes, none of
 * them a space, a control byte or DEL. */
bool mcs__store_key_valid(const char *key, size_t len);
/* Reads `key` without touching it: the store's peek, or its get with
 * touch_ttl 0 (and *ttl MCS_STORE_TTL_UNKNOWN) when it has none. The
 * arguments are the caller's to check (mcs_store_peek does). */
int mcs__store_peek(mcs_store *store, const char *key, size_t key_len,
                    mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                    int64_t *ttl, mcs_store_result *result);

/* mcs_store_new for the library's own stores: `own` is their identity
 * (see struct mcs_store). */
int mcs__store_new_own(mcs_store **out, const mcs_store_ops *ops, void *ud,
                       const void *own);
/* The store's ud when it was made with identity `own`, else NULL. */
static inline void *mcs__store_own_ud(const mcs_store *store, const void *own) {
  return store && store->own == own ? store->ud : NULL;
}

/* True when the store has the non-blocking side (attach ... event). */
static inline bool mcs__store_has_engine(const mcs_store *store) {
  return store->ops.attach != NULL;
}

/* Runs op with the store's blocking operations (for a helper thread),
 * filling its result; does not call op->done. */
void mcs__store_op_run(mcs_store *store, mcs_store_op *op);

/* ---- What the store URLs share (store_url.c) ---- */
/* Longest host in a URL, brackets of IPv6 excluded (MCS_MEMCACHED_HOST_MAX,
 * MCS_REDIS_HOST_MAX). */
#define MCS__URL_HOST_MAX 255
/* Writes a one-line reason to err (may be NULL; NUL-terminated, cut to
 * err_size) and returns MCS_EINVAL. */
int mcs__url_fail(char *err, size_t err_size, const char *fmt, ...)
    MCS__PRINTF(3, 4);
/* Decimal digits only (no sign, no spaces), at most `max`. */
bool mcs__url_uint(const char *s, size_t n, unsigned max, unsigned *out);
/* A name, an IPv4 address or an IPv6 address (without brackets). */
bool mcs__url_host_valid(const char *h, size_t n);
/* Parses one "host[:port]" or "[v6][:port]" entry of a server list into
 * host (NUL-terminated, an IPv6 literal without brackets, its "%25" zone
 * separator as '%') and *port (default_port when none is given). */
int mcs__url_server(const char *s, size_t n, uint16_t default_port,
                    char host[MCS__URL_HOST_MAX + 1], uint16_t *port, char *err,
                    size_t err_size);
/* The same server: same port, host names equal regardless of case. */
bool mcs__url_same_server(const char *h1, uint16_t p1, const char *h2,
                          uint16_t p2);
/* %XX-decodes a parameter's value into dst (max bytes + NUL); `name` is
 * for the reason. No NUL byte ever; with key_chars also no space, control
 * byte or DEL (a key prefix). *out_len (may be NULL) gets the length. */
int mcs__url_unescape(const char *name, const char *v, size_t n, char *dst,
                      size_t max, bool key_chars, size_t *out_len, char *err,
                      size_t err_size);
/* A URL parameter: a number (set NULL: an unsigned at `offset` in the
 * config, min..max) or parsed by `set` into the config. dup_note is added
 * to the "duplicate parameter" reason (may be NULL). */
typedef struct mcs__url_param {
  const char *name;
  unsigned min, max;
  size_t offset;
  int (*set)(void *cfg, const char *v, size_t n, char *err, size_t es);
  const char *dup_note;
} mcs__url_param;
/* Parses the query q ("name=value&..."; NUL-terminated) into cfg by the
 * table params[0..count) (at most 32). *seen (bit i: params[i] given)
 * starts as the caller's (a parameter the path set already) and is
 * updated. MCS_OK or MCS_EINVAL with a one-line reason: empty, without a
 * value, unknown, repeated, out of range. */
int mcs__url_query(const mcs__url_param *params, size_t count, void *cfg,
                   const char *q, unsigned *seen, char *err, size_t es);
/* At most max bytes, printable ASCII only, no fragment, no user info. */
int mcs__url_check_chars(const char *url, size_t len, size_t max, char *err,
                         size_t err_size);

/* How a config keeps its servers (mcs_memcached_server,
 * mcs_redis_server): an array of structs `stride` bytes apart, each a
 * host buffer of MCS__URL_HOST_MAX + 1 bytes at host_off and a uint16_t
 * port at port_off; at most `max`; default_port for an entry without
 * one. MCS__URL_SERVERS is the initializer describing a server type. */
typedef struct mcs__url_servers {
  size_t stride, host_off, port_off, max;
  uint16_t default_port;
} mcs__url_servers;
#define MCS__URL_SERVERS(type, maxn, dport)                                    \
  { sizeof(type), offsetof(type, host), offsetof(type, port), (maxn), (dport) }
/* Parses a server list s[0..n) ("host[:port],...") into the array
 * `servers` laid out as t says (*count entries so far, updated).
 * MCS_EINVAL with a one-line reason: none, an empty entry, too many, a
 * bad host or port, a duplicate. */
int mcs__url_servers_parse(const mcs__url_servers *t, void *servers,
                           size_t *count, const char *s, size_t n, char *err,
                           size_t es);
/* Checks count servers of a config built by hand or parsed: 1..max,
 * hosts valid, ports not 0, no duplicates. */
int mcs__url_servers_check(const mcs__url_servers *t, const void *servers,
                           size_t count, char *err, size_t es);
/* Server i's host (NUL-terminated) and port in such an array. */
const char *mcs__url_server_host(const mcs__url_servers *t, const void *servers,
                                 size_t i);
uint16_t mcs__url_server_port(const mcs__url_servers *t, const void *servers,
                              size_t i);
/* "host:port", or "[v6]:port" as in a URL, into out (cut to size);
 * MCS__URL_NAME_MAX always fits. */
#define MCS__URL_NAME_MAX (MCS__URL_HOST_MAX + 9)
void mcs__url_server_name(const char *host, uint16_t port, char *out,
                          size_t size);
/* Checks the numeric parameters of params[0..count) (those without a
 * `set`) in cfg against their ranges. */
int mcs__url_ranges_check(const mcs__url_param *params, size_t count,
                          const void *cfg, char *err, size_t es);
/* A key prefix in a buffer of `size` bytes: NUL-terminated within it,
 * key characters only (may be empty). */
int mcs__url_prefix_check(const char *prefix, size_t size, char *err,
                          size_t es);

/* ---- A server's connection pool (conn_pool.c): thread-safe; the same
 * rules for every network store, which says how to open, check and close
 * one of its connections (opaque to the pool). ---- */
typedef struct mcs__conn_pool_ops {
  /* Connects (and runs any handshake) within the store's connect timeout:
   * MCS_OK with *conn, MCS_ETIMEDOUT, MCS_ESTORE, MCS_EPROTO, MCS_ENOMEM.
   * Any failure but MCS_ENOMEM marks the server down. */
  int (*open)(void *ctx, void **conn);
  void (*close)(void *conn);
  /* Nothing buffered, and (with probe) the peer has not closed it. */
  bool (*idle_ok)(void *conn, bool probe);
  /* The exchange on it is complete (nothing unread): reusable. */
  bool (*done)(void *conn);
  /* Frees ctx with the pool (NULL: the pool does not own it). */
  void (*ctx_free)(void *ctx);
} mcs__conn_pool_ops;
typedef struct mcs__conn_pool mcs__conn_pool;

/* At most `max` connections; a server that failed is skipped for retry_s.
 * On failure ctx is not freed. */
int mcs__conn_pool_new(const mcs__conn_pool_ops *ops, void *ctx, unsigned max,
                       unsigned retry_s, mcs__conn_pool **out);
/* Every connection must have been released. NULL is fine. */
void mcs__conn_pool_free(mcs__conn_pool *p);
/* Takes an idle connection or opens one; waits for a free one until
 * `wait_deadline` (monotonic ms). MCS_ESTORE at once while the server is
 * marked down, MCS_ETIMEDOUT (no free connection in time, or connect
 * timeout), MCS_ESTORE (connect failed: the server is now marked down),
 * MCS_ENOMEM. `fresh` forces a new connection (for a retry). `probe`
 * asks an idle connection's socket whether the server closed it (after a
 * restart) before handing it out: needed for writes, whose effect is
 * unknown once sent on a dead connection; a read sent on one is simply
 * sent again on a fresh connection, so reads skip the system call. */
int mcs__conn_pool_acquire(mcs__conn_pool *p, int64_t wait_deadline, bool fresh,
                           bool probe, void **out);
/* Returns a connection: kept when `reuse` (and done), closed otherwise. */
void mcs__conn_pool_release(mcs__conn_pool *p, void *c, bool reuse);
/* The server failed mid-request: skip it for retry_s, drop idle
 * connections. */
void mcs__conn_pool_mark_down(mcs__conn_pool *p);
/* True while the server is marked down and not yet due for a probe. */
bool mcs__conn_pool_is_down(mcs__conn_pool *p);
typedef struct mcs__conn_pool_stats {
  uint64_t connects, connect_failures, down_skips;
} mcs__conn_pool_stats;
void mcs__conn_pool_stats_get(mcs__conn_pool *p, mcs__conn_pool_stats *st);

/* ---- The network stores' sockets (net.c): no protocol, only bytes;
 * every wait bounded by a deadline in monotonic ms. ---- */
struct iovec;
/* CLOCK_MONOTONIC in milliseconds: the deadlines' scale. */
int64_t mcs__net_now_ms(void);
/* Waits for `events` on fd until deadline: MCS_OK, MCS_ETIMEDOUT,
 * MCS_ESTORE. */
int mcs__net_wait(int fd, short events, int64_t deadline);
/* A connected non-blocking TCP socket (TCP_NODELAY) to host:port within
 * the deadline, trying each address: MCS_OK with *fd, MCS_ETIMEDOUT,
 * MCS_ESTORE. *resolved (may be NULL): whether the name resolved. Name
 * resolution itself blocks (use addresses where that matters). */
int mcs__net_connect(const char *host, uint16_t port, int64_t deadline, int *fd,
                     bool *resolved);
/* The same, without waiting: the connect started (for an event loop);
 * MCS_OK with *fd, MCS_ESTORE. */
int mcs__net_connect_start(const char *host, uint16_t port, int *fd);
/* An idle connection with nothing to read (not closed by the server). */
bool mcs__net_quiet(int fd);
/* Sends all of iov[0..iovcnt) (at most 8) before deadline; *sent counts
 * what the kernel took. MCS_OK, MCS_ETIMEDOUT, MCS_ESTORE, MCS_EINVAL. */
int mcs__net_sendv(int fd, const struct iovec *iov, int iovcnt,
                   int64_t deadline, size_t *sent);
/* Reads what is there into rbuf (rbuf[*rpos..len) is unread and moves to
 * the front), waiting until deadline for at least one byte. MCS_OK,
 * MCS_ETIMEDOUT, MCS_ESTORE (closed or failed), MCS_ENOMEM. */
int mcs__net_fill(int fd, mcs__buf *rbuf, size_t *rpos, int64_t deadline);
/* After an exchange: true when nothing is left unread (the buffer is then
 * emptied, and released when a large value grew it). */
bool mcs__net_drained(mcs__buf *rbuf, size_t *rpos);

/* ---- The pipelined engines' core (pipe.c): an event loop's non-blocking
 * connections for the network stores' engines (memcached/mc_async.c,
 * redis/rd_async.c), one per server, opened on first use and watched
 * through the loop's mcs_store_io. The protocol comes in as hooks: encode
 * a request, parse one reply. Single-threaded: the loop's thread. ---- */

/* A reply hook's answers besides MCS_OK and an error: not complete yet;
 * the hook failed the connection itself (mcs__pipe_fail). */
#define MCS__PIPE_NEED_MORE 1
#define MCS__PIPE_GONE 2
/* The bit of an op's scratch[1] the core owns ("sent on an earlier
 * connection": a read is sent again at most once); the protocol may use
 * the others, and scratch[0]. */
#define MCS__PIPE_SENT 1u

typedef struct mcs__pipe_conn {
  size_t server;         /* its index: the connect hook's argument */
  int fd;                /* -1: closed; opened by the next flush */
  bool connecting;       /* connect in progress: writability tells the end */
  bool out_armed;        /* watched for writability too */
  bool reused;           /* completed a reply since it was opened */
  bool heard;            /* a byte arrived since the FIFO was last empty */
  int64_t conn_deadline; /* while connecting */
  int64_t down_until;    /* ms; 0: up. Submits fail fast until then */
  uint64_t proto[2];     /* the protocol's own state (see closed) */
  mcs__buf out;          /* out.data[out_off..out.len) is unsent */
  size_t out_off;
  mcs__buf in; /* in.data[in_off..in.len) is unparsed */
  size_t in_off;
  mcs_store_op *head, *tail; /* sent or queued here, oldest first */
} mcs__pipe_conn;

typedef struct mcs__pipe_hooks {
  /* Starts a non-blocking connect to server `server`: MCS_OK with *fd,
   * MCS_ESTORE, MCS_ENOMEM. */
  int (*connect)(void *ctx, size_t server, int *fd);
  /* Appends op's request to c->out (and whatever a new connection, fd
   * -1, must send first): MCS_OK, or an error with c->out as it was. */
  int (*encode)(void *ctx, mcs__pipe_conn *c, mcs_store_op *op);
  /* One reply at buf[0..len) for c's head: MCS_OK when it took *used
   * bytes and settled it (mcs__pipe_pop, then mcs__pipe_complete or a
   * new mcs__pipe_send_on), MCS__PIPE_NEED_MORE, MCS__PIPE_GONE, or an
   * error: the stream is out of step and the core fails c with it. */
  int (*reply)(void *ctx, mcs__pipe_conn *c, const uint8_t *buf, size_t len,
               size_t *used);
  /* c was closed (NULL: nothing to do): reset the protocol's state,
   * wipe what c->out may hold. */
  void (*closed)(void *ctx, mcs__pipe_conn *c);
  /* op completes with error rc (NULL: nothing to count). */
  void (*failed)(void *ctx, mcs_store_op *op, int rc);
  /* c's server failed at the socket level, or an op was refused because
   * it is marked down (NULL: nothing to do). */
  void (*down)(void *ctx, mcs__pipe_conn *c);
} mcs__pipe_hooks;

typedef struct mcs__pipe {
  const mcs__pipe_hooks *hooks;
  void *ctx;
  const mcs_store_io *io; /* the loop's: how the sockets are watched */
  mcs__pipe_conn *conns;  /* cap of them; conns[0..n) in use */
  size_t n, cap;
  mcs_store_op *done_head, *done_tail; /* completed, done not yet run */
  size_t pending;                      /* begun, done not yet run */
  bool closing;                        /* in mcs__pipe_fini */
  unsigned io_timeout_ms, connect_timeout_ms, retry_s; /* the store's */
  _Atomic uint64_t *requests, *retries; /* counters; NULL: not counted */
} mcs__pipe;

/* `cap` connections (conns[i].server = i), all in use (the engine may
 * lower n and raise it later up to cap); the caller sets the timeouts and
 * counters. MCS_OK or MCS_ENOMEM. */
int mcs__pipe_init(mcs__pipe *p, const mcs__pipe_hooks *hooks, void *ctx,
                   const mcs_store_io *io, size_t cap);
/* Fails what is in flight with MCS_ESTORE (callbacks run), frees. */
void mcs__pipe_fini(mcs__pipe *p);
/* A submitted op: its results cleared, counted as pending. */
void mcs__pipe_begin(mcs__pipe *p, mcs_store_op *op);
/* Queues op on c (MCS_ESTORE at once when c's server is marked down or
 * the engine is closing; an encode error completes it). */
void mcs__pipe_send_on(mcs__pipe *p, mcs__pipe_conn *c, mcs_store_op *op);
/* Queues op on c: MCS_OK or encode's error (op not queued). */
int mcs__pipe_enqueue(mcs__pipe *p, mcs__pipe_conn *c, mcs_store_op *op);
/* op is done with rc; its callback runs at the end of the current
 * flush or event. */
void mcs__pipe_complete(mcs__pipe *p, mcs_store_op *op, int rc);
/* Takes c's head (NULL when none). */
mcs_store_op *mcs__pipe_pop(mcs__pipe_conn *c);
/* Closes c and settles its FIFO: the head gets rc, the rest rest_rc.
 * `down` (the socket failed or timed out) marks the server down for
 * retry_s unless the connection looks stale (reads then go again). */
void mcs__pipe_fail(mcs__pipe *p, mcs__pipe_conn *c, int rc, int rest_rc,
                    bool down);
bool mcs__pipe_is_down(const mcs__pipe_conn *c);
/* The store table's flush, event and timeout (store.h). */
void mcs__pipe_flush(mcs__pipe *p);
void mcs__pipe_event(mcs__pipe *p, void *tag, uint32_t events);
int mcs__pipe_timeout(const mcs__pipe *p);

#endif /* MCS_STORE_INT_H */
