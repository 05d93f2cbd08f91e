/*
 * The pushes: a bounded queue of encoded batches, sent oldest first (a
 * receiver refuses a sample older than one it has) with one libcurl easy
 * handle (its connection kept) on a multi handle. prw_push_step() only
 * moves transfers on, so the output's thread, which also takes the
 * samples, never waits on a dead or slow receiver while the run goes on;
 * only close() waits, for at most the drain limit.
 *
 * As the Remote-Write specification asks: a 5xx, a 429 or a transport
 * error is retried with an exponential backoff; any other 4xx is not (the
 * same body would be refused again). A full queue drops its oldest batch
 * that is not being sent. Every batch lost is counted.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prw_int.h"

#define POLL_NS 10000000u         /* while a transfer runs: 10 ms */
#define MAX_BACKOFF_NS 30000000000u

typedef struct qbatch {
    prw_buf b;
    size_t n_series;
    uint64_t n_samples;
} qbatch;

struct prw_push {
    prw_push_cfg cfg;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    qbatch *q;                    /* q[0] is the oldest */
    size_t len;
    bool in_flight;
    unsigned attempts;            /* of q[0] */
    uint64_t retry_at;
    uint64_t deadline;            /* draining: no transfer past it */
    char reply[201];
    char curl_err[CURL_ERROR_SIZE];
    bool failed_once, told;
    prw_push_stats st;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t keep_reply(char *d, size_t size, size_t n, void *userp)
{
    prw_push *p = userp;
    size_t have = strlen(p->reply), add = size * n, room = sizeof p->reply - 1 - have;
    if (add < room)
        room = add;
    memcpy(p->reply + have, d, room);
    p->reply[have + room] = '\0';
    return size * n;
}

void prw_push_free(prw_push *p)
{
    if (!p)
        return;
    if (p->in_flight)
        curl_multi_remove_handle(p->multi, p->easy);
    if (p->easy)
        curl_easy_cleanup(p->easy);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    curl_slist_free_all(p->hdrs);
    for (size_t i = 0; i < p->len; i++)
        prw_buf_free(&p->q[i].b);
    free(p->q);
    free(p);
}

prw_push *prw_push_new(const prw_push_cfg *cfg, char *err, size_t errcap)
{
    prw_push *p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->cfg = *cfg;
    if (p->cfg.max_queue < 2)
        p->cfg.max_queue = 2;   /* one being sent, one waiting */
    p->q = calloc(p->cfg.max_queue, sizeof *p->q);
    p->multi = curl_multi_init();
    p->easy = curl_easy_init();
    if (!p->q || !p->multi || !p->easy)
        goto oom;
    static const char *const fixed[] = {
        "Content-Encoding: snappy", "Content-Type: application/x-protobuf",
        "X-Prometheus-Remote-Write-Version: 0.1.0", "User-Agent: volley-prometheus-rw/0.1.0",
        "Expect:"};   /* no 100-continue round trip */
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct curl_slist *h = curl_slist_append(p->hdrs, fixed[i]);
        if (!h)
            goto oom;
        p->hdrs = h;
    }
    for (size_t i = 0; i < cfg->n_headers; i++) {
        struct curl_slist *h = curl_slist_append(p->hdrs, cfg->headers[i]);
        if (!h)
            goto oom;
        p->hdrs = h;
    }
    CURL *c = p->easy;
    curl_easy_setopt(c, CURLOPT_URL, cfg->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->hdrs);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p->curl_err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->timeout_ms);
    if (cfg->username) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
    }
    if (cfg->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return p;
oom:
    snprintf(err, errcap, "out of memory");
    prw_push_free(p);
    return NULL;
}

static void lose(prw_push *p, size_t i, bool dropped)
{
    if (dropped)
        p->st.dropped++;
    else
        p->st.failed++;
    p->st.series_lost += p->q[i].n_series;
    p->st.samples_lost += p->q[i].n_samples;
    prw_buf_free(&p->q[i].b);
    memmove(&p->q[i], &p->q[i + 1], (p->len - i - 1) * sizeof *p->q);
    p->len--;
}

void prw_push_add(prw_push *p, prw_buf *b, size_t n_series, uint64_t n_samples)
{
    if (p->len == p->cfg.max_queue)
        lose(p, p->in_flight ? 1 : 0, true);
    p->q[p->len++] = (qbatch){.b = *b, .n_series = n_series, .n_samples = n_samples};
    memset(b, 0, sizeof *b);
    p->st.batches++;
}

static void start(prw_push *p, uint64_t now)
{
    long limit = p->cfg.timeout_ms;
    if (p->deadline) {
        long left = p->deadline > now ? (long)((p->deadline - now) / 1000000u) : 0;
        if (left < limit)
            limit = left > 1 ? left : 1;
    }
    p->reply[0] = p->curl_err[0] = '\0';
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, (const char *)p->q[0].b.data);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->q[0].b.len);
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, limit);
    if (curl_multi_add_handle(p->multi, p->easy) == CURLM_OK)
        p->in_flight = true;
}

static void note_failure(prw_push *p, const char *why)
{
    if (!p->failed_once) {
        p->failed_once = true;
        snprintf(p->st.first_error, sizeof p->st.first_error, "%s", why);
    }
}

/* A transfer ended: the batch is done, lost, or waits for a retry. */
static void finish(prw_push *p, CURLcode rc, uint64_t now)
{
    long status = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(p->multi, p->easy);
    p->in_flight = false;
    if (rc == CURLE_OK && status >= 200 && status <= 299) {
        p->st.pushed++;
        p->st.samples_pushed += p->q[0].n_samples;
        p->attempts = 0;
        prw_buf_free(&p->q[0].b);
        memmove(&p->q[0], &p->q[1], (p->len - 1) * sizeof *p->q);
        p->len--;
        return;
    }
    char why[256];
    for (char *c = p->reply; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    if (rc != CURLE_OK)
        snprintf(why, sizeof why, "%s", *p->curl_err ? p->curl_err : curl_easy_strerror(rc));
    else
        snprintf(why, sizeof why, "HTTP %ld%s%.160s", status, *p->reply ? ": " : "", p->reply);
    note_failure(p, why);
    bool retry = rc != CURLE_OK || status >= 500 || status == 429;
    if (!retry || p->attempts >= p->cfg.max_retries) {
        p->attempts = 0;
        lose(p, 0, false);
        return;
    }
    uint64_t wait = p->cfg.backoff_ns << (p->attempts < 16 ? p->attempts : 16);
    p->attempts++;
    p->st.retries++;
    p->retry_at = now + (wait < MAX_BACKOFF_NS ? wait : MAX_BACKOFF_NS);
}

static void run(prw_push *p, uint64_t now)
{
    if (p->in_flight) {
        int running = 0, left = 0;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(p->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == p->easy)
                finish(p, m->data.result, now);
    }
    if (!p->in_flight && p->len > 0 && now >= p->retry_at) {
        start(p, now);
        int running = 0;
        curl_multi_perform(p->multi, &running);
    }
}

uint64_t prw_push_step(prw_push *p)
{
    uint64_t now = mono_ns();
    run(p, now);
    if (p->in_flight)
        return POLL_NS;
    if (p->len == 0)
        return 0;
    return p->retry_at > now ? p->retry_at - now : 1000000u;
}

void prw_push_drain(prw_push *p, uint64_t limit_ns)
{
    uint64_t now = mono_ns();
    p->deadline = now + limit_ns;
    /* A batch waiting out a backoff goes now: the run has ended. */
    if (p->retry_at > now + 250000000u)
        p->retry_at = now;
    while ((p->len > 0 || p->in_flight) && (now = mono_ns()) < p->deadline) {
        run(p, now);
        now = mono_ns();
        if (now >= p->deadline)
            break;
        uint64_t wait = p->deadline - now;
        if (!p->in_flight && p->len > 0 && p->retry_at > now && p->retry_at - now < wait)
            wait = p->retry_at - now;
        if (p->in_flight) {
            int ms = (int)(wait / 1000000u) + 1;
            curl_multi_poll(p->multi, NULL, 0, ms < 100 ? ms : 100, NULL);
        } else if (p->len > 0) {
            struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
                                  .tv_nsec = (long)(wait % 1000000000u)};
            nanosleep(&ts, NULL);
        }
    }
    if (p->in_flight) {
        curl_multi_remove_handle(p->multi, p->easy);
        p->in_flight = false;
        note_failure(p, "the final push did not finish in time");
    }
    while (p->len > 0)
        lose(p, 0, false);
}

const prw_push_stats *prw_push_stats_get(const prw_push *p) { return &p->st; }

bool prw_push_first_failure(prw_push *p)
{
    if (!p->failed_once || p->told)
        return false;
    p->told = true;
    return true;
}
