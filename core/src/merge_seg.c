/*
 * merge_seg: execution segments of merged files (merge_seg.h). Points of
 * a segment are k6's: "1/3", "0.25" or "25%", kept as exact fractions.
 */
#include "merge_seg.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct frac {
    int64_t num, den;
} frac;

/* "1/3", "0.25", "25%", "1": -1 when it is none of them or not in [0, 1]. */
static int parse_frac(const char *s, size_t len, frac *f)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    bool pct = buf[len - 1] == '%';
    if (pct)
        buf[--len] = '\0';
    const char *slash = strchr(buf, '/');
    int64_t num = 0, den = 1;
    if (slash) {
        char *e1, *e2;
        if (!isdigit((unsigned char)buf[0]) || !isdigit((unsigned char)slash[1]))
            return -1;
        num = strtoll(buf, &e1, 10);
        den = strtoll(slash + 1, &e2, 10);
        if (e1 != slash || *e2 || den <= 0 || pct)
            return -1;
    } else {
        bool dot = false, digit = false;
        for (const char *p = buf; *p; p++) {
            if (*p == '.' && !dot) {
                dot = true;
            } else if (isdigit((unsigned char)*p)) {
                digit = true;
                if (num > INT64_MAX / 100 || (dot && den > INT64_MAX / 100))
                    return -1;
                num = num * 10 + (*p - '0');
                den *= dot ? 10 : 1;
            } else {
                return -1;
            }
        }
        if (!digit)
            return -1;
        if (pct)
            den *= 100;
    }
    if (num > den)
        return -1;
    *f = (frac){num, den};
    return 0;
}

static int cmp_frac(frac a, frac b)
{
    __int128 x = (__int128)a.num * b.den, y = (__int128)b.num * a.den;
    return x < y ? -1 : x > y;
}

typedef struct seg {
    frac from, to;
    const char *text;          /* the file's segment */
    size_t from_len;           /* "1/3" of "1/3:2/3" */
    size_t file;
} seg;

static int parse_seg(const char *text, seg *s)
{
    const char *colon = strchr(text, ':');
    if (!colon)
        return -1;
    s->text = text;
    s->from_len = (size_t)(colon - text);
    if (parse_frac(text, s->from_len, &s->from) != 0 || parse_frac(colon + 1, strlen(colon + 1), &s->to) != 0)
        return -1;
    return cmp_frac(s->from, s->to) < 0 ? 0 : -1;
}

static int cmp_seg(const void *a, const void *b)
{
    const seg *x = a, *y = b;
    int c = cmp_frac(x->from, y->from);
    return c ? c : cmp_frac(x->to, y->to);
}

/* Appends "a:b" (texts) to the warning's list. */
static void add_missing(char *buf, size_t cap, const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = strlen(buf);
    if (n < cap)
        snprintf(buf + n, cap - n, "%s%.*s:%.*s", n ? ", " : "", (int)alen, a, (int)blen, b);
}

int merge_seg_check(const merge_seg_in *in, size_t n, char *warn, size_t warncap, char *err,
                    size_t errcap)
{
    warn[0] = '\0';
    size_t with = 0, first_with = 0, first_without = 0;
    for (size_t i = n; i-- > 0;) {
        if (in[i].segment) {
            with++;
            first_with = i;
        } else {
            first_without = i;
        }
    }
    if (with == 0)
        return 0;
    if (with < n) {
        snprintf(err, errcap, "%s ran execution segment %s, %s ran without one (the whole test): "
                 "merge the segments of one test", in[first_with].path, in[first_with].segment,
                 in[first_without].path);
        return -1;
    }
    const char *seq = NULL;
    size_t seq_file = 0;
    for (size_t i = 0; i < n; i++) {
        if (!in[i].sequence)
            continue;
        if (seq && strcmp(seq, in[i].sequence) != 0) {
            snprintf(err, errcap, "%s ran segment sequence \"%s\", %s \"%s\": segments of "
                     "different sequences do not add up", in[seq_file].path, seq, in[i].path,
                     in[i].sequence);
            return -1;
        }
        if (!seq) {
            seq = in[i].sequence;
            seq_file = i;
        }
    }
    seg *s = calloc(n, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        s[i].file = i;
        if (parse_seg(in[i].segment, &s[i]) != 0) {
            snprintf(err, errcap, "%s: execution segment \"%s\" is not FROM:TO (fractions such "
                     "as 1/3, 0.25 or 25%%, FROM < TO)", in[i].path, in[i].segment);
            goto out;
        }
    }
    qsort(s, n, sizeof *s, cmp_seg);
    for (size_t i = 1; i < n; i++) {
        if (cmp_frac(s[i - 1].to, s[i].from) <= 0)
            continue;
        bool same = cmp_frac(s[i - 1].from, s[i].from) == 0 && cmp_frac(s[i - 1].to, s[i].to) == 0;
        const seg *a = s[i - 1].file < s[i].file ? &s[i - 1] : &s[i], *b = a == &s[i] ? &s[i - 1] : &s[i];
        if (same)
            snprintf(err, errcap, "%s and %s both ran execution segment %s: the same instance "
                     "merged twice?", in[a->file].path, in[b->file].path, in[a->file].segment);
        else
            snprintf(err, errcap, "%s ran execution segment %s, %s segment %s: they overlap",
                     in[a->file].path, in[a->file].segment, in[b->file].path, in[b->file].segment);
        goto out;
    }
    /* What is not covered: the sequence's missing segments, or the gaps. */
    char missing[400] = "";
    size_t total = n, n_done = n;
    if (seq) {
        /* the sequence's points, as written; 0 and 1 added as k6 does */
        const char *pts[256];
        size_t lens[256], np = 0;
        frac fp[256];
        for (const char *p = seq; *p && np < 254;) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            while (len && *p == ' ')
                p++, len--;
            while (len && p[len - 1] == ' ')
                len--;
            if (parse_frac(p, len, &fp[np]) != 0) {
                snprintf(err, errcap, "%s: segment sequence \"%s\" is not fractions in order "
                         "separated by commas", in[seq_file].path, seq);
                goto out;
            }
            pts[np] = p;
            lens[np++] = len;
            p = c ? c + 1 : p + len;
        }
        frac zero = {0, 1}, one = {1, 1};
        if (np == 0 || cmp_frac(fp[0], zero) != 0) {
            memmove(fp + 1, fp, np * sizeof *fp);
            memmove(pts + 1, pts, np * sizeof *pts);
            memmove(lens + 1, lens, np * sizeof *lens);
            fp[0] = zero, pts[0] = "0", lens[0] = 1, np++;
        }
        if (cmp_frac(fp[np - 1], one) != 0)
            fp[np] = one, pts[np] = "1", lens[np++] = 1;
        total = np - 1;
        size_t covered = 0;
        for (size_t k = 0; k + 1 < np; k++) {
            bool found = false;
            for (size_t i = 0; i < n && !found; i++)
                found = cmp_frac(s[i].from, fp[k]) <= 0 && cmp_frac(fp[k + 1], s[i].to) <= 0;
            if (found)
                covered++;
            else
                add_missing(missing, sizeof missing, pts[k], lens[k], pts[k + 1], lens[k + 1]);
        }
        for (size_t i = 0; i < n; i++) {
            bool to_on = false;
            for (size_t k = 0; k < np && !to_on; k++)
                to_on = cmp_frac(s[i].to, fp[k]) == 0;
            bool from_on = false;
            for (size_t k = 0; k < np && !from_on; k++)
                from_on = cmp_frac(s[i].from, fp[k]) == 0;
            if (!from_on || !to_on) {
                snprintf(err, errcap, "%s: execution segment %s is not one of sequence \"%s\"",
                         in[s[i].file].path, in[s[i].file].segment, seq);
                goto out;
            }
        }
        n_done = covered;
    } else {
        frac at = {0, 1};
        const char *at_text = "0";
        size_t at_len = 1;
        for (size_t i = 0; i <= n; i++) {
            frac next = i < n ? s[i].from : (frac){1, 1};
            if (cmp_frac(at, next) < 0) {
                const char *nt = i < n ? s[i].text : "1";
                size_t nl = i < n ? s[i].from_len : 1;
                add_missing(missing, sizeof missing, at_text, at_len, nt, nl);
                total++;
            }
            if (i < n) {
                at = s[i].to;
                at_text = s[i].text + s[i].from_len + 1;
                at_len = strlen(at_text);
            }
        }
    }
    if (*missing)
        snprintf(warn, warncap, "merged %zu of %zu segments: %s missing", n_done, total, missing);
    rc = 0;
out:
    free(s);
    return rc;
}

static int cmp_in(const void *a, const void *b)
{
    const merge_seg_in *x = a, *y = b;
    seg sx, sy;
    if (parse_seg(x->segment, &sx) != 0 || parse_seg(y->segment, &sy) != 0)
        return 0;
    return cmp_seg(&sx, &sy);
}

void merge_seg_sort(merge_seg_in *in, size_t n)
{
    qsort(in, n, sizeof *in, cmp_in);
}
