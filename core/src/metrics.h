/*
 * metrics: the registry of metrics and series, and the aggregates that
 * loop threads write without locks.
 *
 * A series is what gets aggregated: every metric has one, every declared
 * sub-metric ("http_req_duration{status:200}") has one, and every compiled
 * check item has a hidden one (its passes/fails for the summary). The set
 * of series is fixed before workers start, so an aggregate is a flat array
 * indexed by series id.
 *
 * Flow: a worker records into its current aggregate; once a second it hands
 * that aggregate to the metrics thread (an atomic flag, no lock) and goes on
 * with a spare; the metrics thread merges it into the run's global
 * aggregate, clears it and gives it back.
 */
#ifndef VOLLEY_METRICS_H
#define VOLLEY_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hdr.h"
#include "volley/plugin.h"

/* Tag keys a sub-metric filter can name. */
typedef enum tag_key {
    TAG_NAME = 0, TAG_METHOD, TAG_URL, TAG_STATUS, TAG_EXPECTED_RESPONSE,
    TAG_CHECK, TAG_ERROR_CODE, TAG_SCENARIO, TAG_GROUP, TAG_TLS_VERSION, TAG_CAPTURE, TAG__COUNT,
    TAG_RUN,       /* a run-wide tag (--tag): matches or not for the whole run */
    TAG_STEP       /* a step's or a scenario's own tag (`tags:`, `tag_stage`), by key text */
} tag_key;

const char *tag_key_name(tag_key k);
/* -1 when unknown. */
int tag_key_parse(const char *s);

typedef struct series_filter {
    tag_key key;
    const char *step_key;      /* TAG_STEP: the tag's key (owned) */
    const char *value;
    int int_value;     /* status / expected_response as numbers; TAG_RUN, TAG_STEP:
                          whether the run tag (--tag) of that name matches */
} series_filter;

typedef struct series_def {
    uint32_t metric;
    const char *name;          /* "metric" or "metric{k:v}" */
    size_t n_filters;
    series_filter *filters;
    bool hidden;               /* check-item series: not printed as metrics */
    bool per_scenario;         /* added for the summary's scenario section */
    bool breakdown;            /* per request name or per scenario, made for
                                  reports (spec_add_breakdowns): the summary
                                  shows it only when asked (--summary-by) */
    const char *check_group;   /* hidden check series: "::outer::inner" or "" */
    const char *check_name;    /*   and the check's own name (both owned) */
} series_def;

/* A name pointer samples carry and a sub-metric of that name. */
typedef struct name_route {
    const char *name;
    uint32_t series;           /* UINT32_MAX: no sub-metric of that name */
} name_route;

typedef struct metric_def {
    volley_metric_info info;   /* name, type, contains, thresholds */
    uint32_t series;           /* its own series */
    size_t n_subs;
    uint32_t *subs;            /* sub-metric series ids */
    size_t cap_thresholds;
    /* How metrics_record finds the sub-metrics a sample matches: those of
     * exactly one `name` filter (`named`) through `routes` (by the name's
     * pointer, sorted), the others (`scan`) filter by filter. */
    size_t n_scan, n_named, n_routes;
    uint32_t *scan, *named;
    name_route *routes;
} metric_def;

/*
 * Stage copies (stages.c plans them): for a ramping scenario, some series
 * are kept once more per stage of its profile, in aggregate slots past the
 * registry's series (slot n_series + ...), so a stage's rate, p(95) or a
 * threshold's condition can be read on that stage alone. The copies are
 * not series: nothing that lists series sees them.
 */
typedef struct stage_track {
    size_t n_stages;
    int64_t *dur_ns;           /* each stage's duration (owned) */
    size_t n_mirror;           /* series copied per stage */
    uint32_t *mirror;          /* their ids, grouped by metric (owned) */
    size_t n_metrics;          /* metrics registered when it was made */
    uint32_t *by_metric;       /* n_metrics + 1 (owned): metric m's copies are
                                  mirror[by_metric[m]] .. mirror[by_metric[m + 1] - 1] */
    uint32_t slot0;            /* stage k's copy of mirror[j]: slot0 + k * n_mirror + j */
} stage_track;

/* Where a scenario's samples go among its stage copies: a worker's cursor
 * (one per scenario and worker, moved on as the clock passes a stage's
 * end, never back). */
typedef struct stage_pos {
    const stage_track *track;
    uint32_t stage;
    uint32_t slot;             /* the current stage's first slot */
    int64_t end_ns;            /* monotonic end of the current stage; INT64_MAX on the last */
} stage_pos;

typedef struct metrics_reg {
    size_t n_metrics, cap_metrics;
    metric_def *metrics;
    size_t n_series, cap_series;
    series_def *series;
    bool frozen;               /* no registration once workers run */
    size_t n_run_tags;         /* --tag NAME=VALUE, on every sample */
    volley_tag *run_tags;      /* owned, keys sorted */
    size_t n_step_keys;        /* keys steps' `tags:` use (owned) */
    char **step_keys;
    size_t n_name_ptrs;        /* the name pointers steps tag samples with */
    const char **name_ptrs;    /*   (metrics_route_names; compared, never read) */
    char **name_texts;         /* their texts (owned): a spec loaded into the
                                  registry before may have freed the names */
    size_t n_tracks;           /* stage copies, one per scenario (n_stages 0: */
    stage_track *tracks;       /*   none); owned */
    size_t n_stage_slots;      /* aggregate slots past n_series, and */
    uint32_t *stage_slot_metric;   /* the metric of each (owned) */
} metrics_reg;

/* Sets the run-wide tags from "NAME=VALUE" texts; -1 with err on a bad
 * name, a duplicate or a built-in tag name. */
int metrics_set_run_tags(metrics_reg *r, const char *const *kv, size_t n, char *err,
                         size_t errcap);

void metrics_reg_init(metrics_reg *r);
void metrics_reg_free(metrics_reg *r);
/* Existing name with the same type: returns its id. -1 + err otherwise. */
int metrics_register(metrics_reg *r, const char *name, volley_metric_type type,
                     volley_metric_contains contains, char *err, size_t errcap);
int metrics_find(const metrics_reg *r, const char *name);
/* A key some step tags its samples with, so sub-metric filters may name it. */
int metrics_add_step_tag_key(metrics_reg *r, const char *key);
/* Series for "metric{filters}" (created once, reused). -1 + err. */
int metrics_series_for_key(metrics_reg *r, const char *key, char *err, size_t errcap);
/* A breakdown of `metric` by one tag value, "http_req_duration{name:X}",
 * made from the value itself (a request name may hold any character) and
 * marked `breakdown`; a sub-metric of exactly that filter (a threshold's)
 * is reused as it is. Returns the series, or -1 (out of memory, frozen). */
int metrics_add_breakdown(metrics_reg *r, uint32_t metric, tag_key key, const char *value);
/* The `name` tag values (as pointers: stable for the run) that the
 * spec's steps put on their samples, so sub-metrics of one name filter
 * are found by pointer (metric_def.routes); replaces the set of an earlier
 * call (a spec loaded before into the same registry). A sample whose name
 * is not among them is still matched, by text. 0 or -1 (then every name
 * is matched by text). */
int metrics_route_names(metrics_reg *r, const char *const *names, size_t n);
/* A hidden series for one check item, named "group::check" ("check" at
 * the top level); group and name are kept apart for reports. */
int metrics_add_hidden(metrics_reg *r, uint32_t metric, const char *group, const char *check);
int metrics_add_threshold_source(metrics_reg *r, uint32_t metric, const char *src);
/* Stage copies of `series` (ids, duplicates ignored) for scenario number
 * `sc` of n_sc, with n_stages stages of the given durations. 0 or -1 (out
 * of memory). Before any aggregate is made. */
int metrics_add_stage_track(metrics_reg *r, size_t sc, size_t n_sc, const int64_t *dur_ns,
                            size_t n_stages, const uint32_t *series, size_t n_series);
/* The track of scenario number sc, or NULL. */
const stage_track *metrics_stage_track(const metrics_reg *r, size_t sc);
/* The aggregate slot of stage k's copy of a series; -1 when not kept. */
long stage_track_slot(const stage_track *t, size_t k, uint32_t series);
/* Starts a worker's cursor at the scenario's start (monotonic ns). */
void stage_pos_start(stage_pos *p, const stage_track *t, int64_t start_ns);

/* The tags of one sample as the core sees them. */
typedef struct sample_tags {
    const volley_tags *t;      /* from the plugin or the core; may be NULL */
    const char *tls_version;   /* t's, when its plugin's revision has it   */
    const char *capture;       /* the `captures` metric: the capture's NAME */
    const char *scenario;
    const char *group;
    const volley_tag *step;    /* the step's own tags, sorted by key; pointer- */
    size_t n_step;             /*   stable for the run (they intern by identity) */
    const volley_tag *vu;      /* the VU's: its scenario's `tags:` (and `stage`), */
    size_t n_vu;               /*   sorted, pointer-stable; a step's tag wins */
    stage_pos *stage;          /* the scenario's stage copies on this worker (with a track), or NULL */
} sample_tags;

bool series_matches(const series_def *s, const sample_tags *st);

/* ---- aggregates ---- */

/*
 * A trend series keeps its values themselves while it has at most
 * METRICS_EXACT_MAX of them, and only then the histogram: its stats are
 * exact (k6 keeps every value; med and p(N) interpolate between the
 * closest ranks, as k6 does) and stay exact through merges. The sample
 * after that moves them into the histogram, which answers from then on
 * (hdr.h: a percentile is the value at that rank to within 1/512, with
 * 1 us resolution). The room is allocated with the aggregate, 32 KiB per
 * trend series (in one block, touched only as values come): the hot path
 * stores a double while the series is small.
 * Once the run's aggregate is past the limit, a worker's aggregates stop
 * keeping values (exact_cap 0, set by agg_pair_collect): nothing is kept
 * that could no longer make the run's stats exact.
 */
#define METRICS_EXACT_MAX 4096u

/* 64 bytes: a gauge's fields and a trend's share their room. */
typedef struct series_agg {
    uint64_t count;            /* samples                                  */
    uint64_t nonzero;          /* rate: samples != 0                       */
    double sum;                /* counter: total; gauge: unused            */
    union {
        struct {
            double min, max, last;   /* gauge                              */
            int64_t last_ns;         /* gauge: time of `last`              */
        };
        struct {
            double *exact;           /* trend: the values while count <= exact_cap */
            uint64_t n_sorted;       /* trend: exact[] ascending when == count */
            uint32_t exact_cap;      /* trend: METRICS_EXACT_MAX, or 0 (see above) */
            bool fraction;           /* trend: a value that is not a whole number */
        };
    };
    hdr_hist *hist;            /* trend: the values once count > exact_cap */
} series_agg;
_Static_assert(sizeof(series_agg) == 64, "series_agg: one cache line (the hot path's)");

typedef struct metrics_agg {
    size_t n;
    series_agg *s;
    double *scratch;           /* merges of exact values (EXACT_MAX room)  */
    hdr_hist *hists;           /* the trends' histograms and kept values,  */
    double *exacts;            /*   one block each (series point into them) */
} metrics_agg;

int metrics_agg_init(metrics_agg *a, const metrics_reg *r);
void metrics_agg_free(metrics_agg *a);
void metrics_agg_clear(metrics_agg *a);
void metrics_agg_merge(metrics_agg *dst, const metrics_agg *src, const metrics_reg *r);

/* A trend value as the histogram keeps it: micro-units, 1 us resolution
 * for times in ms. */
static inline int64_t trend_micro(double v)
{
    return (int64_t)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5));
}

/* The first trend sample past exact_cap: the kept values go to the
 * histogram. */
void series_trend_to_hist(series_agg *s);

/* Hot path: one value into a trend series, s->count already counted.
 * Past 2^52 every double is whole; NaN compares false and counts as whole. */
static inline void series_add_trend(series_agg *s, double v)
{
    s->fraction |= __builtin_fabs(v) < 0x1p52 && v != (double)(int64_t)v;
    if (s->count <= s->exact_cap) {
        s->exact[s->count - 1] = v;
        return;
    }
    if (s->count == (uint64_t)s->exact_cap + 1)
        series_trend_to_hist(s);
    hdr_record(s->hist, trend_micro(v));
}

/* Hot path: one sample into a series. */
static inline void series_add(series_agg *s, volley_metric_type type, double v, int64_t now_ns)
{
    s->count++;
    switch (type) {
    case VOLLEY_METRIC_COUNTER:
        s->sum += v;
        break;
    case VOLLEY_METRIC_RATE:
        s->nonzero += v != 0;
        break;
    case VOLLEY_METRIC_GAUGE:
        if (s->count == 1 || v < s->min) s->min = v;
        if (s->count == 1 || v > s->max) s->max = v;
        if (now_ns >= s->last_ns) { s->last = v; s->last_ns = now_ns; }
        break;
    case VOLLEY_METRIC_TREND:
        series_add_trend(s, v);
        break;
    }
}

/* Records into the metric's series, every matching sub-metric and, with
 * st->stage, the current stage's copies of those. */
void metrics_record(const metrics_reg *r, metrics_agg *a, uint32_t metric,
                    double v, const sample_tags *st, int64_t now_ns);

/* Values for summaries and thresholds (trend values in the metric's unit):
 * exact while the series keeps its values, else from the histogram. */
double agg_trend_stat(const series_agg *s, const char *stat);   /* avg,min,med,max,p(N) */
double agg_rate(const series_agg *s);                             /* rate metrics */

/* A double-buffered per-worker aggregate handed to the metrics thread. */
enum { AGG_FREE = 0, AGG_FILLED = 1 };
typedef struct agg_pair {
    metrics_agg buf[2];
    int cur;                   /* worker-owned: index being written   */
    int filled;                /* index handed over; read after acquire */
    atomic_int spare_state;    /* of buf[1-cur]: AGG_FREE or AGG_FILLED */
} agg_pair;

int agg_pair_init(agg_pair *p, const metrics_reg *r);
void agg_pair_free(agg_pair *p);
/* Worker: hand over the current aggregate when the spare is free; false
 * when it was not (the metrics thread has not taken the last one). */
bool agg_pair_publish(agg_pair *p);
/* Metrics thread: merge a published aggregate into dst, if any. */
void agg_pair_collect(agg_pair *p, metrics_agg *dst, const metrics_reg *r);
/* After the worker stopped: merge everything left. */
void agg_pair_drain(agg_pair *p, metrics_agg *dst, const metrics_reg *r);
/* The same, merging into `also` too when not NULL (the current window of
 * the run's time series, windows.h). */
void agg_pair_collect_into(agg_pair *p, metrics_agg *dst, metrics_agg *also, const metrics_reg *r);
void agg_pair_drain_into(agg_pair *p, metrics_agg *dst, metrics_agg *also, const metrics_reg *r);

#endif
