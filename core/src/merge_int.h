/*
 * merge_int: what the files of `volley merge` share (merge.h is the
 * command). Calls go merge.c → merge_read.c (read and check the files) →
 * merge_series.c (merge the series) → merge_judge.c (judge the thresholds,
 * print the summary, write the export).
 */
#ifndef VOLLEY_MERGE_INT_H
#define VOLLEY_MERGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hdr.h"
#include "result_read.h"
#include "summary.h"
#include "threshold.h"

enum { MERGE_FAIL = 99, MERGE_INVALID = 104 };

/* One series over every file, found by its key. */
typedef struct mseries {
    const rr_series *def;   /* the first file's that has it */
    bool seen;              /* a file had a sample */
    double n, sum, nz, min, max, last, last_end;
    hdr_hist *h;            /* trends */
    bool hist_short;        /* a run that died had no histogram: h lacks its samples */
} mseries;

/* One window of the merged timeline: stats by merged series index (a
 * trend's h when every run's window had one). */
typedef struct mwindow {
    double t0, t1;
    rr_runner runner;
    rr_stat *s;
    size_t n;
    int cores;
} mwindow;

typedef struct mcheck {
    const char *group, *name;
    double passes, fails;
} mcheck;

typedef struct merged {
    result *in;
    size_t n_in;
    mseries *s;
    size_t n_s;
    double duration_s, iter_complete, iter_interrupted;
    double vus_max;         /* the union's: the peak of the windows' sums (vus_peak), or
                               the sum of each run's maximum; setup's and teardown's VUs
                               that did not run in a file left out */
    bool vus_peak;
    mcheck *checks;
    size_t n_checks;
    th_verdict *v;
    double *tv;             /* each threshold's merged value */
    th_expr *expr;
    summary_opts opts;      /* --summary-trend-stats, --summary-time-unit (as volley run's) */
    /* merge_read.c */
    bool allow_partial;     /* --allow-partial: runs without an end line too */
    size_t n_partial;       /* how many of them */
    char seg_warn[512];     /* segments that do not cover 0:1, or "" */
    /* what the union covers (strings of m->in): the files' segments in
     * order, their sequence and instances; n_segs 0 without segments */
    const char **segs, **instances;
    size_t n_segs, n_instances;
    const char *sequence;
    /* merge_series.c: the merged timeline (windows by time, from the
     * earliest start); mwindow.s by merged series index */
    struct mwindow *win;
    size_t n_win;
    double start_unix_ms, window_s;
} merged;

/* merge_read.c: reads paths into m->in (m->n_in counts what needs
 * result_free) and checks they can be merged. 0, or -1 after printing
 * why to stderr. */
int merge_read(merged *m, const char *const *paths, size_t n_paths);

/* merge_series.c */
long merge_find_series(const merged *m, const char *key);
/* Adds every file's end-line series and checks: 0, or -1 with err. */
int merge_series(merged *m, char *err, size_t cap);
/* The timeline: every file's windows put on the earliest start's clock
 * and the windows of one second added exactly. 0, or -1 with err. */
int merge_windows(merged *m, char *err, size_t cap);
/* A trend's stat (avg min max med p(N) count) in the metric's unit. */
double merge_trend_stat(const merged *m, const mseries *s, const char *stat);
/* A threshold's aggregation over a merged series. */
double merge_agg_value(const merged *m, const mseries *s, const th_expr *e);
void merge_free(merged *m);

/* merge_judge.c */
/* Judges every threshold; returns how many fail the merge; *bad (with
 * err) when one does not parse. */
size_t merge_judge(merged *m, char *err, size_t cap, int *bad);
/* The series the summary (for_export false) or --summary-export shows,
 * a metric before its sub-metrics and breakdowns; returns how many (out
 * has room for m->n_s). */
size_t merge_shown(const merged *m, const mseries **out, bool for_export);
void merge_print_summary(FILE *out, const merged *m, const mseries **list, size_t n, size_t failed);
/* "p(95)=412ms": threshold i's merged value as judged. */
void merge_fmt_judged(const merged *m, size_t i, char *buf, size_t cap);

/* merge_write.c: the merged result file (the timeline too, after
 * merge_windows). 0, or -1 with err. */
int merge_write_result(const char *path, const merged *m, size_t failed, char *err, size_t cap);

/* merge_view.c: --summary-json (summary_json.c) and --out junit=FILE
 * (the junit plugin's summary()) of the merged data. 0, or -1 with err. */
int merge_summary_json(const char *path, const merged *m, char *err, size_t cap);
int merge_output(const char *arg, const merged *m, int exit_code, char *err, size_t cap);

int merge_export_json(const char *path, const merged *m, const mseries **list, size_t n,
                      size_t failed, char *err, size_t cap);

#endif
