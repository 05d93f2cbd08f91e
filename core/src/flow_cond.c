/*
 * A condition of `if:` (and of nothing else yet): one subject, compared
 * one or more ways. The subject is a rendered template (`value:`), the
 * status of the VU's last response (`status:`) or a coin (`chance:`);
 * comparisons reuse the checks' names (equals, in, gt, contains,
 * matches...). Texts compare as texts, or as numbers when both sides read
 * as JSON numbers, so `equals: 200` holds for "200" and for 200.0. The
 * `value` check of checks-basic (check_value.c) compares the same way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "flow_ctl.h"
#include "rng.h"
#include "suggest.h"
#include "vu.h"

static const struct {
    const char *name;
    cond_op op;
} cmp_names[] = {
    {"equals", CMP_EQUALS}, {"not_equals", CMP_NOT_EQUALS}, {"in", CMP_IN},
    {"not_in", CMP_NOT_IN}, {"gt", CMP_GT}, {"gte", CMP_GTE}, {"lt", CMP_LT}, {"lte", CMP_LTE},
    {"contains", CMP_CONTAINS}, {"not_contains", CMP_NOT_CONTAINS}, {"matches", CMP_MATCHES},
    {"empty", CMP_EMPTY},
};
#define N_CMPS (sizeof cmp_names / sizeof cmp_names[0])

#define COND_FORMS "{ value: TEMPLATE, COMPARISON: ... }, { status: CODE | [CODES] | " \
                   "{ COMPARISON: ... } } or { chance: P }"

static const char *key_list(void)
{
    return "value, status, chance, equals, not_equals, in, not_in, gt, gte, lt, lte, contains, "
           "not_contains, matches, empty";
}

static const volley_template *scalar_tmpl(arena *a, diag *d, const ynode *v, const char *path,
                                          const tmpl_scope *scope)
{
    if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
        ynode_error(d, v, "%s: expected a string or a number, got %s", path, ynode_kind_name(v));
        return NULL;
    }
    char err[512];
    volley_template *t = tmpl_compile(a, v->str, v->len, scope, err, sizeof err);
    if (!t)
        ynode_error(d, v, "%s: %s", path, err);
    return t;
}

/* One comparison KEY: VALUE into c; false after reporting. */
static bool compile_cmp(arena *a, diag *d, cond_op op, const ynode *v, const char *path,
                        const tmpl_scope *scope, cond_cmp *c, bool *has_re)
{
    c->op = op;
    switch (op) {
    case CMP_IN:
    case CMP_NOT_IN:
        if (v->kind != YNODE_SEQ || v->n_items == 0) {
            ynode_error(d, v, "%s: expected a non-empty list of values", path);
            return false;
        }
        c->vals = arena_alloc(a, v->n_items * sizeof *c->vals);
        for (size_t i = 0; c->vals && i < v->n_items; i++) {
            char *ip = arena_printf(a, "%s[%zu]", path, i);
            if (!(c->vals[i] = scalar_tmpl(a, d, v->items[i], ip, scope)))
                return false;
        }
        c->n_vals = v->n_items;
        return c->vals != NULL;
    case CMP_GT:
    case CMP_GTE:
    case CMP_LT:
    case CMP_LTE:
        if (v->kind != YNODE_SCALAR || !v->plain || !ynode_double(v, &c->num) || c->num - c->num != 0) {
            ynode_error(d, v, "%s: expected a number", path);
            return false;
        }
        return true;
    case CMP_EMPTY:
        if (v->kind != YNODE_SCALAR || !ynode_bool(v, &c->flag)) {
            ynode_error(d, v, "%s: expected true or false", path);
            return false;
        }
        return true;
    case CMP_MATCHES: {
        if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
            ynode_error(d, v, "%s: expected a regular expression", path);
            return false;
        }
        c->re = malloc(sizeof *c->re);
        int rc = c->re ? regcomp(c->re, v->str, REG_EXTENDED | REG_NOSUB) : REG_ESPACE;
        if (rc != 0) {
            char why[160] = "out of memory";
            if (c->re)
                regerror(rc, c->re, why, sizeof why);
            free(c->re);
            c->re = NULL;
            ynode_error(d, v, "%s: not a POSIX extended regular expression: %s", path, why);
            return false;
        }
        *has_re = true;
        return true;
    }
    default:
        c->vals = arena_alloc(a, sizeof *c->vals);
        c->n_vals = 1;
        return c->vals && (c->vals[0] = scalar_tmpl(a, d, v, path, scope)) != NULL;
    }
}

static int find_cmp(const char *key)
{
    for (size_t i = 0; i < N_CMPS; i++)
        if (strcmp(cmp_names[i].name, key) == 0)
            return (int)i;
    return -1;
}

/* The comparisons among the pairs of m (skip: the subject's key). */
static bool compile_cmps(arena *a, diag *d, const ynode *m, const char *skip, const char *path,
                         const tmpl_scope *scope, flow_cond *c, bool *has_re)
{
    c->cmps = arena_alloc(a, (m->n_pairs + 1) * sizeof *c->cmps);
    if (!c->cmps)
        return false;
    memset(c->cmps, 0, (m->n_pairs + 1) * sizeof *c->cmps);
    bool ok = true;
    for (size_t i = 0; i < m->n_pairs; i++) {
        const ynode *k = m->pairs[i].key;
        if (skip && strcmp(k->str, skip) == 0)
            continue;
        int ci = find_cmp(k->str);
        char *kp = arena_printf(a, "%s.%s", path, k->str);
        if (ci < 0) {
            const char *names[N_CMPS + 3] = {"value", "status", "chance"};
            for (size_t j = 0; j < N_CMPS; j++)
                names[j + 3] = cmp_names[j].name;
            char hint[128] = "";
            suggest_hint(k->str, names, N_CMPS + 3, hint, sizeof hint);
            ynode_error(d, k, "%s: unknown condition key \"%s\"%s; valid keys: %s", path, k->str, hint,
                        key_list());
            ok = false;
            continue;
        }
        if (compile_cmp(a, d, cmp_names[ci].op, m->pairs[i].value, kp, scope,
                        &c->cmps[c->n_cmps], has_re))
            c->n_cmps++;
        else
            ok = false;
    }
    return ok;
}

/* `status: 200`, `status: [200, 201]` or `status: { COMPARISON: ... }`. */
static bool compile_status(arena *a, diag *d, const ynode *v, const char *path,
                           const tmpl_scope *scope, flow_cond *c, bool *has_re)
{
    c->subject = COND_STATUS;
    if (v->kind == YNODE_MAP) {
        if (v->n_pairs == 0) {
            ynode_error(d, v, "%s: expected at least one comparison", path);
            return false;
        }
        return compile_cmps(a, d, v, NULL, path, scope, c, has_re);
    }
    size_t n = v->kind == YNODE_SEQ ? v->n_items : 1;
    const ynode *const *items = v->kind == YNODE_SEQ ? (const ynode *const *)v->items : &v;
    if (n == 0) {
        ynode_error(d, v, "%s: expected a status code, a list of them or { COMPARISON: ... }", path);
        return false;
    }
    c->cmps = arena_alloc(a, sizeof *c->cmps);
    if (!c->cmps)
        return false;
    *c->cmps = (cond_cmp){.op = CMP_IN, .vals = arena_alloc(a, n * sizeof(void *)), .n_vals = n};
    for (size_t i = 0; i < n; i++) {
        int64_t code;
        char text[32], err[128];
        if (items[i]->kind != YNODE_SCALAR || !ynode_int(items[i], &code) || code < 0 || code > 599) {
            ynode_error(d, items[i], "%s: expected a status code from 0 (no response) to 599, a "
                        "list of them or { COMPARISON: ... }", path);
            return false;
        }
        snprintf(text, sizeof text, "%lld", (long long)code);
        c->cmps->vals[i] = tmpl_compile(a, text, strlen(text), scope, err, sizeof err);
        if (!c->cmps->vals[i])
            return false;
    }
    c->n_cmps = 1;
    return true;
}

static bool compile_one(arena *a, diag *d, const ynode *m, const char *path, const tmpl_scope *scope,
                        flow_cond *c, bool *has_re)
{
    if (m->kind != YNODE_MAP || m->n_pairs == 0) {
        ynode_error(d, m, "%s: expected a condition: " COND_FORMS, path);
        return false;
    }
    const ynode *value = ynode_get(m, "value"), *status = ynode_get(m, "status"),
                *chance = ynode_get(m, "chance");
    int subjects = !!value + !!status + !!chance;
    if (subjects != 1) {
        ynode_error(d, m, "%s: a condition has %s of value, status and chance; expected " COND_FORMS,
                    path, subjects ? "more than one" : "none");
        return false;
    }
    c->location = arena_printf(a, "%s:%u:%u", m->file, m->line, m->col);
    if (status) {
        if (m->n_pairs != 1) {
            ynode_error(d, m, "%s: status takes its comparisons inside: { status: { gte: 400 } }",
                        path);
            return false;
        }
        return compile_status(a, d, status, arena_printf(a, "%s.status", path), scope, c, has_re);
    }
    if (chance) {
        c->subject = COND_CHANCE;
        const char *cp = arena_printf(a, "%s.chance", path);
        if (m->n_pairs != 1) {
            ynode_error(d, m, "%s: chance stands alone: { chance: 0.3 }", path);
            return false;
        }
        if (chance->kind == YNODE_SCALAR && chance->plain && ynode_double(chance, &c->chance)) {
            if (!(c->chance >= 0 && c->chance <= 1)) {
                ynode_error(d, chance, "%s: expected a probability from 0 to 1, got %s", cp, chance->str);
                return false;
            }
            return true;
        }
        if (chance->kind == YNODE_SCALAR && strstr(chance->str, "${")) {
            c->value = scalar_tmpl(a, d, chance, cp, scope);
            return c->value != NULL;
        }
        ynode_error(d, chance, "%s: expected a probability from 0 to 1 or a ${...} template", cp);
        return false;
    }
    c->subject = COND_VALUE;
    if (!(c->value = scalar_tmpl(a, d, value, arena_printf(a, "%s.value", path), scope)))
        return false;
    if (m->n_pairs == 1) {
        ynode_error(d, m, "%s: value needs a comparison beside it (%s)", path,
                    "equals, not_equals, in, not_in, gt, gte, lt, lte, contains, not_contains, "
                    "matches or empty");
        return false;
    }
    return compile_cmps(a, d, m, "value", path, scope, c, has_re);
}

bool flow_cond_compile(arena *a, diag *d, const ynode *n, const char *path,
                       const tmpl_scope *scope, flow_cond **out, size_t *n_out, flow_cond **regs)
{
    size_t count = n->kind == YNODE_SEQ ? n->n_items : 1;
    if (count == 0) {
        ynode_error(d, n, "%s: expected a condition or a non-empty list of them", path);
        return false;
    }
    flow_cond *c = arena_alloc(a, count * sizeof *c);
    if (!c)
        return false;
    memset(c, 0, count * sizeof *c);
    bool ok = true;
    for (size_t i = 0; i < count; i++) {
        const ynode *m = n->kind == YNODE_SEQ ? n->items[i] : n;
        const char *ip = n->kind == YNODE_SEQ ? arena_printf(a, "%s[%zu]", path, i) : path;
        bool has_re = false;
        ok &= compile_one(a, d, m, ip, scope, &c[i], &has_re);
        if (has_re) {   /* freed with the spec, whether it compiled or not */
            c[i].next_alloc = *regs;
            *regs = &c[i];
        }
    }
    *out = c;
    *n_out = count;
    return ok;
}

void flow_cond_free(flow_cond *regs)
{
    for (flow_cond *c = regs; c; c = c->next_alloc)
        for (size_t i = 0; c->cmps && i < c->n_cmps; i++)
            if (c->cmps[i].re) {
                regfree(c->cmps[i].re);
                free(c->cmps[i].re);
                c->cmps[i].re = NULL;
            }
}

/* ---- evaluation ---- */

static const char *render(const volley_template *t, volley_vu *vu, volley_buf *b)
{
    const char *k = tmpl_const(t);
    if (k)
        return k;
    b->len = 0;
    if (tmpl_render(t, vu, b) != 0 || !b->data)
        return "";
    return b->data;
}

static bool number(const char *s, double *x)
{
    size_t n = strlen(s);
    if (!n || !json_number_text(s, n))
        return false;
    *x = strtod(s, NULL);
    return *x - *x == 0;
}

static bool same(const char *s, const char *t)
{
    double x, y;
    return strcmp(s, t) == 0 || (number(s, &x) && number(t, &y) && x == y);
}

static bool eval_cmp(const cond_cmp *c, const char *s, cond_env *env)
{
    double x;
    switch (c->op) {
    case CMP_EQUALS:
        return same(s, render(c->vals[0], env->vu, env->b));
    case CMP_NOT_EQUALS:
        return !same(s, render(c->vals[0], env->vu, env->b));
    case CMP_IN:
    case CMP_NOT_IN: {
        bool hit = false;
        for (size_t i = 0; i < c->n_vals && !hit; i++)
            hit = same(s, render(c->vals[i], env->vu, env->b));
        return hit == (c->op == CMP_IN);
    }
    case CMP_GT: return number(s, &x) && x > c->num;
    case CMP_GTE: return number(s, &x) && x >= c->num;
    case CMP_LT: return number(s, &x) && x < c->num;
    case CMP_LTE: return number(s, &x) && x <= c->num;
    case CMP_CONTAINS:
        return strstr(s, render(c->vals[0], env->vu, env->b)) != NULL;
    case CMP_NOT_CONTAINS:
        return strstr(s, render(c->vals[0], env->vu, env->b)) == NULL;
    case CMP_MATCHES:
        return regexec(c->re, s, 0, NULL, 0) == 0;
    case CMP_EMPTY:
        return (*s == '\0') == c->flag;
    }
    return false;
}

static bool eval_one(const flow_cond *c, cond_env *env)
{
    char num[16];
    const char *s;
    if (c->subject == COND_CHANCE) {
        double p = c->chance;
        if (c->value) {
            s = render(c->value, env->vu, env->a);
            if (!number(s, &p) || p < 0 || p > 1) {
                env->warn(env->ctx, c, "chance: \"%.40s\" is not a probability from 0 to 1; "
                          "taken as 0", s);
                return false;
            }
        }
        return rng_unit(&env->vu->rng) < p;
    }
    if (c->subject == COND_STATUS) {
        snprintf(num, sizeof num, "%d", env->last_status);
        s = num;
    } else {
        s = render(c->value, env->vu, env->a);
    }
    for (size_t i = 0; i < c->n_cmps; i++)
        if (!eval_cmp(&c->cmps[i], s, env))
            return false;
    return true;
}

bool flow_cond_eval(const flow_cond *c, size_t n, cond_env *env)
{
    for (size_t i = 0; i < n; i++)
        if (!eval_one(&c[i], env))
            return false;
    return true;
}
