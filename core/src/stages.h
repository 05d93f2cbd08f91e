/*
 * stages: the stress-test report. For every ramping scenario (ramping-vus,
 * ramping-arrival-rate) the run keeps some series once per stage (the
 * stage copies of metrics.h): iterations, http_reqs, http_req_duration,
 * http_req_failed and the series of every threshold that can see the
 * scenario's samples. After the run, each stage's row reads them, each
 * threshold is judged on each stage alone, and the breaking point is the
 * first stage where a threshold's condition was crossed.
 *
 * A sample belongs to the stage in effect when it was taken
 * (sched_stage_at); samples after the last stage's end (iterations that
 * finish in the graceful stop) belong to the last stage.
 */
#ifndef VOLLEY_STAGES_H
#define VOLLEY_STAGES_H

#include <jansson.h>
#include <stdio.h>

#include "engine.h"
#include "metrics.h"
#include "spec.h"

/* Stages kept per scenario at most (each trend copy costs ~90 KiB per
 * aggregate); a scenario with more has no stage table. */
#define STAGES_MAX 20

/* Whether a scenario gets a stage table. */
bool stages_wanted(const scenario *sc);
/* Registers the stage copies for every ramping scenario of s; at the end
 * of loading, before any aggregate. 0 or -1 (out of memory). */
int stages_plan(const spec *s, metrics_reg *reg);
/* The text tables and breaking points, after the scenarios' lines. */
void stages_print(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r);
/* The export's "stages" object, or NULL without ramping scenarios. */
json_t *stages_json(const spec *s, const metrics_reg *reg, const run_result *r);

#endif
