/*
 * analytics-sink: records the run in the DelTran analytics collector (the
 * brief's "record results in the Analytics Collector (8093)").
 *
 * The real collector has no endpoint for load-test results
 * (../shared/reference/deltran-api.md §6); what it does have is
 * POST /events/transaction, which keeps an event's `data` object (as raw JSON).
 * So the sink sends one event per run when the run ends: transaction_id =
 * the test run id, event_type "load_test_run" (a type the collector's
 * update path ignores, so it never hits that path's 500), service
 * "volley", and in `data` the run's totals per metric. It is then readable
 * at GET /transactions/{test_run_id}. Per-transfer rows (POST /transactions
 * with test_run_id) are a flow step's job: the output sees only numbers.
 *
 * Samples are folded into one small aggregate per metric on the output's
 * thread (no allocation per sample); the POST is made with libcurl from
 * close(), on the same thread, never on a loop thread. A collector that is
 * down or answers non-2xx is reported on stderr and in no way fails the
 * run (the numbers it would have recorded are in the summary anyway).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "volley/plugin.h"

#define NS_PER_SEC 1000000000LL

typedef struct sink_config {
    uint64_t set;
    const char *url;
    const char *test_run_id;
    const char *test_scenario;
    const char *load_level;
    int64_t timeout_ns;
} sink_config;

enum { OPT_URL, OPT_RUN_ID, OPT_SCENARIO, OPT_LOAD_LEVEL, OPT_TIMEOUT };

static const volley_option options[] = {
    [OPT_URL] = {.name = "url", .type = VOLLEY_OPT_STRING, .offset = offsetof(sink_config, url),
                 .flags = VOLLEY_OPT_REQUIRED,
                 .help = "where to POST the run's event: the collector's /events/transaction"},
    [OPT_RUN_ID] = {.name = "test_run_id", .type = VOLLEY_OPT_STRING,
                    .offset = offsetof(sink_config, test_run_id),
                    .help = "the run's id (default volley-<unix time>-<pid>)"},
    [OPT_SCENARIO] = {.name = "test_scenario", .type = VOLLEY_OPT_STRING,
                      .offset = offsetof(sink_config, test_scenario),
                      .help = "free text kept with the run, e.g. the spec's name"},
    [OPT_LOAD_LEVEL] = {.name = "load_level", .type = VOLLEY_OPT_STRING,
                        .offset = offsetof(sink_config, load_level),
                        .help = "free text kept with the run, e.g. baseline or peak"},
    [OPT_TIMEOUT] = {.name = "timeout", .type = VOLLEY_OPT_DURATION,
                     .offset = offsetof(sink_config, timeout_ns), .default_value = "10s",
                     .help = "limit for the POST at the end of the run"},
};

static const volley_option_map option_map = {
    .options = options, .count = VOLLEY_COUNTOF(options),
    .config_size = sizeof(sink_config), .shorthand = "url"};

/* One metric's totals, whatever its type. */
typedef struct metric_sum {
    bool seen;
    double sum, min, max, last;
    uint64_t count, nonzero;
} metric_sum;

typedef struct sink {
    const volley_host *host;
    volley_core *core;
    char *url, *run_id, *scenario, *load_level;
    long timeout_ms;
    metric_sum *m;              /* indexed by metric id */
    size_t n_m;
    int64_t first_ns, last_ns;  /* wall clock of the first and last sample */
} sink;

static void sink_destroy(void *inst)
{
    sink *s = inst;
    if (!s)
        return;
    free(s->url);
    free(s->run_id);
    free(s->scenario);
    free(s->load_level);
    free(s->m);
    free(s);
}

/* A copy of an option the event reports: with secrets hidden (a
 * test_run_id of "nightly-${env.BUILD_TOKEN}" is sent as "nightly-***"),
 * as everything volley reports. Only the url is used as written. */
static char *dup_opt(const volley_host *host, const char *v)
{
    if (!v || !VOLLEY_HAS(host, redact) || !host->redact)
        return v ? strdup(v) : NULL;
    size_t n = host->redact(NULL, v, strlen(v), NULL, 0);
    char *out = malloc(n + 1);
    if (out)
        host->redact(NULL, v, strlen(v), out, n + 1);
    return out;
}

/* Load time (also `volley validate`): the one thing the option map cannot
 * say about the url. */
static int sink_config_check(const volley_host *host, const void *config, char *err, size_t errcap)
{
    (void)host;
    const sink_config *cfg = config;
    if (!cfg->url || (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
        snprintf(err, errcap, "url: expected an http:// or https:// URL such as "
                              "http://localhost:8093/events/transaction, got \"%s\"",
                 cfg->url ? cfg->url : "");
        return -1;
    }
    return 0;
}

static void *sink_create(const volley_host *host, volley_core *core, const void *config,
                         char *err, size_t errcap)
{
    const sink_config *cfg = config;
    if (sink_config_check(host, config, err, errcap) != 0)
        return NULL;
    sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->host = host;
    s->core = core;
    s->timeout_ms = (long)(cfg->timeout_ns / 1000000);
    if (s->timeout_ms < 1)
        s->timeout_ms = 1;
    char id[64];
    snprintf(id, sizeof id, "volley-%lld-%d", (long long)time(NULL), (int)getpid());
    s->url = strdup(cfg->url);
    s->run_id = dup_opt(host, cfg->test_run_id && *cfg->test_run_id ? cfg->test_run_id : id);
    s->scenario = dup_opt(host, cfg->test_scenario);
    s->load_level = dup_opt(host, cfg->load_level);
    if (!s->url || !s->run_id || (cfg->test_scenario && !s->scenario) ||
        (cfg->load_level && !s->load_level)) {
        snprintf(err, errcap, "out of memory");
        sink_destroy(s);
        return NULL;
    }
    return s;
}

static int grow(sink *s, uint32_t id)
{
    if (id < s->n_m)
        return 0;
    size_t n = s->n_m ? s->n_m : 16;
    while (n <= id)
        n *= 2;
    metric_sum *m = realloc(s->m, n * sizeof *m);
    if (!m)
        return -1;
    memset(m + s->n_m, 0, (n - s->n_m) * sizeof *m);
    s->m = m;
    s->n_m = n;
    return 0;
}

static int sink_write(void *inst, const volley_sample *samples, size_t n, char *err,
                      size_t errcap)
{
    sink *s = inst;
    for (size_t i = 0; i < n; i++) {
        const volley_sample *x = &samples[i];
        if (grow(s, x->metric) != 0) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        metric_sum *m = &s->m[x->metric];
        if (!m->seen) {
            m->seen = true;
            m->min = m->max = x->value;
        }
        m->sum += x->value;
        m->count++;
        m->nonzero += x->value != 0;
        m->last = x->value;
        if (x->value < m->min)
            m->min = x->value;
        if (x->value > m->max)
            m->max = x->value;
        if (!s->first_ns || x->time_unix_ns < s->first_ns)
            s->first_ns = x->time_unix_ns;
        if (x->time_unix_ns > s->last_ns)
            s->last_ns = x->time_unix_ns;
    }
    return 0;
}

/* The metric's totals in the shape of k6's summary export for its type. */
static json_t *metric_json(const metric_sum *m, volley_metric_type type)
{
    switch (type) {
    case VOLLEY_METRIC_COUNTER:
        return json_pack("{s:f,s:I}", "count", m->sum, "samples", (json_int_t)m->count);
    case VOLLEY_METRIC_GAUGE:
        return json_pack("{s:f,s:f,s:f}", "value", m->last, "min", m->min, "max", m->max);
    case VOLLEY_METRIC_RATE:
        return json_pack("{s:f,s:I,s:I}", "rate", m->count ? (double)m->nonzero / (double)m->count : 0.0,
                         "passes", (json_int_t)m->nonzero, "fails", (json_int_t)(m->count - m->nonzero));
    case VOLLEY_METRIC_TREND:
    default:
        return json_pack("{s:f,s:f,s:f,s:I}", "avg", m->count ? m->sum / (double)m->count : 0.0,
                         "min", m->min, "max", m->max, "count", (json_int_t)m->count);
    }
}

static void iso_time(int64_t unix_ns, char *out, size_t cap)
{
    time_t t = (time_t)(unix_ns / NS_PER_SEC);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, cap - k, ".%03dZ", (int)((unix_ns % NS_PER_SEC) / 1000000));
}

/*
 * Writes v as compact JSON, each real in the shortest text that reads back
 * as the same double: jansson's one precision for a whole dump (17
 * digits) writes 3.00688568 as 3.0068856799999999. Leaves are jansson's
 * own text (escaping, ".0" on whole reals), a real at precision 15 when
 * that reads back, else 16, else 17 (a double's shortest exact text has
 * 15 digits or fewer, which "%.15g" gives without trailing zeros, or 16
 * or 17). -1 when a leaf could not be written.
 */
static int dump_shortest(const json_t *v, FILE *f)
{
    size_t i;
    const char *key;
    json_t *item;
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        fputc('{', f);
        i = 0;
        json_object_foreach ((json_t *)v, key, item) {
            json_t *k = json_string(key);
            if (i++)
                fputc(',', f);
            if (!k || dump_shortest(k, f) != 0 || fputc(':', f) == EOF ||
                dump_shortest(item, f) != 0)
                rc = -1;
            json_decref(k);
        }
        fputc('}', f);
        return rc;
    case JSON_ARRAY:
        fputc('[', f);
        json_array_foreach (v, i, item) {
            if (i)
                fputc(',', f);
            if (dump_shortest(item, f) != 0)
                rc = -1;
        }
        fputc(']', f);
        return rc;
    default: {
        size_t flags = JSON_ENCODE_ANY | JSON_COMPACT;
        char *text = json_dumps(v, flags | JSON_REAL_PRECISION(15));
        for (int digits = 16; text && json_is_real(v) && digits <= 17 &&
                              strtod(text, NULL) != json_real_value(v);
             digits++) {
            free(text);
            text = json_dumps(v, flags | JSON_REAL_PRECISION(digits));
        }
        if (!text)
            return -1;
        fputs(text, f);
        free(text);
        return 0;
    }
    }
}

static char *event_body(sink *s)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * NS_PER_SEC + now.tv_nsec;
    int64_t t0 = s->first_ns ? s->first_ns : now_ns, t1 = s->last_ns ? s->last_ns : now_ns;
    char started[40], ended[40], stamp[40];
    iso_time(t0, started, sizeof started);
    iso_time(t1, ended, sizeof ended);
    iso_time(now_ns, stamp, sizeof stamp);
    json_t *metrics = json_object();
    for (size_t id = 0; metrics && id < s->n_m; id++) {
        if (!s->m[id].seen)
            continue;
        const volley_metric_info *mi = s->host->metric_info(s->core, (uint32_t)id);
        json_t *v = mi ? metric_json(&s->m[id], mi->type) : NULL;
        if (v)
            json_object_set_new(metrics, mi->name, v);
    }
    json_t *data = json_pack("{s:s,s:s,s:s,s:f,s:o}", "test_run_id", s->run_id, "test_start", started,
                             "test_end", ended, "duration_seconds",
                             (double)(t1 - t0) / (double)NS_PER_SEC, "metrics", metrics);
    if (data && s->scenario)
        json_object_set_new(data, "test_scenario", json_string(s->scenario));
    if (data && s->load_level)
        json_object_set_new(data, "load_level", json_string(s->load_level));
    json_t *ev = data ? json_pack("{s:s,s:s,s:s,s:s,s:o}", "transaction_id", s->run_id, "event_type",
                                  "load_test_run", "timestamp", stamp, "service", "volley", "data", data)
                      : NULL;
    char *body = NULL;
    size_t len = 0;
    FILE *f = ev ? open_memstream(&body, &len) : NULL;
    if (f) {
        int rc = dump_shortest(ev, f);
        if (fclose(f) != 0 || rc != 0) {
            free(body);
            body = NULL;
        }
    }
    json_decref(ev);
    return body;
}

static size_t keep_reply(char *p, size_t size, size_t n, void *userp)
{
    char *buf = userp;
    size_t have = strlen(buf), add = size * n, room = 200 - have;
    memcpy(buf + have, p, add < room ? add : room);
    buf[have + (add < room ? add : room)] = '\0';
    return size * n;
}

/* Sends the run's event. Never fails the run: what went wrong is said on
 * stderr with the run id, so the numbers can be posted again by hand. */
static int sink_close(void *inst, char *err, size_t errcap)
{
    (void)err, (void)errcap;
    sink *s = inst;
    char *body = event_body(s);
    if (!body) {
        s->host->log(s->core, VOLLEY_LOG_WARN, "analytics-sink: run %s not recorded: out of memory",
                     s->run_id);
        return 0;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char reply[201] = "";
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    long status = 0;
    if (c && h) {
        curl_easy_setopt(c, CURLOPT_URL, s->url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_reply);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (rc != CURLE_OK)
        s->host->log(s->core, VOLLEY_LOG_WARN, "analytics-sink: run %s not recorded: POST %s: %s",
                     s->run_id, s->url, curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        s->host->log(s->core, VOLLEY_LOG_WARN, "analytics-sink: run %s not recorded: POST %s: HTTP %ld %s",
                     s->run_id, s->url, status, reply);
    else
        s->host->log(s->core, VOLLEY_LOG_INFO, "analytics-sink: run %s recorded (HTTP %ld)", s->run_id,
                     status);
    curl_slist_free_all(h);
    if (c)
        curl_easy_cleanup(c);
    free(body);
    return 0;
}

static const volley_output_ops ops = {
    .size = sizeof(volley_output_ops),
    .options = &option_map,
    .create = sink_create,
    .write = sink_write,
    .close = sink_close,
    .destroy = sink_destroy,
    .config_check = sink_config_check,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "analytics-sink", .version = "0.1.0",
                     .description = "records the run's totals as one event in the DelTran analytics collector",
                     .output = &ops)
