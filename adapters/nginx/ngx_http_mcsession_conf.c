/*
 * ngx_http_mcsession_module: the configuration. Everything that can be
 * wrong with a configuration is found here, while nginx reads it (so
 * nginx -t reports it, naming the directive): secrets are read and
 * checked, store URLs parsed and their stores made, and each server's
 * session manager made when a location first turns mcsession on. The
 * workers inherit all of it through fork and share nothing but the
 * store itself; a reload reads everything again (a new key ring is a new
 * manager), and the old cycle's pool cleanup frees the old.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "ngx_http_mcsession.h"


static char *ngx_http_mcsession_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mcsession_secret_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mcsession_tornado_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mcsession_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mcsession_user_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mcsession_cookie_name(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mcsession_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mcsession_login_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mcsession_check_timeout(ngx_conf_t *cf, void *post,
    void *data);
static void ngx_http_mcsession_cleanup(void *data);


static ngx_conf_enum_t  ngx_http_mcsession_modes[] = {
    { ngx_string("native"), MCS_MODE_NATIVE },
    { ngx_string("tornado"), MCS_MODE_TORNADO },
    { ngx_null_string, 0 }
};

/* memcached reads a relative expiry over 30 days as a Unix time. */
#define NGX_HTTP_MCSESSION_TIMEOUT_MAX  (30 * 86400)

static ngx_conf_post_handler_pt  ngx_http_mcsession_timeout_post =
    ngx_http_mcsession_check_timeout;


ngx_command_t  ngx_http_mcsession_commands[] = {

    { ngx_string("mcsession_store"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_store,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcsession_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_mcsession_secret_file,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcsession_mode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_mode,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mcsession_srv_conf_t, mode),
      &ngx_http_mcsession_modes },

    { ngx_string("mcsession_cookie_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_tornado_secret,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mcsession_srv_conf_t, cookie_secret),
      NULL },

    { ngx_string("mcsession_session_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_tornado_secret,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mcsession_srv_conf_t, session_secret),
      NULL },

    { ngx_string("mcsession_user_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_user_key,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcsession_cookie_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_cookie_name,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcsession_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mcsession_srv_conf_t, idle_timeout),
      &ngx_http_mcsession_timeout_post },

    { ngx_string("mcsession_absolute_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mcsession_srv_conf_t, absolute_timeout),
      &ngx_http_mcsession_timeout_post },

    { ngx_string("mcsession_revocation_check_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mcsession_srv_conf_t, revocation_interval),
      &ngx_http_mcsession_timeout_post },

    { ngx_string("mcsession"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_mcsession_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mcsession_loc_conf_t, enable),
      NULL },

    { ngx_string("mcsession_require_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mcsession_loc_conf_t, require_user),
      NULL },

    { ngx_string("mcsession_login_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mcsession_login_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


/* ---- The library's messages ------------------------------------------- */

/* While a manager is being made (configuration time, the master's only
 * thread), the library's reason for refusing it lands here, so nginx -t
 * can say it; otherwise messages go to the running cycle's log. */
static u_char  *ngx_http_mcsession_capture;
static size_t   ngx_http_mcsession_capture_size;

/* The library reports every failed store operation as it happens; an
 * outage would write one line per request. The same text again within a
 * minute is counted instead, and the next line says how many were left
 * out (the module logs its own 503s once per burst, with the request).
 * Messages may come from a loop's helper thread, hence the mutex. */
#define NGX_HTTP_MCSESSION_REPEAT_S  60

static pthread_mutex_t  ngx_http_mcsession_log_lock =
    PTHREAD_MUTEX_INITIALIZER;
static u_char           ngx_http_mcsession_last[256];
static time_t           ngx_http_mcsession_last_time;
static ngx_uint_t       ngx_http_mcsession_repeats;


void
ngx_http_mcsession_library_log(void *ud, mcs_log_level level,
    const char *message)
{
    size_t       len;
    time_t       now;
    ngx_uint_t   nlevel, repeats;

    (void) ud;

    len = ngx_strlen(message);

    if (ngx_http_mcsession_capture) {
        ngx_cpystrn(ngx_http_mcsession_capture, (u_char *) message,
                    ngx_http_mcsession_capture_size);
        return;
    }

    switch (level) {
    case MCS_LOG_ERROR:
        nlevel = NGX_LOG_ERR;
        break;
    case MCS_LOG_WARN:
        nlevel = NGX_LOG_WARN;
        break;
    case MCS_LOG_INFO:
        nlevel = NGX_LOG_INFO;
        break;
    default:
        nlevel = NGX_LOG_DEBUG;
        break;
    }

    if (ngx_cycle->log->log_level < nlevel) {
        return;
    }

    now = time(NULL);
    len = ngx_min(len, sizeof(ngx_http_mcsession_last) - 1);

    pthread_mutex_lock(&ngx_http_mcsession_log_lock);

    if (now - ngx_http_mcsession_last_time < NGX_HTTP_MCSESSION_REPEAT_S
        && ngx_strncmp(ngx_http_mcsession_last, message, len) == 0
        && ngx_http_mcsession_last[len] == '\0')
    {
        ngx_http_mcsession_repeats++;
        pthread_mutex_unlock(&ngx_http_mcsession_log_lock);
        return;
    }

    repeats = ngx_http_mcsession_repeats;
    ngx_http_mcsession_repeats = 0;
    ngx_http_mcsession_last_time = now;
    ngx_memcpy(ngx_http_mcsession_last, message, len);
    ngx_http_mcsession_last[len] = '\0';

    pthread_mutex_unlock(&ngx_http_mcsession_log_lock);

    if (repeats) {
        ngx_log_error(nlevel, ngx_cycle->log, 0,
                      "%*s (the previous message %ui more times)",
                      len, message, repeats);
    } else {
        ngx_log_error(nlevel, ngx_cycle->log, 0, "%*s", len, message);
    }
}


/* ---- Configuration structures ------------------------------------------ */

void *
ngx_http_mcsession_create_main_conf(ngx_conf_t *cf)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_mcsession_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mcsession_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->stores, cf->pool, 1,
                       sizeof(ngx_http_mcsession_store_t *)) != NGX_OK
        || ngx_array_init(&mcf->managers, cf->pool, 1,
                          sizeof(mcs_manager *)) != NGX_OK
        || ngx_array_init(&mcf->secrets, cf->pool, 2,
                          sizeof(ngx_str_t)) != NGX_OK)
    {
        return NULL;
    }

    /* Frees the managers, then the stores they borrow, when the cycle
     * that read this configuration ends (in the master after a reload, in
     * nginx -t, in a worker at exit). */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_mcsession_cleanup;
    cln->data = mcf;

    return mcf;
}


static void
ngx_http_mcsession_cleanup(void *data)
{
    ngx_http_mcsession_main_conf_t *mcf = data;

    ngx_uint_t                   i;
    mcs_manager                **mgr;
    ngx_http_mcsession_store_t **st;

    mgr = mcf->managers.elts;
    for (i = 0; i < mcf->managers.nelts; i++) {
        mcs_manager_free(mgr[i]);
    }
    mcf->managers.nelts = 0;

    st = mcf->stores.elts;
    for (i = 0; i < mcf->stores.nelts; i++) {
        /* A worker frees its loop in exit_process, before this. */
        mcs_store_free(st[i]->store);
        st[i]->store = NULL;
    }
    mcf->stores.nelts = 0;

    ngx_http_mcsession_wipe_secrets(mcf);
}


void
ngx_http_mcsession_wipe_secrets(ngx_http_mcsession_main_conf_t *mcf)
{
    ngx_uint_t   i;
    ngx_str_t   *s;

    s = mcf->secrets.elts;
    for (i = 0; i < mcf->secrets.nelts; i++) {
        ngx_explicit_memzero(s[i].data, s[i].len);
    }
    mcf->secrets.nelts = 0;
}


void *
ngx_http_mcsession_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_mcsession_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mcsession_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /* ngx_pcalloc: store, keys, the secrets, user_key, cookie_name, own,
     * parent and mgr are NULL or empty. */
    conf->mode = NGX_CONF_UNSET_UINT;
    conf->idle_timeout = NGX_CONF_UNSET;
    conf->absolute_timeout = NGX_CONF_UNSET;
    conf->revocation_interval = NGX_CONF_UNSET;

    return conf;
}


char *
ngx_http_mcsession_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mcsession_srv_conf_t *prev = parent;
    ngx_http_mcsession_srv_conf_t *conf = child;

    conf->own = conf->store || conf->keys
                || conf->mode != NGX_CONF_UNSET_UINT
                || conf->cookie_secret.data || conf->session_secret.data
                || conf->user_key.data || conf->cookie_name.data
                || conf->idle_timeout != NGX_CONF_UNSET
                || conf->absolute_timeout != NGX_CONF_UNSET
                || conf->revocation_interval != NGX_CONF_UNSET;
    conf->parent = prev;

    if (conf->store == NULL) {
        conf->store = prev->store;
    }

    if (conf->keys == NULL) {
        conf->keys = prev->keys;
    }

    ngx_conf_merge_uint_value(conf->mode, prev->mode, MCS_MODE_NATIVE);
    ngx_conf_merge_str_value(conf->cookie_secret, prev->cookie_secret, "");
    ngx_conf_merge_str_value(conf->session_secret, prev->session_secret,
                             "");
    /* The recipe's demo application keeps its user under "user_name". */
    ngx_conf_merge_str_value(conf->user_key, prev->user_key, "user_name");
    ngx_conf_merge_str_value(conf->cookie_name, prev->cookie_name, "");
    ngx_conf_merge_sec_value(conf->idle_timeout, prev->idle_timeout, 1800);
    ngx_conf_merge_sec_value(conf->absolute_timeout, prev->absolute_timeout,
                             86400);
    ngx_conf_merge_sec_value(conf->revocation_interval,
                             prev->revocation_interval, 5);

    if (conf->idle_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mcsession_idle_timeout\" must be at least 1s");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


void *
ngx_http_mcsession_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mcsession_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mcsession_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->require_user = NGX_CONF_UNSET;

    return conf;
}


/* ---- Managers ----------------------------------------------------------- */

static char *
ngx_http_mcsession_needs(ngx_conf_t *cf, ngx_http_mcsession_loc_conf_t *conf,
    const char *what)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"mcsession on\" in %V:%ui needs %s",
                       &conf->enable_file, conf->enable_line, what);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_mcsession_make_manager(ngx_conf_t *cf,
    ngx_http_mcsession_loc_conf_t *lcf, ngx_http_mcsession_srv_conf_t *scf,
    mcs_manager **out)
{
    int                              rc;
    u_char                           why[256];
    ngx_uint_t                       i;
    mcs_keyring                     *ring;
    mcs_manager                    **slot;
    mcs_manager_config               mc;
    ngx_http_mcsession_key_t        *key;
    ngx_http_mcsession_main_conf_t  *mcf;

    if (scf->store == NULL) {
        return ngx_http_mcsession_needs(cf, lcf, "\"mcsession_store\"");
    }

    mcs_manager_config_init(&mc);
    mc.mode = (mcs_mode) scf->mode;
    mc.store = scf->store->store;
    mc.idle_timeout = (uint32_t) scf->idle_timeout;
    mc.revocation_check_interval = (uint32_t) scf->revocation_interval;
    mc.log = ngx_http_mcsession_library_log;

    rc = mcs_keyring_new(&ring);
    if (rc != MCS_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mcsession: cannot make a key ring: %s",
                           mcs_strerror(rc));
        return NGX_CONF_ERROR;
    }

    if (scf->mode == MCS_MODE_TORNADO) {
        if (scf->cookie_secret.len == 0 || scf->session_secret.len == 0) {
            mcs_keyring_free(ring);
            return ngx_http_mcsession_needs(cf, lcf,
                       "\"mcsession_cookie_secret_file\" and "
                       "\"mcsession_session_secret_file\" in tornado mode");
        }

        /* The application's cookie_secret signs both cookies. */
        rc = mcs_keyring_add(ring, 0, scf->cookie_secret.data,
                             scf->cookie_secret.len);
        mc.session_secret = scf->session_secret.data;
        mc.session_secret_len = scf->session_secret.len;

    } else {
        if (scf->keys == NULL) {
            mcs_keyring_free(ring);
            return ngx_http_mcsession_needs(cf, lcf,
                       "\"mcsession_secret_file\" in native mode");
        }

        key = scf->keys->elts;
        rc = MCS_OK;
        for (i = 0; rc == MCS_OK && i < scf->keys->nelts; i++) {
            rc = mcs_keyring_add(ring, (unsigned) key[i].version,
                                 key[i].secret.data, key[i].secret.len);
        }

        mc.absolute_timeout = (uint32_t) scf->absolute_timeout;
        if (scf->cookie_name.len) {
            mc.cookie_name = (const char *) scf->cookie_name.data;
        }
    }

    if (rc != MCS_OK) {
        mcs_keyring_free(ring);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mcsession: cannot make a key ring: %s",
                           mcs_strerror(rc));
        return NGX_CONF_ERROR;
    }

    mc.keys = ring;

    why[0] = '\0';
    ngx_http_mcsession_capture = why;
    ngx_http_mcsession_capture_size = sizeof(why);
    rc = mcs_manager_new(out, &mc);
    ngx_http_mcsession_capture = NULL;
    mcs_keyring_free(ring);  /* the manager has its own copy */

    if (rc != MCS_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "mcsession: the settings of \"mcsession on\" in "
                           "%V:%ui are refused: %s%s%s",
                           &lcf->enable_file, lcf->enable_line,
                           mcs_strerror(rc), why[0] ? ": " : "", why);
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mcsession_module);
    slot = ngx_array_push(&mcf->managers);
    if (slot == NULL) {
        mcs_manager_free(*out);
        *out = NULL;
        return NGX_CONF_ERROR;
    }
    *slot = *out;

    return NGX_CONF_OK;
}


char *
ngx_http_mcsession_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mcsession_loc_conf_t *prev = parent;
    ngx_http_mcsession_loc_conf_t *conf = child;

    char                           *rv;
    ngx_http_mcsession_srv_conf_t  *scf, *owner;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->require_user, prev->require_user, 0);
    ngx_conf_merge_str_value(conf->login_url, prev->login_url, "");

    if (conf->enable_file.data == NULL) {
        conf->enable_file = prev->enable_file;
        conf->enable_line = prev->enable_line;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    /* During the merge, cf->ctx holds the server being merged. */
    scf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_mcsession_module);

    /* A server that set nothing of its own shares http{}'s manager (its
     * merged settings are http{}'s), so forty servers do not make forty
     * sets of caches. */
    owner = scf->own || scf->parent == NULL ? scf : scf->parent;

    if (owner->mgr == NULL) {
        rv = ngx_http_mcsession_make_manager(cf, conf, scf, &owner->mgr);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    conf->mgr = owner->mgr;
    conf->store = scf->store;
    conf->mode = (mcs_mode) scf->mode;
    conf->user_key = scf->user_key;

    return NGX_CONF_OK;
}


/* ---- Directives --------------------------------------------------------- */

static char *
ngx_http_mcsession_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mcsession_srv_conf_t *scf = conf;

    int                              rc;
    char                             why[256];
    ngx_str_t                       *value;
    ngx_uint_t                       i;
    mcs_memcached_config             mc;
    ngx_http_mcsession_store_t      *st, **slot;
    ngx_http_mcsession_main_conf_t  *mcf;

    if (scf->store) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "memory") == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the memory store is refused: each nginx "
                           "worker would keep sessions of its own; use "
                           "memcached://HOST:PORT", &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* Arguments are NUL-terminated; the library reads at most
     * MCS_MEMCACHED_URL_MAX bytes of one. */
    if (value[1].len > MCS_MEMCACHED_URL_MAX
        || ngx_strlen(value[1].data) != value[1].len
        || mcs_memcached_url_parse((const char *) value[1].data, &mc, why,
                                   sizeof(why)) != MCS_OK)
    {
        if (value[1].len > MCS_MEMCACHED_URL_MAX
            || ngx_strlen(value[1].data) != value[1].len)
        {
            ngx_cpystrn((u_char *) why, (u_char *) "too long, or a NUL byte",
                        sizeof(why));
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": bad URL \"%V\": %s", &cmd->name,
                           &value[1], why);
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mcsession_module);

    /* One store (one pool of connections, one loop per worker) per URL,
     * however many servers name it. */
    slot = mcf->stores.elts;
    for (i = 0; i < mcf->stores.nelts; i++) {
        if (slot[i]->url.len == value[1].len
            && ngx_strncmp(slot[i]->url.data, value[1].data, value[1].len)
               == 0)
        {
            scf->store = slot[i];
            return NGX_CONF_OK;
        }
    }

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_mcsession_store_t));
    slot = ngx_array_push(&mcf->stores);
    if (st == NULL || slot == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = mcs_store_memcached_new_config(&st->store, &mc);
    if (rc != MCS_OK) {
        mcf->stores.nelts--;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": cannot make the store \"%V\": %s",
                           &cmd->name, &value[1], mcs_strerror(rc));
        return NGX_CONF_ERROR;
    }

    st->url = value[1];
    *slot = st;
    scf->store = st;

    return NGX_CONF_OK;
}


/* Reads a secret file: at most MCS_SECRET_MAX_BYTES (one trailing newline,
 * as `mcsession keygen` and editors write, is not part of it), at least
 * min. The buffer is registered to be wiped when the configuration's work
 * is done. */
static char *
ngx_http_mcsession_read_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *path, size_t min, ngx_str_t *out)
{
    u_char                          *buf, mode[5];
    ssize_t                          n;
    ngx_fd_t                         fd;
    ngx_str_t                        name, *slot;
    ngx_file_info_t                  fi;
    ngx_http_mcsession_main_conf_t  *mcf;

    name = *path;
    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": cannot open the secret file \"%V\"",
                           &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    /* Readable by group or others: said once, still used (as the demo and
     * the tool do). nginx's formats have no octal: the mode's four digits
     * are written here. */
    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR && ngx_is_file(&fi)
        && (fi.st_mode & 077))
    {
        mode[0] = (u_char) ('0' + ((fi.st_mode >> 9) & 7));
        mode[1] = (u_char) ('0' + ((fi.st_mode >> 6) & 7));
        mode[2] = (u_char) ('0' + ((fi.st_mode >> 3) & 7));
        mode[3] = (u_char) ('0' + (fi.st_mode & 7));
        mode[4] = '\0';
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\": the secret file \"%V\" is open to group "
                           "or others (mode %s); fix: chmod 600 \"%V\"",
                           &cmd->name, &name, mode, &name);
    }

    /* Two bytes more than a secret may hold, so an oversized file shows. */
    buf = ngx_pnalloc(cf->pool, MCS_SECRET_MAX_BYTES + 2);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = read(fd, buf, MCS_SECRET_MAX_BYTES + 2);
    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": cannot read the secret file \"%V\"",
                           &cmd->name, &name);
        ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }
    ngx_close_file(fd);

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mcsession_module);
    slot = ngx_array_push(&mcf->secrets);
    if (slot == NULL) {
        ngx_explicit_memzero(buf, MCS_SECRET_MAX_BYTES + 2);
        return NGX_CONF_ERROR;
    }

    /* The buffer, whole: the key's ngx_str_t may move with its array. */
    slot->data = buf;
    slot->len = MCS_SECRET_MAX_BYTES + 2;
    out->data = buf;

    if (n > 0 && buf[n - 1] == '\n') {
        n--;
    }

    if ((size_t) n < min || n > MCS_SECRET_MAX_BYTES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the secret file \"%V\" holds %z bytes; "
                           "it must hold %uz to %d%s", &cmd->name, &name, n,
                           min, MCS_SECRET_MAX_BYTES,
                           min > 1 ? " (make one with 'mcsession keygen')"
                                   : "");
        return NGX_CONF_ERROR;
    }

    out->len = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_mcsession_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mcsession_srv_conf_t *scf = conf;

    char                      *rv;
    ngx_int_t                  version;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_mcsession_key_t  *key;

    value = cf->args->elts;
    version = 0;

    /* mcsession_secret_file PATH [version=N]: one line per key of the
     * ring; the highest version signs, every version verifies. */
    if (cf->args->nelts == 3) {
        if (value[2].len <= 8
            || ngx_strncmp(value[2].data, "version=", 8) != 0
            || (version = ngx_atoi(value[2].data + 8, value[2].len - 8))
               == NGX_ERROR
            || version > MCS_KEY_VERSION_MAX)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": invalid parameter \"%V\" (want "
                               "version=0..%d)", &cmd->name, &value[2],
                               MCS_KEY_VERSION_MAX);
            return NGX_CONF_ERROR;
        }
    }

    if (scf->keys == NULL) {
        scf->keys = ngx_array_create(cf->pool, 1,
                                     sizeof(ngx_http_mcsession_key_t));
        if (scf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = scf->keys->elts;
    for (i = 0; i < scf->keys->nelts; i++) {
        if (key[i].version == (ngx_uint_t) version) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": key version %i is given twice",
                               &cmd->name, version);
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(scf->keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    key->version = version;
    ngx_str_null(&key->secret);

    rv = ngx_http_mcsession_read_secret(cf, cmd, &value[1],
                                        MCS_SECRET_MIN_BYTES, &key->secret);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mcsession_tornado_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t  *field, *value;

    field = (ngx_str_t *) ((char *) conf + cmd->offset);
    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* The cookie secret is an HMAC key and held to the library's minimum;
     * the recipe set no rule for its session_secret. */
    return ngx_http_mcsession_read_secret(cf, cmd, &value[1],
               cmd->offset == offsetof(ngx_http_mcsession_srv_conf_t,
                                       cookie_secret)
               ? MCS_SECRET_MIN_BYTES : 1,
               field);
}


/* ngx_conf_set_enum_slot, whose own message ("invalid value") names
 * neither the directive nor the values it takes. */
static char *
ngx_http_mcsession_mode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t        *value;
    ngx_uint_t       *field;
    ngx_conf_enum_t  *e;

    field = (ngx_uint_t *) ((char *) conf + cmd->offset);
    if (*field != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcasecmp(e->name.data, value[1].data) == 0)
        {
            *field = e->value;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": invalid mode \"%V\" (want native or "
                       "tornado)", &cmd->name, &value[1]);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_mcsession_user_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mcsession_srv_conf_t *scf = conf;

    ngx_str_t  *value;

    if (scf->user_key.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > MCS_KEY_MAX
        || ngx_strlen(value[1].data) != value[1].len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": a session key is 1 to %d bytes",
                           &cmd->name, MCS_KEY_MAX);
        return NGX_CONF_ERROR;
    }

    scf->user_key = value[1];  /* NUL-terminated, as every argument */

    return NGX_CONF_OK;
}


static char *
ngx_http_mcsession_cookie_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mcsession_srv_conf_t *scf = conf;

    u_char     *p;
    ngx_str_t  *value;

    if (scf->cookie_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* A cookie name is an RFC 6265 token: visible ASCII but separators. */
    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= 0x20 || *p >= 0x7f
            || ngx_strchr("()<>@,;:\\\"/[]?={}", *p) != NULL)
        {
            break;
        }
    }

    if (value[1].len == 0 || value[1].len > 256
        || p != value[1].data + value[1].len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": invalid cookie name \"%V\"", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    scf->cookie_name = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_mcsession_check_timeout(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *t = data;

    if (*t > NGX_HTTP_MCSESSION_TIMEOUT_MAX) {
        return "must be at most 30d (memcached's longest relative expiry)";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mcsession_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mcsession_loc_conf_t *lcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    lcf->enable_file = cf->conf_file->file.name;
    lcf->enable_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_http_mcsession_login_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mcsession_loc_conf_t *lcf = conf;

    u_char     *p;
    ngx_str_t  *value;

    if (lcf->login_url.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* A path on this site, or an absolute http(s) URL; it becomes a
     * Location header, so no byte that could end or split one. */
    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            break;
        }
    }

    if (p != value[1].data + value[1].len || value[1].len > 2048
        || !(value[1].data[0] == '/'
             || ngx_strncmp(value[1].data, "http://", 7) == 0
             || ngx_strncmp(value[1].data, "https://", 8) == 0)
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '#'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": bad URL \"%V\" (want /PATH or "
                           "http(s)://HOST/PATH, visible ASCII, no "
                           "fragment)", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->login_url = value[1];

    return NGX_CONF_OK;
}
