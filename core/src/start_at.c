/* start_at: --start-at's time formats (see start_at.h). */
#include "start_at.h"

#include "rfc3339.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)

/* The date of a day count since 1970-01-01 (proleptic Gregorian; the
 * inverse of rfc3339.c's day count), for the messages' times. */
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

/* Colons in the offset, as RFC 3339 writes it, and no instant before the
 * epoch. */
static int parse_rfc3339(const char *s, int64_t *unix_ns)
{
    return rfc3339_parse(s, strlen(s), false, unix_ns) == 0 && *unix_ns >= 0 ? 0 : -1;
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
