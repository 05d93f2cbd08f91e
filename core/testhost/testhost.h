/*
 * testhost: a small host for plugin tests. It loads a real plugin .so with
 * dlopen, hands it a host table backed by this file (one libuv loop,
 * in-memory metrics), and fills plugin configs from YAML snippets with the
 * core's own option checker, so a test exercises the plugin exactly as the
 * runner would, minus the engine.
 *
 * Two users: the in-tree plugin tests (tests/plugins/, this header) and
 * plugin authors out of tree, through the installed libvolley-testhost and
 * its public header volley/testhost.h (volley_testhost.c wraps this one).
 */
#ifndef VOLLEY_CORE_TESTHOST_H
#define VOLLEY_CORE_TESTHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "arena.h"
#include "diag.h"
#include "memo.h"
#include "template.h"
#include "volley/plugin.h"
#include "vu.h"

#define TH_MAX_METRICS 64

typedef struct th_sample {
    int metric;
    double value;
    volley_tags tags;
} th_sample;

/* What host->step_done received last, deep-copied. */
typedef struct th_done {
    int count;          /* step_done calls so far */
    int status;
    char *error;
    char *headers;
    char *body;
    size_t body_len;
    double duration_ms;
    volley_vu *vu;
    char *jar;          /* the response's jar view (NULL: none) */
    char *vu_jar;       /* and the VU's own jar's (NULL: none)  */
} th_done;

typedef struct testhost {
    volley_host host;
    uv_loop_t loop;
    arena a;
    diag d;
    tmpl_scope scope;
    volley_worker *worker;           /* points at this testhost */
    volley_metric_info metrics[TH_MAX_METRICS];
    int n_metrics;
    th_sample *samples;
    size_t n_samples, cap_samples;
    th_done done;
    void *dl[8];
    int n_dl;
    struct ytree **trees;             /* kept until th_fini: configs point into them */
    size_t n_trees, cap_trees;
    const char *services[8][2];       /* ${services.NAME} -> url */
    bool quiet;                       /* th_fill keeps its diagnostics in d only */
    int n_services;
} testhost;

/* Returns 0; the testhost must stay at a fixed address afterwards. */
int th_init(testhost *th);
void th_fini(testhost *th);
/* dlopen a plugin file and call its entry; NULL with err on failure. */
const volley_plugin *th_load_path(testhost *th, const char *path, char *err, size_t errcap);
#ifdef VOLLEY_PLUGIN_BUILD_DIR
/* In-tree: VOLLEY_PLUGIN_BUILD_DIR/volley-<name>.so. */
const volley_plugin *th_load(testhost *th, const char *name);
#endif
/* ${services.NAME} in configs renders as url (both strings kept by the
 * caller). At most 8. 0 or -1. */
int th_service(testhost *th, const char *name, const char *url);
/* Parses `yaml` and fills config via the core's option checker. 0 or -1
 * (the diagnostics are printed to stderr and kept in th->d). */
int th_fill(testhost *th, const volley_option_map *map, const char *yaml, void *config);
/* A VU with the given id (iteration 0), owned by the testhost arena. */
volley_vu *th_vu(testhost *th, uint64_t id);
/* Runs the loop until done.count reaches n or timeout_ms passes; returns
 * done.count. */
int th_run_until(testhost *th, int n, int timeout_ms);
/* Runs the loop until no handle is active (after worker_fini). */
void th_drain(testhost *th);
int th_metric_id(testhost *th, const char *name);   /* -1 if unknown */
size_t th_count(testhost *th, const char *metric);  /* samples of it */
double th_sum(testhost *th, const char *metric);
const th_sample *th_last(testhost *th, const char *metric);
void th_reset_samples(testhost *th);

#endif
