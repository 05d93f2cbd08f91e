#include "hdr.h"

#include <string.h>

/*
 * Slot geometry. Bucket 0 holds 0..HDR_SUB_BUCKETS-1 one value per slot;
 * bucket b >= 1 holds [HDR_HALF << b, HDR_SUB_BUCKETS << b) in HDR_HALF
 * slots of width 2^b. The lower half of every bucket above 0 would repeat
 * the bucket below, so only the upper half gets slots: bucket b starts at
 * index (b + 1) * HDR_HALF.
 */

static inline uint64_t clamp_value(int64_t value)
{
    if (value < 0)
        return 0;
    return value > HDR_MAX_VALUE ? (uint64_t)HDR_MAX_VALUE : (uint64_t)value;
}

/* OR-ing in the bucket-0 mask makes every value below HDR_SUB_BUCKETS land
 * in bucket 0 and keeps the argument of clz non-zero. */
static inline uint32_t index_of(uint64_t v)
{
    unsigned bucket = 64u - (unsigned)__builtin_clzll(v | (HDR_SUB_BUCKETS - 1))
                      - (HDR_HALF_LOG2 + 1);
    uint32_t sub = (uint32_t)(v >> bucket);
    return ((bucket + 1) << HDR_HALF_LOG2) + sub - HDR_HALF;
}

uint32_t hdr_index_of(int64_t value) { return index_of(clamp_value(value)); }

/* Indexes 0..HDR_SUB_BUCKETS-1 both decode to bucket 0 with a shift of 0. */
static unsigned shift_of(uint32_t index)
{
    return index < HDR_SUB_BUCKETS ? 0 : (index >> HDR_HALF_LOG2) - 1;
}

int64_t hdr_lowest_of(uint32_t index)
{
    if (index < HDR_SUB_BUCKETS)
        return index;
    uint64_t sub = (index & (HDR_HALF - 1)) + HDR_HALF;
    return (int64_t)(sub << shift_of(index));
}

int64_t hdr_width_of(uint32_t index) { return (int64_t)1 << shift_of(index); }

void hdr_reset(hdr_hist *h) { memset(h, 0, sizeof *h); }

/* Negative values are treated as 0 throughout (counts, sum, min), as a
 * latency below zero can only be a clock artefact. Values above the range
 * land in the top slot but keep their exact value in sum/min/max. */
static inline void record(hdr_hist *h, int64_t value, uint64_t n)
{
    if (value < 0)
        value = 0;
    h->counts[index_of(clamp_value(value))] += n;
    h->sum += (double)value * (double)n;
    if (h->total == 0 || value < h->min)
        h->min = value;
    if (h->total == 0 || value > h->max)
        h->max = value;
    h->total += n;
}

void hdr_record(hdr_hist *h, int64_t value) { record(h, value, 1); }

void hdr_record_n(hdr_hist *h, int64_t value, uint64_t n)
{
    if (n > 0)              /* n = 0 must not set min/max */
        record(h, value, n);
}

/* Same geometry on both sides, so a merge is exact and order-independent. */
void hdr_merge(hdr_hist *dst, const hdr_hist *src)
{
    if (src->total == 0)
        return;
    for (uint32_t i = 0; i < HDR_SLOTS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->total == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
    dst->sum += src->sum;
}

/* The midpoint halves the worst-case error of reporting a slot's lowest or
 * highest value; clamping to the exact min/max keeps single-valued and
 * narrow distributions exact at the ends. */
static int64_t slot_value(const hdr_hist *h, uint32_t index)
{
    int64_t v = hdr_lowest_of(index) + hdr_width_of(index) / 2;
    if (v < h->min)
        return h->min;
    return v > h->max ? h->max : v;
}

int64_t hdr_percentile(const hdr_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (!(p > 0))           /* also catches NaN */
        return h->min;
    if (p >= 100)
        return h->max;
    uint64_t target = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
    if (target == 0)
        target = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HDR_SLOTS; i++) {
        seen += h->counts[i];
        if (seen >= target)
            return slot_value(h, i);
    }
    return h->max;          /* unreachable while counts sum to total */
}

double hdr_mean(const hdr_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}

bool hdr_is_empty(const hdr_hist *h) { return h->total == 0; }
