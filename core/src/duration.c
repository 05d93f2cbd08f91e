#include "duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_US INT64_C(1000)
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define NS_PER_MIN (60 * NS_PER_S)
#define NS_PER_H (60 * NS_PER_MIN)

#define TOO_LARGE "too large, the limit is about 292 years"

/* rank orders units from largest to smallest; a combined duration must use
 * strictly increasing ranks, which rules out both "1s1s" and "1s1m". Both
 * micro signs (U+00B5 and U+03BC) are accepted, as in Go. */
static const struct unit {
    const char *name;
    int64_t ns;
    int rank;
} units[] = {
    { "h", NS_PER_H, 0 },   { "m", NS_PER_MIN, 1 }, { "s", NS_PER_S, 2 },
    { "ms", NS_PER_MS, 3 }, { "us", NS_PER_US, 4 }, { "\xc2\xb5s", NS_PER_US, 4 },
    { "\xce\xbcs", NS_PER_US, 4 }, { "ns", 1, 5 },
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int fail(const char *s, const char *why, char *err, size_t errcap)
{
    if (err && errcap)
        snprintf(err, errcap, "expected %s; got \"%.40s%s\" (%s)", DURATION_EXPECTED,
                 s, strlen(s) > 40 ? "..." : "", why);
    return -1;
}

/* One "digits[.digits]" token. Leaves *p after it; the fraction, if any, is
 * returned as a pointer/length so it can be scaled exactly later. */
static const char *scan_number(const char **p, uint64_t *whole,
                               const char **frac, size_t *frac_len)
{
    const char *q = *p;
    if (*q == '-')
        return "negative durations are not allowed";
    if (is_space(*q))
        return "spaces are not allowed";
    if (!is_digit(*q))
        return "a number must come first";
    *whole = 0;
    for (; is_digit(*q); q++) {
        uint64_t d = (uint64_t)(*q - '0');
        if (*whole > ((uint64_t)INT64_MAX - d) / 10)
            return TOO_LARGE;
        *whole = *whole * 10 + d;
    }
    *frac = NULL;
    *frac_len = 0;
    if (*q == '.') {
        *frac = ++q;
        while (is_digit(*q))
            q++;
        *frac_len = (size_t)(q - *frac);
        if (*frac_len == 0)
            return "malformed number";
    }
    if (*q == '.')
        return "malformed number";
    *p = q;
    return NULL;
}

/* floor(0.d1d2...dn * unit) computed right to left: each step divides by
 * ten and flooring at every step gives the same result as flooring once,
 * so any number of digits is exact and nothing overflows. */
static int64_t scale_fraction(const char *frac, size_t len, int64_t unit)
{
    int64_t x = 0;
    while (len-- > 0)
        x = ((frac[len] - '0') * unit + x) / 10;
    return x;
}

static const struct unit *find_unit(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, name, len) == 0)
            return &units[i];
    return NULL;
}

/* Adds number * unit to *total; the reason on overflow. */
static const char *accumulate(int64_t *total, uint64_t whole, const char *frac,
                              size_t frac_len, int64_t unit)
{
    if (whole > (uint64_t)(INT64_MAX / unit))
        return TOO_LARGE;
    int64_t part = (int64_t)whole * unit;
    int64_t f = scale_fraction(frac, frac_len, unit);
    if (part > INT64_MAX - f)
        return TOO_LARGE;
    part += f;
    if (*total > INT64_MAX - part)
        return TOO_LARGE;
    *total += part;
    return NULL;
}

static const char *parse(const char *s, int64_t *out)
{
    int64_t total = 0;
    int last_rank = -1;
    const char *p = s;
    if (*p == '\0')
        return "empty";
    while (*p) {
        uint64_t whole;
        const char *frac, *why;
        size_t frac_len;
        if ((why = scan_number(&p, &whole, &frac, &frac_len)))
            return why;
        if (*p == '\0' && last_rank < 0) {   /* bare number: seconds */
            *out = 0;
            return accumulate(out, whole, frac, frac_len, NS_PER_S);
        }
        const char *name = p;
        while (*p && !is_digit(*p) && *p != '.' && !is_space(*p))
            p++;
        if (p == name)
            return is_space(*p) ? "spaces are not allowed" : "missing unit";
        const struct unit *u = find_unit(name, (size_t)(p - name));
        if (!u)
            return "unknown unit; use h, m, s, ms, us or ns";
        if (u->rank <= last_rank)
            return "units must each appear once, largest first: h, m, s, ms, us, ns";
        last_rank = u->rank;
        if ((why = accumulate(&total, whole, frac, frac_len, u->ns)))
            return why;
    }
    *out = total;
    return NULL;
}

int duration_parse(const char *s, int64_t *ns, char *err, size_t errcap)
{
    int64_t v;
    if (!s)
        s = "";
    const char *why = parse(s, &v);
    if (why)
        return fail(s, why, err, errcap);
    *ns = v;
    return 0;
}

/* v in units of 10^-prec, printed with trailing fractional zeros dropped. */
static void put_fixed(char *buf, size_t cap, uint64_t v, int prec, const char *unit)
{
    uint64_t scale = 1;
    for (int i = 0; i < prec; i++)
        scale *= 10;
    unsigned long long whole = v / scale, frac = v % scale;
    if (frac == 0) {
        snprintf(buf, cap, "%llu%s", whole, unit);
        return;
    }
    while (frac % 10 == 0) {
        frac /= 10;
        prec--;
    }
    snprintf(buf, cap, "%llu.%0*llu%s", whole, prec, frac, unit);
}

/* Go's time.Duration.String: below a second the largest unit that keeps
 * the integer part non-zero; from a second up, h/m/s with every smaller
 * unit written once a larger one is, so "2h0m0s" and "1m30s". */
const char *duration_format(int64_t ns, char *buf, size_t cap)
{
    char tmp[48];
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    size_t n = 0;
    if (ns < 0)
        tmp[n++] = '-';
    if (u == 0)
        snprintf(tmp, sizeof tmp, "0s");
    else if (u < (uint64_t)NS_PER_US)
        snprintf(tmp + n, sizeof tmp - n, "%lluns", (unsigned long long)u);
    else if (u < (uint64_t)NS_PER_MS)
        put_fixed(tmp + n, sizeof tmp - n, u, 3, "\xc2\xb5s");
    else if (u < (uint64_t)NS_PER_S)
        put_fixed(tmp + n, sizeof tmp - n, u, 6, "ms");
    else {
        unsigned long long h = u / NS_PER_H, m = u / NS_PER_MIN % 60;
        if (h)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%lluh", h);
        if (h || m)
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "%llum", m);
        put_fixed(tmp + n, sizeof tmp - n, u % NS_PER_MIN, 9, "s");
    }
    if (cap)
        snprintf(buf, cap, "%s", tmp);
    return buf;
}

const char *duration_format_limit(int64_t ns, char *buf, size_t cap)
{
    static const struct {
        int64_t ns;
        const char *unit;
    } limit_units[] = {{24 * NS_PER_H, " days"}, {NS_PER_H, "h"},   {NS_PER_MIN, "m"},
                       {NS_PER_S, "s"},          {NS_PER_MS, "ms"}, {NS_PER_US, "us"},
                       {1, "ns"}};
    if (ns <= 0) {
        snprintf(buf, cap, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof limit_units / sizeof limit_units[0]; i++) {
        int64_t q = ns / limit_units[i].ns;
        bool whole = ns % limit_units[i].ns == 0;
        if (!whole || (i == 0 && q < 2) || (i == 2 && q < 2))
            continue;
        snprintf(buf, cap, "%lld%s", (long long)q, limit_units[i].unit);
        return buf;
    }
    return buf;
}
