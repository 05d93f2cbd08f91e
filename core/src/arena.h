/*
 * arena: bump allocator that owns everything a loaded spec allocates
 * (strings, option values, compiled templates). One arena_free releases it
 * all, so spec objects need no destroy functions of their own.
 */
#ifndef VOLLEY_ARENA_H
#define VOLLEY_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
} arena;

void arena_init(arena *a);
void arena_free(arena *a);
/* Zeroed, 16-byte aligned; NULL only on out-of-memory. */
void *arena_alloc(arena *a, size_t size);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
