#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "template.h"
#include "vu.h"
#include "yaml_tree.h"

/* ------------------------------------------------------------------ */
/* the config under test: one option of every type                     */

struct endpoint_cfg {
    uint64_t set;
    const char *host;
    int64_t port;
};

static const volley_option endpoint_opts[] = {
    {.name = "host", .type = VOLLEY_OPT_STRING, .offset = offsetof(struct endpoint_cfg, host),
     .flags = VOLLEY_OPT_REQUIRED, .help = "host name"},
    {.name = "port", .type = VOLLEY_OPT_INT, .offset = offsetof(struct endpoint_cfg, port),
     .default_value = "80", .min = 1, .max = 65535, .help = "TCP port"},
};
static const volley_option_map endpoint_map = {endpoint_opts, VOLLEY_COUNTOF(endpoint_opts),
                                               sizeof(struct endpoint_cfg), "host"};

static const char *const modes[] = {"constant", "ramping", "shared", NULL};

struct cfg {
    uint64_t set;
    const char *str;
    const volley_template *tmpl;
    int64_t count;
    double ratio;
    bool flag;
    int64_t wait;
    int mode;
    volley_int_list codes;
    volley_string_list tags;
    volley_template_map headers;
    volley_scalar equals;
    const volley_json *body;
    struct endpoint_cfg target;
};

enum { O_STR, O_TMPL, O_COUNT, O_RATIO, O_FLAG, O_WAIT, O_MODE, O_CODES, O_TAGS, O_HEADERS,
       O_EQUALS, O_BODY, O_TARGET, O__N };

static const volley_option all_opts[] = {
    [O_STR] = {.name = "str", .type = VOLLEY_OPT_STRING, .offset = offsetof(struct cfg, str),
               .default_value = "dflt", .help = "a string"},
    [O_TMPL] = {.name = "tmpl", .type = VOLLEY_OPT_TEMPLATE, .offset = offsetof(struct cfg, tmpl),
                .help = "a template"},
    [O_COUNT] = {.name = "count", .type = VOLLEY_OPT_INT, .offset = offsetof(struct cfg, count),
                 .default_value = "3", .min = 1, .max = 100, .help = "1..100"},
    [O_RATIO] = {.name = "ratio", .type = VOLLEY_OPT_DOUBLE, .offset = offsetof(struct cfg, ratio),
                 .default_value = "0.5", .min = 0, .max = 1, .help = "0..1"},
    [O_FLAG] = {.name = "flag", .type = VOLLEY_OPT_BOOL, .offset = offsetof(struct cfg, flag),
                .default_value = "true", .help = "a bool"},
    [O_WAIT] = {.name = "wait", .type = VOLLEY_OPT_DURATION, .offset = offsetof(struct cfg, wait),
                .default_value = "1m30s", .help = "a duration"},
    [O_MODE] = {.name = "mode", .type = VOLLEY_OPT_ENUM, .offset = offsetof(struct cfg, mode),
                .enum_values = modes, .default_value = "shared", .help = "an enum"},
    [O_CODES] = {.name = "codes", .type = VOLLEY_OPT_INT_LIST, .offset = offsetof(struct cfg, codes),
                 .default_value = "200", .min = 100, .max = 599, .help = "status codes"},
    [O_TAGS] = {.name = "tags", .type = VOLLEY_OPT_STRING_LIST, .offset = offsetof(struct cfg, tags),
                .help = "strings"},
    [O_HEADERS] = {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP,
                   .offset = offsetof(struct cfg, headers), .help = "headers"},
    [O_EQUALS] = {.name = "equals", .type = VOLLEY_OPT_SCALAR, .offset = offsetof(struct cfg, equals),
                  .help = "a scalar"},
    [O_BODY] = {.name = "body", .type = VOLLEY_OPT_JSON, .offset = offsetof(struct cfg, body),
                .help = "a JSON body"},
    [O_TARGET] = {.name = "target", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(struct cfg, target),
                  .sub = &endpoint_map, .help = "an endpoint"},
};
static const volley_option_map all_map = {all_opts, O__N, sizeof(struct cfg), NULL};

/* ------------------------------------------------------------------ */
/* fixture                                                             */

typedef struct fx {
    arena a;
    diag d;
    ytree *tree;
    tmpl_scope scope;
    opt_ctx c;
} fx;

static const char *env_lookup(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "HOST") == 0)
        return "example.test";
    if (strcmp(name, "TOKEN") == 0)
        return "s3cret";
    return NULL;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    arena_init(&f->a);
    diag_init(&f->d);
    f->scope = (tmpl_scope){.env = env_lookup};
    f->c = (opt_ctx){.a = &f->a, .scope = &f->scope, .d = &f->d};
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

/* The root node of yaml (kept alive in the fixture). */
static const ynode *parse(fx *f, const char *yaml)
{
    diag d;
    diag_init(&d);
    ytree_free(f->tree);
    f->tree = ytree_load_string("t.yaml", yaml, strlen(yaml), &d);
    if (!f->tree)
        diag_print(&d, stderr);
    diag_free(&d);
    if (!f->tree)
        fail_msg("bad test YAML: %s", yaml);
    return ytree_root(f->tree);
}

static void print_diag(const fx *f)
{
    for (size_t i = 0; i < f->d.count; i++)
        fprintf(stderr, "  diag[%zu]: %s\n", i, f->d.lines[i]);
}

/* Fills `map` from yaml; the fill must succeed without messages. */
static void fill_ok(fx *f, const volley_option_map *map, const char *yaml, void *cfg)
{
    const ynode *root = parse(f, yaml);
    int rc = opt_fill(&f->c, map, root, cfg, "root");
    if (rc != 0 || f->d.count != 0) {
        print_diag(f);
        fail_msg("opt_fill failed on: %s", yaml);
    }
}

/* Fills from yaml, which must fail with exactly these messages, in order. */
static void fill_fails(fx *f, const volley_option_map *map, const char *yaml, void *cfg,
                       const char *const *msgs, size_t n)
{
    const ynode *root = parse(f, yaml);
    diag_free(&f->d);
    int rc = opt_fill(&f->c, map, root, cfg, "root");
    assert_int_equal(rc, -1);
    if (f->d.count != n) {
        print_diag(f);
        fail_msg("%zu messages, expected %zu", f->d.count, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(f->d.lines[i], msgs[i]);
    diag_free(&f->d);
}

#define FILL_FAILS(f, map, yaml, cfg, ...)                                   \
    do {                                                                     \
        static const char *const msgs_[] = {__VA_ARGS__};                    \
        fill_fails((f), (map), (yaml), (cfg), msgs_, VOLLEY_COUNTOF(msgs_)); \
    } while (0)

static const char *render_tmpl(const volley_template *t, uint64_t id, uint64_t iter, char *out,
                               size_t cap)
{
    volley_vu vu = {.id = id, .iteration = iter};
    volley_buf b = {0};
    assert_int_equal(tmpl_render(t, &vu, &b), 0);
    snprintf(out, cap, "%s", b.data ? b.data : "");
    free(b.data);
    return out;
}

/* ------------------------------------------------------------------ */
/* every type, accepted                                                */

static void test_every_type_accepted(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map,
            "str: hello\n"
            "tmpl: \"http://${env.HOST}/x\"\n"
            "count: 42\n"
            "ratio: 0.25\n"
            "flag: false\n"
            "wait: 150ms\n"
            "mode: ramping\n"
            "codes: [200, 201, 204]\n"
            "tags: [a, b]\n"
            "headers: { Authorization: \"Bearer ${env.TOKEN}\", X-Id: \"${vu.id}\" }\n"
            "equals: 12\n"
            "body: { id: 1, ok: true }\n"
            "target: { host: db, port: 5432 }\n",
            &c);
    assert_string_equal(c.str, "hello");
    assert_string_equal(tmpl_const(c.tmpl), "http://example.test/x");
    assert_int_equal(c.count, 42);
    assert_true(c.ratio == 0.25);
    assert_false(c.flag);
    assert_int_equal(c.wait, 150000000);
    assert_int_equal(c.mode, 1);
    assert_int_equal(c.codes.n, 3);
    assert_int_equal(c.codes.v[0], 200);
    assert_int_equal(c.codes.v[2], 204);
    assert_int_equal(c.tags.n, 2);
    assert_string_equal(c.tags.v[0], "a");
    assert_string_equal(c.tags.v[1], "b");
    assert_int_equal(c.headers.n, 2);
    assert_string_equal(c.headers.keys[0], "Authorization");
    assert_string_equal(tmpl_const(c.headers.values[0]), "Bearer s3cret");
    assert_string_equal(c.headers.keys[1], "X-Id");
    assert_null(tmpl_const(c.headers.values[1]));
    char out[64];
    assert_string_equal(render_tmpl(c.headers.values[1], 17, 0, out, sizeof out), "17");
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_INT);
    assert_int_equal(c.equals.i, 12);
    assert_string_equal(tjson_const(c.body), "{\"id\":1,\"ok\":true}");
    assert_string_equal(c.target.host, "db");
    assert_int_equal(c.target.port, 5432);
    assert_int_equal(c.set, (UINT64_C(1) << O__N) - 1);
    assert_int_equal(c.target.set, 3);
}

/* ------------------------------------------------------------------ */
/* defaults and the set bitmask                                        */

static void test_defaults_and_set_bits(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "count: 7\nflag: true\n", &c);
    /* Only the keys written in the spec set their bit, even when the
     * value equals the default (flag). */
    assert_int_equal(c.set, (UINT64_C(1) << O_COUNT) | (UINT64_C(1) << O_FLAG));
    assert_int_equal(c.count, 7);
    assert_true(c.flag);
    /* Defaults are YAML text parsed like spec values. */
    assert_string_equal(c.str, "dflt");
    assert_true(c.ratio == 0.5);
    assert_int_equal(c.wait, 90LL * 1000000000LL);
    assert_int_equal(c.mode, 2);
    assert_int_equal(c.codes.n, 1);
    assert_int_equal(c.codes.v[0], 200);
    /* No default: zero. */
    assert_null(c.tmpl);
    assert_int_equal(c.tags.n, 0);
    assert_int_equal(c.headers.n, 0);
    assert_null(c.body);
    /* An absent object gets its own defaults, and no set bits. */
    assert_int_equal(c.target.set, 0);
    assert_null(c.target.host);
    assert_int_equal(c.target.port, 80);
}

static void test_null_node_gives_defaults_only(void **state)
{
    fx *f = *state;
    struct cfg c;
    memset(&c, 0xa5, sizeof c);
    assert_int_equal(opt_fill(&f->c, &all_map, NULL, &c, "root"), 0);
    assert_int_equal(f->d.count, 0);
    assert_int_equal(c.set, 0);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.str, "dflt");
    assert_true(c.flag);
    assert_null(c.tmpl);   /* zeroed, not left as 0xa5 */
    assert_int_equal(c.target.port, 80);
}

static void test_bad_default_reported_at_default(void **state)
{
    fx *f = *state;
    static const volley_option opts[] = {
        {.name = "n", .type = VOLLEY_OPT_INT, .offset = 8, .default_value = "lots"},
    };
    static const volley_option_map map = {opts, 1, 16, NULL};
    uint64_t cfg[2];
    FILL_FAILS(f, &map, "{}", cfg,
               "<default>:1:1: error: root: expected an integer, got string \"lots\"");
}

/* ------------------------------------------------------------------ */
/* per type                                                            */

static void test_string(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "str: \"quoted: yes\"\n", &c);
    assert_string_equal(c.str, "quoted: yes");
    fill_ok(f, &all_map, "str: 123\n", &c);   /* a number is fine as text */
    assert_string_equal(c.str, "123");
    FILL_FAILS(f, &all_map, "str: [a]\n", &c,
               "t.yaml:1:6: error: root.str: expected a string, got sequence");
    FILL_FAILS(f, &all_map, "str:\n", &c,
               "t.yaml:1:5: error: root.str: expected a string, got null");
}

static void test_template(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "tmpl: \"vu ${vu.id} it ${vu.iteration}\"\n", &c);
    assert_null(tmpl_const(c.tmpl));
    char out[64];
    assert_string_equal(render_tmpl(c.tmpl, 3, 9, out, sizeof out), "vu 3 it 9");
    fill_ok(f, &all_map, "tmpl: plain\n", &c);
    assert_string_equal(tmpl_const(c.tmpl), "plain");
    FILL_FAILS(f, &all_map, "tmpl: \"${env.NOPE}\"\n", &c,
               "t.yaml:1:7: error: root.tmpl: environment variable NOPE is not set "
               "(pass -e NOPE=VALUE, export it, or write ${env.NOPE:-default})");
    FILL_FAILS(f, &all_map, "tmpl: {a: 1}\n", &c,
               "t.yaml:1:7: error: root.tmpl: expected a string, got mapping");
}

/* VOLLEY_OPT_LONG_FORM (revision 7): k6's request cookies, a value or
 * { value, replace }; replace per key; without the flag a mapping value
 * stays an error and replace NULL. */
struct cookies_cfg {
    uint64_t set;
    volley_template_map cookies;
};

static const volley_option cookies_opts[] = {
    {.name = "cookies", .type = VOLLEY_OPT_TEMPLATE_MAP, .flags = VOLLEY_OPT_LONG_FORM,
     .offset = offsetof(struct cookies_cfg, cookies), .help = "cookies"},
};
static const volley_option_map cookies_map = {cookies_opts, 1, sizeof(struct cookies_cfg), NULL};

static void test_template_map_long_form(void **state)
{
    fx *f = *state;
    struct cookies_cfg c;
    memset(&c, 0, sizeof c);
    fill_ok(f, &cookies_map,
            "cookies: { a: \"1\", b: { value: \"v${vu.id}\", replace: true }, c: { value: x } }\n",
            &c);
    assert_int_equal(c.cookies.n, 3);
    assert_non_null(c.cookies.replace);
    assert_false(c.cookies.replace[0]);
    assert_true(c.cookies.replace[1]);
    assert_false(c.cookies.replace[2]);
    char out[32];
    assert_string_equal(render_tmpl(c.cookies.values[1], 4, 0, out, sizeof out), "v4");
    assert_string_equal(tmpl_const(c.cookies.values[2]), "x");
    FILL_FAILS(f, &cookies_map, "cookies: { a: { value: v, extra: 1 } }\n", &c,
               "t.yaml:1:27: error: root.cookies.a: unknown key \"extra\"; valid keys: value, replace");
    FILL_FAILS(f, &cookies_map, "cookies: { a: { value: v, replace: 2 } }\n", &c,
               "t.yaml:1:36: error: root.cookies.a.replace: expected true or false, got integer \"2\"");
    FILL_FAILS(f, &cookies_map, "cookies: { a: { replace: true } }\n", &c,
               "t.yaml:1:15: error: root.cookies.a: missing required key \"value\"");
    struct cfg d;
    memset(&d, 0, sizeof d);
    fill_ok(f, &all_map, "headers: { a: b }\n", &d);
    assert_null(d.headers.replace);
    FILL_FAILS(f, &all_map, "headers: { a: { value: b } }\n", &d,
               "t.yaml:1:15: error: root.headers.a: expected a string, got mapping");
}

static void test_int(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "count: 1\n", &c);
    assert_int_equal(c.count, 1);
    fill_ok(f, &all_map, "count: 100\n", &c);
    assert_int_equal(c.count, 100);
    fill_ok(f, &all_map, "count: 0x10\n", &c);   /* YAML 1.2 core int */
    assert_int_equal(c.count, 16);
    FILL_FAILS(f, &all_map, "count: 0\n", &c,
               "t.yaml:1:8: error: root.count: expected a value between 1 and 100, got 0");
    FILL_FAILS(f, &all_map, "count: 101\n", &c,
               "t.yaml:1:8: error: root.count: expected a value between 1 and 100, got 101");
    FILL_FAILS(f, &all_map, "count: ten\n", &c,
               "t.yaml:1:8: error: root.count: expected an integer, got string \"ten\"");
    FILL_FAILS(f, &all_map, "count: 2.5\n", &c,
               "t.yaml:1:8: error: root.count: expected an integer, got number \"2.5\"");
    /* Strict: a quoted number is a string. */
    FILL_FAILS(f, &all_map, "count: \"5\"\n", &c,
               "t.yaml:1:8: error: root.count: expected an integer, got string \"5\"");
    FILL_FAILS(f, &all_map, "count: [1]\n", &c,
               "t.yaml:1:8: error: root.count: expected an integer, got sequence");
}

static void test_int_unbounded(void **state)
{
    fx *f = *state;
    static const volley_option opts[] = {
        {.name = "n", .type = VOLLEY_OPT_INT, .offset = 8},   /* min == max: no bounds */
    };
    static const volley_option_map map = {opts, 1, 16, NULL};
    struct {
        uint64_t set;
        int64_t n;
    } c;
    fill_ok(f, &map, "n: -9223372036854775808\n", &c);
    assert_true(c.n == INT64_MIN);
    fill_ok(f, &map, "n: 9223372036854775807\n", &c);
    assert_true(c.n == INT64_MAX);
    const ynode *root = parse(f, "n: 9223372036854775808\n");
    assert_int_equal(opt_fill(&f->c, &map, root, &c, "root"), -1);
    assert_int_equal(f->d.count, 1);
    diag_free(&f->d);
}

static void test_double(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "ratio: 1\n", &c);   /* an integer is a number */
    assert_true(c.ratio == 1.0);
    fill_ok(f, &all_map, "ratio: 1e-2\n", &c);
    assert_true(fabs(c.ratio - 0.01) < 1e-15);
    FILL_FAILS(f, &all_map, "ratio: 1.5\n", &c,
               "t.yaml:1:8: error: root.ratio: expected a value between 0 and 1, got 1.5");
    FILL_FAILS(f, &all_map, "ratio: half\n", &c,
               "t.yaml:1:8: error: root.ratio: expected a number, got string \"half\"");
    FILL_FAILS(f, &all_map, "ratio: .nan\n", &c,
               "t.yaml:1:8: error: root.ratio: expected a number, got number \".nan\"");
    FILL_FAILS(f, &all_map, "ratio: \"0.5\"\n", &c,
               "t.yaml:1:8: error: root.ratio: expected a number, got string \"0.5\"");
}

static void test_bool_is_strict(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "flag: false\n", &c);
    assert_false(c.flag);
    fill_ok(f, &all_map, "flag: True\n", &c);
    assert_true(c.flag);
    /* YAML 1.1 booleans are not booleans here. */
    FILL_FAILS(f, &all_map, "flag: yes\n", &c,
               "t.yaml:1:7: error: root.flag: expected true or false, got string \"yes\"");
    FILL_FAILS(f, &all_map, "flag: on\n", &c,
               "t.yaml:1:7: error: root.flag: expected true or false, got string \"on\"");
    FILL_FAILS(f, &all_map, "flag: 1\n", &c,
               "t.yaml:1:7: error: root.flag: expected true or false, got integer \"1\"");
    FILL_FAILS(f, &all_map, "flag: \"true\"\n", &c,
               "t.yaml:1:7: error: root.flag: expected true or false, got string \"true\"");
}

static void test_duration(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "wait: 2\n", &c);   /* bare number = seconds */
    assert_int_equal(c.wait, 2000000000LL);
    fill_ok(f, &all_map, "wait: 1.5\n", &c);
    assert_int_equal(c.wait, 1500000000LL);
    fill_ok(f, &all_map, "wait: 1m30s\n", &c);
    assert_int_equal(c.wait, 90000000000LL);
    fill_ok(f, &all_map, "wait: 0s\n", &c);
    assert_int_equal(c.wait, 0);
    FILL_FAILS(f, &all_map, "wait: -1s\n", &c,
               "t.yaml:1:7: error: root.wait: expected a duration such as 500ms, 10s, 1m30s or 2h; "
               "got \"-1s\" (negative durations are not allowed)");
    /* A negative bare number too. */
    const ynode *root = parse(f, "wait: -5\n");
    assert_int_equal(opt_fill(&f->c, &all_map, root, &c, "root"), -1);
    assert_int_equal(f->d.count, 1);
    assert_non_null(strstr(f->d.lines[0], "t.yaml:1:7: error: root.wait: expected a duration"));
    assert_non_null(strstr(f->d.lines[0], "negative durations are not allowed"));
    diag_free(&f->d);
    root = parse(f, "wait: 10 s\n");
    assert_int_equal(opt_fill(&f->c, &all_map, root, &c, "root"), -1);
    diag_free(&f->d);
    FILL_FAILS(f, &all_map, "wait:\n", &c,
               "t.yaml:1:6: error: root.wait: expected a duration such as 500ms, 10s, 1m30s or 2h, "
               "got null");
}

static void test_duration_bounds(void **state)
{
    fx *f = *state;
    static const volley_option opts[] = {
        {.name = "d", .type = VOLLEY_OPT_DURATION, .offset = 8, .min = 0.001, .max = 60},
    };
    static const volley_option_map map = {opts, 1, 16, NULL};
    struct {
        uint64_t set;
        int64_t d;
    } c;
    fill_ok(f, &map, "d: 1m\n", &c);
    assert_int_equal(c.d, 60000000000LL);
    fill_ok(f, &map, "d: 1ms\n", &c);
    assert_int_equal(c.d, 1000000);
    FILL_FAILS(f, &map, "d: 61s\n", &c,
               "t.yaml:1:4: error: root.d: expected a duration between 1ms and 60s, got 61s");
    FILL_FAILS(f, &map, "d: 0s\n", &c,
               "t.yaml:1:4: error: root.d: expected a duration between 1ms and 60s, got 0s");
}

static void test_enum(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "mode: constant\n", &c);
    assert_int_equal(c.mode, 0);
    FILL_FAILS(f, &all_map, "mode: contant\n", &c,
               "t.yaml:1:7: error: root.mode: unknown value \"contant\"; expected one of: "
               "constant, ramping, shared (did you mean \"constant\"?)");
    FILL_FAILS(f, &all_map, "mode: zzzzzzzz\n", &c,
               "t.yaml:1:7: error: root.mode: unknown value \"zzzzzzzz\"; expected one of: "
               "constant, ramping, shared");
    FILL_FAILS(f, &all_map, "mode: [constant]\n", &c,
               "t.yaml:1:7: error: root.mode: expected one of: constant, ramping, shared; got sequence");
    FILL_FAILS(f, &all_map, "mode:\n", &c,
               "t.yaml:1:6: error: root.mode: expected one of: constant, ramping, shared; got null");
}

static void test_int_list(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "codes: 404\n", &c);   /* scalar = list of one */
    assert_int_equal(c.codes.n, 1);
    assert_int_equal(c.codes.v[0], 404);
    fill_ok(f, &all_map, "codes:\n  - 200\n  - 299\n", &c);
    assert_int_equal(c.codes.n, 2);
    assert_int_equal(c.codes.v[1], 299);
    FILL_FAILS(f, &all_map, "codes: []\n", &c,
               "t.yaml:1:8: error: root.codes: expected at least one integer");
    /* Every bad item is reported, each at its own position. */
    FILL_FAILS(f, &all_map, "codes: [200, x, 600]\n", &c,
               "t.yaml:1:14: error: root.codes: expected an integer, got string \"x\"",
               "t.yaml:1:17: error: root.codes: expected a value between 100 and 599, got 600");
    FILL_FAILS(f, &all_map, "codes: {a: 1}\n", &c,
               "t.yaml:1:8: error: root.codes: expected an integer, got mapping");
}

static void test_string_list(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "tags: one\n", &c);
    assert_int_equal(c.tags.n, 1);
    assert_string_equal(c.tags.v[0], "one");
    fill_ok(f, &all_map, "tags: [x, \"y z\", 3]\n", &c);
    assert_int_equal(c.tags.n, 3);
    assert_string_equal(c.tags.v[1], "y z");
    assert_string_equal(c.tags.v[2], "3");
    fill_ok(f, &all_map, "tags: []\n", &c);
    assert_int_equal(c.tags.n, 0);
    FILL_FAILS(f, &all_map, "tags: [a, [b], ~]\n", &c,
               "t.yaml:1:11: error: root.tags: expected a string, got sequence",
               "t.yaml:1:16: error: root.tags: expected a string, got null");
}

static void test_template_map(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "headers: {}\n", &c);
    assert_int_equal(c.headers.n, 0);
    FILL_FAILS(f, &all_map, "headers: [a]\n", &c,
               "t.yaml:1:10: error: root.headers: expected a mapping of names to strings, "
               "got sequence");
    FILL_FAILS(f, &all_map,
               "headers:\n"
               "  A: [1]\n"
               "  B: \"${nope.x}\"\n",
               &c,
               "t.yaml:2:6: error: root.headers.A: expected a string, got sequence",
               "t.yaml:3:6: error: root.headers.B: unknown template name \"nope.x\"; expected "
               "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, vu.iteration, "
               "scenario.name, random.int(a,b), random.float(a,b), random.pick(x,y,...), "
               "random.string(n), uuid(), now.ms, now.iso or a function: base64(x), base64decode(x), "
               "hex(x), urlencode(x), sha256(x), hmac('sha256', key, data) ...");
}

/* VOLLEY_OPT_REPEAT: a list value repeats its key, in order. */
struct rep_cfg {
    uint64_t set;
    volley_template_map form;
};
static const volley_option rep_opts[] = {
    {.name = "form", .type = VOLLEY_OPT_TEMPLATE_MAP, .offset = offsetof(struct rep_cfg, form),
     .flags = VOLLEY_OPT_REPEAT, .help = "pairs"},
};
static const volley_option_map rep_map = {rep_opts, 1, sizeof(struct rep_cfg), NULL};

static void test_template_map_repeat(void **state)
{
    fx *f = *state;
    struct rep_cfg c;
    char buf[64];
    fill_ok(f, &rep_map, "form: { a: [x, \"${vu.id}\"], b: y, c: [] }\n", &c);
    assert_int_equal(c.form.n, 3);
    assert_string_equal(c.form.keys[0], "a");
    assert_string_equal(c.form.keys[1], "a");
    assert_string_equal(c.form.keys[2], "b");
    assert_string_equal(render_tmpl(c.form.values[0], 1, 0, buf, sizeof buf), "x");
    assert_string_equal(render_tmpl(c.form.values[1], 7, 0, buf, sizeof buf), "7");
    assert_string_equal(render_tmpl(c.form.values[2], 1, 0, buf, sizeof buf), "y");
    FILL_FAILS(f, &rep_map, "form: { a: [x, [y]] }\n", &c,
               "t.yaml:1:16: error: root.form.a[1]: expected a string or a list of strings, got "
               "sequence");
    /* without the flag a list stays an error */
    struct cfg all;
    FILL_FAILS(f, &all_map, "headers: { A: [x] }\n", &all,
               "t.yaml:1:15: error: root.headers.A: expected a string, got sequence");
    volley_option bad = rep_opts[0];
    bad.type = VOLLEY_OPT_STRING_LIST;
    const volley_option_map bad_map = {&bad, 1, sizeof(struct rep_cfg), NULL};
    char err[200];
    assert_int_equal(opt_check_map(&bad_map, err, sizeof err), -1);
    assert_string_equal(err, "option \"form\": VOLLEY_OPT_REPEAT is for template maps");
}

static void test_scalar_typing(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "equals: ~\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_NULL);
    fill_ok(f, &all_map, "equals: true\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_BOOL);
    assert_true(c.equals.b);
    fill_ok(f, &all_map, "equals: -7\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_INT);
    assert_int_equal(c.equals.i, -7);
    assert_true(c.equals.d == -7.0);
    fill_ok(f, &all_map, "equals: 2.5\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_DOUBLE);
    assert_true(c.equals.d == 2.5);
    fill_ok(f, &all_map, "equals: abc\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_STRING);
    assert_string_equal(c.equals.s, "abc");
    fill_ok(f, &all_map, "equals: \"5\"\n", &c);   /* quoted stays a string */
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_STRING);
    assert_string_equal(c.equals.s, "5");
    fill_ok(f, &all_map, "equals: \"\"\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_STRING);
    assert_string_equal(c.equals.s, "");
    fill_ok(f, &all_map, "equals: yes\n", &c);
    assert_int_equal(c.equals.type, VOLLEY_SCALAR_STRING);
    FILL_FAILS(f, &all_map, "equals: [1]\n", &c,
               "t.yaml:1:9: error: root.equals: expected a scalar (string, number, boolean or "
               "null), got sequence");
}

static void test_json(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "body: [1, \"two\", null, {k: \"${env.HOST}\"}]\n", &c);
    assert_string_equal(tjson_const(c.body), "[1,\"two\",null,{\"k\":\"example.test\"}]");
    fill_ok(f, &all_map, "body: {n: \"${vu.id}\"}\n", &c);
    assert_null(tjson_const(c.body));
    FILL_FAILS(f, &all_map, "body: {a: \"${env.NOPE}\"}\n", &c,
               "t.yaml:1:11: error: root.body: environment variable NOPE is not set "
               "(pass -e NOPE=VALUE, export it, or write ${env.NOPE:-default})");
}

static void test_object_nesting(void **state)
{
    fx *f = *state;
    struct cfg c;
    fill_ok(f, &all_map, "target: { host: h }\n", &c);
    assert_string_equal(c.target.host, "h");
    assert_int_equal(c.target.port, 80);
    assert_int_equal(c.target.set, 1);
    /* The sub-map's shorthand works for a nested object too. */
    fill_ok(f, &all_map, "target: cache\n", &c);
    assert_string_equal(c.target.host, "cache");
    assert_int_equal(c.target.set, 1);
    assert_true(VOLLEY_OPT_IS_SET(&c, O_TARGET));
    FILL_FAILS(f, &all_map,
               "target:\n"
               "  port: 0\n"
               "  hast: x\n",
               &c,
               "t.yaml:2:9: error: root.target.port: expected a value between 1 and 65535, got 0",
               "t.yaml:3:3: error: root.target: unknown key \"hast\" (did you mean \"host\"?); "
               "valid keys: host, port",
               "t.yaml:2:3: error: root.target: missing required key \"host\" (host name)");
}

/* ------------------------------------------------------------------ */
/* map-level behaviour                                                 */

static void test_required(void **state)
{
    fx *f = *state;
    struct endpoint_cfg c;
    FILL_FAILS(f, &endpoint_map, "port: 8080\n", &c,
               "t.yaml:1:1: error: root: missing required key \"host\" (host name)");
    static const volley_option opts[] = {
        {.name = "x", .type = VOLLEY_OPT_INT, .offset = 8, .flags = VOLLEY_OPT_REQUIRED},
    };
    static const volley_option_map nohelp = {opts, 1, 16, NULL};
    uint64_t cfg[2];
    /* Without help text the type is named instead. */
    FILL_FAILS(f, &nohelp, "{}\n", cfg,
               "t.yaml:1:1: error: root: missing required key \"x\" (integer)");
}

static void test_shorthand(void **state)
{
    fx *f = *state;
    struct endpoint_cfg c;
    fill_ok(f, &endpoint_map, "api.example.test\n", &c);
    assert_string_equal(c.host, "api.example.test");
    assert_int_equal(c.port, 80);
    assert_int_equal(c.set, 1);

    /* A list given for an INT_LIST shorthand (checks' status: [200, 201]). */
    static const volley_option opts[] = {
        {.name = "in", .type = VOLLEY_OPT_INT_LIST, .offset = 8, .flags = VOLLEY_OPT_REQUIRED},
    };
    static const volley_option_map status_like = {opts, 1, 24, "in"};
    struct {
        uint64_t set;
        volley_int_list in;
    } s;
    fill_ok(f, &status_like, "[200, 202]\n", &s);
    assert_int_equal(s.in.n, 2);
    assert_int_equal(s.in.v[1], 202);
    /* Errors of the shorthand value carry the value's position and the
     * shorthand key in the path. */
    FILL_FAILS(f, &status_like, "[200, abc]\n", &s,
               "t.yaml:1:7: error: root.in: expected an integer, got string \"abc\"");

    /* Without a shorthand a mapping is required. */
    struct cfg c2;
    FILL_FAILS(f, &all_map, "5\n", &c2, "t.yaml:1:1: error: root: expected a mapping, got integer");
    FILL_FAILS(f, &all_map, "[a]\n", &c2, "t.yaml:1:1: error: root: expected a mapping, got sequence");
}

static void test_unknown_keys(void **state)
{
    fx *f = *state;
    struct endpoint_cfg c;
    FILL_FAILS(f, &endpoint_map, "host: h\npart: 1\n", &c,
               "t.yaml:2:1: error: root: unknown key \"part\" (did you mean \"port\"?); valid keys: "
               "host, port");
    FILL_FAILS(f, &endpoint_map, "host: h\nwhatever: 1\n", &c,
               "t.yaml:2:1: error: root: unknown key \"whatever\"; valid keys: host, port");
}

static void test_all_errors_in_one_pass(void **state)
{
    fx *f = *state;
    struct cfg c;
    FILL_FAILS(f, &all_map,
               "str: [x]\n"
               "count: 500\n"
               "flag: yes\n"
               "wait: 3 weeks\n"
               "mode: rampin\n"
               "colour: red\n"
               "codes: [99]\n"
               "target: {}\n",
               &c,
               "t.yaml:1:6: error: root.str: expected a string, got sequence",
               "t.yaml:2:8: error: root.count: expected a value between 1 and 100, got 500",
               "t.yaml:3:7: error: root.flag: expected true or false, got string \"yes\"",
               "t.yaml:4:7: error: root.wait: expected a duration such as 500ms, 10s, 1m30s or 2h; "
               "got \"3 weeks\" (spaces are not allowed)",
               "t.yaml:5:7: error: root.mode: unknown value \"rampin\"; expected one of: constant, "
               "ramping, shared (did you mean \"ramping\"?)",
               "t.yaml:6:1: error: root: unknown key \"colour\"; valid keys: str, tmpl, count, ratio, "
               "flag, wait, mode, codes, tags, headers, equals, body, target",
               "t.yaml:7:9: error: root.codes: expected a value between 100 and 599, got 99",
               "t.yaml:8:9: error: root.target: missing required key \"host\" (host name)");
}

/* ------------------------------------------------------------------ */
/* opt_fill_arg                                                        */

static void test_fill_arg(void **state)
{
    fx *f = *state;
    struct endpoint_cfg c;
    assert_int_equal(opt_fill_arg(&f->c, &endpoint_map, "results/x.ndjson", &c, "--out x"), 0);
    assert_int_equal(f->d.count, 0);
    assert_string_equal(c.host, "results/x.ndjson");
    assert_int_equal(c.set, 1);
    assert_int_equal(c.port, 80);
    /* The argument is text: "true" or "null" stay strings. */
    assert_int_equal(opt_fill_arg(&f->c, &endpoint_map, "null", &c, "--out x"), 0);
    assert_string_equal(c.host, "null");

    struct cfg c2;
    assert_int_equal(opt_fill_arg(&f->c, &all_map, "x", &c2, "--out all"), -1);
    assert_int_equal(f->d.count, 1);
    assert_string_equal(f->d.lines[0], "error: --out all: takes no argument");
    diag_free(&f->d);
}

/* ------------------------------------------------------------------ */
/* opt_check_map                                                       */

static void expect_bad_map(const volley_option_map *map, const char *msg)
{
    char err[256] = "";
    assert_int_equal(opt_check_map(map, err, sizeof err), -1);
    assert_string_equal(err, msg);
}

static void test_check_map(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(opt_check_map(&all_map, err, sizeof err), 0);
    assert_int_equal(opt_check_map(&endpoint_map, err, sizeof err), 0);

    static volley_option many[65];
    for (size_t i = 0; i < 65; i++)
        many[i] = (volley_option){.name = "x", .type = VOLLEY_OPT_INT, .offset = 8};
    volley_option_map too_many = {many, 65, 16, NULL};
    expect_bad_map(&too_many, "option map has 65 options (at most 64)");

    static const volley_option one[] = {{.name = "x", .type = VOLLEY_OPT_INT, .offset = 8}};
    volley_option_map small = {one, 1, 4, NULL};
    expect_bad_map(&small, "config struct too small (it must start with uint64_t set)");

    static const volley_option over_set[] = {{.name = "x", .type = VOLLEY_OPT_INT, .offset = 0}};
    volley_option_map m1 = {over_set, 1, 16, NULL};
    expect_bad_map(&m1, "option 0: missing name or offset outside the config struct");

    static const volley_option outside[] = {{.name = "x", .type = VOLLEY_OPT_INT, .offset = 16}};
    volley_option_map m2 = {outside, 1, 16, NULL};
    expect_bad_map(&m2, "option 0: missing name or offset outside the config struct");

    static const volley_option noname[] = {{.name = NULL, .type = VOLLEY_OPT_INT, .offset = 8}};
    volley_option_map m3 = {noname, 1, 16, NULL};
    expect_bad_map(&m3, "option 0: missing name or offset outside the config struct");

    static const volley_option bad_enum[] = {{.name = "e", .type = VOLLEY_OPT_ENUM, .offset = 8}};
    volley_option_map m4 = {bad_enum, 1, 16, NULL};
    expect_bad_map(&m4, "option \"e\": enum without values or object without sub-map");

    static const volley_option bad_obj[] = {{.name = "o", .type = VOLLEY_OPT_OBJECT, .offset = 8}};
    volley_option_map m5 = {bad_obj, 1, 32, NULL};
    expect_bad_map(&m5, "option \"o\": enum without values or object without sub-map");

    /* A bad nested map is found too. */
    static const volley_option_map bad_sub = {outside, 1, 16, NULL};
    static const volley_option nest[] = {
        {.name = "o", .type = VOLLEY_OPT_OBJECT, .offset = 8, .sub = &bad_sub}};
    volley_option_map m6 = {nest, 1, 32, NULL};
    expect_bad_map(&m6, "option 0: missing name or offset outside the config struct");

    static const volley_option file_int[] = {
        {.name = "f", .type = VOLLEY_OPT_INT, .offset = 8, .flags = VOLLEY_OPT_FILE}};
    volley_option_map m7 = {file_int, 1, 16, NULL};
    expect_bad_map(&m7, "option \"f\": VOLLEY_OPT_FILE is for string options");
}

/* VOLLEY_OPT_CHECKS / CAPTURES go to the context's compilers (the spec
 * loader's); without them (outputs, checks' own options) they are refused. */
static int compiled;
static volley_checks *fake_checks(void *ctx, const ynode *n, const char *path, bool match_only)
{
    (void)n, (void)path, (void)match_only;
    compiled++;
    return ctx;
}
static volley_captures *fake_captures(void *ctx, const ynode *n, const char *path)
{
    (void)path;
    compiled += n->kind == YNODE_MAP ? 10 : 0;
    return n->kind == YNODE_MAP ? ctx : NULL;
}

static void test_checks_and_captures(void **state)
{
    fx *f = *state;
    struct xcfg {
        uint64_t set;
        const volley_checks *checks;
        const volley_captures *caps;
    } cfg;
    static const volley_option xo[] = {
        {.name = "checks", .type = VOLLEY_OPT_CHECKS, .offset = offsetof(struct xcfg, checks),
         .help = "items"},
        {.name = "caps", .type = VOLLEY_OPT_CAPTURES, .offset = offsetof(struct xcfg, caps),
         .help = "captures"},
    };
    static const volley_option_map xmap = {xo, 2, sizeof(struct xcfg), NULL};
    FILL_FAILS(f, &xmap, "checks: [ { name: a, status: 200 } ]\ncaps: { x: json.a }\n", &cfg,
               "t.yaml:1:9: error: root.checks: check items are not accepted here",
               "t.yaml:2:7: error: root.caps: captures are not accepted here");
    int token;
    f->c.compile_checks = fake_checks;
    f->c.compile_captures = fake_captures;
    f->c.compile_ctx = &token;
    compiled = 0;
    fill_ok(f, &xmap, "checks: [ { name: a, status: 200 } ]\ncaps: { x: json.a }\n", &cfg);
    assert_int_equal(compiled, 11);
    assert_ptr_equal(cfg.checks, (const void *)&token);
    assert_ptr_equal(cfg.caps, (const void *)&token);
    /* The compiler reported its own error: opt_fill fails without adding one. */
    const ynode *root = parse(f, "caps: [x]\n");
    assert_int_equal(opt_fill(&f->c, &xmap, root, &cfg, "root"), -1);
    assert_string_equal(opt_type_name(VOLLEY_OPT_CHECKS), "check items");
    assert_string_equal(opt_type_name(VOLLEY_OPT_CAPTURES), "captures (NAME: SOURCE)");
}

static void test_json_list(void **state)
{
    fx *f = *state;
    struct jcfg {
        uint64_t set;
        volley_json_list msgs;
    } cfg;
    static const volley_option jo[] = {
        {.name = "msgs", .type = VOLLEY_OPT_JSON_LIST, .offset = offsetof(struct jcfg, msgs),
         .help = "messages"},
    };
    static const volley_option_map jmap = {jo, 1, sizeof(struct jcfg), NULL};
    fill_ok(f, &jmap, "msgs: [ { type: sub, n: 1 }, \"hello ${env.HOST}\", ping, 42, [1, 2] ]\n",
            &cfg);
    assert_int_equal(cfg.msgs.n, 5);
    assert_null(cfg.msgs.v[0].text);
    assert_string_equal(tjson_const(cfg.msgs.v[0].json), "{\"type\":\"sub\",\"n\":1}");
    assert_null(cfg.msgs.v[1].json);
    assert_string_equal(tmpl_const(cfg.msgs.v[1].text), "hello example.test");
    assert_string_equal(tmpl_const(cfg.msgs.v[2].text), "ping");   /* a plain word is text */
    assert_string_equal(tjson_const(cfg.msgs.v[3].json), "42");
    assert_string_equal(tjson_const(cfg.msgs.v[4].json), "[1,2]");
    fill_ok(f, &jmap, "msgs: { type: one }\n", &cfg);   /* one value */
    assert_int_equal(cfg.msgs.n, 1);
    FILL_FAILS(f, &jmap, "msgs: [ \"${nope}\" ]\n", &cfg,
               "t.yaml:1:9: error: root.msgs[0]: unknown template name \"nope\"; expected env.NAME, "
               "services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, vu.iteration, scenario.name, "
               "random.int(a,b), random.float(a,b), random.pick(x,y,...), random.string(n), uuid(), "
               "now.ms, now.iso or a function: base64(x), base64decode(x), hex(x), urlencode(x), "
               "sha256(x), hmac('sha256', key, data) ...");
    assert_string_equal(opt_type_name(VOLLEY_OPT_JSON_LIST),
                        "value or list of values (strings are text)");
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(opt_type_name(VOLLEY_OPT_INT), "integer");
    assert_string_equal(opt_type_name(VOLLEY_OPT_DURATION), "duration");
    assert_string_equal(opt_type_name(VOLLEY_OPT_OBJECT), "mapping");
    assert_string_equal(opt_type_name((volley_opt_type)99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_type_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_map_long_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_and_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_set_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_node_gives_defaults_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_default_reported_at_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_unbounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool_is_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_map_repeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalar_typing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shorthand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_errors_in_one_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_arg, setup, teardown),
        cmocka_unit_test(test_check_map),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
