/*
 * progress: the live display while a test runs. On a terminal it redraws
 * one line per scenario in place (elapsed/total bar, VUs, iterations) plus
 * a line with request rate and errors; when the output is not a terminal it
 * prints a plain line every `plain_every_s` seconds; --quiet shows nothing.
 * The engine's metrics thread calls progress_update about every second (a
 * terminal may get more frequent updates); it never blocks a worker.
 */
#ifndef VOLLEY_PROGRESS_H
#define VOLLEY_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct progress_scenario {
    const char *name;
    const char *executor;       /* "constant-vus", ... */
    double elapsed_s;           /* since the scenario's start (0 before) */
    double total_s;             /* planned length without graceful stop */
    int64_t vus;                /* running now */
    int64_t vus_max;            /* allocated */
    uint64_t iterations;        /* complete */
    uint64_t interrupted;
    uint64_t dropped;           /* arrival-rate: iterations not started */
    bool done;
} progress_scenario;

typedef struct progress_snapshot {
    double elapsed_s;           /* since the test's start */
    size_t n;
    const progress_scenario *sc;
    uint64_t requests;          /* http_reqs so far (0 when no http) */
    double requests_per_s;      /* since the test's start (the summary's rate) */
    uint64_t failed;            /* http_req_failed passes so far */
    bool final;                 /* last call: finish the display */
    int64_t vus_max;            /* VUs allocated so far (the vus_max metric) */
    uint64_t dropped;           /* dropped_iterations so far */
    bool has_p95;
    double p95_ms;              /* http_req_duration p(95): the last window's, or
                                   the whole run's (final) */
    uint64_t window_requests;   /* the last closed window (while running) */
    uint64_t window_failed;
    double window_s;            /* its length; 0: none yet */
    uint64_t window_seq;        /* which window that was (1, 2, ...) */
    bool p95_bound;             /* p95_ms bounds the p95 from above (plain lines:
                                   the worst second's since the last line) */
    uint64_t console_lines;     /* log steps' lines written to the same stream so
                                   far: a tty frame after new ones is drawn below
                                   them, not over them */
} progress_snapshot;

typedef struct progress progress;

/* tty: redraw in place with ANSI escapes; quiet: draw nothing. */
progress *progress_new(FILE *out, bool tty, bool quiet, double plain_every_s);
void progress_update(progress *p, const progress_snapshot *s);
void progress_free(progress *p);

#endif
