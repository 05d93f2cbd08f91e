/* summary_json: what the CLI cannot ask for yet (trend stats other than
 * k6's default, "count" among them), and the values of each metric type
 * and the checks' tree from a registry and run result built by hand. The
 * shape against a real run and k6-html-reporter:
 * tests/integration/test_summary_json.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "summary_json.h"

typedef struct fx {
    metrics_reg reg;
    spec s;
    run_result r;
    int trend, rate, gauge, counter;
    int check_a, check_b, check_a_again, check_top;
    char path[64];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    metrics_reg_init(&f->reg);
    if (spec_register_builtin_metrics(&f->reg, err, sizeof err) != 0)
        fail_msg("%s", err);
    f->trend = metrics_register(&f->reg, "req_time", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME, err, sizeof err);
    f->rate = metrics_register(&f->reg, "ok_rate", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT, err, sizeof err);
    f->gauge = metrics_register(&f->reg, "queue", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT, err, sizeof err);
    f->counter = metrics_register(&f->reg, "bytes", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DATA, err, sizeof err);
    assert_true(f->trend >= 0 && f->rate >= 0 && f->gauge >= 0 && f->counter >= 0);
    /* two check items named "a" in one group are one check, as in k6 */
    f->check_a = metrics_add_hidden(&f->reg, BUILTIN_CHECKS, "::g::h", "a");
    f->check_b = metrics_add_hidden(&f->reg, BUILTIN_CHECKS, "::g", "b");
    f->check_a_again = metrics_add_hidden(&f->reg, BUILTIN_CHECKS, "::g::h", "a");
    f->check_top = metrics_add_hidden(&f->reg, BUILTIN_CHECKS, "", "top");
    assert_true(f->check_a >= 0 && f->check_b >= 0 && f->check_a_again >= 0 && f->check_top >= 0);
    f->r.duration_ns = 2000000000;
    assert_int_equal(metrics_agg_init(&f->r.agg, &f->reg), 0);
    sample_tags st = {.scenario = "s"};
    for (int i = 1; i <= 100; i++)
        metrics_record(&f->reg, &f->r.agg, (uint32_t)f->trend, i, &st, 1);
    for (int i = 0; i < 4; i++)
        metrics_record(&f->reg, &f->r.agg, (uint32_t)f->rate, i < 3, &st, 1);
    metrics_record(&f->reg, &f->r.agg, (uint32_t)f->counter, 1000, &st, 1);
    metrics_record(&f->reg, &f->r.agg, (uint32_t)f->counter, 500, &st, 1);
    const struct { int series, passes, fails; } checks[] = {
        {f->check_a, 3, 1}, {f->check_b, 0, 2}, {f->check_a_again, 2, 0}, {f->check_top, 1, 0}};
    for (size_t i = 0; i < 4; i++)
        for (int k = 0; k < checks[i].passes + checks[i].fails; k++)
            series_add(&f->r.agg.s[checks[i].series], VOLLEY_METRIC_RATE, k < checks[i].passes, 0);
    snprintf(f->path, sizeof f->path, "/tmp/volley-summary-json-XXXXXX");
    int fd = mkstemp(f->path);
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
    unlink(f->path);
    free(f);
    return 0;
}

static json_t *written(fx *f, const char *const *stats, size_t n)
{
    char err[256];
    if (summary_json_write(f->path, &f->s, &f->reg, &f->r, NULL, stats, n, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    json_error_t je;
    json_t *doc = json_load_file(f->path, 0, &je);
    if (!doc)
        fail_msg("%s: %s", f->path, je.text);
    return doc;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("\"%s\" is not a number", key);
    return json_number_value(v);
}

static json_t *values(json_t *doc, const char *metric)
{
    json_t *m = json_object_get(json_object_get(doc, "metrics"), metric);
    if (!m)
        fail_msg("no metric %s", metric);
    return json_object_get(m, "values");
}

static void test_trend_stats_as_asked(void **state)
{
    fx *f = *state;
    static const char *const stats[] = {"count", "p(99)", "avg", "max"};
    json_t *doc = written(f, stats, 4);
    json_t *v = values(doc, "req_time");
    assert_int_equal(json_object_size(v), 4);
    assert_true(json_is_integer(json_object_get(v, "count")));   /* 100, not 100.0 */
    assert_int_equal(num(v, "count"), 100);
    assert_true(fabs(num(v, "p(99)") - 99.01) < 1e-9);   /* k6's interpolation between ranks */
    assert_true(fabs(num(v, "avg") - 50.5) < 1e-9);
    assert_int_equal(num(v, "max"), 100);
    json_t *listed = json_object_get(json_object_get(doc, "options"), "summaryTrendStats");
    assert_int_equal(json_array_size(listed), 4);
    assert_string_equal(json_string_value(json_array_get(listed, 1)), "p(99)");
    json_decref(doc);
}

static void test_default_stats_and_other_types(void **state)
{
    fx *f = *state;
    json_t *doc = written(f, NULL, 0);
    json_t *m = json_object_get(doc, "metrics");
    json_t *v = values(doc, "req_time");
    assert_int_equal(json_object_size(v), 6);
    assert_true(fabs(num(v, "med") - 50.5) < 1e-9);
    assert_true(fabs(num(v, "p(90)") - 90.1) < 1e-9);
    assert_true(fabs(num(v, "p(95)") - 95.05) < 1e-9);
    assert_int_equal(num(v, "min"), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "req_time"), "contains")), "time");

    v = values(doc, "ok_rate");
    assert_true(fabs(num(v, "rate") - 0.75) < 1e-12);
    assert_int_equal(num(v, "passes"), 3);
    assert_int_equal(num(v, "fails"), 1);
    assert_null(json_object_get(v, "value"));   /* the legacy export's name */

    v = values(doc, "bytes");   /* 1500 over 2 s */
    assert_int_equal(num(v, "count"), 1500);
    assert_int_equal(num(v, "rate"), 750);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "bytes"), "contains")), "data");

    /* no sample and no threshold: not written, as k6 leaves out what it
     * did not observe */
    assert_null(json_object_get(m, "queue"));
    assert_int_equal(num(json_object_get(doc, "state"), "testRunDurationMs"), 2000);
    json_decref(doc);
}

static void test_checks_tree(void **state)
{
    fx *f = *state;
    json_t *doc = written(f, NULL, 0);
    json_t *root = json_object_get(doc, "root_group");
    assert_string_equal(json_string_value(json_object_get(root, "id")), "d41d8cd98f00b204e9800998ecf8427e");
    json_t *top = json_object_get(root, "checks");
    assert_int_equal(json_array_size(top), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "path")), "::top");
    json_t *g = json_array_get(json_object_get(root, "groups"), 0);
    assert_int_equal(json_array_size(json_object_get(root, "groups")), 1);
    assert_string_equal(json_string_value(json_object_get(g, "path")), "::g");
    json_t *b = json_array_get(json_object_get(g, "checks"), 0);
    assert_string_equal(json_string_value(json_object_get(b, "path")), "::g::b");
    assert_int_equal(num(b, "passes"), 0);
    assert_int_equal(num(b, "fails"), 2);
    json_t *h = json_array_get(json_object_get(g, "groups"), 0);
    assert_string_equal(json_string_value(json_object_get(h, "name")), "h");
    assert_string_equal(json_string_value(json_object_get(h, "path")), "::g::h");
    json_t *hc = json_object_get(h, "checks");
    assert_int_equal(json_array_size(hc), 1);   /* "a" twice: one check */
    json_t *a = json_array_get(hc, 0);
    assert_string_equal(json_string_value(json_object_get(a, "path")), "::g::h::a");
    assert_int_equal(num(a, "passes"), 5);
    assert_int_equal(num(a, "fails"), 1);
    /* md5("::g::h::a"), as k6 computes a check's id */
    assert_string_equal(json_string_value(json_object_get(a, "id")), "f856953970f544c5a076b21c6e2c3a91");
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trend_stats_as_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_stats_and_other_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_tree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
