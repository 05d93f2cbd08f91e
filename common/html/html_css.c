/*
 * CSS selectors -> XPath 1.0, for libxml2 to evaluate. The subset k6
 * scripts use (k6's Selection takes cascadia's selectors):
 *
 *   type, *, #id, .class, [attr], [attr=v] (and ~= ^= $= *= |=),
 *   descendant ( ), child (>), next sibling (+), later sibling (~),
 *   lists (a, b), :first-child :last-child :only-child, :first-of-type
 *   :last-of-type :only-of-type, :nth-child() :nth-last-child()
 *   :nth-of-type() :nth-last-of-type() (an+b, odd, even), :not(compound),
 *   :contains("text") (jQuery's), :empty, :root, :checked, :selected,
 *   :disabled.
 *
 * One pass, no tree: each compound selector becomes one location step
 * (axis, name test, predicates), each combinator the axis of the next.
 * Element and attribute names are lower-cased, as libxml2's HTML parser
 * stores them; values keep their case. Values go into XPath string
 * literals ('...', "...", or concat() when they hold both quotes), so
 * nothing a selector says can escape its literal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"

#define NOT_DEPTH 4          /* :not() inside :not() at most this deep */
#define NTH_MAX 1000000      /* |a| and |b| of an+b                    */

struct out {
    char *s;
    size_t len, cap;
    bool oom;
};

typedef struct css {
    const char *t;
    size_t pos;
    struct out o;
    char *err;
    size_t errcap;
    bool failed;
    int depth;
} css;

__attribute__((format(printf, 2, 3)))
static int fail(css *p, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errcap, "invalid selector \"%s\": %s at character %zu", p->t, why,
             p->pos + 1);
    p->failed = true;
    return -1;
}

static void put_n(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 128;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *d = realloc(o->s, cap);
        if (!d) {
            o->oom = true;
            return;
        }
        o->s = d;
        o->cap = cap;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void put(struct out *o, const char *s) { put_n(o, s, strlen(s)); }

__attribute__((format(printf, 2, 3)))
static void putf(struct out *o, const char *fmt, ...)
{
    char small[128], *buf = small;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    /* names in the text can be long: never cut it */
    if (n >= (int)sizeof small && (buf = malloc((size_t)n + 1)))
        vsnprintf(buf, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n < 0 || !buf)
        o->oom = true;
    else
        put_n(o, buf, (size_t)n);
    if (buf != small)
        free(buf);
}

/* s[0..n) as an XPath literal: XPath 1.0 has no escapes, so a text with
 * both quote kinds becomes concat('...', "'", '...'). */
static void put_literal(struct out *o, const char *s, size_t n)
{
    if (!memchr(s, '\'', n)) {
        put(o, "'");
        put_n(o, s, n);
        put(o, "'");
        return;
    }
    if (!memchr(s, '"', n)) {
        put(o, "\"");
        put_n(o, s, n);
        put(o, "\"");
        return;
    }
    put(o, "concat(''");
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '\'') {
            if (i > start) {
                put(o, ", '");
                put_n(o, s + start, i - start);
                put(o, "'");
            }
            if (i < n)
                put(o, ", \"'\"");
            start = i + 1;
        }
    }
    put(o, ")");
}

/* A character XML (and so an XPath literal) can hold. */
static bool xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
           (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/* The byte offset of the first character of s that is not valid UTF-8 or
 * not an XML character, or -1 when there is none. */
static long bad_char(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; u[i];) {
        unsigned long cp;
        size_t n;
        if (u[i] < 0x80)
            cp = u[i], n = 1;
        else if ((u[i] & 0xe0) == 0xc0)
            cp = u[i] & 0x1f, n = 2;
        else if ((u[i] & 0xf0) == 0xe0)
            cp = u[i] & 0x0f, n = 3;
        else if ((u[i] & 0xf8) == 0xf0)
            cp = u[i] & 0x07, n = 4;
        else
            return (long)i;
        for (size_t k = 1; k < n; k++) {
            if ((u[i + k] & 0xc0) != 0x80)
                return (long)i;
            cp = cp << 6 | (u[i + k] & 0x3f);
        }
        static const unsigned long least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || !xml_char(cp))
            return (long)i;
        i += n;
    }
    return -1;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

static bool skip_ws(css *p)
{
    size_t at = p->pos;
    while (is_ws(p->t[p->pos]))
        p->pos++;
    return p->pos > at;
}

static bool ident_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c >= 0x80;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A CSS escape after '\': up to six hex digits (and one white space after
 * them) as a code point in UTF-8, or the next character as it is. */
static int escape(css *p, struct out *v)
{
    const char *t = p->t;
    if (!t[p->pos] || t[p->pos] == '\n')
        return fail(p, "'\\' at the end");
    if (hexval(t[p->pos]) < 0) {
        put_n(v, t + p->pos, 1);
        p->pos++;
        return 0;
    }
    unsigned long cp = 0;
    for (int i = 0; i < 6 && hexval(t[p->pos]) >= 0; i++)
        cp = cp * 16 + (unsigned long)hexval(t[p->pos++]);
    if (is_ws(t[p->pos]))
        p->pos++;
    if (!xml_char(cp))
        return fail(p, "escape of a character XPath cannot hold (U+%04lX)", cp);
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    put_n(v, u, n);
    return 0;
}

/* A CSS identifier into v (escapes resolved); what names it for errors. */
static int ident(css *p, struct out *v, const char *what)
{
    const char *t = p->t;
    size_t start = p->pos;
    unsigned char c0 = (unsigned char)t[p->pos];
    if ((c0 >= '0' && c0 <= '9') ||
        (c0 == '-' && ((t[p->pos + 1] >= '0' && t[p->pos + 1] <= '9') || t[p->pos + 1] == '-')))
        return fail(p, "%s cannot start with '%c%s'", what, c0, c0 == '-' ? "' and a digit or '-" : "");
    for (;;) {
        unsigned char c = (unsigned char)t[p->pos];
        if (c == '\\') {
            p->pos++;
            if (escape(p, v) != 0)
                return -1;
        } else if (ident_char(c)) {
            put_n(v, t + p->pos, 1);
            p->pos++;
        } else {
            break;
        }
    }
    if (p->pos == start)
        return fail(p, "expected %s", what);
    if (v->oom)
        return fail(p, "out of memory");
    return 0;
}

/* An element or attribute name, lower-cased, that XPath can name as it is
 * (an ASCII NCName: what HTML uses). */
static int name(css *p, struct out *v, const char *what)
{
    size_t at = p->pos;
    if (ident(p, v, what) != 0)
        return -1;
    for (size_t i = 0; i < v->len; i++) {
        char c = v->s[i];
        if (c >= 'A' && c <= 'Z')
            v->s[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                   c == '.') ||
                 (i == 0 && !((c >= 'a' && c <= 'z') || c == '_'))) {
            p->pos = at;
            return fail(p, "%s \"%s\" is not a name XPath can test (letters, digits, '-', '_')",
                        what, v->s);
        }
    }
    return 0;
}

/* A quoted string ('...' or "...", backslash escapes) or an identifier. */
static int value(css *p, struct out *v, const char *what)
{
    char q = p->t[p->pos];
    if (q != '"' && q != '\'')
        return ident(p, v, what);
    p->pos++;
    put_n(v, "", 0);
    while (p->t[p->pos] && p->t[p->pos] != q) {
        if (p->t[p->pos] == '\\') {
            p->pos++;
            if (p->t[p->pos] == '\n') {
                p->pos++;
                continue;
            }
            if (escape(p, v) != 0)
                return -1;
        } else {
            put_n(v, p->t + p->pos, 1);
            p->pos++;
        }
    }
    if (p->t[p->pos] != q)
        return fail(p, "unterminated string");
    p->pos++;
    if (v->oom)
        return fail(p, "out of memory");
    return 0;
}

/* The whitespace-separated word test of ~= and .class. */
static void put_word_test(struct out *o, const char *attr, const struct out *v)
{
    putf(o, "[contains(concat(' ', normalize-space(@%s), ' '), ", attr);
    struct out lit = {0};
    put(&lit, " ");
    put_n(&lit, v->s ? v->s : "", v->len);
    put(&lit, " ");
    if (lit.oom)
        o->oom = true;
    else
        put_literal(o, lit.s, lit.len);
    free(lit.s);
    put(o, ")]");
}

static bool has_ws(const struct out *v)
{
    for (size_t i = 0; i < v->len; i++)
        if (is_ws(v->s[i]))
            return true;
    return false;
}

/* After '[': [attr], [attr OP value] with an optional i/s flag (taken as
 * written: values compare case-sensitively). */
static int attribute(css *p)
{
    struct out n = {0}, v = {0};
    int rc = -1;
    skip_ws(p);
    if (name(p, &n, "an attribute name") != 0)
        goto done;
    skip_ws(p);
    char op = p->t[p->pos];
    if (op == ']') {
        p->pos++;
        putf(&p->o, "[@%s]", n.s);
        rc = 0;
        goto done;
    }
    if (op == '=') {
        p->pos++;
    } else if (op && strchr("~^$*|", op) && p->t[p->pos + 1] == '=') {
        p->pos += 2;
    } else {
        fail(p, "expected ']' or one of = ~= ^= $= *= |=");
        goto done;
    }
    skip_ws(p);
    if (value(p, &v, "a value") != 0)
        goto done;
    skip_ws(p);
    if ((p->t[p->pos] == 'i' || p->t[p->pos] == 's' || p->t[p->pos] == 'I' ||
         p->t[p->pos] == 'S') &&
        (is_ws(p->t[p->pos + 1]) || p->t[p->pos + 1] == ']')) {
        p->pos++;
        skip_ws(p);
    }
    if (p->t[p->pos] != ']') {
        fail(p, "expected ']'");
        goto done;
    }
    p->pos++;
    const char *val = v.s ? v.s : "";
    struct out *o = &p->o;
    /* CSS: an empty value never matches ^= $= *=, nor ~= a word with space */
    bool never = (v.len == 0 && op != '=' && op != '|') || (op == '~' && has_ws(&v));
    if (never) {
        put(o, "[false()]");
    } else if (op == '=') {
        putf(o, "[@%s = ", n.s);
        put_literal(o, val, v.len);
        put(o, "]");
    } else if (op == '~') {
        put_word_test(o, n.s, &v);
    } else if (op == '^') {
        putf(o, "[starts-with(@%s, ", n.s);
        put_literal(o, val, v.len);
        put(o, ")]");
    } else if (op == '$') {
        putf(o, "[@%s and substring(@%s, string-length(@%s) - %zu) = ", n.s, n.s, n.s,
             v.len - 1);
        put_literal(o, val, v.len);
        put(o, "]");
    } else if (op == '*') {
        putf(o, "[contains(@%s, ", n.s);
        put_literal(o, val, v.len);
        put(o, ")]");
    } else {
        putf(o, "[@%s = ", n.s);
        put_literal(o, val, v.len);
        putf(o, " or starts-with(@%s, ", n.s);
        put_n(&v, "-", 1);
        put_literal(o, v.s, v.len);
        put(o, ")]");
    }
    rc = 0;
done:
    free(n.s);
    free(v.s);
    return rc;
}

static int number(css *p, long *out)
{
    long v = 0;
    if (p->t[p->pos] < '0' || p->t[p->pos] > '9')
        return fail(p, "expected a number");
    while (p->t[p->pos] >= '0' && p->t[p->pos] <= '9') {
        v = v * 10 + (p->t[p->pos++] - '0');
        if (v > NTH_MAX)
            return fail(p, "number too large");
    }
    *out = v;
    return 0;
}

/* The argument of :nth-*(): odd, even, b, an, an+b (CSS Syntax's An+B). */
static int nth_arg(css *p, long *a, long *b)
{
    skip_ws(p);
    const char *t = p->t + p->pos;
    if (strncasecmp(t, "odd", 3) == 0 && !ident_char((unsigned char)t[3])) {
        p->pos += 3;
        *a = 2, *b = 1;
        return 0;
    }
    if (strncasecmp(t, "even", 4) == 0 && !ident_char((unsigned char)t[4])) {
        p->pos += 4;
        *a = 2, *b = 0;
        return 0;
    }
    long sign = 1, n = 1;
    if (p->t[p->pos] == '+' || p->t[p->pos] == '-')
        sign = p->t[p->pos++] == '-' ? -1 : 1;
    bool digits = p->t[p->pos] >= '0' && p->t[p->pos] <= '9';
    if (digits && number(p, &n) != 0)
        return -1;
    if (p->t[p->pos] != 'n' && p->t[p->pos] != 'N') {
        if (!digits)
            return fail(p, "expected an+b, odd, even or a number");
        *a = 0, *b = sign * n;
        return 0;
    }
    p->pos++;
    *a = sign * n;
    *b = 0;
    skip_ws(p);
    if (p->t[p->pos] == '+' || p->t[p->pos] == '-') {
        long s = p->t[p->pos++] == '-' ? -1 : 1;
        skip_ws(p);
        if (number(p, b) != 0)
            return -1;
        *b *= s;
    }
    return 0;
}

/* [position among the siblings it counts is a*k+b for some k >= 0] */
static void put_nth(struct out *o, const char *axis, const char *tag, long a, long b)
{
    if (a == 0) {
        putf(o, "[(count(%s::%s) + 1) = %ld]", axis, tag, b);
        return;
    }
    putf(o, "[((count(%s::%s) + 1) - (%ld)) mod (%ld) = 0 and ", axis, tag, b, a);
    putf(o, "((count(%s::%s) + 1) - (%ld)) div (%ld) >= 0]", axis, tag, b, a);
}

static int compound(css *p, const char *axis);

/* After ':'. tag: the compound's element name ("*" when none). */
static int pseudo(css *p, const char *tag)
{
    struct out n = {0};
    size_t at = p->pos;
    if (ident(p, &n, "a pseudo-class") != 0) {
        free(n.s);
        return -1;
    }
    for (size_t i = 0; i < n.len; i++)
        if (n.s[i] >= 'A' && n.s[i] <= 'Z')
            n.s[i] = (char)(n.s[i] - 'A' + 'a');
    bool typed = strcmp(tag, "*") != 0;
    const char *s = n.s;
    struct out *o = &p->o;
    int rc = 0;
    bool fn = p->t[p->pos] == '(';
    if (fn)
        p->pos++;
    if (!fn && strcmp(s, "first-child") == 0) {
        put(o, "[not(preceding-sibling::*)]");
    } else if (!fn && strcmp(s, "last-child") == 0) {
        put(o, "[not(following-sibling::*)]");
    } else if (!fn && strcmp(s, "only-child") == 0) {
        put(o, "[not(preceding-sibling::*) and not(following-sibling::*)]");
    } else if (!fn && (strcmp(s, "first-of-type") == 0 || strcmp(s, "last-of-type") == 0 ||
                       strcmp(s, "only-of-type") == 0)) {
        if (!typed) {
            p->pos = at;
            rc = fail(p, ":%s needs an element name before it (li:%s): XPath 1.0 cannot "
                      "compare a node's name with its siblings'", s, s);
        } else if (s[0] == 'f') {
            putf(o, "[not(preceding-sibling::%s)]", tag);
        } else if (s[0] == 'l') {
            putf(o, "[not(following-sibling::%s)]", tag);
        } else {
            putf(o, "[not(preceding-sibling::%s) and not(following-sibling::%s)]", tag, tag);
        }
    } else if (!fn && strcmp(s, "empty") == 0) {
        put(o, "[not(*) and not(text())]");
    } else if (!fn && strcmp(s, "root") == 0) {
        put(o, "[not(parent::*)]");
    } else if (!fn && (strcmp(s, "checked") == 0 || strcmp(s, "selected") == 0 ||
                       strcmp(s, "disabled") == 0)) {
        putf(o, "[@%s]", s);
    } else if (fn && (strcmp(s, "nth-child") == 0 || strcmp(s, "nth-last-child") == 0 ||
                      strcmp(s, "nth-of-type") == 0 || strcmp(s, "nth-last-of-type") == 0)) {
        long a = 0, b = 0;
        bool of_type = strstr(s, "of-type") != NULL;
        bool last = strstr(s, "last") != NULL;
        if (of_type && !typed) {
            p->pos = at;
            rc = fail(p, ":%s() needs an element name before it (tr:%s(2))", s, s);
        } else if ((rc = nth_arg(p, &a, &b)) == 0) {
            skip_ws(p);
            if (p->t[p->pos] != ')')
                rc = fail(p, "expected ')'");
            else {
                p->pos++;
                put_nth(o, last ? "following-sibling" : "preceding-sibling", of_type ? tag : "*",
                        a, b);
            }
        }
    } else if (fn && strcmp(s, "not") == 0) {
        if (p->depth >= NOT_DEPTH) {
            rc = fail(p, ":not() nested too deep");
        } else {
            put(o, "[not(");
            p->depth++;
            skip_ws(p);
            rc = compound(p, "self::");
            p->depth--;
            skip_ws(p);
            if (rc == 0 && p->t[p->pos] != ')')
                rc = fail(p, "expected ')' (:not() takes one compound selector, no combinator)");
            else if (rc == 0) {
                p->pos++;
                put(o, ")]");
            }
        }
    } else if (fn && strcmp(s, "contains") == 0) {
        struct out v = {0};
        skip_ws(p);
        rc = value(p, &v, "a text");
        skip_ws(p);
        if (rc == 0 && p->t[p->pos] != ')')
            rc = fail(p, "expected ')'");
        if (rc == 0) {
            p->pos++;
            put(o, "[contains(string(.), ");
            put_literal(o, v.s ? v.s : "", v.len);
            put(o, ")]");
        }
        free(v.s);
    } else {
        p->pos = at;
        rc = fail(p, "unsupported pseudo-class :%s%s", s, fn ? "()" : "");
    }
    free(n.s);
    return rc;
}

/* One compound selector as a location step on axis ("//", "/",
 * "self::"...): the name test, then a predicate per simple selector. */
static int compound(css *p, const char *axis)
{
    struct out tag = {0};
    const char *t = p->t;
    int rc = 0;
    if (t[p->pos] == '*') {
        p->pos++;
        put(&tag, "*");
    } else if (ident_char((unsigned char)t[p->pos]) || t[p->pos] == '\\') {
        rc = name(p, &tag, "an element name");
    }
    if (rc != 0)
        goto done;
    bool any = tag.len > 0;
    if (!any)
        put(&tag, "*");
    if (tag.oom) {
        rc = fail(p, "out of memory");
        goto done;
    }
    put(&p->o, axis);
    put(&p->o, tag.s);
    for (;;) {
        char c = t[p->pos];
        if (c == '#' || c == '.') {
            struct out v = {0};
            p->pos++;
            rc = ident(p, &v, c == '#' ? "an id" : "a class name");
            if (rc == 0 && c == '#') {
                put(&p->o, "[@id = ");
                put_literal(&p->o, v.s, v.len);
                put(&p->o, "]");
            } else if (rc == 0) {
                put_word_test(&p->o, "class", &v);
            }
            free(v.s);
        } else if (c == '[') {
            p->pos++;
            rc = attribute(p);
        } else if (c == ':') {
            p->pos++;
            if (t[p->pos] == ':')
                rc = fail(p, "pseudo-elements (::) select no element");
            else
                rc = pseudo(p, tag.s);
        } else {
            break;
        }
        if (rc != 0)
            goto done;
        any = true;
    }
    if (!any)
        rc = t[p->pos] ? fail(p, "unexpected '%c'", t[p->pos]) : fail(p, "expected a selector");
done:
    free(tag.s);
    return rc;
}

/* compound (combinator compound)*: the next compound's axis is the
 * combinator's ("//" for descendants). */
static int complex_sel(css *p)
{
    if (compound(p, "//") != 0)
        return -1;
    for (;;) {
        bool ws = skip_ws(p);
        char c = p->t[p->pos];
        const char *axis;
        if (c == '>')
            axis = "/";
        else if (c == '+')
            axis = "/following-sibling::*[1]/self::";
        else if (c == '~')
            axis = "/following-sibling::";
        else if (ws && c && c != ',')
            axis = "//";
        else
            return 0;
        if (c == '>' || c == '+' || c == '~') {
            p->pos++;
            skip_ws(p);
            if (!p->t[p->pos] || p->t[p->pos] == ',')
                return fail(p, "expected a selector after '%c'", c);
        }
        if (compound(p, axis) != 0)
            return -1;
    }
}

char *html_css_to_xpath(const char *text, char *err, size_t errcap)
{
    css p = {.t = text, .err = err, .errcap = errcap};
    if (strlen(text) > HTML_SEL_MAX) {
        snprintf(err, errcap, "selector longer than %d characters", HTML_SEL_MAX);
        return NULL;
    }
    long bad = bad_char(text);
    if (bad >= 0) {
        p.pos = (size_t)bad;
        fail(&p, "a control character or bytes that are not UTF-8");
    }
    skip_ws(&p);
    if (!text[p.pos])
        fail(&p, "empty selector");
    while (!p.failed) {
        if (complex_sel(&p) != 0)
            break;
        skip_ws(&p);
        if (!text[p.pos])
            break;
        if (text[p.pos] != ',') {
            fail(&p, "unexpected '%c'", text[p.pos]);
            break;
        }
        p.pos++;
        skip_ws(&p);
        put(&p.o, " | ");
    }
    if (!p.failed && p.o.oom)
        snprintf(err, errcap, "out of memory");
    if (p.failed || p.o.oom) {
        free(p.o.s);
        return NULL;
    }
    return p.o.s;
}
