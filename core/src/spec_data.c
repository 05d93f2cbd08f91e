/*
 * The data side of a spec: pools (rows bound per iteration with `use:`),
 * custom metrics, and what a step takes out of its response (capture) or
 * feeds into custom metrics (record), with on_check_fail.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "flow_ctl.h"
#include "spec_int.h"
#include "suggest.h"

/* ---- pools ---- */

typedef struct pool_cfg {
    uint64_t set;
    const char *file;
    int pick;
} pool_cfg;

static const char *const pick_names[] = {[PICK_PER_VU] = "per-vu", [PICK_SEQUENTIAL] = "sequential",
                                         [PICK_RANDOM] = "random", [PICK_UNIQUE] = "unique", NULL};

static const volley_option pool_opts[] = {
    {.name = "file", .type = VOLLEY_OPT_STRING, .offset = offsetof(pool_cfg, file),
     .help = "a .csv or .json file, relative to the spec file that names it"},
    {.name = "pick", .type = VOLLEY_OPT_ENUM, .offset = offsetof(pool_cfg, pick),
     .enum_values = pick_names, .default_value = "sequential",
     .help = "which row an iteration gets"},
};
static const volley_option_map pool_map = {pool_opts, VOLLEY_COUNTOF(pool_opts), sizeof(pool_cfg),
                                           NULL};
/* Rows have any field names: pool_from_yaml reads them. */
static const char *const pool_own_keys[] = {"rows"};

/* Every error of a pool is reported (a wrong pick does not hide a missing
 * file), as for a scenario. */
static void load_pool(spec_loader *L, const ynode *k, const ynode *v, pool_def *out)
{
    const char *path = spec_subpath(L, "pools", k->str);
    out->name = k->str;
    out->location = spec_loc(L, k);
    out->pick = PICK_SEQUENTIAL;
    if (!spec_want_map(L, v, path))
        return;
    pool_cfg cfg;
    if (spec_fill_except(L, &pool_map, v, &cfg, path, pool_own_keys,
                         VOLLEY_COUNTOF(pool_own_keys)) == 0)
        out->pick = (pick_mode)cfg.pick;
    const ynode *rows = ynode_get(v, "rows"), *file = ynode_get(v, "file");
    if (!!rows == !!file) {
        ynode_error(L->d, v, "%s: expected exactly one of rows (a list of mappings) or file "
                    "(a .csv or .json path)", path);
        return;
    }
    if (rows) {
        pool_from_yaml(&L->s->a, rows, &out->t, L->d, spec_subpath(L, path, "rows"));
        return;
    }
    if (!cfg.file)
        return;   /* not a string: reported */
    /* Relative to the file that names it (an included file's own folder). */
    char *dir = strdup(file->file);
    if (!dir)
        return;
    pool_load_file(&L->s->a, cfg.file, dirname(dir), &out->t, L->d, file->file, file->line,
                   file->col, spec_subpath(L, path, "file"));
    free(dir);
}

void spec_load_pools(spec_loader *L, const ynode *n)
{
    if (!spec_want_map(L, n, "pools"))
        return;
    spec *s = L->s;
    s->pools = arena_alloc(&s->a, (n->n_pairs + 1) * sizeof *s->pools);
    for (size_t i = 0; i < n->n_pairs; i++)
        load_pool(L, n->pairs[i].key, n->pairs[i].value, &s->pools[s->n_pools++]);
}

/* ---- custom metrics ---- */

static const char *const metric_types[] = {"counter", "gauge", "rate", "trend"};
static const volley_metric_type metric_type_ids[] = {VOLLEY_METRIC_COUNTER, VOLLEY_METRIC_GAUGE,
                                                     VOLLEY_METRIC_RATE, VOLLEY_METRIC_TREND};
static const char *const contains_names[] = {"default", "time", "data"};
static const volley_metric_contains contains_ids[] = {VOLLEY_CONTAINS_DEFAULT, VOLLEY_CONTAINS_TIME,
                                                      VOLLEY_CONTAINS_DATA};

static int pick_name(const ynode *n, const char *const *names, size_t count)
{
    if (!n || n->kind != YNODE_SCALAR)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (strcmp(n->str, names[i]) == 0)
            return (int)i;
    return -1;
}

/* k6's metric name rule, and none of the names built-in or plugin metrics
 * use (plugins register theirs later, when their first step compiles). */
static const char *bad_metric_name(const metrics_reg *reg, const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 128 || !((name[0] >= 'a' && name[0] <= 'z') ||
                                   (name[0] >= 'A' && name[0] <= 'Z') || name[0] == '_'))
        return "expected a name of letters, digits and _ (not starting with a digit), at most 128";
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return "expected a name of letters, digits and _ (not starting with a digit), at most 128";
    static const char *const reserved_prefix[] = {"http_req", "ws_", "volley_", "grpc_"};
    for (size_t i = 0; i < VOLLEY_COUNTOF(reserved_prefix); i++)
        if (strncmp(name, reserved_prefix[i], strlen(reserved_prefix[i])) == 0)
            return "this prefix is reserved for built-in metrics";
    if (metrics_find(reg, name) >= 0 || strcmp(name, "data_sent") == 0 ||
        strcmp(name, "data_received") == 0)
        return "a built-in metric has this name";
    return NULL;
}

void spec_load_metrics(spec_loader *L, const ynode *n)
{
    L->metrics_node = n;
    if (!spec_want_map(L, n, "metrics"))
        return;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *path = spec_subpath(L, "metrics", k->str);
        const char *why = bad_metric_name(L->reg, k->str);
        if (why) {
            ynode_error(L->d, k, "%s: %s", path, why);
            continue;
        }
        const ynode *type = v, *contains = NULL;
        if (v->kind == YNODE_MAP) {
            static const char *const keys[] = {"type", "contains"};
            if (!spec_check_keys(L, v, path, keys, 2))
                continue;
            type = ynode_get(v, "type");
            contains = ynode_get(v, "contains");
            if (!type) {
                ynode_error(L->d, v, "%s: missing required key \"type\" (counter, gauge, rate "
                            "or trend)", path);
                continue;
            }
        }
        int t = pick_name(type, metric_types, 4);
        if (t < 0) {
            ynode_error(L->d, type, "%s: expected counter, gauge, rate or trend (or { type, "
                        "contains })", path);
            continue;
        }
        int c = contains ? pick_name(contains, contains_names, 3) : 0;
        if (c < 0) {
            ynode_error(L->d, contains, "%s.contains: expected default, time or data", path);
            continue;
        }
        char err[256];
        if (metrics_register(L->reg, k->str, metric_type_ids[t], contains_ids[c], err, sizeof err) < 0)
            ynode_error(L->d, k, "%s: %s", path, err);
        else
            L->s->n_custom_metrics++;

    }
}

static bool is_custom_metric(spec_loader *L, int id)
{
    return id >= (int)L->s->first_custom_metric &&
           id < (int)(L->s->first_custom_metric + L->s->n_custom_metrics);
}

/* ---- scenario scope: use, captures ---- */

static const char *const reserved_names[] = {"env", "services", "row", "vu", "random",
                                             "now", "scenario", "uuid"};

static void add_capture_names(spec_loader *L, const ynode *c, const char ***names, size_t *n,
                              size_t *cap)
{
    if (!c || c->kind != YNODE_MAP)
        return;
    for (size_t j = 0; j < c->n_pairs; j++) {
        const char *name = c->pairs[j].key->str;
        size_t k = 0;
        while (k < *n && strcmp((*names)[k], name) != 0)
            k++;
        if (k < *n)
            continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 8;
            const char **t = arena_alloc(&L->s->a, nc * sizeof *t);
            if (!t)
                return;
            if (*n)
                memcpy(t, *names, *n * sizeof *t);
            *names = t;
            *cap = nc;
        }
        (*names)[(*n)++] = name;
    }
}

/* Captures a protocol step declares in its own options (VOLLEY_OPT_CAPTURES,
 * at any depth of OBJECT / OBJECT_LIST options), e.g. ws's expect.capture. */
static void collect_option_captures(spec_loader *L, const volley_option_map *map, const ynode *v,
                                    const char ***names, size_t *n, size_t *cap, int depth)
{
    if (!map || !v || v->kind != YNODE_MAP || depth > 8)
        return;
    for (size_t i = 0; i < v->n_pairs; i++) {
        const volley_option *o = NULL;
        for (size_t j = 0; j < map->count && !o; j++)
            if (strcmp(map->options[j].name, v->pairs[i].key->str) == 0)
                o = &map->options[j];
        const ynode *val = v->pairs[i].value;
        if (!o)
            continue;
        if (o->type == VOLLEY_OPT_CAPTURES)
            add_capture_names(L, val, names, n, cap);
        else if (o->type == VOLLEY_OPT_OBJECT)
            collect_option_captures(L, o->sub, val, names, n, cap, depth + 1);
        else if (o->type == VOLLEY_OPT_OBJECT_LIST && val->kind == YNODE_SEQ)
            for (size_t k = 0; k < val->n_items; k++)
                collect_option_captures(L, o->sub, val->items[k], names, n, cap, depth + 1);
    }
}

static void collect_captures(spec_loader *L, const ynode *flow, const char ***names, size_t *n,
                             size_t *cap, int depth)
{
    if (!flow || flow->kind != YNODE_SEQ || depth > 16)
        return;
    for (size_t i = 0; i < flow->n_items; i++) {
        const ynode *st = flow->items[i];
        if (st->kind != YNODE_MAP)
            continue;
        collect_captures(L, ynode_get(st, "steps"), names, n, cap, depth + 1);
        collect_captures(L, ynode_get(st, "once"), names, n, cap, depth + 1);
        const ynode *bodies[FLOW_MAX_BRANCHES + 1];
        size_t nb = flow_ctl_bodies(st, bodies, FLOW_MAX_BRANCHES + 1);
        for (size_t b = 0; b < nb; b++)
            collect_captures(L, bodies[b], names, n, cap, depth + 1);
        collect_captures(L, spec_batch_steps(st), names, n, cap, depth + 1);
        for (size_t j = 0; j < st->n_pairs; j++) {
            const plug *p = plug_find_protocol(L->plugins, st->pairs[j].key->str);
            if (p)
                collect_option_captures(L, p->desc->protocol->step_options, st->pairs[j].value,
                                        names, n, cap, 0);
        }
        add_capture_names(L, ynode_get(st, "capture"), names, n, cap);
    }
}

/* One name of `use:` into the scenario's pools; false after reporting. */
static bool use_pool(spec_loader *L, const ynode *n, const char *path, scenario *sc)
{
    const char *name = spec_want_string(L, n, path);
    if (!name)
        return false;
    for (size_t i = 0; i < L->s->n_pools; i++) {
        if (strcmp(L->s->pools[i].name, name) != 0)
            continue;
        for (size_t k = 0; k < sc->n_pools; k++) {
            if (sc->pools[k] == (int)i) {
                ynode_error(L->d, n, "%s: pool \"%s\" is used twice", path, name);
                return false;
            }
        }
        L->sc_pools[sc->n_pools] = &L->s->pools[i];
        sc->pools[sc->n_pools++] = (int)i;
        return true;
    }
    const char *names[64];
    size_t nn = 0;
    for (size_t i = 0; i < L->s->n_pools && nn < 64; i++)
        names[nn++] = L->s->pools[i].name;
    char hint[128] = "";
    suggest_hint(name, names, nn, hint, sizeof hint);
    ynode_error(L->d, n, "%s: no pool named \"%s\"%s (declare it under pools:)", path, name, hint);
    return false;
}

bool spec_scenario_data_begin(spec_loader *L, const ynode *use, const char *path,
                              const ynode *flow, scenario *sc)
{
    sc->n_pools = 0;
    L->sc_name = sc->name;
    L->sc_n_pools = 0;
    L->sc_pool_failed = false;
    bool ok = true;
    if (use) {
        const char *upath = spec_subpath(L, path, "use");
        if (use->kind == YNODE_SEQ) {
            if (use->n_items == 0 || use->n_items > VU_MAX_POOLS) {
                ynode_error(L->d, use, "%s: expected a pool name or a list of 1 to %d pool names", upath,
                            VU_MAX_POOLS);
                ok = false;
            } else {
                for (size_t i = 0; i < use->n_items; i++)
                    ok &= use_pool(L, use->items[i], arena_printf(&L->s->a, "%s[%zu]", upath, i), sc);
            }
        } else {
            ok = use_pool(L, use, upath, sc);
        }
        L->sc_n_pools = sc->n_pools;
        /* Said once here; the steps' ${row.*} are not checked again. */
        L->sc_pool_failed = !ok;
    }
    size_t cap = 0;
    L->cap_names = NULL;
    L->n_caps = 0;
    collect_captures(L, flow, &L->cap_names, &L->n_caps, &cap, 0);
    L->cap_seen = arena_alloc(&L->s->a, (L->n_caps + 1) * sizeof *L->cap_seen);
    sc->n_caps = L->n_caps;
    return ok;
}

void spec_scenario_data_end(spec_loader *L)
{
    L->sc_name = NULL;
    L->sc_n_pools = 0;
    L->sc_pool_failed = false;
    L->cur_step = NULL;
    L->cap_names = NULL;
    L->cap_seen = NULL;
    L->n_caps = 0;
}

const char *spec_scope_scenario(void *ctx)
{
    spec_loader *L = ctx;
    return L->outside_flow ? "scenario" : L->sc_name;
}

/* The pools of the scenario that have field `name`, into hits (slots). */
static size_t pools_with(spec_loader *L, const char *name, int *hits)
{
    size_t n = 0;
    for (size_t i = 0; i < L->sc_n_pools; i++)
        if (pool_field(&L->sc_pools[i]->t, name) >= 0)
            hits[n++] = (int)i;
    return n;
}

/*
 * ${row.FIELD}: the field of the one used pool that has it; a field of
 * two pools must be qualified as ${row.POOL.FIELD}. A name with a dot is
 * first read as POOL.FIELD when POOL is one of the scenario's pools.
 */
int64_t spec_scope_row_field(void *ctx, const char *name, int *slot, char *err, size_t errcap)
{
    spec_loader *L = ctx;
    *slot = 0;
    if (L->outside_flow || L->sc_pool_failed)
        return 0;   /* checked in each step / its use: was already reported */
    if (L->sc_n_pools == 0) {
        snprintf(err, errcap, "${row.%s}: a pool row is only known in a scenario with `use: POOL`",
                 name);
        return -1;
    }
    for (size_t i = 0; i < L->sc_n_pools; i++)
        if (L->sc_pools[i]->t.n_fields == 0)
            return 0;   /* a pool failed to load, and said so: nothing more */
    const char *dot = strchr(name, '.');
    for (size_t i = 0; dot && i < L->sc_n_pools; i++) {
        const pool_def *p = L->sc_pools[i];
        if (strlen(p->name) == (size_t)(dot - name) && memcmp(p->name, name, (size_t)(dot - name)) == 0) {
            int idx = pool_field(&p->t, dot + 1);
            if (idx >= 0) {
                *slot = (int)i;
                return idx;
            }
        }
    }
    int hits[VU_MAX_POOLS];
    size_t n = pools_with(L, name, hits);
    if (n == 1) {
        *slot = hits[0];
        return pool_field(&L->sc_pools[hits[0]]->t, name);
    }
    if (n > 1) {
        const pool_def *a = L->sc_pools[hits[0]], *b = L->sc_pools[hits[1]];
        snprintf(err, errcap, "${row.%s}: pools %s and %s both have a field \"%s\"; say which: "
                 "${row.%s.%s} or ${row.%s.%s}", name, a->name, b->name, name, a->name, name, b->name,
                 name);
        return -1;
    }
    /* No pool has it: suggest from all the fields of the used pools. */
    const char *fields[256];
    size_t nf = 0;
    for (size_t i = 0; i < L->sc_n_pools; i++)
        for (size_t f = 0; f < L->sc_pools[i]->t.n_fields && nf < 256; f++)
            fields[nf++] = L->sc_pools[i]->t.fields[f];
    char hint[128] = "";
    suggest_hint(name, fields, nf, hint, sizeof hint);
    char list[512];
    suggest_join(fields, nf, list, sizeof list);
    if (L->sc_n_pools == 1)
        snprintf(err, errcap, "${row.%s}: pool %s has no field \"%s\"%s; its fields: %s", name,
                 L->sc_pools[0]->name, name, hint, list);
    else
        snprintf(err, errcap, "${row.%s}: none of the scenario's pools has a field \"%s\"%s; their "
                 "fields: %s", name, name, hint, list);
    return -1;
}

/* Whether another step of the batch being compiled captures name: the
 * steps of a batch run at once, so none may read what another takes. */
static bool batch_sibling_captures(spec_loader *L, const char *name)
{
    const ynode *steps = L->batch;
    for (size_t i = 0; i < steps->n_items; i++) {
        if (steps->items[i] == L->cur_step)
            continue;
        const char **names = NULL;
        size_t n = 0, cap = 0;
        ynode one = {.kind = YNODE_SEQ, .n_items = 1, .items = (ynode **)&steps->items[i]};
        collect_captures(L, &one, &names, &n, &cap, 0);
        for (size_t k = 0; k < n; k++)
            if (strcmp(names[k], name) == 0)
                return true;
    }
    return false;
}

int spec_scope_capture(void *ctx, const char *name)
{
    spec_loader *L = ctx;
    if (L->outside_flow)
        return strchr(name, '.') ? -1 : 0;   /* loop names are a flow's own */
    int loop_slot = flow_ctl_scope_name(L, name);   /* ${item}, ${loop.index}... */
    if (loop_slot >= 0)
        return loop_slot;
    for (size_t i = 0; i < L->n_caps; i++) {
        if (strcmp(L->cap_names[i], name) != 0)
            continue;
        if (L->batch && batch_sibling_captures(L, name))
            return -4;
        if (L->cap_seen[i])
            return (int)i;
        /* Not yet: captured by this step (its capture: or its options) or
         * by a later one. */
        const char **own = NULL;
        size_t n_own = 0, cap_own = 0;
        if (L->cur_step) {
            ynode one = {.kind = YNODE_SEQ, .n_items = 1, .items = (ynode **)&L->cur_step};
            collect_captures(L, &one, &own, &n_own, &cap_own, 0);
        }
        for (size_t k = 0; k < n_own; k++)
            if (strcmp(own[k], name) == 0)
                return -3;
        return -2;
    }
    return -1;
}

/* ---- a step's data keys ---- */

/* A `capture:` map compiled into *defs (group: for the captures metric). */
static bool compile_capture_map(spec_loader *L, const ynode *n, const char *path,
                                const char *group, capture_def **defs, size_t *count)
{
    *count = 0;
    if (!spec_want_map(L, n, path))
        return false;
    *defs = arena_alloc(&L->s->a, (n->n_pairs + 1) * sizeof **defs);
    if (!*defs)
        return false;
    bool ok = true;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *kpath = spec_subpath(L, path, k->str);
        const char *p = k->str;
        bool valid = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        for (; *p && valid; p++)
            valid = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        if (!valid) {
            ynode_error(L->d, k, "%s: expected a name of letters, digits, _ and - (used as ${%s})",
                        kpath, k->str);
            ok = false;
            continue;
        }
        bool reserved = false;
        for (size_t r = 0; r < VOLLEY_COUNTOF(reserved_names); r++)
            reserved |= strcmp(k->str, reserved_names[r]) == 0;
        if (reserved) {
            ynode_error(L->d, k, "%s: \"%s\" is a template namespace; choose another name",
                        kpath, k->str);
            ok = false;
            continue;
        }
        capture_def *c = &(*defs)[*count];
        if (!capture_compile(&L->s->a, L->d, k, v, kpath, c)) {
            /* Reported; later uses of the name need not say it again. */
            for (size_t s = 0; s < L->n_caps; s++)
                if (strcmp(L->cap_names[s], k->str) == 0)
                    L->cap_seen[s] = true;
            ok = false;
            continue;
        }
        (*count)++;
        c->slot = -1;
        for (size_t s = 0; s < L->n_caps; s++)
            if (strcmp(L->cap_names[s], k->str) == 0)
                c->slot = (int)s;
        int sid = metrics_add_hidden(L->reg, BUILTIN_CAPTURES, group, c->name);
        if (sid < 0 || c->slot < 0)
            return false;
        c->series = (uint32_t)sid;
    }
    return ok;
}

volley_captures *spec_compile_opt_captures(void *ctx, const ynode *n, const char *path)
{
    spec_loader *L = ctx;
    if (!L->cap_seen) {
        ynode_error(L->d, n, "%s: captures are only accepted in a scenario's flow", path);
        return NULL;
    }
    volley_captures *c = arena_alloc(&L->s->a, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->group = L->cur_group ? L->cur_group : "";
    c->proto_rev = L->cur_proto_rev;
    bool ok = compile_capture_map(L, n, path, c->group, &c->defs, &c->n);
    /* Listed even when it failed, so spec_free releases what compiled. */
    c->next = L->s->xcaptures;
    L->s->xcaptures = c;
    return ok ? c : NULL;
}

/* A record entry is { value: SOURCE, when: ..., tags: ... } or SOURCE alone. */
typedef struct record_cfg {
    uint64_t set;
    volley_scalar value;   /* its node is read by record_source */
    int when;
    volley_template_map tags;   /* its node is read by spec_compile_tags */
} record_cfg;

static const char *const when_names[] = {[REC_ALWAYS] = "always", [REC_PASSED] = "passed",
                                         [REC_FAILED] = "failed", NULL};

static const volley_option record_opts[] = {
    {.name = "value", .type = VOLLEY_OPT_SCALAR, .offset = offsetof(record_cfg, value),
     .flags = VOLLEY_OPT_REQUIRED,
     .help = "checks, checks_failed, duration, elapsed, status, timings.NAME, bytes.sent, "
             "bytes.received, a number or a ${...} template"},
    {.name = "when", .type = VOLLEY_OPT_ENUM, .offset = offsetof(record_cfg, when),
     .enum_values = when_names, .default_value = "always",
     .help = "record always, or only when the step's checks passed or failed"},
    {.name = "tags", .type = VOLLEY_OPT_TEMPLATE_MAP, .offset = offsetof(record_cfg, tags),
     .help = "tags of this entry's samples, beside the step's (k6's metric.add(v, tags))"},
};
static const volley_option_map record_map = {record_opts, VOLLEY_COUNTOF(record_opts),
                                             sizeof(record_cfg), NULL};

/* The response's parts a record may read (plugin.h, revision 7), as k6's
 * res.timings.NAME; bytes.* as data_sent/data_received of the response. */
static const struct {
    const char *name;
    rec_source source;
    rec_part part;
} record_parts[] = {
    {"timings.blocked", REC_TIMING, REC_T_BLOCKED},
    {"timings.connecting", REC_TIMING, REC_T_CONNECTING},
    {"timings.tls_handshaking", REC_TIMING, REC_T_TLS},
    {"timings.sending", REC_TIMING, REC_T_SENDING},
    {"timings.waiting", REC_TIMING, REC_T_WAITING},
    {"timings.receiving", REC_TIMING, REC_T_RECEIVING},
    {"timings.duration", REC_TIMING, REC_T_DURATION},
    {"bytes.sent", REC_BYTES, REC_B_SENT},
    {"bytes.received", REC_BYTES, REC_B_RECEIVED},
};

#define RECORD_SOURCES                                                                         \
    "checks, checks_failed, duration, elapsed, status, timings.NAME (blocked, connecting, "  \
    "tls_handshaking, sending, waiting, receiving, duration), bytes.sent, bytes.received, "    \
    "a number, a ${...} template or { value, when, tags }"

/* A record's SOURCE (the scalar v) into r; false after reporting. */
static bool record_source(spec_loader *L, const ynode *v, const char *kpath, record_def *r)
{
    double x;
    if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
        ynode_error(L->d, v, "%s: expected " RECORD_SOURCES, kpath);
        return false;
    }
    for (size_t i = 0; i < VOLLEY_COUNTOF(record_parts); i++)
        if (strcmp(v->str, record_parts[i].name) == 0) {
            r->source = record_parts[i].source;
            r->part = record_parts[i].part;
            return true;
        }
    if (strcmp(v->str, "checks") == 0) {
        r->source = REC_CHECKS;
    } else if (strcmp(v->str, "checks_failed") == 0) {
        r->source = REC_CHECKS_FAILED;
    } else if (strcmp(v->str, "duration") == 0) {
        r->source = REC_DURATION;
    } else if (strcmp(v->str, "status") == 0) {
        r->source = REC_STATUS;
    } else if (strcmp(v->str, "elapsed") == 0) {
        r->source = REC_ELAPSED;
    } else if (v->plain && ynode_double(v, &x) && x - x == 0) {
        r->source = REC_CONST;
        r->value = x;
    } else if (strstr(v->str, "${")) {
        char err[512];
        r->source = REC_TEMPLATE;
        r->tmpl = tmpl_compile(&L->s->a, v->str, v->len, &L->scope, err, sizeof err);
        if (!r->tmpl) {
            ynode_error(L->d, v, "%s: %s", kpath, err);
            return false;
        }
    } else {
        ynode_error(L->d, v, "%s: expected " RECORD_SOURCES ", got \"%s\"", kpath, v->str);
        return false;
    }
    return true;
}

/* The step's tags with an entry's own (sorted both; the entry's win), in
 * the spec's arena: one array per entry, made once, which tag sets intern
 * by identity. */
static const volley_tag *merge_tags(spec_loader *L, const volley_tag *step, size_t n_step,
                                    const volley_tag *own, size_t n_own, size_t *n_out)
{
    volley_tag *t = arena_alloc(&L->s->a, (n_step + n_own + 1) * sizeof *t);
    size_t i = 0, j = 0, n = 0;
    while (t && (i < n_step || j < n_own)) {
        int c = i == n_step ? 1 : j == n_own ? -1 : strcmp(step[i].key, own[j].key);
        if (c == 0)
            i++;   /* the entry's wins */
        t[n++] = c < 0 ? step[i++] : own[j++];
    }
    *n_out = n;
    return t;
}

static bool compile_records(spec_loader *L, const ynode *n, const char *path, flow_op *op)
{
    if (!spec_want_map(L, n, path))
        return false;
    op->records = arena_alloc(&L->s->a, (n->n_pairs + 1) * sizeof *op->records);
    bool ok = true;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *kpath = spec_subpath(L, path, k->str);
        int id = metrics_find(L->reg, k->str);
        if (!is_custom_metric(L, id) && L->metrics_node && L->metrics_node->kind == YNODE_MAP &&
            ynode_get(L->metrics_node, k->str)) {
            ok = false;   /* declared, but wrongly: reported under metrics: */
            continue;
        }
        if (!is_custom_metric(L, id)) {
            ynode_error(L->d, k, "%s: \"%s\" is not a custom metric (declare it under metrics: "
                        "with a type)", kpath, k->str);
            ok = false;
            continue;
        }
        record_def r = {.metric = (uint32_t)id, .location = spec_loc(L, v)};
        if (v->kind == YNODE_MAP) {
            record_cfg cfg;
            if (opt_fill(&L->oc, &record_map, v, &cfg, kpath) != 0) {
                ok = false;
                continue;
            }
            r.when = (rec_when)cfg.when;
            const ynode *tags = ynode_get(v, "tags");
            const volley_tag *own;
            size_t n_own;
            if (tags && !spec_compile_tags(L, tags, spec_subpath(L, kpath, "tags"), &own, &n_own)) {
                ok = false;
                continue;
            }
            if (tags && !(r.tags = merge_tags(L, op->tags, op->n_tags, own, n_own, &r.n_tags))) {
                ynode_error(L->d, tags, "%s.tags: out of memory", kpath);
                return false;
            }
            v = ynode_get(v, "value");
        }
        if (!record_source(L, v, kpath, &r)) {
            ok = false;
            continue;
        }
        op->records[op->n_records++] = r;
    }
    return ok;
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const volley_tag *)a)->key, ((const volley_tag *)b)->key);
}

bool spec_compile_tags(spec_loader *L, const ynode *n, const char *path, const volley_tag **out,
                       size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!spec_want_map(L, n, path))
        return false;
    volley_tag *t = arena_alloc(&L->s->a, (n->n_pairs + 1) * sizeof *t);
    size_t nt = 0;
    bool ok = true;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *kpath = spec_subpath(L, path, k->str);
        if (tag_key_parse(k->str) >= 0) {
            ynode_error(L->d, k, "%s: \"%s\" is a tag the runner sets itself (name, method, url, "
                        "status, expected_response, check, error_code, scenario, group, tls_version, capture)", kpath,
                        k->str);
            ok = false;
            continue;
        }
        if (!*k->str) {
            ynode_error(L->d, k, "%s: expected a non-empty tag name", kpath);
            ok = false;
            continue;
        }
        if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
            ynode_error(L->d, v, "%s: expected a string, got %s", kpath, ynode_kind_name(v));
            ok = false;
            continue;
        }
        char err[512];
        volley_template *tm = tmpl_compile(&L->s->a, v->str, v->len, &L->scope, err, sizeof err);
        if (!tm || !tmpl_const(tm)) {
            ynode_error(L->d, v, "%s: %s", kpath,
                        tm ? "a tag value is fixed at load time (only ${env.*}, "
                             "${services.*} and ${scenario.name} templates)" : err);
            ok = false;
            continue;
        }
        if (metrics_add_step_tag_key(L->reg, k->str) != 0)
            return false;
        t[nt++] = (volley_tag){.key = k->str, .value = tmpl_const(tm)};
    }
    qsort(t, nt, sizeof *t, cmp_tag);
    *out = t;
    *n_out = nt;
    return ok;
}

/* A name ${env.NAME} can spell and a shell can export. */
static bool env_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

bool spec_scenario_env(spec_loader *L, const ynode *n, const char *path)
{
    L->sc_env = NULL;
    L->sc_n_env = 0;
    if (!spec_want_map(L, n, path))
        return false;
    volley_tag *e = arena_alloc(&L->s->a, (n->n_pairs + 1) * sizeof *e);
    size_t ne = 0;
    bool ok = true;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        const char *kpath = spec_subpath(L, path, k->str);
        if (!env_name_ok(k->str)) {
            ynode_error(L->d, k, "%s: expected an environment variable name (letters, digits and _, "
                        "not starting with a digit)", kpath);
            ok = false;
        } else if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
            ynode_error(L->d, v, "%s: expected a string, got %s", kpath, ynode_kind_name(v));
            ok = false;
        } else {
            /* as written: k6's scenario env is plain strings too */
            e[ne++] = (volley_tag){.key = k->str, .value = v->str};
        }
    }
    L->sc_env = e;
    L->sc_n_env = ne;
    return ok;
}

bool spec_compile_step_data(spec_loader *L, const ynode *step, const char *path, flow_op *op)
{
    bool ok = true;
    const ynode *tags = ynode_get(step, "tags");
    if (tags)
        ok &= spec_compile_tags(L, tags, spec_subpath(L, path, "tags"), &op->tags, &op->n_tags);
    const ynode *cap = ynode_get(step, "capture");
    if (cap)
        ok &= compile_capture_map(L, cap, spec_subpath(L, path, "capture"), op->group, &op->captures,
                                  &op->n_captures);
    /* Names this step captures are visible from here on: to its own
     * record, and to the steps after it (its request was compiled before). */
    for (size_t i = 0; i < op->n_captures; i++)
        if (op->captures[i].slot >= 0)
            L->cap_seen[op->captures[i].slot] = true;
    const ynode *rec = ynode_get(step, "record");
    if (rec)
        ok &= compile_records(L, rec, spec_subpath(L, path, "record"), op);
    const ynode *of = ynode_get(step, "on_check_fail");
    if (of) {
        static const char *const modes[] = {"continue", "stop_iteration", "abort_test"};
        int m = pick_name(of, modes, 3);
        if (m < 0) {
            ynode_error(L->d, of, "%s.on_check_fail: expected continue, stop_iteration or abort_test",
                        path);
            ok = false;
        } else {
            op->on_fail = (on_fail)m;
        }
    }
    return ok;
}

uint32_t spec_step_reads(const flow_op *op)
{
    uint32_t r = check_items_reads(op->checks, op->n_checks);
    for (size_t i = 0; i < op->n_captures; i++)
        r |= op->captures[i].from == CAP_FROM_HEADER || op->captures[i].from == CAP_FROM_COOKIE ||
                     op->captures[i].from == CAP_FROM_JAR
                 ? VOLLEY_READS_HEADERS
             : op->captures[i].from == CAP_FROM_URL ? 0
                                                    : VOLLEY_READS_BODY;
    return r;
}

void spec_free_step_data(flow_op *op)
{
    check_free_items(op->checks, op->n_checks);
    for (size_t i = 0; i < op->n_captures; i++)
        capture_free(&op->captures[i]);
}

/* ${setup.NAME}: what the spec's setup: flow captured, in the scenarios and
 * teardown; never inside setup itself, which runs before its values exist. */
int64_t spec_scope_setup_field(void *ctx, const char *name, char *err, size_t errcap)
{
    spec_loader *L = ctx;
    const spec *s = L->s;
    if (L->outside_flow)
        return 0;   /* a service's or default header: checked in each step */
    if (L->sc_role == SC_ROLE_SETUP) {
        snprintf(err, errcap, "${setup.%s}: setup's values exist only after setup ran; inside "
                 "setup use the captured name itself (${%s})", name, name);
        return -1;
    }
    if (!s->setup_names) {
        snprintf(err, errcap, "${setup.%s}: the spec has no setup: flow to capture it", name);
        return -1;
    }
    for (size_t i = 0; i < s->n_setup_names; i++)
        if (strcmp(s->setup_names[i], name) == 0)
            return (int64_t)i;
    char hint[128] = "";
    suggest_hint(name, s->setup_names, s->n_setup_names, hint, sizeof hint);
    char list[512];
    suggest_join(s->setup_names, s->n_setup_names, list, sizeof list);
    snprintf(err, errcap, "${setup.%s}: setup captures no \"%s\"%s; it captures: %s", name, name, hint,
             s->n_setup_names ? list : "nothing");
    return -1;
}
