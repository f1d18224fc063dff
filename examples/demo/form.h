/* A small strict parser for application/x-www-form-urlencoded bodies
 * (the WHATWG URL Standard, section 5.1), as HTML forms send them. */
#ifndef DEMO_FORM_H
#define DEMO_FORM_H

#include <stddef.h>

enum {
  FORM_OK = 0,
  FORM_ABSENT = -1,    /* no such field */
  FORM_MALFORMED = -2, /* the body breaks the rules below */
  FORM_TOO_LONG = -3   /* the decoded value does not fit in `out` */
};

/* Most fields a body may hold; a form posts two or three. */
#define FORM_FIELDS_MAX 32

/* Finds field `name` in `body` and writes its decoded value to
 * out[0..out_size), NUL-terminated, length to *out_len (may be NULL).
 *
 * Strict where the standard is lenient, because a demo of session handling
 * should refuse ambiguity rather than guess: the whole body is checked even
 * when the field comes early; every byte must be printable ASCII (browsers
 * percent-encode the rest); every '%' must start a two-digit hex escape;
 * every field needs an '=' and a non-empty name; a decoded NUL is refused;
 * so are more than FORM_FIELDS_MAX fields and a field that appears twice.
 * Empty pieces between '&'s are skipped, as browsers never send them but the
 * standard allows them. '+' decodes to a space.
 *
 * Never allocates, never reads past body[len - 1] (body need not be
 * NUL-terminated). Returns FORM_OK, FORM_ABSENT, FORM_MALFORMED or
 * FORM_TOO_LONG (out holds an empty string then). */
int form_get(const char *body, size_t len, const char *name, char *out,
             size_t out_size, size_t *out_len);

#endif
