/*
 * ws step options and step_compile. The url's address is resolved here,
 * once, on the main thread: Debian's libwebsockets 4.1.6 resolves with a
 * blocking getaddrinfo in the loop thread, so sessions connect to the IP
 * literal and send the name in Host. What does not change per session
 * (path, Host, subprotocol list, header names) is built once. Origin is an
 * ordinary header here: lws' own Origin option would prefix "http://".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "duration.h"
#include "ws_int.h"

/* Durations a session may draw at run time ("${random.int(2000, 8000)}ms")
 * are templates here; step_compile parses the constant ones (ws_dur). */
static const volley_option send_every_options[] = {
    {.name = "interval", .type = VOLLEY_OPT_TEMPLATE,
     .offset = offsetof(ws_send_every_cfg, interval), .flags = VOLLEY_OPT_REQUIRED,
     .help = "time between two sends (1ms to 24h; may use run-time ${...}, drawn per session)"},
    {.name = "message", .type = VOLLEY_OPT_JSON_LIST,
     .offset = offsetof(ws_send_every_cfg, message), .flags = VOLLEY_OPT_REQUIRED,
     .help = "what to send each time: a JSON value (sent as compact JSON text) or a string "
             "(sent as it is), or a list of them"},
};
static const volley_option_map send_every_map = {send_every_options, 2,
                                                 sizeof(ws_send_every_cfg), NULL};

static const volley_option expect_options[] = {
    {.name = "match", .type = VOLLEY_OPT_CHECKS, .offset = offsetof(ws_expect_cfg, match),
     .flags = VOLLEY_OPT_REQUIRED | VOLLEY_OPT_MATCH_ONLY,
     .help = "conditions (check keys such as json:, body:) a received message must meet"},
    {.name = "timeout", .type = VOLLEY_OPT_DURATION, .offset = offsetof(ws_expect_cfg, timeout_ns),
     .default_value = "10s", .help = "how long to wait for it; then the session fails",
     .min = 0.001, .max = 86400},
    {.name = "capture", .type = VOLLEY_OPT_CAPTURES, .offset = offsetof(ws_expect_cfg, capture),
     .help = "values taken from the matching message for later steps (NAME: json.PATH ...)"},
};
static const volley_option_map expect_map = {expect_options, 3, sizeof(ws_expect_cfg), NULL};

static const volley_option send_after_options[] = {
    [SA_AFTER] = {.name = "after", .type = VOLLEY_OPT_TEMPLATE,
                  .offset = offsetof(ws_send_after_cfg, after), .flags = VOLLEY_OPT_REQUIRED,
                  .help = "how long after the session opened (0 to 7 days; may use run-time "
                          "${...}, drawn per session)"},
    [SA_MESSAGE] = {.name = "message", .type = VOLLEY_OPT_JSON_LIST,
                    .offset = offsetof(ws_send_after_cfg, message),
                    .help = "what to send then (as send_on_open's items)"},
    [SA_CLOSE_AFTER] = {.name = "close_after", .type = VOLLEY_OPT_TEMPLATE,
                        .offset = offsetof(ws_send_after_cfg, close_after),
                        .help = "then close the session this long after (1us to 7 days)"},
    [SA_STOP_EVERY] = {.name = "stop_send_every", .type = VOLLEY_OPT_BOOL,
                       .offset = offsetof(ws_send_after_cfg, stop_send_every),
                       .default_value = "false", .help = "then send_every sends no more"},
};
static const volley_option_map send_after_map = {send_after_options, 4,
                                                 sizeof(ws_send_after_cfg), NULL};

static const volley_option on_message_options[] = {
    [OM_MATCH] = {.name = "match", .type = VOLLEY_OPT_CHECKS,
                  .offset = offsetof(ws_on_message_cfg, match), .flags = VOLLEY_OPT_MATCH_ONLY,
                  .help = "conditions (check keys such as json:, body:) a received message must "
                          "meet (default: every message)"},
    [OM_SEND] = {.name = "send", .type = VOLLEY_OPT_JSON_LIST,
                 .offset = offsetof(ws_on_message_cfg, send), .flags = VOLLEY_OPT_REQUIRED,
                 .help = "what to send when a message meets match (as send_on_open's items)"},
    [OM_AFTER] = {.name = "after", .type = VOLLEY_OPT_TEMPLATE,
                  .offset = offsetof(ws_on_message_cfg, after),
                  .help = "send this long after the message came (0 to 7 days; may use "
                          "run-time ${...}, drawn per message)"},
};
static const volley_option_map on_message_map = {on_message_options, 3,
                                                 sizeof(ws_on_message_cfg), NULL};

static const volley_option reply_options[] = {
    {.name = "request", .type = VOLLEY_OPT_STRING, .offset = offsetof(ws_reply_cfg, request),
     .help = "JSON path of the id in a sent message"},
    {.name = "reply", .type = VOLLEY_OPT_STRING, .offset = offsetof(ws_reply_cfg, reply),
     .help = "JSON path of the same id in a received message (default: request's path)"},
    {.name = "next", .type = VOLLEY_OPT_BOOL, .offset = offsetof(ws_reply_cfg, next),
     .default_value = "false",
     .help = "true: each received message answers the oldest unanswered send"},
};
static const volley_option_map reply_map = {reply_options, 3, sizeof(ws_reply_cfg), "request"};

static const volley_option options[] = {
    [OPT_URL] = {.name = "url", .type = VOLLEY_OPT_TEMPLATE, .offset = offsetof(ws_config, url),
                 .flags = VOLLEY_OPT_REQUIRED, .help = "ws:// or wss:// URL"},
    [OPT_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .offset = offsetof(ws_config, name),
                  .help = "the `name` tag of the session's samples (default: the url)"},
    [OPT_HEADERS] = {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP,
                     .offset = offsetof(ws_config, headers),
                     .help = "handshake request headers (name: value)"},
    [OPT_QUERY] = {.name = "query", .type = VOLLEY_OPT_TEMPLATE_MAP,
                   .offset = offsetof(ws_config, query),
                   .help = "query parameters (name: value), URL-encoded and appended to the url"},
    [OPT_SUBPROTOCOLS] = {.name = "subprotocols", .type = VOLLEY_OPT_STRING_LIST,
                          .offset = offsetof(ws_config, subprotocols),
                          .help = "Sec-WebSocket-Protocol values offered"},
    [OPT_CONNECT_TIMEOUT] = {.name = "connect_timeout", .type = VOLLEY_OPT_DURATION,
                             .offset = offsetof(ws_config, connect_timeout_ns),
                             .default_value = "10s",
                             .help = "TCP connect and handshake must finish within it",
                             .min = 0.001, .max = 3600},
    [OPT_SEND_ON_OPEN] = {.name = "send_on_open", .type = VOLLEY_OPT_JSON_LIST,
                          .offset = offsetof(ws_config, send_on_open),
                          .help = "messages sent when the session opens: JSON values (sent as "
                                  "compact JSON text) or strings (sent as they are)"},
    [OPT_SEND_EVERY] = {.name = "send_every", .type = VOLLEY_OPT_OBJECT,
                        .offset = offsetof(ws_config, send_every), .sub = &send_every_map,
                        .help = "a message sent periodically: { interval, message }"},
    [OPT_PING_EVERY] = {.name = "ping_every", .type = VOLLEY_OPT_DURATION,
                        .offset = offsetof(ws_config, ping_every_ns),
                        .help = "send a ping frame this often (ws_ping measures the pong)",
                        .min = 0.001, .max = 86400},
    [OPT_PONG_TIMEOUT] = {.name = "pong_timeout", .type = VOLLEY_OPT_DURATION,
                          .offset = offsetof(ws_config, pong_timeout_ns),
                          .help = "a ping (ping_every) not answered by a pong within it fails "
                                  "the session (pong_timeout) and ends it",
                          .min = 0.001, .max = 86400},
    [OPT_CLOSE_AFTER] = {.name = "close_after", .type = VOLLEY_OPT_TEMPLATE,
                         .offset = offsetof(ws_config, close_after),
                         .help = "close the session this long after it opened (1us to 7 days; "
                                 "may use run-time ${...}, drawn per session)"},
    [OPT_MAX_MESSAGE] = {.name = "max_message_size", .type = VOLLEY_OPT_INT,
                         .offset = offsetof(ws_config, max_message), .default_value = "1048576",
                         .help = "largest message accepted, bytes; a larger one fails the "
                                 "session (message too big)",
                         .min = 1, .max = 1073741824},
    [OPT_CHECK_EACH] = {.name = "check_each_message", .type = VOLLEY_OPT_CHECKS,
                        .offset = offsetof(ws_config, check_each),
                        .help = "check items applied to every received message (its body)"},
    [OPT_EXPECT] = {.name = "expect", .type = VOLLEY_OPT_OBJECT,
                    .offset = offsetof(ws_config, expect), .sub = &expect_map,
                    .help = "wait for a message that matches: { match, timeout, capture }"},
    [OPT_REPLY_MATCH] = {.name = "reply_match", .type = VOLLEY_OPT_OBJECT,
                         .offset = offsetof(ws_config, reply_match), .sub = &reply_map,
                         .help = "how a reply is paired with the sent message it answers, for "
                                 "ws_msg_reply_time: { request: PATH, reply: PATH } or { next: true }"},
    [OPT_TLS] = {.name = "tls", .type = VOLLEY_OPT_OBJECT, .offset = offsetof(ws_config, tls),
                 .sub = &ptls_config_map, .help = PTLS_HELP},
    [OPT_SEND_AFTER] = {.name = "send_after", .type = VOLLEY_OPT_OBJECT_LIST,
                        .offset = offsetof(ws_config, send_after), .sub = &send_after_map,
                        .help = "messages sent once, a time after the session opened: "
                                "[ { after, message, close_after, stop_send_every } ]"},
    [OPT_ON_MESSAGE] = {.name = "on_message", .type = VOLLEY_OPT_OBJECT_LIST,
                        .offset = offsetof(ws_config, on_message), .sub = &on_message_map,
                        .help = "messages sent when a received message matches: "
                                "[ { match, send, after } ]"},
    [OPT_SOCKETS] = {.name = "sockets", .type = VOLLEY_OPT_INT,
                     .offset = offsetof(ws_config, sockets), .default_value = "1",
                     .help = "sessions the step opens at once, each measured; the step ends "
                             "when all have ended",
                     .min = 1, .max = WS_MAX_SOCKETS},
};

const volley_option_map ws_step_options = {options, VOLLEY_COUNTOF(options), sizeof(ws_config),
                                           NULL};

/* ---- durations that may be drawn per session ---- */

#define NS_PER_S INT64_C(1000000000)

/* A limit as the docs write it: 0s, 1us, 1ms, 24h, 7 days. */
static const char *limit_text(int64_t ns, char *buf, size_t cap)
{
    const int64_t hour = 3600 * NS_PER_S, day = 24 * hour;
    if (ns >= 2 * day && ns % day == 0)
        snprintf(buf, cap, "%lld days", (long long)(ns / day));
    else if (ns >= hour && ns % hour == 0)
        snprintf(buf, cap, "%lldh", (long long)(ns / hour));
    else if (ns > 0 && ns < 1000000 && ns % 1000 == 0)
        snprintf(buf, cap, "%lldus", (long long)(ns / 1000));
    else
        duration_format(ns, buf, cap);
    return buf;
}

static void range_text(const ws_dur *d, char *out, size_t cap)
{
    char lo[48], hi[48];
    snprintf(out, cap, "from %s to %s", limit_text(d->min_ns, lo, sizeof lo),
             limit_text(d->max_ns, hi, sizeof hi));
}

/* text as a duration within d's range: 0; -1 when it is no duration
 * (the parser's reason in err), -2 when it is out of the range. */
static int dur_parse(const ws_dur *d, const char *text, int64_t *ns, char *err, size_t errcap)
{
    if (duration_parse(text, ns, err, errcap) != 0)
        return -1;
    return *ns < d->min_ns || *ns > d->max_ns ? -2 : 0;
}

/* Compiles one duration option: a constant one is parsed now, an error at
 * its place in the spec; a run-time one is only kept. */
static int dur_compile(const volley_host *h, volley_core *core, ws_dur *d, const volley_template *t,
                       double min_s, double max_s, const char *what, const void *field,
                       char *errout, size_t errcap)
{
    d->t = t;
    d->ns = -1;
    d->min_ns = (int64_t)(min_s * 1e9 + 0.5);
    d->max_ns = (int64_t)(max_s * 1e9 + 0.5);
    snprintf(d->what, sizeof d->what, "%s", what);
    const char *text = t ? h->template_const(t) : NULL;
    if (!t || !text)
        return 0;
    char err[256], range[120];
    int rc = dur_parse(d, text, &d->ns, err, sizeof err);
    if (rc == -2) {
        range_text(d, range, sizeof range);
        snprintf(err, sizeof err, "expected a duration %s, got \"%.40s\"", range, text);
    }
    if (rc != 0) {
        if (VOLLEY_HAS(h, config_error) && h->config_error) {
            h->config_error(core, field, "%s", err);   /* at the value's place */
            errout[0] = '\0';
        } else {
            snprintf(errout, errcap, "%s: %s", what, err);
        }
        return -1;
    }
    return 0;
}

int ws_dur_get(const volley_host *h, const ws_dur *d, volley_vu *vu, volley_buf *scratch,
               int64_t *ns, char *err, size_t errcap)
{
    if (d->ns >= 0) {
        *ns = d->ns;
        return 0;
    }
    scratch->len = 0;
    if (h->template_render(d->t, vu, scratch) != 0 || h->buf_reserve(scratch, 0) != 0) {
        snprintf(err, errcap, "%s: could not be rendered (out of memory)", d->what);
        return -1;
    }
    scratch->data[scratch->len] = '\0';
    char why[256];
    int rc = dur_parse(d, scratch->data, ns, why, sizeof why);
    if (rc == 0)
        return 0;
    if (rc == -2) {
        char range[120];
        range_text(d, range, sizeof range);
        snprintf(why, sizeof why, "not a duration %s", range);
    }
    const char *tmpl = h->template_display(d->t);
    char shown[200];
    if (VOLLEY_HAS(h, redact) && h->redact)
        h->redact(NULL, tmpl, strlen(tmpl), shown, sizeof shown);
    else
        snprintf(shown, sizeof shown, "%s", tmpl);
    snprintf(err, errcap, "%s: \"%s\" rendered \"%.40s\"%s%s", d->what, shown, scratch->data,
             rc == -2 ? ", " : ": ", why);
    return -1;
}

/* ---- JSON paths ---- */

static void path_free(ws_path *p)
{
    for (size_t i = 0; i < p->n; i++)
        free((char *)p->segs[i].key);
    free(p->segs);
    memset(p, 0, sizeof *p);
}

int ws_path_compile(const char *text, ws_path *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == '.' || *c == '[';
    if (!(out->segs = calloc(cap, sizeof *out->segs)))
        return -1;
    const char *p = text;
    while (*p) {
        if (*p == '[') {
            char *end;
            long idx = strtol(p + 1, &end, 10);
            if (end == p + 1 || *end != ']')
                goto bad;
            out->segs[out->n++] = (struct ws_seg){.key = NULL, .index = idx};
            p = end + 1;
        } else {
            size_t kl = strcspn(p, ".[");
            if (kl == 0)
                goto bad;
            char *k = strndup(p, kl);
            if (!k)
                goto bad;
            out->segs[out->n++] = (struct ws_seg){.key = k};
            p += kl;
        }
        if (*p == '.') {
            p++;
            if (!*p || *p == '.' || *p == '[')
                goto bad;
        }
    }
    if (out->n == 0)
        goto bad;
    return 0;
bad:
    path_free(out);
    return -1;
}

int ws_path_value(const ws_path *p, const char *json, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, NULL);
    if (!root)
        return -1;
    json_t *v = root;
    for (size_t i = 0; v && i < p->n; i++) {
        const struct ws_seg *s = &p->segs[i];
        if (s->key) {
            v = json_is_object(v) ? json_object_get(v, s->key) : NULL;
        } else if (json_is_array(v)) {
            long n = (long)json_array_size(v), idx = s->index < 0 ? n + s->index : s->index;
            v = idx >= 0 && idx < n ? json_array_get(v, (size_t)idx) : NULL;
        } else {
            v = NULL;
        }
    }
    int rc = -1;
    if (v) {
        if (json_is_string(v))
            snprintf(out, cap, "s%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(out, cap, "n%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(out, cap, "n%.17g", json_real_value(v));
        else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(out, cap, "j%s", t ? t : "");
            free(t);
        }
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---- the url ---- */

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

/* Splits "ws[s]://host[:port]" off text (the url's display form). Sets
 * st->tls, port, the host name (into host) and returns the length of that
 * prefix, or 0 with err. */
static size_t split_origin(const char *text, ws_step *st, char *host, size_t hostcap, char *err,
                           size_t errcap)
{
    size_t skip;
    if (strncasecmp(text, "ws://", 5) == 0) {
        skip = 5;
        st->tls = false;
        st->port = 80;
    } else if (strncasecmp(text, "wss://", 6) == 0) {
        skip = 6;
        st->tls = true;
        st->port = 443;
    } else {
        snprintf(err, errcap, "url: expected a ws:// or wss:// URL, got \"%s\"", text);
        return 0;
    }
    const char *h = text + skip;
    size_t hl = strcspn(h, "/?#");
    const char *end = h + hl;
    if (memchr(h, '$', hl)) {
        snprintf(err, errcap, "url: the host and port must be known at load time (only ${env.*} "
                 "and ${services.*} there), got \"%s\"", text);
        return 0;
    }
    if (memchr(h, '@', hl)) {
        snprintf(err, errcap, "url: user info in a ws url is not supported");
        return 0;
    }
    const char *colon = NULL;
    if (*h == '[') {
        const char *rb = memchr(h, ']', hl);
        if (!rb) {
            snprintf(err, errcap, "url: invalid IPv6 address in \"%s\"", text);
            return 0;
        }
        if (rb + 1 < end && rb[1] == ':')
            colon = rb + 1;
        else if (rb + 1 != end) {
            snprintf(err, errcap, "url: invalid host in \"%s\"", text);
            return 0;
        }
    } else {
        colon = memchr(h, ':', hl);
    }
    size_t name_len = (size_t)((colon ? colon : end) - h);
    if (name_len == 0 || name_len >= hostcap) {
        snprintf(err, errcap, "url: missing or too long host in \"%s\"", text);
        return 0;
    }
    memcpy(host, h, name_len);
    host[name_len] = '\0';
    if (colon) {
        char *pe;
        long port = strtol(colon + 1, &pe, 10);
        if (pe != end || port < 1 || port > 65535) {
            snprintf(err, errcap, "url: invalid port in \"%s\"", text);
            return 0;
        }
        st->port = (int)port;
    }
    return (size_t)(end - text);
}

/* Resolves host (blocking; load time, main thread) to st->address. */
static int resolve(ws_step *st, const char *host, char *err, size_t errcap)
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
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errcap, "url: cannot resolve %s (%s); ws resolves hosts once, at load time",
                 host, gai_strerror(rc));
        return -1;
    }
    rc = -1;
    /* IPv4 first: lws connects to the one address it is given. */
    for (int pass = 0; pass < 2 && rc != 0; pass++) {
        for (struct addrinfo *a = res; a && rc != 0; a = a->ai_next) {
            int fam = pass == 0 ? AF_INET : AF_INET6;
            if (a->ai_family != fam)
                continue;
            const void *src = fam == AF_INET6
                                  ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                                  : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
            if (inet_ntop(fam, src, st->address, sizeof st->address))
                rc = 0;
        }
    }
    freeaddrinfo(res);
    if (rc != 0)
        snprintf(err, errcap, "url: %s has no IPv4 or IPv6 address", host);
    return rc;
}

/* Appends "?k=v&..." (or "&..." when the path has a query) for the
 * step's query map, rendered for vu (NULL: constant values only), encoded
 * by the host as the http plugin's query is. */
int ws_append_query(const volley_host *h, const ws_config *c, volley_vu *vu, volley_buf *b)
{
    if (c->query.n == 0)
        return h->buf_reserve(b, 0);
    bool has_q = b->data && memchr(b->data, '?', b->len);
    if (h->buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len++] = has_q ? '&' : '?';
    return h->template_map_urlencode(&c->query, vu, b);
}

static char *join_protocols(const volley_string_list *l)
{
    size_t n = 1;
    for (size_t i = 0; i < l->n; i++)
        n += strlen(l->v[i]) + 2;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        p += sprintf(p, "%s%s", i ? ", " : "", l->v[i]);
    *p = '\0';
    return s;
}

static bool needs_copy(const ws_config *c)
{
    const ws_on_message_cfg *om = c->on_message.items;
    for (size_t i = 0; i < c->on_message.n; i++)
        if (om[i].match)
            return true;
    return c->check_each || VOLLEY_OPT_IS_SET(c, OPT_EXPECT);
}

#define WEEK_S 604800.0

/* The durations of close_after, send_every and the items of send_after
 * and on_message. */
static int compile_durations(ws_plugin *p, const ws_config *c, ws_step *st, char *err,
                             size_t errcap)
{
    const volley_host *h = p->host;
    int rc = dur_compile(h, p->core, &st->close_after, c->close_after, 0.000001, WEEK_S,
                         "close_after", &c->close_after, err, errcap);
    if (VOLLEY_OPT_IS_SET(c, OPT_SEND_EVERY))
        rc |= dur_compile(h, p->core, &st->interval, c->send_every.interval, 0.001, 86400,
                          "send_every.interval", &c->send_every.interval, err, errcap);
    size_t n_sa = c->send_after.n, n_om = c->on_message.n;
    st->send_after = calloc(n_sa + 1, sizeof *st->send_after);
    st->on_message = calloc(n_om + 1, sizeof *st->on_message);
    if (!st->send_after || !st->on_message) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    const ws_send_after_cfg *sa = c->send_after.items;
    for (size_t i = 0; i < n_sa; i++) {
        char what[64];
        snprintf(what, sizeof what, "send_after[%zu].after", i);
        rc |= dur_compile(h, p->core, &st->send_after[i].after, sa[i].after, 0, WEEK_S, what,
                          &sa[i].after, err, errcap);
        snprintf(what, sizeof what, "send_after[%zu].close_after", i);
        rc |= dur_compile(h, p->core, &st->send_after[i].close_after, sa[i].close_after,
                          0.000001, WEEK_S, what, &sa[i].close_after, err, errcap);
        if (!sa[i].message.n && !sa[i].close_after && !sa[i].stop_send_every) {
            const char *why = "nothing to do then: give message, close_after or stop_send_every";
            if (VOLLEY_HAS(h, config_error) && h->config_error)
                h->config_error(p->core, &sa[i].after, "%s", why);
            else
                snprintf(err, errcap, "send_after[%zu]: %s", i, why);
            rc = -1;
        }
    }
    const ws_on_message_cfg *om = c->on_message.items;
    for (size_t i = 0; i < n_om; i++) {
        char what[64];
        snprintf(what, sizeof what, "on_message[%zu].after", i);
        rc |= dur_compile(h, p->core, &st->on_message[i].after, om[i].after, 0, WEEK_S, what,
                          &om[i].after, err, errcap);
    }
    return rc ? -1 : 0;
}

void *ws_step_compile(void *inst, const void *config, const volley_step_info *info, char *err,
                      size_t errcap)
{
    ws_plugin *p = inst;
    const volley_host *h = p->host;
    const ws_config *c = config;
    (void)info;
    ws_step *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    st->cfg = c;
    const char *url = h->template_const(c->url);
    const char *shown = h->template_display(c->url);
    char host[256];
    size_t prefix = split_origin(url ? url : shown, st, host, sizeof host, err, errcap);
    if (!prefix || resolve(st, host, err, errcap) != 0)
        goto fail;
    st->prefix_len = prefix;
    /* wss gets a profile even without tls: options (the system's CAs):
     * every wss session runs on a context built here, shared by the
     * workers. A ws:// step's tls: is checked all the same. */
    if ((st->tls || c->tls.set) &&
        !(st->tls_profile = ptls_compile(&p->tls, h, p->core, &c->tls, st->tls, err, errcap)))
        goto fail;
    if (st->tls)
        atomic_store(&p->any_tls, true);
    st->tag_url = shown;
    st->tag_name = c->name ? c->name : shown;

    /* Host is the name (and a port that is not the scheme's default). */
    int def_port = st->tls ? 443 : 80;
    char hostbuf[300];
    if (st->port == def_port)
        snprintf(hostbuf, sizeof hostbuf, "%s", host);
    else
        snprintf(hostbuf, sizeof hostbuf, "%s:%d", host, st->port);
    st->n_headers = 0;
    st->header_names = calloc(c->headers.n + 1, sizeof *st->header_names);
    st->header_values = calloc(c->headers.n + 1, sizeof *st->header_values);
    if (!st->header_names || !st->header_values)
        goto oom;
    for (size_t i = 0; i < c->headers.n; i++) {
        const char *k = c->headers.keys[i];
        const volley_template *v = c->headers.values[i];
        if (!is_token(k)) {
            snprintf(err, errcap, "headers: invalid header name \"%s\"", k);
            goto fail;
        }
        if (strcasecmp(k, "host") == 0) {
            st->host_tmpl = v;
            continue;
        }
        if (strcasecmp(k, "sec-websocket-protocol") == 0 || strcasecmp(k, "upgrade") == 0 ||
            strcasecmp(k, "connection") == 0 || strncasecmp(k, "sec-websocket-", 14) == 0) {
            snprintf(err, errcap, "headers: %s is set by the handshake itself%s", k,
                     strcasecmp(k, "sec-websocket-protocol") == 0 ? " (use subprotocols)" : "");
            goto fail;
        }
        size_t kl = strlen(k);
        char *name = malloc(kl + 2);
        if (!name)
            goto oom;
        memcpy(name, k, kl);
        memcpy(name + kl, ":", 2);
        st->header_names[st->n_headers] = name;
        st->header_values[st->n_headers++] = v;
    }
    if (!st->host_tmpl) {
        if (!(st->host_hdr = strdup(hostbuf)))
            goto oom;
    } else if (h->template_const(st->host_tmpl)) {
        st->host_hdr = strdup(h->template_const(st->host_tmpl));
        st->host_tmpl = NULL;
        if (!st->host_hdr)
            goto oom;
    }
    if (c->subprotocols.n && !(st->subprotocols = join_protocols(&c->subprotocols)))
        goto oom;

    /* A constant url with a constant query: the path is built once. */
    bool query_const = true;
    for (size_t i = 0; i < c->query.n; i++)
        query_const &= h->template_const(c->query.values[i]) != NULL;
    if (url && query_const) {
        volley_buf b = {0};
        const char *path = url + prefix;
        if (*path != '/') {
            h->buf_reserve(&b, 1);
            b.data[b.len++] = '/';
        }
        size_t pl = strcspn(path, "#");
        if (h->buf_reserve(&b, pl) != 0)
            goto oom;
        memcpy(b.data + b.len, path, pl);
        b.len += pl;
        b.data[b.len] = '\0';
        if (ws_append_query(h, c, NULL, &b) != 0) {
            free(b.data);
            goto oom;
        }
        st->path = b.data;
    }

    /* Reply matching. */
    const ws_reply_cfg *r = &c->reply_match;
    if (VOLLEY_OPT_IS_SET(c, OPT_REPLY_MATCH)) {
        /* The scalar form fills request: `reply_match: next` is the
         * documented shorthand of { next: true }, not a path named next (a
         * field named next is { request: next, reply: next }). */
        bool next = r->next || (r->request && !r->reply && strcmp(r->request, "next") == 0);
        if (r->next && (r->request || r->reply)) {
            snprintf(err, errcap, "reply_match: give either next: true or request/reply paths");
            goto fail;
        }
        if (next) {
            st->reply_mode = REPLY_NEXT;
        } else {
            const char *req = r->request ? r->request : r->reply;
            const char *res = r->reply ? r->reply : r->request;
            if (!req) {
                snprintf(err, errcap, "reply_match: expected request (a JSON path) or next: true");
                goto fail;
            }
            const char *bad = ws_path_compile(req, &st->reply_req) != 0   ? req
                              : ws_path_compile(res, &st->reply_res) != 0 ? res
                                                                          : NULL;
            if (bad) {
                snprintf(err, errcap, "reply_match: invalid JSON path \"%s\" (expected a.b[0].c)",
                         bad);
                goto fail;
            }
            st->reply_mode = REPLY_ID;
        }
    }
    st->copy_messages = needs_copy(c) || st->reply_mode == REPLY_ID;
    if (VOLLEY_OPT_IS_SET(c, OPT_PONG_TIMEOUT) && !VOLLEY_OPT_IS_SET(c, OPT_PING_EVERY)) {
        snprintf(err, errcap, "pong_timeout: needs ping_every (the pings it waits for)");
        goto fail;
    }
    if (VOLLEY_OPT_IS_SET(c, OPT_SEND_EVERY) && !c->send_every.message.n) {
        snprintf(err, errcap, "send_every: message is required");
        goto fail;
    }
    if (compile_durations(p, c, st, err, errcap) != 0)
        goto fail;
    st->sockets = c->sockets > 0 ? (unsigned)c->sockets : 1;
    return st;
oom:
    snprintf(err, errcap, "out of memory");
fail:
    ws_step_free(inst, st);
    return NULL;
}

void ws_step_free(void *inst, void *step)
{
    (void)inst;
    ws_step *st = step;
    if (!st)
        return;
    for (size_t i = 0; st->header_names && i < st->n_headers; i++)
        free(st->header_names[i]);
    free(st->header_names);
    free(st->header_values);
    free((char *)st->host_hdr);
    free((char *)st->path);
    free(st->subprotocols);
    path_free(&st->reply_req);
    path_free(&st->reply_res);
    free(st->send_after);
    free(st->on_message);
    free(st);
}
