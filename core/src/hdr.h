/*
 * hdr: a log-linear (HDR-style) histogram of non-negative integer values with
 * a fixed geometry, so merging two histograms is an element-wise add.
 *
 * Geometry: values 0..HDR_MAX_VALUE; below HDR_SUB_BUCKETS every value has its
 * own slot; above, each power-of-two range is split into HDR_HALF slots, so
 * the relative error of any reported percentile is below 1/HDR_HALF (0.39%).
 * The core records trends in micro-units (1 ms -> 1000), so 1 us resolution
 * and a range of ~19 hours.
 *
 * Exact count, sum, min and max are kept beside the counts, so avg/min/max
 * are exact; only percentiles are approximated.
 */
#ifndef VOLLEY_HDR_H
#define VOLLEY_HDR_H

#include <stdbool.h>
#include <stdint.h>

#define HDR_HALF_LOG2 8                          /* 256 slots per half bucket */
#define HDR_HALF (1u << HDR_HALF_LOG2)
#define HDR_SUB_BUCKETS (2u * HDR_HALF)          /* 512                       */
#define HDR_MAX_LOG2 36                          /* values < 2^36             */
#define HDR_MAX_VALUE (((int64_t)1 << HDR_MAX_LOG2) - 1)
#define HDR_BUCKETS (HDR_MAX_LOG2 - HDR_HALF_LOG2)   /* 28                    */
#define HDR_SLOTS ((HDR_BUCKETS + 1) * HDR_HALF)     /* 7424 (58 KiB)         */

typedef struct hdr_hist {
    uint64_t total;      /* number of recorded values                  */
    double sum;          /* exact sum of recorded (unclamped) values    */
    int64_t min, max;    /* exact; valid when total > 0                 */
    uint64_t counts[HDR_SLOTS];
} hdr_hist;

void hdr_reset(hdr_hist *h);
/* Negative values count as 0; values above HDR_MAX_VALUE are clamped into
 * the top slot (min/max/sum stay exact). */
void hdr_record(hdr_hist *h, int64_t value);
void hdr_record_n(hdr_hist *h, int64_t value, uint64_t n);
void hdr_merge(hdr_hist *dst, const hdr_hist *src);
/* p in [0,100]. Returns a value within the slot holding the p-th
 * percentile sample (the slot's midpoint, clamped to [min,max]); 0 when the
 * histogram is empty. p=0 -> min, p=100 -> max. */
int64_t hdr_percentile(const hdr_hist *h, double p);
double hdr_mean(const hdr_hist *h);
bool hdr_is_empty(const hdr_hist *h);

/* Slot geometry, exposed for tests and serialization. */
uint32_t hdr_index_of(int64_t value);
int64_t hdr_lowest_of(uint32_t index);   /* lowest value in the slot   */
int64_t hdr_width_of(uint32_t index);    /* number of values in slot   */

#endif
