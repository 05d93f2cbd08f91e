/*
 * libFuzzer target for pool: the same bytes as a CSV file, as a JSON file
 * and as inline YAML rows. On success every cell must be what the header
 * promises (NUL-terminated text without NULs, a json form that reads back
 * as the same value); on failure there must be located errors.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "yaml_tree.h"

/* Small enough that rows x fields stays small too (JSON rows may be {}). */
#define MAX_INPUT 8192

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static int json_number_text(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static void check_value(const pool_value *v)
{
    check(v->text && v->json, "text and json set");
    check(v->text[v->len] == '\0' && strlen(v->text) == v->len, "text NUL-terminated, no NULs");
    check(v->json[v->json_len] == '\0' && strlen(v->json) == v->json_len, "json NUL-terminated");
    switch (v->kind) {
    case POOL_STRING: {
        json_error_t e;
        json_t *j = json_loadb(v->json, v->json_len, JSON_DECODE_ANY, &e);
        check(j && json_is_string(j), "string json is a JSON string");
        check(json_string_length(j) == v->len && memcmp(json_string_value(j), v->text, v->len) == 0,
              "string json reads back as the text");
        json_decref(j);
        break;
    }
    case POOL_NUMBER:
        check(v->json == v->text && json_number_text(v->text), "number text is a JSON number");
        break;
    case POOL_BOOL:
        check(strcmp(v->text, "true") == 0 || strcmp(v->text, "false") == 0, "bool text");
        break;
    case POOL_NULL:
        check(strcmp(v->text, "null") == 0, "null text");
        break;
    case POOL_JSON: {
        json_error_t e;
        json_t *j = json_loadb(v->json, v->json_len, JSON_DECODE_INT_AS_REAL, &e);
        check(v->json == v->text && j && (json_is_array(j) || json_is_object(j)),
              "json value is an array or object");
        json_decref(j);
        break;
    }
    default:
        check(0, "known kind");
    }
}

static void check_result(int rc, const pool_table *t, const diag *d, const char *file)
{
    check((rc == 0) == (d->count == 0), "failure iff errors reported");
    for (size_t i = 0; i < d->n_lines; i++) {
        unsigned line = 0, col = 0;
        int at = 0;
        if (strncmp(d->lines[i], file, strlen(file)) != 0)
            continue;
        check(sscanf(d->lines[i] + strlen(file), ":%u:%u: error: %n", &line, &col, &at) == 2 &&
              at > 0 && line >= 1 && col >= 1, "located error");
        /* messages quote the input, so only the start of one is ours */
        check(strncmp(d->lines[i] + strlen(file) + at, "pools.p.file: internal error", 28) != 0,
              "JSON scanner in step");
    }
    if (rc != 0) {
        check(t->n_rows == 0 && t->cells == NULL, "empty table on failure");
        return;
    }
    check(t->n_rows >= 1 && t->n_fields >= 1 && t->n_fields <= POOL_MAX_FIELDS, "table shape");
    for (size_t f = 0; f < t->n_fields; f++) {
        check(t->fields[f][0] != '\0', "field names non-empty");
        check(pool_field(t, t->fields[f]) == (int)f, "field names unique");
    }
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t f = 0; f < t->n_fields; f++)
            check_value(pool_cell(t, r, f));
}

static void as_file(const uint8_t *data, size_t size, pool_format format, const char *name)
{
    arena a;
    diag d;
    pool_table t;
    arena_init(&a);
    diag_init(&d);
    int rc = pool_load_buffer(&a, name, (const char *)data, size, format, &t, &d, "pools.p.file");
    check_result(rc, &t, &d, name);
    diag_free(&d);
    arena_free(&a);
}

static void as_yaml(const uint8_t *data, size_t size)
{
    arena a;
    diag d;
    pool_table t;
    arena_init(&a);
    diag_init(&d);
    ytree *tree = ytree_load_string("fuzz.yaml", (const char *)data, size, &d);
    const ynode *root = tree ? ytree_root(tree) : NULL;
    if (root) {
        const ynode *rows = root->kind == YNODE_MAP && ynode_get(root, "rows") ? ynode_get(root, "rows") : root;
        diag_free(&d);
        int rc = pool_from_yaml(&a, rows, &t, &d, "pools.p.rows");
        check_result(rc, &t, &d, "fuzz.yaml");
    }
    ytree_free(tree);
    diag_free(&d);
    arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    as_file(data, size, POOL_FORMAT_CSV, "fuzz.csv");
    as_file(data, size, POOL_FORMAT_JSON, "fuzz.json");
    as_yaml(data, size);
    return 0;
}
