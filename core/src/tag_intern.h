/*
 * tag_intern: per-worker table turning the tags of a sample into a shared,
 * immutable volley_tagset for outputs. Keys compare string pointers (they
 * point into the compiled spec), so a lookup is a hash of a few words.
 * A new set is built once per worker; its values are the tags with any
 * secret in them shown as *** (secret.h), so no output ever sees one.
 */
#ifndef VOLLEY_TAG_INTERN_H
#define VOLLEY_TAG_INTERN_H

#include "arena.h"
#include "metrics.h"
#include "volley/plugin.h"

typedef struct tag_entry tag_entry;

typedef struct tag_intern {
    arena a;                   /* owns the tagsets until the run ends */
    const volley_tag *run;     /* run-wide tags added to every set (sorted) */
    size_t n_run;
    tag_entry *slots;
    size_t cap, n;
} tag_intern;

void tagi_init(tag_intern *t, const volley_tag *run, size_t n_run);
void tagi_free(tag_intern *t);
/* NULL only on out-of-memory. */
const volley_tagset *tagi_get(tag_intern *t, const sample_tags *st);

#endif
