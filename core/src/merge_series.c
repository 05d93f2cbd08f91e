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

/* The VUs a run counts for its setup and teardown when they did not run
 * there (setup from --setup-data, teardown left to `volley teardown` or
 * --no-teardown): they belong to no instance of the union. */
static double vus_not_run(const result *r)
{
    double n = 0;
    for (size_t i = 0; i < r->n_scenarios; i++) {
        const rr_scenario *sc = &r->scenarios[i];
        bool setup = strcmp(sc->name, "setup") == 0, teardown = strcmp(sc->name, "teardown") == 0;
        if (!setup && !teardown)
            continue;
        char key[160];
        snprintf(key, sizeof key, "iterations{scenario:%s}", sc->name);
        long k = result_find(r, key);
        bool ran = k >= 0 && r->totals[k].has && r->totals[k].sum > 0;
        if ((setup && sc->setup_data) || !ran)
            n += sc->max_vus;
    }
    return n;
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
        if (!r->complete && (!h || h->total != (uint64_t)t->n)) {
            /* --allow-partial: a died run's windows had no histograms */
            s->hist_short = true;
            continue;
        }
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
    double idle = vus_not_run(r);
    m->vus_max += r->vus_max > idle ? r->vus_max - idle : 0;
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

/* A window stat being added up: the rr_stat and whether every run's
 * window had a histogram. */
typedef struct wacc {
    rr_stat st;
    size_t runs;
    bool all_hist;
    double last_end;
    rr_hist h;
    size_t cap;
} wacc;

static int add_slots(wacc *a, const rr_hist *h)
{
    if (a->h.n + h->n > a->cap) {
        size_t cap = (a->h.n + h->n) * 2 + 16;
        rr_slot *s = realloc(a->h.s, cap * sizeof *s);
        if (!s)
            return -1;
        a->h.s = s;
        a->cap = cap;
    }
    memcpy(a->h.s + a->h.n, h->s, h->n * sizeof *h->s);
    a->h.n += h->n;
    a->h.total += h->total;
    return 0;
}

static int cmp_slot(const void *a, const void *b)
{
    const rr_slot *x = a, *y = b;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void add_stat(wacc *a, const rr_stat *t, double end)
{
    bool first = a->runs++ == 0;
    a->st.has |= t->has;
    a->st.n += t->n;
    a->st.sum += t->sum;
    a->st.nz += t->nz;
    if (t->has & RR_HAS_MINMAX) {
        if (first || t->min < a->st.min)
            a->st.min = t->min;
        if (first || t->max > a->st.max)
            a->st.max = t->max;
    }
    if ((t->has & RR_HAS_LAST) && (first || end >= a->last_end)) {
        a->st.last = t->last;
        a->last_end = end;
    }
    if (first)
        memcpy(a->st.p, t->p, sizeof a->st.p);
    a->all_hist = (first || a->all_hist) && t->h;
    if (t->h && add_slots(a, t->h) != 0)
        a->all_hist = false;
}

/* The window's stat of one series: percentiles from the added
 * histograms, or the one run's own; none when several runs had none. */
static int finish_stat(wacc *a, double scale, rr_stat *out)
{
    *out = a->st;
    out->h = NULL;
    if (out->has & RR_HAS_SUM)
        out->avg = out->n > 0 ? out->sum / out->n : 0;
    if (!(out->has & RR_HAS_P) || a->runs == 1) {
        if (a->runs == 1 && a->all_hist && a->h.n) {
            if (!(out->h = calloc(1, sizeof *out->h)))
                return -1;
            *out->h = a->h;
            a->h = (rr_hist){0};
            a->cap = 0;
        }
        return 0;
    }
    if (!a->all_hist) {
        out->has &= ~(uint32_t)RR_HAS_P;
        return 0;
    }
    /* sort and add up the slots of every run */
    qsort(a->h.s, a->h.n, sizeof *a->h.s, cmp_slot);
    size_t k = 0;
    for (size_t i = 0; i < a->h.n; i++) {
        if (k && a->h.s[k - 1].slot == a->h.s[i].slot)
            a->h.s[k - 1].count += a->h.s[i].count;
        else
            a->h.s[k++] = a->h.s[i];
    }
    a->h.n = k;
    static const double pct[RR_NP] = {50, 90, 95, 99};
    for (int q = 0; q < RR_NP; q++) {
        uint64_t target = (uint64_t)(pct[q] / 100.0 * (double)a->h.total + 0.5), seen = 0;
        target = target ? target : 1;
        double v = out->max;
        for (size_t i = 0; i < a->h.n; i++) {
            seen += a->h.s[i].count;
            if (seen >= target) {
                /* the slot's middle, within min and max (hdr.c) */
                v = (double)(hdr_lowest_of(a->h.s[i].slot) + hdr_width_of(a->h.s[i].slot) / 2) / scale;
                v = v < out->min ? out->min : v > out->max ? out->max : v;
                break;
            }
        }
        out->p[q] = v;
    }
    if (!(out->h = calloc(1, sizeof *out->h)))
        return -1;
    *out->h = a->h;
    a->h = (rr_hist){0};
    a->cap = 0;
    return 0;
}

int merge_windows(merged *m, char *err, size_t cap)
{
    m->window_s = m->in[0].window_s > 0 ? m->in[0].window_s : 1;
    m->start_unix_ms = m->in[0].start_unix_ms;
    for (size_t f = 0; f < m->n_in; f++) {
        if (m->in[f].window_s != m->in[0].window_s) {
            snprintf(err, cap, "%s has %gs windows, %s %gs ones: their timelines cannot be merged",
                     m->in[f].path, m->in[f].window_s, m->in[0].path, m->in[0].window_s);
            return -1;
        }
        if (m->in[f].start_unix_ms < m->start_unix_ms)
            m->start_unix_ms = m->in[f].start_unix_ms;
    }
    /* each file's first window on the merged clock, and its series' merged ids */
    long *off = calloc(m->n_in, sizeof *off);
    long **ids = calloc(m->n_in, sizeof *ids);
    size_t *cur = calloc(m->n_in, sizeof *cur);
    wacc *acc = calloc(m->n_s + 1, sizeof *acc);
    int rc = -1;
    if (!off || !ids || !cur || !acc)
        goto oom;
    size_t n_win = 0;
    for (size_t f = 0; f < m->n_in; f++) {
        const result *r = &m->in[f];
        off[f] = lround((r->start_unix_ms - m->start_unix_ms) / 1000.0 / m->window_s);
        if (!(ids[f] = calloc(r->n_series + 1, sizeof *ids[f])))
            goto oom;
        for (size_t i = 0; i < r->n_series; i++)
            ids[f][i] = merge_find_series(m, r->series[i].key);
        if (r->n_windows) {
            long last = off[f] + (long)floor(r->windows[r->n_windows - 1].t0 / m->window_s + 1e-6);
            if (last + 1 > (long)n_win)
                n_win = (size_t)(last + 1);
        }
    }
    long vmax = merge_find_series(m, "vus_max");
    if (!(m->win = calloc(n_win + 1, sizeof *m->win)))
        goto oom;
    m->n_win = n_win;
    for (size_t k = 0; k < n_win; k++) {
        mwindow *w = &m->win[k];
        w->t0 = (double)k * m->window_s;
        w->t1 = w->t0;
        size_t runs = 0;
        for (size_t f = 0; f < m->n_in; f++) {
            const result *r = &m->in[f];
            double base = (r->start_unix_ms - m->start_unix_ms) / 1000.0;
            for (; cur[f] < r->n_windows; cur[f]++) {
                const rr_window *rw = &r->windows[cur[f]];
                if (off[f] + (long)floor(rw->t0 / m->window_s + 1e-6) != (long)k)
                    break;
                /* the merged window ends when its last run's window does */
                double t1 = w->t0 + (rw->t1 - rw->t0);
                if (t1 > w->t1)
                    w->t1 = t1;
                for (size_t j = 0; j < rw->n; j++) {
                    long si = ids[f][rw->s[j].series];
                    if (si >= 0)
                        add_stat(&acc[si], &rw->s[j], base + rw->t1);
                }
                const rr_runner *u = &rw->runner;
                if (!u->present)
                    continue;
                rr_runner *o = &w->runner;
                bool first = runs++ == 0;
                o->present = true;
                o->behind |= u->behind;
                o->vus += u->vus;
                double idle = vus_not_run(r);
                o->vus_max += u->vus_max > idle ? u->vus_max - idle : 0;
                o->dropped += u->dropped;
                /* the busiest instance's */
                double *mx[] = {&o->cpu_pct, &o->busiest_worker_pct, &o->lag_p95_ms, &o->lag_max_ms};
                const double *in[] = {&u->cpu_pct, &u->busiest_worker_pct, &u->lag_p95_ms, &u->lag_max_ms};
                for (size_t q = 0; q < 4; q++)
                    if (first || isnan(*mx[q]) || *in[q] > *mx[q])
                        *mx[q] = *in[q];
                if (!*o->drop_cause && *u->drop_cause)
                    memcpy(o->drop_cause, u->drop_cause, sizeof o->drop_cause);
                w->cores += r->cores;
            }
        }
        size_t n = 0;
        for (size_t i = 0; i < m->n_s; i++)
            n += acc[i].runs > 0;
        if (n && !(w->s = calloc(n, sizeof *w->s)))
            goto oom;
        for (size_t i = 0; i < m->n_s; i++) {
            if (!acc[i].runs)
                continue;
            acc[i].st.series = (uint32_t)i;
            if (finish_stat(&acc[i], m->in[0].hist_scale > 0 ? m->in[0].hist_scale : 1000,
                            &w->s[w->n++]) != 0)
                goto oom;
            /* the window's vus_max is the runs' added up (as the runner's) */
            rr_stat *st = &w->s[w->n - 1];
            if (w->runner.present && (long)i == vmax && m->s[i].def->type == RR_GAUGE)
                st->last = st->min = st->max = w->runner.vus_max;
            free(acc[i].h.s);
            acc[i] = (wacc){0};
        }
    }
    /* the union's VUs at most: the peak of the windows' sums over the runs
     * (exact when their windows line up: --start-at), else each run's
     * maximum added up (an upper bound) */
    m->vus_peak = false;
    double lo = 0, hi = 0;
    for (size_t k = 0; k < m->n_win; k++) {
        if (!m->win[k].runner.present)
            continue;
        double v = m->win[k].runner.vus_max;
        lo = m->vus_peak && lo < v ? lo : v;
        hi = m->vus_peak && hi > v ? hi : v;
        m->vus_peak = true;
    }
    long g = merge_find_series(m, "vus_max");
    if (m->vus_peak) {
        m->vus_max = hi;
        if (g >= 0 && m->s[g].def->type == RR_GAUGE && m->s[g].seen) {
            m->s[g].last = m->s[g].max = hi;
            m->s[g].min = lo;
        }
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, cap, "out of memory");
out:
    for (size_t f = 0; ids && f < m->n_in; f++)
        free(ids[f]);
    for (size_t i = 0; acc && i < m->n_s; i++)
        free(acc[i].h.s);
    free(ids);
    free(off);
    free(cur);
    free(acc);
    return rc;
}

void merge_free(merged *m)
{
    for (size_t k = 0; k < m->n_win; k++) {
        for (size_t j = 0; j < m->win[k].n; j++)
            if (m->win[k].s[j].h) {
                free(m->win[k].s[j].h->s);
                free(m->win[k].s[j].h);
            }
        free(m->win[k].s);
    }
    free(m->win);
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
    free(m->segs);
    free(m->instances);
    memset(m, 0, sizeof *m);
}
