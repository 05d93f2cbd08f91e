/*
 * engine_flow: a VU running the control ops of its flow (flow_ctl.h):
 * conditions, weighted choices and loops. Each loop nesting level keeps
 * its state in the VU's flow_vu (made on the VU's first control op,
 * freed with the VU), whose buffers only grow: a pass allocates nothing
 * once they are large enough.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "engine_int.h"
#include "flow_ctl.h"
#include "jscan.h"
#include "rng.h"
#include "secret.h"
#include "template.h"

/* Loop passes in a row without a wait before the VU lets its worker's
 * loop run (a body of untaken branches never waits). */
#define SPINS_BEFORE_YIELD 256

typedef struct fc_level {
    uint32_t pass;          /* the pass under way, from 0 */
    uint32_t n;             /* passes in all (for_each over an array: max) */
    size_t pos;             /* for_each over an array: the next element */
    volley_buf list;        /* ...and the array, rendered at the loop's start */
} fc_level;

struct flow_vu {
    fc_level lv[FLOW_MAX_LOOP_DEPTH];
    volley_buf a, b;        /* a condition's rendered values */
    volley_buf item;        /* a YAML list's item, rendered */
    uint32_t spins;
};

void engine_flow_free(struct flow_vu *fv)
{
    if (!fv)
        return;
    for (size_t i = 0; i < FLOW_MAX_LOOP_DEPTH; i++)
        free(fv->lv[i].list.data);
    free(fv->a.data);
    free(fv->b.data);
    free(fv->item.data);
    free(fv);
}

static void warn_once(vu_run *v, const char *location, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn_once(vu_run *v, const char *location, const char *fmt, ...)
{
    if (atomic_exchange(&v->w->e->flow_warned, true))
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    secret_fprintf(stderr, "volley: %s: %s (said once)\n", location, text);
}

static void cond_warn(void *ctx, const flow_cond *c, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    warn_once(ctx, c->location, "%s", text);
}

/* An element's JSON text into a slot: a string as its text, anything
 * else as JSON (a number stays a number in a JSON body). */
static void set_value(vu_capture *slot, const char *s, size_t n)
{
    size_t b = jscan_skip_ws(s, n, 0);
    while (n > b && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    slot->val.len = 0;
    slot->secret = 0;
    if (n > b && s[b] == '"' && jscan_string(s + b, n - b, &slot->val) == 0) {
        slot->kind = CAP_STRING;
        return;
    }
    slot->val.len = 0;
    slot->kind = vbuf_append(&slot->val, s + b, n - b) == 0 ? CAP_JSON : CAP_UNSET;
}

/* The pass's element into the loop's slots: ${AS} and each ${AS.FIELD}. */
static void set_element(vu_run *v, const flow_loop *lp, const char *s, size_t n)
{
    vu_capture *caps = v->pub.caps;
    set_value(&caps[lp->item_slot], s, n);
    for (size_t f = 0; f < lp->n_fields; f++) {
        const flow_field *ff = &lp->fields[f];
        size_t a = 0, b = n, x, y;
        bool found = true;
        for (size_t k = 0; k < ff->n_keys && found; k++) {
            found = jscan_field(s + a, b - a, ff->keys[k], strlen(ff->keys[k]), &x, &y);
            b = a + y;
            a = a + x;
        }
        if (found)
            set_value(&caps[ff->slot], s + a, b - a);
        else
            caps[ff->slot].kind = CAP_UNSET;
    }
}

static void set_index(vu_run *v, const flow_loop *lp, uint32_t pass)
{
    if (lp->index_slot < 0)
        return;
    vu_capture *c = &v->pub.caps[lp->index_slot];
    char num[16];
    int n = snprintf(num, sizeof num, "%u", pass);
    c->val.len = 0;
    c->secret = 0;
    c->kind = vbuf_append(&c->val, num, (size_t)n) == 0 ? CAP_JSON : CAP_UNSET;
}

/* How many passes a repeat makes this time. */
static uint32_t repeat_count(vu_run *v, struct flow_vu *fv, const flow_loop *lp)
{
    int64_t n = lp->count;
    if (lp->count_tmpl) {
        fv->a.len = 0;
        char *end = NULL;
        long long x = -1;
        if (tmpl_render(lp->count_tmpl, &v->pub, &fv->a) == 0 && fv->a.data && fv->a.len)
            x = strtoll(fv->a.data, &end, 10);
        if (x < 0 || !end || *end) {
            warn_once(v, lp->location, "repeat: \"%.40s\" is not a count of 0 or more; the loop "
                      "did not run", fv->a.data ? fv->a.data : "");
            return 0;
        }
        n = x;
    }
    if (n > (int64_t)lp->max) {
        warn_once(v, lp->location, "repeat: %lld passes is more than the loop's max (%u); it made "
                  "%u", (long long)n, lp->max, lp->max);
        n = lp->max;
    }
    return (uint32_t)n;
}

/* Starts pass lv->pass of the loop, or says the loop is over. */
static bool begin_pass(vu_run *v, struct flow_vu *fv, const flow_loop *lp, fc_level *lv)
{
    if (lv->pass >= lv->n) {
        if (lp->list_tmpl && lv->n == lp->max) {
            size_t s, e, pos = lv->pos;
            if (jscan_array_next(lv->list.data, lv->list.len, &pos, &s, &e) == 1)
                warn_once(v, lp->location, "for_each: the array has more than the loop's max "
                          "(%u) items; the rest were left out", lp->max);
        }
        return false;
    }
    if (lp->list_tmpl) {
        size_t s, e;
        int r = lv->list.data ? jscan_array_next(lv->list.data, lv->list.len, &lv->pos, &s, &e) : -1;
        if (r < 0)
            warn_once(v, lp->location, "for_each: %s; the loop stopped",
                      lv->pass ? "the array is not well-formed JSON"
                      : lv->list.len ? "the value is not a JSON array"
                                     : "the value is empty (a capture it reads failed or has not run?)");
        if (r != 1)
            return false;
        set_element(v, lp, lv->list.data + s, e - s);
    } else if (lp->each) {
        fv->item.len = 0;
        if (tjson_render(lp->items[lv->pass], &v->pub, &fv->item) != 0 || !fv->item.data)
            return false;
        set_element(v, lp, fv->item.data, fv->item.len);
    }
    set_index(v, lp, lv->pass);
    return true;
}

static bool start_loop(vu_run *v, struct flow_vu *fv, const flow_loop *lp)
{
    fc_level *lv = &fv->lv[lp->level];
    lv->pass = 0;
    lv->pos = 0;
    if (lp->list_tmpl) {
        lv->list.len = 0;
        if (tmpl_render(lp->list_tmpl, &v->pub, &lv->list) != 0)
            lv->list.len = 0;
        lv->n = lp->max;
    } else {
        lv->n = lp->each ? (uint32_t)lp->n_items : repeat_count(v, fv, lp);
    }
    return begin_pass(v, fv, lp, lv);
}

bool engine_flow_run(vu_run *v, const flow_op *op)
{
    const flow_ctl *c = op->ctl;
    if (c->kind == FC_JUMP) {
        v->pc = c->target;
        return true;
    }
    if (c->kind == FC_CHOOSE) {
        double r = rng_unit(&v->pub.rng) * c->cum[c->n_branches - 1];
        size_t i = 0;
        while (i + 1 < c->n_branches && r >= c->cum[i])
            i++;
        v->pc = c->start[i];
        return true;
    }
    if (!v->fc && !(v->fc = calloc(1, sizeof *v->fc))) {
        /* Out of memory: the construct is skipped, as an untaken branch. */
        v->pc = c->kind == FC_IF ? c->target : c->kind == FC_LOOP ? c->loop->after : v->pc + 1;
        return true;
    }
    struct flow_vu *fv = v->fc;
    if (c->kind == FC_IF) {
        cond_env env = {.vu = &v->pub, .last_status = v->last_status, .a = &fv->a, .b = &fv->b,
                        .warn = cond_warn, .ctx = v};
        v->pc = flow_cond_eval(c->cond, c->n_cond, &env) ? v->pc + 1 : c->target;
        return true;
    }
    const flow_loop *lp = c->loop;
    if (c->kind == FC_LOOP) {
        v->pc = start_loop(v, fv, lp) ? lp->body : lp->after;
        return true;
    }
    /* FC_NEXT */
    fc_level *lv = &fv->lv[lp->level];
    lv->pass++;
    if (!begin_pass(v, fv, lp, lv)) {
        v->pc = lp->after;
        return true;
    }
    v->pc = lp->body;
    return ++fv->spins % SPINS_BEFORE_YIELD != 0;
}
