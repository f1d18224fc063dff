/*
 * Sealed records in native mode (docs/security.md, "Sealed records"): what
 * the codec writes is sealed (crypto/seal.c) for the session's id under
 * its store key before it goes to the store, and opened before it is
 * decoded, so the store holds nothing readable without the cookie and
 * nothing it can plant. The manager's `seal_records` decides what is
 * accepted: MCS_SEAL_ON only sealed records; MCS_SEAL_ACCEPT_PLAIN plain
 * ones too, while a deployment's plain records age out (each is sealed at
 * its next changed save); MCS_SEAL_OFF writes plain records and still
 * opens sealed ones, so turning sealing off logs nobody out. Tornado mode
 * never seals: its records are the recipe's pickles, byte for byte.
 *
 * A record that does not open is tampering (or a secret removed from the
 * ring too early): the load settles FORGED with a fresh id, the record is
 * left where it is for an operator, and the event is counted and logged
 * at most once a minute (load.c, mcs__record_tampered).
 */
#include "session/session_int.h"

int mcs__record_seal(const mcs_manager *m, const char *id, size_t id_len,
                     const char *key, size_t key_len, mcs__buf *body) {
  if (!m->sealer || m->cfg.seal_records == MCS_SEAL_OFF)
    return MCS_OK;
  return mcs__seal(m->sealer, id, id_len, key, key_len, body);
}

int mcs__record_open(const mcs_manager *m, const char *id, size_t id_len,
                     const char *key, size_t key_len, const uint8_t *raw,
                     size_t len, mcs__buf *scratch, const uint8_t **plain,
                     size_t *plain_len) {
  *plain = raw;
  *plain_len = len;
  if (!m->sealer)
    return MCS_OK; /* tornado mode */
  if (!mcs__sealed(raw, len))
    return m->cfg.seal_records == MCS_SEAL_ON ? MCS_EBADSIG : MCS_OK;
  int rc = mcs__unseal(m->sealer, id, id_len, key, key_len, raw, len, scratch);
  if (rc == MCS_OK) {
    *plain = scratch->data;
    *plain_len = scratch->len;
  }
  return rc;
}

void mcs__record_tampered(mcs_manager *m) {
  MCS__STAT_INC(m, tampered);
  mcs__log_burst(m, &m->log_tampered, MCS_LOG_WARN,
                 "mcsession: a session record did not open (altered, "
                 "moved, sealed under a secret not in the ring, or plain "
                 "while seal_records is on): treated as forged");
}
