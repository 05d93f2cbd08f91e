/*
 * run_summary: the end of a run as output plugins see it (plugin SDK
 * revision 5, volley_run_summary): the thresholds as judged and the
 * checks, built by the CLI once the verdicts are in and handed to every
 * output's summary() before its close().
 */
#ifndef VOLLEY_RUN_SUMMARY_H
#define VOLLEY_RUN_SUMMARY_H

#include "engine.h"
#include "metrics.h"
#include "spec.h"
#include "threshold.h"
#include "volley/plugin.h"

typedef struct run_summary {
    volley_run_summary pub;
    volley_threshold_result *th;
    const volley_threshold_result **th_ptrs;
    char (*th_text)[96];         /* observed text, aggregation label */
    volley_check_result *ck;
    const volley_check_result **ck_ptrs;
} run_summary;

/* Fills rs (which owns what it points to, but not the strings of s, reg
 * and r: keep them until run_summary_free). v: the verdicts of every
 * threshold. 0, or -1 when out of memory (rs is then empty but valid). */
int run_summary_build(run_summary *rs, const spec *s, const metrics_reg *reg, const run_result *r,
                      const th_verdict *v, int exit_code);
void run_summary_free(run_summary *rs);

#endif
