/*
 * A push's body: the series that changed since the last push as a
 * Remote-Write 1.0 WriteRequest (remote.proto through protoc-c), then
 * snappy's block format, as the specification asks. The protobuf-c
 * structs are built once per push in three arrays, pointing into the
 * series' own label strings; a trend's stats share every label but
 * __name__. A trend kept as a native histogram is one time series with
 * one histogram and no sample.
 */
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "prw_int.h"
#include "remote.pb-c.h"

void prw_buf_free(prw_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* A changed series' timestamp: its newest sample's, or just after the
 * last one pushed when only older samples came (a late worker's batch):
 * Prometheus refuses a second value at a timestamp it has. */
static int64_t stamp(const prw_series *s)
{
    return s->latest_ms > s->pushed_ms ? s->latest_ms : s->pushed_ms + 1;
}

int prw_encode_changed(prw_table *t, prw_buf *out, size_t *n_series)
{
    *n_series = 0;
    out->len = 0;
    size_t n_ts = 0, n_lab = 0, n_nh = 0;
    for (size_t i = 0; i < t->n; i++) {
        const prw_series *s = t->s[i];
        if (!s->changed)
            continue;
        n_nh += s->nh != NULL;
        n_ts += s->n_names;
        n_lab += s->n_labels - 1 + s->n_names;   /* shared ones, a __name__ each */
    }
    if (n_ts == 0)
        return 0;
    int rc = -1;
    Prometheus__TimeSeries *ts = calloc(n_ts, sizeof *ts);
    Prometheus__TimeSeries **ts_p = calloc(n_ts, sizeof *ts_p);
    Prometheus__Sample *smp = calloc(n_ts, sizeof *smp);
    Prometheus__Sample **smp_p = calloc(n_ts, sizeof *smp_p);
    Prometheus__Label *lab = calloc(n_lab, sizeof *lab);
    size_t n_lab_p = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->s[i]->changed)
            n_lab_p += t->s[i]->n_labels * t->s[i]->n_names;
    Prometheus__Label **lab_p = calloc(n_lab_p, sizeof *lab_p);
    Prometheus__Histogram *hs = calloc(n_nh ? n_nh : 1, sizeof *hs);
    Prometheus__Histogram **hs_p = calloc(n_nh ? n_nh : 1, sizeof *hs_p);
    uint8_t *packed = NULL;
    size_t k = 0, l = 0, lp = 0, hk = 0;
    if (!ts || !ts_p || !smp || !smp_p || !lab || !lab_p || !hs || !hs_p)
        goto done;
    for (size_t i = 0; i < t->n; i++) {
        prw_series *s = t->s[i];
        if (!s->changed)
            continue;
        /* the labels every time series of this series shares */
        size_t shared = l;
        for (size_t j = 0; j < s->n_labels; j++) {
            if (j == s->name_at)
                continue;
            prometheus__label__init(&lab[l]);
            lab[l].name = s->labels[j].name;
            lab[l].value = s->labels[j].value;
            l++;
        }
        int64_t when = stamp(s);
        for (size_t m = 0; m < s->n_names; m++) {
            Prometheus__Label *name = &lab[l++];
            prometheus__label__init(name);
            name->name = (char *)"__name__";
            name->value = s->names[m];
            prometheus__time_series__init(&ts[k]);
            ts[k].n_labels = s->n_labels;
            ts[k].labels = &lab_p[lp];
            for (size_t j = 0, sh = shared; j < s->n_labels; j++)
                lab_p[lp++] = j == s->name_at ? name : &lab[sh++];
            if (s->nh) {
                if (prw_nh_encode(s->nh, s->count, s->time ? s->sum / 1000.0 : s->sum, when, &hs[hk]) != 0)
                    goto done;
                hs_p[hk] = &hs[hk];
                ts[k].n_histograms = 1;
                ts[k].histograms = &hs_p[hk++];
            } else {
                prometheus__sample__init(&smp[k]);
                smp[k].value = prw_series_nth(t, s, m);
                smp[k].timestamp = when;
                smp_p[k] = &smp[k];
                ts[k].n_samples = 1;
                ts[k].samples = &smp_p[k];
            }
            ts_p[k] = &ts[k];
            k++;
        }
    }
    Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
    req.n_timeseries = n_ts;
    req.timeseries = ts_p;
    size_t plen = prometheus__write_request__get_packed_size(&req);
    packed = malloc(plen ? plen : 1);
    size_t need = snappy_max_compressed_length(plen);
    if (!packed)
        goto done;
    prometheus__write_request__pack(&req, packed);
    if (out->cap < need) {
        uint8_t *d = realloc(out->data, need);
        if (!d)
            goto done;
        out->data = d;
        out->cap = need;
    }
    size_t clen = need;
    if (snappy_compress((const char *)packed, plen, (char *)out->data, &clen) != SNAPPY_OK)
        goto done;
    out->len = clen;
    for (size_t i = 0; i < t->n; i++) {
        prw_series *s = t->s[i];
        if (s->changed) {
            s->pushed_ms = stamp(s);
            s->changed = false;
        }
    }
    *n_series = n_ts;
    rc = 0;
done:
    for (size_t i = 0; i < hk; i++)
        prw_nh_encoded_free(&hs[i]);
    free(hs);
    free(hs_p);
    free(packed);
    free(ts);
    free(ts_p);
    free(smp);
    free(smp_p);
    free(lab);
    free(lab_p);
    return rc;
}
