/*
 * The series table: a sample's (metric, tag set pointer) finds its series
 * in one probe of the alias table; a pointer not seen before is resolved
 * once by content (the labels as Prometheus sees them), so equal tag sets
 * of two workers, or two sets that differ only in an empty tag, are one
 * series, as they are one in Prometheus.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prw_int.h"

struct prw_alias {
    const volley_tagset *ts;
    uint32_t metric;
    uint32_t idx;                /* series index + 1; 0: empty slot */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

void prw_table_init(prw_table *t, const volley_host *host, volley_core *core, const char *prefix,
                    const prw_stat *stats, size_t n_stats)
{
    memset(t, 0, sizeof *t);
    t->host = host;
    t->core = core;
    t->prefix = prefix;
    t->stats = stats;
    t->n_stats = n_stats;
}

static void series_free(prw_series *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_labels; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
    for (size_t i = 0; s->names && i < s->n_names; i++)
        free(s->names[i]);
    free(s->names);
    free(s->key);
    free(s->hist);
    if (s->nh)
        prw_nh_free(s->nh);
    free(s->nh);
    free(s->exact);
    free(s);
}

void prw_table_free(prw_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        series_free(t->s[i]);
    free(t->s);
    free(t->alias);
    free(t->by_key);
    free(t->scratch);
    memset(t, 0, sizeof *t);
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const prw_label *)a)->name, ((const prw_label *)b)->name);
}

static char *name_dup(const char *tag)
{
    size_t n = prw_label_name(NULL, 0, tag);
    char *out = malloc(n + 1);
    if (out)
        prw_label_name(out, n + 1, tag);
    return out;
}

static char *series_name(const prw_table *t, const char *metric, volley_metric_type type,
                         const char *suffix)
{
    size_t n = prw_series_name(NULL, 0, t->prefix, metric, type, suffix);
    char *out = malloc(n + 1);
    if (out)
        prw_series_name(out, n + 1, t->prefix, metric, type, suffix);
    return out;
}

/* The series name of metric + what as a metric of that type: a rate's
 * counts (checks -> k6_checks_passes_total; passes and fails are the
 * summary export's fields), a native histogram's unit (a gauge's name:
 * k6_http_req_duration_seconds). */
static char *name_with(const prw_table *t, const char *metric, const char *what, volley_metric_type type)
{
    size_t n = strlen(metric) + strlen(what) + 1;
    char *m = malloc(n);
    if (!m)
        return NULL;
    snprintf(m, n, "%s%s", metric, what);
    char *out = series_name(t, m, type, NULL);
    free(m);
    return out;
}

/* The labels of a tag set: non-empty tags (k6 leaves empty ones out),
 * __name__ (value NULL here), sorted by name; of two tags that became
 * one label name, the first. */
static prw_series *series_new(const prw_table *t, uint32_t metric, const volley_metric_info *mi,
                              const volley_tagset *ts)
{
    prw_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->metric = metric;
    s->type = mi->type;
    s->time = mi->contains == VOLLEY_CONTAINS_TIME;
    s->labels = calloc(ts->n + 1, sizeof *s->labels);
    if (!s->labels)
        goto fail;
    s->labels[s->n_labels++].name = strdup("__name__");
    if (!s->labels[0].name)
        goto fail;
    for (size_t i = 0; i < ts->n; i++) {
        const volley_tag *g = &ts->tags[i];
        if (!g->key || !g->value || !*g->key || !*g->value)
            continue;
        prw_label *l = &s->labels[s->n_labels];
        l->name = name_dup(g->key);
        if (l->name && strncmp(l->name, "__", 2) == 0) {   /* Prometheus' own */
            free(l->name);
            l->name = NULL;
            continue;
        }
        l->value = strdup(g->value);
        s->n_labels++;
        if (!l->name || !l->value)
            goto fail;
    }
    qsort(s->labels, s->n_labels, sizeof *s->labels, label_cmp);
    size_t k = 0;
    for (size_t i = 0; i < s->n_labels; i++) {
        if (k && strcmp(s->labels[k - 1].name, s->labels[i].name) == 0) {
            free(s->labels[i].name);
            free(s->labels[i].value);
            continue;
        }
        s->labels[k++] = s->labels[i];
    }
    s->n_labels = k;
    for (size_t i = 0; i < s->n_labels; i++)
        if (!s->labels[i].value)
            s->name_at = i;
    bool native = s->type == VOLLEY_METRIC_TREND && t->native;
    s->n_names = native ? 1 : s->type == VOLLEY_METRIC_TREND ? t->n_stats
                 : s->type == VOLLEY_METRIC_RATE && t->rate_counts ? 3 : 1;
    s->names = calloc(s->n_names ? s->n_names : 1, sizeof *s->names);
    if (!s->names)
        goto fail;
    for (size_t i = 0; i < s->n_names; i++) {
        if (native)   /* k6: the base unit as the suffix */
            s->names[i] = name_with(t, mi->name, s->time ? "_seconds"
                                    : mi->contains == VOLLEY_CONTAINS_DATA ? "_bytes" : "", VOLLEY_METRIC_GAUGE);
        else if (s->type == VOLLEY_METRIC_RATE && i > 0)
            s->names[i] = name_with(t, mi->name, i == 1 ? "_passes" : "_fails", VOLLEY_METRIC_COUNTER);
        else
            s->names[i] = series_name(t, mi->name, s->type,
                                      s->type == VOLLEY_METRIC_TREND ? t->stats[i].suffix : NULL);
        if (!s->names[i])
            goto fail;
    }
    if (native ? !(s->nh = calloc(1, sizeof *s->nh))
               : s->type == VOLLEY_METRIC_TREND && !(s->hist = calloc(1, sizeof *s->hist)))
        goto fail;
    s->latest_ms = s->pushed_ms = INT64_MIN;
    return s;
fail:
    series_free(s);
    return NULL;
}

/* metric id, then name\0value\0 per label: the series' identity. */
static int content_key(prw_series *s)
{
    size_t n = sizeof s->metric;
    for (size_t i = 0; i < s->n_labels; i++)
        if (i != s->name_at)
            n += strlen(s->labels[i].name) + strlen(s->labels[i].value) + 2;
    char *k = malloc(n);
    if (!k)
        return -1;
    memcpy(k, &s->metric, sizeof s->metric);
    size_t at = sizeof s->metric;
    for (size_t i = 0; i < s->n_labels; i++) {
        if (i == s->name_at)
            continue;
        size_t a = strlen(s->labels[i].name) + 1, b = strlen(s->labels[i].value) + 1;
        memcpy(k + at, s->labels[i].name, a);
        memcpy(k + at + a, s->labels[i].value, b);
        at += a + b;
    }
    s->key = k;
    s->key_len = n;
    s->key_hash = fnv(k, n);
    return 0;
}

static int grow_keys(prw_table *t)
{
    size_t cap = t->key_cap ? t->key_cap * 2 : 64;
    uint32_t *by = calloc(cap, sizeof *by);
    if (!by)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = t->s[i]->key_hash & (cap - 1);
        while (by[j])
            j = (j + 1) & (cap - 1);
        by[j] = (uint32_t)i + 1;
    }
    free(t->by_key);
    t->by_key = by;
    t->key_cap = cap;
    return 0;
}

static int grow_alias(prw_table *t)
{
    size_t cap = t->alias_cap ? t->alias_cap * 2 : 64;
    struct prw_alias *a = calloc(cap, sizeof *a);
    if (!a)
        return -1;
    for (size_t i = 0; i < t->alias_cap; i++) {
        struct prw_alias *o = &t->alias[i];
        if (!o->idx)
            continue;
        size_t j = mix((uintptr_t)o->ts ^ ((uint64_t)o->metric << 48)) & (cap - 1);
        while (a[j].idx)
            j = (j + 1) & (cap - 1);
        a[j] = *o;
    }
    free(t->alias);
    t->alias = a;
    t->alias_cap = cap;
    return 0;
}

/* The series of a (metric, tag set) not seen before: an existing one with
 * the same content, or a new one. -1: out of memory; *out NULL: a metric
 * the core does not know (nothing to do). */
static int resolve(prw_table *t, uint32_t metric, const volley_tagset *ts, uint32_t *out)
{
    *out = 0;
    const volley_metric_info *mi = t->host->metric_info(t->core, metric);
    if (!mi)
        return 0;
    prw_series *s = series_new(t, metric, mi, ts);
    if (!s || content_key(s) != 0) {
        series_free(s);
        return -1;
    }
    if ((t->n + 1) * 2 > t->key_cap && grow_keys(t) != 0) {
        series_free(s);
        return -1;
    }
    size_t j = s->key_hash & (t->key_cap - 1);
    for (; t->by_key[j]; j = (j + 1) & (t->key_cap - 1)) {
        const prw_series *o = t->s[t->by_key[j] - 1];
        if (o->key_hash == s->key_hash && o->key_len == s->key_len &&
            memcmp(o->key, s->key, s->key_len) == 0) {
            *out = t->by_key[j];
            series_free(s);
            return 0;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        prw_series **n = realloc(t->s, cap * sizeof *n);
        if (!n) {
            series_free(s);
            return -1;
        }
        t->s = n;
        t->cap = cap;
    }
    t->s[t->n++] = s;
    t->by_key[j] = (uint32_t)t->n;
    *out = (uint32_t)t->n;
    return 0;
}

static int fold(prw_series *s, const volley_sample *x)
{
    double v = x->value;
    if (isnan(v))
        return 0;
    switch (s->type) {
    case VOLLEY_METRIC_COUNTER:
        s->sum += v;
        break;
    case VOLLEY_METRIC_GAUGE:
        if (s->count == 0 || x->time_unix_ns >= s->last_ns) {
            s->last = v;
            s->last_ns = x->time_unix_ns;
        }
        s->count++;
        break;
    case VOLLEY_METRIC_RATE:
        s->count++;
        s->nonzero += v != 0;
        break;
    case VOLLEY_METRIC_TREND: {
        if (s->nh) {
            if (prw_nh_add(s->nh, s->time ? v / 1000.0 : v) != 0)
                return -1;
            s->count++;
            s->sum += v;
            break;
        }
        if (s->count == 0 || v < s->min)
            s->min = v;
        if (s->count == 0 || v > s->max)
            s->max = v;
        if (s->count < PRW_EXACT_MAX) {
            if (!s->exact && !(s->exact = malloc(PRW_EXACT_MAX * sizeof *s->exact)))
                return -1;
            s->exact[s->count] = v;
            s->sorted = false;
        } else if (s->exact) {
            free(s->exact);
            s->exact = NULL;
        }
        s->count++;
        s->sum += v;
        /* micro-units, as the core records trends (hdr.h) */
        double m = v * 1000.0;
        hdr_record(s->hist, m <= 0 ? 0 : m >= (double)HDR_MAX_VALUE ? HDR_MAX_VALUE : llround(m));
        break;
    }
    }
    int64_t ms = x->time_unix_ns / 1000000;
    if (ms > s->latest_ms)
        s->latest_ms = ms;
    s->changed = true;
    return 0;
}

int prw_table_add(prw_table *t, const volley_sample *x)
{
    if ((t->alias_n + 1) * 2 > t->alias_cap && grow_alias(t) != 0)
        return -1;
    size_t mask = t->alias_cap - 1;
    size_t j = mix((uintptr_t)x->tags ^ ((uint64_t)x->metric << 48)) & mask;
    for (; t->alias[j].idx; j = (j + 1) & mask) {
        const struct prw_alias *a = &t->alias[j];
        if (a->ts == x->tags && a->metric == x->metric) {
            return fold(t->s[a->idx - 1], x);
        }
    }
    uint32_t idx;
    if (resolve(t, x->metric, x->tags, &idx) != 0)
        return -1;
    if (!idx)
        return 0;
    t->alias[j] = (struct prw_alias){.ts = x->tags, .metric = x->metric, .idx = idx};
    t->alias_n++;
    return fold(t->s[idx - 1], x);
}

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* k6's TrendSink.P: the value at rank p% of (n - 1), interpolated
 * between its two neighbours. Sorts the values the first time after a
 * change (the order they came in matters to nothing else). */
static double exact_percentile(prw_series *s, double p)
{
    if (s->count == 1)
        return s->exact[0];
    if (!s->sorted) {
        qsort(s->exact, s->count, sizeof *s->exact, dbl_cmp);
        s->sorted = true;
    }
    double i = p / 100.0 * (double)(s->count - 1);
    double lo = floor(i);
    double j = s->exact[(size_t)lo], k = s->exact[(size_t)ceil(i)];
    return j + (k - j) * (i - lo);
}

double prw_series_nth(const prw_table *t, prw_series *s, size_t m)
{
    if (s->type == VOLLEY_METRIC_RATE && m > 0)
        return (double)(m == 1 ? s->nonzero : s->count - s->nonzero);
    return prw_series_value(s, s->type == VOLLEY_METRIC_TREND ? &t->stats[m] : NULL);
}

double prw_series_value(prw_series *s, const prw_stat *stat)
{
    switch (s->type) {
    case VOLLEY_METRIC_COUNTER:
        return s->sum;
    case VOLLEY_METRIC_GAUGE:
        return s->last;
    case VOLLEY_METRIC_RATE:
        return s->count ? (double)s->nonzero / (double)s->count : 0;
    case VOLLEY_METRIC_TREND:
    default:
        break;
    }
    double v;
    switch (stat->kind) {
    case PRW_STAT_COUNT:
        return (double)s->count;   /* a count, never scaled (k6 divides it) */
    case PRW_STAT_AVG:
        v = s->count ? s->sum / (double)s->count : 0;
        break;
    case PRW_STAT_MIN:
        v = s->min;
        break;
    case PRW_STAT_MAX:
        v = s->max;
        break;
    case PRW_STAT_SUM:
        v = s->sum;
        break;
    case PRW_STAT_MED:
    case PRW_STAT_PCT:
    default: {
        double p = stat->kind == PRW_STAT_MED ? 50 : stat->pct;
        /* the ends are exact, as the summary's */
        v = p <= 0 ? s->min : p >= 100 ? s->max : s->exact ? exact_percentile(s, p)
                                                           : (double)hdr_percentile(s->hist, p) / 1000.0;
        if (v < s->min)
            v = s->min;
        if (v > s->max)
            v = s->max;
        break;
    }
    }
    return s->time ? v / 1000.0 : v;
}
