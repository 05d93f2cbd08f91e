#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(diag *d) { memset(d, 0, sizeof *d); }

void diag_free(diag *d)
{
    for (size_t i = 0; i < d->n_lines; i++)
        free(d->lines[i]);
    free(d->lines);
    memset(d, 0, sizeof *d);
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
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    char full[2048 + 512];
    if (file)
        snprintf(full, sizeof full, "%s:%u:%u: error: %s", file, line, col, msg);
    else
        snprintf(full, sizeof full, "error: %s", msg);

    d->count++;
    if (d->n_lines == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        char **nl = realloc(d->lines, ncap * sizeof *nl);
        if (!nl)
            return;   /* counted, message lost */
        d->lines = nl;
        d->cap = ncap;
    }
    char *copy = strdup(full);
    if (copy)
        d->lines[d->n_lines++] = copy;
}

void diag_print(const diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n_lines; i++)
        fprintf(out, "%s\n", d->lines[i]);
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
