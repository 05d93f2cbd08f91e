/*
 * diag: collects user-facing errors so a whole spec is checked in one pass.
 * Every message reads "file:line:column: error: <path>: <what was expected>".
 * Warnings ("file:line:column: warning: ...") are kept apart: they are
 * printed, but never count as errors, so a spec with warnings still loads.
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
    char **lines;      /* owned, formatted error messages in order */
    size_t n_warnings, cap_warnings;
    char **warnings;   /* owned, formatted warnings in order */
} diag;

void diag_init(diag *d);
void diag_free(diag *d);
/* line/col are 1-based; file may be NULL (then no location is printed). */
void diag_error(diag *d, const char *file, unsigned line, unsigned col,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diag_verror(diag *d, const char *file, unsigned line, unsigned col,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* A warning: printed with the errors, never counted in `count`. */
void diag_warning(diag *d, const char *file, unsigned line, unsigned col,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diag_vwarning(diag *d, const char *file, unsigned line, unsigned col,
                   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
/* The warnings, then the errors, one per line. */
void diag_print(const diag *d, FILE *out);
/* Appends suffix to every message added since the first `from` ones (a
 * note that applies to all of them, e.g. which template a value came
 * from). */
void diag_note_since(diag *d, size_t from, const char *suffix);

#endif
