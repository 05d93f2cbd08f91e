/* The load models' math, on a fake clock: VU counts over time, arrival
 * times of constant and ramping rates, totals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "schedule.h"

#define S(x) ((int64_t)((x) * 1e9))

static void test_ramping_vus_counts(void **state)
{
    (void)state;
    /* k6 docs example: 0 -> 10 over 30 s, hold 1 m, down to 0 over 30 s */
    const sched_stage st[] = {{S(30), 10}, {S(60), 10}, {S(30), 0}};
    sched_profile p = {.start = 0, .n = 3, .stages = st};
    assert_int_equal(sched_total_ns(&p), S(120));
    assert_int_equal(sched_vus_at(&p, 0), 0);
    assert_int_equal(sched_vus_at(&p, S(2.999)), 0);
    assert_int_equal(sched_vus_at(&p, S(3)), 1);
    assert_int_equal(sched_vus_at(&p, S(15)), 5);
    assert_int_equal(sched_vus_at(&p, S(29.999)), 9);
    assert_int_equal(sched_vus_at(&p, S(30)), 10);
    assert_int_equal(sched_vus_at(&p, S(89)), 10);
    assert_int_equal(sched_vus_at(&p, S(105)), 5);
    assert_int_equal(sched_vus_at(&p, S(120)), 0);
    assert_int_equal(sched_vus_at(&p, S(500)), 0);     /* after the last stage */
    assert_int_equal(sched_vus_at(&p, -5), 0);
    assert_true(sched_max_value(&p) == 10);
    /* start_vus and an instant jump: a 0s stage (k6's instant load
     * increase) holds its target from its first instant */
    const sched_stage jump[] = {{0, 50}, {S(10), 50}, {0, 10}, {S(5), 10}};
    sched_profile q = {.start = 5, .n = 4, .stages = jump};
    assert_int_equal(sched_vus_at(&q, 0), 50);
    assert_int_equal(sched_vus_at(&q, S(1)), 50);
    assert_int_equal(sched_vus_at(&q, S(9.999)), 50);
    assert_int_equal(sched_vus_at(&q, S(10)), 10);
    assert_int_equal(sched_vus_at(&q, S(20)), 10);
    assert_true(sched_max_value(&q) == 50);
    assert_int_equal(sched_total_ns(&q), S(15));
    assert_int_equal(sched_stage_at(&q, 0), 1);
    assert_int_equal(sched_stage_at(&q, S(10)), 3);
}

static void test_zero_length_arrival_stages(void **state)
{
    (void)state;
    /* 0 -> 10/s over 2 s (10 arrivals), a jump to 100/s, 1 s at 100/s,
     * a jump to 0 and 1 s at 0: 110 arrivals, no NaN anywhere */
    const sched_stage st[] = {{S(2), 10}, {0, 100}, {S(1), 100}, {0, 0}, {S(1), 0}};
    sched_profile p = {.start = 0, .n = 5, .stages = st, .unit_ns = S(1)};
    assert_true(fabs(sched_arrivals_until(&p, S(2)) - 10) < 1e-9);
    assert_true(fabs(sched_arrivals_until(&p, S(2.5)) - 60) < 1e-9);
    assert_true(fabs(sched_arrivals_until(&p, S(10)) - 110) < 1e-9);
    /* the 11th arrival is the first of the 100/s stage, at 2 s sharp */
    assert_true(llabs(sched_arrival_time(&p, 10) - S(2)) <= 1);
    assert_true(llabs(sched_arrival_time(&p, 11) - S(2.01)) <= 1);
    assert_true(llabs(sched_arrival_time(&p, 109) - S(2.99)) <= 1);
    assert_int_equal(sched_arrival_time(&p, 110), -1);
    /* a profile that starts with a jump */
    const sched_stage j[] = {{0, 10}, {S(1), 10}};
    sched_profile q = {.start = 0, .n = 2, .stages = j, .unit_ns = S(1)};
    assert_int_equal(sched_arrival_time(&q, 0), 0);
    assert_true(llabs(sched_arrival_time(&q, 5) - S(0.5)) <= 1);
    assert_int_equal(sched_arrival_time(&q, 10), -1);
}

static void test_constant_arrivals(void **state)
{
    (void)state;
    /* 10 per second for 2 s: starts at 0, 100 ms, ..., 1.9 s; 20 in all */
    const sched_stage st[] = {{S(2), 10}};
    sched_profile p = {.start = 10, .n = 1, .stages = st, .unit_ns = S(1)};
    for (uint64_t k = 0; k < 20; k++)
        assert_true(llabs(sched_arrival_time(&p, k) - (int64_t)k * 100000000) <= 1);
    assert_int_equal(sched_arrival_time(&p, 20), -1);
    assert_true(fabs(sched_arrivals_until(&p, S(1)) - 10) < 1e-9);
    assert_true(fabs(sched_arrivals_until(&p, S(2)) - 20) < 1e-9);
    /* time_unit 1m: 30 per minute = one every 2 s */
    const sched_stage per_min[] = {{S(60), 30}};
    sched_profile m = {.start = 30, .n = 1, .stages = per_min, .unit_ns = S(60)};
    assert_true(llabs(sched_arrival_time(&m, 3) - S(6)) <= 1);
}

static void test_ramping_arrivals(void **state)
{
    (void)state;
    /* 0 -> 100/s over 10 s: area = t^2 * 5, so arrival k at sqrt(k/5) s;
     * 500 in the stage; then hold 100/s for 5 s (500 more) */
    const sched_stage st[] = {{S(10), 100}, {S(5), 100}};
    sched_profile p = {.start = 0, .n = 2, .stages = st, .unit_ns = S(1)};
    assert_int_equal(sched_arrival_time(&p, 0), 0);
    for (uint64_t k = 1; k < 500; k += 37) {
        double want = sqrt((double)k / 5.0) * 1e9;
        assert_true(fabs((double)sched_arrival_time(&p, k) - want) < 1000);  /* < 1 us */
    }
    assert_true(llabs(sched_arrival_time(&p, 500) - S(10)) < 1000);
    assert_true(llabs(sched_arrival_time(&p, 750) - S(12.5)) < 1000);
    assert_int_equal(sched_arrival_time(&p, 1000), -1);
    assert_true(fabs(sched_arrivals_until(&p, S(15)) - 1000) < 1e-6);
    /* decreasing ramp 100 -> 0 over 10 s: 500 arrivals, the last ones sparse */
    const sched_stage down[] = {{S(10), 0}};
    sched_profile d = {.start = 100, .n = 1, .stages = down, .unit_ns = S(1)};
    int64_t prev = -1;
    for (uint64_t k = 0; k < 500; k++) {
        int64_t t = sched_arrival_time(&d, k);
        assert_true(t > prev);
        assert_true(t <= S(10));
        /* check against the integral: arrivals_until(t) == k */
        assert_true(fabs(sched_arrivals_until(&d, t) - (double)k) < 1e-3);
        prev = t;
    }
    assert_int_equal(sched_arrival_time(&d, 500), -1);
}

static void test_zero_rate_stages_are_skipped(void **state)
{
    (void)state;
    /* 0/s for 5 s, then 0 -> 10/s over 2 s: first start at 5 s */
    const sched_stage st[] = {{S(5), 0}, {S(2), 10}};
    sched_profile p = {.start = 0, .n = 2, .stages = st, .unit_ns = S(1)};
    assert_int_equal(sched_arrival_time(&p, 0), S(5));
    /* area 2.5 t^2: 10 arrivals in the ramp, the last at 5 + sqrt(9/2.5) s */
    assert_true(fabs((double)sched_arrival_time(&p, 9) - (5 + sqrt(9 / 2.5)) * 1e9) < 1000);
    assert_int_equal(sched_arrival_time(&p, 10), -1);
}

/* Splitting arrivals over workers (k mod W) loses and duplicates none. */
static void test_split_over_workers(void **state)
{
    (void)state;
    const sched_stage st[] = {{S(3), 700}};
    sched_profile p = {.start = 0, .n = 1, .stages = st, .unit_ns = S(1)};
    uint64_t total = 0;
    for (int w = 0; w < 3; w++)
        for (uint64_t k = (uint64_t)w; sched_arrival_time(&p, k) >= 0; k += 3)
            total++;
    assert_int_equal(total, 1050);   /* area of 0 -> 700/s over 3 s */
}

/* The stage windows the summary's stage table uses: half-open, stage 0
 * before the start, the last stage at and after the end. */
static void test_stage_windows(void **state)
{
    (void)state;
    const sched_stage st[] = {{S(1), 2}, {S(2), 2}, {S(1), 60}};
    sched_profile p = {.start = 2, .n = 3, .stages = st, .unit_ns = S(1)};
    assert_int_equal(sched_stage_at(&p, -5), 0);
    assert_int_equal(sched_stage_at(&p, 0), 0);
    assert_int_equal(sched_stage_at(&p, S(1) - 1), 0);
    assert_int_equal(sched_stage_at(&p, S(1)), 1);
    assert_int_equal(sched_stage_at(&p, S(2.5)), 1);
    assert_int_equal(sched_stage_at(&p, S(3) - 1), 1);
    assert_int_equal(sched_stage_at(&p, S(3)), 2);
    assert_int_equal(sched_stage_at(&p, S(4)), 2);      /* the end: still the last */
    assert_int_equal(sched_stage_at(&p, S(60)), 2);     /* graceful stop */
    assert_int_equal(sched_stage_start(&p, 0), 0);
    assert_int_equal(sched_stage_start(&p, 1), S(1));
    assert_int_equal(sched_stage_start(&p, 2), S(3));
    assert_int_equal(sched_stage_start(&p, 3), S(4));
    assert_int_equal(sched_stage_start(&p, 9), S(4));
    /* every arrival falls in the stage sched_stage_at names for its time */
    uint64_t per[3] = {0};
    for (uint64_t k = 0; sched_arrival_time(&p, k) >= 0; k++)
        per[sched_stage_at(&p, sched_arrival_time(&p, k))]++;
    assert_int_equal(per[0], 2);    /* 2/s for 1 s */
    assert_int_equal(per[1], 4);    /* 2/s for 2 s */
    assert_int_equal(per[2], 31);   /* 2 -> 60/s over 1 s */
    const sched_stage one[] = {{S(5), 10}};
    sched_profile q = {.n = 1, .stages = one};
    assert_int_equal(sched_stage_at(&q, S(100)), 0);
    sched_profile none = {.n = 0};
    assert_int_equal(sched_stage_at(&none, S(1)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ramping_vus_counts),
        cmocka_unit_test(test_constant_arrivals),
        cmocka_unit_test(test_zero_length_arrival_stages),
        cmocka_unit_test(test_ramping_arrivals),
        cmocka_unit_test(test_zero_rate_stages_are_skipped),
        cmocka_unit_test(test_split_over_workers),
        cmocka_unit_test(test_stage_windows),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
