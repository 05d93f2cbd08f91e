/* suggest: "did you mean" for unknown keys and enum values. */
#ifndef VOLLEY_SUGGEST_H
#define VOLLEY_SUGGEST_H

#include <stddef.h>

/* The candidate closest to `word` by edit distance, or NULL when none is
 * close enough to be a plausible typo. */
const char *suggest_closest(const char *word, const char *const *cands, size_t n);
/* " (did you mean "x"?)" for the closest candidate, or "" when none is
 * close; written into buf, which is returned. */
const char *suggest_hint(const char *word, const char *const *cands, size_t n, char *buf,
                         size_t cap);
/* Writes "a, b, c" into buf (truncated with "..." when it does not fit). */
void suggest_join(const char *const *items, size_t n, char *buf, size_t cap);

#endif
