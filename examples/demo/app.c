/* Building the shared app: secret, key ring, store, manager. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mcsession/memcached.h>

#include "app.h"

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "%s: %s%s%s\n", demo_program, what, detail ? ": " : "",
          detail ? detail : "");
  return 1;
}

/* A secret file its group or others may access in any way (mode & 077)
 * earns a warning naming the fix, once per file (tornado mode may name one
 * file twice); it is still used. Only regular files: a pipe or terminal
 * has no mode of anybody's choosing. The tool (tools/cmd_common.c) warns
 * alike; the two programs share no code but the library's. */
static void check_mode(const char *path, FILE *fp) {
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
          demo_program, path, (unsigned)(st.st_mode & 07777), path);
}

/* Reads a secret file into buf (MCS_SECRET_MAX_BYTES + 2 bytes, so an
 * oversized file shows); one trailing newline (as `mcsession keygen` and
 * editors write) is not part of the secret. The recipe's session_secret
 * may be short (it set no rules): min_len says what this secret needs. */
static int read_secret(const char *path, size_t min_len, unsigned char *buf,
                       size_t size, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return fail("cannot open the secret file", strerror(errno));
  check_mode(path, fp);
  *len = fread(buf, 1, size, fp);
  int bad = ferror(fp);
  fclose(fp);
  if (bad)
    return fail("cannot read the secret file", path);
  if (*len > 0 && buf[*len - 1] == '\n')
    (*len)--;
  if (*len < min_len || *len > MCS_SECRET_MAX_BYTES)
    return fail(min_len == MCS_SECRET_MIN_BYTES
                    ? "the secret file must hold 16 to 1024 bytes (make one "
                      "with 'mcsession keygen')"
                    : "the secret file must hold 1 to 1024 bytes",
                path);
  return 0;
}

static int make_keys(app *a, const demo_flags *f) {
  unsigned char secret[MCS_SECRET_MAX_BYTES + 2];
  size_t len = 32;
  int rc;
  /* tornado: the recipe's cookie_secret signs its cookies */
  const char *path = f->mode == DEMO_MODE_TORNADO ? f->cookie_secret_file
                                                  : f->secret_file;
  if (path) {
    if ((rc = read_secret(path, MCS_SECRET_MIN_BYTES, secret, sizeof secret,
                          &len)))
      return rc;
  } else {
    if (mcs_random_bytes(secret, len) != MCS_OK)
      return fail("no random bytes for a secret", NULL);
    fprintf(stderr,
            "%s: warning: no --secret-file, using a random secret: "
            "sessions will not survive a restart\n",
            demo_program);
  }
  rc = mcs_keyring_new(&a->keys);
  if (rc == MCS_OK)
    rc = mcs_keyring_add(a->keys, 0, secret, len);
  memset(secret, 0, sizeof secret);
  return rc == MCS_OK ? 0 : fail("cannot build the key ring", mcs_strerror(rc));
}

static int make_memcached(app *a, const char *url) {
  mcs_memcached_config cfg;
  char why[256];
  if (mcs_memcached_url_parse(url, &cfg, why, sizeof why) != MCS_OK) {
    fprintf(stderr, "%s: bad --store URL: %s\n", demo_program, why);
    return DEMO_EXIT_USAGE;
  }
  int rc = mcs_store_memcached_new_config(&a->store, &cfg);
  return rc == MCS_OK
             ? 0
             : fail("cannot create the memcached store", mcs_strerror(rc));
}

static int make_store(app *a, const demo_flags *f) {
  if (strcmp(f->store, "memory") != 0)
    return make_memcached(a, f->store);
  int rc = mcs_store_memory_new(&a->store, NULL);
  return rc == MCS_OK
             ? 0
             : fail("cannot create the memory store", mcs_strerror(rc));
}

/* The library never prints; its warnings and errors go to stderr here. */
static void log_line(void *ud, mcs_log_level level, const char *message) {
  (void)ud;
  if (level <= MCS_LOG_WARN)
    fprintf(stderr, "%s: %s: %s\n", demo_program,
            level == MCS_LOG_ERROR ? "error" : "warning", message);
}

/* Tornado mode: the recipe's session secret into the config (the manager
 * copies it; the caller wipes buf afterwards). */
static int tornado_config(mcs_manager_config *cfg, const demo_flags *f,
                          unsigned char *buf, size_t size) {
  size_t len = 0;
  int rc = read_secret(f->session_secret_file, 1, buf, size, &len);
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

static int make_manager(app *a, const demo_flags *f) {
  mcs_manager_config cfg;
  unsigned char session_secret[MCS_SECRET_MAX_BYTES + 2];
  mcs_manager_config_init(&cfg);
  /* Secure by default; off only where the demo serves plain HTTP on
   * loopback (demo_flags.plain_http), which its start-up line says. */
  cfg.cookie.secure = !f->plain_http;
  int rc = 0;
  if (f->mode == DEMO_MODE_TORNADO &&
      (rc = tornado_config(&cfg, f, session_secret, sizeof session_secret))) {
    memset(session_secret, 0, sizeof session_secret);
    return rc;
  }
  cfg.keys = a->keys;
  cfg.store = a->store;
  if (f->idle_timeout)
    cfg.idle_timeout = f->idle_timeout;
  if (f->absolute_set)
    cfg.absolute_timeout = f->absolute_timeout;
  /* The /count page is made to be hammered: allow more replays than the
   * default before giving up with 503. */
  cfg.max_cas_retries = 32;
  cfg.log = log_line;
  const char *prefix = mcs_store_memcached_prefix(a->store);
  if (prefix)
    cfg.key_prefix = prefix;
  rc = mcs_manager_new(&a->mgr, &cfg);
  memset(session_secret, 0, sizeof session_secret);
  a->bind_users = f->mode == DEMO_MODE_NATIVE;
  return rc == MCS_OK
             ? 0
             : fail("cannot create the session manager", mcs_strerror(rc));
}

int app_open(app *a, const demo_flags *f) {
  memset(a, 0, sizeof *a);
  metrics_init(&a->metrics);
  int rc = make_keys(a, f);
  if (rc == 0)
    rc = make_store(a, f);
  if (rc == 0)
    rc = make_manager(a, f);
  if (rc != 0)
    app_close(a);
  return rc;
}

void app_close(app *a) {
  mcs_manager_free(a->mgr);
  mcs_store_free(a->store);
  mcs_keyring_free(a->keys);
  a->mgr = NULL;
  a->store = NULL;
  a->keys = NULL;
}
