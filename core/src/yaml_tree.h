/*
 * yaml_tree: reads one YAML document with libyaml's event API into a small
 * tree that keeps file, line and column on every node, with limits that make
 * untrusted input safe: input size, nesting depth, scalar length, node count
 * after alias expansion, one document per file, no custom tags.
 *
 * Aliases (*a) share the anchored node (the tree is a DAG); an alias to a
 * node that is not complete yet (a cycle) is an error. Merge keys ("<<: *a"
 * or "<<: [*a, *b]") are applied as YAML 1.1 does and as js-yaml does:
 * explicit keys win, earlier sources win over later ones. Duplicate keys in
 * one mapping are an error.
 */
#ifndef VOLLEY_YAML_TREE_H
#define VOLLEY_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define YTREE_MAX_BYTES (4u << 20)
#define YTREE_MAX_DEPTH 64
#define YTREE_MAX_NODES 200000        /* counted with aliases expanded */
#define YTREE_MAX_SCALAR (1u << 20)

typedef enum ynode_kind { YNODE_SCALAR = 1, YNODE_MAP, YNODE_SEQ } ynode_kind;

typedef struct ynode ynode;

typedef struct ypair {
    ynode *key;     /* always a scalar */
    ynode *value;
} ypair;

struct ynode {
    ynode_kind kind;
    const char *file;     /* owned by the tree */
    unsigned line, col;   /* 1-based */
    /* scalar */
    char *str;            /* NUL-terminated, may contain NULs (see len) */
    size_t len;
    bool plain;           /* unquoted plain scalar: subject to typing */
    /* map */
    size_t n_pairs;
    ypair *pairs;
    /* seq */
    size_t n_items;
    ynode **items;
};

typedef struct ytree ytree;

/* Load a file. On error returns NULL and adds messages (with locations) to
 * d. `display_name` is used in locations (NULL: the path). */
ytree *ytree_load_file(const char *path, const char *display_name, diag *d);
ytree *ytree_load_string(const char *display_name, const char *buf,
                         size_t len, diag *d);
void ytree_free(ytree *t);
/* The document root; an empty document gives NULL. */
const ynode *ytree_root(const ytree *t);

/* Map lookup by key text (first match), NULL when absent. */
const ynode *ynode_get(const ynode *map, const char *key);

/* YAML 1.2 core schema for plain scalars. Quoted scalars are strings. */
bool ynode_is_null(const ynode *n);         /* ~, null, Null, NULL, empty plain */
bool ynode_bool(const ynode *n, bool *out);     /* true/false (+ True/TRUE...) */
bool ynode_int(const ynode *n, int64_t *out);   /* [-+]?[0-9]+, 0x.., 0o.. */
bool ynode_double(const ynode *n, double *out); /* ints and floats, .inf/.nan */
const char *ynode_kind_name(const ynode *n); /* "string", "integer", "number",
                                                "boolean", "null", "mapping",
                                                "sequence" -- for errors */
/* diag_error at the node's file:line:column. */
void ynode_error(diag *d, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* diag_warning at the node's file:line:column. */
void ynode_warning(diag *d, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
