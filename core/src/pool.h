/*
 * pool: data pools for specs (k6's SharedArray). A pool is a table of rows
 * loaded once at spec load time from a CSV file, a JSON file or inline YAML
 * rows; everything lives in the spec's arena. After loading the table is
 * never written again, so worker threads read it without locks.
 *
 * Every cell is ready to use two ways: `text` to put into a URL or header
 * and `json` to splice into a JSON body. Typing:
 *
 *   CSV (first row names the fields; k6/papaparse dynamicTyping, except
 *   that quoting always means "string"):
 *     unquoted JSON number (-?int[.digits][e[+-]digits], no leading zeros,
 *       no +, no hex, no inf/nan)               -> POOL_NUMBER, text as written
 *     unquoted true/TRUE/false/FALSE            -> POOL_BOOL ("true"/"false")
 *     anything else, every quoted field, and an
 *       empty unquoted field (the empty string)  -> POOL_STRING
 *   JSON (a top-level array of objects, parsed by jansson):
 *     strings (decoded, then re-escaped in `json`), numbers (the literal
 *     text as written: 12.50 stays 12.50, 1E2 stays 1E2, 20-digit integers
 *     keep every digit; only a number beyond a double's range, 1e400, is
 *     an error), true/false, null; an array or object value is kept as
 *     POOL_JSON, re-serialized compactly (numbers still as written).
 *   Inline YAML rows: plain scalars typed like the rest of the spec (and
 *     like JSON bodies): null/~/empty -> POOL_NULL, true/True/TRUE ->
 *     POOL_BOOL, integers and finite floats -> POOL_NUMBER (text as written
 *     when it is a JSON number, else canonical: 0x1F -> 31, +5 -> 5,
 *     007 -> 7, .5 -> 0.5); everything else, and every quoted scalar, is a
 *     string. Nested mappings/sequences are errors (use a JSON file).
 *
 * The field set is the union of the rows' keys in first-seen order; a row
 * without a key has POOL_NULL there (CSV rows must match the header).
 */
#ifndef VOLLEY_POOL_H
#define VOLLEY_POOL_H

#include <stddef.h>

#include "arena.h"
#include "diag.h"
#include "yaml_tree.h"

#define POOL_MAX_BYTES (64u << 20)     /* data file size */
#define POOL_MAX_ROWS 10000000u
#define POOL_MAX_FIELDS 1024u
#define POOL_MAX_VALUE (1u << 20)      /* bytes of one value's text */
#define POOL_MAX_CELLS (1u << 26)      /* rows x fields: 2.5 GiB of cells */

typedef enum pool_kind {
    POOL_STRING,
    POOL_NUMBER,
    POOL_BOOL,
    POOL_NULL,
    POOL_JSON       /* an array or object from a JSON file; text == json */
} pool_kind;

typedef struct pool_value {
    const char *text;   /* NUL-terminated: the string itself (POOL_STRING)
                           or the JSON text ("5000", "12.5", "true", "null",
                           "[1,2]"); never contains a NUL byte */
    size_t len;
    pool_kind kind;
    const char *json;   /* the value as JSON to splice into a body: strings
                           quoted and escaped ("\"ICICI\""), others == text */
    size_t json_len;
} pool_value;

typedef struct pool_table {
    size_t n_fields;
    const char **fields;        /* field names, unique, non-empty */
    size_t n_rows;              /* >= 1 */
    const pool_value *cells;    /* n_rows * n_fields, row-major */
} pool_table;

typedef enum pool_format { POOL_FORMAT_CSV = 1, POOL_FORMAT_JSON } pool_format;

static inline const pool_value *pool_cell(const pool_table *t, size_t row, size_t field)
{
    return &t->cells[row * t->n_fields + field];
}

/* Index of a field or -1. */
int pool_field(const pool_table *t, const char *name);

/* All loaders return 0 and fill *out, or return -1 with every problem found
 * (at most 10 per source) in d as "FILE:LINE:COL: error: KEY_PATH: what was
 * expected", lines and columns 1-based, columns in characters. Everything
 * is allocated in `a`; nothing else needs freeing. */

/* A file whose format comes from its extension (.csv or .json, any case).
 * `path` is resolved against `base_dir` (the spec file's directory; NULL,
 * "" or "." for the current directory) unless it is absolute. Problems with
 * the file as a whole (cannot read it, unknown extension, over 64 MiB) are
 * reported at the spec node (spec_file:spec_line:spec_col, spec_file may be
 * NULL), problems inside it at the data file's own location under its
 * resolved path. */
int pool_load_file(arena *a, const char *path, const char *base_dir, pool_table *out,
                   diag *d, const char *spec_file, unsigned spec_line, unsigned spec_col,
                   const char *key_path);

/* The bytes of a data file already in memory; `name` is the file name used
 * in locations. A UTF-8 BOM at the start is skipped. */
int pool_load_buffer(arena *a, const char *name, const char *data, size_t len,
                     pool_format format, pool_table *out, diag *d, const char *key_path);

/* Inline rows: `rows` is the YAML sequence of mappings under `rows:`;
 * key_path names it ("pools.users.rows"). */
int pool_from_yaml(arena *a, const ynode *rows, pool_table *out, diag *d,
                   const char *key_path);

#endif
