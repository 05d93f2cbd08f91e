/*
 * The spec loader's lowest layer: what spec.c and spec_data.c both need
 * while compiling (locations, key checks, wanting a mapping or a string, key
 * paths, option maps beside keys read by hand). It calls no other spec file.
 */
#include <string.h>

#include "spec_int.h"
#include "suggest.h"

const char *spec_loc(spec_loader *L, const ynode *n)
{
    return arena_printf(&L->s->a, "%s:%u:%u", n->file, n->line, n->col);
}

bool spec_check_keys(spec_loader *L, const ynode *map, const char *path, const char *const *keys,
                     size_t n_keys)
{
    bool ok = true;
    for (size_t i = 0; i < map->n_pairs; i++) {
        const ynode *k = map->pairs[i].key;
        size_t j = 0;
        while (j < n_keys && strcmp(keys[j], k->str) != 0)
            j++;
        if (j < n_keys)
            continue;
        char list[512];
        suggest_join(keys, n_keys, list, sizeof list);
        char hint[128];
        suggest_hint(k->str, keys, n_keys, hint, sizeof hint);
        ynode_error(L->d, k, "%s: unknown key \"%s\"%s; valid keys: %s", path, k->str, hint, list);
        ok = false;
    }
    return ok;
}

const ynode *spec_want_map(spec_loader *L, const ynode *n, const char *path)
{
    if (n && n->kind == YNODE_MAP)
        return n;
    if (n)
        ynode_error(L->d, n, "%s: expected a mapping, got %s", path, ynode_kind_name(n));
    return NULL;
}

const char *spec_want_string(spec_loader *L, const ynode *n, const char *path)
{
    if (n && n->kind == YNODE_SCALAR && !ynode_is_null(n))
        return n->str;
    if (n)
        ynode_error(L->d, n, "%s: expected a string, got %s", path, ynode_kind_name(n));
    return NULL;
}

const char *spec_subpath(spec_loader *L, const char *path, const char *key)
{
    return *path ? arena_printf(&L->s->a, "%s.%s", path, key) : arena_strdup(&L->s->a, key);
}

int spec_fill_except(spec_loader *L, const volley_option_map *map, const ynode *node, void *cfg,
                     const char *path, const char *const *own, size_t n_own)
{
    ynode rest = *node;
    rest.n_pairs = 0;
    rest.pairs = arena_alloc(&L->s->a, (node->n_pairs + 1) * sizeof *rest.pairs);
    if (!rest.pairs) {
        ynode_error(L->d, node, "%s: out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < node->n_pairs; i++) {
        size_t j = 0;
        while (j < n_own && strcmp(own[j], node->pairs[i].key->str) != 0)
            j++;
        if (j == n_own)
            rest.pairs[rest.n_pairs++] = node->pairs[i];
    }
    L->oc.extra_keys = own;
    L->oc.n_extra_keys = n_own;
    int rc = opt_fill(&L->oc, map, &rest, cfg, path);
    L->oc.extra_keys = NULL;
    L->oc.n_extra_keys = 0;
    return rc;
}
