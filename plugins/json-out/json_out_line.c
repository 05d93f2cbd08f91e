/*
 * json_out_line: what a line says, in the format of k6's `--out json`.
 *
 * The parts that repeat are formatted once: a metric's name (the end of
 * each of its Point lines) when it is first seen, a tag set's JSON (minus
 * drop_tags) and the tags: filter's verdict when its pointer is first seen
 * (tag sets are interned and live until close, plugin.h), the date and
 * offset once per second. What is left per line is the time's fraction,
 * the value and a few copies: nothing is allocated per sample.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out_int.h"
#include "utf8.h"

/* Room for everything of a Point line but the tags and the metric name. */
#define FIXED_ROOM 256u
/* Formatted tag sets kept beyond this are formatted per line instead: the
 * cache stays bounded whatever tags a run makes up. */
#define JO_TAGTEXT_MAX (64u << 20)

#define PUT_LIT(w, lit) (memcpy((w), (lit), sizeof(lit) - 1), (w) + sizeof(lit) - 1)

/* ------------------------------------------------------------------------ */
/* Growable text                                                              */
/* ------------------------------------------------------------------------ */

static int text_reserve(jo_text *t, size_t extra)
{
    if (t->cap - t->len >= extra)
        return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap - t->len < extra)
        cap *= 2;
    char *p = realloc(t->data, cap);
    if (!p)
        return -1;
    t->data = p;
    t->cap = cap;
    return 0;
}

static int text_put(jo_text *t, const char *s, size_t n)
{
    if (text_reserve(t, n) != 0)
        return -1;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    return 0;
}

#define TEXT_LIT(t, lit) text_put((t), (lit), sizeof(lit) - 1)

/*
 * Appends s as a JSON string: quotes and backslashes escaped, control
 * characters as \u00XX, valid UTF-8 as is, and each byte that does not
 * start a valid sequence as U+FFFD (as Go's encoder, hence k6, does).
 */
static int text_string(jo_text *t, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    /* At most 6 bytes out per byte in, plus the quotes. */
    if (n > (SIZE_MAX - 2) / 6 || text_reserve(t, n * 6 + 2) != 0)
        return -1;
    char *w = t->data + t->len;
    *w++ = '"';
    for (;;) {
        unsigned c = *s;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *w++ = (char)c;
            s++;
        } else if (c == 0) {
            break;
        } else if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
            s++;
        } else if (c < 0x20) {
            w = PUT_LIT(w, "\\u00");
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
            s++;
        } else {
            size_t k = utf8_len(s);
            if (k) {
                memcpy(w, s, k);
                w += k;
                s += k;
            } else {
                w = PUT_LIT(w, "\xEF\xBF\xBD");
                s++;
            }
        }
    }
    *w++ = '"';
    t->len = (size_t)(w - t->data);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Numbers and times                                                         */
/* ------------------------------------------------------------------------ */

static char *put_uint(char *w, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}

static const double exact_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                     1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/*
 * Fast path for values in [1e-4, 1e15) that need at most 15 significant
 * digits, such as milliseconds computed from nanoseconds: the fewest
 * decimals d for which r / 10^d == |v| with r an integer. That division is
 * correctly rounded, as strtod is, so "r with d decimals" reads back as v,
 * and it is also what "%.15g" prints. NULL when the slow path is needed.
 */
static char *put_fixed(char *w, double v)
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return NULL;
    for (int d = 1; d < 16; d++) {
        double scaled = a * exact_pow10[d];
        if (scaled >= 1e15)
            return NULL;
        uint64_t ri = (uint64_t)(scaled + 0.5);   /* exact below 2^52 */
        if ((double)ri / exact_pow10[d] != a)
            continue;
        uint64_t scale = (uint64_t)exact_pow10[d];
        if (v < 0)
            *w++ = '-';
        w = put_uint(w, ri / scale);
        *w++ = '.';
        uint64_t frac = ri % scale;
        for (int i = d - 1; i >= 0; i--) {
            w[i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        return w + d;
    }
    return NULL;
}

/*
 * The shortest of "%.15g" and "%.17g" that reads back as the same double;
 * whole numbers up to 1e15 without an exponent; exponents without leading
 * zeros ("1e-9", as Go writes them). NaN and infinities are not JSON: null.
 * Needs 32 bytes of room; the caller runs it under the C locale.
 */
static char *put_value(char *w, double v)
{
    if (!isfinite(v))
        return PUT_LIT(w, "null");
    if (fabs(v) <= 1e15 && v == (double)(int64_t)v) {
        if (signbit(v))
            *w++ = '-';
        return put_uint(w, (uint64_t)fabs(v));
    }
    char *fixed = put_fixed(w, v);
    if (fixed)
        return fixed;
    int n = snprintf(w, 32, "%.15g", v);
    if (strtod(w, NULL) != v)
        n = snprintf(w, 32, "%.17g", v);
    char *e = memchr(w, 'e', (size_t)n);
    if (e) {
        char *digits = e + 2;   /* after "e+" or "e-" */
        char *p = digits;
        while (*p == '0' && p[1])
            p++;
        memmove(digits, p, (size_t)(w + n - p));
        n -= (int)(p - digits);
    }
    return w + n;
}

/* Formats the local date, time and UTC offset of `sec` into the cache. */
static void set_second(json_out *j, int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm = {0};
    long off = 0;
    if (localtime_r(&t, &tm))
        off = tm.tm_gmtoff;
    else
        gmtime_r(&t, &tm);
    int n = snprintf(j->prefix, sizeof j->prefix, "%04d-%02d-%02dT%02d:%02d:%02d",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    j->prefix_len = n > 0 && (size_t)n < sizeof j->prefix ? (size_t)n : 0;
    char sign = off < 0 ? '-' : '+';
    unsigned long a = (unsigned long)(off < 0 ? -off : off);
    unsigned hh = (unsigned)(a / 3600 % 100), mm = (unsigned)(a % 3600 / 60);
    j->offset[0] = sign;
    j->offset[1] = (char)('0' + hh / 10);
    j->offset[2] = (char)('0' + hh % 10);
    j->offset[3] = ':';
    j->offset[4] = (char)('0' + mm / 10);
    j->offset[5] = (char)('0' + mm % 10);
    j->sec = sec;
    j->sec_valid = true;
}

/* RFC 3339 with nanoseconds and the local offset, as k6 writes it:
 * "2026-11-28T06:18:01.123456789+02:00". Needs 64 + 16 bytes of room. */
static char *put_time(json_out *j, char *w, int64_t ns)
{
    int64_t sec = ns / JO_NS_PER_SEC;
    int64_t frac = ns % JO_NS_PER_SEC;
    if (frac < 0) {
        frac += JO_NS_PER_SEC;
        sec--;
    }
    if (!j->sec_valid || sec != j->sec)
        set_second(j, sec);
    memcpy(w, j->prefix, j->prefix_len);
    w += j->prefix_len;
    *w++ = '.';
    for (int i = 8; i >= 0; i--) {
        w[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    w += 9;
    memcpy(w, j->offset, 6);
    return w + 6;
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */
/* ------------------------------------------------------------------------ */

static const char *type_name(volley_metric_type t)
{
    switch (t) {
    case VOLLEY_METRIC_COUNTER: return "counter";
    case VOLLEY_METRIC_GAUGE: return "gauge";
    case VOLLEY_METRIC_RATE: return "rate";
    case VOLLEY_METRIC_TREND: return "trend";
    }
    return NULL;
}

static const char *contains_name(volley_metric_contains c)
{
    switch (c) {
    case VOLLEY_CONTAINS_DEFAULT: return "default";
    case VOLLEY_CONTAINS_TIME: return "time";
    case VOLLEY_CONTAINS_DATA: return "data";
    }
    return NULL;
}

static const volley_metric_info *info_of(json_out *j, uint32_t id)
{
    const volley_metric_info *m = j->host->metric_info(j->core, id);
    if (!m || !m->name || !type_name(m->type) || !contains_name(m->contains))
        return NULL;
    return m;
}

/* The metric's entry, filled the first time: NULL with err for an id the
 * core does not describe, or out of memory. */
const jo_metric *jo_metric_get(json_out *j, uint32_t id, char *err, size_t errcap)
{
    if (id < j->n_metrics && j->metrics[id].known)
        return &j->metrics[id];
    const volley_metric_info *info = info_of(j, id);
    if (!info) {
        snprintf(err, errcap, "sample of unknown or malformed metric id %u", (unsigned)id);
        return NULL;
    }
    if (id >= j->n_metrics) {
        size_t n = j->n_metrics ? j->n_metrics : 64;
        while (n <= id)
            n *= 2;
        jo_metric *p = realloc(j->metrics, n * sizeof *p);
        if (!p)
            goto oom;
        memset(p + j->n_metrics, 0, (n - j->n_metrics) * sizeof *p);
        j->metrics = p;
        j->n_metrics = n;
    }
    jo_metric *m = &j->metrics[id];
    m->keep = j->n_keep == 0;
    for (size_t i = 0; i < j->n_keep && !m->keep; i++)
        m->keep = strcmp(j->keep[i], info->name) == 0;
    jo_text t = {0};
    if (TEXT_LIT(&t, "},\"metric\":") != 0 || text_string(&t, info->name) != 0 ||
        TEXT_LIT(&t, "}\n") != 0) {
        free(t.data);
        goto oom;
    }
    m->tail = t.data;
    m->tail_len = t.len;
    m->known = true;
    return m;
oom:
    snprintf(err, errcap, "out of memory");
    return NULL;
}

/* {"type":"Metric","data":{"name":..,"type":..,"contains":..,"thresholds":
 * [..],"submetrics":null},"metric":..} */
static int put_metric_line(json_out *j, uint32_t id)
{
    const volley_metric_info *m = info_of(j, id);
    jo_text *t = &j->scratch;
    t->len = 0;
    if (!m)
        return -1;
    if (TEXT_LIT(t, "{\"type\":\"Metric\",\"data\":{\"name\":") != 0 || text_string(t, m->name) != 0 ||
        TEXT_LIT(t, ",\"type\":\"") != 0 ||
        text_put(t, type_name(m->type), strlen(type_name(m->type))) != 0 ||
        TEXT_LIT(t, "\",\"contains\":\"") != 0 ||
        text_put(t, contains_name(m->contains), strlen(contains_name(m->contains))) != 0 ||
        TEXT_LIT(t, "\",\"thresholds\":[") != 0)
        return -1;
    for (size_t i = 0; i < m->n_thresholds; i++)
        if ((i > 0 && TEXT_LIT(t, ",") != 0) || text_string(t, m->thresholds[i]) != 0)
            return -1;
    if (TEXT_LIT(t, "],\"submetrics\":null},\"metric\":") != 0 || text_string(t, m->name) != 0 ||
        TEXT_LIT(t, "}\n") != 0)
        return -1;
    return jo_put(j, t->data, t->len);
}

/* ------------------------------------------------------------------------ */
/* Tag sets                                                                  */
/* ------------------------------------------------------------------------ */

static bool dropped(const json_out *j, const char *key)
{
    for (size_t i = 0; i < j->n_drop; i++)
        if (strcmp(j->drop[i], key) == 0)
            return true;
    return false;
}

/* Every tags: pair is in the set with that value. */
static bool matches(const json_out *j, const volley_tagset *ts)
{
    for (size_t i = 0; i < j->n_match; i++) {
        bool found = false;
        for (size_t k = 0; k < ts->n && !found; k++)
            found = strcmp(ts->tags[k].key, j->match_keys[i]) == 0 &&
                    strcmp(ts->tags[k].value ? ts->tags[k].value : "", j->match_values[i]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* {"key":"value",...} of the tags not dropped, appended to t. */
static int format_tags(json_out *j, const volley_tagset *ts, jo_text *t)
{
    if (TEXT_LIT(t, "{") != 0)
        return -1;
    bool first = true;
    for (size_t i = 0; i < ts->n; i++) {
        if (j->n_drop && dropped(j, ts->tags[i].key))
            continue;
        if ((!first && TEXT_LIT(t, ",") != 0) || text_string(t, ts->tags[i].key) != 0 ||
            TEXT_LIT(t, ":") != 0 || text_string(t, ts->tags[i].value ? ts->tags[i].value : "") != 0)
            return -1;
        first = false;
    }
    return TEXT_LIT(t, "}");
}

static size_t slot_of(const volley_tagset *ts, size_t n_slots)
{
    uint64_t h = (uint64_t)(uintptr_t)ts * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (n_slots - 1);
}

static int grow_slots(json_out *j)
{
    size_t n = j->n_slots ? j->n_slots * 2 : 256;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < j->n_tagents; i++) {
        size_t k = slot_of(j->tagents[i].ts, n);
        while (s[k])
            k = (k + 1) & (n - 1);
        s[k] = (uint32_t)i + 1;
    }
    free(j->slots);
    j->slots = s;
    j->n_slots = n;
    return 0;
}

int64_t jo_tag_get(json_out *j, const volley_tagset *ts)
{
    if (ts == j->last_ts && j->n_tagents)
        return j->last_tag;
    size_t k = 0;
    if (j->n_slots) {
        for (k = slot_of(ts, j->n_slots); j->slots[k]; k = (k + 1) & (j->n_slots - 1)) {
            uint32_t i = j->slots[k] - 1;
            if (j->tagents[i].ts == ts) {
                j->last_ts = ts;
                j->last_tag = i;
                return i;
            }
        }
    }
    /* New: at most half full, so a probe always ends. */
    if ((j->n_tagents + 1) * 2 > j->n_slots || j->n_tagents >= UINT32_MAX - 1) {
        if (j->n_tagents >= UINT32_MAX - 1 || grow_slots(j) != 0)
            return -1;
        for (k = slot_of(ts, j->n_slots); j->slots[k]; k = (k + 1) & (j->n_slots - 1))
            ;
    }
    if (j->n_tagents == j->cap_tagents) {
        size_t cap = j->cap_tagents ? j->cap_tagents * 2 : 64;
        jo_tagent *p = realloc(j->tagents, cap * sizeof *p);
        if (!p)
            return -1;
        j->tagents = p;
        j->cap_tagents = cap;
    }
    jo_tagent e = {.ts = ts, .match = matches(j, ts)};
    size_t before = j->tagtext.len;
    if (e.match && before < JO_TAGTEXT_MAX) {
        if (format_tags(j, ts, &j->tagtext) != 0) {
            j->tagtext.len = before;
            return -1;
        }
        e.cached = true;
        e.off = (uint32_t)before;
        e.len = (uint32_t)(j->tagtext.len - before);
    }
    uint32_t i = (uint32_t)j->n_tagents++;
    j->tagents[i] = e;
    j->slots[k] = i + 1;
    j->last_ts = ts;
    j->last_tag = i;
    return i;
}

/* ------------------------------------------------------------------------ */
/* Point lines                                                               */
/* ------------------------------------------------------------------------ */

/* {"type":"Point","data":{"time":..,"value":..,"tags":{..}},"metric":..},
 * after the metric's Metric line the first time. */
int jo_emit(json_out *j, const jo_point *p)
{
    jo_metric *m = &j->metrics[p->metric];
    const jo_tagent *e = &j->tagents[p->tag];
    if (!m->line_written) {
        if (put_metric_line(j, p->metric) != 0)
            return -1;
        m->line_written = true;
    }
    const char *tags;
    size_t tags_len;
    if (e->cached) {
        tags = j->tagtext.data + e->off;
        tags_len = e->len;
    } else {
        j->scratch.len = 0;
        if (format_tags(j, e->ts, &j->scratch) != 0)
            return -1;
        tags = j->scratch.data;
        tags_len = j->scratch.len;
    }
    if (jo_room(j, FIXED_ROOM) != 0)
        return -1;
    char *w = j->buf + j->len;
    w = PUT_LIT(w, "{\"type\":\"Point\",\"data\":{\"time\":\"");
    w = put_time(j, w, p->time);
    w = PUT_LIT(w, "\",\"value\":");
    w = put_value(w, p->value);
    w = PUT_LIT(w, ",\"tags\":");
    j->len = (size_t)(w - j->buf);
    if (JO_BUF_SIZE - j->len >= tags_len + m->tail_len) {   /* the usual case */
        memcpy(j->buf + j->len, tags, tags_len);
        memcpy(j->buf + j->len + tags_len, m->tail, m->tail_len);
        j->len += tags_len + m->tail_len;
    } else if (jo_put(j, tags, tags_len) != 0 || jo_put(j, m->tail, m->tail_len) != 0) {
        return -1;
    }
    j->lines++;
    return 0;
}

void jo_line_free(json_out *j)
{
    for (size_t i = 0; i < j->n_metrics; i++)
        free(j->metrics[i].tail);
    free(j->metrics);
    free(j->tagents);
    free(j->slots);
    free(j->tagtext.data);
    free(j->scratch.data);
}
