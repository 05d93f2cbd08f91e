#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threshold.h"

static const char *const tag_names[TAG__COUNT] = {
    "name", "method", "url", "status", "expected_response",
    "check", "error_code", "scenario", "group", "tls_version", "capture"};

const char *tag_key_name(tag_key k) { return k < TAG__COUNT ? tag_names[k] : "?"; }

int tag_key_parse(const char *s)
{
    for (int i = 0; i < TAG__COUNT; i++)
        if (strcmp(s, tag_names[i]) == 0)
            return i;
    return -1;
}

void metrics_reg_init(metrics_reg *r) { memset(r, 0, sizeof *r); }

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const volley_tag *)a)->key, ((const volley_tag *)b)->key);
}

static void free_run_tags(metrics_reg *r)
{
    for (size_t i = 0; i < r->n_run_tags; i++) {
        free((char *)r->run_tags[i].key);
        free((char *)r->run_tags[i].value);
    }
    free(r->run_tags);
    r->run_tags = NULL;
    r->n_run_tags = 0;
}

int metrics_set_run_tags(metrics_reg *r, const char *const *kv, size_t n, char *err,
                         size_t errcap)
{
    free_run_tags(r);
    if (n == 0)
        return 0;
    volley_tag *t = calloc(n, sizeof *t);
    if (!t)
        return -1;
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        size_t klen = eq ? (size_t)(eq - kv[i]) : 0;
        char key[128];
        if (!eq || klen == 0 || klen >= sizeof key ||
            strspn(kv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") < klen) {
            snprintf(err, errcap, "--tag %s: expected NAME=VALUE with a name of letters, digits, "
                     "_ - or .", kv[i]);
            goto fail;
        }
        memcpy(key, kv[i], klen);
        key[klen] = '\0';
        bool dup = false;
        for (size_t j = 0; j < got; j++)
            dup |= strcmp(t[j].key, key) == 0;
        if (tag_key_parse(key) >= 0 || dup) {
            snprintf(err, errcap, "--tag %s: \"%s\" is %s", kv[i], key,
                     dup ? "given twice" : "a built-in tag the runner sets itself");
            goto fail;
        }
        t[got].key = strdup(key);
        t[got].value = strdup(eq + 1);
        got++;
    }
    qsort(t, got, sizeof *t, cmp_tag);
    r->run_tags = t;
    r->n_run_tags = got;
    return 0;
fail:
    for (size_t j = 0; j < got; j++) {
        free((char *)t[j].key);
        free((char *)t[j].value);
    }
    free(t);
    return -1;
}

int metrics_add_step_tag_key(metrics_reg *r, const char *key)
{
    for (size_t i = 0; i < r->n_step_keys; i++)
        if (strcmp(r->step_keys[i], key) == 0)
            return 0;
    char **k = realloc(r->step_keys, (r->n_step_keys + 1) * sizeof *k);
    if (!k)
        return -1;
    r->step_keys = k;
    if (!(k[r->n_step_keys] = strdup(key)))
        return -1;
    r->n_step_keys++;
    return 0;
}

static void free_name_ptrs(metrics_reg *r)
{
    for (size_t i = 0; i < r->n_name_ptrs; i++)
        free(r->name_texts[i]);
    free(r->name_texts);
    free(r->name_ptrs);
    r->name_texts = NULL;
    r->name_ptrs = NULL;
    r->n_name_ptrs = 0;
}

void metrics_reg_free(metrics_reg *r)
{
    for (size_t i = 0; i < r->n_metrics; i++) {
        free((char *)r->metrics[i].info.name);
        for (size_t j = 0; j < r->metrics[i].info.n_thresholds; j++)
            free((char *)r->metrics[i].info.thresholds[j]);
        free((void *)r->metrics[i].info.thresholds);
        free(r->metrics[i].subs);
        free(r->metrics[i].scan);
        free(r->metrics[i].named);
        free(r->metrics[i].routes);
    }
    for (size_t i = 0; i < r->n_series; i++) {
        series_def *s = &r->series[i];
        for (size_t j = 0; j < s->n_filters; j++) {
            free((char *)s->filters[j].value);
            free((char *)s->filters[j].step_key);
        }
        free(s->filters);
        free((char *)s->name);
        free((char *)s->check_group);
        free((char *)s->check_name);
    }
    free_run_tags(r);
    for (size_t i = 0; i < r->n_tracks; i++) {
        free(r->tracks[i].dur_ns);
        free(r->tracks[i].mirror);
        free(r->tracks[i].by_metric);
    }
    free(r->tracks);
    free(r->stage_slot_metric);
    for (size_t i = 0; i < r->n_step_keys; i++)
        free(r->step_keys[i]);
    free(r->step_keys);
    free_name_ptrs(r);
    free(r->metrics);
    free(r->series);
    memset(r, 0, sizeof *r);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 32;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int add_series(metrics_reg *r, uint32_t metric, char *name,
                      series_filter *filters, size_t n_filters, bool hidden)
{
    if (grow((void **)&r->series, &r->cap_series, r->n_series, sizeof *r->series) != 0)
        return -1;
    r->series[r->n_series] = (series_def){.metric = metric, .name = name,
                                          .filters = filters, .n_filters = n_filters,
                                          .hidden = hidden};
    return (int)r->n_series++;
}

int metrics_find(const metrics_reg *r, const char *name)
{
    for (size_t i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].info.name, name) == 0)
            return (int)i;
    return -1;
}

static const char *type_name(volley_metric_type t)
{
    static const char *const n[] = {"?", "counter", "gauge", "rate", "trend"};
    return t >= 1 && t <= 4 ? n[t] : "?";
}

int metrics_register(metrics_reg *r, const char *name, volley_metric_type type,
                     volley_metric_contains contains, char *err, size_t errcap)
{
    int id = metrics_find(r, name);
    if (id >= 0) {
        if (r->metrics[id].info.type != type) {
            snprintf(err, errcap, "metric %s is already a %s, not a %s", name,
                     type_name(r->metrics[id].info.type), type_name(type));
            return -1;
        }
        return id;
    }
    if (r->frozen) {
        snprintf(err, errcap, "metric %s registered after the run started", name);
        return -1;
    }
    if (type < VOLLEY_METRIC_COUNTER || type > VOLLEY_METRIC_TREND || !*name) {
        snprintf(err, errcap, "invalid metric type or empty name");
        return -1;
    }
    if (grow((void **)&r->metrics, &r->cap_metrics, r->n_metrics, sizeof *r->metrics) != 0)
        return -1;
    char *copy = strdup(name);
    char *sname = strdup(name);
    int sid = copy && sname ? add_series(r, (uint32_t)r->n_metrics, sname, NULL, 0, false) : -1;
    if (sid < 0) {
        free(copy);
        free(sname);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    metric_def *m = &r->metrics[r->n_metrics];
    memset(m, 0, sizeof *m);
    m->info = (volley_metric_info){.name = copy, .type = type, .contains = contains};
    m->series = (uint32_t)sid;
    return (int)r->n_metrics++;
}

static int parse_filters(const metrics_reg *r, const th_metric_key *k, series_filter **out,
                         char *err, size_t errcap)
{
    series_filter *f = calloc(k->n_filters ? k->n_filters : 1, sizeof *f);
    if (!f)
        return -1;
    for (size_t i = 0; i < k->n_filters; i++) {
        int key = tag_key_parse(k->filters[i].key);
        const volley_tag *rt = NULL;
        for (size_t j = 0; key < 0 && j < r->n_run_tags; j++)
            if (strcmp(r->run_tags[j].key, k->filters[i].key) == 0)
                rt = &r->run_tags[j];
        bool run_match = rt && strcmp(rt->value, k->filters[i].value) == 0;
        bool step_key = false;
        for (size_t j = 0; key < 0 && j < r->n_step_keys; j++)
            step_key |= strcmp(r->step_keys[j], k->filters[i].key) == 0;
        if (step_key) {
            /* A step's own tag (or its scenario's) wins over a run tag
             * of the same name; on samples without it, the run tag (if
             * any) decides. */
            f[i].key = TAG_STEP;
            f[i].step_key = strdup(k->filters[i].key);
            f[i].value = strdup(k->filters[i].value);
            f[i].int_value = run_match;
            continue;
        }
        if (rt) {
            /* Constant for the run: the filter always or never matches. */
            f[i].key = TAG_RUN;
            f[i].value = strdup(k->filters[i].value);
            f[i].int_value = run_match;
            continue;
        }
        if (key < 0) {
            snprintf(err, errcap, "unknown tag \"%s\" in sub-metric filter; known tags: name, "
                     "method, url, status, expected_response, check, error_code, scenario, group, "
                     "tls_version, capture (and --tag names and keys of steps' and scenarios' tags:)",
                     k->filters[i].key);
            goto fail;
        }
        f[i].key = (tag_key)key;
        f[i].value = strdup(k->filters[i].value);
        if (key == TAG_STATUS) {
            char *end;
            long v = strtol(f[i].value, &end, 10);
            if (*end || end == f[i].value || v < 0 || v > 999) {
                snprintf(err, errcap, "status filter must be a number, got \"%s\"", f[i].value);
                goto fail;
            }
            f[i].int_value = (int)v;
        } else if (key == TAG_EXPECTED_RESPONSE) {
            if (strcmp(f[i].value, "true") != 0 && strcmp(f[i].value, "false") != 0) {
                snprintf(err, errcap, "expected_response filter must be true or false");
                goto fail;
            }
            f[i].int_value = strcmp(f[i].value, "true") == 0;
        }
    }
    *out = f;
    return 0;
fail:
    for (size_t i = 0; i < k->n_filters; i++) {
        free((char *)f[i].value);
        free((char *)f[i].step_key);
    }
    free(f);
    return -1;
}

/* A sub-metric of exactly one name filter: matched through the routes. */
static bool name_only(const series_def *sd)
{
    return sd->n_filters == 1 && sd->filters[0].key == TAG_NAME;
}

static int cmp_route(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const name_route *)a)->name, y = (uintptr_t)((const name_route *)b)->name;
    return (x > y) - (x < y);
}

/* The metric's routes: for each name pointer the spec's steps tag their
 * samples with, its name-only sub-metrics (or one entry of UINT32_MAX:
 * none), sorted by pointer. Load time only. */
static int build_routes(metrics_reg *r, metric_def *m)
{
    free(m->routes);
    m->routes = NULL;
    m->n_routes = 0;
    if (!m->n_named || !r->n_name_ptrs)
        return 0;
    size_t n = 0, cap = 0;
    name_route *rt = NULL;
    for (size_t i = 0; i < r->n_name_ptrs; i++) {
        const char *p = r->name_ptrs[i];
        size_t before = n;
        for (size_t j = 0; j <= m->n_named; j++) {
            uint32_t id = j < m->n_named ? m->named[j] : UINT32_MAX;
            if (j < m->n_named ? strcmp(r->series[id].filters[0].value, r->name_texts[i]) != 0
                               : n != before)
                continue;
            if (n == cap) {
                name_route *g = realloc(rt, (cap = cap ? cap * 2 : 64) * sizeof *rt);
                if (!g) {
                    free(rt);
                    return -1;
                }
                rt = g;
            }
            rt[n++] = (name_route){.name = p, .series = id};
        }
    }
    qsort(rt, n, sizeof *rt, cmp_route);
    m->routes = rt;
    m->n_routes = n;
    return 0;
}

/* Appends series `id` to the metric's sub-metrics and to the list
 * metrics_record goes through: `named` for a name-only one, else `scan`. */
static int add_sub(metrics_reg *r, uint32_t metric, uint32_t id)
{
    metric_def *m = &r->metrics[metric];
    bool named = name_only(&r->series[id]);
    uint32_t **list = named ? &m->named : &m->scan;
    size_t *n = named ? &m->n_named : &m->n_scan;
    uint32_t *subs = realloc(m->subs, (m->n_subs + 1) * sizeof *subs);
    if (subs)
        m->subs = subs;   /* realloc may have freed the old block */
    uint32_t *l = subs ? realloc(*list, (*n + 1) * sizeof *l) : NULL;
    if (!l)
        return -1;
    *list = l;
    m->subs[m->n_subs++] = id;
    l[(*n)++] = id;
    return named ? build_routes(r, m) : 0;
}

int metrics_route_names(metrics_reg *r, const char *const *names, size_t n)
{
    free_name_ptrs(r);
    r->name_ptrs = calloc(n + 1, sizeof *r->name_ptrs);
    r->name_texts = calloc(n + 1, sizeof *r->name_texts);
    if (!r->name_ptrs || !r->name_texts)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        bool dup = !names[i];
        for (size_t j = 0; j < r->n_name_ptrs && !dup; j++)
            dup = r->name_ptrs[j] == names[i];
        if (dup)
            continue;
        if (!(r->name_texts[r->n_name_ptrs] = strdup(names[i])))
            goto fail;
        r->name_ptrs[r->n_name_ptrs++] = names[i];
    }
    for (size_t i = 0; i < r->n_metrics; i++)
        if (build_routes(r, &r->metrics[i]) != 0)
            goto fail;
    return 0;
fail:
    free_name_ptrs(r);
    for (size_t i = 0; i < r->n_metrics; i++)
        build_routes(r, &r->metrics[i]);   /* none: every name by its text */
    return -1;
}

int metrics_series_for_key(metrics_reg *r, const char *key, char *err, size_t errcap)
{
    th_metric_key k;
    if (th_parse_metric_key(key, &k, err, errcap) != 0)
        return -1;
    int rc = -1;
    int mid = metrics_find(r, k.name);
    if (mid < 0) {
        snprintf(err, errcap, "no metric named \"%s\"", k.name);
        goto done;
    }
    metric_def *m = &r->metrics[mid];
    if (k.n_filters == 0) {
        rc = (int)m->series;
        goto done;
    }
    /* Reuse a sub-metric of this metric; a check item's hidden series may
     * carry the same text as a name but is not one. */
    for (size_t i = 0; i < r->n_series; i++) {
        if (!r->series[i].hidden && r->series[i].metric == (uint32_t)mid &&
            strcmp(r->series[i].name, key) == 0) {
            rc = (int)i;
            goto done;
        }
    }
    series_filter *f;
    if (parse_filters(r, &k, &f, err, errcap) != 0)
        goto done;
    char *name = strdup(key);
    if (!name) {
        for (size_t i = 0; i < k.n_filters; i++) {
            free((char *)f[i].value);
            free((char *)f[i].step_key);
        }
        free(f);
        goto done;
    }
    rc = add_series(r, (uint32_t)mid, name, f, k.n_filters, false);
    if (rc >= 0 && add_sub(r, (uint32_t)mid, (uint32_t)rc) != 0) {
        snprintf(err, errcap, "out of memory");
        rc = -1;
    }
done:
    th_key_free(&k);
    return rc;
}

int metrics_add_breakdown(metrics_reg *r, uint32_t metric, tag_key key, const char *value)
{
    if (r->frozen || metric >= r->n_metrics || key >= TAG__COUNT || key == TAG_STATUS ||
        key == TAG_EXPECTED_RESPONSE)   /* those filter by number: metrics_series_for_key */
        return -1;
    metric_def *m = &r->metrics[metric];
    for (size_t i = 0; i < m->n_subs; i++) {
        const series_def *sd = &r->series[m->subs[i]];
        if (sd->n_filters == 1 && sd->filters[0].key == key && strcmp(sd->filters[0].value, value) == 0)
            return (int)m->subs[i];
    }
    size_t len = strlen(m->info.name) + strlen(tag_names[key]) + strlen(value) + 4;
    char *name = malloc(len), *v = strdup(value);
    series_filter *f = calloc(1, sizeof *f);
    int id = -1;
    if (name && v && f) {
        snprintf(name, len, "%s{%s:%s}", m->info.name, tag_names[key], value);
        *f = (series_filter){.key = key, .value = v};
        id = add_series(r, metric, name, f, 1, false);
    }
    if (id < 0) {
        free(name);
        free(v);
        free(f);
        return -1;
    }
    r->series[id].breakdown = true;
    return add_sub(r, metric, (uint32_t)id) == 0 ? id : -1;
}

int metrics_add_hidden(metrics_reg *r, uint32_t metric, const char *group, const char *check)
{
    size_t len = strlen(group) + strlen(check) + 3;
    char *name = malloc(len), *g = strdup(group), *c = strdup(check);
    int id = -1;
    if (name && g && c) {
        snprintf(name, len, "%s%s%s", group, *group ? "::" : "", check);
        id = add_series(r, metric, name, NULL, 0, true);
    }
    if (id < 0) {
        free(name);
        free(g);
        free(c);
        return -1;
    }
    r->series[id].check_group = g;
    r->series[id].check_name = c;
    return id;
}

int metrics_add_threshold_source(metrics_reg *r, uint32_t metric, const char *src)
{
    metric_def *m = &r->metrics[metric];
    const char **t = realloc((void *)m->info.thresholds, (m->info.n_thresholds + 1) * sizeof *t);
    if (!t)
        return -1;
    m->info.thresholds = t;
    t[m->info.n_thresholds] = strdup(src);
    return t[m->info.n_thresholds++] ? 0 : -1;
}

int metrics_add_stage_track(metrics_reg *r, size_t sc, size_t n_sc, const int64_t *dur_ns,
                            size_t n_stages, const uint32_t *series, size_t n_series)
{
    if (!r->tracks) {
        if (!(r->tracks = calloc(n_sc ? n_sc : 1, sizeof *r->tracks)))
            return -1;
        r->n_tracks = n_sc;
    }
    if (sc >= r->n_tracks || r->tracks[sc].n_stages || n_stages == 0)
        return sc < r->n_tracks ? 0 : -1;
    stage_track *t = &r->tracks[sc];
    uint32_t *mirror = malloc((n_series ? n_series : 1) * sizeof *mirror);
    uint32_t *by = calloc(r->n_metrics + 1, sizeof *by);
    int64_t *dur = malloc(n_stages * sizeof *dur);
    if (!mirror || !by || !dur)
        goto fail;
    /* Grouped by metric (counting sort), without duplicates. */
    size_t n = 0;
    for (uint32_t m = 0; m < r->n_metrics; m++) {
        by[m] = (uint32_t)n;
        for (size_t i = 0; i < n_series; i++) {
            if (series[i] >= r->n_series || r->series[series[i]].metric != m)
                continue;
            bool dup = false;
            for (size_t j = by[m]; j < n; j++)
                dup |= mirror[j] == series[i];
            if (!dup)
                mirror[n++] = series[i];
        }
    }
    by[r->n_metrics] = (uint32_t)n;
    size_t extra = n * n_stages;
    uint32_t *sm = realloc(r->stage_slot_metric, (r->n_stage_slots + extra + 1) * sizeof *sm);
    if (!sm)
        goto fail;
    r->stage_slot_metric = sm;
    for (size_t k = 0; k < n_stages; k++)
        for (size_t j = 0; j < n; j++)
            sm[r->n_stage_slots + k * n + j] = r->series[mirror[j]].metric;
    memcpy(dur, dur_ns, n_stages * sizeof *dur);
    *t = (stage_track){.n_stages = n_stages, .dur_ns = dur, .n_mirror = n, .mirror = mirror,
                       .n_metrics = r->n_metrics, .by_metric = by,
                       .slot0 = (uint32_t)(r->n_series + r->n_stage_slots)};
    r->n_stage_slots += extra;
    return 0;
fail:
    free(mirror);
    free(by);
    free(dur);
    return -1;
}

const stage_track *metrics_stage_track(const metrics_reg *r, size_t sc)
{
    return sc < r->n_tracks && r->tracks[sc].n_stages ? &r->tracks[sc] : NULL;
}

long stage_track_slot(const stage_track *t, size_t k, uint32_t series)
{
    if (!t || k >= t->n_stages)
        return -1;
    for (size_t j = 0; j < t->n_mirror; j++)
        if (t->mirror[j] == series)
            return (long)(t->slot0 + k * t->n_mirror + j);
    return -1;
}

void stage_pos_start(stage_pos *p, const stage_track *t, int64_t start_ns)
{
    *p = (stage_pos){.track = t};
    if (!t)
        return;
    p->slot = t->slot0;
    p->end_ns = t->n_stages > 1 ? start_ns + t->dur_ns[0] : INT64_MAX;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && (a == b || strcmp(a, b) == 0);
}

static bool filter_matches(const series_filter *f, const sample_tags *st)
{
    const volley_tags *t = st->t;
    switch (f->key) {
    case TAG_SCENARIO: return str_eq(st->scenario, f->value);
    case TAG_GROUP: return str_eq(st->group ? st->group : "", f->value);
    case TAG_NAME: return t && str_eq(t->name, f->value);
    case TAG_METHOD: return t && str_eq(t->method, f->value);
    case TAG_URL: return t && str_eq(t->url, f->value);
    case TAG_STATUS: return t && t->status != 0 && t->status == f->int_value;
    case TAG_EXPECTED_RESPONSE: return t && t->expected_response == f->int_value;
    case TAG_CHECK: return t && str_eq(t->check, f->value);
    case TAG_ERROR_CODE: return t && str_eq(t->error_code, f->value);
    case TAG_TLS_VERSION: return str_eq(st->tls_version, f->value);
    case TAG_CAPTURE: return str_eq(st->capture, f->value);
    case TAG_RUN: return f->int_value != 0;
    case TAG_STEP:
        /* the step's tag, else the VU's (scenario), else the run's */
        for (size_t i = 0; i < st->n_step; i++)
            if (strcmp(st->step[i].key, f->step_key) == 0)
                return strcmp(st->step[i].value, f->value) == 0;
        for (size_t i = 0; i < st->n_vu; i++)
            if (strcmp(st->vu[i].key, f->step_key) == 0)
                return strcmp(st->vu[i].value, f->value) == 0;
        return f->int_value != 0;   /* the run tag of that name matched */
    case TAG__COUNT: break;
    }
    return false;
}

bool series_matches(const series_def *s, const sample_tags *st)
{
    for (size_t i = 0; i < s->n_filters; i++)
        if (!filter_matches(&s->filters[i], st))
            return false;
    return true;
}

/* The metric of an aggregate slot: a series', or a stage copy's. */
static uint32_t slot_metric(const metrics_reg *r, size_t i)
{
    return i < r->n_series ? r->series[i].metric : r->stage_slot_metric[i - r->n_series];
}

int metrics_agg_init(metrics_agg *a, const metrics_reg *r)
{
    a->n = r->n_series + r->n_stage_slots;
    a->scratch = NULL;
    a->hists = NULL;
    a->exacts = NULL;
    a->s = calloc(a->n ? a->n : 1, sizeof *a->s);
    if (!a->s)
        return -1;
    size_t n_trends = 0;
    for (size_t i = 0; i < a->n; i++)
        n_trends += r->metrics[slot_metric(r, i)].info.type == VOLLEY_METRIC_TREND;
    if (!n_trends)
        return 0;
    /* One block each, not one per series: past malloc's mmap threshold it
     * is fresh zeroed memory, so the pages of histogram slots no value
     * reaches (hdr_clear and hdr_merge touch only the used slots) and of
     * values never kept stay untouched (a 2-worker run of 200 named
     * requests: 60 MB resident with a block per series, 20 MB this way,
     * 17 MB without the per-name breakdowns). */
    a->hists = calloc(n_trends, sizeof *a->hists);
    a->exacts = malloc(n_trends * METRICS_EXACT_MAX * sizeof *a->exacts);
    a->scratch = malloc(METRICS_EXACT_MAX * sizeof *a->scratch);
    if (!a->hists || !a->exacts || !a->scratch)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (r->metrics[slot_metric(r, i)].info.type != VOLLEY_METRIC_TREND)
            continue;
        a->s[i].hist = &a->hists[k];   /* a trend is told by its hist */
        a->s[i].exact = &a->exacts[k * METRICS_EXACT_MAX];
        a->s[i].exact_cap = METRICS_EXACT_MAX;
        k++;
    }
    return 0;
}

void metrics_agg_free(metrics_agg *a)
{
    free(a->s);
    free(a->hists);
    free(a->exacts);
    free(a->scratch);
    a->s = NULL;
    a->hists = NULL;
    a->exacts = NULL;
    a->scratch = NULL;
    a->n = 0;
}

void metrics_agg_clear(metrics_agg *a)
{
    for (size_t i = 0; i < a->n; i++) {
        hdr_hist *h = a->s[i].hist;
        double *exact = a->s[i].exact;
        uint32_t cap = a->s[i].exact_cap;
        if (h && h->total == 0 && a->s[i].count == 0)
            continue;
        memset(&a->s[i], 0, sizeof a->s[i]);
        if (!h)
            continue;
        a->s[i].hist = h;
        a->s[i].exact = exact;
        a->s[i].exact_cap = cap;
        if (h->total)
            hdr_clear(h);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void hist_add_exact(hdr_hist *h, const double *v, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        hdr_record(h, trend_micro(v[i]));
}

__attribute__((noinline)) void series_trend_to_hist(series_agg *s)
{
    hist_add_exact(s->hist, s->exact, s->exact_cap);
}

/* Trend series d (dcount values so far) and s. Together still small: s's
 * values, sorted in scratch, merged into d's from the back (exact[] has
 * the room), so d stays sorted and stats read it as it is. Beyond: each
 * side's values or histogram into d's histogram. */
static void merge_trend(series_agg *d, uint64_t dcount, const series_agg *s, double *scratch)
{
    uint64_t n = dcount + s->count;
    bool d_kept = dcount <= d->exact_cap, s_kept = s->count <= s->exact_cap;
    if (!d_kept || !s_kept || n > d->exact_cap || !scratch) {
        if (d_kept)
            hist_add_exact(d->hist, d->exact, dcount);
        if (s_kept)
            hist_add_exact(d->hist, s->exact, s->count);
        else
            hdr_merge(d->hist, s->hist);
        /* Readers tell the histogram by count > exact_cap: a small dst that
         * took a histogram (a window's aggregate, fed by workers past the
         * limit) keeps no values from now on. */
        if (n <= d->exact_cap)
            d->exact_cap = 0;
        return;
    }
    memcpy(scratch, s->exact, s->count * sizeof *scratch);
    if (s->n_sorted != s->count)
        qsort(scratch, s->count, sizeof *scratch, cmp_double);
    if (d->n_sorted != dcount)
        qsort(d->exact, dcount, sizeof *d->exact, cmp_double);
    uint64_t i = dcount, j = s->count, w = n;
    while (j > 0) {
        if (i > 0 && d->exact[i - 1] > scratch[j - 1])
            d->exact[--w] = d->exact[--i];
        else
            d->exact[--w] = scratch[--j];
    }
    d->n_sorted = n;
}

void metrics_agg_merge(metrics_agg *dst, const metrics_agg *src, const metrics_reg *r)
{
    for (size_t i = 0; i < src->n && i < dst->n; i++) {
        const series_agg *s = &src->s[i];
        series_agg *d = &dst->s[i];
        if (s->count == 0)
            continue;
        volley_metric_type type = r->metrics[slot_metric(r, i)].info.type;
        if (type == VOLLEY_METRIC_GAUGE) {
            if (d->count == 0 || s->min < d->min) d->min = s->min;
            if (d->count == 0 || s->max > d->max) d->max = s->max;
            if (d->count == 0 || s->last_ns >= d->last_ns) {
                d->last = s->last;
                d->last_ns = s->last_ns;
            }
        }
        if (type == VOLLEY_METRIC_TREND) {
            merge_trend(d, d->count, s, dst->scratch);
            d->fraction |= s->fraction;
        }
        d->count += s->count;
        d->nonzero += s->nonzero;
        d->sum += s->sum;
    }
}

/* The sample's stage copies: the cursor moves on past the stages that
 * ended, then the copies of the series it matched get it. A few copies
 * per metric at most (the table's and the thresholds' series). */
__attribute__((noinline)) static void record_stage(const metrics_reg *r, metrics_agg *a, uint32_t metric,
                         volley_metric_type type, double v, const sample_tags *st, int64_t now_ns)
{
    stage_pos *p = st->stage;
    const stage_track *t = p->track;
    while (now_ns >= p->end_ns) {
        p->stage++;
        p->slot += (uint32_t)t->n_mirror;
        p->end_ns = p->stage + 1 < t->n_stages ? p->end_ns + t->dur_ns[p->stage] : INT64_MAX;
    }
    uint32_t series = r->metrics[metric].series;
    for (uint32_t j = t->by_metric[metric]; j < t->by_metric[metric + 1]; j++)
        if (t->mirror[j] == series || series_matches(&r->series[t->mirror[j]], st))
            series_add(&a->s[p->slot + j], type, v, now_ns);
}

/* The name-only sub-metrics of a sample's name: by its pointer when it is
 * one the spec's steps were routed with (a binary search instead of a
 * string compare per sub-metric: 30 named requests made strcmp 6% of the
 * run's CPU), else by comparing the text. */
static void record_named(const metrics_reg *r, metrics_agg *a, const metric_def *m,
                         volley_metric_type type, double v, const char *name, int64_t now_ns)
{
    size_t lo = 0, hi = m->n_routes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)m->routes[mid].name < (uintptr_t)name)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->n_routes && m->routes[lo].name == name) {
        for (; lo < m->n_routes && m->routes[lo].name == name; lo++)
            if (m->routes[lo].series != UINT32_MAX)
                series_add(&a->s[m->routes[lo].series], type, v, now_ns);
        return;
    }
    for (size_t j = 0; j < m->n_named; j++)
        if (strcmp(r->series[m->named[j]].filters[0].value, name) == 0)
            series_add(&a->s[m->named[j]], type, v, now_ns);
}

void metrics_record(const metrics_reg *r, metrics_agg *a, uint32_t metric,
                    double v, const sample_tags *st, int64_t now_ns)
{
    const metric_def *m = &r->metrics[metric];
    volley_metric_type type = m->info.type;
    series_add(&a->s[m->series], type, v, now_ns);
    for (size_t i = 0; i < m->n_scan; i++)
        if (series_matches(&r->series[m->scan[i]], st))
            series_add(&a->s[m->scan[i]], type, v, now_ns);
    if (m->n_named && st->t && st->t->name)
        record_named(r, a, m, type, v, st->t->name, now_ns);
    const stage_pos *p = st->stage;
    if (p && metric < p->track->n_metrics &&
        p->track->by_metric[metric] != p->track->by_metric[metric + 1])
        record_stage(r, a, metric, type, v, st, now_ns);
}

/* k6's percentile of sorted values (metrics/sink.go, TrendSink.P): the
 * rank p/100 * (n - 1), linear interpolation between the closest ranks. */
static double exact_percentile(const double *v, uint64_t n, double p)
{
    if (!(p > 0))
        p = 0;
    if (p > 100)
        p = 100;
    double i = p / 100.0 * (double)(n - 1), lo = floor(i);
    uint64_t j = (uint64_t)lo, k = (uint64_t)ceil(i);
    return v[j] + (v[k] - v[j]) * (i - lo);
}

/* A stat from the values themselves: sorted (merged aggregates are), else
 * a sorted copy; false when that copy cannot be had. NaN: unknown stat. */
static bool exact_stat(const series_agg *s, const char *stat, double *out)
{
    const double *v = s->exact;
    uint64_t n = s->count;
    double *copy = NULL;
    if (s->n_sorted != n) {
        if (!(copy = malloc(n * sizeof *copy)))
            return false;
        memcpy(copy, v, n * sizeof *copy);
        qsort(copy, n, sizeof *copy, cmp_double);
        v = copy;
    }
    double p;
    *out = NAN;
    if (strcmp(stat, "avg") == 0) {
        double sum = 0;
        for (uint64_t i = 0; i < n; i++)
            sum += v[i];
        *out = sum / (double)n;
    } else if (strcmp(stat, "min") == 0) {
        *out = v[0];
    } else if (strcmp(stat, "max") == 0) {
        *out = v[n - 1];
    } else if (strcmp(stat, "med") == 0) {
        *out = exact_percentile(v, n, 50);
    } else if (sscanf(stat, "p(%lf)", &p) == 1) {
        *out = exact_percentile(v, n, p);
    }
    free(copy);
    return true;
}

double agg_trend_stat(const series_agg *s, const char *stat)
{
    const hdr_hist *h = s->hist;
    if (!h || s->count == 0)
        return 0;
    double v;
    if (s->count <= s->exact_cap)
        return exact_stat(s, stat, &v) ? v : NAN;
    if (strcmp(stat, "avg") == 0)
        return hdr_mean(h) / 1000.0;
    if (strcmp(stat, "min") == 0)
        return (double)h->min / 1000.0;
    if (strcmp(stat, "max") == 0)
        return (double)h->max / 1000.0;
    if (strcmp(stat, "med") == 0)
        return (double)hdr_percentile(h, 50) / 1000.0;
    double p;
    if (sscanf(stat, "p(%lf)", &p) == 1)
        return (double)hdr_percentile(h, p) / 1000.0;
    return NAN;
}

double agg_rate(const series_agg *s)
{
    return s->count ? (double)s->nonzero / (double)s->count : 0;
}

int agg_pair_init(agg_pair *p, const metrics_reg *r)
{
    p->cur = 0;
    atomic_init(&p->spare_state, AGG_FREE);
    if (metrics_agg_init(&p->buf[0], r) != 0 || metrics_agg_init(&p->buf[1], r) != 0)
        return -1;
    return 0;
}

void agg_pair_free(agg_pair *p)
{
    metrics_agg_free(&p->buf[0]);
    metrics_agg_free(&p->buf[1]);
}

bool agg_pair_publish(agg_pair *p)
{
    if (atomic_load_explicit(&p->spare_state, memory_order_acquire) != AGG_FREE)
        return false;   /* the metrics thread has not taken the last one yet */
    p->filled = p->cur;
    p->cur = 1 - p->cur;
    atomic_store_explicit(&p->spare_state, AGG_FILLED, memory_order_release);
    return true;
}

void agg_pair_collect(agg_pair *p, metrics_agg *dst, const metrics_reg *r)
{
    agg_pair_collect_into(p, dst, NULL, r);
}

void agg_pair_collect_into(agg_pair *p, metrics_agg *dst, metrics_agg *also, const metrics_reg *r)
{
    if (atomic_load_explicit(&p->spare_state, memory_order_acquire) != AGG_FILLED)
        return;
    /* `filled` was written before the release store we just acquired. */
    metrics_agg *filled = &p->buf[p->filled];
    metrics_agg_merge(dst, filled, r);
    if (also)
        metrics_agg_merge(also, filled, r);
    metrics_agg_clear(filled);
    /* Trends of the run past METRICS_EXACT_MAX: the worker keeps no more
     * values of them (the other buffer follows at its next hand-over). */
    for (size_t i = 0; i < filled->n && i < dst->n; i++)
        if (filled->s[i].hist && filled->s[i].exact_cap && dst->s[i].count > dst->s[i].exact_cap)
            filled->s[i].exact_cap = 0;
    atomic_store_explicit(&p->spare_state, AGG_FREE, memory_order_release);
}

void agg_pair_drain(agg_pair *p, metrics_agg *dst, const metrics_reg *r)
{
    agg_pair_drain_into(p, dst, NULL, r);
}

void agg_pair_drain_into(agg_pair *p, metrics_agg *dst, metrics_agg *also, const metrics_reg *r)
{
    for (int i = 0; i < 2; i++) {
        metrics_agg_merge(dst, &p->buf[i], r);
        if (also)
            metrics_agg_merge(also, &p->buf[i], r);
        metrics_agg_clear(&p->buf[i]);
    }
    atomic_store(&p->spare_state, AGG_FREE);
}
