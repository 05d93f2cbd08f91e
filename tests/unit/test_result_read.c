/* result_read.c (result files: complete, died, gzip, broken) and the
 * decisions of compare.c (what is flagged, what is noise). */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_a_complete_result),
        cmocka_unit_test(a_run_that_died),
        cmocka_unit_test(reads_gzip_and_a_cut_gzip),
        cmocka_unit_test(rejects_what_is_not_a_result),
        cmocka_unit_test(compare_flags_only_real_changes),
        cmocka_unit_test(report_names_and_writes_a_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
