#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "yaml_tree.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static ytree *load(const char *yaml, diag *d)
{
    return ytree_load_string("t.yaml", yaml, strlen(yaml), d);
}

/* Loads yaml, which must fail, and checks the first message. */
static void expect_error_n(const char *yaml, size_t len, const char *msg)
{
    diag d;
    diag_init(&d);
    ytree *t = ytree_load_string("t.yaml", yaml, len, &d);
    if (t)
        fail_msg("loaded, expected: %s", msg);
    assert_true(d.count >= 1);
    assert_string_equal(d.lines[0], msg);
    diag_free(&d);
}

static void expect_error(const char *yaml, const char *msg)
{
    expect_error_n(yaml, strlen(yaml), msg);
}

/* Loads yaml, which must succeed. Free with ytree_free. */
static ytree *must_load(const char *yaml)
{
    diag d;
    diag_init(&d);
    ytree *t = load(yaml, &d);
    if (!t) {
        diag_print(&d, stderr);
        fail_msg("failed to load: %s", yaml);
    }
    assert_int_equal(d.count, 0);
    diag_free(&d);
    return t;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Time bounds hold natively and under the sanitizers; valgrind is 20-50x
 * slower, so they are not checked there. */
static void assert_fast(double t0, double max_ms)
{
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload"))
        return;
    if (now_ms() - t0 >= max_ms)
        fail_msg("took %.1f ms, the bound is %.0f ms", now_ms() - t0, max_ms);
}

static void assert_at(const ynode *n, unsigned line, unsigned col)
{
    assert_non_null(n);
    if (n->line != line || n->col != col)
        fail_msg("node at %u:%u, expected %u:%u", n->line, n->col, line, col);
}

static void assert_scalar(const ynode *n, const char *text)
{
    assert_non_null(n);
    assert_int_equal(n->kind, YNODE_SCALAR);
    assert_int_equal(n->len, strlen(text));
    assert_string_equal(n->str, text);
}

static const ynode *item(const ynode *seq, size_t i)
{
    assert_non_null(seq);
    assert_int_equal(seq->kind, YNODE_SEQ);
    assert_true(i < seq->n_items);
    return seq->items[i];
}

/* A node from a plain scalar, for the schema helpers. */
static ynode scalar(const char *text, bool plain)
{
    ynode n = { .kind = YNODE_SCALAR, .str = (char *)text,
                .len = strlen(text), .plain = plain };
    return n;
}

/* Same shape and text, locations ignored. */
static bool same_tree(const ynode *a, const ynode *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == YNODE_SCALAR)
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    if (a->kind == YNODE_SEQ) {
        if (a->n_items != b->n_items)
            return false;
        for (size_t i = 0; i < a->n_items; i++)
            if (!same_tree(a->items[i], b->items[i]))
                return false;
        return true;
    }
    if (a->n_pairs != b->n_pairs)
        return false;
    for (size_t i = 0; i < a->n_pairs; i++)
        if (!same_tree(a->pairs[i].key, b->pairs[i].key) ||
            !same_tree(a->pairs[i].value, b->pairs[i].value))
            return false;
    return true;
}

/* Nodes visited by a walk that expands aliases, and the deepest level. */
static size_t walk(const ynode *n, unsigned level, unsigned *max_level)
{
    size_t count = 1;
    if (n->kind != YNODE_SCALAR && level > *max_level)
        *max_level = level;
    for (size_t i = 0; n->kind == YNODE_SEQ && i < n->n_items; i++)
        count += walk(n->items[i], level + 1, max_level);
    for (size_t i = 0; n->kind == YNODE_MAP && i < n->n_pairs; i++)
        count += walk(n->pairs[i].key, level + 1, max_level) +
                 walk(n->pairs[i].value, level + 1, max_level);
    return count;
}

/* A growable string for generated inputs. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(ul * times + tl + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    memcpy(s + ul * times, tail, tl + 1);
    return s;
}

/* ------------------------------------------------------------------ */
/* structure and locations                                             */

static void test_locations_nested(void **state)
{
    (void)state;
    ytree *t = must_load("a:\n"
                         "  b:\n"
                         "    - x\n"
                         "    - {c: 1, d: [2, 3]}\n"
                         "e: 'q'\n");
    const ynode *root = ytree_root(t);
    assert_int_equal(root->kind, YNODE_MAP);
    assert_at(root, 1, 1);
    assert_string_equal(root->file, "t.yaml");
    assert_int_equal(root->n_pairs, 2);
    assert_at(root->pairs[0].key, 1, 1);
    const ynode *a = ynode_get(root, "a");
    assert_at(a, 2, 3);
    assert_at(a->pairs[0].key, 2, 3);
    const ynode *b = ynode_get(a, "b");
    assert_int_equal(b->kind, YNODE_SEQ);
    assert_at(b, 3, 5);
    assert_at(item(b, 0), 3, 7);
    assert_scalar(item(b, 0), "x");
    const ynode *flow = item(b, 1);
    assert_int_equal(flow->kind, YNODE_MAP);
    assert_at(flow, 4, 7);
    assert_at(flow->pairs[0].key, 4, 8);
    assert_at(ynode_get(flow, "c"), 4, 11);
    assert_at(flow->pairs[1].key, 4, 14);
    const ynode *d = ynode_get(flow, "d");
    assert_at(d, 4, 17);
    assert_at(item(d, 0), 4, 18);
    assert_at(item(d, 1), 4, 21);
    assert_scalar(item(d, 1), "3");
    assert_at(ynode_get(root, "e"), 5, 4);
    assert_at(root->pairs[1].key, 5, 1);
    assert_string_equal(item(d, 1)->file, "t.yaml");
    ytree_free(t);
}

static void test_flow_and_block_agree(void **state)
{
    (void)state;
    ytree *block = must_load("name: x\n"
                             "list:\n"
                             "  - 1\n"
                             "  - two\n"
                             "  - k: v\n"
                             "map:\n"
                             "  inner: [a, b]\n"
                             "empty:\n");
    ytree *flow = must_load("{name: x, list: [1, two, {k: v}],\n"
                            " map: {inner: [a, b]}, empty: }");
    assert_true(same_tree(ytree_root(block), ytree_root(flow)));
    assert_true(ynode_is_null(ynode_get(ytree_root(block), "empty")));
    ytree_free(block);
    ytree_free(flow);
}

static void test_scalar_styles(void **state)
{
    (void)state;
    ytree *t = must_load("p: plain text\n"
                         "s: 'single ''q'''\n"
                         "d: \"dbl\\tx\\0y\"\n"
                         "l: |\n  line1\n  line2\n"
                         "f: >\n  a\n  b\n"
                         "e: ''\n");
    const ynode *r = ytree_root(t);
    assert_scalar(ynode_get(r, "p"), "plain text");
    assert_true(ynode_get(r, "p")->plain);
    assert_scalar(ynode_get(r, "s"), "single 'q'");
    assert_false(ynode_get(r, "s")->plain);
    const ynode *d = ynode_get(r, "d");
    assert_int_equal(d->len, 7);                       /* embedded NUL */
    assert_memory_equal(d->str, "dbl\tx\0y", 8);
    assert_false(d->plain);
    assert_scalar(ynode_get(r, "l"), "line1\nline2\n");
    assert_false(ynode_get(r, "l")->plain);
    assert_scalar(ynode_get(r, "f"), "a b\n");
    assert_false(ynode_get(r, "f")->plain);
    assert_scalar(ynode_get(r, "e"), "");
    assert_false(ynode_is_null(ynode_get(r, "e")));    /* '' is a string */
    assert_null(ynode_get(r, "missing"));
    assert_null(ynode_get(ynode_get(r, "p"), "x"));    /* not a map */
    assert_null(ynode_get(NULL, "x"));
    ytree_free(t);
}

static void test_buffer_without_nul(void **state)
{
    (void)state;
    static const char text[] = "a: [1, 2]\nb: c";
    size_t len = sizeof text - 1;
    char *buf = malloc(len);                /* no room for a terminator */
    memcpy(buf, text, len);
    diag d;
    diag_init(&d);
    ytree *t = ytree_load_string("t.yaml", buf, len, &d);
    assert_non_null(t);
    assert_scalar(ynode_get(ytree_root(t), "b"), "c");
    ytree_free(t);
    /* A prefix of the buffer: "a: [1" is cut inside the flow sequence. */
    assert_null(ytree_load_string("t.yaml", buf, 5, &d));
    assert_int_equal(d.count, 1);
    diag_free(&d);
    free(buf);
}

static void test_empty_document(void **state)
{
    (void)state;
    diag d;
    diag_init(&d);
    ytree *t = ytree_load_string("t.yaml", NULL, 0, &d);
    assert_non_null(t);
    assert_null(ytree_root(t));
    ytree_free(t);
    t = must_load("# only a comment\n\n");
    assert_null(ytree_root(t));
    ytree_free(t);
    t = must_load("--- ~\n...\n");
    assert_true(ynode_is_null(ytree_root(t)));
    ytree_free(t);
    assert_null(ytree_root(NULL));
    ytree_free(NULL);
    diag_free(&d);
}

static void test_display_name(void **state)
{
    (void)state;
    diag d;
    diag_init(&d);
    assert_null(ytree_load_string(NULL, "[", 1, &d));
    assert_int_equal(strncmp(d.lines[0], "<string>:", 9), 0);
    diag_free(&d);
}

/* ------------------------------------------------------------------ */
/* syntax errors                                                       */

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("# x\na: 1\nb: \"x\"\n  c\n",
                 "t.yaml:4:3: error: invalid YAML: did not find expected key "
                 "(while parsing a block mapping that started at line 2 "
                 "column 1)");
    expect_error("a: \"abc\n",
                 "t.yaml:2:1: error: invalid YAML: found unexpected end of "
                 "stream (while scanning a quoted scalar that started at line "
                 "1 column 4)");
    expect_error("a: [1\n",
                 "t.yaml:2:1: error: invalid YAML: did not find expected ',' "
                 "or ']' (while parsing a flow sequence that started at line "
                 "1 column 4)");
    expect_error("a: 1\n b: 2\n",
                 "t.yaml:2:3: error: invalid YAML: mapping values are not "
                 "allowed in this context");
}

static void test_reader_errors(void **state)
{
    (void)state;
    expect_error("a: 1\nb: x\x01y\n",
                 "t.yaml:2:5: error: invalid YAML: control characters are not "
                 "allowed");
    expect_error("a: \xc3\xa9\xff\n",
                 "t.yaml:1:5: error: invalid YAML: invalid leading UTF-8 "
                 "octet");
    expect_error_n("a: b\0c", 6,
                   "t.yaml:1:5: error: invalid YAML: control characters are "
                   "not allowed");
}

/* ------------------------------------------------------------------ */
/* limits                                                              */

static void test_input_too_large(void **state)
{
    (void)state;
    size_t len = YTREE_MAX_BYTES + 1;
    char *buf = malloc(len);
    memset(buf, '#', len);
    buf[len - 1] = '\n';
    expect_error_n(buf, len, "t.yaml:1:1: error: file is too large: more "
                             "than 4194304 bytes");
    /* The limit itself is fine: "a: 1" and one long comment. */
    memcpy(buf, "a: 1\n", 5);
    diag d;
    diag_init(&d);
    ytree *t = ytree_load_string("t.yaml", buf, len - 1, &d);
    assert_non_null(t);
    assert_scalar(ynode_get(ytree_root(t), "a"), "1");
    ytree_free(t);
    diag_free(&d);
    free(buf);
}

static void test_flow_depth_bomb(void **state)
{
    (void)state;
    char *deep = repeat("[", 100000, "");
    double t0 = now_ms();
    expect_error(deep, "t.yaml:1:65: error: nesting is too deep: more than 64 "
                       "levels");
    assert_fast(t0, 500);
    free(deep);
    /* Exactly 64 levels load. */
    char *open = repeat("[", 64, "");
    char *ok = repeat("]", 64, "");
    char *both = malloc(129);
    snprintf(both, 129, "%s%s", open, ok);
    ytree *t = must_load(both);
    unsigned lvl = 0;
    walk(ytree_root(t), 1, &lvl);
    assert_int_equal(lvl, 64);
    ytree_free(t);
    free(open);
    free(ok);
    free(both);
}

static void test_block_depth(void **state)
{
    (void)state;
    sbuf b = { 0 };
    for (int i = 0; i < 70; i++)
        sb_add(&b, "%*sk%d:\n", i, "", i);
    expect_error(b.s, "t.yaml:65:65: error: nesting is too deep: more than 64 "
                      "levels");
    free(b.s);
}

/* A node reached through an alias counts at its new depth. */
static void test_depth_through_aliases(void **state)
{
    (void)state;
    char *open = repeat("[", 63, "");
    char *close = repeat("]", 63, "");
    sbuf b = { 0 };
    sb_add(&b, "x: &x %s1%s\n", open, close);      /* levels 2..64 */
    ytree *t = must_load(b.s);
    ytree_free(t);
    sb_add(&b, "y: [*x]\n");                        /* levels 3..65 */
    expect_error(b.s, "t.yaml:2:5: error: nesting is too deep: more than 64 "
                      "levels with aliases expanded");
    free(b.s);
    free(open);
    free(close);
}

static void test_scalar_too_long(void **state)
{
    (void)state;
    char *big = repeat("x", YTREE_MAX_SCALAR + 5, "");
    memcpy(big, "a: ", 3);
    big[3 + YTREE_MAX_SCALAR] = '\n';       /* value: exactly the limit */
    big[4 + YTREE_MAX_SCALAR] = '\0';
    ytree *t = must_load(big);
    assert_int_equal(ynode_get(ytree_root(t), "a")->len, YTREE_MAX_SCALAR);
    ytree_free(t);
    big[3 + YTREE_MAX_SCALAR] = 'x';        /* one more */
    big[4 + YTREE_MAX_SCALAR] = '\n';
    expect_error(big, "t.yaml:1:4: error: scalar is too long: 1048577 bytes, "
                      "the limit is 1048576");
    free(big);
}

static void test_billion_laughs(void **state)
{
    (void)state;
    sbuf b = { 0 };
    sb_add(&b, "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char c = 'b'; c <= 'i'; c++)
        sb_add(&b, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
               c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
               c - 1);
    /* f = 1 + 9 * 66430 nodes; the 4th *e crosses 200000. */
    double t0 = now_ms();
    expect_error(b.s, "t.yaml:6:20: error: too many nodes: more than 200000 "
                      "with aliases expanded");
    assert_fast(t0, 100);
    free(b.s);
}

/* Within the budget, aliases share nodes and a full walk stays bounded. */
static void test_alias_dag_within_budget(void **state)
{
    (void)state;
    sbuf b = { 0 };
    sb_add(&b, "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char c = 'b'; c <= 'e'; c++)
        sb_add(&b, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
               c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
               c - 1);
    ytree *t = must_load(b.s);
    const ynode *e = ynode_get(ytree_root(t), "e");
    assert_ptr_equal(item(e, 0), item(e, 8));
    assert_ptr_equal(item(e, 0), ynode_get(ytree_root(t), "d"));
    unsigned lvl = 0;
    size_t n = walk(ytree_root(t), 1, &lvl);
    assert_true(n <= YTREE_MAX_NODES);
    assert_int_equal(n, 1 + 5 + 10 + 91 + 820 + 7381 + 66430);
    ytree_free(t);
    free(b.s);
}

static void test_node_limit_boundary(void **state)
{
    (void)state;
    /* The sequence itself plus 199999 items: exactly the limit. */
    char *ok = repeat("0,", YTREE_MAX_NODES, "]");
    ok[0] = '[';                                 /* "[,0,0,...,0,]" */
    memmove(ok + 1, ok + 2, strlen(ok + 2) + 1); /* "[0,0,...,0,]"  */
    ytree *t = must_load(ok);
    assert_int_equal(ytree_root(t)->n_items, YTREE_MAX_NODES - 1);
    ytree_free(t);
    free(ok);
    char *over = repeat("0,", YTREE_MAX_NODES + 1, "]");
    over[0] = '[';
    memmove(over + 1, over + 2, strlen(over + 2) + 1);
    /* "[0,0,..." : item i (0-based) is at column 2 + 2i; it fails on the
     * 200000th item, at index 199999. */
    expect_error(over, "t.yaml:1:400000: error: too many nodes: more than "
                       "200000 with aliases expanded");
    free(over);
}

static void test_multi_document(void **state)
{
    (void)state;
    expect_error("a: 1\n---\nb: 2\n",
                 "t.yaml:2:1: error: expected a single YAML document");
    expect_error("--- a\n--- b\n",
                 "t.yaml:2:1: error: expected a single YAML document");
    expect_error("a: 1\n...\n---\nb: 2\n",
                 "t.yaml:3:1: error: expected a single YAML document");
    ytree *t = must_load("%YAML 1.1\n---\na: 1\n...\n# trailing comment\n");
    assert_scalar(ynode_get(ytree_root(t), "a"), "1");
    ytree_free(t);
}

/* ------------------------------------------------------------------ */
/* tags                                                                */

static void test_tags_accepted(void **state)
{
    (void)state;
    ytree *t = must_load("s: !!str 12\n"
                         "i: !!int \"12\"\n"
                         "f: !!float 1\n"
                         "g: !!float '2.5'\n"
                         "b: !!bool \"true\"\n"
                         "n: !!null ''\n"
                         "m: !!map {a: 1}\n"
                         "q: !!seq [1]\n"
                         "v: !<tag:yaml.org,2002:str> true\n");
    const ynode *r = ytree_root(t);
    int64_t i;
    double f;
    bool b;
    assert_string_equal(ynode_kind_name(ynode_get(r, "s")), "string");
    assert_false(ynode_int(ynode_get(r, "s"), &i));
    assert_true(ynode_int(ynode_get(r, "i"), &i));
    assert_int_equal(i, 12);
    assert_true(ynode_double(ynode_get(r, "f"), &f));
    assert_true(f == 1.0);
    assert_true(ynode_double(ynode_get(r, "g"), &f));
    assert_true(f == 2.5);
    assert_true(ynode_bool(ynode_get(r, "b"), &b) && b);
    assert_true(ynode_is_null(ynode_get(r, "n")));
    assert_int_equal(ynode_get(r, "m")->kind, YNODE_MAP);
    assert_int_equal(ynode_get(r, "q")->kind, YNODE_SEQ);
    assert_string_equal(ynode_kind_name(ynode_get(r, "v")), "string");
    ytree_free(t);
}

static void test_tags_rejected(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "t.yaml:1:4: error: unsupported tag \"!foo\" (only the YAML core tags "
        "!!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed)",
        "t.yaml:2:4: error: unsupported tag \"!!python/object\" (only the YAML "
        "core tags !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are "
        "allowed)",
        "t.yaml:3:4: error: tag \"!!seq\" cannot be used on a mapping",
        "t.yaml:4:4: error: tag \"!!str\" cannot be used on a sequence",
        "t.yaml:5:4: error: tag \"!!map\" cannot be used on a scalar",
        "t.yaml:6:4: error: value \"abc\" does not match tag \"!!int\"",
        "t.yaml:7:4: error: value \"yes\" does not match tag \"!!bool\"",
        "t.yaml:8:4: error: unsupported tag \"!\" (only the YAML core tags "
        "!!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed)",
        "t.yaml:9:4: error: unsupported tag \"!e\\x1bx\" (only the YAML core "
        "tags !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are "
        "allowed)",
        "t.yaml:10:4: error: unsupported tag \"!!binary\" (only the YAML core "
        "tags !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are "
        "allowed)",
    };
    diag d;
    diag_init(&d);
    /* All found in one pass. */
    assert_null(load("a: !foo x\n"
                     "b: !!python/object x\n"
                     "c: !!seq {a: 1}\n"
                     "d: !!str [1]\n"
                     "e: !!map x\n"
                     "f: !!int abc\n"
                     "g: !!bool yes\n"
                     "h: ! x\n"
                     "i: !e%1bx x\n"
                     "j: !!binary aGk=\n", &d));
    assert_int_equal(d.count, sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < d.count; i++)
        assert_string_equal(d.lines[i], expected[i]);
    diag_free(&d);
}

/* ------------------------------------------------------------------ */
/* keys                                                                */

static void test_keys_must_be_scalars(void **state)
{
    (void)state;
    expect_error("{[a]: 1}\n", "t.yaml:1:2: error: mapping keys must be "
                               "scalars, this one is a sequence");
    expect_error("x: 1\n? {a: 1}\n: 2\n", "t.yaml:2:3: error: mapping keys "
                 "must be scalars, this one is a mapping");
    expect_error("a: &m {k: v}\n*m : 2\n", "t.yaml:2:1: error: mapping keys "
                 "must be scalars, this one is a mapping");
    /* An alias to a scalar is a fine key. */
    ytree *t = must_load("- &k name\n- {*k : v}\n");
    assert_scalar(ynode_get(item(ytree_root(t), 1), "name"), "v");
    ytree_free(t);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_error("a: 1\nb: 2\na: 3\n",
                 "t.yaml:3:1: error: duplicate key \"a\" (first on line 1)");
    expect_error("top:\n  x: {k: 1,\n      k: 2}\n",
                 "t.yaml:3:7: error: duplicate key \"k\" (first on line 2)");
    expect_error("\"a\": 1\na: 2\n",       /* same text, different style */
                 "t.yaml:2:1: error: duplicate key \"a\" (first on line 1)");
    expect_error("\"a\\tb\\\"\": 1\n'a\tb\"': 2\n",
                 "t.yaml:2:1: error: duplicate key \"a\\x09b\\\"\" (first on "
                 "line 1)");
    expect_error("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n"
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 2\n",
                 "t.yaml:2:1: error: duplicate key "
                 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" (first on "
                 "line 1)");
    /* Cut on a character boundary: 'a' and 25 two-byte characters. */
    expect_error("aééééééééééééééééééééééééé: 1\n"
                 "aééééééééééééééééééééééééé: 2\n",
                 "t.yaml:2:1: error: duplicate key \"aéééééééééééééééééééé...\" "
                 "(first on line 1)");
    /* Each duplicate is reported, in order. */
    diag d;
    diag_init(&d);
    assert_null(load("a: 1\nb: 2\nb: 3\na: 4\n", &d));
    assert_int_equal(d.count, 2);
    assert_string_equal(d.lines[0], "t.yaml:3:1: error: duplicate key \"b\" "
                                    "(first on line 2)");
    assert_string_equal(d.lines[1], "t.yaml:4:1: error: duplicate key \"a\" "
                                    "(first on line 1)");
    diag_free(&d);
    /* Same key in different mappings is fine. */
    ytree *t = must_load("a: {k: 1}\nb: {k: 2}\n");
    ytree_free(t);
}

static void test_many_keys_fast(void **state)
{
    (void)state;
    sbuf b = { 0 };
    for (int i = 0; i < 60000; i++)
        sb_add(&b, "k%d: &a%d %d\n", i, i, i);
    sb_add(&b, "last: [*a0, *a59999, *a30000]\n");
    double t0 = now_ms();
    ytree *t = must_load(b.s);
    assert_fast(t0, 2000);
    const ynode *last = ynode_get(ytree_root(t), "last");
    assert_ptr_equal(item(last, 1), ynode_get(ytree_root(t), "k59999"));
    ytree_free(t);
    sb_add(&b, "k123: again\n");
    expect_error(b.s, "t.yaml:60002:1: error: duplicate key \"k123\" (first "
                      "on line 124)");
    free(b.s);
}

/* ------------------------------------------------------------------ */
/* aliases                                                             */

static void test_alias_shares_node(void **state)
{
    (void)state;
    ytree *t = must_load("a: &x {k: v}\nb: *x\nc: [*x, *x]\n");
    const ynode *r = ytree_root(t);
    const ynode *a = ynode_get(r, "a");
    assert_ptr_equal(ynode_get(r, "b"), a);
    assert_ptr_equal(item(ynode_get(r, "c"), 1), a);
    assert_at(ynode_get(r, "b"), 1, 4);      /* the anchored node's place */
    ytree_free(t);
}

static void test_alias_errors(void **state)
{
    (void)state;
    expect_error("a: 1\nb: *nope\n",
                 "t.yaml:2:4: error: undefined alias *nope");
    expect_error("a: *later\nb: &later 1\n",
                 "t.yaml:1:4: error: undefined alias *later");
    expect_error("a: 1\nb: &c [*c]\n",
                 "t.yaml:2:8: error: alias *c refers to an enclosing node");
    expect_error("&m {k: [x, {y: *m}]}\n",
                 "t.yaml:1:16: error: alias *m refers to an enclosing node");
}

static void test_anchor_redefinition(void **state)
{
    (void)state;
    ytree *t = must_load("- &a 1\n- &a 2\n- *a\n- &a [&a x, *a]\n- *a\n");
    const ynode *r = ytree_root(t);
    assert_scalar(item(r, 2), "2");               /* latest wins */
    assert_ptr_equal(item(r, 2), item(r, 1));
    const ynode *inner = item(r, 3);
    assert_ptr_equal(item(inner, 1), item(inner, 0));
    /* The inner &a was defined after the outer one started. */
    assert_ptr_equal(item(r, 4), item(inner, 0));
    ytree_free(t);
}

static void test_error_cap(void **state)
{
    (void)state;
    sbuf b = { 0 };
    for (int i = 0; i < 30; i++)
        sb_add(&b, "k%d: *missing\n", i);
    diag d;
    diag_init(&d);
    assert_null(load(b.s, &d));
    assert_int_equal(d.count, 21);
    assert_string_equal(d.lines[19], "t.yaml:20:6: error: undefined alias "
                                     "*missing");
    assert_string_equal(d.lines[20], "t.yaml:20:6: error: too many errors, "
                                     "giving up on this file");
    diag_free(&d);
    free(b.s);
    /* Also when the errors come from one place (a mapping's end). */
    b = (sbuf){ 0 };
    for (int i = 0; i < 50; i++)
        sb_add(&b, "k: %d\n", i);
    diag_init(&d);
    assert_null(load(b.s, &d));
    assert_int_equal(d.count, 21);
    assert_string_equal(d.lines[20], "t.yaml:21:1: error: too many errors, "
                                     "giving up on this file");
    diag_free(&d);
    free(b.s);
}

/* Earlier errors in the collector do not make a good file fail. */
static void test_existing_errors_kept(void **state)
{
    (void)state;
    diag d;
    diag_init(&d);
    diag_error(&d, "other.yaml", 1, 1, "earlier");
    ytree *t = load("a: 1\n", &d);
    assert_non_null(t);
    assert_int_equal(d.count, 1);
    ytree_free(t);
    diag_free(&d);
}

/* ------------------------------------------------------------------ */
/* merge keys                                                          */

static void assert_pairs(const ynode *m, const char *const *kv, size_t n)
{
    assert_int_equal(m->kind, YNODE_MAP);
    assert_int_equal(m->n_pairs, n);
    for (size_t i = 0; i < n; i++) {
        assert_scalar(m->pairs[i].key, kv[2 * i]);
        assert_scalar(m->pairs[i].value, kv[2 * i + 1]);
    }
}

static void test_merge_single(void **state)
{
    (void)state;
    ytree *t = must_load("base: &b {x: 1, y: 2}\n"
                         "m:\n"
                         "  <<: *b\n"
                         "  z: 3\n");
    static const char *const kv[] = { "z", "3", "x", "1", "y", "2" };
    const ynode *m = ynode_get(ytree_root(t), "m");
    assert_pairs(m, kv, 3);
    /* Merged pairs share the source's nodes. */
    assert_ptr_equal(ynode_get(m, "x"), ynode_get(ynode_get(ytree_root(t),
                                                            "base"), "x"));
    assert_null(ynode_get(m, "<<"));
    ytree_free(t);
}

static void test_merge_list_earlier_wins(void **state)
{
    (void)state;
    ytree *t = must_load("a: &a {x: a, y: a}\n"
                         "b: &b {y: b, z: b}\n"
                         "m: {<<: [*a, *b]}\n"
                         "n: {<<: [*b, *a]}\n");
    static const char *const m_kv[] = { "x", "a", "y", "a", "z", "b" };
    static const char *const n_kv[] = { "y", "b", "z", "b", "x", "a" };
    assert_pairs(ynode_get(ytree_root(t), "m"), m_kv, 3);
    assert_pairs(ynode_get(ytree_root(t), "n"), n_kv, 3);
    ytree_free(t);
}

static void test_merge_explicit_wins(void **state)
{
    (void)state;
    ytree *t = must_load("a: &a {x: 1, y: 2}\n"
                         "before:\n  x: 9\n  <<: *a\n"
                         "after:\n  <<: *a\n  x: 9\n");
    static const char *const kv[] = { "x", "9", "y", "2" };
    assert_pairs(ynode_get(ytree_root(t), "before"), kv, 2);
    assert_pairs(ynode_get(ytree_root(t), "after"), kv, 2);
    ytree_free(t);
}

static void test_merge_forms(void **state)
{
    (void)state;
    ytree *t = must_load("inline: {<<: {x: 1}, y: 2}\n"
                         "l: &l [{x: 1}, {x: 2, y: 3}]\n"
                         "via_alias: {<<: *l}\n"
                         "a: &a {x: 1}\n"
                         "b: &b {<<: *a, y: 2}\n"
                         "c: {<<: *b, z: 3}\n"
                         "quoted: {\"<<\": 1}\n");
    const ynode *r = ytree_root(t);
    static const char *const in_kv[] = { "y", "2", "x", "1" };
    static const char *const al_kv[] = { "x", "1", "y", "3" };
    static const char *const c_kv[] = { "z", "3", "y", "2", "x", "1" };
    static const char *const q_kv[] = { "<<", "1" };
    assert_pairs(ynode_get(r, "inline"), in_kv, 2);
    assert_pairs(ynode_get(r, "via_alias"), al_kv, 2);
    assert_pairs(ynode_get(r, "c"), c_kv, 3);
    assert_pairs(ynode_get(r, "quoted"), q_kv, 1);
    ytree_free(t);
}

static void test_merge_errors(void **state)
{
    (void)state;
    expect_error("m:\n  <<: 1\n",
                 "t.yaml:2:7: error: the value of merge key \"<<\" must be a "
                 "mapping or a sequence of mappings, not an integer");
    expect_error("s: &s [1]\nm: {<<: *s}\n",
                 "t.yaml:2:9: error: merge key \"<<\": item 1 of the aliased "
                 "sequence is an integer, not a mapping");
    expect_error("a: &a {x: 1}\nm:\n  <<:\n    - *a\n    - text\n",
                 "t.yaml:5:7: error: merge key \"<<\" expects mappings, this "
                 "is a string");
    expect_error("a: &a {x: 1}\nm: {<<: [*a, [1]]}\n",
                 "t.yaml:2:14: error: merge key \"<<\" expects mappings, this "
                 "is a sequence");
    expect_error("a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n",
                 "t.yaml:4:3: error: duplicate key \"<<\" (first on line 3)");
    expect_error("m: {<<: ~}\n",
                 "t.yaml:1:9: error: the value of merge key \"<<\" must be a "
                 "mapping or a sequence of mappings, not null");
    /* An undefined source is reported once, not twice. */
    diag d;
    diag_init(&d);
    assert_null(load("m: {<<: *nope}\nn: {<<: [*nope]}\n", &d));
    assert_int_equal(d.count, 2);
    assert_string_equal(d.lines[1], "t.yaml:2:10: error: undefined alias "
                                    "*nope");
    diag_free(&d);
}

/* ------------------------------------------------------------------ */
/* core schema                                                         */

static void test_schema_null(void **state)
{
    (void)state;
    static const char *const nulls[] = { "~", "null", "Null", "NULL", "" };
    static const char *const not_nulls[] = { "nil", "NUll", "none", " ", "0" };
    for (size_t i = 0; i < 5; i++) {
        ynode n = scalar(nulls[i], true), q = scalar(nulls[i], false);
        assert_true(ynode_is_null(&n));
        assert_string_equal(ynode_kind_name(&n), "null");
        assert_false(ynode_is_null(&q));
        assert_string_equal(ynode_kind_name(&q), "string");
        n = scalar(not_nulls[i], true);
        assert_false(ynode_is_null(&n));
    }
    assert_true(ynode_is_null(NULL));
    assert_string_equal(ynode_kind_name(NULL), "null");
}

static void test_schema_bool(void **state)
{
    (void)state;
    static const struct { const char *s; bool v; } ok[] = {
        { "true", true }, { "True", true }, { "TRUE", true },
        { "false", false }, { "False", false }, { "FALSE", false },
    };
    static const char *const strings[] = { "yes", "no", "on", "off", "y",
                                           "n", "tRUE", "Yes", "1", "" };
    bool b;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ynode n = scalar(ok[i].s, true);
        b = !ok[i].v;
        assert_true(ynode_bool(&n, &b));
        assert_int_equal(b, ok[i].v);
        assert_string_equal(ynode_kind_name(&n), "boolean");
    }
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        ynode n = scalar(strings[i], true);
        assert_false(ynode_bool(&n, &b));
        if (*strings[i] && strcmp(strings[i], "1") != 0)
            assert_string_equal(ynode_kind_name(&n), "string");
    }
    /* Through the loader: quoted "true" is a string, yes/on are strings. */
    ytree *t = must_load("a: \"true\"\nb: yes\nc: on\nd: true\ne: 'false'\n");
    const ynode *r = ytree_root(t);
    assert_false(ynode_bool(ynode_get(r, "a"), &b));
    assert_string_equal(ynode_kind_name(ynode_get(r, "a")), "string");
    assert_string_equal(ynode_kind_name(ynode_get(r, "b")), "string");
    assert_string_equal(ynode_kind_name(ynode_get(r, "c")), "string");
    assert_true(ynode_bool(ynode_get(r, "d"), &b) && b);
    assert_string_equal(ynode_kind_name(ynode_get(r, "e")), "string");
    assert_false(ynode_bool(NULL, &b));
    ytree_free(t);
}

static void test_schema_int(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t v; } ok[] = {
        { "0", 0 }, { "42", 42 }, { "-17", -17 }, { "+5", 5 },
        { "0777", 777 }, { "0x1F", 31 }, { "0xff", 255 }, { "0o17", 15 },
        { "9223372036854775807", INT64_MAX },
        { "-9223372036854775808", INT64_MIN },
        { "0x7FFFFFFFFFFFFFFF", INT64_MAX },
        { "0o777777777777777777777", INT64_MAX },
        { "-0", 0 }, { "000", 0 },
    };
    static const char *const overflow[] = {
        "9223372036854775808", "-9223372036854775809",
        "99999999999999999999999", "0x8000000000000000",
        "0o1000000000000000000000",
    };
    static const char *const bad[] = {
        "", "-", "+", "0x", "0o", "0x1G", "0o8", "-0x1", "+0x1", "0X1F",
        "1_000", "1e3", "1.0", " 1", "1 ", "0b101", "--1", "12a", ".5",
    };
    int64_t v;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ynode n = scalar(ok[i].s, true);
        v = 12345;
        if (!ynode_int(&n, &v))
            fail_msg("rejected %s", ok[i].s);
        assert_int_equal(v, ok[i].v);
        assert_string_equal(ynode_kind_name(&n), "integer");
        ynode q = scalar(ok[i].s, false);
        assert_false(ynode_int(&q, &v));
        assert_string_equal(ynode_kind_name(&q), "string");
    }
    for (size_t i = 0; i < sizeof overflow / sizeof overflow[0]; i++) {
        ynode n = scalar(overflow[i], true);
        assert_false(ynode_int(&n, &v));
        assert_string_equal(ynode_kind_name(&n), "integer");
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ynode n = scalar(bad[i], true);
        if (ynode_int(&n, &v))
            fail_msg("accepted %s", bad[i]);
        assert_string_not_equal(ynode_kind_name(&n), "integer");
    }
    assert_false(ynode_int(NULL, &v));
    ynode map = { .kind = YNODE_MAP };
    assert_false(ynode_int(&map, &v));
    assert_string_equal(ynode_kind_name(&map), "mapping");
    ynode seq = { .kind = YNODE_SEQ };
    assert_string_equal(ynode_kind_name(&seq), "sequence");
}

static void test_schema_double(void **state)
{
    (void)state;
    static const struct { const char *s; double v; } ok[] = {
        { "0", 0 }, { "1", 1 }, { "-2", -2 }, { "1.5", 1.5 }, { "-.5", -0.5 },
        { "+.25", 0.25 }, { "1.", 1 }, { "1e3", 1000 }, { "1E-2", 0.01 },
        { "2.5e+2", 250 }, { "0x10", 16 }, { "0o10", 8 },
        { "99999999999999999999", 1e20 }, { "1e-400", 0 },
    };
    static const char *const bad[] = {
        "", ".", "-.", "e3", "1e", "1e+", "1.2.3", "0x", "inf", "nan",
        "1,5", "1_0", " 1", "1.5 ", "0x1p3", "--1", "..5", "1e3.5",
        ".infx", "-.nan", "+.nan", "INF", "1e999", "-1e999",
    };
    double v;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ynode n = scalar(ok[i].s, true);
        if (!ynode_double(&n, &v))
            fail_msg("rejected %s", ok[i].s);
        assert_true(v == ok[i].v);
        ynode q = scalar(ok[i].s, false);
        assert_false(ynode_double(&q, &v));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ynode n = scalar(bad[i], true);
        if (ynode_double(&n, &v))
            fail_msg("accepted %s", bad[i]);
    }
    static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf" };
    for (size_t i = 0; i < 4; i++) {
        ynode n = scalar(infs[i], true);
        assert_true(ynode_double(&n, &v) && isinf(v) && v > 0);
        assert_string_equal(ynode_kind_name(&n), "number");
    }
    ynode n = scalar("-.Inf", true);
    assert_true(ynode_double(&n, &v) && isinf(v) && v < 0);
    static const char *const nans[] = { ".nan", ".NaN", ".NAN" };
    for (size_t i = 0; i < 3; i++) {
        n = scalar(nans[i], true);
        assert_true(ynode_double(&n, &v) && isnan(v));
    }
    n = scalar("1.5", true);
    assert_string_equal(ynode_kind_name(&n), "number");
    n = scalar("1e999", true);                 /* overflow: a number, but */
    assert_string_equal(ynode_kind_name(&n), "number");
    assert_false(ynode_double(&n, &v));        /* not a finite one */
    n = scalar("1.5x", true);
    assert_string_equal(ynode_kind_name(&n), "string");
    assert_false(ynode_double(NULL, &v));
}

static void test_kind_names_loaded(void **state)
{
    (void)state;
    ytree *t = must_load("- ~\n- true\n- 12\n- 0x1F\n- 1.5\n- .inf\n"
                         "- text\n- '12'\n- \"null\"\n- {}\n- []\n- !!str 1\n");
    static const char *const kinds[] = {
        "null", "boolean", "integer", "integer", "number", "number",
        "string", "string", "string", "mapping", "sequence", "string",
    };
    const ynode *r = ytree_root(t);
    assert_int_equal(r->n_items, 12);
    for (size_t i = 0; i < 12; i++)
        assert_string_equal(ynode_kind_name(item(r, i)), kinds[i]);
    int64_t v;
    assert_true(ynode_int(item(r, 3), &v));
    assert_int_equal(v, 31);
    ytree_free(t);
}

/* ------------------------------------------------------------------ */
/* files                                                               */

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_yaml_tree_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "a:\n  - 1\n";
    assert_int_equal(write(fd, text, sizeof text - 1), sizeof text - 1);
    close(fd);
    diag d;
    diag_init(&d);
    ytree *t = ytree_load_file(path, "specs/x.yaml", &d);
    assert_non_null(t);
    const ynode *a = ynode_get(ytree_root(t), "a");
    assert_string_equal(a->file, "specs/x.yaml");
    assert_at(item(a, 0), 2, 5);
    ytree_free(t);
    t = ytree_load_file(path, NULL, &d);           /* the path is the name */
    assert_string_equal(ytree_root(t)->file, path);
    ytree_free(t);
    unlink(path);
    assert_int_equal(d.count, 0);
    assert_null(ytree_load_file(path, "gone.yaml", &d));
    assert_int_equal(d.count, 1);
    assert_string_equal(d.lines[0], "error: gone.yaml: cannot read: No such "
                                    "file or directory");
    assert_null(ytree_load_file("/tmp", NULL, &d));  /* a directory */
    assert_int_equal(d.count, 2);
    diag_free(&d);
}

static void test_load_file_too_large(void **state)
{
    (void)state;
    char path[] = "/tmp/test_yaml_tree_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    char *chunk = repeat("#", 65535, "\n");
    for (int i = 0; i < 70; i++)                    /* 4.375 MiB */
        fputs(chunk, f);
    fclose(f);
    free(chunk);
    diag d;
    diag_init(&d);
    assert_null(ytree_load_file(path, "big.yaml", &d));
    assert_int_equal(d.count, 1);
    assert_string_equal(d.lines[0], "big.yaml:1:1: error: file is too large: "
                                    "more than 4194304 bytes");
    diag_free(&d);
    unlink(path);
}

/* ------------------------------------------------------------------ */
/* fuzzer findings                                                     */

/* memcpy from the NULL pair array of an empty mapping into another empty
 * mapping's NULL array (UBSan: null pointer passed to memcpy). */
static void test_fuzz_merge_empty_into_empty(void **state)
{
    (void)state;
    ytree *t = must_load("{<<: {}}");
    assert_int_equal(ytree_root(t)->n_pairs, 0);
    ytree_free(t);
    t = must_load("e: &e {}\nm: {<<: [*e, *e]}\nn: {<<: *e, k: v}\n");
    assert_int_equal(ynode_get(ytree_root(t), "m")->n_pairs, 0);
    assert_int_equal(ynode_get(ytree_root(t), "n")->n_pairs, 1);
    ytree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locations_nested),
        cmocka_unit_test(test_flow_and_block_agree),
        cmocka_unit_test(test_scalar_styles),
        cmocka_unit_test(test_buffer_without_nul),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_display_name),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_input_too_large),
        cmocka_unit_test(test_flow_depth_bomb),
        cmocka_unit_test(test_block_depth),
        cmocka_unit_test(test_depth_through_aliases),
        cmocka_unit_test(test_scalar_too_long),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_alias_dag_within_budget),
        cmocka_unit_test(test_node_limit_boundary),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_tags_accepted),
        cmocka_unit_test(test_tags_rejected),
        cmocka_unit_test(test_keys_must_be_scalars),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_many_keys_fast),
        cmocka_unit_test(test_alias_shares_node),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_anchor_redefinition),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_existing_errors_kept),
        cmocka_unit_test(test_merge_single),
        cmocka_unit_test(test_merge_list_earlier_wins),
        cmocka_unit_test(test_merge_explicit_wins),
        cmocka_unit_test(test_merge_forms),
        cmocka_unit_test(test_merge_errors),
        cmocka_unit_test(test_schema_null),
        cmocka_unit_test(test_schema_bool),
        cmocka_unit_test(test_schema_int),
        cmocka_unit_test(test_schema_double),
        cmocka_unit_test(test_kind_names_loaded),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_file_too_large),
        cmocka_unit_test(test_fuzz_merge_empty_into_empty),
    };
    return cmocka_run_group_tests_name("yaml_tree", tests, NULL, NULL);
}
