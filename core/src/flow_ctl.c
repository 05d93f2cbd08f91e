/*
 * Compiles a flow's control steps (flow_ctl.h) into OP_CTL ops:
 *
 *   if:       IF(false -> else) then-steps [JUMP(end) else-steps]
 *   choose:   CHOOSE branch-1 JUMP(end) branch-2 JUMP(end) ... branch-n
 *   loops:    LOOP(no pass -> after) body NEXT(again -> body)
 *
 * and keeps, while a loop's body compiles, the names it binds (${item},
 * ${item.FIELD}, ${loop.index}, `as:`), each a capture slot after the
 * scenario's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_ctl.h"
#include "spec_int.h"
#include "suggest.h"

/* A loop whose body is compiling, and the names it binds. */
typedef struct scope_loop {
    flow_loop *loop;
    const char *as;
    size_t cap_fields;
} scope_loop;

struct flow_scope {
    scope_loop stack[FLOW_MAX_LOOP_DEPTH];
    size_t depth;
    size_t n_extra;        /* loop slots of the scenario so far */
};

static const char *const ctl_keys[] = {"if", "choose", "repeat", "for_each"};

bool flow_ctl_is_step(const ynode *step)
{
    for (size_t i = 0; i < VOLLEY_COUNTOF(ctl_keys); i++)
        if (ynode_get(step, ctl_keys[i]))
            return true;
    return false;
}

size_t flow_ctl_bodies(const ynode *step, const ynode **out, size_t max)
{
    size_t n = 0;
    if (!flow_ctl_is_step(step))
        return 0;
    const ynode *e = ynode_get(step, "else"), *ch = ynode_get(step, "choose");
    if (e && n < max)
        out[n++] = e;   /* `steps` is collected by the caller, as a group's */
    for (size_t i = 0; ch && ch->kind == YNODE_SEQ && i < ch->n_items && n < max; i++)
        if (ch->items[i]->kind == YNODE_MAP && ynode_get(ch->items[i], "steps"))
            out[n++] = ynode_get(ch->items[i], "steps");
    return n;
}

static flow_ctl *new_ctl(spec_loader *L, fc_kind kind, const ynode *at)
{
    flow_ctl *c = arena_alloc(&L->s->a, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->location = spec_loc(L, at);
    return c;
}

/* ---- if ---- */

static bool compile_if(spec_loader *L, const ynode *step, const char *path, int depth,
                       const flow_emit *em)
{
    static const char *const keys[] = {"if", "steps", "else"};
    bool ok = spec_check_keys(L, step, path, keys, VOLLEY_COUNTOF(keys));
    const ynode *steps = ynode_get(step, "steps"), *els = ynode_get(step, "else");
    if (!steps) {
        ynode_error(L->d, step, "%s: missing required key \"steps\" (what runs when the condition "
                    "holds): if: CONDITION, steps: [...], else: [...]", path);
        return false;
    }
    flow_ctl *c = new_ctl(L, FC_IF, step);
    if (!c)
        return false;
    flow_cond *conds = NULL;
    ok &= flow_cond_compile(&L->s->a, L->d, ynode_get(step, "if"), spec_subpath(L, path, "if"),
                            &L->scope, &conds, &c->n_cond, &L->s->flow_regs);
    c->cond = conds;
    em->push(em->ctx, c);
    ok &= em->steps(em->ctx, steps, spec_subpath(L, path, "steps"), depth + 1);
    if (els) {
        flow_ctl *j = new_ctl(L, FC_JUMP, els);
        if (!j)
            return false;
        em->push(em->ctx, j);
        c->target = em->count(em->ctx);
        ok &= em->steps(em->ctx, els, spec_subpath(L, path, "else"), depth + 1);
        j->target = em->count(em->ctx);
    } else {
        c->target = em->count(em->ctx);
    }
    return ok;
}

/* ---- choose ---- */

static bool compile_choose(spec_loader *L, const ynode *step, const char *path, int depth,
                           const flow_emit *em)
{
    static const char *const keys[] = {"choose"};
    static const char *const branch_keys[] = {"weight", "steps"};
    bool ok = spec_check_keys(L, step, path, keys, 1);
    const ynode *list = ynode_get(step, "choose");
    const char *cpath = spec_subpath(L, path, "choose");
    if (list->kind != YNODE_SEQ || list->n_items < 1 || list->n_items > FLOW_MAX_BRANCHES) {
        ynode_error(L->d, list, "%s: expected a list of 1 to %d branches: - { weight: 3, steps: "
                    "[...] }", cpath, FLOW_MAX_BRANCHES);
        return false;
    }
    flow_ctl *c = new_ctl(L, FC_CHOOSE, step);
    size_t n = list->n_items;
    flow_ctl **jumps = arena_alloc(&L->s->a, n * sizeof *jumps);
    if (!c || !jumps)
        return false;
    c->cum = arena_alloc(&L->s->a, n * sizeof *c->cum);
    c->start = arena_alloc(&L->s->a, n * sizeof *c->start);
    if (!c->cum || !c->start)
        return false;
    c->n_branches = n;
    em->push(em->ctx, c);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const ynode *b = list->items[i];
        const char *bpath = arena_printf(&L->s->a, "%s[%zu]", cpath, i);
        jumps[i] = NULL;
        c->start[i] = UINT32_MAX;
        c->cum[i] = total;
        if (!spec_want_map(L, b, bpath)) {
            ok = false;
            continue;
        }
        ok &= spec_check_keys(L, b, bpath, branch_keys, 2);
        const ynode *w = ynode_get(b, "weight"), *steps = ynode_get(b, "steps");
        double x = 0;
        if (!w) {
            ynode_error(L->d, b, "%s: missing required key \"weight\" (a number > 0; the branch "
                        "runs weight/total of the time)", bpath);
            ok = false;
        } else if (w->kind != YNODE_SCALAR || !w->plain || !ynode_double(w, &x) || !(x > 0) ||
                   x > 1e12) {
            ynode_error(L->d, w, "%s.weight: expected a number greater than 0, got %s%s%s", bpath,
                        w->kind == YNODE_SCALAR ? "\"" : ynode_kind_name(w),
                        w->kind == YNODE_SCALAR ? w->str : "", w->kind == YNODE_SCALAR ? "\"" : "");
            ok = false;
        }
        total += x;
        c->cum[i] = total;
        if (!steps)
            continue;   /* a branch that does nothing */
        c->start[i] = em->count(em->ctx);
        ok &= em->steps(em->ctx, steps, spec_subpath(L, bpath, "steps"), depth + 1);
        if (i + 1 < n) {
            if (!(jumps[i] = new_ctl(L, FC_JUMP, b)))
                return false;
            em->push(em->ctx, jumps[i]);
        }
    }
    uint32_t end = em->count(em->ctx);
    for (size_t i = 0; i < n; i++) {
        if (jumps[i])
            jumps[i]->target = end;
        if (c->start[i] == UINT32_MAX)
            c->start[i] = end;
    }
    return ok;
}

/* ---- loops ---- */

static const char *const reserved[] = {"env", "services", "row", "vu", "random", "now",
                                       "scenario", "uuid", "setup", "loop"};

/* `as: NAME`: a name of letters, digits, _ and - that is neither a
 * template namespace nor a captured name. */
static const char *loop_name(spec_loader *L, const ynode *n, const char *path)
{
    const char *s = spec_want_string(L, n, path);
    if (!s)
        return NULL;
    bool valid = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_';
    for (const char *p = s; *p && valid; p++)
        valid = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '-';
    if (!valid) {
        ynode_error(L->d, n, "%s: expected a name of letters, digits, _ and - (used as ${%s})", path, s);
        return NULL;
    }
    for (size_t i = 0; i < VOLLEY_COUNTOF(reserved); i++)
        if (strcmp(s, reserved[i]) == 0) {
            ynode_error(L->d, n, "%s: \"%s\" is a template namespace; choose another name", path, s);
            return NULL;
        }
    for (size_t i = 0; i < L->n_caps; i++)
        if (strcmp(L->cap_names[i], s) == 0) {
            ynode_error(L->d, n, "%s: \"%s\" is also a captured name in this scenario; choose "
                        "another name", path, s);
            return NULL;
        }
    return s;
}

static int new_slot(spec_loader *L)
{
    return (int)(L->n_caps + L->flow->n_extra++);
}

static bool loop_count(spec_loader *L, const ynode *v, const char *path, flow_loop *lp)
{
    int64_t n;
    lp->count = -1;
    if (v->kind == YNODE_SCALAR && v->plain && ynode_int(v, &n)) {
        if (n < 0) {
            ynode_error(L->d, v, "%s: expected a count of 0 or more, got %s", path, v->str);
            return false;
        }
        lp->count = n;
        return true;
    }
    if (v->kind == YNODE_SCALAR && strstr(v->str, "${")) {
        char err[512];
        lp->count_tmpl = tmpl_compile(&L->s->a, v->str, v->len, &L->scope, err, sizeof err);
        if (!lp->count_tmpl) {
            ynode_error(L->d, v, "%s: %s", path, err);
            return false;
        }
        const char *k = tmpl_const(lp->count_tmpl);
        char *end;
        if (k) {   /* ${env.N}: known now */
            long long x = strtoll(k, &end, 10);
            if (!*k || *end || x < 0) {
                ynode_error(L->d, v, "%s: expected a count of 0 or more, got \"%s\"", path, k);
                return false;
            }
            lp->count = x;
            lp->count_tmpl = NULL;
        }
        return true;
    }
    ynode_error(L->d, v, "%s: expected a count (an integer of 0 or more) or a ${...} template "
                "giving one, got %s", path, v->kind == YNODE_SCALAR ? v->str : ynode_kind_name(v));
    return false;
}

static bool loop_list(spec_loader *L, const ynode *v, const char *path, flow_loop *lp)
{
    if (v->kind == YNODE_SEQ) {
        lp->items = arena_alloc(&L->s->a, (v->n_items + 1) * sizeof *lp->items);
        if (!lp->items)
            return false;
        bool ok = true;
        for (size_t i = 0; i < v->n_items; i++) {
            const char *ip = arena_printf(&L->s->a, "%s[%zu]", path, i);
            lp->items[i] = tjson_compile(&L->s->a, v->items[i], &L->scope, L->d, ip);
            ok &= lp->items[i] != NULL;
        }
        lp->n_items = v->n_items;
        return ok;
    }
    if (v->kind == YNODE_SCALAR && strstr(v->str, "${")) {
        char err[512];
        lp->list_tmpl = tmpl_compile(&L->s->a, v->str, v->len, &L->scope, err, sizeof err);
        if (!lp->list_tmpl)
            ynode_error(L->d, v, "%s: %s", path, err);
        return lp->list_tmpl != NULL;
    }
    ynode_error(L->d, v, "%s: expected a list, or a ${...} template giving a JSON array (a "
                "captured array, a pool field), got %s", path,
                v->kind == YNODE_SCALAR ? v->str : ynode_kind_name(v));
    return false;
}

static bool compile_loop(spec_loader *L, const ynode *step, const char *path, int depth,
                         const flow_emit *em)
{
    static const char *const keys[] = {"repeat", "for_each", "steps", "as", "max"};
    bool ok = spec_check_keys(L, step, path, keys, VOLLEY_COUNTOF(keys));
    const ynode *rep = ynode_get(step, "repeat"), *each = ynode_get(step, "for_each");
    const ynode *steps = ynode_get(step, "steps"), *as = ynode_get(step, "as"),
                *max = ynode_get(step, "max");
    const char *kind = each ? "for_each" : "repeat";
    if (rep && each) {
        ynode_error(L->d, step, "%s: a loop is either repeat: N or for_each: LIST, not both", path);
        return false;
    }
    if (!steps) {
        ynode_error(L->d, step, "%s: missing required key \"steps\" (the loop's body): %s", path,
                    each ? "for_each: LIST, as: item, steps: [...]" : "repeat: N, steps: [...]");
        return false;
    }
    if (!L->flow) {
        L->flow = arena_alloc(&L->s->a, sizeof *L->flow);
        if (!L->flow)
            return false;
        memset(L->flow, 0, sizeof *L->flow);
    }
    struct flow_scope *fs = L->flow;
    if (fs->depth >= FLOW_MAX_LOOP_DEPTH) {
        ynode_error(L->d, step, "%s: loops nested deeper than %d", path, FLOW_MAX_LOOP_DEPTH);
        return false;
    }
    flow_loop *lp = arena_alloc(&L->s->a, sizeof *lp);
    flow_ctl *c = new_ctl(L, FC_LOOP, step), *next = new_ctl(L, FC_NEXT, step);
    if (!lp || !c || !next)
        return false;
    memset(lp, 0, sizeof *lp);
    lp->each = each != NULL;
    lp->level = (uint32_t)fs->depth;
    lp->location = c->location;
    lp->item_slot = lp->index_slot = -1;
    lp->max = FLOW_LOOP_MAX_DEFAULT;
    int64_t m;
    if (max && (max->kind != YNODE_SCALAR || !max->plain || !ynode_int(max, &m) || m < 1 ||
                m > FLOW_LOOP_MAX_LIMIT)) {
        ynode_error(L->d, max, "%s.max: expected the most passes, an integer from 1 to %d", path,
                    FLOW_LOOP_MAX_LIMIT);
        ok = false;
    } else if (max) {
        lp->max = (uint32_t)m;
    }
    const char *kpath = spec_subpath(L, path, kind);
    ok &= each ? loop_list(L, each, kpath, lp) : loop_count(L, rep, kpath, lp);
    size_t fixed = each ? (lp->list_tmpl ? 0 : lp->n_items) : (lp->count > 0 ? (size_t)lp->count : 0);
    if (fixed > lp->max) {
        ynode_error(L->d, each ? each : rep, "%s: %zu passes is more than the loop's max (%u); "
                    "raise max: (up to %d)", kpath, fixed, lp->max, FLOW_LOOP_MAX_LIMIT);
        ok = false;
    }
    const char *name = each ? "item" : NULL;
    if (as && !(name = loop_name(L, as, spec_subpath(L, path, "as"))))
        ok = false;
    if (name)
        lp->item_slot = new_slot(L);
    if (!each && name)
        lp->index_slot = lp->item_slot;   /* repeat's variable is its pass */
    c->loop = next->loop = lp;
    em->push(em->ctx, c);
    lp->body = em->count(em->ctx);
    fs->stack[fs->depth++] = (scope_loop){.loop = lp, .as = name};
    ok &= em->steps(em->ctx, steps, spec_subpath(L, path, "steps"), depth + 1);
    fs->depth--;
    em->push(em->ctx, next);
    lp->after = em->count(em->ctx);
    return ok;
}

bool flow_ctl_compile(spec_loader *L, const ynode *step, const char *path, int depth,
                      const flow_emit *em)
{
    if (ynode_get(step, "if"))
        return compile_if(L, step, path, depth, em);
    if (ynode_get(step, "choose"))
        return compile_choose(L, step, path, depth, em);
    return compile_loop(L, step, path, depth, em);
}

/* ${AS.a.b}: a slot the loop fills from its element at each pass. */
static int field_slot(spec_loader *L, scope_loop *sl, const char *rest)
{
    flow_loop *lp = sl->loop;
    size_t nk = 1;
    for (const char *p = rest; *p; p++)
        nk += *p == '.';
    const char **keys = arena_alloc(&L->s->a, nk * sizeof *keys);
    if (!keys)
        return -1;
    const char *p = rest;
    for (size_t i = 0; i < nk; i++) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0)
            return -1;
        keys[i] = arena_strndup(&L->s->a, p, n);
        p += n + 1;
    }
    for (size_t f = 0; f < lp->n_fields; f++) {
        const flow_field *ff = &lp->fields[f];
        bool eq = ff->n_keys == nk;
        for (size_t i = 0; eq && i < nk; i++)
            eq = strcmp(ff->keys[i], keys[i]) == 0;
        if (eq)
            return ff->slot;
    }
    if (lp->n_fields == sl->cap_fields) {
        size_t cap = sl->cap_fields ? sl->cap_fields * 2 : 4;
        flow_field *nf = arena_alloc(&L->s->a, cap * sizeof *nf);
        if (!nf)
            return -1;
        if (lp->n_fields)
            memcpy(nf, lp->fields, lp->n_fields * sizeof *nf);
        lp->fields = nf;
        sl->cap_fields = cap;
    }
    flow_field *ff = &lp->fields[lp->n_fields++];
    *ff = (flow_field){.slot = new_slot(L), .keys = keys, .n_keys = nk};
    return ff->slot;
}

int flow_ctl_scope_name(spec_loader *L, const char *name)
{
    struct flow_scope *fs = L->flow;
    if (!fs || fs->depth == 0)
        return -1;
    if (strcmp(name, "loop.index") == 0) {
        flow_loop *lp = fs->stack[fs->depth - 1].loop;
        if (lp->index_slot < 0)
            lp->index_slot = new_slot(L);
        return lp->index_slot;
    }
    for (size_t i = fs->depth; i-- > 0;) {
        scope_loop *sl = &fs->stack[i];
        if (!sl->as)
            continue;
        size_t n = strlen(sl->as);
        if (strcmp(name, sl->as) == 0)
            return sl->loop->item_slot;
        if (sl->loop->each && strncmp(name, sl->as, n) == 0 && name[n] == '.')
            return field_slot(L, sl, name + n + 1);
    }
    return -1;
}

void flow_ctl_scenario_end(spec_loader *L, size_t *n_caps, bool **cap_keep)
{
    struct flow_scope *fs = L->flow;
    if (!fs || fs->n_extra == 0)
        return;
    size_t total = *n_caps + fs->n_extra;
    if (*cap_keep) {   /* loop slots are never kept across iterations */
        bool *k = arena_alloc(&L->s->a, (total + 1) * sizeof *k);
        if (k) {
            memset(k, 0, (total + 1) * sizeof *k);
            memcpy(k, *cap_keep, *n_caps * sizeof *k);
        }
        *cap_keep = k;
    }
    *n_caps = total;
    fs->n_extra = 0;
    fs->depth = 0;
}
