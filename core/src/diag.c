#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

void diag_init(diag *d) { memset(d, 0, sizeof *d); }

void diag_free(diag *d)
{
    for (size_t i = 0; i < d->n_lines; i++)
        free(d->lines[i]);
    free(d->lines);
    for (size_t i = 0; i < d->n_warnings; i++)
        free(d->warnings[i]);
    free(d->warnings);
    memset(d, 0, sizeof *d);
}

/* Formats "file:line:col: KIND: msg" and appends it to *arr; a message
 * that cannot be stored is lost (the caller counts errors anyway). */
static void add_line(char ***arr, size_t *n, size_t *cap, const char *kind, const char *file,
                     unsigned line, unsigned col, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    char full[2048 + 512];
    if (file)
        snprintf(full, sizeof full, "%s:%u:%u: %s: %s", file, line, col, kind, msg);
    else
        snprintf(full, sizeof full, "%s: %s", kind, msg);

    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        char **nl = realloc(*arr, ncap * sizeof *nl);
        if (!nl)
            return;
        *arr = nl;
        *cap = ncap;
    }
    char *copy = strdup(full);
    if (copy)
        (*arr)[(*n)++] = copy;
}

void diag_error(diag *d, const char *file, unsigned line, unsigned col,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, file, line, col, fmt, ap);
    va_end(ap);
}

void diag_verror(diag *d, const char *file, unsigned line, unsigned col,
                 const char *fmt, va_list ap)
{
    d->count++;
    add_line(&d->lines, &d->n_lines, &d->cap, "error", file, line, col, fmt, ap);
}

void diag_warning(diag *d, const char *file, unsigned line, unsigned col,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vwarning(d, file, line, col, fmt, ap);
    va_end(ap);
}

void diag_vwarning(diag *d, const char *file, unsigned line, unsigned col,
                   const char *fmt, va_list ap)
{
    add_line(&d->warnings, &d->n_warnings, &d->cap_warnings, "warning", file, line, col, fmt, ap);
}

void diag_print(const diag *d, FILE *out)
{
    /* Printed at the end of the load, when every secret the spec folds in
     * is known: an error that quotes a folded value shows *** for it. */
    for (size_t i = 0; i < d->n_warnings; i++)
        secret_fprintf(out, "%s\n", d->warnings[i]);
    for (size_t i = 0; i < d->n_lines; i++)
        secret_fprintf(out, "%s\n", d->lines[i]);
}

void diag_note_since(diag *d, size_t from, const char *suffix)
{
    size_t extra = strlen(suffix);
    for (size_t i = from; i < d->n_lines; i++) {
        size_t len = strlen(d->lines[i]);
        char *p = realloc(d->lines[i], len + extra + 1);
        if (!p)
            continue;   /* the message stays, without the note */
        memcpy(p + len, suffix, extra + 1);
        d->lines[i] = p;
    }
}
