#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conlog.h"
#include "core.h"
#include "crash.h"
#include "duration.h"
#include "flow_ctl.h"
#include "include.h"
#include "segment.h"
#include "options.h"
#include "secret.h"
#include "suggest.h"
#include "spec_int.h"
#include "stages.h"
#include "template.h"

/* ---- built-in metrics ---- */

static const struct {
    const char *name;
    volley_metric_type type;
    volley_metric_contains contains;
} builtin[BUILTIN__COUNT] = {
    [BUILTIN_ITERATIONS] = {"iterations", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT},
    [BUILTIN_ITERATION_DURATION] = {"iteration_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [BUILTIN_VUS] = {"vus", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT},
    [BUILTIN_VUS_MAX] = {"vus_max", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT},
    [BUILTIN_CHECKS] = {"checks", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT},
    [BUILTIN_GROUP_DURATION] = {"group_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    [BUILTIN_DROPPED_ITERATIONS] = {"dropped_iterations", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT},
    /* how late arrival-rate iterations started: the runner's own lag */
    [BUILTIN_SCHEDULE_LAG] = {"volley_schedule_lag", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME},
    /* a step's capture: 1 taken, 0 nothing matched (k6 has no such metric:
     * its scripts take values in JS; kept out of `checks`, unlike k6's) */
    [BUILTIN_CAPTURES] = {"captures", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT},
};

int spec_register_builtin_metrics(metrics_reg *reg, char *err, size_t errcap)
{
    for (int i = 0; i < BUILTIN__COUNT; i++) {
        int id = metrics_register(reg, builtin[i].name, builtin[i].type, builtin[i].contains, err, errcap);
        if (id != i) {
            if (id >= 0)
                snprintf(err, errcap, "built-in metrics must be registered first");
            return -1;
        }
    }
    return 0;
}

/* ---- template scope ---- */

static const char *scope_env(void *ctx, const char *name)
{
    spec_loader *L = ctx;
    for (size_t i = 0; i < L->sc_n_env; i++)   /* the scenario's env: (k6's too) */
        if (strcmp(L->sc_env[i].key, name) == 0)
            return L->sc_env[i].value;
    size_t n = strlen(name);
    for (size_t i = L->o->n_env; i-- > 0;) {   /* the last -e wins */
        const char *kv = L->o->env[i];
        if (strncmp(kv, name, n) == 0 && kv[n] == '=')
            return kv + n + 1;
    }
    return getenv(name);
}

static const char *scope_service(void *ctx, const char *name)
{
    spec_loader *L = ctx;
    for (size_t i = 0; i < L->s->n_services; i++)
        if (strcmp(L->s->services[i].name, name) == 0)
            return L->s->services[i].url;
    return NULL;
}

/* ---- tls: of defaults and services ---- */

/*
 * The `tls:` mapping that defaults and services pass on to the http and ws
 * steps that inherit it, checked here once where it is written (its files
 * opened at their place): the same keys and types as the step option the
 * two plugins declare (plugins/common/ptls.c), which checks each step's
 * merged mapping again and reads the files.
 */
typedef struct tls_cfg {
    uint64_t set;
    const char *ca_file;
    bool insecure_skip_verify;
    const char *client_cert;
    const char *client_key;
    const volley_template *server_name;
    int min_version;
    bool session_resumption;
    int max_version;
    volley_string_list cipher_suites;
} tls_cfg;

static const char *const tls_versions[] = {"1.0", "1.1", "1.2", "1.3", NULL};

static const volley_option tls_opts[] = {
    {.name = "ca_file", .type = VOLLEY_OPT_STRING, .offset = offsetof(tls_cfg, ca_file),
     .flags = VOLLEY_OPT_FILE, .help = "PEM file of the CAs trusted instead of the system's"},
    {.name = "insecure_skip_verify", .type = VOLLEY_OPT_BOOL,
     .offset = offsetof(tls_cfg, insecure_skip_verify),
     .help = "true: accept any server certificate (never in production)"},
    {.name = "client_cert", .type = VOLLEY_OPT_STRING, .offset = offsetof(tls_cfg, client_cert),
     .flags = VOLLEY_OPT_FILE, .help = "PEM client certificate (chain) for mutual TLS"},
    {.name = "client_key", .type = VOLLEY_OPT_STRING, .offset = offsetof(tls_cfg, client_key),
     .flags = VOLLEY_OPT_FILE, .help = "PEM private key of client_cert (not encrypted)"},
    {.name = "server_name", .type = VOLLEY_OPT_TEMPLATE, .offset = offsetof(tls_cfg, server_name),
     .help = "name sent in SNI and checked in the certificate instead of the url's host"},
    {.name = "min_version", .type = VOLLEY_OPT_ENUM, .offset = offsetof(tls_cfg, min_version),
     .enum_values = tls_versions, .help = "lowest TLS version accepted: 1.0, 1.1, 1.2 or 1.3"},
    {.name = "session_resumption", .type = VOLLEY_OPT_BOOL,
     .offset = offsetof(tls_cfg, session_resumption),
     .help = "false: no session is resumed, every new connection makes a full handshake"},
    {.name = "max_version", .type = VOLLEY_OPT_ENUM, .offset = offsetof(tls_cfg, max_version),
     .enum_values = tls_versions, .help = "highest TLS version offered: 1.0, 1.1, 1.2 or 1.3"},
    {.name = "cipher_suites", .type = VOLLEY_OPT_STRING_LIST,
     .offset = offsetof(tls_cfg, cipher_suites),
     .help = "the cipher suites offered, by k6's names (checked by the http and ws plugins)"},
};
static const volley_option_map tls_map = {tls_opts, VOLLEY_COUNTOF(tls_opts), sizeof(tls_cfg),
                                          NULL};

/* connection_reuse: of defaults and services, passed on to the http steps
 * that inherit it; the values of the http plugin's step option, checked
 * here where they are written. */
static const char *const reuse_modes[] = {"keep", "close", "per_iteration", NULL};
#define REUSE_HELP_TAIL "keep (default), close (a new connection per request, k6's " \
                        "noConnectionReuse) or per_iteration (k6's noVUConnectionReuse)"

/* What volley scan needs of a checked tls: (the keys written). */
static spec_tls tls_read(const tls_cfg *c)
{
    spec_tls t = {.insecure = -1};
    if (VOLLEY_OPT_IS_SET(c, 0))
        t.ca_file = c->ca_file;
    if (VOLLEY_OPT_IS_SET(c, 1))
        t.insecure = c->insecure_skip_verify;
    if (VOLLEY_OPT_IS_SET(c, 2))
        t.client_cert = c->client_cert;
    if (VOLLEY_OPT_IS_SET(c, 3))
        t.client_key = c->client_key;
    if (VOLLEY_OPT_IS_SET(c, 4) && c->server_name)
        t.server_name = tmpl_const(c->server_name);
    if (VOLLEY_OPT_IS_SET(c, 5))
        t.min_version = 10 + c->min_version;
    if (VOLLEY_OPT_IS_SET(c, 7))
        t.max_version = 10 + c->max_version;
    return t;
}

/* ---- services ---- */

typedef struct service_cfg {
    uint64_t set;
    const char *url;
    const char *health;
    volley_template_map headers;
    tls_cfg tls;
    int reuse;
} service_cfg;

static const volley_option service_opts[] = {
    {.name = "url", .type = VOLLEY_OPT_STRING, .offset = offsetof(service_cfg, url),
     .flags = VOLLEY_OPT_REQUIRED, .help = "base URL, e.g. http://localhost:8080"},
    {.name = "health", .type = VOLLEY_OPT_STRING, .offset = offsetof(service_cfg, health),
     .help = "health path, used by volley scan"},
    {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP, .offset = offsetof(service_cfg, headers),
     .help = "headers for requests to this service"},
    {.name = "tls", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(service_cfg, tls),
     .sub = &tls_map, .help = "TLS options of http and ws steps to this service"},
    {.name = "connection_reuse", .type = VOLLEY_OPT_ENUM, .offset = offsetof(service_cfg, reuse),
     .enum_values = reuse_modes,
     .help = "connection reuse of http steps to this service: " REUSE_HELP_TAIL},
};
static const volley_option_map service_map = {service_opts, VOLLEY_COUNTOF(service_opts),
                                              sizeof(service_cfg), "url"};

static void load_services(spec_loader *L, const ynode *n)
{
    if (!spec_want_map(L, n, "services"))
        return;
    spec *s = L->s;
    s->services = arena_alloc(&s->a, (n->n_pairs + 1) * sizeof *s->services);
    /* Two passes: URLs first, so service headers may name other services. */
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *path = spec_subpath(L, "services", k->str);
        const ynode *url = v->kind == YNODE_MAP ? ynode_get(v, "url") : v;
        /* A missing or non-string url is reported by opt_fill below. */
        const char *u = url && url->kind == YNODE_SCALAR && !ynode_is_null(url) ? url->str : NULL;
        if (u) {
            /* URLs may come from the environment: ${env.TARGET:-http://...} */
            tmpl_scope env_only = {.env = scope_env, .ctx = L};
            char err[512];
            volley_template *t = tmpl_compile(&L->s->a, u, strlen(u), &env_only, err, sizeof err);
            if (!t || !tmpl_const(t)) {
                ynode_error(L->d, url, "%s.url: %s", path,
                            t ? "only ${env.NAME} templates are allowed here" : err);
                u = NULL;
            } else {
                u = tmpl_const(t);
            }
        }
        if (u && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0 &&
            strncmp(u, "ws://", 5) != 0 && strncmp(u, "wss://", 6) != 0)
            ynode_error(L->d, url, "%s.url: expected an http://, https://, ws:// or wss:// URL, "
                        "got \"%s\"", path, u);

        size_t len = u ? strlen(u) : 0;
        while (len && u[len - 1] == '/')   /* "${services.x}/path" must not double the slash */
            len--;
        s->services[s->n_services++] = (service){.name = k->str,
                                                 .url = u ? arena_strndup(&s->a, u, len) : "",
                                                 .tls = {.insecure = -1}};
    }
    for (size_t i = 0; i < n->n_pairs; i++) {
        service_cfg cfg;
        const char *path = spec_subpath(L, "services", n->pairs[i].key->str);
        const ynode *v = n->pairs[i].value;
        L->outside_flow = true;
        int frc = opt_fill(&L->oc, &service_map, v, &cfg, path);
        L->outside_flow = false;
        if (frc == 0) {
            s->services[i].health = cfg.health;
            s->services[i].headers_node = v->kind == YNODE_MAP ? ynode_get(v, "headers") : NULL;
            s->services[i].tls_node = v->kind == YNODE_MAP ? ynode_get(v, "tls") : NULL;
            s->services[i].reuse_node =
                v->kind == YNODE_MAP ? ynode_get(v, "connection_reuse") : NULL;
            s->services[i].tls = tls_read(&cfg.tls);
        }
    }
}

/* ---- defaults ---- */

typedef struct defaults_cfg {
    uint64_t set;
    volley_template_map headers;
    int64_t timeout;
    tls_cfg tls;
    int reuse;
    int cookie_jar;
} defaults_cfg;

/* cookie_jar: of defaults, passed on to the http steps (their option). */
static const char *const jar_lifetimes[] = {"per_iteration", "per_vu", NULL};

static const volley_option defaults_opts[] = {
    {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP, .offset = offsetof(defaults_cfg, headers),
     .help = "headers added to every http step (a step's own headers win)"},
    {.name = "timeout", .type = VOLLEY_OPT_DURATION, .offset = offsetof(defaults_cfg, timeout),
     .min = 0.000001, .max = 86400, .help = "request timeout of every http step"},
    {.name = "tls", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(defaults_cfg, tls),
     .sub = &tls_map, .help = "TLS options of every http and ws step"},
    {.name = "connection_reuse", .type = VOLLEY_OPT_ENUM, .offset = offsetof(defaults_cfg, reuse),
     .enum_values = reuse_modes, .help = "connection reuse of every http step: " REUSE_HELP_TAIL},
    {.name = "cookie_jar", .type = VOLLEY_OPT_ENUM, .offset = offsetof(defaults_cfg, cookie_jar),
     .enum_values = jar_lifetimes,
     .help = "the VUs' cookie jars: per_iteration (default: emptied when an iteration starts, "
             "as k6) or per_vu (kept across a VU's iterations)"},
};
static const volley_option_map defaults_map = {defaults_opts, VOLLEY_COUNTOF(defaults_opts),
                                               sizeof(defaults_cfg), NULL};

/* The step node with a layer of defaults (a service's headers, the spec's
 * defaults) added where the step has none; a `headers` mapping is merged
 * key by key (the step's win). Synthesized nodes live in the spec arena. */
/* A header value from defaults or a service that names a capture this
 * iteration has not made yet at this step (e.g. Authorization: Bearer
 * ${token} before the login step), or a ${setup.NAME} in the setup flow
 * that makes it: such a header is left out of the step. */
static bool waits_for_capture(spec_loader *L, const ynode *v)
{
    if (v->kind != YNODE_SCALAR)
        return false;
    for (const char *p = strstr(v->str, "${"); p; p = strstr(p + 2, "${")) {
        const char *b = p + 2, *e = strchr(b, '}');
        if (!e)
            return false;
        while (b < e && *b == ' ')
            b++;
        size_t n = (size_t)(e - b);
        while (n && b[n - 1] == ' ')
            n--;
        if (L->sc_role == SC_ROLE_SETUP && n > 6 && memcmp(b, "setup.", 6) == 0)
            return true;
        for (size_t i = 0; i < L->n_caps; i++)
            if (!L->cap_seen[i] && strlen(L->cap_names[i]) == n && memcmp(L->cap_names[i], b, n) == 0)
                return true;
    }
    return false;
}

/* The layer's headers without the ones that wait for a capture. */
static const ynode *layer_headers(spec_loader *L, const ynode *h)
{
    if (h->kind != YNODE_MAP || (L->n_caps == 0 && L->sc_role != SC_ROLE_SETUP))
        return h;
    ynode *out = arena_alloc(&L->s->a, sizeof *out);
    *out = *h;
    out->pairs = arena_alloc(&L->s->a, (h->n_pairs + 1) * sizeof *out->pairs);
    out->n_pairs = 0;
    for (size_t i = 0; i < h->n_pairs; i++)
        if (!waits_for_capture(L, h->pairs[i].value))
            out->pairs[out->n_pairs++] = h->pairs[i];
    return out;
}

static const ynode *merge_layer(spec_loader *L, const ynode *step, const volley_option_map *map,
                                const ynode *def)
{
    if (!def)
        return step;
    if (step->kind != YNODE_MAP) {
        /* A shorthand step ("ws: ws://x") is { shorthand: value }, as
         * opt_fill reads it; the defaults apply to it as well. */
        if (!map->shorthand)
            return step;
        ynode *key = arena_alloc(&L->s->a, sizeof *key);
        ypair *pair = arena_alloc(&L->s->a, sizeof *pair);
        ynode *wrapped = arena_alloc(&L->s->a, sizeof *wrapped);
        *key = (ynode){.kind = YNODE_SCALAR, .file = step->file, .line = step->line,
                       .col = step->col, .str = (char *)map->shorthand,
                       .len = strlen(map->shorthand), .plain = true};
        *pair = (ypair){.key = key, .value = (ynode *)step};
        *wrapped = (ynode){.kind = YNODE_MAP, .file = step->file, .line = step->line,
                           .col = step->col, .n_pairs = 1, .pairs = pair};
        step = wrapped;
    }
    ypair *pairs = arena_alloc(&L->s->a, (step->n_pairs + def->n_pairs) * sizeof *pairs);
    size_t n = 0;
    for (size_t i = 0; i < step->n_pairs; i++)
        pairs[n++] = step->pairs[i];
    for (size_t i = 0; i < def->n_pairs; i++) {
        const ypair *dp = &def->pairs[i];
        bool known = false;
        for (size_t j = 0; j < map->count; j++)
            known |= strcmp(map->options[j].name, dp->key->str) == 0;
        if (!known)
            continue;
        const ynode *own = ynode_get(step, dp->key->str);
        ypair layer = *dp;
        if (strcmp(dp->key->str, "headers") == 0)
            layer.value = (ynode *)layer_headers(L, dp->value);
        dp = &layer;
        if (!own) {
            pairs[n++] = *dp;
        } else if (own->kind == YNODE_MAP && dp->value->kind == YNODE_MAP) {
            ynode *merged = arena_alloc(&L->s->a, sizeof *merged);
            *merged = *own;
            merged->pairs = arena_alloc(&L->s->a, (own->n_pairs + dp->value->n_pairs) * sizeof *merged->pairs);
            merged->n_pairs = 0;
            for (size_t j = 0; j < own->n_pairs; j++)
                merged->pairs[merged->n_pairs++] = own->pairs[j];
            for (size_t j = 0; j < dp->value->n_pairs; j++) {
                const char *hk = dp->value->pairs[j].key->str;
                bool overridden = false;
                for (size_t m = 0; m < own->n_pairs; m++)
                    overridden |= strcasecmp(own->pairs[m].key->str, hk) == 0;
                if (!overridden)
                    merged->pairs[merged->n_pairs++] = dp->value->pairs[j];
            }
            for (size_t j = 0; j < n; j++)
                if (pairs[j].value == own)
                    pairs[j].value = merged;
        }
    }
    ynode *out = arena_alloc(&L->s->a, sizeof *out);
    *out = *step;
    out->pairs = pairs;
    out->n_pairs = n;
    return out;
}

/* { headers, tls, connection_reuse } of the service a step's url starts
 * with, or NULL: a request to ${services.api} carries services.api.headers,
 * .tls and .connection_reuse (the step's own and then the service's win
 * over the spec's defaults, key by key). */
static const ynode *service_layer(spec_loader *L, const ynode *step)
{
    const ynode *url = step->kind == YNODE_MAP ? ynode_get(step, "url") : step;
    if (!url || url->kind != YNODE_SCALAR || strncmp(url->str, "${", 2) != 0)
        return NULL;
    const char *name = url->str + 2 + strspn(url->str + 2, " ");   /* "${ services.x }" too */
    if (strncmp(name, "services.", 9) != 0)
        return NULL;
    name += 9;
    size_t len = strcspn(name, "} ");
    for (size_t i = 0; i < L->s->n_services; i++) {
        const service *sv = &L->s->services[i];
        if (strlen(sv->name) != len || strncmp(sv->name, name, len) != 0 ||
            (!sv->headers_node && !sv->tls_node && !sv->reuse_node))
            continue;
        static const char *const keys[] = {"headers", "tls", "connection_reuse"};
        const ynode *values[] = {sv->headers_node, sv->tls_node, sv->reuse_node};
        ypair *pairs = arena_alloc(&L->s->a, VOLLEY_COUNTOF(keys) * sizeof *pairs);
        ynode *layer = arena_alloc(&L->s->a, sizeof *layer);
        *layer = (ynode){.kind = YNODE_MAP, .pairs = pairs, .file = url->file,
                         .line = url->line, .col = url->col};
        for (size_t k = 0; k < VOLLEY_COUNTOF(keys); k++) {
            if (!values[k])
                continue;
            ynode *key = arena_alloc(&L->s->a, sizeof *key);
            *key = (ynode){.kind = YNODE_SCALAR, .str = (char *)keys[k], .len = strlen(keys[k]),
                           .plain = true, .file = url->file, .line = url->line, .col = url->col};
            pairs[layer->n_pairs++] = (ypair){.key = key, .value = (ynode *)values[k]};
        }
        return layer;
    }
    return NULL;
}

/* ---- where a step's options came from (host config_error/_warning) ---- */

struct spec_seen {
    const void *field;
    const ynode *n;
    const char *path;
};

struct spec_said {
    const ynode *n;
    const char *text;
};

/* opt_ctx.seen: while a protocol step is filled, each option value. */
static void note_seen(void *ctx, const void *field, const ynode *n, const char *path)
{
    spec_loader *L = ctx;
    if (!L->tracking)
        return;
    if (L->n_opt_seen == L->max_opt_seen) {
        size_t cap = L->max_opt_seen ? L->max_opt_seen * 2 : 32;
        struct spec_seen *p = realloc(L->opt_seen, cap * sizeof *p);
        if (!p)
            return;
        L->opt_seen = p;
        L->max_opt_seen = cap;
    }
    L->opt_seen[L->n_opt_seen++] = (struct spec_seen){field, n, path};
}

/* Once per place and text, however many steps share the value. */
static bool say_once(spec_loader *L, const ynode *n, const char *text)
{
    for (size_t i = 0; i < L->n_said; i++)
        if (L->said[i].n == n && strcmp(L->said[i].text, text) == 0)
            return false;
    if (L->n_said == L->cap_said) {
        size_t cap = L->cap_said ? L->cap_said * 2 : 8;
        struct spec_said *p = realloc(L->said, cap * sizeof *p);
        if (!p)
            return true;
        L->said = p;
        L->cap_said = cap;
    }
    const char *copy = arena_strdup(&L->s->a, text);
    if (copy)
        L->said[L->n_said++] = (struct spec_said){n, copy};
    return true;
}

void spec_config_message(spec_loader *L, const void *field, bool error, const char *fmt,
                         va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    if (!L || !L->tracking) {
        secret_fprintf(stderr, "volley: %s: %s\n", error ? "error" : "warning", text);
        return;
    }
    const ynode *n = L->cur_value;
    const char *path = L->cur_path;
    for (size_t i = L->n_opt_seen; field && i-- > 0;) {
        if (L->opt_seen[i].field == field) {
            n = L->opt_seen[i].n;
            path = L->opt_seen[i].path;
            break;
        }
    }
    if (error)
        L->cfg_error = true;
    if (!say_once(L, n, text))
        return;
    if (error) {
        ynode_error(L->d, n, "%s: %s", path, text);
        return;
    }
    const char *line = arena_printf(&L->s->a, "%s: %s", spec_loc(L, n), text);
    if (line)   /* kept for the summary: with secrets hidden */
        line = secret_redact_keep(&L->s->a, line);
    secret_fprintf(stderr, "volley: warning: %s\n", line ? line : text);
    spec_add_warning(L->s, line);
}

void spec_add_warning(spec *s, const char *line)
{
    const char **w = line ? arena_alloc(&s->a, (s->n_warnings + 1) * sizeof *w) : NULL;
    if (!w)
        return;
    if (s->n_warnings)
        memcpy(w, s->warnings, s->n_warnings * sizeof *w);
    w[s->n_warnings++] = line;
    s->warnings = w;
}

/* ---- checks (compiled by check.c) ---- */

/* opt_ctx.compile_checks: a plugin's VOLLEY_OPT_CHECKS option, in the
 * group of the step being compiled. */
static volley_checks *compile_opt_checks(void *ctx, const ynode *n, const char *path,
                                         bool match_only)
{
    spec_loader *L = ctx;
    volley_checks *c = check_compile_opt(&L->checks, n, path, L->cur_group ? L->cur_group : "",
                                         match_only, &L->s->xchecks);
    if (c)
        c->proto_rev = L->cur_proto_rev;
    return c;
}

/* ---- flow ---- */

static flow_op *push_op(spec_loader *L, op_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        flow_op *p = arena_alloc(&L->s->a, cap * sizeof *p);
        if (l->n)
            memcpy(p, l->ops, l->n * sizeof *p);
        l->ops = p;
        l->cap = cap;
    }
    flow_op *op = &l->ops[l->n++];
    memset(op, 0, sizeof *op);
    return op;
}

static size_t proto_index(spec_loader *L, const plug *p, const ynode *at)
{
    spec *s = L->s;
    for (size_t i = 0; i < s->n_protos; i++)
        if (s->protos[i].plugin == p)
            return i;
    char err[512] = "";
    void *inst;
    CRASH_CALL(p->desc->name, "protocol create", inst = p->desc->protocol->create(L->host, L->core, err, sizeof err));
    if (!inst) {
        ynode_error(L->d, at, "plugin %s: %s", p->desc->name, *err ? err : "failed to start");
        return (size_t)-1;
    }
    proto_use *np = arena_alloc(&s->a, (s->n_protos + 1) * sizeof *np);
    if (s->n_protos)
        memcpy(np, s->protos, s->n_protos * sizeof *np);
    np[s->n_protos] = (proto_use){.plugin = p, .inst = inst};
    s->protos = np;
    return s->n_protos++;
}

static bool compile_flow(spec_loader *L, const ynode *n, const char *path, const char *scname,
                         const char *group, op_list *out, int depth);

static const char *const step_extra_keys[] = {"check", "capture", "record", "on_check_fail", "tags"};

static bool compile_protocol_step(spec_loader *L, const ynode *step, const ynode *key,
                                  const plug *p, const char *path, const char *scname,
                                  const char *group, op_list *out)
{
    const volley_protocol_ops *ops = p->desc->protocol;
    const ynode *value = ynode_get(step, key->str);
    const char *kpath = spec_subpath(L, path, key->str);
    size_t pi = proto_index(L, p, key);
    if (pi == (size_t)-1)
        return false;
    L->cur_step = step;
    L->cur_group = group;
    L->cur_proto_rev = p->desc->revision;
    const volley_captures *caps_before = L->s->xcaptures;
    const ynode *merged = merge_layer(L, value, ops->step_options, service_layer(L, value));
    merged = merge_layer(L, merged, ops->step_options, L->defaults);
    void *cfg = arena_alloc(&L->s->a, ops->step_options->config_size);
    /* A step's plain strings stay as written (a `name` holding ${...} is
     * the tag text that groups its urls, as in k6); its templated options
     * are TEMPLATE. Check items inside it fold (see fold_strings). */
    bool was = L->oc.fold_strings;
    L->oc.fold_strings = false;
    L->n_opt_seen = 0;
    L->tracking = true;
    int filled = opt_fill(&L->oc, ops->step_options, merged, cfg, kpath);
    L->tracking = false;
    L->oc.fold_strings = was;
    /* Names the step captures in its options are visible from the next
     * step on, like its own capture:. */
    for (const volley_captures *c = L->s->xcaptures; c && c != caps_before; c = c->next)
        for (size_t i = 0; i < c->n; i++)
            if (c->defs[i].slot >= 0)
                L->cap_seen[c->defs[i].slot] = true;
    /* Checks, captures and records before the plugin's step_compile: it
     * learns what of a response they read (info.reads) and may drop the
     * rest. Their errors are reported even when the request has some. */
    flow_op tmp = {.kind = OP_STEP, .group = group, .proto = pi};
    const ynode *checks = ynode_get(step, "check");
    bool ok = true;
    if (checks)
        ok = check_compile_list(&L->checks, checks, spec_subpath(L, path, "check"), group, false,
                                &tmp.checks, &tmp.n_checks);
    ok &= spec_compile_step_data(L, step, path, &tmp);
    if (filled != 0) {
        spec_free_step_data(&tmp);
        return false;
    }
    volley_step_info info = {.scenario = scname, .group = group, .location = spec_loc(L, value),
                             .reads = spec_step_reads(&tmp)};
    char err[512] = "";
    void *compiled;
    L->tracking = true;   /* config_error / config_warning find their places */
    L->cur_value = value;
    L->cur_path = kpath;
    L->cfg_error = false;
    CRASH_CALL(L->s->protos[pi].plugin->desc->name, "protocol step_compile",
               compiled = ops->step_compile(L->s->protos[pi].inst, cfg, &info, err, sizeof err));
    L->tracking = false;
    if (compiled && L->cfg_error) {
        /* reported, but not rejected by the plugin: rejected here */
        if (ops->step_free)
            CRASH_CALL(L->s->protos[pi].plugin->desc->name, "protocol step_free",
                       ops->step_free(L->s->protos[pi].inst, compiled));
        compiled = NULL;
    } else if (!compiled && !L->cfg_error) {
        ynode_error(L->d, value, "%s: %s", kpath, *err ? err : "invalid step");
    }
    if (!compiled) {
        spec_free_step_data(&tmp);
        return false;
    }
    tmp.location = info.location;
    tmp.step = compiled;
    *push_op(L, out) = tmp;
    return ok;
}

static bool compile_sleep(spec_loader *L, const ynode *step, const char *path, const char *group,
                          op_list *out)
{
    const ynode *v = ynode_get(step, "sleep");
    if (step->n_pairs != 1) {
        ynode_error(L->d, step, "%s: a sleep step takes no other keys", path);
        return false;
    }
    char err[512];
    int64_t ns = 0;
    const volley_template *t = NULL;
    if (v->kind == YNODE_SCALAR && strstr(v->str, "${")) {
        /* sleep: ${random.float(1, 4)}s -- read as a duration each time */
        t = tmpl_compile(&L->s->a, v->str, v->len, &L->scope, err, sizeof err);
        if (!t) {
            ynode_error(L->d, v, "%s.sleep: %s", path, err);
            return false;
        }
        if (tmpl_const(t) && duration_parse(tmpl_const(t), &ns, err, sizeof err) != 0) {
            ynode_error(L->d, v, "%s.sleep: expected %s, got \"%s\"", path, DURATION_EXPECTED,
                        tmpl_const(t));
            return false;
        }
        if (tmpl_const(t))
            t = NULL;
    } else if (v->kind != YNODE_SCALAR || ynode_is_null(v) || duration_parse(v->str, &ns, err, sizeof err) != 0) {
        ynode_error(L->d, v, "%s.sleep: expected %s, got %s%s%s", path, DURATION_EXPECTED,
                    v->kind == YNODE_SCALAR ? "\"" : ynode_kind_name(v), v->kind == YNODE_SCALAR ? v->str : "",
                    v->kind == YNODE_SCALAR ? "\"" : "");
        return false;
    }
    flow_op *op = push_op(L, out);
    op->kind = OP_SLEEP;
    op->group = group;
    op->sleep_ns = ns;
    op->sleep_tmpl = t;
    op->location = spec_loc(L, v);
    return true;
}

/*
 * `- abort: REASON`: k6's exec.test.abort(REASON). The VU that gets there
 * stops the whole test as on_check_fail: abort_test does (exit 108); the
 * reason is a template, rendered then.
 */
static bool compile_abort(spec_loader *L, const ynode *step, const char *path, const char *group,
                          op_list *out)
{
    const ynode *v = ynode_get(step, "abort");
    if (step->n_pairs != 1) {
        ynode_error(L->d, step, "%s: an abort step takes no other keys", path);
        return false;
    }
    if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
        ynode_error(L->d, v, "%s.abort: expected the reason (a string), got %s", path,
                    v->kind == YNODE_SCALAR ? "null" : ynode_kind_name(v));
        return false;
    }
    char err[512];
    const volley_template *t = tmpl_compile(&L->s->a, v->str, v->len, &L->scope, err, sizeof err);
    if (!t) {
        ynode_error(L->d, v, "%s.abort: %s", path, err);
        return false;
    }
    flow_op *op = push_op(L, out);
    op->kind = OP_ABORT;
    op->group = group;
    op->abort_reason = t;
    op->location = spec_loc(L, step);
    return true;
}

/* `- log: TEXT` with an optional `level:`. */
typedef struct log_cfg {
    uint64_t set;
    const volley_template *text;
    int level;
} log_cfg;

static const volley_option log_opts[] = {
    {.name = "log", .type = VOLLEY_OPT_TEMPLATE, .offset = offsetof(log_cfg, text),
     .flags = VOLLEY_OPT_REQUIRED, .help = "the text written to stderr (may hold ${...})"},
    {.name = "level", .type = VOLLEY_OPT_ENUM, .offset = offsetof(log_cfg, level),
     .enum_values = conlog_level_names, .default_value = "info",
     .help = "info, warn, error or debug (shown only with -v), as console.log/warn/error/debug"},
};
static const volley_option_map log_map = {log_opts, VOLLEY_COUNTOF(log_opts), sizeof(log_cfg), NULL};

/*
 * `- log: TEXT`: k6's console.log(TEXT) (console.warn, .error, .debug with
 * `level:`). The text is a template, rendered by the VU that gets there and
 * written to stderr as one line (conlog.h) with its secrets hidden.
 */
static bool compile_log(spec_loader *L, const ynode *step, const char *path, const char *group,
                        op_list *out)
{
    log_cfg cfg;
    if (opt_fill(&L->oc, &log_map, step, &cfg, path) != 0)
        return false;
    flow_op *op = push_op(L, out);
    op->kind = OP_LOG;
    op->group = group;
    op->log_text = cfg.text;
    op->log_level = cfg.level;
    op->location = spec_loc(L, step);
    return true;
}

/* A check step's conditions must not read a response: there is none. */
static bool check_step_conds(spec_loader *L, const ynode *checks, const char *path,
                             const flow_op *op)
{
    bool ok = true;
    for (size_t i = 0; i < op->n_checks; i++) {
        const ynode *item = checks->kind == YNODE_SEQ ? checks->items[i] : checks;
        for (size_t c = 0; c < op->checks[i].n_conds; c++) {
            const check_cond *cc = &op->checks[i].conds[c];
            if (cc->reads & VOLLEY_READS_NO_RESPONSE)
                continue;
            const ynode *at = ynode_get(item, cc->key->key);
            ynode_error(L->d, at ? at : item, "%s.check[%zu].%s: a check step makes no request, so "
                        "its checks are on values (value: { of: ... }); \"%s\" reads a response",
                        path, i, cc->key->key, cc->key->key);
            ok = false;
        }
    }
    return ok;
}

/*
 * `- check: [...]` with no http or ws: k6's check(value, {...}) on a value
 * that is not a response (check(Math.random(), ...), check(null, {"always
 * passes": true})). Its items record `checks` as any step's; record,
 * tags and on_check_fail work as on a request step; nothing to capture.
 */
static bool compile_check_step(spec_loader *L, const ynode *step, const char *path,
                               const char *group, op_list *out)
{
    bool ok = true;
    const ynode *cap = ynode_get(step, "capture");
    if (cap) {
        ynode_error(L->d, cap, "%s.capture: a check step makes no request: there is nothing to "
                    "capture", path);
        ok = false;
    }
    const ynode *checks = ynode_get(step, "check");
    L->cur_step = step;
    L->cur_group = group;
    flow_op tmp = {.kind = OP_CHECK, .group = group, .location = spec_loc(L, checks)};
    ok &= check_compile_list(&L->checks, checks, spec_subpath(L, path, "check"), group, false,
                             &tmp.checks, &tmp.n_checks);
    ok = ok && check_step_conds(L, checks, path, &tmp);
    if (!cap)
        ok &= spec_compile_step_data(L, step, path, &tmp);
    for (size_t i = 0; i < tmp.n_records; i++)
        if (tmp.records[i].source == REC_DURATION || tmp.records[i].source == REC_STATUS) {
            ynode_error(L->d, ynode_get(step, "record"), "%s.record: a check step makes no request: "
                        "it has no duration or status to record", path);
            ok = false;
            break;
        }
    if (!ok) {
        spec_free_step_data(&tmp);
        return false;
    }
    *push_op(L, out) = tmp;
    return true;
}

static bool compile_group(spec_loader *L, const ynode *step, const char *path, const char *scname,
                          const char *group, op_list *out, int depth)
{
    static const char *const keys[] = {"group", "steps"};
    bool ok = spec_check_keys(L, step, path, keys, 2);
    const char *name = spec_want_string(L, ynode_get(step, "group"), spec_subpath(L, path, "group"));
    const ynode *steps = ynode_get(step, "steps");
    if (!steps) {
        ynode_error(L->d, step, "%s: missing required key \"steps\" (the group's flow)", path);
        return false;
    }
    if (!name || !ok)
        return false;
    if (strstr(name, "::")) {
        ynode_error(L->d, ynode_get(step, "group"), "%s.group: a group name must not contain \"::\"",
                    path);
        return false;
    }
    const char *gpath = arena_printf(&L->s->a, "%s::%s", group, name);
    flow_op *enter = push_op(L, out);
    enter->kind = OP_GROUP_ENTER;
    enter->group = gpath;
    enter->location = spec_loc(L, step);
    ok = compile_flow(L, steps, spec_subpath(L, path, "steps"), scname, gpath, out, depth + 1);
    flow_op *exit_op = push_op(L, out);
    exit_op->kind = OP_GROUP_EXIT;
    exit_op->group = gpath;
    exit_op->location = enter->location;
    exit_op->group_tags = (volley_tags)VOLLEY_TAGS_INIT;
    return ok;
}

/*
 * `- once: [ steps ]`: steps a VU runs in its first iteration, and again in
 * each later one until they have run to their end once (a login that
 * failed is tried again). What they capture is kept across the VU's
 * iterations.
 */
static bool compile_once(spec_loader *L, const ynode *step, const char *path, const char *scname,
                         const char *group, op_list *out, int depth)
{
    static const char *const keys[] = {"once"};
    bool ok = spec_check_keys(L, step, path, keys, 1);
    const ynode *steps = ynode_get(step, "once");
    const char *opath = spec_subpath(L, path, "once");
    if (steps->kind != YNODE_SEQ || steps->n_items == 0) {
        ynode_error(L->d, steps, "%s: expected a non-empty list of steps (run until they complete "
                    "once per VU)", opath);
        return false;
    }
    if (L->sc_n_once >= SPEC_MAX_ONCE) {
        ynode_error(L->d, step, "%s: at most %d once: blocks in a scenario", path, SPEC_MAX_ONCE);
        return false;
    }
    uint32_t n = L->sc_n_once++;
    size_t at = out->n;
    flow_op *enter = push_op(L, out);
    enter->kind = OP_ONCE_ENTER;
    enter->group = group;
    enter->once = n;
    enter->location = spec_loc(L, step);
    ok &= compile_flow(L, steps, opath, scname, group, out, depth + 1);
    flow_op *exit_op = push_op(L, out);
    exit_op->kind = OP_ONCE_EXIT;
    exit_op->group = group;
    exit_op->once = n;
    exit_op->location = spec_loc(L, step);
    out->ops[at].once_skip = (uint32_t)out->n;
    /* What the block captures is the VU's for good. */
    for (size_t i = at; i < out->n; i++)
        for (size_t c = 0; c < out->ops[i].n_captures; c++)
            if (L->cap_keep && out->ops[i].captures[c].slot >= 0)
                L->cap_keep[out->ops[i].captures[c].slot] = true;
    return ok;
}

/* if, choose, repeat, for_each: flow_ctl.c adds their ops through these. */
typedef struct ctl_emit {
    spec_loader *L;
    const char *scname, *group;
    op_list *out;
} ctl_emit;

static uint32_t ctl_push(void *ctx, const flow_ctl *ctl)
{
    ctl_emit *ce = ctx;
    flow_op *op = push_op(ce->L, ce->out);
    op->kind = OP_CTL;
    op->group = ce->group;
    op->location = ctl->location;
    op->ctl = ctl;
    return (uint32_t)(ce->out->n - 1);
}

static uint32_t ctl_count(void *ctx) { return (uint32_t)((ctl_emit *)ctx)->out->n; }

static bool ctl_steps(void *ctx, const ynode *steps, const char *path, int depth)
{
    ctl_emit *ce = ctx;
    return compile_flow(ce->L, steps, path, ce->scname, ce->group, ce->out, depth);
}

static bool compile_step(spec_loader *L, const ynode *step, const char *path, const char *scname,
                         const char *group, op_list *out, int depth)
{
    if (!spec_want_map(L, step, path))
        return false;
    if (flow_ctl_is_step(step)) {
        ctl_emit ce = {L, scname, group, out};
        const flow_emit em = {&ce, ctl_push, ctl_count, ctl_steps};
        return flow_ctl_compile(L, step, path, depth, &em);
    }
    if (ynode_get(step, "batch"))
        return spec_compile_batch(L, step, path, scname, group, out, depth);
    if (ynode_get(step, "group"))
        return compile_group(L, step, path, scname, group, out, depth);
    if (ynode_get(step, "once"))
        return compile_once(L, step, path, scname, group, out, depth);
    if (ynode_get(step, "sleep"))
        return compile_sleep(L, step, path, group, out);
    if (ynode_get(step, "abort"))
        return compile_abort(L, step, path, group, out);
    if (ynode_get(step, "log"))
        return compile_log(L, step, path, group, out);
    /* Exactly one key must name a protocol; the rest are step keys. */
    const ynode *proto_key = NULL;
    const plug *proto = NULL;
    bool ok = true;
    for (size_t i = 0; i < step->n_pairs; i++) {
        const ynode *k = step->pairs[i].key;
        const plug *p = plug_find_protocol(L->plugins, k->str);
        if (p) {
            if (proto_key) {
                ynode_error(L->d, k, "%s: a step has one action; \"%s\" and \"%s\" are both here",
                            path, proto_key->str, k->str);
                ok = false;
            }
            proto_key = k;
            proto = p;
            continue;
        }
        bool extra = false;
        for (size_t j = 0; j < VOLLEY_COUNTOF(step_extra_keys); j++)
            extra |= strcmp(step_extra_keys[j], k->str) == 0;
        if (extra)
            continue;
        const char *names[64];
        size_t nn = 0;
        names[nn++] = "group";
        names[nn++] = "sleep";
        names[nn++] = "once";
        names[nn++] = "if";
        names[nn++] = "choose";
        names[nn++] = "repeat";
        names[nn++] = "for_each";
        names[nn++] = "batch";
        names[nn++] = "abort";
        names[nn++] = "log";
        names[nn++] = "check";
        names[nn++] = "capture";
        names[nn++] = "record";
        names[nn++] = "on_check_fail";
        names[nn++] = "tags";
        for (size_t j = 0; j < L->plugins->n && nn < 64; j++)
            if (L->plugins->items[j].desc->kind == VOLLEY_KIND_PROTOCOL)
                names[nn++] = L->plugins->items[j].desc->protocol->step_key;
        char list[256];
        suggest_join(names, nn, list, sizeof list);
        char hint[128];
        suggest_hint(k->str, names, nn, hint, sizeof hint);
        char why[1024] = "";
        if (plug_describe_missing(L->plugins, VOLLEY_KIND_PROTOCOL, why, sizeof why) && !*hint)
            L->d->engine = true;
        ynode_error(L->d, k, "%s: unknown step key \"%s\"%s; valid keys: %s%s", path, k->str,
                    hint, list, why);
        ok = false;
    }
    if (!proto_key) {
        if (ok && ynode_get(step, "check"))
            return compile_check_step(L, step, path, group, out);
        if (ok)
            ynode_error(L->d, step, "%s: a step needs an action: http, group, sleep, once, batch, "
                        "if, choose, repeat, for_each, abort, log, check (or another protocol plugin's key)",
                        path);
        return false;
    }
    return compile_protocol_step(L, step, proto_key, proto, path, scname, group, out) && ok;
}

flow_op *spec_push_op(spec_loader *L, op_list *l) { return push_op(L, l); }

bool spec_compile_step(spec_loader *L, const ynode *step, const char *path, const char *scname,
                       const char *group, op_list *out, int depth)
{
    return compile_step(L, step, path, scname, group, out, depth);
}

static bool compile_flow(spec_loader *L, const ynode *n, const char *path, const char *scname,
                         const char *group, op_list *out, int depth)
{
    if (n->kind != YNODE_SEQ) {
        ynode_error(L->d, n, "%s: expected a list of steps, got %s", path, ynode_kind_name(n));
        return false;
    }
    if (n->n_items == 0) {
        ynode_error(L->d, n, "%s: expected at least one step", path);
        return false;
    }
    if (depth > 16) {
        ynode_error(L->d, n, "%s: steps nested deeper than 16 (groups, once, if, choose, loops)", path);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n->n_items; i++) {
        const char *ipath = arena_printf(&L->s->a, "%s[%zu]", path, i);
        ok &= compile_step(L, n->items[i], ipath, scname, group, out, depth);
    }
    return ok;
}

/* ---- scenarios ---- */

static const char *const executor_names[] = {
    "constant-vus", "ramping-vus", "constant-arrival-rate", "ramping-arrival-rate",
    "per-vu-iterations", "shared-iterations", NULL};

const char *executor_name(executor_kind k)
{
    return k <= EXEC_SHARED_ITERATIONS ? executor_names[k] : "?";
}

int64_t scenario_length_ns(const scenario *sc)
{
    switch (sc->executor) {
    case EXEC_CONSTANT_VUS:
    case EXEC_CONSTANT_ARRIVAL_RATE: return sc->duration_ns;
    case EXEC_RAMPING_VUS:
    case EXEC_RAMPING_ARRIVAL_RATE: return sched_total_ns(&sc->profile);
    case EXEC_PER_VU_ITERATIONS:
    case EXEC_SHARED_ITERATIONS: return sc->max_duration_ns;
    }
    return 0;
}

int64_t scenario_max_vus(const scenario *sc)
{
    if (sc->executor == EXEC_RAMPING_VUS)   /* a segment's share of the peak */
        return seg_scale(sc->seg, (int64_t)sched_max_value(&sc->profile));
    if (executor_is_arrival(sc->executor))
        return sc->max_vus > sc->pre_allocated_vus ? sc->max_vus : sc->pre_allocated_vus;
    return sc->vus;
}

typedef struct stage_cfg {
    uint64_t set;
    int64_t duration;
    int64_t target;
} stage_cfg;

static const volley_option stage_opts[] = {
    {.name = "duration", .type = VOLLEY_OPT_DURATION, .offset = offsetof(stage_cfg, duration),
     .flags = VOLLEY_OPT_REQUIRED, .min = 0, .max = 31536000,
     .help = "how long the stage ramps to its target; 0s jumps to it at once (k6)"},
    {.name = "target", .type = VOLLEY_OPT_INT, .offset = offsetof(stage_cfg, target),
     .flags = VOLLEY_OPT_REQUIRED, .min = 0, .max = 10000000,
     .help = "VUs (ramping-vus) or iterations per time_unit (ramping-arrival-rate) at the end"},
};
static const volley_option_map stage_map = {stage_opts, VOLLEY_COUNTOF(stage_opts),
                                            sizeof(stage_cfg), NULL};

typedef struct scenario_cfg {
    uint64_t set;
    int executor;
    int64_t vus, iterations;
    int64_t duration, max_duration, graceful_stop, start_time;
    volley_object_list stages;
    int64_t start_vus, start_rate, rate, pre_allocated_vus, max_vus;
    int64_t graceful_ramp_down, time_unit;
    int64_t pacing;
    bool tag_stage;
} scenario_cfg;

enum { SC_EXECUTOR, SC_VUS, SC_ITERATIONS, SC_DURATION, SC_MAX_DURATION, SC_GRACEFUL_STOP,
       SC_START_TIME, SC_STAGES, SC_START_VUS, SC_GRACEFUL_RAMP_DOWN, SC_RATE, SC_START_RATE,
       SC_TIME_UNIT, SC_PRE_ALLOCATED_VUS, SC_MAX_VUS, SC_PACING, SC_TAG_STAGE };

#define SC_INT(key, field, def, lo, hi, text) \
    {.name = key, .type = VOLLEY_OPT_INT, .offset = offsetof(scenario_cfg, field), \
     .default_value = def, .min = lo, .max = hi, .help = text}
#define SC_DUR(key, field, def, lo, hi, text) \
    {.name = key, .type = VOLLEY_OPT_DURATION, .offset = offsetof(scenario_cfg, field), \
     .default_value = def, .min = lo, .max = hi, .help = text}

static const volley_option scenario_opts[] = {
    [SC_EXECUTOR] = {.name = "executor", .type = VOLLEY_OPT_ENUM, .offset = offsetof(scenario_cfg, executor),
                     .enum_values = executor_names, .flags = VOLLEY_OPT_REQUIRED,
                     .help = "how load is generated: constant-vus, ramping-vus, constant-arrival-rate, "
                             "ramping-arrival-rate, per-vu-iterations, shared-iterations"},
    [SC_VUS] = SC_INT("vus", vus, "1", 1, 1000000, "number of VUs"),
    [SC_ITERATIONS] = SC_INT("iterations", iterations, "1", 1, 1e12,
                             "iterations per VU (per-vu-iterations) or in total (shared-iterations)"),
    [SC_DURATION] = SC_DUR("duration", duration, NULL, 0.000001, 31536000,
                           "how long constant-vus or constant-arrival-rate runs"),
    [SC_MAX_DURATION] = SC_DUR("max_duration", max_duration, "10m", 0.000001, 31536000,
                               "upper bound of an iteration executor"),
    [SC_GRACEFUL_STOP] = SC_DUR("graceful_stop", graceful_stop, "30s", 0, 86400,
                                "time running iterations get to finish at the end"),
    [SC_START_TIME] = SC_DUR("start_time", start_time, "0s", 0, 31536000,
                             "delay from the start of the test"),
    [SC_STAGES] = {.name = "stages", .type = VOLLEY_OPT_OBJECT_LIST, .offset = offsetof(scenario_cfg, stages),
                   .sub = &stage_map, .help = "list of { duration, target } ramps"},
    [SC_START_VUS] = SC_INT("start_vus", start_vus, "1", 0, 1000000, "VUs at the start of ramping-vus"),
    [SC_GRACEFUL_RAMP_DOWN] = SC_DUR("graceful_ramp_down", graceful_ramp_down, "30s", 0, 86400,
                                     "time a VU ramped down gets to finish its iteration"),
    [SC_RATE] = SC_INT("rate", rate, NULL, 1, 10000000, "iterations per time_unit"),
    [SC_START_RATE] = SC_INT("start_rate", start_rate, "0", 0, 10000000,
                             "iterations per time_unit at the start of ramping-arrival-rate"),
    [SC_TIME_UNIT] = SC_DUR("time_unit", time_unit, "1s", 0.000001, 86400, "the period of rate and targets"),
    [SC_PRE_ALLOCATED_VUS] = SC_INT("pre_allocated_vus", pre_allocated_vus, NULL, 0, 1000000,
                                    "VUs ready before the start"),
    [SC_MAX_VUS] = SC_INT("max_vus", max_vus, NULL, 0, 1000000,
                          "VUs the executor may add when all are busy (default: pre_allocated_vus)"),
    [SC_PACING] = SC_DUR("pacing", pacing, "0s", 0, 86400,
                         "least time from the start of a VU's iteration to the start of its next, "
                         "however the iteration ended (closed-model executors)"),
    [SC_TAG_STAGE] = {.name = "tag_stage", .type = VOLLEY_OPT_BOOL,
                      .offset = offsetof(scenario_cfg, tag_stage), .default_value = "false",
                      .help = "tag each iteration's samples with stage: the index of the stage it "
                              "started in, from \"0\" (k6's tagWithCurrentStageIndex)"},
};
static const volley_option_map scenario_map = {scenario_opts, VOLLEY_COUNTOF(scenario_opts),
                                               sizeof(scenario_cfg), NULL};

/* Per executor: the options it takes (k6 rejects the others too) and the
 * ones it needs. Common options (executor, graceful_stop, start_time) apply
 * everywhere. */
#define B(x) (1u << (x))
static const struct {
    unsigned takes, needs;
} executor_opts[] = {
    [EXEC_CONSTANT_VUS] = {B(SC_VUS) | B(SC_DURATION) | B(SC_PACING), B(SC_DURATION)},
    [EXEC_RAMPING_VUS] = {B(SC_STAGES) | B(SC_START_VUS) | B(SC_GRACEFUL_RAMP_DOWN) | B(SC_PACING) |
                              B(SC_TAG_STAGE),
                          B(SC_STAGES)},
    [EXEC_CONSTANT_ARRIVAL_RATE] = {B(SC_RATE) | B(SC_TIME_UNIT) | B(SC_DURATION) |
                                        B(SC_PRE_ALLOCATED_VUS) | B(SC_MAX_VUS),
                                    B(SC_RATE) | B(SC_DURATION) | B(SC_PRE_ALLOCATED_VUS)},
    [EXEC_RAMPING_ARRIVAL_RATE] = {B(SC_STAGES) | B(SC_START_RATE) | B(SC_TIME_UNIT) |
                                       B(SC_PRE_ALLOCATED_VUS) | B(SC_MAX_VUS) | B(SC_TAG_STAGE),
                                   B(SC_STAGES) | B(SC_PRE_ALLOCATED_VUS)},
    [EXEC_PER_VU_ITERATIONS] = {B(SC_VUS) | B(SC_ITERATIONS) | B(SC_MAX_DURATION) | B(SC_PACING), 0},
    [EXEC_SHARED_ITERATIONS] = {B(SC_VUS) | B(SC_ITERATIONS) | B(SC_MAX_DURATION) | B(SC_PACING), 0},
};
static const unsigned common_opts = B(SC_EXECUTOR) | B(SC_GRACEFUL_STOP) | B(SC_START_TIME);

/* Checks which options were given against the executor; reports each
 * misplaced or missing one. The CLI's --duration stands in for duration. */
static bool check_executor_options(spec_loader *L, const ynode *v, const char *path,
                                   const scenario_cfg *cfg)
{
    bool ok = true;
    unsigned takes = executor_opts[cfg->executor].takes | common_opts;
    unsigned needs = executor_opts[cfg->executor].needs;
    if (L->o->duration_ns)
        needs &= ~B(SC_DURATION);
    if (L->o->n_stages)
        needs = 0;   /* --stage replaces the executor */
    for (size_t j = 0; j < VOLLEY_COUNTOF(scenario_opts); j++) {
        bool given = VOLLEY_OPT_IS_SET(cfg, j);
        if (given && !(takes & B(j))) {
            const ynode *at = ynode_get(v, scenario_opts[j].name);
            ynode_error(L->d, at ? at : v, "%s.%s: does not apply to executor %s", path,
                        scenario_opts[j].name, executor_names[cfg->executor]);
            ok = false;
        } else if (!given && (needs & B(j))) {
            ynode_error(L->d, v, "%s: executor %s needs \"%s\" (%s)", path,
                        executor_names[cfg->executor], scenario_opts[j].name,
                        scenario_opts[j].help);
            ok = false;
        }
    }
    return ok;
}
#undef B

/* "30s:10" stages from the command line. */
static bool cli_stages(spec_loader *L, sched_stage **out, size_t *n)
{
    sched_stage *st = arena_alloc(&L->s->a, L->o->n_stages * sizeof *st);
    for (size_t i = 0; i < L->o->n_stages; i++) {
        const char *arg = L->o->stages[i];
        const char *colon = strrchr(arg, ':');
        char dur[64], err[256], *end;
        if (!colon || (size_t)(colon - arg) >= sizeof dur) {
            diag_error(L->d, NULL, 0, 0, "--stage %s: expected DURATION:TARGET such as 30s:10", arg);
            return false;
        }
        snprintf(dur, sizeof dur, "%.*s", (int)(colon - arg), arg);
        long long target = strtoll(colon + 1, &end, 10);
        if (duration_parse(dur, &st[i].duration_ns, err, sizeof err) != 0 || st[i].duration_ns < 0 ||
            *end || end == colon + 1 || target < 0) {
            diag_error(L->d, NULL, 0, 0, "--stage %s: expected DURATION:TARGET such as 30s:10", arg);
            return false;
        }
        st[i].target = (double)target;
    }
    if (sched_total_ns(&(sched_profile){.n = L->o->n_stages, .stages = st}) == 0) {
        diag_error(L->d, NULL, 0, 0, "--stage: every stage lasts 0s; at least one needs a duration");
        return false;
    }
    *out = st;
    *n = L->o->n_stages;
    return true;
}

/* What k6 also rejects: a ramp that never has a VU, max_vus below
 * pre_allocated_vus. */
static bool check_profile(spec_loader *L, const ynode *v, const char *path, const scenario *sc,
                          const scenario_cfg *cfg)
{
    if (sc->executor == EXEC_RAMPING_VUS && sched_max_value(&sc->profile) < 1) {
        ynode_error(L->d, v, "%s: ramping-vus needs start_vus or a stage target above 0", path);
        return false;
    }
    /* 0s stages jump to their target (k6's instant load increase), but
     * some stage must last for the scenario to run at all. */
    if ((sc->executor == EXEC_RAMPING_VUS || sc->executor == EXEC_RAMPING_ARRIVAL_RATE) &&
        sc->profile.n > 0 && sched_total_ns(&sc->profile) == 0) {
        const ynode *at = ynode_get(v, "stages");
        ynode_error(L->d, at ? at : v, "%s.stages: every stage lasts 0s; at least one needs a "
                    "duration (a 0s stage jumps to its target at once)", path);
        return false;
    }
    if (executor_is_arrival(sc->executor) && VOLLEY_OPT_IS_SET(cfg, SC_MAX_VUS) &&
        cfg->max_vus < cfg->pre_allocated_vus) {
        const ynode *at = ynode_get(v, "max_vus");
        ynode_error(L->d, at ? at : v, "%s.max_vus: must be at least pre_allocated_vus (%lld)",
                    path, (long long)cfg->pre_allocated_vus);
        return false;
    }
    return true;
}

static void set_profile(spec_loader *L, scenario *sc, const scenario_cfg *cfg)
{
    size_t n = cfg->stages.n;
    sched_stage *st = arena_alloc(&L->s->a, (n ? n : 1) * sizeof *st);
    const stage_cfg *items = cfg->stages.items;
    for (size_t i = 0; i < n; i++)
        st[i] = (sched_stage){.duration_ns = items[i].duration, .target = (double)items[i].target};
    switch (sc->executor) {
    case EXEC_RAMPING_VUS:
        sc->profile = (sched_profile){.start = (double)cfg->start_vus, .n = n, .stages = st};
        break;
    case EXEC_CONSTANT_ARRIVAL_RATE:
        st[0] = (sched_stage){.duration_ns = sc->duration_ns, .target = (double)cfg->rate};
        sc->profile = (sched_profile){.start = (double)cfg->rate, .n = 1, .stages = st,
                                      .unit_ns = cfg->time_unit};
        break;
    case EXEC_RAMPING_ARRIVAL_RATE:
        sc->profile = (sched_profile){.start = (double)cfg->start_rate, .n = n, .stages = st,
                                      .unit_ns = cfg->time_unit};
        break;
    default:
        break;
    }
    sc->pre_allocated_vus = cfg->pre_allocated_vus;
    sc->max_vus = VOLLEY_OPT_IS_SET(cfg, SC_MAX_VUS) ? cfg->max_vus : cfg->pre_allocated_vus;
    sc->graceful_ramp_down_ns = cfg->graceful_ramp_down;
}

/* k6-style quick overrides: --stage makes the scenario ramping-vus,
 * --iterations shared-iterations; --vus and --duration resize it. */
static bool apply_overrides(spec_loader *L, scenario *sc)
{
    const spec_opts *o = L->o;
    if (o->n_stages) {
        sched_stage *st;
        size_t n;
        if (!cli_stages(L, &st, &n))
            return false;
        sc->executor = EXEC_RAMPING_VUS;
        sc->profile = (sched_profile){.start = o->vus ? (double)o->vus : 1, .n = n, .stages = st};
        return true;
    }
    if (o->iterations) {
        sc->executor = EXEC_SHARED_ITERATIONS;
        sc->iterations = o->iterations;
        if (o->duration_ns)
            sc->max_duration_ns = o->duration_ns;
        if (o->vus)
            sc->vus = o->vus;
        return true;
    }
    if (o->vus && (sc->executor == EXEC_CONSTANT_VUS || sc->executor == EXEC_PER_VU_ITERATIONS ||
                   sc->executor == EXEC_SHARED_ITERATIONS))
        sc->vus = o->vus;
    if (o->duration_ns) {
        if (sc->executor == EXEC_CONSTANT_VUS || sc->executor == EXEC_CONSTANT_ARRIVAL_RATE)
            sc->duration_ns = o->duration_ns;
        else if (sc->executor == EXEC_PER_VU_ITERATIONS || sc->executor == EXEC_SHARED_ITERATIONS)
            sc->max_duration_ns = o->duration_ns;
        if (sc->executor == EXEC_CONSTANT_ARRIVAL_RATE)
            ((sched_stage *)sc->profile.stages)[0].duration_ns = o->duration_ns;
    }
    return true;
}

static bool scenario_selected(spec_loader *L, const char *name)
{
    if (L->o->n_only == 0)
        return true;
    for (size_t i = 0; i < L->o->n_only; i++)
        if (strcmp(L->o->only_scenarios[i], name) == 0)
            return true;
    return false;
}

/* tag_stage: the scenario's tags once per stage of its profile, each with
 * `stage: "k"` in its sorted place (k6's tagWithCurrentStageIndex). */
static bool make_stage_tags(spec_loader *L, const ynode *v, const char *path, scenario *sc)
{
    for (size_t i = 0; i < sc->n_tags; i++) {
        if (strcmp(sc->tags[i].key, "stage") == 0) {
            const ynode *at = ynode_get(ynode_get(v, "tags"), "stage");
            ynode_error(L->d, at ? at : v, "%s.tags.stage: tag_stage sets the stage tag itself; "
                        "drop one of them", path);
            return false;
        }
    }
    size_t n = sc->profile.n ? sc->profile.n : 1;
    const volley_tag **lists = arena_alloc(&L->s->a, n * sizeof *lists);
    if (!lists || metrics_add_step_tag_key(L->reg, "stage") != 0) {
        ynode_error(L->d, v, "%s.tag_stage: out of memory", path);
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        volley_tag *t = arena_alloc(&L->s->a, (sc->n_tags + 1) * sizeof *t);
        const char *num = arena_printf(&L->s->a, "%zu", k);
        if (!t || !num) {
            ynode_error(L->d, v, "%s.tag_stage: out of memory", path);
            return false;
        }
        size_t j = 0, at = 0;
        while (at < sc->n_tags && strcmp(sc->tags[at].key, "stage") < 0)
            t[j++] = sc->tags[at++];
        t[j++] = (volley_tag){.key = "stage", .value = num};
        while (at < sc->n_tags)
            t[j++] = sc->tags[at++];
        lists[k] = t;
    }
    sc->stage_tags = lists;
    return true;
}

static bool compile_scenario(spec_loader *L, const ynode *k, const ynode *v, scenario *sc)
{
    const char *path = spec_subpath(L, "scenarios", k->str);
    if (!spec_want_map(L, v, path))
        return false;
    /* flow, use, env and tags apart from the executor's options */
    static const char *const own_keys[] = {"flow", "use", "env", "tags"};
    const ynode *flow = ynode_get(v, "flow"), *use = ynode_get(v, "use");
    const ynode *env = ynode_get(v, "env"), *tags = ynode_get(v, "tags");
    scenario_cfg cfg;
    bool ok = spec_fill_except(L, &scenario_map, v, &cfg, path, own_keys,
                               VOLLEY_COUNTOF(own_keys)) == 0;
    if (ok)
        ok = check_executor_options(L, v, path, &cfg);
    if (!flow) {
        ynode_error(L->d, v, "%s: missing required key \"flow\" (the steps each iteration runs)",
                    path);
        ok = false;
    }
    sc->name = k->str;
    sc->location = spec_loc(L, k);
    op_list ops = {0};
    ok &= spec_scenario_data_begin(L, use, path, flow, sc);
    /* Its env: is seen by its tags and its flow (not by the executor's
     * options above: k6 reads those before any scenario runs). */
    if (env)
        ok &= spec_scenario_env(L, env, spec_subpath(L, path, "env"));
    if (tags)
        ok &= spec_compile_tags(L, tags, spec_subpath(L, path, "tags"), &sc->tags, &sc->n_tags);
    L->sc_n_once = 0;
    L->cap_keep = arena_alloc(&L->s->a, (sc->n_caps + 1) * sizeof *L->cap_keep);
    if (L->cap_keep)
        memset(L->cap_keep, 0, (sc->n_caps + 1) * sizeof *L->cap_keep);
    if (flow)
        ok &= compile_flow(L, flow, spec_subpath(L, path, "flow"), sc->name, "", &ops, 0);
    L->sc_env = NULL;
    L->sc_n_env = 0;
    flow_ctl_scenario_end(L, &sc->n_caps, &L->cap_keep);
    sc->cap_keep = L->cap_keep;
    sc->n_once = L->sc_n_once;
    L->cap_keep = NULL;
    spec_scenario_data_end(L);
    sc->ops = ops.ops;   /* kept even on failure: spec_free releases them */
    sc->n_ops = ops.n;
    if (!ok)
        return false;
    sc->executor = (executor_kind)cfg.executor;
    sc->vus = cfg.vus;
    sc->iterations = cfg.iterations;
    sc->duration_ns = cfg.duration;
    sc->max_duration_ns = cfg.max_duration;
    sc->graceful_stop_ns = cfg.graceful_stop;
    sc->start_time_ns = cfg.start_time;
    sc->pacing_ns = cfg.pacing;
    set_profile(L, sc, &cfg);
    if (!L->o->n_stages && !check_profile(L, v, path, sc, &cfg))
        return false;
    if (!apply_overrides(L, sc))
        return false;
    if (cfg.tag_stage && !make_stage_tags(L, v, path, sc))
        return false;
    if (sc->executor == EXEC_SHARED_ITERATIONS && sc->vus > sc->iterations)
        sc->vus = sc->iterations;   /* k6 caps VUs at the iteration count */
    return true;
}

typedef struct hook_cfg {
    uint64_t set;
    int64_t timeout;
} hook_cfg;

static const volley_option hook_opts[] = {
    {.name = "timeout", .type = VOLLEY_OPT_DURATION, .offset = offsetof(hook_cfg, timeout),
     .default_value = "60s", .min = 0.001, .max = 86400,
     .help = "how long it may take (k6's setupTimeout/teardownTimeout)"},
};
static const volley_option_map hook_map = {hook_opts, VOLLEY_COUNTOF(hook_opts), sizeof(hook_cfg), NULL};

/*
 * `setup:` / `teardown:` -- a flow (or { flow, timeout }) run once, as a
 * scenario of one VU and one iteration that ends at its timeout. What setup
 * captures, every scenario and teardown read as ${setup.NAME}.
 */
static bool compile_hook(spec_loader *L, const ynode *k, const ynode *v, int role, scenario *sc)
{
    const char *path = k->str;
    const ynode *flow = v;
    hook_cfg cfg;
    bool ok = true;
    if (v->kind == YNODE_MAP) {
        static const char *const own_keys[] = {"flow"};
        flow = ynode_get(v, "flow");
        ok = spec_fill_except(L, &hook_map, v, &cfg, path, own_keys, 1) == 0;
        if (!flow) {
            ynode_error(L->d, v, "%s: missing required key \"flow\" (the steps it runs once)", path);
            ok = false;
        }
    } else {
        ok = opt_fill(&L->oc, &hook_map, NULL, &cfg, path) == 0;
        if (v->kind != YNODE_SEQ) {
            ynode_error(L->d, v, "%s: expected a list of steps, or { flow: [steps], timeout: 60s }", path);
            return false;
        }
    }
    memset(sc, 0, sizeof *sc);
    sc->name = path;
    sc->location = spec_loc(L, k);
    sc->role = role;
    sc->executor = EXEC_PER_VU_ITERATIONS;
    sc->vus = 1;
    sc->iterations = 1;
    sc->max_duration_ns = cfg.timeout;
    sc->graceful_stop_ns = 0;
    op_list ops = {0};
    L->sc_role = role;
    ok &= spec_scenario_data_begin(L, NULL, path, flow, sc);
    if (role == SC_ROLE_SETUP) {
        L->s->setup_names = L->cap_names;
        L->s->n_setup_names = L->n_caps;
    }
    L->sc_n_once = 0;
    L->cap_keep = NULL;
    if (flow)
        ok &= compile_flow(L, flow, spec_subpath(L, path, "flow"), sc->name, "", &ops, 0);
    flow_ctl_scenario_end(L, &sc->n_caps, &sc->cap_keep);
    sc->n_once = L->sc_n_once;
    spec_scenario_data_end(L);
    L->sc_role = SC_ROLE_MAIN;
    sc->ops = ops.ops;
    sc->n_ops = ops.n;
    return ok;
}

/* The key node of `key` in a mapping (for its place), or NULL. */
static const ynode *key_node(const ynode *map, const char *key)
{
    for (size_t i = 0; map && i < map->n_pairs; i++)
        if (strcmp(map->pairs[i].key->str, key) == 0)
            return map->pairs[i].key;
    return NULL;
}

static void load_scenarios(spec_loader *L, const ynode *n, const ynode *root)
{
    const ynode *setup = ynode_get(root, "setup"), *teardown = ynode_get(root, "teardown");
    spec *s = L->s;
    s->setup_sc = s->teardown_sc = -1;
    if (!spec_want_map(L, n, "scenarios"))
        return;
    if (n->n_pairs == 0) {
        ynode_error(L->d, n, "scenarios: expected at least one scenario");
        return;
    }
    s->scenarios = arena_alloc(&s->a, (n->n_pairs + 2) * sizeof *s->scenarios);
    /* Every scenario is compiled (and kept, for spec_free) even when
     * --scenario selects others, so errors are found either way. */
    s->all_scenarios = arena_alloc(&s->a, (n->n_pairs + 2) * sizeof *s->all_scenarios);
    /* setup first: the scenarios name what it captures. */
    scenario *su = NULL, *td = NULL;
    if (setup) {
        su = &s->all_scenarios[s->n_all_scenarios++];
        if (!compile_hook(L, key_node(root, "setup"), setup, SC_ROLE_SETUP, su))
            su = NULL;
    }
    for (size_t i = 0; i < n->n_pairs; i++) {
        scenario *sc = &s->all_scenarios[s->n_all_scenarios++];
        if (compile_scenario(L, n->pairs[i].key, n->pairs[i].value, sc) &&
            scenario_selected(L, sc->name))
            s->scenarios[s->n_scenarios++] = *sc;
    }
    if (teardown) {
        td = &s->all_scenarios[s->n_all_scenarios++];
        if (!compile_hook(L, key_node(root, "teardown"), teardown, SC_ROLE_TEARDOWN, td))
            td = NULL;
    }
    /* Run last in the list, so the scenarios' VU ids do not move. */
    if (su) {
        s->setup_sc = (int)s->n_scenarios;
        s->scenarios[s->n_scenarios++] = *su;
    }
    if (td) {
        s->teardown_sc = (int)s->n_scenarios;
        s->scenarios[s->n_scenarios++] = *td;
    }
    for (size_t i = 0; i < L->o->n_only; i++) {
        if (!ynode_get(n, L->o->only_scenarios[i]))
            diag_error(L->d, NULL, 0, 0, "--scenario %s: no such scenario in %s",
                       L->o->only_scenarios[i], s->path);
    }
}

/* ---- thresholds ---- */

typedef struct threshold_cfg {
    uint64_t set;
    const char *threshold;
    bool abort_on_fail;
    int64_t delay_abort_eval;
    bool allow_no_data;
} threshold_cfg;

static const volley_option threshold_opts[] = {
    {.name = "threshold", .type = VOLLEY_OPT_STRING, .offset = offsetof(threshold_cfg, threshold),
     .flags = VOLLEY_OPT_REQUIRED, .help = "expression such as p(95)<500"},
    {.name = "abort_on_fail", .type = VOLLEY_OPT_BOOL, .offset = offsetof(threshold_cfg, abort_on_fail),
     .default_value = "false", .help = "stop the test as soon as the threshold fails"},
    {.name = "delay_abort_eval", .type = VOLLEY_OPT_DURATION,
     .offset = offsetof(threshold_cfg, delay_abort_eval), .default_value = "0s",
     .help = "wait this long before abort_on_fail may stop the test"},
    {.name = "allow_no_data", .type = VOLLEY_OPT_BOOL, .offset = offsetof(threshold_cfg, allow_no_data),
     .default_value = "false",
     .help = "a (sub-)metric without samples passes instead of failing the run with \"no data\""},
};
static const volley_option_map threshold_map = {threshold_opts, VOLLEY_COUNTOF(threshold_opts),
                                                sizeof(threshold_cfg), "threshold"};

static void add_threshold(spec_loader *L, const char *key, int series, const ynode *item,
                          const char *path)
{
    threshold_cfg cfg;
    if (opt_fill(&L->oc, &threshold_map, item, &cfg, path) != 0)
        return;
    const ynode *src_node = item->kind == YNODE_MAP ? ynode_get(item, "threshold") : item;
    char from[300] = "";   /* an error names the template, as executor numbers do */
    if (strstr(cfg.threshold, "${")) {
        snprintf(from, sizeof from, " (from %s)", cfg.threshold);
        /* k6 scripts build limits from __ENV in a template literal; the
         * value is folded in here, so the expression is shown as judged. */
        tmpl_scope env_only = {.env = scope_env, .ctx = L};
        char terr[512];
        volley_template *tt = tmpl_compile(&L->s->a, cfg.threshold, strlen(cfg.threshold),
                                           &env_only, terr, sizeof terr);
        if (!tt || !tmpl_const(tt)) {
            ynode_error(L->d, src_node, "%s: %s", path,
                        tt ? "only ${env.NAME} templates are allowed in a threshold" : terr);
            return;
        }
        cfg.threshold = tmpl_const(tt);
    }
    threshold t = {.key = key, .source = cfg.threshold, .location = spec_loc(L, src_node),
                   .series = (uint32_t)series, .abort_on_fail = cfg.abort_on_fail,
                   .delay_abort_ns = cfg.delay_abort_eval, .allow_no_data = cfg.allow_no_data};
    t.metric = L->reg->series[series].metric;
    char err[512];
    if (th_parse(cfg.threshold, &t.expr, err, sizeof err) != 0) {
        ynode_error(L->d, src_node, "%s: %s%s", path, err, from);
        return;
    }
    volley_metric_type type = L->reg->metrics[t.metric].info.type;
    if (!th_agg_allowed(t.expr.agg, type)) {
        static const char *const tn[] = {"?", "counter", "gauge", "rate", "trend"};
        ynode_error(L->d, src_node, "%s: \"%s\"%s does not apply to %s, a %s metric; use %s",
                    path, cfg.threshold, from, L->reg->metrics[t.metric].info.name, tn[type],
                    th_aggs_for(type));
        return;
    }
    if (t.allow_no_data && type == VOLLEY_METRIC_COUNTER)
        ynode_warning(L->d, ynode_get(item, "allow_no_data"), "%s.allow_no_data: has no effect on "
                      "%s, a counter: a counter without samples counts 0 and is judged", path,
                      L->reg->metrics[t.metric].info.name);
    metrics_add_threshold_source(L->reg, t.metric, cfg.threshold);
    spec *s = L->s;
    threshold *nt = arena_alloc(&s->a, (s->n_thresholds + 1) * sizeof *nt);
    if (s->n_thresholds)
        memcpy(nt, s->thresholds, s->n_thresholds * sizeof *nt);
    nt[s->n_thresholds++] = t;
    s->thresholds = nt;
}

static void load_thresholds(spec_loader *L, const ynode *n)
{
    if (!spec_want_map(L, n, "thresholds"))
        return;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *path = arena_printf(&L->s->a, "thresholds.\"%s\"", k->str);
        char err[512];
        int series = metrics_series_for_key(L->reg, k->str, err, sizeof err);
        if (series < 0) {
            if (strncmp(err, "no metric named", 15) == 0) {
                const char *names[256];
                size_t nn = 0;
                for (size_t m = 0; m < L->reg->n_metrics && nn < 256; m++)
                    names[nn++] = L->reg->metrics[m].info.name;
                char word[512];   /* err is: no metric named "NAME" */
                snprintf(word, sizeof word, "%s", err + 17);
                word[strcspn(word, "\"")] = '\0';
                const char *near = suggest_closest(word, names, nn);
                ynode_error(L->d, k, "%s: %s%s%s%s (metrics come from the built-ins, the "
                            "protocols used by this spec and custom metrics)", path, err,
                            near ? "; did you mean \"" : "", near ? near : "", near ? "\"?" : "");
            } else {
                ynode_error(L->d, k, "%s: %s", path, err);
            }
            continue;
        }
        if (v->kind == YNODE_SEQ) {
            for (size_t j = 0; j < v->n_items; j++)
                add_threshold(L, k->str, series, v->items[j], arena_printf(&L->s->a, "%s[%zu]", path, j));
        } else {
            add_threshold(L, k->str, series, v, path);
        }
        spec_warn_tag_filters(L, k, (uint32_t)series, path);
    }
}

/* With several scenarios, the summary shows the main metrics per scenario:
 * their sub-metrics are made here (a threshold's own stays as it is). */
static void add_scenario_series(spec_loader *L)
{
    static const char *const names[] = {"iterations", "http_reqs", "http_req_duration",
                                        "http_req_failed", "dropped_iterations"};
    if (L->s->n_scenarios < 2)
        return;
    for (size_t i = 0; i < L->s->n_scenarios; i++) {
        for (size_t j = 0; j < VOLLEY_COUNTOF(names); j++) {
            if (metrics_find(L->reg, names[j]) < 0)
                continue;
            char key[512], err[256];
            snprintf(key, sizeof key, "%s{scenario:%s}", names[j], L->s->scenarios[i].name);
            size_t before = L->reg->n_series;
            int id = metrics_series_for_key(L->reg, key, err, sizeof err);
            if (id >= 0 && (size_t)id >= before)
                L->reg->series[id].per_scenario = L->reg->series[id].breakdown = true;
        }
    }
}

/* ---- outputs ---- */

static void add_output(spec_loader *L, const plug *p, const ynode *node, const char *arg,
                       const char *label, const char *path)
{
    const volley_output_ops *ops = p->desc->output;
    void *cfg = arena_alloc(&L->s->a, ops->options->config_size);
    /* "--out NAME" alone is an empty mapping: required options still apply
     * (opt_fill with a NULL node would only fill defaults). */
    ynode none = {.kind = YNODE_MAP};
    bool was = L->oc.fold_strings;
    L->oc.fold_strings = true;
    int rc = node ? opt_fill(&L->oc, ops->options, node, cfg, path)
                  : arg ? opt_fill_arg(&L->oc, ops->options, arg, cfg, path)
                        : opt_fill(&L->oc, ops->options, &none, cfg, path);
    L->oc.fold_strings = was;
    if (rc != 0)
        return;
    char why[512] = "";
    int checked = 0;
    if (ops->config_check)
        CRASH_CALL(p->desc->name, "output config_check", checked = ops->config_check(L->host, cfg, why, sizeof why));
    if (checked != 0) {
        if (!*why)
            snprintf(why, sizeof why, "invalid options");
        if (node)
            ynode_error(L->d, node, "%s: %s", path, why);
        else
            diag_error(L->d, NULL, 0, 0, "%s: %s", path, why);
        return;
    }
    spec *s = L->s;
    output_cfg *no = arena_alloc(&s->a, (s->n_outputs + 1) * sizeof *no);
    if (s->n_outputs)
        memcpy(no, s->outputs, s->n_outputs * sizeof *no);
    no[s->n_outputs++] = (output_cfg){.plugin = p, .config = cfg, .label = label};
    s->outputs = no;
}

static void unknown_output(spec_loader *L, const ynode *at, const char *name, const char *path)
{
    const char *names[64];
    size_t nn = 0;
    for (size_t j = 0; j < L->plugins->n && nn < 64; j++)
        if (L->plugins->items[j].desc->kind == VOLLEY_KIND_OUTPUT)
            names[nn++] = L->plugins->items[j].desc->name;
    char list[256];
    suggest_join(names, nn, list, sizeof list);
    char hint[128];
    suggest_hint(name, names, nn, hint, sizeof hint);
    char why[1024] = "";
    if (plug_describe_missing(L->plugins, VOLLEY_KIND_OUTPUT, why, sizeof why) && !*hint)
        L->d->engine = true;
    if (at)
        ynode_error(L->d, at, "%s: unknown output \"%s\"%s; available: %s%s", path, name,
                    hint, list, why);
    else
        diag_error(L->d, NULL, 0, 0, "%s: unknown output \"%s\"%s; available: %s%s", path, name,
                   hint, list, why);
}

/* --out 'NAME={key: value, ...}': the output's options as a YAML flow
 * mapping, exactly as under the spec's `outputs:`. Errors point into the
 * argument ("--out NAME:1:9"). The tree lives as long as the spec. */
static const ynode *cli_output_mapping(spec_loader *L, const char *name, const char *arg)
{
    const char *doc = arena_printf(&L->s->a, "--out %s", name);
    ytree *t = ytree_load_string(doc, arg, strlen(arg), L->d);
    if (!t || include_set_add(&L->s->includes, t) != 0)
        return NULL;
    const ynode *root = ytree_root(t);
    if (!root || root->kind != YNODE_MAP) {
        diag_error(L->d, doc, 1, 1, "--out %s={...}: expected a mapping of %s's options such as "
                   "{ path: results/x.ndjson }", name, name);
        return NULL;
    }
    return root;
}

/* "--out NAME=VALUE" sets only the shorthand option, and VALUE is taken
 * as written; a VALUE that carries ",OTHER=..." or ",OTHER:" for another
 * option of the output is refused rather than silently read as one
 * string (a file named "x.csv,flush_every=2s"). */
static bool looks_like_more_options(spec_loader *L, const volley_option_map *map, const char *name,
                                    const char *arg, const char *path)
{
    for (size_t i = 0; i < map->count; i++) {
        const char *opt = map->options[i].name;
        if (map->shorthand && strcmp(opt, map->shorthand) == 0)
            continue;
        size_t len = strlen(opt);
        for (const char *c = strchr(arg, ','); c; c = strchr(c + 1, ',')) {
            const char *k = c + 1;
            while (*k == ' ')
                k++;
            if (strncmp(k, opt, len) == 0 && (k[len] == '=' || k[len] == ':')) {
                diag_error(L->d, NULL, 0, 0, "%s: \"%s\" is an option of %s, but NAME=VALUE sets only "
                           "%s; give several options as a mapping: --out '%s={%s: ..., %s: ...}'", path,
                           opt, name, map->shorthand ? map->shorthand : "(nothing)", name,
                           map->shorthand ? map->shorthand : opt, opt);
                return true;
            }
        }
    }
    return false;
}

static void load_outputs(spec_loader *L, const ynode *n)
{
    if (n) {
        if (n->kind != YNODE_SEQ) {
            ynode_error(L->d, n, "outputs: expected a list such as "
                        "[ { json-out: { path: results/x.ndjson } } ]");
        } else {
            for (size_t i = 0; i < n->n_items; i++) {
                const ynode *item = n->items[i];
                const char *path = arena_printf(&L->s->a, "outputs[%zu]", i);
                if (item->kind != YNODE_MAP || item->n_pairs != 1) {
                    ynode_error(L->d, item, "%s: expected one output per item, "
                                "e.g. - json-out: results/x.ndjson", path);
                    continue;
                }
                const ynode *k = item->pairs[0].key;
                const plug *p = plug_find_output(L->plugins, k->str);
                if (!p) {
                    unknown_output(L, k, k->str, path);
                    continue;
                }
                add_output(L, p, item->pairs[0].value, NULL, k->str, spec_subpath(L, path, k->str));
            }
        }
    }
    for (size_t i = 0; i < L->o->n_outs; i++) {
        const char *o = L->o->outs[i];
        const char *eq = strchr(o, '=');
        char *name = arena_strndup(&L->s->a, o, eq ? (size_t)(eq - o) : strlen(o));
        const char *path = arena_printf(&L->s->a, "--out %s", o);
        const plug *p = plug_find_output(L->plugins, name);
        if (!p) {
            unknown_output(L, NULL, name, path);
            continue;
        }
        const char *arg = eq ? eq + 1 : NULL;
        const char *label = arena_strdup(&L->s->a, o);
        if (arg && *arg == '{') {
            const ynode *map = cli_output_mapping(L, name, arg);
            if (map)
                add_output(L, p, map, NULL, label, path);
        } else if (!arg || !looks_like_more_options(L, p->desc->output->options, name, arg, path)) {
            add_output(L, p, NULL, arg, label, path);
        }
    }
}

/* ---- the document ---- */

static const char *const top_keys[] = {"version", "name", "include", "services", "defaults", "pools",
                                       "metrics", "setup", "teardown", "scenarios", "thresholds",
                                       "outputs"};

/* root: the spec with its includes merged in (include.c). */
static void load_root(spec_loader *L, const ynode *root)
{
    spec *s = L->s;
    spec_check_keys(L, root, "(top level)", top_keys, VOLLEY_COUNTOF(top_keys));

    const ynode *version = ynode_get(root, "version");
    int64_t v = 0;
    if (!version)
        ynode_error(L->d, root, "(top level): missing required key \"version\" (write version: 1)");
    else if (version->kind != YNODE_SCALAR || !version->plain || !ynode_int(version, &v) || v != 1)
        ynode_error(L->d, version, "version: expected 1 (the only spec format version), got %s",
                    version->str ? version->str : ynode_kind_name(version));

    const ynode *name = ynode_get(root, "name");
    s->name = name ? spec_want_string(L, name, "name") : NULL;
    if (!s->name) {
        const char *base = strrchr(s->path, '/');
        s->name = base ? base + 1 : s->path;
    }
    const ynode *services = ynode_get(root, "services");
    if (services)
        load_services(L, services);
    const ynode *defaults = ynode_get(root, "defaults");
    if (defaults) {
        defaults_cfg dc;
        L->outside_flow = true;
        int frc = opt_fill(&L->oc, &defaults_map, defaults, &dc, "defaults");
        L->outside_flow = false;
        if (frc == 0) {
            L->defaults = defaults;
            s->defaults_tls = tls_read(&dc.tls);
        }
    }
    const ynode *pools = ynode_get(root, "pools");
    if (pools)
        spec_load_pools(L, pools);
    s->first_custom_metric = L->reg->n_metrics;
    const ynode *metrics = ynode_get(root, "metrics");
    if (metrics)
        spec_load_metrics(L, metrics);
    const ynode *scenarios = ynode_get(root, "scenarios");
    if (!scenarios)
        ynode_error(L->d, root, "(top level): missing required key \"scenarios\" (at least one "
                    "scenario with an executor and a flow)");
    else
        load_scenarios(L, scenarios, root);
    const ynode *thresholds = ynode_get(root, "thresholds");
    if (thresholds)
        load_thresholds(L, thresholds);
    add_scenario_series(L);
    spec_add_breakdowns(L, scenarios ? scenarios : root);
    if (stages_plan(L->s, L->reg) != 0)
        ynode_error(L->d, root, "(top level): out of memory for the stages of ramping scenarios");
    load_outputs(L, ynode_get(root, "outputs"));
}

spec *spec_load(const char *path, const spec_opts *o, const plug_set *plugins,
                metrics_reg *reg, const volley_host *host, volley_core *core, diag *d)
{
    spec *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    arena_init(&s->a);
    s->path = arena_strdup(&s->a, path);
    s->host = host;
    s->defaults_tls.insecure = -1;
    size_t before = d->count;
    spec_loader L = {.s = s, .o = o, .plugins = plugins, .reg = reg, .host = host, .core = core,
                     .d = d};
    L.scope = (tmpl_scope){.env = scope_env, .service = scope_service,
                           .scenario = spec_scope_scenario, .row_field = spec_scope_row_field,
                           .capture = spec_scope_capture, .setup_field = spec_scope_setup_field,
                           .ctx = &L};
    L.oc = (opt_ctx){.a = &s->a, .scope = &L.scope, .d = d, .compile_checks = compile_opt_checks,
                     .compile_captures = spec_compile_opt_captures, .compile_ctx = &L,
                     .seen = note_seen};
    L.checks = (check_compiler){.a = &s->a, .d = d, .plugins = plugins, .host = host, .reg = reg,
                                .metric = BUILTIN_CHECKS, .oc = &L.oc};

    s->tree = ytree_load_file(path, path, d);
    if (!s->tree)
        goto fail;
    const ynode *root = ytree_root(s->tree);
    if (!root || root->kind != YNODE_MAP) {
        if (root)
            diag_error(d, root->file, root->line, root->col,
                       "(top level): expected a mapping with version, scenarios, ...; got %s",
                       ynode_kind_name(root));
        else
            diag_error(d, path, 1, 1, "(top level): the spec is empty; expected a mapping with version and scenarios");
        goto fail;
    }
    char terr[256];
    if (metrics_set_run_tags(reg, o->tags, o->n_tags, terr, sizeof terr) != 0)
        diag_error(d, NULL, 0, 0, "%s", terr);
    root = include_resolve(&s->a, root, path, &s->includes, d);
    if (!root)
        goto fail;
    if (core)
        core->loading = &L;
    load_root(&L, root);
    if (core)
        core->loading = NULL;
    if (d->count != before)
        goto fail;
    free(L.opt_seen);
    free(L.said);
    return s;
fail:
    free(L.opt_seen);
    free(L.said);
    spec_free(s);
    return NULL;
}

void spec_free(spec *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_all_scenarios; i++) {
        const scenario *sc = &s->all_scenarios[i];
        for (size_t j = 0; j < sc->n_ops; j++) {
            const flow_op *op = &sc->ops[j];
            check_free_items(op->checks, op->n_checks);
            for (size_t c = 0; c < op->n_captures; c++)
                capture_free(&op->captures[c]);
            const plug *pp = op->kind == OP_STEP ? s->protos[op->proto].plugin : NULL;
            if (pp && pp->desc->protocol->step_free)
                CRASH_CALL(pp->desc->name, "protocol step_free",
                           pp->desc->protocol->step_free(s->protos[op->proto].inst, op->step));
        }
    }
    check_free_opts(s->xchecks);
    flow_cond_free(s->flow_regs);
    for (const volley_captures *c = s->xcaptures; c; c = c->next)
        for (size_t i = 0; i < c->n; i++)
            capture_free(&c->defs[i]);
    for (size_t i = 0; i < s->n_protos; i++)
        if (s->protos[i].plugin->desc->protocol->destroy)
            CRASH_CALL(s->protos[i].plugin->desc->name, "protocol destroy",
                       s->protos[i].plugin->desc->protocol->destroy(s->protos[i].inst));
    ytree_free(s->tree);
    include_set_free(&s->includes);
    arena_free(&s->a);
    free(s);
}
