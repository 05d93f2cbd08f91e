/*
 * test_engine: the engine run in-process on the no-op protocol, with
 * allocations and init calls made to fail on purpose.
 *
 * This executable is linked with -Wl,--wrap for realloc, uv_loop_init,
 * uv_async_init, uv_signal_init and pthread_create (tests/CMakeLists.txt):
 * the core's calls to them land in the __wrap_ functions below, which call
 * the real one unless a test armed a failure. Only this test binary is
 * wrapped; volley itself and the plugins (loaded with dlopen) call the real
 * functions. Nothing in the core knows about it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core.h"
#include "engine.h"
#include "spec.h"
#include "summary.h"

/* ------------------------------------------------------------------ */
/* failure injection                                                   */

enum { F_LOOP_INIT, F_ASYNC_INIT, F_SIGNAL_INIT, F_PTHREAD_CREATE, F__COUNT };

static atomic_bool realloc_fails;        /* every realloc fails while set */
static atomic_int fail_nth[F__COUNT];    /* the Nth call from now fails; 0: none */
static atomic_int calls[F__COUNT];

static void fail_call(int f, int nth)
{
    atomic_store(&calls[f], 0);
    atomic_store(&fail_nth[f], nth);
}

static bool should_fail(int f)
{
    int nth = atomic_load(&fail_nth[f]);
    return atomic_fetch_add(&calls[f], 1) + 1 == nth && nth > 0;
}

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
    return atomic_load(&realloc_fails) ? NULL : __real_realloc(p, n);
}

int __real_uv_loop_init(uv_loop_t *loop);
int __wrap_uv_loop_init(uv_loop_t *loop);
int __wrap_uv_loop_init(uv_loop_t *loop)
{
    return should_fail(F_LOOP_INIT) ? UV_EMFILE : __real_uv_loop_init(loop);
}

int __real_uv_async_init(uv_loop_t *loop, uv_async_t *a, uv_async_cb cb);
int __wrap_uv_async_init(uv_loop_t *loop, uv_async_t *a, uv_async_cb cb);
int __wrap_uv_async_init(uv_loop_t *loop, uv_async_t *a, uv_async_cb cb)
{
    return should_fail(F_ASYNC_INIT) ? UV_EMFILE : __real_uv_async_init(loop, a, cb);
}

int __real_uv_signal_init(uv_loop_t *loop, uv_signal_t *h);
int __wrap_uv_signal_init(uv_loop_t *loop, uv_signal_t *h);
int __wrap_uv_signal_init(uv_loop_t *loop, uv_signal_t *h)
{
    return should_fail(F_SIGNAL_INIT) ? UV_EMFILE : __real_uv_signal_init(loop, h);
}

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    return should_fail(F_PTHREAD_CREATE) ? EAGAIN : __real_pthread_create(t, a, fn, arg);
}

/* ------------------------------------------------------------------ */
/* fixture: a core with the real checks and json-out plugins and the    */
/* no-op protocol, a spec file and an output file in a temp directory  */

typedef struct fx {
    volley_core core;
    char dir[64];
    char spec_path[PATH_MAX];
    char out_path[PATH_MAX];
    char export_path[PATH_MAX];
    diag d;
    spec *s;
    run_opts ro;
    run_result res;
    bool ran;
    char err[1024];
} fx;

static const char *const plugins[] = {
    VOLLEY_PLUGIN_BUILD_DIR "/volley-checks-basic.so",
    VOLLEY_PLUGIN_BUILD_DIR "/volley-json-out.so",
    TEST_PLUGIN_DIR "/volley-testproto.so",
};

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[1024];
    if (core_init(&f->core, err, sizeof err) != 0)
        fail_msg("core_init: %s", err);
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++)
        if (plug_load_file(&f->core.plugins, plugins[i], &f->core.host, err, sizeof err) != 0)
            fail_msg("%s", err);
    snprintf(f->dir, sizeof f->dir, "/tmp/volley-enginetest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->spec_path, sizeof f->spec_path, "%s/spec.yaml", f->dir);
    snprintf(f->out_path, sizeof f->out_path, "%s/out.ndjson", f->dir);
    snprintf(f->export_path, sizeof f->export_path, "%s/summary.json", f->dir);
    diag_init(&f->d);
    f->ro = (run_opts){.workers = 2, .quiet = true, .seed = 1};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    atomic_store(&realloc_fails, false);
    for (int i = 0; i < F__COUNT; i++)
        fail_call(i, 0);
    if (f->ran)
        run_result_free(&f->res);
    spec_free(f->s);
    diag_free(&f->d);
    core_free(&f->core);
    unlink(f->spec_path);
    unlink(f->out_path);
    unlink(f->export_path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Two VUs on two workers, five iterations each of a step that never runs
 * (the no-op protocol refuses to start it) with a check on it; with_output
 * adds a json-out output. */
static void load(fx *f, bool with_output)
{
    FILE *fp = fopen(f->spec_path, "w");
    assert_non_null(fp);
    fprintf(fp, "version: 1\n"
                "scenarios:\n"
                "  s:\n"
                "    executor: per-vu-iterations\n"
                "    vus: 2\n"
                "    iterations: 5\n"
                "    flow:\n"
                "      - noop: a\n"
                "        check: { name: ok, status: 200 }\n");
    if (with_output)
        fprintf(fp, "outputs:\n  - json-out: %s\n", f->out_path);
    fclose(fp);
    spec_opts o = {0};
    f->s = spec_load(f->spec_path, &o, &f->core.plugins, &f->core.reg, &f->core.host, &f->core,
                     &f->d);
    for (size_t i = 0; i < f->d.count; i++)
        fprintf(stderr, "  diag[%zu]: %s\n", i, f->d.lines[i]);
    assert_non_null(f->s);
}

static int run(fx *f)
{
    int rc = engine_run(&f->core, f->s, &f->ro, &f->res, f->err, sizeof f->err);
    f->ran = true;
    return rc;
}

/* Every sample the run measured: each one lands once in its metric's own series. */
static uint64_t samples_measured(const fx *f)
{
    uint64_t n = 0;
    for (size_t i = 0; i < f->core.reg.n_metrics; i++)
        n += f->res.agg.s[f->core.reg.metrics[i].series].count;
    return n;
}

/* The text summary, as volley prints it. */
static char *summary_text(fx *f)
{
    th_verdict v[1] = {TH_PASS};
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_non_null(mem);
    summary_print(mem, f->s, &f->core.reg, &f->res, v, NULL);
    fclose(mem);
    return text;
}

/* The --summary-export JSON's "runner" object (a new reference). */
static json_t *export_runner(fx *f)
{
    th_verdict v[1] = {TH_PASS};
    char err[512];
    if (summary_export(f->export_path, f->s, &f->core.reg, &f->res, v, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    json_error_t je;
    json_t *doc = json_load_file(f->export_path, 0, &je);
    assert_non_null(doc);
    json_t *runner = json_incref(json_object_get(doc, "runner"));
    json_decref(doc);
    assert_non_null(runner);
    return runner;
}

/* ------------------------------------------------------------------ */
/* samples dropped on out-of-memory                                    */

static void test_no_drops(void **state)
{
    fx *f = *state;
    load(f, true);
    assert_int_equal(run(f), 0);
    uint64_t measured = samples_measured(f);
    assert_true(measured >= 2 * 5 * 3);   /* iterations, iteration_duration, checks */
    assert_int_equal(f->res.samples_dropped, 0);
    assert_int_equal(f->res.n_outputs, 1);
    assert_int_equal(f->res.outputs[0].written, measured);

    char *text = summary_text(f);
    assert_non_null(strstr(text, "output drops 0, seed 1\n"));
    assert_null(strstr(text, "out-of-memory"));
    free(text);
    json_t *runner = export_runner(f);
    assert_int_equal(json_integer_value(json_object_get(runner, "out_of_memory_drops")), 0);
    assert_int_equal(json_integer_value(json_object_get(runner, "output_drops")), 0);
    json_decref(runner);
}

/* No sample buffer can grow: every sample meant for the outputs is lost,
 * and every one is counted where the summary and the export show drops. */
static void test_oom_drops_counted(void **state)
{
    fx *f = *state;
    load(f, true);
    atomic_store(&realloc_fails, true);
    int rc = run(f);
    atomic_store(&realloc_fails, false);
    assert_int_equal(rc, 0);
    uint64_t measured = samples_measured(f);
    assert_true(measured >= 2 * 5 * 3);
    assert_int_equal(f->res.samples_dropped, measured);   /* the metrics still have them */
    assert_int_equal(f->res.outputs[0].written, 0);
    assert_int_equal(f->res.outputs[0].dropped, 0);       /* not the output's own drops */

    char *text = summary_text(f);
    char want[128];
    snprintf(want, sizeof want, "output drops 0, out-of-memory drops %llu, seed 1\n",
             (unsigned long long)measured);
    if (!strstr(text, want))
        fail_msg("no \"%s\" in the summary:\n%s", want, text);
    free(text);
    json_t *runner = export_runner(f);
    assert_int_equal(json_integer_value(json_object_get(runner, "out_of_memory_drops")),
                     (json_int_t)measured);
    json_decref(runner);
}

/* ------------------------------------------------------------------ */
/* init failures: an engine error naming the call, a clean teardown    */
/* (the ASan build checks nothing leaks), never a crash                */

/* Runs the spec with the nth call to `call` failing: the run must end in
 * an engine error that says `want`. */
static void run_fails(fx *f, bool with_output, int call, int nth, const char *want)
{
    load(f, with_output);
    fail_call(call, nth);
    assert_int_equal(run(f), -1);
    if (!strstr(f->err, want))
        fail_msg("error \"%s\" does not say \"%s\"", f->err, want);
}

static void test_main_loop_init_fails(void **state)
{
    fx *f = *state;
    /* The main thread's loop is the first. */
    run_fails(f, true, F_LOOP_INIT, 1, "cannot set up the main loop: uv_loop_init: ");
    assert_false(f->res.ran);
    assert_int_equal(f->res.n_outputs, 1);   /* the output was started and finished */
}

static void test_main_signal_init_fails(void **state)
{
    fx *f = *state;
    /* SIGTERM's, after SIGINT's was made. */
    run_fails(f, true, F_SIGNAL_INIT, 2, "cannot set up the main loop: uv_signal_init: ");
    assert_false(f->res.ran);
}

static void test_worker_loop_init_fails(void **state)
{
    fx *f = *state;
    /* A worker's, after the main thread's. */
    run_fails(f, false, F_LOOP_INIT, 2, ": cannot set up its event loop: uv_loop_init: ");
    assert_true(f->res.ran);
}

static void test_worker_async_init_fails(void **state)
{
    /* A worker's wake handle, after the main thread's: the worker's timers
     * exist by then and are closed again. */
    run_fails(*state, false, F_ASYNC_INIT, 2, ": cannot set up its event loop: uv_async_init: ");
}

static void test_first_thread_fails(void **state)
{
    fx *f = *state;
    /* No output thread: the first pthread_create is worker 0's. */
    run_fails(f, false, F_PTHREAD_CREATE, 1, "cannot start worker thread 0: ");
    assert_false(f->res.ran);
}

static void test_second_thread_fails(void **state)
{
    fx *f = *state;
    run_fails(f, false, F_PTHREAD_CREATE, 2, "cannot start worker thread 1: ");
    assert_true(f->res.ran);
    assert_int_equal(f->res.workers, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_drops_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_loop_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_signal_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_loop_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_async_init_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_thread_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_thread_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
