/*
 * Fuzz target: the memcached store URL parser (src/store/memcached/mc_url.c). Whatever the
 * input, it must return MCS_OK with a config that passes
 * mcs_memcached_config_check, or MCS_EINVAL with a one-line reason.
 *
 * Built by the CMake build with -DMCS_FUZZ=ON (tests/fuzz/CMakeLists.txt),
 * linked with the static library; `make fuzz` runs it longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/memcached/mc_int.h"
#include "fuzz_check.h"

static void check_ok(const mcs_memcached_config *cfg) {
  if (mcs_memcached_config_check(cfg, NULL, 0) != MCS_OK)
    abort();
  if (cfg->server_count < 1 || cfg->server_count > MCS_MEMCACHED_SERVERS_MAX)
    abort();
  for (size_t i = 0; i < cfg->server_count; i++)
    if (cfg->servers[i].host[0] == '\0' || cfg->servers[i].port == 0)
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MCS_MEMCACHED_URL_MAX + 16)
    return 0;
  char *url = malloc(size + 1); /* exact size: ASan sees any over-read */
  if (!url)
    return 0;
  memcpy(url, data, size);
  url[size] = '\0';
  mcs_memcached_config cfg;
  char err[96];
  int rc = mcs_memcached_url_parse(url, &cfg, err, sizeof err);
  if (rc == MCS_OK)
    check_ok(&cfg);
  else if (rc != MCS_EINVAL || err[0] == '\0' || strchr(err, '\n'))
    abort();
  free(url);
  return 0;
}
