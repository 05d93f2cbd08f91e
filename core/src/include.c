#include "include.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct chain {
    const char *real;       /* realpath of a file being resolved */
    const struct chain *up;
} chain;

/* base merged with over (over wins); both mappings. */
static ynode *merge_maps(arena *a, const ynode *base, const ynode *over)
{
    ynode *m = arena_alloc(a, sizeof *m);
    ypair *pairs = arena_alloc(a, (base->n_pairs + over->n_pairs + 1) * sizeof *pairs);
    if (!m || !pairs)
        return NULL;
    *m = *over;
    m->pairs = pairs;
    m->n_pairs = 0;
    /* Keys in base order, then the ones only `over` has. */
    for (size_t i = 0; i < base->n_pairs; i++) {
        const ypair *bp = &base->pairs[i];
        const ynode *ov = ynode_get(over, bp->key->str);
        ypair p = *bp;
        if (ov && ov->kind == YNODE_MAP && bp->value->kind == YNODE_MAP) {
            if (!(p.value = merge_maps(a, bp->value, ov)))
                return NULL;
            p.key = NULL;
        } else if (ov) {
            p.value = (ynode *)ov;
            p.key = NULL;
        }
        if (!p.key) {
            for (size_t j = 0; j < over->n_pairs; j++)
                if (strcmp(over->pairs[j].key->str, bp->key->str) == 0)
                    p.key = over->pairs[j].key;
        }
        pairs[m->n_pairs++] = p;
    }
    for (size_t j = 0; j < over->n_pairs; j++)
        if (!ynode_get(base, over->pairs[j].key->str))
            pairs[m->n_pairs++] = over->pairs[j];
    return m;
}

/* root without its `include` key. */
static ynode *without_include(arena *a, const ynode *root)
{
    ynode *m = arena_alloc(a, sizeof *m);
    ypair *pairs = arena_alloc(a, (root->n_pairs + 1) * sizeof *pairs);
    if (!m || !pairs)
        return NULL;
    *m = *root;
    m->pairs = pairs;
    m->n_pairs = 0;
    for (size_t i = 0; i < root->n_pairs; i++)
        if (strcmp(root->pairs[i].key->str, "include") != 0)
            pairs[m->n_pairs++] = root->pairs[i];
    return m;
}

static const ynode *resolve(arena *a, const ynode *root, const char *path, const chain *up,
                            int depth, include_set *set, diag *d);

static int add_file(include_set *set, const char *path)
{
    char **p = realloc(set->files, (set->n_files + 1) * sizeof *p);
    if (!p)
        return -1;
    set->files = p;
    if (!(p[set->n_files] = strdup(path)))
        return -1;
    set->n_files++;
    return 0;
}

/* Loads one included file and resolves its own includes. */
static const ynode *load_one(arena *a, const ynode *item, const char *dir, const chain *up,
                             int depth, include_set *set, diag *d)
{
    if (item->kind != YNODE_SCALAR || ynode_is_null(item) || !*item->str) {
        diag_error(d, item->file, item->line, item->col,
                   "include: expected a file name or a list of file names, got %s",
                   ynode_kind_name(item));
        return NULL;
    }
    const char *name = item->str;
    char *full = name[0] == '/' ? arena_strdup(a, name) : arena_printf(a, "%s/%s", dir, name);
    char real[PATH_MAX];
    if (!full || !realpath(full, real)) {
        diag_error(d, item->file, item->line, item->col, "include: cannot read %s: %s", full ? full : name,
                   strerror(errno));
        return NULL;
    }
    for (const chain *c = up; c; c = c->up) {
        if (strcmp(c->real, real) == 0) {
            diag_error(d, item->file, item->line, item->col,
                       "include: %s includes itself (an include cycle)", name);
            return NULL;
        }
    }
    if (depth >= MAX_DEPTH) {
        diag_error(d, item->file, item->line, item->col, "include: more than %d levels of includes",
                   MAX_DEPTH);
        return NULL;
    }
    ytree *t = ytree_load_file(full, full, d);
    if (!t || include_set_add(set, t) != 0 || add_file(set, full) != 0)
        return NULL;
    const ynode *r = ytree_root(t);
    if (!r || r->kind != YNODE_MAP) {
        diag_error(d, r ? r->file : full, r ? r->line : 1, r ? r->col : 1,
                   "(top level): an included file must be a mapping (services:, defaults:, ...)");
        return NULL;
    }
    chain here = {.real = real, .up = up};
    return resolve(a, r, full, &here, depth + 1, set, d);
}

static const ynode *resolve(arena *a, const ynode *root, const char *path, const chain *up,
                            int depth, include_set *set, diag *d)
{
    const ynode *inc = ynode_get(root, "include");
    if (!inc)
        return root;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    const char *dir = arena_strdup(a, dirname(copy));
    free(copy);
    size_t n = inc->kind == YNODE_SEQ ? inc->n_items : 1;
    const ynode *merged = NULL;
    bool ok = dir != NULL;
    for (size_t i = 0; i < n && ok; i++) {
        const ynode *item = inc->kind == YNODE_SEQ ? inc->items[i] : inc;
        const ynode *r = load_one(a, item, dir, up, depth, set, d);
        if (!r) {
            ok = false;
            continue;
        }
        merged = merged ? merge_maps(a, merged, r) : r;
        ok = merged != NULL;
    }
    if (!ok)
        return NULL;
    const ynode *own = without_include(a, root);
    return merged && own ? merge_maps(a, merged, own) : own;
}

const ynode *include_resolve(arena *a, const ynode *root, const char *path, include_set *set,
                             diag *d)
{
    char real[PATH_MAX];
    chain top = {.real = realpath(path, real) ? real : path, .up = NULL};
    return resolve(a, root, path, &top, 0, set, d);
}

int include_set_add(include_set *set, ytree *t)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 4;
        ytree **p = realloc(set->trees, cap * sizeof *p);
        if (!p) {
            ytree_free(t);
            return -1;
        }
        set->trees = p;
        set->cap = cap;
    }
    set->trees[set->n++] = t;
    return 0;
}

void include_set_free(include_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        ytree_free(set->trees[i]);
    free(set->trees);
    for (size_t i = 0; i < set->n_files; i++)
        free(set->files[i]);
    free(set->files);
    memset(set, 0, sizeof *set);
}
