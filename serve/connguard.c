/* Connection limits and request-header deadlines; see connguard.h.
 *
 * Counting: MHD calls the accept policy (connguard_accept) and then, for a
 * connection it keeps, NOTIFY_CONNECTION STARTED, one after the other in
 * the same MHD_run on the same thread (MHD 0.9.75, daemon.c:
 * internal_add_connection). Between the two MHD may still drop the
 * connection (out of memory, epoll_ctl failing) without telling us. So the
 * policy reserves a place for the address and leaves it pending in the
 * loop; STARTED takes the reservation into the connection's record, which
 * CLOSED releases. A reservation still pending at the next accept or after
 * MHD_run belonged to a connection MHD dropped: it is released then.
 *
 * Deadlines: each loop keeps the connections that owe a request header in
 * a list ordered by deadline, which is simply the order in which their
 * clocks started (all deadlines are start + the same timeout), so the
 * head is always the next one due and adding is appending. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#include "connguard.h"

/* A client address as counted: IPv4, or the /64 of IPv6 (IPv4-mapped IPv6
 * addresses count as the IPv4 ones they are). */
typedef struct addr_key {
  uint64_t bits;
  int family; /* 4, 6, or 0 for anything else (counted as one) */
} addr_key;

typedef struct addr_count {
  struct addr_count *next;
  addr_key key;
  unsigned n;
} addr_count;

struct connguard {
  pthread_mutex_t lock;
  connguard_config cfg;
  unsigned open;        /* connections counted, all addresses */
  uint64_t seed;        /* keys the hash, so clients cannot aim at a chain */
  size_t mask;          /* buckets - 1 */
  addr_count **buckets; /* one entry per address with connections */
};

/* A connection's record (MHD's socket_context). */
typedef struct guard_conn {
  struct guard_conn *prev, *next; /* in the loop's list while waiting */
  connguard_loop *loop;
  MHD_socket fd;
  addr_key key;
  bool waiting; /* owes a request header, due at `due_ms` */
  uint64_t due_ms;
} guard_conn;

struct connguard_loop {
  connguard *g;
  guard_conn *head, *tail; /* waiting, soonest deadline first */
  bool pending;            /* a reservation MHD has not taken (yet) */
  addr_key pending_key;
};

/* ---- Counting, shared by every thread ----------------------------------- */

/* ::ffff:a.b.c.d, an IPv4 client on an IPv6 socket. */
static const uint8_t V4MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static addr_key key_of(const struct sockaddr *sa, socklen_t len) {
  addr_key k = {0, 0};
  if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in in;
    memcpy(&in, sa, sizeof in);
    k.family = 4;
    k.bits = ntohl(in.sin_addr.s_addr);
  } else if (sa && sa->sa_family == AF_INET6 &&
             len >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 in6;
    memcpy(&in6, sa, sizeof in6);
    const uint8_t *b = in6.sin6_addr.s6_addr;
    bool mapped = memcmp(b, V4MAPPED, sizeof V4MAPPED) == 0;
    k.family = mapped ? 4 : 6;
    for (int i = mapped ? 12 : 0; i < (mapped ? 16 : 8); i++)
      k.bits = k.bits << 8 | b[i];
  }
  return k;
}

static bool key_eq(addr_key a, addr_key b) {
  return a.bits == b.bits && a.family == b.family;
}

/* splitmix64's finalizer over the seeded key. */
static size_t bucket_of(const connguard *g, addr_key k) {
  uint64_t x = (k.bits ^ g->seed) + (uint64_t)k.family * 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return (size_t)(x ^ (x >> 31)) & g->mask;
}

static addr_count **find(connguard *g, addr_key k) {
  addr_count **p = &g->buckets[bucket_of(g, k)];
  while (*p && !key_eq((*p)->key, k))
    p = &(*p)->next;
  return p;
}

/* Counts one more connection from k, unless a limit says no. */
static bool admit(connguard *g, addr_key k) {
  bool ok = false;
  pthread_mutex_lock(&g->lock);
  addr_count **p = find(g, k);
  if (g->open < g->cfg.total && (!*p || (*p)->n < g->cfg.per_address)) {
    if (!*p && (*p = calloc(1, sizeof **p)))
      (*p)->key = k;
    if (*p) { /* else out of memory: refuse rather than not count */
      (*p)->n++;
      g->open++;
      ok = true;
    }
  }
  pthread_mutex_unlock(&g->lock);
  return ok;
}

static void release(connguard *g, addr_key k) {
  pthread_mutex_lock(&g->lock);
  addr_count **p = find(g, k);
  if (*p) { /* always: every release follows its admit */
    g->open--;
    if (--(*p)->n == 0) {
      addr_count *gone = *p;
      *p = gone->next;
      free(gone);
    }
  }
  pthread_mutex_unlock(&g->lock);
}

connguard *connguard_new(const connguard_config *cfg) {
  connguard *g = calloc(1, sizeof *g);
  if (!g)
    return NULL;
  g->cfg = *cfg;
  /* At most `total` addresses have connections: a bucket each. */
  size_t n = 16;
  while (n < cfg->total)
    n *= 2;
  g->mask = n - 1;
  g->buckets = calloc(n, sizeof *g->buckets);
  if (getrandom(&g->seed, sizeof g->seed, GRND_NONBLOCK) != sizeof g->seed)
    g->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u; /* still works */
  if (!g->buckets || pthread_mutex_init(&g->lock, NULL) != 0) {
    free(g->buckets);
    free(g);
    return NULL;
  }
  return g;
}

void connguard_free(connguard *g) {
  if (!g)
    return;
  for (size_t i = 0; i <= g->mask; i++) /* empty once every loop is gone */
    while (g->buckets[i]) {
      addr_count *next = g->buckets[i]->next;
      free(g->buckets[i]);
      g->buckets[i] = next;
    }
  free(g->buckets);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

/* ---- Per loop: reservations and header deadlines ------------------------ */

connguard_loop *connguard_loop_new(connguard *g) {
  connguard_loop *l = calloc(1, sizeof *l);
  if (l)
    l->g = g;
  return l;
}

static void drop_pending(connguard_loop *l) {
  if (l->pending)
    release(l->g, l->pending_key);
  l->pending = false;
}

void connguard_loop_free(connguard_loop *l) {
  if (!l)
    return;
  drop_pending(l);
  free(l);
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void unlink_waiting(guard_conn *c) {
  connguard_loop *l = c->loop;
  if (!c->waiting)
    return;
  *(c->prev ? &c->prev->next : &l->head) = c->next;
  *(c->next ? &c->next->prev : &l->tail) = c->prev;
  c->prev = c->next = NULL;
  c->waiting = false;
}

/* The connection owes a header from now on. */
static void start_clock(guard_conn *c) {
  connguard_loop *l = c->loop;
  unlink_waiting(c);
  c->due_ms = now_ms() + l->g->cfg.header_timeout_ms;
  c->prev = l->tail;
  *(l->tail ? &l->tail->next : &l->head) = c;
  l->tail = c;
  c->waiting = true;
}

enum MHD_Result connguard_accept(void *loop, const struct sockaddr *addr,
                                 socklen_t addrlen) {
  connguard_loop *l = loop;
  drop_pending(l); /* MHD dropped the connection it was for */
  addr_key k = key_of(addr, addrlen);
  if (!admit(l->g, k))
    return MHD_NO; /* MHD closes the socket at once */
  l->pending = true;
  l->pending_key = k;
  return MHD_YES;
}

static MHD_socket fd_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *i =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  return i ? i->connect_fd : MHD_INVALID_SOCKET;
}

static void started(connguard_loop *l, struct MHD_Connection *conn,
                    void **socket_context) {
  guard_conn *c = l->pending ? calloc(1, sizeof *c) : NULL;
  MHD_socket fd = fd_of(conn);
  if (!c || fd == MHD_INVALID_SOCKET) {
    /* Not counted (no reservation: not reached, MHD asks the policy for
     * every connection it accepts) or no memory to track it: refuse it. */
    free(c);
    drop_pending(l);
    if (fd != MHD_INVALID_SOCKET)
      shutdown(fd, SHUT_RDWR);
    return;
  }
  c->loop = l;
  c->fd = fd;
  c->key = l->pending_key;
  l->pending = false;
  start_clock(c);
  *socket_context = c;
}

void connguard_notify(void *loop, struct MHD_Connection *conn,
                      void **socket_context,
                      enum MHD_ConnectionNotificationCode code) {
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    started(loop, conn, socket_context);
    return;
  }
  guard_conn *c = *socket_context;
  if (!c)
    return;
  *socket_context = NULL;
  unlink_waiting(c);
  release(c->loop->g, c->key);
  free(c);
}

static guard_conn *record_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *i =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? i->socket_context : NULL;
}

void connguard_header_done(struct MHD_Connection *conn) {
  guard_conn *c = record_of(conn);
  if (c)
    unlink_waiting(c);
}

void connguard_request_done(struct MHD_Connection *conn) {
  guard_conn *c = record_of(conn);
  if (c)
    start_clock(c);
}

void connguard_run(connguard_loop *l) {
  drop_pending(l); /* MHD_run is over: nothing will take it now */
  if (!l->head)
    return;
  uint64_t now = now_ms();
  while (l->head && l->head->due_ms <= now) {
    guard_conn *c = l->head;
    unlink_waiting(c);
    /* MHD owns the descriptor (open until after CLOSED, which frees c):
     * shutdown makes it readable at end of file, MHD's next run reads
     * that and closes the connection itself, with every callback. */
    shutdown(c->fd, SHUT_RDWR);
  }
}

int connguard_timeout(const connguard_loop *l) {
  if (!l->head)
    return -1;
  uint64_t now = now_ms();
  if (l->head->due_ms <= now)
    return 0;
  uint64_t ms = l->head->due_ms - now;
  return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

unsigned connguard_fit_fd_limit(unsigned total, unsigned reserve) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return total; /* not reached on Linux; nothing better to go by */
  rlim_t need = (rlim_t)total + reserve;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    struct rlimit up = rl;
    bool room = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need;
    up.rlim_cur = room ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &up) == 0)
      rl.rlim_cur = up.rlim_cur;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return total;
  return rl.rlim_cur > reserve ? (unsigned)(rl.rlim_cur - reserve) : 0;
}
