/*
 * store: the in-memory state behind every service — a string-keyed hash
 * map that also keeps insertion order (walked newest first, as the real
 * services' "ORDER BY created DESC" lists are) and an optional capacity:
 * past it the oldest entry is evicted, so a long stress run cannot grow
 * the stand-in without bound. Values are owned through the free callback.
 */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include <stddef.h>

struct store_ent {
    char *key;
    void *val;
    struct store_ent *newer, *older; /* insertion order */
    struct store_ent *next_hash;
};

struct store {
    struct store_ent **buckets;
    size_t nbuckets, count, cap;
    struct store_ent *newest, *oldest;
    void (*free_val)(void *);
};

/* cap 0 = unbounded. */
void store_init(struct store *s, size_t cap, void (*free_val)(void *));
void store_destroy(struct store *s);
void *store_get(const struct store *s, const char *key);
/* Inserts or replaces (a replaced value is freed; order is kept). */
void store_put(struct store *s, const char *key, void *val);
void store_del(struct store *s, const char *key);
/* Iteration newest first: for (e = s->newest; e; e = e->older). */

#endif
