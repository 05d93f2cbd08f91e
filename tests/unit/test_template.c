#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "pool.h"
#include "secret.h"
#include "template.h"
#include "vu.h"
#include "yaml_tree.h"

/* ------------------------------------------------------------------ */
/* scope                                                               */

static const char *const env_table[][2] = {
    {"HOST", "h.test"},
    {"NUM", "42"},
    {"NEG", "-1.5e3"},
    {"WORD", "abc"},
    {"QUOTE", "say \"hi\"\\\nbye\t\x01"},
    {"LEADING_ZERO", "007"},
    {"PLUS", "+5"},
    {"DOT", "5."},
    {"EMPTY", ""},
    {"USER", "qa"},
    {"API_KEY", "s3cr3t-k"},
};

static int env_calls;

static const char *env_lookup(void *ctx, const char *name)
{
    assert_ptr_equal(ctx, &env_calls);
    env_calls++;
    for (size_t i = 0; i < sizeof env_table / sizeof env_table[0]; i++)
        if (strcmp(env_table[i][0], name) == 0)
            return env_table[i][1];
    return NULL;
}

static const char *service_lookup(void *ctx, const char *name)
{
    assert_ptr_equal(ctx, &env_calls);
    return strcmp(name, "gateway") == 0 ? "http://gw.test:8080" : NULL;
}

static const tmpl_scope scope = {.env = env_lookup, .service = service_lookup, .ctx = &env_calls};

/* ------------------------------------------------------------------ */
/* fixture                                                             */

typedef struct fx {
    arena a;
    diag d;
    ytree *tree;
    volley_vu *vu;
    volley_buf out;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    arena_init(&f->a);
    diag_init(&f->d);
    f->vu = calloc(1, sizeof *f->vu);
    f->vu->id = 7;
    f->vu->iteration = 3;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ytree_free(f->tree);
    diag_free(&f->d);
    arena_free(&f->a);
    free(f->out.data);
    tmpl_vu_free(f->vu);
    free(f->vu);
    free(f);
    return 0;
}

static volley_template *compile(fx *f, const char *src, char *err, size_t errcap)
{
    return tmpl_compile(&f->a, src, strlen(src), &scope, err, errcap);
}

/* Compiles src, which must succeed, and returns its rendering. */
static const char *render(fx *f, const char *src)
{
    char err[512] = "";
    volley_template *t = compile(f, src, err, sizeof err);
    if (!t)
        fail_msg("compile \"%s\": %s", src, err);
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    return f->out.data ? f->out.data : "";
}

static void expect_compile_error(fx *f, const char *src, const char *msg)
{
    char err[512] = "";
    volley_template *t = compile(f, src, err, sizeof err);
    if (t)
        fail_msg("\"%s\" compiled, expected: %s", src, msg);
    assert_string_equal(err, msg);
}

static const ynode *parse(fx *f, const char *yaml)
{
    diag d;
    diag_init(&d);
    ytree_free(f->tree);
    f->tree = ytree_load_string("b.yaml", yaml, strlen(yaml), &d);
    if (!f->tree)
        diag_print(&d, stderr);
    diag_free(&d);
    if (!f->tree)
        fail_msg("bad test YAML: %s", yaml);
    return ytree_root(f->tree);
}

/* Compiles a YAML body, renders it for f->vu and parses the result with
 * jansson; the text must be valid JSON. Caller json_decref()s. */
static json_t *body(fx *f, const char *yaml, const volley_json **out_j)
{
    const ynode *root = parse(f, yaml);
    volley_json *j = tjson_compile(&f->a, root, &scope, &f->d, "body");
    if (!j) {
        diag_print(&f->d, stderr);
        fail_msg("tjson_compile failed: %s", yaml);
    }
    assert_int_equal(f->d.count, 0);
    f->out.len = 0;
    assert_int_equal(tjson_render(j, f->vu, &f->out), 0);
    json_error_t jerr;
    json_t *doc = json_loads(f->out.data, JSON_DECODE_ANY, &jerr);
    if (!doc)
        fail_msg("rendered body is not JSON (%s): %s", jerr.text, f->out.data);
    if (out_j)
        *out_j = j;
    return doc;
}

static json_t *get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        fail_msg("no key %s", key);
    return v;
}

static void assert_json_int(json_t *v, json_int_t want)
{
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), want);
}

static void assert_json_real(json_t *v, double want)
{
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) == want);
}

static void assert_json_str(json_t *v, const char *want)
{
    if (!json_is_string(v))
        fail_msg("not a string (type %d), expected \"%s\"", (int)json_typeof(v), want);
    assert_int_equal(json_string_length(v), strlen(want));
    assert_memory_equal(json_string_value(v), want, strlen(want));
}

/* ------------------------------------------------------------------ */
/* string templates                                                    */

static void test_literal_is_constant(void **state)
{
    fx *f = *state;
    char err[256];
    volley_template *t = compile(f, "http://plain/text?a=1&b=$2", err, sizeof err);
    assert_non_null(t);
    assert_string_equal(tmpl_const(t), "http://plain/text?a=1&b=$2");
    assert_string_equal(render(f, "http://plain/text?a=1&b=$2"), "http://plain/text?a=1&b=$2");
    t = compile(f, "", err, sizeof err);
    assert_non_null(t);
    assert_string_equal(tmpl_const(t), "");
    assert_null(tmpl_const(NULL));
    /* A lone "$" or "$$" without "{" is literal. */
    assert_string_equal(render(f, "$ $$ a$"), "$ $$ a$");
}

static void test_env(void **state)
{
    fx *f = *state;
    char err[256];
    env_calls = 0;
    volley_template *t = compile(f, "http://${env.HOST}/x", err, sizeof err);
    assert_non_null(t);
    assert_int_equal(env_calls, 1);   /* resolved once, at compile time */
    assert_string_equal(tmpl_const(t), "http://h.test/x");
    assert_string_equal(render(f, "${env.HOST}${env.WORD}"), "h.testabc");
    assert_string_equal(render(f, "[${env.EMPTY}]"), "[]");
}

static void test_env_default(void **state)
{
    fx *f = *state;
    assert_string_equal(render(f, "${env.MISSING:-fallback}"), "fallback");
    assert_string_equal(render(f, "${env.MISSING:-http://a:1/p}"), "http://a:1/p");
    assert_string_equal(render(f, "[${env.MISSING:-}]"), "[]");
    /* A set variable beats its default, even when set to "". */
    assert_string_equal(render(f, "${env.HOST:-other}"), "h.test");
    assert_string_equal(render(f, "[${env.EMPTY:-x}]"), "[]");
    expect_compile_error(f, "${vu.id:-1}",
                         "a default (\":-\") is only allowed for env.NAME, not in \"${vu.id:-1}\"");
}

static void test_env_missing(void **state)
{
    fx *f = *state;
    expect_compile_error(f, "Bearer ${env.DELTRAN_JWT}",
                         "environment variable DELTRAN_JWT is not set (pass -e DELTRAN_JWT=VALUE, "
                         "export it, or write ${env.DELTRAN_JWT:-default})");
    /* Without a scope every env name is missing. */
    char err[256];
    assert_null(tmpl_compile(&f->a, "${env.HOST}", 11, NULL, err, sizeof err));
    assert_non_null(strstr(err, "environment variable HOST is not set"));
}

static void test_services(void **state)
{
    fx *f = *state;
    assert_string_equal(render(f, "${services.gateway}/api/v1"), "http://gw.test:8080/api/v1");
    expect_compile_error(f, "${services.gatewy}/x",
                         "unknown service \"gatewy\" in \"${services.gatewy}\" (declare it under "
                         "services:)");
}

#define KNOWN "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, " \
    "vu.iteration, scenario.name, random.int(a,b), random.float(a,b), " \
    "random.pick(x,y,...), random.string(n), uuid(), now.ms, now.iso or a function: base64(x), " \
    "base64decode(x), hex(x), urlencode(x), sha256(x), hmac('sha256', key, data) ..."

static void test_unknown_names(void **state)
{
    fx *f = *state;
    expect_compile_error(f, "${row.sender}",
                         "${row.sender}: a pool row is only known in a scenario with `use: POOL`");
    expect_compile_error(f, "${vu.name}", "unknown template name \"vu.name\"; expected " KNOWN);
    expect_compile_error(f, "${env}", "unknown template name \"env\"; expected " KNOWN);
    expect_compile_error(f, "${tx_id}", "unknown template name \"tx_id\"; expected " KNOWN);
    expect_compile_error(f, "a ${} b", "empty or overlong template name in \"${}\"");
    expect_compile_error(f, "${env.A*B}", "invalid character '*' in template name \"env.A*B\"");
}

static void test_unterminated(void **state)
{
    fx *f = *state;
    expect_compile_error(f, "abc ${env.HOST",
                         "unterminated \"${\" at offset 4 (expected \"${name}\")");
    expect_compile_error(f, "${", "unterminated \"${\" at offset 0 (expected \"${name}\")");
}

static void test_escape(void **state)
{
    fx *f = *state;
    char err[256];
    volley_template *t = compile(f, "cost: $${env.NOPE} and $${", err, sizeof err);
    assert_non_null(t);
    assert_string_equal(tmpl_const(t), "cost: ${env.NOPE} and ${");
    /* Leftmost first: "$" then the escape "$${". */
    assert_string_equal(render(f, "$$${env.HOST}"), "$${env.HOST}");
    assert_string_equal(render(f, "$${vu.id}${vu.id}"), "${vu.id}7");
}

static void test_spaces_inside(void **state)
{
    fx *f = *state;
    assert_string_equal(render(f, "${ env.HOST }|${  vu.id}"), "h.test|7");
    assert_string_equal(render(f, "${ env.MISSING:-d }"), "d");
}

static void test_vu_rendering(void **state)
{
    fx *f = *state;
    char err[256];
    volley_template *t = compile(f, "user-${vu.id}/it-${vu.iteration}!", err, sizeof err);
    assert_non_null(t);
    assert_null(tmpl_const(t));
    f->vu->id = 1;
    f->vu->iteration = 0;
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    assert_string_equal(f->out.data, "user-1/it-0!");
    /* render appends; the same template renders per VU. */
    f->vu->id = UINT64_MAX;
    f->vu->iteration = 123456789;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    assert_string_equal(f->out.data, "user-1/it-0!user-18446744073709551615/it-123456789!");
    assert_int_equal(f->out.len, strlen(f->out.data));
}

/* The display text folds load-time parts and keeps run-time ones, so a
 * templated url is one stable tag value. */
static void test_display_text(void **state)
{
    fx *f = *state;
    char err[512];
    const char *src = "${services.gateway}/tx/${vu.id}?i=${ vu.iteration }&h=${env.HOST}";
    volley_template *t = tmpl_compile(&f->a, src, strlen(src), &scope, err, sizeof err);
    assert_non_null(t);
    assert_string_equal(tmpl_display(t), "http://gw.test:8080/tx/${vu.id}?i=${vu.iteration}&h=h.test");
    volley_template *c = tmpl_compile(&f->a, "plain", 5, &scope, err, sizeof err);
    assert_string_equal(tmpl_display(c), "plain");
    assert_ptr_equal(tmpl_display(c), tmpl_const(c));
}

/* ------------------------------------------------------------------ */
/* JSON bodies                                                         */

static void test_json_scalars_keep_types(void **state)
{
    fx *f = *state;
    const volley_json *j;
    json_t *doc = body(f,
                       "a: 1\n"
                       "b: 2.5\n"
                       "c: true\n"
                       "d: null\n"
                       "e: -3\n"
                       "f: 1e3\n"
                       "g: ~\n"
                       "h: False\n"
                       "s: hello world\n"
                       "inf: .inf\n",
                       &j);
    assert_non_null(tjson_const(j));
    assert_json_int(get(doc, "a"), 1);
    assert_json_real(get(doc, "b"), 2.5);
    assert_true(json_is_true(get(doc, "c")));
    assert_true(json_is_null(get(doc, "d")));
    assert_json_int(get(doc, "e"), -3);
    assert_json_real(get(doc, "f"), 1000.0);
    assert_true(json_is_null(get(doc, "g")));
    assert_true(json_is_false(get(doc, "h")));
    assert_json_str(get(doc, "s"), "hello world");
    assert_json_str(get(doc, "inf"), ".inf");   /* JSON has no infinity */
    json_decref(doc);
}

/* YAML 1.2 numbers that are not JSON number syntax must still render as
 * valid JSON numbers. */
static void test_json_yaml_number_forms(void **state)
{
    fx *f = *state;
    json_t *doc = body(f,
                       "hex: 0x1F\n"
                       "oct: 0o17\n"
                       "plus: +5\n"
                       "zeros: 007\n"
                       "half: .5\n"
                       "one: 1.\n"
                       "pf: +1.5\n"
                       "neg0: -0\n",
                       NULL);
    assert_json_int(get(doc, "hex"), 31);
    assert_json_int(get(doc, "oct"), 15);
    assert_json_int(get(doc, "plus"), 5);
    assert_json_int(get(doc, "zeros"), 7);
    assert_true(json_is_number(get(doc, "half")));
    assert_true(json_number_value(get(doc, "half")) == 0.5);
    assert_true(json_is_number(get(doc, "one")));
    assert_true(json_number_value(get(doc, "one")) == 1.0);
    assert_true(json_is_number(get(doc, "pf")));
    assert_true(json_number_value(get(doc, "pf")) == 1.5);
    assert_true(json_is_number(get(doc, "neg0")));
    assert_true(json_number_value(get(doc, "neg0")) == 0.0);
    json_decref(doc);
}

static void test_json_quoted_stay_strings(void **state)
{
    fx *f = *state;
    json_t *doc = body(f,
                       "a: \"5\"\n"
                       "b: 'true'\n"
                       "c: \"null\"\n"
                       "d: \"\"\n"
                       "e: \"${vu.id}\"\n",
                       NULL);
    assert_json_str(get(doc, "a"), "5");
    assert_json_str(get(doc, "b"), "true");
    assert_json_str(get(doc, "c"), "null");
    assert_json_str(get(doc, "d"), "");
    assert_json_str(get(doc, "e"), "7");
    json_decref(doc);
}

static void test_json_vu_single_is_number(void **state)
{
    fx *f = *state;
    const volley_json *j;
    json_t *doc = body(f,
                       "id: ${vu.id}\n"
                       "it: ${vu.iteration}\n"
                       "label: user-${vu.id}\n"
                       "two: ${vu.id}${vu.iteration}\n",
                       &j);
    assert_null(tjson_const(j));
    assert_json_int(get(doc, "id"), 7);
    assert_json_int(get(doc, "it"), 3);
    assert_json_str(get(doc, "label"), "user-7");
    /* Two templates are not "a single template": a string. */
    assert_json_str(get(doc, "two"), "73");
    json_decref(doc);
}

static void test_json_env_typing(void **state)
{
    fx *f = *state;
    json_t *doc = body(f,
                       "num: ${env.NUM}\n"
                       "neg: ${env.NEG}\n"
                       "word: ${env.WORD}\n"
                       "empty: ${env.EMPTY}\n"
                       "dflt: ${env.MISSING:-12}\n"
                       "dflt_word: ${env.MISSING:-none}\n"
                       "inside: n=${env.NUM}\n"
                       "zeros: ${env.LEADING_ZERO}\n"
                       "plus: ${env.PLUS}\n"
                       "dot: ${env.DOT}\n"
                       "url: ${services.gateway}\n",
                       NULL);
    assert_json_int(get(doc, "num"), 42);
    assert_json_real(get(doc, "neg"), -1500.0);
    assert_json_str(get(doc, "word"), "abc");
    assert_json_str(get(doc, "empty"), "");
    assert_json_int(get(doc, "dflt"), 12);
    assert_json_str(get(doc, "dflt_word"), "none");
    assert_json_str(get(doc, "inside"), "n=42");
    /* Values that are not JSON numbers stay text (an account "007" must
     * not become the invalid JSON 007). */
    assert_json_str(get(doc, "zeros"), "007");
    assert_json_str(get(doc, "plus"), "+5");
    assert_json_str(get(doc, "dot"), "5.");
    assert_json_str(get(doc, "url"), "http://gw.test:8080");
    json_decref(doc);
}

static void test_json_escaping(void **state)
{
    fx *f = *state;
    json_t *doc = body(f,
                       "lit: \"a\\\"b\\\\c\\nd\\te\\x01f/\"\n"
                       "\"we\\\"ird key\": 1\n"
                       "env: ${env.QUOTE}\n"
                       "mixed: \"<${env.QUOTE}> #${vu.id}\"\n"
                       "dflt: \"${env.MISSING:-x\\\"y}\"\n"
                       "utf8: \"h\\u00e9llo \\u20ac\"\n",
                       NULL);
    assert_json_str(get(doc, "lit"), "a\"b\\c\nd\te\x01" "f/");
    assert_json_int(get(doc, "we\"ird key"), 1);
    assert_json_str(get(doc, "env"), "say \"hi\"\\\nbye\t\x01");
    assert_json_str(get(doc, "mixed"), "<say \"hi\"\\\nbye\t\x01> #7");
    assert_json_str(get(doc, "dflt"), "x\"y");
    assert_json_str(get(doc, "utf8"), "h\xc3\xa9llo \xe2\x82\xac");
    json_decref(doc);
}

static void test_json_nested(void **state)
{
    fx *f = *state;
    json_t *doc = body(f,
                       "user:\n"
                       "  id: ${vu.id}\n"
                       "  tags: [a, 1, {x: null}]\n"
                       "  address: { city: \"Dubai\", zip: \"00000\" }\n"
                       "matrix:\n"
                       "  - [1, 2]\n"
                       "  - []\n"
                       "  - - ${vu.iteration}\n"
                       "empty: {}\n",
                       NULL);
    json_t *user = get(doc, "user");
    assert_json_int(get(user, "id"), 7);
    json_t *tags = get(user, "tags");
    assert_true(json_is_array(tags));
    assert_int_equal(json_array_size(tags), 3);
    assert_json_str(json_array_get(tags, 0), "a");
    assert_json_int(json_array_get(tags, 1), 1);
    assert_true(json_is_null(get(json_array_get(tags, 2), "x")));
    assert_json_str(get(get(user, "address"), "zip"), "00000");
    json_t *m = get(doc, "matrix");
    assert_int_equal(json_array_size(m), 3);
    assert_int_equal(json_array_size(json_array_get(m, 0)), 2);
    assert_int_equal(json_array_size(json_array_get(m, 1)), 0);
    assert_json_int(json_array_get(json_array_get(m, 2), 0), 3);
    assert_true(json_is_object(get(doc, "empty")));
    assert_int_equal(json_object_size(get(doc, "empty")), 0);
    /* Key order is kept. */
    assert_string_equal(json_object_iter_key(json_object_iter(doc)), "user");
    json_decref(doc);
}

static void test_json_top_level_shapes(void **state)
{
    fx *f = *state;
    const volley_json *j;
    json_t *doc = body(f, "[1, two]\n", &j);
    assert_string_equal(tjson_const(j), "[1,\"two\"]");
    json_decref(doc);
    doc = body(f, "42\n", &j);
    assert_string_equal(tjson_const(j), "42");
    json_decref(doc);
    doc = body(f, "hello\n", &j);
    assert_string_equal(tjson_const(j), "\"hello\"");
    json_decref(doc);
    doc = body(f, "${vu.id}\n", &j);
    assert_json_int(doc, 7);
    json_decref(doc);
}

static void test_json_errors_have_locations(void **state)
{
    fx *f = *state;
    const ynode *root = parse(f,
                              "a: ${env.NOPE}\n"
                              "b:\n"
                              "  - ok\n"
                              "  - \"x ${row.id}\"\n"
                              "c: ${services.none}\n");
    assert_null(tjson_compile(&f->a, root, &scope, &f->d, "steps[0].http.json"));
    assert_int_equal(f->d.count, 3);
    assert_string_equal(f->d.lines[0],
                        "b.yaml:1:4: error: steps[0].http.json: environment variable NOPE is not set "
                        "(pass -e NOPE=VALUE, export it, or write ${env.NOPE:-default})");
    assert_string_equal(f->d.lines[1],
                        "b.yaml:4:5: error: steps[0].http.json: ${row.id}: a pool row is only "
                        "known in a scenario with `use: POOL`");
    assert_string_equal(f->d.lines[2],
                        "b.yaml:5:4: error: steps[0].http.json: unknown service \"none\" in "
                        "\"${services.none}\" (declare it under services:)");
}


/* ------------------------------------------------------------------ */
/* run-time values of issue 4: random, uuid, now, rows, captures       */

static const char *scenario_lookup(void *ctx) { (void)ctx; return "e2e \"quoted\""; }

static int64_t row_lookup(void *ctx, const char *name, int *slot, char *err, size_t errcap)
{
    (void)ctx;
    *slot = 0;
    static const char *const fields[] = {"sender", "amount", "note", "flag"};
    for (int64_t i = 0; i < 4; i++)
        if (strcmp(fields[i], name) == 0)
            return i;
    snprintf(err, errcap, "no field \"%s\"", name);
    return -1;
}

static int capture_lookup(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "tx_id") == 0)
        return 0;
    if (strcmp(name, "amount") == 0)
        return 1;
    return strcmp(name, "later") == 0 ? -2 : -1;
}

static const tmpl_scope full_scope = {.env = env_lookup, .service = service_lookup,
                                      .scenario = scenario_lookup, .row_field = row_lookup,
                                      .capture = capture_lookup, .ctx = &env_calls};

static const char *render_full(fx *f, const char *src)
{
    char err[512] = "";
    volley_template *t = tmpl_compile(&f->a, src, strlen(src), &full_scope, err, sizeof err);
    if (!t)
        fail_msg("compile \"%s\": %s", src, err);
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    return f->out.data ? f->out.data : "";
}

static void test_random_int_range_and_stream(void **state)
{
    fx *f = *state;
    f->vu->rng = 42;
    char err[512];
    volley_template *t = tmpl_compile(&f->a, "${random.int(-3, 3)}", 20, &scope, err, sizeof err);
    assert_non_null(t);
    assert_null(tmpl_const(t));
    int seen[7] = {0};
    char first[64][8];
    for (int i = 0; i < 2000; i++) {
        f->out.len = 0;
        assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
        long v = strtol(f->out.data, NULL, 10);
        assert_true(v >= -3 && v <= 3);
        seen[v + 3]++;
        if (i < 64)
            snprintf(first[i], sizeof first[i], "%s", f->out.data);
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 200);   /* ~286 each: every value comes up */
    /* The same state gives the same stream. */
    f->vu->rng = 42;
    for (int i = 0; i < 64; i++) {
        f->out.len = 0;
        tmpl_render(t, f->vu, &f->out);
        assert_string_equal(f->out.data, first[i]);
    }
    assert_string_equal(render(f, "${random.int(5,5)}"), "5");
}

static void test_random_float_pick_string(void **state)
{
    fx *f = *state;
    f->vu->rng = 7;
    for (int i = 0; i < 200; i++) {
        const char *s = render(f, "${random.float(1, 4)}");
        double x = strtod(s, NULL);
        assert_true(x >= 1 && x <= 4);
        const char *dot = strchr(s, '.');
        assert_non_null(dot);
        assert_int_equal(strlen(dot + 1), 2);   /* 2 decimals by default */
        assert_null(strchr(render(f, "${random.float(0, 1, 0)}"), '.'));
        s = render(f, "${random.pick(INR, 'A,B', \"x\\\"y\")}");
        assert_true(strcmp(s, "INR") == 0 || strcmp(s, "A,B") == 0 || strcmp(s, "x\"y") == 0);
        s = render(f, "${random.string(12)}");
        assert_int_equal(strlen(s), 12);
        for (const char *p = s; *p; p++)
            assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", *p));
    }
}

static void test_uuid_and_now(void **state)
{
    fx *f = *state;
    f->vu->rng = 1;
    const char *u = render(f, "${uuid()}");
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[8], '-');
    assert_int_equal(u[14], '4');                      /* version 4 */
    assert_non_null(strchr("89ab", u[19]));            /* RFC 4122 variant */
    char a[40];
    snprintf(a, sizeof a, "%s", u);
    assert_string_not_equal(render(f, "${uuid()}"), a);
    const char *ms = render(f, "${now.ms}");
    long long v = strtoll(ms, NULL, 10);
    assert_true(v > 1700000000000LL);                  /* after 2023 */
    const char *iso = render(f, "${now.iso}");
    assert_int_equal(strlen(iso), 24);                 /* 2026-11-28T07:30:00.123Z */
    assert_int_equal(iso[10], 'T');
    assert_int_equal(iso[23], 'Z');
}

static void test_call_errors(void **state)
{
    fx *f = *state;
    expect_compile_error(f, "${random.int(5, 1)}",
                         "expected random.int(MIN, MAX) with integers MIN <= MAX, got \"${random.int(5, 1)}\"");
    expect_compile_error(f, "${random.int(1.5, 3)}",
                         "expected random.int(MIN, MAX) with integers MIN <= MAX, got \"${random.int(1.5, 3)}\"");
    expect_compile_error(f, "${random.float(1)}",
                         "expected random.float(MIN, MAX) or random.float(MIN, MAX, DECIMALS) with numbers "
                         "MIN <= MAX and DECIMALS 0..15, got \"${random.float(1)}\"");
    expect_compile_error(f, "${random.pick()}",
                         "expected random.pick(A, B, ...) with at least one item, got \"${random.pick()}\"");
    expect_compile_error(f, "${random.pick(a,,b)}", "empty argument in \"(a,,b)\"");
    expect_compile_error(f, "${random.pick('a)}", "unterminated ' in \"('a)\"");
    expect_compile_error(f, "${random.string(0)}",
                         "expected random.string(LENGTH) with LENGTH 1..4096, got \"${random.string(0)}\"");
    expect_compile_error(f, "${uuid(1)}", "uuid() takes no arguments, got \"${uuid(1)}\"");
    expect_compile_error(f, "${random.bool()}",
                         "unknown template function \"random.bool\"; expected random.int, random.float, "
                         "random.pick, random.string, uuid, base64, base64decode, hex, urlencode, md5, "
                         "sha1, sha256, sha384, sha512 or hmac");
    expect_compile_error(f, "${random.int(1, 2}", "expected a call like random.int(1, 10) in \"${random.int(1, 2}\"");
    expect_compile_error(f, "${scenario.name}", "${scenario.name} is only known inside a scenario's flow");
}

/* OpenSSL's allocations, counted (set before its first one, in main). */
static size_t ossl_mallocs;
static void *count_malloc(size_t n, const char *file, int line)
{
    (void)file, (void)line;
    ossl_mallocs++;
    return malloc(n);
}
static void *count_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file, (void)line;
    ossl_mallocs++;
    return realloc(p, n);
}
static void count_free(void *p, const char *file, int line)
{
    (void)file, (void)line;
    free(p);
}

static void test_functions_known_values(void **state)
{
    fx *f = *state;
    /* RFC 4648 and FIPS 180 / RFC 2104 test vectors. */
    assert_string_equal(render(f, "Basic ${base64('user:passwd')}"), "Basic dXNlcjpwYXNzd2Q=");
    assert_string_equal(render(f, "${base64('a')}|${base64('ab')}|${base64('')}"), "YQ==|YWI=|");
    assert_string_equal(render(f, "${base64('a', 'rawstd')}|${base64('>>?', 'url')}|${base64('>>?')}"),
                        "YQ|Pj4_|Pj4/");
    assert_string_equal(render(f, "${base64('ab?', 'rawurl')}"), "YWI_");
    assert_string_equal(render(f, "${base64decode('dXNlcjpwYXNzd2Q=')}"), "user:passwd");
    assert_string_equal(render(f, "${base64decode('YQ')}|${base64decode('Pj4_', 'rawurl')}"), "a|>>?");
    assert_string_equal(render(f, "${hex('abc')}|${hex(\"\")}"), "616263|");
    assert_string_equal(render(f, "${urlencode('a b&c/\xc3\xa9!*\\'()~')}"),
                        "a%20b%26c%2F%C3%A9!*'()~");
    assert_string_equal(render(f, "${sha256('abc')}"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(render(f, "${sha1('abc')}"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_string_equal(render(f, "${md5('abc')}"), "900150983cd24fb0d6963f7d28e17f72");
    assert_true(strncmp(render(f, "${sha384('abc')}"), "cb00753f45a35e8b", 16) == 0);
    assert_true(strncmp(render(f, "${sha512('abc')}"), "ddaf35a193617aba", 16) == 0);
    assert_string_equal(render(f, "${sha256('abc', 'base64')}"),
                        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert_string_equal(render(f, "${sha256('abc', 'base64url')}"),
                        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
    assert_string_equal(render(f, "${sha256('abc', 'base64rawurl')}"),
                        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    const char *fox = "'The quick brown fox jumps over the lazy dog'";
    char src[256];
    snprintf(src, sizeof src, "${hmac('sha256', 'key', %s)}", fox);
    assert_string_equal(render(f, src), "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    snprintf(src, sizeof src, "${hmac(\"md5\", 'key', %s, 'hex')}", fox);
    assert_string_equal(render(f, src), "80070713463e7749b90c2dc24911e275");
    /* nested: the binary digest base64-encoded, as k6's 'base64' does */
    snprintf(src, sizeof src, "${base64(hmac('sha256', 'key', %s, 'binary'))}", fox);
    assert_string_equal(render(f, src), "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    /* values: env (folded), '+' joins, numbers, defaults */
    char err[512];
    volley_template *t = compile(f, "Basic ${base64(env.USER + ':' + env.NOPE:-'pw d' + 1)}", err, sizeof err);
    assert_non_null(t);
    assert_string_equal(tmpl_const(t), "Basic cWE6cHcgZDE=");   /* qa:pw d1, at load time */
}

static void test_functions_at_run_time(void **state)
{
    fx *f = *state;
    char err[512];
    volley_template *t = compile(f, "${sha256(vu.id)}|${base64(env.HOST + ':' + vu.id)}", err, sizeof err);
    assert_non_null(t);
    assert_null(tmpl_const(t));
    assert_string_equal(tmpl_display(t), "${sha256(vu.id)}|${base64(env.HOST + ':' + vu.id)}");
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    assert_string_equal(f->out.data, "7902699be42c8a8e46fbbb4501726517e86b22c56a189f7625a6da49081b2451|"
                                     "aC50ZXN0Ojc=");
    /* random values as arguments */
    f->vu->rng = 9;
    assert_int_equal(strlen(render(f, "${hex(random.string(5))}")), 10);
    assert_int_equal(strlen(render(f, "${md5(uuid() + random.int(1, 9))}")), 32);
    /* text after the call: an in-place result must not eat what follows */
    assert_string_equal(render(f, "a${hex(vu.id)}b${urlencode('x y' + vu.iteration)}c"), "a37bx%20y3c");
    /* a value that is not base64 fails the render (the request) */
    t = compile(f, "x${base64decode('@' + vu.id)}", err, sizeof err);
    assert_non_null(t);
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), -1);
    /* in a JSON body: always a string, escaped */
    const ynode *root = parse(f, "h: ${hex(vu.id)}\n"
                                 "k: ${hex('12')}\n"
                                 "d: ${base64decode(base64('say \"' + vu.id))}\n"
                                 "in: \"Basic ${base64(vu.id + ':x')}\"\n");
    volley_json *j = tjson_compile(&f->a, root, &scope, &f->d, "body");
    assert_non_null(j);
    f->out.len = 0;
    assert_int_equal(tjson_render(j, f->vu, &f->out), 0);
    assert_string_equal(f->out.data, "{\"h\":\"37\",\"k\":\"3132\",\"d\":\"say \\\"7\",\"in\":\"Basic Nzp4\"}");
}

static void test_functions_keep_secrets(void **state)
{
    fx *f = *state;
    char err[512], shown[256];
    secret_reset();
    /* folded: the result of a secret key is registered */
    volley_template *t = compile(f, "sig=${hmac('sha256', env.API_KEY, 'data')}", err, sizeof err);
    assert_non_null(t);
    secret_redact(tmpl_const(t), strlen(tmpl_const(t)), NULL, 0, shown, sizeof shown);
    assert_string_equal(shown, "sig=***");
    t = compile(f, "${base64(env.USER + ':' + env.API_KEY)}", err, sizeof err);
    secret_redact(tmpl_const(t), strlen(tmpl_const(t)), NULL, 0, shown, sizeof shown);
    assert_string_equal(shown, "***");
    /* at run time: kept in the VU's derived slots; not from other values */
    t = compile(f, "${hmac('sha256', env.API_KEY, vu.id)}", err, sizeof err);
    assert_string_equal(tmpl_display(t), "${hmac('sha256', env.API_KEY, vu.id)}");
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    assert_string_equal(f->out.data, "db04edbf7797abb146ab801a31bfea9efbd704f169b138b81d31cd9756b04308");
    assert_int_equal(f->vu->derived[0].kind, CAP_STRING);
    assert_true(f->vu->derived[0].secret);
    assert_string_equal(f->vu->derived[0].val.data, f->out.data);
    unsigned before = f->vu->derived_next;
    render(f, "${sha256(vu.id)}");
    assert_int_equal(f->vu->derived_next, before);
    secret_reset();
}

static void test_functions_allocate_nothing_per_render(void **state)
{
    fx *f = *state;
    char err[512];
    volley_template *t = compile(f, "${hmac('sha256', 'k', vu.id)}${sha256(vu.iteration)}"
                                    "${md5(vu.id, 'base64')}${hmac('sha512', vu.id, 'x')}", err, sizeof err);
    assert_non_null(t);
    f->out.len = 0;
    assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);   /* contexts made, buffer grown */
    size_t before = ossl_mallocs;
    for (int i = 0; i < 100; i++) {
        f->vu->iteration = (uint64_t)i;
        f->out.len = 0;
        assert_int_equal(tmpl_render(t, f->vu, &f->out), 0);
    }
    /* Our part allocates nothing; OpenSSL 3.0 makes its provider state
     * on each init: at most 1 per digest and 2 per HMAC with its previous
     * key (template_fn.c), so 6 per render here, 0 with a newer OpenSSL. */
    print_message("OpenSSL allocations per render of 2 digests + 2 HMACs: %zu\n",
                  (ossl_mallocs - before) / 100);
    assert_in_range(ossl_mallocs - before, 0, 600);
    /* the key cache must not mix keys up: same key, new key, back */
    assert_string_equal(render(f, "${hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog')}"),
                        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    assert_string_equal(render(f, "${hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog')}"),
                        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    assert_string_equal(render(f, "${hmac('sha256', '', '')}"),
                        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    assert_string_equal(render(f, "${hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog')}"),
                        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    f->vu->iteration = 3;
}

static void test_function_errors(void **state)
{
    fx *f = *state;
    expect_compile_error(f, "${base64()}",
                         "too few arguments: expected base64(VALUE) or base64(VALUE, ENCODING) with "
                         "ENCODING std, rawstd, url or rawurl, got \"${base64()}\"");
    expect_compile_error(f, "${base64('a', 'hex')}",
                         "unknown encoding: expected base64(VALUE) or base64(VALUE, ENCODING) with "
                         "ENCODING std, rawstd, url or rawurl, got \"${base64('a', 'hex')}\"");
    expect_compile_error(f, "${base64('a', vu.id)}",
                         "unknown encoding: expected base64(VALUE) or base64(VALUE, ENCODING) with "
                         "ENCODING std, rawstd, url or rawurl, got \"${base64('a', vu.id)}\"");
    expect_compile_error(f, "${hex('a', 'b')}",
                         "too many arguments: expected hex(VALUE), got \"${hex('a', 'b')}\"");
    expect_compile_error(f, "${sha256(vu.id, 'base32')}",
                         "unknown encoding: expected sha256(VALUE) or sha256(VALUE, ENCODING) with "
                         "ENCODING hex, base64, base64url, base64rawurl or binary, got "
                         "\"${sha256(vu.id, 'base32')}\"");
    expect_compile_error(f, "${hmac('sha3', 'k', 'd')}",
                         "unknown algorithm: expected hmac(ALGORITHM, KEY, DATA) or hmac(ALGORITHM, KEY, "
                         "DATA, ENCODING) with ALGORITHM md5, sha1, sha256, sha384 or sha512 and ENCODING "
                         "hex, base64, base64url, base64rawurl or binary, got \"${hmac('sha3', 'k', 'd')}\"");
    expect_compile_error(f, "${base64decode('%%%')}",
                         "not base64 of that alphabet: expected base64decode(VALUE) or base64decode(VALUE, "
                         "ENCODING) with ENCODING std, rawstd, url or rawurl, got \"${base64decode('%%%')}\"");
    expect_compile_error(f, "${base64('a' +)}", "expected a value after \"+\" or \",\" in \"${base64('a' +)}\"");
    expect_compile_error(f, "${base64('a' 'b')}",
                         "expected \",\" or \")\" after a value in \"${base64('a' 'b')}\"");
    expect_compile_error(f, "${base64('a)}", "unterminated quote in \"${base64('a)}\"");
    expect_compile_error(f, "${base64(nope.x)}",
                         "unknown template name \"nope.x\"; expected " 
                         "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, "
                         "vu.iteration, scenario.name, random.int(a,b), random.float(a,b), "
                         "random.pick(x,y,...), random.string(n), uuid(), now.ms, now.iso or a "
                         "function: base64(x), base64decode(x), hex(x), urlencode(x), sha256(x), "
                         "hmac('sha256', key, data) ...");
    expect_compile_error(f, "${base64(env.MISSING)}",
                         "environment variable MISSING is not set (pass -e MISSING=VALUE, export it, "
                         "or write ${env.MISSING:-default})");
    expect_compile_error(f, "${hex(hex(hex(hex(hex(hex(hex(hex(hex('a')))))))))}",
                         "template functions nested more than 8 deep in "
                         "\"${hex(hex(hex(hex(hex(hex(hex(hex(hex('a')))))))))}\"");
}

static void test_scenario_rows_captures(void **state)
{
    fx *f = *state;
    char err[512];
    volley_template *t = tmpl_compile(&f->a, "sc=${scenario.name}", 19, &full_scope, err, sizeof err);
    assert_non_null(t);
    assert_string_equal(tmpl_const(t), "sc=e2e \"quoted\"");   /* folded at load time */

    pool_value row[4] = {
        {.text = "ICICI", .len = 5, .kind = POOL_STRING, .json = "\"ICICI\"", .json_len = 7},
        {.text = "5000", .len = 4, .kind = POOL_NUMBER, .json = "5000", .json_len = 4},
        {.text = "a \"b\"", .len = 5, .kind = POOL_STRING, .json = "\"a \\\"b\\\"\"", .json_len = 9},
        {.text = "true", .len = 4, .kind = POOL_BOOL, .json = "true", .json_len = 4},
    };
    f->vu->rows[0] = row;
    assert_string_equal(render_full(f, "${row.sender}/${row.amount}/${row.note}"), "ICICI/5000/a \"b\"");
    assert_null(tmpl_compile(&f->a, "${row.nope}", 11, &full_scope, err, sizeof err));
    assert_string_equal(err, "no field \"nope\"");

    vu_capture caps[2] = {0};
    f->vu->caps = caps;
    assert_string_equal(render_full(f, "tx=${tx_id};"), "tx=;");   /* not captured yet */
    caps[0].kind = CAP_STRING;
    caps[0].val = (volley_buf){.data = "t-1", .len = 3};
    assert_string_equal(render_full(f, "tx=${tx_id};"), "tx=t-1;");
    assert_null(tmpl_compile(&f->a, "${later}", 8, &full_scope, err, sizeof err));
    assert_string_equal(err, "\"${later}\" is captured only by a later step; a captured name is "
                             "visible to the steps after the one that captures it");
    f->vu->rows[0] = NULL;
    f->vu->caps = NULL;
}

static void test_json_runtime_values_keep_types(void **state)
{
    fx *f = *state;
    pool_value row[4] = {
        {.text = "ICICI", .len = 5, .kind = POOL_STRING, .json = "\"ICICI\"", .json_len = 7},
        {.text = "5000", .len = 4, .kind = POOL_NUMBER, .json = "5000", .json_len = 4},
        {.text = "a \"b\"", .len = 5, .kind = POOL_STRING, .json = "\"a \\\"b\\\"\"", .json_len = 9},
        {.text = "true", .len = 4, .kind = POOL_BOOL, .json = "true", .json_len = 4},
    };
    vu_capture caps[2] = {{.kind = CAP_STRING, .val = {.data = "t\"1", .len = 3}},
                          {.kind = CAP_JSON, .val = {.data = "12.5", .len = 4}}};
    f->vu->rows[0] = row;
    f->vu->caps = caps;
    f->vu->rng = 3;
    const ynode *root = parse(f,
                              "sender: ${row.sender}\n"
                              "amount: ${row.amount}\n"
                              "note: ${row.note}\n"
                              "flag: ${row.flag}\n"
                              "label: \"to ${row.note}\"\n"
                              "tx: ${tx_id}\n"
                              "amt: ${amount}\n"
                              "amt_text: \"${amount}\"\n"
                              "n: ${random.int(10, 20)}\n"
                              "x: ${random.float(1, 2)}\n"
                              "cur: ${random.pick(INR, 5, true)}\n"
                              "id: ${uuid()}\n"
                              "s: ${random.string(4)}\n"
                              "t: ${now.ms}\n"
                              "iso: ${now.iso}\n");
    assert_non_null(root);
    volley_json *j = tjson_compile(&f->a, root, &full_scope, &f->d, "json");
    if (!j)
        diag_print(&f->d, stderr);
    assert_non_null(j);
    for (int round = 0; round < 30; round++) {
        f->out.len = 0;
        assert_int_equal(tjson_render(j, f->vu, &f->out), 0);
        json_error_t e;
        json_t *doc = json_loads(f->out.data, 0, &e);
        if (!doc)
            fail_msg("invalid JSON %s: %s", f->out.data, e.text);
        assert_json_str(get(doc, "sender"), "ICICI");
        assert_json_int(get(doc, "amount"), 5000);
        assert_json_str(get(doc, "note"), "a \"b\"");
        assert_true(json_is_true(get(doc, "flag")));
        assert_json_str(get(doc, "label"), "to a \"b\"");
        assert_json_str(get(doc, "tx"), "t\"1");
        assert_true(json_is_real(get(doc, "amt")));
        assert_json_str(get(doc, "amt_text"), "12.5");
        assert_true(json_is_integer(get(doc, "n")));
        assert_true(json_is_real(get(doc, "x")));
        json_t *cur = get(doc, "cur");
        assert_true(json_is_string(cur) || json_is_integer(cur) || json_is_true(cur));
        assert_true(json_is_string(get(doc, "id")));
        assert_true(json_is_string(get(doc, "s")));
        assert_true(json_is_integer(get(doc, "t")));
        assert_true(json_is_string(get(doc, "iso")));
        json_decref(doc);
    }
    /* An unset capture in a JSON value is null, not broken JSON. */
    caps[0].kind = CAP_UNSET;
    f->out.len = 0;
    assert_int_equal(tjson_render(j, f->vu, &f->out), 0);
    assert_non_null(strstr(f->out.data, "\"tx\":null"));
    f->vu->rows[0] = NULL;
    f->vu->caps = NULL;
}


static void test_map_urlencode(void **state)
{
    fx *f = *state;
    char err[512];
    const char *keys[] = {"q", "a b", "id"};
    const volley_template *vals[3] = {
        tmpl_compile(&f->a, "x y&z=é/", strlen("x y&z=é/"), &scope, err, sizeof err),
        tmpl_compile(&f->a, "", 0, &scope, err, sizeof err),
        tmpl_compile(&f->a, "v ${vu.id}%", strlen("v ${vu.id}%"), &scope, err, sizeof err),
    };
    volley_template_map m = {.n = 3, .keys = keys, .values = vals};
    f->out.len = 0;
    assert_int_equal(vbuf_append_str(&f->out, "/p?"), 0);
    assert_int_equal(tmpl_map_urlencode(&m, f->vu, &f->out), 0);
    assert_string_equal(f->out.data, "/p?q=x+y%26z%3D%C3%A9%2F&a+b=&id=v+7%25");
    /* A run-time value needs a VU. */
    f->out.len = 0;
    assert_int_equal(tmpl_map_urlencode(&m, NULL, &f->out), -1);
    volley_template_map consts = {.n = 2, .keys = keys, .values = vals};
    f->out.len = 0;
    assert_int_equal(tmpl_map_urlencode(&consts, NULL, &f->out), 0);
    assert_string_equal(f->out.data, "q=x+y%26z%3D%C3%A9%2F&a+b=");
}

int main(void)
{
    /* Before OpenSSL's first allocation (else it refuses). */
    if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal_is_constant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unterminated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spaces_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vu_rendering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_display_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_scalars_keep_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_yaml_number_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_quoted_stay_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_vu_single_is_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_env_typing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_top_level_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_errors_have_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_int_range_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_float_pick_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uuid_and_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_rows_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_runtime_values_keep_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_urlencode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions_known_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions_at_run_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions_keep_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions_allocate_nothing_per_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
