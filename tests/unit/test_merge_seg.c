#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "merge_seg.h"

#define SEQ3 "0,1/3,2/3,1"

static int check(const merge_seg_in *in, size_t n, char *warn, char *err)
{
    err[0] = '\0';
    return merge_seg_check(in, n, warn, 256, err, 256);
}

static void test_no_segments_fine(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", NULL, NULL}, {"b", NULL, NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), 0);
    assert_string_equal(warn, "");
}

static void test_whole_sequence_covered(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"b", "1/3:2/3", SEQ3}, {"a", "0:1/3", SEQ3}, {"c", "2/3:1", SEQ3}};
    char warn[256], err[256];
    assert_int_equal(check(in, 3, warn, err), 0);
    assert_string_equal(warn, "");
}

static void test_missing_segment_warns(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "0:1/3", SEQ3}, {"c", "2/3:1", SEQ3}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), 0);
    assert_string_equal(warn, "merged 2 of 3 segments: 1/3:2/3 missing");
}

static void test_duplicate_refused(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a.ndjson", "0:1/2", NULL}, {"b.ndjson", "1/2:1", NULL},
                         {"c.ndjson", "0:1/2", NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 3, warn, err), -1);
    assert_non_null(strstr(err, "a.ndjson and c.ndjson both ran execution segment 0:1/2"));
}

static void test_same_value_other_spelling_is_duplicate(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "0:0.5", NULL}, {"b", "0:50%", NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), -1);
    assert_non_null(strstr(err, "both ran"));
}

static void test_overlap_refused(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "0:1/2", NULL}, {"b", "1/3:1", NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), -1);
    assert_non_null(strstr(err, "overlap"));
}

static void test_different_sequences_refused(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "0:1/3", SEQ3}, {"b", "1/2:1", "0,1/2,1"}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), -1);
    assert_non_null(strstr(err, "different sequences"));
    assert_non_null(strstr(err, "a"));
}

static void test_mixed_with_whole_run_refused(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "0:1/2", NULL}, {"whole", NULL, NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), -1);
    assert_non_null(strstr(err, "whole ran without one"));
}

static void test_gaps_without_sequence(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "1/4:1/2", NULL}, {"b", "3/4:1", NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 2, warn, err), 0);
    assert_string_equal(warn, "merged 2 of 4 segments: 0:1/4, 1/2:3/4 missing");
}

static void test_bad_segment_text(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "1/2", NULL}};
    char warn[256], err[256];
    assert_int_equal(check(in, 1, warn, err), -1);
    assert_non_null(strstr(err, "a: execution segment \"1/2\""));
    merge_seg_in in2[] = {{"a", "2/3:1/3", NULL}};
    assert_int_equal(check(in2, 1, warn, err), -1);
    merge_seg_in in3[] = {{"a", "0:1/4", SEQ3}};
    assert_int_equal(check(in3, 1, warn, err), -1);
    assert_non_null(strstr(err, "not one of sequence"));
}

/* A segment over two of the sequence's parts covers both. */
static void test_wide_segment(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"a", "0:2/3", SEQ3}};
    char warn[256], err[256];
    assert_int_equal(check(in, 1, warn, err), 0);
    assert_string_equal(warn, "merged 2 of 3 segments: 2/3:1 missing");
}

/* A merged file of 0:1/3 and 1/3:2/3 (meta "segments") is one entry per
 * segment: merged later with 2/3:1 it covers the sequence. */
static void test_merged_file_with_the_missing_segment(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"ab.ndjson", "0:1/3", SEQ3}, {"ab.ndjson", "1/3:2/3", SEQ3},
                         {"c.ndjson", "2/3:1", SEQ3}};
    char warn[256], err[256];
    assert_int_equal(check(in, 3, warn, err), 0);
    assert_string_equal(warn, "");
    /* without c: what the merged file lacks */
    assert_int_equal(check(in, 2, warn, err), 0);
    assert_string_equal(warn, "merged 2 of 3 segments: 2/3:1 missing");
}

static void test_merged_file_overlapping_refused(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"ab.ndjson", "0:1/3", SEQ3}, {"ab.ndjson", "1/3:2/3", SEQ3},
                         {"b.ndjson", "1/3:2/3", SEQ3}};
    char warn[256], err[256];
    assert_int_equal(check(in, 3, warn, err), -1);
    assert_non_null(strstr(err, "ab.ndjson and b.ndjson both ran execution segment 1/3:2/3"));
    merge_seg_in wide[] = {{"ab.ndjson", "0:1/3", NULL}, {"ab.ndjson", "1/3:2/3", NULL},
                           {"w.ndjson", "1/2:1", NULL}};
    assert_int_equal(check(wide, 3, warn, err), -1);
    assert_non_null(strstr(err, "ab.ndjson ran execution segment 1/3:2/3, w.ndjson segment 1/2:1: they overlap"));
}

static void test_sort_by_start(void **state)
{
    (void)state;
    merge_seg_in in[] = {{"c", "2/3:1", SEQ3}, {"a", "0:1/3", SEQ3}, {"b", "33.3334%:2/3", NULL}};
    merge_seg_sort(in, 3);
    assert_string_equal(in[0].segment, "0:1/3");
    assert_string_equal(in[1].segment, "33.3334%:2/3");
    assert_string_equal(in[2].segment, "2/3:1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_segments_fine),
        cmocka_unit_test(test_whole_sequence_covered),
        cmocka_unit_test(test_missing_segment_warns),
        cmocka_unit_test(test_duplicate_refused),
        cmocka_unit_test(test_same_value_other_spelling_is_duplicate),
        cmocka_unit_test(test_overlap_refused),
        cmocka_unit_test(test_different_sequences_refused),
        cmocka_unit_test(test_mixed_with_whole_run_refused),
        cmocka_unit_test(test_gaps_without_sequence),
        cmocka_unit_test(test_bad_segment_text),
        cmocka_unit_test(test_wide_segment),
        cmocka_unit_test(test_merged_file_with_the_missing_segment),
        cmocka_unit_test(test_merged_file_overlapping_refused),
        cmocka_unit_test(test_sort_by_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
