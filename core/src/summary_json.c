#include "summary_json.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "md5.h"
#include "summary.h"

static const char *const default_stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};

/* A number as k6 (Go's encoding/json) writes a float64: whole values
 * without a fraction ("count": 3, not 3.0). */
static json_t *num(double v)
{
    if (!isfinite(v))
        v = 0;
    if (v == trunc(v) && fabs(v) < 9007199254740992.0)   /* 2^53: exact as an integer */
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *new_group(const char *name, const char *path)
{
    char id[33];
    md5_hex(path, strlen(path), id);
    return json_pack("{s:s, s:s, s:s, s:[], s:[]}", "name", name, "path", path, "id", id,
                     "groups", "checks");
}

/* The element of an array of groups or checks with this name, or NULL. */
static json_t *find_named(json_t *arr, const char *name, size_t len)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strlen(n) == len && memcmp(n, name, len) == 0)
            return e;
    }
    return NULL;
}

/* The group of path "::a::b" under root, made when first seen: groups keep
 * the order their first check was declared in, as k6's keep the order they
 * ran in. NULL when out of memory. */
static json_t *group_for(json_t *root, const char *gpath)
{
    json_t *g = root;
    const char *p = gpath;
    while (g && p && *p) {
        p += 2;   /* "::" */
        const char *next = strstr(p, "::");
        size_t len = next ? (size_t)(next - p) : strlen(p);
        json_t *groups = json_object_get(g, "groups");
        json_t *child = find_named(groups, p, len);
        if (!child) {
            char name[512], path[1024];
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            snprintf(path, sizeof path, "%.*s", (int)(p + len - gpath), gpath);
            child = new_group(name, path);
            if (json_array_append_new(groups, child) != 0)
                return NULL;
        }
        g = child;
        p = next;
    }
    return g;
}

/* The checks (hidden series) into root_group. Two check items of one name
 * in one group are one check, as in k6 (same path, same id). */
static int add_checks(json_t *root, const metrics_reg *reg, const run_result *r)
{
    for (size_t i = 0; i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        if (!sd->hidden || sd->metric != BUILTIN_CHECKS)
            continue;
        const series_agg *a = &r->agg.s[i];
        json_t *g = group_for(root, sd->check_group);
        if (!g)
            return -1;
        json_t *checks = json_object_get(g, "checks");
        json_t *c = find_named(checks, sd->check_name, strlen(sd->check_name));
        json_int_t passes = (json_int_t)a->nonzero, fails = (json_int_t)(a->count - a->nonzero);
        if (c) {
            passes += json_integer_value(json_object_get(c, "passes"));
            fails += json_integer_value(json_object_get(c, "fails"));
            json_object_set_new(c, "passes", json_integer(passes));
            json_object_set_new(c, "fails", json_integer(fails));
            continue;
        }
        char path[1024], id[33];
        snprintf(path, sizeof path, "%s::%s", sd->check_group, sd->check_name);
        md5_hex(path, strlen(path), id);
        c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", sd->check_name, "path", path, "id", id,
                      "passes", passes, "fails", fails);
        if (!c || json_array_append_new(checks, c) != 0)
            return -1;
    }
    return 0;
}

static json_t *values(const metrics_reg *reg, const series_agg *a, uint32_t metric, double dur_s,
                      const char *const *stats, size_t n_stats)
{
    json_t *o = json_object();
    bool none = a->count == 0;
    switch (reg->metrics[metric].info.type) {
    case VOLLEY_METRIC_COUNTER:
        json_object_set_new(o, "count", num(a->sum));
        json_object_set_new(o, "rate", num(dur_s > 0 ? a->sum / dur_s : 0));
        break;
    case VOLLEY_METRIC_GAUGE:
        json_object_set_new(o, "value", num(none ? 0 : a->last));
        json_object_set_new(o, "min", num(none ? 0 : a->min));
        json_object_set_new(o, "max", num(none ? 0 : a->max));
        break;
    case VOLLEY_METRIC_RATE:
        json_object_set_new(o, "rate", num(agg_rate(a)));
        json_object_set_new(o, "passes", json_integer((json_int_t)a->nonzero));
        json_object_set_new(o, "fails", json_integer((json_int_t)(a->count - a->nonzero)));
        break;
    case VOLLEY_METRIC_TREND:
        for (size_t i = 0; i < n_stats; i++) {
            double x = strcmp(stats[i], "count") == 0 ? (double)a->count : agg_trend_stat(a, stats[i]);
            json_object_set_new(o, stats[i], num(x));
        }
        break;
    }
    return o;
}

static const char *type_name(volley_metric_type t)
{
    switch (t) {
    case VOLLEY_METRIC_COUNTER: return "counter";
    case VOLLEY_METRIC_GAUGE: return "gauge";
    case VOLLEY_METRIC_RATE: return "rate";
    case VOLLEY_METRIC_TREND: return "trend";
    }
    return "?";
}

static const char *contains_name(volley_metric_contains c)
{
    return c == VOLLEY_CONTAINS_TIME ? "time" : c == VOLLEY_CONTAINS_DATA ? "data" : "default";
}

/* One entry per metric and sub-metric, the same set --summary-export
 * writes: those with samples, and every series of a metric with
 * thresholds (k6 shows a threshold's metric without samples too). */
static json_t *metrics_obj(const spec *s, const metrics_reg *reg, const run_result *r,
                           const th_verdict *v, const char *const *stats, size_t n_stats,
                           const summary_opts *opts)
{
    double dur_s = (double)r->duration_ns / 1e9;
    json_t *all = json_object();
    for (size_t i = 0; all && i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        const series_agg *a = &r->agg.s[i];
        const volley_metric_info *m = &reg->metrics[sd->metric].info;
        if (sd->hidden || (a->count == 0 && m->n_thresholds == 0) ||
            !summary_series_exported(s, reg, (uint32_t)i, opts))
            continue;
        json_t *o = json_pack("{s:s, s:s, s:o}", "type", type_name(m->type), "contains",
                              contains_name(m->contains), "values",
                              values(reg, a, sd->metric, dur_s, stats, n_stats));
        json_t *th = NULL;
        for (size_t k = 0; o && k < s->n_thresholds; k++) {
            if (s->thresholds[k].series != i)
                continue;
            if (!th)
                th = json_object();
            /* k6's "ok": the threshold passed; here: it does not fail the
             * run (no data fails it, unless allow_no_data). */
            json_object_set_new(th, s->thresholds[k].source,
                                json_pack("{s:b}", "ok", !summary_fails_run(&s->thresholds[k], v[k])));
        }
        if (o && th)
            json_object_set_new(o, "thresholds", th);
        /* Not in k6's shape, as in --summary-export: the zeros above
         * measured nothing. */
        if (o && summary_no_data(reg, a, sd->metric))
            json_object_set_new(o, "no_data", json_true());
        if (!o || json_object_set_new(all, sd->name, o) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}

/* k6's options.summaryTimeUnit: "" unless --summary-time-unit was given. */
static const char *time_unit_name(const summary_opts *o)
{
    if (!o)
        return "";
    switch (o->time_unit) {
    case SUMMARY_UNIT_S: return "s";
    case SUMMARY_UNIT_MS: return "ms";
    case SUMMARY_UNIT_US: return "us";
    default: return "";
    }
}

static json_t *str_list(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void add_execution(json_t *state, const metrics_reg *reg, const summary_opts *o)
{
    if (o->n_segments) {
        json_object_set_new(state, "executionSegments", str_list(o->segments, o->n_segments));
        if (o->n_instances)
            json_object_set_new(state, "instances", str_list(o->instances, o->n_instances));
    } else if (o->segment) {
        json_object_set_new(state, "executionSegment", json_string(o->segment));
        for (size_t i = 0; i < reg->n_run_tags; i++)
            if (strcmp(reg->run_tags[i].key, "instance") == 0)
                json_object_set_new(state, "instance", json_string(reg->run_tags[i].value));
    }
    if ((o->n_segments || o->segment) && o->sequence)
        json_object_set_new(state, "executionSegmentSequence", json_string(o->sequence));
}

int summary_json_write(const char *path, const spec *s, const metrics_reg *reg,
                       const run_result *r, const th_verdict *v, const char *const *trend_stats,
                       size_t n_trend_stats, const summary_opts *opts, char *err, size_t errcap)
{
    if (!trend_stats || n_trend_stats == 0) {
        trend_stats = default_stats;
        n_trend_stats = sizeof default_stats / sizeof default_stats[0];
    }
    json_t *stats = json_array();
    for (size_t i = 0; stats && i < n_trend_stats; i++)
        json_array_append_new(stats, json_string(trend_stats[i]));
    json_t *root = new_group("", "");
    if (root && add_checks(root, reg, r) != 0) {
        json_decref(root);
        root = NULL;
    }
    /* Volley's summary has no colours: noColor is what it printed. */
    json_t *doc = json_pack(
        "{s:o*, s:o*, s:{s:o*, s:s, s:b}, s:{s:b, s:b, s:o}}",
        "root_group", root,
        "metrics", metrics_obj(s, reg, r, v, trend_stats, n_trend_stats, opts),
        "options", "summaryTrendStats", stats, "summaryTimeUnit", time_unit_name(opts), "noColor", 1,
        "state", "isStdOutTTY", isatty(STDOUT_FILENO), "isStdErrTTY", isatty(STDERR_FILENO),
        "testRunDurationMs", num((double)r->duration_ns / 1e6));
    /* Not in k6's: which part of a scaled-out test this is (k6's option
     * names) and its instance tag, or the segments and instances a merge
     * covers. */
    json_t *state = json_object_get(doc, "state");
    if (state && opts)
        add_execution(state, reg, opts);
    /* Not in k6's shape: the captures, when the spec has any. */
    json_t *caps = summary_captures_json(reg, r);
    if (doc && caps && json_array_size(caps))
        json_object_set(doc, "captures", caps);
    json_decref(caps);
    int rc = -1;
    if (!doc)
        snprintf(err, errcap, "%s: cannot write the summary JSON: out of memory", path);
    else if (json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) != 0)
        snprintf(err, errcap, "%s: cannot write the summary JSON", path);
    else
        rc = 0;
    json_decref(doc);
    return rc;
}
