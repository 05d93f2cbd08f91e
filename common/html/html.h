/*
 * common/html: HTML extraction for the `html:`/`xpath:` capture sources (core,
 * capture.c) and the `html` check key (plugins/checks-html). A static
 * library compiled into both, so neither calls the other; it depends on
 * libxml2 and the SDK header (for the opaque volley_memo) only.
 *
 *   html_css.c    CSS selector -> XPath 1.0 text (pure: no libxml2)
 *   html_query.c  libxml2: parsing a body once per response (through the
 *                 response's memo), evaluating a selection on it
 *
 * A selection is compiled at load time on the main thread (html_sel_init),
 * then evaluated on any loop thread: it holds only text, so loop threads
 * share it without locks (libxml2's compiled XPath caches function
 * lookups inside itself as it runs, so it is not shared; see
 * html_query.c).
 */
#ifndef VOLLEY_HTML_H
#define VOLLEY_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volley/plugin.h"

/* Longest selector or XPath text accepted. */
#define HTML_SEL_MAX 2048

/*
 * Translates a CSS selector (the subset in docs/spec-reference.md, "HTML
 * extraction") into an XPath 1.0 expression selecting the same elements
 * of an HTML document, in document order. A malloc'ed string, or NULL
 * with the reason (and the character where it was found) in err.
 */
char *html_css_to_xpath(const char *css, char *err, size_t errcap);

/* What a selection reads of the nodes it finds. */
typedef struct html_sel {
    char *xpath;            /* evaluated on the document                   */
    const char *shown;      /* as written, for messages (not owned)        */
    bool css;               /* html: (k6's Selection) rather than xpath:   */
    const char *attr;       /* the attribute of the node read, or NULL     */
    bool has_index;         /* read only the match at index (k6's .eq())   */
    int64_t index;          /*   negative: from the end                    */
} html_sel;

/*
 * Main thread, load time. Exactly one of css and xpath; attr (owned by the
 * caller, kept by pointer) and index optional. Checks the XPath compiles.
 * 0, or -1 with err.
 */
int html_sel_init(html_sel *s, const char *css, const char *xpath, const char *attr,
                  bool has_index, int64_t index, char *err, size_t errcap);
void html_sel_free(html_sel *s);

/* The memo functions of the caller's side (the core's own, or the host
 * table's in a plugin). */
typedef struct html_memo {
    volley_memo *memo;      /* NULL: no memo, each call parses */
    void *(*get)(volley_memo *m, const void *key);
    int (*put)(volley_memo *m, const void *key, void *value, void (*free_fn)(void *));
} html_memo;

/*
 * The parsed document of a response body (an htmlDocPtr): from the memo,
 * or parsed now (lenient: broken markup is repaired as browsers do; no
 * network, no external entities) and left in the memo for the other
 * captures and checks of the same response. *owned when the memo could
 * not keep it: the caller frees it with html_doc_free. NULL only when out
 * of memory.
 */
void *html_doc_get(const html_memo *m, const char *body, size_t len, bool *owned);
void html_doc_free(void *doc);

/* The result of a selection on one document. */
typedef struct html_result {
    size_t count;           /* nodes selected (1 for an XPath giving a
                               string, number or boolean)                  */
    bool found;             /* there is a value: a match, and with attr the
                               node read has the attribute                 */
    char *value;            /* malloc'ed, NUL-terminated; NULL unless found */
    size_t len;
} html_result;

/*
 * Evaluates s on doc. The value: with attr, that attribute of the node
 * read; else its text (all text inside it). The node read is the match at
 * index when one is given; else, for css, every match (their texts joined,
 * as k6's .text(); attr reads the first, as k6's .attr()), and for xpath
 * the first (XPath's string()). 0, or -1 with err (out of memory, an XPath
 * that fails on this document). The caller frees r->value.
 */
int html_select(const html_sel *s, void *doc, html_result *r, char *err, size_t errcap);

#endif
