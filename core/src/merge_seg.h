/*
 * merge_seg: the execution segments of the files `volley merge` reads
 * (meta "segment" "a:b" and "sequence" "0,1/3,2/3,1", as k6's
 * --execution-segment and --execution-segment-sequence write them): one
 * instance merged twice or segments that overlap or come from different
 * sequences are errors; segments that do not cover 0:1 are a warning.
 * Pure: unit-tested (tests/unit/test_merge_seg.c).
 */
#ifndef VOLLEY_MERGE_SEG_H
#define VOLLEY_MERGE_SEG_H

#include <stddef.h>

/* One file's: segment and sequence may be NULL (a run without segments).
 * A merged file of several segments (meta "segments") is one entry per
 * segment, each with the file's path. */
typedef struct merge_seg_in {
    const char *path, *segment, *sequence;
} merge_seg_in;

/* 0: fine, with warn "" or "merged 2 of 3 segments: 1/3:2/3 missing";
 * -1 with err naming the files. */
int merge_seg_check(const merge_seg_in *in, size_t n, char *warn, size_t warncap, char *err,
                    size_t errcap);

/* Sorts entries whose segments merge_seg_check accepted by where they
 * start: the order a merged file lists them in. */
void merge_seg_sort(merge_seg_in *in, size_t n);

#endif
