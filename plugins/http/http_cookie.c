/*
 * Cookies of a step: its options (cookies:, jar:, cookie_jar:, a Cookie
 * header), compiled once, and what they do per request on either client:
 * which of the VU's jars the request uses (its own, or a named one: k6's
 * local new http.CookieJar()), the jar's lifetime and operations at
 * step_start, the one Cookie header a request sends, the response's
 * Set-Cookie into that jar (http_jar.c), the jar's cookies for the
 * response's url for checks.
 *
 * The Cookie header is k6's (Go's AddCookie, SetRequestCookies): the
 * step's own Cookie header first, then its `cookies:` in the order
 * written, then the jar's cookies for the url except those a `replace`
 * cookie of the step stands for, all on one line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"

/* ---- option maps ---- */

const char *const http_jar_lifetimes[] = {"per_iteration", "per_vu", NULL};

enum { JS_URL, JS_NAME, JS_VALUE, JS_DOMAIN, JS_PATH, JS_EXPIRES, JS_MAX_AGE, JS_SECURE,
       JS_HTTP_ONLY };

typedef struct jar_set_cfg {
    uint64_t set;
    const volley_template *url;
    const char *name;
    const volley_template *value;
    const char *domain;
    const char *path;
    const char *expires;
    int64_t max_age;
    bool secure;
    bool http_only;
} jar_set_cfg;

static const volley_option jar_set_opts[] = {
    [JS_URL] = {.name = "url", .type = VOLLEY_OPT_TEMPLATE, .offset = offsetof(jar_set_cfg, url),
                .help = "the url the cookie is set for (default: the step's url)"},
    [JS_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .offset = offsetof(jar_set_cfg, name),
                 .flags = VOLLEY_OPT_REQUIRED, .help = "cookie name"},
    [JS_VALUE] = {.name = "value", .type = VOLLEY_OPT_TEMPLATE,
                  .offset = offsetof(jar_set_cfg, value), .flags = VOLLEY_OPT_REQUIRED,
                  .help = "cookie value (may use ${...})"},
    [JS_DOMAIN] = {.name = "domain", .type = VOLLEY_OPT_STRING,
                   .offset = offsetof(jar_set_cfg, domain),
                   .help = "sent to this domain and its subdomains (default: the url's host only)"},
    [JS_PATH] = {.name = "path", .type = VOLLEY_OPT_STRING, .offset = offsetof(jar_set_cfg, path),
                 .help = "sent for this path and below (default: the url's directory)"},
    [JS_EXPIRES] = {.name = "expires", .type = VOLLEY_OPT_STRING,
                    .offset = offsetof(jar_set_cfg, expires),
                    .help = "expiry date (RFC 1123: Mon, 02 Jan 2006 15:04:05 GMT); past: removed"},
    [JS_MAX_AGE] = {.name = "max_age", .type = VOLLEY_OPT_INT,
                    .offset = offsetof(jar_set_cfg, max_age),
                    .help = "seconds it lives (wins over expires); 0 or less: removed",
                    .min = -1e12, .max = 1e12},
    [JS_SECURE] = {.name = "secure", .type = VOLLEY_OPT_BOOL,
                   .offset = offsetof(jar_set_cfg, secure), .help = "sent over https:// only"},
    [JS_HTTP_ONLY] = {.name = "http_only", .type = VOLLEY_OPT_BOOL,
                      .offset = offsetof(jar_set_cfg, http_only),
                      .help = "the HttpOnly attribute (kept, as k6 keeps it)"},
};
static const volley_option_map jar_set_map = {jar_set_opts, VOLLEY_COUNTOF(jar_set_opts),
                                              sizeof(jar_set_cfg), NULL};

enum { JD_NAME, JD_URL };

typedef struct jar_del_cfg {
    uint64_t set;
    const char *name;
    const volley_template *url;
} jar_del_cfg;

static const volley_option jar_del_opts[] = {
    [JD_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .offset = offsetof(jar_del_cfg, name),
                 .flags = VOLLEY_OPT_REQUIRED, .help = "cookie name"},
    [JD_URL] = {.name = "url", .type = VOLLEY_OPT_TEMPLATE, .offset = offsetof(jar_del_cfg, url),
                .help = "the url whose cookie of that name goes (default: the step's url)"},
};
static const volley_option_map jar_del_map = {jar_del_opts, VOLLEY_COUNTOF(jar_del_opts),
                                              sizeof(jar_del_cfg), "name"};

enum { JO_USE, JO_CLEAR, JO_DELETE, JO_SET };

static const volley_option jar_opts[] = {
    [JO_USE] = {.name = "use", .type = VOLLEY_OPT_STRING, .offset = offsetof(http_jar_cfg, use),
                .help = "the VU's named jar this request uses instead of its own (k6 params.jar "
                        "with a new http.CookieJar()); vu: its own"},
    [JO_CLEAR] = {.name = "clear", .type = VOLLEY_OPT_TEMPLATE,
                  .offset = offsetof(http_jar_cfg, clear),
                  .help = "removes every cookie the jar holds for this url (k6 jar.clear)"},
    [JO_DELETE] = {.name = "delete", .type = VOLLEY_OPT_OBJECT_LIST,
                   .offset = offsetof(http_jar_cfg, del), .sub = &jar_del_map,
                   .help = "cookies removed by name for a url (k6 jar.delete): NAME or "
                           "{ name, url }"},
    [JO_SET] = {.name = "set", .type = VOLLEY_OPT_OBJECT_LIST,
                .offset = offsetof(http_jar_cfg, set_), .sub = &jar_set_map,
                .help = "cookies put into the jar (k6 jar.set): { name, value, url, domain, "
                        "path, expires, max_age, secure, http_only }"},
};
const volley_option_map http_jar_map = {jar_opts, VOLLEY_COUNTOF(jar_opts), sizeof(http_jar_cfg),
                                        "use"};

/* ---- step_compile ---- */

/* A cookie name is an RFC 9110 token. */
static bool cookie_name_ok(const char *s) { return http_token(s, strlen(s)); }

/* A jar's name: a letter or _, then letters, digits, _ and -. */
static bool jar_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || (s[0] >= '0' && s[0] <= '9') || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        if (!(letter || c == '_' || c == '-' || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* jar.use: the step's slot among the spec's named jars (0: the VU's own),
 * the name added at its first step. */
static int jar_slot(http_plugin *p, http_step *st, const char *name, char *err, size_t errcap)
{
    if (!jar_name_ok(name)) {
        snprintf(err, errcap, "jar.use: \"%s\" is not a jar name (a letter or _, then letters, "
                 "digits, _ and -; at most 32)", name);
        return -1;
    }
    if (strcmp(name, "vu") == 0)
        return 0;   /* the VU's own jar, by its name */
    unsigned i = 0;
    while (i < p->n_jar_names && strcmp(p->jar_names[i], name) != 0)
        i++;
    if (i == p->n_jar_names) {
        if (i == HTTP_MAX_JARS) {
            snprintf(err, errcap, "jar.use: \"%s\" is a named jar too many: a spec may name at "
                     "most %d (each VU has one of each besides its own)", name, HTTP_MAX_JARS);
            return -1;
        }
        p->jar_names[p->n_jar_names++] = name;
    }
    st->jar_slot = (unsigned char)(i + 1);
    return 0;
}

/* A problem with one jar option, said at the place its value was written
 * (config_error, revision 3) and in err as "jar.KEY[i].FIELD: why" (what
 * an older core reports at the step). */
static void bad(const http_plugin *p, const void *field, const char *key, char *err,
                size_t errcap, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void bad(const http_plugin *p, const void *field, const char *key, char *err,
                size_t errcap, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errcap, "%s: %s", key, why);
    if (VOLLEY_HAS(p->host, config_error) && p->host->config_error)
        p->host->config_error(p->core, field, "%s", why);
}

/* A jar.set domain or path: no space, control byte, ';' or ','. */
static int text_ok(const http_plugin *p, const char *const *field, const char *what, size_t i,
                   char *err, size_t errcap)
{
    for (const char *c = *field; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == ';' || *c == ',') {
            char key[64];
            snprintf(key, sizeof key, "jar.set[%zu].%s", i, what);
            bad(p, field, key, err, errcap, "\"%s\" cannot hold a space, ';' or ','", *field);
            return -1;
        }
    }
    return 0;
}

/* k6's jar (Go's) drops a cookie whose domain does not cover the url's
 * host without a word; when both are known at load time, say so. */
static void warn_foreign_domain(const http_plugin *p, const http_config *c, const jar_set_cfg *s,
                                size_t i)
{
    const volley_host *h = p->host;
    const char *url = VOLLEY_OPT_IS_SET(s, JS_URL) ? h->template_const(s->url)
                                                   : h->template_const(c->url);
    http_url_parts u;
    char dom[256];
    bool host_only;
    if (!url || http_cookie_url(url, &u) != 0 ||
        http_jar_domain(&u, s->domain, strlen(s->domain), dom, &host_only) == 0)
        return;
    if (VOLLEY_HAS(h, config_warning) && h->config_warning)
        h->config_warning(p->core, &s->domain, "\"%s\" does not cover %s, the host of %s: the "
                          "jar drops this cookie, as k6's jar.set does (jar.set[%zu])", s->domain,
                          u.host, VOLLEY_OPT_IS_SET(s, JS_URL) ? "its url" : "the step's url", i);
}

int http_cookie_compile(http_plugin *p, http_step *st, const http_config *c, char *err,
                        size_t errcap)
{
    const volley_host *h = p->host;
    st->jar_per_vu = c->jar_life == 1;
    if (VOLLEY_OPT_IS_SET(c, OPT_COOKIES)) {
        for (size_t i = 0; i < c->cookies.n; i++) {
            if (!cookie_name_ok(c->cookies.keys[i])) {
                snprintf(err, errcap, "cookies: \"%s\" is not a cookie name (a token: no "
                         "spaces, no ()<>@,;:\\\"/[]?={})", c->cookies.keys[i]);
                return -1;
            }
        }
        st->cookies = c->cookies;
        st->cookie_parts = st->cookies.n > 0;
        /* replace: the jar's cookies of those names stay out (k6) */
        if (h->revision >= 7 && c->cookies.replace) {
            const char **names = calloc(c->cookies.n, sizeof *names);
            if (!names) {
                snprintf(err, errcap, "out of memory");
                return -1;
            }
            for (size_t i = 0; i < c->cookies.n; i++)
                if (c->cookies.replace[i])
                    names[st->n_cookie_replace++] = c->cookies.keys[i];
            st->cookie_replace = names;
        }
    }
    if (!VOLLEY_OPT_IS_SET(c, OPT_JAR))
        return 0;
    const http_jar_cfg *j = &c->jar;
    if (VOLLEY_OPT_IS_SET(j, JO_USE) && jar_slot(p, st, j->use, err, errcap) != 0)
        return -1;
    size_t n = (VOLLEY_OPT_IS_SET(j, JO_CLEAR) ? 1 : 0) + j->del.n + j->set_.n;
    if (!n) {
        if (VOLLEY_OPT_IS_SET(j, JO_USE))
            return 0;
        snprintf(err, errcap, "jar: expected at least one of use, clear, delete, set");
        return -1;
    }
    if (!(st->jar_ops = calloc(n, sizeof *st->jar_ops))) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (VOLLEY_OPT_IS_SET(j, JO_CLEAR))
        st->jar_ops[st->n_jar_ops++] = (http_jar_op){.kind = HTTP_JAR_CLEAR, .url = j->clear};
    for (size_t i = 0; i < j->del.n; i++) {
        const jar_del_cfg *d = (const jar_del_cfg *)j->del.items + i;
        if (!cookie_name_ok(d->name)) {
            char key[64];
            snprintf(key, sizeof key, "jar.delete[%zu].name", i);
            bad(p, &d->name, key, err, errcap, "\"%s\" is not a cookie name", d->name);
            return -1;
        }
        st->jar_ops[st->n_jar_ops++] = (http_jar_op){
            .kind = HTTP_JAR_DELETE, .name = d->name,
            .url = VOLLEY_OPT_IS_SET(d, JD_URL) ? d->url : NULL};
    }
    for (size_t i = 0; i < j->set_.n; i++) {
        const jar_set_cfg *s = (const jar_set_cfg *)j->set_.items + i;
        http_jar_op *op = &st->jar_ops[st->n_jar_ops];
        *op = (http_jar_op){.kind = HTTP_JAR_SET, .name = s->name, .value = s->value,
                            .url = VOLLEY_OPT_IS_SET(s, JS_URL) ? s->url : NULL,
                            .secure = s->secure, .http_only = s->http_only};
        char key[64];
        if (!cookie_name_ok(s->name)) {
            snprintf(key, sizeof key, "jar.set[%zu].name", i);
            bad(p, &s->name, key, err, errcap, "\"%s\" is not a cookie name", s->name);
            return -1;
        }
        if (VOLLEY_OPT_IS_SET(s, JS_DOMAIN)) {
            if (text_ok(p, &s->domain, "domain", i, err, errcap) != 0)
                return -1;
            op->domain = s->domain;
            warn_foreign_domain(p, c, s, i);
        }
        if (VOLLEY_OPT_IS_SET(s, JS_PATH)) {
            if (text_ok(p, &s->path, "path", i, err, errcap) != 0)
                return -1;
            op->path = s->path;
        }
        if (VOLLEY_OPT_IS_SET(s, JS_MAX_AGE)) {
            op->has_max_age = true;
            op->max_age = s->max_age;
        } else if (VOLLEY_OPT_IS_SET(s, JS_EXPIRES) && *s->expires) {
            time_t t = curl_getdate(s->expires, NULL);
            if (t == -1) {
                snprintf(key, sizeof key, "jar.set[%zu].expires", i);
                bad(p, &s->expires, key, err, errcap, "\"%s\" is not a date (e.g. \"Mon, 02 "
                    "Jan 2006 15:04:05 GMT\")", s->expires);
                return -1;
            }
            op->expires = t > 0 ? (int64_t)t : 1;
        }
        st->n_jar_ops++;
    }
    st->cookie_parts = true;
    return 0;
}

/* ---- per request ---- */

/* The url an operation names: its own, rendered into vs->cookie, or the
 * step's request url. */
static const char *op_url(http_vu *vs, const http_step *st, const http_jar_op *op)
{
    const volley_host *h = vs->w->host;
    if (!op->url)
        return st->url_text ? st->url_text : vs->url.data;
    vs->cookie.len = 0;
    if (h->template_render(op->url, vs->vu, &vs->cookie) != 0 ||
        h->buf_reserve(&vs->cookie, 1) != 0)
        return NULL;
    vs->cookie.data[vs->cookie.len] = '\0';
    return vs->cookie.data;
}

/* jar: the step's operations, in the order clear, delete, set. */
static int run_ops(http_vu *vs, const http_step *st)
{
    const volley_host *h = vs->w->host;
    http_jar *jar = http_vu_jar(vs);
    for (size_t i = 0; i < st->n_jar_ops; i++) {
        const http_jar_op *op = &st->jar_ops[i];
        const char *url = op_url(vs, st, op);
        http_url_parts u;
        if (!url)
            return -1;
        if (http_cookie_url(url, &u) != 0)
            continue;   /* not an http(s):// url: nothing to do */
        if (op->kind == HTTP_JAR_CLEAR) {
            http_jar_remove(jar, &u, NULL, 0);
        } else if (op->kind == HTTP_JAR_DELETE) {
            http_jar_remove(jar, &u, op->name, strlen(op->name));
        } else {
            vs->cookie_val.len = 0;
            if (h->template_render(op->value, vs->vu, &vs->cookie_val) != 0)
                return -1;
            /* as k6's jar.set (Go's SetCookies): bytes a value cannot hold
             * are dropped */
            size_t k = 0;
            for (size_t b = 0; b < vs->cookie_val.len; b++)
                if (http_cookie_value_byte((unsigned char)vs->cookie_val.data[b]))
                    vs->cookie_val.data[k++] = vs->cookie_val.data[b];
            http_cookie_in in = {.name = op->name, .nlen = strlen(op->name),
                                 .value = vs->cookie_val.data ? vs->cookie_val.data : "",
                                 .vlen = k, .domain = op->domain,
                                 .dlen = op->domain ? strlen(op->domain) : 0,
                                 .path = op->path, .plen = op->path ? strlen(op->path) : 0,
                                 .expires = op->expires, .secure = op->secure,
                                 .http_only = op->http_only};
            if (op->has_max_age) {
                in.remove = op->max_age <= 0;
                in.expires = op->max_age > 0 ? (int64_t)time(NULL) + op->max_age : 0;
            }
            http_jar_put(jar, &u, &in);
        }
    }
    return 0;
}

int http_cookie_named(http_vu *vs, const http_step *st)
{
    http_vu *o = vs->jar_owner ? vs->jar_owner : vs;
    if (!o->named && !(o->named = calloc(HTTP_MAX_JARS, sizeof *o->named)))
        return -1;
    vs->jar = &o->named[st->jar_slot - 1];
    return 0;
}

/* k6 empties the VU's jar when a new iteration starts, and its local
 * jars are new objects then: each jar is emptied when a step first uses
 * it in a later iteration (a lane's iteration is its VU's: whichever of
 * them starts first empties it). */
static void jar_lifetime(http_jar *jar, const http_step *st, uint64_t it)
{
    if (jar->n && jar->iter != it && !st->jar_per_vu)
        http_jar_empty(jar);
    jar->iter = it;
}

int http_cookie_start(http_vu *vs, const http_step *st)
{
    jar_lifetime(http_vu_jar(vs), st, vs->w->host->vu_iteration(vs->vu));
    return st->n_jar_ops ? run_ops(vs, st) : 0;
}

int http_cookie_header(http_vu *vs, const http_step *st, const char *url)
{
    const volley_host *h = vs->w->host;
    volley_buf *b = &vs->cookie;
    b->len = 0;
    if (st->cookie_fixed && http_buf_add(h, b, st->cookie_fixed, strlen(st->cookie_fixed)) != 0)
        return -1;
    if (st->cookie_tmpl) {
        if (h->template_render(st->cookie_tmpl, vs->vu, b) != 0)
            return -1;
        if (http_header_clean(b->data ? b->data : (char *)"", b->len, NULL))
            b->len = 0;   /* blank: only the cookies below */
    }
    for (size_t i = 0; i < st->cookies.n; i++) {
        vs->cookie_val.len = 0;
        if (h->template_render(st->cookies.values[i], vs->vu, &vs->cookie_val) != 0)
            return -1;
        const char *k = st->cookies.keys[i];
        if (http_cookie_append(h, b, k, strlen(k), vs->cookie_val.data ? vs->cookie_val.data : "",
                               vs->cookie_val.len) != 0)
            return -1;
    }
    http_jar *jar = http_vu_jar(vs);
    if (jar->n) {
        http_url_parts u;
        if (http_cookie_url(url, &u) == 0 &&
            http_jar_header(h, jar, &u, b, st->cookie_replace, st->n_cookie_replace) < 0)
            return -1;
    }
    if (h->buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len] = '\0';
    return 0;
}

void http_cookie_response(http_vu *vs, const char *url)
{
    http_jar *jar = http_vu_jar(vs);
    bool was_empty = jar->n == 0;
    if (http_jar_store(jar, vs->resp.headers.data, vs->resp.headers.len, url) > 0 && was_empty)
        jar->iter = vs->w->host->vu_iteration(vs->vu);
}

/* A jar's cookies for the response's url into b, as *out ("" when it
 * has none). */
static void view_of(http_vu *vs, http_jar *jar, volley_buf *b, const char **out, size_t *len)
{
    *out = "";   /* an empty jar: no cost to VUs without cookies */
    *len = 0;
    if (!jar->n)
        return;
    const http_step *st = vs->step;
    const char *url = vs->redirects || !st->url_text ? vs->url.data : st->url_text;
    b->len = 0;
    http_url_parts u;
    if (!url || http_cookie_url(url, &u) != 0 ||
        http_jar_header(vs->w->host, jar, &u, b, NULL, 0) < 0 ||
        vs->w->host->buf_reserve(b, 1) != 0)
        return;
    b->data[b->len] = '\0';
    *out = b->data;
    *len = b->len;
}

void http_cookie_view(http_vu *vs, http_outcome *o)
{
    view_of(vs, http_vu_jar(vs), &vs->jar_view, &o->jar, &o->jar_len);
    if (!vs->step->jar_slot)
        return;   /* o->vu_jar NULL: the VU's own is o->jar */
    /* a step on a named jar: the VU's own too (k6's http.cookieJar()),
     * under the same lifetime rule as if this step had used it */
    http_jar *own = vs->jar_owner ? &vs->jar_owner->own_jar : &vs->own_jar;
    jar_lifetime(own, vs->step, vs->w->host->vu_iteration(vs->vu));
    view_of(vs, own, &vs->vu_jar_view, &o->vu_jar, &o->vu_jar_len);
}

void http_cookie_free(http_vu *vs)
{
    /* a lane's shared jars are its VU's to free: it has none of its own */
    http_jar_free(&vs->own_jar);
    if (vs->named) {
        for (size_t i = 0; i < HTTP_MAX_JARS; i++)
            http_jar_free(&vs->named[i]);
        free(vs->named);
        vs->named = NULL;
    }
    vs->jar = NULL;
    vs->jar_owner = NULL;
    free(vs->cookie.data);
    free(vs->cookie_val.data);
    free(vs->jar_view.data);
    free(vs->vu_jar_view.data);
}
