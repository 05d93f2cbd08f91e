/*
 * merge: `volley merge RESULT... [--summary-export F] [--summary-json F]
 * [--out junit=F] [--report F] [--result F] [--allow-partial]`: the union of N
 * result files (`volley run --result`) of one spec, run side by side on
 * several machines or processes. Every series is merged exactly (counter
 * sums, rate counts, gauge last/min/max, trend histograms slot by slot, so
 * percentiles come from the merged histogram, never averaged), every
 * threshold recorded in the files is judged again over the merged data,
 * and the end-of-test summary of the union is printed; the outputs are
 * written as a run writes them, --result keeps the merged timeline
 * (docs/results-format.md). Exit 0 when all
 * thresholds pass, 99 when one fails (as a run), 104 on a bad file.
 */
#ifndef VOLLEY_MERGE_H
#define VOLLEY_MERGE_H

/* argv[0] is "merge". */
int merge_main(int argc, char **argv);

#endif
