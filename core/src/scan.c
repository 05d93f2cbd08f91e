#include "scan.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "secret.h"

typedef struct probe {
    CURL *easy;
    struct curl_slist *connect_to, *headers;   /* tls.server_name */
    const scan_target *t;
    char *url;
    char err[CURL_ERROR_SIZE];
    long status;
    double ms;
    CURLcode rc;
    bool done;
    /* ws:// and wss://: libcurl connects (CONNECT_ONLY, TLS for wss) to
     * the http(s) form of the url, then the handshake goes over that
     * connection by hand (ws_turns). */
    bool ws;
    char *req;              /* the upgrade request */
    size_t req_len, sent;
    char head[1024];        /* the answer, up to its header end */
    size_t got;
} probe;

static size_t discard(char *data, size_t size, size_t n, void *userp)
{
    (void)data, (void)userp;
    return size * n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The service's tls: over defaults.tls, key by key, as its steps get it. */
spec_tls scan_merged_tls(const spec *s, const service *sv)
{
    spec_tls t = sv->tls;
    const spec_tls *d = &s->defaults_tls;
    if (!t.ca_file)
        t.ca_file = d->ca_file;
    if (!t.client_cert)
        t.client_cert = d->client_cert;
    if (!t.client_key)
        t.client_key = d->client_key;
    if (!t.server_name)
        t.server_name = d->server_name;
    if (t.insecure < 0)
        t.insecure = d->insecure;
    if (!t.min_version)
        t.min_version = d->min_version;
    if (!t.max_version)
        t.max_version = d->max_version;
    return t;
}

/*
 * The probe's TLS options, as the http plugin sets them for a step. A
 * server_name (which curl has no option for) is reached the curl way: the
 * url's host becomes the name, CURLOPT_CONNECT_TO sends the connection to
 * the original host, whose name goes in Host.
 */
static void set_tls(probe *q, const spec_tls *t)
{
    CURL *e = q->easy;
    if (t->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    if (t->insecure > 0) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (t->client_cert && t->client_key) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, t->client_cert);
        curl_easy_setopt(e, CURLOPT_SSLKEY, t->client_key);
    }
    /* the versions (the probe leaves cipher_suites to the steps) */
    static const long lo[] = {CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_TLSv1_1,
                              CURL_SSLVERSION_TLSv1_2, CURL_SSLVERSION_TLSv1_3};
    static const long hi[] = {CURL_SSLVERSION_MAX_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_1,
                              CURL_SSLVERSION_MAX_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_3};
    if (t->min_version || t->max_version)
        curl_easy_setopt(e, CURLOPT_SSLVERSION,
                         (t->min_version ? lo[t->min_version - 10] : CURL_SSLVERSION_DEFAULT) |
                             (t->max_version ? hi[t->max_version - 10] : CURL_SSLVERSION_MAX_DEFAULT));
    if (!t->server_name || strncmp(q->url, "https://", 8) != 0)
        return;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *given = NULL, *url = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, q->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PORT, &given, 0);   /* as written, or none */
        char line[600];
        snprintf(line, sizeof line, "%s:%s:%s:%s", t->server_name, port, host, port);
        q->connect_to = curl_slist_append(NULL, line);
        snprintf(line, sizeof line, "Host: %s%s%s", host, given ? ":" : "", given ? given : "");
        q->headers = curl_slist_append(NULL, line);
        if (curl_url_set(u, CURLUPART_HOST, t->server_name, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK && q->connect_to && q->headers) {
            curl_easy_setopt(e, CURLOPT_URL, url);
            curl_easy_setopt(e, CURLOPT_CONNECT_TO, q->connect_to);
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
        }
    }
    curl_free(host);
    curl_free(port);
    curl_free(given);
    curl_free(url);
    curl_url_cleanup(u);
}

static bool is_ws(const char *url)
{
    return strncmp(url, "ws://", 5) == 0 || strncmp(url, "wss://", 6) == 0;
}

/* The GET with Upgrade: websocket (RFC 6455 4.1) for url, which is the
 * http(s) form of the service's ws(s) url; NULL when out of memory or the
 * url does not parse. */
static char *upgrade_request(const char *url, size_t *len)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *req = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto done;
    curl_url_get(u, CURLUPART_PORT, &port, 0);    /* only when the url names one */
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    unsigned char nonce[16];
    if (getrandom(nonce, sizeof nonce, GRND_NONBLOCK) != (ssize_t)sizeof nonce) {
        uint64_t t = (uint64_t)(now_ms() * 1e3);
        for (size_t i = 0; i < sizeof nonce; i++)
            nonce[i] = (unsigned char)(t >> (8 * (i % 8)) ^ (i * 151u));
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char key[25];
    size_t k = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)nonce[i] << 16 | (i + 1 < 16 ? (uint32_t)nonce[i + 1] << 8 : 0) |
                     (i + 2 < 16 ? nonce[i + 2] : 0);
        key[k++] = b64[v >> 18 & 63];
        key[k++] = b64[v >> 12 & 63];
        key[k++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
        key[k++] = i + 2 < 16 ? b64[v & 63] : '=';
    }
    key[k] = '\0';
    const char *fmt = "GET %s%s%s HTTP/1.1\r\nHost: %s%s%s\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\nUser-Agent: volley-scan\r\n\r\n";
    int n = snprintf(NULL, 0, fmt, path, query ? "?" : "", query ? query : "", host,
                     port ? ":" : "", port ? port : "", key);
    if (n > 0 && (req = malloc((size_t)n + 1))) {
        snprintf(req, (size_t)n + 1, fmt, path, query ? "?" : "", query ? query : "", host,
                 port ? ":" : "", port ? port : "", key);
        *len = (size_t)n;
    }
done:
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return req;
}

/* Sends what is left of the upgrade request, reads what has come. true
 * when q is finished (answered, failed, or closed). */
static bool ws_step(probe *q)
{
    while (q->sent < q->req_len) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(q->easy, q->req + q->sent, q->req_len - q->sent, &n);
        if (rc == CURLE_AGAIN)
            return false;
        if (rc != CURLE_OK) {
            q->rc = rc;
            return true;
        }
        q->sent += n;
    }
    for (;;) {
        size_t n = 0;
        CURLcode rc = curl_easy_recv(q->easy, q->head + q->got, sizeof q->head - 1 - q->got, &n);
        if (rc == CURLE_AGAIN)
            return false;
        if (rc != CURLE_OK) {
            q->rc = rc;
            return true;
        }
        q->got += n;
        q->head[q->got] = '\0';
        bool ended = strstr(q->head, "\r\n\r\n") != NULL;
        if (ended || n == 0 || q->got == sizeof q->head - 1) {
            int status = 0;
            if (sscanf(q->head, "HTTP/%*d.%*d %3d", &status) == 1 && status >= 100) {
                q->status = status;
            } else {
                q->rc = CURLE_RECV_ERROR;
                snprintf(q->err, sizeof q->err, "%s",
                         n == 0 && !q->got ? "connection closed before the handshake answer"
                                           : "the handshake answer is not HTTP");
            }
            return true;
        }
    }
}

/* One step of q's handshake (ws_step); q->ms is the time from t0 when it
 * has finished. */
static bool ws_turn(probe *q, double t0)
{
    if (!ws_step(q))
        return false;
    q->ms = now_ms() - t0;
    return true;
}

/* Takes every connected ws probe one step further (ws_turn); the ones
 * still waiting go into w (their sockets, for curl_multi_poll), or time
 * out at the deadline. Returns how many are waiting. */
static unsigned ws_turns(probe *p, size_t n, double t0, long timeout_ms, struct curl_waitfd *w)
{
    unsigned nw = 0;
    bool late = now_ms() >= t0 + (double)timeout_ms;
    for (size_t i = 0; i < n; i++) {
        probe *q = &p[i];
        if (!q->ws || !q->done || q->rc != CURLE_OK || q->status || ws_turn(q, t0))
            continue;
        if (late) {
            q->rc = CURLE_OPERATION_TIMEDOUT;
            q->ms = (double)timeout_ms;
            snprintf(q->err, sizeof q->err, "no WebSocket handshake answer within %ld ms",
                     timeout_ms);
            continue;
        }
        curl_socket_t fd = CURL_SOCKET_BAD;
        curl_easy_getinfo(q->easy, CURLINFO_ACTIVESOCKET, &fd);
        w[nw++] = (struct curl_waitfd){
            .fd = fd, .events = q->sent < q->req_len ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN};
    }
    return nw;
}

int scan_targets(const char *title, const scan_target *t, size_t n_t, FILE *out, long timeout_ms)
{
    probe *p = calloc(n_t ? n_t : 1, sizeof *p);
    CURLM *m = curl_multi_init();
    int down = 0;
    if (!p || !m) {
        fprintf(out, "%s: out of memory\n", title);
        free(p);
        curl_multi_cleanup(m);
        return (int)n_t;
    }
    double t0 = now_ms();
    for (size_t i = 0; i < n_t; i++) {
        const scan_target *sv = &t[i];
        const char *h = sv->health && *sv->health ? sv->health : "";
        size_t n = strlen(sv->url) + strlen(h) + 2;
        p[i].t = sv;
        p[i].url = malloc(n);
        p[i].easy = curl_easy_init();
        if (!p[i].url || !p[i].easy)
            continue;
        snprintf(p[i].url, n, "%s%s%s", sv->url, *h && h[0] != '/' ? "/" : "", h);
        curl_easy_setopt(p[i].easy, CURLOPT_URL, p[i].url);
        if (is_ws(p[i].url)) {
            /* "ws://..." -> "http://...", "wss://..." -> "https://..." */
            char *http = malloc(n + 2);
            if (!http)
                continue;
            snprintf(http, n + 2, "http%s", p[i].url + 2);
            p[i].ws = true;
            p[i].req = upgrade_request(http, &p[i].req_len);
            curl_easy_setopt(p[i].easy, CURLOPT_URL, http);
            curl_easy_setopt(p[i].easy, CURLOPT_CONNECT_ONLY, 1L);
            free(http);   /* libcurl keeps its own copy */
            if (!p[i].req)
                continue;
        }
        curl_easy_setopt(p[i].easy, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(p[i].easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p[i].easy, CURLOPT_PROXY, "");
        curl_easy_setopt(p[i].easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(p[i].easy, CURLOPT_ERRORBUFFER, p[i].err);
        curl_easy_setopt(p[i].easy, CURLOPT_USERAGENT, "volley-scan");
        curl_easy_setopt(p[i].easy, CURLOPT_PRIVATE, (char *)&p[i]);
        set_tls(&p[i], &sv->tls);
        curl_multi_add_handle(m, p[i].easy);
    }
    struct curl_waitfd *wait = calloc(n_t ? n_t : 1, sizeof *wait);
    int running = 1;
    unsigned waiting = 0;
    while (wait && (running || waiting)) {
        if (running && curl_multi_perform(m, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            probe *q = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            if (!q || msg->msg != CURLMSG_DONE)
                continue;
            q->done = true;
            q->rc = msg->data.result;
            curl_off_t us = 0;
            curl_easy_getinfo(q->easy, CURLINFO_TOTAL_TIME_T, &us);
            q->ms = (double)us / 1000.0;
            if (!q->ws)   /* ws: connected; the handshake is ws_turns' */
                curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
        }
        waiting = ws_turns(p, n_t, t0, timeout_ms, wait);
        /* TLS may hold bytes already read: wake at least every 50 ms. */
        if (running || waiting)
            curl_multi_poll(m, wait, waiting, waiting ? 50 : 100, NULL);
    }
    free(wait);
    fprintf(out, "%s\n  %-16s %-44s %6s %10s  %s\n", title, "SERVICE", "URL", "STATUS", "TIME", "STATE");
    for (size_t i = 0; i < n_t; i++) {
        probe *q = &p[i];
        bool up = q->done && q->rc == CURLE_OK &&
                  (q->ws ? q->status == 101 : q->status >= 200 && q->status < 400);
        down += !up;
        char status[16] = "-", tm[32] = "-";
        if (q->done && q->rc == CURLE_OK)
            snprintf(status, sizeof status, "%ld", q->status);
        if (q->done)
            snprintf(tm, sizeof tm, "%.1fms", q->ms);
        const char *why = !q->done ? "not checked (out of memory)"
                          : q->rc != CURLE_OK ? (q->err[0] ? q->err : curl_easy_strerror(q->rc))
                          : up                ? "up"
                          : q->ws             ? "DOWN (status: no WebSocket upgrade)"
                                              : "DOWN (status)";
        /* The url (a ${env.API_KEY} in its query) and curl's reason
         * shown with secrets hidden. */
        secret_fprintf(out, "  %-16s %-44s %6s %10s  %s%s\n", q->t->name, q->url ? q->url : "?", status, tm,
                q->rc != CURLE_OK && q->done ? "DOWN: " : "", why);
        if (q->easy) {
            curl_multi_remove_handle(m, q->easy);
            curl_easy_cleanup(q->easy);
        }
        curl_slist_free_all(q->connect_to);
        curl_slist_free_all(q->headers);
        free(q->url);
        free(q->req);
    }
    fprintf(out, "  %zu of %zu up\n", n_t - (size_t)down, n_t);
    curl_multi_cleanup(m);
    free(p);
    return down;
}

int scan_services(const spec *s, FILE *out, long timeout_ms)
{
    if (s->n_services == 0) {
        fprintf(out, "%s: no services to scan\n", s->path);
        return 0;
    }
    scan_target *t = calloc(s->n_services, sizeof *t);
    if (!t) {
        fprintf(out, "%s: out of memory\n", s->path);
        return (int)s->n_services;
    }
    for (size_t i = 0; i < s->n_services; i++) {
        const service *sv = &s->services[i];
        t[i] = (scan_target){.name = sv->name, .url = sv->url, .health = sv->health,
                             .tls = scan_merged_tls(s, sv)};
    }
    int down = scan_targets(s->path, t, s->n_services, out, timeout_ms);
    free(t);
    return down;
}
