/* buf: helpers for volley_buf, the growable byte buffer of the SDK. */
#ifndef VOLLEY_BUF_H
#define VOLLEY_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "volley/plugin.h"

/* Room for `extra` more bytes plus a NUL; grows geometrically. 0 or -1. */
int vbuf_reserve(volley_buf *b, size_t extra);
int vbuf_append(volley_buf *b, const void *data, size_t n);
int vbuf_append_str(volley_buf *b, const char *s);
/* Writes s JSON-escaped (\" \\ \n \r \t, other controls as \u00XX) at o,
 * which has room for 6 bytes per input byte; returns the end. */
char *json_escape_into(char *o, const char *s, size_t n);
/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)? */
bool json_number_text(const char *s, size_t n);
/* Appends s as the inside of a JSON string (quotes not included). */
int vbuf_append_json_escaped(volley_buf *b, const char *s, size_t n);
void vbuf_free(volley_buf *b);

#endif
