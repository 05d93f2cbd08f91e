/*
 * runall: `volley run` over several specs or a directory (the brief's
 * run-all-tests.sh made real). What is not the run of one spec lives
 * here: expanding directories into spec files, per-spec result names
 * (--results-dir), the exit-code precedence over several specs and the
 * final table. cli.c's cmd_run drives it; the union health scan before
 * the first spec is cmd_run's too (it loads specs as run_one does).
 */
#ifndef VOLLEY_RUNALL_H
#define VOLLEY_RUNALL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "metrics.h"
#include "spec.h"
#include "threshold.h"

/* What the final table shows of one spec's run. */
typedef struct runall_stats {
    bool ran;                  /* measured something (a summary was printed) */
    size_t th_passed, th_failed;
    uint64_t checks, checks_passed;
    int64_t duration_ns;
} runall_stats;

/* The arguments as spec paths: a file is taken as it is; a directory
 * gives its *.yaml and *.yml files (not hidden ones, not recursive) in
 * name order, without the ones that are not specs (runall_is_spec), each
 * skipped with a note on stderr. *dirs tells whether an argument was a
 * directory. -1 with a message on stderr when an argument cannot be
 * read or a directory holds no spec. */
int runall_expand(char *const *args, int n, char ***out, int *n_out, bool *dirs);
void runall_free_list(char **list, int n);

/* Whether a file found in a directory is a spec: its document, with its
 * includes merged, is a mapping with a `scenarios` key. A file that does
 * not parse counts as a spec (its run says what is wrong with it). */
bool runall_is_spec(const char *path);

/* The file name without folders and without its last extension:
 * "specs/deltran/stress.yaml" -> "stress" (malloc'd). */
char *runall_stem(const char *path);

/* mkdir -p; 0, or -1 with err. */
int runall_mkdir(const char *dir, char *err, size_t errcap);

/* The worse of two exit codes by severity, not by number:
 * 103 > 104 > 105 > 108 > 107 > 100 > 101 > 99 > 0. */
int runall_worse(int a, int b);

/* Fills st from a finished run: thresholds (no data without
 * allow_no_data counts as failed), the checks metric, the duration. */
void runall_note(runall_stats *st, const spec *s, const metrics_reg *reg, const run_result *r,
                 const th_verdict *v);

/* The table after the last spec: spec, exit code, thresholds passed and
 * failed, checks rate, duration; specs not run (after an interrupt)
 * marked so. */
void runall_table(FILE *out, char *const *specs, const int *rc, const runall_stats *st, int n,
                  int n_ran, int worst);

#endif
