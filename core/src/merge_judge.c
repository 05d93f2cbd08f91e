/*
 * merge_judge: the thresholds of the files judged again over the merged
 * series, the summary text of the union and its --summary-export.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"
#include "summary.h"

static volley_metric_contains contains_of(const rr_series *d)
{
    return d->contains == RR_TIME ? VOLLEY_CONTAINS_TIME
           : d->contains == RR_DATA ? VOLLEY_CONTAINS_DATA : VOLLEY_CONTAINS_DEFAULT;
}

void merge_fmt_judged(const merged *m, size_t i, char *buf, size_t cap)
{
    const rr_threshold *t = &m->in[0].thresholds[i];
    const th_expr *e = &m->expr[i];
    long k = merge_find_series(m, t->key);
    char label[32], val[64];
    th_agg_label(e, label, sizeof label);
    bool plain = e->agg == TH_AGG_RATE || e->agg == TH_AGG_COUNT;
    summary_fmt_value(plain || k < 0 ? VOLLEY_CONTAINS_DEFAULT : contains_of(m->s[k].def), m->tv[i],
                      val, sizeof val);
    bool per = e->agg == TH_AGG_RATE && k >= 0 && m->s[k].def->type == RR_COUNTER;
    snprintf(buf, cap, "%s=%s%s", label, val, per ? "/s" : "");
}

/* Judges every threshold; returns how many fail the merge. */
size_t merge_judge(merged *m, char *err, size_t cap, int *bad)
{
    const result *r0 = &m->in[0];
    size_t failed = 0;
    *bad = 0;
    for (size_t i = 0; i < r0->n_thresholds; i++) {
        const rr_threshold *t = &r0->thresholds[i];
        if (th_parse(t->expr, &m->expr[i], err, cap) != 0) {
            *bad = 1;
            return 0;
        }
        long k = merge_find_series(m, t->key);
        const mseries *s = k >= 0 ? &m->s[k] : NULL;
        if (m->expr[i].relative) {
            /* relative to a baseline run: merge has none; not judged */
            m->v[i] = TH_NO_DATA;
            m->tv[i] = NAN;
            continue;
        }
        if (!s || (!s->seen && s->def->type != RR_COUNTER)) {
            m->v[i] = TH_NO_DATA;
            m->tv[i] = NAN;
            /* allowed (allow_no_data) only when every run said no data and passed */
            bool allowed = true;
            for (size_t f = 0; f < m->n_in; f++)
                allowed = allowed && m->in[f].exit_code == 0;
            failed += !allowed;
            continue;
        }
        m->tv[i] = merge_agg_value(m, s, &m->expr[i]);
        m->v[i] = th_holds(&m->expr[i], m->tv[i]) ? TH_PASS : TH_FAIL;
        failed += m->v[i] == TH_FAIL;
    }
    return failed;
}

/* A metric's line, then its sub-metrics and breakdowns by key (as volley
 * run's summary groups them). */
static int cmp_key(const void *a, const void *b)
{
    const mseries *x = *(const mseries *const *)a, *y = *(const mseries *const *)b;
    const char *mx = x->def->metric ? x->def->metric : x->def->key;
    const char *my = y->def->metric ? y->def->metric : y->def->key;
    int c = strcmp(mx, my);
    if (c)
        return c;
    bool sx = x->def->kind != RR_METRIC, sy = y->def->kind != RR_METRIC;
    if (sx != sy)
        return sx - sy;
    return strcmp(x->def->key, y->def->key);
}

static bool has_threshold(const merged *m, const mseries *s)
{
    for (size_t t = 0; t < m->in[0].n_thresholds; t++)
        if (strcmp(m->in[0].thresholds[t].key, s->def->key) == 0)
            return true;
    return false;
}

/* The series the summary (for_export false) and --summary-export show, as
 * volley run's (summary.c): metrics and declared sub-metrics; breakdowns
 * with a threshold or of a kind --summary-by asks for; per-scenario ones
 * in the export always. Breakdowns no run got a sample of are left out
 * (setup's, when every run had it from --setup-data). */
size_t merge_shown(const merged *m, const mseries **out, bool for_export)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_s; i++) {
        const mseries *s = &m->s[i];
        bool th = has_threshold(m, s), show = false;
        if (s->def->kind == RR_METRIC || s->def->kind == RR_SUBMETRIC) {
            show = s->seen || th;
        } else if (s->def->kind == RR_BREAKDOWN) {
            bool per_sc = result_tag(s->def, "scenario") != NULL;
            unsigned by = per_sc ? SUMMARY_BY_SCENARIO : SUMMARY_BY_NAME;
            show = th || (s->seen && ((m->opts.by & by) || (for_export && per_sc)));
        }
        if (show)
            out[n++] = s;
    }
    qsort(out, n, sizeof *out, cmp_key);
    return n;
}

static const char *mark_of(const merged *m, const mseries *s)
{
    const char *mk = "     ";
    for (size_t t = 0; t < m->in[0].n_thresholds; t++) {
        if (strcmp(m->in[0].thresholds[t].key, s->def->key) != 0 || m->expr[t].relative)
            continue;
        if (m->v[t] == TH_PASS)
            mk = "   ✓ ";
        else
            return "   ✗ ";
    }
    return mk;
}

/* columns count characters, not bytes ("µs") */
static size_t display_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/* A line's label: a metric's name, a sub-metric's or breakdown's
 * "{ status:200 }" as volley run's summary writes it. */
static void sub_label(const mseries *s, char *buf, size_t cap)
{
    const char *key = s->def->key, *brace = strchr(key, '{');
    if (s->def->kind != RR_METRIC && brace && strlen(brace) >= 2)
        snprintf(buf, cap, "{ %.*s }", (int)(strlen(brace) - 2), brace + 1);
    else
        snprintf(buf, cap, "%s", key);
}

/* "p(95)=412ms": stat k of --summary-trend-stats of a trend, as volley
 * run's summary shows it (summary.c), in its --summary-time-unit. */
static void trend_cell(const merged *m, const mseries *s, size_t k, char *cell, size_t cap)
{
    const char *stat = m->opts.stats[k];
    summary_fmt_trend_cell(contains_of(s->def), stat, merge_trend_stat(m, s, stat), &m->opts, cell, cap);
}

void merge_print_summary(FILE *out, const merged *m, const mseries **list, size_t n, size_t failed)
{
    fprintf(out, "\n     merged: %zu result%s of spec \"%s\"\n", m->n_in, m->n_in == 1 ? "" : "s",
            m->in[0].spec_name ? m->in[0].spec_name : "");
    for (size_t i = 0; i < m->n_in; i++) {
        if (m->in[i].complete)
            fprintf(out, "       %s (%.1fs, exit %d)\n", m->in[i].path, m->in[i].duration_s,
                    m->in[i].exit_code);
        else
            fprintf(out, "       %s (%.1fs, died: no end line)\n", m->in[i].path, m->in[i].duration_s);
    }
    if (m->n_partial)
        fprintf(out, "     ⚠ partial: %zu run%s died (no end line): merged what %s windows hold\n",
                m->n_partial, m->n_partial == 1 ? "" : "s", m->n_partial == 1 ? "its" : "their");
    /* one line for every trend a dead run left without its histogram */
    size_t n_short = 0, n_named = 0;
    for (size_t i = 0; i < m->n_s; i++)
        n_short += m->s[i].hist_short;
    for (size_t i = 0; i < m->n_s && n_short; i++) {
        if (!m->s[i].hist_short || m->s[i].def->kind != RR_METRIC)
            continue;
        fprintf(out, "%s%s", n_named++ ? ", " : "     ⚠ percentiles of ", m->s[i].def->key);
    }
    if (n_short)
        fprintf(out, "%s%s leave out the runs that died (their windows have no histograms: "
                "--result-histograms)\n", n_named ? "" : "     ⚠ percentiles of trends",
                n_short > n_named ? " and their sub-metrics" : "");
    if (*m->seg_warn)
        fprintf(out, "     ⚠ %s\n", m->seg_warn);
    fputc('\n', out);
    const char *last_group = NULL;
    for (size_t i = 0; i < m->n_checks; i++) {
        const mcheck *c = &m->checks[i];
        if (*c->group && (!last_group || strcmp(last_group, c->group) != 0))
            fprintf(out, "     █ %s\n\n", c->group);
        last_group = c->group;
        char pct[32];
        summary_fmt_pct((unsigned long long)c->passes, (unsigned long long)(c->passes + c->fails), 0,
                        pct, sizeof pct);
        if (c->passes + c->fails == 0)   /* in no run (setup's, run elsewhere): as volley run says */
            fprintf(out, "     - %s (never evaluated)\n", c->name);
        else if (c->fails == 0)
            fprintf(out, "     ✓ %s\n", c->name);
        else
            fprintf(out, "     ✗ %s\n      ↳  %s — ✓ %.0f / ✗ %.0f\n", c->name, pct, c->passes,
                    c->fails);
    }
    if (m->n_checks)
        fputc('\n', out);
    const size_t n_stats = m->opts.n_stats;
    int widths[SUMMARY_MAX_STATS] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; list[i]->def->type == RR_TREND && k < n_stats; k++) {
            char cell[96];
            trend_cell(m, list[i], k, cell, sizeof cell);
            if ((int)display_len(cell) > widths[k])
                widths[k] = (int)display_len(cell);
        }
    int width = 30;
    for (size_t i = 0; i < n; i++) {
        char label[512];
        sub_label(list[i], label, sizeof label);
        int need = (int)display_len(label) + (list[i]->def->kind != RR_METRIC ? 2 : 0) + 2;
        if (need > width)
            width = need < 64 ? need : 64;
    }
    for (size_t i = 0; i < n; i++) {
        const mseries *s = list[i];
        bool sub = s->def->kind != RR_METRIC;
        char label[512];
        sub_label(s, label, sizeof label);
        fprintf(out, "%s%s%s", sub ? "  " : "", mark_of(m, s), label);
        for (int d = (int)display_len(label) + (sub ? 2 : 0); d < width; d++)
            fputc('.', out);
        fputs(": ", out);
        volley_metric_contains c = contains_of(s->def);
        char v1[64], v2[64];
        if (!s->seen && s->def->type != RR_COUNTER) {
            fputs("no data\n", out);
            continue;
        }
        switch (s->def->type) {
        case RR_COUNTER:
            summary_fmt_value(c, s->sum, v1, sizeof v1);
            summary_fmt_value(c, m->duration_s > 0 ? s->sum / m->duration_s : 0, v2, sizeof v2);
            fprintf(out, "%-10s %s/s\n", v1, v2);
            break;
        case RR_RATE:
            summary_fmt_pct((unsigned long long)s->nz, (unsigned long long)s->n, 2, v1, sizeof v1);
            fprintf(out, "%s ✓ %-8.0f ✗ %.0f\n", v1, s->nz, s->n - s->nz);
            break;
        case RR_GAUGE:
            summary_fmt_value(c, s->last, v1, sizeof v1);
            fprintf(out, "%-10s min=", v1);
            summary_fmt_value(c, s->min, v1, sizeof v1);
            summary_fmt_value(c, s->max, v2, sizeof v2);
            fprintf(out, "%-8s max=%s\n", v1, v2);
            break;
        default:
            for (size_t k = 0; k < n_stats; k++) {
                char cell[96];
                trend_cell(m, s, k, cell, sizeof cell);
                bool last = k + 1 == n_stats;
                fprintf(out, "%-*s%s", last ? 0 : widths[k] + (int)(strlen(cell) - display_len(cell)),
                        cell, last ? "\n" : " ");
            }
        }
    }
    fprintf(out, "\n     merged run (%.1fs, the longest), %.0f VUs at most (%s), %.0f complete "
            "and %.0f interrupted iterations\n", m->duration_s, m->vus_max,
            m->vus_peak ? "vus_max: the peak of the runs' VUs added up second by second"
                        : "the sum of each run's most",
            m->iter_complete, m->iter_interrupted);
    if (m->n_partial)
        fprintf(out, "     (complete and interrupted: the end lines of the runs that have one; the "
                "metrics above also count what the dead runs' windows hold)\n");
    const result *r0 = &m->in[0];
    if (r0->n_thresholds)
        fprintf(out, "\n     thresholds over the merged data%s:\n",
                m->n_partial ? " (partial: a run died)" : "");
    for (size_t i = 0; i < r0->n_thresholds; i++) {
        const rr_threshold *t = &r0->thresholds[i];
        char why[160];
        if (m->expr[i].relative)
            snprintf(why, sizeof why, "not judged: relative to a baseline run");
        else if (m->v[i] == TH_NO_DATA)
            snprintf(why, sizeof why, "no data");
        else
            merge_fmt_judged(m, i, why, sizeof why);
        fprintf(out, "       %s %s \"%s\": %s\n",
                m->v[i] == TH_PASS ? "✓" : m->expr[i].relative ? "-" : "✗", t->key, t->expr, why);
    }
    if (failed)
        fprintf(out, "\n     ✗ %zu of %zu thresholds failed\n", failed, r0->n_thresholds);
    if (m->n_partial)
        fprintf(out, "\n     verdict: %s, partial (%zu of %zu runs without an end line)\n",
                failed ? "fail" : "pass", m->n_partial, m->n_in);
    fputc('\n', out);
}

static json_t *values_json(const merged *m, const mseries *s)
{
    json_t *o = json_object();
    switch (s->def->type) {
    case RR_COUNTER:
        json_object_set_new(o, "count", json_real(s->sum));
        json_object_set_new(o, "rate", json_real(m->duration_s > 0 ? s->sum / m->duration_s : 0));
        break;
    case RR_RATE:
        json_object_set_new(o, "passes", json_integer((json_int_t)s->nz));
        json_object_set_new(o, "fails", json_integer((json_int_t)(s->n - s->nz)));
        json_object_set_new(o, "value", json_real(s->n > 0 ? s->nz / s->n : 0));
        break;
    case RR_GAUGE:
        json_object_set_new(o, "value", json_real(s->last));
        json_object_set_new(o, "min", json_real(s->min));
        json_object_set_new(o, "max", json_real(s->max));
        break;
    default:
        for (size_t k = 0; k < m->opts.n_stats; k++) {
            const char *stat = m->opts.stats[k];
            double x = merge_trend_stat(m, s, stat);
            json_object_set_new(o, stat, strcmp(stat, "count") == 0 ? json_integer((json_int_t)x)
                                                                     : json_real(x));
        }
    }
    json_t *th = NULL;
    for (size_t t = 0; t < m->in[0].n_thresholds; t++) {
        if (strcmp(m->in[0].thresholds[t].key, s->def->key) != 0)
            continue;
        if (!th)
            th = json_object();
        /* k6's legacy export: true means the threshold failed */
        json_object_set_new(th, m->in[0].thresholds[t].expr,
                            json_boolean(m->v[t] != TH_PASS && !m->expr[t].relative));
    }
    if (th)
        json_object_set_new(o, "thresholds", th);
    return o;
}

int merge_export_json(const char *path, const merged *m, const mseries **list, size_t n,
                       size_t failed, char *err, size_t cap)
{
    json_t *metrics = json_object(), *checks = json_object(), *files = json_array();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(metrics, list[i]->def->key, values_json(m, list[i]));
    for (size_t i = 0; i < m->n_checks; i++)
        json_object_set_new(checks, m->checks[i].name,
                            json_pack("{s:s, s:s, s:f, s:f}", "name", m->checks[i].name, "group",
                                      m->checks[i].group, "passes", m->checks[i].passes,
                                      "fails", m->checks[i].fails));
    for (size_t i = 0; i < m->n_in; i++)
        json_array_append_new(files, json_string(m->in[i].path));
    json_t *doc = json_pack(
        "{s:o, s:{s:s, s:s, s:o, s:o, s:o}, s:{s:s, s:o, s:f, s:i, s:{s:I, s:I}}}",
        "metrics", metrics, "root_group", "name", "", "path", "", "id", json_string(""),
        "groups", json_object(), "checks", checks,
        "run", "spec", m->in[0].spec_name ? m->in[0].spec_name : "", "merged", files,
        "duration_s", m->duration_s, "exit_code", failed ? MERGE_FAIL : 0,
        "thresholds", "total", (json_int_t)m->in[0].n_thresholds, "failed", (json_int_t)failed);
    json_t *run = json_object_get(doc, "run");
    if (run) {
        json_t *st = json_array();
        for (size_t k = 0; k < m->opts.n_stats; k++)
            json_array_append_new(st, json_string(m->opts.stats[k]));
        json_object_set_new(run, "summary_trend_stats", st);
        if (m->n_segs) {   /* what the union covers, as the merged result's meta */
            json_t *segs = json_array(), *inst = json_array();
            for (size_t k = 0; k < m->n_segs; k++)
                json_array_append_new(segs, json_string(m->segs[k]));
            for (size_t k = 0; k < m->n_instances; k++)
                json_array_append_new(inst, json_string(m->instances[k]));
            json_object_set_new(run, "segments", segs);
            json_object_set_new(run, "instances", inst);
            if (m->sequence)
                json_object_set_new(run, "sequence", json_string(m->sequence));
        }
        json_object_set_new(run, "partial", json_boolean(m->n_partial > 0));
        if (*m->seg_warn)
            json_object_set_new(run, "warnings", json_pack("[s]", m->seg_warn));
    }
    int rc = doc ? json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : -1;
    json_decref(doc);
    if (rc != 0) {
        snprintf(err, cap, "%s: cannot write the summary export", path);
        return -1;
    }
    return 0;
}

