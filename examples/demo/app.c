/* Building the shared app: secret, key ring, store, manager. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#ifdef MCS_DEMO_HAVE_MEMCACHED
#include <mcsession/memcached.h>
#endif

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "mcsession-demo: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  return 1;
}

/* Reads the secret file; one trailing newline (as `mcsession keygen`
 * writes) is not part of the secret. */
static int read_secret(const char *path, unsigned char *buf, size_t size,
                       size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return fail("cannot open the secret file", strerror(errno));
  *len = fread(buf, 1, size, fp);
  int bad = ferror(fp);
  fclose(fp);
  if (bad)
    return fail("cannot read the secret file", path);
  if (*len > 0 && buf[*len - 1] == '\n')
    (*len)--;
  if (*len < MCS_SECRET_MIN_BYTES || *len > MCS_SECRET_MAX_BYTES)
    return fail("the secret file must hold 16 to 1024 bytes (make one with "
                "'mcsession keygen')",
                path);
  return 0;
}

static int make_keys(app *a, const demo_flags *f) {
  unsigned char secret[MCS_SECRET_MAX_BYTES + 2];
  size_t len = 32;
  int rc;
  if (f->secret_file) {
    if ((rc = read_secret(f->secret_file, secret, sizeof secret, &len)))
      return rc;
  } else {
    if (mcs_random_bytes(secret, len) != MCS_OK)
      return fail("no random bytes for a secret", NULL);
    fputs("mcsession-demo: warning: no --secret-file, using a random secret: "
          "sessions will not survive a restart\n",
          stderr);
  }
  rc = mcs_keyring_new(&a->keys);
  if (rc == MCS_OK)
    rc = mcs_keyring_add(a->keys, 0, secret, len);
  memset(secret, 0, sizeof secret);
  return rc == MCS_OK ? 0 : fail("cannot build the key ring", mcs_strerror(rc));
}

static int make_memcached(app *a, const char *url) {
#ifdef MCS_DEMO_HAVE_MEMCACHED
  mcs_memcached_config cfg;
  char why[256];
  if (mcs_memcached_url_parse(url, &cfg, why, sizeof why) != MCS_OK) {
    fprintf(stderr, "mcsession-demo: bad --store URL: %s\n", why);
    return DEMO_EXIT_USAGE;
  }
  int rc = mcs_store_memcached_new_config(&a->store, &cfg);
  return rc == MCS_OK
             ? 0
             : fail("cannot create the memcached store", mcs_strerror(rc));
#else
  (void)a;
  (void)url;
  fputs("mcsession-demo: this build has no memcached store (only "
        "--store memory)\n",
        stderr);
  return DEMO_EXIT_USAGE;
#endif
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
    fprintf(stderr, "mcsession-demo: %s: %s\n",
            level == MCS_LOG_ERROR ? "error" : "warning", message);
}

static int make_manager(app *a, const demo_flags *f) {
  mcs_manager_config cfg;
  mcs_manager_config_init(&cfg);
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
#ifdef MCS_DEMO_HAVE_MEMCACHED
  const char *prefix = mcs_store_memcached_prefix(a->store);
  if (prefix)
    cfg.key_prefix = prefix;
#endif
  int rc = mcs_manager_new(&a->mgr, &cfg);
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
