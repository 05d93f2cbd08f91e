/*
 * checks-json through the test host: configs come from YAML snippets filled
 * by the core's option checker, responses are built here (no network).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhost.h"

static testhost th;
static const volley_plugin *plugin;
static const volley_check_key *key;

/* Per test: the test host keeps every filled YAML tree until th_fini, and
 * holds at most TH_MAX_TREES of them. */
static int setup(void **state)
{
    (void)state;
    if (th_init(&th) != 0)
        return -1;
    plugin = th_load(&th, "checks-json");
    if (!plugin || !plugin->check)
        return -1;
    key = NULL;
    for (size_t i = 0; i < plugin->check->n_keys; i++)
        if (strcmp(plugin->check->keys[i].key, "json") == 0)
            key = &plugin->check->keys[i];
    return key ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_fini(&th);
    return 0;
}

/* Fills a config from `yaml` (must succeed) and compiles it; the config is
 * scribbled over and freed at once, so a condition cannot depend on it. */
static void *try_compile(const char *yaml, char *err, size_t errcap)
{
    void *cfg = calloc(1, key->options->config_size);
    assert_non_null(cfg);
    if (th_fill(&th, key->options, yaml, cfg) != 0)
        fail_msg("th_fill rejected %s", yaml);
    err[0] = '\0';
    void *cond = key->compile(&th.host, cfg, err, errcap);
    memset(cfg, 0xa5, key->options->config_size);
    free(cfg);
    return cond;
}

static void *compile(const char *yaml)
{
    char err[256];
    void *cond = try_compile(yaml, err, sizeof err);
    if (!cond)
        fail_msg("compile %s: %s", yaml, err);
    return cond;
}

static void compile_fails(const char *yaml, const char *want)
{
    char err[256];
    void *cond = try_compile(yaml, err, sizeof err);
    if (cond)
        fail_msg("compile accepted %s", yaml);
    if (!strstr(err, want))
        fail_msg("compile error \"%s\" lacks \"%s\"", err, want);
}

static void fill_fails(const char *yaml, const char *want)
{
    void *cfg = calloc(1, key->options->config_size);
    assert_non_null(cfg);
    assert_int_equal(th_fill(&th, key->options, yaml, cfg), -1);
    free(cfg);
    bool found = false;
    for (size_t i = 0; i < th.d.count; i++)
        found |= strstr(th.d.lines[i], want) != NULL;
    if (!found)
        fail_msg("no diagnostic contains \"%s\" for %s", want, yaml);
}

static volley_response resp(const char *body)
{
    return (volley_response){.status = 200, .headers = "", .body = body,
                             .body_len = body ? strlen(body) : 0, .duration_ms = 1};
}

/* Compiles `yaml`, evaluates it on `body` with a fresh memo and checks the
 * outcome and, when `want` is set, the exact failure message. */
static void check_body(const char *body, size_t len, const char *yaml, bool ok, const char *want)
{
    void *c = compile(yaml);
    volley_response r = resp(body);
    r.body_len = len;
    volley_memo m = {0};
    char msg[256] = "";
    bool got = key->eval(c, &r, &m, msg, sizeof msg);
    memo_clear(&m);
    key->free(c);
    if (got != ok)
        fail_msg("%s on %.*s: expected %s, got %s (msg: %s)", yaml, (int)len, body ? body : "",
                 ok ? "true" : "false", got ? "true" : "false", msg);
    if (ok && msg[0])
        fail_msg("%s: message \"%s\" on success", yaml, msg);
    if (!ok && !msg[0])
        fail_msg("%s: no message on failure", yaml);
    if (!ok && want && strcmp(msg, want) != 0)
        fail_msg("%s: message \"%s\", expected \"%s\"", yaml, msg, want);
}

static void check(const char *body, const char *yaml, bool ok, const char *want)
{
    check_body(body, body ? strlen(body) : 0, yaml, ok, want);
}

static const char *DOC =
    "{\"transaction_id\": \"tx-1\","
    " \"data\": {\"id\": 7, \"items\": [{\"amount\": 250, \"sku\": \"A\"},"
    "                        {\"amount\": 99.5, \"sku\": \"B\"},"
    "                        {\"amount\": 12000, \"sku\": \"C\"}],"
    "          \"tags\": [\"new\", \"paid\", 3],"
    "          \"x.y\": \"dotted\", \"q\\\"k\": \"quoted\", \"a b\": 1,"
    "          \"nothing\": null, \"ok\": true, \"off\": false,"
    "          \"ratio\": 0.5, \"five\": 5.0, \"name\": \"h\\u00e9llo w\\u00f6rld\","
    "          \"empty\": {}, \"none\": []},"
    " \"$id\": \"dollar\"}";

/* ------------------------------------------------------------------------ */

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(plugin->kind, VOLLEY_KIND_CHECK);
    assert_string_equal(plugin->name, "checks-json");
    assert_int_equal(plugin->check->size, sizeof(volley_check_ops));
    assert_int_equal(plugin->check->n_keys, 1);
    assert_null(key->options->shorthand);
    assert_true(key->options->config_size >= sizeof(uint64_t));
}

static void test_exists(void **state)
{
    (void)state;
    /* Only a path: exists: true. */
    check(DOC, "{path: transaction_id}", true, NULL);
    check(DOC, "{path: data.id}", true, NULL);
    check(DOC, "{path: data.missing}", false, "data.missing: missing");
    check(DOC, "{path: transaction_id, exists: true}", true, NULL);
    check(DOC, "{path: data.nope, exists: true}", false, "data.nope: missing");
    check(DOC, "{path: data.nope, exists: false}", true, NULL);
    check(DOC, "{path: data.id, exists: false}", false, "data.id: 7 (expected no value)");
    /* null is a value that is there. */
    check(DOC, "{path: data.nothing}", true, NULL);
    check(DOC, "{path: data.nothing, exists: false}", false, "data.nothing: null (expected no value)");
    /* A path through a missing or wrong-typed parent. */
    check(DOC, "{path: data.nope.deeper}", false, "data.nope.deeper: missing");
    check(DOC, "{path: data.nope.deeper, exists: false}", true, NULL);
    check(DOC, "{path: data.id.sub}", false, "data.id.sub: missing (data.id is 7, not an object)");
    check(DOC, "{path: 'transaction_id[0]'}", false,
          "transaction_id[0]: missing (transaction_id is \"tx-1\", not an array)");
    check(DOC, "{path: 'data[0]'}", false, "data[0]: missing (data is object with 14 keys, not an array)");
}

static void test_path_forms(void **state)
{
    (void)state;
    check(DOC, "{path: 'data.items[0].amount', equals: 250}", true, NULL);
    check(DOC, "{path: 'data.items[2].sku', equals: C}", true, NULL);
    check(DOC, "{path: 'data.items[-1].sku', equals: C}", true, NULL);
    check(DOC, "{path: 'data.items[-3].sku', equals: A}", true, NULL);
    check(DOC, "{path: 'data.items[-4]'}", false, "data.items[-4]: missing (data.items is array of 3 items)");
    check(DOC, "{path: 'data.items[3]'}", false, "data.items[3]: missing (data.items is array of 3 items)");
    check(DOC, "{path: 'data.none[0]'}", false, "data.none[0]: missing (data.none is array of 0 items)");
    check(DOC, "{path: 'data[\"x.y\"]', equals: dotted}", true, NULL);
    check(DOC, "{path: \"data['x.y']\", equals: dotted}", true, NULL);
    check(DOC, "{path: 'data[\"q\\\"k\"]', equals: quoted}", true, NULL);
    check(DOC, "{path: 'data.a b', equals: 1}", true, NULL);
    check(DOC, "{path: 'data[\"a b\"]', equals: 1}", true, NULL);
    check(DOC, "{path: 'data.x.y'}", false, "data.x.y: missing");
    check(DOC, "{path: '$.data.id', equals: 7}", true, NULL);
    check(DOC, "{path: '$.data.nope'}", false, "$.data.nope: missing");
    check(DOC, "{path: '$.data.id.z'}", false, "$.data.id.z: missing ($.data.id is 7, not an object)");
    check(DOC, "{path: '$id', equals: dollar}", true, NULL);   /* not the root marker */
    check(DOC, "{path: '$[\"$id\"]', equals: dollar}", true, NULL);
    check(DOC, "{path: '$', length: 3}", true, NULL);
    check(DOC, "{path: '', length: 3}", true, NULL);

    /* Arrays at the root. */
    const char *arr = "[{\"id\": 1}, {\"id\": 2}, [10, 20]]";
    check(arr, "{path: '[0].id', equals: 1}", true, NULL);
    check(arr, "{path: '[-2].id', equals: 2}", true, NULL);
    check(arr, "{path: '[2][1]', equals: 20}", true, NULL);
    check(arr, "{path: '$[2][-1]', equals: 20}", true, NULL);
    check(arr, "{path: '$[1].id', equals: 2}", true, NULL);
    check(arr, "{path: id}", false, "id: missing ($ is array of 3 items, not an object)");
    check(arr, "{path: '[5]'}", false, "[5]: missing ($ is array of 3 items)");
    check(arr, "{path: '$', length: 3}", true, NULL);

    /* A scalar document. */
    check("42", "{path: '$', equals: 42}", true, NULL);
    check("\"hi\"", "{path: '', equals: hi}", true, NULL);
    check("null", "{path: '$', equals: null}", true, NULL);
    check("42", "{path: a}", false, "a: missing ($ is 42, not an object)");
}

static void test_equals(void **state)
{
    (void)state;
    check(DOC, "{path: transaction_id, equals: tx-1}", true, NULL);
    check(DOC, "{path: transaction_id, equals: tx-2}", false, "transaction_id: \"tx-1\" (expected \"tx-2\")");
    check(DOC, "{path: data.id, equals: 7}", true, NULL);
    check(DOC, "{path: data.id, equals: 7.0}", true, NULL);       /* int vs real */
    check(DOC, "{path: data.five, equals: 5}", true, NULL);       /* real vs int */
    check(DOC, "{path: data.ratio, equals: 0.5}", true, NULL);
    check(DOC, "{path: data.id, equals: 8}", false, "data.id: 7 (expected 8)");
    /* Strings never equal numbers, in either direction. */
    check(DOC, "{path: data.id, equals: '7'}", false, "data.id: 7 (expected \"7\")");
    check("{\"n\": \"5\"}", "{path: n, equals: 5}", false, "n: \"5\" (expected 5)");
    check("{\"n\": \"5\"}", "{path: n, equals: '5'}", true, NULL);
    check(DOC, "{path: data.ok, equals: true}", true, NULL);
    check(DOC, "{path: data.off, equals: false}", true, NULL);
    check(DOC, "{path: data.ok, equals: false}", false, "data.ok: true (expected false)");
    check(DOC, "{path: data.ok, equals: 'true'}", false, "data.ok: true (expected \"true\")");
    check(DOC, "{path: data.ok, equals: 1}", false, "data.ok: true (expected 1)");
    check(DOC, "{path: data.nothing, equals: null}", true, NULL);
    check(DOC, "{path: data.nothing, equals: ~}", true, NULL);
    check(DOC, "{path: data.nothing, equals: 'null'}", false, "data.nothing: null (expected \"null\")");
    check(DOC, "{path: data.id, equals: null}", false, "data.id: 7 (expected null)");
    check(DOC, "{path: data.items, equals: 3}", false, "data.items: array of 3 items (expected 3)");
    check(DOC, "{path: data.empty, equals: x}", false, "data.empty: object with 0 keys (expected \"x\")");
    /* Non-ASCII strings compare byte for byte. */
    check(DOC, "{path: data.name, equals: 'héllo wörld'}", true, NULL);
    /* Missing value: every condition but exists: false fails. */
    check(DOC, "{path: data.nope, equals: 1}", false, "data.nope: missing");
    check(DOC, "{path: data.nope, not_equals: 1}", false, "data.nope: missing");

    check(DOC, "{path: transaction_id, not_equals: tx-2}", true, NULL);
    check(DOC, "{path: transaction_id, not_equals: tx-1}", false,
          "transaction_id: \"tx-1\" (expected anything but \"tx-1\")");
    check(DOC, "{path: data.id, not_equals: '7'}", true, NULL);
    check(DOC, "{path: data.five, not_equals: 5}", false, "data.five: 5 (expected anything but 5)");
    check(DOC, "{path: data.nothing, not_equals: null}", false,
          "data.nothing: null (expected anything but null)");
    check(DOC, "{path: data.id, equals: 7, not_equals: 8}", true, NULL);

    /* Large integers compare exactly. */
    const char *big = "{\"n\": 9007199254740993}";
    check(big, "{path: n, equals: 9007199254740993}", true, NULL);
    check(big, "{path: n, equals: 9007199254740992}", false, NULL);
}

static void test_compare(void **state)
{
    (void)state;
    check(DOC, "{path: 'data.items[0].amount', gt: 100, lt: 10000}", true, NULL);
    check(DOC, "{path: 'data.items[1].amount', gt: 100, lt: 10000}", false,
          "data.items[1].amount: 99.5 (expected > 100)");
    check(DOC, "{path: 'data.items[2].amount', gt: 100, lt: 10000}", false,
          "data.items[2].amount: 12000 (expected < 10000)");
    check(DOC, "{path: data.id, gte: 7, lte: 7}", true, NULL);
    check(DOC, "{path: data.id, gt: 7}", false, "data.id: 7 (expected > 7)");
    check(DOC, "{path: data.id, lt: 7}", false, "data.id: 7 (expected < 7)");
    check(DOC, "{path: data.id, gte: 7.5}", false, "data.id: 7 (expected >= 7.5)");
    check(DOC, "{path: data.id, lte: 6.9}", false, "data.id: 7 (expected <= 6.9)");
    check(DOC, "{path: data.ratio, gt: 0.25, lt: 1}", true, NULL);
    check(DOC, "{path: data.ratio, gte: -1, lte: 0.5}", true, NULL);
    check("{\"t\": -3}", "{path: t, lt: -2.5}", true, NULL);
    /* Only numbers compare. */
    check(DOC, "{path: transaction_id, gt: 1}", false, "transaction_id: \"tx-1\" (expected a number > 1)");
    check("{\"n\": \"5\"}", "{path: n, lt: 10}", false, "n: \"5\" (expected a number < 10)");
    check(DOC, "{path: data.ok, gte: 0}", false, "data.ok: true (expected a number >= 0)");
    check(DOC, "{path: data.nothing, lte: 0}", false, "data.nothing: null (expected a number <= 0)");
    check(DOC, "{path: data.nope, gt: 0}", false, "data.nope: missing");
}

static void test_length(void **state)
{
    (void)state;
    check(DOC, "{path: data.items, length: 3}", true, NULL);
    check(DOC, "{path: data.items, length: 2}", false, "data.items: length 3 (expected 2)");
    check(DOC, "{path: data.none, length: 0}", true, NULL);
    check(DOC, "{path: data.empty, length: 0}", true, NULL);
    check(DOC, "{path: data, length: 14}", true, NULL);
    check(DOC, "{path: transaction_id, length: 4}", true, NULL);
    /* Characters, not bytes. */
    check(DOC, "{path: data.name, length: 11}", true, NULL);
    check(DOC, "{path: data.name, length: 13}", false, "data.name: length 11 (expected 13)");
    check(DOC, "{path: data.id, length: 1}", false,
          "data.id: 7 (expected an array, object or string of length 1)");
    check(DOC, "{path: data.nothing, length: 0}", false, NULL);
}

static void test_contains(void **state)
{
    (void)state;
    check(DOC, "{path: data.name, contains: 'wö'}", true, NULL);
    check(DOC, "{path: data.name, contains: ''}", true, NULL);
    check(DOC, "{path: transaction_id, contains: rx}", false,
          "transaction_id: \"tx-1\" (expected a string containing \"rx\")");
    check(DOC, "{path: data.tags, contains: paid}", true, NULL);
    check(DOC, "{path: data.tags, contains: pai}", false,
          "data.tags: array of 3 items (expected an array containing \"pai\")");
    check(DOC, "{path: data.tags, contains: '3'}", false, NULL);   /* 3 is a number */
    check(DOC, "{path: data.none, contains: x}", false, NULL);
    check(DOC, "{path: data.id, contains: '7'}", false,
          "data.id: 7 (expected a string containing \"7\")");
    check(DOC, "{path: data.empty, contains: x}", false, NULL);
}

static void test_all_conditions(void **state)
{
    (void)state;
    check(DOC, "{path: 'data.items[0].amount', exists: true, equals: 250, not_equals: 0,"
               " gt: 1, gte: 250, lt: 251, lte: 250}", true, NULL);
    check(DOC, "{path: data.tags, exists: true, length: 3, contains: new, not_equals: x}", true, NULL);
}

static void test_not_json(void **state)
{
    (void)state;
    char msg[256];
    check("not json", "{path: a}", false, NULL);
    check("not json", "{path: a, exists: false}", false, NULL);
    check("{\"a\": 1", "{path: a}", false, NULL);
    check("{\"a\": 1} trailing", "{path: a}", false, NULL);
    check("", "{path: a}", false, "body is not JSON: empty body");
    check(NULL, "{path: '$'}", false, "body is not JSON: empty body");
    /* The message carries jansson's reason. */
    void *c = compile("{path: a}");
    volley_response r = resp("not json");
    volley_memo m = {0};
    assert_false(key->eval(c, &r, &m, msg, sizeof msg));
    memo_clear(&m);
    assert_int_equal(strncmp(msg, "body is not JSON: ", 18), 0);
    assert_true(strlen(msg) > 18);
    assert_non_null(strstr(msg, "not"));
    key->free(c);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    /* A NUL outside a string is not JSON; bytes after body_len are ignored. */
    const char raw[] = "{\"a\": 1}\0{\"b\": 2}";
    check_body(raw, sizeof raw - 1, "{path: a}", false, NULL);
    check_body(raw, 8, "{path: a, equals: 1}", true, NULL);
    check_body(raw, 8, "{path: b}", false, "b: missing");
    /* An escaped NUL inside a string is kept; contains and length see it. */
    const char *esc = "{\"s\": \"ab\\u0000cd\"}";
    check(esc, "{path: s, contains: cd}", true, NULL);
    check(esc, "{path: s, length: 5}", true, NULL);
    check(esc, "{path: s, equals: ab}", false, "s: \"ab\\u0000cd\" (expected \"ab\")");
}

/* Finds the value the plugin stored, without knowing its key. */
static void *memo_only(volley_memo *m)
{
    assert_int_equal(m->n, 1);
    void *v = th.host.memo_get(m, m->slot[0].key);
    assert_non_null(v);
    return v;
}

static void test_memo_parse_once(void **state)
{
    (void)state;
    void *a = compile("{path: data.id, equals: 7}");
    void *b = compile("{path: transaction_id}");
    char msg[256];
    char body[512];
    snprintf(body, sizeof body, "%s", DOC);
    volley_response r = resp(body);
    volley_memo m = {0};
    assert_true(key->eval(a, &r, &m, msg, sizeof msg));
    void *parsed = memo_only(&m);
    const void *memo_key = m.slot[0].key;
    /* Clobber the body: a second check must use the stored parse. */
    memset(body, ' ', strlen(body));
    assert_true(key->eval(b, &r, &m, msg, sizeof msg));
    assert_ptr_equal(memo_only(&m), parsed);
    assert_ptr_equal(th.host.memo_get(&m, memo_key), parsed);
    memo_clear(&m);
    assert_int_equal(m.n, 0);

    /* A new memo (the next response) parses again: now it is all spaces. */
    assert_false(key->eval(b, &r, &m, msg, sizeof msg));
    assert_int_equal(strncmp(msg, "body is not JSON: ", 18), 0);
    memo_clear(&m);
    key->free(a);
    key->free(b);
}

static void test_memo_not_json(void **state)
{
    (void)state;
    void *a = compile("{path: a}");
    void *b = compile("{path: b, exists: false}");
    char msg1[256], msg2[256];
    char body[] = "<html>oops</html>";
    volley_response r = resp(body);
    volley_memo m = {0};
    assert_false(key->eval(a, &r, &m, msg1, sizeof msg1));
    const char *stored = memo_only(&m);
    /* Make the body valid JSON: the stored verdict still wins. */
    snprintf(body, sizeof body, "{\"a\": 1}");
    r.body_len = strlen(body);
    assert_false(key->eval(b, &r, &m, msg2, sizeof msg2));
    assert_ptr_equal(memo_only(&m), stored);
    assert_string_equal(msg1, msg2);
    assert_int_equal(strncmp(msg1, "body is not JSON: ", 18), 0);
    memo_clear(&m);
    key->free(a);
    key->free(b);
}

static void dummy_free(void *p) { free(p); }

static void test_memo_full_or_absent(void **state)
{
    (void)state;
    void *c = compile("{path: data.id, equals: 7}");
    void *bad = compile("{path: data.id}");
    char msg[256];
    volley_response r = resp(DOC);
    volley_response junk = resp("junk");
    /* Every slot taken by other plugins: the check parses and frees alone. */
    volley_memo m = {0};
    for (int i = 0; i < MEMO_SLOTS; i++)
        assert_int_equal(th.host.memo_put(&m, &m.slot[i], malloc(8), dummy_free), 0);
    assert_true(key->eval(c, &r, &m, msg, sizeof msg));
    assert_true(key->eval(c, &r, &m, msg, sizeof msg));
    assert_false(key->eval(bad, &junk, &m, msg, sizeof msg));
    assert_int_equal(strncmp(msg, "body is not JSON: ", 18), 0);
    assert_int_equal(m.n, MEMO_SLOTS);
    memo_clear(&m);
    /* No memo at all. */
    assert_true(key->eval(c, &r, NULL, msg, sizeof msg));
    assert_false(key->eval(bad, &junk, NULL, msg, sizeof msg));
    /* No message buffer. */
    assert_false(key->eval(bad, &junk, NULL, NULL, 0));
    key->free(c);
    key->free(bad);
}

static void test_small_msg(void **state)
{
    (void)state;
    void *c = compile("{path: transaction_id, equals: something-long}");
    volley_response r = resp(DOC);
    char msg[10];
    assert_false(key->eval(c, &r, NULL, msg, sizeof msg));
    assert_string_equal(msg, "transacti");
    key->free(c);

    /* Long values are cut in messages. */
    char body[400];
    char yaml[64];
    int n = snprintf(body, sizeof body, "{\"s\": \"");
    memset(body + n, 'x', 300);
    snprintf(body + n + 300, sizeof body - (size_t)n - 300, "\"}");
    snprintf(yaml, sizeof yaml, "{path: s, equals: y}");
    c = compile(yaml);
    r = resp(body);
    char big[512];
    assert_false(key->eval(c, &r, NULL, big, sizeof big));
    assert_non_null(strstr(big, "xxx\"... (expected \"y\")"));
    assert_true(strlen(big) < 120);
    key->free(c);
}

static void test_bad_paths(void **state)
{
    (void)state;
    compile_fails("{path: 'a..b'}", "invalid path \"a..b\": empty key at character 3");
    compile_fails("{path: 'a[x]'}", "invalid path \"a[x]\": expected an array index or a quoted key");
    compile_fails("{path: 'a.'}", "empty key at character 3");
    compile_fails("{path: '.a'}", "empty key at character 1");
    compile_fails("{path: '$.'}", "empty key");
    compile_fails("{path: 'a['}", "expected an array index");
    compile_fails("{path: 'a[1'}", "expected ']' after the array index");
    compile_fails("{path: 'a[1]b'}", "expected '.' or '['");
    compile_fails("{path: 'a]'}", "unexpected ']'");
    compile_fails("{path: 'a[]'}", "expected an array index");
    compile_fails("{path: 'a[-]'}", "expected an array index");
    compile_fails("{path: 'a[+1]'}", "expected an array index");
    compile_fails("{path: 'a[1.5]'}", "expected ']'");
    compile_fails("{path: 'a[-0]'}", "-0 is not an index");
    compile_fails("{path: 'a[99999999999999999999]'}", "array index too large");
    compile_fails("{path: 'a[\"x]'}", "unterminated quoted key");
    compile_fails("{path: 'a[\"x\"'}", "expected ']' after the quoted key");
    compile_fails("{path: \"a['x'.b\"}", "expected ']' after the quoted key");
    compile_fails("{path: a, exists: false, equals: 1}", "cannot be combined");
    compile_fails("{path: a, exists: false, length: 0}", "cannot be combined");

    /* A config without path (cannot come from the core) is refused too. */
    void *cfg = calloc(1, key->options->config_size);
    char err[128];
    assert_null(key->compile(&th.host, cfg, err, sizeof err));
    assert_non_null(strstr(err, "path"));
    free(cfg);
}

static void test_bad_configs(void **state)
{
    (void)state;
    fill_fails("{exists: true}", "missing required key \"path\"");
    fill_fails("{path: a, equal: 1}", "unknown key \"equal\" (did you mean \"equals\"?)");
    fill_fails("{path: a, gt: abc}", "expected a number");
    fill_fails("{path: a, gt: '5'}", "expected a number");
    fill_fails("{path: a, length: -1}", "between 0 and");
    fill_fails("{path: a, length: 1.5}", "expected an integer");
    fill_fails("{path: a, equals: [1, 2]}", "expected a scalar");
    fill_fails("{path: a, exists: 1}", "expected true or false");
    fill_fails("{path: {a: 1}}", "expected a string");
    fill_fails("data.id", "expected a mapping");
}

/* ------------------------------------------------------------------------ */
/* Concurrency: shared compiled conditions, distinct responses per thread.   */
/* ------------------------------------------------------------------------ */

#define THREAD_ITERS 10000
#define N_CONDS 6

struct worker_arg {
    void *const *conds;
    int which;          /* 0: passing bodies, 1: failing JSON, 2: not JSON */
    int wrong;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char body[256], msg[256];
    for (int i = 0; i < THREAD_ITERS; i++) {
        int len;
        if (a->which == 0)
            len = snprintf(body, sizeof body,
                           "{\"id\": \"tx-%d\", \"data\": {\"items\": [{\"amount\": %d}],"
                           " \"tags\": [\"a\", \"paid\"], \"ok\": true}}", i, 101 + i % 9000);
        else if (a->which == 1)
            len = snprintf(body, sizeof body,
                           "{\"id\": %d, \"data\": {\"items\": [], \"tags\": [], \"ok\": false}}", i);
        else
            len = snprintf(body, sizeof body, "<html>%d</html>", i);
        volley_response r = {.status = 200, .body = body, .body_len = (size_t)len};
        volley_memo m = {0};
        int passed = 0;
        for (int k = 0; k < N_CONDS; k++)
            passed += key->eval(a->conds[k], &r, &m, msg, sizeof msg);
        /* One parse per response, whatever the number of checks. */
        if (m.n != 1)
            a->wrong++;
        memo_clear(&m);
        if (passed != (a->which == 0 ? N_CONDS : 0))
            a->wrong++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    void *conds[N_CONDS] = {
        compile("{path: id, contains: tx-}"),
        compile("{path: 'data.items[0].amount', gt: 100, lt: 10000}"),
        compile("{path: 'data.items[-1]'}"),
        compile("{path: data.tags, contains: paid, length: 2}"),
        compile("{path: '$.data[\"ok\"]', equals: true}"),
        compile("{path: data.ok, not_equals: false}"),
    };
    struct worker_arg args[3] = {{.conds = conds, .which = 0}, {.conds = conds, .which = 1},
                                 {.conds = conds, .which = 2}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(args[i].wrong, 0);
    for (int k = 0; k < N_CONDS; k++)
        key->free(conds[k]);
}

/* Run-time values (VOLLEY_OPT_VALUE with ${vu.id}) render per response for
 * the memo's VU, typed as written (quoted: a string); without a VU they
 * fail with the reason; a failure shows the value and where it came from. */
static void test_run_time_values(void **state)
{
    (void)state;
    void *quoted = compile("{ path: v, equals: \"${vu.id}\" }");
    void *bare = compile("path: n\nequals: ${vu.id}\n");
    void *has = compile("{ path: list, contains: \"id-${vu.id}\" }");
    volley_response r = resp("{\"v\": \"7\", \"n\": 7, \"list\": [\"id-7\"]}");
    char msg[256];
    struct { void *c; uint64_t vu; bool ok; const char *want; } cases[] = {
        {quoted, 7, true, ""},
        {quoted, 8, false, "v: \"7\" (expected \"8\" from ${vu.id})"},
        {bare, 7, true, ""},
        {bare, 9, false, "n: 7 (expected 9 from ${vu.id})"},
        {has, 7, true, ""},
        {has, 3, false, "list: array of 1 item (expected an array containing \"id-3\" from id-${vu.id})"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        volley_memo m = {.vu = th_vu(&th, cases[i].vu)};
        msg[0] = '\0';
        bool ok = key->eval(cases[i].c, &r, &m, msg, sizeof msg);
        memo_clear(&m);
        if (ok != cases[i].ok || strcmp(msg, cases[i].want) != 0)
            fail_msg("case %zu: %s \"%s\", wanted %s \"%s\"", i, ok ? "pass" : "fail", msg,
                     cases[i].ok ? "pass" : "fail", cases[i].want);
    }
    volley_memo none = {0};
    assert_false(key->eval(quoted, &r, &none, msg, sizeof msg));
    assert_non_null(strstr(msg, "v: ${vu.id} needs a VU to render it"));
    memo_clear(&none);
    key->free(quoted);
    key->free(bare);
    key->free(has);
}

/* A ${env.*_PASSWORD} value folded into a check is never shown, nor is it
 * when the server echoes it (host->redact, before the value is cut). */
static void test_secrets_never_shown(void **state)
{
    (void)state;
    const char *pw = "pw-0123456789012345678901234567890123456789012345678901234567890xyz";
    setenv("VT_DB_PASSWORD", pw, 1);
    char body[256];
    snprintf(body, sizeof body, "{\"pw\": \"%s\", \"list\": [\"a\"], \"region\": \"eu-9\"}", pw);
    check(body, "{path: pw, equals: 'x${env.VT_DB_PASSWORD}'}", false, "pw: \"***\" (expected \"x***\")");
    check(body, "{path: pw, not_equals: '${env.VT_DB_PASSWORD}'}", false,
          "pw: \"***\" (expected anything but \"***\")");
    check(body, "{path: list, contains: '${env.VT_DB_PASSWORD}'}", false,
          "list: array of 1 item (expected an array containing \"***\")");
    check(body, "{path: pw, exists: false}", false, "pw: \"***\" (expected no value)");
    check(body, "{path: region, equals: eu-1}", false, "region: \"eu-9\" (expected \"eu-1\")");
    unsetenv("VT_DB_PASSWORD");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_descriptor),   T(test_exists),         T(test_path_forms),
        T(test_equals),       T(test_compare),        T(test_length),
        T(test_contains),     T(test_all_conditions), T(test_not_json),
        T(test_nul_bytes),    T(test_memo_parse_once), T(test_memo_not_json),
        T(test_memo_full_or_absent), T(test_small_msg), T(test_bad_paths),
        T(test_bad_configs),  T(test_threads),        T(test_run_time_values),
        T(test_secrets_never_shown),
    };
    return cmocka_run_group_tests_name("checks-json", tests, NULL, NULL);
}
