/*
 * include: `include: [services.yaml, ...]` at the top of a spec. Each
 * named file (relative to the file that names it) is loaded, its own
 * includes first, and merged under the including file: mappings merge key
 * by key at every depth, anything else from the including file replaces
 * what an include had. Later includes win over earlier ones. Nodes keep
 * their own file and line, so errors point into the file they came from.
 * Include cycles and more than 32 levels are errors.
 */
#ifndef VOLLEY_INCLUDE_H
#define VOLLEY_INCLUDE_H

#include "arena.h"
#include "diag.h"
#include "yaml_tree.h"

typedef struct include_set {
    ytree **trees;      /* every included file's tree (owned) */
    size_t n, cap;
    char **files;       /* the included files' paths, in load order (owned):
                           the result file's spec hash reads them */
    size_t n_files;
} include_set;

/* The root with every include merged in (root itself when it has none),
 * or NULL with errors in d. Merged nodes live in `a`; the included trees
 * go to `set` and must outlive the result. The `include` key is removed. */
const ynode *include_resolve(arena *a, const ynode *root, const char *path, include_set *set,
                             diag *d);
/* Keeps t (owned from now on, freed on failure too) with the set's trees:
 * for other documents whose nodes must live as long, e.g. --out options. */
int include_set_add(include_set *set, ytree *t);
void include_set_free(include_set *set);

#endif
