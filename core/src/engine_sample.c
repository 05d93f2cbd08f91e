/*
 * engine_sample: where the engine's samples go. Every sample is recorded
 * into the worker's aggregate (engine_worker_sample in engine_int.h) and,
 * when the run has outputs, kept in a buffer that is handed to them as one
 * batch every flush.
 */
#include <stdlib.h>

#include "engine_int.h"

void engine_push_raw(engine *e, raw_buf *b, tag_intern *ti, uint32_t metric, double v,
                     const sample_tags *st, uint64_t now)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 1024;
        volley_sample *p = realloc(b->s, ncap * sizeof *p);
        if (!p) {
            b->dropped++;
            return;
        }
        b->s = p;
        b->cap = ncap;
    }
    const volley_tagset *set = tagi_get(ti, st);
    if (!set) {
        b->dropped++;
        return;
    }
    b->s[b->n++] = (volley_sample){.metric = metric, .tags = set,
                                   .time_unix_ns = (int64_t)now + e->wall_offset, .value = v};
}

/* A request's ~11 samples come in one callback: they share one clock read,
 * refreshed each loop turn (the clock was ~2% of the CPU per request). */
static void on_clock_reset(uv_handle_t *h) { ((volley_worker *)h->data)->sample_now = 0; }
void engine_on_clock_prepare(uv_prepare_t *h) { on_clock_reset((uv_handle_t *)h); }
void engine_on_clock_check(uv_check_t *h) { on_clock_reset((uv_handle_t *)h); }

void engine_host_sample(volley_vu *vu, int metric, double value, const volley_tags *tags)
{
    vu_run *v = engine_vu_of(vu);
    if (metric < 0 || (size_t)metric >= v->w->e->core->reg.n_metrics)
        return;
    /* A sample of a batch's step is that step's, not the batch's. */
    uint32_t pc = engine_vu_step_pc(v, vu);
    sample_tags st = {.t = tags, .scenario = v->sr->sc->name, .group = "",
                      .vu = v->vtags, .n_vu = v->n_vtags, .stage = engine_sc_stage(v->sr)};
    if (pc < v->sr->sc->n_ops) {
        const flow_op *op = &v->sr->sc->ops[pc];
        st.group = op->group;
        st.step = op->tags;
        st.n_step = op->n_tags;
        /* a field a plugin of an older revision never wrote */
        if (tags && op->kind == OP_STEP && op->proto < v->w->e->s->n_protos &&
            v->w->e->s->protos[op->proto].plugin->desc->revision >= 6)
            st.tls_version = tags->tls_version;
    }
    engine_worker_sample(v->w, (uint32_t)metric, value, &st);
}

void engine_flush_raw(engine *e, raw_buf *b)
{
    if (b->n == 0)
        return;
    size_t cap = b->cap, n = b->n;
    out_batch *batch = out_batch_new(b->s, n);
    b->s = NULL;
    b->n = b->cap = 0;
    if (!batch) {
        b->dropped += n;
        return;
    }
    for (size_t i = 0; i < e->n_outs; i++)
        outr_push(&e->outs[i], batch);
    out_batch_release(batch);
    b->s = malloc(cap * sizeof *b->s);   /* keep the size that was needed */
    b->cap = b->s ? cap : 0;
}
