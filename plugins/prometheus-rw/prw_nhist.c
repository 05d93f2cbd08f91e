/*
 * A trend as a Prometheus native histogram (trend_as_native_histogram):
 * exponential buckets of schema 3 (each bound 2^(1/8), about 9%, above
 * the one before: the schema Prometheus' Go client picks for k6's bucket
 * factor 1.1), kept dense between the lowest and highest bucket used, and
 * their encoding as spans and deltas of remote write's Histogram.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prw_int.h"
#include "remote.pb-c.h"

/* 2^(j/8) / 2 for j = 0..8: the upper bounds of a schema-3 bucket within
 * one power of two, on frexp's [0.5, 1) scale. */
static const double bounds[9] = {
    0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048, 0.7071067811865476,
    0.7711054127039704, 0.8408964152537145, 0.9170040432046712, 1.0};

int32_t prw_nh_index(double v)
{
    int exp;
    double frac = frexp(v, &exp);   /* v = frac * 2^exp, frac in [0.5, 1) */
    int j = 0;
    while (frac > bounds[j])
        j++;
    return (int32_t)(exp - 1) * (1 << PRW_NH_SCHEMA) + j;
}

double prw_nh_upper(int32_t idx)
{
    return exp2((double)idx / (1 << PRW_NH_SCHEMA));
}

static int side_add(prw_nside *s, int32_t idx)
{
    if (s->n == 0 || idx < s->lo || idx >= s->lo + (int32_t)s->n) {
        /* grow to cover idx, with room on that side for the next few */
        int32_t lo = s->n == 0 ? idx - 8 : idx < s->lo ? idx - 16 : s->lo;
        int32_t hi = s->n == 0 ? idx + 8 : idx >= s->lo + (int32_t)s->n ? idx + 16 : s->lo + (int32_t)s->n - 1;
        size_t n = (size_t)(hi - lo + 1);
        uint64_t *c = calloc(n, sizeof *c);
        if (!c)
            return -1;
        if (s->n)
            memcpy(c + (s->lo - lo), s->c, s->n * sizeof *c);
        free(s->c);
        s->c = c;
        s->lo = lo;
        s->n = (uint32_t)n;
    }
    s->c[idx - s->lo]++;
    return 0;
}

int prw_nh_add(prw_nhist *h, double v)
{
    if (fabs(v) <= PRW_NH_ZERO) {
        h->zero++;
        return 0;
    }
    return side_add(v > 0 ? &h->pos : &h->neg, prw_nh_index(fabs(v)));
}

void prw_nh_free(prw_nhist *h)
{
    free(h->pos.c);
    free(h->neg.c);
    memset(h, 0, sizeof *h);
}

/* One side's spans (runs of non-empty buckets) and deltas, allocated. */
static int side_encode(const prw_nside *s, Prometheus__BucketSpan ***spans_out, size_t *n_spans,
                       int64_t **deltas_out, size_t *n_deltas)
{
    size_t nb = 0, ns = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->c[i])
            continue;
        nb++;
        ns += i == 0 || !s->c[i - 1];
    }
    *n_spans = *n_deltas = 0;
    *spans_out = NULL;
    *deltas_out = NULL;
    if (!nb)
        return 0;
    /* the spans' pointers and structs in one block */
    Prometheus__BucketSpan **sp = malloc(ns * (sizeof *sp + sizeof **sp));
    int64_t *d = malloc(nb * sizeof *d);
    if (!sp || !d) {
        free(sp);
        free(d);
        return -1;
    }
    Prometheus__BucketSpan *store = (Prometheus__BucketSpan *)(sp + ns);
    size_t k = 0, b = 0;
    int64_t prev = 0, end = 0;   /* the bucket index after the last span */
    for (uint32_t i = 0; i < s->n; i++) {
        if (!s->c[i])
            continue;
        int64_t idx = (int64_t)s->lo + i;
        if (i == 0 || !s->c[i - 1]) {
            prometheus__bucket_span__init(&store[k]);
            store[k].offset = (int32_t)(k == 0 ? idx : idx - end);
            sp[k] = &store[k];
            k++;
        }
        store[k - 1].length++;
        end = idx + 1;
        d[b++] = (int64_t)s->c[i] - prev;
        prev = (int64_t)s->c[i];
    }
    *spans_out = sp;
    *n_spans = ns;
    *deltas_out = d;
    *n_deltas = nb;
    return 0;
}

int prw_nh_encode(const prw_nhist *h, uint64_t count, double sum, int64_t ts_ms, Prometheus__Histogram *out)
{
    prometheus__histogram__init(out);
    out->count_case = PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT;
    out->count_int = count;
    out->sum = sum;
    out->schema = PRW_NH_SCHEMA;
    out->zero_threshold = PRW_NH_ZERO;
    out->zero_count_case = PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT;
    out->zero_count_int = h->zero;
    out->timestamp = ts_ms;
    if (side_encode(&h->pos, &out->positive_spans, &out->n_positive_spans, &out->positive_deltas,
                    &out->n_positive_deltas) != 0 ||
        side_encode(&h->neg, &out->negative_spans, &out->n_negative_spans, &out->negative_deltas,
                    &out->n_negative_deltas) != 0) {
        prw_nh_encoded_free(out);
        return -1;
    }
    return 0;
}

void prw_nh_encoded_free(Prometheus__Histogram *h)
{
    free(h->positive_spans);
    free(h->positive_deltas);
    free(h->negative_spans);
    free(h->negative_deltas);
    h->positive_spans = h->negative_spans = NULL;
    h->positive_deltas = h->negative_deltas = NULL;
}
