/*
 * engine: a run from start to end. It plans the workers and gives them
 * their VUs, starts the outputs, the main thread's loop and the worker
 * threads, waits for them, and gathers what they measured into the run's
 * result. How each part works is in the other engine_*.c files (see
 * engine_int.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"
#include "result.h"
#include "rng.h"
#include "setup_data.h"

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
    e->n_workers = e->n_planned = n;
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
            /* segments: the stream of the one-machine run's VU, so that
             * instances differ and together draw what one machine would */
            uint64_t gid = !sc->seg ? v->pub.id
                           : (uint64_t)(sc->vu_id_base + 1 +
                                        (sc->role == SC_ROLE_MAIN ? seg_global(sc->seg, k) : k));
            v->pub.rng = rng_vu_state(e->o->seed, gid);
            v->pub.setup = &e->setup_vals;
            v->w = w;
            v->gidx = (uint32_t)k;
            v->sr = &w->scs[i];
            v->vtags = sc->tags;
            v->n_vtags = sc->n_tags;
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

static void finish_outputs(engine *e, run_result *res, const volley_run_summary *sum)
{
    if (!e->outs)
        return;   /* already finished */
    res->n_outputs = e->n_outs;
    res->outputs = calloc(e->n_outs ? e->n_outs : 1, sizeof *res->outputs);
    for (size_t i = 0; i < e->n_outs; i++) {
        out_runner *r = &e->outs[i];
        outr_finish_summary(r, sum);
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

static void on_start_due(uv_timer_t *t) { uv_stop(t->loop); }

/* --start-at: everything is set up; sleep on the main loop (SIGINT ends
 * it) to the last millisecond, then to the instant itself on the wall
 * clock. 0 at the instant, -1 when interrupted before it. */
static int wait_for_start(engine *e, int64_t at_unix_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t left = at_unix_ns - ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
    e->waiting_start = true;
    if (left > 1000000) {
        uv_update_time(&e->main_loop);
        uv_timer_start(&e->tick, on_start_due, (uint64_t)(left / 1000000 - 1), 0);
        uv_run(&e->main_loop, UV_RUN_DEFAULT);
        uv_timer_stop(&e->tick);
    }
    e->waiting_start = false;
    if (e->interrupted)
        return -1;
    ts.tv_sec = (time_t)(at_unix_ns / 1000000000);
    ts.tv_nsec = (long)(at_unix_ns % 1000000000);
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    return 0;
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
        int prc = pthread_create(&e->workers[i].thread, NULL, engine_worker_main, &e->workers[i]);
        if (prc == 0 && pthread_getcpuclockid(e->workers[i].thread, &e->worker_clk[i]) != 0)
            e->worker_clk[i] = CLOCK_THREAD_CPUTIME_ID;   /* unknown: reads the main thread's */
        if (prc != 0) {
            snprintf(err, errcap, "cannot start worker thread %d: %s", i, strerror(prc));
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

/* The run's result from the engine's state (idempotent: called before the
 * outputs close, for the judge, and again at the end). */
static void fill_result(engine *e, run_result *res)
{
    res->agg = e->global;
    res->interrupted = e->interrupted;
    res->interrupted_before_start = e->interrupted && e->n_workers == 0;
    res->aborted = e->aborted;
    res->abort_threshold = e->abort_threshold;
    res->vus_max = atomic_load(&e->vus_max);
    res->workers = e->n_workers;
    res->seed = e->o->seed;
    if (atomic_load(&e->test_aborted)) {
        res->test_aborted = true;
        res->abort_step = atomic_load(&e->test_aborted) == ABORT_BY_STEP;
        snprintf(res->abort_reason, sizeof res->abort_reason, "%s", e->abort_reason);
    }
    res->iterations_complete = e->global.s ? e->global.s[e->core->reg.metrics[BUILTIN_ITERATIONS].series].count : 0;
    res->setup_state = atomic_load(&e->setup_state);
    res->teardown_state = atomic_load(&e->teardown_state);
    if (res->setup_state == HOOK_PENDING)
        res->setup_state = HOOK_SKIPPED;
    if (res->teardown_state == HOOK_PENDING)
        res->teardown_state = HOOK_SKIPPED;
    snprintf(res->hook_reason, sizeof res->hook_reason, "%s", e->hook_reason);
    res->start_unix_ns = (int64_t)e->t0 + e->wall_offset;
    res->health = e->win.health;
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
    int mu_rc = pthread_mutex_init(&e.gate_mu, NULL);
    int cv_rc = pthread_cond_init(&e.gate_cv, NULL);
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
    if (mu_rc != 0 || cv_rc != 0) {
        snprintf(err, errcap, "cannot set up the start gate: %s", strerror(mu_rc ? mu_rc : cv_rc));
        goto out;
    }
    if (!e.claimed || !e.pool_next || !e.pool_used_up || !e.sc_used_up || !e.live || !e.prog_sc || !e.prog || metrics_agg_init(&e.global, &core->reg) != 0 || plan_workers(&e) != 0 ||
        !(e.worker_clk = calloc((size_t)e.n_planned + 1, sizeof *e.worker_clk)) ||
        windows_init(&e.win, &core->reg, o->window_s, e.n_planned, e.worker_clk, o->result) != 0) {
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
    if (engine_main_open(&e, err, errcap) != 0)
        goto out_outputs;
    core->engine = (struct engine *)&e;

    if (o->start_at_unix_ns > 0 && wait_for_start(&e, o->start_at_unix_ns) != 0)
        e.n_workers = 0;   /* interrupted: none start, the rest only closes */
    init_clock(&e);   /* the run starts now; scenario deadlines follow */
    bool run_setup = s->setup_sc >= 0 && !o->setup_data;
    atomic_init(&e.setup_state, run_setup ? HOOK_PENDING : HOOK_NONE);
    e.setup_vals = o->setup_data;
    atomic_init(&e.teardown_state, s->teardown_sc >= 0 ? HOOK_PENDING : HOOK_NONE);
    atomic_init(&e.no_teardown, o->no_teardown);
    for (int i = 0; i < e.n_workers; i++)
        for (size_t j = 0; j < s->n_scenarios; j++) {
            sc_run *sr = &e.workers[i].scs[j];
            sr->start_at = e.t0 + (uint64_t)sr->sc->start_time_ns;
            sr->end_at = sr->start_at + (uint64_t)scenario_length_ns(sr->sc);
            sr->hard_at = sr->end_at + (uint64_t)sr->sc->graceful_stop_ns;
            /* The scenarios wait for setup, teardown for them all; a
             * worker without the hook's one VU is done with it at once. */
            bool held = (sr->sc->role == SC_ROLE_MAIN && run_setup) ||
                        sr->sc->role == SC_ROLE_TEARDOWN;
            /* volley setup / teardown / --setup-data: the rest is left out */
            bool skip = (sr->sc->role == SC_ROLE_SETUP && !run_setup) ||
                        (sr->sc->role != SC_ROLE_SETUP && o->hooks_only == RUN_SETUP_ONLY) ||
                        (sr->sc->role == SC_ROLE_MAIN && o->hooks_only == RUN_TEARDOWN_ONLY);
            skip |= sr->sc->seg_skipped;   /* no share of it on this instance */
            if ((sr->sc->role != SC_ROLE_MAIN && sr->n_vus == 0) || skip) {
                sr->phase = SC_DONE;
            } else if (held) {
                sr->held = true;
                sr->start_at = sr->end_at = sr->hard_at = UINT64_MAX;
            }
        }
    double cpu0 = cpu_seconds();
    int started = e.n_workers > 0 ? start_workers(&e, err, errcap) : 0;
    res->ran = e.n_workers > 0;
    if (started != 0)
        engine_request_stop(&e);
    e.win.n_threads = e.n_workers;   /* those that started */
    windows_init_clock(&e.win);
    if (res->ran)
        result_write_meta(o->result, s, &core->reg, (int64_t)e.t0 + e.wall_offset, o->seed,
                          e.n_workers, e.win.health.cores, (double)e.win.window_s);
    engine_main_start(&e);
    engine_main_flush(&e, true);   /* vus at t=0, so short runs have a value too */
    if (e.n_workers > 0)
        uv_run(&e.main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < e.n_workers; i++)
        if (!crash_join(e.workers[i].thread, &e.workers[i].crashed))
            engine_worker_salvage(&e.workers[i]);
    e.end_ns = engine_mono_now();
    /* A setup that captures nothing has no slots: its file has no values. */
    char setup_sha[65] = "";
    if (o->hooks_only == RUN_SETUP_ONLY)
        result_spec_sha256(s, setup_sha);
    if (o->hooks_only == RUN_SETUP_ONLY && atomic_load(&e.setup_state) == HOOK_OK &&
        (e.setup_vals || s->n_setup_names == 0) &&
        !(res->setup_json = setup_data_dump(s->setup_names, e.setup_vals, s->n_setup_names,
                                            setup_sha)))
        snprintf(err, errcap, "out of memory writing setup's captures");
    res->duration_ns = (int64_t)(e.end_ns - e.t0);
    res->cpu_s = cpu_seconds() - cpu0;
    windows_detach_threads(&e.win);
    engine_loop_close(&e.main_loop);

    engine_main_flush(&e, false);
    res->samples_dropped = e.main_raw.dropped;
    for (int i = 0; i < e.n_workers; i++) {
        volley_worker *w = &e.workers[i];
        agg_pair_drain_into(&w->agg, &e.global, &e.win.agg, &core->reg);
        res->iterations_interrupted += w->interrupted;
        res->samples_dropped += w->raw.dropped;
        collect_first_fail(w, res, core->reg.n_series);
        if (*w->err && started == 0) {
            snprintf(err, errcap, "%s", w->err);
            started = -1;
        }
    }
    if (res->ran)   /* the last window, to the end */
        windows_close(&e.win, &core->reg, (double)res->duration_ns / 1e9,
                      atomic_load(&e.active_vus), atomic_load(&e.vus_max));
    engine_show_progress(&e, true);   /* every sample in: the summary's counts */
    rc = started;
    if (res->ran) {
        /* Thresholds are judged now, while the outputs are still open:
         * those of revision 5 get the verdicts before close(). */
        const volley_run_summary *sum = NULL;
        if (o->judge) {
            fill_result(&e, res);
            sum = o->judge(o->judge_ctx, res, rc != 0);
        }
        finish_outputs(&e, res, sum);
    }
out_outputs:
    finish_outputs(&e, res, NULL);
    /* Only now: what outputs warn about in close() (a remote that lost
     * pushes) is a line of the summary too. */
    core->engine = NULL;
out:
    for (int i = 0; e.workers && i < e.n_planned; i++)
        engine_worker_free(&e.workers[i]);
    free(e.workers);
    free((void *)e.claimed);
    free((void *)e.pool_next);
    free((void *)e.pool_used_up);
    free((void *)e.sc_used_up);
    if (e.n_warnings && (res->warnings = calloc(e.n_warnings, sizeof *res->warnings))) {
        memcpy(res->warnings, e.warnings, e.n_warnings * sizeof *res->warnings);
        res->n_warnings = e.n_warnings;
    } else {
        for (size_t i = 0; i < e.n_warnings; i++)
            free(e.warnings[i]);
    }
    if (mu_rc == 0)
        pthread_mutex_destroy(&e.gate_mu);
    if (cv_rc == 0)
        pthread_cond_destroy(&e.gate_cv);
    free(e.live);
    free(e.prog_sc);
    res->health = e.win.health;
    windows_free(&e.win);
    free(e.worker_clk);
    progress_free(e.prog);
    tagi_free(&e.main_tags);
    free(e.main_raw.s);
    fill_result(&e, res);
    return rc;
}

void engine_note_warning(struct engine *e, const char *text)
{
    pthread_mutex_lock(&e->gate_mu);
    bool seen = false;
    for (size_t i = 0; i < e->n_warnings && !seen; i++)
        seen = strcmp(e->warnings[i], text) == 0;
    if (!seen && e->n_warnings < ENGINE_MAX_WARNINGS) {
        char *copy = strdup(text);
        if (copy)
            e->warnings[e->n_warnings++] = copy;
    }
    pthread_mutex_unlock(&e->gate_mu);
}

void run_result_free(run_result *r)
{
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    for (size_t i = 0; r->check_fail && i < r->n_check_fail; i++)
        free(r->check_fail[i]);
    free(r->check_fail);
    metrics_agg_free(&r->agg);
    free(r->outputs);
    free(r->setup_json);
    memset(r, 0, sizeof *r);
}
