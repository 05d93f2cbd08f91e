/*
 * engine_vu: the VU state machine. A VU runs its scenario's flow step by
 * step on its worker's loop: it picks a pool row, runs steps (a plugin's
 * step_start, then checks, captures and records when the step is done),
 * sleeps and groups, and parks or stops when its executor says so. Checks
 * are evaluated by check.c; their results are recorded here.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "check.h"
#include "conlog.h"
#include "crash.h"
#include "duration.h"
#include "engine_int.h"
#include "memo.h"
#include "rng.h"
#include "secret.h"
#include "template.h"

#define SYNC_ITER_BUDGET 64   /* iterations in a row without waiting */

enum { NEXT_GO, NEXT_PARK, NEXT_STOP };

void engine_vu_park(vu_run *v)
{
    if (engine_vu_running(v))
        engine_vu_set_running(v, false);
    v->state = VU_PARKED;
    v->ramp_down_since = 0;
    if (executor_is_arrival(v->sr->sc->executor))
        v->sr->free[v->sr->n_free++] = v;
    engine_sc_check_done(v->w, v->sr);
}

void engine_vu_stop(vu_run *v)
{
    if (engine_vu_running(v))
        engine_vu_set_running(v, false);
    v->state = VU_DONE;
    engine_sc_check_done(v->w, v->sr);
}

/* What a VU does when it could begin an iteration. */
static int next_action(vu_run *v)
{
    sc_run *sr = v->sr;
    /* an aborted test: no VU starts another iteration while the stop
     * request reaches the workers; teardown runs after a stop all the same */
    bool stopped = sr->sc->role != SC_ROLE_TEARDOWN &&
                   (v->w->hard_stopped ||
                    atomic_load_explicit(&v->w->e->test_aborted, memory_order_relaxed));
    if (sr->phase != SC_RUNNING || stopped ||
        atomic_load_explicit(&v->w->e->sc_used_up[sr->index], memory_order_relaxed))
        return NEXT_STOP;
    const scenario *sc = sr->sc;
    switch (sc->executor) {
    case EXEC_CONSTANT_VUS:
        return NEXT_GO;
    case EXEC_RAMPING_VUS:
        return (int64_t)v->gidx < engine_ramp_target(sr, engine_mono_now()) ? NEXT_GO : NEXT_PARK;
    case EXEC_CONSTANT_ARRIVAL_RATE:
    case EXEC_RAMPING_ARRIVAL_RATE:
        return v->has_arrival ? NEXT_GO : NEXT_PARK;
    case EXEC_PER_VU_ITERATIONS:
        return v->iters_done < (uint64_t)sc->iterations ? NEXT_GO : NEXT_STOP;
    case EXEC_SHARED_ITERATIONS: {
        _Atomic int64_t *c = &v->w->e->claimed[sr->index];
        return atomic_fetch_add_explicit(c, 1, memory_order_relaxed) < sc->iterations ? NEXT_GO
                                                                                      : NEXT_STOP;
    }
    }
    return NEXT_STOP;
}

/* The iteration's row of each pool of the scenario's `use:`, each picked
 * as its pool says; false when a unique pool has no row left, which ends
 * the VU. With --execution-segment, VU numbers are this instance's stripe
 * of the global ones (sc->seg) and sequential/unique pick numbers its
 * stripe of the pool's (p->seg, split as the iterations are), so picks stay
 * those of the global VU or iteration and unique rows are never taken by
 * two instances. */
static bool pick_rows(vu_run *v)
{
    const scenario *sc = v->sr->sc;
    engine *e = v->w->e;
    for (size_t u = 0; u < sc->n_pools; u++) {
        int pi = sc->pools[u];
        const pool_def *p = &e->s->pools[pi];
        uint64_t n = p->t.n_rows, k = 0;
        switch (p->pick) {
        case PICK_PER_VU:
            k = (uint64_t)seg_global(sc->seg, v->gidx) % n;
            break;
        case PICK_RANDOM:
            k = rng_below(&v->pub.rng, n);
            break;
        case PICK_SEQUENTIAL:
            k = (uint64_t)seg_global(p->seg, (int64_t)atomic_fetch_add_explicit(
                    &e->pool_next[pi], 1, memory_order_relaxed)) % n;
            break;
        case PICK_UNIQUE:
            k = (uint64_t)seg_global(p->seg, (int64_t)atomic_fetch_add_explicit(
                    &e->pool_next[pi], 1, memory_order_relaxed));
            if (k >= n) {
                /* The scenario ends: no more iterations start, arrivals stop. */
                atomic_store(&e->sc_used_up[v->sr->index], true);
                if (!atomic_exchange(&e->pool_used_up[pi], true))
                    fprintf(stderr, "volley: pool %s is used up (pick: unique, %llu row%s): "
                            "scenario %s stops starting iterations\n", p->name,
                            (unsigned long long)n, n == 1 ? "" : "s", sc->name);
                return false;
            }
            break;
        }
        v->pub.rows[u] = pool_cell(&p->t, k, 0);
    }
    return true;
}

static void begin_iteration(vu_run *v)
{
    uint64_t now = engine_mono_now();
    const bool *keep = v->sr->sc->cap_keep;
    for (size_t c = 0; c < v->sr->sc->n_caps; c++)
        if (!keep || !keep[c])   /* once: captures stay the VU's */
            v->pub.caps[c].kind = CAP_UNSET;
    v->in_iteration = true;
    v->iter_failed = false;
    v->last_status = 0;
    v->pc = 0;
    v->iter_start = now;
    v->next_iter_at = now + (uint64_t)v->sr->sc->pacing_ns;
    engine_sc_tags(v->sr, v->has_arrival ? v->scheduled_at : now, &v->vtags, &v->n_vtags);
    if (v->has_arrival) {
        /* Open model: the iteration is measured from when it was due, so a
         * late start (the runner's lag) shows in iteration_duration. */
        v->has_arrival = false;
        v->iter_start = v->scheduled_at;
        sample_tags st = {.t = NULL, .scenario = v->sr->sc->name, .group = "",
                          .vu = v->vtags, .n_vu = v->n_vtags, .stage = engine_sc_stage(v->sr)};
        engine_worker_sample(v->w, BUILTIN_SCHEDULE_LAG,
                      now > v->scheduled_at ? (double)(now - v->scheduled_at) / 1e6 : 0, &st);
    }
}

static void end_iteration(vu_run *v)
{
    uint64_t now = engine_mono_now();
    sample_tags st = {.t = NULL, .scenario = v->sr->sc->name, .group = "",
                          .vu = v->vtags, .n_vu = v->n_vtags, .stage = engine_sc_stage(v->sr)};
    engine_worker_sample(v->w, BUILTIN_ITERATIONS, 1, &st);
    atomic_fetch_add_explicit(&v->w->e->live[v->sr->index].iterations, 1, memory_order_relaxed);
    engine_worker_sample(v->w, BUILTIN_ITERATION_DURATION, (double)(now - v->iter_start) / 1e6,
                         &st);
    v->pub.iteration++;
    v->iters_done++;
    v->in_iteration = false;
    v->pc = 0;
    v->depth = 0;
    if (v->sr->sc->role != SC_ROLE_MAIN)
        engine_hook_done(v, !v->iter_failed, false);
}

void engine_hook_done(vu_run *v, bool ok, bool timed_out)
{
    engine *e = v->w->e;
    const scenario *sc = v->sr->sc;
    bool setup = sc->role == SC_ROLE_SETUP;
    atomic_int *state = setup ? &e->setup_state : &e->teardown_state;
    if (atomic_load(state) != HOOK_PENDING)
        return;
    if (timed_out && atomic_load(&e->stop) && (setup || atomic_load(&e->no_teardown))) {
        /* the run was stopped meanwhile (a stop leaves teardown running) */
        atomic_store(state, HOOK_SKIPPED);
        return;
    }
    int st = ok ? HOOK_OK : timed_out ? HOOK_TIMED_OUT : HOOK_FAILED;
    if (timed_out) {
        char d[64];
        snprintf(e->hook_reason, sizeof e->hook_reason, "%s did not finish within its timeout of %s",
                 sc->name, duration_format(sc->max_duration_ns, d, sizeof d));
    }
    if (setup && st == HOOK_OK) {
        /* Its capture slots are the run's ${setup.*} from now on: the
         * scenarios read them only after they see HOOK_OK. */
        e->setup_vals = v->pub.caps;
        e->setup_done_at = engine_mono_now();
    }
    atomic_store_explicit(state, st, memory_order_release);
    if (setup && st == HOOK_OK)
        engine_wake_all(e);          /* the scenarios start */
    else if (setup)
        engine_request_stop(e);      /* no load after a failed setup */
}

/* Adds the values of the secret slots among caps[0..n) to more. */
static void secret_slots(const vu_capture *caps, size_t n, secret_val *more, size_t *k, size_t cap)
{
    for (size_t c = 0; caps && c < n && *k < cap; c++)
        if (caps[c].secret && caps[c].kind != CAP_UNSET && caps[c].val.len)
            more[(*k)++] = (secret_val){caps[c].val.data, caps[c].val.len};
}

/* Text about to be shown (a failure reason, a warning) with every secret
 * hidden: the registered ones and what this VU captured as a secret (and
 * setup did), and what it and its batch lanes derived from secrets. On
 * failure paths only. */
static void vu_redact(const vu_run *v, const char *text, char *out, size_t outcap)
{
    const engine *e = v->w->e;
    vu_capture *const setup = v->pub.setup ? *v->pub.setup : NULL;
    size_t n = v->pub.caps ? v->sr->sc->n_caps : 0, ns = setup ? e->s->n_setup_names : 0;
    size_t lanes = v->batch ? v->batch->n_lanes : 0;
    size_t all = n + ns + VU_DERIVED * (1 + lanes);
    secret_val small[24] = {{0}}, *more = all <= 24 ? small : malloc(all * sizeof *more);
    size_t k = 0;
    if (!more) {
        snprintf(out, outcap, "%s", SECRET_MASK);   /* out of memory: show nothing */
        return;
    }
    secret_slots(v->pub.caps, n, more, &k, all);
    secret_slots(setup, ns, more, &k, all);
    secret_slots(v->pub.derived, VU_DERIVED, more, &k, all);   /* hmac with a secret key... */
    for (size_t i = 0; i < lanes; i++)
        secret_slots(v->batch->lanes[i].pub.derived, VU_DERIVED, more, &k, all);
    secret_redact(text, strlen(text), more, k, out, outcap);
    if (more != small)
        free(more);
}

/* Records one check result (metric BUILTIN_CHECKS, tags naming the check)
 * or a capture's (BUILTIN_CAPTURES, `capture` its name) and the first
 * reason it failed. */
static void check_result(vu_run *v, uint32_t metric, const char *group, uint32_t series,
                         const volley_tags *tags, const char *capture, bool pass, const char *why)
{
    volley_worker *w = v->w;
    metrics_agg *agg = &w->agg.buf[w->agg.cur];
    sample_tags st = {.t = tags, .scenario = v->sr->sc->name, .group = group, .capture = capture,
                      .vu = v->vtags, .n_vu = v->n_vtags, .stage = engine_sc_stage(v->sr)};
    /* k6's check(res, sets, tags): the step's own `tags:` reach `checks`
     * (a batch's step: its own, not the batch's) */
    const flow_op *op = v->results_of ? v->results_of
                        : v->pc < v->sr->sc->n_ops ? &v->sr->sc->ops[v->pc] : NULL;
    if (op) {
        st.step = op->tags;
        st.n_step = op->n_tags;
    }
    engine_worker_sample(w, metric, pass ? 1 : 0, &st);
    series_add(&agg->s[series], VOLLEY_METRIC_RATE, pass ? 1 : 0, 0);
    bool hook = !pass && !v->iter_failed && v->sr->sc->role != SC_ROLE_MAIN;
    bool first = !pass && w->first_fail && !w->first_fail[series];
    if (!pass)
        v->iter_failed = true;
    if (!hook && !first)
        return;
    /* Kept to be shown (summary, stderr): secrets hidden, once per check. */
    char shown[1024];
    vu_redact(v, why, shown, sizeof shown);
    if (hook)
        snprintf(w->e->hook_reason, sizeof w->e->hook_reason, "%s: %s \"%s\" failed: %.400s",
                 v->sr->sc->name, capture ? "capture" : "check",
                 capture ? capture : tags && tags->check ? tags->check : "?", shown);
    /* The first reason per check, for the summary: one copy per run. */
    if (first)
        w->first_fail[series] = strdup(shown);
}

/* check_sink.result: a check item's result, in its own group. */
static void record_check(void *ctx, const check_item *ci, bool pass, const char *why)
{
    check_result(ctx, BUILTIN_CHECKS, ci->group, ci->series, &ci->tags, NULL, pass, why);
}

/* A step's own `check:` items (check.c evaluates, the VU records). */
static bool run_checks(vu_run *v, const flow_op *op, const volley_response *resp,
                       volley_memo *memo)
{
    const check_sink sink = {.result = record_check, .ctx = v};
    return check_eval_memo(op->checks, op->n_checks, resp, memo, &sink);
}

bool engine_host_checks_run(const volley_checks *c, volley_vu *vu, const volley_response *resp)
{
    if (!c)
        return true;
    const check_sink sink = {.result = record_check, .ctx = engine_vu_of(vu)};
    volley_response full;
    return check_eval(c->items, c->n, check_resp_full(resp, c->proto_rev, &full), vu,
                      c->match_only ? NULL : &sink);
}

static const volley_response step_not_run = {.status = 0, .error = "step did not run"};

/* Captures into the VU's slots; each records a `captures` sample (kept out
 * of `checks`: a ported `checks: rate==1` means what it meant in k6). */
static bool apply_captures(vu_run *v, const capture_def *defs, size_t n, const char *group,
                           const volley_response *resp, volley_memo *memo)
{
    if (n == 0)
        return true;
    if (!resp)
        resp = &step_not_run;
    capture_ctx cx = {.body = resp->body, .body_len = resp->body ? resp->body_len : 0,
                      .headers = resp->headers ? resp->headers : "",
                      .headers_len = resp->headers ? resp->headers_len : 0, .url = resp->url,
                      .jar = resp->jar, .jar_len = resp->jar ? resp->jar_len : 0, .memo = memo};
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        const capture_def *c = &defs[i];
        char why[320] = "";
        bool ok;
        if (resp->error) {
            snprintf(why, sizeof why, "no response (%s)", resp->error);
            v->pub.caps[c->slot].kind = CAP_UNSET;
            ok = false;
        } else {
            ok = capture_apply(c, &cx, &v->pub.caps[c->slot], why, sizeof why);
        }
        check_result(v, BUILTIN_CAPTURES, group, c->series, NULL, c->name, ok, why);
        all &= ok;
    }
    capture_ctx_done(&cx);
    return all;
}

static bool run_captures(vu_run *v, const flow_op *op, const volley_response *resp,
                         volley_memo *memo)
{
    return apply_captures(v, op->captures, op->n_captures, op->group, resp, memo);
}

bool engine_host_captures_apply(const volley_captures *c, volley_vu *vu,
                                const volley_response *resp)
{
    volley_response full;
    return !c || apply_captures(engine_vu_of(vu), c->defs, c->n, c->group,
                                check_resp_full(resp, c->proto_rev, &full), NULL);
}

/*
 * The once-per-run warning of a `record:` template that gave no number.
 * It shows this render's text (b: the scratch buffer, whose bytes past
 * len are an earlier render's), or says why there is none: an empty
 * render is a capture that failed or has not run (captures are unset
 * then), or an empty value. NULL b: the render itself failed.
 */
static void record_warn(vu_run *v, const record_def *r, const volley_buf *b)
{
    if (atomic_exchange(&v->w->e->record_warned, true))
        return;
    char shown[512];
    if (!b || b->len == 0) {
        const char *text = tmpl_display(r->tmpl);
        vu_redact(v, text ? text : "", shown, sizeof shown);
        fprintf(stderr, "volley: %s: record: %s %s; not recorded (said once)\n", r->location,
                shown, b ? "is empty: a capture it reads failed or has not run (or the value "
                           "is empty)"
                         : "could not be rendered (out of memory)");
        return;
    }
    vu_redact(v, b->data, shown, sizeof shown);
    fprintf(stderr, "volley: %s: record: \"%s\" is not a number; not recorded (said once)\n",
            r->location, shown);
}

/* A timing component or a size of the response (plugin.h, revision 7);
 * false when the response has none. */
static bool record_exchange(const record_def *r, const volley_response *resp, double *x)
{
    if (!resp || !(resp->has & (r->source == REC_TIMING ? VOLLEY_RESP_TIMINGS : VOLLEY_RESP_BYTES)))
        return false;
    switch (r->part) {
    case REC_T_BLOCKED: *x = resp->blocked_ms; break;
    case REC_T_CONNECTING: *x = resp->connecting_ms; break;
    case REC_T_TLS: *x = resp->tls_handshaking_ms; break;
    case REC_T_SENDING: *x = resp->sending_ms; break;
    case REC_T_WAITING: *x = resp->waiting_ms; break;
    case REC_T_RECEIVING: *x = resp->receiving_ms; break;
    case REC_T_DURATION: *x = resp->duration_ms; break;
    case REC_B_SENT: *x = (double)resp->bytes_sent; break;
    default: *x = (double)resp->bytes_received; break;
    }
    return true;
}

/* `record:` samples into custom metrics. */
static void run_records(vu_run *v, const flow_op *op, const volley_response *resp, bool passed)
{
    for (size_t i = 0; i < op->n_records; i++) {
        const record_def *r = &op->records[i];
        if ((r->when == REC_PASSED && !passed) || (r->when == REC_FAILED && passed))
            continue;
        double x = 0;
        switch (r->source) {
        case REC_CHECKS: x = passed ? 1 : 0; break;
        case REC_CHECKS_FAILED: x = passed ? 0 : 1; break;
        case REC_DURATION: x = resp ? resp->duration_ms : 0; break;
        case REC_TIMING:
        case REC_BYTES:
            /* no response (or a protocol that does not tell): nothing, as
             * the http_req_* trends leave such requests out */
            if (!record_exchange(r, resp, &x))
                continue;
            break;
        case REC_STATUS: x = resp ? resp->status : 0; break;
        case REC_ELAPSED: x = (double)(engine_mono_now() - v->iter_start) / 1e6; break;
        case REC_CONST: x = r->value; break;
        case REC_TEMPLATE: {
            volley_buf *b = &v->w->scratch;
            b->len = 0;
            char *end = NULL;
            bool rendered = tmpl_render(r->tmpl, &v->pub, b) == 0;
            if (rendered && b->len > 0)
                x = strtod(b->data, &end);
            if (b->len == 0 || end != b->data + b->len || x - x != 0) {
                record_warn(v, r, rendered ? b : NULL);
                continue;
            }
            break;
        }
        }
        sample_tags st = {.t = NULL, .scenario = v->sr->sc->name, .group = op->group,
                          .step = r->tags ? r->tags : op->tags,
                          .n_step = r->tags ? r->n_tags : op->n_tags, .vu = v->vtags,
                          .n_vu = v->n_vtags, .stage = engine_sc_stage(v->sr)};
        engine_worker_sample(v->w, r->metric, x, &st);
    }
}

/* Ends the whole test (on_check_fail: abort_test). */
static void abort_test(vu_run *v, const flow_op *op)
{
    engine *e = v->w->e;
    int expected = 0;
    if (atomic_compare_exchange_strong(&e->test_aborted, &expected, ABORT_BY_CHECK)) {
        snprintf(e->abort_reason, sizeof e->abort_reason,
                 "a check or capture failed at %s (on_check_fail: abort_test)", op->location);
        engine_request_stop(e);
    }
}

/* An abort step (k6's exec.test.abort(reason)): the test stops as with
 * abort_test; the iteration ends here, failed (a setup that aborts has
 * failed too, and says why). */
static void abort_step(vu_run *v, const flow_op *op)
{
    engine *e = v->w->e;
    v->iter_failed = true;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&e->test_aborted, &expected, ABORT_BY_STEP))
        return;
    volley_buf *b = &v->w->scratch;
    b->len = 0;
    char shown[400];
    if (tmpl_render(op->abort_reason, &v->pub, b) != 0 || !b->data)
        snprintf(shown, sizeof shown, "(the reason could not be rendered: out of memory)");
    else
        vu_redact(v, b->data, shown, sizeof shown);
    snprintf(e->abort_reason, sizeof e->abort_reason, "%s%s(abort at %s)", shown,
             *shown ? " " : "", op->location);
    if (v->sr->sc->role != SC_ROLE_MAIN)
        snprintf(e->hook_reason, sizeof e->hook_reason, "%s: %.400s", v->sr->sc->name, e->abort_reason);
    engine_request_stop(e);
}

/* A log step (k6's console.log): the text the VU renders, secrets hidden,
 * as one line on stderr (conlog.h). For debugging, as k6's console is: a
 * stderr nobody reads holds the worker up for that one write. A debug
 * line is shown only with -v (k6's --verbose). */
static void log_step(vu_run *v, const flow_op *op)
{
    engine *e = v->w->e;
    if (op->log_level == CONLOG_DEBUG && !e->core->verbose)
        return;
    volley_buf *b = &v->w->scratch;
    b->len = 0;
    char text[CONLOG_LINE_MAX], line[CONLOG_LINE_MAX + 1];
    if (tmpl_render(op->log_text, &v->pub, b) != 0)
        snprintf(text, sizeof text, "(%s: the text could not be rendered: out of memory)", op->location);
    else
        vu_redact(v, b->data && b->len ? b->data : "", text, sizeof text);
    uint64_t now = engine_mono_now();
    size_t n = conlog_format(line, (conlog_level)op->log_level, now > e->t0 ? now - e->t0 : 0, text);
    conlog_write(line, n);
    atomic_fetch_add_explicit(&e->console_lines, 1, memory_order_relaxed);
}

/* A check step's "response": there is none, and none was expected. */
static const volley_response no_request = {.status = 0};

/* Whether op's response is the one `if: { status }` reads next. A check
 * step has none: the last one stays. A batch leaves the status of its
 * last step as written, whichever of its steps ended last (k6's
 * responses[responses.length - 1]), so the flow after it does not
 * depend on the order the responses came in. */
static bool sets_last_status(const vu_run *v, const flow_op *op)
{
    if (op->kind == OP_CHECK)
        return false;
    if (v->state != VU_IN_BATCH)
        return true;
    const scenario *sc = v->sr->sc;
    return op == &sc->ops[sc->ops[v->batch->batch].batch_end - 1];
}

/* After a step: checks, captures, records; then what on_check_fail says.
 * Returns false when the iteration must end here. */
static bool finish_step(vu_run *v, const flow_op *op, const volley_response *resp)
{
    if (sets_last_status(v, op))
        v->last_status = resp ? resp->status : 0;
    /* One memo for the step's checks and captures: what a check parsed of
     * the response (an HTML document) serves the captures too. */
    volley_memo memo = {.vu = &v->pub};
    v->results_of = op;
    bool passed = run_checks(v, op, resp, &memo);
    passed &= run_captures(v, op, resp, &memo);
    v->results_of = NULL;
    memo_clear(&memo);
    run_records(v, op, resp, passed);
    if (passed || op->on_fail == ONFAIL_CONTINUE)
        return true;
    if (op->on_fail == ONFAIL_ABORT_TEST)
        abort_test(v, op);
    return false;
}

bool engine_vu_step_results(vu_run *v, const flow_op *op, const volley_response *resp)
{
    return finish_step(v, op, resp);
}

/* on_check_fail: stop_iteration (or abort_test): the iteration ends now,
 * counted like any other; open groups are left without group_duration. */
static void end_iteration_early(vu_run *v)
{
    v->pc = (uint32_t)v->sr->sc->n_ops;
    v->depth = 0;
}

/* A batch is over: the flow goes on after it, or the iteration ends when
 * one of its steps' on_check_fail said so (k6 has every response of a
 * batch before its checks run: the whole batch runs first). */
static void batch_over(vu_run *v, bool stop)
{
    if (stop)
        end_iteration_early(v);
    else
        v->pc = v->sr->sc->ops[v->pc].batch_end;
}

/* The VU's lanes could not be made (out of memory): each step of the
 * batch is recorded as not run. Whether the iteration ends. */
static bool batch_not_run(vu_run *v, const flow_op *op)
{
    bool stop = false;
    for (uint32_t i = v->pc + 1; i < op->batch_end; i++)
        stop |= !finish_step(v, &v->sr->sc->ops[i], NULL);
    return stop;
}

/* step_done of a step of a batch, from its slot: a lane's pc, or the
 * batch's `own` (the step on the VU itself). */
static void batch_step_done(vu_run *v, uint32_t *slot, const volley_response *resp)
{
    if (v->state != VU_IN_BATCH || *slot == LANE_IDLE)
        return;   /* a late call after a cancel: ignore */
    if (!finish_step(v, &v->sr->sc->ops[*slot], resp))
        v->batch->stop = true;
    if (!engine_batch_step_done(v, slot))
        return;
    batch_over(v, v->batch->stop);
    v->state = VU_IDLE;
    if (v->in_run)
        v->step_finished = true;
    else
        engine_vu_run(v);
}

void engine_host_step_done(volley_vu *vu, const volley_response *resp)
{
    if (vu->lane_of) {
        vu_lane *l = (vu_lane *)vu;
        batch_step_done(engine_vu_of(vu), &l->pc, resp);
        return;
    }
    vu_run *v = (vu_run *)vu;
    if (v->state == VU_IN_BATCH) {
        batch_step_done(v, &v->batch->own, resp);
        return;
    }
    if (v->state != VU_IN_STEP)
        return;   /* a late call after a cancel: ignore */
    const flow_op *op = &v->sr->sc->ops[v->pc];
    volley_response full;
    resp = check_resp_full(resp, v->w->e->s->protos[op->proto].plugin->desc->revision, &full);
    if (finish_step(v, op, resp))
        v->pc++;
    else
        end_iteration_early(v);
    v->state = VU_IDLE;
    if (v->in_run)
        v->step_finished = true;   /* vu_run_loop continues on its own */
    else
        engine_vu_run(v);
}

volley_worker *engine_host_vu_worker(volley_vu *vu) { return engine_vu_of(vu)->w; }

/* A sleep step's time; a templated one (${random.float(1, 4)}s) is read
 * as a duration each time. */
static int64_t sleep_ns(vu_run *v, const flow_op *op)
{
    if (!op->sleep_tmpl)
        return op->sleep_ns;
    volley_buf *b = &v->w->scratch;
    b->len = 0;
    int64_t ns = 0;
    char err[160];
    if (tmpl_render(op->sleep_tmpl, &v->pub, b) != 0 || !b->data ||
        duration_parse(b->data, &ns, err, sizeof err) != 0 || ns < 0) {
        if (!atomic_exchange(&v->w->e->sleep_warned, true)) {
            char shown[512];
            vu_redact(v, b->data ? b->data : "", shown, sizeof shown);
            fprintf(stderr, "volley: %s: sleep: \"%s\" is not a duration; not sleeping (said once)\n",
                    op->location, shown);
        }
        return 0;
    }
    return ns;
}

static void on_vu_timer(uv_timer_t *t)
{
    vu_run *v = t->data;
    if (v->state == VU_SLEEPING)
        v->pc++;
    v->state = VU_IDLE;
    engine_vu_run(v);
}

static void group_enter(vu_run *v)
{
    if (v->depth < MAX_GROUP_DEPTH)
        v->group_start[v->depth] = engine_mono_now();
    v->depth++;
}

static void group_exit(vu_run *v, const flow_op *op)
{
    v->depth--;
    if (v->depth >= MAX_GROUP_DEPTH)
        return;
    double ms = (double)(engine_mono_now() - v->group_start[v->depth]) / 1e6;
    sample_tags st = {.t = NULL, .scenario = v->sr->sc->name, .group = op->group,
                      .vu = v->vtags, .n_vu = v->n_vtags, .stage = engine_sc_stage(v->sr)};
    engine_worker_sample(v->w, BUILTIN_GROUP_DURATION, ms, &st);
}

/* Runs the VU until it has to wait (a step in flight, a sleep) or is done.
 * Steps that finish synchronously loop here instead of recursing. */
void engine_vu_run(vu_run *v)
{
    if (v->in_run || v->state == VU_DONE || v->state == VU_PARKED)
        return;
    v->in_run = true;
    const scenario *sc = v->sr->sc;
    int budget = SYNC_ITER_BUDGET;
    for (;;) {
        if (!v->in_iteration) {
            /* Pacing: however the last iteration ended (a failed check that
             * stops it skips its sleeps), the next starts no sooner than
             * pacing after it started. The wait ends at the scenario's end
             * like a yield. */
            if (sc->pacing_ns && v->iters_done && engine_mono_now() < v->next_iter_at) {
                v->state = VU_YIELDING;
                uv_timer_start(&v->timer, on_vu_timer,
                               engine_timer_ms_until(&v->w->loop, v->next_iter_at), 0);
                break;
            }
            int next = next_action(v);
            if (next != NEXT_GO) {
                if (next == NEXT_PARK)
                    engine_vu_park(v);
                else
                    engine_vu_stop(v);
                break;
            }
            if (--budget < 0) {
                /* Many iterations without waiting: let the loop breathe. */
                if (v->sr->sc->executor == EXEC_SHARED_ITERATIONS)
                    atomic_fetch_sub(&v->w->e->claimed[v->sr->index], 1);   /* give it back */
                v->state = VU_YIELDING;
                uv_timer_start(&v->timer, on_vu_timer, 0, 0);
                break;
            }
            if (!pick_rows(v)) {
                engine_vu_stop(v);
                break;
            }
            begin_iteration(v);
        }
        if (v->pc >= sc->n_ops) {
            end_iteration(v);
            continue;
        }
        const flow_op *op = &sc->ops[v->pc];
        if (op->kind == OP_GROUP_ENTER) {
            group_enter(v);
            v->pc++;
            continue;
        }
        if (op->kind == OP_GROUP_EXIT) {
            group_exit(v, op);
            v->pc++;
            continue;
        }
        if (op->kind == OP_ONCE_ENTER) {
            v->pc = (v->once_done >> op->once) & 1 ? op->once_skip : v->pc + 1;
            continue;
        }
        if (op->kind == OP_ONCE_EXIT) {
            v->once_done |= (uint64_t)1 << op->once;
            v->pc++;
            continue;
        }
        if (op->kind == OP_CHECK) {
            if (finish_step(v, op, &no_request))
                v->pc++;
            else
                end_iteration_early(v);
            continue;
        }
        if (op->kind == OP_ABORT) {
            abort_step(v, op);
            end_iteration_early(v);
            continue;
        }
        if (op->kind == OP_LOG) {
            log_step(v, op);
            v->pc++;
            continue;
        }
        if (op->kind == OP_CTL) {
            if (engine_flow_run(v, op))
                continue;
            /* Many loop passes without a wait: a zero sleep (not a yield,
             * which is between iterations) before the op at the new pc. */
            v->pc--;
            v->state = VU_SLEEPING;
            uv_timer_start(&v->timer, on_vu_timer, 0, 0);
            break;
        }
        if (op->kind == OP_BATCH) {
            int r = engine_batch_start(v, op);
            if (r == 0)
                break;
            batch_over(v, r < 0 ? batch_not_run(v, op) : v->batch->stop);
            continue;
        }
        if (op->kind == OP_SLEEP) {
            v->state = VU_SLEEPING;
            uint64_t wake_at = engine_mono_now() + (uint64_t)sleep_ns(v, op);
            uv_timer_start(&v->timer, on_vu_timer, engine_timer_ms_until(&v->w->loop, wake_at), 0);
            break;
        }
        /* OP_STEP */
        const proto_use *pu = &v->w->e->s->protos[op->proto];
        const volley_protocol_ops *ops = pu->plugin->desc->protocol;
        v->state = VU_IN_STEP;
        v->step_finished = false;
        int started;
        CRASH_CALL(pu->plugin->desc->name, "protocol step_start",
                   started = ops->step_start(v->w->pstate[op->proto], op->step, &v->pub, v->pstate[op->proto]));
        if (started != 0) {
            v->state = VU_IDLE;
            if (finish_step(v, op, NULL))
                v->pc++;
            else
                end_iteration_early(v);
            continue;
        }
        if (v->step_finished)
            continue;
        break;
    }
    v->in_run = false;
}

/* Aborts what a running VU is doing (its step, its sleep); the iteration
 * counts as interrupted. */
void engine_vu_abort_iteration(vu_run *v)
{
    if (v->state == VU_IN_STEP) {
        const flow_op *op = &v->sr->sc->ops[v->pc];
        const plug *p = v->w->e->s->protos[op->proto].plugin;
        const volley_protocol_ops *ops = p->desc->protocol;
        if (ops->step_cancel)
            CRASH_CALL(p->desc->name, "protocol step_cancel",
                       ops->step_cancel(v->w->pstate[op->proto], &v->pub, v->pstate[op->proto]));
    } else if (v->state == VU_IN_BATCH) {
        engine_batch_cancel(v);
    }
    uv_timer_stop(&v->timer);
    if (v->in_iteration) {
        v->w->interrupted++;
        atomic_fetch_add_explicit(&v->w->e->live[v->sr->index].interrupted, 1, memory_order_relaxed);
    }
    v->in_iteration = false;
    v->has_arrival = false;
}

/* Stops a VU at once: graceful stop ran out or the test was interrupted. */
void engine_vu_interrupt(vu_run *v)
{
    if (v->state == VU_DONE)
        return;
    engine_vu_abort_iteration(v);
    engine_vu_stop(v);
}
