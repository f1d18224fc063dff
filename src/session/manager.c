/*
 * The manager: a validated, private copy of the configuration plus the
 * counters. Immutable after mcs_manager_new except for the atomic counters,
 * so every request thread can share one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "session/session_int.h"

#define DEFAULT_IDLE_TIMEOUT 1800
#define DEFAULT_ABSOLUTE_TIMEOUT 86400
#define DEFAULT_MAX_DATA_BYTES 65536
#define DEFAULT_CAS_RETRIES 8
#define DEFAULT_FORWARD_TTL 10
#define DEFAULT_DECODE_CACHE_ENTRIES 1024
#define DECODE_CACHE_ENTRIES_MAX 65536
#define DEFAULT_COOKIE_CACHE_ENTRIES 1024
#define COOKIE_CACHE_ENTRIES_MAX 65536
#define TORNADO_DEFAULT_MAX_AGE (31 * 86400) /* get_secure_cookie's 31 days */
#define MAX_DATA_BYTES_LIMIT (1024 * 1024)   /* memcached's item size */
#define COOKIE_NAME_MAX 128
#define KEY_PREFIX_MAX 64
#define DEFAULT_REVOCATION_INTERVAL 5
#define DEFAULT_REVOCATION_ENTRIES 4096
#define REVOCATION_ENTRIES_MIN 16
#define REVOCATION_ENTRIES_MAX (1024 * 1024)
#define DEFAULT_LAST_SEEN_INTERVAL 300
#define LAST_SEEN_INTERVAL_MAX 86400

void mcs_manager_config_init(mcs_manager_config *cfg) {
  if (!cfg)
    return;
  memset(cfg, 0, sizeof *cfg);
  cfg->mode = MCS_MODE_NATIVE;
  cfg->key_prefix = NULL; /* see key_prefix_of */
  cfg->idle_timeout = DEFAULT_IDLE_TIMEOUT;
  cfg->absolute_timeout = DEFAULT_ABSOLUTE_TIMEOUT;
  cfg->cookie_name = "session";
  mcs_cookie_attrs_init(&cfg->cookie);
  cfg->max_data_bytes = DEFAULT_MAX_DATA_BYTES;
  cfg->max_cas_retries = DEFAULT_CAS_RETRIES;
  cfg->forward_ttl = DEFAULT_FORWARD_TTL;
  cfg->revocation_check_interval = DEFAULT_REVOCATION_INTERVAL;
  cfg->revocation_cache_entries = DEFAULT_REVOCATION_ENTRIES;
  cfg->decode_cache_entries = DEFAULT_DECODE_CACHE_ENTRIES;
  cfg->cookie_cache_entries = DEFAULT_COOKIE_CACHE_ENTRIES;
}

/* Reports why a config is refused (through the log callback, since the
 * error code alone cannot say) and returns MCS_EINVAL. */
static int refuse(const mcs_manager_config *cfg, const char *why) {
  if (cfg->log)
    cfg->log(cfg->log_ud, MCS_LOG_ERROR, why);
  return MCS_EINVAL;
}

/* The store-key prefix: the application's; when it set none, the store's
 * default (mcs_store_ops.key_prefix: the memcached store's URL
 * `?prefix=`, default "mcs:"), so one setting in the store URL is enough;
 * else "mcs:". */
static const char *key_prefix_of(const mcs_manager_config *cfg) {
  const char *p = cfg->key_prefix;
  if (!p && cfg->store)
    p = mcs_store_key_prefix(cfg->store);
  return p ? p : "mcs:";
}

/* Tornado mode: the recipe's session secret may be any non-empty string
 * (the recipe set no rules); its cookies have fixed names. */
static int check_tornado(const mcs_manager_config *cfg) {
  if (!cfg->session_secret || cfg->session_secret_len == 0 ||
      cfg->session_secret_len > MCS_SECRET_MAX_BYTES)
    return refuse(cfg, "mcsession: tornado mode needs a session_secret of "
                       "1..1024 bytes");
  return MCS_OK;
}

static int check_config(const mcs_manager_config *cfg) {
  unsigned v;
  if (!mcs__all_zero(cfg->reserved, sizeof cfg->reserved) ||
      !mcs__all_zero(cfg->cookie.reserved, sizeof cfg->cookie.reserved))
    return refuse(cfg, "mcsession: the config sets a field this library "
                       "does not know (built against a newer mcsession.h, "
                       "or not filled by mcs_manager_config_init)");
  if (cfg->mode != MCS_MODE_NATIVE && cfg->mode != MCS_MODE_TORNADO)
    return refuse(cfg, "mcsession: unknown mode");
  if (cfg->seal_records != MCS_SEAL_ON &&
      cfg->seal_records != MCS_SEAL_ACCEPT_PLAIN &&
      cfg->seal_records != MCS_SEAL_OFF)
    return refuse(cfg, "mcsession: seal_records must be MCS_SEAL_ON, "
                       "MCS_SEAL_ACCEPT_PLAIN or MCS_SEAL_OFF");
  if (cfg->mode == MCS_MODE_TORNADO && check_tornado(cfg) != MCS_OK)
    return MCS_EINVAL;
  if (!cfg->keys || mcs_keyring_current(cfg->keys, &v) != MCS_OK)
    return refuse(cfg, "mcsession: a key ring with at least one key is required");
  if (cfg->idle_timeout == 0)
    return refuse(cfg, "mcsession: idle_timeout must be positive");
  if (cfg->max_data_bytes < 256 || cfg->max_data_bytes > MAX_DATA_BYTES_LIMIT)
    return refuse(cfg, "mcsession: max_data_bytes must be 256..1048576");
  if (cfg->max_cas_retries == 0 || cfg->forward_ttl == 0)
    return refuse(cfg, "mcsession: max_cas_retries and forward_ttl must be positive");
  if (!cfg->cookie_name || !*cfg->cookie_name ||
      strlen(cfg->cookie_name) > COOKIE_NAME_MAX)
    return refuse(cfg, "mcsession: cookie_name must be 1..128 bytes");
  /* Formatting a sample cookie with the longest value a session cookie can
   * carry checks the name and every attribute by the rules the real cookies
   * will meet, and that they fit the Set-Cookie buffer. */
  char sample[MCS__SET_COOKIE_LEN];
  char value[MCS_SIGNED_MAX_LEN(COOKIE_NAME_MAX, MCS__ID_MAX)];
  memset(value, 'x', sizeof value);
  const char *name =
      cfg->mode == MCS_MODE_TORNADO ? "verification" : cfg->cookie_name;
  if (mcs_cookie_format(name, value, sizeof value, &cfg->cookie, 0, sample,
                        sizeof sample, NULL) != MCS_OK)
    return refuse(cfg, "mcsession: cookie name or attributes are invalid or "
                       "too long");
  const char *prefix = key_prefix_of(cfg);
  if (strlen(prefix) > KEY_PREFIX_MAX ||
      (*prefix && !mcs__store_key_valid(prefix, strlen(prefix))))
    return refuse(cfg, "mcsession: key_prefix must be up to 64 printable bytes");
  if (cfg->store_key_secret &&
      (cfg->store_key_secret_len < MCS_SECRET_MIN_BYTES ||
       cfg->store_key_secret_len > 64))
    return refuse(cfg, "mcsession: store_key_secret must be 16..64 bytes");
  if (cfg->decode_cache_entries > DECODE_CACHE_ENTRIES_MAX)
    return refuse(cfg, "mcsession: decode_cache_entries must be at most "
                       "65536");
  if (cfg->cookie_cache_entries > COOKIE_CACHE_ENTRIES_MAX)
    return refuse(cfg, "mcsession: cookie_cache_entries must be at most "
                       "65536");
  if (cfg->last_seen_interval > LAST_SEEN_INTERVAL_MAX)
    return refuse(cfg, "mcsession: last_seen_interval must be at most "
                       "86400");
  if (cfg->revocation_cache_entries < REVOCATION_ENTRIES_MIN ||
      cfg->revocation_cache_entries > REVOCATION_ENTRIES_MAX)
    return refuse(cfg, "mcsession: revocation_cache_entries must be "
                       "16..1048576");
  return MCS_OK;
}

/* Copies the borrowed strings of the config into the manager. */
static int copy_strings(mcs_manager *m, const mcs_manager_config *cfg) {
  m->key_prefix = mcs__strdup(key_prefix_of(cfg));
  m->cookie_name = mcs__strdup(cfg->cookie_name);
  m->cookie_path = cfg->cookie.path ? mcs__strdup(cfg->cookie.path) : NULL;
  m->cookie_domain =
      cfg->cookie.domain ? mcs__strdup(cfg->cookie.domain) : NULL;
  if (!m->key_prefix || !m->cookie_name ||
      (cfg->cookie.path && !m->cookie_path) ||
      (cfg->cookie.domain && !m->cookie_domain))
    return MCS_ENOMEM;
  m->key_prefix_len = strlen(m->key_prefix);
  m->cfg.key_prefix = m->key_prefix;
  m->cfg.cookie_name = m->cookie_name;
  m->cfg.cookie.path = m->cookie_path;
  m->cfg.cookie.domain = m->cookie_domain;
  m->cfg.keys = NULL; /* use m->keys */
  m->cfg.store_key_secret = NULL;
  m->cfg.session_secret = NULL; /* use m->session_secret */
  if (cfg->mode == MCS_MODE_TORNADO) {
    m->session_secret =
        mcs__memdup(cfg->session_secret, cfg->session_secret_len);
    if (!m->session_secret)
      return MCS_ENOMEM;
    m->session_secret_len = cfg->session_secret_len;
  }
  return MCS_OK;
}

/* The store-key secret (explicit, or the oldest key's), and the CSRF key
 * derived from it so tokens survive rotation of the signing key. */
static void derive_keys(mcs_manager *m, const mcs_manager_config *cfg) {
  const uint8_t *secret = cfg->store_key_secret;
  size_t len = cfg->store_key_secret_len;
  if (!secret)
    secret = mcs__keyring_oldest(m->keys, &len);
  if (len > sizeof m->store_key_secret) {
    /* Long secrets are hashed down, as HMAC itself would do. */
    crypto_hash_sha256(m->store_key_secret, secret, len);
    len = crypto_hash_sha256_BYTES;
  } else {
    memcpy(m->store_key_secret, secret, len);
  }
  m->store_key_secret_len = len;
  static const char label[] = "mcsession csrf v1";
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, m->store_key_secret, len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
                                sizeof label - 1);
  crypto_auth_hmacsha256_final(&st, m->csrf_key);
  mcs__hmac_key(&m->store_key_hmac, m->store_key_secret, len);
  mcs__hmac_key(&m->csrf_hmac, m->csrf_key, sizeof m->csrf_key);
}

static void apply_defaults(mcs_manager *m) {
  mcs_manager_config *c = &m->cfg;
  bool tornado = c->mode == MCS_MODE_TORNADO;
  if (tornado)
    c->absolute_timeout = 0; /* the recipe's records carry no creation
                                time to measure it from */
  m->signature_max_age = c->signature_max_age ? c->signature_max_age
                         : c->absolute_timeout ? c->absolute_timeout
                                               : TORNADO_DEFAULT_MAX_AGE;
  if (c->last_seen_interval == 0)
    c->last_seen_interval = DEFAULT_LAST_SEEN_INTERVAL;
  m->limits.max_bytes = c->max_data_bytes;
  m->limits.max_depth = MCS_JSON_DEPTH_MAX;
  m->scheme = tornado ? &mcs__scheme_tornado : &mcs__scheme_native;
  m->codec = tornado ? &mcs__codec_tornado : &mcs__codec_json;
}

static int attach_store(mcs_manager *m, mcs_store *store) {
  if (store) {
    m->store = store;
    return MCS_OK;
  }
  int rc = mcs_store_memory_new(&m->store, NULL);
  m->own_store = rc == MCS_OK;
  return rc;
}

int mcs_manager_new(mcs_manager **out, const mcs_manager_config *cfg) {
  if (!out)
    return MCS_EINVAL;
  *out = NULL;
  if (!cfg)
    return MCS_EINVAL;
  int rc = check_config(cfg);
  if (rc)
    return rc;
  if ((rc = mcs__sodium_ready()))
    return rc;
  mcs_manager *m = mcs__calloc(1, sizeof *m);
  if (!m)
    return MCS_ENOMEM;
  m->cfg = *cfg;
  m->clock = (mcs__clock){cfg->clock, cfg->clock_ud};
  m->logger = (mcs__logger){cfg->log, cfg->log_ud};
  if ((rc = copy_strings(m, cfg)) ||
      (rc = mcs__keyring_clone(cfg->keys, &m->keys)) ||
      (rc = attach_store(m, cfg->store)) ||
      (rc = mcs__revcache_new(cfg->revocation_cache_entries, &m->revcache)) ||
      (rc = mcs__revcache_new(cfg->revocation_cache_entries,
                              &m->seencache)) ||
      (rc = mcs__rcache_new(cfg->decode_cache_entries, &m->rcache)) ||
      (rc = mcs__idcache_new(cfg->mode == MCS_MODE_NATIVE
                                 ? cfg->cookie_cache_entries
                                 : 0,
                             &m->idcache)) ||
      (cfg->mode == MCS_MODE_NATIVE &&
       (rc = mcs__sealer_new(m->keys, &m->sealer)))) {
    mcs_manager_free(m);
    return rc;
  }
  derive_keys(m, cfg);
  apply_defaults(m);
  *out = m;
  return MCS_OK;
}

void mcs_manager_free(mcs_manager *mgr) {
  if (!mgr)
    return;
  if (mgr->own_store)
    mcs_store_free(mgr->store);
  mcs_keyring_free(mgr->keys);
  mcs__revcache_free(mgr->revcache);
  mcs__revcache_free(mgr->seencache);
  mcs__rcache_free(mgr->rcache);
  mcs__idcache_free(mgr->idcache);
  mcs__sealer_free(mgr->sealer);
  mcs__free(mgr->key_prefix);
  mcs__free(mgr->cookie_name);
  mcs__free(mgr->cookie_path);
  mcs__free(mgr->cookie_domain);
  if (mgr->session_secret) {
    sodium_memzero(mgr->session_secret, mgr->session_secret_len);
    mcs__free(mgr->session_secret);
  }
  sodium_memzero(mgr->store_key_secret, sizeof mgr->store_key_secret);
  sodium_memzero(mgr->csrf_key, sizeof mgr->csrf_key);
  mcs__hmac_wipe(&mgr->store_key_hmac);
  mcs__hmac_wipe(&mgr->csrf_hmac);
  mcs__free(mgr);
}

void mcs_manager_stats_get(const mcs_manager *mgr, mcs_manager_stats *st) {
  if (!st)
    return;
  memset(st, 0, sizeof *st);
  if (!mgr)
    return;
  /* The counters are atomics in a const object: loading them is a read. */
  mcs_manager *m = (mcs_manager *)(uintptr_t)mgr;
  st->created = atomic_load_explicit(&m->stats.created, memory_order_relaxed);
  st->loaded = atomic_load_explicit(&m->stats.loaded, memory_order_relaxed);
  st->expired = atomic_load_explicit(&m->stats.expired, memory_order_relaxed);
  st->forged = atomic_load_explicit(&m->stats.forged, memory_order_relaxed);
  st->saves = atomic_load_explicit(&m->stats.saves, memory_order_relaxed);
  st->writes_skipped =
      atomic_load_explicit(&m->stats.writes_skipped, memory_order_relaxed);
  st->cas_retries =
      atomic_load_explicit(&m->stats.cas_retries, memory_order_relaxed);
  st->store_errors =
      atomic_load_explicit(&m->stats.store_errors, memory_order_relaxed);
  st->corrupt = atomic_load_explicit(&m->stats.corrupt, memory_order_relaxed);
  st->revoked = atomic_load_explicit(&m->stats.revoked, memory_order_relaxed);
  st->revocation_reads =
      atomic_load_explicit(&m->stats.revocation_reads, memory_order_relaxed);
  st->retired = atomic_load_explicit(&m->stats.retired, memory_order_relaxed);
  st->revocation_unreadable = atomic_load_explicit(
      &m->stats.revocation_unreadable, memory_order_relaxed);
  st->tampered = atomic_load_explicit(&m->stats.tampered, memory_order_relaxed);
}
