/* A protocol plugin that does nothing at run time: it lets the spec loader
 * tests (tests/unit/test_spec.c) compile steps and checks without the http
 * plugin. Step key "noop". `reject: true` makes step_compile fail; `name`
 * is the step's name tag (step_name). `file` is a VOLLEY_OPT_FILE option;
 * `tls` takes the keys defaults.tls and services' tls pass on:
 * insecure_skip_verify: true makes step_compile call config_warning,
 * min_version: "1.3" config_error at it ("1.2" does that too but returns
 * the step), server_name: config_error with no field (the step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volley/plugin.h"

typedef struct noop_cfg {
    uint64_t set;
    const char *name;
    volley_template_map headers;
    int64_t timeout;
    const volley_json *json;
    bool reject;
    const volley_checks *each;      /* check items on something of its own */
    struct noop_expect {
        uint64_t set;
        const volley_captures *capture;
    } expect;
    const char *file;
    struct noop_tls {
        uint64_t set;
        const char *ca_file;
        bool insecure_skip_verify;
        const char *client_cert, *client_key, *server_name, *min_version;
    } tls;
} noop_cfg;

static const volley_option tls_options[] = {
    {.name = "ca_file", .type = VOLLEY_OPT_STRING, .offset = offsetof(struct noop_tls, ca_file),
     .flags = VOLLEY_OPT_FILE, .help = "a file"},
    {.name = "insecure_skip_verify", .type = VOLLEY_OPT_BOOL,
     .offset = offsetof(struct noop_tls, insecure_skip_verify), .help = "warn"},
    {.name = "client_cert", .type = VOLLEY_OPT_STRING,
     .offset = offsetof(struct noop_tls, client_cert), .help = "text"},
    {.name = "client_key", .type = VOLLEY_OPT_STRING,
     .offset = offsetof(struct noop_tls, client_key), .help = "text"},
    {.name = "server_name", .type = VOLLEY_OPT_STRING,
     .offset = offsetof(struct noop_tls, server_name), .help = "config_error at the step"},
    {.name = "min_version", .type = VOLLEY_OPT_STRING,
     .offset = offsetof(struct noop_tls, min_version), .help = "config_error at it"},
};
static const volley_option_map tls_map = {tls_options, 6, sizeof(struct noop_tls), NULL};

static const volley_option expect_options[] = {
    {.name = "capture", .type = VOLLEY_OPT_CAPTURES,
     .offset = offsetof(struct noop_expect, capture), .help = "captures"},
};
static const volley_option_map expect_map = {expect_options, 1, sizeof(struct noop_expect), NULL};

static const volley_option options[] = {
    {.name = "name", .type = VOLLEY_OPT_STRING, .offset = offsetof(noop_cfg, name),
     .help = "step name"},
    {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP, .offset = offsetof(noop_cfg, headers),
     .help = "headers"},
    {.name = "timeout", .type = VOLLEY_OPT_DURATION, .offset = offsetof(noop_cfg, timeout),
     .default_value = "60s", .help = "timeout"},
    {.name = "json", .type = VOLLEY_OPT_JSON, .offset = offsetof(noop_cfg, json), .help = "body"},
    {.name = "reject", .type = VOLLEY_OPT_BOOL, .offset = offsetof(noop_cfg, reject),
     .default_value = "false", .help = "fail step_compile"},
    {.name = "each", .type = VOLLEY_OPT_CHECKS, .offset = offsetof(noop_cfg, each),
     .help = "check items"},
    {.name = "expect", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(noop_cfg, expect),
     .help = "nested captures", .sub = &expect_map},
    {.name = "file", .type = VOLLEY_OPT_STRING, .offset = offsetof(noop_cfg, file),
     .flags = VOLLEY_OPT_FILE, .help = "a file read at load time"},
    {.name = "tls", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(noop_cfg, tls),
     .help = "as defaults.tls", .sub = &tls_map},
};
static const volley_option_map step_map = {options, sizeof options / sizeof options[0],
                                           sizeof(noop_cfg), "name"};

typedef struct noop_inst {
    const volley_host *host;
    volley_core *core;
    int metric;
    int steps;
} noop_inst;

/* What the tests read back through flow_op.step. */
typedef struct noop_step {
    noop_cfg cfg;
    char scenario[64];
    char group[128];
    char location[128];
} noop_step;

static void *create(const volley_host *host, volley_core *core, char *err, size_t errcap)
{
    noop_inst *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->host = host;
    in->core = core;
    in->metric = host->metric_register(core, "noop_reqs", VOLLEY_METRIC_COUNTER,
                                       VOLLEY_CONTAINS_DEFAULT, err, errcap);
    if (in->metric < 0) {
        free(in);
        return NULL;
    }
    return in;
}

static void destroy(void *inst) { free(inst); }

static void *step_compile(void *inst, const void *config, const volley_step_info *info, char *err,
                          size_t errcap)
{
    const noop_cfg *cfg = config;
    noop_inst *in = inst;
    if (cfg->reject) {
        snprintf(err, errcap, "rejected by test (at %s)", info->location);
        return NULL;
    }
    if (cfg->tls.insecure_skip_verify)
        in->host->config_warning(in->core, &cfg->tls.insecure_skip_verify, "warned by test");
    if (cfg->tls.server_name) {
        in->host->config_error(in->core, NULL, "the step is wrong");
        return NULL;
    }
    const char *v = cfg->tls.min_version;
    if (v) {
        in->host->config_error(in->core, &cfg->tls.min_version, "bad version \"%s\"", v);
        if (strcmp(v, "1.3") == 0)
            return NULL;
    }
    noop_step *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = *cfg;
    snprintf(s->scenario, sizeof s->scenario, "%s", info->scenario);
    snprintf(s->group, sizeof s->group, "%s", info->group);
    snprintf(s->location, sizeof s->location, "%s", info->location);
    ((noop_inst *)inst)->steps++;
    return s;
}

static void step_free(void *inst, void *step)
{
    ((noop_inst *)inst)->steps--;
    free(step);
}

static int step_start(void *wstate, void *step, volley_vu *vu, void *vu_state)
{
    (void)wstate, (void)step, (void)vu, (void)vu_state;
    return -1;
}

/* Its `name` option: a step without one reports no name tag (NULL), which
 * turns the loader's warnings about {name:...} filters off. */
static const char *step_name(void *inst, const void *step)
{
    (void)inst;
    return ((const noop_step *)step)->cfg.name;
}

static const volley_protocol_ops ops = {
    .size = sizeof ops,
    .step_key = "noop",
    .step_options = &step_map,
    .create = create,
    .destroy = destroy,
    .step_compile = step_compile,
    .step_free = step_free,
    .step_start = step_start,
    .step_name = step_name,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_PROTOCOL, .name = "testproto", .version = "0.0.1",
                     .description = "no-op steps for loader tests", .protocol = &ops)
