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

/*
 * What the reports show, from the command line (k6's --summary-trend-stats
 * and --summary-time-unit, volley's --summary-by). A NULL summary_opts *
 * means the defaults (summary_opts_init).
 */
#define SUMMARY_MAX_STATS 16
enum { SUMMARY_BY_NAME = 1u << 0, SUMMARY_BY_SCENARIO = 1u << 1 };
typedef enum summary_time_unit {
    SUMMARY_UNIT_AUTO = 0, SUMMARY_UNIT_S, SUMMARY_UNIT_MS, SUMMARY_UNIT_US
} summary_time_unit;

typedef struct summary_opts {
    size_t n_stats;
    char stats[SUMMARY_MAX_STATS][24];   /* avg min med max count p(N), in order */
    summary_time_unit time_unit;         /* trends of times in the text summary */
    unsigned by;                         /* SUMMARY_BY_*: breakdowns to show */
    int exit_code;                       /* the run's, for the export; -1: unknown */
    const char *segment, *sequence;      /* --execution-segment ("1/3:2/3", "0,1/3,2/3,1"),
                                            the export's run object; NULL: none */
    const char *setup_data;              /* --setup-data F: setup ran elsewhere, not here */
    const char *const *segments;         /* volley merge: the union's segments and */
    size_t n_segments;                   /* instances (sequence above, segment NULL) */
    const char *const *instances;
    size_t n_instances;
} summary_opts;

/* k6's default trend stats: avg, min, med, max, p(90), p(95). */
void summary_opts_init(summary_opts *o);
/* "avg,min,med,max,p(90),p(95),p(99),count" (k6's forms; spaces around
 * items ignored). 0, or -1 with err naming the bad item and the valid
 * forms; o is unchanged then. */
int summary_parse_trend_stats(summary_opts *o, const char *list, char *err, size_t errcap);
/* "s", "ms" or "us" (k6's); -1 with err otherwise. */
int summary_parse_time_unit(summary_opts *o, const char *unit, char *err, size_t errcap);
/* "name", "scenario" or both, comma-separated; adds to o->by. */
int summary_parse_by(summary_opts *o, const char *list, char *err, size_t errcap);
/* A trend's stat (avg min med max count p(N)) as the reports give it: med
 * and p(N) of a plain-number trend whose every value was whole are
 * rounded to whole numbers (interpolation between two whole values is no
 * measurement). */
double summary_trend_value(const volley_metric_info *m, const series_agg *a, const char *stat);

/* "p(99)=412ms", "count=21": a trend's stat x (a metric that contains c)
 * as the summary shows it, in o's --summary-time-unit (NULL: automatic);
 * volley merge's summary too. */
void summary_fmt_trend_cell(volley_metric_contains c, const char *stat, double x,
                            const summary_opts *o, char *cell, size_t cap);

/* The value a threshold's aggregation reads from a series. */
double summary_agg_value(const metrics_reg *reg, const series_agg *s, uint32_t metric,
                         const th_expr *e, double duration_s);
/* True when a series got no sample and is not a counter's: nothing to
 * judge or show (a counter's no samples are a count of 0). */
bool summary_no_data(const metrics_reg *reg, const series_agg *s, uint32_t metric);
/* Whether --summary-export (and --summary-json) writes a series: every
 * metric, declared sub-metric and per-scenario series; per-name
 * breakdowns with --summary-by name (o NULL: the defaults). */
bool summary_series_exported(const spec *s, const metrics_reg *reg, uint32_t series,
                             const summary_opts *o);
/* Whether a verdict fails the run: a failure, or no data without
 * allow_no_data. */
bool summary_fails_run(const threshold *t, th_verdict v);
/* Fills v[i] for every threshold; returns how many fail the run. */
size_t summary_eval_thresholds(const spec *s, const metrics_reg *reg, const metrics_agg *agg,
                               double duration_s, th_verdict *v);
/* A rate's part of whole as the summary writes it: rounded down, with
 * `decimals` (0 or 2) digits, "<0.01%" for a share that is not 0 (volley
 * merge's summary too, for the same figures). */
void summary_fmt_pct(unsigned long long part, unsigned long long whole, int decimals, char *buf,
                     size_t cap);
/* A value as the summary writes it ("412ms", "1.2 MB", "0.5"). */
void summary_fmt_value(volley_metric_contains c, double v, char *buf, size_t cap);
/* What a threshold read from a series over duration_s, "p(95)=412ms",
 * "count=21", "rate=3.5/s" (the summary, the stages table, outputs'
 * summary()). */
void summary_fmt_judged(const metrics_reg *reg, const threshold *t, const series_agg *a,
                        double duration_s, char *buf, size_t cap);
void summary_print(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                   const th_verdict *v, const summary_opts *o);
/* The captures (not k6's: its scripts take values in JS), a JSON array of
 * {name, group, passes, fails, first_failure}: --summary-export and
 * --summary-json add it beside k6's keys. */
struct json_t *summary_captures_json(const metrics_reg *reg, const run_result *r);
/* k6's legacy export plus volley's keys (`run`: the run's metadata and
 * verdict). 0, or -1 with err naming the file. */
int summary_export(const char *path, const spec *s, const metrics_reg *reg,
                   const run_result *r, const th_verdict *v, const summary_opts *o,
                   char *err, size_t errcap);

#endif
