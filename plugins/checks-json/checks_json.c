/*
 * checks-json: the `json` check key, conditions on one value of a JSON body.
 *
 *   json: { path: data.items[0].amount, gt: 100, lt: 10000 }
 *
 * Paths are compiled once into segments: `a.b[2].c`, `[0].id`, `items[-1]`
 * (from the end), `a["x.y"]` or `a['x.y']` (quoted keys, with \" \' \\
 * escapes), and `` or `$` for the root; a leading `$.` is ignored.
 *
 * The body is parsed at most once per response: the first json check stores
 * the tree (or the parse error) in the response's memo and later checks of
 * the same response reuse it. eval() reads only the compiled condition, the
 * response and that memo, and jansson is only asked to parse new trees, read
 * them and free them, so conditions are shared by all loop threads.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_msg.h"
#include "volley/plugin.h"

/* Bytes of a string shown in a failure message before it is cut. */
/* Largest |index| a path may hold; no JSON array is near this long. */
#define INDEX_MAX 1000000000000LL

/* Memo keys: only their addresses matter. */
static const char memo_doc_key;   /* value: json_t *, the parsed body        */
static const char memo_err_key;   /* value: char *, why the body is not JSON */

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

enum {
    OPT_PATH, OPT_EXISTS, OPT_EQUALS, OPT_NOT_EQUALS, OPT_GT, OPT_GTE, OPT_LT, OPT_LTE,
    OPT_LENGTH, OPT_CONTAINS
};

struct json_cfg {
    uint64_t set;
    const char *path;
    bool exists;
    volley_value equals;
    volley_value not_equals;
    double gt, gte, lt, lte;
    int64_t length;
    volley_value contains;
};

#define OPT(id, n, t, field, h) \
    [id] = {.name = n, .type = t, .offset = offsetof(struct json_cfg, field), .help = h}

static const volley_option json_options[] = {
    [OPT_PATH] = {.name = "path", .type = VOLLEY_OPT_STRING, .flags = VOLLEY_OPT_REQUIRED,
                  .offset = offsetof(struct json_cfg, path),
                  .help = "where the value is: a.b[0].c, items[-1], a[\"x.y\"], $ for the root"},
    OPT(OPT_EXISTS, "exists", VOLLEY_OPT_BOOL, exists, "true: the value is there; false: it is not"),
    OPT(OPT_EQUALS, "equals", VOLLEY_OPT_VALUE, equals,
        "the value equals this (type-aware; may be ${capture}, ${row.x}, ${vu.id})"),
    OPT(OPT_NOT_EQUALS, "not_equals", VOLLEY_OPT_VALUE, not_equals, "the value differs from this"),
    OPT(OPT_GT, "gt", VOLLEY_OPT_DOUBLE, gt, "the value is a number greater than this"),
    OPT(OPT_GTE, "gte", VOLLEY_OPT_DOUBLE, gte, "the value is a number at least this"),
    OPT(OPT_LT, "lt", VOLLEY_OPT_DOUBLE, lt, "the value is a number less than this"),
    OPT(OPT_LTE, "lte", VOLLEY_OPT_DOUBLE, lte, "the value is a number at most this"),
    [OPT_LENGTH] = {.name = "length", .type = VOLLEY_OPT_INT,
                    .offset = offsetof(struct json_cfg, length), .min = 0, .max = 1e15,
                    .help = "items of an array, keys of an object or characters of a string"},
    OPT(OPT_CONTAINS, "contains", VOLLEY_OPT_VALUE, contains,
        "a string value contains this text, or an array holds this string"),
};

static const volley_option_map json_map = {
    .options = json_options, .count = VOLLEY_COUNTOF(json_options),
    .config_size = sizeof(struct json_cfg), .shorthand = NULL};

/* ------------------------------------------------------------------------ */
/* Compiled condition                                                        */
/* ------------------------------------------------------------------------ */

struct seg {
    char *key;          /* object member, or NULL for an array index */
    long long index;    /* negative: counted from the end            */
    size_t end;         /* offset in the path text just after it     */
};

/* An expected value: copied at compile time when known then, else the
 * run-time template (core-owned, lives for the run), rendered per response
 * by host->value_get. */
struct expect {
    volley_scalar now;      /* .s owned when a string */
    size_t len;
    volley_value later;     /* later.later != NULL: a run-time value */
};

struct json_cond {
    const volley_host *host;
    bool can_memo;          /* the host table has memo_get/memo_put */
    char *path;             /* as written, for messages ("$" for the root) */
    size_t n_segs;
    struct seg *segs;
    uint64_t set;           /* option bits, as in the config */
    bool exists;
    struct expect equals, not_equals, contains;
    double gt, gte, lt, lte;
    int64_t length;
};

#define HAS(c, id) ((((c)->set) >> (id)) & 1u)

static void json_cond_free(void *cond)
{
    struct json_cond *c = cond;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_segs; i++)
        free(c->segs[i].key);
    free(c->segs);
    free(c->path);
    free((char *)c->equals.now.s);
    free((char *)c->not_equals.now.s);
    free((char *)c->contains.now.s);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Path compiler                                                             */
/* ------------------------------------------------------------------------ */

struct path_parser {
    const char *text;
    size_t pos;
    struct seg *segs;
    size_t n, cap;
    char *err;
    size_t errcap;
};

__attribute__((format(printf, 2, 3)))
static int path_error(struct path_parser *p, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errcap, "json.path: invalid path \"%s\": %s at character %zu",
             p->text, why, p->pos + 1);
    return -1;
}

static int push_seg(struct path_parser *p, char *key, long long index)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        struct seg *s = realloc(p->segs, cap * sizeof *s);
        if (!s) {
            free(key);
            snprintf(p->err, p->errcap, "json.path: out of memory");
            return -1;
        }
        p->segs = s;
        p->cap = cap;
    }
    p->segs[p->n++] = (struct seg){.key = key, .index = index, .end = p->pos};
    return 0;
}

/* A bare key runs to the next '.', '[' or the end. */
static int parse_key(struct path_parser *p)
{
    size_t start = p->pos;
    const char *t = p->text;
    while (t[p->pos] && t[p->pos] != '.' && t[p->pos] != '[') {
        if (t[p->pos] == ']')
            return path_error(p, "unexpected ']'");
        p->pos++;
    }
    if (p->pos == start)
        return path_error(p, "empty key");
    char *key = strndup(t + start, p->pos - start);
    if (!key) {
        snprintf(p->err, p->errcap, "json.path: out of memory");
        return -1;
    }
    return push_seg(p, key, 0);
}

/* After '[': a quoted key `"..."` / `'...'` or an integer index, then ']'. */
static int parse_bracket(struct path_parser *p)
{
    const char *t = p->text;
    char q = t[p->pos];
    if (q == '"' || q == '\'') {
        size_t len = 0;
        char *key = malloc(strlen(t + p->pos) + 1);
        if (!key) {
            snprintf(p->err, p->errcap, "json.path: out of memory");
            return -1;
        }
        p->pos++;
        while (t[p->pos] && t[p->pos] != q) {
            if (t[p->pos] == '\\' && t[p->pos + 1])
                p->pos++;
            key[len++] = t[p->pos++];
        }
        key[len] = '\0';
        if (t[p->pos] != q) {
            free(key);
            return path_error(p, "unterminated quoted key");
        }
        p->pos++;
        if (t[p->pos] != ']') {
            free(key);
            return path_error(p, "expected ']' after the quoted key");
        }
        p->pos++;
        return push_seg(p, key, 0);
    }
    bool neg = t[p->pos] == '-';
    if (neg)
        p->pos++;
    if (t[p->pos] < '0' || t[p->pos] > '9')
        return path_error(p, "expected an array index or a quoted key in [ ]");
    long long v = 0;
    while (t[p->pos] >= '0' && t[p->pos] <= '9') {
        v = v * 10 + (t[p->pos] - '0');
        if (v > INDEX_MAX)
            return path_error(p, "array index too large");
        p->pos++;
    }
    if (t[p->pos] != ']')
        return path_error(p, "expected ']' after the array index");
    if (neg && v == 0)
        return path_error(p, "-0 is not an index (use -1 for the last item)");
    p->pos++;
    return push_seg(p, NULL, neg ? -v : v);
}

static int compile_path(struct json_cond *c, const char *text, char *err, size_t errcap)
{
    struct path_parser p = {.text = text, .err = err, .errcap = errcap};
    if (text[0] == '$' && (text[1] == '\0' || text[1] == '.' || text[1] == '['))
        p.pos = text[1] == '.' ? 2 : 1;
    bool first = true;
    if (text[p.pos] == '\0' && p.pos == 2)
        goto bad_dollar;
    while (text[p.pos]) {
        int rc;
        if (text[p.pos] == '[') {
            p.pos++;
            rc = parse_bracket(&p);
        } else if (first) {
            rc = parse_key(&p);
        } else if (text[p.pos] == '.') {
            p.pos++;
            rc = parse_key(&p);
        } else {
            rc = path_error(&p, "expected '.' or '['");
        }
        if (rc != 0)
            goto fail;
        first = false;
    }
    c->segs = p.segs;
    c->n_segs = p.n;
    c->path = strdup(text[0] ? text : "$");
    if (!c->path) {
        snprintf(err, errcap, "json.path: out of memory");
        return -1;
    }
    return 0;
bad_dollar:
    path_error(&p, "empty key");
fail:
    for (size_t i = 0; i < p.n; i++)
        free(p.segs[i].key);
    free(p.segs);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* compile                                                                   */
/* ------------------------------------------------------------------------ */

/* A load-time value is copied (its text too: `contains` reads the text of
 * any scalar); a run-time one is kept as the core's template. */
static int copy_expect(const volley_host *host, struct expect *e, const volley_value *v, char *err,
                       size_t errcap)
{
    memset(e, 0, sizeof *e);
    if (v->later) {
        if (!VOLLEY_HAS(host, value_get) || !host->value_get) {
            snprintf(err, errcap, "json: %s needs a value known only at run time, which this volley "
                     "cannot render in checks", v->text);
            return -1;
        }
        e->later = *v;
        return 0;
    }
    e->now = v->now;
    if (!v->now.s)
        return 0;
    e->len = strlen(v->now.s);
    e->now.s = strdup(v->now.s);
    if (!e->now.s) {
        snprintf(err, errcap, "json: out of memory");
        return -1;
    }
    return 0;
}

static void *json_cond_compile(const volley_host *host, const void *config, char *err,
                               size_t errcap)
{
    const struct json_cfg *cfg = config;
    uint64_t tests = cfg->set & ~((uint64_t)1 << OPT_PATH) & ~((uint64_t)1 << OPT_EXISTS);
    if (!VOLLEY_OPT_IS_SET(cfg, OPT_PATH) || !cfg->path) {
        snprintf(err, errcap, "json: \"path\" is required");
        return NULL;
    }
    if (VOLLEY_OPT_IS_SET(cfg, OPT_EXISTS) && !cfg->exists && tests) {
        snprintf(err, errcap, "json: \"exists: false\" cannot be combined with other conditions");
        return NULL;
    }
    struct json_cond *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->host = host;
    c->can_memo = host && host->size >= offsetof(volley_host, memo_put) + sizeof host->memo_put &&
                  host->memo_get && host->memo_put;
    if (compile_path(c, cfg->path, err, errcap) != 0)
        goto fail;
    c->set = cfg->set;
    /* Only `path`: the check means exists: true. */
    c->exists = VOLLEY_OPT_IS_SET(cfg, OPT_EXISTS) ? cfg->exists : true;
    c->gt = cfg->gt;
    c->gte = cfg->gte;
    c->lt = cfg->lt;
    c->lte = cfg->lte;
    c->length = cfg->length;
    if ((HAS(c, OPT_EQUALS) && copy_expect(host, &c->equals, &cfg->equals, err, errcap) != 0) ||
        (HAS(c, OPT_NOT_EQUALS) && copy_expect(host, &c->not_equals, &cfg->not_equals, err, errcap) != 0) ||
        (HAS(c, OPT_CONTAINS) && copy_expect(host, &c->contains, &cfg->contains, err, errcap) != 0))
        goto fail;
    return c;
oom:
    snprintf(err, errcap, "json: out of memory");
fail:
    json_cond_free(c);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

/* A double in its shortest usual form: 15 digits when they read back the
 * same, else 17. */
static void put_double(struct out *o, double d)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sizeof buf, "%.17g", d);
    put(o, "%s", buf);
}

/* A short description of a JSON value: scalars in full, containers by size. */
static void put_value(struct out *o, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put(o, "object with %zu key%s", json_object_size(v), json_object_size(v) == 1 ? "" : "s");
        break;
    case JSON_ARRAY:
        put(o, "array of %zu item%s", json_array_size(v), json_array_size(v) == 1 ? "" : "s");
        break;
    case JSON_STRING:
        put_quoted(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        put(o, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        put_double(o, json_real_value(v));
        break;
    case JSON_TRUE:
        put(o, "true");
        break;
    case JSON_FALSE:
        put(o, "false");
        break;
    case JSON_NULL:
        put(o, "null");
        break;
    }
}

static void put_scalar(struct out *o, const volley_scalar *s, size_t len)
{
    switch (s->type) {
    case VOLLEY_SCALAR_NULL: put(o, "null"); break;
    case VOLLEY_SCALAR_BOOL: put(o, s->b ? "true" : "false"); break;
    case VOLLEY_SCALAR_INT: put(o, "%lld", (long long)s->i); break;
    case VOLLEY_SCALAR_DOUBLE: put_double(o, s->d); break;
    case VOLLEY_SCALAR_STRING: put_quoted(o, s->s, len); break;
    }
}

/* Starts "path: value (expected " -- the caller adds the rest and ')'. */
static void put_head(struct out *o, const struct json_cond *c, const json_t *v)
{
    put(o, "%s: ", c->path);
    put_value(o, v);
    put(o, " (expected ");
}

/* ------------------------------------------------------------------------ */
/* Value tests                                                               */
/* ------------------------------------------------------------------------ */

static long double num(const json_t *v)
{
    return json_is_integer(v) ? (long double)json_integer_value(v) : (long double)json_real_value(v);
}

/* Type-aware equality: numbers compare by value whatever their kind, but a
 * string never equals a number, a boolean or null. */
static bool scalar_eq(const volley_scalar *s, size_t len, const json_t *v)
{
    switch (s->type) {
    case VOLLEY_SCALAR_NULL:
        return json_is_null(v);
    case VOLLEY_SCALAR_BOOL:
        return json_is_boolean(v) && json_is_true(v) == s->b;
    case VOLLEY_SCALAR_INT:
        if (json_is_integer(v))
            return json_integer_value(v) == s->i;
        return json_is_real(v) && num(v) == (long double)s->i;
    case VOLLEY_SCALAR_DOUBLE:
        return json_is_number(v) && num(v) == (long double)s->d;
    case VOLLEY_SCALAR_STRING:
        return json_is_string(v) && json_string_length(v) == len &&
               memcmp(json_string_value(v), s->s, len) == 0;
    }
    return false;
}

/* Characters (UTF-8 code points) of a JSON string. */
static size_t utf8_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xc0) != 0x80;
    return count;
}

static bool value_contains(const char *text, size_t len, const json_t *v)
{
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        return len == 0 || (n >= len && memmem(json_string_value(v), n, text, len) != NULL);
    }
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        if (json_is_string(item) && json_string_length(item) == len &&
            memcmp(json_string_value(item), text, len) == 0)
            return true;
    }
    return false;
}

/* The expected value for this response. A run-time one is rendered now
 * (host->value_get); when it cannot be, false with the reason in o. */
static bool expected(const struct json_cond *c, const struct expect *e, volley_memo *memo,
                     volley_scalar *out, size_t *len, struct out *o)
{
    if (!e->later.later) {
        *out = e->now;
        *len = e->len;
        return true;
    }
    char err[200] = "";
    if (c->host->value_get(&e->later, memo, out, err, sizeof err) != 0) {
        put(o, "%s: %s", c->path, err);
        return false;
    }
    *len = out->s ? strlen(out->s) : 0;
    return true;
}

/* After an expected value in a message: where a run-time one came from. */
static void put_from(struct out *o, const struct expect *e)
{
    if (e->later.later)
        put(o, " from %s", e->later.text);
}

static bool compare_ok(const struct json_cond *c, const json_t *v, struct out *o)
{
    static const struct {
        int opt;
        const char *op;
    } cmp[] = {{OPT_GT, ">"}, {OPT_GTE, ">="}, {OPT_LT, "<"}, {OPT_LTE, "<="}};
    for (size_t i = 0; i < VOLLEY_COUNTOF(cmp); i++) {
        if (!HAS(c, cmp[i].opt))
            continue;
        double limit = cmp[i].opt == OPT_GT ? c->gt : cmp[i].opt == OPT_GTE ? c->gte
                     : cmp[i].opt == OPT_LT ? c->lt : c->lte;
        bool ok = false;
        if (json_is_number(v)) {
            long double x = num(v), y = limit;
            ok = cmp[i].opt == OPT_GT ? x > y : cmp[i].opt == OPT_GTE ? x >= y
               : cmp[i].opt == OPT_LT ? x < y : x <= y;
        }
        if (!ok) {
            put_head(o, c, v);
            put(o, "%s%s ", json_is_number(v) ? "" : "a number ", cmp[i].op);
            put_double(o, limit);
            put(o, ")");
            return false;
        }
    }
    return true;
}

/* Every condition other than exists, on a value that is there. */
static bool value_ok(const struct json_cond *c, const json_t *v, volley_memo *memo, struct out *o)
{
    volley_scalar want;
    size_t len;
    if (HAS(c, OPT_EQUALS)) {
        if (!expected(c, &c->equals, memo, &want, &len, o))
            return false;
        if (!scalar_eq(&want, len, v)) {
            put_head(o, c, v);
            put_scalar(o, &want, len);
            put_from(o, &c->equals);
            put(o, ")");
            return false;
        }
    }
    if (HAS(c, OPT_NOT_EQUALS)) {
        if (!expected(c, &c->not_equals, memo, &want, &len, o))
            return false;
        if (scalar_eq(&want, len, v)) {
            put_head(o, c, v);
            put(o, "anything but ");
            put_scalar(o, &want, len);
            put_from(o, &c->not_equals);
            put(o, ")");
            return false;
        }
    }
    if (!compare_ok(c, v, o))
        return false;
    if (HAS(c, OPT_LENGTH)) {
        bool sized = json_is_array(v) || json_is_object(v) || json_is_string(v);
        size_t n = json_is_array(v)    ? json_array_size(v)
                   : json_is_object(v) ? json_object_size(v)
                   : json_is_string(v) ? utf8_length(json_string_value(v), json_string_length(v))
                                       : 0;
        if (!sized || n != (uint64_t)c->length) {
            put(o, "%s: ", c->path);
            if (sized)
                put(o, "length %zu (expected %lld)", n, (long long)c->length);
            else {
                put_value(o, v);
                put(o, " (expected an array, object or string of length %lld)",
                    (long long)c->length);
            }
            return false;
        }
    }
    if (HAS(c, OPT_CONTAINS)) {
        if (!expected(c, &c->contains, memo, &want, &len, o))
            return false;
        const char *text = want.s ? want.s : "";
        if (!((json_is_string(v) || json_is_array(v)) && value_contains(text, len, v))) {
            put_head(o, c, v);
            put(o, "%s containing ", json_is_array(v) ? "an array" : "a string");
            put_quoted(o, text, len);
            put_from(o, &c->contains);
            put(o, ")");
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Body and path lookup                                                      */
/* ------------------------------------------------------------------------ */

static void decref(void *v) { json_decref(v); }

/*
 * The parsed body of this response, from the memo or parsed now and stored
 * there. NULL when the body is not JSON, with *why set (pointing into the
 * memo or into whybuf). *owned is set when the memo could not keep the tree,
 * and the caller must json_decref it.
 */
static json_t *body_json(const struct json_cond *c, const volley_response *resp,
                         volley_memo *memo, const char **why, char *whybuf, size_t whycap,
                         bool *owned)
{
    bool use_memo = memo && c->can_memo;
    *owned = false;
    if (use_memo) {
        json_t *doc = c->host->memo_get(memo, &memo_doc_key);
        if (doc)
            return doc;
        if ((*why = c->host->memo_get(memo, &memo_err_key)))
            return NULL;
    }
    size_t n = resp->body ? resp->body_len : 0;
    json_error_t jerr;
    json_t *doc = json_loadb(n ? resp->body : "", n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (doc) {
        if (!use_memo || c->host->memo_put(memo, &memo_doc_key, doc, decref) != 0)
            *owned = true;
        return doc;
    }
    snprintf(whybuf, whycap, "%s", n ? jerr.text : "empty body");
    *why = whybuf;
    if (use_memo) {
        char *copy = strdup(whybuf);
        if (copy && c->host->memo_put(memo, &memo_err_key, copy, free) != 0)
            free(copy);
    }
    return NULL;
}

/* The value at the path, or NULL with the reason it is missing in o. */
static const json_t *lookup(const struct json_cond *c, const json_t *root, struct out *o)
{
    const json_t *v = root;
    for (size_t i = 0; i < c->n_segs; i++) {
        const struct seg *s = &c->segs[i];
        const json_t *next = NULL;
        const char *want = NULL;
        if (s->key) {
            if (json_is_object(v))
                next = json_object_get(v, s->key);
            else
                want = "an object";
        } else if (json_is_array(v)) {
            long long size = (long long)json_array_size(v);
            long long at = s->index < 0 ? size + s->index : s->index;
            if (at >= 0 && at < size)
                next = json_array_get(v, (size_t)at);
        } else {
            want = "an array";
        }
        if (!next) {
            put(o, "%s: missing", c->path);
            if (want || !s->key) {
                put(o, " (");
                if (i == 0)
                    put(o, "$");
                else
                    put(o, "%.*s", (int)c->segs[i - 1].end, c->path);
                put(o, " is ");
                put_value(o, v);
                put(o, "%s%s)", want ? ", not " : "", want ? want : "");
            }
            return NULL;
        }
        v = next;
    }
    return v;
}

static bool json_cond_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                           char *msg, size_t msgcap)
{
    const struct json_cond *c = cond;
    char whybuf[JSON_ERROR_TEXT_LENGTH + 16];
    const char *why = NULL;
    bool owned;
    struct out o = {.s = msg, .cap = msgcap, .host = c->host};
    if (msgcap)
        msg[0] = '\0';
    json_t *doc = body_json(c, resp, memo, &why, whybuf, sizeof whybuf, &owned);
    if (!doc) {
        put(&o, "body is not JSON: %s", why);
        return false;
    }
    /* A missing value writes its reason; exists: false discards it. */
    const json_t *v = lookup(c, doc, &o);
    bool ok;
    if (!v) {
        ok = !c->exists;
        if (ok && msgcap)
            msg[0] = '\0';
    } else if (!c->exists) {
        put(&o, "%s: ", c->path);
        put_value(&o, v);
        put(&o, " (expected no value)");
        ok = false;
    } else {
        ok = value_ok(c, v, memo, &o);
    }
    if (owned)
        json_decref(doc);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Descriptor                                                                */
/* ------------------------------------------------------------------------ */

static const volley_check_key keys[] = {
    {.key = "json", .options = &json_map, .compile = json_cond_compile,
     .free = json_cond_free, .eval = json_cond_eval},
};

static const uint32_t key_reads[VOLLEY_COUNTOF(keys)] = {VOLLEY_READS_BODY};

static const volley_check_ops ops = {.size = sizeof(volley_check_ops),
                                     .n_keys = VOLLEY_COUNTOF(keys),
                                     .keys = keys,
                                     .reads = key_reads};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_CHECK, .name = "checks-json", .version = "0.1.0",
                     .description = "json: conditions on a value of a JSON body",
                     .check = &ops)
