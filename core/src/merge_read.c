/*
 * merge_read: the files of `volley merge`, read (result_read.c) and
 * checked: result files (not json-out's points), each with its end line
 * (unless --allow-partial), all of one spec, their execution segments
 * (merge_seg.c) neither twice nor of different sequences.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge_int.h"
#include "hdr.h"
#include "merge_seg.h"

/* The files must be runs of one spec: the same spec file and included
 * files (sha256), and
 * the same name and thresholds (all a file without the hash has). */
static int same_spec(const result *a, const result *b, char *err, size_t cap)
{
    if (a->spec_sha256 && b->spec_sha256 && strcmp(a->spec_sha256, b->spec_sha256) != 0) {
        snprintf(err, cap, "%s and %s are runs of different specs (the sha256 of their spec "
                 "files with the files they include differ: %.12s..., %.12s...): merge only runs "
                 "of one spec", a->path, b->path,
                 a->spec_sha256, b->spec_sha256);
        return -1;
    }
    const char *na = a->spec_name ? a->spec_name : "", *nb = b->spec_name ? b->spec_name : "";
    if (strcmp(na, nb) != 0) {
        snprintf(err, cap, "%s is a run of spec \"%s\", %s of spec \"%s\": merge only runs of one spec",
                 b->path, nb, a->path, na);
        return -1;
    }
    bool same = a->n_thresholds == b->n_thresholds;
    for (size_t i = 0; same && i < a->n_thresholds; i++)
        same = strcmp(a->thresholds[i].key, b->thresholds[i].key) == 0 &&
               strcmp(a->thresholds[i].expr, b->thresholds[i].expr) == 0;
    if (!same) {
        snprintf(err, cap, "%s and %s have different thresholds: runs of different versions of "
                 "spec \"%s\" cannot be merged", a->path, b->path, na);
        return -1;
    }
    /* slot i means one range only in one geometry */
    const char *ga = a->hist_geometry ? a->hist_geometry : "", *gb = b->hist_geometry ? b->hist_geometry : "";
    if (strcmp(ga, gb) != 0 || a->hist_half_log2 != b->hist_half_log2 ||
        a->hist_max_log2 != b->hist_max_log2) {
        snprintf(err, cap, "%s and %s have different histogram geometries (%s half_log2=%d "
                 "max_log2=%d, %s half_log2=%d max_log2=%d): their histograms cannot be merged",
                 a->path, b->path, ga, a->hist_half_log2, a->hist_max_log2, gb,
                 b->hist_half_log2, b->hist_max_log2);
        return -1;
    }
    if (a->hist_scale > 0 && b->hist_scale > 0 && a->hist_scale != b->hist_scale) {
        snprintf(err, cap, "%s and %s have different histogram scales", a->path, b->path);
        return -1;
    }
    return 0;
}

int merge_read(merged *m, const char *const *paths, size_t n_paths)
{
    char err[1024];
    m->in = calloc(n_paths, sizeof *m->in);
    if (!m->in) {
        fprintf(stderr, "volley merge: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < n_paths; i++) {
        int rc = result_read(paths[i], &m->in[i], err, sizeof err);
        m->n_in = i + 1;
        if (rc != 0) {
            fprintf(stderr, "volley merge: %s\n", err);
            return -1;
        }
        const result *r = &m->in[i];
        if (r->raw) {
            fprintf(stderr, "volley merge: %s: json-out NDJSON, not a result file: merge needs "
                    "files of volley run --result\n", paths[i]);
            return -1;
        }
        if (!r->complete && !m->allow_partial) {
            fprintf(stderr, "volley merge: %s: no end line (the run died): merge needs every "
                    "run's end line (--allow-partial merges what its windows hold)\n", paths[i]);
            return -1;
        }
        m->n_partial += !r->complete;
        if (i == 0 && r->hist_geometry && (strcmp(r->hist_geometry, "volley-hdr-1") != 0 ||
                                           r->hist_half_log2 != HDR_HALF_LOG2 ||
                                           r->hist_max_log2 != HDR_MAX_LOG2)) {
            fprintf(stderr, "volley merge: %s: histogram geometry %s half_log2=%d max_log2=%d is "
                    "not this volley's (volley-hdr-1 half_log2=%d max_log2=%d): its histograms "
                    "cannot be merged\n", paths[i], r->hist_geometry, r->hist_half_log2,
                    r->hist_max_log2, HDR_HALF_LOG2, HDR_MAX_LOG2);
            return -1;
        }
        if (i > 0 && same_spec(&m->in[0], r, err, sizeof err) != 0) {
            fprintf(stderr, "volley merge: %s\n", err);
            return -1;
        }
    }
    /* the same format, written by different volleys: merged, said once */
    bool versions_differ = false;
    for (size_t i = 1; i < n_paths; i++)
        versions_differ = versions_differ || strcmp(m->in[i].volley ? m->in[i].volley : "",
                                                    m->in[0].volley ? m->in[0].volley : "") != 0;
    if (versions_differ) {
        fprintf(stderr, "volley merge: note: the files were written by different volley versions (");
        for (size_t i = 0; i < n_paths; i++)
            fprintf(stderr, "%s%s %s", i ? ", " : "", m->in[i].path,
                    m->in[i].volley && *m->in[i].volley ? m->in[i].volley : "?");
        fprintf(stderr, "); result format 1 in each, merged as one\n");
    }
    /* one entry per segment: a merged file covers several */
    size_t n_seg = 0, n_inst = 0;
    for (size_t i = 0; i < n_paths; i++) {
        n_seg += m->in[i].n_segments ? m->in[i].n_segments : 1;
        n_inst += m->in[i].n_instances;
    }
    merge_seg_in *seg = calloc(n_seg, sizeof *seg);
    m->segs = calloc(n_seg, sizeof *m->segs);
    m->instances = calloc(n_inst + 1, sizeof *m->instances);
    if (!seg || !m->segs || !m->instances) {
        free(seg);
        fprintf(stderr, "volley merge: out of memory\n");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_paths; i++) {
        const result *r = &m->in[i];
        for (size_t j = 0; j < r->n_segments; j++)
            seg[k++] = (merge_seg_in){r->path, r->segments[j], r->sequence};
        if (!r->n_segments)
            seg[k++] = (merge_seg_in){r->path, NULL, r->sequence};
        for (size_t j = 0; j < r->n_instances; j++)
            m->instances[m->n_instances++] = r->instances[j];
    }
    int rc = merge_seg_check(seg, n_seg, m->seg_warn, sizeof m->seg_warn, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "volley merge: %s\n", err);
    } else if (seg[0].segment) {
        merge_seg_sort(seg, n_seg);
        for (size_t i = 0; i < n_seg; i++)
            m->segs[m->n_segs++] = seg[i].segment;
        for (size_t i = 0; i < n_seg && !m->sequence; i++)
            m->sequence = seg[i].sequence;
    }
    free(seg);
    return rc;
}
