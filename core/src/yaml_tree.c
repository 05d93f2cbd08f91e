/*
 * yaml_tree: a consumer of libyaml's event API (0.2.5) that builds the ynode
 * tree. Limits are enforced per event, before anything is expanded:
 *
 *  - depth: at most YTREE_MAX_DEPTH collections are open at once; the event
 *    that would open one more fails and parsing stops at once (libyaml's
 *    scanner is quadratic in flow nesting, so we must not read on);
 *  - size: every completed node knows its size with aliases expanded
 *    (1 + children; an alias adds the size of its target) and its height
 *    (collection levels, aliases included), so an alias bomb or a deep chain
 *    of aliases is rejected in O(input) without expanding anything;
 *  - scalar length, input length, one document, core tags only.
 *
 * Nodes live in chunks owned by the tree, so an alias simply shares the
 * anchored node and freeing never double-frees. A node's size is 0 while it
 * is being built; an alias to such a node would make a cycle.
 *
 * Semantic errors (tags, keys, aliases, merges) are recorded and parsing goes
 * on so one run reports several; syntax errors and limits stop parsing.
 */
#include "yaml_tree.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CORE_TAG_PREFIX "tag:yaml.org,2002:"
#define CHUNK_NODES 128
#define MAX_ERRORS 20           /* semantic errors reported per file */
#define TEXT_SHOWN 40           /* bytes of a key or value quoted in errors */
#define SHOWN_CAP (TEXT_SHOWN * 4 + 16)

typedef struct tnode {
    ynode n;
    size_t size;        /* expanded node count; 0 while being built */
    unsigned height;    /* collection levels at and below this node */
} tnode;

struct chunk {
    struct chunk *next;
    size_t used;
    tnode nodes[CHUNK_NODES];
};

struct ytree {
    char *file;
    ynode *root;
    struct chunk *chunks;
};

typedef struct anchor {
    char *name;
    tnode *node;
} anchor;

typedef struct anchors {        /* open addressing, latest definition wins */
    anchor *slots;
    size_t cap, used;
} anchors;

/* A node completed (or aliased) and about to be placed in its parent. */
typedef struct child {
    tnode *t;
    unsigned line, col;         /* where it appears (the alias for an alias) */
    bool alias;
    bool bad;                   /* stands in for a bad alias, already reported */
} child;

typedef struct frame {          /* a collection being built */
    tnode *t;
    size_t size;                /* expanded size so far, itself included */
    unsigned height;            /* max child height + 1 */
    size_t cap;                 /* capacity of items or pairs */
    ynode *key;                 /* map: key read, value pending */
    bool drop_pair;             /* map: pending key is unusable */
    bool merge_key;             /* map: pending key is "<<" */
    bool merge_list;            /* seq: value of "<<", items must be maps */
    unsigned merge_line;        /* map: line of the first "<<", 0 if none */
    ynode **merges;             /* map: merge sources, in order */
    size_t n_merges, cap_merges;
} frame;

typedef struct builder {
    ytree *tree;
    diag *d;
    const char *buf;            /* the input, to locate reader errors */
    size_t len;
    frame stack[YTREE_MAX_DEPTH];
    size_t depth;
    anchors anchors;
    unsigned docs;
    size_t errors;              /* errors added by this load */
    bool stop;
} builder;

/* ------------------------------------------------------------------ */
/* errors                                                              */

/* Nothing is recorded once parsing has stopped. */
static void verror(builder *b, unsigned line, unsigned col, const char *fmt,
                   va_list ap)
{
    char msg[768];
    if (b->stop)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    diag_error(b->d, b->tree->file, line, col, "%s", msg);
    b->errors++;
}

/* A semantic error: recorded, parsing goes on up to MAX_ERRORS. */
__attribute__((format(printf, 4, 5)))
static void error_at(builder *b, unsigned line, unsigned col,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(b, line, col, fmt, ap);
    va_end(ap);
    if (b->errors == MAX_ERRORS && !b->stop) {
        diag_error(b->d, b->tree->file, line, col,
                   "too many errors, giving up on this file");
        b->stop = true;
    }
}

/* A syntax error or a limit: recorded, parsing stops. */
__attribute__((format(printf, 4, 5)))
static void fatal_at(builder *b, unsigned line, unsigned col,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(b, line, col, fmt, ap);
    va_end(ap);
    b->stop = true;
}

static void out_of_memory(builder *b)
{
    diag_error(b->d, NULL, 0, 0, "%s: out of memory", b->tree->file);
    b->errors++;
    b->stop = true;
}

/* "a string", "an integer", "null": a node's kind inside a sentence. */
static const char *kind_phrase(const ynode *n)
{
    static const char *const phrases[][2] = {
        { "boolean", "a boolean" }, { "integer", "an integer" },
        { "number", "a number" },   { "string", "a string" },
        { "mapping", "a mapping" }, { "sequence", "a sequence" },
    };
    const char *k = ynode_kind_name(n);
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (strcmp(k, phrases[i][0]) == 0)
            return phrases[i][1];
    return k;
}

static unsigned mark_line(yaml_mark_t m) { return (unsigned)m.line + 1; }
static unsigned mark_col(yaml_mark_t m) { return (unsigned)m.column + 1; }

/* Quote untrusted text for a message: escapes control characters and cuts
 * at the first character boundary after TEXT_SHOWN bytes. out has SHOWN_CAP
 * bytes. */
static const char *show(const char *s, size_t len, char *out)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= TEXT_SHOWN && (c & 0xc0) != 0x80) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, SHOWN_CAP - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* anchors                                                             */

static size_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037u;     /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static anchor *anchors_slot(const anchors *a, const char *name)
{
    size_t mask = a->cap - 1, i = name_hash(name) & mask;
    while (a->slots[i].name && strcmp(a->slots[i].name, name) != 0)
        i = (i + 1) & mask;
    return &a->slots[i];
}

static bool anchors_grow(anchors *a)
{
    anchors bigger = { NULL, a->cap ? a->cap * 2 : 16, a->used };
    if (!(bigger.slots = calloc(bigger.cap, sizeof *bigger.slots)))
        return false;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slots[i].name)
            *anchors_slot(&bigger, a->slots[i].name) = a->slots[i];
    free(a->slots);
    *a = bigger;
    return true;
}

static bool anchors_put(anchors *a, const char *name, tnode *t)
{
    if ((a->used + 1) * 2 > a->cap && !anchors_grow(a))
        return false;
    anchor *s = anchors_slot(a, name);
    if (!s->name) {
        if (!(s->name = strdup(name)))
            return false;
        a->used++;
    }
    s->node = t;
    return true;
}

static tnode *anchors_get(const anchors *a, const char *name)
{
    return a->cap ? anchors_slot(a, name)->node : NULL;
}

static void anchors_free(anchors *a)
{
    for (size_t i = 0; i < a->cap; i++)
        free(a->slots[i].name);
    free(a->slots);
}

/* ------------------------------------------------------------------ */
/* nodes                                                               */

static tnode *new_node(builder *b, ynode_kind kind, unsigned line,
                       unsigned col)
{
    ytree *t = b->tree;
    if (!t->chunks || t->chunks->used == CHUNK_NODES) {
        struct chunk *c = calloc(1, sizeof *c);
        if (!c) {
            out_of_memory(b);
            return NULL;
        }
        c->next = t->chunks;
        t->chunks = c;
    }
    tnode *n = &t->chunks->nodes[t->chunks->used++];
    n->n.kind = kind;
    n->n.file = t->file;
    n->n.line = line;
    n->n.col = col;
    return n;
}

/* An empty plain scalar standing in for an alias that could not be used. */
static tnode *placeholder(builder *b, unsigned line, unsigned col)
{
    tnode *n = new_node(b, YNODE_SCALAR, line, col);
    if (!n)
        return NULL;
    if (!(n->n.str = calloc(1, 1))) {
        out_of_memory(b);
        return NULL;
    }
    n->size = 1;
    return n;
}

/* Room for element n: arr itself, a bigger copy, or NULL (arr intact). */
static void *reserve(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(arr, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

/* ------------------------------------------------------------------ */
/* tags                                                                */

static ynode_kind core_tag_kind(const char *tag)
{
    static const char *const scalars[] = { "str", "int", "float", "bool",
                                           "null" };
    if (strncmp(tag, CORE_TAG_PREFIX, strlen(CORE_TAG_PREFIX)) != 0)
        return 0;
    tag += strlen(CORE_TAG_PREFIX);
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        if (strcmp(tag, scalars[i]) == 0)
            return YNODE_SCALAR;
    if (strcmp(tag, "map") == 0)
        return YNODE_MAP;
    return strcmp(tag, "seq") == 0 ? YNODE_SEQ : 0;
}

/* The kind a scalar must resolve to under a core scalar tag. */
static bool scalar_fits_tag(const ynode *n, const char *name)
{
    const char *kind = ynode_kind_name(n);
    if (strcmp(name, "int") == 0)
        return strcmp(kind, "integer") == 0;
    if (strcmp(name, "float") == 0)
        return strcmp(kind, "integer") == 0 || strcmp(kind, "number") == 0;
    if (strcmp(name, "bool") == 0)
        return strcmp(kind, "boolean") == 0;
    return strcmp(kind, "null") == 0;
}

static const char *kind_word(ynode_kind k)
{
    return k == YNODE_MAP ? "mapping" : k == YNODE_SEQ ? "sequence" : "scalar";
}

/* Only the core tags, each on its kind of node. !!str makes a scalar a
 * string; the other scalar tags make it typed and require the text to fit. */
static void check_tag(builder *b, ynode *n, const yaml_char_t *utag)
{
    const char *tag = (const char *)utag;
    char raw[256], shown[SHOWN_CAP], val[SHOWN_CAP];
    if (!tag)
        return;
    ynode_kind kind = core_tag_kind(tag);
    bool core = strncmp(tag, CORE_TAG_PREFIX, strlen(CORE_TAG_PREFIX)) == 0;
    const char *name = core ? tag + strlen(CORE_TAG_PREFIX) : tag;
    snprintf(raw, sizeof raw, "%s%s", core ? "!!" : "", name);
    show(raw, strlen(raw), shown);
    if (!kind) {
        error_at(b, n->line, n->col, "unsupported tag %s (only the YAML core "
                 "tags !!str, !!int, !!float, !!bool, !!null, !!map and !!seq "
                 "are allowed)", shown);
    } else if (kind != n->kind) {
        error_at(b, n->line, n->col, "tag %s cannot be used on a %s", shown,
                 kind_word(n->kind));
    } else if (kind == YNODE_SCALAR) {
        n->plain = strcmp(name, "str") != 0;
        if (n->plain && !scalar_fits_tag(n, name))
            error_at(b, n->line, n->col, "value %s does not match tag %s",
                     show(n->str, n->len, val), shown);
    }
}

static void set_anchor(builder *b, const yaml_char_t *name, tnode *t)
{
    if (name && !anchors_put(&b->anchors, (const char *)name, t))
        out_of_memory(b);
}

/* ------------------------------------------------------------------ */
/* mappings: merge keys and duplicates                                 */

typedef struct keyref {
    const ynode *key;
    size_t idx;
} keyref;

static int key_cmp(const ynode *a, const ynode *b)
{
    int c = memcmp(a->str, b->str, a->len < b->len ? a->len : b->len);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int keyref_cmp(const void *pa, const void *pb)
{
    const keyref *a = pa, *b = pb;
    int c = key_cmp(a->key, b->key);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* For each pair, the index of the first pair with the same key text.
 * O(n log n), so a huge mapping cannot make duplicate checks quadratic. */
static size_t *first_occurrences(const ypair *pairs, size_t n)
{
    keyref *refs = malloc(n * sizeof *refs);
    size_t *first = malloc(n * sizeof *first);
    if (!refs || !first)
        goto fail;
    for (size_t i = 0; i < n; i++)
        refs[i] = (keyref){ pairs[i].key, i };
    qsort(refs, n, sizeof *refs, keyref_cmp);
    for (size_t i = 0; i < n; i++)
        first[refs[i].idx] = i && key_cmp(refs[i - 1].key, refs[i].key) == 0
                             ? first[refs[i - 1].idx] : refs[i].idx;
    free(refs);
    return first;
fail:
    free(refs);
    free(first);
    return NULL;
}

/* Append the pairs of every merge source after the explicit pairs. */
static bool append_merged(ynode *m, const frame *f, size_t *cap)
{
    size_t total = m->n_pairs;
    for (size_t i = 0; i < f->n_merges; i++)
        total += f->merges[i]->n_pairs;
    if (total > *cap) {
        ypair *p = realloc(m->pairs, total * sizeof *p);
        if (!p)
            return false;
        m->pairs = p;
        *cap = total;
    }
    for (size_t i = 0; i < f->n_merges; i++) {
        const ynode *src = f->merges[i];
        if (src->n_pairs)           /* an empty mapping has no array */
            memcpy(m->pairs + m->n_pairs, src->pairs,
                   src->n_pairs * sizeof *src->pairs);
        m->n_pairs += src->n_pairs;
    }
    return true;
}

/* Explicit keys must be unique; merged pairs are kept only when their key
 * is new, so explicit keys win and earlier sources win over later ones. */
static void finish_map(builder *b, frame *f)
{
    ynode *m = &f->t->n;
    size_t n_explicit = m->n_pairs, kept = 0;
    char key[SHOWN_CAP];
    if (!append_merged(m, f, &f->cap))
        goto oom;
    if (m->n_pairs < 2)
        return;
    size_t *first = first_occurrences(m->pairs, m->n_pairs);
    if (!first)
        goto oom;
    for (size_t i = 0; i < m->n_pairs; i++) {
        const ynode *k = m->pairs[i].key;
        if (i < n_explicit && first[i] != i)
            error_at(b, k->line, k->col, "duplicate key %s (first on line %u)",
                     show(k->str, k->len, key),
                     m->pairs[first[i]].key->line);
        if (i < n_explicit || first[i] == i)
            m->pairs[kept++] = m->pairs[i];
    }
    m->n_pairs = kept;
    free(first);
    return;
oom:
    out_of_memory(b);
}

static void push_merge(builder *b, frame *f, ynode *src)
{
    ynode **m = reserve(f->merges, &f->cap_merges, f->n_merges, sizeof *m);
    if (!m) {
        out_of_memory(b);
        return;
    }
    f->merges = m;
    f->merges[f->n_merges++] = src;
}

/* The value of "<<": a mapping, or a sequence of mappings. Items of a
 * sequence written in place were checked as they were added (at their own
 * location); a sequence reached through an alias is checked here. */
static void add_merge(builder *b, frame *f, const child *c)
{
    const ynode *v = &c->t->n;
    bool reported = false;
    if (v->kind == YNODE_MAP) {
        push_merge(b, f, &c->t->n);
        return;
    }
    if (v->kind != YNODE_SEQ) {
        error_at(b, c->line, c->col, "the value of merge key \"<<\" must be "
                 "a mapping or a sequence of mappings, not %s",
                 kind_phrase(v));
        return;
    }
    for (size_t i = 0; i < v->n_items; i++) {
        if (v->items[i]->kind == YNODE_MAP)
            push_merge(b, f, v->items[i]);
        else if (c->alias && !reported) {
            error_at(b, c->line, c->col, "merge key \"<<\": item %zu of the "
                     "aliased sequence is %s, not a mapping", i + 1,
                     kind_phrase(v->items[i]));
            reported = true;
        }
    }
}

/* ------------------------------------------------------------------ */
/* placing nodes                                                       */

static void add_item(builder *b, frame *f, const child *c)
{
    ynode *s = &f->t->n;
    if (f->merge_list && c->t->n.kind != YNODE_MAP && !c->bad)
        error_at(b, c->line, c->col, "merge key \"<<\" expects mappings, "
                 "this is %s", kind_phrase(&c->t->n));
    ynode **items = reserve(s->items, &f->cap, s->n_items, sizeof *items);
    if (!items) {
        out_of_memory(b);
        return;
    }
    s->items = items;
    s->items[s->n_items++] = &c->t->n;
}

static void set_key(builder *b, frame *f, const child *c)
{
    const ynode *k = &c->t->n;
    f->key = &c->t->n;
    f->drop_pair = f->merge_key = false;
    if (k->kind != YNODE_SCALAR) {
        error_at(b, c->line, c->col, "mapping keys must be scalars, "
                 "this one is %s", kind_phrase(k));
        f->drop_pair = true;
    } else if (k->plain && k->len == 2 && memcmp(k->str, "<<", 2) == 0) {
        if (f->merge_line) {
            error_at(b, c->line, c->col, "duplicate key \"<<\" (first on "
                     "line %u)", f->merge_line);
            f->drop_pair = true;
        } else {
            f->merge_line = c->line;
        }
        f->merge_key = true;
    }
}

static void add_value(builder *b, frame *f, const child *c)
{
    ynode *m = &f->t->n;
    ynode *key = f->key;
    f->key = NULL;
    if (f->drop_pair || (f->merge_key && c->bad))
        return;
    if (f->merge_key) {
        add_merge(b, f, c);
        return;
    }
    ypair *pairs = reserve(m->pairs, &f->cap, m->n_pairs, sizeof *pairs);
    if (!pairs) {
        out_of_memory(b);
        return;
    }
    m->pairs = pairs;
    m->pairs[m->n_pairs++] = (ypair){ key, &c->t->n };
}

/* Place a completed node (or an alias target) in the open collection, or
 * make it the root. Enforces the expanded size and height limits. */
static void add_child(builder *b, const child *c)
{
    if (b->depth == 0) {
        b->tree->root = &c->t->n;
        return;
    }
    frame *f = &b->stack[b->depth - 1];
    f->size += c->t->size;
    if (f->size > YTREE_MAX_NODES) {
        fatal_at(b, c->line, c->col, "too many nodes: more than %d with "
                 "aliases expanded", YTREE_MAX_NODES);
        return;
    }
    if (b->depth + c->t->height > YTREE_MAX_DEPTH) {
        fatal_at(b, c->line, c->col, "nesting is too deep: more than %d "
                 "levels with aliases expanded", YTREE_MAX_DEPTH);
        return;
    }
    if (c->t->height + 1 > f->height)
        f->height = c->t->height + 1;
    if (f->t->n.kind == YNODE_SEQ)
        add_item(b, f, c);
    else if (!f->key)
        set_key(b, f, c);
    else
        add_value(b, f, c);
}

/* ------------------------------------------------------------------ */
/* events                                                              */

static void on_scalar(builder *b, const yaml_event_t *ev)
{
    unsigned line = mark_line(ev->start_mark), col = mark_col(ev->start_mark);
    size_t len = ev->data.scalar.length;
    if (len > YTREE_MAX_SCALAR) {
        fatal_at(b, line, col, "scalar is too long: %zu bytes, the limit is "
                 "%u", len, YTREE_MAX_SCALAR);
        return;
    }
    tnode *t = new_node(b, YNODE_SCALAR, line, col);
    if (!t)
        return;
    if (!(t->n.str = malloc(len + 1))) {
        out_of_memory(b);
        return;
    }
    memcpy(t->n.str, ev->data.scalar.value, len);
    t->n.str[len] = '\0';
    t->n.len = len;
    t->n.plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    t->size = 1;
    check_tag(b, &t->n, ev->data.scalar.tag);
    set_anchor(b, ev->data.scalar.anchor, t);
    add_child(b, &(child){ t, line, col, false, false });
}

static void on_start(builder *b, const yaml_event_t *ev, ynode_kind kind)
{
    unsigned line = mark_line(ev->start_mark), col = mark_col(ev->start_mark);
    bool is_map = kind == YNODE_MAP;
    if (b->depth == YTREE_MAX_DEPTH) {
        fatal_at(b, line, col, "nesting is too deep: more than %d levels",
                 YTREE_MAX_DEPTH);
        return;
    }
    tnode *t = new_node(b, kind, line, col);
    if (!t)
        return;
    check_tag(b, &t->n, is_map ? ev->data.mapping_start.tag
                               : ev->data.sequence_start.tag);
    set_anchor(b, is_map ? ev->data.mapping_start.anchor
                         : ev->data.sequence_start.anchor, t);
    const frame *parent = b->depth ? &b->stack[b->depth - 1] : NULL;
    frame *f = &b->stack[b->depth++];
    *f = (frame){ .t = t, .size = 1, .height = 1 };
    f->merge_list = !is_map && parent && parent->key && parent->merge_key &&
                    !parent->drop_pair;
}

static void on_end(builder *b)
{
    frame *f = &b->stack[--b->depth];
    tnode *t = f->t;
    if (t->n.kind == YNODE_MAP)
        finish_map(b, f);
    free(f->merges);
    t->size = f->size;
    t->height = f->height;
    add_child(b, &(child){ t, t->n.line, t->n.col, false, false });
}

static void on_alias(builder *b, const yaml_event_t *ev)
{
    unsigned line = mark_line(ev->start_mark), col = mark_col(ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    tnode *t = anchors_get(&b->anchors, name);
    bool bad = !t || !t->size;
    if (bad) {
        error_at(b, line, col, t ? "alias *%.64s refers to an enclosing node"
                                 : "undefined alias *%.64s", name);
        t = placeholder(b, line, col);
    }
    if (t)
        add_child(b, &(child){ t, line, col, true, bad });
}

static void on_event(builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->docs++)
            fatal_at(b, mark_line(ev->start_mark), mark_col(ev->start_mark),
                     "expected a single YAML document");
        break;
    case YAML_SCALAR_EVENT:
        on_scalar(b, ev);
        break;
    case YAML_SEQUENCE_START_EVENT:
        on_start(b, ev, YNODE_SEQ);
        break;
    case YAML_MAPPING_START_EVENT:
        on_start(b, ev, YNODE_MAP);
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        on_end(b);
        break;
    case YAML_ALIAS_EVENT:
        on_alias(b, ev);
        break;
    default:
        break;
    }
}

/* Reader (encoding) errors carry a byte offset instead of a mark. */
static void offset_location(const builder *b, size_t off, unsigned *line,
                            unsigned *col)
{
    *line = *col = 1;
    for (size_t i = 0; i < off && i < b->len; i++) {
        unsigned char c = (unsigned char)b->buf[i];
        if (c == '\n') {
            ++*line;
            *col = 1;
        } else if ((c & 0xc0) != 0x80) {
            ++*col;
        }
    }
}

static void parse_error(builder *b, const yaml_parser_t *p)
{
    unsigned line = mark_line(p->problem_mark), col = mark_col(p->problem_mark);
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_MEMORY_ERROR) {
        out_of_memory(b);
        return;
    }
    if (p->error == YAML_READER_ERROR)
        offset_location(b, p->problem_offset, &line, &col);
    if (p->context)
        fatal_at(b, line, col, "invalid YAML: %s (%s that started at line %u "
                 "column %u)", problem, p->context, mark_line(p->context_mark),
                 mark_col(p->context_mark));
    else
        fatal_at(b, line, col, "invalid YAML: %s", problem);
}

static void build(builder *b, yaml_parser_t *p)
{
    bool end = false;
    while (!end && !b->stop) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev)) {
            parse_error(b, p);
            break;
        }
        end = ev.type == YAML_STREAM_END_EVENT;
        on_event(b, &ev);
        yaml_event_delete(&ev);
    }
}

/* ------------------------------------------------------------------ */
/* public API                                                          */

ytree *ytree_load_string(const char *display_name, const char *buf,
                         size_t len, diag *d)
{
    builder b = { .d = d, .buf = buf ? buf : "", .len = buf ? len : 0 };
    yaml_parser_t parser;
    bool have_parser = false;
    ytree *t = calloc(1, sizeof *t);
    if (!t || !(t->file = strdup(display_name ? display_name : "<string>"))) {
        diag_error(d, NULL, 0, 0, "out of memory");
        b.errors++;
        goto done;
    }
    b.tree = t;
    if (b.len > YTREE_MAX_BYTES) {
        fatal_at(&b, 1, 1, "file is too large: more than %u bytes",
                 YTREE_MAX_BYTES);
        goto done;
    }
    if (!(have_parser = yaml_parser_initialize(&parser))) {
        out_of_memory(&b);
        goto done;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)b.buf, b.len);
    build(&b, &parser);
done:
    while (b.depth)
        free(b.stack[--b.depth].merges);
    anchors_free(&b.anchors);
    if (have_parser)
        yaml_parser_delete(&parser);
    if (b.errors) {
        ytree_free(t);
        t = NULL;
    }
    return t;
}

/* Reads at most limit + 1 bytes, so an oversized file is detected without
 * reading all of it. NULL with errno set on failure. */
static char *read_stream(FILE *f, size_t limit, size_t *len)
{
    size_t cap = 0, n = 0;
    char *buf = NULL;
    while (n <= limit) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap > limit + 1 ? limit + 1 : ncap);
            if (!nb)
                goto fail;
            buf = nb;
            cap = ncap > limit + 1 ? limit + 1 : ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0 || n == limit + 1)
            break;
    }
    if (ferror(f))
        goto fail;
    *len = n;
    return buf ? buf : calloc(1, 1);
fail:
    free(buf);
    return NULL;
}

ytree *ytree_load_file(const char *path, const char *display_name, diag *d)
{
    const char *name = display_name ? display_name : path;
    size_t len = 0;
    char *buf = NULL;
    ytree *t = NULL;
    FILE *f;
    errno = 0;
    f = fopen(path, "rb");
    if (!f || !(buf = read_stream(f, YTREE_MAX_BYTES, &len))) {
        int err = errno ? errno : EIO;
        diag_error(d, NULL, 0, 0, "%s: cannot read: %s", name, strerror(err));
        goto done;
    }
    t = ytree_load_string(name, buf, len, d);
done:
    if (f)
        fclose(f);
    free(buf);
    return t;
}

void ytree_free(ytree *t)
{
    if (!t)
        return;
    struct chunk *c = t->chunks;
    while (c) {
        struct chunk *next = c->next;
        for (size_t i = 0; i < c->used; i++) {
            free(c->nodes[i].n.str);
            free(c->nodes[i].n.pairs);
            free(c->nodes[i].n.items);
        }
        free(c);
        c = next;
    }
    free(t->file);
    free(t);
}

const ynode *ytree_root(const ytree *t) { return t ? t->root : NULL; }

const ynode *ynode_get(const ynode *map, const char *key)
{
    size_t len = strlen(key);
    if (!map || map->kind != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n_pairs; i++) {
        const ynode *k = map->pairs[i].key;
        if (k->len == len && memcmp(k->str, key, len) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* core schema                                                         */

static bool plain_scalar(const ynode *n)
{
    return n && n->kind == YNODE_SCALAR && n->plain;
}

static bool text_in(const ynode *n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n->len && memcmp(*words, n->str, n->len) == 0)
            return true;
    return false;
}

bool ynode_is_null(const ynode *n)
{
    static const char *const nulls[] = { "~", "null", "Null", "NULL", "",
                                         NULL };
    return !n || (plain_scalar(n) && text_in(n, nulls));
}

bool ynode_bool(const ynode *n, bool *out)
{
    static const char *const trues[] = { "true", "True", "TRUE", NULL };
    static const char *const falses[] = { "false", "False", "FALSE", NULL };
    if (!plain_scalar(n))
        return false;
    if (text_in(n, trues))
        *out = true;
    else if (text_in(n, falses))
        *out = false;
    else
        return false;
    return true;
}

typedef enum { INT_NO, INT_OK, INT_RANGE } int_scan;

static int digit_value(char c, unsigned base)
{
    int v = c >= '0' && c <= '9' ? c - '0'
          : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
    return (unsigned)v < base ? v : -1;
}

static int_scan scan_digits(const char *s, const char *end, unsigned base,
                            bool neg, int64_t *out)
{
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool range = false;
    if (s == end)
        return INT_NO;
    for (; s < end; s++) {
        int dv = digit_value(*s, base);
        if (dv < 0)
            return INT_NO;
        if (v > (limit - (unsigned)dv) / base)
            range = true;
        else
            v = v * base + (unsigned)dv;
    }
    if (range)
        return INT_RANGE;
    if (!neg)
        *out = (int64_t)v;
    else
        *out = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
    return INT_OK;
}

/* [-+]?[0-9]+ | 0x[0-9a-fA-F]+ | 0o[0-7]+ (YAML 1.2 core). */
static int_scan scan_int(const ynode *n, int64_t *out)
{
    const char *s = n->str, *end = n->str + n->len;
    if (n->len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
        return scan_digits(s + 2, end, s[1] == 'x' ? 16 : 8, false, out);
    bool neg = n->len && s[0] == '-';
    if (n->len && (s[0] == '-' || s[0] == '+'))
        s++;
    return scan_digits(s, end, 10, neg, out);
}

bool ynode_int(const ynode *n, int64_t *out)
{
    return plain_scalar(n) && scan_int(n, out) == INT_OK;
}

static size_t skip_digits(const char **p, const char *end)
{
    const char *s = *p;
    while (*p < end && **p >= '0' && **p <= '9')
        ++*p;
    return (size_t)(*p - s);
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool float_shape(const char *p, size_t len)
{
    const char *end = p + len;
    if (p < end && (*p == '-' || *p == '+'))
        p++;
    size_t whole = skip_digits(&p, end), frac = 0;
    if (p < end && *p == '.') {
        p++;
        frac = skip_digits(&p, end);
    }
    if (!whole && !frac)
        return false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '-' || *p == '+'))
            p++;
        if (!skip_digits(&p, end))
            return false;
    }
    return p == end;
}

static bool special_float(const ynode *n, double *out)
{
    static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf",
                                        "+.Inf", "+.INF", NULL };
    static const char *const neg_infs[] = { "-.inf", "-.Inf", "-.INF", NULL };
    static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
    double v;
    if (text_in(n, infs))
        v = INFINITY;
    else if (text_in(n, neg_infs))
        v = -INFINITY;
    else if (text_in(n, nans))
        v = NAN;
    else
        return false;
    if (out)
        *out = v;
    return true;
}

/* strtod in the C locale, on text already known to be a decimal float. */
static bool c_strtod(const char *s, size_t len, double *out)
{
    char *end = NULL;
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c == (locale_t)0)
        return false;
    errno = 0;
    double v = strtod_l(s, &end, c);
    int err = errno;
    freelocale(c);
    if (end != s + len || (err == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)))
        return false;
    *out = v;
    return true;
}

bool ynode_double(const ynode *n, double *out)
{
    int64_t i;
    if (!plain_scalar(n))
        return false;
    if (special_float(n, out))
        return true;
    if (float_shape(n->str, n->len))
        return c_strtod(n->str, n->len, out);
    if (scan_int(n, &i) != INT_OK)
        return false;
    *out = (double)i;
    return true;
}

/* By shape, so an integer too large for int64 is still an "integer" and a
 * caller can say "out of range" rather than "expected an integer". */
const char *ynode_kind_name(const ynode *n)
{
    int64_t i;
    bool b;
    if (!n)
        return "null";
    if (n->kind == YNODE_MAP)
        return "mapping";
    if (n->kind == YNODE_SEQ)
        return "sequence";
    if (!n->plain)
        return "string";
    if (ynode_is_null(n))
        return "null";
    if (ynode_bool(n, &b))
        return "boolean";
    if (scan_int(n, &i) != INT_NO)
        return "integer";
    if (special_float(n, NULL) || float_shape(n->str, n->len))
        return "number";
    return "string";
}

void ynode_error(diag *d, const ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, n->file, n->line, n->col, fmt, ap);
    va_end(ap);
}

void ynode_warning(diag *d, const ynode *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vwarning(d, n->file, n->line, n->col, fmt, ap);
    va_end(ap);
}
