/*
 * hdr: a log-linear (HDR-style) histogram of non-negative integer values with
 * a fixed geometry, so merging two histograms is an element-wise add.
 *
 * Geometry: values 0..HDR_MAX_VALUE; below HDR_SUB_BUCKETS every value has its
 * own slot; above, each power-of-two range is split into HDR_HALF slots, so
 * a slot is at most 1/HDR_HALF (0.39%) of its values wide, and a reported
 * percentile (the slot's midpoint) is within 1/(2 * HDR_HALF) (0.2%) of the
 * sample at that rank. The core records trends in micro-units (1 ms ->
 * 1000), so 1 us resolution and a range of ~19 hours; small trends are not
 * kept here at all (metrics.h, METRICS_EXACT_MAX).
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
/* hdr_reset of a histogram filled through this API, clearing only the
 * slots between min's and max's (where every count is): the pages of
 * slots no value reached stay untouched. */
void hdr_clear(hdr_hist *h);

static inline uint64_t hdr__clamp(int64_t value)
{
    if (value < 0)
        return 0;
    return value > HDR_MAX_VALUE ? (uint64_t)HDR_MAX_VALUE : (uint64_t)value;
}

/* Slot geometry: bucket 0 holds 0..HDR_SUB_BUCKETS-1 one value per slot;
 * bucket b >= 1 holds [HDR_HALF << b, HDR_SUB_BUCKETS << b) in HDR_HALF
 * slots of width 2^b (its lower half would repeat the bucket below), and
 * starts at index (b + 1) * HDR_HALF. OR-ing in the bucket-0 mask makes
 * every value below HDR_SUB_BUCKETS land in bucket 0 and keeps the
 * argument of clz non-zero. */
static inline uint32_t hdr__index_of(uint64_t v)
{
    unsigned bucket = 64u - (unsigned)__builtin_clzll(v | (HDR_SUB_BUCKETS - 1))
                      - (HDR_HALF_LOG2 + 1);
    uint32_t sub = (uint32_t)(v >> bucket);
    return ((bucket + 1) << HDR_HALF_LOG2) + sub - HDR_HALF;
}

/* Negative values are treated as 0 throughout (counts, sum, min), as a
 * latency below zero can only be a clock artefact. Values above the range
 * land in the top slot but keep their exact value in sum/min/max. Inline:
 * it is the hot path's (metrics.h series_add). */
static inline void hdr__record(hdr_hist *h, int64_t value, uint64_t n)
{
    if (value < 0)
        value = 0;
    h->counts[hdr__index_of(hdr__clamp(value))] += n;
    h->sum += (double)value * (double)n;
    if (h->total == 0 || value < h->min)
        h->min = value;
    if (h->total == 0 || value > h->max)
        h->max = value;
    h->total += n;
}

/* Negative values count as 0; values above HDR_MAX_VALUE are clamped into
 * the top slot (min/max/sum stay exact). */
static inline void hdr_record(hdr_hist *h, int64_t value) { hdr__record(h, value, 1); }
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
