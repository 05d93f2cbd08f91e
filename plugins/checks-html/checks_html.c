/*
 * checks-html: the `html` check key, conditions on what a CSS selector or
 * an XPath finds in an HTML body (k6's res.html().find(sel)).
 *
 *   html: { select: "h1", equals: "Checkout complete" }
 *   html: { select: "input[name=csrf]", attr: value, exists: true }
 *   html: { select: "ul.items > li", count: 3 }
 *   html: { xpath: "//title", contains: "Welcome" }
 *   html: "#logout"                      shorthand: { select: "#logout" }
 *
 * The selection and its value come from common/html (shared with the core's
 * html capture source): the text of every match joined for select (k6's
 * .text()), the first match for xpath and for attr (k6's .attr()), only
 * the match at index when one is given (k6's .eq(); -1 the last).
 *
 * The body is parsed once per response: common/html keeps the document in
 * the response's memo, where the step's other html checks and its html
 * captures find it. compile() runs on the main thread; eval() reads the
 * condition, the response and the memo only, on any loop thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_msg.h"
#include "html.h"
#include "volley/plugin.h"

/* Bytes of a value shown in a failure message before it is cut. */

enum {
    OPT_SELECT, OPT_XPATH, OPT_ATTR, OPT_INDEX, OPT_EXISTS, OPT_COUNT, OPT_EQUALS,
    OPT_NOT_EQUALS, OPT_CONTAINS, OPT_NOT_CONTAINS
};

struct html_cfg {
    uint64_t set;
    const char *select;
    const char *xpath;
    const char *attr;
    int64_t index;
    bool exists;
    int64_t count;
    volley_value equals, not_equals, contains, not_contains;
};

#define OPT(id, n, t, field, h) \
    [id] = {.name = n, .type = t, .offset = offsetof(struct html_cfg, field), .help = h}

static const volley_option html_options[] = {
    OPT(OPT_SELECT, "select", VOLLEY_OPT_STRING, select,
        "a CSS selector: h1, #id, .class, input[name=csrf], ul > li:first-child, a, b"),
    OPT(OPT_XPATH, "xpath", VOLLEY_OPT_STRING, xpath, "an XPath 1.0 expression, instead of select"),
    OPT(OPT_ATTR, "attr", VOLLEY_OPT_STRING, attr,
        "read this attribute of the first match (or of the one at index) instead of the text"),
    [OPT_INDEX] = {.name = "index", .type = VOLLEY_OPT_INT,
                   .offset = offsetof(struct html_cfg, index), .min = -1e9, .max = 1e9,
                   .help = "read only the match at this index (0 the first, -1 the last)"},
    OPT(OPT_EXISTS, "exists", VOLLEY_OPT_BOOL, exists,
        "true: something matches (with attr: the match has it); false: nothing does"),
    [OPT_COUNT] = {.name = "count", .type = VOLLEY_OPT_INT,
                   .offset = offsetof(struct html_cfg, count), .min = 0, .max = 1e9,
                   .help = "exactly this many matches"},
    OPT(OPT_EQUALS, "equals", VOLLEY_OPT_VALUE, equals,
        "the value (text or attr) is exactly this (may be ${capture}, ${row.x})"),
    OPT(OPT_NOT_EQUALS, "not_equals", VOLLEY_OPT_VALUE, not_equals, "the value differs from this"),
    OPT(OPT_CONTAINS, "contains", VOLLEY_OPT_VALUE, contains, "the value contains this text"),
    OPT(OPT_NOT_CONTAINS, "not_contains", VOLLEY_OPT_VALUE, not_contains,
        "the value does not contain this text"),
};

static const volley_option_map html_map = {
    .options = html_options, .count = VOLLEY_COUNTOF(html_options),
    .config_size = sizeof(struct html_cfg), .shorthand = "select"};

struct html_cond {
    const volley_host *host;
    html_sel sel;
    char *attr;             /* owned copy; sel.attr points here */
    char *shown;            /* "select h1" / "xpath //title" */
    uint64_t set;
    bool exists;            /* test whether there is a value */
    bool want;              /*   and whether there should be  */
    int64_t count;
    volley_value equals, not_equals, contains, not_contains;
};

#define HAS(c, id) ((((c)->set) >> (id)) & 1u)

static void html_cond_free(void *cond)
{
    struct html_cond *c = cond;
    if (!c)
        return;
    html_sel_free(&c->sel);
    free(c->attr);
    free(c->shown);
    free(c);
}

static void *html_cond_compile(const volley_host *host, const void *config, char *err,
                               size_t errcap)
{
    const struct html_cfg *cfg = config;
    bool sel = VOLLEY_OPT_IS_SET(cfg, OPT_SELECT), xp = VOLLEY_OPT_IS_SET(cfg, OPT_XPATH);
    const uint64_t values = (1u << OPT_EQUALS) | (1u << OPT_NOT_EQUALS) | (1u << OPT_CONTAINS) |
                            (1u << OPT_NOT_CONTAINS);
    if (sel == xp) {
        snprintf(err, errcap, "html: %s", sel ? "select and xpath cannot be used together"
                                              : "\"select\" (a CSS selector) or \"xpath\" is required");
        return NULL;
    }
    if (VOLLEY_OPT_IS_SET(cfg, OPT_EXISTS) && !cfg->exists && (cfg->set & values)) {
        snprintf(err, errcap, "html: \"exists: false\" cannot be combined with a condition on "
                 "the value");
        return NULL;
    }
    const volley_value *vals[] = {&cfg->equals, &cfg->not_equals, &cfg->contains, &cfg->not_contains};
    for (size_t i = 0; i < 4; i++) {
        if (VOLLEY_OPT_IS_SET(cfg, OPT_EQUALS + i) && vals[i]->later &&
            (!VOLLEY_HAS(host, value_get) || !host->value_get)) {
            snprintf(err, errcap, "html: %s needs a value known only at run time, which this "
                     "volley cannot render in checks", vals[i]->text);
            return NULL;
        }
    }
    struct html_cond *c = calloc(1, sizeof *c);
    if (!c || (cfg->attr && !(c->attr = strdup(cfg->attr))))
        goto oom;
    char why[300];
    if (html_sel_init(&c->sel, sel ? cfg->select : NULL, xp ? cfg->xpath : NULL, c->attr,
                      VOLLEY_OPT_IS_SET(cfg, OPT_INDEX), cfg->index, why, sizeof why) != 0) {
        snprintf(err, errcap, "html.%s: %s", sel ? "select" : "xpath", why);
        html_cond_free(c);
        return NULL;
    }
    size_t n = strlen(sel ? cfg->select : cfg->xpath) + 8;
    if (!(c->shown = malloc(n)))
        goto oom;
    snprintf(c->shown, n, "%s %s", sel ? "select" : "xpath", sel ? cfg->select : cfg->xpath);
    c->host = host;
    c->set = cfg->set;
    c->count = cfg->count;
    /* Only count: no test of a value (count: 0 is nothing there). */
    c->exists = VOLLEY_OPT_IS_SET(cfg, OPT_EXISTS) || (cfg->set & values) ||
                !VOLLEY_OPT_IS_SET(cfg, OPT_COUNT);
    c->want = VOLLEY_OPT_IS_SET(cfg, OPT_EXISTS) ? cfg->exists : true;
    c->equals = cfg->equals;
    c->not_equals = cfg->not_equals;
    c->contains = cfg->contains;
    c->not_contains = cfg->not_contains;
    return c;
oom:
    snprintf(err, errcap, "html: out of memory");
    html_cond_free(c);
    return NULL;
}

/* ---- messages ---- */

/* What was read: `text "..."` or `attr value "..."`. */
static void put_value(struct out *o, const struct html_cond *c, const html_result *r)
{
    if (c->attr)
        put(o, "%s: attr %s ", c->shown, c->attr);
    else
        put(o, "%s: text ", c->shown);
    put_quoted(o, r->value, r->len);
}

/* Why there is no value. */
static void put_missing(struct out *o, const struct html_cond *c, const html_result *r)
{
    if (r->count == 0)
        put(o, "%s: no match", c->shown);
    else if (c->sel.has_index && (c->sel.index >= (int64_t)r->count ||
                                  -c->sel.index > (int64_t)r->count))
        put(o, "%s: %zu match%s, none at index %lld", c->shown, r->count,
            r->count == 1 ? "" : "es", (long long)c->sel.index);
    else
        put(o, "%s: the match has no attribute %s", c->shown, c->attr);
}

/* ---- evaluation ---- */

static bool expected(const struct html_cond *c, const volley_value *v, volley_memo *memo,
                     const char **text, struct out *o)
{
    volley_scalar s = v->now;
    if (v->later) {
        char err[200] = "";
        if (c->host->value_get(v, memo, &s, err, sizeof err) != 0) {
            put(o, "%s: %s", c->shown, err);
            return false;
        }
    }
    *text = s.s ? s.s : "";
    return true;
}

static bool value_ok(const struct html_cond *c, const html_result *r, volley_memo *memo,
                     struct out *o)
{
    static const struct {
        int opt;
        const char *says;
    } tests[] = {{OPT_EQUALS, ""}, {OPT_NOT_EQUALS, "anything but "},
                 {OPT_CONTAINS, "a value containing "}, {OPT_NOT_CONTAINS, "a value without "}};
    for (size_t i = 0; i < VOLLEY_COUNTOF(tests); i++) {
        int id = tests[i].opt;
        if (!HAS(c, id))
            continue;
        const volley_value *v = id == OPT_EQUALS       ? &c->equals
                                : id == OPT_NOT_EQUALS ? &c->not_equals
                                : id == OPT_CONTAINS   ? &c->contains
                                                       : &c->not_contains;
        const char *want;
        if (!expected(c, v, memo, &want, o))
            return false;
        size_t wl = strlen(want);
        bool same = r->len == wl && memcmp(r->value, want, wl) == 0;
        bool has = wl == 0 || (r->len >= wl && memmem(r->value, r->len, want, wl) != NULL);
        bool ok = id == OPT_EQUALS       ? same
                  : id == OPT_NOT_EQUALS ? !same
                  : id == OPT_CONTAINS   ? has
                                         : !has;
        if (!ok) {
            put_value(o, c, r);
            put(o, " (expected %s", tests[i].says);
            put_quoted(o, want, wl);
            if (v->later)
                put(o, " from %s", v->text);
            put(o, ")");
            return false;
        }
    }
    return true;
}

static bool html_cond_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                           char *msg, size_t msgcap)
{
    const struct html_cond *c = cond;
    struct out o = {.s = msg, .cap = msgcap, .host = c->host};
    if (msgcap)
        msg[0] = '\0';
    html_memo m = {.memo = VOLLEY_HAS(c->host, memo_put) ? memo : NULL,
                   .get = c->host->memo_get, .put = c->host->memo_put};
    bool owned;
    void *doc = html_doc_get(&m, resp->body ? resp->body : "", resp->body ? resp->body_len : 0,
                             &owned);
    if (!doc) {
        put(&o, "%s: out of memory parsing the body", c->shown);
        return false;
    }
    html_result r;
    char err[200];
    bool ok = false;
    if (html_select(&c->sel, doc, &r, err, sizeof err) != 0) {
        put(&o, "%s: %s", c->shown, err);
        goto done;
    }
    if (HAS(c, OPT_COUNT) && r.count != (uint64_t)c->count) {
        put(&o, "%s: %zu match%s (expected %lld)", c->shown, r.count, r.count == 1 ? "" : "es",
            (long long)c->count);
    } else if (c->exists && r.found != c->want) {
        if (r.found) {
            put_value(&o, c, &r);
            put(&o, " (expected none)");
        } else {
            put_missing(&o, c, &r);
        }
    } else {
        ok = !r.found || value_ok(c, &r, memo, &o);
    }
    free(r.value);
done:
    if (owned)
        html_doc_free(doc);
    return ok;
}

static const volley_check_key keys[] = {
    {.key = "html", .options = &html_map, .compile = html_cond_compile,
     .free = html_cond_free, .eval = html_cond_eval},
};

static const uint32_t key_reads[VOLLEY_COUNTOF(keys)] = {VOLLEY_READS_BODY};

static const volley_check_ops ops = {.size = sizeof(volley_check_ops),
                                     .n_keys = VOLLEY_COUNTOF(keys),
                                     .keys = keys,
                                     .reads = key_reads};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_CHECK, .name = "checks-html", .version = "0.1.0",
                     .description = "html: conditions on what a CSS selector or XPath finds "
                                    "in an HTML body",
                     .check = &ops)
