/*
 * prometheus-rw: the run's metrics, live, in Prometheus (or any receiver
 * of Remote-Write 1.0), named as k6's experimental-prometheus-rw output
 * names them so its dashboards work unchanged.
 *
 * write() folds each sample into its series (cumulative, as k6's sinks);
 * every push_interval tick() encodes the series that changed into one
 * batch and hands it to the push queue; tick() also moves the POSTs on
 * without waiting (prw_push.c), so a dead or slow receiver costs the run
 * nothing but the batches it loses, which are counted and shown at the
 * end. close() makes the last batch and waits for it, for at most
 * `timeout`, also after SIGINT.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prw_int.h"

#define NS_PER_MS 1000000LL
#define MAX_STATS 16

typedef struct prw_config {
    uint64_t set;
    const char *url;
    int64_t push_interval_ns;
    volley_string_list trend_stats;
    const char *prefix;
    volley_template_map headers;
    const char *bearer_token;
    const char *username;
    const char *password;
    bool insecure_skip_tls_verify;
    int64_t timeout_ns;
    int64_t max_queue;
    int64_t max_retries;
    int64_t retry_backoff_ns;
    bool rate_counts;
    bool native;
} prw_config;

enum {
    OPT_URL,
    OPT_INTERVAL,
    OPT_STATS,
    OPT_PREFIX,
    OPT_HEADERS,
    OPT_BEARER,
    OPT_USER,
    OPT_PASSWORD,
    OPT_INSECURE,
    OPT_TIMEOUT,
    OPT_QUEUE,
    OPT_RETRIES,
    OPT_BACKOFF,
    OPT_RATE_COUNTS,
    OPT_NATIVE
};

static const volley_option options[] = {
    [OPT_URL] = {.name = "url", .type = VOLLEY_OPT_STRING, .offset = offsetof(prw_config, url),
                 .default_value = "http://localhost:9090/api/v1/write",
                 .help = "the receiver's remote-write endpoint"},
    [OPT_INTERVAL] = {.name = "push_interval", .type = VOLLEY_OPT_DURATION,
                      .offset = offsetof(prw_config, push_interval_ns), .default_value = "5s",
                      .min = 0.1, .max = 3600, .help = "time between pushes"},
    [OPT_STATS] = {.name = "trend_stats", .type = VOLLEY_OPT_STRING_LIST,
                   .offset = offsetof(prw_config, trend_stats), .default_value = "p(99)",
                   .help = "a trend's series: avg, min, med, max, count, sum, p(N)"},
    [OPT_PREFIX] = {.name = "prefix", .type = VOLLEY_OPT_STRING, .offset = offsetof(prw_config, prefix),
                    .default_value = "k6_", .help = "put before every series name"},
    [OPT_HEADERS] = {.name = "headers", .type = VOLLEY_OPT_TEMPLATE_MAP,
                     .offset = offsetof(prw_config, headers),
                     .help = "more request headers (values known at load time)"},
    [OPT_BEARER] = {.name = "bearer_token", .type = VOLLEY_OPT_STRING,
                    .offset = offsetof(prw_config, bearer_token),
                    .help = "sent as Authorization: Bearer TOKEN"},
    [OPT_USER] = {.name = "username", .type = VOLLEY_OPT_STRING, .offset = offsetof(prw_config, username),
                  .help = "basic auth user"},
    [OPT_PASSWORD] = {.name = "password", .type = VOLLEY_OPT_STRING,
                      .offset = offsetof(prw_config, password), .help = "basic auth password"},
    [OPT_INSECURE] = {.name = "insecure_skip_tls_verify", .type = VOLLEY_OPT_BOOL,
                      .offset = offsetof(prw_config, insecure_skip_tls_verify),
                      .default_value = "false", .help = "do not verify the receiver's certificate"},
    [OPT_TIMEOUT] = {.name = "timeout", .type = VOLLEY_OPT_DURATION,
                     .offset = offsetof(prw_config, timeout_ns), .default_value = "5s", .min = 0.1,
                     .max = 600, .help = "limit of one push, and of the last flush at the end"},
    [OPT_QUEUE] = {.name = "max_queue", .type = VOLLEY_OPT_INT, .offset = offsetof(prw_config, max_queue),
                   .default_value = "100", .min = 2, .max = 100000,
                   .help = "batches kept while the receiver is behind; then the oldest is dropped"},
    [OPT_RETRIES] = {.name = "max_retries", .type = VOLLEY_OPT_INT,
                     .offset = offsetof(prw_config, max_retries), .default_value = "5", .min = 0,
                     .max = 100, .help = "retries of a batch after a 5xx, a 429 or a network error"},
    [OPT_BACKOFF] = {.name = "retry_backoff", .type = VOLLEY_OPT_DURATION,
                     .offset = offsetof(prw_config, retry_backoff_ns), .default_value = "250ms",
                     .min = 0.001, .max = 30, .help = "the first retry's wait, doubled for each next (at most 30s)"},
    [OPT_RATE_COUNTS] = {.name = "rate_counts", .type = VOLLEY_OPT_BOOL,
                         .offset = offsetof(prw_config, rate_counts), .default_value = "false",
                         .help = "a rate also as counters _passes_total and _fails_total, which "
                                 "add up over instances (k6 sends only the ratio)"},
    [OPT_NATIVE] = {.name = "trend_as_native_histogram", .type = VOLLEY_OPT_BOOL,
                    .offset = offsetof(prw_config, native), .default_value = "false",
                    .help = "a trend as one native histogram <m>_seconds instead of trend_stats "
                            "(Prometheus >= 2.40, --enable-feature=native-histograms)"},
};

static const volley_option_map option_map = {
    .options = options, .count = VOLLEY_COUNTOF(options),
    .config_size = sizeof(prw_config), .shorthand = "url"};

typedef struct prw {
    const volley_host *host;
    volley_core *core;
    char *url, *prefix, *username, *password;
    char **headers;
    size_t n_headers;
    prw_stat stats[MAX_STATS];
    size_t n_stats;
    uint64_t interval_ns, timeout_ns;
    uint64_t next_push;          /* host clock */
    bool started;
    prw_table table;
    prw_buf enc;
    prw_push *push;
    bool oom_told;
    uint64_t unbatched;         /* samples written since the last batch */
    uint64_t oom_lost;          /* samples of pushes lost to out of memory */
} prw;

static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s == ':' || *s == 0x7f)
            return false;
    return true;
}

static int prw_config_check(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const prw_config *cfg = config;
    const char *u = cfg->url ? cfg->url : "";
    const char *rest = strncmp(u, "http://", 7) == 0 ? u + 7 : strncmp(u, "https://", 8) == 0 ? u + 8 : NULL;
    if (!rest || !*rest || *rest == '/' || strpbrk(u, " \t\r\n")) {
        snprintf(err, errcap, "url: expected an http:// or https:// URL such as "
                              "http://localhost:9090/api/v1/write, got \"%s\"", u);
        return -1;
    }
    if (cfg->trend_stats.n == 0 || cfg->trend_stats.n > MAX_STATS) {
        snprintf(err, errcap, "trend_stats: expected 1 to %d stats such as [p(99), avg], got %zu",
                 MAX_STATS, cfg->trend_stats.n);
        return -1;
    }
    prw_stat st[MAX_STATS];
    for (size_t i = 0; i < cfg->trend_stats.n; i++) {
        if (prw_stat_parse(cfg->trend_stats.v[i], &st[i], err, errcap) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(st[i].suffix, st[j].suffix) == 0) {
                snprintf(err, errcap, "trend_stats: \"%s\" and \"%s\" both name the series _%s",
                         cfg->trend_stats.v[j], cfg->trend_stats.v[i], st[i].suffix);
                return -1;
            }
        }
    }
    const char *pre = cfg->prefix ? cfg->prefix : "";
    char fixed[256];
    prw_series_name(fixed, sizeof fixed, pre, "", VOLLEY_METRIC_GAUGE, NULL);
    if (strcmp(fixed, pre) != 0) {
        snprintf(err, errcap, "prefix: \"%s\" is not the start of a Prometheus metric name "
                              "(letters, digits, _ and :, not a digit first)", pre);
        return -1;
    }
    for (size_t i = 0; i < cfg->headers.n; i++) {
        if (!header_name_ok(cfg->headers.keys[i])) {
            snprintf(err, errcap, "headers: \"%s\" is not a header name", cfg->headers.keys[i]);
            return -1;
        }
        if (!host->template_const(cfg->headers.values[i])) {
            snprintf(err, errcap, "headers.%s: \"%s\" is known only at run time; an output's "
                     "headers take values known at load time (${env.*}, ${services.*})",
                     cfg->headers.keys[i], host->template_display(cfg->headers.values[i]));
            return -1;
        }
    }
    if (cfg->password && !cfg->username) {
        snprintf(err, errcap, "password: basic auth needs username too");
        return -1;
    }
    if (cfg->bearer_token && cfg->username) {
        snprintf(err, errcap, "bearer_token and username: give one way to authenticate");
        return -1;
    }
    return 0;
}

static void prw_destroy(void *inst)
{
    prw *p = inst;
    if (!p)
        return;
    prw_push_free(p->push);
    prw_table_free(&p->table);
    prw_buf_free(&p->enc);
    for (size_t i = 0; i < p->n_headers; i++)
        free(p->headers[i]);
    free(p->headers);
    free(p->url);
    free(p->prefix);
    free(p->username);
    free(p->password);
    free(p);
}

static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s: %s", name, value);
    return s;
}

static void *prw_create(const volley_host *host, volley_core *core, const void *config, char *err,
                        size_t errcap)
{
    const prw_config *cfg = config;
    if (prw_config_check(host, config, err, errcap) != 0)
        return NULL;
    prw *p = calloc(1, sizeof *p);
    if (!p)
        goto oom;
    p->host = host;
    p->core = core;
    p->n_stats = cfg->trend_stats.n;
    for (size_t i = 0; i < p->n_stats; i++)
        prw_stat_parse(cfg->trend_stats.v[i], &p->stats[i], err, errcap);
    p->interval_ns = (uint64_t)cfg->push_interval_ns;
    p->timeout_ns = (uint64_t)cfg->timeout_ns;
    p->url = strdup(cfg->url);
    p->prefix = strdup(cfg->prefix ? cfg->prefix : "");
    p->username = cfg->username ? strdup(cfg->username) : NULL;
    p->password = cfg->password ? strdup(cfg->password) : NULL;
    p->headers = calloc(cfg->headers.n + 1, sizeof *p->headers);
    if (!p->url || !p->prefix || (cfg->username && !p->username) ||
        (cfg->password && !p->password) || !p->headers)
        goto oom;
    for (size_t i = 0; i < cfg->headers.n; i++)
        if (!(p->headers[p->n_headers++] =
                  header_line(cfg->headers.keys[i], host->template_const(cfg->headers.values[i]))))
            goto oom;
    if (cfg->bearer_token) {
        size_t n = strlen(cfg->bearer_token) + 8;
        char *tok = malloc(n);
        if (!tok)
            goto oom;
        snprintf(tok, n, "Bearer %s", cfg->bearer_token);
        p->headers[p->n_headers] = header_line("Authorization", tok);
        free(tok);
        if (!p->headers[p->n_headers++])
            goto oom;
    }
    prw_table_init(&p->table, host, core, p->prefix, p->stats, p->n_stats);
    p->table.rate_counts = cfg->rate_counts;
    p->table.native = cfg->native;
    prw_push_cfg pc = {.url = p->url, .headers = (const char *const *)p->headers,
                       .n_headers = p->n_headers, .username = p->username, .password = p->password,
                       .insecure = cfg->insecure_skip_tls_verify,
                       .timeout_ms = (long)(cfg->timeout_ns / NS_PER_MS),
                       .max_queue = (size_t)cfg->max_queue, .max_retries = (unsigned)cfg->max_retries,
                       .backoff_ns = (uint64_t)cfg->retry_backoff_ns};
    if (!(p->push = prw_push_new(&pc, err, errcap))) {
        prw_destroy(p);
        return NULL;
    }
    return p;
oom:
    snprintf(err, errcap, "out of memory");
    prw_destroy(p);
    return NULL;
}

static int prw_write(void *inst, const volley_sample *samples, size_t n, char *err, size_t errcap)
{
    prw *p = inst;
    for (size_t i = 0; i < n; i++) {
        if (prw_table_add(&p->table, &samples[i]) != 0) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
    }
    p->unbatched += n;
    return 0;
}

/* The changed series as one more queued batch. An encoding that runs out
 * of memory loses this push (counted once as failed), not the run: the
 * next push carries the same cumulative values. */
static void make_batch(prw *p)
{
    size_t n = 0;
    if (prw_encode_changed(&p->table, &p->enc, &n) != 0) {
        if (!p->oom_told)
            p->host->log(p->core, VOLLEY_LOG_WARN, "prometheus-rw: out of memory encoding a push");
        p->oom_told = true;
        p->oom_lost += p->unbatched;
        p->unbatched = 0;
        return;
    }
    if (n > 0) {
        prw_push_add(p->push, &p->enc, n, p->unbatched);
        p->unbatched = 0;
    }
}

static void say_first_failure(prw *p)
{
    if (prw_push_first_failure(p->push))
        p->host->log(p->core, VOLLEY_LOG_WARN, "prometheus-rw: push to %s failed: %s", p->url,
                     prw_push_stats_get(p->push)->first_error);
}

static int prw_tick(void *inst, uint64_t *next_ns, char *err, size_t errcap)
{
    (void)err, (void)errcap;
    prw *p = inst;
    uint64_t now = p->host->now_ns();
    if (!p->started) {
        p->started = true;
        p->next_push = now + p->interval_ns;
    } else if (now >= p->next_push) {
        make_batch(p);
        /* on the interval's grid; a late tick does not push twice */
        while (p->next_push <= now)
            p->next_push += p->interval_ns;
    }
    uint64_t again = prw_push_step(p->push);
    say_first_failure(p);
    now = p->host->now_ns();
    uint64_t to_push = p->next_push > now ? p->next_push - now : 1;
    *next_ns = again && again < to_push ? again : to_push;
    return 0;
}

static int prw_close(void *inst, char *err, size_t errcap)
{
    (void)err, (void)errcap;
    prw *p = inst;
    make_batch(p);
    prw_push_drain(p->push, p->timeout_ns);
    say_first_failure(p);
    const prw_push_stats *st = prw_push_stats_get(p->push);
    /* The summary's "N samples sent to it" counts what volley handed to the
     * output; this line says how many of them reached the receiver. */
    unsigned long long lost = (unsigned long long)(st->samples_lost + p->oom_lost);
    unsigned long long all = (unsigned long long)st->samples_pushed + lost;
    if (st->failed || st->dropped || st->retries || p->oom_lost) {
        /* a WARN is also a line of the run's summary */
        p->host->log(p->core, VOLLEY_LOG_WARN,
                     "prometheus-rw: %llu of %llu pushes to %s failed, %llu dropped (queue full), "
                     "%llu retries; %llu time series lost; %llu of %llu samples delivered, %llu lost%s%s",
                     (unsigned long long)st->failed, (unsigned long long)st->batches, p->url,
                     (unsigned long long)st->dropped, (unsigned long long)st->retries,
                     (unsigned long long)st->series_lost, (unsigned long long)st->samples_pushed, all, lost,
                     *st->first_error ? "; first error: " : "", st->first_error);
    } else {
        p->host->log(p->core, VOLLEY_LOG_INFO,
                     "prometheus-rw: %llu pushes to %s, all accepted; %llu samples delivered",
                     (unsigned long long)st->pushed, p->url, (unsigned long long)st->samples_pushed);
    }
    return 0;
}

static const volley_output_ops ops = {
    .size = sizeof(volley_output_ops),
    .options = &option_map,
    .create = prw_create,
    .write = prw_write,
    .close = prw_close,
    .destroy = prw_destroy,
    .config_check = prw_config_check,
    .tick = prw_tick,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "prometheus-rw", .version = "0.1.0",
                     .description = "pushes the run's metrics to Prometheus (remote write 1.0), "
                                    "named as k6's prometheus-rw output",
                     .output = &ops)
