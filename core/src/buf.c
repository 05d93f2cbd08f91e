#include "buf.h"

#include <stdlib.h>
#include <string.h>

int vbuf_reserve(volley_buf *b, size_t extra)
{
    if (b->cap - b->len > extra && b->data)
        return 0;
    size_t need = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int vbuf_append(volley_buf *b, const void *data, size_t n)
{
    if (vbuf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int vbuf_append_str(volley_buf *b, const char *s) { return vbuf_append(b, s, strlen(s)); }

char *json_escape_into(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default:
            if (c < 0x20) {
                *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            } else {
                *o++ = (char)c;
            }
        }
    }
    return o;
}

int vbuf_append_json_escaped(volley_buf *b, const char *s, size_t n)
{
    /* Worst case every byte becomes \u00XX. */
    if (vbuf_reserve(b, n * 6) != 0)
        return -1;
    char *o = json_escape_into(b->data + b->len, s, n);
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

bool json_number_text(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (p < end && *p == '.') {
        const char *d = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return false;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return false;
    }
    return p == end;
}

void vbuf_free(volley_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
