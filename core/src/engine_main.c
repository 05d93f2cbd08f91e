/*
 * engine_main: the main thread while workers run. It merges the workers'
 * aggregates, samples the vus gauges, shows progress, evaluates
 * abort_on_fail thresholds every two seconds and handles SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "engine_int.h"
#include "summary.h"

void engine_main_flush(engine *e, bool sample_gauges)
{
    for (int i = 0; i < e->n_workers; i++)
        agg_pair_collect_into(&e->workers[i].agg, &e->global, &e->win.agg, &e->core->reg);
    if (!sample_gauges)
        return;
    uint64_t now = engine_mono_now();
    int64_t active = atomic_load_explicit(&e->active_vus, memory_order_relaxed);
    sample_tags st = {0};
    double vmax = (double)atomic_load_explicit(&e->vus_max, memory_order_relaxed);
    metrics_agg *to[2] = {&e->global, &e->win.agg};
    for (int i = 0; i < 2; i++) {
        metrics_record(&e->core->reg, to[i], BUILTIN_VUS, (double)active, &st, (int64_t)now);
        metrics_record(&e->core->reg, to[i], BUILTIN_VUS_MAX, vmax, &st, (int64_t)now);
    }
    if (e->n_outs) {
        engine_push_raw(e, &e->main_raw, &e->main_tags, BUILTIN_VUS, (double)active, &st, now);
        engine_push_raw(e, &e->main_raw, &e->main_tags, BUILTIN_VUS_MAX, vmax, &st, now);
        engine_flush_raw(e, &e->main_raw);
    }
}

/* Thresholds with abort_on_fail are evaluated every 2 s, as k6 does, once
 * their delay_abort_eval has passed. One whose metric or sub-metric has no
 * sample yet is not judged, a counter's either (k6 skips empty sinks too):
 * samples may still come. "No data" is a verdict of the end of the run
 * only (summary_eval_thresholds): it can fail the run, never abort it. */
static void check_abort_thresholds(engine *e)
{
    double elapsed = (double)(engine_mono_now() - e->t0);
    for (size_t i = 0; i < e->s->n_thresholds && !e->aborted; i++) {
        const threshold *t = &e->s->thresholds[i];
        if (!t->abort_on_fail || elapsed < (double)t->delay_abort_ns ||
            (t->expr.relative && t->expr.baseline_state != TH_BASELINE_SET))
            continue;   /* relative to a baseline run it lacks: not judged (summary.c) */
        const series_agg *a = &e->global.s[t->series];
        if (a->count == 0)
            continue;
        double v = summary_agg_value(&e->core->reg, a, t->metric, &t->expr, elapsed / 1e9);
        if (th_holds(&t->expr, v))
            continue;
        char shown[160];   /* as the summary shows it: p(99)=22.8ms */
        summary_fmt_judged(&e->core->reg, t, a, elapsed / 1e9, shown, sizeof shown);
        fprintf(stderr, "volley: threshold \"%s\" on %s failed (%s): aborting the test "
                "(abort_on_fail)\n", t->source, t->key, shown);
        e->aborted = true;
        e->abort_threshold = i;
        engine_request_stop(e);
    }
}

static double series_sum(engine *e, uint32_t metric)
{
    return e->global.s[e->core->reg.metrics[metric].series].sum;
}

static uint64_t series_count(engine *e, const char *metric, bool nonzero)
{
    int id = metrics_find(&e->core->reg, metric);
    if (id < 0)
        return 0;
    const series_agg *a = &e->global.s[e->core->reg.metrics[id].series];
    return nonzero ? a->nonzero : a->count;
}

void engine_show_progress(engine *e, bool final)
{
    if (!e->prog)
        return;
    uint64_t now = final && e->end_ns ? e->end_ns : engine_mono_now();
    for (size_t i = 0; i < e->s->n_scenarios; i++) {
        const scenario *sc = &e->s->scenarios[i];
        const sc_live *l = &e->live[i];
        double since = ((double)now - (double)e->t0 - (double)sc->start_time_ns) / 1e9;
        double total = (double)scenario_length_ns(sc) / 1e9;
        if (since > total && atomic_load_explicit(&l->running, memory_order_relaxed) == 0)
            since = total;   /* finished: stop the clock at its length */
        e->prog_sc[i] = (progress_scenario){
            .name = sc->name, .executor = executor_name(sc->executor),
            .elapsed_s = since > 0 ? since : 0, .total_s = total,
            .vus = atomic_load_explicit(&l->running, memory_order_relaxed),
            .vus_max = scenario_max_vus(sc),
            .iterations = atomic_load_explicit(&l->iterations, memory_order_relaxed),
            .interrupted = atomic_load_explicit(&l->interrupted, memory_order_relaxed),
            .dropped = atomic_load_explicit(&l->dropped, memory_order_relaxed),
            .done = final};
    }
    /* The rate is the summary's: requests over the time since the start.
     * A rate over the last tick is not: workers publish about once a
     * second, out of step with this tick, so one tick gets no new counts
     * and the next two seconds' worth, and the last one a short one. */
    uint64_t reqs = series_count(e, "http_reqs", false);
    double elapsed = (double)(now - e->t0) / 1e9;
    const window_view *wv = &e->win.last;
    progress_snapshot snap = {.elapsed_s = elapsed, .n = e->s->n_scenarios,
                              .sc = e->prog_sc, .requests = reqs,
                              .requests_per_s = elapsed > 0 ? (double)reqs / elapsed : 0,
                              .failed = series_count(e, "http_req_failed", true), .final = final,
                              .vus_max = atomic_load_explicit(&e->vus_max, memory_order_relaxed),
                              .dropped = (uint64_t)series_sum(e, BUILTIN_DROPPED_ITERATIONS),
                              .console_lines = atomic_load_explicit(&e->console_lines,
                                                                    memory_order_relaxed),
                              };
    if (final) {
        /* The summary's numbers: over the whole run. */
        int m = metrics_find(&e->core->reg, "http_req_duration");
        const series_agg *a = m >= 0 ? &e->global.s[e->core->reg.metrics[m].series] : NULL;
        if (a && a->count) {
            snap.has_p95 = true;
            snap.p95_ms = agg_trend_stat(a, "p(95)");
        }
    } else if (wv->valid) {
        snap.has_p95 = wv->p95_ms >= 0;
        snap.p95_ms = wv->p95_ms;
        snap.window_requests = wv->requests;
        snap.window_failed = wv->failed;
        snap.window_s = wv->seconds;
        snap.window_seq = wv->seq;
    }
    progress_update(e->prog, &snap);
}

/* 200 ms past each whole second of the run: the workers handed over
 * their aggregates at the second (engine_worker.c), so this one has all
 * of it, unless a worker's loop was that late. */
#define TICK_AFTER_NS 200000000ull

static void on_tick(uv_timer_t *t);

static void arm_tick(engine *e)
{
    uint64_t now = engine_mono_now();
    uint64_t sec = now > e->t0 ? (now - e->t0) / 1000000000ull : 0;
    if (now >= e->t0 + sec * 1000000000ull + TICK_AFTER_NS || sec == 0)
        sec++;   /* the first at 1.2 s: before it, no worker has handed anything over */
    e->next_tick_at = e->t0 + sec * 1000000000ull + TICK_AFTER_NS;
    uv_timer_start(&e->tick, on_tick, engine_timer_ms_until(&e->main_loop, e->next_tick_at), 0);
}

static void on_tick(uv_timer_t *t)
{
    engine *e = t->data;
    engine_main_flush(e, true);
    uint64_t sec = (e->next_tick_at - e->t0) / 1000000000ull;
    if (windows_due(&e->win, sec))
        windows_close(&e->win, &e->core->reg, (double)sec,
                      atomic_load_explicit(&e->active_vus, memory_order_relaxed),
                      atomic_load_explicit(&e->vus_max, memory_order_relaxed));
    engine_show_progress(e, false);
    if (++e->ticks % 2 == 0)
        check_abort_thresholds(e);
    arm_tick(e);
}

void engine_main_start(engine *e) { arm_tick(e); }

static void on_signal(uv_signal_t *h, int signum)
{
    engine *e = h->data;
    if (++e->sigints >= 2) {
        static const char msg[] = "\nvolley: interrupted twice, exiting at once\n";
        ssize_t rc = write(2, msg, sizeof msg - 1);
        (void)rc;
        _exit(105);
    }
    e->interrupted = true;
    if (e->waiting_start) {
        uv_stop(&e->main_loop);
        return;
    }
    fprintf(stderr, "\nvolley: %s received, stopping (summary and outputs are still written; "
            "press Ctrl-C again to exit at once)\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    engine_request_stop(e);
}

/* A worker that died of a fatal signal is parked for good (crash.c): the
 * run stops as on SIGINT, and its part of the end gate and of the count of
 * finished workers is taken on its behalf. A watchdog bounds the rest, in
 * case it crashed holding a lock someone needs. */
static void take_crashed_workers(engine *e)
{
    for (int i = 0; i < e->n_workers; i++) {
        volley_worker *w = &e->workers[i];
        if (w->crash_taken || !atomic_load(&w->crashed))
            continue;
        w->crash_taken = true;
        crash_watchdog(30);
        if (!w->idle) {
            w->idle = true;
            engine_idle_arrive(e);
        }
        atomic_fetch_add(&e->workers_done, 1);
        atomic_store(&e->no_teardown, true);
        engine_request_stop(e);
    }
}

static void on_main_wake(uv_async_t *a)
{
    engine *e = a->data;
    take_crashed_workers(e);
    if (atomic_load(&e->workers_done) == e->n_workers) {
        engine_main_flush(e, true);   /* the vus gauges' value at the end */
        uv_timer_stop(&e->tick);
        uv_close((uv_handle_t *)&e->tick, NULL);
        uv_close((uv_handle_t *)&e->main_wake, NULL);
        uv_signal_stop(&e->sigint);
        uv_signal_stop(&e->sigterm);
        uv_close((uv_handle_t *)&e->sigint, NULL);
        uv_close((uv_handle_t *)&e->sigterm, NULL);
    }
}

/* The main thread's loop: the workers' wake-ups, SIGINT/SIGTERM and the
 * one-second tick. */
int engine_main_open(engine *e, char *err, size_t errcap)
{
    int rc = uv_loop_init(&e->main_loop);
    if (rc != 0) {
        snprintf(err, errcap, "cannot set up the main loop: uv_loop_init: %s", uv_strerror(rc));
        return -1;
    }
    e->main_wake.data = e->sigint.data = e->sigterm.data = e->tick.data = e;
    const char *call = NULL;
    if ((rc = uv_async_init(&e->main_loop, &e->main_wake, on_main_wake)) != 0)
        call = "uv_async_init";
    else if ((rc = uv_signal_init(&e->main_loop, &e->sigint)) != 0 ||
             (rc = uv_signal_init(&e->main_loop, &e->sigterm)) != 0)
        call = "uv_signal_init";
    else if ((rc = uv_signal_start(&e->sigint, on_signal, SIGINT)) != 0 ||
             (rc = uv_signal_start(&e->sigterm, on_signal, SIGTERM)) != 0)
        call = "uv_signal_start";
    else if ((rc = uv_timer_init(&e->main_loop, &e->tick)) != 0)
        call = "uv_timer_init";
    if (!call)
        return 0;
    snprintf(err, errcap, "cannot set up the main loop: %s: %s", call, uv_strerror(rc));
    engine_loop_close(&e->main_loop);
    return -1;
}
