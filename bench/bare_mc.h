/*
 * A bare memcached meta-protocol client for the benchmarks: the floor that
 * mcsession's memcached store is compared with, plus the two chores the
 * benchmark needs besides (reading `stats`, writing many records fast).
 *
 * One plain blocking TCP socket with TCP_NODELAY, no pool, no timeouts, no
 * key checks: only what one round trip costs. Follows memcached's
 * doc/protocol.txt ("Meta Get", "Meta Set", "Meta No-Op", "stats").
 * Not for production use.
 */
#ifndef BENCH_BARE_MC_H
#define BENCH_BARE_MC_H

#include <stddef.h>
#include <stdint.h>

#define BARE_BUF_SIZE 65536

typedef struct bare_mc {
  int fd;
  size_t off, have;       /* unread bytes are buf[off..have) */
  char buf[BARE_BUF_SIZE];
} bare_mc;

/* Connects to host:port (numeric or name). 0 or -1 (errno set). */
int bare_connect(bare_mc *c, const char *host, unsigned port);
void bare_close(bare_mc *c);

/* `mg <key> v c f T<ttl>`, the request mcsession's store sends to read a
 * session and slide its expiry. Reads the whole value (into the client's
 * buffer, then drops it). *cas and *flags get the item's token and flags,
 * *vlen its length. 1 hit, 0 miss, -1 error. */
int bare_mg(bare_mc *c, const char *key, uint32_t ttl, uint64_t *cas,
            uint32_t *flags, size_t *vlen);

/* `ms <key> <len> T<ttl> F<flags> C<cas>`: compare-and-swap, as a save of a
 * changed session does. 1 stored, 0 not (EX or NF), -1 error. */
int bare_ms_cas(bare_mc *c, const char *key, const void *data, size_t len,
                uint32_t ttl, uint32_t flags, uint64_t cas);

/* Pipelining: requests appended to a batch go out with one write
 * (bare_batch_send); their replies are then read in order. bare_mg and
 * bare_ms_cas are batches of one. The append functions return 0, or -1
 * when the batch is full. */
typedef struct bare_batch {
  size_t len;
  char buf[BARE_BUF_SIZE];
} bare_batch;

int bare_batch_mg(bare_batch *b, const char *key, uint32_t ttl);
int bare_batch_ms_cas(bare_batch *b, const char *key, const void *data,
                      size_t len, uint32_t ttl, uint32_t flags, uint64_t cas);
/* Sends the batch and empties it. 0 or -1. */
int bare_batch_send(bare_mc *c, bare_batch *b);
/* The next reply: of an mg (as bare_mg) or of an ms (as bare_ms_cas). */
int bare_read_mg(bare_mc *c, uint64_t *cas, uint32_t *flags, size_t *vlen);
int bare_read_ms(bare_mc *c);

/* Sends `stats` and returns the figure named `name` in *value.
 * 0, or -1 (error, or no such figure). */
int bare_stat(bare_mc *c, const char *name, uint64_t *value);

/* Pipelined quiet writes (`ms ... q`), flushed with `mn` every ~256 KiB:
 * one round trip per few hundred records. */
typedef struct bare_pipe {
  bare_mc *mc;
  char *buf;
  size_t len, cap;
  uint64_t written, errors;
} bare_pipe;

int bare_pipe_init(bare_pipe *p, bare_mc *mc);
/* Queues one record; flushes when the buffer is full. 0 or -1. */
int bare_pipe_set(bare_pipe *p, const char *key, size_t key_len,
                  const void *data, size_t len, uint32_t ttl, uint32_t flags);
/* Sends what is queued and waits for memcached to have applied it (the
 * `mn` answer); counts refused records in p->errors. 0 or -1. */
int bare_pipe_flush(bare_pipe *p);
void bare_pipe_free(bare_pipe *p);

#endif /* BENCH_BARE_MC_H */
