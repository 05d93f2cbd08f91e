/*
 * The http plugin's cookie jar (plugins/http/http_jar.c): a request url
 * (the input's first line) and a response header block (the rest) whose
 * Set-Cookie lines go into a jar, then the jar's Cookie line for that url
 * and the removal of what it would send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static int reserve(volley_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static volley_host host = {.buf_reserve = reserve};
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t ul = nl ? (size_t)(nl - text) : size;
    if (ul > 2048)
        return 0;
    char url[2049];
    memcpy(url, text, ul);
    url[ul] = '\0';
    const char *headers = nl ? nl + 1 : text + size;
    size_t hl = size - (size_t)(headers - text);
    http_jar j = {0};
    http_jar_store(&j, headers, hl, url);
    http_jar_store(&j, headers, hl, url);   /* the same cookies again: replaced in place */
    http_url_parts u;
    if (http_cookie_url(url, &u) == 0) {
        volley_buf b = {0};
        const char *skip[] = {"a"};
        http_jar_header(&host, &j, &u, &b, skip, 1);
        http_jar_remove(&j, &u, "b", 1);
        http_jar_remove(&j, &u, NULL, 0);
        free(b.data);
    }
    http_jar_free(&j);
    return 0;
}
