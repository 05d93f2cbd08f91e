#include "merge.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} mseries;

typedef struct mcheck {
    const char *group, *name;
    double passes, fails;
} mcheck;

typedef struct merged {
    result *in;
    size_t n_in;
    mseries *s;
    size_t n_s;
    double duration_s, iter_complete, iter_interrupted, vus_max;
    mcheck *checks;
    size_t n_checks;
    th_verdict *v;
    double *tv;             /* each threshold's merged value */
    th_expr *expr;
} merged;

static void usage(FILE *out)
{
    fputs("usage: volley merge RESULT... [--summary-export F]\n"
          "  The end-of-test summary of the union of result files (volley run --result)\n"
          "  of one spec: counters summed, rates counted, trends' histograms merged slot\n"
          "  by slot (percentiles of the union, not averages); every threshold judged\n"
          "  again over the merged data. Exit 0: all pass; 99: one fails; 104: a bad file.\n"
          "  --summary-export F       k6's legacy summary JSON of the union\n", out);
}

static long find_series(const merged *m, const char *key)
{
    for (size_t i = 0; i < m->n_s; i++)
        if (strcmp(m->s[i].def->key, key) == 0)
            return (long)i;
    return -1;
}

/* The files must be runs of one spec: same name and same thresholds. */
static int same_spec(const result *a, const result *b, char *err, size_t cap)
{
    const char *na = a->spec_name ? a->spec_name : "", *nb = b->spec_name ? b->spec_name : "";
    if (strcmp(na, nb) != 0) {
        snprintf(err, cap, "%s is a run of spec \"%s\", %s of spec \"%s\": merge only runs of one spec",
                 b->path, nb, a->path, na);
        return -1;
    }
    bool same = a->n_thresholds == b->n_thresholds;
    for (size_t i = 0; same && i < a->n_thresholds; i++)
        same = strcmp(a->thresholds[i].key, b->thresholds[i].key) == 0 &&
               strcmp(a->thresholds[i].expr, b->thresholds[i].expr) == 0;
    if (!same) {
        snprintf(err, cap, "%s and %s have different thresholds: runs of different versions of "
                 "spec \"%s\" cannot be merged", a->path, b->path, na);
        return -1;
    }
    if (a->hist_scale != b->hist_scale) {
        snprintf(err, cap, "%s and %s have different histogram scales", a->path, b->path);
        return -1;
    }
    return 0;
}

static int add_file(merged *m, const result *r, char *err, size_t cap)
{
    double end = r->start_unix_ms / 1000.0 + r->duration_s;
    for (size_t i = 0; i < r->n_series; i++) {
        const rr_series *d = &r->series[i];
        long k = find_series(m, d->key);
        if (k < 0) {
            k = (long)m->n_s++;
            m->s[k] = (mseries){.def = d};
        } else if (m->s[k].def->type != d->type) {
            snprintf(err, cap, "%s: series %s is a %s, a %s in %s", r->path, d->key,
                     result_type_name(d->type), result_type_name(m->s[k].def->type),
                     m->in[0].path);
            return -1;
        }
        mseries *s = &m->s[k];
        const rr_stat *t = &r->totals[i];
        if (!t->has)
            continue;
        bool first = !s->seen;
        s->seen = true;
        s->n += t->n;
        s->sum += t->sum;
        s->nz += t->nz;
        if (t->has & RR_HAS_MINMAX) {
            if (first || t->min < s->min)
                s->min = t->min;
            if (first || t->max > s->max)
                s->max = t->max;
        }
        /* a gauge's last value: the one of the run that ended last */
        if ((t->has & RR_HAS_LAST) && (first || end >= s->last_end)) {
            s->last = t->last;
            s->last_end = end;
        }
        if (d->type != RR_TREND || t->n == 0)
            continue;
        const rr_hist *h = r->hists ? &r->hists[i] : NULL;
        if (!h || h->total != (uint64_t)t->n) {
            snprintf(err, cap, "%s: trend %s has no whole histogram in its end line", r->path, d->key);
            return -1;
        }
        if (!s->h && !(s->h = calloc(1, sizeof *s->h))) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
        for (size_t j = 0; j < h->n; j++)
            s->h->counts[h->s[j].slot] += h->s[j].count;
        s->h->total += h->total;
        s->h->sum += t->sum * r->hist_scale;
        s->h->min = (int64_t)llround(s->min * r->hist_scale);
        s->h->max = (int64_t)llround(s->max * r->hist_scale);
    }
    for (size_t i = 0; i < r->n_checks; i++) {
        const rr_check *c = &r->checks[i];
        size_t k = 0;
        while (k < m->n_checks && !(strcmp(m->checks[k].group, c->group) == 0 &&
                                    strcmp(m->checks[k].name, c->name) == 0))
            k++;
        if (k == m->n_checks)
            m->checks[m->n_checks++] = (mcheck){.group = c->group, .name = c->name};
        m->checks[k].passes += c->passes;
        m->checks[k].fails += c->fails;
    }
    /* side by side: the union lasted as long as its longest run */
    if (r->duration_s > m->duration_s)
        m->duration_s = r->duration_s;
    m->iter_complete += r->iterations_complete;
    m->iter_interrupted += r->iterations_interrupted;
    m->vus_max += r->vus_max;
    return 0;
}

static double scale(const merged *m) { return m->in[0].hist_scale > 0 ? m->in[0].hist_scale : 1000; }

/* A trend's stat: avg min max med p(N) count, in the metric's unit. */
static double trend_stat(const merged *m, const mseries *s, const char *stat)
{
    if (strcmp(stat, "avg") == 0)
        return s->n > 0 ? s->sum / s->n : 0;
    if (strcmp(stat, "min") == 0)
        return s->min;
    if (strcmp(stat, "max") == 0)
        return s->max;
    if (strcmp(stat, "count") == 0)
        return s->n;
    double p = strcmp(stat, "med") == 0 ? 50 : strtod(stat + 2, NULL);
    return s->h ? (double)hdr_percentile(s->h, p) / scale(m) : 0;
}

static double agg_value(const merged *m, const mseries *s, const th_expr *e)
{
    switch (e->agg) {
    case TH_AGG_COUNT: return s->def->type == RR_TREND ? s->n : s->sum;
    case TH_AGG_RATE:
        if (s->def->type == RR_COUNTER)
            return m->duration_s > 0 ? s->sum / m->duration_s : 0;
        return s->n > 0 ? s->nz / s->n : NAN;
    case TH_AGG_VALUE: return s->last;
    case TH_AGG_AVG: return trend_stat(m, s, "avg");
    case TH_AGG_MIN: return s->min;
    case TH_AGG_MAX: return s->max;
    case TH_AGG_MED: return trend_stat(m, s, "med");
    case TH_AGG_PCT: {
        char stat[32];
        snprintf(stat, sizeof stat, "p(%g)", e->pct);
        return trend_stat(m, s, stat);
    }
    }
    return NAN;
}

static volley_metric_contains contains_of(const rr_series *d)
{
    return d->contains == RR_TIME ? VOLLEY_CONTAINS_TIME
           : d->contains == RR_DATA ? VOLLEY_CONTAINS_DATA : VOLLEY_CONTAINS_DEFAULT;
}

static void fmt_judged(const merged *m, size_t i, char *buf, size_t cap)
{
    const rr_threshold *t = &m->in[0].thresholds[i];
    const th_expr *e = &m->expr[i];
    long k = find_series(m, t->key);
    char label[32], val[64];
    th_agg_label(e, label, sizeof label);
    bool plain = e->agg == TH_AGG_RATE || e->agg == TH_AGG_COUNT;
    summary_fmt_value(plain || k < 0 ? VOLLEY_CONTAINS_DEFAULT : contains_of(m->s[k].def), m->tv[i],
                      val, sizeof val);
    bool per = e->agg == TH_AGG_RATE && k >= 0 && m->s[k].def->type == RR_COUNTER;
    snprintf(buf, cap, "%s=%s%s", label, val, per ? "/s" : "");
}

/* Judges every threshold; returns how many fail the merge. */
static size_t judge(merged *m, char *err, size_t cap, int *bad)
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
        long k = find_series(m, t->key);
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
        m->tv[i] = agg_value(m, s, &m->expr[i]);
        m->v[i] = th_holds(&m->expr[i], m->tv[i]) ? TH_PASS : TH_FAIL;
        failed += m->v[i] == TH_FAIL;
    }
    return failed;
}

static int cmp_key(const void *a, const void *b)
{
    const mseries *x = *(const mseries *const *)a, *y = *(const mseries *const *)b;
    return strcmp(x->def->key, y->def->key);
}

/* The series the summary and the export show: metrics and declared
 * sub-metrics, sorted by key (a sub-metric follows its metric). */
static size_t shown(const merged *m, const mseries **out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_s; i++) {
        const mseries *s = &m->s[i];
        bool th = false;
        for (size_t t = 0; t < m->in[0].n_thresholds; t++)
            th = th || strcmp(m->in[0].thresholds[t].key, s->def->key) == 0;
        if ((s->def->kind == RR_METRIC || s->def->kind == RR_SUBMETRIC) && (s->seen || th))
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

static const char *const stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};
enum { N_STATS = sizeof stats / sizeof stats[0] };

/* columns count characters, not bytes ("µs") */
static size_t display_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/* "p(95)=412ms": one stat of a trend as the summary shows it. */
static void trend_cell(const merged *m, const mseries *s, size_t k, char *cell, size_t cap)
{
    char v[64];
    summary_fmt_value(contains_of(s->def), trend_stat(m, s, stats[k]), v, sizeof v);
    snprintf(cell, cap, "%s=%s", stats[k], v);
}

static void print_summary(FILE *out, const merged *m, const mseries **list, size_t n, size_t failed)
{
    fprintf(out, "\n     merged: %zu result%s of spec \"%s\"\n", m->n_in, m->n_in == 1 ? "" : "s",
            m->in[0].spec_name ? m->in[0].spec_name : "");
    for (size_t i = 0; i < m->n_in; i++)
        fprintf(out, "       %s (%.1fs, exit %d)\n", m->in[i].path, m->in[i].duration_s,
                m->in[i].exit_code);
    fputc('\n', out);
    const char *last_group = NULL;
    for (size_t i = 0; i < m->n_checks; i++) {
        const mcheck *c = &m->checks[i];
        if (*c->group && (!last_group || strcmp(last_group, c->group) != 0))
            fprintf(out, "     █ %s\n\n", c->group);
        last_group = c->group;
        if (c->fails == 0)
            fprintf(out, "     ✓ %s\n", c->name);
        else
            fprintf(out, "     ✗ %s\n      ↳  %.0f%% — ✓ %.0f / ✗ %.0f\n", c->name,
                    floor(100 * c->passes / (c->passes + c->fails)), c->passes, c->fails);
    }
    if (m->n_checks)
        fputc('\n', out);
    int widths[N_STATS] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; list[i]->def->type == RR_TREND && k < N_STATS; k++) {
            char cell[96];
            trend_cell(m, list[i], k, cell, sizeof cell);
            if ((int)display_len(cell) > widths[k])
                widths[k] = (int)display_len(cell);
        }
    int width = 30;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(list[i]->def->key) + 2 > width)
            width = (int)strlen(list[i]->def->key) + 2;
    for (size_t i = 0; i < n; i++) {
        const mseries *s = list[i];
        bool sub = s->def->kind == RR_SUBMETRIC;
        fprintf(out, "%s%s%s", sub ? "  " : "", mark_of(m, s), s->def->key);
        for (int d = (int)strlen(s->def->key) + (sub ? 2 : 0); d < width; d++)
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
            fprintf(out, "%.2f%% ✓ %-8.0f ✗ %.0f\n", s->n > 0 ? 100 * s->nz / s->n : 0, s->nz,
                    s->n - s->nz);
            break;
        case RR_GAUGE:
            summary_fmt_value(c, s->last, v1, sizeof v1);
            fprintf(out, "%-10s min=", v1);
            summary_fmt_value(c, s->min, v1, sizeof v1);
            summary_fmt_value(c, s->max, v2, sizeof v2);
            fprintf(out, "%-8s max=%s\n", v1, v2);
            break;
        default:
            for (size_t k = 0; k < N_STATS; k++) {
                char cell[96];
                trend_cell(m, s, k, cell, sizeof cell);
                bool last = k + 1 == N_STATS;
                fprintf(out, "%-*s%s", last ? 0 : widths[k] + (int)(strlen(cell) - display_len(cell)),
                        cell, last ? "\n" : " ");
            }
        }
    }
    fprintf(out, "\n     merged run (%.1fs, the longest), %.0f VUs at most (the sum), %.0f complete "
            "and %.0f interrupted iterations\n", m->duration_s, m->vus_max, m->iter_complete,
            m->iter_interrupted);
    const result *r0 = &m->in[0];
    if (r0->n_thresholds)
        fprintf(out, "\n     thresholds over the merged data:\n");
    for (size_t i = 0; i < r0->n_thresholds; i++) {
        const rr_threshold *t = &r0->thresholds[i];
        char why[160];
        if (m->expr[i].relative)
            snprintf(why, sizeof why, "not judged: relative to a baseline run");
        else if (m->v[i] == TH_NO_DATA)
            snprintf(why, sizeof why, "no data");
        else
            fmt_judged(m, i, why, sizeof why);
        fprintf(out, "       %s %s \"%s\": %s\n",
                m->v[i] == TH_PASS ? "✓" : m->expr[i].relative ? "-" : "✗", t->key, t->expr, why);
    }
    if (failed)
        fprintf(out, "\n     ✗ %zu of %zu thresholds failed\n", failed, r0->n_thresholds);
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
        for (size_t k = 0; k < N_STATS; k++)
            json_object_set_new(o, stats[k], json_real(trend_stat(m, s, stats[k])));
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

static int export_json(const char *path, const merged *m, const mseries **list, size_t n,
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
    int rc = doc ? json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : -1;
    json_decref(doc);
    if (rc != 0) {
        snprintf(err, cap, "%s: cannot write the summary export", path);
        return -1;
    }
    return 0;
}

int merge_main(int argc, char **argv)
{
    const char *export_path = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    size_t n_paths = 0;
    if (!paths)
        return MERGE_INVALID;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            free(paths);
            return 0;
        } else if (strcmp(argv[i], "--summary-export") == 0 && i + 1 < argc) {
            export_path = argv[++i];
        } else if (strncmp(argv[i], "--summary-export=", 17) == 0) {
            export_path = argv[i] + 17;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "volley merge: unknown or incomplete option \"%s\"\n", argv[i]);
            usage(stderr);
            free(paths);
            return MERGE_INVALID;
        } else {
            paths[n_paths++] = argv[i];
        }
    }
    if (n_paths == 0) {
        fprintf(stderr, "volley merge: expected at least one RESULT file (volley run --result)\n");
        free(paths);
        return MERGE_INVALID;
    }
    merged m = {0};
    char err[1024];
    int rc = MERGE_INVALID;
    size_t total_series = 0, total_checks = 0;
    const mseries **list = NULL;
    m.in = calloc(n_paths, sizeof *m.in);
    if (!m.in)
        goto out;
    for (size_t i = 0; i < n_paths; i++) {
        if (result_read(paths[i], &m.in[i], err, sizeof err) != 0) {
            m.n_in = i + 1;
            fprintf(stderr, "volley merge: %s\n", err);
            goto out;
        }
        m.n_in = i + 1;
        const result *r = &m.in[i];
        if (r->raw) {
            fprintf(stderr, "volley merge: %s: json-out NDJSON, not a result file: merge needs "
                    "files of volley run --result\n", paths[i]);
            goto out;
        }
        if (!r->complete) {
            fprintf(stderr, "volley merge: %s: no end line (the run died): merge needs every "
                    "run's end line\n", paths[i]);
            goto out;
        }
        if (i > 0 && same_spec(&m.in[0], r, err, sizeof err) != 0) {
            fprintf(stderr, "volley merge: %s\n", err);
            goto out;
        }
        total_series += r->n_series;
        total_checks += r->n_checks;
    }
    size_t n_th = m.in[0].n_thresholds;
    m.s = calloc(total_series + 1, sizeof *m.s);
    m.checks = calloc(total_checks + 1, sizeof *m.checks);
    m.v = calloc(n_th + 1, sizeof *m.v);
    m.tv = calloc(n_th + 1, sizeof *m.tv);
    m.expr = calloc(n_th + 1, sizeof *m.expr);
    list = calloc(total_series + 1, sizeof *list);
    if (!m.s || !m.checks || !m.v || !m.tv || !m.expr || !list)
        goto out;
    for (size_t i = 0; i < m.n_in; i++)
        if (add_file(&m, &m.in[i], err, sizeof err) != 0) {
            fprintf(stderr, "volley merge: %s\n", err);
            goto out;
        }
    int bad;
    size_t failed = judge(&m, err, sizeof err, &bad);
    if (bad) {
        fprintf(stderr, "volley merge: %s: a threshold: %s\n", m.in[0].path, err);
        goto out;
    }
    size_t n = shown(&m, list);
    print_summary(stdout, &m, list, n, failed);
    rc = failed ? MERGE_FAIL : 0;
    if (export_path && export_json(export_path, &m, list, n, failed, err, sizeof err) != 0) {
        fprintf(stderr, "volley merge: --summary-export: %s\n", err);
        rc = MERGE_INVALID;
    }
out:
    for (size_t i = 0; i < m.n_s; i++)
        free(m.s[i].h);
    for (size_t i = 0; i < m.n_in; i++)
        result_free(&m.in[i]);
    free(m.in);
    free(m.s);
    free(m.checks);
    free(m.v);
    free(m.tv);
    free(m.expr);
    free(list);
    free(paths);
    return rc;
}
