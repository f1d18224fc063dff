/* Error messages and names, generated from MCS_ERRNO_MAP so they never
 * drift from the codes; the one error -> HTTP status mapping all adapters
 * share; and the version. */
#include "util/util_int.h"

const char *mcs_strerror(int err) {
  switch (err) {
  case MCS_OK:
    return "success";
#define MCS__ERR_MSG(name, value, msg)                                       \
  case MCS_##name:                                                           \
    return msg;
    MCS_ERRNO_MAP(MCS__ERR_MSG)
#undef MCS__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *mcs_errname(int err) {
  switch (err) {
  case MCS_OK:
    return "MCS_OK";
#define MCS__ERR_NAME(name, value, msg)                                      \
  case MCS_##name:                                                           \
    return "MCS_" #name;
    MCS_ERRNO_MAP(MCS__ERR_NAME)
#undef MCS__ERR_NAME
  default:
    return "MCS_UNKNOWN";
  }
}

unsigned mcs_http_status_for_error(int err) {
  switch (err) {
  case MCS_OK:
    return 200;
  case MCS_ELIMIT:
    return 431; /* Request Header Fields Too Large (RFC 6585) */
  case MCS_ETOOBIG:
    return 413;
  case MCS_EBADSIG:
    return 403;
  case MCS_EINVAL:
    return 400;
  case MCS_EGONE:
  case MCS_ERETIRED: /* the session moved on under this request */
    return 409;
  /* Transient: the store is down or slow, memory is short, or too many
   * requests raced on one session. A retry can succeed, so 503. */
  case MCS_ESTORE:
  case MCS_ETIMEDOUT:
  case MCS_EPROTO:
  case MCS_ENOMEM:
  case MCS_ECONFLICT:
    return 503;
  default:
    return 500;
  }
}

unsigned mcs_version(void) {
  return (MCS_VERSION_MAJOR << 16) | (MCS_VERSION_MINOR << 8) |
         MCS_VERSION_PATCH;
}

const char *mcs_version_string(void) { return MCS_VERSION_STRING; }
