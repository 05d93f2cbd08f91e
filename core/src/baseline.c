/*
 * baseline: a result file's end line as threshold targets (baseline.h).
 */
#include "baseline.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hdr.h"

bool baseline_wanted(const spec *s)
{
    for (size_t i = 0; i < s->n_thresholds; i++)
        if (s->thresholds[i].expr.relative)
            return true;
    return false;
}

/* The first and the last line of a (gzip or plain) file; both malloc'd. */
static int first_and_last(const char *path, char **first, char **last, char *err, size_t errcap)
{
    *first = *last = NULL;
    gzFile f = gzopen(path, "rb");   /* reads plain files as they are */
    if (!f) {
        snprintf(err, errcap, "--baseline %s: cannot open it", path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *line = malloc(cap);
    int rc = line ? 0 : -1;
    char chunk[1 << 16];
    int n;
    while (rc == 0 && (n = gzread(f, chunk, sizeof chunk)) > 0) {
        for (int i = 0; i < n && rc == 0; i++) {
            if (len + 1 >= cap) {
                char *more = realloc(line, cap * 2);
                if (!more) {
                    rc = -1;
                    break;
                }
                line = more;
                cap *= 2;
            }
            if (chunk[i] != '\n') {
                line[len++] = chunk[i];
                continue;
            }
            line[len] = '\0';
            char **to = *first ? last : first;
            free(*to);
            if (!(*to = strdup(line)))
                rc = -1;
            len = 0;
        }
    }
    if (n < 0 && rc == 0) {
        int zerr;
        snprintf(err, errcap, "--baseline %s: %s", path, gzerror(f, &zerr));
        rc = -2;
    }
    gzclose(f);
    free(line);
    if (rc == -1)
        snprintf(err, errcap, "--baseline %s: out of memory", path);
    if (rc == 0 && (!*first || !*last)) {
        snprintf(err, errcap, "--baseline %s: not a result file of a finished run (expected a "
                 "meta line, window lines and an end line: volley run --result FILE)", path);
        rc = -1;
    }
    if (rc) {
        free(*first);
        free(*last);
        *first = *last = NULL;
    }
    return rc ? -1 : 0;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A percentile from the state's histogram, as the run computes it. */
static double hist_pct(json_t *state, double pct)
{
    json_t *h = json_object_get(state, "h");
    if (!json_is_array(h))
        return NAN;
    hdr_hist *hh = calloc(1, sizeof *hh);
    if (!hh)
        return NAN;
    hdr_reset(hh);
    size_t i;
    json_t *pair;
    json_array_foreach(h, i, pair) {
        json_int_t slot = json_integer_value(json_array_get(pair, 0));
        json_int_t count = json_integer_value(json_array_get(pair, 1));
        if (slot < 0 || slot >= HDR_SLOTS || count <= 0)
            continue;
        int64_t lo = hdr_lowest_of((uint32_t)slot);
        hdr_record_n(hh, lo + (hdr_width_of((uint32_t)slot) - 1) / 2, (uint64_t)count);
    }
    double v = hh->total ? (double)hdr_percentile(hh, pct) / 1000.0 : NAN;
    free(hh);
    return v;
}

/* The aggregation of a threshold over a series' state; NaN: no data. */
static double state_value(json_t *state, const th_expr *e, volley_metric_type type,
                          double duration_s)
{
    double n = num(state, "n");
    if (!(n > 0))
        return type == VOLLEY_METRIC_COUNTER && e->agg == TH_AGG_COUNT ? 0 : NAN;
    switch (type) {
    case VOLLEY_METRIC_COUNTER:
        return e->agg == TH_AGG_RATE ? num(state, "sum") / duration_s : num(state, "sum");
    case VOLLEY_METRIC_RATE:
        return num(state, "nz") / n;
    case VOLLEY_METRIC_GAUGE:
        return num(state, "last");
    case VOLLEY_METRIC_TREND:
        break;
    }
    json_t *p = json_object_get(state, "p");
    char key[32];
    switch (e->agg) {
    case TH_AGG_AVG: return num(state, "avg");
    case TH_AGG_MIN: return num(state, "min");
    case TH_AGG_MAX: return num(state, "max");
    case TH_AGG_MED: return num(p, "50");
    case TH_AGG_PCT:
        /* The kept percentiles are the run's own (exact while it kept every value). */
        snprintf(key, sizeof key, "%g", e->pct);
        if (json_is_number(json_object_get(p, key)))
            return num(p, key);
        return hist_pct(state, e->pct);
    default:
        return NAN;
    }
}

int baseline_apply(const char *path, spec *s, const metrics_reg *reg, char *err, size_t errcap)
{
    char *first, *last;
    if (first_and_last(path, &first, &last, err, errcap) != 0)
        return -1;
    json_error_t je;
    json_t *meta = json_loads(first, 0, &je), *end = json_loads(last, 0, &je);
    free(first);
    free(last);
    int rc = -1;
    if (!meta || !end || strcmp(str(meta, "type"), "meta") != 0 || strcmp(str(end, "type"), "end") != 0) {
        snprintf(err, errcap, "--baseline %s: not a result file of a finished run (its first line "
                 "must be the meta line and its last the end line: volley run --result FILE)", path);
        goto out;
    }
    json_t *series = json_object_get(meta, "series"), *totals = json_object_get(end, "totals");
    double duration = num(end, "duration_s");
    for (size_t i = 0; i < s->n_thresholds; i++) {
        threshold *t = &s->thresholds[i];
        if (!t->expr.relative)
            continue;
        const char *want = reg->series[t->series].name;
        size_t k;
        json_t *sd;
        double v = NAN;
        json_array_foreach(series, k, sd) {
            if (strcmp(str(sd, "key"), want) != 0)
                continue;
            char id[24];
            snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(sd, "id")));
            json_t *state = json_object_get(totals, id);
            if (state)
                v = state_value(state, &t->expr, reg->metrics[t->metric].info.type, duration);
            break;
        }
        th_set_baseline(&t->expr, v);
    }
    rc = 0;
out:
    json_decref(meta);
    json_decref(end);
    return rc;
}
