/*
 * engine_phase: a worker's scenarios through their phases (pending,
 * running, ending, done): starting VUs, the ramping-vus target, the
 * arrival-rate executors' arrivals, graceful and hard stops, and the
 * timer that wakes the worker at the next phase change.
 */
#include "engine_int.h"

#define RAMP_TICK_MS 50

static void sc_end(volley_worker *w, sc_run *sr);
static void sched_rearm(volley_worker *w);

/* ramping-vus: wakes parked VUs below the target; VUs above it finish their
 * iteration (checked when it ends) within graceful_ramp_down. */
static void on_ramp_tick(uv_timer_t *t)
{
    sc_run *sr = t->data;
    if (sr->phase != SC_RUNNING)
        return;
    uint64_t now = engine_mono_now();
    int64_t target = engine_ramp_target(sr, now);
    for (size_t i = 0; i < sr->n_vus; i++) {
        vu_run *v = sr->vus[i];
        if ((int64_t)v->gidx < target) {
            v->ramp_down_since = 0;
            engine_vu_activate(v);
        } else if (engine_vu_running(v) && !v->in_iteration && v->state == VU_YIELDING) {
            /* Between iterations (pacing, a yield): nothing to finish. */
            uv_timer_stop(&v->timer);
            engine_vu_park(v);
        } else if (engine_vu_running(v)) {
            if (!v->ramp_down_since)
                v->ramp_down_since = now;
            else if (now - v->ramp_down_since > (uint64_t)sr->sc->graceful_ramp_down_ns) {
                engine_vu_abort_iteration(v);
                engine_vu_park(v);
            }
        }
    }
}

/* Workers that share a scenario's arrivals: those holding some of its VUs
 * (VU g is on worker g % workers). A worker without one would drop every
 * arrival it took, which a small max_vus (a segment's share) makes common. */
static uint64_t arrival_workers(const volley_worker *w, const sc_run *sr)
{
    int64_t nv = scenario_max_vus(sr->sc);
    return nv > 0 && nv < w->e->n_workers ? (uint64_t)nv : (uint64_t)w->e->n_workers;
}

static bool arrival_next(volley_worker *w, sc_run *sr)
{
    /* --execution-segment: local arrival k is the global one of its stripe */
    int64_t t = sched_arrival_time(&sr->sc->profile,
                                   (uint64_t)seg_global(sr->sc->seg_arrivals, (int64_t)sr->next_k));
    sr->next_k += arrival_workers(w, sr);
    sr->next_at = t >= 0 && (uint64_t)t < sr->end_at - sr->start_at ? t : -1;
    return sr->next_at >= 0;
}

/* A VU for an arrival: a parked one, or a new one while under max_vus;
 * NULL means the iteration is dropped. */
static vu_run *arrival_vu(engine *e, sc_run *sr)
{
    if (sr->n_free > 0)
        return sr->free[--sr->n_free];
    if (sr->inited < sr->n_vus) {
        atomic_fetch_add_explicit(&e->vus_max, 1, memory_order_relaxed);
        return sr->vus[sr->inited++];
    }
    return NULL;
}

/* Arrival-rate executors: starts every iteration that is due (this worker
 * takes arrivals k = index, index + m, ... of the m arrival_workers),
 * whatever the target does. */
static void on_arrival(uv_timer_t *t)
{
    sc_run *sr = t->data;
    volley_worker *w = (volley_worker *)t->loop->data;
    uint64_t now = engine_mono_now();
    if (atomic_load_explicit(&w->e->sc_used_up[sr->index], memory_order_relaxed)) {
        /* Its unique pool ran out: no more arrivals, the scenario ends. */
        if (sr->phase == SC_RUNNING && !sr->used_up) {
            sr->used_up = true;
            sc_end(w, sr);
        }
        return;
    }
    while (sr->phase == SC_RUNNING && sr->next_at >= 0 &&
           sr->start_at + (uint64_t)sr->next_at <= now) {
        uint64_t due = sr->start_at + (uint64_t)sr->next_at;
        vu_run *v = arrival_vu(w->e, sr);
        if (v) {
            v->has_arrival = true;
            v->scheduled_at = due;
            engine_vu_activate(v);
        } else {
            sample_tags st = {.t = NULL, .scenario = sr->sc->name, .group = "",
                              .stage = engine_sc_stage(sr)};
            engine_sc_tags(sr, due, &st.vu, &st.n_vu);
            engine_worker_sample(w, BUILTIN_DROPPED_ITERATIONS, 1, &st);
            /* How late the runner got to it, as for one that starts: a
             * stalled generator's drops show as lag, not as "no free VU". */
            engine_worker_sample(w, BUILTIN_SCHEDULE_LAG, now > due ? (double)(now - due) / 1e6 : 0, &st);
            atomic_fetch_add_explicit(&w->e->live[sr->index].dropped, 1, memory_order_relaxed);
        }
        arrival_next(w, sr);
    }
    if (sr->phase == SC_RUNNING && sr->next_at >= 0) {
        uint64_t at = sr->start_at + (uint64_t)sr->next_at;
        uv_timer_start(&sr->timer, on_arrival, engine_timer_ms_until(t->loop, at), 0);
    }
}

static void sc_start(volley_worker *w, sc_run *sr)
{
    sr->phase = SC_RUNNING;
    stage_pos_start(&sr->stage, metrics_stage_track(&w->e->core->reg, sr->index),
                    (int64_t)sr->start_at);
    switch (sr->sc->executor) {
    case EXEC_RAMPING_VUS:
        on_ramp_tick(&sr->timer);
        uv_timer_start(&sr->timer, on_ramp_tick, RAMP_TICK_MS, RAMP_TICK_MS);
        break;
    case EXEC_CONSTANT_ARRIVAL_RATE:
    case EXEC_RAMPING_ARRIVAL_RATE:
        sr->next_k = (uint64_t)w->index;
        if ((uint64_t)w->index < arrival_workers(w, sr) && arrival_next(w, sr))
            on_arrival(&sr->timer);
        break;
    default:
        /* All count as running before any runs: a VU whose iterations all
         * finish at once (no step waits) would otherwise find nothing
         * running and end the scenario before the others begin. */
        for (size_t i = 0; i < sr->n_vus; i++)
            if (sr->vus[i]->state == VU_PARKED) {
                sr->vus[i]->state = VU_IDLE;
                engine_vu_set_running(sr->vus[i], true);
            }
        for (size_t i = 0; i < sr->n_vus; i++)
            engine_vu_run(sr->vus[i]);
        break;
    }
    engine_sc_check_done(w, sr);
}

void engine_sc_hard_stop(volley_worker *w, sc_run *sr)
{
    for (size_t i = 0; i < sr->n_vus; i++)
        engine_vu_interrupt(sr->vus[i]);
    /* A setup/teardown VU that did not finish its one iteration by now
     * ran out of its timeout (or the run was stopped). */
    if (sr->sc->role != SC_ROLE_MAIN && sr->n_vus)
        engine_hook_done(sr->vus[0], false, true);
    sr->phase = SC_DONE;
    if (sr->timer_ready)
        uv_timer_stop(&sr->timer);
    engine_worker_check_done(w);
}

/* End of the stages/duration: no new iterations; parked VUs are done, the
 * running ones get graceful_stop to finish. */
static void sc_end(volley_worker *w, sc_run *sr)
{
    /* Arrivals due before the end whose timer has not fired yet still start. */
    if (executor_is_arrival(sr->sc->executor))
        on_arrival(&sr->timer);
    sr->phase = SC_ENDING;
    if (sr->timer_ready)
        uv_timer_stop(&sr->timer);
    for (size_t j = 0; j < sr->n_vus; j++) {
        vu_run *v = sr->vus[j];
        if (v->state == VU_PARKED) {
            v->state = VU_DONE;
        } else if (v->state == VU_YIELDING) {
            uv_timer_stop(&v->timer);
            engine_vu_stop(v);
        }
    }
    engine_sc_check_done(w, sr);
}

static void set_times(sc_run *sr, uint64_t start)
{
    sr->start_at = start + (uint64_t)sr->sc->start_time_ns;
    sr->end_at = sr->start_at + (uint64_t)scenario_length_ns(sr->sc);
    sr->hard_at = sr->end_at + (uint64_t)sr->sc->graceful_stop_ns;
}

void engine_release_scenarios(volley_worker *w)
{
    engine *e = w->e;
    int st = atomic_load_explicit(&e->setup_state, memory_order_acquire);
    if (st == HOOK_NONE || st == HOOK_PENDING)
        return;
    bool any = false;
    for (size_t i = 0; i < e->s->n_scenarios; i++) {
        sc_run *sr = &w->scs[i];
        if (!sr->held || sr->sc->role != SC_ROLE_MAIN)
            continue;
        sr->held = false;
        any = true;
        if (st == HOOK_OK)
            set_times(sr, e->setup_done_at);
        else
            sr->phase = SC_DONE;   /* setup failed: no load */
    }
    if (any)
        engine_advance_phases(w);
}

void engine_start_teardown(volley_worker *w)
{
    engine *e = w->e;
    int t = e->s->teardown_sc;
    if (t < 0 || !w->scs[t].held)
        return;
    for (size_t i = 0; i < e->s->n_scenarios; i++)
        if ((int)i != t && w->scs[i].phase != SC_DONE)
            return;
    if (atomic_load(&e->workers_idle) < e->n_workers - 1)
        return;
    sc_run *sr = &w->scs[t];
    sr->held = false;
    int st = atomic_load(&e->setup_state);
    if (atomic_load(&e->no_teardown) || (st != HOOK_NONE && st != HOOK_OK)) {
        /* k6: no teardown after a setup that failed or was stopped; it
         * does run after SIGINT, exec.test.abort() and abort_on_fail
         * thresholds (its scheduler runs teardown on the global context). */
        sr->phase = SC_DONE;
        atomic_store(&e->teardown_state, HOOK_SKIPPED);
    } else {
        set_times(sr, engine_mono_now());
    }
    engine_advance_phases(w);
}

void engine_advance_phases(volley_worker *w)
{
    uint64_t now = engine_mono_now();
    for (size_t i = 0; i < w->e->s->n_scenarios; i++) {
        sc_run *sr = &w->scs[i];
        if (sr->phase == SC_PENDING && now >= sr->start_at)
            sc_start(w, sr);
        if (sr->phase == SC_RUNNING && now >= sr->end_at)
            sc_end(w, sr);
        if (sr->phase == SC_ENDING && now >= sr->hard_at)
            engine_sc_hard_stop(w, sr);
    }
    sched_rearm(w);
    engine_worker_check_done(w);
}

static void on_sched(uv_timer_t *t) { engine_advance_phases(t->data); }

static void sched_rearm(volley_worker *w)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < w->e->s->n_scenarios; i++) {
        const sc_run *sr = &w->scs[i];
        uint64_t at = sr->phase == SC_PENDING ? sr->start_at
                    : sr->phase == SC_RUNNING ? sr->end_at
                    : sr->phase == SC_ENDING  ? sr->hard_at : UINT64_MAX;
        if (at < next)
            next = at;
    }
    if (next == UINT64_MAX || w->finishing) {
        uv_timer_stop(&w->sched);
        return;
    }
    uint64_t now = engine_mono_now();
    uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
    uv_timer_start(&w->sched, on_sched, ms, 0);
}
