#include "scan.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct probe {
    CURL *easy;
    const service *svc;
    char *url;
    struct curl_slist *connect_to, *headers;   /* tls.server_name */
    char err[CURL_ERROR_SIZE];
    long status;
    double ms;
    CURLcode rc;
    bool done;
} probe;

static size_t discard(char *data, size_t size, size_t n, void *userp)
{
    (void)data, (void)userp;
    return size * n;
}

/* The service's tls: over defaults.tls, key by key, as its steps get it. */
static spec_tls merged_tls(const spec *s, const service *sv)
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
    if (t->min_version)
        curl_easy_setopt(e, CURLOPT_SSLVERSION,
                         t->min_version == 13 ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
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

int scan_services(const spec *s, FILE *out, long timeout_ms)
{
    if (s->n_services == 0) {
        fprintf(out, "%s: no services to scan\n", s->path);
        return 0;
    }
    probe *p = calloc(s->n_services, sizeof *p);
    CURLM *m = curl_multi_init();
    int down = 0;
    if (!p || !m) {
        fprintf(out, "%s: out of memory\n", s->path);
        free(p);
        curl_multi_cleanup(m);
        return (int)s->n_services;
    }
    for (size_t i = 0; i < s->n_services; i++) {
        const service *sv = &s->services[i];
        const char *h = sv->health && *sv->health ? sv->health : "";
        size_t n = strlen(sv->url) + strlen(h) + 2;
        p[i].svc = sv;
        p[i].url = malloc(n);
        p[i].easy = curl_easy_init();
        if (!p[i].url || !p[i].easy)
            continue;
        snprintf(p[i].url, n, "%s%s%s", sv->url, *h && h[0] != '/' ? "/" : "", h);
        curl_easy_setopt(p[i].easy, CURLOPT_URL, p[i].url);
        curl_easy_setopt(p[i].easy, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(p[i].easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p[i].easy, CURLOPT_PROXY, "");
        curl_easy_setopt(p[i].easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(p[i].easy, CURLOPT_ERRORBUFFER, p[i].err);
        curl_easy_setopt(p[i].easy, CURLOPT_USERAGENT, "volley-scan");
        curl_easy_setopt(p[i].easy, CURLOPT_PRIVATE, (char *)&p[i]);
        spec_tls t = merged_tls(s, sv);
        set_tls(&p[i], &t);
        curl_multi_add_handle(m, p[i].easy);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
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
            curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
            curl_off_t us = 0;
            curl_easy_getinfo(q->easy, CURLINFO_TOTAL_TIME_T, &us);
            q->ms = (double)us / 1000.0;
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    fprintf(out, "%s\n  %-16s %-44s %6s %10s  %s\n", s->path, "SERVICE", "URL", "STATUS", "TIME", "STATE");
    for (size_t i = 0; i < s->n_services; i++) {
        probe *q = &p[i];
        bool up = q->done && q->rc == CURLE_OK && q->status >= 200 && q->status < 400;
        down += !up;
        char status[16] = "-", tm[32] = "-";
        if (q->done && q->rc == CURLE_OK)
            snprintf(status, sizeof status, "%ld", q->status);
        if (q->done)
            snprintf(tm, sizeof tm, "%.1fms", q->ms);
        const char *why = !q->done ? "not checked (out of memory)"
                          : q->rc != CURLE_OK ? (q->err[0] ? q->err : curl_easy_strerror(q->rc))
                                              : up ? "up" : "DOWN (status)";
        fprintf(out, "  %-16s %-44s %6s %10s  %s%s\n", q->svc->name, q->url ? q->url : "?", status, tm,
                q->rc != CURLE_OK && q->done ? "DOWN: " : "", why);
        if (q->easy) {
            curl_multi_remove_handle(m, q->easy);
            curl_easy_cleanup(q->easy);
        }
        curl_slist_free_all(q->connect_to);
        curl_slist_free_all(q->headers);
        free(q->url);
    }
    fprintf(out, "  %zu of %zu up\n", s->n_services - (size_t)down, s->n_services);
    curl_multi_cleanup(m);
    free(p);
    return down;
}
