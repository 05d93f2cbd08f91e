/*
 * summary_json: --summary-json, the object k6 hands to handleSummary(data)
 * (k6's internal/js/summary.go), so tools written for it read a Volley run
 * unchanged: `metrics` (type, contains, values, thresholds as
 * {"expression": {"ok": bool}}), `root_group` (groups and checks as arrays,
 * ids the md5 of their paths, as k6's), `options` and `state`.
 * --summary-export (summary.c) keeps k6's legacy shape.
 */
#ifndef VOLLEY_SUMMARY_JSON_H
#define VOLLEY_SUMMARY_JSON_H

#include <stddef.h>

#include "engine.h"
#include "metrics.h"
#include "spec.h"
#include "summary.h"
#include "threshold.h"

/* The trend stats written, in order; NULL (n 0) for k6's default (avg, min,
 * med, max, p(90), p(95)). A stat may be "count" or anything
 * agg_trend_stat reads. opts: which breakdowns, as --summary-export
 * (NULL: the defaults). 0, or -1 with err naming the file. */
int summary_json_write(const char *path, const spec *s, const metrics_reg *reg,
                       const run_result *r, const th_verdict *v, const char *const *trend_stats,
                       size_t n_trend_stats, const summary_opts *opts, char *err, size_t errcap);

#endif
