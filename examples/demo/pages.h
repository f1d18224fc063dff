/* The demo's HTML pages: small, self-contained (inline CSS, no scripts, no
 * external assets), every piece of user data HTML-escaped. */
#ifndef DEMO_PAGES_H
#define DEMO_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mcsession.h>

#include "html.h"

/* The greeting for a signed-in user, their count, a logout form and,
 * when `everywhere` (sessions bound to users: native mode), the "Log out
 * everywhere" form. */
void page_home(strbuf *sb, const char *name, size_t name_len, int64_t count,
               const char *xsrf, bool everywhere);
/* What the "Your sessions" page shows; everything BORROWED. */
typedef struct sessions_view {
  const char *name; /* the signed-in user, name_len bytes */
  size_t name_len;
  const mcs_user_session *list; /* mcs_manager_list_sessions's, in order */
  size_t count;
  const char *this_handle; /* this session's (mcs_session_handle) */
  const char *xsrf;
  const char *notice; /* what just happened, or NULL */
} sessions_view;

/* The user's live sessions: device, address, signed in, last seen; this
 * device marked; an End form for each other one and "Log out everywhere
 * else" when there is one. Labels are shown HTML-escaped: they come from
 * the clients (a User-Agent can hold markup). */
void page_sessions(strbuf *sb, const sessions_view *v);
/* The stylesheet every page links to (GET /style.css). Static storage. */
const char *page_style(void);
/* The sign-in form; `notice` (what just happened: "You are signed out.")
 * and `error` (what is wrong with the name sent) are shown above it when
 * not NULL. */
void page_login(strbuf *sb, const char *xsrf, const char *notice,
                const char *error);
void page_count(strbuf *sb, int64_t count, int signed_in);
/* A short page for an error status. */
void page_error(strbuf *sb, unsigned status, const char *title,
                const char *message);

#endif
