#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "windows.h"

/* The windows' judgement of the generator: a window is behind when its
 * schedule lag p(95) is over 10 ms; the run's record says which and how
 * many, and drops are put down to lag or to no free VU. No result file. */

typedef struct fx {
    metrics_reg reg;
    run_windows w;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    metrics_reg_init(&f->reg);
    if (spec_register_builtin_metrics(&f->reg, err, sizeof err) != 0)
        fail_msg("builtins: %s", err);
    f->reg.frozen = true;
    assert_int_equal(windows_init(&f->w, &f->reg, 1, 0, NULL, NULL), 0);
    windows_init_clock(&f->w);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    windows_free(&f->w);
    metrics_reg_free(&f->reg);
    free(f);
    return 0;
}

static void record(fx *f, uint32_t metric, double v, int n)
{
    sample_tags st = {0};
    for (int i = 0; i < n; i++)
        metrics_record(&f->reg, &f->w.agg, metric, v, &st, 0);
}

static void test_behind_windows_are_named(void **state)
{
    fx *f = *state;
    assert_true(f->w.health.cores >= 1);
    /* second 0: on time, 5 drops with no lag: no free VU */
    record(f, BUILTIN_SCHEDULE_LAG, 0.5, 100);
    record(f, BUILTIN_DROPPED_ITERATIONS, 1, 5);
    assert_false(windows_due(&f->w, 0));
    assert_true(windows_due(&f->w, 1));
    windows_close(&f->w, &f->reg, 1, 4, 4);
    /* seconds 1 and 2: late (p95 of 25 ms), 3 drops put down to lag */
    for (int k = 1; k <= 2; k++) {
        record(f, BUILTIN_SCHEDULE_LAG, 0.5, 90);
        record(f, BUILTIN_SCHEDULE_LAG, 25, 10);
        record(f, BUILTIN_DROPPED_ITERATIONS, 1, 3);
        windows_close(&f->w, &f->reg, 1 + k, 4, 4);
    }
    /* second 3, partly: on time again */
    record(f, BUILTIN_SCHEDULE_LAG, 1, 10);
    windows_close(&f->w, &f->reg, 3.5, 0, 4);

    const run_health *h = &f->w.health;
    assert_int_equal(h->n_windows, 4);
    assert_int_equal(h->n_behind, 2);
    assert_true(h->behind_first_s == 1.0);
    assert_true(h->behind_last_s == 3.0);
    assert_true(h->worst_lag95_ms >= 24.9 && h->worst_lag95_ms <= 25.1);
    assert_true(h->dropped_lag == 6);
    assert_true(h->dropped_max_vus == 5);
    assert_int_equal(f->w.index, 4);
    /* the window was cleared for the next */
    assert_int_equal(f->w.agg.s[f->reg.metrics[BUILTIN_SCHEDULE_LAG].series].count, 0);
}

static void test_last_window_view(void **state)
{
    fx *f = *state;
    /* without http metrics: no p95, no requests */
    windows_close(&f->w, &f->reg, 1, 0, 0);
    assert_true(f->w.last.valid);
    assert_true(f->w.last.p95_ms < 0);
    assert_int_equal(f->w.last.requests, 0);
    assert_true(f->w.last.seconds == 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_behind_windows_are_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_window_view, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
