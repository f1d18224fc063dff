/*
 * Internal declarations of the Redis store: the RESP2 codec (rd_resp.c),
 * the URL (rd_url.c), one blocking connection (rd_conn.c), the per-server
 * pool (rd_pool.c), the cluster's slot map (rd_slots.c), running a command
 * with the retry and redirection rules (rd_exec.c), the operations table
 * (rd_store.c) and the pipelined engine of an event loop (rd_async.c).
 * The protocol is "RESP protocol specification" (RESP2) of the Redis
 * documentation; the cluster's rules are its "Redis cluster
 * specification".
 */
#ifndef MCS_RD_INT_H
#define MCS_RD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"
#include "mcsession/redis.h"

/* ---- RESP2 codec (rd_resp.c): no I/O, no allocation but appending to a
 * caller's buffer; the parser only points into the caller's bytes. ---- */

/* Longest line of a reply (a simple string, an error, an integer or a
 * length header): Redis's error lines are short ("-MOVED 3999
 * 127.0.0.1:6381"), so anything longer is not a reply of ours. */
#define MCS__RD_LINE_MAX 1024
/* Deepest nesting of arrays accepted (CLUSTER SLOTS has 3 levels, 4 with
 * Redis 7's node metadata). */
#define MCS__RD_DEPTH_MAX 6
/* Most arguments of one command we send. */
#define MCS__RD_ARGS_MAX 8

/* Returned (positive, not an error) when a reply is not complete yet. */
#define MCS__RD_NEED_MORE 1

typedef enum mcs__rd_type {
  MCS__RD_STATUS = '+', /* simple string: p, len */
  MCS__RD_ERROR = '-',  /* error line: p, len */
  MCS__RD_INT = ':',    /* integer: i */
  MCS__RD_BULK = '$',   /* bulk string: p, len */
  MCS__RD_ARRAY = '*',  /* array: i elements follow in pre-order */
  MCS__RD_NIL = 'n'     /* null bulk ($-1) or null array (*-1) */
} mcs__rd_type;

typedef struct mcs__rd_node {
  mcs__rd_type type;
  const uint8_t *p; /* BORROWED: points into the parsed buffer */
  size_t len;
  int64_t i;
} mcs__rd_node;

/* One argument of a command: up to two pieces sent as one bulk string (a
 * stored value is its header and the data, never copied together). */
typedef struct mcs__rd_arg {
  const void *p;
  size_t n;
  const void *p2;
  size_t n2;
} mcs__rd_arg;

/* Appends a command (an array of bulk strings, "Sending commands to a
 * Redis server") to `out`. MCS_EINVAL for no or too many arguments;
 * MCS_ENOMEM (out keeps its previous length). */
int mcs__rd_format(mcs__buf *out, const mcs__rd_arg *argv, size_t argc);

/* Parses one whole reply at the start of buf[0..len) into nodes[0..max)
 * (pre-order: an array's elements follow it), *count nodes. MCS_OK with
 * *consumed the reply's length; MCS__RD_NEED_MORE; MCS_EPROTO (not RESP2:
 * an unknown type byte, a malformed number, a line over
 * MCS__RD_LINE_MAX, nesting over MCS__RD_DEPTH_MAX, a RESP3 type);
 * MCS_ETOOBIG (a bulk string over max_bulk, or more than `max` nodes).
 * Never reads outside buf, never allocates. After an error the stream
 * must be abandoned. */
int mcs__rd_parse(const uint8_t *buf, size_t len, size_t max_bulk,
                  mcs__rd_node *nodes, size_t max, size_t *count,
                  size_t *consumed);

/* ---- Stored values (rd_resp.c): "\0mcr", the token (8 bytes) and the
 * client flags (4), big-endian, then the data. ---- */
#define MCS__RD_HDR_LEN 16
#define MCS__RD_TOKEN_END 12 /* magic + token: what the cas script compares */
void mcs__rd_hdr_put(uint8_t out[MCS__RD_HDR_LEN], uint64_t token,
                     uint32_t flags);
/* MCS_OK with the token and flags of a stored value, MCS_EPROTO when it
 * does not start with a header (another client's value) or its token is
 * 0. */
int mcs__rd_hdr_get(const uint8_t *v, size_t len, uint64_t *token,
                    uint32_t *flags);
/* A fresh token: 64 random bits, never 0. */
uint64_t mcs__rd_token_new(void);

/* The compare-and-swap script (rd_resp.c has its text and the reasoning)
 * and the SHA-1 of that text that EVALSHA names it by. */
extern const char mcs__rd_cas_script[];
extern const char mcs__rd_cas_sha[41];

/* The hash slot of a key ("Redis cluster specification", "Keys
 * distribution model"): CRC16 (XMODEM) of the key, or of its hash tag
 * (the bytes between the first '{' and the next '}', when not empty),
 * mod 16384. */
#define MCS__RD_SLOTS 16384
uint16_t mcs__rd_slot(const char *key, size_t len);

/* Time: CLOCK_MONOTONIC in milliseconds. */
int64_t mcs__rd_now_ms(void);

/* ---- The store's shared state (rd_store.c) ---- */


/* A server the store talks to: a configured one, or a cluster node
 * learnt from CLUSTER SLOTS or a redirection. Never removed while the
 * store lives (a cluster has few nodes; the list is bounded). */
typedef struct mcs__rd_node_srv {
  mcs_redis_server srv;
  mcs__conn_pool *pool;
} mcs__rd_node_srv;
#define MCS__RD_NODES_MAX 256

typedef struct mcs__rd_store {
  mcs_redis_config cfg;
  char password[MCS_REDIS_PASSWORD_MAX + 1]; /* wiped on free */
  size_t password_len;
  /* Servers: cfg.servers first, then cluster nodes as learnt. */
  pthread_mutex_t nodes_mu;
  mcs__rd_node_srv *nodes[MCS__RD_NODES_MAX];
  _Atomic size_t node_count;
  void *ring; /* redis:// with several servers: mcs__mc_ring (ketama) */
  /* Cluster: the node serving each slot (index into nodes, -1 unknown),
   * read and written under slots_mu. */
  pthread_rwlock_t slots_mu;
  int16_t *slots;
  _Atomic bool slots_stale; /* read the map again before the next request */
  _Atomic int64_t slots_next; /* ms: no refresh before (throttle) */
  pthread_mutex_t refresh_mu; /* one refresh at a time */
  pthread_mutex_t err_mu;
  char last_error[160];
  _Atomic uint64_t requests, timeouts, protocol_errors, error_replies,
      redirects, slot_refreshes, script_loads;
} mcs__rd_store;

/* Records what went wrong for mcs_store_redis_last_error: `what`, then
 * (when p is not NULL) up to 120 bytes of an error reply's text. */
void mcs__rd_note_error(mcs__rd_store *st, const char *what, const void *p,
                        size_t len);
/* The node index for a server, added (with its pool) when new. -1 when
 * the list is full or out of memory. */
int mcs__rd_node_find_add(mcs__rd_store *st, const char *host, size_t hlen,
                          uint16_t port);
/* redis:// with several servers: the key's server (ketama, as the
 * memcached store's ring). */
size_t mcs__rd_ring_pick(const mcs__rd_store *st, const char *key,
                         size_t len);
static inline void mcs__rd_count(_Atomic uint64_t *c) {
  atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- One blocking connection (rd_conn.c): a non-blocking socket whose
 * every wait is a poll() bounded by a deadline; used by one thread at a
 * time. ---- */
typedef struct mcs__rd_conn mcs__rd_conn;

/* Connects within timeout_ms and runs the handshake (AUTH, SELECT; one
 * round trip) when the store needs one. MCS_OK, MCS_ETIMEDOUT, MCS_ESTORE
 * (refused, unreachable, not resolved, an error reply to the handshake:
 * noted with mcs__rd_note_error), MCS_EPROTO, MCS_ENOMEM. */
int mcs__rd_conn_open(mcs__rd_store *st, const mcs_redis_server *srv,
                      mcs__rd_conn **out);
void mcs__rd_conn_close(mcs__rd_conn *c); /* NULL is fine */
/* Nothing buffered, and (with probe, one poll) the peer has neither
 * closed the connection nor sent anything unasked. */
bool mcs__rd_conn_idle_ok(mcs__rd_conn *c, bool probe);
bool mcs__rd_conn_reused(const mcs__rd_conn *c);
/* Sends all of buf before deadline; *sent counts what the kernel took.
 * MCS_OK, MCS_ETIMEDOUT, MCS_ESTORE. */
int mcs__rd_conn_send(mcs__rd_conn *c, const uint8_t *buf, size_t len,
                      int64_t deadline, size_t *sent);
/* Reads the next reply into nodes (see mcs__rd_parse); they stay valid
 * until the next call on c. *got_bytes: whether any byte of it came.
 * MCS_OK, MCS_ETIMEDOUT, MCS_ESTORE (closed), MCS_ENOMEM, the parser's
 * errors. */
int mcs__rd_conn_read(mcs__rd_conn *c, size_t max_bulk, int64_t deadline,
                      mcs__rd_node *nodes, size_t max, size_t *count,
                      bool *got_bytes);
/* Marks an exchange complete; true when nothing unread is left. */
bool mcs__rd_conn_done(mcs__rd_conn *c);
/* Starts a non-blocking connect (for an event loop): the socket in *fd.
 * MCS_OK or MCS_ESTORE. Name resolution blocks (use addresses). */
int mcs__rd_connect_start(const mcs_redis_server *srv, int *fd);
/* The handshake commands (AUTH, SELECT) appended to out, and how many
 * replies they will get (each must be +OK). */
int mcs__rd_handshake(const mcs__rd_store *st, mcs__buf *out, size_t *n);

/* ---- Per-server pool (rd_pool.c): conn_pool.c over Redis connections
 * (whose open includes the handshake). ---- */
int mcs__rd_pool_new(mcs__rd_store *st, const mcs_redis_server *srv,
                     mcs__conn_pool **out);

/* ---- Commands (rd_exec.c) ---- */

/* What a command is, for the retry rules and the reply's check. */
typedef enum mcs__rd_kind {
  MCS__RD_K_READ = 1, /* GET, GETEX, PTTL, EXPIRE: repeating changes nothing
                         once would not; may go again after a stale
                         connection */
  MCS__RD_K_WRITE     /* SET, EVALSHA, DEL: effect unknown once sent */
} mcs__rd_kind;

/* One command (or a few pipelined to one key's server) and its replies.
 * Everything the args point to is BORROWED until mcs__rd_run returns. */
typedef struct mcs__rd_cmd {
  const char *key; /* routes the command (ring or slot) */
  size_t key_len;
  mcs__rd_kind kind;
  size_t ncmds; /* 1 or 2 commands, sent together */
  mcs__rd_arg argv[2][MCS__RD_ARGS_MAX];
  size_t argc[2];
  size_t max_bulk; /* longest bulk string accepted in a reply */
  /* out: the replies, one node each (no arrays expected); bulk and
   * status nodes point into `reply`, which the caller frees. */
  mcs__rd_node out[2];
  mcs__buf reply;
} mcs__rd_cmd;

/* Runs the commands on the key's server over a pooled connection: MCS_OK
 * when every reply came (error replies included: the caller reads them),
 * else MCS_ESTORE, MCS_ETIMEDOUT, MCS_EPROTO, MCS_ETOOBIG, MCS_ENOMEM.
 * Follows MOVED and ASK (cluster), counts and notes errors. */
int mcs__rd_run(mcs__rd_store *st, mcs__rd_cmd *cmd);
/* The node index a key goes to now (ring or slot map; the slot map is
 * read first when it is stale). -1 when the cluster's map has no node
 * for the key's slot (MCS_ESTORE). */
int mcs__rd_route(mcs__rd_store *st, const char *key, size_t len);
/* Most redirections (MOVED, ASK) one command follows, so a cluster in
 * flux cannot keep a request going round. */
#define MCS__RD_REDIRECTS_MAX 5
/* True when an error reply's text starts with `word` followed by a space
 * or the end ("NOSCRIPT", "MOVED"). */
bool mcs__rd_err_is(const mcs__rd_node *n, const char *word);

/* ---- Cluster slot map (rd_slots.c) ---- */
/* Most reply nodes a CLUSTER SLOTS may have (about 10 per range and
 * node: far more than a cluster of MCS__RD_NODES_MAX nodes sends). */
#define MCS__RD_SLOTS_NODES_MAX 65536
/* The node index serving slot now (-1 unknown), without reading the map
 * (the engine's route: it never blocks). */
int mcs__rd_slot_node(mcs__rd_store *st, uint16_t slot);
/* The map is stale and the last read is far enough back (at most one
 * read per 100 ms: a resharding sends many MOVED). */
bool mcs__rd_slots_due(mcs__rd_store *st);
/* A read of the map starts: no longer stale, the next not before 100 ms,
 * counted. */
void mcs__rd_slots_begin(mcs__rd_store *st);
/* Reads CLUSTER SLOTS from a reachable node (a known node, else a seed)
 * and replaces the map. MCS_OK or an error (the old map stays). */
int mcs__rd_slots_refresh(mcs__rd_store *st);
/* A MOVED reply: slot now lives at host:port. */
void mcs__rd_slots_moved(mcs__rd_store *st, uint16_t slot, int node);
/* Parses "MOVED <slot> <host>:<port>" / "ASK ..." into slot and node. */
int mcs__rd_redirect_parse(mcs__rd_store *st, const mcs__rd_node *err,
                           uint16_t *slot, int *node);
/* Fills the slot map from a parsed CLUSTER SLOTS reply (exposed for the
 * unit tests). */
int mcs__rd_slots_apply(mcs__rd_store *st, const mcs__rd_node *nodes,
                        size_t count);

/* ---- The engine (rd_async.c): the non-blocking side, over the
 * pipelined engines' core (store/pipe.c); contract as mc_async.c's
 * (mc_int.h). redis:// has a connection per server; redis+cluster:// one
 * per master, requests routed by the slot map, MOVED and ASK followed on
 * the loop, the map read again on the engine's own connections. ---- */
int mcs__rd_async_attach(void *ud, const mcs_store_io *io, void **engine);
void mcs__rd_async_detach(void *engine);
void mcs__rd_async_submit(void *engine, mcs_store_op *op);
void mcs__rd_async_flush(void *engine);
int mcs__rd_async_timeout(void *engine);
void mcs__rd_async_event(void *engine, void *tag, uint32_t events);
/* Operations submitted and not yet completed (for tests). */
size_t mcs__rd_async_pending(const void *engine);

/* ---- Operations shared by both sides (rd_ops.c) ---- */
/* The commands for a store operation (keys and data BORROWED); `hdr`
 * (MCS__RD_HDR_LEN bytes, the caller's) and `num` (two decimal buffers of
 * 24 bytes) hold what the arguments point to. *new_token is the token a
 * write stores. use_script_text: EVAL with the script instead of
 * EVALSHA (after NOSCRIPT). */
typedef struct mcs__rd_opargs {
  mcs_store_op_kind kind;
  const char *key;
  size_t key_len;
  const void *data;
  size_t len;
  uint32_t flags, ttl;
  uint64_t cas;
  bool eval_text;
} mcs__rd_opargs;
typedef struct mcs__rd_opbuf {
  uint8_t hdr[MCS__RD_HDR_LEN];
  uint8_t expect_hdr[MCS__RD_HDR_LEN]; /* its first 12 bytes are sent */
  char num[2][24];
  uint64_t new_token;
} mcs__rd_opbuf;
/* Builds the arguments into argv (returns argc; 0 for an invalid op:
 * MCS_EINVAL). */
size_t mcs__rd_op_argv(const mcs__rd_opargs *a, mcs__rd_opbuf *b,
                       mcs__rd_arg argv[MCS__RD_ARGS_MAX]);
/* What a reply to the operation means: MCS_OK with *result (and a hit's
 * value through value, token and flags), or MCS_EPROTO (unfit reply),
 * MCS_ESTORE (an error reply; noted), MCS_ETOOBIG. *noscript: the reply
 * was NOSCRIPT (send the script's text). */
int mcs__rd_op_result(mcs__rd_store *st, mcs_store_op_kind kind,
                      const mcs__rd_node *r, const mcs__rd_opbuf *b,
                      mcs_store_value *value, uint64_t *cas, uint32_t *flags,
                      mcs_store_result *result, bool *noscript);
/* Checks an op before anything is sent: MCS_EINVAL (key, TOUCH with ttl
 * 0, CAS with token 0), MCS_ETOOBIG (over MCS_REDIS_VALUE_MAX). */
int mcs__rd_op_check(const mcs__rd_opargs *a);
/* Bytes a reply's bulk may have: a stored value's header plus the
 * reader's limit (v may be NULL), never more than the store writes. */
size_t mcs__rd_value_limit(const mcs_store_value *v);

/* How the config keeps its servers, for store_url.c's list parser and
 * checks and the ring (rd_url.c). */
extern const mcs__url_servers mcs__rd_servers_layout;

#endif /* MCS_RD_INT_H */
