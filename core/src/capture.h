/*
 * capture: correlation. A step's `capture:` takes values out of its
 * response (a JSON path, a header, a regex group) into named slots of the
 * VU, which later steps of the same iteration render as ${NAME}.
 *
 *   capture:
 *     tx_id: json.transaction_id         # or { json: transaction_id }
 *     trace: header.X-Trace-Id           # or { header: X-Trace-Id }
 *     token: { regex: 'token=([a-z0-9]+)' }   # group 1, else the match
 *     sid: cookie.session                # or { cookie: session }: Set-Cookie
 *     jar_sid: jar_cookie.session        # the VU's jar for the response's url
 *     landed: url                        # the final URL, after redirects
 *     csrf: { html: "input[name=csrf]", attr: value }   # CSS selector
 *     title: { xpath: "//title" }                       # XPath 1.0
 *
 * Paths use the checks-json syntax: a.b[0].c, a["dotted.key"], $ (root),
 * negative indexes from the end. Compiled once at load time.
 */
#ifndef VOLLEY_CAPTURE_H
#define VOLLEY_CAPTURE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "vu.h"
#include "yaml_tree.h"

typedef enum cap_from {
    CAP_FROM_JSON, CAP_FROM_HEADER, CAP_FROM_REGEX,
    CAP_FROM_COOKIE,        /* a Set-Cookie of the response (k6 res.cookies) */
    CAP_FROM_JAR,           /* the VU's jar for the response's url (k6
                               jar.cookiesForURL(res.url)) */
    CAP_FROM_URL,           /* the final URL, after redirects (k6 res.url) */
    CAP_FROM_HTML           /* a CSS selector or XPath (k6 res.html()) */
} cap_from;

struct html_sel;

typedef struct jpath_seg {
    const char *key;        /* object member, or NULL for an array index */
    long long index;        /* negative: counted from the end */
} jpath_seg;

typedef struct capture_def {
    const char *name;
    int slot;               /* in the VU's capture slots */
    cap_from from;
    const char *what;       /* the path, header name or pattern, for messages */
    size_t n_segs;          /* CAP_FROM_JSON */
    jpath_seg *segs;
    regex_t *re;            /* CAP_FROM_REGEX; freed by capture_free */
    struct html_sel *html;  /* CAP_FROM_HTML (common/html); freed by capture_free */
    uint32_t series;        /* its hidden series of the `captures` metric */
    bool secret;            /* a secret (secret.h): NAME contains TOKEN, KEY...,
                               or the value of an Authorization, Cookie,
                               Set-Cookie... response header */
} capture_def;

/* Compiles one `NAME: SOURCE` entry (without the slot, which the caller
 * sets). Errors go to d at the node. */
bool capture_compile(arena *a, diag *d, const ynode *key, const ynode *value,
                     const char *path, capture_def *out);
void capture_free(capture_def *c);

/* Compiles a path such as data.items[0].id; NULL with a message. */
jpath_seg *jpath_compile(arena *a, const char *text, size_t *n, char *err, size_t errcap);

/* Per response: the JSON body parsed at most once for all its captures;
 * the HTML document at most once for its captures and checks (through
 * memo, the one the step's checks had). */
typedef struct capture_ctx {
    const char *body, *headers;
    size_t body_len, headers_len;
    void *doc;              /* json_t *, parsed on first need */
    bool parsed;
    char parse_err[160];
    const char *jar;        /* volley_response.jar; NULL: no jar */
    size_t jar_len;
    const char *url;        /* the final URL (k6's r.url); NULL: not told */
    volley_memo *memo;      /* NULL: none shared */
    void *html_doc;         /* from the memo or parsed on first need */
    bool html_owned;        /*   not in the memo: freed by capture_ctx_done */
} capture_ctx;

/* Applies c to the response into slot; false with the reason in why when
 * nothing matched (the slot is then unset). The slot is marked secret as
 * c is. */
bool capture_apply(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                   size_t whycap);
void capture_ctx_done(capture_ctx *cx);

#endif
