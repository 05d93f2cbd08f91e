#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hdr.h"

#define N_SAMPLES 1000000

static hdr_hist *new_hist(void)
{
    hdr_hist *h = malloc(sizeof *h);
    assert_non_null(h);
    hdr_reset(h);
    return h;
}

/* xorshift64*: deterministic across platforms, so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

/* Irwin-Hall (12 uniforms) approximates a standard normal; exp of it gives
 * a latency-like log-normal with median ~1 ms in micro-units and a long
 * tail reaching tens of milliseconds. */
static int64_t lognormal_sample(void)
{
    double z = -6.0;
    for (int i = 0; i < 12; i++)
        z += rng_unit();
    return (int64_t)exp(log(1000.0) + 1.0 * z);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Same rank rule as hdr_percentile, so both name the same sample. */
static int64_t exact_percentile(const int64_t *sorted, size_t n, double p)
{
    uint64_t rank = (uint64_t)(p / 100.0 * (double)n + 0.5);
    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

static void test_geometry_round_trip(void **state)
{
    (void)state;
    assert_int_equal(hdr_lowest_of(0), 0);
    for (uint32_t i = 0; i < HDR_SLOTS; i++) {
        int64_t lo = hdr_lowest_of(i), w = hdr_width_of(i);
        assert_true(w >= 1);
        assert_int_equal(hdr_index_of(lo), i);
        assert_int_equal(hdr_index_of(lo + w - 1), i);
        if (i + 1 < HDR_SLOTS)
            assert_int_equal(hdr_lowest_of(i + 1), lo + w);   /* no gaps */
        if (i >= HDR_SUB_BUCKETS)
            assert_true(w * HDR_HALF <= lo);   /* resolution bound */
        else
            assert_int_equal(w, 1);
    }
    uint32_t last = HDR_SLOTS - 1;
    assert_int_equal(hdr_lowest_of(last) + hdr_width_of(last) - 1, HDR_MAX_VALUE);
}

static void test_index_clamps(void **state)
{
    (void)state;
    assert_int_equal(hdr_index_of(-1), 0);
    assert_int_equal(hdr_index_of(INT64_MIN), 0);
    assert_int_equal(hdr_index_of(HDR_MAX_VALUE), HDR_SLOTS - 1);
    assert_int_equal(hdr_index_of(HDR_MAX_VALUE + 1), HDR_SLOTS - 1);
    assert_int_equal(hdr_index_of(INT64_MAX), HDR_SLOTS - 1);
    assert_int_equal(hdr_index_of(511), 511);
    assert_int_equal(hdr_index_of(512), 512);
    assert_int_equal(hdr_index_of(513), 512);   /* width 2 from here */
}

static void test_empty(void **state)
{
    (void)state;
    hdr_hist *h = new_hist(), *e = new_hist();
    assert_true(hdr_is_empty(h));
    assert_int_equal(hdr_percentile(h, 0), 0);
    assert_int_equal(hdr_percentile(h, 50), 0);
    assert_int_equal(hdr_percentile(h, 100), 0);
    assert_true(hdr_mean(h) == 0.0);
    hdr_merge(h, e);
    assert_true(hdr_is_empty(h));

    hdr_record(h, 42);
    hdr_merge(h, e);   /* merging an empty one must not disturb min/max */
    assert_int_equal(h->min, 42);
    assert_int_equal(h->max, 42);
    hdr_merge(e, h);   /* merging into an empty one copies min/max */
    assert_int_equal(e->min, 42);
    assert_int_equal(e->total, 1);
    free(h);
    free(e);
}

static void test_clamping(void **state)
{
    (void)state;
    hdr_hist *h = new_hist();
    hdr_record(h, -5);
    assert_int_equal(h->counts[0], 1);
    assert_int_equal(h->min, 0);
    assert_true(h->sum == 0.0);

    hdr_record(h, INT64_MAX);
    assert_int_equal(h->counts[HDR_SLOTS - 1], 1);
    assert_int_equal(h->max, INT64_MAX);
    assert_int_equal(hdr_percentile(h, 100), INT64_MAX);
    assert_int_equal(hdr_percentile(h, 0), 0);
    /* The top slot's midpoint is below max, so it is reported unclamped. */
    assert_true(hdr_percentile(h, 99) <= HDR_MAX_VALUE);
    assert_true(hdr_percentile(h, 99) >= hdr_lowest_of(HDR_SLOTS - 1));
    free(h);
}

static void test_small_values_exact(void **state)
{
    (void)state;
    hdr_hist *h = new_hist();
    for (int64_t v = 1; v <= 100; v++)
        hdr_record(h, v);
    assert_int_equal(hdr_percentile(h, 0), 1);
    assert_int_equal(hdr_percentile(h, 0.1), 1);
    assert_int_equal(hdr_percentile(h, 50), 50);
    assert_int_equal(hdr_percentile(h, 99), 99);
    assert_int_equal(hdr_percentile(h, 100), 100);
    assert_int_equal(hdr_percentile(h, 250), 100);
    assert_int_equal(hdr_percentile(h, -1), 1);
    assert_int_equal(hdr_percentile(h, NAN), 1);
    assert_true(hdr_mean(h) == 50.5);
    free(h);
}

static void test_single_value_clamped(void **state)
{
    (void)state;
    hdr_hist *h = new_hist();
    hdr_record(h, 123457);   /* in a slot of width 256 */
    assert_int_equal(hdr_percentile(h, 1), 123457);
    assert_int_equal(hdr_percentile(h, 50), 123457);
    assert_int_equal(hdr_percentile(h, 99.9), 123457);
    free(h);
}

static void test_record_n(void **state)
{
    (void)state;
    hdr_hist *a = new_hist(), *b = new_hist();
    hdr_record_n(a, 777, 0);
    assert_true(hdr_is_empty(a));
    hdr_record_n(a, 777, 5);
    hdr_record_n(a, 90000, 3);
    for (int i = 0; i < 5; i++)
        hdr_record(b, 777);
    for (int i = 0; i < 3; i++)
        hdr_record(b, 90000);
    assert_memory_equal(a->counts, b->counts, sizeof a->counts);
    assert_int_equal(a->total, 8);
    assert_true(a->sum == b->sum);
    assert_int_equal(a->min, 777);
    assert_int_equal(a->max, 90000);
    free(a);
    free(b);
}

/* 10^6 log-normal samples: percentiles against a sort, merge of two halves
 * against one histogram of everything, and the exact statistics. */
static void test_lognormal_accuracy_and_merge(void **state)
{
    (void)state;
    int64_t *vals = malloc(N_SAMPLES * sizeof *vals);
    assert_non_null(vals);
    hdr_hist *all = new_hist(), *half1 = new_hist(), *half2 = new_hist();
    double sum = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        int64_t v = lognormal_sample();
        vals[i] = v;
        sum += (double)v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        hdr_record(all, v);
        hdr_record(i % 2 ? half2 : half1, v);
    }

    assert_int_equal(all->total, N_SAMPLES);
    assert_int_equal(all->min, lo);
    assert_int_equal(all->max, hi);
    assert_true(all->sum == sum);   /* same order of additions */
    assert_true(hdr_mean(all) == sum / N_SAMPLES);

    hdr_merge(half1, half2);
    assert_memory_equal(half1->counts, all->counts, sizeof all->counts);
    assert_int_equal(half1->total, all->total);
    assert_int_equal(half1->min, all->min);
    assert_int_equal(half1->max, all->max);
    assert_true(fabs(half1->sum - all->sum) <= 1e-12 * all->sum);

    qsort(vals, N_SAMPLES, sizeof *vals, cmp_i64);
    static const double ps[] = { 50, 90, 95, 99, 99.9, 99.99 };
    double worst = 0;
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int64_t exact = exact_percentile(vals, N_SAMPLES, ps[i]);
        int64_t got = hdr_percentile(all, ps[i]);
        assert_int_equal(got, hdr_percentile(half1, ps[i]));
        double rel = fabs((double)(got - exact)) / (double)exact;
        print_message("p(%g): exact %lld, hdr %lld, rel err %.4f%%\n", ps[i],
                      (long long)exact, (long long)got, rel * 100);
        assert_true(rel < 0.01);
        assert_true(rel < 1.0 / HDR_HALF);
        worst = rel > worst ? rel : worst;
    }
    print_message("max relative percentile error: %.4f%%\n", worst * 100);
    assert_int_equal(hdr_percentile(all, 0), lo);
    assert_int_equal(hdr_percentile(all, 100), hi);
    free(vals);
    free(all);
    free(half1);
    free(half2);
}

/* hdr_clear empties what was recorded (negative, huge and in between),
 * and a merge carries every count, both over the used slots only. */
static void test_clear_and_merge_used_slots(void **state)
{
    (void)state;
    hdr_hist *h = new_hist(), *sum = new_hist();
    static const int64_t vals[] = {-5, 0, 700, 123456, HDR_MAX_VALUE + 99, 42};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        hdr_record(h, vals[i]);
    hdr_merge(sum, h);
    assert_int_equal(sum->total, 6);
    assert_int_equal(sum->counts[hdr_index_of(0)], 2);
    assert_int_equal(sum->counts[hdr_index_of(HDR_MAX_VALUE)], 1);
    assert_int_equal(sum->max, HDR_MAX_VALUE + 99);
    hdr_clear(h);
    assert_true(hdr_is_empty(h));
    for (uint32_t i = 0; i < HDR_SLOTS; i++)
        assert_int_equal(h->counts[i], 0);
    assert_true(h->sum == 0 && h->min == 0 && h->max == 0);
    hdr_record(h, 9);
    assert_int_equal(hdr_percentile(h, 50), 9);
    hdr_merge(sum, h);
    assert_int_equal(sum->total, 7);
    assert_int_equal(sum->counts[hdr_index_of(9)], 1);
    hdr_clear(h);
    hdr_clear(h);   /* empty: nothing to clear */
    assert_true(hdr_is_empty(h));
    free(h);
    free(sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry_round_trip),
        cmocka_unit_test(test_index_clamps),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_single_value_clamped),
        cmocka_unit_test(test_record_n),
        cmocka_unit_test(test_lognormal_accuracy_and_merge),
        cmocka_unit_test(test_clear_and_merge_used_slots),
    };
    return cmocka_run_group_tests_name("hdr", tests, NULL, NULL);
}
