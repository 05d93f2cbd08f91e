/*
 * diag: collects user-facing errors so a whole spec is checked in one pass.
 * Every message reads "file:line:column: error: <path>: <what was expected>".
 */
#ifndef VOLLEY_DIAG_H
#define VOLLEY_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct diag {
    size_t count;      /* errors reported (even if a message was lost to OOM) */
    bool engine;       /* one of them is the installation's, not the spec's:
                          a plugin it needs does not load (exit 103) */
    size_t n_lines, cap;
    char **lines;      /* owned, formatted messages in order */
} diag;

void diag_init(diag *d);
void diag_free(diag *d);
/* line/col are 1-based; file may be NULL (then no location is printed). */
void diag_error(diag *d, const char *file, unsigned line, unsigned col,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diag_verror(diag *d, const char *file, unsigned line, unsigned col,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
void diag_print(const diag *d, FILE *out);
/* Appends suffix to every message added since the first `from` ones (a
 * note that applies to all of them, e.g. which template a value came
 * from). */
void diag_note_since(diag *d, size_t from, const char *suffix);

#endif
