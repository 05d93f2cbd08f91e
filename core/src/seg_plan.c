/*
 * seg_plan: a spec's scenarios cut to this instance's segment (seg_plan.h).
 * Setup and teardown are not scaled: every instance runs its own, as k6
 * does (`volley setup` + --setup-data runs it once instead).
 */
#include "seg_plan.h"

#include <string.h>

/* A stripe copied into the spec's arena (the tuple it came from is freed). */
static const seg_stripe *keep_stripe(arena *a, const seg_stripe *st)
{
    seg_stripe *c = arena_alloc(a, sizeof *c);
    int64_t *pos = arena_alloc(a, (size_t)st->count * sizeof *pos);
    if (!c || !pos)
        return NULL;
    memcpy(pos, st->pos, (size_t)st->count * sizeof *pos);
    *c = *st;
    c->pos = pos;
    return c;
}

/* The global count a scenario's share is taken of, for the message. */
static int64_t global_vus(const scenario *sc) { return scenario_max_vus(sc); }

static void skip(spec *s, scenario *sc, int64_t vus, const char *what, const char *segment,
                 FILE *note)
{
    char *line = arena_printf(&s->a, "scenario %s: execution segment %s has no share of its %s "
                              "(%lld in all): skipped on this instance", sc->name, segment, what,
                              (long long)vus);
    if (note && line)
        fprintf(note, "volley: %s\n", line);
    spec_add_warning(s, line);
    sc->seg_skipped = true;
    sc->vus = sc->iterations = 0;
    sc->pre_allocated_vus = sc->max_vus = 0;
}

static bool uses_pool(const scenario *sc, size_t pi)
{
    for (size_t u = 0; u < sc->n_pools; u++)
        if (sc->pools[u] == (int)pi)
            return true;
    return false;
}

/* The stripe of a pool's sequential/unique pick numbers. The scenarios'
 * iterations and arrivals split as their (max) VUs do, so when every user
 * of the pool splits by the same VU count the rows split that way too:
 * instance i then takes exactly the rows the one-machine run's iterations
 * of its share take, and a pool as large as the test lasts each instance
 * its whole share. Otherwise (users that split differently, or setup or
 * teardown, which every instance runs) the segment's own stripe: still no
 * row is taken by two instances. On return, a stripe owned by s's arena. */
static const seg_stripe *pool_stripe(spec *s, size_t pi, const seg_tuple *t,
                                     const seg_stripe *mine, char *err, size_t errcap, bool *fail)
{
    int64_t vus = 0;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        if (!uses_pool(sc, pi))
            continue;
        int64_t v = sc->role == SC_ROLE_MAIN ? global_vus(sc) : -1;
        if (v < 1 || (vus && v != vus))
            return mine;
        vus = v;
    }
    seg_tuple r;
    int rc = vus ? seg_tuple_rescale(t, vus, &r, err, errcap) : 1;
    if (rc < 0) {
        *fail = true;
        return NULL;
    }
    if (rc == 1)   /* no user of the pool runs here */
        return mine;
    const seg_stripe *st = keep_stripe(&s->a, seg_tuple_stripe(&r));
    seg_tuple_free(&r);
    if (!st) {
        snprintf(err, errcap, "out of memory");
        *fail = true;
    }
    return st;
}

int seg_plan_apply(spec *s, const seg_tuple *t, const char *segment, FILE *note, char *err,
                   size_t errcap)
{
    const seg_stripe *mine = keep_stripe(&s->a, seg_tuple_stripe(t));
    if (!mine)
        goto oom;
    for (size_t pi = 0; pi < s->n_pools; pi++) {   /* before the VUs are scaled */
        bool fail = false;
        s->pools[pi].seg = pool_stripe(s, pi, t, mine, err, errcap, &fail);
        if (fail)
            return -1;
    }
    int64_t ids = 0;   /* VU ids as the one-machine run numbers them */
    for (size_t i = 0; i < s->n_scenarios; i++) {
        scenario *sc = &s->scenarios[i];
        int64_t vus = global_vus(sc);   /* before the stripe scales it */
        sc->vu_id_base = ids;
        ids += vus;
        sc->seg = mine;   /* local VU numbers to global ones (ramps, per-vu picks) */
        if (sc->role != SC_ROLE_MAIN)
            continue;
        seg_tuple r;
        int rc;
        switch (sc->executor) {
        case EXEC_CONSTANT_VUS:
        case EXEC_PER_VU_ITERATIONS:   /* iterations are per VU: not scaled */
            sc->vus = seg_scale(mine, sc->vus);
            if (sc->vus == 0 || sc->iterations == 0)
                skip(s, sc, vus, "VUs", segment, note);
            break;
        case EXEC_SHARED_ITERATIONS:
            /* k6: the iterations split as the VUs do, so no instance gets
             * iterations without a VU to run them. */
            rc = seg_tuple_rescale(t, sc->vus, &r, err, errcap);
            if (rc < 0)
                return -1;
            sc->vus = seg_scale(mine, sc->vus);
            if (rc == 0) {
                sc->iterations = seg_scale(seg_tuple_stripe(&r), sc->iterations);
                seg_tuple_free(&r);
            }
            if (rc == 1 || sc->iterations == 0)
                skip(s, sc, vus, rc == 1 ? "VUs" : "iterations", segment, note);
            break;
        case EXEC_RAMPING_VUS:
            /* The target at every instant is scaled (engine_ramp_target),
             * so the instances' VUs add up to the one-machine curve. */
            if (seg_scale(mine, vus) == 0)
                skip(s, sc, vus, "VUs", segment, note);
            break;
        case EXEC_CONSTANT_ARRIVAL_RATE:
        case EXEC_RAMPING_ARRIVAL_RATE:
            /* k6: the arrivals split as max VUs do; each instance keeps the
             * global schedule and starts only its own arrival indexes. */
            rc = seg_tuple_rescale(t, vus, &r, err, errcap);
            if (rc < 0)
                return -1;
            sc->pre_allocated_vus = seg_scale(mine, sc->pre_allocated_vus);
            sc->max_vus = seg_scale(mine, sc->max_vus);
            if (rc == 1) {
                skip(s, sc, vus, "max VUs", segment, note);
                break;
            }
            sc->seg_arrivals = keep_stripe(&s->a, seg_tuple_stripe(&r));
            seg_tuple_free(&r);
            if (!sc->seg_arrivals)
                goto oom;
            break;
        }
    }
    return 0;
oom:
    snprintf(err, errcap, "out of memory");
    return -1;
}
