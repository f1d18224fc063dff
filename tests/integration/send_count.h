/* Counts the send() calls of the code under test: a test linked with
 * "-Wl,--wrap=send" gets them here (tests/CMakeLists.txt), which counts
 * and passes them on. For the pipelining tests of the event-loop engines
 * (test_redis_loop.c, test_redis_cluster_loop.c): one write per server
 * per turn. Include once per test program. */
#ifndef MCS_SEND_COUNT_H
#define MCS_SEND_COUNT_H

#include <stdatomic.h>
#include <sys/socket.h>

ssize_t __real_send(int fd, const void *buf, size_t len, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags);
static atomic_int sends;
ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags) {
  atomic_fetch_add(&sends, 1);
  return __real_send(fd, buf, len, flags);
}

#endif /* MCS_SEND_COUNT_H */
