#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conlog.h"
#include "core.h"
#include "flow_ctl.h"
#include "spec.h"
#include "template.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)

/* ------------------------------------------------------------------ */
/* fixture: a core with the real check/output plugins and the no-op    */
/* protocol helper (never the http plugin: it resolves hosts)          */

typedef struct fx {
    volley_core core;
    char dir[64];
    char path[PATH_MAX];
    diag d;
    spec *s;
    spec_opts o;
} fx;

static void load_plugin(fx *f, const char *path)
{
    char err[1024];
    if (plug_load_file(&f->core.plugins, path, &f->core.host, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    if (core_init(&f->core, err, sizeof err) != 0)
        fail_msg("core_init: %s", err);
    load_plugin(f, VOLLEY_PLUGIN_BUILD_DIR "/volley-checks-basic.so");
    load_plugin(f, VOLLEY_PLUGIN_BUILD_DIR "/volley-checks-json.so");
    load_plugin(f, VOLLEY_PLUGIN_BUILD_DIR "/volley-json-out.so");
    load_plugin(f, TEST_PLUGIN_DIR "/volley-testproto.so");
    snprintf(f->dir, sizeof f->dir, "/tmp/volley-spectest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/spec.yaml", f->dir);
    diag_init(&f->d);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    spec_free(f->s);
    diag_free(&f->d);
    core_free(&f->core);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void print_diag(const fx *f)
{
    for (size_t i = 0; i < f->d.count; i++)
        fprintf(stderr, "  diag[%zu]: %s\n", i, f->d.lines[i]);
}

/* Writes yaml to the spec file and loads it with f->o. */
static spec *load(fx *f, const char *yaml)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(yaml, fp);
    fclose(fp);
    spec_free(f->s);
    diag_free(&f->d);
    f->s = spec_load(f->path, &f->o, &f->core.plugins, &f->core.reg, &f->core.host, &f->core,
                     &f->d);
    return f->s;
}

static spec *load_ok(fx *f, const char *yaml)
{
    spec *s = load(f, yaml);
    if (!s || f->d.count) {
        print_diag(f);
        fail_msg("spec failed to load:\n%s", yaml);
    }
    return s;
}

/* Exactly these lines (errors or warnings), in order. A message that
 * starts with ':' is prefixed with the spec's path ("PATH:line:col: ..."). */
static void expect_lines(const fx *f, char *const *lines, size_t n_lines, const char *const *msgs,
                         size_t n)
{
    bool ok = n_lines == n;
    for (size_t i = 0; ok && i < n; i++) {
        char want[PATH_MAX + 2048];
        snprintf(want, sizeof want, "%s%s", msgs[i][0] == ':' ? f->path : "", msgs[i]);
        ok = strcmp(lines[i], want) == 0;
        if (!ok)
            fprintf(stderr, "message %zu:\n  got:  %s\n  want: %s\n", i, lines[i], want);
    }
    for (size_t i = 0; !ok && i < n_lines; i++)
        fprintf(stderr, "  [%zu]: %s\n", i, lines[i]);
    if (!ok)
        fail_msg("%zu messages, expected %zu", n_lines, n);
}

/* The spec must fail with exactly these messages, in order. */
static void load_fails(fx *f, const char *yaml, const char *const *msgs, size_t n)
{
    spec *s = load(f, yaml);
    assert_null(s);
    expect_lines(f, f->d.lines, f->d.count, msgs, n);
}

#define LOAD_FAILS(f, yaml, ...)                                             \
    do {                                                                     \
        static const char *const msgs_[] = {__VA_ARGS__};                    \
        load_fails((f), (yaml), msgs_, sizeof msgs_ / sizeof msgs_[0]);      \
    } while (0)

/* The spec must fail with `msg` among its messages. */
static void load_fails_with(fx *f, const char *yaml, const char *msg)
{
    assert_null(load(f, yaml));
    char want[PATH_MAX + 2048];
    snprintf(want, sizeof want, "%s%s", msg[0] == ':' ? f->path : "", msg);
    for (size_t i = 0; i < f->d.count; i++)
        if (strcmp(f->d.lines[i], want) == 0)
            return;
    print_diag(f);
    fail_msg("no message: %s", want);
}

#define HEAD "version: 1\n"

/* ------------------------------------------------------------------ */
/* a valid spec                                                        */

static void test_valid_spec(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "name: smoke\n"
                      "scenarios:\n"
                      "  steady:\n"
                      "    executor: constant-vus\n"
                      "    vus: 5\n"
                      "    duration: 1m\n"
                      "    flow:\n"
                      "      - sleep: 100ms\n"
                      "      - group: outer\n"
                      "        steps:\n"
                      "          - sleep: 1\n"
                      "          - group: inner\n"
                      "            steps:\n"
                      "              - sleep: 1.5s\n"
                      "      - sleep: 2s\n"
                      "  once:\n"
                      "    executor: per-vu-iterations\n"
                      "    vus: 2\n"
                      "    iterations: 3\n"
                      "    start_time: 10s\n"
                      "    flow: [ { sleep: 0s } ]\n"
                      "  shared:\n"
                      "    executor: shared-iterations\n"
                      "    vus: 10\n"
                      "    iterations: 4\n"
                      "    graceful_stop: 5s\n"
                      "    max_duration: 1h\n"
                      "    flow: [ { sleep: 1ms } ]\n");
    assert_string_equal(s->name, "smoke");
    assert_int_equal(s->n_scenarios, 3);
    assert_int_equal(s->n_all_scenarios, 3);
    assert_int_equal(s->n_protos, 0);
    assert_int_equal(s->n_thresholds, 0);
    assert_int_equal(s->n_outputs, 0);

    const scenario *sc = &s->scenarios[0];
    assert_string_equal(sc->name, "steady");
    assert_int_equal(sc->executor, EXEC_CONSTANT_VUS);
    assert_int_equal(sc->vus, 5);
    assert_int_equal(sc->duration_ns, 60 * SEC);
    assert_int_equal(sc->graceful_stop_ns, 30 * SEC);   /* default */
    assert_int_equal(sc->start_time_ns, 0);
    char want_loc[PATH_MAX + 16];
    snprintf(want_loc, sizeof want_loc, "%s:4:3", f->path);
    assert_string_equal(sc->location, want_loc);

    static const struct {
        op_kind kind;
        const char *group;
        int64_t sleep_ns;
    } ops[] = {
        {OP_SLEEP, "", 100 * MS},
        {OP_GROUP_ENTER, "::outer", 0},
        {OP_SLEEP, "::outer", SEC},
        {OP_GROUP_ENTER, "::outer::inner", 0},
        {OP_SLEEP, "::outer::inner", 1500 * MS},
        {OP_GROUP_EXIT, "::outer::inner", 0},
        {OP_GROUP_EXIT, "::outer", 0},
        {OP_SLEEP, "", 2 * SEC},
    };
    assert_int_equal(sc->n_ops, sizeof ops / sizeof ops[0]);
    for (size_t i = 0; i < sc->n_ops; i++) {
        if (sc->ops[i].kind != ops[i].kind)
            fail_msg("op %zu: kind %d, expected %d", i, sc->ops[i].kind, ops[i].kind);
        assert_string_equal(sc->ops[i].group, ops[i].group);
        assert_int_equal(sc->ops[i].sleep_ns, ops[i].sleep_ns);
        assert_non_null(sc->ops[i].location);
    }
    snprintf(want_loc, sizeof want_loc, "%s:9:16", f->path);
    assert_string_equal(sc->ops[0].location, want_loc);   /* the sleep value */
    snprintf(want_loc, sizeof want_loc, "%s:10:9", f->path);
    assert_string_equal(sc->ops[1].location, want_loc);   /* the group step */
    assert_string_equal(sc->ops[6].location, want_loc);

    sc = &s->scenarios[1];
    assert_string_equal(sc->name, "once");
    assert_int_equal(sc->executor, EXEC_PER_VU_ITERATIONS);
    assert_int_equal(sc->vus, 2);
    assert_int_equal(sc->iterations, 3);
    assert_int_equal(sc->max_duration_ns, 10 * 60 * SEC);   /* default */
    assert_int_equal(sc->graceful_stop_ns, 30 * SEC);
    assert_int_equal(sc->start_time_ns, 10 * SEC);
    assert_int_equal(sc->n_ops, 1);
    assert_int_equal(sc->ops[0].sleep_ns, 0);

    sc = &s->scenarios[2];
    assert_int_equal(sc->executor, EXEC_SHARED_ITERATIONS);
    assert_int_equal(sc->iterations, 4);
    assert_int_equal(sc->vus, 4);   /* capped at the iteration count, as k6 does */
    assert_int_equal(sc->graceful_stop_ns, 5 * SEC);
    assert_int_equal(sc->max_duration_ns, 3600 * SEC);
}

static void test_defaults_of_a_minimal_spec(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n");
    /* No name: the file name. */
    assert_string_equal(s->name, "spec.yaml");
    const scenario *sc = &s->scenarios[0];
    assert_int_equal(sc->vus, 1);
    assert_int_equal(sc->iterations, 1);
    assert_int_equal(sc->max_duration_ns, 600 * SEC);
    assert_int_equal(sc->graceful_stop_ns, 30 * SEC);
    assert_int_equal(sc->duration_ns, 0);
}

/* ------------------------------------------------------------------ */
/* the document                                                        */

static void test_version(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f,
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
               ":1:1: error: (top level): missing required key \"version\" (write version: 1)");
    LOAD_FAILS(f,
               "version: 2\n"
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
               ":1:10: error: version: expected 1 (the only spec format version), got 2");
    LOAD_FAILS(f,
               "version: \"1\"\n"
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
               ":1:10: error: version: expected 1 (the only spec format version), got 1");
}

static void test_yaml_syntax_error(void **state)
{
    fx *f = *state;
    /* Where the parser noticed, and where the construct started. */
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: [constant-vus\n"
               "    flow: []\n",
               ":5:9: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
               "sequence that started at line 4 column 15)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    executor: constant-vus\n",
               ":5:5: error: duplicate key \"executor\" (first on line 4)");
}

static void test_empty_and_non_mapping(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, "", ":1:1: error: (top level): the spec is empty; expected a mapping with version "
                      "and scenarios");
    LOAD_FAILS(f, "- a\n- b\n", ":1:1: error: (top level): expected a mapping with version, "
                                "scenarios, ...; got sequence");
    LOAD_FAILS(f, HEAD, ":1:1: error: (top level): missing required key \"scenarios\" (at least one "
                        "scenario with an executor and a flow)");
    LOAD_FAILS(f, HEAD "scenarios: {}\n", ":2:12: error: scenarios: expected at least one scenario");
}

static void test_missing_file(void **state)
{
    fx *f = *state;
    f->s = spec_load("/nonexistent/x.yaml", &f->o, &f->core.plugins, &f->core.reg, &f->core.host,
                     &f->core, &f->d);
    assert_null(f->s);
    assert_true(f->d.count >= 1);
    assert_non_null(strstr(f->d.lines[0], "/nonexistent/x.yaml"));
}

static void test_unknown_top_level_key(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarois:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
               ":2:1: error: (top level): unknown key \"scenarois\" (did you mean \"scenarios\"?); "
               "valid keys: version, name, include, services, defaults, pools, metrics, setup, teardown, scenarios, thresholds, outputs",
               ":1:1: error: (top level): missing required key \"scenarios\" (at least one "
               "scenario with an executor and a flow)");
}

static void test_data_key_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "metrics: { my_rate: rates, http_reqs: counter, 9lives: counter }\n"
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, use: nope, flow: [ { sleep: 1s } ] }\n",
               ":2:21: error: metrics.my_rate: expected counter, gauge, rate or trend (or { type, contains })",
               ":2:28: error: metrics.http_reqs: this prefix is reserved for built-in metrics",
               ":2:48: error: metrics.9lives: expected a name of letters, digits and _ (not starting with a digit), at most 128",
               ":4:42: error: scenarios.s.use: no pool named \"nope\" (declare it under pools:)");
}

static void test_pool_picks(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "pools:\n"
                      "  a: { rows: [ { k: 1 } ] }\n"
                      "  b: { rows: [ { k: 1 } ], pick: per-vu }\n"
                      "  c: { rows: [ { k: 1 } ], pick: sequential }\n"
                      "  d: { rows: [ { k: 1 } ], pick: random }\n"
                      "  e: { rows: [ { k: 1 } ], pick: \"unique\" }\n"
                      "scenarios:\n"
                      "  s: { executor: per-vu-iterations, use: e, flow: [ { sleep: 1s } ] }\n");
    assert_int_equal(s->n_pools, 5);
    assert_int_equal(s->pools[0].pick, PICK_SEQUENTIAL);
    assert_int_equal(s->pools[1].pick, PICK_PER_VU);
    assert_int_equal(s->pools[2].pick, PICK_SEQUENTIAL);
    assert_int_equal(s->pools[3].pick, PICK_RANDOM);
    assert_int_equal(s->pools[4].pick, PICK_UNIQUE);
    assert_int_equal(s->scenarios[0].n_pools, 1);
    assert_int_equal(s->scenarios[0].pools[0], 4);
}

/* Each pool's errors at their place, all of them (pools.h: its pick and its
 * rows). Keys and pick are checked by an option map. */
static void test_pool_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "pools:\n"
               "  a: 5\n"
               "  b: { rows: [ { k: 1 } ], pik: random }\n"
               "  c: { rows: [ { k: 1 } ], pick: randm }\n"
               "  d: { rows: [ { k: 1 } ], pick: [ random ] }\n"
               "  e: { pick: per-vu }\n"
               "  f: { rows: [ { k: 1 } ], file: x.csv }\n"
               "  g: { file: { x: 1 } }\n"
               "  h: { rows: [ 1 ], pick: bogus }\n"
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
               ":3:6: error: pools.a: expected a mapping, got integer",
               ":4:28: error: pools.b: unknown key \"pik\" (did you mean \"pick\"?); valid keys: file, pick, rows",
               ":5:34: error: pools.c.pick: unknown value \"randm\"; expected one of: per-vu, sequential, "
               "random, unique (did you mean \"random\"?)",
               ":6:34: error: pools.d.pick: expected one of: per-vu, sequential, random, unique; got sequence",
               ":7:6: error: pools.e: expected exactly one of rows (a list of mappings) or file (a .csv or .json path)",
               ":8:6: error: pools.f: expected exactly one of rows (a list of mappings) or file (a .csv or .json path)",
               ":9:14: error: pools.g.file: expected a string, got mapping",
               ":10:27: error: pools.h.pick: unknown value \"bogus\"; expected one of: per-vu, sequential, "
               "random, unique",
               ":10:16: error: pools.h.rows[0]: expected a mapping of field names to values, got integer");
}

static void test_records(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "metrics: { a: rate, b: counter, c: trend, d: gauge, e: rate, g: trend }\n"
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - noop: {}\n"
                      "        capture: { amt: json.a }\n"
                      "        record:\n"
                      "          a: checks\n"
                      "          b: 2.5\n"
                      "          c: { value: duration }\n"
                      "          d: { value: status, when: passed }\n"
                      "          e: { when: failed, value: checks_failed }\n"
                      "          g: { value: \"${amt}\", when: always }\n");
    const flow_op *op = &s->scenarios[0].ops[0];
    assert_int_equal(op->n_records, 6);
    static const struct {
        rec_source source;
        rec_when when;
    } want[] = {{REC_CHECKS, REC_ALWAYS}, {REC_CONST, REC_ALWAYS}, {REC_DURATION, REC_ALWAYS},
                {REC_STATUS, REC_PASSED}, {REC_CHECKS_FAILED, REC_FAILED},
                {REC_TEMPLATE, REC_ALWAYS}};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(op->records[i].source, want[i].source);
        assert_int_equal(op->records[i].when, want[i].when);
    }
    assert_true(op->records[1].value == 2.5);
    assert_non_null(op->records[5].tmpl);
}

/* record: METRIC: SOURCE or { value: SOURCE, when: ... }, whose keys and
 * their types an option map checks. */
static void test_record_errors(void **state)
{
#define SOURCES "expected checks, checks_failed, duration, elapsed, status, timings.NAME (blocked, " \
                "connecting, tls_handshaking, sending, waiting, receiving, duration), bytes.sent, " \
                "bytes.received, a number, a ${...} template or { value, when, tags }"
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "metrics: { m: rate }\n"
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop: {}\n"
               "        record:\n"
               "          nope: checks\n"
               "          m: yes\n"
               "      - noop: {}\n"
               "        record: { m: ~ }\n"
               "      - noop: {}\n"
               "        record: { m: { value: checks, whn: failed } }\n"
               "      - noop: {}\n"
               "        record: { m: { value: checks, when: pased } }\n"
               "      - noop: {}\n"
               "        record: { m: { when: failed } }\n"
               "      - noop: {}\n"
               "        record: { m: { value: [ 1 ] } }\n"
               "      - noop: {}\n"
               "        record: { m: { value: chcks } }\n",
               ":9:11: error: scenarios.s.flow[0].record.nope: \"nope\" is not a custom metric (declare "
               "it under metrics: with a type)",
               ":10:14: error: scenarios.s.flow[0].record.m: " SOURCES ", got \"yes\"",
               ":12:22: error: scenarios.s.flow[1].record.m: " SOURCES,
               ":14:39: error: scenarios.s.flow[2].record.m: unknown key \"whn\" (did you mean \"when\"?); "
               "valid keys: value, when, tags",
               ":16:45: error: scenarios.s.flow[3].record.m.when: unknown value \"pased\"; expected one "
               "of: always, passed, failed (did you mean \"passed\"?)",
               ":18:22: error: scenarios.s.flow[4].record.m: missing required key \"value\" (checks, "
               "checks_failed, duration, elapsed, status, timings.NAME, bytes.sent, bytes.received, "
               "a number or a ${...} template)",
               ":20:31: error: scenarios.s.flow[5].record.m.value: expected a scalar (string, number, "
               "boolean or null), got sequence",
               ":22:31: error: scenarios.s.flow[6].record.m: " SOURCES ", got \"chcks\"");
#undef SOURCES
}

/* ------------------------------------------------------------------ */
/* scenarios                                                           */

static void test_unknown_executor(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: externally-controlled\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":4:15: error: scenarios.s.executor: unknown value \"externally-controlled\"; expected one of: "
               "constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, "
               "per-vu-iterations, shared-iterations");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iteration\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":4:15: error: scenarios.s.executor: unknown value \"per-vu-iteration\"; expected one "
               "of: constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations, shared-iterations (did you mean "
               "\"per-vu-iterations\"?)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    vus: 1\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":4:5: error: scenarios.s: missing required key \"executor\" (how load is generated: "
               "constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations, shared-iterations)");
}

static void test_options_per_executor(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    duration: 10s\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:15: error: scenarios.s.duration: does not apply to executor per-vu-iterations");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    duration: 10s\n"
               "    iterations: 5\n"
               "    max_duration: 1m\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":6:17: error: scenarios.s.iterations: does not apply to executor constant-vus",
               ":7:19: error: scenarios.s.max_duration: does not apply to executor constant-vus");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    vus: 3\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":4:5: error: scenarios.s: executor constant-vus needs \"duration\" (how long constant-vus or constant-arrival-rate runs)");
}

static void test_bad_values(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    duration: -5s\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:15: error: scenarios.s.duration: expected a duration such as 500ms, 10s, 1m30s or "
               "2h; got \"-5s\" (negative durations are not allowed)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    duration: 1m\n"
               "    vus: ten\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":6:10: error: scenarios.s.vus: expected an integer, got string \"ten\"");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    vus: 0\n"
               "    iterations: 1.5\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:10: error: scenarios.s.vus: expected a value between 1 and 1000000, got 0",
               ":6:17: error: scenarios.s.iterations: expected an integer, got number \"1.5\"");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s: [ sleep ]\n",
               ":3:6: error: scenarios.s: expected a mapping, got sequence");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    vuss: 2\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:5: error: scenarios.s: unknown key \"vuss\" (did you mean \"vus\"?); valid keys: "
               "executor, vus, iterations, duration, max_duration, graceful_stop, start_time, stages, "
               "start_vus, graceful_ramp_down, rate, start_rate, time_unit, pre_allocated_vus, max_vus, pacing, tag_stage, flow, use, env, tags");
    /* Duration limits are written as the docs write them. */
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    duration: 400d\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:15: error: scenarios.s.duration: expected a duration such as 500ms, 10s, 1m30s or "
               "2h; got \"400d\" (unknown unit; use h, m, s, ms, us or ns)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: constant-vus\n"
               "    duration: 9000h\n"
               "    time_unit: 25h\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:15: error: scenarios.s.duration: expected a duration between 1us and 365 days, got 9000h",
               ":6:16: error: scenarios.s.time_unit: expected a duration between 1us and 24h, got 25h");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: ramping-vus\n"
               "    stages: [ { duration: 9000h, target: 1 } ]\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:27: error: scenarios.s.stages[0].duration: expected a duration between 0s and 365 days, "
               "got 9000h");
}

/* k6's instant load increase: a 0s stage jumps to its target. */
static void test_zero_length_stages(void **state)
{
    fx *f = *state;
    spec *s = load(f, HEAD
                   "scenarios:\n"
                   "  jump:\n"
                   "    executor: ramping-vus\n"
                   "    stages: [ { duration: 0s, target: 20 }, { duration: 10s, target: 20 } ]\n"
                   "    flow: [ { sleep: 1s } ]\n"
                   "  rate:\n"
                   "    executor: ramping-arrival-rate\n"
                   "    pre_allocated_vus: 5\n"
                   "    stages: [ { duration: 5s, target: 10 }, { duration: 0, target: 100 }, "
                   "{ duration: 5s, target: 100 } ]\n"
                   "    flow: [ { sleep: 1s } ]\n");
    if (!s)
        print_diag(f);
    assert_non_null(s);
    assert_int_equal(scenario_max_vus(&s->scenarios[0]), 20);
    assert_int_equal(scenario_length_ns(&s->scenarios[0]), INT64_C(10000000000));
    assert_int_equal(scenario_length_ns(&s->scenarios[1]), INT64_C(10000000000));
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: ramping-vus\n"
               "    stages: [ { duration: 0s, target: 5 } ]\n"
               "    flow: [ { sleep: 1s } ]\n",
               ":5:13: error: scenarios.s.stages: every stage lasts 0s; at least one needs a duration "
               "(a 0s stage jumps to its target at once)");
}

/* ------------------------------------------------------------------ */
/* flow                                                                */

static void test_flow_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow: []\n",
               ":5:11: error: scenarios.s.flow: expected at least one step");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n",
               ":4:5: error: scenarios.s: missing required key \"flow\" (the steps each iteration runs)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow: { sleep: 1s }\n",
               ":5:11: error: scenarios.s.flow: expected a list of steps, got mapping");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - slep: 1s\n",
               ":6:9: error: scenarios.s.flow[0]: unknown step key \"slep\" (did you mean "
               "\"sleep\"?); valid keys: group, sleep, once, if, choose, repeat, for_each, batch, abort, log, check, capture, "
               "record, on_check_fail, tags, noop");
    /* batch: only steps of protocols that run in batches (step_host) */
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - batch:\n"
               "          - noop: {}\n"
               "          - sleep: 1s\n"
               "      - batch: { steps: [ { noop: {} } ], max_parallel_per_host: -1 }\n",
               ":7:13: error: scenarios.s.flow[0].batch[0]: a \"noop\" step cannot run in a batch "
               "(its plugin, testproto, does not support batches)",
               ":8:13: error: scenarios.s.flow[0].batch[1]: a batch holds requests only (such as "
               "http steps); \"sleep\" cannot be in a batch",
               ":9:66: error: scenarios.s.flow[1].batch.max_parallel_per_host: expected a value "
               "between 0 and 1024, got -1");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - sleep: 1s\n"
               "      - {}\n",
               ":7:9: error: scenarios.s.flow[1]: a step needs an action: http, group, sleep, once, batch, if, "
               "choose, repeat, for_each, abort, log, check (or another protocol plugin's key)");
}

static void test_group_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - group: login\n",
               ":6:9: error: scenarios.s.flow[0]: missing required key \"steps\" (the group's flow)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - group: login\n"
               "        steps: []\n",
               ":7:16: error: scenarios.s.flow[0].steps: expected at least one step");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - group: a::b\n"
               "        steps: [ { sleep: 1s } ]\n",
               ":6:16: error: scenarios.s.flow[0].group: a group name must not contain \"::\"");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - group: g\n"
               "        stesp: [ { sleep: 1s } ]\n",
               ":7:9: error: scenarios.s.flow[0]: unknown key \"stesp\" (did you mean \"steps\"?); "
               "valid keys: group, steps",
               ":6:9: error: scenarios.s.flow[0]: missing required key \"steps\" (the group's flow)");
    /* Errors inside a group carry the nested path. */
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - group: g\n"
               "        steps:\n"
               "          - sleep: soon\n",
               ":8:20: error: scenarios.s.flow[0].steps[0].sleep: expected a duration such as "
               "500ms, 10s, 1m30s or 2h, got \"soon\"");
}

/* ------------------------------------------------------------------ */
/* control steps: if, choose, repeat, for_each (flow_ctl.c)            */

#define FLOW_HEAD HEAD "scenarios:\n  s:\n    executor: per-vu-iterations\n    flow:\n"

static void test_flow_ctl_ops(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, FLOW_HEAD
                      "      - noop: a\n"                                   /* 0 */
                      "        capture: { list: json.items }\n"
                      "      - if: { status: [200, 201] }\n"                /* 1 IF */
                      "        steps: [ { noop: b } ]\n"                    /* 2 */
                      "        else: [ { noop: c } ]\n"                     /* 3 JUMP, 4 */
                      "      - choose:\n"                                   /* 5 CHOOSE */
                      "          - { weight: 0.3, steps: [ { noop: d } ] }\n"   /* 6, 7 JUMP */
                      "          - { weight: 0.7 }\n"
                      "      - for_each: \"${list}\"\n"                     /* 8 LOOP */
                      "        steps:\n"
                      "          - repeat: 2\n"                             /* 9 LOOP */
                      "            as: i\n"
                      "            steps: [ { noop: { json: \"${item.id}-${i}-${loop.index}\" } } ]\n"   /* 10 */
                      "          - noop: { json: \"${item}-${item.id}-${loop.index}\" }\n"   /* 11 NEXT, 12 */
                      "      - noop: e\n");                                 /* 13 NEXT, 14 */
    const scenario *sc = &s->scenarios[0];
    assert_int_equal(sc->n_ops, 15);
    const flow_op *o = sc->ops;
    assert_int_equal(o[1].kind, OP_CTL);
    assert_int_equal(o[1].ctl->kind, FC_IF);
    assert_int_equal(o[1].ctl->target, 4);      /* false: the else branch */
    assert_int_equal(o[3].ctl->kind, FC_JUMP);
    assert_int_equal(o[3].ctl->target, 5);      /* then-branch done: past the else */
    assert_int_equal(o[5].ctl->kind, FC_CHOOSE);
    assert_int_equal(o[5].ctl->n_branches, 2);
    assert_int_equal(o[5].ctl->start[0], 6);
    assert_int_equal(o[5].ctl->start[1], 8);    /* a branch without steps: the end */
    assert_true(o[5].ctl->cum[1] > 0.99 && o[5].ctl->cum[1] < 1.01);
    assert_int_equal(o[7].ctl->target, 8);
    const flow_loop *outer = o[8].ctl->loop, *inner = o[9].ctl->loop;
    assert_int_equal(o[8].ctl->kind, FC_LOOP);
    assert_true(outer->each && outer->list_tmpl && outer->level == 0);
    assert_int_equal(outer->body, 9);
    assert_int_equal(outer->after, 14);
    assert_ptr_equal(o[13].ctl->loop, outer);
    assert_int_equal(o[13].ctl->kind, FC_NEXT);
    assert_false(inner->each);
    assert_int_equal(inner->level, 1);
    assert_int_equal(inner->count, 2);
    assert_int_equal(inner->body, 10);
    assert_int_equal(inner->after, 12);
    /* Slots: the capture (0), then the loops' names in the order first
     * seen: item (1), i (2), item.id (3), the inner loop.index is i's
     * slot, the outer loop.index (4). */
    assert_int_equal(outer->item_slot, 1);
    assert_int_equal(inner->item_slot, 2);
    assert_int_equal(inner->index_slot, 2);
    assert_int_equal(outer->n_fields, 1);
    assert_int_equal(outer->fields[0].slot, 3);
    assert_string_equal(outer->fields[0].keys[0], "id");
    assert_int_equal(outer->index_slot, 4);
    assert_int_equal(sc->n_caps, 5);
    /* Control ops sit in the group they are written in. */
    s = load_ok(f, FLOW_HEAD
                "      - group: g\n"
                "        steps:\n"
                "          - repeat: \"${env.N:-3}\"\n"
                "            steps: [ { noop: a } ]\n");
    sc = &s->scenarios[0];
    assert_int_equal(sc->n_ops, 5);
    assert_string_equal(sc->ops[1].group, "::g");
    assert_int_equal(sc->ops[1].ctl->loop->count, 3);   /* folded at load time */
    assert_null(sc->ops[1].ctl->loop->count_tmpl);
    assert_int_equal(sc->n_caps, 0);
}

static void test_flow_ctl_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, FLOW_HEAD "      - if: { value: \"${vu.id}\", equals: 1 }\n",
               ":6:9: error: scenarios.s.flow[0]: missing required key \"steps\" (what runs when the "
               "condition holds): if: CONDITION, steps: [...], else: [...]");
    LOAD_FAILS(f, FLOW_HEAD "      - if: { value: \"${vu.id}\", status: 200 }\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:13: error: scenarios.s.flow[0].if: a condition has more than one of value, status "
               "and chance; expected { value: TEMPLATE, COMPARISON: ... }, { status: CODE | [CODES] | "
               "{ COMPARISON: ... } } or { chance: P }");
    LOAD_FAILS(f, FLOW_HEAD "      - if: { value: \"${vu.id}\", equal: 1 }\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:34: error: scenarios.s.flow[0].if: unknown condition key \"equal\" (did you mean "
               "\"equals\"?); valid keys: value, status, chance, equals, not_equals, in, not_in, gt, "
               "gte, lt, lte, contains, not_contains, matches, empty");
    LOAD_FAILS(f, FLOW_HEAD "      - if: [ { value: \"${vu.id}\" } ]\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:15: error: scenarios.s.flow[0].if[0]: value needs a comparison beside it (equals, "
               "not_equals, in, not_in, gt, gte, lt, lte, contains, not_contains, matches or empty)");
    LOAD_FAILS(f, FLOW_HEAD "      - if: { status: [200, 700] }\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:29: error: scenarios.s.flow[0].if.status: expected a status code from 0 (no "
               "response) to 599, a list of them or { COMPARISON: ... }");
    LOAD_FAILS(f, FLOW_HEAD "      - if: { chance: 1.5 }\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:23: error: scenarios.s.flow[0].if.chance: expected a probability from 0 to 1, got 1.5");
    LOAD_FAILS(f, FLOW_HEAD "      - if: { value: \"${nope}\", empty: true }\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:22: error: scenarios.s.flow[0].if.value: unknown template name \"nope\"; expected "
               "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, vu.iteration, "
               "scenario.name, random.int(a,b), random.float(a,b), random.pick(x,y,...), "
               "random.string(n), uuid(), now.ms, now.iso or a function: base64(x), base64decode(x), hex(x), "
               "urlencode(x), sha256(x), hmac('sha256', key, data) ...");
    LOAD_FAILS(f, FLOW_HEAD "      - choose:\n"
                            "          - { weight: 0, steps: [ { noop: a } ] }\n",
               ":7:23: error: scenarios.s.flow[0].choose[0].weight: expected a number greater than 0, "
               "got \"0\"");
    LOAD_FAILS(f, FLOW_HEAD "      - choose: { weight: 1 }\n",
               ":6:17: error: scenarios.s.flow[0].choose: expected a list of 1 to 64 branches: - { "
               "weight: 3, steps: [...] }");
    LOAD_FAILS(f, FLOW_HEAD "      - repeat: 2000\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:17: error: scenarios.s.flow[0].repeat: 2000 passes is more than the loop's max "
               "(1000); raise max: (up to 1000000)");
    LOAD_FAILS(f, FLOW_HEAD "      - repeat: lots\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:17: error: scenarios.s.flow[0].repeat: expected a count (an integer of 0 or more) "
               "or a ${...} template giving one, got lots");
    LOAD_FAILS(f, FLOW_HEAD "      - repeat: 3\n"
                            "        max: 0\n"
                            "        steps: [ { noop: a } ]\n",
               ":7:14: error: scenarios.s.flow[0].max: expected the most passes, an integer from 1 to "
               "1000000");
    LOAD_FAILS(f, FLOW_HEAD "      - for_each: abc\n"
                            "        steps: [ { noop: a } ]\n",
               ":6:19: error: scenarios.s.flow[0].for_each: expected a list, or a ${...} template "
               "giving a JSON array (a captured array, a pool field), got abc");
    LOAD_FAILS(f, FLOW_HEAD "      - for_each: [1, 2]\n"
                            "        as: row\n"
                            "        steps: [ { noop: a } ]\n",
               ":7:13: error: scenarios.s.flow[0].as: \"row\" is a template namespace; choose another "
               "name");
    LOAD_FAILS(f, FLOW_HEAD "      - noop: a\n"
                            "        capture: { x: json.x }\n"
                            "      - for_each: [1, 2]\n"
                            "        as: x\n"
                            "        steps: [ { noop: a } ]\n",
               ":9:13: error: scenarios.s.flow[1].as: \"x\" is also a captured name in this scenario; "
               "choose another name");
    /* A loop's names exist inside its steps only. */
    LOAD_FAILS(f, FLOW_HEAD "      - for_each: [1, 2]\n"
                            "        steps: [ { noop: a } ]\n"
                            "      - noop: { json: \"${loop.index}\" }\n",
               ":8:23: error: scenarios.s.flow[1].noop.json: unknown template name \"loop.index\"; expected "
               "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, vu.iteration, "
               "scenario.name, random.int(a,b), random.float(a,b), random.pick(x,y,...), "
               "random.string(n), uuid(), now.ms, now.iso or a function: base64(x), base64decode(x), hex(x), "
               "urlencode(x), sha256(x), hmac('sha256', key, data) ...");
    /* repeat's variable is a number: it has no fields. */
    load_fails_with(f, FLOW_HEAD "      - repeat: 2\n"
                                 "        as: i\n"
                                 "        steps: [ { noop: { json: \"${i.x}\" } } ]\n",
                    ":8:34: error: scenarios.s.flow[0].steps[0].noop.json: unknown template name \"i.x\"; "
                    "expected env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, "
                    "vu.iteration, scenario.name, random.int(a,b), random.float(a,b), "
                    "random.pick(x,y,...), random.string(n), uuid(), now.ms, now.iso or a function: base64(x), "
                    "base64decode(x), hex(x), urlencode(x), sha256(x), hmac('sha256', key, data) ...");
    /* Nine loops deep. */
    char deep[4096];
    int n = snprintf(deep, sizeof deep, "%s", FLOW_HEAD);
    for (int i = 0; i < 9; i++)
        n += snprintf(deep + n, sizeof deep - (size_t)n, "%*s- repeat: 1\n%*s  steps:\n", 6 + 4 * i,
                      "", 6 + 4 * i, "");
    snprintf(deep + n, sizeof deep - (size_t)n, "%*s- noop: a\n", 6 + 4 * 9, "");
    load_fails_with(f, deep, ":22:41: error: scenarios.s.flow[0].steps[0].steps[0].steps[0].steps[0]."
                             "steps[0].steps[0].steps[0].steps[0]: loops nested deeper than 8");
    /* Captures inside branches and loops get their slots. */
    spec *s = load_ok(f, FLOW_HEAD
                      "      - if: { chance: 0.5 }\n"
                      "        steps: [ { noop: a } ]\n"
                      "        else: [ { noop: b, capture: { in_else: json.x } } ]\n"
                      "      - choose:\n"
                      "          - { weight: 1, steps: [ { noop: c, capture: { in_branch: json.x } } ] }\n"
                      "      - repeat: 2\n"
                      "        steps: [ { noop: d, capture: { in_loop: json.x } } ]\n"
                      "      - noop: { json: \"${in_else}${in_branch}${in_loop}\" }\n");
    assert_int_equal(s->scenarios[0].n_caps, 3);
}

static void test_sleep_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - sleep: -1s\n",
               ":6:16: error: scenarios.s.flow[0].sleep: expected a duration such as 500ms, 10s, "
               "1m30s or 2h, got \"-1s\"");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - sleep: [1s]\n",
               ":6:16: error: scenarios.s.flow[0].sleep: expected a duration such as 500ms, 10s, "
               "1m30s or 2h, got sequence");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - sleep: 1s\n"
               "        name: nap\n",
               ":6:9: error: scenarios.s.flow[0]: a sleep step takes no other keys");
}

/* `- log: TEXT` (k6's console.log) with `level:`: an OP_LOG whose text is
 * a template, rendered at run time. */
static void test_log_steps(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - log: plain text\n"
                      "      - log: \"vu ${vu.id}: ${sha1('x')}\"\n"
                      "        level: warn\n"
                      "      - group: g\n"
                      "        steps:\n"
                      "          - log: 42\n"
                      "            level: debug\n");
    const scenario *sc = &s->scenarios[0];
    assert_int_equal(sc->n_ops, 5);
    assert_int_equal(sc->ops[0].kind, OP_LOG);
    assert_int_equal(sc->ops[0].log_level, CONLOG_INFO);
    assert_string_equal(tmpl_const(sc->ops[0].log_text), "plain text");
    assert_int_equal(sc->ops[1].kind, OP_LOG);
    assert_int_equal(sc->ops[1].log_level, CONLOG_WARN);
    assert_null(tmpl_const(sc->ops[1].log_text));   /* rendered per VU */
    assert_int_equal(sc->ops[3].kind, OP_LOG);
    assert_int_equal(sc->ops[3].log_level, CONLOG_DEBUG);
    assert_string_equal(sc->ops[3].group, "::g");
    assert_string_equal(tmpl_const(sc->ops[3].log_text), "42");
}

static void test_log_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - log: ~\n"
               "      - log: [a]\n"
               "      - log: x\n"
               "        levle: warn\n"
               "      - log: x\n"
               "        level: trace\n"
               "      - log: \"${nope}\"\n"
               "      - log: x\n"
               "        tags: { a: b }\n"
               "      - level: warn\n"
               "      - batch:\n"
               "          - log: x\n",
               ":6:14: error: scenarios.s.flow[0].log: expected a string, got null",
               ":7:14: error: scenarios.s.flow[1].log: expected a string, got sequence",
               ":9:9: error: scenarios.s.flow[2]: unknown key \"levle\" (did you mean \"level\"?); "
               "valid keys: log, level",
               ":11:16: error: scenarios.s.flow[3].level: unknown value \"trace\"; expected one of: "
               "info, warn, error, debug",
               ":12:14: error: scenarios.s.flow[4].log: unknown template name \"nope\"; expected "
               "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, vu.iteration, "
               "scenario.name, random.int(a,b), random.float(a,b), random.pick(x,y,...), "
               "random.string(n), uuid(), now.ms, now.iso or a function: base64(x), base64decode(x), "
               "hex(x), urlencode(x), sha256(x), hmac('sha256', key, data) ...",
               ":14:9: error: scenarios.s.flow[5]: unknown key \"tags\"; valid keys: log, level",
               ":15:9: error: scenarios.s.flow[6]: unknown step key \"level\"; valid keys: group, "
               "sleep, once, if, choose, repeat, for_each, batch, abort, log, check, capture, record, "
               "on_check_fail, tags, noop",
               ":17:13: error: scenarios.s.flow[7].batch[0]: a batch holds requests only (such as "
               "http steps); \"log\" cannot be in a batch");
}

/* A batch holds requests only: a step of any other action (which would
 * make no OP_STEP) is refused at its place, never compiled into it. */
static void test_batch_refuses_other_actions(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - batch:\n"
               "          - abort: x\n"
               "          - check: { name: a, value: true }\n"
               "          - if: { chance: 1 }\n"
               "            steps: [ { noop: {} } ]\n"
               "          - repeat: 2\n"
               "            steps: [ { noop: {} } ]\n"
               "          - choose: [ { weight: 1, steps: [ { noop: {} } ] } ]\n"
               "          - for_each: [a]\n"
               "            steps: [ { noop: {} } ]\n",
               ":7:13: error: scenarios.s.flow[0].batch[0]: a batch holds requests only (such as "
               "http steps); \"abort\" cannot be in a batch",
               ":8:13: error: scenarios.s.flow[0].batch[1]: a batch holds requests only (such as "
               "http steps); \"check\" cannot be in a batch",
               ":9:13: error: scenarios.s.flow[0].batch[2]: a batch holds requests only (such as "
               "http steps); \"if\" cannot be in a batch",
               ":11:13: error: scenarios.s.flow[0].batch[3]: a batch holds requests only (such as "
               "http steps); \"repeat\" cannot be in a batch",
               ":13:13: error: scenarios.s.flow[0].batch[4]: a batch holds requests only (such as "
               "http steps); \"choose\" cannot be in a batch",
               ":14:13: error: scenarios.s.flow[0].batch[5]: a batch holds requests only (such as "
               "http steps); \"for_each\" cannot be in a batch");
}

/* ------------------------------------------------------------------ */
/* protocol steps and checks (through the no-op helper protocol)       */

typedef struct noop_step_view {
    struct {
        uint64_t set;
        const char *name;
        volley_template_map headers;
        int64_t timeout;
        const volley_json *json;
        bool reject;
        const volley_checks *each;
        struct {
            uint64_t set;
            const volley_captures *capture;
        } expect;
        const char *file;
        struct {
            uint64_t set;
            const char *ca_file;
            bool insecure_skip_verify;
            const char *client_cert, *client_key, *server_name, *min_version;
        } tls;
    } cfg;
    char scenario[64];
    char group[128];
    char location[128];
} noop_step_view;

static void test_steps_and_checks(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "defaults:\n"
                      "  headers: { Accept: application/json, X-Env: a }\n"
                      "  timeout: 5s\n"
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - group: api\n"
                      "        steps:\n"
                      "          - noop:\n"
                      "              name: create\n"
                      "              headers: { x-env: b }\n"
                      "              json:\n"
                      "                id: ${vu.id}\n"
                      "            check:\n"
                      "              - name: created\n"
                      "                status: [200, 202]\n"
                      "              - name: has id\n"
                      "                json: { path: id, exists: true }\n"
                      "                body: transaction\n"
                      "      - noop: plain\n"
                      "        check: { name: ok, status: 200 }\n");
    assert_int_equal(s->n_protos, 1);
    assert_string_equal(s->protos[0].plugin->desc->name, "testproto");
    const scenario *sc = &s->scenarios[0];
    assert_int_equal(sc->n_ops, 4);
    assert_int_equal(sc->ops[0].kind, OP_GROUP_ENTER);
    const flow_op *op = &sc->ops[1];
    assert_int_equal(op->kind, OP_STEP);
    assert_string_equal(op->group, "::api");
    assert_int_equal(op->proto, 0);
    const noop_step_view *st = op->step;
    assert_string_equal(st->cfg.name, "create");
    assert_string_equal(st->scenario, "s");
    assert_string_equal(st->group, "::api");
    /* Spec defaults fill what the step leaves out; a header the step sets
     * (case-insensitively) wins. */
    assert_int_equal(st->cfg.timeout, 5 * SEC);
    assert_int_equal(st->cfg.headers.n, 2);
    assert_string_equal(st->cfg.headers.keys[0], "x-env");
    assert_string_equal(tmpl_const(st->cfg.headers.values[0]), "b");
    assert_string_equal(st->cfg.headers.keys[1], "Accept");
    assert_null(tjson_const(st->cfg.json));

    assert_int_equal(op->n_checks, 2);
    assert_string_equal(op->checks[0].name, "created");
    assert_string_equal(op->checks[0].group, "::api");
    assert_int_equal(op->checks[0].n_conds, 1);
    assert_string_equal(op->checks[0].conds[0].key->key, "status");
    assert_string_equal(op->checks[0].tags.check, "created");
    assert_int_equal(op->checks[1].n_conds, 2);
    /* Each check item has a hidden series of the checks metric. */
    const series_def *hs = &f->core.reg.series[op->checks[0].series];
    assert_true(hs->hidden);
    assert_int_equal(hs->metric, BUILTIN_CHECKS);
    assert_string_equal(hs->name, "::api::created");

    op = &sc->ops[3];
    assert_int_equal(op->kind, OP_STEP);
    assert_string_equal(op->group, "");
    st = op->step;
    assert_string_equal(st->cfg.name, "plain");   /* shorthand */
    /* The spec's defaults apply to a shorthand step too. */
    assert_int_equal(st->cfg.timeout, 5 * SEC);
    assert_int_equal(st->cfg.headers.n, 2);
    assert_string_equal(st->cfg.headers.keys[0], "Accept");
    assert_string_equal(tmpl_const(st->cfg.headers.values[1]), "a");
    assert_int_equal(op->n_checks, 1);
    assert_string_equal(f->core.reg.series[op->checks[0].series].name, "ok");
    /* The protocol registered its metric at create. */
    assert_true(metrics_find(&f->core.reg, "noop_reqs") >= 0);
}

static void test_check_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop: a\n"
               "        check:\n"
               "          - name: ok\n"
               "            stauts: 200\n"
               "          - status: 200\n"
               "          - name: nothing\n"
               "          - name: bad\n"
               "            status: [abc]\n",
               ":9:13: error: scenarios.s.flow[0].check[0]: unknown check \"stauts\" (did you mean "
               "\"status\"?); known checks: status, header, body, duration_lt, cookie, proto, url, "
               "timings, bytes, value, tls, json, name",
               ":10:13: error: scenarios.s.flow[0].check[1]: missing required key \"name\" (each "
               "check item is named)",
               ":11:13: error: scenarios.s.flow[0].check[2]: check \"nothing\" has no condition (add "
               "e.g. status: 200)",
               ":13:22: error: scenarios.s.flow[0].check[3].status.in: expected an integer, got "
               "string \"abc\"");
    /* A plugin's compile error is reported at the key's value, and the
     * plugin got that location in its step info. */
    assert_null(load(f, HEAD
                     "scenarios:\n"
                     "  s:\n"
                     "    executor: per-vu-iterations\n"
                     "    flow:\n"
                     "      - noop: { reject: true }\n"));
    assert_int_equal(f->d.count, 1);
    char want[2 * PATH_MAX + 128];
    snprintf(want, sizeof want, "%s:6:15: error: scenarios.s.flow[0].noop: rejected by test (at %s:6:15)",
             f->path, f->path);
    assert_string_equal(f->d.lines[0], want);
}

/* VOLLEY_OPT_CHECKS / VOLLEY_OPT_CAPTURES: a plugin's options compiled by
 * the core as check items and captures of the step's group; captured
 * names are slots of the scenario, visible from the next step on. */
static void test_plugin_checks_and_captures(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - group: g\n"
                      "        steps:\n"
                      "          - noop:\n"
                      "              each:\n"
                      "                - { name: has type, json: { path: type, exists: true } }\n"
                      "              expect: { capture: { tok: json.token } }\n"
                      "      - noop: { headers: { X-T: \"${tok}\" } }\n");
    const scenario *sc = &s->scenarios[0];
    assert_int_equal(sc->n_caps, 1);
    const noop_step_view *st = sc->ops[1].step;
    const volley_checks *ck = st->cfg.each;
    assert_non_null(ck);
    assert_int_equal(ck->n, 1);
    assert_string_equal(ck->items[0].name, "has type");
    assert_string_equal(ck->items[0].group, "::g");
    assert_string_equal(f->core.reg.series[ck->items[0].series].name, "::g::has type");
    const volley_captures *cp = st->cfg.expect.capture;
    assert_non_null(cp);
    assert_int_equal(cp->n, 1);
    assert_string_equal(cp->defs[0].name, "tok");
    assert_int_equal(cp->defs[0].slot, 0);
    assert_string_equal(cp->group, "::g");
    /* The host runs them on a response. */
    volley_response ok = {.status = 101, .body = "{\"type\":\"x\"}", .body_len = 12};
    volley_response bad = {.status = 101, .body = "{}", .body_len = 2};
    assert_true(f->core.host.checks_match(ck, &ok));
    assert_false(f->core.host.checks_match(ck, &bad));
    assert_true(f->core.host.checks_match(NULL, &bad));

    /* Errors are reported at their place; a name captured in the step's
     * options is not visible to the step itself. */
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop:\n"
               "          headers: { X: \"${tok}\" }\n"
               "          each: [ { name: x, stauts: 1 } ]\n"
               "          expect: { capture: { tok: json. } }\n",
               ":7:25: error: scenarios.s.flow[0].noop.headers.X: \"${tok}\" is captured by this same "
               "step; a captured name is visible from the next step on (and in this step's record)",
               ":8:30: error: scenarios.s.flow[0].noop.each[0]: unknown check \"stauts\" (did you "
               "mean \"status\"?); known checks: status, header, body, duration_lt, cookie, proto, "
               "url, timings, bytes, value, tls, json, name",
               ":9:37: error: scenarios.s.flow[0].noop.expect.capture.tok: expected json.PATH, "
               "header.NAME, cookie.NAME, jar_cookie.NAME, url, { json: PATH }, { header: NAME }, "
               "{ cookie: NAME }, { jar_cookie: NAME }, { regex: PATTERN }, { html: SELECTOR } or "
               "{ xpath: EXPR }");
}

static void test_step_option_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop: { nmae: x, timeout: fast }\n",
               ":6:17: error: scenarios.s.flow[0].noop: unknown key \"nmae\" (did you mean "
               "\"name\"?); valid keys: name, headers, timeout, json, reject, each, expect, file, "
               "tls",
               ":6:35: error: scenarios.s.flow[0].noop.timeout: expected a duration such as 500ms, "
               "10s, 1m30s or 2h; got \"fast\" (a number must come first)");
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop: a\n"
               "        sleep: 1s\n",
               ":6:9: error: scenarios.s.flow[0]: a sleep step takes no other keys");
}

/* ------------------------------------------------------------------ */
/* services and templates                                              */

static void test_services(void **state)
{
    fx *f = *state;
    setenv("VOLLEY_SPECTEST_HOST", "from-getenv", 1);
    const char *env[] = {"VOLLEY_SPECTEST_HOST=from-e", "OTHER=x"};
    f->o.env = env;
    f->o.n_env = 2;
    spec *s = load_ok(f, HEAD
                      "services:\n"
                      "  gateway:\n"
                      "    url: http://${env.VOLLEY_SPECTEST_HOST}:8080/\n"
                      "    health: /health\n"
                      "  ws: \"ws://${env.VOLLEY_SPECTEST_UNSET:-localhost}:9\"\n"
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - noop: { name: \"${services.gateway}/api\", headers: { H: "
                      "\"${services.ws}\" } }\n");
    assert_int_equal(s->n_services, 2);
    assert_string_equal(s->services[0].name, "gateway");
    /* -e beats the environment; the trailing slash is dropped. */
    assert_string_equal(s->services[0].url, "http://from-e:8080");
    assert_string_equal(s->services[0].health, "/health");
    assert_string_equal(s->services[1].url, "ws://localhost:9");
    assert_null(s->services[1].health);
    const noop_step_view *st = s->scenarios[0].ops[0].step;
    /* A STRING option is not templated; headers are. */
    assert_string_equal(st->cfg.name, "${services.gateway}/api");
    assert_string_equal(tmpl_const(st->cfg.headers.values[0]), "ws://localhost:9");

    /* Without -e the process environment is the fallback. */
    f->o.n_env = 0;
    s = load_ok(f, HEAD
                "services: { api: \"http://${env.VOLLEY_SPECTEST_HOST}\" }\n"
                "scenarios:\n"
                "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n");
    assert_string_equal(s->services[0].url, "http://from-getenv");
    unsetenv("VOLLEY_SPECTEST_HOST");
}

static void test_service_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "services:\n"
               "  a: { url: \"ftp://x\" }\n"
               "  b: { health: /h }\n"
               "  c: \"http://${vu.id}\"\n"
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop: { headers: { H: \"${services.d}\" } }\n",
               ":3:13: error: services.a.url: expected an http://, https://, ws:// or wss:// URL, got "
               "\"ftp://x\"",
               ":5:6: error: services.c.url: only ${env.NAME} templates are allowed here",
               /* the mapping-level checks of every service come second */
               ":4:6: error: services.b: missing required key \"url\" (base URL, e.g. "
               "http://localhost:8080)",
               ":10:31: error: scenarios.s.flow[0].noop.headers.H: unknown service \"d\" in "
               "\"${services.d}\" (declare it under services:)");
}

/* ------------------------------------------------------------------ */
/* thresholds                                                          */

static void test_thresholds(void **state)
{
    fx *f = *state;
    size_t series_before = f->core.reg.n_series;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
                      "thresholds:\n"
                      "  iterations: [\"count>0\", \"rate > 1\"]\n"
                      "  iteration_duration: \"p(95)<500\"\n"
                      "  \"iteration_duration{scenario:s}\":\n"
                      "    - { threshold: \"avg<100\", abort_on_fail: true, delay_abort_eval: 10s }\n"
                      "  checks: [\"rate>=0.99\"]\n");
    assert_int_equal(s->n_thresholds, 5);
    const threshold *t = &s->thresholds[0];
    assert_string_equal(t->key, "iterations");
    assert_string_equal(t->source, "count>0");
    assert_int_equal(t->metric, BUILTIN_ITERATIONS);
    assert_int_equal(t->series, f->core.reg.metrics[BUILTIN_ITERATIONS].series);
    assert_int_equal(t->expr.agg, TH_AGG_COUNT);
    assert_false(t->abort_on_fail);
    char want_loc[PATH_MAX + 16];
    snprintf(want_loc, sizeof want_loc, "%s:5:16", f->path);
    assert_string_equal(t->location, want_loc);
    assert_int_equal(s->thresholds[1].expr.agg, TH_AGG_RATE);
    assert_int_equal(s->thresholds[2].expr.agg, TH_AGG_PCT);
    assert_true(s->thresholds[2].expr.pct == 95);
    /* The sub-metric got a series of its own, filtered by scenario. */
    t = &s->thresholds[3];
    assert_string_equal(t->key, "iteration_duration{scenario:s}");
    assert_int_equal(t->metric, BUILTIN_ITERATION_DURATION);
    assert_int_equal(f->core.reg.n_series, series_before + 1);
    const series_def *sd = &f->core.reg.series[t->series];
    assert_int_equal(sd->metric, BUILTIN_ITERATION_DURATION);
    assert_int_equal(sd->n_filters, 1);
    assert_int_equal(sd->filters[0].key, TAG_SCENARIO);
    assert_string_equal(sd->filters[0].value, "s");
    assert_true(t->abort_on_fail);
    assert_int_equal(t->delay_abort_ns, 10 * SEC);
    assert_int_equal(s->thresholds[4].metric, BUILTIN_CHECKS);
    /* Outputs see the sources. */
    const volley_metric_info *info = &f->core.reg.metrics[BUILTIN_ITERATIONS].info;
    assert_int_equal(info->n_thresholds, 2);
    assert_string_equal(info->thresholds[1], "rate > 1");
}

/* k6's `p(95)<${__ENV.P95}`: ${env.*} is folded into the expression. */
static void test_threshold_env(void **state)
{
    fx *f = *state;
    const char *env[] = {"P95_MS=250"};
    f->o.env = env;
    f->o.n_env = 1;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
                      "thresholds:\n"
                      "  iteration_duration: [\"p(95)<${env.P95_MS}\", \"avg<${env.AVG_UNSET:-80}\"]\n");
    assert_int_equal(s->n_thresholds, 2);
    assert_string_equal(s->thresholds[0].source, "p(95)<250");
    assert_true(s->thresholds[0].expr.target == 250);
    assert_string_equal(s->thresholds[1].source, "avg<80");
    f->o.n_env = 0;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
               "thresholds:\n"
               "  iteration_duration: \"p(95)<${vu.id}\"\n",
               ":5:23: error: thresholds.\"iteration_duration\": only ${env.NAME} templates are "
               "allowed in a threshold");
    /* a folded value that does not parse: the error names the template */
    const char *bad[] = {"P95=abc", "AGG=p(95)"};
    f->o.env = bad;
    f->o.n_env = 2;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
               "thresholds:\n"
               "  iteration_duration: [\"p(95)<${env.P95:-200}\"]\n"
               "  iterations: [\"${env.AGG}<1\"]\n",
               ":5:24: error: thresholds.\"iteration_duration\"[0]: expected \"<aggregation> "
               "<operator> <number>\" such as \"p(95)<500\" or \"rate<0.01\"; got \"p(95)<abc\" "
               "(the right-hand side must be a non-negative number such as 500 or 0.01, or baseline "
               "(the same aggregation in the --baseline run) such as baseline*1.1 or baseline+10%) "
               "(from p(95)<${env.P95:-200})",
               ":6:16: error: thresholds.\"iterations\"[0]: \"p(95)<1\" (from ${env.AGG}<1) "
               "does not apply to iterations, a counter metric; use count, rate");
    f->o.n_env = 0;
}

static void test_threshold_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
               "thresholds:\n"
               "  iteratons: [\"count>0\"]\n"
               "  iteration_duration: [\"p95 < 10\"]\n"
               "  iterations: [\"p(95)<100\"]\n"
               "  \"iteration_duration{stauts:200}\": [\"avg<1\"]\n"
               "  vus: [{ abort_on_fail: true }]\n"
               "  checks: { threshold: \"rate>0.9\", abort_on_fail: yes }\n",
               ":5:3: error: thresholds.\"iteratons\": no metric named \"iteratons\"; did you mean "
               "\"iterations\"? (metrics come from the built-ins, the protocols used by this spec "
               "and custom metrics)",
               ":6:24: error: thresholds.\"iteration_duration\"[0]: expected \"<aggregation> "
               "<operator> <number>\" such as \"p(95)<500\" or \"rate<0.01\"; got \"p95 < 10\" "
               "(unknown aggregation; use avg, min, max, med, p(N), rate, count or value)",
               ":7:16: error: thresholds.\"iterations\"[0]: \"p(95)<100\" does not apply to "
               "iterations, a counter metric; use count, rate",
               ":8:3: error: thresholds.\"iteration_duration{stauts:200}\": unknown tag \"stauts\" "
               "in sub-metric filter; known tags: name, method, url, status, expected_response, "
               "check, error_code, scenario, group, tls_version, capture (and --tag names and keys of steps' and scenarios' tags:)",
               ":9:9: error: thresholds.\"vus\"[0]: missing required key \"threshold\" (expression "
               "such as p(95)<500)",
               ":10:51: error: thresholds.\"checks\".abort_on_fail: expected true or false, got "
               "string \"yes\"");
    /* Short names get suggestions too (a swap of two letters is one typo). */
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
               "thresholds:\n"
               "  \"vsu{scenario:s}\": [\"value<10\"]\n",
               ":5:3: error: thresholds.\"vsu{scenario:s}\": no metric named \"vsu\"; did you mean "
               "\"vus\"? (metrics come from the built-ins, the protocols used by this spec and custom "
               "metrics)");
}

/* allow_no_data: off by default; on a counter it does nothing, said by a
 * warning that does not stop the spec from loading. */
static void test_threshold_allow_no_data(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
                      "thresholds:\n"
                      "  iteration_duration: [\"p(95)<500\", { threshold: \"avg<1\", allow_no_data: true }]\n"
                      "  iterations: [{ threshold: \"count>0\", allow_no_data: true }]\n");
    assert_int_equal(s->n_thresholds, 3);
    assert_false(s->thresholds[0].allow_no_data);
    assert_true(s->thresholds[1].allow_no_data);
    assert_true(s->thresholds[2].allow_no_data);
    assert_int_equal(f->d.n_warnings, 1);
    char want[PATH_MAX + 256];
    snprintf(want, sizeof want, "%s:6:55: warning: thresholds.\"iterations\"[0].allow_no_data: has "
             "no effect on iterations, a counter: a counter without samples counts 0 and is judged",
             f->path);
    assert_string_equal(f->d.warnings[0], want);
    load_fails_with(f, HEAD
                    "scenarios:\n"
                    "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
                    "thresholds:\n"
                    "  vus: { threshold: \"value<1\", allow_no_data: 1 }\n",
                    ":5:47: error: thresholds.\"vus\".allow_no_data: expected true or false, got "
                    "integer \"1\"");
}

/* The warnings of a spec that loaded, in order (as expect_lines). */
#define WARNED(f, ...)                                                       \
    do {                                                                     \
        static const char *const msgs_[] = {__VA_ARGS__};                    \
        expect_lines((f), (f)->d.warnings, (f)->d.n_warnings, msgs_,         \
                     sizeof msgs_ / sizeof msgs_[0]);                        \
    } while (0)

#define TAG_SPEC                                                             \
    HEAD "scenarios:\n"                                                      \
    "  main:\n"                                                              \
    "    executor: per-vu-iterations\n"                                      \
    "    flow:\n"                                                            \
    "      - group: pay\n"                                                   \
    "        steps:\n"                                                       \
    "          - noop: { name: transfer }\n"                                 \
    "      - noop: { name: status }\n"                                       \
    "  other: { executor: per-vu-iterations, flow: [ { noop: { name: report } } ] }\n" \
    "thresholds:\n"

/* A filter on a step name, group or scenario that no sample of the spec
 * can carry is a warning with a did-you-mean; the spec still loads. */
static void test_threshold_filter_warnings(void **state)
{
    fx *f = *state;
    load_ok(f, TAG_SPEC
            "  \"iteration_duration{name:transfer}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{name:trasnfer}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{name:zzz}\": [{ threshold: \"p(95)<1\", allow_no_data: true }]\n"
            "  \"iteration_duration{group:::pay}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{group:pay}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{group:::pya}\": [\"p(95)<1\"]\n"
            "  \"noop_reqs{scenario:mian}\": [\"count>0\"]\n"
            "  \"iteration_duration{scenario:other,name:transfer}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{group:::pay,name:status}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{scenario:other,group:::pay}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{group:::pay,name:transfer,scenario:main}\": [\"p(95)<1\"]\n");
    WARNED(f,
           ":13:3: warning: thresholds.\"iteration_duration{name:trasnfer}\": no step is named "
           "\"trasnfer\" (did you mean \"transfer\"?): this sub-metric can get no sample, so its "
           "thresholds will have no data and fail the run",
           ":14:3: warning: thresholds.\"iteration_duration{name:zzz}\": no step is named \"zzz\" "
           "(steps' names: transfer, status, report): this sub-metric can get no sample, so its "
           "thresholds will have no data (which allow_no_data accepts)",
           ":16:3: warning: thresholds.\"iteration_duration{group:pay}\": no group \"pay\" (did you "
           "mean \"::pay\"? a group tag is the group's path, which starts with \"::\"): this "
           "sub-metric can get no sample, so its thresholds will have no data and fail the run",
           ":17:3: warning: thresholds.\"iteration_duration{group:::pya}\": no group \"::pya\" (did "
           "you mean \"::pay\"?): this sub-metric can get no sample, so its thresholds will have no "
           "data and fail the run",
           ":18:3: warning: thresholds.\"noop_reqs{scenario:mian}\": no scenario \"mian\" (did you "
           "mean \"main\"?): this sub-metric can get no sample, so it will count 0",
           ":19:3: warning: thresholds.\"iteration_duration{scenario:other,name:transfer}\": no step "
           "in scenario \"other\" is named \"transfer\" (steps' names: report): this sub-metric can "
           "get no sample, so its thresholds will have no data and fail the run",
           ":20:3: warning: thresholds.\"iteration_duration{group:::pay,name:status}\": no step in "
           "group \"::pay\" is named \"status\" (steps' names: transfer): this sub-metric can get "
           "no sample, so its thresholds will have no data and fail the run",
           ":21:3: warning: thresholds.\"iteration_duration{scenario:other,group:::pay}\": no group "
           "\"::pay\" in scenario \"other\" (no groups there): this sub-metric can get no sample, "
           "so its thresholds will have no data and fail the run");

    /* --scenario: what only the scenarios it leaves out produce. */
    static const char *const only[] = {"main"};
    f->o.only_scenarios = only;
    f->o.n_only = 1;
    load_ok(f, TAG_SPEC
            "  \"iteration_duration{name:report}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{scenario:other}\": [\"p(95)<1\"]\n");
    WARNED(f,
           ":12:3: warning: thresholds.\"iteration_duration{name:report}\": \"report\" is only in "
           "scenarios that --scenario leaves out: this sub-metric can get no sample, so its "
           "thresholds will have no data and fail the run",
           ":13:3: warning: thresholds.\"iteration_duration{scenario:other}\": scenario \"other\" "
           "does not run (--scenario leaves it out): this sub-metric can get no sample, so its "
           "thresholds will have no data and fail the run");
}

/* A record entry's own tags (k6's metric.add(v, tags)): the step's with
 * the entry's, sorted, the entry's winning; other entries keep the
 * step's. Threshold filters know their values. */
static void test_record_tags(void **state)
{
    fx *f = *state;
    spec *s = load_ok(f, HEAD
                      "metrics: { c: counter, r: rate }\n"
                      "thresholds:\n"
                      "  \"c{tag:test}\": [\"count==1\"]\n"
                      "  \"c{flow:own}\": [\"count==1\"]\n"
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - check: { name: x, value: true }\n"
                      "        tags: { flow: step, z: last }\n"
                      "        record:\n"
                      "          c: { value: 1, tags: { tag: test, flow: own } }\n"
                      "          r: checks\n");
    assert_int_equal(f->d.n_warnings, 0);
    const flow_op *op = &s->scenarios[0].ops[0];
    assert_int_equal(op->n_records, 2);
    const record_def *c = &op->records[0];
    assert_int_equal(c->n_tags, 3);
    assert_string_equal(c->tags[0].key, "flow");
    assert_string_equal(c->tags[0].value, "own");
    assert_string_equal(c->tags[1].key, "tag");
    assert_string_equal(c->tags[1].value, "test");
    assert_string_equal(c->tags[2].key, "z");
    assert_string_equal(c->tags[2].value, "last");
    assert_null(op->records[1].tags);   /* the step's alone */
    assert_int_equal(op->n_tags, 2);

    /* A value no entry sets: the warning lists the entries' values. */
    load_ok(f, HEAD
            "metrics: { c2: counter }\n"
            "thresholds:\n"
            "  \"c2{tag:tset}\": [\"count==1\"]\n"
            "scenarios:\n"
            "  s:\n"
            "    executor: per-vu-iterations\n"
            "    flow:\n"
            "      - check: { name: x, value: true }\n"
            "        record: { c2: { value: 1, tags: { tag: test } } }\n");
    WARNED(f, ":4:3: warning: thresholds.\"c2{tag:tset}\": no step or scenario sets tag tag to "
              "\"tset\" (its values: test): this sub-metric can get no sample, so it will count 0");
}

static void test_record_tags_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
               "metrics: { c: counter }\n"
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - check: { name: x, value: true }\n"
               "        record:\n"
               "          c: { value: 1, tags: [a] }\n"
               "      - check: { name: x, value: true }\n"
               "        record:\n"
               "          c: { value: 1, tags: { name: x } }\n"
               "      - check: { name: x, value: true }\n"
               "        record:\n"
               "          c: { value: 1, tags: { t: \"${vu.id}\" } }\n"
               "      - check: { name: x, value: true }\n"
               "        record:\n"
               "          c: { value: 1, tag: { t: x } }\n",
               ":9:32: error: scenarios.s.flow[0].record.c.tags: expected a mapping of names to "
               "strings, got sequence",
               ":12:34: error: scenarios.s.flow[1].record.c.tags.name: \"name\" is a tag the runner "
               "sets itself (name, method, url, status, expected_response, check, error_code, "
               "scenario, group, tls_version, capture)",
               ":15:37: error: scenarios.s.flow[2].record.c.tags.t: a tag value is fixed at load "
               "time (only ${env.*}, ${services.*} and ${scenario.name} templates)",
               ":18:26: error: scenarios.s.flow[3].record.c: unknown key \"tag\" (did you mean "
               "\"tags\"?); valid keys: value, when, tags");
}

/* A scenario's env: comes before -e and the environment, in its own
 * flow and tags only; its tags: and tag_stage's stage lists are sorted. */
static void test_scenario_env_and_tags(void **state)
{
    fx *f = *state;
    const char *env[] = {"VOLLEY_SPECTEST_WHO=cli"};
    f->o.env = env;
    f->o.n_env = 1;
    spec *s = load_ok(f, HEAD
        "scenarios:\n"
        "  a:\n"
        "    executor: per-vu-iterations\n"
        "    env: { VOLLEY_SPECTEST_WHO: scenario, PORT: 8080 }\n"
        "    tags: { zeta: \"${env.VOLLEY_SPECTEST_WHO}\", alpha: \"${scenario.name}\" }\n"
        "    flow: [ { noop: { headers: { W: \"${env.VOLLEY_SPECTEST_WHO}:${env.PORT}\" } } } ]\n"
        "  b:\n"
        "    executor: ramping-vus\n"
        "    tag_stage: true\n"
        "    tags: { team: t, a: x }\n"
        "    stages: [ { duration: 1s, target: 1 }, { duration: 0s, target: 2 }, { duration: 1s, target: 2 } ]\n"
        "    flow: [ { noop: { headers: { W: \"${env.VOLLEY_SPECTEST_WHO}\" } } } ]\n");
    const scenario *a = &s->scenarios[0], *b = &s->scenarios[1];
    const noop_step_view *st = a->ops[0].step;
    assert_string_equal(tmpl_const(st->cfg.headers.values[0]), "scenario:8080");
    st = b->ops[0].step;
    assert_string_equal(tmpl_const(st->cfg.headers.values[0]), "cli");
    assert_int_equal(a->n_tags, 2);
    assert_string_equal(a->tags[0].key, "alpha");
    assert_string_equal(a->tags[0].value, "a");
    assert_string_equal(a->tags[1].key, "zeta");
    assert_string_equal(a->tags[1].value, "scenario");
    assert_null(a->stage_tags);
    assert_non_null(b->stage_tags);
    assert_int_equal(b->n_tags, 2);
    for (size_t k = 0; k < 3; k++) {
        char num[8];
        snprintf(num, sizeof num, "%zu", k);
        const volley_tag *t = b->stage_tags[k];
        assert_string_equal(t[0].key, "a");
        assert_string_equal(t[1].key, "stage");
        assert_string_equal(t[1].value, num);
        assert_string_equal(t[2].key, "team");
    }
    f->o.n_env = 0;

    /* sub-metrics may name their keys; values nothing sets are warned about */
    load_ok(f, HEAD
        "scenarios:\n"
        "  a:\n"
        "    executor: ramping-arrival-rate\n"
        "    pre_allocated_vus: 1\n"
        "    tag_stage: true\n"
        "    tags: { team: alpha }\n"
        "    stages: [ { duration: 1s, target: 1 }, { duration: 1s, target: 2 } ]\n"
        "    flow: [ { noop: { name: x }, tags: { team: beta } } ]\n"
        "  b: { executor: per-vu-iterations, flow: [ { noop: { name: y } } ] }\n"
        "thresholds:\n"
        "  \"iterations{team:alpha}\": [\"count>0\"]\n"
        "  \"noop_reqs{team:beta,stage:1}\": [\"count>0\"]\n"
        "  \"iterations{team:gamma}\": [\"count>0\"]\n"
        "  \"iterations{stage:2}\": [\"count>0\"]\n"
        "  \"iterations{scenario:b,team:alpha}\": [\"count>0\"]\n");
    WARNED(f,
           ":14:3: warning: thresholds.\"iterations{team:gamma}\": no step or scenario sets tag "
           "team to \"gamma\" (its values: alpha, beta): this sub-metric can get no sample, so it "
           "will count 0",
           ":15:3: warning: thresholds.\"iterations{stage:2}\": no step or scenario sets tag stage "
           "to \"2\" (its values: 0, 1): this sub-metric can get no sample, so it will count 0",
           ":16:3: warning: thresholds.\"iterations{scenario:b,team:alpha}\": no step or scenario "
           "in scenario \"b\" sets tag team to \"alpha\": this sub-metric can get no sample, so "
           "it will count 0");
}

static void test_scenario_env_and_tags_errors(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f, HEAD
        "scenarios:\n"
        "  a:\n"
        "    executor: constant-vus\n"
        "    duration: 1s\n"
        "    tag_stage: true\n"
        "    env: { 1X: a, OK: [1], NUL: ~ }\n"
        "    tags: { status: x, \"\": y, t: \"${vu.id}\", u: { a: 1 } }\n"
        "    flow: [ { sleep: 1s } ]\n",
        ":6:16: error: scenarios.a.tag_stage: does not apply to executor constant-vus",
        ":7:12: error: scenarios.a.env.1X: expected an environment variable name (letters, digits "
        "and _, not starting with a digit)",
        ":7:23: error: scenarios.a.env.OK: expected a string, got sequence",
        ":7:33: error: scenarios.a.env.NUL: expected a string, got null",
        ":8:13: error: scenarios.a.tags.status: \"status\" is a tag the runner sets itself (name, "
        "method, url, status, expected_response, check, error_code, scenario, group, tls_version, "
        "capture)",
        ":8:24: error: scenarios.a.tags.: expected a non-empty tag name",
        ":8:34: error: scenarios.a.tags.t: a tag value is fixed at load time (only ${env.*}, "
        "${services.*} and ${scenario.name} templates)",
        ":8:49: error: scenarios.a.tags.u: expected a string, got mapping");
    LOAD_FAILS(f, HEAD
        "scenarios:\n"
        "  a:\n"
        "    executor: ramping-vus\n"
        "    tag_stage: true\n"
        "    tags: { stage: x }\n"
        "    stages: [ { duration: 1s, target: 1 } ]\n"
        "    flow: [ { sleep: 1s } ]\n",
        ":6:20: error: scenarios.a.tags.stage: tag_stage sets the stage tag itself; drop one of them");
}

/* A step whose protocol cannot tell its name tag (here: a noop step
 * without a name) turns the name warnings off; groups are still checked. */
static void test_threshold_filter_unknown_names(void **state)
{
    fx *f = *state;
    load_ok(f, HEAD
            "scenarios:\n"
            "  s: { executor: per-vu-iterations, flow: [ { noop: { name: a } }, { noop: {} } ] }\n"
            "thresholds:\n"
            "  \"iteration_duration{name:b}\": [\"p(95)<1\"]\n"
            "  \"iteration_duration{group:::g}\": [\"p(95)<1\"]\n");
    WARNED(f, ":6:3: warning: thresholds.\"iteration_duration{group:::g}\": no group \"::g\" (no "
              "groups there): this sub-metric can get no sample, so its thresholds will have no "
              "data and fail the run");
    /* A spec with errors gets no such warnings (its flows may be half compiled). */
    assert_null(load(f, HEAD
                     "scenarios:\n"
                     "  s: { executor: per-vu-iterations, flow: [ { noop: { name: a, reject: true } } ] }\n"
                     "thresholds:\n"
                     "  \"iteration_duration{name:a}\": [\"p(95)<1\"]\n"));
    assert_int_equal(f->d.n_warnings, 0);
}

/* ------------------------------------------------------------------ */
/* outputs                                                             */

static void test_outputs(void **state)
{
    fx *f = *state;
    const char *outs[] = {"json-out=cli.ndjson"};
    f->o.outs = outs;
    f->o.n_outs = 1;
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
                      "outputs:\n"
                      "  - json-out: results/a.ndjson\n"
                      "  - json-out: { path: results/b.ndjson }\n");
    assert_int_equal(s->n_outputs, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(s->outputs[i].plugin->desc->name, "json-out");
    /* json-out's config starts with set, then path. */
    const struct {
        uint64_t set;
        const char *path;
    } *c0 = s->outputs[0].config, *c1 = s->outputs[1].config, *c2 = s->outputs[2].config;
    assert_string_equal(c0->path, "results/a.ndjson");
    assert_string_equal(c1->path, "results/b.ndjson");
    assert_string_equal(c2->path, "cli.ndjson");
    assert_string_equal(s->outputs[0].label, "json-out");
    assert_string_equal(s->outputs[2].label, "json-out=cli.ndjson");
}

static void test_output_errors(void **state)
{
    fx *f = *state;
    const char *outs[] = {"jsonout=x", "json-out"};
    f->o.outs = outs;
    f->o.n_outs = 2;
    LOAD_FAILS(f, HEAD
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n"
               "outputs:\n"
               "  - json-ot: x.ndjson\n"
               "  - { json-out: a, other: b }\n"
               "  - json-out: { file: x }\n",
               ":5:5: error: outputs[0]: unknown output \"json-ot\" (did you mean \"json-out\"?); "
               "available: json-out",
               ":6:5: error: outputs[1]: expected one output per item, e.g. - json-out: "
               "results/x.ndjson",
               ":7:17: error: outputs[2].json-out: unknown key \"file\"; valid keys: path, metrics, tags, "
               "drop_tags, compress, reorder_window",
               ":7:15: error: outputs[2].json-out: missing required key \"path\" (file to write "
               "NDJSON to; parent folders are created; a .gz name is gzipped)",
               "error: --out jsonout=x: unknown output \"jsonout\" (did you mean \"json-out\"?); "
               "available: json-out",
               /* "--out json-out" alone: its required path is missing */
               "error: --out json-out: missing required key \"path\" (file to write NDJSON to; "
               "parent folders are created; a .gz name is gzipped)");
}

/* ------------------------------------------------------------------ */
/* command-line overrides                                              */

#define TWO_SCENARIOS                                                   \
    HEAD "scenarios:\n"                                                 \
         "  a:\n"                                                       \
         "    executor: constant-vus\n"                                 \
         "    vus: 3\n"                                                 \
         "    duration: 1m\n"                                           \
         "    flow: [ { sleep: 1s } ]\n"                                \
         "  b:\n"                                                       \
         "    executor: per-vu-iterations\n"                            \
         "    vus: 2\n"                                                 \
         "    iterations: 7\n"                                          \
         "    flow: [ { sleep: 1s } ]\n"

static void test_overrides_vus_duration(void **state)
{
    fx *f = *state;
    f->o.vus = 20;
    f->o.duration_ns = 5 * SEC;
    spec *s = load_ok(f, TWO_SCENARIOS);
    assert_int_equal(s->n_scenarios, 2);
    assert_int_equal(s->scenarios[0].vus, 20);
    assert_int_equal(s->scenarios[0].executor, EXEC_CONSTANT_VUS);
    assert_int_equal(s->scenarios[0].duration_ns, 5 * SEC);
    assert_int_equal(s->scenarios[1].vus, 20);
    assert_int_equal(s->scenarios[1].executor, EXEC_PER_VU_ITERATIONS);
    assert_int_equal(s->scenarios[1].iterations, 7);
    assert_int_equal(s->scenarios[1].max_duration_ns, 5 * SEC);

    /* --duration makes a constant-vus scenario without duration valid. */
    s = load_ok(f, HEAD
                "scenarios:\n"
                "  a: { executor: constant-vus, flow: [ { sleep: 1s } ] }\n");
    assert_int_equal(s->scenarios[0].duration_ns, 5 * SEC);
}

static void test_overrides_iterations(void **state)
{
    fx *f = *state;
    f->o.iterations = 10;
    spec *s = load_ok(f, TWO_SCENARIOS);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(s->scenarios[i].executor, EXEC_SHARED_ITERATIONS);
        assert_int_equal(s->scenarios[i].iterations, 10);
        assert_int_equal(s->scenarios[i].max_duration_ns, 600 * SEC);
    }
    assert_int_equal(s->scenarios[0].vus, 3);
    assert_int_equal(s->scenarios[1].vus, 2);

    f->o.iterations = 2;
    f->o.vus = 8;
    f->o.duration_ns = 30 * SEC;
    s = load_ok(f, TWO_SCENARIOS);
    assert_int_equal(s->scenarios[0].vus, 2);   /* capped at the iterations */
    assert_int_equal(s->scenarios[0].max_duration_ns, 30 * SEC);
}

static void test_env_beats_getenv(void **state)
{
    fx *f = *state;
    setenv("VOLLEY_SPECTEST_TOKEN", "env-value", 1);
    const char *env[] = {"VOLLEY_SPECTEST_TOKEN=first", "VOLLEY_SPECTEST_TOKEN_X=no",
                         "VOLLEY_SPECTEST_TOKEN=last"};
    f->o.env = env;
    f->o.n_env = 3;
    static const char yaml[] = HEAD
        "scenarios:\n"
        "  s:\n"
        "    executor: per-vu-iterations\n"
        "    flow: [ { noop: { headers: { T: \"${env.VOLLEY_SPECTEST_TOKEN}\" } } } ]\n";
    spec *s = load_ok(f, yaml);
    const noop_step_view *st = s->scenarios[0].ops[0].step;
    assert_string_equal(tmpl_const(st->cfg.headers.values[0]), "last");   /* the last -e wins */
    f->o.n_env = 0;
    s = load_ok(f, yaml);
    st = s->scenarios[0].ops[0].step;
    assert_string_equal(tmpl_const(st->cfg.headers.values[0]), "env-value");
    unsetenv("VOLLEY_SPECTEST_TOKEN");
    LOAD_FAILS(f, yaml,
               ":5:37: error: scenarios.s.flow[0].noop.headers.T: environment variable "
               "VOLLEY_SPECTEST_TOKEN is not set (pass -e VOLLEY_SPECTEST_TOKEN=VALUE, export it, "
               "or write ${env.VOLLEY_SPECTEST_TOKEN:-default})");
}

static void test_scenario_filter(void **state)
{
    fx *f = *state;
    const char *only[] = {"b"};
    f->o.only_scenarios = only;
    f->o.n_only = 1;
    spec *s = load_ok(f, TWO_SCENARIOS);
    assert_int_equal(s->n_scenarios, 1);
    assert_string_equal(s->scenarios[0].name, "b");
    assert_int_equal(s->n_all_scenarios, 2);   /* both compiled */

    const char *bad[] = {"b", "c"};
    f->o.only_scenarios = bad;
    f->o.n_only = 2;
    assert_null(load(f, TWO_SCENARIOS));
    assert_int_equal(f->d.count, 1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "error: --scenario c: no such scenario in %s", f->path);
    assert_string_equal(f->d.lines[0], want);

    /* Errors in a scenario that is not selected are still reported. */
    f->o.only_scenarios = only;
    f->o.n_only = 1;
    load_fails_with(f, HEAD
                    "scenarios:\n"
                    "  a: { executor: constant-vus, flow: [ { sleep: 1s } ] }\n"
                    "  b: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
                    ":3:6: error: scenarios.a: executor constant-vus needs \"duration\" (how long "
                    "constant-vus or constant-arrival-rate runs)");
}

/* ------------------------------------------------------------------ */
/* many errors, one pass                                               */

static void test_all_errors_in_file_order(void **state)
{
    fx *f = *state;
    LOAD_FAILS(f,
               "version: 1\n"
               "nmae: x\n"
               "scenarios:\n"
               "  a:\n"
               "    executor: constant-vus\n"
               "    vus: ten\n"
               "    duration: 1 m\n"
               "    flow:\n"
               "      - sleep: 1s\n"
               "      - group: g\n"
               "        steps:\n"
               "          - sleep: later\n"
               "          - jump: 1\n"
               "  b:\n"
               "    executor: shared-iteration\n"
               "    flow: []\n"
               "thresholds:\n"
               "  iteration_duration: [\"p(99)<\"]\n"
               "outputs:\n"
               "  - json: x\n",
               ":2:1: error: (top level): unknown key \"nmae\" (did you mean \"name\"?); valid keys: "
               "version, name, include, services, defaults, pools, metrics, setup, teardown, scenarios, thresholds, outputs",
               ":6:10: error: scenarios.a.vus: expected an integer, got string \"ten\"",
               ":7:15: error: scenarios.a.duration: expected a duration such as 500ms, 10s, 1m30s or "
               "2h; got \"1 m\" (spaces are not allowed)",
               ":12:20: error: scenarios.a.flow[1].steps[0].sleep: expected a duration such as "
               "500ms, 10s, 1m30s or 2h, got \"later\"",
               ":13:13: error: scenarios.a.flow[1].steps[1]: unknown step key \"jump\"; valid keys: "
               "group, sleep, once, if, choose, repeat, for_each, batch, abort, log, check, capture, record, on_check_fail, tags, noop",
               ":15:15: error: scenarios.b.executor: unknown value \"shared-iteration\"; expected "
               "one of: constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations, shared-iterations (did you mean "
               "\"shared-iterations\"?)",
               ":16:11: error: scenarios.b.flow: expected at least one step",
               ":18:24: error: thresholds.\"iteration_duration\"[0]: expected \"<aggregation> "
               "<operator> <number>\" such as \"p(95)<500\" or \"rate<0.01\"; got \"p(99)<\" (the "
               "right-hand side must be a non-negative number such as 500 or 0.01, or baseline "
               "(the same aggregation in the --baseline run) such as baseline*1.1 or "
               "baseline+10%)",
               ":20:5: error: outputs[0]: unknown output \"json\"; available: json-out");
}

/* ------------------------------------------------------------------ */
/* VOLLEY_OPT_FILE, config_error, config_warning, tls: layers          */

static void write_file(const fx *f, const char *name, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void remove_file(const fx *f, const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", f->dir, name);
    unlink(p);
}

static void test_option_files(void **state)
{
    fx *f = *state;
    write_file(f, "data.txt", "x");
    setenv("VOLLEY_SPECTEST_FILE", "data.txt", 1);
    /* Relative to the spec's directory, with ${env.*} filled in. */
    spec *s = load_ok(f, HEAD
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - noop: { file: data.txt }\n"
                      "      - noop: { file: \"${env.VOLLEY_SPECTEST_FILE}\" }\n");
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/data.txt", f->dir);
    for (int i = 0; i < 2; i++) {
        const noop_step_view *st = s->scenarios[0].ops[i].step;
        assert_string_equal(st->cfg.file, want);
    }
    unsetenv("VOLLEY_SPECTEST_FILE");
    /* An absolute path stays as it is. */
    char yaml[PATH_MAX + 256];
    snprintf(yaml, sizeof yaml, HEAD "scenarios:\n  s:\n    executor: per-vu-iterations\n"
             "    flow:\n      - noop: { file: \"%s\" }\n", want);
    s = load_ok(f, yaml);
    assert_string_equal(((const noop_step_view *)s->scenarios[0].ops[0].step)->cfg.file, want);

    /* Missing, a directory, a run-time template; a value in defaults that
     * reaches both steps is reported once, where it is written. */
    char missing[PATH_MAX + 200], dir[PATH_MAX + 200], nodef[PATH_MAX + 200];
    snprintf(missing, sizeof missing, ":8:23: error: scenarios.s.flow[0].noop.file: cannot read "
             "\"%s/missing.txt\": No such file or directory", f->dir);
    snprintf(dir, sizeof dir, ":9:23: error: scenarios.s.flow[1].noop.file: cannot read \"%s/.\": "
             "Is a directory", f->dir);
    snprintf(nodef, sizeof nodef, ":3:19: error: defaults.tls.ca_file: cannot read "
             "\"%s/nope.pem\": No such file or directory", f->dir);
    const char *yaml2 = HEAD
        "defaults:\n"
        "  tls: { ca_file: nope.pem }\n"
        "scenarios:\n"
        "  s:\n"
        "    executor: per-vu-iterations\n"
        "    flow:\n"
        "      - noop: { file: missing.txt }\n"
        "      - noop: { file: . }\n"
        "      - noop: { file: \"${vu.id}\" }\n";
    const char *msgs[] = {nodef, missing, dir,
                          ":10:23: error: scenarios.s.flow[2].noop.file: \"${vu.id}\" needs a value "
                          "known only at run time, but this option is read once at load time: only "
                          "${env.*} and ${services.*} can be used in it"};
    load_fails(f, yaml2, msgs, 4);
    remove_file(f, "data.txt");
}

static void test_config_messages(void **state)
{
    fx *f = *state;
    /* config_error at an inherited value: once, at its place, with the
     * first step's path; no "invalid step" besides. */
    LOAD_FAILS(f, HEAD
               "defaults:\n"
               "  tls: { min_version: \"1.3\" }\n"
               "scenarios:\n"
               "  s:\n"
               "    executor: per-vu-iterations\n"
               "    flow:\n"
               "      - noop: a\n"
               "      - noop: b\n"
               "      - noop: { tls: { min_version: \"1.2\" } }\n"
               "      - noop: { tls: { server_name: x } }\n",
               ":3:23: error: scenarios.s.flow[0].noop.tls.min_version: bad version \"1.3\"",
               /* reported, step returned anyway: dropped */
               ":10:37: error: scenarios.s.flow[2].noop.tls.min_version: bad version \"1.2\"",
               /* no field: the step */
               ":11:15: error: scenarios.s.flow[3].noop: the step is wrong");

    /* config_warning: once per place, kept for the summary. */
    spec *s = load_ok(f, HEAD
                      "defaults:\n"
                      "  tls: { insecure_skip_verify: true }\n"
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - noop: a\n"
                      "      - noop: b\n"
                      "      - noop: { tls: { insecure_skip_verify: true } }\n"
                      "      - noop: { tls: { insecure_skip_verify: false } }\n");
    assert_int_equal(s->n_warnings, 2);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:3:32: warned by test", f->path);
    assert_string_equal(s->warnings[0], want);
    snprintf(want, sizeof want, "%s:10:46: warned by test", f->path);
    assert_string_equal(s->warnings[1], want);
}

/* tls: merged key by key: the step's keys, then its service's, then the
 * defaults'. */
static void test_tls_layers(void **state)
{
    fx *f = *state;
    write_file(f, "ca.pem", "x");
    write_file(f, "other.pem", "x");
    /* (noop's shorthand is its name, read as a url by the service layer) */
    spec *s = load_ok(f, HEAD
                      "services:\n"
                      "  api:\n"
                      "    url: https://127.0.0.1:9\n"
                      "    tls: { ca_file: other.pem, insecure_skip_verify: true }\n"
                      "defaults:\n"
                      "  tls: { ca_file: ca.pem, insecure_skip_verify: false }\n"
                      "scenarios:\n"
                      "  s:\n"
                      "    executor: per-vu-iterations\n"
                      "    flow:\n"
                      "      - noop: \"${services.api}/x\"\n"
                      "      - noop: { tls: { insecure_skip_verify: true } }\n"
                      "      - noop: https://127.0.0.1:9/y\n");
    const noop_step_view *a = s->scenarios[0].ops[0].step, *b = s->scenarios[0].ops[1].step,
                         *c = s->scenarios[0].ops[2].step;
    char ca[PATH_MAX], other[PATH_MAX];
    snprintf(ca, sizeof ca, "%s/ca.pem", f->dir);
    snprintf(other, sizeof other, "%s/other.pem", f->dir);
    assert_string_equal(a->cfg.tls.ca_file, other);      /* the service's */
    assert_true(a->cfg.tls.insecure_skip_verify);
    assert_string_equal(b->cfg.tls.ca_file, ca);         /* defaults' */
    assert_true(b->cfg.tls.insecure_skip_verify);        /* the step's */
    assert_string_equal(c->cfg.tls.ca_file, ca);         /* defaults only */
    assert_false(c->cfg.tls.insecure_skip_verify);
    remove_file(f, "other.pem");
    /* The core checks what defaults and services write. */
    LOAD_FAILS(f, HEAD
               "services:\n"
               "  api: { url: \"https://x:1\", tls: { min_version: \"1.4\", ca: x } }\n"
               "defaults:\n"
               "  tls: { insecure_skip_verify: yes }\n"
               "scenarios:\n"
               "  s: { executor: per-vu-iterations, flow: [ { sleep: 1s } ] }\n",
               ":3:50: error: services.api.tls.min_version: unknown value \"1.4\"; expected one of: "
               "1.0, 1.1, 1.2, 1.3 (did you mean \"1.0\"?)",
               ":3:57: error: services.api.tls: unknown key \"ca\"; valid keys: ca_file, "
               "insecure_skip_verify, client_cert, client_key, server_name, min_version, "
               "session_resumption, max_version, cipher_suites",
               ":5:32: error: defaults.tls.insecure_skip_verify: expected true or false, got string "
               "\"yes\"");
    remove_file(f, "ca.pem");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_of_a_minimal_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_non_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_top_level_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_key_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_picks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_per_executor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_length_stages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refuses_other_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_ctl_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_ctl_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps_and_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_checks_and_captures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_option_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thresholds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_allow_no_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_filter_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_filter_unknown_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides_vus_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides_iterations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_beats_getenv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_tags_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_env_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_env_and_tags_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_errors_in_file_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_layers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
