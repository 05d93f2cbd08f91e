/*
 * engine_end: how traffic ends on the workers: a stop asked for by the
 * main thread or a VU, the end gate every worker passes once its
 * scenarios are done, a worker's shutdown of its plugins and handles, and
 * closing a loop whatever state its handles are in.
 */
#include "crash.h"
#include "engine_int.h"

void engine_wake_all(engine *e)
{
    for (int i = 0; i < e->n_workers; i++)
        if (atomic_load(&e->workers[i].wake_ready))
            uv_async_send(&e->workers[i].wake);
}

void engine_request_stop(engine *e)
{
    atomic_store(&e->stop, 1);
    engine_wake_all(e);
}

static void worker_shutdown(volley_worker *w)
{
    if (w->finishing)
        return;
    w->finishing = true;
    engine *e = w->e;
    for (size_t i = 0; w->pstate && i < e->s->n_protos; i++) {
        const volley_protocol_ops *ops = e->s->protos[i].plugin->desc->protocol;
        const char *name = e->s->protos[i].plugin->desc->name;
        for (size_t j = 0; j < w->n_vus; j++) {
            /* lanes first: their states may point into the VU's (lane_init) */
            engine_batch_fini(&w->vus[j], i);
            if (w->vus[j].pstate && w->vus[j].pstate[i] && ops->vu_fini)
                CRASH_CALL(name, "protocol vu_fini", ops->vu_fini(w->pstate[i], w->vus[j].pstate[i]));
        }
        if (w->pstate[i] && ops->worker_fini)
            CRASH_CALL(name, "protocol worker_fini", ops->worker_fini(w->pstate[i]));
    }
    engine_flush_raw(e, &w->raw);
    for (size_t j = 0; j < w->n_vus; j++)
        uv_close((uv_handle_t *)&w->vus[j].timer, NULL);
    for (size_t i = 0; i < e->s->n_scenarios; i++)
        if (w->scs[i].timer_ready)
            uv_close((uv_handle_t *)&w->scs[i].timer, NULL);
    uv_close((uv_handle_t *)&w->clock_prepare, NULL);
    uv_close((uv_handle_t *)&w->clock_check, NULL);
    uv_close((uv_handle_t *)&w->flush, NULL);
    uv_close((uv_handle_t *)&w->sched, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

/* Counts one worker whose traffic is over; the last one wakes them all. */
void engine_idle_arrive(engine *e)
{
    int idle = atomic_fetch_add(&e->workers_idle, 1) + 1;
    /* All but one idle: the one left may be waiting to start teardown. */
    if (idle >= e->n_workers - 1)
        engine_wake_all(e);
}

/*
 * End gate: a worker whose scenarios are done shuts its plugins down only
 * once every worker's traffic is over. A library may close an fd number
 * twice while it shuts down (libwebsockets 4.1.6 closes its event fd in
 * lws_context_destroy and again when lws' uv handle closes); a socket
 * another worker opened in between got that number and was closed under
 * it (measured: an assertion in lws' fd table, or libuv's abort on a
 * poll of a closed fd). After the gate no worker opens sockets any more.
 */
void engine_worker_check_done(volley_worker *w)
{
    if (w->finishing)
        return;
    for (size_t i = 0; i < w->e->s->n_scenarios; i++) {
        if (w->scs[i].phase == SC_DONE)
            continue;
        /* Only teardown left, and every other worker idle: the loop's
         * next turn starts it (its wake-up runs engine_start_teardown). */
        if ((int)i == w->e->s->teardown_sc && w->scs[i].held &&
            atomic_load(&w->e->workers_idle) >= w->e->n_workers - 1)
            uv_async_send(&w->wake);
        return;
    }
    if (!w->idle) {
        w->idle = true;
        engine_idle_arrive(w->e);
    }
    if (atomic_load(&w->e->workers_idle) >= w->e->n_workers)
        worker_shutdown(w);
}

void engine_worker_salvage(volley_worker *w)
{
    if (atomic_load(&w->crashed))
        engine_flush_raw(w->e, &w->raw);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Closes the handles still open on a loop, then the loop: a loop whose
 * setup failed halfway, or whose run never started, ends as cleanly as
 * one that ran to its end. */
void engine_loop_close(uv_loop_t *loop)
{
    uv_walk(loop, close_handle, NULL);
    while (uv_run(loop, UV_RUN_NOWAIT) != 0)
        ;
    uv_loop_close(loop);
}
