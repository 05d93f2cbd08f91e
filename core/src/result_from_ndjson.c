/*
 * result_from_ndjson: json-out's raw NDJSON (k6's `--out json` lines, a
 * Metric line per metric, then a Point line per sample) into a `result`,
 * so `volley report` and `volley compare` read it as they read a result
 * file.
 *
 * The file is streamed line by line and no point is kept: each one goes
 * into the window of its own time (1-second windows from the first
 * point's time) and into the run's totals, as series aggregates of
 * metrics.h (series_add: counters sum, rates count non-zeros, gauges keep
 * min/max/last, trends keep their values while few, then the histogram of
 * hdr.h), so percentiles come out as the run computes them. Points may
 * come out of time order (json-out's reorder_window: 0, or an older
 * json-out): RING windows stay open, and the oldest closes when a point
 * needs a newer one; a point older than every open window counts in the
 * oldest (result.raw_late). The totals hold every point, the same as
 * merging the windows.
 *
 * Series are made as a run makes them for its result file: each metric,
 * per request `name` (and per `scenario`, when there are several) the
 * request metrics (spec_tags.c, spec.c add_scenario_series), each check
 * (`check` and `group` tags), and http_reqs per failing `status` and per
 * `error_code` (the report's failures chart). What the stream cannot say
 * stays unknown: thresholds, verdict, exit code, the generator's health.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "result_int.h"

#define NS_PER_S INT64_C(1000000000)
/* Open windows: points up to RING - 1 seconds out of time order land in
 * their own window (json-out without reorder_window: a few hundred ms). */
#define RING 4
/* A point this many windows past the newest is a broken time, not a run. */
#define MAX_JUMP 1000000
/* As spec_tags.c BREAKDOWN_MAX_NAMES: request names broken down. */
#define NAMES_MAX 200
/* Failing status / error_code values, and check items, given a series. */
#define FAIL_TAGS_MAX 100
#define CHECKS_MAX 1000
/* Trend rooms (a histogram and METRICS_EXACT_MAX values) per allocation:
 * past malloc's mmap threshold, so pages no value reaches stay untouched. */
#define ROOMS_PER_CHUNK 16

enum { ROLE_NAME = 1, ROLE_SCENARIO = 2, ROLE_FAIL_BY = 4, ROLE_CHECKS = 8, ROLE_CAPTURES = 16 };

typedef struct nd_metric {
    char *name;
    volley_metric_type type;
    rr_contains contains;
    unsigned roles;
    long series;             /* its own series, -1 before its first point */
} nd_metric;

typedef struct nd_series {
    uint32_t metric;
    rr_kind kind;
    char *key;
    rr_tag tags[2];
    size_t n_tags;
} nd_series;

/* A string-keyed hash table of indexes; keys are owned elsewhere. */
typedef struct smap_ent {
    const char *key;
    uint64_t hash;
    uint32_t val;
} smap_ent;

typedef struct smap {
    smap_ent *e;
    size_t cap, n;
} smap;

typedef struct room_chunk {
    hdr_hist *hists;
    double *exacts;
    size_t used;
} room_chunk;

typedef struct nd {
    result *r;
    const char *path;
    size_t line;
    char *err;
    size_t errcap;

    nd_metric *metrics;
    size_t n_metrics, cap_metrics;
    smap metric_map;
    nd_series *series;
    size_t n_series, cap_series;   /* cap_series: room of totals and ring[] */
    smap series_map;
    smap names;                    /* request names given a breakdown */
    char **name_keys;
    size_t n_fail_tags, n_checks;
    size_t n_scenarios;            /* distinct scenario values seen (up to 2) */
    char *scenario0;

    series_agg *totals;
    series_agg *ring[RING];
    int64_t base, top;             /* open windows: base..top (top < base: none) */
    bool any_point;
    int64_t t_first, t_last;
    rr_time_cache tc;

    room_chunk *chunks;
    size_t n_chunks, cap_chunks;
    size_t cap_windows;

    char *kb;                      /* a series key being built */
    size_t kb_cap;
    /* The metrics the runner's figures come from, -1 when not in the stream. */
    long m_vus, m_vus_max, m_dropped, m_lag;
} nd;

/* Every error of a line names it: the stream has a line, always >= 1 here. */
#define fail(d, ...) rr__fail((d)->err, (d)->errcap, (d)->path, (d)->line, __VA_ARGS__)

static int oom(nd *d) { return fail(d, "out of memory"); }

static char *iso_utc(int64_t ns)
{
    char buf[40];
    time_t sec = (time_t)(ns >= 0 ? ns / NS_PER_S : (ns - NS_PER_S + 1) / NS_PER_S);
    int64_t ms = (ns - (int64_t)sec * NS_PER_S) / 1000000;
    struct tm tm;
    if (!gmtime_r(&sec, &tm))
        return rr__dup("");
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)ms);
    return rr__dup(buf);
}

/* ---- a string map ---- */

static uint64_t hash_of(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}

static long smap_get(const smap *m, const char *key, uint64_t h)
{
    if (!m->cap)
        return -1;
    for (size_t k = h & (m->cap - 1); m->e[k].key; k = (k + 1) & (m->cap - 1))
        if (m->e[k].hash == h && strcmp(m->e[k].key, key) == 0)
            return m->e[k].val;
    return -1;
}

/* key must outlive the map. 0 or -1 (out of memory). */
static int smap_put(smap *m, const char *key, uint64_t h, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        smap_ent *e = calloc(cap, sizeof *e);
        if (!e)
            return -1;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].key)
                continue;
            size_t k = m->e[i].hash & (cap - 1);
            while (e[k].key)
                k = (k + 1) & (cap - 1);
            e[k] = m->e[i];
        }
        free(m->e);
        m->e = e;
        m->cap = cap;
    }
    size_t k = h & (m->cap - 1);
    while (m->e[k].key)
        k = (k + 1) & (m->cap - 1);
    m->e[k] = (smap_ent){.key = key, .hash = h, .val = val};
    m->n++;
    return 0;
}

/* ---- series ---- */

/* A trend aggregate's room for its values and its histogram, kept for
 * the reader's life (a ring slot reuses it window after window). */
static int trend_room(nd *d, series_agg *a)
{
    room_chunk *c = d->n_chunks ? &d->chunks[d->n_chunks - 1] : NULL;
    if (!c || c->used == ROOMS_PER_CHUNK) {
        if (d->n_chunks == d->cap_chunks) {
            size_t cap = d->cap_chunks ? d->cap_chunks * 2 : 8;
            room_chunk *n = realloc(d->chunks, cap * sizeof *n);
            if (!n)
                return -1;
            d->chunks = n;
            d->cap_chunks = cap;
        }
        c = &d->chunks[d->n_chunks];
        c->hists = calloc(ROOMS_PER_CHUNK, sizeof *c->hists);
        c->exacts = malloc(ROOMS_PER_CHUNK * METRICS_EXACT_MAX * sizeof *c->exacts);
        c->used = 0;
        if (!c->hists || !c->exacts) {
            free(c->hists);
            free(c->exacts);
            return -1;
        }
        d->n_chunks++;
    }
    a->hist = &c->hists[c->used];
    a->exact = &c->exacts[c->used * METRICS_EXACT_MAX];
    a->exact_cap = METRICS_EXACT_MAX;
    c->used++;
    return 0;
}

static int key_room(nd *d, size_t need)
{
    if (need <= d->kb_cap)
        return 0;
    size_t cap = d->kb_cap ? d->kb_cap : 256;
    while (cap < need)
        cap *= 2;
    char *n = realloc(d->kb, cap);
    if (!n)
        return -1;
    d->kb = n;
    d->kb_cap = cap;
    return 0;
}

/* d->kb = "metric{tag:value}" (tag NULL: "metric"; check: "group::check"). */
static int build_key(nd *d, const char *metric, const char *tag, const char *value)
{
    size_t n = strlen(metric) + (tag ? strlen(tag) + strlen(value) + 3 : 0) + 1;
    if (key_room(d, n) != 0)
        return -1;
    if (tag)
        snprintf(d->kb, n, "%s{%s:%s}", metric, tag, value);
    else
        memcpy(d->kb, metric, n);
    return 0;
}

static int grow_series(nd *d)
{
    size_t cap = d->cap_series ? d->cap_series * 2 : 64;
    series_agg **arrs[RING + 1];
    arrs[0] = &d->totals;
    for (int k = 0; k < RING; k++)
        arrs[k + 1] = &d->ring[k];
    for (int k = 0; k < RING + 1; k++) {
        series_agg *n = realloc(*arrs[k], cap * sizeof *n);
        if (!n)
            return -1;
        memset(n + d->cap_series, 0, (cap - d->cap_series) * sizeof *n);
        *arrs[k] = n;
    }
    nd_series *s = realloc(d->series, cap * sizeof *s);
    if (!s)
        return -1;
    d->series = s;
    d->cap_series = cap;
    return 0;
}

/* The series of key d->kb (made when new); -1 out of memory. */
static long series_for(nd *d, uint32_t metric, rr_kind kind, const char *t1, const char *v1, const char *t2,
                       const char *v2)
{
    uint64_t h = hash_of(d->kb);
    long si = smap_get(&d->series_map, d->kb, h);
    if (si >= 0)
        return si;
    if (d->n_series == d->cap_series && grow_series(d) != 0)
        return -1;
    nd_series *s = &d->series[d->n_series];
    memset(s, 0, sizeof *s);
    s->metric = metric;
    s->kind = kind;
    s->key = rr__dup(d->kb);
    if (!s->key)
        return -1;
    const char *tv[2][2] = {{t1, v1}, {t2, v2}};
    for (int k = 0; k < 2 && tv[k][0]; k++) {
        s->tags[k].name = rr__dup(tv[k][0]);
        s->tags[k].value = rr__dup(tv[k][1]);
        s->n_tags++;
        if (!s->tags[k].name || !s->tags[k].value)
            return -1;
    }
    if (smap_put(&d->series_map, s->key, h, (uint32_t)d->n_series) != 0)
        return -1;
    return (long)d->n_series++;
}

static void agg_clear(series_agg *a)
{
    hdr_hist *h = a->hist;
    double *exact = a->exact;
    uint32_t cap = a->exact_cap;
    memset(a, 0, sizeof *a);
    if (!h)
        return;
    a->hist = h;
    a->exact = exact;
    a->exact_cap = cap;
    if (h->total)
        hdr_clear(h);
}

/* One point into series si: its window and the totals. */
static int add(nd *d, long si, int64_t w, double v, int64_t t)
{
    volley_metric_type type = d->metrics[d->series[si].metric].type;
    series_agg *as[2] = {&d->ring[w % RING][si], &d->totals[si]};
    for (int k = 0; k < 2; k++) {
        if (type == VOLLEY_METRIC_TREND && !as[k]->hist && trend_room(d, as[k]) != 0)
            return oom(d);
        series_add(as[k], type, v, t);
    }
    return 0;
}

/* ---- windows ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* An aggregate's state as a result file's line would carry it. */
static void stat_of(series_agg *a, volley_metric_type type, rr_stat *st)
{
    st->n = (double)a->count;
    st->has = RR_HAS_N;
    switch (type) {
    case VOLLEY_METRIC_COUNTER:
        st->sum = a->sum;
        st->has |= RR_HAS_SUM;
        break;
    case VOLLEY_METRIC_RATE:
        st->nz = (double)a->nonzero;
        st->has |= RR_HAS_NZ;
        break;
    case VOLLEY_METRIC_GAUGE:
        st->min = a->min;
        st->max = a->max;
        st->last = a->last;
        st->has |= RR_HAS_MINMAX | RR_HAS_LAST;
        break;
    case VOLLEY_METRIC_TREND: {
        /* Sorted once here rather than copied and sorted per statistic. */
        if (a->count <= a->exact_cap && a->n_sorted != a->count) {
            qsort(a->exact, a->count, sizeof *a->exact, cmp_double);
            a->n_sorted = a->count;
        }
        static const char *const ps[RR_NP] = {"med", "p(90)", "p(95)", "p(99)"};
        st->avg = agg_trend_stat(a, "avg");
        st->sum = st->avg * st->n;
        st->min = agg_trend_stat(a, "min");
        st->max = agg_trend_stat(a, "max");
        for (int k = 0; k < RR_NP; k++)
            st->p[k] = agg_trend_stat(a, ps[k]);
        st->has |= RR_HAS_SUM | RR_HAS_MINMAX | RR_HAS_AVG | RR_HAS_P;
        break;
    }
    }
}

static double own(nd *d, long metric, const series_agg *slot, int what)
{
    if (metric < 0 || d->metrics[metric].series < 0)
        return NAN;
    const series_agg *a = &slot[d->metrics[metric].series];
    switch (what) {
    case 0: return a->count ? a->last : NAN;                  /* gauge */
    case 1: return a->sum;                                    /* counter: 0 without a point */
    case 2: return a->count ? agg_trend_stat(a, "p(95)") : NAN;
    default: return a->count ? agg_trend_stat(a, "max") : NAN;
    }
}

/* Window w becomes a result window; its ring slot is cleared for reuse. */
static int close_window(nd *d, int64_t w)
{
    result *r = d->r;
    series_agg *slot = d->ring[w % RING];
    if (r->n_windows == d->cap_windows) {
        size_t cap = d->cap_windows ? d->cap_windows * 2 : 256;
        rr_window *n = realloc(r->windows, cap * sizeof *n);
        if (!n)
            return oom(d);
        r->windows = n;
        d->cap_windows = cap;
    }
    rr_window *win = &r->windows[r->n_windows];
    memset(win, 0, sizeof *win);
    win->t0 = (double)w;
    win->t1 = (double)(w + 1);
    size_t n = 0;
    for (size_t i = 0; i < d->n_series; i++)
        n += slot[i].count > 0;
    if (n && !(win->s = calloc(n, sizeof *win->s)))
        return oom(d);
    r->n_windows++;
    /* The runner's figures the stream has; the rest stays unknown. */
    rr_runner *u = &win->runner;
    u->present = true;
    u->vus = own(d, d->m_vus, slot, 0);
    u->vus_max = own(d, d->m_vus_max, slot, 0);
    u->dropped = own(d, d->m_dropped, slot, 1);
    u->lag_p95_ms = own(d, d->m_lag, slot, 2);
    u->lag_max_ms = own(d, d->m_lag, slot, 3);
    u->cpu_pct = u->busiest_worker_pct = NAN;
    for (size_t i = 0; i < d->n_series; i++) {
        if (!slot[i].count)
            continue;
        rr_stat *st = &win->s[win->n++];
        st->series = (uint32_t)i;
        stat_of(&slot[i], d->metrics[d->series[i].metric].type, st);
        agg_clear(&slot[i]);
    }
    return 0;
}

/* The window of time t, opening it (and closing the oldest) as needed. */
static int window_of(nd *d, int64_t t, int64_t *out)
{
    int64_t w = t >= d->t_first ? (t - d->t_first) / NS_PER_S : 0;
    if (w > d->top) {
        if (w - d->top > MAX_JUMP)
            return fail(d, "a point %.0f s after the newest one before it (a broken time?)",
                        (double)(w - d->top));
        /* Seconds without a point still are windows of the run. */
        while (w - d->base >= RING)
            if (close_window(d, d->base++) != 0)
                return -1;
        d->top = w;
    }
    if (w < d->base) {
        w = d->base;
        d->r->raw_late++;
    }
    *out = w;
    return 0;
}

/* ---- lines ---- */

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int metric_line(nd *d, json_t *o)
{
    json_t *data = json_object_get(o, "data");
    const char *name = str_of(data, "name"), *type = str_of(data, "type"), *contains = str_of(data, "contains");
    if (!name || !*name || !type)
        return fail(d, "a Metric line without data.name and data.type");
    volley_metric_type t;
    if (!strcmp(type, "counter"))
        t = VOLLEY_METRIC_COUNTER;
    else if (!strcmp(type, "gauge"))
        t = VOLLEY_METRIC_GAUGE;
    else if (!strcmp(type, "rate"))
        t = VOLLEY_METRIC_RATE;
    else if (!strcmp(type, "trend"))
        t = VOLLEY_METRIC_TREND;
    else
        return fail(d, "metric \"%s\" has type \"%s\" (expected counter, gauge, rate or trend)", name, type);
    uint64_t h = hash_of(name);
    long mi = smap_get(&d->metric_map, name, h);
    if (mi >= 0) {
        if (d->metrics[mi].type != t)
            return fail(d, "metric \"%s\" again, with another type (%s)", name, type);
        return 0;
    }
    if (d->n_metrics == d->cap_metrics) {
        size_t cap = d->cap_metrics ? d->cap_metrics * 2 : 32;
        nd_metric *n = realloc(d->metrics, cap * sizeof *n);
        if (!n)
            return oom(d);
        d->metrics = n;
        d->cap_metrics = cap;
    }
    nd_metric *m = &d->metrics[d->n_metrics];
    memset(m, 0, sizeof *m);
    m->name = rr__dup(name);
    if (!m->name)
        return oom(d);
    m->type = t;
    m->contains = contains && !strcmp(contains, "time") ? RR_TIME
                : contains && !strcmp(contains, "data") ? RR_DATA : RR_DEFAULT;
    m->series = -1;
    /* Which breakdowns a run makes of it (spec_tags.c, spec.c). */
    static const char *const by_name[] = {"http_reqs", "http_req_duration", "http_req_failed",
                                          "ws_sessions", "ws_session_duration", "ws_session_failed"};
    static const char *const by_scenario[] = {"iterations", "http_reqs", "http_req_duration", "http_req_failed",
                                              "dropped_iterations"};
    for (size_t k = 0; k < sizeof by_name / sizeof by_name[0]; k++)
        m->roles |= strcmp(name, by_name[k]) ? 0 : ROLE_NAME;
    for (size_t k = 0; k < sizeof by_scenario / sizeof by_scenario[0]; k++)
        m->roles |= strcmp(name, by_scenario[k]) ? 0 : ROLE_SCENARIO;
    m->roles |= strcmp(name, "http_reqs") ? 0 : ROLE_FAIL_BY;
    m->roles |= strcmp(name, "checks") ? 0 : ROLE_CHECKS;
    m->roles |= strcmp(name, "captures") ? 0 : ROLE_CAPTURES;
    long *roles[] = {&d->m_vus, &d->m_vus_max, &d->m_dropped, &d->m_lag};
    static const char *const role_names[] = {"vus", "vus_max", "dropped_iterations", "volley_schedule_lag"};
    for (size_t k = 0; k < 4; k++)
        if (!strcmp(name, role_names[k]))
            *roles[k] = (long)d->n_metrics;
    if (smap_put(&d->metric_map, m->name, h, (uint32_t)d->n_metrics) != 0) {
        free(m->name);
        return oom(d);
    }
    d->n_metrics++;
    return 0;
}

/* A request name gets its breakdown while there are fewer than NAMES_MAX. */
static bool name_kept(nd *d, const char *name)
{
    uint64_t h = hash_of(name);
    if (smap_get(&d->names, name, h) >= 0)
        return true;
    if (d->names.n >= NAMES_MAX) {
        d->r->raw_names_capped = true;
        return false;
    }
    char *k = rr__dup(name);
    if (!k || smap_put(&d->names, k, h, (uint32_t)d->names.n) != 0) {
        free(k);
        return false;
    }
    d->name_keys[d->names.n - 1] = k;
    return true;
}

static int tagged(nd *d, uint32_t mi, rr_kind kind, const char *tag, const char *value, int64_t w, double v,
                  int64_t t)
{
    if (build_key(d, d->metrics[mi].name, tag, value) != 0)
        return oom(d);
    long si = series_for(d, mi, kind, tag, value, NULL, NULL);
    return si < 0 ? oom(d) : add(d, si, w, v, t);
}

/* A Point line as jansson read it (one the scanner gave up on). */
static void line_of(json_t *o, rr_line *l)
{
    memset(l, 0, sizeof *l);
    l->type = str_of(o, "type");
    l->metric = str_of(o, "metric");
    json_t *data = json_object_get(o, "data");
    json_t *tv = json_object_get(data, "time"), *vv = json_object_get(data, "value");
    if (json_is_string(tv)) {
        l->time = json_string_value(tv);
        l->time_len = json_string_length(tv);
    }
    l->has_value = json_is_number(vv);
    l->value = l->has_value ? json_number_value(vv) : 0;
    json_t *tags = json_object_get(data, "tags");
    for (int k = 0; k < RR_NTAGS; k++)
        l->tag[k] = str_of(tags, rr_tag_names[k]);
}

static int point_line(nd *d, const rr_line *l)
{
    const char *mname = l->metric;
    if (!mname)
        return fail(d, "a Point line without \"metric\"");
    if (!l->time || !l->has_value)
        return fail(d, "a Point line without data.time (a string) and data.value (a number)");
    long mi = smap_get(&d->metric_map, mname, hash_of(mname));
    if (mi < 0)
        return fail(d, "a Point of metric \"%s\" before its Metric line", mname);
    int64_t t;
    if (rr__parse_time_cached(&d->tc, l->time, l->time_len, &t) != 0)
        return fail(d, "data.time \"%s\" is not an RFC 3339 time", l->time);
    double v = l->value;
    result *r = d->r;
    if (!d->any_point) {
        d->any_point = true;
        d->t_first = d->t_last = t;
        d->base = 0;
        d->top = -1;
    }
    if (t > d->t_last)
        d->t_last = t;
    r->raw_points++;
    int64_t w = 0;
    if (window_of(d, t, &w) != 0)
        return -1;
    nd_metric *m = &d->metrics[mi];
    if (m->series < 0) {
        if (build_key(d, m->name, NULL, NULL) != 0 || (m->series = series_for(d, (uint32_t)mi, RR_METRIC, NULL, NULL,
                                                                                NULL, NULL)) < 0)
            return oom(d);
    }
    if (add(d, m->series, w, v, t) != 0)
        return -1;
    if (!m->roles)
        return 0;
    const char *name = l->tag[RR_TAG_NAME], *sc = l->tag[RR_TAG_SCENARIO];
    if (m->roles & ROLE_NAME && name && name_kept(d, name) &&
        tagged(d, (uint32_t)mi, RR_BREAKDOWN, "name", name, w, v, t) != 0)
        return -1;
    if (m->roles & ROLE_SCENARIO && sc) {
        if (d->n_scenarios == 0) {
            if (!(d->scenario0 = rr__dup(sc)))
                return oom(d);
            d->n_scenarios = 1;
        } else if (d->n_scenarios == 1 && strcmp(sc, d->scenario0) != 0) {
            d->n_scenarios = 2;
        }
        if (tagged(d, (uint32_t)mi, RR_BREAKDOWN, "scenario", sc, w, v, t) != 0)
            return -1;
    }
    if (m->roles & ROLE_FAIL_BY) {
        const char *st = l->tag[RR_TAG_STATUS], *ec = l->tag[RR_TAG_ERROR_CODE];
        /* Disjoint: a response's failing status, else (no response) its
         * error_code, else status 0. */
        bool bad_status = st && st[0] >= '4';
        bool by_code = !bad_status && ec && *ec;
        const char *which[2][2] = {{"status", bad_status || (!by_code && st && st[0] == '0') ? st : NULL},
                                   {"error_code", by_code ? ec : NULL}};
        for (int k = 0; k < 2; k++) {
            if (!which[k][1])
                continue;
            if (build_key(d, m->name, which[k][0], which[k][1]) != 0)
                return oom(d);
            if (smap_get(&d->series_map, d->kb, hash_of(d->kb)) < 0 && d->n_fail_tags++ >= FAIL_TAGS_MAX)
                continue;
            if (tagged(d, (uint32_t)mi, RR_BREAKDOWN, which[k][0], which[k][1], w, v, t) != 0)
                return -1;
        }
    }
    if (m->roles & (ROLE_CHECKS | ROLE_CAPTURES)) {
        /* a capture's series names it as a check series does (result.c) */
        bool cap = m->roles & ROLE_CAPTURES;
        const char *check = l->tag[cap ? RR_TAG_CAPTURE : RR_TAG_CHECK], *group = l->tag[RR_TAG_GROUP];
        if (!check)
            return 0;
        group = group ? group : "";
        /* As metrics_add_hidden names them: "group::check", "check" at the
         * top (a capture's apart from a check of its name). */
        size_t n = strlen(group) + strlen(check) + 3 + (cap ? 10 : 0);
        if (key_room(d, n) != 0)
            return oom(d);
        snprintf(d->kb, n, "%s%s%s%s", cap ? "captures: " : "", group, *group ? "::" : "", check);
        if (smap_get(&d->series_map, d->kb, hash_of(d->kb)) < 0 && d->n_checks++ >= CHECKS_MAX)
            return 0;
        long si = series_for(d, (uint32_t)mi, cap ? RR_CAPTURE : RR_CHECK, "check", check, "group",
                             group);
        if (si < 0)
            return oom(d);
        return add(d, si, w, v, t);
    }
    return 0;
}

/* ---- the result ---- */

/* Per-scenario series only with several scenarios, as a run makes them. */
static bool series_kept(const nd *d, size_t i)
{
    const nd_series *s = &d->series[i];
    return !(d->n_scenarios < 2 && s->kind == RR_BREAKDOWN && s->n_tags == 1 && !strcmp(s->tags[0].name, "scenario"));
}

static int finish(nd *d)
{
    result *r = d->r;
    if (d->any_point)
        while (d->base <= d->top)
            if (close_window(d, d->base++) != 0)
                return -1;
    double dur = d->any_point ? (double)(d->t_last - d->t_first) / 1e9 : 0;
    if (r->n_windows) {
        rr_window *last = &r->windows[r->n_windows - 1];
        last->t1 = dur > last->t0 ? dur : last->t0;
    }
    /* Series: renumbered without the dropped ones (windows follow). */
    long *map = malloc((d->n_series ? d->n_series : 1) * sizeof *map);
    r->series = calloc(d->n_series ? d->n_series : 1, sizeof *r->series);
    r->totals = calloc(d->n_series ? d->n_series : 1, sizeof *r->totals);
    if (!map || !r->series || !r->totals) {
        free(map);
        return oom(d);
    }
    size_t n_checks = 0, n_captures = 0;
    for (size_t i = 0; i < d->n_series; i++) {
        map[i] = -1;
        if (!series_kept(d, i))
            continue;
        nd_series *s = &d->series[i];
        const nd_metric *m = &d->metrics[s->metric];
        size_t k = r->n_series++;
        map[i] = (long)k;
        rr_series *o = &r->series[k];
        o->id = (int64_t)k;
        o->key = s->key;
        s->key = NULL;
        o->metric = rr__dup(m->name);
        o->kind = s->kind;
        o->type = m->type == VOLLEY_METRIC_COUNTER ? RR_COUNTER : m->type == VOLLEY_METRIC_RATE ? RR_RATE
                : m->type == VOLLEY_METRIC_GAUGE ? RR_GAUGE : RR_TREND;
        o->contains = m->contains;
        if (s->n_tags && !(o->tags = calloc(s->n_tags, sizeof *o->tags))) {
            free(map);
            return oom(d);
        }
        for (size_t t = 0; t < s->n_tags; t++) {
            o->tags[t] = s->tags[t];
            s->tags[t].name = s->tags[t].value = NULL;
        }
        o->n_tags = s->n_tags;
        s->n_tags = 0;
        r->totals[k].series = (uint32_t)k;
        stat_of(&d->totals[i], m->type, &r->totals[k]);
        n_checks += s->kind == RR_CHECK;
        n_captures += s->kind == RR_CAPTURE;
        if (!o->metric) {
            free(map);
            return oom(d);
        }
    }
    for (size_t w = 0; w < r->n_windows; w++) {
        rr_window *win = &r->windows[w];
        size_t keep = 0;
        for (size_t k = 0; k < win->n; k++) {
            long to = map[win->s[k].series];
            if (to < 0)
                continue;
            win->s[keep] = win->s[k];
            win->s[keep++].series = (uint32_t)to;
        }
        win->n = keep;
    }
    free(map);
    if ((n_checks && !(r->checks = calloc(n_checks, sizeof *r->checks))) ||
        (n_captures && !(r->captures = calloc(n_captures, sizeof *r->captures))))
        return oom(d);
    for (size_t i = 0; i < r->n_series; i++) {
        const rr_series *s = &r->series[i];
        if (s->kind != RR_CHECK && s->kind != RR_CAPTURE)
            continue;
        rr_check *c = s->kind == RR_CHECK ? &r->checks[r->n_checks++] : &r->captures[r->n_captures++];
        c->group = rr__dup(result_tag(s, "group"));
        c->name = rr__dup(result_tag(s, "check"));
        c->passes = r->totals[i].nz;
        c->fails = r->totals[i].n - r->totals[i].nz;
        if (!c->group || !c->name)
            return oom(d);
    }
    /* What the header shows: the file, the points' times. */
    const char *base = strrchr(d->path, '/');
    r->spec_name = rr__dup(base ? base + 1 : d->path);
    r->spec_path = rr__dup("");
    r->volley = rr__dup("");
    r->start = d->any_point ? iso_utc(d->t_first) : rr__dup("");
    r->end_time = d->any_point ? iso_utc(d->t_last) : rr__dup("");
    r->start_unix_ms = d->any_point ? (double)d->t_first / 1e6 : 0;
    r->window_s = 1;
    r->duration_s = dur;
    r->verdict = rr__dup("none (raw NDJSON)");
    r->abort_reason = rr__dup("");
    r->exit_code = -1;
    r->complete = false;
    long it = smap_get(&d->metric_map, "iterations", hash_of("iterations"));
    if (it >= 0 && d->metrics[it].series >= 0)
        r->iterations_complete = d->totals[d->metrics[it].series].sum;
    for (size_t w = 0; w < r->n_windows; w++) {
        rr_runner *u = &r->windows[w].runner;
        if (isfinite(u->vus_max) && u->vus_max > r->vus_max)
            r->vus_max = u->vus_max;
        /* json-out writes a metric's Metric line with its first point: once
         * dropped_iterations is in the stream, a window without one had none. */
        if (d->m_dropped >= 0 && !isfinite(u->dropped))
            u->dropped = 0;
    }
    if (!r->spec_name || !r->spec_path || !r->volley || !r->start || !r->end_time || !r->verdict || !r->abort_reason)
        return oom(d);
    return 0;
}

static void nd_free(nd *d)
{
    for (size_t i = 0; i < d->n_metrics; i++)
        free(d->metrics[i].name);
    free(d->metrics);
    for (size_t i = 0; i < d->n_series; i++) {
        free(d->series[i].key);
        for (size_t t = 0; t < d->series[i].n_tags; t++) {
            free(d->series[i].tags[t].name);
            free(d->series[i].tags[t].value);
        }
    }
    free(d->series);
    free(d->metric_map.e);
    free(d->series_map.e);
    free(d->names.e);
    for (size_t i = 0; d->name_keys && i < NAMES_MAX; i++)
        free(d->name_keys[i]);
    free(d->name_keys);
    free(d->scenario0);
    free(d->totals);
    for (int k = 0; k < RING; k++)
        free(d->ring[k]);
    for (size_t i = 0; i < d->n_chunks; i++) {
        free(d->chunks[i].hists);
        free(d->chunks[i].exacts);
    }
    free(d->chunks);
    free(d->kb);
}

int rr__from_ndjson(gzFile f, const char *path, result *r, char *err, size_t errcap)
{
    nd d = {.r = r, .path = path, .err = err, .errcap = errcap, .m_vus = -1, .m_vus_max = -1, .m_dropped = -1,
            .m_lag = -1, .top = -1};
    char *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = -1;
    r->raw = true;
    if (!(d.name_keys = calloc(NAMES_MAX, sizeof *d.name_keys))) {
        oom(&d);
        goto out;
    }
    for (;;) {
        int got = rr__next_line(f, &buf, &cap, &len);
        if (got == 0)
            break;
        d.line++;
        if (got < 0) {
            if (got == -3 && d.line > 1) {
                /* A gzip stream cut short (the run died): what came before. */
                r->raw_cut = true;
                d.line--;
                break;
            }
            fail(&d, got == -1 ? "out of memory" : got == -2 ? "a line longer than 256 MB"
                                                             : "cannot read (not gzip, or corrupt)");
            goto out;
        }
        bool ended = len && buf[len - 1] == '\n';
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        if (len == 0)
            continue;
        rr_line l;
        if (rr__scan_line(buf, len, &l)) {
            if (point_line(&d, &l) != 0)
                goto out;
            continue;
        }
        json_error_t je;
        /* Integers as doubles, as the scanner reads them (no "too big integer"). */
        json_t *o = json_loadb(buf, len, JSON_DECODE_INT_AS_REAL, &je);
        if (!o) {
            if (!ended && d.line > 1) {
                /* The last line, cut mid-write: the run died there. */
                r->raw_cut = true;
                d.line--;
                break;
            }
            fail(&d, "not JSON: %s (column %d)", je.text, je.column);
            goto out;
        }
        const char *type = str_of(o, "type");
        int e;
        if (type && !strcmp(type, "Point")) {
            line_of(o, &l);
            e = point_line(&d, &l);
        }
        else if (type && !strcmp(type, "Metric"))
            e = metric_line(&d, o);
        else
            e = fail(&d, "a line of type \"%s\" (json-out's NDJSON has Metric and Point lines only)",
                     type ? type : "(none)");
        json_decref(o);
        if (e != 0)
            goto out;
    }
    r->line_count = d.line;
    if (finish(&d) != 0)
        goto out;
    rc = 0;
out:
    nd_free(&d);
    free(buf);
    return rc;
}
