/* output_runner: one thread per output; write/tick never at once, ticks
 * on their own when no batch comes, close always, empty batches never. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output_runner.h"
#include "plugin_loader.h"

typedef struct fake {
    atomic_int in_call;        /* a write or tick is running */
    atomic_int overlap;        /* one started while another ran */
    atomic_int ticks, writes, closes, destroys;
    atomic_size_t samples;
    atomic_int zero_batches;
    uint64_t tick_every;
    int fail_tick_at;          /* the n-th tick fails (1-based), 0 never */
    int stop_ticks_at;         /* the n-th tick asks for no more, 0 never */
    uint64_t first_next_ns;    /* what *next_ns held at the first tick */
    /* summary() (revision 5): how many came, the samples written and
     * closes done when it came, what it saw, and whether it fails */
    atomic_int summaries;
    size_t samples_at_summary;
    int closes_at_summary;
    int exit_code_seen;
    bool fail_summary;
    bool fail_write;
} fake;

static void enter(fake *f)
{
    if (atomic_fetch_add(&f->in_call, 1) != 0)
        atomic_fetch_add(&f->overlap, 1);
}

static void leave(fake *f) { atomic_fetch_sub(&f->in_call, 1); }

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *f_create(const volley_host *host, volley_core *core, const void *config, char *err,
                      size_t errcap)
{
    (void)host, (void)core, (void)err, (void)errcap;
    return (void *)config;     /* the test's fake is the instance */
}

static int f_write(void *inst, const volley_sample *s, size_t n, char *err, size_t errcap)
{
    fake *f = inst;
    (void)s, (void)err, (void)errcap;
    enter(f);
    if (n == 0)
        atomic_fetch_add(&f->zero_batches, 1);
    atomic_fetch_add(&f->writes, 1);
    atomic_fetch_add(&f->samples, n);
    nap_ms(2);
    leave(f);
    if (f->fail_write) {
        snprintf(err, errcap, "write failed");
        return -1;
    }
    return 0;
}

static int f_summary(void *inst, const volley_run_summary *s, char *err, size_t errcap)
{
    fake *f = inst;
    enter(f);
    atomic_fetch_add(&f->summaries, 1);
    f->samples_at_summary = atomic_load(&f->samples);
    f->closes_at_summary = atomic_load(&f->closes);
    f->exit_code_seen = s->exit_code;
    leave(f);
    if (f->fail_summary) {
        snprintf(err, errcap, "cannot write the report");
        return -1;
    }
    return 0;
}

static int f_tick(void *inst, uint64_t *next_ns, char *err, size_t errcap)
{
    fake *f = inst;
    enter(f);
    int n = atomic_fetch_add(&f->ticks, 1) + 1;
    if (n == 1)
        f->first_next_ns = *next_ns;
    *next_ns = f->stop_ticks_at && n >= f->stop_ticks_at ? 0 : f->tick_every;
    nap_ms(1);
    leave(f);
    if (f->fail_tick_at && n == f->fail_tick_at) {
        snprintf(err, errcap, "tick %d failed", n);
        return -1;
    }
    return 0;
}

static int f_close(void *inst, char *err, size_t errcap)
{
    fake *f = inst;
    (void)err, (void)errcap;
    atomic_fetch_add(&f->closes, 1);
    return 0;
}

static void f_destroy(void *inst)
{
    fake *f = inst;
    atomic_fetch_add(&f->destroys, 1);
}

typedef struct rig {
    plug_desc copy;
    plug p;
    output_cfg cfg;
    out_runner r;
    volley_host host;
} rig;

static void rig_start_ops(rig *g, fake *f, bool with_tick, bool with_summary)
{
    memset(g, 0, sizeof *g);
    g->copy.output = (volley_output_ops){.size = sizeof(volley_output_ops), .create = f_create,
                                         .write = f_write, .close = f_close, .destroy = f_destroy,
                                         .tick = with_tick ? f_tick : NULL,
                                         .summary = with_summary ? f_summary : NULL};
    g->copy.desc = (volley_plugin){.abi = VOLLEY_ABI_VERSION, .size = sizeof(volley_plugin),
                                   .kind = VOLLEY_KIND_OUTPUT, .name = "fake", .version = "0",
                                   .output = &g->copy.output};
    g->p = (plug){.path = "fake", .desc = &g->copy.desc, .copy = &g->copy};
    g->cfg = (output_cfg){.plugin = &g->p, .config = f, .label = "fake"};
    char err[256];
    if (outr_start(&g->r, &g->cfg, &g->host, NULL, err, sizeof err) != 0)
        fail_msg("outr_start: %s", err);
}

static void rig_start(rig *g, fake *f, bool with_tick) { rig_start_ops(g, f, with_tick, false); }

static void push_samples(rig *g, size_t n)
{
    volley_sample *s = calloc(n ? n : 1, sizeof *s);
    out_batch *b = out_batch_new(s, n);
    assert_non_null(b);
    outr_push(&g->r, b);
    out_batch_release(b);
}

/* With no batch at all, ticks still come, each *next_ns after the last. */
static void test_ticks_without_batches(void **state)
{
    (void)state;
    fake f = {.tick_every = 20 * 1000 * 1000};
    rig g;
    rig_start(&g, &f, true);
    nap_ms(400);
    outr_finish(&g.r);
    int ticks = atomic_load(&f.ticks);
    /* 400 ms at 20 ms: about 20; generous bounds, this is not a timing test. */
    assert_true(ticks >= 3);
    assert_true(ticks <= 40);
    assert_int_equal(f.first_next_ns, 0);
    assert_int_equal(atomic_load(&f.closes), 1);
    assert_int_equal(atomic_load(&f.destroys), 1);
}

/* Busy: batches and ticks interleave on one thread, never at once; an
 * empty batch never reaches write(). */
static void test_write_and_tick_never_overlap(void **state)
{
    (void)state;
    fake f = {.tick_every = 3 * 1000 * 1000};
    rig g;
    rig_start(&g, &f, true);
    for (int i = 0; i < 100; i++) {
        push_samples(&g, i % 10 == 0 ? 0 : 5);
        nap_ms(1);
    }
    outr_finish(&g.r);
    assert_int_equal(atomic_load(&f.overlap), 0);
    assert_int_equal(atomic_load(&f.zero_batches), 0);
    assert_int_equal(atomic_load(&f.samples) + atomic_load(&g.r.dropped), 90 * 5);
    assert_true(atomic_load(&f.ticks) >= 2);
    assert_int_equal(atomic_load(&f.closes), 1);
}

/* A tick that fails is a failed output: no more write or tick, close()
 * still comes, later samples are counted as dropped. */
static void test_failed_tick(void **state)
{
    (void)state;
    fake f = {.tick_every = 5 * 1000 * 1000, .fail_tick_at = 2};
    rig g;
    rig_start(&g, &f, true);
    nap_ms(100);
    int writes = atomic_load(&f.writes);
    push_samples(&g, 7);
    outr_finish(&g.r);
    assert_true(g.r.failed);
    assert_string_equal(g.r.err, "tick 2 failed");
    assert_int_equal(atomic_load(&f.ticks), 2);
    assert_int_equal(atomic_load(&f.writes), writes);
    assert_int_equal(atomic_load(&g.r.dropped), 7);
    assert_int_equal(atomic_load(&f.closes), 1);
}

/* *next_ns = 0 ends the ticks; a plugin without tick gets none. */
static void test_tick_stops_and_absent_tick(void **state)
{
    (void)state;
    fake f = {.tick_every = 2 * 1000 * 1000, .stop_ticks_at = 3};
    rig g;
    rig_start(&g, &f, true);
    nap_ms(100);
    outr_finish(&g.r);
    assert_int_equal(atomic_load(&f.ticks), 3);
    assert_false(g.r.failed);

    fake h = {.tick_every = 1};
    rig_start(&g, &h, false);
    push_samples(&g, 3);
    nap_ms(20);
    outr_finish(&g.r);
    assert_int_equal(atomic_load(&h.ticks), 0);
    assert_int_equal(atomic_load(&h.samples), 3);
    assert_int_equal(atomic_load(&h.closes), 1);
}

/* summary() comes once, on the output's thread, after every queued batch
 * and before close(); never without a summary to give, never after a
 * failed write(); a failing one is reported as a failed write. */
static void test_summary_between_last_write_and_close(void **state)
{
    (void)state;
    volley_run_summary sum = {.size = sizeof sum, .exit_code = 99};
    fake f = {0};
    rig g;
    rig_start_ops(&g, &f, false, true);
    for (int i = 0; i < 20; i++)
        push_samples(&g, 5);
    outr_finish_summary(&g.r, &sum);
    assert_int_equal(atomic_load(&f.summaries), 1);
    assert_int_equal(f.samples_at_summary, 100);
    assert_int_equal(f.closes_at_summary, 0);
    assert_int_equal(atomic_load(&f.closes), 1);
    assert_int_equal(f.exit_code_seen, 99);
    assert_int_equal(atomic_load(&f.overlap), 0);
    assert_false(g.r.failed);

    fake h = {0};   /* no summary to give (the run was not measured) */
    rig_start_ops(&g, &h, false, true);
    push_samples(&g, 1);
    outr_finish(&g.r);
    assert_int_equal(atomic_load(&h.summaries), 0);
    assert_int_equal(atomic_load(&h.closes), 1);

    fake w = {.fail_write = true};   /* a failed write: no summary, close still */
    rig_start_ops(&g, &w, false, true);
    push_samples(&g, 1);
    outr_finish_summary(&g.r, &sum);
    assert_int_equal(atomic_load(&w.summaries), 0);
    assert_int_equal(atomic_load(&w.closes), 1);
    assert_true(g.r.failed);

    fake x = {.fail_summary = true};
    rig_start_ops(&g, &x, false, true);
    outr_finish_summary(&g.r, &sum);
    assert_int_equal(atomic_load(&x.summaries), 1);
    assert_int_equal(atomic_load(&x.closes), 1);
    assert_true(g.r.failed);
    assert_string_equal(g.r.err, "cannot write the report");

    fake o = {0};   /* an output without summary (older than revision 5) */
    rig_start_ops(&g, &o, false, false);
    push_samples(&g, 2);
    outr_finish_summary(&g.r, &sum);
    assert_int_equal(atomic_load(&o.closes), 1);
    assert_false(g.r.failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_without_batches),
        cmocka_unit_test(test_write_and_tick_never_overlap),
        cmocka_unit_test(test_failed_tick),
        cmocka_unit_test(test_tick_stops_and_absent_tick),
        cmocka_unit_test(test_summary_between_last_write_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
