/*
 * baseline: thresholds relative to an earlier run (`p(95)<baseline*1.1`
 * with `volley run --baseline OLD`). The baseline is a result file
 * (--result, docs/results-format.md); its end line has every series'
 * state over the whole run, trends with their histograms, so any
 * aggregation a threshold names can be read from it as the run itself
 * would compute it.
 */
#ifndef VOLLEY_BASELINE_H
#define VOLLEY_BASELINE_H

#include <stddef.h>

#include "metrics.h"
#include "spec.h"

/* Sets the target of every relative threshold of s from the result file
 * at path (a threshold whose series the baseline does not have, or has
 * no data for, gets TH_BASELINE_MISSING: its verdict is "no data"). Before the
 * run (abort_on_fail thresholds are judged during it). 0, or -1 with err
 * when the file cannot be read or is not a complete result. */
int baseline_apply(const char *path, spec *s, const metrics_reg *reg, char *err, size_t errcap);

/* True when some threshold of s is relative to a baseline. */
bool baseline_wanted(const spec *s);

#endif
