/*
 * utf8: the length of a valid UTF-8 sequence, for the output plugins that
 * write text other programs parse (json-out's JSON strings, junit's XML).
 * Header only: each plugin compiles its own copy; nothing is exported.
 */
#ifndef VOLLEY_PLUGIN_UTF8_H
#define VOLLEY_PLUGIN_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (Unicode table 3-7: no
 * overlongs, no surrogates, nothing above U+10FFFF), or 0. s is
 * NUL-terminated and NUL is never a continuation byte, so this never reads
 * past the end. */
static inline size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

#endif
