/* mcsession keygen: a new random secret for a key ring or a Tornado
 * cookie_secret. */
#include <sodium.h>

#include <string.h>

#include "cmd_common.h"

/* 256 bits, the HMAC-SHA256 output size: more adds nothing. */
#define KEYGEN_BYTES 32

static int run_keygen(const tool_cmd *cmd, int argc, char **argv) {
  int rc = tool_parse_args(cmd, argc, argv, NULL, 0, NULL, 0);
  if (rc >= 0)
    return rc;
  uint8_t key[KEYGEN_BYTES];
  char text[sodium_base64_ENCODED_LEN(KEYGEN_BYTES,
                                      sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  rc = mcs_random_bytes(key, sizeof key);
  if (rc != MCS_OK)
    return tool_fail(cmd, TOOL_EXIT_ERROR, "no random bytes",
                     mcs_strerror(rc));
  sodium_bin2base64(text, sizeof text, key, sizeof key,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  rc = tool_print_line(cmd, text, strlen(text));
  sodium_memzero(key, sizeof key);
  sodium_memzero(text, sizeof text);
  return rc;
}

const tool_cmd tool_cmd_keygen = {
    "keygen",
    "print a new random secret",
    "keygen",
    "Prints a new secret: 32 bytes from the operating system's CSPRNG,\n"
    "base64url without padding (43 characters), and a newline. Save it to a\n"
    "file (readable only by the service) and pass that file as\n"
    "--secret-file; the 43 characters themselves are the secret, as with a\n"
    "Tornado cookie_secret.\n"
    "\n"
    "  mcsession keygen > secret && chmod 600 secret\n",
    run_keygen,
};
