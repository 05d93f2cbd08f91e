/*
 * schedule: the pure math of k6's load models, apart from any clock, so it
 * is unit-tested with a fake clock and shared by all workers.
 *
 * A profile is a start value and stages {duration, target}: the value moves
 * linearly from the previous stage's target (or the start) to the stage's
 * target over its duration, and stays at the last target afterwards. A
 * stage of 0 ns is a jump (k6's instant load increase): the value is its
 * target from that instant on, and it starts no arrivals of its own.
 *   ramping-vus           value = VUs
 *   constant-arrival-rate one stage {duration, rate}, start = rate
 *   ramping-arrival-rate  value = iterations per time_unit
 * Arrivals: the k-th iteration (k = 0, 1, ...) starts at the time t where
 * the integral of the rate from 0 to t reaches k, so a constant 10/s starts
 * at 0, 100 ms, 200 ms, ... and ramps space arrivals exactly.
 */
#ifndef VOLLEY_SCHEDULE_H
#define VOLLEY_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sched_stage {
    int64_t duration_ns;
    double target;
} sched_stage;

typedef struct sched_profile {
    double start;
    size_t n;
    const sched_stage *stages;
    int64_t unit_ns;           /* arrival profiles: time_unit; else 0 */
} sched_profile;

/* Total duration of the stages. */
int64_t sched_total_ns(const sched_profile *p);
/* The value at t (ns from the scenario's start), t clamped to >= 0. */
double sched_value_at(const sched_profile *p, int64_t t);
/* ramping-vus: whole VUs wanted at t (k6 rounds down). */
int64_t sched_vus_at(const sched_profile *p, int64_t t);
/* The largest value any stage reaches (VUs to allocate). */
double sched_max_value(const sched_profile *p);
/* Arrivals started in [0, t]: the integral of the rate. */
double sched_arrivals_until(const sched_profile *p, int64_t t);
/* Time of the k-th arrival, or -1 when it falls after the last stage. */
int64_t sched_arrival_time(const sched_profile *p, uint64_t k);
/* The stage in effect at t (ns from the scenario's start): stage k covers
 * [start of k, start of k + duration); before the start it is stage 0, at
 * and after the end the last one (iterations that finish in the graceful
 * stop belong to it). 0 without stages. */
size_t sched_stage_at(const sched_profile *p, int64_t t);
/* When stage k starts, ns from the scenario's start (the total past the
 * last). */
int64_t sched_stage_start(const sched_profile *p, size_t k);

#endif
