#include "store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

void store_init(struct store *s, size_t cap, void (*free_val)(void *))
{
    memset(s, 0, sizeof *s);
    s->nbuckets = 1024;
    s->buckets = xcalloc(s->nbuckets, sizeof *s->buckets);
    s->cap = cap;
    s->free_val = free_val;
}

static void free_ent(struct store *s, struct store_ent *e)
{
    if (s->free_val)
        s->free_val(e->val);
    free(e->key);
    free(e);
}

void store_destroy(struct store *s)
{
    struct store_ent *e = s->newest;
    while (e) {
        struct store_ent *o = e->older;
        free_ent(s, e);
        e = o;
    }
    free(s->buckets);
    memset(s, 0, sizeof *s);
}

static struct store_ent **slot(const struct store *s, const char *key)
{
    struct store_ent **p = &s->buckets[hash(key) & (s->nbuckets - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next_hash;
    return p;
}

void *store_get(const struct store *s, const char *key)
{
    struct store_ent *e = *slot(s, key);
    return e ? e->val : NULL;
}

static void grow(struct store *s)
{
    size_t n = s->nbuckets * 2;
    struct store_ent **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct store_ent *e = s->buckets[i];
        while (e) {
            struct store_ent *next = e->next_hash;
            size_t k = hash(e->key) & (n - 1);
            e->next_hash = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static void unlink_ent(struct store *s, struct store_ent **p)
{
    struct store_ent *e = *p;
    *p = e->next_hash;
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    s->count--;
    free_ent(s, e);
}

void store_del(struct store *s, const char *key)
{
    struct store_ent **p = slot(s, key);
    if (*p)
        unlink_ent(s, p);
}

void store_put(struct store *s, const char *key, void *val)
{
    struct store_ent **p = slot(s, key);
    if (*p) {
        if (s->free_val && (*p)->val != val)
            s->free_val((*p)->val);
        (*p)->val = val;
        return;
    }
    struct store_ent *e = xcalloc(1, sizeof *e);
    e->key = xstrdup(key);
    e->val = val;
    *p = e;
    e->older = s->newest;
    if (s->newest)
        s->newest->newer = e;
    s->newest = e;
    if (!s->oldest)
        s->oldest = e;
    s->count++;
    if (s->cap && s->count > s->cap)
        store_del(s, s->oldest->key);
    if (s->count > s->nbuckets)
        grow(s);
}
