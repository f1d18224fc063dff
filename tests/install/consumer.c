/* A program outside the tree, built against an installed mcsession. */
#include <mcsession.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  mcs_keyring *keys;
  if (mcs_keyring_new(&keys) != MCS_OK ||
      mcs_keyring_add(keys, 0, "an installed secret, 32 bytes!!", 31) != MCS_OK)
    return 1;
  char out[256];
  size_t n;
  if (mcs_sign(keys, -1, "session", "id", 2, 1700000000, out, sizeof out,
               &n) != MCS_OK)
    return 1;
  char value[16];
  size_t len;
  int rc = mcs_verify(keys, "session", out, n, 1700000000, 60, value,
                      sizeof value, &len);
  /* The operator's API (mcsession/admin.h) is installed and exported. */
  mcs_signed_info info;
  size_t seen = 0;
  if (rc == MCS_OK &&
      (mcs_signed_inspect(out, n, &info, NULL, 0, &seen) != MCS_ELIMIT ||
       seen != 2 || !mcs_user_id_valid("alice")))
    rc = MCS_EINVAL;
  mcs_keyring_free(keys);
  printf("mcsession %s: %s\n", mcs_version_string(),
         rc == MCS_OK && len == 2 && memcmp(value, "id", 2) == 0 ? "ok"
                                                                : "FAILED");
  return rc;
}
