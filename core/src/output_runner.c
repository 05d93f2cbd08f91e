#include "output_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void *outr_main(void *arg)
{
    out_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->len == 0 && !r->closing)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->len == 0 && r->closing)
            break;
        out_batch *b = r->q[r->head];
        r->head = (r->head + 1) % OUTR_QUEUE;
        r->len--;
        pthread_mutex_unlock(&r->mu);
        if (!r->failed) {
            char err[512] = "";
            if (r->ops->write(r->inst, b->s, b->n, err, sizeof err) != 0) {
                r->failed = true;
                snprintf(r->err, sizeof r->err, "%s", *err ? err : "write failed");
                atomic_fetch_add(&r->dropped, b->n);
            } else {
                r->written += b->n;
            }
        } else {
            atomic_fetch_add(&r->dropped, b->n);
        }
        out_batch_release(b);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    char err[512] = "";
    if (r->ops->close && r->ops->close(r->inst, err, sizeof err) != 0 && !r->failed) {
        r->failed = true;
        snprintf(r->err, sizeof r->err, "%s", *err ? err : "close failed");
    }
    return NULL;
}

int outr_start(out_runner *r, const output_cfg *cfg, const volley_host *host,
               volley_core *core, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->ops = cfg->plugin->desc->output;
    atomic_init(&r->dropped, 0);
    char why[512] = "";
    r->inst = r->ops->create(host, core, cfg->config, why, sizeof why);
    if (!r->inst) {
        snprintf(err, errcap, "output %s: %s", cfg->label, *why ? why : "failed to start");
        return -1;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, outr_main, r) != 0) {
        snprintf(err, errcap, "output %s: cannot start its thread", cfg->label);
        if (r->ops->destroy)
            r->ops->destroy(r->inst);
        r->inst = NULL;
        return -1;
    }
    r->started = true;
    return 0;
}

void outr_push(out_runner *r, out_batch *b)
{
    if (!r->started)
        return;
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
    if (!r->started)
        return;
    pthread_mutex_lock(&r->mu);
    r->closing = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    if (r->ops->destroy)
        r->ops->destroy(r->inst);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    r->started = false;
}
