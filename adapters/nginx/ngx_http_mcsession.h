/*
 * ngx_http_mcsession_module: what its three files share.
 *
 *   ngx_http_mcsession_module.c  the module, the access-phase handler, the
 *                                variables, the answers (401, 302, 503)
 *   ngx_http_mcsession_conf.c    the directives, secrets, stores and
 *                                managers, made at configuration time
 *   ngx_http_mcsession_loop.c    per worker: the mcs_loop on nginx's event
 *                                loop, and parking and resuming requests
 *
 * The module uses mcsession's public API alone (mcsession.h), and links
 * the shared library. docs/nginx.md is the user's guide.
 */
#ifndef NGX_HTTP_MCSESSION_H_INCLUDED_
#define NGX_HTTP_MCSESSION_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <mcsession.h>


/* One store URL of the configuration. Made when the directive is read
 * (in the master, and by nginx -t), shared by every server that names the
 * same URL, freed with the configuration's cycle. The fields below `store`
 * are each worker's own: they are set in init_process, after the fork. */
typedef struct {
    ngx_str_t                   url;
    mcs_store                  *store;

    mcs_loop                   *loop;      /* NULL: gated requests get 503 */
    ngx_connection_t           *conn;      /* wraps mcs_loop_fd() */
    ngx_event_t                 flush;     /* posted: run after this turn */
    ngx_event_t                 timer;     /* mcs_loop_timeout() */
    ngx_uint_t                  exiting;   /* exit_process has begun */

    /* This worker's burst of store errors (module.c, store_failed). */
    time_t                      err_last;    /* the last error */
    time_t                      err_logged;  /* the last line logged */
    ngx_uint_t                  err_count;   /* errors since that line */
} ngx_http_mcsession_store_t;


/* A key of a key ring, read from a secret file. */
typedef struct {
    ngx_uint_t                  version;
    ngx_str_t                   secret;
} ngx_http_mcsession_key_t;


/* A server's session settings (inherited from http{}), and the manager
 * made from them when a location first turns mcsession on. */
typedef struct ngx_http_mcsession_srv_conf_s  ngx_http_mcsession_srv_conf_t;

struct ngx_http_mcsession_srv_conf_s {
    ngx_http_mcsession_store_t *store;
    ngx_uint_t                  mode;              /* mcs_mode */
    ngx_array_t                *keys;              /* native: of _key_t */
    ngx_str_t                   cookie_secret;     /* tornado */
    ngx_str_t                   session_secret;    /* tornado */
    ngx_str_t                   user_key;          /* NUL-terminated */
    ngx_str_t                   cookie_name;       /* NUL-terminated */
    time_t                      idle_timeout;
    time_t                      absolute_timeout;
    time_t                      revocation_interval;

    /* The server block that set none of the above shares the manager of
     * http{} (parent); one that set some has its own. */
    ngx_uint_t                  own;
    ngx_http_mcsession_srv_conf_t *parent;
    mcs_manager                *mgr;
};


typedef struct {
    ngx_flag_t                  enable;
    ngx_flag_t                  require_user;
    ngx_str_t                   login_url;

    /* Where "mcsession on" was written, for the messages of nginx -t. */
    ngx_str_t                   enable_file;
    ngx_uint_t                  enable_line;

    /* Set when enable is: the manager and the store's worker state. */
    mcs_manager                *mgr;
    ngx_http_mcsession_store_t *store;
    mcs_mode                    mode;
    ngx_str_t                   user_key;
} ngx_http_mcsession_loc_conf_t;


typedef struct {
    ngx_array_t                 stores;    /* of _store_t * */
    ngx_array_t                 managers;  /* of mcs_manager * */
    ngx_array_t                 secrets;   /* of ngx_str_t: buffers to wipe */
} ngx_http_mcsession_main_conf_t;


typedef struct ngx_http_mcsession_waiter_s  ngx_http_mcsession_waiter_t;

/* A request's session, as its access phase found it. Lives in the main
 * request's pool; found again after an internal redirect through the
 * pool's cleanup (as the realip module does), so a request loads its
 * session once. */
typedef struct {
    ngx_http_request_t         *request;
    ngx_http_mcsession_waiter_t *waiter;   /* while parked, else NULL */
    ngx_uint_t                  done;      /* rc and what follows are set */
    int                         rc;        /* MCS_OK or the load's error */
    mcs_outcome                 outcome;
    ngx_str_t                   user;      /* empty: no user */
} ngx_http_mcsession_ctx_t;


extern ngx_module_t  ngx_http_mcsession_module;
extern ngx_command_t  ngx_http_mcsession_commands[];

/* conf.c */
void *ngx_http_mcsession_create_main_conf(ngx_conf_t *cf);
void *ngx_http_mcsession_create_srv_conf(ngx_conf_t *cf);
char *ngx_http_mcsession_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
void *ngx_http_mcsession_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_mcsession_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
void ngx_http_mcsession_wipe_secrets(ngx_http_mcsession_main_conf_t *mcf);
void ngx_http_mcsession_library_log(void *ud, mcs_log_level level,
    const char *message);

/* loop.c */
ngx_int_t ngx_http_mcsession_init_worker(ngx_cycle_t *cycle);
void ngx_http_mcsession_exit_worker(ngx_cycle_t *cycle);
/* Starts loading r's session into ctx: NGX_OK when it is done (ctx->done),
 * NGX_AGAIN when the request is parked (its phases run again when the
 * store answers), NGX_ERROR when nothing could be started. */
ngx_int_t ngx_http_mcsession_load(ngx_http_request_t *r,
    ngx_http_mcsession_ctx_t *ctx, ngx_http_mcsession_loc_conf_t *lcf,
    u_char *cookie, size_t len);
/* ctx's pool cleanup: a parked request that goes away lets go of its
 * waiter (which the store's answer then frees). */
void ngx_http_mcsession_ctx_cleanup(void *data);

/* module.c: what a finished load found, kept in ctx (s is freed). */
void ngx_http_mcsession_take(ngx_http_request_t *r,
    ngx_http_mcsession_ctx_t *ctx, ngx_http_mcsession_loc_conf_t *lcf,
    int rc, mcs_session *s);

#endif /* NGX_HTTP_MCSESSION_H_INCLUDED_ */
