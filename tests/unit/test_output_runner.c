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

static void rig_start(rig *g, fake *f, bool with_tick)
{
    memset(g, 0, sizeof *g);
    g->copy.output = (volley_output_ops){.size = sizeof(volley_output_ops), .create = f_create,
                                         .write = f_write, .close = f_close, .destroy = f_destroy,
                                         .tick = with_tick ? f_tick : NULL};
    g->copy.desc = (volley_plugin){.abi = VOLLEY_ABI_VERSION, .size = sizeof(volley_plugin),
                                   .kind = VOLLEY_KIND_OUTPUT, .name = "fake", .version = "0",
                                   .output = &g->copy.output};
    g->p = (plug){.path = "fake", .desc = &g->copy.desc, .copy = &g->copy};
    g->cfg = (output_cfg){.plugin = &g->p, .config = f, .label = "fake"};
    char err[256];
    if (outr_start(&g->r, &g->cfg, &g->host, NULL, err, sizeof err) != 0)
        fail_msg("outr_start: %s", err);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_without_batches),
        cmocka_unit_test(test_write_and_tick_never_overlap),
        cmocka_unit_test(test_failed_tick),
        cmocka_unit_test(test_tick_stops_and_absent_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
