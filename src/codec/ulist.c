/*
 * A user's list of sessions as bytes (docs/design.md, "A user's
 * sessions"): what session/sessions.c seals and keeps in the store.
 *
 *     {"v":1,"e":[{"h":"<handle>","k":"<store key>","c":<created>,
 *                  "s":<last seen>,"g":"<16 hex>","l":["<label>",...]},
 *                 ...]}
 *
 * "g" is the user's revocation generation when the session was bound
 * (16 lowercase hex digits, 0 for "the user had no record"), so a list
 * can tell a revoked session without reading it. Entries in the order
 * they were added (oldest first).
 *
 * The decoder treats its input as hostile even though it only ever sees
 * what opened under the server's key (a bug, or an older or newer
 * release, may have written it): at most MCS__ULIST_BYTES, exactly these
 * members with these types, at most MCS_USER_SESSIONS_MAX entries and
 * MCS_SESSION_LABELS_MAX labels, every string within its bound, handles
 * in base64url, store keys printable ASCII, labels UTF-8 without control
 * characters. Anything else is MCS_ECORRUPT; lack of memory is
 * MCS_ENOMEM, told apart by mcs__json_loadb. Unknown members are refused
 * rather than ignored: a later format is a new version.
 *
 * Read with mcs__json_load_exact: jansson 2.14's lexer drops the bytes
 * of a string it cannot grow its buffer for and still succeeds (found
 * here first, by the allocation-failure test: a 22-character handle came
 * back with 21), so a list decoded under memory pressure could otherwise
 * be silently wrong; a list that decodes is exactly what the text says.
 */
#include <string.h>

#include "codec/codec_int.h"

#define ULIST_VERSION 1

static bool handle_ok(const char *s, size_t n) {
  return n == MCS_SESSION_HANDLE_LEN && mcs__b64url_chars_ok(s, n);
}

bool mcs__ulist_handle_valid(const char *s) {
  return s && handle_ok(s, strnlen(s, MCS_SESSION_HANDLE_LEN + 1));
}

static bool key_ok(const char *s, size_t n) {
  if (n == 0 || n > MCS_STORE_KEY_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return false;
  return true;
}

bool mcs__ulist_label_valid(const char *s, size_t n) {
  return n <= MCS_SESSION_LABEL_MAX && mcs__text_valid(s, n);
}

/* The string member `name` of obj into out[0..max] (NUL-terminated), if
 * it is a string that passes ok(). */
static bool take_str(const json_t *obj, const char *name, char *out,
                     size_t max, bool (*ok)(const char *, size_t)) {
  const json_t *v = json_object_get(obj, name);
  if (!json_is_string(v))
    return false;
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  if (n > max || memchr(s, '\0', n) || !ok(s, n))
    return false;
  memcpy(out, s, n);
  out[n] = '\0';
  return true;
}

static bool gen_ok(const char *s, size_t n) {
  uint64_t g;
  return n == MCS__GEN_HEX &&
         (mcs__gen_parse(s, n, &g) || strspn(s, "0") == MCS__GEN_HEX);
}

static bool take_time(const json_t *obj, const char *name, int64_t *out) {
  const json_t *v = json_object_get(obj, name);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return false;
  *out = (int64_t)json_integer_value(v);
  return true;
}

static bool take_labels(const json_t *arr, mcs__ulist_entry *e) {
  if (!json_is_array(arr) || json_array_size(arr) > MCS_SESSION_LABELS_MAX)
    return false;
  e->label_count = json_array_size(arr);
  for (size_t i = 0; i < e->label_count; i++) {
    const json_t *v = json_array_get(arr, i);
    size_t n = json_is_string(v) ? json_string_length(v) : SIZE_MAX;
    if (n == SIZE_MAX ||
        !mcs__ulist_label_valid(json_string_value(v), n) ||
        memchr(json_string_value(v), '\0', n))
      return false;
    memcpy(e->labels[i], json_string_value(v), n + 1);
  }
  return true;
}

static bool take_entry(const json_t *obj, mcs__ulist_entry *e) {
  char gen[MCS__GEN_HEX + 1];
  if (!json_is_object(obj) || json_object_size(obj) != 6 ||
      !take_str(obj, "h", e->handle, MCS_SESSION_HANDLE_LEN, handle_ok) ||
      !take_str(obj, "k", e->key, MCS_STORE_KEY_MAX, key_ok) ||
      !take_time(obj, "c", &e->created) || !take_time(obj, "s", &e->seen) ||
      !take_str(obj, "g", gen, MCS__GEN_HEX, gen_ok) ||
      !take_labels(json_object_get(obj, "l"), e))
    return false;
  e->gen = 0;
  (void)mcs__gen_parse(gen, MCS__GEN_HEX, &e->gen); /* false for 0 */
  return true;
}

int mcs__ulist_decode(const void *buf, size_t len, mcs__ulist *out) {
  int rc;
  out->count = 0;
  if (len > MCS__ULIST_BYTES)
    return MCS_ECORRUPT;
  json_t *root = mcs__json_load_exact(buf, len, JSON_REJECT_DUPLICATES, &rc);
  if (!root)
    return rc;
  const json_t *e = json_object_get(root, "e");
  rc = MCS_ECORRUPT;
  if (json_is_object(root) && json_object_size(root) == 2 &&
      json_is_integer(json_object_get(root, "v")) &&
      json_integer_value(json_object_get(root, "v")) == ULIST_VERSION &&
      json_is_array(e) && json_array_size(e) <= MCS_USER_SESSIONS_MAX) {
    rc = MCS_OK;
    for (size_t i = 0; rc == MCS_OK && i < json_array_size(e); i++)
      if (!take_entry(json_array_get(e, i), &out->e[i]))
        rc = MCS_ECORRUPT;
  }
  if (rc == MCS_OK)
    out->count = json_array_size(e);
  json_decref(root);
  return rc;
}

static json_t *entry_json(const mcs__ulist_entry *e) {
  char gen[MCS__GEN_HEX + 1];
  mcs__gen_format(e->gen, gen);
  json_t *labels = json_array();
  for (size_t i = 0; labels && i < e->label_count; i++)
    if (json_array_append_new(labels, json_string(e->labels[i]))) {
      json_decref(labels);
      labels = NULL;
    }
  if (!labels)
    return NULL;
  /* "o" steals labels, also when pack fails. */
  return json_pack("{s:s, s:s, s:I, s:I, s:s, s:o}", "h", e->handle, "k",
                   e->key, "c", (json_int_t)e->created, "s",
                   (json_int_t)e->seen, "g", gen, "l", labels);
}

int mcs__ulist_encode(const mcs__ulist *l, mcs__buf *out) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < l->count; i++)
    if (json_array_append_new(arr, entry_json(&l->e[i]))) {
      json_decref(arr);
      arr = NULL;
    }
  json_t *root = arr ? json_pack("{s:i, s:o}", "v", ULIST_VERSION, "e", arr)
                     : NULL;
  if (!root)
    return MCS_ENOMEM;
  int rc = MCS_ENOMEM;
  size_t n = json_dumpb(root, NULL, 0, JSON_COMPACT);
  mcs__buf_reset(out);
  if (n && mcs__buf_reserve(out, n) == MCS_OK &&
      json_dumpb(root, (char *)out->data, n, JSON_COMPACT) == n) {
    out->len = n;
    rc = MCS_OK;
  }
  json_decref(root);
  return rc;
}
