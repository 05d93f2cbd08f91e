/*
 * http step options and step_compile. Everything that does not change per
 * request is built here once: the url text and its DNS pin, the header
 * list (as static curl_slist nodes), the body, the tag strings. A step
 * whose url, headers or body are templated keeps the templates; the
 * request paths render them per request into per-VU buffers
 * (http_request.c).
 *
 * The fast path's part (compile_raw): whether the step may run on it, the
 * addresses of its host, and the request bytes curl 7.88 would send, whole
 * for a constant step (built by http_request.c, as at run time), in pieces
 * around the templated parts otherwise.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_int.h"

const char *const http_reuse_names[] = {"keep", "close", "per_iteration", NULL};

static const char *const auth_names[] = {"basic", "digest", "ntlm", NULL};

static const volley_option auth_options[] = {
    {.name = "scheme", .type = VOLLEY_OPT_ENUM, .offset = offsetof(http_auth_config, scheme),
     .flags = VOLLEY_OPT_REQUIRED, .enum_values = auth_names,
     .help = "basic, digest or ntlm (k6's auth param)"},
    {.name = "username", .type = VOLLEY_OPT_TEMPLATE,
     .offset = offsetof(http_auth_config, username),
     .help = "the user (default: the url's, http://user:pass@host/); ${env.*} is read at load time"},
    {.name = "password", .type = VOLLEY_OPT_TEMPLATE,
     .offset = offsetof(http_auth_config, password),
     .help = "the password (default: the url's)"},
};

static const volley_option_map auth_map = {auth_options, VOLLEY_COUNTOF(auth_options),
                                           sizeof(http_auth_config), "scheme"};

static const volley_option options[] = {
    [OPT_METHOD] = {.name = "method", .type = VOLLEY_OPT_ENUM,
                    .offset = offsetof(http_config, method), .default_value = "GET",
                    .help = "HTTP method", .enum_values = http_method_names},
    [OPT_URL] = {.name = "url", .type = VOLLEY_OPT_TEMPLATE,
                 .offset = offsetof(http_config, url), .flags = VOLLEY_OPT_REQUIRED,
                 .help = "request URL, http:// or https://"},
    [OPT_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING,
                  .offset = offsetof(http_config, name),
                  .help = "the `name` tag of the request's samples (default: the url)"},
    [OPT_HEADERS] = {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP,
                     .offset = offsetof(http_config, headers),
                     .help = "request headers (name: value)"},
    [OPT_BODY] = {.name = "body", .type = VOLLEY_OPT_TEMPLATE,
                  .offset = offsetof(http_config, body),
                  .help = "raw request body"},
    [OPT_JSON] = {.name = "json", .type = VOLLEY_OPT_JSON,
                  .offset = offsetof(http_config, json),
                  .help = "JSON request body (sets Content-Type: application/json)"},
    [OPT_TIMEOUT] = {.name = "timeout", .type = VOLLEY_OPT_DURATION,
                     .offset = offsetof(http_config, timeout_ns), .default_value = "60s",
                     .help = "request timeout, connecting included", .min = 0.000001,
                     .max = 86400},
    [OPT_QUERY] = {.name = "query", .type = VOLLEY_OPT_TEMPLATE_MAP,
                   .offset = offsetof(http_config, query), .flags = VOLLEY_OPT_REPEAT,
                   .help = "query parameters (name: value, or name: [a, b] for name=a&name=b), "
                           "URL-encoded and appended to the url"},
    [OPT_FORM] = {.name = "form", .type = VOLLEY_OPT_TEMPLATE_MAP,
                  .offset = offsetof(http_config, form), .flags = VOLLEY_OPT_REPEAT,
                  .help = "form body (name: value, or name: [a, b]), sent as "
                          "application/x-www-form-urlencoded"},
    [OPT_REDIRECTS] = {.name = "redirects", .type = VOLLEY_OPT_INT,
                       .offset = offsetof(http_config, redirects), .default_value = "10",
                       .help = "redirects followed at most (k6 maxRedirects; 0: none)",
                       .min = 0, .max = 100},
    [OPT_EXPECTED] = {.name = "expected_statuses", .type = VOLLEY_OPT_STRING_LIST,
                      .offset = offsetof(http_config, expected),
                      .help = "statuses that count as expected responses (http_req_failed), "
                              "codes or ranges such as 200-299 (default 200-399)"},
    [OPT_TLS] = {.name = "tls", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(http_config, tls),
                 .sub = &ptls_config_map, .help = PTLS_HELP},
    [OPT_REUSE] = {.name = "connection_reuse", .type = VOLLEY_OPT_ENUM,
                   .offset = offsetof(http_config, reuse), .default_value = "keep",
                   .enum_values = http_reuse_names,
                   .help = "keep (keep-alive), close (a new connection per request: k6 "
                           "noConnectionReuse) or per_iteration (none kept from the VU's "
                           "earlier iterations: k6 noVUConnectionReuse)"},
    [OPT_MAX_RESPONSE] = {.name = "max_response_size", .type = VOLLEY_OPT_INT,
                          .offset = offsetof(http_config, max_response),
                          .default_value = HTTP_MAX_RESPONSE,
                          .help = "bytes of response body at most; a larger one fails the "
                                  "request (error_code 1060). 0: no limit",
                          .min = 0, .max = 1099511627776.0},
    [OPT_COOKIES] = {.name = "cookies", .type = VOLLEY_OPT_TEMPLATE_MAP,
                     .offset = offsetof(http_config, cookies), .flags = VOLLEY_OPT_LONG_FORM,
                     .help = "cookies sent with this request (name: value, or name: { value, "
                             "replace: true } to leave out the jar's of that name), beside the "
                             "jar's; not put into the jar (k6 params.cookies)"},
    [OPT_JAR] = {.name = "jar", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(http_config, jar),
                 .sub = &http_jar_map,
                 .help = "changes to the VU's cookie jar made before the request: clear, "
                         "delete, set (k6 jar.clear, jar.delete, jar.set)"},
    [OPT_JAR_LIFE] = {.name = "cookie_jar", .type = VOLLEY_OPT_ENUM,
                      .offset = offsetof(http_config, jar_life), .default_value = "per_iteration",
                      .enum_values = http_jar_lifetimes,
                      .help = "per_iteration (k6: the VU's jar is emptied when an iteration "
                              "starts) or per_vu (kept across the VU's iterations)"},
    [OPT_AUTH] = {.name = "auth", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(http_config, auth),
                  .sub = &auth_map,
                  .help = "basic, digest or ntlm, with the url's credentials or "
                          "{ scheme, username, password } (k6's auth param)"},
    [OPT_MULTIPART] = {.name = "multipart", .type = VOLLEY_OPT_OBJECT_LIST,
                       .offset = offsetof(http_config, multipart), .sub = &http_part_map,
                       .help = "a multipart/form-data body: a list of parts { name, value } or "
                               "{ name, file, filename, content_type } (k6's http.file)"},
};

const volley_option_map http_step_options = {options, VOLLEY_COUNTOF(options),
                                             sizeof(http_config), NULL};

/* "Key: value" with CR/LF in the value turned into spaces (no header
 * injection); an empty (or blank) value is written "Key;", curl's form for
 * sending a header without a value ("Key:" would remove it). */
static char *header_line(const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    char *s = malloc(kl + vl + 3);
    if (!s)
        return NULL;
    memcpy(s, key, kl);
    memcpy(s + kl, ": ", 2);
    memcpy(s + kl + 2, value, vl + 1);
    if (http_header_clean(s + kl + 2, vl, NULL))
        memcpy(s + kl, ";", 2);
    return s;
}

static int add_fixed(http_step *st, const char *text)
{
    char *s = strdup(text);
    if (!s)
        return -1;
    st->headers[st->n_headers++] = (http_header){.line = s};
    return 0;
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return host[0] == '[' || inet_pton(AF_INET, host, buf) == 1;
}

/*
 * Resolves host once (blocking getaddrinfo: this runs at load time on the
 * main thread). NULL when it does not resolve (then curl resolves at run
 * time and a failure is measured like any transport error). An IP literal
 * (IPv6 in brackets) is only converted.
 */
static struct addrinfo *resolve(const http_plugin *p, const char *host, const char *port,
                                const volley_step_info *info)
{
    char lit[INET6_ADDRSTRLEN + 2];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    size_t hl = strlen(host);
    if (host[0] == '[' && hl >= 2 && hl - 2 < sizeof lit) {
        memcpy(lit, host + 1, hl - 2);
        lit[hl - 2] = '\0';
        host = lit;
        hints.ai_flags = AI_NUMERICHOST;
    }
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        if (!hints.ai_flags)
            p->host->log(p->core, VOLLEY_LOG_WARN,
                         "%s: cannot resolve %s (%s); requests will retry the lookup",
                         info && info->location ? info->location : "http", host, gai_strerror(rc));
        return NULL;
    }
    return res;
}

/* The CURLOPT_RESOLVE list that pins a resolved name, so no lookup happens
 * during the load; NULL for an IP literal (nothing to look up). */
static struct curl_slist *pin_host(const char *host, const char *port, const struct addrinfo *res)
{
    if (is_ip_literal(host) || !res)
        return NULL;
    char entry[1024];
    int n = snprintf(entry, sizeof entry, "%s:%s:", host, port);
    bool first = true;
    for (const struct addrinfo *a = res; a && n > 0 && (size_t)n < sizeof entry - 64; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        const void *src = a->ai_family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                              : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            !inet_ntop(a->ai_family, src, ip, sizeof ip))
            continue;
        char item[INET6_ADDRSTRLEN + 3];
        snprintf(item, sizeof item, a->ai_family == AF_INET6 ? "[%s]" : "%s", ip);
        if (strstr(entry, item))   /* getaddrinfo repeats addresses */
            continue;
        n += snprintf(entry + n, sizeof entry - (size_t)n, "%s%s", first ? "" : ",", item);
        first = false;
    }
    return first ? NULL : curl_slist_append(NULL, entry);
}

/* The fast path's copy of the addresses, in getaddrinfo's order (the order
 * of the pin, which curl tries), without repeats. */
static int keep_addrs(http_step *st, const struct addrinfo *res)
{
    size_t n = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    if (!n || !(st->addrs = calloc(n, sizeof *st->addrs)))
        return -1;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            a->ai_addrlen > sizeof st->addrs[0].sa)
            continue;
        bool seen = false;
        for (size_t i = 0; i < st->n_addrs && !seen; i++)
            seen = st->addrs[i].len == a->ai_addrlen &&
                   memcmp(&st->addrs[i].sa, a->ai_addr, a->ai_addrlen) == 0;
        if (seen)
            continue;
        memcpy(&st->addrs[st->n_addrs].sa, a->ai_addr, a->ai_addrlen);
        st->addrs[st->n_addrs++].len = a->ai_addrlen;
    }
    return st->n_addrs ? 0 : -1;
}

/* Checks a constant url, keeps it parsed and builds its DNS pin. */
static int check_url(http_plugin *p, http_step *st, const char *url,
                     const volley_step_info *info, char *err, size_t errcap)
{
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, errcap, "url: expected an http:// or https:// URL, got \"%s\"", url);
        return -1;
    }
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (!u) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (uc != CURLUE_OK) {
        snprintf(err, errcap, "url: invalid URL \"%s\" (%s)", url, curl_url_strerror(uc));
        goto done;
    }
    struct addrinfo *res = resolve(p, host, port, info);
    st->resolve = pin_host(host, port, res);
    /* The fast path connects to the same addresses. */
    if (p->raw_enabled && res && keep_addrs(st, res) != 0) {
        free(st->addrs);
        st->addrs = NULL;
        st->n_addrs = 0;
    }
    if (res)
        freeaddrinfo(res);
    /* Handed to curl with CURLOPT_CURLU, which only reads it: saves curl
     * parsing the url text again for every request (~10% of its work). */
    st->curlu = u;
    u = NULL;
    rc = 0;
done:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static int compile_headers(http_plugin *p, http_step *st, const http_config *c,
                           char *err, size_t errcap)
{
    const volley_template_map *m = &c->headers;
    bool has_ctype = false, has_ua = false, has_conn = false;
    bool has_body = st->body_kind != BODY_NONE;
    /* user headers + Content-Type + Expect + User-Agent + Connection */
    st->headers = calloc(m->n + 4, sizeof *st->headers);
    if (!st->headers)
        goto oom;
    for (size_t i = 0; i < m->n; i++) {
        const char *key = m->keys[i];
        if (!http_token(key, strlen(key))) {
            snprintf(err, errcap, "headers: invalid header name \"%s\"", key);
            return -1;
        }
        has_ctype |= strcasecmp(key, "content-type") == 0;
        has_ua |= strcasecmp(key, "user-agent") == 0;
        has_conn |= strcasecmp(key, "connection") == 0;
        const char *v = p->host->template_const(m->values[i]);
        if (strcasecmp(key, "cookie") == 0) {
            /* merged with the step's cookies and the jar's into one line
             * per request (http_cookie.c) */
            st->cookie_parts = true;
            if (!v) {
                st->cookie_tmpl = m->values[i];
            } else if (!(st->cookie_fixed = strdup(v))) {
                goto oom;
            } else if (http_header_clean(st->cookie_fixed, strlen(st->cookie_fixed), NULL)) {
                st->cookie_fixed[0] = '\0';
            }
            continue;
        }
        http_header *h = &st->headers[st->n_headers++];
        h->key = key;
        if (v) {
            if (!(h->line = header_line(key, v)))
                goto oom;
        } else {
            h->value = m->values[i];
            st->headers_dynamic = true;
        }
    }
    /* curl would add "Content-Type: application/x-www-form-urlencoded" to
     * any body and "Expect: 100-continue" to large ones; k6 sends neither. */
    const char *ctype = VOLLEY_OPT_IS_SET(c, OPT_JSON)   ? "Content-Type: application/json"
                        : VOLLEY_OPT_IS_SET(c, OPT_FORM) ? "Content-Type: application/x-www-form-urlencoded"
                        : st->mp_ctype                   ? st->mp_ctype
                                                         : "Content-Type:";
    if (!has_ctype && has_body && add_fixed(st, ctype) != 0)
        goto oom;
    if (has_body && add_fixed(st, "Expect:") != 0)
        goto oom;
    /* Ours unless the step sets one. A header line rather than
     * CURLOPT_USERAGENT, which curl formats anew (aprintf) for every
     * request: ~4,500 instructions of its ~60,000 per keep-alive GET. */
    if (!has_ua && add_fixed(st, "User-Agent: " HTTP_USER_AGENT) != 0)
        goto oom;
    /* connection_reuse: close tells the server, as Go (k6) does with
     * DisableKeepAlives: the server then closes first, so the TIME_WAIT
     * of each connection is the server's, not the load generator's (whose
     * ephemeral ports would run out at ~470 new connections a second to
     * one address off loopback). Both clients send it, as a header line. */
    if (c->reuse == HTTP_REUSE_CLOSE && !has_conn && add_fixed(st, "Connection: close") != 0)
        goto oom;
    if (!st->headers_dynamic && st->n_headers) {
        struct curl_slist *nodes = calloc(st->n_headers, sizeof *nodes);
        if (!nodes)
            goto oom;
        for (size_t i = 0; i < st->n_headers; i++) {
            nodes[i].data = st->headers[i].line;
            nodes[i].next = i + 1 < st->n_headers ? &nodes[i + 1] : NULL;
        }
        st->header_list = nodes;
    }
    return 0;
oom:
    snprintf(err, errcap, "out of memory");
    return -1;
}

/* A constant pair list, for a step whose query or form has no run-time part. */
static char *const_pairs(const volley_host *h, const char *prefix, const volley_template_map *m)
{
    volley_buf b = {0};
    size_t pl = strlen(prefix);
    char *out = NULL;
    if (h->buf_reserve(&b, pl) == 0) {
        memcpy(b.data, prefix, pl);
        b.len = pl;
        if (h->template_map_urlencode(m, NULL, &b) == 0)
            out = b.data, b.data = NULL;
    }
    free(b.data);
    return out;
}

static bool map_is_const(const volley_host *h, const volley_template_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (!h->template_const(m->values[i]))
            return false;
    return true;
}

/* expected_statuses: "200", "200-299" into ranges. */
static int compile_expected(http_step *st, const http_config *c, char *err, size_t errcap)
{
    if (!VOLLEY_OPT_IS_SET(c, OPT_EXPECTED))
        return 0;
    if (c->expected.n == 0) {
        snprintf(err, errcap, "expected_statuses: expected at least one status or range");
        return -1;
    }
    st->expected = calloc(c->expected.n, sizeof *st->expected);
    if (!st->expected) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->expected.n; i++) {
        const char *s = c->expected.v[i];
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;
        if (end != s && *end == '-')
            hi = strtol(end + 1, &end, 10);
        if (end == s || *end || lo < 100 || hi > 599 || lo > hi) {
            snprintf(err, errcap, "expected_statuses: \"%s\" is not a status (100-599) or a range "
                     "such as 200-299", s);
            return -1;
        }
        st->expected[st->n_expected++] = (http_status_range){(int)lo, (int)hi};
    }
    return 0;
}

/* auth: the CURLAUTH_* of its scheme; a step with one runs on curl. */
static int compile_auth(const http_plugin *p, http_step *st, const http_config *c, char *err,
                        size_t errcap)
{
    if (!VOLLEY_OPT_IS_SET(c, OPT_AUTH))
        return 0;
    const http_auth_config *a = &c->auth;
    st->auth = a->scheme == HTTP_AUTH_DIGEST ? (long)CURLAUTH_DIGEST
               : a->scheme == HTTP_AUTH_NTLM ? (long)CURLAUTH_NTLM
                                             : (long)CURLAUTH_BASIC;
    const volley_template *t[2] = {a->username, a->password};
    const char *v[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        if (t[i] && !(v[i] = p->host->template_const(t[i]))) {
            snprintf(err, errcap, "auth.%s: must be known at load time (${env.*}, "
                     "${services.*}), not per request", i ? "password" : "username");
            return -1;
        }
    }
    if (v[1] && !v[0]) {
        snprintf(err, errcap, "auth: a password needs a username");
        return -1;
    }
    st->auth_user = v[0];
    st->auth_pass = v[1] ? v[1] : v[0] ? "" : NULL;
    /* a constant url without credentials and no username: nothing to send */
    const char *url = p->host->template_const(c->url);
    const char *host = url ? strstr(url, "://") : NULL;
    if (!v[0] && host && !memchr(host + 3, '@', strcspn(host + 3, "/?#"))) {
        snprintf(err, errcap, "auth: %s needs credentials: in the url (http://user:pass@host/) "
                 "or username and password", auth_names[a->scheme]);
        return -1;
    }
    return 0;
}

static int compile_body(http_plugin *p, http_step *st, const http_config *c,
                        char *err, size_t errcap)
{
    bool has_body = VOLLEY_OPT_IS_SET(c, OPT_BODY), has_json = VOLLEY_OPT_IS_SET(c, OPT_JSON);
    bool has_form = VOLLEY_OPT_IS_SET(c, OPT_FORM), has_mp = VOLLEY_OPT_IS_SET(c, OPT_MULTIPART);
    if (has_body + has_json + has_form + has_mp > 1) {
        snprintf(err, errcap, "body, json, form and multipart cannot be used together (each is a body)");
        return -1;
    }
    if ((has_body || has_json || has_form || has_mp) && c->method == HTTP_HEAD) {
        snprintf(err, errcap, "a HEAD request cannot have a body");
        return -1;
    }
    const char *text = NULL;
    if (has_mp) {
        return http_mp_compile(p, st, &c->multipart, err, errcap);
    } else if (has_form) {
        for (size_t i = 0; i < c->form.n; i++) {
            if (!*c->form.keys[i]) {
                snprintf(err, errcap, "form: a field needs a name");
                return -1;
            }
        }
        if (!map_is_const(p->host, &c->form)) {
            st->body_kind = BODY_FORM;
            st->form = c->form;
            return 0;
        }
        if (!(st->form_text = const_pairs(p->host, "", &c->form))) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        text = st->form_text;
    } else if (has_json) {
        if (!(text = p->host->json_const(c->json))) {
            st->body_kind = BODY_JSON;
            st->body_json = c->json;
            return 0;
        }
    } else if (has_body) {
        if (!(text = p->host->template_const(c->body))) {
            st->body_kind = BODY_TEMPLATE;
            st->body_tmpl = c->body;
            return 0;
        }
    } else if (c->method == HTTP_POST || c->method == HTTP_PUT || c->method == HTTP_PATCH) {
        text = "";   /* sent with Content-Length: 0, as Go does */
    } else {
        return 0;
    }
    st->body_kind = BODY_FIXED;
    st->body_text = text;
    st->body_len = strlen(text);
    return 0;
}

/* ---- fast path ---- */

/* Load-time text: a failed append is remembered in *oom and checked once,
 * where the text is kept. */
static void add(const volley_host *h, volley_buf *b, const char *s, size_t n, bool *oom)
{
    if (!*oom && http_buf_add(h, b, s, n) != 0)
        *oom = true;
}

static void add_str(const volley_host *h, volley_buf *b, const char *s, bool *oom)
{
    add(h, b, s, strlen(s), oom);
}

/* Whether a header value is only white space as curl counts it. */
static bool curl_blank(const char *v)
{
    while (*v && http_curl_space((unsigned char)*v))
        v++;
    return !*v;
}

/*
 * The bytes curl 7.88 sends for a fixed header line of ours
 * (Curl_add_custom_headers): "Key: value" as it is, "Key;" as "Key:", a
 * line whose value is only white space not at all (NULL).
 */
static char *curl_header_bytes(const volley_host *h, const char *line, size_t *len)
{
    const char *colon = strchr(line, ':');
    volley_buf b = {0};
    bool oom = false;
    if (colon) {
        if (curl_blank(colon + 1))
            return NULL;
        add_str(h, &b, line, &oom);
    } else {
        const char *semi = strchr(line, ';');
        if (!semi || semi[1])
            return NULL;
        add(h, &b, line, (size_t)(semi - line), &oom);
        add_str(h, &b, ":", &oom);
    }
    add_str(h, &b, "\r\n", &oom);
    *len = b.len;
    return oom ? (free(b.data), NULL) : b.data;
}

/*
 * "host[:port]" of an http:// or https:// url as curl sends it in Host
 * (the text as written, the port only when not the scheme's, 80 or 443).
 * A name of letters, digits, dots and hyphens, an IPv4 address or a
 * bracketed IPv6 one; anything else (user info, zone ids, odd ports) stays
 * on curl.
 */
static bool parse_authority(const volley_host *h, http_step *st, const char *a, size_t n,
                            unsigned default_port, volley_buf *hostline, bool *oom)
{
    size_t hl;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return false;
        hl = (size_t)(close - a) + 1;
        for (size_t i = 1; i + 1 < hl; i++)
            if (!strchr("0123456789abcdefABCDEF:.", a[i]))
                return false;
    } else {
        hl = 0;
        while (hl < n && a[hl] != ':') {
            char c = a[hl++];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-'))
                return false;
        }
        if (!hl || a[hl - 1] == '.')
            return false;
    }
    unsigned port = default_port;
    if (hl < n) {
        if (a[hl] != ':' || hl + 1 == n || n - hl - 1 > 5)
            return false;
        port = 0;
        for (size_t i = hl + 1; i < n; i++) {
            if (a[i] < '0' || a[i] > '9')
                return false;
            port = port * 10 + (unsigned)(a[i] - '0');
        }
        if (port == 0 || port > 65535)
            return false;
    }
    st->host_name = strndup(a, hl);
    st->port = port;
    if (!st->host_name)
        return false;
    add_str(h, hostline, "Host: ", oom);
    add(h, hostline, a, hl, oom);
    if (port != default_port) {
        char num[16];
        snprintf(num, sizeof num, ":%u", port);
        add_str(h, hostline, num, oom);
    }
    add_str(h, hostline, "\r\n", oom);
    return true;
}

/*
 * Decides whether the fast path (http_raw.c) may run the step and prebuilds
 * its request as curl 7.88 writes it (checked against captures of what curl
 * sent): the request line, Host (or the step's own Host in its place),
 * Accept: * / * unless the step sets Accept, the step's header lines in
 * order as curl sends them, Content-Length when there is a body, the body.
 * It may when the url is http:// (or https://, unless VOLLEY_HTTP_FAST_TLS
 * is off) with a host this file understands, constant or templated after a
 * constant "http://host:port/", the host resolved, and no header curl
 * treats specially (Host that is templated or blank, Content-Length,
 * Transfer-Encoding, Expect). An https:// step gets its TLS profile's
 * context ready for it (the default profile without tls:). Anything else
 * stays on curl; so does everything with VOLLEY_HTTP_CLIENT=curl. -1 with
 * err when it cannot be done (out of memory, OpenSSL).
 */
static int compile_raw(http_plugin *p, http_step *st, const char *url, const char *shown,
                       const volley_step_info *info, char *err, size_t errcap)
{
    const volley_host *h = p->host;
    const char *text = url ? url : shown;
    /* auth: curl answers the server's challenge (and keeps NTLM's
     * connection for it) */
    if (!p->raw_enabled || !text || st->auth)
        return 0;
    bool tls = strncmp(text, "https://", 8) == 0;
    if (!(tls ? p->raw_tls : strncmp(text, "http://", 7) == 0))
        return 0;
    size_t scheme = tls ? 8 : 7;
    const char *a = text + scheme;
    size_t alen = strcspn(a, "/?#$");
    if (a[alen] != '/' || !alen)
        return 0;
    if (!url) {
        const char *dyn = strstr(text, "${");
        if (!dyn || dyn <= a + alen)
            return 0;
    }
    volley_buf hostline = {0}, mid = {0}, req = {0};
    bool oom = false;
    int rc = -1;
    if (!parse_authority(h, st, a, alen, tls ? 443 : 80, &hostline, &oom))
        goto no;
    if (!(st->origin = strndup(text, scheme + alen + 1)))
        goto out;
    st->origin_len = scheme + alen + 1;
    if (!url) {
        char port[8];
        snprintf(port, sizeof port, "%u", st->port);
        struct addrinfo *res = resolve(p, st->host_name, port, info);
        int k = res ? keep_addrs(st, res) : -1;
        if (res)
            freeaddrinfo(res);
        if (k != 0)
            goto no;
    } else {
        if (!st->n_addrs || !http_url_verbatim(st, url, strlen(url)))
            goto no;
        st->raw_target = url + st->origin_len - 1;
        st->raw_target_len = strlen(st->raw_target);
    }

    bool has_accept = false;
    for (size_t i = 0; i < st->n_headers; i++) {
        http_header *hd = &st->headers[i];
        if (hd->key) {
            if (strcasecmp(hd->key, "content-length") == 0 ||
                strcasecmp(hd->key, "transfer-encoding") == 0 ||
                strcasecmp(hd->key, "expect") == 0)
                goto no;
            has_accept |= strcasecmp(hd->key, "accept") == 0;
            if (strcasecmp(hd->key, "host") == 0) {
                /* curl writes "Host:" and our text after the key, in Host's place */
                size_t kl = strlen(hd->key);
                if (!hd->line || hd->line[kl] != ':' || curl_blank(hd->line + kl + 1))
                    goto no;
                hostline.len = 0;
                add_str(h, &hostline, "Host:", &oom);
                add_str(h, &hostline, hd->line + kl + 1, &oom);
                add_str(h, &hostline, "\r\n", &oom);
                continue;   /* raw_len 0: not sent again among the others */
            }
        }
        if (hd->line) {
            char *bytes = curl_header_bytes(h, hd->line, &hd->raw_len);
            hd->raw = bytes;
            if (!bytes)
                hd->raw_len = 0;
        }
    }
    add_str(h, &mid, " HTTP/1.1\r\n", &oom);
    add(h, &mid, hostline.data ? hostline.data : "", hostline.len, &oom);
    if (!has_accept)
        add_str(h, &mid, "Accept: */*\r\n", &oom);
    if (oom)
        goto out;
    st->raw_mid = mid.data;
    st->raw_mid_len = mid.len;
    mid.data = NULL;

    if (url && !st->headers_dynamic && (st->body_kind == BODY_NONE || st->body_kind == BODY_FIXED)) {
        /* the same bytes http_raw.c renders for a templated step */
        if (http_render_head(h, &req, st, NULL, st->raw_target, st->raw_target_len,
                          st->body_len, NULL) != 0 ||
            (st->body_kind == BODY_FIXED &&
             http_buf_add(h, &req, st->body_text, st->body_len) != 0))
            goto out;
        st->raw_req = req.data;
        st->raw_req_len = req.len;
        req.data = NULL;
    }
    if (tls) {
        const char *n = st->host_name;
        size_t nl = strlen(n);
        st->tls_host = n[0] == '[' ? strndup(n + 1, nl - 2) : strdup(n);
        if (!st->tls_host)
            goto out;
        st->tls_host_ip = n[0] == '[' || is_ip_literal(n);
        if (http_tls_compile(p, st, err, errcap) != 0) {
            free(hostline.data);
            free(mid.data);
            return -1;
        }
    }
    st->raw = true;
no:
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, errcap, "out of memory");
    free(hostline.data);
    free(mid.data);
    free(req.data);
    return rc;
}

/* step_host: the url's "scheme://host:port" when the load knows it (a
 * batch's per-host limit counts by it, as k6's batchPerHost by the url's
 * host); NULL when the host is templated. */
static char *batch_host(const char *url)
{
    const char *a = url ? strstr(url, "://") : NULL;
    if (!a || memchr(url, '$', (size_t)(a - url)))
        return NULL;
    a += 3;
    size_t n = strcspn(a, "/?#");
    if (!n || memchr(a, '$', n))
        return NULL;
    return strndup(url, (size_t)(a - url) + n);
}

/* k6 never shows a url's credentials: "http://user:pw@host/" is tagged
 * "http://" "****:****@host/" ("****@host/" with a user alone). The
 * request still carries them (curl sends them as basic auth). -1: out of
 * memory. */
static int mask_tags(http_step *st, const char *name)
{
    const char *u = st->tag_url, *auth = strstr(u, "://");
    if (!auth)
        return 0;
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < auth + alen; q++)
        if (*q == '@')
            at = q;
    if (!at)
        return 0;
    bool pw = memchr(auth, ':', (size_t)(at - auth)) != NULL;
    const char *mask = pw ? "****:****" : "****";
    size_t head = (size_t)(auth - u), n = head + strlen(mask) + strlen(at) + 1;
    if (!(st->tag_masked = malloc(n)))
        return -1;
    snprintf(st->tag_masked, n, "%.*s%s%s", (int)head, u, mask, at);
    st->tag_url = st->tag_masked;
    if (!name)
        st->tag_name = st->tag_masked;
    return 0;
}

void *http_step_compile(void *inst, const void *config, const volley_step_info *info,
                        char *err, size_t errcap)
{
    http_plugin *p = inst;
    const http_config *c = config;
    http_step *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    st->method = c->method;
    int64_t ms = (c->timeout_ns + 999999) / 1000000;
    st->timeout_ms = ms < 1 ? 1 : (long)ms;
    st->max_redirects = (unsigned)c->redirects;
    st->reuse = c->reuse;
    st->max_body = (uint64_t)c->max_response;
    /* A body nobody reads is counted and dropped (a core before revision 4
     * does not say: kept). */
    st->keep_body = p->host->revision < 4 || (info->reads & VOLLEY_READS_BODY);
    if (compile_body(p, st, c, err, errcap) != 0 ||
        compile_headers(p, st, c, err, errcap) != 0 ||
        compile_expected(st, c, err, errcap) != 0 ||
        http_cookie_compile(p, st, c, err, errcap) != 0 ||
        compile_auth(p, st, c, err, errcap) != 0)
        goto fail;
    /* tls: applies to https (and to a redirect from http to https);
     * checked at load time whatever the url. */
    if (c->tls.set && !(st->tls = ptls_compile(&p->tls, p->host, p->core, &c->tls, false, err,
                                               errcap)))
        goto fail;

    const char *url = p->host->template_const(c->url);
    bool has_query = VOLLEY_OPT_IS_SET(c, OPT_QUERY) && c->query.n > 0;
    for (size_t i = 0; has_query && i < c->query.n; i++) {
        if (!*c->query.keys[i]) {
            snprintf(err, errcap, "query: a parameter needs a name");
            goto fail;
        }
    }
    if (url && has_query && map_is_const(p->host, &c->query)) {
        /* All constant: the url with its query is one constant url. */
        if (strchr(url, '#')) {
            snprintf(err, errcap, "query: the url has a #fragment; put the query in the url or drop the fragment");
            goto fail;
        }
        const char *sep = strchr(url, '?') ? "&" : "?";
        size_t ul = strlen(url);
        char *prefix = malloc(ul + 2);
        if (!prefix)
            goto oom;
        memcpy(prefix, url, ul);
        memcpy(prefix + ul, sep, 2);
        st->url_built = const_pairs(p->host, prefix, &c->query);
        free(prefix);
        if (!st->url_built)
            goto oom;
        url = st->url_built;
    } else if (has_query) {
        st->query = c->query;
        if (url) {
            st->url_base = url;   /* rendered per request with its query */
            url = NULL;
        }
    }
    if (url) {
        if (check_url(p, st, url, info, err, errcap) != 0)
            goto fail;
        st->url_text = url;
        st->tag_url = url;
        st->tag_name = c->name ? c->name : url;
        if (mask_tags(st, c->name) != 0)
            goto oom;
    } else {
        /* Tags must be run-long strings, so a templated url cannot tag its
         * own samples (and should not: one tag set per url). */
        st->url_tmpl = st->url_base ? NULL : c->url;
        /* k6 would tag each rendered url; the template's display text
         * ("http://h/tx/${vu.id}") keeps it one tag value. */
        const char *shown = st->url_base ? st->url_base
                            : p->host->size >= offsetof(volley_host, template_display) + sizeof(void *) &&
                                    p->host->template_display
                                ? p->host->template_display(c->url) : NULL;
        st->tag_url = shown ? shown : "(templated url)";
        st->tag_name = c->name ? c->name : st->tag_url;
        if (mask_tags(st, c->name) != 0)
            goto oom;
        if (compile_raw(p, st, NULL, shown, info, err, errcap) != 0)
            goto fail;
    }
    if (url && compile_raw(p, st, url, NULL, info, err, errcap) != 0)
        goto fail;
    st->batch_host = batch_host(st->url_text ? st->url_text : st->tag_url);
    st->idx = p->n_steps++;
    return st;
oom:
    snprintf(err, errcap, "out of memory");
fail:
    http_step_free(p, st);
    return NULL;
}

void http_step_free(void *inst, void *step)
{
    (void)inst;
    http_step *st = step;
    if (!st)
        return;
    for (size_t i = 0; i < st->n_headers; i++) {
        free(st->headers[i].line);
        free((char *)st->headers[i].raw);
    }
    free(st->headers);
    free(st->origin);
    free(st->batch_host);
    free(st->host_name);
    free(st->tls_host);
    free(st->addrs);
    free(st->raw_req);
    free(st->raw_mid);
    free(st->header_list);
    free(st->url_built);
    free(st->tag_masked);
    free(st->form_text);
    free(st->expected);
    free(st->cookie_fixed);
    free((void *)st->cookie_replace);
    free(st->jar_ops);
    free(st->mp_bytes);
    free(st->mp_ctype);
    free(st->mp_segs);
    curl_slist_free_all(st->resolve);
    curl_url_cleanup(st->curlu);
    free(st);
}
