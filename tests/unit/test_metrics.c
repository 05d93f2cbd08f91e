#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "tag_intern.h"

/* ------------------------------------------------------------------ */
/* fixture: a registry with one metric of each type                    */

typedef struct fx {
    metrics_reg reg;
    int reqs;       /* counter */
    int dur;        /* trend   */
    int failed;     /* rate    */
    int vus;        /* gauge   */
} fx;

static int reg_or_fail(metrics_reg *r, const char *name, volley_metric_type t,
                       volley_metric_contains c)
{
    char err[256] = "";
    int id = metrics_register(r, name, t, c, err, sizeof err);
    if (id < 0)
        fail_msg("register %s: %s", name, err);
    return id;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    metrics_reg_init(&f->reg);
    f->reqs = reg_or_fail(&f->reg, "http_reqs", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    f->dur = reg_or_fail(&f->reg, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    f->failed = reg_or_fail(&f->reg, "http_req_failed", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT);
    f->vus = reg_or_fail(&f->reg, "vus", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    metrics_reg_free(&f->reg);
    free(f);
    return 0;
}

static int series_ok(fx *f, const char *key)
{
    char err[512] = "";
    int id = metrics_series_for_key(&f->reg, key, err, sizeof err);
    if (id < 0)
        fail_msg("series_for_key %s: %s", key, err);
    return id;
}

static void series_fails(fx *f, const char *key, const char *msg)
{
    char err[512] = "";
    size_t before = f->reg.n_series;
    assert_int_equal(metrics_series_for_key(&f->reg, key, err, sizeof err), -1);
    assert_string_equal(err, msg);
    assert_int_equal(f->reg.n_series, before);
}

/* ------------------------------------------------------------------ */
/* registry                                                            */

static void test_register(void **state)
{
    fx *f = *state;
    char err[256] = "";
    assert_int_equal(f->reqs, 0);
    assert_int_equal(f->vus, 3);
    assert_int_equal(f->reg.n_metrics, 4);
    /* Every metric gets its own series, named like it. */
    assert_int_equal(f->reg.n_series, 4);
    assert_int_equal(f->reg.metrics[f->dur].series, 1);
    assert_string_equal(f->reg.series[1].name, "http_req_duration");
    assert_int_equal(f->reg.series[1].n_filters, 0);
    assert_int_equal(f->reg.metrics[f->dur].info.contains, VOLLEY_CONTAINS_TIME);

    /* Same name, same type: the existing id (plugins register at create). */
    assert_int_equal(metrics_register(&f->reg, "http_req_duration", VOLLEY_METRIC_TREND,
                                      VOLLEY_CONTAINS_TIME, err, sizeof err), f->dur);
    assert_int_equal(f->reg.n_metrics, 4);
    /* Same name, another type: an error naming both. */
    assert_int_equal(metrics_register(&f->reg, "http_reqs", VOLLEY_METRIC_TREND,
                                      VOLLEY_CONTAINS_DEFAULT, err, sizeof err), -1);
    assert_string_equal(err, "metric http_reqs is already a counter, not a trend");
    assert_int_equal(metrics_register(&f->reg, "", VOLLEY_METRIC_RATE,
                                      VOLLEY_CONTAINS_DEFAULT, err, sizeof err), -1);
    assert_string_equal(err, "invalid metric type or empty name");
    assert_int_equal(metrics_register(&f->reg, "x", (volley_metric_type)9,
                                      VOLLEY_CONTAINS_DEFAULT, err, sizeof err), -1);
    assert_int_equal(f->reg.n_metrics, 4);

    assert_int_equal(metrics_find(&f->reg, "http_req_failed"), f->failed);
    assert_int_equal(metrics_find(&f->reg, "http_req_faile"), -1);

    /* Once frozen, known names still resolve; new ones are refused. */
    f->reg.frozen = true;
    assert_int_equal(metrics_register(&f->reg, "vus", VOLLEY_METRIC_GAUGE,
                                      VOLLEY_CONTAINS_DEFAULT, err, sizeof err), f->vus);
    assert_int_equal(metrics_register(&f->reg, "late", VOLLEY_METRIC_GAUGE,
                                      VOLLEY_CONTAINS_DEFAULT, err, sizeof err), -1);
    assert_string_equal(err, "metric late registered after the run started");
}

static void test_register_many_grows(void **state)
{
    fx *f = *state;
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "custom_%d", i);
        assert_int_equal(reg_or_fail(&f->reg, name, VOLLEY_METRIC_COUNTER,
                                     VOLLEY_CONTAINS_DEFAULT), 4 + i);
    }
    assert_int_equal(metrics_find(&f->reg, "custom_99"), 103);
    assert_string_equal(f->reg.metrics[metrics_find(&f->reg, "custom_42")].info.name, "custom_42");
}

static void test_threshold_sources(void **state)
{
    fx *f = *state;
    assert_int_equal(metrics_add_threshold_source(&f->reg, (uint32_t)f->dur, "p(95)<500"), 0);
    assert_int_equal(metrics_add_threshold_source(&f->reg, (uint32_t)f->dur, "avg<200"), 0);
    const volley_metric_info *info = &f->reg.metrics[f->dur].info;
    assert_int_equal(info->n_thresholds, 2);
    assert_string_equal(info->thresholds[0], "p(95)<500");
    assert_string_equal(info->thresholds[1], "avg<200");
}

/* ------------------------------------------------------------------ */
/* series for keys                                                     */

static void test_series_for_key(void **state)
{
    fx *f = *state;
    /* A bare name is the metric's own series. */
    assert_int_equal(series_ok(f, "http_req_duration"), (int)f->reg.metrics[f->dur].series);
    assert_int_equal(f->reg.n_series, 4);

    int s200 = series_ok(f, "http_req_duration{status:200}");
    assert_int_equal(s200, 4);
    assert_int_equal(series_ok(f, "http_req_duration{status:200}"), s200);   /* reused */
    const series_def *sd = &f->reg.series[s200];
    assert_int_equal(sd->metric, f->dur);
    assert_string_equal(sd->name, "http_req_duration{status:200}");
    assert_int_equal(sd->n_filters, 1);
    assert_int_equal(sd->filters[0].key, TAG_STATUS);
    assert_string_equal(sd->filters[0].value, "200");
    assert_int_equal(sd->filters[0].int_value, 200);
    assert_false(sd->hidden);

    int exp_t = series_ok(f, "http_req_duration{expected_response:true}");
    int exp_f = series_ok(f, "http_req_failed{expected_response:false}");
    assert_int_equal(f->reg.series[exp_t].filters[0].int_value, 1);
    assert_int_equal(f->reg.series[exp_f].filters[0].int_value, 0);

    /* Group paths contain "::"; only the first ':' splits key and value. */
    int grp = series_ok(f, "http_req_duration{ group : ::outer::inner }");
    assert_int_equal(f->reg.series[grp].filters[0].key, TAG_GROUP);
    assert_string_equal(f->reg.series[grp].filters[0].value, "::outer::inner");

    int multi = series_ok(f, "http_reqs{method:GET,name:login,scenario:e2e}");
    assert_int_equal(f->reg.series[multi].n_filters, 3);

    /* The metric knows its sub-metrics. */
    const metric_def *m = &f->reg.metrics[f->dur];
    assert_int_equal(m->n_subs, 3);
    assert_int_equal(m->subs[0], s200);
    assert_int_equal(m->subs[1], exp_t);
    assert_int_equal(m->subs[2], grp);
    assert_int_equal(f->reg.metrics[f->reqs].n_subs, 1);
}

static void test_series_for_key_errors(void **state)
{
    fx *f = *state;
    series_fails(f, "http_req_duraton", "no metric named \"http_req_duraton\"");
    series_fails(f, "http_req_duration{stats:200}",
                 "unknown tag \"stats\" in sub-metric filter; known tags: name, method, url, status, "
                 "expected_response, check, error_code, scenario, group, tls_version, capture "
                 "(and --tag names and keys of steps' and scenarios' tags:)");
    series_fails(f, "http_req_duration{status:ok}", "status filter must be a number, got \"ok\"");
    series_fails(f, "http_req_duration{status:1000}", "status filter must be a number, got \"1000\"");
    series_fails(f, "http_req_duration{expected_response:yes}",
                 "expected_response filter must be true or false");
    series_fails(f, "http_req_duration{status:200",
                 "expected a metric name such as \"http_req_duration\" or "
                 "\"http_req_duration{status:200,method:GET}\"; got \"http_req_duration{status:200\" "
                 "(unbalanced braces)");
    /* A bad second filter leaves nothing behind (series_fails checks the
     * count; ASan checks the partial filters were freed). */
    series_fails(f, "http_req_duration{status:200,status2:1}",
                 "unknown tag \"status2\" in sub-metric filter; known tags: name, method, url, status, "
                 "expected_response, check, error_code, scenario, group, tls_version, capture "
                 "(and --tag names and keys of steps' and scenarios' tags:)");
    assert_int_equal(f->reg.metrics[f->dur].n_subs, 0);
}

/* A check item's hidden series is named "group::check name"; a sub-metric
 * key that happens to read the same must still get a series of its own
 * metric. */
static void test_hidden_series_not_reused(void **state)
{
    fx *f = *state;
    int hidden = metrics_add_hidden(&f->reg, (uint32_t)f->failed, "", "http_req_duration{status:200}");
    assert_string_equal(f->reg.series[hidden].name, "http_req_duration{status:200}");
    int grouped = metrics_add_hidden(&f->reg, (uint32_t)f->failed, "::g", "status: ok");
    assert_string_equal(f->reg.series[grouped].name, "::g::status: ok");
    assert_string_equal(f->reg.series[grouped].check_group, "::g");
    assert_string_equal(f->reg.series[grouped].check_name, "status: ok");
    assert_true(hidden >= 0);
    assert_true(f->reg.series[hidden].hidden);
    assert_int_equal(f->reg.metrics[f->failed].n_subs, 0);   /* not a sub-metric */
    int sub = series_ok(f, "http_req_duration{status:200}");
    assert_int_not_equal(sub, hidden);
    assert_int_equal(f->reg.series[sub].metric, f->dur);
    assert_false(f->reg.series[sub].hidden);
}

/* ------------------------------------------------------------------ */
/* matching                                                            */

static void test_series_matches(void **state)
{
    fx *f = *state;
    const series_def *s200 = &f->reg.series[series_ok(f, "http_req_duration{status:200}")];
    const series_def *s0 = &f->reg.series[series_ok(f, "http_req_duration{status:0}")];
    const series_def *exp_t = &f->reg.series[series_ok(f, "http_req_duration{expected_response:true}")];
    const series_def *exp_f = &f->reg.series[series_ok(f, "http_req_duration{expected_response:false}")];
    const series_def *grp = &f->reg.series[series_ok(f, "http_req_duration{group:::outer::inner}")];
    const series_def *both = &f->reg.series[series_ok(f, "http_req_duration{method:POST,scenario:e2e}")];
    const series_def *strs = &f->reg.series[series_ok(
        f, "http_req_duration{name:login,url:http://x/y,check:ok,error_code:1211}")];

    volley_tags t = VOLLEY_TAGS_INIT;
    t.status = 200;
    t.method = "POST";
    sample_tags st = {.t = &t, .scenario = "e2e", .group = "::outer::inner"};
    assert_true(series_matches(s200, &st));
    assert_true(series_matches(grp, &st));
    assert_true(series_matches(both, &st));
    assert_false(series_matches(exp_t, &st));   /* expected_response not set (-1) */
    assert_false(series_matches(exp_f, &st));
    t.expected_response = 1;
    assert_true(series_matches(exp_t, &st));
    assert_false(series_matches(exp_f, &st));
    t.expected_response = 0;
    assert_true(series_matches(exp_f, &st));

    t.status = 404;
    assert_false(series_matches(s200, &st));
    /* A transport error (status 0) is not "status:0" of a response. */
    t.status = 0;
    assert_false(series_matches(s0, &st));
    assert_false(series_matches(s200, &st));

    st.group = "::outer";
    assert_false(series_matches(grp, &st));
    st.scenario = "other";
    assert_false(series_matches(both, &st));
    st.scenario = "e2e";
    t.method = "GET";
    assert_false(series_matches(both, &st));

    /* Core samples without plugin tags never match a request tag. */
    sample_tags bare = {.t = NULL, .scenario = "e2e", .group = NULL};
    assert_false(series_matches(s200, &bare));
    assert_false(series_matches(exp_t, &bare));
    assert_false(series_matches(strs, &bare));

    volley_tags t2 = VOLLEY_TAGS_INIT;
    t2.name = "login";
    t2.url = "http://x/y";
    t2.check = "ok";
    t2.error_code = "1211";
    sample_tags st2 = {.t = &t2};
    assert_true(series_matches(strs, &st2));
    t2.error_code = NULL;
    assert_false(series_matches(strs, &st2));

    /* `captures{capture:NAME}`: the core's own tag of a capture's sample */
    const series_def *cap = &f->reg.series[series_ok(f, "http_req_duration{capture:tx_id}")];
    sample_tags sc = {.t = NULL, .scenario = "e2e", .capture = "tx_id"};
    assert_true(series_matches(cap, &sc));
    sc.capture = "other";
    assert_false(series_matches(cap, &sc));
    assert_false(series_matches(cap, &bare));

    /* The metric's own series has no filters: it matches everything. */
    assert_true(series_matches(&f->reg.series[f->reg.metrics[f->dur].series], &bare));
}

/* A filter on a key that is both a run tag (--tag) and a step's tag: the
 * step's value where the step has the key, else the run tag's. */
static void test_step_tag_wins_over_run_tag(void **state)
{
    fx *f = *state;
    char err[256] = "";
    const char *run[] = {"env=ci"};
    assert_int_equal(metrics_set_run_tags(&f->reg, run, 1, err, sizeof err), 0);
    assert_int_equal(metrics_add_step_tag_key(&f->reg, "env"), 0);
    const series_def *dev = &f->reg.series[series_ok(f, "http_reqs{env:dev}")];
    const series_def *ci = &f->reg.series[series_ok(f, "http_reqs{env:ci}")];
    volley_tag step_dev[] = {{.key = "env", .value = "dev"}};
    sample_tags with_tag = {.step = step_dev, .n_step = 1};
    sample_tags without = {0};
    assert_true(series_matches(dev, &with_tag));
    assert_false(series_matches(ci, &with_tag));
    assert_false(series_matches(dev, &without));
    assert_true(series_matches(ci, &without));

    /* A scenario's tag (the VU's) sits between the two: the step's wins
     * over it, it wins over the run's. */
    volley_tag vu_qa[] = {{.key = "env", .value = "qa"}};
    const series_def *qa = &f->reg.series[series_ok(f, "http_reqs{env:qa}")];
    sample_tags vu_only = {.vu = vu_qa, .n_vu = 1};
    sample_tags both = {.step = step_dev, .n_step = 1, .vu = vu_qa, .n_vu = 1};
    assert_true(series_matches(qa, &vu_only));
    assert_false(series_matches(ci, &vu_only));
    assert_true(series_matches(dev, &both));
    assert_false(series_matches(qa, &both));
}

/* The set outputs see: step over scenario (VU) over run tags, sorted,
 * built once per distinct set. */
static void test_tag_intern_layers(void **state)
{
    (void)state;
    volley_tag run[] = {{.key = "env", .value = "ci"}, {.key = "zone", .value = "eu"}};
    volley_tag step[] = {{.key = "env", .value = "dev"}};
    volley_tag vu[] = {{.key = "env", .value = "qa"}, {.key = "stage", .value = "1"},
                       {.key = "zone", .value = "us"}};
    tag_intern ti;
    tagi_init(&ti, run, 2);
    sample_tags st = {.scenario = "s", .group = "", .step = step, .n_step = 1, .vu = vu, .n_vu = 3};
    const volley_tagset *set = tagi_get(&ti, &st);
    assert_non_null(set);
    const char *want[][2] = {{"env", "dev"}, {"group", ""}, {"scenario", "s"}, {"stage", "1"},
                             {"zone", "us"}};
    assert_int_equal(set->n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(set->tags[i].key, want[i][0]);
        assert_string_equal(set->tags[i].value, want[i][1]);
    }
    assert_ptr_equal(tagi_get(&ti, &st), set);   /* interned */
    sample_tags other = st;
    other.n_vu = 0;
    const volley_tagset *o = tagi_get(&ti, &other);
    assert_ptr_not_equal(o, set);
    assert_int_equal(o->n, 4);
    assert_string_equal(o->tags[3].key, "zone");
    assert_string_equal(o->tags[3].value, "eu");
    tagi_free(&ti);
}

/* ------------------------------------------------------------------ */
/* recording and aggregates                                            */

static void test_record_into_matching_subs_only(void **state)
{
    fx *f = *state;
    int s200 = series_ok(f, "http_req_duration{status:200}");
    int s500 = series_ok(f, "http_req_duration{status:500}");
    int post = series_ok(f, "http_req_duration{method:POST}");
    int reqs_get = series_ok(f, "http_reqs{method:GET}");
    metrics_agg a;
    assert_int_equal(metrics_agg_init(&a, &f->reg), 0);
    assert_int_equal(a.n, f->reg.n_series);
    /* Only trend series carry a histogram. */
    assert_non_null(a.s[s200].hist);
    assert_null(a.s[reqs_get].hist);

    volley_tags t = VOLLEY_TAGS_INIT;
    t.status = 200;
    t.method = "GET";
    sample_tags st = {.t = &t, .scenario = "s"};
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 12.5, &st, 1);
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 7.5, &st, 2);
    t.status = 500;
    t.method = "POST";
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 100, &st, 3);

    uint32_t own = f->reg.metrics[f->dur].series;
    assert_int_equal(a.s[own].count, 3);
    assert_int_equal(a.s[s200].count, 2);
    assert_int_equal(a.s[s500].count, 1);
    assert_int_equal(a.s[post].count, 1);
    /* Other metrics' series are untouched. */
    assert_int_equal(a.s[reqs_get].count, 0);
    assert_int_equal(a.s[f->reg.metrics[f->reqs].series].count, 0);

    assert_true(agg_trend_stat(&a.s[s200], "avg") == 10.0);
    assert_true(agg_trend_stat(&a.s[s200], "min") == 7.5);
    assert_true(agg_trend_stat(&a.s[s200], "max") == 12.5);
    assert_true(agg_trend_stat(&a.s[own], "max") == 100.0);
    assert_true(agg_trend_stat(&a.s[s500], "med") == 100.0);
    assert_true(isnan(agg_trend_stat(&a.s[own], "p95")));
    assert_true(agg_trend_stat(&a.s[reqs_get], "avg") == 0);   /* no histogram */

    metrics_agg_clear(&a);
    for (size_t i = 0; i < a.n; i++)
        assert_int_equal(a.s[i].count, 0);
    assert_non_null(a.s[s200].hist);
    assert_int_equal(a.s[s200].hist->total, 0);
    assert_true(agg_trend_stat(&a.s[s200], "avg") == 0);
    metrics_agg_free(&a);
    assert_null(a.s);
    metrics_agg_free(&a);   /* twice is harmless */
}

/* Stage copies: a ramping scenario's samples also go to the copies of the
 * current stage (by the sample's time; the cursor moves on, the last stage
 * keeps what comes after the end), only for the series they match, and
 * merge like the series; nothing else sees them. */
static void test_stage_copies(void **state)
{
    fx *f = *state;
    int s500 = series_ok(f, "http_req_duration{status:500}");
    int other = series_ok(f, "http_req_duration{scenario:other}");
    uint32_t own = f->reg.metrics[f->dur].series, reqs = f->reg.metrics[f->reqs].series;
    size_t n_series = f->reg.n_series;
    const int64_t dur[] = {100, 200, 100};
    const uint32_t want[] = {own, reqs, (uint32_t)s500, own};   /* a duplicate: one copy */
    assert_int_equal(metrics_add_stage_track(&f->reg, 1, 2, dur, 3, want, 4), 0);
    assert_null(metrics_stage_track(&f->reg, 0));
    const stage_track *t = metrics_stage_track(&f->reg, 1);
    assert_non_null(t);
    assert_int_equal(t->n_mirror, 3);
    assert_int_equal(f->reg.n_series, n_series);            /* no new series */
    assert_int_equal(f->reg.n_stage_slots, 9);
    assert_int_equal(stage_track_slot(t, 0, (uint32_t)other), -1);
    assert_int_equal(stage_track_slot(t, 3, own), -1);
    long d0 = stage_track_slot(t, 0, own), d1 = stage_track_slot(t, 1, own);
    long d2 = stage_track_slot(t, 2, own), e2 = stage_track_slot(t, 2, (uint32_t)s500);
    long r0 = stage_track_slot(t, 0, reqs), r2 = stage_track_slot(t, 2, reqs);
    assert_true(d0 >= (long)n_series && d1 > d0 && d2 > d1);

    metrics_agg a, g;
    assert_int_equal(metrics_agg_init(&a, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&g, &f->reg), 0);
    assert_int_equal(a.n, n_series + 9);
    assert_non_null(a.s[d1].hist);          /* a trend copy is a trend */
    assert_null(a.s[r0].hist);

    stage_pos pos;
    stage_pos_start(&pos, t, 1000);         /* stages [1000,1100) [1100,1300) [1300,...) */
    volley_tags tg = VOLLEY_TAGS_INIT;
    tg.status = 200;
    sample_tags st = {.t = &tg, .scenario = "s", .stage = &pos};
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 5, &st, 1000);
    metrics_record(&f->reg, &a, (uint32_t)f->reqs, 1, &st, 1099);
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 7, &st, 1100);
    tg.status = 500;
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 9, &st, 1350);
    metrics_record(&f->reg, &a, (uint32_t)f->reqs, 1, &st, 5000);   /* graceful stop */
    metrics_record(&f->reg, &a, (uint32_t)f->failed, 1, &st, 5000); /* not kept */
    sample_tags plain = {.t = &tg, .scenario = "s"};
    metrics_record(&f->reg, &a, (uint32_t)f->dur, 11, &plain, 1200);  /* no stage: not copied */
    assert_int_equal(pos.stage, 2);
    assert_int_equal(a.s[own].count, 4);
    assert_int_equal(a.s[d0].count, 1);
    assert_int_equal(a.s[d1].count, 1);
    assert_int_equal(a.s[d2].count, 1);
    assert_true(agg_trend_stat(&a.s[d1], "max") == 7);
    assert_int_equal(a.s[e2].count, 1);
    assert_true(a.s[r0].sum == 1 && a.s[r2].sum == 1);
    metrics_agg_merge(&g, &a, &f->reg);
    metrics_agg_merge(&g, &a, &f->reg);
    assert_int_equal(g.s[d2].count, 2);
    assert_true(agg_trend_stat(&g.s[d2], "p(95)") == 9);
    assert_true(g.s[r2].sum == 2);
    metrics_agg_clear(&a);
    assert_int_equal(a.s[d2].count, 0);
    /* a one-stage track never moves */
    stage_pos one;
    const int64_t d_one[] = {10};
    assert_int_equal(metrics_add_stage_track(&f->reg, 0, 2, d_one, 1, &own, 1), 0);
    stage_pos_start(&one, metrics_stage_track(&f->reg, 0), 0);
    assert_int_equal(one.end_ns, INT64_MAX);
    metrics_agg_free(&a);
    metrics_agg_free(&g);
}

/* A small trend keeps its values: k6's stats exactly (k6 keeps every
 * value; med and p(N) interpolate between the closest ranks), across
 * merges in any order; past METRICS_EXACT_MAX the histogram answers. */
static void test_trend_exact_while_small(void **state)
{
    fx *f = *state;
    metrics_agg w1, w2, g;
    assert_int_equal(metrics_agg_init(&w1, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&w2, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&g, &f->reg), 0);
    sample_tags st = {0};
    uint32_t dur = f->reg.metrics[f->dur].series;
    /* 6 x 75000 and 4 x 1000000, spread over two workers: the histogram
     * said med=75104.256 and p(90)=999292.928 */
    for (int i = 0; i < 10; i++)
        metrics_record(&f->reg, i % 3 ? &w1 : &w2, (uint32_t)f->dur, i < 6 ? 75000 : 1000000,
                       &st, i);
    assert_true(agg_trend_stat(&w1.s[dur], "max") == 1000000);   /* unsorted: a copy */
    metrics_agg_merge(&g, &w2, &f->reg);
    metrics_agg_merge(&g, &w1, &f->reg);
    assert_int_equal(g.s[dur].hist->total, 0);   /* kept as they are, sorted */
    assert_int_equal(g.s[dur].n_sorted, 10);
    assert_true(agg_trend_stat(&g.s[dur], "med") == 75000);
    assert_true(agg_trend_stat(&g.s[dur], "p(90)") == 1000000);
    assert_true(agg_trend_stat(&g.s[dur], "p(95)") == 1000000);
    assert_true(agg_trend_stat(&g.s[dur], "min") == 75000);
    assert_true(agg_trend_stat(&g.s[dur], "avg") == 445000);
    /* k6: rank p * (n - 1), linear between the closest ranks */
    assert_true(fabs(agg_trend_stat(&g.s[dur], "p(60)") - (75000 + (1000000 - 75000) * 0.4)) < 1e-6);
    assert_true(agg_trend_stat(&g.s[dur], "p(0)") == 75000);
    assert_true(agg_trend_stat(&g.s[dur], "p(100)") == 1000000);
    assert_true(isnan(agg_trend_stat(&g.s[dur], "p95")));
    /* two values: med halfway, as k6 prints it; one value: itself */
    metrics_agg_clear(&g);
    metrics_record(&f->reg, &g, (uint32_t)f->dur, 0.25, &st, 1);
    assert_true(agg_trend_stat(&g.s[dur], "p(90)") == 0.25);
    metrics_record(&f->reg, &g, (uint32_t)f->dur, 1.25, &st, 2);
    assert_true(agg_trend_stat(&g.s[dur], "med") == 0.75);
    assert_true(agg_trend_stat(&g.s[dur], "p(90)") == 1.15);

    /* Past METRICS_EXACT_MAX in one aggregate, or together: the histogram. */
    metrics_agg_clear(&g);
    metrics_agg_clear(&w1);
    metrics_agg_clear(&w2);
    for (uint32_t i = 0; i < METRICS_EXACT_MAX; i++)
        metrics_record(&f->reg, &w1, (uint32_t)f->dur, 75000, &st, 1);
    metrics_agg_merge(&g, &w1, &f->reg);
    assert_int_equal(g.s[dur].hist->total, 0);
    assert_true(agg_trend_stat(&g.s[dur], "med") == 75000);
    metrics_record(&f->reg, &w2, (uint32_t)f->dur, 1000000, &st, 2);
    metrics_agg_merge(&g, &w2, &f->reg);
    assert_int_equal(g.s[dur].count, METRICS_EXACT_MAX + 1);
    assert_int_equal(g.s[dur].hist->total, METRICS_EXACT_MAX + 1);
    double med = agg_trend_stat(&g.s[dur], "med");
    assert_true(med != 75000 && fabs(med - 75000) <= 75000.0 / 512);
    assert_true(agg_trend_stat(&g.s[dur], "max") == 1000000);
    /* and stays so: a later small merge does not bring the values back */
    metrics_agg_merge(&g, &w2, &f->reg);
    assert_int_equal(g.s[dur].hist->total, METRICS_EXACT_MAX + 2);
    metrics_agg_clear(&w1);
    for (uint32_t i = 0; i <= METRICS_EXACT_MAX; i++)
        metrics_record(&f->reg, &w1, (uint32_t)f->dur, 5, &st, 1);
    assert_int_equal(w1.s[dur].hist->total, METRICS_EXACT_MAX + 1);   /* moved on the hot path */
    assert_true(agg_trend_stat(&w1.s[dur], "p(99)") == 5);   /* from the histogram */
    /* a small aggregate merged with a large one: all in the histogram */
    metrics_agg_clear(&g);
    metrics_record(&f->reg, &g, (uint32_t)f->dur, 9, &st, 1);
    metrics_record(&f->reg, &g, (uint32_t)f->dur, 1, &st, 1);
    metrics_agg_merge(&g, &w1, &f->reg);
    assert_int_equal(g.s[dur].hist->total, METRICS_EXACT_MAX + 3);
    assert_true(agg_trend_stat(&g.s[dur], "min") == 1 && agg_trend_stat(&g.s[dur], "max") == 9);
    assert_true(agg_trend_stat(&g.s[dur], "med") == 5);
    /* unsorted on both sides (recorded, not merged): sorted by the merge */
    metrics_agg_clear(&g);
    metrics_agg_clear(&w2);
    metrics_record(&f->reg, &g, (uint32_t)f->dur, 3, &st, 1);
    metrics_record(&f->reg, &g, (uint32_t)f->dur, 1, &st, 1);
    metrics_record(&f->reg, &w2, (uint32_t)f->dur, 4, &st, 1);
    metrics_record(&f->reg, &w2, (uint32_t)f->dur, 2, &st, 1);
    metrics_agg_merge(&g, &w2, &f->reg);
    assert_int_equal(g.s[dur].n_sorted, 4);
    for (int i = 0; i < 4; i++)
        assert_true(g.s[dur].exact[i] == i + 1);
    metrics_agg_free(&w1);
    metrics_agg_free(&w2);
    metrics_agg_free(&g);
}

static void test_agg_merge(void **state)
{
    fx *f = *state;
    metrics_agg a, b, g;
    assert_int_equal(metrics_agg_init(&a, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&b, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&g, &f->reg), 0);
    sample_tags st = {0};
    uint32_t reqs = f->reg.metrics[f->reqs].series, failed = f->reg.metrics[f->failed].series,
             vus = f->reg.metrics[f->vus].series, dur = f->reg.metrics[f->dur].series;

    for (int i = 0; i < 10; i++)
        metrics_record(&f->reg, &a, (uint32_t)f->reqs, 1, &st, i);
    metrics_record(&f->reg, &b, (uint32_t)f->reqs, 2.5, &st, 1);
    /* rate: a 3 of 4 non-zero, b 0 of 2 */
    metrics_record(&f->reg, &a, (uint32_t)f->failed, 1, &st, 1);
    metrics_record(&f->reg, &a, (uint32_t)f->failed, 1, &st, 1);
    metrics_record(&f->reg, &a, (uint32_t)f->failed, 1, &st, 1);
    metrics_record(&f->reg, &a, (uint32_t)f->failed, 0, &st, 1);
    metrics_record(&f->reg, &b, (uint32_t)f->failed, 0, &st, 1);
    metrics_record(&f->reg, &b, (uint32_t)f->failed, 0, &st, 1);
    /* gauge: b has the later sample, but is merged first */
    metrics_record(&f->reg, &a, (uint32_t)f->vus, 50, &st, 100);
    metrics_record(&f->reg, &a, (uint32_t)f->vus, 5, &st, 200);
    metrics_record(&f->reg, &b, (uint32_t)f->vus, 20, &st, 300);
    metrics_record(&f->reg, &b, (uint32_t)f->vus, 30, &st, 150);   /* older than 300 */
    /* trend */
    for (int i = 1; i <= 100; i++)
        metrics_record(&f->reg, i % 2 ? &a : &b, (uint32_t)f->dur, i, &st, i);

    assert_true(a.s[vus].last == 5);
    assert_true(b.s[vus].last == 20);   /* last by time, not by arrival */

    metrics_agg_merge(&g, &b, &f->reg);
    metrics_agg_merge(&g, &a, &f->reg);

    assert_int_equal(g.s[reqs].count, 11);
    assert_true(g.s[reqs].sum == 12.5);
    assert_int_equal(g.s[failed].count, 6);
    assert_int_equal(g.s[failed].nonzero, 3);
    assert_true(agg_rate(&g.s[failed]) == 0.5);
    assert_int_equal(g.s[vus].count, 4);
    assert_true(g.s[vus].min == 5);
    assert_true(g.s[vus].max == 50);
    assert_true(g.s[vus].last == 20);
    assert_int_equal(g.s[vus].last_ns, 300);
    assert_int_equal(g.s[dur].count, 100);
    assert_int_equal(g.s[dur].hist->total, 0);   /* 100 values: kept exact */
    assert_true(agg_trend_stat(&g.s[dur], "avg") == 50.5);
    assert_true(agg_trend_stat(&g.s[dur], "min") == 1);
    assert_true(agg_trend_stat(&g.s[dur], "max") == 100);
    double p90 = agg_trend_stat(&g.s[dur], "p(90)");
    assert_true(p90 >= 89.5 && p90 <= 90.5);
    double med = agg_trend_stat(&g.s[dur], "med");
    assert_true(med >= 49.5 && med <= 51);

    /* Merging an empty aggregate changes nothing (gauge last included). */
    metrics_agg empty;
    assert_int_equal(metrics_agg_init(&empty, &f->reg), 0);
    metrics_agg_merge(&g, &empty, &f->reg);
    assert_true(g.s[vus].last == 20);
    assert_int_equal(g.s[reqs].count, 11);
    assert_true(agg_rate(&empty.s[failed]) == 0);

    metrics_agg_free(&empty);
    metrics_agg_free(&a);
    metrics_agg_free(&b);
    metrics_agg_free(&g);
}

/* ------------------------------------------------------------------ */
/* agg_pair across threads                                             */

#define N_SAMPLES 1000000

typedef struct worker_arg {
    fx *f;
    agg_pair *pair;
    atomic_int done;
    atomic_long collects;   /* by the main thread */
    long publishes;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    const metrics_reg *r = &w->f->reg;
    volley_tags t = VOLLEY_TAGS_INIT;
    sample_tags st = {.t = &t, .scenario = "s"};
    for (long i = 0; i < N_SAMPLES; i++) {
        metrics_agg *cur = &w->pair->buf[w->pair->cur];
        t.status = i % 4 == 0 ? 500 : 200;
        metrics_record(r, cur, (uint32_t)w->f->reqs, 1, &st, i);
        metrics_record(r, cur, (uint32_t)w->f->failed, t.status == 500, &st, i);
        metrics_record(r, cur, (uint32_t)w->f->dur, (double)(i % 1000), &st, i);
        metrics_record(r, cur, (uint32_t)w->f->vus, (double)i, &st, i);
        if (i % 997 == 0) {
            agg_pair_publish(w->pair);
            w->publishes++;
        }
        /* Ten times per run, wait for a collect so the two threads are
         * sure to overlap however the scheduler runs them. */
        if (i % (N_SAMPLES / 10) == 0) {
            long seen = atomic_load(&w->collects);
            while (atomic_load(&w->collects) == seen)
                sched_yield();
        }
    }
    atomic_store(&w->done, 1);
    return NULL;
}

static void test_agg_pair_threads(void **state)
{
    fx *f = *state;
    int s500 = series_ok(f, "http_req_duration{status:500}");
    agg_pair pair;
    metrics_agg global;
    assert_int_equal(agg_pair_init(&pair, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&global, &f->reg), 0);
    worker_arg w = {.f = f, .pair = &pair};
    atomic_init(&w.done, 0);
    atomic_init(&w.collects, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, worker, &w), 0);
    long collects = 0;
    uint32_t reqs = f->reg.metrics[f->reqs].series;
    uint64_t seen = 0;
    while (!atomic_load(&w.done)) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        agg_pair_collect(&pair, &global, &f->reg);
        collects++;
        atomic_store(&w.collects, collects);
        /* Totals only ever grow. */
        assert_true(global.s[reqs].count >= seen);
        seen = global.s[reqs].count;
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    agg_pair_drain(&pair, &global, &f->reg);

    uint32_t failed = f->reg.metrics[f->failed].series, dur = f->reg.metrics[f->dur].series,
             vus = f->reg.metrics[f->vus].series;
    assert_int_equal(global.s[reqs].count, N_SAMPLES);
    assert_true(global.s[reqs].sum == (double)N_SAMPLES);
    assert_int_equal(global.s[failed].count, N_SAMPLES);
    assert_int_equal(global.s[failed].nonzero, N_SAMPLES / 4);
    assert_int_equal(global.s[dur].count, N_SAMPLES);
    assert_int_equal(global.s[dur].hist->total, N_SAMPLES);
    assert_int_equal(global.s[s500].count, N_SAMPLES / 4);
    assert_int_equal(global.s[s500].hist->total, N_SAMPLES / 4);
    /* sum of i%1000 over 1e6 samples = 1000 * (0+...+999) */
    assert_true(agg_trend_stat(&global.s[dur], "avg") == 499.5);
    assert_true(agg_trend_stat(&global.s[dur], "max") == 999);
    assert_true(global.s[vus].last == (double)(N_SAMPLES - 1));
    assert_true(global.s[vus].max == (double)(N_SAMPLES - 1));
    assert_true(global.s[vus].min == 0);
    /* Drained: both buffers are empty and the spare is free again. */
    assert_int_equal(pair.buf[0].s[reqs].count, 0);
    assert_int_equal(pair.buf[1].s[reqs].count, 0);
    assert_int_equal(atomic_load(&pair.spare_state), AGG_FREE);
    assert_true(w.publishes > 1000);
    assert_true(collects >= 10);

    metrics_agg_free(&global);
    agg_pair_free(&pair);
}

/* Publish is refused while the metrics thread still holds the last one,
 * so nothing is overwritten. */
static void test_agg_pair_protocol(void **state)
{
    fx *f = *state;
    agg_pair pair;
    metrics_agg global;
    assert_int_equal(agg_pair_init(&pair, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&global, &f->reg), 0);
    uint32_t reqs = f->reg.metrics[f->reqs].series;
    sample_tags st = {0};

    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->reqs, 1, &st, 0);
    agg_pair_collect(&pair, &global, &f->reg);   /* nothing published yet */
    assert_int_equal(global.s[reqs].count, 0);

    agg_pair_publish(&pair);
    assert_int_equal(pair.cur, 1);
    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->reqs, 1, &st, 0);
    agg_pair_publish(&pair);   /* spare still filled: keep writing the same */
    assert_int_equal(pair.cur, 1);
    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->reqs, 1, &st, 0);

    agg_pair_collect(&pair, &global, &f->reg);
    assert_int_equal(global.s[reqs].count, 1);
    agg_pair_collect(&pair, &global, &f->reg);   /* no double merge */
    assert_int_equal(global.s[reqs].count, 1);

    agg_pair_publish(&pair);
    assert_int_equal(pair.cur, 0);
    agg_pair_collect(&pair, &global, &f->reg);
    assert_int_equal(global.s[reqs].count, 3);
    agg_pair_drain(&pair, &global, &f->reg);
    assert_int_equal(global.s[reqs].count, 3);

    metrics_agg_free(&global);
    agg_pair_free(&pair);
}

/* Once the run's trend is past METRICS_EXACT_MAX, a worker's aggregates
 * handed back keep no more values (their samples go to the histogram at
 * once); the run's stats stay right. */
static void test_agg_pair_exact_off(void **state)
{
    fx *f = *state;
    agg_pair pair;
    metrics_agg global;
    assert_int_equal(agg_pair_init(&pair, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&global, &f->reg), 0);
    uint32_t dur = f->reg.metrics[f->dur].series;
    sample_tags st = {0};
    for (uint32_t i = 0; i < METRICS_EXACT_MAX; i++)
        metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 2, &st, 0);
    agg_pair_publish(&pair);
    agg_pair_collect(&pair, &global, &f->reg);
    assert_int_equal(pair.buf[0].s[dur].exact_cap, METRICS_EXACT_MAX);   /* still exact */
    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 4, &st, 0);
    agg_pair_publish(&pair);
    agg_pair_collect(&pair, &global, &f->reg);   /* the run: 4097 */
    assert_int_equal(pair.buf[1].s[dur].exact_cap, 0);
    assert_int_equal(pair.cur, 0);
    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 6, &st, 0);
    agg_pair_publish(&pair);
    agg_pair_collect(&pair, &global, &f->reg);
    assert_int_equal(pair.buf[0].s[dur].exact_cap, 0);
    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 8, &st, 0);
    assert_int_equal(pair.buf[pair.cur].s[dur].hist->total, 1);   /* straight in */
    agg_pair_drain(&pair, &global, &f->reg);
    assert_int_equal(global.s[dur].count, METRICS_EXACT_MAX + 3);
    assert_int_equal(global.s[dur].hist->total, METRICS_EXACT_MAX + 3);
    assert_true(agg_trend_stat(&global.s[dur], "max") == 8);
    assert_true(fabs(agg_trend_stat(&global.s[dur], "med") - 2) <= 2.0 / 512);   /* histogram */
    metrics_agg_free(&global);
    agg_pair_free(&pair);
}

/* A window's aggregate (small) fed by a worker past the limit (values in
 * its histogram only): the window's stats are the histogram's, not the
 * values it kept in an earlier window (a QA run showed p95 0.06 ms for
 * 100 ms requests). */
static void test_small_dst_takes_a_histogram(void **state)
{
    fx *f = *state;
    agg_pair pair;
    metrics_agg global, win;
    assert_int_equal(agg_pair_init(&pair, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&global, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&win, &f->reg), 0);
    uint32_t dur = f->reg.metrics[f->dur].series;
    sample_tags st = {0};
    /* window 1: fast requests, past the limit: the worker turns to its histogram */
    for (uint32_t i = 0; i <= METRICS_EXACT_MAX; i++)
        metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 0.05, &st, 0);
    agg_pair_publish(&pair);
    agg_pair_collect_into(&pair, &global, &win, &f->reg);
    assert_true(fabs(agg_trend_stat(&win.s[dur], "p(95)") - 0.05) < 0.001);
    metrics_agg_clear(&win);
    win.s[dur].exact_cap = METRICS_EXACT_MAX;   /* as windows.c does */
    /* window 2: 100 slow ones, from a worker that keeps no values any more */
    metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 1, &st, 0);
    agg_pair_publish(&pair);
    agg_pair_collect_into(&pair, &global, &win, &f->reg);   /* the worker's exact_cap: 0 */
    for (int i = 0; i < 100; i++)
        metrics_record(&f->reg, &pair.buf[pair.cur], (uint32_t)f->dur, 100, &st, 0);
    metrics_agg_clear(&win);
    win.s[dur].exact_cap = METRICS_EXACT_MAX;
    agg_pair_publish(&pair);
    agg_pair_collect_into(&pair, &global, &win, &f->reg);
    assert_int_equal(win.s[dur].count, 100);
    assert_true(fabs(agg_trend_stat(&win.s[dur], "p(95)") - 100) <= 100.0 / 256);
    assert_true(fabs(agg_trend_stat(&win.s[dur], "min") - 100) <= 100.0 / 256);
    assert_true(fabs(agg_trend_stat(&win.s[dur], "avg") - 100) <= 100.0 / 256);
    metrics_agg_free(&win);
    metrics_agg_free(&global);
    agg_pair_free(&pair);
}

/* Breakdowns: "metric{name:X}" built from the value itself (any
 * character), reusing a threshold's sub-metric of exactly that filter. */
static void test_breakdown_series(void **state)
{
    fx *f = *state;
    char err[256];
    int th = metrics_series_for_key(&f->reg, "http_reqs{name:b}", err, sizeof err);
    assert_true(th >= 0);
    int a = metrics_add_breakdown(&f->reg, (uint32_t)f->reqs, TAG_NAME, "a");
    assert_true(a >= 0);
    assert_string_equal(f->reg.series[a].name, "http_reqs{name:a}");
    assert_true(f->reg.series[a].breakdown);
    assert_int_equal(metrics_add_breakdown(&f->reg, (uint32_t)f->reqs, TAG_NAME, "a"), a);
    assert_int_equal(metrics_add_breakdown(&f->reg, (uint32_t)f->reqs, TAG_NAME, "b"), th);
    assert_false(f->reg.series[th].breakdown);   /* the threshold's, shown as it was */
    int url = metrics_add_breakdown(&f->reg, (uint32_t)f->dur, TAG_NAME, "http://h:1/x{y},z");
    assert_true(url >= 0);
    assert_string_equal(f->reg.series[url].name, "http_req_duration{name:http://h:1/x{y},z}");
    /* status filters by number: not a breakdown key */
    assert_int_equal(metrics_add_breakdown(&f->reg, (uint32_t)f->reqs, TAG_STATUS, "200"), -1);
    f->reg.frozen = true;
    assert_int_equal(metrics_add_breakdown(&f->reg, (uint32_t)f->reqs, TAG_NAME, "c"), -1);
}

/* Name-only sub-metrics are found by the sample's name pointer when it
 * was routed, and by its text otherwise: the same samples either way. */
static void test_name_routes(void **state)
{
    fx *f = *state;
    char err[256];
    static const char step1[] = "create", step2[] = "create", other[] = "other";
    char *unrouted = strdup("create");
    int create = metrics_add_breakdown(&f->reg, (uint32_t)f->reqs, TAG_NAME, "create");
    int both = metrics_series_for_key(&f->reg, "http_reqs{name:create,method:GET}", err, sizeof err);
    assert_true(create >= 0 && both >= 0);
    const char *ptrs[] = {step1, step2, other, step1};
    assert_int_equal(metrics_route_names(&f->reg, ptrs, 4), 0);
    assert_int_equal(f->reg.n_name_ptrs, 3);   /* duplicates once */
    /* a name-only sub-metric added after the routes: they are rebuilt */
    int late = metrics_series_for_key(&f->reg, "http_reqs{name:other}", err, sizeof err);
    assert_true(late >= 0);
    const metric_def *m = &f->reg.metrics[f->reqs];
    assert_int_equal(m->n_named, 2);
    assert_int_equal(m->n_scan, 1);            /* {name:create,method:GET} */
    assert_int_equal(m->n_routes, 3);

    metrics_agg a;
    assert_int_equal(metrics_agg_init(&a, &f->reg), 0);
    volley_tags t = VOLLEY_TAGS_INIT;
    t.method = "GET";
    sample_tags st = {.t = &t, .scenario = "s"};
    const char *names[] = {step1, step2, unrouted, other, NULL, "nobody"};
    for (size_t i = 0; i < 6; i++) {
        t.name = names[i];
        metrics_record(&f->reg, &a, (uint32_t)f->reqs, 1, &st, 1);
    }
    assert_int_equal(a.s[m->series].count, 6);
    assert_int_equal(a.s[create].count, 3);   /* two routed pointers, one by its text */
    assert_int_equal(a.s[both].count, 3);
    assert_int_equal(a.s[late].count, 1);
    /* A second spec's names replace the first's (whose texts may be gone:
     * the registry keeps copies to rebuild with). */
    char *next = strdup("other");
    const char *again[] = {next};
    assert_int_equal(metrics_route_names(&f->reg, again, 1), 0);
    assert_int_equal(f->reg.n_name_ptrs, 1);
    assert_int_equal(f->reg.metrics[f->reqs].n_routes, 1);
    t.name = step1;   /* no longer routed: matched by its text */
    metrics_record(&f->reg, &a, (uint32_t)f->reqs, 1, &st, 1);
    t.name = next;
    metrics_record(&f->reg, &a, (uint32_t)f->reqs, 1, &st, 1);
    assert_int_equal(a.s[create].count, 4);
    assert_int_equal(a.s[late].count, 2);
    free(next);
    metrics_agg_free(&a);
    free(unrouted);
}

/* A trend knows whether every value was whole, through merges. */
static void test_trend_whole_values(void **state)
{
    fx *f = *state;
    metrics_agg w, g;
    assert_int_equal(metrics_agg_init(&w, &f->reg), 0);
    assert_int_equal(metrics_agg_init(&g, &f->reg), 0);
    uint32_t dur = f->reg.metrics[f->dur].series;
    sample_tags st = {.scenario = "s"};
    for (int i = 0; i < 5000; i++)   /* into the histogram */
        metrics_record(&f->reg, &w, (uint32_t)f->dur, 49741 + i % 7, &st, 1);
    metrics_record(&f->reg, &w, (uint32_t)f->dur, -3, &st, 1);
    metrics_record(&f->reg, &w, (uint32_t)f->dur, 1e300, &st, 1);
    metrics_record(&f->reg, &w, (uint32_t)f->dur, NAN, &st, 1);
    assert_false(w.s[dur].fraction);
    metrics_agg_merge(&g, &w, &f->reg);
    assert_false(g.s[dur].fraction);
    metrics_agg_clear(&w);
    metrics_record(&f->reg, &w, (uint32_t)f->dur, 0.5, &st, 1);
    assert_true(w.s[dur].fraction);
    metrics_agg_merge(&g, &w, &f->reg);
    assert_true(g.s[dur].fraction);
    metrics_agg_clear(&w);
    assert_false(w.s[dur].fraction);
    metrics_agg_free(&w);
    metrics_agg_free(&g);
}

static void test_tag_keys(void **state)
{
    (void)state;
    assert_int_equal(tag_key_parse("status"), TAG_STATUS);
    assert_int_equal(tag_key_parse("group"), TAG_GROUP);
    assert_int_equal(tag_key_parse("capture"), TAG_CAPTURE);
    assert_int_equal(tag_key_parse("Status"), -1);
    assert_string_equal(tag_key_name(TAG_EXPECTED_RESPONSE), "expected_response");
    assert_string_equal(tag_key_name(TAG__COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_dst_takes_a_histogram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_many_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_for_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_for_key_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hidden_series_not_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_tag_wins_over_run_tag, setup, teardown),
        cmocka_unit_test(test_tag_intern_layers),
        cmocka_unit_test_setup_teardown(test_record_into_matching_subs_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trend_exact_while_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agg_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agg_pair_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agg_pair_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agg_pair_exact_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breakdown_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trend_whole_values, setup, teardown),
        cmocka_unit_test(test_tag_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
