/*
 * check_msg: a check's failure message built in the caller's buffer, for
 * the check plugins that quote response values (checks-json, checks-html).
 * Header only: each plugin compiles its own copy; nothing is exported.
 */
#ifndef VOLLEY_PLUGIN_CHECK_MSG_H
#define VOLLEY_PLUGIN_CHECK_MSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "volley/plugin.h"

#define CHECK_MSG_SHOW_MAX 60   /* bytes of a quoted value shown */

struct out {
    char *s;
    size_t cap, len;
    const volley_host *host;   /* its redact, for the values quoted */
};

/* Appends; a full buffer keeps what fitted, NUL-terminated. */
__attribute__((format(printf, 2, 3), unused))
static void put(struct out *o, const char *fmt, ...)
{
    if (o->cap == 0 || o->len + 1 >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

/* A value in quotes, escaped, cut after CHECK_MSG_SHOW_MAX bytes. Secrets
 * are hidden before the value is cut (host->redact, revision 4): a value
 * may be a token the server echoed or ${env.API_TOKEN}. */
__attribute__((unused))
static void put_quoted(struct out *o, const char *s, size_t n)
{
    char hidden[CHECK_MSG_SHOW_MAX + 1];
    if (o->host && VOLLEY_HAS(o->host, redact) && o->host->redact) {
        n = o->host->redact(NULL, s, n, hidden, sizeof hidden);
        s = hidden;
    }
    size_t shown = n < CHECK_MSG_SHOW_MAX ? n : CHECK_MSG_SHOW_MAX;
    put(o, "\"");
    for (size_t i = 0; i < shown; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            put(o, "\\%c", ch);
        else if (ch == '\n')
            put(o, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            put(o, "\\u%04x", ch);
        else
            put(o, "%c", ch);
    }
    put(o, shown < n ? "\"..." : "\"");
}

#endif
