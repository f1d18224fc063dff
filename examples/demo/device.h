/* The device label the demo gives a session at sign-in, from the
 * browser's User-Agent header, and the short name its "Your sessions"
 * page shows for it. A User-Agent is whatever the client sends: these
 * functions make it fit to store (mcs_session_set_user_labels takes
 * UTF-8 without control characters, at most MCS_SESSION_LABEL_MAX bytes)
 * and to read; the page still HTML-escapes it, like every label. */
#ifndef DEMO_DEVICE_H
#define DEMO_DEVICE_H

#include <stddef.h>

#include <mcsession.h>

/* Bytes a device label needs, with its NUL. */
#define DEVICE_LABEL_SIZE (MCS_SESSION_LABEL_MAX + 1)
/* Bytes device_name writes at most, with its NUL. */
#define DEVICE_NAME_SIZE 64

/* Writes the User-Agent `ua` (NULL: absent) as a label into out: bytes
 * that are not UTF-8 become '?', control and text-direction characters
 * spaces, runs of spaces one space, none at the ends; cut at a character
 * boundary to fit. "Unknown browser" when nothing is left. Reads at most
 * the first DEVICE_LABEL_SIZE + 4 bytes of `ua` (what can fill a label),
 * so a header of any length costs the same. */
void device_label(const char *ua, char out[DEVICE_LABEL_SIZE]);

/* A short name for a label made by device_label, for people: "Firefox on
 * Linux", "Chrome on Android", "curl"; for a User-Agent it does not know,
 * its first 40 characters (with "…" when there were more). */
void device_name(const char *label, char out[DEVICE_NAME_SIZE]);

#endif
