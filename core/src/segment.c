/*
 * segment: k6's execution segments and their striping (segment.h). The
 * parsing accepts what k6's stringToRat does for the values users write
 * (fractions, decimals, whole percents; no exponents) and its range rules
 * and messages; the striping deals indexes out exactly as k6's
 * NewExecutionSegmentSequenceWrapper does, so a Volley instance and a k6
 * instance with the same segment take the same VUs, iterations and ticks.
 */
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t gcd64(int64_t a, int64_t b)
{
    if (a < 0)
        a = -a;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static seg_rat rat(int64_t num, int64_t den)
{
    int64_t g = gcd64(num, den);
    return (seg_rat){num / g, den / g};
}

/* Numerators and denominators stay <= SEG_MAX_DEN, so products fit. */
static int rat_cmp(seg_rat a, seg_rat b)
{
    int64_t l = a.num * b.den, r = b.num * a.den;
    return l < r ? -1 : l > r;
}

static seg_rat rat_sub(seg_rat a, seg_rat b)
{
    return rat(a.num * b.den - b.num * a.den, a.den * b.den);
}

void seg_rat_format(seg_rat r, char *buf, size_t cap)
{
    if (r.den == 1)
        snprintf(buf, cap, "%lld", (long long)r.num);
    else
        snprintf(buf, cap, "%lld/%lld", (long long)r.num, (long long)r.den);
}

/* Digits of s[*i..len) into *v (at most 18 of them); how many were read. */
static int digits(const char *s, size_t len, size_t *i, int64_t *v, int *n)
{
    *v = 0;
    *n = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*n >= 18)
            return -1;
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        (*n)++;
    }
    return 0;
}

int seg_parse_rat(const char *s, size_t len, seg_rat *out, char *err, size_t errcap)
{
    size_t i = 0;
    int64_t sign = 1, a = 0, b = 1;
    int na = 0, nb = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        sign = s[i++] == '-' ? -1 : 1;
    if (digits(s, len, &i, &a, &na) != 0)
        goto too_big;
    if (len > 0 && s[len - 1] == '%') {
        if (na == 0 || i != len - 1)
            goto bad_percent;
        b = 100;
    } else if (i < len && s[i] == '/') {
        i++;
        if (digits(s, len, &i, &b, &nb) != 0)
            goto too_big;
        if (na == 0 || nb == 0 || i != len || b == 0)
            goto bad;
    } else if (i < len && s[i] == '.') {
        i++;
        size_t f0 = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        size_t fe = i;
        if (i != len || (na == 0 && fe == f0))
            goto bad;
        while (fe > f0 && s[fe - 1] == '0')   /* 0.50 is 1/2 */
            fe--;
        if (fe - f0 > 9)
            goto too_big;
        for (size_t k = f0; k < fe; k++) {
            if (a > SEG_MAX_DEN)
                goto too_big;
            a = a * 10 + (s[k] - '0');
            b *= 10;
        }
    } else if (na == 0 || i != len) {
        goto bad;
    }
    *out = rat(sign * a, b);
    if (out->num > SEG_MAX_DEN || out->num < -SEG_MAX_DEN || out->den > SEG_MAX_DEN)
        goto too_big;
    return 0;
bad_percent:
    snprintf(err, errcap, "'%.*s' is not a valid percentage (whole percents such as 25%%)",
             (int)(len > 64 ? 64 : len), s);
    return -1;
bad:
    snprintf(err, errcap, "'%.*s' is not a valid percentage, decimal or fraction value",
             (int)(len > 64 ? 64 : len), s);
    return -1;
too_big:
    snprintf(err, errcap, "'%.*s' has too many digits (at most 9 after the point; numerators and "
             "denominators up to %lld)", (int)(len > 64 ? 64 : len), s, (long long)SEG_MAX_DEN);
    return -1;
}

/* k6's NewExecutionSegment rules and messages. */
static int check_segment(seg_rat from, seg_rat to, char *err, size_t errcap)
{
    char a[48], b[48];
    seg_rat_format(from, a, sizeof a);
    seg_rat_format(to, b, sizeof b);
    if (from.num < 0) {
        snprintf(err, errcap, "segment start value must be at least 0 but was %s", a);
        return -1;
    }
    if (rat_cmp(from, to) >= 0) {
        snprintf(err, errcap, "segment start (%s) must be less than its end (%s)", a, b);
        return -1;
    }
    if (rat_cmp(to, (seg_rat){1, 1}) > 0) {
        snprintf(err, errcap, "segment end value can't be more than 1 but was %s", b);
        return -1;
    }
    return 0;
}

int seg_parse_segment(const char *s, seg_segment *out, char *err, size_t errcap)
{
    seg_rat from = {0, 1}, to;
    const char *colon = strchr(s, ':');
    const char *ts = s;
    if (!*s)
        ts = "1";   /* k6: empty is the whole test */
    if (colon) {
        if (seg_parse_rat(s, (size_t)(colon - s), &from, err, errcap) != 0)
            return -1;
        ts = colon + 1;
    }
    if (seg_parse_rat(ts, strlen(ts), &to, err, errcap) != 0 ||
        check_segment(from, to, err, errcap) != 0)
        return -1;
    out->from = from;
    out->to = to;
    return 0;
}

int seg_parse_sequence(const char *s, seg_rat *pts, size_t cap, size_t *n_pts, char *err,
                       size_t errcap)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (n < 2) {
        snprintf(err, errcap, "at least 2 points are needed for an execution segment sequence, "
                 "%zu given", n);
        return -1;
    }
    if (n > cap) {
        snprintf(err, errcap, "at most %zu points, %zu given", cap, n);
        return -1;
    }
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (seg_parse_rat(p, len, &pts[i], err, errcap) != 0)
            return -1;
        if (i > 0 && check_segment(pts[i - 1], pts[i], err, errcap) != 0)
            return -1;
        p += len + 1;
    }
    *n_pts = n;
    return 0;
}

void seg_seq_free(seg_seq *q)
{
    free(q->pts);
    free(q->stripes);
    free(q->pos);
    memset(q, 0, sizeof *q);
}

void seg_tuple_free(seg_tuple *t) { seg_seq_free(&t->seq); }

/*
 * k6's striping. Each segment's length is norm/lcd; index i of a cycle goes
 * to the first segment, biggest first (ties in sequence order), that is
 * due: one that has taken `chosen` indexes is due again from
 * i >= chosen * lcd / norm (integer division, and strictly past it when
 * that division has a remainder). The biggest go first because they are
 * the hardest to keep from taking neighbouring indexes.
 */
int seg_seq_init(seg_seq *q, const seg_rat *pts, size_t n_pts, char *err, size_t errcap)
{
    memset(q, 0, sizeof *q);
    size_t n = n_pts - 1;
    int64_t lcd = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t d = rat_sub(pts[i + 1], pts[i]).den;
        int64_t g = gcd64(lcd, d);
        if (lcd / g > SEG_MAX_LCD / d) {
            snprintf(err, errcap, "the segments' lengths need a common denominator over %lld "
                     "(use simpler fractions, e.g. 1/3 rather than 0.333)", (long long)SEG_MAX_LCD);
            return -1;
        }
        lcd = lcd / g * d;
    }
    int64_t *norm = calloc(n, sizeof *norm), *chosen = calloc(n, sizeof *chosen);
    size_t *order = calloc(n, sizeof *order);
    int64_t *fill = calloc(n, sizeof *fill);
    q->n = n;
    q->lcd = lcd;
    q->pts = malloc(n_pts * sizeof *q->pts);
    q->stripes = calloc(n, sizeof *q->stripes);
    q->pos = malloc((size_t)lcd * sizeof *q->pos);
    if (!norm || !chosen || !order || !fill || !q->pts || !q->stripes || !q->pos) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    memcpy(q->pts, pts, n_pts * sizeof *pts);
    int64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        seg_rat len = rat_sub(pts[i + 1], pts[i]);
        norm[i] = len.num * (lcd / len.den);
        q->stripes[i] = (seg_stripe){.lcd = lcd, .count = norm[i], .pos = q->pos + at};
        fill[i] = at;
        at += norm[i];
        /* stable insertion: biggest first */
        size_t k = i;
        while (k > 0 && norm[order[k - 1]] < norm[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    if (at != lcd) {
        snprintf(err, errcap, "the segments do not cover 0..1");
        goto fail;
    }
    for (int64_t i = 0; i < lcd; i++) {
        for (size_t s = 0; s < n; s++) {
            size_t o = order[s];
            int64_t num = chosen[o] * lcd, den = norm[o];
            if (chosen[o] < norm[o] && (i > num / den || (i == num / den && num % den == 0))) {
                chosen[o]++;
                q->pos[fill[o]++] = i;
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (chosen[i] != norm[i]) {
            snprintf(err, errcap, "internal error: striping gave segment %zu %lld of %lld indexes",
                     i, (long long)chosen[i], (long long)norm[i]);
            goto fail;
        }
    free(norm);
    free(chosen);
    free(order);
    free(fill);
    return 0;
fail:
    free(norm);
    free(chosen);
    free(order);
    free(fill);
    seg_seq_free(q);
    return -1;
}

static bool rat_eq(seg_rat a, seg_rat b) { return a.num == b.num && a.den == b.den; }

int seg_tuple_init(seg_tuple *t, const seg_segment *segment, const seg_rat *pts, size_t n_pts,
                   char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    seg_rat *full = malloc((n_pts + 4) * sizeof *full);
    if (!full) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    size_t n = 0;
    seg_rat zero = {0, 1}, one = {1, 1};
    const seg_rat *src = pts;
    size_t n_src = n_pts;
    seg_rat own[2] = {segment->from, segment->to};
    if (n_pts == 0) {
        src = own;
        n_src = 2;
    }
    if (!rat_eq(src[0], zero))
        full[n++] = zero;
    for (size_t i = 0; i < n_src; i++)
        full[n++] = src[i];
    if (!rat_eq(src[n_src - 1], one))
        full[n++] = one;
    size_t idx = n;
    for (size_t i = 0; i + 1 < n; i++)
        if (rat_eq(full[i], segment->from) && rat_eq(full[i + 1], segment->to))
            idx = i;
    if (idx == n) {
        char a[SEG_TEXT_MAX], b[4096];
        seg_segment_format(segment, a, sizeof a);
        seg_seq q = {.n = n - 1, .pts = full};
        seg_seq_format(&q, b, sizeof b);
        snprintf(err, errcap, "segment %s is not one of the sequence's segments (%s)", a, b);
        free(full);
        return -1;
    }
    int rc = seg_seq_init(&t->seq, full, n, err, errcap);
    free(full);
    t->index = idx;
    return rc;
}

int seg_tuple_rescale(const seg_tuple *t, int64_t value, seg_tuple *out, char *err,
                      size_t errcap)
{
    if (value < 1 || seg_scale(seg_tuple_stripe(t), value) == 0)
        return 1;
    seg_rat *pts = malloc((t->seq.n + 1) * sizeof *pts);
    if (!pts) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    size_t n = 0, idx = 0;
    int64_t prev = 0;
    pts[n++] = (seg_rat){0, 1};
    for (size_t i = 0; i < t->seq.n; i++) {
        int64_t v = seg_scale(&t->seq.stripes[i], value);
        if (v == 0)
            continue;
        if (i == t->index)
            idx = n - 1;
        prev += v;
        pts[n++] = rat(prev, value);
    }
    memset(out, 0, sizeof *out);
    int rc = seg_seq_init(&out->seq, pts, n, err, errcap);
    free(pts);
    out->index = idx;
    return rc;
}

int64_t seg_scale(const seg_stripe *st, int64_t value)
{
    if (!st)
        return value;
    if (value <= 0)
        return 0;
    int64_t r = value % st->lcd;
    /* positions below r: the first one not below it, by bisection */
    int64_t lo = 0, hi = st->count;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (st->pos[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return value / st->lcd * st->count + lo;
}

int64_t seg_global(const seg_stripe *st, int64_t j)
{
    if (!st)
        return j;
    return j / st->count * st->lcd + st->pos[j % st->count];
}

void seg_segment_format(const seg_segment *s, char *buf, size_t cap)
{
    char a[48], b[48];
    seg_rat_format(s->from, a, sizeof a);
    seg_rat_format(s->to, b, sizeof b);
    snprintf(buf, cap, "%s:%s", a, b);
}

void seg_seq_format(const seg_seq *q, char *buf, size_t cap)
{
    size_t at = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i <= q->n && at < cap; i++) {
        char r[48];
        seg_rat_format(q->pts[i], r, sizeof r);
        int w = snprintf(buf + at, cap - at, "%s%s", i ? "," : "", r);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}
