#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "vu.h"

typedef enum seg_kind { SEG_LIT = 0, SEG_VU_ID, SEG_VU_ITER } seg_kind;

/* How a run-time segment is written inside a JSON body. */
enum { ESC_NONE = 0, ESC_JSON_STRING };

typedef struct tmpl_seg {
    seg_kind kind;
    int escape;
    const char *text;   /* SEG_LIT */
    size_t len;
} tmpl_seg;

struct volley_template {
    size_t n;
    tmpl_seg *segs;
    const char *const_text;   /* all literal: the whole text */
    const char *display;      /* load-time parts folded, run-time parts as
                                 "${vu.id}": a stable tag for templated urls */
};

struct volley_json {
    volley_template t;
};

/* A growable segment list used while compiling (heap, then copied into the
 * arena once complete). */
typedef struct seg_list {
    volley_buf lit;         /* pending literal text */
    tmpl_seg *segs;
    size_t n, cap;
    int oom;
} seg_list;

static void sl_lit(seg_list *l, const char *s, size_t n)
{
    if (vbuf_append(&l->lit, s, n) != 0)
        l->oom = 1;
}

static void sl_push(seg_list *l, arena *a, seg_kind kind, int escape)
{
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tmpl_seg *p = realloc(l->segs, cap * sizeof *p);
        if (!p) {
            l->oom = 1;
            return;
        }
        l->segs = p;
        l->cap = cap;
    }
    if (l->lit.len > 0) {
        tmpl_seg *s = &l->segs[l->n++];
        *s = (tmpl_seg){.kind = SEG_LIT,
                        .text = arena_strndup(a, l->lit.data, l->lit.len),
                        .len = l->lit.len};
        if (!s->text)
            l->oom = 1;
        l->lit.len = 0;
    }
    if (kind != SEG_LIT)
        l->segs[l->n++] = (tmpl_seg){.kind = kind, .escape = escape};
}

static const char *seg_name(seg_kind k)
{
    return k == SEG_VU_ID ? "${vu.id}" : k == SEG_VU_ITER ? "${vu.iteration}" : "";
}

static const char *display_text(arena *a, const volley_template *t)
{
    size_t len = 0;
    for (size_t i = 0; i < t->n; i++)
        len += t->segs[i].kind == SEG_LIT ? t->segs[i].len : strlen(seg_name(t->segs[i].kind));
    char *out = arena_alloc(a, len + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const char *src = t->segs[i].kind == SEG_LIT ? t->segs[i].text : seg_name(t->segs[i].kind);
        size_t n = t->segs[i].kind == SEG_LIT ? t->segs[i].len : strlen(src);
        memcpy(p, src, n);
        p += n;
    }
    *p = '\0';
    return out;
}

/* Moves the list into `t` (arena-owned) and resets it. */
static int sl_finish(seg_list *l, arena *a, volley_template *t)
{
    sl_push(l, a, SEG_LIT, 0);
    int rc = -1;
    if (l->oom)
        goto done;
    t->n = l->n;
    t->segs = arena_alloc(a, (l->n ? l->n : 1) * sizeof *t->segs);
    if (!t->segs)
        goto done;
    memcpy(t->segs, l->segs, l->n * sizeof *t->segs);
    if (l->n == 0)
        t->const_text = "";
    else if (l->n == 1 && t->segs[0].kind == SEG_LIT)
        t->const_text = t->segs[0].text;
    t->display = t->const_text ? t->const_text : display_text(a, t);
    rc = t->display ? 0 : -1;
done:
    free(l->segs);
    vbuf_free(&l->lit);
    memset(l, 0, sizeof *l);
    return rc;
}

/* A value folded in at load time: inside a JSON string it is escaped like
 * the literal text around it. */
static void sl_value(seg_list *l, const char *v, int escape)
{
    if (escape == ESC_JSON_STRING) {
        if (vbuf_append_json_escaped(&l->lit, v, strlen(v)) != 0)
            l->oom = 1;
    } else {
        sl_lit(l, v, strlen(v));
    }
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Resolves one "${expr}" body; literal values are appended to the pending
 * literal, run-time ones become segments. */
static int compile_expr(seg_list *l, arena *a, const char *expr, int escape,
                        const tmpl_scope *scope, char *err, size_t errcap)
{
    const char *def = strstr(expr, ":-");
    size_t name_len = def ? (size_t)(def - expr) : strlen(expr);
    char name[256];
    if (name_len == 0 || name_len >= sizeof name) {
        snprintf(err, errcap, "empty or overlong template name in \"${%s}\"", expr);
        return -1;
    }
    memcpy(name, expr, name_len);
    name[name_len] = '\0';

    const char *dot = strchr(name, '.');
    const char *ns_end = dot ? dot : name + name_len;
    size_t ns_len = (size_t)(ns_end - name);
    const char *rest = dot ? dot + 1 : "";
    for (const char *p = rest; *p; p++) {
        if (!is_name_char(*p)) {
            snprintf(err, errcap, "invalid character '%c' in template name \"%s\"", *p, name);
            return -1;
        }
    }

    if (ns_len == 3 && memcmp(name, "env", 3) == 0 && *rest) {
        const char *v = scope && scope->env ? scope->env(scope->ctx, rest) : NULL;
        if (!v && def)
            v = def + 2;
        if (!v) {
            snprintf(err, errcap,
                     "environment variable %s is not set (pass -e %s=VALUE, "
                     "export it, or write ${env.%s:-default})", rest, rest, rest);
            return -1;
        }
        sl_value(l, v, escape);
        return 0;
    }
    if (def) {
        snprintf(err, errcap, "a default (\":-\") is only allowed for env.NAME, not in \"${%s}\"", expr);
        return -1;
    }
    if (ns_len == 8 && memcmp(name, "services", 8) == 0 && *rest) {
        const char *v = scope && scope->service ? scope->service(scope->ctx, rest) : NULL;
        if (!v) {
            snprintf(err, errcap, "unknown service \"%s\" in \"${%s}\" (declare it under services:)", rest, name);
            return -1;
        }
        sl_value(l, v, escape);
        return 0;
    }
    if (strcmp(name, "vu.id") == 0) {
        sl_push(l, a, SEG_VU_ID, escape);
        return 0;
    }
    if (strcmp(name, "vu.iteration") == 0) {
        sl_push(l, a, SEG_VU_ITER, escape);
        return 0;
    }
    snprintf(err, errcap,
             "unknown template name \"%s\"; expected env.NAME, services.NAME, "
             "vu.id or vu.iteration", name);
    return -1;
}

/* Appends the segments of src to l. */
static int compile_into(seg_list *l, arena *a, const char *src, size_t len,
                        int escape, const tmpl_scope *scope, char *err,
                        size_t errcap)
{
    size_t i = 0;
    while (i < len) {
        if (src[i] == '$' && i + 2 < len && src[i + 1] == '$' && src[i + 2] == '{') {
            sl_lit(l, "${", 2);   /* "$${" escapes a literal "${" */
            i += 3;
            continue;
        }
        if (src[i] == '$' && i + 1 < len && src[i + 1] == '{') {
            const char *close = memchr(src + i + 2, '}', len - i - 2);
            if (!close) {
                snprintf(err, errcap, "unterminated \"${\" at offset %zu (expected \"${name}\")", i);
                return -1;
            }
            size_t elen = (size_t)(close - (src + i + 2));
            char expr[512];
            if (elen >= sizeof expr) {
                snprintf(err, errcap, "template expression too long at offset %zu", i);
                return -1;
            }
            memcpy(expr, src + i + 2, elen);
            expr[elen] = '\0';
            /* Trim blanks: "${ env.X }" is fine. */
            char *e = expr;
            while (*e == ' ')
                e++;
            size_t el = strlen(e);
            while (el && e[el - 1] == ' ')
                e[--el] = '\0';
            if (compile_expr(l, a, e, escape, scope, err, errcap) != 0)
                return -1;
            i = (size_t)(close - src) + 1;
            continue;
        }
        size_t j = i + 1;
        while (j < len && src[j] != '$')
            j++;
        if (escape == ESC_JSON_STRING) {
            if (vbuf_append_json_escaped(&l->lit, src + i, j - i) != 0)
                l->oom = 1;
        } else {
            sl_lit(l, src + i, j - i);
        }
        i = j;
    }
    return 0;
}

volley_template *tmpl_compile(arena *a, const char *src, size_t len,
                              const tmpl_scope *scope, char *err,
                              size_t errcap)
{
    seg_list l = {0};
    volley_template *t = arena_alloc(a, sizeof *t);
    if (!t || compile_into(&l, a, src, len, ESC_NONE, scope, err, errcap) != 0) {
        free(l.segs);
        vbuf_free(&l.lit);
        return NULL;
    }
    if (sl_finish(&l, a, t) != 0) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    return t;
}

const char *tmpl_const(const volley_template *t) { return t ? t->const_text : NULL; }

const char *tmpl_display(const volley_template *t) { return t ? t->display : NULL; }

int tmpl_render(const volley_template *t, volley_vu *vu, volley_buf *out)
{
    char num[24];
    for (size_t i = 0; i < t->n; i++) {
        const tmpl_seg *s = &t->segs[i];
        int rc = 0;
        switch (s->kind) {
        case SEG_LIT:
            rc = vbuf_append(out, s->text, s->len);
            break;
        case SEG_VU_ID:
            rc = vbuf_append(out, num, (size_t)snprintf(num, sizeof num, "%llu",
                                       (unsigned long long)vu_get_id(vu)));
            break;
        case SEG_VU_ITER:
            rc = vbuf_append(out, num, (size_t)snprintf(num, sizeof num, "%llu",
                                       (unsigned long long)vu_get_iteration(vu)));
            break;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- JSON bodies ---- */

/* A whole scalar that is exactly one "${...}" keeps the value's own type. */
static int single_template(const ynode *n)
{
    return n->len > 3 && n->str[0] == '$' && n->str[1] == '{' &&
           memchr(n->str + 2, '}', n->len - 2) == n->str + n->len - 1 &&
           memchr(n->str + 2, '$', n->len - 3) == NULL;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)? and
 * finite as a double. YAML (and env values) allow more: 0x1F, +5, 007, .5. */
static int is_json_number(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (p < end && *p == '.') {
        const char *d = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == d)
            return 0;
    }
    if (p != end)
        return 0;
    double x = strtod(s, NULL);
    return x - x == 0;
}

/* A YAML number in JSON syntax: as written when it already is JSON, else
 * its value (0x1F -> 31, .5 -> 0.5) in the shortest form that reads back. */
static void json_number(seg_list *l, const ynode *n, int is_int, int64_t i, double x)
{
    char num[40];
    if (is_json_number(n->str, n->len)) {
        sl_lit(l, n->str, n->len);
        return;
    }
    if (is_int) {
        snprintf(num, sizeof num, "%lld", (long long)i);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, x);
            if (strtod(num, NULL) == x)
                break;
        }
    }
    sl_lit(l, num, strlen(num));
}

static int json_scalar(seg_list *l, arena *a, const ynode *n,
                       const tmpl_scope *scope, diag *d, const char *path)
{
    char err[512];
    if (n->plain) {
        bool b;
        int64_t i;
        double x;
        if (ynode_is_null(n)) {
            sl_lit(l, "null", 4);
            return 0;
        }
        if (ynode_bool(n, &b)) {
            sl_lit(l, b ? "true" : "false", b ? 4 : 5);
            return 0;
        }
        if (ynode_int(n, &i)) {
            json_number(l, n, 1, i, 0);
            return 0;
        }
        if (ynode_double(n, &x) && x - x == 0) {
            json_number(l, n, 0, 0, x);
            return 0;
        }
        if (single_template(n)) {
            /* Compile alone first: a value folded at load time keeps its
             * type when it reads as a JSON number, else it is a string. */
            seg_list one = {0};
            if (compile_into(&one, a, n->str, n->len, ESC_NONE, scope, err, sizeof err) != 0) {
                free(one.segs);
                vbuf_free(&one.lit);
                goto fail;
            }
            int runtime = one.n > 0;
            int numeric = !runtime && one.lit.len > 0 && is_json_number(one.lit.data, one.lit.len);
            free(one.segs);
            vbuf_free(&one.lit);
            if (runtime || numeric)
                return compile_into(l, a, n->str, n->len, ESC_NONE, scope, err, sizeof err) == 0
                           ? 0 : (diag_error(d, n->file, n->line, n->col, "%s: %s", path, err), -1);
        }
    }
    sl_lit(l, "\"", 1);
    if (compile_into(l, a, n->str, n->len, ESC_JSON_STRING, scope, err, sizeof err) != 0)
        goto fail;
    sl_lit(l, "\"", 1);
    return 0;
fail:
    diag_error(d, n->file, n->line, n->col, "%s: %s", path, err);
    return -1;
}

static int json_node(seg_list *l, arena *a, const ynode *n,
                     const tmpl_scope *scope, diag *d, const char *path)
{
    int rc = 0;
    if (n->kind == YNODE_SCALAR)
        return json_scalar(l, a, n, scope, d, path);
    if (n->kind == YNODE_SEQ) {
        sl_lit(l, "[", 1);
        for (size_t i = 0; i < n->n_items; i++) {
            if (i)
                sl_lit(l, ",", 1);
            rc |= json_node(l, a, n->items[i], scope, d, path);
        }
        sl_lit(l, "]", 1);
        return rc;
    }
    sl_lit(l, "{", 1);
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key;
        if (i)
            sl_lit(l, ",", 1);
        sl_lit(l, "\"", 1);
        if (vbuf_append_json_escaped(&l->lit, k->str, k->len) != 0)
            l->oom = 1;
        sl_lit(l, "\":", 2);
        rc |= json_node(l, a, n->pairs[i].value, scope, d, path);
    }
    sl_lit(l, "}", 1);
    return rc;
}

volley_json *tjson_compile(arena *a, const ynode *n, const tmpl_scope *scope,
                           diag *d, const char *path)
{
    seg_list l = {0};
    volley_json *j = arena_alloc(a, sizeof *j);
    if (!j || json_node(&l, a, n, scope, d, path) != 0) {
        free(l.segs);
        vbuf_free(&l.lit);
        return NULL;
    }
    if (sl_finish(&l, a, &j->t) != 0) {
        diag_error(d, n->file, n->line, n->col, "%s: out of memory", path);
        return NULL;
    }
    return j;
}

const char *tjson_const(const volley_json *j) { return j ? j->t.const_text : NULL; }

int tjson_render(const volley_json *j, volley_vu *vu, volley_buf *out)
{
    return tmpl_render(&j->t, vu, out);
}
