/*
 * The memcached store's failure paths, against fake servers on 127.0.0.1
 * (junk replies, silence, connections closed mid-stream) and a refused
 * port: each must give a clear error within its timeout, never hang, and
 * never reuse a stream that may be out of step.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mc_testutil.h"

/* ======================================================================== */
/* Failure paths: fake servers and a refused port                           */
/* ======================================================================== */

typedef enum fake_mode {
  FAKE_JUNK_FIRST,   /* the first connection gets junk, later ones EN/HD */
  FAKE_SILENT,       /* accepts and reads, never answers */
  FAKE_CLOSE_SECOND, /* answers a connection's 1st request, closes on 2nd */
  FAKE_DUP_FIRST,    /* mg hits "v-<key>"; the 1st reply of a connection
                        comes again, late, just before the 2nd reply */
  FAKE_NO_ECHO       /* EN/HD without the opaque (memcached < 1.6.18 on a
                        miss) */
} fake_mode;

typedef struct fake {
  int lfd;
  uint16_t port;
  fake_mode mode;
  pthread_t th;
  atomic_bool stop;
  atomic_int accepts;
} fake;

typedef struct fake_client {
  int fd, serial, requests;
  bool skip_data; /* the next line is an ms data block */
  char first[160]; /* FAKE_DUP_FIRST: the connection's first reply */
} fake_client;

/* " O<token>" when the request line carries an opaque, else "": memcached
 * (1.6.18 and later) copies it into every reply to mg, ms and md, EN
 * included (proto_text.c, process_mget_command). */
static void fake_echo(const char *line, char *out, size_t size) {
  const char *o = strstr(line, " O");
  size_t n = o ? strcspn(o + 1, " ") + 1 : 0;
  snprintf(out, size, "%.*s", (int)n, o ? o : "");
}

/* A hit for mg: the value is "v-" and the key. */
static void fake_hit(const char *line, const char *echo, char *out,
                     size_t size) {
  size_t klen = strcspn(line + 3, " ");
  snprintf(out, size, "VA %zu c1 f0%s\r\nv-%.*s\r\n", klen + 2, echo,
           (int)klen, line + 3);
}

static void fake_answer(fake *f, fake_client *cl, const char *line) {
  if (cl->skip_data) {
    cl->skip_data = false;
    return;
  }
  cl->skip_data = strncmp(line, "ms ", 3) == 0;
  cl->requests++;
  if (f->mode == FAKE_SILENT)
    return;
  if (f->mode == FAKE_CLOSE_SECOND && cl->requests == 2) {
    close(cl->fd);
    cl->fd = -1;
    return;
  }
  char echo[48], ans[160];
  fake_echo(f->mode == FAKE_NO_ECHO ? "" : line, echo, sizeof echo);
  snprintf(ans, sizeof ans, "%s%s\r\n", line[1] == 'g' ? "EN" : "HD", echo);
  if (f->mode == FAKE_JUNK_FIRST && cl->serial == 1)
    snprintf(ans, sizeof ans, "XX what is this\r\n");
  if (f->mode == FAKE_DUP_FIRST && line[1] == 'g')
    fake_hit(line, echo, ans, sizeof ans);
  if (f->mode == FAKE_DUP_FIRST && cl->requests == 1)
    snprintf(cl->first, sizeof cl->first, "%s", ans);
  if (f->mode == FAKE_DUP_FIRST && cl->requests == 2) /* the duplicate */
    (void)!send(cl->fd, cl->first, strlen(cl->first), MSG_NOSIGNAL);
  (void)!send(cl->fd, ans, strlen(ans), MSG_NOSIGNAL);
}

/* Reads what is there and answers each complete line. Test-only: assumes
 * a request never straddles two reads (requests here are tiny). */
static void fake_serve(fake *f, fake_client *cl) {
  char buf[4096];
  ssize_t n = recv(cl->fd, buf, sizeof buf - 1, 0);
  if (n <= 0) {
    close(cl->fd);
    cl->fd = -1;
    return;
  }
  buf[n] = '\0';
  for (char *line = buf, *eol; cl->fd >= 0 && (eol = strstr(line, "\r\n"));
       line = eol + 2) {
    *eol = '\0';
    fake_answer(f, cl, line);
  }
}

static void *fake_main(void *arg) {
  fake *f = arg;
  fake_client cl[8];
  int ncl = 0;
  while (!atomic_load(&f->stop)) {
    struct pollfd pf[9] = {{f->lfd, POLLIN, 0}};
    for (int i = 0; i < ncl; i++)
      pf[i + 1] = (struct pollfd){cl[i].fd, POLLIN, 0};
    if (poll(pf, (nfds_t)ncl + 1, 20) <= 0)
      continue;
    for (int i = 0; i < ncl; i++)
      if (pf[i + 1].revents)
        fake_serve(f, &cl[i]);
    for (int i = 0; i < ncl; i++) /* forget closed clients */
      if (cl[i].fd < 0)
        cl[i--] = cl[--ncl];
    if ((pf[0].revents & POLLIN) && ncl < 8) {
      int fd = accept(f->lfd, NULL, NULL);
      if (fd >= 0)
        cl[ncl++] = (fake_client){fd, atomic_fetch_add(&f->accepts, 1) + 1,
                                  0, false, ""};
    }
  }
  for (int i = 0; i < ncl; i++)
    close(cl[i].fd);
  return NULL;
}

static void fake_start(fake *f, fake_mode mode) {
  struct sockaddr_in a = {0};
  socklen_t alen = sizeof a;
  memset(f, 0, sizeof *f);
  f->mode = mode;
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(f->lfd, 16), 0);
  assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
  f->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake *f) {
  atomic_store(&f->stop, true);
  pthread_join(f->th, NULL);
  close(f->lfd);
}

static int try_get(mcs_store *s, const char *key, mcs_store_result *res) {
  void *d = NULL;
  size_t len;
  int rc = mcs_store_get(s, key, strlen(key), 0, 0, &d, &len, NULL, NULL,
                         res);
  mcs_free(d);
  return rc;
}

static void test_fail_junk_reply_closes_the_connection(void **state) {
  (void)state;
  fake f;
  mcs_store_result res;
  fake_start(&f, FAKE_JUNK_FIRST);
  mcs_store *s = open_store(f.port, "pool=1&io_timeout_ms=2000");
  assert_int_equal(try_get(s, "k", &res), MCS_EPROTO);
  assert_int_equal(try_get(s, "k", &res), MCS_OK); /* a fresh connection */
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(atomic_load(&f.accepts), 2);
  assert_int_equal(stats_of(s).protocol_errors, 1);
  mcs_store_free(s);
  fake_stop(&f);
}

static void test_fail_silent_server_times_out(void **state) {
  (void)state;
  fake f;
  mcs_store_result res;
  fake_start(&f, FAKE_SILENT);
  mcs_store *s = open_store(f.port, "io_timeout_ms=300&retry_s=30");
  int64_t t0 = mcs__mc_now_ms();
  assert_int_equal(try_get(s, "k", &res), MCS_ETIMEDOUT);
  int64_t t1 = mcs__mc_now_ms();
  assert_true(t1 - t0 >= 290 && t1 - t0 < 300 + 700);
  assert_int_equal(try_get(s, "k", &res), MCS_ESTORE); /* marked down */
  assert_true(mcs__mc_now_ms() - t1 < 50);
  mcs_memcached_stats st = stats_of(s);
  assert_true(st.timeouts == 1 && st.connects == 1 && st.down_skips == 1);
  mcs_store_free(s);
  fake_stop(&f);
}

/* The server closes a pooled connection when it gets the request. A read
 * (mg) that got no reply byte is repeated once on a fresh connection; a
 * write is not, since it might have been applied. */
static void test_fail_retries_only_what_cannot_have_applied(void **state) {
  (void)state;
  fake f;
  mcs_store_result res;
  fake_start(&f, FAKE_CLOSE_SECOND);
  mcs_store *s = open_store(f.port, "pool=1&io_timeout_ms=2000&retry_s=0");
  assert_int_equal(try_get(s, "k", &res), MCS_OK);
  assert_int_equal(try_get(s, "k", &res), MCS_OK); /* retried */
  assert_int_equal(res, MCS_STORE_MISS);
  assert_int_equal(stats_of(s).retries, 1);
  assert_int_equal(atomic_load(&f.accepts), 2);
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 9, &res),
                   MCS_ESTORE); /* 2nd request on connection 2: not retried */
  assert_int_equal(stats_of(s).retries, 1);
  assert_int_equal(atomic_load(&f.accepts), 2);
  mcs_store_free(s);
  fake_stop(&f);
}

/* get: the value of a hit, NUL-terminated in out (empty otherwise). */
static int get_str(mcs_store *s, const char *key, char *out, size_t size) {
  void *d = NULL;
  size_t len = 0;
  mcs_store_result res = MCS_STORE_MISS;
  int rc = mcs_store_get(s, key, strlen(key), 0, 0, &d, &len, NULL, NULL,
                         &res);
  int n = rc == MCS_OK && res == MCS_STORE_HIT ? (int)len : 0;
  snprintf(out, size, "%.*s", n, d ? (char *)d : "");
  mcs_free(d);
  return rc;
}

/* Security issue 12, item 4: a reply that comes twice (a buggy proxy, a
 * hostile server) must not shift the next read of a pooled connection
 * onto another key. alice's reply arrives again before bob's: matched by
 * position alone, bob would be handed alice's value. The echoed opaque
 * tells them apart; bob's read fails with MCS_EPROTO, the connection is
 * closed and the next read, on a fresh one, is in step again. */
static void test_fail_duplicated_reply_never_answers_another_key(void **st) {
  (void)st;
  fake f;
  char v[64];
  fake_start(&f, FAKE_DUP_FIRST);
  mcs_store *s = open_store(f.port, "pool=1&io_timeout_ms=2000");
  assert_int_equal(get_str(s, "alice", v, sizeof v), MCS_OK);
  assert_string_equal(v, "v-alice");
  int rc = get_str(s, "bob", v, sizeof v); /* same pooled connection */
  if (strcmp(v, "v-alice") == 0)
    fail_msg("bob's read was handed alice's value (rc %d)", rc);
  assert_int_equal(rc, MCS_EPROTO);
  assert_int_equal(stats_of(s).protocol_errors, 1);
  assert_int_equal(get_str(s, "carol", v, sizeof v), MCS_OK);
  assert_string_equal(v, "v-carol");
  assert_int_equal(atomic_load(&f.accepts), 2);
  mcs_store_free(s);
  fake_stop(&f);
}

/* A reply without the opaque its request carried (what memcached before
 * 1.6.18 sends for a miss: a bare EN) cannot be told from a stray one:
 * MCS_EPROTO, and the connection is not reused. */
static void test_fail_reply_without_echo_is_refused(void **state) {
  (void)state;
  fake f;
  mcs_store_result res;
  fake_start(&f, FAKE_NO_ECHO);
  mcs_store *s = open_store(f.port, "pool=1&io_timeout_ms=2000");
  assert_int_equal(try_get(s, "k", &res), MCS_EPROTO);
  assert_int_equal(mcs_store_delete(s, "k", 1, &res), MCS_EPROTO);
  assert_int_equal(stats_of(s).protocol_errors, 2);
  assert_int_equal(atomic_load(&f.accepts), 2);
  mcs_store_free(s);
  fake_stop(&f);
}

static void test_fail_down_server_fails_fast_without_connecting(void **s0) {
  (void)s0;
  mcs_store_result res;
  uint16_t port = mc_free_port(); /* nothing listens: refused */
  mcs_store *s = open_store(port, "retry_s=5&connect_timeout_ms=200");
  int64_t t0 = mcs__mc_now_ms();
  assert_int_equal(try_get(s, "k", &res), MCS_ESTORE);
  assert_int_equal(mcs_store_set(s, "k", 1, "v", 1, 0, 9, &res), MCS_ESTORE);
  assert_int_equal(try_get(s, "k", &res), MCS_ESTORE);
  assert_true(mcs__mc_now_ms() - t0 < 100);
  mcs_memcached_stats st = stats_of(s);
  assert_true(st.connects == 1 && st.connect_failures == 1);
  assert_int_equal(st.down_skips, 2);
  mcs_store_free(s);
}

int main(void) {
  const struct CMUnitTest fails[] = {
      cmocka_unit_test(test_fail_junk_reply_closes_the_connection),
      cmocka_unit_test(test_fail_silent_server_times_out),
      cmocka_unit_test(test_fail_retries_only_what_cannot_have_applied),
      cmocka_unit_test(test_fail_down_server_fails_fast_without_connecting),
      cmocka_unit_test(test_fail_duplicated_reply_never_answers_another_key),
      cmocka_unit_test(test_fail_reply_without_echo_is_refused),
  };
  return cmocka_run_group_tests_name("memcached_failures", fails, NULL, NULL);
}
