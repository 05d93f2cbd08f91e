/*
 * libFuzzer target for yaml_tree: load, walk the whole tree (aliases
 * expanded) checking the invariants the rest of the core relies on, free.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

#define MAX_INPUT (64 * 1024)

typedef struct walk_state {
    size_t visited;
    const char *file;
} walk_state;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void use_scalar(const ynode *n)
{
    bool b;
    int64_t i;
    double v;
    check(n->str != NULL && n->str[n->len] == '\0', "scalar NUL-terminated");
    (void)ynode_is_null(n);
    (void)ynode_bool(n, &b);
    (void)ynode_int(n, &i);
    (void)ynode_double(n, &v);
    check(ynode_kind_name(n) != NULL, "kind name");
}

/* Collections are at most YTREE_MAX_DEPTH deep and the walk visits at most
 * YTREE_MAX_NODES nodes, even though aliases are expanded. */
static void walk(const ynode *n, unsigned depth, walk_state *w)
{
    check(++w->visited <= YTREE_MAX_NODES, "expanded size within limit");
    check(n->file == w->file && n->line >= 1 && n->col >= 1, "location");
    if (n->kind == YNODE_SCALAR) {
        use_scalar(n);
        return;
    }
    check(depth <= YTREE_MAX_DEPTH, "depth within limit");
    for (size_t i = 0; n->kind == YNODE_SEQ && i < n->n_items; i++)
        walk(n->items[i], depth + 1, w);
    for (size_t i = 0; n->kind == YNODE_MAP && i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key;
        check(k->kind == YNODE_SCALAR, "keys are scalars");
        if (n->n_pairs <= 64 && !memchr(k->str, 0, k->len))
            check(ynode_get(n, k->str) == n->pairs[i].value, "keys unique");
        walk(k, depth + 1, w);
        walk(n->pairs[i].value, depth + 1, w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    diag d;
    if (size > MAX_INPUT)
        return 0;
    diag_init(&d);
    ytree *t = ytree_load_string("fuzz.yaml", (const char *)data, size, &d);
    check((t == NULL) == (d.count > 0), "failure iff errors reported");
    if (t && ytree_root(t)) {
        walk_state w = { 0, ytree_root(t)->file };
        walk(ytree_root(t), 1, &w);
    }
    ytree_free(t);
    diag_free(&d);
    return 0;
}
