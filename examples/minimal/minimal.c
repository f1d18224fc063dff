#include <mcsession.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  mcs_keyring *keys;
  mcs_manager *mgr;
  mcs_manager_config cfg;
  if (mcs_keyring_new(&keys) != MCS_OK ||
      mcs_keyring_add(keys, 0, "a secret of at least 16 bytes", 29) != MCS_OK)
    return 1;
  mcs_manager_config_init(&cfg); /* native mode, embedded memory store */
  cfg.keys = keys;
  if (mcs_manager_new(&mgr, &cfg) != MCS_OK)
    return 1;

  /* Per request: the Cookie header in, Set-Cookie header values out. */
  const char *cookie_header = ""; /* from the request */
  mcs_session *s;
  int rc = mcs_session_load(mgr, cookie_header, strlen(cookie_header), &s);
  if (rc != MCS_OK) { /* store down or header too large: 503 / 431 */
    fprintf(stderr, "%s\n", mcs_strerror(rc));
    return 1;
  }
  int64_t visits = 0;
  if (mcs_session_incr(s, "visits", 1, &visits) == MCS_OK &&
      mcs_session_save(s) == MCS_OK)
    for (size_t i = 0; i < mcs_session_cookie_count(s); i++)
      printf("Set-Cookie: %s\n", mcs_session_cookie(s, i));
  printf("visits: %lld\n", (long long)visits);
  mcs_session_free(s);
  mcs_manager_free(mgr);
  mcs_keyring_free(keys);
  return 0;
}
