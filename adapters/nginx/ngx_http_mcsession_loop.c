/*
 * ngx_http_mcsession_module: the store round trip on nginx's own event
 * loop, so a worker never waits for memcached.
 *
 * Each worker has one mcs_loop per store URL (one, in the usual
 * configuration), made in init_process and freed in exit_process. Its
 * descriptor (mcs_loop_fd, an epoll descriptor that turns readable when
 * the loop has work) is wrapped in an ngx_connection_t whose read event
 * nginx watches, level-triggered: a readable loop stays readable until
 * mcs_loop_run has done its work. The loop's deadlines become an nginx
 * timer (mcs_loop_timeout). mcs_loop_run runs once per turn of nginx's
 * loop that has work for it, from the `flush` event, which nginx runs
 * after the turn's other events: the first load a handler starts in a
 * turn posts it, and so do the descriptor turning readable (replies, the
 * helper thread's results) and the timer (the store's I/O deadlines).
 * So every load started in one turn goes to memcached in one write, with
 * the replies of the turn read in the same run (mcsession/loop.h,
 * "wiring it into an event loop"). Running the loop from the read event
 * itself would send the loads of the turn's earlier events alone, and
 * the later ones in a second write (strace of a benchmark run: 2 % of
 * turns). After each run the timer is set to mcs_loop_timeout(): 0 posts
 * `flush` for the next turn, -1 (nothing in flight) deletes the timer, so
 * an idle worker keeps no timer and exits at once on a graceful shutdown,
 * while one with requests in flight waits for them (bounded by the
 * store's io_timeout_ms).
 *
 * A request whose load cannot finish at once is parked: the access-phase
 * handler returns NGX_AGAIN with r->main->blocked raised (as nginx's own
 * file-cache lock and thread-pool waits do: a blocked request is not
 * freed, and a termination meanwhile is deferred to its
 * write_event_handler). The library's callback gets a worker-owned
 * waiter, never the request: it records the result and posts the
 * waiter's event; the event's handler, outside mcs_loop_run, takes the
 * result into the request's context, lowers blocked and calls
 * r->write_event_handler (ngx_http_core_run_phases), which runs the
 * access phase again, where the handler now finds the result. If the
 * request's pool goes away first anyway, its cleanup detaches the waiter,
 * which the callback (or the event) then frees with the session.
 */
#include "ngx_http_mcsession.h"


struct ngx_http_mcsession_waiter_s {
    ngx_event_t                     event;
    ngx_http_mcsession_ctx_t       *ctx;     /* NULL: the request is gone */
    ngx_http_mcsession_loc_conf_t  *lcf;
    ngx_http_mcsession_store_t     *store;
    int                             rc;
    mcs_session                    *session;
};


static void ngx_http_mcsession_schedule(ngx_http_mcsession_store_t *st);


/* mcs_loop_run after this turn's other events (once, however many ask). */
static void
ngx_http_mcsession_post_flush(ngx_http_mcsession_store_t *st)
{
    if (!st->flush.posted) {
        ngx_post_event(&st->flush, &ngx_posted_events);
    }
}


static void
ngx_http_mcsession_run(ngx_http_mcsession_store_t *st)
{
    if (st->loop == NULL || st->exiting) {
        return;
    }

    (void) mcs_loop_run(st->loop);

    ngx_http_mcsession_schedule(st);
}


/* `flush`, posted (see the top of this file). */
static void
ngx_http_mcsession_flush_handler(ngx_event_t *ev)
{
    ngx_http_mcsession_run(ev->data);
}


/* The store's I/O deadline. */
static void
ngx_http_mcsession_timer_handler(ngx_event_t *ev)
{
    ngx_http_mcsession_post_flush(ev->data);
}


/* The loop's descriptor is readable: it stays so (level-triggered) until
 * the flush of this turn has run the loop. */
static void
ngx_http_mcsession_read_handler(ngx_event_t *rev)
{
    ngx_connection_t  *c = rev->data;

    ngx_http_mcsession_post_flush(c->data);
}


static void
ngx_http_mcsession_schedule(ngx_http_mcsession_store_t *st)
{
    int         ms;
    ngx_msec_t  key;

    ms = mcs_loop_timeout(st->loop);

    if (ms == 0) {
        /* Work queued by the callbacks that just ran: the next turn, after
         * a wait of 0 ms (nginx waits 0 ms while posted_next_events is not
         * empty), so a loop with work never spins inside one turn. */
        if (!st->flush.posted) {
            ngx_post_event(&st->flush, &ngx_posted_next_events);
        }
        return;
    }

    if (ms < 0) {
        if (st->timer.timer_set) {
            ngx_del_timer(&st->timer);
        }
        return;
    }

    /* ngx_add_timer leaves a timer alone when the new deadline is within
     * NGX_TIMER_LAZY_DELAY of the old one; a deadline that moved earlier
     * must not fire late, so that one is set afresh. */
    key = ngx_current_msec + (ngx_msec_t) ms;
    if (st->timer.timer_set
        && (ngx_msec_int_t) (key - st->timer.timer.key) < 0)
    {
        ngx_del_timer(&st->timer);
    }

    ngx_add_timer(&st->timer, (ngx_msec_t) ms);
}


/* The configuration's stores (none without an http{} block). */
static ngx_http_mcsession_store_t **
ngx_http_mcsession_stores(ngx_cycle_t *cycle, ngx_uint_t *n)
{
    ngx_http_mcsession_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_mcsession_module);
    *n = mcf ? mcf->stores.nelts : 0;

    return mcf ? mcf->stores.elts : NULL;
}


ngx_int_t
ngx_http_mcsession_init_worker(ngx_cycle_t *cycle)
{
    int                           rc;
    ngx_uint_t                    i, n;
    ngx_connection_t             *c;
    ngx_http_mcsession_store_t  **st, *s;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;  /* the cache manager and loader serve no requests */
    }

    st = ngx_http_mcsession_stores(cycle, &n);

    for (i = 0; i < n; i++) {
        s = st[i];

        s->flush.handler = ngx_http_mcsession_flush_handler;
        s->flush.data = s;
        s->flush.log = cycle->log;
        s->timer = s->flush;
        s->timer.handler = ngx_http_mcsession_timer_handler;

        /* A worker without its loop keeps serving: its gated requests get
         * 503, as in a store outage, and the log says why. */
        rc = mcs_loop_new(&s->loop, s->store);
        if (rc != MCS_OK) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "mcsession: cannot make an mcs_loop for \"%V\": "
                          "%s; gated requests will get 503",
                          &s->url, mcs_strerror(rc));
            s->loop = NULL;
            continue;
        }

        c = ngx_get_connection(mcs_loop_fd(s->loop), cycle->log);
        if (c == NULL) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "mcsession: no connection slot for the store's "
                          "loop; gated requests will get 503");
            mcs_loop_free(s->loop);
            s->loop = NULL;
            continue;
        }

        c->data = s;
        c->read->handler = ngx_http_mcsession_read_handler;
        c->read->log = cycle->log;
        c->write->log = cycle->log;

        /* Level-triggered (flags 0): see the top of this file. */
        if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "mcsession: cannot watch the store's loop; gated "
                          "requests will get 503");
            c->fd = (ngx_socket_t) -1;
            ngx_free_connection(c);
            mcs_loop_free(s->loop);
            s->loop = NULL;
            continue;
        }

        s->conn = c;
    }

    return NGX_OK;
}


void
ngx_http_mcsession_exit_worker(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i, n;
    ngx_connection_t             *c;
    ngx_http_mcsession_store_t  **st, *s;

    st = ngx_http_mcsession_stores(cycle, &n);

    for (i = 0; i < n; i++) {
        s = st[i];

        if (s->loop == NULL) {
            continue;
        }

        /* Callbacks mcs_loop_free still runs only free what they get:
         * nothing of nginx's runs from here on. */
        s->exiting = 1;

        if (s->timer.timer_set) {
            ngx_del_timer(&s->timer);
        }

        if (s->flush.posted) {
            ngx_delete_posted_event(&s->flush);
        }

        c = s->conn;
        if (c) {
            /* The loop owns the descriptor and closes it. */
            (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
            ngx_free_connection(c);
            c->fd = (ngx_socket_t) -1;
            s->conn = NULL;
        }

        mcs_loop_free(s->loop);
        s->loop = NULL;
    }
}


/* ---- Parking and resuming a request ------------------------------------- */

static void
ngx_http_mcsession_resume(ngx_event_t *ev)
{
    ngx_http_mcsession_waiter_t *w = ev->data;

    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_mcsession_ctx_t  *ctx;

    ctx = w->ctx;

    if (ctx == NULL) {
        mcs_session_free(w->session);
        ngx_free(w);
        return;
    }

    r = ctx->request;
    c = r->connection;

    ctx->waiter = NULL;
    ngx_http_mcsession_take(r, ctx, w->lcf, w->rc, w->session);
    ngx_free(w);

    r->main->blocked--;

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "mcsession resume \"%V\"", &r->uri);

    /* ngx_http_core_run_phases, or the finalizer of a request terminated
     * while it was blocked. */
    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}


/* The library's callback, inside mcs_loop_run: nothing of the request
 * runs here (see the top of this file). */
static void
ngx_http_mcsession_loaded(void *ud, int rc, mcs_session *s)
{
    ngx_http_mcsession_waiter_t *w = ud;

    w->rc = rc;
    w->session = s;

    if (w->ctx == NULL || w->store->exiting) {
        if (w->ctx) {
            w->ctx->waiter = NULL;
        }
        mcs_session_free(s);
        ngx_free(w);
        return;
    }

    ngx_post_event(&w->event, &ngx_posted_events);
}


void
ngx_http_mcsession_ctx_cleanup(void *data)
{
    ngx_http_mcsession_ctx_t *ctx = data;

    if (ctx->waiter) {
        /* Still in the library, or posted: whichever comes next frees the
         * waiter and the session. */
        ctx->waiter->ctx = NULL;
        ctx->waiter = NULL;
    }
}


ngx_int_t
ngx_http_mcsession_load(ngx_http_request_t *r, ngx_http_mcsession_ctx_t *ctx,
    ngx_http_mcsession_loc_conf_t *lcf, u_char *cookie, size_t len)
{
    int                           rc;
    mcs_session                  *s;
    ngx_http_mcsession_store_t   *st;
    ngx_http_mcsession_waiter_t  *w;

    st = lcf->store;

    if (st->loop == NULL) {
        /* init_process could not make this worker's loop (logged then). */
        ngx_http_mcsession_take(r, ctx, lcf, MCS_ESTORE, NULL);
        return NGX_OK;
    }

    w = ngx_alloc(sizeof(ngx_http_mcsession_waiter_t), r->connection->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(w, sizeof(ngx_http_mcsession_waiter_t));
    w->event.handler = ngx_http_mcsession_resume;
    w->event.data = w;
    /* Not the request's log: the event may outlive the request. */
    w->event.log = ngx_cycle->log;
    w->lcf = lcf;
    w->store = st;

    s = NULL;
    rc = mcs_session_load_start(lcf->mgr, st->loop, (const char *) cookie,
                                len, &s, ngx_http_mcsession_loaded, w);

    if (rc != MCS_PENDING) {
        /* Done at once: no cookie, a forged one, or an error. */
        ngx_free(w);
        ngx_http_mcsession_take(r, ctx, lcf, rc, s);
        return NGX_OK;
    }

    w->ctx = ctx;
    ctx->waiter = w;
    r->main->blocked++;

    /* mcs_loop_run after this turn's other handlers, so their loads share
     * the write. */
    ngx_http_mcsession_post_flush(st);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mcsession parked \"%V\"", &r->uri);

    return NGX_AGAIN;
}
