/*
 * A VU's cookie jar, kept by the plugin for both clients (curl's cookie
 * engine is not used): k6 (Go's net/http/cookiejar) gives each VU one, so
 * its rules are the ones followed here. A cookie is (domain, path, name);
 * host-only unless Domain= named the host or a parent of it; the default
 * path is the request path up to its last '/'; Max-Age wins over Expires,
 * Max-Age<=0 or a past Expires removes it; a Secure cookie is sent over
 * https:// only. Sent in Go's order: longer paths first, then the older.
 *
 * Each cookie's text is one block (name, value, domain, path), reused
 * when the server sets the same cookie again, so a VU whose responses
 * keep setting cookies allocates nothing once its jar has its size.
 * Not done, as not in k6 either: public suffixes are not refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"

#define JAR_MAX 256          /* cookies per VU; more are dropped           */
#define COOKIE_MAX 8192      /* bytes of name and value                    */

/* ---- urls ---- */

int http_cookie_url(const char *url, http_url_parts *u)
{
    const char *p = strstr(url, "://");
    if (!p)
        return -1;
    u->https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    p += 3;
    size_t alen = strcspn(p, "/?#");
    const char *at = memchr(p, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hl = alen;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', alen);
        hl = close ? (size_t)(close - p) + 1 : alen;
    } else {
        const char *colon = memchr(p, ':', alen);
        if (colon)
            hl = (size_t)(colon - p);
    }
    if (!hl || hl >= sizeof u->host)
        return -1;
    for (size_t i = 0; i < hl; i++) {
        char c = p[i];
        u->host[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    u->host[hl] = '\0';
    while (hl > 1 && u->host[hl - 1] == '.')   /* "example.com." */
        u->host[--hl] = '\0';
    u->ip = u->host[0] == '[' || strspn(u->host, "0123456789.") == hl;
    u->path = p + alen;
    u->path_len = strcspn(u->path, "?#");
    if (!u->path_len || u->path[0] != '/') {
        u->path = "/";
        u->path_len = 1;
    }
    return 0;
}

/* ---- the jar ---- */

static const char *c_name(const http_cookie *c) { return c->text; }
static const char *c_value(const http_cookie *c) { return c->text + c->nlen + 1; }
static const char *c_domain(const http_cookie *c) { return c->text + c->nlen + c->vlen + 2; }
static const char *c_path(const http_cookie *c)
{
    return c->text + c->nlen + c->vlen + c->dlen + 3;
}

static bool c_expired(const http_cookie *c, int64_t now)
{
    return c->expires && c->expires <= now;
}

static void c_remove(http_jar *j, size_t i)
{
    char *text = j->c[i].text;
    size_t cap = j->c[i].cap;
    j->c[i] = j->c[--j->n];
    /* the block stays with the slot past n, for the next cookie */
    j->c[j->n] = (http_cookie){.text = text, .cap = cap};
}

void http_jar_empty(http_jar *j)
{
    for (size_t i = 0; i < j->n; i++) {
        char *text = j->c[i].text;
        size_t cap = j->c[i].cap;
        j->c[i] = (http_cookie){.text = text, .cap = cap};
    }
    j->n = 0;
}

void http_jar_free(http_jar *j)
{
    for (size_t i = 0; i < j->cap; i++)
        free(j->c[i].text);
    free(j->c);
    memset(j, 0, sizeof *j);
}

static bool domain_match(const http_cookie *c, const http_url_parts *u)
{
    const char *d = c_domain(c);
    if (c->host_only)
        return strcmp(d, u->host) == 0;
    size_t hl = strlen(u->host);
    return strcmp(d, u->host) == 0 ||
           (!u->ip && hl > c->dlen && u->host[hl - c->dlen - 1] == '.' &&
            strcmp(u->host + hl - c->dlen, d) == 0);
}

static bool path_match(const http_cookie *c, const char *path, size_t n)
{
    const char *cp = c_path(c);
    if (n < c->plen || memcmp(path, cp, c->plen) != 0)
        return false;
    return n == c->plen || cp[c->plen - 1] == '/' || path[c->plen] == '/';
}

bool http_jar_matches(const http_cookie *c, const http_url_parts *u, int64_t now)
{
    return !c_expired(c, now) && (!c->secure || u->https) && domain_match(c, u) &&
           path_match(c, u->path, u->path_len);
}

/* Go's validCookieValueByte. */
bool http_cookie_value_byte(unsigned char b)
{
    return b >= 0x20 && b < 0x7f && b != '"' && b != ';' && b != '\\';
}

/*
 * Puts one cookie into the jar (or removes it when `remove`), as Go's
 * jar.SetCookies does for one cookie of a response to u: the domain and
 * path checks, the (domain, path, name) replaced in place keeping its age.
 * domain, path: as given by the server or jar.set, NULL when absent.
 * Returns 0 stored (or removed), -1 refused.
 */
int http_jar_domain(const http_url_parts *u, const char *d, size_t dl, char dom[256],
                    bool *host_only)
{
    *host_only = true;
    if (!d || !dl) {
        snprintf(dom, 256, "%s", u->host);
    } else if (u->ip) {
        if (d[0] == '.')
            d++, dl--;
        if (dl != strlen(u->host) || strncasecmp(d, u->host, dl) != 0)
            return -1;
        snprintf(dom, 256, "%s", u->host);
    } else {
        if (d[0] == '.')
            d++, dl--;
        if (!dl || d[0] == '.' || d[dl - 1] == '.' || dl >= 256)
            return -1;
        for (size_t i = 0; i < dl; i++) {
            char c = d[i];
            if ((unsigned char)c <= 0x20 || c == ';' || c == '\t')
                return -1;
            dom[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        dom[dl] = '\0';
        size_t hl = strlen(u->host);
        if (strcmp(dom, u->host) != 0 &&
            !(hl > dl && u->host[hl - dl - 1] == '.' && strcmp(u->host + hl - dl, dom) == 0))
            return -1;
        *host_only = false;
    }
    return 0;
}

int http_jar_put(http_jar *j, const http_url_parts *u, const http_cookie_in *in)
{
    if (!http_token(in->name, in->nlen) || in->nlen + in->vlen > COOKIE_MAX)
        return -1;
    for (size_t i = 0; i < in->vlen; i++)
        if (!http_cookie_value_byte((unsigned char)in->value[i]))
            return -1;
    /* domain and whether it is host-only (Go's domainAndType) */
    char dom[256];
    bool host_only;
    if (http_jar_domain(u, in->domain, in->domain ? in->dlen : 0, dom, &host_only) != 0)
        return -1;
    /* path: its own when it starts with '/', else the default path */
    const char *path = in->path;
    size_t pl = in->path ? in->plen : 0;
    if (!pl || path[0] != '/') {
        path = u->path;
        pl = u->path_len;
        while (pl > 1 && path[pl - 1] != '/')
            pl--;
        if (pl > 1)
            pl--;   /* "/a/b" -> "/a", "/a/" -> "/a", "/a" -> "/" */
    }
    for (size_t i = 0; i < pl; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == ';')
            return -1;

    size_t at = j->n;
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < j->n; i++) {
        const http_cookie *c = &j->c[i];
        if (c->nlen == in->nlen && c->plen == pl && memcmp(c_name(c), in->name, in->nlen) == 0 &&
            memcmp(c_path(c), path, pl) == 0 && strcmp(c_domain(c), dom) == 0) {
            at = i;
            break;
        }
    }
    if (in->remove || (in->expires && in->expires <= now)) {
        if (at < j->n)
            c_remove(j, at);
        return 0;
    }
    if (at == j->n) {
        if (j->n == JAR_MAX)
            return -1;
        if (j->n == j->cap) {
            size_t cap = j->cap ? j->cap * 2 : 8;
            http_cookie *nc = realloc(j->c, cap * sizeof *nc);
            if (!nc)
                return -1;
            memset(nc + j->cap, 0, (cap - j->cap) * sizeof *nc);
            j->c = nc;
            j->cap = cap;
        }
        j->c[at].seq = ++j->seq;
    }
    http_cookie *c = &j->c[at];
    size_t need = in->nlen + in->vlen + strlen(dom) + pl + 4;
    if (need > c->cap) {
        char *t = realloc(c->text, need);
        if (!t)
            return -1;
        c->text = t;
        c->cap = need;
    }
    c->nlen = in->nlen;
    c->vlen = in->vlen;
    c->dlen = strlen(dom);
    c->plen = pl;
    char *t = c->text;
    memcpy(t, in->name, in->nlen);
    t[in->nlen] = '\0';
    t += in->nlen + 1;
    memcpy(t, in->value, in->vlen);
    t[in->vlen] = '\0';
    t += in->vlen + 1;
    memcpy(t, dom, c->dlen + 1);
    t += c->dlen + 1;
    memcpy(t, path, pl);
    t[pl] = '\0';
    c->expires = in->expires;
    c->host_only = host_only;
    c->secure = in->secure;
    c->http_only = in->http_only;
    if (at == j->n)
        j->n++;
    return 0;
}

/* ---- Set-Cookie ---- */

static bool ci_eq(const char *a, size_t an, const char *b)
{
    return an == strlen(b) && strncasecmp(a, b, an) == 0;
}

int http_cookie_parse(const char *v, size_t n, http_cookie_in *out)
{
    memset(out, 0, sizeof *out);
    const char *semi = memchr(v, ';', n);
    size_t pair = semi ? (size_t)(semi - v) : n;
    const char *eq = memchr(v, '=', pair);
    if (!eq)
        return -1;
    out->name = v;
    out->nlen = (size_t)(eq - v);
    out->value = eq + 1;
    out->vlen = pair - out->nlen - 1;
    http_trim(&out->name, &out->nlen);
    http_trim(&out->value, &out->vlen);
    if (out->vlen >= 2 && out->value[0] == '"' && out->value[out->vlen - 1] == '"')
        out->value++, out->vlen -= 2;
    bool have_age = false;
    const char *p = semi ? semi + 1 : v + n, *end = v + n;
    while (p < end) {
        const char *s2 = memchr(p, ';', (size_t)(end - p));
        size_t al = s2 ? (size_t)(s2 - p) : (size_t)(end - p);
        const char *an = p, *av = "";
        size_t anl = al, avl = 0;
        const char *aeq = memchr(p, '=', al);
        if (aeq) {
            anl = (size_t)(aeq - p);
            av = aeq + 1;
            avl = al - anl - 1;
            http_trim(&av, &avl);
        }
        http_trim(&an, &anl);
        p = s2 ? s2 + 1 : end;
        if (ci_eq(an, anl, "secure")) {
            out->secure = true;
        } else if (ci_eq(an, anl, "httponly")) {
            out->http_only = true;
        } else if (ci_eq(an, anl, "domain") && avl) {
            out->domain = av;
            out->dlen = avl;
        } else if (ci_eq(an, anl, "path") && avl) {
            out->path = av;
            out->plen = avl;
        } else if (ci_eq(an, anl, "max-age") && avl) {
            char num[24];
            size_t k = avl < sizeof num - 1 ? avl : sizeof num - 1;
            memcpy(num, av, k);
            num[k] = '\0';
            char *stop = NULL;
            long long age = strtoll(num, &stop, 10);
            if (stop == num || *stop || (num[0] == '0' && num[1]))
                continue;   /* Go ignores a malformed Max-Age */
            have_age = true;
            if (age > (1LL << 40))
                age = 1LL << 40;   /* ~35,000 years: no overflow below */
            out->remove = age <= 0;
            out->expires = age > 0 ? (int64_t)time(NULL) + age : 0;
        } else if (ci_eq(an, anl, "expires") && avl && !have_age) {
            char date[128];
            size_t k = avl < sizeof date - 1 ? avl : sizeof date - 1;
            memcpy(date, av, k);
            date[k] = '\0';
            time_t t = curl_getdate(date, NULL);
            if (t != -1)
                out->expires = t > 0 ? (int64_t)t : 1;
        }
    }
    return 0;
}

int http_jar_store(http_jar *j, const char *headers, size_t len, const char *url)
{
    http_url_parts u;
    if (http_cookie_url(url, &u) != 0)
        return 0;
    int stored = 0;
    const char *p = headers, *end = headers + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        if (n > 11 && strncasecmp(p, "set-cookie:", 11) == 0) {
            http_cookie_in in;
            if (http_cookie_parse(p + 11, n - 11, &in) == 0 && http_jar_put(j, &u, &in) == 0)
                stored++;
        }
        p += n;
    }
    return stored;
}

/* ---- what a request sends ---- */

int http_cookie_append(const volley_host *h, volley_buf *b, const char *name, size_t nlen,
                       const char *value, size_t vlen)
{
    /* Go's sanitizeCookieValue: bytes a cookie value cannot hold are
     * dropped, a value with a space or a comma is quoted */
    bool quote = false;
    for (size_t i = 0; i < vlen; i++)
        quote |= value[i] == ' ' || value[i] == ',';
    if (b->len && http_buf_add(h, b, "; ", 2) != 0)
        return -1;
    if (http_buf_add(h, b, name, nlen) != 0 || http_buf_add(h, b, quote ? "=\"" : "=", quote + 1) != 0)
        return -1;
    for (size_t i = 0; i < vlen;) {
        size_t k = i;
        while (k < vlen && http_cookie_value_byte((unsigned char)value[k]))
            k++;
        if (k > i && http_buf_add(h, b, value + i, k - i) != 0)
            return -1;
        i = k < vlen ? k + 1 : k;
    }
    return quote ? http_buf_add(h, b, "\"", 1) : 0;
}

static bool replaced(const char *name, size_t n, const char *const *skip, size_t n_skip)
{
    for (size_t i = 0; i < n_skip; i++)
        if (strlen(skip[i]) == n && memcmp(skip[i], name, n) == 0)
            return true;
    return false;
}

int http_jar_header(const volley_host *h, http_jar *j, const http_url_parts *u, volley_buf *b,
                    const char *const *skip, size_t n_skip)
{
    int64_t now = (int64_t)time(NULL);
    size_t picked = 0;
    /* small jars: a selection by (longer path, older) in place of a sort */
    uint64_t last_seq = 0;
    size_t last_plen = SIZE_MAX;
    for (;;) {
        const http_cookie *best = NULL;
        for (size_t i = 0; i < j->n; i++) {
            const http_cookie *c = &j->c[i];
            if (!http_jar_matches(c, u, now) || replaced(c_name(c), c->nlen, skip, n_skip))
                continue;
            bool after_last = c->plen < last_plen || (c->plen == last_plen && c->seq > last_seq);
            if (!after_last)
                continue;
            if (!best || c->plen > best->plen || (c->plen == best->plen && c->seq < best->seq))
                best = c;
        }
        if (!best)
            break;
        if (http_cookie_append(h, b, c_name(best), best->nlen, c_value(best), best->vlen) != 0)
            return -1;
        last_plen = best->plen;
        last_seq = best->seq;
        picked++;
    }
    return (int)picked;
}

size_t http_jar_remove(http_jar *j, const http_url_parts *u, const char *name, size_t nlen)
{
    int64_t now = (int64_t)time(NULL);
    size_t removed = 0;
    for (size_t i = j->n; i-- > 0;) {
        const http_cookie *c = &j->c[i];
        if (c_expired(c, now) ||
            (http_jar_matches(c, u, now) &&
             (!name || (c->nlen == nlen && memcmp(c_name(c), name, nlen) == 0)))) {
            c_remove(j, i);
            removed++;
        }
    }
    return removed;
}
