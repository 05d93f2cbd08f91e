#include "jscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

size_t jscan_skip_ws(const char *s, size_t len, size_t pos)
{
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    return pos;
}

/* The end of the string whose '"' is at pos, past its closing quote; 0
 * when it does not close. */
static size_t string_end(const char *s, size_t len, size_t pos)
{
    for (size_t i = pos + 1; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

static bool is_delim(char c)
{
    return c == ',' || c == ']' || c == '}' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r' || c == '"' || c == '[' || c == '{';
}

bool jscan_value(const char *s, size_t len, size_t pos, size_t *start, size_t *end)
{
    pos = jscan_skip_ws(s, len, pos);
    if (pos >= len)
        return false;
    *start = pos;
    char c = s[pos];
    if (c == '"') {
        *end = string_end(s, len, pos);
        return *end != 0;
    }
    if (c == '[' || c == '{') {
        /* A stack of the open brackets' kinds, one bit each, 64 deep per
         * word: deeper than 256 levels is refused. */
        uint64_t kinds[4] = {0};
        size_t depth = 0;
        for (size_t i = pos; i < len; i++) {
            char ch = s[i];
            if (ch == '"') {
                size_t e = string_end(s, len, i);
                if (!e)
                    return false;
                i = e - 1;
            } else if (ch == '[' || ch == '{') {
                if (depth >= 256)
                    return false;
                uint64_t bit = (uint64_t)1 << (depth % 64);
                if (ch == '{')
                    kinds[depth / 64] |= bit;
                else
                    kinds[depth / 64] &= ~bit;
                depth++;
            } else if (ch == ']' || ch == '}') {
                if (depth == 0)
                    return false;
                depth--;
                bool obj = (kinds[depth / 64] >> (depth % 64)) & 1;
                if (obj != (ch == '}'))
                    return false;
                if (depth == 0) {
                    *end = i + 1;
                    return true;
                }
            }
        }
        return false;
    }
    size_t e = pos;
    while (e < len && !is_delim(s[e]))
        e++;
    size_t n = e - pos;
    if ((n == 4 && memcmp(s + pos, "true", 4) == 0) || (n == 5 && memcmp(s + pos, "false", 5) == 0) ||
        (n == 4 && memcmp(s + pos, "null", 4) == 0) || (n && json_number_text(s + pos, n))) {
        *end = e;
        return true;
    }
    return false;
}

int jscan_array_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
    size_t p = jscan_skip_ws(s, len, *pos);
    if (p >= len)
        return -1;
    bool first = s[p] == '[';
    if (first) {
        p = jscan_skip_ws(s, len, p + 1);
        if (p < len && s[p] == ']') {
            *pos = p + 1;
            return 0;
        }
    } else if (s[p] == ']') {
        *pos = p + 1;
        return 0;
    } else if (s[p] == ',') {
        p++;
    } else {
        return -1;
    }
    if (!jscan_value(s, len, p, start, end))
        return -1;
    p = jscan_skip_ws(s, len, *end);
    if (p >= len || (s[p] != ',' && s[p] != ']'))
        return -1;
    *pos = p;
    return 1;
}

/* Up to 4 hex digits at s (n of them available) into *v. */
static bool hex4(const char *s, size_t n, unsigned *v)
{
    if (n < 4)
        return false;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16)
            return false;
        *v = *v << 4 | d;
    }
    return true;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int jscan_string(const char *s, size_t len, volley_buf *out)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"' || string_end(s, len, 0) != len)
        return -1;
    /* Decoded text is never longer than the escaped one. */
    if (vbuf_reserve(out, len) != 0)
        return -1;
    char *o = out->data + out->len;
    for (size_t i = 1; i < len - 1; i++) {
        char c = s[i];
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        c = s[++i];
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(s + i + 1, len - 1 - (i + 1), &cp))
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < len - 1 && s[i + 1] == '\\' &&
                s[i + 2] == 'u' && hex4(s + i + 3, len - 1 - (i + 3), &lo) && lo >= 0xDC00 &&
                lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD;   /* a lone surrogate */
            }
            o += utf8_put(o, cp);
            break;
        }
        default:   /* \" \\ \/ and, leniently, any other character */
            *o++ = c;
            break;
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* Whether the JSON string s[0..len) decodes to key[0..klen), without
 * decoding: keys with escapes are rare, so only those pay for a copy. */
static bool key_equals(const char *s, size_t len, const char *key, size_t klen)
{
    if (!memchr(s, '\\', len))
        return len == klen + 2 && memcmp(s + 1, key, klen) == 0;
    char small[512];
    volley_buf b = {.data = small, .len = 0, .cap = sizeof small};
    if (len > sizeof small - 1)
        return false;   /* longer than any key a template can name */
    if (jscan_string(s, len, &b) != 0)
        return false;
    return b.len == klen && memcmp(b.data, key, klen) == 0;
}

static bool read_index(const char *key, size_t klen, long long *idx)
{
    size_t i = key[0] == '-' ? 1 : 0;
    if (klen == i || klen - i > 12)
        return false;
    long long v = 0;
    for (; i < klen; i++) {
        if (key[i] < '0' || key[i] > '9')
            return false;
        v = v * 10 + (key[i] - '0');
    }
    *idx = key[0] == '-' ? -v : v;
    return true;
}

bool jscan_field(const char *s, size_t len, const char *key, size_t klen, size_t *start,
                 size_t *end)
{
    size_t p = jscan_skip_ws(s, len, 0);
    if (p >= len)
        return false;
    if (s[p] == '[') {
        long long want, n = 0;
        if (!read_index(key, klen, &want))
            return false;
        if (want < 0) {   /* from the end: count first */
            size_t q = p, a, b;
            int r;
            while ((r = jscan_array_next(s, len, &q, &a, &b)) == 1)
                n++;
            if (r < 0 || -want > n)
                return false;
            want += n;
        }
        long long k = 0;
        int r;
        while ((r = jscan_array_next(s, len, &p, start, end)) == 1)
            if (k++ == want)
                return true;
        return false;
    }
    if (s[p] != '{')
        return false;
    p = jscan_skip_ws(s, len, p + 1);
    if (p < len && s[p] == '}')
        return false;
    for (;;) {
        size_t ks, ke, vs, ve;
        if (p >= len || s[p] != '"' || !jscan_value(s, len, p, &ks, &ke))
            return false;
        p = jscan_skip_ws(s, len, ke);
        if (p >= len || s[p] != ':' || !jscan_value(s, len, p + 1, &vs, &ve))
            return false;
        if (key_equals(s + ks, ke - ks, key, klen)) {
            *start = vs;
            *end = ve;
            return true;
        }
        p = jscan_skip_ws(s, len, ve);
        if (p >= len || s[p] != ',')
            return false;
        p = jscan_skip_ws(s, len, p + 1);
    }
}
