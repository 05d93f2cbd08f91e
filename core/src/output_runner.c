#include "output_runner.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crash.h"
#include "secret.h"

out_batch *out_batch_new(volley_sample *samples, size_t n)
{
    out_batch *b = malloc(sizeof *b);
    if (!b) {
        free(samples);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->n = n;
    b->s = samples;
    return b;
}

void out_batch_release(out_batch *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        free(b->s);
        free(b);
    }
}

/* A write or tick failed: the output gets nothing more but close(). */
static void fail(out_runner *r, const char *err, const char *what)
{
    r->failed = true;
    /* Shown on stderr and in the summary: with secrets hidden (an error
     * may quote a path or url that holds one). */
    const char *text = *err ? err : what;
    secret_redact(text, strlen(text), NULL, 0, r->err, sizeof r->err);
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t t = (uint64_t)ts->tv_nsec + ns % 1000000000u;
    ts->tv_sec += (time_t)(ns / 1000000000u + t / 1000000000u);
    ts->tv_nsec = (long)(t % 1000000000u);
}

static bool due(const struct timespec *at)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

/* Calls tick() (unlocked) and plans the next one; false when no more. */
static bool run_tick(out_runner *r, uint64_t *next_ns, struct timespec *at)
{
    char err[512] = "";
    int rc;
    CRASH_CALL(r->cfg->plugin->desc->name, "output tick", rc = r->ops->tick(r->inst, next_ns, err, sizeof err));
    if (rc != 0) {
        fail(r, err, "tick failed");
        return false;
    }
    if (*next_ns == 0)
        return false;
    deadline_after(at, *next_ns);
    return true;
}

static void *outr_main(void *arg)
{
    out_runner *r = arg;
    crash_thread_begin(r->crash_info);
    const char *name = r->cfg->plugin->desc->name;
    uint64_t next_ns = 0;
    struct timespec tick_at;
    bool ticking = r->ops->tick && run_tick(r, &next_ns, &tick_at);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->len == 0 && !r->closing) {
            if (ticking && !r->failed) {
                if (pthread_cond_timedwait(&r->cv, &r->mu, &tick_at) != 0 && due(&tick_at))
                    break;
            } else {
                pthread_cond_wait(&r->cv, &r->mu);
            }
        }
        if (r->len == 0 && r->closing)
            break;
        if (r->len == 0) {   /* a tick is due and nothing is queued */
            pthread_mutex_unlock(&r->mu);
            ticking = run_tick(r, &next_ns, &tick_at);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        out_batch *b = r->q[r->head];
        r->head = (r->head + 1) % OUTR_QUEUE;
        r->len--;
        bool closing = r->closing;
        pthread_mutex_unlock(&r->mu);
        if (!r->failed && b->n > 0) {
            char err[512] = "";
            int rc;
            CRASH_CALL(name, "output write", rc = r->ops->write(r->inst, b->s, b->n, err, sizeof err));
            if (rc != 0) {
                fail(r, err, "write failed");
                atomic_fetch_add(&r->dropped, b->n);
            } else {
                r->written += b->n;
            }
        } else {
            atomic_fetch_add(&r->dropped, b->n);
        }
        out_batch_release(b);
        /* A busy output still ticks on time; none once closing began. */
        if (ticking && !closing && !r->failed && due(&tick_at))
            ticking = run_tick(r, &next_ns, &tick_at);
        pthread_mutex_lock(&r->mu);
    }
    const volley_run_summary *sum = r->summary;
    pthread_mutex_unlock(&r->mu);
    char err[512] = "";
    int rc = 0;
    if (sum && r->ops->summary && !r->failed) {
        CRASH_CALL(name, "output summary", rc = r->ops->summary(r->inst, sum, err, sizeof err));
        if (rc != 0)
            fail(r, err, "summary failed");
        rc = 0;
        *err = '\0';
    }
    if (r->ops->close)
        CRASH_CALL(name, "output close", rc = r->ops->close(r->inst, err, sizeof err));
    if (rc != 0 && !r->failed)
        fail(r, err, "close failed");
    crash_thread_end();
    return NULL;
}

int outr_start(out_runner *r, const output_cfg *cfg, const volley_host *host,
               volley_core *core, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->ops = cfg->plugin->desc->output;
    atomic_init(&r->dropped, 0);
    atomic_init(&r->crashed, 0);
    char why[512] = "";
    snprintf(r->role, sizeof r->role, "output %s", cfg->plugin->desc->name);
    r->crash_info = malloc(sizeof *r->crash_info);
    if (!r->crash_info) {
        snprintf(err, errcap, "output %s: out of memory", cfg->label);
        return -1;
    }
    *r->crash_info = (crash_thread_info){.role = r->role, .crashed = &r->crashed};
    CRASH_CALL(cfg->plugin->desc->name, "output create",
               r->inst = r->ops->create(host, core, cfg->config, why, sizeof why));
    if (!r->inst) {
        snprintf(err, errcap, "output %s: %s", cfg->label, *why ? why : "failed to start");
        free(r->crash_info);
        r->crash_info = NULL;
        return -1;
    }
    /* Ticks wait on the monotonic clock: a wall-clock step must not
     * stall or rush them. */
    pthread_condattr_t ca;
    bool ca_ok = false, mu_ok = false, cv_ok = false;
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    ca_ok = true;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_mutex_init(&r->mu, NULL) != 0)
        goto fail;
    mu_ok = true;
    if (pthread_cond_init(&r->cv, &ca) != 0)
        goto fail;
    cv_ok = true;
    pthread_condattr_destroy(&ca);
    ca_ok = false;
    if (pthread_create(&r->thread, NULL, outr_main, r) != 0)
        goto fail;
    r->started = true;
    return 0;
fail:
    snprintf(err, errcap, "output %s: cannot start its thread", cfg->label);
    if (ca_ok)
        pthread_condattr_destroy(&ca);
    if (mu_ok)
        pthread_mutex_destroy(&r->mu);
    if (cv_ok)
        pthread_cond_destroy(&r->cv);
    if (r->ops->destroy)
        CRASH_CALL(cfg->plugin->desc->name, "output destroy", r->ops->destroy(r->inst));
    r->inst = NULL;
    free(r->crash_info);
    r->crash_info = NULL;
    return -1;
}

void outr_push(out_runner *r, out_batch *b)
{
    if (!r->started)
        return;
    if (atomic_load_explicit(&r->crashed, memory_order_relaxed)) {
        atomic_fetch_add(&r->dropped, b->n);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (r->len == OUTR_QUEUE) {
        atomic_fetch_add(&r->dropped, b->n);   /* bounded: count, never block */
    } else {
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
        r->q[(r->head + r->len) % OUTR_QUEUE] = b;
        r->len++;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

void outr_finish(out_runner *r)
{
    outr_finish_summary(r, NULL);
}

void outr_finish_summary(out_runner *r, const volley_run_summary *sum)
{
    if (!r->started)
        return;
    if (!atomic_load(&r->crashed)) {
        pthread_mutex_lock(&r->mu);
        r->summary = sum;
        r->closing = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    if (!crash_join(r->thread, &r->crashed)) {
        /* Its plugin is never called again; its thread, mutex and the
         * samples it held stay where they are until the process ends. */
        r->failed = true;
        const char *what = crash_what();
        snprintf(r->err, sizeof r->err, "crashed: %s", what ? what : "a fatal signal");
        r->started = false;
        return;
    }
    if (r->ops->destroy)
        CRASH_CALL(r->cfg->plugin->desc->name, "output destroy", r->ops->destroy(r->inst));
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->crash_info);
    r->crash_info = NULL;
    r->started = false;
}
