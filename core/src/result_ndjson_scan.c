/*
 * result_ndjson_scan: the fields of one json-out line read without
 * building a JSON tree (result_int.h, rr_line).
 *
 * jansson spent 95% of `volley report`'s time on a json-out stream (a
 * tree, a hash table and a malloc per key of every line: 6 us a line, 25 s
 * for a minute at 5,000 requests/s). This scanner walks a line once and
 * keeps pointers into it. It reads the JSON grammar strictly but only its
 * plain part: a string with an escape or a byte past ASCII, a nesting
 * deeper than 32, anything malformed make it give up (0), and the caller
 * reads that line with jansson, which reads all of JSON and words the
 * error when there is one. Numbers go through strtod, whose decimal point
 * is the C locale's: volley never calls setlocale.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "result_int.h"

#define MAX_DEPTH 32

const char *const rr_tag_names[RR_NTAGS] = {"name", "scenario", "status", "error_code", "check", "group",
                                            "capture"};

typedef struct scan {
    char *p, *end;
} scan;

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* A string without escapes or non-ASCII bytes: its text and length (the
 * line is left as it is until the whole of it has been read). */
static bool str(scan *s, const char **out, size_t *len)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    char *start = ++s->p;
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p;
        if (c < 0x20 || c >= 0x80 || c == '\\')
            return false;
        s->p++;
    }
    if (s->p >= s->end)
        return false;
    if (out)
        *out = start;
    if (len)
        *len = (size_t)(s->p - start);
    s->p++;
    return true;
}

static bool num(scan *s, double *out)
{
    char *q = s->p;
    if (q < s->end && *q == '-')
        q++;
    if (q >= s->end || *q < '0' || *q > '9')
        return false;
    if (*q == '0')
        q++;
    else
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    if (q < s->end && *q == '.') {
        char *f = ++q;
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
        if (q == f)
            return false;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < s->end && (*q == '+' || *q == '-'))
            q++;
        char *e = q;
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
        if (q == e)
            return false;
    }
    /* The grammar above ends at a byte strtod stops at too; past a
     * double's range jansson words the error, for a skipped value too
     * (fuzz_ndjson_line: an unknown key's 0.08e555). */
    double v = strtod(s->p, NULL);
    if (!isfinite(v))
        return false;
    if (out)
        *out = v;
    s->p = q;
    return true;
}

static bool lit(scan *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool value(scan *s, int depth);

/* An object; each key's value goes to `field` (which reads it or skips it). */
typedef bool field_fn(scan *s, const char *key, size_t klen, rr_line *l, int depth);

static bool object(scan *s, int depth, field_fn *field, rr_line *l)
{
    if (depth > MAX_DEPTH || s->p >= s->end || *s->p != '{')
        return false;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        const char *key;
        size_t klen;
        ws(s);
        if (!str(s, &key, &klen))
            return false;
        ws(s);
        if (s->p >= s->end || *s->p != ':')
            return false;
        s->p++;
        ws(s);
        if (!(field ? field(s, key, klen, l, depth + 1) : value(s, depth + 1)))
            return false;
        ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return true;
        }
        return false;
    }
}

static bool array(scan *s, int depth)
{
    if (depth > MAX_DEPTH)
        return false;
    s->p++;
    ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return true;
    }
    for (;;) {
        ws(s);
        if (!value(s, depth + 1))
            return false;
        ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return true;
        }
        return false;
    }
}

/* Any value, skipped. */
static bool value(scan *s, int depth)
{
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '"': return str(s, NULL, NULL);
    case '{': return object(s, depth, NULL, NULL);
    case '[': return array(s, depth);
    case 't': return lit(s, "true");
    case 'f': return lit(s, "false");
    case 'n': return lit(s, "null");
    default: return num(s, NULL);
    }
}

static bool is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

/* A string value into *out, any other kind of value skipped (NULL). */
static bool str_or_skip(scan *s, const char **out, size_t *len, int depth)
{
    if (s->p < s->end && *s->p == '"')
        return str(s, out, len);
    *out = NULL;
    return value(s, depth);
}

static bool tags_field(scan *s, const char *key, size_t klen, rr_line *l, int depth)
{
    for (int k = 0; k < RR_NTAGS; k++)
        if (is(key, klen, rr_tag_names[k]))
            return str_or_skip(s, &l->tag[k], &l->tag_len[k], depth);
    return value(s, depth);
}

static bool data_field(scan *s, const char *key, size_t klen, rr_line *l, int depth)
{
    if (is(key, klen, "time"))
        return str_or_skip(s, &l->time, &l->time_len, depth);
    if (is(key, klen, "value")) {
        if (s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
            l->has_value = true;
            return num(s, &l->value);
        }
        l->has_value = false;
        return value(s, depth);
    }
    if (is(key, klen, "tags")) {
        for (int k = 0; k < RR_NTAGS; k++)
            l->tag[k] = NULL;
        if (s->p < s->end && *s->p == '{')
            return object(s, depth, tags_field, l);
        return value(s, depth);
    }
    return value(s, depth);
}

static bool top_field(scan *s, const char *key, size_t klen, rr_line *l, int depth)
{
    if (is(key, klen, "type"))
        return str_or_skip(s, &l->type, &l->type_len, depth);
    if (is(key, klen, "metric"))
        return str_or_skip(s, &l->metric, &l->metric_len, depth);
    if (is(key, klen, "data")) {
        l->time = NULL;
        l->has_value = false;
        for (int k = 0; k < RR_NTAGS; k++)
            l->tag[k] = NULL;
        if (s->p < s->end && *s->p == '{')
            return object(s, depth, data_field, l);
        return value(s, depth);
    }
    return value(s, depth);
}

int rr__scan_line(char *line, size_t len, rr_line *l)
{
    memset(l, 0, sizeof *l);
    scan s = {.p = line, .end = line + len};
    ws(&s);
    if (!object(&s, 0, top_field, l))
        return 0;
    ws(&s);
    if (s.p != s.end || !l->type || !is(l->type, l->type_len, "Point"))
        return 0;
    /* Read through: the strings kept end where their closing quotes were. */
    char *ends[3 + RR_NTAGS] = {l->type ? (char *)l->type + l->type_len : NULL,
                                l->metric ? (char *)l->metric + l->metric_len : NULL,
                                l->time ? (char *)l->time + l->time_len : NULL};
    for (int k = 0; k < RR_NTAGS; k++)
        ends[3 + k] = l->tag[k] ? (char *)l->tag[k] + l->tag_len[k] : NULL;
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++)
        if (ends[k])
            *ends[k] = 0;
    return 1;
}
