/* The user name a person types at sign-in, checked for what it will look
 * like when shown back. The library checks only what it must store
 * (mcs_user_id_valid: UTF-8 without C0 controls or DEL, and in tornado
 * mode not even that); a greeting is read by people, so the demo asks
 * more, and says which rule a name broke. */
#ifndef DEMO_NAME_H
#define DEMO_NAME_H

#include <stddef.h>

typedef enum name_verdict {
  NAME_OK = 0,
  NAME_BLANK,    /* empty, or nothing a reader could see (spaces) */
  NAME_NOT_UTF8, /* not well-formed UTF-8 */
  NAME_CONTROL,  /* C0 or C1 control characters, DEL (tabs, newlines) */
  NAME_BIDI      /* bidirectional embedding, override or isolate controls,
                    U+202A..U+202E and U+2066..U+2069, which can make a
                    name read as something it is not */
} name_verdict;

/* Drops ASCII spaces at both ends of name[0..*len) (moving the rest to
 * the front, updating *len, NUL-terminating), then checks what is left.
 * name must have room for *len + 1 bytes. */
name_verdict name_check(char *name, size_t *len);

/* The sentence for the sign-in page about a refused name. Static. */
const char *name_problem(name_verdict v);

#endif
