#include "capture.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "html.h"
#include "memo.h"
#include "secret.h"

#define INDEX_MAX 100000000LL

/* ---- paths ---- */

typedef struct jparser {
    arena *a;
    const char *t;
    size_t pos;
    jpath_seg *segs;
    size_t n, cap;
    char *err;
    size_t errcap;
} jparser;

static int jp_error(jparser *p, const char *why)
{
    snprintf(p->err, p->errcap, "invalid path \"%s\": %s at character %zu", p->t, why, p->pos + 1);
    return -1;
}

static int jp_push(jparser *p, const char *key, long long index)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        jpath_seg *s = arena_alloc(p->a, cap * sizeof *s);
        if (!s)
            return jp_error(p, "out of memory");
        if (p->n)
            memcpy(s, p->segs, p->n * sizeof *s);
        p->segs = s;
        p->cap = cap;
    }
    p->segs[p->n++] = (jpath_seg){.key = key, .index = index};
    return 0;
}

static int jp_key(jparser *p)
{
    size_t start = p->pos;
    while (p->t[p->pos] && p->t[p->pos] != '.' && p->t[p->pos] != '[') {
        if (p->t[p->pos] == ']')
            return jp_error(p, "unexpected ']'");
        p->pos++;
    }
    if (p->pos == start)
        return jp_error(p, "empty key");
    return jp_push(p, arena_strndup(p->a, p->t + start, p->pos - start), 0);
}

/* After '[': a quoted key or an integer index, then ']'. */
static int jp_bracket(jparser *p)
{
    const char *t = p->t;
    char q = t[p->pos];
    if (q == '"' || q == '\'') {
        char *key = arena_alloc(p->a, strlen(t + p->pos) + 1);
        size_t len = 0;
        if (!key)
            return jp_error(p, "out of memory");
        p->pos++;
        while (t[p->pos] && t[p->pos] != q) {
            if (t[p->pos] == '\\' && t[p->pos + 1])
                p->pos++;
            key[len++] = t[p->pos++];
        }
        if (t[p->pos] != q)
            return jp_error(p, "unterminated quoted key");
        p->pos++;
        if (t[p->pos] != ']')
            return jp_error(p, "expected ']' after the quoted key");
        p->pos++;
        return jp_push(p, key, 0);
    }
    bool neg = t[p->pos] == '-';
    if (neg)
        p->pos++;
    if (t[p->pos] < '0' || t[p->pos] > '9')
        return jp_error(p, "expected an array index or a quoted key in [ ]");
    long long v = 0;
    while (t[p->pos] >= '0' && t[p->pos] <= '9') {
        v = v * 10 + (t[p->pos] - '0');
        if (v > INDEX_MAX)
            return jp_error(p, "array index too large");
        p->pos++;
    }
    if (t[p->pos] != ']')
        return jp_error(p, "expected ']' after the array index");
    if (neg && v == 0)
        return jp_error(p, "-0 is not an index (use -1 for the last item)");
    p->pos++;
    return jp_push(p, NULL, neg ? -v : v);
}

jpath_seg *jpath_compile(arena *a, const char *text, size_t *n, char *err, size_t errcap)
{
    jparser p = {.a = a, .t = text, .err = err, .errcap = errcap};
    if (text[0] == '$' && (text[1] == '\0' || text[1] == '.' || text[1] == '['))
        p.pos = text[1] == '.' ? 2 : 1;
    if (p.pos == 2 && text[2] == '\0') {
        jp_error(&p, "empty key");
        return NULL;
    }
    bool first = true;
    while (text[p.pos]) {
        int rc;
        if (text[p.pos] == '[') {
            p.pos++;
            rc = jp_bracket(&p);
        } else if (first) {
            rc = jp_key(&p);
        } else if (text[p.pos] == '.') {
            p.pos++;
            rc = jp_key(&p);
        } else {
            rc = jp_error(&p, "expected '.' or '['");
        }
        if (rc != 0)
            return NULL;
        first = false;
    }
    *n = p.n;
    /* The root path has no segments: return a valid non-NULL pointer. */
    return p.segs ? p.segs : arena_alloc(a, sizeof(jpath_seg));
}

static const json_t *jpath_lookup(const jpath_seg *segs, size_t n, const json_t *v)
{
    for (size_t i = 0; i < n && v; i++) {
        if (segs[i].key) {
            v = json_is_object(v) ? json_object_get(v, segs[i].key) : NULL;
        } else if (json_is_array(v)) {
            long long size = (long long)json_array_size(v);
            long long at = segs[i].index < 0 ? size + segs[i].index : segs[i].index;
            v = at >= 0 && at < size ? json_array_get(v, (size_t)at) : NULL;
        } else {
            v = NULL;
        }
    }
    return v;
}

/* ---- compile ---- */

#define SOURCES "json.PATH, header.NAME, cookie.NAME, jar_cookie.NAME, url, { json: PATH }, " \
                "{ header: NAME }, { cookie: NAME }, { jar_cookie: NAME }, { regex: PATTERN }, " \
                "{ html: SELECTOR } or { xpath: EXPR }"

static bool html_source(const ynode *value)
{
    for (size_t i = 0; value->kind == YNODE_MAP && i < value->n_pairs; i++) {
        const char *k = value->pairs[i].key->str;
        if (strcmp(k, "html") == 0 || strcmp(k, "xpath") == 0)
            return true;
    }
    return false;
}

/* { html: SELECTOR | xpath: EXPR, attr: NAME, index: N } (common/html). */
static bool compile_html(arena *a, diag *d, const ynode *key, const ynode *value,
                         const char *path, capture_def *out)
{
    const ynode *css = NULL, *xpath = NULL, *attr = NULL, *index = NULL;
    bool ok = true;
    for (size_t i = 0; i < value->n_pairs; i++) {
        const ynode *k = value->pairs[i].key, *v = value->pairs[i].value;
        const ynode **slot = strcmp(k->str, "html") == 0    ? &css
                             : strcmp(k->str, "xpath") == 0 ? &xpath
                             : strcmp(k->str, "attr") == 0  ? &attr
                             : strcmp(k->str, "index") == 0 ? &index
                                                            : NULL;
        if (!slot) {
            diag_error(d, k->file, k->line, k->col,
                       "%s: unknown key \"%s\" (an html capture takes html or xpath, attr, index)",
                       path, k->str);
            ok = false;
        } else if (v->kind != YNODE_SCALAR || ynode_is_null(v) || !*v->str) {
            diag_error(d, v->file, v->line, v->col, "%s.%s: expected %s", path, k->str,
                       slot == &index ? "an integer" : "a non-empty string");
            ok = false;
        } else {
            *slot = v;
        }
    }
    if (css && xpath) {
        diag_error(d, value->file, value->line, value->col,
                   "%s: html and xpath cannot be used together (each selects the nodes)", path);
        return false;
    }
    long long at = 0;
    if (index) {
        char *end = NULL;
        errno = 0;
        at = strtoll(index->str, &end, 10);
        if (!index->plain || errno || end == index->str || *end || at > INDEX_MAX ||
            at < -INDEX_MAX) {
            diag_error(d, index->file, index->line, index->col,
                       "%s.index: expected an integer (0 the first match, -1 the last), got \"%s\"",
                       path, index->str);
            ok = false;
        }
    }
    if (!ok || (!css && !xpath))
        return ok ? (diag_error(d, value->file, value->line, value->col,
                                "%s: expected " SOURCES, path), false)
                  : false;
    const ynode *sel = css ? css : xpath;
    char err[320];
    out->from = CAP_FROM_HTML;
    out->what = sel->str;
    out->secret = secret_name(key->str);
    out->html = calloc(1, sizeof *out->html);
    const char *attr_name = attr ? arena_strdup(a, attr->str) : NULL;
    if (!out->html || (attr && !attr_name)) {
        diag_error(d, sel->file, sel->line, sel->col, "%s: out of memory", path);
        return false;
    }
    if (html_sel_init(out->html, css ? css->str : NULL, xpath ? xpath->str : NULL, attr_name,
                      index != NULL, at, err, sizeof err) != 0) {
        free(out->html);
        out->html = NULL;
        diag_error(d, sel->file, sel->line, sel->col, "%s.%s: %s", path, css ? "html" : "xpath",
                   err);
        return false;
    }
    return true;
}

bool capture_compile(arena *a, diag *d, const ynode *key, const ynode *value,
                     const char *path, capture_def *out)
{
    memset(out, 0, sizeof *out);
    out->name = key->str;
    if (html_source(value))
        return compile_html(a, d, key, value, path, out);
    const char *kind = NULL, *arg = NULL;
    const ynode *at = value;
    /* the final URL after redirects (k6's r.url), taken whole */
    if (value->kind == YNODE_SCALAR && strcmp(value->str, "url") == 0) {
        out->from = CAP_FROM_URL;
        out->what = "url";
        out->secret = secret_name(key->str);
        return true;
    }
    if (value->kind == YNODE_SCALAR && !ynode_is_null(value)) {
        if (strncmp(value->str, "json.", 5) == 0) {
            kind = "json";
            arg = value->str + 5;
        } else if (strncmp(value->str, "header.", 7) == 0) {
            kind = "header";
            arg = value->str + 7;
        } else if (strcmp(value->str, "json") == 0) {
            kind = "json";
            arg = "$";
        } else if (strncmp(value->str, "cookie.", 7) == 0) {
            kind = "cookie";
            arg = value->str + 7;
        } else if (strncmp(value->str, "jar_cookie.", 11) == 0) {
            kind = "jar_cookie";
            arg = value->str + 11;
        }
    } else if (value->kind == YNODE_MAP && value->n_pairs == 1 &&
               value->pairs[0].value->kind == YNODE_SCALAR &&
               !ynode_is_null(value->pairs[0].value)) {
        kind = value->pairs[0].key->str;
        arg = value->pairs[0].value->str;
        at = value->pairs[0].value;
        if (strcmp(kind, "json") != 0 && strcmp(kind, "header") != 0 && strcmp(kind, "regex") != 0 &&
            strcmp(kind, "cookie") != 0 && strcmp(kind, "jar_cookie") != 0)
            kind = NULL;
    }
    if (!kind || !*arg) {
        diag_error(d, value->file, value->line, value->col, "%s: expected " SOURCES, path);
        return false;
    }
    out->what = arg;
    bool cookie = strcmp(kind, "cookie") == 0 || strcmp(kind, "jar_cookie") == 0;
    /* a cookie's value is a Cookie/Set-Cookie header's: a secret */
    out->secret = secret_name(key->str) || cookie ||
                  (strcmp(kind, "header") == 0 && secret_header(arg, strlen(arg)));
    char err[256];
    if (strcmp(kind, "json") == 0) {
        out->from = CAP_FROM_JSON;
        out->segs = jpath_compile(a, arg, &out->n_segs, err, sizeof err);
        if (!out->segs) {
            diag_error(d, at->file, at->line, at->col, "%s: %s", path, err);
            return false;
        }
    } else if (strcmp(kind, "header") == 0) {
        out->from = CAP_FROM_HEADER;
        for (const char *p = arg; *p; p++) {
            if (*p <= ' ' || *p == ':' || *p >= 0x7f) {
                diag_error(d, at->file, at->line, at->col,
                           "%s: \"%s\" is not a header name (expected a token such as X-Trace-Id)",
                           path, arg);
                return false;
            }
        }
    } else if (cookie) {
        out->from = kind[0] == 'c' ? CAP_FROM_COOKIE : CAP_FROM_JAR;
        for (const char *p = arg; *p; p++) {
            if (*p <= ' ' || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p)) {
                diag_error(d, at->file, at->line, at->col,
                           "%s: \"%s\" is not a cookie name (a token such as session_id)", path,
                           arg);
                return false;
            }
        }
    } else {
        out->from = CAP_FROM_REGEX;
        out->re = calloc(1, sizeof *out->re);
        if (!out->re)
            return false;
        int rc = regcomp(out->re, arg, REG_EXTENDED);
        if (rc != 0) {
            regerror(rc, out->re, err, sizeof err);
            free(out->re);
            out->re = NULL;
            diag_error(d, at->file, at->line, at->col,
                       "%s: invalid regular expression \"%s\": %s (POSIX extended syntax)", path,
                       arg, err);
            return false;
        }
    }
    return true;
}

void capture_free(capture_def *c)
{
    if (c && c->re) {
        regfree(c->re);
        free(c->re);
        c->re = NULL;
    }
    if (c && c->html) {
        html_sel_free(c->html);
        free(c->html);
        c->html = NULL;
    }
}

/* ---- apply ---- */

static int set_slot(vu_capture *slot, const char *v, size_t n, uint8_t kind)
{
    slot->val.len = 0;
    if (vbuf_append(&slot->val, v, n) != 0)
        return -1;
    slot->kind = kind;
    return 0;
}

static bool from_json(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                      size_t whycap)
{
    if (!cx->parsed) {
        json_error_t e;
        cx->parsed = true;
        cx->doc = cx->body_len ? json_loadb(cx->body, cx->body_len, JSON_DECODE_ANY, &e) : NULL;
        if (!cx->doc)
            snprintf(cx->parse_err, sizeof cx->parse_err, "%s",
                     cx->body_len ? e.text : "empty body");
    }
    if (!cx->doc) {
        snprintf(why, whycap, "body is not JSON (%s)", cx->parse_err);
        return false;
    }
    const json_t *v = jpath_lookup(c->segs, c->n_segs, cx->doc);
    if (!v) {
        snprintf(why, whycap, "json path %s: missing", c->what);
        return false;
    }
    if (json_is_string(v))
        return set_slot(slot, json_string_value(v), json_string_length(v), CAP_STRING) == 0;
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text)
        return false;
    /* 12.5 would come back as 12.5000000000000000: keep the shortest form
     * that reads back the same. */
    if (json_is_real(v)) {
        double x = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            char num[40];
            snprintf(num, sizeof num, "%.*g", prec, x);
            if (strtod(num, NULL) == x) {
                free(text);
                text = strdup(strchr(num, '.') || strchr(num, 'e') ? num : strcat(num, ".0"));
                break;
            }
        }
        if (!text)
            return false;
    }
    bool ok = set_slot(slot, text, strlen(text), CAP_JSON) == 0;
    free(text);
    return ok;
}

static bool from_header(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                        size_t whycap)
{
    size_t nl = strlen(c->what);
    const char *p = cx->headers, *end = cx->headers + cx->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > nl && p[nl] == ':' && strncasecmp(p, c->what, nl) == 0) {
            const char *v = p + nl + 1, *ve = line_end;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            return set_slot(slot, v, (size_t)(ve - v), CAP_STRING) == 0;
        }
        p = eol ? eol + 1 : end;
    }
    snprintf(why, whycap, "header %s: missing", c->what);
    return false;
}

static bool from_regex(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                       size_t whycap)
{
    regmatch_t m[2];
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)cx->body_len;
    /* REG_STARTEND: the body is bounded by its length, NULs and all. */
    if (regexec(c->re, cx->body ? cx->body : "", 2, m, REG_STARTEND) != 0) {
        snprintf(why, whycap, "regex %s: no match in the body", c->what);
        return false;
    }
    int g = c->re->re_nsub >= 1 && m[1].rm_so >= 0 ? 1 : 0;
    return set_slot(slot, cx->body + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so), CAP_STRING) == 0;
}

/* A cookie's value without the quotes around it (k6 shows it so). */
static bool cookie_value(vu_capture *slot, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    return set_slot(slot, v, n, CAP_STRING) == 0;
}

/* "name=value" at p (up to end): whether it is the cookie c names, and
 * where its value starts. */
static bool cookie_named(const capture_def *c, const char *p, const char *end, const char **value)
{
    size_t nl = strlen(c->what);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if ((size_t)(end - p) <= nl || memcmp(p, c->what, nl) != 0)
        return false;
    p += nl;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p != '=')
        return false;
    *value = p + 1;
    return true;
}

/* The first Set-Cookie of that name (k6: res.cookies[NAME][0].value). */
static bool from_cookie(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                        size_t whycap)
{
    const char *p = cx->headers, *end = cx->headers + cx->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        const char *v;
        if (line_end - p > 11 && strncasecmp(p, "set-cookie:", 11) == 0) {
            const char *semi = memchr(p + 11, ';', (size_t)(line_end - p - 11));
            const char *pair_end = semi ? semi : line_end;
            if (cookie_named(c, p + 11, pair_end, &v))
                return cookie_value(slot, v, (size_t)(pair_end - v));
        }
        p = eol ? eol + 1 : end;
    }
    snprintf(why, whycap, "cookie %s: not set by the response", c->what);
    return false;
}

/* The jar's cookie of that name for the response's url, as it is sent
 * (k6: jar.cookiesForURL(res.url)[NAME][0]). */
static bool from_jar(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                     size_t whycap)
{
    if (!cx->jar) {
        snprintf(why, whycap, "jar_cookie %s: this step's protocol keeps no cookie jar", c->what);
        return false;
    }
    const char *p = cx->jar, *end = cx->jar + cx->jar_len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi ? semi : end;
        const char *v;
        if (cookie_named(c, p, pair_end, &v))
            return cookie_value(slot, v, (size_t)(pair_end - v));
        p = semi ? semi + 1 : end;
    }
    snprintf(why, whycap, "jar_cookie %s: not in the VU's jar for the response's url", c->what);
    return false;
}

static bool from_url(capture_ctx *cx, vu_capture *slot, char *why, size_t whycap)
{
    if (!cx->url) {
        snprintf(why, whycap, "url: the protocol does not tell the response's URL");
        return false;
    }
    return set_slot(slot, cx->url, strlen(cx->url), CAP_STRING) == 0;
}

/* The document comes from the memo when a check of the step parsed it. */
static bool from_html(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                      size_t whycap)
{
    const char *kind = c->html->css ? "html" : "xpath";
    if (!cx->html_doc) {
        html_memo m = {.memo = cx->memo, .get = memo_get, .put = memo_put};
        cx->html_doc = html_doc_get(&m, cx->body, cx->body_len, &cx->html_owned);
        if (!cx->html_doc) {
            snprintf(why, whycap, "%s %s: out of memory parsing the body", kind, c->what);
            return false;
        }
    }
    html_result r;
    char err[200];
    if (html_select(c->html, cx->html_doc, &r, err, sizeof err) != 0) {
        snprintf(why, whycap, "%s %s: %s", kind, c->what, err);
        return false;
    }
    if (!r.found) {
        if (r.count == 0)
            snprintf(why, whycap, "%s %s: no match in the body", kind, c->what);
        else if (c->html->has_index && (c->html->index >= (int64_t)r.count ||
                                        -c->html->index > (int64_t)r.count))
            snprintf(why, whycap, "%s %s: %zu match%s, none at index %lld", kind, c->what,
                     r.count, r.count == 1 ? "" : "es", (long long)c->html->index);
        else
            snprintf(why, whycap, "%s %s: the match has no attribute %s", kind, c->what,
                     c->html->attr);
        return false;
    }
    bool ok = set_slot(slot, r.value, r.len, CAP_STRING) == 0;
    free(r.value);
    return ok;
}

bool capture_apply(const capture_def *c, capture_ctx *cx, vu_capture *slot, char *why,
                   size_t whycap)
{
    bool ok = c->from == CAP_FROM_JSON     ? from_json(c, cx, slot, why, whycap)
              : c->from == CAP_FROM_HEADER ? from_header(c, cx, slot, why, whycap)
              : c->from == CAP_FROM_COOKIE ? from_cookie(c, cx, slot, why, whycap)
              : c->from == CAP_FROM_JAR    ? from_jar(c, cx, slot, why, whycap)
              : c->from == CAP_FROM_URL    ? from_url(cx, slot, why, whycap)
              : c->from == CAP_FROM_HTML   ? from_html(c, cx, slot, why, whycap)
                                           : from_regex(c, cx, slot, why, whycap);
    if (!ok)
        slot->kind = CAP_UNSET;
    slot->secret = ok && c->secret;
    return ok;
}

void capture_ctx_done(capture_ctx *cx)
{
    json_decref(cx->doc);
    cx->doc = NULL;
    if (cx->html_owned)
        html_doc_free(cx->html_doc);
    cx->html_doc = NULL;
    cx->html_owned = false;
}
