/*
 * json_out_order: lines in time order. Each worker hands over its samples
 * every 250 ms, in time order per worker, so batches of different workers
 * overlap by up to that much. The points that passed the filters wait in
 * one array sorted by time; a line is written once it is older than the
 * newest time seen minus reorder_window, when no batch still to come can
 * hold an older one. A point that comes later anyway is written at once,
 * out of order, and counted.
 *
 * A new batch is appended, sorted if it is not already (a stable merge
 * sort), and merged with only the waiting points it overlaps: the cost is
 * the overlap, not the window. The arrays grow to what the window holds
 * and are reused: nothing is allocated per sample.
 */
#include <stdlib.h>
#include <string.h>

#include "json_out_int.h"

/* Beyond this many waiting points the oldest go out whatever their time:
 * the memory stays bounded (256 MiB) if a clock or a worker misbehaves. */
#define MAX_WAITING (8u << 20)

static int reserve(jo_point **a, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    jo_point *p = realloc(*a, n * sizeof *p);
    if (!p)
        return -1;
    *a = p;
    *cap = n;
    return 0;
}

/* Stable merge of a[0, mid) (copied out to tmp) and a[mid, n) into a. */
static void merge(jo_point *a, size_t mid, size_t n, jo_point *tmp)
{
    memcpy(tmp, a, mid * sizeof *a);
    size_t i = 0, k = mid, w = 0;
    while (i < mid && k < n)
        a[w++] = tmp[i].time <= a[k].time ? tmp[i++] : a[k++];
    while (i < mid)
        a[w++] = tmp[i++];
}

/* Bottom-up stable merge sort; tmp holds n points. */
static void sort_points(jo_point *a, size_t n, jo_point *tmp)
{
    for (size_t width = 1; width < n; width *= 2)
        for (size_t lo = 0; lo + width < n; lo += 2 * width) {
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            if (a[lo + width - 1].time > a[lo + width].time)
                merge(a + lo, width, hi - lo, tmp);
        }
}

/* Room for n more points after the waiting ones; NULL: out of memory. */
jo_point *jo_order_space(json_out *j, size_t n)
{
    size_t waiting = j->pend_len - j->pend_head;
    if (j->pend_head && (j->pend_head >= waiting || j->pend_len + n > j->pend_cap)) {
        memmove(j->pend, j->pend + j->pend_head, waiting * sizeof *j->pend);
        j->pend_head = 0;
        j->pend_len = waiting;
    }
    if (reserve(&j->pend, &j->pend_cap, j->pend_len + n) != 0)
        return NULL;
    return j->pend + j->pend_len;
}

/* The first waiting point in [lo, hi) later than t. */
static size_t after(const json_out *j, size_t lo, size_t hi, int64_t t)
{
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (j->pend[m].time <= t)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* Takes the n points written to jo_order_space() and puts them in their
 * place among the waiting ones. */
int jo_order_commit(json_out *j, size_t n)
{
    if (n == 0)
        return 0;
    jo_point *a = j->pend + j->pend_len;
    bool sorted = true;
    for (size_t i = 0; i < n; i++) {
        if (j->have_out && a[i].time < j->last_out)
            j->late++;
        if (!j->have_newest || a[i].time > j->newest)
            j->newest = a[i].time;
        j->have_newest = true;
        if (i && a[i].time < a[i - 1].time)
            sorted = false;
    }
    if (!sorted) {
        if (reserve(&j->tmp, &j->tmp_cap, n) != 0)
            return -1;
        sort_points(a, n, j->tmp);
    }
    size_t mid = j->pend_len;
    j->pend_len += n;
    /* Only the waiting points later than the batch's first need merging. */
    size_t lo = after(j, j->pend_head, mid, a[0].time);
    if (lo == mid)
        return 0;
    if (reserve(&j->tmp, &j->tmp_cap, mid - lo) != 0)
        return -1;
    merge(j->pend + lo, mid - lo, j->pend_len - lo, j->tmp);
    return 0;
}

/* Writes the waiting points older than `before` (INT64_MAX: all), oldest
 * first, and the oldest beyond MAX_WAITING whatever their time. */
int jo_order_emit(json_out *j, int64_t before)
{
    size_t i = j->pend_head;
    while (i < j->pend_len && (before == INT64_MAX || j->pend[i].time < before ||
                                 j->pend_len - i > MAX_WAITING)) {
        if (jo_emit(j, &j->pend[i]) != 0) {
            j->pend_head = i;
            return -1;
        }
        j->last_out = j->pend[i].time;
        j->have_out = true;
        i++;
    }
    j->pend_head = i;
    if (i == j->pend_len)
        j->pend_head = j->pend_len = 0;
    return 0;
}

void jo_order_free(json_out *j)
{
    free(j->pend);
    free(j->tmp);
}
