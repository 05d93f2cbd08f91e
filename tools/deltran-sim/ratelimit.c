#include "ratelimit.h"

#include <stdlib.h>

#include "util.h"

struct bucket {
    double tokens;
    int64_t last_ns;
};

struct visitor {
    int tokens;
    int64_t last_seen_ns;
};

void tbucket_init(struct tbucket *t, int per_minute, int burst)
{
    store_init(&t->keys, 0, free);
    t->per_ns = per_minute / 60e9;
    t->burst = burst;
}

bool tbucket_allow(struct tbucket *t, const char *key, int64_t now_ns)
{
    struct bucket *b = store_get(&t->keys, key);
    if (!b) {
        b = xmalloc(sizeof *b);
        b->tokens = t->burst;
        b->last_ns = now_ns;
        store_put(&t->keys, key, b);
    }
    b->tokens += (double)(now_ns - b->last_ns) * t->per_ns;
    if (b->tokens > t->burst)
        b->tokens = t->burst;
    b->last_ns = now_ns;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/* A bucket idle long enough to be full again is the same as a new one. */
void tbucket_sweep(struct tbucket *t, int64_t now_ns)
{
    int64_t full_ns = t->per_ns > 0 ? (int64_t)(t->burst / t->per_ns) : INT64_MAX / 2;
    struct store_ent *e = t->keys.newest;
    while (e) {
        struct store_ent *older = e->older;
        struct bucket *b = e->val;
        if (now_ns - b->last_ns > full_ns)
            store_del(&t->keys, e->key);
        e = older;
    }
}

void tbucket_destroy(struct tbucket *t)
{
    store_destroy(&t->keys);
}

void fwindow_init(struct fwindow *f, int limit, int64_t window_ns)
{
    store_init(&f->keys, 0, free);
    f->limit = limit;
    f->window_ns = window_ns;
}

bool fwindow_take(struct fwindow *f, const char *key, int64_t now_ns, int *remaining)
{
    struct visitor *v = store_get(&f->keys, key);
    if (!v) {
        v = xmalloc(sizeof *v);
        v->tokens = f->limit;
        v->last_seen_ns = now_ns;
        store_put(&f->keys, key, v);
    } else if (now_ns - v->last_seen_ns > f->window_ns) {
        v->tokens = f->limit;
        v->last_seen_ns = now_ns;
    }
    if (v->tokens <= 0) {
        *remaining = 0;
        return false;
    }
    v->tokens--;
    v->last_seen_ns = now_ns;
    *remaining = v->tokens;
    return true;
}

/* A visitor idle for more than a window is reset on its next request,
 * which is what a fresh one gets too. */
void fwindow_sweep(struct fwindow *f, int64_t now_ns)
{
    struct store_ent *e = f->keys.newest;
    while (e) {
        struct store_ent *older = e->older;
        struct visitor *v = e->val;
        if (now_ns - v->last_seen_ns > f->window_ns)
            store_del(&f->keys, e->key);
        e = older;
    }
}

void fwindow_destroy(struct fwindow *f)
{
    store_destroy(&f->keys);
}
