/* User names: see name.h. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "name.h"
#include "text.h"

/* Characters that show nothing on their own: the space separators and
 * the zero-width ones. A name made only of them greets nobody. */
static bool is_invisible(uint32_t cp) {
  return cp == 0x20 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200d) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x2060 || cp == 0x3000 ||
         cp == 0xfeff;
}

static void trim_spaces(char *name, size_t *len) {
  size_t start = 0, end = *len;
  while (start < end && name[start] == ' ')
    start++;
  while (end > start && name[end - 1] == ' ')
    end--;
  memmove(name, name + start, end - start);
  *len = end - start;
  name[*len] = '\0';
}

name_verdict name_check(char *name, size_t *len) {
  trim_spaces(name, len);
  const unsigned char *s = (const unsigned char *)name;
  bool visible = false;
  name_verdict found = NAME_OK;
  for (size_t i = 0; i < *len;) {
    uint32_t cp;
    if (!text_next(s, *len, &i, &cp))
      return NAME_NOT_UTF8; /* the first rule a reader can act on */
    if (found == NAME_OK && text_is_control(cp))
      found = NAME_CONTROL;
    else if (found == NAME_OK && text_is_bidi_control(cp))
      found = NAME_BIDI;
    visible = visible || !is_invisible(cp);
  }
  if (found != NAME_OK)
    return found;
  return visible ? NAME_OK : NAME_BLANK;
}

const char *name_problem(name_verdict v) {
  switch (v) {
  case NAME_BLANK:
    return "Please enter a name (spaces alone are not one).";
  case NAME_NOT_UTF8:
    return "The name must be valid UTF-8 text.";
  case NAME_CONTROL:
    return "Control characters (tabs, line breaks and the like) are not "
           "allowed in a name.";
  case NAME_BIDI:
    return "Text-direction control characters (U+202A to U+202E, U+2066 to "
           "U+2069) are not allowed in a name: they can make it read as "
           "something else.";
  default:
    return "";
  }
}
