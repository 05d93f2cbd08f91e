/*
 * result_ndjson_time: the RFC 3339 times of json-out's and k6's Point lines
 * ("2026-12-07T01:02:03.123456789+01:00", "...Z") as nanoseconds since
 * the epoch, with no time zone database and no libc time parsing: the
 * date is counted in days of the proleptic Gregorian calendar.
 */
#include <stdbool.h>
#include <string.h>

#include "result_int.h"

#define NS_PER_S INT64_C(1000000000)

/* Days from 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t dd)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS" as seconds since the epoch, its offset aside. */
static int civil_seconds(const char *s, int64_t *sec)
{
    int64_t y, mo, dd, h, mi, se;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &dd) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    *sec = days_from_civil(y, mo, dd) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

/* The fraction and the offset after the seconds: nanoseconds to add. */
static int time_tail(const char *s, size_t len, int64_t *add)
{
    size_t i = 19;
    int64_t frac = 0, scale = NS_PER_S;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (scale > 1) {   /* digits past nanoseconds are dropped */
                scale /= 10;
                frac += (s[i] - '0') * scale;
            }
        }
        if (i == start)
            return -1;
    }
    int64_t off = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int64_t oh, om;
        bool colon = i + 3 < len && s[i + 3] == ':';
        if (i + (colon ? 6 : 5) != len || !digits(s + i + 1, 2, &oh) || !digits(s + i + (colon ? 4 : 3), 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i = len;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    *add = frac - off * NS_PER_S;
    return 0;
}

int rr__parse_time(const char *s, size_t len, int64_t *ns)
{
    int64_t sec, add;
    if (len < 20 || civil_seconds(s, &sec) != 0 || time_tail(s, len, &add) != 0)
        return -1;
    *ns = sec * NS_PER_S + add;
    return 0;
}

int rr__parse_time_cached(rr_time_cache *c, const char *s, size_t len, int64_t *ns)
{
    int64_t add;
    if (len < 20)
        return -1;
    if (memcmp(s, c->prefix, 19) != 0) {
        if (civil_seconds(s, &c->sec) != 0)
            return -1;
        memcpy(c->prefix, s, 19);
    }
    if (time_tail(s, len, &add) != 0)
        return -1;
    *ns = c->sec * NS_PER_S + add;
    return 0;
}
