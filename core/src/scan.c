#include "scan.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

typedef struct probe {
    CURL *easy;
    const service *svc;
    char *url;
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
        free(q->url);
    }
    fprintf(out, "  %zu of %zu up\n", s->n_services - (size_t)down, s->n_services);
    curl_multi_cleanup(m);
    free(p);
    return down;
}
