#include "tag_intern.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"

typedef struct tag_key_words {
    const char *name, *method, *url, *check, *error_code, *scenario, *group, *tls_version, *capture;
    const volley_tag *step, *vu;
    size_t n_step, n_vu;
    int status, expected;
} tag_key_words;

struct tag_entry {
    tag_key_words k;
    const volley_tagset *set;   /* NULL: empty slot */
};

void tagi_init(tag_intern *t, const volley_tag *run, size_t n_run)
{
    memset(t, 0, sizeof *t);
    arena_init(&t->a);
    t->run = run;
    t->n_run = n_run;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const volley_tag *)a)->key, ((const volley_tag *)b)->key);
}

void tagi_free(tag_intern *t)
{
    free(t->slots);
    arena_free(&t->a);
    memset(t, 0, sizeof *t);
}

static tag_key_words key_of(const sample_tags *st)
{
    static const volley_tags none = VOLLEY_TAGS_INIT;
    const volley_tags *g = st->t ? st->t : &none;
    return (tag_key_words){g->name, g->method, g->url, g->check, g->error_code,
                           st->scenario, st->group, st->tls_version, st->capture, st->step, st->vu,
                           st->n_step, st->n_vu, g->status, g->expected_response};
}

static uint64_t hash_key(const tag_key_words *k)
{
    const uintptr_t w[] = {(uintptr_t)k->name, (uintptr_t)k->method, (uintptr_t)k->url,
                           (uintptr_t)k->check, (uintptr_t)k->error_code, (uintptr_t)k->scenario,
                           (uintptr_t)k->group, (uintptr_t)k->tls_version, (uintptr_t)k->capture,
                           (uintptr_t)k->step, (uintptr_t)k->vu,
                           (uintptr_t)k->status,
                           (uintptr_t)(k->expected + 2)};
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        h ^= (uint64_t)w[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static int key_eq(const tag_key_words *a, const tag_key_words *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* A tag value as outputs see it: a secret in it (a ${env.API_KEY} folded
 * into a url) shown as ***. Here, once per tag set, never per sample. */
static const char *shown(tag_intern *t, const char *v)
{
    if (!v || !secret_any())
        return v;
    const char *r = secret_redact_keep(&t->a, v);
    return r ? r : SECRET_MASK;
}

static bool taken(const volley_tag *tags, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tags[i].key, key) == 0)
            return true;
    return false;
}

/* Builds the sorted key/value list outputs see. */
static const volley_tagset *make_set(tag_intern *t, const tag_key_words *k)
{
    size_t cap = 11 + t->n_run + k->n_step + k->n_vu;
    volley_tag *tags = arena_alloc(&t->a, cap * sizeof *tags);
    volley_tagset *set = arena_alloc(&t->a, sizeof *set);
    if (!tags || !set)
        return NULL;
    size_t n = 0;
    /* alphabetical order */
    if (k->capture) tags[n++] = (volley_tag){"capture", k->capture};
    if (k->check) tags[n++] = (volley_tag){"check", k->check};
    if (k->error_code) tags[n++] = (volley_tag){"error_code", k->error_code};
    if (k->expected >= 0) tags[n++] = (volley_tag){"expected_response", k->expected ? "true" : "false"};
    if (k->group) tags[n++] = (volley_tag){"group", k->group};
    if (k->method) tags[n++] = (volley_tag){"method", k->method};
    if (k->name) tags[n++] = (volley_tag){"name", k->name};
    if (k->scenario) tags[n++] = (volley_tag){"scenario", k->scenario};
    if (k->url || k->method) {
        char status[16];
        snprintf(status, sizeof status, "%d", k->status);
        tags[n++] = (volley_tag){"status", k->status ? arena_strdup(&t->a, status) : ""};
    }
    if (k->tls_version) tags[n++] = (volley_tag){"tls_version", k->tls_version};
    if (k->url) tags[n++] = (volley_tag){"url", k->url};
    for (size_t i = 0; i < k->n_step; i++)
        tags[n++] = k->step[i];
    /* A step's tag wins over its scenario's, both over a --tag of the
     * same key. */
    size_t n_own = n;
    for (size_t i = 0; i < k->n_vu; i++)
        if (!taken(tags, n_own, k->vu[i].key))
            tags[n++] = k->vu[i];
    n_own = n;
    for (size_t i = 0; i < t->n_run; i++)
        if (!taken(tags, n_own, t->run[i].key))
            tags[n++] = t->run[i];
    for (size_t i = 0; i < n; i++)
        tags[i].value = shown(t, tags[i].value);
    if (t->n_run || k->n_step || k->n_vu)
        qsort(tags, n, sizeof *tags, cmp_key);
    set->n = n;
    set->tags = tags;
    return set;
}

static int grow(tag_intern *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    tag_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].set)
            continue;
        size_t j = hash_key(&t->slots[i].k) & (cap - 1);
        while (slots[j].set)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

const volley_tagset *tagi_get(tag_intern *t, const sample_tags *st)
{
    if ((t->n + 1) * 2 > t->cap && grow(t) != 0)
        return NULL;
    tag_key_words k = key_of(st);
    size_t i = hash_key(&k) & (t->cap - 1);
    while (t->slots[i].set) {
        if (key_eq(&t->slots[i].k, &k))
            return t->slots[i].set;
        i = (i + 1) & (t->cap - 1);
    }
    const volley_tagset *set = make_set(t, &k);
    if (!set)
        return NULL;
    t->slots[i] = (tag_entry){.k = k, .set = set};
    t->n++;
    return set;
}
