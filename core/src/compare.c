#include "compare.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "summary.h"

const char *const compare_col_names[CMP_NCOLS] = {"count", "rate/s", "failed %", "avg", "p50", "p95", "p99"};

/* A reported percentile is within 1/(2*HDR_HALF) of the true value (hdr.h). */
#define HDR_REL_ERROR 0.002

/* The duration trend a group's percentiles come from, by preference. */
static int dur_rank(const char *metric)
{
    static const char *const pref[] = {"http_req_duration", "ws_session_duration", "iteration_duration",
                                       "group_duration"};
    for (int i = 0; i < 4; i++)
        if (strcmp(metric, pref[i]) == 0)
            return i;
    return 4;
}

cmp_group *compare_groups(const result *r, size_t *n)
{
    *n = 0;
    cmp_group *g = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < r->n_series; i++) {
        const rr_series *s = &r->series[i];
        size_t ml = strlen(s->metric);
        /* A threshold's sub-metric of one request name or scenario counts too. */
        bool one = s->n_tags == 1 && (!strcmp(s->tags[0].name, "name") || !strcmp(s->tags[0].name, "scenario"));
        if (!(s->kind == RR_BREAKDOWN || (s->kind == RR_SUBMETRIC && one)) || strncmp(s->key, s->metric, ml) != 0 ||
            s->key[ml] != '{')
            continue;
        const char *key = s->key + ml;
        size_t k = 0;
        while (k < *n && strcmp(g[k].key, key) != 0)
            k++;
        if (k == *n) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                cmp_group *ng = realloc(g, cap * sizeof *ng);
                if (!ng) {
                    free(g);
                    *n = 0;
                    return NULL;
                }
                g = ng;
            }
            cmp_group *x = &g[(*n)++];
            memset(x, 0, sizeof *x);
            snprintf(x->key, sizeof x->key, "%s", key);
            size_t off = 0;
            for (size_t t = 0; t < s->n_tags && off < sizeof x->label; t++)
                off += (size_t)snprintf(x->label + off, sizeof x->label - off, "%s%s: %s", t ? ", " : "",
                                        s->tags[t].name, s->tags[t].value);
            x->dur = x->reqs = x->failed = -1;
        }
        cmp_group *x = &g[k];
        if (s->type == RR_TREND && (x->dur < 0 || dur_rank(s->metric) < dur_rank(r->series[x->dur].metric)))
            x->dur = (long)i;
        else if (strcmp(s->metric, "http_reqs") == 0)
            x->reqs = (long)i;
        else if (strcmp(s->metric, "http_req_failed") == 0)
            x->failed = (long)i;
    }
    /* A tag set of status or error_code alone is a failure breakdown (the
     * report charts it), not a request. */
    size_t w = 0;
    for (size_t k = 0; k < *n; k++)
        if (strncmp(g[k].key, "{status:", 8) != 0 && strncmp(g[k].key, "{error_code:", 12) != 0)
            g[w++] = g[k];
    *n = w;
    return g;
}

/* The lowest (or highest) value of the slot holding the sample at rank k
 * (1-based, ascending) of h, in recorded units. */
static double at_rank(const rr_hist *h, uint64_t k, bool highest)
{
    uint64_t seen = 0;
    size_t i = 0;
    for (; i + 1 < h->n; i++) {
        seen += h->s[i].count;
        if (seen >= k)
            break;
    }
    uint32_t slot = h->s[i].slot;
    return (double)hdr_lowest_of(slot) + (highest ? (double)(hdr_width_of(slot) - 1) : 0);
}

/* The order-statistic interval of quantile q: the samples at ranks
 * n*q -/+ z*sqrt(n*q*(1-q)) bound the true quantile with 99% confidence
 * whatever the distribution, if the samples are independent. They are not
 * quite: a stall of the generator or the target delays every request in
 * flight at once, up to the run's VUs, so the ranks widen by that clump
 * too (measured: without it, 3 of 10 pairs of runs made at the same time
 * on a busy machine had p99 flagged). Taken as the outer edges of their
 * slots, so the histogram's own error is inside it too; clamped to the
 * exact min/max. */
static void quantile_ci(const rr_hist *h, double scale, const rr_stat *t, double q, double clump, double *lo,
                        double *hi)
{
    double n = (double)h->total, s = COMPARE_Z * sqrt(n * q * (1 - q)) + clump;
    double a = fmax(floor(n * q - s), 1), b = fmin(ceil(n * q + s), n);
    *lo = at_rank(h, (uint64_t)a, false) / scale;
    *hi = at_rank(h, (uint64_t)b, true) / scale;
    if (t->has & RR_HAS_MINMAX) {
        *lo = fmin(fmax(*lo, t->min), t->max);
        *hi = fmax(fmin(*hi, t->max), t->min);
    }
}

/* mean -/+ z*sd/sqrt(n), the sd from the slots' midpoints (0.2% off at
 * most, far less than the interval). */
static bool mean_ci(const rr_hist *h, double scale, double mean, double *lo, double *hi)
{
    if (h->total < 2)
        return false;
    double ss = 0;
    for (size_t i = 0; i < h->n; i++) {
        uint32_t slot = h->s[i].slot;
        double mid = ((double)hdr_lowest_of(slot) + (double)(hdr_width_of(slot) - 1) / 2) / scale;
        ss += (double)h->s[i].count * (mid - mean) * (mid - mean);
    }
    double n = (double)h->total, half = COMPARE_Z * sqrt(ss / (n - 1)) / sqrt(n);
    *lo = mean - half;
    *hi = mean + half;
    return true;
}

/* Wilson's score interval of x successes in n, in percent: unlike
 * p -/+ z*sqrt(p(1-p)/n) it is not zero-wide at 0 failures. */
static void wilson_ci(double x, double n, double *lo, double *hi)
{
    double p = x / n, z2 = COMPARE_Z * COMPARE_Z, d = 1 + z2 / n;
    double c = (p + z2 / (2 * n)) / d, half = COMPARE_Z / d * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
    *lo = 100 * fmax(c - half, 0);
    *hi = 100 * fmin(c + half, 1);
}

static void failed_into(const rr_stat *t, cmp_stats *st)
{
    if (t->n <= 0)
        return;
    st->v[CMP_FAILED] = 100.0 * t->nz / t->n;
    st->have[CMP_FAILED] = st->ci[CMP_FAILED] = true;
    wilson_ci(t->nz, t->n, &st->lo[CMP_FAILED], &st->hi[CMP_FAILED]);
}

/* Series si's avg and percentiles, with their intervals when the run kept
 * its histogram. */
static void trend_into(const result *r, long si, cmp_stats *st)
{
    const rr_stat *t = &r->totals[si];
    if (t->n <= 0)
        return;
    const rr_hist *h = r->hists && r->hists[si].total > 0 ? &r->hists[si] : NULL;
    double scale = r->hist_scale > 0 ? r->hist_scale : 1000;
    if (t->has & (RR_HAS_AVG | RR_HAS_SUM)) {
        st->v[CMP_AVG] = t->has & RR_HAS_AVG ? t->avg : t->sum / t->n;
        st->have[CMP_AVG] = true;
        st->ci[CMP_AVG] = h && mean_ci(h, scale, st->v[CMP_AVG], &st->lo[CMP_AVG], &st->hi[CMP_AVG]);
    }
    if (!(t->has & RR_HAS_P))
        return;
    static const double q[3] = {0.50, 0.95, 0.99};
    for (int k = 0; k < 3; k++) {
        double v = t->p[k == 0 ? RR_P50 : k == 1 ? RR_P95 : RR_P99];
        if (isnan(v))
            continue;
        st->v[CMP_P50 + k] = v;
        st->have[CMP_P50 + k] = true;
        if (h) {
            quantile_ci(h, scale, t, q[k], r->vus_max > 0 ? r->vus_max : 0, &st->lo[CMP_P50 + k],
                        &st->hi[CMP_P50 + k]);
            st->ci[CMP_P50 + k] = true;
        }
    }
}

void compare_group_stats(const result *r, const cmp_group *g, cmp_stats *st)
{
    memset(st, 0, sizeof *st);
    double dur = r->duration_s > 0 ? r->duration_s : 1;
    const rr_stat *d = g->dur >= 0 ? &r->totals[g->dur] : NULL;
    if (g->reqs >= 0 && r->totals[g->reqs].has) {
        st->v[CMP_COUNT] = r->totals[g->reqs].sum;
        st->have[CMP_COUNT] = true;
    } else if (d && d->has) {
        st->v[CMP_COUNT] = d->n;
        st->have[CMP_COUNT] = true;
    }
    if (st->have[CMP_COUNT]) {
        st->v[CMP_RATE] = st->v[CMP_COUNT] / dur;
        st->have[CMP_RATE] = true;
    }
    if (g->failed >= 0)
        failed_into(&r->totals[g->failed], st);
    if (d) {
        st->contains = r->series[g->dur].contains;
        trend_into(r, g->dur, st);
    }
}

void compare_series_stats(const result *r, long si, cmp_stats *st)
{
    memset(st, 0, sizeof *st);
    if (si < 0)
        return;
    const rr_series *s = &r->series[si];
    const rr_stat *t = &r->totals[si];
    double dur = r->duration_s > 0 ? r->duration_s : 1;
    st->contains = s->contains;
    switch (s->type) {
    case RR_TREND:
        st->v[CMP_COUNT] = t->n;
        st->have[CMP_COUNT] = st->have[CMP_RATE] = true;
        st->v[CMP_RATE] = t->n / dur;
        trend_into(r, si, st);
        break;
    case RR_COUNTER:
        st->v[CMP_COUNT] = t->sum;
        st->v[CMP_RATE] = t->sum / dur;
        st->have[CMP_COUNT] = st->have[CMP_RATE] = true;
        break;
    case RR_RATE:
        st->v[CMP_COUNT] = t->n;
        st->have[CMP_COUNT] = true;
        failed_into(t, st);
        break;
    default:
        break;
    }
}

/* Which direction of a rate threshold is worse: its operator. */
static int worse_of(const char *expr)
{
    const char *op = strpbrk(expr, "<>");
    return op && *op == '>' ? -1 : 1;
}

static void judge(cmp_cell *c, int col, int worse, double noise_pct)
{
    if (!c->have_old || !c->have_new)
        return;
    double d = c->new_v - c->old_v;
    c->change_pct = c->old_v != 0 ? 100.0 * d / fabs(c->old_v) : d == 0 ? 0 : d > 0 ? INFINITY : -INFINITY;
    if (col == CMP_COUNT || col == CMP_RATE)
        return;   /* the load model's, not the target's */
    c->judged = true;
    double min_abs = col == CMP_FAILED ? 0.1 : COMPARE_MIN_UNITS;
    /* avg and failed % are exact; only percentiles carry the histogram's error */
    double hdr_bound = col >= CMP_P50 ? HDR_REL_ERROR * (fabs(c->old_v) + fabs(c->new_v)) : 0;
    /* (1 - 1e-9): 0.2% - 0.1% is a 0.1 point change, whatever the rounding */
    if (d == 0)
        c->why = "unchanged";
    else if (fabs(d) <= hdr_bound)
        c->why = "within the histogram's error";
    else if (fabs(d) < min_abs * (1 - 1e-9))
        c->why = col == CMP_FAILED ? "under 0.1 point" : "under the minimum change";
    else if (fabs(c->change_pct) < noise_pct)
        c->why = "under the noise allowance";
    else if (c->old_ci && c->new_ci && c->new_lo <= c->old_hi && c->old_lo <= c->new_hi)
        c->why = "the intervals overlap";   /* sampling noise can explain it */
    if (c->why)
        return;
    int dir = col == CMP_FAILED ? worse : 1;
    c->flag = (d > 0) == (dir > 0) ? 1 : -1;
}

static int add_row(cmp_table *t, size_t *cap, const char *label, bool th, const cmp_stats *o,
                   const cmp_stats *n, int worse)
{
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        cmp_row *nr = realloc(t->rows, *cap * sizeof *nr);
        if (!nr)
            return -1;
        t->rows = nr;
    }
    cmp_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label);
    r->threshold = th;
    r->contains = n ? n->contains : o->contains;
    r->worse = worse;
    for (int k = 0; k < CMP_NCOLS; k++) {
        cmp_cell *c = &r->c[k];
        c->have_old = o && o->have[k];
        c->have_new = n && n->have[k];
        c->old_v = c->have_old ? o->v[k] : 0;
        c->new_v = c->have_new ? n->v[k] : 0;
        c->old_ci = c->have_old && o->ci[k];
        c->new_ci = c->have_new && n->ci[k];
        if (c->old_ci)
            c->old_lo = o->lo[k], c->old_hi = o->hi[k];
        if (c->new_ci)
            c->new_lo = n->lo[k], c->new_hi = n->hi[k];
        judge(c, k, worse, t->noise_pct);
        t->no_ci_old += c->judged && !c->old_ci;
        t->no_ci_new += c->judged && !c->new_ci;
    }
    return 0;
}

int compare_build(const result *old_r, const result *new_r, double noise_pct, cmp_table *t)
{
    memset(t, 0, sizeof *t);
    t->noise_pct = noise_pct;
    size_t cap = 0, n_old = 0, n_new = 0;
    cmp_group *go = compare_groups(old_r, &n_old), *gn = compare_groups(new_r, &n_new);
    int rc = 0;
    /* Request names and scenarios: the new run's order, then those only
     * the old run had. */
    for (size_t pass = 0; pass < 2 && rc == 0; pass++) {
        const cmp_group *src = pass ? go : gn;
        size_t ns = pass ? n_old : n_new;
        for (size_t i = 0; i < ns && rc == 0; i++) {
            const cmp_group *o = NULL, *n = NULL;
            for (size_t k = 0; k < n_old && !o; k++)
                if (!strcmp(go[k].key, src[i].key))
                    o = &go[k];
            for (size_t k = 0; k < n_new && !n; k++)
                if (!strcmp(gn[k].key, src[i].key))
                    n = &gn[k];
            if (pass && n)
                continue;
            cmp_stats so, sn;
            if (o)
                compare_group_stats(old_r, o, &so);
            if (n)
                compare_group_stats(new_r, n, &sn);
            rc = add_row(t, &cap, src[i].label, false, o ? &so : NULL, n ? &sn : NULL, 1);
        }
    }
    /* Each threshold's series once (the new run's thresholds). */
    for (size_t i = 0; i < new_r->n_thresholds && rc == 0; i++) {
        const rr_threshold *th = &new_r->thresholds[i];
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= strcmp(new_r->thresholds[k].key, th->key) == 0;
        if (seen || th->series < 0)
            continue;
        long os = result_find(old_r, th->key);
        cmp_stats so, sn;
        compare_series_stats(old_r, os, &so);
        compare_series_stats(new_r, th->series, &sn);
        rc = add_row(t, &cap, th->key, true, os >= 0 ? &so : NULL, &sn, worse_of(th->expr));
        if (rc == 0)
            t->rows[t->n - 1].rate_not_failed = strcmp(th->metric, "http_req_failed") != 0;
    }
    free(go);
    free(gn);
    if (rc != 0)
        compare_free(t);
    return rc;
}

void compare_free(cmp_table *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}

size_t compare_regressions_over(const cmp_table *t, double pct)
{
    size_t n = 0;
    static const int cols[] = {CMP_P95, CMP_FAILED};
    for (size_t i = 0; i < t->n; i++)
        for (size_t k = 0; k < 2; k++) {
            const cmp_cell *c = &t->rows[i].c[cols[k]];
            n += c->flag > 0 && fabs(c->change_pct) > pct;
        }
    return n;
}

void compare_fmt(int col, rr_contains c, double v, char *buf, size_t cap)
{
    if (col == CMP_COUNT)
        snprintf(buf, cap, "%.0f", v);
    else if (col == CMP_RATE)
        snprintf(buf, cap, "%.1f/s", v);
    else if (col == CMP_FAILED)
        snprintf(buf, cap, "%.2f%%", v);
    else
        summary_fmt_value((volley_metric_contains)c, v, buf, cap);
}

static void fmt_change(const cmp_cell *c, char *buf, size_t cap)
{
    if (!c->have_old || !c->have_new)
        snprintf(buf, cap, "-");
    else if (isinf(c->change_pct))
        snprintf(buf, cap, "new");
    else
        snprintf(buf, cap, "%+.1f%%", c->change_pct);
}

/* printf's width counts bytes; "µs" is 3 bytes and 2 columns. */
static int cols_width(const char *s, int width)
{
    for (; *s; s++)
        width += ((unsigned char)*s & 0xC0) == 0x80;
    return width;
}

static void run_line(FILE *out, const char *what, const result *r)
{
    fprintf(out, "%s %s (%s), %s, %.1fs, verdict %s\n", what, r->path, r->spec_name, r->start, r->duration_s,
            r->verdict);
}

void compare_rule(const cmp_table *t, const char *sep, char *buf, size_t cap)
{
    snprintf(buf, cap, "flagged when the two runs' %s intervals do not overlap and the change is over %g%%, %g of "
             "the metric's unit (%g ms; 0.1 point for failed %%) and the histogram's 0.2%% error%sintervals: a "
             "percentile's from its run's histogram (the values at ranks n*p -/+ (%.2f*sqrt(n*p*(1-p)) + VUs max)), avg -/+ %.2f "
             "standard errors, failed %% Wilson's",
             COMPARE_CONFIDENCE, t->noise_pct, COMPARE_MIN_UNITS, COMPARE_MIN_UNITS, sep, COMPARE_Z, COMPARE_Z);
}

const char *compare_verdict(const cmp_cell *c)
{
    return c->flag > 0 ? "REGRESSION" : c->flag < 0 ? "improvement" : c->judged ? "within noise" : "";
}

static void fmt_ci(int col, rr_contains contains, bool have, double lo, double hi, char *buf, size_t cap)
{
    char a[48], b[48];
    if (!have) {
        snprintf(buf, cap, "-");
        return;
    }
    compare_fmt(col, contains, lo, a, sizeof a);
    compare_fmt(col, contains, hi, b, sizeof b);
    snprintf(buf, cap, "%s..%s", a, b);
}

/* Which run(s) had no histogram for some judged figure. */
static void no_ci_note(FILE *out, const cmp_table *t, const result *old_r, const result *new_r)
{
    if (!t->no_ci_old && !t->no_ci_new)
        return;
    size_t n = t->no_ci_old > t->no_ci_new ? t->no_ci_old : t->no_ci_new;
    fprintf(out, "%zu figure%s without an interval (no histogram in %s%s%s: a run that died without "
            "--result-histograms, or json-out's NDJSON): judged by the allowances alone\n",
            n, n == 1 ? "" : "s", t->no_ci_old ? old_r->path : "", t->no_ci_old && t->no_ci_new ? " and " : "",
            t->no_ci_new ? new_r->path : "");
}

void compare_print(FILE *out, const cmp_table *t, const result *old_r, const result *new_r)
{
    run_line(out, "old:", old_r);
    run_line(out, "new:", new_r);
    char rule[512];
    compare_rule(t, "\n", rule, sizeof rule);
    fprintf(out, "%s\n", rule);
    no_ci_note(out, t, old_r, new_r);
    fputc('\n', out);
    int w = 8;
    for (size_t i = 0; i < t->n; i++) {
        int l = (int)strlen(t->rows[i].label) + (t->rows[i].threshold ? 12 : 0);
        if (l > w)
            w = l;
    }
    fprintf(out, "%-*s  %-8s  %12s  %12s  %9s  %-12s  %-22s  %s\n", w, "SERIES", "FIGURE", "OLD", "NEW", "CHANGE",
            "JUDGED", "OLD " COMPARE_CONFIDENCE " INTERVAL", "NEW " COMPARE_CONFIDENCE " INTERVAL");
    for (size_t i = 0; i < t->n; i++) {
        const cmp_row *r = &t->rows[i];
        char label[240];
        snprintf(label, sizeof label, "%s%s", r->threshold ? "threshold: " : "", r->label);
        for (int k = 0; k < CMP_NCOLS; k++) {
            const cmp_cell *c = &r->c[k];
            if (!c->have_old && !c->have_new)
                continue;
            char o[48] = "-", n[48] = "-", ch[32], line[512];
            if (c->have_old)
                compare_fmt(k, r->contains, c->old_v, o, sizeof o);
            if (c->have_new)
                compare_fmt(k, r->contains, c->new_v, n, sizeof n);
            fmt_change(c, ch, sizeof ch);
            const char *fig = k == CMP_FAILED && r->rate_not_failed ? "rate %" : compare_col_names[k];
            int len = snprintf(line, sizeof line, "%-*s  %-8s  %*s  %*s  %9s", cols_width(label, w), label, fig,
                               cols_width(o, 12), o, cols_width(n, 12), n, ch);
            if (c->judged && len > 0 && (size_t)len < sizeof line) {
                char ci_o[104], ci_n[104];
                fmt_ci(k, r->contains, c->old_ci, c->old_lo, c->old_hi, ci_o, sizeof ci_o);
                fmt_ci(k, r->contains, c->new_ci, c->new_lo, c->new_hi, ci_n, sizeof ci_n);
                snprintf(line + len, sizeof line - (size_t)len, "  %-12s  %-*s  %s", compare_verdict(c),
                         cols_width(ci_o, 22), ci_o, ci_n);
            }
            fprintf(out, "%s\n", line);
        }
    }
}

static int parse_pct(const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || (*end && strcmp(end, "%") != 0) || !(v >= 0) || v > 1e6) {
        fprintf(stderr, "volley compare: %s: expected a percentage >= 0, got \"%s\"\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int compare_main(int argc, char **argv)
{
    enum { O_FAIL = 256, O_NOISE };
    static const struct option longs[] = {{"fail-on-regression", required_argument, NULL, O_FAIL},
                                          {"noise", required_argument, NULL, O_NOISE},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    double fail_pct = -1, noise = COMPARE_NOISE_PCT;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case O_FAIL:
            if (parse_pct("--fail-on-regression", optarg, &fail_pct) != 0)
                return 104;
            break;
        case O_NOISE:
            if (parse_pct("--noise", optarg, &noise) != 0)
                return 104;
            break;
        case 'h':
            printf("usage: volley compare OLD NEW [--fail-on-regression PCT] [--noise PCT]\n");
            return 0;
        default:
            fprintf(stderr, "volley compare: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
            return 104;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: volley compare OLD NEW [--fail-on-regression PCT] [--noise PCT]\n");
        return 104;
    }
    result o, n;
    char err[512];
    int rc = 104;
    if (result_read(argv[optind], &o, err, sizeof err) != 0) {
        fprintf(stderr, "volley compare: %s\n", err);
        result_free(&o);
        return rc;
    }
    if (result_read(argv[optind + 1], &n, err, sizeof err) != 0) {
        fprintf(stderr, "volley compare: %s\n", err);
        goto out;
    }
    cmp_table t;
    if (compare_build(&o, &n, noise, &t) != 0) {
        fprintf(stderr, "volley compare: out of memory\n");
        rc = 103;
        goto out;
    }
    compare_print(stdout, &t, &o, &n);
    rc = 0;
    if (fail_pct >= 0) {
        size_t k = compare_regressions_over(&t, fail_pct);
        if (k) {
            printf("\n%zu regression%s over %g%% (p95 or failed %%)\n", k, k == 1 ? "" : "s", fail_pct);
            rc = 99;
        } else {
            printf("\nno regression over %g%% (p95 or failed %%)\n", fail_pct);
        }
    }
    compare_free(&t);
out:
    result_free(&o);
    result_free(&n);
    return rc;
}
