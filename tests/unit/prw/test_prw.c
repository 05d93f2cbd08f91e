/*
 * prometheus-rw's pure parts (plugins/prometheus-rw): k6's names, the
 * trend stats, label names, and the encoder's round trip: a table of
 * series encoded as a push body, then read back with snappy and
 * protobuf-c's own decoder, field by field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "prw_int.h"
#include "remote.pb-c.h"

static void test_series_names(void **state)
{
    (void)state;
    char b[128];
    prw_series_name(b, sizeof b, "k6_", "http_reqs", VOLLEY_METRIC_COUNTER, NULL);
    assert_string_equal(b, "k6_http_reqs_total");
    prw_series_name(b, sizeof b, "k6_", "checks", VOLLEY_METRIC_RATE, NULL);
    assert_string_equal(b, "k6_checks_rate");
    prw_series_name(b, sizeof b, "k6_", "vus", VOLLEY_METRIC_GAUGE, NULL);
    assert_string_equal(b, "k6_vus");
    prw_series_name(b, sizeof b, "k6_", "http_req_duration", VOLLEY_METRIC_TREND, "p99");
    assert_string_equal(b, "k6_http_req_duration_p99");
    prw_series_name(b, sizeof b, "", "my-metric.x", VOLLEY_METRIC_GAUGE, NULL);
    assert_string_equal(b, "my_metric_x");
    assert_int_equal(prw_series_name(b, 4, "k6_", "vus", VOLLEY_METRIC_GAUGE, NULL), 6);
    assert_string_equal(b, "k6_");
    prw_label_name(b, sizeof b, "tx-id");
    assert_string_equal(b, "tx_id");
    prw_label_name(b, sizeof b, "9th");
    assert_string_equal(b, "_9th");
    prw_label_name(b, sizeof b, "a:b");   /* ':' only in metric names */
    assert_string_equal(b, "a_b");
}

static void test_trend_stats(void **state)
{
    (void)state;
    prw_stat st;
    char err[256];
    static const char *const in[][2] = {{"p(99)", "p99"}, {"p(99.9)", "p999"}, {"p(0.95)", "p095"},
                                        {"p(100)", "p100"}, {"avg", "avg"},     {"med", "med"},
                                        {"count", "count"}, {"sum", "sum"}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        assert_int_equal(prw_stat_parse(in[i][0], &st, err, sizeof err), 0);
        assert_string_equal(st.suffix, in[i][1]);
    }
    assert_int_equal(prw_stat_parse("p(99.9)", &st, err, sizeof err), 0);
    assert_int_equal(st.kind, PRW_STAT_PCT);
    assert_true(st.pct == 99.9);
    static const char *const bad[] = {"p99", "p()", "p(101)", "p(-1)", "p(9x)", "p(1e2)", "mean", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(prw_stat_parse(bad[i], &st, err, sizeof err), -1);
        assert_non_null(strstr(err, "trend_stats: "));
    }
}

/* ---- a table on a mock host ---- */

static const volley_metric_info metrics[] = {
    {.name = "http_reqs", .type = VOLLEY_METRIC_COUNTER},
    {.name = "http_req_duration", .type = VOLLEY_METRIC_TREND, .contains = VOLLEY_CONTAINS_TIME},
    {.name = "checks", .type = VOLLEY_METRIC_RATE},
    {.name = "vus", .type = VOLLEY_METRIC_GAUGE},
};

static const volley_metric_info *mock_metric_info(volley_core *core, uint32_t id)
{
    (void)core;
    return id < sizeof metrics / sizeof metrics[0] ? &metrics[id] : NULL;
}

static const volley_host host = {.size = sizeof(volley_host), .metric_info = mock_metric_info};

static const volley_tag tags_a[] = {{"group", ""}, {"name", "login"}, {"scenario", "main"}, {"status", "200"}};
static const volley_tag tags_b[] = {{"group", ""}, {"name", "login"}, {"scenario", "main"}, {"status", "200"}};
static const volley_tag tags_c[] = {{"Zone", "eu"}, {"name", "pay"}, {"tx-id", "7"}};
static const volley_tagset set_a = {4, tags_a}, set_b = {4, tags_b}, set_c = {3, tags_c}, none = {0, NULL};

static const char *label(const Prometheus__TimeSeries *ts, const char *name)
{
    for (size_t i = 0; i < ts->n_labels; i++)
        if (strcmp(ts->labels[i]->name, name) == 0)
            return ts->labels[i]->value;
    return NULL;
}

static const Prometheus__TimeSeries *find(const Prometheus__WriteRequest *r, const char *name,
                                          const char *key, const char *value)
{
    for (size_t i = 0; i < r->n_timeseries; i++) {
        const char *n = label(r->timeseries[i], "__name__"), *v = label(r->timeseries[i], key);
        if (n && strcmp(n, name) == 0 && v && strcmp(v, value) == 0)
            return r->timeseries[i];
    }
    return NULL;
}

static Prometheus__WriteRequest *decode(const prw_buf *b)
{
    size_t n = 0;
    assert_int_equal(snappy_uncompressed_length((const char *)b->data, b->len, &n), SNAPPY_OK);
    char *raw = malloc(n ? n : 1);
    assert_int_equal(snappy_uncompress((const char *)b->data, b->len, raw, &n), SNAPPY_OK);
    Prometheus__WriteRequest *r = prometheus__write_request__unpack(NULL, n, (const uint8_t *)raw);
    free(raw);
    assert_non_null(r);
    return r;
}

static void add(prw_table *t, uint32_t metric, const volley_tagset *ts, int64_t ms, double v)
{
    volley_sample x = {.metric = metric, .tags = ts, .time_unix_ns = ms * 1000000, .value = v};
    assert_int_equal(prw_table_add(t, &x), 0);
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    prw_stat stats[3];
    char err[128];
    assert_int_equal(prw_stat_parse("p(99)", &stats[0], err, sizeof err), 0);
    assert_int_equal(prw_stat_parse("max", &stats[1], err, sizeof err), 0);
    assert_int_equal(prw_stat_parse("count", &stats[2], err, sizeof err), 0);
    prw_table t;
    prw_table_init(&t, &host, NULL, "k6_", stats, 3);
    /* two workers' pointers for one tag set: one series */
    add(&t, 0, &set_a, 1000, 1);
    add(&t, 0, &set_b, 1002, 1);
    add(&t, 0, &set_c, 1001, 1);
    for (int i = 1; i <= 100; i++)
        add(&t, 1, &set_a, 1000 + i, i);   /* 1..100 ms */
    add(&t, 2, &set_c, 1000, 1);
    add(&t, 2, &set_c, 1000, 0);
    add(&t, 2, &set_c, 1000, 1);
    add(&t, 3, &none, 1005, 7);
    add(&t, 3, &none, 1003, 9);            /* older: not the gauge's value */
    add(&t, 99, &none, 1000, 1);           /* a metric the core does not know: left out */

    prw_buf b = {0};
    size_t n = 0;
    assert_int_equal(prw_encode_changed(&t, &b, &n), 0);
    assert_int_equal(n, 2 + 3 + 1 + 1);
    Prometheus__WriteRequest *r = decode(&b);
    assert_int_equal(r->n_timeseries, n);
    const Prometheus__TimeSeries *reqs = find(r, "k6_http_reqs_total", "name", "login");
    assert_non_null(reqs);
    /* sorted labels, empty group left out, __name__ among them */
    assert_int_equal(reqs->n_labels, 4);
    static const char *const order[] = {"__name__", "name", "scenario", "status"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(reqs->labels[i]->name, order[i]);
    assert_int_equal(reqs->n_samples, 1);
    assert_true(reqs->samples[0]->value == 2);
    assert_int_equal(reqs->samples[0]->timestamp, 1002);
    const Prometheus__TimeSeries *pay = find(r, "k6_http_reqs_total", "name", "pay");
    assert_non_null(pay);
    /* label names made Prometheus' ('Z' sorts before "__name__") */
    assert_string_equal(pay->labels[0]->name, "Zone");
    assert_string_equal(pay->labels[1]->name, "__name__");
    assert_string_equal(label(pay, "tx_id"), "7");
    /* a trend: one gauge per stat, seconds (count as is), k6's p99 */
    const Prometheus__TimeSeries *p99 = find(r, "k6_http_req_duration_p99", "name", "login");
    const Prometheus__TimeSeries *mx = find(r, "k6_http_req_duration_max", "name", "login");
    const Prometheus__TimeSeries *cnt = find(r, "k6_http_req_duration_count", "name", "login");
    assert_non_null(p99);
    assert_non_null(mx);
    assert_non_null(cnt);
    assert_float_equal(p99->samples[0]->value, (99.0 + 0.01 * 1) / 1000.0, 1e-12);   /* 99.01 ms */
    assert_float_equal(mx->samples[0]->value, 0.1, 1e-12);
    assert_float_equal(cnt->samples[0]->value, 100, 0);
    assert_int_equal(p99->samples[0]->timestamp, 1100);
    const Prometheus__TimeSeries *rate = find(r, "k6_checks_rate", "name", "pay");
    assert_non_null(rate);
    assert_float_equal(rate->samples[0]->value, 2.0 / 3.0, 1e-12);
    int found_vus = 0;
    for (size_t i = 0; i < r->n_timeseries; i++) {
        const Prometheus__TimeSeries *ts = r->timeseries[i];
        if (strcmp(label(ts, "__name__"), "k6_vus") == 0) {
            found_vus++;
            assert_int_equal(ts->n_labels, 1);
            assert_float_equal(ts->samples[0]->value, 7, 0);
            assert_int_equal(ts->samples[0]->timestamp, 1005);
        }
    }
    assert_int_equal(found_vus, 1);
    prometheus__write_request__free_unpacked(r, NULL);

    /* nothing changed: nothing to push */
    assert_int_equal(prw_encode_changed(&t, &b, &n), 0);
    assert_int_equal(n, 0);
    /* a late sample (older than the last push): pushed just after it,
     * with the cumulative value */
    add(&t, 0, &set_b, 900, 1);
    assert_int_equal(prw_encode_changed(&t, &b, &n), 0);
    assert_int_equal(n, 1);
    r = decode(&b);
    assert_float_equal(r->timeseries[0]->samples[0]->value, 3, 0);
    assert_int_equal(r->timeseries[0]->samples[0]->timestamp, 1003);
    prometheus__write_request__free_unpacked(r, NULL);
    prw_buf_free(&b);
    prw_table_free(&t);
}

/* Past PRW_EXACT_MAX values a trend's percentiles come from the
 * histogram: within its 0.2% bound of the exact ones. */
/* Native histogram buckets: schema 3's bounds, and spans and deltas of
 * counts with a gap, read back through protobuf-c. */
static void test_native_histogram(void **state)
{
    (void)state;
    assert_int_equal(prw_nh_index(1.0), 0);
    assert_int_equal(prw_nh_index(2.0), 8);
    assert_int_equal(prw_nh_index(0.5), -8);
    assert_int_equal(prw_nh_index(1.01), 1);
    assert_int_equal(prw_nh_index(prw_nh_upper(1)), 1);        /* the bound is in its bucket */
    assert_int_equal(prw_nh_index(prw_nh_upper(1) * 1.0000001), 2);
    assert_int_equal(prw_nh_index(0.0123), (int)ceil(log2(0.0123) * 8));
    prw_nhist h = {0};
    /* buckets 0 (x2), 1 (x1), then 8 (x3); one negative; one zero */
    double vals[] = {1.0, 0.95, 1.05, 2.0, 1.9, 1.95, -1.0, 0.0};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        assert_int_equal(prw_nh_add(&h, vals[i]), 0);
    Prometheus__Histogram e;
    assert_int_equal(prw_nh_encode(&h, 8, 6.85, 1234, &e), 0);
    uint8_t buf[512];
    size_t n = prometheus__histogram__pack(&e, buf);
    prw_nh_encoded_free(&e);
    prw_nh_free(&h);
    Prometheus__Histogram *d = prometheus__histogram__unpack(NULL, n, buf);
    assert_non_null(d);
    assert_int_equal(d->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT);
    assert_int_equal(d->count_int, 8);
    assert_int_equal(d->zero_count_int, 1);
    assert_int_equal(d->schema, 3);
    assert_int_equal(d->timestamp, 1234);
    assert_int_equal(d->n_positive_spans, 2);
    assert_int_equal(d->positive_spans[0]->offset, 0);
    assert_int_equal(d->positive_spans[0]->length, 2);
    assert_int_equal(d->positive_spans[1]->offset, 6);   /* buckets 2..7 empty */
    assert_int_equal(d->positive_spans[1]->length, 1);
    assert_int_equal(d->n_positive_deltas, 3);
    assert_int_equal(d->positive_deltas[0], 2);
    assert_int_equal(d->positive_deltas[1], -1);
    assert_int_equal(d->positive_deltas[2], 2);
    assert_int_equal(d->n_negative_spans, 1);
    assert_int_equal(d->negative_spans[0]->offset, 0);
    assert_int_equal(d->negative_deltas[0], 1);
    prometheus__histogram__free_unpacked(d, NULL);
}

static void test_trend_past_exact(void **state)
{
    (void)state;
    prw_stat st;
    char err[64];
    assert_int_equal(prw_stat_parse("p(90)", &st, err, sizeof err), 0);
    prw_table t;
    prw_table_init(&t, &host, NULL, "k6_", &st, 1);
    for (int i = 1; i <= 10000; i++)
        add(&t, 1, &set_a, 1000, i / 10.0);   /* 0.1 .. 1000 ms */
    assert_int_equal(t.n, 1);
    assert_null(t.s[0]->exact);
    double v = prw_series_value(t.s[0], &st);
    assert_float_equal(v, 0.9, 0.9 * 0.002 + 1e-6);
    prw_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_names),
        cmocka_unit_test(test_trend_stats),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_trend_past_exact),
        cmocka_unit_test(test_native_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
