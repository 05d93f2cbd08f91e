/*
 * result_ndjson_time: the RFC 3339 times of json-out's and k6's Point lines
 * ("2026-12-07T01:02:03.123456789+01:00", "...Z", also "+0100") through
 * rfc3339.c, with the seconds of the last line's date kept: lines of one
 * second share them.
 */
#include <string.h>

#include "result_int.h"
#include "rfc3339.h"

#define NS_PER_S INT64_C(1000000000)

int rr__parse_time(const char *s, size_t len, int64_t *ns)
{
    return rfc3339_parse(s, len, true, ns);
}

int rr__parse_time_cached(rr_time_cache *c, const char *s, size_t len, int64_t *ns)
{
    int64_t add;
    if (len < 20)
        return -1;
    if (memcmp(s, c->prefix, 19) != 0) {
        /* the same bounds as rfc3339_parse: a day's margin for add */
        if (rfc3339_seconds(s, len, &c->sec) != 0 || c->sec <= INT64_MIN / NS_PER_S + 86400 ||
            c->sec >= INT64_MAX / NS_PER_S - 86400)
            return -1;
        memcpy(c->prefix, s, 19);
    }
    if (rfc3339_tail(s, len, true, &add) != 0)
        return -1;
    *ns = c->sec * NS_PER_S + add;
    return 0;
}
