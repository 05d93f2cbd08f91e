/* libFuzzer: common/html. The input's first line is a CSS selector, the
 * rest an HTML body. Every selector the translator accepts must give an
 * XPath libxml2 compiles (abort otherwise), and evaluating it on any body
 * must neither crash nor leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t sl = nl ? (size_t)(nl - data) : size;
    if (sl > HTML_SEL_MAX)
        return 0;
    char css[HTML_SEL_MAX + 1];
    memcpy(css, data, sl);
    css[sl] = '\0';
    if (strlen(css) != sl)
        return 0;   /* a NUL inside: not a selector a spec can hold */
    char err[400];
    char *x = html_css_to_xpath(css, err, sizeof err);
    if (!x)
        return 0;
    free(x);
    html_sel s;
    if (html_sel_init(&s, css, NULL, NULL, false, 0, err, sizeof err) != 0) {
        fprintf(stderr, "translated selector refused: %s\n", err);
        abort();
    }
    const char *body = nl ? (const char *)nl + 1 : "";
    size_t blen = nl ? size - sl - 1 : 0;
    bool owned;
    void *doc = html_doc_get(NULL, body, blen, &owned);
    if (doc) {
        html_result r;
        if (html_select(&s, doc, &r, err, sizeof err) == 0)
            free(r.value);
        s.css = false;   /* the first match's string, as xpath: reads it */
        if (html_select(&s, doc, &r, err, sizeof err) == 0)
            free(r.value);
        html_doc_free(doc);
    }
    html_sel_free(&s);
    return 0;
}
