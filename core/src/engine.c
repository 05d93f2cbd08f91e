#include "engine_int.h"

#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "capture.h"
#include "duration.h"
#include "memo.h"
#include "output_runner.h"
#include "progress.h"
#include "rng.h"
#include "summary.h"
#include "template.h"
#include "tag_intern.h"
#include "vu.h"

/* ------------------------------------------------------------------ */
/* Main thread: metrics, signals                                       */
/* ------------------------------------------------------------------ */

static void main_flush(engine *e, bool sample_gauges)
{
    for (int i = 0; i < e->n_workers; i++)
        agg_pair_collect(&e->workers[i].agg, &e->global, &e->core->reg);
    if (!sample_gauges)
        return;
    uint64_t now = engine_mono_now();
    int64_t active = atomic_load_explicit(&e->active_vus, memory_order_relaxed);
    sample_tags st = {0};
    metrics_record(&e->core->reg, &e->global, BUILTIN_VUS, (double)active, &st, (int64_t)now);
    double vmax = (double)atomic_load_explicit(&e->vus_max, memory_order_relaxed);
    metrics_record(&e->core->reg, &e->global, BUILTIN_VUS_MAX, vmax, &st, (int64_t)now);
    if (e->n_outs) {
        volley_sample *buf = NULL;
        size_t n = 0, cap = 0;
        engine_push_raw(e, &buf, &n, &cap, &e->main_tags, BUILTIN_VUS, (double)active, &st, now);
        engine_push_raw(e, &buf, &n, &cap, &e->main_tags, BUILTIN_VUS_MAX, vmax, &st, now);
        out_batch *b = out_batch_new(buf, n);
        if (b) {
            for (size_t i = 0; i < e->n_outs; i++)
                outr_push(&e->outs[i], b);
            out_batch_release(b);
        }
    }
}

/* Thresholds with abort_on_fail are evaluated every 2 s, as k6 does, once
 * their delay_abort_eval has passed. */
static void check_abort_thresholds(engine *e)
{
    double elapsed = (double)(engine_mono_now() - e->t0);
    for (size_t i = 0; i < e->s->n_thresholds && !e->aborted; i++) {
        const threshold *t = &e->s->thresholds[i];
        if (!t->abort_on_fail || elapsed < (double)t->delay_abort_ns)
            continue;
        const series_agg *a = &e->global.s[t->series];
        if (a->count == 0)
            continue;
        double v = summary_agg_value(&e->core->reg, a, t->metric, &t->expr, elapsed / 1e9);
        if (th_holds(&t->expr, v))
            continue;
        fprintf(stderr, "volley: threshold \"%s\" on %s failed (value %g): aborting the test "
                "(abort_on_fail)\n", t->source, t->key, v);
        e->aborted = true;
        e->abort_threshold = i;
        engine_request_stop(e);
    }
}

static uint64_t series_count(engine *e, const char *metric, bool nonzero)
{
    int id = metrics_find(&e->core->reg, metric);
    if (id < 0)
        return 0;
    const series_agg *a = &e->global.s[e->core->reg.metrics[id].series];
    return nonzero ? a->nonzero : a->count;
}

static void show_progress(engine *e, bool final)
{
    if (!e->prog)
        return;
    uint64_t now = engine_mono_now();
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
    uint64_t reqs = series_count(e, "http_reqs", false);
    double dt = (double)(now - e->last_tick_ns) / 1e9;
    progress_snapshot snap = {.elapsed_s = (double)(now - e->t0) / 1e9, .n = e->s->n_scenarios,
                              .sc = e->prog_sc, .requests = reqs,
                              .requests_per_s = dt > 0 ? (double)(reqs - e->last_reqs) / dt : 0,
                              .failed = series_count(e, "http_req_failed", true), .final = final};
    e->last_reqs = reqs;
    e->last_tick_ns = now;
    progress_update(e->prog, &snap);
}

static void on_tick(uv_timer_t *t)
{
    engine *e = t->data;
    main_flush(e, true);
    show_progress(e, false);
    if (++e->ticks % 2 == 0)
        check_abort_thresholds(e);
}

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
    fprintf(stderr, "\nvolley: %s received, stopping (summary and outputs are still written; "
            "press Ctrl-C again to exit at once)\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    engine_request_stop(e);
}

static void on_main_wake(uv_async_t *a)
{
    engine *e = a->data;
    if (atomic_load(&e->workers_done) == e->n_workers) {
        uv_timer_stop(&e->tick);
        uv_close((uv_handle_t *)&e->tick, NULL);
        uv_close((uv_handle_t *)&e->main_wake, NULL);
        uv_signal_stop(&e->sigint);
        uv_signal_stop(&e->sigterm);
        uv_close((uv_handle_t *)&e->sigint, NULL);
        uv_close((uv_handle_t *)&e->sigterm, NULL);
    }
}

/* ------------------------------------------------------------------ */
/* Run                                                                 */
/* ------------------------------------------------------------------ */

static int plan_workers(engine *e)
{
    int64_t total = 0;
    for (size_t i = 0; i < e->s->n_scenarios; i++)
        total += scenario_max_vus(&e->s->scenarios[i]);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = e->o->workers > 0 ? e->o->workers : (int)(cores > 0 ? cores : 1);
    if (n > 64)
        n = 64;
    if (total < n)
        n = total > 0 ? (int)total : 1;
    e->n_workers = n;
    e->workers = calloc((size_t)n, sizeof *e->workers);
    return e->workers ? 0 : -1;
}

static int init_sc_runs(engine *e, volley_worker *w)
{
    const spec *s = e->s;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        int64_t nv = scenario_max_vus(sc);
        size_t mine = (size_t)(nv / e->n_workers + (w->index < nv % e->n_workers));
        sc_run *sr = &w->scs[i];
        *sr = (sc_run){.sc = sc, .index = i, .phase = SC_PENDING, .next_at = -1};
        sr->vus = calloc(mine ? mine : 1, sizeof *sr->vus);
        sr->free = calloc(mine ? mine : 1, sizeof *sr->free);
        if (!sr->vus || !sr->free)
            return -1;
    }
    return 0;
}

/* VUs round-robin over workers, scenario by scenario (VU g of a scenario
 * goes to worker g % workers); ids are global. All start PARKED. */
static int assign_vus(engine *e)
{
    const spec *s = e->s;
    size_t *counts = calloc((size_t)e->n_workers, sizeof *counts);
    if (!counts)
        return -1;
    for (size_t i = 0; i < s->n_scenarios; i++)
        for (int64_t k = 0; k < scenario_max_vus(&s->scenarios[i]); k++)
            counts[k % e->n_workers]++;
    for (int wi = 0; wi < e->n_workers; wi++) {
        volley_worker *w = &e->workers[wi];
        w->e = e;
        w->index = wi;
        w->vus = calloc(counts[wi] ? counts[wi] : 1, sizeof *w->vus);
        w->scs = calloc(s->n_scenarios ? s->n_scenarios : 1, sizeof *w->scs);
        if (!w->vus || !w->scs || agg_pair_init(&w->agg, &e->core->reg) != 0 ||
            init_sc_runs(e, w) != 0) {
            free(counts);
            return -1;
        }
    }
    free(counts);
    uint64_t id = 1;
    int64_t in_use = 0;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        int64_t nv = scenario_max_vus(sc);
        bool arrival = executor_is_arrival(sc->executor);
        in_use += arrival ? (sc->pre_allocated_vus < nv ? sc->pre_allocated_vus : nv) : nv;
        for (int64_t k = 0; k < nv; k++) {
            volley_worker *w = &e->workers[k % e->n_workers];
            vu_run *v = &w->vus[w->n_vus++];
            v->pub.id = id++;
            v->pub.rng = rng_vu_state(e->o->seed, v->pub.id);
            v->w = w;
            v->gidx = (uint32_t)k;
            v->sr = &w->scs[i];
            v->sr->vus[v->sr->n_vus++] = v;
            if (arrival && k < sc->pre_allocated_vus)
                v->sr->inited++;
        }
    }
    /* Arrival-rate: the pre-allocated VUs wait on the free stack, lowest
     * index on top. */
    for (int wi = 0; wi < e->n_workers; wi++)
        for (size_t i = 0; i < s->n_scenarios; i++) {
            sc_run *sr = &e->workers[wi].scs[i];
            if (executor_is_arrival(sr->sc->executor))
                for (size_t j = sr->inited; j-- > 0;)
                    sr->free[sr->n_free++] = sr->vus[j];
        }
    atomic_store(&e->active_vus, 0);
    atomic_store(&e->vus_max, in_use);
    return 0;
}

static int start_outputs(engine *e, char *err, size_t errcap)
{
    e->n_outs = e->s->n_outputs;
    e->outs = calloc(e->n_outs ? e->n_outs : 1, sizeof *e->outs);
    if (!e->outs)
        return -1;
    for (size_t i = 0; i < e->n_outs; i++)
        if (outr_start(&e->outs[i], &e->s->outputs[i], &e->core->host, e->core, err, errcap) != 0)
            return -1;
    return 0;
}

/* Moves each check's first failure reason into the result (first worker wins). */
static void collect_first_fail(volley_worker *w, run_result *res, size_t n_series)
{
    if (!w->first_fail)
        return;
    if (!res->check_fail)
        res->check_fail = calloc(n_series ? n_series : 1, sizeof *res->check_fail);
    if (!res->check_fail)
        return;
    res->n_check_fail = n_series;
    for (size_t i = 0; i < n_series; i++) {
        if (w->first_fail[i] && !res->check_fail[i]) {
            res->check_fail[i] = w->first_fail[i];
            w->first_fail[i] = NULL;
        }
    }
}

static void finish_outputs(engine *e, run_result *res)
{
    res->n_outputs = e->n_outs;
    res->outputs = calloc(e->n_outs ? e->n_outs : 1, sizeof *res->outputs);
    for (size_t i = 0; i < e->n_outs; i++) {
        out_runner *r = &e->outs[i];
        outr_finish(r);
        if (!res->outputs)
            continue;
        output_report *o = &res->outputs[i];
        o->label = e->s->outputs[i].label;
        o->written = r->written;
        o->dropped = atomic_load(&r->dropped);
        o->failed = r->failed;
        snprintf(o->err, sizeof o->err, "%s", r->err);
    }
    free(e->outs);
    e->outs = NULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void init_clock(engine *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->t0 = engine_mono_now();
    e->wall_offset = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - (int64_t)e->t0;
}

static int start_workers(engine *e, char *err, size_t errcap)
{
    /* Signals go to the main thread's loop only. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = 0;
    e->gate_want = e->n_workers;
    for (int i = 0; i < e->n_workers; i++) {
        if (pthread_create(&e->workers[i].thread, NULL, engine_worker_main, &e->workers[i]) != 0) {
            snprintf(err, errcap, "cannot start worker thread %d", i);
            e->n_workers = i;   /* join only those that started */
            pthread_mutex_lock(&e->gate_mu);
            e->gate_want = i;   /* and let them through the gate */
            pthread_cond_broadcast(&e->gate_cv);
            pthread_mutex_unlock(&e->gate_mu);
            rc = -1;
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int engine_run(volley_core *core, spec *s, const run_opts *o, run_result *res,
               char *err, size_t errcap)
{
    memset(res, 0, sizeof *res);
    engine e = {.core = core, .s = s, .o = o};
    int rc = -1;
    atomic_init(&e.stop, 0);
    atomic_init(&e.workers_done, 0);
    atomic_init(&e.workers_idle, 0);
    pthread_mutex_init(&e.gate_mu, NULL);
    pthread_cond_init(&e.gate_cv, NULL);
    core->reg.frozen = true;
    e.claimed = calloc(s->n_scenarios ? s->n_scenarios : 1, sizeof *e.claimed);
    e.pool_next = calloc(s->n_pools ? s->n_pools : 1, sizeof *e.pool_next);
    e.pool_used_up = calloc(s->n_pools ? s->n_pools : 1, sizeof *e.pool_used_up);
    e.sc_used_up = calloc(s->n_scenarios ? s->n_scenarios : 1, sizeof *e.sc_used_up);
    e.live = calloc(s->n_scenarios ? s->n_scenarios : 1, sizeof *e.live);
    e.prog_sc = calloc(s->n_scenarios ? s->n_scenarios : 1, sizeof *e.prog_sc);
    /* The live display goes to stderr, so stdout keeps only the summary. */
    e.prog = progress_new(stderr, isatty(2), o->quiet, 5.0);
    tagi_init(&e.main_tags, core->reg.run_tags, core->reg.n_run_tags);
    if (!e.claimed || !e.pool_next || !e.pool_used_up || !e.sc_used_up || !e.live || !e.prog_sc || !e.prog || metrics_agg_init(&e.global, &core->reg) != 0 || plan_workers(&e) != 0) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    init_clock(&e);
    if (assign_vus(&e) != 0) {
        snprintf(err, errcap, "out of memory planning %lld VUs", (long long)atomic_load(&e.vus_max));
        goto out;
    }
    if (start_outputs(&e, err, errcap) != 0)
        goto out_outputs;
    uv_loop_init(&e.main_loop);
    uv_async_init(&e.main_loop, &e.main_wake, on_main_wake);
    e.main_wake.data = &e;
    uv_signal_init(&e.main_loop, &e.sigint);
    uv_signal_init(&e.main_loop, &e.sigterm);
    e.sigint.data = e.sigterm.data = &e;
    uv_signal_start(&e.sigint, on_signal, SIGINT);
    uv_signal_start(&e.sigterm, on_signal, SIGTERM);
    uv_timer_init(&e.main_loop, &e.tick);
    e.tick.data = &e;
    uv_timer_start(&e.tick, on_tick, 1000, 1000);
    core->engine = (struct engine *)&e;

    init_clock(&e);   /* the run starts now; scenario deadlines follow */
    e.last_tick_ns = e.t0;
    for (int i = 0; i < e.n_workers; i++)
        for (size_t j = 0; j < s->n_scenarios; j++) {
            sc_run *sr = &e.workers[i].scs[j];
            sr->start_at = e.t0 + (uint64_t)sr->sc->start_time_ns;
            sr->end_at = sr->start_at + (uint64_t)scenario_length_ns(sr->sc);
            sr->hard_at = sr->end_at + (uint64_t)sr->sc->graceful_stop_ns;
        }
    double cpu0 = cpu_seconds();
    int started = start_workers(&e, err, errcap);
    res->ran = e.n_workers > 0;
    if (started != 0)
        engine_request_stop(&e);
    main_flush(&e, true);   /* vus at t=0, so short runs have a value too */
    if (e.n_workers > 0)
        uv_run(&e.main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < e.n_workers; i++)
        pthread_join(e.workers[i].thread, NULL);
    res->duration_ns = (int64_t)(engine_mono_now() - e.t0);
    res->cpu_s = cpu_seconds() - cpu0;
    core->engine = NULL;
    uv_run(&e.main_loop, UV_RUN_NOWAIT);
    uv_loop_close(&e.main_loop);

    main_flush(&e, false);
    show_progress(&e, true);
    for (int i = 0; i < e.n_workers; i++) {
        volley_worker *w = &e.workers[i];
        agg_pair_drain(&w->agg, &e.global, &core->reg);
        res->iterations_interrupted += w->interrupted;
        collect_first_fail(w, res, core->reg.n_series);
        if (*w->err && started == 0) {
            snprintf(err, errcap, "%s", w->err);
            started = -1;
        }
    }
    rc = started;
out_outputs:
    finish_outputs(&e, res);
out:
    for (int i = 0; e.workers && i < e.n_workers; i++)
        engine_worker_free(&e.workers[i]);
    free(e.workers);
    free((void *)e.claimed);
    free((void *)e.pool_next);
    free((void *)e.pool_used_up);
    free((void *)e.sc_used_up);
    pthread_mutex_destroy(&e.gate_mu);
    pthread_cond_destroy(&e.gate_cv);
    free(e.live);
    free(e.prog_sc);
    progress_free(e.prog);
    tagi_free(&e.main_tags);
    res->agg = e.global;
    res->interrupted = e.interrupted;
    res->aborted = e.aborted;
    res->abort_threshold = e.abort_threshold;
    res->vus_max = atomic_load(&e.vus_max);
    res->workers = e.n_workers;
    res->seed = o->seed;
    if (atomic_load(&e.test_aborted)) {
        res->test_aborted = true;
        snprintf(res->abort_reason, sizeof res->abort_reason, "%s", e.abort_reason);
    }
    res->iterations_complete = e.global.s ? e.global.s[core->reg.metrics[BUILTIN_ITERATIONS].series].count : 0;
    return rc;
}

void run_result_free(run_result *r)
{
    for (size_t i = 0; r->check_fail && i < r->n_check_fail; i++)
        free(r->check_fail[i]);
    free(r->check_fail);
    metrics_agg_free(&r->agg);
    free(r->outputs);
    memset(r, 0, sizeof *r);
}
