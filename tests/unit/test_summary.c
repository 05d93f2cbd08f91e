/* summary: the three verdicts of a threshold (pass, fail, no data) and how
 * the text summary and the --summary-export JSON show them. The spec and
 * the run result are built by hand: a registry with the built-in metrics
 * and one metric of each type, thresholds on them and on sub-metrics that
 * got no sample. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "summary.h"

typedef struct fx {
    metrics_reg reg;
    spec s;
    run_result r;
    threshold th[16];
    th_verdict v[16];
    int trend, rate, gauge, counter;
    char export_path[64];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    metrics_reg_init(&f->reg);
    if (spec_register_builtin_metrics(&f->reg, err, sizeof err) != 0)
        fail_msg("%s", err);
    int *ids[] = {&f->trend, &f->rate, &f->gauge, &f->counter};
    static const struct {
        const char *name;
        volley_metric_type type;
        volley_metric_contains contains;
    } defs[] = {{"req_time", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
                {"ok_rate", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT},
                {"queue", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT},
                {"errors", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT}};
    for (size_t i = 0; i < 4; i++)
        if ((*ids[i] = metrics_register(&f->reg, defs[i].name, defs[i].type, defs[i].contains, err,
                                        sizeof err)) < 0)
            fail_msg("register %s: %s", defs[i].name, err);
    f->s.thresholds = f->th;
    f->r.duration_ns = 2000000000;
    f->r.workers = 1;
    snprintf(f->export_path, sizeof f->export_path, "/tmp/volley-summary-XXXXXX");
    int fd = mkstemp(f->export_path);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    metrics_agg_free(&f->r.agg);
    metrics_reg_free(&f->reg);
    unlink(f->export_path);
    free(f);
    return 0;
}

/* A threshold "key": "src" (allow_no_data as given), as spec.c adds it. */
static void add(fx *f, const char *key, const char *src, bool allow_no_data)
{
    char err[256] = "";
    int series = metrics_series_for_key(&f->reg, key, err, sizeof err);
    if (series < 0)
        fail_msg("%s: %s", key, err);
    threshold *t = &f->th[f->s.n_thresholds++];
    *t = (threshold){.key = key, .source = src, .series = (uint32_t)series,
                     .metric = f->reg.series[series].metric, .allow_no_data = allow_no_data};
    if (th_parse(src, &t->expr, err, sizeof err) != 0)
        fail_msg("%s: %s", src, err);
    assert_int_equal(metrics_add_threshold_source(&f->reg, t->metric, src), 0);
}

/* After every add(): the run's aggregate, with the samples recorded into
 * the metrics' own series (none match a {name:...} filter). */
static void record(fx *f, int metric, double v)
{
    if (!f->r.agg.s && metrics_agg_init(&f->r.agg, &f->reg) != 0)
        fail_msg("metrics_agg_init");
    sample_tags st = {.scenario = "s"};
    metrics_record(&f->reg, &f->r.agg, (uint32_t)metric, v, &st, 1);
}

static size_t eval(fx *f)
{
    if (!f->r.agg.s && metrics_agg_init(&f->r.agg, &f->reg) != 0)
        fail_msg("metrics_agg_init");
    return summary_eval_thresholds(&f->s, &f->reg, &f->r.agg, 2.0, f->v);
}

static char *text_with(fx *f, const summary_opts *o)
{
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    assert_non_null(mem);
    summary_print(mem, &f->s, &f->reg, &f->r, f->v, o);
    fclose(mem);
    return out;
}

static char *text(fx *f) { return text_with(f, NULL); }

static json_t *exported_with(fx *f, const summary_opts *o)
{
    char err[256];
    if (summary_export(f->export_path, &f->s, &f->reg, &f->r, f->v, o, err, sizeof err) != 0)
        fail_msg("%s", err);
    json_error_t je;
    json_t *doc = json_load_file(f->export_path, 0, &je);
    if (!doc)
        fail_msg("%s: %s", f->export_path, je.text);
    return doc;
}

static json_t *exported(fx *f) { return exported_with(f, NULL); }

/* One threshold of each verdict and a counter: a typo'd name filter (no
 * data, fails), a gauge without samples (no data, allowed), a trend that
 * fails, a counter at 0 that passes. */
static void add_one_of_each(fx *f)
{
    add(f, "req_time{name:trasnfer}", "p(95)<0.001", false);
    add(f, "queue", "value<5", true);
    add(f, "req_time", "p(95)<10", false);
    add(f, "errors", "count<1", false);
    record(f, f->trend, 50);
    assert_int_equal(eval(f), 2);
}

static void contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("missing \"%s\" in:\n%s", needle, hay);
}

/* ------------------------------------------------------------------ */

static void test_no_data_fails_unless_allowed(void **state)
{
    fx *f = *state;
    add(f, "req_time{name:trasnfer}", "p(95)<0.001", false);   /* a typo: nothing matches */
    add(f, "ok_rate", "rate>0.9", false);
    add(f, "queue", "value<5", true);
    add(f, "req_time", "avg<100", false);
    record(f, f->trend, 50);
    assert_int_equal(eval(f), 2);
    assert_int_equal(f->v[0], TH_NO_DATA);
    assert_int_equal(f->v[1], TH_NO_DATA);
    assert_int_equal(f->v[2], TH_NO_DATA);
    assert_int_equal(f->v[3], TH_PASS);
    assert_true(summary_fails_run(&f->th[0], f->v[0]));
    assert_false(summary_fails_run(&f->th[2], f->v[2]));   /* allow_no_data */
    assert_false(summary_fails_run(&f->th[3], f->v[3]));
}

/* A counter without samples is a count of 0, judged like any count. */
static void test_counter_without_samples_is_zero(void **state)
{
    fx *f = *state;
    add(f, "errors", "count<1", false);
    add(f, "errors{name:x}", "count>0", false);
    add(f, "errors", "rate<0.5", false);
    assert_int_equal(eval(f), 1);
    assert_int_equal(f->v[0], TH_PASS);
    assert_int_equal(f->v[1], TH_FAIL);
    assert_int_equal(f->v[2], TH_PASS);
}

/* One sample is data: the threshold is judged on it. */
static void test_data_is_judged(void **state)
{
    fx *f = *state;
    add(f, "ok_rate", "rate>0.9", false);
    add(f, "queue", "value<5", true);
    add(f, "req_time", "p(95)<10", true);
    record(f, f->rate, 0);
    record(f, f->gauge, 7);
    record(f, f->trend, 50);
    assert_int_equal(eval(f), 3);
    assert_int_equal(f->v[0], TH_FAIL);
    assert_int_equal(f->v[1], TH_FAIL);   /* allow_no_data does not excuse a failure */
    assert_int_equal(f->v[2], TH_FAIL);
}

static void test_text_summary(void **state)
{
    fx *f = *state;
    add_one_of_each(f);
    char *t = text(f);
    contains(t, "     ✗ { name:trasnfer }............: no data\n");
    contains(t, "   - queue..........................: no data\n");
    contains(t, "   ✓ errors.........................: 0 ");
    contains(t, "\n     thresholds not passed:\n"
                "       ✗ req_time{name:trasnfer} \"p(95)<0.001\": no data\n"
                "       - queue \"value<5\": no data (allow_no_data)\n"
                "       ✗ req_time \"p(95)<10\": p(95)=50ms\n");
    contains(t, "\n     ✗ 2 of 4 thresholds failed, 1 of them for no data: not one sample reached "
                "their metric or sub-metric\n");
    contains(t, "allow_no_data: true accepts it");
    free(t);
}

/* All passed: no verdict section, no count line. */
static void test_text_summary_all_passed(void **state)
{
    fx *f = *state;
    add(f, "req_time", "p(95)<100", false);
    record(f, f->trend, 50);
    assert_int_equal(eval(f), 0);
    char *t = text(f);
    contains(t, "   ✓ req_time.......................: avg=50ms");
    assert_null(strstr(t, "thresholds not passed"));
    assert_null(strstr(t, "thresholds failed"));
    assert_null(strstr(t, "no data"));
    free(t);
}

/* k6's boolean (true: the threshold fails the run) plus "no_data": true
 * on a series without samples. */
static void test_export(void **state)
{
    fx *f = *state;
    add_one_of_each(f);
    json_t *doc = exported(f);
    json_t *m = json_object_get(doc, "metrics");
    json_t *typo = json_object_get(m, "req_time{name:trasnfer}");
    assert_true(json_is_true(json_object_get(typo, "no_data")));
    assert_true(json_is_true(json_object_get(json_object_get(typo, "thresholds"), "p(95)<0.001")));
    assert_true(json_is_number(json_object_get(typo, "p(95)")));   /* k6's shape kept */
    json_t *queue = json_object_get(m, "queue");
    assert_true(json_is_true(json_object_get(queue, "no_data")));
    assert_true(json_is_false(json_object_get(json_object_get(queue, "thresholds"), "value<5")));
    json_t *rt = json_object_get(m, "req_time");
    assert_null(json_object_get(rt, "no_data"));
    assert_true(json_is_true(json_object_get(json_object_get(rt, "thresholds"), "p(95)<10")));
    json_t *errors = json_object_get(m, "errors");
    assert_null(json_object_get(errors, "no_data"));   /* a counter's 0 is data */
    assert_true(json_is_false(json_object_get(json_object_get(errors, "thresholds"), "count<1")));
    json_decref(doc);
}

/* k6's forms, spaces around items allowed; a bad item is named with the
 * forms there are, and leaves the options as they were. */
static void test_parse_trend_stats(void **state)
{
    (void)state;
    summary_opts o;
    char err[512];
    summary_opts_init(&o);
    assert_int_equal(o.n_stats, 6);
    assert_string_equal(o.stats[5], "p(95)");
    assert_int_equal(summary_parse_trend_stats(&o, "avg, min,med ,max,p(90),p(95),p(99.9),count,p(0),p(100)",
                                               err, sizeof err), 0);
    assert_int_equal(o.n_stats, 10);
    assert_string_equal(o.stats[2], "med");
    assert_string_equal(o.stats[6], "p(99.9)");
    assert_string_equal(o.stats[7], "count");
    static const char *const bad[][2] = {
        {"avg,p(101)", "\"p(101)\""}, {"p99", "\"p99\""}, {"avg,,min", "an empty item"},
        {"", "an empty item"}, {"p(-1)", "\"p(-1)\""}, {"p()", "\"p()\""}, {"p(9x)", "\"p(9x)\""},
        {"mean", "\"mean\""}, {"P(95)", "\"P(95)\""}, {"p(.5)", "\"p(.5)\""}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(summary_parse_trend_stats(&o, bad[i][0], err, sizeof err), -1);
        contains(err, bad[i][1]);
        contains(err, "avg, min, med, max, count or p(N) with N from 0 to 100");
        assert_int_equal(o.n_stats, 10);   /* unchanged */
    }
    assert_int_equal(summary_parse_trend_stats(&o, "avg,avg,avg,avg,avg,avg,avg,avg,avg,avg,avg,avg,"
                                               "avg,avg,avg,avg,avg", err, sizeof err), -1);
    contains(err, "at most 16");
}

static void test_parse_time_unit_and_by(void **state)
{
    (void)state;
    summary_opts o;
    char err[256];
    summary_opts_init(&o);
    assert_int_equal(o.time_unit, SUMMARY_UNIT_AUTO);
    assert_int_equal(summary_parse_time_unit(&o, "us", err, sizeof err), 0);
    assert_int_equal(o.time_unit, SUMMARY_UNIT_US);
    assert_int_equal(summary_parse_time_unit(&o, "m", err, sizeof err), -1);
    contains(err, "expected s, ms or us, got \"m\"");
    assert_int_equal(o.by, 0);
    assert_int_equal(summary_parse_by(&o, "name", err, sizeof err), 0);
    assert_int_equal(o.by, SUMMARY_BY_NAME);
    assert_int_equal(summary_parse_by(&o, "scenario,name", err, sizeof err), 0);
    assert_int_equal(o.by, SUMMARY_BY_NAME | SUMMARY_BY_SCENARIO);
    assert_int_equal(summary_parse_by(&o, "group", err, sizeof err), -1);
    contains(err, "expected name, scenario or name,scenario; got \"group\"");
}

/* Percentiles of whole values are shown whole (plain numbers only);
 * avg, min and max as they are. */
static void test_whole_trend_values(void **state)
{
    fx *f = *state;
    char err[256];
    int amount = metrics_register(&f->reg, "amount", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_DEFAULT,
                                  err, sizeof err);
    int part = metrics_register(&f->reg, "part", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_DEFAULT,
                                err, sizeof err);
    assert_true(amount >= 0 && part >= 0);
    for (int i = 0; i < 4; i++) {
        record(f, amount, 49740 + i);
        record(f, part, i + 0.25);
        record(f, f->trend, i);   /* whole milliseconds: times are not rounded */
    }
    const series_agg *a = &f->r.agg.s[f->reg.metrics[amount].series];
    const volley_metric_info *m = &f->reg.metrics[amount].info;
    assert_true(summary_trend_value(m, a, "med") == 49742);     /* 49741.5 */
    assert_true(summary_trend_value(m, a, "p(90)") == 49743);   /* 49742.7 */
    assert_true(summary_trend_value(m, a, "avg") == 49741.5);
    assert_true(summary_trend_value(m, a, "count") == 4);
    const series_agg *p = &f->r.agg.s[f->reg.metrics[part].series];
    assert_true(summary_trend_value(&f->reg.metrics[part].info, p, "med") == 1.75);
    const series_agg *t = &f->r.agg.s[f->reg.metrics[f->trend].series];
    assert_true(summary_trend_value(&f->reg.metrics[f->trend].info, t, "med") == 1.5);
    assert_int_equal(eval(f), 0);
    char *txt = text(f);
    contains(txt, "amount.........................: avg=49741.5 min=49740 med=49742 max=49743 "
                  "p(90)=49743 p(95)=49743");
    contains(txt, "med=1.75");
    contains(txt, "med=1.5ms");
    free(txt);
    json_t *doc = exported(f);
    json_t *am = json_object_get(json_object_get(doc, "metrics"), "amount");
    assert_true(json_real_value(json_object_get(am, "med")) == 49742);
    json_decref(doc);
}

/* --summary-trend-stats and --summary-time-unit in the text; the stats in
 * the export, count as an integer; the run object. */
static void test_opts_in_text_and_export(void **state)
{
    fx *f = *state;
    char err[256];
    summary_opts o;
    summary_opts_init(&o);
    assert_int_equal(summary_parse_trend_stats(&o, "med,p(99),count", err, sizeof err), 0);
    assert_int_equal(summary_parse_time_unit(&o, "us", err, sizeof err), 0);
    o.exit_code = 99;
    add(f, "req_time", "p(99)<1", false);
    for (int i = 1; i <= 100; i++)
        record(f, f->trend, i * 0.5);
    assert_int_equal(eval(f), 1);
    char *t = text_with(f, &o);
    contains(t, "req_time.......................: med=25250µs p(99)=49505µs count=100\n");
    contains(t, "       ✗ req_time \"p(99)<1\": p(99)=49.51ms\n");   /* as judged: auto units */
    free(t);
    json_t *doc = exported_with(f, &o);
    json_t *rt = json_object_get(json_object_get(doc, "metrics"), "req_time");
    assert_int_equal(json_object_size(rt), 4);   /* med, p(99), count, thresholds */
    assert_true(json_is_integer(json_object_get(rt, "count")));
    assert_int_equal(json_integer_value(json_object_get(rt, "count")), 100);
    assert_true(json_is_real(json_object_get(rt, "p(99)")));
    assert_null(json_object_get(rt, "avg"));
    json_t *run = json_object_get(doc, "run");
    assert_string_equal(json_string_value(json_object_get(run, "verdict")), "fail");
    assert_int_equal(json_integer_value(json_object_get(run, "exit_code")), 99);
    json_t *ft = json_array_get(json_object_get(run, "failed_thresholds"), 0);
    assert_string_equal(json_string_value(json_object_get(ft, "expression")), "p(99)<1");
    assert_string_equal(json_string_value(json_object_get(ft, "observed")), "p(99)=49.51ms");
    assert_true(json_real_value(json_object_get(ft, "limit")) == 1);
    assert_int_equal(json_array_size(json_object_get(run, "summary_trend_stats")), 3);
    json_decref(doc);
}

/* Breakdowns are shown (text and export) only when --summary-by asks for
 * their kind; one with a threshold is a sub-metric like any other. */
static void test_breakdowns_when_asked(void **state)
{
    fx *f = *state;
    int b = metrics_add_breakdown(&f->reg, (uint32_t)f->trend, TAG_NAME, "create transfer");
    int c = metrics_add_breakdown(&f->reg, (uint32_t)f->counter, TAG_NAME, "create transfer");
    int judged = metrics_add_breakdown(&f->reg, (uint32_t)f->counter, TAG_NAME, "judged");
    assert_true(b >= 0 && c >= 0 && judged >= 0);
    add(f, "errors{name:judged}", "count<5", false);
    assert_int_equal(eval(f), 0);
    volley_tags tags = VOLLEY_TAGS_INIT;
    tags.name = "create transfer";
    sample_tags st = {.t = &tags, .scenario = "s"};
    metrics_record(&f->reg, &f->r.agg, (uint32_t)f->trend, 12, &st, 1);
    metrics_record(&f->reg, &f->r.agg, (uint32_t)f->counter, 1, &st, 1);
    char *t = text(f);
    assert_null(strstr(t, "{ name:create transfer }"));
    contains(t, "     ✓ { name:judged }..............: 0 ");
    free(t);
    json_t *doc = exported(f);
    assert_null(json_object_get(json_object_get(doc, "metrics"), "req_time{name:create transfer}"));
    assert_non_null(json_object_get(json_object_get(doc, "metrics"), "errors{name:judged}"));
    json_decref(doc);
    summary_opts o;
    summary_opts_init(&o);
    o.by = SUMMARY_BY_NAME;
    t = text_with(f, &o);
    contains(t, "       { name:create transfer }.....: avg=12ms");
    contains(t, "       { name:create transfer }.....: 1 ");
    free(t);
    doc = exported_with(f, &o);
    json_t *m = json_object_get(json_object_get(doc, "metrics"), "req_time{name:create transfer}");
    assert_true(json_real_value(json_object_get(m, "max")) == 12);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_data_fails_unless_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_without_samples_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_is_judged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_summary_all_passed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
        cmocka_unit_test(test_parse_trend_stats),
        cmocka_unit_test(test_parse_time_unit_and_by),
        cmocka_unit_test_setup_teardown(test_whole_trend_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opts_in_text_and_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breakdowns_when_asked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
