/*
 * merge: `volley merge`, the command: its options and the order of the
 * steps (merge_int.h: read, merge, judge and print, write the outputs).
 */
#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "merge_int.h"
#include "report.h"

static void usage(FILE *out)
{
    fputs("usage: volley merge RESULT... [--summary-export F] [--summary-json F] [--out junit=F]\n"
          "                   [--report F] [--result F] [--allow-partial]\n"
          "                   [--summary-trend-stats L] [--summary-time-unit U] [--summary-by L]\n"
          "  The end-of-test summary of the union of result files (volley run --result)\n"
          "  of one spec: counters summed, rates counted, trends' histograms merged slot\n"
          "  by slot (percentiles of the union, not averages); every threshold judged\n"
          "  again over the merged data. Exit 0: all pass; 99: one fails; 104: a bad file.\n"
          "  --summary-export F       k6's legacy summary JSON of the union\n"
          "  --summary-json F         k6's handleSummary(data) object of the union\n"
          "  --out junit=F            the thresholds and checks as JUnit XML\n"
          "  --report F               the HTML report of the union (volley report)\n"
          "  --result F               a merged result file: the timeline of the union\n"
          "  --allow-partial          merge runs that died (no end line) too\n"
          "  --summary-trend-stats L  trend stats in the summary and the JSON outputs, as\n"
          "                           volley run's (e.g. avg,med,p(95),p(99),max,count)\n"
          "  --summary-time-unit U    s, ms or us for every time in the summary's trends\n"
          "  --summary-by L           name, scenario or both: the breakdowns the summary shows\n"
          "                           (and, for name, the exports), as volley run's\n", out);
}

/* "--name VALUE" or "--name=VALUE": the value, or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int merge_main(int argc, char **argv)
{
    const char *export_path = NULL, *json_path = NULL, *report_path = NULL, *result_path = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths), **outs = calloc((size_t)argc + 1, sizeof *outs);
    size_t n_paths = 0, n_outs = 0;
    merged m = {0};
    char err[1024], tmp[512] = "";
    summary_opts_init(&m.opts);
    if (!paths || !outs) {
        free(paths);
        free(outs);
        return MERGE_INVALID;
    }
    for (int i = 1; i < argc; i++) {
        const char *v, *v2 = NULL;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            free(paths);
            free(outs);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "--summary-export"))) {
            export_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--summary-json"))) {
            json_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--report"))) {
            report_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--result"))) {
            result_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--out"))) {
            outs[n_outs++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--summary-by"))) {
            if (summary_parse_by(&m.opts, v, err, sizeof err) != 0) {
                fprintf(stderr, "volley merge: %s\n", err);
                free(paths);
                free(outs);
                return MERGE_INVALID;
            }
        } else if ((v = opt_value(argc, argv, &i, "--summary-trend-stats")) ||
                   (v2 = opt_value(argc, argv, &i, "--summary-time-unit"))) {
            /* volley run's parsers: the same forms, the same messages */
            if ((v ? summary_parse_trend_stats(&m.opts, v, err, sizeof err)
                   : summary_parse_time_unit(&m.opts, v2, err, sizeof err)) != 0) {
                fprintf(stderr, "volley merge: %s\n", err);
                free(paths);
                free(outs);
                return MERGE_INVALID;
            }
        } else if (strcmp(argv[i], "--allow-partial") == 0) {
            m.allow_partial = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "volley merge: unknown or incomplete option \"%s\"\n", argv[i]);
            usage(stderr);
            free(paths);
            free(outs);
            return MERGE_INVALID;
        } else {
            paths[n_paths++] = argv[i];
        }
    }
    if (n_paths == 0) {
        fprintf(stderr, "volley merge: expected at least one RESULT file (volley run --result)\n");
        free(paths);
        free(outs);
        return MERGE_INVALID;
    }
    int rc = MERGE_INVALID;
    const mseries **list = NULL;
    if (merge_read(&m, paths, n_paths) != 0)
        goto out;
    m.opts.segments = m.segs;
    m.opts.n_segments = m.n_segs;
    m.opts.sequence = m.n_segs ? m.sequence : NULL;
    m.opts.instances = m.instances;
    m.opts.n_instances = m.n_instances;
    if (merge_series(&m, err, sizeof err) != 0 || merge_windows(&m, err, sizeof err) != 0) {
        fprintf(stderr, "volley merge: %s\n", err);
        goto out;
    }
    if (!(list = calloc(m.n_s + 1, sizeof *list)))
        goto out;
    int bad;
    size_t failed = merge_judge(&m, err, sizeof err, &bad);
    if (bad) {
        fprintf(stderr, "volley merge: %s: a threshold: %s\n", m.in[0].path, err);
        goto out;
    }
    size_t n = merge_shown(&m, list, false);
    merge_print_summary(stdout, &m, list, n, failed);
    rc = failed ? MERGE_FAIL : 0;
    if (export_path)
        n = merge_shown(&m, list, true);
    if (export_path && merge_export_json(export_path, &m, list, n, failed, err, sizeof err) != 0) {
        fprintf(stderr, "volley merge: --summary-export: %s\n", err);
        rc = MERGE_INVALID;
    }
    if (json_path && merge_summary_json(json_path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "volley merge: --summary-json: %s\n", err);
        rc = MERGE_INVALID;
    }
    for (size_t i = 0; i < n_outs; i++)
        if (merge_output(outs[i], &m, failed ? MERGE_FAIL : 0, err, sizeof err) != 0) {
            fprintf(stderr, "volley merge: %s\n", err);
            rc = MERGE_INVALID;
        }
    /* the report reads a result file: the merged one, or a temporary one */
    const char *res = result_path;
    if (!res && report_path) {
        if (report_temp_result(tmp, sizeof tmp) != 0) {
            fprintf(stderr, "volley merge: --report: cannot make a temporary file\n");
            rc = MERGE_INVALID;
        }
        res = *tmp ? tmp : NULL;
    }
    if (res && merge_write_result(res, &m, failed, err, sizeof err) != 0) {
        fprintf(stderr, "volley merge: --result: %s\n", err);
        rc = MERGE_INVALID;
    } else if (res && report_path) {
        if (report_write(res, report_path, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "volley merge: --report: %s\n", err);
            rc = MERGE_INVALID;
        }
    }
out:
    if (*tmp)
        unlink(tmp);
    merge_free(&m);
    free(list);
    free(paths);
    free(outs);
    return rc;
}
