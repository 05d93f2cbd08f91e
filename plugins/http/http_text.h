/*
 * Text and buffer helpers that every file of the http plugin shares, the
 * bottom of its layering (http_int.h). Static inline: they run per byte or
 * per header line on both request paths. Nothing here knows curl or libuv.
 */
#ifndef VOLLEY_HTTP_TEXT_H
#define VOLLEY_HTTP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "volley/plugin.h"

/* Appends n bytes and keeps the buffer NUL-terminated (buf_reserve keeps
 * the spare byte), as the response buffers handed to checks must be. */
static inline int http_buf_add(const volley_host *h, volley_buf *b, const char *s, size_t n)
{
    if (h->buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* White space as curl 7.88 counts it (ISSPACE): a header value of nothing
 * else is not sent. */
static inline bool http_curl_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Strips spaces and tabs in front, and those and a line end behind. */
static inline void http_trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                  (*s)[*n - 1] == '\n'))
        (*n)--;
}

/*
 * A header value made safe to send: CR, LF and NUL become spaces, so a
 * rendered value cannot inject a header. Returns whether the value is
 * blank (spaces and tabs only); *curl_blank, when asked for, whether it is
 * only white space as curl counts it (curl then drops the header).
 */
static inline bool http_header_clean(char *v, size_t n, bool *curl_blank)
{
    bool blank = true, space = true;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
            v[i] = ' ';
        blank &= v[i] == ' ' || v[i] == '\t';
        space &= http_curl_space((unsigned char)v[i]);
    }
    if (curl_blank)
        *curl_blank = space;
    return blank;
}

#endif
