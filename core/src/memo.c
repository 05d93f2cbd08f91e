#include "memo.h"

#include <stdlib.h>
#include <string.h>

struct memo_text {
    struct memo_text *next;
    char s[];
};

void *memo_get(volley_memo *m, const void *key)
{
    for (int i = 0; i < m->n; i++)
        if (m->slot[i].key == key)
            return m->slot[i].value;
    return NULL;
}

int memo_put(volley_memo *m, const void *key, void *value, void (*free_fn)(void *))
{
    if (m->n == MEMO_SLOTS)
        return -1;
    m->slot[m->n].key = key;
    m->slot[m->n].value = value;
    m->slot[m->n].free_fn = free_fn;
    m->n++;
    return 0;
}

void memo_clear(volley_memo *m)
{
    for (int i = 0; i < m->n; i++)
        if (m->slot[i].free_fn)
            m->slot[i].free_fn(m->slot[i].value);
    m->n = 0;
    for (struct memo_text *t = m->texts, *next; t; t = next) {
        next = t->next;
        free(t);
    }
    m->texts = NULL;
}

const char *memo_keep(volley_memo *m, const char *s, size_t n)
{
    struct memo_text *t = malloc(sizeof *t + n + 1);
    if (!t)
        return NULL;
    memcpy(t->s, s, n);
    t->s[n] = '\0';
    t->next = m->texts;
    m->texts = t;
    return t->s;
}
