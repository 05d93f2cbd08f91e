/*
 * windows: the run cut into windows of whole seconds, on the main thread.
 * Workers hand over their aggregates at each whole second of the run's
 * clock (engine_worker.c); the main thread merges them into the run's
 * aggregate and into the current window's (agg_pair_collect_into), and
 * closes a window when its time is up: its line goes to the result file
 * (result.h), its health (CPU against the CPUs the process may use, the
 * busiest worker, schedule lag, drops and why) to the run's record, so
 * the end-of-test warning can say in which seconds the generator was
 * behind instead of judging a whole-run average.
 */
#ifndef VOLLEY_WINDOWS_H
#define VOLLEY_WINDOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "metrics.h"
#include "result.h"

/* What the run's windows said, for the summary (run_result.health). */
typedef struct run_health {
    int cores;                 /* CPUs the process may run on (affinity) */
    int window_s;              /* the windows' length */
    size_t n_windows;
    size_t n_behind;           /* windows where the generator was behind */
    double behind_first_s, behind_last_s;   /* the first and last of them */
    double worst_lag95_ms;     /* the worst window's schedule lag p(95); -1 none */
    double worst_busy_pct;     /* the busiest worker in any window; -1 unknown */
    double dropped_lag;        /* dropped iterations in windows behind */
    double dropped_max_vus;    /*   and in the others (no free VU) */
} run_health;

/* The last closed window, for the progress line. */
typedef struct window_view {
    bool valid;
    uint64_t seq;              /* 1 for the first window closed, ... */
    double p95_ms;             /* http_req_duration; -1 without requests */
    uint64_t requests, failed;
    double seconds;
} window_view;

typedef struct run_windows {
    metrics_agg agg;           /* the current window's samples */
    int64_t window_s;          /* whole seconds */
    uint64_t index;            /* the current window */
    double cpu_at;             /* process CPU at the current window's start */
    int n_threads;
    clockid_t *clk;            /* the workers' CPU clocks (not owned) */
    double *thread_at;         /* their CPU at the window's start (owned) */
    result_file *out;          /* may be NULL */
    int m_dur, m_reqs, m_failed;   /* http metrics, -1 without them */
    run_health health;
    window_view last;
} run_windows;

/* The CPUs this process may run on. */
int windows_cores(void);
/* 0, or -1 (out of memory). clk: n_threads worker CPU clocks, valid until
 * windows_detach_threads. */
int windows_init(run_windows *w, const metrics_reg *r, int64_t window_s, int n_threads,
                 clockid_t *clk, result_file *out);
void windows_free(run_windows *w);
/* The workers started (their clocks are set): the first window starts. */
void windows_init_clock(run_windows *w);
/* The workers are joined: their clocks are gone. */
void windows_detach_threads(run_windows *w);
/* True when the run's second `sec` (whole seconds since the start, just
 * passed) ends the current window. */
bool windows_due(const run_windows *w, uint64_t sec);
/* Closes the current window at t_end_s (seconds since the start): health,
 * the result line, the record; starts the next. */
void windows_close(run_windows *w, const metrics_reg *reg, double t_end_s, int64_t vus,
                   int64_t vus_max);

#endif
