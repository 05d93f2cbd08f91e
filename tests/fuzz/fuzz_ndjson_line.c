/* libFuzzer: a json-out line read by result_ndjson_scan.c, checked against
 * jansson: when the scanner reads a line, jansson reads it too and finds
 * the same metric, time, value and tags. Times go through rr__parse_time. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result_int.h"

static const char *str_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    rr_line l;
    int got = rr__scan_line(line, size, &l);
    if (!got && memcmp(line, data, size) != 0)
        abort();   /* a line given up on is left as it was */
    if (got) {
        json_error_t je;
        json_t *o = json_loadb((const char *)data, size, JSON_DECODE_INT_AS_REAL, &je);
        if (!o)
            abort();
        json_t *d = json_object_get(o, "data"), *tags = json_object_get(d, "tags");
        json_t *v = json_object_get(d, "value");
        if (!same(l.metric, str_at(o, "metric")) || !same(l.time, str_at(d, "time")) ||
            strcmp(str_at(o, "type"), "Point") != 0 || l.has_value != json_is_number(v) ||
            (l.has_value && l.value != json_number_value(v)))
            abort();
        for (int k = 0; k < RR_NTAGS; k++)
            if (!same(l.tag[k], str_at(tags, rr_tag_names[k])))
                abort();
        json_decref(o);
        int64_t ns;
        if (l.time)
            (void)rr__parse_time(l.time, l.time_len, &ns);
    }
    free(line);
    return 0;
}
