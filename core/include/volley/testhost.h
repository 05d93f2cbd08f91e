/*
 * Volley test host: unit-test a plugin without volley.
 *
 * A mock of the core for plugin authors, installed with the SDK as
 * libvolley-testhost (pkg-config volley-testhost). It loads your plugin
 * .so with dlopen exactly as volley does, hands it a host table backed by
 * an in-memory metric registry and one libuv loop, and fills your config
 * structs from YAML with volley's own option checker (the same errors a
 * spec would get). Volley's in-tree plugin tests run on the same code.
 *
 *   volley_testhost *th = volley_testhost_new();
 *   const volley_plugin *p = volley_testhost_load(th, "./volley-csv-out.so", err, sizeof err);
 *   my_config cfg;
 *   volley_testhost_config(th, p->output->options, "{ path: out.csv }", &cfg, err, sizeof err);
 *   void *inst = p->output->create(volley_testhost_host(th), volley_testhost_core(th), &cfg, ...);
 *   ... write(), tick(), close() with samples from volley_testhost_sample() ...
 *   volley_testhost_free(th);
 *
 * One test host per process at a time (the host table's VU callbacks take
 * no context). Not thread-safe: call it from the test's thread; a protocol
 * plugin's loop runs inside volley_testhost_run_until on that thread.
 *
 * What it does not do: run the engine (no scenarios, no executors), compile
 * check items or captures for VOLLEY_OPT_CHECKS / VOLLEY_OPT_CAPTURES
 * options (those host functions are NULL here: test such plugins through
 * `volley run`), or template names that only a spec knows (row.*,
 * captures); vu.id and vu.iteration do render. ${env.NAME} reads the
 * process environment; ${services.NAME} what volley_testhost_service() set.
 * config_error and config_warning (revision 3) print their text to
 * stderr: there is no spec place here, so a plugin puts the text in
 * step_compile's err as well.
 */
#ifndef VOLLEY_TESTHOST_H
#define VOLLEY_TESTHOST_H

#include "volley/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct volley_testhost volley_testhost;

/* NULL when out of memory or when another test host is alive. */
volley_testhost *volley_testhost_new(void);
/* Runs the loop dry, unloads the plugins, frees everything the test host
 * handed out (configs, tag sets, VUs). NULL is fine. */
void volley_testhost_free(volley_testhost *th);

const volley_host *volley_testhost_host(volley_testhost *th);
/* The volley_core * to pass to create(): the test host's registry. */
volley_core *volley_testhost_core(volley_testhost *th);

/* dlopen(path) + the plugin's entry, as volley loads it. NULL with err. */
const volley_plugin *volley_testhost_load(volley_testhost *th, const char *path, char *err,
                                          size_t errcap);

/* Fills config (map->config_size bytes) from a YAML document such as
 * "{ path: x.csv, flush_every: 2s }" or a bare shorthand value, with every
 * check volley runs on a spec. 0, or -1 with the diagnostics (file
 * "<test>", line:column) in err. Values live until volley_testhost_free. */
int volley_testhost_config(volley_testhost *th, const volley_option_map *map, const char *yaml,
                           void *config, char *err, size_t errcap);
/* ${services.NAME} renders as url. Both strings must outlive th. 0 / -1. */
int volley_testhost_service(volley_testhost *th, const char *name, const char *url);

/* ---- outputs: samples as the core hands them over ---- */

/* Registers a metric (as a protocol plugin or the core would) and returns
 * its id, or -1. The core's built-in metrics are not pre-registered:
 * register the ones a test needs, e.g. "http_req_duration" as a TREND of
 * VOLLEY_CONTAINS_TIME. */
int volley_testhost_metric(volley_testhost *th, const char *name, volley_metric_type type,
                           volley_metric_contains contains);
/* An interned tag set from NULL-terminated key, value pairs, sorted by key
 * as the core sorts them: volley_testhost_tags(th, VOLLEY_TAG_NAME, "x",
 * VOLLEY_TAG_STATUS, "200", NULL). Equal sets give the same pointer. NULL
 * when out of memory. */
const volley_tagset *volley_testhost_tags(volley_testhost *th, ...);
/* A sample of a registered metric. */
volley_sample volley_testhost_sample(volley_testhost *th, const char *metric, double value,
                                     int64_t time_unix_ns, const volley_tagset *tags);

/* ---- protocols: a worker, VUs and the loop ---- */

volley_worker *volley_testhost_worker(volley_testhost *th);
/* A VU with the given id (1-based, iteration 0). */
volley_vu *volley_testhost_vu(volley_testhost *th, uint64_t id);
/* Runs the loop until host->step_done has been called n times in all, or
 * timeout_ms passed; returns how many times it was called. */
int volley_testhost_run_until(volley_testhost *th, int n, int timeout_ms);
/* Runs the loop until no handle is active (after worker_fini). */
void volley_testhost_drain(volley_testhost *th);
/* What the last step_done carried (copied); NULL before the first. */
const volley_response *volley_testhost_last_response(volley_testhost *th);

/* ---- checks ---- */

/* Runs a check key's eval() on resp as the core does: with a fresh memo
 * for the response (shared by nothing else here) whose run-time values
 * (VOLLEY_OPT_VALUE with ${...}) render for vu (NULL: they fail). The
 * reason of a failure is in msg. */
bool volley_testhost_eval(volley_testhost *th, const volley_check_key *key, const void *cond,
                          const volley_response *resp, volley_vu *vu, char *msg, size_t msgcap);

/* ---- samples plugins recorded through host->sample ---- */

size_t volley_testhost_count(volley_testhost *th, const char *metric);
double volley_testhost_sum(volley_testhost *th, const char *metric);
/* The last sample of the metric (its tags as the plugin passed them). */
const volley_tags *volley_testhost_last_tags(volley_testhost *th, const char *metric);
void volley_testhost_reset(volley_testhost *th);

#ifdef __cplusplus
}
#endif
#endif
