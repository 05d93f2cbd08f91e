#include "threshold.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPR_EXPECTED \
    "expected \"<aggregation> <operator> <number>\" such as \"p(95)<500\" or \"rate<0.01\""
#define KEY_EXPECTED \
    "expected a metric name such as \"http_req_duration\" or " \
    "\"http_req_duration{status:200,method:GET}\""

/* k6 tries the operators in this order, so "<=" wins over "<" and "==="
 * over "==". */
static const struct {
    const char *text;
    th_op op;
} ops[] = {
    { "<=", TH_OP_LE }, { "<", TH_OP_LT },   { ">=", TH_OP_GE }, { ">", TH_OP_GT },
    { "===", TH_OP_EQ }, { "==", TH_OP_EQ }, { "!=", TH_OP_NE },
};

static const struct {
    const char *name;
    th_agg agg;
} aggs[] = {
    { "avg", TH_AGG_AVG },   { "min", TH_AGG_MIN },     { "max", TH_AGG_MAX },
    { "med", TH_AGG_MED },   { "rate", TH_AGG_RATE },   { "count", TH_AGG_COUNT },
    { "value", TH_AGG_VALUE },
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Narrows [*b, *e) past surrounding whitespace. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

static bool span_is(const char *b, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - b) == n && memcmp(b, word, n) == 0;
}

/* Digits past the 2^53 mantissa limit: a plain accumulation, within an ulp
 * or so, which is beyond any meaningful threshold precision anyway. */
static double decimal_slow(const char *b, const char *e)
{
    double v = 0, scale = 1;
    bool frac = false;
    for (; b < e; b++) {
        if (*b == '.')
            frac = true;
        else if (!frac)
            v = v * 10 + (*b - '0');
        else
            v += (*b - '0') * (scale /= 10);
    }
    return v;
}

/* digit+ ("." digit+)? without strtod, whose decimal point follows the
 * locale. While the digits fit in 2^53 and the fraction has at most 22
 * digits, both operands of the division are exact doubles, so the result
 * is correctly rounded, the same value a compiler gives the literal. */
static bool parse_decimal(const char *b, const char *e, double *out)
{
    if (b == e || !is_digit(*b) || !is_digit(e[-1]))
        return false;
    uint64_t m = 0;
    int frac_digits = 0;
    bool seen_dot = false, exact = true;
    for (const char *p = b; p < e; p++) {
        if (*p == '.') {
            if (seen_dot)
                return false;
            seen_dot = true;
        } else if (!is_digit(*p)) {
            return false;
        } else if (exact) {
            exact = m <= ((UINT64_C(1) << 53) - 9) / 10;
            m = m * 10 + (uint64_t)(*p - '0');
            frac_digits += seen_dot;
        }
    }
    if (!exact || frac_digits > 22) {
        *out = decimal_slow(b, e);
        return isfinite(*out);
    }
    double div = 1;
    for (int i = 0; i < frac_digits; i++)
        div *= 10;
    *out = (double)m / div;
    return true;
}

static const char *parse_agg(const char *b, const char *e, th_expr *out)
{
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
        if (span_is(b, e, aggs[i].name)) {
            out->agg = aggs[i].agg;
            return NULL;
        }
    if (b == e)
        return "missing aggregation";
    if (e - b < 3 || memcmp(b, "p(", 2) != 0 || e[-1] != ')')
        return "unknown aggregation; use avg, min, max, med, p(N), rate, count or value";
    if (!parse_decimal(b + 2, e - 1, &out->pct))
        return "the percentile in p(N) must be a number such as 95 or 99.9";
    if (out->pct > 100)
        return "the percentile in p(N) must be within [0,100]";
    out->agg = TH_AGG_PCT;
    return NULL;
}

/* After "baseline": nothing, "*FACTOR", "+N%" or "+N" (in the metric's
 * unit): the target is baseline * factor + add, set once the baseline is
 * read (th_set_baseline). */
static const char *parse_baseline(const char *b, const char *e, th_expr *out)
{
    out->relative = true;
    out->factor = 1;
    out->add = 0;
    out->target = NAN;
    trim(&b, &e);
    if (b == e)
        return NULL;
    const char *form = "after baseline, expected *FACTOR, +N% or +N, such as baseline*1.1, "
                       "baseline+10% or baseline+50";
    char op = *b++;
    trim(&b, &e);
    bool pct = b < e && e[-1] == '%';
    if (pct)
        e--;
    trim(&b, &e);
    double n;
    if ((op != '*' && op != '+') || (op == '*' && pct) || !parse_decimal(b, e, &n))
        return form;
    if (op == '*')
        out->factor = n;
    else if (pct)
        out->factor = 1 + n / 100;
    else
        out->add = n;
    return NULL;
}

static const char *parse_expr(const char *src, th_expr *out)
{
    const char *b = src, *e = src + strlen(src);
    trim(&b, &e);
    const char *at = b + strcspn(b, "<>=!");
    if (at >= e)
        return "missing operator; use <, <=, >, >=, ==, === or !=";
    size_t op_len = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !op_len; i++)
        if (strncmp(at, ops[i].text, strlen(ops[i].text)) == 0) {
            out->op = ops[i].op;
            op_len = strlen(ops[i].text);
        }
    if (!op_len)
        return "unknown operator; use <, <=, >, >=, ==, === or !=";
    const char *lb = b, *le = at, *rb = at + op_len, *re = e;
    trim(&lb, &le);
    trim(&rb, &re);
    const char *why = parse_agg(lb, le, out);
    if (why)
        return why;
    if (re - rb >= 8 && memcmp(rb, "baseline", 8) == 0)
        return parse_baseline(rb + 8, re, out);
    if (!parse_decimal(rb, re, &out->target))
        return "the right-hand side must be a non-negative number such as 500 or 0.01, or "
               "baseline (the same aggregation in the --baseline run) such as baseline*1.1 "
               "or baseline+10%";
    return NULL;
}

int th_parse(const char *src, th_expr *out, char *err, size_t errcap)
{
    th_expr e = { 0 };
    const char *why = parse_expr(src ? src : "", &e);
    if (why) {
        if (err && errcap)
            snprintf(err, errcap, EXPR_EXPECTED "; got \"%.60s%s\" (%s)", src ? src : "",
                     src && strlen(src) > 60 ? "..." : "", why);
        return -1;
    }
    *out = e;
    return 0;
}

bool th_agg_allowed(th_agg agg, volley_metric_type type)
{
    switch (type) {
    case VOLLEY_METRIC_COUNTER:
        return agg == TH_AGG_COUNT || agg == TH_AGG_RATE;
    case VOLLEY_METRIC_GAUGE:
        return agg == TH_AGG_VALUE;
    case VOLLEY_METRIC_RATE:
        return agg == TH_AGG_RATE;
    case VOLLEY_METRIC_TREND:
        return agg == TH_AGG_AVG || agg == TH_AGG_MIN || agg == TH_AGG_MAX ||
               agg == TH_AGG_MED || agg == TH_AGG_PCT;
    }
    return false;
}

const char *th_aggs_for(volley_metric_type type)
{
    switch (type) {
    case VOLLEY_METRIC_COUNTER:
        return "count, rate";
    case VOLLEY_METRIC_GAUGE:
        return "value";
    case VOLLEY_METRIC_RATE:
        return "rate";
    case VOLLEY_METRIC_TREND:
        return "avg, min, max, med, p(N)";
    }
    return "";
}

void th_set_baseline(th_expr *e, double baseline)
{
    if (!e->relative)
        return;
    e->baseline = baseline;
    e->target = baseline * e->factor + e->add;
    e->baseline_state = isfinite(baseline) ? TH_BASELINE_SET : TH_BASELINE_MISSING;
}

/* IEEE semantics: a NaN aggregate fails every operator except != . */
bool th_holds(const th_expr *e, double lhs)
{
    switch (e->op) {
    case TH_OP_LT:
        return lhs < e->target;
    case TH_OP_LE:
        return lhs <= e->target;
    case TH_OP_GT:
        return lhs > e->target;
    case TH_OP_GE:
        return lhs >= e->target;
    case TH_OP_EQ:
        return lhs == e->target;
    case TH_OP_NE:
        return lhs != e->target;
    }
    return false;
}

void th_agg_label(const th_expr *e, char *buf, size_t cap)
{
    if (e->agg == TH_AGG_PCT) {
        snprintf(buf, cap, "p(%g)", e->pct);
        return;
    }
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
        if (aggs[i].agg == e->agg) {
            snprintf(buf, cap, "%s", aggs[i].name);
            return;
        }
    snprintf(buf, cap, "?");
}

static char *dup_span(const char *b, const char *e)
{
    char *s = malloc((size_t)(e - b) + 1);
    if (s) {
        memcpy(s, b, (size_t)(e - b));
        s[e - b] = '\0';
    }
    return s;
}

/* One "key:value" between commas. The slot is counted before the copies
 * are made so th_key_free releases whatever a failed copy left behind. */
static const char *parse_filter(const char *b, const char *e, th_metric_key *out)
{
    trim(&b, &e);
    if (b == e)
        return "empty filter between braces or commas";
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (!colon)
        return "a filter must be tag:value";
    const char *kb = b, *ke = colon, *vb = colon + 1, *ve = e;
    trim(&kb, &ke);
    trim(&vb, &ve);
    if (kb == ke)
        return "empty tag name in a filter";
    if (vb == ve)
        return "empty tag value in a filter";
    for (size_t i = 0; i < out->n_filters; i++)
        if (span_is(kb, ke, out->filters[i].key))
            return "a tag appears twice in the filters";
    th_tag_filter *f = &out->filters[out->n_filters++];
    f->key = dup_span(kb, ke);
    f->value = dup_span(vb, ve);
    return f->key && f->value ? NULL : "out of memory";
}

static const char *parse_key(const char *key, th_metric_key *out)
{
    const char *end = key + strlen(key);
    const char *open = strchr(key, '{'), *close = strrchr(key, '}');
    if (!open != !close || (open && close < open))
        return "unbalanced braces";
    if (close && close + 1 != end)
        return "nothing may follow the closing brace";
    const char *nb = key, *ne = open ? open : end;
    trim(&nb, &ne);
    if (nb == ne)
        return "empty metric name";
    if (!(out->name = dup_span(nb, ne)))
        return "out of memory";
    if (!open)
        return NULL;
    if (memchr(open + 1, '{', (size_t)(close - open - 1)) ||
        memchr(open + 1, '}', (size_t)(close - open - 1)))
        return "unbalanced braces";
    size_t n = 1;
    for (const char *p = open + 1; p < close; p++)
        n += *p == ',';
    if (!(out->filters = calloc(n, sizeof *out->filters)))
        return "out of memory";
    for (const char *p = open + 1; p <= close;) {
        const char *comma = memchr(p, ',', (size_t)(close - p));
        const char *seg_end = comma ? comma : close;
        const char *why = parse_filter(p, seg_end, out);
        if (why)
            return why;
        p = seg_end + 1;
    }
    return NULL;
}

int th_parse_metric_key(const char *key, th_metric_key *out, char *err,
                        size_t errcap)
{
    memset(out, 0, sizeof *out);
    const char *why = parse_key(key ? key : "", out);
    if (!why)
        return 0;
    th_key_free(out);
    if (err && errcap)
        snprintf(err, errcap, KEY_EXPECTED "; got \"%.80s%s\" (%s)", key ? key : "",
                 key && strlen(key) > 80 ? "..." : "", why);
    return -1;
}

void th_key_free(th_metric_key *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n_filters; i++) {
        free(k->filters[i].key);
        free(k->filters[i].value);
    }
    free(k->filters);
    free(k->name);
    memset(k, 0, sizeof *k);
}
