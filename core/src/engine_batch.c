/*
 * engine_batch: a VU's `batch:` step (k6's http.batch). Its steps run at
 * once. k6 runs a batch on the VU's own HTTP transport: its first request
 * takes the VU's idle keep-alive connection, the others open connections
 * of their own. So one step at a time runs on the VU itself (its
 * volley_vu and protocol states, the batch's `own` slot: the first step,
 * then whichever starts after it ended), and each other one on a lane of
 * the VU: a volley_vu and a protocol state of its own, so the plugin runs
 * it as it runs any VU's step, on the lane's connections. The lanes are
 * made at the VU's first batch, one fewer than the largest batch of its
 * scenario may run at once, and reused; a lane's protocol state is made
 * on its first step of that protocol, and the plugin's lane_init (SDK
 * revision 7) ties it to the VU's (the http plugin: one cookie jar).
 *
 * Steps start in their order as the batch's limits allow (max_parallel in
 * all, max_parallel_per_host per host, k6's batch and batchPerHost): a
 * step waiting for its host lets a later step to another host go first.
 * Each step's checks, captures and records are engine_vu.c's, as its
 * step_done comes; the batch is over when every step has ended.
 */
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "engine_int.h"
#include "rng.h"
#include "template.h"

enum { BSTEP_WAITING = 0, BSTEP_RUNNING, BSTEP_DONE };

/* Lanes, steps and hosts of the scenario's largest batch: one block. */
static vu_batch *batch_new(const scenario *sc)
{
    size_t lanes = 0, steps = 0, hosts = 0;
    for (size_t i = 0; i < sc->n_ops; i++) {
        const flow_op *op = &sc->ops[i];
        if (op->kind != OP_BATCH)
            continue;
        size_t n = op->batch_end - i - 1;
        /* one step runs on the VU itself */
        size_t l = (size_t)op->batch_max - 1;
        lanes = l > lanes ? l : lanes;
        steps = n > steps ? n : steps;
        hosts = op->batch_hosts > hosts ? op->batch_hosts : hosts;
    }
    size_t size = sizeof(vu_batch) + lanes * sizeof(vu_lane) + hosts * sizeof(uint16_t) + steps;
    vu_batch *b = calloc(1, size);
    if (!b)
        return NULL;
    b->lanes = (vu_lane *)(b + 1);
    b->busy = (uint16_t *)(b->lanes + lanes);
    b->step = (uint8_t *)(b->busy + hosts);
    b->n_lanes = (uint32_t)lanes;
    b->own = LANE_IDLE;
    for (size_t i = 0; i < lanes; i++)
        b->lanes[i].pc = LANE_IDLE;
    return b;
}

/* The lane's state for protocol p, made on first use and handed to the
 * plugin's lane_init with the VU's. */
static void *lane_state(vu_run *v, vu_lane *l, size_t p)
{
    const spec *s = v->w->e->s;
    if (!l->pstate && !(l->pstate = calloc(s->n_protos, sizeof *l->pstate)))
        return NULL;
    if (l->pstate[p])
        return l->pstate[p];
    const plug *pl = s->protos[p].plugin;
    size_t size = pl->desc->protocol->vu_state_size;
    if (!(l->pstate[p] = calloc(1, size ? size : 1)))
        return NULL;
    if (pl->desc->protocol->lane_init)
        CRASH_CALL(pl->desc->name, "protocol lane_init",
                   pl->desc->protocol->lane_init(v->w->pstate[p], l->pstate[p],
                                                 v->pstate ? v->pstate[p] : NULL));
    return l->pstate[p];
}

static vu_lane *free_lane(vu_batch *b)
{
    for (uint32_t i = 0; i < b->n_lanes; i++)
        if (b->lanes[i].pc == LANE_IDLE)
            return &b->lanes[i];
    return NULL;
}

/* Step k of the batch, on the VU itself when it is free, else on a free
 * lane l. One that cannot start ends at once, as a step_start that fails
 * does outside a batch. */
static void start_step(vu_run *v, vu_batch *b, vu_lane *l, uint32_t k)
{
    uint32_t pc = b->batch + 1 + k;
    const flow_op *op = &v->sr->sc->ops[pc];
    b->step[k] = BSTEP_RUNNING;
    b->running++;
    b->busy[op->batch_host]++;
    volley_vu *vu;
    void *state = NULL;
    bool ready;
    if (b->own == LANE_IDLE) {
        b->own = pc;
        vu = &v->pub;
        state = v->pstate ? v->pstate[op->proto] : NULL;
        ready = true;
    } else {
        /* The lane renders templates as the VU: its values, its row, its
         * captures; random values from a stream of its own, drawn from
         * the VU's (--seed repeats them). What it derives from a secret
         * stays in slots of its own (vu_redact reads them too). */
        volley_vu *lane_of = &v->pub;
        vu_capture derived[VU_DERIVED];
        memcpy(derived, l->pub.derived, sizeof derived);
        unsigned derived_next = l->pub.derived_next;
        l->pub = v->pub;
        memcpy(l->pub.derived, derived, sizeof derived);
        l->pub.derived_next = derived_next;
        l->pub.lane_of = lane_of;
        l->pub.rng = rng_next(&v->pub.rng);
        l->pc = pc;
        vu = &l->pub;
        ready = (state = lane_state(v, l, op->proto)) != NULL;
    }
    const plug *p = v->w->e->s->protos[op->proto].plugin;
    int started = -1;
    if (ready)
        CRASH_CALL(p->desc->name, "protocol step_start",
                   started = p->desc->protocol->step_start(v->w->pstate[op->proto], op->step,
                                                           vu, state));
    if (started != 0)
        engine_host_step_done(vu, NULL);
}

/* Starts what the limits allow, in order. Steps that end meanwhile (a
 * synchronous step_done) only free their lane and host here. */
static void fill(vu_run *v, vu_batch *b)
{
    const flow_op *bop = &v->sr->sc->ops[b->batch];
    uint32_t n = bop->batch_end - b->batch - 1;
    b->filling = true;
    for (uint32_t k = b->next; k < n && b->running < bop->batch_max; k++) {
        if (b->step[k] != BSTEP_WAITING)
            continue;
        const flow_op *op = &v->sr->sc->ops[b->batch + 1 + k];
        if (bop->batch_per_host && b->busy[op->batch_host] >= bop->batch_per_host)
            continue;
        vu_lane *l = b->own == LANE_IDLE ? NULL : free_lane(b);
        if (b->own != LANE_IDLE && !l)
            break;
        start_step(v, b, l, k);
    }
    while (b->next < n && b->step[b->next] != BSTEP_WAITING)
        b->next++;
    b->filling = false;
}

int engine_batch_start(vu_run *v, const flow_op *op)
{
    if (!v->batch && !(v->batch = batch_new(v->sr->sc)))
        return -1;
    vu_batch *b = v->batch;
    b->batch = v->pc;
    memset(b->step, 0, op->batch_end - v->pc - 1);
    memset(b->busy, 0, op->batch_hosts * sizeof *b->busy);
    b->next = b->running = b->finished = 0;
    b->own = LANE_IDLE;
    b->stop = false;
    v->state = VU_IN_BATCH;
    fill(v, b);
    if (b->finished < op->batch_end - v->pc - 1)
        return 0;
    v->state = VU_IDLE;
    return 1;
}

bool engine_batch_step_done(vu_run *v, uint32_t *slot)
{
    vu_batch *b = v->batch;
    const flow_op *op = &v->sr->sc->ops[*slot];
    b->step[*slot - b->batch - 1] = BSTEP_DONE;
    b->busy[op->batch_host]--;
    b->running--;
    b->finished++;
    *slot = LANE_IDLE;
    if (b->filling)
        return false;
    fill(v, b);
    return b->finished == v->sr->sc->ops[b->batch].batch_end - b->batch - 1;
}

void engine_batch_cancel(vu_run *v)
{
    vu_batch *b = v->batch;
    if (b && b->own != LANE_IDLE) {
        const flow_op *op = &v->sr->sc->ops[b->own];
        const plug *p = v->w->e->s->protos[op->proto].plugin;
        b->own = LANE_IDLE;
        if (p->desc->protocol->step_cancel)
            CRASH_CALL(p->desc->name, "protocol step_cancel",
                       p->desc->protocol->step_cancel(v->w->pstate[op->proto], &v->pub,
                                                      v->pstate ? v->pstate[op->proto] : NULL));
    }
    for (uint32_t i = 0; b && i < b->n_lanes; i++) {
        vu_lane *l = &b->lanes[i];
        if (l->pc == LANE_IDLE)
            continue;
        const flow_op *op = &v->sr->sc->ops[l->pc];
        const plug *p = v->w->e->s->protos[op->proto].plugin;
        l->pc = LANE_IDLE;
        if (p->desc->protocol->step_cancel)
            CRASH_CALL(p->desc->name, "protocol step_cancel",
                       p->desc->protocol->step_cancel(v->w->pstate[op->proto], &l->pub,
                                                      l->pstate[op->proto]));
    }
    if (b)
        b->running = 0;
}

void engine_batch_fini(vu_run *v, size_t proto)
{
    vu_batch *b = v->batch;
    const plug *p = v->w->e->s->protos[proto].plugin;
    for (uint32_t i = 0; b && i < b->n_lanes; i++) {
        vu_lane *l = &b->lanes[i];
        if (l->pstate && l->pstate[proto] && p->desc->protocol->vu_fini)
            CRASH_CALL(p->desc->name, "protocol vu_fini",
                       p->desc->protocol->vu_fini(v->w->pstate[proto], l->pstate[proto]));
    }
}

void engine_batch_free(vu_run *v)
{
    vu_batch *b = v->batch;
    for (uint32_t i = 0; b && i < b->n_lanes; i++) {
        vu_lane *l = &b->lanes[i];
        for (size_t p = 0; l->pstate && p < v->w->e->s->n_protos; p++)
            free(l->pstate[p]);
        free(l->pstate);
        tmpl_vu_free(&l->pub);
    }
    free(b);
    v->batch = NULL;
}
