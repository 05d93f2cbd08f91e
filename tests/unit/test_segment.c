#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "segment.h"

/* A tuple from k6-style strings (seq may be NULL). */
static void tuple(seg_tuple *t, const char *seg, const char *seq)
{
    char err[512] = "";
    seg_segment s;
    seg_rat pts[SEG_MAX_POINTS];
    size_t n = 0;
    if (seg_parse_segment(seg, &s, err, sizeof err) != 0)
        fail_msg("%s: %s", seg, err);
    if (seq && seg_parse_sequence(seq, pts, SEG_MAX_POINTS, &n, err, sizeof err) != 0)
        fail_msg("%s: %s", seq, err);
    if (seg_tuple_init(t, &s, pts, n, err, sizeof err) != 0)
        fail_msg("%s in %s: %s", seg, seq ? seq : "-", err);
}

static void seg_str(const char *in, const char *want)
{
    seg_segment s;
    char err[256] = "", buf[128];
    if (seg_parse_segment(in, &s, err, sizeof err) != 0)
        fail_msg("%s: %s", in, err);
    seg_segment_format(&s, buf, sizeof buf);
    assert_string_equal(buf, want);
    /* the printed form parses back to the same segment */
    seg_segment back;
    assert_int_equal(seg_parse_segment(buf, &back, err, sizeof err), 0);
    assert_memory_equal(&back, &s, sizeof s);
}

/* k6's TestExecutionSegmentUnmarshalText, plus the forms of the docs. */
static void test_parse_segment(void **st)
{
    (void)st;
    seg_str("0:1", "0:1");
    seg_str("", "0:1");
    seg_str("0.5:0.75", "1/2:3/4");
    seg_str("1/2:3/4", "1/2:3/4");
    seg_str("50%:75%", "1/2:3/4");
    seg_str("2/4:75%", "1/2:3/4");
    seg_str("75%", "0:3/4");
    seg_str("1/3", "0:1/3");
    seg_str("0.50:1.0", "1/2:1");
    seg_str(".25:0.5", "1/4:1/2");
    const char *bad[] = {"125%", "1a5%", "1a5", "1a5%:2/3", "125%:250%", "55%:50%", "1/0",
                         "0.5:", ":0.5", "1:2:3", "-1/3:1/3", "1/3:1/3", "0.1234567891",
                         "33.3%", "1e-1", " 1/3", "1/3 ", "%", "/", ".", "1/", "/3", "0x1",
                         "99999999999999999999", "1/2000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        seg_segment s;
        char err[256] = "";
        if (seg_parse_segment(bad[i], &s, err, sizeof err) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
    char err[256];
    seg_segment s;
    assert_int_equal(seg_parse_segment("55%:50%", &s, err, sizeof err), -1);
    assert_string_equal(err, "segment start (11/20) must be less than its end (1/2)");
    assert_int_equal(seg_parse_segment("0:5/4", &s, err, sizeof err), -1);
    assert_string_equal(err, "segment end value can't be more than 1 but was 5/4");
}

static void test_parse_sequence(void **st)
{
    (void)st;
    seg_rat pts[8];
    size_t n = 0;
    char err[256];
    assert_int_equal(seg_parse_sequence("0,1/3,2/3,1", pts, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(pts[1].num, 1);
    assert_int_equal(pts[1].den, 3);
    assert_int_equal(seg_parse_sequence("0,25%,0.5,1", pts, 8, &n, err, sizeof err), 0);
    assert_int_equal(pts[1].den, 4);
    assert_int_equal(seg_parse_sequence("1/2", pts, 8, &n, err, sizeof err), -1);
    assert_string_equal(err, "at least 2 points are needed for an execution segment sequence, 1 given");
    assert_int_equal(seg_parse_sequence("0,1/2,1/2,1", pts, 8, &n, err, sizeof err), -1);
    assert_int_equal(seg_parse_sequence("0,,1", pts, 8, &n, err, sizeof err), -1);
    assert_int_equal(seg_parse_sequence("0,1/2,1,", pts, 8, &n, err, sizeof err), -1);
    assert_int_equal(seg_parse_sequence("0,1/2,3/2", pts, 8, &n, err, sizeof err), -1);
    assert_int_equal(seg_parse_sequence("0,1,1,1,1,1,1,1,1,1", pts, 8, &n, err, sizeof err), -1);
}

/* k6's TestGetStripedOffsets: start, offsets and lcd of each case; our
 * stripe holds the positions those offsets step through. */
static void test_striped_offsets(void **st)
{
    (void)st;
    static const struct {
        const char *seq, *seg;
        int64_t start, offsets[4];
        size_t n_off;
        int64_t lcd;
    } cases[] = {
        {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0:0.3", 0, {4, 3, 3}, 3, 10},
        {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.3:0.5", 1, {4, 6}, 2, 10},
        {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.5:0.6", 2, {10}, 1, 10},
        {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", 3, {10}, 1, 10},
        {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.8:0.9", 8, {10}, 1, 10},
        {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", 9, {10}, 1, 10},
        {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", 9, {10}, 1, 10},
        {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0:0.2", 1, {4, 6}, 2, 10},
        {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", 3, {10}, 1, 10},
        {"0,0.2,0.5", "0:0.2", 3, {6, 4}, 2, 10},
        {"0,0.2,0.5", "0.2:0.5", 1, {4, 2, 4}, 3, 10},
        {"0,2/5,4/5", "0:2/5", 0, {3, 2}, 2, 5},
        {"0,2/5,4/5", "2/5:4/5", 1, {3, 2}, 2, 5},
        {NULL, "0:0.2", 1, {5}, 1, 5},
        {NULL, "0:1/5", 1, {5}, 1, 5},
        {NULL, "0:2/10", 1, {5}, 1, 5},
        {NULL, "0:0.4", 1, {2, 3}, 2, 5},
        {NULL, "0:2/5", 1, {2, 3}, 2, 5},
        {NULL, "2/5:4/5", 1, {3, 2}, 2, 5},
        {NULL, "0:4/10", 1, {2, 3}, 2, 5},
        {NULL, "1/10:5/10", 1, {2, 2, 4, 2}, 4, 10},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        seg_tuple t;
        tuple(&t, cases[c].seg, cases[c].seq);
        const seg_stripe *s = seg_tuple_stripe(&t);
        if (s->lcd != cases[c].lcd || (size_t)s->count != cases[c].n_off)
            fail_msg("case %zu: lcd %lld count %lld", c, (long long)s->lcd, (long long)s->count);
        int64_t p = cases[c].start;
        for (size_t k = 0; k < cases[c].n_off; k++) {
            if (s->pos[k] != p)
                fail_msg("case %zu (%s): position %zu is %lld, k6 has %lld", c, cases[c].seg, k,
                         (long long)s->pos[k], (long long)p);
            p += cases[c].offsets[k];
        }
        assert_int_equal(p, cases[c].start + cases[c].lcd);   /* the last offset wraps */
        seg_tuple_free(&t);
    }
}

/* k6's TestExecutionTupleScale, TestBigScale and the table in the
 * ExecutionTuple comment of lib/execution_segment.go. */
static void test_scale_k6_figures(void **st)
{
    (void)st;
    seg_tuple t;
    tuple(&t, "0.5", NULL);
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 2), 1);
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 3), 2);
    seg_tuple_free(&t);
    tuple(&t, "0.5:1.0", NULL);
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 2), 1);
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 3), 1);
    seg_tuple_free(&t);
    tuple(&t, "0.5", "0,0.5,1");
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 2), 1);
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 3), 2);
    seg_tuple_free(&t);
    tuple(&t, "0:7/20", "0,7/20,7/10,1");
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 50), 18);
    seg_tuple_free(&t);

    static const int64_t want[3][12] = {
        {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6},
        {0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3},
        {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3},
    };
    static const char *segs[3] = {"0:1/2", "1/2:3/4", "3/4:1"};
    static const int64_t iter[3][3] = {{0, 2, 4}, {1, 5, 9}, {3, 7, 11}};
    for (int i = 0; i < 3; i++) {
        tuple(&t, segs[i], "0,1/2,3/4,1");
        assert_int_equal(t.index, i);
        for (int v = 1; v <= 12; v++)
            assert_int_equal(seg_scale(seg_tuple_stripe(&t), v), want[i][v - 1]);
        for (int j = 0; j < 3; j++)
            assert_int_equal(seg_global(seg_tuple_stripe(&t), j), iter[i][j]);
        seg_tuple_free(&t);
    }
}

/* k6's TestGetNewExecutionTupleBesedOnValue, and a share of zero. */
static void test_rescale(void **st)
{
    (void)st;
    seg_tuple t, r;
    char err[256], buf[256];
    tuple(&t, "0:1/3", "0,1/3,2/3,1");
    assert_int_equal(seg_tuple_rescale(&t, 20, &r, err, sizeof err), 0);
    seg_seq_format(&r.seq, buf, sizeof buf);
    assert_string_equal(buf, "0,7/20,7/10,1");
    assert_int_equal(r.index, 0);
    seg_tuple_free(&r);
    /* 2 VUs over thirds: the first two instances get one each */
    assert_int_equal(seg_tuple_rescale(&t, 2, &r, err, sizeof err), 0);
    seg_seq_format(&r.seq, buf, sizeof buf);
    assert_string_equal(buf, "0,1/2,1");
    seg_tuple_free(&r);
    seg_tuple_free(&t);
    tuple(&t, "2/3:1", "0,1/3,2/3,1");
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 2), 0);
    assert_int_equal(seg_tuple_rescale(&t, 2, &r, err, sizeof err), 1);
    assert_int_equal(seg_tuple_rescale(&t, 0, &r, err, sizeof err), 1);
    seg_tuple_free(&t);
}

static void test_fill_and_find(void **st)
{
    (void)st;
    seg_tuple t;
    char buf[256], err[256];
    tuple(&t, "1/3:2/3", NULL);
    seg_seq_format(&t.seq, buf, sizeof buf);
    assert_string_equal(buf, "0,1/3,2/3,1");
    assert_int_equal(t.index, 1);
    seg_tuple_free(&t);
    tuple(&t, "0:1", NULL);
    assert_int_equal(t.seq.n, 1);
    assert_int_equal(seg_scale(seg_tuple_stripe(&t), 301), 301);
    assert_int_equal(seg_global(seg_tuple_stripe(&t), 7), 7);
    seg_tuple_free(&t);
    tuple(&t, "1/2:3/4", "1/4,1/2,3/4");
    seg_seq_format(&t.seq, buf, sizeof buf);
    assert_string_equal(buf, "0,1/4,1/2,3/4,1");
    assert_int_equal(t.index, 2);
    seg_tuple_free(&t);
    seg_segment s;
    seg_rat pts[8];
    size_t n;
    assert_int_equal(seg_parse_segment("1/4:3/4", &s, err, sizeof err), 0);
    assert_int_equal(seg_parse_sequence("0,1/4,1/2,3/4,1", pts, 8, &n, err, sizeof err), 0);
    assert_int_equal(seg_tuple_init(&t, &s, pts, n, err, sizeof err), -1);
    assert_string_equal(err, "segment 1/4:3/4 is not one of the sequence's segments (0,1/4,1/2,3/4,1)");
    /* 0.123457 and 0.654321: a common denominator of 10^6 is the most */
    assert_int_equal(seg_parse_segment("0.1234567:0.7654321", &s, err, sizeof err), 0);
    assert_int_equal(seg_tuple_init(&t, &s, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "common denominator"));
}

/* Every instance of a sequence together: scaled values sum to the value,
 * global indexes partition 0..value-1, and rescaled tuples too. */
static void test_sum_property(void **st)
{
    (void)st;
    static const char *seqs[] = {"0,1", "0,1/2,1", "0,1/3,2/3,1", "0,1/4,1/2,3/4,1",
                                 "0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0,7/20,7/10,1",
                                 "0,1/7,3/7,4/7,1", "0,1/10,1/5,1/2,1", "0,5%,37%,1"};
    char err[256];
    for (size_t q = 0; q < sizeof seqs / sizeof *seqs; q++) {
        seg_rat pts[16];
        size_t n;
        assert_int_equal(seg_parse_sequence(seqs[q], pts, 16, &n, err, sizeof err), 0);
        seg_tuple ts[16];
        for (size_t i = 0; i + 1 < n; i++) {
            seg_segment s = {pts[i], pts[i + 1]};
            assert_int_equal(seg_tuple_init(&ts[i], &s, pts, n, err, sizeof err), 0);
            assert_int_equal(ts[i].index, i);
        }
        static char owner[2000];
        for (int64_t v = 0; v < 2000; v += v < 130 ? 1 : 37) {
            int64_t sum = 0;
            for (size_t i = 0; i + 1 < n; i++) {
                int64_t mine = seg_scale(seg_tuple_stripe(&ts[i]), v);
                sum += mine;
                /* scaling never goes down as the value grows */
                assert_true(mine >= seg_scale(seg_tuple_stripe(&ts[i]), v > 0 ? v - 1 : 0));
            }
            if (sum != v)
                fail_msg("%s: %lld scaled to a total of %lld", seqs[q], (long long)v, (long long)sum);
        }
        memset(owner, 0, sizeof owner);
        for (size_t i = 0; i + 1 < n; i++) {
            const seg_stripe *s = seg_tuple_stripe(&ts[i]);
            for (int64_t j = 0; j < seg_scale(s, 2000); j++) {
                int64_t g = seg_global(s, j);
                assert_true(g >= 0 && g < 2000);
                assert_int_equal(owner[g], 0);
                owner[g] = 1;
                if (j > 0)
                    assert_true(seg_global(s, j - 1) < g);
            }
        }
        for (int64_t g = 0; g < 2000; g++)
            assert_int_equal(owner[g], 1);
        /* shared-iterations: iterations split by the VUs' tuple add up */
        for (int64_t vus = 1; vus < 40; vus++)
            for (int64_t it = 0; it < 400; it += 13) {
                int64_t sum = 0;
                for (size_t i = 0; i + 1 < n; i++) {
                    seg_tuple r;
                    int rc = seg_tuple_rescale(&ts[i], vus, &r, err, sizeof err);
                    assert_true(rc == 0 || rc == 1);
                    if (rc == 0) {
                        sum += seg_scale(seg_tuple_stripe(&r), it);
                        seg_tuple_free(&r);
                    }
                }
                assert_int_equal(sum, it);
            }
        for (size_t i = 0; i + 1 < n; i++)
            seg_tuple_free(&ts[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_segment),
        cmocka_unit_test(test_parse_sequence),
        cmocka_unit_test(test_striped_offsets),
        cmocka_unit_test(test_scale_k6_figures),
        cmocka_unit_test(test_rescale),
        cmocka_unit_test(test_fill_and_find),
        cmocka_unit_test(test_sum_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
