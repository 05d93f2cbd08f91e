/*
 * volley_testhost: the public face of the test host (volley/testhost.h)
 * for plugin authors out of tree, as a thin layer over testhost.c, which
 * the in-tree plugin tests use directly. Only volley_testhost_* symbols
 * leave libvolley-testhost.
 */
#include "volley/testhost.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memo.h"
#include "testhost.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct interned {
    struct interned *next;
    volley_tagset set;
} interned;

struct volley_testhost {
    testhost th;               /* first: its address is fixed for its life */
    volley_response last;
    interned *sets;
};

/* The host table's VU callbacks have no context: one test host at a time. */
static volley_testhost *live;

EXPORT volley_testhost *volley_testhost_new(void)
{
    if (live)
        return NULL;
    volley_testhost *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (th_init(&t->th) != 0) {
        free(t);
        return NULL;
    }
    t->th.quiet = true;        /* errors come back in err */
    live = t;
    return t;
}

EXPORT void volley_testhost_free(volley_testhost *t)
{
    if (!t)
        return;
    th_fini(&t->th);
    for (interned *i = t->sets, *next; i; i = next) {
        next = i->next;
        free(i);
    }
    if (live == t)
        live = NULL;
    free(t);
}

EXPORT const volley_host *volley_testhost_host(volley_testhost *t) { return &t->th.host; }
EXPORT volley_core *volley_testhost_core(volley_testhost *t) { return (volley_core *)&t->th; }

EXPORT const volley_plugin *volley_testhost_load(volley_testhost *t, const char *path, char *err,
                                                 size_t errcap)
{
    return th_load_path(&t->th, path, err, errcap);
}

EXPORT int volley_testhost_config(volley_testhost *t, const volley_option_map *map, const char *yaml,
                                  void *config, char *err, size_t errcap)
{
    int rc = th_fill(&t->th, map, yaml, config);
    if (rc != 0 && errcap) {
        size_t len = 0;
        err[0] = '\0';
        for (size_t i = 0; i < t->th.d.n_lines && len + 1 < errcap; i++)
            len += (size_t)snprintf(err + len, errcap - len, "%s%s", i ? "\n" : "", t->th.d.lines[i]);
        if (!*err)
            snprintf(err, errcap, "invalid config");
    }
    return rc;
}

EXPORT int volley_testhost_service(volley_testhost *t, const char *name, const char *url)
{
    return th_service(&t->th, name, url);
}

EXPORT int volley_testhost_metric(volley_testhost *t, const char *name, volley_metric_type type,
                                  volley_metric_contains contains)
{
    char err[128];
    return t->th.host.metric_register((volley_core *)&t->th, name, type, contains, err, sizeof err);
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const volley_tag *)a)->key, ((const volley_tag *)b)->key);
}

static bool same_set(const volley_tagset *a, const volley_tag *tags, size_t n)
{
    if (a->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(a->tags[i].key, tags[i].key) != 0 || strcmp(a->tags[i].value, tags[i].value) != 0)
            return false;
    return true;
}

EXPORT const volley_tagset *volley_testhost_tags(volley_testhost *t, ...)
{
    volley_tag tags[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, t);
    for (const char *k; n < 32 && (k = va_arg(ap, const char *));) {
        const char *v = va_arg(ap, const char *);
        tags[n++] = (volley_tag){k, v ? v : ""};
    }
    va_end(ap);
    qsort(tags, n, sizeof *tags, cmp_tag);
    for (interned *i = t->sets; i; i = i->next)
        if (same_set(&i->set, tags, n))
            return &i->set;
    /* One block: the node, its tag array, then the strings. */
    size_t bytes = sizeof(interned) + n * sizeof(volley_tag);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(tags[i].key) + strlen(tags[i].value) + 2;
    interned *node = malloc(bytes);
    if (!node)
        return NULL;
    volley_tag *copy = (volley_tag *)(node + 1);
    char *s = (char *)(copy + n);
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(tags[i].key) + 1, vl = strlen(tags[i].value) + 1;
        copy[i].key = memcpy(s, tags[i].key, kl);
        copy[i].value = memcpy(s + kl, tags[i].value, vl);
        s += kl + vl;
    }
    node->set = (volley_tagset){.n = n, .tags = copy};
    node->next = t->sets;
    t->sets = node;
    return &node->set;
}

EXPORT volley_sample volley_testhost_sample(volley_testhost *t, const char *metric, double value,
                                            int64_t time_unix_ns, const volley_tagset *tags)
{
    static const volley_tagset none = {0, NULL};
    int id = th_metric_id(&t->th, metric);
    return (volley_sample){.metric = id < 0 ? UINT32_MAX : (uint32_t)id, .tags = tags ? tags : &none,
                           .time_unix_ns = time_unix_ns, .value = value};
}

EXPORT volley_worker *volley_testhost_worker(volley_testhost *t) { return t->th.worker; }
EXPORT volley_vu *volley_testhost_vu(volley_testhost *t, uint64_t id) { return th_vu(&t->th, id); }

EXPORT int volley_testhost_run_until(volley_testhost *t, int n, int timeout_ms)
{
    return th_run_until(&t->th, n, timeout_ms);
}

EXPORT void volley_testhost_drain(volley_testhost *t) { th_drain(&t->th); }

EXPORT const volley_response *volley_testhost_last_response(volley_testhost *t)
{
    const th_done *d = &t->th.done;
    if (d->count == 0)
        return NULL;
    t->last = (volley_response){.status = d->status, .error = d->error, .headers = d->headers,
                                .headers_len = d->headers ? strlen(d->headers) : 0, .body = d->body,
                                .body_len = d->body_len, .duration_ms = d->duration_ms};
    return &t->last;
}

EXPORT bool volley_testhost_eval(volley_testhost *t, const volley_check_key *key, const void *cond,
                                 const volley_response *resp, volley_vu *vu, char *msg, size_t msgcap)
{
    (void)t;
    volley_memo memo = {.vu = vu};
    if (msgcap)
        msg[0] = '\0';
    bool ok = key->eval(cond, resp, &memo, msg, msgcap);
    memo_clear(&memo);
    return ok;
}

EXPORT size_t volley_testhost_count(volley_testhost *t, const char *metric)
{
    return th_count(&t->th, metric);
}

EXPORT double volley_testhost_sum(volley_testhost *t, const char *metric) { return th_sum(&t->th, metric); }

EXPORT const volley_tags *volley_testhost_last_tags(volley_testhost *t, const char *metric)
{
    const th_sample *s = th_last(&t->th, metric);
    return s ? &s->tags : NULL;
}

EXPORT void volley_testhost_reset(volley_testhost *t) { th_reset_samples(&t->th); }
