/*
 * merge_series: the series of every file merged by key from their end
 * lines (counters summed, rates counted, gauges' min/max/last, trends'
 * histograms slot by slot into an hdr_hist) and the checks by group and
 * name.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"

long merge_find_series(const merged *m, const char *key)
{
    for (size_t i = 0; i < m->n_s; i++)
        if (strcmp(m->s[i].def->key, key) == 0)
            return (long)i;
    return -1;
}

static int add_file(merged *m, const result *r, char *err, size_t cap)
{
    double end = r->start_unix_ms / 1000.0 + r->duration_s;
    for (size_t i = 0; i < r->n_series; i++) {
        const rr_series *d = &r->series[i];
        long k = merge_find_series(m, d->key);
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
double merge_trend_stat(const merged *m, const mseries *s, const char *stat)
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

double merge_agg_value(const merged *m, const mseries *s, const th_expr *e)
{
    switch (e->agg) {
    case TH_AGG_COUNT: return s->def->type == RR_TREND ? s->n : s->sum;
    case TH_AGG_RATE:
        if (s->def->type == RR_COUNTER)
            return m->duration_s > 0 ? s->sum / m->duration_s : 0;
        return s->n > 0 ? s->nz / s->n : NAN;
    case TH_AGG_VALUE: return s->last;
    case TH_AGG_AVG: return merge_trend_stat(m, s, "avg");
    case TH_AGG_MIN: return s->min;
    case TH_AGG_MAX: return s->max;
    case TH_AGG_MED: return merge_trend_stat(m, s, "med");
    case TH_AGG_PCT: {
        char stat[32];
        snprintf(stat, sizeof stat, "p(%g)", e->pct);
        return merge_trend_stat(m, s, stat);
    }
    }
    return NAN;
}


int merge_series(merged *m, char *err, size_t cap)
{
    size_t total_series = 0, total_checks = 0, n_th = m->in[0].n_thresholds;
    for (size_t i = 0; i < m->n_in; i++) {
        total_series += m->in[i].n_series;
        total_checks += m->in[i].n_checks;
    }
    m->s = calloc(total_series + 1, sizeof *m->s);
    m->checks = calloc(total_checks + 1, sizeof *m->checks);
    m->v = calloc(n_th + 1, sizeof *m->v);
    m->tv = calloc(n_th + 1, sizeof *m->tv);
    m->expr = calloc(n_th + 1, sizeof *m->expr);
    if (!m->s || !m->checks || !m->v || !m->tv || !m->expr) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->n_in; i++)
        if (add_file(m, &m->in[i], err, cap) != 0)
            return -1;
    return 0;
}

void merge_free(merged *m)
{
    for (size_t i = 0; i < m->n_s; i++)
        free(m->s[i].h);
    for (size_t i = 0; i < m->n_in; i++)
        result_free(&m->in[i]);
    free(m->in);
    free(m->s);
    free(m->checks);
    free(m->v);
    free(m->tv);
    free(m->expr);
    memset(m, 0, sizeof *m);
}
