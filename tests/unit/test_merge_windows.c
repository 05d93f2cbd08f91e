/* merge_series.c's timeline (merge_windows): two hand-made result files,
 * the second started one window later, their windows put on the first's
 * clock and the windows of one second added exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "merge_int.h"

#define META(start)                                                                                \
    "{\"type\":\"meta\",\"format\":\"volley-result\",\"version\":1,\"spec\":{\"name\":\"t\","     \
    "\"path\":\"t.yaml\",\"sha256\":\"ab\"},\"start_unix_ms\":" start ",\"window_s\":1,\"cores\":2,"  \
    "\"hist\":{\"geometry\":\"volley-hdr-1\",\"half_log2\":8,\"max_log2\":36,\"scale\":1000},"    \
    "\"metrics\":{\"d\":{\"type\":\"trend\",\"contains\":\"time\"},"                              \
    "\"n\":{\"type\":\"counter\",\"contains\":\"default\"},"                                     \
    "\"g\":{\"type\":\"gauge\",\"contains\":\"default\"}},"                                      \
    "\"series\":[{\"id\":0,\"key\":\"d\",\"metric\":\"d\",\"tags\":{},\"kind\":\"metric\"},"    \
    "{\"id\":1,\"key\":\"n\",\"metric\":\"n\",\"tags\":{},\"kind\":\"metric\"},"                 \
    "{\"id\":2,\"key\":\"g\",\"metric\":\"g\",\"tags\":{},\"kind\":\"metric\"}],\"thresholds\":[]}\n"

/* window t0: n counted, d's values in slots (slot 1000 and 1100), g last */
#define WIN(t0, n, c1, c2, g)                                                                      \
    "{\"type\":\"window\",\"t0\":" t0 ",\"t1\":" t0 ".999,\"s\":{"                                  \
    "\"0\":{\"n\":" n ",\"sum\":1,\"min\":0.5,\"max\":9,\"avg\":1,\"p\":{\"50\":1,\"90\":1,\"95\":1,\"99\":1}," \
    "\"h\":[[1000," c1 "],[1100," c2 "]]},"                                                        \
    "\"1\":{\"n\":" n ",\"sum\":" n "},\"2\":{\"n\":1,\"min\":" g ",\"max\":" g ",\"last\":" g "}},"   \
    "\"runner\":{\"vus\":2,\"vus_max\":2,\"cpu_pct\":10,\"dropped\":1,\"behind\":false}}\n"

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name, (int)getpid());
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void test_windows_on_one_clock_added_exactly(void **state)
{
    (void)state;
    /* b started 1.1 s after a: its window 0 is a's window 1 */
    const char *a = write_file("mw-a", META("10000") WIN("0", "3", "1", "2", "5") WIN("1", "4", "4", "0", "6"));
    const char *b = write_file("mw-b", META("11100") WIN("0", "10", "0", "10", "7") WIN("1", "2", "2", "0", "8"));
    const char *paths[] = {a, b};
    merged m = {.allow_partial = true};   /* no end lines here */
    char err[256];
    assert_int_equal(merge_read(&m, paths, 2), 0);
    assert_int_equal(m.n_partial, 2);
    assert_int_equal(merge_series(&m, err, sizeof err), 0);
    assert_int_equal(merge_windows(&m, err, sizeof err), 0);
    assert_int_equal(m.n_win, 3);
    assert_true(m.start_unix_ms == 10000);
    long d = merge_find_series(&m, "d"), n = merge_find_series(&m, "n"), g = merge_find_series(&m, "g");
    /* window 1: a's second and b's first */
    const mwindow *w = &m.win[1];
    assert_true(w->t0 == 1);
    const rr_stat *sn = NULL, *sd = NULL, *sg = NULL;
    for (size_t i = 0; i < w->n; i++) {
        sn = w->s[i].series == (uint32_t)n ? &w->s[i] : sn;
        sd = w->s[i].series == (uint32_t)d ? &w->s[i] : sd;
        sg = w->s[i].series == (uint32_t)g ? &w->s[i] : sg;
    }
    assert_non_null(sn);
    assert_non_null(sd);
    assert_non_null(sg);
    assert_true(sn->sum == 14 && sn->n == 14);
    assert_true(sd->n == 14);
    /* histograms added slot by slot: 4 + 0 in slot 1000, 0 + 10 in 1100 */
    assert_non_null(sd->h);
    assert_int_equal(sd->h->total, 14);
    assert_int_equal(sd->h->n, 2);
    assert_int_equal(sd->h->s[0].slot, 1000);
    assert_int_equal(sd->h->s[0].count, 4);
    assert_int_equal(sd->h->s[1].count, 10);
    /* p50 of 14 values: rank 7, in slot 1100 */
    double want = (double)(hdr_lowest_of(1100) + hdr_width_of(1100) / 2) / 1000;
    assert_true(fabs(sd->p[RR_P50] - want) < 1e-9);
    assert_true(sd->p[RR_P50] > (double)hdr_lowest_of(1000) / 1000);
    /* a gauge's last: the window that ended last (b's) */
    assert_true(sg->last == 7 && sg->min == 6 && sg->max == 7);
    /* the runner: VUs and drops summed */
    assert_true(w->runner.vus == 4 && w->runner.dropped == 2);
    /* windows 0 and 2 hold one run each */
    assert_true(m.win[0].runner.vus == 2 && m.win[2].runner.vus == 2);
    double total = 0;
    for (size_t k = 0; k < m.n_win; k++)
        for (size_t i = 0; i < m.win[k].n; i++)
            total += m.win[k].s[i].series == (uint32_t)n ? m.win[k].s[i].sum : 0;
    assert_true(total == 19);
    merge_free(&m);
    unlink(a);
    unlink(b);
}

static void test_windows_of_other_lengths_refused(void **state)
{
    (void)state;
    const char *a = write_file("mw-c", META("10000") WIN("0", "3", "1", "2", "5"));
    char other[4096];
    snprintf(other, sizeof other, "%s", META("10000") WIN("0", "3", "1", "2", "5"));
    char *ws = strstr(other, "\"window_s\":1");
    ws[11] = '2';
    const char *b = write_file("mw-d", other);
    const char *paths[] = {a, b};
    merged m = {.allow_partial = true};
    char err[256];
    assert_int_equal(merge_read(&m, paths, 2), 0);
    assert_int_equal(merge_series(&m, err, sizeof err), 0);
    assert_int_equal(merge_windows(&m, err, sizeof err), -1);
    assert_non_null(strstr(err, "windows"));
    merge_free(&m);
    unlink(a);
    unlink(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_on_one_clock_added_exactly),
        cmocka_unit_test(test_windows_of_other_lengths_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
