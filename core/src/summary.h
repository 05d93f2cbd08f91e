/*
 * summary: threshold evaluation and the end-of-test reports: the k6-style
 * text summary and k6's legacy --summary-export JSON.
 */
#ifndef VOLLEY_SUMMARY_H
#define VOLLEY_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"
#include "metrics.h"
#include "spec.h"

/* The value a threshold's aggregation reads from a series. */
double summary_agg_value(const metrics_reg *reg, const series_agg *s, uint32_t metric,
                         const th_expr *e, double duration_s);
/* Fills ok[i] for every threshold; returns how many failed. */
size_t summary_eval_thresholds(const spec *s, const metrics_reg *reg, const metrics_agg *agg,
                               double duration_s, bool *ok);
void summary_print(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                   const bool *th_ok);
/* 0, or -1 with err naming the file. */
int summary_export(const char *path, const spec *s, const metrics_reg *reg,
                   const run_result *r, const bool *th_ok, char *err, size_t errcap);

#endif
