#include "suggest.h"

#include <stdio.h>
#include <string.h>

/* Levenshtein distance where swapping two adjacent characters also counts
 * as one edit (optimal string alignment), so "nmae" is one typo away from
 * "name". Words over 63 bytes never match. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (size_t)-1;
    size_t prev2[64], prev[64], row[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            row[j] = best;
        }
        memcpy(prev2, prev, (lb + 1) * sizeof *prev);
        memcpy(prev, row, (lb + 1) * sizeof *row);
    }
    return prev[lb];
}

const char *suggest_closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best_d <= limit ? best : NULL;
}

void suggest_join(const char *const *items, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", items[i]);
        if (w < 0 || (size_t)w >= cap - off) {
            if (cap > 4)
                memcpy(buf + cap - 4, "...", 4);
            return;
        }
        off += (size_t)w;
    }
}

const char *suggest_hint(const char *word, const char *const *cands, size_t n, char *buf,
                         size_t cap)
{
    const char *near = suggest_closest(word, cands, n);
    if (near)
        snprintf(buf, cap, " (did you mean \"%s\"?)", near);
    else if (cap)
        buf[0] = '\0';
    return buf;
}
