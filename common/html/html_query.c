/*
 * libxml2's side of common/html: a response body parsed once, a selection
 * evaluated on it.
 *
 * Parsing is lenient (HTML_PARSE_RECOVER: broken markup is repaired, as
 * browsers and k6's parser do), silent (no error text on stderr) and
 * local (HTML_PARSE_NONET; the HTML parser loads no DTD or external
 * entity). The encoding is what the document says (a BOM, <meta
 * charset>), else UTF-8, falling back to Latin-1 for bytes that are not.
 *
 * One parse per response for every html capture and check of a step: the
 * document goes into the response's memo (volley_memo, which the core
 * keeps across a step's checks and captures) under a key both copies of
 * this library agree on without sharing a symbol: the address of
 * libxml2's xmlFreeDoc, which is one function in the process (the core and
 * the plugin link the same libxml2.so), whoever stored the document.
 *
 * The XPath text is compiled again for each evaluation rather than once:
 * libxml2 2.9 writes into a compiled expression as it runs it (the
 * function lookup cache of XPATH_OP_FUNCTION), so one compiled expression
 * shared by the loop threads would be a data race. Compiling a selector's
 * XPath costs a few microseconds, against the parse's hundreds.
 */
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"

#define PARSE_OPTS                                                                       \
    (HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | \
     HTML_PARSE_COMPACT)

#define MEMO_KEY ((const void *)(uintptr_t)xmlFreeDoc)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libxml2 sets up its global state on the first call; before threads use
 * it, it must have been called once. */
static void init_libxml(void) { xmlInitParser(); }

struct errbuf {
    char *s;
    size_t cap;
};

/* An XPath error's message, into the caller's buffer (the first one).
 * Installed as the thread's structured error handler (libxml2 keeps it
 * per thread) around a compile or an evaluation: the context's own error
 * callback gets no message text in libxml2 2.9. */
static void collect(void *ctx, xmlErrorPtr e)
{
    struct errbuf *b = ctx;
    if (!b || !b->cap || b->s[0] || !e || !e->message)
        return;
    snprintf(b->s, b->cap, "%s", e->message);
    size_t n = strlen(b->s);
    while (n && (b->s[n - 1] == '\n' || b->s[n - 1] == ' '))
        b->s[--n] = '\0';
}

static void quiet(void *ctx, xmlErrorPtr e)
{
    (void)ctx, (void)e;
}

int html_sel_init(html_sel *s, const char *css, const char *xpath, const char *attr,
                  bool has_index, int64_t index, char *err, size_t errcap)
{
    memset(s, 0, sizeof *s);
    pthread_once(&init_once, init_libxml);
    if (!css == !xpath) {
        snprintf(err, errcap, "give either a CSS selector or an XPath");
        return -1;
    }
    if (css) {
        s->xpath = html_css_to_xpath(css, err, errcap);
        s->css = true;
    } else if (!*xpath || strlen(xpath) > HTML_SEL_MAX) {
        snprintf(err, errcap, "XPath empty or longer than %d characters", HTML_SEL_MAX);
        return -1;
    } else if (!(s->xpath = strdup(xpath))) {
        snprintf(err, errcap, "out of memory");
    }
    if (!s->xpath)
        return -1;
    s->shown = css ? css : xpath;
    s->attr = attr;
    s->has_index = has_index;
    s->index = index;
    if (attr && !*attr) {
        snprintf(err, errcap, "attr: expected an attribute name, got an empty string");
        goto fail;
    }
    char why[200] = "";
    struct errbuf eb = {why, sizeof why};
    xmlXPathContextPtr ctx = xmlXPathNewContext(NULL);
    if (!ctx) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    xmlSetStructuredErrorFunc(&eb, collect);
    xmlXPathCompExprPtr comp = xmlXPathCtxtCompile(ctx, (const xmlChar *)s->xpath);
    xmlSetStructuredErrorFunc(NULL, NULL);
    xmlXPathFreeContext(ctx);
    if (!comp) {
        if (css)
            snprintf(err, errcap, "selector \"%s\" gave an XPath libxml2 refuses (%s): %s", css,
                     why[0] ? why : "?", s->xpath);
        else
            snprintf(err, errcap, "invalid XPath \"%s\": %s", xpath, why[0] ? why : "refused");
        goto fail;
    }
    xmlXPathFreeCompExpr(comp);
    return 0;
fail:
    html_sel_free(s);
    return -1;
}

void html_sel_free(html_sel *s)
{
    if (!s)
        return;
    free(s->xpath);
    s->xpath = NULL;
}

void html_doc_free(void *doc) { xmlFreeDoc(doc); }

void *html_doc_get(const html_memo *m, const char *body, size_t len, bool *owned)
{
    *owned = false;
    bool memo = m && m->memo && m->get && m->put;
    if (memo) {
        void *doc = m->get(m->memo, MEMO_KEY);
        if (doc)
            return doc;
    }
    pthread_once(&init_once, init_libxml);
    int n = len > INT_MAX ? INT_MAX : (int)len;
    /* HTML_PARSE_NOERROR leaves out the parser's errors, not the encoding
     * converter's ("input conversion failed"): the thread's structured
     * handler takes those (libxml2 keeps it per thread). */
    xmlSetStructuredErrorFunc(NULL, quiet);
    htmlDocPtr doc = n ? htmlReadMemory(body, n, NULL, NULL, PARSE_OPTS) : NULL;
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (!doc)   /* an empty body (or one libxml2 gives up on): no element */
        doc = htmlNewDocNoDtD(NULL, NULL);
    if (!doc)
        return NULL;
    if (!memo || m->put(m->memo, MEMO_KEY, doc, html_doc_free) != 0)
        *owned = true;
    return doc;
}

/* ---- results ---- */

static int add(html_result *r, size_t *cap, const char *s, size_t n)
{
    if (r->len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < r->len + n + 1)
            c *= 2;
        char *d = realloc(r->value, c);
        if (!d)
            return -1;
        r->value = d;
        *cap = c;
    }
    memcpy(r->value + r->len, s, n);
    r->len += n;
    r->value[r->len] = '\0';
    return 0;
}

/* The attribute of an element, its name compared as HTML does (without
 * case); NULL when it has none. */
static xmlChar *attribute(xmlNodePtr node, const char *name)
{
    if (!node || node->type != XML_ELEMENT_NODE)
        return NULL;
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (a->name && strcasecmp((const char *)a->name, name) == 0) {
            xmlChar *v = xmlNodeListGetString(node->doc, a->children, 1);
            return v ? v : xmlStrdup((const xmlChar *)"");
        }
    }
    return NULL;
}

static int read_nodes(const html_sel *s, xmlNodeSetPtr ns, html_result *r)
{
    size_t n = ns ? (size_t)ns->nodeNr : 0, from = 0, to = n, cap = 0;
    r->count = n;
    if (!n)
        return 0;
    if (s->has_index) {
        int64_t i = s->index < 0 ? (int64_t)n + s->index : s->index;
        if (i < 0 || (uint64_t)i >= n)
            return 0;
        from = (size_t)i;
        to = from + 1;
    } else if (!s->css || s->attr) {
        to = 1;
    }
    if (s->attr) {
        xmlChar *v = attribute(ns->nodeTab[from], s->attr);
        if (!v)
            return 0;
        int rc = add(r, &cap, (const char *)v, strlen((const char *)v));
        xmlFree(v);
        r->found = rc == 0;
        return rc;
    }
    if (add(r, &cap, "", 0) != 0)
        return -1;
    for (size_t i = from; i < to; i++) {
        xmlChar *t = xmlXPathCastNodeToString(ns->nodeTab[i]);
        int rc = t ? add(r, &cap, (const char *)t, strlen((const char *)t)) : -1;
        xmlFree(t);
        if (rc != 0)
            return -1;
    }
    r->found = true;
    return 0;
}

int html_select(const html_sel *s, void *doc, html_result *r, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    if (errcap)
        err[0] = '\0';
    struct errbuf eb = {err, errcap};
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (!ctx) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    xmlSetStructuredErrorFunc(&eb, collect);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)s->xpath, ctx);
    xmlSetStructuredErrorFunc(NULL, NULL);
    int rc = 0;
    if (!o) {
        if (errcap && !err[0])
            snprintf(err, errcap, "XPath evaluation failed");
        rc = -1;
    } else if (o->type == XPATH_NODESET) {
        rc = read_nodes(s, o->nodesetval, r);
        if (rc != 0)
            snprintf(err, errcap, "out of memory");
    } else if (s->attr || s->has_index) {
        snprintf(err, errcap, "%s gives a %s, not nodes: attr and index read nodes", s->shown,
                 o->type == XPATH_STRING ? "string" : o->type == XPATH_NUMBER ? "number"
                 : o->type == XPATH_BOOLEAN ? "boolean" : "value");
        rc = -1;
    } else {
        xmlChar *v = xmlXPathCastToString(o);
        size_t cap = 0;
        r->count = 1;
        rc = v ? add(r, &cap, (const char *)v, strlen((const char *)v)) : -1;
        r->found = rc == 0;
        xmlFree(v);
        if (rc != 0)
            snprintf(err, errcap, "out of memory");
    }
    if (rc != 0) {
        free(r->value);
        r->value = NULL;
        r->found = false;
    }
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return rc;
}
