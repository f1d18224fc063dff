/*
 * One memcached connection: a socket of net.c (every wait bounded by a
 * deadline) and its read buffer, whose replies are parsed in place
 * (mc_proto.c).
 */
#include <unistd.h>

#include "store/memcached/mc_int.h"

struct mcs__mc_conn {
  int fd;
  mcs__buf rbuf;  /* rbuf.data[rpos..rbuf.len) is unread */
  size_t rpos;
  bool reused;    /* completed at least one request */
  bool failed;    /* a send or receive failed at the socket level */
  uint32_t seq;   /* the next request's opaque (mcs__mc_conn_next_opaque) */
};

int64_t mcs__mc_now_ms(void) { return mcs__net_now_ms(); }

int mcs__mc_conn_open(const mcs_memcached_server *srv, unsigned timeout_ms,
                      mcs__mc_conn **out) {
  int fd = -1;
  *out = NULL;
  int rc = mcs__net_connect(srv->host, srv->port,
                            mcs__mc_now_ms() + timeout_ms, &fd, NULL);
  if (rc)
    return rc;
  mcs__mc_conn *c = mcs__calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return MCS_ENOMEM;
  }
  c->fd = fd;
  *out = c;
  return MCS_OK;
}

int mcs__mc_connect_start(const mcs_memcached_server *srv, int *fd) {
  return mcs__net_connect_start(srv->host, srv->port, fd);
}

void mcs__mc_conn_close(mcs__mc_conn *c) {
  if (!c)
    return;
  close(c->fd);
  mcs__buf_free(&c->rbuf);
  mcs__free(c);
}

bool mcs__mc_conn_reused(const mcs__mc_conn *c) { return c->reused; }

bool mcs__mc_conn_failed(const mcs__mc_conn *c) { return c->failed; }

/* A counter, not a random token: the opaque is no secret (a hostile
 * server can echo anything it was sent); it only has to differ from the
 * opaques of the replies that could still be on their way, and the last
 * 2^32 requests of this connection are all distinct. */
uint32_t mcs__mc_conn_next_opaque(mcs__mc_conn *c) { return c->seq++; }

bool mcs__mc_conn_idle_ok(mcs__mc_conn *c, bool probe) {
  return c->rpos == c->rbuf.len && (!probe || mcs__net_quiet(c->fd));
}

int mcs__mc_conn_sendv(mcs__mc_conn *c, const struct iovec *iov,
                       int iovcnt, int64_t deadline, size_t *sent) {
  int rc = mcs__net_sendv(c->fd, iov, iovcnt, deadline, sent);
  if (rc && rc != MCS_EINVAL)
    c->failed = true;
  return rc;
}

int mcs__mc_conn_read(mcs__mc_conn *c, size_t max_value, int64_t deadline,
                      mcs__mc_resp *resp, bool *got_bytes) {
  size_t start_len = c->rbuf.len - c->rpos, consumed = 0;
  for (;;) {
    const uint8_t *p = c->rbuf.data ? c->rbuf.data + c->rpos : NULL;
    int rc = mcs__mc_parse(p, c->rbuf.len - c->rpos, max_value, resp,
                           &consumed);
    if (rc != MCS__MC_NEED_MORE) {
      if (rc == MCS_OK)
        c->rpos += consumed;
      if (got_bytes)
        *got_bytes = true;
      return rc;
    }
    rc = mcs__net_fill(c->fd, &c->rbuf, &c->rpos, deadline);
    if (got_bytes)
      *got_bytes = c->rbuf.len - c->rpos > start_len || start_len > 0;
    if (rc) {
      c->failed = rc != MCS_ENOMEM;
      return rc;
    }
  }
}

bool mcs__mc_conn_done(mcs__mc_conn *c) {
  c->reused = true;
  return mcs__net_drained(&c->rbuf, &c->rpos);
}
