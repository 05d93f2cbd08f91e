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

static char *text(fx *f)
{
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    assert_non_null(mem);
    summary_print(mem, &f->s, &f->reg, &f->r, f->v, NULL);
    fclose(mem);
    return out;
}

static json_t *exported(fx *f)
{
    char err[256];
    if (summary_export(f->export_path, &f->s, &f->reg, &f->r, f->v, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    json_error_t je;
    json_t *doc = json_load_file(f->export_path, 0, &je);
    if (!doc)
        fail_msg("%s: %s", f->export_path, je.text);
    return doc;
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_data_fails_unless_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_without_samples_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_is_judged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_summary_all_passed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
