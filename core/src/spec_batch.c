/*
 * spec_batch: `- batch:` steps, k6's http.batch. A batch compiles to an
 * OP_BATCH followed by its requests as ordinary OP_STEPs (their checks,
 * captures, records and tags as anywhere), up to op.batch_end; the engine
 * runs them at once on the VU's lanes (engine_batch.c). With `group:` the
 * batch is also a group, which times it as a whole (group_duration).
 *
 * What the steps of a batch capture becomes visible after the batch: they
 * run at once, so a step reading what another one captures would read a
 * value that may or may not be there yet; that is a load-time error.
 */
#include <string.h>

#include "crash.h"
#include "spec_int.h"

typedef struct batch_cfg {
    uint64_t set;
    int64_t max_parallel, max_per_host;
    const char *group;
} batch_cfg;

static const volley_option batch_opts[] = {
    {.name = "max_parallel", .type = VOLLEY_OPT_INT, .offset = offsetof(batch_cfg, max_parallel),
     .default_value = "20", .min = 1, .max = SPEC_BATCH_MAX,
     .help = "requests of the batch in flight at once (k6's batch option)"},
    {.name = "max_parallel_per_host", .type = VOLLEY_OPT_INT,
     .offset = offsetof(batch_cfg, max_per_host), .default_value = "6", .min = 0,
     .max = SPEC_BATCH_MAX,
     .help = "of those, to one host at once; 0: no limit (k6's batchPerHost)"},
    {.name = "group", .type = VOLLEY_OPT_STRING, .offset = offsetof(batch_cfg, group),
     .help = "the batch is also a group of this name: group_duration times it"},
};
static const volley_option_map batch_map = {batch_opts, VOLLEY_COUNTOF(batch_opts),
                                            sizeof(batch_cfg), NULL};

const ynode *spec_batch_steps(const ynode *step)
{
    const ynode *b = step && step->kind == YNODE_MAP ? ynode_get(step, "batch") : NULL;
    if (!b)
        return NULL;
    return b->kind == YNODE_MAP ? ynode_get(b, "steps") : b;
}

/* A step of a batch must be a request of a protocol that runs in batches;
 * false after saying why not. (A step without any action is left to
 * compile_step, which reports it.) */
static bool batch_item_ok(spec_loader *L, const ynode *item, const char *ipath)
{
    if (item->kind != YNODE_MAP)
        return true;
    for (size_t j = 0; j < item->n_pairs; j++) {
        const ynode *k = item->pairs[j].key;
        const plug *p = plug_find_protocol(L->plugins, k->str);
        if (p && !p->desc->protocol->step_host) {
            ynode_error(L->d, k, "%s: a \"%s\" step cannot run in a batch (its plugin, %s, "
                        "does not support batches)", ipath, k->str, p->desc->name);
            return false;
        }
        if (p)
            return true;
    }
    /* every other action: a step of these made no OP_STEP, which the
     * batch's host interning and engine_batch.c take every step to be */
    static const char *const flow_keys[] = {"sleep", "group", "once", "batch", "log", "abort",
                                            "if", "choose", "repeat", "for_each", "check"};
    for (size_t j = 0; j < VOLLEY_COUNTOF(flow_keys); j++) {
        if (ynode_get(item, flow_keys[j])) {
            ynode_error(L->d, item, "%s: a batch holds requests only (such as http steps); \"%s\" cannot "
                        "be in a batch", ipath, flow_keys[j]);
            return false;
        }
    }
    return true;
}

/* Each step's host index among the batch's distinct hosts (a step whose
 * host is known only per request is a host of its own). */
static uint16_t intern_hosts(spec_loader *L, flow_op *ops, size_t n)
{
    const char *hosts[SPEC_BATCH_MAX];
    uint16_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        const plug *p = L->s->protos[ops[i].proto].plugin;
        const char *h = NULL;
        CRASH_CALL(p->desc->name, "protocol step_host",
                   h = p->desc->protocol->step_host(L->s->protos[ops[i].proto].inst, ops[i].step));
        uint16_t k = 0;
        while (h && k < nh && !(hosts[k] && strcmp(hosts[k], h) == 0))
            k++;
        if (!h || k == nh)
            hosts[nh++] = h;   /* NULL entries never match */
        ops[i].batch_host = h ? k : (uint16_t)(nh - 1);
    }
    return nh;
}

bool spec_compile_batch(spec_loader *L, const ynode *step, const char *path, const char *scname,
                        const char *group, op_list *out, int depth)
{
    static const char *const keys[] = {"batch"};
    if (!spec_check_keys(L, step, path, keys, 1))
        return false;
    const ynode *b = ynode_get(step, "batch");
    const char *bpath = spec_subpath(L, path, "batch");
    batch_cfg cfg;
    bool ok = true;
    const ynode *steps = b;
    if (b->kind == YNODE_MAP) {
        static const char *const own[] = {"steps"};
        ok = spec_fill_except(L, &batch_map, b, &cfg, bpath, own, 1) == 0;
        steps = ynode_get(b, "steps");
        if (!steps) {
            ynode_error(L->d, b, "%s: missing required key \"steps\" (the requests it sends at "
                        "once)", bpath);
            return false;
        }
    } else {
        ok = opt_fill(&L->oc, &batch_map, NULL, &cfg, bpath) == 0;
    }
    const char *spath = b->kind == YNODE_MAP ? spec_subpath(L, bpath, "steps") : bpath;
    if (steps->kind != YNODE_SEQ || steps->n_items == 0) {
        ynode_error(L->d, steps, "%s: expected a non-empty list of steps (the requests sent at "
                    "once), or { steps: [...], max_parallel: 20, max_parallel_per_host: 6 }",
                    spath);
        return false;
    }
    if (steps->n_items > SPEC_BATCH_MAX) {
        ynode_error(L->d, steps, "%s: at most %d steps in a batch", spath, SPEC_BATCH_MAX);
        return false;
    }
    if (!ok)
        return false;
    const char *gpath = group;
    if (cfg.group) {
        if (strstr(cfg.group, "::")) {
            ynode_error(L->d, ynode_get(b, "group"),
                        "%s.group: a group name must not contain \"::\"", bpath);
            return false;
        }
        gpath = arena_printf(&L->s->a, "%s::%s", group, cfg.group);
        flow_op *enter = spec_push_op(L, out);
        enter->kind = OP_GROUP_ENTER;
        enter->group = gpath;
        enter->location = spec_loc(L, step);
    }
    size_t at = out->n;
    flow_op *bop = spec_push_op(L, out);
    bop->kind = OP_BATCH;
    bop->group = gpath;
    bop->location = spec_loc(L, step);
    /* The steps see the captures made before the batch only; the batch's
     * own become visible after it. */
    size_t nc = L->n_caps;
    bool *before = arena_alloc(&L->s->a, nc + 1), *taken = arena_alloc(&L->s->a, nc + 1);
    if (!before || !taken)
        return false;
    memcpy(before, L->cap_seen, nc);
    memset(taken, 0, nc + 1);
    L->batch = steps;
    for (size_t i = 0; i < steps->n_items; i++) {
        const char *ipath = arena_printf(&L->s->a, "%s[%zu]", spath, i);
        if (!batch_item_ok(L, steps->items[i], ipath)) {
            ok = false;
            continue;
        }
        ok &= spec_compile_step(L, steps->items[i], ipath, scname, gpath, out, depth + 1);
        for (size_t c = 0; c < nc; c++) {
            taken[c] |= L->cap_seen[c] && !before[c];
            L->cap_seen[c] = before[c];
        }
    }
    L->batch = NULL;
    for (size_t c = 0; c < nc; c++)
        L->cap_seen[c] = before[c] || taken[c];
    bop = &out->ops[at];   /* the list may have moved */
    bop->batch_end = (uint32_t)out->n;
    size_t n = out->n - at - 1;
    bop->batch_max = (uint16_t)(cfg.max_parallel < (int64_t)n ? cfg.max_parallel : (int64_t)n);
    bop->batch_per_host = (uint16_t)cfg.max_per_host;
    if (ok && n)
        bop->batch_hosts = intern_hosts(L, &out->ops[at + 1], n);
    if (cfg.group) {
        flow_op *exit_op = spec_push_op(L, out);
        exit_op->kind = OP_GROUP_EXIT;
        exit_op->group = gpath;
        exit_op->location = spec_loc(L, step);
        exit_op->group_tags = (volley_tags)VOLLEY_TAGS_INIT;
    }
    return ok;
}
