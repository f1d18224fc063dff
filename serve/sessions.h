/* The session side of a server program, from its command line's options:
 * the key ring (from secret files), the store (the memory store, a
 * memcached URL or a Redis URL) and the manager, native or Tornado mode. Shared
 * by the demo servers and the gate, so that they read secret files and store
 * URLs alike and refuse the same mistakes with the same messages. */
#ifndef SERVE_SESSIONS_H
#define SERVE_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <mcsession.h>

/* Exit statuses sessions_open returns (besides 0). */
#define SESSIONS_EXIT_FAILED 1 /* a file, the store, memory... */
#define SESSIONS_EXIT_USAGE 2  /* a bad --store URL */

typedef struct sessions_opts {
  const char *program; /* names the program in messages; static storage
                          (the default logger keeps it) */
  /* "memory", "memcached://...", "redis://..." or "redis+cluster://..."
   * (--store). Tornado mode takes memcached only: the recipe's Python
   * side speaks memcached, so a Redis URL is a usage error. */
  const char *store;
  bool tornado; /* --mode tornado */
  /* Native: the cookie-signing secret (--secret-file); NULL makes a
   * random one, with a warning that sessions end with the process. */
  const char *secret_file;
  /* Tornado, both required: the recipe's cookie_secret (signs the
   * cookies) and session_secret (derives ids and verification cookies). */
  const char *cookie_secret_file;
  const char *session_secret_file;
  uint32_t idle_timeout;     /* seconds; 0: the library's default */
  uint32_t absolute_timeout; /* seconds, when absolute_set; 0 disables */
  bool absolute_set;
  unsigned max_cas_retries; /* 0: the library's default */
  /* Native mode: sealed records (--seal-records); 0 is MCS_SEAL_ON, the
   * library's default. */
  mcs_seal_mode seal_records;
  /* Cookies without Secure: only for a server that says so at start-up
   * (the demo on a loopback address); the gate sets no cookies. */
  bool plain_http;
  /* The library's log messages (it never prints). NULL: warnings and
   * errors to stderr, each on a line of its own. */
  void (*log)(void *ud, mcs_log_level level, const char *message);
  void *log_ud;
} sessions_opts;

typedef struct sessions {
  mcs_keyring *keys;
  mcs_store *store;
  mcs_manager *mgr;
} sessions;

/* What a --store value names, by its scheme alone (the URL is parsed by
 * sessions_open). */
typedef enum sessions_store_kind {
  SESSIONS_STORE_UNKNOWN,
  SESSIONS_STORE_MEMORY,    /* "memory" */
  SESSIONS_STORE_MEMCACHED, /* memcached:// */
  SESSIONS_STORE_REDIS      /* redis:// or redis+cluster:// */
} sessions_store_kind;
sessions_store_kind sessions_store_kind_of(const char *store);

/* Builds *s from the options. Returns 0, or an exit status after saying
 * why on stderr (naming the flag or file): SESSIONS_EXIT_USAGE for a bad
 * store URL (or a Redis URL in tornado mode), SESSIONS_EXIT_FAILED for anything
 * else (a secret file that cannot be read or has the wrong length, ...). *s is
 * then empty. */
int sessions_open(sessions *s, const sessions_opts *o);
/* Frees what sessions_open built; a zeroed *s is fine. */
void sessions_close(sessions *s);

#endif
