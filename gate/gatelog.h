/* The gate's log, on stderr: what it does about failures, once per burst,
 * so that a store outage under load writes a few lines, not one per
 * request. Thread-safe: every event-loop thread reports here. */
#ifndef GATE_GATELOG_H
#define GATE_GATELOG_H

#include <stddef.h>

#include <mcsession.h>

/* The program's name, for every line. */
extern const char gate_program[];

/* A request failed because the store did (rc: the load's error). The
 * first failure after a success (or since the start) is logged with its
 * reason; the ones after it are only counted. */
void gatelog_store_failed(int rc);
/* A load got an answer from the store. Cheap when nothing failed before
 * (one atomic load); after failures it logs how many requests were
 * answered 503 since the first, and the burst is over. */
void gatelog_store_ok(void);

/* A session's user cannot be sent in a header unchanged (gate/verdict.h
 * says which): logged once per minute at most, with a count. */
void gatelog_unsafe_user(void);

/* Something that should not happen (a load error that is not the store's
 * and not the input's): logged once per minute at most, with a count. */
void gatelog_unexpected(int rc);

/* The library's log callback (mcs_manager_config.log): each distinct
 * message at most once a minute, warnings and errors only. */
void gatelog_library(void *ud, mcs_log_level level, const char *message);

#endif
