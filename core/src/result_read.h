/*
 * result_read: reads a result file (`volley run --result FILE`, the format
 * of docs/results-format.md: a meta line, one window line per window, an
 * end line) into plain structs for `volley report` and `volley compare`.
 * A name ending in .gz is read through zlib (so is any gzip file: zlib
 * reads plain files as they are).
 *
 * A file without its end line is a run that died: the reader still
 * succeeds, marks the result incomplete and merges the totals from the
 * windows (counts, sums, min and max exactly; percentiles exactly when the
 * windows carry histograms, else they stay unknown: a percentile of a run
 * cannot be made from per-window percentiles).
 *
 * A file whose first line is a Metric or Point line is json-out's raw
 * NDJSON (k6's `--out json` shape): result_from_ndjson.c streams it into
 * the same structs, cutting 1-second windows from its points (raw: no
 * spec, thresholds, verdict or generator health; see result.raw).
 */
#ifndef VOLLEY_RESULT_READ_H
#define VOLLEY_RESULT_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RR_P50, RR_P90, RR_P95, RR_P99, RR_NP };

typedef enum rr_type { RR_COUNTER, RR_RATE, RR_GAUGE, RR_TREND, RR_UNKNOWN } rr_type;
typedef enum rr_kind { RR_METRIC, RR_SUBMETRIC, RR_BREAKDOWN, RR_CHECK, RR_OTHER, RR_CAPTURE } rr_kind;
typedef enum rr_contains { RR_DEFAULT, RR_TIME, RR_DATA } rr_contains;

/* Which fields of an rr_stat the line had. */
enum { RR_HAS_N = 1, RR_HAS_SUM = 2, RR_HAS_NZ = 4, RR_HAS_MINMAX = 8, RR_HAS_LAST = 16,
       RR_HAS_P = 32, RR_HAS_AVG = 64 };

/* One series' state in a window or over the run, in the metric's unit. */
typedef struct rr_stat {
    uint32_t series;     /* index into result.series */
    uint32_t has;        /* RR_HAS_* */
    double n, sum, nz, min, max, avg, last;
    double p[RR_NP];     /* p50, p90, p95, p99 */
    struct rr_hist *h;   /* a window's histogram (--result-histograms), or NULL */
} rr_stat;

typedef struct rr_tag {
    char *name, *value;
} rr_tag;

/* A run's histogram of one trend (hdr.h's geometry): its non-empty slots,
 * ascending; values are the metric's unit times result.hist_scale. */
typedef struct rr_slot {
    uint32_t slot;
    uint64_t count;
} rr_slot;

typedef struct rr_hist {
    rr_slot *s;
    size_t n;
    uint64_t total;
} rr_hist;

typedef struct rr_series {
    int64_t id;
    char *key, *metric;
    rr_kind kind;
    rr_type type;          /* from meta.metrics */
    rr_contains contains;
    rr_tag *tags;
    size_t n_tags;
} rr_series;

typedef struct rr_runner {
    bool present, behind;
    double vus, vus_max, cpu_pct, busiest_worker_pct, lag_p95_ms, lag_max_ms, dropped;
    char drop_cause[16];
} rr_runner;

typedef struct rr_window {
    double t0, t1;
    rr_runner runner;
    rr_stat *s;          /* ascending by series index */
    size_t n;
} rr_window;

typedef struct rr_scenario {
    char *name, *executor;
    char *setup_data;       /* setup's captures came from this file: it did not run */
    double start_s, duration_s, max_vus;
} rr_scenario;

typedef struct rr_threshold {
    char *key, *metric, *expr;
    int64_t series_id;
    long series;         /* index into result.series, -1 when unknown */
    bool abort_on_fail;
    /* From the end line; verdict "" when the run has none (incomplete). */
    char *verdict, *judged;
    bool has_value;
    double value;
} rr_threshold;

typedef struct rr_check {
    char *group, *name, *first_failure;   /* first_failure NULL when none */
    double passes, fails;
} rr_check;

typedef struct result {
    char *path;
    char *volley, *spec_name, *spec_path, *start, *end_time;
    char *spec_sha256;       /* meta spec.sha256, NULL in older files */
    char *segment, *sequence;   /* meta (--execution-segment), NULL without */
    char **segments;            /* what the file covers: {segment}, or a merged
                                   file's meta "segments"; none without */
    size_t n_segments;
    char **instances;           /* its `instance` run tag, or a merged file's
                                   meta "instances" */
    size_t n_instances;
    char **command;
    size_t n_command;
    double start_unix_ms, window_s;
    int64_t seed;
    bool has_seed;
    int workers, cores;
    rr_tag *run_tags;
    size_t n_run_tags;
    rr_series *series;
    size_t n_series;
    rr_scenario *scenarios;
    size_t n_scenarios;
    rr_threshold *thresholds;
    size_t n_thresholds;
    rr_window *windows;
    size_t n_windows;
    /* The end line, or what the windows say when it is missing. */
    bool complete;       /* the end line was read */
    double duration_s;
    bool interrupted, aborted;
    char *abort_reason;
    char *verdict;       /* "pass", "fail", an exit code as text, or "incomplete" */
    int exit_code;       /* -1 when unknown */
    double iterations_complete, iterations_interrupted, vus_max, cpu_s, windows_behind;
    rr_stat *totals;     /* one per series, index = series index; has == 0: no sample */
    /* The run's histogram of each trend (compare.c's confidence intervals):
     * from the end line's totals, or merged from the windows' when the run
     * died. NULL, or one per series with n == 0 where there is none. */
    rr_hist *hists;
    double hist_scale;
    char *hist_geometry;     /* meta hist: its geometry's name and numbers (NULL, 0 */
    int hist_half_log2, hist_max_log2;   /* without a hist object) */
    rr_check *checks;
    size_t n_checks;
    rr_check *captures;  /* a step's capture: (NAME in name); none in files */
    size_t n_captures;   /*   of a volley that counted them as checks   */
    json_t *stages;      /* the end line's stages object, or NULL */
    size_t line_count;
    /* Read from json-out's raw NDJSON (result_from_ndjson.c): no meta and no
     * end line, so no spec, thresholds, verdict, exit code or generator
     * health; the rest is made from the points. */
    bool raw;
    double raw_points;       /* Point lines read */
    double raw_late;         /* points older than the oldest open window: counted in it */
    bool raw_names_capped;   /* more request names than are broken down (200) */
    bool raw_cut;            /* the stream ended mid-line or mid-gzip (the run died) */
} result;

/* 0, or -1 with err ("FILE:LINE: what"). r is freed with result_free
 * either way. */
int result_read(const char *path, result *r, char *err, size_t errcap);
void result_free(result *r);

/* Index of the series with this key, or -1. */
long result_find(const result *r, const char *key);
/* The value of tag `name` of a series, or NULL. */
const char *result_tag(const rr_series *s, const char *name);
/* The stat of series index `si` in window w, or NULL when it got no sample. */
const rr_stat *result_window_stat(const rr_window *w, uint32_t si);

const char *result_type_name(rr_type t);
const char *result_contains_name(rr_contains c);
const char *result_kind_name(rr_kind k);

#endif
