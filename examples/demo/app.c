/* Building the shared app: the key ring, store and manager come from the
 * flags through serve/sessions.c, which the gate shares. */
#include <string.h>

#include "app.h"
#include "sessions.h"

_Static_assert(MCS_SEAL_ON == 0 && MCS_SEAL_ACCEPT_PLAIN == 1 &&
                   MCS_SEAL_OFF == 2,
               "flags.c reads --seal-records in mcs_seal_mode's order");

int app_open(app *a, const demo_flags *f) {
  memset(a, 0, sizeof *a);
  metrics_init(&a->metrics);
  sessions_opts o = {
      .program = demo_program,
      .store = f->store,
      .tornado = f->mode == DEMO_MODE_TORNADO,
      .secret_file = f->secret_file,
      .cookie_secret_file = f->cookie_secret_file,
      .session_secret_file = f->session_secret_file,
      .idle_timeout = f->idle_timeout,
      .absolute_timeout = f->absolute_timeout,
      .absolute_set = f->absolute_set,
      /* The /count page is made to be hammered: allow more replays than
       * the default before giving up with 503. */
      .max_cas_retries = 32,
      .seal_records = (mcs_seal_mode)f->seal_records,
      /* Secure cookies, unless the demo serves plain HTTP on loopback
       * (demo_flags.plain_http), which its start-up line says. */
      .plain_http = f->plain_http,
  };
  sessions s;
  int rc = sessions_open(&s, &o);
  if (rc != 0)
    return rc;
  a->keys = s.keys;
  a->store = s.store;
  a->mgr = s.mgr;
  /* Native mode: sessions are bound to their user at login, so "log out
   * everywhere" (mcs_manager_revoke_user) can end them all. */
  a->bind_users = f->mode == DEMO_MODE_NATIVE;
  return 0;
}

void app_close(app *a) {
  sessions s = {a->keys, a->store, a->mgr};
  sessions_close(&s);
  a->mgr = NULL;
  a->store = NULL;
  a->keys = NULL;
}

int app_store_ping(app *a) {
  static const char key[] = "mcs:healthz";
  void *data = NULL;
  size_t len = 0;
  mcs_store_result res;
  int rc = mcs_store_get(a->store, key, sizeof key - 1, 0, 1024, &data, &len,
                         NULL, NULL, &res);
  mcs_free(data);
  return rc;
}
