/* Device labels and names: see device.h. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "device.h"
#include "text.h"

/* Appends a space unless out is empty or already ends in one. */
static void put_space(char *out, size_t *len) {
  if (*len > 0 && out[*len - 1] != ' ')
    out[(*len)++] = ' ';
}

void device_label(const char *ua, char out[DEVICE_LABEL_SIZE]) {
  const unsigned char *s = (const unsigned char *)(ua ? ua : "");
  /* Enough of the header to fill the label: each input byte gives at
   * most one output byte, plus a character cut at the end. */
  size_t n = strnlen((const char *)s, DEVICE_LABEL_SIZE + 4);
  size_t len = 0;
  for (size_t i = 0; i < n;) {
    size_t at = i;
    uint32_t cp;
    if (!text_next(s, n, &i, &cp)) {
      if (s[n] != '\0' && n - at < 4)
        break; /* a character the window cut, not a bad one */
      i = at + 1;
      cp = '?';
    }
    size_t bytes = cp == '?' ? 1 : i - at;
    if (len + bytes > DEVICE_LABEL_SIZE - 1)
      break;
    if (cp == ' ' || text_is_control(cp) || text_is_bidi_control(cp))
      put_space(out, &len);
    else if (cp == '?')
      out[len++] = '?';
    else {
      memcpy(out + len, s + at, bytes);
      len += bytes;
    }
  }
  while (len > 0 && out[len - 1] == ' ')
    len--;
  out[len] = '\0';
  if (len == 0)
    strcpy(out, "Unknown browser");
}

typedef struct known {
  const char *token, *name;
} known;

/* What a User-Agent says, checked in this order: an Edge or Opera says
 * "Chrome" too, a Chrome says "Safari", an Android says "Linux". */
static const known BROWSERS[] = {
    {"Edg/", "Edge"},          {"OPR/", "Opera"},
    {"Firefox/", "Firefox"},   {"HeadlessChrome/", "Headless Chrome"},
    {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
    {"Safari/", "Safari"},     {"curl/", "curl"},
    {"Wget/", "Wget"},         {"python", "Python"},
    {"Python", "Python"},
};

static const known SYSTEMS[] = {
    {"Windows", "Windows"}, {"Android", "Android"}, {"iPhone", "iOS"},
    {"iPad", "iPadOS"},     {"Mac OS X", "macOS"},  {"CrOS", "ChromeOS"},
    {"Linux", "Linux"},
};

/* The name of the first token of table[0..n) found in label, or NULL. */
static const char *lookup(const known *table, size_t n, const char *label) {
  for (size_t i = 0; i < n; i++)
    if (strstr(label, table[i].token))
      return table[i].name;
  return NULL;
}

/* How much of an unknown User-Agent the name shows. */
#define NAME_CHARS 40

/* The first NAME_CHARS characters of label (as many whole ones as fit)
 * into out, "…" after them when there were more. */
static void first_chars(const char *label, char out[DEVICE_NAME_SIZE]) {
  static const char more[] = "\xe2\x80\xa6"; /* U+2026 */
  size_t i = 0;
  for (size_t c = 0; label[i] && c < NAME_CHARS; c++) {
    size_t next = i + 1;
    while (((unsigned char)label[next] & 0xc0) == 0x80)
      next++;
    if (next > DEVICE_NAME_SIZE - sizeof more)
      break;
    i = next;
  }
  memcpy(out, label, i);
  strcpy(out + i, label[i] ? more : "");
}

void device_name(const char *label, char out[DEVICE_NAME_SIZE]) {
  const char *browser =
      lookup(BROWSERS, sizeof BROWSERS / sizeof BROWSERS[0], label);
  const char *system =
      lookup(SYSTEMS, sizeof SYSTEMS / sizeof SYSTEMS[0], label);
  if (!browser) {
    first_chars(label, out);
    return;
  }
  size_t b = strlen(browser);
  memcpy(out, browser, b + 1);
  if (system) { /* both from the tables above: "Headless Chrome on ChromeOS"
                   is the longest, well under DEVICE_NAME_SIZE */
    memcpy(out + b, " on ", 4);
    strcpy(out + b + 4, system);
  }
}
