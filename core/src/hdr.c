#include "hdr.h"

#include <string.h>

/* Slot geometry: see hdr__index_of in hdr.h. */

uint32_t hdr_index_of(int64_t value) { return hdr__index_of(hdr__clamp(value)); }

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

/* The slots between min's and max's: every count is there. A merge or a
 * reset touches only those pages, so a histogram whose values cluster (a
 * request's latencies) keeps a few of its 58 KiB resident. */
static void used_slots(const hdr_hist *h, uint32_t *lo, uint32_t *hi)
{
    *lo = hdr__index_of(hdr__clamp(h->min));
    *hi = hdr__index_of(hdr__clamp(h->max));
}

void hdr_reset(hdr_hist *h) { memset(h, 0, sizeof *h); }

void hdr_clear(hdr_hist *h)
{
    if (h->total) {
        uint32_t lo, hi;
        used_slots(h, &lo, &hi);
        memset(&h->counts[lo], 0, (hi - lo + 1) * sizeof h->counts[0]);
    }
    h->total = 0;
    h->sum = 0;
    h->min = h->max = 0;
}

void hdr_record_n(hdr_hist *h, int64_t value, uint64_t n)
{
    if (n > 0)              /* n = 0 must not set min/max */
        hdr__record(h, value, n);
}

/* Same geometry on both sides, so a merge is exact and order-independent. */
void hdr_merge(hdr_hist *dst, const hdr_hist *src)
{
    if (src->total == 0)
        return;
    uint32_t lo, hi;
    used_slots(src, &lo, &hi);
    for (uint32_t i = lo; i <= hi; i++)
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
