/* common/html: CSS selectors translated to XPath and evaluated by libxml2 on
 * a real document; values, errors, the memo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "html.h"
#include "memo.h"

static const char page[] =
    "<!DOCTYPE html><html lang=en><head><title>Shop | Home</title></head><body>\n"
    "<div id=main class='box  wide'>\n"
    "  <h1 data-x='a\"b'>Hello</h1>\n"
    "  <ul class=items><li>one</li><li class='sel first'>two</li><li lang=en-US>three</li>"
    "<li>four</li><li>five</li></ul>\n"
    "  <p>intro</p><p class=lead>lead text</p><span>after</span>\n"
    "  <form><input name=csrf value=tok-1><input type=checkbox name=keep checked>"
    "<INPUT NAME=Upper Value=X></form>\n"
    "  <a href='/docs/guide.pdf'>pdf</a><a href='https://x.example/'>ext</a>\n"
    "  <p id=empty></p><div class=\"q'uote\">quoted</div>\n"
    "</div><footer><p>foot</p></footer></body></html>";

static void *doc;

static int setup(void **state)
{
    (void)state;
    bool owned;
    doc = html_doc_get(NULL, page, sizeof page - 1, &owned);
    assert_true(owned);
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    html_doc_free(doc);
    return 0;
}

/* The texts of every match of css, joined by '|', into out. */
static void matches(const char *css, char *out, size_t cap)
{
    html_sel s;
    char err[300];
    int rc = html_sel_init(&s, css, NULL, NULL, false, 0, err, sizeof err);
    if (rc != 0)
        fail_msg("%s: %s", css, err);
    out[0] = '\0';
    for (int64_t i = 0;; i++) {
        s.has_index = true;
        s.index = i;
        html_result r;
        assert_int_equal(html_select(&s, doc, &r, err, sizeof err), 0);
        if (!r.found) {
            free(r.value);
            break;
        }
        if (i)
            strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, r.value, cap - strlen(out) - 1);
        free(r.value);
    }
    html_sel_free(&s);
}

static void test_css_selects(void **state)
{
    (void)state;
    static const struct {
        const char *css, *want;
    } cases[] = {
        {"title", "Shop | Home"},
        {"TITLE", "Shop | Home"},
        {"head title", "Shop | Home"},
        {"#main > h1", "Hello"},
        {"body > h1", ""},
        {"li.sel", "two"},
        {".sel.first", "two"},
        {"div.box.wide > ul > li:first-child", "one"},
        {"li:last-child", "five"},
        {"li:nth-child(2)", "two"},
        {"li:nth-child(odd)", "one|three|five"},
        {"li:nth-child(2n)", "two|four"},
        {"li:nth-child(-n+2)", "one|two"},
        {"li:nth-child(2n+3)", "three|five"},
        {"li:nth-last-child(1)", "five"},
        {"p:first-of-type", "intro|foot"},
        {"p:nth-of-type(2)", "lead text"},
        {"p:last-of-type", "|foot"},   /* #empty, then footer's */
        {"li:not(.sel)", "one|three|four|five"},
        {"li:not(:first-child):not(:last-child)", "two|three|four"},
        {"p + span", "after"},
        {"h1 ~ p", "intro|lead text|"},
        {"li + li + li", "three|four|five"},
        {"[lang]", ""},   /* html (its whole text is long: counted below) */
        {"li[lang|=en]", "three"},
        {"a[href$='.pdf']", "pdf"},
        {"a[href^=https]", "ext"},
        {"a[href*=docs]", "pdf"},
        {"div[class~=wide] h1", "Hello"},
        {"h1[data-x='a\"b']", "Hello"},
        {"div[class=\"q'uote\"]", "quoted"},
        {"li:contains(\"thr\")", "three"},
        {"p:empty", ""},
        {"h1, li.sel", "Hello|two"},
        {"footer p, h1", "Hello|foot"},
        {"input:checked", ""},
        {"ul li:only-child", ""},
        {"*:root > body > footer", "foot"},
        {"#\\6d ain > h1", "Hello"},
    };
    char got[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].css, "[lang]") == 0)
            continue;
        matches(cases[i].css, got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].css, got, cases[i].want);
    }
}

static html_result sel(const char *css, const char *xpath, const char *attr, bool has_index,
                       int64_t index)
{
    html_sel s;
    char err[300];
    if (html_sel_init(&s, css, xpath, attr, has_index, index, err, sizeof err) != 0)
        fail_msg("%s: %s", css ? css : xpath, err);
    html_result r;
    if (html_select(&s, doc, &r, err, sizeof err) != 0)
        fail_msg("%s: %s", css ? css : xpath, err);
    html_sel_free(&s);
    return r;
}

static void test_values(void **state)
{
    (void)state;
    /* css: every match's text, as k6's .text() */
    html_result r = sel("li", NULL, NULL, false, 0);
    assert_int_equal(r.count, 5);
    assert_string_equal(r.value, "onetwothreefourfive");
    free(r.value);
    /* attr: the first match's, as k6's .attr(); names without case */
    r = sel("input", NULL, "value", false, 0);
    assert_int_equal(r.count, 3);
    assert_true(r.found);
    assert_string_equal(r.value, "tok-1");
    free(r.value);
    r = sel("input[name=Upper]", NULL, "VALUE", false, 0);
    assert_string_equal(r.value, "X");
    free(r.value);
    /* libxml2 gives a minimized boolean attribute its name as value */
    r = sel("input[name=keep]", NULL, "checked", false, 0);
    assert_true(r.found);
    assert_string_equal(r.value, "checked");
    free(r.value);
    r = sel("h1", NULL, "missing", false, 0);
    assert_int_equal(r.count, 1);
    assert_false(r.found);
    assert_null(r.value);
    /* index: k6's .eq(); negative from the end; out of range: no value */
    r = sel("li", NULL, NULL, true, -1);
    assert_string_equal(r.value, "five");
    free(r.value);
    r = sel("li", NULL, NULL, true, 5);
    assert_int_equal(r.count, 5);
    assert_false(r.found);
    r = sel("li", NULL, NULL, true, -6);
    assert_false(r.found);
    /* xpath: the first node's string (XPath's string()), or a scalar */
    r = sel(NULL, "//li", NULL, false, 0);
    assert_string_equal(r.value, "one");
    free(r.value);
    r = sel(NULL, "//title/text()", NULL, false, 0);
    assert_string_equal(r.value, "Shop | Home");
    free(r.value);
    r = sel(NULL, "count(//li)", NULL, false, 0);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.value, "5");
    free(r.value);
    r = sel(NULL, "//input[@name='csrf']/@value", NULL, false, 0);
    assert_string_equal(r.value, "tok-1");
    free(r.value);
    r = sel("nav", NULL, NULL, false, 0);
    assert_int_equal(r.count, 0);
    assert_false(r.found);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *css, *err;
    } bad[] = {
        {"", "invalid selector \"\": empty selector at character 1"},
        {"li >", "invalid selector \"li >\": expected a selector after '>' at character 5"},
        {"li,", "invalid selector \"li,\": expected a selector at character 4"},
        {"a[href", "invalid selector \"a[href\": expected ']' or one of = ~= ^= $= *= |= at character 7"},
        {"a[href='x]", "invalid selector \"a[href='x]\": unterminated string at character 11"},
        {"li:hover", "invalid selector \"li:hover\": unsupported pseudo-class :hover at character 4"},
        {"p::before", "invalid selector \"p::before\": pseudo-elements (::) select no element at character 3"},
        {":first-of-type", "invalid selector \":first-of-type\": :first-of-type needs an element name "
                           "before it (li:first-of-type): XPath 1.0 cannot compare a node's name with "
                           "its siblings' at character 2"},
        {"li:nth-child(x)", "invalid selector \"li:nth-child(x)\": expected an+b, odd, even or a number "
                            "at character 14"},
        {"li:not(a b)", "invalid selector \"li:not(a b)\": expected ')' (:not() takes one compound "
                        "selector, no combinator) at character 10"},
        {"#1a", "invalid selector \"#1a\": an id cannot start with '1' at character 2"},
        {"ns|li", "invalid selector \"ns|li\": unexpected '|' at character 3"},
    };
    char err[300];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *x = html_css_to_xpath(bad[i].css, err, sizeof err);
        if (x)
            fail_msg("%s: accepted as %s", bad[i].css, x);
        if (strcmp(err, bad[i].err) != 0)
            fail_msg("%s: got error \"%s\"", bad[i].css, err);
    }
    html_sel s;
    assert_int_equal(html_sel_init(&s, NULL, "//li[", NULL, false, 0, err, sizeof err), -1);
    assert_string_equal(err, "invalid XPath \"//li[\": Invalid expression");
    assert_int_equal(html_sel_init(&s, "li", "//li", NULL, false, 0, err, sizeof err), -1);
    /* attr/index read nodes: an XPath giving a number has none */
    assert_int_equal(html_sel_init(&s, NULL, "count(//li)", "x", false, 0, err, sizeof err), 0);
    html_result r;
    assert_int_equal(html_select(&s, doc, &r, err, sizeof err), -1);
    assert_string_equal(err, "count(//li) gives a number, not nodes: attr and index read nodes");
    html_sel_free(&s);
}

/* Values go into XPath literals whatever quotes they hold. */
static void test_literals(void **state)
{
    (void)state;
    char err[300];
    char *x = html_css_to_xpath("[title=\"it's \\\"x\\\"\"]", err, sizeof err);
    assert_non_null(x);
    assert_string_equal(x, "//*[@title = concat('', 'it', \"'\", 's \"x\"')]");
    free(x);
    x = html_css_to_xpath("a[href$=\"')]|//x['\"]", err, sizeof err);
    assert_non_null(x);
    html_sel s;
    assert_int_equal(html_sel_init(&s, "a[href$=\"')]|//x['\"]", NULL, NULL, false, 0, err, sizeof err), 0);
    html_result r;
    assert_int_equal(html_select(&s, doc, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 0);
    html_sel_free(&s);
    free(x);
}

/* One parse per response: the second caller gets the memo's document. */
static void test_memo(void **state)
{
    (void)state;
    volley_memo m = {0};
    html_memo hm = {.memo = &m, .get = memo_get, .put = memo_put};
    bool owned = true;
    void *d1 = html_doc_get(&hm, "<p>x</p>", 8, &owned);
    assert_non_null(d1);
    assert_false(owned);
    void *d2 = html_doc_get(&hm, "<p>other</p>", 12, &owned);
    assert_ptr_equal(d1, d2);
    assert_false(owned);
    memo_clear(&m);
    /* an empty body is an empty document: nothing matches */
    void *e = html_doc_get(&hm, "", 0, &owned);
    assert_non_null(e);
    html_sel s;
    char err[100];
    assert_int_equal(html_sel_init(&s, "p", NULL, NULL, false, 0, err, sizeof err), 0);
    html_result r;
    assert_int_equal(html_select(&s, e, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 0);
    html_sel_free(&s);
    memo_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_css_selects),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_memo),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
