/*
 * ngx_http_mcsession_module: mcsession sessions checked at the edge.
 *
 * In the access phase of a location with `mcsession on`, the request's
 * Cookie header goes to the library (mcs_session_load_start): one
 * memcached read that also slides the session's idle expiry. The request
 * is parked meanwhile (ngx_http_mcsession_loop.c) and nginx goes on
 * serving others. What the load found becomes $mcsession_user and
 * $mcsession_outcome; with `mcsession_require_user on` a request without
 * a user is answered 401, or 302 to `mcsession_login_url` with the
 * original URI in next=. A store that fails or times out answers 503,
 * never "no user" (mcsession/base.h, mcs_http_status_for_error).
 *
 * nginx never writes a session: no cookie is set, no record changed
 * beyond the read's slide. docs/nginx.md is the user's guide.
 */
#include "ngx_http_mcsession.h"


static ngx_int_t ngx_http_mcsession_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_mcsession_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_mcsession_init_process(ngx_cycle_t *cycle);
static void ngx_http_mcsession_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_mcsession_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mcsession_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_module_t  ngx_http_mcsession_module_ctx = {
    ngx_http_mcsession_preconfiguration,   /* preconfiguration */
    ngx_http_mcsession_postconfiguration,  /* postconfiguration */

    ngx_http_mcsession_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_mcsession_create_srv_conf,    /* create server configuration */
    ngx_http_mcsession_merge_srv_conf,     /* merge server configuration */

    ngx_http_mcsession_create_loc_conf,    /* create location configuration */
    ngx_http_mcsession_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_mcsession_module = {
    NGX_MODULE_V1,
    &ngx_http_mcsession_module_ctx,        /* module context */
    ngx_http_mcsession_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_mcsession_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_mcsession_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_mcsession_vars[] = {

    { ngx_string("mcsession_user"), NULL,
      ngx_http_mcsession_user_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mcsession_outcome"), NULL,
      ngx_http_mcsession_outcome_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* $mcsession_outcome, by mcs_outcome. */
static ngx_str_t  ngx_http_mcsession_outcomes[] = {
    ngx_string("new"),
    ngx_string("loaded"),
    ngx_string("expired"),
    ngx_string("forged"),
    ngx_string("retired")
};


/* A store error is logged once per burst: the first of a burst (errors
 * less than QUIET_S apart), then at most one line per REPEAT_S while it
 * lasts, saying how many requests got 503 since. Per store, per worker. */
#define NGX_HTTP_MCSESSION_QUIET_S   10
#define NGX_HTTP_MCSESSION_REPEAT_S  60


static void
ngx_http_mcsession_store_failed(ngx_http_request_t *r,
    ngx_http_mcsession_store_t *st, int rc)
{
    time_t      now;
    ngx_uint_t  in_burst;

    now = ngx_time();
    in_burst = st->err_last
               && now - st->err_last < NGX_HTTP_MCSESSION_QUIET_S;
    st->err_last = now;

    if (in_burst && now - st->err_logged < NGX_HTTP_MCSESSION_REPEAT_S) {
        st->err_count++;
        return;
    }

    if (in_burst) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mcsession: the session store \"%V\" still fails "
                      "(%s): %ui more requests got 503 in the last %T s",
                      &st->url, mcs_strerror(rc), st->err_count,
                      now - st->err_logged);
    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "mcsession: the session store \"%V\" failed (%s): "
                      "gated requests get 503 until it answers again; "
                      "further failures of this burst are counted, not "
                      "logged", &st->url, mcs_strerror(rc));
    }

    st->err_logged = now;
    st->err_count = 0;
}


void
ngx_http_mcsession_take(ngx_http_request_t *r, ngx_http_mcsession_ctx_t *ctx,
    ngx_http_mcsession_loc_conf_t *lcf, int rc, mcs_session *s)
{
    size_t       len;
    const char  *user;

    ctx->done = 1;
    ctx->rc = rc;
    ngx_str_null(&ctx->user);

    if (rc != MCS_OK) {
        mcs_session_free(s);
        return;
    }

    ctx->outcome = mcs_session_outcome(s);
    user = NULL;
    len = 0;

    /* A retired snapshot (the old id of a regenerated session) has no
     * user in either mode: in tornado mode its data still names one. */
    if (ctx->outcome == MCS_SESSION_LOADED) {
        if (lcf->mode == MCS_MODE_TORNADO) {
            if (mcs_session_get_str(s, (const char *) lcf->user_key.data,
                                    &user, &len) != MCS_OK)
            {
                user = NULL;
            }

        } else {
            user = mcs_session_user(s);
            len = user ? ngx_strlen(user) : 0;
        }
    }

    /* The user goes into headers ($mcsession_user in proxy_set_header):
     * the edge's rule (mcs_user_header_safe), the gate's too. Native
     * mode's users are valid ids already; a Tornado application may have
     * stored anything. */
    if (user && mcs_user_header_safe(user, len)) {
        ctx->user.data = ngx_pnalloc(r->pool, len);
        if (ctx->user.data == NULL) {
            ctx->rc = MCS_ENOMEM;
        } else {
            ngx_memcpy(ctx->user.data, user, len);
            ctx->user.len = len;
        }

    } else if (user) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mcsession: the session's user is not fit for a "
                      "header (control bytes, a space at either end, or "
                      "over %d bytes): no user",
                      MCS_USER_HEADER_MAX);
    }

    mcs_session_free(s);
}


/* ---- The request's context ---------------------------------------------- */

static ngx_http_mcsession_ctx_t *
ngx_http_mcsession_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_mcsession_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mcsession_module);

    /* An internal redirect clears the modules' contexts; the pool's
     * cleanup keeps ours, so the request does not load twice. */
    if (ctx == NULL && (r->internal || r->filter_finalize)) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_mcsession_ctx_cleanup) {
                ctx = cln->data;
                ngx_http_set_ctx(r, ctx, ngx_http_mcsession_module);
                break;
            }
        }
    }

    return ctx;
}


static ngx_http_mcsession_ctx_t *
ngx_http_mcsession_new_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_mcsession_ctx_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_mcsession_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_mcsession_ctx_t));
    ctx->request = r;

    cln->handler = ngx_http_mcsession_ctx_cleanup;
    ngx_http_set_ctx(r, ctx, ngx_http_mcsession_module);

    return ctx;
}


/* The Cookie header as one string: the library wants one header, and a
 * client may send several (each Cookie line is a list of pairs, so "; "
 * joins them). nginx bounds the header lines themselves
 * (large_client_header_buffers); the library refuses more than its limit
 * (431). */
static ngx_int_t
ngx_http_mcsession_cookie(ngx_http_request_t *r, ngx_str_t *out)
{
    u_char            *p;
    size_t             len;
    ngx_uint_t         i, n;
    ngx_table_elt_t  **h;

    h = r->headers_in.cookies.elts;
    n = r->headers_in.cookies.nelts;

    if (n == 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    if (n == 1) {
        *out = h[0]->value;
        return NGX_OK;
    }

    len = 0;
    for (i = 0; i < n; i++) {
        len += h[i]->value.len + 2;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ';';
            *p++ = ' ';
        }
        p = ngx_cpymem(p, h[i]->value.data, h[i]->value.len);
    }
    out->len = p - out->data;

    return NGX_OK;
}


/* ---- The answer ---------------------------------------------------------- */

/* Every byte but RFC 3986's unreserved ones as %XX: the URI goes into one
 * query parameter. */
static u_char *
ngx_http_mcsession_escape(u_char *dst, const u_char *src, size_t len)
{
    static const u_char  hex[] = "0123456789ABCDEF";

    u_char  ch;

    while (len--) {
        ch = *src++;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9')
            || ch == '-' || ch == '.' || ch == '_' || ch == '~')
        {
            *dst++ = ch;
        } else {
            *dst++ = '%';
            *dst++ = hex[ch >> 4];
            *dst++ = hex[ch & 0xf];
        }
    }

    return dst;
}


static ngx_int_t
ngx_http_mcsession_to_login(ngx_http_request_t *r,
    ngx_http_mcsession_loc_conf_t *lcf)
{
    u_char           *p;
    size_t            len;
    ngx_str_t        *uri;
    ngx_table_elt_t  *h;

    /* The URI the client asked for, before any rewrite or internal
     * redirect. */
    uri = &r->main->unparsed_uri;

    len = lcf->login_url.len + sizeof("?next=") - 1 + 3 * uri->len;
    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Location");
    h->value.data = p;

    p = ngx_cpymem(p, lcf->login_url.data, lcf->login_url.len);
    p = ngx_cpymem(p, ngx_strlchr(lcf->login_url.data,
                                  lcf->login_url.data + lcf->login_url.len,
                                  '?')
                      ? "&next=" : "?next=",
                   sizeof("?next=") - 1);
    p = ngx_http_mcsession_escape(p, uri->data, uri->len);
    h->value.len = p - h->value.data;

    ngx_http_clear_location(r);
    r->headers_out.location = h;

    return NGX_HTTP_MOVED_TEMPORARILY;
}


static ngx_int_t
ngx_http_mcsession_decide(ngx_http_request_t *r,
    ngx_http_mcsession_ctx_t *ctx, ngx_http_mcsession_loc_conf_t *lcf)
{
    ngx_uint_t  status;

    if (ctx->rc != MCS_OK) {
        status = mcs_http_status_for_error(ctx->rc);

        if (status == NGX_HTTP_SERVICE_UNAVAILABLE
            && ctx->rc != MCS_ENOMEM && ctx->rc != MCS_ECONFLICT)
        {
            ngx_http_mcsession_store_failed(r, lcf->store, ctx->rc);

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mcsession: the session cannot be loaded: %s",
                          mcs_strerror(ctx->rc));
        }

        return status;
    }

    if (!lcf->require_user) {
        return NGX_DECLINED;
    }

    if (ctx->user.len) {
        return NGX_OK;
    }

    if (lcf->login_url.len) {
        return ngx_http_mcsession_to_login(r, lcf);
    }

    return NGX_HTTP_UNAUTHORIZED;
}


static ngx_int_t
ngx_http_mcsession_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       cookie;
    ngx_http_mcsession_ctx_t       *ctx;
    ngx_http_mcsession_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_mcsession_module);

    if (!lcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_mcsession_get_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_http_mcsession_new_ctx(r);
        if (ctx == NULL
            || ngx_http_mcsession_cookie(r, &cookie) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_mcsession_load(r, ctx, lcf, cookie.data, cookie.len);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

    } else if (!ctx->done) {
        return NGX_AGAIN;  /* run again while parked: still waiting */
    }

    return ngx_http_mcsession_decide(r, ctx, lcf);
}


/* ---- Variables ----------------------------------------------------------- */

static ngx_int_t
ngx_http_mcsession_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mcsession_ctx_t  *ctx;

    ctx = ngx_http_mcsession_get_ctx(r);

    if (ctx == NULL || !ctx->done || ctx->user.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->user.data;
    v->len = ctx->user.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mcsession_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_mcsession_ctx_t  *ctx;

    ctx = ngx_http_mcsession_get_ctx(r);

    /* Empty where no session was loaded: an ungated location, or a store
     * error (the status says which). */
    if (ctx == NULL || !ctx->done || ctx->rc != MCS_OK
        || (ngx_uint_t) ctx->outcome >= sizeof(ngx_http_mcsession_outcomes)
                                        / sizeof(ngx_str_t))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ngx_http_mcsession_outcomes[ctx->outcome].data;
    v->len = ngx_http_mcsession_outcomes[ctx->outcome].len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* ---- Module hooks --------------------------------------------------------- */

static ngx_int_t
ngx_http_mcsession_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_mcsession_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mcsession_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_mcsession_main_conf_t  *mcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mcsession_handler;

    /* Every manager is made (the merge ran before this): the key rings
     * live in the managers, the files' bytes need not. */
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mcsession_module);
    ngx_http_mcsession_wipe_secrets(mcf);

    return NGX_OK;
}


static ngx_int_t
ngx_http_mcsession_init_process(ngx_cycle_t *cycle)
{
    return ngx_http_mcsession_init_worker(cycle);
}


static void
ngx_http_mcsession_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_mcsession_exit_worker(cycle);
}
