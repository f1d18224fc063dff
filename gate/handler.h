/* The gate's libmicrohttpd side: the access handler and completion
 * callback that serve/evloop.c runs on each event-loop thread. */
#ifndef GATE_HANDLER_H
#define GATE_HANDLER_H

#include <microhttpd.h>

#include <mcsession.h>

#include "verdict.h"

/* What every thread's handler reads (evloops_config.app); read-only while
 * serving. */
typedef struct gate_app {
  mcs_manager *mgr;
  gate_rules rules;
} gate_app;

/* MHD's callbacks, with the thread's evloop_ctx (whose app is a gate_app)
 * as closure. */
enum MHD_Result gate_on_request(void *cls, struct MHD_Connection *conn,
                                const char *url, const char *method,
                                const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls);
void gate_on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode code);

#endif
