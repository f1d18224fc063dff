/* HTML for the demo, and its one stylesheet. The stylesheet is served on
 * its own (GET /style.css, cached by the browser for a day) rather than
 * inlined: inlined, its 2 KiB went out with every page, three times the
 * page itself, and the Content-Security-Policy had to allow inline style.
 * Now the policy allows styles from this origin only, and nothing else. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <mcsession.h>

#include "device.h"
#include "pages.h"

static const char STYLE[] =
    ":root{color-scheme:light}"
    "*{box-sizing:border-box}"
    "body{margin:0;min-height:100vh;display:flex;flex-direction:column;"
    "align-items:center;justify-content:center;background:#f3f4f6;"
    "font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1f2328}"
    "main{background:#fff;border:1px solid #d8dee4;border-radius:12px;"
    "padding:2rem 2.25rem;width:min(28rem,92vw);"
    "box-shadow:0 1px 2px rgba(31,35,40,.06),0 8px 24px rgba(31,35,40,.06)}"
    ".brand{margin:0 0 .75rem;font-size:.8rem;font-weight:600;"
    "letter-spacing:.08em;text-transform:uppercase;color:#6e7781}"
    "h1{margin:0 0 .75rem;font-size:1.6rem;line-height:1.25;"
    "overflow-wrap:anywhere}"
    "p{margin:0 0 1rem}"
    ".muted{color:#57606a}"
    "label{display:block;margin-bottom:.35rem;font-weight:600}"
    "input[type=text]{width:100%;padding:.6rem .75rem;font:inherit;"
    "border:1px solid #d0d7de;border-radius:8px;background:#f6f8fa}"
    "input[type=text]:focus{outline:2px solid #0969da;outline-offset:-1px;"
    "background:#fff}"
    "button{margin-top:1rem;padding:.6rem 1.2rem;font:inherit;"
    "font-weight:600;border:0;border-radius:8px;cursor:pointer;"
    "background:#1f6feb;color:#fff}"
    "button:hover{background:#1a5fd0}"
    "button.quiet{background:#eaeef2;color:#1f2328}"
    "button.quiet:hover{background:#dde3e8}"
    ".everywhere{margin:.75rem 0 0;font-size:.9rem}"
    "button.link{margin:0;padding:0;background:none;color:#0969da;"
    "font-size:.9rem}"
    "button.link:hover{background:none;text-decoration:underline}"
    ".count{margin:.25rem 0 1rem;font-size:3.5rem;font-weight:700;"
    "line-height:1;color:#1f6feb}"
    ".error{padding:.6rem .8rem;border-radius:8px;background:#ffebe9;"
    "color:#a40e26;border:1px solid #ffcecb}"
    ".notice{padding:.6rem .8rem;border-radius:8px;background:#dafbe1;"
    "color:#116329;border:1px solid #aceebb}"
    "nav{display:flex;gap:1.25rem;margin-top:1.25rem;font-size:.95rem}"
    ".actions{display:flex;align-items:center;justify-content:space-between;"
    "margin-top:1.5rem;padding-top:1.25rem;border-top:1px solid #eaeef2}"
    ".actions button{margin:0}"
    "a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}"
    "footer{margin-top:1rem;font-size:.8rem;color:#8c959f}"
    ".small{font-size:.85rem}"
    "ul.sessions{list-style:none;margin:0 0 1rem;padding:0}"
    "li.session{display:flex;flex-wrap:wrap;align-items:center;"
    "gap:.25rem 1rem;padding:.75rem 0;border-top:1px solid #eaeef2}"
    "li.session .about{flex:1 1 15rem;min-width:0}"
    "li.session .agent{overflow-wrap:anywhere}"
    "li.session form button{margin:0}"
    ".this-device{margin-left:.5rem;padding:.1rem .5rem;border-radius:999px;"
    "background:#dafbe1;color:#116329;font-size:.8rem;font-weight:600}\n";

static void begin(strbuf *sb, const char *title) {
  sb_puts(sb, "<!doctype html>\n<html lang=\"en\"><head>"
              "<meta charset=\"utf-8\">"
              "<meta name=\"viewport\" "
              "content=\"width=device-width,initial-scale=1\">"
              "<title>");
  sb_puts(sb, title);
  sb_puts(sb, " · mcsession demo</title>");
  sb_puts(sb, "<link rel=\"stylesheet\" href=\"/style.css\">");
  sb_puts(sb, "</head><body><main><p class=\"brand\">mcsession demo</p>");
}

const char *page_style(void) { return STYLE; }

static void end(strbuf *sb) {
  sb_puts(sb, "</main><footer>Server-side sessions in C · "
              "mcsession " MCS_VERSION_STRING "</footer></body></html>\n");
}

static void xsrf_field(strbuf *sb, const char *xsrf) {
  sb_puts(sb, "<input type=\"hidden\" name=\"_xsrf\" value=\"");
  sb_html(sb, xsrf, strlen(xsrf));
  sb_puts(sb, "\">");
}

/* The counter, which only GET /count moves: this page shows it and
 * says so, or a visit here would seem to be missed. */
static void home_count(strbuf *sb, int64_t count) {
  sb_printf(sb,
            "<p>Visits to the counter page: <strong id=\"count\">%" PRId64
            "</strong></p>",
            count);
  sb_puts(sb, "<p class=\"muted\" id=\"count-note\">Only the counter page "
              "(/count) counts a visit; this page just shows the number.</p>");
}

/* Per-user revocation: every session of this user, on every device; and
 * the page that lists them, to end them one by one. */
static void everywhere_form(strbuf *sb, const char *xsrf) {
  sb_puts(sb, "<p class=\"everywhere\"><a href=\"/sessions\" "
              "id=\"sessions-link\">Your sessions</a><span class=\"muted\">"
              " — see where you are signed in, and sign a device out"
              "</span></p>");
  sb_puts(sb, "<form class=\"everywhere\" method=\"post\" "
              "action=\"/logout-everywhere\">");
  xsrf_field(sb, xsrf);
  sb_puts(sb, "<button type=\"submit\" class=\"link\">Log out everywhere"
              "</button><span class=\"muted\"> — ends this user's "
              "sessions on every device</span></form>");
}

void page_home(strbuf *sb, const char *name, size_t name_len, int64_t count,
               const char *xsrf, bool everywhere) {
  begin(sb, "Home");
  sb_puts(sb, "<h1 id=\"greeting\">What's up, ");
  sb_html(sb, name, name_len);
  sb_puts(sb, "?</h1><p class=\"muted\">You are signed in. Your session "
              "lives on the server; the cookie only names it.</p>");
  home_count(sb, count);
  sb_puts(sb, "<div class=\"actions\"><a href=\"/count\">Count a visit"
              "</a><form method=\"post\" action=\"/logout\">");
  xsrf_field(sb, xsrf);
  sb_puts(sb, "<button type=\"submit\" class=\"quiet\">Log out</button>"
              "</form></div>");
  if (everywhere)
    everywhere_form(sb, xsrf);
  end(sb);
}

/* `text` HTML-escaped between two pieces of markup; nothing when it is
 * NULL. */
static void escaped(strbuf *sb, const char *before, const char *text,
                    const char *after) {
  if (!text)
    return;
  sb_puts(sb, before);
  sb_html(sb, text, strlen(text));
  sb_puts(sb, after);
}

/* A notice above a page's content (what just happened), if any. */
static void notice_para(strbuf *sb, const char *notice) {
  escaped(sb, "<p class=\"notice\" id=\"notice\" role=\"status\">", notice,
          "</p>");
}

void page_login(strbuf *sb, const char *xsrf, const char *notice,
                const char *error) {
  begin(sb, "Sign in");
  sb_puts(sb, "<h1>Sign in</h1>");
  notice_para(sb, notice);
  escaped(sb, "<p class=\"error\" id=\"error\" role=\"alert\">", error, "</p>");
  sb_puts(sb, "<p class=\"muted\">Any name will do: it is kept in your "
              "server-side session.</p>"
              "<form method=\"post\" action=\"/login\">"
              "<label for=\"name\">Your name</label>"
              "<input id=\"name\" name=\"name\" type=\"text\" "
              "maxlength=\"256\" required autofocus autocomplete=\"off\">");
  xsrf_field(sb, xsrf);
  sb_puts(sb, "<button type=\"submit\">Sign in</button></form>");
  end(sb);
}

void page_count(strbuf *sb, int64_t count, int signed_in) {
  begin(sb, "Counter");
  sb_puts(sb, "<h1>Counter</h1>");
  sb_printf(sb, "<p class=\"count\" id=\"count\">%" PRId64 "</p>", count);
  sb_puts(sb, "<p class=\"muted\">Kept in your session; concurrent requests "
              "never lose a count.</p><nav>"
              "<a href=\"/count\">Count again</a>");
  sb_puts(sb, signed_in ? "<a href=\"/\">Home</a>"
                        : "<a href=\"/login\">Sign in</a>");
  sb_puts(sb, "</nav>");
  end(sb);
}

void page_error(strbuf *sb, unsigned status, const char *title,
                const char *message) {
  begin(sb, title);
  sb_printf(sb, "<h1>%u · ", status);
  sb_html(sb, title, strlen(title));
  sb_puts(sb, "</h1><p class=\"muted\">");
  sb_html(sb, message, strlen(message));
  sb_puts(sb, "</p><nav><a href=\"/\">Home</a></nav>");
  end(sb);
}

/* ---- Your sessions ---- */

/* Unix seconds as "2026-12-03 14:05 UTC": one clock for every reader. */
static void utc_time(strbuf *sb, int64_t t) {
  time_t tt = (time_t)t;
  struct tm tm;
  char text[32];
  if (t <= 0 || !gmtime_r(&tt, &tm) ||
      strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &tm) == 0) {
    sb_puts(sb, "unknown");
    return;
  }
  sb_puts(sb, text);
}

/* One hidden field and a button: an action on this page's sessions. */
static void session_form(strbuf *sb, const char *action, const char *xsrf,
                         const char *handle, const char *button) {
  sb_puts(sb, "<form method=\"post\" action=\"");
  sb_puts(sb, action);
  sb_puts(sb, "\">");
  xsrf_field(sb, xsrf);
  escaped(sb, "<input type=\"hidden\" name=\"handle\" value=\"", handle, "\">");
  sb_puts(sb, "<button type=\"submit\" class=\"quiet\">");
  sb_puts(sb, button);
  sb_puts(sb, "</button></form>");
}

/* The device (a short name; the whole User-Agent below it) and where it
 * signed in from: labels 0 and 1, as POST /login gives them. */
static void session_about(strbuf *sb, const mcs_user_session *e, bool here) {
  char device[DEVICE_NAME_SIZE];
  const char *label = e->label_count > 0 ? e->labels[0] : "";
  device_name(label[0] ? label : "Unknown device", device);
  escaped(sb, "<div class=\"about\"><strong class=\"device\">", device,
          "</strong>");
  if (here)
    sb_puts(sb, "<span class=\"this-device\" id=\"this-device\">This "
                "device</span>");
  sb_puts(sb, "<div class=\"muted small\">");
  if (e->label_count > 1 && e->labels[1][0])
    escaped(sb, "from <span class=\"address\">", e->labels[1], "</span> · ");
  sb_puts(sb, "signed in <span class=\"created\">");
  utc_time(sb, e->created);
  sb_puts(sb, "</span> · last seen <span class=\"last-seen\">");
  utc_time(sb, e->last_seen);
  sb_puts(sb, "</span></div>");
  if (label[0])
    escaped(sb, "<div class=\"muted small agent\">", label, "</div>");
  sb_puts(sb, "</div>");
}

static void session_row(strbuf *sb, const sessions_view *v,
                        const mcs_user_session *e) {
  bool here = strcmp(e->handle, v->this_handle) == 0;
  escaped(sb, "<li class=\"session\" data-handle=\"", e->handle,
          here ? "\" aria-current=\"true\">" : "\">");
  session_about(sb, e, here);
  if (!here)
    session_form(sb, "/sessions/end", v->xsrf, e->handle, "End");
  sb_puts(sb, "</li>");
}

void page_sessions(strbuf *sb, const sessions_view *v) {
  begin(sb, "Your sessions");
  sb_puts(sb, "<h1>Your sessions</h1>");
  notice_para(sb, v->notice);
  sb_puts(sb, "<p class=\"muted\">Where <strong>");
  sb_html(sb, v->name, v->name_len);
  sb_puts(sb, "</strong> is signed in. Ending a session signs that device "
              "out: its next visit finds no session.</p>"
              "<ul class=\"sessions\" id=\"sessions\">");
  size_t others = 0;
  for (size_t i = 0; i < v->count; i++) {
    session_row(sb, v, &v->list[i]);
    others += strcmp(v->list[i].handle, v->this_handle) != 0;
  }
  sb_puts(sb, "</ul>");
  if (others > 0)
    session_form(sb, "/sessions/end-others", v->xsrf, NULL,
                 "Log out everywhere else");
  else
    sb_puts(sb, "<p id=\"only-this\">No other device is signed in.</p>");
  sb_puts(sb, "<p class=\"muted small\">Times are UTC. \"Last seen\" is "
              "noted every few minutes, not on every visit.</p>"
              "<nav><a href=\"/\">Home</a></nav>");
  end(sb);
}
