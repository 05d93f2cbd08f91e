/*
 * memo: per-response scratch shared by the checks of one response, e.g. the
 * JSON body parsed once for several json checks. Lives on the stack of the
 * code that runs the checks; memo_clear frees what the checks stored.
 */
#ifndef VOLLEY_MEMO_H
#define VOLLEY_MEMO_H

#include "volley/plugin.h"

#define MEMO_SLOTS 4

struct memo_text;

struct volley_memo {
    int n;
    struct {
        const void *key;
        void *value;
        void (*free_fn)(void *);
    } slot[MEMO_SLOTS];
    volley_vu *vu;               /* whose response: run-time values render for it */
    struct memo_text *texts;     /* rendered values, freed by memo_clear */
};

void *memo_get(volley_memo *m, const void *key);
/* 0, or -1 when full (the caller then frees value itself). */
int memo_put(volley_memo *m, const void *key, void *value, void (*free_fn)(void *));
void memo_clear(volley_memo *m);
/* A copy of s[0..n) that lives until memo_clear; NULL when out of memory. */
const char *memo_keep(volley_memo *m, const char *s, size_t n);

#endif
