/* Connection limits and a request-header deadline for libmicrohttpd
 * daemons that the caller's own event loops drive (no MHD thread, one
 * daemon per thread, as evloop.c runs them for the demo and the gate).
 *
 * One client must not be able to hold every connection. This file gives a
 * server, process-wide:
 *   - at most `total` connections at once, all threads together;
 *   - at most `per_address` of them from one client address (an IPv4
 *     address; an IPv6 client is counted by its /64, the block one site
 *     usually gets);
 *   - a deadline for every request header: a connection must deliver a
 *     complete header within `header_timeout_ms` of opening, or of the end
 *     of its previous request, or it is closed. Bytes trickled in
 *     meanwhile do not extend it (MHD_OPTION_CONNECTION_TIMEOUT is an idle
 *     timeout that each byte restarts), and a kept-alive connection that
 *     sends nothing is closed then too.
 * Connections over a limit are closed as soon as MHD accepts them, before
 * MHD allocates anything for them.
 *
 * Why not MHD_OPTION_PER_IP_CONNECTION_LIMIT: MHD 0.9.75 counts each
 * daemon's own connections (daemon.c, MHD_ip_limit_add on the daemon or
 * its master), so with one daemon per thread a client would get threads x
 * the limit, in whatever split the kernel hands out connections.
 *
 * Self-contained (libmicrohttpd, POSIX, libc; nothing of either program
 * that uses it).
 *
 * Threads: a connguard is shared by every thread (a mutex guards its
 * counts); a connguard_loop belongs to one daemon and is used only by the
 * thread that runs it (or by whoever stops the daemon after that thread
 * ended). */
#ifndef SERVE_CONNGUARD_H
#define SERVE_CONNGUARD_H

#include <sys/socket.h>

#include <microhttpd.h>

typedef struct connguard_config {
  unsigned total;             /* connections at once, every thread */
  unsigned per_address;       /* of them from one address (IPv6: /64) */
  unsigned header_timeout_ms; /* for each request header, see above */
} connguard_config;

typedef struct connguard connguard;
typedef struct connguard_loop connguard_loop;

/* NULL when out of memory. */
connguard *connguard_new(const connguard_config *cfg);
/* After every loop made from it was freed. */
void connguard_free(connguard *g);

/* One per daemon; NULL when out of memory. */
connguard_loop *connguard_loop_new(connguard *g);
/* After its daemon stopped (MHD_stop_daemon closes, and so reports, every
 * connection). */
void connguard_loop_free(connguard_loop *l);

/* The daemon's hooks, with the loop as their closure:
 *   MHD_start_daemon(flags, 0, connguard_accept, loop, handler, ...,
 *       MHD_OPTION_NOTIFY_CONNECTION, connguard_notify, loop,
 *       MHD_OPTION_CONNECTION_LIMIT, cfg.total, ...)
 * (MHD's own limit as high as ours, so that ours is the one that counts:
 * MHD's default is FD_SETSIZE - 4 per daemon). */
enum MHD_Result connguard_accept(void *loop, const struct sockaddr *addr,
                                 socklen_t addrlen);
void connguard_notify(void *loop, struct MHD_Connection *conn,
                      void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* Call from the access handler's first call for a request (its header is
 * complete: the deadline no longer applies) ... */
void connguard_header_done(struct MHD_Connection *conn);
/* ... and from the request-completed callback
 * (MHD_OPTION_NOTIFY_COMPLETED): the next header's deadline starts. */
void connguard_request_done(struct MHD_Connection *conn);

/* Call after every MHD_run: closes the connections whose header deadline
 * passed (shutdown(2) of their socket; MHD sees the end on its next run,
 * which the daemon's epoll descriptor wakes the loop for) and returns a
 * reservation MHD left unused. */
void connguard_run(connguard_loop *l);

/* Milliseconds until the loop's next header deadline, -1 when it has
 * none: the loop must not wait longer before calling connguard_run. */
int connguard_timeout(const connguard_loop *l);

/* Makes the descriptor limit (RLIMIT_NOFILE) hold `total` connections
 * plus `reserve` other descriptors, raising the soft limit up to the hard
 * one if needed. Returns how many connections fit: `total`, or fewer when
 * the hard limit is lower. */
unsigned connguard_fit_fd_limit(unsigned total, unsigned reserve);

#endif
