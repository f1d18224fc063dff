/*
 * mcsession: key rings and signed values in Tornado's signed-value format
 * version 2 (what the session cookie is). Part of mcsession.h.
 */
#ifndef MCSESSION_SIGNER_H
#define MCSESSION_SIGNER_H

#include "mcsession/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Key ring and signed values (Tornado signed-value format, version 2)      */
/* ------------------------------------------------------------------------ */

/* A set of HMAC secrets by key version. The key with the highest version
 * signs; every key verifies values that name its version. Rotation: deploy
 * a ring with a new, higher version added (new cookies use it, old ones
 * still verify); once max-age has passed, deploy a ring without the old
 * version. A manager copies its ring, so a new ring means a new manager.
 *
 * Build it, then hand it to mcs_manager_new (which copies it) or use it for
 * mcs_sign / mcs_verify. Adding keys is not thread-safe; once built, a key
 * ring may be read by any number of threads. */
typedef struct mcs_keyring mcs_keyring;

/* Smallest accepted secret, in bytes. Shorter secrets are refused
 * (MCS_EINVAL): an HMAC key is only as strong as its length. */
#define MCS_SECRET_MIN_BYTES 16
#define MCS_SECRET_MAX_BYTES 1024
/* Key versions are small non-negative integers (Tornado's key_version). */
#define MCS_KEY_VERSION_MAX 1000000

/* MCS_OK, MCS_EINVAL (out is NULL), MCS_ENOMEM, or MCS_EIO when the OS
 * CSPRNG / libsodium cannot be initialised (done here, so sign and verify
 * never need to). */
MCS_EXPORT int mcs_keyring_new(mcs_keyring **out);
/* Wipes the secrets and frees the ring; no thread may still be using it
 * (managers hold their own copies). NULL is fine. */
MCS_EXPORT void mcs_keyring_free(mcs_keyring *ring);
/* Adds (a copy of) `secret` under `version`. MCS_EINVAL for a NULL ring,
 * a version out of range, a version already present, or a secret of the
 * wrong length; MCS_ENOMEM. On failure the ring is unchanged. */
MCS_EXPORT int mcs_keyring_add(mcs_keyring *ring, unsigned version,
                               const void *secret, size_t secret_len);
/* The version that signs (the highest); MCS_EINVAL if the ring is empty. */
MCS_EXPORT int mcs_keyring_current(const mcs_keyring *ring, unsigned *version);

/* Upper bound on a signed value's length given the lengths of its name and
 * value, terminating NUL included. */
#define MCS_SIGNED_MAX_LEN(name_len, value_len)                               \
  (128u + (name_len) + 4u * (((value_len) + 2u) / 3u))

/* Limits on what mcs_sign accepts and mcs_verify parses. */
#define MCS_SIGNED_NAME_MAX 256
#define MCS_SIGNED_VALUE_MAX 3072

/* Signs `value` under `name` with the key of `key_version` (or the current
 * key when key_version < 0) and timestamp `timestamp` (Unix seconds), and
 * writes the NUL-terminated signed value to out[0..out_size). The output is
 * byte for byte what Tornado's create_signed_value(secret, name, value,
 * version=2, key_version=...) returns for that clock.
 * Returns MCS_OK, MCS_EINVAL (unknown key version, negative timestamp,
 * empty name, or a name with bytes outside printable ASCII 0x21..0x7e), or MCS_ELIMIT (name or value
 * over the limits, or out_size too small: MCS_SIGNED_MAX_LEN is always
 * enough; a key version above MCS_KEY_VERSION_MAX is MCS_EINVAL). On
 * failure out holds "" (when out_size > 0). Never allocates. *out_len (if
 * not NULL) gets the length without the NUL. */
MCS_EXPORT int mcs_sign(const mcs_keyring *ring, long key_version,
                        const char *name, const void *value, size_t value_len,
                        int64_t timestamp, char *out, size_t out_size,
                        size_t *out_len);

/* Verifies a signed value: the format, the key version (it must be in the
 * ring), the HMAC (constant-time compare), the name, and the age
 * (`now - timestamp <= max_age_s`; max_age_s < 0 disables the age check).
 * On success the decoded value is written to value_out (up to
 * value_size bytes, not NUL-terminated) and its length to *value_len.
 * Every kind of invalid input gives MCS_EBADSIG, so failures reveal nothing;
 * MCS_EINVAL only for NULL arguments (value_out may be NULL when
 * value_size is 0), and MCS_ELIMIT when value_size is too small for a value
 * that verified — *value_len then holds the size needed.
 * Only the canonical form Tornado writes is accepted: no leading zeros or
 * signs in numbers, a name by mcs_sign's rules, strict base64. (Tornado's
 * own decoder is laxer, but Tornado never writes such values.)
 * Never allocates. */
MCS_NODISCARD MCS_EXPORT int mcs_verify(const mcs_keyring *ring, const char *name,
                          const char *signed_value, size_t signed_len,
                          int64_t now, int64_t max_age_s, void *value_out,
                          size_t value_size, size_t *value_len);

/* What a signed value says about itself, read without a key. */
typedef struct mcs_signed_info {
  char name[MCS_SIGNED_NAME_MAX + 1]; /* NUL-terminated */
  unsigned key_version;
  int64_t timestamp; /* Unix seconds, as written by the signer */
  /* Room for fields of later releases (mcsession.h, "Structs grow"):
   * zeroed by mcs_signed_inspect. */
  uint64_t reserved[4];
} mcs_signed_info;

/* Reads a signed value's fields WITHOUT verifying it: the name, key
 * version and timestamp into *info and the value it carries into
 * value_out (up to value_size bytes, not NUL-terminated; may be NULL when
 * value_size is 0), its length into *value_len. For operators and
 * diagnostics (which key version to load, when a cookie was issued, why
 * mcs_verify refused it): it PROVES NOTHING. Anybody can write a value of
 * this shape with any name, version, time and value; only mcs_verify
 * with the key says the value is authentic. Never trust what it returns.
 * The format is checked as strictly as mcs_verify checks it (canonical
 * numbers, a name by mcs_sign's rules, base64 of the standard alphabet
 * and padding, a signature of 64 lowercase hex digits, but not whether
 * it matches), with one exception: the value is decoded as Tornado
 * decodes it, ignoring the unused bits of the base64's last character,
 * which mcs_verify refuses when they are not zero.
 * Returns MCS_OK, MCS_EBADSIG (not a well-formed version 2 signed value;
 * *info is then zeroed), MCS_EINVAL (NULL signed_value, info or
 * value_len, or NULL value_out with value_size > 0), or MCS_ELIMIT
 * (value_size too small: *info is filled and *value_len holds the size
 * needed). Never allocates; keeps no state, so any thread may call it. */
MCS_EXPORT int mcs_signed_inspect(const char *signed_value, size_t signed_len,
                                  mcs_signed_info *info, void *value_out,
                                  size_t value_size, size_t *value_len);

#ifdef __cplusplus
}
#endif

#endif /* MCSESSION_SIGNER_H */
