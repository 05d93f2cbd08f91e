/*
 * analytics: the collector's store as the other services reach it. The
 * enhanced gateway posts to the collector over HTTP; in the stand-in the
 * same code paths are called in-process, with the same outcomes (status
 * codes are returned, and ignored as the gateway ignores them).
 */
#ifndef SIM_ANALYTICS_H
#define SIM_ANALYTICS_H

#include <jansson.h>
#include <stdint.h>

/* POST /transactions; returns 201 or 500 (currency longer than 3). */
int analytics_create_transaction(const char *txid, const char *sender, const char *receiver,
                                 double amount, const char *currency, const char *test_run_id,
                                 const char *test_scenario, const char *load_level);
/* POST /events/transaction; returns 201 or 500 (the real update path). */
int analytics_record_event(const char *txid, const char *event_type, int64_t ts_ns,
                           const char *service, json_t *data);

#endif
