/*
 * jscan: spans of JSON text without building a tree. Loops walk a JSON
 * array that a capture or a pool field holds (`for_each: ${items}`) one
 * element per pass, and take fields out of the element (`${item.id}`),
 * with no allocation: the text is the VU's and stays where it is.
 *
 * Input is untrusted (it comes from responses): every function stays
 * inside [0, len), nests without recursion, and says when the text is
 * not JSON rather than guessing. Only what a span needs is checked:
 * strings, brackets, commas and the scalar literals.
 */
#ifndef VOLLEY_JSCAN_H
#define VOLLEY_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "volley/plugin.h"

/* The first non-blank position at or after pos. */
size_t jscan_skip_ws(const char *s, size_t len, size_t pos);

/* The value that starts at pos (blanks skipped) as [*start, *end); false
 * when there is none or it is not well formed. */
bool jscan_value(const char *s, size_t len, size_t pos, size_t *start, size_t *end);

/* An array's elements in turn: begin with *pos at the '[' (blanks before
 * it are skipped); each call gives the next element's span. 1: an element,
 * 0: the array ended, -1: not an array or not well formed. */
int jscan_array_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *end);

/* In the object or array s[0..len): the member named key, or for an array
 * the item at key read as an index (negative: from the end). */
bool jscan_field(const char *s, size_t len, const char *key, size_t klen, size_t *start,
                 size_t *end);

/* Appends the text of the JSON string s[0..len) (quotes included) to out,
 * escapes decoded to UTF-8. -1 when it is not a string or out of memory. */
int jscan_string(const char *s, size_t len, volley_buf *out);

#endif
