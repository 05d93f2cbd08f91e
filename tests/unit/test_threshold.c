#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "threshold.h"

#define EXPECTED_FORM "expected \"<aggregation> <operator> <number>\""

static const struct {
    const char *src;
    th_agg agg;
    double pct;
    th_op op;
    double target;
} accepts[] = {
    { "avg<200", TH_AGG_AVG, 0, TH_OP_LT, 200 },
    { "min>=1", TH_AGG_MIN, 0, TH_OP_GE, 1 },
    { "max<=3000", TH_AGG_MAX, 0, TH_OP_LE, 3000 },
    { "med>10", TH_AGG_MED, 0, TH_OP_GT, 10 },
    { "p(95)<500", TH_AGG_PCT, 95, TH_OP_LT, 500 },
    { "p(99.9)<1000", TH_AGG_PCT, 99.9, TH_OP_LT, 1000 },
    { "p(99.99)<=1.5", TH_AGG_PCT, 99.99, TH_OP_LE, 1.5 },
    { "p(0)>0", TH_AGG_PCT, 0, TH_OP_GT, 0 },
    { "p(100)<5", TH_AGG_PCT, 100, TH_OP_LT, 5 },
    { "rate<0.01", TH_AGG_RATE, 0, TH_OP_LT, 0.01 },
    { "count==10", TH_AGG_COUNT, 0, TH_OP_EQ, 10 },
    { "count===10", TH_AGG_COUNT, 0, TH_OP_EQ, 10 },
    { "value!=0", TH_AGG_VALUE, 0, TH_OP_NE, 0 },
    { "p(95) < 500", TH_AGG_PCT, 95, TH_OP_LT, 500 },
    { "  rate > 0.9  ", TH_AGG_RATE, 0, TH_OP_GT, 0.9 },
    { "\tavg\t<=\t2\t", TH_AGG_AVG, 0, TH_OP_LE, 2 },
    { "rate >=0.95", TH_AGG_RATE, 0, TH_OP_GE, 0.95 },
    { "count=== 3", TH_AGG_COUNT, 0, TH_OP_EQ, 3 },
    { "avg<007.50", TH_AGG_AVG, 0, TH_OP_LT, 7.5 },
    { "avg<1234567.891011", TH_AGG_AVG, 0, TH_OP_LT, 1234567.891011 },
    { "count<100000000000000000000", TH_AGG_COUNT, 0, TH_OP_LT, 1e20 },
};

static const char *const rejects[] = {
    "", "   ", "p(95)", "<500", "p(95)<", "p(101)<5", "p(-1)<5", "p(abc)<5",
    "p()<5", "p(95<5", "p95)<5", "p( 95)<5", "P(95)<5", "p(1e2)<5", "p(95.)<5",
    "avg<500ms", "avg<500 ms", "avg<500x", "avg<5 5", "avg<-1", "avg<+1", "avg<.5",
    "avg<5.", "avg<1.2.3", "avg<1e3", "avg<inf", "avg<nan", "avg<<5", "avg=<5",
    "avg=5", "avg!5", "avg<>5", "avg====5", "AVG<5", "average<5", "avg 1<5",
    "mean<5", "avg<5;", "p(95)<500 and", "p(100.0001)<5",
};

static void test_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepts / sizeof accepts[0]; i++) {
        th_expr e;
        char err[256] = "";
        if (th_parse(accepts[i].src, &e, err, sizeof err) != 0)
            fail_msg("\"%s\": %s", accepts[i].src, err);
        assert_int_equal(e.agg, accepts[i].agg);
        assert_int_equal(e.op, accepts[i].op);
        assert_true(e.target == accepts[i].target);   /* correctly rounded */
        if (e.agg == TH_AGG_PCT)
            assert_true(e.pct == accepts[i].pct);
    }
}

static void test_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        th_expr e = { .agg = TH_AGG_AVG, .op = TH_OP_LT, .target = 42 };
        char err[256] = "";
        if (th_parse(rejects[i], &e, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted", rejects[i]);
        assert_non_null(strstr(err, EXPECTED_FORM));
        assert_non_null(strstr(err, "such as \"p(95)<500\" or \"rate<0.01\""));
        assert_true(e.target == 42);   /* untouched on failure */
    }
}

/* Beyond k6: targets relative to a baseline run (--baseline). */
static void test_baseline_targets(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        double factor, add;
    } ok[] = {
        {"p(95)<baseline", 1, 0},          {"p(95) < baseline*1.1", 1.1, 0},
        {"avg<=baseline + 10%", 1.1, 0},   {"rate<baseline+0.01", 1, 0.01},
        {"p(99)<baseline * 2", 2, 0},      {"count>=baseline*0.9", 0.9, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        th_expr e;
        char err[512] = "";
        if (th_parse(ok[i].src, &e, err, sizeof err) != 0)
            fail_msg("\"%s\": %s", ok[i].src, err);
        assert_true(e.relative);
        assert_true(fabs(e.factor - ok[i].factor) < 1e-12);
        assert_true(e.add == ok[i].add);
        assert_true(isnan(e.target));            /* nothing to judge yet */
        assert_int_equal(e.baseline_state, TH_BASELINE_NONE);
        assert_false(th_holds(&e, 0));
        th_set_baseline(&e, 100);
        assert_int_equal(e.baseline_state, TH_BASELINE_SET);
        assert_true(fabs(e.target - (100 * ok[i].factor + ok[i].add)) < 1e-9);
        th_set_baseline(&e, NAN);                /* the baseline has no data for it */
        assert_int_equal(e.baseline_state, TH_BASELINE_MISSING);
    }
    th_expr e;
    assert_int_equal(th_parse("p(95)<500", &e, NULL, 0), 0);
    assert_false(e.relative);
    th_set_baseline(&e, 1);                      /* absolute targets stay */
    assert_true(e.target == 500);
    static const char *const bad[] = {"p(95)<baseline*", "p(95)<baseline*10%", "p(95)<baseline-5",
                                      "p(95)<baseline+x", "p(95)<baselines", "p(95)<baseline 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        if (th_parse(bad[i], &e, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(err, "baseline*1.1"));
    }
}

static void test_error_messages(void **state)
{
    (void)state;
    th_expr e;
    char err[256];
    assert_int_equal(th_parse("p(101)<5", &e, err, sizeof err), -1);
    assert_string_equal(err, "expected \"<aggregation> <operator> <number>\" such as "
                             "\"p(95)<500\" or \"rate<0.01\"; got \"p(101)<5\" "
                             "(the percentile in p(N) must be within [0,100])");
    th_parse("avg<500ms", &e, err, sizeof err);
    assert_non_null(strstr(err, "got \"avg<500ms\""));
    assert_non_null(strstr(err, "non-negative number"));
    th_parse("mean<5", &e, err, sizeof err);
    assert_non_null(strstr(err, "unknown aggregation"));
    th_parse("avg 5", &e, err, sizeof err);
    assert_non_null(strstr(err, "missing operator"));
    char tiny[6];
    assert_int_equal(th_parse("x", &e, tiny, sizeof tiny), -1);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(th_parse("x", &e, NULL, 0), -1);
    assert_int_equal(th_parse(NULL, &e, err, sizeof err), -1);
}

static void test_agg_allowed(void **state)
{
    (void)state;
    static const th_agg all[] = { TH_AGG_AVG,  TH_AGG_MIN,   TH_AGG_MAX,   TH_AGG_MED,
                                  TH_AGG_PCT,  TH_AGG_RATE,  TH_AGG_COUNT, TH_AGG_VALUE };
    /* Rows: counter, gauge, rate, trend; columns follow `all`. */
    static const bool table[4][8] = {
        { 0, 0, 0, 0, 0, 1, 1, 0 },
        { 0, 0, 0, 0, 0, 0, 0, 1 },
        { 0, 0, 0, 0, 0, 1, 0, 0 },
        { 1, 1, 1, 1, 1, 0, 0, 0 },
    };
    static const volley_metric_type types[] = { VOLLEY_METRIC_COUNTER, VOLLEY_METRIC_GAUGE,
                                                VOLLEY_METRIC_RATE, VOLLEY_METRIC_TREND };
    for (size_t t = 0; t < 4; t++)
        for (size_t a = 0; a < 8; a++)
            if (th_agg_allowed(all[a], types[t]) != table[t][a])
                fail_msg("type %d agg %d: want %d", types[t], all[a], table[t][a]);
    assert_false(th_agg_allowed(TH_AGG_AVG, (volley_metric_type)0));
    assert_string_equal(th_aggs_for(VOLLEY_METRIC_COUNTER), "count, rate");
    assert_string_equal(th_aggs_for(VOLLEY_METRIC_GAUGE), "value");
    assert_string_equal(th_aggs_for(VOLLEY_METRIC_RATE), "rate");
    assert_string_equal(th_aggs_for(VOLLEY_METRIC_TREND), "avg, min, max, med, p(N)");
    assert_string_equal(th_aggs_for((volley_metric_type)99), "");
}

static bool holds(const char *src, double lhs)
{
    th_expr e;
    assert_int_equal(th_parse(src, &e, NULL, 0), 0);
    return th_holds(&e, lhs);
}

static void test_holds(void **state)
{
    (void)state;
    assert_true(holds("avg<5", 4.99));
    assert_false(holds("avg<5", 5));
    assert_true(holds("avg<=5", 5));
    assert_false(holds("avg<=5", 5.01));
    assert_true(holds("avg>5", 5.01));
    assert_false(holds("avg>5", 5));
    assert_true(holds("avg>=5", 5));
    assert_false(holds("avg>=5", 4.99));
    assert_true(holds("count==3", 3));
    assert_false(holds("count==3", 4));
    assert_true(holds("count===3", 3));
    assert_true(holds("count!=3", 4));
    assert_false(holds("count!=3", 3));
    assert_true(holds("rate<0.01", 0.009));
    assert_false(holds("rate<0.01", 0.01));
    assert_true(holds("value==0.1", 0.1));   /* same double as the literal */
    /* Beyond 2^53 digits the value is approximate but close. */
    th_expr e;
    assert_int_equal(th_parse("avg<123456789.123456789123", &e, NULL, 0), 0);
    assert_true(fabs(e.target - 123456789.123456789123) < 1e-7);
    assert_false(holds("avg<5", NAN));
    assert_false(holds("avg>=5", NAN));
    assert_true(holds("avg!=5", NAN));
}

static void test_metric_key_plain(void **state)
{
    (void)state;
    th_metric_key k;
    char err[256] = "";
    assert_int_equal(th_parse_metric_key("http_req_duration", &k, err, sizeof err), 0);
    assert_string_equal(k.name, "http_req_duration");
    assert_int_equal(k.n_filters, 0);
    th_key_free(&k);
    assert_null(k.name);
    assert_int_equal(th_parse_metric_key("  my metric  ", &k, err, sizeof err), 0);
    assert_string_equal(k.name, "my metric");
    th_key_free(&k);
}

static void test_metric_key_filters(void **state)
{
    (void)state;
    th_metric_key k;
    char err[256] = "";
    assert_int_equal(th_parse_metric_key("http_req_duration{status:200, method:GET}", &k,
                                         err, sizeof err), 0);
    assert_string_equal(k.name, "http_req_duration");
    assert_int_equal(k.n_filters, 2);
    assert_string_equal(k.filters[0].key, "status");
    assert_string_equal(k.filters[0].value, "200");
    assert_string_equal(k.filters[1].key, "method");
    assert_string_equal(k.filters[1].value, "GET");
    th_key_free(&k);

    assert_int_equal(th_parse_metric_key("group_duration{group:::outer}", &k, err,
                                         sizeof err), 0);
    assert_string_equal(k.name, "group_duration");
    assert_int_equal(k.n_filters, 1);
    assert_string_equal(k.filters[0].key, "group");
    assert_string_equal(k.filters[0].value, "::outer");
    th_key_free(&k);

    assert_int_equal(th_parse_metric_key(" checks { myTag : hola mundo } ", &k, err,
                                         sizeof err), -1);   /* text after '}' */
    assert_int_equal(th_parse_metric_key(" checks { myTag : hola mundo }", &k, err,
                                         sizeof err), 0);
    assert_string_equal(k.name, "checks");
    assert_string_equal(k.filters[0].key, "myTag");
    assert_string_equal(k.filters[0].value, "hola mundo");
    th_key_free(&k);

    assert_int_equal(th_parse_metric_key("m{url:http://x:8080/a?b=c}", &k, err,
                                         sizeof err), 0);
    assert_string_equal(k.filters[0].value, "http://x:8080/a?b=c");
    th_key_free(&k);
    th_key_free(&k);   /* freeing twice is harmless after the reset */
}

static void test_metric_key_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        const char *why;
    } bad[] = {
        { "", "empty metric name" },
        { "   ", "empty metric name" },
        { "{status:200}", "empty metric name" },
        { "m{status:200", "unbalanced braces" },
        { "mstatus:200}", "unbalanced braces" },
        { "m}status:200{", "unbalanced braces" },
        { "m{a{b:c}}", "unbalanced braces" },
        { "m{a:b}}", "unbalanced braces" },
        { "m{status:200}x", "nothing may follow" },
        { "m{status}", "tag:value" },
        { "m{status:200,method}", "tag:value" },
        { "m{:200}", "empty tag name" },
        { "m{ :200}", "empty tag name" },
        { "m{status:}", "empty tag value" },
        { "m{}", "empty filter" },
        { "m{a:b,}", "empty filter" },
        { "m{,a:b}", "empty filter" },
        { "m{a:b,,c:d}", "empty filter" },
        { "m{a:b,a:c}", "appears twice" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        th_metric_key k;
        char err[256] = "";
        if (th_parse_metric_key(bad[i].key, &k, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted", bad[i].key);
        if (!strstr(err, bad[i].why) || !strstr(err, "expected a metric name"))
            fail_msg("\"%s\": unexpected message: %s", bad[i].key, err);
        assert_null(k.name);   /* nothing left to free */
        assert_null(k.filters);
        assert_int_equal(k.n_filters, 0);
    }
    th_metric_key k;
    assert_int_equal(th_parse_metric_key(NULL, &k, NULL, 0), -1);
}

/* The aggregation as written, for the summary's verdicts. */
static void test_agg_label(void **state)
{
    (void)state;
    static const struct {
        const char *src, *label;
    } cases[] = {{"p(95)<1", "p(95)"}, {"p(99.9)<1", "p(99.9)"}, {"avg<1", "avg"},
                 {"med<1", "med"}, {"rate<1", "rate"}, {"count<1", "count"},
                 {"value<1", "value"}, {"min>1", "min"}, {"max>1", "max"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        th_expr e;
        char err[256], label[32];
        assert_int_equal(th_parse(cases[i].src, &e, err, sizeof err), 0);
        th_agg_label(&e, label, sizeof label);
        assert_string_equal(label, cases[i].label);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_baseline_targets),
        cmocka_unit_test(test_agg_allowed),
        cmocka_unit_test(test_holds),
        cmocka_unit_test(test_metric_key_plain),
        cmocka_unit_test(test_metric_key_filters),
        cmocka_unit_test(test_metric_key_malformed),
        cmocka_unit_test(test_agg_label),
    };
    return cmocka_run_group_tests_name("threshold", tests, NULL, NULL);
}
