/*
 * A decoded session record (mcs__record, codec_int.h) and the parts of it
 * every codec shares: clearing it, the user it is bound to, and that
 * user's revocation generation as 16 lowercase hex digits (the binding
 * itself is session/revoke.c's business).
 */
#include <string.h>

#include <jansson.h>

#include "codec/codec_int.h"

void mcs__record_clear(mcs__record *rec) {
  json_decref(rec->data);
  mcs__free(rec->user);
  memset(rec, 0, sizeof *rec);
}

bool mcs__text_valid(const char *s, size_t n) {
  if (!mcs__utf8_valid(s, n))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f)
      return false;
  }
  return true;
}

bool mcs__user_id_valid(const char *uid) {
  if (!uid)
    return false;
  size_t n = strnlen(uid, MCS_USER_ID_MAX + 1);
  return n > 0 && n <= MCS_USER_ID_MAX && mcs__text_valid(uid, n);
}

void mcs__gen_format(uint64_t gen, char out[MCS__GEN_HEX + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < MCS__GEN_HEX; i++)
    out[i] = hex[(gen >> (60 - 4 * i)) & 0xf];
  out[MCS__GEN_HEX] = '\0';
}

bool mcs__gen_parse(const char *s, size_t n, uint64_t *gen) {
  uint64_t v = 0;
  if (n != MCS__GEN_HEX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    unsigned d = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
                 : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                          : 16u;
    if (d > 15)
      return false;
    v = v << 4 | d;
  }
  *gen = v;
  return v != 0;
}

int mcs__record_set_user(mcs__record *rec, const char *uid, uint64_t gen) {
  char *copy = NULL;
  if (uid && !(copy = mcs__strdup(uid)))
    return MCS_ENOMEM;
  mcs__free(rec->user);
  rec->user = copy;
  rec->user_gen = uid ? gen : 0;
  rec->user_tag_set = false; /* the tag was the old user's */
  return MCS_OK;
}
