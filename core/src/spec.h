/*
 * spec: turns a YAML spec into the compiled form the engine runs. Loading
 * checks everything (keys, types, durations, templates, plugins' options,
 * checks, thresholds against existing metrics) and reports all errors in
 * one pass with file:line:column. The compiled spec owns its memory in one
 * arena and keeps its YAML tree alive (option strings point into it).
 */
#ifndef VOLLEY_SPEC_H
#define VOLLEY_SPEC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "capture.h"
#include "check.h"
#include "diag.h"
#include "include.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "pool.h"
#include "schedule.h"
#include "threshold.h"
#include "volley/plugin.h"
#include "vu.h"
#include "yaml_tree.h"

/* Captures a protocol plugin took as an option (VOLLEY_OPT_CAPTURES), run
 * through the host table. (Its VOLLEY_OPT_CHECKS: volley_checks, check.h.) */
struct volley_captures {
    size_t n;
    capture_def *defs;
    const char *group;
    uint32_t proto_rev;              /* its protocol plugin's revision (check_resp_full) */
    struct volley_captures *next;    /* in spec.xcaptures */
};

typedef enum op_kind {
    OP_STEP = 1, OP_SLEEP, OP_GROUP_ENTER, OP_GROUP_EXIT,
    OP_ONCE_ENTER, OP_ONCE_EXIT,    /* `once:` steps: a VU runs them until they complete once */
    OP_BATCH,                       /* `batch:` its OP_STEPs after it, run at once on lanes */
    OP_CTL,                         /* if, choose, repeat, for_each (flow_ctl.h) */
    OP_CHECK,                       /* `check:` with no request: checks on values (k6's check(v, ...)) */
    OP_ABORT,                       /* `abort: REASON`: the test stops (k6's exec.test.abort) */
    OP_LOG                          /* `log: TEXT`: a line on stderr (k6's console.log) */
} op_kind;

/* Steps one `batch:` may hold, and at most at once (max_parallel). */
#define SPEC_BATCH_MAX 1024

/* Blocks of `once:` steps one scenario may have (a bit each per VU). */
#define SPEC_MAX_ONCE 64

/* What a failed check or capture does to the iteration (on_check_fail). */
typedef enum on_fail { ONFAIL_CONTINUE = 0, ONFAIL_STOP_ITERATION, ONFAIL_ABORT_TEST } on_fail;

/* `record: { METRIC: SOURCE }`: a sample into a custom metric per step. */
typedef enum rec_source {
    REC_CHECKS,     /* 1 when every check (and capture) of the step passed, else 0 */
    REC_CHECKS_FAILED, /* the opposite: 1 when one failed (k6: errorRate.add(!ok)) */
    REC_DURATION,   /* the step's duration, ms */
    REC_STATUS,     /* the response status */
    REC_ELAPSED,    /* ms since the iteration started (k6: new Date() - start) */
    REC_CONST,      /* a number */
    REC_TEMPLATE,   /* a template rendered and read as a number */
    REC_TIMING,     /* timings.PART: a k6 timing of the response, ms */
    REC_BYTES       /* bytes.sent / bytes.received of the exchange */
} rec_source;

/* Which timing or size (REC_TIMING, REC_BYTES). */
typedef enum rec_part {
    REC_T_BLOCKED = 0, REC_T_CONNECTING, REC_T_TLS, REC_T_SENDING, REC_T_WAITING,
    REC_T_RECEIVING, REC_T_DURATION, REC_B_SENT, REC_B_RECEIVED
} rec_part;

/* When a record samples: always, or only when the step's checks passed/failed. */
typedef enum rec_when { REC_ALWAYS = 0, REC_PASSED, REC_FAILED } rec_when;

typedef struct record_def {
    uint32_t metric;
    rec_source source;
    rec_part part;                  /* REC_TIMING, REC_BYTES */
    rec_when when;
    double value;                   /* REC_CONST */
    const volley_template *tmpl;    /* REC_TEMPLATE */
    const char *location;
    /* The sample's own tags: the step's with the entry's `tags:` (k6's
     * metric.add(v, tags)), sorted by key, pointer-stable; NULL: the
     * step's alone. */
    const volley_tag *tags;
    size_t n_tags;
} record_def;

typedef struct flow_op {
    op_kind kind;
    const char *group;       /* group path in effect ("" at top level);
                                for GROUP_ENTER/EXIT: the group's own path */
    const char *location;    /* "file:line:col" */
    /* OP_STEP */
    size_t proto;            /* index into spec.protos */
    void *step;
    size_t n_checks;
    check_item *checks;
    size_t n_captures;
    capture_def *captures;
    size_t n_records;
    record_def *records;
    on_fail on_fail;
    const volley_tag *tags;  /* the step's own `tags:`, sorted by key */
    size_t n_tags;
    /* OP_SLEEP: a fixed time, or a template read as a duration each time */
    int64_t sleep_ns;
    const volley_template *sleep_tmpl;
    /* OP_GROUP_EXIT: tags for group_duration */
    volley_tags group_tags;
    /* OP_ONCE_ENTER/EXIT: the block's number; ENTER: the op after its EXIT */
    uint32_t once;
    uint32_t once_skip;
    /* OP_BATCH: its steps are the ops after it up to batch_end, all
     * OP_STEP; at most batch_max run at once, batch_per_host per host
     * (batch_hosts: the distinct hosts). An OP_STEP of a batch:
     * batch_host, the index of its host among the batch's. */
    uint32_t batch_end;
    uint16_t batch_max, batch_per_host, batch_hosts;
    uint16_t batch_host;
    const struct flow_ctl *ctl;   /* OP_CTL */
    /* OP_ABORT: the reason, rendered when the VU gets there */
    const volley_template *abort_reason;
    /* OP_LOG: the text, rendered when the VU gets there; a conlog_level */
    const volley_template *log_text;
    int log_level;
} flow_op;

/* What a scenario is for: the spec's own scenarios, or its setup: and
 * teardown: flows, run as one-VU, one-iteration scenarios of their own
 * (k6's setup() and teardown()). */
enum { SC_ROLE_MAIN = 0, SC_ROLE_SETUP, SC_ROLE_TEARDOWN };

/* In the order of the spec's executor names (spec.c executor_names). */
typedef enum executor_kind {
    EXEC_CONSTANT_VUS = 0, EXEC_RAMPING_VUS, EXEC_CONSTANT_ARRIVAL_RATE,
    EXEC_RAMPING_ARRIVAL_RATE, EXEC_PER_VU_ITERATIONS, EXEC_SHARED_ITERATIONS
} executor_kind;

const char *executor_name(executor_kind k);
static inline bool executor_is_arrival(executor_kind k)
{
    return k == EXEC_CONSTANT_ARRIVAL_RATE || k == EXEC_RAMPING_ARRIVAL_RATE;
}

typedef struct scenario {
    const char *name;
    const char *location;
    executor_kind executor;
    int64_t vus;
    int64_t iterations;        /* per VU or shared */
    int64_t duration_ns;       /* constant-vus */
    int64_t max_duration_ns;   /* iteration executors */
    int64_t graceful_stop_ns;
    int64_t pacing_ns;         /* least time between a VU's iteration starts */
    int role;                  /* SC_ROLE_*: a scenario, or the setup/teardown flow */
    bool *cap_keep;            /* per capture slot: taken in a once: block, kept
                                  across the VU's iterations (NULL: none) */
    uint32_t n_once;
    int64_t start_time_ns;
    /* ramping-vus and the arrival-rate executors */
    sched_profile profile;     /* VUs, or iterations per time_unit */
    int64_t graceful_ramp_down_ns;
    int64_t pre_allocated_vus, max_vus;
    size_t n_ops;
    flow_op *ops;
    /* `tags:` on every sample of its VUs, sorted by key (a step's own tag
     * of the same key wins over one of these). With `tag_stage:`,
     * stage_tags[k] is that list with `stage: "k"` in it (n_tags + 1
     * long) for profile stage k: an iteration's samples carry the stage it
     * started in (k6's tagWithCurrentStageIndex). Pointer-stable: tag
     * sets intern by identity. */
    const volley_tag *tags;
    size_t n_tags;
    const volley_tag *const *stage_tags;   /* NULL: no stage tag */
    int pools[VU_MAX_POOLS];   /* `use:` indexes into spec.pools */
    size_t n_pools;            /* 0: no pool */
    size_t n_caps;             /* capture slots each VU keeps */
    /* --execution-segment (seg_plan.c; NULL, false: the whole test): this
     * instance's stripe of VU numbers (ramping-vus: of its target), of
     * the global arrival indexes, and a zero share. vu_id_base: the
     * one-machine id of its first VU minus 1 (random streams follow it). */
    const struct seg_stripe *seg, *seg_arrivals;
    bool seg_skipped;
    int64_t vu_id_base;
} scenario;

/* How long the scenario runs before its graceful stop. */
int64_t scenario_length_ns(const scenario *sc);
/* VUs the scenario may use at most (the ones the engine allocates). */
int64_t scenario_max_vus(const scenario *sc);

typedef struct threshold {
    const char *key;           /* "http_req_duration{status:200}" */
    const char *source;        /* "p(95)<500" */
    const char *location;
    uint32_t series;
    uint32_t metric;
    th_expr expr;
    bool abort_on_fail;
    int64_t delay_abort_ns;
    bool allow_no_data;        /* no data passes instead of failing the run */
} threshold;

typedef struct output_cfg {
    const plug *plugin;
    void *config;
    const char *label;         /* "json-out" or "json-out=FILE" */
} output_cfg;

typedef struct proto_use {
    const plug *plugin;
    void *inst;                /* from ops->create */
} proto_use;

typedef enum pick_mode { PICK_PER_VU, PICK_SEQUENTIAL, PICK_RANDOM, PICK_UNIQUE } pick_mode;

typedef struct pool_def {
    const char *name;
    const char *location;
    pool_table t;
    pick_mode pick;
    /* --execution-segment: this instance's stripe of the sequential and
     * unique pick numbers (seg_plan.c); NULL: the whole test. */
    const struct seg_stripe *seg;
} pool_def;

/* A tls: mapping as the core reads it (defaults.tls, services.NAME.tls),
 * for volley scan; steps get theirs from their plugins. NULL / -1 / 0:
 * not set. */
typedef struct spec_tls {
    const char *ca_file, *client_cert, *client_key, *server_name;
    int insecure;              /* -1, 0 or 1 */
    int min_version;           /* 0, or 10 .. 13 (TLS 1.0 .. 1.3) */
    int max_version;           /* the same */
} spec_tls;

typedef struct service {
    const char *name, *url, *health;
    spec_tls tls;
    const ynode *headers_node;   /* added to requests to this service */
    const ynode *tls_node;       /* tls: of steps to this service, or NULL */
    const ynode *reuse_node;     /* connection_reuse: of its http steps    */
} service;

/* Command-line overrides and inputs of a load. */
typedef struct spec_opts {
    const char *const *env;    /* "KEY=VALUE" from -e, checked before getenv */
    size_t n_env;
    int64_t vus;               /* 0: keep the spec's */
    int64_t duration_ns;       /* 0: keep */
    int64_t iterations;        /* 0: keep */
    const char *const *tags;   /* "NAME=VALUE" from --tag: on every sample */
    size_t n_tags;
    const char *const *stages; /* "30s:10" from --stage: every scenario ramps */
    size_t n_stages;
    const char *const *outs;   /* "NAME[=ARG]" from --out */
    size_t n_outs;
    const char *const *only_scenarios;  /* --scenario */
    size_t n_only;
} spec_opts;

typedef struct spec {
    arena a;
    ytree *tree;
    include_set includes;        /* trees of included files */
    const char *path;
    const char *name;
    size_t n_services;
    service *services;
    spec_tls defaults_tls;
    size_t n_pools;
    pool_def *pools;
    size_t first_custom_metric;  /* `metrics:` ids: [first, first + n) */
    size_t n_custom_metrics;
    size_t n_scenarios;          /* the scenarios to run */
    scenario *scenarios;
    size_t n_all_scenarios;      /* every compiled scenario (owns the ops) */
    scenario *all_scenarios;
    /* setup:/teardown: (indexes into scenarios, -1: none) and the names
     * setup captures (${setup.NAME}, in its capture slot order). */
    int setup_sc, teardown_sc;
    size_t n_setup_names;
    const char **setup_names;
    size_t n_thresholds;
    threshold *thresholds;
    size_t n_outputs;
    output_cfg *outputs;
    size_t n_protos;
    proto_use *protos;
    /* for destroy: what to release through plugins */
    const volley_host *host;
    struct volley_checks *xchecks;      /* plugins' check-item options (check_free_opts) */
    struct volley_captures *xcaptures;  /* plugins' capture options */
    struct flow_cond *flow_regs;        /* if: conditions holding a regex (flow_cond_free) */
    /* Plugins' config_warning texts ("file:line:col: text"), repeated at
     * the end of the summary. */
    size_t n_warnings;
    const char **warnings;
} spec;

/* Loads and compiles `path`. Returns NULL with every error in d. Protocol
 * plugins' create() runs here (they register their metrics in reg). */
spec *spec_load(const char *path, const spec_opts *o, const plug_set *plugins,
                metrics_reg *reg, const volley_host *host, volley_core *core,
                diag *d);
void spec_free(spec *s);
/* Keeps line (arena-owned, "file:line:col: text" or a sentence) for the end
 * of the summary; dropped when out of memory, as a warning can be. */
void spec_add_warning(spec *s, const char *line);

/* The host's config_error (error true) and config_warning, for the spec
 * whose load is under way (L: volley_core.loading, NULL outside a load:
 * then the text goes to stderr without a place). */
struct spec_loader;
void spec_config_message(struct spec_loader *L, const void *field, bool error, const char *fmt,
                         va_list ap) __attribute__((format(printf, 4, 0)));

/* Registers the core's built-in metrics (iterations, checks, vus, ...). */
int spec_register_builtin_metrics(metrics_reg *reg, char *err, size_t errcap);

/* Ids of the built-in metrics, valid after spec_register_builtin_metrics. */
enum {
    BUILTIN_ITERATIONS = 0, BUILTIN_ITERATION_DURATION, BUILTIN_VUS,
    BUILTIN_VUS_MAX, BUILTIN_CHECKS, BUILTIN_GROUP_DURATION,
    BUILTIN_DROPPED_ITERATIONS, BUILTIN_SCHEDULE_LAG, BUILTIN_CAPTURES, BUILTIN__COUNT
};

#endif
