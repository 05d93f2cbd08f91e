#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "yaml_tree.h"

#define POOLS_DIR TEST_DATA_DIR "/pools"

/* ------------------------------------------------------------------ */
/* fixture and helpers                                                 */

typedef struct fx {
    arena a;
    diag d;
    pool_table t;
    ytree *tree;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    arena_init(&f->a);
    diag_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ytree_free(f->tree);
    diag_free(&f->d);
    arena_free(&f->a);
    free(f);
    return 0;
}

static int load_n(fx *f, const char *data, size_t len, pool_format format)
{
    const char *name = format == POOL_FORMAT_CSV ? "mem.csv" : "mem.json";
    return pool_load_buffer(&f->a, name, data, len, format, &f->t, &f->d, "pools.p.file");
}

static int load_csv(fx *f, const char *data) { return load_n(f, data, strlen(data), POOL_FORMAT_CSV); }
static int load_json(fx *f, const char *data) { return load_n(f, data, strlen(data), POOL_FORMAT_JSON); }

/* `yaml` is a whole spec fragment; its pools.p.rows node is loaded. */
static int load_yaml(fx *f, const char *yaml)
{
    f->tree = ytree_load_string("spec.yaml", yaml, strlen(yaml), &f->d);
    assert_non_null(f->tree);
    const ynode *rows = ynode_get(ynode_get(ynode_get(ytree_root(f->tree), "pools"), "p"), "rows");
    return pool_from_yaml(&f->a, rows, &f->t, &f->d, "pools.p.rows");
}

/* The diagnostics, exactly and in order; the list ends with NULL. */
static void expect_errors(fx *f, ...)
{
    va_list ap;
    size_t i = 0;
    va_start(ap, f);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
        if (i >= f->d.n_lines)
            fail_msg("missing error %zu: %s", i, want);
        assert_string_equal(f->d.lines[i], want);
    }
    va_end(ap);
    if (f->d.n_lines != i)
        fail_msg("unexpected error: %s", f->d.lines[i]);
}

static void expect_fields(fx *f, ...)
{
    va_list ap;
    size_t i = 0;
    va_start(ap, f);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
        assert_true(i < f->t.n_fields);
        assert_string_equal(f->t.fields[i], want);
    }
    va_end(ap);
    assert_int_equal(f->t.n_fields, i);
}

/* A cell's kind, text and JSON form (json NULL: the same as text). */
static void expect_cell(fx *f, size_t row, const char *field, pool_kind kind, const char *text,
                        const char *json)
{
    int i = pool_field(&f->t, field);
    if (i < 0)
        fail_msg("no field %s", field);
    assert_true(row < f->t.n_rows);
    const pool_value *v = pool_cell(&f->t, row, (size_t)i);
    if (v->kind != kind)
        fail_msg("row %zu %s: kind %d, expected %d (text %s)", row, field, v->kind, kind, v->text);
    assert_int_equal(v->len, strlen(text));
    assert_memory_equal(v->text, text, v->len + 1);
    if (!json)
        json = text;
    assert_int_equal(v->json_len, strlen(json));
    assert_memory_equal(v->json, json, v->json_len + 1);
    if (kind != POOL_STRING)
        assert_ptr_equal(v->text, v->json);
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */

static void test_csv_typing(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f,
        "k,v\n"
        "0,0\n1,-0\n2,42\n3,-1.5e3\n4,12.50\n5,1E+2\n"          /* numbers as written */
        "6,007\n7,+5\n8,.5\n9,5.\n10,0x1F\n11,inf\n12,NaN\n13,1e\n14, 42\n"   /* strings */
        "15,true\n16,TRUE\n17,false\n18,FALSE\n"                /* booleans */
        "19,True\n20,null\n21,\n"                               /* strings, empty string */
        "22,\"42\"\n23,\"true\"\n24,\"\"\n"),                   /* quoted: strings */
        0);
    expect_fields(f, "k", "v", NULL);
    assert_int_equal(f->t.n_rows, 25);
    expect_cell(f, 0, "k", POOL_NUMBER, "0", NULL);
    const char *nums[] = {"0", "-0", "42", "-1.5e3", "12.50", "1E+2"};
    for (size_t i = 0; i < 6; i++)
        expect_cell(f, i, "v", POOL_NUMBER, nums[i], NULL);
    const char *strs[] = {"007", "+5", ".5", "5.", "0x1F", "inf", "NaN", "1e", " 42"};
    char quoted[32];
    for (size_t i = 0; i < 9; i++) {
        snprintf(quoted, sizeof quoted, "\"%s\"", strs[i]);
        expect_cell(f, 6 + i, "v", POOL_STRING, strs[i], quoted);
    }
    expect_cell(f, 15, "v", POOL_BOOL, "true", NULL);
    expect_cell(f, 16, "v", POOL_BOOL, "true", NULL);
    expect_cell(f, 17, "v", POOL_BOOL, "false", NULL);
    expect_cell(f, 18, "v", POOL_BOOL, "false", NULL);
    expect_cell(f, 19, "v", POOL_STRING, "True", "\"True\"");
    expect_cell(f, 20, "v", POOL_STRING, "null", "\"null\"");
    expect_cell(f, 21, "v", POOL_STRING, "", "\"\"");
    expect_cell(f, 22, "v", POOL_STRING, "42", "\"42\"");
    expect_cell(f, 23, "v", POOL_STRING, "true", "\"true\"");
    expect_cell(f, 24, "v", POOL_STRING, "", "\"\"");
    expect_errors(f, NULL);
}

static void test_csv_quoted(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f,
        "name,note\n"
        "\"Doe, Jane\",\"said \"\"hi\"\"\"\n"
        "\"two\nlines\",\"crlf\r\ninside\"\n"
        "a\"b,\"\"\"\"\n"),             /* a quote inside an unquoted field is data */
        0);
    assert_int_equal(f->t.n_rows, 3);
    expect_cell(f, 0, "name", POOL_STRING, "Doe, Jane", "\"Doe, Jane\"");
    expect_cell(f, 0, "note", POOL_STRING, "said \"hi\"", "\"said \\\"hi\\\"\"");
    expect_cell(f, 1, "name", POOL_STRING, "two\nlines", "\"two\\nlines\"");
    expect_cell(f, 1, "note", POOL_STRING, "crlf\r\ninside", "\"crlf\\r\\ninside\"");
    expect_cell(f, 2, "name", POOL_STRING, "a\"b", "\"a\\\"b\"");
    expect_cell(f, 2, "note", POOL_STRING, "\"", "\"\\\"\"");
}

/* Lines inside quoted fields count, so later locations stay right. */
static void test_csv_lines_after_multiline_field(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "a,b\n\"x\n\ny\",1\n2\n"), -1);
    expect_errors(f, "mem.csv:5:1: error: pools.p.file: expected 2 fields, found 1", NULL);
}

static void test_csv_line_endings(void **state)
{
    fx *f = *state;
    /* BOM, CRLF, blank lines before, between and after, a lone CR. */
    assert_int_equal(load_csv(f, "\xEF\xBB\xBF\r\n\r\nid,v\r\n1,a\r\n\r\n\n2,b\r3,c\r\n\r\n"), 0);
    expect_fields(f, "id", "v", NULL);
    assert_int_equal(f->t.n_rows, 3);
    expect_cell(f, 0, "v", POOL_STRING, "a", "\"a\"");
    expect_cell(f, 1, "v", POOL_STRING, "b", "\"b\"");
    expect_cell(f, 2, "v", POOL_STRING, "c", "\"c\"");
}

static void test_csv_no_trailing_newline(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "id,v\n1,a\n2,\"b\""), 0);
    assert_int_equal(f->t.n_rows, 2);
    expect_cell(f, 1, "v", POOL_STRING, "b", "\"b\"");
    arena_free(&f->a);
    /* A trailing comma is one more, empty, field. */
    assert_int_equal(load_csv(f, "id,v\n1,\n"), 0);
    expect_cell(f, 0, "v", POOL_STRING, "", "\"\"");
}

/* The BOM does not count as a column. */
static void test_csv_bom_location(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "\xEF\xBB\xBF" "a,,c\n1,2,3\n"), -1);
    expect_errors(f, "mem.csv:1:3: error: pools.p.file: header field 2 is empty; expected a field name",
                  NULL);
}

static void test_csv_json_splice(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f,
        "v\n"
        "\"q\"\"b\\s\"\n"
        "\"ctl\t\x01\x1f\r\n\"\n"
        "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\n"
        "\x7f/<>&\n"),
        0);
    expect_cell(f, 0, "v", POOL_STRING, "q\"b\\s", "\"q\\\"b\\\\s\"");
    expect_cell(f, 1, "v", POOL_STRING, "ctl\t\x01\x1f\r\n", "\"ctl\\t\\u0001\\u001f\\r\\n\"");
    /* UTF-8 is passed through as is: valid JSON needs no \u escapes. */
    expect_cell(f, 2, "v", POOL_STRING, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
                "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect_cell(f, 3, "v", POOL_STRING, "\x7f/<>&", "\"\x7f/<>&\"");
    /* Every json form reads back as the text. */
    for (size_t r = 0; r < f->t.n_rows; r++) {
        const pool_value *v = pool_cell(&f->t, r, 0);
        json_error_t e;
        json_t *j = json_loadb(v->json, v->json_len, JSON_DECODE_ANY, &e);
        assert_non_null(j);
        assert_string_equal(json_string_value(j), v->text);
        json_decref(j);
    }
}

static void test_csv_field_count(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "id,name,city\n1,ann,Pune\n2,bob\n3,cy,Goa,x,y\n4,\"d\",\"e\"\n"), -1);
    expect_errors(f,
        "mem.csv:3:1: error: pools.p.file: expected 3 fields, found 2",
        "mem.csv:4:10: error: pools.p.file: expected 3 fields, found 5",
        NULL);
}

static void test_csv_error_cap(void **state)
{
    fx *f = *state;
    char buf[512] = "a,b\n";
    for (int i = 0; i < 12; i++)
        strcat(buf, "1\n");
    assert_int_equal(load_csv(f, buf), -1);
    assert_int_equal(f->d.n_lines, 11);
    assert_string_equal(f->d.lines[9], "mem.csv:11:1: error: pools.p.file: expected 2 fields, found 1");
    assert_string_equal(f->d.lines[10], "mem.csv:11:1: error: pools.p.file: stopping after 10 errors");
}

static void test_csv_quote_errors(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "a,b\n1,2\n3,\"x\ny,z\n"), -1);
    expect_errors(f, "mem.csv:3:3: error: pools.p.file: unterminated quoted field; expected a closing '\"'",
                  NULL);
    diag_free(&f->d);
    assert_int_equal(load_csv(f, "\"a\nb"), -1);
    expect_errors(f, "mem.csv:1:1: error: pools.p.file: unterminated quoted field; expected a closing '\"'",
                  NULL);
    diag_free(&f->d);
    assert_int_equal(load_csv(f, "a,b\n\"x\"y,1\n\"\xc3\xa9\" z,2\n"), -1);
    expect_errors(f,
        "mem.csv:2:4: error: pools.p.file: expected ',' or end of line after the closing quote",
        "mem.csv:3:4: error: pools.p.file: expected ',' or end of line after the closing quote",
        NULL);
}

static void test_csv_utf8(void **state)
{
    fx *f = *state;
    static const struct {
        const char *csv;
        const char *err;
    } cases[] = {
        /* columns count characters: é is one */
        {"a,b\n\xc3\xa9\xc3\xa9,x\xff\n", "mem.csv:2:5: error: pools.p.file: invalid UTF-8 byte 0xff; expected UTF-8 text"},
        {"a\n\xc0\x80\n", "mem.csv:2:1: error: pools.p.file: invalid UTF-8 byte 0xc0; expected UTF-8 text"},
        {"a\r\nok\r\nx\xed\xa0\x80\n", "mem.csv:3:2: error: pools.p.file: invalid UTF-8 byte 0xed; expected UTF-8 text"},
        {"a\n\"x\ny\"\xf4\x90\x80\x80\n", "mem.csv:3:3: error: pools.p.file: invalid UTF-8 byte 0xf4; expected UTF-8 text"},
        {"a\nab\xe2\x82", "mem.csv:2:3: error: pools.p.file: invalid UTF-8 byte 0xe2; expected UTF-8 text"},
        {"a\n\x80", "mem.csv:2:1: error: pools.p.file: invalid UTF-8 byte 0x80; expected UTF-8 text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        diag_free(&f->d);
        assert_int_equal(load_csv(f, cases[i].csv), -1);
        expect_errors(f, cases[i].err, NULL);
    }
    diag_free(&f->d);
    assert_int_equal(load_n(f, "a\nxy\0z\n", 7, POOL_FORMAT_CSV), -1);
    expect_errors(f, "mem.csv:2:3: error: pools.p.file: NUL byte; expected text", NULL);
    /* Long ASCII runs take the fast path; a bad byte after one is still found. */
    diag_free(&f->d);
    assert_int_equal(load_csv(f, "abcdefghijklmnop\nabcdefghijklmnopqrstuvwxyz\xfe\n"), -1);
    expect_errors(f, "mem.csv:2:27: error: pools.p.file: invalid UTF-8 byte 0xfe; expected UTF-8 text", NULL);
}

static void test_csv_header_errors(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "id,name,id,,\"name\"\n1,2,3,4,5\n"), -1);
    expect_errors(f,
        "mem.csv:1:9: error: pools.p.file: duplicate field name \"id\" (already field 1); expected unique names",
        "mem.csv:1:12: error: pools.p.file: header field 4 is empty; expected a field name",
        "mem.csv:1:13: error: pools.p.file: duplicate field name \"name\" (already field 2); expected unique names",
        NULL);
}

static void test_csv_empty(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, ""), -1);
    expect_errors(f, "mem.csv:1:1: error: pools.p.file: expected a header row naming the fields", NULL);
    diag_free(&f->d);
    assert_int_equal(load_csv(f, "\xEF\xBB\xBF\n\r\n"), -1);
    expect_errors(f, "mem.csv:3:1: error: pools.p.file: expected a header row naming the fields", NULL);
    diag_free(&f->d);
    assert_int_equal(load_csv(f, "id,name\n\n"), -1);
    expect_errors(f, "mem.csv:3:1: error: pools.p.file: expected at least one row after the header", NULL);
    diag_free(&f->d);
    assert_int_equal(load_csv(f, "id,name"), -1);
    expect_errors(f, "mem.csv:1:8: error: pools.p.file: expected at least one row after the header", NULL);
}

static void test_csv_limits(void **state)
{
    fx *f = *state;
    /* 1025 fields in the header */
    size_t cap = 8 * 1100;
    char *buf = malloc(cap);
    size_t n = 0;
    for (unsigned i = 0; i < POOL_MAX_FIELDS + 1; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%sf%u", i ? "," : "", i);
    n += (size_t)snprintf(buf + n, cap - n, "\n1\n");
    assert_int_equal(load_n(f, buf, n, POOL_FORMAT_CSV), -1);
    expect_errors(f, "mem.csv:1:5035: error: pools.p.file: more than 1024 fields in the header", NULL);
    free(buf);

    /* a value over 1 MiB (quoted: "" counts once) */
    diag_free(&f->d);
    n = POOL_MAX_VALUE + 64;
    buf = malloc(n);
    memcpy(buf, "a,b\n1,\"", 7);
    memset(buf + 7, 'x', POOL_MAX_VALUE);
    memcpy(buf + 7 + POOL_MAX_VALUE, "\"\"\"\n2,\"\"\"\"\n", 11);
    assert_int_equal(load_n(f, buf, 7 + POOL_MAX_VALUE + 11, POOL_FORMAT_CSV), -1);
    expect_errors(f, "mem.csv:2:3: error: pools.p.file: value of 1048577 bytes is longer than the limit of 1 MiB",
                  NULL);
    /* exactly 1 MiB is fine */
    diag_free(&f->d);
    memcpy(buf + 7 + POOL_MAX_VALUE, "\"\n", 2);
    assert_int_equal(load_n(f, buf, 7 + POOL_MAX_VALUE + 2, POOL_FORMAT_CSV), 0);
    assert_int_equal(pool_cell(&f->t, 0, 1)->len, POOL_MAX_VALUE);
    free(buf);

    /* more than 10 million rows */
    diag_free(&f->d);
    n = 2 + 2 * ((size_t)POOL_MAX_ROWS + 1);
    buf = malloc(n);
    memcpy(buf, "a\n", 2);
    for (size_t i = 2; i < n; i += 2)
        memcpy(buf + i, "1\n", 2);
    assert_int_equal(load_n(f, buf, n, POOL_FORMAT_CSV), -1);
    expect_errors(f, "mem.csv:10000002:1: error: pools.p.file: more than 10000000 rows", NULL);
    free(buf);

    /* over 64 MiB: refused before reading */
    diag_free(&f->d);
    buf = calloc(1, POOL_MAX_BYTES + 1);
    assert_int_equal(load_n(f, buf, POOL_MAX_BYTES + 1, POOL_FORMAT_CSV), -1);
    expect_errors(f, "mem.csv:1:1: error: pools.p.file: 67108865 bytes are more than the limit of 64 MiB", NULL);
    free(buf);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static void test_json_rows(void **state)
{
    fx *f = *state;
    assert_int_equal(load_json(f,
        "[\n"
        "  {\"user\": \"al\\u00e9\\\"\\/\", \"amount\": 12.50, \"ok\": true},\n"
        "  {\"amount\": -0, \"big\": 123456789012345678901234567890, \"id\": 1E2, \"ok\": false},\n"
        "  {\"ok\": null, \"addr\": {\"city\": \"Pune\", \"geo\": [18.50, -7e-3], \"k\\\"q\": \"a\\tb\"},"
        "   \"tags\": [], \"o\": {}}\n"
        "]\n"),
        0);
    expect_fields(f, "user", "amount", "ok", "big", "id", "addr", "tags", "o", NULL);
    assert_int_equal(f->t.n_rows, 3);
    expect_cell(f, 0, "user", POOL_STRING, "al\xc3\xa9\"/", "\"al\xc3\xa9\\\"/\"");
    expect_cell(f, 0, "amount", POOL_NUMBER, "12.50", NULL);
    expect_cell(f, 0, "ok", POOL_BOOL, "true", NULL);
    expect_cell(f, 0, "big", POOL_NULL, "null", NULL);
    expect_cell(f, 0, "addr", POOL_NULL, "null", NULL);
    expect_cell(f, 1, "user", POOL_NULL, "null", NULL);
    expect_cell(f, 1, "amount", POOL_NUMBER, "-0", NULL);
    expect_cell(f, 1, "big", POOL_NUMBER, "123456789012345678901234567890", NULL);
    expect_cell(f, 1, "id", POOL_NUMBER, "1E2", NULL);
    expect_cell(f, 1, "ok", POOL_BOOL, "false", NULL);
    expect_cell(f, 2, "ok", POOL_NULL, "null", NULL);
    expect_cell(f, 2, "addr", POOL_JSON,
                "{\"city\":\"Pune\",\"geo\":[18.50,-7e-3],\"k\\\"q\":\"a\\tb\"}", NULL);
    expect_cell(f, 2, "tags", POOL_JSON, "[]", NULL);
    expect_cell(f, 2, "o", POOL_JSON, "{}", NULL);
}

static void test_json_bom_and_whitespace(void **state)
{
    fx *f = *state;
    assert_int_equal(load_json(f, "\xEF\xBB\xBF \r\n\t[{\"a\" :\"x\" , \"b\":[ 1 , \"[{\" ]}]\n"), 0);
    expect_cell(f, 0, "a", POOL_STRING, "x", "\"x\"");
    expect_cell(f, 0, "b", POOL_JSON, "[1,\"[{\"]", NULL);
}

static void test_json_errors(void **state)
{
    fx *f = *state;
    static const struct {
        const char *json;
        const char *err;
    } cases[] = {
        {"[{\"a\":1},]", "mem.json:1:10: error: pools.p.file: invalid JSON: unexpected token near ']'"},
        {"[\n {\"a\":1, \"a\":2}]", "mem.json:2:12: error: pools.p.file: invalid JSON: duplicate object key near '\"a\"'"},
        {"", "mem.json:1:1: error: pools.p.file: invalid JSON: unexpected token near end of file"},
        {"[\"\\u0000\"]", "mem.json:1:9: error: pools.p.file: invalid JSON: \\u0000 is not allowed in strings"},
        {"[{\"a\": 1e400}]", "mem.json:1:12: error: pools.p.file: invalid JSON: real number overflow near '1e400'"},
        {"[{\"a\": \"\xff\"}]", "mem.json:1:8: error: pools.p.file: invalid JSON: unable to decode byte 0xff near '\"'"},
        {"\n  {\"a\": 1}", "mem.json:2:3: error: pools.p.file: expected an array of objects, got object"},
        {"\"x\"", "mem.json:1:1: error: pools.p.file: expected an array of objects, got string"},
        {" []", "mem.json:1:2: error: pools.p.file: expected at least one row"},
        {"[{}, {}]", "mem.json:1:1: error: pools.p.file: expected at least one field; every row is an empty object"},
        {"[{\"\": 1}]", "mem.json:1:2: error: pools.p.file: rows[0]: empty key; expected a field name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        diag_free(&f->d);
        assert_int_equal(load_json(f, cases[i].json), -1);
        expect_errors(f, cases[i].err, NULL);
    }
    /* found by fuzz_pool: jansson ends a number at a NUL byte and goes on */
    diag_free(&f->d);
    assert_int_equal(load_n(f, "[{\"a\":1\0}]", 11, POOL_FORMAT_JSON), -1);
    expect_errors(f, "mem.json:1:8: error: pools.p.file: NUL byte; expected JSON text", NULL);
    /* every element that is not an object, at its own place */
    diag_free(&f->d);
    assert_int_equal(load_json(f, "[{\"a\": 1},\n  [2, {\"b\": 3}],\n  \"h\xc3\xa9\", 4,\n  null, {\"c\": 5}]"), -1);
    expect_errors(f,
        "mem.json:2:3: error: pools.p.file: rows[1]: expected an object, got array",
        "mem.json:3:3: error: pools.p.file: rows[2]: expected an object, got string",
        "mem.json:3:9: error: pools.p.file: rows[3]: expected an object, got number",
        "mem.json:4:3: error: pools.p.file: rows[4]: expected an object, got null",
        NULL);
}

static void test_json_limits(void **state)
{
    fx *f = *state;
    /* 1025 distinct keys over two rows */
    size_t cap = 16 * 1100;
    char *buf = malloc(cap);
    size_t n = (size_t)snprintf(buf, cap, "[{\"x\": 0},\n {");
    for (unsigned i = 0; i < POOL_MAX_FIELDS; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"k%u\": %u", i ? ", " : "", i, i);
    n += (size_t)snprintf(buf + n, cap - n, "}]");
    assert_int_equal(load_n(f, buf, n, POOL_FORMAT_JSON), -1);
    expect_errors(f, "mem.json:2:2: error: pools.p.file: rows[1]: more than 1024 fields", NULL);
    free(buf);

    /* a string value over 1 MiB once decoded, and a nested value over it */
    diag_free(&f->d);
    cap = 2 * POOL_MAX_VALUE + 200;
    buf = malloc(cap);
    n = (size_t)snprintf(buf, cap, "[{\"a\": 1},\n {\"a\": \"");
    memset(buf + n, 'x', POOL_MAX_VALUE + 1);
    n += POOL_MAX_VALUE + 1;
    n += (size_t)snprintf(buf + n, cap - n, "\", \"b\": [\"");
    memset(buf + n, 'y', POOL_MAX_VALUE);
    n += POOL_MAX_VALUE;
    n += (size_t)snprintf(buf + n, cap - n, "\"]}]");
    assert_int_equal(load_n(f, buf, n, POOL_FORMAT_JSON), -1);
    expect_errors(f,
        "mem.json:2:8: error: pools.p.file: rows[1].a: value of 1048577 bytes is longer than the limit of 1 MiB",
        "mem.json:2:1048594: error: pools.p.file: rows[1].b: value of 1048580 bytes is longer than the limit of 1 MiB",
        NULL);
    free(buf);
}

/* ------------------------------------------------------------------ */
/* inline YAML rows                                                    */

static void test_yaml_rows(void **state)
{
    fx *f = *state;
    assert_int_equal(load_yaml(f,
        "pools:\n"
        "  p:\n"
        "    rows:\n"
        "      - { user: alice, amount: 5000, rate: 12.5, vip: true, note: null }\n"
        "      - { user: \"5000\", amount: '12.5', vip: 'true', note: ~, extra: x }\n"
        "      - { amount: 0x1F, rate: +5, vip: True, note: }\n"
        "      - { amount: 007, rate: .5, note: .inf }\n"
        "      - { amount: 1e3, rate: 12.50, note: \"a\\\"b\\\\c\\td\" }\n"),
        0);
    expect_errors(f, NULL);
    expect_fields(f, "user", "amount", "rate", "vip", "note", "extra", NULL);
    assert_int_equal(f->t.n_rows, 5);
    expect_cell(f, 0, "user", POOL_STRING, "alice", "\"alice\"");
    expect_cell(f, 0, "amount", POOL_NUMBER, "5000", NULL);
    expect_cell(f, 0, "rate", POOL_NUMBER, "12.5", NULL);
    expect_cell(f, 0, "vip", POOL_BOOL, "true", NULL);
    expect_cell(f, 0, "note", POOL_NULL, "null", NULL);
    expect_cell(f, 0, "extra", POOL_NULL, "null", NULL);
    expect_cell(f, 1, "user", POOL_STRING, "5000", "\"5000\"");
    expect_cell(f, 1, "amount", POOL_STRING, "12.5", "\"12.5\"");
    expect_cell(f, 1, "vip", POOL_STRING, "true", "\"true\"");
    expect_cell(f, 1, "note", POOL_NULL, "null", NULL);
    expect_cell(f, 1, "rate", POOL_NULL, "null", NULL);
    expect_cell(f, 1, "extra", POOL_STRING, "x", "\"x\"");
    expect_cell(f, 2, "amount", POOL_NUMBER, "31", NULL);
    expect_cell(f, 2, "rate", POOL_NUMBER, "5", NULL);
    expect_cell(f, 2, "vip", POOL_BOOL, "true", NULL);
    expect_cell(f, 2, "note", POOL_NULL, "null", NULL);
    expect_cell(f, 3, "amount", POOL_NUMBER, "7", NULL);
    expect_cell(f, 3, "rate", POOL_NUMBER, "0.5", NULL);
    expect_cell(f, 3, "note", POOL_STRING, ".inf", "\".inf\"");
    expect_cell(f, 4, "amount", POOL_NUMBER, "1e3", NULL);
    expect_cell(f, 4, "rate", POOL_NUMBER, "12.50", NULL);
    expect_cell(f, 4, "note", POOL_STRING, "a\"b\\c\td", "\"a\\\"b\\\\c\\td\"");
}

static void test_yaml_errors(void **state)
{
    fx *f = *state;
    assert_int_equal(load_yaml(f,
        "pools:\n"
        "  p:\n"
        "    rows:\n"
        "      - { user: a, address: { city: Pune } }\n"
        "      - [1, 2]\n"
        "      - user: b\n"
        "        tags: [x, y]\n"
        "        \"\": 1\n"
        "      - \"text\"\n"),
        -1);
    expect_errors(f,
        "spec.yaml:4:29: error: pools.p.rows[0].address: expected a string, number, boolean or null, got mapping (nested values need a JSON data file)",
        "spec.yaml:5:9: error: pools.p.rows[1]: expected a mapping of field names to values, got sequence",
        "spec.yaml:7:15: error: pools.p.rows[2].tags: expected a string, number, boolean or null, got sequence (nested values need a JSON data file)",
        "spec.yaml:8:9: error: pools.p.rows[2]: empty key; expected a field name",
        "spec.yaml:9:9: error: pools.p.rows[3]: expected a mapping of field names to values, got string",
        NULL);
}

static void test_yaml_shape_errors(void **state)
{
    fx *f = *state;
    assert_int_equal(load_yaml(f, "pools:\n  p:\n    rows: { a: 1 }\n"), -1);
    expect_errors(f, "spec.yaml:3:11: error: pools.p.rows: expected a sequence of rows (mappings), got mapping", NULL);
    ytree_free(f->tree);
    diag_free(&f->d);
    assert_int_equal(load_yaml(f, "pools:\n  p:\n    rows: []\n"), -1);
    expect_errors(f, "spec.yaml:3:11: error: pools.p.rows: expected at least one row", NULL);
    ytree_free(f->tree);
    diag_free(&f->d);
    assert_int_equal(load_yaml(f, "pools:\n  p:\n    rows: [{}, {}]\n"), -1);
    expect_errors(f, "spec.yaml:3:11: error: pools.p.rows: expected at least one field; every row is empty", NULL);
    ytree_free(f->tree);
    diag_free(&f->d);
    assert_int_equal(load_yaml(f, "pools:\n  p:\n    rows: [{a: \"x\\0y\"}]\n"), -1);
    expect_errors(f, "spec.yaml:3:16: error: pools.p.rows[0].a: NUL character; expected text", NULL);
}

/* ------------------------------------------------------------------ */
/* files                                                               */

#define SPEC_AT "spec.yaml", 12, 11, "pools.users.file"

static void test_file_relative(void **state)
{
    fx *f = *state;
    /* BOM, CRLF, a quoted CRLF, a blank line, a trailing empty field */
    assert_int_equal(pool_load_file(&f->a, "pools/users.csv", TEST_DATA_DIR, &f->t, &f->d, SPEC_AT), 0);
    expect_fields(f, "username", "password", "amount", "active", "bank", NULL);
    assert_int_equal(f->t.n_rows, 2);
    expect_cell(f, 0, "password", POOL_STRING, "p,w \"1\"", "\"p,w \\\"1\\\"\"");
    expect_cell(f, 0, "amount", POOL_NUMBER, "5000", NULL);
    expect_cell(f, 0, "active", POOL_BOOL, "true", NULL);
    expect_cell(f, 0, "bank", POOL_STRING, "ICICI", "\"ICICI\"");
    expect_cell(f, 1, "password", POOL_STRING, "two\r\nlines", "\"two\\r\\nlines\"");
    expect_cell(f, 1, "amount", POOL_NUMBER, "12.50", NULL);
    expect_cell(f, 1, "active", POOL_BOOL, "false", NULL);
    expect_cell(f, 1, "bank", POOL_STRING, "", "\"\"");

    /* a base_dir with a trailing slash */
    assert_int_equal(pool_load_file(&f->a, "users.json", POOLS_DIR "/", &f->t, &f->d, SPEC_AT), 0);
    expect_fields(f, "username", "amount", "vip", "address", NULL);
    expect_cell(f, 0, "amount", POOL_NUMBER, "12.50", NULL);
    expect_cell(f, 1, "address", POOL_JSON,
                "{\"city\":\"Pune\",\"zip\":\"411001\",\"geo\":[18.52,73.85]}", NULL);
    expect_cell(f, 2, "amount", POOL_NUMBER, "1E2", NULL);
    expect_cell(f, 2, "vip", POOL_NULL, "null", NULL);
    expect_errors(f, NULL);
}

static void test_file_absolute_and_cwd(void **state)
{
    fx *f = *state;
    /* an absolute path ignores base_dir */
    assert_int_equal(pool_load_file(&f->a, POOLS_DIR "/users.csv", "/nonexistent", &f->t, &f->d, SPEC_AT), 0);
    /* NULL, "" and "." mean the current directory: the name stays as written */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(TEST_DATA_DIR), 0);
    const char *bases[] = {NULL, "", "."};
    for (size_t i = 0; i < 3; i++) {
        diag_free(&f->d);
        assert_int_equal(pool_load_file(&f->a, "pools/bad_rows.csv", bases[i], &f->t, &f->d, SPEC_AT), -1);
        expect_errors(f,
            "pools/bad_rows.csv:3:1: error: pools.users.file: expected 3 fields, found 2",
            "pools/bad_rows.csv:4:10: error: pools.users.file: expected 3 fields, found 4",
            NULL);
    }
    assert_int_equal(chdir(cwd), 0);
}

static void test_file_errors(void **state)
{
    fx *f = *state;
    assert_int_equal(pool_load_file(&f->a, "nope.csv", POOLS_DIR, &f->t, &f->d, SPEC_AT), -1);
    expect_errors(f, "spec.yaml:12:11: error: pools.users.file: cannot read " POOLS_DIR
                     "/nope.csv: No such file or directory", NULL);
    assert_int_equal(f->t.n_rows, 0);
    diag_free(&f->d);
    assert_int_equal(pool_load_file(&f->a, "data/users.txt", POOLS_DIR, &f->t, &f->d, SPEC_AT), -1);
    expect_errors(f, "spec.yaml:12:11: error: pools.users.file: cannot tell the format of data/users.txt; "
                     "expected a file name ending in .csv or .json", NULL);
    diag_free(&f->d);
    assert_int_equal(pool_load_file(&f->a, "v1.d/users", POOLS_DIR, &f->t, &f->d, SPEC_AT), -1);
    expect_errors(f, "spec.yaml:12:11: error: pools.users.file: cannot tell the format of v1.d/users; "
                     "expected a file name ending in .csv or .json", NULL);
    /* the extension in any case */
    diag_free(&f->d);
    assert_int_equal(pool_load_file(&f->a, "NOPE.Csv", POOLS_DIR, &f->t, &f->d, SPEC_AT), -1);
    expect_errors(f, "spec.yaml:12:11: error: pools.users.file: cannot read " POOLS_DIR
                     "/NOPE.Csv: No such file or directory", NULL);
    /* no spec location: just the message */
    diag_free(&f->d);
    assert_int_equal(pool_load_file(&f->a, "nope.json", POOLS_DIR, &f->t, &f->d, NULL, 0, 0, "pools.u.file"), -1);
    expect_errors(f, "error: pools.u.file: cannot read " POOLS_DIR "/nope.json: No such file or directory", NULL);

    /* errors inside a file are at the file's own place, under its resolved name */
    diag_free(&f->d);
    assert_int_equal(pool_load_file(&f->a, "bad_rows.csv", POOLS_DIR, &f->t, &f->d, SPEC_AT), -1);
    expect_errors(f,
        POOLS_DIR "/bad_rows.csv:3:1: error: pools.users.file: expected 3 fields, found 2",
        POOLS_DIR "/bad_rows.csv:4:10: error: pools.users.file: expected 3 fields, found 4",
        NULL);
    diag_free(&f->d);
    assert_int_equal(pool_load_file(&f->a, "bad.json", POOLS_DIR, &f->t, &f->d, SPEC_AT), -1);
    expect_errors(f, POOLS_DIR "/bad.json:3:12: error: pools.users.file: invalid JSON: string or '}' expected near '}'",
                  NULL);
}

static void test_file_directory_and_size(void **state)
{
    fx *f = *state;
    char dir[] = "/tmp/volley-pool-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[64], big[64], want[256];
    snprintf(sub, sizeof sub, "%s/x.csv", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(pool_load_file(&f->a, "x.csv", dir, &f->t, &f->d, SPEC_AT), -1);
    snprintf(want, sizeof want, "spec.yaml:12:11: error: pools.users.file: cannot read %s: Is a directory", sub);
    expect_errors(f, want, NULL);

    /* a sparse file one byte over the limit is refused without reading it */
    diag_free(&f->d);
    snprintf(big, sizeof big, "%s/big.json", dir);
    FILE *fp = fopen(big, "w");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), (off_t)POOL_MAX_BYTES + 1), 0);
    fclose(fp);
    assert_int_equal(pool_load_file(&f->a, "big.json", dir, &f->t, &f->d, SPEC_AT), -1);
    snprintf(want, sizeof want, "spec.yaml:12:11: error: pools.users.file: %s is larger than the limit of 64 MiB", big);
    expect_errors(f, want, NULL);
    /* exactly 64 MiB is read (and, all NULs, is not JSON) */
    diag_free(&f->d);
    assert_int_equal(truncate(big, (off_t)POOL_MAX_BYTES), 0);
    assert_int_equal(pool_load_file(&f->a, "big.json", dir, &f->t, &f->d, SPEC_AT), -1);
    snprintf(want, sizeof want, "%s:1:1: error: pools.users.file: NUL byte; expected JSON text", big);
    expect_errors(f, want, NULL);

    unlink(big);
    rmdir(sub);
    rmdir(dir);
}

static void test_pool_field(void **state)
{
    fx *f = *state;
    assert_int_equal(load_csv(f, "a,b,c\n1,2,3\n"), 0);
    assert_int_equal(pool_field(&f->t, "a"), 0);
    assert_int_equal(pool_field(&f->t, "c"), 2);
    assert_int_equal(pool_field(&f->t, "d"), -1);
    assert_int_equal(pool_field(&f->t, ""), -1);
}

/* ------------------------------------------------------------------ */
/* load speed: VOLLEY_POOL_BENCH=1 build/tests/test_pool               */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_one(const char *what, const char *data, size_t len, pool_format format,
                      size_t rows)
{
    arena a;
    diag d;
    pool_table t;
    arena_init(&a);
    diag_init(&d);
    double t0 = now_s();
    int rc = pool_load_buffer(&a, what, data, len, format, &t, &d, "bench");
    double dt = now_s() - t0;
    diag_print(&d, stderr);
    assert_int_equal(rc, 0);
    assert_int_equal(t.n_rows, rows);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("pool bench: %s: %zu rows x %zu fields, %.1f MiB in %.3f s (%.2f M rows/s); "
           "peak RSS so far %ld MiB\n", what, t.n_rows, t.n_fields, (double)len / (1 << 20), dt,
           (double)rows / dt / 1e6, ru.ru_maxrss / 1024);
    diag_free(&d);
    arena_free(&a);
}

static void test_bench(void **state)
{
    (void)state;
    if (!getenv("VOLLEY_POOL_BENCH"))
        skip();
    const size_t rows = 1000000;
    size_t cap = rows * 160 + 256, n;
    char *buf = malloc(cap);
    n = (size_t)snprintf(buf, cap, "id,username,password,amount,active,bank\n");
    for (size_t i = 0; i < rows; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%zu,user%zu,\"pa,ss\"\"%zu\",%zu.%02zu,%s,%s\n",
                              i, i, i * 7919 % 100000, i % 5000, i % 100,
                              i % 3 ? "true" : "false", i % 2 ? "ICICI" : "\"HDFC, Mumbai\"");
    bench_one("1M-rows.csv", buf, n, POOL_FORMAT_CSV, rows);
    /* jansson: half as many rows keep the JSON under 64 MiB */
    n = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < rows / 2; i++)
        n += (size_t)snprintf(buf + n, cap - n,
                              "%s{\"id\":%zu,\"username\":\"user%zu\",\"password\":\"pa,ss\\\"%zu\","
                              "\"amount\":%zu.%02zu,\"active\":%s,\"bank\":\"ICICI\"}\n",
                              i ? "," : "", i, i, i * 7919 % 100000, i % 5000, i % 100,
                              i % 3 ? "true" : "false");
    n += (size_t)snprintf(buf + n, cap - n, "]");
    bench_one("500k-rows.json", buf, n, POOL_FORMAT_JSON, rows / 2);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_typing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_quoted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_lines_after_multiline_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_line_endings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_no_trailing_newline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_bom_location, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_json_splice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_field_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_error_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_quote_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_header_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_bom_and_whitespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_shape_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_absolute_and_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_directory_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_field, setup, teardown),
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
