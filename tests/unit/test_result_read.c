/* result_read.c (result files: complete, died, gzip, broken),
 * result_from_ndjson.c (json-out's NDJSON: times, window cutting, points
 * out of order, series, errors) and the decisions of compare.c (what is
 * flagged, what is noise). */
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
#include <zlib.h>

#include "compare.h"
#include "hdr.h"
#include "report.h"
#include "result_int.h"
#include "result_read.h"

static const char META[] =
    "{\"type\":\"meta\",\"format\":\"volley-result\",\"version\":1,\"volley\":\"0.5.0\","
    "\"spec\":{\"name\":\"t\",\"path\":\"/x/t.yaml\"},\"command\":[\"volley\",\"run\",\"t.yaml\"],"
    "\"start\":\"2026-12-07T01:02:03.123Z\",\"start_unix_ms\":1,\"seed\":42,\"workers\":2,\"cores\":2,"
    "\"window_s\":1,\"hist\":{\"geometry\":\"volley-hdr-1\",\"half_log2\":8,\"max_log2\":36,\"scale\":1000},"
    "\"metrics\":{\"http_req_duration\":{\"type\":\"trend\",\"contains\":\"time\"},"
    "\"http_reqs\":{\"type\":\"counter\",\"contains\":\"default\"},"
    "\"http_req_failed\":{\"type\":\"rate\",\"contains\":\"default\"},"
    "\"checks\":{\"type\":\"rate\",\"contains\":\"default\"}},"
    "\"series\":[{\"id\":0,\"key\":\"http_req_duration\",\"metric\":\"http_req_duration\",\"tags\":{},\"kind\":\"metric\"},"
    "{\"id\":3,\"key\":\"http_reqs\",\"metric\":\"http_reqs\",\"tags\":{},\"kind\":\"metric\"},"
    "{\"id\":5,\"key\":\"http_req_duration{name:a}\",\"metric\":\"http_req_duration\",\"tags\":{\"name\":\"a\"},\"kind\":\"breakdown\"},"
    "{\"id\":6,\"key\":\"http_req_failed{name:a}\",\"metric\":\"http_req_failed\",\"tags\":{\"name\":\"a\"},\"kind\":\"breakdown\"},"
    "{\"id\":7,\"key\":\"checks{check:ok,group:}\",\"metric\":\"checks\",\"tags\":{\"check\":\"ok\",\"group\":\"\"},\"kind\":\"check\"}],"
    "\"thresholds\":[{\"i\":0,\"key\":\"http_req_duration\",\"metric\":\"http_req_duration\",\"series\":0,"
    "\"expr\":\"p(95)<500\",\"abort_on_fail\":false}]}\n";

/* Window w: 10 requests of `ms` each (histogram slot of ms*1000 when
 * hist), 1 failure in window 1. */
static void window(FILE *f, int w, double ms, bool hist)
{
    char h[64] = "";
    if (hist)
        snprintf(h, sizeof h, ",\"h\":[[%u,10]]", hdr_index_of((int64_t)(ms * 1000)));
    fprintf(f, "{\"type\":\"window\",\"t0\":%d.0,\"t1\":%d.0,\"s\":{"
               "\"0\":{\"n\":10,\"sum\":%g,\"min\":%g,\"max\":%g,\"avg\":%g,\"p\":{\"50\":%g,\"90\":%g,\"95\":%g,\"99\":%g}%s},"
               "\"3\":{\"n\":10,\"sum\":10},\"5\":{\"n\":10,\"sum\":%g,\"min\":%g,\"max\":%g,\"avg\":%g,"
               "\"p\":{\"50\":%g,\"90\":%g,\"95\":%g,\"99\":%g}},\"6\":{\"n\":10,\"nz\":%d},\"7\":{\"n\":10,\"nz\":%d}},"
               "\"runner\":{\"vus\":2,\"vus_max\":2,\"cpu_pct\":3,\"busiest_worker_pct\":4,\"lag_p95_ms\":0.1,"
               "\"lag_max_ms\":0.2,\"dropped\":0,\"drop_cause\":null,\"behind\":%s}}\n",
            w, w + 1, ms * 10, ms, ms, ms, ms, ms, ms, ms, h, ms * 10, ms, ms, ms, ms, ms, ms, ms, w == 1, 10 - (w == 1),
            w == 2 ? "true" : "false");
}

static void end_line(FILE *f, double p95)
{
    fprintf(f, "{\"type\":\"end\",\"end\":\"2026-12-07T01:02:06.123Z\",\"duration_s\":3.0,\"interrupted\":false,"
               "\"aborted\":false,\"abort_reason\":\"\",\"verdict\":\"pass\",\"exit_code\":0,"
               "\"iterations\":{\"complete\":30,\"interrupted\":0},\"vus_max\":2,\"cpu_s\":0.1,\"windows_behind\":1,"
               "\"totals\":{\"0\":{\"n\":30,\"sum\":300,\"min\":%g,\"max\":%g,\"avg\":%g,"
               "\"p\":{\"50\":%g,\"90\":%g,\"95\":%g,\"99\":%g},\"h\":[[1,30]]},\"3\":{\"n\":30,\"sum\":30},"
               "\"5\":{\"n\":30,\"sum\":300,\"min\":1,\"max\":%g,\"avg\":10,\"p\":{\"50\":%g,\"90\":%g,\"95\":%g,\"99\":%g}},"
               "\"6\":{\"n\":30,\"nz\":1},\"7\":{\"n\":30,\"nz\":29}},"
               "\"thresholds\":[{\"i\":0,\"verdict\":\"pass\",\"value\":%g,\"judged\":\"p(95)=%gms\"}],"
               "\"checks\":[{\"series\":7,\"group\":\"\",\"name\":\"ok\",\"passes\":29,\"fails\":1,"
               "\"first_failure\":\"status 500\"}],\"stages\":null}\n",
            p95, p95, p95, p95, p95, p95, p95, p95, p95, p95, p95, p95, p95, p95);
}

static char *tmp_path(const char *suffix)
{
    static int n;
    char *p = malloc(128);
    snprintf(p, 128, "/tmp/volley-test-result-%d-%d%s", (int)getpid(), n++, suffix);
    return p;
}

static char *write_result(double ms, bool with_end, bool hist)
{
    char *p = tmp_path(".ndjson");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(META, f);
    for (int w = 0; w < 3; w++)
        window(f, w, ms, hist);
    if (with_end)
        end_line(f, ms);
    fclose(f);
    return p;
}

static void reads_a_complete_result(void **state)
{
    (void)state;
    char *p = write_result(10, true, false);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    assert_true(r.complete);
    assert_string_equal(r.spec_name, "t");
    assert_int_equal(r.seed, 42);
    assert_int_equal(r.n_series, 5);
    assert_int_equal(r.n_windows, 3);
    assert_int_equal(r.n_command, 3);
    assert_string_equal(r.verdict, "pass");
    assert_int_equal(r.exit_code, 0);
    /* Window stats are found by series index, ids need not be dense. */
    long s5 = result_find(&r, "http_req_duration{name:a}");
    assert_int_equal(s5, 2);
    const rr_stat *st = result_window_stat(&r.windows[1], (uint32_t)s5);
    assert_non_null(st);
    assert_true(st->has & RR_HAS_P);
    assert_float_equal(st->p[RR_P95], 10, 1e-9);
    assert_true(r.windows[2].runner.behind);
    assert_int_equal(r.n_thresholds, 1);
    assert_string_equal(r.thresholds[0].verdict, "pass");
    assert_float_equal(r.thresholds[0].value, 10, 1e-9);
    assert_int_equal(r.n_checks, 1);
    assert_string_equal(r.checks[0].first_failure, "status 500");
    assert_float_equal(r.totals[1].sum, 30, 0);
    result_free(&r);
    unlink(p);
    free(p);
}

/* No end line: totals from the windows; percentiles only from histograms. */
static void a_run_that_died(void **state)
{
    (void)state;
    for (int hist = 0; hist < 2; hist++) {
        char *p = write_result(10, false, hist);
        result r;
        char err[256];
        assert_int_equal(result_read(p, &r, err, sizeof err), 0);
        assert_false(r.complete);
        assert_string_equal(r.verdict, "incomplete");
        assert_float_equal(r.duration_s, 3, 0);
        assert_float_equal(r.totals[0].n, 30, 0);
        assert_float_equal(r.totals[0].sum, 300, 1e-9);
        assert_float_equal(r.totals[3].nz, 1, 0);
        assert_int_equal(r.n_checks, 1);
        assert_float_equal(r.checks[0].passes, 29, 0);
        assert_float_equal(r.checks[0].fails, 1, 0);
        assert_string_equal(r.thresholds[0].verdict, "");
        assert_float_equal(r.windows_behind, 1, 0);
        if (hist) {
            assert_true(r.totals[0].has & RR_HAS_P);
            assert_true(fabs(r.totals[0].p[RR_P95] - 10) <= 10 * 0.002);
        } else {
            assert_false(r.totals[0].has & RR_HAS_P);   /* never a made-up percentile */
        }
        result_free(&r);
        unlink(p);
        free(p);
    }
}

static void reads_gzip_and_a_cut_gzip(void **state)
{
    (void)state;
    char *plain = write_result(10, true, false);
    char *gz = tmp_path(".ndjson.gz");
    FILE *in = fopen(plain, "r");
    gzFile out = gzopen(gz, "wb");
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        gzwrite(out, buf, (unsigned)n), total += n;
    fclose(in);
    gzclose(out);
    result r;
    char err[256];
    assert_int_equal(result_read(gz, &r, err, sizeof err), 0);
    assert_true(r.complete);
    assert_int_equal(r.n_windows, 3);
    result_free(&r);
    /* Cut inside the stream, as a crash leaves it: what came before. */
    FILE *g = fopen(gz, "r");
    long len = (fseek(g, 0, SEEK_END), ftell(g));
    fclose(g);
    assert_int_equal(truncate(gz, len - 60), 0);
    assert_int_equal(result_read(gz, &r, err, sizeof err), 0);
    assert_false(r.complete);
    assert_true(r.n_windows >= 1);
    result_free(&r);
    unlink(plain);
    unlink(gz);
    free(plain);
    free(gz);
}

static void rejects_what_is_not_a_result(void **state)
{
    (void)state;
    static const struct {
        const char *text, *err;
    } bad[] = {
        {"{\"type\":\"window\"}\n", ":1: not a volley result file"},
        {"not json\n", ":1: not JSON"},
        {"", "empty"},
        {"{\"type\":\"meta\",\"format\":\"volley-result\",\"version\":2}\n", "version 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = tmp_path(".ndjson");
        FILE *f = fopen(p, "w");
        fputs(bad[i].text, f);
        fclose(f);
        result r;
        char err[256] = "";
        assert_int_equal(result_read(p, &r, err, sizeof err), -1);
        if (!strstr(err, bad[i].err))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].err);
        result_free(&r);
        unlink(p);
        free(p);
    }
    /* A window naming a series the meta line does not list. */
    char *p = tmp_path(".ndjson");
    FILE *f = fopen(p, "w");
    fputs(META, f);
    fputs("{\"type\":\"window\",\"t0\":0,\"t1\":1,\"s\":{\"99\":{\"n\":1}}}\n{\"type\":\"window\",\"t0\":1,\"t1\":2}\n", f);
    fclose(f);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: window t0=0 names series \"99\""));
    result_free(&r);
    unlink(p);
    free(p);
}

static const cmp_row *row(const cmp_table *t, const char *label)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].label, label))
            return &t->rows[i];
    fail_msg("no row %s", label);
    return NULL;
}

/* 10 ms -> 20 ms is a regression; 10 -> 10.4 ms (4%) is noise; 0.2 ->
 * 0.5 ms (+150%) is under 1 ms: noise too. */
static void compare_flags_only_real_changes(void **state)
{
    (void)state;
    static const struct {
        double old_ms, new_ms;
        int flag;
    } cases[] = {{10, 20, 1}, {20, 10, -1}, {10, 10.4, 0}, {0.2, 0.5, 0}, {10, 10, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *a = write_result(cases[i].old_ms, true, false), *b = write_result(cases[i].new_ms, true, false);
        result ra, rb;
        char err[256];
        assert_int_equal(result_read(a, &ra, err, sizeof err), 0);
        assert_int_equal(result_read(b, &rb, err, sizeof err), 0);
        cmp_table t;
        assert_int_equal(compare_build(&ra, &rb, COMPARE_NOISE_PCT, &t), 0);
        const cmp_row *r = row(&t, "name: a");
        assert_int_equal(r->c[CMP_P95].flag, cases[i].flag);
        assert_int_equal(r->c[CMP_COUNT].flag, 0);
        assert_int_equal(r->c[CMP_FAILED].flag, 0);   /* same failures */
        const cmp_row *th = row(&t, "http_req_duration");
        assert_true(th->threshold);
        assert_int_equal(th->c[CMP_P95].flag, cases[i].flag);
        assert_int_equal(compare_regressions_over(&t, 20) > 0, cases[i].flag > 0);
        assert_int_equal(compare_regressions_over(&t, 200), 0);
        compare_free(&t);
        result_free(&ra);
        result_free(&rb);
        unlink(a);
        unlink(b);
        free(a);
        free(b);
    }
}

static void report_names_and_writes_a_page(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } names[] = {{"r.ndjson", "r.html"}, {"dir/r.ndjson.gz", "dir/r.html"}, {"a.b/r", "a.b/r.html"},
                 {".hidden", ".hidden.html"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = report_default_path(names[i].in);
        assert_string_equal(p, names[i].out);
        free(p);
    }
    char *a = write_result(10, true, false), *b = write_result(20, false, true), *html = tmp_path(".html");
    char err[256];
    assert_int_equal(report_write(b, html, a, err, sizeof err), 0);
    FILE *f = fopen(html, "r");
    assert_non_null(f);
    static char page[1 << 20];
    size_t n = fread(page, 1, sizeof page - 1, f);
    page[n] = 0;
    fclose(f);
    assert_non_null(strstr(page, "id=\"incomplete\""));
    assert_non_null(strstr(page, "<td><code>p(95)&lt;500</code>"));
    assert_non_null(strstr(page, "id=\"comparison-table\""));
    assert_non_null(strstr(page, "<script type=\"application/json\" id=\"volley-data\">{"));
    assert_null(strstr(page, "{{"));   /* every placeholder filled */
    assert_int_equal(report_write("/nonexistent.ndjson", html, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.ndjson: cannot open"));
    unlink(a);
    unlink(b);
    unlink(html);
    free(a);
    free(b);
    free(html);
}

/* ---- json-out's NDJSON ---- */

static const char ND_METRICS[] =
    "{\"type\":\"Metric\",\"data\":{\"name\":\"http_reqs\",\"type\":\"counter\",\"contains\":\"default\","
    "\"thresholds\":[],\"submetrics\":null},\"metric\":\"http_reqs\"}\n"
    "{\"type\":\"Metric\",\"data\":{\"name\":\"http_req_duration\",\"type\":\"trend\",\"contains\":\"time\","
    "\"thresholds\":[],\"submetrics\":null},\"metric\":\"http_req_duration\"}\n"
    "{\"type\":\"Metric\",\"data\":{\"name\":\"vus\",\"type\":\"gauge\",\"contains\":\"default\","
    "\"thresholds\":[],\"submetrics\":null},\"metric\":\"vus\"}\n"
    "{\"type\":\"Metric\",\"data\":{\"name\":\"checks\",\"type\":\"rate\",\"contains\":\"default\","
    "\"thresholds\":[],\"submetrics\":null},\"metric\":\"checks\"}\n";

/* A Point line of `metric` at 2026-12-07T01:00:00Z + ms milliseconds. */
static void point(FILE *f, const char *metric, double ms, double value, const char *tags)
{
    long long ns = (long long)llround(ms * 1e6);
    fprintf(f, "{\"type\":\"Point\",\"data\":{\"time\":\"2026-12-07T01:00:%02lld.%09lld+00:00\",\"value\":%.17g,"
               "\"tags\":{%s}},\"metric\":\"%s\"}\n", ns / 1000000000, ns % 1000000000, value, tags, metric);
}

static char *write_ndjson(void (*body)(FILE *))
{
    char *p = tmp_path(".ndjson");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(ND_METRICS, f);
    body(f);
    fclose(f);
    return p;
}

static void parses_times(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        long long ns;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:01.5Z", 1500000000},
        {"2026-12-07T01:02:03.123456789+00:00", 1796605323123456789LL},
        {"2026-12-07T02:02:03.123456789+01:00", 1796605323123456789LL},
        {"2026-12-06T20:32:03.123456789-04:30", 1796605323123456789LL},
        {"2026-12-07T01:02:03.1234567891234Z", 1796605323123456789LL},   /* past ns: dropped */
        {"2000-02-29T00:00:00+0000", 951782400000000000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ns = -1;
        if (rr__parse_time(ok[i].s, strlen(ok[i].s), &ns) != 0 || ns != ok[i].ns)
            fail_msg("%s: %lld, expected %lld", ok[i].s, (long long)ns, ok[i].ns);
    }
    static const char *const bad[] = {"", "2026-12-07", "2026-12-07T01:02:03", "2026-12-07T01:02:03.Z",
                                      "2026-13-07T01:02:03Z", "2026-12-07T01:02:03+1", "2026-12-07T01:02:03Zx",
                                      "yesterday at noon Z",
                                      "2026-02-30T01:02:03Z",     /* no such day (rfc3339.c) */
                                      "9999-12-31T23:59:59Z"};    /* past int64 ns: was an overflow */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns;
        if (rr__parse_time(bad[i], strlen(bad[i]), &ns) == 0)
            fail_msg("\"%s\" parsed", bad[i]);
    }
}

/* Windows are the seconds from the first point. Times relative to it:
 * 0, 900 and 999 ms in window 0; 1000 ms in window 1; 2700 ms in window 2;
 * then 950 ms, out of order, still in window 0 (4 are open); a jump to
 * 10.2 s leaves windows 3-9 empty and closes 0-6; 5.0 s is then older
 * than every open window and counts, late, in the oldest (7). */
static void cut_body(FILE *f)
{
    point(f, "http_reqs", 500, 1, "\"name\":\"a\"");
    point(f, "http_reqs", 1400, 1, "\"name\":\"a\"");
    point(f, "http_reqs", 1499, 1, "\"name\":\"b\"");
    point(f, "http_reqs", 1500, 1, "\"name\":\"a\"");
    point(f, "http_reqs", 3200, 1, "\"name\":\"a\"");
    point(f, "http_reqs", 1450, 1, "\"name\":\"b\"");
    point(f, "http_reqs", 10700, 1, "\"name\":\"a\"");
    point(f, "http_reqs", 5500, 1, "\"name\":\"a\"");
}

static void ndjson_cuts_windows(void **state)
{
    (void)state;
    char *p = write_ndjson(cut_body);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    assert_true(r.raw);
    assert_false(r.complete);
    assert_int_equal(r.exit_code, -1);
    assert_int_equal(r.n_thresholds, 0);
    assert_float_equal(r.raw_points, 8, 0);
    assert_float_equal(r.raw_late, 1, 0);
    assert_int_equal(r.n_windows, 11);
    static const double want[11] = {4, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1};
    long reqs = result_find(&r, "http_reqs"), a = result_find(&r, "http_reqs{name:a}");
    long b = result_find(&r, "http_reqs{name:b}");
    assert_true(reqs >= 0 && a >= 0 && b >= 0);
    for (size_t w = 0; w < r.n_windows; w++) {
        assert_float_equal(r.windows[w].t0, (double)w, 0);
        const rr_stat *st = result_window_stat(&r.windows[w], (uint32_t)reqs);
        if (!st ? want[w] != 0 : st->sum != want[w])
            fail_msg("window %zu: %g requests, expected %g", w, st ? st->sum : 0, want[w]);
    }
    assert_float_equal(r.windows[0].t1, 1, 0);
    assert_float_equal(r.windows[10].t1, 10.2, 1e-9);   /* the last point's time */
    assert_float_equal(r.duration_s, 10.2, 1e-9);
    assert_float_equal(r.totals[reqs].sum, 8, 0);
    assert_float_equal(r.totals[a].sum, 6, 0);
    assert_float_equal(r.totals[b].sum, 2, 0);
    assert_float_equal(result_window_stat(&r.windows[0], (uint32_t)b)->sum, 2, 0);
    assert_int_equal(r.series[a].kind, RR_BREAKDOWN);
    assert_string_equal(result_tag(&r.series[a], "name"), "a");
    assert_string_equal(r.start, "2026-12-07T01:00:00.500Z");
    assert_string_equal(r.spec_name, strrchr(p, '/') + 1);
    result_free(&r);
    unlink(p);
    free(p);
}

/* Trends: exact percentiles while few values (k6's interpolation), the
 * histogram's past METRICS_EXACT_MAX, as the run computes them; a gauge's
 * last value is its latest in time, not in the file; checks by check and
 * group; per-scenario series only with several scenarios. */
static void stats_body(FILE *f)
{
    for (int i = 1; i <= 100; i++)
        point(f, "http_req_duration", 10 + i, i, "\"name\":\"x\",\"scenario\":\"s1\"");
    for (int i = 0; i < 5000; i++)
        point(f, "http_req_duration", 1100 + i / 10.0, 1 + i % 1000, "\"name\":\"y\",\"scenario\":\"s1\"");
    point(f, "vus", 1600, 7, "");
    point(f, "vus", 1500, 3, "");
    point(f, "checks", 1700, 1, "\"check\":\"ok\",\"group\":\"::g\"");
    point(f, "checks", 1701, 0, "\"check\":\"ok\",\"group\":\"::g\"");
    point(f, "checks", 1702, 1, "\"check\":\"top\",\"group\":\"\"");
}

static void ndjson_series_and_stats(void **state)
{
    (void)state;
    char *p = write_ndjson(stats_body);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    assert_int_equal(r.n_windows, 2);
    long x = result_find(&r, "http_req_duration{name:x}"), y = result_find(&r, "http_req_duration{name:y}");
    long d = result_find(&r, "http_req_duration"), vus = result_find(&r, "vus");
    assert_true(x >= 0 && y >= 0 && d >= 0 && vus >= 0);
    assert_int_equal(result_find(&r, "http_req_duration{scenario:s1}"), -1);   /* one scenario */
    const rr_stat *st = result_window_stat(&r.windows[0], (uint32_t)x);
    assert_float_equal(st->n, 100, 0);
    assert_float_equal(st->p[RR_P95], 95.05, 1e-9);
    assert_float_equal(st->p[RR_P50], 50.5, 1e-9);
    assert_float_equal(r.totals[x].p[RR_P99], 99.01, 1e-9);
    assert_float_equal(r.totals[x].avg, 50.5, 1e-9);
    /* 5000 values of 1..1000: past the exact range, from the histogram. */
    const rr_stat *t = &r.totals[y];
    assert_float_equal(t->n, 5000, 0);
    assert_float_equal(t->min, 1, 0);
    assert_float_equal(t->max, 1000, 0);
    assert_true(fabs(t->p[RR_P95] - 950) <= 950 * 0.002 + 0.001);
    /* Both names: at v > 100, min(v, 100) + 5v values are <= v; the 2550th is 490. */
    assert_true(fabs(r.totals[d].p[RR_P50] - 490) <= 490 * 0.002 + 0.001);
    assert_float_equal(r.totals[d].n, 5100, 0);
    const rr_stat *g = result_window_stat(&r.windows[1], (uint32_t)vus);
    assert_float_equal(g->last, 7, 0);
    assert_float_equal(g->min, 3, 0);
    assert_float_equal(r.windows[1].runner.vus, 7, 0);
    assert_true(isnan(r.windows[0].runner.vus));
    assert_true(isnan(r.windows[0].runner.cpu_pct));
    assert_float_equal(r.vus_max, 0, 0);   /* no vus_max in the stream */
    assert_int_equal(r.n_checks, 2);
    assert_string_equal(r.checks[0].group, "::g");
    assert_string_equal(r.checks[0].name, "ok");
    assert_float_equal(r.checks[0].passes, 1, 0);
    assert_float_equal(r.checks[0].fails, 1, 0);
    assert_int_equal(r.series[result_find(&r, "::g::ok")].kind, RR_CHECK);
    assert_true(result_find(&r, "top") >= 0);
    result_free(&r);
    unlink(p);
    free(p);
}

static void two_scenarios_body(FILE *f)
{
    point(f, "http_reqs", 0, 1, "\"scenario\":\"s1\",\"status\":\"200\"");
    point(f, "http_reqs", 1, 1, "\"scenario\":\"s2\",\"status\":\"503\",\"error_code\":\"1503\"");
    point(f, "http_reqs", 2, 1, "\"scenario\":\"s2\",\"status\":\"0\",\"error_code\":\"1211\"");
}

static void ndjson_breakdowns(void **state)
{
    (void)state;
    char *p = write_ndjson(two_scenarios_body);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    long s1 = result_find(&r, "http_reqs{scenario:s1}"), s2 = result_find(&r, "http_reqs{scenario:s2}");
    assert_true(s1 >= 0 && s2 >= 0);
    assert_float_equal(r.totals[s2].sum, 2, 0);
    /* A failing status, else (no response) the error code: never both. */
    assert_true(result_find(&r, "http_reqs{status:503}") >= 0);
    assert_int_equal(result_find(&r, "http_reqs{error_code:1503}"), -1);
    assert_true(result_find(&r, "http_reqs{error_code:1211}") >= 0);
    assert_int_equal(result_find(&r, "http_reqs{status:0}"), -1);
    assert_int_equal(result_find(&r, "http_reqs{status:200}"), -1);
    size_t n;
    cmp_group *g = compare_groups(&r, &n);
    assert_int_equal(n, 2);   /* the scenarios; status and error_code are not requests */
    free(g);
    result_free(&r);
    unlink(p);
    free(p);
}

static void ndjson_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *err;
    } bad[] = {
        {"{\"type\":\"Point\",\"data\":{\"time\":\"2026-12-07T01:00:00Z\",\"value\":1},\"metric\":\"vus\"}\n",
         ":1: a Point of metric \"vus\" before its Metric line"},
        {"{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"histogram\"}}\n",
         ":1: metric \"m\" has type \"histogram\""},
        {"{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"rate\"}}\n\n"
         "{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"trend\"}}\n",
         ":3: metric \"m\" again, with another type"},
        {"{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"rate\"}}\n"
         "{\"type\":\"Point\",\"data\":{\"time\":\"2026-12-07T01:00:00Z\",\"value\":\"1\"},\"metric\":\"m\"}\n",
         ":2: a Point line without data.time (a string) and data.value (a number)"},
        {"{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"rate\"}}\n"
         "{\"type\":\"Point\",\"data\":{\"time\":\"2026-12-07T01:00:00Z\",\"value\":1},\"metric\":\"m\"}\n"
         "{\"type\":\"Point\",\"data\":{\"time\":\"2099-12-07T01:00:00Z\",\"value\":1},\"metric\":\"m\"}\n",
         ":3: a point 2303683200 s after the newest one before it (a broken time?)"},
        {"{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"rate\"}}\n{\"type\":\"Point\",\"data\":{\n"
         "{\"type\":\"Point\",\"data\":{\"time\":\"2026-12-07T01:00:00Z\",\"value\":1},\"metric\":\"m\"}\n",
         ":2: not JSON"},
        {"{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"rate\"}}\n[1,2]\n",
         ":2: a line of type \"(none)\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = tmp_path(".ndjson");
        FILE *f = fopen(p, "w");
        fputs(bad[i].text, f);
        fclose(f);
        result r;
        char err[256] = "";
        assert_int_equal(result_read(p, &r, err, sizeof err), -1);
        if (!strstr(err, bad[i].err) || strncmp(err, p, strlen(p)) != 0)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].err);
        result_free(&r);
        unlink(p);
        free(p);
    }
    /* The last line cut mid-write (the run died): what came before. */
    char *p = tmp_path(".ndjson");
    FILE *f = fopen(p, "w");
    fputs(ND_METRICS, f);
    point(f, "http_reqs", 0, 1, "");
    fputs("{\"type\":\"Point\",\"data\":{\"ti", f);
    fclose(f);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    assert_true(r.raw_cut);
    assert_float_equal(r.raw_points, 1, 0);
    result_free(&r);
    unlink(p);
    free(p);
}

/* The scanner reads plain Point lines in any key order and gives up,
 * leaving the line as it was, on what jansson must read. */
static void scans_point_lines(void **state)
{
    (void)state;
    char a[] = " {\"metric\":\"m\", \"extra\":[1,{\"x\":null},true,-2.5e-3],\"type\":\"Point\",\"data\":{\"tags\":"
               "{\"status\":\"404\",\"name\":\"n\",\"group\":7,\"url\":\"u\"},\"value\":-1.25E2,\"time\":"
               "\"2026-12-07T01:00:00Z\"}} \r";
    rr_line l;
    assert_int_equal(rr__scan_line(a, strlen(a), &l), 1);
    assert_string_equal(l.metric, "m");
    assert_string_equal(l.time, "2026-12-07T01:00:00Z");
    assert_int_equal(l.time_len, 20);
    assert_true(l.has_value);
    assert_float_equal(l.value, -125, 0);
    assert_string_equal(l.tag[RR_TAG_NAME], "n");
    assert_string_equal(l.tag[RR_TAG_STATUS], "404");
    assert_null(l.tag[RR_TAG_GROUP]);   /* not a string */
    assert_null(l.tag[RR_TAG_SCENARIO]);
    static const char *const fallback[] = {
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":1,\"tags\":{\"name\":\"a\\\"b\"}},\"metric\":\"m\"}",
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":1,\"tags\":{\"name\":\"caf\xc3\xa9\"}},\"metric\":\"m\"}",
        "{\"type\":\"Metric\",\"data\":{\"name\":\"m\",\"type\":\"rate\"},\"metric\":\"m\"}",
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":01},\"metric\":\"m\"}",
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":1},\"metric\":\"m\"} x",
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":1,},\"metric\":\"m\"}",
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":1.},\"metric\":\"m\"}",
        "{\"type\":\"Point\",\"data\":{\"time\":\"t\",\"value\":1}",
        "[{\"type\":\"Point\"}]",
    };
    for (size_t i = 0; i < sizeof fallback / sizeof fallback[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", fallback[i]);
        if (rr__scan_line(buf, strlen(buf), &l) != 0)
            fail_msg("case %zu scanned: %s", i, fallback[i]);
        assert_string_equal(buf, fallback[i]);
    }
}

/* Lines the scanner leaves to jansson count the same. */
static void escaped_body(FILE *f)
{
    point(f, "http_reqs", 0, 1, "\"name\":\"caf\xc3\xa9\"");
    point(f, "http_reqs", 1, 1, "\"name\":\"caf\\u00e9\"");
    point(f, "http_reqs", 2, 1, "\"name\":\"a\\\"b\"");
    fputs("{ \"metric\" : \"http_reqs\" , \"type\" : \"Point\" , \"data\" : { \"value\" : 1 , \"time\" : "
          "\"2026-12-07T01:00:00.003Z\" , \"tags\" : { \"name\" : \"a\\\"b\" } } }\n", f);
}

static void ndjson_reads_escapes(void **state)
{
    (void)state;
    char *p = write_ndjson(escaped_body);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    long cafe = result_find(&r, "http_reqs{name:caf\xc3\xa9}"), q = result_find(&r, "http_reqs{name:a\"b}");
    assert_true(cafe >= 0 && q >= 0);
    assert_float_equal(r.totals[cafe].sum, 2, 0);
    assert_float_equal(r.totals[q].sum, 2, 0);
    result_free(&r);
    unlink(p);
    free(p);
}

/* A run that died: its checks are named by the check series' "check" and
 * "group" (the writer's tags of a check series are empty). */
static void a_run_that_died_names_its_checks(void **state)
{
    (void)state;
    char *p = tmp_path(".ndjson");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("{\"type\":\"meta\",\"format\":\"volley-result\",\"version\":1,\"metrics\":{\"checks\":{\"type\":\"rate\","
          "\"contains\":\"default\"}},\"series\":[{\"id\":0,\"key\":\"::g::ok\",\"metric\":\"checks\",\"tags\":{},"
          "\"kind\":\"check\",\"check\":\"ok\",\"group\":\"::g\"}]}\n"
          "{\"type\":\"window\",\"t0\":0,\"t1\":1,\"s\":{\"0\":{\"n\":3,\"nz\":2}}}\n", f);
    fclose(f);
    result r;
    char err[256];
    assert_int_equal(result_read(p, &r, err, sizeof err), 0);
    assert_int_equal(r.n_checks, 1);
    assert_string_equal(r.checks[0].name, "ok");
    assert_string_equal(r.checks[0].group, "::g");
    assert_float_equal(r.checks[0].fails, 1, 0);
    result_free(&r);
    unlink(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_complete_result),
        cmocka_unit_test(a_run_that_died),
        cmocka_unit_test(a_run_that_died_names_its_checks),
        cmocka_unit_test(reads_gzip_and_a_cut_gzip),
        cmocka_unit_test(rejects_what_is_not_a_result),
        cmocka_unit_test(compare_flags_only_real_changes),
        cmocka_unit_test(report_names_and_writes_a_page),
        cmocka_unit_test(parses_times),
        cmocka_unit_test(ndjson_cuts_windows),
        cmocka_unit_test(ndjson_series_and_stats),
        cmocka_unit_test(ndjson_breakdowns),
        cmocka_unit_test(ndjson_errors),
        cmocka_unit_test(scans_point_lines),
        cmocka_unit_test(ndjson_reads_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
