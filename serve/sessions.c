/* Key ring, store and manager from the command line (sessions.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mcsession/memcached.h>
#include <mcsession/redis.h>

#include "sessions.h"

static int fail(const sessions_opts *o, const char *what, const char *detail) {
  fprintf(stderr, "%s: %s%s%s\n", o->program, what, detail ? ": " : "",
          detail ? detail : "");
  return SESSIONS_EXIT_FAILED;
}

/* "PROGRAM: secret file 'PATH': WHY[: DETAIL]": every problem with a
 * secret file names the file and what is wrong with it, as the mode
 * warning below does. */
static int fail_secret(const sessions_opts *o, const char *path,
                       const char *why, const char *detail) {
  fprintf(stderr, "%s: secret file '%s': %s%s%s\n", o->program, path, why,
          detail ? ": " : "", detail ? detail : "");
  return SESSIONS_EXIT_FAILED;
}

/* A secret file its group or others may access in any way (mode & 077)
 * earns a warning naming the fix, once per file (tornado mode may name one
 * file twice); it is still used. Only regular files: a pipe or terminal
 * has no mode of anybody's choosing. The tool (tools/cmd_common.c) warns
 * alike; the two share no code but the library's. */
static void check_mode(const sessions_opts *o, const char *path, FILE *fp) {
  static dev_t warned_dev;
  static ino_t warned_ino; /* the last file warned about */
  struct stat st;
  if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
      !(st.st_mode & 077) ||
      (st.st_dev == warned_dev && st.st_ino == warned_ino))
    return;
  warned_dev = st.st_dev;
  warned_ino = st.st_ino;
  fprintf(stderr,
          "%s: warning: secret file '%s' is open to group or others (mode "
          "%04o); fix: chmod 600 '%s'\n",
          o->program, path, (unsigned)(st.st_mode & 07777), path);
}

/* Reads a secret file into buf (MCS_SECRET_MAX_BYTES + 2 bytes, so an
 * oversized file shows); one trailing newline (as `mcsession keygen` and
 * editors write) is not part of the secret. The recipe's session_secret
 * may be short (it set no rules): min_len says what this secret needs. */
static int read_secret(const sessions_opts *o, const char *path,
                       size_t min_len, unsigned char *buf, size_t size,
                       size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return fail_secret(o, path, "cannot open it", strerror(errno));
  check_mode(o, path, fp);
  errno = 0;
  *len = fread(buf, 1, size, fp);
  int bad = ferror(fp) ? (errno ? errno : EIO) : 0;
  fclose(fp);
  if (bad)
    return fail_secret(o, path, "cannot read it", strerror(bad));
  if (*len > 0 && buf[*len - 1] == '\n')
    (*len)--;
  if (*len < min_len || *len > MCS_SECRET_MAX_BYTES)
    return fail_secret(o, path,
                       min_len == MCS_SECRET_MIN_BYTES
                           ? "a secret must be 16 to 1024 bytes (make one "
                             "with 'mcsession keygen -o FILE')"
                           : "a secret must be 1 to 1024 bytes",
                       NULL);
  return 0;
}

static int make_keys(sessions *s, const sessions_opts *o) {
  unsigned char secret[MCS_SECRET_MAX_BYTES + 2];
  size_t len = 32;
  int rc;
  /* tornado: the recipe's cookie_secret signs its cookies */
  const char *path = o->tornado ? o->cookie_secret_file : o->secret_file;
  if (path) {
    if ((rc = read_secret(o, path, MCS_SECRET_MIN_BYTES, secret,
                          sizeof secret, &len)))
      return rc;
  } else {
    if (mcs_random_bytes(secret, len) != MCS_OK)
      return fail(o, "no random bytes for a secret", NULL);
    fprintf(stderr,
            "%s: warning: no --secret-file, using a random secret: "
            "sessions will not survive a restart\n",
            o->program);
  }
  rc = mcs_keyring_new(&s->keys);
  if (rc == MCS_OK)
    rc = mcs_keyring_add(s->keys, 0, secret, len);
  memset(secret, 0, sizeof secret);
  return rc == MCS_OK ? 0
                      : fail(o, "cannot build the key ring", mcs_strerror(rc));
}

/* memcached:// or redis[+cluster]://: a bad URL is a usage error; a
 * store that cannot be made (a Redis password_file that cannot be read,
 * say) an error, with the library's one-line reason. */
static int make_network_store(sessions *s, const sessions_opts *o,
                              bool redis) {
  mcs_memcached_config mc;
  mcs_redis_config rd;
  char why[256] = "";
  int rc = redis ? mcs_redis_url_parse(o->store, &rd, why, sizeof why)
                 : mcs_memcached_url_parse(o->store, &mc, why, sizeof why);
  if (rc != MCS_OK) {
    fprintf(stderr, "%s: bad --store URL: %s\n", o->program, why);
    return SESSIONS_EXIT_USAGE;
  }
  rc = redis ? mcs_store_redis_new_config(&s->store, &rd, why, sizeof why)
             : mcs_store_memcached_new_config(&s->store, &mc);
  return rc == MCS_OK ? 0
                      : fail(o,
                             redis ? "cannot create the Redis store"
                                   : "cannot create the memcached store",
                             rc == MCS_EINVAL && why[0] ? why
                                                        : mcs_strerror(rc));
}

sessions_store_kind sessions_store_kind_of(const char *store) {
  if (strcmp(store, "memory") == 0)
    return SESSIONS_STORE_MEMORY;
  if (strncmp(store, "memcached://", 12) == 0)
    return SESSIONS_STORE_MEMCACHED;
  if (strncmp(store, "redis://", 8) == 0 ||
      strncmp(store, "redis+cluster://", 16) == 0)
    return SESSIONS_STORE_REDIS;
  return SESSIONS_STORE_UNKNOWN;
}

static int make_store(sessions *s, const sessions_opts *o) {
  sessions_store_kind kind = sessions_store_kind_of(o->store);
  if (kind != SESSIONS_STORE_MEMORY)
    return make_network_store(s, o, kind == SESSIONS_STORE_REDIS);
  int rc = mcs_store_memory_new(&s->store, NULL);
  return rc == MCS_OK ? 0
                      : fail(o, "cannot create the memory store",
                             mcs_strerror(rc));
}

/* Without a log callback of the program's: warnings and errors to
 * stderr. */
static void log_line(void *ud, mcs_log_level level, const char *message) {
  if (level <= MCS_LOG_WARN)
    fprintf(stderr, "%s: %s: %s\n", (const char *)ud,
            level == MCS_LOG_ERROR ? "error" : "warning", message);
}

/* Tornado mode: the recipe's session secret into the config (the manager
 * copies it; the caller wipes buf afterwards). */
static int tornado_config(mcs_manager_config *cfg, const sessions_opts *o,
                          unsigned char *buf, size_t size) {
  size_t len = 0;
  int rc = read_secret(o, o->session_secret_file, 1, buf, size, &len);
  if (rc)
    return rc;
  cfg->mode = MCS_MODE_TORNADO;
  cfg->session_secret = buf;
  cfg->session_secret_len = len;
  /* Tornado's set_secure_cookie keeps cookies 30 days (expires_days=30);
   * the same here, so a user's cookies last as long whichever side set
   * them last. */
  cfg->cookie.max_age = 30 * 86400;
  return 0;
}

static int make_manager(sessions *s, const sessions_opts *o) {
  mcs_manager_config cfg;
  unsigned char session_secret[MCS_SECRET_MAX_BYTES + 2];
  mcs_manager_config_init(&cfg);
  /* Secure by default (mcs_cookie_attrs_init) unless the program asked. */
  cfg.cookie.secure = !o->plain_http;
  int rc = 0;
  if (o->tornado &&
      (rc = tornado_config(&cfg, o, session_secret, sizeof session_secret))) {
    memset(session_secret, 0, sizeof session_secret);
    return rc;
  }
  cfg.keys = s->keys;
  cfg.store = s->store;
  if (o->idle_timeout)
    cfg.idle_timeout = o->idle_timeout;
  if (o->absolute_set)
    cfg.absolute_timeout = o->absolute_timeout;
  if (o->max_cas_retries)
    cfg.max_cas_retries = o->max_cas_retries;
  cfg.seal_records = o->seal_records;
  cfg.log = o->log ? o->log : log_line;
  /* The default logger only reads the name (through uintptr_t: the
   * callback's closure is not const). */
  cfg.log_ud = o->log ? o->log_ud : (void *)(uintptr_t)o->program;
  const char *prefix = mcs_store_memcached_prefix(s->store);
  if (prefix)
    cfg.key_prefix = prefix;
  rc = mcs_manager_new(&s->mgr, &cfg);
  memset(session_secret, 0, sizeof session_secret);
  return rc == MCS_OK ? 0
                      : fail(o, "cannot create the session manager",
                             mcs_strerror(rc));
}

int sessions_open(sessions *s, const sessions_opts *o) {
  memset(s, 0, sizeof *s);
  if (o->tornado && sessions_store_kind_of(o->store) == SESSIONS_STORE_REDIS) {
    fprintf(stderr,
            "%s: --mode tornado keeps its sessions in memcached (the "
            "recipe's Python side speaks memcached only), not '%s'\n",
            o->program, o->store);
    return SESSIONS_EXIT_USAGE;
  }
  int rc = make_keys(s, o);
  if (rc == 0)
    rc = make_store(s, o);
  if (rc == 0)
    rc = make_manager(s, o);
  if (rc != 0)
    sessions_close(s);
  return rc;
}

void sessions_close(sessions *s) {
  mcs_manager_free(s->mgr);
  mcs_store_free(s->store);
  mcs_keyring_free(s->keys);
  s->mgr = NULL;
  s->store = NULL;
  s->keys = NULL;
}
