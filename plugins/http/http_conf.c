/*
 * http step options and step_compile. Everything that does not change per
 * request is built here once: the url text and its DNS pin, the header
 * list (as static curl_slist nodes), the body, the tag strings. A step
 * whose url, headers or body are templated keeps the templates; http.c
 * renders them per request into per-VU buffers.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_int.h"

const char *const http_method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE",
                                         "HEAD", "OPTIONS", NULL};

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
};

const volley_option_map http_step_options = {options, VOLLEY_COUNTOF(options),
                                             sizeof(http_config), NULL};

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return false;
    }
    return true;
}

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
    if (strspn(value, " \t\r\n") == vl) {
        memcpy(s + kl, ";", 2);
        return s;
    }
    memcpy(s + kl, ": ", 2);
    for (size_t i = 0; i < vl; i++)
        s[kl + 2 + i] = value[i] == '\r' || value[i] == '\n' ? ' ' : value[i];
    s[kl + 2 + vl] = '\0';
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
 * main thread) and returns the CURLOPT_RESOLVE list that pins it, so no
 * lookup happens during the load. NULL when the host is an IP literal or
 * does not resolve (then curl resolves at run time and a failure is
 * measured like any transport error).
 */
static struct curl_slist *pin_host(const http_plugin *p, const char *host, const char *port,
                                   const volley_step_info *info)
{
    if (is_ip_literal(host))
        return NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        p->host->log(p->core, VOLLEY_LOG_WARN, "%s: cannot resolve %s (%s); requests will retry the lookup",
                     info && info->location ? info->location : "http", host, gai_strerror(rc));
        return NULL;
    }
    char entry[1024];
    int n = snprintf(entry, sizeof entry, "%s:%s:", host, port);
    bool first = true;
    for (struct addrinfo *a = res; a && n > 0 && (size_t)n < sizeof entry - 64; a = a->ai_next) {
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
    freeaddrinfo(res);
    return first ? NULL : curl_slist_append(NULL, entry);
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
    st->resolve = pin_host(p, host, port, info);
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
    bool has_ctype = false, has_ua = false;
    bool has_body = st->body_kind != BODY_NONE;
    /* user headers + Content-Type + Expect + User-Agent */
    st->headers = calloc(m->n + 3, sizeof *st->headers);
    if (!st->headers)
        goto oom;
    for (size_t i = 0; i < m->n; i++) {
        const char *key = m->keys[i];
        if (!is_token(key)) {
            snprintf(err, errcap, "headers: invalid header name \"%s\"", key);
            return -1;
        }
        has_ctype |= strcasecmp(key, "content-type") == 0;
        has_ua |= strcasecmp(key, "user-agent") == 0;
        const char *v = p->host->template_const(m->values[i]);
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
    if (!has_ctype && has_body &&
        add_fixed(st, c->json ? "Content-Type: application/json" : "Content-Type:") != 0)
        goto oom;
    if (has_body && add_fixed(st, "Expect:") != 0)
        goto oom;
    /* Ours unless the step sets one. A header line rather than
     * CURLOPT_USERAGENT, which curl formats anew (aprintf) for every
     * request: ~4,500 instructions of its ~60,000 per keep-alive GET. */
    if (!has_ua && add_fixed(st, "User-Agent: " HTTP_USER_AGENT) != 0)
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

static int compile_body(http_plugin *p, http_step *st, const http_config *c,
                        char *err, size_t errcap)
{
    bool has_body = VOLLEY_OPT_IS_SET(c, OPT_BODY), has_json = VOLLEY_OPT_IS_SET(c, OPT_JSON);
    if (has_body && has_json) {
        snprintf(err, errcap, "body and json cannot be used together (json is a body)");
        return -1;
    }
    if ((has_body || has_json) && c->method == HTTP_HEAD) {
        snprintf(err, errcap, "a HEAD request cannot have a body");
        return -1;
    }
    const char *text = NULL;
    if (has_json) {
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
    if (compile_body(p, st, c, err, errcap) != 0 ||
        compile_headers(p, st, c, err, errcap) != 0)
        goto fail;

    const char *url = p->host->template_const(c->url);
    if (url) {
        if (check_url(p, st, url, info, err, errcap) != 0)
            goto fail;
        st->url_text = url;
        st->tag_url = url;
        st->tag_name = c->name ? c->name : url;
    } else {
        /* Tags must be run-long strings, so a templated url cannot tag its
         * own samples (and should not: one tag set per url). */
        st->url_tmpl = c->url;
        /* k6 would tag each rendered url; the template's display text
         * ("http://h/tx/${vu.id}") keeps it one tag value. */
        const char *shown = p->host->size >= offsetof(volley_host, template_display) + sizeof(void *) &&
                                    p->host->template_display
                                ? p->host->template_display(c->url) : NULL;
        st->tag_url = shown ? shown : "(templated url)";
        st->tag_name = c->name ? c->name : st->tag_url;
    }
    st->idx = p->n_steps++;
    return st;
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
    for (size_t i = 0; i < st->n_headers; i++)
        free(st->headers[i].line);
    free(st->headers);
    free(st->header_list);
    curl_slist_free_all(st->resolve);
    curl_url_cleanup(st->curlu);
    free(st);
}
