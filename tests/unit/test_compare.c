/* compare.c's decisions on synthetic runs: result files whose end line
 * carries the histograms of samples drawn here (a seeded generator, so
 * every case is the same on every machine). Two draws of one distribution
 * must not be flagged even where the old fixed allowances alone would
 * have; a real change must be, down to 10.0 -> 10.6 ms with enough data. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "hdr.h"
#include "result_read.h"
#include "rng.h"

/* A run's samples of request `a` (ms), and its failures. */
typedef struct run {
    hdr_hist h;
    double sum;
    double reqs, failed;   /* http_req_failed{name:a}: n, nz */
} run;

static run *run_new(void)
{
    run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    hdr_reset(&r->h);
    return r;
}

static void add(run *r, double ms)
{
    if (ms < 0.001)
        ms = 0.001;
    hdr_record(&r->h, llround(ms * 1000));
    r->sum += ms;
    r->reqs++;
}

static double normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* n_fast requests around 0.3 ms, n_slow around 10 ms (nginx's /fast and
 * /delay10 in one flow). */
static run *bimodal(uint64_t seed, int n_fast, int n_slow)
{
    run *r = run_new();
    for (int i = 0; i < n_fast; i++)
        add(r, 0.3 + 0.05 * normal(&seed));
    for (int i = 0; i < n_slow; i++)
        add(r, 10 + 0.3 * normal(&seed));
    return r;
}

/* 10 ms plus a Pareto tail (alpha 1.5): its p99 of 1,000 samples is the
 * 10th-worst, so it moves a lot from one draw to the next. */
static run *long_tail(uint64_t seed, int n)
{
    run *r = run_new();
    for (int i = 0; i < n; i++)
        add(r, 10 + 0.5 * (pow(1 - rng_unit(&seed), -1 / 1.5) - 1));
    return r;
}

static run *narrow(uint64_t seed, double ms, double sd, int n)
{
    run *r = run_new();
    for (int i = 0; i < n; i++)
        add(r, ms + sd * normal(&seed));
    return r;
}

static const char META[] =
    "{\"type\":\"meta\",\"format\":\"volley-result\",\"version\":1,\"volley\":\"0.5.0\","
    "\"spec\":{\"name\":\"t\",\"path\":\"t.yaml\"},\"start\":\"2026-12-07T01:02:03.123Z\",\"workers\":2,\"cores\":2,"
    "\"window_s\":1,\"hist\":{\"geometry\":\"volley-hdr-1\",\"half_log2\":8,\"max_log2\":36,\"scale\":1000},"
    "\"metrics\":{\"http_req_duration\":{\"type\":\"trend\",\"contains\":\"time\"},"
    "\"http_req_failed\":{\"type\":\"rate\",\"contains\":\"default\"}},"
    "\"series\":[{\"id\":0,\"key\":\"http_req_duration\",\"metric\":\"http_req_duration\",\"tags\":{},\"kind\":\"metric\"},"
    "{\"id\":1,\"key\":\"http_req_duration{name:a}\",\"metric\":\"http_req_duration\",\"tags\":{\"name\":\"a\"},"
    "\"kind\":\"breakdown\"},"
    "{\"id\":2,\"key\":\"http_req_failed{name:a}\",\"metric\":\"http_req_failed\",\"tags\":{\"name\":\"a\"},"
    "\"kind\":\"breakdown\"},"
    "{\"id\":3,\"key\":\"http_req_failed\",\"metric\":\"http_req_failed\",\"tags\":{},\"kind\":\"metric\"}],"
    "\"thresholds\":[{\"i\":0,\"key\":\"http_req_duration\",\"metric\":\"http_req_duration\",\"series\":0,"
    "\"expr\":\"p(95)<500\"},{\"i\":1,\"key\":\"http_req_failed\",\"metric\":\"http_req_failed\",\"series\":3,"
    "\"expr\":\"rate<0.01\"}]}\n";

/* A trend's state as the writer puts it (result.c): n, sum, min, max, avg,
 * p and, when hist, "h". */
static void trend_state(FILE *f, const run *r, bool hist)
{
    const hdr_hist *h = &r->h;
    fprintf(f, "{\"n\":%llu,\"sum\":%.17g,\"min\":%.17g,\"max\":%.17g,\"avg\":%.17g,\"p\":{",
            (unsigned long long)h->total, r->sum, h->min / 1000.0, h->max / 1000.0, r->sum / (double)h->total);
    static const double ps[] = {50, 90, 95, 99};
    for (int k = 0; k < 4; k++)
        fprintf(f, "%s\"%g\":%.17g", k ? "," : "", ps[k], hdr_percentile(h, ps[k]) / 1000.0);
    fputc('}', f);
    if (hist) {
        fputs(",\"h\":[", f);
        bool first = true;
        for (uint32_t i = 0; i < HDR_SLOTS; i++)
            if (h->counts[i]) {
                fprintf(f, "%s[%u,%llu]", first ? "" : ",", i, (unsigned long long)h->counts[i]);
                first = false;
            }
        fputc(']', f);
    }
    fputc('}', f);
}

/* The runs' VUs max (the end line's vus_max): a percentile's interval
 * widens by that many ranks each side. */
static int vus_max;

static char *write_run(const run *r, bool hist)
{
    static int seq;
    char *p = malloc(128);
    assert_non_null(p);
    snprintf(p, 128, "/tmp/volley-test-compare-%d-%d.ndjson", (int)getpid(), seq++);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(META, f);
    fprintf(f, "{\"type\":\"end\",\"duration_s\":10,\"verdict\":\"pass\",\"exit_code\":0,\"vus_max\":%d,"
               "\"totals\":{\"0\":", vus_max);
    trend_state(f, r, hist);
    fputs(",\"1\":", f);
    trend_state(f, r, hist);
    fprintf(f, ",\"2\":{\"n\":%.0f,\"nz\":%.0f},\"3\":{\"n\":%.0f,\"nz\":%.0f}},\"thresholds\":[]}\n", r->reqs, r->failed,
            r->reqs, r->failed);
    fclose(f);
    return p;
}

typedef struct pair {
    result o, n;
    cmp_table t;
} pair;

/* Old and new through files and the reader, as `volley compare` does. */
static pair *compare_runs(run *old_run, run *new_run, bool old_hist, bool new_hist)
{
    pair *x = calloc(1, sizeof *x);
    assert_non_null(x);
    char *a = write_run(old_run, old_hist), *b = write_run(new_run, new_hist), err[256];
    assert_int_equal(result_read(a, &x->o, err, sizeof err), 0);
    assert_int_equal(result_read(b, &x->n, err, sizeof err), 0);
    assert_int_equal(compare_build(&x->o, &x->n, COMPARE_NOISE_PCT, &x->t), 0);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
    free(old_run);
    free(new_run);
    return x;
}

static void pair_free(pair *x)
{
    compare_free(&x->t);
    result_free(&x->o);
    result_free(&x->n);
    free(x);
}

static const cmp_row *row(const cmp_table *t, const char *label)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].label, label))
            return &t->rows[i];
    fail_msg("no row %s", label);
    return NULL;
}

/* The change would pass the old fixed allowances alone (over 5% and 0.5
 * ms): without the intervals it would be flagged. */
static void assert_allowances_pass(const cmp_cell *c)
{
    double d = fabs(c->new_v - c->old_v);
    if (!(fabs(c->change_pct) > COMPARE_NOISE_PCT && d > 0.5 && d > 0.002 * (c->old_v + c->new_v)))
        fail_msg("premise: %g -> %g is within the allowances already", c->old_v, c->new_v);
}

static void assert_none_flagged(const cmp_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        for (int k = 0; k < CMP_NCOLS; k++)
            if (t->rows[i].c[k].flag)
                fail_msg("%s %s flagged: %g -> %g", t->rows[i].label, compare_col_names[k], t->rows[i].c[k].old_v,
                         t->rows[i].c[k].new_v);
    assert_int_equal(compare_regressions_over(t, 0), 0);
}

/* The reader keeps the end line's histograms, and a died run's merged
 * window histograms. */
static void reader_keeps_histograms(void **state)
{
    (void)state;
    run *r = long_tail(1, 1000);
    char *p = write_run(r, true), err[256];
    result x;
    assert_int_equal(result_read(p, &x, err, sizeof err), 0);
    assert_non_null(x.hists);
    assert_int_equal(x.hists[1].total, 1000);
    assert_float_equal(x.hist_scale, 1000, 0);
    for (size_t i = 1; i < x.hists[1].n; i++)
        assert_true(x.hists[1].s[i - 1].slot < x.hists[1].s[i].slot);
    assert_int_equal(x.hists[2].n, 0);   /* a rate */
    result_free(&x);
    unlink(p);
    free(p);
    free(r);

    /* No end line, windows with "h": merged. */
    p = malloc(128);
    snprintf(p, 128, "/tmp/volley-test-compare-%d-died.ndjson", (int)getpid());
    FILE *f = fopen(p, "w");
    fputs(META, f);
    for (int w = 0; w < 3; w++)
        fprintf(f, "{\"type\":\"window\",\"t0\":%d,\"t1\":%d,\"s\":{\"1\":{\"n\":10,\"sum\":100,\"min\":10,\"max\":10,"
                   "\"h\":[[%u,4],[%u,6]]}}}\n",
                w, w + 1, hdr_index_of(10000), hdr_index_of(10000 + 100 * w));
    fclose(f);
    assert_int_equal(result_read(p, &x, err, sizeof err), 0);
    assert_false(x.complete);
    assert_int_equal(x.hists[1].total, 30);
    assert_int_equal(x.hists[1].n, 3);
    assert_int_equal(x.hists[0].n, 0);
    result_free(&x);
    unlink(p);
    free(p);
}

/* /fast and /delay10 half and half, drawn twice: 499/501 and 501/499
 * requests. The median lands in one cluster, then in the other (-97%),
 * but its interval spans the gap in both runs. */
static void bimodal_median_is_noise(void **state)
{
    (void)state;
    pair *x = compare_runs(bimodal(11, 499, 501), bimodal(12, 501, 499), true, true);
    const cmp_cell *c = &row(&x->t, "name: a")->c[CMP_P50];
    assert_allowances_pass(c);
    assert_true(c->old_ci && c->new_ci);
    assert_true(c->old_lo < 1 && c->old_hi > 9);
    assert_true(c->new_lo < 1 && c->new_hi > 9);
    assert_string_equal(compare_verdict(c), "within noise");
    assert_string_equal(c->why, "the intervals overlap");
    assert_none_flagged(&x->t);
    assert_int_equal(x->t.no_ci_old + x->t.no_ci_new, 0);
    /* The intervals hold the reported figures. */
    for (int k = CMP_AVG; k <= CMP_P99; k++) {
        c = &row(&x->t, "name: a")->c[k];
        assert_true(c->old_lo <= c->old_v && c->old_v <= c->old_hi);
        assert_true(c->new_lo <= c->new_v && c->new_v <= c->new_hi);
    }
    pair_free(x);

    /* The same two runs without histograms: the fixed allowances alone
     * flag the median, as they did before. */
    x = compare_runs(bimodal(11, 499, 501), bimodal(12, 501, 499), false, true);
    c = &row(&x->t, "name: a")->c[CMP_P50];
    assert_false(c->old_ci);
    assert_int_equal(c->flag, -1);
    assert_true(x->t.no_ci_old > 0);
    assert_int_equal(x->t.no_ci_new, 0);
    pair_free(x);
}

/* A long tail, drawn twice (1,000 samples): p99 moves from 21.5 to 18.7 ms
 * (-13%), well within intervals of 17.6-42.4 and 16.4-39.9 ms. */
static void tail_of_a_small_sample_is_noise(void **state)
{
    (void)state;
    pair *x = compare_runs(long_tail(3, 1000), long_tail(4, 1000), true, true);
    const cmp_cell *c = &row(&x->t, "name: a")->c[CMP_P99];
    assert_allowances_pass(c);
    assert_string_equal(compare_verdict(c), "within noise");
    assert_string_equal(c->why, "the intervals overlap");
    assert_none_flagged(&x->t);
    pair_free(x);
}

/* A stall delays every request in flight at once: the ranks widen by the
 * VUs max, so one clump of slow samples cannot move p99 out of them. */
static void intervals_widen_by_the_vus(void **state)
{
    (void)state;
    pair *x = compare_runs(long_tail(3, 1000), long_tail(4, 1000), true, true);
    cmp_cell iid = row(&x->t, "name: a")->c[CMP_P99];
    pair_free(x);
    vus_max = 50;
    x = compare_runs(long_tail(3, 1000), long_tail(4, 1000), true, true);
    vus_max = 0;
    const cmp_cell *c = &row(&x->t, "name: a")->c[CMP_P99];
    assert_true(c->old_lo < iid.old_lo && c->old_hi >= iid.old_hi);
    /* 990 + 8.1 + 50 ranks: past the last sample, so up to the max */
    assert_float_equal(c->old_hi, x->o.totals[1].max, 1e-9);
    pair_free(x);
}

/* 10 ms -> 100 ms with 1,000 samples; back is an improvement. */
static void ten_times_slower_is_flagged(void **state)
{
    (void)state;
    for (int dir = 0; dir < 2; dir++) {
        pair *x = dir ? compare_runs(narrow(5, 100, 3, 1000), narrow(6, 10, 0.3, 1000), true, true)
                      : compare_runs(narrow(5, 10, 0.3, 1000), narrow(6, 100, 3, 1000), true, true);
        static const char *const labels[] = {"name: a", "http_req_duration"};
        for (int l = 0; l < 2; l++)
            for (int k = CMP_AVG; k <= CMP_P99; k++) {
                const cmp_cell *c = &row(&x->t, labels[l])->c[k];
                assert_true(c->old_ci && c->new_ci);
                assert_int_equal(c->flag, dir ? -1 : 1);
            }
        assert_int_equal(row(&x->t, "name: a")->c[CMP_COUNT].flag, 0);
        /* p95 of the name and of the threshold's metric, over 100% */
        assert_int_equal(compare_regressions_over(&x->t, 100), dir ? 0 : 2);
        assert_int_equal(compare_regressions_over(&x->t, 1000), 0);
        pair_free(x);
    }
}

/* 10.0 -> 10.6 ms, 100,000 narrow samples each: intervals a few hundredths
 * of a ms wide, so a 6% change is a real one. With 1,000 samples of a
 * wide distribution the same medians are noise. */
static void small_change_with_enough_data_is_flagged(void **state)
{
    (void)state;
    pair *x = compare_runs(narrow(7, 10.0, 0.2, 100000), narrow(8, 10.6, 0.2, 100000), true, true);
    for (int k = CMP_AVG; k <= CMP_P99; k++) {
        const cmp_cell *c = &row(&x->t, "name: a")->c[k];
        assert_true(c->old_hi - c->old_lo < 0.1);
        assert_int_equal(c->flag, 1);
    }
    assert_int_equal(compare_regressions_over(&x->t, 5), 2);
    pair_free(x);

    x = compare_runs(narrow(7, 10.0, 5, 1000), narrow(8, 10.6, 5, 1000), true, true);
    assert_int_equal(row(&x->t, "name: a")->c[CMP_P50].flag, 0);
    assert_int_equal(row(&x->t, "name: a")->c[CMP_AVG].flag, 0);
    pair_free(x);
}

/* 0.1% -> 0.2% failed: 1 -> 2 of 1,000 is noise; 1,000 -> 2,000 of
 * 1,000,000 is not. */
static void failed_share_needs_enough_requests(void **state)
{
    (void)state;
    static const double ns[] = {1000, 1000000};
    for (int i = 0; i < 2; i++) {
        run *a = narrow(9, 10, 0.3, 1000), *b = narrow(10, 10, 0.3, 1000);
        a->reqs = b->reqs = ns[i];
        a->failed = ns[i] / 1000;
        b->failed = 2 * ns[i] / 1000;
        pair *x = compare_runs(a, b, true, true);
        const cmp_cell *c = &row(&x->t, "name: a")->c[CMP_FAILED];
        assert_float_equal(c->old_v, 0.1, 1e-12);
        assert_float_equal(c->new_v, 0.2, 1e-12);
        assert_true(c->old_ci && c->new_ci);
        assert_true(c->old_lo < 0.1 && c->old_hi > 0.1);
        assert_int_equal(c->flag, i);
        const cmp_cell *th = &row(&x->t, "http_req_failed")->c[CMP_FAILED];
        assert_int_equal(th->flag, i);
        assert_int_equal(compare_regressions_over(&x->t, 50), i ? 2 : 0);
        pair_free(x);
    }
    /* No failure in either run: a zero-wide share, never flagged. */
    pair *x = compare_runs(narrow(9, 10, 0.3, 1000), narrow(10, 10, 0.3, 1000), true, true);
    const cmp_cell *c = &row(&x->t, "name: a")->c[CMP_FAILED];
    assert_float_equal(c->old_lo, 0, 1e-9);
    assert_true(c->old_hi > 0.5 && c->old_hi < 1);   /* Wilson: 0 of 1,000 is up to 0.66% */
    assert_int_equal(c->flag, 0);
    pair_free(x);
}

/* The table says the rule, each judged line its verdict and intervals,
 * and which run has no histogram. */
static void the_table_says_how_it_decided(void **state)
{
    (void)state;
    pair *x = compare_runs(bimodal(11, 499, 501), narrow(6, 100, 3, 1000), false, true);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    compare_print(f, &x->t, &x->o, &x->n);
    fclose(f);
    assert_non_null(strstr(buf, "99% intervals do not overlap"));
    assert_non_null(strstr(buf, "n*p -/+ (2.58*sqrt(n*p*(1-p)) + VUs max)"));
    assert_non_null(strstr(buf, "without an interval (no histogram in /tmp/volley-test-compare-"));
    assert_non_null(strstr(buf, "JUDGED"));
    const char *l = strstr(buf, "\nname: a ");
    assert_non_null(l);
    l = strstr(l, " p95 ");
    assert_non_null(l);
    const char *eol = strchr(l, '\n');
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(eol - l), l);
    const char *v = strstr(line, "REGRESSION");
    if (!v || v[strspn(v + 10, " ") + 10] != '-' || !strstr(v, "ms.."))   /* the old run's interval: none */
        fail_msg("p95 line: %s", line);
    /* count and rate: shown, not judged */
    l = strstr(strstr(buf, "\nname: a "), " count ");
    eol = strchr(l, '\n');
    snprintf(line, sizeof line, "%.*s", (int)(eol - l), l);
    assert_null(strstr(line, "noise"));
    assert_null(strstr(line, "REGRESSION"));
    free(buf);
    pair_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reader_keeps_histograms),
        cmocka_unit_test(bimodal_median_is_noise),
        cmocka_unit_test(tail_of_a_small_sample_is_noise),
        cmocka_unit_test(intervals_widen_by_the_vus),
        cmocka_unit_test(ten_times_slower_is_flagged),
        cmocka_unit_test(small_change_with_enough_data_is_flagged),
        cmocka_unit_test(failed_share_needs_enough_requests),
        cmocka_unit_test(the_table_says_how_it_decided),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
