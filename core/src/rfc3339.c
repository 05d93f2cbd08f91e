/* rfc3339: see rfc3339.h. */
#include "rfc3339.h"

#define NS_PER_S INT64_C(1000000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic:
 * 400-year cycles of 146097 days). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
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

int rfc3339_seconds(const char *s, size_t len, int64_t *sec)
{
    int64_t y, mo, dd, h, mi, se;
    if (len < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &dd) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || dd < 1 || dd > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return -1;
    *sec = days_from_civil(y, mo, dd) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

int rfc3339_tail(const char *s, size_t len, bool colonless, int64_t *add)
{
    size_t i = 19;
    int64_t frac = 0, scale = NS_PER_S;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
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
        if ((!colon && !colonless) || i + (colon ? 6 : 5) != len || !digits(s + i + 1, 2, &oh) ||
            !digits(s + i + (colon ? 4 : 3), 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i = len;
    } else {
        return -1;   /* RFC 3339 has no local time without an offset */
    }
    if (i != len)
        return -1;
    *add = frac - off * NS_PER_S;
    return 0;
}

int rfc3339_parse(const char *s, size_t len, bool colonless, int64_t *ns)
{
    int64_t sec, add;
    if (rfc3339_seconds(s, len, &sec) != 0 || rfc3339_tail(s, len, colonless, &add) != 0)
        return -1;
    /* a day's margin for the offset and fraction in add */
    if (sec <= INT64_MIN / NS_PER_S + 86400 || sec >= INT64_MAX / NS_PER_S - 86400)
        return -1;
    *ns = sec * NS_PER_S + add;
    return 0;
}
