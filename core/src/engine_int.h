/*
 * engine_int: what the engine's files share, as libuv's unix sources share
 * internal.h. Only core/src/engine*.c include it; the rest of the core
 * sees engine.h.
 *
 * One job per file, and calls go down this list, never up (-> names the
 * files each one may call):
 *
 *   engine.c         a run: plans workers and VUs, starts outputs, the
 *                    main loop and the worker threads, gathers the result
 *                                                  -> main, worker, end
 *   engine_main.c    the main thread during the run: merges, vus gauges,
 *                    progress, abort thresholds, signals  -> end, sample
 *   engine_worker.c  a worker thread: setup, start gate, loop, free
 *                                                  -> phase, end, batch, sample
 *   engine_phase.c   a worker's scenario phases: start, ramp, arrivals,
 *                    end, hard stop                -> vu, end, sample
 *   engine_vu.c      the VU state machine; recording check results
 *                    (check.c evaluates), captures -> flow, batch, end,
 *                    sample
 *   engine_flow.c    a VU's control ops: if, choose, loops (flow_ctl.h)
 *   engine_batch.c   a VU's batch: its steps started on the VU's lanes
 *                    within the batch's limits, cancelled, the lanes'
 *                    states; a step that cannot start is reported as a
 *                    plugin would, through engine_host_step_done
 *   engine_end.c     how traffic ends: stop requests, the end gate, a
 *                    worker's shutdown             -> batch, sample
 *   engine_sample.c  samples into the aggregates and the outputs' buffers
 *
 * Below them all, the core's modules they call, which know nothing of the
 * engine: check.c (evaluates check items; each result comes back through a
 * check_sink that engine_vu.c records), template.c, capture.c, metrics.c.
 *
 * The static inline functions below are hot-path code (per sample, step
 * or arrival) that more than one file calls; each stands with the file it
 * belongs to and follows that file's arrows.
 */
#ifndef VOLLEY_ENGINE_INT_H
#define VOLLEY_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "crash.h"
#include "segment.h"
#include "engine.h"
#include "output_runner.h"
#include "progress.h"
#include "tag_intern.h"
#include "vu.h"

#define MAX_GROUP_DEPTH 18

typedef struct engine engine;

/* Samples for the outputs, waiting for the next batch. */
typedef struct raw_buf {
    volley_sample *s;
    size_t n, cap;
    uint64_t dropped;                /* lost to out-of-memory, never batched */
} raw_buf;

/* Per-scenario counters the metrics thread reads for the live display;
 * written once per iteration (not per request), relaxed. */
typedef struct sc_live {
    _Atomic int64_t running;
    _Atomic uint64_t iterations, interrupted, dropped;
} sc_live;
typedef struct sc_run sc_run;

/* PARKED: not running (not started yet, ramped down, or waiting for an
 * arrival); the others but DONE count as running VUs. */
enum { VU_PARKED = 0, VU_IDLE, VU_IN_STEP, VU_SLEEPING, VU_YIELDING, VU_DONE, VU_IN_BATCH };

/* A lane: where one step of a batch runs for its VU, with a volley_vu of
 * its own (pub.lane_of: the VU) so that the plugin's step_done comes back
 * to this step, and a protocol state of its own (its own connections). */
#define LANE_IDLE UINT32_MAX
typedef struct vu_lane {
    struct volley_vu pub;            /* first: volley_vu * <-> vu_lane * */
    uint32_t pc;                     /* the op of its running step, or LANE_IDLE */
    void **pstate;                   /* per protocol, made on its first step */
} vu_lane;

/* A VU's batch state, made at its first batch for the largest of its
 * scenario's and reused: nothing is allocated per request. One step of a
 * batch runs on the VU itself (its volley_vu and protocol states: k6 runs
 * a batch on the VU's own transport, so its first request takes the VU's
 * idle keep-alive connection); the others on lanes. */
typedef struct vu_batch {
    vu_lane *lanes;
    uint32_t n_lanes;
    uint32_t own;                    /* pc of the step on the VU itself, or LANE_IDLE */
    uint32_t batch;                  /* pc of the running OP_BATCH */
    uint8_t *step;                   /* per step of it: BSTEP_* */
    uint16_t *busy;                  /* per host of it: steps in flight */
    uint32_t next;                   /* steps before this one have started */
    uint32_t running, finished;
    bool filling;                    /* starting steps: done ones only count */
    bool stop;                       /* a step's on_check_fail ends the iteration */
} vu_batch;
enum { SC_PENDING = 0, SC_RUNNING, SC_ENDING, SC_DONE };

typedef struct vu_run {
    struct volley_vu pub;            /* first: volley_vu * <-> vu_run * */
    volley_worker *w;
    sc_run *sr;
    uint32_t pc;
    const flow_op *results_of;       /* the step whose checks and captures are
                                        recorded now (a batch's), or NULL */
    uint8_t state;
    bool in_run;                     /* engine_vu_run() is on the stack */
    bool step_finished;              /* step_done came during step_start */
    bool in_iteration;
    bool iter_failed;                /* a check or capture failed this iteration */
    uint8_t depth;
    bool has_arrival;                /* arrival-rate: an iteration is due */
    uint32_t gidx;                   /* index among its scenario's VUs */
    uint64_t iter_start;
    uint64_t next_iter_at;           /* pacing: the next iteration not before */
    uint64_t once_done;              /* bit n: once: block n ran to its end */
    uint64_t scheduled_at;           /* arrival-rate: when it was due */
    uint64_t ramp_down_since;        /* ramping-vus: asked to stop at */
    uint64_t iters_done;
    uint64_t group_start[MAX_GROUP_DEPTH];
    int last_status;                 /* of its last response this iteration (if: status) */
    const volley_tag *vtags;         /* its scenario's tags (sample_tags.vu), with */
    size_t n_vtags;                  /*   tag_stage the stage its iteration began in */
    struct flow_vu *fc;              /* loop state (engine_flow.c), NULL until needed */
    uv_timer_t timer;                /* sleep and yield */
    void **pstate;                   /* per protocol; NULL when unused */
    vu_batch *batch;                 /* made at its first batch: step */
} vu_run;

struct sc_run {
    const scenario *sc;
    size_t index;
    int phase;
    uint64_t start_at, end_at, hard_at;
    size_t n_vus;                    /* this worker's VUs of the scenario */
    size_t running;                  /* of those, not PARKED nor DONE */
    vu_run **vus;                    /* in gidx order */
    /* arrival-rate */
    vu_run **free;                   /* parked, ready for an arrival */
    size_t n_free;
    size_t inited;                   /* VUs brought into use so far */
    uint64_t next_k;                 /* next arrival index of this worker */
    int64_t next_at;                 /* its time from start_at, -1: none */
    uv_timer_t timer;                /* arrivals or the ramp */
    bool timer_ready;
    bool used_up;                    /* ended because its unique pool ran out */
    bool held;                       /* waits for setup (a scenario) or for the
                                        end of every scenario (teardown) */
    stage_pos stage;                 /* ramping: where samples go among the stage
                                        copies (metrics.h); track NULL: nowhere */
};

struct volley_worker {
    engine *e;
    int index;
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t flush;
    uint64_t next_flush_at;          /* aligned to the run's start (engine_worker.c) */
    uint64_t published_sec;          /* whole seconds of the run handed over so far */
    uv_timer_t sched;
    agg_pair agg;
    void **pstate;                   /* protocol worker states */
    vu_run *vus;
    size_t n_vus;
    sc_run *scs;
    raw_buf raw;
    tag_intern tags;
    bool loop_ready;                 /* its loop and handles exist: close it at the end */
    atomic_bool wake_ready;          /* others may uv_async_send to `wake` */
    bool hard_stopped;
    bool idle;                       /* its traffic is over; counted in workers_idle */
    atomic_int crashed;              /* the fatal signal it died of (crash.h) */
    bool crash_taken;                /* main thread: counted on its behalf */
    char role[24];                   /* "worker N", for a crash message */
    crash_thread_info crash_info;
    bool finishing;
    uint64_t interrupted;
    char **first_fail;               /* per series: why a check first failed */
    uint64_t sample_now;             /* clock for samples, 0 = read it again */
    volley_buf scratch;              /* rendering of records and sleeps */
    uv_prepare_t clock_prepare;      /* both reset sample_now each loop turn */
    uv_check_t clock_check;
    char err[512];
};

/* Distinct run-time warnings kept for the summary; more are on stderr only. */
#define ENGINE_MAX_WARNINGS 16

/* engine.test_aborted: who stopped the test (0: nobody). */
enum { ABORT_BY_CHECK = 1, ABORT_BY_STEP };

struct engine {
    volley_core *core;
    spec *s;
    const run_opts *o;
    int n_workers;                   /* to start; then those started (end gate, joins) */
    int n_planned;                   /* allocated, all freed at the end */
    volley_worker *workers;
    uint64_t t0;                     /* monotonic ns at start */
    int64_t wall_offset;             /* wall ns = mono ns + wall_offset */
    size_t n_outs;
    out_runner *outs;
    atomic_int stop;
    /* setup:/teardown: (HOOK_* of engine.h). The scenarios wait for setup:
     * its VU's capture slots become the run's ${setup.*} (setup_vals, set
     * before setup_state turns HOOK_OK with release order). */
    atomic_int setup_state, teardown_state;
    /* Teardown runs after a stop too (SIGINT, an abort, abort_on_fail), as
     * k6 runs it; not after a worker crashed or could not start. */
    atomic_bool no_teardown;
    vu_capture *setup_vals;
    uint64_t setup_done_at;
    char hook_reason[512];
    _Atomic int64_t *claimed;        /* shared-iterations, per scenario */
    _Atomic uint64_t *pool_next;     /* sequential/unique picks, per pool */
    atomic_bool *pool_used_up;       /* per pool: "used up" said once */
    atomic_bool *sc_used_up;         /* per scenario: its unique pool ran out */
    atomic_bool record_warned;       /* a record value was not a number */
    atomic_bool sleep_warned;        /* a templated sleep was not a duration */
    atomic_bool flow_warned;         /* a loop or condition got a bad value */
    atomic_int test_aborted;         /* ABORT_BY_*: on_check_fail: abort_test, an abort step */
    _Atomic uint64_t console_lines;  /* log steps' lines on stderr (the progress display's) */
    pthread_mutex_t gate_mu;         /* start gate: workers set up, see start_gate;
                                        also the run's warnings (rare) */
    char *warnings[ENGINE_MAX_WARNINGS];   /* engine_note_warning's, in order */
    size_t n_warnings;
    pthread_cond_t gate_cv;
    int gate_n, gate_want;
    char abort_reason[512];          /* written by the one that set it */
    struct sc_live *live;            /* per scenario, for the progress display */
    progress *prog;
    progress_scenario *prog_sc;
    uint64_t end_ns;                 /* monotonic ns at the end (0: running) */
    atomic_int workers_done;
    atomic_int workers_idle;         /* end gate, see engine_worker_check_done */
    _Atomic int64_t active_vus;
    _Atomic int64_t vus_max;         /* VUs in use so far (arrival-rate adds) */
    uv_loop_t main_loop;
    uv_async_t main_wake;
    uv_signal_t sigint, sigterm;
    uv_timer_t tick;
    metrics_agg global;
    run_windows win;                 /* the current window (windows.h) */
    clockid_t *worker_clk;           /* the workers' CPU clocks, for windows */
    uint64_t next_tick_at;           /* monotonic ns of the main tick's next run */
    tag_intern main_tags;
    raw_buf main_raw;                /* the vus gauges' samples */
    int sigints;
    bool interrupted;
    bool waiting_start;        /* --start-at: SIGINT ends the wait, no load */
    bool aborted;                    /* an abort_on_fail threshold failed */
    size_t abort_threshold;
    unsigned ticks;
};

/* ---- the clock (any file) ---- */

static inline uint64_t engine_mono_now(void) { return uv_hrtime(); }

/* The uv timer timeout that fires at or just after `at` (monotonic ns),
 * never before: uv timers count whole ms from the loop's coarse clock, so
 * add how far the precise clock is ahead of it. */
static inline uint64_t engine_timer_ms_until(uv_loop_t *loop, uint64_t at)
{
    uv_update_time(loop);
    uint64_t now = engine_mono_now();
    uint64_t lag = now - uv_now(loop) * 1000000;
    return at > now ? (at - now + lag + 999999) / 1000000 : 0;
}

/* ---- engine_main.c ---- */

/* 0, or -1 with err and nothing left open. */
int engine_main_open(engine *e, char *err, size_t errcap);
/* Merges what the workers published; with sample_gauges, also the vus
 * gauges (the one-second tick). */
void engine_main_flush(engine *e, bool sample_gauges);
void engine_show_progress(engine *e, bool final);
/* The run's clock started (e->t0): the one-second tick starts. */
void engine_main_start(engine *e);

/* ---- engine_worker.c ---- */

void *engine_worker_main(void *arg);   /* the thread's function */
void engine_worker_free(volley_worker *w);

/* ---- engine_phase.c ---- */

void engine_advance_phases(volley_worker *w);
void engine_sc_hard_stop(volley_worker *w, sc_run *sr);
/* setup: ran (or failed): the scenarios start now, or never. */
void engine_release_scenarios(volley_worker *w);
/* Worker 0, when every scenario of the run is done: teardown: starts. */
void engine_start_teardown(volley_worker *w);
/* The setup:/teardown: VU's iteration ended (ok: no check or capture
 * failed) or its scenario ended without it (timed out or stopped). */
void engine_hook_done(vu_run *v, bool ok, bool timed_out);

/* ---- engine_vu.c ---- */

void engine_vu_run(vu_run *v);
void engine_vu_park(vu_run *v);
void engine_vu_stop(vu_run *v);
void engine_vu_abort_iteration(vu_run *v);
void engine_vu_interrupt(vu_run *v);

static inline bool engine_vu_running(const vu_run *v)
{
    return v->state != VU_PARKED && v->state != VU_DONE;
}

static inline void engine_vu_set_running(vu_run *v, bool running)
{
    long d = running ? 1 : -1;
    v->sr->running += (size_t)d;
    atomic_fetch_add_explicit(&v->w->e->live[v->sr->index].running, d, memory_order_relaxed);
    atomic_fetch_add_explicit(&v->w->e->active_vus, d, memory_order_relaxed);
}

static inline int64_t engine_ramp_target(const sc_run *sr, uint64_t now)
{
    /* --execution-segment: this instance's share of the global target */
    return seg_scale(sr->sc->seg,
                     sched_vus_at(&sr->sc->profile, now > sr->start_at ? (int64_t)(now - sr->start_at) : 0));
}

static inline void engine_vu_activate(vu_run *v)
{
    if (v->state != VU_PARKED)
        return;
    v->state = VU_IDLE;
    engine_vu_set_running(v, true);
    engine_vu_run(v);
}

/* The VU a volley_vu from a plugin is, or acts for (a lane). */
static inline vu_run *engine_vu_of(volley_vu *vu)
{
    return (vu_run *)(vu->lane_of ? vu->lane_of : vu);
}

/* The op of the step a plugin's call on vu (the VU or a lane of it) is
 * about: a lane's step, the batch's step on the VU itself, or the VU's. */
static inline uint32_t engine_vu_step_pc(const vu_run *v, const volley_vu *vu)
{
    if (vu->lane_of)
        return ((const vu_lane *)vu)->pc;
    return v->state == VU_IN_BATCH ? v->batch->own : v->pc;
}

/* The results of one step of a VU (checks, captures, records), its
 * on_check_fail applied; false when the iteration must end. */
bool engine_vu_step_results(vu_run *v, const flow_op *op, const volley_response *resp);

/* ---- engine_batch.c ---- */

/* Starts the batch at v->pc: 1 when it is over already (every step ended
 * during the call; v->batch->stop says whether the iteration ends), 0
 * when steps are in flight (the VU is VU_IN_BATCH), -1 when the VU's
 * lanes could not be made (out of memory: nothing ran). */
int engine_batch_start(vu_run *v, const flow_op *op);
/* The step in slot (a lane's pc, or the batch's `own`) ended (its results
 * were recorded): frees the slot, starts what may start now; true when
 * the batch is over. */
bool engine_batch_step_done(vu_run *v, uint32_t *slot);
/* Cancels the batch's steps in flight (no step_done comes for them). */
void engine_batch_cancel(vu_run *v);
/* The end of the VU's lanes: vu_fini of their states of protocol i
 * (worker shutdown), then their memory (worker free). */
void engine_batch_fini(vu_run *v, size_t proto);
void engine_batch_free(vu_run *v);

/* ---- engine_end.c ---- */

void engine_request_stop(engine *e);
void engine_idle_arrive(engine *e);
void engine_worker_check_done(volley_worker *w);
/* Wakes every worker's loop (their on_wake sees what changed). */
void engine_wake_all(engine *e);
/* Main thread, after the run, for a worker that crashed (parked for good):
 * the samples it had buffered still go to the outputs. */
void engine_worker_salvage(volley_worker *w);
void engine_loop_close(uv_loop_t *loop);

/* A scenario is done when nothing runs and nothing more can start: at once
 * for the iteration executors, after the end of its stages for the others. */
static inline void engine_sc_check_done(volley_worker *w, sc_run *sr)
{
    if (sr->phase == SC_DONE || sr->running > 0 || sr->phase == SC_PENDING)
        return;
    executor_kind k = sr->sc->executor;
    if (sr->phase == SC_ENDING || k == EXEC_PER_VU_ITERATIONS || k == EXEC_SHARED_ITERATIONS) {
        sr->phase = SC_DONE;
        if (sr->timer_ready)
            uv_timer_stop(&sr->timer);
    }
    engine_worker_check_done(w);
}

/* ---- engine_sample.c ---- */

/* A sample's stage copies: its scenario's cursor on this worker, if any. */
static inline stage_pos *engine_sc_stage(sc_run *sr)
{
    return sr->stage.track ? &sr->stage : NULL;
}

/* The tags of the scenario's samples for something that begins at `at`
 * (monotonic): its `tags:`, with tag_stage the stage in effect then (the
 * last one past the end, as k6's getCurrentStageIndex). */
static inline void engine_sc_tags(const sc_run *sr, uint64_t at, const volley_tag **t, size_t *n)
{
    const scenario *sc = sr->sc;
    *t = sc->tags;
    *n = sc->n_tags;
    if (sc->stage_tags) {
        int64_t since = at > sr->start_at ? (int64_t)(at - sr->start_at) : 0;
        *t = sc->stage_tags[sched_stage_at(&sc->profile, since)];
        *n = sc->n_tags + 1;
    }
}

void engine_push_raw(engine *e, raw_buf *b, tag_intern *ti, uint32_t metric, double v,
                     const sample_tags *st, uint64_t now);
/* Hands b's samples to every output as one shared batch. Both count in
 * b->dropped the samples no output will get because memory ran out. */
void engine_flush_raw(engine *e, raw_buf *b);
void engine_on_clock_prepare(uv_prepare_t *h);
void engine_on_clock_check(uv_check_t *h);

/* One sample on a worker's loop thread. */
static inline void engine_worker_sample(volley_worker *w, uint32_t metric, double v,
                                        const sample_tags *st)
{
    engine *e = w->e;
    if (!w->sample_now)
        w->sample_now = engine_mono_now();
    uint64_t now = w->sample_now;
    metrics_record(&e->core->reg, &w->agg.buf[w->agg.cur], metric, v, st, (int64_t)now);
    if (e->n_outs)
        engine_push_raw(e, &w->raw, &w->tags, metric, v, st, now);
}

/* engine_flow.c: runs the OP_CTL op at the VU's pc and sets the pc to
 * the op to run next; false when the VU has made many loop passes
 * without waiting and should let its worker's loop run first. */
bool engine_flow_run(vu_run *v, const flow_op *op);
void engine_flow_free(struct flow_vu *fv);

#endif
