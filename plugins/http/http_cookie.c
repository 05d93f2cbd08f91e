/*
 * A VU's cookie jar: curl's cookie engine on the VU's easy handle, as k6
 * gives each VU its own jar. The curl path fills it itself; a response the
 * fast path read has its Set-Cookie lines put in here, so the VU's next
 * requests (on curl) send them. The jar is emptied when the VU starts a
 * new iteration, as k6 does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"

void http_cookies_seen(http_vu *vs)
{
    vs->has_cookies = true;
    vs->cookie_iter = vs->w->host->vu_iteration(vs->vu);
}

void http_cookies_iteration(http_vu *vs)
{
    if (vs->w->host->vu_iteration(vs->vu) != vs->cookie_iter) {
        curl_easy_setopt(vs->easy, CURLOPT_COOKIELIST, "ALL");
        vs->has_cookies = false;
    }
}

/* Netscape cookie-file fields are tab-separated. */
static bool cookie_text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return false;
    return true;
}

static bool ci_eq(const char *a, size_t an, const char *b)
{
    return an == strlen(b) && strncasecmp(a, b, an) == 0;
}

/*
 * One Set-Cookie value as the Netscape cookie-file line curl would store
 * for it (host, path, expiry), added to the VU's curl cookie jar. Follows
 * curl 7.88's acceptance of the common attributes: Secure cookies and the
 * __Secure-/__Host- prefixes only in a secure context (https://, or for
 * http:// curl's loopback hosts), a Domain must be the host or a domain of it, Max-Age
 * wins over Expires. Returns whether the cookie went into the jar.
 */
static bool add_cookie(CURL *e, const char *host, bool https, const char *v, size_t n,
                       const char *target, size_t tlen)
{
    const char *semi = memchr(v, ';', n);
    size_t pair = semi ? (size_t)(semi - v) : n;
    const char *eq = memchr(v, '=', pair);
    if (!eq)
        return false;
    const char *name = v, *val = eq + 1;
    size_t nl = (size_t)(eq - v), vl = pair - nl - 1;
    http_trim(&name, &nl);
    http_trim(&val, &vl);
    if (!nl || nl + vl > 4096 || !cookie_text_ok(name, nl) || !cookie_text_ok(val, vl))
        return false;
    bool pre_secure = nl >= 9 && strncmp(name, "__Secure-", 9) == 0;
    bool pre_host = nl >= 7 && strncmp(name, "__Host-", 7) == 0;

    bool secure_ctx = https || strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
                      strcmp(host, "[::1]") == 0;
    char domain[256], path[1024];
    bool tail = false, have_age = false, secure = false, path_set = false;
    long long expires = 0;
    snprintf(domain, sizeof domain, "%s", host);
    /* default path: the request path up to its last '/' (curl keeps it) */
    size_t plen = tlen;
    const char *q = memchr(target, '?', tlen);
    if (q)
        plen = (size_t)(q - target);
    while (plen > 1 && target[plen - 1] != '/')
        plen--;
    snprintf(path, sizeof path, "%.*s", (int)plen, target);

    const char *p = semi ? semi + 1 : v + n, *end = v + n;
    while (p < end) {
        const char *s2 = memchr(p, ';', (size_t)(end - p));
        size_t al = s2 ? (size_t)(s2 - p) : (size_t)(end - p);
        const char *an = p, *av = NULL;
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
            if (!secure_ctx)
                return false;
            secure = true;
            continue;
        }
        if (!av)
            continue;
        if (ci_eq(an, anl, "domain")) {
            while (avl && *av == '.')
                av++, avl--;
            size_t hl = strlen(host);
            bool ip = host[0] == '[' || strspn(host, "0123456789.") == hl;
            bool ok = avl && (ip ? avl == hl && strncasecmp(av, host, hl) == 0
                                 : (avl == hl && strncasecmp(av, host, hl) == 0) ||
                                       (hl > avl && host[hl - avl - 1] == '.' &&
                                        strncasecmp(host + hl - avl, av, avl) == 0));
            if (!ok || avl >= sizeof domain || !cookie_text_ok(av, avl))
                return false;
            snprintf(domain, sizeof domain, "%.*s", (int)avl, av);
            tail = !ip;
        } else if (ci_eq(an, anl, "path")) {
            if (avl >= sizeof path || !cookie_text_ok(av, avl))
                return false;
            if (avl && av[0] == '/')
                snprintf(path, sizeof path, "%.*s", (int)avl, av);
            else
                snprintf(path, sizeof path, "/");
            path_set = true;
        } else if (ci_eq(an, anl, "max-age")) {
            have_age = true;
            char *stop = NULL;
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(avl < 31 ? avl : 31), av);
            long long age = num[0] >= '0' && num[0] <= '9' ? strtoll(num, &stop, 10) : 0;
            expires = age > 0 ? (long long)time(NULL) + age : 1;
        } else if (ci_eq(an, anl, "expires") && !have_age) {
            char date[128];
            snprintf(date, sizeof date, "%.*s", (int)(avl < 127 ? avl : 127), av);
            time_t t = curl_getdate(date, NULL);
            expires = t == 0 ? 1 : t < 0 ? 0 : (long long)t;
        }
    }
    if ((pre_secure && !secure) ||
        (pre_host && (!secure || !path_set || strcmp(path, "/") != 0 || tail)))
        return false;
    char line[4096 + 1400];
    int len = snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%lld\t%.*s\t%.*s", domain,
                       tail ? "TRUE" : "FALSE", path, secure ? "TRUE" : "FALSE", expires, (int)nl,
                       name, (int)vl, val);
    if (len < 0 || (size_t)len >= sizeof line)
        return false;
    return curl_easy_setopt(e, CURLOPT_COOKIELIST, line) == CURLE_OK;
}

void http_cookies_take(http_vu *vs, CURL *e, const char *host, bool https, const char *target,
                       size_t tlen)
{
    bool added = false;
    const char *p = vs->resp.headers.data, *end = p + vs->resp.headers.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        if (n > 11 && strncasecmp(p, "set-cookie:", 11) == 0)
            added |= add_cookie(e, host, https, p + 11, n - 11, target, tlen);
        p += n;
    }
    if (added && !vs->has_cookies)
        http_cookies_seen(vs);
}
