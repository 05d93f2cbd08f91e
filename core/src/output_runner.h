/*
 * output_runner: one thread and one bounded queue per output plugin, so a
 * slow or dead output never slows the load. Batches are shared read-only by
 * all outputs (reference counted); a full queue drops the batch and counts
 * its samples.
 */
#ifndef VOLLEY_OUTPUT_RUNNER_H
#define VOLLEY_OUTPUT_RUNNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "spec.h"
#include "volley/plugin.h"

#define OUTR_QUEUE 256

typedef struct out_batch {
    atomic_int refs;
    size_t n;
    volley_sample *s;          /* owned */
} out_batch;

out_batch *out_batch_new(volley_sample *samples, size_t n);   /* takes samples */
void out_batch_release(out_batch *b);

typedef struct out_runner {
    const output_cfg *cfg;
    const volley_output_ops *ops;
    void *inst;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    out_batch *q[OUTR_QUEUE];
    size_t head, len;
    bool closing;
    const volley_run_summary *summary;   /* for ops->summary, set with closing */
    bool failed;               /* write/close reported an error */
    char err[512];
    _Atomic uint64_t dropped;  /* samples never written */
    uint64_t written;          /* samples handed to write() */
    atomic_int crashed;        /* the signal its thread died of (crash.h) */
    char role[96];             /* "output NAME", for a crash message */
    struct crash_thread_info *crash_info;
} out_runner;

/* create() on this thread, then the output's thread starts. 0 or -1+err. */
int outr_start(out_runner *r, const output_cfg *cfg, const volley_host *host,
               volley_core *core, char *err, size_t errcap);
void outr_push(out_runner *r, out_batch *b);
/* Drains the queue, calls close() and destroy(), joins the thread. An
 * output whose thread crashed is left alone (its thread is parked, its
 * plugin never called again) and reported as failed. */
void outr_finish(out_runner *r);
/* outr_finish, and before close() the output's summary() (revision 5)
 * gets `sum` on its thread, after the last batch. sum may be NULL. */
void outr_finish_summary(out_runner *r, const volley_run_summary *sum);

#endif
