/*
 * merge_view: the merged data as a run's structures (a spec with the
 * thresholds, a registry of the union's series, a run_result whose
 * aggregate holds the merged states), so `volley merge` writes
 * --summary-json with summary_json.c and `--out junit=F` through the
 * junit plugin's summary() (run_summary.c), as a run does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "core.h"
#include "diag.h"
#include "engine.h"
#include "merge_int.h"
#include "options.h"
#include "run_summary.h"
#include "spec.h"
#include "summary_json.h"

typedef struct merge_view {
    spec s;
    threshold *th;
    metrics_reg reg;
    run_result r;
    uint32_t *of;        /* view series of each merged series */
} merge_view;

static volley_metric_type vtype(rr_type t)
{
    return t == RR_COUNTER ? VOLLEY_METRIC_COUNTER : t == RR_RATE ? VOLLEY_METRIC_RATE
           : t == RR_GAUGE ? VOLLEY_METRIC_GAUGE : VOLLEY_METRIC_TREND;
}

/* A sub-metric or breakdown series by its key, without filters: nothing
 * records into a view. */
static int push_series(metrics_reg *r, uint32_t metric, const rr_series *d)
{
    if (r->n_series == r->cap_series) {
        size_t cap = r->cap_series ? r->cap_series * 2 : 64;
        series_def *s = realloc(r->series, cap * sizeof *s);
        if (!s)
            return -1;
        r->series = s;
        r->cap_series = cap;
    }
    char *name = strdup(d->key);
    if (!name)
        return -1;
    series_def *sd = &r->series[r->n_series];
    *sd = (series_def){.metric = metric, .name = name};
    sd->breakdown = d->kind == RR_BREAKDOWN;
    sd->per_scenario = sd->breakdown && result_tag(d, "scenario") != NULL;
    return (int)r->n_series++;
}

static void view_free(merge_view *v)
{
    metrics_reg_free(&v->reg);
    free(v->r.agg.s);
    free(v->r.check_fail);
    free(v->th);
    free(v->of);
}

static int view_build(merge_view *v, const merged *m, char *err, size_t cap)
{
    memset(v, 0, sizeof *v);
    metrics_reg_init(&v->reg);
    if (spec_register_builtin_metrics(&v->reg, err, cap) != 0)
        return -1;
    if (!(v->of = calloc(m->n_s + 1, sizeof *v->of)))
        goto oom;
    for (size_t i = 0; i < m->n_s; i++) {
        const rr_series *d = m->s[i].def;
        int mi = metrics_register(&v->reg, d->metric, vtype(d->type),
                                  d->contains == RR_TIME ? VOLLEY_CONTAINS_TIME
                                  : d->contains == RR_DATA ? VOLLEY_CONTAINS_DATA
                                                           : VOLLEY_CONTAINS_DEFAULT,
                                  err, cap);
        if (mi < 0)
            return -1;
        int id;
        if (d->kind == RR_METRIC) {
            id = (int)v->reg.metrics[mi].series;
        } else if (d->kind == RR_CHECK || d->kind == RR_CAPTURE) {
            const char *g = result_tag(d, "group"), *c = result_tag(d, "check");
            id = metrics_add_hidden(&v->reg, (uint32_t)mi, g ? g : "", c ? c : d->key);
        } else {
            id = push_series(&v->reg, (uint32_t)mi, d);
        }
        if (id < 0)
            goto oom;
        v->of[i] = (uint32_t)id;
    }
    /* the aggregate: each merged state where a run keeps it */
    size_t n = v->reg.n_series;
    v->r.agg.n = n;
    if (!(v->r.agg.s = calloc(n + 1, sizeof *v->r.agg.s)) ||
        !(v->r.check_fail = calloc(n + 1, sizeof *v->r.check_fail)))
        goto oom;
    v->r.n_check_fail = n;
    for (size_t i = 0; i < m->n_s; i++) {
        const mseries *s = &m->s[i];
        series_agg *a = &v->r.agg.s[v->of[i]];
        a->count = (uint64_t)s->n;
        a->nonzero = (uint64_t)s->nz;
        a->sum = s->sum;
        if (s->def->type == RR_GAUGE) {
            a->min = s->min;
            a->max = s->max;
            a->last = s->last;
        } else if (s->def->type == RR_TREND) {
            a->hist = s->h;   /* exact_cap 0: the stats come from it */
        }
        const rr_series *d = s->def;
        if (d->kind == RR_CHECK || d->kind == RR_CAPTURE) {
            const char *g = result_tag(d, "group"), *c = result_tag(d, "check");
            for (size_t f = 0; f < m->n_in && !v->r.check_fail[v->of[i]]; f++) {
                const result *r = &m->in[f];
                const rr_check *ck = d->kind == RR_CAPTURE ? r->captures : r->checks;
                size_t nc = d->kind == RR_CAPTURE ? r->n_captures : r->n_checks;
                for (size_t k = 0; k < nc; k++)
                    if (ck[k].first_failure && strcmp(ck[k].group, g ? g : "") == 0 &&
                        strcmp(ck[k].name, c ? c : d->key) == 0)
                        v->r.check_fail[v->of[i]] = ck[k].first_failure;
            }
        }
    }
    v->r.duration_ns = (int64_t)llround(m->duration_s * 1e9);
    v->r.start_unix_ns = (int64_t)llround(m->start_unix_ms * 1e6);
    v->r.ran = true;
    v->r.iterations_complete = (uint64_t)m->iter_complete;
    v->r.iterations_interrupted = (uint64_t)m->iter_interrupted;
    v->r.vus_max = (int64_t)m->vus_max;
    /* the seed when every run had the same one (0 when they differ) */
    bool one_seed = m->n_in > 0 && m->in[0].has_seed;
    for (size_t f = 1; one_seed && f < m->n_in; f++)
        one_seed = m->in[f].has_seed && m->in[f].seed == m->in[0].seed;
    v->r.seed = one_seed ? (uint64_t)m->in[0].seed : 0;
    /* the thresholds, as judged over the merged data */
    const result *r0 = &m->in[0];
    bool all_passed = true;
    for (size_t f = 0; f < m->n_in; f++)
        all_passed = all_passed && m->in[f].exit_code == 0;
    if (!(v->th = calloc(r0->n_thresholds + 1, sizeof *v->th)))
        goto oom;
    for (size_t i = 0; i < r0->n_thresholds; i++) {
        const rr_threshold *t = &r0->thresholds[i];
        long k = merge_find_series(m, t->key);
        int mi = metrics_find(&v->reg, t->metric ? t->metric : "");
        if (k < 0 || mi < 0) {
            snprintf(err, cap, "threshold %s \"%s\": its series is in no file", t->key, t->expr);
            return -1;
        }
        v->th[i] = (threshold){.key = t->key, .source = t->expr, .series = v->of[k],
                               .metric = (uint32_t)mi, .expr = m->expr[i],
                               .abort_on_fail = t->abort_on_fail,
                               /* not judged (relative) or allowed as merge_judge allows it */
                               .allow_no_data = m->expr[i].relative || all_passed};
        if (metrics_add_threshold_source(&v->reg, (uint32_t)mi, t->expr) != 0)
            goto oom;
    }
    v->s.name = r0->spec_name ? r0->spec_name : "";
    v->s.path = r0->spec_path ? r0->spec_path : "";
    v->s.thresholds = v->th;
    v->s.n_thresholds = r0->n_thresholds;
    return 0;
oom:
    snprintf(err, cap, "out of memory");
    return -1;
}

int merge_summary_json(const char *path, const merged *m, char *err, size_t cap)
{
    merge_view v;
    int rc = view_build(&v, m, err, cap);
    const char *stats[SUMMARY_MAX_STATS];
    for (size_t k = 0; k < m->opts.n_stats; k++)
        stats[k] = m->opts.stats[k];
    if (rc == 0)
        rc = summary_json_write(path, &v.s, &v.reg, &v.r, m->v, stats, m->opts.n_stats, &m->opts,
                                err, cap);
    view_free(&v);
    return rc;
}

int merge_output(const char *arg, const merged *m, int exit_code, char *err, size_t cap)
{
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (nlen != 5 || strncmp(arg, "junit", 5) != 0 || !eq || !eq[1]) {
        snprintf(err, cap, "--out %s: a merge has the verdicts, not the samples: only junit=FILE", arg);
        return -1;
    }
    volley_core core;
    merge_view v;
    arena a;
    diag d;
    arena_init(&a);
    diag_init(&d);
    void *inst = NULL;
    const volley_output_ops *ops = NULL;
    run_summary rs;
    memset(&rs, 0, sizeof rs);
    int rc = -1;
    bool core_ok = core_init(&core, err, cap) == 0;
    if (!core_ok)
        goto out;
    if (plug_load_all(&core.plugins, NULL, 0, &core.host, err, cap) != 0)
        goto out;
    const plug *p = plug_find_output(&core.plugins, "junit");
    if (!p) {
        snprintf(err, cap, "--out junit: the junit plugin is not installed");
        goto out;
    }
    ops = p->desc->output;
    void *cfg = arena_alloc(&a, ops->options->config_size);
    opt_ctx oc = {.a = &a, .d = &d};
    if (!cfg || opt_fill_arg(&oc, ops->options, eq + 1, cfg, "--out junit") != 0 ||
        d.count) {
        snprintf(err, cap, "--out junit: %s", d.n_lines ? d.lines[0] : "bad option");
        goto out;
    }
    char why[512] = "";
    if (ops->config_check && ops->config_check(&core.host, cfg, why, sizeof why) != 0) {
        snprintf(err, cap, "--out %s: %s", arg, why);
        goto out;
    }
    if (!(inst = ops->create(&core.host, &core, cfg, why, sizeof why))) {
        snprintf(err, cap, "--out %s: %s", arg, why);
        goto out;
    }
    if (view_build(&v, m, err, cap) != 0) {
        view_free(&v);
        goto out;
    }
    if (run_summary_build(&rs, &v.s, &v.reg, &v.r, m->v, exit_code) != 0)
        snprintf(err, cap, "out of memory");
    else if (ops->summary(inst, &rs.pub, why, sizeof why) != 0)
        snprintf(err, cap, "--out %s: %s", arg, why);
    else
        rc = 0;
    run_summary_free(&rs);
    view_free(&v);
    if (ops->close(inst, why, sizeof why) != 0 && rc == 0) {
        snprintf(err, cap, "--out %s: %s", arg, why);
        rc = -1;
    }
out:
    if (inst && ops->destroy)
        ops->destroy(inst);
    if (core_ok)
        core_free(&core);
    diag_free(&d);
    arena_free(&a);
    return rc;
}
