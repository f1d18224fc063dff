/* Error messages and names, generated from MCS_ERRNO_MAP so they never
 * drift from the codes; and the version. */
#include "internal.h"

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

unsigned mcs_version(void) {
  return (MCS_VERSION_MAJOR << 16) | (MCS_VERSION_MINOR << 8) |
         MCS_VERSION_PATCH;
}

const char *mcs_version_string(void) { return MCS_VERSION_STRING; }
