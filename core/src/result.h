/*
 * result: the result file of a run (--result FILE, docs/results-format.md):
 * a meta line when the run starts, a window line per window as the run
 * goes (windows.c), an end line with every series' whole state and the
 * verdicts. NDJSON, gzip when the name ends in ".gz"; every line is
 * flushed, so a crash keeps what was measured.
 *
 * Owned by the CLI (opened before the run, closed after the end line);
 * the engine's main thread writes the meta and window lines. After a
 * write that fails nothing more is written; result_close says which.
 */
#ifndef VOLLEY_RESULT_H
#define VOLLEY_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "spec.h"
#include "threshold.h"

struct run_result;

typedef struct result_file result_file;

/* The generator's health in one window (windows.c). Negative: unknown. */
typedef struct window_health {
    double t0, t1;             /* seconds since the start */
    double cpu_s, cpu_pct;     /* cpu_pct: of t1 - t0 times cores */
    int cores;                 /* CPUs this process may run on (affinity) */
    double busiest_pct;        /* the busiest worker thread, of one core; -1 */
    double lag_p95_ms, lag_max_ms;   /* -1: no open-model iteration started */
    double dropped;
    const char *drop_cause;    /* "max_vus", "lag" or NULL */
    bool behind;
} window_health;

/* NULL + err when the file cannot be created. argv: the command line,
 * kept by reference until result_close. */
result_file *result_open(const char *path, bool histograms, int argc, char *const *argv,
                         char *err, size_t errcap);
/* Closes and frees f: 0, or -1 with err saying the first write that
 * failed (the rest of the file was not written). A file nothing was
 * written to (the load never started) is removed. */
int result_close(result_file *f, char *err, size_t errcap);
/* --execution-segment: the meta line's "segment" and "sequence" (copied;
 * before result_write_meta). */
void result_set_segment(result_file *f, const char *segment, const char *sequence);
/* --setup-data F: the meta line's setup scenario says its captures came
 * from F ("setup_data"; copied; before result_write_meta). */
void result_set_setup_data(result_file *f, const char *path);

/* The sha256 of the spec file's bytes and then each included file's, in
 * load order, into out (64 hex digits): the meta line's spec.sha256, so
 * `volley merge` knows runs of one spec, and a setup file's
 * (setup_data.h); "" when one cannot be read. */
void result_spec_sha256(const spec *s, char out[65]);

/* When the run starts (the registry is frozen). */
void result_write_meta(result_file *f, const spec *s, const metrics_reg *reg,
                       int64_t start_unix_ns, uint64_t seed, int workers, int cores,
                       double window_s);
/* One window: the series of `win` that got samples. */
void result_write_window(result_file *f, const metrics_reg *reg, const metrics_agg *win,
                         const window_health *h, int64_t vus, int64_t vus_max);
/* When the verdicts are known. */
void result_write_end(result_file *f, const spec *s, const metrics_reg *reg,
                      const struct run_result *r, const th_verdict *v, int exit_code,
                      size_t windows_behind);

#endif
