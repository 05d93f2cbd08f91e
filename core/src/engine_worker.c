/*
 * engine_worker: a worker thread: its loop and handles, its plugins'
 * worker and VU state, the start gate, the loop run until its handles are
 * gone, and what it frees once joined.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "crash.h"
#include "engine_int.h"
#include "template.h"

#define FLUSH_NS 250000000ull   /* sample batches to outputs */
#define SECOND_NS 1000000000ull

void *engine_host_worker_loop(volley_worker *w) { return &w->loop; }
int engine_host_worker_index(volley_worker *w) { return w->index; }

/* Every 250 ms of the run's clock (not of this loop's: the windows of the
 * time series are the run's whole seconds): the outputs' batch, and at
 * each whole second the aggregate for the metrics thread, which takes it
 * 200 ms later (engine_main.c). A hand-over that finds the last one not
 * taken yet is tried again at the next tick. */
static void on_flush(uv_timer_t *t)
{
    volley_worker *w = t->data;
    engine *e = w->e;
    engine_flush_raw(e, &w->raw);
    uint64_t now = engine_mono_now();
    uint64_t sec = (now - e->t0) / SECOND_NS;
    if (sec > w->published_sec && agg_pair_publish(&w->agg))
        w->published_sec = sec;
    uint64_t n = (now - e->t0) / FLUSH_NS + 1;
    w->next_flush_at = e->t0 + n * FLUSH_NS;
    uv_timer_start(&w->flush, on_flush, engine_timer_ms_until(&w->loop, w->next_flush_at), 0);
}

static void on_wake(uv_async_t *a)
{
    volley_worker *w = a->data;
    engine_release_scenarios(w);
    engine_start_teardown(w);
    if (atomic_load(&w->e->stop) && !w->hard_stopped) {
        w->hard_stopped = true;
        for (size_t i = 0; i < w->e->s->n_scenarios; i++) {
            sc_run *sr = &w->scs[i];
            if ((int)i == w->e->s->teardown_sc && !atomic_load(&w->e->no_teardown))
                continue;   /* still to come, or running: a stop does not cut it */
            if (sr->phase == SC_PENDING)
                sr->phase = SC_DONE;
            else if (sr->phase != SC_DONE)
                engine_sc_hard_stop(w, sr);
        }
    }
    engine_worker_check_done(w);   /* also the end gate's wake-up */
}

/* The loop and every handle on it, all made before anything else can fail
 * (worker_shutdown closes them all). On a failure, w->err names the call
 * and what was made is closed again. */
static int loop_setup(volley_worker *w)
{
    int rc = uv_loop_init(&w->loop);
    if (rc != 0) {
        snprintf(w->err, sizeof w->err, "worker %d: cannot set up its event loop: uv_loop_init: %s",
                 w->index, uv_strerror(rc));
        return -1;
    }
    w->loop.data = w;
    for (size_t i = 0; rc == 0 && i < w->e->s->n_scenarios; i++) {
        rc = uv_timer_init(&w->loop, &w->scs[i].timer);
        w->scs[i].timer.data = &w->scs[i];
        w->scs[i].timer_ready = rc == 0;
    }
    for (size_t j = 0; rc == 0 && j < w->n_vus; j++) {
        rc = uv_timer_init(&w->loop, &w->vus[j].timer);
        w->vus[j].timer.data = &w->vus[j];
    }
    w->clock_prepare.data = w->clock_check.data = w;
    w->wake.data = w->flush.data = w->sched.data = w;
    const char *call = NULL;
    if (rc != 0)
        call = "uv_timer_init";
    else if ((rc = uv_prepare_init(&w->loop, &w->clock_prepare)) != 0)
        call = "uv_prepare_init";
    else if ((rc = uv_prepare_start(&w->clock_prepare, engine_on_clock_prepare)) != 0)
        call = "uv_prepare_start";
    else if ((rc = uv_check_init(&w->loop, &w->clock_check)) != 0)
        call = "uv_check_init";
    else if ((rc = uv_check_start(&w->clock_check, engine_on_clock_check)) != 0)
        call = "uv_check_start";
    else if ((rc = uv_async_init(&w->loop, &w->wake, on_wake)) != 0)
        call = "uv_async_init";
    else if ((rc = uv_timer_init(&w->loop, &w->flush)) != 0 ||
             (rc = uv_timer_init(&w->loop, &w->sched)) != 0)
        call = "uv_timer_init";
    if (call) {
        snprintf(w->err, sizeof w->err, "worker %d: cannot set up its event loop: %s: %s",
                 w->index, call, uv_strerror(rc));
        engine_loop_close(&w->loop);
        return -1;
    }
    uv_unref((uv_handle_t *)&w->clock_prepare);   /* they never keep the loop alive */
    uv_unref((uv_handle_t *)&w->clock_check);
    w->loop_ready = true;
    atomic_store(&w->wake_ready, true);
    return 0;
}

static int worker_setup(volley_worker *w)
{
    engine *e = w->e;
    const spec *s = e->s;
    if (loop_setup(w) != 0)
        return -1;
    tagi_init(&w->tags, e->core->reg.run_tags, e->core->reg.n_run_tags);
    w->first_fail = calloc(e->core->reg.n_series ? e->core->reg.n_series : 1, sizeof *w->first_fail);
    w->pstate = calloc(s->n_protos ? s->n_protos : 1, sizeof *w->pstate);
    if (!w->pstate)
        return -1;
    for (size_t i = 0; i < s->n_protos; i++) {
        const volley_protocol_ops *ops = s->protos[i].plugin->desc->protocol;
        char err[400] = "";
        if (ops->worker_init)
            CRASH_CALL(s->protos[i].plugin->desc->name, "protocol worker_init",
                       w->pstate[i] = ops->worker_init(s->protos[i].inst, w, err, sizeof err));
        else
            w->pstate[i] = s->protos[i].inst;
        if (!w->pstate[i]) {
            snprintf(w->err, sizeof w->err, "plugin %s on worker %d: %s",
                     s->protos[i].plugin->desc->name, w->index, *err ? err : "worker_init failed");
            return -1;
        }
    }
    /* Per-VU protocol state: one block per VU holding every protocol's. */
    size_t total = 0;
    for (size_t i = 0; i < s->n_protos; i++)
        total += (s->protos[i].plugin->desc->protocol->vu_state_size + 15) & ~(size_t)15;
    for (size_t j = 0; j < w->n_vus; j++) {
        vu_run *v = &w->vus[j];
        if (s->n_protos == 0)
            continue;
        char *block = calloc(1, s->n_protos * sizeof(void *) + total);
        if (!block)
            return -1;
        v->pstate = (void **)block;
        size_t off = s->n_protos * sizeof(void *);
        for (size_t i = 0; i < s->n_protos; i++) {
            size_t sz = s->protos[i].plugin->desc->protocol->vu_state_size;
            v->pstate[i] = sz ? block + off : NULL;
            off += (sz + 15) & ~(size_t)15;
        }
    }
    for (size_t j = 0; j < w->n_vus; j++) {
        vu_run *v = &w->vus[j];
        size_t n = v->sr->sc->n_caps;
        if (n && !(v->pub.caps = calloc(n, sizeof *v->pub.caps)))
            return -1;
    }
    return 0;
}

/*
 * No VU starts on any worker before every worker's protocol state exists:
 * libraries with process-wide state touched when a per-thread context is
 * made break what another thread began before (libwebsockets 4.1.6
 * registers its OpenSSL ex_data index anew in every context, so a wss
 * handshake started before the last context existed failed verification).
 */
static void start_gate(engine *e)
{
    pthread_mutex_lock(&e->gate_mu);
    e->gate_n++;
    pthread_cond_broadcast(&e->gate_cv);
    while (e->gate_n < e->gate_want)
        pthread_cond_wait(&e->gate_cv, &e->gate_mu);
    pthread_mutex_unlock(&e->gate_mu);
}

void *engine_worker_main(void *arg)
{
    volley_worker *w = arg;
    engine *e = w->e;
    snprintf(w->role, sizeof w->role, "worker %d", w->index);
    w->crash_info = (crash_thread_info){.role = w->role, .crashed = &w->crashed, .wake = &e->main_wake};
    crash_thread_begin(&w->crash_info);
    int setup = worker_setup(w);
    start_gate(e);
    if (setup != 0 && !w->loop_ready) {
        /* No loop to run: this worker is done at once. */
        atomic_store(&e->no_teardown, true);
        engine_request_stop(e);
        engine_idle_arrive(e);
        crash_thread_end();
        atomic_fetch_add(&e->workers_done, 1);
        uv_async_send(&e->main_wake);
        return NULL;
    }
    if (setup != 0) {
        /* The loop runs only to close what was set up. */
        if (!*w->err)
            snprintf(w->err, sizeof w->err, "worker %d: setup failed (out of memory?)", w->index);
        atomic_store(&e->no_teardown, true);
        engine_request_stop(e);
        for (size_t i = 0; i < e->s->n_scenarios; i++)
            w->scs[i].phase = SC_DONE;
    }
    w->next_flush_at = e->t0 + FLUSH_NS;
    uv_timer_start(&w->flush, on_flush, engine_timer_ms_until(&w->loop, w->next_flush_at), 0);
    engine_advance_phases(w);
    if (atomic_load(&e->stop))
        on_wake(&w->wake);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* Plugins' handles close asynchronously; run until all are gone. */
    while (uv_run(&w->loop, UV_RUN_NOWAIT) != 0)
        ;
    for (size_t i = 0; w->pstate && i < e->s->n_protos; i++) {
        const volley_protocol_ops *ops = e->s->protos[i].plugin->desc->protocol;
        /* Absent (NULL) in a plugin of an older revision: the loader
         * copies its ops up to the size it declares. */
        if (w->pstate[i] && ops->worker_done)
            CRASH_CALL(e->s->protos[i].plugin->desc->name, "protocol worker_done",
                       ops->worker_done(w->pstate[i]));
    }
    while (uv_run(&w->loop, UV_RUN_NOWAIT) != 0)
        ;
    crash_thread_end();
    atomic_fetch_add(&e->workers_done, 1);
    uv_async_send(&e->main_wake);
    return NULL;
}

void engine_worker_free(volley_worker *w)
{
    if (w->loop_ready)
        uv_loop_close(&w->loop);
    free(w->scratch.data);
    for (size_t j = 0; j < w->n_vus; j++) {
        vu_run *v = &w->vus[j];
        engine_batch_free(v);
        free(v->pstate);
        engine_flow_free(v->fc);
        for (size_t c = 0; v->pub.caps && c < v->sr->sc->n_caps; c++)
            free(v->pub.caps[c].val.data);
        free(v->pub.caps);
        tmpl_vu_free(&v->pub);
    }
    free(w->vus);
    for (size_t i = 0; w->scs && i < w->e->s->n_scenarios; i++) {
        free(w->scs[i].vus);
        free(w->scs[i].free);
    }
    free(w->scs);
    free(w->pstate);
    free(w->raw.s);
    for (size_t i = 0; w->first_fail && i < w->e->core->reg.n_series; i++)
        free(w->first_fail[i]);
    free(w->first_fail);
    tagi_free(&w->tags);
    agg_pair_free(&w->agg);
}
