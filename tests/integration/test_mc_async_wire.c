/*
 * The memcached store's engine against fake servers on 127.0.0.1 that
 * say exactly what the test wants: the requests on the wire, a reply the
 * codec refuses, and a reply that comes twice (security issue 12: replies
 * are matched by their echoed opaque, never by position alone). The rig
 * and the real servers are mc_async_rig.h's.
 */
#include "mc_async_rig.h"

/* A listening socket on 127.0.0.1 that the test answers by hand. */
static int fake_listen(uint16_t *port) {
  struct sockaddr_in sa = {0};
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(fd, 8), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* Turns the engine until `fd` is readable (bounded), then accepts or
 * reads from it. */
static void step_until_readable(rig *r, int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  for (int i = 0; i < 200 && poll(&p, 1, 0) == 0; i++)
    rig_step(r, 10);
  assert_int_equal(poll(&p, 1, 0), 1);
}

/* Reads exactly strlen(want) bytes from fd and compares. */
static void expect_wire(rig *r, int fd, const char *want) {
  char got[256];
  size_t len = 0, n = strlen(want);
  while (len < n) {
    step_until_readable(r, fd);
    ssize_t k = recv(fd, got + len, n - len, 0);
    assert_true(k > 0);
    len += (size_t)k;
  }
  assert_memory_equal(got, want, n);
}

/* The exact requests on the wire (each with the connection's next
 * opaque), and a reply the codec refuses: every operation of the stream
 * fails with MCS_EPROTO, the connection is closed and the server is not
 * marked down (the next request reconnects). */
static void test_wire_format_and_malformed_reply(void **state) {
  (void)state;
  uint16_t port;
  int lfd = fake_listen(&port);
  mc_node fake = {0, port, false, NULL};
  mc_node *fp = &fake;
  rig *r = rig_open(&fp, 1, "io_timeout_ms=2000&retry_s=60");
  top t[3] = {0};
  top_init(&t[0], MCS_STORE_OP_GET, "a", NULL, 30, 0);
  top_init(&t[1], MCS_STORE_OP_ADD, "b", "xy", 40, 0);
  top_init(&t[2], MCS_STORE_OP_TOUCH, "c", NULL, 50, 0);
  for (int i = 0; i < 3; i++)
    submit(r, &t[i]);
  step_until_readable(r, lfd);
  int cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  expect_wire(r, cfd,
              "mg a v c f T30 O0\r\nms b 2 T40 F7 ME c O1\r\nxy\r\n"
              "mg c T50 O2\r\n");
  assert_int_equal(send(cfd, "XX junk\r\n", 9, MSG_NOSIGNAL), 9);
  rig_run(r);
  for (int i = 0; i < 3; i++)
    assert_int_equal(t[i].op.rc, MCS_EPROTO);
  char c;
  assert_int_equal(recv(cfd, &c, 1, 0), 0); /* the engine closed it */
  close(cfd);
  top_init(&t[0], MCS_STORE_OP_DELETE, "d", NULL, 0, 0);
  submit(r, &t[0]);
  step_until_readable(r, lfd); /* not marked down: a new connection */
  cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  expect_wire(r, cfd, "md d O3\r\n");
  assert_int_equal(send(cfd, "NF O3\r\n", 7, MSG_NOSIGNAL), 7);
  rig_run(r);
  assert_int_equal(t[0].op.rc, MCS_OK);
  assert_int_equal(t[0].op.result, MCS_STORE_MISS);
  close(cfd);
  close(lfd);
  top_free(t, 3);
  rig_close(r);
}

/* Reads n request lines (no data blocks) from fd; tok[i] gets the
 * opaque of line i as memcached echoes it (" O<token>"), or "". */
static void read_opaques(rig *r, int fd, int n, char tok[][24]) {
  char buf[1024];
  size_t len = 0;
  int lines = 0;
  while (lines < n) {
    assert_true(len < sizeof buf - 1);
    step_until_readable(r, fd);
    ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
    assert_true(k > 0);
    len += (size_t)k;
    buf[len] = '\0';
    lines = 0;
    for (char *p = buf; (p = strstr(p, "\r\n")) != NULL; p += 2)
      lines++;
  }
  char *line = buf;
  for (int i = 0; i < n; i++) {
    char *eol = strstr(line, "\r\n"), *o;
    *eol = '\0';
    o = strstr(line, " O");
    int w = o ? (int)strcspn(o + 1, " ") + 1 : 0;
    snprintf(tok[i], sizeof tok[i], "%.*s", w, o ? o : "");
    line = eol + 2;
  }
}

/* Security issue 12, item 4: a reply that comes twice (a buggy proxy, a
 * hostile server) must not shift the pipelined replies onto the other
 * keys. a's reply is duplicated: matched by position alone, b would get
 * a's value and c b's. The echoed opaque tells them apart: a completes,
 * the stream is out of step from there, so b and c fail with MCS_EPROTO
 * and the connection is closed. */
static void test_duplicated_reply_never_answers_another_key(void **state) {
  (void)state;
  uint16_t port;
  int lfd = fake_listen(&port);
  mc_node fake = {0, port, false, NULL};
  mc_node *fp = &fake;
  rig *r = rig_open(&fp, 1, "io_timeout_ms=2000&retry_s=60");
  top t[3] = {0};
  const char *keys[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    top_init(&t[i], MCS_STORE_OP_GET, keys[i], NULL, 0, 0);
    submit(r, &t[i]);
  }
  step_until_readable(r, lfd);
  int cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  char tok[3][24], out[512];
  read_opaques(r, cfd, 3, tok);
  snprintf(out, sizeof out,
           "VA 3 c1 f0%s\r\nv-a\r\nVA 3 c1 f0%s\r\nv-a\r\n"
           "VA 3 c2 f0%s\r\nv-b\r\nVA 3 c3 f0%s\r\nv-c\r\n",
           tok[0], tok[0], tok[1], tok[2]);
  assert_int_equal(send(cfd, out, strlen(out), MSG_NOSIGNAL),
                   (ssize_t)strlen(out));
  rig_run(r);
  assert_value(&t[0], "v-a");
  for (int i = 1; i < 3; i++) {
    if (t[i].op.rc == MCS_OK && t[i].op.result == MCS_STORE_HIT)
      fail_msg("%s's read was handed '%.*s'", keys[i], (int)t[i].val.buf.len,
               (const char *)t[i].val.buf.data);
    assert_int_equal(t[i].op.rc, MCS_EPROTO);
  }
  char c;
  assert_int_equal(recv(cfd, &c, 1, 0), 0); /* the engine closed it */
  close(cfd);
  close(lfd);
  top_free(t, 3);
  rig_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup(t, setup)
      T(test_wire_format_and_malformed_reply),
      T(test_duplicated_reply_never_answers_another_key),
#undef T
  };
  if (!mc_harness_available()) {
    fprintf(stderr, "memcached not found: tests skipped\n");
    return 77;
  }
  int failed = cmocka_run_group_tests_name("mc_async_wire", tests, NULL, NULL);
  for (int i = 0; i < NODES; i++)
    mc_node_stop(&node[i]);
  return failed;
}
