/*
 * spec_int: the loader state and the internals shared by the spec
 * compiler's files. Calls go one way, down this list, never up:
 *
 *   spec.c         the document: services, defaults, scenarios, flows, a
 *                  step's check: and plugins' check options (handed to
 *                  check.c), thresholds, outputs; spec_load/spec_free
 *   spec_data.c    pools, custom metrics, a scenario's captured names, a
 *                  step's capture/record/tags/on_check_fail
 *   flow_ctl.c     if, choose, repeat, for_each (called from spec.c; it
 *                  compiles their steps back through flow_emit, never
 *                  calling spec.c itself)
 *   spec_tags.c    the name, group and scenario values a compiled spec's
 *                  samples can carry; warnings about threshold filters
 *                  that name none of them
 *   spec_loader.c  locations, key checks, wanting a mapping or a string, key
 *                  paths, option maps beside keys the caller reads itself
 *
 * Modules that own a part of the language are called from here and include
 * none of these files: template.c (${...}), check.c (check items, given the
 * check_compiler in spec_loader), capture.c, options.c (which reaches back
 * only through opt_ctx's callbacks).
 *
 * Names shared across these files carry the prefix spec_; what one file
 * keeps to itself is static and unprefixed.
 */
#ifndef VOLLEY_SPEC_INT_H
#define VOLLEY_SPEC_INT_H

#include "check.h"
#include "options.h"
#include "spec.h"
#include "template.h"

/* Everything one load needs while compiling. */
typedef struct spec_loader {
    spec *s;
    const spec_opts *o;
    const plug_set *plugins;
    metrics_reg *reg;
    const volley_host *host;
    volley_core *core;
    diag *d;
    tmpl_scope scope;
    opt_ctx oc;
    check_compiler checks;     /* a step's check: and plugins' check options */
    const ynode *defaults;     /* the spec's defaults: mapping or NULL */
    /* while a scenario compiles */
    const char *sc_name;
    const volley_tag *sc_env;  /* its `env:` (NAME, value), looked up before -e */
    size_t sc_n_env;
    const pool_def *sc_pools[VU_MAX_POOLS];   /* its `use:` pools, in order */
    size_t sc_n_pools;
    uint32_t sc_n_once;        /* its once: blocks so far */
    int sc_role;               /* SC_ROLE_* of the scenario compiling */
    bool *cap_keep;            /* per capture slot: taken in a once: block */
    const char **cap_names;    /* every name its flow captures: slot order */
    bool *cap_seen;            /* captured by a step compiled so far */
    size_t n_caps;
    /* Checking defaults/services headers outside any scenario: names only a
     * flow knows (scenario.name, row.*, captures) are accepted here and
     * checked again in each step that uses them. */
    bool outside_flow;
    bool sc_pool_failed;       /* its `use:` named no pool (said once) */
    const ynode *cur_step;     /* the step being compiled, for its captures */
    const ynode *batch;        /* the steps of the batch: compiling, or NULL */
    const char *cur_group;     /* its group, for checks/captures in its options */
    uint32_t cur_proto_rev;    /* its plugin's revision: the responses they see */
    const ynode *metrics_node; /* the spec's metrics: mapping, or NULL */
    /* While a protocol step is filled and compiled: the place of each
     * option value written in the spec (opt_ctx.seen), so the host's
     * config_error and config_warning can point at it. */
    struct spec_seen *opt_seen;
    size_t n_opt_seen, max_opt_seen;
    bool tracking;
    const ynode *cur_value;    /* the step's node and key path */
    const char *cur_path;
    bool cfg_error;            /* config_error came during its step_compile */
    struct flow_scope *flow;   /* loops whose bodies are compiling (flow_ctl.c) */
    struct spec_said *said;    /* config messages printed: said once */
    size_t n_said, cap_said;
} spec_loader;

/* spec_loader.c. Errors are reported with ynode_error(L->d, node, ...). */

/* "file:line:col" of n, in the spec's arena. */
const char *spec_loc(spec_loader *L, const ynode *n);
/* Reports each key of `map` not among `keys` (listing them, suggesting the
 * closest); false if there was one. */
bool spec_check_keys(spec_loader *L, const ynode *map, const char *path, const char *const *keys,
                     size_t n_keys);
/* n when it is a mapping (want_string: its text when it is a non-null
 * scalar); else NULL, reporting n unless n is NULL. */
const ynode *spec_want_map(spec_loader *L, const ynode *n, const char *path);
const char *spec_want_string(spec_loader *L, const ynode *n, const char *path);
/* "path.key" ("key" at the top level), in the spec's arena. */
const char *spec_subpath(spec_loader *L, const char *path, const char *key);
/* opt_fill of the mapping `node` without its keys in `own`, which the
 * caller reads itself: unknown-key messages list them after the map's. */
int spec_fill_except(spec_loader *L, const volley_option_map *map, const ynode *node, void *cfg,
                     const char *path, const char *const *own, size_t n_own);

/* spec_tags.c: after the thresholds of `key` (its series) were added, a
 * warning for each name, group or scenario filter of the key that no
 * sample of this spec can match. Nothing when the spec has errors. */
void spec_warn_tag_filters(spec_loader *L, const ynode *key, uint32_t series, const char *path);
/* spec_tags.c: the per-name breakdowns of the request metrics, for each
 * request name of the running scenarios (at most 200; a warning at `at`
 * names how many more were left out). Before stages_plan (new series). */
void spec_add_breakdowns(spec_loader *L, const ynode *at);

/* spec.c: a flow's ops as they are compiled, and one step into them. */
typedef struct op_list {
    size_t n, cap;
    flow_op *ops;
} op_list;
flow_op *spec_push_op(spec_loader *L, op_list *l);
bool spec_compile_step(spec_loader *L, const ynode *step, const char *path, const char *scname,
                       const char *group, op_list *out, int depth);

/* spec_batch.c: `- batch:`, its steps compiled after an OP_BATCH. */
bool spec_compile_batch(spec_loader *L, const ynode *step, const char *path, const char *scname,
                        const char *group, op_list *out, int depth);
/* The list of steps of a step that is a batch (either form), else NULL. */
const ynode *spec_batch_steps(const ynode *step);

/* spec_data.c */
void spec_load_pools(spec_loader *L, const ynode *n);
void spec_load_metrics(spec_loader *L, const ynode *n);
/* Binds the scenario's `use:` (NULL: none) and collects its captures. */
bool spec_scenario_data_begin(spec_loader *L, const ynode *use, const char *path,
                              const ynode *flow, scenario *sc);
void spec_scenario_data_end(spec_loader *L);
/* Template scope callbacks for the scenario being compiled. */
const char *spec_scope_scenario(void *ctx);
int64_t spec_scope_row_field(void *ctx, const char *name, int *slot, char *err, size_t errcap);
int64_t spec_scope_setup_field(void *ctx, const char *name, char *err, size_t errcap);
int spec_scope_capture(void *ctx, const char *name);
/* opt_ctx.compile_captures: a plugin's VOLLEY_OPT_CAPTURES option. */
volley_captures *spec_compile_opt_captures(void *ctx, const ynode *n, const char *path);
/* `tags: { KEY: value }` of a step or a scenario: sorted by key, values
 * fixed at load time (env and services templates, scenario.name); the
 * keys become known to sub-metric filters. false on an error. */
bool spec_compile_tags(spec_loader *L, const ynode *n, const char *path, const volley_tag **out,
                       size_t *n_out);
/* A scenario's `env: { NAME: value }` into L->sc_env (what ${env.NAME}
 * sees first while its flow compiles). false on an error. */
bool spec_scenario_env(spec_loader *L, const ynode *n, const char *path);
/* A step's tags / capture / record / on_check_fail keys, onto its op. */
bool spec_compile_step_data(spec_loader *L, const ynode *step, const char *path, flow_op *op);
/* What the step's checks and captures read of a response (VOLLEY_READS_*),
 * for its protocol plugin (volley_step_info.reads). */
uint32_t spec_step_reads(const flow_op *op);
/* Frees what the compilers of a step's checks and captures own, for a step
 * that never made it into its flow. */
void spec_free_step_data(flow_op *op);

#endif
