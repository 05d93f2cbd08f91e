#include "result_read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hdr.h"
#include "result_int.h"

static const char *const pct_names[RR_NP] = {"50", "90", "95", "99"};

typedef struct reader {
    result *r;
    const char *path;
    size_t line;
    char *err;
    size_t errcap;
    /* Window histograms of trends, merged for a run without its end line
     * (NULL until a window carries one). */
    hdr_hist **hist;
    double scale;
    bool geometry_ok;
} reader;

int rr__fail(char *err, size_t errcap, const char *path, size_t line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        snprintf(err, errcap, "%s:%zu: %s", path, line, msg);
    else
        snprintf(err, errcap, "%s: %s", path, msg);
    return -1;
}

#define fail(rd, ...) rr__fail((rd)->err, (rd)->errcap, (rd)->path, (rd)->line, __VA_ARGS__)

char *rr__dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *get_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return rr__dup(json_is_string(v) ? json_string_value(v) : "");
}

static double get_num(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static bool get_bool(json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

static int read_tags(json_t *o, rr_tag **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_object(o) || json_object_size(o) == 0)
        return 0;
    *out = calloc(json_object_size(o), sizeof **out);
    if (!*out)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        rr_tag *t = &(*out)[(*n)++];
        t->name = rr__dup(k);
        t->value = rr__dup(json_is_string(v) ? json_string_value(v) : "");
        if (!t->name || !t->value)
            return -1;
    }
    return 0;
}

/* A JSON array of strings as a list (other items skipped); one alone
 * (one: a string) when the array is absent. -1: out of memory. */
static int read_list(json_t *arr, const char *one, char ***out, size_t *n)
{
    size_t cap = json_is_array(arr) ? json_array_size(arr) : one ? 1 : 0;
    *out = NULL;
    *n = 0;
    if (!cap || !(*out = calloc(cap, sizeof **out)))
        return cap ? -1 : 0;
    if (!json_is_array(arr))
        return ((*out)[(*n)++] = rr__dup(one)) ? 0 : -1;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && !((*out)[(*n)++] = rr__dup(json_string_value(v))))
            return -1;
    }
    return 0;
}

static rr_kind kind_of(const char *s)
{
    return !strcmp(s, "metric") ? RR_METRIC : !strcmp(s, "submetric") ? RR_SUBMETRIC
         : !strcmp(s, "breakdown") ? RR_BREAKDOWN : !strcmp(s, "check") ? RR_CHECK
         : !strcmp(s, "capture") ? RR_CAPTURE : RR_OTHER;
}

static rr_type type_of(const char *s)
{
    return !strcmp(s, "counter") ? RR_COUNTER : !strcmp(s, "rate") ? RR_RATE
         : !strcmp(s, "gauge") ? RR_GAUGE : !strcmp(s, "trend") ? RR_TREND : RR_UNKNOWN;
}

/* Series ids index this map (ids are small and dense in practice; the
 * map is sized by the largest). */
typedef struct id_map {
    long *at;
    size_t n;
} id_map;

static long map_get(const id_map *m, int64_t id)
{
    return id >= 0 && (uint64_t)id < m->n ? m->at[id] : -1;
}

static int read_meta(reader *rd, json_t *o, id_map *ids)
{
    result *r = rd->r;
    json_t *fmt = json_object_get(o, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "volley-result") != 0)
        return fail(rd, "not a volley result file (the first line's format is not \"volley-result\")");
    if (get_num(o, "version", 0) != 1)
        return fail(rd, "result format version %g is not one this volley reads (1)", get_num(o, "version", 0));
    json_t *spec = json_object_get(o, "spec");
    r->volley = get_str(o, "volley");
    r->spec_name = get_str(spec, "name");
    r->spec_path = get_str(spec, "path");
    if (json_is_string(json_object_get(spec, "sha256")) &&
        *json_string_value(json_object_get(spec, "sha256")))
        r->spec_sha256 = get_str(spec, "sha256");
    if (json_is_string(json_object_get(o, "segment")))
        r->segment = get_str(o, "segment");
    if (json_is_string(json_object_get(o, "sequence")))
        r->sequence = get_str(o, "sequence");
    r->start = get_str(o, "start");
    r->start_unix_ms = get_num(o, "start_unix_ms", 0);
    json_t *seed = json_object_get(o, "seed");
    r->has_seed = json_is_integer(seed);
    r->seed = r->has_seed ? (int64_t)json_integer_value(seed) : 0;
    r->workers = (int)get_num(o, "workers", 0);
    r->cores = (int)get_num(o, "cores", 0);
    r->window_s = get_num(o, "window_s", 1);
    json_t *cmd = json_object_get(o, "command");
    if (json_is_array(cmd) && json_array_size(cmd)) {
        r->command = calloc(json_array_size(cmd), sizeof *r->command);
        if (!r->command)
            return fail(rd, "out of memory");
        size_t i;
        json_t *v;
        json_array_foreach(cmd, i, v) r->command[r->n_command++] = rr__dup(json_is_string(v) ? json_string_value(v) : "");
    }
    if (read_tags(json_object_get(o, "run_tags"), &r->run_tags, &r->n_run_tags) != 0)
        return fail(rd, "out of memory");
    /* what the file covers: its segment, or a merged file's segments and
     * instances (merge_write.c) */
    const char *inst = NULL;
    for (size_t k = 0; k < r->n_run_tags; k++)
        if (strcmp(r->run_tags[k].name, "instance") == 0)
            inst = r->run_tags[k].value;
    if (read_list(json_object_get(o, "segments"), r->segment, &r->segments, &r->n_segments) != 0 ||
        read_list(json_object_get(o, "instances"), inst, &r->instances, &r->n_instances) != 0)
        return fail(rd, "out of memory");
    json_t *hist = json_object_get(o, "hist");
    rd->scale = get_num(hist, "scale", 1000);
    rd->geometry_ok = get_num(hist, "half_log2", 0) == HDR_HALF_LOG2 && get_num(hist, "max_log2", 0) == HDR_MAX_LOG2;
    if (json_is_object(hist)) {
        r->hist_geometry = get_str(hist, "geometry");
        r->hist_half_log2 = (int)get_num(hist, "half_log2", 0);
        r->hist_max_log2 = (int)get_num(hist, "max_log2", 0);
    }

    json_t *metrics = json_object_get(o, "metrics");
    json_t *series = json_object_get(o, "series");
    if (!json_is_array(series))
        return fail(rd, "the meta line has no series list");
    size_t n = json_array_size(series);
    r->series = calloc(n ? n : 1, sizeof *r->series);
    r->totals = calloc(n ? n : 1, sizeof *r->totals);
    rd->hist = calloc(n ? n : 1, sizeof *rd->hist);
    if (!r->series || !r->totals || !rd->hist)
        return fail(rd, "out of memory");
    int64_t max_id = -1;
    size_t i;
    json_t *v;
    json_array_foreach(series, i, v) {
        json_t *id = json_object_get(v, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > 10000000)
            return fail(rd, "series %zu has no valid id", i);
        rr_series *s = &r->series[r->n_series++];
        s->id = json_integer_value(id);
        s->key = get_str(v, "key");
        s->metric = get_str(v, "metric");
        json_t *kind = json_object_get(v, "kind");
        s->kind = kind_of(json_is_string(kind) ? json_string_value(kind) : "");
        json_t *m = json_object_get(metrics, s->metric ? s->metric : "");
        json_t *t = json_object_get(m, "type"), *c = json_object_get(m, "contains");
        s->type = type_of(json_is_string(t) ? json_string_value(t) : "");
        const char *cs = json_is_string(c) ? json_string_value(c) : "";
        s->contains = !strcmp(cs, "time") ? RR_TIME : !strcmp(cs, "data") ? RR_DATA : RR_DEFAULT;
        /* A check series names its item in "check" and "group" (result.c),
         * its tags are empty: they become its tags, as the reports read them. */
        json_t *item = (s->kind == RR_CHECK || s->kind == RR_CAPTURE) &&
                               json_is_string(json_object_get(v, "check"))
                           ? json_pack("{s:O, s:s}", "check", json_object_get(v, "check"), "group",
                                       json_is_string(json_object_get(v, "group"))
                                           ? json_string_value(json_object_get(v, "group")) : "")
                           : NULL;
        int e = read_tags(item ? item : json_object_get(v, "tags"), &s->tags, &s->n_tags);
        if (item)
            json_decref(item);
        if (!s->key || !s->metric || e != 0)
            return fail(rd, "out of memory");
        if (s->id > max_id)
            max_id = s->id;
        r->totals[r->n_series - 1].series = (uint32_t)(r->n_series - 1);
    }
    ids->n = (size_t)(max_id + 1);
    ids->at = malloc((ids->n ? ids->n : 1) * sizeof *ids->at);
    if (!ids->at)
        return fail(rd, "out of memory");
    for (size_t k = 0; k < ids->n; k++)
        ids->at[k] = -1;
    for (size_t k = 0; k < r->n_series; k++) {
        if (ids->at[r->series[k].id] >= 0)
            return fail(rd, "two series have the id %lld", (long long)r->series[k].id);
        ids->at[r->series[k].id] = (long)k;
    }

    json_t *sc = json_object_get(o, "scenarios");
    if (json_is_array(sc) && json_array_size(sc)) {
        r->scenarios = calloc(json_array_size(sc), sizeof *r->scenarios);
        if (!r->scenarios)
            return fail(rd, "out of memory");
        json_array_foreach(sc, i, v) {
            rr_scenario *s = &r->scenarios[r->n_scenarios++];
            s->name = get_str(v, "name");
            s->executor = get_str(v, "executor");
            s->start_s = get_num(v, "start_s", 0);
            s->duration_s = get_num(v, "duration_s", 0);
            s->max_vus = get_num(v, "max_vus", 0);
            if (json_is_string(json_object_get(v, "setup_data")))
                s->setup_data = get_str(v, "setup_data");
        }
    }
    json_t *th = json_object_get(o, "thresholds");
    if (json_is_array(th) && json_array_size(th)) {
        r->thresholds = calloc(json_array_size(th), sizeof *r->thresholds);
        if (!r->thresholds)
            return fail(rd, "out of memory");
        json_array_foreach(th, i, v) {
            rr_threshold *t = &r->thresholds[r->n_thresholds++];
            t->key = get_str(v, "key");
            t->metric = get_str(v, "metric");
            t->expr = get_str(v, "expr");
            t->series_id = (int64_t)get_num(v, "series", -1);
            t->series = map_get(ids, t->series_id);
            t->abort_on_fail = get_bool(v, "abort_on_fail");
            t->verdict = rr__dup("");
            t->judged = rr__dup("");
            if (!t->key || !t->metric || !t->expr || !t->verdict || !t->judged)
                return fail(rd, "out of memory");
        }
    }
    return 0;
}

/* A series' state object ({"n":..,"sum":..,"p":{..}}) into st. */
static void read_stat(json_t *o, rr_stat *st)
{
    static const struct { const char *k; size_t off; uint32_t bit; } f[] = {
        {"n", offsetof(rr_stat, n), RR_HAS_N}, {"sum", offsetof(rr_stat, sum), RR_HAS_SUM},
        {"nz", offsetof(rr_stat, nz), RR_HAS_NZ}, {"min", offsetof(rr_stat, min), RR_HAS_MINMAX},
        {"max", offsetof(rr_stat, max), RR_HAS_MINMAX}, {"avg", offsetof(rr_stat, avg), RR_HAS_AVG},
        {"last", offsetof(rr_stat, last), RR_HAS_LAST}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        json_t *v = json_object_get(o, f[i].k);
        if (json_is_number(v)) {
            *(double *)((char *)st + f[i].off) = json_number_value(v);
            st->has |= f[i].bit;
        }
    }
    json_t *p = json_object_get(o, "p");
    if (json_is_object(p)) {
        for (int k = 0; k < RR_NP; k++) {
            json_t *v = json_object_get(p, pct_names[k]);
            st->p[k] = json_is_number(v) ? json_number_value(v) : NAN;
        }
        st->has |= RR_HAS_P;
    }
}

static int cmp_stat(const void *a, const void *b)
{
    const rr_stat *x = a, *y = b;
    return x->series < y->series ? -1 : x->series > y->series;
}

/* Adds a window's state of one series into the run's totals (used only
 * when the end line is missing). */
static void merge_total(rr_stat *t, const rr_stat *w)
{
    if (w->has & RR_HAS_MINMAX) {
        if (!(t->has & RR_HAS_MINMAX) || w->min < t->min)
            t->min = w->min;
        if (!(t->has & RR_HAS_MINMAX) || w->max > t->max)
            t->max = w->max;
    }
    t->n += w->n;
    t->sum += w->sum;
    t->nz += w->nz;
    if (w->has & RR_HAS_LAST)
        t->last = w->last;
    t->has |= w->has & ~(uint32_t)(RR_HAS_P | RR_HAS_AVG);
    if (t->has & RR_HAS_SUM && t->n > 0) {
        t->avg = t->sum / t->n;
        t->has |= RR_HAS_AVG;
    }
}

static int merge_hist(reader *rd, uint32_t si, json_t *h)
{
    if (!rd->geometry_ok || !json_is_array(h))
        return 0;
    if (!rd->hist[si]) {
        rd->hist[si] = calloc(1, sizeof *rd->hist[si]);
        if (!rd->hist[si])
            return fail(rd, "out of memory");
        hdr_reset(rd->hist[si]);
    }
    size_t i;
    json_t *pair;
    json_array_foreach(h, i, pair) {
        json_t *slot = json_array_get(pair, 0), *count = json_array_get(pair, 1);
        if (!json_is_integer(slot) || !json_is_integer(count) || json_integer_value(slot) < 0 ||
            json_integer_value(slot) >= (json_int_t)HDR_SLOTS || json_integer_value(count) < 0)
            return fail(rd, "a histogram slot is not [slot, count] within the geometry");
        rd->hist[si]->counts[json_integer_value(slot)] += (uint64_t)json_integer_value(count);
        rd->hist[si]->total += (uint64_t)json_integer_value(count);
    }
    return 0;
}

/* The run's histogram of series si, kept for compare.c: n slots to fill
 * (NULL: out of memory). Not kept when the geometry is not hdr.h's. */
static rr_hist *hist_room(reader *rd, size_t si, size_t n)
{
    result *r = rd->r;
    if (!r->hists && !(r->hists = calloc(r->n_series ? r->n_series : 1, sizeof *r->hists)))
        return NULL;
    r->hist_scale = rd->scale;
    rr_hist *h = &r->hists[si];
    free(h->s);
    memset(h, 0, sizeof *h);
    if (n && !(h->s = malloc(n * sizeof *h->s)))
        return NULL;
    return h;
}

static int cmp_slot(const void *a, const void *b)
{
    const rr_slot *x = a, *y = b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* An end line's "h" ([[slot, count], ...]) as the run's histogram. */
static int keep_hist(reader *rd, size_t si, json_t *h)
{
    if (!rd->geometry_ok || !json_is_array(h))
        return 0;
    rr_hist *k = hist_room(rd, si, json_array_size(h));
    if (!k)
        return fail(rd, "out of memory");
    size_t i;
    json_t *pair;
    bool sorted = true;
    json_array_foreach(h, i, pair) {
        json_t *slot = json_array_get(pair, 0), *count = json_array_get(pair, 1);
        if (!json_is_integer(slot) || !json_is_integer(count) || json_integer_value(slot) < 0 ||
            json_integer_value(slot) >= (json_int_t)HDR_SLOTS || json_integer_value(count) < 0)
            return fail(rd, "a histogram slot is not [slot, count] within the geometry");
        rr_slot *x = &k->s[k->n++];
        x->slot = (uint32_t)json_integer_value(slot);
        x->count = (uint64_t)json_integer_value(count);
        k->total += x->count;
        sorted &= k->n == 1 || x[-1].slot < x->slot;
    }
    if (!sorted)
        qsort(k->s, k->n, sizeof *k->s, cmp_slot);
    return 0;
}

/* A histogram merged from the windows (a run that died) as the run's. */
static int keep_merged(reader *rd, size_t si, const hdr_hist *h)
{
    size_t n = 0;
    for (uint32_t i = 0; i < HDR_SLOTS; i++)
        n += h->counts[i] != 0;
    rr_hist *k = hist_room(rd, si, n);
    if (!k)
        return fail(rd, "out of memory");
    for (uint32_t i = 0; i < HDR_SLOTS; i++)
        if (h->counts[i]) {
            k->s[k->n++] = (rr_slot){i, h->counts[i]};
            k->total += h->counts[i];
        }
    return 0;
}

/* A window's own histogram ("h"), kept beside its stat (volley merge
 * adds windows of several runs exactly). */
static int window_hist(reader *rd, rr_stat *st, json_t *h)
{
    if (!rd->geometry_ok || !json_is_array(h))
        return 0;
    size_t n = json_array_size(h);
    if (!(st->h = calloc(1, sizeof *st->h)) || (n && !(st->h->s = malloc(n * sizeof *st->h->s))))
        return fail(rd, "out of memory");
    size_t i;
    json_t *pair;
    json_array_foreach(h, i, pair) {
        /* merge_hist checked each pair */
        rr_slot *x = &st->h->s[st->h->n++];
        x->slot = (uint32_t)json_integer_value(json_array_get(pair, 0));
        x->count = (uint64_t)json_integer_value(json_array_get(pair, 1));
        st->h->total += x->count;
    }
    qsort(st->h->s, st->h->n, sizeof *st->h->s, cmp_slot);
    return 0;
}

static int read_window(reader *rd, json_t *o, const id_map *ids)
{
    result *r = rd->r;
    if (r->n_windows % 256 == 0) {
        rr_window *w = realloc(r->windows, (r->n_windows + 256) * sizeof *w);
        if (!w)
            return fail(rd, "out of memory");
        r->windows = w;
    }
    rr_window *w = &r->windows[r->n_windows];
    memset(w, 0, sizeof *w);
    r->n_windows++;
    w->t0 = get_num(o, "t0", 0);
    w->t1 = get_num(o, "t1", w->t0 + r->window_s);
    json_t *s = json_object_get(o, "s");
    if (json_is_object(s) && json_object_size(s)) {
        w->s = calloc(json_object_size(s), sizeof *w->s);
        if (!w->s)
            return fail(rd, "out of memory");
        const char *k;
        json_t *v;
        json_object_foreach(s, k, v) {
            char *end;
            long long id = strtoll(k, &end, 10);
            long si = *end ? -1 : map_get(ids, id);
            if (si < 0)
                return fail(rd, "window t0=%g names series \"%s\", which the meta line does not list", w->t0, k);
            rr_stat *st = &w->s[w->n++];
            st->series = (uint32_t)si;
            read_stat(v, st);
            json_t *h = json_object_get(v, "h");
            if (h && merge_hist(rd, (uint32_t)si, h) != 0)
                return -1;
            if (h && window_hist(rd, st, h) != 0)
                return -1;
        }
        qsort(w->s, w->n, sizeof *w->s, cmp_stat);
    }
    json_t *rn = json_object_get(o, "runner");
    if (json_is_object(rn)) {
        rr_runner *u = &w->runner;
        u->present = true;
        u->vus = get_num(rn, "vus", 0);
        u->vus_max = get_num(rn, "vus_max", 0);
        /* null (or negative) when unknown: no open-model iteration, no worker sample */
        u->cpu_pct = get_num(rn, "cpu_pct", NAN);
        u->busiest_worker_pct = get_num(rn, "busiest_worker_pct", NAN);
        u->lag_p95_ms = get_num(rn, "lag_p95_ms", NAN);
        u->lag_max_ms = get_num(rn, "lag_max_ms", NAN);
        double *unknown[] = {&u->cpu_pct, &u->busiest_worker_pct, &u->lag_p95_ms, &u->lag_max_ms};
        for (size_t k = 0; k < 4; k++)
            if (*unknown[k] < 0)
                *unknown[k] = NAN;
        u->dropped = get_num(rn, "dropped", 0);
        u->behind = get_bool(rn, "behind");
        json_t *dc = json_object_get(rn, "drop_cause");
        snprintf(u->drop_cause, sizeof u->drop_cause, "%s", json_is_string(dc) ? json_string_value(dc) : "");
    }
    return 0;
}

/* The end line's checks or captures into *items; -1 when out of memory. */
static int read_items(json_t *list, rr_check **items, size_t *n)
{
    size_t i;
    json_t *v;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return 0;
    *items = calloc(json_array_size(list), sizeof **items);
    if (!*items)
        return -1;
    json_array_foreach(list, i, v) {
        rr_check *c = &(*items)[(*n)++];
        c->group = get_str(v, "group");
        c->name = get_str(v, "name");
        json_t *ff = json_object_get(v, "first_failure");
        c->first_failure = json_is_string(ff) ? rr__dup(json_string_value(ff)) : NULL;
        c->passes = get_num(v, "passes", 0);
        c->fails = get_num(v, "fails", 0);
    }
    return 0;
}

static int read_end(reader *rd, json_t *o, const id_map *ids)
{
    result *r = rd->r;
    r->complete = true;
    r->end_time = get_str(o, "end");
    r->duration_s = get_num(o, "duration_s", 0);
    r->interrupted = get_bool(o, "interrupted");
    r->aborted = get_bool(o, "aborted");
    r->abort_reason = get_str(o, "abort_reason");
    json_t *v = json_object_get(o, "verdict");
    char buf[32];
    if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else
        snprintf(buf, sizeof buf, "%lld", json_is_integer(v) ? (long long)json_integer_value(v) : -1LL);
    r->verdict = rr__dup(buf);
    r->exit_code = (int)get_num(o, "exit_code", -1);
    json_t *it = json_object_get(o, "iterations");
    r->iterations_complete = get_num(it, "complete", 0);
    r->iterations_interrupted = get_num(it, "interrupted", 0);
    r->vus_max = get_num(o, "vus_max", 0);
    r->cpu_s = get_num(o, "cpu_s", 0);
    r->windows_behind = get_num(o, "windows_behind", 0);
    json_t *tot = json_object_get(o, "totals");
    const char *k;
    json_object_foreach(tot, k, v) {
        char *end;
        long long id = strtoll(k, &end, 10);
        long si = *end ? -1 : map_get(ids, id);
        if (si < 0)
            return fail(rd, "the end line's totals name series \"%s\", which the meta line does not list", k);
        rr_stat *t = &r->totals[si];
        memset(t, 0, sizeof *t);
        t->series = (uint32_t)si;
        read_stat(v, t);
        if (keep_hist(rd, (size_t)si, json_object_get(v, "h")) != 0)
            return -1;
    }
    json_t *th = json_object_get(o, "thresholds");
    size_t i;
    json_array_foreach(th, i, v) {
        json_t *idx = json_object_get(v, "i");
        size_t ti = json_is_integer(idx) ? (size_t)json_integer_value(idx) : i;
        if (ti >= r->n_thresholds)
            return fail(rd, "the end line judges threshold %zu, which the meta line does not list", ti);
        rr_threshold *t = &r->thresholds[ti];
        free(t->verdict);
        free(t->judged);
        t->verdict = get_str(v, "verdict");
        t->judged = get_str(v, "judged");
        json_t *val = json_object_get(v, "value");
        t->has_value = json_is_number(val);
        t->value = t->has_value ? json_number_value(val) : 0;
    }
    if (read_items(json_object_get(o, "checks"), &r->checks, &r->n_checks) != 0 ||
        read_items(json_object_get(o, "captures"), &r->captures, &r->n_captures) != 0)
        return fail(rd, "out of memory");
    json_t *st = json_object_get(o, "stages");
    if (json_is_object(st) && json_object_size(st))
        r->stages = json_incref(st);
    return 0;
}

/* The check (or capture) series' totals as items: a run that died. */
static int items_of_series(result *r, rr_kind kind, rr_check **items, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < r->n_series; i++)
        count += r->series[i].kind == kind;
    if (count && !(*items = calloc(count, sizeof **items)))
        return -1;
    for (size_t i = 0; i < r->n_series; i++) {
        const rr_series *s = &r->series[i];
        if (s->kind != kind)
            continue;
        rr_check *c = &(*items)[(*n)++];
        const char *g = result_tag(s, "group"), *nm = result_tag(s, "check");
        c->group = rr__dup(g ? g : "");
        c->name = rr__dup(nm ? nm : s->key);
        c->passes = r->totals[i].nz;
        c->fails = r->totals[i].n - r->totals[i].nz;
    }
    return 0;
}

/* No end line: the run died. Totals from the windows, checks from the
 * check series, nothing judged. */
static int finish_incomplete(reader *rd)
{
    result *r = rd->r;
    for (size_t i = 0; i < r->n_series; i++)
        memset(&r->totals[i], 0, sizeof r->totals[i]), r->totals[i].series = (uint32_t)i;
    for (size_t w = 0; w < r->n_windows; w++)
        for (size_t k = 0; k < r->windows[w].n; k++)
            merge_total(&r->totals[r->windows[w].s[k].series], &r->windows[w].s[k]);
    for (size_t i = 0; i < r->n_series; i++) {
        hdr_hist *h = rd->hist[i];
        rr_stat *t = &r->totals[i];
        if (!h || h->total == 0 || !(t->has & RR_HAS_MINMAX))
            continue;
        if (keep_merged(rd, i, h) != 0)
            return -1;
        h->min = (int64_t)llround(t->min * rd->scale);
        h->max = (int64_t)llround(t->max * rd->scale);
        static const double ps[RR_NP] = {50, 90, 95, 99};
        for (int k = 0; k < RR_NP; k++)
            t->p[k] = (double)hdr_percentile(h, ps[k]) / rd->scale;
        t->has |= RR_HAS_P;
    }
    r->duration_s = r->n_windows ? r->windows[r->n_windows - 1].t1 : 0;
    r->verdict = rr__dup("incomplete");
    r->exit_code = -1;
    r->abort_reason = rr__dup("");
    r->end_time = rr__dup("");
    if (items_of_series(r, RR_CHECK, &r->checks, &r->n_checks) != 0 ||
        items_of_series(r, RR_CAPTURE, &r->captures, &r->n_captures) != 0)
        return fail(rd, "out of memory");
    for (size_t i = 0; i < r->n_windows; i++) {
        const rr_runner *u = &r->windows[i].runner;
        r->windows_behind += u->behind;
        if (u->vus_max > r->vus_max)
            r->vus_max = u->vus_max;
    }
    return 0;
}

int rr__next_line(gzFile f, char **buf, size_t *cap, size_t *len)
{
    *len = 0;
    for (;;) {
        if (*cap - *len < 2) {
            if (*cap >= RR_LINE_MAX_BYTES)
                return -2;
            size_t nc = *cap ? *cap * 2 : 65536;
            char *nb = realloc(*buf, nc);
            if (!nb)
                return -1;
            *buf = nb;
            *cap = nc;
        }
        if (!gzgets(f, *buf + *len, (int)(*cap - *len))) {
            int e;
            gzerror(f, &e);
            if (e != Z_OK && e != Z_BUF_ERROR)
                return -3;
            return *len > 0;
        }
        *len += strlen(*buf + *len);
        if (*len && (*buf)[*len - 1] == '\n')
            return 1;
    }
}

int result_read(const char *path, result *r, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    reader rd = {.r = r, .path = path, .err = err, .errcap = errcap, .scale = 1000};
    id_map ids = {0};
    char *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = -1;
    r->path = rr__dup(path);
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fail(&rd, "cannot open: %s", strerror(errno ? errno : ENOENT));
        goto out;
    }
    gzbuffer(f, 1u << 17);
    bool ended = false;
    for (;;) {
        int got = rr__next_line(f, &buf, &cap, &len);
        if (got == 0)
            break;
        rd.line++;
        if (got < 0) {
            if (got == -3 && r->n_windows > 0 && !ended) {
                /* A gzip stream cut short by a crash: keep what came before. */
                rd.line--;
                break;
            }
            fail(&rd, got == -1 ? "out of memory" : got == -2 ? "a line longer than 256 MB"
                                                            : "cannot read (not gzip, or corrupt)");
            goto out;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        if (len == 0)
            continue;
        if (ended) {
            fail(&rd, "a line after the end line");
            goto out;
        }
        json_error_t je;
        json_t *o = json_loadb(buf, len, 0, &je);
        if (!o) {
            if (rd.line > 1 && rr__next_line(f, &buf, &cap, &len) == 0) {
                /* The last line, cut by a crash mid-write: a run that died. */
                rd.line--;
                break;
            }
            fail(&rd, "not JSON: %s (column %d)", je.text, je.column);
            goto out;
        }
        json_t *type = json_object_get(o, "type");
        const char *t = json_is_string(type) ? json_string_value(type) : "";
        if (rd.line == 1 && (!strcmp(t, "Metric") || !strcmp(t, "Point"))) {
            /* json-out's raw stream (k6's `--out json` lines): read again
             * from the start by its own reader. */
            json_decref(o);
            if (gzrewind(f) != 0) {
                fail(&rd, "cannot read it again from the start");
                goto out;
            }
            rc = rr__from_ndjson(f, path, r, err, errcap);
            goto out;
        }
        int e = 0;
        if (rd.line == 1 && strcmp(t, "meta") != 0)
            e = fail(&rd, "not a volley result file nor json-out's NDJSON (the first line is not a meta, "
                          "Metric or Point line)");
        else if (!strcmp(t, "meta"))
            e = rd.line == 1 ? read_meta(&rd, o, &ids) : fail(&rd, "a second meta line");
        else if (!strcmp(t, "window"))
            e = read_window(&rd, o, &ids);
        else if (!strcmp(t, "end")) {
            e = read_end(&rd, o, &ids);
            ended = true;
        }   /* other types: from a newer writer; skipped */
        json_decref(o);
        if (e != 0)
            goto out;
    }
    if (rd.line == 0) {
        rd.line = 0;
        fail(&rd, "empty (not a volley result file)");
        goto out;
    }
    r->line_count = rd.line;
    if (!ended && finish_incomplete(&rd) != 0)
        goto out;
    rc = 0;
out:
    if (f)
        gzclose(f);
    free(buf);
    free(ids.at);
    for (size_t i = 0; rd.hist && i < r->n_series; i++)
        free(rd.hist[i]);
    free(rd.hist);
    return rc;
}

static void free_tags(rr_tag *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].value);
    }
    free(t);
}

void result_free(result *r)
{
    free(r->path);
    free(r->volley);
    free(r->hist_geometry);
    free(r->spec_name);
    free(r->spec_path);
    free(r->spec_sha256);
    free(r->segment);
    free(r->sequence);
    for (size_t i = 0; i < r->n_segments; i++)
        free(r->segments[i]);
    free(r->segments);
    for (size_t i = 0; i < r->n_instances; i++)
        free(r->instances[i]);
    free(r->instances);
    free(r->start);
    free(r->end_time);
    for (size_t i = 0; i < r->n_command; i++)
        free(r->command[i]);
    free(r->command);
    free_tags(r->run_tags, r->n_run_tags);
    for (size_t i = 0; i < r->n_series; i++) {
        free(r->series[i].key);
        free(r->series[i].metric);
        free_tags(r->series[i].tags, r->series[i].n_tags);
    }
    free(r->series);
    for (size_t i = 0; i < r->n_scenarios; i++) {
        free(r->scenarios[i].name);
        free(r->scenarios[i].executor);
        free(r->scenarios[i].setup_data);
    }
    free(r->scenarios);
    for (size_t i = 0; i < r->n_thresholds; i++) {
        rr_threshold *t = &r->thresholds[i];
        free(t->key);
        free(t->metric);
        free(t->expr);
        free(t->verdict);
        free(t->judged);
    }
    free(r->thresholds);
    for (size_t i = 0; i < r->n_windows; i++) {
        for (size_t k = 0; k < r->windows[i].n; k++)
            if (r->windows[i].s[k].h) {
                free(r->windows[i].s[k].h->s);
                free(r->windows[i].s[k].h);
            }
        free(r->windows[i].s);
    }
    free(r->windows);
    free(r->abort_reason);
    free(r->verdict);
    free(r->totals);
    for (size_t i = 0; r->hists && i < r->n_series; i++)
        free(r->hists[i].s);
    free(r->hists);
    for (size_t i = 0; i < r->n_checks; i++) {
        free(r->checks[i].group);
        free(r->checks[i].name);
        free(r->checks[i].first_failure);
    }
    free(r->checks);
    for (size_t i = 0; i < r->n_captures; i++) {
        free(r->captures[i].group);
        free(r->captures[i].name);
        free(r->captures[i].first_failure);
    }
    free(r->captures);
    if (r->stages)
        json_decref(r->stages);
    memset(r, 0, sizeof *r);
}

long result_find(const result *r, const char *key)
{
    for (size_t i = 0; i < r->n_series; i++)
        if (strcmp(r->series[i].key, key) == 0)
            return (long)i;
    return -1;
}

const char *result_tag(const rr_series *s, const char *name)
{
    for (size_t i = 0; i < s->n_tags; i++)
        if (strcmp(s->tags[i].name, name) == 0)
            return s->tags[i].value;
    return NULL;
}

const rr_stat *result_window_stat(const rr_window *w, uint32_t si)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->s[mid].series < si)
            lo = mid + 1;
        else if (w->s[mid].series > si)
            hi = mid;
        else
            return &w->s[mid];
    }
    return NULL;
}

const char *result_type_name(rr_type t)
{
    static const char *const n[] = {"counter", "rate", "gauge", "trend", "unknown"};
    return n[t];
}

const char *result_contains_name(rr_contains c)
{
    static const char *const n[] = {"default", "time", "data"};
    return n[c];
}

const char *result_kind_name(rr_kind k)
{
    static const char *const n[] = {"metric", "submetric", "breakdown", "check", "other", "capture"};
    return n[k];
}
