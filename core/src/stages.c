#include "stages.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

/* The series every stage row reads, by metric name (their own series). */
static const char *const row_metrics[] = {"iterations", "http_reqs", "http_req_duration",
                                          "http_req_failed", "dropped_iterations"};
enum { ROW_ITERATIONS, ROW_HTTP_REQS, ROW_DURATION, ROW_FAILED, ROW_DROPPED, ROW__COUNT };

bool stages_wanted(const scenario *sc)
{
    return sc->role == SC_ROLE_MAIN && sc->profile.n > 0 && sc->profile.n <= STAGES_MAX &&
           (sc->executor == EXEC_RAMPING_VUS || sc->executor == EXEC_RAMPING_ARRIVAL_RATE);
}

/* A threshold's series can see a scenario's samples unless one of its
 * filters names another scenario. */
static bool threshold_sees(const metrics_reg *reg, const threshold *t, const scenario *sc)
{
    const series_def *sd = &reg->series[t->series];
    for (size_t i = 0; i < sd->n_filters; i++)
        if (sd->filters[i].key == TAG_SCENARIO && strcmp(sd->filters[i].value, sc->name) != 0)
            return false;
    return true;
}

int stages_plan(const spec *s, metrics_reg *reg)
{
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        if (!stages_wanted(sc))
            continue;
        uint32_t *series = malloc((ROW__COUNT + s->n_thresholds) * sizeof *series);
        int64_t dur[STAGES_MAX];
        if (!series)
            return -1;
        size_t n = 0;
        for (size_t j = 0; j < ROW__COUNT; j++) {
            int m = metrics_find(reg, row_metrics[j]);
            if (m >= 0)
                series[n++] = reg->metrics[m].series;
        }
        for (size_t j = 0; j < s->n_thresholds; j++)
            if (threshold_sees(reg, &s->thresholds[j], sc))
                series[n++] = s->thresholds[j].series;
        for (size_t k = 0; k < sc->profile.n; k++)
            dur[k] = sc->profile.stages[k].duration_ns;
        int rc = metrics_add_stage_track(reg, i, s->n_scenarios, dur, sc->profile.n, series, n);
        free(series);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- one stage, read from the copies ---- */

typedef struct stage_row {
    double start_s, dur_s;
    double from, target;          /* VUs, or iterations per second */
    const series_agg *m[ROW__COUNT];   /* NULL: metric not kept */
    size_t n_crossed;
    size_t crossed[8];            /* threshold indexes, the first ones */
} stage_row;

static const series_agg *copy_of(const run_result *r, const stage_track *t, size_t k,
                                 uint32_t series)
{
    long slot = stage_track_slot(t, k, series);
    return slot >= 0 && (size_t)slot < r->agg.n ? &r->agg.s[slot] : NULL;
}

/* A filter on tag_stage's `stage` tag names the one stage it is about:
 * the other stages' copies get none of its samples and are not judged. */
static bool other_stage(const metrics_reg *reg, const threshold *t, const scenario *sc, size_t k)
{
    const series_def *sd = &reg->series[t->series];
    char num[32];
    snprintf(num, sizeof num, "%zu", k);
    for (size_t i = 0; sc->stage_tags && i < sd->n_filters; i++)
        if (sd->filters[i].key == TAG_STEP && strcmp(sd->filters[i].step_key, "stage") == 0)
            return strcmp(sd->filters[i].value, num) != 0;
    return false;
}

/* Whether threshold t's condition was crossed on stage k alone; *a gets
 * the stage's copy of its series. No data is not a crossing. */
static bool crossed(const metrics_reg *reg, const run_result *r, const scenario *sc,
                    const stage_track *tr, size_t k, const threshold *t, double dur_s,
                    const series_agg **a)
{
    *a = copy_of(r, tr, k, t->series);
    if (!*a || other_stage(reg, t, sc, k) || summary_no_data(reg, *a, t->metric) ||
        (t->expr.relative && t->expr.baseline_state != TH_BASELINE_SET))
        return false;
    return !th_holds(&t->expr, summary_agg_value(reg, *a, t->metric, &t->expr, dur_s));
}

static double per_second(const scenario *sc, double v)
{
    if (sc->executor != EXEC_RAMPING_ARRIVAL_RATE || sc->profile.unit_ns <= 0)
        return v;
    return v * 1e9 / (double)sc->profile.unit_ns;
}

static void read_row(const spec *s, const metrics_reg *reg, const run_result *r, size_t sc_i,
                     size_t k, stage_row *row)
{
    const scenario *sc = &s->scenarios[sc_i];
    const stage_track *t = metrics_stage_track(reg, sc_i);
    memset(row, 0, sizeof *row);
    row->start_s = (double)sched_stage_start(&sc->profile, k) / 1e9;
    row->dur_s = (double)sc->profile.stages[k].duration_ns / 1e9;
    row->from = per_second(sc, k ? sc->profile.stages[k - 1].target : sc->profile.start);
    row->target = per_second(sc, sc->profile.stages[k].target);
    for (size_t j = 0; j < ROW__COUNT; j++) {
        int m = metrics_find(reg, row_metrics[j]);
        if (m >= 0)
            row->m[j] = copy_of(r, t, k, reg->metrics[m].series);
    }
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const series_agg *a;
        if (!crossed(reg, r, sc, t, k, &s->thresholds[i], row->dur_s, &a))
            continue;
        if (row->n_crossed < sizeof row->crossed / sizeof row->crossed[0])
            row->crossed[row->n_crossed] = i;
        row->n_crossed++;
    }
}

static void fmt_target(const scenario *sc, double v, char *buf, size_t cap)
{
    char num[32];
    snprintf(num, sizeof num, "%.6g", v);
    if (sc->executor == EXEC_RAMPING_VUS)
        snprintf(buf, cap, "%s VU%s", num, v == 1 ? "" : "s");
    else
        snprintf(buf, cap, "%s/s", num);
}

/* "dropped_iterations "count<1" (count=21)" */
static void fmt_crossed(const metrics_reg *reg, const threshold *t, const series_agg *a,
                        double dur_s, char *buf, size_t cap)
{
    char why[160];
    summary_fmt_judged(reg, t, a, dur_s, why, sizeof why);
    snprintf(buf, cap, "%s \"%s\" (%s)", t->key, t->source, why);
}

/* ---- text ---- */

/* dropped/s: an arrival rate's iterations that found no free VU, so
 * iterations/s + dropped/s is what the stage offered (a ramp's average,
 * between the previous target and this one). */
enum { COL_STAGE, COL_DURATION, COL_TARGET, COL_ITERS, COL_DROPPED, COL_REQS, COL_P95, COL_FAILED,
       COL__COUNT };
static const char *const col_head[COL__COUNT] = {
    "stage", "duration", "target", "iterations/s", "dropped/s", "http_reqs/s",
    "http_req_duration p(95)", "http_req_failed"};

/* Display columns of a UTF-8 text (µ is 2 bytes, 1 column). */
static int text_cols(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void row_cells(const scenario *sc, const metrics_reg *reg, const stage_row *row, size_t k,
                      char cells[COL__COUNT][64])
{
    int dm = metrics_find(reg, "http_req_duration");
    snprintf(cells[COL_STAGE], 64, "%zu", k + 1);
    summary_fmt_value(VOLLEY_CONTAINS_TIME, row->dur_s * 1000, cells[COL_DURATION], 64);
    fmt_target(sc, row->target, cells[COL_TARGET], 64);
    const series_agg *it = row->m[ROW_ITERATIONS], *rq = row->m[ROW_HTTP_REQS];
    const series_agg *d = row->m[ROW_DURATION], *f = row->m[ROW_FAILED];
    snprintf(cells[COL_ITERS], 64, "%.1f", it && row->dur_s > 0 ? it->sum / row->dur_s : 0);
    const series_agg *dr = row->m[ROW_DROPPED];
    snprintf(cells[COL_DROPPED], 64, "%.1f", dr && row->dur_s > 0 ? dr->sum / row->dur_s : 0);
    snprintf(cells[COL_REQS], 64, "%.1f", rq && row->dur_s > 0 ? rq->sum / row->dur_s : 0);
    if (d && d->count && dm >= 0)
        summary_fmt_value(reg->metrics[dm].info.contains, agg_trend_stat(d, "p(95)"),
                          cells[COL_P95], 64);
    else
        snprintf(cells[COL_P95], 64, "-");
    if (f && f->count)
        snprintf(cells[COL_FAILED], 64, "%.2f%%", 100.0 * agg_rate(f));
    else
        snprintf(cells[COL_FAILED], 64, "-");
}

static void print_one(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                      size_t sc_i)
{
    const scenario *sc = &s->scenarios[sc_i];
    const stage_track *t = metrics_stage_track(reg, sc_i);
    size_t n = t->n_stages;
    stage_row *rows = calloc(n, sizeof *rows);
    char (*cells)[COL__COUNT][64] = calloc(n, sizeof *cells);
    if (!rows || !cells) {
        free(rows);
        free(cells);
        return;
    }
    int w[COL__COUNT];
    for (size_t c = 0; c < COL__COUNT; c++)
        w[c] = text_cols(col_head[c]);
    for (size_t k = 0; k < n; k++) {
        read_row(s, reg, r, sc_i, k, &rows[k]);
        row_cells(sc, reg, &rows[k], k, cells[k]);
        for (size_t c = 0; c < COL__COUNT; c++)
            if (text_cols(cells[k][c]) > w[c])
                w[c] = text_cols(cells[k][c]);
    }
    fprintf(out, "\n     stages of %s (%s):\n       ", sc->name, executor_name(sc->executor));
    for (size_t c = 0; c < COL__COUNT; c++)
        fprintf(out, "%-*s  ", w[c], col_head[c]);
    fputs("thresholds crossed\n", out);
    size_t breaking = n;
    for (size_t k = 0; k < n; k++) {
        fputs("       ", out);
        for (size_t c = 0; c < COL__COUNT; c++) {
            int pad = w[c] + (int)strlen(cells[k][c]) - text_cols(cells[k][c]);
            fprintf(out, "%-*s  ", pad, cells[k][c]);
        }
        if (!rows[k].n_crossed)
            fputs("-", out);
        else if (breaking == n)
            breaking = k;
        size_t shown = rows[k].n_crossed < 8 ? rows[k].n_crossed : 8;
        for (size_t j = 0; j < shown; j++) {
            const threshold *th = &s->thresholds[rows[k].crossed[j]];
            const series_agg *a;
            char text[512];
            crossed(reg, r, sc, t, k, th, rows[k].dur_s, &a);
            fmt_crossed(reg, th, a, rows[k].dur_s, text, sizeof text);
            fprintf(out, "%s✗ %s", j ? ", " : "", text);
        }
        if (rows[k].n_crossed > shown)
            fprintf(out, " and %zu more", rows[k].n_crossed - shown);
        fputc('\n', out);
    }
    if (breaking == n) {
        fprintf(out, "     no breaking point: every stage met every threshold\n");
    } else {
        char target[64];
        fmt_target(sc, rows[breaking].target, target, sizeof target);
        fprintf(out, "     breaking point: stage %zu (target %s): ", breaking + 1, target);
        const stage_row *row = &rows[breaking];
        size_t shown = row->n_crossed < 8 ? row->n_crossed : 8;
        for (size_t j = 0; j < shown; j++) {
            const threshold *th = &s->thresholds[row->crossed[j]];
            const series_agg *a;
            char why[160];
            crossed(reg, r, sc, t, breaking, th, row->dur_s, &a);
            summary_fmt_judged(reg, th, a, row->dur_s, why, sizeof why);
            fprintf(out, "%s%s \"%s\" crossed (observed %s)", j ? "; " : "", th->key, th->source,
                    why);
        }
        fputc('\n', out);
    }
    free(rows);
    free(cells);
}

void stages_print(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r)
{
    for (size_t i = 0; i < s->n_scenarios; i++)
        if (metrics_stage_track(reg, i))
            print_one(out, s, reg, r, i);
}

/* ---- export ---- */

static json_t *num_or_null(bool have, double v)
{
    return have && isfinite(v) ? json_real(v) : json_null();
}

static json_t *crossed_json(const metrics_reg *reg, const threshold *th, const series_agg *a,
                            double dur_s)
{
    char why[160];
    summary_fmt_judged(reg, th, a, dur_s, why, sizeof why);
    return json_pack("{s:s, s:s, s:o, s:s}", "metric", th->key, "threshold", th->source,
                     "value", json_real(summary_agg_value(reg, a, th->metric, &th->expr, dur_s)),
                     "observed", why);
}

static json_t *scenario_json(const spec *s, const metrics_reg *reg, const run_result *r,
                             size_t sc_i)
{
    const scenario *sc = &s->scenarios[sc_i];
    const stage_track *t = metrics_stage_track(reg, sc_i);
    json_t *list = json_array(), *bp = NULL;
    for (size_t k = 0; k < t->n_stages; k++) {
        stage_row row;
        read_row(s, reg, r, sc_i, k, &row);
        const series_agg *it = row.m[ROW_ITERATIONS], *rq = row.m[ROW_HTTP_REQS];
        const series_agg *d = row.m[ROW_DURATION], *f = row.m[ROW_FAILED];
        json_t *cr = json_array();
        for (size_t i = 0; i < s->n_thresholds; i++) {
            const series_agg *a;
            if (crossed(reg, r, sc, t, k, &s->thresholds[i], row.dur_s, &a))
                json_array_append_new(cr, crossed_json(reg, &s->thresholds[i], a, row.dur_s));
        }
        double iters = it ? it->sum : 0, reqs = rq ? rq->sum : 0;
        double dropped = row.m[ROW_DROPPED] ? row.m[ROW_DROPPED]->sum : 0;
        json_t *o = json_pack(
            "{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:o}",
            "stage", (json_int_t)(k + 1), "start_s", row.start_s, "duration_s", row.dur_s,
            "from", row.from, "target", row.target,
            "iterations", iters, "iterations_rate", row.dur_s > 0 ? iters / row.dur_s : 0.0,
            "dropped_iterations", dropped, "dropped_rate", row.dur_s > 0 ? dropped / row.dur_s : 0.0,
            "http_reqs", reqs, "http_reqs_rate", row.dur_s > 0 ? reqs / row.dur_s : 0.0,
            "http_req_duration_p95", num_or_null(d && d->count, d ? agg_trend_stat(d, "p(95)") : 0),
            "http_req_failed_rate", num_or_null(f && f->count, f ? agg_rate(f) : 0),
            "thresholds_crossed", cr);
        if (!bp && json_array_size(cr) > 0)
            bp = json_pack("{s:I, s:f, s:O}", "stage", (json_int_t)(k + 1), "target", row.target,
                           "thresholds", cr);
        json_array_append_new(list, o);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "executor", executor_name(sc->executor),
                     "target_unit", sc->executor == EXEC_RAMPING_VUS ? "vus" : "iterations/s",
                     "stages", list, "breaking_point", bp ? bp : json_null());
}

json_t *stages_json(const spec *s, const metrics_reg *reg, const run_result *r)
{
    json_t *o = NULL;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        if (!metrics_stage_track(reg, i))
            continue;
        if (!o)
            o = json_object();
        json_object_set_new(o, s->scenarios[i].name, scenario_json(s, reg, r, i));
    }
    return o;
}
