/*
 * Test harness for real memcached processes (see mc_harness.h). Test code:
 * it may keep a registry of child PIDs in static storage, which the
 * library itself never does.
 */
#include "mc_harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_CHILDREN 32

/* PIDs to kill from atexit or a fatal signal: written by the main thread,
 * read by the handlers (volatile sig_atomic_t-sized slots). */
static volatile pid_t children[MAX_CHILDREN];
static bool hooks_installed;

static const char *binary(void) {
  const char *b = getenv("MCS_MEMCACHED");
  return b && *b ? b : "/usr/bin/memcached";
}

bool mc_harness_available(void) { return access(binary(), X_OK) == 0; }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Async-signal-safe: only kill(2). SIGCONT first so a stopped child can
 * die from SIGKILL promptly (SIGKILL works on stopped processes anyway). */
static void kill_all_children(void) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    pid_t p = children[i];
    if (p > 0) {
      kill(p, SIGKILL);
      kill(p, SIGCONT);
    }
  }
}

static void at_exit(void) {
  kill_all_children();
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i] > 0) {
      waitpid(children[i], NULL, 0);
      children[i] = 0;
    }
}

static void on_fatal(int sig) {
  kill_all_children();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void install_hooks(void) {
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
  if (hooks_installed)
    return;
  hooks_installed = true;
  atexit(at_exit);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    signal(sigs[i], on_fatal);
}

static void track(pid_t pid, bool add) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (add && children[i] == 0) {
      children[i] = pid;
      return;
    }
    if (!add && children[i] == pid) {
      children[i] = 0;
      return;
    }
  }
}

uint16_t mc_free_port(void) {
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint16_t port = 0;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

int mc_connect_local(uint16_t port, int timeout_s) {
  struct sockaddr_in a;
  struct timeval tv = {timeout_s, 0};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* argv with "%port" replaced, then exec. */
static void exec_argv(const char *const *argv, const char *port) {
  const char *args[64];
  size_t i = 0;
  for (; argv[i] && i < 63; i++)
    args[i] = strcmp(argv[i], "%port") == 0 ? port : argv[i];
  args[i] = NULL;
  execv(args[0], (char *const *)(void *)args);
  _exit(127);
}

static void exec_child(uint16_t port, const char *const *argv) {
  char p[8];
  snprintf(p, sizeof p, "%u", (unsigned)port);
#ifdef __linux__
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test process */
#endif
  int dn = open("/dev/null", O_RDWR);
  if (dn >= 0) {
    dup2(dn, 0);
    dup2(dn, 1);
  }
  if (argv)
    exec_argv(argv, p);
  if (geteuid() == 0)
    execl(binary(), "memcached", "-l", "127.0.0.1", "-p", p, "-U", "0",
          "-m", "64", "-u", "root", (char *)NULL);
  else
    execl(binary(), "memcached", "-l", "127.0.0.1", "-p", p, "-U", "0",
          "-m", "64", (char *)NULL);
  _exit(127);
}

/* Adds to inodes (at most max) the sockets that `table` (/proc/net/tcp or
 * tcp6) lists as listening on `port`; returns the new count. */
static size_t listening_inodes(const char *table, uint16_t port,
                               unsigned long *inodes, size_t n, size_t max) {
  char line[512];
  FILE *f = fopen(table, "r");
  if (!f)
    return n;
  if (!fgets(line, sizeof line, f)) { /* the header */
    fclose(f);
    return n;
  }
  while (n < max && fgets(line, sizeof line, f)) {
    /* "sl local_address rem_address st tx:rx tr:when retrnsmt uid
     * timeout inode", addresses "HEXADDR:HEXPORT", st 0A = LISTEN */
    char local[64];
    unsigned st = 0;
    unsigned long inode = 0;
    if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
               &inode) != 3 || st != 0x0A)
      continue;
    const char *colon = strrchr(local, ':');
    if (colon && strtoul(colon + 1, NULL, 16) == port)
      inodes[n++] = inode;
  }
  fclose(f);
  return n;
}

/* Whether process pid itself holds a socket listening on TCP `port`: a
 * connect alone could reach another test's server that took the port
 * first (mc_free_port can race) while ours failed to bind. */
static bool pid_listens(pid_t pid, uint16_t port) {
  unsigned long inodes[16];
  size_t n = listening_inodes("/proc/net/tcp", port, inodes, 0, 16);
  n = listening_inodes("/proc/net/tcp6", port, inodes, n, 16);
  if (n == 0)
    return false;
  char dir[64], path[64 + 256], target[64];
  snprintf(dir, sizeof dir, "/proc/%ld/fd", (long)pid);
  DIR *d = opendir(dir);
  if (!d)
    return false;
  bool found = false;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    unsigned long inode = 0;
    if (sscanf(target, "socket:[%lu]", &inode) != 1)
      continue;
    for (size_t i = 0; i < n && !found; i++)
      found = inodes[i] == inode;
  }
  closedir(d);
  return found;
}

/* Polls until the child itself listens on its port or exits; at most
 * 5 s. */
static int wait_ready(mc_node *n) {
  for (int i = 0; i < 500; i++) {
    if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
      track(n->pid, false);
      n->pid = 0;
      return -1;
    }
    int fd = mc_connect_local(n->port, 1);
    if (fd >= 0) {
      close(fd);
      if (pid_listens(n->pid, n->port))
        return 0;
    }
    sleep_ms(10);
  }
  mc_node_kill(n);
  return -1;
}

static int spawn(mc_node *n) {
  install_hooks();
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0)
    exec_child(n->port, n->argv);
  n->pid = pid;
  n->paused = false;
  track(pid, true);
  return wait_ready(n);
}

int mc_node_start(mc_node *n) {
  memset(n, 0, sizeof *n);
  /* The port may be taken between probing and binding: try a few. */
  for (int attempt = 0; attempt < 5; attempt++) {
    if ((n->port = mc_free_port()) != 0 && spawn(n) == 0)
      return 0;
  }
  return -1;
}

int mc_node_start_argv(mc_node *n, const char *const *argv) {
  memset(n, 0, sizeof *n);
  for (int attempt = 0; attempt < 5; attempt++) {
    n->argv = argv;
    if ((n->port = mc_free_port()) != 0 && spawn(n) == 0)
      return 0;
  }
  return -1;
}

int mc_node_start_argv_on(mc_node *n, const char *const *argv,
                          uint16_t port) {
  memset(n, 0, sizeof *n);
  n->argv = argv;
  n->port = port;
  return spawn(n);
}

int mc_node_restart(mc_node *n) {
  if (n->pid)
    mc_node_stop(n);
  for (int attempt = 0; attempt < 20; attempt++) { /* port in TIME_WAIT? */
    if (spawn(n) == 0)
      return 0;
    sleep_ms(100);
  }
  return -1;
}

static void reap(mc_node *n) {
  waitpid(n->pid, NULL, 0);
  track(n->pid, false);
  n->pid = 0;
  n->paused = false;
}

void mc_node_kill(mc_node *n) {
  if (!n->pid)
    return;
  kill(n->pid, SIGKILL);
  reap(n);
}

void mc_node_stop(mc_node *n) {
  if (!n->pid)
    return;
  if (n->paused)
    kill(n->pid, SIGCONT);
  kill(n->pid, SIGTERM);
  for (int i = 0; i < 200; i++) {
    if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
      track(n->pid, false);
      n->pid = 0;
      n->paused = false;
      return;
    }
    sleep_ms(10);
  }
  mc_node_kill(n);
}

/* kill() returns before the signal has taken effect; waitpid with
 * WUNTRACED / WCONTINUED returns once the child has really stopped or
 * resumed, so a test's next request cannot race the signal. */
static int signal_and_wait(mc_node *n, int sig, int wflag) {
  int st;
  if (!n->pid || kill(n->pid, sig) != 0)
    return -1;
  pid_t r;
  do
    r = waitpid(n->pid, &st, wflag);
  while (r < 0 && errno == EINTR);
  return r == n->pid ? 0 : -1;
}

int mc_node_pause(mc_node *n) {
  if (signal_and_wait(n, SIGSTOP, WUNTRACED) != 0)
    return -1;
  n->paused = true;
  return 0;
}

int mc_node_resume(mc_node *n) {
  if (signal_and_wait(n, SIGCONT, WCONTINUED) != 0)
    return -1;
  n->paused = false;
  return 0;
}

static bool ends_with(const char *s, size_t len, const char *end) {
  size_t e = strlen(end);
  return len >= e && memcmp(s + len - e, end, e) == 0;
}

int mc_node_raw(const mc_node *n, const char *request, const char *end,
                char *reply, size_t size) {
  int fd = mc_connect_local(n->port, 2);
  size_t len = 0, rlen = strlen(request);
  if (fd < 0 || size == 0)
    return fd < 0 ? -1 : (close(fd), -1);
  if (send(fd, request, rlen, MSG_NOSIGNAL) != (ssize_t)rlen) {
    close(fd);
    return -1;
  }
  while (len + 1 < size && !ends_with(reply, len, end)) {
    ssize_t r = recv(fd, reply + len, size - 1 - len, 0);
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  reply[len] = '\0';
  close(fd);
  return ends_with(reply, len, end) ? 0 : -1;
}

int mc_node_stat(const mc_node *n, const char *name, uint64_t *value) {
  char buf[16384], pat[128];
  if (mc_node_raw(n, "stats\r\n", "END\r\n", buf, sizeof buf) != 0)
    return -1;
  snprintf(pat, sizeof pat, "STAT %s ", name);
  const char *p = strstr(buf, pat);
  if (!p)
    return -1;
  *value = strtoull(p + strlen(pat), NULL, 10);
  return 0;
}

int mc_node_flush(const mc_node *n) {
  char buf[64];
  if (mc_node_raw(n, "flush_all\r\n", "\r\n", buf, sizeof buf) != 0)
    return -1;
  return strcmp(buf, "OK\r\n") == 0 ? 0 : -1;
}
