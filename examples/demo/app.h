/* What every request thread shares: the session manager, its store and
 * key ring, and the metrics. Built once before the server starts,
 * read-only afterwards (the metrics are atomics). */
#ifndef DEMO_APP_H
#define DEMO_APP_H

#include <stdbool.h>
#include <stddef.h>

#include <mcsession.h>

#include "flags.h"
#include "metrics.h"

/* Request bodies larger than this get 413; the login form posts ~150 B. */
#define DEMO_BODY_MAX (16u * 1024u)
/* Longest user name, in bytes; longer ones get 400. */
#define DEMO_NAME_MAX 256

typedef struct app {
  mcs_keyring *keys;
  mcs_store *store;
  mcs_manager *mgr;
  metrics metrics;
  /* Native mode: sessions are bound to their user at login, so
   * "log out everywhere" (mcs_manager_revoke_user) can end them all. */
  bool bind_users;
} app;

/* Builds the app from the flags. Returns 0, or an exit status after
 * printing why to stderr: DEMO_EXIT_USAGE for a bad store URL, 1 for
 * anything else (unreadable secret file, ...). */
int app_open(app *a, const demo_flags *f);
void app_close(app *a);

/* One read of a key nobody writes: MCS_OK when the store answers, else
 * its error. Blocks for at most the store's own timeouts (memcached:
 * connect_timeout_ms and io_timeout_ms in the URL). GET /healthz and the
 * start-up check ask the store this same question. */
int app_store_ping(app *a);

#endif
