/*
 * engine: runs a compiled spec. One worker thread per core, each with its
 * own libuv loop; VUs are state machines on that loop (no thread per VU, no
 * blocking call on a loop thread). The main thread is the metrics thread:
 * it merges the workers' aggregates every second, samples the vus gauges,
 * handles SIGINT/SIGTERM and feeds the outputs.
 */
#ifndef VOLLEY_ENGINE_H
#define VOLLEY_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "metrics.h"
#include "spec.h"
#include "windows.h"

struct run_result;

typedef struct run_opts {
    int workers;               /* 0: one per core (capped by the VU count) */
    bool quiet;                /* no progress lines */
    uint64_t seed;             /* of every VU's random stream (--seed) */
    /* Optional. Called once when the run was measured (workers started),
     * on the main thread, after the last samples were queued for the
     * outputs and before they close, with everything of `res` but
     * `outputs` filled; engine_error: the run ends with an engine error.
     * What it returns (may be NULL) goes to every output's summary()
     * (plugin revision 5) and must live until engine_run returns. */
    const volley_run_summary *(*judge)(void *ctx, const struct run_result *res, bool engine_error);
    void *judge_ctx;
    result_file *result;       /* --result: meta and window lines (NULL: none) */
    int window_s;              /* the windows' length in seconds (0: 1) */
    /* --start-at: when set up, wait until this wall-clock instant (ns
     * since the epoch), then start the clock and the load. 0: at once. */
    int64_t start_at_unix_ns;
    /* --setup-data: the values of ${setup.*} (the spec's n_setup_names
     * slots); setup: is not run. NULL: it runs. */
    struct vu_capture *setup_data;
    int hooks_only;            /* RUN_* below: volley setup / volley teardown */
    bool no_teardown;          /* --no-teardown (k6's): teardown: is skipped */
} run_opts;

/* run_opts.hooks_only: only setup: (and res->setup_json), or only teardown:. */
enum { RUN_ALL = 0, RUN_SETUP_ONLY, RUN_TEARDOWN_ONLY };

typedef struct output_report {
    const char *label;
    uint64_t written, dropped;
    bool failed;
    char err[512];
} output_report;

typedef struct run_result {
    metrics_agg agg;           /* everything measured (owned; free with run_result_free) */
    int64_t duration_ns;       /* wall time of the run */
    int64_t start_unix_ns;     /* wall clock when it started */
    bool ran;                  /* workers started: there is something to report */
    bool interrupted;          /* SIGINT/SIGTERM */
    bool interrupted_before_start;   /* while waiting for --start-at: no load ran */
    bool aborted;              /* stopped by an abort_on_fail threshold */
    size_t abort_threshold;    /* which one (index in spec->thresholds) */
    uint64_t iterations_complete, iterations_interrupted;
    int64_t vus_max;
    size_t n_outputs;
    output_report *outputs;
    int workers;
    double cpu_s;              /* the runner's own user+system CPU time */
    uint64_t seed;             /* the run's seed, to repeat it with --seed */
    bool test_aborted;         /* on_check_fail: abort_test, or an abort step */
    bool abort_step;           /* by an abort step (k6's exec.test.abort) */
    char abort_reason[512];
    char **check_fail;         /* per series: the first reason a check failed */
    size_t n_check_fail;
    uint64_t samples_dropped;  /* samples for outputs lost to out-of-memory */
    /* setup:/teardown: (HOOK_*), and why one failed */
    int setup_state, teardown_state;
    char hook_reason[512];
    run_health health;         /* the generator per window (windows.h) */
    /* What plugins warned about during the run (host->log at
     * VOLLEY_LOG_WARN), secrets hidden, each text once: the summary
     * repeats them, as it does the load-time warnings. */
    char **warnings;
    size_t n_warnings;
    char *setup_json;          /* RUN_SETUP_ONLY, setup OK: its captures (setup_data.h) */
} run_result;

/* How a setup: or teardown: flow ended. */
enum { HOOK_NONE = 0, HOOK_PENDING, HOOK_OK, HOOK_FAILED, HOOK_TIMED_OUT, HOOK_SKIPPED };

/* 0 when the run happened (whatever it measured); -1 + err on an engine
 * error before or during the run (outputs that fail to start, ...). */
int engine_run(volley_core *core, spec *s, const run_opts *o, run_result *res,
               char *err, size_t errcap);
void run_result_free(run_result *r);
/* A plugin's run-time warning (already redacted) for the run's summary;
 * any thread, during engine_run. */
void engine_note_warning(struct engine *e, const char *text);

/* Host-table functions implemented by the engine. */
void engine_host_sample(volley_vu *vu, int metric, double value, const volley_tags *tags);
void engine_host_step_done(volley_vu *vu, const volley_response *resp);
void *engine_host_worker_loop(volley_worker *w);
int engine_host_worker_index(volley_worker *w);
volley_worker *engine_host_vu_worker(volley_vu *vu);
bool engine_host_checks_run(const volley_checks *c, volley_vu *vu, const volley_response *resp);
bool engine_host_captures_apply(const volley_captures *c, volley_vu *vu,
                                const volley_response *resp);

#endif
