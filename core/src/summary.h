/*
 * summary: threshold evaluation and the end-of-test reports: the k6-style
 * text summary and k6's legacy --summary-export JSON. A threshold ends
 * with one of three verdicts (th_verdict): pass, fail, or no data, which
 * fails the run unless the threshold has allow_no_data.
 */
#ifndef VOLLEY_SUMMARY_H
#define VOLLEY_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"
#include "metrics.h"
#include "spec.h"

/* The value a threshold's aggregation reads from a series. */
double summary_agg_value(const metrics_reg *reg, const series_agg *s, uint32_t metric,
                         const th_expr *e, double duration_s);
/* True when a series got no sample and is not a counter's: nothing to
 * judge or show (a counter's no samples are a count of 0). */
bool summary_no_data(const metrics_reg *reg, const series_agg *s, uint32_t metric);
/* Whether a verdict fails the run: a failure, or no data without
 * allow_no_data. */
bool summary_fails_run(const threshold *t, th_verdict v);
/* Fills v[i] for every threshold; returns how many fail the run. */
size_t summary_eval_thresholds(const spec *s, const metrics_reg *reg, const metrics_agg *agg,
                               double duration_s, th_verdict *v);
/* A value as the summary writes it ("412ms", "1.2 MB", "0.5"). */
void summary_fmt_value(volley_metric_contains c, double v, char *buf, size_t cap);
/* What a threshold read from a series over duration_s, "p(95)=412ms",
 * "count=21", "rate=3.5/s" (the summary, the stages table, outputs'
 * summary()). */
void summary_fmt_judged(const metrics_reg *reg, const threshold *t, const series_agg *a,
                        double duration_s, char *buf, size_t cap);
void summary_print(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                   const th_verdict *v);
/* 0, or -1 with err naming the file. */
int summary_export(const char *path, const spec *s, const metrics_reg *reg,
                   const run_result *r, const th_verdict *v, char *err, size_t errcap);

#endif
