/*
 * merge: `volley merge`, the command: its options and the order of the
 * steps (merge_int.h: read, merge, judge and print).
 */
#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"

static void usage(FILE *out)
{
    fputs("usage: volley merge RESULT... [--summary-export F]\n"
          "  The end-of-test summary of the union of result files (volley run --result)\n"
          "  of one spec: counters summed, rates counted, trends' histograms merged slot\n"
          "  by slot (percentiles of the union, not averages); every threshold judged\n"
          "  again over the merged data. Exit 0: all pass; 99: one fails; 104: a bad file.\n"
          "  --summary-export F       k6's legacy summary JSON of the union\n", out);
}

int merge_main(int argc, char **argv)
{
    const char *export_path = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    size_t n_paths = 0;
    if (!paths)
        return MERGE_INVALID;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            free(paths);
            return 0;
        } else if (strcmp(argv[i], "--summary-export") == 0 && i + 1 < argc) {
            export_path = argv[++i];
        } else if (strncmp(argv[i], "--summary-export=", 17) == 0) {
            export_path = argv[i] + 17;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "volley merge: unknown or incomplete option \"%s\"\n", argv[i]);
            usage(stderr);
            free(paths);
            return MERGE_INVALID;
        } else {
            paths[n_paths++] = argv[i];
        }
    }
    if (n_paths == 0) {
        fprintf(stderr, "volley merge: expected at least one RESULT file (volley run --result)\n");
        free(paths);
        return MERGE_INVALID;
    }
    merged m = {0};
    char err[1024];
    int rc = MERGE_INVALID;
    const mseries **list = NULL;
    if (merge_read(&m, paths, n_paths) != 0)
        goto out;
    if (merge_series(&m, err, sizeof err) != 0) {
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
    size_t n = merge_shown(&m, list);
    merge_print_summary(stdout, &m, list, n, failed);
    rc = failed ? MERGE_FAIL : 0;
    if (export_path && merge_export_json(export_path, &m, list, n, failed, err, sizeof err) != 0) {
        fprintf(stderr, "volley merge: --summary-export: %s\n", err);
        rc = MERGE_INVALID;
    }
out:
    merge_free(&m);
    free(list);
    free(paths);
    return rc;
}
