/*
 * The per-request change log. It is what makes compare-and-swap safe for
 * sessions: when a save finds that another request wrote the record since
 * we read it, we read it again and replay this log on top, so that two
 * requests changing different keys both survive and increments add up.
 *
 * One entry per key; later changes fold into it:
 *   set/delete after anything  -> the absolute change replaces the entry
 *   incr after incr            -> deltas add up (still relative)
 *   incr after set/delete      -> becomes a set of the resulting value
 * A request touches a handful of keys, so a linear scan is the right tool.
 */
#include <string.h>

#include "session/session_int.h"

int mcs__int_add_checked(int64_t a, int64_t b, int64_t *sum) {
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
    return MCS_ERANGE;
  *sum = a + b;
  return MCS_OK;
}

static mcs__change *find_entry(mcs__changes *c, const char *key) {
  for (size_t i = 0; i < c->len; i++)
    if (strcmp(c->items[i].key, key) == 0)
      return &c->items[i];
  return NULL;
}

/* The entry for `key`, appended (kind SET, no value) if absent. */
static int entry_for(mcs__changes *c, const char *key, mcs__change **out) {
  mcs__change *e = find_entry(c, key);
  if (e) {
    *out = e;
    return MCS_OK;
  }
  if (c->len == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    mcs__change *items = mcs__realloc(c->items, cap * sizeof *items);
    if (!items)
      return MCS_ENOMEM;
    c->items = items;
    c->cap = cap;
  }
  char *k = mcs__strdup(key);
  if (!k)
    return MCS_ENOMEM;
  e = &c->items[c->len++];
  memset(e, 0, sizeof *e);
  e->key = k;
  e->kind = MCS__CHANGE_SET;
  *out = e;
  return MCS_OK;
}

static void make_absolute(mcs__change *e, mcs__change_kind kind,
                          json_t *value) {
  json_decref(e->value);
  e->kind = kind;
  e->value = value ? json_incref(value) : NULL;
  e->delta = 0;
}

int mcs__changes_set(mcs__changes *c, const char *key, json_t *value) {
  mcs__change *e;
  int rc = entry_for(c, key, &e);
  if (rc == MCS_OK)
    make_absolute(e, MCS__CHANGE_SET, value);
  return rc;
}

int mcs__changes_delete(mcs__changes *c, const char *key) {
  mcs__change *e;
  int rc = entry_for(c, key, &e);
  if (rc == MCS_OK)
    make_absolute(e, MCS__CHANGE_DELETE, NULL);
  return rc;
}

int mcs__changes_incr(mcs__changes *c, const char *key, int64_t delta,
                      json_t *now_value) {
  mcs__change *e = find_entry(c, key);
  if (e && e->kind != MCS__CHANGE_INCR) {
    make_absolute(e, MCS__CHANGE_SET, now_value);
    return MCS_OK;
  }
  if (e)
    return mcs__int_add_checked(e->delta, delta, &e->delta);
  int rc = entry_for(c, key, &e);
  if (rc)
    return rc;
  e->kind = MCS__CHANGE_INCR;
  e->delta = delta;
  return MCS_OK;
}

static int apply_incr(const mcs__change *e, json_t *data) {
  json_t *cur = json_object_get(data, e->key);
  if (cur && !json_is_integer(cur))
    return MCS_ETYPE;
  int64_t sum;
  int rc = mcs__int_add_checked(cur ? json_integer_value(cur) : 0, e->delta,
                                &sum);
  if (rc)
    return rc;
  return json_object_set_new(data, e->key, json_integer(sum)) ? MCS_ENOMEM
                                                               : MCS_OK;
}

int mcs__changes_apply(const mcs__changes *c, json_t *data) {
  for (size_t i = 0; i < c->len; i++) {
    const mcs__change *e = &c->items[i];
    int rc = MCS_OK;
    switch (e->kind) {
    case MCS__CHANGE_SET:
      rc = json_object_set(data, e->key, e->value) ? MCS_ENOMEM : MCS_OK;
      break;
    case MCS__CHANGE_DELETE:
      json_object_del(data, e->key); /* absent already is fine */
      break;
    case MCS__CHANGE_INCR:
      rc = apply_incr(e, data);
      break;
    }
    if (rc)
      return rc;
  }
  return MCS_OK;
}

void mcs__changes_clear(mcs__changes *c) {
  for (size_t i = 0; i < c->len; i++) {
    mcs__free(c->items[i].key);
    json_decref(c->items[i].value);
  }
  mcs__free(c->items);
  c->items = NULL;
  c->len = c->cap = 0;
}
