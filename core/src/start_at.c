/* start_at: --start-at's time formats (see start_at.h). */
#include "start_at.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic:
 * 400-year cycles of 146097 days). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Exactly n digits at *p; advances. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* ".ddd": up to 9 digits kept as ns, further ones allowed and dropped. */
static bool fraction(const char **p, int64_t *ns)
{
    *ns = 0;
    if (**p != '.')
        return true;
    (*p)++;
    int n = 0;
    int64_t scale = NS_PER_S;
    while (**p >= '0' && **p <= '9') {
        if (n < 9) {
            scale /= 10;
            *ns += (**p - '0') * scale;
        }
        n++;
        (*p)++;
    }
    return n > 0;
}

static int parse_epoch(const char *s, int64_t *unix_ns)
{
    const char *p = s;
    int64_t sec = 0;
    int n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++) {
        if (sec > (INT64_MAX / NS_PER_S - 9) / 10)
            return -1;
        sec = sec * 10 + (*p - '0');
    }
    int64_t frac;
    if (n == 0 || !fraction(&p, &frac) || *p)
        return -1;
    *unix_ns = sec * NS_PER_S + frac;
    return 0;
}

static int parse_rfc3339(const char *s, int64_t *unix_ns)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return -1;
    int64_t frac;
    if (!fraction(&p, &frac))
        return -1;
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '+' ? 1 : -1;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
            return -1;
    } else {
        return -1;   /* RFC 3339 has no local time without an offset */
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60 || oh > 23 || om > 59)
        return -1;
    /* A leap second (:60) is the instant after :59, as POSIX time has it. */
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);
    if (t < 0 || t >= INT64_MAX / NS_PER_S)   /* beyond 2262 */
        return -1;
    *unix_ns = t * NS_PER_S + frac;
    return 0;
}

int start_at_parse(const char *s, int64_t *unix_ns, char *err, size_t errcap)
{
    bool dated = strlen(s) >= 5 && s[4] == '-';
    if ((dated ? parse_rfc3339(s, unix_ns) : parse_epoch(s, unix_ns)) == 0)
        return 0;
    snprintf(err, errcap, "expected %s, got \"%s\"", START_AT_EXPECTED, s);
    return -1;
}

int start_at_check(int64_t unix_ns, int64_t now_ns, char *err, size_t errcap)
{
    char at[40], now[40];
    start_at_format(unix_ns, at, sizeof at);
    start_at_format(now_ns, now, sizeof now);
    if (unix_ns <= now_ns) {
        snprintf(err, errcap, "%s is in the past (now is %s): instances started together "
                 "need a time still ahead of them all", at, now);
        return -1;
    }
    if (unix_ns - now_ns > START_AT_MAX_AHEAD_NS) {
        snprintf(err, errcap, "%s is more than 24h ahead (now is %s)", at, now);
        return -1;
    }
    return 0;
}

void start_at_format(int64_t unix_ns, char *buf, size_t cap)
{
    int64_t sec = unix_ns / NS_PER_S, ms = unix_ns % NS_PER_S / 1000000;
    if (ms < 0) {
        sec--;
        ms += 1000;
    }
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        days--;
        rem += 86400;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)ms);
}
