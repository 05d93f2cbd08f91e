#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crash.h"
#include "yaml_tree.h"

/* ------------------------------------------------------------------ */
/* a check plugin "fakes" of two keys, without a .so: `is: N` holds     */
/* when the status is N (else says why), `quiet: N` the same, silently */

struct is_cfg {
    uint64_t set;
    int64_t status;
};

static const volley_option is_opts[] = {
    {.name = "status", .type = VOLLEY_OPT_INT, .offset = offsetof(struct is_cfg, status),
     .flags = VOLLEY_OPT_REQUIRED, .help = "the status"},
};
static const volley_option_map is_map = {is_opts, 1, sizeof(struct is_cfg), "status"};

static struct {
    int compiled, freed, evals;
    crash_mark compile_mark, eval_mark, free_mark;
    const volley_response *seen;
} fake;

static void *is_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    (void)host;
    fake.compile_mark = crash_cur;
    const struct is_cfg *c = config;
    if (c->status < 0) {
        snprintf(err, errcap, "no negative status");
        return NULL;
    }
    int64_t *cond = malloc(sizeof *cond);
    *cond = c->status;
    fake.compiled++;
    return cond;
}

static void cond_free(void *cond)
{
    fake.free_mark = crash_cur;
    free(cond);
    fake.freed++;
}

static bool eval_status(const void *cond, const volley_response *resp, char *msg, size_t msgcap,
                        bool say)
{
    fake.eval_mark = crash_cur;
    fake.evals++;
    fake.seen = resp;
    if (resp->status == *(const int64_t *)cond)
        return true;
    if (say)
        snprintf(msg, msgcap, "status %d", resp->status);
    return false;
}

static bool is_eval(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                    size_t msgcap)
{
    (void)memo;
    return eval_status(cond, resp, msg, msgcap, true);
}

static bool quiet_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                       char *msg, size_t msgcap)
{
    (void)memo;
    return eval_status(cond, resp, msg, msgcap, false);
}

static const volley_check_key fake_keys[] = {
    {"is", &is_map, is_compile, cond_free, is_eval},
    {"quiet", &is_map, is_compile, cond_free, quiet_eval},
};
static const volley_check_ops fake_ops = {.size = sizeof fake_ops, .n_keys = 2, .keys = fake_keys};
static const volley_plugin fake_desc = {.kind = VOLLEY_KIND_CHECK, .name = "fakes",
                                        .check = &fake_ops};

/* ------------------------------------------------------------------ */
/* fixture                                                             */

typedef struct fx {
    arena a;
    diag d;
    metrics_reg reg;
    opt_ctx oc;
    plug p;
    plug_set plugins;
    check_compiler cc;
    ytree *tree;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    arena_init(&f->a);
    diag_init(&f->d);
    metrics_reg_init(&f->reg);
    char err[256];
    int checks = metrics_register(&f->reg, "checks", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT,
                                  err, sizeof err);
    assert_true(checks >= 0);
    f->oc = (opt_ctx){.a = &f->a, .d = &f->d};
    f->p = (plug){.desc = &fake_desc};
    f->plugins = (plug_set){.n = 1, .cap = 1, .items = &f->p};
    f->cc = (check_compiler){.a = &f->a, .d = &f->d, .plugins = &f->plugins, .reg = &f->reg,
                             .metric = (uint32_t)checks, .oc = &f->oc};
    memset(&fake, 0, sizeof fake);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    ytree_free(f->tree);
    metrics_reg_free(&f->reg);
    diag_free(&f->d);
    arena_free(&f->a);
    free(f);
    return 0;
}

static const ynode *parse(fx *f, const char *yaml)
{
    ytree_free(f->tree);
    f->tree = ytree_load_string("t.yaml", yaml, strlen(yaml), &f->d);
    assert_non_null(f->tree);
    return ytree_root(f->tree);
}

static void assert_diag(const fx *f, size_t i, const char *want)
{
    assert_true(i < f->d.n_lines);
    if (!strstr(f->d.lines[i], want))
        fail_msg("diag[%zu]: %s\nwanted: %s", i, f->d.lines[i], want);
}

/* ------------------------------------------------------------------ */
/* compile                                                             */

static void test_compile(void **state)
{
    fx *f = *state;
    const ynode *n = parse(f, "- { name: ok, is: 200, quiet: 200 }\n- { name: other, is: 201 }\n");
    check_item *items;
    size_t count;
    assert_true(check_compile_list(&f->cc, n, "check", "::g", false, &items, &count));
    assert_int_equal(f->d.count, 0);
    assert_int_equal(count, 2);
    assert_string_equal(items[0].name, "ok");
    assert_string_equal(items[0].group, "::g");
    assert_string_equal(items[0].tags.check, "ok");
    assert_int_equal(items[0].n_conds, 2);
    assert_string_equal(items[0].conds[0].key->key, "is");
    assert_string_equal(items[0].conds[1].key->key, "quiet");
    assert_string_equal(items[0].conds[0].plugin, "fakes");
    assert_string_equal(f->reg.series[items[0].series].name, "::g::ok");
    assert_string_equal(f->reg.series[items[1].series].name, "::g::other");
    /* The plugin's compile ran with the crash mark, taken off afterwards. */
    assert_string_equal(fake.compile_mark.plugin, "fakes");
    assert_string_equal(fake.compile_mark.callback, "check compile");
    assert_null(crash_cur.plugin);
    assert_int_equal(fake.compiled, 3);
    check_free_items(items, count);
    assert_int_equal(fake.freed, 3);
    assert_string_equal(fake.free_mark.plugin, "fakes");
    assert_string_equal(fake.free_mark.callback, "check free");
    assert_null(crash_cur.plugin);
}

/* Every error of the list in one pass; what compiled is still freed. */
static void test_compile_errors(void **state)
{
    fx *f = *state;
    const ynode *n = parse(f, "- { is: 200 }\n"
                              "- { name: empty }\n"
                              "- { name: typo, iss: 200 }\n"
                              "- { name: neg, is: 200, quiet: -1 }\n"
                              "- [not, a, map]\n");
    check_item *items;
    size_t count;
    assert_false(check_compile_list(&f->cc, n, "s.check", "", false, &items, &count));
    assert_int_equal(count, 5);
    assert_int_equal(f->d.count, 5);
    assert_diag(f, 0, "s.check[0]: missing required key \"name\" (each check item is named)");
    assert_diag(f, 1, "s.check[1]: check \"empty\" has no condition (add e.g. status: 200)");
    assert_diag(f, 2, "s.check[2]: unknown check \"iss\" (did you mean \"is\"?); known checks: "
                      "is, quiet, name");
    assert_diag(f, 3, "s.check[3].quiet: no negative status");
    assert_diag(f, 4, "s.check[4]: expected a mapping, got sequence");
    assert_int_equal(fake.compiled, 2);   /* item 0's condition too */
    check_free_items(items, count);
    assert_int_equal(fake.freed, 2);
}

/* A missing name hides no other error of the same item. */
static void test_compile_errors_in_item(void **state)
{
    fx *f = *state;
    const ynode *n = parse(f, "- { is: abc, iss: 1 }\n"
                              "- { quiet: -1 }\n"
                              "- { name: [x], is: -2 }\n"
                              "- {}\n");
    check_item *items;
    size_t count;
    assert_false(check_compile_list(&f->cc, n, "s.check", "", false, &items, &count));
    assert_int_equal(count, 4);
    assert_int_equal(f->d.count, 9);
    assert_diag(f, 0, "s.check[0]: missing required key \"name\" (each check item is named)");
    assert_diag(f, 1, "s.check[0].is.status: expected an integer");
    assert_diag(f, 2, "s.check[0]: unknown check \"iss\" (did you mean \"is\"?)");
    assert_diag(f, 3, "s.check[1]: missing required key \"name\"");
    assert_diag(f, 4, "s.check[1].quiet: no negative status");
    assert_diag(f, 5, "s.check[2].name: expected a string, got sequence");
    assert_diag(f, 6, "s.check[2].is: no negative status");
    assert_diag(f, 7, "s.check[3]: missing required key \"name\"");
    assert_diag(f, 8, "s.check[3]: check has no condition (add e.g. status: 200)");
    assert_int_equal(fake.compiled, 0);
    check_free_items(items, count);
}

/* An unknown key with no near miss while a plugin failed to load: the
 * installation's error (exit 103), not the spec's. */
static void test_compile_unknown_broken(void **state)
{
    fx *f = *state;
    plug_broken broken = {.path = "/p/volley-checks-x.so", .name = "checks-x",
                          .kind = VOLLEY_KIND_CHECK, .reason = "undefined symbol"};
    f->plugins.broken = &broken;
    f->plugins.n_broken = 1;
    check_item *items;
    size_t count;
    assert_false(check_compile_list(&f->cc, parse(f, "{ name: a, iss: 1 }\n"), "c", "", false,
                                    &items, &count));
    assert_false(f->d.engine);   /* a near miss: the spec's typo */
    assert_false(check_compile_list(&f->cc, parse(f, "{ name: a, xpath: 1 }\n"), "c", "", false,
                                    &items, &count));
    assert_true(f->d.engine);
    assert_diag(f, 1, "c[0]: unknown check \"xpath\"; known checks: is, quiet, name; plugin "
                      "checks-x could not be loaded: undefined symbol");
}

/* A plugin's VOLLEY_OPT_CHECKS: match-only items need no name; the
 * owner's list keeps them for check_free_opts. */
static void test_compile_opt(void **state)
{
    fx *f = *state;
    volley_checks *owned = NULL;
    volley_checks *c = check_compile_opt(&f->cc, parse(f, "{ is: 101 }\n"), "each", "", true,
                                         &owned);
    assert_non_null(c);
    assert_ptr_equal(owned, c);
    assert_true(c->match_only);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->items[0].name, "");
    assert_null(check_compile_opt(&f->cc, parse(f, "{ is: 200 }\n"), "each", "", false, &owned));
    assert_diag(f, 0, "each[0]: missing required key \"name\"");
    assert_ptr_equal(owned->next, c);
    check_free_opts(owned);
    assert_int_equal(fake.freed, fake.compiled);
}

/* ------------------------------------------------------------------ */
/* evaluate                                                            */

typedef struct result {
    const char *name;
    bool pass;
    char why[320];
} result;

typedef struct results {
    size_t n;
    result r[8];
} results;

static void collect(void *ctx, const check_item *ci, bool pass, const char *why)
{
    results *rs = ctx;
    assert_true(rs->n < 8);
    result *r = &rs->r[rs->n++];
    r->name = ci->name;
    r->pass = pass;
    snprintf(r->why, sizeof r->why, "%s", why);
}

static void compile_ok(fx *f, const char *yaml, check_item **items, size_t *count)
{
    assert_true(check_compile_list(&f->cc, parse(f, yaml), "check", "", false, items, count));
}

/* With a sink: every item, each result with why it failed. */
static void test_eval_sink(void **state)
{
    fx *f = *state;
    check_item *items;
    size_t n;
    compile_ok(f, "- { name: a, is: 200 }\n- { name: b, is: 201 }\n- { name: c, quiet: 201 }\n"
                  "- { name: d, is: 201, quiet: 200 }\n", &items, &n);
    results rs = {0};
    const check_sink sink = {.result = collect, .ctx = &rs};
    volley_response resp = {.status = 200};
    assert_false(check_eval(items, n, &resp, NULL, &sink));
    assert_int_equal(rs.n, 4);
    assert_string_equal(rs.r[0].name, "a");
    assert_true(rs.r[0].pass);
    assert_string_equal(rs.r[0].why, "");
    assert_false(rs.r[1].pass);
    assert_string_equal(rs.r[1].why, "is: status 200");
    assert_false(rs.r[2].pass);
    assert_string_equal(rs.r[2].why, "quiet: the condition did not hold");
    /* An item stops at its first condition that does not hold. */
    assert_false(rs.r[3].pass);
    assert_string_equal(rs.r[3].why, "is: status 200");
    assert_int_equal(fake.evals, 4);
    /* Each eval ran with the crash mark, taken off afterwards. */
    assert_string_equal(fake.eval_mark.plugin, "fakes");
    assert_string_equal(fake.eval_mark.callback, "check eval");
    assert_null(crash_cur.plugin);

    rs.n = 0;
    assert_true(check_eval(items, 1, &resp, NULL, &sink));
    assert_int_equal(rs.n, 1);
    assert_true(check_eval(items, 0, &resp, NULL, &sink));
    assert_int_equal(rs.n, 1);
    check_free_items(items, n);
}

/* A step that failed: its error is the reason, not what the condition
 * saw of the half-made response (a ws expect that timed out has status
 * 101 and no body); a plugin's reason naming the error is kept. */
static void test_eval_failed_step(void **state)
{
    fx *f = *state;
    check_item *items;
    size_t n;
    compile_ok(f, "- { name: a, is: 200 }\n- { name: b, quiet: 200 }\n- { name: c, is: 101 }\n",
               &items, &n);
    results rs = {0};
    const check_sink sink = {.result = collect, .ctx = &rs};
    volley_response resp = {.status = 101, .error = "expect: no matching message within 0.3s"};
    assert_false(check_eval(items, n, &resp, NULL, &sink));
    assert_string_equal(rs.r[0].why, "is: expect: no matching message within 0.3s");
    assert_string_equal(rs.r[1].why, "quiet: expect: no matching message within 0.3s");
    assert_true(rs.r[2].pass);
    assert_string_equal(rs.r[2].why, "");
    check_free_items(items, n);
}

/* Without a sink: only whether all hold, up to the first that does not. */
static void test_eval_match(void **state)
{
    fx *f = *state;
    check_item *items;
    size_t n;
    compile_ok(f, "- { name: a, is: 201 }\n- { name: b, is: 200 }\n", &items, &n);
    volley_response resp = {.status = 200};
    assert_false(check_eval(items, n, &resp, NULL, NULL));
    assert_int_equal(fake.evals, 1);
    volley_checks c = {.n = n, .items = items};
    assert_false(check_match(&c, &resp));
    resp.status = 201;
    c.n = 1;
    assert_true(check_match(&c, &resp));
    assert_true(check_match(NULL, &resp));
    check_free_items(items, n);
}

/* No response (the step did not run): status 0 with an error. */
static void test_eval_no_response(void **state)
{
    fx *f = *state;
    check_item *items;
    size_t n;
    compile_ok(f, "- { name: a, is: 0 }\n", &items, &n);
    assert_true(check_eval(items, n, NULL, NULL, NULL));
    assert_non_null(fake.seen);
    assert_int_equal(fake.seen->status, 0);
    assert_string_equal(fake.seen->error, "step did not run");
    check_free_items(items, n);
}

/* A protocol plugin older than revision 7 hands a volley_response that
 * ends before .proto: what lies past it is not the plugin's (here: junk the
 * core must not read), and checks get those fields zeroed. */
static void test_resp_full(void **state)
{
    (void)state;
    struct {
        volley_response r;
    } *mem = malloc(sizeof *mem);
    assert_non_null(mem);
    memset(mem, 0xa5, sizeof *mem);   /* the old plugin's struct ends at .proto */
    mem->r.status = 200;
    mem->r.error = NULL;
    mem->r.headers = "H: v\r\n";
    mem->r.headers_len = 6;
    mem->r.body = "b";
    mem->r.body_len = 1;
    mem->r.duration_ms = 3.5;
    volley_response tmp;
    const volley_response *full = check_resp_full(&mem->r, 6, &tmp);
    assert_ptr_equal(full, &tmp);
    assert_int_equal(full->status, 200);
    assert_string_equal(full->headers, "H: v\r\n");
    assert_int_equal(full->body_len, 1);
    assert_true(full->duration_ms == 3.5);
    assert_null(full->proto);
    assert_null(full->url);
    assert_int_equal(full->has, 0);
    assert_true(full->waiting_ms == 0 && full->blocked_ms == 0 && full->receiving_ms == 0);
    assert_int_equal(full->bytes_sent, 0);
    assert_int_equal(full->bytes_received, 0);
    /* revision 7 and later: the plugin's own struct, as it is */
    assert_ptr_equal(check_resp_full(&mem->r, 7, &tmp), &mem->r);
    assert_ptr_equal(check_resp_full(&mem->r, 8, &tmp), &mem->r);
    assert_null(check_resp_full(NULL, 0, &tmp));
    free(mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_errors_in_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_unknown_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_opt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_failed_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_no_response, setup, teardown),
        cmocka_unit_test(test_resp_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
