/* Names as k6's prometheus-rw output makes them, and what Prometheus
 * accepts as metric and label names. Pure: unit-tested alone. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prw_int.h"

static const struct {
    const char *name;
    prw_stat_kind kind;
} fixed[] = {{"avg", PRW_STAT_AVG}, {"min", PRW_STAT_MIN},     {"med", PRW_STAT_MED},
             {"max", PRW_STAT_MAX}, {"count", PRW_STAT_COUNT}, {"sum", PRW_STAT_SUM}};

int prw_stat_parse(const char *text, prw_stat *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(text, fixed[i].name) == 0) {
            out->kind = fixed[i].kind;
            snprintf(out->suffix, sizeof out->suffix, "%s", fixed[i].name);
            return 0;
        }
    }
    size_t len = strlen(text);
    if (len < 4 || strncmp(text, "p(", 2) != 0 || text[len - 1] != ')') {
        snprintf(err, errcap, "trend_stats: unknown stat \"%s\": expected avg, min, med, max, "
                              "count, sum or p(N) such as p(99) or p(99.9)", text);
        return -1;
    }
    /* The digits as written name the series (p(99.9) -> p999, as k6). */
    const char *num = text + 2;
    size_t nlen = len - 3;
    char digits[sizeof out->suffix - 1];
    size_t k = 0;
    bool ok = nlen > 0 && nlen < sizeof digits - 1;
    for (size_t i = 0; ok && i < nlen; i++) {
        char c = num[i];
        if (c >= '0' && c <= '9')
            digits[k++] = c;
        else if (c != '.')
            ok = false;
    }
    char *end = NULL;
    errno = 0;
    double p = ok ? strtod(num, &end) : NAN;
    if (!ok || k == 0 || errno || end != num + nlen || !(p >= 0 && p <= 100)) {
        snprintf(err, errcap, "trend_stats: invalid percentile \"%s\": provide a number between "
                              "0 and 100, such as p(95) or p(99.9)", text);
        return -1;
    }
    digits[k] = '\0';
    out->kind = PRW_STAT_PCT;
    out->pct = p;
    snprintf(out->suffix, sizeof out->suffix, "p%s", digits);
    return 0;
}

static bool name_char(char c, bool first, bool colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':'))
        return true;
    return !first && c >= '0' && c <= '9';
}

/* Appends src to out[*n] with characters outside the name grammar as
 * '_'; a leading digit gets a '_' before it. */
static void put_name(char *out, size_t cap, size_t *n, const char *src, bool colon)
{
    for (const char *c = src; *c; c++) {
        bool first = *n == 0;
        if (first && *c >= '0' && *c <= '9') {
            if (*n + 1 < cap)
                out[*n] = '_';
            (*n)++;
            first = false;
        }
        if (*n + 1 < cap)
            out[*n] = name_char(*c, first, colon) ? *c : '_';
        (*n)++;
    }
}

static void put_text(char *out, size_t cap, size_t *n, const char *src)
{
    for (const char *c = src; *c; c++, (*n)++)
        if (*n + 1 < cap)
            out[*n] = *c;
}

size_t prw_series_name(char *out, size_t cap, const char *prefix, const char *metric,
                       volley_metric_type type, const char *stat_suffix)
{
    size_t n = 0;
    put_name(out, cap, &n, prefix ? prefix : "", true);
    put_name(out, cap, &n, metric, true);
    const char *suffix = type == VOLLEY_METRIC_COUNTER ? "total"
                         : type == VOLLEY_METRIC_RATE  ? "rate"
                         : type == VOLLEY_METRIC_TREND ? stat_suffix
                                                       : NULL;
    if (suffix && *suffix) {
        put_text(out, cap, &n, "_");
        put_name(out, cap, &n, suffix, true);
    }
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

size_t prw_label_name(char *out, size_t cap, const char *tag)
{
    size_t n = 0;
    put_name(out, cap, &n, tag, false);
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}
