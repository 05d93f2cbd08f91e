#include "template.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "pool.h"
#include "rng.h"
#include "secret.h"
#include "template_fn.h"
#include "vu.h"

typedef enum seg_kind {
    SEG_LIT = 0, SEG_VU_ID, SEG_VU_ITER, SEG_ROW, SEG_CAPTURE, SEG_RAND_INT, SEG_RAND_FLOAT,
    SEG_RAND_PICK, SEG_RAND_STRING, SEG_UUID, SEG_NOW_MS, SEG_NOW_ISO, SEG_SETUP, SEG_FN
} seg_kind;

/*
 * How a run-time segment is written: as is (ESC_NONE), inside a JSON string
 * (ESC_JSON_STRING: escaped), or as a whole JSON value (ESC_JSON_VALUE: a
 * value that is a single template keeps its type: numbers bare, strings
 * quoted).
 */
enum { ESC_NONE = 0, ESC_JSON_STRING, ESC_JSON_VALUE };

typedef struct tmpl_seg {
    seg_kind kind;
    int escape;
    const char *text;   /* SEG_LIT; SEG_CAPTURE/SEG_*: its "${...}" form */
    size_t len;
    int64_t i0, i1;     /* random.int bounds; random.string length; capture slot */
    double f0, f1;      /* random.float bounds                               */
    int decimals;       /* random.float                                      */
    const char **items; /* random.pick: each item as it is written...        */
    const char **jitems;/* ...and as a JSON value                            */
    size_t n_items;
    const struct tmpl_fn *fn; /* SEG_FN                                      */
} tmpl_seg;

/* A call of a template function (template_fn.h) with a run-time argument:
 * each argument is a template of its own, rendered raw into the output and
 * then replaced by the result there. */
typedef struct tmpl_fn {
    tfn_kind kind;
    int opt;                  /* tfn_b64 of base64*; tfn_out of a digest/hmac */
    tfn_alg alg;
    bool secret;              /* an argument folds in a secret: the result is one */
    size_t n_args;            /* data arguments: 1, or 2 for hmac (key, data) */
    const struct volley_template *args[2];
} tmpl_fn;

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
    bool secret;            /* a secret was folded in (template functions ask) */
} seg_list;

static void sl_lit(seg_list *l, const char *s, size_t n)
{
    if (vbuf_append(&l->lit, s, n) != 0)
        l->oom = 1;
}

static void sl_grow(seg_list *l)
{
    if (l->n + 2 <= l->cap)
        return;
    size_t cap = l->cap ? l->cap * 2 : 8;
    tmpl_seg *p = realloc(l->segs, cap * sizeof *p);
    if (!p) {
        l->oom = 1;
        return;
    }
    l->segs = p;
    l->cap = cap;
}

/* Ends the pending literal text; then appends `seg` (a run-time part),
 * unless it is NULL. */
static void sl_push_seg(seg_list *l, arena *a, const tmpl_seg *seg)
{
    sl_grow(l);
    if (l->oom)
        return;
    if (l->lit.len > 0) {
        tmpl_seg *s = &l->segs[l->n++];
        *s = (tmpl_seg){.kind = SEG_LIT,
                        .text = arena_strndup(a, l->lit.data, l->lit.len),
                        .len = l->lit.len};
        if (!s->text)
            l->oom = 1;
        l->lit.len = 0;
    }
    if (seg)
        l->segs[l->n++] = *seg;
}

static void sl_push(seg_list *l, arena *a, seg_kind kind, int escape, const char *form)
{
    tmpl_seg seg = {.kind = kind, .escape = escape, .text = form, .len = strlen(form)};
    sl_push_seg(l, a, kind == SEG_LIT ? NULL : &seg);
}

/* The load-time text with run-time parts written as "${...}". */
static const char *display_text(arena *a, const volley_template *t)
{
    size_t len = 0;
    for (size_t i = 0; i < t->n; i++)
        len += t->segs[i].len;
    char *out = arena_alloc(a, len + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        memcpy(p, t->segs[i].text, t->segs[i].len);
        p += t->segs[i].len;
    }
    *p = '\0';
    return out;
}

/* Moves the list into `t` (arena-owned) and resets it. */
static int sl_finish(seg_list *l, arena *a, volley_template *t)
{
    sl_push_seg(l, a, NULL);
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

/* The same for a value of n bytes (a decoded one may hold NULs). */
static void sl_value_n(seg_list *l, const char *v, size_t n, int escape)
{
    if (escape == ESC_JSON_STRING) {
        if (vbuf_append_json_escaped(&l->lit, v, n) != 0)
            l->oom = 1;
    } else if (escape == ESC_JSON_VALUE) {
        if ((vbuf_append(&l->lit, "\"", 1) | vbuf_append_json_escaped(&l->lit, v, n) |
             vbuf_append(&l->lit, "\"", 1)) != 0)
            l->oom = 1;
    } else {
        sl_lit(l, v, n);
    }
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Splits "a, 'b c', 3" into items (quotes removed; a quoted item may hold
 * commas; \" and \\ escape inside quotes). quoted[i] says how it was written. */
static int split_args(arena *a, const char *args, const char ***out, bool **quoted, size_t *n,
                      char *err, size_t errcap)
{
    size_t cap = 1;
    for (const char *p = args; *p; p++)
        cap += *p == ',';
    const char **items = arena_alloc(a, cap * sizeof *items);
    bool *q = arena_alloc(a, cap * sizeof *q);
    char *tmp = arena_alloc(a, strlen(args) + 1);
    if (!items || !q || !tmp) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    size_t count = 0;
    const char *p = args;
    for (;;) {
        while (*p == ' ')
            p++;
        char *w = tmp;
        bool was_quoted = false;
        if (*p == '"' || *p == '\'') {
            char quote = *p++;
            was_quoted = true;
            while (*p && *p != quote) {
                if (*p == '\\' && (p[1] == quote || p[1] == '\\'))
                    p++;
                *w++ = *p++;
            }
            if (*p != quote) {
                snprintf(err, errcap, "unterminated %c in \"(%s)\"", quote, args);
                return -1;
            }
            p++;
            while (*p == ' ')
                p++;
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
            while (w > tmp && w[-1] == ' ')
                w--;
        }
        *w = '\0';
        if (*p && *p != ',') {
            snprintf(err, errcap, "expected \",\" after a quoted argument in \"(%s)\"", args);
            return -1;
        }
        if (!was_quoted && w == tmp && (count > 0 || *p == ',')) {
            snprintf(err, errcap, "empty argument in \"(%s)\"", args);
            return -1;
        }
        if (was_quoted || w > tmp) {
            items[count] = arena_strdup(a, tmp);
            q[count++] = was_quoted;
        }
        if (!*p)
            break;
        p++;
    }
    *out = items;
    *quoted = q;
    *n = count;
    return 0;
}

static bool parse_i64(const char *s, int64_t *v)
{
    char *end;
    if (!*s)
        return false;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno)
        return false;
    *v = x;
    return true;
}

static bool parse_f64(const char *s, double *v)
{
    char *end;
    if (!*s)
        return false;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || errno || x - x != 0)
        return false;
    *v = x;
    return true;
}

static int is_json_number(const char *s, size_t len);

/* random.*(...) and uuid(): run-time segments with their arguments checked
 * here, once. */
static int compile_call(seg_list *l, arena *a, const char *fname, const char *args, int escape,
                        const char *form, char *err, size_t errcap)
{
    const char **items;
    bool *quoted;
    size_t n;
    if (split_args(a, args, &items, &quoted, &n, err, errcap) != 0)
        return -1;
    tmpl_seg seg = {.escape = escape, .text = form, .len = strlen(form)};
    if (strcmp(fname, "random.int") == 0) {
        if (n != 2 || !parse_i64(items[0], &seg.i0) || !parse_i64(items[1], &seg.i1) ||
            seg.i0 > seg.i1) {
            snprintf(err, errcap, "expected random.int(MIN, MAX) with integers MIN <= MAX, got \"%s\"", form);
            return -1;
        }
        seg.kind = SEG_RAND_INT;
    } else if (strcmp(fname, "random.float") == 0) {
        int64_t dec = 2;
        if ((n != 2 && n != 3) || !parse_f64(items[0], &seg.f0) || !parse_f64(items[1], &seg.f1) ||
            seg.f0 > seg.f1 || (n == 3 && (!parse_i64(items[2], &dec) || dec < 0 || dec > 15))) {
            snprintf(err, errcap,
                     "expected random.float(MIN, MAX) or random.float(MIN, MAX, DECIMALS) with "
                     "numbers MIN <= MAX and DECIMALS 0..15, got \"%s\"", form);
            return -1;
        }
        seg.kind = SEG_RAND_FLOAT;
        seg.decimals = (int)dec;
    } else if (strcmp(fname, "random.pick") == 0) {
        if (n == 0) {
            snprintf(err, errcap, "expected random.pick(A, B, ...) with at least one item, got \"%s\"", form);
            return -1;
        }
        seg.kind = SEG_RAND_PICK;
        seg.items = items;
        seg.n_items = n;
        seg.jitems = arena_alloc(a, n * sizeof *seg.jitems);
        if (!seg.jitems)
            return -1;
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(items[i]);
            if (!quoted[i] && (is_json_number(items[i], len) || strcmp(items[i], "true") == 0 ||
                               strcmp(items[i], "false") == 0 || strcmp(items[i], "null") == 0)) {
                seg.jitems[i] = items[i];
                continue;
            }
            volley_buf b = {0};
            int rc = vbuf_append(&b, "\"", 1) | vbuf_append_json_escaped(&b, items[i], len) |
                     vbuf_append(&b, "\"", 1);
            seg.jitems[i] = rc == 0 ? arena_strndup(a, b.data, b.len) : NULL;
            vbuf_free(&b);
            if (!seg.jitems[i])
                return -1;
        }
    } else if (strcmp(fname, "random.string") == 0) {
        if (n != 1 || !parse_i64(items[0], &seg.i0) || seg.i0 < 1 || seg.i0 > 4096) {
            snprintf(err, errcap, "expected random.string(LENGTH) with LENGTH 1..4096, got \"%s\"", form);
            return -1;
        }
        seg.kind = SEG_RAND_STRING;
    } else if (strcmp(fname, "uuid") == 0) {
        if (n != 0) {
            snprintf(err, errcap, "uuid() takes no arguments, got \"%s\"", form);
            return -1;
        }
        seg.kind = SEG_UUID;
    } else {
        snprintf(err, errcap,
                 "unknown template function \"%s\"; expected random.int, random.float, "
                 "random.pick, random.string, uuid, base64, base64decode, hex, urlencode, md5, "
                 "sha1, sha256, sha384, sha512 or hmac", fname);
        return -1;
    }
    sl_push_seg(l, a, &seg);
    return 0;
}

#define KNOWN_NAMES "env.NAME, services.NAME, row.FIELD, a captured name, setup.NAME, vu.id, " \
                    "vu.iteration, scenario.name, random.int(a,b), random.float(a,b), " \
                    "random.pick(x,y,...), random.string(n), uuid(), now.ms, now.iso or a " \
                    "function: base64(x), base64decode(x), hex(x), urlencode(x), sha256(x), " \
                    "hmac('sha256', key, data) ..."

static int compile_expr(seg_list *l, arena *a, const char *expr, int escape,
                        const tmpl_scope *scope, char *err, size_t errcap);

/* ---- template functions: base64(env.USER + ':' + env.PASSWORD) ---- */

/*
 * An argument is a value: terms joined by '+', each a quoted text ('...'
 * or "...", with \' \" \\), a number, a name (env.X, env.X:-default,
 * row.F, a capture, vu.id ...) or a call (another function, random.*(),
 * uuid()). Parsed by recursive descent straight from the text.
 */
typedef struct fn_parser {
    arena *a;
    const tmpl_scope *scope;
    char *err;
    size_t errcap;
    const char *form;       /* the whole ${...}, for messages */
    const char *p;
    int depth;
} fn_parser;

static int compile_fn(fn_parser *x, seg_list *l, const char *fname, tfn_kind kind, tfn_alg alg,
                      const char *args, int escape);

static void fn_skip(fn_parser *x)
{
    while (*x->p == ' ')
        x->p++;
}

/* From just after an opening '(' to its ')', quotes respected; NULL when
 * it is not closed. */
static const char *fn_close(const char *p)
{
    int depth = 1;
    for (; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return NULL;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

static int fn_fail(fn_parser *x, const char *what)
{
    snprintf(x->err, x->errcap, "%s in \"%s\"", what, x->form);
    return -1;
}

static int fn_term(fn_parser *x, seg_list *l)
{
    fn_skip(x);
    const char *p = x->p;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && *p != q) {
            if (*p == '\\' && (p[1] == q || p[1] == '\\'))
                p++;
            sl_lit(l, p++, 1);
        }
        if (*p != q)
            return fn_fail(x, "unterminated quote");
        x->p = p + 1;
        return 0;
    }
    if ((*p >= '0' && *p <= '9') || (*p == '-' && p[1] >= '0' && p[1] <= '9')) {
        const char *s = p++;
        while ((*p >= '0' && *p <= '9') || *p == '.')
            p++;
        sl_lit(l, s, (size_t)(p - s));
        x->p = p;
        return 0;
    }
    const char *s = p;
    while (is_name_char(*p) || *p == '.')
        p++;
    if (p == s)
        return fn_fail(x, *p ? "expected a quoted text, a number, a name or a call"
                             : "expected a value after \"+\" or \",\"");
    char name[256];
    if ((size_t)(p - s) >= sizeof name)
        return fn_fail(x, "overlong name");
    memcpy(name, s, (size_t)(p - s));
    name[p - s] = '\0';
    const char *after = p;
    while (*after == ' ')
        after++;
    if (*after == '(') {
        const char *close = fn_close(after + 1);
        if (!close)
            return fn_fail(x, "unclosed \"(\"");
        char *inner = arena_strndup(x->a, after + 1, (size_t)(close - after - 1));
        if (!inner)
            return fn_fail(x, "out of memory");
        x->p = close + 1;
        tfn_kind kind;
        tfn_alg alg = TFN_SHA256;
        if (tfn_lookup(name, &kind, &alg) == 0)
            return compile_fn(x, l, name, kind, alg, inner, ESC_NONE);
        const char *form = arena_printf(x->a, "%s(%s)", name, inner);
        return form ? compile_call(l, x->a, name, inner, ESC_NONE, form, x->err, x->errcap) : -1;
    }
    /* env.X:-default: the default is quoted, or runs to a blank, ',', '+'
     * or ')'. */
    size_t nlen = (size_t)(p - s);
    char expr[512];
    if (p[0] == ':' && p[1] == '-') {
        p += 2;
        char def[256];
        size_t dn = 0;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q && dn + 1 < sizeof def) {
                if (*p == '\\' && (p[1] == q || p[1] == '\\'))
                    p++;
                def[dn++] = *p++;
            }
            if (*p != q)
                return fn_fail(x, "unterminated quote");
            p++;
        } else {
            while (*p && !strchr(" ,+)", *p) && dn + 1 < sizeof def)
                def[dn++] = *p++;
        }
        def[dn] = '\0';
        snprintf(expr, sizeof expr, "%.*s:-%s", (int)nlen, s, def);
    } else {
        snprintf(expr, sizeof expr, "%.*s", (int)nlen, s);
    }
    x->p = p;
    return compile_expr(l, x->a, expr, ESC_NONE, x->scope, x->err, x->errcap);
}

/* value := term ('+' term)* */
static int fn_value(fn_parser *x, seg_list *l)
{
    for (;;) {
        if (fn_term(x, l) != 0)
            return -1;
        fn_skip(x);
        if (*x->p != '+')
            return 0;
        x->p++;
    }
}

/* An option argument (an encoding, an algorithm): a constant text. */
static const char *fn_option(const volley_template *t) { return tmpl_const(t); }

static const char *const fn_usage[] = {
    [TFN_BASE64] = "base64(VALUE) or base64(VALUE, ENCODING) with ENCODING " TFN_B64_NAMES,
    [TFN_BASE64_DECODE] = "base64decode(VALUE) or base64decode(VALUE, ENCODING) with ENCODING "
                          TFN_B64_NAMES,
    [TFN_HEX] = "hex(VALUE)",
    [TFN_URLENCODE] = "urlencode(VALUE)",
    [TFN_DIGEST] = "%s(VALUE) or %s(VALUE, ENCODING) with ENCODING " TFN_OUT_NAMES,
    [TFN_HMAC] = "hmac(ALGORITHM, KEY, DATA) or hmac(ALGORITHM, KEY, DATA, ENCODING) with "
                 "ALGORITHM " TFN_ALG_NAMES " and ENCODING " TFN_OUT_NAMES,
};

static int fn_usage_error(fn_parser *x, const char *fname, tfn_kind kind, const char *why)
{
    char usage[512];
    snprintf(usage, sizeof usage, fn_usage[kind], fname, fname);
    snprintf(x->err, x->errcap, "%s: expected %s, got \"%s\"", why, usage, x->form);
    return -1;
}

/* Applies the function to out[from..len) (the arguments rendered there,
 * args[1] from `mid`). */
static int fn_apply(const tmpl_fn *f, volley_buf *out, size_t from, size_t mid)
{
    switch (f->kind) {
    case TFN_BASE64: return tfn_base64_tail(out, from, (tfn_b64)f->opt);
    case TFN_BASE64_DECODE: return tfn_base64_decode_tail(out, from, (tfn_b64)f->opt);
    case TFN_HEX: return tfn_hex_tail(out, from);
    case TFN_URLENCODE: return tfn_urlencode_tail(out, from);
    case TFN_DIGEST: return tfn_digest_tail(out, from, f->alg, (tfn_out)f->opt);
    case TFN_HMAC: return tfn_hmac_tail(out, from, mid, f->alg, (tfn_out)f->opt);
    }
    return -1;
}

/* Compiles NAME(args): checks the arguments once; with constant data the
 * result is folded in now (a secret's result registered as one), else a
 * SEG_FN segment renders it per request. */
static int compile_fn(fn_parser *x, seg_list *l, const char *fname, tfn_kind kind, tfn_alg alg,
                      const char *args, int escape)
{
    if (++x->depth > 8) {
        snprintf(x->err, x->errcap, "template functions nested more than 8 deep in \"%s\"", x->form);
        return -1;
    }
    const char *saved = x->p;
    const volley_template *argv[4];
    bool secret = false;
    size_t n = 0;
    x->p = args;
    fn_skip(x);
    while (*x->p) {
        if (n == 4)
            return fn_usage_error(x, fname, kind, "too many arguments");
        seg_list al = {0};
        volley_template *t = arena_alloc(x->a, sizeof *t);
        if (!t || fn_value(x, &al) != 0) {
            free(al.segs);
            vbuf_free(&al.lit);
            return t ? -1 : fn_fail(x, "out of memory");
        }
        secret |= al.secret;
        if (sl_finish(&al, x->a, t) != 0)
            return fn_fail(x, "out of memory");
        argv[n++] = t;
        fn_skip(x);
        if (*x->p == ',') {
            x->p++;
            fn_skip(x);
            if (!*x->p)
                return fn_fail(x, "expected a value after \",\"");
        } else if (*x->p) {
            return fn_fail(x, "expected \",\" or \")\" after a value");
        }
    }
    x->p = saved;
    x->depth--;

    tmpl_fn f = {.kind = kind, .alg = alg, .secret = secret};
    size_t first = 0, n_data = kind == TFN_HMAC ? 2 : 1, n_opt;
    if (kind == TFN_HMAC) {
        const char *a0 = n ? fn_option(argv[0]) : NULL;
        int ai = a0 ? tfn_alg_parse(a0) : -1;
        if (n < 3 || ai < 0)
            return fn_usage_error(x, fname, kind, n < 3 ? "too few arguments" : "unknown algorithm");
        f.alg = (tfn_alg)ai;
        first = 1;
    }
    if (n < first + n_data)
        return fn_usage_error(x, fname, kind, "too few arguments");
    n_opt = n - first - n_data;
    bool has_opt = kind == TFN_BASE64 || kind == TFN_BASE64_DECODE || kind == TFN_DIGEST ||
                   kind == TFN_HMAC;
    if (n_opt > (has_opt ? 1u : 0u))
        return fn_usage_error(x, fname, kind, "too many arguments");
    if (n_opt) {
        const char *o = fn_option(argv[n - 1]);
        f.opt = !o ? -1 : kind == TFN_BASE64 || kind == TFN_BASE64_DECODE ? tfn_b64_parse(o)
                                                                          : tfn_out_parse(o);
        if (f.opt < 0)
            return fn_usage_error(x, fname, kind, "unknown encoding");
    }
    f.n_args = n_data;
    f.args[0] = argv[first];
    f.args[1] = n_data == 2 ? argv[first + 1] : NULL;

    const char *c0 = tmpl_const(f.args[0]), *c1 = f.args[1] ? tmpl_const(f.args[1]) : "";
    if (c0 && c1) {
        volley_buf b = {0};
        size_t mid = strlen(c0);
        int rc = vbuf_append_str(&b, c0) | vbuf_append_str(&b, c1);
        rc = rc == 0 ? fn_apply(&f, &b, 0, mid) : -1;
        if (rc != 0) {
            vbuf_free(&b);
            if (kind == TFN_BASE64_DECODE)
                return fn_usage_error(x, fname, kind, "not base64 of that alphabet");
            return fn_fail(x, kind == TFN_DIGEST || kind == TFN_HMAC
                                  ? "digest failed (algorithm not in this OpenSSL)"
                                  : "out of memory");
        }
        if (secret) {
            secret_add(b.data, b.len);
            l->secret = true;
        }
        sl_value_n(l, b.data ? b.data : "", b.len, escape);
        vbuf_free(&b);
        return 0;
    }
    tmpl_fn *kept = arena_alloc(x->a, sizeof *kept);
    if (!kept)
        return fn_fail(x, "out of memory");
    *kept = f;
    l->secret |= secret;
    tmpl_seg seg = {.kind = SEG_FN, .escape = escape, .text = x->form, .len = strlen(x->form),
                    .fn = kept};
    sl_push_seg(l, x->a, &seg);
    return 0;
}

/* Resolves one "${expr}" body; literal values are appended to the pending
 * literal, run-time ones become segments. */
static int compile_expr(seg_list *l, arena *a, const char *expr, int escape,
                        const tmpl_scope *scope, char *err, size_t errcap)
{
    const char *form = arena_printf(a, "${%s}", expr);
    if (!form) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    const char *paren = strchr(expr, '(');
    if (paren) {
        size_t elen = strlen(expr);
        char fname[64];
        size_t flen = (size_t)(paren - expr);
        while (flen && expr[flen - 1] == ' ')
            flen--;
        if (expr[elen - 1] != ')' || flen == 0 || flen >= sizeof fname) {
            snprintf(err, errcap, "expected a call like random.int(1, 10) in \"${%s}\"", expr);
            return -1;
        }
        memcpy(fname, expr, flen);
        fname[flen] = '\0';
        char *args = arena_strndup(a, paren + 1, elen - (size_t)(paren - expr) - 2);
        if (!args)
            return -1;
        tfn_kind kind;
        tfn_alg alg = TFN_SHA256;
        if (tfn_lookup(fname, &kind, &alg) == 0) {
            fn_parser x = {.a = a, .scope = scope, .err = err, .errcap = errcap, .form = form};
            return compile_fn(&x, l, fname, kind, alg, args, escape);
        }
        return compile_call(l, a, fname, args, escape, form, err, errcap);
    }

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
    for (const char *p = name; *p; p++) {
        if (!is_name_char(*p) && *p != '.') {
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
        /* Sent as it is; shown as *** wherever volley shows text. */
        if (secret_name(rest)) {
            secret_add(v, strlen(v));
            l->secret = true;
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
    if (strcmp(name, "scenario.name") == 0) {
        const char *v = scope && scope->scenario ? scope->scenario(scope->ctx) : NULL;
        if (!v) {
            snprintf(err, errcap, "${scenario.name} is only known inside a scenario's flow");
            return -1;
        }
        sl_value(l, v, escape);
        return 0;
    }
    if (ns_len == 3 && memcmp(name, "row", 3) == 0 && *rest) {
        if (!scope || !scope->row_field) {
            snprintf(err, errcap, "${%s}: a pool row is only known in a scenario with `use: POOL`", name);
            return -1;
        }
        int slot = 0;
        int64_t idx = scope->row_field(scope->ctx, rest, &slot, err, errcap);
        if (idx < 0)
            return -1;
        tmpl_seg seg = {.kind = SEG_ROW, .escape = escape, .text = form, .len = strlen(form), .i0 = idx,
                        .i1 = slot};
        sl_push_seg(l, a, &seg);
        return 0;
    }
    if (ns_len == 5 && memcmp(name, "setup", 5) == 0 && *rest) {
        if (!scope || !scope->setup_field) {
            snprintf(err, errcap, "${%s}: setup values are only known in a spec's scenarios and "
                     "teardown", name);
            return -1;
        }
        int64_t slot = scope->setup_field(scope->ctx, rest, err, errcap);
        if (slot < 0)
            return -1;
        tmpl_seg seg = {.kind = SEG_SETUP, .escape = escape, .text = form, .len = strlen(form),
                        .i0 = slot};
        sl_push_seg(l, a, &seg);
        return 0;
    }
    if (strcmp(name, "vu.id") == 0) {
        sl_push(l, a, SEG_VU_ID, escape, form);
        return 0;
    }
    if (strcmp(name, "vu.iteration") == 0) {
        sl_push(l, a, SEG_VU_ITER, escape, form);
        return 0;
    }
    if (strcmp(name, "now.ms") == 0) {
        sl_push(l, a, SEG_NOW_MS, escape, form);
        return 0;
    }
    if (strcmp(name, "now.iso") == 0) {
        sl_push(l, a, SEG_NOW_ISO, escape, form);
        return 0;
    }
    /* A dotted name may be a loop's (${item.id}, ${loop.index}). */
    if (scope && scope->capture) {
        int slot = scope->capture(scope->ctx, name);
        if (slot >= 0) {
            tmpl_seg seg = {.kind = SEG_CAPTURE, .escape = escape, .text = form,
                            .len = strlen(form), .i0 = slot};
            sl_push_seg(l, a, &seg);
            return 0;
        }
        if (slot == -3) {
            snprintf(err, errcap,
                     "\"${%s}\" is captured by this same step; a captured name is visible "
                     "from the next step on (and in this step's record)", name);
            return -1;
        }
        if (slot == -4) {
            snprintf(err, errcap,
                     "\"${%s}\" is captured by another step of the same batch; the steps of a "
                     "batch run at once, so what they capture is visible after the batch", name);
            return -1;
        }
        if (slot == -2) {
            snprintf(err, errcap,
                     "\"${%s}\" is captured only by a later step; a captured name is visible "
                     "to the steps after the one that captures it", name);
            return -1;
        }
    }
    snprintf(err, errcap, "unknown template name \"%s\"; expected " KNOWN_NAMES, name);
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

static bool url_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* Encodes out[from..len) in place: grows the tail, then writes from the
 * back so every byte is read before it can be overwritten. */
static int urlencode_tail(volley_buf *out, size_t from)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t extra = 0;
    for (size_t i = from; i < out->len; i++)
        extra += url_unreserved((unsigned char)out->data[i]) || out->data[i] == ' ' ? 0 : 2;
    if (vbuf_reserve(out, extra) != 0)
        return -1;
    char *d = out->data;
    size_t r = out->len, w = out->len + extra;
    while (r > from) {
        unsigned char c = (unsigned char)d[--r];
        if (url_unreserved(c)) {
            d[--w] = (char)c;
        } else if (c == ' ') {
            d[--w] = '+';
        } else {
            d[--w] = hex[c & 15];
            d[--w] = hex[c >> 4];
            d[--w] = '%';
        }
    }
    out->len += extra;
    out->data[out->len] = '\0';
    return 0;
}

int tmpl_map_urlencode(const volley_template_map *m, volley_vu *vu, volley_buf *out)
{
    for (size_t i = 0; i < m->n; i++) {
        if (i && vbuf_append(out, "&", 1) != 0)
            return -1;
        size_t at = out->len;
        if (vbuf_append_str(out, m->keys[i]) != 0 || urlencode_tail(out, at) != 0 ||
            vbuf_append(out, "=", 1) != 0)
            return -1;
        at = out->len;
        const char *v = tmpl_const(m->values[i]);
        int rc = v ? vbuf_append_str(out, v) : vu ? tmpl_render(m->values[i], vu, out) : -1;
        if (rc != 0 || urlencode_tail(out, at) != 0)
            return -1;
    }
    return vbuf_reserve(out, 0);
}

/* A string value: raw, escaped inside a JSON string, or a quoted JSON value. */
static int put_text(volley_buf *out, const char *v, size_t n, int escape)
{
    if (escape == ESC_NONE)
        return vbuf_append(out, v, n);
    if (escape == ESC_JSON_STRING)
        return vbuf_append_json_escaped(out, v, n);
    return vbuf_append(out, "\"", 1) | vbuf_append_json_escaped(out, v, n) |
           vbuf_append(out, "\"", 1);
}

/* A JSON value (number, object...): as is in a JSON value, else as text. */
static int put_json(volley_buf *out, const char *v, size_t n, int escape)
{
    return escape == ESC_JSON_STRING ? vbuf_append_json_escaped(out, v, n) : vbuf_append(out, v, n);
}

static int put_uuid(volley_buf *out, uint64_t *rng, int escape)
{
    uint64_t hi = rng_next(rng), lo = rng_next(rng);
    hi = (hi & ~0xf000ull) | 0x4000ull;                       /* version 4 */
    lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull; /* RFC 4122 variant */
    char u[40];
    int n = snprintf(u, sizeof u, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
                     (unsigned)(hi >> 16) & 0xffff, (unsigned)hi & 0xffff, (unsigned)(lo >> 48),
                     (unsigned long long)(lo & 0xffffffffffffull));
    return put_text(out, u, (size_t)n, escape);
}

static int put_now(volley_buf *out, bool iso, int escape)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char v[40];
    int n;
    if (!iso) {
        n = snprintf(v, sizeof v, "%lld", ms);
        return vbuf_append(out, v, (size_t)n);
    }
    struct tm tm;
    time_t secs = ts.tv_sec;
    gmtime_r(&secs, &tm);
    n = (int)strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(v + n, sizeof v - (size_t)n, ".%03dZ", (int)(ms % 1000));
    return put_text(out, v, (size_t)n, escape);
}

static int put_random_string(volley_buf *out, uint64_t *rng, size_t len, int escape)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    bool quote = escape == ESC_JSON_VALUE;
    if (vbuf_reserve(out, len + 2) != 0)
        return -1;
    if (quote)
        out->data[out->len++] = '"';
    for (size_t i = 0; i < len; i++)
        out->data[out->len++] = alphabet[rng_below(rng, sizeof alphabet - 1)];
    if (quote)
        out->data[out->len++] = '"';
    out->data[out->len] = '\0';
    return 0;
}

static int escape_null(volley_buf *out, int escape)
{
    return escape == ESC_JSON_VALUE ? vbuf_append(out, "null", 4) : 0;
}

static int put_capture(volley_buf *out, const vu_capture *c, int escape)
{
    if (!c || c->kind == CAP_UNSET)
        return escape == ESC_JSON_VALUE ? vbuf_append(out, "null", 4) : 0;
    if (c->kind == CAP_JSON)
        return put_json(out, c->val.data, c->val.len, escape);
    return put_text(out, c->val.data, c->val.len, escape);
}

/* out[from..len), a function's raw result, escaped in place: moved to the
 * far end of room for the worst case, then escaped forward from `from`,
 * the writes never reaching a byte not yet read. */
static int escape_tail(volley_buf *out, size_t from, int escape)
{
    if (escape == ESC_NONE)
        return 0;
    size_t n = out->len - from, room = 6 * n + 2;
    if (vbuf_reserve(out, room) != 0)
        return -1;
    char *raw = out->data + from + room, *w = out->data + from;
    memmove(raw, out->data + from, n);
    if (escape == ESC_JSON_VALUE)
        *w++ = '"';
    w = json_escape_into(w, raw, n);
    if (escape == ESC_JSON_VALUE)
        *w++ = '"';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return 0;
}

/* Whether a run-time argument holds a value this VU keeps secret (a
 * captured token): what is derived from it is one too. */
static bool holds_vu_secret(const volley_template *t, const volley_vu *vu)
{
    for (size_t i = 0; t && i < t->n; i++) {
        const tmpl_seg *s = &t->segs[i];
        const vu_capture *c = s->kind == SEG_CAPTURE && vu->caps            ? &vu->caps[s->i0]
                              : s->kind == SEG_SETUP && vu->setup && *vu->setup ? &(*vu->setup)[s->i0]
                                                                            : NULL;
        if ((c && c->secret && c->kind != CAP_UNSET) ||
            (s->kind == SEG_FN && (holds_vu_secret(s->fn->args[0], vu) ||
                                   holds_vu_secret(s->fn->args[1], vu))))
            return true;
    }
    return false;
}

/* Keeps a secret-derived value among the VU's last VU_DERIVED (vu.h), for
 * redaction on failure paths; the slot's buffer only grows. */
static void keep_derived(volley_vu *vu, const char *v, size_t n)
{
    vu_capture *c = &vu->derived[vu->derived_next++ % VU_DERIVED];
    c->val.len = 0;
    c->kind = vbuf_append(&c->val, v, n) == 0 ? CAP_STRING : CAP_UNSET;
    c->secret = 1;
}

static int render_fn(const tmpl_seg *s, volley_vu *vu, volley_buf *out)
{
    const tmpl_fn *f = s->fn;
    size_t from = out->len;
    if (tmpl_render(f->args[0], vu, out) != 0)
        return -1;
    size_t mid = out->len;
    if ((f->args[1] && tmpl_render(f->args[1], vu, out) != 0) || fn_apply(f, out, from, mid) != 0) {
        out->len = from;   /* not base64, out of memory: the request fails */
        return -1;
    }
    if (f->secret || holds_vu_secret(f->args[0], vu) || holds_vu_secret(f->args[1], vu))
        keep_derived(vu, out->data + from, out->len - from);
    return escape_tail(out, from, s->escape);
}

void tmpl_vu_free(volley_vu *vu)
{
    for (size_t i = 0; vu && i < VU_DERIVED; i++)
        vbuf_free(&vu->derived[i].val);
}

int tmpl_render(const volley_template *t, volley_vu *vu, volley_buf *out)
{
    char num[48];
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
        case SEG_ROW:
            if (!vu->rows[s->i1]) {
                rc = escape_null(out, s->escape);
            } else {
                const pool_value *pv = &vu->rows[s->i1][s->i0];
                rc = s->escape == ESC_JSON_VALUE ? vbuf_append(out, pv->json, pv->json_len)
                     : pv->kind == POOL_STRING   ? put_text(out, pv->text, pv->len, s->escape)
                                                 : put_json(out, pv->text, pv->len, s->escape);
            }
            break;
        case SEG_SETUP:
            rc = put_capture(out, vu->setup && *vu->setup ? &(*vu->setup)[s->i0] : NULL, s->escape);
            break;
        case SEG_CAPTURE:
            rc = put_capture(out, vu->caps ? &vu->caps[s->i0] : NULL, s->escape);
            break;
        case SEG_RAND_INT: {
            uint64_t span = (uint64_t)s->i1 - (uint64_t)s->i0;
            uint64_t r = span == UINT64_MAX ? rng_next(&vu->rng) : rng_below(&vu->rng, span + 1);
            rc = vbuf_append(out, num, (size_t)snprintf(num, sizeof num, "%lld",
                                       (long long)((uint64_t)s->i0 + r)));
            break;
        }
        case SEG_RAND_FLOAT: {
            /* Written straight into out: a bound of 1e300 prints 300 digits. */
            double x = s->f0 + (s->f1 - s->f0) * rng_unit(&vu->rng);
            int n = snprintf(NULL, 0, "%.*f", s->decimals, x);
            rc = n < 0 || vbuf_reserve(out, (size_t)n) != 0 ? -1 : 0;
            if (rc == 0) {
                snprintf(out->data + out->len, (size_t)n + 1, "%.*f", s->decimals, x);
                out->len += (size_t)n;
            }
            break;
        }
        case SEG_RAND_PICK: {
            size_t k = (size_t)rng_below(&vu->rng, s->n_items);
            rc = s->escape == ESC_JSON_VALUE ? vbuf_append_str(out, s->jitems[k])
                                             : put_text(out, s->items[k], strlen(s->items[k]), s->escape);
            break;
        }
        case SEG_RAND_STRING:
            rc = put_random_string(out, &vu->rng, (size_t)s->i0, s->escape);
            break;
        case SEG_UUID:
            rc = put_uuid(out, &vu->rng, s->escape);
            break;
        case SEG_NOW_MS:
        case SEG_NOW_ISO:
            rc = put_now(out, s->kind == SEG_NOW_ISO, s->escape);
            break;
        case SEG_FN:
            rc = render_fn(s, vu, out);
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

/* A JSON number that is finite as a double. YAML (and env values) allow
 * more: 0x1F, +5, 007, .5. */
static int is_json_number(const char *s, size_t len)
{
    if (!json_number_text(s, len))
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
            /* A function's result is text, even when it reads as a number. */
            int call = memchr(n->str, '(', n->len) != NULL;
            int numeric = !runtime && !call && one.lit.len > 0 &&
                          is_json_number(one.lit.data, one.lit.len);
            free(one.segs);
            vbuf_free(&one.lit);
            if (runtime || numeric)
                return compile_into(l, a, n->str, n->len, ESC_JSON_VALUE, scope, err, sizeof err) == 0
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
