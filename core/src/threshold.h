/*
 * threshold: k6's threshold grammar.
 *   assertion  -> aggregation ws* operator ws* float
 *   aggregation-> avg | min | max | med | p(N) | rate | count | value
 *   operator   -> < | <= | > | >= | == | === | !=
 * and, beyond k6, a target relative to a baseline run (--baseline FILE):
 *   target     -> float | "baseline" ( ws* ("*" float | "+" float "%"? ) )?
 * Metric keys with sub-metric filters: "http_req_duration{status:200,method:GET}".
 */
#ifndef VOLLEY_THRESHOLD_H
#define VOLLEY_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "volley/plugin.h"

typedef enum th_agg {
    TH_AGG_AVG = 1, TH_AGG_MIN, TH_AGG_MAX, TH_AGG_MED, TH_AGG_PCT,
    TH_AGG_RATE, TH_AGG_COUNT, TH_AGG_VALUE
} th_agg;

typedef enum th_op { TH_OP_LT = 1, TH_OP_LE, TH_OP_GT, TH_OP_GE, TH_OP_EQ, TH_OP_NE } th_op;

typedef struct th_expr {
    th_agg agg;
    double pct;       /* for TH_AGG_PCT, in [0,100] */
    th_op op;
    double target;    /* relative: NaN until th_set_baseline */
    bool relative;    /* "baseline...": target = baseline * factor + add */
    double factor, add;
    double baseline;  /* the baseline run's value, once set */
    enum { TH_BASELINE_NONE = 0,   /* no --baseline: not judged, never fails */
           TH_BASELINE_SET,        /* target set from the baseline run */
           TH_BASELINE_MISSING     /* the baseline run has no data for it: no data */
    } baseline_state;
} th_expr;

/* 0 on success; -1 with the expected form in err. */
int th_parse(const char *src, th_expr *out, char *err, size_t errcap);
/* Whether `agg` applies to a metric type (k6's table: counter count/rate,
 * gauge value, rate rate, trend avg/min/max/med/p(N)). */
bool th_agg_allowed(th_agg agg, volley_metric_type type);
/* The comma-separated list of aggregations valid for a type, for errors. */
const char *th_aggs_for(volley_metric_type type);
/* A relative expression's target from the baseline run's value (the same
 * aggregation of the same metric or sub-metric; NaN: it has none, the
 * verdict is no data); others are unchanged. */
void th_set_baseline(th_expr *e, double baseline);
/* true when `lhs OP target` holds (the threshold passes). */
bool th_holds(const th_expr *e, double lhs);
/* The aggregation as k6 writes it: "avg", "p(95)", "rate", ... */
void th_agg_label(const th_expr *e, char *buf, size_t cap);

/* A threshold's verdict at the end of a run. NO_DATA: its metric or
 * sub-metric got no sample at all, so there is nothing to judge (a
 * counter never has no data: no samples count 0, a real value). */
typedef enum th_verdict { TH_PASS = 0, TH_FAIL, TH_NO_DATA } th_verdict;

typedef struct th_tag_filter {
    char *key;
    char *value;
} th_tag_filter;

/* Splits "name{k:v,k2:v2}" into name and filters (whitespace around keys
 * and values trimmed; a value may contain ':' after the first one, e.g.
 * "group:::outer"). Without braces n_filters is 0. All outputs are malloc'd
 * and freed with th_key_free. 0 or -1 with err. */
typedef struct th_metric_key {
    char *name;
    size_t n_filters;
    th_tag_filter *filters;
} th_metric_key;

int th_parse_metric_key(const char *key, th_metric_key *out, char *err,
                        size_t errcap);
void th_key_free(th_metric_key *k);

#endif
