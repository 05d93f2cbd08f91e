/*
 * compare: two runs' results side by side (`volley compare OLD NEW`, the
 * comparison section of `volley report --baseline OLD NEW`).
 *
 * Rows: each request name / scenario (the `breakdown` series of a result,
 * grouped by their tag set) and each threshold's series. Columns: count,
 * rate (/s), failed % (a rate metric's value), avg, p50, p95, p99. A change
 * is flagged (regression or improvement) only when
 *   - the two runs' 99% confidence intervals of the figure do not overlap:
 *     a percentile's from its run's histogram (the values at ranks
 *     n*p -/+ z*sqrt(n*p*(1-p)), an order-statistic interval that assumes
 *     nothing about the distribution), avg's mean -/+ z*sd/sqrt(n), failed
 *     %'s Wilson interval, z = 2.576; and
 *   - it exceeds the histogram's error bound: a reported percentile is
 *     within 0.2% of the true one (hdr.h), so two of them can differ by
 *     0.4% of the value with nothing changed; and
 *   - a minimum absolute change: half a unit of the metric (0.5 ms for
 *     times, 1 byte, 0.5 for plain numbers) for percentiles and avg, 0.1
 *     percentage point for failed %: a sub-millisecond request's
 *     percentiles move by more than their intervals between runs of one
 *     build (the machine, not the sample); and
 *   - a relative change, the noise allowance (default 5%, --noise): the
 *     intervals cover sampling noise within a run, not a machine that is
 *     busier on the second run.
 * A figure whose run has no histogram (a run that died without
 * --result-histograms; json-out's NDJSON) has no interval: it is judged by
 * the last three alone, and the output says so.
 * Count and rate are shown, never flagged: they follow the load model (a
 * closed model does fewer requests when the target is slower). For a rate
 * metric a threshold names, the threshold's operator says which direction
 * is worse (`rate<0.01`: up; `rate>0.95`: down); else up is worse.
 */
#ifndef VOLLEY_COMPARE_H
#define VOLLEY_COMPARE_H

#include <stdbool.h>
#include <stdio.h>

#include "result_read.h"

enum { CMP_COUNT, CMP_RATE, CMP_FAILED, CMP_AVG, CMP_P50, CMP_P95, CMP_P99, CMP_NCOLS };

#define COMPARE_NOISE_PCT 5.0
/* Two-sided 99%. Two intervals stop overlapping at z*(se1 + se2), which is
 * between 1 and 1.41 times z standard errors of the difference: sampling
 * alone flags a figure of two runs of one build between 1 in 100 (one
 * interval much narrower) and 3 in 10,000 times (equal widths). */
#define COMPARE_Z 2.576
#define COMPARE_CONFIDENCE "99%"
/* The minimum change of avg and percentiles, in the metric's unit. */
#define COMPARE_MIN_UNITS 0.5

/* One request name or scenario: the breakdown series with one tag set. */
typedef struct cmp_group {
    char key[160];     /* the tag set as in the series keys: "{name:fast}" */
    char label[160];   /* "name: fast" */
    long dur, reqs, failed;   /* series indices, -1 when absent */
} cmp_group;

/* One row's figures from one result. */
typedef struct cmp_stats {
    double v[CMP_NCOLS];
    bool have[CMP_NCOLS];
    double lo[CMP_NCOLS], hi[CMP_NCOLS];   /* the 99% confidence interval, when ci */
    bool ci[CMP_NCOLS];
    rr_contains contains;    /* of avg and the percentiles */
} cmp_stats;

typedef struct cmp_cell {
    bool have_old, have_new;
    double old_v, new_v, change_pct;   /* change_pct: INFINITY from 0 */
    bool judged;                       /* in both runs, and not count or rate */
    bool old_ci, new_ci;               /* intervals below (judged by them when both) */
    double old_lo, old_hi, new_lo, new_hi;
    int flag;                          /* +1 regression, -1 improvement, 0 */
    const char *why;                   /* a judged, unflagged cell: which test held it back */
} cmp_cell;

typedef struct cmp_row {
    char label[200];
    bool threshold;          /* a threshold's series (else a request name/scenario) */
    rr_contains contains;
    int worse;               /* +1: up is worse, -1: down is worse (rate column) */
    bool rate_not_failed;    /* a threshold's rate metric (checks): its column is "rate %" */
    cmp_cell c[CMP_NCOLS];
} cmp_row;

typedef struct cmp_table {
    cmp_row *rows;
    size_t n;
    double noise_pct;
    /* Judged figures without intervals (no histogram in that run): judged
     * by the allowances alone. */
    size_t no_ci_old, no_ci_new;
} cmp_table;

extern const char *const compare_col_names[CMP_NCOLS];

/* The request-name/scenario groups of a result (malloc'd; *n set). NULL
 * with *n == 0 when there are none or out of memory. */
cmp_group *compare_groups(const result *r, size_t *n);
void compare_group_stats(const result *r, const cmp_group *g, cmp_stats *st);
/* A series' figures (a threshold's row). */
void compare_series_stats(const result *r, long si, cmp_stats *st);

/* 0, or -1 (out of memory). */
int compare_build(const result *old_r, const result *new_r, double noise_pct, cmp_table *t);
void compare_free(cmp_table *t);
/* Regressions over pct (change in %) on p95 or failed %: how many. */
size_t compare_regressions_over(const cmp_table *t, double pct);
/* The rule, in two sentences joined by sep (the text table's and the
 * page's header). */
void compare_rule(const cmp_table *t, const char *sep, char *buf, size_t cap);
/* A judged cell's word: "REGRESSION", "improvement" or "within noise";
 * "" when not judged. */
const char *compare_verdict(const cmp_cell *c);
/* The text table, one line per figure. */
void compare_print(FILE *out, const cmp_table *t, const result *old_r, const result *new_r);
/* A figure as the tables show it. */
void compare_fmt(int col, rr_contains c, double v, char *buf, size_t cap);

/* volley compare OLD NEW [--fail-on-regression PCT] [--noise PCT] */
int compare_main(int argc, char **argv);

#endif
